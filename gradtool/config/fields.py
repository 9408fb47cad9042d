"""A tiny schema language, part 1: where a value came from, and the scalar fields.

Each field checks a value found at a key path and returns it normalized (``check``), and describes itself as
JSON Schema (``schema``): one definition validates and documents. Errors go through a :class:`Where`, which
knows the file, the line of every key path and which paths came from ``--set``, so that every message reads
``file:line: key.path: what is wrong``.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gradtool.errors import ConfigError

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """``("optimizers", 1, "lr")`` -> ``optimizers[1].lr``."""
    out = ""
    for part in path:
        part = part if isinstance(part, int) or len(part) <= 40 else part[:37] + "..."  # a 1 MB key stays short
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Where:
    """Where each key path of a config comes from: a line of ``source``, or a ``--set`` override."""

    source: str
    lines: dict[Path, int] = field(default_factory=dict)
    overrides: dict[Path, str] = field(default_factory=dict)

    def locate(self, path: Path) -> str:
        """``file:line`` of the longest known prefix of ``path`` (or the ``--set`` that wrote it)."""
        for k in range(len(path), -1, -1):
            prefix = path[:k]
            if prefix in self.overrides:
                return f"{self.source} (--set {self.overrides[prefix]})"
            if prefix in self.lines:
                return f"{self.source}:{self.lines[prefix]}"
        return self.source

    def error(self, path: Path, message: str) -> ConfigError:
        return ConfigError(f"{self.locate(path)}: {format_path(path) or '(top level)'}: {message}")


def json_type(value: Any) -> str:
    """The JSON Schema type name of a value read from YAML (else its Python type name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def shown(value: Any, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters, built piece by piece: a value made of 20,000 aliases to a
    900 KB string must not be formatted whole first."""
    text = _short_repr(value, width + 1)
    return text if len(text) <= width else text[: width - 3] + "..."


def _short_repr(value: Any, limit: int) -> str:
    """A prefix of ``repr(value)`` at least ``limit`` characters long (or all of it)."""
    if isinstance(value, str):
        return repr(value[:limit])
    if isinstance(value, bool) or not isinstance(value, int | list | tuple | dict):
        return repr(value)[:limit]  # numbers, None, dates: short
    if isinstance(value, int):  # Python refuses to print integers of more than 4,300 digits
        digits = int(abs(value).bit_length() * 0.30103) + 1
        return repr(value) if digits < 100 else f"<an integer of about {digits:,} digits>"
    items = value.items() if isinstance(value, dict) else value
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    out = opening
    for i, item in enumerate(items):
        if len(out) > limit:
            return out
        part = (
            f"{_short_repr(item[0], limit)}: {_short_repr(item[1], limit)}"
            if isinstance(value, dict)
            else _short_repr(item, limit)
        )
        out += (", " if i else "") + part
    return out + closing


class Field:
    """Base class: ``check(value, path, where) -> value``, ``schema() -> dict``, the JSON ``types`` it takes."""

    types: frozenset[str] = frozenset()
    description: str = ""

    def check(self, value: Any, path: Path, where: Where) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def expected(self) -> str:
        return " or ".join(sorted(self.types))

    def doc(self, out: dict[str, Any]) -> dict[str, Any]:
        extra = {"default": self.default} if getattr(self, "default", None) is not None else {}
        return {"description": self.description, **out, **extra} if self.description else {**out, **extra}

    def type_error(self, value: Any, path: Path, where: Where) -> ConfigError:
        return where.error(path, f"expected {self.expected()}, got {json_type(value)} {shown(value)}")


# JSON Schema bound keyword -> (comparison that must hold, symbol for messages)
BOUNDS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "minimum": (operator.ge, ">="),
    "exclusiveMinimum": (operator.gt, ">"),
    "maximum": (operator.le, "<="),
    "exclusiveMaximum": (operator.lt, "<"),
}


class Number(Field):
    """A finite number (a whole one with ``integer=True``) within JSON Schema ``bounds``."""

    def __init__(
        self,
        *,
        integer: bool = False,
        description: str = "",
        default: Any = None,
        **bounds: float,
    ):
        if not set(bounds) <= set(BOUNDS):
            raise TypeError(f"unknown bounds {sorted(set(bounds) - set(BOUNDS))}")
        self.integer, self.bounds = integer, bounds
        self.description, self.default = description, default
        symbols = " and ".join(f"{BOUNDS[k][1]} {v:g}" for k, v in bounds.items())
        self.allowed = f"{'an integer' if integer else 'a number'} {symbols}".strip()
        self.types = frozenset({"integer"} if integer else {"integer", "number"})

    def expected(self) -> str:
        return "a whole number" if self.integer else "a number"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.type_error(value, path, where)
        if isinstance(value, int) and abs(value) > sys.float_info.max:
            raise where.error(path, f"an integer of {len(str(abs(value)))} digits is too large")
        if not math.isfinite(value):
            raise where.error(path, f"{shown(value)} is not a finite number")
        if self.integer:
            if not float(value).is_integer():
                raise where.error(path, f"expected a whole number, got {shown(value)}")
            value = int(value)
        if not all(BOUNDS[k][0](value, v) for k, v in self.bounds.items()):
            raise where.error(path, f"{shown(value)} is invalid; must be {self.allowed}")
        return value

    def schema(self) -> dict[str, Any]:
        return self.doc({"type": "integer" if self.integer else "number", **self.bounds})


@dataclass
class Boolean(Field):
    description: str = ""
    default: bool | None = None
    types = frozenset({"boolean"})

    def expected(self) -> str:
        return "true or false"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if not isinstance(value, bool):
            raise self.type_error(value, path, where)
        return value

    def schema(self) -> dict[str, Any]:
        return self.doc({"type": "boolean"})


@dataclass
class Text(Field):
    """A string; with ``choices`` one of them (read lazily from a registry); with ``pattern`` matching it."""

    choices: Callable[[], list[str]] | None = None
    pattern: str | None = None
    what: str = "value"
    description: str = ""
    default: str | None = None
    types = frozenset({"string"})

    def expected(self) -> str:
        return "a string"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if not isinstance(value, str):
            raise self.type_error(value, path, where)
        if self.choices is not None and value not in self.choices():
            raise where.error(path, f"unknown {self.what} {shown(value)}; choose one of: {', '.join(self.choices())}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise where.error(path, f"{shown(value)} is not a valid {self.what} (must match {self.pattern})")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.choices is not None:
            out["enum"] = list(self.choices())
        if self.pattern is not None:
            out["pattern"] = f"^(?:{self.pattern})$"
        return self.doc(out)


@dataclass
class Const(Field):
    """The tag of a tagged mapping (``name: adam``): checked by the :class:`~gradtool.config.shapes.Tagged`."""

    value: str
    types = frozenset({"string"})

    def check(self, value: Any, path: Path, where: Where) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"const": self.value}
