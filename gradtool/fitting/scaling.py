"""Input scaling: ``--standardize`` (mean and standard deviation of the training rows, stored with the model)
and, without it, the warnings a user needs before an unscaled fit diverges or crawls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradtool.errors import DataError
from gradtool.params import DataParamError

SPREAD = 100.0  # warn when input columns' standard deviations differ by more than this factor
PLAIN_DESCENT = ("gd", "sgd", "momentum", "nag")  # no per-coordinate step scaling: the stable lr is 2/L
CURVATURE = {"mse": 2.0, "bce": 0.25, "cross-entropy": 0.5}  # bound on the loss's second derivative


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / std`` per input column; ``std`` is the population standard deviation of the training
    rows (scikit-learn's StandardScaler), 1 for a constant column (which is then only centred)."""

    columns: list[str]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, columns: list[str], x: np.ndarray) -> Standardizer:
        with np.errstate(all="ignore"):
            mean, std = np.mean(x, axis=0), np.std(x, axis=0)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise DataParamError("standardize", "an input column's mean or standard deviation overflows")
        return cls(list(columns), mean, np.where(std > 0, std, 1.0))

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((x - self.mean) / self.std)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], inputs: list[str], where: str) -> Standardizer:
        try:
            mean, std = np.array(data["mean"], dtype=float), np.array(data["std"], dtype=float)
            ok = list(data["columns"]) == list(inputs) and mean.shape == std.shape == (len(inputs),)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok or not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise DataError(f"{where}: bad standardization record (columns, mean, std)")
        return cls(list(inputs), mean, std)


def _shown(value: float) -> str:
    return f"{value:.3g}"


def spread_warning(columns: list[str], x: np.ndarray) -> str | None:
    """One line when the (non-constant) input columns' standard deviations differ by more than SPREAD."""
    with np.errstate(all="ignore"):  # huge columns: inf spreads are still a spread
        std = np.std(x, axis=0)
    varying = [(s, c) for s, c in zip(std.tolist(), columns, strict=True) if s > 0]
    if len(varying) < 2:
        return None
    (low, small), (high, large) = min(varying), max(varying)
    if high <= SPREAD * low:
        return None
    return (
        f"input columns differ in scale by {high / low:,.0f}x (standard deviation of {small!r}: {_shown(low)}, "
        f"of {large!r}: {_shown(high)}); --standardize puts them on one scale"
    )


def stable_lr(x: np.ndarray, loss: str) -> float | None:
    """``2 / L`` for an affine model on ``x``: L bounds the loss's curvature, the largest eigenvalue of
    ``c/n [x 1]^T [x 1]`` with ``c`` the loss's second-derivative bound (mse 2, bce 1/4, cross-entropy 1/2)."""
    if loss not in CURVATURE or not len(x):
        return None
    design = np.column_stack([x, np.ones(len(x))])
    with np.errstate(all="ignore"):
        moments = design.T @ design / len(x)
    if not np.all(np.isfinite(moments)):
        return 0.0
    top = float(np.linalg.eigvalsh(moments)[-1])
    return 2.0 / (CURVATURE[loss] * top) if top > 0 else None


def lr_warning(x: np.ndarray, loss: str, optimizer: str, lr: float) -> str | None:
    """One line when plain gradient descent's lr is above the stable limit of an affine fit on ``x``."""
    limit = stable_lr(x, loss) if optimizer in PLAIN_DESCENT else None
    if limit is None or lr <= limit:
        return None
    return (
        f"lr {lr:g} is above 2/L = {limit:.2g}, the largest stable step of {optimizer} on these unscaled "
        f"inputs (L: the loss's largest curvature): it will likely diverge; use --standardize or --lr below {limit:.2g}"
    )
