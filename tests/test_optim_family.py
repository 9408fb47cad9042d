"""NAdam, RAdam, Adamax, Rprop, ASGD, Lion, maximize and decoupled weight decay: the documented formulas by
hand, torch.optim's iterates for 500 steps (skipped without torch), Lion's published formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_optim import QUAD_X0, quad_grad, torch_optimizer

from gradtool.optim import make_optimizer

A, X0 = 3.0, 1.0  # one coordinate of f = a x^2 / 2: grad = a x


def iterates(name: str, lr: float, steps: int, **hyper) -> list[float]:
    opt = make_optimizer(name, **hyper)
    x = np.array([X0])
    state, out = opt.init(x), []
    for _ in range(steps):
        x, state = opt.update(A * x, state, x, lr)
        out.append(float(x[0]))
    return out


# ---- the docstrings' formulas, one coordinate, plain floats -------------------------------------------------


def ref_nadam(lr, steps, b1=0.9, b2=0.999, eps=1e-8, psi=4e-3):
    x, m, v, prod, out = X0, 0.0, 0.0, 1.0, []
    for t in range(1, steps + 1):
        g = A * x
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = math.sqrt(v / (1 - b2**t)) + eps
        x = x - lr * (1 - mu) / (1 - prod) * g / denom - lr * mu_next / (1 - prod * mu_next) * m / denom
        out.append(x)
    return out


def ref_radam(lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    x, m, v, out = X0, 0.0, 0.0, []
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = A * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            x = x - m_hat * lr * math.sqrt(1 - b2**t) / (math.sqrt(v) + eps) * r
        else:
            x = x - m_hat * lr
        out.append(x)
    return out


def ref_adamax(lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    x, m, u, out = X0, 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = A * x
        m = b1 * m + (1 - b1) * g
        u = max(b2 * u, abs(g) + eps)
        x = x - lr / (1 - b1**t) * m / u
        out.append(x)
    return out


def ref_rprop(lr, steps, etas=(0.5, 1.2), sizes=(1e-6, 50.0)):
    x, prev, size, out = X0, 0.0, lr, []
    for _ in range(steps):
        g = A * x
        s = g * prev
        factor = etas[1] if s > 0 else etas[0] if s < 0 else 1.0
        size = min(max(size * factor, sizes[0]), sizes[1])
        g = 0.0 if factor == etas[0] else g
        x = x - math.copysign(1.0, g) * size if g else x
        prev = g
        out.append(x)
    return out


def ref_asgd(lr, steps, lambd=1e-4, alpha=0.75, t0=1e6):
    x, eta, out = X0, lr, []
    for t in range(1, steps + 1):
        g = A * x
        x = x * (1 - lambd * eta) - eta * g
        eta = lr / (1 + lambd * lr * t) ** alpha
        out.append(x)
    return out


HAND = {
    "nadam": ("nadam", 0.05, {}, ref_nadam),
    "radam-sgd-then-rectified": ("radam", 0.05, {"beta2": 0.9}, lambda lr, n: ref_radam(lr, n, b2=0.9)),
    "adamax": ("adamax", 0.05, {}, ref_adamax),
    "rprop-overshoots-and-backs-off": ("rprop", 0.4, {}, ref_rprop),
    "asgd": ("asgd", 0.05, {"lambd": 0.1}, lambda lr, n: ref_asgd(lr, n, lambd=0.1)),
}


@pytest.mark.parametrize(("name", "lr", "hyper", "reference"), HAND.values(), ids=HAND.keys())
def test_twelve_steps_follow_the_documented_formula(name, lr, hyper, reference):
    np.testing.assert_allclose(iterates(name, lr, 12, **hyper), reference(lr, 12), rtol=1e-13, atol=1e-15)


def test_rprop_ignores_the_gradient_size():
    assert iterates("rprop", 0.1, 1) == [0.9]
    opt = make_optimizer("rprop")
    x, state = np.array([1.0, 1.0]), opt.init(np.zeros(2))
    x, state = opt.update(np.array([1e-9, 1e9]), state, x, 0.1)
    np.testing.assert_array_equal(x, [0.9, 0.9])


def test_lion_matches_its_published_formula_for_500_steps():
    """Chen et al. 2023 (Algorithm 2) as Optax writes it, computed here on floats, one coordinate at a time."""
    b1, b2, wd, lr = 0.9, 0.99, 0.1, 0.003
    opt = make_optimizer("lion", beta1=b1, beta2=b2, weight_decay=wd)
    x, state = QUAD_X0.copy(), opt.init(QUAD_X0)
    ref, m = QUAD_X0.tolist(), [0.0, 0.0, 0.0]
    for _ in range(500):
        g = quad_grad(np.array(ref)).tolist()
        c = [(1 - b1) * gi + b1 * mi for gi, mi in zip(g, m, strict=True)]
        ref = [xi - lr * ((ci > 0) - (ci < 0) + wd * xi) for xi, ci in zip(ref, c, strict=True)]
        m = [(1 - b2) * gi + b2 * mi for gi, mi in zip(g, m, strict=True)]
        x, state = opt.update(quad_grad(x), state, x, lr)
        np.testing.assert_allclose(x, ref, rtol=1e-15, atol=1e-15)
    assert state.step == 500


@pytest.mark.parametrize("name", ["gd", "momentum", "rmsprop", "adam", "nadam", "rprop", "asgd", "lion"])
def test_maximize_is_the_same_rule_on_the_negated_gradient(name):
    up, down = make_optimizer(name, maximize=True), make_optimizer(name)
    x, y = QUAD_X0.copy(), QUAD_X0.copy()
    su, sd = up.init(x), down.init(y)
    for _ in range(20):
        x, su = up.update(quad_grad(x), su, x, 0.01)
        y, sd = down.update(-quad_grad(y), sd, y, 0.01)
    np.testing.assert_array_equal(x, y)


def test_adam_with_decoupled_weight_decay_is_adamw():
    a = make_optimizer("adam", weight_decay=0.05, decoupled_weight_decay=True)
    w = make_optimizer("adamw", weight_decay=0.05)
    x, y = QUAD_X0.copy(), QUAD_X0.copy()
    sa, sw = a.init(x), w.init(y)
    for _ in range(50):
        x, sa = a.update(quad_grad(x), sa, x, 0.01)
        y, sw = w.update(quad_grad(y), sw, y, 0.01)
    np.testing.assert_array_equal(x, y)


# ---- parity with torch.optim: 500 steps, 1e-12 relative to the trajectory's scale ---------------------------

TORCH_500 = {
    "nadam": ("nadam", {}, 0.01),
    "nadam-momentum_decay-weight_decay": ("nadam", {"momentum_decay": 0.01, "weight_decay": 0.1}, 0.01),
    "nadam-decoupled": ("nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True}, 0.01),
    "radam": ("radam", {}, 0.01),
    "radam-weight_decay": ("radam", {"weight_decay": 0.1, "beta2": 0.99}, 0.01),
    "radam-decoupled": ("radam", {"weight_decay": 0.1, "decoupled_weight_decay": True}, 0.01),
    "adamax": ("adamax", {}, 0.01),
    "adamax-beta1-weight_decay": ("adamax", {"beta1": 0.5, "weight_decay": 0.1}, 0.01),
    "rprop": ("rprop", {}, 0.01),
    "rprop-etas-step_sizes": ("rprop", {"etas": [0.3, 1.5], "step_sizes": [1e-4, 0.5]}, 0.01),
    "asgd": ("asgd", {}, 0.01),
    "asgd-averaging-weight_decay": ("asgd", {"lambd": 0.01, "alpha": 0.5, "t0": 100, "weight_decay": 0.1}, 0.05),
    "adam-decoupled": ("adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}, 0.01),
    **{
        f"{name}-maximize": (name, {"maximize": True}, lr)
        for name, lr in [("gd", 0.05), ("momentum", 0.01), ("nag", 0.01), ("rmsprop", 0.003), ("adam", 0.01)]
        + [("adamw", 0.01), ("adagrad", 0.1), ("adadelta", 0.3), ("nadam", 0.01), ("radam", 0.01)]
        + [("adamax", 0.01), ("rprop", 0.01), ("asgd", 0.01)]
    },
}


@pytest.fixture
def torch64():
    """torch with float64 defaults: NAdam's mu_product and ASGD's eta are scalar tensors of the default dtype."""
    torch = pytest.importorskip("torch")
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(before)


@pytest.mark.parametrize("case", TORCH_500.values(), ids=TORCH_500.keys())
def test_torch_iterates_for_500_steps(torch64, case):
    name, hyper, lr = case
    sign = -1.0 if hyper.get("maximize") else 1.0  # ascend on -f: the run stays well-conditioned
    opt = make_optimizer(name, **hyper)
    x, state = QUAD_X0.copy(), opt.init(QUAD_X0)
    param = torch64.tensor(QUAD_X0, requires_grad=True)
    reference = torch_optimizer(torch64, name, hyper, param, lr)
    ours, theirs = np.empty((500, 3)), np.empty((500, 3))
    for t in range(500):
        x, state = opt.update(sign * quad_grad(x), state, x, lr)
        param.grad = torch64.from_numpy(sign * quad_grad(param.detach().numpy()))
        reference.step()
        ours[t], theirs[t] = x, param.detach().numpy()
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * scale)
