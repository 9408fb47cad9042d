"""Validated config data -> a runnable plan: sweep grids, readable labels, output paths, every run checked."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradtool.config.fields import Path, Where, format_path
from gradtool.config.keys import ENTRY_KEYS, RUN_KEYS
from gradtool.defaults import ATOL, RTOL
from gradtool.errors import ConfigError, GradtoolError
from gradtool.params import ParamError

MAX_RUNS = 10_000
OBJECTIVE_KEYS = {"dim": ("dim",), "variables": ("variables",)}  # load_objective's arguments, as config keys


def located(where: Where, path: Path, fn: Callable, *args: Any, param_keys: dict | None = None, **kw: Any) -> Any:
    """Call ``fn``; a GradtoolError it raises becomes a ConfigError naming the file, line and key path (a
    ParamError's parameter is a key below ``path``, or the key path ``param_keys`` gives for it)."""
    try:
        return fn(*args, **kw)
    except ParamError as exc:
        head = (param_keys or {}).get(exc.key[0])
        raise where.error((*path, *exc.key) if head is None else (*head, *exc.key[1:]), exc.detail) from None
    except GradtoolError as exc:
        raise where.error(path, str(exc)) from None


@dataclass
class RunSpec:
    """One run as plain, picklable data: ``gradtool.descent.minimize(expr, x0, **starts, **options)``."""

    label: str
    expr: str
    x0: list[float] | None
    options: dict[str, Any]
    starts: dict[str, Any] | None = None
    trajectory: str | None = None
    record: bool = False  # keep every iterate (for pictures)


@dataclass
class MinimizePlan:
    source: str
    description: str | None
    runs: list[RunSpec]
    json_path: str | None = None
    task: str = "minimize"


@dataclass
class CheckPlan:
    """A check-grad config: ``gradtool.check.run_check(objective, points, **options)``."""

    source: str
    description: str | None
    objective: Any
    points: Any
    options: dict[str, Any]
    json_path: str | None = None
    task: str = "check-grad"


# ---- labels ----------------------------------------------------------------------------------------------


def value_text(key: str, value: Any) -> str:
    """A swept value in a label: ``lr0.01``, ``beta1=0.9`` (a key ending in a digit), ``amsgrad`` /
    ``no-amsgrad``, ``numeric``, ``armijo-c1=0.3`` (a line search and its parameters away from defaults)."""
    if isinstance(value, bool):
        return key if value else f"no-{key}"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        from gradtool.optim.searching import line_search_changes

        return "-".join([value["name"], *(value_text(k, v) for k, v in line_search_changes(value).items())])
    return f"{key}={value!r}" if key[-1].isdigit() else f"{key}{value!r}"


def unique_labels(first: list[str], fuller: list[str]) -> list[str]:
    """``first`` where unique; clashing ones use ``fuller``; clashes left get ``-2``, ``-3``... in order."""
    labels = [f if first.count(f) == 1 else g for f, g in zip(first, fuller, strict=True)]
    out: list[str] = []
    for label in labels:
        candidate, n = label, 1
        while candidate in out or (candidate != label and candidate in labels):
            n += 1
            candidate = f"{label}-{n}"
        out.append(candidate)
    return out


# ---- optimizer entries x sweep: the runs of a minimize or fit config -------------------------------------


def _check_sweep(data: dict[str, Any], entries: list[tuple[Path, dict]], where: Where, run_keys: tuple) -> None:
    from gradtool.optim import OPTIMIZERS

    for key in data.get("sweep", {}):
        if key in data:
            raise where.error(("sweep", key), f"{key} is also set at the top level; remove one of them")
        for path, entry in entries:
            if key in entry:
                raise where.error((*path, key), f"{key} is also swept (sweep.{key}); remove one of them")
            allowed = OPTIMIZERS[entry["name"]].defaults
            if key not in allowed and key not in run_keys:
                raise where.error(
                    ("sweep", key),
                    f"optimizer {entry['name']!r} ({format_path(path)}) has no hyperparameter "
                    f"{key!r}; allowed: {', '.join(allowed)}",
                )


def _schedule_options(schedule: dict[str, Any] | None) -> dict[str, Any]:
    if not schedule:
        return {}
    return {"schedule": schedule["name"], "schedule_options": {k: v for k, v in schedule.items() if k != "name"}}


def run_error(where: Where, exc: GradtoolError, entry: Path, schedule: Path, sweep: dict[str, Any]) -> ConfigError:
    """Where an error of building a run belongs: a schedule's under the schedule's key path, a swept
    parameter's under ``sweep``, an optimizer parameter's under its entry; anything else at the entry."""
    if not isinstance(exc, ParamError):
        return where.error(entry, str(exc))
    head, rest = exc.key[0], exc.key[1:]
    if head == "schedule":
        return where.error((*schedule, *rest), exc.detail)
    return where.error(("sweep", *exc.key) if head in sweep else (*entry, *exc.key), exc.detail)


def expand_runs(
    data: dict[str, Any],
    where: Where,
    run_keys: tuple[str, ...],
    common: dict[str, Any],
    check: Callable[[Path, Path, dict[str, Any]], None],
) -> list[tuple[str, dict[str, Any]]]:
    """Each optimizer entry x each combination of the sweep: ``(label, options)`` in that order.

    ``options`` is ``{"optimizer": name, **hyperparameters, **common, **swept, schedule, schedule_options}``;
    ``check(entry path, schedule path, options)`` builds each run (nothing runs) so that errors name a key
    path. Without ``optimizer`` or ``optimizers`` there is one run of ``gd`` with its defaults.
    """
    if "optimizers" in data:
        entries = [(("optimizers", i), e) for i, e in enumerate(data["optimizers"])]
    else:
        entries = [(("optimizer",), data.get("optimizer", {"name": "gd"}))]
    _check_sweep(data, entries, where, run_keys)
    sweep = data.get("sweep", {})
    count = len(entries) * math.prod(len(values) for values in sweep.values())  # counted before it is built
    if count > MAX_RUNS:
        raise where.error(("sweep",), f"{count:,} runs; at most {MAX_RUNS:,}")
    combos = list(itertools.product(*sweep.values()))
    runs, first, fuller = [], [], []
    for path, entry in entries:
        hyper = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
        own = entry.get("schedule")
        prefix = entry.get("label") or "-".join([entry["name"], *([own["name"]] if own else [])])
        schedule_path = (*path, "schedule") if own else ("schedule",)
        for combo in combos:
            swept = dict(zip(sweep, combo, strict=True))
            options = {
                "optimizer": entry["name"],
                **hyper,
                **common,
                **swept,
                **_schedule_options(own or data.get("schedule")),
            }
            check(path, schedule_path, options)
            parts = [value_text(k, v) for k, v in swept.items()]
            first.append("-".join([prefix, *parts]))
            fuller.append("-".join([prefix, *(value_text(k, v) for k, v in hyper.items()), *parts]))
            runs.append(options)
    return list(zip(unique_labels(first, fuller), runs, strict=True))


def output_path(where: Where, path: Path, target: str) -> str:
    """A checked output path without placeholders (its folder must exist)."""
    from gradtool.io import check_writable

    if re.search(r"[{}]", target):
        raise where.error(path, f"{target!r}: no placeholders here ({{label}} is for per-run files)")
    located(where, path, check_writable, target)
    return target


def labelled_paths(labels: list[str], template: str, where: Where, path: Path) -> list[str]:
    """One checked output path per run: ``{label}`` replaced by the run's label."""
    from gradtool.io import check_writable

    if re.search(r"[{}]", template.replace("{label}", "")):
        raise where.error(path, f"{template!r}: the only placeholder is {{label}}")
    if len(labels) > 1 and "{label}" not in template:
        raise where.error(path, f"{len(labels)} runs would write the same file; put {{label}} in the path")
    out = [template.replace("{label}", label) for label in labels]
    for target in out:
        located(where, path, check_writable, target)
    return out


# ---- minimize --------------------------------------------------------------------------------------------


def _starts(data: dict[str, Any], where: Where) -> dict[str, Any] | None:
    from gradtool.expr.point import parse_box

    if "starts" not in data:
        return None
    s = data["starts"]
    box = list(located(where, ("starts", "box"), parse_box, s["box"])) if "box" in s else None
    return {"starts": s["count"], "box": box, "seed": s.get("seed", 0)}


def minimize_plan(data: dict[str, Any], where: Where) -> MinimizePlan:
    """Expand a validated minimize config into runs; check every run and output path before anything runs."""
    from gradtool.descent import prepare
    from gradtool.expr.objective import load_objective

    text, dim, variables = data["function"], data.get("dim"), data.get("variables")
    objective = located(where, ("function",), load_objective, text, dim, variables, param_keys=OBJECTIVE_KEYS)
    x0 = located(where, ("x0",), objective.point, data["x0"]) if "x0" in data else None
    common = {k: data[k] for k in RUN_KEYS if k in data}
    common.update({k: v for k, v in (("dim", dim), ("variables", variables)) if v is not None})

    def check(path: Path, schedule_path: Path, options: dict[str, Any]) -> None:
        try:
            prepare(objective, x0, **options)
        except GradtoolError as exc:
            raise run_error(where, exc, path, schedule_path, data.get("sweep", {})) from None

    starts = _starts(data, where)
    if starts is not None and x0 is not None:
        raise where.error(("x0",), "x0 and starts exclude each other: the starts are drawn in starts.box")
    if starts is not None:  # memory, before anything runs (and in the file's terms)
        from gradtool.descent import check_starts

        count = ("starts", "count")
        located(where, count, check_starts, starts["starts"], objective.n, param_keys={"starts": count})
    runs = [
        RunSpec(label, text, x0, options, starts)
        for label, options in expand_runs(data, where, RUN_KEYS, common, check)
    ]
    output = data.get("output", {})
    if "trajectory" in output:
        path = ("output", "trajectory")
        if starts is not None:
            raise where.error(path, "a trajectory records one run; it cannot be combined with starts")
        for run, target in zip(
            runs, labelled_paths([r.label for r in runs], output["trajectory"], where, path), strict=True
        ):
            run.trajectory = target
    json_path = output_path(where, ("output", "json"), output["json"]) if "json" in output else None
    return MinimizePlan(where.source, data.get("description"), runs, json_path)


# ---- check-grad ------------------------------------------------------------------------------------------


def check_plan(data: dict[str, Any], where: Where) -> CheckPlan:
    """A check-grad config: the objective, the points (given or random) and the options, all checked."""
    import numpy as np

    from gradtool.check import UserGradient, random_points
    from gradtool.expr.objective import load_objective
    from gradtool.expr.point import parse_box
    from gradtool.grad.engines import make_engine

    text, dim, variables = data["function"], data.get("dim"), data.get("variables")
    objective = located(where, ("function",), load_objective, text, dim, variables, param_keys=OBJECTIVE_KEYS)
    located(where, ("function",), objective.require_variables, "check")
    seed = data.get("seed", 0)
    if "at" in data:
        at = data["at"]
        several = isinstance(at, list) and not isinstance(at[0], int | float)
        given = at if several else [at]
        points = np.array(
            [located(where, ("at", i) if several else ("at",), objective.point, p) for i, p in enumerate(given)],
            dtype=float,
        )
    else:
        box = located(where, ("box",), parse_box, data["box"]) if "box" in data else None
        points = random_points(objective, data["random"], seed, box)  # the points `check-grad --random` draws
    options = {
        "user": data.get("grad"),
        "method": data.get("method", "adaptive"),
        "h": data.get("h"),
        "rtol": data.get("rtol", RTOL.default),
        "atol": data.get("atol", ATOL.default),
        "sweep": data.get("sweep_h", False),
        "taylor": data.get("taylor", False),
        "seed": seed,
    }
    if options["user"] is not None:
        located(where, ("grad",), UserGradient, options["user"], objective, param_keys={"user": ("grad",)})
    engine_keys = {"method": ("method",), "h": ("h",)}  # make_engine's parameters are the config's keys
    method, h = options["method"], options["h"]
    located(where, ("method",), make_engine, "numeric", objective, method=method, h=h, param_keys=engine_keys)
    output = data.get("output", {})
    json_path = output_path(where, ("output", "json"), output["json"]) if "json" in output else None
    return CheckPlan(where.source, data.get("description"), objective, points, options, json_path)
