"""Gradient health of a network in training (``fit --grad-stats``): per layer and epoch, the norms of the loss's
gradient with respect to the layer's weights and biases, and the size of the epoch's update to the weights
relative to the weights. Vanishing gradients show as first-layer norms orders of magnitude below the last's;
exploding ones as norms growing layer by layer towards the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradtool.params import ParamError

MAX_RECORDS = 10_000  # epochs kept per fit; longer fits keep every k-th epoch (and every table row's)


def layer_slices(layout) -> list[tuple[str, slice, slice]]:
    """``(layer number, weights' slice, biases' slice)`` of the flat parameter vector, layer by layer."""
    bounds = dict(zip(layout.names, layout.bounds, strict=True))
    layers = []
    for name in layout.names:
        if name.startswith("W") and f"b{name[1:]}" in bounds:
            (a, b), (c, d) = bounds[name], bounds[f"b{name[1:]}"]
            layers.append((name[1:], slice(a, b), slice(c, d)))
    return layers


def layer_norms(layout, g: np.ndarray) -> list[tuple[float, float]]:
    """``(||dF/dW_k||, ||dF/db_k||)`` per layer: Euclidean (Frobenius) norms of the gradient's blocks."""
    return [(_norm(g[w]), _norm(g[b])) for _, w, b in layer_slices(layout)]


def _norm(v: np.ndarray) -> float:
    return math.sqrt(float(v @ v))


@dataclass
class GradStats:
    """The recorder: ``record`` per epoch (``previous`` = the parameters before the epoch, None at epoch 0)."""

    layers: list[tuple[str, slice, slice]]
    stride: int
    every: int
    epochs: list[int] = field(default_factory=list)
    weights: list[list[float]] = field(default_factory=list)  # per epoch, per layer
    biases: list[list[float]] = field(default_factory=list)
    ratios: list[list[float | None]] = field(default_factory=list)

    @classmethod
    def for_model(cls, model, epochs: int, every: int) -> GradStats:
        """A recorder for ``model``'s layers; ConfigError for a model without layers (an expression)."""
        layers = layer_slices(model.layout) if model.kind != "expression" else []
        if not layers:
            raise ParamError("grad_stats", "records per-layer gradients of networks (mlp, linear, logistic)")
        return cls(layers, max(1, math.ceil(epochs / MAX_RECORDS)), every)

    def clear(self) -> None:
        for history in (self.epochs, self.weights, self.biases, self.ratios):
            history.clear()

    def due(self, epoch: int) -> bool:
        return epoch % self.stride == 0 or epoch % self.every == 0

    def record(self, epoch: int, g: np.ndarray, theta: np.ndarray, previous: np.ndarray | None) -> None:
        if self.epochs and self.epochs[-1] == epoch:
            return
        self.epochs.append(epoch)
        self.weights.append([_norm(g[w]) for _, w, _ in self.layers])
        self.biases.append([_norm(g[b]) for _, _, b in self.layers])
        self.ratios.append([_ratio(theta[w], previous[w]) if previous is not None else None for _, w, _ in self.layers])

    def at(self, epoch: int) -> list[float] | None:
        """The weights' gradient norms recorded at ``epoch`` (None if that epoch was not recorded)."""
        return self.weights[self.epochs.index(epoch)] if epoch in self.epochs else None

    def to_dict(self) -> dict[str, Any]:
        """``fit --json``'s ``grad_stats`` (docs/fit.md#gradient-health---grad-stats)."""
        layers = [
            {
                "layer": int(name),
                "weights": f"W{name}",
                "biases": f"b{name}",
                "weight_grad_norm": [row[k] for row in self.weights],
                "bias_grad_norm": [row[k] for row in self.biases],
                "update_ratio": [row[k] for row in self.ratios],
            }
            for k, (name, _, _) in enumerate(self.layers)
        ]
        return {"epochs": list(self.epochs), "stride": self.stride, "layers": layers}


def _ratio(new: np.ndarray, old: np.ndarray) -> float:
    """||new - old|| / ||old||: the epoch's update relative to the weights (inf for zero weights)."""
    size = _norm(old)
    step = _norm(new - old)
    return step / size if size else (0.0 if step == 0 else math.inf)
