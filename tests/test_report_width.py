"""Tables at any terminal width: a number is never cut (Rich would put an ellipsis in its place)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import PINNED_ENV
from typer.testing import CliRunner

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")

COMMANDS = [
    ["check-grad", "exp(10*x)*y", "--at", "3.3,-2.25"],
    ["check-grad", "rosenbrock", "--dim", "3", "--at", "1.5,-2.25,3.1", "--grad", "0,0,0"],
    ["check-grad", "rosenbrock", "--dim", "3", "--random", "12", "--seed", "0"],
    ["check-grad", "sin(x)", "--at", "1", "--sweep-h"],
    ["grad", "x^2*y + sin(x)*z", "--at", "1.123456789,2,-3", "--hessian"],
    ["minimize", "rosenbrock", "--x0=-1.5,2", "--optimizer", "adam", "--lr", "0.01", "--steps", "300"],
    ["compare", "rosenbrock", "--x0=-1.5,2", "--optimizers", "sgd,momentum,adam", "--lr", "1e-3", "--steps", "100"],
    ["graph", "x*y + sin(x)", "--at", "1,2"],
]


def numbers(text: str) -> Counter:
    return Counter(NUMBER.findall(text))


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_narrow_terminals_print_every_number_whole(args, cli_command, monkeypatch):
    import typer.testing

    from gradtool.cli import app

    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: cli_command, raising=False)
    monkeypatch.setattr("time.perf_counter", lambda: 0.0)  # timings are the only numbers that vary run to run

    def output(columns: int) -> str:
        result = CliRunner(env={**PINNED_ENV, "COLUMNS": str(columns)}).invoke(app, args)
        assert result.exit_code in (0, 1), result.output
        return result.stdout

    wide = output(400)
    assert "…" not in wide
    for columns in (30, 60, 80):
        narrow = output(columns)
        assert not re.search(r"[\d.]…", narrow), narrow
        assert numbers(narrow) == numbers(wide), columns
