"""Memory estimates checked before arrays are allocated: options bounded one at a time can still multiply to
more memory than the machine has (``--starts 1000000`` x ``--dim 300``, ``--num 10000`` x ``--dim 10000``)."""

from __future__ import annotations

from gradtool.errors import ConfigError

MAX_BYTES = 2 << 30  # working arrays of one batch: 2 GiB
FLOAT = 8
# float64s a batched run holds per (row, variable): x, g and their next values, the optimizer's state, the
# engine's temporaries; measured 8 to 19 for analytic and autodiff over the named functions (tracemalloc)
BATCH_FLOATS = 24


def check_floats(count: float, *, what: str, lower: str, unit: int = 1, unit_name: str = "") -> None:
    """Refuse work whose arrays would hold more than ``MAX_BYTES`` of float64s (``count`` of them).

    ``what`` names the work (``"--starts 1000000 with 300 variables"``) and ``lower`` the options to lower;
    ``unit`` floats per ``unit_name`` (a start, a learning rate) gives the largest count that fits.

    Raises:
        ConfigError: one line naming the work, the memory it needs, the limit and the options to lower.
    """
    need = float(count) * FLOAT
    if need <= MAX_BYTES:
        return
    fits = f" (at most {MAX_BYTES // (FLOAT * unit):,} {unit_name} fit)" if unit_name else ""
    raise ConfigError(
        f"{what} needs about {need / 2**30:,.1f} GiB of working arrays (limit {MAX_BYTES >> 30} GiB): "
        f"lower {lower}{fits}"
    )


def check_batch(rows: int, n: int, *, rows_name: str, lower: str, extra: int = 0) -> None:
    """Refuse a batch of ``rows`` runs of ``n`` variables (multi-start, lr-find) that would not fit;
    ``extra`` more floats per cell for what the caller keeps besides the batch."""
    per_row = n * (BATCH_FLOATS + extra)
    what = f"{rows:,} {rows_name} of {n:,} variable{'s' if n != 1 else ''}"
    check_floats(rows * per_row, what=what, lower=lower, unit=per_row, unit_name=rows_name)
