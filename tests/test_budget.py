"""Time budgets for symbolic steps: the mechanism (SIGALRM, nesting, threads) and the commands' fallbacks."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest

from gradtool.budget import BudgetExceeded, budget, get_budget, set_budget

# hypothesis's gc callback may be where an alarm lands: Python prints and ignores it there (and it comes again)
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

TANGENTS = " + ".join("tan(" * 6 + f"x{i}" + ")" * 6 for i in range(1, 21))  # simplify(): 17 minutes
POWER = "(" + "+".join(f"x{i}" for i in range(1, 9)) + ")^12"  # simplify(): no answer in 25 s


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.fixture(autouse=True)
def _library_default():
    yield
    set_budget(None)


# ---------------------------------------------------------------- the mechanism


def test_a_busy_block_is_interrupted_at_its_budget():
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match=r"spinning took more than 0.2 s \(--budget\)"), budget("spinning", 0.2):
        spin(30)
    assert 0.19 <= time.monotonic() - start < 5


def test_sympy_catching_exception_does_not_swallow_the_interruption():
    def stubborn():
        try:
            spin(30)
        except Exception:  # noqa: BLE001 - what SymPy does in places
            pytest.fail("the interruption was an Exception")

    with pytest.raises(BudgetExceeded), budget("stubborn", 0.1):
        stubborn()


def test_an_interruption_swallowed_by_a_gc_callback_comes_again(monkeypatch):
    import gc
    import sys

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    slow = [True]

    def swallow(phase, info):  # Python prints and ignores what a gc callback raises (hypothesis has one)
        if slow.pop() if slow else False:
            spin(0.5)  # the alarm at 0.1 s lands here: the callback stops, the exception is lost

    gc.callbacks.append(swallow)
    try:
        start = time.monotonic()
        with pytest.raises(BudgetExceeded), budget("collecting", 0.1):
            gc.collect()
            spin(30)
    finally:
        gc.callbacks.remove(swallow)
    assert time.monotonic() - start < 10  # without a second alarm: 30 s
    assert reported == []  # not reported (pytest's hook, formatting it, was broken by the alarm coming again)
    assert sys.unraisablehook == reported.append  # the hook is back


def test_an_inner_budget_falls_back_and_the_outer_one_still_holds():
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match="outer took more than 1 s"), budget("outer", 1.0):
        with pytest.raises(BudgetExceeded, match="inner"), budget("inner", 0.2):
            spin(30)
        assert time.monotonic() - start < 0.9  # the inner fallback runs inside the outer budget
        spin(30)
    assert time.monotonic() - start < 5


def test_an_inner_budget_cut_short_by_the_outer_one_reports_the_outer():
    with pytest.raises(BudgetExceeded, match="outer took more than 0.3 s"), budget("outer", 0.3), budget("inner", 10):
        spin(30)


def test_after_a_budget_no_alarm_is_left_and_the_old_handler_is_back():
    before = signal.getsignal(signal.SIGALRM)
    with budget("quick", 0.05):
        pass
    spin(0.2)  # an alarm left armed would end the test process here
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_off_the_main_thread_a_block_runs_unbounded():
    done = []

    def work():
        with budget("in a thread", 0.05):
            spin(0.3)
        done.append(True)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert done == [True]


def test_the_default_comes_from_set_budget():
    assert get_budget() is None  # the library's default: no limit (a command's --budget does not stay)
    set_budget(0.1)
    with pytest.raises(BudgetExceeded), budget("default"):
        spin(30)
    for bad in (0, -1, float("inf"), float("nan"), "5"):
        with pytest.raises(BudgetExceeded, match="--budget must be"):
            set_budget(bad)


# ---------------------------------------------------------------- the commands' fallbacks


def test_grad_prints_unsimplified_partials_past_the_budget(invoke_json):
    start = time.process_time()  # CPU time: a shared machine may stall the clock, not the work done
    code, out = invoke_json("grad", TANGENTS, "--budget", "3", "--json")
    assert code == 0 and time.process_time() - start < 60
    assert any("simplifying the partial derivatives took more than 3 s" in note for note in out["notes"])
    assert len(out["gradient"]) == 20 and all(g.startswith("(tan(") or "tan" in g for g in out["gradient"].values())


def test_grad_of_a_power_of_a_sum_answers_with_its_hessian(invoke):
    start = time.process_time()
    result = invoke("grad", POWER, "--at", "x1=1,x2=0,x3=0,x4=0,x5=0,x6=0,x7=0,x8=0", "--hessian", "--budget", "2")
    assert result.exit_code == 0, result.stderr
    assert time.process_time() - start < 60
    assert "12" in result.stdout and "132" in result.stdout  # f' = 12 s^11, f'' = 132 s^10 at s = 1


def test_grad_values_come_from_autodiff_when_the_symbolic_gradient_is_too_slow(invoke_json, monkeypatch):
    from gradtool.grad import symbolic

    monkeypatch.setattr(symbolic, "symbolic_gradient", lambda *a: spin(30))  # a differentiation that never ends
    args = ("grad", "x^2*y", "--at", "x=3,y=2", "--hessian", "--budget", "0.3", "--json", "--no-cache")
    code, out = invoke_json(*args)  # a cached entry holds the printed partials too: none here
    assert code == 0
    assert out["gradient"] is None and out["value"] == {"x": 12.0, "y": 9.0}
    np.testing.assert_allclose(out["hessian"], [[4.0, 6.0], [6.0, 0.0]], atol=1e-6)  # 2y, 2x; 2x, 0
    assert "values are by autodiff" in out["notes"][0]


def test_grad_without_a_point_says_what_to_do_when_the_gradient_is_too_slow(invoke, monkeypatch):
    from gradtool.grad import symbolic

    monkeypatch.setattr(symbolic, "symbolic_gradient", lambda *a: spin(30))
    result = invoke("grad", "x^2*y", "--budget", "0.3", "--no-cache")
    assert result.exit_code == 2
    assert "give --at for the gradient's value by autodiff, or raise --budget" in result.stderr


def test_minimize_runs_on_autodiff_when_the_symbolic_gradient_is_too_slow(invoke_json, monkeypatch):
    from gradtool.grad import symbolic

    monkeypatch.setattr(symbolic, "symbolic_gradient", lambda *a: spin(30))
    args = ("minimize", "(x-1)^2 + y^2", "--lr", "0.1", "--budget", "0.3", "--json", "--no-cache")
    code, out = invoke_json(*args)
    assert code == 0 and out["status"] == "converged"
    assert out["gradient"] == "autodiff" and "autodiff gradients instead" in out["note"]
    assert out["x"] == pytest.approx({"x": 1.0, "y": 0.0}, abs=1e-6)


def test_runs_in_worker_processes_get_the_budget(invoke, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("function: x^2 + sin(x*y)\nx0: [1, 1]\noptimizers: [gd, adam]\nsteps: 3\n")
    result = invoke("run", str(config), "--jobs", "2", "--budget", "0.000001", "--json", "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert "autodiff gradients instead" in result.stdout


def test_an_alarm_swallowed_in_a_finalizer_is_not_reported_and_comes_again(monkeypatch):
    """Python ignores an exception raised in __del__ (or a gc callback) and reports it as unraisable: the
    budget's alarm is no such error (it fires again), so nothing reaches the hook, and the block still ends."""
    import sys

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class Slow:
        def __del__(self):
            spin(0.5)  # the alarm fires in here, and Python swallows it

    start = time.monotonic()
    with pytest.raises(BudgetExceeded), budget("work", 0.1):
        Slow()  # finalized at once
        spin(30)
    assert time.monotonic() - start < 10 and reported == [] and sys.unraisablehook == reported.append
