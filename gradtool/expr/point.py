"""Variable order and points: ``x=1,y=2`` or ``1,2`` in variable order, checked against the variables."""

from __future__ import annotations

import math
import re

from gradtool.errors import PointError
from gradtool.params import PointParamError

_NUMBER_CHUNK = re.compile(r"(\d+)")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def natural_key(name: str) -> tuple:
    """Sort key putting ``x2`` before ``x10``."""
    return tuple(int(part) if part.isdigit() else part for part in _NUMBER_CHUNK.split(name))


def order_variables(found: list[str] | set[str], given: str | list[str] | None = None) -> list[str]:
    """The expression's variables in natural order, or in the user's order ``given`` (the ``variables``
    argument of :func:`gradtool.load_objective`, ``--vars`` on the command line).

    Raises:
        PointError: (a ParamError naming ``variables``) if ``given`` misses a variable of the expression or
            lists one twice. Extra names are allowed (a variable the expression does not use has a zero
            partial derivative).
    """
    found = set(found)
    if given is None or given == "" or given == []:
        return sorted(found, key=natural_key)
    names = [v.strip() for v in given.split(",")] if isinstance(given, str) else list(given)
    if any(not n for n in names):
        raise PointParamError("variables", f"empty name in {given!r}")
    bad = [n for n in names if not (isinstance(n, str) and _NAME.fullmatch(n))]
    if bad:
        raise PointParamError(
            "variables", f"{bad[0]!r} is not a variable name (ASCII letters, digits and '_', starting with a letter)"
        )
    from gradtool.expr.syntax import variable_name_problem  # the parser's own rule: pi, sin, lambda are not names

    for n in names:
        reason = variable_name_problem(n)
        if reason:
            raise PointParamError("variables", f"{n!r} {reason}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PointParamError("variables", f"{dupes[0]!r} listed twice")
    missing = sorted(found - set(names), key=natural_key)
    if missing:
        raise PointParamError("variables", f"misses {', '.join(missing)} (the expression uses {_listing(found)})")
    return names


def _listing(names) -> str:
    names = sorted(names, key=natural_key)
    if len(names) > 8:
        return ", ".join(names[:4]) + f", ... , {names[-1]} ({len(names)} variables)"
    return ", ".join(names) if names else "no variables"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PointError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise PointError(f"{what}: {text.strip()!r} is not a finite number")
    return value


def parse_point(text: str | list | dict, variables: list[str]) -> list[float]:
    """Parse a point for ``variables``: ``"x=1,y=2"``, ``"1,2"``, a list, or a mapping.

    Raises:
        PointError: naming the missing, extra or misspelled variable and listing the expected ones.
    """
    expected = f"expected {_listing(variables)}"
    if isinstance(text, dict):
        pairs = [(str(k), v) for k, v in text.items()]
    elif isinstance(text, list | tuple):
        pairs = [(None, v) for v in text]
    else:
        parts = [p.strip() for p in str(text).split(",")]
        if not str(text).strip() or any(not p for p in parts):
            raise PointError(f"empty value in point {text!r}; {expected}")
        pairs = [(p.split("=", 1)[0].strip(), p.split("=", 1)[1]) if "=" in p else (None, p) for p in parts]
    named = [k for k, _ in pairs if k is not None]
    if named and len(named) != len(pairs):
        raise PointError(f"point {text!r} mixes named and positional values; {expected}")
    if not named:
        if len(pairs) != len(variables):
            raise PointError(f"point has {len(pairs)} value{'s' if len(pairs) != 1 else ''}, {expected} in that order")
        return [_number(str(v), f"value {i + 1}") for i, (_, v) in enumerate(pairs)]
    values: dict[str, float] = {}
    for name, v in pairs:
        if name not in variables:
            raise PointError(f"unknown variable {name!r} in point; {expected}")
        if name in values:
            raise PointError(f"variable {name!r} given twice in point")
        values[name] = _number(str(v), name)
    missing = [v for v in variables if v not in values]
    if missing:
        raise PointError(f"point misses {', '.join(missing)}; {expected}")
    return [values[v] for v in variables]


def parse_box(text: str | list) -> tuple[float, float]:
    """Parse ``LO,HI`` (a box for every coordinate)."""
    parts = text if isinstance(text, list | tuple) else str(text).split(",")
    if len(parts) != 2:
        raise PointError(f"box {text!r} must be LO,HI")
    lo, hi = (_number(str(p), "box") for p in parts)
    if not lo < hi:
        raise PointError(f"box {text!r} needs LO < HI")
    if not math.isfinite(hi - lo):  # uniform sampling needs a finite width
        raise PointError(f"box {text!r} is too wide: HI - LO must be a finite number")
    return lo, hi
