"""Per-coordinate adaptive rules: RMSprop, Adagrad and Adadelta, in torch.optim's operation order."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn, UpdateFn, elementwise, lerp


class RMSpropState(NamedTuple):
    """``grad_avg`` only when centered, ``momentum_buffer`` only when momentum > 0 (else ``None``)."""

    step: int
    square_avg: np.ndarray
    grad_avg: np.ndarray | None
    momentum_buffer: np.ndarray | None


class AdagradState(NamedTuple):
    step: int
    sum: np.ndarray


class AdadeltaState(NamedTuple):
    step: int
    square_avg: np.ndarray
    acc_delta: np.ndarray


@elementwise
def rmsprop(
    alpha: float, eps: float, weight_decay: float, momentum: float, centered: bool, eps_in_sqrt: bool
) -> tuple[InitFn, UpdateFn]:
    """RMSprop (Hinton 2012) as torch ``RMSprop`` computes it::

        g = grad + weight_decay * x
        v = alpha * v + (1 - alpha) * g * g
        gbar = gbar + (1 - alpha) * (g - gbar)           (centered only)
        s = v - gbar * gbar                              (centered) else s = v
        denom = sqrt(s) + eps                            torch, the default (eps_in_sqrt=False)
        denom = sqrt(s + eps)                            eps_in_sqrt=True: TensorFlow/Keras and Optax
        buf = momentum * buf + g / denom; x = x - lr * buf       (momentum > 0; buf starts at 0)
        x = x - lr * g / denom                                  (momentum = 0)

    Where eps sits matters only while ``s`` is tiny: outside the sqrt it bounds the step by ``lr * |g| /
    eps``; inside, by ``lr * |g| / sqrt(eps)`` (with eps=1e-8 that is 1e4 times smaller). Keras defaults to
    ``rho=0.9, epsilon=1e-7``, Optax to ``decay=0.9, eps=1e-8``; torch (and this rule) to ``alpha=0.99``.
    """
    one_minus_alpha = 1 - alpha

    def init(params: np.ndarray) -> RMSpropState:
        zeros = np.zeros_like(params, dtype=float)
        return RMSpropState(0, zeros, zeros if centered else None, zeros if momentum > 0 else None)

    def update(grad, state, params, lr, momentum=momentum):  # a schedule may cycle momentum per step
        if weight_decay:
            grad = grad + weight_decay * params
        square_avg = state.square_avg * alpha + one_minus_alpha * grad * grad
        grad_avg = state.grad_avg
        if centered:
            grad_avg = lerp(grad_avg, grad, one_minus_alpha)
            avg = square_avg - grad_avg * grad_avg
        else:
            avg = square_avg
        if eps_in_sqrt:
            avg = np.sqrt(avg + eps)
        else:
            avg = np.sqrt(avg)
            avg += eps
        buf = state.momentum_buffer
        if momentum > 0:
            buf = buf * momentum + grad / avg
            new_params = params - lr * buf
        else:
            new_params = params + -lr * grad / avg
        return new_params, RMSpropState(state.step + 1, square_avg, grad_avg, buf)

    return init, update


@elementwise
def adagrad(
    lr_decay: float, weight_decay: float, initial_accumulator_value: float, eps: float
) -> tuple[InitFn, UpdateFn]:
    """Adagrad (Duchi et al. 2011) as torch ``Adagrad``, step t = 1, 2, ...::

        g = grad + weight_decay * x
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                         (sum starts at initial_accumulator_value)
        x = x - clr * g / (sqrt(sum) + eps)       # eps OUTSIDE the sqrt, default 1e-10

    Keras ``Adagrad`` also adds eps outside the sqrt but defaults to ``initial_accumulator_value=0.1,
    epsilon=1e-7``; Optax ``adagrad`` puts eps inside, ``g / sqrt(sum + eps)``, with the same 0.1 start.
    """

    def init(params: np.ndarray) -> AdagradState:
        return AdagradState(0, np.full_like(params, initial_accumulator_value, dtype=float))

    def update(grad, state, params, lr):
        step = state.step + 1
        if weight_decay:
            grad = grad + weight_decay * params
        clr = lr / (1 + (step - 1) * lr_decay)
        total = state.sum + grad * grad
        std = np.sqrt(total)
        std += eps
        return params + -clr * grad / std, AdagradState(step, total)

    return init, update


@elementwise
def adadelta(rho: float, eps: float, weight_decay: float) -> tuple[InitFn, UpdateFn]:
    """Adadelta (Zeiler 2012) as torch ``Adadelta`` (whose default lr is 1.0)::

        g = grad + weight_decay * x
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g          # eps INSIDE both square roots
        u = rho * u + (1 - rho) * delta * delta
        x = x - lr * delta

    Keras ``Adadelta`` is the same formula with ``rho=0.95, epsilon=1e-7, learning_rate=0.001``; Optax
    ``adadelta`` also puts eps inside both roots (``rho=0.9, eps=1e-6``).
    """
    one_minus_rho = 1 - rho

    def init(params: np.ndarray) -> AdadeltaState:
        zeros = np.zeros_like(params, dtype=float)
        return AdadeltaState(0, zeros, zeros)

    def update(grad, state, params, lr):
        if weight_decay:
            grad = grad + weight_decay * params
        square_avg = state.square_avg * rho + one_minus_rho * grad * grad
        std = np.sqrt(square_avg + eps)
        delta = np.sqrt(state.acc_delta + eps)
        delta /= std
        delta *= grad
        acc_delta = state.acc_delta * rho + one_minus_rho * delta * delta
        return params - lr * delta, AdadeltaState(state.step + 1, square_avg, acc_delta)

    return init, update
