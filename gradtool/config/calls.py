"""The call shorthand of an optimizer or schedule: ``adam(lr=0.01, betas=[0.8, 0.99])`` -> a config mapping.

``NAME(key=value, ...)`` stands for ``{name: NAME, key: value, ...}``; values are YAML scalars read by the
config loader (``1e-3`` is a number, ``true`` a boolean), lists ``[...]``, or calls again
(``sequential(schedules=[linear(total_iters=10), cosine(t_max=90)], milestones=[10])``). The result is
validated by the same fields as a config file; nothing is ever evaluated.
"""

from __future__ import annotations

import re
from typing import Any

from gradtool.errors import ConfigError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")  # newton-cg, strong-wolfe
SCALAR = re.compile(r"""'[^']*'|"[^"\\]*(?:\\.[^"\\]*)*"|[^,()\[\]=\s][^,()\[\]=]*""")
MAX_LENGTH = 10_000
MAX_DEPTH = 20


def is_call(text: str) -> bool:
    """Whether ``text`` is written as a call (``adam(...)``) rather than a bare name."""
    return "(" in text


class _Reader:
    def __init__(self, text: str):
        self.text, self.at = text, 0

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{problem} at column {self.at + 1} of {self.text!r}")

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.at : self.at + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {char!r}, found {found}")
        self.at += 1

    def name(self) -> str:
        self.skip()
        m = NAME.match(self.text, self.at)
        if not m:
            raise self.fail("expected a name")
        self.at = m.end()
        return m.group()

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail("nested too deeply")
        if self.peek() == "[":
            return self.sequence(depth)
        self.skip()
        m = NAME.match(self.text, self.at)
        if m and self.text[m.end() :].lstrip().startswith("("):
            return self.call(depth)
        m = SCALAR.match(self.text, self.at)
        if not m:
            raise self.fail("expected a value")
        self.at = m.end()
        return scalar(m.group().strip())

    def sequence(self, depth: int) -> list[Any]:
        self.expect("[")
        out = []
        while self.peek() != "]":
            out.append(self.value(depth + 1))
            if self.peek() != "]":
                self.expect(",")
        self.expect("]")
        return out

    def call(self, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name()}
        self.expect("(")
        while self.peek() != ")":
            key = self.name()
            if key in out:
                raise self.fail(f"{key} given twice")
            self.expect("=")
            out[key] = self.value(depth + 1)
            if self.peek() != ")":
                self.expect(",")
        self.expect(")")
        return out


def scalar(text: str) -> Any:
    """One YAML scalar, as a config file reads it."""
    import yaml

    from gradtool.config.yamlfile import ConfigLoader

    try:
        value = yaml.load(text, Loader=ConfigLoader)
    except (yaml.YAMLError, ValueError):
        raise ConfigError(f"cannot read the value {text!r}") from None
    if isinstance(value, dict | list) or value is None and text not in ("null", "~"):
        raise ConfigError(f"cannot read the value {text!r}")
    return value


def parse_call(text: str) -> dict[str, Any]:
    """``"adam(lr=0.01)"`` -> ``{"name": "adam", "lr": 0.01}`` (not yet validated).

    Raises:
        ConfigError: the text is not one call, naming the column.
    """
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"a call of {len(text)} characters is too long (at most {MAX_LENGTH})")
    reader = _Reader(text)
    out = reader.call(0)
    if reader.peek():
        raise reader.fail("unexpected text after the call")
    return out
