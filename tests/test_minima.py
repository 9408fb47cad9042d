"""The distinct minima of a multi-start run: the same clusters as the plain greedy rule, in O(n log n)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import gradtool
from gradtool.minima import distinct_minima


def greedy(x: np.ndarray, f: np.ndarray, tol: float = 1e-3, sense: float = 1.0) -> list[dict]:
    """The rule as stated, point by point (quadratic): in order of f, join the first centre within
    tol * max(1, |centre|), else become a centre."""
    centres: list[int] = []
    counts: list[int] = []
    for i in np.argsort(sense * f, kind="stable"):
        for k, c in enumerate(centres):
            if np.linalg.norm(x[i] - x[c]) <= tol * max(1.0, np.linalg.norm(x[c])):
                counts[k] += 1
                break
        else:
            centres.append(i)
            counts.append(1)
    return [{"x": x[c].tolist(), "f": float(f[c]), "count": k} for c, k in zip(centres, counts, strict=True)]


@pytest.mark.parametrize("seed", range(40))
def test_the_clusters_are_those_of_the_greedy_rule(seed):
    rng = np.random.default_rng(seed)
    d, n, k = int(rng.integers(1, 6)), int(rng.integers(1, 300)), int(rng.integers(1, 15))
    scale = rng.choice([1.0, 1000.0], size=(k, 1))  # far minima: reaches of very different sizes
    centres = rng.uniform(-3, 3, size=(k, d)) * scale
    x = centres[rng.integers(0, k, n)] + rng.normal(scale=rng.choice([1e-6, 1e-3, 1e-2]), size=(n, d))
    f = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # ties in f keep the order of the points
    sense = float(rng.choice([1.0, -1.0]))
    assert distinct_minima(x, f, sense=sense) == greedy(x, f, sense=sense)


def test_thirty_thousand_distinct_end_points_are_grouped_in_seconds():
    rng = np.random.default_rng(0)
    x, f = rng.uniform(-5, 5, size=(30_000, 2)), rng.normal(size=30_000)  # 68 s with the quadratic loop
    start = time.process_time()
    minima = distinct_minima(x, f)
    assert time.process_time() - start < 10
    assert sum(m["count"] for m in minima) == 30_000 and len(minima) > 29_000


def test_a_million_end_points_in_four_minima_are_grouped_in_seconds():
    rng = np.random.default_rng(1)
    known = np.array([[3.0, 2.0], [-2.8, 3.1], [-3.8, -3.3], [3.6, -1.8]])
    which = rng.integers(0, 4, 1_000_000)
    x = known[which] + rng.normal(scale=1e-6, size=(1_000_000, 2))
    start = time.process_time()
    minima = distinct_minima(x, rng.normal(size=len(x)))
    assert time.process_time() - start < 30
    assert sorted(m["count"] for m in minima) == sorted(np.bincount(which).tolist())


def test_multistart_tables_show_the_best_minima_and_say_how_many_there_are(invoke):
    result = invoke("minimize", "x^2 + y^2", "--starts", "500", "--steps", "0", "--box=-5,5")
    assert result.exit_code == 0
    assert "the best 50 of 500 (all in --json)" in " ".join(result.stdout.split())
    assert len([line for line in result.stdout.splitlines() if "max_steps" in line or "│" in line]) < 120


def test_classifying_many_minima_in_chunks_gives_the_same_kinds(monkeypatch):
    from gradtool import derive

    objective = gradtool.load_objective("x^3 - 3*x + y^2")  # a minimum at (1, 0), a saddle at (-1, 0)
    points = np.random.default_rng(0).choice([-1.0, 1.0], size=(101, 1)) * [[1.0, 0.0]]
    whole = derive.stationary_kinds(objective, points)
    monkeypatch.setattr(derive, "CHUNK_FLOATS", 30)  # 2 points at a time
    assert derive.stationary_kinds(objective, points) == whole
    assert set(whole) == {"minimum", "saddle"}
