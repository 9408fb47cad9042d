"""Linear terms of an expression model fused into matrix products, so that a model typed term by term runs
like a network: ``w1*x1 + ... + w64*x64 + b`` becomes ``F @ w + b`` with ``F`` the (rows, 64) matrix of its
data features and ``w`` one vector input, instead of 64 products, a 65-way sum and 64 reductions a step.

A term is fusable when it is one parameter times a factor of data columns alone (``w*x``, ``c*x^2``,
``k*sin(t)``) and that parameter appears nowhere else in the expression; each sum with two or more such
terms gets one block. The features are evaluated once per batch of data (once per split in training),
never per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from gradtool.grad.tape import Node, Tape


@dataclass(frozen=True)
class Block:
    """``F @ w`` standing for the sum of ``params[k] * features[k]``; ``symbol`` replaces it in the expression."""

    symbol: sp.Symbol
    params: tuple[sp.Symbol, ...]
    features: tuple[sp.Expr, ...]


@dataclass
class Plan:
    """The expression with its blocks replaced by symbols, the blocks, and what stays scalar or a column."""

    expr: sp.Expr
    blocks: list[Block]
    scalars: list[sp.Symbol]
    columns: list[sp.Symbol]
    _features: dict[sp.Expr, Any] = field(default_factory=dict)


def _split_term(term: sp.Expr, candidates: set[sp.Symbol], inputs: set[sp.Symbol]):
    """``(parameter, feature)`` when ``term`` is one candidate parameter times a factor of inputs only."""
    factors = term.args if isinstance(term, sp.Mul) else (term,)
    params = [f for f in factors if f in candidates]
    if len(params) != 1:
        return None
    feature = sp.Mul(*(f for f in factors if f is not params[0]))
    if not feature.free_symbols or not feature.free_symbols <= inputs:
        return None
    return params[0], feature


def plan(expr: sp.Expr, params: list[sp.Symbol], inputs: list[sp.Symbol], fuse: bool = True) -> Plan:
    """Find the fusable blocks of ``expr`` (none when ``fuse`` is false: the analytic engine's layout)."""
    blocks: list[Block] = []
    candidates = {p for p in params if expr.count(p) == 1} if fuse else set()
    data, order = set(inputs), {p: k for k, p in enumerate(params)}

    def rewrite(node: sp.Expr) -> sp.Expr:
        if not node.args or not (node.free_symbols & candidates):
            return node
        args = [rewrite(a) for a in node.args]
        if isinstance(node, sp.Add):
            pairs = [(a, _split_term(a, candidates, data)) for a in args]
            fused = sorted((pair for _, pair in pairs if pair is not None), key=lambda pair: order[pair[0]])
            if len(fused) >= 2:
                symbol = sp.Dummy(f"block{len(blocks)}")
                blocks.append(Block(symbol, tuple(p for p, _ in fused), tuple(f for _, f in fused)))
                return sp.Add(symbol, *(a for a, pair in pairs if pair is None), evaluate=False)
        return node.func(*args)

    reduced = rewrite(expr)
    in_blocks = {p for block in blocks for p in block.params}
    used = reduced.free_symbols
    return Plan(reduced, blocks, [p for p in params if p not in in_blocks], [s for s in inputs if s in used])


def build_tape(model_plan: Plan, rows: int) -> tuple[Tape, Node, list[Node], list[Node]]:
    """``(tape, output, parameter inputs (blocks, then scalars), data inputs (features, then columns))``."""
    from gradtool.grad.autodiff import convert_expression

    tape = Tape()
    vectors = [tape.input(f"[block {k}]", (len(b.params),)) for k, b in enumerate(model_plan.blocks)]
    scalars = [tape.input(p.name, ()) for p in model_plan.scalars]
    features = [tape.input(f"[features {k}]", (rows, len(b.params))) for k, b in enumerate(model_plan.blocks)]
    columns = [tape.input(s.name, (rows,)) for s in model_plan.columns]
    memo = dict(zip([*model_plan.scalars, *model_plan.columns], [*scalars, *columns], strict=True))
    for block, vector, matrix in zip(model_plan.blocks, vectors, features, strict=True):
        memo[block.symbol] = tape.matmul(matrix, vector)
    out = convert_expression(model_plan.expr, tape, memo)
    return tape, out, [*vectors, *scalars], [*features, *columns]


def _feature(model_plan: Plan, feature: sp.Expr, inputs: dict[sp.Symbol, int], columns: np.ndarray) -> np.ndarray:
    """One feature's values on the rows (``columns``: the inputs as a (inputs, rows) array)."""
    if feature in inputs:
        return columns[inputs[feature]]
    if feature not in model_plan._features:
        from gradtool.grad.autodiff import expression_to_tape
        from gradtool.grad.tape import compile_value

        tape, out, _ = expression_to_tape(feature, list(inputs))
        model_plan._features[feature] = compile_value(tape, out)
    value = model_plan._features[feature](*columns)
    return np.broadcast_to(value, columns.shape[1:])


def data_args(model_plan: Plan, inputs: list[sp.Symbol], x: np.ndarray) -> list[np.ndarray]:
    """The sweep's data inputs for the rows ``x`` (rows, inputs): one feature matrix per block, then columns."""
    columns = np.ascontiguousarray(x.T)  # contiguous columns: faster ufuncs than strided views
    index = {s: k for k, s in enumerate(inputs)}
    with np.errstate(all="ignore"):
        matrices = [
            np.column_stack([_feature(model_plan, f, index, columns) for f in block.features])
            for block in model_plan.blocks
        ]
    return [*matrices, *(columns[index[s]] for s in model_plan.columns)]


def parameter_index(model_plan: Plan, params: list[sp.Symbol]) -> list[np.ndarray | int | slice]:
    """Where each parameter input sits in the flat vector: a slice or index array per block, an int per scalar."""
    out: list[np.ndarray | int | slice] = []
    for block in model_plan.blocks:
        index = np.array([params.index(p) for p in block.params])
        contiguous = bool(np.all(np.diff(index) == 1))
        out.append(slice(int(index[0]), int(index[-1]) + 1) if contiguous else index)
    return out + [params.index(p) for p in model_plan.scalars]
