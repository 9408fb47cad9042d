"""YAML configs -> validated run descriptions -> results; the front doors of `run`, `compare` and `schema`.

``keys`` holds the one definition of the keys (it validates and yields the JSON Schema) and the task registry;
``yamlfile`` reads safe YAML with line numbers and applies ``--set``; ``plan`` expands sweeps into labelled
runs; ``fit`` is the fit task's keys and plan; ``execute`` runs them (``--jobs``) and writes outputs atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from gradtool.config.fields import Where
from gradtool.config.keys import CONFIG, TASKS, TaskSpec
from gradtool.config.paths import check_plan_files, resolve_paths
from gradtool.config.shapes import schema_document
from gradtool.errors import ConfigError

__all__ = [
    "TASKS",
    "TaskSpec",
    "compare",
    "config_schema",
    "load_config",
    "load_configs",
    "run_files",
    "validate",
]


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file, generated from the definition that validates."""
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gradtool config",
        "description": f"One task per file: {', '.join(TASKS)} (minimize is the default). See docs/configs.md.",
    }
    return schema_document(CONFIG, **head)


def validate(data: dict[str, Any], where: Where, folder: str | None = None):
    """Check ``data`` against the definition and build its plan: nothing is run or written. With ``folder``
    (the config file's folder), relative paths in the config resolve against it."""
    checked = CONFIG.check(data, (), where)
    if folder is not None:
        resolve_paths(checked, where, folder)
    return TASKS[checked.get("task", "minimize")].plan(checked, where)


def load_config(file: str, overrides: Sequence[str] = ()):
    """Read a config file, apply ``--set KEY.PATH=VALUE`` overrides, validate everything; return its plan.

    Raises:
        ConfigError: malformed YAML, a bad override or an invalid config, in one line naming the file, the
            line, the key path and what is allowed.
    """
    return load_configs([file], overrides)[0]


def load_configs(files: Sequence[str], overrides: Sequence[str] = ()) -> list:
    """Load and validate every file (see :func:`load_config`); then refuse an output of any of them that is
    an input of any of them (a config, a data file), two outputs on the same file, two on stdout."""
    from gradtool.config.yamlfile import apply_override, read_config  # PyYAML: only when a file is read

    plans, wheres = [], []
    for file in files:
        data, where = read_config(file)
        for assignment in overrides:
            apply_override(data, where, assignment)
        plans.append(validate(data, where, os.path.dirname(file)))
        wheres.append(where)
    check_plan_files(plans, wheres)
    return plans


def run_files(
    files: Sequence[str],
    overrides: Sequence[str] = (),
    jobs: int = 1,
    record: bool = False,
    executor: Any = None,
    progress: Any = None,
):
    """`gradtool run`: validate every file first (nothing runs if one is bad), then run them all.

    Returns one :class:`~gradtool.config.execute.FileResult` per file, in order. ``record`` keeps every
    iterate of minimize runs (for pictures); ``jobs``, ``executor`` (e.g. ``gradtool.cluster.Dask``) and
    ``progress``: see :func:`~gradtool.config.execute.run_plans`.
    """
    from gradtool.config.execute import run_plans

    if not files:
        raise ConfigError("no config file given")
    return run_plans(load_configs(files, overrides), jobs=jobs, record=record, executor=executor, progress=progress)


def compare(
    expr: str,
    optimizers: Sequence[str | Mapping[str, Any]],
    *,
    x0: Any = None,
    hyper: dict[str, Any] | None = None,
    schedule: str | Mapping[str, Any] | None = None,
    schedule_options: dict[str, Any] | None = None,
    starts: dict[str, Any] | None = None,
    jobs: int = 1,
    record: bool = False,
    executor: Any = None,
    progress: Any = None,
    **run: Any,
):
    """`gradtool compare`: the config a file would hold, built from options, validated and run the same way.

    ``optimizers`` are entries as a config writes them: names, calls (``"adam(lr=0.01)"``) or mappings. A
    hyperparameter in ``hyper`` goes to every listed optimizer that has it and does not set it itself (a
    ParamError if none has it); ``schedule`` is a name, a call or a mapping (``schedule_options`` are added
    to it); ``run`` holds top-level keys (gradient, steps, tol, ftol, xtol, dim, variables; None means the
    default); ``jobs``, ``executor`` and ``progress`` as for :func:`~gradtool.config.execute.run_plans`.
    """
    from gradtool.config.calls import is_call, parse_call
    from gradtool.config.execute import run_plans
    from gradtool.optim.registry import merge_hyper

    def entry(value: str | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(value, Mapping):
            return dict(value)
        return parse_call(value) if is_call(value) else {"name": value.strip()}

    entries = [entry(v) for v in optimizers if not isinstance(v, str) or v.strip()]
    if not entries:
        raise ConfigError("compare needs at least one optimizer, e.g. gd,momentum,adam")
    data: dict[str, Any] = {"function": expr, "optimizers": merge_hyper(entries, hyper or {})}
    data.update({k: v for k, v in {**run, "x0": x0, "starts": starts}.items() if v is not None})
    if schedule is not None or schedule_options:
        data["schedule"] = {**entry(schedule or "constant"), **(schedule_options or {})}
    plan = validate(data, Where("compare"))
    return run_plans([plan], jobs=jobs, record=record, executor=executor, progress=progress)[0]
