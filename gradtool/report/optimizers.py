"""Rich output of `gradtool optimizers`: the listing, and one entry with its formula and parameters."""

from __future__ import annotations

from typing import Any

from gradtool.report.common import stdout_console


def show_listing(entries: list[dict[str, Any]], kind: str) -> None:
    """One row per optimizer (or schedule): name, what it is, torch equivalent, parameters with defaults."""
    from rich import box
    from rich.table import Table

    from gradtool.optim.describe import WARMUP_NAMES

    caption = "gradtool optimizers NAME: the formula and every parameter"
    if kind == "schedules":
        caption += "; every schedule also takes warmup=0 and start_factor=1/3"
    table = Table(title=kind.replace("_", " "), caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("name", "summary", "torch", "parameters (default)"):
        table.add_column(column, overflow="fold")
    for e in entries:
        name = ", ".join([e["name"], *e.get("aliases", [])])
        skip = WARMUP_NAMES if any(p["name"] == "warmup" for p in e["parameters"]) else ()
        params = " ".join(f"{p['name']}={p['default_text']}" for p in e["parameters"] if p["name"] not in skip)
        table.add_row(name, e["summary"], e["torch"] or "-", params)
    stdout_console().print(table)


def show_entry(entry: dict[str, Any]) -> None:
    """One optimizer or schedule: summary, torch equivalent, formula, notes, then its parameter table."""
    from rich.table import Table

    console = stdout_console()
    aliases = f" (alias {', '.join(entry['aliases'])})" if entry.get("aliases") else ""
    console.print(f"[bold]{entry['name']}[/]{aliases}: {entry['summary']}", markup=True)
    if entry["kind"] != "line search":
        console.print(f"torch: {entry['torch'] or 'no torch class'}")
    if entry["formula"]:
        console.print(entry["formula"], markup=False, highlight=False, soft_wrap=True)
    if entry["notes"]:
        console.print(entry["notes"], markup=False, highlight=False)
    if not entry["parameters"]:  # the line search `none`
        console.print("parameters: none")
    else:
        table = Table(title="parameters")
        for column in ("name", "type", "default", "allowed", "meaning"):
            table.add_column(column, overflow="fold")
        for p in entry["parameters"]:
            table.add_row(p["name"], p["type"], p["default_text"], p["allowed"], p["help"])
        console.print(table)
    for group, members in entry.get("torch_spellings", {}).items():
        console.print(f"{group}: [{', '.join(members)}] is accepted for {', '.join(members)}", markup=False)
