"""Cross-check with PyTorch (optional): one full-batch step's gradients of an mlp, layer by layer."""

from __future__ import annotations

import numpy as np
import pytest

from gradtool.fitting.gradients import AutodiffGradient, Objective
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import ACTIVATIONS, make_model
from gradtool.fitting.train import fit

torch = pytest.importorskip("torch")

TORCH_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "softplus": "Softplus"}


def torch_gradients(model, theta, x, y, loss: str, l2: float):
    """The same network in torch (float64; ``nn.Linear`` stores W transposed), its loss and gradients."""
    views = model.layout.views(theta)
    params = [torch.tensor(np.array(v), requires_grad=True) for v in views]
    h = torch.from_numpy(x)
    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1]
        if k + 2 < len(params):
            h = getattr(torch.nn, TORCH_ACTIVATIONS[model.activation])()(h)
    target = torch.from_numpy(y)
    criterion = torch.nn.MSELoss() if loss == "mse" else torch.nn.BCEWithLogitsLoss()
    value = criterion(h, target) + l2 * sum((p**2).sum() for p in params[0::2])
    value.backward()
    return value.item(), [p.grad.numpy() for p in params]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_one_full_batch_step_matches_torch(activation, loss):
    rng = np.random.default_rng(0)
    model = make_model("mlp:3-8-5-2", ["a", "b", "c", "y1", "y2"], ["y1", "y2"], activation=activation)
    objective = Objective(model, make_loss(loss), l2=0.01)
    x, y = rng.normal(size=(50, 3)), rng.random((50, 2))
    theta = model.init(rng) + 0.1 * rng.normal(size=model.layout.size)
    value, grad = AutodiffGradient(objective)(theta, objective.args(x, y))
    want_value, want = torch_gradients(model, theta, x, y, loss, 0.01)
    assert value == pytest.approx(want_value, rel=1e-13)
    for name, ours, theirs in zip(model.layout.names, model.layout.views(grad), want, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14, err_msg=name)


def test_a_fitted_step_moves_the_weights_as_torch_sgd_does():
    result = fit("mlp:2-4-1", "data/xor.csv", "y", loss="bce", optimizer="gd", lr=0.5, epochs=0, seed=4)
    model, theta = result.objective.model, result.theta
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    _, grads = torch_gradients(model, theta, x, y, "bce", 0.0)
    stepped = fit("mlp:2-4-1", "data/xor.csv", "y", loss="bce", optimizer="gd", lr=0.5, epochs=1, seed=4)
    want = theta - 0.5 * np.concatenate([g.ravel() for g in grads])
    np.testing.assert_allclose(stepped.theta, want, rtol=1e-12, atol=1e-15)
