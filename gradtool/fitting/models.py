"""Models to fit, by name: an expression in data columns and parameters, an ``mlp:IN-H1-...-OUT`` network,
or the affine ``linear`` / ``logistic``.

Every model lays its parameters out in ONE flat float64 vector (what the optimizer sees) and builds, for a
batch of ``rows`` rows, a tape whose inputs are the parameters and the data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradtool.errors import ConfigError
from gradtool.params import ParamError

if TYPE_CHECKING:
    from gradtool.fitting.expression import ExpressionModel
from gradtool.fitting.layout import Layout
from gradtool.fitting.networks import (
    ACTIVATIONS,
    INITS,
    MAX_PARAMETERS,
    NAMED,
    LinearModel,
    Network,
    he_normal,
    inputs_of,
    network,
    xavier_uniform,
)

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MAX_PARAMETERS",
    "NAMED",
    "Layout",
    "LinearModel",
    "Network",
    "he_normal",
    "make_model",
    "names_list",
    "xavier_uniform",
]
_MLP = re.compile(r"\s*mlp\s*:\s*(\d+(?:\s*-\s*\d+)+)\s*")


def names_list(value: str | Sequence[str] | None, what: str) -> list[str] | None:
    """``"w,b"`` or a list -> a list of distinct non-empty names (None stays None)."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else [str(n) for n in value]
    if not names or any(not n for n in names):
        raise ParamError(what, f"empty name in {value!r}")
    if len(set(names)) != len(names):
        raise ParamError(what, f"a name is listed twice in {value!r}")
    return names


def _named(name: str, inputs: list[str], targets: list[str], outputs: tuple[int, str], task: str) -> LinearModel:
    if name == "logistic" and task == "regression":
        raise ConfigError("logistic is a classifier: its loss is bce or cross-entropy (the default picks one)")
    return LinearModel(name, inputs, targets, outputs[0], task)


def make_model(
    spec: str,
    columns: list[str],
    targets: list[str],
    *,
    params=None,
    inputs=None,
    activation: str | None = None,
    outputs: tuple[int, str] | None = None,
    task: str = "regression",
    fuse: bool = False,
) -> Network | ExpressionModel:
    """Build the model ``spec`` (``mlp:2-4-1``, ``linear``, ``logistic`` or an expression) against the
    data's column names. ``outputs``: the number of model outputs the targets need and a phrase saying why
    (default: one per target column); ``task``: the loss's (regression, binary, multiclass); ``fuse``: an
    expression's linear terms become matrix products (gradtool.fitting.fusion; not for the analytic engine).

    Raises:
        ConfigError: a bad spec or option combination; ParseError: a bad expression; DataError: an input
            column the data lacks (or a network whose input count differs from the data's).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError('the model is empty: give mlp:IN-H-...-OUT, linear, logistic or an expression ("w*x + b")')
    params, inputs = names_list(params, "params"), names_list(inputs, "inputs")
    count = len(targets)
    outputs = outputs or (count, f"{count} target column{'s' if count != 1 else ''} given")
    match = _MLP.fullmatch(spec)
    if match or spec.strip() in NAMED:
        if params is not None:
            raise ParamError("params", "applies to expression models; a network's parameters are its layers")
        if not match and activation is not None:
            raise ParamError("activation", f"applies to mlp models; {spec.strip()} has no hidden layer")
        inputs = inputs_of(columns, targets, inputs)
        if not match:
            return _named(spec.strip(), inputs, targets, outputs, task)
        return network(match, inputs, targets, outputs, activation)
    if re.match(r"\s*mlp\s*(:|\d)", spec):  # a malformed network, not an expression in a symbol "mlp"
        raise ConfigError(f"model {spec.strip()!r}: write a network as mlp:IN-H1-...-OUT, e.g. mlp:2-4-1")
    if activation is not None:
        raise ParamError("activation", "applies to mlp models; write activations into the expression")
    if task == "multiclass":
        raise ConfigError(
            "cross-entropy needs one output per class and an expression has one: use bce for two classes, "
            "or logistic or mlp:IN-...-K"
        )
    from gradtool.fitting.expression import expression_model

    return expression_model(spec, columns, targets, params, inputs, fuse)
