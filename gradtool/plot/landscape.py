"""Pictures of a function itself: the curve of f(x) with tangents, the filled contour of f(x, y), and paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradtool.plot.figure import (
    MARK_STYLES,
    SQUARE,
    WIDE,
    Marks,
    PlotError,
    PlotParamError,
    Trace,
    finite_range,
    new_figure,
    short,
    styled,
)

Curve = Callable[[np.ndarray], np.ndarray]  # xs (m,) -> values (m,)
Surface = Callable[[np.ndarray], np.ndarray]  # points (m, 2) -> values (m,)
LEVELS = 24
LOG_DECADES = 3.0  # log-spaced levels when f rises more than this many decades above its minimum
LOG_MANTISSAS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)  # six round levels per decade
MAX_LEVELS = 200  # BoundaryNorm colours by level index over 256 colours: f spanning 300 decades gets fewer


def contour_levels(z: np.ndarray, count: int = LEVELS) -> tuple[np.ndarray, np.ndarray, bool]:
    """Round contour levels covering the grid values ``z``, the ones worth a colorbar label, and whether
    the levels are log-spaced.

    Levels are log-spaced above the grid's minimum when f spans more than ``LOG_DECADES`` decades there
    (the first percentile of ``f - min f`` against its maximum: Rosenbrock's narrow valley), else linear.
    """
    from matplotlib.ticker import MaxNLocator

    span = finite_range(z)
    if span is None:
        raise PlotParamError("xrange", "f is not finite anywhere in the plotted range; choose another")
    lo, hi = span
    if hi == lo:
        return np.array([lo - 0.5, lo + 0.5]), np.array([lo]), False
    if not np.isfinite(hi - lo):  # f from -1e308 to 1e308: no colour scale can span that
        raise PlotParamError(
            "xrange", f"f spans {short(lo)} to {short(hi)} in the plotted range, too wide to draw; choose a smaller one"
        )
    above = np.asarray(z, float)[np.isfinite(z)] - lo
    floor = float(np.percentile(above, 1))
    if not (floor > 0 and np.log10((hi - lo) / floor) > LOG_DECADES):
        levels = MaxNLocator(nbins=count, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        levels = levels[(levels > lo) & (levels < hi)]
        levels = np.concatenate([[lo], levels, [hi]])
        return levels, levels[1:-1:3], False
    base = 0.0 if 0 <= lo < floor else lo  # f >= 0 with its minimum on the grid: label the levels as f itself
    decades = np.arange(np.floor(np.log10(floor)), np.ceil(np.log10(hi - base)) + 1)
    mantissas = LOG_MANTISSAS if len(decades) * len(LOG_MANTISSAS) <= MAX_LEVELS else (1.0,)
    if len(decades) > MAX_LEVELS:  # every k-th decade, always keeping the last (it covers the maximum)
        decades = np.unique(np.append(decades[:: -(-len(decades) // MAX_LEVELS)], decades[-1]))
    with np.errstate(over="ignore"):  # 2e308 and 10^309 overflow: dropped
        steps = (np.array(mantissas)[None, :] * 10.0 ** decades[:, None]).ravel()
        powers = 10.0**decades
    steps = steps[np.isfinite(steps)]
    first = int(np.searchsorted(steps, floor))
    last = min(int(np.searchsorted(steps, hi - base)), len(steps) - 1)  # the first step at or above the maximum
    levels = np.concatenate([[lo], base + steps[first : last + 1]])
    if levels[-1] < hi:  # the steps ended below f's maximum (near the largest float): close with it
        levels = np.append(levels, hi)
    ticks = base + powers[(powers >= steps[first]) & (powers <= steps[last])]
    return levels, ticks[:: max(1, -(-len(ticks) // LEVELS))], True  # at most LEVELS colorbar labels


def _draw_marks(ax, marks: Sequence[Marks], values: Curve | None = None) -> None:
    """Scatter each group of marks; on a 1-D curve the y of a mark is f at its x."""
    for group in marks:
        pts = np.asarray(group.points, float).reshape(len(group.points), -1)
        if len(pts) == 0:
            continue
        xs = pts[:, 0]
        ys = values(xs) if values is not None else pts[:, 1]
        ax.scatter(xs, ys, label=group.label, **MARK_STYLES[group.kind])
        for x, y, note in zip(xs, ys, group.notes, strict=False):
            ax.annotate(
                note,
                (x, y),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=8,
                zorder=8,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8),
            )


def _draw_traces(ax, traces: Sequence[Trace], one_d: bool) -> None:
    """Each trace in its own colour (a pale halo keeps it readable on any contour colour): a line through
    the iterates, the start (circle) and the last finite point (square)."""
    from matplotlib.patheffects import Normal, Stroke

    for k, trace in enumerate(traces):
        colour = f"C{k % 10}"
        pts = np.asarray(trace.points, float)
        xy = np.column_stack([pts[:, 0], trace.values]) if one_d else pts[:, :2]
        xy = np.where(np.isfinite(xy), xy, np.nan)
        ax.plot(
            xy[:, 0],
            xy[:, 1],
            color=colour,
            lw=1.4,
            marker="." if one_d else None,
            ms=4,
            label=trace.label,
            zorder=5,
            path_effects=[Stroke(linewidth=3, foreground="white", alpha=0.6), Normal()],
        )
        ax.plot(*xy[0], marker="o", ms=8, color=colour, mec="black", zorder=6, label="_start")
        last = np.flatnonzero(np.all(np.isfinite(xy), axis=1))
        if last.size:
            ax.plot(*xy[last[-1]], marker="s", ms=7, color=colour, mec="black", zorder=6, label="_end")
    if traces:
        ax.plot([], [], marker="o", ls="none", color="white", mec="black", label="start")
        ax.plot([], [], marker="s", ls="none", color="white", mec="black", label="end")


@styled
def draw_curve(
    f: Curve,
    lo: float,
    hi: float,
    *,
    derivative: Curve | None = None,
    show_derivative: bool = True,
    tangents: Sequence[float] = (),
    traces: Sequence[Trace] = (),
    marks: Sequence[Marks] = (),
    title: str = "f(x)",
    variable: str = "x",
    derivative_label: str | None = None,
    samples: int = 400,
):
    """The curve of f on [lo, hi], optionally f' (dashed), tangent lines, optimizer iterates and marks.

    Args:
        f, derivative: vectorized functions of one variable, ``xs (m,) -> (m,)``; the derivative is drawn
            (dashed) when ``show_derivative``, and used for the tangents either way.
        tangents: x positions of tangent lines ``y = f(a) + f'(a)(x - a)``; they need ``derivative``.
        traces: optimizer runs; each point is drawn at ``(x_k, f_k)``.
        marks: extra points (their y is f at their x).

    Returns:
        The matplotlib Figure (save it with :func:`save_figure`).
    """
    if not lo < hi:
        raise PlotError(f"the range needs LO < HI, got {lo}, {hi}")
    if tangents and derivative is None:
        raise PlotError("tangent lines need the derivative")
    fig, ax = new_figure(WIDE)
    xs = np.linspace(lo, hi, samples)
    ys = np.asarray(f(xs), float)
    ax.plot(xs, ys, color="black", lw=2, label=f"f({variable})", zorder=3)
    shown = [ys]
    if derivative is not None and show_derivative:
        dys = np.asarray(derivative(xs), float)
        ax.plot(xs, dys, color="0.45", lw=1.4, ls="--", label=derivative_label or f"f'({variable})", zorder=3)
        shown.append(dys)
    span = finite_range(np.concatenate(shown))
    if span is None:
        raise PlotParamError("xrange", "f is not finite anywhere in the plotted range; choose another")
    pad = 0.06 * ((span[1] - span[0]) or 1.0)
    for k, a in enumerate(tangents):
        fa, slope = float(f(np.array([a]))[0]), float(derivative(np.array([a]))[0])
        colour = f"C{(k + len(traces)) % 10}"
        ax.plot(
            xs,
            fa + slope * (xs - a),
            color=colour,
            lw=1.3,
            label=f"tangent at {variable} = {short(a)}: slope {short(slope)}",
            zorder=4,
        )
        ax.plot([a], [fa], marker="o", ms=7, color=colour, mec="black", zorder=6, label="_point")
    _draw_traces(ax, traces, one_d=True)
    _draw_marks(ax, marks, values=lambda x: np.asarray(f(x), float))
    ax.set_xlim(lo, hi)
    ax.set_ylim(span[0] - pad, span[1] + pad)  # tangents and iterates never stretch the view of f
    ax.set(title=title, xlabel=variable, ylabel=f"f({variable})")
    ax.legend(loc="best")
    return fig


@styled
def draw_contour(
    f: Surface,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    *,
    traces: Sequence[Trace] = (),
    marks: Sequence[Marks] = (),
    title: str = "f(x, y)",
    variables: tuple[str, str] = ("x", "y"),
    grid: int = 200,
):
    """Filled contour of f over a box, optimizer paths in their own colours, and marks (minima, starts).

    Args:
        f: vectorized ``points (m, 2) -> (m,)``.
        xlim, ylim: the box; grid: samples per axis.
        traces: optimizer runs (their first two coordinates are drawn); marks: labelled points.

    Returns:
        The matplotlib Figure. Levels are log-spaced when f spans decades (see :func:`contour_levels`).
    """
    from matplotlib.colors import BoundaryNorm

    for name, (lo, hi) in zip(variables, (xlim, ylim), strict=True):
        if not lo < hi:
            raise PlotError(f"the range of {name} needs LO < HI, got {lo}, {hi}")
    fig, ax = new_figure(SQUARE)
    gx, gy = np.meshgrid(np.linspace(*xlim, grid), np.linspace(*ylim, grid))
    z = np.asarray(f(np.column_stack([gx.ravel(), gy.ravel()])), float).reshape(gx.shape)
    levels, ticks, log = contour_levels(z)
    z = np.ma.masked_invalid(z)
    norm = BoundaryNorm(levels, ncolors=256)  # colour by level index, so log-spaced levels use every colour
    filled = ax.contourf(gx, gy, z, levels=levels, norm=norm, cmap="viridis", alpha=0.85)
    ax.contour(gx, gy, z, levels=levels, colors="white", linewidths=0.3, alpha=0.5)
    bar = fig.colorbar(filled, ax=ax, shrink=0.9)
    bar.set_label("f (log-spaced levels)" if log else "f")
    bar.set_ticks(ticks, labels=[short(v) for v in ticks])
    _draw_traces(ax, traces, one_d=False)
    _draw_marks(ax, marks)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set(title=title, xlabel=variables[0], ylabel=variables[1])
    ax.grid(False)
    if traces or marks:
        ax.legend(loc="best")
    return fig
