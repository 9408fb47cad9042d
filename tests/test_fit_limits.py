"""Heavy or hostile fit input refuses in one line before it allocates: network width x rows, model-file bombs."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tests.test_fit_csv import run_limited


def one_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_wide_network_on_many_rows_is_refused_before_allocating(tmp_path):
    data = tmp_path / "d.csv"
    rows = np.random.default_rng(0).normal(size=(20_000, 2))
    data.write_text("x,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in rows.tolist()) + "\n")
    code = f"""
        import sys
        from gradtool.cli import main
        sys.argv = ["gradtool", "fit", "mlp:1-100000-1", "--data", {str(data)!r}, "--target", "y", "--epochs", "1"]
        main()
    """
    done = run_limited(code, 1024, timeout=60)  # it used to be OOM-killed at 24 GB
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert "mlp:1-100000-1 on batches of 20,000 rows" in line and "--batch-size" in line and "layer widths" in line


def test_the_suggested_batch_size_fits_and_whole_set_losses_come_in_chunks(monkeypatch):
    import gradtool
    from gradtool.fitting import gradients

    monkeypatch.setattr(gradients, "MAX_SWEEP_BYTES", 64 << 20)  # 64 MiB: ~40 rows of a 20,000-wide layer
    data = {"x": np.linspace(-1, 1, 300), "y": np.sin(np.linspace(-1, 1, 300))}
    with pytest.raises(gradtool.GradtoolError, match="at most") as refused:
        gradtool.prepare_fit("mlp:1-20000-1", data, "y")
    fits = int(str(refused.value).split("at most ")[1].split(" rows")[0].replace(",", ""))
    assert 20 < fits < 300
    problem = gradtool.prepare_fit("mlp:1-20000-1", data, "y", batch_size=fits, epochs=0, activation="tanh")
    result = problem.run()
    x, y = problem.train.x, problem.train.y
    W1, b1, W2, b2 = problem.objective.layout.views(result.theta)
    want = np.mean((np.tanh(x @ W1 + b1) @ W2 + b2 - y) ** 2)
    assert result.train_loss == pytest.approx(want, rel=1e-12)


def test_a_network_refuses_its_target_as_an_input(invoke, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,2\n2,4\n3,6\n")
    line = one_line(invoke("fit", "mlp:1-2-1", "--data", str(data), "--target", "y", "--inputs", "y"))
    assert "uses the target column 'y' as an input" in line


def npz_declaring(shape: tuple[int, ...], member: str) -> bytes:
    """An .npz whose ``member`` header declares ``shape`` float64 but whose body holds almost nothing."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    meta = io.BytesIO()
    np.save(meta, np.array('{"format": "gradtool-fit/1"}'))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.npy", header.getvalue() if member == "meta" else meta.getvalue())
        archive.writestr("theta.npy", header.getvalue() + bytes(64) if member == "theta" else b"")
    return out.getvalue()


@pytest.mark.parametrize("member", ["theta", "meta"])
def test_a_model_file_declaring_gigabytes_is_refused_from_its_header(tmp_path, member):
    model, data = tmp_path / "bomb.npz", tmp_path / "d.csv"
    model.write_bytes(npz_declaring((400_000_000,), member))
    data.write_text("x\n1\n")
    code = f"""
        import sys
        from gradtool.cli import main
        sys.argv = ["gradtool", "predict", {str(model)!r}, "--data", {str(data)!r}]
        main()
    """
    done = run_limited(code, 1024, timeout=60)  # numpy would allocate 3.2 GB before reading a byte
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert f"{member} declares (400000000,)" in line and "not a model saved by" in line
