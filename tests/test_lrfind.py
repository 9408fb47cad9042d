"""The learning-rate range test: one batch with an lr column equals separate runs, for every optimizer."""

from __future__ import annotations

import numpy as np
import pytest

from gradtool.descent import minimize
from gradtool.errors import ConfigError
from gradtool.lrfind import lr_find, recommend
from gradtool.optim import OPTIMIZERS


@pytest.mark.parametrize("name", [name for name, spec in OPTIMIZERS.items() if not spec.searching])
def test_batch_with_an_lr_column_equals_individual_runs(name):
    found = lr_find("rosenbrock", [-1.5, 2], optimizer=name, lr_min=1e-4, lr_max=1.0, num=5, steps=60)
    for lr, f, status, steps in zip(found.lrs, found.f, found.status, found.run_steps, strict=True):
        single = minimize("rosenbrock", [-1.5, 2], optimizer=name, lr=lr, steps=60, classify=False)
        assert (status, steps) == (single.status, single.steps)
        assert f == single.f  # the same arithmetic, bit for bit


@pytest.mark.parametrize(
    ("name", "hyper", "reason"),
    [
        ("bfgs", {}, "there is no lr to find"),
        ("newton", {}, "there is no lr to find"),
        ("gd", {"line_search": "armijo"}, "cannot use a line search"),
    ],
)
def test_methods_that_choose_their_step_are_refused_with_the_reason(name, hyper, reason):
    with pytest.raises(ConfigError, match=reason):
        lr_find("rosenbrock", [-1.5, 2], optimizer=name, **hyper)


def test_quadratic_range_recommends_below_the_divergence_threshold():
    # gd on x^2 multiplies x by 1 - 2 lr: lr 1 oscillates (f stays f0: not stable), larger lrs diverge
    found = lr_find("x^2", [1.0], lr_min=1e-3, lr_max=10.0, num=13, steps=200)
    by_lr = {round(lr, 6): (s, ok) for lr, s, ok in zip(found.lrs, found.status, found.stable, strict=True)}
    assert by_lr[1.0] == ("max_steps", False) and by_lr[2.154435] == ("diverged", False)
    assert found.largest_stable == found.best == pytest.approx(0.464158883)  # the grid point nearest 0.5
    assert found.to_dict()["runs"][0]["stable"] is True


def test_recommend_ignores_stable_lrs_above_a_divergence():
    lrs = np.array([0.1, 0.2, 0.3, 0.4])
    f = np.array([0.5, 0.1, 9.0, 0.05])
    stable, largest, best = recommend(lrs, f, ["max_steps", "converged", "diverged", "converged"], f0=1.0)
    assert stable == [True, True, False, True] and largest == 0.2 and best == 0.4


def test_nothing_stable():
    stable, largest, best = recommend(np.array([1.0, 2.0]), np.array([3.0, 4.0]), ["diverged"] * 2, f0=1.0)
    assert stable == [False, False] and largest is None and best is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lr_min": 0.0}, "^lr_min: must be a number > 0"),
        ({"lr_min": 1.0, "lr_max": 0.1}, "^lr_min: 1 must be smaller than lr_max"),
        ({"num": 1}, "^num: must be a whole number from 2"),
        ({"lr": 0.1}, "^lr: lr-find chooses the learning rates itself; give lr_min and lr_max"),
        ({"optimizer": "adm"}, "unknown optimizer"),
        ({"beta1": 0.9}, "beta1: unknown parameter"),
    ],
)
def test_bad_input(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        lr_find("x^2", **kwargs)
