"""The Dask options of `run` and `compare` (``--cluster``, ``--workers``, ``--cluster-timeout``, the
``GRADTOOL_CLUSTER`` variable) -> the executor that runs the runs (none: ``--jobs`` decides)."""

from __future__ import annotations

import math
import os
import sys
from typing import Annotated, Any

import typer

from gradtool.errors import ConfigError

ENV = "GRADTOOL_CLUSTER"
TIMEOUT_S = 10.0  # gradtool.cluster.TIMEOUT_S, without importing it for --help

Cluster = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        envvar=ENV,
        show_envvar=True,
        help="Run the runs on Dask: 'local' (a cluster of worker processes on this machine) or a scheduler's "
        "address, e.g. tcp://10.0.0.5:8786 (needs pip install 'gradtool[dask]'; same results, same order).",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="--cluster local: N worker processes (default: one per CPU, at most one per run)."),
]
ClusterTimeout = Annotated[
    float,
    typer.Option(
        "--cluster-timeout",
        help="Seconds to wait for the Dask scheduler and a first worker (mid-sweep: for a worker, if all were lost).",
    ),
]


def cluster_executor(cluster: str | None, workers: int | None, timeout: float, jobs: int) -> Any:
    """The Dask executor ``--cluster`` (or GRADTOOL_CLUSTER) asks for, or None; the options checked together
    (``workers`` already bounded by the caller)."""
    if not cluster or not cluster.strip():
        if workers is not None:
            raise ConfigError("--workers needs --cluster local (for processes without Dask, use --jobs)")
        return None
    from gradtool.cluster import LOCAL, Dask, parse_cluster

    address = parse_cluster(cluster)
    given = f" ({ENV} is set)" if os.environ.get(ENV) else ""
    if jobs != 1:
        raise ConfigError(f"--jobs and --cluster{given} exclude each other: --jobs runs local processes without Dask")
    if isinstance(timeout, bool) or not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"--cluster-timeout must be a number of seconds > 0, got {timeout!r}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be a whole number >= 1, got {workers}")
    if workers is not None and address != LOCAL:
        raise ConfigError(f"--workers is for --cluster local; the cluster at {address}{given} has its own workers")
    return Dask(address, workers, float(timeout))


def show_progress(executor: Any) -> bool:
    """A progress bar for runs that stream back from a cluster, on a terminal only."""
    return executor is not None and sys.stderr.isatty()
