"""Shared fixtures: Rich pinned to a fixed width without colour, a Typer CliRunner, and a compile cache of the
test session's own (never the user's)."""

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest
from typer.testing import CliRunner

PINNED_ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}

# The suite uses the compile cache, in a folder of its own that starts empty: an expression's first use in the
# session is cold (SymPy), later ones warm, so both paths run (subprocesses inherit the folder).
SESSION_CACHE = tempfile.mkdtemp(prefix="gradtool-test-cache-")
os.environ["GRADTOOL_CACHE_DIR"] = SESSION_CACHE
os.environ.pop("GRADTOOL_CACHE", None)
atexit.register(shutil.rmtree, SESSION_CACHE, True)


@pytest.fixture(autouse=True)
def _session_cache(monkeypatch):
    """Every test starts with the session's cache on (``--no-cache`` sets GRADTOOL_CACHE=0 in the process)."""
    monkeypatch.setenv("GRADTOOL_CACHE_DIR", SESSION_CACHE)
    monkeypatch.delenv("GRADTOOL_CACHE", raising=False)


# A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across exec: the
# gradtool processes the tests interrupt would then never see Ctrl-C (as Unix wants of a background job).
# The tests are not a background job of the user's: give their children the default disposition.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _pin_rich(monkeypatch):
    """Rich reads the terminal width and colour support from the environment: make them fixed."""
    for key, value in PINNED_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


class _TrackedPopen(subprocess.Popen):
    """Popen that remembers its processes, so that a failing test cannot leave one running."""

    started: list[subprocess.Popen] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _TrackedPopen.started.append(self)


@pytest.fixture(autouse=True)
def _reap_children(monkeypatch):
    """Kill what a test started and left running (a timed-out test would otherwise leave a busy process,
    and its process group with it, for the rest of the suite and beyond)."""
    monkeypatch.setattr(subprocess, "Popen", _TrackedPopen)
    yield
    while _TrackedPopen.started:
        proc = _TrackedPopen.started.pop()
        if proc.poll() is not None:
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(proc.pid) == proc.pid:  # started in a session of its own: its workers too
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env=PINNED_ENV)


@pytest.fixture(scope="session")
def cli_command():
    """The Click command behind the Typer app, built once (building it takes ~40 ms)."""
    import typer.main

    from gradtool.cli import app

    return typer.main.get_command(app)


@pytest.fixture
def invoke(runner, cli_command, monkeypatch):
    """Run the gradtool app in-process: ``invoke("grad", "x^2", "--json")`` -> Result."""
    import typer.testing

    from gradtool.cli import app

    # CliRunner.invoke rebuilds the command on every call; reuse the one built above if it can
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: cli_command, raising=False)

    def run(*args: str):
        return runner.invoke(app, list(args))

    return run


@pytest.fixture
def invoke_json(invoke):
    """Run a command that must print one JSON document; return ``(exit_code, parsed JSON)``."""

    def run(*args: str):
        result = invoke(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, json.loads(result.stdout)

    return run
