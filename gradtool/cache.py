"""The compile cache: what SymPy computed for an expression, kept on disk so that a repeated one skips SymPy.

An entry is one *part* (the analytic engine's code, its Hessian's, the autodiff sweep, ...) of one *key* (an
expression's identity, its variable order and whatever else changes the code; see :func:`key`). It is code
that will run, so the cache is a trust boundary:

- entries are written atomically (a temporary file renamed into place), so that readers, and concurrent
  writers of the same entry (``run --jobs``), see a whole entry or none;
- each carries the cache format, gradtool's version, its key and part, and the length and SHA-256 of its
  content; anything that does not match (a truncated, corrupt or foreign entry) is ignored and rebuilt;
- the code in an entry is checked by the same whitelist as freshly generated code before it is executed
  (the caller's ``use``, see :func:`obtain`); a refused entry is deleted and rebuilt;
- the directory must belong to the user and be writable by nobody else (else it is not used, with one
  warning line), and so must each entry file.

Location: ``$GRADTOOL_CACHE_DIR``, else ``$XDG_CACHE_HOME/gradtool``, else ``~/.cache/gradtool``.
``GRADTOOL_CACHE=0`` (or ``--no-cache``) turns it off. It holds at most ``MAX_BYTES`` (least recently used
entries go first) and may be deleted at any time. Neither SymPy nor numpy is imported here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gradtool import __version__

FORMAT = 1
MAX_BYTES = 50 * 2**20  # the whole cache; least recently used entries are removed beyond it
MAX_ENTRY = MAX_BYTES // 8  # a larger entry is not kept (it would push out too many others)
SUFFIX = ".entry"
MAGIC = b"gradtool-cache\n"
STALE_S = 3600.0  # a temporary file this old was left by a process that died while writing
OFF = ("0", "false", "no", "off")

T = TypeVar("T")
_warned: set[str] = set()


def _sha256_class():
    # the builtin SHA-256: hashlib loads OpenSSL first, ~4 ms of a warm run that takes ~50 ms of its own
    for module in ("_sha2", "_sha256", "hashlib"):  # Python 3.12+, 3.11, any
        try:
            return importlib.import_module(module).sha256
        except (ImportError, AttributeError):
            continue
    raise ImportError("no SHA-256 implementation")


sha256 = _sha256_class()


def enabled() -> bool:
    """False when ``GRADTOOL_CACHE`` is ``0`` (``--no-cache`` sets it, for worker processes too)."""
    return os.environ.get("GRADTOOL_CACHE", "1").strip().lower() not in OFF


def disable() -> None:
    """Turn the cache off for this process and the processes it starts (what ``--no-cache`` does)."""
    os.environ["GRADTOOL_CACHE"] = "0"


def location() -> Path | None:
    """Where the cache lives (whether or not it exists yet); None when there is no home directory."""
    given = os.environ.get("GRADTOOL_CACHE_DIR", "").strip()
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if base and os.path.isabs(base):
        return Path(base) / "gradtool"
    try:
        return Path.home() / ".cache" / "gradtool"
    except (RuntimeError, KeyError):  # no HOME and no password entry
        return None


def warn(message: str) -> None:
    """One ``warning:`` line on stderr, once per process."""
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"warning: {message}\n")


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else."""
    mine = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return mine and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def directory(create: bool = False) -> Path | None:
    """The cache directory when it may be used (created, private to the user, when ``create``), else None.

    A directory writable by other users, or not the user's own, is refused with one warning line: anyone who
    can write it could put code there that gradtool would run.
    """
    where = location() if enabled() else None
    if where is None:
        return None
    try:
        try:
            st = os.stat(where)
        except FileNotFoundError:
            if not create:
                return None
            os.makedirs(where, mode=0o700, exist_ok=True)
            st = os.stat(where)
    except OSError:  # a read-only home, a path through a file: run without the cache
        return None
    if not stat.S_ISDIR(st.st_mode):
        warn(f"cache directory {where} is not a directory; not using it")
        return None
    if not _private(st):
        warn(
            f"cache directory {where} is writable by other users or not yours; not using it "
            "(chmod go-w it, or set GRADTOOL_CACHE_DIR)"
        )
        return None
    return where


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    """What makes the cached code and text: gradtool's version, the source of the modules that generate them (a
    development checkout changes without a new version), and SymPy's version (read from its files, not imported)."""
    digest = sha256(f"{FORMAT}\0{__version__}\0".encode())
    package = Path(__file__).resolve().parent
    modules = [*package.glob("expr/*.py"), *package.glob("grad/*.py"), package / "derive.py", package / "cache.py"]
    for path in sorted(modules):
        with contextlib.suppress(OSError):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(_sympy_version().encode())
    return digest.hexdigest()


def _sympy_version() -> str:
    import importlib.util
    import re

    spec = importlib.util.find_spec("sympy")
    try:
        text = Path(spec.origin).with_name("release.py").read_text()
    except (AttributeError, TypeError, OSError):
        return "sympy ?"
    found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text)
    return f"sympy {found.group(1) if found else '?'}"


def key(kind: str, *parts: str) -> str:
    """The key of an entry: ``kind`` (``expression``, ``function``) and ``parts`` (the canonical expression,
    the variable order, ...) with everything that makes the code (see ``_fingerprint``)."""
    digest = sha256(_fingerprint().encode())
    for part in (kind, *parts):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(data) + data)
    return digest.hexdigest()


def _path(where: Path, key: str, part: str) -> Path:
    return where / f"{key}.{part}{SUFFIX}"


def _encode(key: str, part: str, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    header = {
        "format": FORMAT,
        "gradtool": __version__,
        "key": key,
        "part": part,
        "size": len(body),
        "sha256": sha256(body).hexdigest(),
    }
    return MAGIC + json.dumps(header).encode() + b"\n" + body


def _decode(data: bytes, key: str, part: str) -> dict[str, Any] | None:
    """The payload of an entry, or None unless every field of its header matches and its content is whole."""
    if not data.startswith(MAGIC):
        return None
    head, sep, body = data[len(MAGIC) :].partition(b"\n")
    if not sep:
        return None
    try:
        header = json.loads(head)
        expected = {"format": FORMAT, "gradtool": __version__, "key": key, "part": part, "size": len(body)}
        if any(header.get(name) != value for name, value in expected.items()):
            return None
        if header.get("sha256") != sha256(body).hexdigest():
            return None
        payload = json.loads(body)
    except (ValueError, AttributeError, TypeError):  # not JSON, or a header that is not an object
        return None
    return payload if isinstance(payload, dict) else None


def load(key: str, part: str) -> dict[str, Any] | None:
    """The payload stored under ``key``/``part``, or None (no entry, cache off, or an entry not to trust)."""
    where = directory()
    if where is None:
        return None
    path = _path(where, key, part)
    try:
        with open(path, "rb") as handle:
            if not _private(os.fstat(handle.fileno())):
                return None
            data = handle.read(MAX_ENTRY + 1)
    except OSError:
        return None
    payload = _decode(data, key, part)
    if payload is None:
        discard(key, part)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # its last use, for the LRU order
    return payload


def store(key: str, part: str, payload: dict[str, Any]) -> None:
    """Keep ``payload`` under ``key``/``part`` (atomically); a failure (full disk, read-only) is not an error."""
    where = directory(create=True)
    if where is None:
        return
    data = _encode(key, part, payload)
    if len(data) > MAX_ENTRY:
        return
    from gradtool.io import write_private

    try:
        write_private(_path(where, key, part), data)
    except OSError:
        return
    evict(where)


def discard(key: str, part: str) -> None:
    """Remove the entry ``key``/``part`` if there is one."""
    where = directory()
    if where is not None:
        with contextlib.suppress(OSError):
            os.unlink(_path(where, key, part))


def evict(where: Path, limit: int | None = None) -> None:
    """Remove the least recently used entries until the cache is within 80% of ``limit`` (once over it), and
    temporary files that a process killed while writing left behind. Safe while others read and write."""
    entries, total, now = [], 0, time.time()
    try:
        with os.scandir(where) as listing:
            for item in listing:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if item.name.endswith(SUFFIX) and stat.S_ISREG(st.st_mode):
                    entries.append((st.st_mtime, st.st_size, item.path))
                    total += st.st_size
                elif item.name.startswith(".") and item.name.endswith(".tmp") and now - st.st_mtime > STALE_S:
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
    except OSError:
        return
    limit = MAX_BYTES if limit is None else limit
    if total <= limit:
        return
    for _, size, path in sorted(entries):
        with contextlib.suppress(OSError):
            os.unlink(path)
        total -= size
        if total <= 0.8 * limit:
            break


def obtain(key: str | None, part: str, build: Callable[[], dict[str, Any]], use: Callable[[dict[str, Any]], T]) -> T:
    """``use(payload)`` of the cached payload, else of ``build()`` (then stored); ``key`` None: never cached.

    ``use`` turns a payload into what the caller needs, checking its code with the whitelist; any exception
    it raises on a cached payload (a refused or malformed entry) discards the entry and rebuilds it. Errors of
    ``build`` and of ``use`` on a fresh payload are the caller's, as without the cache.
    """
    if key is not None:
        payload = load(key, part)
        if payload is not None:
            try:
                return use(payload)
            except Exception:  # an entry not to trust, whatever is wrong with it: rebuild it
                discard(key, part)
    payload = build()
    result = use(payload)
    if key is not None:
        store(key, part, payload)
    return result
