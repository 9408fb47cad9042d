"""Forward-over-reverse: Hessian-vector products as the tangent of the compiled gradient sweep.

The reverse sweep of :func:`gradtool.grad.tape.generate_source` is straight-line code over a small
vocabulary (Python's arithmetic and the names of ``rules.NAMESPACE``). Pushing a direction ``v`` forward
through it (forward mode, one tangent per statement) gives, next to f and its gradient, the directional
derivative of the gradient: ``H v``, without ever forming H. ``TANGENTS`` is the table of tangent rules of
that vocabulary; the generated code passes the same safety check as the sweep's. With ``v`` the rows of the
identity (scalar inputs), one call gives the whole Hessian.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

import numpy as np

from gradtool.grad.base import quietly
from gradtool.grad.rules import NAMESPACE
from gradtool.grad.tape import CodeRules, Node, Tape, _source_names, check_source, generate_source, load

Zero = None  # a tangent known to be zero is not computed


def max_tangent(a, b, da, db):
    """Tangent of ``maximum(a, b)``: the larger argument's; at a tie half of each (SymPy's Heaviside(0) = 1/2)."""
    return np.where(a > b, da, np.where(a < b, db, 0.5 * (da + db)))


def min_tangent(a, b, da, db):
    """Tangent of ``minimum(a, b)``, as ``max_tangent``."""
    return np.where(a < b, da, np.where(a > b, db, 0.5 * (da + db)))


def expand_along(y, axis: int | None):
    """``y`` with the reduced ``axis`` put back (length 1), so that it broadcasts against the reduced array."""
    return y if axis is None else np.expand_dims(y, axis)


def logsumexp_tangent(x, y, dx, axis: int | None):
    """Tangent of ``y = logsumexp(x, axis)``: ``sum(softmax(x) * dx)`` along the axis."""
    return np.sum(np.exp(x - expand_along(y, axis)) * dx, axis=axis)


NAMESPACE_TANGENT: dict[str, object] = {
    **NAMESPACE,
    "max_tangent": max_tangent,
    "min_tangent": min_tangent,
    "expand_along": expand_along,
    "logsumexp_tangent": logsumexp_tangent,
}
# the sweep's own rules, with these helpers, temporaries q<k> and the tangents d<name> of every local
TANGENT_CODE = CodeRules(frozenset(NAMESPACE_TANGENT), local=re.compile(r"d?[tavq][0-9]+"))


def _zero(t: str | None) -> str:
    return "0.0" if t is None else t


def _sum(*terms: str | None) -> str | None:
    """The sum of the nonzero terms (None when every term is zero)."""
    live = [t for t in terms if t is not None]
    return " + ".join(live) if live else None


def _linear(name: str) -> Callable:
    """A function linear in its first argument, the rest data (shapes, axes): ``f(da, rest...)``."""
    return lambda a, t, z: None if t[0] is None else f"{name}({', '.join([t[0], *a[1:]])})"


def _scaled(template: str) -> Callable:
    """An elementwise unary function: ``template`` (over ``{x}``, ``{z}`` the value) times ``dx``."""
    return lambda a, t, z: None if t[0] is None else f"({template.format(x=a[0], z=z())}) * {t[0]}"


def _matmul_a(a, t, z):  # g @ b.T: linear in g and in b
    g, left, right = a
    return _sum(
        t[0] and f"matmul_adjoint_a({t[0]}, {left}, {right})", t[2] and f"matmul_adjoint_a({g}, {left}, {t[2]})"
    )


def _matmul_b(a, t, z):  # a.T @ g: linear in a and in g
    g, left, right = a
    return _sum(
        t[0] and f"matmul_adjoint_b({t[0]}, {left}, {right})", t[1] and f"matmul_adjoint_b({g}, {t[1]}, {right})"
    )


def _logsumexp_adjoint(a, t, z):  # g * exp(x - y) along the axis
    g, x, y, axis = a
    dg, dx, dy = t[:3]
    rest = None if dx is None and dy is None else f"{z()} * ({_zero(dx)} - expand_along({_zero(dy)}, {axis}))"
    return _sum(dg and f"logsumexp_adjoint({dg}, {x}, {y}, {axis})", rest)


def _extremum(helper: str) -> Callable:
    def rule(a, t, z):
        return None if t[0] is None and t[1] is None else f"{helper}({a[0]}, {a[1]}, {_zero(t[0])}, {_zero(t[1])})"

    return rule


# ---- the tangent rules of the sweep's vocabulary: name -> rule(args, arg tangents, value) -> source --------
TANGENTS: dict[str, Callable] = {
    "sin": _scaled("cos({x})"),
    "cos": _scaled("-sin({x})"),
    "tan": _scaled("1.0 + {z} * {z}"),
    "sinh": _scaled("cosh({x})"),
    "cosh": _scaled("sinh({x})"),
    "tanh": _scaled("1.0 / cosh({x}) ** 2"),
    "exp": _scaled("{z}"),
    "log": _scaled("1.0 / {x}"),
    "sqrt": _scaled("0.5 / {z}"),
    "arcsin": _scaled("1.0 / sqrt((1.0 - {x}) * (1.0 + {x}))"),
    "arccos": _scaled("-1.0 / sqrt((1.0 - {x}) * (1.0 + {x}))"),
    "arctan": _scaled("1.0 / (1.0 + {x} * {x})"),
    "abs": _scaled("sign({x})"),
    "sigmoid": _scaled("{z} * sigmoid(-{x})"),
    "softplus": _scaled("sigmoid({x})"),
    "relu": _scaled("heaviside({x}, 1.0)"),
    # piecewise constant: zero tangent
    "sign": lambda a, t, z: None,
    "heaviside": lambda a, t, z: None,
    "ones": lambda a, t, z: None,
    "zeros": lambda a, t, z: None,
    "maximum": _extremum("max_tangent"),
    "minimum": _extremum("min_tangent"),
    # arrays: linear in their first argument
    "broadcast_to": _linear("broadcast_to"),
    "reduce_sum": _linear("reduce_sum"),
    "reduce_mean": _linear("reduce_mean"),
    "unbroadcast": _linear("unbroadcast"),
    "sum_adjoint": _linear("sum_adjoint"),
    "mean_adjoint": _linear("mean_adjoint"),
    "matmul_adjoint_a": _matmul_a,
    "matmul_adjoint_b": _matmul_b,
    "logsumexp": lambda a, t, z: None if t[0] is None else f"logsumexp_tangent({a[0]}, {z()}, {t[0]}, {a[1]})",
    "logsumexp_adjoint": _logsumexp_adjoint,
}


class _Transform:
    """Walks the sweep's statements, emitting each with its tangent (``d`` + name) and temporaries ``q<k>``."""

    def __init__(self, wrt: Sequence[str]):
        self.lines: list[str] = []
        self.tangent: dict[str, str] = {name: f"d{name}" for name in wrt}
        self.temps = 0

    def atom(self, source: str) -> str:
        """``source`` as a name or literal: anything else is computed once into a temporary."""
        if _ATOM.fullmatch(source):
            return source
        name = f"q{self.temps}"
        self.temps += 1
        self.lines.append(f"    {name} = {source}")
        return name

    @staticmethod
    def grouped(source: str | None) -> str | None:
        """A tangent's source, parenthesized unless atomic (a tangent is used once: never a temporary)."""
        return source if source is None or _ATOM.fullmatch(source) else f"({source})"

    def expr(self, node: ast.expr) -> tuple[str, str | None]:
        """``(primal source, tangent source)`` of an expression (tangent None: zero)."""
        if isinstance(node, ast.Name):
            return node.id, self.tangent.get(node.id)
        if isinstance(node, ast.Constant | ast.Tuple | ast.List) and not _has_names(node):
            return ast.unparse(node), None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            p, t = self.expr(node.operand)
            return f"(-{self.grouped(p)})", None if t is None else f"(-{self.grouped(t)})"
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TANGENTS:
            return self.call(node.func.id, node.args)
        raise ValueError(f"no tangent rule for {ast.unparse(node)!r}")

    def binop(self, node: ast.BinOp) -> tuple[str, str | None]:
        (pa, ta), (pb, tb) = self.expr(node.left), self.expr(node.right)
        op = node.op
        if isinstance(op, ast.Add | ast.Sub):  # left-nested chains stay flat: only the right side is grouped
            sign = "+" if isinstance(op, ast.Add) else "-"
            primal = f"{pa} {sign} {self.grouped(pb)}"
            return primal, ta if tb is None else f"{_zero(ta)} {sign} {self.grouped(tb)}"
        a, b = self.atom(pa), self.atom(pb)
        ta, tb = self.grouped(ta), self.grouped(tb)
        if isinstance(op, ast.Mult):
            return f"{a} * {b}", _sum(ta and f"{ta} * {b}", tb and f"{a} * {tb}")
        if isinstance(op, ast.MatMult):
            return f"{a} @ {b}", _sum(ta and f"{ta} @ {b}", tb and f"{a} @ {tb}")
        if isinstance(op, ast.Div):
            if tb is None:
                return f"{a} / {b}", ta and f"{ta} / {b}"
            z = self.atom(f"{a} / {b}")
            return z, f"({_zero(ta)} - {z} * {tb}) / {b}"
        if isinstance(op, ast.Pow):
            power = ta and (f"2.0 * {a} * {ta}" if b == "2.0" else f"{b} * {a} ** ({b} - 1.0) * {ta}")
            if tb is None:
                return f"{a} ** {b}", power
            z = self.atom(f"{a} ** {b}")
            return z, _sum(power, f"log({a}) * {z} * {tb}")
        raise ValueError(f"no tangent rule for {ast.unparse(node)!r}")

    def call(self, name: str, args: list[ast.expr]) -> tuple[str, str | None]:
        parts = [self.expr(arg) for arg in args]
        primal = [self.atom(p) for p, _ in parts]
        tangents = [self.grouped(t) for _, t in parts]
        source = f"{name}({', '.join(primal)})"
        value: list[str] = []

        def z() -> str:  # the call's value, computed once when a rule needs it
            if not value:
                value.append(self.atom(source))
            return value[0]

        tangent = TANGENTS[name](primal, tangents, z)
        return (value[0] if value else source), tangent

    def assign(self, target: str, node: ast.expr) -> None:
        primal, tangent = self.expr(node)
        if tangent is None:
            self.tangent.pop(target, None)
        else:  # the tangent first: both right-hand sides read the values from before this statement
            self.lines.append(f"    d{target} = {tangent}")
            self.tangent[target] = f"d{target}"
        self.lines.append(f"    {target} = {primal}")


_ATOM = re.compile(r"d?[tavq][0-9]+|[0-9.e+-]+|\(-[0-9.e+-]+\)|inf|nan|\(-inf\)")


def _has_names(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


def tangent_source(source: str, wrt: Sequence[str]) -> str:
    """The source of ``sweep(inputs..., d<wrt>...) -> (value, gradients, tangents of the gradients)`` from a
    gradient sweep's source (``wrt``: the names of the inputs differentiated, in order)."""
    function = ast.parse(source).body[0]
    walk = _Transform(wrt)
    for statement in function.body[:-1]:
        (target,) = statement.targets
        walk.assign(target.id, statement.value)
    value, grads = function.body[-1].value.elts
    out = [walk.expr(g) for g in grads.elts]
    outputs = [walk.atom(p) for p, _ in out]
    tangents = [_zero(t) for _, t in out]
    head = [arg.arg for arg in function.args.args] + [f"d{name}" for name in wrt]
    lines = [f"def sweep({', '.join(head)}):", *walk.lines]
    lines.append(f"    return {ast.unparse(value)}, [{', '.join(outputs)}], [{', '.join(tangents)}]")
    return "\n".join(lines)


def tangent_function(source: str, arity: int | None = None) -> Callable:
    """The function of a checked tangent sweep (``arity``: its inputs and their directions)."""
    function = load(check_source(source, TANGENT_CODE, arity), NAMESPACE_TANGENT)
    function.source = source
    return function


def compile_hvp(tape: Tape, output: Node, wrt: Sequence[Node]) -> Callable:
    """``f(*inputs, *directions) -> (value, [gradient per wrt], [H v per wrt])``: one forward sweep, one
    reverse sweep and the tangent of both. A tangent known to be zero comes back as the scalar 0.0."""
    names = _source_names(tape)
    source = tangent_source(generate_source(tape, output, list(wrt)), [names[node.index] for node in wrt])
    return tangent_function(source, len(tape.inputs) + len(wrt))


def sweep_tangent(gradient_source: str, n: int) -> dict[str, str]:
    """The tangent of a gradient sweep over its ``n`` inputs ``v0 ... v(n-1)`` (an engine's cached part)."""
    return {"source": tangent_source(gradient_source, [f"v{k}" for k in range(n)])}


class TangentGroups:
    """``H v`` and ``H`` of a big sum, term group by term group: each group's template has its own tangent
    sweep, run once over all of its terms (columns of x and v), and its ``k`` partials are scattered back."""

    def __init__(self, groups: list[tuple[Callable, np.ndarray]], n: int):
        self.groups, self.n = groups, n

    @classmethod
    def load(cls, payload: dict, n: int) -> TangentGroups:
        groups = []
        for group in payload["groups"]:
            indices = np.array(group["indices"], dtype=np.int64)
            if indices.ndim != 2 or not ((indices >= 0) & (indices < n)).all():
                raise ValueError("term indices out of range")
            groups.append((tangent_function(group["source"], 2 * indices.shape[1]), indices))
        return cls(groups, n)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n)
        for function, idx in self.groups:
            _, _, tangents = quietly(function, *x[idx.T], *v[idx.T])
            for j, t in enumerate(tangents):
                np.add.at(out, idx[:, j], np.broadcast_to(t, (len(idx),)))
        return out

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """The k x k blocks of every term (k directions per group), added into the n x n matrix."""
        h = np.zeros((self.n, self.n))
        for function, idx in self.groups:
            k = idx.shape[1]
            for i in range(k):
                directions = np.zeros((k, len(idx)))
                directions[i] = 1.0
                _, _, tangents = quietly(function, *x[idx.T], *directions)
                for j, t in enumerate(tangents):
                    np.add.at(h, (idx[:, j], idx[:, i]), np.broadcast_to(t, (len(idx),)))
        return h


def tangent_groups_part(objective) -> dict:
    """The payload of :class:`TangentGroups` for a sum (SymPy: the analytic engine's term groups, each
    template put on a tape): ``{"groups": [{"source", "indices"}, ...]}``, constant terms left out."""
    from gradtool.grad.convert import expression_to_tape
    from gradtool.grad.symbolic import group_terms

    groups = []
    for template, holders, indices in group_terms(objective.expr, objective.symbols):
        if holders:
            tape, output, inputs = expression_to_tape(template, holders)
            source = sweep_tangent(generate_source(tape, output, inputs), len(holders))["source"]
            groups.append({"source": source, "indices": indices})
    return {"groups": groups}
