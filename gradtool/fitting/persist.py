"""Fitted models on disk (.npz: one JSON description + the parameter arrays) and predictions for new rows."""

from __future__ import annotations

import csv
import json
import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from gradtool.errors import DataError, GradtoolError
from gradtool.fitting.data import read_csv
from gradtool.fitting.gradients import Objective
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import MAX_PARAMETERS, make_model
from gradtool.io import open_output

FORMAT = "gradtool-fit/1"
META_BYTES = 1 << 22  # a model description is a few KB; a bigger one is not ours
_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def save_model(path: str | Path, objective: Objective, theta: np.ndarray) -> None:
    """Write ``meta`` (JSON: model, activation, loss, l2, inputs, targets, parameter names and shapes), the
    flat ``theta`` and each parameter under ``params/<name>`` (``np.load(path)["params/W1"]``)."""
    model, layout = objective.model, objective.layout
    meta = {
        "format": FORMAT,
        "model": model.text,
        "kind": model.kind,
        "activation": getattr(model, "activation", None),
        "loss": objective.loss.name,
        "l2": objective.l2,
        "inputs": model.inputs,
        "targets": model.targets,
        "names": list(layout.names),
        "shapes": [list(s) for s in layout.shapes],
    }
    arrays = {f"params/{name}": np.asarray(view) for name, view in zip(layout.names, layout.views(theta), strict=True)}
    with open_output(path, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), theta=np.asarray(theta, dtype=float), **arrays)


def _declared(archive: zipfile.ZipFile, name: str, limit: int, not_saved: str) -> None:
    """Check a member's declared shape and type against ``limit`` bytes from its .npy header alone.

    np.load allocates what the header declares before it decompresses anything: a 1.5 MB archive of
    zeros can declare gigabytes. Reading the header decompresses a few hundred bytes.
    """
    with archive.open(f"{name}.npy") as member:
        version = np.lib.format.read_magic(member)
        if version not in _HEADERS:
            raise DataError(f"{not_saved} (.npy format {version[0]}.{version[1]} in {name})")
        shape, _, dtype = _HEADERS[version](member)
    if dtype.hasobject or math.prod(shape) * dtype.itemsize > limit:
        raise DataError(f"{not_saved} ({name} declares {shape} of {dtype}, more than {limit:,} bytes)")


def _read(path: str | Path) -> tuple[dict[str, Any], np.ndarray]:
    not_saved = f"{path}: not a model saved by `gradtool fit --save`"
    file = Path(path)
    if file.exists() and not file.is_file():  # a folder, a FIFO (which would block), /dev/zero
        raise DataError(f"{not_saved} (not a regular file)")
    try:
        if not zipfile.is_zipfile(path):  # a bare .npy would be read by its header's word too
            raise DataError(f"{not_saved} (not an .npz archive)")
        with zipfile.ZipFile(path) as archive:
            _declared(archive, "meta", META_BYTES, not_saved)
            _declared(archive, "theta", 8 * MAX_PARAMETERS, not_saved)
        with np.load(path, allow_pickle=False) as npz:
            meta, theta = json.loads(str(npz["meta"])), np.array(npz["theta"], dtype=float)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (AttributeError, TypeError, EOFError):  # np.load gave a bare .npy array, or the file is empty
        raise DataError(f"{not_saved} (not an .npz archive)") from None
    except RecursionError:
        raise DataError(f"{not_saved} (its description is nested too deeply)") from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # numpy's advice is to unpickle it unsafely: never
            raise DataError(f"{not_saved} (not an .npz archive; pickled data is never loaded)") from None
        raise DataError(f"{not_saved} ({exc})") from None
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{not_saved} ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a model saved by `gradtool fit --save` (format {FORMAT})")
    if theta.ndim != 1 or not np.all(np.isfinite(theta)):
        raise DataError(f"{path}: the saved parameters are not a finite vector")
    return meta, theta


def load_model(path: str | Path) -> tuple[Objective, np.ndarray]:
    """The saved model's objective (model + loss + l2) and its parameter vector."""
    meta, theta = _read(path)
    try:
        columns = [*meta["inputs"], *meta["targets"]]
        kind = meta["kind"]
        model = make_model(
            meta["model"],
            columns,
            meta["targets"],
            activation=meta["activation"],
            params=meta["names"] if kind == "expression" else None,
            inputs=meta["inputs"] if kind == "mlp" else None,
        )
        objective = Objective(model, make_loss(meta["loss"]), meta["l2"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path}: incomplete model description ({exc})") from None
    except GradtoolError as exc:  # a model, loss or activation that does not parse: name the file
        raise DataError(f"{path}: bad model description: {exc}") from None
    if objective.layout.size != theta.size:
        raise DataError(f"{path}: {theta.size} parameters saved, but {meta['model']} has {objective.layout.size}")
    return objective, theta


def load_parameters(path: str | Path, model) -> np.ndarray:
    """Saved parameters to start a fit from: the file must hold the same model (same parameter layout)."""
    meta, theta = _read(path)
    if (
        meta.get("model") != model.text
        or meta.get("names") != list(model.layout.names)
        or meta.get("shapes") != [list(s) for s in model.layout.shapes]
    ):
        raise DataError(
            f"{path} holds {meta.get('model')!r} with parameters {', '.join(meta.get('names') or [])}; "
            f"it cannot start {model.text!r}"
        )
    if theta.size != model.layout.size:
        raise DataError(f"{path}: {theta.size} parameters saved, but {model.text} has {model.layout.size}")
    return theta


def predict_file(model_path: str | Path, data_path: str | Path) -> tuple[list[str], np.ndarray]:
    """Apply a saved model to a CSV: ``(header, rows)`` = the file's columns then ``<target>_pred`` ones."""
    return predictions_for(*load_model(model_path), data_path)


def predictions_for(objective: Objective, theta: np.ndarray, data_path: str | Path) -> tuple[list[str], np.ndarray]:
    """A fitted model applied to a CSV (only its input columns are needed; one row is enough)."""
    table = read_csv(data_path, min_rows=1)
    x = table.matrix(objective.model.inputs, "input")
    predictions = objective.predict(theta, x)
    header = [*table.columns, *(f"{t}_pred" for t in objective.model.targets)]
    return header, np.column_stack([table.matrix(table.columns, "data"), predictions])


def write_csv(handle: IO, header: list[str], rows: np.ndarray) -> None:
    """CSV with full-precision numbers (``repr`` of each float); header names quoted when they need it."""
    csv.writer(handle, lineterminator="\n").writerow(header)
    for row in rows.tolist():
        handle.write(",".join(map(repr, row)) + "\n")


def write_predictions(header: list[str], rows: np.ndarray, output: str | None) -> None:
    """To ``output`` (written atomically) or to stdout."""
    if output is None:
        import sys

        write_csv(sys.stdout, header, rows)
        return
    with open_output(output) as handle:
        write_csv(handle, header, rows)
