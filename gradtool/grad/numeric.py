"""The numeric engine: finite differences, every perturbed point of a gradient in one vectorized call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradtool.grad.base import as_points
from gradtool.grad.richardson import FIRST, NumericEstimate, adaptive_gradient

EPS = float(np.finfo(float).eps)

# fixed-step method -> (offsets in units of h, weights, divisor, order of the default step eps**(1/order))
STENCILS: dict[str, tuple[tuple[float, ...], tuple[float, ...], float, int]] = {
    "forward": ((1.0, 0.0), (1.0, -1.0), 1.0, 2),
    "backward": ((0.0, -1.0), (1.0, -1.0), 1.0, 2),
    "central": ((1.0, -1.0), (1.0, -1.0), 2.0, 3),
    "five-point": ((2.0, 1.0, -1.0, -2.0), (-1.0, 8.0, -8.0, 1.0), 12.0, 5),
}

#: Every numeric method, the one source of their names (CLI help, configs, schema and docs are checked
#: against it): name -> one-line description.
METHODS: dict[str, str] = {
    "adaptive": "central differences over steps s/2^k, Richardson extrapolation, the estimate of least estimated error",
    "complex": "complex step Im f(x + i h e_i) / h (complex-analytic f only)",
    "central": "(f(x + h e_i) - f(x - h e_i)) / 2h, h = eps^(1/3) max(1, |x_i|)",
    "forward": "(f(x + h e_i) - f(x)) / h, h = eps^(1/2) max(1, |x_i|)",
    "backward": "(f(x) - f(x - h e_i)) / h, h = eps^(1/2) max(1, |x_i|)",
    "five-point": "(-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h, h = eps^(1/5) max(1, |x_i|)",
}

CHUNK_VALUES = 4_000_000
ValueFn = Callable[[np.ndarray], np.ndarray]  # (batch, n) -> (batch,)


def default_steps(x: np.ndarray, method: str) -> np.ndarray:
    """h_i = eps^(1/2) max(1, |x_i|) forward/backward, eps^(1/3) central, eps^(1/5) five-point."""
    return EPS ** (1.0 / STENCILS[method][3]) * np.maximum(1.0, np.abs(x))


def difference_gradient(f: ValueFn, pts: np.ndarray, method: str = "central", h=None) -> np.ndarray:
    """Finite-difference gradients at ``pts`` (shape ``(batch, n)``), one call of ``f`` for all of them.

    ``h`` is a scalar or per-coordinate step; by default the steps above. Each step is rounded so that
    ``x + h`` is exactly representable ((x + h) - x), which removes one source of rounding error.
    """
    offsets, weights, divisor, _ = STENCILS[method]
    batch, n = pts.shape
    chunk = max(1, CHUNK_VALUES // (len(offsets) * n * n))
    if batch > chunk:  # bound memory: the probe array holds k * batch * n * n numbers
        parts = [difference_gradient(f, pts[i : i + chunk], method, h) for i in range(0, batch, chunk)]
        return np.concatenate(parts)
    steps = _stencil_steps(pts, method, h)
    k = len(offsets)
    block = max(1, CHUNK_VALUES // (k * batch * n))  # coordinates per call: one point of 10^4 variables
    out = np.empty((batch, n))  # would need a (k, 1, 10^4, 10^4) probe, 1.6 GB, at once
    for start in range(0, n, block):
        coords = np.arange(start, min(n, start + block))
        # shape (k, batch, m, n): perturb coordinate coords[i] of point b by offsets[j] * h[b, coords[i]]
        probe = np.broadcast_to(pts[None, :, None, :], (k, batch, len(coords), n)).copy()
        for j, c in enumerate(offsets):
            probe[j, :, np.arange(len(coords)), coords] += c * steps[:, coords].T
        with np.errstate(all="ignore"):
            values = np.asarray(f(probe.reshape(-1, n)), dtype=float).reshape(k, batch, len(coords))
            total = sum(w * values[j] for j, w in enumerate(weights))
            out[:, coords] = total / (divisor * steps[:, coords])
    return out


def _stencil_steps(pts: np.ndarray, method: str, h) -> np.ndarray:
    steps = default_steps(pts, method) if h is None else np.broadcast_to(np.asarray(h, float), pts.shape)
    return (pts + steps) - pts


class NumericEngine:
    """Value from a vectorized function, gradient by a numeric method of ``METHODS``.

    ``complex_fn`` (complex points -> complex values) is needed by the ``complex`` method only.
    ``estimate`` also returns each component's step and, for adaptive and complex, its error estimate.
    """

    name = "numeric"

    def __init__(self, value_fn: ValueFn, n: int, method: str = "central", h: float | None = None, complex_fn=None):
        if method not in METHODS:
            raise ValueError(f"unknown difference method {method!r} (known: {', '.join(METHODS)})")
        if method == "complex" and complex_fn is None:
            raise ValueError("the complex method needs a complex-valued version of f")
        self._f = value_fn
        self._fc = complex_fn
        self.n = n
        self.method = method
        self.h = h
        per_coordinate = {"adaptive": 2 * FIRST, "complex": 1}.get(method) or len(STENCILS.get(method, ((),))[0])
        self.evaluations_per_gradient = per_coordinate * n  # adaptive: updated to the last call's mean

    def value(self, x):
        pts, single = as_points(x, self.n)
        with np.errstate(all="ignore"):
            v = np.asarray(self._f(pts), dtype=float)
        return float(v[0]) if single else v

    def estimate(self, pts: np.ndarray) -> NumericEstimate:
        """The gradient at each row of ``pts`` (batch, n) with its steps, error estimates and cost."""
        if self.method == "adaptive":
            result = adaptive_gradient(self._f, pts)
            self.evaluations_per_gradient = int(round(float(np.mean(result.evaluations))))
            return result
        if self.method == "complex":
            from gradtool.grad.complexstep import complex_step_gradient

            return complex_step_gradient(self._fc, self._f, pts, self.h)
        g = difference_gradient(self._f, pts, self.method, self.h)
        count = np.full(len(pts), self.evaluations_per_gradient)
        return NumericEstimate(g, None, _stencil_steps(pts, self.method, self.h), count)

    def gradient(self, x):
        pts, single = as_points(x, self.n)
        g = self.estimate(pts).gradient
        return g[0] if single else g

    def value_and_gradient(self, x):
        return self.value(x), self.gradient(x)


def step_sweep(f: ValueFn, x: np.ndarray, exact: np.ndarray, steps: np.ndarray) -> dict[str, np.ndarray]:
    """Max relative error of forward and central differences against ``exact`` for each step in ``steps``.

    Returns ``{"h": steps, "forward": errors, "central": errors}``; the relative error of a component is
    ``|numeric - exact| / max(|exact|, 1e-300)`` and the maximum over components is reported.
    """
    pts = np.asarray(x, float).reshape(1, -1)
    scale = np.maximum(np.abs(exact), 1e-300)
    out: dict[str, np.ndarray] = {"h": np.asarray(steps, float)}
    for method in ("forward", "central"):
        errs = [np.max(np.abs(difference_gradient(f, pts, method, h)[0] - exact) / scale) for h in steps]
        out[method] = np.array(errs)
    return out
