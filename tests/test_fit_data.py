"""Bad data for fit: exit 2 with one stderr line naming the file, the row and the column."""

from __future__ import annotations

import numpy as np
import pytest

from gradtool.errors import DataError
from gradtool.fitting.data import as_table, holdout, parse_csv

BAD = {
    # name: (file content, model, target, words the message must contain[, extra option])
    "missing target column": ("x,z\n1,2\n3,4\n", "w*x + b", "y", ["no target column 'y'", "x, z"]),
    "missing input column": ("t,y\n1,2\n3,4\n", "w*x + b", "y", ["no input column 'x'", "t, y"], "--params=w,b"),
    "missing network input column": ("x1,y\n1,0\n0,1\n", "mlp:2-2-1", "y", ["2 inputs", "x1"]),
    "non-numeric cell": ("x,y\n1,2\n3,abc\n", "w*x + b", "y", ["row 3", "column 'y'", "'abc' is not a number"]),
    "empty cell": ("x,y\n1,2\n,4\n", "w*x + b", "y", ["row 3", "column 'x'", "empty cell"]),
    "NaN": ("x,y\n1,2\n3,4\nnan,5\n", "w*x + b", "y", ["row 4", "column 'x'", "NaN"]),
    "infinity": ("x,y\n1,2\n3,inf\n", "w*x + b", "y", ["row 3", "column 'y'", "not a finite number"]),
    "empty file": ("", "w*x + b", "y", ["empty file"]),
    "blank file": ("\n  \n", "w*x + b", "y", ["empty file"]),
    "header only": ("x,y\n", "w*x + b", "y", ["0 data rows"]),
    "single row": ("x,y\n1,2\n", "w*x + b", "y", ["1 data row;", "at least two"]),
    "short row": ("x,y\n1,2\n3\n", "w*x + b", "y", ["row 3", "1 cells", "2 columns"]),
    "long row": ("x,y\n1,2\n3,4\n5,6,7\n", "w*x + b", "y", ["row 4", "3 cells", "2 columns"]),
    "duplicate column": ("x,x\n1,2\n3,4\n", "w*x + b", "x", ["row 1", "'x' appears twice"]),
    "unnamed column": ("x,\n1,2\n3,4\n", "w*x + b", "x", ["row 1", "column 2", "no name"]),
    "bce label out of range": ("x1,x2,y\n0,0,0\n1,1,2\n0,1,1\n", "mlp:2-2-1", "y", ["row 3", "column 'y'", "[0, 1]"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_exits_2_naming_file_row_and_column(case, tmp_path, invoke):
    text, model, target, words, *extra = BAD[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    loss = ["--loss", "bce"] if "bce" in case else []
    result = invoke("fit", model, "--data", str(path), "--target", target, *loss, *extra, "--epochs", "1")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(path) in lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert result.stdout == ""


def test_missing_file_exits_2(tmp_path, invoke):
    result = invoke("fit", "w*x + b", "--data", str(tmp_path / "nope.csv"), "--target", "y")
    assert result.exit_code == 2 and "nope.csv: no such file" in result.stderr


def test_rows_are_numbered_as_a_spreadsheet_shows_them_skipping_blank_lines():
    with pytest.raises(DataError, match=r"f\.csv, row 5, column 'b': 'x' is not a number"):
        parse_csv("a,b\n1,2\n\n3,4\n5,x\n", "f.csv").column("b", "input")
    table = parse_csv('"a","b"\n 1 , 2e0 \n-3,4.5\n', "f.csv")
    assert table.columns == ["a", "b"] and table.values.tolist() == [[1, 2], [-3, 4.5]]


def test_mapping_data_for_the_python_api():
    table = as_table({"x": [1, 2, 3], "y": [2.0, 4.0, 6.0]})
    assert table.columns == ["x", "y"] and table.rows == 3
    with pytest.raises(DataError, match=r"<data>, row 2, column 'x': NaN"):
        as_table({"x": [1, float("nan")], "y": [1, 2]}).column("x", "input")
    labels = as_table({"x": [1, 2], "y": ["a", "b"]})
    assert labels.cells("y", "target").tolist() == ["a", "b"] and labels.column("x", "input").tolist() == [1, 2]


def test_holdout_is_seeded_and_disjoint():
    train, test = holdout(10, 0.3, np.random.default_rng(0))
    again = holdout(10, 0.3, np.random.default_rng(0))
    assert len(test) == 3 and not set(train) & set(test) and set(train) | set(test) == set(range(10))
    assert train.tolist() == again[0].tolist()
