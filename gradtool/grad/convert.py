"""SymPy expression -> autodiff tape: each distinct subexpression one node of a primitive in rules.RULES."""

from __future__ import annotations

import math
from collections.abc import Sequence

import sympy as sp

from gradtool.expr.vocabulary import relu, sigmoid, softplus
from gradtool.grad.rules import Shape, missing_rule
from gradtool.grad.tape import Node, Tape

# SymPy head -> primitive in rules.RULES. Pow is split by its exponent (see _convert); sqrt arrives as
# Pow, log(x, b) as log(x) / log(b), and subtraction and division as Add, Mul and Pow.
SYMPY_PRIMITIVES: dict[type, str] = {
    sp.Add: "add",
    sp.Mul: "mul",
    sp.exp: "exp",
    sp.log: "log",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.tan: "tan",
    sp.asin: "asin",
    sp.acos: "acos",
    sp.atan: "atan",
    sp.sinh: "sinh",
    sp.cosh: "cosh",
    sp.tanh: "tanh",
    sp.Abs: "abs",
    sp.Max: "max",
    sp.Min: "min",
    sigmoid: "sigmoid",
    relu: "relu",
    softplus: "softplus",
}


def _constant(expr: sp.Expr) -> float:
    # non-real constants (log(-1) = I*pi, 1/0 = zoo) become nan, as numpy's real arithmetic would give;
    # numbers beyond the float range (the parser refuses them in f) become inf, as numpy would give
    try:
        return float(expr)
    except TypeError:
        return float("nan")
    except OverflowError:
        return math.copysign(math.inf, expr)


def _convert(expr: sp.Expr, tape: Tape, memo: dict[sp.Expr, Node]) -> Node:
    # memo over hashable SymPy subtrees: each distinct subexpression becomes one node (CSE for free)
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        raise ValueError(f"the expression uses {expr}, which is not among the engine's variables")
    primitive = "pow" if expr.is_Pow else SYMPY_PRIMITIVES.get(type(expr))
    if primitive is None and expr.free_symbols:
        raise missing_rule(type(expr).__name__)
    if expr.is_Pow and expr.base.free_symbols and not expr.exp.free_symbols:
        # x ** c: its own rule, no log(x) adjoint; c is an attribute, not a (dead) constant node on the tape
        node = tape.pow(_convert(expr.base, tape, memo), _constant(expr.exp))
    else:
        args = [] if primitive is None else [_convert(arg, tape, memo) for arg in expr.args]
        if all(arg.op == "const" for arg in args):
            node = tape.const(_constant(expr))  # numbers, pi, E, and symbol-free subtrees, evaluated by SymPy
        else:
            node = tape.apply(primitive, *args)
    memo[expr] = node
    return node


def convert_expression(expr: sp.Expr, tape: Tape, memo: dict[sp.Expr, Node]) -> Node:
    """Append ``expr`` to ``tape``; ``memo`` maps its symbols (or whole subexpressions) to existing nodes.

    Raises:
        MissingRuleError: an operation without a derivative rule. ValueError: a symbol not in ``memo``.
    """
    return _convert(sp.sympify(expr), tape, dict(memo))


def expression_to_tape(
    expr: sp.Expr, symbols: Sequence[sp.Symbol], shapes: Sequence[Shape] | None = None
) -> tuple[Tape, Node, list[Node]]:
    """Return ``(tape, output node, input nodes)`` for ``expr`` as a function of ``symbols`` (in order).

    ``shapes`` (one per symbol) declares the inputs' shapes, e.g. ``()`` for a scalar parameter and
    ``(rows,)`` for a data column, so that gradients are summed back to each input's shape; by default
    every input is elementwise over whatever arrays are passed in.

    Raises:
        MissingRuleError: ``expr`` contains an operation without a derivative rule (the message names it).
        ValueError: ``expr`` uses a symbol not in ``symbols``.
    """
    tape = Tape()
    shapes = [None] * len(symbols) if shapes is None else shapes
    inputs = [tape.input(str(symbol), shape) for symbol, shape in zip(symbols, shapes, strict=True)]
    output = _convert(sp.sympify(expr), tape, dict(zip(symbols, inputs, strict=True)))
    return tape, output, inputs
