"""Learning-rate schedules: hand-computed values, torch.optim.lr_scheduler parity, coercion and validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gradtool.errors import ConfigError
from gradtool.optim import SCHEDULES, WARMUP_DEFAULTS, Schedule, as_schedule, make_schedule


def lrs(schedule, steps: int) -> list[float]:
    return [schedule(t) for t in range(steps)]


# ---- closed forms by hand ------------------------------------------------------------------------------


def test_constant_is_the_default_and_never_changes():
    assert lrs(make_schedule("constant", 0.3), 4) == [0.3] * 4


def test_step_decays_by_gamma_every_step_size_steps():
    assert lrs(make_schedule("step", 1.0, step_size=2, gamma=0.5), 6) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert lrs(make_schedule("step", 1.0, step_size=1), 3) == pytest.approx([1.0, 0.1, 0.01], rel=1e-15)


def test_exponential_multiplies_by_gamma_each_step():
    assert lrs(make_schedule("exponential", 2.0, gamma=0.5), 4) == [2.0, 1.0, 0.5, 0.25]


def test_inverse_time_is_lr_over_one_plus_decay_t():
    assert lrs(make_schedule("inverse_time", 1.0, decay=0.5), 4) == [1.0, 1 / 1.5, 0.5, 1 / 2.5]


def test_cosine_follows_torch_closed_form_and_rises_after_t_max():
    got = lrs(make_schedule("cosine", 1.0, t_max=4, eta_min=0.2), 7)
    half = (1 + math.cos(math.pi / 4)) / 2
    want = [1.0, 0.2 + 0.8 * half, 0.6, 0.2 + 0.8 * (1 - half), 0.2, 0.2 + 0.8 * (1 - half), 0.6]
    assert got == pytest.approx(want, rel=1e-15, abs=1e-16)


def test_warmup_ramps_linearly_then_starts_the_schedule_at_its_step_zero():
    got = lrs(make_schedule("exponential", 0.9, gamma=0.5, warmup=3, start_factor=1 / 3), 6)
    assert got == pytest.approx([0.3, 0.5, 0.7, 0.9, 0.45, 0.225], rel=1e-15)


def test_warmup_default_start_factor_is_torch_linear_lr_one_third():
    assert WARMUP_DEFAULTS == {"warmup": 0, "start_factor": 1 / 3}
    assert make_schedule("constant", 3.0, warmup=2)(0) == pytest.approx(1.0, rel=1e-15)


# ---- parity with torch.optim.lr_scheduler (skipped when torch is absent) -------------------------------


def torch_lrs(torch, lr: float, steps: int, build) -> list[float]:
    """The lr each step uses when ``scheduler.step()`` follows ``optimizer.step()``, as torch documents."""
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=lr)
    scheduler = build(opt, torch.optim.lr_scheduler)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return out


TORCH_SCHEDULES = {
    "step": (("step", {"step_size": 7, "gamma": 0.5}), lambda o, s: s.StepLR(o, step_size=7, gamma=0.5)),
    "exponential": (("exponential", {"gamma": 0.97}), lambda o, s: s.ExponentialLR(o, gamma=0.97)),
    "cosine": (("cosine", {"t_max": 50, "eta_min": 0.01}), lambda o, s: s.CosineAnnealingLR(o, 50, 0.01)),
    "cosine-past-t_max": (("cosine", {"t_max": 40}), lambda o, s: s.CosineAnnealingLR(o, T_max=40)),
    "warmup-cosine": (
        ("cosine", {"t_max": 60, "warmup": 10, "start_factor": 0.1}),
        lambda o, s: s.SequentialLR(
            o, [s.LinearLR(o, start_factor=0.1, total_iters=10), s.CosineAnnealingLR(o, T_max=60)], [10]
        ),
    ),
    "warmup-step": (
        ("step", {"step_size": 5, "warmup": 4}),
        lambda o, s: s.SequentialLR(o, [s.LinearLR(o, total_iters=4), s.StepLR(o, step_size=5)], [4]),
    ),
    "warmup-constant": (
        ("constant", {"warmup": 5, "start_factor": 0.25}),
        lambda o, s: s.LinearLR(o, start_factor=0.25, total_iters=5),
    ),
}


@pytest.mark.parametrize("case", TORCH_SCHEDULES.values(), ids=TORCH_SCHEDULES.keys())
def test_schedule_matches_torch_lr_scheduler_sequence(case):
    torch = pytest.importorskip("torch")
    (name, kw), build = case
    ours = lrs(make_schedule(name, 0.1, **kw), 150)
    # torch updates most schedules recursively (lr *= factor), so its values carry rounding drift
    np.testing.assert_allclose(ours, torch_lrs(torch, 0.1, 150, build), rtol=1e-12, atol=1e-15)


# ---- registry, description, coercion --------------------------------------------------------------------

#: A valid, non-trivial parameter set of every schedule (the fit and CLI tests use it too).
EXAMPLE_PARAMS = {
    "constant": {"factor": 0.5, "total_iters": 3},
    "step": {"step_size": 3},
    "multistep": {"milestones": [2, 5]},
    "exponential": {"gamma": 0.9},
    "inverse_time": {"decay": 0.1},
    "polynomial": {"total_iters": 8, "power": 2.0},
    "linear": {"start_factor": 0.25, "total_iters": 4},
    "cosine": {"t_max": 10},
    "cosine_restarts": {"t_0": 3, "t_mult": 2},
    "onecycle": {"total_steps": 30, "cycle_momentum": False},
    "cyclic": {"max_lr": 1.0, "step_size_up": 3, "cycle_momentum": False},
    "plateau": {"patience": 1},
    "sequential": {"schedules": ["linear", {"name": "cosine", "t_max": 10}], "milestones": [5]},
}


def test_every_schedule_has_an_example():
    assert set(EXAMPLE_PARAMS) == set(SCHEDULES)


@pytest.mark.parametrize("name", [n for n in SCHEDULES if not SCHEDULES[n].needs_metric])
def test_every_schedule_round_trips_through_its_json_description(name):
    warmup = {"warmup": 2} if "warmup" in SCHEDULES[name].allowed else {}
    schedule = make_schedule(name, 0.5, **warmup, **EXAMPLE_PARAMS[name])
    described = json.loads(json.dumps(schedule.to_dict()))
    assert described["name"] == name and described["lr"] == 0.5 and described.get("warmup", 2) == 2
    rebuilt = as_schedule(described)
    assert rebuilt == schedule and lrs(rebuilt, 20) == lrs(schedule, 20)
    assert set(described) == {"name", "lr", *SCHEDULES[name].allowed}
    assert len(set(lrs(schedule, 30))) > 1


def test_as_schedule_accepts_a_number_a_schedule_or_a_mapping():
    assert as_schedule(0.25).to_dict()["name"] == "constant" and as_schedule(0.25)(100) == 0.25
    cosine = make_schedule("cosine", 0.1, t_max=5)
    assert as_schedule(cosine) is cosine
    assert as_schedule({"lr": 0.2})(3) == 0.2
    assert isinstance(as_schedule(np.float64(0.1)), Schedule)


@pytest.mark.parametrize("value", ["0.1", None, True, [0.1], {"name": "step"}])
def test_as_schedule_rejects_other_values(value):
    with pytest.raises(ConfigError):
        as_schedule(value)


@pytest.mark.parametrize(
    ("name", "lr", "kw", "needles"),
    [
        ("cyclicz", 0.1, {}, ["'cyclicz'", "constant", "cosine"]),
        ("step", 0.1, {"step_size": 2, "t_max": 3}, ["t_max: unknown parameter", "step_size", "gamma", "warmup"]),
        ("constant", 0.1, {"gamma": 0.5}, ["gamma: unknown parameter", "warmup, start_factor"]),
        ("cosine", 0.1, {}, ["t_max: missing"]),
        ("step", 0.1, {"step_size": 0}, ["step_size: 0 is invalid", "integer >= 1"]),
        ("step", 0.1, {"step_size": 2.5}, ["step_size: 2.5 is invalid"]),
        ("exponential", 0.1, {"gamma": 1.5}, ["gamma: 1.5 is invalid", "(0, 1]"]),
        ("exponential", 0.1, {"gamma": 0}, ["gamma: 0 is invalid"]),
        ("inverse_time", 0.1, {"decay": -1}, ["decay: -1 is invalid"]),
        ("constant", -0.1, {}, ["lr: -0.1 is invalid", ">= 0"]),
        ("constant", float("inf"), {}, ["lr: inf is invalid"]),
        ("cosine", 0.1, {"t_max": 10, "eta_min": 0.5}, ["eta_min=0.5", "lr=0.1"]),
        ("constant", 0.1, {"warmup": -1}, ["warmup: -1 is invalid"]),
        ("constant", 0.1, {"warmup": 3, "start_factor": 0.0}, ["start_factor: 0.0 is invalid", "(0, 1]"]),
        ("constant", 0.1, {"warmup": True}, ["warmup: True is invalid"]),
    ],
)
def test_bad_schedule_raises_config_error_naming_it(name, lr, kw, needles):
    with pytest.raises(ConfigError) as info:
        make_schedule(name, lr, **kw)
    for needle in needles:
        assert needle in str(info.value)


def test_integral_floats_from_configs_are_accepted_as_step_counts():
    schedule = make_schedule("step", 1.0, step_size=2.0, warmup=1.0)
    assert schedule.to_dict()["step_size"] == 2 and isinstance(schedule.to_dict()["warmup"], int)
