"""`gradtool graph`: the computation graph at a point, as the autodiff engine runs it."""

from __future__ import annotations

from typing import Annotated

import typer

from gradtool.cli.common import (
    EXPRESSION_FIRST,
    Dim,
    Expr,
    Json,
    Vars,
    app,
    claim_outputs,
    handled,
    report_stream,
    save_plot,
)


def _check_options(at, out, dot: bool, explain: bool, json: bool) -> bool:
    """Everything that can fail before the graph is built; True when the picture goes to stdout (``--out -``)."""
    from gradtool.errors import ConfigError, PointError

    if at is None:
        raise PointError("graph needs --at POINT (e.g. --at x=1,y=2): the values flow forward from it")
    if dot and json:
        raise ConfigError("--dot and --json both print on stdout: choose one")
    if explain and (dot or json):
        raise ConfigError(f"--explain adds text under the table; it does not apply with {'--dot' if dot else '--json'}")
    if out is None:
        return False
    from gradtool.plot import check_output

    check_output(out)
    to_stdout = claim_outputs(json, out=out)
    if to_stdout and dot:
        raise ConfigError("--dot and --out - both want stdout; write the picture to a file")
    return to_stdout


@app.command(context_settings=EXPRESSION_FIRST)
@handled
def graph(
    expr: Expr,
    at: Annotated[str | None, typer.Option("--at", help="Point (required): x=1,y=2 or 1,2 in variable order.")] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Also draw the graph into this file: .png, .svg or .pdf, or - for a PNG on stdout "
            "(needs matplotlib; up to 60 nodes).",
        ),
    ] = None,
    dot: Annotated[bool, typer.Option("--dot", help="Print the graph as Graphviz DOT instead of the table.")] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also write out the forward and backward passes step by step, the chain rule for every variable "
            "and up to 64 paths each.",
        ),
    ] = False,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
) -> None:
    """The computation graph of EXPR at --at, as the reverse-mode engine computes it.

    One row per node in topological order: operation, inputs, forward value, local derivatives with respect
    to each input, and the adjoint dF/dnode from the reverse sweep; then the gradient (bit for bit what
    `grad --at` prints) and the chain rule written out along the paths from each variable to F.

    Exit status: 0 done, 2 bad input (no --at, a bad point, an unknown picture format, a graph too large
    for a picture; nothing is written).
    """
    from gradtool.expr.objective import load_objective
    from gradtool.graph import computation_graph

    to_stdout = _check_options(at, out, dot, explain, json)
    objective = load_objective(expr, dim, vars)
    result = computation_graph(objective, objective.point(at))
    if out is not None:
        from gradtool.plot.graph import draw_graph

        save_plot(draw_graph(result), out)
    if json:
        from gradtool.report.common import print_json

        print_json(result.to_dict())
    elif dot:
        from gradtool.report.graph import graph_dot

        typer.echo(graph_dot(result), nl=False)
    else:
        from gradtool.report.graph import show_graph

        with report_stream(to_stdout):
            show_graph(result, explain)
