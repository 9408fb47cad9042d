"""OPTIMIZERS: the one table of optimizer names, torch-style defaults and builders; make_optimizer."""

from __future__ import annotations

from gradtool.errors import ConfigError
from gradtool.optim import adam, adaptive, sgd
from gradtool.optim.base import Optimizer, OptimizerSpec, resolve_hyper


def _spec(name: str, build, conflict=None, **defaults: float | bool) -> OptimizerSpec:
    summary = (build.__doc__ or "").strip().splitlines()[0].rstrip(":")
    return OptimizerSpec(name=name, defaults=defaults, build=build, summary=summary, conflict=conflict)


_CANONICAL = (
    _spec("gd", sgd.gd, lr=1e-3, weight_decay=0.0),
    _spec(
        "momentum",
        sgd.heavy_ball,
        sgd.nesterov_conflict,
        lr=1e-3,
        momentum=0.9,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
    ),
    _spec("nag", sgd.nesterov, sgd.nesterov_conflict, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0),
    _spec(
        "rmsprop",
        adaptive.rmsprop,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        eps_in_sqrt=False,
    ),
    _spec("adam", adam.adam, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False),
    _spec("adamw", adam.adamw, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False),
    _spec(
        "adagrad",
        adaptive.adagrad,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
    ),
    _spec("adadelta", adaptive.adadelta, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
)

#: Other names accepted for an optimizer (alias -> canonical name).
ALIASES: dict[str, str] = {"sgd": "gd"}

#: Every accepted optimizer name -> its spec; an alias maps to the same spec object (``spec.name`` is the
#: canonical name), so ``list(OPTIMIZERS)`` is the full list of CLI/config choices.
OPTIMIZERS: dict[str, OptimizerSpec] = {spec.name: spec for spec in _CANONICAL}
OPTIMIZERS.update({alias: OPTIMIZERS[name] for alias, name in ALIASES.items()})


def make_optimizer(name: str, **hyper: float | bool) -> Optimizer:
    """Build a configured optimizer from the registry.

    Args:
        name: a key of ``OPTIMIZERS`` (aliases such as ``sgd`` resolve to their canonical name).
        **hyper: hyperparameters overriding ``OPTIMIZERS[name].defaults``; ``lr`` sets the default
            learning rate recorded in ``Optimizer.hyper`` (``update`` still takes the lr of each step).

    Returns:
        An ``Optimizer`` whose ``hyper`` holds every hyperparameter, defaults included.

    Raises:
        ConfigError: unknown optimizer or hyperparameter (the message lists the allowed ones), or an
            invalid value (the message names it and the allowed range).
    """
    spec = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    values = resolve_hyper(spec, hyper)
    init, update = spec.build(**{key: value for key, value in values.items() if key != "lr"})
    return Optimizer(name=spec.name, hyper=values, init=init, update=update)
