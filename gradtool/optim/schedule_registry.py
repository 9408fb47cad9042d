"""SCHEDULES: the one table of learning-rate schedules and their parameters (torch's names and defaults).

Each entry is the only place its facts are written: validation, config fields, the JSON Schema, CLI flags and
help, ``gradtool optimizers --schedules`` and the docs tables all read it. No numpy here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gradtool.optim import cycles, decays, plateau
from gradtool.params import FROM_LR, FROM_RUN, REQUIRED, Param, Table, choice, flag, integer, number


@dataclass(frozen=True)
class ScheduleSpec:
    """One registry entry: the rule ``rule(lr, **params)`` and its parameter table.

    The rule returns ``t -> lr`` (a closed form), ``(t -> lr, t -> momentum or None)`` (``sets_momentum``:
    it may drive the optimizer's momentum too), or a :class:`~gradtool.optim.plateau.Plateau`
    (``needs_metric``: its lr follows the objective). ``conflict(lr, values)`` returns a message for values
    that are only invalid together.
    """

    name: str
    rule: Callable[..., Any] = field(repr=False)
    table: Table = field(repr=False)
    torch: str | None = None
    conflict: Callable[[float, dict[str, Any]], str | None] | None = field(default=None, repr=False)
    needs_metric: bool = False
    sets_momentum: bool = False

    @property
    def summary(self) -> str:
        return (self.rule.__doc__ or "").strip().splitlines()[0]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.table.params if p.required)

    @property
    def defaults(self) -> dict[str, Any]:
        """The defaults of the optional parameters (warmup ones included)."""
        return {p.name: p.default for p in self.table.params if not p.required}

    @property
    def allowed(self) -> tuple[str, ...]:
        """Every parameter name this schedule accepts, warmup ones included."""
        return self.table.names


#: Parameters every schedule accepts: ``warmup`` steps of linear ramp from ``start_factor * lr``.
WARMUP = (
    integer("warmup", 0, "Steps of linear warm-up in front of the schedule (torch LinearLR + SequentialLR).", low=0),
    number("start_factor", 1.0 / 3, "The warm-up starts at start_factor * lr.", low=0, high=1, low_open=True),
)
WARMUP_DEFAULTS: dict[str, Any] = {p.name: p.default for p in WARMUP}

STEPS = {"low": 1}
FRACTION = {"low": 0, "high": 1, "low_open": True}  # (0, 1]
GAMMA = number("gamma", 0.1, "Decay factor.", **FRACTION)
ETA_MIN = number("eta_min", 0.0, "The smallest lr (at most lr).", low=0)
TOTAL_ITERS = integer("total_iters", 5, "Steps the factor applies (or the ramp/decay lasts).", **STEPS)
CYCLE_MOMENTUM = flag("cycle_momentum", True, "Also cycle the optimizer's momentum (beta1), inversely to the lr.")
MOMENTUM = {"low": 0, "high": 1, "high_open": True}


def _eta_min_conflict(lr: float, values: dict[str, Any]) -> str | None:
    if values.get("eta_min", 0.0) > lr:
        return f"eta_min={values['eta_min']!r} must not exceed lr={lr!r}"
    return None


def _onecycle_conflict(lr: float, v: dict[str, Any]) -> str | None:
    """torch divides by a phase's length: each must have at least one step after its start."""
    start = 0.0
    for i, end in enumerate(cycles.onecycle_phases(v["total_steps"], v["pct_start"], v["three_phase"])):
        if end <= start:
            return (
                f"phase {i + 1} is empty (pct_start={v['pct_start']!r} of total_steps={v['total_steps']!r}); "
                "give more steps or another pct_start"
            )
        start = end
    return None


def _cyclic_conflict(lr: float, v: dict[str, Any]) -> str | None:
    if v["gamma"] is not None and v["mode"] != "exp_range":
        return f"gamma applies to mode exp_range only, not {v['mode']!r}"
    return None


def _sequential_conflict(lr: float, v: dict[str, Any]) -> str | None:
    if len(v["milestones"]) != len(v["schedules"]) - 1:
        return f"{len(v['schedules'])} schedules need {len(v['schedules']) - 1} milestones, got {len(v['milestones'])}"
    return None


def _entry(
    name: str, rule: Callable[..., Any], params: tuple[Param, ...], warmup: bool = True, **extra: Any
) -> ScheduleSpec:
    """An entry; ``warmup`` adds the warmup parameters (not to linear, itself a ramp, nor to plateau)."""
    return ScheduleSpec(name, rule, Table((*params, *(WARMUP if warmup else ()))), **extra)


SCHEDULES: dict[str, ScheduleSpec] = {
    spec.name: spec
    for spec in (
        _entry(
            "constant",
            decays.constant,
            (number("factor", 1.0, "lr * factor for the first total_iters steps.", **FRACTION), TOTAL_ITERS),
            torch="ConstantLR",
        ),
        _entry(
            "step",
            decays.step_decay,
            (integer("step_size", REQUIRED, "Steps between decays.", **STEPS), GAMMA),
            torch="StepLR",
        ),
        _entry(
            "multistep",
            decays.multistep_decay,
            (
                Param(
                    "milestones",
                    "integers",
                    REQUIRED,
                    "Steps at which lr is multiplied by gamma.",
                    low=1,
                    increasing=True,
                ),
                GAMMA,
            ),
            torch="MultiStepLR",
        ),
        _entry("exponential", decays.exponential_decay, (GAMMA.with_default(REQUIRED),), torch="ExponentialLR"),
        _entry("inverse_time", decays.inverse_time_decay, (number("decay", REQUIRED, "lr / (1 + decay * t).", low=0),)),
        _entry(
            "polynomial",
            decays.polynomial_decay,
            (
                replace(TOTAL_ITERS, help="Steps until the lr reaches 0."),
                number("power", 1.0, "Power of the decay.", low=0),
            ),
            torch="PolynomialLR",
        ),
        _entry(
            "linear",
            decays.linear_ramp,
            (
                number("start_factor", 1.0 / 3, "The ramp starts at lr * start_factor.", **FRACTION),
                number("end_factor", 1.0, "The ramp ends at lr * end_factor.", low=0, high=1),
                replace(TOTAL_ITERS, help="Steps of the ramp."),
            ),
            warmup=False,
            torch="LinearLR",
        ),
        _entry(
            "cosine",
            decays.cosine_annealing,
            (integer("t_max", REQUIRED, "Half-period: the lr reaches eta_min at t_max.", **STEPS), ETA_MIN),
            torch="CosineAnnealingLR",
            conflict=_eta_min_conflict,
        ),
        _entry(
            "cosine_restarts",
            decays.cosine_restarts,
            (
                integer("t_0", REQUIRED, "Steps of the first period (torch T_0).", **STEPS),
                integer("t_mult", 1, "Each period is t_mult times the previous one (torch T_mult).", **STEPS),
                ETA_MIN,
            ),
            torch="CosineAnnealingWarmRestarts",
            conflict=_eta_min_conflict,
        ),
        _entry(
            "onecycle",
            cycles.onecycle,
            (
                number("max_lr", FROM_LR, "The peak lr.", low=0),
                integer("total_steps", FROM_RUN, "Steps of the whole cycle.", **STEPS),
                number("pct_start", 0.3, "Fraction of the steps spent rising.", low=0, high=1),
                choice("anneal_strategy", "cos", ("cos", "linear"), "How each phase moves between its ends."),
                CYCLE_MOMENTUM,
                number("base_momentum", 0.85, "Momentum at the lr's peak.", **MOMENTUM),
                number("max_momentum", 0.95, "Momentum at the lr's ends.", **MOMENTUM),
                number("div_factor", 25.0, "The cycle starts at max_lr / div_factor.", low=0, low_open=True),
                number(
                    "final_div_factor", 1e4, "It ends at max_lr / div_factor / final_div_factor.", low=0, low_open=True
                ),
                flag("three_phase", False, "Rise, fall back to the start, then anneal to the end (fast.ai)."),
            ),
            torch="OneCycleLR",
            conflict=_onecycle_conflict,
            sets_momentum=True,
        ),
        _entry(
            "cyclic",
            cycles.cyclic,
            (
                number("base_lr", FROM_LR, "The lowest lr of a cycle.", low=0),
                number("max_lr", REQUIRED, "The highest lr of a cycle.", low=0),
                integer("step_size_up", 2000, "Steps from base_lr up to max_lr.", **STEPS),
                integer("step_size_down", None, "Steps back down (default: step_size_up).", **STEPS),
                choice("mode", "triangular", ("triangular", "triangular2", "exp_range"), "Amplitude per cycle."),
                number("gamma", None, "exp_range: the amplitude shrinks by gamma ** t (default 1).", **FRACTION),
                CYCLE_MOMENTUM,
                number("base_momentum", 0.8, "Momentum at max_lr.", **MOMENTUM),
                number("max_momentum", 0.9, "Momentum at base_lr.", **MOMENTUM),
            ),
            torch="CyclicLR",
            conflict=_cyclic_conflict,
            sets_momentum=True,
        ),
        _entry(
            "plateau",
            plateau.plateau,
            (
                choice("mode", "min", ("min", "max"), "Whether the objective should fall or rise."),
                number(
                    "factor",
                    0.1,
                    "The lr is multiplied by factor on a plateau.",
                    low=0,
                    high=1,
                    low_open=True,
                    high_open=True,
                ),
                integer("patience", 10, "Observations without improvement before the lr is cut.", low=0),
                number("threshold", 1e-4, "What counts as an improvement (see threshold_mode).", low=0),
                choice(
                    "threshold_mode", "rel", ("rel", "abs"), "rel: beat best * (1 - threshold); abs: best - threshold."
                ),
                integer("cooldown", 0, "Observations to wait after a cut before counting again.", low=0),
                number("min_lr", 0.0, "The lr is never cut below min_lr.", low=0),
                number("eps", 1e-8, "A cut smaller than eps is skipped.", low=0),
            ),
            warmup=False,
            torch="ReduceLROnPlateau",
            needs_metric=True,
        ),
        _entry(
            "sequential",
            decays.sequential,
            (
                Param("schedules", "schedules", REQUIRED, "The schedules, one after the other (each on the run's lr)."),
                Param(
                    "milestones",
                    "integers",
                    REQUIRED,
                    "Steps at which the next schedule starts.",
                    low=1,
                    increasing=True,
                ),
            ),
            torch="SequentialLR",
            conflict=_sequential_conflict,
        ),
    )
}
