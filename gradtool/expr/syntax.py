"""The parser's front half, without SymPy: the text checked and read by Python's ast, its variables, its identity.

``read`` does everything the parser does before it builds a SymPy object (length, characters, ``^`` as
``**``, Python's own parser, a long flat sum term by term), with the same messages. Its result names the
expression's variables and has a canonical form (the syntax tree without positions), which is what the compile
cache keys on: ``x^2+1`` and ``x ** 2 + 1`` are one expression. Whether the expression is in the language
(known functions, argument counts, sizes of constants) is the builder's to say (gradtool.expr.parser).
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
from typing import NamedTuple

from gradtool.errors import ParseError

MAX_LENGTH = 200_000

#: The functions of the expression language -> their allowed argument counts (None: two or more). The one
#: list of names: gradtool.expr.vocabulary gives each its SymPy builder.
FUNCTIONS: dict[str, tuple[int, ...] | None] = {
    **dict.fromkeys(("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh"), (1,)),
    **dict.fromkeys(("exp", "sqrt", "abs", "sigmoid", "relu", "softplus"), (1,)),
    "log": (1, 2),
    "min": None,
    "max": None,
}
CONSTANTS = ("pi", "e")

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = {"lambda", "None", "True", "False", "numpy", "math", "mpmath", "builtins", "sympy"}


def variable_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a variable of the expression language (None when it can)."""
    if name in CONSTANTS:
        return "is a constant of the expression language, not a variable name"
    if name in FUNCTIONS:
        return "is a function of the expression language, not a variable name"
    if name in _RESERVED or keyword.iskeyword(name):
        return "is a reserved word, not an allowed variable name"
    if not _IDENT.match(name):
        return "is not an allowed variable name (letters, digits, '_'; starting with a letter)"
    return None


class Syntax(NamedTuple):
    """A text read by ``read``: ``terms`` are (sign, tree) pairs (one ``(1, tree)`` unless the text was too
    long a sum for Python's parser), ``body`` the stripped source and ``cols`` maps its columns to the user's."""

    text: str
    body: str
    cols: list[int]
    terms: list[tuple[int, ast.expr]]


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


def read(text: str) -> Syntax:
    """Check ``text`` and parse it with Python's ast (which executes nothing).

    Raises:
        ParseError: an empty or too long text, a character outside printable ASCII, a syntax error (with its
            column), a text too deeply nested for Python's parser.
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
    return Syntax(text, body, cols[lead:], terms)


def variables(syntax: Syntax) -> set[str]:
    """The names the expression uses as variables: every name but the constants and the called functions
    (for a text the parser accepts, these are the symbols it builds)."""
    called, names = set(), set()
    for _, tree in syntax.terms:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called.add(id(node.func))
            elif isinstance(node, ast.Name) and id(node) not in called and node.id not in CONSTANTS:
                names.add(node.id)
    return names


def canonical(syntax: Syntax) -> str | None:
    """The expression's identity: its syntax tree without positions (None when too deep to write out).

    Two texts with the same tree build the same SymPy expression, whatever their spacing, brackets that
    change nothing, or ``^`` against ``**``.
    """
    try:
        return "\n".join(f"{sign:+d} {ast.dump(tree)}" for sign, tree in syntax.terms)
    except RecursionError:
        return None
