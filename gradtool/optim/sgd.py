"""Gradient descent, heavy-ball momentum and Nesterov momentum, written as torch.optim.SGD computes them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn, UpdateFn, elementwise


class GDState(NamedTuple):
    """Plain gradient descent keeps only the step count."""

    step: int


class MomentumState(NamedTuple):
    """``buf`` is torch's ``momentum_buffer`` (zeros before the first step, which sets ``buf = g``)."""

    step: int
    buf: np.ndarray


@elementwise
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


@elementwise
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
    keep = 1.0 - dampening

    def init(params: np.ndarray) -> MomentumState:
        return MomentumState(0, np.zeros_like(params, dtype=float))

    def update(grad, state, params, lr, momentum=momentum):  # a schedule may cycle momentum per step
        mu = momentum
        if weight_decay:
            grad = grad + weight_decay * params
        # a copy (+grad: a new array, or the float itself): the caller may reuse its gradient buffer
        buf = +grad if state.step == 0 else state.buf * mu + keep * grad
        direction = grad + mu * buf if nesterov else buf
        return params - lr * direction, MomentumState(state.step + 1, buf)

    return init, update


@elementwise
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


class ASGDState(NamedTuple):
    """torch's ``eta`` (None before the first step, which starts it at that step's lr), ``mu`` and the
    averaged iterate ``ax``."""

    step: int
    eta: np.ndarray | float | None
    mu: float
    ax: np.ndarray


@elementwise
def asgd(lambd: float, alpha: float, t0: float, weight_decay: float) -> tuple[InitFn, UpdateFn]:
    """Averaged SGD (Polyak & Juditsky 1992) as torch ``ASGD``, step t = 1, 2, ...::

        g = grad + weight_decay * x
        x = x * (1 - lambd * eta)                # eta = lr on the first step
        x = x - eta * g
        ax = ax + mu * (x - ax)                  (ax = x while mu = 1)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)

    The iterate is ``x``, as in torch; the average ``ax`` (what ASGD's theory is about) starts when ``t``
    passes ``t0`` (default 1e6, i.e. not within a usual run) and lives in the state. Optax and Keras have
    no ASGD.
    """

    def init(params: np.ndarray) -> ASGDState:
        return ASGDState(0, None, 1.0, np.zeros_like(params, dtype=float))

    def update(grad, state, params, lr):
        step = state.step + 1
        eta = lr if state.eta is None else state.eta
        if weight_decay:
            grad = grad + weight_decay * params
        params = params * (1 - lambd * eta)
        params = params + -eta * grad
        ax = state.ax + (params - state.ax) * state.mu if state.mu != 1 else +params  # +params: a copy
        eta = lr / ((1 + lambd * lr * step) ** alpha)
        return params, ASGDState(step, eta, 1 / max(1, step - t0), ax)

    return init, update
