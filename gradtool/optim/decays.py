"""Learning-rate schedules in closed form, as functions of the step (t = 0 first): torch.optim.lr_scheduler's
closed forms (torch itself updates most of them recursively, which agrees to rounding)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable

ScheduleFn = Callable[[int], float]


def constant(lr: float, factor: float, total_iters: int) -> ScheduleFn:
    """``lr_t = lr * factor`` for ``t < total_iters``, then ``lr`` (torch ``ConstantLR``; gradtool's default
    schedule, with ``factor = 1``: a constant lr)::

        lr_t = lr * factor   if t < total_iters
        lr_t = lr            otherwise

    torch's ``ConstantLR`` defaults to ``factor = 1/3``; here 1 (a plain constant lr) as the default schedule.
    """
    if factor == 1:
        return lambda t: lr
    return lambda t: lr * factor if t < total_iters else lr


def step_decay(lr: float, step_size: int, gamma: float) -> ScheduleFn:
    """``lr_t = lr * gamma ** (t // step_size)`` (torch ``StepLR``; Optax ``exponential_decay(staircase=True)``)."""
    return lambda t: lr * gamma ** (t // step_size)


def multistep_decay(lr: float, milestones: tuple[int, ...], gamma: float) -> ScheduleFn:
    """``lr_t = lr * gamma ** (number of milestones <= t)`` (torch ``MultiStepLR``; Optax
    ``piecewise_constant_schedule``)."""
    return lambda t: lr * gamma ** bisect_right(milestones, t)


def exponential_decay(lr: float, gamma: float) -> ScheduleFn:
    """``lr_t = lr * gamma ** t`` (torch ``ExponentialLR``)."""
    return lambda t: lr * gamma**t


def inverse_time_decay(lr: float, decay: float) -> ScheduleFn:
    """``lr_t = lr / (1 + decay * t)`` (Keras ``InverseTimeDecay`` with ``decay_steps=1``)."""
    return lambda t: lr / (1 + decay * t)


def polynomial_decay(lr: float, total_iters: int, power: float) -> ScheduleFn:
    """``lr_t = lr * (1 - min(t, total_iters) / total_iters) ** power`` (torch ``PolynomialLR``: 0 from
    ``total_iters`` on; Optax ``polynomial_schedule`` with ``end_value=0``)."""
    return lambda t: lr * (1.0 - min(total_iters, t) / total_iters) ** power


def linear_ramp(lr: float, start_factor: float, end_factor: float, total_iters: int) -> ScheduleFn:
    """``lr_t = lr * (start + (end - start) * min(t, total_iters) / total_iters)`` (torch ``LinearLR``;
    Optax ``linear_schedule``)."""
    rise = end_factor - start_factor
    return lambda t: lr * (start_factor + rise * min(total_iters, t) / total_iters)


def cosine_annealing(lr: float, t_max: int, eta_min: float) -> ScheduleFn:
    """``lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * t / t_max)) / 2`` (torch ``CosineAnnealingLR``).

    Like torch's, it is periodic: after ``t_max`` the lr rises again towards ``lr`` (period ``2 * t_max``);
    choose ``t_max`` >= the number of steps for a plain decay (Optax's ``cosine_decay_schedule`` instead
    stays at the floor).
    """
    return lambda t: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


def cosine_restarts(lr: float, t_0: int, t_mult: int, eta_min: float) -> ScheduleFn:
    """Cosine annealing with warm restarts (Loshchilov & Hutter 2017, SGDR; torch
    ``CosineAnnealingWarmRestarts(T_0, T_mult)``)::

        periods T_i = t_0 * t_mult ** i, one after the other; t_cur = steps since the current one began
        lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * t_cur / T_i)) / 2

    The lr jumps back to ``lr`` at each restart. Optax's ``sgdr_schedule`` builds the same from a list of
    cosine decays.
    """

    def fn(t: int) -> float:
        if t_mult == 1:
            return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * (t % t_0) / t_0)) / 2
        start, period = 0, t_0
        while t >= start + period:  # integer arithmetic: exact where torch's closed form takes a log
            start, period = start + period, period * t_mult
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * (t - start) / period)) / 2

    return fn


def sequential(lr: float, schedules: tuple[ScheduleFn, ...], milestones: tuple[int, ...]) -> ScheduleFn:
    """Schedules one after the other (torch ``SequentialLR``; Optax ``join_schedules``)::

        k = number of milestones <= t
        lr_t = schedules[k](t - milestones[k - 1])      (t itself for k = 0)

    Each schedule starts from its own step 0 at its milestone, on the run's lr (torch: every scheduler's
    ``base_lr`` is the optimizer's initial lr). ``warmup=W`` on any schedule is
    ``sequential([linear(start_factor, 1, W), that schedule], [W])``.
    """

    def fn(t: int) -> float:
        k = bisect_right(milestones, t)
        return schedules[k](t - milestones[k - 1] if k else t)

    return fn
