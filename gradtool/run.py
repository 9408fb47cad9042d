"""The one iteration loop: stopping rules, divergence, sampled table rows, streamed trajectories."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradtool.defaults import FTOL, STEPS, TOL, XTOL
from gradtool.errors import ConfigError
from gradtool.grad.base import Point
from gradtool.interrupt import hold, release, stop_reason
from gradtool.params import ParamError
from gradtool.result import Row

HUGE = 1e200  # |f| above this counts as divergence


@dataclass(frozen=True)
class Stopping:
    """When a run stops: at most ``steps`` updates; converged when ``|g| <= tol`` (0 disables), or
    ``|f_t - f_{t-1}| <= ftol``, or ``||x_t - x_{t-1}|| <= xtol`` (None disables either)."""

    steps: int = STEPS.default
    tol: float = TOL.default
    ftol: float | None = None
    xtol: float | None = None

    def __post_init__(self) -> None:
        for param in (STEPS, TOL, FTOL, XTOL):
            value = getattr(self, param.name)
            try:
                object.__setattr__(self, param.name, param.check(value))  # 5.0 steps from a config: 5
            except ParamError:
                raise ConfigError(f"{param.name} must be {param.allowed}, got {value!r}") from None


TAIL_ROWS = 5  # the last steps a method that searches always shows (Newton's quadratic convergence)
MAX_ROWS = 10_000  # sampled table rows kept in memory (and printed): --every 1 over 10^8 steps would not fit


def default_every(steps: int, rows: int = 20) -> int:
    """Table row spacing so that about ``rows`` rows show."""
    return max(1, -(-steps // rows))


def check_rows(steps: int, every: int, unit: str = "steps") -> None:
    """Raise ConfigError when ``every`` would keep more than ``MAX_ROWS`` rows over ``steps``."""
    if steps // every > MAX_ROWS:
        raise ConfigError(
            f"every {every} over {steps} {unit} would keep {steps // every} rows; at most {MAX_ROWS} (raise every)"
        )


@dataclass
class Outcome:
    """What the loop hands back to the runner (the runner builds the RunResult)."""

    x: np.ndarray
    f: float
    g: np.ndarray
    steps: int
    status: str
    reason: str
    best_x: np.ndarray
    best_f: float
    best_step: int
    rows: list[Row]
    evaluations: int
    recorded: Recorder | None  # the iterates kept for pictures (``record``)

    @property
    def path(self) -> list[list[float]] | None:
        return None if self.recorded is None else self.recorded.path

    @property
    def values(self) -> list[float] | None:
        return None if self.recorded is None else self.recorded.values

    @property
    def path_steps(self) -> list[int] | None:
        return None if self.recorded is None else self.recorded.steps


MAX_RECORDED = 10_000  # iterates a recorded run keeps for pictures (--plot): --steps 100000000 kept them all


class Recorder:
    """The iterates a picture needs, at most ``cap`` + 2 of them: every step at first; when ``cap`` are kept,
    every other one is dropped and from then on every 2nd step is kept, then every 4th, ... The first
    iterate and (with :meth:`finish`) the last are exact."""

    def __init__(self, x: np.ndarray, f: float, cap: int | None = None):
        self.steps, self.path, self.values = [0], [x.tolist()], [f]
        self.stride, self.cap = 1, cap or MAX_RECORDED

    def add(self, t: int, x: np.ndarray, f: float) -> None:
        if t % self.stride:
            return
        self._keep(t, x, f)
        if len(self.steps) > self.cap:  # steps 0, s, 2s, ...: keep 0, 2s, 4s, ...
            self.steps, self.path, self.values = self.steps[::2], self.path[::2], self.values[::2]
            self.stride *= 2

    def finish(self, t: int, x: np.ndarray, f: float) -> None:
        """Keep step ``t`` (the last iterate) if it is not kept yet."""
        if self.steps[-1] != t:
            self._keep(t, x, f)

    def _keep(self, t: int, x: np.ndarray, f: float) -> None:
        self.steps.append(t)
        self.path.append(x.tolist())
        self.values.append(f)


def _bad(f: float, x: np.ndarray, gn: float) -> str | None:
    """Why this iterate counts as divergence, or None (cheap: a few float checks, no array scans)."""
    if not math.isfinite(f) or abs(f) > HUGE:
        return f"f became {f:g}"
    if not (math.isfinite(gn) and math.isfinite(sum(x.tolist()))):
        return "x or the gradient became non-finite"
    return None


def iterate(
    fg: Callable,
    update: Callable,
    state,
    schedule: Callable[[int], float],
    x0: np.ndarray,
    stop: Stopping,
    *,
    every: int | None = None,
    sink: Callable | None = None,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
    maximize: bool = False,
    step: Callable | None = None,
) -> Outcome:
    """Run one optimization from ``x0``.

    ``fg(x) -> (f, g)``; ``update(g, state, x, lr) -> (x, state)``; ``schedule(t)`` is the lr of step t, or,
    for a schedule that ``needs_metric`` (plateau), ``state.lr`` of its explicit state, which observes f after
    every step. ``maximize``: the best iterate is the one with the highest f (the optimizer ascends).
    A method that evaluates where it needs passes ``step(fg, x, f, g, state, lr) -> Move`` instead of
    ``update`` (``fg`` is then its counting oracle): the iterate's lr is the step length t it chose, and a
    step that finds no acceptable point ends the run with status ``line_search_failed``.
    ``sink(step, x, f, gnorm, lr)`` receives every iterate (row 0 is x0, lr is the lr that produced it);
    ``progress(step)`` is called every 1,000 steps. Ctrl-C (or SIGTERM, see ``gradtool.interrupt``) stops
    the loop cleanly (status ``interrupted``) with the last iterate recorded everywhere (the sink may then
    see that step twice, if the interrupt came just after it handled it). Nothing per step is kept unless ``record``.
    """
    every = every or default_every(stop.steps)
    x = x0 if type(x0) is Point else np.array(x0, dtype=float)  # a Point: the fast path (gradtool.floats)
    f, g = fg(x)
    gn = math.hypot(*g.tolist())
    observe = schedule.observe if getattr(schedule, "needs_metric", False) else None
    watched = schedule.init() if observe else None
    lr = float(watched.lr) if observe else schedule(0)
    sense = -1.0 if maximize else 1.0
    rows = [Row(0, f, gn, lr, x.tolist())]
    tail = deque(maxlen=TAIL_ROWS) if step is not None else None
    recorded = Recorder(x, f) if record else None
    if sink:
        sink(0, x, f, gn, float("nan"))
    best_x, best_f, best_t = x, f, 0
    status, reason, t, sunk = "max_steps", "", 0, 0
    bad = _bad(f, x, gn)
    if bad:
        return Outcome(x, f, g, 0, "diverged", bad, x, f, 0, rows, 1, recorded)
    tol, ftol, xtol = stop.tol, stop.ftol, stop.xtol
    try:
        while True:
            if tol > 0 and gn <= tol:
                status, reason = "converged", f"|g| = {gn:.3g} <= tol = {tol:g}"
                break
            if t >= stop.steps:
                break
            lr = float(watched.lr) if observe else schedule(t)
            if step is None:
                x_new, state = update(g, state, x, lr)
                f_new, g_new = fg(x_new)
            else:
                move = step(fg, x, f, g, state, lr)
                if move.failure:
                    status, reason = "line_search_failed", move.failure
                    break
                x_new, f_new, g_new, state, lr = move.x, move.f, move.g, move.state, move.t
            gn_new = math.hypot(*g_new.tolist())  # ~10x faster than numpy's norm on tiny arrays
            bad = _bad(f_new, x_new, gn_new)
            if bad:
                t += 1
                status, reason = "diverged", bad
                break
            df, dx = abs(f_new - f), (x_new - x if xtol is not None else None)
            # the step is taken in one assignment: an interrupt leaves t and x both before or both after it
            t, x, f, g, gn = t + 1, x_new, f_new, g_new, gn_new
            if observe:
                watched = observe(watched, f)
            if sink:
                sink(t, x, f, gn, lr)
                sunk = t
            if recorded:
                recorded.add(t, x, f)
            if sense * f < sense * best_f:
                best_x, best_f, best_t = x, f, t
            if t % every == 0:
                rows.append(Row(t, f, gn, lr, x.tolist()))
            elif tail is not None:  # a method that searches shows its last steps too: its rate of convergence
                tail.append(Row(t, f, gn, lr, x.tolist()))
            if progress and t % 1000 == 0:
                progress(t)
            if ftol is not None and df <= ftol:
                status, reason = "converged", f"|f_t - f_(t-1)| = {df:.3g} <= ftol = {ftol:g}"
                break
            if xtol is not None:
                length = math.hypot(*dx.tolist())
                if length <= xtol:
                    status, reason = "converged", f"step length {length:.3g} <= xtol = {xtol:g}"
                    break
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under gradtool.interrupt
        status, reason = "interrupted", stop_reason(exc)
        # the step taken last may not have reached the sink, the recording or the best point yet
        if sink and sunk != t:
            sink(t, x, f, gn, lr)
        if sense * f < sense * best_f:
            best_x, best_f, best_t = x, f, t
    last = t - 1 if status == "diverged" else t  # the step of the last finite iterate x
    if tail:
        rows = sorted([*rows, *tail], key=lambda row: row.step)
    if rows[-1].step != last:
        rows.append(Row(last, f, gn, lr, x.tolist()))
    if recorded:
        recorded.finish(last, x, f)
    return Outcome(x, f, g, t, status, reason, best_x, best_f, best_t, rows, t + 1, recorded)


@dataclass
class BatchOutcome:
    """Final state of every start of a vectorized multi-start run."""

    x: np.ndarray
    f: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    status: list[str]
    evaluations: int
    counts: dict[str, int] | None = None  # evaluations by kind over all starts, when not one batch call a step
    stopped: str | None = None  # what interrupted the batch (Ctrl-C, SIGTERM), its live starts "interrupted"


def iterate_batch(
    fg: Callable, update: Callable, state, schedule: Callable[[int], float], x0: np.ndarray, stop: Stopping
) -> BatchOutcome:
    """Run ``len(x0)`` independent starts as one batch: one engine call and one update per step for all.

    A start that converges or diverges is frozen at its last (finite) point; the loop ends when every
    start has stopped or after ``stop.steps`` steps. A schedule that follows the objective (plateau) keeps
    one state per start: each start's lr is a row of a ``(batch, 1)`` column. Ctrl-C (or SIGTERM, see
    ``gradtool.interrupt``) ends the loop: the starts still running are ``interrupted`` at their last
    complete step (a step's bookkeeping is held whole, see :func:`gradtool.interrupt.hold`).
    """
    x = np.array(x0, dtype=float)
    batch = len(x)
    f, g = fg(x)
    observe = schedule.observe if getattr(schedule, "needs_metric", False) else None
    watched = schedule.init(batch) if observe else None
    steps = np.zeros(batch, dtype=int)
    done = np.zeros(batch, dtype=bool)
    status = np.full(batch, "max_steps", dtype=object)
    bad = ~np.isfinite(f) | (np.abs(f) > HUGE) | ~np.all(np.isfinite(g), axis=1)
    status[bad], done[bad] = "diverged", True
    gn = np.sqrt(np.einsum("ij,ij->i", g, g))
    evaluations, stopped = 1, None
    try:
        for t in range(stop.steps + 1):
            if stop.tol > 0:
                conv = ~done & (gn <= stop.tol)
                status[conv], done[conv] = "converged", True
            if done.all() or t == stop.steps:
                break
            x_new, state = update(g, state, x, watched.lr[:, None] if observe else schedule(t))
            f_new, g_new = fg(x_new)
            hold()  # the step's bookkeeping below lands whole: a stop waits for it
            try:
                evaluations += 1
                live = ~done
                bad = live & (
                    ~np.isfinite(f_new)
                    | (np.abs(f_new) > HUGE)
                    | ~np.all(np.isfinite(x_new), axis=1)
                    | ~np.all(np.isfinite(g_new), axis=1)
                )
                status[bad], done[bad] = "diverged", True
                move = live & ~bad
                steps[live] += 1
                conv = np.zeros(batch, dtype=bool)
                if stop.ftol is not None:
                    conv |= move & (np.abs(f_new - f) <= stop.ftol)
                if stop.xtol is not None:
                    conv |= move & (np.linalg.norm(x_new - x, axis=1) <= stop.xtol)
                x[move], f[move], g[move] = x_new[move], f_new[move], g_new[move]
                if observe:
                    watched = observe(watched, f)
                gn = np.sqrt(np.einsum("ij,ij->i", g, g))
                status[conv], done[conv] = "converged", True
            finally:
                release()
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under gradtool.interrupt
        stopped = stop_reason(exc)
        status[~done] = "interrupted"
    return BatchOutcome(x, f, gn, steps, status.tolist(), evaluations, stopped=stopped)
