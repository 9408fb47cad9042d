"""The registry entries of the line searches, and of the methods that search along a direction (newton,
newton-cg, bfgs, lbfgs, cg); no numpy, so the CLI can read them while it builds ``--help``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gradtool.optim.base import OptimizerSpec
from gradtool.params import Param, ParamError, Table, choice, integer, number

OPEN_UNIT = {"low": 0, "high": 1, "low_open": True, "high_open": True}  # (0, 1)


@dataclass(frozen=True)
class LineSearchSpec:
    """One line search: its parameters and its rule ``"module:function"`` in ``gradtool.optim`` (None: no
    search); ``conflict(values)`` names values that are only invalid together."""

    name: str
    table: Table = field(repr=False)
    rule: str | None = field(default=None, repr=False)
    conflict: Callable[[Mapping[str, Any]], str | None] | None = field(default=None, repr=False)
    summary_text: str = ""

    def resolve(self, given: dict[str, Any], owner: str) -> dict[str, Any]:
        """Every parameter's value (see :meth:`Table.resolve`), then the conflict check."""
        values = self.table.resolve(given, owner)
        message = self.conflict(values) if self.conflict else None
        if message:
            raise ParamError(next(iter(values)), message, owner)
        return values

    @property
    def function(self) -> Callable[..., Any] | None:
        if self.rule is None:
            return None
        module, name = self.rule.split(":")
        return getattr(importlib.import_module(f"gradtool.optim.{module}"), name)

    @property
    def summary(self) -> str:
        doc = self.function.__doc__ if self.function else self.summary_text
        return (doc or "").strip().splitlines()[0].rstrip(":")


def _c1_below_c2(values: Mapping[str, Any]) -> str | None:
    if values["c1"] < values["c2"]:
        return None
    return f"c1={values['c1']!r} must be below c2={values['c2']!r}"


C1 = number("c1", 1e-4, "Sufficient decrease: f(x + t d) <= f(x) + c1 * t * g.d.", **OPEN_UNIT)

LINE_SEARCHES: dict[str, LineSearchSpec] = {
    "none": LineSearchSpec("none", Table(()), summary_text="No search: the step is t = lr (a fixed step)."),
    "armijo": LineSearchSpec(
        "armijo",
        Table(
            (
                C1,
                number("shrink", 0.5, "Backtracking factor: the next trial is shrink * t.", **OPEN_UNIT),
                integer("max_trials", 40, "Trials before the search fails.", low=1),
            )
        ),
        "linesearch:armijo",
    ),
    "strong-wolfe": LineSearchSpec(
        "strong-wolfe",
        Table(
            (
                C1,
                number("c2", 0.9, "Curvature: |g(x + t d).d| <= c2 * |g.d| (c1 < c2).", **OPEN_UNIT),
                integer("max_ls", 25, "Evaluations after the first before the search fails (torch's max_ls).", low=1),
                number(
                    "tolerance_change",
                    0.0,
                    "Zoom gives up once the bracket is narrower than this in x (torch's fixed 1e-9 gives up "
                    "near minima of small scale; 0: zoom until max_ls).",
                    low=0,
                ),
            )
        ),
        "linesearch:strong_wolfe",
        conflict=_c1_below_c2,
    ),
}


def line_search(default: str | dict[str, Any]) -> Param:
    """The ``line_search`` parameter of an optimizer, with its default search."""
    help_text = "Line search choosing the step length t along the direction (see `gradtool optimizers armijo`)."
    return Param("line_search", "call", default, help_text, tables=LINE_SEARCHES)


def make_line_search(value: Mapping[str, Any]) -> Callable[..., Any] | None:
    """The configured search ``search(evaluate, d, f, g, g.d, t0) -> Search`` of a normalized
    ``line_search`` value, or None for ``none``."""
    function = LINE_SEARCHES[value["name"]].function
    if function is None:
        return None
    params = {k: v for k, v in value.items() if k != "name"}
    return lambda evaluate, d, f, g, gtd, t: function(evaluate, d, f, g, gtd, t, **params)


def line_search_changes(value: Mapping[str, Any]) -> dict[str, Any]:
    """A normalized ``line_search`` value's parameters that differ from that search's defaults."""
    table = LINE_SEARCHES[value["name"]].table
    return {k: v for k, v in value.items() if k != "name" and table.get(k).default != v}


def uses_line_search(hyper: Mapping[str, Any]) -> bool:
    """Whether a configured optimizer's ``line_search`` is set (not ``none``)."""
    value = hyper.get("line_search")
    return value is not None and value["name"] != "none"


def chooses_step(optimizer: Mapping[str, Any]) -> bool:
    """Whether a run's optimizer (``{"name": ..., **hyper}``) reports the step length t instead of the lr:
    a method that searches, or a first-order rule with a line search."""
    return optimizer.get("name") in {spec.name for spec in SEARCH_METHODS} or uses_line_search(optimizer)


# ---- the methods that search -----------------------------------------------------------------------------

LIMITS = {
    "lr-find": "it chooses its step with a line search (or uses lr as a fixed step); there is no lr to find",
    "minibatch": "it needs the same function at every evaluation of a step: use full batches (no --batch-size)",
}


def _first_step(default: float = 1.0) -> Param:
    help_text = "The first trial step t0 of each step's line search (the step itself with none)."
    return number("lr", default, help_text, low=0, low_open=True)


def _method(name: str, rule: str, params: tuple, needs: str | None = None, **extra: Any) -> OptimizerSpec:
    return OptimizerSpec(name=name, table=Table(params), rule=rule, limits=LIMITS, searching=True, needs=needs, **extra)


SEARCH_METHODS: tuple[OptimizerSpec, ...] = (
    _method(
        "newton",
        "newton:newton",
        (
            _first_step(),
            line_search("armijo"),
            number("shift", 1e-3, "Smallest shift tau of H + tau I when H is not positive definite.", **OPEN_UNIT),
        ),
        needs="hessian",
    ),
    _method(
        "newton-cg",
        "newton:newton_cg",
        (
            _first_step(),
            line_search("strong-wolfe"),
            integer("max_cg", None, "Conjugate-gradient iterations per step (default: 20 n).", low=1),
        ),
        needs="hvp",
    ),
    _method("bfgs", "quasinewton:bfgs", (_first_step(), line_search("strong-wolfe"))),
    _method(
        "lbfgs",
        "quasinewton:lbfgs",
        (
            _first_step(),
            integer("history_size", 100, "Pairs (s, y) kept: the memory m.", low=1),
            line_search("none"),
        ),
        torch="LBFGS",
    ),
    _method(
        "cg",
        "conjugate:cg",
        (
            _first_step(),
            choice("beta", "pr+", ("pr+", "fr"), "Polak-Ribiere+ or Fletcher-Reeves."),
            integer("restart", None, "Restart with d = -g every this many steps (default: n, the variables).", low=1),
            line_search({"name": "strong-wolfe", "c2": 0.1}),
        ),
    ),
)
