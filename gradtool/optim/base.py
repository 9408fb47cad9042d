"""The optimizer contract (pure init/update pairs), the hyperparameter check table and the registry type."""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from gradtool.errors import ConfigError

Array = np.ndarray
InitFn = Callable[[Array], NamedTuple]
UpdateFn = Callable[[Array, Any, Array, float], tuple[Array, Any]]


@dataclass(frozen=True)
class Optimizer:
    """A configured optimizer: a pure update rule with explicit state.

    ``state = init(params)`` then, once per step,
    ``params, state = update(grad, state, params, lr)``. Nothing is mutated in place: ``update`` returns
    fresh arrays and a fresh state (a NamedTuple whose ``step`` field counts the updates done).
    ``params``/``grad`` are float64 arrays of shape ``(n,)`` or ``(batch, n)``; every operation is
    elementwise, so one call advances ``batch`` independent runs. ``lr`` is passed per step, so a schedule
    can drive it; ``hyper["lr"]`` is only the configured default.
    """

    name: str
    hyper: Mapping[str, float | bool]
    init: InitFn = field(repr=False, compare=False)
    update: UpdateFn = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"name": ..., **hyper}``."""
        return {"name": self.name, **self.hyper}


@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry: a name, its torch-style defaults (including ``lr``) and its builder.

    ``build(**hyper)`` receives every hyperparameter except ``lr`` (already validated and merged with the
    defaults) and returns the ``(init, update)`` pair. ``conflict(hyper)``, if given, checks values that
    are only invalid together and returns a message (or ``None``).
    """

    name: str
    defaults: Mapping[str, float | bool]
    build: Callable[..., tuple[InitFn, UpdateFn]] = field(repr=False)
    summary: str = ""
    conflict: Callable[[Mapping[str, float | bool]], str | None] | None = field(default=None, repr=False)


# ---- hyperparameter checks: one table, the same meaning in every optimizer ----------------------------


def _number(x: object) -> bool:
    # abs(x) <= max also rejects nan, and a 400-digit integer before math.isfinite overflows on it
    return isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_) and abs(x) <= sys.float_info.max


def _nonnegative(x: float) -> bool:
    return x >= 0


def _positive(x: float) -> bool:
    return x > 0


def _unit_half_open(x: float) -> bool:
    return 0 <= x < 1


def _unit_closed(x: float) -> bool:
    return 0 <= x <= 1


_BOOL = (None, "a boolean (true/false)")
_CHECKS: dict[str, tuple[Callable[[float], bool] | None, str]] = {
    "lr": (_nonnegative, "a number >= 0"),
    "weight_decay": (_nonnegative, "a number >= 0"),
    "momentum": (_unit_half_open, "a number in [0, 1)"),
    "dampening": (_unit_closed, "a number in [0, 1]"),
    "beta1": (_unit_half_open, "a number in [0, 1)"),
    "beta2": (_unit_half_open, "a number in [0, 1)"),
    "eps": (_positive, "a number > 0"),
    "alpha": (_unit_closed, "a number in [0, 1]"),
    "rho": (_unit_closed, "a number in [0, 1]"),
    "lr_decay": (_nonnegative, "a number >= 0"),
    "initial_accumulator_value": (_nonnegative, "a number >= 0"),
    "nesterov": _BOOL,
    "amsgrad": _BOOL,
    "centered": _BOOL,
    "eps_in_sqrt": _BOOL,
}


def check_hyper(optimizer: str, key: str, value: object) -> float | bool:
    """Validate one hyperparameter value against the shared table; return it as float (or bool).

    Raises:
        ConfigError: naming the optimizer, the key, the bad value and what is allowed.
    """
    predicate, allowed = _CHECKS[key]
    if predicate is None:
        if isinstance(value, bool | np.bool_):
            return bool(value)
    elif _number(value) and math.isfinite(value) and predicate(value):
        return float(value)
    raise ConfigError(f"optimizer {optimizer!r}: {key}={value!r} is invalid; {key} must be {allowed}")


def resolve_hyper(spec: OptimizerSpec, overrides: Mapping[str, object]) -> dict[str, float | bool]:
    """Merge ``overrides`` into ``spec.defaults``, rejecting unknown names and bad values."""
    unknown = sorted(set(overrides) - set(spec.defaults))
    if unknown:
        allowed = ", ".join(spec.defaults)
        raise ConfigError(f"optimizer {spec.name!r} has no hyperparameter {unknown[0]!r}; allowed: {allowed}")
    hyper = {**spec.defaults, **overrides}
    hyper = {key: check_hyper(spec.name, key, value) for key, value in hyper.items()}
    message = spec.conflict(hyper) if spec.conflict else None
    if message:
        raise ConfigError(f"optimizer {spec.name!r}: {message}")
    return hyper


def lerp(start: Array, end: Array, weight: float) -> Array:
    """``start + weight * (end - start)`` with torch's branch for better rounding when ``weight >= 0.5``."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)
