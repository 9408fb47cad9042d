"""`gradtool graph` against exact arithmetic: every node's value and adjoint on random expressions (the test
suite's generator) against SymPy at 30 digits; the gradient against `grad --at`'s, bit for bit; the analytic
and reverse-mode engines' gradients against 40-digit truth (why `grad --at` evaluates with the latter); and
the command's time. Prints a Markdown section; --write FILE replaces (or adds) it in FILE.

    python benchmarks/bench_graph.py [--write docs/performance.md]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_graph import hidden_cases, sympy_nodes  # noqa: E402

from gradtool.derive import describe_gradient  # noqa: E402
from gradtool.grad.analytic import AnalyticEngine  # noqa: E402
from gradtool.grad.autodiff import AutodiffEngine  # noqa: E402
from gradtool.graph import computation_graph  # noqa: E402

COUNT, SEED = 200, 2026


def relative(value: float, exact: sp.Expr) -> float:
    exact = float(exact)
    return abs(value - exact) / abs(exact) if exact else abs(value)


def node_errors(cases) -> tuple[list[float], list[float], int]:
    """Relative errors of every node's value and adjoint, and how many gradients equal grad --at's bits."""
    values, adjoints, same = [], [], 0
    s = sp.Symbol("s", real=True)
    for objective, point in cases:
        graph = computation_graph(objective, point)
        subs = {sp.Symbol(v, real=True): sp.Float(x, 30) for v, x in zip(graph.variables, graph.at, strict=True)}
        exprs = sympy_nodes(graph)
        for node in graph.nodes:
            value = exprs[node.id].subs(subs).evalf(30)
            values.append(relative(node.value, value))
            if node.adjoint is not None:
                output = sympy_nodes(graph, node.id, s)[graph.output]
                adjoints.append(relative(node.adjoint, sp.diff(output, s).subs(s, value).subs(subs).evalf(30)))
        shown = describe_gradient(objective, list(point))["value"]
        same += all(a.hex() == b.hex() for a, b in zip(graph.gradient, shown.values(), strict=True))
    return values, adjoints, same


def engine_errors(cases) -> dict[str, list[float]]:
    errors: dict[str, list[float]] = {"analytic (SymPy, lambdify)": [], "autodiff (reverse mode)": []}
    for objective, point in cases:
        subs = {s: sp.Float(float(v), 40) for s, v in zip(objective.symbols, point, strict=True)}
        exact = [sp.diff(objective.expr, s).subs(subs).evalf(40) for s in objective.symbols]
        for name, engine in zip(errors, (AnalyticEngine, AutodiffEngine), strict=True):
            g = engine(objective.expr, objective.symbols).gradient(np.asarray(point))
            errors[name] += [relative(a, b) for a, b in zip(g, exact, strict=True) if b != 0]
    return errors


def command_seconds(args: list[str]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gradtool", *args], capture_output=True, check=True, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    return best


def section() -> str:
    cases = hidden_cases(COUNT, SEED)
    values, adjoints, same = node_errors(cases)
    engines = engine_errors(cases)
    neuron = ["graph", "0.5*(t - sigmoid(w*x + b))^2", "--at", "w=0.5,x=2,b=-1,t=1"]
    reference = ["minimize", "x^2", "--x0", "1", "--steps", "10"]
    lines = [
        "## The computation graph",
        "",
        f"Measured by `python benchmarks/bench_graph.py --write docs/performance.md` (also run by `make bench`) on "
        f"{COUNT} random expressions of the test suite's generator (`tests/test_graph.py`, seed {SEED}: sums, "
        "products, quotients, powers, nested and shared functions of x, y, z) at random points, against SymPy "
        "(each node rebuilt from the graph's structure, its adjoint as d F / d node with the node a free symbol).",
        "",
        "| measurement | result | goal |",
        "| --- | --- | --- |",
        f"| node values vs 30 digits ({len(values)} nodes) | median {np.median(values):.1e}, max "
        f"{max(values):.1e} relative | <= 1e-12: {'met' if max(values) <= 1e-12 else 'NOT met'} |",
        f"| node adjoints vs 30 digits ({len(adjoints)}) | median {np.median(adjoints):.1e}, max "
        f"{max(adjoints):.1e} relative | <= 1e-12: {'met' if max(adjoints) <= 1e-12 else 'NOT met'} |",
        f"| gradient equal to `grad --at`'s, bit for bit | {same} of {COUNT} | all: "
        f"{'met' if same == COUNT else 'NOT met'} |",
        *(
            f"| {name} gradient vs 40 digits ({len(err)} partials) | median {np.median(err):.1e}, "
            f"99th percentile {np.quantile(err, 0.99):.1e}, max {max(err):.1e} | |"
            for name, err in engines.items()
        ),
        f"| `gradtool {' '.join(neuron)}` end to end (best of 3) | {command_seconds(neuron):.2f} s | |",
        f"| the same with `--out neuron.png` | {command_seconds([*neuron, '--out', '/dev/null']):.2f} s | |",
        f"| for comparison, `gradtool {' '.join(reference)}` (same run) | {command_seconds(reference):.2f} s | |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    from sections import main_of

    main_of(section, __doc__)


if __name__ == "__main__":
    main()
