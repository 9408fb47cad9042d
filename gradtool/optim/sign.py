"""Rules that step by the gradient's sign: Rprop (torch's operation order) and Lion (the paper's and
Optax's)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn, UpdateFn, elementwise


class RpropState(NamedTuple):
    """``prev`` is the previous step's gradient (0 where it changed sign); ``step_size`` is None before the
    first step, which starts it at that step's lr."""

    step: int
    prev: np.ndarray
    step_size: np.ndarray | None


class LionState(NamedTuple):
    step: int
    exp_avg: np.ndarray


def rprop(etaminus: float, etaplus: float, step_size_min: float, step_size_max: float) -> tuple[InitFn, UpdateFn]:
    """Rprop (Riedmiller & Braun 1993) as torch ``Rprop(etas=(etaminus, etaplus), step_sizes=(min, max))``::

        s = sign(g * prev)                       # per coordinate: +1 same sign, -1 flipped, 0 either is 0
        factor = etaplus where s > 0, etaminus where s < 0, 1 where s = 0
        step_size = clip(step_size * factor, step_size_min, step_size_max)      # starts at lr
        g = 0 where factor = etaminus            # after a sign flip: no step, and no flip next time
        x = x - sign(g) * step_size
        prev = g

    Only the gradient's sign is used; ``lr`` sets the first step size only (a schedule has no effect after
    the first step, as in torch). Optax has no Rprop; Keras neither.
    """

    def init(params: np.ndarray) -> RpropState:
        return RpropState(0, np.zeros_like(params, dtype=float), None)

    def update(grad, state, params, lr):
        step_size = state.step_size
        if step_size is None:
            step_size = np.broadcast_to(np.asarray(lr, dtype=float), params.shape).copy()
        sign = np.sign(grad * state.prev)
        factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
        step_size = np.clip(step_size * factor, step_size_min, step_size_max)
        grad = np.where(factor == etaminus, 0.0, grad)
        return params - np.sign(grad) * step_size, RpropState(state.step + 1, grad, step_size)

    return init, update


@elementwise
def lion(beta1: float, beta2: float, weight_decay: float) -> tuple[InitFn, UpdateFn]:
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") as Optax ``lion``::

        c = (1 - beta1) * g + beta1 * m          # the update direction interpolates g and m
        x = x - lr * (sign(c) + weight_decay * x)                # decoupled decay, scaled by lr
        m = (1 - beta2) * g + beta2 * m

    Every coordinate moves by exactly ``lr`` (plus the decay), so Lion wants a lr 3-10x smaller than AdamW's
    (default here 1e-4, as lion-pytorch; Optax has no default lr). torch.optim has no Lion. Optax defaults
    to ``weight_decay=1e-3``; this rule, like the torch-style optimizers, to 0.
    """

    def init(params: np.ndarray) -> LionState:
        return LionState(0, np.zeros_like(params, dtype=float))

    def update(grad, state, params, lr):
        direction = np.sign((1 - beta1) * grad + beta1 * state.exp_avg)
        if weight_decay:
            direction = direction + weight_decay * params
        exp_avg = (1 - beta2) * grad + beta2 * state.exp_avg
        return params + -lr * direction, LionState(state.step + 1, exp_avg)

    return init, update
