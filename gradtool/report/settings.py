"""How a run was set up, in one short line: the optimizer, its lr, the hyperparameters away from their
defaults and a schedule that is not constant (`run`, `compare`, `lr-find` and fit tables use it)."""

from __future__ import annotations

from typing import Any

from gradtool.report.common import num


def _value(v: Any) -> str:
    if isinstance(v, bool | str):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        from gradtool.optim.searching import LINE_SEARCHES

        return line_search_text(v) if v.get("name") in LINE_SEARCHES else schedule_text(v)
    return num(v, 6)


def optimizer_text(optimizer: dict[str, Any], lr: bool = True) -> str:
    """``adam lr=0.01 beta1=0.8``: the name, its lr (unless ``lr`` is False), every other value away from
    the registry's default."""
    from gradtool.optim import OPTIMIZERS

    opt = dict(optimizer)
    name = opt.pop("name")
    defaults = OPTIMIZERS[name].defaults if name in OPTIMIZERS else {}
    parts = [name, *([f"lr={num(opt.pop('lr'), 6)}"] if lr else [])]
    parts += [f"{k}={_value(v)}" for k, v in opt.items() if k != "lr" and defaults.get(k) != v]
    return " ".join(parts)


def line_search_text(value: dict[str, Any]) -> str:
    """``armijo(c1=0.3)``: a line search's name and its parameters away from their defaults."""
    from gradtool.optim.searching import line_search_changes

    params = ",".join(f"{k}={_value(v)}" for k, v in line_search_changes(value).items())
    return f"{value['name']}({params})" if params else value["name"]


def schedule_text(schedule: dict[str, Any]) -> str:
    """``cosine(t_max=500)``: the name and every parameter away from its default (the lr left out)."""
    from gradtool.optim import SCHEDULES

    sched = dict(schedule)
    name = sched.pop("name")
    known = SCHEDULES[name].defaults if name in SCHEDULES else {}
    params = ",".join(f"{k}={_value(v)}" for k, v in sched.items() if k != "lr" and known.get(k) != v)
    return f"{name}({params})"


def setting(result: Any) -> str:
    """``adam lr=0.01 beta1=0.8 cosine(t_max=500)``: the optimizer, then the schedule unless it is a plain
    constant."""
    text = optimizer_text(result.optimizer)
    sched = result.schedule
    if sched["name"] != "constant" or schedule_text(sched) != "constant()":
        text += " " + schedule_text(sched)
    return text
