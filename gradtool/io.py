"""Files written atomically: a temporary file in the target's folder, renamed into place when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gradtool.errors import GradtoolError


class OutputError(GradtoolError):
    """An output file cannot be written (missing or unwritable folder)."""


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it onto ``path`` only if the block succeeds.

    A failed or interrupted block removes the temporary file, so no half-written output is ever left.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode, newline="" if "b" not in mode else None) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike) -> None:
    """Fail early (before a run) if ``path`` cannot be created."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        if not folder.is_dir():
            raise OutputError(f"cannot write {target}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"cannot write {target}: folder {folder} is not writable")
        if target.is_dir():
            raise OutputError(f"cannot write {target}: it is a folder")
        # the only true test (read-only file systems, /proc, names too long, root ignoring permissions)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)


class TrajectoryCSV:
    """A sink streaming ``step,<variables...>,f,grad_norm,lr`` rows (row 0 is x0, lr empty there)."""

    def __init__(self, handle: IO, variables: list[str]):
        self._write = handle.write
        self._write(",".join(["step", *variables, "f", "grad_norm", "lr"]) + "\n")

    def __call__(self, step: int, x, f: float, grad_norm: float, lr: float) -> None:
        values = ",".join(map(repr, x.tolist()))
        lr_text = "" if lr != lr else repr(lr)
        self._write(f"{step},{values},{f!r},{grad_norm!r},{lr_text}\n")
