"""Line searches: their conditions hold at every accepted step of random smooth functions, a search with no
acceptable step fails as data (never raises), and strong Wolfe is torch's _strong_wolfe step for step."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradtool.optim.linesearch import armijo, cubic_interpolate, strong_wolfe


class Smooth:
    """f(x) = sum a_i (x_i - c_i)^2 + b sum x_i^4 + s * log(1 + exp(w.x)): smooth, bounded below, coercive."""

    def __init__(self, a, c, b, s, w):
        self.a, self.c, self.b, self.s, self.w = (np.asarray(v, float) for v in (a, c, b, s, w))
        self.calls = 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        z = float(self.w @ x)
        soft = math.log1p(math.exp(-abs(z))) + max(z, 0.0)  # log(1 + e^z) without overflow
        sigmoid = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        f = float(self.a @ (x - self.c) ** 2 + self.b * np.sum(x**4) + self.s * soft)
        g = 2 * self.a * (x - self.c) + 4 * self.b * x**3 + self.s * self.w * sigmoid
        return f, g


N = 3
vector = st.lists(st.floats(-2, 2), min_size=N, max_size=N)
smooth = st.builds(
    Smooth,
    st.lists(st.floats(0.1, 10), min_size=N, max_size=N),
    vector,
    st.floats(0, 1),
    st.floats(0, 2),
    vector,
)


def _resolvable(f: float, gtd: float) -> bool:
    """Whether the decrease a step can make (about |g.d| / curvature) is far above f's rounding: else no
    search can tell an acceptable step, and failing (with its precision note) is the right answer."""
    return abs(gtd) > 1e-8 * max(1.0, abs(f))


def _direction(g: np.ndarray, turn: list[float]) -> np.ndarray:
    """A descent direction: -g turned by a random vector (flipped if that makes it ascend)."""
    d = -g + 0.5 * np.linalg.norm(g) * np.asarray(turn)
    return d if g @ d < 0 else -g


def _searching(fn: Smooth, x: np.ndarray, d: np.ndarray):
    return lambda t: fn(x + t * d)


@settings(max_examples=150, deadline=None)
@given(smooth, vector, vector, st.floats(1e-4, 0.4), st.floats(0.1, 0.9), st.floats(1e-3, 10))
def test_armijo_accepts_only_sufficient_decrease(fn, x, turn, c1, shrink, t0):
    x = np.asarray(x)
    f, g = fn(x)
    d = _direction(g, turn)
    assume(_resolvable(f, float(g @ d)))
    fn.calls = 0
    found = armijo(_searching(fn, x, d), d, f, g, float(g @ d), t0, c1=c1, shrink=shrink, max_trials=60)
    assert found.failure is None, found.failure
    f_t, g_t = fn(x + found.t * d)
    assert found.f == f_t and np.array_equal(found.g, g_t)
    assert f_t <= f + c1 * found.t * float(g @ d)
    assert found.evaluations == fn.calls - 1 and 0 < found.t <= t0


@settings(max_examples=150, deadline=None)
@given(smooth, vector, vector, st.floats(1e-4, 0.3), st.floats(0.35, 0.95), st.floats(1e-3, 10))
def test_strong_wolfe_accepts_only_steps_meeting_both_conditions(fn, x, turn, c1, c2, t0):
    x = np.asarray(x)
    f, g = fn(x)
    d = _direction(g, turn)
    gtd = float(g @ d)
    assume(_resolvable(f, gtd))
    fn.calls = 0
    found = strong_wolfe(_searching(fn, x, d), d, f, g, gtd, t0, c1=c1, c2=c2, max_ls=60)
    assert found.failure is None, found.failure
    f_t, g_t = fn(x + found.t * d)
    assert found.f == f_t and np.array_equal(found.g, g_t)
    assert f_t <= f + c1 * found.t * gtd  # sufficient decrease
    assert abs(float(g_t @ d)) <= c2 * abs(gtd)  # curvature
    assert found.evaluations == fn.calls - 1


def _line(values):
    """``evaluate(t)`` of a 1-D function given as ``values(t) -> (f, f')`` (d = [1])."""
    return lambda t: (lambda f, df: (f, np.array([df])))(*values(t))


SEARCHES = {
    "armijo": lambda ev, f, gtd: armijo(ev, np.ones(1), f, np.array([gtd]), gtd, 1.0),
    "strong-wolfe": lambda ev, f, gtd: strong_wolfe(ev, np.ones(1), f, np.array([gtd]), gtd, 1.0),
}


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 5.0), st.floats(1e-3, 1e3), st.floats(-5.0, 5.0))
def test_a_search_with_no_acceptable_step_fails_as_data(search, slope, claimed, f0):
    # the gradient claims descent (g.d = -claimed) but f rises along d (visibly: slope * t stays above f's
    # rounding down to the smallest trial), so no step decreases f at all
    found = search(_line(lambda t: (f0 + slope * t + 1e-3 * t * t, slope)), f0, -claimed)
    assert found.failure and found.t >= 0


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
@pytest.mark.parametrize("gtd", [0.0, 2.0, math.nan])
def test_an_ascent_direction_is_refused_before_any_evaluation(search, gtd):
    def never(t):
        raise AssertionError("evaluated")

    found = search(never, 1.0, gtd)
    assert found.failure and "not a descent direction" in found.failure and found.evaluations == 0


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
def test_nan_at_every_trial_is_a_failure_not_an_exception(search):
    found = search(_line(lambda t: (math.nan, math.nan)), 1.0, -1.0)
    assert found.failure


def test_strong_wolfe_names_an_f_that_keeps_decreasing():
    found = strong_wolfe(_line(lambda t: (-t, -1.0)), np.ones(1), 0.0, np.array([-1.0]), -1.0, 1.0)
    assert found.failure and "unbounded below" in found.failure and found.evaluations == 26


def test_armijo_backtracks_by_the_shrink_factor():
    # f(t) = (t - 0.1)^2 from f(0) = 0.01, g.d = -0.2: t = 1, 0.5, 0.25 give 0.81, 0.16, 0.0225 > 0.01;
    # t = 0.125 gives 0.000625 <= 0.01 - 1e-4 * 0.125 * 0.2
    ev = _line(lambda t: ((t - 0.1) ** 2, 2 * (t - 0.1)))
    found = armijo(ev, np.ones(1), 0.01, np.array([-0.2]), -0.2, 1.0, c1=1e-4, shrink=0.5)
    assert (found.t, found.evaluations, found.failure) == (0.125, 4, None)


def test_cubic_interpolation_is_exact_for_a_cubic():
    # p(t) = t^3 - 3t: minimum at t = 1, between t = 0 (p = 0, p' = -3) and t = 2 (p = 2, p' = 9)
    assert cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0) == pytest.approx(1.0, rel=1e-15)
    assert cubic_interpolate(2.0, 2.0, 9.0, 0.0, 0.0, -3.0) == pytest.approx(1.0, rel=1e-15)
    assert cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, bounds=(1.5, 3.0)) == 1.5  # clipped
    assert cubic_interpolate(1.0, 1.0, 1.0, 1.0, 1.0, 1.0) == 1.0  # coincident points: the midpoint


@settings(max_examples=60, deadline=None)
@given(smooth, vector, vector, st.floats(1e-3, 10))
def test_strong_wolfe_matches_torch_step_for_step(fn, x, turn, t0):
    torch = pytest.importorskip("torch")
    from torch.optim.lbfgs import _strong_wolfe

    x = np.asarray(x)
    f, g = fn(x)
    d = _direction(g, turn)
    gtd = float(g @ d)
    if gtd >= 0:
        return

    def objective(xt, t, dt):
        fx, gx = fn(xt.numpy() + float(t) * dt.numpy())
        return fx, torch.tensor(gx)

    dt, gt = torch.tensor(d), torch.tensor(g)
    found = strong_wolfe(_searching(fn, x, d), d, f, g, gtd, t0, tolerance_change=0.0, max_ls=25)
    try:
        f_ref, g_ref, t_ref, evals = _strong_wolfe(
            objective, torch.tensor(x), t0, dt, f, gt, gt.dot(dt), tolerance_change=0.0, max_ls=25
        )
    except ZeroDivisionError:  # torch's interpolation divides floats by a zero bracket width; ours bisects
        return
    assert found.t == pytest.approx(float(t_ref), rel=1e-12, abs=1e-300)
    assert found.f == pytest.approx(float(f_ref), rel=1e-12, abs=1e-300) and found.evaluations == evals
    np.testing.assert_allclose(found.g, g_ref.numpy(), rtol=1e-10, atol=1e-12)
