"""The losses of a fit, as tape nodes over a batch: mse, mae, huber; bce from logits; softmax cross-entropy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradtool.errors import ConfigError
from gradtool.expr.vocabulary import NUMPY_NAMESPACE, softplus
from gradtool.grad.rules import logsumexp
from gradtool.grad.tape import Node, Tape

HUBER_DELTA = 1.0  # torch.nn.HuberLoss's default


@dataclass(frozen=True)
class Loss:
    """One loss: its tape nodes (the batch mean), its per-row SymPy form, and the output's link function.

    ``nodes(tape, output, target)`` returns the scalar node of the mean loss; ``row(f, y)`` is one row's
    loss as SymPy (the analytic engine differentiates it; None: networks only); ``link`` maps the model's
    raw outputs ``(rows, outputs)`` to predictions (probabilities for the classifiers); ``task`` is
    ``regression``, ``binary`` (one sigmoid per output) or ``multiclass`` (a softmax over the outputs).
    """

    name: str
    formula: str
    nodes: Callable[[Tape, Node, Node], Node]
    row: Callable[[sp.Expr, sp.Expr], sp.Expr] | None
    link: Callable[[np.ndarray], np.ndarray]
    task: str = "regression"

    @property
    def classifier(self) -> bool:
        return self.task != "regression"


def _residual(tape: Tape, out: Node, target: Node) -> Node:
    return tape.add(out, tape.mul(-1.0, target))


def _mse_nodes(tape: Tape, out: Node, target: Node) -> Node:
    return tape.mean(tape.pow(_residual(tape, out, target), 2))


def _mae_nodes(tape: Tape, out: Node, target: Node) -> Node:
    return tape.mean(tape.apply("abs", _residual(tape, out, target)))


def _huber_nodes(tape: Tape, out: Node, target: Node) -> Node:
    # with m = min(|r|, delta): 0.5 m^2 + delta (|r| - m) is 0.5 r^2 inside the band and delta (|r| - delta/2) out
    r = tape.apply("abs", _residual(tape, out, target))
    m = tape.apply("min", r, HUBER_DELTA)
    return tape.mean(tape.add(tape.mul(0.5, tape.pow(m, 2)), tape.mul(HUBER_DELTA, tape.add(r, tape.mul(-1.0, m)))))


def _bce_nodes(tape: Tape, logits: Node, target: Node) -> Node:
    # -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, s = sigmoid: no log(0), no overflow, and
    # the adjoint is the familiar (sigmoid(z) - y) / n
    return tape.mean(tape.add(tape.apply("softplus", logits), tape.mul(-1.0, target, logits)))


def _cross_entropy_nodes(tape: Tape, logits: Node, target: Node) -> Node:
    # -sum_k t_k log softmax(z)_k = logsumexp(z) - sum_k t_k z_k for targets t summing to 1 (one-hot or
    # probabilities); logsumexp is shifted by the row's maximum, and the adjoint is (softmax(z) - t) / n
    log_total = tape.apply("logsumexp", logits, axis=1)
    picked = tape.sum(tape.mul(target, logits), axis=1)
    return tape.mean(tape.add(log_total, tape.mul(-1.0, picked)))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``exp(z - logsumexp(z))``: probabilities that never overflow."""
    z = np.asarray(z, dtype=float)
    return np.exp(z - logsumexp(z, 1)[:, None])


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", "mean((f - y)^2)", _mse_nodes, lambda f, y: (f - y) ** 2, lambda out: out),
    "mae": Loss("mae", "mean(|f - y|)", _mae_nodes, lambda f, y: sp.Abs(f - y), lambda out: out),
    "huber": Loss(
        "huber",
        "mean(0.5 r^2 if |r| <= 1 else |r| - 0.5), r = f - y",
        _huber_nodes,
        lambda f, y: (
            sp.Min(sp.Abs(f - y), HUBER_DELTA) ** 2 / 2
            + HUBER_DELTA * (sp.Abs(f - y) - sp.Min(sp.Abs(f - y), HUBER_DELTA))
        ),
        lambda out: out,
    ),
    "bce": Loss(
        "bce",
        "mean(softplus(z) - y*z), z the logit; prediction sigmoid(z)",
        _bce_nodes,
        lambda z, y: softplus(z) - y * z,
        NUMPY_NAMESPACE["sigmoid"],
        task="binary",
    ),
    "cross-entropy": Loss(
        "cross-entropy",
        "mean(logsumexp(z) - sum_k t_k z_k), z the logits of the classes; prediction softmax(z)",
        _cross_entropy_nodes,
        None,
        softmax,
        task="multiclass",
    ),
}
ALIASES = {"ce": "cross-entropy"}


def loss_names() -> list[str]:
    """Every accepted loss name: the registered ones and their aliases."""
    return [*LOSSES, *ALIASES]


def make_loss(name: str) -> Loss:
    """The registered loss ``name`` (or an alias of one); ConfigError listing the known ones otherwise."""
    if not isinstance(name, str) or ALIASES.get(name, name) not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose one of: {', '.join(loss_names())}")
    return LOSSES[ALIASES.get(name, name)]


def penalty_nodes(tape: Tape, weights: list[Node], l2: float) -> Node | None:
    """``l2 * sum(w^2)`` over ``weights`` (Keras's ``l2`` regularizer), or None when ``l2 == 0``."""
    if not l2 or not weights:
        return None
    squares = [tape.sum(tape.pow(w, 2)) for w in weights]
    return tape.mul(float(l2), squares[0] if len(squares) == 1 else tape.add(*squares))
