"""The picture of a computation graph: boxes by depth (variables left, F right), arrows labelled with the local
derivative, each box with its operation, value and adjoint."""

from __future__ import annotations

from collections import defaultdict

from gradtool.graph import Graph, GraphNode
from gradtool.plot.figure import PlotError, new_figure, short, styled

MAX_NODES = 60  # beyond this the boxes no longer fit a readable page; the table, --json and --dot still work
SWEEPS = 4  # barycentre passes that order each column to shorten and uncross the arrows
BEND = -0.2  # curvature of arrows that skip a column

COLOURS = {"input": "#cfe3f7", "const": "#eeeeee", "op": "white", "output": "#fde3b0"}


def check_size(graph: Graph) -> None:
    """Refuse a picture of more than ``MAX_NODES`` nodes (before anything is drawn or written)."""
    if len(graph.nodes) > MAX_NODES:
        raise PlotError(
            f"the graph of {graph.expression} has {len(graph.nodes)} nodes; a picture shows at most {MAX_NODES} "
            "(drop --out: the table, --json and --dot show graphs of any size)"
        )


def _depths(graph: Graph) -> dict[int, int]:
    """Variables in column 0, an operation one column right of its deepest input, a constant just left of
    its first consumer."""
    depth: dict[int, int] = {}
    for node in graph.nodes:
        if node.op == "input":
            depth[node.id] = 0
        elif node.op != "const":
            depth[node.id] = 1 + max((depth[k] for k in node.inputs if k in depth), default=0)
    for node in graph.nodes:
        if node.op == "const":
            users = [depth[c] for c, _ in graph.consumers[node.id]]
            depth[node.id] = max(0, min(users, default=1) - 1)
    return depth


def layout(graph: Graph) -> dict[int, tuple[float, float]]:
    """``id -> (x, y)``: x is the depth; within a column nodes are ordered by the mean height of their
    neighbours (a few passes right and left), variables stay in variable order."""
    depth = _depths(graph)
    columns: dict[int, list[int]] = defaultdict(list)
    for node in graph.nodes:  # tape order: variables first, in variable order
        columns[depth[node.id]].append(node.id)
    height: dict[int, float] = {}
    for column in columns.values():
        _place(column, height)
    predecessors = {node.id: list(node.inputs) for node in graph.nodes}
    successors = {node.id: [c for c, _ in graph.consumers[node.id]] for node in graph.nodes}
    last = max(columns)
    for _ in range(SWEEPS):  # column 0 keeps the variables in variable order
        for d in range(1, last + 1):
            _reorder(columns[d], predecessors, height)
        for d in range(last - 1, 0, -1):
            _reorder(columns[d], successors, height)
    return {id: (float(depth[id]), height[id]) for id in height}


def _place(column: list[int], height: dict[int, float]) -> None:
    for k, id in enumerate(column):
        height[id] = (len(column) - 1) / 2 - k


def _reorder(column: list[int], neighbours: dict[int, list[int]], height: dict[int, float]) -> None:
    column.sort(key=lambda id: (-_mean([height[k] for k in neighbours[id]], height[id]), id))
    _place(column, height)


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _box_text(graph: Graph, node: GraphNode) -> str:
    name = node.name if node.op == "input" else f"n{node.id}"
    lines = [f"n{node.id}: {graph.formula(node.id)}" if node.op != "input" else f"n{node.id}: {name}"]
    lines.append(f"value {short(node.value)}")
    if node.adjoint is not None:
        lines.append(f"dF/d{name} {short(node.adjoint)}")
    return "\n".join(lines)


def _kind(graph: Graph, node: GraphNode) -> str:
    return "output" if node.id == graph.output else node.op if node.op in ("input", "const") else "op"


@styled
def draw_graph(graph: Graph):
    """The graph as boxes and arrows (see the module docstring); refuses more than ``MAX_NODES`` nodes.

    Each box's text has the gid ``node n<id>``, each arrow ``edge n<a>->n<b>`` and its label ``local n<a>->n<b>``.

    Returns:
        The matplotlib Figure.
    """
    from matplotlib.patches import Patch

    check_size(graph)
    where = layout(graph)
    columns = 1 + int(max(x for x, _ in where.values()))
    rows = 1 + max(sum(1 for x2, _ in where.values() if x2 == x) for x, _ in where.values())
    size = (min(20.0, max(6.4, 2.0 * columns + 0.8)), min(16.0, max(3.6, 0.95 * rows + 1.6)))
    fig, ax = new_figure(size)
    font = 8.0 if rows <= 8 else 6.5
    boxes = {}
    for node in graph.nodes:
        kind = _kind(graph, node)
        style = dict(boxstyle="round,pad=0.4", fc=COLOURS[kind], ec="black", lw=1.8 if kind == "output" else 0.8)
        boxes[node.id] = ax.text(
            *where[node.id], _box_text(graph, node), ha="center", va="center", fontsize=font, bbox=style, zorder=3
        )
        boxes[node.id].set_gid(f"node n{node.id}")
    ax.set_xlim(-0.6, columns - 0.4)
    ax.set_ylim(-(rows / 2) - 0.1, rows / 2 + 0.1)
    scale = (0.9 * size[0] / columns, 0.8 * size[1] / (rows + 0.2))  # inches per data unit, roughly
    for node in graph.nodes:
        for arg, local in zip(node.inputs, node.local, strict=True):
            _edge(ax, boxes[arg], boxes[node.id], where[arg], where[node.id], local, f"n{arg}->n{node.id}", font, scale)
    ax.axis("off")
    at = ", ".join(f"{v} = {short(x)}" for v, x in zip(graph.variables, graph.at, strict=True))
    ax.set_title(f"F = {graph.expression}" + (f" at {at}" if at else ""))
    handles = [Patch(fc=COLOURS[k], ec="black", label=label) for k, label in LEGEND]
    handles.append(Patch(fc="white", ec="white", label="arrow label: local derivative d node / d input"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.02), ncols=3, fontsize=7, frameon=False)
    return fig


LEGEND = (
    ("input", "variable"),
    ("const", "constant"),
    ("op", "operation: value, adjoint dF/d node"),
    ("output", "F (the output)"),
)


def _edge(ax, source, target, start, end, local: float, name: str, font: float, scale: tuple[float, float]) -> None:
    # an arrow that skips columns bows (a quadratic Bezier, matplotlib's arc3) around the boxes between
    bend = BEND if end[0] - start[0] > 1 else 0.0
    arrow = ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops=dict(
            arrowstyle="-|>",
            color="#555555",
            lw=0.9,
            patchA=source.get_bbox_patch(),
            patchB=target.get_bbox_patch(),
            connectionstyle=f"arc3,rad={bend}",
        ),
        zorder=4,
    )
    arrow.set_gid(f"edge {name}")
    # the curve's midpoint: arc3 puts the control point at rad * (dy, -dx) from the chord's middle in display
    # units, and a quadratic Bezier passes half way to it; ``scale`` converts data units to inches
    dx, dy = (end[0] - start[0]) * scale[0], (end[1] - start[1]) * scale[1]
    middle = (
        (start[0] + end[0]) / 2 + bend * dy / 2 / scale[0],
        (start[1] + end[1]) / 2 - bend * dx / 2 / scale[1],
    )
    label = ax.text(
        *middle,
        short(local),
        ha="center",
        va="center",
        fontsize=font - 0.5,
        color="#8a2be2",
        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9),
        zorder=5,
    )
    label.set_gid(f"local {name}")
