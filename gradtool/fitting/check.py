"""`check-grad --fit`: backprop gradients of a fit's objective against central differences, parameter by parameter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradtool.defaults import ATOL, RTOL
from gradtool.errors import ConfigError
from gradtool.fitting.gradients import EPS, AutodiffGradient, in_chunks
from gradtool.fitting.prepare import prepare_fit
from gradtool.params import ParamError

SAMPLE = 300  # parameters checked by default: central differences cost 2 passes over the data each


def check_fit(
    model: str,
    data: Any,
    target: str | list[str],
    *,
    h: float | None = None,
    rtol: float = RTOL.default,
    atol: float = ATOL.default,
    sample: int | None = SAMPLE,
    **options: Any,
) -> dict[str, Any]:
    """Compare the one-sweep backprop gradient of the mean loss (+ l2) over all rows with central differences.

    The parameters are the fit's starting point (``init``/``seed``/``load`` as for :func:`gradtool.fit`).
    A parameter agrees when ``|backprop - central| <= atol + rtol * |central|``. Central differences cost
    two passes over the data per parameter (mlp:2-300-300-1 took 117 s for all of its 91,501), so
    ``sample`` parameters are checked, drawn uniformly without replacement with ``seed`` (all of them when
    there are not more; None: all).

    Returns:
        ``{"model", "loss_function", "ok", "max_abs_error", "max_rel_error", "rtol", "atol", "h",
        "parameter_count", "checked", "parameters": [{"name", "backprop", "central", "abs_error",
        "rel_error", "ok"}]}`` with one entry per checked parameter, in layout order.
    """
    if h is not None and not 0 < h < math.inf:
        raise ConfigError(f"step h must be positive and finite, got {h}")
    if not (0 <= rtol < math.inf and 0 <= atol < math.inf):
        raise ConfigError(f"tolerances must be non-negative finite numbers, got rtol={rtol}, atol={atol}")
    if sample is not None and not (isinstance(sample, int) and not isinstance(sample, bool) and sample >= 1):
        raise ParamError("sample", f"must be a whole number >= 1, got {sample!r}")
    problem = prepare_fit(model, data, target, **{**options, "gradient": "autodiff", "batch_size": 1})
    objective, theta, args, chunk = problem.objective, problem.theta0, problem.train.args, problem.objective.chunk_rows
    _, full = in_chunks(AutodiffGradient(objective), theta, args, chunk)
    picked = _sample(theta.size, sample, options.get("seed", 0))
    backprop = full[picked]
    central = central_components(lambda t: in_chunks(objective.value, t, args, chunk), theta, picked, h)
    abs_error = np.abs(backprop - central)
    rel_error = abs_error / np.maximum(np.abs(central), np.finfo(float).tiny)
    ok = abs_error <= atol + rtol * np.abs(central)
    all_names = objective.layout.flat_names()
    names = [all_names[i] for i in picked]
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
        "parameter_count": int(theta.size),
        "checked": len(picked),
        "parameters": parameters,
    }


def _sample(count: int, sample: int | None, seed: int) -> list[int]:
    """Which parameters to check: all of them, or ``sample`` drawn with ``seed`` (in layout order)."""
    if sample is None or sample >= count:
        return list(range(count))
    return sorted(np.random.default_rng(seed).choice(count, size=sample, replace=False).tolist())


def central_components(value, theta: np.ndarray, indices: list[int], h: float | None = None) -> np.ndarray:
    """Central differences ``(F(theta + h_i e_i) - F(theta - h_i e_i)) / (2 h_i)`` for the ``indices`` only,
    ``h_i = h`` or ``eps^(1/3) max(1, |theta_i|)``; one copy of theta, perturbed in place and restored."""
    t = theta.copy()
    out = np.empty(len(indices))
    for k, i in enumerate(indices):
        step = h if h is not None else EPS ** (1 / 3) * max(1.0, abs(theta[i]))
        t[i] = theta[i] + step
        up_at, up = t[i], value(t)
        t[i] = theta[i] - step
        down_at, down = t[i], value(t)
        t[i] = theta[i]
        out[k] = (up - down) / (up_at - down_at)  # the steps actually taken, after rounding
    return out
