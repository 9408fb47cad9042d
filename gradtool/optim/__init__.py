"""Optimizers as pure update rules with explicit state, learning-rate schedules, and their registries.

Importing this package loads the registries only (no numpy): each rule's module is imported when an
optimizer is built.
"""

from gradtool.optim.base import Optimizer, OptimizerSpec
from gradtool.optim.registry import ALIASES, OPTIMIZERS, make_optimizer, optimizer_spec
from gradtool.optim.schedules import (
    SCHEDULES,
    WARMUP_DEFAULTS,
    Schedule,
    ScheduleSpec,
    as_schedule,
    make_schedule,
    schedule_spec,
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
    "optimizer_spec",
    "schedule_spec",
]
