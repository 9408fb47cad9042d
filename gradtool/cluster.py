"""The Dask executor (``--cluster local|ADDRESS``): every task is one Dask future, results stream back as they
finish. dask and distributed are imported here only, and only when a map runs (``pip install 'gradtool[dask]'``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradtool
from gradtool.errors import ConfigError
from gradtool.executor import ExecutorError

LOCAL = "local"
DEFAULT_PORT = 8786  # dask scheduler's
TIMEOUT_S = 10.0
INSTALL = "pip install 'gradtool[dask]'"
CLOSE_S = 5.0  # how long closing the client (and a local cluster) may take
POLL_S, CHECK_S = 0.05, 1.0  # waiting for results: look for one every POLL_S, for lost workers every CHECK_S
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_ADDRESS = re.compile(rf"(?:({'|'.join(SCHEMES)})://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{{1,5}}))?/?")


class VersionMismatch(ExecutorError):
    """A worker runs another gradtool version than the client."""


class WorkerDied(Exception):
    """Every worker that ran a task died while running it (Dask gave up retrying it)."""


def parse_cluster(text: str) -> str:
    """``local``, or a scheduler address normalised to ``scheme://host:port`` (default tcp, port 8786)."""
    value = text.strip()
    if value.lower() == LOCAL:
        return LOCAL
    match = _ADDRESS.fullmatch(value)
    port = match and match.group(3)
    if not match or (port and not 0 < int(port) < 65536):
        raise ConfigError(f"--cluster: {text!r} is not 'local' or a scheduler address such as tcp://10.0.0.5:8786")
    return f"{match.group(1) or 'tcp'}://{match.group(2)}:{port or DEFAULT_PORT}"


def import_distributed():
    """The ``distributed`` module, or one line saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ExecutorError(f"--cluster needs dask and distributed: {INSTALL}") from None
    return distributed


@dataclass
class Dask:
    """Tasks as futures on a Dask cluster: a LocalCluster of ``workers`` processes on this machine (loopback
    only) for ``address="local"``, else the cluster whose scheduler is at ``address``.

    ``timeout`` bounds the wait for the scheduler and its first worker, and for a worker when all were lost
    mid-way (Dask would wait forever). Each task runs through
    :func:`remote_task`: its gradtool version is checked, and the files it writes come back to be written
    here. Dask runs a lost worker's tasks again elsewhere; a task that raises, or whose workers all died, is
    handed to ``on_error``. Ctrl-C or SIGTERM cancels the unfinished tasks and hands each to ``on_error``
    with the interrupt (without ``on_error``, the interrupt propagates); tasks already running on a remote
    worker finish there (Dask cannot stop them), their results unused.
    """

    address: str = LOCAL
    workers: int | None = None
    timeout: float = TIMEOUT_S

    def __post_init__(self) -> None:
        self.address = parse_cluster(self.address)

    def map(self, fn, tasks, on_result=None, on_error=None):
        if not tasks:  # check-grad configs alone: nothing to start a cluster for
            return []
        distributed = import_distributed()
        with self._session(distributed, len(tasks)) as session:
            return self._gather(distributed, session, fn, tasks, on_result, on_error)

    def _gather(self, distributed, session: _Session, fn, tasks, on_result, on_error) -> list[Any]:
        """Submit every task, take the results as they arrive; on an interrupt cancel the others."""
        client, futures = session.client, []
        results: list[Any] = [None] * len(tasks)
        pending = dict.fromkeys(range(len(tasks)))
        try:
            token = uuid.uuid4().hex[:8]  # keys unique on a shared scheduler, readable on its dashboard
            keys = [f"gradtool-{token}-{i}" for i in range(len(tasks))]
            futures = client.map(remote_task, tasks, key=keys, pure=False, fn=fn, version=gradtool.__version__)
            index = {future.key: i for i, future in enumerate(futures)}
            for future, value in self._arrivals(distributed, client, futures):
                i = index[future.key]
                results[i] = _arrived(future, value, i, on_error)
                del pending[i]
                if on_result:
                    on_result(i, results[i])
        except KeyboardInterrupt as stop:
            session.abandon(futures)
            if on_error is None:
                raise
            for i in pending:
                results[i] = on_error(i, stop)
        except BaseException:
            session.abandon(futures)
            raise
        return results

    def _arrivals(self, distributed, client, futures) -> Iterator[tuple[Any, Any]]:
        """``(future, value)`` as each task ends; an ExecutorError once the cluster has had no worker for
        ``timeout`` seconds (all lost: Dask would wait for new ones forever) or its scheduler is gone."""
        done = distributed.as_completed(futures, loop=client.loop, with_results=True, raise_errors=False)
        check, alone_since = time.monotonic() + CHECK_S, None
        while not done.is_empty():
            if done.has_ready():
                yield next(done)
                continue
            time.sleep(POLL_S)
            if time.monotonic() < check:
                continue
            check = time.monotonic() + CHECK_S
            try:
                workers = client.nthreads(callback_timeout=self.timeout)
            except (OSError, TimeoutError):
                raise ExecutorError(f"lost the Dask scheduler at {self.address}") from None
            alone_since = None if workers else alone_since or time.monotonic()
            if alone_since is not None and time.monotonic() - alone_since > self.timeout:
                raise ExecutorError(
                    f"the Dask cluster at {self.address} has had no worker for {self.timeout:g} s "
                    "(--cluster-timeout): were they all lost?"
                )

    @contextlib.contextmanager
    def _session(self, distributed, tasks: int) -> Iterator[_Session]:
        """A client with at least one worker (for ``local``, of the cluster started first), closed at the end."""
        session = _Session()
        try:
            if self.address == LOCAL:
                session.cluster = self._local_cluster(distributed, tasks)
            deadline = time.monotonic() + self.timeout
            try:
                target = session.cluster or self.address
                session.client = distributed.Client(target, timeout=_left(deadline), set_as_default=False)
            except (OSError, TimeoutError):
                raise ExecutorError(
                    f"no Dask scheduler answered at {self.address} within {self.timeout:g} s (--cluster-timeout)"
                ) from None
            try:
                session.client.wait_for_workers(1, timeout=_left(deadline))
            except (OSError, TimeoutError):
                raise ExecutorError(
                    f"the Dask scheduler at {self.address} has no workers after {self.timeout:g} s "
                    f"(--cluster-timeout): start some with `dask worker {self.address}`"
                ) from None
            session.pids = _check_workers(session.client, _left(deadline))
            yield session
        except BaseException:
            session.abandon([])
            raise
        finally:
            session.close()

    def _local_cluster(self, distributed, tasks: int):
        from gradtool.executor import usable_cpus

        workers = self.workers or max(1, min(tasks, usable_cpus()))
        try:
            return distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,  # runs are CPU-bound Python: one at a time per process
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # its HTTP server (health, metrics): loopback, a free port
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.ERROR,
            )
        except (OSError, TimeoutError, RuntimeError) as exc:
            raise ExecutorError(f"could not start a local Dask cluster: {exc}") from None


def _left(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


def _check_workers(client, timeout: float) -> list[int]:
    """The process ids of the workers, once each has been found to run this gradtool version."""
    try:
        answers = client.run(_version_probe(), on_error="return", callback_timeout=timeout)
    except (OSError, TimeoutError):
        raise ExecutorError(f"the Dask workers did not answer within {timeout:g} s (--cluster-timeout)") from None
    for worker, answer in sorted(answers.items()):
        if not isinstance(answer, BaseException):
            check_version(answer[0], gradtool.__version__, worker)
    return [answer[1] for answer in answers.values() if not isinstance(answer, BaseException)]


def _version_probe():
    def gradtool_version() -> tuple[str | None, int]:  # nested: pickled by value, runs where gradtool is not
        import os

        try:
            import gradtool
        except ImportError:
            return None, os.getpid()
        return gradtool.__version__, os.getpid()

    return gradtool_version


def check_version(theirs: str | None, ours: str, worker: str) -> None:
    """A worker must run the client's gradtool version (a VersionMismatch naming it otherwise)."""
    if theirs is None:
        raise VersionMismatch(f"the Dask worker {worker} has no gradtool: install gradtool {ours} on every worker")
    if theirs != ours:
        raise VersionMismatch(
            f"the Dask worker {worker} runs gradtool {theirs}, this is gradtool {ours}: "
            "install the same version on every worker"
        )


def _arrived(future, value, index: int, on_error) -> Any:
    """A task's result (its files written here), or ``on_error``'s value for a task that failed."""
    if future.status == "finished":
        from gradtool.io import write_captured

        result, files = value
        write_captured(files)
        return result
    if future.status == "cancelled":
        raise ExecutorError("the Dask scheduler cancelled a task (did it restart, or lose this client?)")
    failure = value[1]
    if type(failure).__name__ == "KilledWorker":  # Dask gave up after allowed-failures lost workers
        tries = getattr(failure, "allowed_failures", None)
        times = f" {tries + 1} times" if isinstance(tries, int) else ""
        failure = WorkerDied(f"the workers running it died{times} (out of memory, or killed?)")
    if on_error is None:
        raise failure
    return on_error(index, failure)


@dataclass
class _Session:
    """The client, and for ``--cluster local`` the cluster and its worker processes."""

    client: Any = None
    cluster: Any = None
    pids: list[int] = field(default_factory=list)  # of the workers (killed if a local cluster is abandoned)
    abandoned: bool = False

    def abandon(self, futures: list[Any]) -> None:
        """Stopped early: cancel the futures; a local cluster's workers are killed (a task cannot be stopped
        otherwise, and its files are in memory), so that closing it does not wait for them."""
        with _signals_blocked():
            if self.client is not None and futures:
                with contextlib.suppress(Exception):
                    self.client.cancel(futures)
            if self.cluster is not None and not self.abandoned:
                for nanny in self.cluster.workers.values():
                    nanny.close_gracefully()  # no restart of the workers killed next
                for pid in self.pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            self.abandoned = True

    def close(self) -> None:
        with _signals_blocked():
            for part in (self.client, self.cluster):
                if part is not None:
                    with contextlib.suppress(Exception):
                        part.close(CLOSE_S)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Cleaning up on the way out: a second Ctrl-C (or SIGTERM) waits until it is done."""
    block = getattr(signal, "pthread_sigmask", None)
    if block:
        block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        if block:
            block(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


# ---- on a worker -----------------------------------------------------------------------------------------


def remote_task(task: Any, fn, version: str) -> tuple[Any, dict[str, tuple[str, str | bytes]]]:
    """``fn(task)`` on a Dask worker, refused if this worker's gradtool is not ``version`` (the client's);
    returns ``(result, files)``: the outputs it wrote, kept in memory to be written by the client."""
    if gradtool.__version__ != version:  # a worker that joined after the check
        from distributed import get_worker

        check_version(gradtool.__version__, version, get_worker().address)
    from gradtool.io import capture_outputs

    with capture_outputs() as files:
        result = fn(task)
    return result, files
