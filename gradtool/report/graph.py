"""`gradtool graph` for people: the node table, the chain rule written out, and Graphviz DOT."""

from __future__ import annotations

from gradtool.graph import MAX_PATHS, Graph, GraphNode, number, operand

TABLE_HEAD, TABLE_TAIL = 120, 80  # a larger graph's table shows its first and last nodes (--json has all)
SHORT_PATHS, SHORT_VARIABLES = 8, 12  # the chain rule under the table, without --explain
CELL_LINES = 8  # inputs (and their local derivatives) listed per node, one a line


def _d(id: int, graph: Graph) -> str:
    """The name of a node inside a derivative: ``x`` for a variable, ``n3`` otherwise."""
    node = graph.by_id[id]
    return node.name if node.op == "input" else f"n{id}"


def _at(graph: Graph) -> str:
    return ", ".join(f"{v}={number(x)}" for v, x in zip(graph.variables, graph.at, strict=True))


def node_table(graph: Graph):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(f"F = {graph.expression} at {_at(graph)}"),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="local: d node/d input;  adjoint: dF/d node",
    )
    # numbers are never cut short: the node and input columns fold first when the terminal is narrow
    table.add_column("id", no_wrap=True)
    table.add_column("node", overflow="fold", min_width=10)
    table.add_column("inputs", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True, min_width=5)
    table.add_column("local", justify="right", no_wrap=True)
    table.add_column("adjoint", justify="right", no_wrap=True, min_width=7)
    nodes = list(graph.nodes)
    hidden = len(nodes) - TABLE_HEAD - TABLE_TAIL
    for k, node in enumerate(nodes):
        if hidden > 0 and TABLE_HEAD <= k < len(nodes) - TABLE_TAIL:
            if k == TABLE_HEAD:
                table.add_row("...", Text(f"{hidden} more nodes (--json lists every node)"), "", "", "", "")
            continue
        table.add_row(*_cells(graph, node))
    return table


def _cells(graph: Graph, node: GraphNode) -> list:
    from rich.text import Text

    id = f"n{node.id}" + (" = F" if node.id == graph.output else "")
    inputs, local = [f"n{k}" for k in node.inputs], [number(v) for v in node.local]
    if len(inputs) > CELL_LINES:  # an n-ary sum or product of many terms
        more = f"({len(inputs) - CELL_LINES + 1} more)"
        inputs, local = [*inputs[: CELL_LINES - 1], more], [*local[: CELL_LINES - 1], "..."]
    if node.op in ("input", "const"):
        inputs = ["variable" if node.op == "input" else "constant"]
    return [
        id,
        Text(graph.formula(node.id)),
        "\n".join(inputs),
        number(node.value),
        "\n".join(local),
        number(node.adjoint),
    ]


# ---- the chain rule, in words and numbers -----------------------------------------------------------------


def backward_step(graph: Graph, node: GraphNode) -> str:
    """``dF/dn3 = dF/dn4 * dn4/dn3 + ... = 1 * 3 + ... = 3``: one node's adjoint from its consumers'."""
    me = _d(node.id, graph)
    if node.id == graph.output:
        return f"dF/d{me} = 1 (F itself)"
    edges = graph.consumers[node.id]
    if not edges:
        return f"dF/d{me} = 0 (F does not use {me})"
    symbols = " + ".join(f"dF/d{_d(c, graph)} * d{_d(c, graph)}/d{me}" for c, _ in edges)
    values = " + ".join(f"{operand(graph.by_id[c].adjoint)} * {operand(graph.by_id[c].local[s])}" for c, s in edges)
    return f"dF/d{me} = {symbols} = {values} = {number(node.adjoint)}"


def chain_rule(graph: Graph, node: GraphNode, limit: int) -> list[str]:
    """A variable's derivative as the sum over its paths to F of the product of local derivatives.

    With more than ``limit`` paths, the one-step form (its consumers' adjoints) instead, which the reverse
    sweep computes and which is the same sum grouped by the first step.
    """
    me = _d(node.id, graph)
    paths = graph.paths(node.id, limit)
    if node.id == graph.output:
        return [f"dF/d{me} = 1 (F is {me} itself)"]
    if not paths:
        if paths is None:
            count = f"{graph.path_count(node.id):,}"
            return [backward_step(graph, node) + f"   ({me} reaches F along {count} paths: shown one step back)"]
        return [backward_step(graph, node)]
    chains = []
    for path in paths:
        names = [_d(k, graph) for k in path.nodes]
        chains.append(" * ".join([f"dF/d{names[0]}"] + [f"d{a}/d{b}" for a, b in zip(names, names[1:], strict=False)]))
    products = [" * ".join(operand(f) for f in path.factors) for path in paths]
    head, pad = f"dF/d{me} = ", " " * len(f"dF/d{me} ")
    if len(paths) == 1:
        return [f"{head}{chains[0]} = {products[0]} = {number(node.adjoint)}"]
    terms = " + ".join(operand(path.product) for path in paths)
    return [
        head + " + ".join(chains),
        f"{pad}= " + " + ".join(products),
        f"{pad}= {terms} = {number(node.adjoint)}",
    ]


def forward_step(graph: Graph, node: GraphNode) -> str:
    """``n3 = x + y = 1 + 2 = 3``."""
    return f"n{node.id} = {graph.formula(node.id)} = {graph.formula(node.id, values=True)} = {number(node.value)}"


def show_graph(graph: Graph, explain: bool = False, console=None) -> None:
    """The node table, F and the gradient, and the chain rule (``explain``: both sweeps, step by step)."""
    from gradtool.report.common import stdout_console

    console = console or stdout_console()
    console.print(node_table(graph))

    def say(text: str) -> None:  # long lines stay whole (a terminal wraps them); user text is never markup
        console.print(text, markup=False, soft_wrap=True, highlight=False)

    grad = ", ".join(f"dF/d{v} = {number(g)}" for v, g in zip(graph.variables, graph.gradient, strict=True))
    say(f"F = {number(graph.f)}")
    say(f"gradient (the variables' adjoints, as grad --at prints it): {grad or 'none'}")
    if explain:
        say("\nforward pass (values, inputs to output):")
        for node in graph.nodes:
            if node.op not in ("input", "const"):
                say("  " + forward_step(graph, node))
        say("\nbackward pass (adjoints, output to inputs; dF/dn = sum over n's consumers c of dF/dc * dc/dn):")
        for node in reversed(graph.nodes):
            if node.adjoint is not None:
                say("  " + backward_step(graph, node))
    inputs = graph.inputs if explain else graph.inputs[:SHORT_VARIABLES]
    if inputs:
        say("\nchain rule (dF/dv = sum over the paths from v to F of the product of the local derivatives along it):")
    for node in inputs:
        for line in chain_rule(graph, node, MAX_PATHS if explain else SHORT_PATHS):
            say("  " + line)
    if len(inputs) < len(graph.inputs):
        say(f"  ... {len(graph.inputs) - len(inputs)} more variables: see --explain")


# ---- Graphviz DOT ---------------------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(graph: Graph) -> str:
    """The graph as Graphviz DOT: boxes with operation, value and adjoint; edges labelled with the local
    derivative; inputs on the left, F (double border) on the right."""
    lines = [
        "digraph gradtool {",
        "  rankdir=LR;",
        f"  label={_quoted(f'F = {graph.expression} at {_at(graph)}')}; labelloc=t;",
        '  node [shape=box, style=rounded, fontname="DejaVu Sans"];',
        '  edge [fontname="DejaVu Sans", fontsize=10];',
    ]
    for node in graph.nodes:
        text = f"n{node.id}: {graph.formula(node.id)}\nvalue {number(node.value, 6)}"
        if node.adjoint is not None:
            text += f"\ndF/d{_d(node.id, graph)} {number(node.adjoint, 6)}"
        style = ", peripheries=2" if node.id == graph.output else ", style=dashed" if node.op == "const" else ""
        lines.append(f"  n{node.id} [label={_quoted(text)}{style}];")
    for node in graph.nodes:
        for arg, local in zip(node.inputs, node.local, strict=True):
            lines.append(f"  n{arg} -> n{node.id} [label={_quoted(number(local, 6))}];")
    inputs = " ".join(f"n{node.id};" for node in graph.inputs)
    if inputs:
        lines.append(f"  {{ rank=source; {inputs} }}")
    lines.append("}")
    return "\n".join(lines) + "\n"
