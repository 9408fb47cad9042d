"""Schedules and optimizer options inside the runners: plateau fed by f (minimize, multi-start) and by the
loss (fit), maximize in minimize, refusals in lr-find and fit."""

from __future__ import annotations

import numpy as np
import pytest

import gradtool
from gradtool.errors import ConfigError
from gradtool.lrfind import lr_find
from gradtool.params import ParamError

NOISY = "x^2 + 10*y^2"


def test_minimize_feeds_plateau_the_objective_after_every_step(tmp_path):
    result = gradtool.minimize(NOISY, "1,1", optimizer="gd", lr=0.1, steps=200, tol=0, every=1,
                               schedule="plateau", schedule_options={"patience": 5, "factor": 0.5})  # fmt: skip
    lrs = [row.lr for row in result.rows]
    assert lrs[0] == 0.1 and min(lrs) < 0.1  # lr 0.1 = 2/L makes y zig-zag: no progress, the lr is cut
    assert result.status == "max_steps" and result.f < 1e-6
    assert all(b <= a for a, b in zip(lrs, lrs[1:], strict=False))  # only ever cut


def test_multistart_plateau_keeps_one_state_per_start():
    batch = gradtool.minimize(NOISY, starts=3, box="-1,1", seed=1, optimizer="gd", lr=0.1, steps=100, tol=0,
                              schedule="plateau", schedule_options={"patience": 5})  # fmt: skip
    from gradtool.descent import start_points

    singles = [
        gradtool.minimize(NOISY, list(x0), optimizer="gd", lr=0.1, steps=100, tol=0, schedule="plateau",
                          schedule_options={"patience": 5})
        for x0 in start_points(2, 3, (-1, 1), 1)
    ]  # fmt: skip
    assert batch.f == min(s.f for s in singles)


def test_maximize_in_minimize_ascends_and_reports_the_highest_f():
    result = gradtool.minimize("-(x - 1)^2 - (y + 2)^2", "0,0", optimizer="adam", lr=0.1, maximize=True, steps=2000)
    assert result.x == pytest.approx([1, -2], abs=1e-6) and result.stationary == "maximum"
    assert result.best["f"] == max(result.best["f"], result.f) and result.best["f"] >= -1e-9
    starts = gradtool.minimize("-(x^2 - 1)^2", starts=20, box="-2,2", optimizer="gd", lr=0.05, maximize=True)
    assert {round(m["x"]["x"], 3) for m in starts.minima} == {-1.0, 1.0} and starts.f == pytest.approx(0, abs=1e-9)
    assert all(m["stationary"] == "maximum" for m in starts.minima)


def test_fit_plateau_observes_the_loss_once_per_epoch_with_minibatches():
    result = gradtool.fit("w*x + b", "data/linear.csv", "y", lr=0.02, epochs=60, batch_size=2, every=1, seed=0,
                          schedule="plateau", schedule_options={"patience": 2, "threshold": 0.3})  # fmt: skip
    lrs = [row.lr for row in result.rows[1:]]
    assert lrs[0] == 0.02 and min(lrs) < 0.02 and result.status == "completed"


def test_fit_onecycle_spans_every_optimizer_step_of_the_fit():
    result = gradtool.fit("w*x + b", "data/linear.csv", "y", optimizer="momentum", lr=0.05, epochs=10, batch_size=2,
                          schedule="onecycle")  # fmt: skip
    assert result.schedule["total_steps"] == result.steps == 30  # 5 rows in batches of 2: 3 steps an epoch


def test_fit_and_lr_find_refuse_an_optimizer_that_ascends():
    with pytest.raises(ParamError, match="maximize: fit minimizes its loss"):
        gradtool.fit("w*x + b", "data/linear.csv", "y", optimizer="adam", maximize=True)
    with pytest.raises(ParamError, match="maximize: lr-find recommends"):
        lr_find("x^2", "1", optimizer="adam", maximize=True)


def test_a_method_limited_to_full_gradients_is_refused_by_lr_find_and_minibatches(monkeypatch):
    """The registry's extension point for methods that need more than one gradient per step (line searches)."""
    from dataclasses import replace

    from gradtool.optim import OPTIMIZERS

    limited = replace(OPTIMIZERS["gd"], limits={"lr-find": "it picks its own steps", "minibatch": "it needs f"})
    monkeypatch.setitem(OPTIMIZERS, "gd", limited)
    with pytest.raises(ConfigError, match="optimizer 'gd' cannot be used by lr-find: it picks its own steps"):
        lr_find("x^2", "1")
    with pytest.raises(ConfigError, match="cannot be used by minibatch: it needs f"):
        gradtool.prepare_fit("w*x + b", "data/linear.csv", "y", batch_size=2)
    assert gradtool.prepare_fit("w*x + b", "data/linear.csv", "y").opt.name == "gd"  # full batch: fine
    assert np.isfinite(gradtool.minimize("x^2", "1", steps=3).f)
