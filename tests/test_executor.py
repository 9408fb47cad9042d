"""Executors: task order kept, results in completion order to a callback, --jobs bounded, worker processes
that never outlive their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gradtool.executor import ExecutorError, LocalProcesses, Serial, make_executor, max_jobs, usable_cpus


def square(x: int) -> int:
    time.sleep(0.01 * (5 - x))  # later tasks finish first
    return x * x


def die(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


@pytest.mark.parametrize("executor", [Serial(), LocalProcesses(2)], ids=["serial", "processes"])
def test_results_in_task_order_and_each_announced_once(executor):
    seen = []
    assert executor.map(square, list(range(5)), lambda i, r: seen.append((i, r))) == [0, 1, 4, 9, 16]
    assert sorted(seen) == [(i, i * i) for i in range(5)]


def test_an_exception_from_the_callback_stops_the_pool():
    def stop(index, result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LocalProcesses(2).map(square, list(range(5)), stop)


@pytest.mark.parametrize("executor", [Serial(), LocalProcesses(2)], ids=["serial", "processes"])
def test_an_interrupt_gives_the_unfinished_tasks_on_errors_value(executor):
    """Ctrl-C (here raised by the callback at the second result) stops the map, which returns what finished."""
    arrived = []

    def stop_at_the_second(index, result):
        arrived.append(index)
        if len(arrived) == 2:
            raise KeyboardInterrupt

    results = executor.map(square, list(range(6)), stop_at_the_second, lambda i, exc: type(exc).__name__)
    assert all(r in (i * i, "KeyboardInterrupt") for i, r in enumerate(results))
    assert [results[i] for i in arrived] == [i * i for i in arrived]
    if isinstance(executor, Serial):
        assert results == [0, 1, *["KeyboardInterrupt"] * 4]
    arrived.clear()
    with pytest.raises(KeyboardInterrupt):  # without on_error the interrupt goes on
        executor.map(square, list(range(6)), stop_at_the_second)


def test_a_worker_that_dies_is_one_error_not_a_hang():
    with pytest.raises(ExecutorError, match="a worker process died"):
        LocalProcesses(2, grace=5).map(die, list(range(4)))


def test_jobs_are_bounded_by_the_tasks_and_the_cpus():
    assert isinstance(make_executor(1, 100), Serial) and isinstance(make_executor(8, 1), Serial)
    assert make_executor(8, 3).workers == min(3, max_jobs())
    assert make_executor(10_000, 10_000).workers == max_jobs() == 2 * usable_cpus()


def test_the_cli_says_when_it_lowers_jobs(invoke, monkeypatch):
    monkeypatch.setattr("gradtool.executor.usable_cpus", lambda: 1)
    config = os.path.join(os.path.dirname(__file__), "..", "configs", "lr-sweep.yaml")
    result = invoke("run", config, "--set", "steps=20", "--jobs", "64", "-q")
    assert "note: --jobs 64 lowered to 2 (2 per CPU, 1 CPU)" in result.stderr
    result = invoke("compare", "x^2", "--optimizers", "gd,adam,nag", "--steps", "20", "--jobs", "8", "-q")
    assert result.exit_code == 0 and "note: --jobs 8 lowered to 2 (2 per CPU, 1 CPU)" in result.stderr
    monkeypatch.setattr("gradtool.executor.usable_cpus", lambda: 4)
    result = invoke("compare", "x^2", "--optimizers", "gd,adam", "--steps", "20", "--jobs", "8", "-q")
    assert "note: --jobs 8 lowered to 2 (2 runs)" in result.stderr


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaps (an orphan's new parent may not reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
@pytest.mark.parametrize("mechanism", ["prctl", "watchdog"])
def test_a_worker_exits_when_its_parent_is_killed(mechanism, tmp_path):
    """A parent starts a grandchild that calls die_with_parent (prctl on Linux, or the polling fallback);
    SIGKILL on the parent must end the grandchild."""
    script = textwrap.dedent(f"""
        import os, sys, time
        if os.fork() == 0:
            import gradtool.executor as ex
            if {mechanism!r} == "watchdog":
                ex._parent_death_signal = lambda signum: False
            ex.die_with_parent(poll=0.1)
            print(os.getpid(), flush=True)
            time.sleep(120)
            os._exit(0)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()
        parent.wait(timeout=60)
        assert _wait_gone(child, 60), f"the child of a killed parent is still running ({mechanism})"
    finally:
        parent.kill()


def fail_on_two(x: int) -> int:
    if x == 2:
        raise ValueError(f"task {x} failed")
    return x


@pytest.mark.parametrize("executor", [Serial(), LocalProcesses(2)], ids=["serial", "processes"])
def test_a_task_that_raises_gets_on_errors_value_or_stops_everything(executor):
    def failed(index, exc):
        return f"{index}: {exc}"

    assert executor.map(fail_on_two, list(range(4)), on_error=failed) == [0, 1, "2: task 2 failed", 3]
    with pytest.raises(ValueError, match="task 2 failed"):
        executor.map(fail_on_two, list(range(4)))
