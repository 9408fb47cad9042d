"""Config files: safe YAML -> plain data with the line of every key path, and ``--set key.path=value``."""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Any

import yaml

from gradtool.config.fields import Path, Where, format_path
from gradtool.errors import ConfigError

MAX_BYTES = 1_000_000
MAX_NODES = 100_000  # aliases can make a small file expand enormously ("billion laughs")
MAX_DEPTH = 50


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.2; PyYAML's YAML 1.1 reads it as a string).

    Only a resolver is added: no tag is constructed beyond SafeLoader's plain data types.
    """


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)

_MERGE = "tag:yaml.org,2002:merge"


class _Converter:
    """Walk the composed node graph into dicts/lists/scalars, recording each path's line (1-based)."""

    def __init__(self, loader: ConfigLoader, where: Where):
        self.loader, self.where, self.count = loader, where, 0

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise self.where.error(path, "the document is too large or nested too deeply (aliases?)")
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.loader.construct_object(node)
            except ValueError as exc:  # 5,000 digits, 2001-13-45: PyYAML lets int() and date() raise
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


def parse_yaml(text: str, source: str) -> tuple[dict[str, Any], Where]:
    """Compose one YAML document safely; return its top-level mapping and where each path is.

    Raises:
        ConfigError: malformed YAML (with the line), several documents, or a top level that is not a mapping.
    """
    where = Where(source)
    loader = None
    try:
        loader = ConfigLoader(text)  # rejects control characters such as NUL at once
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(f"{source}: the config is empty")
        where.lines[()] = node.start_mark.line + 1
        data = _Converter(loader, where).value(node, ())
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{source}:{line}: character #x{exc.character:04x} is not allowed in a config") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}{_yaml_problem(exc)}") from None
    except RecursionError:  # PyYAML's parser recurses once per nesting level: "[[[[...]]]]"
        raise ConfigError(f"{source}: malformed YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
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
    return f"{at}: malformed YAML: {' '.join(str(problem).split())}"


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
        raise ConfigError(f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. --set steps=200")
    path = _split_key_path(key_text.strip())
    try:
        value = yaml.load(value_text, Loader=ConfigLoader) if value_text.strip() else ""
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"--set {assignment!r}: the value is not valid YAML ({problem})") from None
    except RecursionError:
        raise ConfigError(f"--set {key_text.strip()}=...: the value is nested too deeply") from None
    except ValueError as exc:
        raise ConfigError(f"--set {key_text.strip()}=...: cannot read the value: {_reason(exc)}") from None
    node: Any = data
    for depth, part in enumerate(path):
        here = format_path(tuple(path[:depth])) or "the top level"
        last = depth == len(path) - 1
        if isinstance(node, dict):
            if isinstance(part, int):
                part = str(part)
            if not last and part not in node:
                raise ConfigError(
                    f"--set {assignment!r}: bad key path: {here} has no key {part!r} "
                    f"(keys: {', '.join(map(str, node)) or 'none'})"
                )
        elif isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise ConfigError(
                    f"--set {assignment!r}: bad key path: {here} is a list of {len(node)} "
                    f"entries; use an index 0..{len(node) - 1}"
                )
        else:
            raise ConfigError(f"--set {assignment!r}: bad key path: {here} is {node!r}, not a mapping or list")
        if last:
            node[part] = value
        else:
            node = node[part]
        path[depth] = part
    where.overrides[tuple(path)] = assignment
