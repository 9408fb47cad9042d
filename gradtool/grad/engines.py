"""The registry of gradient engines: one name -> one constructor over an Objective."""

from __future__ import annotations

import math
from collections.abc import Callable

from gradtool.budget import BudgetExceeded
from gradtool.errors import ConfigError
from gradtool.expr.objective import Objective
from gradtool.grad.analytic import AnalyticEngine
from gradtool.grad.base import GradientEngine
from gradtool.grad.numeric import METHODS, NumericEngine


def _analytic(obj: Objective, **_: object) -> AnalyticEngine:
    return AnalyticEngine(obj)


def _autodiff(obj: Objective, **_: object) -> GradientEngine:
    from gradtool.grad.autodiff import AutodiffEngine

    return AutodiffEngine(obj)


def _numeric(
    obj: Objective, method: str = "central", h: float | None = None, analytic=None, **_: object
) -> NumericEngine:
    if method not in METHODS:
        raise ConfigError(f"unknown difference method {method!r} (known: {', '.join(METHODS)})")
    if h is not None and not 0 < h < math.inf:
        raise ConfigError(f"step h must be positive and finite, got {h}")
    if h is not None and method == "adaptive":
        raise ConfigError(
            "a fixed step h applies to central, forward, backward, five-point and complex; "
            "adaptive chooses its own steps"
        )
    complex_fn = None
    if method == "complex":
        from gradtool.grad.complexstep import complex_function

        complex_fn = complex_function(obj.expr, obj.symbols)
    values = (analytic or AnalyticEngine(obj)).value
    return NumericEngine(values, obj.n, method, h, complex_fn)


#: The gradient engines of an expression over its variables, by name (a fit objective's: ``FIT_ENGINES`` in
#: gradtool.fitting.gradients).
ENGINES: dict[str, Callable[..., GradientEngine]] = {
    "analytic": _analytic,
    "autodiff": _autodiff,
    "numeric": _numeric,
}


def make_engine(name: str, objective: Objective, **options: object) -> GradientEngine:
    """Build the engine ``name`` for ``objective``; ``method``/``h`` apply to ``numeric``."""
    if name not in ENGINES:
        raise ConfigError(f"unknown gradient engine {name!r} (known: {', '.join(ENGINES)})")
    return ENGINES[name](objective, **options)


def make_run_engine(name: str, objective: Objective, **options: object) -> tuple[GradientEngine, str | None]:
    """The engine a run asks for, and a note when it is not that one: an analytic engine whose symbolic set-up
    (SymPy's diff and compilation) exceeds the budget is replaced by autodiff, the same gradient by reverse
    mode without SymPy, so that a run never waits on SymPy."""
    try:
        return make_engine(name, objective, **options), None
    except BudgetExceeded as exc:
        if name != "analytic":
            raise
        return make_engine("autodiff", objective), f"{exc}: autodiff gradients instead"
