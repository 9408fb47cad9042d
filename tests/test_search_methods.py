"""The methods that search: L-BFGS equals torch.optim.LBFGS, BFGS needs no more than scipy's, Newton converges
quadratically, Newton-CG never forms a Hessian; everywhere the first-order methods go they go too."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import gradtool
from gradtool.errors import ConfigError
from gradtool.optim.conjugate import CGState, direction
from gradtool.optim.quasinewton import _bfgs_update
from gradtool.optim.searching import SEARCH_METHODS

ROOT = Path(__file__).resolve().parent.parent

# a well-conditioned smooth problem written twice: in gradtool's language and for torch
A = np.array([[3.0, 0.5, 0.2, 0.0], [0.5, 2.0, 0.3, 0.1], [0.2, 0.3, 1.5, 0.2], [0.0, 0.1, 0.2, 2.5]])
B = np.array([1.0, -2.0, 0.5, 1.5])
NAMES = ["a", "b", "c", "d"]


def expression() -> str:
    quad = " + ".join(f"{float(A[i, j]) / 2!r}*{NAMES[i]}*{NAMES[j]}" for i in range(4) for j in range(4))
    lin = " + ".join(f"{-float(B[i])!r}*{NAMES[i]}" for i in range(4))
    return f"{quad} + {lin} + 0.1*(a^4 + b^4 + c^4 + d^4) + log(1 + exp(a - b))"


def torch_objective(torch, x):
    a, b = torch.tensor(A), torch.tensor(B)
    return 0.5 * x @ a @ x - b @ x + 0.1 * torch.sum(x**4) + torch.log(1 + torch.exp(x[0] - x[1]))


X0 = [1.5, -1.0, 2.0, -0.5]


@pytest.mark.parametrize("history", [2, 5])
@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_equals_torch_lbfgs_inner_iterations(line_search, history):
    torch = pytest.importorskip("torch")
    steps, lr = 9, (0.8 if line_search is None else 1.0)
    param = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    reference = torch.optim.LBFGS(
        [param], lr=lr, max_iter=steps, max_eval=10**6, tolerance_grad=0, tolerance_change=0,
        history_size=history, line_search_fn=line_search,
    )  # fmt: skip

    def closure():
        reference.zero_grad()
        loss = torch_objective(torch, param)
        loss.backward()
        return loss

    reference.step(closure)
    search = "none" if line_search is None else "strong-wolfe"
    ours = gradtool.minimize(
        expression(), X0, optimizer="lbfgs", lr=lr, history_size=history, line_search=search, steps=steps, tol=0
    )
    want = param.detach().numpy()
    assert ours.steps == steps and ours.grad_norm > 1e-8  # still moving: the comparison is not at a fixed point
    np.testing.assert_allclose(ours.x, want, rtol=1e-10, atol=0)


def test_bfgs_needs_no_more_iterations_or_evaluations_than_scipy_on_rosenbrock():
    scipy = pytest.importorskip("scipy.optimize")
    ref = scipy.minimize(
        scipy.rosen, [-1.2, 1.0], jac=scipy.rosen_der, method="BFGS", options={"gtol": 1e-8}
    )  # scipy's gtol is on max |g_i|; ours, |g| (2-norm), is stricter
    ours = gradtool.minimize("rosenbrock", [-1.2, 1], optimizer="bfgs", tol=1e-8)
    assert ref.success and ours.status == "converged" and ours.grad_norm <= 1e-8
    assert ours.steps <= ref.nit and ours.evaluations["f"] <= ref.nfev and ours.evaluations["grad"] <= ref.njev
    assert ours.evaluations["f"] == ours.evaluations["grad"]  # each trial point is one value-and-gradient call
    np.testing.assert_allclose(ours.x, [1, 1], atol=1e-8)


def test_newton_converges_quadratically():
    result = gradtool.minimize("rosenbrock", [-1.2, 1], optimizer="newton", every=1)
    assert result.status == "converged" and result.steps <= 25
    norms = [row.grad_norm for row in result.rows]
    tail = [g for g in norms if g < 1.0][-4:]  # the last steps, inside the region of quadratic convergence
    assert len(tail) == 4
    for before, after in zip(tail, tail[1:], strict=False):
        assert after <= 10.0 * before**2, (before, after)
    assert result.evaluations["hessian"] == result.steps and [row.lr for row in result.rows[-3:]] == [1, 1, 1]


def test_newton_shifts_an_indefinite_hessian_and_still_descends():
    # f = x^4 - 2 x^2 + y^2 has H = diag(12 x^2 - 4, 2): indefinite at x = 0.1, where plain Newton climbs
    result = gradtool.minimize("x^4 - 2*x^2 + y^2", [0.1, 1.0], optimizer="newton", every=1)
    assert result.status == "converged" and result.stationary == "minimum"
    assert abs(abs(result.x[0]) - 1) < 1e-9 and abs(result.x[1]) < 1e-9
    fs = [row.f for row in result.rows]
    assert all(b < a for a, b in zip(fs, fs[1:], strict=False))  # every step went down


def test_newton_shift_follows_nocedal_wright_3_3():
    from gradtool.optim.newton import newton_direction, shift_for

    assert shift_for(np.diag([1.0, 2.0]), 1e-3) == 0.0  # positive definite: no shift
    # a negative diagonal: tau_0 = shift - min H_ii = 1.001 makes diag(0.001, 3.001) positive definite
    assert shift_for(np.diag([-1.0, 2.0]), 1e-3) == pytest.approx(1.001, rel=1e-15)
    # a positive diagonal but eigenvalues -1 and 3: tau = 1e-3 doubled until above 1, 1e-3 * 2^10
    assert shift_for(np.array([[1.0, 2.0], [2.0, 1.0]]), 1e-3) == pytest.approx(1.024, rel=1e-15)
    d, tau = newton_direction(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([1.0, 0.0]), 1e-3)
    np.testing.assert_allclose(d, -np.linalg.solve([[2.024, 2.0], [2.0, 2.024]], [1.0, 0.0]), rtol=1e-14)
    assert float(d @ [1.0, 0.0]) < 0  # a descent direction


def test_newton_cg_never_forms_a_hessian_at_1000_variables(monkeypatch):
    from gradtool.grad.analytic import AnalyticEngine
    from gradtool.grad.autodiff import AutodiffEngine

    def refuse(self, x):
        raise AssertionError("a dense Hessian was formed")

    monkeypatch.setattr(AnalyticEngine, "hessian", refuse)
    monkeypatch.setattr(AutodiffEngine, "hessian", refuse)
    result = gradtool.minimize("rosenbrock", dim=1000, optimizer="newton-cg", steps=60)
    counts = result.evaluations
    assert counts["hessian"] == 0 and counts["hvp"] >= result.steps == 60
    assert result.f < 1e-2 * result.rows[0].f  # from f(x0) = 253,616: well down


def test_newton_cg_converges_on_rosenbrock_100():
    result = gradtool.minimize("rosenbrock", dim=100, optimizer="newton-cg", steps=2000)
    assert result.status == "converged" and result.grad_norm <= 1e-8
    np.testing.assert_allclose(result.x, np.ones(100), atol=1e-7)


@pytest.mark.parametrize(
    ("optimizer", "hyper"),
    [
        ("bfgs", {}),
        ("lbfgs", {"line_search": "strong-wolfe"}),
        ("cg", {}),
        ("cg", {"beta": "fr"}),
        ("newton", {}),
        ("newton-cg", {}),
        ("gd", {"line_search": "armijo"}),
        ("gd", {"line_search": "strong-wolfe"}),
    ],
)
@pytest.mark.parametrize(("function", "x0", "minimum"), [("beale", [1, 1], [3, 0.5]), ("booth", None, [1, 3])])
def test_every_method_reaches_known_minima(optimizer, hyper, function, x0, minimum):
    result = gradtool.minimize(function, x0, optimizer=optimizer, steps=50_000, **hyper)
    assert result.status == "converged", result.message
    np.testing.assert_allclose(result.x, minimum, atol=1e-7)


SEARCHING = [(spec.name, {}) for spec in SEARCH_METHODS] + [("gd", {"line_search": "armijo"})]


@pytest.mark.parametrize(("optimizer", "hyper"), SEARCHING, ids=[name for name, _ in SEARCHING])
def test_an_exact_stationary_point_is_not_a_failed_search(optimizer, hyper):
    # from (0, 0) the gradient is exactly 0: there is nothing to search along, and the run stays put, as gd does
    result = gradtool.minimize("x^2 + y^2", [0, 0], optimizer=optimizer, tol=0, steps=3, **hyper)
    assert (result.status, result.steps, result.x, result.evaluations["f"]) == ("max_steps", 3, [0.0, 0.0], 1)
    # a fit that reaches its exact minimum (the line y = x + 0.5 through every row) completes its epochs
    data = {"x": [1.0, 2.0, 3.0, 4.0], "y": [1.5, 2.5, 3.5, 4.5]}
    fit = gradtool.fit("w*x + b", data, "y", optimizer=optimizer, epochs=40, init={"w": 1.0, "b": 0.5}, **hyper)
    assert fit.status == "completed" and fit.params == {"w": 1.0, "b": 0.5}


def test_cg_minimizes_a_quadratic_in_about_n_steps():
    terms = " + ".join(f"{k}*x{k}^2" for k in range(1, 7))
    result = gradtool.minimize(terms, [1] * 6, optimizer="cg")
    assert result.status == "converged" and result.steps <= 12


def test_cg_directions_follow_their_formulas():
    g_prev, d_prev, g = np.array([1.0, 2.0]), np.array([-1.0, -2.0]), np.array([0.5, -1.0])
    state = CGState(1, d_prev, g_prev, 1.0, 1)
    fr, restarted = direction(g, state, "fr", every=10)
    np.testing.assert_allclose(fr, -g + (1.25 / 5.0) * d_prev)  # beta = |g|^2 / |g_prev|^2
    assert not restarted
    pr, _ = direction(g, state, "pr+", every=10)
    np.testing.assert_allclose(pr, -g + max(0.0, (0.5 * -0.5 + -1.0 * -3.0) / 5.0) * d_prev)
    restart, restarted = direction(g, state, "pr+", every=1)  # a restart is due after every step
    assert restarted and np.array_equal(restart, -g)


def test_the_bfgs_update_meets_the_secant_equation_and_stays_positive_definite():
    rng = np.random.default_rng(0)
    h = None
    for _ in range(5):
        s, y = rng.normal(size=4), rng.normal(size=4)
        if y @ s <= 0:
            y = -y
        h = _bfgs_update(h, s, y)
        np.testing.assert_allclose(h @ y, s, rtol=1e-10, atol=1e-12)
        assert np.all(np.linalg.eigvalsh(h) > 0)
    assert _bfgs_update(h, np.ones(4), -np.ones(4)) is h  # y.s <= 0: the pair is skipped


def test_the_iteration_table_shows_the_step_length(invoke):
    out = invoke("minimize", "x^2 + 10*y^2", "--x0", "1,1", "-o", "gd", "--line-search", "armijo", "--every", "1")
    header = next(line for line in out.stdout.splitlines() if "step" in line and "|g|" in line)
    assert out.exit_code == 0 and " t " in header.replace("┃", " ") and " lr " not in header.replace("┃", " ")
    fit = invoke(
        "fit", "w*x + b", "--data", str(ROOT / "data/linear.csv"), "--target", "y", "-o", "bfgs", "--epochs", "3"
    )
    header = next(line for line in fit.stdout.splitlines() if "epoch" in line and "|g|" in line)
    assert fit.exit_code == 0 and " t " in header.replace("┃", " ") and " lr " not in header.replace("┃", " ")


def test_a_search_that_finds_no_step_is_a_status_with_exit_code_1(invoke_json):
    code, doc = invoke_json("minimize", "x^2 + y^2", "--x0", "1,1", "-o", "newton-cg(maximize=true)", "--json")
    assert code == 1 and doc["status"] == "line_search_failed" and not doc["converged"]
    assert "unbounded below" in doc["message"] and doc["x"] == {"x": 1.0, "y": 1.0}
    assert doc["evaluations"]["f"] == 27 and doc["evaluations"]["hvp"] == 1


def test_line_search_options_reach_every_surface(invoke_json, invoke, tmp_path):
    code, doc = invoke_json("minimize", "x^2 + 10*y^2", "--x0", "1,1", "--line-search", "armijo(shrink=0.3)", "--json")
    search = doc["optimizer"]["line_search"]
    assert code == 0 and search == {"name": "armijo", "c1": 1e-4, "shrink": 0.3, "max_trials": 40}
    assert doc["optimizer"]["lr"] == 1.0  # gd's first trial step: 1 unless --lr says otherwise
    bad = invoke("minimize", "x^2", "--line-search", "armijo(c1=2)")
    assert bad.exit_code == 2 and "c1: 2 is invalid; must be a number in (0, 1)" in bad.stderr
    config = tmp_path / "c.yaml"
    config.write_text("function: x^2\noptimizer: {name: bfgs, line_search: {name: strong-wolfe, c2: 0.95, c1: 0.99}}\n")
    out = invoke("run", str(config))
    assert out.exit_code == 2 and "optimizer.line_search.c1: c1=0.99 must be below c2=0.95" in out.stderr
    code, listing = invoke_json("optimizers", "--line-searches", "--json")
    assert [e["name"] for e in listing["line_searches"]] == ["none", "armijo", "strong-wolfe"]
    none = invoke("optimizers", "none")
    assert none.exit_code == 0 and "parameters: none" in none.stdout and "┏" not in none.stdout  # no empty table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "newton", "--gradient", "numeric"], "needs the Hessian, which the numeric engine cannot give"),
        (["-o", "rprop", "--line-search", "armijo"], "rprop cannot search"),
        (["-o", "momentum", "--line-search", "armijo", "--schedule", "onecycle(max_lr=0.1)"], "cycle_momentum"),
    ],
)
def test_combinations_a_method_cannot_serve_are_clear_errors(invoke, args, message):
    out = invoke("minimize", "x^2 + y^2", "--x0", "1,1", *args)
    assert out.exit_code == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_multistart_runs_each_start_and_counts_every_evaluation():
    result = gradtool.minimize("himmelblau", starts=30, box="-5,5", seed=0, optimizer="bfgs")
    assert result.status == "converged" and len(result.minima) == 4
    single = gradtool.minimize("himmelblau", result.x0, optimizer="bfgs")
    assert single.x == result.x and single.steps == result.steps
    assert result.evaluations["f"] > 30 * single.evaluations["f"] / 4


def test_maximize_minimizes_minus_f():
    result = gradtool.minimize("-(x - 1)^2 - 2*(y + 2)^2", [0, 0], optimizer="bfgs", maximize=True)
    assert result.status == "converged" and result.stationary == "maximum"
    np.testing.assert_allclose(result.x, [1, -2], atol=1e-9)


def test_fit_with_newton_solves_least_squares_and_refuses_minibatches():
    data = {"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [1.4, 2.6, 3.5, 4.4, 5.6]}
    result = gradtool.fit("w*x + b", data, "y", optimizer="newton", epochs=3)
    design = np.column_stack([data["x"], np.ones(5)])
    w, b = np.linalg.lstsq(design, np.array(data["y"]), rcond=None)[0]
    assert result.status == "completed"
    np.testing.assert_allclose([result.params["w"], result.params["b"]], [w, b], rtol=1e-12)
    # the rows show the step length the search accepted: none before the first step, then Newton's full
    # step t = 1 (exact on a quadratic loss), not the lr
    assert math.isnan(result.rows[0].lr) and result.rows[1].lr == 1.0
    with pytest.raises(ConfigError, match="cannot be used by minibatch"):
        gradtool.fit("w*x + b", data, "y", optimizer="lbfgs", batch_size=2)
    with pytest.raises(ConfigError, match="cannot use mini-batches"):
        gradtool.fit("w*x + b", data, "y", optimizer="gd", line_search="armijo", batch_size=2)
