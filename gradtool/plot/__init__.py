"""Pictures (matplotlib, Agg, imported only inside the drawing functions): ``draw_*`` build a Figure from plain
data or RunResults, :func:`save_figure` writes it by extension (png, svg, pdf) atomically and deterministically.
"""

from gradtool.plot.curves import draw_fit, draw_loss, draw_step_sweep
from gradtool.plot.figure import (
    DEFAULT_DPI,
    FORMATS,
    Marks,
    MissingMatplotlib,
    PlotError,
    Trace,
    check_output,
    save_figure,
)
from gradtool.plot.landscape import contour_levels, draw_contour, draw_curve
from gradtool.plot.runs import (
    check_picture,
    draw_landscape,
    draw_loss_curves,
    draw_multistart,
    draw_result,
    draw_runs,
    objective_of,
    series_of,
    trace_of,
)

__all__ = [
    "DEFAULT_DPI",
    "FORMATS",
    "Marks",
    "MissingMatplotlib",
    "PlotError",
    "Trace",
    "check_output",
    "check_picture",
    "contour_levels",
    "draw_contour",
    "draw_curve",
    "draw_fit",
    "draw_landscape",
    "draw_loss",
    "draw_loss_curves",
    "draw_multistart",
    "draw_result",
    "draw_runs",
    "draw_step_sweep",
    "objective_of",
    "save_figure",
    "series_of",
    "trace_of",
]
