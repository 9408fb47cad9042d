"""Fitted models on disk: an .npz of one JSON description (model, loss, targets and classes, scaling) and the
parameter arrays; what predicts new rows (:class:`Fitted`)."""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradtool.errors import DataError, GradtoolError
from gradtool.fitting.gradients import Objective
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import MAX_PARAMETERS, make_model
from gradtool.fitting.scaling import Standardizer
from gradtool.fitting.targets import MODES, Targets
from gradtool.io import open_output

FORMAT = "gradtool-fit/2"
FORMATS = ("gradtool-fit/1", FORMAT)  # version 1 files (no targets, classes or scaling) still load
META_BYTES = 1 << 22  # a model description is a few KB; a bigger one is not ours
_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


@dataclass
class Fitted:
    """A fitted model that predicts: the objective (model + loss), its parameters, how its outputs map to
    the targets (classes), and the input scaling (or None)."""

    objective: Objective
    theta: np.ndarray
    targets: Targets
    scaler: Standardizer | None = None

    @property
    def inputs(self) -> list[str]:
        return self.objective.model.inputs

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """The raw outputs (logits for classifiers) ``(rows, outputs)`` for inputs in original units."""
        x = np.ascontiguousarray(x, dtype=float)
        with np.errstate(all="ignore"):
            return self.objective.output(self.theta, x if self.scaler is None else self.scaler.apply(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions: values for regression, probabilities (sigmoid per output, softmax over classes)."""
        with np.errstate(all="ignore"):
            return self.objective.loss.link(self.outputs(x))


def save_model(
    path: str | Path, objective: Objective, theta: np.ndarray, targets: Targets | None = None, scaler=None
) -> None:
    """Write ``meta`` (JSON: model, activation, loss, l2, inputs, targets, target mode and classes, scaling,
    parameter names and shapes), the flat ``theta`` and each parameter under ``params/<name>``
    (``np.load(path)["params/W1"]``)."""
    model, layout = objective.model, objective.layout
    targets = targets or _default_targets(model.targets, objective.loss.name)
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
        "mode": targets.mode,
        "classes": targets.classes,
        "standardize": None if scaler is None else scaler.to_dict(),
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
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        raise DataError(f"{path}: not a model saved by `gradtool fit --save` (format {FORMAT})")
    if theta.ndim != 1 or not np.all(np.isfinite(theta)):
        raise DataError(f"{path}: the saved parameters are not a finite vector")
    return meta, theta


def _default_targets(columns: list[str], loss: str) -> Targets:
    return Targets(list(columns), "binary", [0, 1]) if loss == "bce" else Targets(list(columns), "values")


def _targets(meta: dict[str, Any], where: str) -> Targets:
    """The saved targets (version 1 files: values, or 0/1 columns for bce); a bad record is a DataError."""
    columns, mode, classes = list(meta["targets"]), meta.get("mode"), meta.get("classes")
    if mode is None:
        return _default_targets(columns, meta["loss"])
    labels_ok = isinstance(classes, list) and all(type(c) in (int, str) for c in classes)
    if mode not in MODES or (classes is not None and not (labels_ok and len(set(classes)) == len(classes) >= 2)):
        raise DataError(f"{where}: bad target description (mode {mode!r}, classes)")
    return Targets(columns, mode, classes)


def load_fitted(path: str | Path) -> Fitted:
    """The saved model as a :class:`Fitted` (objective, parameters, targets and classes, scaling)."""
    meta, theta = _read(path)
    try:
        targets = _targets(meta, str(path))
        kind = meta["kind"]
        model = make_model(
            meta["model"],
            [*meta["inputs"], *meta["targets"]],
            meta["targets"],
            activation=meta["activation"],
            params=meta["names"] if kind == "expression" else None,
            inputs=meta["inputs"] if kind != "expression" else None,
            outputs=(targets.outputs, targets.describe_outputs()),
            task=targets.task,
            fuse=True,
        )
        objective = Objective(model, make_loss(meta["loss"]), meta["l2"])
        scaling = meta.get("standardize")
        scaler = None if scaling is None else Standardizer.from_dict(scaling, model.inputs, str(path))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: incomplete model description ({exc})") from None
    except GradtoolError as exc:  # a model, loss or activation that does not parse: name the file
        raise DataError(f"{path}: bad model description: {exc}") from None
    if objective.layout.size != theta.size:
        raise DataError(f"{path}: {theta.size} parameters saved, but {meta['model']} has {objective.layout.size}")
    return Fitted(objective, theta, targets, scaler)


def load_model(path: str | Path) -> tuple[Objective, np.ndarray]:
    """The saved model's objective (model + loss + l2) and its parameter vector (see :func:`load_fitted`)."""
    fitted = load_fitted(path)
    return fitted.objective, fitted.theta


@dataclass(frozen=True)
class Saved:
    """A saved model read into memory (a config reads its ``load`` file once; its runs carry this instead)."""

    path: str
    meta: dict[str, Any]
    theta: np.ndarray

    def __str__(self) -> str:  # messages name the file
        return self.path


def read_saved(path: str | Path) -> Saved:
    """Read and check a file of `gradtool fit --save` (a DataError naming it if it is not one)."""
    return Saved(str(path), *_read(path))


def load_parameters(path: str | Path | Saved, model) -> np.ndarray:
    """Saved parameters to start a fit from (a path, or a :class:`Saved` already read): the file must hold
    the same model (same parameter layout)."""
    meta, theta = (path.meta, path.theta) if isinstance(path, Saved) else _read(path)
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
