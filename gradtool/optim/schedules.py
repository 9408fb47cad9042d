"""Learning-rate schedules as functions of the step, with an optional linear warmup in front of each."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gradtool.errors import ConfigError
from gradtool.params import FROM_LR, FROM_RUN, REQUIRED, Marker, ParamError, Table, integer, number

ScheduleFn = Callable[[int], float]


# ---- the rules: closed forms of torch.optim.lr_scheduler, t = 0 for the first step --------------------


def constant(lr: float) -> ScheduleFn:
    """``lr_t = lr`` (the default)."""
    return lambda t: lr


def step_decay(lr: float, step_size: int, gamma: float) -> ScheduleFn:
    """``lr_t = lr * gamma ** (t // step_size)`` (torch ``StepLR``; Optax ``exponential_decay(staircase=True)``)."""
    return lambda t: lr * gamma ** (t // step_size)


def exponential_decay(lr: float, gamma: float) -> ScheduleFn:
    """``lr_t = lr * gamma ** t`` (torch ``ExponentialLR``)."""
    return lambda t: lr * gamma**t


def inverse_time_decay(lr: float, decay: float) -> ScheduleFn:
    """``lr_t = lr / (1 + decay * t)`` (Keras ``InverseTimeDecay`` with ``decay_steps=1``)."""
    return lambda t: lr / (1 + decay * t)


def cosine_annealing(lr: float, t_max: int, eta_min: float) -> ScheduleFn:
    """``lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * t / t_max)) / 2`` (torch ``CosineAnnealingLR``).

    Like torch's, it is periodic: after ``t_max`` the lr rises again towards ``lr`` (period ``2 * t_max``);
    choose ``t_max`` >= the number of steps for a plain decay (Optax's ``cosine_decay_schedule`` instead
    stays at the floor).
    """
    return lambda t: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


# ---- the registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    """One registry entry: the rule ``rule(lr, **params) -> (t -> lr)`` and its parameter table.

    ``conflict(lr, values)`` returns a message for values that are only invalid together.
    """

    name: str
    rule: Callable[..., ScheduleFn] = field(repr=False)
    table: Table = field(repr=False)
    torch: str | None = None
    conflict: Callable[[float, dict[str, Any]], str | None] | None = field(default=None, repr=False)
    needs_metric: bool = False  # its lr depends on the objective's values (ReduceLROnPlateau)
    sets_momentum: bool = False  # it can drive the optimizer's momentum too (OneCycleLR, CyclicLR)

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
GAMMA = number("gamma", 0.1, "Decay factor.", low=0, high=1, low_open=True)
ETA_MIN = number("eta_min", 0.0, "The smallest lr (at most lr).", low=0)


def _eta_min_conflict(lr: float, values: dict[str, Any]) -> str | None:
    if values.get("eta_min", 0.0) > lr:
        return f"eta_min={values['eta_min']!r} must not exceed lr={lr!r}"
    return None


def _entry(name: str, rule: Callable[..., ScheduleFn], params: tuple, **extra: Any) -> ScheduleSpec:
    return ScheduleSpec(name, rule, Table((*params, *WARMUP)), **extra)


SCHEDULES: dict[str, ScheduleSpec] = {
    spec.name: spec
    for spec in (
        _entry("constant", constant, ()),
        _entry(
            "step",
            step_decay,
            (integer("step_size", REQUIRED, "Steps between decays.", **STEPS), GAMMA),
            torch="StepLR",
        ),
        _entry("exponential", exponential_decay, (GAMMA.with_default(REQUIRED),), torch="ExponentialLR"),
        _entry("inverse_time", inverse_time_decay, (number("decay", REQUIRED, "lr / (1 + decay * t).", low=0),)),
        _entry(
            "cosine",
            cosine_annealing,
            (integer("t_max", REQUIRED, "Half-period: the lr reaches eta_min at t_max.", **STEPS), ETA_MIN),
            torch="CosineAnnealingLR",
            conflict=_eta_min_conflict,
        ),
    )
}


@dataclass(frozen=True)
class Schedule:
    """A configured schedule: ``schedule(t)`` is the lr used for step ``t`` (``t = 0`` first).

    Matches torch.optim.lr_scheduler's convention: the lr computed after step ``t`` (``scheduler.step()``)
    is the one step ``t + 1`` uses. With ``warmup = W > 0``, steps ``t < W`` use
    ``lr * (start_factor + (1 - start_factor) * t / W)`` (torch ``LinearLR(start_factor, end_factor=1,
    total_iters=W)``) and step ``t >= W`` uses the named schedule at ``t - W`` (torch ``SequentialLR`` with
    ``milestones=[W]``), so the full ``lr`` is reached exactly at step ``W``.
    """

    name: str
    lr: float
    params: tuple[tuple[str, Any], ...] = ()
    warmup: int = 0
    start_factor: float = 1.0 / 3

    def __post_init__(self) -> None:
        # the closure is built once, so calling the schedule costs one Python call per step
        fn = SCHEDULES[self.name].rule(self.lr, **dict(self.params))
        if self.warmup:
            fn = _with_warmup(fn, self.lr, self.warmup, self.start_factor)
        object.__setattr__(self, "_fn", fn)

    def __call__(self, t: int) -> float:
        return self._fn(t)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; ``make_schedule(**schedule.to_dict())`` rebuilds an equal schedule."""
        return {
            "name": self.name,
            "lr": self.lr,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params},
            "warmup": self.warmup,
            "start_factor": self.start_factor,
        }


def _with_warmup(fn: ScheduleFn, lr: float, warmup: int, start_factor: float) -> ScheduleFn:
    rise = 1.0 - start_factor

    def warmed(t: int) -> float:
        if t < warmup:
            return lr * (start_factor + rise * t / warmup)
        return fn(t - warmup)

    return warmed


# ---- construction and validation -----------------------------------------------------------------------

LR = number("lr", REQUIRED, "The base learning rate (torch's base_lr): the run's lr.", low=0)


def schedule_spec(name: Any) -> ScheduleSpec:
    """The registry entry of ``name``, or a ConfigError listing the names."""
    spec = SCHEDULES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")
    return spec


def make_schedule(name: str, lr: float, *, horizon: int | None = None, **kw: Any) -> Schedule:
    """Build a validated schedule from ``SCHEDULES``.

    Args:
        name: a key of ``SCHEDULES``.
        lr: the base learning rate (torch's ``base_lr``).
        horizon: the run's number of steps, the default of parameters that default to it.
        **kw: the schedule's parameters (``SCHEDULES[name].table``), warmup ones included: ``warmup``
            (steps, default 0) and ``start_factor`` (default 1/3, as torch ``LinearLR``).

    Raises:
        ConfigError: unknown schedule or parameter, a missing required parameter, or a bad value (a
            ParamError naming it and what is allowed).
    """
    spec = schedule_spec(name)
    owner = f"schedule {spec.name!r}"
    try:
        lr = LR.check(lr)
    except ParamError as exc:
        raise ParamError(exc.key, exc.detail, owner) from None
    values = spec.table.resolve(kw, owner)
    for key, value in values.items():
        if value is FROM_LR:
            values[key] = lr
        elif value is FROM_RUN:
            if horizon is None:
                raise ParamError(key, "missing (the run's number of steps is not known here)", owner)
            values[key] = horizon
        elif isinstance(value, Marker):  # pragma: no cover - a table with a marker no one fills
            raise TypeError(f"unfilled default {value!r} of {key}")
    message = spec.conflict(lr, values) if spec.conflict else None
    if message:
        raise ConfigError(f"{owner}: {message}")
    warmup, start_factor = values.pop("warmup"), values.pop("start_factor")
    return Schedule(spec.name, lr, tuple(values.items()), warmup, start_factor)


def as_schedule(value: float | Schedule | Mapping[str, Any]) -> Schedule:
    """The one coercion for "a number or a schedule".

    A number becomes ``constant`` at that lr; a ``Schedule`` is returned as is; a mapping (from a config or
    ``Schedule.to_dict()``) is passed to ``make_schedule``.

    Raises:
        ConfigError: for anything else, or for an invalid mapping.
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, Mapping):
        if "lr" not in value or not all(isinstance(key, str) for key in value):
            raise ConfigError(f"schedule {dict(value)!r} needs an 'lr' and string keys")
        return make_schedule(**{"name": "constant", **value})
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return make_schedule("constant", value)
    raise ConfigError(f"learning rate {value!r} is neither a number nor a schedule")
