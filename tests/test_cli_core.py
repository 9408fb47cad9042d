"""The core commands (grad, check-grad, functions, --version): exit codes, parsed JSON, one-line errors."""

import json
import math
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from test_check import POINT_KEYS as CHECK_POINT_KEYS
from test_check import REPORT_KEYS as CHECK_KEYS
from test_parser import HOSTILE, HOSTILE_IDS, SENTINEL

GRAD_KEYS = {
    "expression",
    "variables",
    "gradient",
    "at",
    "value",
    "f",
    "hessian",
    "hessian_exprs",
    "eigenvalues",
    "stationary",
    "notes",
}
NAMED_FUNCTIONS = {
    "sphere",
    "booth",
    "matyas",
    "beale",
    "himmelblau",
    "three_hump_camel",
    "goldstein_price",
    "rosenbrock",
    "rastrigin",
    "ackley",
    "styblinski_tang",
}


def assert_one_line_error(result, code: int = 2) -> str:
    """The error contract: exit ``code``, nothing on stdout, one ``error: ...`` line on stderr."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def gradtool_command() -> list[str]:
    """The installed console script (next to this interpreter, or on PATH)."""
    script = Path(sys.executable).with_name("gradtool")
    if script.exists():
        return [str(script)]
    found = shutil.which("gradtool")
    return [found] if found else [sys.executable, "-m", "gradtool"]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}


# ---------------------------------------------------------------- --version


def test_version_prints_the_installed_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.split() == ["gradtool", version("gradtool")]


# ---------------------------------------------------------------- grad


def test_grad_json_has_the_documented_keys_and_nulls_when_not_asked(invoke_json):
    code, info = invoke_json("grad", "x^2*y + sin(x)", "--json")
    assert code == 0
    assert set(info) == GRAD_KEYS
    assert info["variables"] == ["x", "y"]
    assert set(info["gradient"]) == {"x", "y"}
    for key in ("at", "value", "f", "hessian", "hessian_exprs", "eigenvalues", "stationary"):
        assert info[key] is None


def test_grad_json_values_at_a_point(invoke_json):
    code, info = invoke_json("grad", "x^2*y + sin(x)", "--at", "x=1,y=2", "--json")
    assert code == 0
    assert info["at"] == {"x": 1.0, "y": 2.0}
    assert info["value"]["x"] == pytest.approx(4 + math.cos(1.0), rel=1e-15)  # 2xy + cos x
    assert info["value"]["y"] == 1.0  # x^2
    assert info["f"] == pytest.approx(2 + math.sin(1.0), rel=1e-15)
    assert info["hessian"] is None


@pytest.mark.parametrize(
    ("expr", "at", "verdict"),
    [
        ("x^2 + y^2", "0,0", "minimum"),
        ("-(x^2 + y^2)", "0,0", "maximum"),
        ("x^2 - y^2", "0,0", "saddle"),
        ("x^4 + y^2", "0,0", "degenerate"),
        ("x^2 + y^2", "1,0", "not stationary"),
    ],
)
def test_grad_hessian_verdict(invoke_json, expr, at, verdict):
    code, info = invoke_json("grad", expr, "--at", at, "--hessian", "--json")
    assert code == 0
    assert info["stationary"] == verdict
    assert len(info["hessian"]) == 2 and len(info["eigenvalues"]) == 2


def test_grad_of_an_expression_starting_with_a_minus_sign(invoke_json):
    code, info = invoke_json("grad", "-x^2 + 1", "--at", "x=3", "--json")
    assert code == 0
    assert info["value"] == {"x": -6.0}


def test_grad_with_vars_order_and_an_unused_variable(invoke_json):
    code, info = invoke_json("grad", "x*y^2", "--vars", "y,x,t", "--at", "1,2,5", "--json")
    assert code == 0
    assert info["variables"] == ["y", "x", "t"]
    assert info["value"] == {"y": 4.0, "x": 1.0, "t": 0.0}  # 2xy, y^2, 0 at y=1, x=2


def test_grad_of_a_named_function(invoke_json):
    code, info = invoke_json("grad", "rosenbrock", "--dim", "3", "--at", "1,1,1", "--hessian", "--json")
    assert code == 0
    assert info["variables"] == ["x1", "x2", "x3"]
    assert info["value"] == {"x1": 0.0, "x2": 0.0, "x3": 0.0}
    assert info["stationary"] == "minimum"


def test_grad_non_finite_values_are_null_in_json(invoke_json):
    code, info = invoke_json("grad", "log(x)", "--at", "x=-1", "--json")
    assert code == 0
    assert info["f"] is None


def test_grad_tables_and_latex_print_something(invoke):
    result = invoke("grad", "x^2*y + sin(x)", "--at", "x=1,y=2", "--hessian")
    assert result.exit_code == 0 and "x" in result.stdout and result.stderr == ""
    result = invoke("grad", "sin(x)*y", "--latex")
    assert result.exit_code == 0 and "\\frac" in result.stdout and "\\cos" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x + y", "--at", "x=1"], "expected x, y"),
        (["x + y", "--at", "x=1,z=2"], "unknown variable 'z'"),
        (["x + y", "--at", "1,2,3"], "expected x, y"),
        (["x + y", "--at", "x=nan,y=1"], "not a finite number"),
        (["x + y", "--vars", "x"], "--vars: misses y"),
        (["x + y", "--dim", "3"], "--dim: applies to named"),
        (["rosenbrock", "--dim", "1"], "--dim: must be between 2 and"),
        (["booth", "--dim", "3"], "--dim: booth is 2-D only"),
    ],
)
def test_grad_bad_input_is_one_error_line(invoke, args, words):
    assert words in assert_one_line_error(invoke("grad", *args))


# ---------------------------------------------------------------- hostile expressions through the CLI


@pytest.mark.parametrize(("name", "text", "words", "column"), HOSTILE, ids=HOSTILE_IDS)
def test_hostile_expression_is_one_error_line_and_exit_2(invoke, name, text, words, column):
    start = time.perf_counter()
    line = assert_one_line_error(invoke("grad", text))
    assert time.perf_counter() - start < 2.0
    assert words in line
    if column is not None:
        assert f"at column {column}" in line
    assert not os.path.exists(SENTINEL)


def test_hostile_text_in_check_grad_options_executes_nothing(invoke, tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    for args in (
        ["check-grad", payload, "--at", "1"],
        ["check-grad", "x*y", "--at", "1,2", "--grad", f"y, {payload}"],
        ["check-grad", "x*y", "--at", f"x={payload},y=1"],
        ["check-grad", "x*y", "--random", "2", "--box", payload],
        ["grad", "x*y", "--vars", payload],
    ):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.stderr
    assert not marker.exists()


# ---------------------------------------------------------------- check-grad


def test_check_grad_engines_agree(invoke_json):
    code, report = invoke_json("check-grad", "x^2*y + sin(x)", "--at", "x=1,y=2", "--json")
    assert code == 0 and report["ok"] is True
    entry = report["points"][0]
    assert entry["user"] is None and entry["wrong"] == []
    assert entry["analytic"]["x"] == pytest.approx(4 + math.cos(1.0), rel=1e-15)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["check-grad", "x + y + z", "--at", "1,2,3"], [1.0, 1.0, 1.0]),
        (["check-grad", "y", "--vars", "x,y,z", "--at", "1,2,3"], [0.0, 1.0, 0.0]),
    ],
)
def test_check_grad_of_linear_functions_of_three_or_more_variables(invoke_json, args, want):
    code, report = invoke_json(*args, "--json")
    assert code == 0 and report["ok"] is True
    assert list(report["points"][0]["autodiff"].values()) == want


def test_minimize_a_linear_function_with_autodiff(invoke_json):
    args = ("minimize", "2*x - y + 4*z", "--x0", "0,0,0", "--gradient", "autodiff", "--lr", "0.5", "--steps", "2")
    code, result = invoke_json(*args, "--json")
    assert code == 0 and result["status"] == "max_steps"
    assert result["x"] == {"x": -2.0, "y": 1.0, "z": -4.0}  # two steps of 0.5 * (2, -1, 4)


NEAR_SINGULAR = [  # issue 9: central differences failed these correct gradients
    ("1/x", "x=0.001", "-1/x^2"),
    ("sqrt(x)", "x=1e-4", "1/(2*sqrt(x))"),
    ("log(x)", "x=1e-3", "1/x"),
    ("asin(x)", "x=0.999", "1/sqrt(1 - x^2)"),
    ("sin(1000*x)", "x=0.1", "1000*cos(1000*x)"),
]


@pytest.mark.parametrize(("expr", "at", "grad"), NEAR_SINGULAR, ids=[c[0] for c in NEAR_SINGULAR])
def test_check_grad_passes_correct_and_fails_1e4_wrong_gradients_near_singularities(invoke_json, expr, at, grad):
    code, report = invoke_json("check-grad", expr, "--at", at, "--json")
    assert code == 0 and report["method"] == "adaptive"
    entry = report["points"][0]
    assert entry["max_rel_error"] < 1e-10 and entry["numeric_error"]["x"] < 1e-9 * abs(entry["analytic"]["x"])
    code, report = invoke_json("check-grad", expr, "--at", at, "--grad", grad, "--taylor", "--json")
    assert code == 0
    assert all(abs(o - 2) <= 0.2 for o in report["points"][0]["taylor_order"].values())
    code, report = invoke_json("check-grad", expr, "--at", at, "--grad", f"({grad})*(1 + 1e-4)", "--taylor", "--json")
    assert code == 1 and report["points"][0]["wrong"] == ["x"]
    assert abs(report["points"][0]["taylor_order"]["user"] - 1) <= 0.2
    code, _ = invoke_json("check-grad", expr, "--at", at, "--grad", f"({grad})*(1 - 1e-4)", "--json")
    assert code == 1


def test_check_grad_shows_the_numeric_method_its_steps_and_cost(invoke_json, invoke):
    code, report = invoke_json("check-grad", "exp(100*x) + y^2", "--at", "0.3,1", "--json")
    assert code == 0 and report["error_factor"] == 10 and report["evaluations_per_gradient"] >= 40
    entry = report["points"][0]
    assert entry["numeric_step"]["x"] < 0.01 < entry["numeric_step"]["y"]  # the step follows f's scale
    code, report = invoke_json("check-grad", "exp(x)", "--at", "1", "--method", "central", "--json")
    assert report["error_factor"] is None and report["points"][0]["numeric_error"] is None
    assert report["points"][0]["numeric_step"]["x"] == pytest.approx(6.055e-6, rel=1e-3)  # eps^(1/3)
    table = invoke("check-grad", "exp(x)", "--at", "1").stdout
    assert "numeric: adaptive, 32 f evaluations per gradient" in table and " @ " in table


def test_check_grad_many_components_print_one_row_per_point_failing_first(invoke):
    result = invoke("check-grad", "rosenbrock", "--dim", "10", "--random", "40", "--grad", ", ".join(["0"] * 9 + ["0"]))
    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 30 and all(row.rstrip().endswith("✗ │") for row in rows)
    assert "10 more point(s) not shown: 10 fail" in result.stdout
    result = invoke("check-grad", "rosenbrock", "--dim", "10", "--random", "40")
    assert result.exit_code == 0 and "10 more point(s) not shown: all pass" in result.stdout


def test_check_grad_complex_method_and_its_refusal(invoke_json, invoke):
    code, report = invoke_json("check-grad", "sigmoid(x)*y", "--at", "0.5,2", "--method", "complex", "--json")
    assert code == 0 and report["points"][0]["max_rel_error"] < 1e-14
    assert "max is not" in assert_one_line_error(
        invoke("check-grad", "max(x, y)", "--at", "1,2", "--method", "complex")
    )
    assert "adaptive chooses" in assert_one_line_error(invoke("check-grad", "x", "--at", "1", "--h", "0.1"))


def test_check_grad_json_has_exactly_the_documented_keys(invoke_json):
    _, report = invoke_json("check-grad", "x^2*y", "--at", "x=2,y=1", "--grad", "2*x*y, x^2", "--json")
    assert set(report) == CHECK_KEYS
    assert report["variables"] == ["x", "y"] and report["expression"] == "x^2*y"
    (entry,) = report["points"]
    assert set(entry) == CHECK_POINT_KEYS
    for source in ("analytic", "autodiff", "numeric", "user"):
        assert set(entry[source]) == {"x", "y"}


def test_check_grad_names_the_wrong_component_and_exits_1(invoke_json):
    code, report = invoke_json("check-grad", "x^2*y", "--at", "x=2,y=1", "--grad", "2*x*y, x^3", "--json")
    assert code == 1 and report["ok"] is False
    entry = report["points"][0]
    assert entry["wrong"] == ["y"]
    assert entry["user"] == {"x": 4.0, "y": 8.0}
    assert entry["analytic"] == {"x": 4.0, "y": 4.0}


def test_check_grad_wrong_gradient_in_table_mode_also_exits_1(invoke):
    result = invoke("check-grad", "x^2*y", "--at", "x=2,y=1", "--grad", "2*x*y, x^3")
    assert result.exit_code == 1
    assert result.stdout and "Traceback" not in result.stderr


def test_check_grad_random_points_on_rosenbrock_are_deterministic(invoke_json):
    args = ("check-grad", "rosenbrock", "--dim", "5", "--random", "20", "--seed", "0", "--json")
    code, first = invoke_json(*args)
    assert code == 0 and first["ok"] is True
    assert len(first["points"]) == 20 and all(p["ok"] for p in first["points"])
    assert first["variables"] == ["x1", "x2", "x3", "x4", "x5"]
    _, again = invoke_json(*args)
    assert again == first
    _, other_seed = invoke_json(*args[:-3], "--seed", "1", "--json")
    assert other_seed["points"][0]["at"] != first["points"][0]["at"]


def test_check_grad_random_points_stay_in_the_box(invoke_json):
    code, report = invoke_json("check-grad", "x*y", "--random", "30", "--box=-0.5,0.25", "--json")
    assert code == 0
    coords = [v for p in report["points"] for v in p["at"].values()]
    assert len(coords) == 60 and all(-0.5 <= v <= 0.25 for v in coords)


def test_check_grad_sweep_shows_o_h_and_o_h2(invoke_json):
    code, report = invoke_json("check-grad", "sin(x)", "--at", "x=1", "--sweep-h", "--json")
    assert code == 0
    sweep = report["sweep"]
    h, forward, central = sweep["h"], sweep["forward"], sweep["central"]
    assert h[:5] == pytest.approx([1e-1, 1e-2, 1e-3, 1e-4, 1e-5])
    for i in range(4):  # h = 1e-1 ... 1e-5
        assert 7 < forward[i] / forward[i + 1] < 13
        assert 70 < central[i] / central[i + 1] < 130
    assert 1e-7 <= sweep["best_h_central"] <= 1e-3


def test_check_grad_taylor_orders(invoke_json):
    code, report = invoke_json("check-grad", "x^2*y + sin(x)", "--at", "1,2", "--taylor", "--json")
    assert code == 0
    orders = report["points"][0]["taylor_order"]
    assert orders["analytic"] == pytest.approx(2.0, abs=0.2)
    assert orders["autodiff"] == pytest.approx(2.0, abs=0.2)
    code, report = invoke_json(
        "check-grad", "x^2*y + sin(x)", "--at", "1,2", "--taylor", "--grad", "2*x*y + cos(x), x^2 + 1", "--json"
    )
    assert code == 1
    assert report["points"][0]["taylor_order"]["user"] == pytest.approx(1.0, abs=0.2)


def test_check_grad_taylor_fails_a_wrong_gradient_even_with_loose_tolerances(invoke_json):
    code, report = invoke_json(
        "check-grad", "x^3", "--at", "x=1", "--grad", "3*x^2 + 0.01", "--taylor", "--rtol", "0.1", "--json"
    )
    assert report["points"][0]["passed"] == [True]  # within the loose tolerance...
    assert code == 1 and report["ok"] is False  # ...but the Taylor remainder shrinks only like t


def test_check_grad_non_finite_point_is_reported_with_exit_1(invoke_json):
    code, report = invoke_json("check-grad", "log(x)", "--at", "x=-1", "--json")
    assert code == 1 and report["ok"] is False
    entry = report["points"][0]
    assert entry["numeric"]["x"] is None
    assert entry["note"] and entry["ok"] is False


def test_check_grad_division_by_zero_point_keeps_stderr_clean(invoke):
    result = invoke("check-grad", "1/x + y", "--at", "0,1", "--json")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout)["points"][0]["note"]


@pytest.mark.parametrize("method", ["central", "forward", "backward", "five-point"])
def test_check_grad_every_difference_method_passes_on_a_smooth_function(invoke_json, method):
    code, report = invoke_json("check-grad", "exp(x)*cos(y)", "--at", "0.5,-1", "--method", method, "--json")
    assert code == 0 and report["method"] == method


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x^2"], "exactly one of --at POINT or --random N"),
        (["x^2", "--at", "1", "--random", "3"], "exactly one of"),
        (["x^2", "--random", "0"], "--random must be between"),
        (["x^2", "--random", "3", "--box", "2,1"], "LO < HI"),
        (["x^2", "--at", "1", "--method", "sideways"], "unknown difference method 'sideways'"),
        (["x^2", "--at", "1", "--h", "0"], "step h must be positive"),
        (["x^2", "--at", "1", "--rtol", "-1"], "non-negative"),
        (["x*y", "--at", "1,2", "--grad", "y"], "--grad: has 1 component, expected 2"),
        (["x*y", "--at", "1,2", "--grad", "y, z"], "not a variable of the expression"),
        (["x*y", "--at", "1,2", "--grad", "y, foo(x)"], "unknown function 'foo'"),
    ],
)
def test_check_grad_bad_input_is_one_error_line(invoke, args, words):
    assert words in assert_one_line_error(invoke("check-grad", *args))


# ---------------------------------------------------------------- functions


def test_functions_json_lists_all_eleven(invoke_json):
    code, listing = invoke_json("functions", "--json")
    assert code == 0
    assert {f["name"] for f in listing["functions"]} == NAMED_FUNCTIONS


def test_himmelblau_has_four_minima_where_it_is_zero(invoke_json):
    _, listing = invoke_json("functions", "--json")
    (entry,) = [f for f in listing["functions"] if f["name"] == "himmelblau"]
    minima = entry["minima"]
    assert len(minima) == 4
    points = {(round(m["x"]["x"], 4), round(m["x"]["y"], 4)) for m in minima}
    assert len(points) == 4 and (3.0, 2.0) in points
    for m in minima:
        x, y = m["x"]["x"], m["x"]["y"]
        assert (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2 < 1e-20
        assert m["f"] == 0.0


def test_functions_dim_applies_to_n_dimensional_functions(invoke_json):
    _, listing = invoke_json("functions", "--dim", "3", "--json")
    by_name = {f["name"]: f for f in listing["functions"]}
    assert by_name["rosenbrock"]["variables"] == ["x1", "x2", "x3"]
    assert by_name["booth"]["variables"] == ["x", "y"]


def test_functions_table(invoke):
    result = invoke("functions")
    assert result.exit_code == 0
    for name in NAMED_FUNCTIONS:
        assert name in result.stdout


# ---------------------------------------------------------------- the real console script


def test_installed_console_script_prints_json(tmp_path):
    result = subprocess.run(
        [*gradtool_command(), "grad", "x^2*y", "--at", "x=3,y=2", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["value"] == {"x": 12.0, "y": 9.0}  # 2xy and x^2 at (3, 2)


def test_help_imports_neither_sympy_nor_numpy(tmp_path):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradtool", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0 and "grad" in result.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "typer" in imported  # the import log is really there
    top_level = {name.split(".")[0] for name in imported}
    assert not top_level & {"sympy", "numpy", "matplotlib"}
