"""Expression models: ``f(inputs; params)`` typed in the expression language, whose symbols naming a data
column are inputs and the others parameters; compiled as one tape over whole columns of rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from gradtool.errors import ConfigError, DataError, PointError
from gradtool.expr.point import natural_key, parse_point
from gradtool.fitting import fusion
from gradtool.fitting.layout import Layout
from gradtool.grad.tape import Node, Tape
from gradtool.params import ParamError


def intercepts(expr: sp.Expr, params: list[sp.Symbol]) -> set[sp.Symbol]:
    """The additive intercepts: parameters that are a term of the top-level sum by themselves and appear
    nowhere else (``b`` in ``w*x + b``, ``c`` in ``a*exp(-k*t) + c``); --l2 leaves them alone, as torch's
    weight decay on bias-free groups and scikit-learn's Ridge do."""
    if not isinstance(expr, sp.Add):
        return set()
    return {p for p in params if p in expr.args and p not in (expr - p).free_symbols}


class ExpressionModel:
    """An expression ``f(inputs; params)``; inputs are data columns, one row per evaluation."""

    kind = "expression"

    def __init__(self, text, expr: sp.Expr, params: list[sp.Symbol], inputs: list[sp.Symbol], target, fuse=False):
        self.text, self.expr = text, expr
        self.param_symbols, self.input_symbols = params, inputs
        self.inputs, self.targets = [s.name for s in inputs], [target]
        self.layout = Layout(tuple(s.name for s in params), tuple(() for _ in params))
        self.intercepts = intercepts(expr, params)
        self.penalized = [s.name for s in params if s not in self.intercepts]
        self.plan = fusion.plan(expr, params, inputs, fuse)  # fuse: linear terms as matrix products
        self._index = fusion.parameter_index(self.plan, params)

    @property
    def fused(self) -> bool:
        return bool(self.plan.blocks)

    def init(self, rng: np.random.Generator, init: Any = None) -> np.ndarray:
        """Zeros by default; ``"random"``: standard normal draws; else ``w=1,b=0`` (unnamed ones stay 0),
        ``1,0`` in parameter order, a list, or a mapping."""
        names = list(self.layout.names)
        if init is None or init == "":
            return np.zeros(len(names))
        if isinstance(init, str) and init.strip() == "random":
            return rng.normal(size=len(names))
        if isinstance(init, str) and "=" in init:
            given = {p.split("=", 1)[0].strip() for p in init.split(",")}
            init = ",".join([init, *(f"{n}=0" for n in names if n not in given)])
        elif isinstance(init, dict):
            init = {**dict.fromkeys(names, 0.0), **init}
        try:
            return np.array(parse_point(init, names), dtype=float)
        except PointError as exc:
            raise ParamError("init", str(exc)) from None

    def build(self, rows: int) -> tuple[Tape, Node, list[Node], list[Node]]:
        """``(tape, output (rows,) or (), parameter nodes, data nodes)``: a vector node per fused block and
        a scalar node per other parameter; a feature matrix per block and a column per other input."""
        return fusion.build_tape(self.plan, rows)

    def param_args(self, theta: np.ndarray) -> list:
        """The sweep's parameter inputs: each block's slice of ``theta``, then the scalars."""
        return [theta[index] for index in self._index]

    def flat_gradient(self, grads: list) -> np.ndarray:
        """The gradients of the parameter inputs scattered back into the flat layout."""
        out = np.empty(self.layout.size)
        for index, grad in zip(self._index, grads, strict=True):
            out[index] = grad
        return out

    def penalized_nodes(self, params: list[Node]) -> list[Node]:
        """Blocks (weights: a fused parameter is never an intercept) and the penalized scalars."""
        blocks = len(self.plan.blocks)
        return [*params[:blocks], *(p for p in params[blocks:] if p.params["name"] in self.penalized)]

    def data_args(self, x: np.ndarray) -> list[np.ndarray]:
        return fusion.data_args(self.plan, self.input_symbols, x)

    def target_arg(self, y: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(y[:, 0])

    def target_shape(self, rows: int) -> tuple[int, ...]:
        return (rows,)

    def row_floats(self) -> int:
        """Floats a sweep keeps per row of its batch: a few per operation of the expression."""
        return 4 * (sum(1 for _ in sp.preorder_traversal(self.expr)) + len(self.inputs) + 2)

    def describe(self) -> dict[str, Any]:
        return {"expression": str(self.expr), "inputs": self.inputs}


def expression_model(
    text: str, columns: list[str], targets: list[str], params, inputs, fuse: bool = False
) -> ExpressionModel:
    from gradtool.expr.parser import parse_expression

    expr, found = parse_expression(text)
    if len(targets) != 1:
        raise ConfigError(f"an expression model fits one target column, got {len(targets)}")
    if params is not None:
        unknown = [p for p in params if p not in found]
        if unknown:
            raise ConfigError(f"parameter {unknown[0]!r} does not appear in {text.strip()!r}")
    chosen = set(params) if params is not None else {n for n in found if n not in columns}
    names = sorted(found, key=natural_key)
    if targets[0] in found and targets[0] not in chosen:
        raise ConfigError(f"the expression uses the target column {targets[0]!r} as an input")
    missing = [n for n in names if n not in chosen and n not in columns]
    if missing:
        raise DataError(f"no input column {missing[0]!r} in the data (columns: {', '.join(columns)})")
    if not chosen:
        raise ConfigError(f"{text.strip()!r} has no parameters to fit (every symbol names a data column)")
    if params is None and chosen == set(names):  # a misspelled column would silently become a parameter
        raise DataError(
            f"{text.strip()!r} uses no data column, so it would fit a constant "
            f"(columns: {', '.join(columns)}); name an input column or give --params"
        )
    ordered = params if params is not None else [n for n in names if n in chosen]
    if inputs is not None:
        raise ParamError("inputs", "applies to mlp models; an expression's inputs are its column symbols")
    inputs_found = [found[n] for n in names if n not in chosen]
    return ExpressionModel(text.strip(), expr, [found[n] for n in ordered], inputs_found, targets[0], fuse)
