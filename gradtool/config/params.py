"""Config fields made from registry parameters: the parameter validates, the field adds the key path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradtool.config.fields import Field, Path, Where, json_type
from gradtool.errors import ConfigError
from gradtool.params import Param, ParamError

KIND_TYPES = {
    "number": {"integer", "number"},
    "integer": {"integer", "number"},
    "boolean": {"boolean"},
    "choice": {"string"},
    "integers": {"array"},
    "schedules": {"array"},
    "call": {"string", "object"},
}
EXPECTED = {
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "choice": "a string",
    "call": "a name, name(key=value, ...) or a mapping with name: ...",
}


class ParamField(Field):
    """One registry parameter as a config field; ``nested`` validates the items of a list of schedules, or
    the value of a call (a line search: a name, ``name(key=value)`` or a mapping)."""

    def __init__(self, param: Param, nested: Field | None = None):
        self.param, self.nested = param, nested
        self.types = frozenset(KIND_TYPES[param.kind])
        self.description = param.help

    def expected(self) -> str:
        return EXPECTED.get(self.param.kind, "a list")

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if json_type(value) not in self.types:
            raise self.type_error(value, path, where)
        if self.nested is not None and isinstance(value, list):
            value = [self.nested.check(v, (*path, i), where) for i, v in enumerate(value)]
        elif self.nested is not None and self.param.kind == "call":
            value = self.nested.check(value, path, where)
        try:
            out = self.param.check(value)
        except ParamError as exc:
            raise where.error((*path, *exc.key[1:]), exc.detail) from None
        if self.param.kind == "number":
            return value  # as written (a label shows lr1, not lr1.0)
        return list(out) if isinstance(out, tuple) else out

    def schema(self) -> dict[str, Any]:
        out = self.param.schema()
        if self.nested is not None and self.param.kind == "call":
            return {k: v for k, v in out.items() if k != "type"} | self.nested.schema()
        if self.nested is not None:
            out["items"] = self.nested.schema()
        return out


@dataclass
class ParamGroup(Field):
    """torch's tuple spelling of scalar parameters (``betas: [0.9, 0.999]`` for ``beta1``, ``beta2``)."""

    members: tuple[Param, ...]
    description: str = ""
    types = frozenset({"array"})

    def expected(self) -> str:
        return f"a list of {len(self.members)} numbers"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if not isinstance(value, list) or len(value) != len(self.members):
            raise self.type_error(value, path, where)
        pairs = enumerate(zip(self.members, value, strict=True))
        return [ParamField(p).check(v, (*path, i), where) for i, (p, v) in pairs]

    def schema(self) -> dict[str, Any]:
        n = len(self.members)
        items = [{k: v for k, v in p.schema().items() if k != "default"} for p in self.members]
        return self.doc({"type": "array", "prefixItems": items, "minItems": n, "maxItems": n})


@dataclass
class AnyParam(Field):
    """A value that must suit one of several parameters of the same name (a swept hyperparameter whose
    bounds differ between optimizers: each run is then checked against its own optimizer's table)."""

    params: tuple[Param, ...]
    description: str = ""

    @property
    def types(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset().union(*(KIND_TYPES[p.kind] for p in self.params))

    def expected(self) -> str:
        return " or ".join(dict.fromkeys(EXPECTED.get(p.kind, "a list") for p in self.params))

    def check(self, value: Any, path: Path, where: Where) -> Any:
        for p in self.params:
            try:
                return ParamField(p).check(value, path, where)
            except ConfigError:
                continue  # the next parameter of that name may accept it
        raise where.error(path, f"{value!r} is invalid; must be {' or '.join(p.allowed for p in self.params)}")

    def schema(self) -> dict[str, Any]:
        return self.doc({"anyOf": [{k: v for k, v in p.schema().items() if k != "default"} for p in self.params]})


def field_for(params: list[Param], nested: Callable[[str], Field | None] | None = None) -> Field:
    """The field of a parameter name: one parameter, or the parameters of that name in several entries;
    ``nested(kind)`` gives the field of a kind's items or calls (schedules, line searches), or None."""
    distinct = list({(p.kind, p.low, p.high, p.low_open, p.high_open, p.choices): p for p in params}.values())
    if len(distinct) == 1:
        p = distinct[0]
        return ParamField(p, nested(p.kind) if nested else None)
    return AnyParam(tuple(distinct))
