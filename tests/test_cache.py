"""The compile cache: SymPy-free keys, warm runs without SymPy and with the same bits, and the trust boundary
(corrupt, tampered and foreign entries are rebuilt and never executed; shared and insecure folders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradtool
from gradtool import cache
from gradtool.expr.objective import load_objective
from gradtool.grad import symbolic
from gradtool.grad.analytic import AnalyticEngine
from gradtool.grad.autodiff import AutodiffEngine


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """An empty cache of this test's own."""
    where = tmp_path / "cache"
    monkeypatch.setenv("GRADTOOL_CACHE_DIR", str(where))
    monkeypatch.setattr(cache, "_warned", set())
    return where


def entries(where: Path, part: str = "") -> list[Path]:
    return sorted(where.glob(f"*.{part}{cache.SUFFIX}" if part else f"*{cache.SUFFIX}"))


def outcome(result) -> dict:
    """A run's JSON without its timing."""
    data = result.to_dict()
    data.pop("time_s")
    return data


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradtool", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
        timeout=120,
    )


# ---- keys ---------------------------------------------------------------------------------------------------


def test_the_key_is_the_syntax_tree_not_the_spelling(folder):
    same = {load_objective(t).key for t in ("x^2 + 3*y^2", " x ** 2+3*y**2 ", "(x)^2 + (3*y^2)")}
    assert len(same) == 1
    others = {
        load_objective("x^2 + 3*y^2", variables="y,x").key,  # another variable order: other code
        load_objective("x^2 + 3*y^3").key,
        load_objective("x^2 + 3.0*y^2").key,  # 3.0 is a Float, 3 an Integer: SymPy builds other numbers
        load_objective("rosenbrock").key,
        load_objective("rosenbrock", dim=3).key,
    }
    assert len(others) == 5 and not same & others


def test_a_cached_expression_is_still_checked_against_its_variables(folder):
    load_objective("x^2 + y")
    with pytest.raises(gradtool.PointError, match="variables: misses y"):
        load_objective("x^2 + y", variables="x")
    with pytest.raises(gradtool.ParseError) as cold:
        load_objective("sin(x, y)")
    with pytest.raises(gradtool.ParseError) as again:  # errors are never cached: the parser says it again
        load_objective("sin(x, y)")
    assert str(cold.value) == str(again.value) == "sin() takes 1 argument, got 2 at column 1"


# ---- warm runs: no SymPy, the same bits ----------------------------------------------------------------------

CASES = [
    ("x^2 + 3*y^2", "1,1", {}),
    ("100*(y - x^2)^2 + (1 - x)^2", "-1.5,2", {"optimizer": "momentum", "lr": 1e-4, "momentum": 0.9}),
    ("sigmoid(x*y) + relu(x - 1)*abs(y) + max(x, y, 0.5)^2 + log(1 + exp(-x))", "0.3,-0.7", {"optimizer": "adam"}),
    ("x^(1/3) + sqrt(y) + log(x, 2)", "2,3", {"gradient": "autodiff"}),
    ("rosenbrock", None, {"dim": 100, "optimizer": "nag", "lr": 1e-4, "steps": 300}),  # grouped analytic code
    ("himmelblau", None, {"gradient": "numeric", "steps": 200}),
]


@pytest.mark.parametrize(("expr", "x0", "options"), CASES)
def test_warm_runs_repeat_the_cold_run_bit_for_bit(folder, monkeypatch, expr, x0, options):
    options = {"steps": 1000, **options}
    cold = gradtool.minimize(expr, x0, **options)
    assert entries(folder, "analytic")
    monkeypatch.setenv("GRADTOOL_CACHE", "0")
    uncached = gradtool.minimize(expr, x0, **options)
    monkeypatch.delenv("GRADTOOL_CACHE")

    def no_sympy(*args, **kwargs):
        raise AssertionError("SymPy was asked for what the cache holds")

    for name in ("analytic_part", "hessian_part", "numpy_source", "symbolic_gradient"):
        monkeypatch.setattr(symbolic, name, no_sympy)
    monkeypatch.setattr("gradtool.expr.parser.parse_expression", no_sympy)
    warm = gradtool.minimize(expr, x0, **options)
    assert outcome(warm) == outcome(cold) == outcome(uncached)


def test_multistart_and_engines_at_batches_are_the_same_warm(folder):
    cold = gradtool.minimize("himmelblau", starts=50, box="-5,5", optimizer="adam", lr=0.05, steps=300)
    warm = gradtool.minimize("himmelblau", starts=50, box="-5,5", optimizer="adam", lr=0.05, steps=300)
    assert outcome(warm) == outcome(cold)
    objective = load_objective("sin(x)*exp(y) + x^3*y")
    pts = np.random.default_rng(1).uniform(-2, 2, size=(64, 2))
    first = [AnalyticEngine(objective).value_and_gradient(pts), AutodiffEngine(objective).value_and_gradient(pts)]
    again = load_objective("sin(x)*exp(y) + x^3*y")
    second = [AnalyticEngine(again).value_and_gradient(pts), AutodiffEngine(again).value_and_gradient(pts)]
    for (f1, g1), (f2, g2) in zip(first, second, strict=True):
        assert f1.tobytes() == f2.tobytes() and g1.tobytes() == g2.tobytes()
    np.testing.assert_array_equal(AnalyticEngine(again).hessian(pts), AnalyticEngine(objective).hessian(pts))


PROBE = """
import json, sys
from gradtool.cli import main
sys.argv = ["gradtool", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
sys.stdout.write("\\n" + json.dumps({"code": code, "sympy": "sympy" in sys.modules}) + "\\n")
"""


def probe(*args: str) -> tuple[dict, str]:
    """Run gradtool in a fresh interpreter: (exit code and whether SymPy was imported, its stdout)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    return json.loads(last), out


@pytest.mark.parametrize("gradient", ["analytic", "autodiff"])
def test_a_warm_minimize_imports_no_sympy(folder, gradient):
    args = ("minimize", "x^2+3*y^2", "--x0", "1,1", "--gradient", gradient, "--json")
    cold, cold_out = probe(*args)
    warm, warm_out = probe(*args)
    assert cold == {"code": 0, "sympy": True} and warm == {"code": 0, "sympy": False}
    first, second = json.loads(cold_out), json.loads(warm_out)
    assert first.pop("time_s") >= 0 and second.pop("time_s") >= 0
    assert first == second and first["stationary"] == "not stationary"  # classified with the cached Hessian


def test_a_warm_run_of_a_config_imports_no_sympy(folder, tmp_path):
    config = tmp_path / "three.yaml"
    config.write_text(
        "function: rosenbrock\nx0: [-1.5, 2]\nsteps: 2000\noptimizers:\n"
        "  - {name: gd, lr: 1.0e-3}\n  - {name: momentum, lr: 1.0e-3}\n  - {name: adam, lr: 1.0e-2}\n"
    )
    cold, cold_out = probe("run", str(config), "--json")
    warm, warm_out = probe("run", str(config), "--json")
    assert cold == {"code": 0, "sympy": True} and warm == {"code": 0, "sympy": False}
    strip = [
        [{k: v for k, v in r.items() if k != "time_s"} for r in json.loads(o)["runs"]] for o in (cold_out, warm_out)
    ]
    assert strip[0] == strip[1] and len(strip[0]) == 3


@pytest.mark.parametrize(
    "args",
    [
        ("grad", "x^2*y + sin(x)", "--at", "x=1,y=2", "--hessian"),
        ("grad", "x^2*y + sin(x)", "--latex"),
        ("grad", "x^2*y + sin(x)", "--hessian", "--json"),
        ("check-grad", "x^2*y + sin(x)", "--at", "x=1,y=2"),
    ],
)
def test_warm_grad_and_check_grad_print_the_same_without_sympy(folder, args):
    cold, cold_out = probe(*args)
    warm, warm_out = probe(*args)
    assert cold["code"] == warm["code"] == 0 and cold_out == warm_out
    assert cold["sympy"] and not warm["sympy"]


def test_printed_forms_cut_short_by_the_budget_are_not_kept(folder):
    from gradtool.derive import Printed

    objective = load_objective("sin(x)*y^3")
    notes: list[str] = []
    printed = Printed(objective, AnalyticEngine(objective), notes)
    assert printed.get("gradient-text", lambda: notes.append("cut short") or ["partial"]) == ["partial"]
    assert cache.load(objective.key, "gradient-text") is None  # a later run may do better
    assert printed.get("gradient-text", printed.partials_text) == ["y**3*cos(x)", "3*y**2*sin(x)"]
    assert cache.load(objective.key, "gradient-text") == {"value": ["y**3*cos(x)", "3*y**2*sin(x)"]}
    cache.store(objective.key, "gradient-text", {"value": [["not", "a"], 3]})  # not text: recomputed
    assert printed.get("gradient-text", printed.partials_text) == ["y**3*cos(x)", "3*y**2*sin(x)"]


# ---- the trust boundary -------------------------------------------------------------------------------------


def rewrite(path: Path, change) -> None:
    """Change an entry's payload and write it back as a valid entry (the right length and hash)."""
    head, _, body = path.read_bytes()[len(cache.MAGIC) :].partition(b"\n")
    header, payload = json.loads(head), json.loads(body)
    change(payload)
    path.write_bytes(cache._encode(header["key"], header["part"], payload))


def test_a_tampered_entry_is_refused_rebuilt_and_never_executed(folder, tmp_path):
    canary = tmp_path / "canary"
    reference = outcome(gradtool.minimize("x^2 + 3*y^2", "1,1", gradient="autodiff"))
    originals = {path: path.read_bytes() for path in entries(folder)}
    evil = {
        "analytic": ("fg", f"open({str(canary)!r}, 'w')\n" + "def _lambdifygenerated(v0, v1):\n    return [0, 0, 0]"),
        "analytic-hessian": (
            "source",
            "def _lambdifygenerated(v0, v1):\n    return [().__class__.__base__.__subclasses__(), 0, 0, 0]",
        ),
        "autodiff": ("gradient", f"def sweep(v0, v1):\n    return open({str(canary)!r}, 'w'), [v0, v1]"),
    }
    # the canary works: the evil module-level statement, run as plain Python, does create the file
    exec(compile(evil["analytic"][1].replace(str(canary), str(tmp_path / "proof")), "<evil>", "exec"), {})
    assert (tmp_path / "proof").exists()
    for part, (name, source) in evil.items():
        (path,) = entries(folder, part)
        rewrite(path, lambda payload, name=name, source=source: payload.update({name: source}))
    again = outcome(gradtool.minimize("x^2 + 3*y^2", "1,1", gradient="autodiff"))
    assert again == reference and not canary.exists()
    assert {path: path.read_bytes() for path in entries(folder)} == originals  # rebuilt, byte for byte


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "garbage",
        "another gradtool version",
        "another format",
        "another key",
        "a changed byte",
        "a payload that is no mapping",
        "a wrong number of arguments",
        "group-writable",
    ],
)
def test_a_corrupt_or_foreign_entry_is_ignored_and_rebuilt(folder, damage):
    reference = outcome(gradtool.minimize("sin(x) + y^2", "1,1"))
    (path,) = entries(folder, "analytic")
    original = path.read_bytes()
    head, _, body = original[len(cache.MAGIC) :].partition(b"\n")
    header = json.loads(head)

    def with_header(**changes) -> bytes:
        return cache.MAGIC + json.dumps({**header, **changes}).encode() + b"\n" + body

    damaged = {
        "truncated": original[: len(original) // 2],
        "garbage": os.urandom(len(original)),
        "another gradtool version": with_header(gradtool="0.0.1"),
        "another format": with_header(format=cache.FORMAT + 1),
        "another key": with_header(key="0" * 64),
        "a changed byte": original[:-3] + bytes([original[-3] ^ 1]) + original[-2:],
        "a payload that is no mapping": cache.MAGIC + json.dumps({**header, "size": 2}).encode() + b"\n[]",
    }
    if damage == "a wrong number of arguments":
        rewrite(path, lambda p: p.update(fg=p["fg"].replace("(v0, v1)", "(v0)")))
    elif damage == "group-writable":
        path.chmod(0o664)
    else:
        path.write_bytes(damaged[damage])
    assert outcome(gradtool.minimize("sin(x) + y^2", "1,1")) == reference
    assert path.read_bytes() == original and (path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("damage", ["truncated", "another gradtool version", "another format", "another key"])
def test_a_truncated_or_foreign_entry_is_never_executed(folder, tmp_path, damage):
    """Entries whose code would show it ran: one that writes a canary file (refused by the whitelist as well)
    and one that passes the whitelist but returns f + 1 (so only the header check keeps it out)."""
    canary = tmp_path / "canary"
    reference = outcome(gradtool.minimize("sin(x) + y^2", "1,1"))
    (path,) = entries(folder, "analytic")
    original = path.read_bytes()
    evil = {
        "canary": lambda p: p.update(fg=f"open({str(canary)!r}, 'w')\n" + p["fg"]),
        "f + 1": lambda p: p.update({k: p[k].replace("return [", "return [1 + ") for k in ("f", "fg")}),
    }
    rewrite(path, evil["f + 1"])
    shifted = outcome(gradtool.minimize("sin(x) + y^2", "1,1"))  # a whole entry of this version is run...
    assert shifted["f"] == pytest.approx(reference["f"] + 1)
    for change in evil.values():
        path.write_bytes(original)
        rewrite(path, change)
        whole = path.read_bytes()
        head, _, body = whole[len(cache.MAGIC) :].partition(b"\n")
        header = json.loads(head)
        changed = {"another gradtool version": {"gradtool": "0.0.1"}, "another format": {"format": cache.FORMAT + 1}}
        changed["another key"] = {"key": "0" * 64}
        if damage == "truncated":
            path.write_bytes(whole[:-5])
        else:
            path.write_bytes(cache.MAGIC + json.dumps({**header, **changed[damage]}).encode() + b"\n" + body)
        assert outcome(gradtool.minimize("sin(x) + y^2", "1,1")) == reference  # ...a damaged one never
        assert not canary.exists() and path.read_bytes() == original


FILL = """
import json, sys, time
from gradtool.expr.objective import load_objective
from gradtool.grad.analytic import AnalyticEngine
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
objective = load_objective(sys.argv[2])
f, g = AnalyticEngine(objective).value_and_gradient([0.5] * objective.n)
print(json.dumps([f, g.tolist()]))
"""


def test_two_processes_filling_the_same_entry_both_succeed(folder):
    expr = " + ".join(f"sin(x{i})*x{i + 1}^2" for i in range(1, 30))
    start = time.time() + 1.5  # both import first, then start together
    procs = [
        subprocess.Popen([sys.executable, "-c", FILL, str(start), expr], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0] == outputs[1]
    assert len(entries(folder, "analytic")) == 1 and not list(folder.glob(".*.tmp"))
    (f, g), objective = json.loads(outputs[0]), load_objective(expr)
    assert cache.load(objective.key, "analytic") is not None
    warm_f, warm_g = AnalyticEngine(objective).value_and_gradient(np.full(objective.n, 0.5))
    assert warm_f == f and warm_g.tolist() == g


HAMMER = """
import sys
from gradtool import cache
payload = {"fg": "x" * 20000, "n": sys.argv[1]}
for _ in range(300):
    if sys.argv[1] == "read":
        found = cache.load("k" * 64, "race")
        assert found is None or len(found["fg"]) == 20000, "a partial entry was read"
    else:
        cache.store("k" * 64, "race", payload)
"""


def test_concurrent_writers_and_a_reader_never_see_half_an_entry(folder):
    cache.store("k" * 64, "race", {"fg": "x" * 20000, "n": 0})
    procs = [subprocess.Popen([sys.executable, "-c", HAMMER, arg]) for arg in ("1", "2", "read", "read")]
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0, 0, 0]
    assert cache.load("k" * 64, "race")["n"] in ("1", "2")


def test_an_insecure_folder_is_refused_with_one_warning(folder, invoke):
    folder.mkdir(mode=0o700)
    folder.chmod(0o777)
    stderr = ""
    for _ in range(2):  # one warning per process, however often the cache is asked
        result = invoke("minimize", "x^2+y^4", "--x0", "1,1", "--quiet")
        assert result.exit_code == 0, result.output
        stderr += result.stderr
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: cache directory {folder} is writable by other users or not yours; not using it "
        "(chmod go-w it, or set GRADTOOL_CACHE_DIR)"
    ]
    assert entries(folder) == []
    folder.chmod(0o755)  # readable by others is fine: only writing is refused
    assert invoke("minimize", "x^2+y^4", "--x0", "1,1", "--quiet").exit_code == 0 and entries(folder)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give the folder away")
def test_a_folder_owned_by_someone_else_is_refused(folder):
    folder.mkdir(mode=0o700)
    os.chown(folder, 4321, 4321)
    assert cache.directory() is None


def test_no_cache_and_gradtool_cache_0_write_nothing(folder, invoke, monkeypatch):
    assert invoke("minimize", "x^2+y^4", "--x0", "1,1", "--quiet", "--no-cache").exit_code == 0
    assert os.environ["GRADTOOL_CACHE"] == "0"  # what worker processes (run --jobs) inherit
    monkeypatch.setenv("GRADTOOL_CACHE", "0")
    assert invoke("grad", "x^2+y^4", "--at", "1,1").exit_code == 0
    assert not folder.exists()
    monkeypatch.delenv("GRADTOOL_CACHE")
    assert invoke("minimize", "x^2+y^4", "--x0", "1,1", "--quiet").exit_code == 0 and entries(folder)


def test_the_cache_can_be_deleted_at_any_time(folder):
    first = outcome(gradtool.minimize("x*y + x^4 + y^4", "1,2"))
    import shutil

    shutil.rmtree(folder)
    objective = load_objective("x*y + x^4 + y^4")  # valid by the parser again: nothing cached
    assert not folder.exists() or not entries(folder, "analytic")
    assert outcome(gradtool.minimize(objective, "1,2")) == first and entries(folder, "analytic")


def test_least_recently_used_entries_go_first(folder, monkeypatch):
    for i in range(6):
        cache.store(f"{i:064d}", "part", {"data": "y" * 1000})
        os.utime(cache._path(folder, f"{i:064d}", "part"), (1000 + i, 1000 + i))
    assert cache.load(f"{0:064d}", "part") is not None  # used now: the newest
    size = entries(folder)[0].stat().st_size
    monkeypatch.setattr(cache, "MAX_BYTES", 6 * size)
    cache.store("9" * 64, "part", {"data": "y" * 1000})  # one over: down to 80%, oldest first
    kept = {path.name.split(".")[0] for path in entries(folder)}
    assert kept == {f"{i:064d}" for i in (0, 4, 5)} | {"9" * 64}


def test_the_cache_lives_where_the_platform_keeps_caches(monkeypatch, tmp_path):
    monkeypatch.delenv("GRADTOOL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.location() == tmp_path / "xdg" / "gradtool"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.location() == tmp_path / "home" / ".cache" / "gradtool"
    monkeypatch.setenv("GRADTOOL_CACHE_DIR", "~/elsewhere")
    assert cache.location() == tmp_path / "home" / "elsewhere"


def test_cached_code_generation_matches_lambdify():
    """The analytic engine's source is lambdify's, character for character, for every function of the language
    and their second derivatives (so results are the bits lambdify gave), and the whitelist takes all of it."""
    import inspect

    import sympy as sp

    from gradtool.expr.numpy_functions import NUMPY_NAMESPACE
    from gradtool.grad.analytic import compile_numpy

    texts = [
        "sin(x)*cos(y) + tan(x*y) + asin(x/3) + acos(y/3) + atan(x - y)",
        "sinh(x) + cosh(y) + tanh(x*y) + exp(-x^2) + log(x^2 + 1) + log(y^2 + 2, 3) + sqrt(x^2 + y^2 + 1)",
        "abs(x - y) + sigmoid(x) + relu(y - 1) + softplus(x*y) + min(x, y, 1) + max(x^2, y)",
        "x^(1/3) * y^(-2.5) + pi*x + e^y + 10^(-20)*x + 1e300*y^2",
    ]
    for text in texts:
        objective = load_objective(text)
        gradient = symbolic.symbolic_gradient(objective.expr, objective.symbols)
        rows = symbolic.symbolic_hessian(gradient, objective.symbols)
        for exprs in ([objective.expr, *gradient], [e for row in rows for e in row]):
            ours = compile_numpy(exprs, objective.symbols).source
            internal = [sp.Symbol(f"v{i}", real=True) for i in range(objective.n)]
            renamed = [
                symbolic.as_floats(e.xreplace(dict(zip(objective.symbols, internal, strict=True)))) for e in exprs
            ]
            theirs = sp.lambdify(internal, renamed, modules=[dict(NUMPY_NAMESPACE), np], cse=True, docstring_limit=0)
            assert ours == inspect.getsource(theirs)
