"""`gradtool.minimize` (module descent): expression + engine + optimizer + schedule -> the loop -> one RunResult."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradtool.defaults import ENGINE, STEPS, TOL
from gradtool.errors import ConfigError
from gradtool.expr.objective import Objective, load_objective
from gradtool.expr.point import parse_box
from gradtool.floats import as_arrays, fast_path
from gradtool.grad.engines import make_run_engine
from gradtool.interrupt import stop_reason
from gradtool.memory import check_batch
from gradtool.minima import distinct_minima
from gradtool.optim.configure import configure
from gradtool.optim.stepping import Oracle
from gradtool.result import RunResult, status_message
from gradtool.run import BatchOutcome, Stopping, check_rows, iterate, iterate_batch

# how the starts of a multi-start run ended (JSON "starts" counts each)
STARTS_STATUSES = ("converged", "max_steps", "diverged", "line_search_failed", "interrupted")

MAX_STARTS = 1_000_000


@dataclass
class Prepared:
    """A validated run, ready to go: nothing is computed or written until :meth:`run`."""

    objective: Objective
    engine: Any
    opt: Any
    sched: Any
    stop: Stopping
    start: list[float]
    every: int | None
    classify: bool
    note: str | None = None  # the engine is not the one asked for, and why
    fast: bool = True  # small runs iterate on Python floats (gradtool.floats): the same bits, ~5x faster

    @property
    def maximize(self) -> bool:
        """The optimizer ascends (torch ``maximize``): the best point is the highest f."""
        return bool(self.opt.hyper.get("maximize"))

    def common(self) -> dict[str, Any]:
        return dict(
            expression=self.objective.text,
            variables=self.objective.variables,
            optimizer=self.opt.to_dict(),
            schedule=self.sched.to_dict(),
            gradient=self.engine.name,
            note=self.note,
        )

    def trajectory(self, handle: Any) -> Any:
        """The sink writing this run's trajectory CSV to ``handle`` (its last column: lr, or t)."""
        from gradtool.io import TrajectoryCSV
        from gradtool.optim.searching import chooses_step

        last = "t" if chooses_step(self.opt.to_dict()) else "lr"
        return TrajectoryCSV(handle, self.objective.variables, last)

    def oracle(self) -> Oracle:
        """The counting oracle of a method that evaluates where it needs (curvature from the engine)."""
        engine = self.engine
        return Oracle(engine.value_and_gradient, getattr(engine, "hessian", None), getattr(engine, "hvp", None))

    def evaluations(self, counts: dict[str, int]) -> dict[str, int]:
        """``{"f", "grad", "hessian", "hvp"}`` from gradient evaluations (and f-only ones, curvature): a
        numeric gradient's f evaluations are counted in f."""
        per_grad = getattr(self.engine, "evaluations_per_gradient", 0)
        grad = counts["grad"]
        f = counts.get("f", grad) + grad * per_grad
        return {"f": f, "grad": grad, "hessian": counts.get("hessian", 0), "hvp": counts.get("hvp", 0)}

    def run(
        self, *, sink: Callable | None = None, record: bool = False, progress: Callable[[int], None] | None = None
    ) -> RunResult:
        """Run from the start point; returns the RunResult (never raises for non-convergence)."""
        x0 = np.asarray(self.start, float)
        oracle = self.oracle() if self.opt.step else None
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            fast = fast_path(self.engine, self.opt, x0) if self.fast and oracle is None else None
            fg, update, state, start = fast or (
                oracle or self.engine.value_and_gradient,
                self.opt.update,
                self.opt.init(x0),
                x0,
            )
            out = iterate(
                fg,
                update,
                state,
                self.sched,
                start,
                self.stop,
                every=self.every,
                sink=sink,
                record=record,
                progress=progress,
                maximize=self.maximize,
                step=self.opt.step,
            )
        if fast:
            out = as_arrays(out)
        elapsed = time.perf_counter() - t0
        result = RunResult(
            **self.common(),
            x0=list(self.start),
            x=out.x.tolist(),
            f=float(out.f),
            grad_norm=math.hypot(*out.g.tolist()) if np.all(np.isfinite(out.g)) else float("nan"),
            steps=out.steps,
            status=out.status,
            message=status_message(out.status, reason=out.reason, steps=self.stop.steps, step=out.steps),
            time_s=elapsed,
            evaluations=self.evaluations(oracle.counts if oracle else {"grad": out.evaluations}),
            best={"x": np.asarray(out.best_x).tolist(), "f": float(out.best_f), "step": out.best_step},
            rows=out.rows,
            path=out.path,
            values=out.values,
            path_steps=out.path_steps,
        )
        if self.classify and np.all(np.isfinite(out.x)):
            from gradtool.derive import stationary_kinds

            result.stationary = stationary_kinds(self.objective, out.x[None, :], self.engine)[0]
        return result


def check_curvature(optimizer: str, engine: Any) -> None:
    """Raise ConfigError when ``optimizer`` needs second derivatives that ``engine`` cannot give."""
    from gradtool.optim import optimizer_spec

    needs = optimizer_spec(optimizer).needs
    if needs and getattr(engine, needs, None) is None:
        what = {"hessian": "the Hessian", "hvp": "Hessian-vector products"}[needs]
        raise ConfigError(
            f"optimizer {optimizer!r} needs {what}, which the {engine.name} engine cannot give: "
            "use the analytic or autodiff engine"
        )


def prepare(
    expr: str | Objective,
    x0: Any = None,
    *,
    optimizer: str = "gd",
    lr: float | None = None,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    gradient: str = ENGINE,
    steps: int = STEPS.default,
    tol: float = TOL.default,
    ftol: float | None = None,
    xtol: float | None = None,
    dim: int | None = None,
    variables: str | list[str] | None = None,
    every: int | None = None,
    classify: bool = True,
    **hyper: Any,
) -> Prepared:
    """Validate and build everything a run needs (see :func:`minimize` for the arguments)."""
    objective = expr if isinstance(expr, Objective) else load_objective(expr, dim, variables)
    objective.require_variables("minimize")
    stop = Stopping(steps, tol, ftol, xtol)
    options = {"lr": lr, "schedule": schedule, "schedule_options": schedule_options, "horizon": stop.steps}
    opt, sched = configure(optimizer, hyper, **options)
    if every is not None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ConfigError(f"every must be a whole number >= 1, got {every!r}")
        check_rows(steps, every)
    engine, note = make_run_engine(gradient, objective)
    check_curvature(opt.name, engine)
    start = objective.point(x0) if x0 is not None else objective.start()
    return Prepared(objective, engine, opt, sched, stop, start, every, classify, note)


def minimize(
    expr: str | Objective,
    x0: Any = None,
    *,
    starts: int | None = None,
    box: Any = None,
    seed: int = 0,
    sink: Callable | None = None,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> RunResult:
    """Minimize ``expr`` from ``x0`` with a named optimizer; return one :class:`RunResult`.

    Args:
        expr: an expression, a named test function, or an :class:`Objective`.
        x0: start point (``"x=1,y=2"``, ``"1,2"``, list or mapping); default: the named function's usual
            start, else zeros.
        starts, box, seed: multi-start: ``starts`` points uniform in ``box`` (LO,HI), run as one batch.
        sink: receives every iterate (trajectory files); record: keep the whole path in the result.
        progress: called every 1,000 steps with the step number.
        **options: ``optimizer`` (a name in ``OPTIMIZERS``) and its hyperparameters with torch's names
            (``lr``, ``momentum``, ``beta1``, ...), ``schedule`` + ``schedule_options`` (gamma, step_size,
            decay, t_max, eta_min, warmup), ``gradient`` (analytic, autodiff, numeric), stopping rules
            ``steps``, ``tol``, ``ftol``, ``xtol``, ``dim``, ``variables``, ``every`` (table rows).

    Non-convergence is a status in the result, never an exception. Bad input raises GradtoolError.
    """
    if starts is not None and x0 is not None:
        raise ConfigError("x0 and starts exclude each other: the starts are drawn uniformly in the box")
    problem = prepare(expr, x0, **options)
    if starts is not None:
        return _multistart(problem, starts, box, seed, record)
    return problem.run(sink=sink, record=record, progress=progress)


def check_starts(starts: int, n: int) -> None:
    """Refuse ``starts`` starts of ``n`` variables that would not fit in memory: the batch, and every end point
    kept as a distinct minimum (Python floats in a dict: 8 floats more per cell). See gradtool.memory."""
    check_batch(starts, n, param="starts", rows_name="starts", extra=8)


def _multistart(problem: Prepared, starts: int, box: Any, seed: int, record: bool = False) -> RunResult:
    objective, opt, stop = problem.objective, problem.opt, problem.stop
    if not isinstance(starts, int) or isinstance(starts, bool) or not 1 <= starts <= MAX_STARTS:
        raise ConfigError(f"starts must be a whole number from 1 to {MAX_STARTS}, got {starts!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    lo, hi = parse_box(box) if box is not None else (objective.named.domain if objective.named else (-1, 1))
    check_starts(starts, objective.n)
    x0 = start_points(objective.n, starts, (lo, hi), seed)
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        if opt.step:
            out = _one_by_one(problem, x0)
        else:
            out = iterate_batch(problem.engine.value_and_gradient, opt.update, opt.init(x0), problem.sched, x0, stop)
    elapsed = time.perf_counter() - t0
    finished = np.array([s != "diverged" for s in out.status]) & np.isfinite(out.f)  # nan: a start never run
    sense = -1.0 if problem.maximize else 1.0  # an ascent's best start is the highest f, its "minima" maxima
    best = int(np.argmin(np.where(finished, sense * out.f, np.inf)))
    minima = distinct_minima(out.x[finished], out.f[finished], sense=sense)
    from gradtool.derive import stationary_kinds

    kinds = stationary_kinds(objective, np.array([m["x"] for m in minima] + [out.x[best].tolist()]), problem.engine)
    for m, kind in zip(minima, kinds, strict=False):
        m["stationary"] = kind
        m["x"] = dict(zip(objective.variables, m["x"], strict=True))
    counts = {s: out.status.count(s) for s in STARTS_STATUSES}
    status = "converged" if counts["converged"] == starts else ("diverged" if not finished.any() else "max_steps")
    status = "interrupted" if out.stopped else status
    reason = f"{counts['converged']} of {starts} starts converged"
    others = f", {counts['line_search_failed']} found no step" if counts["line_search_failed"] else ""
    others += f", {counts['interrupted']} interrupted ({out.stopped})" if out.stopped else ""
    result = RunResult(
        **problem.common(),
        x0=x0[best].tolist(),
        x=out.x[best].tolist(),
        f=float(out.f[best]),
        grad_norm=float(out.grad_norm[best]),
        steps=int(out.steps[best]),
        status=status,
        message=f"{starts} starts: {counts['converged']} converged, {counts['max_steps']} reached max "
        f"steps, {counts['diverged']} diverged{others}; best shown"
        if status != "converged"
        else status_message("converged", reason=reason),
        time_s=elapsed,
        evaluations=problem.evaluations(out.counts or {"grad": out.evaluations * starts}),
        best={"x": out.x[best].tolist(), "f": float(out.f[best]), "step": int(out.steps[best])},
        stationary=kinds[-1],
        starts={"count": starts, "box": [lo, hi], "seed": seed, **counts},
        minima=minima,
    )
    if record and not out.stopped:  # the batch keeps no history: rerun the best start alone for its path
        again = replace(problem, start=x0[best].tolist(), classify=False).run(record=True)
        result.path, result.values, result.path_steps = again.path, again.values, again.path_steps
    return result


def _one_by_one(problem: Prepared, x0: np.ndarray) -> BatchOutcome:
    """The starts of a method that evaluates where it needs (each start its own trial points), one after
    another; ``counts`` sums their evaluations."""
    outs, counts, stopped, opt = [], Counter(), None, problem.opt
    try:
        for start in x0:
            oracle = problem.oracle()
            outs.append(iterate(oracle, None, opt.init(start), problem.sched, start, problem.stop, step=opt.step))
            counts.update(oracle.counts)
            if outs[-1].status == "interrupted":  # the run caught Ctrl-C or SIGTERM itself
                stopped = outs[-1].reason
                break
    except KeyboardInterrupt as exc:  # between two runs
        stopped = stop_reason(exc)
    rest = len(x0) - len(outs)  # never started: their own start, no value
    nan = [math.nan] * rest
    return BatchOutcome(
        np.array([np.asarray(o.x, float) for o in outs] + list(x0[len(outs) :])),
        np.array([o.f for o in outs] + nan),
        np.array([math.hypot(*o.g.tolist()) for o in outs] + nan),
        np.array([o.steps for o in outs] + [0] * rest),
        [o.status for o in outs] + ["interrupted"] * rest,
        0,
        dict(counts),
        stopped,
    )


def start_points(n: int, count: int, box: tuple[float, float], seed: int) -> np.ndarray:
    """The ``(count, n)`` multi-start points: uniform in ``box`` from ``seed`` (pictures redraw them)."""
    return np.random.default_rng(seed).uniform(box[0], box[1], size=(count, n))
