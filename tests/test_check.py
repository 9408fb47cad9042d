"""Gradient checking: engines agree, wrong hand gradients are caught and named, sweeps and Taylor orders."""

import json
import os
import resource
import subprocess
import sys
import warnings

import numpy as np
import pytest

from gradtool import check as check_module
from gradtool.check import (
    UserGradient,
    check_points,
    random_points,
    relative_error,
    run_check,
    split_components,
    sweep_steps,
    taylor_orders,
)
from gradtool.errors import ConfigError, ParseError
from gradtool.expr.objective import load_objective
from gradtool.grad.analytic import AnalyticEngine
from gradtool.taylor import remainder_order

POINT_KEYS = {
    "at",
    "analytic",
    "autodiff",
    "numeric",
    "user",
    "max_abs_error",
    "max_rel_error",
    "ok",
    "abs_errors",
    "rel_errors",
    "passed",
    "wrong",
    "note",
    "taylor_order",
    "numeric_error",
    "numeric_step",
    "numeric_note",
}
REPORT_KEYS = {
    "expression",
    "variables",
    "points",
    "ok",
    "method",
    "rtol",
    "atol",
    "error_factor",
    "evaluations_per_gradient",
    "sweep",
}


def check(text: str, *points, **options) -> dict:
    return run_check(load_objective(text), np.array(points, dtype=float), **options)


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("2*x*y, x^2", ["2*x*y", " x^2"]),
        ("max(x, y), min(x, log(y, 2))", ["max(x, y)", " min(x, log(y, 2))"]),
        ("1", ["1"]),
        ("(a, b), c", ["(a, b)", " c"]),
    ],
)
def test_split_components_cuts_only_at_top_level_commas(text, parts):
    assert split_components(text) == parts


def test_relative_error_is_zero_when_both_vanish_and_inf_when_only_truth_does():
    rel = relative_error(np.array([0.0, 1.0, 3.0, 2.0]), np.array([0.0, 0.0, 2.0, -2.0]))
    np.testing.assert_array_equal(rel, [0.0, np.inf, 0.5, 2.0])


# ---------------------------------------------------------------- engines agree


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("x^2*y + sin(x)", (1.0, 2.0)),
        ("exp(x*y)/(1 + y^2) + log(2 + cos(x))", (0.3, -1.1)),
        ("sigmoid(x) * softplus(y) - tanh(x*y)", (-0.7, 0.4)),
        ("sqrt(x^2 + y^2 + 1) + atan(y/x)", (1.5, 2.5)),
    ],
)
def test_all_engines_agree_on_smooth_functions(text, point):
    report = check(text, point)
    assert report["ok"] is True
    entry = report["points"][0]
    assert entry["ok"] and entry["wrong"] == [] and entry["note"] is None
    assert entry["user"] is None
    assert entry["max_rel_error"] < 1e-6


def test_report_and_point_entries_have_the_documented_keys():
    report = check("x^2*y", (2.0, 1.0), (0.5, -1.0))
    assert set(report) == REPORT_KEYS
    assert report["variables"] == ["x", "y"] and report["expression"] == "x^2*y"
    assert len(report["points"]) == 2
    for entry in report["points"]:
        assert set(entry) == POINT_KEYS
        for source in ("analytic", "autodiff", "numeric"):
            assert set(entry[source]) == {"x", "y"}
    assert report["points"][1]["at"] == {"x": 0.5, "y": -1.0}
    assert report["points"][1]["analytic"] == {"x": -1.0, "y": 0.25}  # (2xy, x^2) by hand


def test_many_random_points_on_rosenbrock_all_agree():
    obj = load_objective("rosenbrock", dim=5)
    points = np.random.default_rng(0).uniform(-2, 2, size=(20, 5))
    results = check_points(obj, points)
    assert len(results) == 20 and all(r.ok for r in results)


# ---------------------------------------------------------------- the user's gradient


def test_wrong_user_gradient_names_the_wrong_component():
    report = check("x^2*y", (2.0, 1.0), user="2*x*y, x^3")
    entry = report["points"][0]
    assert report["ok"] is False and entry["ok"] is False
    assert entry["wrong"] == ["y"]
    assert entry["passed"] == [True, False]
    assert entry["user"] == {"x": 4.0, "y": 8.0}  # 2*2*1 and 2^3
    assert entry["analytic"]["y"] == 4.0  # x^2
    assert entry["max_abs_error"] == pytest.approx(4.0)


def test_right_user_gradient_passes():
    report = check("x^2*y + sin(x)", (1.0, 2.0), user="2*x*y + cos(x), x^2")
    assert report["ok"] is True and report["points"][0]["wrong"] == []


def test_user_gradient_checked_at_several_points_names_only_where_it_fails():
    # d/dx of x^3 is 3x^2; "3*x" agrees only at x = 0 and x = 1
    report = check("x^3", (0.0,), (1.0,), (2.0,), user="3*x")
    assert [p["wrong"] for p in report["points"]] == [[], [], ["x"]]


@pytest.mark.parametrize(
    ("user", "words"),
    [
        ("2*x*y", "user: has 1 component, expected 2 (x, y)"),
        ("2*x*y, x^2, 1", "user: has 3 components"),
        ("2*x*y, z", "component 2 uses z, not a variable"),
        ("2*x*y, __import__('os')", "user: component 2: unknown function '__import__'"),
        ("2*x*y, x.real", "user: component 2: attribute access"),
        ("2*x*y, ", "user: component 2: empty expression"),
    ],
)
def test_bad_user_gradients_are_parse_errors(user, words):
    with pytest.raises(ParseError, match=words.replace("(", r"\(").replace(")", r"\)")):
        UserGradient(user, load_objective("x^2*y"))


def test_user_gradient_is_evaluated_in_the_objective_variable_order():
    obj = load_objective("x*y^2", variables="y,x")
    g = UserGradient("2*x*y, y^2", obj).gradient(np.array([[3.0, 5.0]]))  # y=3, x=5
    np.testing.assert_array_equal(g, [[30.0, 9.0]])


# ---------------------------------------------------------------- non-finite points


def test_non_finite_value_is_reported_not_raised():
    report = check("log(x)", (-1.0,))
    entry = report["points"][0]
    assert report["ok"] is False and entry["ok"] is False
    assert entry["note"] is not None and "not finite" in entry["note"]


@pytest.mark.parametrize(
    ("text", "point"), [("1/x + y", (0.0, 1.0)), ("log(x) + y", (-1.0, 1.0)), ("sqrt(x)*y", (-4.0, 2.0))]
)
def test_non_finite_point_is_reported_quietly(text, point):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may leak to the user's stderr
        report = check(text, point, user="0, 0")
    assert report["ok"] is False and report["points"][0]["note"] is not None


def test_negative_tolerances_are_refused():
    with pytest.raises(ParseError, match="non-negative"):
        check("x^2", (1.0,), rtol=-1.0)


def test_tolerances_decide_pass_or_fail():
    # forward differences are accurate to ~1e-8 relative: fine at rtol 1e-6, not at rtol 1e-12, atol 0
    assert check("exp(x)", (1.0,), method="forward")["ok"] is True
    assert check("exp(x)", (1.0,), method="forward", rtol=1e-12, atol=0.0)["ok"] is False


# ---------------------------------------------------------------- Taylor orders


def test_taylor_order_is_about_two_for_the_true_gradient_and_one_for_a_wrong_one():
    obj = load_objective("x^2*y + sin(x)")
    point = np.array([1.0, 2.0])
    true_g = np.array([2 * 1 * 2 + np.cos(1.0), 1.0])
    assert min(taylor_orders(obj, point, true_g)) == pytest.approx(2.0, abs=0.2)
    wrong_g = true_g + np.array([0.0, 0.5])
    assert max(taylor_orders(obj, point, wrong_g)) == pytest.approx(1.0, abs=0.2)


def test_taylor_order_of_a_linear_function_counts_as_two():
    obj = load_objective("3*x - 2*y")
    assert taylor_orders(obj, np.array([0.5, 0.5]), np.array([3.0, -2.0])) == [2.0, 2.0, 2.0]


def test_run_check_with_taylor_fails_a_wrong_gradient():
    good = check("x^2*y", (2.0, 1.0), taylor=True)
    orders = good["points"][0]["taylor_order"]
    assert set(orders) == {"analytic", "autodiff"} and good["ok"] is True
    assert all(o == pytest.approx(2.0, abs=0.2) for o in orders.values())
    bad = check("x^2*y", (2.0, 1.0), user="2*x*y, x^3", taylor=True)
    assert bad["ok"] is False
    assert bad["points"][0]["taylor_order"]["user"] == pytest.approx(1.0, abs=0.2)


# ---------------------------------------------------------------- step sweeps


def test_sweep_on_sin_shows_o_h_and_o_h2_and_a_sensible_best_h():
    sweep = sweep_steps(load_objective("sin(x)"), np.array([1.0]))
    h = np.array(sweep["h"])
    np.testing.assert_allclose(h, 10.0 ** -np.arange(1, 16))
    forward, central = np.array(sweep["forward"]), np.array(sweep["central"])
    first = slice(0, 5)  # h = 1e-1 ... 1e-5, where truncation error dominates
    f_slope = np.polyfit(np.log10(h[first]), np.log10(forward[first]), 1)[0]
    c_slope = np.polyfit(np.log10(h[first]), np.log10(central[first]), 1)[0]
    assert f_slope == pytest.approx(1.0, abs=0.1)
    assert c_slope == pytest.approx(2.0, abs=0.15)
    assert np.all(forward[first][:-1] / forward[first][1:] > 7)
    assert np.all(central[:4] / central[1:5] > 70)
    assert 1e-7 <= sweep["best_h_central"] <= 1e-3
    # the truncation error of forward differences, |sin(1)|/2 h relative to cos(1), at h = 0.1
    assert forward[0] == pytest.approx(np.tan(1.0) / 2 * 0.1, rel=0.1)


def test_run_check_includes_the_sweep_only_when_asked():
    assert check("sin(x)", (1.0,))["sweep"] is None
    sweep = check("sin(x)", (1.0,), sweep=True)["sweep"]
    assert {"h", "forward", "central", "best_h_forward", "best_h_central"} <= set(sweep)


# ---------------------------------------------------------------- the verdict knows the numeric error


def test_numeric_passes_within_k_times_its_error_estimate_and_the_others_stay_strict():
    # f = 1e13-ish plus a small term: differences of f lose digits in x; the adaptive estimate says so
    report = check("x^2*y + exp(100*z)", (1.0, 2.0, 0.3), rtol=0.0, atol=0.0)
    entry = report["points"][0]
    assert report["error_factor"] == check_module.ERROR_FACTOR
    assert entry["passed"] == [True, True, True] and report["ok"] is True
    errors = entry["numeric_error"]
    for name, exact in (("x", 4.0), ("y", 1.0)):
        assert abs(entry["numeric"][name] - exact) <= check_module.ERROR_FACTOR * errors[name]
        assert errors[name] > 1e-6  # honest: rounding of |f| ~ 1e13 over steps of ~0.5
    bad = check(
        "x^2*y + exp(100*z)", (1.0, 2.0, 0.3), user="2*x*y*(1 + 1e-12), x^2, 100*exp(100*z)", rtol=0.0, atol=0.0
    )
    assert bad["points"][0]["wrong"] == ["x"]  # the user's gradient gets no such allowance


def test_fixed_step_methods_have_no_estimate_and_keep_the_strict_test():
    report = check("1/x", (0.001,), method="central")
    entry = report["points"][0]
    assert report["ok"] is False and entry["numeric_error"] is None and report["error_factor"] is None
    assert report["evaluations_per_gradient"] == 2.0


def test_a_component_without_a_finite_stencil_is_named_and_not_compared():
    report = check("x^1.5 + y", (0.0, 1.0))  # f(-h, y) is nan for every h: no central stencil in x
    entry = report["points"][0]
    assert np.isnan(entry["numeric"]["x"])
    assert "no finite stencil in x" in entry["numeric_note"] and entry["numeric_note"].count(",") == 0
    assert report["ok"] is True and entry["passed"] == [True, True]  # analytic and autodiff agree
    assert entry["numeric_step"]["y"] > 0


def test_adaptive_is_the_default_and_rosenbrock_passes_everywhere():
    obj = load_objective("rosenbrock", dim=10)
    points = np.random.default_rng(0).uniform(-2.048, 2.048, size=(50, 10))
    results = check_points(obj, points, rtol=1e-9, atol=0.0)
    assert all(r.ok for r in results)
    assert max(max(r.rel_error) for r in results) < 1e-9


# ---------------------------------------------------------------- the Taylor test near singularities


@pytest.mark.parametrize(
    ("text", "x"), [("1/x", 0.001), ("sqrt(x)", 1e-4), ("log(x)", 1e-3), ("asin(x)", 0.999), ("sin(1000*x)", 0.1)]
)
def test_taylor_reads_two_for_exact_and_one_for_1e4_wrong_gradients_near_singularities(text, x):
    obj = load_objective(text)
    point = np.array([x])
    g = AnalyticEngine(obj.expr, obj.symbols).gradient(point)
    assert all(o == pytest.approx(2.0, abs=0.2) for o in taylor_orders(obj, point, g))
    for wrong in (g * (1 + 1e-4), g * (1 - 1e-4)):
        assert all(o == pytest.approx(1.0, abs=0.2) for o in taylor_orders(obj, point, wrong))


def test_taylor_stays_in_the_domain():
    # the first probes (t = 0.5) would leave sqrt's domain; they are dropped, not fitted
    report = check("sqrt(x)", (1e-4,), taylor=True, rtol=1e-3)
    assert report["ok"] is True
    assert all(o == pytest.approx(2.0, abs=0.05) for o in report["points"][0]["taylor_order"].values())


def test_remainder_order_reads_the_asymptotic_slope():
    ts = 2.0 ** -np.arange(1, 40)
    # r(t) = t (non-asymptotic: far from 0 the t^2 term swamps it) + 1e6 t^2: slope 1 as t -> 0
    assert remainder_order(1e-3 * ts + 1e6 * ts**2, 0.0, 0.0, ts) == pytest.approx(1.0, abs=0.01)
    assert remainder_order(3 * ts**2 + ts**5, 0.0, 0.0, ts) == pytest.approx(2.0, abs=0.01)
    assert remainder_order(np.where(ts > 0.01, np.nan, ts**2), 0.0, 0.0, ts) == pytest.approx(2.0, abs=0.01)
    assert remainder_order(np.zeros_like(ts), 0.0, 0.0, ts) == 2.0  # rounding level throughout


# ---------------------------------------------------------------- size limits (memory and time)


def test_random_points_refuse_too_many_numbers_before_allocating():
    with pytest.raises(ConfigError, match=r"lower the number of points \(--random\) or of variables \(--dim\)"):
        random_points(load_objective("sphere", dim=10_000), 100_000, 0)
    with pytest.raises(ConfigError, match="would evaluate f"):
        random_points(load_objective("sphere", dim=10_000), 15, 0)  # memory fine, time not


def run_capped(args: list[str], cap_bytes: int) -> subprocess.CompletedProcess:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "gradtool", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        preexec_fn=limit,
    )


def test_huge_check_is_one_error_line_under_a_memory_cap():
    result = run_capped(["check-grad", "sphere", "--dim", "10000", "--random", "100000"], 1 << 30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "--random" in result.stderr and "--dim" in result.stderr


def test_large_allowed_check_stays_within_a_memory_cap():
    # 2 points of 2,000 variables: ~80 million probe coordinates, in chunks of CHUNK_VALUES
    result = run_capped(["check-grad", "sphere", "--dim", "2000", "--random", "2", "--json"], 1 << 30)
    assert result.returncode == 0, result.stderr[-500:]
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["evaluations_per_gradient"] >= 2 * 2 * 2000
