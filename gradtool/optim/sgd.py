"""Gradient descent, heavy-ball momentum and Nesterov momentum, written as torch.optim.SGD computes them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn, UpdateFn


class GDState(NamedTuple):
    """Plain gradient descent keeps only the step count."""

    step: int


class MomentumState(NamedTuple):
    """``buf`` is torch's ``momentum_buffer`` (zeros before the first step, which sets ``buf = g``)."""

    step: int
    buf: np.ndarray


def gd(weight_decay: float) -> tuple[InitFn, UpdateFn]:
    """Plain gradient descent (torch ``SGD(momentum=0)``)::

        g = grad + weight_decay * x        # L2 penalty folded into the gradient
        x = x - lr * g

    Same in TensorFlow (``keras.optimizers.SGD``) and Optax (``optax.sgd``).
    """

    def init(params: np.ndarray) -> GDState:
        return GDState(0)

    def update(grad, state, params, lr):
        if weight_decay:
            grad = grad + weight_decay * params
        return params - lr * grad, GDState(state.step + 1)

    return init, update


def heavy_ball(momentum: float, dampening: float, weight_decay: float, nesterov: bool) -> tuple[InitFn, UpdateFn]:
    """Heavy-ball momentum in torch's form (``SGD(momentum=mu, dampening=d, nesterov=...)``)::

        g = grad + weight_decay * x
        buf = g                                  on the first step (no dampening then)
        buf = mu * buf + (1 - d) * g             afterwards
        x = x - lr * buf                         (nesterov=False)
        x = x - lr * (g + mu * buf)              (nesterov=True, needs d = 0: see ``nesterov``)

    The learning rate multiplies the buffer, not the gradient that enters it, as in Optax's
    ``sgd(momentum=mu)`` (``trace`` then scale by lr). Keras' ``SGD(momentum=mu)`` uses the classical
    velocity form ``v = mu * v - lr * g; x = x + v`` (Polyak); with a constant lr the two are the same
    sequence (``v = -lr * buf``), under a schedule they differ: a lr change rescales the whole torch buffer
    at once but only the newest term of the velocity.
    """
    mu, keep = momentum, 1.0 - dampening

    def init(params: np.ndarray) -> MomentumState:
        return MomentumState(0, np.zeros_like(params, dtype=float))

    def update(grad, state, params, lr):
        if weight_decay:
            grad = grad + weight_decay * params
        # copy: the caller may reuse its gradient buffer
        buf = grad.copy() if state.step == 0 else state.buf * mu + keep * grad
        direction = grad + mu * buf if nesterov else buf
        return params - lr * direction, MomentumState(state.step + 1, buf)

    return init, update


def nesterov(momentum: float, dampening: float, weight_decay: float) -> tuple[InitFn, UpdateFn]:
    """Nesterov accelerated gradient as torch computes it (``SGD(momentum=mu, nesterov=True)``)::

        g = grad(x) + weight_decay * x
        buf = mu * buf + g                       (buf = g on the first step)
        x = x - lr * (g + mu * buf)

    Relation to the look-ahead formulation (Sutskever et al. 2013), where the gradient is taken at the
    look-ahead point ``z - lr * mu * b``::

        b = mu * b + grad(z - lr * mu * b)
        z = z - lr * b

    With a constant lr the torch iterate ``x`` *is* that look-ahead point, ``x = z - lr * mu * b``, with
    the same buffer ``b = buf``: both produce the same sequence of gradient evaluations, and ``z`` can be
    recovered as ``x + lr * mu * buf``. Optax's ``sgd(momentum=mu, nesterov=True)`` is this same rule;
    Keras' ``SGD(nesterov=True)`` is its velocity form (``v = -lr * buf``). ``dampening`` must be 0
    (torch's rule); it is accepted so that configs written for torch get a clear message.
    """
    return heavy_ball(momentum, dampening, weight_decay, nesterov=True)
