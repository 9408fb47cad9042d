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
from gradtool.optim.searching import LINE_SEARCHES, LineSearchSpec


def docstring_parts(fn: Callable[..., Any]) -> tuple[str, str, str]:
    """``(summary, formula, notes)`` of a rule's docstring: its first line, the first literal block after
    ``::`` (else the first ````...```` of the first line), and the rest as Markdown (paragraphs joined,
    later literal blocks fenced)."""
    doc = inspect.cleandoc(fn.__doc__ or "").replace("``", "`")
    lines = doc.splitlines()
    first = _first_paragraph(lines)
    summary = " ".join(line.strip() for line in lines[:first]).rstrip(":")
    block = _literal_block(lines, 0)
    if block is None:
        literal = re.search(r"`(.+?)`", summary)
        return summary, literal.group(1) if literal else "", _markdown(lines[first:])
    start, end = block
    formula = inspect.cleandoc("\n".join(lines[start:end]))
    return summary, formula, _markdown([*lines[first : max(first, start - 1)], *lines[end:]])


def _first_paragraph(lines: list[str]) -> int:
    """The end of the summary: the first paragraph, up to a blank line or the line that opens a literal
    block with ``::`` (a summary may wrap over several lines)."""
    end = 0
    while end < len(lines) and lines[end].strip():
        end += 1
        if lines[end - 1].rstrip().endswith("::"):
            break
    return end


def _literal_block(lines: list[str], since: int) -> tuple[int, int] | None:
    """``(first, end)`` line indexes of the first literal block after a line ending in ``::``, or None."""
    at = next((i for i in range(since, len(lines)) if lines[i].rstrip().endswith("::")), None)
    if at is None:
        return None
    start = next((i for i in range(at + 1, len(lines)) if lines[i].strip()), len(lines))
    indent = _indent(lines[start]) if start < len(lines) else 0
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= indent):
        end += 1
    return at + 1, end


def _markdown(lines: list[str]) -> str:
    """Docstring prose as Markdown: paragraphs on one line each, literal blocks fenced."""
    out: list[str] = []
    paragraph: list[str] = []
    i = 0
    while i < len(lines):
        block = _literal_block(lines, i)
        stop = block[0] - 1 if block else len(lines)
        for line in lines[i : stop + 1 if block else stop]:
            if line.strip():
                paragraph.append(line.strip().replace("::", ":") if line.rstrip().endswith("::") else line.strip())
            elif paragraph:
                out.append(" ".join(paragraph))
                paragraph = []
        if paragraph:
            out.append(" ".join(paragraph))
            paragraph = []
        if block is None:
            break
        out.append("```\n" + inspect.cleandoc("\n".join(lines[block[0] : block[1]])) + "\n```")
        i = block[1]
    return "\n\n".join(out)


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


def describe_line_search(spec: LineSearchSpec) -> dict[str, Any]:
    """JSON-ready: name, summary, formula, notes, parameters (``none`` has no rule and no parameters)."""
    summary, formula, notes = docstring_parts(spec.function) if spec.function else (spec.summary, "", "")
    parameters = [p.describe() for p in spec.table.params]
    return {
        "name": spec.name,
        "summary": summary,
        "formula": formula,
        "notes": notes,
        "torch": None,
        "parameters": parameters,
    }


def describe(name: str) -> dict[str, Any]:
    """The description of an optimizer (aliases resolve), a schedule or a line search, by name.

    Raises:
        ConfigError: none of them; the message lists them all.
    """
    from gradtool.errors import ConfigError

    if name in OPTIMIZERS:
        return {"kind": "optimizer", **describe_optimizer(OPTIMIZERS[name])}
    if name in SCHEDULES:
        return {"kind": "schedule", **describe_schedule(SCHEDULES[name])}
    if name in LINE_SEARCHES:
        return {"kind": "line search", **describe_line_search(LINE_SEARCHES[name])}
    raise ConfigError(
        f"no optimizer, schedule or line search {name!r}; optimizers: {', '.join(OPTIMIZERS)}; schedules: "
        f"{', '.join(SCHEDULES)}; line searches: {', '.join(LINE_SEARCHES)}"
    )


def optimizer_listing() -> list[dict[str, Any]]:
    return [describe_optimizer(spec) for name, spec in OPTIMIZERS.items() if name == spec.name]


def schedule_listing() -> list[dict[str, Any]]:
    return [describe_schedule(spec) for spec in SCHEDULES.values()]


def line_search_listing() -> list[dict[str, Any]]:
    return [describe_line_search(spec) for spec in LINE_SEARCHES.values()]


def parameter_table(params: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> list[str]:
    """Markdown rows ``| name | type | default | allowed | meaning |`` (the docs tables)."""
    rows = ["| parameter | type | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
    for p in params:
        if p["name"] in skip:
            continue
        cells = [f"`{p['name']}`", *(str(p[key]) for key in ("type", "default_text", "allowed", "help"))]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")  # a | ends a cell
    return rows


WARMUP_NAMES = tuple(p.name for p in WARMUP)
