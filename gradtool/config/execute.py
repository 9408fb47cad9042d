"""Running plans: every run serially, in worker processes or on a Dask cluster (same results, same order; see
``gradtool.executor``), outputs written through ``gradtool.io``, one FileResult per config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gradtool.config.fit import FitPlan, FitRunSpec, execute_fit
from gradtool.config.plan import CheckPlan, MinimizePlan, RunSpec
from gradtool.errors import GradtoolError
from gradtool.params import ParamError
from gradtool.result import STATUS, NoResult

FINISHED = tuple(status for status, (finished, _) in STATUS.items() if finished)


@dataclass
class FileResult:
    """What one config produced: its runs (minimize: RunResults, fit: FitResults) or its gradient-check
    report (check-grad)."""

    source: str
    task: str
    description: str | None = None
    runs: list[Any] = field(default_factory=list)
    check: dict[str, Any] | None = None

    def final(self, run: Any) -> float:
        """What ``best`` minimizes: a minimize run's final f (-f for one that ascends), a fit's final training
        loss."""
        return run.train_loss if self.task == "fit" else run.ranked_f

    @property
    def best(self) -> int | None:
        """Index of the run with the lowest final f (the highest for runs that ascend; fit: the lowest training
        loss) among those that finished, or None."""
        finished = [(self.final(r), i) for i, r in enumerate(self.runs) if r.status in FINISHED]
        return min(finished)[1] if finished else None

    @property
    def exit_code(self) -> int:
        """0 every run finished (or the check passed), 1 a run diverged (or the check failed), 130 Ctrl-C."""
        if self.check is not None:
            return 0 if self.check["ok"] else 1
        return max((r.exit_code for r in self.runs), default=0)

    def to_dict(self) -> dict[str, Any]:
        """``{"file", "task", "description", "runs": [minimize (or fit) --json objects with "label"], "best"}``;
        a check-grad config gives the check-grad --json object after ``file``, ``task``, ``description``."""
        head = {"file": self.source, "task": self.task, "description": self.description}
        if self.check is not None:
            return {**head, **self.check}
        return {**head, "runs": [r.to_dict() for r in self.runs], "best": self.best}


def execute_run(spec: RunSpec | FitRunSpec) -> Any:
    """Run one RunSpec or FitRunSpec (here or in a worker process); its files appear only when complete."""
    if isinstance(spec, FitRunSpec):
        return execute_fit(spec)
    from gradtool.descent import minimize, prepare

    if spec.trajectory:
        from gradtool.io import open_output

        problem = prepare(spec.expr, spec.x0, **spec.options)
        with open_output(spec.trajectory) as handle:
            result = problem.run(sink=problem.trajectory(handle), record=spec.record)
    else:
        result = minimize(spec.expr, spec.x0, **(spec.starts or {}), **spec.options, record=spec.record)
    result.label = spec.label
    return result


def execute_all(
    specs: list[RunSpec | FitRunSpec], jobs: int = 1, executor: Any = None, progress: Any = None
) -> list[Any]:
    """Every run, in order: with ``executor`` (see ``gradtool.executor``), else serially or, with
    ``jobs > 1``, in worker processes; each run is deterministic, so the results are those of a serial run.
    ``progress(index, result)`` is called as each run ends. A run stopped by Ctrl-C or SIGTERM stops the others:
    those that had not finished are ``interrupted`` (a NoResult when they had not started, or were cancelled);
    a run that raises (a GradtoolError aside, which stops the command) gets status ``error``."""
    from gradtool.executor import make_executor
    from gradtool.interrupt import Terminated, received, stop_reason

    executor = executor or make_executor(jobs, len(specs))

    def arrived(index: int, result: Any) -> None:
        if progress:
            progress(index, result)
        if result.status == "interrupted":  # the run caught the stop itself: pass it on to the others
            raise KeyboardInterrupt if received() is None else Terminated(received())

    def failed(index: int, exc: BaseException) -> NoResult:
        if isinstance(exc, GradtoolError):
            raise exc
        if isinstance(exc, KeyboardInterrupt):  # a run that had not finished when the command was stopped
            return NoResult(specs[index].label, "interrupted", f"cancelled by {stop_reason(exc)} before it finished")
        return NoResult(specs[index].label, "error", f"{type(exc).__name__}: {exc}")

    return executor.map(execute_run, specs, arrived, failed)


def run_plans(
    plans: Sequence[MinimizePlan | FitPlan | CheckPlan],
    jobs: int = 1,
    record: bool = False,
    executor: Any = None,
    progress: Any = None,
) -> list[FileResult]:
    """Run every plan; the runs of all minimize and fit plans share one pool of ``jobs`` processes, or
    ``executor`` (order kept; ``progress`` as in :func:`execute_all`).

    A diverged run is a result like any other and never stops the others. A plan's JSON output is written
    (atomically) once all of its runs are done. ``record`` keeps every iterate of minimize runs (pictures).
    After Ctrl-C or SIGTERM the finished runs are returned (the others ``interrupted``), and the gradient
    checks of check-grad plans are not started.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParamError("jobs", f"must be a whole number >= 1, got {jobs!r}")
    specs = [s for p in plans if not isinstance(p, CheckPlan) for s in p.runs]
    if record:
        specs = [replace(s, record=True) if isinstance(s, RunSpec) else s for s in specs]
    results = execute_all(specs, jobs, executor, progress)
    stopped = any(r.status == "interrupted" for r in results)
    done = iter(results)
    out = []
    for plan in plans:
        if isinstance(plan, CheckPlan) and stopped:
            continue
        if not isinstance(plan, CheckPlan):
            result = FileResult(plan.source, plan.task, plan.description, [next(done) for _ in plan.runs])
        else:
            from gradtool.check import run_check

            report = run_check(plan.objective, plan.points, **plan.options)
            result = FileResult(plan.source, plan.task, plan.description, check=report)
        if plan.json_path:
            write_json(plan.json_path, result.to_dict())
        out.append(result)
    return out


def write_json(path: str, obj: Any) -> None:
    """Write one JSON document atomically; non-finite numbers become null, as with --json."""
    import json

    from gradtool.io import open_output
    from gradtool.report.common import jsonable

    with open_output(path) as handle:
        handle.write(json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")
