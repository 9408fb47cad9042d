"""Figures without pyplot: the Agg canvas, one house style, output checks and deterministic atomic saving."""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradtool import __version__
from gradtool.errors import GradtoolError
from gradtool.io import check_writable, is_stream, open_output
from gradtool.params import ParamError

FORMATS = ("png", "svg", "pdf")
DEFAULT_DPI = 150
MAX_DPI = 1200
INSTALL_HINT = "pip install 'gradtool[plot]' (or pip install matplotlib)"

# figure sizes in inches: pixels = size * dpi (no tight bounding box, so the size is exact)
WIDE = (8.0, 5.0)
SQUARE = (7.5, 6.0)
PANELS = (11.0, 4.5)

# Every picture is drawn and saved under matplotlib's defaults plus these settings, whatever the user's
# matplotlibrc says, so the same input gives the same bytes. svg.hashsalt/svg.id fix the ids matplotlib would
# otherwise randomize; SVG text stays text (searchable, legend labels readable by tools).
STYLE: dict[str, Any] = {
    "svg.hashsalt": "gradtool",
    "svg.id": "gradtool",
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 11.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.85,
    "image.cmap": "viridis",
    "text.parse_math": False,  # user text (a column named "$x$", a file name) is drawn as typed, never as TeX
}
# run colours C0, C1, ...: tab10 with red last, as red marks the minima a multi-start run found
PALETTE = ("blue", "orange", "green", "purple", "brown", "pink", "olive", "cyan", "gray", "red")

# metadata without dates: PNG has none by default, SVG and PDF would stamp the time of writing
METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": f"gradtool {__version__}"},
    "svg": {"Date": None, "Creator": f"gradtool {__version__}"},
    "pdf": {
        "CreationDate": None,
        "ModDate": None,
        "Creator": f"gradtool {__version__}",
        "Producer": f"gradtool {__version__}",
    },
}


class PlotError(GradtoolError):
    """A picture cannot be made: unknown format, bad range or point, nothing to draw."""


class PlotParamError(ParamError, PlotError):
    """A picture option (range, tangents, dpi) whose value cannot be drawn: a PlotError naming its parameter."""


class MissingMatplotlib(PlotError):
    """matplotlib (the optional ``plot`` extra) is not installed."""


@dataclass(frozen=True)
class Trace:
    """One optimizer's iterates: a legend label, points ``(k, n)`` and f at each point ``(k,)``."""

    label: str
    points: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Marks:
    """Labelled points drawn as markers; ``kind`` picks the style (see ``MARK_STYLES``).

    ``notes`` are optional per-point annotations (e.g. how many starts reached a minimum).
    """

    label: str
    points: np.ndarray
    kind: str = "known"
    notes: tuple[str, ...] = field(default_factory=tuple)


MARK_STYLES: dict[str, dict[str, Any]] = {
    "known": dict(marker="*", s=170, color="white", edgecolors="black", linewidths=1.0, zorder=6),
    "start": dict(marker="o", s=14, color="white", edgecolors="black", linewidths=0.6, alpha=0.8, zorder=4),
    "found": dict(marker="o", s=150, facecolors="none", edgecolors="tab:red", linewidths=2.0, zorder=7),
}


def require_matplotlib() -> None:
    """Fail with an install hint when matplotlib is missing (checked before any computation)."""
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingMatplotlib(f"pictures need matplotlib, which is not installed: {INSTALL_HINT}")


def output_format(path: str | os.PathLike) -> str:
    """The picture format named by ``path``'s extension: png, svg or pdf (PNG for ``-``, a device or a FIFO
    without an extension)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if not suffix and is_stream(path):
        return "png"
    if suffix not in FORMATS:
        why = f"'.{suffix}' is not a picture format" if suffix else "a picture file needs an extension"
        raise PlotError(f"cannot write picture {path}: {why}; use .png, .svg or .pdf")
    return suffix


def check_output(path: str | os.PathLike, dpi: int = DEFAULT_DPI) -> str:
    """Everything about the output that can fail, checked before a run: format, folder, dpi, matplotlib.

    Returns:
        The format (``png``, ``svg`` or ``pdf``).
    """
    fmt = output_format(path)
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 10 <= dpi <= MAX_DPI:
        raise PlotParamError("dpi", f"must be a whole number from 10 to {MAX_DPI}, got {dpi!r}")
    check_writable(path)
    require_matplotlib()
    return fmt


def _import_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise MissingMatplotlib(f"pictures need matplotlib, which is not installed: {INSTALL_HINT}") from None
    return matplotlib


def _style():
    _import_matplotlib()
    from cycler import cycler
    from matplotlib.style import context

    return context(["default", {**STYLE, "axes.prop_cycle": cycler(color=[f"tab:{c}" for c in PALETTE])}])


def styled(draw):
    """Run a drawing function under the house style (every artist it creates picks the style up)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with _style(), np.errstate(all="ignore"):  # f may overflow or be undefined somewhere: drawn as gaps
            figure = draw(*args, **kwargs)
            if hasattr(figure, "axes"):  # a drawing function's Figure (save_figure returns None)
                plain_log_ticks(figure)
            return figure

    return wrapper


SUPERSCRIPTS = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def plain_log_ticks(fig) -> None:
    """Log axes label their ticks with mathtext (``$\\mathdefault{10^{-2}}$``), which ``text.parse_math: False``
    (user text is drawn as typed) would print verbatim: label them ``10⁻²`` in Unicode superscripts instead."""
    from matplotlib.ticker import LogFormatter, LogFormatterSciNotation

    class PowerLabels(LogFormatter):
        def __call__(self, x, pos=None):
            text = super().__call__(x, pos)  # "" for a tick left unlabelled, else a plain number
            exponent = math.log(x, self._base) if text and x > 0 else math.nan
            if math.isfinite(exponent) and abs(exponent - round(exponent)) < 1e-9:
                return f"{self._base:g}" + str(round(exponent)).translate(SUPERSCRIPTS)
            return text

    for axis in (a for ax in fig.axes for a in (ax.xaxis, ax.yaxis)):
        for get, put in (
            (axis.get_major_formatter, axis.set_major_formatter),
            (axis.get_minor_formatter, axis.set_minor_formatter),
        ):
            current = get()
            if isinstance(current, LogFormatterSciNotation):  # only the default: never a formatter we chose
                put(PowerLabels(current._base, labelOnlyBase=current.labelOnlyBase))


def new_figure(size: tuple[float, float] = WIDE, ncols: int = 1):
    """A Figure on the Agg canvas (no pyplot, no global state) with constrained layout, and its axes."""
    _import_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=True)
    return fig, axes


@styled
def save_figure(fig, path: str | os.PathLike, dpi: int = DEFAULT_DPI) -> None:
    """Write ``fig`` to ``path`` (format from the extension; see :func:`gradtool.io.open_output`) without
    dates in the file."""
    fmt = check_output(path, dpi)
    with open_output(path, "wb") as handle:
        fig.savefig(handle, format=fmt, dpi=dpi, metadata=METADATA[fmt])


def finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of the finite entries, or None when there are none."""
    vals = np.asarray(values, float)
    vals = vals[np.isfinite(vals)]
    return (float(vals.min()), float(vals.max())) if vals.size else None


def wants_log(values: np.ndarray, decades: float = 2.0) -> bool:
    """A log axis helps when every finite value is positive and they span more than ``decades``."""
    span = finite_range(values)
    return span is not None and span[0] > 0 and math.log10(span[1] / span[0]) > decades


def short(v: float) -> str:
    """A number for labels: 4 significant digits."""
    return f"{v:.4g}"
