"""Memory estimates checked before arrays are allocated: options bounded one at a time can still multiply to
more memory than the machine has (``--starts 1000000`` x ``--dim 300``, ``--num 10000`` x ``--dim 10000``)."""

from __future__ import annotations

from gradtool.params import ParamError

MAX_BYTES = 2 << 30  # working arrays of one batch: 2 GiB
FLOAT = 8
# float64s a batched run holds per (row, variable): x, g and their next values, the optimizer's state, the
# engine's temporaries; measured 8 to 19 for analytic and autodiff over the named functions (tracemalloc)
BATCH_FLOATS = 24


def check_batch(rows: int, n: int, *, param: str, rows_name: str, extra: int = 0) -> None:
    """Refuse a batch of ``rows`` runs of ``n`` variables (multi-start, lr-find) whose arrays would hold more
    than ``MAX_BYTES``; ``param`` is the parameter that sets ``rows`` (``starts``, ``num``), ``extra`` more
    floats per cell for what the caller keeps besides the batch.

    Raises:
        ParamError: on ``param``: the work, the memory it needs, the limit, how many rows fit, what to lower.
    """
    per_row = n * (BATCH_FLOATS + extra)
    need = float(rows) * per_row * FLOAT
    if need <= MAX_BYTES:
        return
    what = f"{rows:,} {rows_name} of {n:,} variable{'s' if n != 1 else ''}"
    raise ParamError(
        param,
        f"{what} need about {need / 2**30:,.1f} GiB of working arrays (limit {MAX_BYTES >> 30} GiB; at most "
        f"{MAX_BYTES // (FLOAT * per_row):,} {rows_name} fit): lower it or the number of variables (`dim`)",
        mentions=("dim",),
    )
