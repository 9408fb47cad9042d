"""The front door for functions: a typed expression or a named test function, with ordered variables.

An Objective knows its variables and where it came from without SymPy; its SymPy form is built on first use.
When the compile cache knows the expression (``key``), the engines take their code from it and SymPy is
never imported.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gradtool import cache
from gradtool.errors import PointError
from gradtool.expr import library, syntax
from gradtool.expr.point import order_variables, parse_point
from gradtool.params import PointParamError

if TYPE_CHECKING:
    import sympy as sp


class Objective:
    """f: R^n -> R: its variables in order, where it came from, and its SymPy form (built on first use).

    Attributes:
        text: The expression as typed (stripped) or the test function's name.
        named: The test function's registry entry, or None.
        dim: The test function's dimension, or None.
        key: The compile cache's key of its code (None: not cached).
    """

    def __init__(
        self,
        text: str,
        variables: tuple[str, ...],
        build: Callable[[], tuple[sp.Expr, tuple[sp.Symbol, ...]]],
        named: library.TestFunction | None = None,
        dim: int | None = None,
        key: str | None = None,
    ):
        self.text, self.named, self.dim, self.key = text, named, dim, key
        self._variables = tuple(variables)
        self._build = build

    @classmethod
    def of(cls, expr: sp.Expr, symbols, text: str | None = None) -> Objective:
        """An objective for a SymPy expression over ``symbols`` (in order); never cached."""
        symbols = tuple(symbols)
        return cls(str(expr) if text is None else text, tuple(s.name for s in symbols), lambda: (expr, symbols))

    @cached_property
    def _symbolic(self) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
        return self._build()

    @property
    def expr(self) -> sp.Expr:
        """The SymPy expression (built, parsing the text again if need be, on first use)."""
        return self._symbolic[0]

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """Its variables as real SymPy symbols, in order."""
        return self._symbolic[1]

    @property
    def variables(self) -> list[str]:
        return list(self._variables)

    @property
    def n(self) -> int:
        return len(self._variables)

    def point(self, text) -> list[float]:
        """Parse a point (``x=1,y=2``, ``1,2``, list or mapping) in this objective's variable order."""
        return parse_point(text, self.variables)

    def require_variables(self, task: str) -> None:
        """Raise PointError when there is nothing to ``task`` (a constant such as ``"1"``)."""
        if self.n == 0:
            raise PointError(f"{self.text} has no variables: there is nothing to {task}")

    def start(self) -> list[float]:
        """The usual start of a named function, else zeros."""
        return list(self.named.start(self.dim)) if self.named else [0.0] * self.n

    def compiled(self, part: str, build: Callable[[Objective], dict[str, Any]], use: Callable[[dict[str, Any]], Any]):
        """``use`` of this objective's compiled ``part``: from the cache, else ``build(self)`` (SymPy) and kept."""
        return cache.obtain(self.key, part, lambda: build(self), use)


def load_objective(text: str, dim: int | None = None, variables: str | list[str] | None = None) -> Objective:
    """Resolve ``text`` (a test-function name or an expression) into an :class:`Objective`.

    Raises:
        ParseError: the expression is not in the language.
        PointError: ``variables`` does not cover the expression's variables (a ParamError naming it).
        ConfigError: ``dim`` is invalid for the named function (a ParamError naming it).
    """
    name = text.strip() if isinstance(text, str) else text
    if isinstance(name, str) and name in library.TEST_FUNCTIONS:
        return _named(name, dim, variables)
    if dim is not None:
        raise PointParamError("dim", "applies to named n-D test functions only (see `gradtool functions`)")
    read = syntax.read(text)
    identity = syntax.canonical(read)
    parsed = _validated(read, identity)
    names = order_variables(list(syntax.variables(read) if parsed is None else parsed[1]), variables)

    def build() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
        import sympy as sp

        from gradtool.expr.parser import parse_expression

        expr, symbols = parsed or parse_expression(text, read)
        return expr, tuple(symbols.get(v) or sp.Symbol(v, real=True) for v in names)

    key = None if identity is None else cache.key("expression", identity, ",".join(names))
    return Objective(text.strip(), tuple(names), build, key=key)


def _validated(read: syntax.Syntax, identity: str | None) -> tuple[sp.Expr, dict[str, sp.Symbol]] | None:
    """None when the cache knows the expression to be in the language (no SymPy); else the parser's expression
    and symbols (it raises the ParseError of an expression outside the language), remembered as valid."""
    from_cache = None if identity is None else cache.key("parsed", identity)
    if from_cache is not None and cache.load(from_cache, "parsed") == {"variables": sorted(syntax.variables(read))}:
        return None
    from gradtool.expr.parser import parse_expression

    expr, symbols = parse_expression(read.text, read)
    if from_cache is not None:
        cache.store(from_cache, "parsed", {"variables": sorted(symbols)})
    return expr, symbols


def _named(name: str, dim: int | None, variables: str | list[str] | None) -> Objective:
    entry = library.lookup(name)
    dim = entry.resolve_dim(dim)
    canonical = entry.variable_names(dim)
    names = canonical
    if variables:
        names = tuple(order_variables(list(canonical), variables))
        if sorted(names) != sorted(canonical):
            raise PointParamError("variables", f"for {name} must list exactly {', '.join(canonical)}")

    def build() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
        expr, symbols = library.get_function(name, dim)
        by_name = {s.name: s for s in symbols}
        return expr, tuple(by_name[v] for v in names)

    return Objective(name, names, build, entry, dim, cache.key("function", name, str(dim), ",".join(names)))
