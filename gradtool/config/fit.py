"""The ``task: fit`` config: its keys (one definition: validation and JSON Schema) and its plan of fit runs.

The key names are ``FIT_KEYS`` (the ``gradtool fit`` options in snake_case) plus the
config-level ``optimizers``, ``sweep`` and ``output`` that minimize configs have too; allowed names come
from the fitting registries (LOSSES, ACTIVATIONS, FIT_ENGINES) and OPTIMIZERS / SCHEDULES.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

from gradtool.config.fields import Boolean, Const, Field, Number, Path, Text, Where
from gradtool.config.keys import IDENTIFIER, OPTIMIZER, SCHEDULE, hyper_field, hyperparameter_names
from gradtool.config.plan import expand_runs, labelled_paths, located, output_path, run_error
from gradtool.config.shapes import Record, Seq, Union
from gradtool.errors import GradtoolError
from gradtool.params import ParamError

#: The keys of a fit config: the ``gradtool fit`` options in snake_case (``--batch-size`` -> ``batch_size``).
#: ``optimizer`` and ``schedule`` are entries as in minimize configs.
FIT_KEYS = (
    "model", "data", "target", "params", "inputs", "init", "activation", "loss", "l2", "standardize", "optimizer",
    "schedule", "epochs", "batch_size", "test_split", "stratify", "test_data", "early_stopping", "seed", "gradient",
    "every", "save", "load", "grad_stats",
)  # fmt: skip
META_KEYS = ("task", "description")
REQUIRED = ("model", "data", "target")
FIT_RUN_KEYS = ("epochs", "batch_size", "l2", "seed", "gradient", "activation", "init")  # keys a fit sweep may vary
NOT_PASSED = ("optimizer", "schedule", "save")  # keys the plan handles itself (the rest go to gradtool.fit)


def loss_names() -> list[str]:
    from gradtool.fitting.losses import loss_names

    return loss_names()


def activation_names() -> list[str]:
    from gradtool.fitting.models import ACTIVATIONS

    return list(ACTIVATIONS)


def fit_engine_names() -> list[str]:
    from gradtool.fitting.gradients import FIT_ENGINES

    return list(FIT_ENGINES)


@functools.cache
def fit_default(key: str) -> Any:
    """The default of a fit option, from ``gradtool.fitting.prepare.prepare_fit``'s signature."""
    from gradtool.fitting.prepare import prepare_fit

    return inspect.signature(prepare_fit).parameters[key].default


def _names(description: str, pattern: str | None = None, what: str = "column name") -> Union:
    return Union((Text(), Seq(Text(pattern=pattern, what=what))), description=description)


def _option_fields() -> dict[str, Field]:
    """The fields of the ``gradtool fit`` options, keyed as in FIT_KEYS (a missing one is a KeyError)."""
    from gradtool.fitting.prepare import MAX_EPOCHS

    def whole(low: int, description: str, key: str | None = None) -> Number:
        default = fit_default(key) if key else None
        return Number(minimum=low, maximum=MAX_EPOCHS, integer=True, description=description, default=default)

    return {
        "model": Text(description='mlp:IN-H1-...-OUT, linear, logistic, or an expression such as "w*x + b".'),
        "data": Text(description="CSV file with a header row (relative to the config file's folder)."),
        "target": _names("Target column: numbers, or labels for bce/cross-entropy (several: outputs or one-hot)."),
        "params": _names("Expression models: which symbols are parameters.", IDENTIFIER, "parameter name"),
        "inputs": _names("Networks: the input columns (default: every column but the targets)."),
        "init": Union(
            (Text(description='"w=1,b=0" or "random"'), Record(extra=Number()), Seq(Number())),
            description="Expression models: start values (default zeros); networks: random or scale=K.",
        ),
        "activation": Text(choices=activation_names, what="activation", description="Networks: hidden layers."),
        "loss": Text(choices=loss_names, what="loss", description="Default mse; logistic: bce or cross-entropy."),
        "l2": Number(minimum=0, default=fit_default("l2"), description="Adds l2 * sum of squared weights."),
        "standardize": Boolean(default=False, description="Inputs to mean 0, std 1 by the training rows."),
        "optimizer": OPTIMIZER,
        "schedule": SCHEDULE,
        "epochs": whole(0, "Passes over the training rows.", "epochs"),
        "batch_size": whole(1, "Rows per step, reshuffled every epoch (default: all training rows)."),
        "test_split": Number(minimum=0, exclusiveMaximum=1, description="Seeded fraction held out as test rows."),
        "stratify": Boolean(default=False, description="Classifiers: hold out each class's share of test_split."),
        "test_data": Text(description="CSV of held-out rows instead of test_split (relative to the config's folder)."),
        "early_stopping": whole(1, "Stop after this many epochs without a lower test loss; keep the best."),
        "seed": Number(minimum=0, integer=True, default=fit_default("seed"), description="Init, split, shuffles."),
        "gradient": Text(choices=fit_engine_names, what="gradient engine", default=fit_default("gradient")),
        "every": whole(1, "A history row every K epochs (default: about 20 rows)."),
        "save": Text(description="Write the fitted model (.npz) there; use {label} with several runs."),
        "load": Text(description="Start from a model saved by save: (or fit --save)."),
        "grad_stats": Boolean(default=False, description="Networks: per-layer gradient norms per epoch."),
    }


@functools.cache
def fit_fields() -> Record:
    options = _option_fields()
    swept = {**{k: Seq(hyper_field(k)) for k in hyperparameter_names()}, **{k: Seq(options[k]) for k in FIT_RUN_KEYS}}
    fields = {
        "task": Const("fit"),
        "description": Text(description="What the config shows (printed above its results)."),
        **{k: options[k] for k in FIT_KEYS},
        "optimizers": Seq(OPTIMIZER, description="One run per entry (instead of optimizer)."),
        "sweep": Record(swept, description="A grid: each optimizer entry x each combination is a run."),
        "output": Record({"json": Text(description="The --json document of this config.")}),
    }
    return Record(
        fields,
        required=REQUIRED,
        at_most_one=(("optimizer", "optimizers"),),
        description="Fit a model to data (gradtool fit), one run per optimizer entry x sweep value.",
    )


# ---- the plan --------------------------------------------------------------------------------------------


@dataclass
class FitRunSpec:
    """One fit as plain, picklable data: ``gradtool.fit(**options, **inputs)``, then saved to ``save`` (unless
    diverged). ``inputs`` holds the files read when the config was validated (``data``, ``test_data``: tables;
    ``load``: the saved model), so a run reads no file: a worker elsewhere (``--cluster``) gets them with it."""

    label: str
    options: dict[str, Any]
    save: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class FitPlan:
    source: str
    description: str | None
    runs: list[FitRunSpec]
    json_path: str | None = None
    task: str = "fit"


def _blamed_key(message: str, options: dict[str, Any]) -> str:
    """The key an error of ``prepare_fit`` that names no parameter is about: the target's, a data file's
    (its message starts with the path), else the model's (which combines params, inputs, activation)."""
    if "target" in message:
        return "target"
    for key in ("load", "test_data", "data"):
        if options.get(key) and message.startswith(str(options[key])):
            return key
    return "model"


def _read_inputs(data: dict[str, Any], where: Where) -> dict[str, Any]:
    """The files a fit config reads, read: ``data`` and ``test_data`` as tables, ``load`` as a saved model."""
    from gradtool.fitting.data import as_table
    from gradtool.fitting.persist import read_saved

    readers = {"data": as_table, "test_data": as_table, "load": read_saved}
    return {key: located(where, (key,), read, data[key]) for key, read in readers.items() if data.get(key)}


def fit_plan(data: dict[str, Any], where: Where) -> FitPlan:
    """Expand a validated fit config into runs; build every run (nothing trains) and check every output path."""
    from gradtool.fitting.prepare import prepare_fit

    inputs = _read_inputs(data, where)  # read once: every run is checked against them, and carries them
    common = {k: data[k] for k in FIT_KEYS if k in data and k not in NOT_PASSED}
    sweep = data.get("sweep", {})

    def check(path: Path, schedule_path: Path, options: dict[str, Any]) -> None:
        try:
            prepare_fit(**{**options, **inputs})
        except ParamError as exc:
            if exc.key[0] not in FIT_KEYS:  # an optimizer's or its schedule's parameter
                raise run_error(where, exc, path, schedule_path, sweep) from None
            key, detail = str(exc.key[0]), exc.detail
        except GradtoolError as exc:
            key, detail = _blamed_key(str(exc), options), str(exc)
        else:
            return
        at = ("sweep", key) if key in sweep else (key,) if key in data else ("model",)
        raise where.error(at, detail)

    expanded = expand_runs(data, where, FIT_RUN_KEYS, common, check)
    runs = [FitRunSpec(label, options, inputs=inputs) for label, options in expanded]
    if "save" in data:
        for run, target in zip(
            runs, labelled_paths([r.label for r in runs], data["save"], where, ("save",)), strict=True
        ):
            run.save = target
    output = data.get("output", {})
    json_path = output_path(where, ("output", "json"), output["json"]) if "json" in output else None
    return FitPlan(where.source, data.get("description"), runs, json_path)


def execute_fit(spec: FitRunSpec):
    """Train one FitRunSpec (here or in a worker process); its model file appears only when complete."""
    from gradtool.fitting.prepare import fit

    result = fit(**{**spec.options, **spec.inputs})
    if spec.save and result.status != "diverged":  # as `gradtool fit --save`
        result.save(spec.save)
    result.label = spec.label
    result.objective = None  # compiled closures do not pickle (--jobs); theta stays, save/load rebuild it
    return result
