"""Heavy and hostile input (issue 10): each reproduction's answer, wall time and peak memory, as a fresh process.

Run: ``python benchmarks/bench_limits.py [--write docs/performance.md]`` (also run by ``make bench``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the peak resident memory of the process that ran the command, printed by the process itself at exit
WRAPPER = textwrap.dedent(
    """
    import atexit, sys
    def peak():
        status = open("/proc/self/status").read()
        sys.stderr.write("\\nPEAK_KB " + status.split("VmHWM:")[1].split()[0] + "\\n")
    atexit.register(peak)
    from gradtool.cli import main
    sys.argv = ["gradtool", *sys.argv[1:]]
    main()
    """
)

TANGENTS = " + ".join("tan(" * 6 + f"x{i}" + ")" * 6 for i in range(1, 21))
POWER = "(" + "+".join(f"x{i}" for i in range(1, 9)) + ")^12"
LOG_TANH = "log(1+x^2+y^2)*tanh(x-y)/sqrt(x^2+y^2)"  # simplify() ran over 60 s and took 21 GB


def alias_bomb(levels: int = 9) -> str:
    parts = [f"&a{i} [" + ", ".join([f"*a{i - 1}" if i else "x"] * 10) + "]" for i in range(levels)]
    return "[" + ", ".join(parts) + "]"


def files(folder: Path) -> dict[str, str]:
    """The configs of the config reproductions."""
    config = folder / "c.yaml"
    config.write_text("function: x^2\nx0: [1]\noptimizer: gd\nsteps: 2\n")
    aliases = folder / "aliases.yaml"
    aliases.write_text(
        "s: &s " + "a" * 900_000 + "\nfunction: x^2\noptimizer: gd\ndescription: [" + "*s, " * 20_000 + "*s]\n"
    )
    sweep = folder / "sweep.yaml"
    nine = ", ".join(str(k / 10) for k in range(1, 10))
    keys = ["lr", "momentum", "dampening", "weight_decay", "tol", "ftol", "xtol"]
    sweep.write_text(
        "function: x^2\noptimizer: momentum\nsweep:\n"
        + "".join(f"  {k}: [{nine}]\n" for k in keys)
        + "  steps: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n  gradient: [analytic, autodiff, numeric"
        + ", analytic" * 6
        + "]\n"
    )
    rows = folder / "rows.csv"
    rows.write_text("x,y\n" + "".join(f"{k / 20_000},{(k % 7) / 7}\n" for k in range(20_000)))
    return {
        "rows": str(rows),
        "config": str(config),
        "aliases": str(aliases),
        "sweep": str(sweep),
        "picture": str(folder / "p.png"),
    }


def cases(f: dict[str, str]) -> list[tuple[str, str, list[str]]]:
    """(what, as the issue found it, gradtool arguments)."""
    return [
        ('`grad "sin(exp(10^10))^2*x"`', "minutes", ["grad", "sin(exp(10^10))^2*x"]),
        ('`grad "x*(10^-400)^(-10^6)"`', "a 400-million-digit integer", ["grad", "x*(10^-400)^(-10^6)"]),
        ('`grad "x*10^1999*10^1999*10^1999"`', "traceback", ["grad", "x*10^1999*10^1999*10^1999"]),
        ('`grad "exp(10^400)*x" --at x=1`', "traceback", ["grad", "exp(10^400)*x", "--at", "x=1"]),
        ("`grad` of 20 six-deep nested tangents", "17 minutes", ["grad", TANGENTS, "--json"]),
        ('`grad "tan(...tan(x)...)"` (8 deep)', "40 s", ["grad", "tan(" * 8 + "x" + ")" * 8]),
        ('`grad "(x1+...+x8)^12" --hessian`', "no answer in 25 s", ["grad", POWER, "--hessian", "--json"]),
        (f'`grad "{LOG_TANH}" --at 0.3,-0.7`', "over 60 s, 21 GB", ["grad", LOG_TANH, "--at", "0.3,-0.7"]),
        (
            "`minimize sphere --dim 300 --starts 1000000`",
            "4.8 GB, traceback",
            ["minimize", "sphere", "--dim", "300", "--starts", "1000000", "-q"],
        ),  # fmt: skip
        (
            "`check-grad sphere --dim 10000 --random 100000`",
            "traceback",
            ["check-grad", "sphere", "--dim", "10000", "--random", "100000"],
        ),  # fmt: skip
        (
            "`fit mlp:1-100000-1` on 20,000 rows",
            "OOM-killed at 24 GB",
            ["fit", "mlp:1-100000-1", "--data", f["rows"], "--target", "y", "--epochs", "1", "-q"],
        ),  # fmt: skip
        (
            "`lr-find sphere --dim 10000 --num 10000`",
            "6.3 GB, 47 s",
            ["lr-find", "sphere", "--dim", "10000", "--num", "10000"],
        ),  # fmt: skip
        (
            "`minimize rastrigin --starts 30000 --steps 20` (grouping)",
            "68 s",
            ["minimize", "rastrigin", "--starts", "30000", "--steps", "20", "-q"],
        ),  # fmt: skip
        (
            "`minimize himmelblau --starts 1000000 -o adam --lr 0.05 --steps 300`",
            "hours (grouping)",
            ["minimize", "himmelblau", "--starts", "1000000", "-o", "adam", "--lr", "0.05", "--steps", "300", "-q"],
        ),  # fmt: skip
        (
            "`check-grad --fit mlp:2-300-300-1` (xor.csv)",
            "117 s",
            ["check-grad", "--fit", "mlp:2-300-300-1", "--data", "data/xor.csv", "--target", "y"],
        ),  # fmt: skip
        (
            "`minimize x^2 --steps 10000000 --tol 0 --plot p.png`",
            "766 MB at 10^8 steps",
            [
                "minimize",
                "x^2",
                "--x0",
                "1",
                "--lr",
                "1e-9",
                "--steps",
                "10000000",
                "--tol",
                "0",
                "--plot",
                f["picture"],
                "-q",
            ],
        ),  # fmt: skip
        ("`run` of a sweep of 9 keys (3.9e8 runs)", "7.5 GB", ["run", f["sweep"]]),
        ("`run --set` a nine-level alias bomb", "1.9 GB", ["run", f["config"], "--set", f"description={alias_bomb()}"]),
        ("`run` of 20,000 aliases of a 900 KB string", "7.3 GB", ["run", f["aliases"]]),
    ]


def measure(args: list[str]) -> tuple[str, float, float]:
    """(answer, wall seconds, peak MB) of ``gradtool ARGS`` in a fresh interpreter."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, cwd=ROOT, timeout=1800,
        env={**os.environ, "GRADTOOL_CACHE": "0"},
    )  # fmt: skip
    wall = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    peak = next((int(line.split()[1]) / 1024 for line in lines if line.startswith("PEAK_KB")), float("nan"))
    errors = [line for line in lines if line.startswith("error:")]
    answer = f"exit {done.returncode}" + (f": {errors[0][7:80]}..." if errors else "")
    return answer, wall, peak


def section() -> str:
    """The Markdown section: every case measured once, in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for what, before, args in cases(files(Path(folder))):
            answer, wall, peak = measure(args)
            answer = answer.replace(folder + "/", "")  # the temporary folder's name changes every run
            rows.append(f"| {what} | {before} | {answer} | {wall:.1f} s | {peak:.0f} MB |")
            print(rows[-1], file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    return "\n".join(
        [
            "## Heavy and hostile input",
            "",
            "Measured by `python benchmarks/bench_limits.py --write docs/performance.md` (also run by `make bench`):",
            "each reproduction of issue 10 as a fresh `gradtool` process (compile cache off), its answer (exit 0: a",
            "result; exit 2: the one-line error, cut here), its wall time and its peak resident memory, on 2 cores",
            f"shared with other jobs (load average {load:.1f} at the end). The goal: an answer or a refusal within",
            "~10 s and a few hundred MB. `--budget` is at its default, 5 s a symbolic step: a command that takes",
            "several steps may spend a budget on each (`--hessian`: simplifying the gradient, then the Hessian).",
            "",
            "| input | as found | now | wall | peak memory |",
            "| --- | --- | --- | ---: | ---: |",
            *rows,
        ]
    )


if __name__ == "__main__":
    from benchmarks.sections import main_of

    main_of(section, __doc__)
