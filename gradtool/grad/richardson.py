"""The adaptive numeric method: central differences over shrinking steps, Richardson extrapolation, error estimates.

The approach of DERIVEST and numdifftools (and scipy.differentiate's, in spirit). Per component i of a point
x, central differences D(h) = (f(x + h e_i) - f(x - h e_i)) / 2h are taken over the geometric steps
h_k = s 2^-k, s = 2 * 2^ceil(log2(max(1, |x_i|))) (powers of two: x +- h is exact wherever it can be).
For a smooth f, D(h) = f' + c1 h^2 + c2 h^4 + ..., so Richardson extrapolation over three consecutive
steps removes the h^2 and h^4 terms. Each extrapolant's error is estimated from its neighbours, plus the
rounding error of its differences; the estimate with the smallest error is the answer.

Stencils never cross a point where f is not finite: only the steps after the last non-finite difference
count, and the sequence keeps shrinking (in rounds) until it has enough of them. A component also keeps
shrinking while its best error is above TARGET relative and the smallest steps are still truncation-
dominated (or still lose rounding error as h shrinks): the sequence then has not reached its asymptotic
region yet, as for exp(100 x), sin(1000 x) or 1/x near 0. Everything is vectorized over points and
components; a round costs one (chunked) call of f.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(float).eps)
LEVELS = 2  # Richardson levels: each estimate combines LEVELS + 1 consecutive differences
FIRST = 10  # steps of the first round: s, s/2, ..., s/2^9
MORE = 6  # steps added by each later round
MAX_STEPS = 48  # down to s/2^47, where x + h stops resolving h
TARGET = 1e-13  # a component stops shrinking once its error estimate is below this, relative
TAIL = 30.0  # the smallest steps are rounding-dominated when their error is within TAIL x rounding
CHUNK_VALUES = 4_000_000  # numbers per probe array: memory stays flat however many points and variables
# the rounding error of a level-2 extrapolant: (64 D2 - 20 D1 + D0) / 45, dominated by D2's 64/45
ROUNDING_WEIGHT = 85.0 / 45.0

ValueFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class NumericEstimate:
    """A numeric gradient with, per component, its estimated absolute error and the step it used.

    ``error`` is None for the fixed-step methods (no estimate); ``evaluations`` counts f's evaluations
    per point (one entry per point).
    """

    gradient: np.ndarray
    error: np.ndarray | None
    step: np.ndarray
    evaluations: np.ndarray


def evaluate_offsets(f: ValueFn, pts: np.ndarray, b: np.ndarray, i: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``out[p, j] = f(pts[b[p]] with coordinate i[p] set to values[p, j])``, in chunks of bounded size.

    The probe array of a chunk holds at most CHUNK_VALUES numbers (``values``' dtype, so complex works).
    """
    count, q = values.shape
    n = pts.shape[1]
    out = np.empty((count, q), dtype=np.result_type(float, values.dtype))
    per = max(1, CHUNK_VALUES // (q * n))
    for start in range(0, count, per):
        rows = slice(start, start + per)
        probe = np.repeat(pts[b[rows]].astype(values.dtype), q, axis=0).reshape(-1, q, n)
        probe[np.arange(len(probe))[:, None], np.arange(q)[None, :], i[rows][:, None]] = values[rows]
        with np.errstate(all="ignore"):
            out[rows] = np.asarray(f(probe.reshape(-1, n))).reshape(-1, q)
    return out


def _differences(f: ValueFn, pts, b, i, steps) -> tuple[np.ndarray, np.ndarray]:
    """Central differences over ``steps`` (pairs x steps), nan where a value is not finite, and their
    rounding errors eps (|f(x + h)| + |f(x - h)|) / 2h."""
    x = pts[b, i][:, None]
    up, down = x + steps, x - steps
    values = evaluate_offsets(f, pts, b, i, np.concatenate([up, down], axis=1))
    plus, minus = np.split(values, 2, axis=1)
    with np.errstate(all="ignore"):
        width = (up - x) + (x - down)  # the exact width of the stencil
        d = (plus - minus) / width
        rounding = EPS * (np.abs(plus) + np.abs(minus)) / width
    d[~(np.isfinite(plus) & np.isfinite(minus))] = np.nan
    return d, rounding


def _best(d: np.ndarray, rounding: np.ndarray):
    """Best Richardson estimate per row over the finite suffix of ``d``: (value, error, index, stop)."""
    rows, m = d.shape
    index = np.arange(m)
    last_bad = np.max(np.where(np.isnan(d), index, -1), axis=1)
    table = np.where(index > last_bad[:, None], d, np.nan)
    for level in range(1, LEVELS + 1):  # eliminate h^2, then h^4
        table = table[:, 1:] + (table[:, 1:] - table[:, :-1]) / (4.0**level - 1.0)
    noise = ROUNDING_WEIGHT * rounding[:, LEVELS:]
    with np.errstate(invalid="ignore"):
        jumps = np.abs(np.diff(table, axis=1))
        error = np.full(table.shape, np.inf)
        error[:, 1:-1] = np.maximum(jumps[:, :-1], jumps[:, 1:]) + noise[:, 1:-1] + 2 * EPS * np.abs(table[:, 1:-1])
    error[~np.isfinite(error)] = np.inf
    k = np.argmin(error, axis=1)
    pick = (np.arange(rows), k)
    # shrink further unless the smallest steps are already rounding-dominated and their rounding grows
    tail_error, tail_noise = error[:, -2], noise[:, -2]
    settled = (tail_error <= TAIL * tail_noise) & (noise[:, -1] >= error[pick] / 2)
    stop = np.isfinite(error[pick]) & ((error[pick] <= TARGET * np.abs(table[pick])) | settled)
    return table[pick], error[pick], k + LEVELS, stop


def adaptive_gradient(f: ValueFn, pts: np.ndarray) -> NumericEstimate:
    """Adaptive central differences with Richardson extrapolation at each row of ``pts`` (batch, n).

    Components whose stencil is never finite get nan with an infinite error. Points are taken in
    groups small enough that the table of differences (components x MAX_STEPS) stays within
    CHUNK_VALUES numbers.
    """
    batch, n = pts.shape
    per = max(1, CHUNK_VALUES // (n * MAX_STEPS))
    if batch > per:
        parts = [adaptive_gradient(f, pts[start : start + per]) for start in range(0, batch, per)]
        return NumericEstimate(
            *(np.concatenate([getattr(p, k) for p in parts]) for k in NumericEstimate.__annotations__)
        )
    b, i = np.divmod(np.arange(batch * n), n)
    x = np.abs(pts[b, i])
    scale = 2.0 * 2.0 ** np.ceil(np.log2(np.maximum(np.where(np.isfinite(x), x, 1.0), 1.0)))
    d = np.full((batch * n, MAX_STEPS), np.nan)
    rounding = np.full((batch * n, MAX_STEPS), np.nan)
    value, error = np.full(batch * n, np.nan), np.full(batch * n, np.inf)
    step, used = np.full(batch * n, np.nan), np.zeros(batch * n, dtype=int)
    todo, done = np.flatnonzero(np.isfinite(x)), 0
    while len(todo) and done < MAX_STEPS:
        ks = np.arange(done, min(MAX_STEPS, done + (FIRST if done == 0 else MORE)))
        steps = scale[todo, None] * 2.0 ** -ks[None, :]
        d[todo[:, None], ks], rounding[todo[:, None], ks] = _differences(f, pts, b[todo], i[todo], steps)
        done = ks[-1] + 1
        best, err, k, stop = _best(d[todo, :done], rounding[todo, :done])
        value[todo], error[todo], used[todo] = best, err, 2 * done
        step[todo] = scale[todo] * 2.0**-k
        todo = todo[~stop]
    value[~np.isfinite(error)] = np.nan
    return NumericEstimate(
        value.reshape(batch, n), error.reshape(batch, n), step.reshape(batch, n), used.reshape(batch, n).sum(axis=1)
    )
