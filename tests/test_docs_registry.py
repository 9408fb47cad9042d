"""The docs list every optimizer, schedule and parameter: their registry blocks are generated and current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradtool.optim import OPTIMIZERS, SCHEDULES
from gradtool.optim.docs import BLOCK, FILES, blocks, render

ROOT = Path(__file__).resolve().parent.parent
CANONICAL = list(dict.fromkeys(spec.name for spec in OPTIMIZERS.values()))


@pytest.mark.parametrize("name", FILES)
def test_registry_blocks_are_current(name):
    text = (ROOT / name).read_text()
    assert render(text) == text, f"{name} is stale: run `make docs`"


def test_every_entry_has_its_block_in_optimizers_md():
    found = blocks((ROOT / "docs/optimizers.md").read_text())
    assert {("optimizer", n) for n in CANONICAL} | {("schedule", n) for n in SCHEDULES} <= found
    assert {("optimizer-table", None), ("schedule-table", None)} <= blocks((ROOT / "docs/configs.md").read_text())


def test_every_parameter_is_in_both_docs():
    optimizers_md, configs_md = ((ROOT / n).read_text() for n in FILES)
    for registry in (OPTIMIZERS, SCHEDULES):
        for spec in registry.values():
            for param in spec.table.params:
                assert f"`{param.name}`" in optimizers_md and f"`{param.name}`" in configs_md, param.name


def test_readme_names_every_optimizer_and_schedule():
    readme = (ROOT / "README.md").read_text()
    for name in [*OPTIMIZERS, *SCHEDULES]:
        assert f"`{name}`" in readme, name


def test_a_stale_or_missing_table_is_caught():
    text = (ROOT / "docs/configs.md").read_text()
    stale = text.replace("`lr` (0.001), `weight_decay` (0)", "`lr` (0.1), `weight_decay` (0)", 1)
    assert stale != text and render(stale) == text


def test_every_generated_table_row_has_its_five_cells_and_every_summary_one_sentence():
    # a `|` inside a cell (choices "pr+ | fr", a norm |g.d|) must be escaped, or Markdown splits the cell
    text = render((ROOT / "docs/optimizers.md").read_text())
    entries = [m.group(4) for m in BLOCK.finditer(text) if m.group(2) in ("optimizer", "schedule", "line-search")]
    rows = [line for body in entries for line in body.splitlines() if line.startswith("| ")]
    assert rows and [row for row in rows if len(re.split(r"(?<!\\)\|", row)) != 7] == []
    # a summary may wrap over lines in a docstring: the docs take all of it, and one full stop after it
    heads = [m.group(1) for m in re.finditer(r"<!-- registry: (?:optimizer|schedule|line-search) \S+ -->\n(.*)", text)]
    assert heads and not [h for h in heads if re.search(r"[^.]\.\. torch|[;(]\. torch", h)]
    assert all(h.count("(") == h.count(")") for h in heads), [h for h in heads if h.count("(") != h.count(")")]
