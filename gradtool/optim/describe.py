"""Registry entries described for people and scripts (``gradtool optimizers``, the docs tables): each rule's
formula is read from its docstring, its parameters from its table; nothing here is written twice."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from gradtool.optim.base import OptimizerSpec
from gradtool.optim.registry import ALIASES, OPTIMIZERS
from gradtool.optim.schedules import SCHEDULES, WARMUP, ScheduleSpec


def docstring_parts(fn: Callable[..., Any]) -> tuple[str, str, str]:
    """``(summary, formula, notes)`` of a rule's docstring: its first line, the literal block after ``::``
    (else the first ````...```` of the first line), and the prose around the block."""
    doc = inspect.cleandoc(fn.__doc__ or "").replace("``", "`")
    lines = doc.splitlines()
    summary = lines[0].rstrip(":") if lines else ""
    block_at = next((i for i, line in enumerate(lines) if line.rstrip().endswith("::")), None)
    if block_at is None:
        literal = re.search(r"`(.+?)`", summary)
        formula = literal.group(1) if literal else ""
        return summary, formula, " ".join(" ".join(lines[1:]).split())
    start = next((i for i in range(block_at + 1, len(lines)) if lines[i].strip()), len(lines))
    indent = _indent(lines[start]) if start < len(lines) else 0
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= indent):
        end += 1
    formula = inspect.cleandoc("\n".join(lines[block_at + 1 : end]))
    notes = "\n".join([*lines[1:block_at], *lines[end:]]).strip()
    return summary, formula, " ".join(notes.split())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _torch(prefix: str, name: str | None) -> str | None:
    return f"{prefix}.{name}" if name else None


def describe_optimizer(spec: OptimizerSpec) -> dict[str, Any]:
    """JSON-ready: name, aliases, summary, formula, notes, torch equivalent, parameters, tuple spellings,
    the parameter a schedule may cycle."""
    summary, formula, notes = docstring_parts(spec.function)
    return {
        "name": spec.name,
        "aliases": [alias for alias, name in ALIASES.items() if name == spec.name],
        "summary": summary,
        "formula": formula,
        "notes": notes,
        "torch": _torch("torch.optim", spec.torch),
        "parameters": [p.describe() for p in spec.table.params],
        "torch_spellings": {group: list(members) for group, members in spec.table.groups.items()},
        "cycled_momentum": spec.momentum,
        "limits": dict(spec.limits),
    }


def describe_schedule(spec: ScheduleSpec) -> dict[str, Any]:
    """JSON-ready: name, summary, formula, notes, torch equivalent, parameters (warmup ones included)."""
    summary, formula, notes = docstring_parts(spec.rule)
    return {
        "name": spec.name,
        "summary": summary,
        "formula": formula,
        "notes": notes,
        "torch": _torch("torch.optim.lr_scheduler", spec.torch),
        "parameters": [p.describe() for p in spec.table.params],
        "needs_objective": spec.needs_metric,
        "sets_momentum": spec.sets_momentum,
    }


def describe(name: str) -> dict[str, Any]:
    """The description of an optimizer (aliases resolve) or of a schedule, by name.

    Raises:
        ConfigError: neither an optimizer nor a schedule; the message lists both.
    """
    from gradtool.errors import ConfigError

    if name in OPTIMIZERS:
        return {"kind": "optimizer", **describe_optimizer(OPTIMIZERS[name])}
    if name in SCHEDULES:
        return {"kind": "schedule", **describe_schedule(SCHEDULES[name])}
    raise ConfigError(
        f"no optimizer or schedule {name!r}; optimizers: {', '.join(OPTIMIZERS)}; schedules: {', '.join(SCHEDULES)}"
    )


def optimizer_listing() -> list[dict[str, Any]]:
    return [describe_optimizer(spec) for name, spec in OPTIMIZERS.items() if name == spec.name]


def schedule_listing() -> list[dict[str, Any]]:
    return [describe_schedule(spec) for spec in SCHEDULES.values()]


def parameter_table(params: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> list[str]:
    """Markdown rows ``| name | type | default | allowed | meaning |`` (the docs tables)."""
    rows = ["| parameter | type | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
    for p in params:
        if p["name"] in skip:
            continue
        rows.append(f"| `{p['name']}` | {p['type']} | {p['default_text']} | {p['allowed']} | {p['help']} |")
    return rows


WARMUP_NAMES = tuple(p.name for p in WARMUP)
