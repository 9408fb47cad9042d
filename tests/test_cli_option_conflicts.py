"""Options that do nothing in a combination are errors, never silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

XOR = str(Path(__file__).resolve().parent.parent / "data" / "xor.csv")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["check-grad", "--fit", "mlp:2-4-1", "--data", XOR, "--target", "y", "--at", "1"], "--at"),
        (["check-grad", "--fit", "mlp:2-4-1", "--data", XOR, "--target", "y", "--sweep-h"], "--sweep-h"),
        (["check-grad", "--fit", "mlp:2-4-1", "--data", XOR, "--target", "y", "--method", "forward"], "--method"),
        (["check-grad", "x^2", "--at", "1", "--sample-params", "5"], "--sample-params applies to --fit"),
        (["plot", "x^2", "--steps", "10"], "--steps"),
        (["plot", "x^2", "--gradient", "numeric"], "--gradient"),
        (["plot", "x^2", "--tol", "1e-3"], "--tol"),
        (["minimize", "x^2 + y^2", "--x0", "5,5", "--starts", "3"], "x0 and starts"),
    ],
)
def test_an_option_that_would_be_ignored_is_an_error(invoke, tmp_path, args, named):
    result = invoke(*args) if args[0] != "plot" else invoke(*args, "--out", str(tmp_path / "p.png"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and named in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_config_with_x0_and_starts_is_rejected_at_the_x0_line(invoke, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("function: booth\nx0: [1, 1]\noptimizer: gd\nstarts: {count: 5, box: [-1, 1]}\n")
    result = invoke("run", str(config))
    assert result.exit_code == 2 and f"{config}:2: x0: x0 and starts exclude each other" in result.stderr
