"""Cross-check with PyTorch (optional): one full-batch step's gradients of an mlp, layer by layer."""

from __future__ import annotations

import numpy as np
import pytest

from gradtool.fitting.gradients import AutodiffGradient, Objective
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import ACTIVATIONS, make_model
from gradtool.fitting.prepare import fit

torch = pytest.importorskip("torch")

TORCH_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "softplus": "Softplus"}
TORCH_LOSSES = {
    "mse": torch.nn.MSELoss,
    "mae": torch.nn.L1Loss,
    "huber": torch.nn.HuberLoss,  # delta 1, as ours
    "bce": torch.nn.BCEWithLogitsLoss,
    "cross-entropy": torch.nn.CrossEntropyLoss,  # probability targets: -sum t log_softmax(z), mean over rows
}


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
    criterion = TORCH_LOSSES[loss]()
    value = criterion(h, target) + l2 * sum((p**2).sum() for p in params[0::2])
    value.backward()
    return value.item(), [p.grad.numpy() for p in params]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", sorted(TORCH_LOSSES))
def test_one_full_batch_step_matches_torch(activation, loss):
    rng = np.random.default_rng(0)
    model = make_model("mlp:3-8-5-2", ["a", "b", "c", "y1", "y2"], ["y1", "y2"], activation=activation)
    objective = Objective(model, make_loss(loss), l2=0.01)
    x, y = rng.normal(size=(50, 3)), rng.random((50, 2))
    if loss == "cross-entropy":
        y /= y.sum(axis=1, keepdims=True)
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


def test_cross_entropy_from_class_labels_equals_torch_to_1e_12():
    """torch.nn.functional.cross_entropy with integer class targets: value and logit gradients."""
    rng = np.random.default_rng(1)
    model = make_model("mlp:4-5", ["a", "b", "c", "d", "y"], ["y"], outputs=(5, "5 classes"))
    objective = Objective(model, make_loss("ce"))
    x, labels = rng.normal(size=(40, 4)) * 3, rng.integers(0, 5, size=40)
    theta = rng.normal(size=model.layout.size) * 4  # logits of tens: log-sum-exp must not overflow
    value, grad = AutodiffGradient(objective)(theta, objective.args(x, np.eye(5)[labels]))
    weights, bias = (torch.tensor(np.array(v), requires_grad=True) for v in model.layout.views(theta))
    logits = torch.from_numpy(x) @ weights + bias
    want = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
    want.backward()
    assert value == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(grad, np.concatenate([weights.grad.numpy().ravel(), bias.grad.numpy()]), rtol=1e-12)
