"""Rich output of ``fit --grad-stats``: each layer's gradient norm at the first and last recorded epochs."""

from __future__ import annotations

from typing import Any

from gradtool.report.common import literal, num


def first_last(stats: dict[str, Any], epoch: int) -> tuple[str, str]:
    """The first and last layer's weight-gradient norms at ``epoch`` (``-`` when not recorded)."""
    if epoch not in stats["epochs"]:
        return "-", "-"
    k = stats["epochs"].index(epoch)
    layers = stats["layers"]
    return num(layers[0]["weight_grad_norm"][k], 3), num(layers[-1]["weight_grad_norm"][k], 3)


def _sci(value: float | None) -> str:
    """Norms span decades: two significant digits in scientific notation, ``1.1e-03``."""
    return "-" if value is None else num(value) if value != value or abs(value) == float("inf") else f"{value:.1e}"


def _row(stats: dict[str, Any], k: int, width: int) -> list[str]:
    norms = [layer["weight_grad_norm"][k] for layer in stats["layers"]]
    ratios = [r for layer in stats["layers"] if (r := layer["update_ratio"][k]) is not None]
    first, last = norms[0], norms[-1]
    shown = [_sci(v) for v in norms] + ["-"] * (width - len(norms))
    return [str(stats["epochs"][k]), *shown, _sci(first / last) if last else "-", _sci(max(ratios, default=None))]


def layers_table(runs: list[tuple[str, dict[str, Any]]]):
    """One row per run and epoch (its first and last recorded): every layer's ||dL/dW_k||, the ratio of the
    first layer's to the last layer's, and the largest update/weight ratio of that epoch."""
    from rich import box
    from rich.table import Table

    width = max(len(stats["layers"]) for _, stats in runs)
    labelled = any(label for label, _ in runs)
    table = Table(
        title="gradient norm ||dL/dW|| per layer (1 = next to the inputs)",
        caption="W1/WL: the first layer's norm over the last layer's (vanishing: << 1); update: the epoch's "
        "largest ||W(after) - W(before)|| / ||W(before)||",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    if labelled:
        table.add_column("run", no_wrap=True)
    for column in ["epoch", *(f"W{k}" for k in range(1, width + 1)), "W1/WL", "update"]:
        table.add_column(column, justify="right", no_wrap=True)
    for label, stats in runs:
        epochs = stats["epochs"]
        for k in sorted({0, len(epochs) - 1}):
            table.add_row(*([literal(label)] if labelled else []), *_row(stats, k, width))
    return table
