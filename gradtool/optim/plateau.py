"""ReduceLROnPlateau: a schedule that follows the objective, pure with explicit state like the optimizers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np


class PlateauState(NamedTuple):
    """The lr to use now and torch's counters; arrays of shape ``()`` for a run, ``(batch,)`` for a batch."""

    lr: Any
    best: Any
    bad_epochs: Any
    cooldown_counter: Any


@dataclass(frozen=True)
class Plateau:
    """``state = init(lr)``; after each step (minimize) or epoch (fit) ``state = observe(state, value)``;
    ``state.lr`` is the lr of the next one. Elementwise, so one state can follow a batch of runs."""

    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_lr: float
    eps: float

    def init(self, lr: float, batch: int | None = None) -> PlateauState:
        import numpy as np  # here, not at the top: the schedule registry is read while the CLI builds --help

        shape = () if batch is None else (batch,)
        worst = np.full(shape, np.inf if self.mode == "min" else -np.inf)
        zeros = np.zeros(shape, dtype=int)
        return PlateauState(np.full(shape, float(lr)), worst, zeros, zeros)

    def _better(self, value: np.ndarray, best: np.ndarray) -> np.ndarray:
        if self.mode == "min":
            return value < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return value > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def observe(self, state: PlateauState, value: float | np.ndarray) -> PlateauState:
        """One ``ReduceLROnPlateau.step(value)``: count a bad epoch unless ``value`` beats the best by the
        threshold; after ``patience`` of them cut the lr by ``factor`` (not below ``min_lr``, and only if the
        cut exceeds ``eps``), then wait ``cooldown`` epochs before counting again."""
        import numpy as np

        value = np.asarray(value, dtype=float)
        better = self._better(value, state.best)
        best = np.where(better, value, state.best)
        bad = np.where(better, 0, state.bad_epochs + 1)
        cooling = state.cooldown_counter > 0
        cooldown = np.where(cooling, state.cooldown_counter - 1, state.cooldown_counter)
        bad = np.where(cooling, 0, bad)
        cut = bad > self.patience
        new_lr = np.maximum(state.lr * self.factor, self.min_lr)
        lr = np.where(cut & (state.lr - new_lr > self.eps), new_lr, state.lr)
        return PlateauState(lr, best, np.where(cut, 0, bad), np.where(cut, self.cooldown, cooldown))


def plateau(
    lr: float,
    mode: str,
    factor: float,
    patience: int,
    threshold: float,
    threshold_mode: str,
    cooldown: int,
    min_lr: float,
    eps: float,
) -> Plateau:
    """Reduce the lr when the objective stops improving (torch ``ReduceLROnPlateau``)::

        better = f < best * (1 - threshold)      (mode=min, threshold_mode=rel; abs: f < best - threshold)
        bad = 0 if better else bad + 1           (and 0 during a cooldown)
        if bad > patience: lr = max(lr * factor, min_lr) if that cuts it by more than eps;
                           then cooldown steps without counting

    It observes f after every step of ``minimize`` and the training loss after every epoch of ``fit``
    (full batch: after every step), so ``patience`` and ``cooldown`` count those. Keras has
    ``ReduceLROnPlateau`` as a callback; Optax ``contrib.reduce_on_plateau`` scales the updates instead.
    """
    return Plateau(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps)
