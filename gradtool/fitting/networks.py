"""Networks: ``mlp:IN-H1-...-OUT`` and the named affine models ``linear`` and ``logistic``, with their
seeded initialisations. A network is a handful of matrix nodes: per layer ``h @ W + b`` and one elementwise
activation; its parameters are views into the one flat vector the optimizer sees.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradtool.errors import ConfigError, DataError
from gradtool.fitting.layout import Layout
from gradtool.grad.tape import Node, Tape
from gradtool.params import ParamError

#: hidden-layer activation -> the weight initialisation scheme that keeps activations' variance steady
ACTIVATIONS: dict[str, str] = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he", "softplus": "he"}
MAX_PARAMETERS = 10_000_000


def xavier_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot & Bengio (2010): ``W ~ U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))`` (torch's xavier_uniform_)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """He et al. (2015): ``W ~ N(0, 2 / fan_in)`` (torch's kaiming_normal_ with fan_in, relu gain)."""
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


INITS = {"xavier": xavier_uniform, "he": he_normal}


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
        """The seeded scheme of the activation (Xavier/Glorot or He) for weights, zeros for biases;
        ``"scale=K"`` multiplies the weights by K (K > 1 makes deep networks' gradients explode)."""
        self.scale = init_scale(init)
        scheme = INITS[ACTIVATIONS[self.activation]]
        parts = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            parts += [self.scale * scheme(rng, fan_in, fan_out).ravel(), np.zeros(fan_out)]
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

    def param_args(self, theta: np.ndarray) -> list:
        """The sweep's parameter inputs: each layer's view into ``theta``."""
        return self.layout.views(theta)

    def flat_gradient(self, grads: list) -> np.ndarray:
        return np.concatenate([np.ravel(g) for g in grads])

    def penalized_nodes(self, params: list[Node]) -> list[Node]:
        """The weight matrices (not the biases)."""
        return [p for p in params if p.params["name"] in self.penalized]

    def data_args(self, x: np.ndarray) -> list[np.ndarray]:
        return [x]

    def target_arg(self, y: np.ndarray) -> np.ndarray:
        return y

    def target_shape(self, rows: int) -> tuple[int, ...]:
        return (rows, self.sizes[-1])

    def row_floats(self) -> int:
        """Floats a sweep keeps per row of its batch: about 10 per unit (values, adjoints, temporaries)."""
        return 10 * sum(self.sizes)

    def layers(self) -> list[dict[str, Any]]:
        return [{"name": n, "shape": list(s)} for n, s in zip(self.layout.names, self.layout.shapes, strict=True)]

    def describe(self) -> dict[str, Any]:
        scheme = ACTIVATIONS[self.activation]
        scale = getattr(self, "scale", 1.0)
        return {
            "activation": self.activation,
            "init": scheme if scale == 1 else f"{scheme} x {scale:g}",
            "layers": self.layers(),
        }


def init_scale(init: Any) -> float:
    """A network's ``init``: None or ``random`` (scale 1), or ``scale=K`` with K a number > 0."""
    if init in (None, "random"):
        return 1.0
    text = init.strip() if isinstance(init, str) else ""
    name, _, value = text.partition("=")
    try:
        scale = float(value) if name.strip() == "scale" else math.nan
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise ParamError(
            "init",
            "a network starts from its seeded random initialisation (`init` random, or `init` scale=K to multiply "
            f"its weights by K > 0) or from saved weights (`load`); got {init!r}",
            mentions=("init", "load"),
        )
    return scale


NAMED = ("linear", "logistic")
LINKS = {"regression": "{z}", "binary": "sigmoid({z})", "multiclass": "softmax({z})"}


class LinearModel(Network):
    """``linear`` and ``logistic``: ``z = x @ W + b`` over the input columns, one output per target or class
    (an mlp with no hidden layer); the loss's link turns ``z`` into a prediction (sigmoid, softmax)."""

    def __init__(self, name: str, inputs: list[str], targets: list[str], outputs: int, task: str):
        super().__init__((len(inputs), outputs), None, inputs, targets)
        self.kind, self.task = name, task

    @property
    def text(self) -> str:
        return self.kind

    @property
    def formula(self) -> str:
        return "prediction = " + LINKS[self.task].format(z="x @ W + b")

    def init(self, rng: np.random.Generator, init: Any = None) -> np.ndarray:
        """Zeros (the convex problem's usual start), or seeded Xavier/Glorot weights with ``random``."""
        if init not in (None, "random"):
            detail = f"{self.kind} starts from zeros, or from seeded random weights with `init` random"
            raise ParamError("init", detail, mentions=("init",))
        self.scheme = "zeros" if init is None else "xavier"
        if init is None:
            return np.zeros(self.layout.size)
        return np.concatenate([xavier_uniform(rng, *self.sizes).ravel(), np.zeros(self.sizes[1])])

    def describe(self) -> dict[str, Any]:
        init = getattr(self, "scheme", "zeros")
        return {"activation": None, "init": init, "layers": self.layers(), "formula": self.formula}

    def coefficients(self, theta: np.ndarray, outputs: list, scaler=None) -> dict[str, Any]:
        """scikit-learn's ``coef_`` (outputs x inputs) and ``intercept_`` in the inputs' original units; with
        ``scaler``, ``W / std`` and ``b - W . (mean / std)``, and the standardized ones under "standardized"."""
        weights, bias = self.layout.views(theta)
        coef, intercept = np.transpose(weights), np.asarray(bias)
        out = {"inputs": self.inputs, "outputs": outputs, "coef": coef.tolist(), "intercept": intercept.tolist()}
        if scaler is None:
            return {**out, "standardized": None}
        original = coef / scaler.std
        shift = original @ scaler.mean
        out |= {"coef": original.tolist(), "intercept": (intercept - shift).tolist()}
        return {**out, "standardized": {"coef": coef.tolist(), "intercept": intercept.tolist()}}


def inputs_of(columns: list[str], targets: list[str], inputs: list[str] | None) -> list[str]:
    for name in inputs or []:
        if name not in columns:
            raise DataError(f"no input column {name!r} in the data (columns: {', '.join(columns)})")
    if inputs is None:
        inputs = [c for c in columns if c not in targets]
    used = [t for t in targets if t in inputs]
    if used:
        raise ConfigError(f"the network uses the target column {used[0]!r} as an input")
    return list(inputs)


def network(spec: re.Match, inputs: list[str], targets: list[str], outputs: tuple[int, str], activation) -> Network:
    sizes = [int(k) for k in re.split(r"\s*-\s*", spec.group(1))]
    if min(sizes) < 1:
        raise ConfigError(f"mlp:{spec.group(1)}: every layer needs at least one unit")
    if sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True)) > MAX_PARAMETERS:
        raise ConfigError(f"mlp:{spec.group(1)} has more than {MAX_PARAMETERS:,} parameters")
    activation = activation or "sigmoid"
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
    if sizes[0] != len(inputs):
        raise ParamError(
            "inputs",
            f"the network takes {sizes[0]} input{'s' if sizes[0] != 1 else ''} but the data has "
            f"{len(inputs)} ({', '.join(inputs) or 'none'}); pick columns with `inputs`",
            mentions=("inputs",),
        )
    if sizes[-1] != outputs[0]:
        raise ConfigError(f"the network has {sizes[-1]} output{'s' if sizes[-1] != 1 else ''} but {outputs[1]}")
    return Network(sizes, activation, inputs, list(targets))
