"""fit --grad-stats against PyTorch (optional): every layer's gradient norms equal those of a torch model with
the same weights, at the start and at the end of a fit."""

from __future__ import annotations

import numpy as np
import pytest

from gradtool.fitting.data import read_csv
from gradtool.fitting.prepare import fit

torch = pytest.importorskip("torch")

from test_fit_torch import torch_gradients  # noqa: E402


@pytest.mark.parametrize(("activation", "init"), [("sigmoid", None), ("tanh", None), ("relu", "scale=3")])
def test_layer_norms_equal_a_torch_models(activation, init):
    options = dict(activation=activation, init=init, optimizer="adam", lr=0.01, epochs=30, seed=5, grad_stats=True)
    result = fit("mlp:1-8-8-8-8-8-1", "data/sine.csv", "y", **options)
    start = fit("mlp:1-8-8-8-8-8-1", "data/sine.csv", "y", **{**options, "epochs": 0}).theta
    table = read_csv("data/sine.csv")
    x, y = table.matrix(["x"], "input"), table.matrix(["y"], "target")
    model, stats = result.objective.model, result.grad_stats
    for k, theta in ((0, start), (-1, result.theta)):
        _, grads = torch_gradients(model, theta, x, y, "mse", 0.0)
        for layer, weights, biases in zip(stats["layers"], grads[0::2], grads[1::2], strict=True):
            assert layer["weight_grad_norm"][k] == pytest.approx(np.linalg.norm(weights), rel=1e-10)
            assert layer["bias_grad_norm"][k] == pytest.approx(np.linalg.norm(biases), rel=1e-10, abs=1e-300)
