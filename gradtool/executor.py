"""Executors: run independent tasks and return their results in task order, here or in worker processes.

An executor has one method, ``map(fn, tasks, on_result=None, on_error=None) -> results``: ``fn`` is a
module-level function (it may travel to another process), results come back in task order, and
``on_result(index, result)`` is called as each one arrives (in completion order); an exception it raises
stops everything. A task that raises an Exception gets ``on_error(index, exception)`` as its result (without
``on_error`` the exception stops everything). Ctrl-C or SIGTERM (a KeyboardInterrupt, raised in a task, in
``on_result`` or while waiting) stops everything too; with ``on_error``, each task that has no result yet
gets ``on_error(index, interrupt)`` and ``map`` returns, so that the finished ones can be reported. There
are three: :class:`Serial` runs in this process;
:class:`LocalProcesses` runs ``--jobs`` worker processes that stop cleanly when interrupted (Ctrl-C, SIGTERM)
and never outlive this process, even when it is killed by SIGKILL; ``gradtool.cluster.Dask`` runs on a Dask
cluster (``--cluster``; it imports dask only when used).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gradtool.errors import GradtoolError
from gradtool.interrupt import Terminated, deliver

JOBS_PER_CPU = 2  # runs are CPU-bound: more worker processes than this per core only cost memory
GRACE_S = 30.0  # how long stopped workers get to finish their files before SIGKILL


class ExecutorError(GradtoolError):
    """The executor itself failed (a worker process died)."""


class Executor(Protocol):
    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_result: Callable[[int, Any], None] | None = None,
        on_error: Callable[[int, BaseException], Any] | None = None,
    ) -> list[Any]: ...


class Serial:
    """Every task in this process, one after the other."""

    def map(self, fn, tasks, on_result=None, on_error=None):
        results: list[Any] = []
        try:
            for index, task in enumerate(tasks):
                try:
                    results.append(fn(task))
                except Exception as exc:
                    if on_error is None:
                        raise
                    results.append(on_error(index, exc))
                if on_result:
                    on_result(index, results[-1])
        except KeyboardInterrupt as stop:
            if on_error is None:
                raise
            results += [on_error(index, stop) for index in range(len(results), len(tasks))]
        return results


@dataclass
class LocalProcesses:
    """A pool of ``workers`` processes on this machine (``concurrent.futures.ProcessPoolExecutor``).

    When ``map`` is interrupted (or ``on_result`` raises), pending tasks are cancelled and every worker gets
    SIGTERM: the task it is running stops as on Ctrl-C (its files complete) and its result comes back; then
    (or after ``grace`` seconds) the workers are killed.
    """

    workers: int
    grace: float = GRACE_S

    def map(self, fn, tasks, on_result=None, on_error=None):
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        results: list[Any] = [None] * len(tasks)
        from gradtool.budget import get_budget

        pool = ProcessPoolExecutor(self.workers, initializer=worker_setup, initargs=(get_budget(),))
        futures: dict[Any, int] = {}
        pending = set(range(len(tasks)))
        try:
            futures.update({pool.submit(run_task, fn, task): i for i, task in enumerate(tasks)})
            for future in as_completed(futures):
                index = futures[future]
                pending.discard(index)
                failure = future.exception()
                if failure is None:
                    results[index] = future.result()
                elif on_error is None or isinstance(failure, BrokenProcessPool):
                    raise failure
                else:
                    results[index] = on_error(index, failure)
                if on_result:
                    on_result(index, results[index])
        except BrokenProcessPool:
            self._stop(pool, futures)
            raise ExecutorError("a worker process died unexpectedly (out of memory?); try fewer --jobs") from None
        except KeyboardInterrupt as stop:
            self._stop(pool, futures)  # the running tasks stop as on Ctrl-C: their interrupted results come back
            if on_error is None:
                raise
            for future, index in futures.items():
                if index in pending:
                    done = future.done() and not future.cancelled() and future.exception() is None
                    results[index] = future.result() if done else on_error(index, stop)
            return results
        except BaseException:
            self._stop(pool, futures)
            raise
        pool.shutdown()
        return results

    def _stop(self, pool, futures) -> None:
        """Cancel the tasks not started, send every worker SIGTERM (a running task stops as on Ctrl-C, its
        files complete, and its result comes back), wait for the running tasks' results (at most ``grace``
        seconds), then kill the workers left: idle ones wait for a task that will not come."""
        block = getattr(signal, "pthread_sigmask", None)  # a second Ctrl-C must not abandon the workers
        if block:
            block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            deadline = time.monotonic() + self.grace
            running = [future for future in futures if not future.done()]
            while running and time.monotonic() < deadline and any(p.is_alive() for p in processes):
                time.sleep(0.01)
                running = [future for future in running if not future.done()]
            for process in processes:
                if process.is_alive():
                    process.kill()
            for process in processes:
                process.join()
        finally:
            if block:
                with contextlib.suppress(KeyboardInterrupt):  # another stop during the clean-up: this one is it
                    block(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def max_jobs() -> int:
    """The most worker processes gradtool starts: ``JOBS_PER_CPU`` per usable CPU."""
    return JOBS_PER_CPU * usable_cpus()


def make_executor(jobs: int, tasks: int) -> Executor:
    """Serial for one job or one task, else at most ``min(jobs, tasks, max_jobs())`` local processes."""
    workers = min(jobs, tasks, max_jobs())
    return Serial() if workers <= 1 else LocalProcesses(workers)


# ---- inside a worker process -----------------------------------------------------------------------------

_busy = False  # a task is running
_stopping = False  # SIGTERM arrived: finish the current task's files, start nothing new
_parent: int | None = None  # the process that started this worker


def worker_setup(budget: float | None = None) -> None:
    """Initializer of a worker: Ctrl-C is the parent's to handle; SIGTERM stops the task as Ctrl-C would
    (its ``interrupted`` result and complete files) and then the worker; the worker dies with the parent;
    symbolic steps get the command's ``--budget`` (gradtool.budget)."""
    from gradtool.budget import set_budget

    set_budget(budget)
    global _parent
    _parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    die_with_parent()


def run_task(fn: Callable[[Any], Any], task: Any) -> Any:
    """Run one task in a worker (refused once the worker has been told to stop)."""
    global _busy
    if _stopping:
        raise Terminated()
    _busy = True
    try:
        return fn(task)
    finally:
        _busy = False
        if _stopping and os.getppid() != _parent:  # the parent has gone: nobody waits for the result
            os._exit(128 + signal.SIGTERM)


def _worker_stop(signum: int, frame) -> None:
    global _stopping
    if not _busy:
        if os.getppid() != _parent:
            os._exit(128 + signum)  # orphaned, between tasks: nothing open, nothing to finish
        # Idle, waiting for a task: exiting here could leave the task queue's lock taken (a reader holds it
        # while it waits), and the other workers could then never send back their results. Start nothing new;
        # the parent ends this process once the running tasks' results are in.
        _stopping = True
        return
    if not _stopping:  # a second SIGTERM must not interrupt the first one's clean-up
        _stopping = True
        deliver(Terminated(signum))  # after the row being written, if one is (gradtool.interrupt.hold)


def die_with_parent(poll: float = 0.5) -> None:
    """Send this process SIGTERM when its parent exits, even by SIGKILL: ``prctl(PR_SET_PDEATHSIG)`` on
    Linux, else a daemon thread that polls ``os.getppid()`` every ``poll`` seconds."""
    parent = os.getppid()
    if not _parent_death_signal(signal.SIGTERM):
        threading.Thread(target=watch_parent, args=(parent, poll), daemon=True).start()
    elif os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def watch_parent(parent: int, poll: float = 0.5) -> None:
    """Block until this process's parent is no longer ``parent``, then send this process SIGTERM."""
    while os.getppid() == parent:
        time.sleep(poll)
    os.kill(os.getpid(), signal.SIGTERM)


def _parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, signum, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False
