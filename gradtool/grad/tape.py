"""The autodiff graph (a tape of primitive operations) and its compilation into one forward + reverse sweep.

A ``Tape`` is a hash-consed DAG: inputs, constants and primitive operations from ``rules.RULES``, each
node appended after its arguments, so the list order is a topological order. ``compile_gradient`` turns
the nodes reachable from an output into straight-line Python source (one statement per node forward,
then one per adjoint contribution in reverse) and execs it once; every later call runs no graph walk.

Safety invariant: the generated source contains only internal identifiers (``v<k>`` inputs, ``t<i>``
values, ``a<i>`` adjoints), names from ``rules.NAMESPACE``, and numeric literals made by ``repr`` of
a float or int (axes, shapes). Input names and every other user-supplied string stay in Python data and
never reach ``exec``; ``check_source`` verifies this on the compiled code before each exec, and exec
gets ``rules.NAMESPACE`` with empty builtins as its only globals.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import CodeType
from typing import Any

from gradtool.errors import ParseError
from gradtool.grad.rules import ARRAY_PRIMITIVES, NAMESPACE, RULES, Shape, literal, missing_rule

_INTERNAL_NAME = re.compile(r"[tav][0-9]+")
_SIMPLE = re.compile(r"[tav][0-9]+|[0-9.e+-]+|\(-[0-9.e+-]+\)")  # a name or a float literal


@dataclass(frozen=True)
class Node:
    """One tape entry: ``op`` is ``"input"``, ``"const"`` or a key of ``RULES``; ``args`` are node indices."""

    index: int
    op: str
    args: tuple[int, ...]
    attrs: tuple[tuple[str, Any], ...]
    shape: Shape

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.attrs)


class Tape:
    """A DAG of primitive operations; identical operations on identical arguments are stored once."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.inputs: list[Node] = []
        self._memo: dict[tuple, Node] = {}
        self._input_names: set[str] = set()

    def _add(self, op: str, args: tuple[int, ...], attrs: dict[str, Any], shape: Shape) -> Node:
        key = (op, args, tuple(sorted(attrs.items())))
        if key not in self._memo:
            self._memo[key] = Node(len(self.nodes), op, args, key[2], shape)
            self.nodes.append(self._memo[key])
        return self._memo[key]

    def input(self, name: str, shape: Sequence[int] | None = None) -> Node:
        """A named input; ``shape=None`` means elementwise over whatever arrays are passed in."""
        if name in self._input_names:
            raise ValueError(f"duplicate input name {name!r}")
        self._input_names.add(name)
        node = self._add("input", (), {"name": name}, None if shape is None else tuple(shape))
        self.inputs.append(node)
        return node

    def const(self, value: float) -> Node:
        """A scalar constant (stored as float64)."""
        return self._add("const", (), {"literal": literal(value)}, ())

    def apply(self, op: str, *args: Node | float, **attrs: Any) -> Node:
        """Apply primitive ``op``; numbers among ``args`` become constants."""
        rule = RULES.get(op)
        if rule is None:
            raise missing_rule(op)
        nodes = [arg if isinstance(arg, Node) else self.const(arg) for arg in args]
        if any(node.index >= len(self.nodes) or self.nodes[node.index] is not node for node in nodes):
            raise ValueError(f"{op}: an argument belongs to another tape")
        shape = rule.shape([node.shape for node in nodes], attrs)
        return self._add(op, tuple(node.index for node in nodes), attrs, shape)

    def add(self, *args: Node | float) -> Node:
        """Elementwise sum with numpy broadcasting."""
        return self.apply("add", *args)

    def mul(self, *args: Node | float) -> Node:
        """Elementwise product with numpy broadcasting."""
        return self.apply("mul", *args)

    def pow(self, base: Node | float, exponent: Node | float) -> Node:
        """``base ** exponent``; a number as exponent selects the ``pow_const`` rule (no log(base) term)."""
        if isinstance(exponent, Node):
            return self.apply("pow", base, exponent)
        return self.apply("pow_const", base, exponent=float(exponent))

    def matmul(self, a: Node, b: Node) -> Node:
        """``a @ b`` for 1-D and 2-D operands."""
        return self.apply("matmul", a, b)

    def sum(self, a: Node, axis: int | None = None) -> Node:
        """Sum of all entries, or along one axis."""
        return self.apply("sum", a, axis=axis)

    def mean(self, a: Node, axis: int | None = None) -> Node:
        """Mean of all entries, or along one axis."""
        return self.apply("mean", a, axis=axis)


def _source_names(tape: Tape) -> dict[int, str]:
    names = {node.index: f"v{k}" for k, node in enumerate(tape.inputs)}
    for node in tape.nodes:
        if node.op == "const":
            names[node.index] = node.params["literal"]
        elif node.op != "input":
            names[node.index] = f"t{node.index}"
    return names


def live_nodes(tape: Tape, output: Node) -> list[Node]:
    """The output's ancestors (itself included), in tape (= topological) order."""
    live = {output.index}
    for node in reversed(tape.nodes[: output.index + 1]):
        if node.index in live:
            live.update(node.args)
    return [node for node in tape.nodes if node.index in live]


CHUNK = 256  # operands of an n-ary add or mul per statement: Python's compiler recurses once per operator


def _forward_lines(live: list[Node], names: dict[int, str]) -> list[str]:
    lines = []
    for node in live:
        if node.op not in ("input", "const"):
            name, args = names[node.index], [names[k] for k in node.args]
            if node.op in ("add", "mul") and len(args) > CHUNK:  # same left-to-right order, in statements
                rule = RULES[node.op].forward
                lines.append(f"    {name} = {rule(args[:CHUNK], node.params)}")
                lines += [
                    f"    {name} = {rule([name, *args[k : k + CHUNK]], node.params)}"
                    for k in range(CHUNK, len(args), CHUNK)
                ]
            else:
                lines.append(f"    {name} = {RULES[node.op].forward(args, node.params)}")
    return lines


def _contribution(tape: Tape, node: Node, k: int, args: list[str], y: str, g: str) -> str:
    rule, arg = RULES[node.op], tape.nodes[node.args[k]]
    source = rule.adjoint(args, y, g, k, node.params)
    if source.startswith("1.0 * "):  # the scalar seed: 1.0 * x == x exactly, so skip the multiplication
        source = source[len("1.0 * ") :]
    if rule.broadcasts and None not in (node.shape, arg.shape) and arg.shape != node.shape:
        # a scalar argument (a parameter of an expression model) takes the plain sum: unbroadcast's general
        # path costs ~5 us a call, once per parameter per step
        source = f"reduce_sum({source}, None)" if arg.shape == () else f"unbroadcast({source}, {arg.shape!r})"
    return source


def _depending_on(live: list[Node], wrt: set[int]) -> set[int]:
    needs = set(wrt)
    for node in live:
        if any(k in needs for k in node.args):
            needs.add(node.index)
    return needs


def _reverse_lines(tape: Tape, live: list[Node], wrt: set[int], names: dict[int, str]):
    """Adjoint statements (output seeded with ones) and the adjoint source of each node that got one."""
    needs = _depending_on(live, wrt)
    output = live[-1]
    lines, adjoint = [], {output.index: "1.0"}
    if output.shape not in (None, ()):
        lines, adjoint = [f"    a{output.index} = ones({output.shape!r})"], {output.index: f"a{output.index}"}
    for node in reversed(live):
        if node.index not in needs or node.op == "input":
            continue
        args = [names[j] for j in node.args]
        for k, arg in enumerate(node.args):
            if arg not in needs:
                continue
            source = _contribution(tape, node, k, args, names[node.index], adjoint[node.index])
            if arg in adjoint:
                lines.append(f"    a{arg} = {adjoint[arg]} + ({source})")
                adjoint[arg] = f"a{arg}"
            elif _SIMPLE.fullmatch(source):
                adjoint[arg] = source  # passed on unchanged (add): alias it instead of copying
            else:
                lines.append(f"    a{arg} = {source}")
                adjoint[arg] = f"a{arg}"
    return lines, adjoint


def _gradient_of(node: Node, adjoint: dict[int, str]) -> str:
    if node.index not in adjoint:
        return "0.0" if node.shape in (None, ()) else f"zeros({node.shape!r})"
    if node.shape in (None, ()):
        return adjoint[node.index]
    return f"broadcast_to({adjoint[node.index]}, {node.shape!r})"


def traced_nodes(tape: Tape, output: Node) -> list[Node]:
    """The nodes a traced sweep reports on: every input and the output's ancestors, in tape order."""
    return sorted({*tape.inputs, *live_nodes(tape, output)}, key=lambda node: node.index)


def _trace(tape: Tape, output: Node, names: dict[int, str], adjoint: dict[int, str]) -> str:
    """Source of three lists, one entry per traced node: its value, its adjoint (None where the sweep
    computes none: constants) and its local partial derivatives (each rule's adjoint with a unit seed)."""
    nodes = traced_nodes(tape, output)
    if any(node.op in ARRAY_PRIMITIVES for node in nodes):
        raise ValueError("a traced sweep is for scalar (elementwise) tapes only")
    values = ", ".join(names[node.index] for node in nodes)
    adjoints = ", ".join(
        _gradient_of(node, adjoint) if node.op == "input" else adjoint.get(node.index, "None") for node in nodes
    )
    local = ", ".join("[" + ", ".join(_local_partials(tape, node, names)) + "]" for node in nodes)
    return f"[{values}], [{adjoints}], [{local}]"


def _local_partials(tape: Tape, node: Node, names: dict[int, str]) -> list[str]:
    args = [names[j] for j in node.args]
    return [_contribution(tape, node, k, args, names[node.index], "1.0") for k in range(len(args))]


def generate_source(tape: Tape, output: Node, wrt: Sequence[Node] | None = None, trace: bool = False) -> str:
    """Straight-line source of ``def sweep(v0, ...)`` over all tape inputs, in declaration order.

    It returns the output's value if ``wrt`` is None, else ``(value, [d output / d w for w in wrt])``
    (for an array output, the gradient of the sum of its entries). ``trace`` appends, after the very
    same statements, the values, adjoints and local partials of :func:`traced_nodes` (see ``_trace``).
    """
    names = _source_names(tape)
    live = live_nodes(tape, output)
    lines = [f"def sweep({', '.join(names[node.index] for node in tape.inputs)}):"]
    lines += _forward_lines(live, names)
    if wrt is None:
        return "\n".join([*lines, f"    return {names[output.index]}"])
    if any(node.op != "input" for node in wrt):
        raise ValueError("gradients are taken with respect to input nodes only")
    reverse, adjoint = _reverse_lines(tape, live, {node.index for node in wrt}, names)
    result = f"{names[output.index]}, [{', '.join(_gradient_of(node, adjoint) for node in wrt)}]"
    if trace:
        result += ", " + _trace(tape, output, names, adjoint)
    return "\n".join([*lines, *reverse, f"    return {result}"])


def _is_data(value: object, words: frozenset[str] = frozenset()) -> bool:
    """A constant the compiler may emit for our source: a number, a bool, None, or a tuple of such (nested);
    a string only when it is one of ``words`` (keyword-argument names, such as select's ``default``).

    Shapes are int tuples, and CPython folds a list or tuple display of constants (``[1.0, 1.0, 1.0]``,
    3 or more items) into one tuple constant loaded by ``LIST_EXTEND``. Tuples are data, never code;
    other strings, bytes, frozensets and code objects are still refused.
    """
    if type(value) is tuple:
        return all(_is_data(item, words) for item in value)
    if type(value) is str:
        return value in words
    return value is None or type(value) in (int, float, bool)


@dataclass(frozen=True)
class CodeRules:
    """What generated code may contain: one function named ``function`` whose globals and attributes are
    ``names``, whose locals match ``local`` and whose string constants are among ``words``."""

    names: frozenset[str]
    function: str = "sweep"
    local: re.Pattern = _INTERNAL_NAME
    words: frozenset[str] = frozenset()
    too_large: str = "expression too large for the autodiff engine; use the analytic engine"


TAPE_CODE = CodeRules(frozenset(NAMESPACE))


def check_source(source: str, rules: CodeRules = TAPE_CODE, arity: int | None = None) -> CodeType:
    """Compile generated source; raise ``RuntimeError`` unless the code can reach only the names ``rules``
    allows, internal locals and numeric constants (checked on the compiled code objects: exactly what runs),
    and its function takes ``arity`` positional arguments (when given) and nothing else."""
    try:
        module = compile(source, "<gradtool generated>", "exec")
    except (RecursionError, MemoryError):
        raise ParseError(rules.too_large) from None
    functions = [c for c in module.co_consts if isinstance(c, CodeType)]
    problems = [] if module.co_names == (rules.function,) and len(functions) == 1 else ["a module-level statement"]
    for code in functions:
        problems += [f"the global or attribute {n!r}" for n in code.co_names if n not in rules.names]
        problems += [f"the local {n!r}" for n in code.co_varnames if not rules.local.fullmatch(n)]
        problems += [f"the constant {c!r}" for c in code.co_consts if not _is_data(c, rules.words)]
        problems += [f"the closure variable {n!r}" for n in code.co_freevars + code.co_cellvars]
        if arity is not None and (code.co_argcount, code.co_kwonlyargcount, code.co_flags & 0x0C) != (arity, 0, 0):
            problems.append(f"a signature other than {arity} positional arguments")
    if problems:
        raise RuntimeError(f"generated source uses {problems[0]}")
    return module


def whole_powers(source: str) -> bool:
    """Whether every ``**`` in ``source`` has a whole-number constant exponent (``x ** 2``, ``x ** (-1.0)``).

    Such code computes the same bits on Python floats as on numpy float64 scalars: + - * / are IEEE operations
    either way, ``**`` is libm's pow either way and numpy's functions see the same float64. Except where Python
    raises (1/0, an overflowing power), and a negative base to a fractional power, which Python makes a
    complex number where numpy makes nan: excluded here.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub | ast.UAdd):
                exponent = exponent.operand
            if not (isinstance(exponent, ast.Constant) and type(exponent.value) in (int, float)):
                return False
            if not float(exponent.value).is_integer():
                return False
    return True


def load(code: CodeType, namespace: dict[str, object], function: str = "sweep") -> Callable:
    """The function defined by checked ``code``, executed with ``namespace`` and no builtins as its globals."""
    scope = {**namespace, "__builtins__": {}}
    exec(code, scope)  # noqa: S102 - see the module docstring
    return scope[function]


def _compile(source: str) -> Callable:
    function = load(check_source(source), NAMESPACE)
    function.source = source
    return function


def compile_gradient(tape: Tape, output: Node, wrt: Sequence[Node]) -> Callable:
    """``f(*inputs) -> (value, [gradient per wrt node])``; inputs positional in declaration order.

    Each gradient has its input's declared shape; for an input declared without a shape it is whatever
    the sweep produced (a scalar where the gradient is constant), for the caller to broadcast.
    ``f.source`` holds the generated code.
    """
    return _compile(generate_source(tape, output, list(wrt)))


def compile_trace(tape: Tape, output: Node, wrt: Sequence[Node]) -> Callable:
    """``f(*inputs) -> (value, gradients, values, adjoints, locals)``: ``compile_gradient``'s sweep, statement
    for statement (so the same bits), also returning per node of :func:`traced_nodes` its value, its
    adjoint d output / d node (None for constants) and its local partials d node / d argument."""
    return _compile(generate_source(tape, output, list(wrt), trace=True))


def compile_value(tape: Tape, output: Node) -> Callable:
    """``f(*inputs) -> value``: the forward statements of ``compile_gradient`` alone."""
    return _compile(generate_source(tape, output))
