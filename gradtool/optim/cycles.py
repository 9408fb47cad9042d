"""Schedules that cycle the lr, and the optimizer's momentum against it: OneCycleLR and CyclicLR, computed
as torch.optim.lr_scheduler computes them. Each rule returns ``(lr of step t, momentum of step t or None)``."""

from __future__ import annotations

import math
from collections.abc import Callable

ScheduleFn = Callable[[int], float]


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def onecycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[float]:
    """The last step of each phase (floats, as torch computes them)."""
    if three_phase:
        return [float(pct_start * total_steps) - 1, float(2 * pct_start * total_steps) - 2, total_steps - 1]
    return [float(pct_start * total_steps) - 1, total_steps - 1]


def onecycle(
    lr: float,
    max_lr: float,
    total_steps: int,
    pct_start: float,
    anneal_strategy: str,
    cycle_momentum: bool,
    base_momentum: float,
    max_momentum: float,
    div_factor: float,
    final_div_factor: float,
    three_phase: bool,
) -> tuple[ScheduleFn, ScheduleFn | None]:
    """The 1cycle policy (Smith & Topin 2019) as torch ``OneCycleLR``::

        initial = max_lr / div_factor, final = initial / final_div_factor
        phase 1 (t <= pct_start * total_steps - 1):  lr from initial up to max_lr, momentum max -> base
        phase 2 (to the end):                        lr from max_lr down to final, momentum base -> max
        three_phase: up to max_lr, back down to initial (as long), then down to final
        each phase anneals by  end + (start - end) * (1 + cos(pi * pct)) / 2   (anneal_strategy=cos)
                          or   start + (end - start) * pct                     (anneal_strategy=linear)

    The run's lr is not used (torch also overwrites the optimizer's lr); ``max_lr`` defaults to it. With
    ``cycle_momentum`` the optimizer's momentum (beta1 for Adam-like ones) follows the second curve, as in
    torch. Optax's ``cosine_onecycle_schedule`` is the two-phase lr curve without momentum.
    """
    anneal = _cos if anneal_strategy == "cos" else _linear
    initial = max_lr / div_factor
    ends = onecycle_phases(total_steps, pct_start, three_phase)
    lrs = [(initial, max_lr), (max_lr, initial), (initial, initial / final_div_factor)]
    moms = [(max_momentum, base_momentum), (base_momentum, max_momentum), (max_momentum, max_momentum)]
    if not three_phase:
        lrs, moms = [lrs[0], (max_lr, initial / final_div_factor)], moms[:2]

    def phase(t: int) -> tuple[int, float]:
        start = 0.0
        for i, end in enumerate(ends):
            if t <= end or i == len(ends) - 1:
                return i, (t - start) / (end - start)
            start = end
        raise AssertionError("unreachable")  # pragma: no cover

    def lr_of(t: int) -> float:
        i, pct = phase(t)
        return anneal(*lrs[i], pct)

    def momentum_of(t: int) -> float:
        i, pct = phase(t)
        return anneal(*moms[i], pct)

    return lr_of, momentum_of if cycle_momentum else None


def cyclic(
    lr: float,
    base_lr: float,
    max_lr: float,
    step_size_up: int,
    step_size_down: int | None,
    mode: str,
    gamma: float | None,
    cycle_momentum: bool,
    base_momentum: float,
    max_momentum: float,
) -> tuple[ScheduleFn, ScheduleFn | None]:
    """Cyclical learning rates (Smith 2017) as torch ``CyclicLR``::

        cycle = floor(1 + t / (up + down));  x = 1 + t / (up + down) - cycle
        scale = x / r if x <= r else (x - 1) / (r - 1)        with r = up / (up + down)
        lr_t = base_lr + (max_lr - base_lr) * scale * s
        s = 1 (triangular), 1 / 2 ** (cycle - 1) (triangular2), gamma ** t (exp_range)
        momentum_t = max_momentum - (max_momentum - base_momentum) * scale * s

    ``base_lr`` defaults to the run's lr; ``step_size_down`` to ``step_size_up``; ``gamma`` (default 1) is
    for ``exp_range`` only. Optax has no CyclicLR.
    """
    up = float(step_size_up)
    total = up + (float(step_size_down) if step_size_down is not None else up)
    ratio = up / total
    gamma = 1.0 if gamma is None else gamma

    def shape(t: int) -> tuple[float, float]:
        """``(scale, s)`` of step t, kept apart to round as torch does."""
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if mode == "triangular":
            return scale, 1.0
        if mode == "triangular2":
            return scale, 1 / (2.0 ** (cycle - 1))
        return scale, gamma**t

    def lr_of(t: int) -> float:
        scale, s = shape(t)
        return base_lr + (max_lr - base_lr) * scale * s

    def momentum_of(t: int) -> float:
        scale, s = shape(t)
        return max_momentum - (max_momentum - base_momentum) * scale * s

    return lr_of, momentum_of if cycle_momentum else None
