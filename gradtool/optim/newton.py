"""Newton's method with a shifted Hessian, and truncated Newton-CG on Hessian-vector products."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn
from gradtool.optim.quasinewton import first_trial
from gradtool.optim.stepping import Move, line_step, moved


class NewtonState(NamedTuple):
    """``shift``: the tau added to the Hessian's diagonal at the last step (0: it was positive definite)."""

    step: int
    shift: float


def shift_for(h: np.ndarray, beta: float) -> float | None:
    """The tau making ``H + tau I`` positive definite (Nocedal & Wright Alg. 3.3, Cholesky with added multiple
    of the identity): 0 if H is, else from ``max(0, beta - min H_ii)``, doubled (at least ``beta``) until a
    Cholesky factorization succeeds; None if tau overflows."""
    smallest = float(np.min(np.diag(h)))
    tau = 0.0 if smallest > 0 else beta - smallest
    eye = np.eye(len(h))
    while math.isfinite(tau):
        try:
            np.linalg.cholesky(h + tau * eye if tau else h)
            return tau
        except np.linalg.LinAlgError:
            tau = max(2.0 * tau, beta)
    return None


def newton_direction(h: np.ndarray, g: np.ndarray, beta: float) -> tuple[np.ndarray | None, float]:
    """``(d, tau)``: ``d = -(H + tau I)^-1 g`` (None when no shift makes H positive definite)."""
    h = (h + h.T) / 2
    tau = shift_for(h, beta)
    if tau is None:
        return None, math.inf
    return -np.linalg.solve(h + tau * np.eye(len(h)) if tau else h, g), tau


def newton(shift: float, search: Callable | None) -> tuple[InitFn, Callable]:
    """Newton's method with an eigenvalue shift (Nocedal & Wright Alg. 3.2 with Alg. 3.3)::

        H = the exact Hessian at x                 analytic (SymPy), or our autodiff beyond 64 variables
        tau = 0 if H is positive definite, else the first of tau_0 = max(0, shift - min_i H_ii),
              tau_(k+1) = max(2 tau_k, shift), ... for which H + tau I has a Cholesky factor
        d = -(H + tau I)^-1 g                      every eigenvalue shifted by tau: a descent direction
        t = the line search's step from t0 = lr    Armijo backtracking by default; none: x + lr d
        x = x + t d

    With tau = 0 and t = 1 near a minimizer with a positive-definite Hessian, convergence is quadratic. The
    Hessian is formed (and factored) at every step: O(n^2) memory, O(n^3) time; newton-cg never forms it.
    """

    def init(params: np.ndarray) -> NewtonState:
        return NewtonState(0, 0.0)

    def step(oracle, x, f, g, state, lr):
        h = oracle.hessian(x)
        d, tau = newton_direction(h, g, shift) if np.all(np.isfinite(h)) else (None, math.nan)
        if d is None:
            return Move(x, f, g, state, 0.0, "the Hessian is not finite at x: no Newton direction")
        found = line_step(oracle, x, f, g, d, lr, search)
        return moved(x, d, found, Move(x, f, g, state, 0.0), NewtonState(state.step + 1, tau))

    return init, step


class NewtonCGState(NamedTuple):
    """``cg``: the conjugate-gradient iterations (Hessian-vector products) of the last step; ``f_prev``: f
    before it (for the next first trial step)."""

    step: int
    cg: int
    f_prev: float | None


def truncated_cg(hvp: Callable, g: np.ndarray, max_cg: int) -> tuple[np.ndarray, int]:
    """``(d, products)``: CG on ``H d = -g`` from ``d = 0`` (Nocedal & Wright Alg. 7.1) until the residual's
    1-norm is at most ``min(0.5, sqrt|g|_1) |g|_1`` (scipy's forcing term), or a direction of non-positive
    curvature (then the iterate so far; on the first iteration steepest descent scaled by that curvature,
    ``-(g.g / |g.Hg|) g``, as scipy), or ``max_cg`` products."""
    size = float(np.abs(g).sum())
    tol = min(0.5, math.sqrt(size)) * size
    z, r, p = np.zeros_like(g), g, -g
    rr = float(r @ r)
    for j in range(max_cg):
        if float(np.abs(r).sum()) <= tol:
            return z, j
        hp = hvp(p)
        curvature = float(p @ hp)
        if not curvature > 0:
            if j > 0:
                return z, j + 1
            return (-(rr / -curvature) * g if curvature < 0 else -g), 1
        alpha = rr / curvature
        z, r = z + alpha * p, r + alpha * hp
        rr_new = float(r @ r)
        p, rr = -r + (rr_new / rr) * p, rr_new
    return z, max_cg


def newton_cg(max_cg: int | None, search: Callable | None) -> tuple[InitFn, Callable]:
    """Truncated Newton (Newton-CG; Nocedal & Wright Alg. 7.1), Hessian-free::

        d = CG on H d = -g, stopped at |residual|_1 <= min(0.5, sqrt|g|_1) |g|_1 or negative curvature
        H p = a Hessian-vector product from our reverse-mode tape (forward-over-reverse): no n x n matrix
        t = the line search's step                 strong Wolfe by default, as scipy's Newton-CG
        x = x + t d

    At most ``max_cg`` products per step (default 20 n, scipy's). The first trial step is lr, then scipy's
    ``min(lr, 1.01 * 2 (f - f_prev) / g.d)`` (see ``bfgs``). The forcing term is scipy's ``Newton-CG``'s (in
    1-norms; Nocedal & Wright's Alg. 7.1 uses 2-norms, which stops CG later: more products, more steps on
    Rosenbrock).
    """

    def init(params: np.ndarray) -> NewtonCGState:
        return NewtonCGState(0, 0, None)

    def step(oracle, x, f, g, state, lr):
        d, products = truncated_cg(lambda v: oracle.hvp(x, v), g, max_cg or 20 * len(x))
        t0 = lr if state.f_prev is None else first_trial(lr, f, state.f_prev, float(g @ d), d)
        found = line_step(oracle, x, f, g, d, t0, search)
        return moved(x, d, found, Move(x, f, g, state, 0.0), NewtonCGState(state.step + 1, products, f))

    return init, step
