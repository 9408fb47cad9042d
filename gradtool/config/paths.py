"""Paths in configs: relative ones resolve against the config file's folder (a value given with ``--set``
against the working directory, like every path on the command line); the files a plan reads and writes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from gradtool.config.fields import Path, Where, format_path
from gradtool.errors import ConfigError
from gradtool.io import STDOUT, OutputError, check_outputs

# every key whose value is a file path (inputs: data, test_data, load; outputs: save, output.trajectory, output.json)
PATH_KEYS: tuple[Path, ...] = (
    ("data",), ("test_data",), ("load",), ("save",), ("output", "trajectory"), ("output", "json"),
)  # fmt: skip


def from_set(where: Where, path: Path) -> bool:
    """True when the value at ``path`` (or a mapping around it) came from a ``--set`` override."""
    return any(path[:k] in where.overrides for k in range(len(path) + 1))


def resolve_paths(data: dict[str, Any], where: Where, folder: str) -> dict[str, Any]:
    """Join every relative path of the validated ``data`` to ``folder`` (the config file's folder), in place,
    except ``-`` (stdout) and the values that came from ``--set``."""
    for path in PATH_KEYS:
        node: Any = data
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        value = node.get(path[-1]) if isinstance(node, dict) else None
        if isinstance(value, str) and value != STDOUT and not os.path.isabs(value) and not from_set(where, path):
            node[path[-1]] = os.path.join(folder, value)
    return data


def plan_outputs(plan: Any) -> list[tuple[Path, str]]:
    """``(key path, file)`` for every file the plan writes: per-run trajectories or models, its JSON."""
    out: list[tuple[Path, str]] = []
    for run in plan.runs if hasattr(plan, "runs") else ():
        if getattr(run, "trajectory", None):
            out.append((("output", "trajectory"), run.trajectory))
        if getattr(run, "save", None):
            out.append((("save",), run.save))
    if plan.json_path:
        out.append((("output", "json"), plan.json_path))
    return out


def plan_inputs(plan: Any) -> list[tuple[str, str]]:
    """``(what, file)`` for every file the plan reads: the config itself, a fit's data and start model."""
    out = [(f"the config file {plan.source}", plan.source)]
    for run in plan.runs if hasattr(plan, "runs") else ():
        options = getattr(run, "options", {})
        for key in ("data", "test_data", "load"):
            if isinstance(options.get(key), str):
                out.append((f"the {key} file of {plan.source}", options[key]))
    return list(dict.fromkeys(out))


def check_plan_files(plans: Sequence[Any], wheres: Sequence[Where]) -> None:
    """Refuse, before anything runs, an output of any plan that is an input of any of them (a config file,
    a data file), two outputs that are the same file, or two outputs on stdout; errors name the key path."""
    reads = [item for plan in plans for item in plan_inputs(plan)]
    writes = [
        (f"{where.locate(path)}: {format_path(path)}", target)
        for plan, where in zip(plans, wheres, strict=True)
        for path, target in plan_outputs(plan)
    ]
    try:
        check_outputs(writes, reads)
    except OutputError as exc:
        raise ConfigError(str(exc)) from None


def writes_stdout(plans: Sequence[Any]) -> bool:
    """True when an output of these plans is ``-`` (stdout)."""
    return any(target == STDOUT for plan in plans for _, target in plan_outputs(plan))
