"""Optimizers: hand-computed iterates, torch.optim parity, batching, purity, the registry and validation."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys

import numpy as np
import pytest

from gradtool.errors import ConfigError
from gradtool.optim import ALIASES, OPTIMIZERS, make_optimizer

CANONICAL = list(dict.fromkeys(spec.name for spec in OPTIMIZERS.values()))
FIRST_ORDER = [name for name in CANONICAL if not OPTIMIZERS[name].searching]  # the update(g, ...) contract

# f(x) = 0.5 * sum(a_i * x_i**2): separable, so each coordinate can be checked with scalar arithmetic.
CURVATURE = (1.0, 4.0)
X0 = (1.0, -0.5)


def run(name: str, lr: float, steps: int, **hyper) -> list[np.ndarray]:
    """Iterates x_1..x_steps of the optimizer under test on the separable quadratic."""
    opt = make_optimizer(name, **hyper)
    a, x = np.array(CURVATURE), np.array(X0)
    state, iterates = opt.init(x), []
    for _ in range(steps):
        x, state = opt.update(a * x, state, x, lr)
        iterates.append(x)
    return iterates


# ---- scalar references written from the documented formulas (one coordinate, grad = a * x) ---------


def ref_momentum(x, a, lr, steps, mu, damp=0.0, wd=0.0, nesterov=False):
    out, buf = [], 0.0
    for t in range(steps):
        g = a * x + wd * x
        buf = g if t == 0 else mu * buf + (1 - damp) * g
        x = x - lr * (g + mu * buf if nesterov else buf)
        out.append(x)
    return out


def ref_rmsprop(x, a, lr, steps, alpha=0.99, eps=1e-8, wd=0.0, mu=0.0, centered=False, eps_in_sqrt=False):
    out, v, gbar, buf = [], 0.0, 0.0, 0.0
    for _ in range(steps):
        g = a * x + wd * x
        v = alpha * v + (1 - alpha) * g * g
        gbar = gbar + (1 - alpha) * (g - gbar)
        s = v - gbar * gbar if centered else v
        denom = math.sqrt(s + eps) if eps_in_sqrt else math.sqrt(s) + eps
        if mu > 0:
            buf = mu * buf + g / denom
            x = x - lr * buf
        else:
            x = x - lr * g / denom
        out.append(x)
    return out


def ref_adam(x, a, lr, steps, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False, amsgrad=False):
    out, m, v, vmax = [], 0.0, 0.0, 0.0
    for t in range(1, steps + 1):
        g = a * x
        if decoupled:
            x = x * (1 - lr * wd)
        else:
            g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        denom = math.sqrt(vmax if amsgrad else v) / math.sqrt(1 - b2**t) + eps
        x = x - lr / (1 - b1**t) * m / denom
        out.append(x)
    return out


def ref_adagrad(x, a, lr, steps, lr_decay=0.0, wd=0.0, init=0.0, eps=1e-10):
    out, total = [], init
    for t in range(1, steps + 1):
        g = a * x + wd * x
        total = total + g * g
        x = x - lr / (1 + (t - 1) * lr_decay) * g / (math.sqrt(total) + eps)
        out.append(x)
    return out


def ref_adadelta(x, a, lr, steps, rho=0.9, eps=1e-6, wd=0.0):
    out, v, u = [], 0.0, 0.0
    for _ in range(steps):
        g = a * x + wd * x
        v = rho * v + (1 - rho) * g * g
        delta = math.sqrt(u + eps) / math.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        x = x - lr * delta
        out.append(x)
    return out


HAND_CASES = {
    "gd": ("gd", {}, 0.1, lambda x, a: ref_momentum(x, a, 0.1, 3, mu=0.0)),
    "gd-weight_decay": ("gd", {"weight_decay": 0.5}, 0.1, lambda x, a: ref_momentum(x, a, 0.1, 3, 0.0, wd=0.5)),
    "momentum": ("momentum", {}, 0.1, lambda x, a: ref_momentum(x, a, 0.1, 3, mu=0.9)),
    "momentum-dampening": (
        "momentum",
        {"dampening": 0.5, "weight_decay": 0.1},
        0.1,
        lambda x, a: ref_momentum(x, a, 0.1, 3, 0.9, damp=0.5, wd=0.1),
    ),
    "nag": ("nag", {"momentum": 0.8}, 0.1, lambda x, a: ref_momentum(x, a, 0.1, 3, 0.8, nesterov=True)),
    "rmsprop": ("rmsprop", {}, 0.01, lambda x, a: ref_rmsprop(x, a, 0.01, 3)),
    "rmsprop-eps_in_sqrt": (
        "rmsprop",
        {"eps_in_sqrt": True, "eps": 1e-2},
        0.01,
        lambda x, a: ref_rmsprop(x, a, 0.01, 3, eps=1e-2, eps_in_sqrt=True),
    ),
    "rmsprop-centered-momentum": (
        "rmsprop",
        {"centered": True, "momentum": 0.5, "weight_decay": 0.1},
        0.01,
        lambda x, a: ref_rmsprop(x, a, 0.01, 3, wd=0.1, mu=0.5, centered=True),
    ),
    "adam": ("adam", {}, 0.1, lambda x, a: ref_adam(x, a, 0.1, 3)),
    "adam-amsgrad": (
        "adam",
        {"beta1": 0.3, "amsgrad": True, "weight_decay": 0.1},
        0.1,
        lambda x, a: ref_adam(x, a, 0.1, 3, b1=0.3, wd=0.1, amsgrad=True),
    ),
    "adamw": ("adamw", {}, 0.1, lambda x, a: ref_adam(x, a, 0.1, 3, wd=0.01, decoupled=True)),
    "adagrad": (
        "adagrad",
        {"lr_decay": 0.5, "initial_accumulator_value": 0.1},
        0.5,
        lambda x, a: ref_adagrad(x, a, 0.5, 3, lr_decay=0.5, init=0.1),
    ),
    "adadelta": ("adadelta", {"weight_decay": 0.1}, 1.0, lambda x, a: ref_adadelta(x, a, 1.0, 3, wd=0.1)),
}


@pytest.mark.parametrize(("name", "hyper", "lr", "reference"), HAND_CASES.values(), ids=HAND_CASES.keys())
def test_three_steps_match_the_documented_formula(name, hyper, lr, reference):
    got = np.array(run(name, lr, 3, **hyper))
    want = np.array([reference(x, a) for x, a in zip(X0, CURVATURE, strict=True)]).T
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_gd_and_heavy_ball_iterates_by_hand():
    # f = x^2 / 2 per coordinate with a = 1: gd x <- 0.9 x; momentum buf = 1, 1.8, 2.34
    assert [x[0] for x in run("gd", 0.1, 3)] == pytest.approx([0.9, 0.81, 0.729], rel=1e-15)
    assert [x[0] for x in run("momentum", 0.1, 3)] == pytest.approx([0.9, 0.72, 0.486], rel=1e-14)
    assert [x[0] for x in run("nag", 0.1, 2)] == pytest.approx([0.81, 0.5751], rel=1e-14)


@pytest.mark.parametrize("name", ["adam", "adamw", "adagrad"])
def test_first_adaptive_step_moves_each_coordinate_by_lr(name):
    # m/sqrt(v) and g/sqrt(g^2) are sign(g) on the first step (adamw decay is set to 0 here)
    x1 = run(name, 0.1, 1, weight_decay=0.0)[0]
    np.testing.assert_allclose(x1, np.array(X0) - 0.1 * np.sign(X0), rtol=1e-8)


def test_rmsprop_eps_placement_differs_as_documented():
    # first step, g = 1: torch denom = sqrt(0.01) + eps = 0.11; TF/Optax denom = sqrt(0.01 + eps)
    eps = 0.01
    torch_style = run("rmsprop", 1.0, 1, eps=eps)[0][0]
    tf_style = run("rmsprop", 1.0, 1, eps=eps, eps_in_sqrt=True)[0][0]
    assert torch_style == pytest.approx(1.0 - 1.0 / 0.11, rel=1e-14)
    assert tf_style == pytest.approx(1.0 - 1.0 / math.sqrt(0.02), rel=1e-14)


def test_nag_iterates_are_the_lookahead_points_of_sutskever_nesterov():
    # b <- mu b + grad(z - lr mu b); z <- z - lr b; torch-form x equals z - lr mu b (constant lr)
    a, lr, mu = np.array([1.0, 3.0]), 0.05, 0.9
    z, b = np.array([2.0, -1.0]), np.zeros(2)
    opt = make_optimizer("nag", momentum=mu)
    x, state = z.copy(), opt.init(z)
    for _ in range(50):
        b = mu * b + a * (z - lr * mu * b)
        z = z - lr * b
        x, state = opt.update(a * x, state, x, lr)
        np.testing.assert_allclose(x, z - lr * mu * b, rtol=1e-12, atol=1e-14)


def test_momentum_equals_velocity_form_for_constant_lr():
    a, lr, mu = np.array([1.0, 3.0]), 0.05, 0.9
    y, v = np.array([2.0, -1.0]), np.zeros(2)
    opt = make_optimizer("momentum", momentum=mu)
    x, state = y.copy(), opt.init(y)
    for _ in range(50):
        v = mu * v - lr * a * y
        y = y + v
        x, state = opt.update(a * x, state, x, lr)
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


# ---- batching, purity, registry contract -------------------------------------------------------------

BRANCHY = {
    "momentum": {"dampening": 0.2, "nesterov": False},
    "rmsprop": {"centered": True, "momentum": 0.3},
    "adam": {"amsgrad": True, "weight_decay": 0.1, "maximize": True},
    "adagrad": {"lr_decay": 0.1, "initial_accumulator_value": 0.2},
    "nadam": {"decoupled_weight_decay": True},
    "asgd": {"t0": 2},
}


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_batch_update_equals_stacked_single_runs(name):
    opt = make_optimizer(name, **BRANCHY.get(name, {}))
    a = np.array([1.0, 4.0])
    starts = np.array([[1.0, -0.5], [-2.0, 0.3], [0.7, 2.0]])
    xb, sb = starts, opt.init(starts)
    singles = [(x, opt.init(x)) for x in starts]
    for _ in range(5):
        xb, sb = opt.update(a * xb, sb, xb, 0.05)
        singles = [opt.update(a * x, s, x, 0.05) for x, s in singles]
    np.testing.assert_array_equal(xb, np.stack([x for x, _ in singles]))
    for field, value in zip(sb._fields, sb, strict=True):
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, np.stack([getattr(s, field) for _, s in singles]))
    assert sb.step == 5


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_update_mutates_nothing_and_counts_steps(name):
    decay = {"weight_decay": 0.1} if "weight_decay" in OPTIMIZERS[name].defaults else {}
    opt = make_optimizer(name, **{**BRANCHY.get(name, {}), **decay})
    x = np.array([1.0, -2.0])
    state = opt.init(x)
    for step in range(1, 4):
        g = 2 * x
        snapshot = [x.copy(), g.copy()] + [v.copy() for v in state if isinstance(v, np.ndarray)]
        new_x, new_state = opt.update(g, state, x, 0.1)
        after = [x, g] + [v for v in state if isinstance(v, np.ndarray)]
        for before, now in zip(snapshot, after, strict=True):
            np.testing.assert_array_equal(before, now)
        assert new_state.step == step and new_x is not x
        x, state = new_x, new_state


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_registry_entry_builds_with_its_defaults(name):
    spec = OPTIMIZERS[name]
    opt = make_optimizer(name)
    assert opt.name == spec.name == ALIASES.get(name, name)
    assert dict(opt.hyper) == dict(spec.defaults) and next(iter(spec.defaults)) == "lr"
    assert spec.summary and opt.init(np.zeros(3)).step == 0
    assert make_optimizer(**opt.to_dict()) == opt


def test_optim_imports_neither_torch_nor_sympy_and_its_registry_no_numpy():
    heavy = "{'torch', 'sympy', 'typer', 'rich', 'numpy'}"
    code = f"import sys, gradtool.optim as o; a = sorted({heavy} & set(sys.modules)); o.make_optimizer('adam'); "
    code += f"print(a, sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['numpy']"


def test_sgd_is_an_alias_of_gd():
    assert OPTIMIZERS["sgd"] is OPTIMIZERS["gd"]
    want = {"name": "gd", "lr": 0.5, "weight_decay": 0.0, "maximize": False, "line_search": {"name": "none"}}
    assert make_optimizer("sgd", lr=0.5).to_dict() == want


@pytest.mark.parametrize(
    ("name", "hyper", "needles"),
    [
        ("adamz", {}, ["'adamz'", "adam", "rmsprop", "sgd"]),
        ("adam", {"betas": (0.9, 0.99), "beta1": 0.5}, ["betas", "give betas or beta1, beta2, not both"]),
        ("adam", {"betas": (0.9,)}, ["betas", "a list of 2 values"]),
        ("adam", {"betas": (0.9, 1.5)}, ["betas[1]: 1.5 is invalid", "[0, 1)"]),
        ("gd", {"momentum": 0.9}, ["momentum: unknown parameter", "allowed: lr, weight_decay"]),
        ("gd", {"lr": -0.1}, ["'gd'", "lr: -0.1 is invalid", ">= 0"]),
        ("momentum", {"momentum": 1.0}, ["momentum: 1.0 is invalid", "[0, 1)"]),
        ("adam", {"beta2": 1.0}, ["beta2: 1.0 is invalid", "[0, 1)"]),
        ("adam", {"eps": 0.0}, ["eps: 0.0 is invalid", "> 0"]),
        ("rmsprop", {"alpha": 1.5}, ["alpha: 1.5 is invalid", "[0, 1]"]),
        ("adadelta", {"rho": -0.1}, ["rho: -0.1 is invalid"]),
        ("adam", {"lr": "1e-3"}, ["lr: '1e-3' is invalid", "a number"]),
        ("adam", {"lr": float("nan")}, ["lr: nan is invalid"]),
        ("adam", {"amsgrad": 1}, ["amsgrad: 1 is invalid", "true or false"]),
        ("nag", {"dampening": 0.1}, ["Nesterov", "dampening=0.1"]),
        ("momentum", {"nesterov": True, "momentum": 0.0}, ["Nesterov", "momentum=0.0"]),
    ],
)
def test_bad_configuration_raises_config_error_naming_it(name, hyper, needles):
    with pytest.raises(ConfigError) as info:
        make_optimizer(name, **hyper)
    assert info.value.exit_code == 2
    for needle in needles:
        assert needle in str(info.value)


def test_a_bad_value_error_names_its_parameter_for_the_caller():
    from gradtool.params import ParamError

    with pytest.raises(ParamError) as info:
        make_optimizer("adam", beta1=1.5)
    assert info.value.key == ("beta1",) and info.value.detail == "1.5 is invalid; must be a number in [0, 1)"
    with pytest.raises(ParamError) as info:
        make_optimizer("adam", betas=[0.9, 2])
    assert info.value.key == ("betas", 1)


def test_torch_tuple_spellings_set_the_scalar_parameters():
    assert make_optimizer("adam", betas=[0.8, 0.99]) == make_optimizer("adam", beta1=0.8, beta2=0.99)


# ---- parity with torch.optim (skipped when torch is absent) --------------------------------------------

QUAD_A = np.array([[3.0, 0.5, 0.2], [0.5, 2.0, -0.3], [0.2, -0.3, 1.0]])  # eigenvalues in [0.8, 3.2]
QUAD_B = np.array([1.0, -2.0, 0.5])
QUAD_X0 = np.array([1.5, -0.5, 2.0])

# id -> (name, hyper, lr); lrs keep 1000 steps out of the regime where an adaptive rule, having converged
# to rounding level, amplifies last-bit noise (there any two implementations drift apart: torch's CPU
# kernels fuse multiply-adds and its sqrt is not correctly rounded, numpy's are).
TORCH_CASES = {
    "gd": ("gd", {}, 0.1),
    "gd-weight_decay": ("gd", {"weight_decay": 0.1}, 0.1),
    "momentum": ("momentum", {}, 0.02),
    "momentum-dampening-weight_decay": ("momentum", {"dampening": 0.3, "weight_decay": 0.05}, 0.05),
    "momentum-nesterov": ("momentum", {"nesterov": True, "momentum": 0.8}, 0.02),
    "nag": ("nag", {}, 0.02),
    "nag-weight_decay": ("nag", {"momentum": 0.5, "weight_decay": 0.1}, 0.05),
    "rmsprop": ("rmsprop", {}, 0.003),
    "rmsprop-centered": ("rmsprop", {"centered": True}, 0.003),
    "rmsprop-momentum": ("rmsprop", {"momentum": 0.5}, 0.003),
    "rmsprop-centered-momentum-weight_decay": (
        "rmsprop",
        {"centered": True, "momentum": 0.5, "weight_decay": 0.1},
        0.003,
    ),
    "adam": ("adam", {}, 0.05),
    "adam-amsgrad-weight_decay": ("adam", {"amsgrad": True, "weight_decay": 0.1}, 0.05),
    "adam-small_beta1": ("adam", {"beta1": 0.3, "beta2": 0.99, "eps": 1e-6}, 0.005),
    "adamw": ("adamw", {}, 0.05),
    "adamw-amsgrad": ("adamw", {"weight_decay": 0.1, "amsgrad": True}, 0.05),
    "adagrad": ("adagrad", {}, 0.5),
    "adagrad-lr_decay-weight_decay": (
        "adagrad",
        {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.1},
        0.5,
    ),
    "adadelta": ("adadelta", {}, 0.3),
    "adadelta-rho-weight_decay": ("adadelta", {"rho": 0.5, "weight_decay": 0.1}, 0.3),
}
TORCHED = [name for name in CANONICAL if OPTIMIZERS[name].torch]  # lion has no torch class


def torch_optimizer(torch, name: str, hyper: dict, param, lr: float):
    """The torch.optim object the registry names, configured like ``make_optimizer(name, **hyper)`` (split
    parameters joined back into torch's tuples)."""
    spec = OPTIMIZERS[name]
    kwargs = {k: v for k, v in make_optimizer(name, **hyper).hyper.items() if k != "lr"}
    for group, members in spec.table.groups.items():
        kwargs[group] = tuple(kwargs.pop(m) for m in members)
    kwargs.pop("eps_in_sqrt", None)
    kwargs.pop("line_search")
    if name == "nag":
        kwargs["nesterov"] = True
    return getattr(torch.optim, spec.torch)([param], lr=lr, foreach=False, **kwargs)


def quad_grad(x: np.ndarray) -> np.ndarray:
    return x @ QUAD_A - QUAD_B


@pytest.mark.parametrize("case", TORCH_CASES.values(), ids=TORCH_CASES.keys())
def test_optimizer_matches_torch_for_1000_steps(case):
    torch = pytest.importorskip("torch")
    name, hyper, lr = case
    opt = make_optimizer(name, **hyper)
    x, state = QUAD_X0.copy(), opt.init(QUAD_X0)
    param = torch.tensor(QUAD_X0, dtype=torch.float64, requires_grad=True)
    reference = torch_optimizer(torch, name, hyper, param, lr)
    ours, theirs = np.empty((1000, 3)), np.empty((1000, 3))
    for t in range(1000):
        x, state = opt.update(quad_grad(x), state, x, lr)
        param.grad = torch.from_numpy(quad_grad(param.detach().numpy()))
        reference.step()
        ours[t], theirs[t] = x, param.detach().numpy()
    # relative to the trajectory's scale, so a coordinate crossing zero does not divide by ~0
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


DEPARTURES = {"momentum": {"momentum": 0.9}, "nag": {"momentum": 0.9}}  # torch SGD's momentum is 0


@pytest.mark.parametrize("name", TORCHED)
def test_defaults_equal_torch_constructor_defaults(name):
    torch = pytest.importorskip("torch")
    params = inspect.signature(getattr(torch.optim, OPTIMIZERS[name].torch)).parameters
    theirs = {key: p.default for key, p in params.items() if p.default is not inspect.Parameter.empty}
    for group, members in OPTIMIZERS[name].table.groups.items():
        theirs.update(zip(members, theirs.pop(group), strict=True))
    expected = {**theirs, **DEPARTURES.get(name, {})}
    for key, value in OPTIMIZERS[name].defaults.items():
        if key == "line_search":  # torch's line_search_fn (LBFGS) or none at all: no line search
            assert value == {"name": "none"} and expected.get("line_search_fn") is None
        elif key == "maximize" and name == "lbfgs":  # torch's LBFGS has none; ours minimizes -f
            assert value is False
        elif key != "eps_in_sqrt":  # ours alone: the TensorFlow/Optax eps placement
            assert value == expected[key], key


def test_adam_under_a_schedule_matches_torch_with_sequential_lr():
    torch = pytest.importorskip("torch")
    from gradtool.optim import make_schedule

    schedule = make_schedule("cosine", 0.05, t_max=300, eta_min=0.001, warmup=20, start_factor=0.1)
    opt = make_optimizer("adam")
    x, state = QUAD_X0.copy(), opt.init(QUAD_X0)
    param = torch.tensor(QUAD_X0, dtype=torch.float64, requires_grad=True)
    reference = torch.optim.Adam([param], lr=0.05, foreach=False)
    sched = torch.optim.lr_scheduler
    warm = sched.LinearLR(reference, start_factor=0.1, total_iters=20)
    cosine = sched.CosineAnnealingLR(reference, T_max=300, eta_min=0.001)
    lr_sched = sched.SequentialLR(reference, [warm, cosine], milestones=[20])
    for t in range(300):
        x, state = opt.update(quad_grad(x), state, x, schedule(t))
        param.grad = torch.from_numpy(quad_grad(param.detach().numpy()))
        reference.step()
        lr_sched.step()
        np.testing.assert_allclose(x, param.detach().numpy(), rtol=1e-10, atol=1e-12)
