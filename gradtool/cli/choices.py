"""From option texts to validated optimizer and schedule entries: the shorthand goes through the config
fields, each flag through its parameter's check; errors name the flag or the shorthand they came from."""

from __future__ import annotations

from typing import Any

from gradtool.errors import ConfigError
from gradtool.params import ParamError, key_text

#: Library arguments whose flag is not ``--`` + the name with dashes (``lr_find(lr_min=...)`` is ``--min``).
FLAGS = {
    "lr_min": "--min",
    "lr_max": "--max",
    "variables": "--vars",
    "xrange": "--range",
    "tangents": "--tangent-at",
    "user": "--grad",
    "sample": "--sample-params",
}


def flag_name(key: str) -> str:
    """The flag of a parameter (a library argument): ``beta1`` -> ``--beta1``, ``lr_min`` -> ``--min``."""
    return FLAGS.get(key) or "--" + key.replace("_", "-")


def split_top_level(text: str) -> list[str]:
    """``"gd,adam(lr=0.1, betas=[0.8, 0.9])"`` -> ``["gd", "adam(lr=0.1, betas=[0.8, 0.9])"]``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    parts = [p.strip() for p in parts]
    if not any(parts) or not all(parts):
        raise ConfigError(f"--optimizers {text!r}: give names separated by commas, e.g. gd,momentum,adam")
    return parts


def _validated(field: Any, text: str, option: str) -> dict[str, Any]:
    """The entry of ``text`` through ``field``: a config field, or the name of one in gradtool.config.keys, imported
    only for a call (a bare name needs none of the config machinery: ~5 ms of every minimize's start-up)."""
    if "(" not in text:  # not a call (config.calls.is_call): the registry's own message lists the names
        return {"name": text}
    from gradtool.config import keys
    from gradtool.config.fields import Where

    field = getattr(keys, field) if isinstance(field, str) else field
    return field.check(text, (), Where(f"{option} {text!r}"))


def optimizer_entry(text: str, option: str = "--optimizer") -> dict[str, Any]:
    """``adam`` or ``adam(lr=0.01)`` -> ``{"name": "adam", "lr": 0.01}``, validated like a config entry."""
    from gradtool.optim import optimizer_spec

    entry = dict(_validated("OPTIMIZER", text, option))
    optimizer_spec(entry["name"])  # an unknown bare name: one line listing the optimizers
    return entry


def line_search_entry(text: str) -> dict[str, Any]:
    """``armijo`` or ``armijo(c1=0.3)`` -> ``{"name": "armijo", "c1": 0.3}`` (a bare name is checked where it
    is merged, against the optimizer's own parameter)."""
    from gradtool.config.keys import LINE_SEARCH

    return dict(_validated(LINE_SEARCH, text, "--line-search"))


def _check_flag(table: Any, key: str, value: Any) -> Any:
    try:
        return table.get(key).check(value)
    except ParamError as exc:
        raise ParamError(key, exc.detail) from None


def merge_flags(entries: list[dict[str, Any]], hyper: dict[str, Any]) -> list[dict[str, Any]]:
    """Each flag into the entries whose optimizer has it (checked against that optimizer's table first);
    with one optimizer, a flag it lacks or sets in its shorthand too is an error."""
    from gradtool.optim import optimizer_spec
    from gradtool.optim.registry import merge_hyper

    for key, value in hyper.items():
        for entry in entries:
            table = optimizer_spec(entry["name"]).table
            if table.get(key) is not None and key not in entry:
                _check_flag(table, key, value)
    return merge_hyper(entries, hyper, single=len(entries) == 1)


def schedule_entry(text: str | None, flags: dict[str, Any]) -> dict[str, Any] | None:
    """The schedule of ``--schedule`` (a name or a call) with its flags merged; ``constant`` when only flags
    were given; None when neither was."""
    from gradtool.optim import schedule_spec

    if text is None and not flags:
        return None
    entry = dict(_validated("SCHEDULE", text, "--schedule")) if text is not None else {"name": "constant"}
    table = schedule_spec(entry["name"]).table
    for key, value in flags.items():
        if table.get(key) is None:
            raise ParamError(
                key, f"schedule {entry['name']!r} has no such parameter (its parameters: {', '.join(table.names)})"
            )
        if key in entry:
            raise ParamError(key, "also set in --schedule; give it once")
        entry[key] = _check_flag(table, key, value)
    return entry


def cli_message(exc: ParamError) -> str:
    """A ParamError in command-line terms: its parameter and those it mentions become flags (``--beta1: ...``)."""
    head, rest = exc.key[0], exc.key[1:]
    inner = f" {key_text(rest)}:" if rest else ""
    return f"{flag_name(str(head))}:{inner} {exc.detail_as(flag_name)}"
