"""The registries are the one declaration: every parameter reaches the CLI, a config and the schema, and a new
optimizer needs its module, its registry entry and tests, nothing else."""

from __future__ import annotations

import json
import sys
import types

import pytest

from gradtool.cli.choices import flag_name
from gradtool.config import config_schema, load_config
from gradtool.optim import OPTIMIZERS, SCHEDULES
from gradtool.params import Marker, ParamError

CANONICAL = [spec for name, spec in OPTIMIZERS.items() if name == spec.name]


def sample(param):
    """A valid value of ``param`` other than its default."""
    kind, default = param.kind, param.default
    if kind == "boolean":
        return not default
    if kind == "choice":
        return next(c for c in param.choices if c != default)
    if kind == "integers":
        return [2]
    if kind == "schedules":
        return [{"name": "constant"}, {"name": "constant"}]
    if kind == "call":  # another entry of the nested registry (a line search), its parameters filled in
        return next(param.check(name) for name in param.tables if param.check(name) != param.default_value)
    base = default if isinstance(default, int | float) and not isinstance(default, Marker) else 1
    candidates = [base * 0.5, base * 2, base + 1, 0.3, 0.7, 3, 7] if kind == "number" else [base + 1, 2, 3, 7]
    for value in candidates:
        try:
            if param.check(value) != default:
                return param.check(value)
        except ParamError:
            continue
    raise AssertionError(f"no sample for {param}")


def call_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return f"{value['name']}()"
    if isinstance(value, list):
        return "[" + ", ".join(call_text(v) for v in value) + "]"
    return repr(value)


def call(name: str, values: dict) -> str:
    return f"{name}({', '.join(f'{k}={call_text(v)}' for k, v in values.items())})"


def required_values(spec) -> dict:
    return {p.name: sample(p) for p in spec.table.params if p.required}


def same(got, want) -> bool:
    if isinstance(want, list) and want and isinstance(want[0], dict):
        return [g["name"] for g in got] == [w["name"] for w in want]
    return got == (list(want) if isinstance(want, tuple) else want)


CASES = [("optimizer", spec.name, p) for spec in CANONICAL for p in spec.table.params]
CASES += [("schedule", spec.name, p) for spec in SCHEDULES.values() for p in spec.table.params]


@pytest.mark.parametrize(("kind", "name", "param"), CASES, ids=[f"{k}-{n}-{p.name}" for k, n, p in CASES])
def test_every_parameter_reaches_the_cli_a_config_and_the_schema(invoke, tmp_path, kind, name, param):
    registry = OPTIMIZERS if kind == "optimizer" else SCHEDULES
    values = {**required_values(registry[name]), param.name: sample(param)}
    args = ["minimize", "x^2 + y^2", "--x0", "1,1", "--steps", "30", "--json"]
    schedule = ["-o", "momentum(lr=1)", "--schedule", call(name, values)]  # momentum: for the cycling ones
    result = invoke(*args, *(["-o", call(name, values)] if kind == "optimizer" else schedule))
    if result.exit_code in (0, 1):  # the CLI run (finished, diverged, or no step found) records the value it used
        assert same(json.loads(result.stdout)[kind][param.name], values[param.name])
    else:  # a value only invalid in combination (nag's dampening): it reached the check that names it
        assert result.exit_code == 2 and (param.name in result.stderr or flag_name(param.name) in result.stderr)
    entry = {"name": name, **values}
    placed = (
        {"optimizer": entry} if kind == "optimizer" else {"optimizer": {"name": "momentum", "lr": 1}, "schedule": entry}
    )
    text = json.dumps({"function": "x^2", **placed})
    config = tmp_path / "c.yaml"
    config.write_text(text)
    if result.exit_code in (0, 1):
        (run,) = load_config(str(config)).runs
        given = run.options if kind == "optimizer" else run.options["schedule_options"]
        assert same(given[param.name], values[param.name])
    branches = config_schema()["$defs"][kind]["anyOf"][2]["oneOf"]
    (branch,) = [b for b in branches if b["title"] == name]
    schema = branch["properties"][param.name]
    nested = ("items", "type", "$ref")  # a list's items, a call's registry: the nested field's own schema
    assert {k: v for k, v in schema.items() if k not in nested} == {
        k: v for k, v in param.schema().items() if k not in nested
    }


@pytest.fixture
def fresh_registry_caches():
    """The config fields are built once from the registries; a test that changes a registry rebuilds them."""
    from gradtool.config import fit, keys

    cached = [keys._optimizer_variants, keys._schedule_variants, keys.hyperparameter_names, keys.minimize_fields]
    cached += [keys.check_fields, fit.fit_fields]

    def clear():
        for fn in cached:
            fn.cache_clear()

    clear()
    yield
    clear()


def test_a_new_optimizer_needs_only_its_module_and_its_entry(monkeypatch, invoke, tmp_path, fresh_registry_caches):
    import numpy as np

    from gradtool.optim.base import OptimizerSpec
    from gradtool.optim.registry import WEIGHT_DECAY, lr
    from gradtool.params import Table, number

    module = types.ModuleType("gradtool.optim.toy")

    def toy(weight_decay, shrink):
        """Toy descent, shrinking the step::

        x = x - lr * shrink * (g + weight_decay * x)
        """

        def init(x):
            return types.SimpleNamespace(step=0)

        def update(g, state, x, lr):
            return x - lr * shrink * (g + weight_decay * x), types.SimpleNamespace(step=state.step + 1)

        return init, update

    module.toy = toy
    monkeypatch.setitem(sys.modules, "gradtool.optim.toy", module)
    shrink = number("shrink", 0.5, "Step shrink factor.", low=0, high=1, low_open=True)
    spec = OptimizerSpec("toy", Table((lr(0.1), WEIGHT_DECAY, shrink)), "toy:toy")
    monkeypatch.setitem(OPTIMIZERS, "toy", spec)

    code = invoke("minimize", "x^2", "--x0", "1", "-o", "toy(shrink=0.25)", "--steps", "2", "--json")
    out = json.loads(code.stdout)
    assert out["optimizer"] == {"name": "toy", "lr": 0.1, "weight_decay": 0.0, "shrink": 0.25}
    assert out["x"]["x"] == pytest.approx(1 * (1 - 0.1 * 0.25 * 2) ** 2)
    bad = invoke("minimize", "x^2", "--x0", "1", "-o", "toy(shrink=2)")
    assert bad.exit_code == 2 and "shrink: 2 is invalid; must be a number in (0, 1]" in bad.stderr
    config = tmp_path / "c.yaml"
    config.write_text(
        "function: x^2\noptimizers: [toy, {name: toy, label: half, lr: 0.5}]\nsweep: {shrink: [0.1, 1]}\n"
    )
    runs = load_config(str(config)).runs
    assert [r.label for r in runs] == ["toy-shrink0.1", "toy-shrink1", "half-shrink0.1", "half-shrink1"]
    assert [r.options["shrink"] for r in runs] == [0.1, 1, 0.1, 1]
    (branch,) = [b for b in config_schema()["$defs"]["optimizer"]["anyOf"][2]["oneOf"] if b["title"] == "toy"]
    assert branch["properties"]["shrink"] == shrink.schema()
    listing = json.loads(invoke("optimizers", "--json").stdout)["optimizers"]
    (described,) = [e for e in listing if e["name"] == "toy"]
    assert described["formula"] == "x = x - lr * shrink * (g + weight_decay * x)"
    assert [p["name"] for p in described["parameters"]] == ["lr", "weight_decay", "shrink"]
    assert np.isfinite(out["f"])
