"""The front door for functions: a typed expression or a named test function, with ordered variables."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from gradtool.errors import PointError
from gradtool.expr import library
from gradtool.expr.parser import parse_expression
from gradtool.expr.point import order_variables, parse_point


@dataclass(frozen=True)
class Objective:
    """f: R^n -> R as SymPy, its variables in order, and where it came from."""

    text: str
    expr: sp.Expr
    symbols: tuple[sp.Symbol, ...]
    named: library.TestFunction | None = field(default=None, compare=False)
    dim: int | None = None

    @property
    def variables(self) -> list[str]:
        return [s.name for s in self.symbols]

    @property
    def n(self) -> int:
        return len(self.symbols)

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


def load_objective(text: str, dim: int | None = None, variables: str | list[str] | None = None) -> Objective:
    """Resolve ``text`` (a test-function name or an expression) into an :class:`Objective`.

    Raises:
        ParseError: the expression is not in the language.
        PointError: ``variables`` does not cover the expression's variables.
        ConfigError: ``dim`` is invalid for the named function.
    """
    name = text.strip() if isinstance(text, str) else text
    if isinstance(name, str) and name in library.TEST_FUNCTIONS:
        entry = library.lookup(name)
        expr, symbols = library.get_function(name, dim)
        if variables:
            given = order_variables([s.name for s in symbols], variables)
            if sorted(given) != sorted(s.name for s in symbols):
                raise PointError(f"--vars for {name} must list exactly {', '.join(s.name for s in symbols)}")
            by_name = {s.name: s for s in symbols}
            symbols = tuple(by_name[v] for v in given)
        return Objective(name, expr, tuple(symbols), entry, entry.resolve_dim(dim))
    if dim is not None:
        raise PointError("--dim applies to named n-D test functions only (see `gradtool functions`)")
    expr, found = parse_expression(text)
    names = order_variables(list(found), variables)
    symbols = tuple(found.get(v) or sp.Symbol(v, real=True) for v in names)
    return Objective(text.strip(), expr, symbols)
