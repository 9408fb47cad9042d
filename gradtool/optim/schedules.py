"""Configured learning-rate schedules: functions of the step (with an optional linear warmup in front), or, for
plateau, pure rules with explicit state that observe the objective; make_schedule and as_schedule."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradtool.errors import ConfigError
from gradtool.optim.decays import ScheduleFn
from gradtool.optim.schedule_registry import SCHEDULES, WARMUP, WARMUP_DEFAULTS, ScheduleSpec
from gradtool.params import FROM_LR, FROM_RUN, REQUIRED, Marker, ParamError, number

__all__ = ["SCHEDULES", "WARMUP", "WARMUP_DEFAULTS", "Schedule", "ScheduleSpec", "as_schedule", "make_schedule"]


@dataclass(frozen=True)
class Schedule:
    """A configured schedule: ``schedule(t)`` is the lr used for step ``t`` (``t = 0`` first).

    Matches torch.optim.lr_scheduler's convention: the lr computed after step ``t`` (``scheduler.step()``)
    is the one step ``t + 1`` uses. With ``warmup = W > 0``, steps ``t < W`` use
    ``lr * (start_factor + (1 - start_factor) * t / W)`` (torch ``LinearLR(start_factor, end_factor=1,
    total_iters=W)``) and step ``t >= W`` uses the named schedule at ``t - W`` (torch ``SequentialLR`` with
    ``milestones=[W]``), so the full ``lr`` is reached exactly at step ``W``.

    ``momentum(t)`` is the optimizer momentum of step ``t`` when the schedule cycles it
    (``cycles_momentum``). A schedule that ``needs_metric`` (plateau) is no function of ``t``: its lr lives
    in an explicit state, ``state = schedule.init(batch)``, ``state.lr``, ``state = schedule.observe(state,
    f)`` after each step.
    """

    name: str
    lr: float
    params: tuple[tuple[str, Any], ...] = ()
    warmup: int = 0
    start_factor: float = 1.0 / 3

    def __post_init__(self) -> None:
        # the closures are built once, so calling the schedule costs one Python call per step
        built = SCHEDULES[self.name].rule(self.lr, **dict(self.params))
        fn, momentum = built if isinstance(built, tuple) else (built, None)
        if self.warmup:
            fn = _with_warmup(fn, self.lr, self.warmup, self.start_factor)
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_momentum", momentum)

    @property
    def needs_metric(self) -> bool:
        return SCHEDULES[self.name].needs_metric

    @property
    def cycles_momentum(self) -> bool:
        return self._momentum is not None

    def __call__(self, t: int) -> float:
        if self.needs_metric:
            raise ConfigError(f"schedule {self.name!r} follows the objective: use init() and observe()")
        return self._fn(t)

    def momentum(self, t: int) -> float:
        """The optimizer momentum (or beta1) of step ``t`` (only when ``cycles_momentum``)."""
        return self._momentum(t)

    def init(self, batch: int | None = None) -> Any:
        """The explicit state of a schedule that needs the objective (``state.lr`` is the lr to use)."""
        return self._fn.init(self.lr, batch)

    def observe(self, state: Any, value: Any) -> Any:
        """The state after the objective took ``value`` (one per run of a batch)."""
        return self._fn.observe(state, value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; ``make_schedule(**schedule.to_dict())`` rebuilds an equal schedule."""
        out = {"name": self.name, "lr": self.lr, **{k: _jsonable(v) for k, v in self.params}}
        if "warmup" in SCHEDULES[self.name].table.names:
            out.update(warmup=self.warmup, start_factor=self.start_factor)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Schedule):
        return {k: v for k, v in value.to_dict().items() if k != "lr"}  # a chained schedule takes the run's lr
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


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
        lr: the base learning rate (torch's ``base_lr``); the default of parameters that default to it
            (onecycle's ``max_lr``, cyclic's ``base_lr``).
        horizon: the run's number of steps, the default of onecycle's ``total_steps``; a run longer than
            ``total_steps`` is an error (torch raises when stepped past it).
        **kw: the schedule's parameters (``SCHEDULES[name].table``), warmup ones included: ``warmup``
            (steps, default 0) and ``start_factor`` (default 1/3, as torch ``LinearLR``); sequential's
            ``schedules`` are names, calls' mappings or Schedules, each built on ``lr``.

    Raises:
        ConfigError: unknown schedule or parameter, a missing required parameter, or a bad value (a
            ParamError naming it and what is allowed), or values that do not go together.
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
            values[key] = spec.table.get(key).check(horizon)
        elif isinstance(value, Marker):  # pragma: no cover - a table with a marker no one fills
            raise TypeError(f"unfilled default {value!r} of {key}")
    if "schedules" in values:
        values["schedules"] = _chained(lr, values["schedules"], owner)
    message = _conflict(spec, lr, values, horizon)
    if message:
        raise ConfigError(f"{owner}: {message}")
    if "warmup" not in spec.table.names:  # linear (its start_factor is its own) and plateau
        return Schedule(spec.name, lr, tuple(values.items()))
    warmup, start_factor = values.pop("warmup"), values.pop("start_factor")
    return Schedule(spec.name, lr, tuple(values.items()), warmup, start_factor)


def _conflict(spec: ScheduleSpec, lr: float, values: dict[str, Any], horizon: int | None) -> str | None:
    message = spec.conflict(lr, values) if spec.conflict else None
    if message:
        return message
    if spec.sets_momentum and values.get("cycle_momentum") and values.get("warmup"):
        return "a warmup cannot precede a momentum cycle (set cycle_momentum=false)"
    total = values.get("total_steps")
    if total is not None and horizon is not None and horizon > total:
        return f"total_steps={total!r} is shorter than the run's {horizon} steps (torch raises past it)"
    return None


def _chained(lr: float, entries: tuple[Any, ...], owner: str) -> tuple[Schedule, ...]:
    """Sequential's schedules, each built on the run's lr; they must be functions of the step alone."""
    out = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Schedule):
            entry = {k: v for k, v in entry.to_dict().items() if k != "lr"}
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or "lr" in entry:
            raise ParamError(("schedules", i), "give a schedule name or mapping without lr (it takes the run's)", owner)
        try:
            child = make_schedule(**{"lr": lr, **entry})
        except ParamError as exc:
            raise exc.within("schedules", i, owner=owner) from None
        except ConfigError as exc:
            raise ParamError(("schedules", i), str(exc), owner) from None
        if child.needs_metric or child.cycles_momentum:
            what = "follows the objective" if child.needs_metric else "cycles momentum (set cycle_momentum=false)"
            raise ParamError(("schedules", i), f"{child.name} {what}; sequential chains lr-only schedules", owner)
        out.append(child)
    return tuple(out)


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
