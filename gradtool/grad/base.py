"""The one interface every gradient engine offers: value and gradient at a point or a batch of points."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class GradientEngine(Protocol):
    """Value and gradient of f: R^n -> R.

    ``x`` is a float64 array of shape ``(n,)`` (one point: value is a float, gradient shape ``(n,)``)
    or ``(batch, n)`` (values shape ``(batch,)``, gradients shape ``(batch, n)``).
    """

    name: str
    n: int

    def value(self, x: np.ndarray) -> float | np.ndarray: ...

    def gradient(self, x: np.ndarray) -> np.ndarray: ...

    def value_and_gradient(self, x: np.ndarray) -> tuple[float | np.ndarray, np.ndarray]: ...


def as_points(x, n: int) -> tuple[np.ndarray, bool]:
    """Return ``(points of shape (batch, n), was_single)`` for a point or a batch of points."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1 and arr.shape[0] == n:
        return arr.reshape(1, n), True
    if arr.ndim == 2 and arr.shape[1] == n:
        return arr, False
    raise ValueError(f"expected shape ({n},) or (batch, {n}), got {arr.shape}")
