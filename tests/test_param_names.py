"""Library errors name the parameter (the Python argument), never a flag; each caller adds its own name for it:
the CLI its flag, a config its key path."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from gradtool.errors import DataError, ParseError, PointError
from gradtool.params import ParamError
from gradtool.plot.figure import PlotError

ROOT = Path(__file__).resolve().parent.parent
XOR = str(ROOT / "data" / "xor.csv")
LINEAR = str(ROOT / "data" / "linear.csv")


def _lr_find(**kwargs):
    from gradtool.lrfind import lr_find

    return lr_find("x^2 + y^2", **kwargs)


def _user_gradient(text):
    from gradtool.check import UserGradient
    from gradtool.expr.objective import load_objective

    return UserGradient(text, load_objective("x*y"))


def _load(text, **kwargs):
    from gradtool.expr.objective import load_objective

    return load_objective(text, **kwargs)


def _picture(text, **kwargs):
    from gradtool.plot import check_picture

    return check_picture(_load(text), **kwargs)


def _dpi(tmp_path):
    from gradtool.plot import check_output

    return check_output(tmp_path / "p.png", dpi=0)


def _not_finite(_):
    pytest.importorskip("matplotlib")
    from gradtool.plot import contour_levels

    return contour_levels(np.full((3, 3), np.nan))


def _sample(_):
    from gradtool.fitting.check import check_fit

    return check_fit("mlp:2-4-1", XOR, "y", sample=0)


def _prepare(**kwargs):
    from gradtool.fitting.prepare import prepare_fit

    return prepare_fit(kwargs.pop("model", "linear"), kwargs.pop("data", LINEAR), "y", **kwargs)


def _standardize(_):
    from gradtool.fitting.scaling import Standardizer

    return Standardizer.fit(["x"], np.array([[1e308], [-1e308], [1e308]]))


def _jobs(_):
    from gradtool.config.execute import run_plans

    return run_plans([], jobs=0)


def _init_scale(_):
    from gradtool.fitting.networks import init_scale

    return init_scale("scale=-1")


def _complex_step(_):
    from gradtool.grad.engines import make_engine

    return make_engine("numeric", _load("abs(x) + y"), method="complex")


def _bce_on_three_labels(tmp_path):
    (tmp_path / "three.csv").write_text("x,y\n1,a\n2,b\n3,c\n4,a\n")
    return _prepare(model="linear", data=str(tmp_path / "three.csv"), loss="bce")


def _minimize(expr, **kwargs):
    from gradtool.descent import minimize

    return minimize(expr, **kwargs)


def _lr_find_sphere(**kwargs):
    from gradtool.lrfind import lr_find

    return lr_find("sphere", **kwargs)


# (call with tmp_path, the parameter it must name, the error family it must also belong to)
CASES = {
    "lr_find lr_min <= 0": (lambda _: _lr_find(lr_min=0.0), "lr_min", ParamError),
    "lr_find lr_min >= lr_max": (lambda _: _lr_find(lr_min=1.0, lr_max=0.1), "lr_min", ParamError),
    "lr_find num": (lambda _: _lr_find(num=1), "num", ParamError),
    "lr_find lr": (lambda _: _lr_find(lr=0.1), "lr", ParamError),
    "user gradient count": (lambda _: _user_gradient("y"), "user", ParseError),
    "user gradient syntax": (lambda _: _user_gradient("y, sin("), "user", ParseError),
    "user gradient variable": (lambda _: _user_gradient("y, z"), "user", ParseError),
    "variables misses": (lambda _: _load("x + y", variables="x"), "variables", PointError),
    "variables twice": (lambda _: _load("x + y", variables="x,x,y"), "variables", PointError),
    "variables reserved": (lambda _: _load("x", variables="x,pi"), "variables", PointError),
    "variables of a named function": (lambda _: _load("booth", variables="x,y,z"), "variables", PointError),
    "dim of an expression": (lambda _: _load("x + y", dim=3), "dim", PointError),
    "dim of a 2-D function": (lambda _: _load("booth", dim=3), "dim", ParamError),
    "dim too small": (lambda _: _load("rosenbrock", dim=1), "dim", ParamError),
    "tangents in 2-D": (lambda _: _picture("x*y", tangents=[1.0]), "tangents", PlotError),
    "derivative in 2-D": (lambda _: _picture("x*y", derivative=True), "derivative", PlotError),
    "yrange in 1-D": (lambda _: _picture("x", yrange=(0.0, 1.0)), "yrange", PlotError),
    "tangent outside": (lambda _: _picture("x^2", xrange=(0.0, 20.0), tangents=[25.0]), "tangents", PlotError),
    "f not finite": (_not_finite, "xrange", PlotError),
    "dpi": (_dpi, "dpi", PlotError),
    "sample": (_sample, "sample", ParamError),
    "init of a network": (_init_scale, "init", ParamError),
    "init of a linear model": (lambda _: _prepare(init="scale=2"), "init", ParamError),
    "test_split and test_data": (lambda _: _prepare(test_split=0.5, test_data=LINEAR), "test_data", ParamError),
    "stratify without a split": (lambda _: _prepare(stratify=True), "stratify", ParamError),
    "early_stopping without held-out rows": (lambda _: _prepare(early_stopping=3), "early_stopping", ParamError),
    "init and load": (lambda _: _prepare(init="random", load="m.npz"), "load", ParamError),
    "standardize overflow": (_standardize, "standardize", DataError),
    "jobs": (_jobs, "jobs", ParamError),
    "complex step of abs": (_complex_step, "method", ParamError),
    "bce on three labels": (_bce_on_three_labels, "loss", DataError),
    "picture of three variables": (lambda _: _picture("x + y + z", runs=False), "optimizers", PlotError),
    "starts x variables": (lambda _: _minimize("sphere", dim=300, starts=1_000_000), "starts", ParamError),
    "lr_find num x variables": (lambda _: _lr_find_sphere(dim=10_000, num=10_000), "num", ParamError),
}


@pytest.mark.parametrize("case", list(CASES))
def test_library_errors_name_the_parameter_not_a_flag(case, tmp_path):
    call, name, family = CASES[case]
    with pytest.raises(ParamError) as info:
        call(tmp_path)
    exc = info.value
    assert exc.key == (name,) and isinstance(exc, family)
    assert str(exc).startswith(f"{name}: ") and "--" not in str(exc), str(exc)
    assert pickle.loads(pickle.dumps(exc)).args == exc.args  # a worker process's error arrives whole


def test_a_detail_names_other_parameters_in_the_callers_terms():
    exc = ParamError("lr_min", "1 must be smaller than `lr_max` (0.1)", mentions=("lr_max",))
    assert str(exc) == "lr_min: 1 must be smaller than lr_max (0.1)" and exc.detail == str(exc)[8:]
    assert exc.detail_as(lambda key: f"--{key}") == "1 must be smaller than --lr_max (0.1)"
    from gradtool.cli.choices import cli_message

    assert cli_message(exc) == "--min: 1 must be smaller than --max (0.1)"
    words = ParamError("inputs", "data/inputs.csv: takes 2 inputs; pick columns with `inputs`", mentions=("inputs",))
    assert words.detail_as(lambda key: "--inputs") == "data/inputs.csv: takes 2 inputs; pick columns with --inputs"
    assert words.detail == "data/inputs.csv: takes 2 inputs; pick columns with inputs"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["lr-find", "x^2", "--min", "0"], "--min: must be a number > 0, got 0.0"),
        (["lr-find", "x^2", "--min", "1", "--max", "0.1"], "--min: 1 must be smaller than --max (0.1)"),
        (["lr-find", "x^2", "--num", "1"], "--num: must be a whole number from 2 to"),
        (["lr-find", "x^2", "-o", "adam(lr=0.1)"], "--lr: lr-find chooses the learning rates itself; give --min and"),
        (["check-grad", "x*y", "--at", "1,2", "--grad", "y, sin("], "--grad: component 2: syntax error"),
        (["grad", "x + y", "--vars", "x,x,y"], "--vars: 'x' listed twice"),
        (["grad", "booth", "--dim", "3"], "--dim: booth is 2-D only; got 3"),
        (["plot", "x*y", "--tangent-at", "1", "--out", "{d}/p.png"], "--tangent-at: needs a function of one"),
        (["plot", "x", "--yrange", "0,1", "--out", "{d}/p.png"], "--yrange: needs a function of two variables"),
        (
            ["plot", "x^2", "--range", "0,2", "--tangent-at", "5", "--out", "{d}/p.png"],
            "--tangent-at: 5 is outside --range",
        ),
        (["plot", "x^2", "--dpi", "0", "--out", "{d}/p.png"], "--dpi: must be a whole number from 10"),
        (
            ["check-grad", "--fit", "mlp:2-4-1", "--data", XOR, "--target", "y", "--sample-params", "0"],
            "--sample-params:",
        ),
        (
            ["fit", "mlp:2-4-1", "--data", XOR, "--target", "y", "--init", "scale=0"],
            "--init: a network starts from its",
        ),
        (
            ["fit", "linear", "--data", LINEAR, "--target", "y", "--init", "scale=2"],
            "--init: linear starts from zeros, or from seeded random weights with --init random",
        ),
        (
            ["fit", "linear", "--data", LINEAR, "--target", "y", "--test-split", "0.5", "--test-data", LINEAR],
            "--test-data: give --test-split or --test-data, not both",
        ),
        (["fit", "linear", "--data", LINEAR, "--target", "y", "--stratify"], "--stratify: needs --test-split:"),
        (
            ["fit", "mlp:2-4-1", "--data", LINEAR, "--target", "y"],
            f"--inputs: {LINEAR}: the network takes 2 inputs but the data has 1 (x); pick columns with --inputs\n",
        ),
        (["fit", "linear", "--data", "{d}/huge.csv", "--target", "y", "--standardize"], "--standardize: an input"),
    ],
)
def test_the_cli_names_the_flag(invoke, tmp_path, args, line):
    (tmp_path / "huge.csv").write_text("x,y\n1e308,1\n-1e308,2\n1e308,3\n")
    result = invoke(*[a.format(d=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {line}") and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "huge.csv"]  # no picture, no model


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("function: x + y\nvariables: [x]\noptimizer: gd\n", 2, "variables: misses y (the expression uses x, y)"),
        ("function: booth\ndim: 3\noptimizer: gd\n", 2, "dim: booth is 2-D only; got 3"),
        ("task: check-grad\nfunction: x*y\nat: [1, 2]\ngrad: y\n", 4, "grad: has 1 component, expected 2 (x, y)"),
        (
            f"task: fit\nmodel: linear\ndata: {LINEAR}\ntarget: y\ntest_split: 0.5\ntest_data: {LINEAR}\n",
            6,
            "test_data: give test_split or test_data, not both",
        ),
        (
            "function: sphere\ndim: 300\noptimizer: gd\nstarts: {count: 1000000}\n",
            4,
            "starts.count: 1,000,000 starts of 300 variables need about 71.5 GiB of working arrays (limit 2 GiB; "
            "at most 27,962 starts fit): lower it or the number of variables (dim)",
        ),
        (
            "task: check-grad\nfunction: abs(x) + y\nat: [1, 2]\nmethod: complex\n",
            4,
            "method: complex needs every operation to be complex-analytic, and abs is not (in Abs(x)); use adaptive",
        ),
    ],
)
def test_a_config_names_the_key_path(invoke, tmp_path, text, line, message):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = invoke("run", str(config))
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {config}:{line}: {message}\n"
