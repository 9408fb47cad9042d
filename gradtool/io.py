"""Every output file goes through here: regular files are written atomically (a temporary file in the target's
folder, renamed into place when complete); character devices, FIFOs and ``-`` (stdout) are written straight.

Symlinks are followed (the link stays; its target is written, atomically when it is a regular file). Anything
else (a folder, a block device, a socket) is an error. ``check_outputs`` refuses, before a command runs, an
output that is one of the command's inputs, two outputs that are the same file, and two outputs on stdout.
Within ``capture_outputs()`` (a task on a Dask worker) outputs go to memory instead, to be written where the
command runs (``write_captured``).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from gradtool.errors import GradtoolError
from gradtool.interrupt import hold, release

STDOUT = "-"

# path -> (mode, content) of the outputs completed inside capture_outputs(); None: write files as usual
_captured: contextvars.ContextVar[dict[str, tuple[str, str | bytes]] | None] = contextvars.ContextVar(
    "gradtool_captured_outputs", default=None
)


class OutputError(GradtoolError):
    """An output cannot be written: missing or unwritable folder, a kind of file gradtool does not write,
    an output that is an input, or a write that failed (a full disk)."""


def output_target(path: str | os.PathLike) -> tuple[str, str]:
    """``(kind, where)``: ``("stdout", "-")``, ``("stream", path)`` for a character device or a FIFO, or
    ``("file", real path)`` for a regular file or a path that does not exist yet (symlinks resolved)."""
    if str(path) == STDOUT:
        return "stdout", STDOUT
    real = os.path.realpath(path)  # a dangling symlink resolves to the file it names, which is then created
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return "file", real
    except OSError as exc:  # a symlink loop, a path through a regular file
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    if stat.S_ISREG(mode):
        return "file", real
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream", real
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {path}: it is a folder")
    what = "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
    raise OutputError(f"cannot write {path}: it is {what} (outputs are regular files, character devices, FIFOs or -)")


def is_stream(path: str | os.PathLike) -> bool:
    """True for ``-``, a character device or a FIFO (written straight, in order, never replaced)."""
    return output_target(path)[0] != "file"


def check_writable(path: str | os.PathLike) -> None:
    """Fail early (before a run) if ``path`` cannot be written; nothing is created or opened."""
    kind, real = output_target(path)
    if kind == "stdout":
        return
    if kind == "stream":
        if not os.access(real, os.W_OK):
            raise OutputError(f"cannot write {path}: permission denied")
        return
    folder = Path(real).parent
    shown = folder if os.path.islink(path) else Path(path).parent  # name the folder the user wrote, when it is it
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {shown} does not exist")
    try:
        # the only true test (read-only file systems, /proc, names too long, root ignoring permissions)
        fd, probe = tempfile.mkstemp(prefix=f".{Path(real).name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        reason = f"folder {shown} is not writable" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
        raise OutputError(f"cannot write {path}: {reason}") from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def open_output(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open an output for writing (``mode`` ``"w"`` or ``"wb"``).

    A regular file (or a new path) gets a temporary file next to it, renamed onto it only if the block
    succeeds, keeping the permission bits of the file it replaces; a failed or interrupted block removes the
    temporary file, so no half-written file is ever left. A character device or FIFO is opened and written
    in place; ``-`` is stdout. A write that fails (a full disk) raises OutputError naming the path; a broken
    pipe on stdout stays a BrokenPipeError (the reader has gone: the caller stops quietly).
    """
    captured = _captured.get()
    if captured is not None:
        buffer = io.BytesIO() if "b" in mode else io.StringIO(newline="")
        yield buffer
        captured[str(path)] = (mode, buffer.getvalue())
        return
    kind, real = output_target(path)
    try:
        if kind == "stdout":
            stream = sys.stdout.buffer if "b" in mode else sys.stdout
            yield stream
            stream.flush()
        elif kind == "stream":
            fd = os.open(real, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))  # no O_CREAT: never a regular file
            with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as handle:
                yield handle
        else:
            with _atomic(Path(real), mode) as handle:
                yield handle
    except BrokenPipeError:
        if kind == "stdout":
            raise
        raise OutputError(f"cannot write {path}: its reader has gone (broken pipe)") from None
    except OSError as exc:
        where = "to stdout" if kind == "stdout" else str(path)
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _atomic(target: Path, mode: str, permissions: int | None = None) -> Iterator[IO]:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as handle:
            yield handle
        if permissions is None:
            try:
                permissions = stat.S_IMODE(os.stat(target).st_mode)  # replacing a file keeps its permissions
            except FileNotFoundError:
                permissions = 0o666 & ~_umask()  # mkstemp creates 0600; a new file gets the usual permissions
        os.chmod(tmp, permissions)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_private(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to the regular file ``path`` atomically (as :func:`open_output` does), readable and
    writable by the user alone, and never captured: a file of gradtool's own (a compile-cache entry), not an
    output of the command. Raises OSError."""
    with _atomic(Path(path), "wb", 0o600) as handle:
        handle.write(data)


@contextlib.contextmanager
def capture_outputs() -> Iterator[dict[str, tuple[str, str | bytes]]]:
    """Within the block (this thread), :func:`open_output` writes into memory: the dict yielded gets
    ``path: (mode, content)`` for each output completed (one that fails or is interrupted is left out)."""
    files: dict[str, tuple[str, str | bytes]] = {}
    token = _captured.set(files)
    try:
        yield files
    finally:
        _captured.reset(token)


def write_captured(files: dict[str, tuple[str, str | bytes]]) -> None:
    """Write the outputs :func:`capture_outputs` kept, each through :func:`open_output`."""
    for path, (mode, content) in files.items():
        with open_output(path, mode) as handle:
            handle.write(content)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_outputs(writes: Iterable[tuple[str, str | None]], reads: Iterable[tuple[str, str | None]] = ()) -> None:
    """Refuse, before anything runs, an output that is one of the command's inputs (the same file, also
    through a symlink or a hard link), two outputs that are the same regular file, or two on stdout.

    Args:
        writes: ``(label, path)`` per output, e.g. ``("--save", "m.npz")`` or ``("run.yaml:4: output.json",
            ...)``; a None path is skipped.
        reads: ``(what, path)`` per input, e.g. ``("the --data file", "lin.csv")``.
    """
    inputs = {}
    for what, path in reads:
        identity = path is not None and _identity(path)
        if identity:
            inputs.setdefault(identity, what)
    seen: dict[object, str] = {}
    for label, path in writes:
        if path is None:
            continue
        kind, real = output_target(path)
        identity = _identity(real) if kind != "stdout" else None
        if identity in inputs:
            raise OutputError(f"{label}: cannot write {path}: it is {inputs[identity]}, which this command reads")
        key = STDOUT if kind == "stdout" else None if kind == "stream" else identity or real
        if key is not None and key in seen:
            same = "both write to stdout" if key == STDOUT else f"both write {path}"
            raise OutputError(f"{seen[key]} and {label} {same}; give them different paths")
        if key is not None:
            seen[key] = label


class TrajectoryCSV:
    """A sink streaming ``step,<variables...>,f,grad_norm,lr`` rows (row 0 is x0, lr empty there; the last
    column is ``t``, the step length, for a method that chooses it); a step it has written already is ignored
    (an interrupted run hands over its last step once more)."""

    def __init__(self, handle: IO, variables: list[str], last: str = "lr"):
        self._write = handle.write
        self._write(",".join(["step", *variables, "f", "grad_norm", last]) + "\n")
        self.step = -1

    def __call__(self, step: int, x, f: float, grad_norm: float, lr: float) -> None:
        if step == self.step:
            return
        values = ",".join(map(repr, x.tolist()))
        lr_text = "" if lr != lr else repr(lr)
        line = f"{step},{values},{f!r},{grad_norm!r},{lr_text}\n"
        hold()  # a stop arriving inside write() would lose the row, or keep half of it
        try:
            self._write(line)
            self.step = step
        finally:
            release()
