"""The graph picture: one box per node with its operation, value and adjoint, one arrow per edge with the local
derivative, variables left and F right, the same bytes every time."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from gradtool.expr.objective import load_objective  # noqa: E402
from gradtool.graph import computation_graph  # noqa: E402
from gradtool.plot import PlotError, save_figure  # noqa: E402
from gradtool.plot.figure import short  # noqa: E402
from gradtool.plot.graph import MAX_NODES, draw_graph, layout  # noqa: E402


def graph_of(text: str, at: str):
    objective = load_objective(text)
    return computation_graph(objective, objective.point(at))


def artists(fig, prefix: str) -> dict[str, object]:
    return {t.get_gid()[len(prefix) :]: t for t in fig.axes[0].texts if (t.get_gid() or "").startswith(prefix)}


@pytest.mark.parametrize(
    ("text", "at"),
    [("0.5*(t - sigmoid(w*x + b))^2", "w=0.5,x=2,b=-1,t=1"), ("x^2*y + sin(x)", "x=1,y=2"), ("rosenbrock", "1,2")],
)
def test_boxes_and_arrows_are_the_graphs_nodes_and_edges(text, at):
    graph = graph_of(text, at)
    fig = draw_graph(graph)
    boxes, arrows, labels = artists(fig, "node "), artists(fig, "edge "), artists(fig, "local ")
    assert len(boxes) == len(graph.nodes)
    edges = {
        f"n{a}->n{node.id}": local for node in graph.nodes for a, local in zip(node.inputs, node.local, strict=True)
    }
    assert set(arrows) == set(labels) == set(edges)
    for name, local in edges.items():
        assert labels[name].get_text() == short(local)
    for node in graph.nodes:
        lines = boxes[f"n{node.id}"].get_text().split("\n")
        assert lines[0] == f"n{node.id}: {graph.formula(node.id)}"
        assert lines[1] == f"value {short(node.value)}"
        if node.adjoint is None:
            assert len(lines) == 2 and node.op == "const"
        else:
            assert lines[2].endswith(f" {short(node.adjoint)}") and lines[2].startswith("dF/d")
    assert fig.axes[0].get_title().startswith(f"F = {text} at ")


def test_variables_on_the_left_f_on_the_right_edges_point_right():
    graph = graph_of("0.5*(t - sigmoid(w*x + b))^2", "w=0.5,x=2,b=-1,t=1")
    where = layout(graph)
    assert {where[n.id][0] for n in graph.inputs} == {0.0}
    assert where[graph.output][0] == max(x for x, _ in where.values())
    assert all(where[a][0] < where[n.id][0] for n in graph.nodes for a in n.inputs)


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_pictures_are_byte_identical_twice(tmp_path, suffix):
    graph = graph_of("x^2*y + sin(x)", "x=1,y=2")
    for name in ("a", "b"):
        save_figure(draw_graph(graph), tmp_path / f"{name}.{suffix}", dpi=60)
    assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes()


def test_more_than_max_nodes_is_refused():
    graph = graph_of("rosenbrock", "1,2")
    assert len(graph.nodes) <= MAX_NODES
    big = load_objective("rosenbrock", dim=8)
    with pytest.raises(PlotError, match=f"at most {MAX_NODES}"):
        draw_graph(computation_graph(big, [0.5] * 8))


def test_command_writes_the_picture(invoke, tmp_path):
    out = tmp_path / "neuron.svg"
    r = invoke("graph", "0.5*(t - sigmoid(w*x + b))^2", "--at", "w=0.5,x=2,b=-1,t=1", "--out", str(out))
    assert r.exit_code == 0 and r.stderr == f"wrote {out}\n" and "n12 = F" in r.stdout
    svg = out.read_text()
    assert svg.count('id="node n') == 13 and "dF/dw -0.25" in svg
