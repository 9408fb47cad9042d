"""The optimizer contract (pure init/update pairs) and the registry entry type; no numpy, so the CLI can read
the registry while it builds ``--help``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from gradtool.errors import ConfigError
from gradtool.params import Table

if TYPE_CHECKING:
    import numpy as np

    Array = np.ndarray
else:
    Array = Any

InitFn = Callable[[Array], NamedTuple]
UpdateFn = Callable[..., tuple[Array, Any]]
StepFn = Callable[..., Any]


@dataclass(frozen=True)
class Optimizer:
    """A configured optimizer: a pure update rule with explicit state.

    ``state = init(params)`` then, once per step,
    ``params, state = update(grad, state, params, lr)``. Nothing is mutated in place: ``update`` returns
    fresh arrays and a fresh state (a NamedTuple whose ``step`` field counts the updates done).
    ``params``/``grad`` are float64 arrays of shape ``(n,)`` or ``(batch, n)``; every operation is
    elementwise, so one call advances ``batch`` independent runs. ``lr`` is passed per step, so a schedule
    can drive it; ``hyper["lr"]`` is only the configured default. An optimizer whose spec names a
    ``momentum`` parameter also takes ``update(..., momentum=m)``: that step's value of it (a schedule
    that cycles momentum passes it).

    A method that evaluates f and g where it needs (a line search, curvature) has a ``step`` instead:
    ``move = step(oracle, x, f, g, state, lr)`` returns a :class:`gradtool.optim.stepping.Move` (the new
    point with f and g there, the state, the step length t, or why no step was found); ``oracle`` evaluates
    and counts (see :class:`gradtool.optim.stepping.Oracle`). A first-order rule with a line search keeps its
    ``update`` and gets a ``step`` too; the loop uses ``step`` whenever there is one.
    """

    name: str
    hyper: Mapping[str, Any]
    init: InitFn = field(repr=False, compare=False)
    update: UpdateFn | None = field(repr=False, compare=False)
    step: StepFn | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"name": ..., **hyper}``."""
        return {"name": self.name, **self.hyper}


@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry: the name, the parameter table (torch's names and defaults, ``lr`` first) and the
    rule that builds ``(init, update)``.

    ``rule`` is ``"module:function"`` in ``gradtool.optim``, imported when first built (numpy stays out of
    ``--help``); it receives every parameter but ``lr`` and ``maximize`` (``maximize`` negates the gradient
    in one place, :func:`gradtool.optim.registry.make_optimizer`). ``conflict(values)`` returns a message
    for values that are only invalid together. ``momentum`` names the parameter a schedule may cycle
    (torch's ``momentum`` or ``betas[0]``). ``limits`` maps a context the method cannot serve (``lr-find``,
    ``minibatch``) to the reason, for methods that need more than one gradient per step. A ``searching``
    rule builds ``(init, step)`` and takes the configured line search as ``search``; ``needs`` names the
    curvature it asks the oracle for (``hessian``, ``hvp``).
    """

    name: str
    table: Table = field(repr=False)
    rule: str = field(repr=False)
    torch: str | None = None
    conflict: Callable[[Mapping[str, Any]], str | None] | None = field(default=None, repr=False)
    momentum: str | None = None
    limits: Mapping[str, str] = field(default_factory=dict)
    searching: bool = False
    needs: str | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        """Every parameter's default, in table order (``lr`` first)."""
        return {p.name: p.default_value for p in self.table.params}

    @property
    def summary(self) -> str:
        """The first line of the rule's docstring."""
        return (self.function.__doc__ or "").strip().splitlines()[0].rstrip(":")

    @property
    def function(self) -> Callable[..., tuple[InitFn, UpdateFn]]:
        """The rule itself (its docstring holds the formula)."""
        module, name = self.rule.split(":")
        return getattr(importlib.import_module(f"gradtool.optim.{module}"), name)

    @property
    def elementwise(self) -> bool:
        """The rule is marked :func:`elementwise`: a small single run may apply it one coordinate at a time."""
        return getattr(self.function, "elementwise", False)

    def refuse(self, context: str) -> None:
        """Raise ConfigError with the reason when this method cannot serve ``context`` (``lr-find``, ...)."""
        if context in self.limits:
            raise ConfigError(f"optimizer {self.name!r} cannot be used by {context}: {self.limits[context]}")


def elementwise(rule: Callable[..., tuple[InitFn, UpdateFn]]) -> Callable[..., tuple[InitFn, UpdateFn]]:
    """Mark a rule whose update treats every coordinate alone (no norm, no sum, no branch on the whole array)
    and takes Python floats as well as arrays: a single run of a few variables then applies it one coordinate
    at a time on Python floats (gradtool.floats), ~5x faster than numpy on tiny arrays and the same bits (a
    test runs every marked rule both ways)."""
    rule.elementwise = True
    return rule


def lerp(start: Array, end: Array, weight: float) -> Array:
    """``start + weight * (end - start)`` with torch's branch for better rounding when ``weight >= 0.5``."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)
