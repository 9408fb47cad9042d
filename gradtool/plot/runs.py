"""Pictures of an objective and its runs: RunResults in, the right picture kind out (curve, contour, loss)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradtool.expr.objective import Objective, load_objective
from gradtool.plot.curves import draw_loss
from gradtool.plot.figure import Marks, PlotError, PlotParamError, Trace, short
from gradtool.plot.landscape import draw_contour, draw_curve
from gradtool.result import NoResult, RunResult

DEFAULT_RANGE = (-5.0, 5.0)
MAX_MARKS = 10_000  # points of one kind a multi-start picture draws (every k-th start; the best end points)
MAX_NOTES = 20  # end points annotated with their count
GRID = 200


def objective_of(result: RunResult) -> Objective:
    """The Objective a run minimized, rebuilt from its expression and variable order."""
    from gradtool.expr.library import TEST_FUNCTIONS

    named = TEST_FUNCTIONS.get(result.expression)
    dim = len(result.variables) if named is not None and named.n_dim else None
    return load_objective(result.expression, dim, result.variables)


def label_of(result: RunResult) -> str:
    return result.label or result.optimizer["name"]


def trace_of(result: RunResult) -> Trace:
    """A recorded run (``minimize(..., record=True)``) as a Trace labelled with its name and final f."""
    if result.path is None or result.values is None:
        raise PlotError(f"run {label_of(result)} has no recorded path: run it with record=True")
    outcome = "diverged" if result.status == "diverged" else f"f = {short(result.f)}"
    return Trace(f"{label_of(result)}: {outcome}", np.asarray(result.path, float), np.asarray(result.values, float))


def series_of(results: Sequence[RunResult]) -> list[tuple[str, list[float], list[float]]]:
    """``(label, steps, f)`` per run: the recorded steps, else the iteration table's sampled rows."""
    out = []
    for r in results:
        if r.values is not None:
            steps = r.path_steps if r.path_steps is not None else range(len(r.values))
            out.append((label_of(r), list(steps), list(r.values)))
        else:
            out.append((label_of(r), [row.step for row in r.rows], [row.f for row in r.rows]))
    return out


def known_minima(objective: Objective) -> list[Marks]:
    """The known global minima of a named test function, in the objective's variable order."""
    if objective.named is None:
        return []
    canonical = [s.name for s in objective.named.variables(objective.dim)]
    order = [canonical.index(v) for v in objective.variables]
    points = np.array([m.x for m in objective.named.minima(objective.dim)], float)[:, order]
    return [Marks("known minimum" if len(points) == 1 else f"known minima ({len(points)})", points, "known")]


def _value_function(objective: Objective):
    from gradtool.grad.analytic import AnalyticEngine

    engine = AnalyticEngine(objective)
    return engine, (lambda pts: np.asarray(engine.value(np.asarray(pts, float)), float).reshape(-1))


def auto_range(values: Sequence[float], named: tuple[float, float] | None = None) -> tuple[float, float]:
    """A view around ``values`` (starts, ends, minima, tangent points), padded; the named domain if any."""
    vals = [float(v) for v in values if np.isfinite(v)]
    if named is not None:
        vals += list(named)
    if not vals:
        return DEFAULT_RANGE
    lo, hi = min(vals), max(vals)
    width = max(hi - lo, 2.0)
    mid = (lo + hi) / 2
    lo, hi = min(lo, mid - width / 2), max(hi, mid + width / 2)
    pad = 0.0 if named is not None and (lo, hi) == named else 0.12 * (hi - lo)
    return lo - pad, hi + pad


def _ends(results: Sequence[RunResult], extra: Sequence[Marks], axis: int) -> list[float]:
    """Coordinates the default view must show: starts, end points of runs that did not diverge, marks."""
    points = [r.x0[axis] for r in results] + [r.x[axis] for r in results if r.status != "diverged"]
    return points + [float(p[axis]) for m in extra for p in m.points]


def _title(objective: Objective, results: Sequence[RunResult]) -> str:
    name = objective.text if objective.named else f"f({', '.join(objective.variables)}) = {objective.text}"
    starts = {tuple(r.x0) for r in results}
    if len(starts) == 1:
        name += f": {len(results)} run{'s' if len(results) > 1 else ''} from ({', '.join(map(short, *starts))})"
    return name


def check_picture(
    objective: Objective,
    *,
    xrange=None,
    yrange=None,
    tangents: Sequence[float] = (),
    derivative: bool = False,
    multistart: bool = False,
    runs: bool = True,
) -> None:
    """Reject a picture that cannot be drawn before anything is computed (each message names the parameter)."""
    n = objective.n
    if n == 0:
        raise PlotError(f"{objective.text} has no variables: there is nothing to draw")
    if (tangents or derivative) and n != 1:
        key = "tangents" if tangents else "derivative"
        raise PlotParamError(key, f"needs a function of one variable; {objective.text} has {n}")
    if yrange is not None and n != 2:
        raise PlotParamError("yrange", f"needs a function of two variables; {objective.text} has {n}")
    if multistart and n > 2:
        raise PlotError(f"a multi-start picture needs 1 or 2 variables; {objective.text} has {n}")
    if not runs and n > 2:
        raise PlotParamError(
            "optimizers",
            f"{objective.text} has {n} variables: a picture of f needs 1 or 2; give `optimizers` to draw loss curves",
            mentions=("optimizers",),
        )
    if xrange is not None:
        for a in tangents:
            if not xrange[0] <= a <= xrange[1]:
                where = f"{short(xrange[0])},{short(xrange[1])}"
                raise PlotParamError("tangents", f"{short(a)} is outside `xrange` ({where})", mentions=("xrange",))


def draw_landscape(
    objective: Objective,
    results: Sequence[RunResult] = (),
    *,
    xrange=None,
    yrange=None,
    derivative: bool = False,
    tangents: Sequence[float] = (),
    grid: int = GRID,
):
    """The picture of f and the runs on it, by dimension.

    1 variable: the curve (+ f', tangents), iterates on it. 2: filled contour, paths, known minima. More:
    loss curves only, with a note saying why. ``results`` must be recorded (``record=True``) for 1 and 2
    variables. ``xrange``/``yrange``: (lo, hi), default: around the starts, ends and known minima (the
    named function's domain included).

    Returns:
        The matplotlib Figure.
    """
    check_picture(objective, xrange=xrange, yrange=yrange, tangents=tangents, derivative=derivative, runs=bool(results))
    title, n = _title(objective, results), objective.n
    if n > 2:
        note = f"{objective.text} has {n} variables: loss curves only (contours and curves need 1 or 2)"
        return draw_loss(series_of(results), title=title, note=note)
    traces = [trace_of(r) for r in results]
    marks = known_minima(objective)
    domain = objective.named.domain if objective.named else None
    engine, f = _value_function(objective)
    xlim = xrange or auto_range(_ends(results, marks, 0) + list(tangents), domain)
    if n == 1:

        def dfdx(xs):
            return engine.gradient(np.asarray(xs, float)[:, None])[:, 0]

        return draw_curve(
            lambda xs: f(np.asarray(xs, float)[:, None]),
            *xlim,
            derivative=dfdx,
            show_derivative=derivative,
            tangents=tangents,
            traces=traces,
            marks=marks,
            title=title,
            variable=objective.variables[0],
            derivative_label=_clip(f"f'({objective.variables[0]}) = {engine.gradient_exprs[0]}"),
        )
    ylim = yrange or xrange or auto_range(_ends(results, marks, 1), domain)
    return draw_contour(
        f, xlim, ylim, traces=traces, marks=marks, title=title, variables=tuple(objective.variables), grid=grid
    )


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def draw_runs(results: Sequence[RunResult], *, objective: Objective | None = None, **options):
    """:func:`draw_landscape` for runs of one objective (rebuilt from the first result if not given)."""
    if not results:
        raise PlotError("no runs to draw")
    return draw_landscape(objective or objective_of(results[0]), results, **options)


def draw_result(result: RunResult, *, objective: Objective | None = None, **options):
    """The picture of one run: :func:`draw_multistart` for a multi-start result, else :func:`draw_runs`."""
    if result.starts is not None:
        return draw_multistart(result, objective=objective, **options)
    return draw_runs([result], objective=objective, **options)


def draw_loss_curves(results: Sequence[RunResult], *, title: str | None = None, note: str | None = None):
    """f against step, one line per run (recorded runs: every step; otherwise the table's rows)."""
    if not results:
        raise PlotError("no runs to draw")
    return draw_loss(series_of(results), title=title or f"{results[0].expression}: f against step", note=note)


def draw_file_results(files: Sequence) -> object:
    """The picture of `gradtool run`: one loss curve per minimize run (f against step) or fit run (train
    loss against epoch) over every file; gradient-check files have nothing to draw."""
    from gradtool.plot.curves import draw_loss

    series, ylabel = [], set()
    for file in files:
        for run in file.runs or []:
            label = f"{run.label}" if len(files) == 1 else f"{file.source}: {run.label}"
            if isinstance(run, NoResult):  # it raised, or was cancelled: no curve
                continue
            if isinstance(run, RunResult):
                ((_, steps, values),) = series_of([run])
                ylabel.add("f")
                if run.status == "diverged":  # cut where it leaves 1000x its start: keep the others readable
                    cut = next((i for i, v in enumerate(values) if abs(v) > 1e3 * max(abs(values[0]), 1)), None)
                    steps, values = (steps[:cut], values[:cut]) if cut else (steps, values)
                    label += " (diverged)"
            else:
                steps, values = [r.epoch for r in run.rows], [r.train for r in run.rows]
                ylabel.add(f"train {run.loss_function}")
            series.append((label, steps, values))
    if not series:
        raise PlotError("nothing to draw: gradient-check configs have no runs")
    x = "step" if ylabel == {"f"} else ("epoch" if "f" not in ylabel else "step / epoch")
    title = files[0].description or files[0].source if len(files) == 1 else "gradtool run"
    return draw_loss(series, title=title, xlabel=x, ylabel=" / ".join(sorted(ylabel)))


def _drawn(what: str, count: int) -> str:
    return f"{what} ({count:,})" if count <= MAX_MARKS else f"{what} ({count:,}; {MAX_MARKS:,} drawn)"


def _found_note(minimum: dict) -> str:
    kind = minimum.get("stationary")
    return f"{minimum['count']}x, f = {short(minimum['f'])}" + (f" ({kind})" if kind not in (None, "minimum") else "")


def draw_multistart(
    result: RunResult, *, objective: Objective | None = None, xrange=None, yrange=None, grid: int = GRID
):
    """A multi-start run: its start points (redrawn from box and seed), the distinct minima found with how
    many starts reached each, and the known minima, on the curve (1 variable) or contour (2)."""
    from gradtool.descent import start_points

    if result.starts is None or result.minima is None:
        raise PlotError("not a multi-start result: run minimize with starts=N")
    objective = objective or objective_of(result)
    check_picture(objective, xrange=xrange, yrange=yrange, multistart=True)
    box = tuple(result.starts["box"])
    starts = start_points(objective.n, result.starts["count"], box, result.starts["seed"])
    best = result.minima[:MAX_MARKS]  # the best ones: a million marks would take minutes to draw
    found = np.array([[m["x"][v] for v in objective.variables] for m in best], float)
    notes = tuple(_found_note(m) for m in best[:MAX_NOTES])
    marks = [
        Marks(_drawn("starts", len(starts)), starts[:: -(-len(starts) // MAX_MARKS)], "start"),
        *known_minima(objective),
        Marks(_drawn("end points found", len(result.minima)), found, "found", notes),
    ]
    _, f = _value_function(objective)
    title = f"{objective.text}: {len(starts)} starts, {len(found)} distinct end points"
    xlim = xrange or box
    if objective.n == 1:
        return draw_curve(
            lambda xs: f(np.asarray(xs, float)[:, None]),
            *xlim,
            marks=marks,
            title=title,
            variable=objective.variables[0],
        )
    return draw_contour(
        f, xlim, yrange or xrange or box, marks=marks, title=title, variables=tuple(objective.variables), grid=grid
    )


def draw_fit_result(problem, result):
    """The picture of a fit: data and fitted curve with loss curves for one input and one output (a value,
    or a bce probability); else train/test loss against epoch (from the sampled table rows)."""
    from gradtool.plot.curves import draw_fit, draw_loss

    panel = None
    if result.grad_stats is not None:  # fit --grad-stats: every layer's gradient norm, a panel on the right
        from gradtool.plot.gradstats import grad_norm_panel

        panel = grad_norm_panel(result.grad_stats)
    rows = result.rows
    epochs = [r.epoch for r in rows]
    train = [r.train for r in rows]
    test = [r.test for r in rows] if rows and rows[0].test is not None else None
    model = problem.objective.model
    if len(model.inputs) == 1 and problem.train.y.shape[1] == 1:
        import numpy as np

        def original(split):  # the inputs in their own units, before --standardize
            x = split.x[:, 0]
            return x if problem.scaler is None else x * problem.scaler.std[0] + problem.scaler.mean[0]

        x, y = original(problem.train), problem.train.y[:, 0]
        xs = [x] + ([original(problem.test)] if problem.test is not None else [])
        lo, hi = min(float(v.min()) for v in xs), max(float(v.max()) for v in xs)
        grid = np.linspace(lo, hi, 400)
        curve = result.predict(grid[:, None])[:, 0]
        extra = {}
        if problem.test is not None:
            extra = {"x_test": xs[1], "y_test": problem.test.y[:, 0]}
        return draw_fit(
            x,
            y,
            grid,
            curve,
            train_loss=train,
            test_loss=test,
            title=f"fit of {result.model}",
            xlabel=model.inputs[0],
            ylabel=model.targets[0],
            loss_label=result.loss_function,
            loss_steps=epochs,
            panel=panel,
            **extra,
        )
    series = [("train", epochs, train)] + ([("test", epochs, test)] if test is not None else [])
    return draw_loss(series, title=f"fit of {result.model}", xlabel="epoch", ylabel=result.loss_function, panel=panel)
