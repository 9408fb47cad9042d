"""The learning-rate range test: a geometric range of learning rates run as one batch, and a recommendation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradtool.defaults import ENGINE, LR_FIND_STEPS, LR_MAX, LR_MIN, LR_NUM, TOL
from gradtool.errors import ConfigError
from gradtool.params import ParamError

MAX_NUM = 10_000


@dataclass
class LrFindResult:
    """Per learning rate: the final f, |g|, steps and status of a run of ``steps`` steps from ``x0``.

    ``stable[i]``: the run did not diverge and ended below ``f0``. ``largest_stable``: the largest stable lr
    below the smallest diverging one; ``best``: the lr with the lowest final f among runs that did not
    diverge (None when there is none).
    """

    expression: str
    variables: list[str]
    optimizer: dict[str, Any]
    gradient: str
    x0: list[float]
    f0: float
    steps: int
    lrs: list[float]
    f: list[float]
    grad_norm: list[float]
    run_steps: list[int]
    status: list[str]
    stable: list[bool]
    largest_stable: float | None
    best: float | None
    time_s: float
    note: str | None = None  # the engine is not the one asked for, and why
    interrupted: str | None = None  # Ctrl-C or SIGTERM stopped the batch: the runs still going are interrupted

    def to_dict(self) -> dict[str, Any]:
        runs = [
            {"lr": lr, "f": f, "grad_norm": g, "steps": s, "status": st, "diverged": st == "diverged", "stable": ok}
            for lr, f, g, s, st, ok in zip(
                self.lrs, self.f, self.grad_norm, self.run_steps, self.status, self.stable, strict=True
            )
        ]
        return {
            "expression": self.expression,
            "variables": self.variables,
            "optimizer": self.optimizer,
            "gradient": self.gradient,
            "x0": dict(zip(self.variables, self.x0, strict=True)),
            "f0": self.f0,
            "steps": self.steps,
            "runs": runs,
            "largest_stable_lr": self.largest_stable,
            "best_lr": self.best,
            "time_s": self.time_s,
            "note": self.note,
            "interrupted": self.interrupted,
        }


def recommend(lrs: np.ndarray, f: np.ndarray, status: list[str], f0: float) -> tuple[list[bool], Any, Any]:
    """``(stable flags, largest stable lr, best lr)`` for learning rates in increasing order."""
    diverged = np.array([s == "diverged" for s in status])
    stable = ~diverged & (f < f0)
    first_bad = int(np.argmax(diverged)) if diverged.any() else len(lrs)
    below = np.flatnonzero(stable[:first_bad])
    largest = float(lrs[below[-1]]) if below.size else None
    finished = np.flatnonzero(~diverged)
    best = float(lrs[finished[np.argmin(f[finished])]]) if finished.size else None
    return stable.tolist(), largest, best


def lr_find(
    expr: Any,
    x0: Any = None,
    *,
    optimizer: str = "gd",
    lr_min: float = LR_MIN,
    lr_max: float = LR_MAX,
    num: int = LR_NUM,
    steps: int = LR_FIND_STEPS,
    tol: float = TOL.default,
    gradient: str = ENGINE,
    dim: int | None = None,
    variables: str | list[str] | None = None,
    **hyper: Any,
) -> LrFindResult:
    """Run ``num`` learning rates from ``lr_min`` to ``lr_max`` (geometric) as ONE batch.

    Every optimizer's update is elementwise, so the learning rate can be a ``(num, 1)`` column: the batch
    runner's schedule returns that column at every step and each row is one independent run, the same
    arithmetic as a single run with that lr.

    Raises:
        ConfigError: a bad range, count, optimizer or hyperparameter.
    """
    import time

    from gradtool.expr.objective import Objective, load_objective
    from gradtool.grad.engines import make_run_engine
    from gradtool.memory import check_batch
    from gradtool.optim import make_optimizer, optimizer_spec
    from gradtool.run import Stopping, iterate_batch

    optimizer_spec(optimizer).refuse("lr-find")
    for name, v in (("lr_min", lr_min), ("lr_max", lr_max)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise ParamError(name, f"must be a number > 0, got {v!r}")
    if not lr_min < lr_max:
        raise ParamError("lr_min", f"{lr_min:g} must be smaller than `lr_max` ({lr_max:g})", mentions=("lr_max",))
    if not (isinstance(num, int) and 2 <= num <= MAX_NUM):
        raise ParamError("num", f"must be a whole number from 2 to {MAX_NUM}, got {num!r}")
    if "lr" in hyper:
        raise ParamError(
            "lr", "lr-find chooses the learning rates itself; give `lr_min` and `lr_max`", mentions=("lr_min", "lr_max")
        )
    objective = expr if isinstance(expr, Objective) else load_objective(expr, dim, variables)
    objective.require_variables("minimize")
    check_batch(num, objective.n, param="num", rows_name="learning rates")
    opt = make_optimizer(optimizer, **hyper)
    if opt.hyper.get("maximize"):
        raise ParamError("maximize", "lr-find recommends the lr with the lowest f; it cannot rank runs that ascend")
    if opt.step is not None:
        raise ConfigError(f"lr-find cannot use a line search ({optimizer} chooses each step's length itself)")
    stop = Stopping(steps, tol)
    engine, note = make_run_engine(gradient, objective)
    start = objective.point(x0) if x0 is not None else objective.start()
    lrs = np.geomspace(lr_min, lr_max, num)
    column = lrs[:, None]
    points = np.tile(np.asarray(start, float), (num, 1))
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        f0 = float(engine.value(np.asarray(start, float)))
        out = iterate_batch(engine.value_and_gradient, opt.update, opt.init(points), lambda t: column, points, stop)
    elapsed = time.perf_counter() - t0
    stable, largest, best = recommend(lrs, out.f, out.status, f0)
    return LrFindResult(
        expression=objective.text,
        variables=objective.variables,
        optimizer={k: v for k, v in opt.to_dict().items() if k != "lr"},
        gradient=engine.name,
        x0=list(start),
        f0=f0,
        steps=steps,
        lrs=lrs.tolist(),
        f=out.f.tolist(),
        grad_norm=out.grad_norm.tolist(),
        run_steps=out.steps.tolist(),
        status=out.status,
        stable=stable,
        largest_stable=largest,
        best=best,
        time_s=elapsed,
        note=note,
        interrupted=out.stopped,
    )
