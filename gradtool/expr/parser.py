"""The safe expression parser: Python's ast, a whitelist of node kinds and names, SymPy objects out.

No user text ever reaches ``eval``, ``sympify`` or ``parse_expr``: the text is parsed by ``ast.parse``
(which executes nothing) and every node is translated by hand; anything not on the whitelist is a
``ParseError`` naming the problem and its 1-based column.
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize

import sympy as sp

from gradtool.errors import ParseError
from gradtool.expr.vocabulary import CONSTANTS, MATH_FUNCTIONS

MAX_LENGTH = 200_000
MAX_DEPTH = 200
MAX_DIGITS = 2_000  # largest constant SymPy may fold exactly, in decimal digits
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = {"lambda", "None", "True", "False", "numpy", "math", "mpmath", "builtins", "sympy"}


def _column_map(text: str) -> tuple[str, list[int]]:
    """Replace ``^`` by ``**`` and map each column of the result back to the user's column."""
    out, cols = [], []
    for i, ch in enumerate(text):
        if ch == "^":
            out.append("**")
            cols.extend((i, i))
        else:
            out.append(ch)
            cols.append(i)
    cols.append(len(text))
    return "".join(out), cols


class _Builder:
    """Translate a whitelisted Python AST into SymPy, one node kind at a time."""

    def __init__(self, source: str, cols: list[int]):
        self.source = source
        self.cols = cols
        self.symbols: dict[str, sp.Symbol] = {}

    def fail(self, node: ast.AST, message: str, hint: str = "", col: int | None = None) -> ParseError:
        col = getattr(node, "col_offset", 0) if col is None else col
        col = self.cols[min(col, len(self.cols) - 1)] + 1
        return ParseError(f"{message} at column {col}{hint}")

    def build(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise self.fail(node, f"{_describe(node)} is not allowed in an expression")
        return method(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(node, f"{type(v).__name__} literal {v!r:.20} is not a number")
        if isinstance(v, int):
            return sp.Integer(v)
        if not math.isfinite(v):
            raise self.fail(node, "number is too large")
        return sp.Float(v)

    def _Name(self, node: ast.Name, depth: int) -> sp.Expr:
        name = node.id
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in MATH_FUNCTIONS:
            raise self.fail(node, f"function '{name}' used without arguments")
        if not _IDENT.match(name) or name in _RESERVED:
            raise self.fail(
                node, f"'{name}' is not an allowed variable name (letters, digits, '_'; starting with a letter)"
            )
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name, real=True)
        return self.symbols[name]

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> sp.Expr:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self.fail(node, f"operator '{_OP_TEXT.get(type(node.op), '?')}' is not allowed")

    def _BinOp(self, node: ast.BinOp, depth: int) -> sp.Expr:
        if isinstance(node.op, ast.Add | ast.Sub):
            return self._sum(node, depth)
        if isinstance(node.op, ast.Mult | ast.Div):
            return self._product(node, depth)
        left = self.build(node.left, depth)
        right = self.build(node.right, depth)
        op = type(node.op)
        if op is ast.Pow:
            return self._power(node, left, right)
        raise self.fail(
            node,
            f"operator '{_OP_TEXT.get(op, '?')}' is not allowed",
            " (use + - * / ^ **)",
            col=node.left.end_col_offset + _gap(self.source, node.left.end_col_offset),
        )

    def _sum(self, node: ast.BinOp, depth: int) -> sp.Expr:
        # a + b - c + ... as one n-ary Add: pairwise Adds would make long sums quadratic to build
        terms = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            right = self.build(node.right, depth)
            terms.append(right if isinstance(node.op, ast.Add) else -right)
            node = node.left
        terms.append(self.build(node, depth))
        return sp.Add(*reversed(terms))

    def _product(self, node: ast.BinOp, depth: int) -> sp.Expr:
        # a * b / c * ... as one n-ary Mul: like a long sum, a long product is long, not deep
        factors = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
            right = self.build(node.right, depth)
            factors.append(right if isinstance(node.op, ast.Mult) else 1 / right)
            node = node.left
        factors.append(self.build(node, depth))
        return sp.Mul(*reversed(factors))

    def _power(self, node: ast.BinOp, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        # SymPy folds number**number exactly: bound the size of the result before it tries.
        if base.is_number and exponent.is_number and exponent.is_real and base.is_real:
            try:
                b, x = abs(float(base)), abs(float(exponent))
            except (OverflowError, TypeError):
                raise self.fail(node, "constant is too large") from None
            if b > 1 and x * math.log10(b) > MAX_DIGITS:
                raise self.fail(node, f"constant power has more than {MAX_DIGITS} digits")
            if b != 0 and b < 1 and x * -math.log10(b) > MAX_DIGITS:
                raise self.fail(node, f"constant power has more than {MAX_DIGITS} digits")
        return sp.Pow(base, exponent)

    def _Call(self, node: ast.Call, depth: int) -> sp.Expr:
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
        args = [self.build(a, depth) for a in node.args]
        try:
            return builder(*args)
        except (ValueError, TypeError) as exc:  # max(x, 0/0): SymPy cannot order nan
            raise self.fail(node, f"{name}(): {str(exc).rstrip('.')}") from None


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


def _syntax_error(exc: SyntaxError, cols: list[int], shift: int) -> ParseError:
    offset = max((exc.offset or 1) - 1 + shift, 0)
    msg = exc.msg.split(";")[0]  # a 5,000-digit number: Python goes on to advise sys.set_int_max_str_digits
    return ParseError(f"syntax error: {msg} at column {cols[min(offset, len(cols) - 1)] + 1}")


def _ends_operand(tok: tokenize.TokenInfo | None) -> bool:
    """Whether a + or - after ``tok`` is binary (after a name, number or closing bracket)."""
    if tok is None:
        return False
    if tok.type == tokenize.NAME:
        return not keyword.iskeyword(tok.string)
    return tok.type == tokenize.NUMBER or tok.string in (")", "]", "}")


def _parse_terms(body: str, cols: list[int], lead: int) -> list[tuple[int, ast.expr]]:
    """Parse ``body`` one term at a time, cut at its top-level binary + and - (sign, term AST)."""
    cuts, depth, prev = [(1, -1)], 0, None
    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        if tok.string in ("(", "[", "{"):
            depth += 1
        elif tok.string in (")", "]", "}"):
            depth -= 1
        elif tok.string in ("+", "-") and depth == 0 and _ends_operand(prev):
            cuts.append((1 if tok.string == "+" else -1, tok.start[1]))
        prev = tok
    ends = [at for _, at in cuts[1:]] + [len(body)]
    terms = []
    for (sign, at), end in zip(cuts, ends, strict=True):
        chunk = body[at + 1 : end]
        start = at + 1 + len(chunk) - len(chunk.lstrip())
        try:
            node = ast.parse(chunk.strip(), mode="eval").body
        except SyntaxError as exc:
            raise _syntax_error(exc, cols, lead + start) from None
        except (RecursionError, MemoryError, ValueError):
            raise ParseError("expression too deeply nested or malformed") from None
        for sub in ast.walk(node):  # columns relative to the whole text, for error messages
            if hasattr(sub, "col_offset"):
                sub.col_offset += start
                sub.end_col_offset += start
        terms.append((sign, node))
    return terms


def parse_expression(text: str) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """Parse ``text`` into a SymPy expression and the symbols it uses (by name).

    Raises:
        ParseError: for anything outside the expression language, naming the problem and its column.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression longer than {MAX_LENGTH} characters")
    for i, ch in enumerate(text):
        if not (ch.isascii() and (ch.isprintable() or ch in " \t")):
            raise ParseError(f"character {ch!r} is not allowed at column {i + 1}")
    source, cols = _column_map(text)
    lead = len(source) - len(source.lstrip())
    body = source.strip()
    try:
        terms = [(1, ast.parse(body, mode="eval").body)]
    except SyntaxError as exc:
        raise _syntax_error(exc, cols, lead) from None
    except RecursionError:  # Python's parser recurses over a long flat sum: parse it term by term
        terms = _parse_terms(body, cols, lead)
    except (MemoryError, ValueError):
        raise ParseError("expression too deeply nested or malformed") from None
    builder = _Builder(body, cols[lead:])
    try:
        expr = sp.Add(*(sign * builder.build(node) for sign, node in terms))
    except RecursionError:
        raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels") from None
    # (-8)^(1/3) is SymPy's principal root 2*(-1)**(1/3): complex, yet free of I
    if expr.has(sp.zoo, sp.nan, sp.oo, sp.I) or any(
        p.is_number and p.is_extended_real is False
        for p in expr.atoms(sp.Pow, sp.Function)  # acos(2)
    ):
        raise ParseError("expression is not a finite real number (division by zero or sqrt of a negative?)")
    return expr, builder.symbols
