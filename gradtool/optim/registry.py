"""OPTIMIZERS: the one table of optimizer names and parameters (torch's names and defaults); make_optimizer.

Each entry is the only place its facts are written: validation, config fields, the JSON Schema, CLI flags and
help, ``gradtool optimizers`` and the docs tables all read it. Adding an optimizer takes its rule (a module
here) and one entry below.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gradtool.errors import ConfigError
from gradtool.optim.base import Optimizer, OptimizerSpec
from gradtool.optim.searching import SEARCH_METHODS, line_search, make_line_search, uses_line_search
from gradtool.params import ParamError, Table, flag, number

# ---- parameters shared by several optimizers (same meaning everywhere; each entry sets its default) --------

UNIT = {"low": 0, "high": 1}  # [0, 1]
BELOW_ONE = {"low": 0, "high": 1, "high_open": True}  # [0, 1)
POSITIVE = {"low": 0, "low_open": True}


def lr(default: float) -> Any:
    return number("lr", default, "Learning rate (the default of every step; a schedule may vary it).", low=0)


def eps(default: float) -> Any:
    return number("eps", default, "Added to the denominator for numerical stability.", **POSITIVE)


WEIGHT_DECAY = number("weight_decay", 0.0, "L2 penalty: g = grad + weight_decay * x.", low=0)
MOMENTUM = number("momentum", 0.9, "Momentum factor mu.", **BELOW_ONE)
DAMPENING = number("dampening", 0.0, "Dampening of the gradient entering the momentum buffer.", **UNIT)
BETA1 = number("beta1", 0.9, "Decay of the gradient average m (torch betas[0]).", **BELOW_ONE)
BETA2 = number("beta2", 0.999, "Decay of the squared-gradient average v (torch betas[1]).", **BELOW_ONE)
AMSGRAD = flag("amsgrad", False, "AMSGrad: divide by the running maximum of v.")
BETAS = {"betas": ("beta1", "beta2")}


NO_SEARCH = line_search("none")  # every first-order rule may search along its own step (lr then defaults to 1)


def _spec(name: str, rule: str, params: tuple, **extra: Any) -> OptimizerSpec:
    groups = extra.pop("groups", {})
    return OptimizerSpec(name=name, table=Table((*params, NO_SEARCH), groups), rule=rule, **extra)


def nesterov_conflict(hyper: dict[str, Any]) -> str | None:
    """torch's rule: Nesterov momentum needs momentum > 0 and dampening = 0 (``nag`` is always Nesterov)."""
    if hyper.get("nesterov", True) and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        return (
            f"Nesterov momentum needs momentum > 0 and dampening=0, "
            f"got momentum={hyper['momentum']!r}, dampening={hyper['dampening']!r}"
        )
    return None


_CANONICAL = (
    _spec("gd", "sgd:gd", (lr(1e-3), WEIGHT_DECAY), torch="SGD"),
    _spec(
        "momentum",
        "sgd:heavy_ball",
        (lr(1e-3), MOMENTUM, DAMPENING, WEIGHT_DECAY, flag("nesterov", False, "Nesterov momentum (as nag).")),
        torch="SGD",
        conflict=nesterov_conflict,
        momentum="momentum",
    ),
    _spec(
        "nag",
        "sgd:nesterov",
        (lr(1e-3), MOMENTUM, DAMPENING, WEIGHT_DECAY),
        torch="SGD",
        conflict=nesterov_conflict,
        momentum="momentum",
    ),
    _spec(
        "rmsprop",
        "adaptive:rmsprop",
        (
            lr(1e-2),
            number("alpha", 0.99, "Smoothing constant of the squared-gradient average.", **UNIT),
            eps(1e-8),
            WEIGHT_DECAY,
            MOMENTUM.with_default(0.0),
            flag("centered", False, "Divide by the estimated variance (subtract the squared mean gradient)."),
            flag("eps_in_sqrt", False, "Add eps inside the square root (TensorFlow/Optax) instead of outside."),
        ),
        torch="RMSprop",
        momentum="momentum",
    ),
    _spec(
        "adam",
        "adam:adam",
        (lr(1e-3), BETA1, BETA2, eps(1e-8), WEIGHT_DECAY, AMSGRAD),
        torch="Adam",
        momentum="beta1",
        groups=BETAS,
    ),
    _spec(
        "adamw",
        "adam:adamw",
        (
            lr(1e-3),
            BETA1,
            BETA2,
            eps(1e-8),
            replace(WEIGHT_DECAY, default=1e-2, help="Decoupled decay: x = x * (1 - lr * weight_decay)."),
            AMSGRAD,
        ),
        torch="AdamW",
        momentum="beta1",
        groups=BETAS,
    ),
    _spec(
        "adagrad",
        "adaptive:adagrad",
        (
            lr(1e-2),
            number("lr_decay", 0.0, "Learning-rate decay: lr / (1 + (t - 1) * lr_decay).", low=0),
            WEIGHT_DECAY,
            number("initial_accumulator_value", 0.0, "Start value of the sum of squared gradients.", low=0),
            eps(1e-10),
        ),
        torch="Adagrad",
    ),
    _spec(
        "adadelta",
        "adaptive:adadelta",
        (
            lr(1.0),
            number("rho", 0.9, "Decay of the squared-gradient and squared-step averages.", **UNIT),
            eps(1e-6),
            WEIGHT_DECAY,
        ),
        torch="Adadelta",
    ),
    *SEARCH_METHODS,
)

#: Other names accepted for an optimizer (alias -> canonical name).
ALIASES: dict[str, str] = {"sgd": "gd"}

#: Every accepted optimizer name -> its spec; an alias maps to the same spec object (``spec.name`` is the
#: canonical name), so ``list(OPTIMIZERS)`` is the full list of CLI/config choices.
OPTIMIZERS: dict[str, OptimizerSpec] = {spec.name: spec for spec in _CANONICAL}
OPTIMIZERS.update({alias: OPTIMIZERS[name] for alias, name in ALIASES.items()})


def optimizer_spec(name: Any) -> OptimizerSpec:
    """The registry entry of ``name`` (an alias resolves), or a ConfigError listing the names."""
    spec = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    return spec


def resolve_hyper(spec: OptimizerSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of ``spec``: ``overrides`` (checked; torch's ``betas`` spelling accepted) over
    the defaults.

    Raises:
        ParamError: naming the parameter, the bad value and what is allowed (or the conflict).
    """
    owner = f"optimizer {spec.name!r}"
    values = spec.table.resolve(overrides, owner)
    message = spec.conflict(values) if spec.conflict else None
    if message:
        raise ConfigError(f"{owner}: {message}")
    return values


def make_optimizer(name: str, **hyper: Any) -> Optimizer:
    """Build a configured optimizer from the registry.

    Args:
        name: a key of ``OPTIMIZERS`` (aliases such as ``sgd`` resolve to their canonical name).
        **hyper: hyperparameters overriding the entry's defaults (torch's names; ``betas=(b1, b2)`` is
            accepted for ``beta1, beta2``); ``lr`` sets the default learning rate recorded in
            ``Optimizer.hyper`` (``update`` still takes the lr of each step); ``line_search`` (a name of
            ``LINE_SEARCHES`` or ``{"name": ..., parameters}``) makes a first-order rule search along its
            own step from ``t0 = lr``, and lr then defaults to 1.

    Returns:
        An ``Optimizer`` whose ``hyper`` holds every hyperparameter, defaults included.

    Raises:
        ConfigError: unknown optimizer or hyperparameter (the message lists the allowed ones), or an
            invalid value (a ParamError naming it and the allowed range).
    """
    spec = optimizer_spec(name)
    values = resolve_hyper(spec, hyper)
    search = make_line_search(values["line_search"]) if "line_search" in values else None
    rule = spec.function(
        **{key: value for key, value in values.items() if key not in ("lr", "line_search")},
        **({"search": search} if spec.searching else {}),
    )
    if spec.searching:
        return Optimizer(name=spec.name, hyper=values, init=rule[0], update=None, step=rule[1])
    init, update = rule
    if search is None:
        return Optimizer(name=spec.name, hyper=values, init=init, update=update)
    from gradtool.optim.stepping import searched

    if "lr" not in hyper:  # the first trial step of a search: a unit step unless lr says otherwise
        values["lr"] = 1.0
    return Optimizer(name=spec.name, hyper=values, init=init, update=update, step=searched(update, search))


__all__ = [
    "ALIASES",
    "OPTIMIZERS",
    "ParamError",
    "make_optimizer",
    "optimizer_spec",
    "resolve_hyper",
    "uses_line_search",
]
