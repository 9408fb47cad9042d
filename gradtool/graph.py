"""The computation graph of an expression as the autodiff engine runs it: values, local partials, adjoints.

Nothing is evaluated twice: the tape is the one ``AutodiffEngine`` builds, and the numbers come from a traced
variant of its compiled sweep (``tape.compile_trace``: the same statements, returning every intermediate), so
the gradient here is the engine's to the last bit, and so is ``gradtool grad --at``'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradtool.expr.objective import Objective
from gradtool.grad.base import quietly

MAX_PATHS = 64  # paths written out per variable; beyond, the chain rule is shown one step at a time
INFIX = {"add": " + ", "mul": " * "}


@dataclass(frozen=True)
class GraphNode:
    """One node: ``op`` is ``input``, ``const`` or a primitive of the rule table; ``inputs`` are node ids;
    ``local[k]`` is d node / d inputs[k]; ``adjoint`` is dF/d node (None for constants: never needed)."""

    id: int
    op: str
    inputs: tuple[int, ...]
    value: float
    local: tuple[float, ...]
    adjoint: float | None
    name: str | None = None  # the variable of an input node
    exponent: float | None = None  # the constant exponent of pow_const


@dataclass(frozen=True)
class Path:
    """One path from the output down to a variable: node ids ``[output, ..., variable]`` and the factors
    dF/d output (1) and d n_k / d n_(k+1) along it, whose product is the path's share of dF/d variable."""

    nodes: tuple[int, ...]
    factors: tuple[float, ...]

    @property
    def product(self) -> float:
        return math.prod(self.factors)


@dataclass(frozen=True)
class Graph:
    """A function's graph at one point: nodes in tape (topological) order, the output id, F and the gradient."""

    expression: str
    variables: tuple[str, ...]
    at: tuple[float, ...]
    nodes: tuple[GraphNode, ...]
    output: int
    f: float
    gradient: tuple[float, ...]

    @cached_property
    def by_id(self) -> dict[int, GraphNode]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def inputs(self) -> list[GraphNode]:
        """The input nodes, in variable order."""
        return [node for node in self.nodes if node.op == "input"]

    @cached_property
    def consumers(self) -> dict[int, list[tuple[int, int]]]:
        """Per node id, the ``(consumer id, argument slot)`` edges that use it, consumers in tape order."""
        out: dict[int, list[tuple[int, int]]] = {node.id: [] for node in self.nodes}
        for node in self.nodes:
            for slot, arg in enumerate(node.inputs):
                out[arg].append((node.id, slot))
        return out

    def ref(self, id: int) -> str:
        """How a formula names a node: a variable by name, a constant by value, any other node as ``n<id>``."""
        node = self.by_id[id]
        if node.op == "input":
            return node.name
        return number(node.value) if node.op == "const" else f"n{id}"

    def formula(self, id: int, values: bool = False) -> str:
        """The node's operation on its inputs: ``x + y``, ``n3 * w``, ``n5^2``, ``sigmoid(n7)``; with
        ``values``, on its inputs' values: ``1 + 2``, ``(-0.5)^2``."""
        node = self.by_id[id]
        if node.op in ("input", "const"):
            return self.ref(id)
        args = [self.ref(k) if not values else operand(self.by_id[k].value) for k in node.inputs]
        if node.op in INFIX:
            return INFIX[node.op].join(args)
        if node.op == "pow_const":
            return f"{args[0]}^{number(node.exponent)}"
        if node.op == "pow":
            return f"{args[0]}^{args[1]}"
        return f"{node.op}({', '.join(args)})"

    def path_count(self, id: int) -> int:
        """How many paths lead from node ``id`` to the output (each argument slot is its own edge)."""
        return self._path_counts.get(id, 0)

    @cached_property
    def _path_counts(self) -> dict[int, int]:
        counts = {self.output: 1}
        for node in reversed(self.nodes):
            if node.id != self.output:
                counts[node.id] = sum(counts.get(c, 0) for c, _ in self.consumers[node.id])
        return counts

    def paths(self, id: int, limit: int = MAX_PATHS) -> list[Path] | None:
        """Every path from the output down to node ``id`` (none if F does not use it); None above ``limit``."""
        if self.path_count(id) > limit:
            return None
        found: list[Path] = []

        def walk(chain: list[int], factors: list[float]) -> None:  # chain runs from `id` up to some node
            if chain[-1] == self.output:
                found.append(Path(tuple(reversed(chain)), (1.0, *reversed(factors))))
                return
            for consumer, slot in self.consumers[chain[-1]]:
                walk([*chain, consumer], [*factors, self.by_id[consumer].local[slot]])

        walk([id], [])
        return found

    def to_dict(self, limit: int = MAX_PATHS) -> dict[str, Any]:
        """The JSON object of ``gradtool graph --json`` (documented in docs/graph.md)."""
        return {
            "expression": self.expression,
            "variables": list(self.variables),
            "at": dict(zip(self.variables, self.at, strict=True)),
            "nodes": [_node_dict(self, node) for node in self.nodes],
            "output": self.output,
            "f": self.f,
            "gradient": dict(zip(self.variables, self.gradient, strict=True)),
            "chain_rule": {node.name: _chain_dict(self, node, limit) for node in self.inputs},
        }


def _node_dict(graph: Graph, node: GraphNode) -> dict[str, Any]:
    out = {
        "id": node.id,
        "op": node.op,
        "inputs": list(node.inputs),
        "value": node.value,
        "local": list(node.local),
        "adjoint": node.adjoint,
        "formula": graph.formula(node.id),
    }
    if node.name is not None:
        out["name"] = node.name
    if node.exponent is not None:
        out["exponent"] = node.exponent
    return out


def _chain_dict(graph: Graph, node: GraphNode, limit: int) -> dict[str, Any]:
    paths = graph.paths(node.id, limit)
    terms = None
    if paths is not None:
        terms = [{"nodes": list(p.nodes), "factors": list(p.factors), "product": p.product} for p in paths]
    return {"paths": graph.path_count(node.id), "terms": terms, "adjoint": node.adjoint}


def operand(value: float | None) -> str:
    """A number as an operand: negative ones in parentheses, ``2 * (-0.5)``."""
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def number(value: float | None, digits: int = 12) -> str:
    """A number in formulas and the chain-rule text: ``digits`` significant digits, ``3`` rather than ``3.0``."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def computation_graph(objective: Objective, point: Sequence[float]) -> Graph:
    """Build ``objective``'s tape exactly as ``AutodiffEngine`` does, run its traced sweep at ``point``.

    Raises:
        MissingRuleError: an operation without a derivative rule; ParseError: too large to compile.
    """
    from gradtool.grad.autodiff import expression_to_tape
    from gradtool.grad.tape import compile_trace, traced_nodes

    tape, output, inputs = expression_to_tape(objective.expr, objective.symbols)
    sweep = compile_trace(tape, output, inputs)
    x = np.asarray(point, dtype=float)  # numpy scalars, exactly as the engine's hot path passes them
    f, gradient, values, adjoints, local = quietly(sweep, *x)
    nodes = tuple(
        GraphNode(
            id=node.index,
            op=node.op,
            inputs=node.args,
            value=float(value),
            local=tuple(float(v) for v in partials),
            adjoint=None if adjoint is None else float(adjoint),
            name=node.params.get("name"),
            exponent=node.params.get("exponent"),
        )
        for node, value, adjoint, partials in zip(traced_nodes(tape, output), values, adjoints, local, strict=True)
    )
    return Graph(
        expression=objective.text,
        variables=tuple(objective.variables),
        at=tuple(x.tolist()),
        nodes=nodes,
        output=output.index,
        f=float(f),
        gradient=tuple(float(g) for g in gradient),
    )
