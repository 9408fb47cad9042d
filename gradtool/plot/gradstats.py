"""The panel of ``fit --grad-stats --plot``: every layer's gradient norm against epoch, on a log scale."""

from __future__ import annotations

from typing import Any

import numpy as np


def grad_norm_panel(stats: dict[str, Any]):
    """A ``panel`` for :func:`gradtool.plot.curves.draw_fit` / ``draw_loss``: one line per layer, ||dL/dW_k||
    against epoch, coloured from the first layer (dark) to the last (light); zeros and non-finite norms
    leave gaps."""

    def draw(ax) -> None:
        from matplotlib import colormaps

        layers = stats["layers"]
        colours = colormaps["viridis"](np.linspace(0.0, 0.85, len(layers)))
        epochs = np.asarray(stats["epochs"], float)
        for colour, layer in zip(colours, layers, strict=True):
            norms = np.asarray(layer["weight_grad_norm"], float)
            shown = np.where(np.isfinite(norms) & (norms > 0), norms, np.nan)
            first_or_last = layer is layers[0] or layer is layers[-1]
            label = f"{layer['weights']}" + (
                " (first)" if layer is layers[0] else " (last)" if layer is layers[-1] else ""
            )
            ax.plot(epochs, shown, color=colour, lw=2.0 if first_or_last else 1.2, label=label)
        ax.set_yscale("log")
        ax.set(title="gradient norm per layer ||dL/dW||", xlabel="epoch", ylabel="||dL/dW|| (log scale)")
        ax.legend(loc="best", ncols=2 if len(layers) > 6 else 1)

    return draw
