"""An optimizer and its schedule, configured together: a schedule that cycles momentum drives the optimizer's
momentum (or beta1) step by step, as torch's OneCycleLR and CyclicLR do."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gradtool.errors import ConfigError
from gradtool.optim.base import Optimizer
from gradtool.optim.registry import make_optimizer, optimizer_spec
from gradtool.optim.schedules import Schedule, make_schedule
from gradtool.params import ParamError


def run_schedule(lr: float, name: str | None, options: dict[str, Any] | None, horizon: int | None = None) -> Schedule:
    """The schedule of a run (``constant`` by default) on its optimizer's ``lr``; a parameter of a schedule
    that is not chosen is an error, never ignored. Errors name the key under ``schedule``."""
    try:
        return make_schedule(name or "constant", lr, horizon=horizon, **(options or {}))
    except ParamError as exc:
        raise exc.within("schedule") from None
    except ConfigError as exc:
        raise ParamError(("schedule",), str(exc)) from None


def configure(
    optimizer: str,
    hyper: dict[str, Any],
    *,
    lr: float | None = None,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    horizon: int | None = None,
) -> tuple[Optimizer, Schedule]:
    """``(optimizer, schedule)`` for one run: validated, with the momentum a schedule cycles wired in.

    Args:
        optimizer, hyper: a registry name and its hyperparameters (``make_optimizer``).
        lr: the optimizer's lr (default: its torch default); the schedule's base lr.
        schedule, schedule_options: a schedule name (default ``constant``) and its parameters.
        horizon: the run's number of optimizer steps (onecycle's default ``total_steps``).

    Raises:
        ConfigError: bad names or values (ParamErrors name the key; a schedule's under ``schedule``), a
            momentum cycle on an optimizer without momentum, or the cycled momentum also set by hand.
    """
    spec = optimizer_spec(optimizer)
    opt = make_optimizer(optimizer, **({"lr": lr} if lr is not None else {}), **hyper)
    sched = run_schedule(opt.hyper["lr"], schedule, schedule_options, horizon)
    if not sched.cycles_momentum:
        return opt, sched
    key = spec.momentum
    if key is None:
        raise ParamError(
            ("schedule", "cycle_momentum"),
            f"{spec.name} has no momentum to cycle (momentum, nag, rmsprop and the Adam family do); "
            "set cycle_momentum=false",
        )
    if opt.step is not None:
        raise ParamError(
            ("schedule", "cycle_momentum"), "a line search steps along its own direction: set cycle_momentum=false"
        )
    if key in hyper or (key == "beta1" and "betas" in hyper):
        detail = f"set by the {sched.name} schedule (cycle_momentum); remove it or set cycle_momentum=false"
        raise ParamError(key if key in hyper else "betas", detail)
    opt = make_optimizer(optimizer, **({"lr": lr} if lr is not None else {}), **hyper, **{key: sched.momentum(0)})
    return replace(opt, update=_cycled(opt.update, sched)), sched


def _cycled(update: Any, sched: Schedule) -> Any:
    """The update with the schedule's momentum of each step (the state's step count is that step's t)."""
    momentum = sched.momentum

    def cycled(grad: Any, state: Any, params: Any, lr: Any) -> Any:
        return update(grad, state, params, lr, momentum=momentum(state.step))

    return cycled
