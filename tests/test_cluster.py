"""`run --cluster` on real Dask clusters: a LocalCluster (processes, loopback) and a `dask scheduler` with two
`dask worker` processes started by command line. A 24-run sweep (16 minimize runs writing trajectories, 8 fits
saving models) gives the serial JSON, bit for bit but for wall-clock times; a worker killed mid-sweep loses no
result; a run raising on a worker is that run's `error`; an unreachable scheduler is one line and exit 2.

Skipped where dask is absent (`pip install 'gradtool[dask]'`; the dev extra installs it, so CI runs these).
Each cluster is shared by the tests of this module; every wait is bounded.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="dask is not installed: pip install 'gradtool[dask]'")

import gradtool  # noqa: E402
from gradtool.cluster import Dask  # noqa: E402
from gradtool.config import load_configs, run_files  # noqa: E402
from gradtool.config.execute import run_plans  # noqa: E402

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
WAIT_S = 120  # the longest any step waits (a shared 2-core machine is slow; a hang must fail, not block)

MINIMIZE = """\
description: 4 optimizers x 4 learning rates (gd at 0.11 diverges)
function: x^2 + 10*y^2
x0: {x: 1, y: 1}
steps: 3000
optimizers: [{name: gd}, {name: momentum, momentum: 0.9}, {name: nag, momentum: 0.9}, {name: adam}]
sweep: {lr: [0.001, 0.01, 0.05, 0.11]}
output: {trajectory: "traj-{label}.csv"}
"""
FIT = """\
task: fit
model: w*x + b
data: linear.csv
test_data: test.csv
load: start.npz
target: y
epochs: 300
optimizers: [{name: gd}, {name: adam}]
sweep: {lr: [0.001, 0.01, 0.02, 0.05]}
save: "model-{label}.npz"
"""


def without_times(doc):
    """The JSON without its wall-clock fields (time_s), the only ones that differ between two runs."""
    if isinstance(doc, dict):
        return {k: without_times(v) for k, v in doc.items() if k != "time_s"}
    if isinstance(doc, list):
        return [without_times(v) for v in doc]
    return doc


def outputs(folder: Path) -> dict[str, object]:
    """Every trajectory's text and every saved model's parameters, by file name."""
    found: dict[str, object] = {p.name: p.read_text() for p in folder.glob("traj-*.csv")}
    for path in folder.glob("model-*.npz"):
        with np.load(path) as npz:
            found[path.name] = {k: npz[k].tobytes() for k in npz.files}
    return found


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The 24-run sweep's folder, its two configs, and what a serial run gives: JSON and output files."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "minimize.yaml").write_text(MINIMIZE)
    (folder / "fit.yaml").write_text(FIT)
    shutil.copy(ROOT / "data" / "linear.csv", folder / "linear.csv")
    (folder / "test.csv").write_text("x,y\n0,0.5\n10,10.5\n")
    gradtool.fit("w*x + b", str(folder / "linear.csv"), "y", lr=0.01, epochs=5).save(str(folder / "start.npz"))
    files = [str(folder / "minimize.yaml"), str(folder / "fit.yaml")]
    serial = [r.to_dict() for r in run_files(files)]
    assert sum(len(doc["runs"]) for doc in serial) == 24
    assert {run["status"] for doc in serial for run in doc["runs"]} == {
        "converged",
        "max_steps",
        "diverged",
        "completed",
    }
    expected = outputs(folder)
    assert len(expected) == 24
    clean(folder)
    return folder, files, json.loads(json.dumps(serial)), expected


def clean(folder: Path) -> None:
    for path in [*folder.glob("traj-*"), *folder.glob("model-*")]:
        path.unlink()


def assert_serial(folder: Path, serial: list, expected: dict, docs: list) -> None:
    """The JSON documents are the serial ones but for times, the files are the serial files (then removed)."""
    assert without_times(docs) == without_times(serial)
    assert outputs(folder) == expected
    clean(folder)


def local_cluster_of(workers: int):
    """A real distributed.LocalCluster: worker processes of one thread each, loopback only, no dashboard."""
    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )


@pytest.fixture(scope="module")
def local_cluster():
    """A real distributed.LocalCluster: two worker processes, one thread each, loopback only."""
    cluster = local_cluster_of(2)
    try:
        yield cluster
    finally:
        cluster.close(timeout=30)


@pytest.fixture
def probe(local_cluster):
    """A client of the LocalCluster, to change its workers (and change them back)."""
    with distributed.Client(local_cluster, timeout=WAIT_S, set_as_default=False) as client:
        yield client


def test_a_24_run_sweep_on_a_local_cluster_is_the_serial_run(sweep, local_cluster, invoke):
    folder, files, serial, expected = sweep
    result = invoke("run", *files, "--cluster", local_cluster.scheduler_address, "--json")
    assert result.exit_code == 1, result.stderr  # gd at lr 0.11 diverges, as in the serial run
    assert "runs" not in result.stderr  # no progress bar where stderr is not a terminal
    assert_serial(folder, serial, expected, json.loads(result.stdout))


def test_the_files_runs_read_travel_with_them_read_once_by_the_client(sweep, local_cluster):
    folder, files, serial, expected = sweep
    plans = load_configs(files)
    inputs = ["linear.csv", "test.csv", "start.npz"]  # a fit's data, test_data and load
    for name in inputs:  # after validation no one can read them: not the client, not a worker
        (folder / name).rename(folder / f"{name}.away")
    try:
        results = run_plans(plans, executor=Dask(local_cluster.scheduler_address, timeout=WAIT_S))
    finally:
        for name in inputs:
            (folder / f"{name}.away").rename(folder / name)
    assert_serial(folder, serial, expected, [r.to_dict() for r in results])


def test_a_run_that_raises_on_a_worker_is_its_error_and_the_others_go_on(sweep, local_cluster, probe, invoke):
    def break_adam_at_001():
        import gradtool.descent

        original = gradtool.descent.prepare  # what a run that writes a trajectory calls

        def prepare(expr, x0, **options):
            if options.get("optimizer") == "adam" and options.get("lr") == 0.01:
                raise ZeroDivisionError("a bug in one run")
            return original(expr, x0, **options)

        prepare.original = original
        gradtool.descent.prepare = prepare

    def repair():
        import gradtool.descent

        gradtool.descent.prepare = getattr(gradtool.descent.prepare, "original", gradtool.descent.prepare)

    folder, files, serial, _ = sweep
    probe.run(break_adam_at_001)
    try:
        result = invoke("run", files[0], "--cluster", local_cluster.scheduler_address, "--json")
        table = invoke("run", files[0], "--cluster", local_cluster.scheduler_address, "-q")
    finally:
        probe.run(repair)
        clean(folder)
    assert result.exit_code == 3, result.stderr
    runs = json.loads(result.stdout)["runs"]
    failed = {"label": "adam-lr0.01", "status": "error", "message": "ZeroDivisionError: a bug in one run"}
    assert runs[13] == failed
    assert without_times(runs[:13] + runs[14:]) == without_times(serial[0]["runs"][:13] + serial[0]["runs"][14:])
    assert table.exit_code == 3 and "adam-lr0.01: error: ZeroDivisionError: a bug in one run" in table.stdout


def test_a_worker_with_another_gradtool_version_is_one_clear_error(sweep, local_cluster, probe, invoke):
    def pretend(version):
        import gradtool

        gradtool.__version__, previous = version, gradtool.__version__
        return previous

    worker = sorted(probe.scheduler_info()["workers"])[0]
    [previous] = probe.run(pretend, "0.0.1", workers=[worker]).values()
    try:
        result = invoke("run", *sweep[1], "--cluster", local_cluster.scheduler_address)
    finally:
        probe.run(pretend, previous, workers=[worker])
        clean(sweep[0])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: the Dask worker {worker} runs gradtool 0.0.1, this is gradtool {previous}: "
        "install the same version on every worker\n"
    )


def test_an_unreachable_scheduler_is_one_line_and_exit_2_within_the_timeout(invoke, sweep):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    result = invoke("run", *sweep[1], "--cluster", f"127.0.0.1:{port}", "--cluster-timeout", "2")
    elapsed = time.monotonic() - start
    assert result.exit_code == 2
    assert (
        result.stderr == f"error: no Dask scheduler answered at tcp://127.0.0.1:{port} within 2 s (--cluster-timeout)\n"
    )
    assert elapsed < 2 + 4, elapsed  # the timeout, plus a shared machine's slack; no run started


# ---- a scheduler and two workers started by command line ---------------------------------------------------


def _start(*args: str, log: Path) -> subprocess.Popen:
    """A `dask ...` process in its own process group (killed as a whole), SIGKILLed if pytest dies first."""
    with open(log, "w") as handle:
        return subprocess.Popen(
            [str(BIN / "dask"), *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_pytest,
        )


def _die_with_pytest() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _worker(scheduler_file: Path, log: Path) -> subprocess.Popen:
    args = ["worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--host", "127.0.0.1"]
    return _start(*args, "--no-dashboard", "--death-timeout", "60", log=log)


@pytest.fixture(scope="module")
def command_line_cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes on loopback: yields (address, scheduler file)."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    args = ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file"]
    processes = [_start(*args, str(scheduler_file), log=folder / "scheduler.log")]
    try:
        deadline = time.monotonic() + WAIT_S
        while not scheduler_file.exists():
            assert time.monotonic() < deadline and processes[0].poll() is None, (folder / "scheduler.log").read_text()
            time.sleep(0.1)
        processes += [_worker(scheduler_file, folder / f"worker{i}.log") for i in range(2)]
        address = json.loads(scheduler_file.read_text())["address"]
        with distributed.Client(address, timeout=WAIT_S, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=WAIT_S)
        yield address, scheduler_file
    finally:
        for process in reversed(processes):
            _stop(process)


def test_a_24_run_sweep_on_a_command_line_cluster_is_the_serial_run_with_a_progress_bar(sweep, command_line_cluster):
    """The real command, its stderr a terminal: the bar counts the runs; stdout is the serial JSON."""
    folder, files, serial, expected = sweep
    address, _ = command_line_cluster
    terminal, stderr = pty.openpty()
    env = {**ENV, "TERM": "xterm", "GRADTOOL_CLUSTER": address}
    done = subprocess.run(
        [sys.executable, "-m", "gradtool", "run", *files, "--json"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        timeout=WAIT_S,
    )
    os.close(stderr)
    shown = _read_all(terminal).decode(errors="replace")
    assert done.returncode == 1, shown
    diverged = sum(run["status"] == "diverged" for doc in serial for run in doc["runs"])
    assert f"24/24 {diverged} diverged" in shown  # the bar's last state: every run done, the failures counted
    assert_serial(folder, serial, expected, json.loads(done.stdout))


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    return out


def test_a_worker_killed_mid_sweep_loses_no_result(sweep, command_line_cluster, tmp_path):
    """A third worker joins; once it is running a task it is killed (SIGKILL, nanny and all): Dask runs its
    tasks again on the other two, and every result is the serial one."""
    folder, files, serial, expected = sweep
    address, scheduler_file = command_line_cluster
    with distributed.Client(address, timeout=WAIT_S, set_as_default=False) as probe:
        before = set(probe.scheduler_info()["workers"])
        extra = _worker(scheduler_file, tmp_path / "extra.log")
        try:
            probe.wait_for_workers(3, timeout=WAIT_S)
            [victim] = set(probe.scheduler_info()["workers"]) - before
            killed = []

            def kill_when_busy(index, result):
                if not killed and probe.processing(workers=[victim]).get(victim):
                    os.killpg(extra.pid, signal.SIGKILL)
                    killed.append(index)

            results = run_files(files, executor=Dask(address, timeout=WAIT_S), progress=kill_when_busy)
        finally:
            _stop(extra)
    assert killed, "the extra worker never ran a task"
    assert_serial(folder, serial, expected, [r.to_dict() for r in results])


# ---- --cluster local: the command starts its own cluster, and stops it on Ctrl-C or SIGTERM ------------------


SLOW = """\
function: x^2 + y^2
x0: [1, 1]
tol: 0
optimizers: [gd]
sweep: {steps: [10, 20, 30, 100000000]}
output: {trajectory: "t-{label}.csv"}
"""


@pytest.mark.parametrize("stop", ["SIGTERM", "Ctrl-C"])
def test_a_stopped_cluster_run_reports_the_finished_runs_and_cancels_the_others(tmp_path, stop):
    (tmp_path / "slow.yaml").write_text(SLOW)
    command = [sys.executable, "-m", "gradtool", "run", "slow.yaml", "--cluster", "local", "--workers", "2", "--json"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=ENV, start_new_session=True
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while len(list(tmp_path.glob("t-*.csv"))) < 3:  # written here as each quick run's result arrives
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate(timeout=WAIT_S)
            time.sleep(0.05)
        if stop == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:  # Ctrl-C on a terminal: SIGINT to the whole process group, the cluster's workers too
            os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == (143 if stop == "SIGTERM" else 130), stderr
    runs = json.loads(stdout)["runs"]
    assert [r["status"] for r in runs] == ["max_steps"] * 3 + ["interrupted"]
    assert runs[3] == {
        "label": "gd-steps100000000",
        "status": "interrupted",
        "message": f"cancelled by {stop} before it finished",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.yaml", *(f"t-gd-steps{n}.csv" for n in (10, 20, 30))]


def test_compare_on_a_cluster_is_the_serial_compare(local_cluster, invoke):
    args = ["compare", "rosenbrock", "--x0=-1.5,2", "--optimizers", "gd,momentum,nag,rmsprop,adam", "--lr", "1e-3"]
    serial = invoke(*args, "--steps", "2000", "--json")
    cluster = invoke(*args, "--steps", "2000", "--json", "--cluster", local_cluster.scheduler_address)
    assert cluster.exit_code == serial.exit_code == 0
    assert without_times(json.loads(cluster.stdout)) == without_times(json.loads(serial.stdout))


def test_a_run_whose_workers_keep_dying_is_its_error():
    """Dask gives up on a task after distributed.scheduler.allowed-failures lost workers (KilledWorker)."""
    from types import SimpleNamespace

    from distributed.scheduler import KilledWorker

    from gradtool.cluster import _arrived

    died = KilledWorker("gradtool-x-3", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)
    future = SimpleNamespace(status="error")
    got = _arrived(future, (KilledWorker, died, None), 3, lambda i, exc: (i, f"{type(exc).__name__}: {exc}"))
    assert got == (3, "WorkerDied: the workers running it died 4 times (out of memory, or killed?)")


def test_a_worker_without_gradtool_is_one_clear_error_before_any_run(sweep, local_cluster, probe, invoke):
    def hide_gradtool():
        import sys

        sys.modules["gradtool"] = None  # `import gradtool` now fails there

    def show_gradtool():
        import sys

        if sys.modules.get("gradtool", 0) is None:
            del sys.modules["gradtool"]

    worker = sorted(probe.scheduler_info()["workers"])[1]
    probe.run(hide_gradtool, workers=[worker])
    try:
        result = invoke("run", *sweep[1], "--cluster", local_cluster.scheduler_address)
    finally:
        probe.run(show_gradtool, workers=[worker])
    assert result.exit_code == 2
    version = gradtool.__version__
    assert (
        result.stderr
        == f"error: the Dask worker {worker} has no gradtool: install gradtool {version} on every worker\n"
    )
    assert sorted(p.name for p in sweep[0].iterdir()) == [
        "fit.yaml",
        "linear.csv",
        "minimize.yaml",
        "start.npz",
        "test.csv",
    ]


def test_a_worker_that_joins_later_with_another_version_is_refused_by_its_first_task(local_cluster, probe):
    from gradtool.cluster import VersionMismatch, remote_task

    failure = probe.submit(remote_task, -2, fn=abs, version="0.0.1", pure=False).exception(timeout=WAIT_S)
    assert isinstance(failure, VersionMismatch)
    assert f"runs gradtool {gradtool.__version__}, this is gradtool 0.0.1: install the same version" in str(failure)
    assert probe.submit(remote_task, -2, fn=abs, version=gradtool.__version__).result(timeout=WAIT_S) == (2, {})


def test_a_cluster_that_lost_every_worker_fails_within_the_timeout(sweep):
    """Dask would wait for new workers forever; gradtool gives up after --cluster-timeout without one. (Its
    worker here is a thread: cheap to start, and to retire from the first result's callback.)"""
    from gradtool.errors import GradtoolError

    cluster = distributed.LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
    )
    lost = []

    def lose_every_worker(index, result):
        if not lost:
            cluster.scale(0)
            lost.append(time.monotonic())

    try:
        with pytest.raises(GradtoolError) as failure:
            run_files(sweep[1], executor=Dask(cluster.scheduler_address, timeout=2), progress=lose_every_worker)
        waited = time.monotonic() - lost[0]
    finally:
        cluster.close(timeout=30)
        clean(sweep[0])
    assert str(failure.value) == (
        f"the Dask cluster at {cluster.scheduler_address} has had no worker for 2 s (--cluster-timeout): "
        "were they all lost?"
    )
    assert 2 <= waited < 2 + 5, waited
