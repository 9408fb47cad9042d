"""A tiny schema language, part 2: lists, mappings, tagged mappings, unions, named references."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from gradtool.config.fields import Field, Path, Where, json_type, shown
from gradtool.errors import ConfigError


@dataclass
class Seq(Field):
    """A list of ``item`` with ``min_items`` to ``max_items`` entries."""

    item: Field
    min_items: int = 1
    max_items: int | None = None
    description: str = ""
    types = frozenset({"array"})

    def expected(self) -> str:
        return "a list"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if not isinstance(value, list):
            raise self.type_error(value, path, where)
        lo, hi, n = self.min_items, self.max_items, len(value)
        if n < lo or (hi is not None and n > hi):
            want = f"at least {lo}" if hi is None else (str(lo) if lo == hi else f"{lo} to {hi}")
            raise where.error(path, f"expected a list of {want} entries, got {n}")
        return [self.item.check(v, (*path, i), where) for i, v in enumerate(value)]

    def schema(self) -> dict[str, Any]:
        out = {"type": "array", "items": self.item.schema(), "minItems": self.min_items}
        return self.doc(out if self.max_items is None else {**out, "maxItems": self.max_items})


@dataclass
class Record(Field):
    """A mapping with known ``fields`` (``required`` ones must be present), or any keys valued ``extra``.

    ``exactly_one`` lists groups of keys of which exactly one must be given (``optimizer`` / ``optimizers``);
    ``at_most_one`` groups of which at most one may be given.
    """

    fields: Mapping[str, Field] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    extra: Field | None = None
    exactly_one: tuple[tuple[str, ...], ...] = ()
    at_most_one: tuple[tuple[str, ...], ...] = ()
    description: str = ""
    types = frozenset({"object"})

    def expected(self) -> str:
        return "a mapping (key: value)"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if not isinstance(value, dict):
            raise self.type_error(value, path, where)
        out = {}
        for key, v in value.items():
            spec = self.fields.get(key, self.extra)
            if spec is None:
                raise where.error((*path, key), f"unknown key; allowed: {', '.join(self.fields)}")
            out[key] = spec.check(v, (*path, key), where)
        for key in self.required:
            if key not in value:
                raise where.error((*path, key), "missing required key")
        for group in self.exactly_one:
            given = [k for k in group if k in value]
            if len(given) != 1:
                raise where.error((*path, given[1]) if given else path, f"give exactly one of {' or '.join(group)}")
        for group in self.at_most_one:
            given = [k for k in group if k in value]
            if len(given) > 1:
                raise where.error((*path, given[1]), f"give at most one of {' or '.join(group)}")
        return out

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "properties": {k: f.schema() for k, f in self.fields.items()}}
        out["additionalProperties"] = self.extra.schema() if self.extra else False
        if self.required:
            out["required"] = list(self.required)
        groups = [{"oneOf": [{"required": [k]} for k in group]} for group in self.exactly_one]
        groups += [{"not": {"anyOf": [{"required": list(p)} for p in combinations(g, 2)]}} for g in self.at_most_one]
        if groups:
            out.update(groups[0] if len(groups) == 1 else {"allOf": groups})
        return self.doc(out)


@dataclass
class Tagged(Field):
    """A mapping whose ``tag`` key (absent: ``default``) picks one of ``variants`` (read lazily)."""

    tag: str
    variants: Callable[[], Mapping[str, Record]]
    what: str = "name"
    default: str | None = None
    description: str = ""
    types = frozenset({"object"})

    def expected(self) -> str:
        return "a mapping (key: value)"

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if not isinstance(value, dict):
            raise self.type_error(value, path, where)
        variants = self.variants()
        name = value.get(self.tag, self.default)
        at = (*path, self.tag)
        if name is None:
            raise where.error(at, f"missing required key (the {self.what})")
        if not isinstance(name, str):  # a list or mapping here is not a name (and cannot be looked up)
            raise where.error(at, f"expected the {self.what} as a string, got {json_type(name)} {shown(name)}")
        if name not in variants:
            raise where.error(at, f"unknown {self.what} {shown(name)}; choose one of: {', '.join(variants)}")
        return variants[name].check(value, path, where)

    def schema(self) -> dict[str, Any]:
        branches = []
        for name, record in self.variants().items():
            out = record.schema()
            out["properties"] = {self.tag: {"const": name}, **out["properties"]}
            if name != self.default:
                out["required"] = [self.tag, *(k for k in out.get("required", ()) if k != self.tag)]
            branches.append({"title": name, **out})
        return {"description": self.description, "oneOf": branches} if self.description else {"oneOf": branches}


@dataclass
class Union(Field):
    """One of ``options``, chosen by the value's JSON type (the options accept different types)."""

    options: tuple[Field, ...]
    description: str = ""

    @property
    def types(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset().union(*(o.types for o in self.options))

    def expected(self) -> str:
        return " or ".join(o.expected() for o in self.options)

    def check(self, value: Any, path: Path, where: Where) -> Any:
        kind = json_type(value)
        for option in self.options:
            if kind in option.types:
                return option.check(value, path, where)
        raise self.type_error(value, path, where)

    def schema(self) -> dict[str, Any]:
        return self.doc({"anyOf": [o.schema() for o in self.options]})


@dataclass
class Shorthand(Field):
    """A string ``s`` standing for ``{key: s}`` of ``target`` (``adam`` for ``{name: adam}``), a call
    ``adam(lr=0.01)`` standing for ``{name: adam, lr: 0.01}`` (see :mod:`gradtool.config.calls`), or the
    mapping."""

    key: str
    target: Tagged
    description: str = ""
    types = frozenset({"string", "object"})

    def expected(self) -> str:
        return f"a {self.target.what} name, a call such as name(key=value) or a mapping with {self.key}: ..."

    def check(self, value: Any, path: Path, where: Where) -> Any:
        if isinstance(value, str):
            from gradtool.config.calls import is_call, parse_call

            if is_call(value):
                try:
                    value = parse_call(value)
                except ConfigError as exc:
                    raise where.error(path, str(exc)) from None
            else:
                value = {self.key: value}
        elif not isinstance(value, dict):
            raise self.type_error(value, path, where)
        return self.target.check(value, path, where)

    def schema(self) -> dict[str, Any]:
        names = [n for n, r in self.target.variants().items() if not set(r.required) - {self.key}]
        call = {
            "type": "string",
            "pattern": r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)\s*$",
            "description": "name(key=value, ...)",
        }
        return self.doc({"anyOf": [{"type": "string", "enum": names}, call, self.target.schema()]})


_DEFS: list[dict[str, Any]] = []  # the $defs being collected by the innermost schema_document call


@dataclass
class Ref(Field):
    """``field`` under a name: validated as ``field``, emitted once in ``$defs`` and referenced by ``$ref``."""

    name: str
    field: Field

    @property
    def types(self) -> frozenset[str]:  # type: ignore[override]
        return self.field.types

    def expected(self) -> str:
        return self.field.expected()

    def check(self, value: Any, path: Path, where: Where) -> Any:
        return self.field.check(value, path, where)

    def schema(self) -> dict[str, Any]:
        if not _DEFS:
            return self.field.schema()
        if self.name not in _DEFS[-1]:
            _DEFS[-1][self.name] = {}  # a placeholder, so that a recursive reference stops here
            _DEFS[-1][self.name] = self.field.schema()
        return {"$ref": f"#/$defs/{self.name}"}


def schema_document(root: Field, **head: Any) -> dict[str, Any]:
    """The JSON Schema document of ``root``: the ``head`` keys, its schema, and the ``$defs`` of its Refs."""
    _DEFS.append({})
    try:
        body = root.schema()
        defs = _DEFS[-1]
    finally:
        _DEFS.pop()
    return {**head, **body, "$defs": dict(sorted(defs.items()))} if defs else {**head, **body}
