"""`gradtool minimize` through the CLI: exit codes, JSON, trajectory files, Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from gradtool.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_minimize_json_reaches_theta_2():
    r = run("minimize", "theta^2 - 4*theta + 4", "--x0", "theta=0", "--lr", "0.1", "--xtol", "1e-6", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["status"] == "converged" and abs(d["x"]["theta"] - 2) < 1e-5


def test_minimize_table_and_summary_are_printed():
    r = run("minimize", "x^2 + y^2", "--x0", "1,1", "--lr", "0.1", "--steps", "40")
    assert r.exit_code == 0
    assert "summary" in r.stdout and "step" in r.stdout


def test_divergence_exits_1():
    r = run("minimize", "x^2", "--x0", "1", "--lr", "1.5", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["status"] == "diverged"


def test_require_converged_turns_max_steps_into_exit_1():
    args = ["minimize", "rosenbrock", "--steps", "5", "--quiet"]
    assert run(*args).exit_code == 0
    assert run(*args, "--require-converged").exit_code == 1


def test_bad_option_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "t.csv"
    r = run("minimize", "x^2", "--optimizer", "adam", "--momentum", "0.9", "--trajectory", out)
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_trajectory_streams_every_step(tmp_path):
    out = tmp_path / "traj.csv"
    r = run(
        "minimize",
        "x^2 + 3*y^2",
        "--x0",
        "1,1",
        "--lr",
        "0.1",
        "--steps",
        "25",
        "--tol",
        "0",
        "--trajectory",
        out,
        "--quiet",
    )
    assert r.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert [int(r["step"]) for r in rows] == list(range(26))
    assert rows[0]["lr"] == "" and float(rows[1]["lr"]) == 0.1
    x = 1.0
    for row in rows[1:]:
        x -= 0.1 * 2 * x
        assert float(row["x"]) == pytest.approx(x, rel=1e-15)
    assert list(tmp_path.iterdir()) == [out]


def test_multistart_json_lists_minima():
    r = run(
        "minimize",
        "himmelblau",
        "--starts",
        "100",
        "--box=-5,5",
        "--seed",
        "0",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--json",
    )
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and len(d["minima"]) == 4 and d["starts"]["count"] == 100


def test_sigint_stops_cleanly_with_exit_130_and_a_complete_trajectory(tmp_path):
    out = tmp_path / "long.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gradtool",
            "minimize",
            "x^2 + y^2",
            "--x0",
            "1,1",
            "--lr",
            "1e-9",
            "--steps",
            "100000000",
            "--tol",
            "0",
            "--trajectory",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".long.csv.*")):
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout
    lines = out.read_text().splitlines()
    assert lines[0] == "step,x,y,f,grad_norm,lr" and len(lines) > 10
    steps = [int(line.split(",")[0]) for line in lines[1:]]
    assert steps == list(range(len(steps)))
    assert len(lines[-1].split(",")) == 6


@pytest.mark.parametrize(
    "args",
    [
        ["minimize", "x^2", "--optimzer", "adam"],  # misspelled option
        ["minimize"],  # missing expression
        ["minimize", "x^2", "--steps", "abc"],  # wrong type
        ["frobnicate"],  # unknown command
    ],
)
def test_usage_errors_are_one_line_and_exit_2_from_the_console_script(args):
    proc = subprocess.run([sys.executable, "-m", "gradtool", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""
