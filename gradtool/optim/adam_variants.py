"""NAdam and RAdam, in the operation order of torch.optim's single-tensor implementations."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn, UpdateFn, elementwise, lerp


class NAdamState(NamedTuple):
    """``mu_product`` is torch's running product of the momentum schedule ``mu_1 * ... * mu_t``."""

    step: int
    mu_product: float
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray


class RAdamState(NamedTuple):
    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray


def _decay(grad, params, lr, weight_decay: float, decoupled: bool):
    """torch's two weight decays: ``x * (1 - lr * wd)`` (decoupled) or ``g + wd * x`` (L2)."""
    if not weight_decay:
        return grad, params
    if decoupled:
        return grad, params * (1 - lr * weight_decay)
    return grad + weight_decay * params, params


@elementwise
def nadam(
    beta1: float, beta2: float, eps: float, weight_decay: float, momentum_decay: float, decoupled_weight_decay: bool
) -> tuple[InitFn, UpdateFn]:
    """NAdam (Dozat 2016), Adam with Nesterov momentum, as torch ``NAdam``, step t = 1, 2, ...::

        g = grad + weight_decay * x              (decoupled_weight_decay: x = x * (1 - lr * weight_decay))
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = mu_product * mu_t           # mu_1 * ... * mu_t
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps   # eps OUTSIDE the sqrt, after bias correction
        x = x - lr * (1 - mu_t) / (1 - mu_product) * g / denom
        x = x - lr * mu_next / (1 - mu_product * mu_next) * m / denom

    ``momentum_decay`` (torch's psi, default 4e-3) warms the momentum up from ``beta1 / 2``. Optax ``nadam``
    and Keras ``Nadam`` use a constant momentum (Optax: ``m_hat = beta1 * m / (1 - beta1**(t+1)) + (1 -
    beta1) * g / (1 - beta1**t)``); Keras keeps the 0.96 schedule without ``momentum_decay``.
    """

    def init(params: np.ndarray) -> NAdamState:
        zeros = np.zeros_like(params, dtype=float)
        return NAdamState(0, 1.0, zeros, zeros)

    def update(grad, state, params, lr, momentum=beta1):  # a schedule may cycle beta1 per step
        beta1 = momentum
        step = state.step + 1
        bias_correction2 = 1 - beta2**step
        grad, params = _decay(grad, params, lr, weight_decay, decoupled_weight_decay)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product = state.mu_product * mu
        exp_avg = lerp(state.exp_avg, grad, 1 - beta1)
        exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * grad * grad
        denom = np.sqrt(exp_avg_sq / bias_correction2)
        denom += eps
        mu_product_next = mu_product * mu_next
        params = params + (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
        params = params + ((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg / denom
        return params, NAdamState(step, mu_product, exp_avg, exp_avg_sq)

    return init, update


@elementwise
def radam(
    beta1: float, beta2: float, eps: float, weight_decay: float, decoupled_weight_decay: bool
) -> tuple[InitFn, UpdateFn]:
    """RAdam (Liu et al. 2020), Adam with the variance of its adaptive lr rectified, as torch ``RAdam``::

        g = grad + weight_decay * x              (decoupled_weight_decay: x = x * (1 - lr * weight_decay))
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:                            # the variance is tractable: rectified adaptive step
            r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            x = x - m_hat * lr * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r      # eps OUTSIDE the sqrt
        else:                                    # the first steps: momentum SGD
            x = x - m_hat * lr

    With the default beta2 = 0.999 the first 5 steps take the SGD branch. Optax ``radam`` uses the same
    threshold (``threshold=5``) but puts eps on the bias-corrected ``sqrt(v / (1 - beta2**t))``; Keras has no
    RAdam in its core.
    """

    def init(params: np.ndarray) -> RAdamState:
        zeros = np.zeros_like(params, dtype=float)
        return RAdamState(0, zeros, zeros)

    def update(grad, state, params, lr, momentum=beta1):  # a schedule may cycle beta1 per step
        beta1 = momentum
        step = state.step + 1
        grad, params = _decay(grad, params, lr, weight_decay, decoupled_weight_decay)
        exp_avg = lerp(state.exp_avg, grad, 1 - beta1)
        exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        corrected = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            denom = np.sqrt(exp_avg_sq)
            denom += eps
            params = params - corrected * lr * ((bias_correction2**0.5) / denom) * rect
        else:
            params = params - corrected * lr
        return params, RAdamState(step, exp_avg, exp_avg_sq)

    return init, update
