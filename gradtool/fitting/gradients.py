"""The objective of a fit (mean batch loss + l2 penalty) and its three gradient engines over the flat parameters.

``autodiff`` differentiates the objective with respect to every parameter in ONE reverse sweep of the
compiled tape; ``numeric`` takes central differences of the compiled forward pass (2 forward passes per
parameter); ``analytic`` (expression models) differentiates each row's loss with SymPy and averages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from gradtool.errors import ConfigError
from gradtool.fitting.losses import Loss, penalty_nodes
from gradtool.grad.base import quietly
from gradtool.grad.tangent import compile_hvp
from gradtool.grad.tape import compile_gradient, compile_value
from gradtool.params import ParamError

EPS = float(np.finfo(float).eps)
MAX_SWEEP_BYTES = 2 << 30  # working memory of one forward + reverse sweep (a batch, or a chunk of rows)


class Objective:
    """``F(theta) = mean over a batch of loss(model(x; theta), y) + l2 * sum(weights^2)``.

    Tapes are built and compiled once per batch size (shapes are part of a tape) and cached. ``args`` is
    ``model.data_args(X) + [model.target_arg(Y)]`` for the batch.
    """

    def __init__(self, model, loss: Loss, l2: float = 0.0):
        if not (isinstance(l2, int | float) and np.isfinite(l2) and l2 >= 0):
            raise ParamError("l2", f"must be a number >= 0, got {l2!r}")
        self.model, self.loss, self.l2 = model, loss, float(l2)
        self.layout = model.layout
        self._tapes: dict[int, tuple] = {}
        self._compiled: dict[tuple[str, int], Callable] = {}
        self.chunk_rows = MAX_SWEEP_BYTES // (8 * model.row_floats())  # rows one sweep may hold

    def check_memory(self, rows: int) -> None:
        """Refuse a batch whose sweep would need more than MAX_SWEEP_BYTES, naming the options to lower."""
        if rows > self.chunk_rows:
            need = rows * 8 * self.model.row_floats()
            lower = "the layer widths" if self.model.kind == "mlp" else "the expression's size"
            raise ParamError(
                "batch_size",
                f"{self.model.text} on batches of {rows:,} rows needs about {need / 2**30:,.1f} GiB per step "
                f"(limit {MAX_SWEEP_BYTES >> 30} GiB): lower it (at most {self.chunk_rows:,} rows fit) or {lower}",
            )

    def tape(self, rows: int):
        """``(tape, objective node, output node, parameter nodes)`` for a batch of ``rows`` rows."""
        if rows not in self._tapes:
            tape, out, params, _ = self.model.build(rows)
            target = tape.input("_target", self.model.target_shape(rows))
            objective = self.loss.nodes(tape, out, target)
            penalty = penalty_nodes(tape, self.model.penalized_nodes(params), self.l2)
            if penalty is not None:
                objective = tape.add(objective, penalty)
            self._tapes[rows] = (tape, objective, out, params)
        return self._tapes[rows]

    def _compiled_for(self, kind: str, rows: int) -> Callable:
        key = (kind, rows)
        if key not in self._compiled:
            tape, objective, out, params = self.tape(rows)
            if kind == "gradient":
                self._compiled[key] = compile_gradient(tape, objective, params)
            elif kind == "hvp":
                self._compiled[key] = compile_hvp(tape, objective, params)
            else:
                self._compiled[key] = compile_value(tape, objective if kind == "value" else out)
        return self._compiled[key]

    def args(self, x: np.ndarray, y: np.ndarray | None) -> list:
        """The sweep's data arguments for a batch (``y`` None: predictions only)."""
        return [*self.model.data_args(x), None if y is None else self.model.target_arg(y)]

    def value(self, theta: np.ndarray, args: list) -> float:
        sweep = self._compiled_for("value", _rows(args))
        return float(quietly(sweep, *self.model.param_args(theta), *args))

    def hvp(self, theta: np.ndarray, v: np.ndarray, args: list) -> np.ndarray:
        """``H(theta) v`` of the objective over a batch: the tangent of the gradient sweep (forward-over-reverse)."""
        sweep = self._compiled_for("hvp", _rows(args))
        views = self.layout.views(theta)
        _, _, tangents = quietly(sweep, *views, *args, *self.layout.views(v))
        return np.concatenate([np.broadcast_to(t, np.shape(p)).ravel() for t, p in zip(tangents, views, strict=True)])

    def output(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The model's raw output (the logit for bce) as ``(rows, outputs)`` for the input rows ``x``."""
        return self.output_of(theta, self.args(x, None))

    def output_of(self, theta: np.ndarray, args: list) -> np.ndarray:
        """The raw output for sweep arguments (a split's; the target is not used), in chunks of ``chunk_rows``."""
        rows = len(args[0]) if args[0] is not None else 0
        if rows > self.chunk_rows:
            step = self.chunk_rows
            parts = [[a if a is None else a[k : k + step] for a in args] for k in range(0, rows, step)]
            return np.concatenate([self.output_of(theta, part) for part in parts])
        out = quietly(self._compiled_for("output", rows), *self.model.param_args(theta), *args)
        if np.ndim(out) == 0:  # a model that does not depend on its inputs
            return np.full((rows, len(self.model.targets)), float(out))
        return np.reshape(out, (rows, -1))

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Predictions ``(rows, outputs)``: the output through the loss's link (sigmoid for bce)."""
        return self.loss.link(self.output(theta, x))


def _rows(args: list) -> int:
    return len(args[-1])


def in_chunks(function: Callable, theta: np.ndarray, args: list, chunk: int):
    """``function(theta, args)`` (a mean over rows: a value or ``(value, gradient)``) over all rows, taken
    in chunks of at most ``chunk`` rows and averaged with each chunk's share of the rows as weight."""
    rows = _rows(args)
    if rows <= chunk:
        return function(theta, args)
    total = None
    for start in range(0, rows, chunk):
        part = function(theta, [a[start : start + chunk] for a in args])
        weight = min(chunk, rows - start) / rows
        scaled = (weight * part[0], weight * part[1]) if isinstance(part, tuple) else weight * part
        total = scaled if total is None else _plus(total, scaled)
    return total


def _plus(a, b):
    return (a[0] + b[0], a[1] + b[1]) if isinstance(a, tuple) else a + b


class AutodiffGradient:
    """Reverse mode on the tape: value and all parameter gradients from one forward + one reverse sweep."""

    name = "autodiff"

    def __init__(self, objective: Objective):
        self.objective = objective

    def __call__(self, theta: np.ndarray, args: list) -> tuple[float, np.ndarray]:
        sweep = self.objective._compiled_for("gradient", _rows(args))
        model = self.objective.model
        value, grads = quietly(sweep, *model.param_args(theta), *args)
        return float(value), model.flat_gradient(grads)


def central_gradient(value: Callable[[np.ndarray], float], theta: np.ndarray, h: float | None = None) -> np.ndarray:
    """``(F(theta + h_i e_i) - F(theta - h_i e_i)) / (2 h_i)``, ``h_i = h`` or ``eps^(1/3) max(1, |theta_i|)``."""
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = h if h is not None else EPS ** (1 / 3) * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (value(up) - value(down)) / (up[i] - down[i])  # the steps actually taken, after rounding
    return grad


class NumericGradient:
    """Central differences of the compiled forward pass: 2 forward passes per parameter."""

    name = "numeric"

    def __init__(self, objective: Objective):
        self.objective = objective

    def __call__(self, theta: np.ndarray, args: list) -> tuple[float, np.ndarray]:
        value = self.objective.value
        return value(theta, args), central_gradient(lambda t: value(t, args), theta)


class AnalyticGradient:
    """SymPy: ``d loss_row / d p`` for each parameter, lambdified once, averaged over the batch's rows."""

    name = "analytic"

    def __init__(self, objective: Objective):
        if objective.model.kind != "expression":
            raise ParamError("gradient", "analytic is for expression models; networks use autodiff or numeric")
        if objective.model.fused:  # its sweeps take feature matrices; SymPy's function takes the columns
            raise ParamError("gradient", "analytic needs the expression model built with fuse=False")
        self.objective = objective

    @cached_property
    def _function(self) -> Callable:
        import sympy as sp

        from gradtool.grad.analytic import compile_numpy

        model = self.objective.model
        target = sp.Dummy("target", real=True)
        row = self.objective.loss.row(model.expr, target)
        parts = [row, *(sp.diff(row, p) for p in model.param_symbols)]
        return compile_numpy(parts, [*model.param_symbols, *model.input_symbols, target])

    def __call__(self, theta: np.ndarray, args: list) -> tuple[float, np.ndarray]:
        rows = _rows(args)
        parts = quietly(self._function, *theta, *args)
        means = np.array([np.mean(np.broadcast_to(p, (rows,))) for p in parts])
        weights = theta * self._penalized  # the intercepts are not penalized
        l2 = self.objective.l2
        return float(means[0] + l2 * weights @ weights), means[1:] + 2.0 * l2 * weights

    @cached_property
    def _penalized(self) -> np.ndarray:
        model = self.objective.model
        return np.array([name in model.penalized for name in model.layout.names], dtype=float)


#: The gradient engines of a fit objective (``engine(theta, args) -> (F, dF/dtheta)``), by name: the fit
#: counterpart of ``gradtool.grad.engines.ENGINES`` (engines of an expression over its variables).
FIT_ENGINES: dict[str, Callable[[Objective], Callable]] = {
    "autodiff": AutodiffGradient,
    "numeric": NumericGradient,
    "analytic": AnalyticGradient,
}


def make_fit_engine(name: str, objective: Objective) -> Callable:
    """``engine(theta, args) -> (F, dF/dtheta)`` for the named engine."""
    if name not in FIT_ENGINES:
        raise ConfigError(f"unknown gradient engine {name!r} for fit; choose one of: {', '.join(FIT_ENGINES)}")
    return FIT_ENGINES[name](objective)
