"""The docs' registry blocks, generated from the registries: ``python -m gradtool.optim.docs`` (``make docs``)
rewrites them in docs/optimizers.md and docs/configs.md; a test fails when one is stale or missing.

A block is ``<!-- registry: KIND [NAME] -->`` ... ``<!-- /registry -->``; KIND is ``optimizer NAME`` (its
formula, notes and parameter table), ``schedule NAME``, ``line-search NAME``, ``optimizer-table`` or
``schedule-table`` (one row per entry: its parameters and defaults).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gradtool.optim.describe import WARMUP_NAMES, describe, optimizer_listing, parameter_table, schedule_listing

BLOCK = re.compile(r"(<!-- registry: ([a-z-]+)(?: ([a-z_-]+))? -->\n)(.*?)(<!-- /registry -->)", re.S)
FILES = ("docs/optimizers.md", "docs/configs.md")


def entry_block(name: str) -> str:
    """An optimizer's or schedule's formula, the notes on other libraries, its parameter table."""
    entry = describe(name)
    torch = f"torch: `{entry['torch']}`." if entry["torch"] else "torch: none."
    stop = "" if entry["summary"].endswith(".") else "."
    lines = [f"{entry['summary']}{stop} {torch}", "", "```", entry["formula"], "```", ""]
    if entry["notes"]:
        lines += [entry["notes"], ""]
    skip = _warmup(entry) if entry["kind"] == "schedule" else ()
    lines += parameter_table(entry["parameters"], skip)
    for group, members in entry.get("torch_spellings", {}).items():
        lines += ["", f"torch's tuple `{group}` is accepted for `{', '.join(members)}`."]
    return "\n".join(lines) + "\n"


def _warmup(entry: dict) -> tuple[str, ...]:
    """The warmup parameters, left out of a schedule's table (they are described once, for all)."""
    return WARMUP_NAMES if any(p["name"] == "warmup" for p in entry["parameters"]) else ()


def _defaults(parameters: list[dict], skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"`{p['name']}` ({p['default_text']})" for p in parameters if p["name"] not in skip)


def table_block(kind: str) -> str:
    """One row per optimizer (or schedule): its name, aliases, parameters and defaults."""
    if kind == "optimizer-table":
        rows = ["| optimizer | hyperparameters (default) |", "| --- | --- |"]
        for e in optimizer_listing():
            rows.append(f"| {', '.join(f'`{n}`' for n in [e['name'], *e['aliases']])} | {_defaults(e['parameters'])} |")
    else:
        rows = ["| schedule | parameters (default) |", "| --- | --- |"]
        rows += [f"| `{e['name']}` | {_defaults(e['parameters'], _warmup(e)) or '-'} |" for e in schedule_listing()]
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """``text`` with every registry block regenerated."""

    def block(m: re.Match) -> str:
        kind, name = m.group(2), m.group(3)
        body = entry_block(name) if kind in ("optimizer", "schedule", "line-search") else table_block(kind)
        return m.group(1) + body + m.group(5)

    return BLOCK.sub(block, text)


def blocks(text: str) -> set[tuple[str, str | None]]:
    """The ``(kind, name)`` of every registry block in ``text``."""
    return {(m.group(2), m.group(3)) for m in BLOCK.finditer(text)}


def main(root: str = ".") -> int:
    """Rewrite the blocks in place; print which files changed."""
    for name in FILES:
        path = Path(root) / name
        text = path.read_text()
        new = render(text)
        if new != text:
            path.write_text(new)
            print(f"updated {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
