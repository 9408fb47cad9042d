"""The CSV reader: a strict number grammar, text columns kept for labels and IDs, bounded memory and time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradtool.errors import DataError
from gradtool.fitting.csvfile import CHUNK, NUMBER, parse_csv

NOT_NUMBERS = {
    "underscore": "1_0",
    "Arabic-Indic digit": "\u0663",
    "fullwidth digit": "\uff11",
    "hexadecimal": "0x10",
    "two numbers": "1 2",
    "quoted multi-line cell": '"1\n2"',
    "quoted cell ending in a newline": '"1\n"',
    "letter": "1a",
}


@pytest.mark.parametrize("case", sorted(NOT_NUMBERS))
def test_cells_that_python_float_reads_leniently_are_not_numbers(case):
    table = parse_csv(f"x,y\n1,2\n{NOT_NUMBERS[case]},4\n", "f.csv")
    with pytest.raises(DataError, match=r"f\.csv, row \d, column 'x': .* is not a number"):
        table.column("x", "input")
    assert table.column("y", "target").tolist() == [2.0, 4.0]  # the other column is unaffected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters=',"\r\n'), max_size=12))
def test_a_cell_is_a_number_exactly_when_the_ascii_grammar_says_so(cell):
    table = parse_csv(f"x,y\n{cell},1\n0,1\n", "f.csv")
    stripped = cell.strip(" \t")
    numeric = NUMBER.fullmatch(stripped) is not None and np.isfinite(float(stripped))
    if numeric:
        assert table.column("x", "input")[0] == float(stripped)
    else:
        with pytest.raises(DataError, match=r"row 2, column 'x'"):
            table.column("x", "input")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=20))
def test_every_float_written_by_repr_reads_back_exactly(values):
    table = parse_csv("x\n" + "\n".join(map(repr, values)) + "\n", "f.csv")
    assert table.column("x", "input").tolist() == values


def test_a_text_column_keeps_its_labels_and_the_numbers_before_them_across_chunks():
    rows = [f"{k},{k % 3}" for k in range(CHUNK + 5)] + ["7,setosa"]
    table = parse_csv("x,y\n" + "\n".join(rows) + "\n", "f.csv")
    cells = table.cells("y", "target")
    assert cells[:3].tolist() == [0.0, 1.0, 2.0] and cells[-1] == "setosa" and len(cells) == CHUNK + 6
    with pytest.raises(DataError, match=rf"row {CHUNK + 7}, column 'y': 'setosa' is not a number"):
        table.column("y", "target")
    assert table.column("x", "input")[-1] == 7.0


def test_nan_infinity_and_overflow_have_their_own_messages():
    table = parse_csv("a,b,c\nnan,inf,1e999\n1,2,3\n", "f.csv")
    for name, words in (("a", "NaN (missing value)"), ("b", "'inf' is not a finite number"), ("c", "'1e999'")):
        with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
            table.column(name, "input")


def run_limited(code: str, megabytes: int, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter whose address space is capped at ``megabytes``."""
    prelude = textwrap.dedent(
        f"""
        import resource
        limit = {megabytes} << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


def test_a_40_mb_csv_is_read_in_a_small_multiple_of_its_size(tmp_path):
    rng = np.random.default_rng(0)
    block = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rng.normal(size=(1000, 10))) + "\n"
    path = tmp_path / "big.csv"
    with open(path, "w") as handle:
        handle.write(",".join(f"c{k}" for k in range(10)) + "\n")
        for _ in range(400):
            handle.write(block)
    size = path.stat().st_size
    assert size > 35e6
    code = f"""
        import time
        from gradtool.fitting.data import read_csv
        start = time.perf_counter()
        table = read_csv({str(path)!r})
        print(table.rows, table.values.shape[1], time.perf_counter() - start)
    """
    # the interpreter and numpy take ~150 MB of address space; the 32 MB of numbers may be held twice
    done = run_limited(code, 150 + 4 * size // 2**20)
    assert done.returncode == 0, done.stderr[-2000:]
    rows, columns, seconds = done.stdout.split()
    assert (int(rows), int(columns)) == (400_000, 10) and float(seconds) < 60
