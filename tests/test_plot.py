"""Pictures: every kind is drawn, has the expected pixel size, plots the run's own numbers, and is reproducible."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from gradtool.check import sweep_steps  # noqa: E402
from gradtool.descent import minimize, start_points  # noqa: E402
from gradtool.expr.objective import load_objective  # noqa: E402
from gradtool.plot import (  # noqa: E402
    PlotError,
    check_output,
    contour_levels,
    draw_fit,
    draw_landscape,
    draw_loss,
    draw_loss_curves,
    draw_multistart,
    draw_runs,
    draw_step_sweep,
    save_figure,
)
from gradtool.plot.figure import PANELS, SQUARE, WIDE  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GRID = 40  # contour samples per axis: small keeps the tests fast


def lines_by_label(fig) -> dict[str, object]:
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def line_starting(fig, prefix: str):
    (line,) = [line for label, line in lines_by_label(fig).items() if label.startswith(prefix)]
    return line


def saved_png(fig, tmp_path, dpi=150, name="p.png") -> np.ndarray:
    out = tmp_path / name
    save_figure(fig, out, dpi)
    assert out.read_bytes()[:8] == PNG_MAGIC
    return imread(out)


def pixels(size, dpi=150) -> tuple[int, int]:
    return round(size[1] * dpi), round(size[0] * dpi)


@pytest.fixture(scope="module")
def rosenbrock_runs():
    return [
        minimize("rosenbrock", "-1.5,2", optimizer=name, steps=150, record=True) for name in ("gd", "momentum", "adam")
    ]


# ---- 1 variable ---------------------------------------------------------------------------------------------


def test_tangent_lines_touch_the_curve_with_the_derivative_as_slope(tmp_path):
    objective = load_objective("0.1*x^2 + 0.01*x")
    fig = draw_landscape(objective, xrange=(0, 20), tangents=[5, 10], derivative=True)
    for a in (5.0, 10.0):
        xy = line_starting(fig, f"tangent at x = {a:g}").get_xydata()
        fa, slope = 0.1 * a * a + 0.01 * a, 0.2 * a + 0.01
        np.testing.assert_allclose(xy[:, 1], fa + slope * (xy[:, 0] - a), rtol=1e-12, atol=1e-12)
    curve = lines_by_label(fig)["f(x)"].get_xydata()
    np.testing.assert_allclose(curve[:, 1], 0.1 * curve[:, 0] ** 2 + 0.01 * curve[:, 0], rtol=1e-12)
    derivative = line_starting(fig, "f'(x) = ").get_xydata()
    np.testing.assert_allclose(derivative[:, 1], 0.2 * derivative[:, 0] + 0.01, rtol=1e-12)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() == "x" and ax.get_ylabel() == "f(x)" and ax.get_legend()
    assert saved_png(fig, tmp_path).shape == (*pixels(WIDE), 4)


def test_one_variable_iterates_are_drawn_on_the_curve():
    result = minimize("(x - 1)^2", "3", lr=0.1, steps=30, tol=0, record=True)
    fig = draw_runs([result])
    xy = line_starting(fig, "gd: f = ").get_xydata()
    np.testing.assert_array_equal(xy, np.column_stack([np.asarray(result.path)[:, 0], result.values]))
    assert len(xy) == 31


# ---- 2 variables --------------------------------------------------------------------------------------------


def test_contour_paths_are_the_trajectories_each_in_its_own_colour(rosenbrock_runs, tmp_path):
    fig = draw_runs(rosenbrock_runs, grid=GRID)
    colours = []
    for result in rosenbrock_runs:
        line = line_starting(fig, f"{result.optimizer['name']}: f = ")
        np.testing.assert_array_equal(line.get_xydata(), np.asarray(result.path))
        colours.append(line.get_color())
    assert len(set(colours)) == 3
    ax = fig.axes[0]
    (known,) = [c for c in ax.collections if c.get_label() == "known minimum"]
    np.testing.assert_array_equal(known.get_offsets(), [[1.0, 1.0]])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"start", "end", "known minimum"} <= set(labels)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2") and "rosenbrock" in ax.get_title()
    assert saved_png(fig, tmp_path).shape == (*pixels(SQUARE), 4)


def test_contour_levels_are_log_spaced_when_f_spans_decades():
    g = np.linspace(-2, 2, 101)
    x, y = np.meshgrid(g, g)
    levels, ticks, log = contour_levels(100 * (y - x**2) ** 2 + (1 - x) ** 2)
    assert log and np.all(np.diff(levels) > 0) and levels[-1] >= 100 * (2 + 4) ** 2 + 9
    assert set(ticks) >= {1.0, 10.0, 100.0, 1000.0}
    levels, _, log = contour_levels(x**2 + y**2)
    assert not log and np.allclose(np.diff(levels[1:-1]), levels[2] - levels[1])


def test_more_than_two_variables_gives_loss_curves_with_a_note():
    result = minimize("rosenbrock", dim=4, steps=40, record=True)
    fig = draw_runs([result])
    np.testing.assert_array_equal(line_starting(fig, "gd").get_ydata(), result.values)
    assert "4 variables: loss curves only" in fig.axes[0].get_title()


def test_loss_curves_of_unrecorded_runs_use_the_table_rows():
    results = [minimize("x^2 + y^2", "1,1", optimizer=o, lr=0.1, steps=50, tol=0, every=10) for o in ("gd", "adam")]
    fig = draw_loss_curves(results)
    for r in results:
        xy = line_starting(fig, r.optimizer["name"]).get_xydata()
        np.testing.assert_array_equal(xy, [[row.step, row.f] for row in r.rows])
    assert fig.axes[0].get_title() == "x^2 + y^2: f against step"


def test_multistart_draws_the_starts_and_the_distinct_end_points(tmp_path):
    result = minimize("himmelblau", starts=30, box="-5,5", seed=3, optimizer="adam", lr=0.05, steps=300)
    fig = draw_multistart(result, grid=GRID)
    marks = {c.get_label(): c for c in fig.axes[0].collections}
    np.testing.assert_array_equal(marks["starts (30)"].get_offsets(), start_points(2, 30, (-5, 5), 3))
    found = [[m["x"]["x"], m["x"]["y"]] for m in result.minima]
    np.testing.assert_allclose(marks[f"end points found ({len(found)})"].get_offsets(), found)
    assert len(marks["known minima (4)"].get_offsets()) == 4
    assert saved_png(fig, tmp_path, dpi=50).shape == (*pixels(SQUARE, 50), 4)


# ---- loss curves, step study, fit ----------------------------------------------------------------------------


def test_loss_curves_accept_mappings_pairs_and_explicit_steps_and_pick_log_scale():
    fig = draw_loss({"a": [1.0, 0.1, 0.001], "b": [2.0, 0.5, 1e-5]})
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].get_lines()) == 2
    fig = draw_loss([("lin", [3.0, 2.0, 1.0])], ylabel="loss")
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_ylabel() == "loss"
    fig = draw_loss([("every 10", [0, 10, 20], [5.0, -1.0, float("inf")])])
    xy = fig.axes[0].get_lines()[0].get_xydata()
    assert xy[:2].tolist() == [[0, 5], [10, -1]] and np.isnan(xy[2, 1])
    with pytest.raises(PlotError):
        draw_loss([("bad", [0, 1], [1.0])])


def test_step_study_plots_both_errors_slopes_and_best_h(tmp_path):
    sweep = sweep_steps(load_objective("sin(x)"), np.array([1.0]))
    fig = draw_step_sweep(sweep, title="sin(x) at x = 1")
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    for method, order in (("forward", 1), ("central", 2)):
        np.testing.assert_array_equal(line_starting(fig, f"{method} difference").get_ydata(), sweep[method])
        ref = line_starting(fig, f"slope O(h{'^2' if order == 2 else ''})").get_xydata()
        slope = np.diff(np.log10(ref[:, 1])) / np.diff(np.log10(ref[:, 0]))
        np.testing.assert_allclose(slope, order)
        best = line_starting(fig, f"best h ({method})").get_xydata()[0]
        assert best[0] == sweep[f"best_h_{method}"] and best[1] == min(sweep[method])
    adaptive = line_starting(fig, "adaptive (Richardson)").get_xydata()[0]
    assert adaptive[0] == sweep["adaptive"]["step"] and adaptive[1] == sweep["adaptive"]["error"]
    assert adaptive[1] < 1e-13 < min(sweep["central"])  # below the best fixed step, at a far larger step
    assert saved_png(fig, tmp_path).shape == (*pixels(WIDE), 4)


def test_step_study_shows_exact_zero_errors_at_the_bottom():
    fig = draw_step_sweep(
        {
            "h": [0.1, 0.01],
            "forward": [0.1, 0.01],
            "central": [0.0, 1e-12],
            "best_h_forward": 0.01,
            "best_h_central": 0.1,
        }
    )
    zero = line_starting(fig, "central: error exactly 0").get_xydata()
    assert zero[0, 0] == 0.1 and zero[0, 1] == pytest.approx(1e-13)


def test_fit_picture_has_data_model_and_train_test_loss(tmp_path):
    x = np.linspace(0, 3, 20)
    fig = draw_fit(
        x,
        np.sin(x),
        x,
        0.9 * np.sin(x),
        train_loss=[1.0, 0.1, 0.01],
        test_loss=[1.2, 0.2, 0.05],
        x_test=[1.0, 2.0],
        y_test=[0.8, 0.9],
    )
    left, right = fig.axes
    np.testing.assert_array_equal(left.collections[0].get_offsets(), np.column_stack([x, np.sin(x)]))
    np.testing.assert_array_equal(lines_by_label(fig)["fitted model"].get_ydata(), 0.9 * np.sin(x))
    assert lines_by_label(fig)["test"].get_ydata().tolist() == [1.2, 0.2, 0.05]
    assert right.get_yscale() == "log" and right.get_xlabel() == "epoch"
    assert saved_png(fig, tmp_path).shape == (*pixels(PANELS), 4)


# ---- files: formats, determinism, atomicity -----------------------------------------------------------------


def test_png_and_svg_are_byte_identical_twice_and_svg_has_the_legend_labels(rosenbrock_runs, tmp_path):
    for fmt in ("png", "svg"):
        first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        save_figure(draw_runs(rosenbrock_runs, grid=GRID), first, dpi=50)
        save_figure(draw_runs(rosenbrock_runs, grid=GRID), second, dpi=50)
        assert first.read_bytes() == second.read_bytes(), fmt
    svg = (tmp_path / "a.svg").read_text()
    for label in ("gd: f = ", "momentum: f = ", "adam: f = ", "known minimum", "start", "end"):
        assert f">{label}" in svg
    assert "<dc:date>" not in svg


def test_pdf_has_no_creation_date_and_is_byte_identical_twice(tmp_path):
    for name in ("a.pdf", "b.pdf"):
        save_figure(draw_loss({"train": [1.0, 0.5, 0.2]}), tmp_path / name)
    pdf = (tmp_path / "a.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf and pdf == (tmp_path / "b.pdf").read_bytes()


def test_the_users_matplotlib_settings_do_not_change_the_file(tmp_path, monkeypatch):
    import matplotlib

    save_figure(draw_loss({"a": [3.0, 2.0, 1.0]}), tmp_path / "a.svg")
    monkeypatch.setitem(matplotlib.rcParams, "lines.linewidth", 7.0)
    monkeypatch.setitem(matplotlib.rcParams, "svg.hashsalt", "other")
    save_figure(draw_loss({"a": [3.0, 2.0, 1.0]}), tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_a_failed_save_leaves_no_file(tmp_path, monkeypatch):
    fig = draw_loss({"a": [1.0, 2.0]})

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError):
        save_figure(fig, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_names_the_install_command(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(PlotError, match=r"pip install 'gradtool\[plot\]'"):
        check_output(tmp_path / "x.png")


# ---- the command line ---------------------------------------------------------------------------------------


def test_plot_command_writes_the_tangent_picture(invoke, tmp_path):
    out = tmp_path / "tangents.png"
    r = invoke(
        "plot",
        "0.1*x^2 + 0.01*x",
        "--range",
        "0,20",
        "--tangent-at",
        "5,10",
        "--derivative",
        "--out",
        str(out),
        "--dpi",
        "60",
    )
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and r.stderr == f"wrote {out}\n"
    assert imread(out).shape == (*pixels(WIDE, 60), 4)


def test_plot_command_draws_each_optimizer(invoke, tmp_path):
    out = tmp_path / "paths.svg"
    r = invoke(
        "plot",
        "x^2 + 3*y^2",
        "--optimizers",
        "gd,momentum",
        "--x0=-1,1",
        "--lr",
        "0.05",
        "--steps",
        "30",
        "--out",
        str(out),
    )
    assert r.exit_code == 0, r.output
    svg = out.read_text()
    assert ">gd: f = " in svg and ">momentum: f = " in svg


def test_minimize_plot_draws_the_recorded_run_and_multistart(invoke, tmp_path):
    out = tmp_path / "run.png"
    r = invoke("minimize", "x^2 + y^2", "--x0", "1,1", "--lr", "0.1", "--steps", "20", "--plot", str(out), "--json")
    assert r.exit_code == 0 and r.stdout.startswith("{") and imread(out).shape == (*pixels(SQUARE), 4)
    out = tmp_path / "starts.png"
    r = invoke("minimize", "himmelblau", "--starts", "10", "--box=-5,5", "--steps", "50", "--plot", str(out), "--quiet")
    assert r.exit_code == 0 and out.read_bytes()[:8] == PNG_MAGIC


def test_check_grad_plot_draws_the_step_study_and_needs_sweep_h(invoke, tmp_path):
    out = tmp_path / "h.png"
    r = invoke("check-grad", "sin(x)", "--at", "x=1", "--sweep-h", "--plot", str(out), "--json")
    assert r.exit_code == 0 and imread(out).shape == (*pixels(WIDE), 4)
    r = invoke("check-grad", "sin(x)", "--at", "x=1", "--plot", str(tmp_path / "g.png"))
    assert r.exit_code == 2 and "add --sweep-h" in r.stderr and not (tmp_path / "g.png").exists()


BAD = {
    "unknown extension": (["plot", "x^2", "--out", "{d}/p.jpg"], "not a picture format"),
    "no extension": (["plot", "x^2", "--out", "{d}/p"], "needs an extension"),
    "missing folder": (["plot", "x^2", "--out", "{d}/nope/p.png"], "does not exist"),
    "folder as file": (["plot", "x^2", "--out", "{d}/taken.png"], "it is a folder"),
    "tangent outside": (
        ["plot", "x^2", "--range", "0,20", "--tangent-at", "5,25", "--out", "{d}/p.png"],
        "--tangent-at: 25 is outside --range (0,20)",
    ),
    "range reversed": (["plot", "x^2", "--range", "3,1", "--out", "{d}/p.png"], "needs LO < HI"),
    "range empty": (["plot", "x^2", "--range", "1,1", "--out", "{d}/p.png"], "needs LO < HI"),
    "tangent in 2-D": (["plot", "x*y", "--tangent-at", "1", "--out", "{d}/p.png"], "one variable"),
    "3-D without runs": (["plot", "x*y*z", "--out", "{d}/p.png"], "give --optimizers"),
    "x0 without runs": (["plot", "x^2", "--x0", "1", "--out", "{d}/p.png"], "add --optimizers"),
    "dpi": (["plot", "x^2", "--dpi", "0", "--out", "{d}/p.png"], "--dpi"),
    "minimize extension": (["minimize", "x^2", "--plot", "{d}/p.gif"], "not a picture format"),
    "minimize multistart 3-D": (["minimize", "x*y*z", "--starts", "3", "--plot", "{d}/p.png"], "1 or 2"),
    "check-grad folder": (["check-grad", "x^2", "--at", "1", "--sweep-h", "--plot", "{d}/no/p.png"], "does not exist"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_picture_input_exits_2_before_running_and_leaves_no_file(case, invoke, tmp_path, monkeypatch):
    import gradtool.descent

    def never(*args, **kwargs):
        raise AssertionError("ran before the picture was checked")

    monkeypatch.setattr(gradtool.descent.Prepared, "run", never)
    monkeypatch.setattr(gradtool.descent, "minimize", never)
    (tmp_path / "taken.png").mkdir()
    args, message = BAD[case]
    r = invoke(*[a.format(d=tmp_path) for a in args])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and message in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["taken.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_exits_2(invoke, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    r = invoke("plot", "x^2", "--out", str(locked / "p.png"))
    assert r.exit_code == 2 and "not writable" in r.stderr


def test_commands_without_a_picture_never_import_matplotlib():
    code = (
        "import sys\n"
        "from gradtool.cli import app\n"
        "for args in (['--help'], ['plot', '--help'], ['minimize', 'x^2', '--x0', '1', '--steps', '5'],\n"
        "             ['check-grad', 'sin(x)', '--at', '1', '--sweep-h'],\n"
        "             ['graph', 'x*y', '--at', '1,2', '--explain']):\n"
        "    try:\n"
        "        app(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_fit_command_picture_draws_the_fitted_model_and_the_sampled_losses(tmp_path):
    from gradtool.fitting.prepare import prepare_fit
    from gradtool.plot.runs import draw_fit_result

    data = tmp_path / "line.csv"
    data.write_text("x,y\n" + "".join(f"{v},{2 * v + 1}\n" for v in range(10)))
    problem = prepare_fit("w*x + b", str(data), "y", optimizer="adam", lr=0.1, epochs=200, test_split=0.2, seed=0)
    result = problem.run()
    fig = draw_fit_result(problem, result)
    model = lines_by_label(fig)["fitted model"]
    xs, ys = model.get_xydata().T
    np.testing.assert_allclose(ys, result.predict(xs[:, None])[:, 0])
    train = lines_by_label(fig)["train"]
    np.testing.assert_allclose(train.get_xydata(), [[r.epoch, r.train] for r in result.rows])
    assert "test" in lines_by_label(fig)


def test_fit_with_plot_writes_the_picture_and_bad_extension_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from gradtool.cli import app

    data = tmp_path / "line.csv"
    data.write_text("x,y\n" + "".join(f"{v},{2 * v + 1}\n" for v in range(10)))
    args = ["fit", "w*x + b", "--data", str(data), "--target", "y", "--epochs", "20", "--quiet", "--plot"]
    ok = CliRunner().invoke(app, [*args, str(tmp_path / "fit.png")])
    assert ok.exit_code == 0 and imread(tmp_path / "fit.png").ndim == 3
    bad = CliRunner().invoke(app, [*args, str(tmp_path / "fit.txt")])
    assert bad.exit_code == 2 and not (tmp_path / "fit.txt").exists()


def test_run_plot_draws_each_runs_f_against_step_and_cuts_diverged_runs(tmp_path):
    from gradtool.config import run_files
    from gradtool.plot.runs import draw_file_results

    files = run_files(["configs/lr-sweep.yaml"], ["steps=60"], record=True)
    fig = draw_file_results(files)
    lines = lines_by_label(fig)
    for run in files[0].runs:
        if run.status == "diverged":
            line = lines[f"{run.label} (diverged)"]
            assert max(line.get_ydata()) <= 1e3 * run.values[0]
        else:
            np.testing.assert_allclose(lines[run.label].get_ydata(), run.values)


def test_run_and_compare_with_plot_write_pictures_and_reject_bad_paths_first(tmp_path):
    from typer.testing import CliRunner

    from gradtool.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["run", "configs/seed-quadratic.yaml", "--quiet", "--plot", str(tmp_path / "r.svg")])
    assert ok.exit_code == 0
    svg = (tmp_path / "r.svg").read_text()
    assert ">gd</text>" in svg and ">step</text>" in svg  # the legend label and the axis label
    cmp = runner.invoke(
        app,
        [
            "compare",
            "booth",
            "--optimizers",
            "gd,adam",
            "--lr",
            "0.05",
            "--steps",
            "50",
            "--quiet",
            "--plot",
            str(tmp_path / "c.png"),
        ],
    )
    assert cmp.exit_code == 0 and imread(tmp_path / "c.png").ndim == 3
    for args in (["run", "configs/seed-quadratic.yaml"], ["compare", "booth", "--optimizers", "gd"]):
        bad = runner.invoke(app, [*args, "--plot", str(tmp_path / "missing" / "p.png")])
        assert bad.exit_code == 2 and not (tmp_path / "missing").exists()


def test_compare_plot_paths_are_the_recorded_trajectories():
    from gradtool.config import compare
    from gradtool.plot.runs import draw_runs

    result = compare("booth", ["gd", "momentum"], x0=[0, 0], hyper={"lr": 0.01}, steps=40, record=True)
    fig = draw_runs(result.runs)
    for run in result.runs:
        line = line_starting(fig, run.label.split("-")[0])
        np.testing.assert_allclose(line.get_xydata(), run.path)


@pytest.mark.parametrize(
    "args",
    [
        ["minimize", "x^2 + 3*y^2", "--x0", "1,1", "--steps", "5", "--quiet", "--plot", "-"],
        ["plot", "x^2", "--range", "-1,1", "--dpi", "30", "--out", "-"],
    ],
    ids=["minimize", "plot"],
)
def test_a_picture_on_stdout_is_the_whole_stdout_and_no_wrote_line(args):
    proc = subprocess.run([sys.executable, "-m", "gradtool", *args], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"\x89PNG\r\n\x1a\n") and proc.stdout.endswith(b"IEND\xaeB`\x82")
    assert b"wrote" not in proc.stderr
