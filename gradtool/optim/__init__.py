"""Optimizers as pure update rules with explicit state, learning-rate schedules, and their registries."""

from gradtool.optim.base import Optimizer, OptimizerSpec
from gradtool.optim.registry import ALIASES, OPTIMIZERS, make_optimizer
from gradtool.optim.schedules import (
    SCHEDULES,
    WARMUP_DEFAULTS,
    Schedule,
    ScheduleSpec,
    as_schedule,
    make_schedule,
)

__all__ = [
    "ALIASES",
    "OPTIMIZERS",
    "SCHEDULES",
    "WARMUP_DEFAULTS",
    "Optimizer",
    "OptimizerSpec",
    "Schedule",
    "ScheduleSpec",
    "as_schedule",
    "make_optimizer",
    "make_schedule",
]
