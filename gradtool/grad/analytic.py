"""The analytic engine: SymPy derivatives, compiled once by lambdify (with CSE) into numpy functions."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import sympy as sp

from gradtool.errors import ParseError
from gradtool.expr.vocabulary import NUMPY_NAMESPACE
from gradtool.grad.base import as_points, quietly


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


@within_recursion_limit
def compile_numpy(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol], namespace: dict | None = None):
    """lambdify ``exprs`` into one numpy function of ``len(symbols)`` positional arguments.

    ``namespace`` replaces some of our own functions' numpy versions (complex-safe ones, for example).

    The user's symbols are renamed to internal ones first, and the namespace is explicit, so the code
    lambdify generates and executes contains only names we chose. The numpy *module* (not the string
    "numpy") is passed: the string makes lambdify run ``from numpy import *``, which loads numpy.testing
    and f2py and costs ~0.4 s on the first call.
    """
    internal = [sp.Symbol(f"v{i}", real=True) for i in range(len(symbols))]
    mapping = dict(zip(symbols, internal, strict=True))
    renamed = [as_floats(sp.sympify(e).xreplace(mapping)) for e in exprs]
    modules = [{**NUMPY_NAMESPACE, **(namespace or {})}, np]
    return sp.lambdify(internal, renamed, modules=modules, cse=True, docstring_limit=0)


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


def _stack(values: list, batch: int) -> np.ndarray:
    """Columns (scalars for constant partials, arrays otherwise) as a ``(batch, k)`` array."""
    out = np.empty((batch, len(values)))
    for j, v in enumerate(values):
        out[:, j] = v
    return out


def _shape_key(expr: sp.Basic, local: dict[sp.Symbol, int]) -> tuple:
    """A hashable key of ``expr``'s tree with each symbol replaced by its local index."""
    if expr.is_Symbol:
        return ("s", local[expr])
    if not expr.args:
        return (expr,)
    return (expr.func, *(_shape_key(a, local) for a in expr.args))


class TermGroup:
    """Terms of a sum that are one template in different variables, evaluated as one vectorized call."""

    def __init__(self, template: sp.Expr, placeholders: list[sp.Symbol]):
        self.indices: list[list[int]] = []
        self.template, self.placeholders = template, placeholders
        self.func = compile_numpy([template, *symbolic_gradient(template, placeholders)], placeholders)

    @functools.cached_property
    def value_func(self):
        """The template alone: values without the partials (what finite differences evaluate)."""
        return compile_numpy([self.template], self.placeholders)

    @functools.cached_property
    def tangent_func(self):
        """The template's Hessian-vector product from our reverse-mode tape (forward-over-reverse)."""
        from gradtool.grad.autodiff import expression_to_tape
        from gradtool.grad.tangent import compile_hvp

        return compile_hvp(*expression_to_tape(self.template, self.placeholders))

    def accumulate_hvp(self, x: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
        """Add the group's terms' ``H v`` to ``out`` (one point), all terms in one vectorized sweep."""
        idx = np.asarray(self.indices)
        _, _, tangents = self.tangent_func(*x[idx.T], *v[idx.T])
        for j, t in enumerate(tangents):
            np.add.at(out, idx[:, j], np.broadcast_to(t, (len(idx),)))

    def accumulate_hessian(self, x: np.ndarray, h: np.ndarray) -> None:
        """Add the group's terms' Hessians (k x k blocks, k the template's variables) to ``h``."""
        idx = np.asarray(self.indices)
        k = idx.shape[1]
        for i in range(k):
            _, _, tangents = self.tangent_func(*x[idx.T], *np.eye(k)[i][:, None].repeat(len(idx), axis=1))
            for j, t in enumerate(tangents):
                np.add.at(h, (idx[:, j], idx[:, i]), np.broadcast_to(t, (len(idx),)))

    def accumulate(self, pts: np.ndarray, f: np.ndarray, g: np.ndarray | None = None) -> None:
        """Add the group's terms to ``f`` and, unless ``g`` is None, their partials to ``g``."""
        idx = np.asarray(self.indices)
        columns = (pts[:, idx[:, j]] for j in range(idx.shape[1]))
        out = self.func(*columns) if g is not None else self.value_func(*columns)
        f += np.sum(np.broadcast_to(out[0], (len(pts), len(idx))), axis=1)
        for j, partial in enumerate(out[1:]):
            np.add.at(g, (slice(None), idx[:, j]), np.broadcast_to(partial, (len(pts), len(idx))))


def group_terms(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> list[TermGroup]:
    """Group the terms of a sum by shape, so each distinct shape is differentiated once."""
    index = {s: i for i, s in enumerate(symbols)}
    groups: dict[tuple, TermGroup] = {}
    for term in sp.Add.make_args(expr):
        own = sorted(term.free_symbols, key=index.__getitem__)
        local = {s: k for k, s in enumerate(own)}
        key = (len(own), _shape_key(term, local))
        if key not in groups:
            holders = [sp.Symbol(f"p{k}", real=True) for k in range(len(own))]
            groups[key] = TermGroup(term.xreplace(dict(zip(own, holders, strict=True))), holders)
        groups[key].indices.append([index[s] for s in own])
    return list(groups.values())


GROUPED_ABOVE = 64  # variables; above this a sum is compiled term group by term group


class AnalyticEngine:
    """Value, gradient and Hessian from SymPy's exact derivatives.

    Up to ``GROUPED_ABOVE`` variables the value and all partials are one lambdified function with common
    subexpressions shared. Beyond that a sum is split into groups of terms of one shape (Rosenbrock's
    1,000-variable chain is two shapes), each differentiated once and evaluated vectorized over its terms.
    """

    name = "analytic"

    def __init__(self, expr: sp.Expr, symbols: Sequence[sp.Symbol]):
        self.expr = expr
        self.symbols = tuple(symbols)
        self.n = len(self.symbols)
        self._groups = None
        self._gradient_exprs = None
        if self.n > GROUPED_ABOVE and expr.is_Add:
            self._groups = group_terms(expr, self.symbols)
        else:
            self._f_and_g = compile_numpy([expr, *self.gradient_exprs], self.symbols)
            self._f = compile_numpy([expr], self.symbols)
        self._hessian = None

    @property
    def gradient_exprs(self) -> list[sp.Expr]:
        """The symbolic partial derivatives (computed on first use for large grouped sums)."""
        if self._gradient_exprs is None:
            self._gradient_exprs = symbolic_gradient(self.expr, self.symbols)
        return self._gradient_exprs

    def _grouped(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g = np.zeros(len(pts)), np.zeros(pts.shape)
        for group in self._groups:
            group.accumulate(pts, f, g)
        return f, g

    def value(self, x):
        pts, single = as_points(x, self.n)
        if self._groups is not None:
            f = np.zeros(len(pts))
            with np.errstate(all="ignore"):
                for group in self._groups:
                    group.accumulate(pts, f)
            return float(f[0]) if single else f
        with np.errstate(all="ignore"):
            if single:
                return float(quietly(self._f, *pts[0])[0])
            return _stack(self._f(*pts.T), len(pts))[:, 0]

    def value_and_gradient(self, x):
        if self._groups is None and type(x) is np.ndarray and x.shape == (self.n,):
            # the hot path of a single run. numpy scalars, not Python floats: those raise on 1/0 and
            # make (-4.0)**0.5 a complex number where numpy gives nan. quietly() is errstate's cheap twin.
            out = quietly(self._f_and_g, *x)
            return float(out[0]), np.array(out[1:], dtype=float)
        pts, single = as_points(x, self.n)
        with np.errstate(all="ignore"):
            if self._groups is not None:
                f, g = self._grouped(pts)
                return (float(f[0]), g[0]) if single else (f, g)
            out = _stack(self._f_and_g(*pts.T), len(pts))
        return (float(out[0, 0]), out[0, 1:]) if single else (out[:, 0], out[:, 1:])

    def gradient(self, x):
        return self.value_and_gradient(x)[1]

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``H(x) v`` at one point from our reverse-mode tape (forward-over-reverse): a big sum term group by
        term group, vectorized over each group's terms; never an n x n matrix."""
        if self._groups is None:
            return self._tape_engine.hvp(x, v)
        out = np.zeros(self.n)
        with np.errstate(all="ignore"):
            for group in self._groups:
                group.accumulate_hvp(np.asarray(x, float), np.asarray(v, float), out)
        return out

    @functools.cached_property
    def _tape_engine(self):
        from gradtool.grad.autodiff import AutodiffEngine

        return AutodiffEngine(self.expr, self.symbols)

    def hessian(self, x) -> np.ndarray:
        """The Hessian at one point, shape ``(n, n)`` (or ``(batch, n, n)``): SymPy's up to ``GROUPED_ABOVE``
        variables; beyond, where SymPy's n x n table would be too big, our tape's (one point): term group by
        term group for a big sum, else one tangent sweep of the whole expression."""
        if self.n > GROUPED_ABOVE and np.ndim(x) == 1:
            if self._groups is None:
                return self._tape_engine.hessian(x)
            h = np.zeros((self.n, self.n))
            with np.errstate(all="ignore"):
                for group in self._groups:
                    group.accumulate_hessian(np.asarray(x, float), h)
            return h
        if self._hessian is None:
            rows = symbolic_hessian(self.gradient_exprs, self.symbols)
            self._hessian = compile_numpy([e for row in rows for e in row], self.symbols)
        pts, single = as_points(x, self.n)
        with np.errstate(all="ignore"):
            flat = _stack(self._hessian(*pts.T), len(pts))
        h = flat.reshape(len(pts), self.n, self.n)
        return h[0] if single else h
