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
DECOUPLED = flag("decoupled_weight_decay", False, "Decay x by lr * weight_decay (AdamW-style) instead of L2.")
MAXIMIZE = flag("maximize", False, "Ascend: step along +gradient (torch maximize); every optimizer has it.")
BETAS = {"betas": ("beta1", "beta2")}


NO_SEARCH = line_search("none")  # every first-order rule may search along its own step (lr then defaults to 1)


def _spec(name: str, rule: str, params: tuple, **extra: Any) -> OptimizerSpec:
    groups = extra.pop("groups", {})
    return OptimizerSpec(name=name, table=Table((*params, MAXIMIZE, NO_SEARCH), groups), rule=rule, **extra)


def _with_maximize(spec: OptimizerSpec) -> OptimizerSpec:
    return replace(spec, table=Table((*spec.table.params, MAXIMIZE), spec.table.groups))


NOT_SCALED = {"line_search": "its step is not proportional to lr, the scale a line search varies"}


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
        (lr(1e-3), BETA1, BETA2, eps(1e-8), WEIGHT_DECAY, AMSGRAD, DECOUPLED),
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
    _spec(
        "nadam",
        "adam_variants:nadam",
        (
            lr(2e-3),
            BETA1,
            BETA2,
            eps(1e-8),
            WEIGHT_DECAY,
            number("momentum_decay", 4e-3, "Warm-up of the momentum schedule mu_t (torch's psi).", low=0),
            DECOUPLED,
        ),
        torch="NAdam",
        momentum="beta1",
        groups=BETAS,
    ),
    _spec(
        "radam",
        "adam_variants:radam",
        (lr(1e-3), BETA1, BETA2, eps(1e-8), WEIGHT_DECAY, DECOUPLED),
        torch="RAdam",
        momentum="beta1",
        groups=BETAS,
    ),
    _spec(
        "adamax",
        "adam:adamax",
        (
            lr(2e-3),
            BETA1,
            replace(BETA2, help="Decay of the infinity norm u (torch betas[1])."),
            eps(1e-8),
            WEIGHT_DECAY,
        ),
        torch="Adamax",
        momentum="beta1",
        groups=BETAS,
    ),
    _spec(
        "rprop",
        "sign:rprop",
        (
            lr(1e-2),
            number(
                "etaminus",
                0.5,
                "Step-size factor after a sign flip (torch etas[0]).",
                **POSITIVE,
                high=1,
                high_open=True,
            ),
            number("etaplus", 1.2, "Step-size factor while the sign holds (torch etas[1]).", low=1, low_open=True),
            number("step_size_min", 1e-6, "Smallest step size (torch step_sizes[0]).", low=0),
            number("step_size_max", 50.0, "Largest step size (torch step_sizes[1]).", **POSITIVE),
        ),
        torch="Rprop",
        limits=NOT_SCALED,
        conflict=lambda v: (
            None
            if v["step_size_min"] <= v["step_size_max"]
            else (f"step_size_min={v['step_size_min']!r} must not exceed step_size_max={v['step_size_max']!r}")
        ),
        groups={"etas": ("etaminus", "etaplus"), "step_sizes": ("step_size_min", "step_size_max")},
    ),
    _spec(
        "asgd",
        "sgd:asgd",
        (
            lr(1e-2),
            number("lambd", 1e-4, "Decay term: x = x * (1 - lambd * eta) each step.", low=0),
            number("alpha", 0.75, "Power of the eta decay: eta = lr / (1 + lambd * lr * t) ** alpha.", low=0),
            number("t0", 1e6, "Step at which averaging starts.", low=0),
            WEIGHT_DECAY,
        ),
        torch="ASGD",
        limits=NOT_SCALED,
    ),
    _spec(
        "lion",
        "sign:lion",
        (
            lr(1e-4),
            replace(BETA1, help="Interpolation of g and m for the update's sign."),
            replace(BETA2, default=0.99, help="Decay of the gradient average m."),
            replace(WEIGHT_DECAY, help="Decoupled decay: x = x - lr * weight_decay * x."),
        ),
        groups=BETAS,
    ),
    *(_with_maximize(spec) for spec in SEARCH_METHODS),
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
    if search is not None and "line_search" in spec.limits:
        raise ParamError(
            "line_search", f"{spec.name} cannot search: {spec.limits['line_search']}", f"optimizer {spec.name!r}"
        )
    rule = spec.function(
        **{key: value for key, value in values.items() if key not in ("lr", "maximize", "line_search")},
        **({"search": search} if spec.searching else {}),
    )
    ascend = bool(values.get("maximize"))
    if search is not None or spec.searching:
        from gradtool.optim.stepping import ascending, resting, searched
    if spec.searching:
        step = resting(rule[1])
        return Optimizer(spec.name, values, rule[0], None, step=ascending(step) if ascend else step)
    init, update = rule
    step = None
    if search is not None:
        if "lr" not in hyper:  # the first trial step of a search: a unit step unless lr says otherwise
            values["lr"] = 1.0
        step = resting(searched(update, search))
        step = ascending(step) if ascend else step
    return Optimizer(spec.name, values, init, _ascending(update) if ascend else update, step=step)


def merge_hyper(entries: list[dict[str, Any]], hyper: dict[str, Any], single: bool = False) -> list[dict[str, Any]]:
    """Give each value of ``hyper`` to every entry whose optimizer has that parameter and does not set it.

    Raises:
        ParamError: (key = the parameter) none of the entries takes it; with ``single``, the one entry lacks
            it or sets it itself.
    """
    known = [e for e in entries if e.get("name") in OPTIMIZERS]
    for key, value in hyper.items():
        takers = [e for e in known if OPTIMIZERS[e["name"]].table.get(key) is not None]
        if single and len(known) == 1:
            params = ", ".join(OPTIMIZERS[known[0]["name"]].table.names)
            if not takers:
                raise ParamError(key, f"{known[0]['name']} has no such parameter (its parameters: {params})")
            if key in known[0]:
                raise ParamError(key, "also set in the optimizer's own entry; give it once")
        elif not takers and len(known) == len(entries):
            raise ParamError(key, f"applies to none of {', '.join(e['name'] for e in entries)}")
        for entry in takers:
            entry.setdefault(key, value)
    return entries


def _ascending(update: Any) -> Any:
    """torch's ``maximize``, applied in one place: every rule first negates the gradient (a method that
    searches minimizes -f instead: ``gradtool.optim.stepping.ascending``)."""

    def ascend(grad: Any, state: Any, params: Any, lr: Any, **step: Any) -> Any:
        return update(-grad, state, params, lr, **step)

    return ascend


__all__ = [
    "ALIASES",
    "OPTIMIZERS",
    "ParamError",
    "make_optimizer",
    "merge_hyper",
    "optimizer_spec",
    "resolve_hyper",
    "uses_line_search",
]
