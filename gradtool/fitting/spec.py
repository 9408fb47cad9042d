"""A fit described as data (the keys of a ``task: fit`` config) and its mapping onto :func:`gradtool.fit`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradtool.errors import ConfigError

#: The keys of a fit config: the ``gradtool fit`` options in snake_case (``--batch-size`` -> ``batch_size``,
#: ``--grad`` -> ``gradient``). ``optimizer`` is a name or ``{name, lr, <hyperparameters>}`` and ``schedule``
#: a name or ``{name, <schedule parameters>}``, as in minimize configs.
FIT_KEYS = (
    "model", "data", "target", "params", "inputs", "init", "activation", "loss", "l2", "standardize", "optimizer",
    "schedule", "epochs", "batch_size", "test_split", "stratify", "test_data", "early_stopping", "seed", "gradient",
    "every", "save", "load", "grad_stats",
)  # fmt: skip
META_KEYS = ("task", "description")
REQUIRED = ("model", "data", "target")


def _named(value: Any, key: str) -> tuple[str | None, dict[str, Any]]:
    if value is None or isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return value["name"], {str(k): v for k, v in value.items() if k != "name"}
    raise ConfigError(f"{key}: give a name or a mapping with a 'name', got {value!r}")


def fit_arguments(config: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``(keyword arguments for gradtool.fit, the save path or None)`` from a config's keys.

    Raises:
        ConfigError: an unknown or missing key, or a malformed optimizer/schedule entry.
    """
    unknown = sorted(set(config) - set(FIT_KEYS) - set(META_KEYS))
    if unknown:
        raise ConfigError(f"fit configs have no key {unknown[0]!r}; allowed: {', '.join(FIT_KEYS)}")
    missing = [k for k in REQUIRED if config.get(k) is None]
    if missing:
        raise ConfigError(f"a fit config needs {', '.join(missing)}")
    arguments = {k: v for k, v in config.items() if k in FIT_KEYS and k not in ("optimizer", "schedule", "save")}
    optimizer, hyper = _named(config.get("optimizer"), "optimizer")
    if optimizer is not None:
        arguments.update(optimizer=optimizer, **hyper)
    schedule, options = _named(config.get("schedule"), "schedule")
    if schedule is not None:
        arguments.update(schedule=schedule, schedule_options=options)
    return arguments, config.get("save")
