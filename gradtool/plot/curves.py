"""Pictures of numbers over time or step size: loss curves, the finite-difference step study, a 1-input fit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradtool.plot.figure import PANELS, WIDE, PlotError, new_figure, short, styled, wants_log

Panel = Callable[[Any], None]  # draws one more panel of a picture into the matplotlib Axes it is given
THREE_PANELS = (16.0, 4.5)
# one labelled series: (label, values) with steps 0, 1, 2, ..., or (label, steps, values)
Series = tuple[str, Sequence[float]] | tuple[str, Sequence[float], Sequence[float]]


def _normalize(series: Mapping[str, Sequence[float]] | Sequence[Series]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    items = list(series.items()) if isinstance(series, Mapping) else list(series)
    out = []
    for item in items:
        label, *data = item
        ys = np.asarray(data[-1], float)
        xs = np.asarray(data[0], float) if len(data) == 2 else np.arange(len(ys), dtype=float)
        if xs.shape != ys.shape:
            raise PlotError(f"series {label!r}: {len(xs)} steps but {len(ys)} values")
        out.append((str(label), xs, np.where(np.isfinite(ys), ys, np.nan)))
    if not out or all(len(ys) == 0 for _, _, ys in out):
        raise PlotError("no values to draw: the runs recorded no steps")
    return out


def _loss_axes(ax, items, *, title: str, xlabel: str, ylabel: str, log: bool | None, styles=None) -> None:
    if log is None:
        log = wants_log(np.concatenate([ys for _, _, ys in items]))
    for k, (label, xs, ys) in enumerate(items):
        ax.plot(xs, ys, label=label, lw=1.5, **(styles[k] if styles else {}))
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=f"{ylabel} (log scale)" if log else ylabel)
    ax.legend(loc="best")


@styled
def draw_loss(
    series: Mapping[str, Sequence[float]] | Sequence[Series],
    *,
    title: str = "f against step",
    xlabel: str = "step",
    ylabel: str = "f",
    log: bool | None = None,
    note: str | None = None,
    panel: Panel | None = None,
):
    """Loss curves: one line per labelled series; log y when every value is positive and spans decades.

    Args:
        series: ``{label: values}`` or ``[(label, values), ...]`` (x = 0, 1, 2, ...) or
            ``[(label, steps, values), ...]``. Non-finite values (a diverged run) leave a gap.
        log: force the y scale; None decides from the data.
        note: a sentence under the title (e.g. why there is no contour).
        panel: draws one more panel, to the right, into the axes it is given.

    Returns:
        The matplotlib Figure.
    """
    items = _normalize(series)
    fig, ax = new_figure(WIDE) if panel is None else new_figure(PANELS, ncols=2)
    if panel is not None:
        ax, extra = ax
        panel(extra)
    _loss_axes(ax, items, title=title if note is None else note, xlabel=xlabel, ylabel=ylabel, log=log)
    if note is not None:
        ax.title.set_fontsize(9)
        ax.title.set_style("italic")
        fig.suptitle(title, fontsize=11)
    return fig


def _reference(ax, h: np.ndarray, err: np.ndarray, best: float, order: int, colour: str) -> None:
    """A dashed C*h^order guide, parallel to the truncation branch (3x above it), from the largest h to the best."""
    keep = h >= best
    finite = np.isfinite(err) & (err > 0)
    if not finite.any():
        return
    anchor = int(np.flatnonzero(finite)[0])
    ref = 3 * err[anchor] * (h[keep] / h[anchor]) ** order
    ax.plot(h[keep], ref, ls="--", lw=1.0, color=colour, alpha=0.6, label=f"slope O(h{'^2' if order == 2 else ''})")


@styled
def draw_step_sweep(sweep: Mapping[str, Sequence[float] | float], *, title: str = "finite-difference error"):
    """The step-size study: forward and central difference error against h on log-log axes.

    Args:
        sweep: ``{"h", "forward", "central", "best_h_forward", "best_h_central"}`` and optionally
            ``"adaptive"`` (``{"step", "error", ...}``, drawn as a diamond) as returned by
            :func:`gradtool.check.sweep_steps`. Errors of exactly 0 have no place on a log axis; they
            are drawn as triangles at the bottom, a decade below the smallest nonzero error.

    Returns:
        The matplotlib Figure: the V shape (truncation error falling like h or h^2 as h shrinks, rounding
        error growing like eps/h), reference slopes and each method's best h.
    """
    h = np.asarray(sweep["h"], float)
    errors = {m: np.asarray(sweep[m], float) for m in ("forward", "central")}
    if not any(np.isfinite(e).any() for e in errors.values()):
        raise PlotError("every difference error is infinite or nan: nothing to draw")
    positive = np.concatenate([e[np.isfinite(e) & (e > 0)] for e in errors.values()])
    floor = positive.min() / 10 if positive.size else 1e-17  # where exact (0) errors are drawn
    fig, ax = new_figure(WIDE)
    for method, order, colour in (("forward", 1, "C0"), ("central", 2, "C1")):
        err = errors[method]
        line = np.where(np.isfinite(err) & (err > 0), err, np.nan)
        ax.plot(h, line, marker="o", ms=4, lw=1.6, color=colour, label=f"{method} difference")
        exact = err == 0
        if exact.any():
            ax.plot(
                h[exact],
                np.full(int(exact.sum()), floor),
                ls="none",
                marker="v",
                ms=7,
                color=colour,
                label=f"{method}: error exactly 0 (drawn at the bottom)",
            )
        best = float(sweep[f"best_h_{method}"])
        _reference(ax, h, line, best, order, colour)
        at = int(np.argmin(np.abs(h - best)))
        if np.isfinite(err[at]):
            ax.plot(
                [best],
                [err[at] or floor],
                marker="*",
                ms=16,
                color=colour,
                mec="black",
                zorder=5,
                label=f"best h ({method}) = {best:.0e}: error {short(err[at])}",
            )
    adaptive = sweep.get("adaptive")
    if adaptive is not None and math.isfinite(adaptive["error"]):
        ax.plot(
            [adaptive["step"]],
            [adaptive["error"] or floor],
            ls="none",
            marker="D",
            ms=10,
            color="C2",
            mec="black",
            zorder=6,
            label=f"adaptive (Richardson) at h = {adaptive['step']:.1e}: error {short(adaptive['error'])}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()  # h shrinks from left to right, as in the table
    ax.set(title=title, xlabel="step h", ylabel="relative error of the gradient")
    ax.legend(loc="best")
    return fig


@styled
def draw_fit(
    x: Sequence[float],
    y: Sequence[float],
    curve_x: Sequence[float],
    curve_y: Sequence[float],
    *,
    train_loss: Sequence[float],
    test_loss: Sequence[float] | None = None,
    x_test: Sequence[float] | None = None,
    y_test: Sequence[float] | None = None,
    title: str = "fit",
    xlabel: str = "x",
    ylabel: str = "y",
    loss_label: str = "loss",
    loss_steps: Sequence[int] | None = None,
    panel: Panel | None = None,
):
    """A model of one input: the data and the fitted curve (left), train/test loss per epoch (right).

    Args:
        x, y: the training data; x_test, y_test: held-out data (drawn hollow), optional.
        curve_x, curve_y: the model's prediction on a fine grid of x (sorted).
        train_loss, test_loss: loss per epoch, or at the epochs ``loss_steps`` when given.
        panel: draws a third panel, to the right, into the axes it is given.

    Returns:
        The matplotlib Figure with two panels (three with ``panel``).
    """
    if len(x) != len(y) or len(curve_x) != len(curve_y):
        raise PlotError("fit picture: x and y (and the curve's x and y) must have the same length")
    if panel is None:
        fig, (left, right) = new_figure(PANELS, ncols=2)
    else:
        fig, (left, right, extra) = new_figure(THREE_PANELS, ncols=3)
        panel(extra)
    left.scatter(x, y, s=12, color="C0", alpha=0.7, label="train data", zorder=3)
    if x_test is not None and y_test is not None:
        left.scatter(x_test, y_test, s=16, facecolors="none", edgecolors="C1", label="test data", zorder=3)
    left.plot(curve_x, curve_y, color="black", lw=2, label="fitted model", zorder=4)
    left.set(title=f"{title}: data and model", xlabel=xlabel, ylabel=ylabel)
    left.legend(loc="best")
    if loss_steps is None:
        losses = [("train", train_loss)] + ([("test", test_loss)] if test_loss is not None else [])
    else:
        losses = [("train", loss_steps, train_loss)]
        losses += [("test", loss_steps, test_loss)] if test_loss is not None else []
    _loss_axes(
        right,
        _normalize(losses),
        title=f"{loss_label} per epoch",
        xlabel="epoch",
        ylabel=loss_label,
        log=None,
        styles=[{"color": "C0"}, {"color": "C1", "ls": "--"}],
    )
    return fig
