"""gradtool.minimize: the source articles' examples, stopping rules, divergence, multi-start, the result."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradtool
from gradtool.errors import ConfigError, PointError
from gradtool.optim import OPTIMIZERS


def test_seed_quadratic_stops_when_a_step_moves_theta_less_than_1e6():
    # the article's loop: theta -= 0.1 * (2 theta - 4) until |theta_new - theta| < 1e-6
    theta, steps = 0.0, 0
    while True:
        new = theta - 0.1 * (2 * theta - 4)
        steps += 1
        if abs(new - theta) <= 1e-6:
            break
        theta = new
    res = gradtool.minimize("theta^2 - 4*theta + 4", "theta=0", lr=0.1, xtol=1e-6)
    assert res.status == "converged" and res.steps == steps
    assert res.x[0] == pytest.approx(new, abs=0, rel=1e-15)
    assert abs(res.x[0] - 2) < 1e-5


def test_three_variable_quadratic_after_500_steps_matches_closed_form():
    # gd on a separable quadratic: x_t - x* = (1 - lr * curvature)^t (x_0 - x*)
    res = gradtool.minimize("2*(x-1)^2 + (y-0.5)^2 + (z+4)^2", "10,10,10", lr=0.01, steps=500)
    expected = [1 + 9 * 0.96**500, 0.5 + 9.5 * 0.98**500, -4 + 14 * 0.98**500]
    assert res.status == "max_steps" and res.steps == 500
    np.testing.assert_allclose(res.x, expected, rtol=1e-12)


def test_gd_iterates_equal_hand_computation_for_three_steps():
    # f = x^2 + 3 y^2, g = (2x, 6y); x <- x - lr g
    res = gradtool.minimize("x^2 + 3*y^2", "1,1", lr=0.1, steps=3, tol=0, record=True)
    x, y = 1.0, 1.0
    for step in range(1, 4):
        x, y = x - 0.1 * 2 * x, y - 0.1 * 6 * y
        assert res.path[step] == pytest.approx([x, y], rel=1e-15)
    assert res.f == pytest.approx(x * x + 3 * y * y, rel=1e-15)


def test_nag_reaches_rosenbrock_minimum():
    res = gradtool.minimize("rosenbrock", "-1.5,2", optimizer="nag", lr=1e-3, momentum=0.9, steps=20000)
    assert res.status == "converged"
    np.testing.assert_allclose(res.x, [1, 1], atol=1e-6)
    assert res.stationary == "minimum"


def test_too_large_lr_diverges_and_reports_last_finite_point():
    res = gradtool.minimize("x^2", "1", lr=1.5, steps=5000)
    assert res.status == "diverged" and res.exit_code == 1
    assert math.isfinite(res.x[0]) and math.isfinite(res.f)
    # x_t = (-2)^t: |f| = 4^t exceeds 1e200 at the first t with 4^t > 1e200
    first = next(t for t in range(1000) if 4.0**t > 1e200)
    assert res.steps == first
    assert res.x[0] == pytest.approx((-2.0) ** (first - 1))
    assert res.best == {"x": [1.0], "f": 1.0, "step": 0}


def test_nan_is_divergence_not_a_crash():
    res = gradtool.minimize("sqrt(x)", "1", lr=10, steps=10)
    assert res.status == "diverged"


def test_tol_zero_never_stops_early_and_ftol_stops():
    assert gradtool.minimize("x^2", "1", lr=0.5, steps=7, tol=0).steps == 7
    res = gradtool.minimize("x^2", "1", lr=0.1, steps=10_000, tol=0, ftol=1e-12)
    assert res.status == "converged" and "ftol" in res.message


def test_gradient_engines_give_the_same_run():
    runs = [
        gradtool.minimize("rosenbrock", "-1.5,2", optimizer="adam", lr=0.01, steps=300, gradient=g)
        for g in ("analytic", "autodiff")
    ]
    np.testing.assert_allclose(runs[0].x, runs[1].x, rtol=1e-10)
    numeric = gradtool.minimize("rosenbrock", "-1.5,2", optimizer="adam", lr=0.01, steps=300, gradient="numeric")
    np.testing.assert_allclose(numeric.x, runs[0].x, rtol=1e-5)
    assert numeric.evaluations["f"] > numeric.evaluations["grad"]


def test_himmelblau_multistart_finds_all_four_minima():
    res = gradtool.minimize("himmelblau", starts=200, box="-5,5", seed=0, optimizer="adam", lr=0.05)
    known = np.array([m.x for m in gradtool.expr.library.TEST_FUNCTIONS["himmelblau"].minima()])
    found = np.array([list(m["x"].values()) for m in res.minima])
    assert len(found) == 4 and sum(m["count"] for m in res.minima) == 200
    for point in known:
        assert np.min(np.linalg.norm(found - point, axis=1)) < 1e-6
    assert all(m["stationary"] == "minimum" for m in res.minima)


def test_multistart_batch_equals_individual_runs():
    batch = gradtool.minimize("booth", starts=5, box="-3,3", seed=1, optimizer="momentum", lr=0.01, steps=50)
    starts = np.random.default_rng(1).uniform(-3, 3, size=(5, 2))
    singles = [gradtool.minimize("booth", list(s), optimizer="momentum", lr=0.01, steps=50) for s in starts]
    best = min(singles, key=lambda r: r.f)
    np.testing.assert_allclose(batch.x, best.x, rtol=1e-13)


def test_schedule_drives_the_lr_of_each_step():
    res = gradtool.minimize(
        "x^2",
        "1",
        lr=0.1,
        steps=3,
        tol=0,
        schedule="step",
        schedule_options={"step_size": 1, "gamma": 0.5},
        record=True,
    )
    x = 1.0
    for t in range(3):
        x -= 0.1 * 0.5**t * 2 * x
    assert res.x[0] == pytest.approx(x, rel=1e-15)


def test_result_json_has_the_documented_keys():
    d = gradtool.minimize(
        "x^2 + 10*y^2", "1,1", optimizer="rmsprop", lr=0.01, schedule="exponential", schedule_options={"gamma": 0.999}
    ).to_dict()
    assert set(d) == {
        "expression",
        "variables",
        "optimizer",
        "schedule",
        "gradient",
        "x0",
        "x",
        "f",
        "grad_norm",
        "steps",
        "converged",
        "status",
        "message",
        "time_s",
        "evaluations",
        "best",
        "stationary",
        "note",
    }
    assert d["optimizer"]["name"] == "rmsprop" and d["schedule"]["gamma"] == 0.999
    assert set(d["best"]) == {"x", "f", "step"} and set(d["evaluations"]) == {"f", "grad", "hessian", "hvp"}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_runs_and_reports_every_field(name):
    res = gradtool.minimize("x^2 + 2*y^2", "1,-1", optimizer=name, steps=20)
    d = res.to_dict()
    assert d["status"] in {"converged", "max_steps"} and d["steps"] <= 20
    assert d["optimizer"]["name"] == OPTIMIZERS[name].name
    assert d["f"] <= 3.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"optimizer": "magic"}, ConfigError),
        ({"optimizer": "adam", "momentum": 0.9}, ConfigError),
        ({"lr": -1.0}, ConfigError),
        ({"steps": -1}, ConfigError),
        ({"tol": -1.0}, ConfigError),
        ({"gradient": "magic"}, ConfigError),
        ({"schedule": "cosine"}, ConfigError),
        ({"schedule_options": {"gamma": 0.5}}, ConfigError),
    ],
)
def test_bad_options_raise_one_clear_error(kwargs, error):
    with pytest.raises(error):
        gradtool.minimize("x^2", "1", **kwargs)


def test_bad_start_point_names_the_expected_variables():
    with pytest.raises(PointError, match="expected x, y"):
        gradtool.minimize("x^2 + y^2", "x=1,z=2")


def test_a_long_recorded_run_keeps_a_bounded_path_with_exact_ends(monkeypatch):
    from gradtool import run

    monkeypatch.setattr(run, "MAX_RECORDED", 100)
    res = gradtool.minimize("x^2", "1", lr=1e-6, steps=100_003, tol=0, record=True)
    assert len(res.path) <= 102 and len(res.path) == len(res.values) == len(res.path_steps)
    assert res.path_steps[0] == 0 and res.path_steps[-1] == 100_003 and res.path[-1] == res.x
    assert all(b > a for a, b in zip(res.path_steps, res.path_steps[1:], strict=False))
    stride = res.path_steps[1]
    assert all(s % stride == 0 for s in res.path_steps[:-1])  # every k-th step, k a power of 2
    x = 1.0
    for step in range(1, res.path_steps[-2] + 1):  # the iterates are those of the run
        x -= 1e-6 * 2 * x
        if step == res.path_steps[-2]:
            assert res.path[-2] == [x] and res.values[-2] == x * x


def _gd_batch(fg, schedule=lambda t: 0.1, steps=100):
    """iterate_batch with gd on 3 starts of a 2-D quadratic (start [0, 0] converges at once)."""
    from gradtool.run import Stopping, iterate_batch

    x0 = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    gd = lambda g, state, x, lr: (x - lr * g, state)  # noqa: E731
    return x0, iterate_batch(fg, gd, None, schedule, x0, Stopping(steps, 1e-12))


def _hand_gd(x0: np.ndarray, steps: int) -> np.ndarray:
    x = x0.copy()
    for _ in range(steps):
        x = x - 0.1 * (2 * x)
    return x


@pytest.mark.parametrize("stop", ["Ctrl-C", "SIGTERM"])
def test_an_interrupted_batch_stops_its_live_starts_at_their_last_step(stop):
    from gradtool.interrupt import Terminated

    calls = 0

    def fg(x):
        nonlocal calls
        calls += 1
        if calls == 8:  # the 7th step's evaluation: 6 steps are complete
            raise KeyboardInterrupt if stop == "Ctrl-C" else Terminated()
        return np.einsum("ij,ij->i", x, x), 2 * x

    x0, out = _gd_batch(fg)
    assert out.stopped == stop and out.status == ["interrupted", "converged", "interrupted"]
    assert out.steps.tolist() == [6, 0, 6]
    np.testing.assert_array_equal(out.x[[0, 2]], _hand_gd(x0[[0, 2]], 6))  # bit for bit
    np.testing.assert_array_equal(out.f, np.einsum("ij,ij->i", out.x, out.x))


def test_a_stop_during_a_batch_steps_bookkeeping_waits_until_it_is_whole():
    """SIGTERM arriving after x is updated but before |g| is: the step completes, then the batch stops."""
    import os
    import signal
    from types import SimpleNamespace

    from gradtool.interrupt import terminate_as_interrupt

    class Watching:  # a schedule that follows f (as plateau does): observed inside the step's bookkeeping
        needs_metric = True
        seen = 0

        def init(self, batch):
            return SimpleNamespace(lr=np.full(batch, 0.1))

        def observe(self, watched, f):
            self.seen += 1
            if self.seen == 4:
                os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before observe returns
            return watched

    with terminate_as_interrupt():
        x0, out = _gd_batch(lambda x: (np.einsum("ij,ij->i", x, x), 2 * x), Watching())
    assert out.stopped == "SIGTERM" and out.steps.tolist() == [4, 0, 4]
    np.testing.assert_array_equal(out.x[[0, 2]], _hand_gd(x0[[0, 2]], 4))
    np.testing.assert_array_equal(out.grad_norm, np.linalg.norm(2 * out.x, axis=1))  # |g| of the same step
