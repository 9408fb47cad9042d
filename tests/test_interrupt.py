"""Real processes and signals: SIGTERM stops every long command as Ctrl-C does (summary, complete files, no
temporary files, workers stopped, exit 143); write failures on stdout are one line, a closed pipe a quiet 141.

Every test starts `python -m gradtool` and waits generously: the machine is shared and slow.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_executor import _gone, _wait_gone

ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
LONG = ["x^2 + y^2", "--x0", "1,1", "--lr", "1e-9", "--steps", "100000000", "--tol", "0"]
SWEEP = "function: x^2 + y^2\nx0: [1, 1]\nsteps: 100000000\ntol: 0\noptimizers: [gd, momentum, adam]\n"


def start(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gradtool", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=ENV,
        **kw,
    )


def wait_for(condition, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """CPU time used by ``pid`` so far: past the imports (~1.5 s), a command is doing its work."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


def assert_complete_trajectory(path: Path) -> int:
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["step", "x", "y", "f", "grad_norm", "lr"] and len(rows) > 2
    assert [int(r[0]) for r in rows[1:]] == list(range(len(rows) - 1))
    assert all(len(r) == 6 for r in rows)
    return len(rows) - 2  # the last step


# ---- SIGTERM is Ctrl-C ------------------------------------------------------------------------------------


def test_sigterm_stops_minimize_with_its_summary_a_complete_trajectory_and_exit_143(tmp_path):
    proc = start("minimize", *LONG, "--trajectory", "t.csv", "--quiet", "--json", cwd=tmp_path)
    wait_for(lambda: temporaries(tmp_path))
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 143, stderr
    import json

    doc = json.loads(stdout)
    assert doc["status"] == "interrupted" and doc["message"].endswith("(SIGTERM)")
    assert assert_complete_trajectory(tmp_path / "t.csv") == doc["steps"]
    assert temporaries(tmp_path) == []


def test_sigterm_stops_fit_with_its_summary_and_a_complete_model(tmp_path):
    data = ROOT / "data" / "sine.csv"
    proc = start("fit", "mlp:1-64-64-1", "--data", str(data), "--target", "y", "--epochs", "10000000",
                 "--save", "m.npz", "--quiet", cwd=tmp_path)  # fmt: skip
    wait_for(lambda: cpu_seconds(proc.pid) > 4.0)  # imports done, training
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 143, stderr
    assert "interrupted" in stdout and "SIGTERM" in stdout
    from gradtool.fitting.persist import load_model

    objective, theta = load_model(tmp_path / "m.npz")
    assert objective.layout.size == theta.size and [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize(
    "args",
    [
        ["lr-find", "rosenbrock", "--num", "200", "--steps", "100000000", "--tol", "0", "--json"],
        ["minimize", "himmelblau", "--starts", "500", "--lr", "1e-5", "--steps", "100000000", "--tol", "0", "--json"],
        ["minimize", "rosenbrock", "--starts", "20", "--line-search", "armijo", "--steps", "100000000", "--tol", "0",
         "--json"],
    ],
    ids=["lr-find", "starts", "starts-one-by-one"],
)  # fmt: skip
def test_sigterm_stops_a_batch_with_the_results_so_far_and_exit_143(tmp_path, args):
    import json

    proc = start(*args, cwd=tmp_path)
    wait_for(lambda: cpu_seconds(proc.pid) > 4.0)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 143 and stderr == ""
    doc = json.loads(stdout)
    if args[0] == "lr-find":
        assert doc["interrupted"] == "SIGTERM" and len(doc["runs"]) == 200
        assert {r["status"] for r in doc["runs"]} <= {"interrupted", "diverged"}
        assert all(r["steps"] > 0 for r in doc["runs"])
    else:
        counts = doc["starts"]
        assert doc["status"] == "interrupted" and "(SIGTERM)" in doc["message"]
        ends = sum(counts[k] for k in counts if k not in ("count", "box", "seed"))
        assert counts["interrupted"] > 0 and ends == counts["count"]
        assert doc["minima"] and doc["steps"] > 0


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_stops_run_and_its_workers_leaving_complete_files(tmp_path, jobs):
    (tmp_path / "long.yaml").write_text(SWEEP + "output: {trajectory: '{label}.csv', json: r.json}\n")
    proc = start("run", "long.yaml", "--jobs", jobs, cwd=tmp_path)
    wait_for(lambda: len(temporaries(tmp_path)) == int(jobs))
    time.sleep(1.0)
    workers = children(proc.pid)
    assert len(workers) == (int(jobs) if jobs != "1" else 0)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and stderr == ""
    assert all(_wait_gone(w, 60) for w in workers)
    assert temporaries(tmp_path) == []
    written = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert written == ["gd.csv", "momentum.csv"][: int(jobs)]
    import json

    runs = json.loads((tmp_path / "r.json").read_text())["runs"]  # the report of a stopped run: what had run
    assert [r["status"] for r in runs] == ["interrupted"] * 3 and "interrupted" in stdout
    for run in runs[: int(jobs)]:
        assert run["message"].endswith("(SIGTERM)")
        assert assert_complete_trajectory(tmp_path / f"{run['label']}.csv") == run["steps"]
    assert runs[2] == {"label": "adam", "status": "interrupted", "message": "cancelled by SIGTERM before it finished"}


def test_ctrl_c_on_the_terminal_stops_run_jobs_2_and_its_workers(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group; the workers leave it to the parent."""
    (tmp_path / "long.yaml").write_text(SWEEP + "output: {trajectory: '{label}.csv'}\n")
    proc = start("run", "long.yaml", "--jobs", "2", cwd=tmp_path, start_new_session=True)
    wait_for(lambda: len(temporaries(tmp_path)) == 2)
    time.sleep(1.0)
    workers = children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and stderr == "" and "cancelled by Ctrl-C before it finished" in stdout
    assert all(_wait_gone(w, 60) for w in workers) and temporaries(tmp_path) == []


@pytest.mark.parametrize("stop", ["SIGTERM to the command", "Ctrl-C to the group"])
def test_a_stop_while_a_worker_is_idle_reports_at_once(tmp_path, stop):
    """Two quick runs and a long one on 2 workers: once the quick ones are done one worker waits for a task
    (holding the task queue's lock). A stop then reported only after the 30 s grace, or hung for good."""
    import json

    args = ["compare", "x^2 + 10*y^2", "--x0=1,1", "--steps", "100000000", "--jobs", "2", "--json"]
    proc = start(*args, "--optimizers", "gd(lr=1e-9),adam(lr=0.1),momentum(lr=0.01)", cwd=tmp_path,
                 start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: len(children(proc.pid)) == 2)
        workers = children(proc.pid)
        wait_for(lambda: sum(map(cpu_seconds, workers)) > 1.5)  # the quick runs ended long ago (~0.01 s)
        if stop.startswith("SIGTERM"):
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == (143 if stop.startswith("SIGTERM") else 130) and stderr == ""
    runs = {r["label"]: r for r in json.loads(stdout)["runs"]}
    assert runs["gd"]["status"] == "interrupted" and runs["gd"]["steps"] > 0
    assert runs["adam"]["status"] == runs["momentum"]["status"] == "converged"
    assert all(_wait_gone(w, 30) for w in workers)


def test_workers_stop_when_run_is_killed_with_sigkill(tmp_path):
    (tmp_path / "long.yaml").write_text(SWEEP + "output: {trajectory: '{label}.csv'}\n")
    proc = start("run", "long.yaml", "--jobs", "2", cwd=tmp_path)
    wait_for(lambda: len(temporaries(tmp_path)) == 2)
    time.sleep(1.0)  # past the first step: a stop before it ends the run without its file (flaked under load)
    workers = children(proc.pid)
    assert len(workers) == 2 and not any(_gone(w) for w in workers)
    proc.kill()
    proc.communicate(timeout=60)
    assert all(_wait_gone(w, 60) for w in workers), "workers outlived their parent"
    wait_for(lambda: temporaries(tmp_path) == [], 30)
    for name in ("gd.csv", "momentum.csv"):
        assert_complete_trajectory(tmp_path / name)


# ---- stdout that cannot be written ------------------------------------------------------------------------


def test_a_full_disk_on_stdout_is_one_line_and_exit_2(tmp_path):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "gradtool", "grad", "x^2", "--at", "1"], stdout=full,
                              stderr=subprocess.PIPE, text=True, env=ENV, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == "error: cannot write to stdout: No space left on device\n"


@pytest.mark.parametrize(
    "args",
    [
        ["grad", "x^2", "--at", "1"],
        ["grad", "x^2", "--at", "1", "--json"],
        ["minimize", *LONG[:5], "--trajectory", "-"],
    ],
    ids=["table", "json", "trajectory"],
)
def test_a_closed_pipe_stops_quietly_with_141(args, tmp_path):
    read, write = os.pipe()
    os.close(read)  # the reader has gone before gradtool writes anything (`gradtool ... | head -0`)
    proc = subprocess.Popen([sys.executable, "-m", "gradtool", *args], stdout=write, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=tmp_path)  # fmt: skip
    os.close(write)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141 and stderr == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("where", ["command", "worker"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_inside_a_trajectory_write_waits_for_the_row(signum, where, when, monkeypatch):
    """A signal handled inside write() (as on EINTR) must neither lose the row nor write it twice: under the
    command's handlers, and under a --jobs worker's (SIGTERM; Ctrl-C is the parent's there)."""
    import contextlib
    import io

    import numpy as np

    from gradtool import executor
    from gradtool.interrupt import Terminated, terminate_as_interrupt
    from gradtool.io import TrajectoryCSV

    if where == "worker":
        if signum == signal.SIGINT:
            pytest.skip("a worker ignores SIGINT")
        monkeypatch.setattr(executor, "_busy", True)
        monkeypatch.setattr(executor, "_stopping", False)
        previous = signal.signal(signal.SIGTERM, executor._worker_stop)
        handlers = contextlib.ExitStack()
        handlers.callback(signal.signal, signal.SIGTERM, previous)
    else:
        handlers = terminate_as_interrupt()

    class Interrupting(io.StringIO):
        def write(self, text):
            if text.startswith("7,") and when == "before":
                os.kill(os.getpid(), signum)  # its handler runs before this method's next line
            written = super().write(text)
            if text.startswith("7,") and when == "after":
                os.kill(os.getpid(), signum)  # the row is out, the sink has not yet noted it
            return written

    handle = Interrupting()
    sink = TrajectoryCSV(handle, ["x"])
    expected = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    with handlers, pytest.raises(expected):
        for step in range(10):
            sink(step, np.array([float(step)]), 1.0, 1.0, 0.1)
    sink(7, np.array([7.0]), 1.0, 1.0, 0.1)  # the interrupted run hands its last step over once more
    assert [line.split(",")[0] for line in handle.getvalue().splitlines()] == ["step", *map(str, range(8))]


def test_holds_nest_and_the_stop_waits_for_the_outermost():
    from gradtool import interrupt

    with interrupt.terminate_as_interrupt():
        interrupt.hold()
        try:
            interrupt.hold()
            os.kill(os.getpid(), signal.SIGTERM)  # held: nothing raised here
            interrupt.release()  # the inner hold ends: still held by the outer one
            reached = True
        finally:
            with pytest.raises(interrupt.Terminated):
                interrupt.release()
    assert reached and interrupt._held == 0 and interrupt._pending is None


def test_a_stop_while_the_command_is_being_imported_is_no_traceback(tmp_path):
    """SIGTERM during start-up (the command's module being imported) is `terminated`, exit 143, or, before
    gradtool's handler is installed, the default death by SIGTERM: never a traceback."""
    for delay in (0.03, 0.05, 0.07, 0.09, 0.12, 0.2):
        proc = start("minimize", *LONG, cwd=tmp_path)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert "Traceback" not in stderr and proc.returncode in (143, -signal.SIGTERM), (delay, stderr)


def test_a_signal_sent_twice_at_once_is_one_stop(tmp_path):
    """timeout(1) signals the command and then its process group: the command gets the signal twice in a
    moment. The second must not cut short the report of what ran."""
    (tmp_path / "long.yaml").write_text(SWEEP)
    proc = start("run", "long.yaml", cwd=tmp_path)
    wait_for(lambda: cpu_seconds(proc.pid) > 3.0)  # imports done, the first run under way
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.02)  # the first one handled meanwhile: a second signal, not a merged one
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 143 and stderr == ""
    assert "interrupted" in stdout and "momentum: interrupted: cancelled by SIGTERM before it finished" in stdout
