"""Atomic file writes shared by every module that writes files.

A file is written to a temporary file in the same folder, flushed and renamed over the target,
so a crash or a kill never leaves a half-written file behind.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_text(p, "hello"); p.read_text()
    'hello'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def check_output(path: str | Path, *, force: bool = False, flag: str = "output",
                 protected: tuple[str | Path, ...] = ()) -> Path:
    """The one write policy for every file a command produces; call it before any work.

    Refuses (``FileExistsError`` / ``ValueError`` naming ``flag`` and the path): an existing
    file unless ``force``; anything that is not a regular file (a directory, a device such as
    ``/dev/full``, a FIFO), even with ``force``; and any of ``protected`` (the command's own
    inputs, a run's own files), even with ``force``. A missing parent folder is an error too.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "a.json").write_text("{}")
        2
        >>> check_output(d / "b.json").name
        'b.json'
        >>> check_output(d / "a.json", flag="--json")
        Traceback (most recent call last):
        ...
        FileExistsError: --json ... exists; pass --force to overwrite it
    """
    p = Path(path)
    for other in protected:
        if _same_file(p, Path(other)):
            raise ValueError(f"{flag} {p} is one of this command's inputs or a run's own file; choose another path")
    if p.is_symlink() or p.exists():
        if not p.is_file() or p.is_symlink() and not Path(os.path.realpath(p)).is_file():
            kind = "a directory" if p.is_dir() else "not a regular file"
            raise ValueError(f"{flag} {p} is {kind}; refusing to write to it")
        if not force:
            raise FileExistsError(f"{flag} {p} exists; pass --force to overwrite it")
    elif not p.parent.is_dir():
        raise FileNotFoundError(f"{flag} {p}: the folder {p.parent} does not exist")
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def write_output(path: str | Path, data: bytes | str, *, force: bool = False, flag: str = "output",
                 protected: tuple[str | Path, ...] = ()) -> Path:
    """:func:`check_output` again (the file may have appeared meanwhile), then an atomic write."""
    p = check_output(path, force=force, flag=flag, protected=protected)
    atomic_write_bytes(p, data.encode("utf-8") if isinstance(data, str) else data)
    return p
