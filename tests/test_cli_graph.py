"""`gradtool graph` on the command line: JSON keys, the same bits as `grad --at`, pictures read back from their
artists, DOT, and bad input that exits 2 with nothing written."""

from __future__ import annotations

import re

import pytest

CASES = [
    ("(x + y) * w", "x=1,y=2,w=3"),
    ("0.5*(t - sigmoid(w*x + b))^2", "w=0.5,x=2,b=-1,t=1"),
    ("x^2*y + sin(x)", "x=1,y=2"),
    ("sin(x)*exp(y)", "x=1,y=0"),
    ("log(1+x^2) + tanh(x*y) + sqrt(1+x^2)*sin(x-y)", "x=0.3,y=-0.7"),
    ("exp(x*y)/(1+x^2) + atan(y/x)", "x=1.7,y=-0.3"),
    ("softplus(x - y)^2 + relu(x*y) + max(x, y)*abs(y)", "x=0.37,y=1.91"),
    ("rosenbrock", "-1.2,1"),
    ("x^y + cosh(x)*asin(y/2)", "x=1.3,y=0.4"),
    ("x + 2*y + 3*z", "1,2,3"),  # constant partials of 3 variables
]


@pytest.mark.parametrize(("expr", "at"), CASES)
def test_json_gradient_equals_grad_at_bit_for_bit(invoke_json, expr, at):
    code, graph = invoke_json("graph", expr, "--at", at, "--json")
    assert code == 0
    code, grad = invoke_json("grad", expr, "--at", at, "--json")
    assert code == 0
    assert list(graph["gradient"]) == grad["variables"]
    for name in grad["variables"]:
        assert graph["gradient"][name].hex() == grad["value"][name].hex()  # the last bit, sign of zero too
    assert graph["f"].hex() == grad["f"].hex()
    assert set(graph) >= {"nodes", "output", "gradient"}
    for node in graph["nodes"]:
        assert set(node) >= {"id", "op", "inputs", "value", "local", "adjoint"}
        assert len(node["local"]) == len(node["inputs"])
    output = [n for n in graph["nodes"] if n["id"] == graph["output"]]
    assert output[0]["adjoint"] == 1.0 and output[0]["value"] == graph["f"]
    by_name = {n.get("name"): n for n in graph["nodes"] if n["op"] == "input"}
    assert [by_name[v]["adjoint"] for v in grad["variables"]] == list(graph["gradient"].values())


def test_table_and_chain_rule_text(invoke):
    r = invoke("graph", "(x + y) * w", "--at", "x=1,y=2,w=3")
    assert r.exit_code == 0
    assert re.search(r"n4 = F\s+w \* n3\s+n0\s+9\s+3\s+1", r.stdout)
    assert "dF/dw = dF/dn4 * dn4/dw = 1 * 3 = 3" in r.stdout
    assert "dF/dx = dF/dn4 * dn4/dn3 * dn3/dx = 1 * 3 * 1 = 3" in r.stdout
    assert "gradient (the variables' adjoints, as grad --at prints it): dF/dw = 3, dF/dx = 3, dF/dy = 3" in r.stdout


def test_explain_writes_both_passes(invoke):
    r = invoke("graph", "0.5*(t - sigmoid(w*x + b))^2", "--at", "w=0.5,x=2,b=-1,t=1", "--explain")
    assert r.exit_code == 0
    assert "n8 = sigmoid(n7) = sigmoid(0) = 0.5" in r.stdout
    assert "dF/dn7 = dF/dn8 * dn8/dn7 = (-0.5) * 0.25 = -0.125" in r.stdout


def test_dot_is_alone_on_stdout(invoke):
    r = invoke("graph", "x^2*y + sin(x)", "--at", "x=1,y=2", "--dot")
    assert r.exit_code == 0 and r.stdout.startswith("digraph gradtool {") and r.stdout.endswith("}\n")
    assert r.stdout.count(" -> ") == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x*y"], "graph needs --at"),
        (["x*y", "--at", "1"], "point has 1 value"),
        (["x*y", "--at", "1,2", "--dot", "--json"], "--dot and --json"),
        (["x*y", "--at", "1,2", "--explain", "--json"], "--explain"),
        (["x*y + foo(x)", "--at", "1,2"], "unknown function"),
    ],
)
def test_bad_input_exits_2_with_one_line(invoke, args, message):
    r = invoke("graph", *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert message in r.stderr and r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")


def test_bad_pictures_exit_2_and_write_nothing(invoke, tmp_path):
    r = invoke("graph", "x*y", "--at", "1,2", "--out", str(tmp_path / "g.jpg"))
    assert r.exit_code == 2 and "not a picture format" in r.stderr
    r = invoke("graph", "rosenbrock", "--dim", "8", "--at", "1,2,3,4,5,6,7,8", "--out", str(tmp_path / "g.png"))
    assert r.exit_code == 2 and "a picture shows at most 60" in r.stderr and r.stdout == ""
    r = invoke("graph", "x*y", "--out", str(tmp_path / "g.png"))
    assert r.exit_code == 2
    assert list(tmp_path.iterdir()) == []
    r = invoke("graph", "rosenbrock", "--dim", "8", "--at", "1,2,3,4,5,6,7,8", "--json")
    assert r.exit_code == 0  # the table and JSON take any size


def test_large_graphs_table_shows_head_and_tail(invoke):
    r = invoke("graph", "rosenbrock", "--dim", "60", "--at", ",".join(["0.5"] * 60))
    assert r.exit_code == 0 and "more nodes (--json lists every node)" in r.stdout
    assert "... 48 more variables: see --explain" in r.stdout
