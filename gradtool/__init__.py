"""gradtool: derivatives and gradient descent, from Python or the command line.

The public API is imported lazily so that ``gradtool --help`` loads neither SymPy nor numpy.
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = {
    "load_objective": "gradtool.expr.objective",
    "Objective": "gradtool.expr.objective",
    "parse_expression": "gradtool.expr.parser",
    "make_engine": "gradtool.grad.engines",
    "ENGINES": "gradtool.grad.engines",
    "run_check": "gradtool.check",
    "minimize": "gradtool.descent",
    "prepare": "gradtool.descent",
    "RunResult": "gradtool.result",
    "fit": "gradtool.fitting.prepare",
    "prepare_fit": "gradtool.fitting.prepare",
    "FitResult": "gradtool.fitting.result",
    "check_fit": "gradtool.fitting.check",
    "make_optimizer": "gradtool.optim",
    "make_schedule": "gradtool.optim",
    "OPTIMIZERS": "gradtool.optim",
    "SCHEDULES": "gradtool.optim",
    "describe_gradient": "gradtool.derive",
    "GradtoolError": "gradtool.errors",
    "ParseError": "gradtool.errors",
    "PointError": "gradtool.errors",
    "ConfigError": "gradtool.errors",
    "DataError": "gradtool.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'gradtool' has no attribute {name!r}")
