"""MultiStep, polynomial, linear, constant factors, cosine restarts, 1cycle, cyclic, plateau and sequential:
values by hand, torch.optim.lr_scheduler's sequences for 500 steps (skipped without torch), the momentum they
drive, and the loops that feed plateau the objective."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_optim import QUAD_X0, quad_grad
from test_schedules import lrs

from gradtool.errors import ConfigError
from gradtool.optim import make_optimizer, make_schedule
from gradtool.optim.configure import configure
from gradtool.params import ParamError

# ---- by hand ----------------------------------------------------------------------------------------------


def test_closed_forms_by_hand():
    assert lrs(make_schedule("multistep", 1.0, milestones=[2, 4], gamma=0.5), 6) == [1, 1, 0.5, 0.5, 0.25, 0.25]
    assert lrs(make_schedule("polynomial", 1.0, total_iters=4, power=2.0), 6) == [1, 0.5625, 0.25, 0.0625, 0, 0]
    assert lrs(make_schedule("linear", 1.0, start_factor=0.5, total_iters=2), 4) == [0.5, 0.75, 1.0, 1.0]
    assert lrs(make_schedule("constant", 1.0, factor=0.5, total_iters=2), 4) == [0.5, 0.5, 1.0, 1.0]
    restarts = lrs(make_schedule("cosine_restarts", 1.0, t_0=2, t_mult=2), 7)
    assert restarts == pytest.approx(
        [1, 0.5, 1, 1 - 0.5 * (1 - math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4)), 1]
    )


def test_onecycle_rises_to_max_lr_then_anneals_to_the_floor():
    s = make_schedule("onecycle", 0.1, total_steps=100, max_lr=1.0)
    assert s(0) == pytest.approx(1.0 / 25) and s(29) == pytest.approx(1.0) and s(99) == pytest.approx(1.0 / 25 / 1e4)
    assert s.momentum(0) == 0.95 and s.momentum(29) == pytest.approx(0.85) and s.momentum(99) == pytest.approx(0.95)
    assert make_schedule("onecycle", 0.3, horizon=50).to_dict()["max_lr"] == 0.3  # max_lr: the run's lr
    assert make_schedule("onecycle", 0.3, horizon=50).to_dict()["total_steps"] == 50  # total_steps: its length


def test_cyclic_triangle_and_its_momentum():
    s = make_schedule("cyclic", 0.1, max_lr=0.5, step_size_up=2, step_size_down=2)
    assert lrs(s, 6) == pytest.approx([0.1, 0.3, 0.5, 0.3, 0.1, 0.3])
    assert [s.momentum(t) for t in range(3)] == pytest.approx([0.9, 0.85, 0.8])
    half = make_schedule("cyclic", 0.0, max_lr=1.0, step_size_up=1, mode="triangular2")
    assert lrs(half, 6) == pytest.approx([0, 1, 0, 0.5, 0, 0.25])


def test_plateau_cuts_the_lr_after_patience_bad_observations_then_cools_down():
    s = make_schedule("plateau", 1.0, patience=1, factor=0.5, cooldown=1)
    state, seen = s.init(), []
    for f in [3, 2, 2, 2, 2, 2, 2]:  # better, better, bad, bad (cut), cooldown, bad, bad (cut)
        state = s.observe(state, f)
        seen.append(float(state.lr))
    assert seen == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    with pytest.raises(ConfigError, match="follows the objective"):
        s(0)


def test_plateau_state_follows_a_batch_elementwise():
    s = make_schedule("plateau", 1.0, patience=0, factor=0.5)
    state = s.init(batch=2)
    for f in ([1.0, 1.0], [0.5, 1.0], [0.25, 1.0]):
        state = s.observe(state, np.array(f))
    np.testing.assert_array_equal(state.lr, [1.0, 0.25])


def test_sequential_starts_each_schedule_at_its_milestone():
    s = make_schedule(
        "sequential",
        1.0,
        schedules=[{"name": "constant", "factor": 0.1, "total_iters": 9}, {"name": "exponential", "gamma": 0.5}],
        milestones=[2],
    )
    assert lrs(s, 5) == pytest.approx([0.1, 0.1, 1.0, 0.5, 0.25])


@pytest.mark.parametrize(
    ("name", "kw", "needle"),
    [
        ("onecycle", {"total_steps": 3, "pct_start": 0.3}, "phase 1 is empty"),
        ("onecycle", {}, "total_steps: missing (the run's number of steps"),
        (
            "onecycle",
            {"total_steps": 10, "anneal_strategy": "cosine"},
            "anneal_strategy: 'cosine' is invalid; must be one of: cos, linear",
        ),
        ("cyclic", {}, "max_lr: missing"),
        ("cyclic", {"max_lr": 1, "gamma": 0.9}, "gamma applies to mode exp_range only"),
        (
            "multistep",
            {"milestones": [5, 3]},
            "milestones: [5, 3] is invalid; must be a list of increasing integers >= 1",
        ),
        ("sequential", {"schedules": ["linear"], "milestones": [3]}, "1 schedules need 0 milestones"),
        (
            "sequential",
            {"schedules": ["plateau", "linear"], "milestones": [3]},
            "schedules[0]: plateau follows the objective",
        ),
        ("sequential", {"schedules": [{"name": "cosine"}, "linear"], "milestones": [3]}, "schedules[0].t_max: missing"),
        ("plateau", {"warmup": 3}, "warmup: unknown parameter"),
        ("onecycle", {"total_steps": 10, "warmup": 2}, "a warmup cannot precede a momentum cycle"),
        ("cosine_restarts", {"t_0": 5, "eta_min": 1.0}, "eta_min=1.0 must not exceed lr=0.1"),
    ],
)
def test_bad_values_name_the_parameter(name, kw, needle):
    with pytest.raises(ConfigError) as info:
        make_schedule(name, 0.1, **kw)
    assert needle in str(info.value)


def test_a_run_longer_than_the_cycle_is_refused():
    with pytest.raises(ConfigError, match="total_steps=10 is shorter than the run's 20 steps"):
        make_schedule("onecycle", 0.1, total_steps=10, horizon=20)


# ---- momentum cycling: configure wires the schedule's momentum into the optimizer ------------------------------


def test_cycled_momentum_drives_each_step_of_the_optimizer():
    opt, sched = configure("momentum", {}, lr=0.1, schedule="onecycle", schedule_options={}, horizon=40)
    assert opt.hyper["momentum"] == 0.95  # as torch writes max_momentum into the param group
    by_hand = make_optimizer("momentum", momentum=0.95)
    x, y = QUAD_X0.copy(), QUAD_X0.copy()
    s1, s2 = opt.init(x), by_hand.init(y)
    for t in range(40):
        x, s1 = opt.update(quad_grad(x), s1, x, sched(t))
        y, s2 = by_hand.update(quad_grad(y), s2, y, sched(t), momentum=sched.momentum(t))
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("optimizer", "hyper", "needle"),
    [
        ("adagrad", {}, "adagrad has no momentum to cycle"),
        ("adam", {"beta1": 0.8}, "beta1: set by the cyclic schedule"),
        ("adam", {"betas": [0.8, 0.9]}, "betas: set by the cyclic schedule"),
    ],
)
def test_a_momentum_cycle_needs_a_momentum_the_user_left_alone(optimizer, hyper, needle):
    with pytest.raises(ParamError) as info:
        configure(optimizer, hyper, schedule="cyclic", schedule_options={"max_lr": 1.0}, horizon=10)
    assert needle in str(info.value)


# ---- parity with torch.optim.lr_scheduler: 500 steps, 1e-12 relative ---------------------------------------------

TORCH = {
    "multistep": (
        {"milestones": [30, 80, 200, 201, 400], "gamma": 0.5},
        lambda o, s: s.MultiStepLR(o, [30, 80, 200, 201, 400], 0.5),
    ),
    "polynomial": ({"total_iters": 400, "power": 2.0}, lambda o, s: s.PolynomialLR(o, total_iters=400, power=2.0)),
    "linear": ({"start_factor": 0.1, "end_factor": 0.9, "total_iters": 300}, lambda o, s: s.LinearLR(o, 0.1, 0.9, 300)),
    "constant": ({"factor": 0.25, "total_iters": 40}, lambda o, s: s.ConstantLR(o, 0.25, 40)),
    "cosine_restarts": (
        {"t_0": 30, "t_mult": 2, "eta_min": 0.001},
        lambda o, s: s.CosineAnnealingWarmRestarts(o, 30, 2, 0.001),
    ),
    "cyclic-triangular": (
        {"max_lr": 1.0, "step_size_up": 50, "step_size_down": 30, "cycle_momentum": False},
        lambda o, s: s.CyclicLR(o, 0.1, 1.0, 50, 30, cycle_momentum=False),
    ),
    "cyclic-triangular2": (
        {"max_lr": 1.0, "step_size_up": 40, "mode": "triangular2", "cycle_momentum": False},
        lambda o, s: s.CyclicLR(o, 0.1, 1.0, 40, mode="triangular2", cycle_momentum=False),
    ),
    "cyclic-exp_range": (
        {"max_lr": 1.0, "step_size_up": 40, "mode": "exp_range", "gamma": 0.995, "cycle_momentum": False},
        lambda o, s: s.CyclicLR(o, 0.1, 1.0, 40, mode="exp_range", gamma=0.995, cycle_momentum=False),
    ),
    "onecycle": (
        {"max_lr": 1.0, "total_steps": 500, "cycle_momentum": False},
        lambda o, s: s.OneCycleLR(o, 1.0, total_steps=500, cycle_momentum=False),
    ),
    "onecycle-three_phase-linear": (
        {
            "max_lr": 1.0,
            "total_steps": 500,
            "anneal_strategy": "linear",
            "three_phase": True,
            "pct_start": 0.25,
            "div_factor": 10,
            "final_div_factor": 100,
            "cycle_momentum": False,
        },
        lambda o, s: s.OneCycleLR(
            o,
            1.0,
            total_steps=500,
            anneal_strategy="linear",
            three_phase=True,
            pct_start=0.25,
            div_factor=10,
            final_div_factor=100,
            cycle_momentum=False,
        ),
    ),
    "sequential": (
        {
            "schedules": [
                {"name": "linear", "start_factor": 0.2, "total_iters": 20},
                {"name": "cosine", "t_max": 100},
                {"name": "exponential", "gamma": 0.99},
            ],
            "milestones": [20, 150],
        },
        lambda o, s: s.SequentialLR(
            o, [s.LinearLR(o, 0.2, total_iters=20), s.CosineAnnealingLR(o, 100), s.ExponentialLR(o, 0.99)], [20, 150]
        ),
    ),
    "sequential-restarts": (
        {
            "schedules": [
                {"name": "constant", "factor": 0.5, "total_iters": 10},
                {"name": "cosine_restarts", "t_0": 20, "t_mult": 2},
            ],
            "milestones": [50],
        },
        lambda o, s: s.SequentialLR(o, [s.ConstantLR(o, 0.5, 10), s.CosineAnnealingWarmRestarts(o, 20, 2)], [50]),
    ),
}
MOMENTUM = {
    "onecycle-sgd": (
        "SGD",
        "momentum",
        {"max_lr": 1.0, "total_steps": 500},
        lambda o, s: s.OneCycleLR(o, 1.0, total_steps=500),
    ),
    "onecycle-adam-three_phase": (
        "Adam",
        "beta1",
        {"max_lr": 1.0, "total_steps": 500, "three_phase": True, "base_momentum": 0.8, "max_momentum": 0.9},
        lambda o, s: s.OneCycleLR(o, 1.0, total_steps=500, three_phase=True, base_momentum=0.8, max_momentum=0.9),
    ),
    "cyclic-sgd": (
        "SGD",
        "momentum",
        {"max_lr": 1.0, "step_size_up": 50, "mode": "triangular2"},
        lambda o, s: s.CyclicLR(o, 0.1, 1.0, 50, mode="triangular2"),
    ),
    "cyclic-adam-exp_range": (
        "Adam",
        "beta1",
        {"max_lr": 1.0, "step_size_up": 50, "mode": "exp_range", "gamma": 0.99},
        lambda o, s: s.CyclicLR(o, 0.1, 1.0, 50, mode="exp_range", gamma=0.99),
    ),
}


def torch_sequence(torch, build, steps=500, optimizer="SGD", momentum_key=None, metric=None, **kw):
    """The lr (and momentum) each step uses, ``scheduler.step()`` following ``optimizer.step()``."""
    param = torch.zeros(1, requires_grad=True)
    opt = getattr(torch.optim, optimizer)([param], lr=0.1, **kw)
    scheduler = build(opt, torch.optim.lr_scheduler)
    out, moms = [], []
    for t in range(steps):
        group = opt.param_groups[0]
        out.append(group["lr"])
        moms.append(group["betas"][0] if momentum_key == "beta1" else group.get("momentum"))
        param.grad = torch.zeros(1)
        opt.step()
        scheduler.step(metric(t)) if metric else scheduler.step()
    return out, moms


@pytest.mark.parametrize("case", TORCH.values(), ids=TORCH.keys())
def test_lr_sequence_matches_torch_for_500_steps(case):
    torch = pytest.importorskip("torch")
    kw, build = case
    name = next(k for k, v in TORCH.items() if v is case).split("-")[0]
    theirs, _ = torch_sequence(torch, build)
    np.testing.assert_allclose(lrs(make_schedule(name, 0.1, **kw), 500), theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", MOMENTUM.values(), ids=MOMENTUM.keys())
def test_cycled_momentum_matches_torch_for_500_steps(case):
    torch = pytest.importorskip("torch")
    optimizer, key, kw, build = case
    theirs, moms = torch_sequence(
        torch, build, optimizer=optimizer, momentum_key=key, **({"momentum": 0.9} if optimizer == "SGD" else {})
    )
    ours = make_schedule(kw.get("name", next(k for k, v in MOMENTUM.items() if v is case).split("-")[0]), 0.1, **kw)
    np.testing.assert_allclose(lrs(ours, 500), theirs, rtol=1e-12, atol=0)
    np.testing.assert_allclose([ours.momentum(t) for t in range(500)], moms, rtol=1e-12, atol=0)


def wobbly(t: int) -> float:
    """A falling objective with noise and plateaus: it makes ReduceLROnPlateau cut several times."""
    return 1.0 / (1 + t) + 0.05 * math.sin(t / 3) + 0.01 * math.cos(t * 1.7)


@pytest.mark.parametrize(
    "kw",
    [
        {"patience": 3},
        {
            "mode": "max",
            "threshold": 0.01,
            "threshold_mode": "abs",
            "cooldown": 2,
            "patience": 2,
            "factor": 0.5,
            "min_lr": 0.001,
        },
        {"patience": 0, "factor": 0.5, "eps": 0.01},
    ],
    ids=["rel-min", "abs-max-cooldown-min_lr", "eps"],
)
def test_plateau_matches_torch_reduce_lr_on_plateau_for_500_observations(kw):
    torch = pytest.importorskip("torch")
    theirs, _ = torch_sequence(torch, lambda o, s: s.ReduceLROnPlateau(o, **kw), metric=wobbly)
    s = make_schedule("plateau", 0.1, **kw)
    state, ours = s.init(), []
    for t in range(500):
        ours.append(float(state.lr))
        state = s.observe(state, wobbly(t))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert len(set(ours)) > 2  # it did cut, more than once
