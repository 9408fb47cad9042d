"""A 64-run fit sweep three ways: serial, `--jobs 2` and a 2-worker Dask LocalCluster (`--cluster local
--workers 2`): the wall time of the whole command and the overhead per run, measured interleaved.

    python benchmarks/bench_sweep.py [--rounds 3] [--write docs/performance.md]

Each round runs the three commands one after the other (then the same with `--set epochs=0`: start-up and
dispatch alone), so that other load on the machine slows all of them alike; the best of the rounds is
reported, with the median. The three JSON documents must be equal but for `time_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 64
CONFIG = """\
description: 64 fits of a noisy sine, 4 optimizers x 4 learning rates x 4 seeds
task: fit
model: mlp:1-16-16-1
activation: tanh
data: {data}
target: y
epochs: 300
batch_size: 32
optimizers: [{{name: gd}}, {{name: momentum, momentum: 0.9}}, {{name: rmsprop}}, {{name: adam}}]
sweep: {{lr: [0.001, 0.003, 0.01, 0.03], seed: [0, 1, 2, 3]}}
"""
WAYS = {  # name -> the options of `gradtool run`
    "serial": [],
    "--jobs 2": ["--jobs", "2"],
    "Dask LocalCluster, 2 workers": ["--cluster", "local", "--workers", "2"],
}


def gradtool_run(config: Path, extra: list[str]) -> tuple[float, float, dict]:
    """``(wall seconds, CPU seconds of the command and every process it started, its JSON)``."""
    command = [str(Path(sys.executable).parent / "gradtool"), "run", str(config), "--json", *extra]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, json.loads(done.stdout)


def runs_without_times(doc: dict) -> list[dict]:
    """The runs of a fit config's JSON without ``time_s``, their only wall-clock field."""
    return [{k: v for k, v in run.items() if k != "time_s"} for run in doc["runs"]]


def measure(rounds: int) -> dict:
    """``{way: {"walls", "cpus", "empty", "same"}}``: ``same`` if every JSON document was the serial one."""
    out: dict = {way: {"walls": [], "cpus": [], "empty": [], "same": True} for way in WAYS}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "sweep.yaml"
        config.write_text(CONFIG.format(data=ROOT / "data" / "sine.csv"))
        reference = None
        for _ in range(rounds):
            for way, extra in WAYS.items():
                wall, cpu, doc = gradtool_run(config, extra)
                assert len(doc["runs"]) == RUNS
                reference = reference or runs_without_times(doc)
                out[way]["same"] &= runs_without_times(doc) == reference
                out[way]["walls"].append(wall)
                out[way]["cpus"].append(cpu)
            for way, extra in WAYS.items():
                out[way]["empty"].append(gradtool_run(config, [*extra, "--set", "epochs=0"])[0])
    return out


def section(rounds: int) -> str:
    load = os.getloadavg()[0]
    found = measure(rounds)
    after = os.getloadavg()[0]
    lines = [
        "## Sweeps: serial, `--jobs` and Dask",
        "",
        f"Measured by `python benchmarks/bench_sweep.py --write docs/performance.md` (also run by `make bench`): "
        f"`gradtool run sweep.yaml --json` on a {RUNS}-run fit sweep (mlp:1-16-16-1, tanh, data/sine.csv, 300 "
        "epochs in batches of 32; gd, momentum, rmsprop, adam x 4 learning rates x 4 seeds; the config is in the "
        f"script), each way {rounds} times, interleaved (serial, --jobs 2, Dask, serial, ...), on "
        f"{os.cpu_count()} cores shared with other jobs: load average {load:.1f} before, {after:.1f} after. "
        "Wall: the whole command, from start to its JSON (best of the rounds, median in brackets). CPU: the "
        "CPU time of the command and of every process it started (workers, a local cluster), best of the "
        "rounds: unlike wall time, other load hardly changes it. Overhead per run: (CPU - serial CPU) / runs, "
        "what running elsewhere costs (start-up, imports in every worker, the cluster, pickling, scheduling). "
        "Epochs 0: the same 64 runs without training (start-up and dispatch alone), best wall.",
        "",
        "| way | options | wall | CPU | overhead per run | epochs 0: wall | JSON = serial |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    serial_cpu = min(found["serial"]["cpus"])
    for way, extra in WAYS.items():
        f = found[way]
        overhead = (min(f["cpus"]) - serial_cpu) / RUNS
        lines.append(
            f"| {way} | `{' '.join(extra) or '(none)'}` | {min(f['walls']):.2f} s "
            f"({statistics.median(f['walls']):.2f}) | {min(f['cpus']):.2f} s | {overhead * 1e3:.0f} ms | "
            f"{min(f['empty']):.2f} s | {'yes' if f['same'] else 'NO'} |"
        )
    serial = min(found["serial"]["walls"])
    ratios = ", ".join(f"{way} {serial / min(found[way]['walls']):.2f}x" for way in list(WAYS)[1:])
    share = serial_cpu / serial
    busy = "with the cores that busy, two processes cannot finish much sooner than one, and " if share < 0.8 else ""
    lines += [
        "",
        f"Speed-up over serial (wall): {ratios}. The serial command got {share:.2f} of a core ({serial_cpu:.1f} s "
        f"of CPU in {serial:.1f} s): {busy}the CPU column, which hardly depends on the load, is the cost to read.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="how many times each way runs (interleaved)")
    parser.add_argument("--write", help="replace (or add) the 'Sweeps' section of this Markdown file")
    args = parser.parse_args()
    text = section(args.rounds)
    print(text)
    if args.write:
        path = Path(args.write)
        old = path.read_text() if path.exists() else ""
        pattern = re.compile(r"## Sweeps: .*?(?=\n## |\Z)", re.S)
        new = pattern.sub(lambda _: text.rstrip("\n"), old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
        path.write_text(new.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
