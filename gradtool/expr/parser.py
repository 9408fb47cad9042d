"""The safe expression parser: Python's ast, a whitelist of node kinds and names, SymPy objects out.

No user text ever reaches ``eval``, ``sympify`` or ``parse_expr``: the text is parsed by ``ast.parse``
(which executes nothing) and every node is translated by hand; anything not on the whitelist is a
``ParseError`` naming the problem and its 1-based column.
"""

from __future__ import annotations

import ast
import math
from typing import Any, NamedTuple

import sympy as sp

from gradtool.errors import ParseError
from gradtool.expr import fold, syntax
from gradtool.expr.syntax import MAX_LENGTH, Syntax, variable_name_problem
from gradtool.expr.vocabulary import CONSTANTS, MATH_FUNCTIONS

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "MAX_LENGTH", "parse_expression", "variable_name_problem"]

MAX_DEPTH = 200
MAX_DIGITS = fold.MAX_DIGITS


class Term(NamedTuple):
    """A built subexpression and, for a constant one, its shadow value (see fold.py; None with variables)."""

    expr: sp.Expr
    value: Any = None


class _Builder:
    """Translate a whitelisted Python AST into SymPy, one node kind at a time; constants are sized first."""

    def __init__(self, source: str, cols: list[int], text: str):
        self.source = source
        self.cols = cols
        self.text = text
        self.symbols: dict[str, sp.Symbol] = {}

    def fail(self, node: ast.AST | None, message: str, hint: str = "", col: int | None = None) -> ParseError:
        col = getattr(node, "col_offset", 0) if col is None else col
        col = self.cols[min(col, len(self.cols) - 1)] + 1
        return ParseError(f"{message} at column {col}{hint}")

    def snippet(self, node: ast.AST | None) -> str:
        """The user's text of ``node`` (clipped), for messages."""
        if node is None:
            text = self.text.strip()
        else:
            text = self.text[self.cols[node.col_offset] : self.cols[node.end_col_offset - 1] + 1]
        return text if len(text) <= 40 else text[:37] + "..."

    def build(self, node: ast.AST, depth: int = 0) -> Term:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise self.fail(node, f"{_describe(node)} is not allowed in an expression")
        return method(node, depth + 1)

    def make(self, node: ast.AST | None, kind: str, func, terms: list[Term]) -> Term:
        """``func(*terms)`` (``kind``: add, mul, pow or a function name), every number in it sized before
        SymPy computes it (fold.py)."""
        args = [t.expr for t in terms]
        constant = all(t.value is not None for t in terms)
        try:
            value = fold.operation_value(kind, [t.value for t in terms]) if constant else None
            if constant:
                fold.check_value(value)
            if kind == "pow":
                fold.check_power_cost(*args)
            elif kind in ("add", "mul"):
                fold.check_terms_cost(args)
            expr = func(*args)
            fold.check_built(expr)
        except fold.FoldError as exc:
            subject = "constant" if constant else "a number folded in"
            raise self.fail(node, f"{subject} {self.snippet(node)} {exc}") from None
        except (ValueError, TypeError) as exc:  # max(x, I): SymPy cannot order it; log(x, 1)
            raise self.fail(node, f"{kind}(): {str(exc).rstrip('.')}") from None
        return Term(expr, value)

    def negate(self, node: ast.AST | None, term: Term) -> Term:
        return self.make(node, "mul", sp.Mul, [_MINUS_ONE, term])

    def _Constant(self, node: ast.Constant, depth: int) -> Term:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(node, f"{type(v).__name__} literal {v!r:.20} is not a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise self.fail(node, "number is too large")
        expr = sp.Integer(v) if isinstance(v, int) else sp.Float(v)
        try:
            fold.check_number(expr)
        except fold.FoldError as exc:
            raise self.fail(node, f"number {self.snippet(node)} {exc}") from None
        return Term(expr, fold.number_value(expr))

    def _Name(self, node: ast.Name, depth: int) -> Term:
        name = node.id
        if name in CONSTANTS:
            return Term(CONSTANTS[name], fold.constant_value(CONSTANTS[name]))
        if name in MATH_FUNCTIONS:
            raise self.fail(node, f"function '{name}' used without arguments")
        reason = variable_name_problem(name)
        if reason:
            raise self.fail(node, f"'{name}' {reason}")
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name, real=True)
        return Term(self.symbols[name])

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Term:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return self.negate(node, operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self.fail(node, f"operator '{_OP_TEXT.get(type(node.op), '?')}' is not allowed")

    def _BinOp(self, node: ast.BinOp, depth: int) -> Term:
        if isinstance(node.op, ast.Add | ast.Sub):
            return self._sum(node, depth)
        if isinstance(node.op, ast.Mult | ast.Div):
            return self._product(node, depth)
        op = type(node.op)
        if op is ast.Pow:
            return self._power(node, self.build(node.left, depth), self.build(node.right, depth))
        raise self.fail(
            node,
            f"operator '{_OP_TEXT.get(op, '?')}' is not allowed",
            " (use + - * / ^ **)",
            col=node.left.end_col_offset + _gap(self.source, node.left.end_col_offset),
        )

    def _sum(self, node: ast.BinOp, depth: int) -> Term:
        # a + b - c + ... as one n-ary Add: pairwise Adds would make long sums quadratic to build
        whole, terms = node, []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            right = self.build(node.right, depth)
            terms.append(right if isinstance(node.op, ast.Add) else self.negate(node.right, right))
            node = node.left
        terms.append(self.build(node, depth))
        return self.make(whole, "add", sp.Add, terms[::-1])

    def _product(self, node: ast.BinOp, depth: int) -> Term:
        # a * b / c * ... as one n-ary Mul: like a long sum, a long product is long, not deep
        whole, factors = node, []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
            right = self.build(node.right, depth)
            if isinstance(node.op, ast.Div):
                right = self.make(node, "pow", sp.Pow, [right, _MINUS_ONE])
            factors.append(right)
            node = node.left
        factors.append(self.build(node, depth))
        return self.make(whole, "mul", sp.Mul, factors[::-1])

    def _power(self, node: ast.BinOp, base: Term, exponent: Term) -> Term:
        if base.value is not None and exponent.value is None and fold.MP.re(base.value) < 0:
            raise self.fail(
                node,
                f"{self.snippet(node)}: a negative number to a variable power is not a real function",
                " (its derivative needs log of a negative number)",
            )
        return self.make(node, "pow", sp.Pow, [base, exponent])

    def _Call(self, node: ast.Call, depth: int) -> Term:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only named functions may be called, such as sin(x)")
        name = node.func.id
        if name not in MATH_FUNCTIONS:
            raise self.fail(node, f"unknown function '{name}'", f" (known: {', '.join(MATH_FUNCTIONS)})")
        if node.keywords:
            raise self.fail(node, f"keyword arguments are not allowed in {name}()")
        builder, counts = MATH_FUNCTIONS[name]
        n = len(node.args)
        if counts is None and n < 2:
            raise self.fail(node, f"{name}() takes two or more arguments, got {n}")
        if counts is not None and n not in counts:
            want = " or ".join(map(str, counts))
            raise self.fail(node, f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {n}")
        return self.make(node, name, builder, [self.build(a, depth) for a in node.args])


_MINUS_ONE = Term(sp.S.NegativeOne, fold.constant_value(sp.S.NegativeOne))


_OP_TEXT = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.Not: "not",
}
_KIND = {
    "Attribute": "attribute access",
    "Subscript": "subscripting",
    "Lambda": "lambda",
    "ListComp": "a comprehension",
    "SetComp": "a comprehension",
    "DictComp": "a comprehension",
    "GeneratorExp": "a comprehension",
    "Compare": "a comparison",
    "BoolOp": "a boolean operator",
    "IfExp": "a conditional expression",
    "Tuple": "a tuple",
    "List": "a list",
    "Dict": "a dict",
    "Set": "a set",
    "Starred": "unpacking",
    "NamedExpr": "assignment",
    "JoinedStr": "a string",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "Slice": "a slice",
}


def _gap(source: str, start: int) -> int:
    """Number of blanks from ``start`` to the next visible character (where an operator sits)."""
    rest = source[start:]
    return len(rest) - len(rest.lstrip())


def _describe(node: ast.AST) -> str:
    return _KIND.get(type(node).__name__, type(node).__name__)


def parse_expression(text: str, read: Syntax | None = None) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """Parse ``text`` into a SymPy expression and the symbols it uses (by name); ``read`` is ``text`` already
    read by ``syntax.read`` (the compile cache reads it first, for its key).

    Raises:
        ParseError: for anything outside the expression language, naming the problem and its column.
    """
    text, body, cols, terms = read or syntax.read(text)
    builder = _Builder(body, cols, text)
    try:
        built = [builder.build(node) if sign > 0 else builder.negate(node, builder.build(node)) for sign, node in terms]
        expr = built[0].expr if len(built) == 1 else builder.make(None, "add", sp.Add, built).expr
    except RecursionError:
        raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels") from None
    # (-8)^(1/3) is SymPy's principal root 2*(-1)**(1/3): complex, yet free of I
    if expr.has(sp.zoo, sp.nan, sp.oo, sp.I) or any(
        p.is_number and p.is_extended_real is False
        for p in expr.atoms(sp.Pow, sp.Function)  # acos(2)
    ):
        raise ParseError("expression is not a finite real number (division by zero or sqrt of a negative?)")
    return expr, builder.symbols
