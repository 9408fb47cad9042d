"""The one definition of a config's keys, per task: it validates configs and it generates the JSON Schema.

Allowed names come from the registries (OPTIMIZERS, SCHEDULES, ENGINES, TEST_FUNCTIONS, difference METHODS);
hyperparameter and schedule-parameter ranges, defaults and help from the registries' parameter tables; the run
options' from ``gradtool.defaults``. Nothing here is written twice.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gradtool.config.fields import Boolean, Const, Field, Number, Path, Text, Where
from gradtool.config.params import ParamField, ParamGroup, field_for
from gradtool.config.shapes import Record, Ref, Seq, Shorthand, Tagged, Union
from gradtool.params import REQUIRED

IDENTIFIER = r"[A-Za-z][A-Za-z0-9_]*"
LABEL = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
RUN_KEYS = ("gradient", "steps", "tol", "ftol", "xtol")  # top-level keys of a run that a sweep may vary
ENTRY_KEYS = ("name", "label", "schedule")  # keys of an optimizer entry that are not hyperparameters


# ---- the registries, read lazily ------------------------------------------------------------------------


def optimizer_names() -> list[str]:
    from gradtool.optim import OPTIMIZERS

    return list(OPTIMIZERS)


def function_names() -> list[str]:
    from gradtool.expr.library import TEST_FUNCTIONS

    return list(TEST_FUNCTIONS)


def engine_names() -> list[str]:
    from gradtool.grad.engines import ENGINES

    return list(ENGINES)


def difference_methods() -> list[str]:
    from gradtool.grad.numeric import METHODS

    return list(METHODS)


def _params_named(registry: dict, key: str) -> list:
    return [p for spec in registry.values() for p in spec.table.params if p.name == key]


def hyper_field(key: str) -> Field:
    """The field of a hyperparameter name (in a sweep), from the optimizers' parameter tables."""
    from gradtool.optim import OPTIMIZERS

    params = [p.with_default(REQUIRED) for p in _params_named(OPTIMIZERS, key)]  # no default in a sweep
    return field_for(params, nested_field)


@functools.cache
def hyperparameter_names() -> tuple[str, ...]:
    """Every hyperparameter of every optimizer, in registry order."""
    from gradtool.optim import OPTIMIZERS

    return tuple(dict.fromkeys(p.name for spec in OPTIMIZERS.values() for p in spec.table.params))


def _entry_fields(table) -> dict[str, Field]:
    """The fields of a registry entry's parameters, and of torch's tuple spellings of them (``betas``)."""
    fields: dict[str, Field] = {p.name: field_for([p], nested_field) for p in table.params}
    for group, members in table.groups.items():
        names = ", ".join(members)
        fields[group] = ParamGroup(tuple(table.get(m) for m in members), description=f"torch's spelling of {names}.")
    return fields


def _group_exclusions(table) -> tuple[tuple[str, ...], ...]:
    return tuple((group, member) for group, members in table.groups.items() for member in members)


@functools.cache
def _schedule_variants() -> dict[str, Record]:
    from gradtool.optim import SCHEDULES

    out = {}
    for name, spec in SCHEDULES.items():
        fields = {"name": Const(name), **_entry_fields(spec.table)}
        out[name] = Record(fields, required=spec.required, description=spec.summary)
    return out


def registry_entry(key: str, variants: Callable[[], dict[str, Record]], what: str, description: str) -> Ref:
    """An entry of a registry, under ``$defs/key``: a name, a call ``name(k=v)`` or ``{name: ..., k: v}``."""
    return Ref(key, Shorthand("name", Tagged("name", variants, what=what), description=description))


SCHEDULE = registry_entry(
    "schedule", _schedule_variants, "schedule", "Learning-rate schedule: a name, or {name: ..., parameters}."
)


@functools.cache
def _line_search_variants() -> dict[str, Record]:
    from gradtool.optim.searching import LINE_SEARCHES

    out = {}
    for name, spec in LINE_SEARCHES.items():
        fields = {"name": Const(name), **{p.name: ParamField(p) for p in spec.table.params}}
        out[name] = Record(fields, description=spec.summary)
    return out


LINE_SEARCH = registry_entry(
    "line_search", _line_search_variants, "line search", "A line search: a name, or {name: ..., parameters}."
)


def nested_field(kind: str) -> Field | None:
    """The field inside a parameter of ``kind``: a schedule (the items of schedules), a line search (a call)."""
    return {"schedules": SCHEDULE, "call": LINE_SEARCH}.get(kind)


@functools.cache
def _optimizer_variants() -> dict[str, Record]:
    from gradtool.optim import OPTIMIZERS

    label = Text(pattern=LABEL, what="label", description="The runs' label prefix (default: the name).")
    out = {}
    for name, spec in OPTIMIZERS.items():
        fields = {"name": Const(name), "label": label, "schedule": SCHEDULE, **_entry_fields(spec.table)}
        out[name] = Record(fields, at_most_one=_group_exclusions(spec.table), description=spec.summary)
    return out


OPTIMIZER = registry_entry(
    "optimizer",
    _optimizer_variants,
    "optimizer",
    "An optimizer name, or {name: ..., torch-named hyperparameters}.",
)


class Function(Text):
    """A named test function or an expression; a bare name must be a named function (this catches typos)."""

    def check(self, value: Any, path: Path, where: Where) -> Any:
        value = super().check(value, path, where)
        if re.fullmatch(rf"\s*{IDENTIFIER}\s*", value) and value.strip() not in function_names():
            known = ", ".join(function_names())
            raise where.error(
                path,
                f"unknown function {value.strip()!r}; named functions: {known} (or write an "
                f'expression such as "x^2 + y^2")',
            )
        return value

    def schema(self) -> dict[str, Any]:
        expression = {"type": "string", "pattern": rf"^(?!\s*{IDENTIFIER}\s*$)", "description": "an expression"}
        return self.doc({"anyOf": [{"type": "string", "enum": function_names()}, expression]})


class PointOrPoints(Union):
    """One point; or, with ``several``, also a list of points (a list of numbers is always one point)."""

    def __init__(self, description: str, several: bool = False):
        point = (
            Seq(Number(), description="values in variable order"),
            Record(extra=Number()),
            Text(description="x=1,y=2 or 1,2"),
            Number(description="the value of the only variable"),
        )
        many = Seq(Union(point), description="one point (numbers) or a list of points")
        super().__init__((many, *point[1:]) if several else point, description)

    def check(self, value: Any, path: Path, where: Where) -> Any:
        value = super().check(value, path, where)
        if isinstance(value, list) and not all(isinstance(v, int | float) for v in value):
            for i, v in enumerate(value):
                if isinstance(v, int | float):
                    raise where.error((*path, i), "in a list of points every entry is a point, e.g. {x: 1}")
        return value


def _common(task: str) -> dict[str, Field]:
    return {
        "task": Const(task),
        "description": Text(description="What the config shows (printed above its results)."),
        "function": Function(description='A named test function or an expression such as "x^2 + 3*y^2".'),
        "dim": Number(minimum=1, integer=True, description="Dimension of an n-D named test function."),
        "variables": Union(
            (Text(), Seq(Text(pattern=IDENTIFIER, what="variable name"))),
            description='Variable order: "x,y,z" or a list (default: natural order).',
        ),
    }


def _run_fields() -> dict[str, Field]:
    from gradtool.defaults import ENGINE, FTOL, STEPS, TOL, XTOL

    gradient = Text(choices=engine_names, what="gradient engine", description="Gradient engine.", default=ENGINE)
    return {"gradient": gradient, **{p.name: ParamField(p) for p in (STEPS, TOL, FTOL, XTOL)}}


@functools.cache
def minimize_fields() -> Record:
    from gradtool.descent import MAX_STARTS

    run = _run_fields()
    swept = {**{k: Seq(hyper_field(k)) for k in hyperparameter_names()}, **{k: Seq(f) for k, f in run.items()}}
    box = Union((Seq(Number(), min_items=2, max_items=2), Text(description="LO,HI")), description="LO,HI box")
    starts = {
        "count": Number(minimum=1, maximum=MAX_STARTS, integer=True),
        "box": box,
        "seed": Number(minimum=0, integer=True, default=0),
    }
    output = {
        "trajectory": Text(description="CSV of every iterate, one file per run: use {label}."),
        "json": Text(description="The --json document of this config."),
    }
    fields = {
        **_common("minimize"),
        "x0": PointOrPoints("Start point (default: the named function's usual start, else zeros)."),
        **run,
        "optimizer": OPTIMIZER,
        "optimizers": Seq(OPTIMIZER, description="One run per entry."),
        "schedule": SCHEDULE,
        "sweep": Record(swept, description="A grid: each optimizer entry x each combination is a run."),
        "starts": Record(starts, required=("count",), description="Multi-start: count starts uniform in box."),
        "output": Record(output, description="Files written atomically; their folders must exist."),
    }
    return Record(
        fields,
        required=("function",),
        exactly_one=(("optimizer", "optimizers"),),
        description="Minimize a function with one or more optimizers (and sweeps).",
    )


@functools.cache
def check_fields() -> Record:
    from gradtool.defaults import ATOL, RTOL

    fields = {
        **_common("check-grad"),
        "at": PointOrPoints("The point, or a list of points, to check at.", several=True),
        "random": Number(minimum=1, maximum=100_000, integer=True, description="Check N random points."),
        "seed": Number(minimum=0, integer=True, default=0, description="Seed for random (and taylor)."),
        "box": Union((Seq(Number(), min_items=2, max_items=2), Text()), description="LO,HI for random."),
        "grad": Text(description='Your hand-derived gradient "e1, e2, ..." in variable order.'),
        "method": Text(choices=difference_methods, what="difference method", default="adaptive"),
        "h": Number(exclusiveMinimum=0, description="Fixed step (not for the adaptive method)."),
        "rtol": ParamField(RTOL),
        "atol": ParamField(ATOL),
        "sweep_h": Boolean(default=False, description="Forward/central error for h = 1e-1 ... 1e-15."),
        "taylor": Boolean(default=False, description="Step-size-free Taylor remainder check."),
        "output": Record({"json": Text(description="The --json document of this config.")}),
    }
    return Record(
        fields,
        required=("function",),
        exactly_one=(("at", "random"),),
        description="Check gradients: analytic vs autodiff vs finite differences (and yours).",
    )


# ---- the task registry: the extension point for new kinds of config -------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """One kind of config: its keys, and the builder turning validated data into a runnable plan."""

    name: str
    fields: Callable[[], Record]
    plan: Callable[[dict[str, Any], Where], Any]


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported on first call (the plans import SymPy and numpy; `--help` must not)."""

    def call(*args: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(*args)

    return call


TASKS: dict[str, TaskSpec] = {
    "minimize": TaskSpec("minimize", minimize_fields, _lazy("gradtool.config.plan", "minimize_plan")),
    "check-grad": TaskSpec("check-grad", check_fields, _lazy("gradtool.config.plan", "check_plan")),
    "fit": TaskSpec("fit", _lazy("gradtool.config.fit", "fit_fields"), _lazy("gradtool.config.fit", "fit_plan")),
}


class _TaskFields(Mapping):
    """Each task's record, built when it is looked up: a minimize config is checked without building a fit's
    fields, which import the fitting package (and SymPy, that a run from the compile cache does without)."""

    def __getitem__(self, name: str) -> Record:
        return TASKS[name].fields()

    def __iter__(self) -> Iterator[str]:
        return iter(TASKS)

    def __len__(self) -> int:
        return len(TASKS)


CONFIG = Tagged("task", _TaskFields, what="task", default="minimize")
