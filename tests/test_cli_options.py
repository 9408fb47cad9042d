"""The optimizer and schedule options every optimizing command shares: flags, the call shorthand, messages."""

from __future__ import annotations

import pytest
from test_cli_core import assert_one_line_error

from gradtool.cli.choices import split_top_level
from gradtool.config.calls import parse_call
from gradtool.errors import ConfigError


def test_the_call_shorthand_sets_any_parameter(invoke_json):
    code, out = invoke_json(
        "minimize", "x^2 + y^2", "--x0", "1,1", "--optimizer", "adam(lr=0.01, betas=[0.8, 0.99])", "--steps", "3",
        "--schedule", "cosine(t_max=50, eta_min=1e-4)", "--json",
    )  # fmt: skip
    assert code == 0
    assert out["optimizer"] == {**out["optimizer"], "name": "adam", "lr": 0.01, "beta1": 0.8, "beta2": 0.99}
    assert out["schedule"]["name"] == "cosine" and out["schedule"]["t_max"] == 50
    assert out["schedule"]["eta_min"] == 1e-4


def test_flags_and_the_shorthand_give_the_same_run(invoke_json):
    common = ("minimize", "x^2 + 3*y^2", "--x0", "1,1", "--steps", "20", "--json")
    _, by_flags = invoke_json(*common, "-o", "rmsprop", "--lr", "0.01", "--momentum", "0.5", "--centered")
    _, by_call = invoke_json(*common, "-o", "rmsprop(lr=0.01, momentum=0.5, centered=true)")
    assert by_flags["x"] == by_call["x"] and by_flags["optimizer"] == by_call["optimizer"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "adam", "--beta1", "1.5"], "error: --beta1: 1.5 is invalid; must be a number in [0, 1)"),
        (["-o", "adam(beta1=1.5)"], "error: --optimizer 'adam(beta1=1.5)': beta1: 1.5 is invalid; must be"),
        (["-o", "adam(betas=[0.9, 2])"], "betas[1]: 2 is invalid"),
        (["-o", "adam(lr=0.1)", "--lr", "0.2"], "error: --lr: also set in the optimizer's own entry"),
        (["-o", "adam", "--momentum", "0.9"], "error: --momentum: adam has no such parameter (its parameters: lr,"),
        (["-o", "adam(lr=0.1"], "expected ',', found the end at column 12"),
        (["-o", "adamz(lr=0.1)"], "name: unknown optimizer 'adamz'; choose one of: gd,"),
        (["-o", "adamz"], "error: unknown optimizer 'adamz'; choose one of: gd,"),
        (["--schedule", "step", "--t-max", "5"], "error: --t-max: schedule 'step' has no such parameter"),
        (["--schedule", "cosine(t_max=0)"], "error: --schedule 'cosine(t_max=0)': t_max: 0 is invalid; must be an"),
        (["--schedule", "cosine(t_max=5)", "--t-max", "6"], "error: --t-max: also set in --schedule"),
        (["--gamma", "0.5"], "error: --gamma: schedule 'constant' has no such parameter"),
    ],
)
def test_a_bad_value_names_the_flag_or_the_shorthand(invoke, args, message):
    line = assert_one_line_error(invoke("minimize", "x^2", "--x0", "1", *args))
    assert line.startswith(message) or message in line, line


def test_compare_flags_go_where_the_shorthand_does_not_set_them(invoke_json):
    code, out = invoke_json(
        "compare", "x^2 + y^2", "--x0", "1,1", "--optimizers", "gd,adam(lr=0.01, betas=[0.8, 0.9]),nag",
        "--lr", "0.1", "--momentum", "0.5", "--steps", "5", "--json",
    )  # fmt: skip
    assert code == 0
    optimizers = [run["optimizer"] for run in out["runs"]]
    assert [o["lr"] for o in optimizers] == [0.1, 0.01, 0.1]
    assert optimizers[1]["beta1"] == 0.8 and optimizers[2]["momentum"] == 0.5
    assert [run["label"] for run in out["runs"]] == ["gd", "adam", "nag"]


def test_compare_flag_none_takes_is_an_error(invoke):
    line = assert_one_line_error(invoke("compare", "x^2", "--optimizers", "gd,adam", "--rho", "0.5"))
    assert line == "error: --rho: applies to none of gd, adam"


def test_the_engine_option_is_gradient_and_the_old_name_still_works(invoke, invoke_json):
    _, new = invoke_json("minimize", "x^2", "--x0", "1", "--gradient", "autodiff", "--steps", "2", "--json")
    _, old = invoke_json("minimize", "x^2", "--x0", "1", "--grad", "autodiff", "--steps", "2", "--json")
    assert new["gradient"] == old["gradient"] == "autodiff"
    help_text = invoke("minimize", "--help").stdout
    assert "--gradient" in help_text and "--grad " not in help_text and "--grad\n" not in help_text


def test_flag_help_comes_from_the_registry(invoke):
    from gradtool.optim import OPTIMIZERS

    text = " ".join(invoke("minimize", "--help").stdout.split())
    for name in OPTIMIZERS:
        assert name in text
    assert "Momentum factor mu (default 0.9; rmsprop 0)." in text
    assert "(default 1e-8; adagrad 1e-10; adadelta 1e-6)" in text


def test_calls_parse_nested_lists_and_yaml_scalars():
    text = "sequential(schedules=[linear(total_iters=10), cosine(t_max=90, eta_min=1e-4)], milestones=[10])"
    assert parse_call(text) == {
        "name": "sequential",
        "schedules": [{"name": "linear", "total_iters": 10}, {"name": "cosine", "t_max": 90, "eta_min": 1e-4}],
        "milestones": [10],
    }
    assert parse_call("onecycle(anneal_strategy='linear', three_phase=true)")["three_phase"] is True
    assert parse_call(" gd ( ) ") == {"name": "gd"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("adam(lr)", "expected '='"),
        ("adam(lr=1, lr=2)", "lr given twice"),
        ("adam(lr=1) x", "unexpected text after the call"),
        ("adam(lr={a: 1})", "cannot read the value"),
        ("adam(lr=__import__('os'))", "expected"),
        ("s(x=" * 30 + ")" * 30, "nested too deeply"),
    ],
)
def test_a_bad_call_is_a_clear_error_and_never_evaluated(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_call(text)


def test_optimizer_lists_split_at_top_level_commas():
    assert split_top_level("gd, adam(lr=0.1, betas=[0.8, 0.9]) ,nag") == ["gd", "adam(lr=0.1, betas=[0.8, 0.9])", "nag"]
    with pytest.raises(ConfigError):
        split_top_level("gd,,adam")


def test_configs_accept_the_call_shorthand_too(tmp_path):
    from gradtool.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text("function: x^2\noptimizer: 'adam(lr=0.01, betas=[0.8, 0.9])'\nschedule: 'step(step_size=3)'\n")
    (run,) = load_config(str(path)).runs
    assert run.options["optimizer"] == "adam" and run.options["betas"] == [0.8, 0.9]
    assert run.options["schedule"] == "step" and run.options["schedule_options"] == {"step_size": 3}
    path.write_text("function: x^2\noptimizer: 'adam(lr=-1)'\n")
    with pytest.raises(ConfigError, match=r"c.yaml:2: optimizer.lr: -1 is invalid; must be a number >= 0"):
        load_config(str(path))


# ---- gradtool optimizers ---------------------------------------------------------------------------------


def test_optimizers_lists_every_entry_with_formula_and_parameters(invoke_json):
    from gradtool.optim import OPTIMIZERS, SCHEDULES

    code, listing = invoke_json("optimizers", "--json")
    assert code == 0
    assert [e["name"] for e in listing["optimizers"]] == list(dict.fromkeys(s.name for s in OPTIMIZERS.values()))
    for entry in listing["optimizers"]:
        spec = OPTIMIZERS[entry["name"]]
        assert entry["formula"] and "x = " in entry["formula"], entry["name"]
        assert [p["name"] for p in entry["parameters"]] == list(spec.table.names)
        assert [p["default"] for p in entry["parameters"]] == list(spec.defaults.values())
    assert listing["optimizers"][0]["aliases"] == ["sgd"]
    code, schedules = invoke_json("optimizers", "--schedules", "--json")
    assert [e["name"] for e in schedules["schedules"]] == list(SCHEDULES)
    assert all(e["formula"] for e in schedules["schedules"])
    assert not set(OPTIMIZERS) & set(SCHEDULES)  # one name space for `gradtool optimizers NAME`


def test_optimizers_name_shows_one_entry(invoke, invoke_json):
    code, adam = invoke_json("optimizers", "adam", "--json")
    assert code == 0 and adam["kind"] == "optimizer" and adam["torch"] == "torch.optim.Adam"
    assert adam["torch_spellings"] == {"betas": ["beta1", "beta2"]}
    assert adam["formula"].splitlines()[-1] == "x = x - step_size * m / denom"
    _, sgd = invoke_json("optimizers", "sgd", "--json")
    assert sgd["name"] == "gd"
    _, cosine = invoke_json("optimizers", "cosine", "--json")
    assert cosine["kind"] == "schedule" and cosine["torch"] == "torch.optim.lr_scheduler.CosineAnnealingLR"
    text = invoke("optimizers", "rmsprop").stdout
    assert "torch.optim.RMSprop" in text and "denom = sqrt(s) + eps" in text and "eps_in_sqrt" in text
    line = assert_one_line_error(invoke("optimizers", "adamz"))
    assert "no optimizer, schedule or line search 'adamz'" in line and "cosine" in line


def test_the_generated_help_reads_the_registries_without_numpy():
    import subprocess
    import sys

    code = (
        "import sys, typer.main; from gradtool.cli import only\n"
        "for name in ('minimize', 'compare', 'fit', 'lr-find', 'plot', 'optimizers'):\n"
        "    typer.main.get_command(only(name))\n"
        "print(sorted(m for m in ('numpy', 'sympy', 'matplotlib', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
