"""Adam, AdamW and Adamax, in the operation order of torch.optim's single-tensor implementations."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn, UpdateFn, elementwise, lerp


class AdamState(NamedTuple):
    """Moments as torch names them; ``max_exp_avg_sq`` is ``None`` unless ``amsgrad``."""

    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray | None


def _adam_rule(
    beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool, decoupled: bool
) -> tuple[InitFn, UpdateFn]:
    one_minus_beta2 = 1 - beta2

    def init(params: np.ndarray) -> AdamState:
        zeros = np.zeros_like(params, dtype=float)
        return AdamState(0, zeros, zeros, zeros if amsgrad else None)

    def update(grad, state, params, lr, momentum=beta1):  # a schedule may cycle beta1 per step
        beta1 = momentum
        step = state.step + 1
        if weight_decay:
            if decoupled:
                params = params * (1 - lr * weight_decay)
            else:
                grad = grad + weight_decay * params
        exp_avg = lerp(state.exp_avg, grad, 1 - beta1)
        exp_avg_sq = state.exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        max_sq = state.max_exp_avg_sq
        if amsgrad:
            max_sq = np.maximum(max_sq, exp_avg_sq)
            denom = np.sqrt(max_sq)
        else:
            denom = np.sqrt(exp_avg_sq)
        denom /= bias_correction2_sqrt
        denom += eps
        new_params = params + -step_size * exp_avg / denom
        return new_params, AdamState(step, exp_avg, exp_avg_sq, max_sq)

    return init, update


@elementwise
def adam(
    beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool, decoupled_weight_decay: bool
) -> tuple[InitFn, UpdateFn]:
    """Adam (Kingma & Ba 2015) exactly as torch ``Adam(betas=(beta1, beta2))`` orders it::

        g = grad + weight_decay * x              # coupled L2 penalty (decoupled_weight_decay: see adamw)
        m = m + (1 - beta1) * (g - m)            # torch: exp_avg.lerp_(g, 1 - beta1)
        v = beta2 * v + (1 - beta2) * g * g
        step_size = lr / (1 - beta1**t)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps          # eps OUTSIDE the sqrt, after bias correction
        x = x - step_size * m / denom

    ``amsgrad=True`` replaces ``v`` in ``denom`` by its running maximum; ``decoupled_weight_decay=True``
    decays ``x`` as adamw does (torch: ``Adam(decoupled_weight_decay=True)`` is ``AdamW``). Optax ``adam``
    (``eps_root=0``) is the same formula. TensorFlow/Keras computes ``lr_t = lr * sqrt(1 - beta2**t) /
    (1 - beta1**t)`` and ``x -= lr_t * m / (sqrt(v) + eps)``, i.e. its eps is added *before* bias
    correction (an effective ``eps * sqrt(1 - beta2**t)`` here), and defaults to ``eps = 1e-7``.
    """
    return _adam_rule(beta1, beta2, eps, weight_decay, amsgrad, decoupled=decoupled_weight_decay)


@elementwise
def adamw(beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool) -> tuple[InitFn, UpdateFn]:
    """AdamW (Loshchilov & Hutter 2019), torch ``AdamW``: decoupled weight decay, then the Adam step::

        x = x * (1 - lr * weight_decay)          # decay scaled by lr (not by step_size), default 0.01
        m, v, denom as in adam with g = grad (no L2 term)
        x = x - lr / (1 - beta1**t) * m / denom

    Optax ``adamw`` applies ``-lr * weight_decay * x`` to the pre-update x as well (default 1e-4);
    Keras ``AdamW`` decays by ``lr * weight_decay`` (default 0.004).
    """
    return _adam_rule(beta1, beta2, eps, weight_decay, amsgrad, decoupled=True)


class AdamaxState(NamedTuple):
    step: int
    exp_avg: np.ndarray
    exp_inf: np.ndarray


@elementwise
def adamax(beta1: float, beta2: float, eps: float, weight_decay: float) -> tuple[InitFn, UpdateFn]:
    """Adamax (Kingma & Ba 2015, section 7), the infinity-norm Adam, as torch ``Adamax``::

        g = grad + weight_decay * x
        m = m + (1 - beta1) * (g - m)
        u = max(beta2 * u, |g| + eps)            # eps INSIDE the max
        x = x - lr / (1 - beta1**t) * m / u

    Optax ``adamax`` is the same formula (eps inside the max); Keras ``Adamax`` keeps ``u = max(beta2 * u,
    |g|)`` and divides by ``u + eps`` (default ``epsilon=1e-7``).
    """

    def init(params: np.ndarray) -> AdamaxState:
        zeros = np.zeros_like(params, dtype=float)
        return AdamaxState(0, zeros, zeros)

    def update(grad, state, params, lr, momentum=beta1):  # a schedule may cycle beta1 per step
        beta1 = momentum
        step = state.step + 1
        if weight_decay:
            grad = grad + weight_decay * params
        exp_avg = lerp(state.exp_avg, grad, 1 - beta1)
        exp_inf = np.maximum(state.exp_inf * beta2, np.abs(grad) + eps)
        clr = lr / (1 - beta1**step)
        return params + -clr * exp_avg / exp_inf, AdamaxState(step, exp_avg, exp_inf)

    return init, update
