"""The one result type of a run, its JSON form, and the status table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# status -> (finished normally?, message template)
STATUS: dict[str, tuple[bool, str]] = {
    "converged": (True, "{reason}"),
    "max_steps": (True, "reached the maximum of {steps} steps without meeting a tolerance"),
    "diverged": (False, "at step {step}: {reason}; the result is the last finite point"),
    "interrupted": (False, "interrupted at step {step} ({reason})"),
    # a method that searches found no acceptable step (or no descent direction): x is the last accepted point
    "line_search_failed": (False, "after step {step}: {reason}; the result is the last accepted point"),
    "completed": (True, "trained for {epochs} epochs"),  # fit: every requested epoch ran
    # fit --early-stopping: the held-out loss stopped improving; the best epoch's parameters are the result
    "early_stopped": (
        True,
        "stopped after epoch {epochs}: no lower test loss in {patience} epochs; epoch {best_epoch}'s parameters kept",
    ),
    "error": (False, "{reason}"),  # a run of a sweep raised instead of returning a result (see NoResult)
}

EXIT_CODES = {
    "converged": 0,
    "max_steps": 0,
    "diverged": 1,
    "line_search_failed": 1,
    "interrupted": 130,
    "completed": 0,
    "early_stopped": 0,
    "error": 3,
}


def status_message(status: str, **details: Any) -> str:
    """The human sentence for ``status`` from the status table."""
    return STATUS[status][1].format(**details)


@dataclass
class Row:
    """One line of the iteration table."""

    step: int
    f: float
    grad_norm: float
    lr: float
    x: list[float]


@dataclass
class RunResult:
    """Everything one optimization run reports: the fields of ``minimize --json``.

    ``x``/``f`` are the last (finite) iterate, ``best`` the lowest f seen. Not converging is a status,
    never an exception. ``rows`` are the sampled iteration-table lines; ``path`` the iterates
    kept when recording was asked for (plots: every step, or every k-th of a long run, at their
    ``path_steps``), else None.
    """

    expression: str
    variables: list[str]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    gradient: str
    x0: list[float]
    x: list[float]
    f: float
    grad_norm: float
    steps: int
    status: str
    message: str
    time_s: float
    evaluations: dict[str, int]
    best: dict[str, Any]
    stationary: str | None = None
    label: str | None = None
    rows: list[Row] = field(default_factory=list)
    path: list[list[float]] | None = None
    values: list[float] | None = None
    starts: list[dict[str, Any]] | None = None
    minima: list[dict[str, Any]] | None = None
    note: str | None = None  # e.g. the analytic gradient exceeded its budget: autodiff was used
    path_steps: list[int] | None = None  # the step of each recorded iterate (a long run keeps every k-th)

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def ranked_f(self) -> float:
        """f where lower is better, for ranking runs: -f for a run that ascends (``maximize``)."""
        return -self.f if self.optimizer.get("maximize") else self.f

    def named(self, point: list[float]) -> dict[str, float]:
        return dict(zip(self.variables, point, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object documented in the README (``minimize --json``)."""
        out = {
            "expression": self.expression,
            "variables": self.variables,
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "gradient": self.gradient,
            "x0": self.named(self.x0),
            "x": self.named(self.x),
            "f": self.f,
            "grad_norm": self.grad_norm,
            "steps": self.steps,
            "converged": self.converged,
            "status": self.status,
            "message": self.message,
            "time_s": self.time_s,
            "evaluations": self.evaluations,
            "best": {"x": self.named(self.best["x"]), "f": self.best["f"], "step": self.best["step"]},
            "stationary": self.stationary,
            "note": self.note,
        }
        if self.label is not None:
            out = {"label": self.label, **out}
        if self.starts is not None:
            out["starts"] = self.starts
            out["minima"] = self.minima
        return out


@dataclass
class NoResult:
    """A run of a sweep that returned no result: it raised (status ``error``, e.g. on a Dask worker, or its
    workers kept dying), or ``--cluster`` cancelled it on Ctrl-C / SIGTERM before it finished
    (``interrupted``). Its JSON is ``{"label", "status", "message"}``."""

    label: str | None
    status: str
    message: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "status": self.status, "message": self.message}
