"""Models to fit: an expression in data columns and parameters, or an ``mlp:IN-H1-...-OUT`` network.

Either model lays its parameters out in ONE flat float64 vector (what the optimizer sees) and builds, for
a batch of ``rows`` rows, a tape whose inputs are the parameters (views into that vector) and the data.
A network is a handful of matrix nodes: per layer ``h @ W + b`` and one elementwise activation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from gradtool.errors import ConfigError, DataError, PointError
from gradtool.expr.point import natural_key, parse_point
from gradtool.grad.tape import Node, Tape

#: hidden-layer activation -> the weight initialisation scheme that keeps activations' variance steady
ACTIVATIONS: dict[str, str] = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he", "softplus": "he"}
MAX_PARAMETERS = 10_000_000
_MLP = re.compile(r"\s*mlp\s*:\s*(\d+(?:\s*-\s*\d+)+)\s*")


def xavier_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot & Bengio (2010): ``W ~ U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))`` (torch's xavier_uniform_)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """He et al. (2015): ``W ~ N(0, 2 / fan_in)`` (torch's kaiming_normal_ with fan_in, relu gain)."""
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


INITS = {"xavier": xavier_uniform, "he": he_normal}


@dataclass(frozen=True)
class Layout:
    """Named parameter arrays packed into one flat vector, in order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @cached_property
    def bounds(self) -> list[tuple[int, int]]:
        ends = np.cumsum([math.prod(shape) for shape in self.shapes]).tolist()
        return list(zip([0, *ends[:-1]], ends, strict=True))

    @property
    def size(self) -> int:
        return self.bounds[-1][1] if self.names else 0

    def views(self, theta: np.ndarray) -> list:
        """Each parameter as a view into ``theta`` (a numpy scalar for a shape-``()`` parameter)."""
        return [
            theta[a] if not shape else theta[a:b].reshape(shape)
            for (a, b), shape in zip(self.bounds, self.shapes, strict=True)
        ]

    def flat_names(self) -> list[str]:
        """One name per entry of the flat vector: ``W1[0,1]``, ``b1[2]``, or a scalar's own name."""
        out = []
        for name, shape in zip(self.names, self.shapes, strict=True):
            out += [name] if not shape else [f"{name}[{','.join(map(str, i))}]" for i in np.ndindex(shape)]
        return out


class Network:
    """``mlp:IN-H1-...-OUT``: ``h_k = act(h_(k-1) @ W_k + b_k)`` on hidden layers, the last layer linear
    (identity for mse; its output is the logit for bce). Weights ``W_k`` have shape ``(fan_in, fan_out)``."""

    kind = "mlp"

    def __init__(self, sizes: Sequence[int], activation: str, inputs: list[str], targets: list[str]):
        self.sizes, self.activation = tuple(sizes), activation
        self.inputs, self.targets = inputs, targets
        layers = range(1, len(self.sizes))
        self.layout = Layout(
            tuple(n for k in layers for n in (f"W{k}", f"b{k}")),
            tuple(s for k in layers for s in ((self.sizes[k - 1], self.sizes[k]), (self.sizes[k],))),
        )
        self.penalized = [name for name in self.layout.names if name.startswith("W")]

    @property
    def text(self) -> str:
        return "mlp:" + "-".join(map(str, self.sizes))

    def init(self, rng: np.random.Generator, init: Any = None) -> np.ndarray:
        """The seeded scheme of the activation (Xavier/Glorot or He) for weights, zeros for biases."""
        if init not in (None, "random"):
            raise ConfigError(
                "a network starts from its seeded random initialisation (--init random) or from saved weights (--load)"
            )
        scheme = INITS[ACTIVATIONS[self.activation]]
        parts = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            parts += [scheme(rng, fan_in, fan_out).ravel(), np.zeros(fan_out)]
        return np.concatenate(parts)

    def build(self, rows: int) -> tuple[Tape, Node, list[Node], list[Node]]:
        """``(tape, output (rows, OUT), parameter nodes, [X (rows, IN)])``."""
        tape = Tape()
        params = [tape.input(name, shape) for name, shape in zip(self.layout.names, self.layout.shapes, strict=True)]
        h = x = tape.input("X", (rows, self.sizes[0]))
        for k in range(0, len(params), 2):
            h = tape.add(tape.matmul(h, params[k]), params[k + 1])
            if k + 2 < len(params):
                h = tape.apply(self.activation, h)
        return tape, h, params, [x]

    def data_args(self, x: np.ndarray) -> list[np.ndarray]:
        return [x]

    def target_arg(self, y: np.ndarray) -> np.ndarray:
        return y

    def target_shape(self, rows: int) -> tuple[int, ...]:
        return (rows, self.sizes[-1])

    def row_floats(self) -> int:
        """Floats a sweep keeps per row of its batch: about 10 per unit (values, adjoints, temporaries)."""
        return 10 * sum(self.sizes)

    def describe(self) -> dict[str, Any]:
        layers = [{"name": n, "shape": list(s)} for n, s in zip(self.layout.names, self.layout.shapes, strict=True)]
        return {"activation": self.activation, "init": ACTIVATIONS[self.activation], "layers": layers}


class ExpressionModel:
    """An expression ``f(inputs; params)``; inputs are data columns, one row per evaluation."""

    kind = "expression"

    def __init__(self, text: str, expr: sp.Expr, params: list[sp.Symbol], inputs: list[sp.Symbol], target: str):
        self.text, self.expr = text, expr
        self.param_symbols, self.input_symbols = params, inputs
        self.inputs, self.targets = [s.name for s in inputs], [target]
        self.layout = Layout(tuple(s.name for s in params), tuple(() for _ in params))
        self.penalized = list(self.layout.names)

    def init(self, rng: np.random.Generator, init: Any = None) -> np.ndarray:
        """Zeros by default; ``"random"``: standard normal draws; else ``w=1,b=0`` (unnamed ones stay 0),
        ``1,0`` in parameter order, a list, or a mapping."""
        names = list(self.layout.names)
        if init is None or init == "":
            return np.zeros(len(names))
        if isinstance(init, str) and init.strip() == "random":
            return rng.normal(size=len(names))
        if isinstance(init, str) and "=" in init:
            given = {p.split("=", 1)[0].strip() for p in init.split(",")}
            init = ",".join([init, *(f"{n}=0" for n in names if n not in given)])
        elif isinstance(init, dict):
            init = {**dict.fromkeys(names, 0.0), **init}
        try:
            return np.array(parse_point(init, names), dtype=float)
        except PointError as exc:
            raise PointError(f"--init: {exc}") from None

    def build(self, rows: int) -> tuple[Tape, Node, list[Node], list[Node]]:
        """``(tape, output (rows,) or (), parameter nodes, one node per input column)``."""
        from gradtool.grad.autodiff import expression_to_tape

        symbols = [*self.param_symbols, *self.input_symbols]
        shapes = [()] * len(self.param_symbols) + [(rows,)] * len(self.input_symbols)
        tape, out, nodes = expression_to_tape(self.expr, symbols, shapes)
        return tape, out, nodes[: len(self.param_symbols)], nodes[len(self.param_symbols) :]

    def data_args(self, x: np.ndarray) -> list[np.ndarray]:
        return list(np.ascontiguousarray(x.T))  # contiguous columns: faster ufuncs than strided views

    def target_arg(self, y: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(y[:, 0])

    def target_shape(self, rows: int) -> tuple[int, ...]:
        return (rows,)

    def row_floats(self) -> int:
        """Floats a sweep keeps per row of its batch: a few per operation of the expression."""
        return 4 * (sum(1 for _ in sp.preorder_traversal(self.expr)) + len(self.inputs) + 2)

    def describe(self) -> dict[str, Any]:
        return {"expression": str(self.expr), "inputs": self.inputs}


def _network(spec: re.Match, columns: list[str], targets: list[str], inputs, activation) -> Network:
    sizes = [int(k) for k in re.split(r"\s*-\s*", spec.group(1))]
    if min(sizes) < 1:
        raise ConfigError(f"mlp:{spec.group(1)}: every layer needs at least one unit")
    if sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True)) > MAX_PARAMETERS:
        raise ConfigError(f"mlp:{spec.group(1)} has more than {MAX_PARAMETERS:,} parameters")
    activation = activation or "sigmoid"
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
    if inputs is None:
        inputs = [c for c in columns if c not in targets]
    used = [t for t in targets if t in inputs]
    if used:
        raise ConfigError(f"the network uses the target column {used[0]!r} as an input")
    if sizes[0] != len(inputs):
        raise DataError(
            f"the network takes {sizes[0]} input{'s' if sizes[0] != 1 else ''} but the data has "
            f"{len(inputs)} ({', '.join(inputs) or 'none'}); pick columns with --inputs"
        )
    if sizes[-1] != len(targets):
        raise ConfigError(
            f"the network has {sizes[-1]} output{'s' if sizes[-1] != 1 else ''} but "
            f"{len(targets)} target column{'s' if len(targets) != 1 else ''} given"
        )
    return Network(sizes, activation, list(inputs), list(targets))


def _expression(text: str, columns: list[str], targets: list[str], params, inputs) -> ExpressionModel:
    from gradtool.expr.parser import parse_expression

    expr, found = parse_expression(text)
    if len(targets) != 1:
        raise ConfigError(f"an expression model fits one target column, got {len(targets)}")
    if params is not None:
        unknown = [p for p in params if p not in found]
        if unknown:
            raise ConfigError(f"parameter {unknown[0]!r} does not appear in {text.strip()!r}")
    chosen = set(params) if params is not None else {n for n in found if n not in columns}
    names = sorted(found, key=natural_key)
    if targets[0] in found and targets[0] not in chosen:
        raise ConfigError(f"the expression uses the target column {targets[0]!r} as an input")
    missing = [n for n in names if n not in chosen and n not in columns]
    if missing:
        raise DataError(f"no input column {missing[0]!r} in the data (columns: {', '.join(columns)})")
    if not chosen:
        raise ConfigError(f"{text.strip()!r} has no parameters to fit (every symbol names a data column)")
    if params is None and chosen == set(names):  # a misspelled column would silently become a parameter
        raise DataError(
            f"{text.strip()!r} uses no data column, so it would fit a constant "
            f"(columns: {', '.join(columns)}); name an input column or give --params"
        )
    ordered = params if params is not None else [n for n in names if n in chosen]
    if inputs is not None:
        raise ConfigError("--inputs applies to mlp models; an expression's inputs are its column symbols")
    return ExpressionModel(
        text.strip(), expr, [found[n] for n in ordered], [found[n] for n in names if n not in chosen], targets[0]
    )


def names_list(value: str | Sequence[str] | None, what: str) -> list[str] | None:
    """``"w,b"`` or a list -> a list of distinct non-empty names (None stays None)."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else [str(n) for n in value]
    if not names or any(not n for n in names):
        raise ConfigError(f"{what}: empty name in {value!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{what}: a name is listed twice in {value!r}")
    return names


def make_model(
    spec: str, columns: list[str], targets: list[str], *, params=None, inputs=None, activation: str | None = None
) -> Network | ExpressionModel:
    """Build the model ``spec`` (``mlp:2-4-1`` or an expression) against the data's column names.

    Raises:
        ConfigError: a bad spec or option combination; ParseError: a bad expression; DataError: an input
            column the data lacks (or a network whose input count differs from the data's).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError('the model is empty: give mlp:IN-H-...-OUT or an expression such as "w*x + b"')
    params, inputs = names_list(params, "--params"), names_list(inputs, "--inputs")
    match = _MLP.fullmatch(spec)
    if match:
        if params is not None:
            raise ConfigError("--params applies to expression models; a network's parameters are its layers")
        for name in inputs or []:
            if name not in columns:
                raise DataError(f"no input column {name!r} in the data (columns: {', '.join(columns)})")
        return _network(match, columns, targets, inputs, activation)
    if re.match(r"\s*mlp\s*(:|\d)", spec):  # a malformed network, not an expression in a symbol "mlp"
        raise ConfigError(f"model {spec.strip()!r}: write a network as mlp:IN-H1-...-OUT, e.g. mlp:2-4-1")
    if activation is not None:
        raise ConfigError("--activation applies to mlp models; write activations into the expression")
    return _expression(spec, columns, targets, params, inputs)
