"""gradtool graph: every node's value and adjoint against 30-digit SymPy, the engine's and grad's gradient to
the last bit, and chain-rule text whose numbers multiply and add up to the adjoints it shows."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy as sp

from gradtool.expr.objective import load_objective
from gradtool.grad.autodiff import AutodiffEngine
from gradtool.graph import computation_graph
from gradtool.report.graph import backward_step, chain_rule, graph_dot, show_graph

UNARY = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "abs": sp.Abs,
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "softplus": lambda a: sp.log(1 + sp.exp(a)),
    "relu": lambda a: sp.Max(0, a),
}


def random_expression(rng: np.random.Generator, depth: int) -> str:
    """Shapes users type: sums, products, quotients, powers, nested functions, reused subexpressions."""
    if depth == 0 or rng.random() < 0.2:
        return str(rng.choice(["x", "y", "z", "x", "y", "2", "0.5", "3"]))
    a, b = random_expression(rng, depth - 1), random_expression(rng, depth - 1)
    forms = [
        f"({a}) + ({b})",
        f"({a}) - ({b})",
        f"({a}) * ({b})",
        f"({a}) / (1.5 + ({b})^2)",
        f"({a})^2",
        f"({a})^3",
        f"sin({a})",
        f"cos({a}) * ({a})",
        f"tanh({a})",
        f"atan({a})",
        f"sigmoid({a})",
        f"softplus({a})",
        f"exp(sin({a}))",
        f"log(1 + ({a})^2)",
        f"sqrt(2 + cos({b}))",
        f"max({a}, {b})",
        f"abs({a}) + relu({b})",
        f"asin(tanh({a}) / 2)",
        f"({a})^(1 + ({b})^2 / 4)" if "x" in a or "y" in a or "z" in a else f"({a}) * ({b})",
    ]
    return forms[int(rng.integers(len(forms)))]


def hidden_cases(count: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        text = random_expression(rng, int(rng.integers(2, 5)))
        objective = load_objective(text)
        if not objective.n:
            continue
        point = rng.uniform(0.3, 1.7, objective.n) * rng.choice([-1, 1], objective.n)
        f, g = AutodiffEngine(objective.expr, objective.symbols).value_and_gradient(point)
        if np.isfinite(f) and np.all(np.isfinite(g)):  # real-valued there (no negative base to a real power)
            cases.append((objective, point))
    return cases


FIXED = [
    ("(x + y) * w", "x=1,y=2,w=3"),
    ("0.5*(t - sigmoid(w*x + b))^2", "w=0.5,x=2,b=-1,t=1"),
    ("x^2*y + sin(x)", "x=1,y=2"),
    ("sin(x)*exp(y)", "x=1,y=0"),
    ("sin(x*y) + cos(x*y) + exp(x*y)", "x=0.7,y=-1.3"),  # one shared node, three consumers
    ("rosenbrock", "-1.5,2"),
    ("x/y - exp(-x) + log(x, 2)", "x=1.5,y=0.25"),
    ("x^y + 2^x", "x=1.3,y=0.4"),
]


def all_cases():
    fixed = [(load_objective(text), np.array(load_objective(text).point(at))) for text, at in FIXED]
    return fixed + hidden_cases(40, seed=15)


def sympy_nodes(graph, replace: int | None = None, symbol=None) -> dict[int, sp.Expr]:
    """The graph rebuilt in SymPy from its structure alone (op, inputs, constants), node ``replace`` -> symbol."""
    exprs: dict[int, sp.Expr] = {}
    for node in graph.nodes:
        if node.id == replace:
            exprs[node.id] = symbol
        elif node.op == "input":
            exprs[node.id] = sp.Symbol(node.name, real=True)
        elif node.op == "const":
            exprs[node.id] = sp.Float(node.value, 30)
        else:
            args = [exprs[k] for k in node.inputs]
            exprs[node.id] = _apply(node, args)
    return exprs


def _apply(node, args):
    if node.op == "add":
        return sp.Add(*args)
    if node.op == "mul":
        return sp.Mul(*args)
    if node.op == "pow_const":
        return args[0] ** sp.Float(node.exponent, 30)
    if node.op == "pow":
        return args[0] ** args[1]
    if node.op in ("max", "min"):
        return (sp.Max if node.op == "max" else sp.Min)(*args)
    return UNARY[node.op](*args)


def close(value: float, exact: float, rtol: float = 1e-12) -> bool:
    return abs(value - exact) <= rtol * abs(exact) + 1e-300


@pytest.mark.parametrize("case", range(len(FIXED) + 40))
def test_every_value_and_adjoint_equals_exact_sympy(case):
    objective, point = all_cases_cached()[case]
    graph = computation_graph(objective, point)
    subs = {sp.Symbol(v, real=True): sp.Float(x, 30) for v, x in zip(graph.variables, graph.at, strict=True)}
    exprs = sympy_nodes(graph)
    exact_f = objective.expr.subs(subs).evalf(30)
    assert close(graph.f, float(exact_f), 1e-11), (objective.text, graph.f, exact_f)
    s = sp.Symbol("s", real=True)
    for node in graph.nodes:
        value = exprs[node.id].subs(subs).evalf(30)
        assert close(node.value, float(value)), (objective.text, node, value)
        if node.adjoint is None:
            assert node.op == "const"
            continue
        output = sympy_nodes(graph, node.id, s)[graph.output]
        adjoint = sp.diff(output, s).subs(s, value).subs(subs).evalf(30)
        assert close(node.adjoint, float(adjoint)), (objective.text, node, adjoint)


_CASES: list = []


def all_cases_cached():
    if not _CASES:
        _CASES.extend(all_cases())
    return _CASES


def test_gradient_is_the_engines_to_the_last_bit_and_the_inputs_adjoints():
    for objective, point in all_cases_cached():
        graph = computation_graph(objective, point)
        f, gradient = AutodiffEngine(objective.expr, objective.symbols).value_and_gradient(np.asarray(point))
        assert graph.f == f
        assert np.array_equal(np.array(graph.gradient), gradient, equal_nan=True)
        assert [node.adjoint for node in graph.inputs] == list(graph.gradient)


def test_the_graph_is_the_engines_tape_shared_subexpressions_once():
    graph = computation_graph(load_objective("sin(x*y) + cos(x*y) + exp(x*y)"), [0.7, -1.3])
    products = [node for node in graph.nodes if node.op == "mul" and graph.formula(node.id) == "x * y"]
    assert len(products) == 1 and len(graph.consumers[products[0].id]) == 3
    assert [n.id for n in graph.nodes] == sorted(n.id for n in graph.nodes)  # topological = tape order
    assert all(k < node.id for node in graph.nodes for k in node.inputs)


def test_the_articles_example_z_equals_x_plus_y_times_w():
    objective = load_objective("(x + y) * w")
    graph = computation_graph(objective, objective.point("x=1,y=2,w=3"))
    assert [(n.op, n.value, n.adjoint) for n in graph.nodes] == [
        ("input", 3.0, 3.0),
        ("input", 1.0, 3.0),
        ("input", 2.0, 3.0),
        ("add", 3.0, 3.0),
        ("mul", 9.0, 1.0),
    ]
    assert graph.nodes[4].local == (3.0, 3.0) and graph.output == 4
    w = graph.inputs[0]
    assert chain_rule(graph, w, 8) == ["dF/dw = dF/dn4 * dn4/dw = 1 * 3 = 3"]


NUMBER = r"\(?-?[0-9.]+(?:e[-+]?[0-9]+)?\)?|nan|inf"


def _numbers(text: str) -> list[float]:
    return [float(t.strip("()")) for t in re.findall(NUMBER, text)]


def _check_products_and_sum(lines: list[str], adjoint: float) -> None:
    if len(lines) == 1:  # dF/dv = chain = f1 * f2 * ... = adjoint
        *_, factors, result = lines[0].split(" = ")
        assert math.isclose(math.prod(_numbers(factors)), float(result), rel_tol=1e-10, abs_tol=1e-12)
        assert float(result) == float(f"{adjoint:.12g}")
        return
    products = [_numbers(term) for term in lines[1].split("= ", 1)[1].split(" + ")]
    terms_text, result = lines[2].split("= ", 1)[1].rsplit(" = ", 1)
    terms = [float(t.strip("() ")) for t in terms_text.split(" + ")]
    for factors, term in zip(products, terms, strict=True):
        assert math.isclose(math.prod(factors), term, rel_tol=1e-10, abs_tol=1e-12)
    assert math.isclose(sum(terms), float(result), rel_tol=1e-10, abs_tol=1e-11 * max(map(abs, terms)))
    assert float(result) == float(f"{adjoint:.12g}")


def test_chain_rule_text_multiplies_and_adds_up_to_the_adjoints():
    checked = 0
    for objective, point in all_cases_cached():
        graph = computation_graph(objective, point)
        for node in graph.inputs:
            lines = chain_rule(graph, node, 64)
            if node.id == graph.output or not 0 < graph.path_count(node.id) <= 64:
                continue
            _check_products_and_sum(lines, node.adjoint)
            checked += 1
    assert checked > 60


def test_backward_steps_sum_consumer_adjoints_times_local_derivatives():
    objective = load_objective("sin(x*y) + cos(x*y) + exp(x*y)")
    graph = computation_graph(objective, [0.7, -1.3])
    for node in graph.nodes:
        if node.adjoint is None or node.id == graph.output:
            continue
        line = backward_step(graph, node)
        values, result = line.split(" = ")[-2:]
        total = sum(math.prod(_numbers(term)) for term in values.split(" + "))
        assert math.isclose(total, float(result), rel_tol=1e-10) and float(result) == float(f"{node.adjoint:.12g}")


def test_many_paths_fall_back_to_one_step_back():
    # each level doubles the paths from x: 2^9 = 512 of them
    text = "x"
    for _ in range(9):
        text = f"sin({text}) * cos({text})"
    graph = computation_graph(load_objective(text), [0.3])
    assert graph.path_count(0) == 512 and graph.paths(0, 64) is None
    (line,) = chain_rule(graph, graph.inputs[0], 64)
    assert "512 paths" in line and line.startswith("dF/dx = dF/dn")


def test_unused_variable_and_output_variable():
    objective = load_objective("x", variables="x,y")
    graph = computation_graph(objective, [2.0, 3.0])
    x_node, y_node = graph.inputs
    assert graph.gradient == (1.0, 0.0) and graph.output == x_node.id
    assert chain_rule(graph, x_node, 8) == ["dF/dx = 1 (F is x itself)"]
    assert chain_rule(graph, y_node, 8) == ["dF/dy = 0 (F does not use y)"]


def test_non_finite_values_are_shown_not_raised():
    graph = computation_graph(load_objective("log(x) + y"), [-1.0, 2.0])
    assert math.isnan(graph.f) and graph.gradient == (-1.0, 1.0)  # d log(x)/dx = 1/x, as SymPy says too
    from gradtool.report.common import jsonable

    assert jsonable(graph.to_dict())["f"] is None


def test_show_graph_prints_table_gradient_and_chain_rule(capsys):
    objective = load_objective("x^2*y + sin(x)")
    graph = computation_graph(objective, [1.0, 2.0])
    show_graph(graph, explain=True)
    out = capsys.readouterr().out
    assert "n5 = F" in out and "4.54030230587" in out
    assert "n4 = sin(x) = sin(1) = 0.841470984808" in out  # forward pass
    assert "dF/dx = dF/dn2 * dn2/dx + dF/dn4 * dn4/dx = 2 * 2 + 1 * 0.540302305868 = 4.54030230587" in out
    assert "= 4 + 0.540302305868 = 4.54030230587" in out  # the two paths of x


def test_dot_lists_every_node_and_edge_with_values():
    objective = load_objective("x^2*y + sin(x)")
    graph = computation_graph(objective, [1.0, 2.0])
    dot = graph_dot(graph)
    assert dot.startswith("digraph gradtool {") and dot.rstrip().endswith("}")
    assert len(re.findall(r"^  n\d+ \[label=", dot, re.M)) == len(graph.nodes)
    edges = re.findall(r"^  n(\d+) -> n(\d+) \[label=\"([^\"]+)\"\]", dot, re.M)
    assert len(edges) == sum(len(n.inputs) for n in graph.nodes)
    assert ("0", "4", "0.540302") in edges
    assert 'n0 [label="n0: x\\nvalue 1\\ndF/dx 4.5403"];' in dot


def test_dot_escapes_quotes_and_backslashes():
    from gradtool.report.graph import _quoted

    assert _quoted('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


def test_the_traced_sweep_runs_the_gradient_sweeps_statements():
    from gradtool.grad.autodiff import expression_to_tape
    from gradtool.grad.tape import compile_gradient, compile_trace

    objective = load_objective("0.5*(t - sigmoid(w*x + b))^2 + log(1 + x^2)")
    tape, output, inputs = expression_to_tape(objective.expr, objective.symbols)
    plain = compile_gradient(tape, output, inputs).source.splitlines()
    traced = compile_trace(tape, output, inputs).source.splitlines()
    assert traced[:-1] == plain[:-1]  # every statement; only the return line grows
    assert traced[-1].startswith(plain[-1] + ", [")
