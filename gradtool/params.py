"""One parameter of a registry entry: name, type, default, bounds, help. Every surface derives from it.

The library validates with :meth:`Param.check`; configs wrap it as a field; ``gradtool schema`` reads
:meth:`Param.schema`; the CLI builds flags and help from it; ``gradtool optimizers`` and the docs tables
print it. Errors name the parameter (:class:`ParamError`) and each caller adds its own context: a flag
(``--beta1``) or a config key path (``file.yaml:7: optimizers[2].beta1``). No numpy here: the CLI reads
these tables while it builds ``--help``.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gradtool.errors import ConfigError, DataError, ParseError, PointError


class Marker:
    """A default that is not a value: ``REQUIRED``, or one the caller fills in (``FROM_LR``, ``FROM_RUN``)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


REQUIRED = Marker("required")
FROM_LR = Marker("the run's lr")
FROM_RUN = Marker("the run's number of steps")


class ParamError(ConfigError):
    """A bad value (or combination) of a named parameter.

    ``key`` is the parameter's path among the arguments of the call that failed (``("beta1",)``,
    ``("schedule", "total_steps")``), ``detail`` the message without it; callers put their own name for
    the key in front (a flag, a config key path). ``str()`` is the library's own message. ``mentions`` are
    the other parameters the detail names, each written between backticks in ``template`` (``must be
    smaller than `lr_max```): ``detail`` names them plainly, :meth:`detail_as` as a caller calls them (the
    CLI: its flags).
    """

    def __init__(
        self, key: tuple[str | int, ...] | str, template: str, owner: str = "", mentions: tuple[str, ...] = ()
    ):
        self.key = (key,) if isinstance(key, str) else tuple(key)
        self.template, self.owner, self.mentions = template, owner, tuple(mentions)
        self.detail = self.detail_as(str)
        head = f"{owner}: " if owner else ""
        super().__init__(f"{head}{key_text(self.key)}: {self.detail}")

    def __reduce__(self):  # the arguments, not the message (the error of a run in a worker process)
        return type(self), (self.key, self.template, self.owner, self.mentions)

    def within(self, *prefix: str | int, owner: str | None = None) -> ParamError:
        """The same error one level up: ``key`` under ``prefix`` (``("schedule",) + key``)."""
        return type(self)((*prefix, *self.key), self.template, self.owner if owner is None else owner, self.mentions)

    def detail_as(self, name: Callable[[str], str]) -> str:
        """The detail with each parameter it mentions called ``name(parameter)``."""
        detail = self.template
        for mention in self.mentions:
            detail = detail.replace(f"`{mention}`", name(mention))
        return detail


class PointParamError(ParamError, PointError):
    """A variable list or dimension that does not suit the expression: a PointError naming its parameter."""


class ParseParamError(ParamError, ParseError):
    """An expression given as a parameter's value (a hand-derived gradient) outside the language."""


class DataParamError(ParamError, DataError):
    """Data that an option cannot be applied to (a column ``standardize`` cannot scale)."""


def key_text(key: tuple[str | int, ...]) -> str:
    """``("schedules", 1, "t_max")`` -> ``schedules[1].t_max``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number_text(value: Any) -> str:
    """``0.001`` -> ``0.001``, ``1e-08`` -> ``1e-8``, ``1000000.0`` -> ``1e6``, ``2`` -> ``2``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, int) or not isinstance(value, float):
        return str(value)
    if value in (1 / 3, 2 / 3):
        return f"{round(value * 3)}/3"
    text = f"{value:.6g}"
    if value and (abs(value) < 1e-3 or (abs(value) >= 1e4 and value == int(value))):
        text = f"{value:.6e}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return text


def is_real(value: Any) -> bool:
    """A finite real number within the float range (not a bool; a 400-digit integer is out of range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return abs(value) <= sys.float_info.max and math.isfinite(value)


def is_bool(value: Any) -> bool:
    """A bool, or numpy's bool scalar (its type is named bool_ or bool), without importing numpy."""
    return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")


@dataclass(frozen=True)
class Param:
    """A parameter: ``kind`` is number, integer, boolean, choice, integers (a list), schedules (a list) or
    call (an entry of another registry with its own parameters, such as a line search).

    Bounds (numbers, integers and the items of integers) are ``low``/``high``, open when ``low_open``/
    ``high_open``. ``default`` may be a marker: ``REQUIRED``, ``FROM_LR``, ``FROM_RUN``; ``None`` means
    "not set" and ``help`` says what that does. A call's value is a name of ``tables`` or a mapping
    ``{"name": ..., parameter: value}``; it is normalized to the mapping with every parameter filled in.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    increasing: bool = False
    tables: Mapping[str, Table] | None = field(default=None, compare=False, repr=False)

    def with_default(self, default: Any) -> Param:
        return replace(self, default=default)

    @property
    def default_value(self) -> Any:
        """The default as a value would be stored: a call's default with its parameters filled in."""
        return self.check(self.default) if self.kind == "call" else self.default

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    # ---- the bound, in words and as a predicate -----------------------------------------------------------

    def _interval(self) -> str:
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f" in {left}{number_text(lo)}, {number_text(hi)}{right}"
        if lo is not None:
            return f" {'>' if self.low_open else '>='} {number_text(lo)}"
        if hi is not None:
            return f" {'<' if self.high_open else '<='} {number_text(hi)}"
        return ""

    @property
    def allowed(self) -> str:
        """What a value must be, in words: ``a number in [0, 1)``, ``an integer >= 1``, ``one of: cos, linear``."""
        if self.kind == "boolean":
            return "true or false"
        if self.kind == "choice":
            return f"one of: {', '.join(self.choices)}"
        if self.kind == "integers":
            order = "increasing " if self.increasing else ""
            return f"a list of {order}integers{self._interval()}"
        if self.kind == "schedules":
            return "a list of schedules"
        if self.kind == "call":
            return f"one of: {', '.join(self.tables)}; a name, or name(key=value, ...)"
        return f"{'an integer' if self.kind == 'integer' else 'a number'}{self._interval()}"

    def _within(self, x: float) -> bool:
        lo, hi = self.low, self.high
        if lo is not None and (x <= lo if self.low_open else x < lo):
            return False
        return not (hi is not None and (x >= hi if self.high_open else x > hi))

    def _scalar(self, value: Any, integer: bool) -> int | float | None:
        if not is_real(value) or (integer and not float(value).is_integer()) or not self._within(value):
            return None
        return int(value) if integer else float(value)

    def check(self, value: Any) -> Any:
        """``value`` normalized (an integral float from a config becomes an int), or a ParamError."""
        if value is None and self.default is None:
            return None
        out = self._normalized(value)
        if out is None and isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
            raise ParamError(self.name, f"an integer of {len(str(abs(value)))} digits is too large")
        if out is None:
            raise ParamError(self.name, f"{shown(value)} is invalid; must be {self.allowed}")
        return out

    def _normalized(self, value: Any) -> Any:
        """The normalized value, or None when it is invalid."""
        kind = self.kind
        if kind == "boolean":
            return bool(value) if is_bool(value) else None
        if kind == "choice":
            return value if isinstance(value, str) and value in self.choices else None
        if kind == "call":
            return self._call(value)
        if kind in ("number", "integer"):
            return self._scalar(value, kind == "integer")
        if not isinstance(value, list | tuple):
            return None
        if kind == "schedules":
            return tuple(value) if value else None
        items = [self._scalar(v, True) for v in value]
        if not items or None in items:
            return None
        if self.increasing and any(b <= a for a, b in zip(items, items[1:], strict=False)):
            return None
        return tuple(items)

    def _call(self, value: Any) -> dict[str, Any] | None:
        """``"armijo"`` or ``{"name": "armijo", "c1": 0.1}`` -> the mapping with every parameter (None: not
        a known name); a bad parameter is a ParamError under this parameter's name."""
        given = dict(value) if isinstance(value, Mapping) else {"name": value}
        name = given.pop("name", None)
        if not isinstance(name, str):
            return None
        if name not in self.tables:
            raise ParamError(self.name, f"unknown {shown(name)}; must be {self.allowed}")
        try:
            return {"name": name, **self.tables[name].resolve(given, "")}
        except ParamError as exc:
            raise exc.within(self.name) from None

    # ---- descriptions ---------------------------------------------------------------------------------------

    @property
    def type_text(self) -> str:
        """The type in a docs table: ``number``, ``integer``, ``boolean``, ``cos | linear``, ``list of integers``."""
        if self.kind == "choice":
            return " | ".join(self.choices)
        kinds = {"integers": "list of integers", "schedules": "list of schedules", "call": "name or call"}
        return kinds.get(self.kind, self.kind)

    @property
    def default_text(self) -> str:
        if isinstance(self.default, Marker):
            return self.default.text
        if self.default is None:
            return "none"
        if isinstance(self.default, tuple):
            return "[" + ", ".join(number_text(v) for v in self.default) + "]"
        if self.kind == "call":
            return call_text(self.default if isinstance(self.default, Mapping) else {"name": self.default})
        return number_text(self.default)

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a value (with the default when it is a plain value)."""
        bounds = self._bounds()
        if self.kind == "boolean":
            out: dict[str, Any] = {"type": "boolean"}
        elif self.kind == "choice":
            out = {"type": "string", "enum": list(self.choices)}
        elif self.kind == "integers":
            out = {"type": "array", "items": {"type": "integer", **bounds}, "minItems": 1}
        elif self.kind == "schedules":
            out = {"type": "array", "minItems": 1}
        elif self.kind == "call":
            out = {"type": ["string", "object"]}
        else:
            out = {"type": "integer" if self.kind == "integer" else "number", **bounds}
        if self.default is None:
            out = {"anyOf": [out, {"type": "null"}]}
        described = {"description": self.help} if self.help else {}
        default = {} if isinstance(self.default, Marker) or self.default is None else {"default": self.json_default}
        return {**described, **out, **default}

    @property
    def json_default(self) -> Any:
        if self.kind == "call":
            return self.default_value
        return list(self.default) if isinstance(self.default, tuple) else self.default

    def _bounds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.low is not None:
            out["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            out["exclusiveMaximum" if self.high_open else "maximum"] = self.high
        return out

    def describe(self) -> dict[str, Any]:
        """JSON-ready: name, type, default, allowed values, help (``gradtool optimizers --json``)."""
        default = self.default_text if isinstance(self.default, Marker) else self.json_default
        return {
            "name": self.name,
            "type": self.type_text,
            "default": default,
            "default_text": self.default_text,
            "allowed": self.allowed,
            "help": self.help,
        }


def call_text(value: Mapping[str, Any]) -> str:
    """``{"name": "strong-wolfe", "c2": 0.1}`` -> ``strong-wolfe(c2=0.1)``; a bare name when nothing else."""
    rest = ", ".join(f"{k}={number_text(v)}" for k, v in value.items() if k != "name")
    return f"{value['name']}({rest})" if rest else str(value["name"])


def number(name: str, default: Any, help: str, **bounds: Any) -> Param:
    return Param(name, "number", default, help, **bounds)


def integer(name: str, default: Any, help: str, **bounds: Any) -> Param:
    return Param(name, "integer", default, help, **bounds)


def flag(name: str, default: bool, help: str) -> Param:
    return Param(name, "boolean", default, help)


def choice(name: str, default: str, choices: tuple[str, ...], help: str) -> Param:
    return Param(name, "choice", default, help, choices=choices)


@dataclass(frozen=True)
class Table:
    """The parameters of one registry entry, in order; ``groups`` are torch's tuple spellings of scalar ones
    (``betas`` -> ``beta1, beta2``), accepted as input and never stored."""

    params: tuple[Param, ...]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameters in {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def get(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def accepts(self, name: str) -> bool:
        return name in self.names or name in self.groups

    def expand(self, given: dict[str, Any]) -> dict[str, Any]:
        """Split group spellings into their parameters (``betas=[0.8, 0.99]`` -> ``beta1, beta2``)."""
        out = dict(given)
        for group, members in self.groups.items():
            if group not in out:
                continue
            value = out.pop(group)
            both = [m for m in members if m in given]
            if both:
                raise ParamError(group, f"give {group} or {', '.join(members)}, not both")
            if not isinstance(value, list | tuple) or len(value) != len(members):
                raise ParamError(
                    group, f"{shown(value)} is invalid; must be a list of {len(members)} values ({', '.join(members)})"
                )
            for i, (member, v) in enumerate(zip(members, value, strict=True)):
                try:
                    out[member] = self.get(member).check(v)
                except ParamError as exc:
                    raise ParamError((group, i), exc.detail) from None
        return out

    def resolve(self, given: dict[str, Any], owner: str) -> dict[str, Any]:
        """Every parameter's value: ``given`` (checked) over the defaults; unknown and missing ones are errors.

        Markers other than REQUIRED are left for the caller to fill in.
        """
        unknown = [k for k in given if not self.accepts(k)]
        if unknown:
            allowed = ", ".join([*self.names, *self.groups])
            raise ParamError(str(unknown[0]), f"unknown parameter; allowed: {allowed}", owner)
        try:
            given = self.expand(given)
            values = {}
            for p in self.params:
                if p.name in given:
                    values[p.name] = p.check(given[p.name])
                elif p.required:
                    raise ParamError(p.name, "missing (it has no default)")
                else:
                    values[p.name] = p.default_value
        except ParamError as exc:
            raise ParamError(exc.key, exc.detail, owner) from None
        return values
