"""Learning-rate schedules as functions of the step, with an optional linear warmup in front of each."""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gradtool.errors import ConfigError

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


@dataclass(frozen=True)
class ScheduleSpec:
    """One registry entry: the rule, its required parameters and its optional ones with defaults."""

    name: str
    rule: Callable[..., ScheduleFn] = field(repr=False)
    required: tuple[str, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)

    @property
    def allowed(self) -> tuple[str, ...]:
        """Every parameter name this schedule accepts, warmup ones included."""
        return (*self.required, *self.defaults, *WARMUP_DEFAULTS)


#: Parameters every schedule accepts: ``warmup`` steps of linear ramp from ``start_factor * lr``.
WARMUP_DEFAULTS: dict[str, float] = {"warmup": 0, "start_factor": 1.0 / 3}

SCHEDULES: dict[str, ScheduleSpec] = {
    "constant": ScheduleSpec("constant", constant),
    "step": ScheduleSpec("step", step_decay, ("step_size",), {"gamma": 0.1}),
    "exponential": ScheduleSpec("exponential", exponential_decay, ("gamma",)),
    "inverse_time": ScheduleSpec("inverse_time", inverse_time_decay, ("decay",)),
    "cosine": ScheduleSpec("cosine", cosine_annealing, ("t_max",), {"eta_min": 0.0}),
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
    params: tuple[tuple[str, float], ...] = ()
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
            **dict(self.params),
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


def _positive_int(x: float) -> bool:
    return float(x).is_integer() and x >= 1


_CHECKS: dict[str, tuple[Callable[[float], bool], str]] = {
    "lr": (lambda x: x >= 0, "a number >= 0"),
    "step_size": (_positive_int, "an integer >= 1"),
    "t_max": (_positive_int, "an integer >= 1"),
    "gamma": (lambda x: 0 < x <= 1, "a number in (0, 1]"),
    "decay": (lambda x: x >= 0, "a number >= 0"),
    "eta_min": (lambda x: x >= 0, "a number >= 0"),
    "warmup": (lambda x: float(x).is_integer() and x >= 0, "an integer >= 0"),
    "start_factor": (lambda x: 0 < x <= 1, "a number in (0, 1]"),
}
_INTEGERS = ("step_size", "t_max", "warmup")


def _check(schedule: str, key: str, value: object) -> float | int:
    predicate, allowed = _CHECKS[key]
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and abs(value) <= sys.float_info.max
    if not (number and math.isfinite(value) and predicate(value)):
        raise ConfigError(f"schedule {schedule!r}: {key}={value!r} is invalid; {key} must be {allowed}")
    return int(value) if key in _INTEGERS else float(value)


def make_schedule(name: str, lr: float, **kw: float) -> Schedule:
    """Build a validated schedule from ``SCHEDULES``.

    Args:
        name: a key of ``SCHEDULES``.
        lr: the base learning rate (torch's ``base_lr``).
        **kw: the schedule's parameters (``SCHEDULES[name].required`` and ``.defaults``) plus the optional
            ``warmup`` (steps, default 0) and ``start_factor`` (default 1/3, as torch ``LinearLR``).

    Raises:
        ConfigError: unknown schedule or parameter, a missing required parameter, or a bad value; the
            message names it and lists what is allowed.
    """
    spec = SCHEDULES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")
    unknown = sorted(set(kw) - set(spec.allowed))
    if unknown:
        raise ConfigError(f"schedule {name!r} has no parameter {unknown[0]!r}; allowed: {', '.join(spec.allowed)}")
    missing = [key for key in spec.required if key not in kw]
    if missing:
        raise ConfigError(f"schedule {name!r} needs {', '.join(missing)}")
    lr = _check(name, "lr", lr)
    merged = {**spec.defaults, **WARMUP_DEFAULTS, **kw}
    values = {key: _check(name, key, merged[key]) for key in spec.allowed}
    if values.get("eta_min", 0.0) > lr:
        raise ConfigError(f"schedule {name!r}: eta_min={values['eta_min']!r} must not exceed lr={lr!r}")
    warmup, start_factor = values.pop("warmup"), values.pop("start_factor")
    return Schedule(name, lr, tuple(values.items()), warmup, start_factor)


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
