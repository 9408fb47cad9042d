"""FitResult: what one fit reports (``fit --json``), in the RunResult family: same status table and exit codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradtool.errors import DataError
from gradtool.result import EXIT_CODES


@dataclass
class FitRow:
    """One line of the iteration table: the state after ``epoch`` epochs (0: the initial parameters).

    Losses include the l2 penalty; ``grad_norm`` is the norm of the full training set's gradient.
    """

    epoch: int
    train: float
    test: float | None
    grad_norm: float
    lr: float
    accuracy: float | None = None
    test_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train": self.train,
            "test": self.test,
            "grad_norm": self.grad_norm,
            "lr": self.lr,
            "accuracy": self.accuracy,
            "test_accuracy": self.test_accuracy,
        }


@dataclass
class FitResult:
    """One fit. Like :class:`gradtool.result.RunResult`, not finishing is a status (``completed``,
    ``diverged``, ``interrupted``), never an exception; ``exit_code`` comes from the same table.

    ``theta`` is the flat parameter vector (the last finite one), ``objective`` the compiled model + loss,
    so ``predict`` and ``save`` work on the result; neither goes into ``to_dict``. ``label`` names a run
    of a config (``gradtool run``), whose results carry no ``objective``.
    """

    model: str
    kind: str
    loss_function: str
    l2: float
    params: dict[str, float] | None
    describe: dict[str, Any]
    train_loss: float
    test_loss: float | None
    accuracy: dict[str, float | None] | None
    epochs: int
    steps: int
    batch_size: int
    status: str
    message: str
    time_s: float
    grad_norm: float
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    gradient: str
    data: dict[str, Any]
    seed: int
    label: str | None = None
    rows: list[FitRow] = field(default_factory=list)
    theta: np.ndarray | None = field(default=None, repr=False)
    objective: Any = field(default=None, repr=False)
    metrics: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    classes: list | None = None
    coefficients: dict[str, Any] | None = None
    scaling: dict[str, Any] | None = None
    best_epoch: int | None = None
    warnings: list[str] = field(default_factory=list)
    targets: Any = field(default=None, repr=False)
    scaler: Any = field(default=None, repr=False)
    grad_stats: dict[str, Any] | None = None  # fit --grad-stats: GradStats.to_dict()

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def fitted(self):
        """The :class:`~gradtool.fitting.persist.Fitted` model (parameters, targets, scaling) that predicts."""
        from gradtool.fitting.persist import Fitted

        return Fitted(self.objective, self.theta, self.targets, self.scaler)

    def predict(self, x: Any) -> np.ndarray:
        """Predictions ``(rows, outputs)`` in original units: values, or probabilities for classifiers.

        ``x``: a mapping ``{column: values}`` or a CSV path (inputs found by name), or a matrix
        ``(rows, inputs)`` in ``data["inputs"]`` order. Scaling saved by ``standardize`` is applied.
        """
        fitted = self.fitted()
        return fitted.predict(input_matrix(x, fitted.inputs))

    def save(self, path: str) -> None:
        """Write the fitted model to ``path`` (.npz): see :func:`gradtool.fitting.persist.save_model`."""
        from gradtool.fitting.persist import save_model

        save_model(path, self.objective, self.theta, self.targets, self.scaler)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``fit --json`` (documented in docs/fit.md); ``label`` first in a config's runs."""
        out = {
            "model": self.model,
            "params": self.params,
            "loss": {"train": self.train_loss, "test": self.test_loss},
            "accuracy": self.accuracy,
            "epochs": self.epochs,
            "status": self.status,
            "time_s": self.time_s,
            "message": self.message,
            "kind": self.kind,
            "loss_function": self.loss_function,
            "l2": self.l2,
            "layers": self.describe.get("layers"),
            "activation": self.describe.get("activation"),
            "init": self.describe.get("init"),
            "gradient": self.gradient,
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "grad_norm": self.grad_norm,
            "data": self.data,
            "seed": self.seed,
            "metrics": self.metrics,
            "classes": self.classes,
            "coefficients": self.coefficients,
            "standardize": self.scaling,
            "best_epoch": self.best_epoch,
            "warnings": self.warnings,
            "history": [row.to_dict() for row in self.rows],
            "grad_stats": self.grad_stats,
        }
        return out if self.label is None else {"label": self.label, **out}


def input_matrix(x: Any, inputs: list[str]) -> np.ndarray:
    """``(rows, inputs)`` from a mapping or CSV path by column name, or a matrix already in ``inputs`` order."""
    if isinstance(x, str | Path):
        from gradtool.fitting.data import read_csv

        return read_csv(x, min_rows=1).matrix(inputs, "input")
    if isinstance(x, Mapping):
        missing = [name for name in inputs if name not in x]
        if missing:
            raise DataError(f"no input column {missing[0]!r} among {', '.join(map(str, x))}")
        return np.column_stack([np.asarray(x[name], dtype=float) for name in inputs])
    return np.ascontiguousarray(x, dtype=float)
