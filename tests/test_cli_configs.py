"""`gradtool run / compare / schema / lr-find` through the CLI: every shipped config and its answer, exit codes,
one-line errors with file:line and key path, --jobs, JSON shapes."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CONFIGS = {p.name: p for p in sorted((ROOT / "configs").glob("*.yaml"))}


@pytest.fixture(autouse=True)
def _elsewhere(monkeypatch, tmp_path):
    """Every test runs from an empty temporary folder: configs must not depend on the working directory."""
    monkeypatch.chdir(tmp_path)


def by_label(doc: dict) -> dict:
    return {r["label"]: r for r in doc["runs"]}


def seed_quadratic(doc):
    (run,) = doc["runs"]
    assert run["status"] == "converged" and "step length" in run["message"]
    assert abs(run["x"]["theta"] - 2) < 1e-5


def seed_three_vars(doc):
    (run,) = doc["runs"]
    x = run["x"]
    assert run["status"] == "max_steps" and run["steps"] == 500
    # after 500 steps at lr 0.01 the errors are 9 * 0.96^500 (x) and 9.5, 14 times 0.98^500 (y, z)
    assert abs(x["x"] - 1) < 2e-8
    assert 3e-4 < x["y"] - 0.5 < 5e-4 and 5e-4 < x["z"] + 4 < 7e-4


def rosenbrock_compare(doc):
    runs = by_label(doc)
    assert list(runs) == ["gd", "momentum", "nag", "rmsprop", "adam"]
    for name in ("momentum", "nag", "adam"):
        assert runs[name]["status"] == "converged"
        assert abs(runs[name]["x"]["x1"] - 1) < 1e-6 and abs(runs[name]["x"]["x2"] - 1) < 1e-6
    for name in ("gd", "rmsprop"):  # still in the valley after 5000 steps at lr 1e-3
        assert runs[name]["status"] == "max_steps" and runs[name]["f"] < 1e-2
    assert doc["runs"][doc["best"]]["status"] == "converged"


def himmelblau_multistart(doc):
    from gradtool.expr.library import TEST_FUNCTIONS

    (run,) = doc["runs"]
    found = [(m["x"]["x"], m["x"]["y"]) for m in run["minima"]]
    known = [m.x for m in TEST_FUNCTIONS["himmelblau"].minima_rule(2)]
    assert len(found) == 4
    for point in known:
        assert any(abs(point[0] - a) < 1e-6 and abs(point[1] - b) < 1e-6 for a, b in found)
    assert run["starts"]["count"] == 100 and run["starts"]["diverged"] == 0


def lr_sweep(doc):
    runs = by_label(doc)
    assert list(runs) == ["gd-lr1.1", "gd-lr0.5", "gd-lr0.1", "gd-lr0.01", "gd-lr0.001"]
    assert runs["gd-lr1.1"]["status"] == runs["gd-lr0.5"]["status"] == "diverged"
    zigzag = runs["gd-lr0.1"]  # y flips between +1 and -1 for ever, x converged
    assert zigzag["status"] == "max_steps" and zigzag["f"] == pytest.approx(10) and abs(zigzag["x"]["y"]) == 1
    assert runs["gd-lr0.01"]["status"] == "converged" and runs["gd-lr0.01"]["steps"] > 900
    assert runs["gd-lr0.001"]["status"] == "max_steps" and runs["gd-lr0.001"]["f"] > 1e-2
    assert doc["runs"][doc["best"]]["label"] == "gd-lr0.01"


def schedule_compare(doc):
    runs = by_label(doc)
    assert list(runs) == ["gd-constant", "gd-step", "gd-exponential", "gd-cosine"]
    assert runs["gd-constant"]["status"] == "diverged"
    rest = [runs[k] for k in ("gd-step", "gd-exponential", "gd-cosine")]
    assert all(r["status"] == "converged" and r["f"] < 1e-15 for r in rest)
    assert runs["gd-exponential"]["steps"] < runs["gd-cosine"]["steps"]


def activation_check(doc):
    assert doc["task"] == "check-grad" and doc["ok"] is True and len(doc["points"]) == 3
    assert doc["points"][1]["analytic"]["d"] == 0.0 and doc["points"][2]["analytic"]["d"] == 1.0


def seed_linear_regression(doc):
    (run,) = doc["runs"]
    assert run["label"] == "gd" and run["status"] == "completed" and run["epochs"] == 5000
    assert run["params"]["w"] == pytest.approx(1.0, abs=1e-6) and run["params"]["b"] == pytest.approx(0.5, abs=1e-6)
    assert run["loss"]["train"] < 1e-12 and run["accuracy"] is None and doc["best"] == 0


def xor_mlp(doc):
    (run,) = doc["runs"]
    assert run["status"] == "completed" and run["layers"][0] == {"name": "W1", "shape": [2, 4]}
    assert run["accuracy"] == {"train": 1.0, "test": None} and run["loss"]["train"] < 1e-3


def sine_mlp(doc):
    (run,) = doc["runs"]
    assert run["data"]["train"] == 160 and run["data"]["test"] == 40 and run["batch_size"] == 32
    assert run["loss"]["train"] < 0.01 and run["loss"]["test"] < 0.01  # the noise variance is 0.0025


def flowers_softmax(doc):
    (run,) = doc["runs"]
    assert run["status"] == "early_stopped" and run["best_epoch"] + 50 == run["epochs"] < 1000
    assert run["classes"] == ["alba", "lutea", "rubra"] and run["loss_function"] == "cross-entropy"
    test = run["metrics"]["test"]
    assert [sum(row) for row in test["confusion"]] == [10, 10, 10]  # stratified: 20% of each 50
    assert test["accuracy"] >= 0.8 and run["metrics"]["train"]["accuracy"] >= 0.9
    assert run["standardize"]["columns"] == ["petal_length", "petal_width", "stem_mass"]


def vanishing_gradients(doc):
    runs = by_label(doc)
    assert list(runs) == ["adam-sigmoid", "adam-tanh", "adam-relu"]

    def first_over_last(run, k):  # the first layer's gradient norm over the last layer's at recorded epoch k
        layers = run["grad_stats"]["layers"]
        return layers[0]["weight_grad_norm"][k] / layers[-1]["weight_grad_norm"][k]

    for run in runs.values():
        stats = run["grad_stats"]
        assert run["status"] == "completed" and stats["epochs"] == list(range(301)) and len(stats["layers"]) == 6
    assert first_over_last(runs["adam-sigmoid"], 0) < 1e-3  # orders of magnitude: vanishing
    assert 0.1 < first_over_last(runs["adam-tanh"], 0) < 10 and 0.1 < first_over_last(runs["adam-relu"], 0) < 10
    assert runs["adam-sigmoid"]["loss"]["train"] > 10 * runs["adam-relu"]["loss"]["train"]  # and it learns slower


ANSWERS = {
    "vanishing-gradients.yaml": (0, vanishing_gradients),
    "seed-quadratic.yaml": (0, seed_quadratic),
    "seed-three-vars.yaml": (0, seed_three_vars),
    "rosenbrock-compare.yaml": (0, rosenbrock_compare),
    "himmelblau-multistart.yaml": (0, himmelblau_multistart),
    "lr-sweep.yaml": (1, lr_sweep),  # diverging runs on purpose: exit 1
    "schedule-compare.yaml": (1, schedule_compare),
    "activation-check.yaml": (0, activation_check),
    "seed-linear-regression.yaml": (0, seed_linear_regression),
    "xor-mlp.yaml": (0, xor_mlp),
    "sine-mlp.yaml": (0, sine_mlp),
    "flowers-softmax.yaml": (0, flowers_softmax),
}


def test_every_config_has_an_asserted_answer():
    assert set(CONFIGS) == set(ANSWERS)


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_config_runs_and_gives_its_answer(invoke_json, name):
    code, doc = invoke_json("run", str(CONFIGS[name]), "--json")
    expected_code, check = ANSWERS[name]
    assert code == expected_code and doc["file"] == str(CONFIGS[name])
    check(doc)


def test_lr_sweep_trajectory_shows_the_zigzag(invoke, tmp_path):
    result = invoke(
        "run",
        str(CONFIGS["lr-sweep.yaml"]),
        "--set",
        f"output={{trajectory: '{tmp_path}/{{label}}.csv'}}",
        "--set",
        "steps=120",
        "--quiet",
    )
    assert result.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"gd-lr{v}.csv" for v in ("0.001", "0.01", "0.1", "0.5", "1.1")
    ]
    with open(tmp_path / "gd-lr0.1.csv") as handle:
        ys = [float(row["y"]) for row in csv.DictReader(handle)]
    assert ys == [1.0, -1.0] * 60 + [1.0]


def test_several_files_give_a_list_and_the_worst_exit_code(invoke_json):
    code, docs = invoke_json("run", str(CONFIGS["seed-quadratic.yaml"]), str(CONFIGS["lr-sweep.yaml"]), "--json")
    assert code == 1 and [d["file"] for d in docs] == [
        str(CONFIGS["seed-quadratic.yaml"]),
        str(CONFIGS["lr-sweep.yaml"]),
    ]


def test_table_is_sorted_by_final_f_with_diverged_runs_last(invoke):
    result = invoke("run", str(CONFIGS["lr-sweep.yaml"]))
    assert result.exit_code == 1
    order = [label for label in re.findall(r"gd-lr[0-9.]+", result.stdout)]
    assert order[:5] == ["gd-lr0.01", "gd-lr0.001", "gd-lr0.1", "gd-lr1.1", "gd-lr0.5"]
    assert "diverged" in result.stdout and "best: gd-lr0.01" in result.stdout


def _without_time(obj):
    if isinstance(obj, dict):
        return {k: _without_time(v) for k, v in obj.items() if k != "time_s"}
    return [_without_time(v) for v in obj] if isinstance(obj, list) else obj


def test_jobs_2_equals_serial(invoke_json):
    files = [str(CONFIGS[n]) for n in ("lr-sweep.yaml", "himmelblau-multistart.yaml", "rosenbrock-compare.yaml")]
    code, serial = invoke_json("run", *files, "--set", "steps=200", "--json")
    code2, parallel = invoke_json("run", *files, "--set", "steps=200", "--json", "--jobs", "2")
    assert code == code2 == 1 and _without_time(serial) == _without_time(parallel)
    assert serial != parallel  # time_s differs: the comparison above really dropped it


def test_every_config_with_jobs_2(invoke_json):
    code, docs = invoke_json("run", *map(str, CONFIGS.values()), "--jobs", "2", "--json")
    assert code == 1  # lr-sweep and schedule-compare diverge on purpose
    runs = {d["file"].split("/")[-1]: len(d.get("runs", [])) for d in docs}
    assert runs == {**dict.fromkeys(CONFIGS, 1), "activation-check.yaml": 0, "lr-sweep.yaml": 5,
                    "rosenbrock-compare.yaml": 5, "schedule-compare.yaml": 4,
                    "vanishing-gradients.yaml": 3}  # fmt: skip
    by_task = {d["task"] for d in docs}
    assert by_task == {"minimize", "check-grad", "fit"}
    for doc in docs:
        name = doc["file"].split("/")[-1]
        ANSWERS[name][1](doc)


def test_fit_table_shows_losses_accuracy_and_the_best_run(invoke):
    result = invoke("run", str(CONFIGS["sine-mlp.yaml"]), "--set", "epochs=20", "--set", "sweep={l2: [0, 0.001]}")
    assert result.exit_code == 0
    header = next(line for line in result.stdout.splitlines() if "label" in line).split()
    assert header == ["label", "optimizer", "train", "loss", "test", "loss", "epochs", "status", "time", "s"]
    assert "adam-l2=0 " in result.stdout and "adam-l2=0.001 " in result.stdout
    assert re.search(r"best: adam-l2=0(\.001)?: mlp:1-16-16-1: train loss = \S+, test loss = ", result.stdout)
    xor = invoke("run", str(CONFIGS["xor-mlp.yaml"]), "--set", "epochs=50", "--quiet")
    assert xor.exit_code == 0 and "accuracy" in xor.stdout and "completed" in xor.stdout and "best" not in xor.stdout


def test_a_diverging_fit_exits_1(invoke_json):
    code, doc = invoke_json("run", str(CONFIGS["seed-linear-regression.yaml"]), "--set", "optimizer.lr=10",
                            "--set", "epochs=50", "--json")  # fmt: skip
    assert code == 1 and doc["runs"][0]["status"] == "diverged" and doc["best"] is None


# ---- bad input: exit 2, one stderr line naming file, line and key path, nothing run or written -----------

LINEAR = ROOT / "data" / "linear.csv"
FIT = f"task: fit\nmodel: w*x + b\ndata: {LINEAR}\ntarget: y\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("function: x^2\noptimizer: gd\nstepz: 10\n", ":3: stepz: unknown key; allowed: task,"),
        ("function: x^2\noptimizer: gd\nsteps: ten\n", ":3: steps: expected a whole number"),
        ("optimizer: gd\n", ":1: function: missing required key"),
        ("function: x^2\noptimizers: [gd, {name: adm}]\n", ":2: optimizers[1].name: unknown optimizer 'adm'; choose"),
        ("function: x^2\noptimizers:\n  - gd\n  - {name: adam, lr: -0.1}\n", ":4: optimizers[1].lr: -0.1 is invalid"),
        (
            "function: x^2\noptimizer: {name: momentum, momentum: 1.0}\n",
            ":2: optimizer.momentum: 1.0 is invalid; must be a number in [0, 1)",
        ),
        ("function: x^2\noptimizer: [gd\n", ":3: malformed YAML"),
        (FIT + "epoch: 3\n", ":5: epoch: unknown key; allowed: task, description, model, data, target,"),
        (FIT + "loss: hinge\n", ":5: loss: unknown loss 'hinge'; choose one of: mse, mae, huber, bce, cross-"),
        (FIT + "epochs: -5\n", ":5: epochs: -5 is invalid; must be an integer >= 0"),
        (FIT.replace("target: y\n", ""), ":1: target: missing required key"),
        (FIT.replace("target: y", "target: z"), f":4: target: {LINEAR}: no target column 'z' (columns: x, y)"),
    ],
)
def test_bad_config_exits_2_with_one_line(invoke, tmp_path, text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    (tmp_path / "out").mkdir()
    result = invoke("run", str(config), "--set", f"output={{json: {tmp_path}/out/r.json}}")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {config}")
    assert expected in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_bad_set_path_exits_2(invoke):
    result = invoke("run", str(CONFIGS["lr-sweep.yaml"]), "--set", "optimizer.lr=0.05")
    assert result.exit_code == 2
    assert "bad key path: the top level has no key 'optimizer'" in result.stderr


def test_the_issue_example_overrides_one_run_of_the_lr_sweep(invoke_json):
    code, doc = invoke_json(
        "run", str(CONFIGS["lr-sweep.yaml"]), "--set", "steps=200", "--set", "optimizers.0.lr=0.05", "--json"
    )
    runs = by_label(doc)
    assert code == 1 and len(runs) == 5  # lr 0.5 still diverges
    first = doc["runs"][[r["label"] for r in doc["runs"]].index(next(k for k in runs if "0.05" in k))]
    assert first["optimizer"]["lr"] == 0.05 and first["steps"] <= 200


def test_one_bad_file_stops_every_file_before_running(invoke, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("function: x^2\noptimizer: gd\nsteps: -1\n")
    result = invoke("run", str(CONFIGS["seed-quadratic.yaml"]), str(bad))
    assert result.exit_code == 2 and result.stdout == "" and "steps: -1 is invalid" in result.stderr


# ---- schema, compare, lr-find ----------------------------------------------------------------------------


def test_schema_is_json_with_every_registry_name(invoke):
    from gradtool.optim import OPTIMIZERS, SCHEDULES

    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/") and {"oneOf", "$defs"} <= set(schema)
    (fit,) = [b for b in schema["oneOf"] if b["title"] == "fit"]
    assert {"model", "data", "target", "loss", "epochs", "batch_size", "test_split", "save"} <= set(fit["properties"])
    optimizers = schema["$defs"]["optimizer"]["anyOf"][0]["enum"]
    assert optimizers == list(OPTIMIZERS)
    assert [b["title"] for b in schema["$defs"]["schedule"]["anyOf"][2]["oneOf"]] == list(SCHEDULES)


def test_compare_runs_each_optimizer(invoke_json):
    code, doc = invoke_json(
        "compare",
        "rosenbrock",
        "--optimizers",
        "gd,momentum,nag",
        "--x0=-1.5,2",
        "--lr",
        "1e-3",
        "--momentum",
        "0.9",
        "--steps",
        "300",
        "--json",
    )
    assert code == 0 and doc["file"] == "compare"
    assert [r["label"] for r in doc["runs"]] == ["gd", "momentum", "nag"]
    assert [r["optimizer"].get("momentum") for r in doc["runs"]] == [None, 0.9, 0.9]


@pytest.mark.parametrize("ascend", [False, True])
def test_compare_ranks_runs_in_the_direction_they_go(ascend, invoke, invoke_json):
    """The best run and the table's order: the lowest f, or the highest when the runs ascend."""
    expr = "4 - x^2 - y^2 + x" if ascend else "x^2 + y^2 - x"
    names = ["gd", "adam", "momentum"]
    opts = ",".join(f"{n}(maximize=true)" if ascend else n for n in names)
    args = ("compare", expr, "--x0", "1,1", "--optimizers", opts, "--lr", "0.01", "--steps", "20")
    code, doc = invoke_json(*args, "--json")
    finals = [r["f"] for r in doc["runs"]]
    assert code == 0 and len(set(finals)) == 3
    best = max(range(3), key=finals.__getitem__) if ascend else min(range(3), key=finals.__getitem__)
    assert doc["best"] == best
    table = invoke(*args).stdout
    rows = sorted(names, key=lambda name: table.index(f"\n {name} "))
    assert rows == [names[i] for i in sorted(range(3), key=finals.__getitem__, reverse=ascend)]


def test_compare_multistart_and_bad_names(invoke, invoke_json):
    code, doc = invoke_json(
        "compare", "himmelblau", "--optimizers", "adam", "--lr", "0.05", "--starts", "20", "--box=-5,5", "--json"
    )
    assert code == 0 and doc["runs"][0]["starts"]["count"] == 20
    result = invoke("compare", "x^2", "--optimizers", "gd,adm")
    assert result.exit_code == 2 and "unknown optimizer 'adm'; choose one of: gd," in result.stderr


def test_lr_find_json_and_table(invoke, invoke_json):
    code, doc = invoke_json(
        "lr-find", "x^2 + 10*y^2", "--x0", "1,1", "--min", "1e-4", "--max", "1", "--num", "9", "--json"
    )
    assert code == 0 and len(doc["runs"]) == 9
    # lr 0.1 = 2/L: y zig-zags for ever, but f still fell (x converged), so it counts as stable
    assert doc["largest_stable_lr"] == pytest.approx(0.1) and doc["runs"][-1]["diverged"] is True
    assert doc["best_lr"] < doc["largest_stable_lr"]
    table = invoke("lr-find", "x^2", "--x0", "1", "--num", "5", "--steps", "50")
    assert table.exit_code == 0 and "largest stable lr" in table.stdout


def test_lr_find_with_nothing_stable_exits_1(invoke):
    result = invoke("lr-find", "x^2", "--x0", "1", "--min", "2", "--max", "10", "--num", "3", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["largest_stable_lr"] is None


def test_one_ctrl_c_stops_a_whole_run_file_with_exit_130(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "long.yaml"
    config.write_text("function: x^2 + y^2\nx0: [1, 1]\nsteps: 100000000\ntol: 0\noptimizers: [gd, momentum, adam]\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradtool", "run", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    time.sleep(4.0)  # well inside the first run
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and stderr == ""  # the report of what ran, the rest not started
    assert "interrupted at step" not in stdout and " gd " in stdout
    assert "momentum: interrupted: cancelled by Ctrl-C before it finished" in stdout
