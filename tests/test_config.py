"""Configs as a library: YAML with line numbers, --set, validation messages, the schema, sweeps, outputs."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from gradtool.config import compare, config_schema, load_config, run_files
from gradtool.config.keys import hyperparameter_names
from gradtool.config.yamlfile import parse_yaml
from gradtool.errors import ConfigError

ROOT = Path(__file__).parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> str:
    """A config file in ``tmp_path``, beside a link to the repository's data/ (relative paths in a config
    resolve against its folder, so fit configs say data/linear.csv)."""
    path = tmp_path / name
    path.write_text(text)
    if "data:" in text and not (tmp_path / "data").exists():
        (tmp_path / "data").symlink_to(ROOT / "data")
    return str(path)


def error_of(tmp_path: Path, text: str, *overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- validation: file, line, key path and what is allowed, before anything runs ---------------------------

FIT = "task: fit\nmodel: w*x + b\ndata: data/linear.csv\ntarget: y\n"  # data/: beside the config (see write)
XOR = "task: fit\nmodel: mlp:2-4-1\nloss: bce\ndata: data/xor.csv\ntarget: y\n"
FIT_BAD = [
    (FIT + "epoch: 3\n", 5, "epoch: unknown key; allowed: task, description, model, data, target, params"),
    (FIT + "loss: hinge\n", 5, "loss: unknown loss 'hinge'; choose one of: mse, mae, huber, bce, cross-entropy, ce"),
    (FIT + "epochs: -5\n", 5, "epochs: -5 is invalid; must be an integer >= 0"),
    ("task: fit\nmodel: w*x + b\ndata: data/linear.csv\n", 1, "target: missing required key"),
    (FIT + "test_split: 1\n", 5, "test_split: 1 is invalid; must be a number >= 0 and < 1"),
    (XOR + "activation: gelu\n", 6, "activation: unknown activation 'gelu'; choose one of: sigmoid, tanh"),
    (XOR + "gradient: symbolic\n", 6, "gradient: unknown gradient engine 'symbolic'; choose one of: autodiff"),
    (XOR + "optimizer: adam\noptimizers: [gd]\n", 7, "optimizers: give at most one of optimizer or optimizers"),
    (XOR + "optimizer: {name: adam, lr: -1}\n", 6, "optimizer.lr: -1 is invalid; must be a number >= 0"),
    (FIT + "sweep: {momentum: [0.5]}\n", 5, "sweep.momentum: optimizer 'gd'"),
    (FIT + "sweep: {steps: [5]}\n", 5, "sweep.steps: unknown key; allowed: lr, weight_decay"),
    # checked by building every run against the data (nothing trains)
    (
        "task: fit\nmodel: w*x + b\ndata: data/linear.csv\ntarget: z\n",
        4,
        "target: {dir}/data/linear.csv: no target column 'z'",
    ),
    ("task: fit\nmodel: w*x\ndata: data/nope.csv\ntarget: y\n", 3, "data: {dir}/data/nope.csv: no such file"),
    (FIT + "init: {w: 1, q: 2}\n", 5, "init: unknown variable 'q'"),
    (XOR + "gradient: analytic\n", 6, "gradient: analytic is for expression models"),
    (XOR + "test_split: 0.1\n", 6, "test_split: 0.1 of 4 rows leaves 0 test"),
    (XOR + "sweep: {batch_size: [2, 0]}\n", 6, "sweep.batch_size[1]: 0 is invalid; must be an integer >= 1"),
    (FIT.replace("linear", "xor") + "params: w,b\n", 3, "data: {dir}/data/xor.csv: no input column 'x' in the data"),
    (XOR.replace("xor", "linear").replace("loss: bce\n", ""), 2, "model: {dir}/data/linear.csv: the network takes 2"),
    (XOR + "optimizer: {name: gd, lr: 0.1}\nschedule: {name: cosine, t_max: 9, eta_min: 1}\n", 7, "eta_min=1.0"),
    (XOR + "optimizers: [gd, adam]\nsave: m.npz\n", 7, "save: 2 runs would write the same file; put {label}"),
]

BAD = [
    ("function: x^2\noptimizer: gd\nstepz: 10\n", 3, "stepz: unknown key; allowed: task, description"),
    ("function: x^2\noptimizer: gd\nsteps: ten\n", 3, "steps: expected a whole number, got string 'ten'"),
    ("optimizer: gd\nsteps: 10\n", 1, "function: missing required key"),
    (
        "function: x^2\noptimizers:\n  - gd\n  - {name: adm}\n",
        4,
        "optimizers[1].name: unknown optimizer 'adm'; choose one of: gd, momentum, nag",
    ),
    (
        "function: x^2\noptimizers:\n  - gd\n  - {name: adam, lr: -0.1}\n",
        4,
        "optimizers[1].lr: -0.1 is invalid; must be a number >= 0",
    ),
    (
        "function: x^2\noptimizer:\n  name: momentum\n  momentum: 1.0\n",
        4,
        "optimizer.momentum: 1.0 is invalid; must be a number in [0, 1)",
    ),
    ("function: x^2\noptimizer: {name: gd\nsteps: 3\n", 3, "malformed YAML"),
    ("function: rosenbrok\noptimizer: gd\n", 1, "function: unknown function 'rosenbrok'; named functions: sphere"),
    ("function: x^2 +* y\noptimizer: gd\n", 1, "function: syntax error"),
    (
        "function: x^2\noptimizer: {name: gd, momentum: 0.9}\n",
        2,
        "optimizer.momentum: unknown key; allowed: name, label, schedule, lr, weight_decay",
    ),
    ("function: x^2\noptimizer: gd\nschedule: step\n", 3, "schedule.step_size: missing required key"),
    (
        "function: x^2\noptimizer: gd\nschedule: {name: cosine, t_max: 9, eta_min: 1}\n",
        3,
        "schedule: schedule 'cosine': eta_min=1.0 must not exceed lr=0.001",
    ),
    ("function: x^2\noptimizer: gd\noptimizers: [adam]\n", 3, "give exactly one of optimizer or optimizers"),
    ("function: x^2\noptimizer:\n  name: adam\n  betas: [0.9, 1.5]\n", 4, "optimizer.betas[1]: 1.5 is invalid"),
    (
        "function: x^2\noptimizer: {name: adam, betas: [0.9, 0.9], beta1: 0.5}\n",
        2,
        "give at most one of betas or beta1",
    ),
    ("function: x^2\noptimizer: {name: adam, betas: 0.9}\n", 2, "optimizer.betas: expected a list of 2 numbers"),
    ("function: x^2\noptimizer: gd\nsteps: 1\nsteps: 2\n", 4, "steps: duplicate key"),
    ("function: x^2\noptimizer: gd\nx0: {y: 1}\n", 3, "x0: unknown variable 'y' in point; expected x"),
    ("function: x^2\noptimizer: gd\nsweep: {momentum: [0.5]}\n", 3, "sweep.momentum: optimizer 'gd'"),
    ("function: x^2\noptimizer: {name: gd, lr: 0.1}\nsweep: {lr: [0.5]}\n", 2, "optimizer.lr: lr is also swept"),
    ("function: x^2\nsteps: 5\noptimizer: gd\nsweep: {steps: [1, 2]}\n", 4, "sweep.steps: steps is also set"),
    ("function: x^2\noptimizer: gd\nstarts: {count: 0}\n", 3, "starts.count: 0 is invalid; must be an integer >= 1"),
    ("function: x^2\noptimizer: gd\nstarts: {count: 3}\noutput: {trajectory: t.csv}\n", 4, "cannot be combined"),
    ("function: x^2\noptimizers: [gd, adam]\noutput: {trajectory: t.csv}\n", 3, "put {label} in the path"),
    ("function: x^2\noptimizer: gd\noutput: {trajectory: 'out/{lbl}.csv'}\n", 3, "the only placeholder is {label}"),
    *FIT_BAD,
    ("task: check-grad\nfunction: x^2\n", 1, "give exactly one of at or random"),
    ("task: check-grad\nfunction: x^2\nat: 1\nmethod: sideways\n", 4, "unknown difference method 'sideways'"),
    ("function: !!python/object:os.system x\n", 1, "tag !!python/object:os.system is not allowed"),
    ("- a\n- b\n", 1, "must be a mapping"),
    ("function: x^2\noptimizer: gd\nsteps: .inf\n", 3, "steps: inf is invalid; must be an integer in [0, 1000000000]"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_config_names_file_line_and_key_path(tmp_path, text, line, fragment):
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'c.yaml'}:{line}: "), message
    assert fragment.replace("{dir}", str(tmp_path)) in message


def test_nothing_is_written_when_a_config_is_invalid(tmp_path):
    (tmp_path / "out").mkdir()
    text = (
        "function: x^2\noptimizers: [gd, {name: adam, lr: -1}]\n"
        "output: {trajectory: 'out/{label}.csv', json: out/r.json}\n"
    )
    error_of(tmp_path, text)
    assert list((tmp_path / "out").iterdir()) == []


def test_empty_file_and_missing_file(tmp_path):
    assert error_of(tmp_path, "").endswith("the config is empty")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "nope.yaml"))


def test_alias_bomb_is_refused(tmp_path):
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"{c}: &{c} [{', '.join(['*' + p] * 10)}]" for p, c in zip("abcdefg", "bcdefgh", strict=False)]
    assert "too large" in error_of(tmp_path, "\n".join(rows) + "\n")


def test_yaml_12_floats_and_line_numbers():
    data, where = parse_yaml("function: x^2\noptimizer:\n  name: adam\n  lr: 1e-3\n", "f.yaml")
    assert data["optimizer"]["lr"] == 1e-3
    assert where.lines[("optimizer", "lr")] == 4 and where.locate(("optimizer", "lr", "x")) == "f.yaml:4"


# ---- --set -----------------------------------------------------------------------------------------------

SWEEP = "function: x^2 + 10*y^2\nx0: [1, 1]\nsteps: 50\noptimizers: [gd, {name: adam, lr: 0.1}]\n"


def test_set_overrides_before_validation(tmp_path):
    plan = load_config(write(tmp_path, SWEEP), ["steps=7", "optimizers.1.lr=0.05", "optimizers[0]={name: nag}"])
    assert [r.options["steps"] for r in plan.runs] == [7, 7]
    assert plan.runs[1].options["lr"] == 0.05 and plan.runs[0].options["optimizer"] == "nag"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("steps.x=3", "bad key path: steps is 50, not a mapping or list"),
        ("optimizer.lr=3", "bad key path: the top level has no key 'optimizer'"),
        ("optimizers.5.lr=3", "bad key path: optimizers is a list of 2 entries; use an index 0..1"),
        ("optimizers.x.lr=3", "optimizers is a list of 2 entries"),
        ("steps", "expected KEY.PATH=VALUE"),
        ("steps=[1", "the value is not valid YAML"),
    ],
)
def test_bad_set_path_is_a_clear_error(tmp_path, override, fragment):
    assert fragment in error_of(tmp_path, SWEEP, override)


def test_set_value_errors_name_the_override(tmp_path):
    message = error_of(tmp_path, SWEEP, "optimizers.1.lr=-2")
    assert message.startswith(f"{tmp_path / 'c.yaml'} (--set optimizers.1.lr=-2): optimizers[1].lr: -2 is invalid")
    assert "stepz: unknown key" in error_of(tmp_path, SWEEP, "stepz=3")


# ---- sweeps and labels -----------------------------------------------------------------------------------


def test_sweep_is_entries_times_combinations_with_readable_labels(tmp_path):
    text = SWEEP + "sweep: {weight_decay: [0.0, 0.1], steps: [5, 10]}\n"
    plan = load_config(write(tmp_path, text.replace("steps: 50\n", "")))
    labels = [r.label for r in plan.runs]
    assert labels[:4] == [
        "gd-weight_decay0.0-steps5",
        "gd-weight_decay0.0-steps10",
        "gd-weight_decay0.1-steps5",
        "gd-weight_decay0.1-steps10",
    ]
    assert len(labels) == 8 and labels[4].startswith("adam-")


def test_clashing_labels_are_disambiguated(tmp_path):
    text = (
        "function: x^2\noptimizers:\n  - {name: momentum, momentum: 0.5}\n  - {name: momentum, momentum: 0.9}\n"
        "  - {name: gd, label: slow, lr: 0.01}\n  - {name: gd, label: slow, lr: 0.01}\n  - gd\n"
    )
    labels = [r.label for r in load_config(write(tmp_path, text)).runs]
    assert labels == ["momentum-momentum0.5", "momentum-momentum0.9", "slow-lr0.01", "slow-lr0.01-2", "gd"]


def test_entry_schedule_overrides_the_top_level_one(tmp_path):
    text = (
        "function: x^2\nschedule: {name: exponential, gamma: 0.9}\noptimizers:\n  - gd\n"
        "  - {name: gd, schedule: constant}\n"
    )
    runs = load_config(write(tmp_path, text)).runs
    assert [r.label for r in runs] == ["gd", "gd-constant"]
    assert runs[0].options["schedule"] == "exponential" and runs[1].options["schedule"] == "constant"


def test_compare_gives_hyperparameters_to_the_optimizers_that_have_them():
    result = compare("x^2 + y^2", ["gd", "momentum"], x0="1,1", hyper={"lr": 0.1, "momentum": 0.5}, steps=20)
    assert [r.optimizer.get("momentum") for r in result.runs] == [None, 0.5]
    with pytest.raises(ConfigError, match="beta1: applies to none of gd, momentum"):
        compare("x^2", ["gd", "momentum"], hyper={"beta1": 0.8})


# ---- the schema: generated from the definition that validates --------------------------------------------


def _enums(node, out: set) -> set:
    if isinstance(node, dict):
        out.update(node.get("enum", []))
        if "const" in node:
            out.add(node["const"])
        for v in node.values():
            _enums(v, out)
    elif isinstance(node, list):
        for v in node:
            _enums(v, out)
    return out


def test_schema_names_every_registry_entry():
    from gradtool.expr.library import TEST_FUNCTIONS
    from gradtool.grad.engines import ENGINES
    from gradtool.grad.numeric import METHODS
    from gradtool.optim import OPTIMIZERS, SCHEDULES

    schema = config_schema()
    names = _enums(schema, set())
    for registry in (OPTIMIZERS, SCHEDULES, ENGINES, TEST_FUNCTIONS, METHODS):
        assert set(registry) <= names
    assert {"minimize", "check-grad", "fit"} <= names
    text = json.dumps(schema)
    assert all(f'"{k}"' in text for k in hyperparameter_names())


def test_fit_keys_come_from_the_fit_library_and_its_registries():
    from gradtool.config.fit import FIT_KEYS, META_KEYS, fit_fields
    from gradtool.fitting.gradients import FIT_ENGINES
    from gradtool.fitting.losses import ALIASES, LOSSES
    from gradtool.fitting.models import ACTIVATIONS

    assert list(fit_fields().fields) == [*META_KEYS, *FIT_KEYS, "optimizers", "sweep", "output"]
    (branch,) = [b for b in config_schema()["oneOf"] if b["title"] == "fit"]
    assert list(branch["properties"]) == list(fit_fields().fields)
    assert branch["required"] == ["task", "model", "data", "target"]
    props = branch["properties"]
    assert props["loss"]["enum"] == [*LOSSES, *ALIASES] and props["activation"]["enum"] == list(ACTIVATIONS)
    assert props["gradient"]["enum"] == list(FIT_ENGINES)
    assert props["epochs"]["minimum"] == 0 and props["test_split"]["exclusiveMaximum"] == 1


def test_registry_checks_and_schema_bounds_agree():
    """Every parameter's check and its schema bounds come from one structure: probe both at the edges."""
    from gradtool.config.fields import BOUNDS
    from gradtool.optim import OPTIMIZERS, SCHEDULES
    from gradtool.params import ParamError

    probes = [-1.0, -1e-12, 0.0, 1e-12, 0.5, 1 - 1e-12, 1.0, 1 + 1e-12, 2.0, 7.0]
    params = [p for registry in (OPTIMIZERS, SCHEDULES) for spec in registry.values() for p in spec.table.params]
    checked = 0
    for param in params:
        schema = param.schema()
        if schema.get("type") not in ("number", "integer"):
            continue
        for v in probes:
            if schema["type"] == "integer" and not float(v).is_integer():
                continue
            by_bounds = all(BOUNDS[k][0](v, b) for k, b in schema.items() if k in BOUNDS)
            try:
                param.check(v)
                accepted = True
            except ParamError:
                accepted = False
            assert accepted == by_bounds, (param.name, v)
            checked += 1
    assert checked > 100


def _validates(schema: dict, root: dict, value) -> bool:
    """A small JSON Schema checker (the keywords our schema uses), to test the schema against real configs."""
    if "$ref" in schema:
        return _validates(root["$defs"][schema["$ref"].split("/")[-1]], root, value)
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    t = schema.get("type")
    if (
        t in kinds
        and not isinstance(value, kinds[t])
        or t in ("number", "integer")
        and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (t == "integer" and not float(value).is_integer())
        )
    ):
        return False
    if "const" in schema and value != schema["const"] or "enum" in schema and value not in schema["enum"]:
        return False
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return False
    for key, test in (
        ("minimum", lambda b: value >= b),
        ("exclusiveMinimum", lambda b: value > b),
        ("maximum", lambda b: value <= b),
        ("exclusiveMaximum", lambda b: value < b),
        ("minItems", lambda b: len(value) >= b),
        ("maxItems", lambda b: len(value) <= b),
    ):
        if key in schema and not test(schema[key]):
            return False
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        if any(k not in value for k in schema.get("required", [])):
            return False
        for k, v in value.items() if t == "object" else ():
            sub = props.get(k, extra)
            if sub is False or isinstance(sub, dict) and not _validates(sub, root, v):
                return False
    if isinstance(value, list) and "items" in schema and not all(_validates(schema["items"], root, v) for v in value):
        return False
    prefix = schema.get("prefixItems", []) if isinstance(value, list) else []
    if not all(_validates(s, root, v) for s, v in zip(prefix, value if prefix else [], strict=False)):
        return False
    if "anyOf" in schema and not any(_validates(s, root, value) for s in schema["anyOf"]):
        return False
    if "oneOf" in schema and sum(_validates(s, root, value) for s in schema["oneOf"]) != 1:
        return False
    if "not" in schema and _validates(schema["not"], root, value):
        return False
    return all(_validates(s, root, value) for s in schema.get("allOf", []))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_is_valid_under_the_schema(path):
    schema = config_schema()
    data, _ = parse_yaml(path.read_text(), str(path))
    assert _validates(schema, schema, data)


SCHEMA_CATCHES = (
    "unknown key",
    "expected a whole number",
    "missing required key",
    "unknown optimizer",
    "is invalid",
    "give exactly one",
    "unknown difference method",
    "give at most one",
    "unknown loss",
    "unknown activation",
    "unknown gradient engine",
)


@pytest.mark.parametrize("text", [b[0] for b in BAD if any(c in b[2] for c in SCHEMA_CATCHES)])
def test_the_schema_rejects_what_validation_rejects(text):
    schema = config_schema()
    data, _ = parse_yaml(text, "c.yaml")
    assert not _validates(schema, schema, data)


# ---- running: --jobs, outputs written atomically ---------------------------------------------------------


def _without_time(obj):
    if isinstance(obj, dict):
        return {k: _without_time(v) for k, v in obj.items() if k != "time_s"}
    if isinstance(obj, list):
        return [_without_time(v) for v in obj]
    return obj


def test_jobs_give_the_serial_results_in_the_same_order():
    files = [str(p) for p in CONFIGS if p.name in ("lr-sweep.yaml", "schedule-compare.yaml", "rosenbrock-compare.yaml")]
    serial = [r.to_dict() for r in run_files(files, ["steps=300"], jobs=1)]
    parallel = [r.to_dict() for r in run_files(files, ["steps=300"], jobs=2)]
    assert _without_time(serial) == _without_time(parallel)


def test_outputs_substitute_label_and_are_complete(tmp_path):
    (tmp_path / "out").mkdir()
    text = SWEEP + f"output: {{trajectory: '{tmp_path}/out/{{label}}.csv', json: {tmp_path}/out/r.json}}\n"
    (result,) = run_files([write(tmp_path, text)])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["adam.csv", "gd.csv", "r.json"]
    rows = (tmp_path / "out" / "gd.csv").read_text().splitlines()
    assert rows[0] == "step,x,y,f,grad_norm,lr" and len(rows) == 1 + 1 + result.runs[0].steps
    saved = json.loads((tmp_path / "out" / "r.json").read_text())
    assert [r["label"] for r in saved["runs"]] == ["gd", "adam"] and saved["best"] == result.best


def test_a_failing_run_leaves_no_half_written_file(tmp_path, monkeypatch):
    from gradtool.io import TrajectoryCSV

    def explode(self, step, *args):
        if step == 5:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(TrajectoryCSV, "__call__", explode)
    text = SWEEP + f"output: {{trajectory: '{tmp_path}/{{label}}.csv', json: {tmp_path}/r.json}}\n"
    config = write(tmp_path, text)
    (result,) = run_files([config])  # a run that raises gets status error (the others would go on)
    assert [r.to_dict()["message"] for r in result.runs] == ["RuntimeError: disk on fire"] * len(result.runs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "r.json"]  # no trajectory, no temporary file


def test_a_diverged_run_does_not_stop_the_others(tmp_path):
    text = "function: x^2\nx0: 1\noptimizer: gd\nsweep: {lr: [1.5, 0.1]}\n"
    (result,) = run_files([write(tmp_path, text)])
    assert [r.status for r in result.runs] == ["diverged", "converged"]
    assert result.best == 1 and result.exit_code == 1 and math.isfinite(result.runs[0].f)


def test_docs_describe_every_key_and_every_config():
    from gradtool.config.fit import fit_fields
    from gradtool.config.keys import check_fields, minimize_fields

    docs = (Path(__file__).parent.parent / "docs" / "configs.md").read_text()
    keys = {*minimize_fields().fields, *check_fields().fields, *minimize_fields().fields["starts"].fields}
    keys |= set(fit_fields().fields)
    assert [k for k in sorted(keys) if f"`{k}`" not in docs] == []
    assert [p.name for p in CONFIGS if f"`gradtool run configs/{p.name}`" not in docs] == []


# ---- task: fit -------------------------------------------------------------------------------------------


def test_fit_optimizers_and_sweep_give_labelled_runs(tmp_path):
    text = XOR + "optimizers:\n  - {name: adam, lr: 0.1}\n  - {name: gd, label: slow}\nsweep: {lr: [0.1, 0.5]}\n"
    plan = load_config(write(tmp_path, text.replace("lr: 0.1}", "beta1: 0.8}")), ["epochs=7"])
    assert plan.task == "fit" and [r.label for r in plan.runs] == [
        "adam-lr0.1",
        "adam-lr0.5",
        "slow-lr0.1",
        "slow-lr0.5",
    ]
    options = plan.runs[0].options
    assert options["optimizer"] == "adam" and options["beta1"] == 0.8 and options["lr"] == 0.1
    assert options["epochs"] == 7 and options["model"] == "mlp:2-4-1" and options["loss"] == "bce"


def test_fit_without_an_optimizer_is_one_gd_run(tmp_path):
    (run,) = load_config(write(tmp_path, FIT)).runs
    assert run.label == "gd" and run.options["optimizer"] == "gd" and run.save is None


def test_fit_jobs_give_the_serial_results_and_save_every_model(tmp_path):
    (tmp_path / "out").mkdir()
    save = f"save: '{tmp_path}/out/{{label}}.npz'\n"
    text = XOR + "epochs: 60\noptimizer: {name: adam, lr: 0.1}\nsweep: {seed: [0, 1, 2]}\n" + save
    config = write(tmp_path, text)
    (serial,) = run_files([config])
    (parallel,) = run_files([config], jobs=2)
    assert _without_time(serial.to_dict()) == _without_time(parallel.to_dict())
    assert [r["label"] for r in serial.to_dict()["runs"]] == ["adam-seed0", "adam-seed1", "adam-seed2"]
    losses = [r.train_loss for r in serial.runs]
    assert serial.best == losses.index(min(losses)) and serial.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"adam-seed{i}.npz" for i in range(3)]
    from gradtool.fitting.persist import load_model

    objective, theta = load_model(tmp_path / "out" / "adam-seed1.npz")
    assert theta.tolist() == serial.runs[1].theta.tolist()


def test_fit_divergence_is_a_status_and_saves_nothing(tmp_path):
    text = FIT + f"optimizer: {{name: gd, lr: 10}}\nepochs: 50\nsave: '{tmp_path}/m.npz'\n"
    (result,) = run_files([write(tmp_path, text)])
    assert result.runs[0].status == "diverged" and result.exit_code == 1 and result.best is None
    assert not (tmp_path / "m.npz").exists()


def test_an_invalid_fit_config_writes_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    text = XOR + f"epochs: -1\nsave: '{tmp_path}/out/m.npz'\noutput: {{json: '{tmp_path}/out/r.json'}}\n"
    assert "epochs: -1 is invalid" in error_of(tmp_path, text)
    assert list((tmp_path / "out").iterdir()) == []


# ---- paths: relative to the config's folder; outputs never overwrite inputs --------------------------------


def test_relative_paths_resolve_against_the_config_folder_and_set_ones_against_the_cwd(tmp_path, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "out").mkdir(parents=True)
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "linear.csv").write_text("x,y\n0,5\n1,5\n")  # a decoy that must not be read
    (project / "data").symlink_to(ROOT / "data")
    config = project / "fit.yaml"
    config.write_text(FIT + "optimizer: {name: gd, lr: 0.01}\nepochs: 5\nsave: out/m.npz\noutput: {json: out/r.json}\n")
    monkeypatch.chdir(elsewhere)
    (result,) = run_files([str(config)])
    assert result.runs[0].data["source"] == str(project / "data" / "linear.csv") and result.runs[0].data["rows"] == 5
    assert sorted(p.name for p in (project / "out").iterdir()) == ["m.npz", "r.json"]
    (result,) = run_files([str(config)], ["data=data/linear.csv", "output={json: r.json}"])
    assert result.runs[0].data == {**result.runs[0].data, "source": "data/linear.csv", "rows": 2}
    assert (elsewhere / "r.json").exists()
    plan = load_config(str(config), [f"save={tmp_path}/abs.npz"])
    assert plan.runs[0].save == f"{tmp_path}/abs.npz"


def test_minimize_outputs_land_beside_the_config(tmp_path, monkeypatch):
    (tmp_path / "cfg" / "out").mkdir(parents=True)
    config = write(tmp_path / "cfg", SWEEP + "output: {trajectory: 'out/{label}.csv', json: out/r.json}\n")
    monkeypatch.chdir(tmp_path)
    run_files([config])
    assert sorted(p.name for p in (tmp_path / "cfg" / "out").iterdir()) == ["adam.csv", "gd.csv", "r.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg"]


@pytest.mark.parametrize(
    ("text", "key", "what"),
    [
        ("function: x^2\noptimizer: gd\noutput: {json: c.yaml}\n", ":3: output.json", "the config file"),
        ("function: x^2\noptimizer: gd\noutput: {trajectory: c.yaml}\n", ":3: output.trajectory", "the config file"),
        (FIT + "save: data/linear.csv\n", ":5: save", "the data file"),
        (FIT + "output: {json: data/linear.csv}\n", ":5: output.json", "the data file"),
    ],
)
def test_an_output_onto_an_input_of_the_config_is_refused_before_anything_runs(tmp_path, text, key, what):
    config = write(tmp_path, text)
    before = {p: p.read_bytes() for p in (Path(config), ROOT / "data" / "linear.csv")}
    message = error_of(tmp_path, text)
    assert message.startswith(f"{config}{key}: cannot write ") and f"it is {what}" in message
    assert {p: p.read_bytes() for p in before} == before


def test_one_config_may_not_overwrite_another_of_the_same_run(tmp_path):
    first = write(tmp_path, "function: x^2\noptimizer: gd\n", "a.yaml")
    second = write(tmp_path, f"function: x^2\noptimizer: gd\noutput: {{json: {first}}}\n", "b.yaml")
    with pytest.raises(ConfigError, match="b.yaml:3: output.json: cannot write .*a.yaml: it is the config file"):
        run_files([first, second])
    same = [write(tmp_path, "function: x^2\noptimizer: gd\noutput: {json: r.json}\n", n) for n in ("c.yaml", "d.yaml")]
    with pytest.raises(ConfigError, match="c.yaml:3: output.json and .*d.yaml:3: output.json both write"):
        run_files(same)
    assert not (tmp_path / "r.json").exists()
