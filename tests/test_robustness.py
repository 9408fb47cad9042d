"""Hostile input, command by command: one `error: ...` line and exit 2, never a traceback, a warning on stderr,
a hang or a file left behind; numbers at the edge of the float range; files that are not what they claim."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from test_cli_core import assert_one_line_error, gradtool_command, subprocess_env

import gradtool
from gradtool.errors import GradtoolError, ParseError

BIG = "9" * 400  # an integer Click and YAML read exactly, far beyond the float range
DEEP_FRACTION = "1/(1+" * 60 + "x" + ")" * 60  # within the parser's bound, beyond SymPy's recursion limit
DEEP_SINES = "sin(" * 140 + "x" + ")" * 140


def write(folder, name: str, text: str | bytes):
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def no_files_but(folder, *names):
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(names), left


# ---------------------------------------------------------------- one-line errors, exit 2, from every command

BAD_INPUT = {
    # a run needs something to vary
    "minimize a constant": (["minimize", "1", "-q"], "has no variables"),
    "compare a constant": (["compare", "7", "--optimizers", "gd", "-q"], "has no variables"),
    "lr-find a constant": (["lr-find", "1"], "has no variables"),
    "check-grad a constant": (["check-grad", "1", "--random", "2"], "has no variables"),
    # seeds and boxes numpy would choke on
    "negative seed, starts": (["minimize", "x^2", "--starts", "3", "--seed=-1", "-q"], "seed"),
    "negative seed, random": (["check-grad", "x^2", "--random", "2", "--seed=-1"], "--seed"),
    "box wider than floats": (["minimize", "x^2", "--starts", "2", "--box=-1e308,1e308", "-q"], "too wide"),
    "random box too wide": (["check-grad", "x^2", "--random", "2", "--box=-1e308,1e308"], "too wide"),
    # tolerances and steps that make no sense
    "infinite h": (["check-grad", "x^2", "--at", "1", "--h", "inf"], "step h must be positive"),
    "infinite atol": (["check-grad", "x^2", "--at", "1", "--atol", "inf"], "tolerances"),
    # integers past the float range where a schedule wants an integer
    "step size 400 digits": (
        ["minimize", "x^2", "--x0", "1", "--schedule", "step", "--step-size", BIG],
        "--step-size: an integer",
    ),
    "t_max 400 digits": (["minimize", "x^2", "--x0", "1", "--schedule", "cosine", "--t-max", BIG], "--t-max"),
    "warmup 400 digits": (["minimize", "x^2", "--x0", "1", "--warmup", BIG], "warmup"),
    # a Hessian of 10^6 entries, each simplified by SymPy
    "Hessian of 51 variables": (["grad", "sphere", "--dim", "51", "--hessian"], "at most 50"),
    # a table of 10^5 rows: minutes of rendering and unbounded memory
    "every 1 over 1e5 steps": (["minimize", "x^2", "--x0", "1", "--every", "1", "--steps", "100000"], "at most"),
    # names the expression language would not accept as variables
    "vars with a blank": (["grad", "x", "--vars", "x,a b"], "not a variable name"),
    "vars with a digit first": (["grad", "x", "--vars", "x,1a"], "not a variable name"),
    "vars with a keyword": (["grad", "x", "--vars", "x,lambda"], "'lambda' is a reserved word"),
    "vars with None": (["grad", "x", "--vars", "None,x"], "'None' is a reserved word"),
    "vars with a constant": (["grad", "x", "--vars", "x,pi"], "'pi' is a constant"),
    "vars with a function": (["minimize", "x^2", "--vars", "x,sin", "-q"], "'sin' is a function"),
    # constants are sized before SymPy folds them: each of these was a traceback or a hang
    "10^400": (["grad", "10^400*x", "--at", "x=1"], "beyond the float range"),
    "exp(10^400)": (["grad", "exp(10^400)*x"], "beyond the float range"),
    "x^(10^1999)": (["grad", "x^(10^1999)", "--at", "x=1"], "beyond the float range"),
    "atan(1/0)": (["grad", "atan(1/0)+x"], "1/0 divides by zero"),
    "sin(exp(10^10))": (["minimize", "sin(exp(10^10))^2*x", "-q"], "exp(10^10) is about 1e4342944819"),
    "(-2)^x": (["grad", "(-2)^x", "--at", "x=1"], "not a real function"),
    # SymPy cannot order nan; log base 0 folded log(x)/log(0) to 0; acos(2) is complex
    "max of nan": (["grad", "max(x, 0/0)"], "0/0 divides by zero"),
    "log base 0": (["grad", "log(x, 0)"], "base of log"),
    "complex constant": (["grad", "acos(2)*x"], "not a finite real number"),
    # SymPy's recursion limit, reached well inside the parser's nesting bound
    "too deep to differentiate": (["grad", DEEP_FRACTION], "too deeply nested"),
    # pictures
    "plot range wider than floats": (["plot", "x^2", "--range=-1e308,1e308", "--out", "{d}/p.png"], "too wide"),
    "a thousand tangents": (["plot", "x^2", "--tangent-at", ",".join(["1"] * 1000), "--out", "{d}/p.png"], "at most"),
    "f spans the float range": (["plot", "x*1e300+y*1e300", "--range=-1e8,1e8", "--out", "{d}/p.png"], "too wide"),
}


@pytest.mark.parametrize(("args", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_error_line_and_exit_2(invoke, tmp_path, args, message):
    line = assert_one_line_error(invoke(*(a.replace("{d}", str(tmp_path)) for a in args)))
    assert message in line
    no_files_but(tmp_path)


def test_a_long_number_literal_does_not_advise_python_internals(invoke):
    line = assert_one_line_error(invoke("grad", "1" * 5000 + "*x"))
    assert "digits" in line and "sys." not in line


# ---------------------------------------------------------------- numbers at the edge: results, not warnings


def test_huge_gradient_norm_is_finite_and_warns_nothing(invoke_json):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow RuntimeWarning used to reach stderr
        code, out = invoke_json("minimize", "x^2", "--x0", "1e154", "--json")
    assert code == 1 and out["status"] == "diverged"
    assert out["grad_norm"] == pytest.approx(2e154)


def test_classify_a_gradient_whose_square_overflows():
    from gradtool.derive import classify

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert classify(np.array([1e200, 1e200]), np.eye(2))[0] == "not stationary"
    assert classify(np.zeros(0), np.zeros((0, 0))) == ("degenerate", [])


def strictly(invoke, *args):
    """Run a command with warnings turned into errors: a numpy RuntimeWarning would surface as an exception."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = invoke(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_fit_overflow_is_divergence_not_a_warning(invoke, tmp_path):
    data = write(tmp_path, "big.csv", "x,y\n1e200,1e200\n2e200,3e200\n")
    result = strictly(invoke, "fit", "w*x+b", "--data", data, "--target", "y", "--epochs", "5", "-q")
    assert result.exit_code == 1 and "diverged" in result.stdout


def test_high_powers_of_sums_are_not_expanded():
    info = gradtool.describe_gradient(gradtool.load_objective("(x+y)^1000"))  # simplify() took a minute
    assert info["gradient"] == {"x": "1000*(x + y)**999", "y": "1000*(x + y)**999"}


def test_autodiff_compiles_sums_of_thousands_of_terms():
    n = 3000  # the generated 'a + b + ...' exceeded Python's compiler recursion limit
    objective = gradtool.load_objective("+".join(f"x{i}^2" for i in range(n)))
    x = np.linspace(-1.0, 1.0, n)
    np.testing.assert_allclose(gradtool.make_engine("autodiff", objective).gradient(x), 2 * x)


def test_numeric_gradient_in_coordinate_blocks_is_the_same_gradient(monkeypatch):
    from gradtool.grad import numeric

    objective = gradtool.load_objective("rosenbrock", 40)
    engine = gradtool.make_engine("numeric", objective)
    x = np.random.default_rng(0).uniform(-2, 2, size=(3, 40))
    whole = engine.gradient(x)
    monkeypatch.setattr(numeric, "CHUNK_VALUES", 500)  # 10^4 variables needed a 1.6 GB probe array at once
    np.testing.assert_array_equal(engine.gradient(x), whole)


def test_autodiff_runs_what_sympy_cannot_differentiate(invoke_json):
    code, out = invoke_json("minimize", DEEP_SINES, "--x0", "1.1", "--gradient", "autodiff", "--steps", "5", "--json")
    assert code == 0 and out["steps"] == 5 and out["stationary"] is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: gradtool.minimize("x^2", "1", every=0),
        lambda: gradtool.minimize("x^2", "1", lr=10**400),
        lambda: gradtool.minimize("x^2", "1", tol=10**400),
        lambda: gradtool.run_check(gradtool.load_objective("x"), np.zeros((0, 1))),
    ],
    ids=["every 0", "lr 400 digits", "tol 400 digits", "no points"],
)
def test_library_raises_gradtool_errors(call):
    with pytest.raises(GradtoolError):
        call()


def test_contour_levels_of_f_spanning_300_decades_fit_the_colour_map():
    pytest.importorskip("matplotlib")
    from matplotlib.colors import BoundaryNorm

    from gradtool.plot.landscape import contour_levels

    with np.errstate(over="ignore"):
        z = np.exp(np.linspace(0.0, 900.0, 10_000))  # exp(x^2 + y^2) on [0, 30]^2: 1 to inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        levels, ticks, log = contour_levels(z)  # six levels a decade overflowed BoundaryNorm's 256 colours
    assert log and np.all(np.isfinite(levels)) and np.all(np.diff(levels) > 0) and len(ticks) <= 24
    BoundaryNorm(levels, ncolors=256)


def test_a_tangent_where_f_is_undefined_warns_nothing(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "t.png"
    assert strictly(invoke, "plot", "log(x)", "--tangent-at", "0", "--out", str(out)).exit_code == 0


def test_multistart_compare_draws_the_loss_curve_of_the_best_start(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "c.png"  # the batch kept no history: 'no values to draw', exit 2 after all the runs
    args = ["compare", "x^2+y^2", "--optimizers", "gd,adam", "--starts", "3", "--steps", "30", "--plot", str(out)]
    result = invoke(*args, "-q")
    assert result.exit_code == 0, result.stderr
    assert out.exists()


# ---------------------------------------------------------------- YAML configs and --set

HOSTILE_YAML = {
    "flow nesting 600 deep": ("a: " + "[" * 600 + "]" * 600 + "\n", "nested too deeply"),
    "a NUL byte": ("function: x^2\x00\noptimizers: [gd]\n", "#x0000"),
    "an integer of 400 digits": (f"function: x^2\noptimizers: [{{name: gd, lr: {BIG}}}]\n", "too large"),
    "an integer of 5000 digits": ("function: x^2\noptimizers: [{name: gd, lr: " + "1" * 5000 + "}]\n", "5000 digits"),
    "a date is not a number": ("function: x^2\nsteps: 2001-12-14\noptimizers: [gd]\n", "got string '2001-12-14'"),
    # YAML 1.1 leniency PyYAML has and YAML 1.2 has not: decimal numbers only
    "sexagesimal": (
        "function: x^2\nsteps: 1:30\noptimizers: [gd]\n",
        ":2: steps: expected a whole number, got string '1:30'",
    ),
    "hexadecimal": ("function: x^2\nsteps: 0x10\noptimizers: [gd]\n", "got string '0x10'"),
    "underscores": ("function: x^2\nsteps: 1_000\noptimizers: [gd]\n", "got string '1_000'"),
    "yes for true": ("task: check-grad\nfunction: x^2\nat: [1]\ntaylor: yes\n", ":4: taylor: expected true or false"),
    # explicit tags, on scalars, lists and mappings
    "a tag on a list": ("function: x^2\nx0: !foo [1]\noptimizers: [gd]\n", ":2: tag !foo is not allowed"),
    "a tag on a mapping": ("function: x^2\noptimizer: !!omap {name: gd}\n", ":2: tag !!omap is not allowed"),
    "a tag on a string": ("function: !!str x^2\noptimizer: gd\n", ":1: tag !!str is not allowed"),
    # a list or mapping where a name belongs (these were TypeError: unhashable)
    "task as a list": ("task: [minimize]\nfunction: x^2\n", ":1: task: expected the task as a string, got array"),
    "task as a mapping": ("task: {a: 1}\nfunction: x^2\n", "got object {'a': 1}"),
    "optimizer name as a list": (
        "function: x^2\noptimizer: {name: [adam]}\n",
        "optimizer.name: expected the optimizer",
    ),
    "schedule name as a list": ("function: x^2\noptimizer: gd\nschedule: {name: [step]}\n", "schedule.name: expected"),
    # a value quoted in an error message is cut before it is formatted
    "a 900 KB unknown name": ("function: x^2\noptimizer: " + "a" * 900_000 + "\n", "unknown optimizer 'aaaa"),
    "check-grad of a constant": ("task: check-grad\nfunction: '1'\nrandom: 2\n", ":2: function:"),
    "a constant beyond floats": ("function: 'x*sin(exp(10^10))'\noptimizers: [gd]\n", ":1: function: constant exp"),
}


@pytest.mark.parametrize(("text", "message"), HOSTILE_YAML.values(), ids=HOSTILE_YAML.keys())
def test_hostile_config_is_one_error_line(invoke, tmp_path, text, message):
    config = write(tmp_path, "c.yaml", text)
    line = assert_one_line_error(invoke("run", config))
    assert message in line and "Traceback" not in line
    assert len(line) < 1000


def test_yaml_numbers_are_decimal_as_in_yaml_1_2(tmp_path):
    from gradtool.config.yamlfile import parse_yaml

    text = "a: 010\nb: -0.5e+2\nc: .5\nd: true\ne: ~\nf: 1.\ng: +3\nh: on\ni: 0o17\n"
    data, _ = parse_yaml(text, "t.yaml")
    assert data == {"a": 10, "b": -50.0, "c": 0.5, "d": True, "e": None, "f": 1.0, "g": 3, "h": "on", "i": "0o17"}


HOSTILE_SET = {
    "nested too deeply": ("optimizers.0=" + "[" * 600 + "]" * 600, "nested too deeply"),
    "5000 digits": ("optimizers.0.lr=" + "1" * 5000, "5000 digits"),
    "a newline in the value": ("steps=1\n2", "steps"),
    "a control character": ("steps=\x01", "not valid YAML"),
    "a tag": ("steps=!!int 5", "tag !!int is not allowed"),
    "a nine-level alias bomb": (
        "description=["
        + ", ".join(f"&a{i} [" + ", ".join([f"*a{i - 1}" if i else "x"] * 10) + "]" for i in range(9))
        + "]",
        "too large or nested too deeply (aliases?)",
    ),
}


@pytest.mark.parametrize(("assignment", "message"), HOSTILE_SET.values(), ids=HOSTILE_SET.keys())
def test_hostile_set_is_one_error_line(invoke, tmp_path, assignment, message):
    config = write(tmp_path, "c.yaml", "function: x^2\nx0: [1]\noptimizers: [{name: gd, lr: 0.1}]\n")
    assert message in assert_one_line_error(invoke("run", config, "--set", assignment))


MARKUP = "[/] [link=http://example.com]click[/link] [blink]b[/blink] :thumbs_up: $x$"


@pytest.mark.parametrize(
    "body",
    [
        "function: x^2\nx0: [1]\noptimizers: [gd, adam]\nsteps: 2\n",
        "task: check-grad\nfunction: x^2\nat: [1]\n",
        "task: fit\nmodel: w*x + b\ndata: {data}\ntarget: y\nepochs: 2\n",
    ],
    ids=["minimize", "check-grad", "fit"],
)
def test_user_text_is_printed_literally(invoke, tmp_path, linear, body):
    config = write(tmp_path, "[bold]c.yaml", f'description: "{MARKUP}"\n' + body.format(data=linear))
    result = invoke("run", config)  # MarkupError; a link, blinking text; the file name printed as c.yaml
    assert result.exit_code == 0, result.stderr
    text = "".join(result.stdout.split())  # Rich may wrap a long title
    assert "[bold]c.yaml" in text and "".join(MARKUP.split()) in text, result.stdout


def test_user_text_in_pictures_is_not_tex(tmp_path):
    pytest.importorskip("matplotlib")
    config = write(tmp_path, "c.yaml", "description: 'a $\\frac{$ b'\nfunction: x^2\nx0: [1]\noptimizer: gd\n")
    result = subprocess.run(
        [*gradtool_command(), "run", config, "-q", "--plot", str(tmp_path / "p.svg")],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr  # matplotlib's mathtext raised ValueError
    assert "a $\\frac{$ b" in (tmp_path / "p.svg").read_text()


def test_an_output_name_too_long_is_rejected_before_any_run(invoke, tmp_path):
    name = "A" * 300  # Path.is_dir() raised OSError (ENAMETOOLONG) after validation
    config = write(tmp_path, "c.yaml", f"function: x^2\noptimizers: [{{name: gd, label: {name}}}, adam]\n")
    line = assert_one_line_error(invoke("run", config, "--set", f"output={{trajectory: '{tmp_path}/{{label}}.csv'}}"))
    assert "output.trajectory: cannot write" in line
    no_files_but(tmp_path, "c.yaml")


# ---------------------------------------------------------------- data files and saved models


@pytest.fixture
def linear(tmp_path):
    return write(tmp_path, "lin.csv", "x,y\n1,1.5\n2,2.5\n3,3.5\n4,4.5\n")


@pytest.fixture
def model(tmp_path, linear):
    path = str(tmp_path / "m.npz")
    gradtool.fit("w*x + b", linear, "y", epochs=3).save(path)
    return path


def corrupt_models(folder) -> dict[str, str]:
    meta = {"format": "gradtool-fit/1", "model": "w*x + b", "kind": "expression", "activation": None}
    meta |= {"loss": "mse", "l2": 0.0, "inputs": ["x"], "targets": ["y"], "names": ["b", "w"], "shapes": [[], []]}
    paths = {name: str(folder / f"{name}.npz") for name in ("empty", "npy", "text", "deep", "loss", "size")}
    open(paths["empty"], "wb").close()
    with open(paths["npy"], "wb") as handle:
        np.save(handle, np.arange(3.0))
    write(folder, "text.npz", "hello\n")
    np.savez(paths["deep"], meta=np.array("[" * 100_000 + "]" * 100_000), theta=np.zeros(2))
    np.savez(paths["loss"], meta=np.array(json.dumps({**meta, "loss": "hinge"})), theta=np.zeros(2))
    np.savez(paths["size"], meta=np.array(json.dumps(meta)), theta=np.zeros(5))
    return paths


CORRUPT = {
    "empty": "not an .npz archive",  # EOFError became Click's Abort
    "npy": "not an .npz archive",  # a bare array has no context manager
    "text": "not an .npz archive",  # numpy suggested allow_pickle
    "deep": "nested too deeply",  # json.loads RecursionError
    "loss": "bad model description: unknown loss",  # the file was not named
    "size": "5 parameters saved",
}


@pytest.mark.parametrize(("kind", "message"), CORRUPT.items(), ids=CORRUPT.keys())
def test_a_corrupt_model_file_is_named(invoke, tmp_path, linear, kind, message):
    path = corrupt_models(tmp_path)[kind]
    line = assert_one_line_error(invoke("predict", path, "--data", linear))
    assert path in line and message in line and "allow_pickle" not in line


def test_a_model_file_with_a_huge_constant_is_refused_at_once(invoke, tmp_path, linear):
    meta = {"format": "gradtool-fit/1", "model": "w*x*sin(exp(10^10)) + b", "kind": "expression"}
    meta |= {"activation": None, "loss": "mse", "l2": 0.0, "inputs": ["x"], "targets": ["y"]}
    path = str(tmp_path / "m.npz")
    np.savez(path, meta=np.array(json.dumps({**meta, "names": ["b", "w"], "shapes": [[], []]})), theta=np.zeros(2))
    line = assert_one_line_error(invoke("predict", path, "--data", linear))  # SymPy span on exp(10^10) for minutes
    assert path in line and "exp(10^10) is about 1e4342944819" in line


def test_loading_a_model_with_the_wrong_parameter_count_fails_before_training(invoke, tmp_path, linear):
    path = corrupt_models(tmp_path)["size"]  # the broadcast error came from the first update
    line = assert_one_line_error(invoke("fit", "w*x + b", "--data", linear, "--target", "y", "--load", path))
    assert "5 parameters saved" in line


def test_a_cell_over_the_csv_field_limit_is_a_data_error(invoke, tmp_path):
    data = write(tmp_path, "d.csv", "x,y\n" + "1" * 200_000 + ",2\n3,4\n")
    line = assert_one_line_error(invoke("fit", "w*x+b", "--data", data, "--target", "y"))
    assert "row 2" in line


def test_a_bad_file_to_predict_fails_before_training(invoke, tmp_path, linear):
    rows = write(tmp_path, "new.csv", "z\n1\n")  # the report, then the error, used to share stderr
    line = assert_one_line_error(invoke("fit", "w*x + b", "--data", linear, "--target", "y", "--predict", rows))
    assert "no input column 'x'" in line


def test_predictions_quote_a_column_name_with_a_comma(invoke, tmp_path, model):
    rows = write(tmp_path, "new.csv", '"a,b",x\n1,1\n')
    result = invoke("predict", model, "--data", rows)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == '"a,b",x,y_pred'


def test_pipes_and_devices_are_refused_not_read_forever(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    script = (
        "import sys\n"
        "from gradtool.errors import GradtoolError\n"
        "from gradtool.config.yamlfile import read_config\n"
        "from gradtool.fitting.data import read_csv\n"
        "from gradtool.fitting.persist import load_model\n"
        "for read in (read_config, read_csv, load_model):\n"
        "    for path in (sys.argv[1], '/dev/zero'):\n"
        "        try:\n"
        "            read(path)\n"
        "        except GradtoolError as exc:\n"
        "            assert 'not a regular file' in str(exc), exc\n"
        "        else:\n"
        "            raise SystemExit(f'{read.__name__} read {path}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(fifo)], capture_output=True, text=True, timeout=30, env=subprocess_env()
    )
    assert result.returncode == 0, result.stderr


def test_check_fit_validates_its_tolerances(tmp_path, linear):
    with pytest.raises(GradtoolError, match="tolerances"):
        gradtool.check_fit("w*x + b", linear, "y", rtol=-1.0)


def test_parse_error_for_a_base_one_log_names_the_column():
    with pytest.raises(ParseError, match="column 1"):
        gradtool.load_objective("log(x, 1)")
