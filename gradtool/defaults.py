"""Options shared by the library, configs and the CLI, declared once (no heavy imports: the CLI reads them
while it builds ``--help``)."""

from __future__ import annotations

from gradtool.params import integer, number

# at most 10^9 steps: ~hours at 1 us a step
STEPS = integer("steps", 1000, "Maximum number of steps (at most 10^9).", low=0, high=1_000_000_000)
TOL = number("tol", 1e-8, "Converged when |g| <= tol (0: never stop on |g|).", low=0)
FTOL = number("ftol", None, "Converged when |f_t - f_(t-1)| <= ftol (default: off).", low=0)
XTOL = number("xtol", None, "Converged when the step's length |x_t - x_(t-1)| <= xtol (default: off).", low=0)
RTOL = number("rtol", 1e-6, "Relative tolerance per gradient component (check-grad).", low=0)
ATOL = number("atol", 1e-8, "Absolute tolerance per gradient component (check-grad).", low=0)
ENGINE = "analytic"  # the gradient engine of minimize, compare, lr-find and plot
EPOCHS = integer("epochs", 100, "Passes over the training rows.", low=0)
FIT_ENGINE = "autodiff"  # the gradient engine of fit

# lr-find: the range test's learning rates and steps
LR_MIN, LR_MAX, LR_NUM, LR_FIND_STEPS = 1e-6, 10.0, 50, 200
