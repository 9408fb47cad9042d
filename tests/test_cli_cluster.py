"""`run`/`compare` options for Dask (`--cluster`, `--workers`, `--cluster-timeout`, GRADTOOL_CLUSTER) and what
needs no cluster: bad option values, dask missing, dask never imported otherwise, the `error` status of a run
that raises. The real clusters are in test_cluster.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gradtool.cluster import parse_cluster
from gradtool.errors import ConfigError

ROOT = Path(__file__).parent.parent
SWEEP = str(ROOT / "configs" / "lr-sweep.yaml")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("local", "local"),
        (" LOCAL ", "local"),
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("10.0.0.5", "tcp://10.0.0.5:8786"),
        ("scheduler:9000", "tcp://scheduler:9000"),
        ("tls://sched.example.org:8786/", "tls://sched.example.org:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_cluster_addresses_are_normalised(text, address):
    assert parse_cluster(text) == address


@pytest.mark.parametrize("text", ["", "foo bar", "http://x:1", "tcp://x:0", "tcp://x:70000", "tcp://", "x:port"])
def test_a_bad_cluster_address_is_refused(text):
    with pytest.raises(ConfigError, match="is not 'local' or a scheduler address"):
        parse_cluster(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "foo bar"], "--cluster: 'foo bar' is not 'local' or a scheduler address"),
        (["--cluster", "local", "--jobs", "2"], "--jobs and --cluster exclude each other"),
        (["--workers", "2"], "--workers needs --cluster local (for processes without Dask, use --jobs)"),
        (["--cluster", "10.0.0.1", "--workers", "2"], "--workers is for --cluster local; the cluster at tcp://"),
        (["--cluster", "local", "--workers", "0"], "--workers must be a whole number >= 1, got 0"),
        (["--cluster", "local", "--cluster-timeout", "0"], "--cluster-timeout must be a number of seconds > 0"),
        (["--cluster", "local", "--cluster-timeout", "inf"], "--cluster-timeout must be a number of seconds > 0"),
    ],
)
@pytest.mark.parametrize("command", [["run", SWEEP], ["compare", "x^2", "--optimizers", "gd,adam"]])
def test_bad_cluster_options_are_one_line_before_anything_runs(invoke, command, args, message):
    result = invoke(*command, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_gradtool_cluster_is_the_default_of_cluster_and_says_so(invoke, monkeypatch):
    monkeypatch.setenv("GRADTOOL_CLUSTER", "local")
    result = invoke("run", SWEEP, "--jobs", "2")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --jobs and --cluster (GRADTOOL_CLUSTER is set) exclude each other: --jobs runs local processes "
        "without Dask\n"
    )
    monkeypatch.setenv("GRADTOOL_CLUSTER", "")  # empty: unset
    assert invoke("run", SWEEP, "--jobs", "2", "-q").exit_code == 1  # lr-sweep diverges on purpose
    assert "[env var: GRADTOOL_CLUSTER]" in invoke("run", "--help").stdout


def test_without_dask_cluster_says_how_to_install_it(invoke, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    for command in (["run", SWEEP], ["compare", "x^2", "--optimizers", "gd,adam"]):
        result = invoke(*command, "--cluster", "local")
        assert result.exit_code == 2
        assert result.stderr == "error: --cluster needs dask and distributed: pip install 'gradtool[dask]'\n"


def test_a_run_of_check_grad_configs_alone_starts_no_cluster(invoke, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # would fail if anything tried to start one
    result = invoke("run", str(ROOT / "configs" / "activation-check.yaml"), "--cluster", "local", "-q")
    assert result.exit_code == 0, result.stderr


def test_commands_without_cluster_never_import_dask():
    script = (
        "import sys\n"
        "from gradtool.cli import main\n"
        f"sys.argv = ['gradtool', 'run', {SWEEP!r}, '--set', 'steps=20', '--jobs', '2', '-q']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', 'tornado', 'cloudpickle'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "[]", done.stderr


@pytest.fixture
def broken_adam(monkeypatch):
    """`adam` at lr 0.01 raises an exception that is not a GradtoolError (a bug, or a worker's trouble)."""
    import gradtool.descent

    original = gradtool.descent.minimize

    def minimize(expr, x0, **options):
        if options.get("optimizer") == "adam" and options.get("lr") == 0.01:
            raise ZeroDivisionError("a bug in one run")
        return original(expr, x0, **options)

    monkeypatch.setattr(gradtool.descent, "minimize", minimize)


def test_a_run_that_raises_is_its_error_status_and_exit_3(invoke, broken_adam):
    args = ["compare", "x^2 + y^2", "--x0", "1,1", "--optimizers", "gd,adam,nag", "--lr", "0.01", "--steps", "50"]
    result = invoke(*args, "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["runs"][1] == {"label": "adam", "status": "error", "message": "ZeroDivisionError: a bug in one run"}
    assert [r["status"] for r in doc["runs"]] == ["max_steps", "error", "max_steps"] and doc["best"] == 2
    table = invoke(*args)
    assert table.exit_code == 3
    assert "adam: error: ZeroDivisionError: a bug in one run" in table.stdout
    assert "best: nag" in table.stdout


def test_a_config_whose_every_run_raises_says_so(invoke, broken_adam, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("function: x^2\nx0: [1]\nsteps: 10\noptimizers: [{name: adam, lr: 0.01}]\n")
    result = invoke("run", str(config))
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        f"{config}: no run returned a result",
        "adam: error: ZeroDivisionError: a bug in one run",
    ]
