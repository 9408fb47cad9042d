"""Side-by-side measurements for docs/performance.md (`make bench`).

Each figure is the best of several repeats (least disturbed by other load) and is printed next to the
goal the issues set. Optional references (scipy, torch) are measured when installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best(fn, number: int, repeat: int = 5) -> float:
    """Seconds per call: the best of ``repeat`` timings of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def rosen_hand(x):
    a = x[1] - x[0] * x[0]
    return 100 * a * a + (1 - x[0]) ** 2, np.array([-400 * x[0] * a - 2 * (1 - x[0]), 200 * a])


def gradient_engines(rows: list) -> None:
    from gradtool.expr.objective import load_objective
    from gradtool.grad.engines import make_engine

    obj = load_objective("rosenbrock")
    x = np.array([-1.5, 2.0])
    engines = {name: make_engine(name, obj) for name in ("analytic", "autodiff", "numeric")}
    calls = {"hand": lambda: rosen_hand(x), **{n: (lambda e=e: e.value_and_gradient(x)) for n, e in engines.items()}}
    # interleaved rounds, best of each: a noisy neighbour slows all of them alike, not one of them
    times = {name: float("inf") for name in calls}
    for _ in range(7):
        for name, fn in calls.items():
            times[name] = min(times[name], best(fn, 10000, repeat=1))
    hand = times["hand"]
    rows.append(("hand-written numpy f+gradient, Rosenbrock 2-D", f"{hand * 1e6:.2f} us", "the floor"))
    ratio = times["analytic"] / hand
    rows.append(
        (
            "analytic f+gradient per call",
            f"{times['analytic'] * 1e6:.2f} us ({ratio:.1f}x hand)",
            "<= 3x hand: " + ("met" if ratio <= 3 else "NOT met"),
        )
    )
    ratio = times["autodiff"] / times["analytic"]
    rows.append(
        (
            "autodiff f+gradient per call",
            f"{times['autodiff'] * 1e6:.2f} us ({ratio:.1f}x analytic)",
            "<= 3x analytic: " + ("met" if ratio <= 3 else "NOT met"),
        )
    )
    pts = np.random.default_rng(0).uniform(-2, 2, size=(1000, 2))
    for name, e in engines.items():
        t = best(lambda e=e: e.value_and_gradient(pts), 50)
        rows.append((f"{name}, batch of 1,000 points", f"{t * 1e3:.3f} ms ({t * 1e6 / 1000:.3f} us/point)", ""))
    central = engines["numeric"]
    n10 = load_objective("rosenbrock", dim=10)
    num10 = make_engine("numeric", n10)
    x10 = np.full(10, 0.5)
    t_ours = best(lambda: num10.gradient(x10), 2000)
    rows.append(("vectorized central difference, Rosenbrock 10-D", f"{t_ours * 1e6:.1f} us", ""))
    if importlib.util.find_spec("scipy"):
        from scipy.optimize import approx_fprime

        t_sp = best(lambda: approx_fprime(x10, num10.value, 1.49e-8), 500)
        rows.append(
            (
                "scipy.optimize.approx_fprime (forward), same",
                f"{t_sp * 1e6:.1f} us ({t_sp / t_ours:.1f}x ours)",
                "scipy loops over variables in Python",
            )
        )
    del central


def setup_times(rows: list) -> None:
    from gradtool.expr.objective import load_objective
    from gradtool.expr.parser import parse_expression
    from gradtool.grad.engines import make_engine

    for n in (10, 100, 1000):
        t0 = time.perf_counter()
        obj = load_objective("rosenbrock", dim=n)
        make_engine("analytic", obj)
        t1 = time.perf_counter()
        text = " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))
        t2 = time.perf_counter()
        parse_expression(text)
        t3 = time.perf_counter()
        rows.append(
            (
                f"set-up Rosenbrock {n:,} variables (build + analytic engine)",
                f"{t1 - t0:.3f} s",
                f"typed as text, parsing alone: {t3 - t2:.3f} s",
            )
        )


def startup(rows: list) -> None:
    def run(args):
        return min(_wall([sys.executable, *args]) for _ in range(7))

    # an installed package has its bytecode compiled by pip; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 (as here) would recompile every module on every start
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "gradtool")], check=True)

    base = run(["-c", "pass"])
    helps = run(["-m", "gradtool", "--help"])
    imports = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, gradtool.cli; print(sorted(m for m in ('sympy','numpy','matplotlib') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    rows.append(("`python -c pass`", f"{base * 1e3:.0f} ms", ""))
    rows.append(
        (
            "`gradtool --help`",
            f"{helps * 1e3:.0f} ms (+{(helps - base) * 1e3:.0f} ms)",
            f"<= 0.3 s, heavy modules imported: {imports}",
        )
    )
    floor = run(["-c", "import numpy, sympy, typer, rich"])
    used = run(["-c", USED_FLOOR])
    end = run(["-m", "gradtool", "minimize", "x^2 + 3*y^2", "--x0", "1,1", "--steps", "1000", "--tol", "0", "--quiet"])
    rows.append(("import numpy, sympy, typer, rich", f"{floor * 1e3:.0f} ms", "bare imports"))
    rows.append(
        (
            "the same, each used once: a SymPy sum, a Typer command with an int option (the floor)",
            f"{used * 1e3:.0f} ms",
            "SymPy imports its tensor and combinatorics modules at the first Add; Typer loads pydantic to parse",
        )
    )
    rows.append(
        (
            "`gradtool minimize` 2 variables, 1,000 steps, end to end",
            f"{end * 1e3:.0f} ms (+{(end - used) * 1e3:.0f} ms over the floor, +{(end - floor) * 1e3:.0f} ms over "
            "bare imports)",
            "within 0.3 s of the floor: " + ("met" if end - used <= 0.3 else "NOT met"),
        )
    )


USED_FLOOR = """
import numpy, sympy, typer, rich
sympy.Symbol("x") + 1
app = typer.Typer()
@app.command()
def main(steps: int = 1): pass
app(["--steps", "3"], standalone_mode=False)
"""


def _wall(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    return time.perf_counter() - t


def descent(rows: list) -> None:
    import gradtool

    steps = 20000
    r = gradtool.minimize(
        "rosenbrock", "-1.5,2", optimizer="momentum", lr=1e-4, momentum=0.9, steps=steps, tol=0, classify=False
    )
    ours = (
        min(
            gradtool.minimize(
                "rosenbrock", "-1.5,2", optimizer="momentum", lr=1e-4, momentum=0.9, steps=steps, tol=0, classify=False
            ).time_s
            for _ in range(3)
        )
        / steps
    )

    from bench_cache import hand_loop

    t = min(timeit.repeat(lambda: hand_loop(steps), number=1, repeat=3)) / steps
    np.testing.assert_allclose(hand_loop(steps), r.x, rtol=1e-9)
    rows.append(
        (
            "`gradtool.minimize` momentum, Rosenbrock 2-D, per step",
            f"{ours * 1e6:.2f} us ({ours / t:.1f}x hand)",
            "<= 1.5x hand-written numpy: " + ("met" if ours <= 1.5 * t else "NOT met") + " (CPU, interleaved: below)",
        )
    )
    rows.append(("hand-written numpy momentum loop, per step", f"{t * 1e6:.2f} us", "the floor"))
    if importlib.util.find_spec("torch"):
        import torch

        def torch_loop(n):
            p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
            opt = torch.optim.SGD([p], lr=1e-4, momentum=0.9)
            for _ in range(n):
                opt.zero_grad()
                f = 100 * (p[1] - p[0] ** 2) ** 2 + (1 - p[0]) ** 2
                f.backward()
                opt.step()
            return p.detach().numpy()

        torch_loop(10)
        n = 2000
        tt = min(timeit.repeat(lambda: torch_loop(n), number=1, repeat=3)) / n
        rows.append(
            (
                "torch.optim.SGD(momentum) + autograd, per step",
                f"{tt * 1e6:.1f} us ({tt / ours:.0f}x gradtool)",
                ">= 20x slower than gradtool: " + ("met" if tt >= 20 * ours else "NOT met"),
            )
        )
    t0 = time.perf_counter()
    res = gradtool.minimize(
        "rosenbrock", starts=1000, box="-2,2", seed=0, optimizer="momentum", lr=1e-4, momentum=0.9, steps=1000, tol=0
    )
    dt = time.perf_counter() - t0
    rows.append(
        (
            "multi-start 1,000 starts x 1,000 momentum steps, Rosenbrock 2-D",
            f"{dt:.2f} s",
            "< 2 s: " + ("met" if dt < 2 else "NOT met") + f" ({res.starts['count']} starts)",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", help="also write the Markdown table into this file")
    args = parser.parse_args()
    rows: list = []
    for section in (gradient_engines, setup_times, descent, startup):
        section(rows)
    extra = ""
    fit_bench = ROOT / "benchmarks" / "bench_fit.py"
    if fit_bench.exists():
        extra = subprocess.run([sys.executable, str(fit_bench)], capture_output=True, text=True, cwd=ROOT).stdout
    numeric_bench = ROOT / "benchmarks" / "bench_numeric.py"
    numeric = subprocess.run([sys.executable, str(numeric_bench)], capture_output=True, text=True, cwd=ROOT).stdout
    for bench in ("bench_graph.py", "bench_search.py"):
        path = ROOT / "benchmarks" / bench
        numeric += "\n" + subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=ROOT).stdout
    sweep_bench = ROOT / "benchmarks" / "bench_sweep.py"  # serial vs --jobs vs Dask (needs the dask extra)
    sweeps = subprocess.run([sys.executable, str(sweep_bench)], capture_output=True, text=True, cwd=ROOT).stdout
    for name in ("bench_cache.py", "bench_limits.py"):  # the compile cache and the inner loop; issue 10's limits
        bench = ROOT / "benchmarks" / name
        sweeps += "\n" + subprocess.run([sys.executable, str(bench)], capture_output=True, text=True, cwd=ROOT).stdout
    table = ["| measurement | result | goal / note |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(table)
    print(text)
    if extra:
        print(extra)
    print(numeric)
    print(sweeps)
    if args.write:
        header = (
            "# Performance\n\nMeasured by `make bench` (`python benchmarks/run_all.py --write docs/performance.md`)"
            f" on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}. Times are the best of several repeats; on this shared 2-core virtual machine the "
            "same figure varies by up to a third from one run to the next, so ratios measured in one run (side by "
            "side, interleaved where it matters) are the figures to read.\n\n"
        )
        Path(args.write).write_text(
            header
            + "## Gradients and descent\n\n"
            + text
            + "\n"
            + ("\n## Fitting\n\n" + extra if extra else "")
            + "\n"
            + numeric
            + ("\n" + sweeps if sweeps.strip() else "")
        )


if __name__ == "__main__":
    main()
