"""Config files: safe YAML -> plain data with the line of every key path, and ``--set key.path=value``."""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Any

import yaml

from gradtool.config.fields import Path, Where, format_path, shown
from gradtool.errors import ConfigError

MAX_BYTES = 1_000_000
MAX_NODES = 100_000  # aliases can make a small file expand enormously ("billion laughs")
MAX_CHARS = 10_000_000  # text of the expanded document: 20,000 aliases of one 900 KB string are 18 GB
MAX_DEPTH = 50

_NULL = r"~|null|Null|NULL|"
_BOOL = r"true|True|TRUE|false|False|FALSE"
_INT = r"[-+]?[0-9]+"
_FLOAT = r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader reading plain scalars as YAML 1.2 does, with decimal numbers only.

    PyYAML follows YAML 1.1: ``1:30`` is 90, ``0x10`` 16, ``010`` 8, ``1_000`` 1000, ``yes`` true, ``1e-3`` a
    string and ``2001-12-14`` a date. Here plain scalars are null, true/false, decimal integers and decimal
    floats (``1e-3`` included), and everything else is a string, which a field expecting a number reports.
    Explicit tags (``!!python/object``, ``!!str``, ``!foo``) are errors, on scalars, lists and mappings alike.
    """

    yaml_implicit_resolvers: dict = {}

    def compose_node(self, parent, index):
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None:
            tag = tag.replace("tag:yaml.org,2002:", "!!", 1)
            raise TagError(None, None, f"tag {tag} is not allowed in a config", event.start_mark)
        return super().compose_node(parent, index)


class TagError(yaml.composer.ComposerError):
    """An explicit tag: well-formed YAML, but not allowed in a config."""


for _tag, _pattern, _first in (
    ("null", _NULL, ["~", "n", "N", ""]),
    ("bool", _BOOL, list("tTfF")),
    ("int", _INT, list("-+0123456789")),
    ("float", _FLOAT, list("-+0123456789.")),
    ("merge", "<<", ["<"]),
):
    ConfigLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(f"^(?:{_pattern})$"), _first)
ConfigLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(node.value))  # 010 is ten

_MERGE = "tag:yaml.org,2002:merge"


class _Converter:
    """Walk the composed node graph into dicts/lists/scalars, recording each path's line (1-based)."""

    def __init__(self, loader: ConfigLoader, where: Where):
        self.loader, self.where, self.count, self.chars = loader, where, 0, 0

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)  # every visit: an alias expands to another copy of the text
        if self.count > MAX_NODES or self.chars > MAX_CHARS or len(path) > MAX_DEPTH:
            raise self.where.error(
                path,
                f"the document is too large or nested too deeply (aliases?): at most {MAX_NODES:,} values, "
                f"{MAX_CHARS:,} characters and {MAX_DEPTH} levels once aliases are expanded",
            )
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.loader.construct_object(node)
            except ValueError as exc:  # 5,000 digits: int() raises
                raise self.where.error(path, f"cannot read {_clip(node.value)!r}: {_reason(exc)}") from None
        if isinstance(node, yaml.SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                self.where.lines[(*path, i)] = item.start_mark.line + 1
                out.append(self.value(item, (*path, i)))
            return out
        return self.mapping(node, path)

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                raise ConfigError(f"{self.where.source}:{line}: merge keys (<<) are not supported")
            key = self.loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise ConfigError(
                    f"{self.where.source}:{line}: {format_path(path) or '(top level)'}: key "
                    f"{key!r} is not a string (quote it)"
                )
            if key in out:
                raise ConfigError(f"{self.where.source}:{line}: {format_path((*path, key))}: duplicate key")
            self.where.lines[(*path, key)] = line
            out[key] = self.value(value_node, (*path, key))
        return out


def compose(text: str, where: Where) -> Any:
    """One YAML document as plain data within the limits (MAX_NODES values, MAX_CHARS characters, MAX_DEPTH
    levels, aliases expanded), recording the line of each key path in ``where``; None when it is empty.

    Raises:
        yaml.YAMLError, RecursionError: malformed YAML (the caller names the source); ConfigError: too large.
    """
    loader = ConfigLoader(text)  # rejects control characters such as NUL at once
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        where.lines[()] = node.start_mark.line + 1
        return _Converter(loader, where).value(node, ())
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> tuple[dict[str, Any], Where]:
    """Compose one YAML document safely; return its top-level mapping and where each path is.

    Raises:
        ConfigError: malformed YAML (with the line), several documents, or a top level that is not a mapping.
    """
    where = Where(source)
    try:
        data = compose(text, where)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{source}:{line}: character #x{exc.character:04x} is not allowed in a config") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}{_yaml_problem(exc)}") from None
    except RecursionError:  # PyYAML's parser recurses once per nesting level: "[[[[...]]]]"
        raise ConfigError(f"{source}: malformed YAML: nested too deeply") from None
    if data is None:
        raise ConfigError(f"{source}: the config is empty")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:{where.lines[()]}: the config must be a mapping (key: value), not a {type(data).__name__}"
        )
    return data, where


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _reason(exc: ValueError) -> str:
    return str(exc).split(";")[0]  # Python's digit-limit message goes on to advise sys.set_int_max_str_digits


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``:line: malformed YAML: problem`` from a PyYAML error, on one line."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    at = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    kind = "" if isinstance(exc, TagError) else "malformed YAML: "
    return f"{at}: {kind}{' '.join(str(problem).split())}"


def read_config(file: str) -> tuple[dict[str, Any], Where]:
    """Read and parse a config file (UTF-8, at most 1 MB)."""
    path = FilePath(file)
    try:
        if path.exists() and not path.is_dir() and not path.is_file():  # a FIFO or /dev/zero would never end
            raise ConfigError(f"{file}: not a regular file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{file}: larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a folder, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    return parse_yaml(text, file)


def _split_key_path(text: str) -> list[str | int]:
    """``optimizers.0.lr`` or ``optimizers[0].lr`` -> ``["optimizers", 0, "lr"]``."""
    parts = re.sub(r"\[(\d+)\]", r".\1", text).split(".")
    if any(not p for p in parts):
        raise ConfigError(f"--set {text!r}: empty part in the key path")
    return [int(p) if p.isdigit() else p for p in parts]


def apply_override(data: dict[str, Any], where: Where, assignment: str) -> None:
    """Apply one ``key.path=value`` (value parsed as YAML) to ``data`` in place, before validation.

    Every container on the path must exist; only the last key may be new (in a mapping).

    Raises:
        ConfigError: no ``=``, a path through something that is not a mapping or list, a missing key on
            the way, or a list index out of range.
    """
    key_text, eq, value_text = assignment.partition("=")
    if not eq or not key_text.strip():
        raise ConfigError(f"--set {shown(assignment)}: expected KEY.PATH=VALUE, e.g. --set steps=200")
    path = _split_key_path(key_text.strip())
    shown_key = _clip(key_text.strip())
    try:  # the same loader and limits as a file: an alias bomb on the command line is refused alike
        value = compose(value_text, Where(f"--set {shown_key}=...")) if value_text.strip() else ""
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"--set {shown(assignment)}: the value is not valid YAML ({problem})") from None
    except RecursionError:
        raise ConfigError(f"--set {shown_key}=...: the value is nested too deeply") from None
    node: Any = data
    for depth, part in enumerate(path):
        here = format_path(tuple(path[:depth])) or "the top level"
        last = depth == len(path) - 1
        if isinstance(node, dict):
            if isinstance(part, int):
                part = str(part)
            if not last and part not in node:
                raise ConfigError(
                    f"--set {shown(assignment)}: bad key path: {here} has no key {part!r} "
                    f"(keys: {', '.join(map(str, node)) or 'none'})"
                )
        elif isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise ConfigError(
                    f"--set {shown(assignment)}: bad key path: {here} is a list of {len(node)} "
                    f"entries; use an index 0..{len(node) - 1}"
                )
        else:
            raise ConfigError(
                f"--set {shown(assignment)}: bad key path: {here} is {shown(node)}, not a mapping or list"
            )
        if last:
            node[part] = value
        else:
            node = node[part]
        path[depth] = part
    where.overrides[tuple(path)] = assignment
