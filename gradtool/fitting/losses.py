"""The losses of a fit, as tape nodes over a batch: mean squared error, and binary cross-entropy from logits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradtool.errors import ConfigError
from gradtool.expr.vocabulary import NUMPY_NAMESPACE, softplus
from gradtool.grad.tape import Node, Tape


@dataclass(frozen=True)
class Loss:
    """One loss: its tape nodes (the batch mean), its per-row SymPy form, and the output's link function.

    ``nodes(tape, output, target)`` returns the scalar node of the mean loss; ``row(f, y)`` is one row's
    loss as SymPy (the analytic engine differentiates it); ``link`` maps the model's raw output to a
    prediction; ``classifier``: accuracy is reported.
    """

    name: str
    formula: str
    nodes: Callable[[Tape, Node, Node], Node]
    row: Callable[[sp.Expr, sp.Expr], sp.Expr]
    link: Callable[[np.ndarray], np.ndarray]
    classifier: bool = False


def _mse_nodes(tape: Tape, out: Node, target: Node) -> Node:
    return tape.mean(tape.pow(tape.add(out, tape.mul(-1.0, target)), 2))


def _bce_nodes(tape: Tape, logits: Node, target: Node) -> Node:
    # -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, s = sigmoid: no log(0), no overflow, and
    # the adjoint is the familiar (sigmoid(z) - y) / n
    return tape.mean(tape.add(tape.apply("softplus", logits), tape.mul(-1.0, target, logits)))


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", "mean((f - y)^2)", _mse_nodes, lambda f, y: (f - y) ** 2, lambda out: out),
    "bce": Loss(
        "bce",
        "mean(softplus(z) - y*z), z the logit; prediction sigmoid(z)",
        _bce_nodes,
        lambda z, y: softplus(z) - y * z,
        NUMPY_NAMESPACE["sigmoid"],
        classifier=True,
    ),
}


def make_loss(name: str) -> Loss:
    """The registered loss ``name``; ConfigError listing the known ones otherwise."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return LOSSES[name]


def accuracy(logits: np.ndarray, target: np.ndarray) -> float:
    """Share of entries where the logit's sign matches the label (label >= 0.5 counts as 1)."""
    return float(np.mean((np.asarray(logits) > 0) == (np.asarray(target) >= 0.5)))


def penalty_nodes(tape: Tape, weights: list[Node], l2: float) -> Node | None:
    """``l2 * sum(w^2)`` over ``weights`` (Keras's ``l2`` regularizer), or None when ``l2 == 0``."""
    if not l2 or not weights:
        return None
    squares = [tape.sum(tape.pow(w, 2)) for w in weights]
    return tape.mul(float(l2), squares[0] if len(squares) == 1 else tape.add(*squares))
