"""The distinct minima of a multi-start run: its end points grouped greedily, in O(n log n) plus local work."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SMALL = 16  # candidate sets up to this size are checked in plain Python (cheaper than numpy calls)


def distinct_minima(x: np.ndarray, f: np.ndarray, tol: float = 1e-3, sense: float = 1.0) -> list[dict[str, Any]]:
    """Cluster end points closer than ``tol * max(1, |centre|)``; each cluster reports its best point and count.

    Greedy in order of f (of -f with ``sense=-1``: maxima): a point joins the first (best) cluster centre
    within reach, else starts a cluster. Sorted the same way.

    Computed centre by centre, which gives the same clusters: the best point not yet in a cluster becomes a
    centre and takes every remaining point within its reach (an earlier centre has taken all it could).
    Candidates come from a grid over two fixed directions (distances there are at most the true ones), its
    cells as wide as (nearly) every reach: sorting is O(n log n), then each centre looks at its own neighbourhood.
    """
    n = len(x)
    if n == 0:
        return []
    order = np.argsort(sense * f, kind="stable")
    xs, fs = x[order], f[order]  # rank order: index i is the i-th best end point
    grid = _Grid(xs, tol * np.maximum(1.0, np.linalg.norm(xs, axis=1)))
    out = []
    for c in range(n):
        if not grid.taken[c]:
            count = grid.take_within_reach(c)
            out.append({"x": grid.rows[c], "f": float(fs[c]), "count": count})
    return out


class _Grid:
    """Points bucketed by their projections on (up to) two fixed orthonormal directions; cells sorted row by
    row, so that one row of a neighbourhood is one contiguous range of the sorted points."""

    def __init__(self, xs: np.ndarray, reaches: np.ndarray):
        n, d = xs.shape
        k = min(d, 2)
        basis, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(d, k)))  # fixed: the same clusters always
        q = xs @ basis
        self.xs, self.rows, self.reaches = xs, xs.tolist(), reaches.tolist()
        self.taken = bytearray(n)
        top, typical = float(reaches.max()), float(np.quantile(reaches, 0.9))
        self.cell = top if top <= 2 * typical else typical  # every point, or nine in ten, looks at 3 x 3 cells
        cells = np.floor(q / self.cell).astype(np.int64)
        ci = cells[:, 0]
        cj = cells[:, 1] - cells[:, 1].min() if k == 2 else np.zeros(n, dtype=np.int64)
        self.span = int(cj.max()) + 3  # row stride: columns span-2 and span-1 stay empty
        key = ci * self.span + cj
        by_key = np.argsort(key, kind="stable")
        self.keys, self.sorted = key[by_key], by_key.tolist()
        self.ci, self.cj = ci, cj
        # the three row ranges of each point's 3 x 3 neighbourhood, found at once
        bounds = [np.searchsorted(self.keys, key + di * self.span + s, side) for di in (-1, 0, 1) for s, side in
                  ((-1, "left"), (1, "right"))]  # fmt: skip
        self.ranges = np.stack(bounds, axis=1).tolist()
        self.q0 = q[:, 0]  # for a centre whose reach spans many cells (far from the others' scale)
        self.by_q0 = np.argsort(self.q0, kind="stable")
        self.q0_sorted = self.q0[self.by_q0]

    def _candidates(self, c: int) -> list[int]:
        reach = self.reaches[c]
        m = math.ceil(reach / self.cell)
        if m <= 1:
            a, b, c2, d, e, f = self.ranges[c]
            return self.sorted[a:b] + self.sorted[c2:d] + self.sorted[e:f]
        if m > 4:  # a window along the first direction instead of (2m + 1)^2 cells
            lo = np.searchsorted(self.q0_sorted, self.q0[c] - reach)
            hi = np.searchsorted(self.q0_sorted, self.q0[c] + reach, "right")
            return self.by_q0[lo:hi].tolist()
        out: list[int] = []
        for di in range(-m, m + 1):
            base = (int(self.ci[c]) + di) * self.span + int(self.cj[c])
            lo, hi = np.searchsorted(self.keys, base - m), np.searchsorted(self.keys, base + m, "right")
            out.extend(self.sorted[lo:hi])
        return list(dict.fromkeys(out))  # ranges of neighbouring rows may overlap

    def take_within_reach(self, c: int) -> int:
        """Take ``c`` and every point not yet taken, after it in rank, within its reach; return how many."""
        reach, taken = self.reaches[c], self.taken
        candidates = [j for j in self._candidates(c) if j > c and not taken[j]]
        taken[c] = 1
        if len(candidates) <= SMALL:
            centre, rows = self.rows[c], self.rows
            near = [j for j in candidates if math.dist(rows[j], centre) <= reach]
            for j in near:
                taken[j] = 1
            return 1 + len(near)
        idx = np.array(candidates, dtype=np.int64)
        near = idx[np.linalg.norm(self.xs[idx] - self.xs[c], axis=1) <= reach]
        np.frombuffer(taken, dtype=np.uint8)[near] = 1
        return 1 + len(near)
