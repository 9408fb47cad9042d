"""Rich output for `grad`, `check-grad` and `functions`."""

from __future__ import annotations

from gradtool.report.common import literal, num, stdout_console


def show_gradient(info: dict, latex: bool = False) -> None:
    from rich.table import Table

    console = stdout_console()
    console.print(f"[bold]f[/] = {literal(info['expression'])}")
    console.print(f"variables: {', '.join(info['variables'])}\n")
    notes = list(info["notes"])
    for name, text in zip(info["variables"], info["_printed"] or [], strict=False):
        if latex:
            console.print(f"\\frac{{\\partial f}}{{\\partial {name}}} = {text}", markup=False)
        else:
            console.print(f"∂f/∂{name} =", markup=False)
            console.print(text, markup=False)
            console.print()
    for note in notes:
        console.print(f"[yellow]note:[/] {literal(note)}")
    if info["hessian_exprs"] is not None and info["at"] is None:
        console.print("Hessian:")
        for row in info["hessian_exprs"]:
            console.print("  [" + ", ".join(row) + "]", markup=False)
    if info["at"] is not None:
        at = ", ".join(f"{k}={num(v)}" for k, v in info["at"].items())
        table = Table(title=f"at {at}   f = {num(info['f'], 12)}")
        table.add_column("variable")
        table.add_column("∂f/∂variable", justify="right", no_wrap=True)
        for name, g in info["value"].items():
            table.add_row(name, num(g, 12))
        console.print(table)
    if info["hessian"] is not None:
        table = Table(title="Hessian")
        table.add_column("")
        for name in info["variables"]:
            table.add_column(name, justify="right", no_wrap=True)
        for name, row in zip(info["variables"], info["hessian"], strict=True):
            table.add_row(name, *(num(v, 8) for v in row))
        console.print(table)
        eig = ", ".join(num(e, 6) for e in info["eigenvalues"])
        console.print(f"eigenvalues: {eig}\npoint: [bold]{info['stationary']}[/]")


DETAILED_ROWS = 60  # up to this many components in all, one table per point; beyond, one row per point
SUMMARY_ROWS = 30  # points listed in the summary table (failing ones first)


def _summary_table(report: dict):
    from rich.table import Table

    points = report["points"]
    order = sorted(range(len(points)), key=lambda b: points[b]["ok"])[:SUMMARY_ROWS]
    table = Table(title=f"{len(points)} points x {len(report['variables'])} variables (--json lists every component)")
    for title in ("#", "at", "max abs err", "max rel err", "worst", ""):
        table.add_column(title, justify="left" if title in ("at", "worst") else "right")
    for b in order:
        p = points[b]
        coords = [num(v, 4) for v in p["at"].values()]
        at = ", ".join(coords[:3]) + (", …" if len(coords) > 3 else "")
        worst = report["variables"][max(range(len(p["rel_errors"])), key=lambda i: _key(p["rel_errors"][i]))]
        mark = "[green]✓[/]" if p["ok"] else "[red]✗[/]"
        table.add_row(str(b + 1), at, num(p["max_abs_error"], 3), num(p["max_rel_error"], 3), worst, mark)
    return table, len(points) - len(order)


def _key(v) -> float:
    return float("inf") if v is None or v != v else v


def show_check(report: dict) -> None:
    from rich.table import Table

    console = stdout_console()
    estimated = report.get("error_factor") is not None
    if len(report["points"]) * len(report["variables"]) > DETAILED_ROWS and len(report["points"]) > 1:
        table, hidden = _summary_table(report)
        console.print(table)
        failing = sum(not p["ok"] for p in report["points"]) - min(SUMMARY_ROWS, len(report["points"]))
        if hidden:
            console.print(f"{hidden} more point(s) not shown: " + (f"{failing} fail" if failing > 0 else "all pass"))
        _verdict(console, report, estimated)
        return
    for p in report["points"]:
        at = ", ".join(f"{k}={num(v)}" for k, v in p["at"].items())
        status = "[green]PASS[/]" if p["ok"] else "[red]FAIL[/]"
        table = Table(title=f"{status}  at {at}")
        table.add_column("variable")
        sources = [k for k in ("analytic", "autodiff", "numeric", "user") if p.get(k) is not None]
        for k in sources:
            table.add_column(k, justify="right", no_wrap=True)
        table.add_column("num. err @ h" if estimated else "num. h", justify="right", no_wrap=True)
        table.add_column("abs err", justify="right", no_wrap=True)
        table.add_column("rel err", justify="right", no_wrap=True)
        table.add_column("", justify="center")
        for i, name in enumerate(report["variables"]):
            mark = "[green]✓[/]" if p["passed"][i] else "[red]✗[/]"
            cells = [num(p[k][name], 10) for k in sources]
            step = num(p["numeric_step"][name], 2)
            cells.append(f"{num(p['numeric_error'][name], 2)} @ {step}" if estimated else step)
            table.add_row(name, *cells, num(p["abs_errors"][i], 3), num(p["rel_errors"][i], 3), mark)
        console.print(table)
        for key, style in (("note", "yellow"), ("numeric_note", "yellow")):
            if p.get(key):
                console.print(f"[{style}]note:[/] {literal(p[key])}")
        if p.get("wrong"):
            console.print(f"[red]your gradient is wrong in:[/] {literal(', '.join(p['wrong']))}")
        if p.get("taylor_order") is not None:
            console.print(_taylor_line(p["taylor_order"]))
    _verdict(console, report, estimated)


def _verdict(console, report: dict, estimated: bool) -> None:
    verdict = "[green]all gradients agree[/]" if report["ok"] else "[red]gradients disagree[/]"
    numeric = f"numeric: {report['method']}, {report['evaluations_per_gradient']:.0f} f evaluations per gradient"
    if estimated:
        numeric += f"; passes within tolerance + {report['error_factor']:g} x its error estimate"
    console.print(
        f"{len(report['points'])} point(s): {verdict} (rtol={report['rtol']:g}, atol={report['atol']:g}; {numeric})"
    )


def _taylor_line(orders: dict) -> str:
    parts = [f"{k} {num(v, 3)}" for k, v in orders.items()]
    return "Taylor remainder order (2 = correct, 1 = wrong): " + ", ".join(parts)


def show_sweep(sweep: dict) -> None:
    from rich.table import Table

    console = stdout_console()
    adaptive = sweep["adaptive"]
    table = Table(title="finite-difference error vs step h (max relative error over components)")
    for title in ("h", "forward O(h)", "central O(h²)", "adaptive"):
        table.add_column(title, justify="right", no_wrap=True)
    marked = f"{num(adaptive['error'], 3)} ★"
    placed = False
    for h, fe, ce in zip(sweep["h"], sweep["forward"], sweep["central"], strict=True):
        if not placed and adaptive["step"] > h:  # the adaptive row sits at its chosen step
            table.add_row(f"{adaptive['step']:.1e}", "", "", marked, style="bold")
            placed = True
        fmark = " ◀" if h == sweep["best_h_forward"] else ""
        cmark = " ◀" if h == sweep["best_h_central"] else ""
        table.add_row(f"{h:.0e}", num(fe, 3) + fmark, num(ce, 3) + cmark, "")
    if not placed:
        table.add_row(f"{adaptive['step']:.1e}", "", "", marked, style="bold")
    console.print(table)
    console.print(
        f"best h: forward {sweep['best_h_forward']:.0e}, central {sweep['best_h_central']:.0e}. "
        "Truncation error shrinks with h (O(h) forward, O(h²) central) until rounding error, "
        "~eps/h, takes over.\n"
        f"★ adaptive (central differences over steps s/2^k, Richardson extrapolation): error "
        f"{num(adaptive['error'], 3)}, estimated {num(adaptive['estimated_error'], 2)}, at step "
        f"{adaptive['step']:.2e}, {adaptive['evaluations']} f evaluations."
    )


def show_functions(entries: list[dict]) -> None:
    from rich.table import Table

    table = Table(title="named test functions", show_lines=True)
    for col in ("name", "formula", "domain", "start", "global minima"):
        table.add_column(col, overflow="fold")
    for e in entries:
        minima = "\n".join(
            "(" + ", ".join(num(v, 10) for v in m["x"].values()) + f") f={num(m['f'], 12)}" for m in e["minima"]
        )
        dim = f" [n-D, dim {e['dim']}]" if e["n_dim"] else ""
        lo, hi = e["domain"]
        table.add_row(
            e["name"] + dim,
            e["formula"],
            f"[{num(lo)}, {num(hi)}]",
            "(" + ", ".join(num(v) for v in e["start"].values()) + ")",
            minima,
        )
    stdout_console().print(table)
