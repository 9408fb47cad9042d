"""The analytic engine's SymPy side: exact partial derivatives and the numpy source lambdify would write for them.

Everything here runs once per expression (the compile cache keeps what it produces): ``analytic_part`` and
``hessian_part`` are the payloads the engine loads (gradtool.grad.analytic), plain data holding source text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sympy as sp

from gradtool.errors import ParseError


def within_recursion_limit(func):
    """SymPy recurses once per nesting level (and more for derivatives): a RecursionError is an input error."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RecursionError:
            raise ParseError("expression too deeply nested for symbolic differentiation; simplify it") from None

    return wrapper


@within_recursion_limit
def symbolic_gradient(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """The partial derivatives of ``expr``, one per symbol.

    A sum is differentiated term by term, each term only by its own free symbols, so set-up is linear
    (not quadratic) in the number of variables for sums of local terms such as Rosenbrock's.
    """
    index = {s: i for i, s in enumerate(symbols)}
    parts: list[list[sp.Expr]] = [[] for _ in symbols]
    for term in sp.Add.make_args(expr):
        for s in term.free_symbols:
            if s in index:
                parts[index[s]].append(term.diff(s))
    return [sp.Add(*p) for p in parts]


@within_recursion_limit
def symbolic_hessian(gradient: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> list[list[sp.Expr]]:
    """The Hessian matrix from a gradient, differentiating each entry only by the symbols it contains."""
    n = len(symbols)
    index = {s: i for i, s in enumerate(symbols)}
    rows = [[sp.S.Zero] * n for _ in range(n)]
    for i, g in enumerate(gradient):
        for s in g.free_symbols:
            if s in index:
                rows[i][index[s]] = g.diff(s)
    return rows


EXACT_LIMIT = 2**53  # integers beyond this reach numpy as Python ints it cannot take: sin(10**300) fails


def _float_of(constant: sp.Expr) -> sp.Expr:
    """One float for a symbol-free expression: correctly rounded; inf beyond the float range (the Hessian of
    x^(10^300) holds a 10^600), nan when it is not real (numpy's real arithmetic would give nan too)."""
    value = constant.evalf(20)
    if not isinstance(value, sp.Float):
        real, imag = value.as_real_imag()
        if imag != 0 or not isinstance(real, sp.Float | sp.Integer):
            return sp.nan
        value = sp.Float(real)
    try:
        return sp.Float(float(value))
    except OverflowError:
        return sp.Float(value, 17)  # printed as 1.0e+600, which Python reads as inf


def as_floats(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every symbol-free part that Python would compute in floats by itself (``pi**3540``
    raises OverflowError there, ``sin(10**300)`` a TypeError) replaced by its value as one float literal;
    numbers numpy takes as they are (small integers and rationals, pi, e) are kept."""
    memo: dict[sp.Expr, tuple[sp.Expr, bool]] = {}

    def walk(e: sp.Expr) -> tuple[sp.Expr, bool]:  # (new expression, whether it has a symbol)
        if e not in memo:
            if e.is_Symbol:
                memo[e] = (e, True)
            elif not e.args:
                small = isinstance(e, sp.Rational) and max(abs(e.p), e.q) <= EXACT_LIMIT
                keep = small or e in (sp.pi, sp.E) or not isinstance(e, sp.Expr)  # True: a Piecewise condition
                memo[e] = (e if keep else _float_of(e), False)
            else:
                parts = [walk(a) for a in e.args]
                has = any(has for _, has in parts)
                if has or not isinstance(e, sp.Expr):  # a Piecewise's (value, condition) pairs are no numbers
                    changed = any(new is not old for (new, _), old in zip(parts, e.args, strict=True))
                    memo[e] = (e.func(*(new for new, _ in parts)) if changed else e, has)
                else:
                    memo[e] = (_float_of(e), False)
        return memo[e]

    return walk(expr)[0]


@within_recursion_limit
def numpy_source(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol], functions: Iterable[str]) -> str:
    """The source ``lambdify(symbols, exprs, modules=[namespace, numpy], cse=True)`` writes and runs: one function
    ``_lambdifygenerated(v0, v1, ...)`` returning the list of ``exprs``' values; ``functions`` (our own, such
    as sigmoid) are printed by name. Generated here with lambdify's own printers, so that it can be checked
    before anything runs (gradtool.grad.analytic), and kept by the compile cache.

    The user's symbols are renamed to internal ones first, so the source contains only names we chose.
    """
    from sympy.printing.numpy import NumPyPrinter
    from sympy.utilities.lambdify import _EvaluatorPrinter

    internal = [sp.Symbol(f"v{i}", real=True) for i in range(len(symbols))]
    mapping = dict(zip(symbols, internal, strict=True))
    renamed = [as_floats(sp.sympify(e).xreplace(mapping)) for e in exprs]
    settings = {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True}
    printer = NumPyPrinter({**settings, "user_functions": {name: name for name in functions}})
    cses, reduced = sp.cse(renamed, list=False)
    return _EvaluatorPrinter(printer, False).doprint("_lambdifygenerated", internal, reduced, cses=cses)


def _shape_key(expr: sp.Basic, local: dict[sp.Symbol, int]) -> tuple:
    """A hashable key of ``expr``'s tree with each symbol replaced by its local index."""
    if expr.is_Symbol:
        return ("s", local[expr])
    if not expr.args:
        return (expr,)
    return (expr.func, *(_shape_key(a, local) for a in expr.args))


def group_terms(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> list[tuple[sp.Expr, list[sp.Symbol], list[list[int]]]]:
    """The terms of a sum grouped by shape, so that each distinct shape is differentiated once: per group its
    template (in placeholders ``p0, p1, ...``) and, per term, the indices of the variables it stands for."""
    index = {s: i for i, s in enumerate(symbols)}
    groups: dict[tuple, tuple[sp.Expr, list[sp.Symbol], list[list[int]]]] = {}
    for term in sp.Add.make_args(expr):
        own = sorted(term.free_symbols, key=index.__getitem__)
        local = {s: k for k, s in enumerate(own)}
        key = (len(own), _shape_key(term, local))
        if key not in groups:
            holders = [sp.Symbol(f"p{k}", real=True) for k in range(len(own))]
            groups[key] = (term.xreplace(dict(zip(own, holders, strict=True))), holders, [])
        groups[key][2].append([index[s] for s in own])
    return list(groups.values())


@within_recursion_limit
def analytic_part(
    expr: sp.Expr,
    symbols: Sequence[sp.Symbol],
    gradient: Callable[[], list[sp.Expr]],
    functions: Iterable[str],
    grouped_above: int,
) -> dict[str, Any]:
    """The analytic engine's code: ``{"fg": source of f and every partial, "f": source of f}``; above
    ``grouped_above`` variables a sum is ``{"groups": [{"fg", "f", "indices"}, ...]}``, one per term shape.
    ``gradient()`` gives the partials (computed only when needed)."""
    functions = list(functions)
    if len(symbols) > grouped_above and expr.is_Add:
        groups = []
        for template, holders, indices in group_terms(expr, symbols):
            partials = symbolic_gradient(template, holders)
            fg = numpy_source([template, *partials], holders, functions)
            groups.append({"fg": fg, "f": numpy_source([template], holders, functions), "indices": indices})
        return {"groups": groups}
    return {
        "fg": numpy_source([expr, *gradient()], symbols, functions),
        "f": numpy_source([expr], symbols, functions),
    }


def hessian_part(
    symbols: Sequence[sp.Symbol], gradient: Callable[[], list[sp.Expr]], functions: Iterable[str]
) -> dict[str, Any]:
    """The code of the Hessian's entries, row by row: ``{"source": ...}``."""
    rows = symbolic_hessian(gradient(), symbols)
    return {"source": numpy_source([e for row in rows for e in row], symbols, list(functions))}
