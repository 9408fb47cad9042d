"""Options declared once for several commands: those of the optimizer and schedule (and, through
:func:`with_options`, any other group, such as a fit problem's).

``@optimizer_options(...)`` adds ``--optimizer`` (or ``--optimizers``), ``--lr``, the common hyperparameter
flags, ``--schedule`` and its common flags to a command, with help read from the registries, and hands the
command one :class:`Choice`. Every other parameter is reachable through the call shorthand
(``--optimizer 'adam(lr=0.01, betas=[0.8, 0.99])'``, ``--schedule 'onecycle(max_lr=0.1)'``), which the
config code parses and validates.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from gradtool.cli.choices import (
    flag_name,
    line_search_entry,
    merge_flags,
    optimizer_entry,
    schedule_entry,
    split_top_level,
)

#: Parameters with a flag of their own (the rest go through the shorthand): they must exist in the registry.
HYPER_FLAGS = (
    "momentum",
    "dampening",
    "alpha",
    "eps",
    "beta1",
    "beta2",
    "weight_decay",
    "centered",
    "eps_in_sqrt",
    "amsgrad",
    "lr_decay",
    "initial_accumulator_value",
    "rho",
)
SCHEDULE_FLAGS = ("gamma", "step_size", "decay", "t_max", "eta_min", "warmup")


@dataclass
class Choice:
    """The optimizer(s) and schedule a command line asks for: shorthand texts and the flags given."""

    optimizers: list[str]
    option: str  # the flag that named them, for messages
    hyper: dict[str, Any] = field(default_factory=dict)  # --lr and the hyperparameter flags given
    schedule: str | None = None
    schedule_flags: dict[str, Any] = field(default_factory=dict)

    def entries(self) -> list[dict[str, Any]]:
        """One validated config entry per optimizer, each flag merged into the entries that have it."""
        entries = [optimizer_entry(text, self.option) for text in self.optimizers]
        return merge_flags(entries, self.hyper)

    def schedule_entry(self) -> dict[str, Any] | None:
        """The validated schedule entry (``constant`` when only flags were given), or None."""
        return schedule_entry(self.schedule, self.schedule_flags)

    def run_options(self) -> dict[str, Any]:
        """Keyword arguments of ``gradtool.minimize`` / ``gradtool.fit`` for the one optimizer chosen."""
        (entry,) = self.entries()
        out = {"optimizer": entry.pop("name"), **entry}
        sched = self.schedule_entry()
        if sched is not None:
            out["schedule"] = sched.pop("name")
            out["schedule_options"] = sched
        return out


# ---- the generated parameters ----------------------------------------------------------------------------


def _defaults_by_help(registry: dict, key: str) -> str:
    """``Momentum factor mu (default 0.9; rmsprop 0).``: one clause per meaning of ``key`` among the entries,
    with the most common default and the entries that differ from it."""
    meanings: dict[str, dict[str, str]] = {}
    for name, spec in registry.items():
        param = spec.table.get(key)
        if param is not None and name == spec.name:  # aliases share their entry
            meanings.setdefault(param.help.rstrip("."), {})[name] = param.default_text
    if not meanings:
        raise KeyError(f"{key} is not a parameter of any registry entry")
    boolean = next(spec.table.get(key).kind == "boolean" for spec in registry.values() if spec.table.get(key))
    clauses = [
        f"{text} ({', '.join(defaults) if boolean else _defaults(defaults)})" for text, defaults in meanings.items()
    ]
    return "; ".join(clauses) + "."


def _defaults(defaults: dict[str, str]) -> str:
    """``default 1e-8; adagrad 1e-10``: the most common default, then the entries that differ from it."""
    if len(defaults) == 1:
        return " ".join(next(iter(defaults.items())))
    values = list(defaults.values())
    common = max(values, key=values.count)
    return "; ".join([f"default {common}", *(f"{name} {v}" for name, v in defaults.items() if v != common)])


def _kind_type(kind: str) -> type:
    return {"number": float, "integer": int, "boolean": bool}[kind]


def _flag_param(registry: dict, key: str, prefix: str = "") -> inspect.Parameter:
    kind = next(spec.table.get(key).kind for spec in registry.values() if spec.table.get(key))
    help_text = prefix + _defaults_by_help(registry, key)
    option = typer.Option(flag_name(key), help=help_text, show_default=False)
    if kind == "boolean":
        return inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[bool, option])
    annotation = Annotated[_kind_type(kind) | None, option]
    return inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _generated(many: bool, lr: bool, schedule: bool, required: bool) -> list[inspect.Parameter]:
    from gradtool.optim import OPTIMIZERS, SCHEDULES

    names = ", ".join(f"{n} ({a})" if a else n for n, a in _names_with_aliases(OPTIMIZERS))
    call = "NAME or NAME(key=value, ...), e.g. 'adam(lr=0.01, betas=[0.8, 0.99])'"
    if many:
        text = f"Comma-separated optimizers, each {call}: {names}. See `gradtool optimizers`."
        kind, default = (str, inspect.Parameter.empty) if required else (str | None, None)
        head = [_option("optimizers", Annotated[kind, typer.Option("--optimizers", help=text)], default)]
    else:
        text = f"{call}: {names}. See `gradtool optimizers`."
        head = [_option("optimizer", Annotated[str, typer.Option("--optimizer", "-o", help=text)], "gd")]
    if lr:
        text = "Learning rate (default: the optimizer's torch default)."
        head.append(_option("lr", Annotated[float | None, typer.Option("--lr", help=text)], None))
        head.append(_line_search_option())
    head += [_flag_param(OPTIMIZERS, key) for key in HYPER_FLAGS]
    if schedule:
        text = "Learning-rate schedule, NAME or NAME(key=value, ...), e.g. 'onecycle(max_lr=0.1)': "
        text += f"{', '.join(SCHEDULES)}."
        head.append(_option("schedule", Annotated[str | None, typer.Option("--schedule", help=text)], None))
        head += [_flag_param(SCHEDULES, key, "Schedule: ") for key in SCHEDULE_FLAGS]
    return head


def _line_search_option() -> inspect.Parameter:
    from gradtool.optim.searching import LINE_SEARCHES

    text = (
        f"Line search choosing each step's length t: {', '.join(LINE_SEARCHES)}, or NAME(key=value, ...), e.g. "
        "'armijo(c1=0.3)' (default: the optimizer's own, none for first-order ones, whose lr, the first "
        "trial step, then defaults to 1). See `gradtool optimizers armijo`."
    )
    return _option("line_search", Annotated[str | None, typer.Option("--line-search", help=text)], None)


def _names_with_aliases(registry: dict) -> list[tuple[str, str]]:
    aliases: dict[str, list[str]] = {}
    for name, spec in registry.items():
        aliases.setdefault(spec.name, []).extend([name] if name != spec.name else [])
    return [(name, ", ".join(extra)) for name, extra in aliases.items()]


def optimizer_options(
    *, many: bool = False, required: bool = False, lr: bool = True, schedule: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the optimizer options to a command whose function takes ``choice: Choice``.

    ``many``: ``--optimizers a,b,c`` (optional unless ``required``) instead of ``--optimizer NAME``;
    ``lr``/``schedule``: whether ``--lr`` and the schedule options exist. A ``gradient`` parameter of the
    command also gets the hidden old name ``--grad``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        added = _generated(many, lr, schedule, required)
        old_name = "gradient" in inspect.signature(func).parameters
        hidden = [_option("grad", Annotated[str | None, typer.Option("--grad", hidden=True)], None)] * old_name

        def collect(given: dict[str, Any], kwargs: dict[str, Any]) -> Choice:
            old = given.pop("grad", None)
            if old is not None:  # the engine option's old name, still accepted (hidden from --help)
                kwargs["gradient"] = old
            return _choice(given, many)

        return with_options(func, "choice", [*added, *hidden], collect)

    return decorate


def with_options(
    func: Callable[..., Any],
    into: str,
    added: list[inspect.Parameter],
    collect: Callable[..., Any],
    last: bool = False,
) -> Callable[..., Any]:
    """``func`` with the options ``added`` (after its arguments, or after its own options if ``last``)
    declared for Typer; their values are handed over as ``into=collect(values, other_kwargs)``."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != into]
    names = [p.name for p in added]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in names}
        return func(*args, **{into: collect(given, kwargs)}, **kwargs)

    first = [p for p in own if p.default is inspect.Parameter.empty]  # the arguments, then the options
    rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p not in first]
    params = [*first, *rest, *added] if last else [*first, *added, *rest]
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _choice(given: dict[str, Any], many: bool) -> Choice:
    if many:
        text = given.pop("optimizers")
        optimizers, option = (split_top_level(text) if text is not None else []), "--optimizers"
    else:
        optimizers, option = [given.pop("optimizer")], "--optimizer"
    schedule = given.pop("schedule", None)
    hyper = {k: v for k, v in given.items() if k in ("lr", *HYPER_FLAGS) and v not in (None, False)}
    if given.get("line_search") is not None:
        hyper["line_search"] = line_search_entry(given["line_search"])
    schedule_flags = {k: v for k, v in given.items() if k in SCHEDULE_FLAGS and v is not None}
    return Choice(optimizers, option, hyper, schedule, schedule_flags)
