"""Backpropagation cost, side by side: one full-batch training step of mlp:2-16-16-1 on 1,000 rows, gradtool vs
the same network in PyTorch (CPU, float64) when installed; gradient cost over forward cost at 10, 100,
1,000 and 10,000 parameters, reverse mode vs central differences; and expression models against the
equivalent network on 64 features (interleaved rounds, ratios). Prints Markdown tables.

    python benchmarks/bench_fit.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable

import numpy as np

from gradtool.fitting.gradients import AutodiffGradient, NumericGradient, Objective, central_gradient
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import make_model
from gradtool.optim import make_optimizer

ROWS, SIZES, LR = 1000, (2, 16, 16, 1), 0.1


def best_time(function: Callable[[], object], budget: float = 0.5, repeats: int = 5) -> float:
    """Seconds per call: the best of ``repeats`` rounds of about ``budget / repeats`` seconds each."""
    start = time.perf_counter()
    function()  # warm-up (compiles the tape on first use) and calibration
    calls = max(1, int(budget / repeats / max(time.perf_counter() - start, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def problem(sizes: tuple[int, ...], rows: int, activation: str = "tanh"):
    rng = np.random.default_rng(0)
    columns = [f"x{k}" for k in range(sizes[0])]
    model = make_model("mlp:" + "-".join(map(str, sizes)), [*columns, "y"], ["y"], activation=activation)
    objective = Objective(model, make_loss("mse"))
    x = rng.normal(size=(rows, sizes[0]))
    y = np.sin(x.sum(axis=1, keepdims=True))
    return objective, model.init(rng), x, y


def gradtool_step(sizes=SIZES, rows=ROWS, activation="tanh") -> Callable[[], object]:
    """One step exactly as `gradtool fit` takes it: one forward + reverse sweep, then the SGD update."""
    objective, theta, x, y = problem(sizes, rows, activation)
    engine, opt, args = AutodiffGradient(objective), make_optimizer("gd", lr=LR), objective.args(x, y)
    state = [theta, opt.init(theta)]

    def step():
        _, g = engine(state[0], args)
        state[0], state[1] = opt.update(g, state[1], state[0], LR)

    return step


def torch_step(sizes=SIZES, rows=ROWS, activation="tanh") -> Callable[[], object]:
    """The same network, loss and SGD step in PyTorch (float64, CPU)."""
    import torch

    objective, theta, x, y = problem(sizes, rows, activation)
    views = objective.layout.views(theta)
    layers = []
    for k in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[k - 1], sizes[k]).double())
        if k < len(sizes) - 1:
            layers.append({"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[activation]())
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():  # the same starting weights as gradtool's (torch stores W transposed)
        linear = [layer for layer in layers if isinstance(layer, torch.nn.Linear)]
        for k, layer in enumerate(linear):
            weight, bias = views[2 * k], views[2 * k + 1]
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight.T)))
            layer.bias.copy_(torch.from_numpy(bias))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()

    return step


def step_table(budget: float, activations: tuple[str, ...] = ("tanh", "sigmoid", "relu")) -> list[str]:
    lines = [
        "| one full-batch step, mlp:2-16-16-1, mse + SGD, 1,000 rows | gradtool | PyTorch (1 thread) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    try:
        import torch

        torch.set_num_threads(1)  # numpy's ufuncs run on one thread: compare like with like
    except ImportError:
        torch = None
    for activation in activations:
        ours = best_time(gradtool_step(activation=activation), budget)
        theirs = best_time(torch_step(activation=activation), budget) if torch else None
        ratio = f"{ours / theirs:.2f}x" if theirs else "-"
        torch_cell = f"{theirs * 1e6:.0f} us" if theirs else "not installed"
        lines.append(f"| {activation} hidden layers | {ours * 1e6:.0f} us | {torch_cell} | {ratio} |")
    return lines


def numeric_time(objective, theta, args, budget: float, coordinates: int = 400) -> tuple[float, bool]:
    """Seconds per central-difference gradient; above ``coordinates`` parameters, timed on the first
    ``coordinates`` entries and scaled by n / coordinates (each entry costs the same two forward passes)."""
    if theta.size <= coordinates:
        engine = NumericGradient(objective)
        return best_time(lambda: engine(theta, args), budget, repeats=3), False
    full = theta.copy()

    def value(part):
        full[:coordinates] = part
        return objective.value(full, args)

    seconds = best_time(lambda: central_gradient(value, theta[:coordinates].copy()), budget, repeats=1)
    return seconds * theta.size / coordinates, True


def cost_table(budget: float, counts: tuple[int, ...]) -> list[str]:
    """mlp:1-H-1 has 3H + 1 parameters: H = 3, 33, 333, 3333 give 10, 100, 1,000, 10,000."""
    lines = [
        "| parameters | network (tanh, 100 rows) | forward | reverse mode | reverse / forward "
        "| central differences | numeric / forward |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in counts:
        hidden = (n - 1) // 3
        objective, theta, x, y = problem((1, hidden, 1), 100)
        args, engine = objective.args(x, y), AutodiffGradient(objective)
        forward = best_time(lambda o=objective, t=theta, a=args: o.value(t, a), budget)
        reverse = best_time(lambda e=engine, t=theta, a=args: e(t, a), budget)
        numeric, scaled = numeric_time(objective, theta, args, budget)
        mark = "*" if scaled else ""
        lines.append(
            f"| {objective.layout.size:,} | mlp:1-{hidden}-1 | {forward * 1e6:.0f} us | {reverse * 1e6:.0f} us | "
            f"{reverse / forward:.1f} | {numeric * 1e3:,.1f} ms{mark} | {numeric / forward:,.0f}{mark} |"
        )
    if any(n > 400 for n in counts):
        lines.append("")
        lines.append(
            "\\* timed on 400 of the parameters and scaled: every parameter costs the same two forward passes."
        )
    return lines


FEATURES, EXPRESSION_ROWS = 64, 1797  # the shape of scikit-learn's digits data set
EXPRESSION_NOTE = (
    "Expression models against the equivalent network, on the same data, batch and epochs (`python "
    "benchmarks/bench_fit.py`): `logistic` / `linear` and the hand-typed `w1*x1 + ... + w64*x64 + b` against "
    "`mlp:64-1`, every case run in turn in each of 7 rounds, the ratio taken within the round (the machine is "
    "shared: the range shows its noise). The typed expression's 64 terms are fused into one matrix product "
    "(gradtool/fitting/fusion.py); 'unfused' is the same sum term by term, as every expression ran before."
)


def expression_data(seed: int = 0) -> dict[str, np.ndarray]:
    """64 features, a 0/1 label from a noisy linear rule and a numeric target (digits-sized)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(EXPRESSION_ROWS, FEATURES))
    w = rng.normal(size=FEATURES)
    data = {f"x{k + 1}": x[:, k] for k in range(FEATURES)}
    data["label"] = (x @ w + rng.normal(size=EXPRESSION_ROWS) > 0).astype(float)
    data["y"] = x @ w + 0.1 * rng.normal(size=EXPRESSION_ROWS)
    return data


def unfused(problem):
    """The same prepared fit with the expression's terms left one by one (the path before fusion)."""
    from gradtool.fitting.train import Split

    objective = problem.objective
    model = make_model(objective.model.text, [*objective.model.inputs, "y"], ["y"], fuse=False)
    problem.objective = Objective(model, objective.loss, objective.l2)
    problem.engine = AutodiffGradient(problem.objective)
    for side in ("train", "test"):
        split = getattr(problem, side)
        if split is not None:
            setattr(problem, side, Split(split.x, split.y, problem.objective.args(split.x, split.y)))
    return problem


def expression_table(rounds: int, epochs: int = 100) -> list[str]:
    """Training time of expression models relative to mlp:64-1 on the same data, batch 32 and epochs, with
    adam: the ratios are taken within each round (all cases run one after the other), then the median."""
    from gradtool.fitting.prepare import prepare_fit

    data = expression_data()
    typed = " + ".join(f"w{k}*x{k}" for k in range(1, FEATURES + 1)) + " + b"
    inputs = ",".join(f"x{k}" for k in range(1, FEATURES + 1))
    cases = {
        ("bce", "label"): {"mlp:64-1": "mlp:64-1", "logistic": "logistic", "typed expression": typed},
        ("mse", "y"): {"mlp:64-1": "mlp:64-1", "linear": "linear", "typed expression": typed},
    }
    lines = [
        f"| {EXPRESSION_ROWS:,} rows x {FEATURES} features, batch 32, {epochs} epochs, adam | loss | training "
        "(median) | / mlp:64-1 (median of rounds, range) | prepare + train / mlp:64-1 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for (loss, target), models in cases.items():
        options = dict(loss=loss, optimizer="adam", lr=0.01, batch_size=32, epochs=epochs)
        variants = {**models, "typed, unfused (before)": typed}
        train, total = {k: [] for k in variants}, {k: [] for k in variants}
        for _ in range(rounds):
            for name, model in variants.items():
                start = time.perf_counter()
                columns = {} if model == typed else {"inputs": inputs}  # a network's, not an expression's
                problem = prepare_fit(model, data, target, **options, **columns)
                problem = unfused(problem) if "unfused" in name else problem
                ready = time.perf_counter()
                problem.run()
                done = time.perf_counter()
                train[name].append(done - ready)
                total[name].append(done - start)
        base = np.array(train["mlp:64-1"])
        for name in variants:
            ratios = np.array(train[name]) / base
            whole = np.median(np.array(total[name]) / np.array(total["mlp:64-1"]))
            lines.append(
                f"| {name} | {loss} | {np.median(train[name]) * 1e3:,.0f} ms | {np.median(ratios):.2f}x "
                f"({ratios.min():.2f}-{ratios.max():.2f}) | {whole:.2f}x |"
            )
    return lines


def csv_table(rows: int = 1_000_000) -> list[str]:
    """Reading a CSV of ``rows`` x 10 numbers (~92 MB) in a fresh interpreter: wall time and peak memory."""
    import subprocess
    import tempfile
    from pathlib import Path

    rng = np.random.default_rng(0)
    block = "\n".join(",".join(f"{v:.6g}" for v in row) for row in rng.normal(size=(1000, 10))) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        with open(path, "w") as handle:
            handle.write(",".join(f"c{k}" for k in range(10)) + "\n" + block * (rows // 1000))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec
        code = (
            "import re, time\nfrom gradtool.fitting.data import read_csv\nt = time.perf_counter()\n"
            f"table = read_csv({str(path)!r})\nseconds = time.perf_counter() - t\n"
            "status = open('/proc/self/status').read()\n"
            "print(seconds, int(re.search(r'VmHWM:\\s*(\\d+)', status).group(1)) / 1024)"
        )
        seconds, peak = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
        size = path.stat().st_size / 1e6
    return [
        "| reading a CSV (`gradtool.fitting.data.read_csv`, fresh interpreter) | wall | peak memory (process) |",
        "| --- | ---: | ---: |",
        f"| {size:.0f} MB, {rows:,} rows x 10 numbers | {float(seconds):.1f} s | {float(peak):.0f} MB |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Shorter timings, up to 1,000 parameters.")
    quick = parser.parse_args().quick
    budget = 0.2 if quick else 1.0
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}\n")
    print("\n".join(step_table(budget)))
    print()
    print("\n".join(cost_table(budget, (10, 100, 1000) if quick else (10, 100, 1000, 10000))))
    print()
    print(EXPRESSION_NOTE)
    print()
    print("\n".join(expression_table(3 if quick else 7, 20 if quick else 100)))
    print()
    print("\n".join(csv_table(100_000 if quick else 1_000_000)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
