"""`check-grad --fit`: backprop gradients of a fit's objective against central differences, parameter by parameter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradtool.defaults import ATOL, RTOL
from gradtool.errors import ConfigError
from gradtool.fitting.gradients import AutodiffGradient, central_gradient, in_chunks
from gradtool.fitting.prepare import prepare_fit


def check_fit(
    model: str,
    data: Any,
    target: str | list[str],
    *,
    h: float | None = None,
    rtol: float = RTOL.default,
    atol: float = ATOL.default,
    **options: Any,
) -> dict[str, Any]:
    """Compare the one-sweep backprop gradient of the mean loss (+ l2) over all rows with central differences.

    The parameters are the fit's starting point (``init``/``seed``/``load`` as for :func:`gradtool.fit`).
    A parameter agrees when ``|backprop - central| <= atol + rtol * |central|``.

    Returns:
        ``{"model", "loss_function", "ok", "max_abs_error", "max_rel_error", "rtol", "atol", "h",
        "parameters": [{"name", "backprop", "central", "abs_error", "rel_error", "ok"}]}``.
    """
    if h is not None and not 0 < h < math.inf:
        raise ConfigError(f"step h must be positive and finite, got {h}")
    if not (0 <= rtol < math.inf and 0 <= atol < math.inf):
        raise ConfigError(f"tolerances must be non-negative finite numbers, got rtol={rtol}, atol={atol}")
    problem = prepare_fit(model, data, target, **{**options, "gradient": "autodiff", "batch_size": 1})
    objective, theta, args, chunk = problem.objective, problem.theta0, problem.train.args, problem.objective.chunk_rows
    _, backprop = in_chunks(AutodiffGradient(objective), theta, args, chunk)
    central = central_gradient(lambda t: in_chunks(objective.value, t, args, chunk), theta, h)
    abs_error = np.abs(backprop - central)
    rel_error = abs_error / np.maximum(np.abs(central), np.finfo(float).tiny)
    ok = abs_error <= atol + rtol * np.abs(central)
    names = objective.layout.flat_names()
    parameters = [
        {
            "name": n,
            "backprop": float(b),
            "central": float(c),
            "abs_error": float(a),
            "rel_error": float(min(r, 1e300)),
            "ok": bool(k),
        }
        for n, b, c, a, r, k in zip(names, backprop, central, abs_error, rel_error, ok, strict=True)
    ]
    return {
        "model": objective.model.text,
        "loss_function": objective.loss.name,
        "ok": bool(ok.all()),
        "max_abs_error": float(abs_error.max()),
        "max_rel_error": float(min(rel_error.max(), 1e300)),
        "rtol": rtol,
        "atol": atol,
        "h": h,
        "parameters": parameters,
    }
