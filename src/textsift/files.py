"""Writing files safely. Every write goes to a temporary file beside its target and is renamed over it, so neither a
reader nor a crash ever sees half a file; files get the usual permissions (0644 under the common umask, not the
0600 of a temporary file); and output paths are checked before expensive work starts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from textsift.errors import TextsiftError

_UMASK = os.umask(0)
os.umask(_UMASK)  # reading the umask means setting it; put it straight back


def publish(source: Path, target: Path) -> Path:
    """Move a finished file into place in one rename (same filesystem), with ordinary permissions."""
    os.chmod(source, 0o666 & ~_UMASK)
    os.replace(source, target)
    return target


@contextlib.contextmanager
def replacing(path: Path | str, *, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file to write that appears at `path` only when the block ends without an error."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            yield f
        publish(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path | str, text: str) -> Path:
    """Write UTF-8 text to `path` atomically: a temporary file in the same folder, then one rename."""
    with replacing(path) as f:
        f.write(text)
    return Path(path)


def sha256(path: Path) -> str:
    """Hex sha256 of a file. Remembered per (inode, size, mtime) in this process, so loading one folder again
    does not hash its weights again, while any rewrite of the file is hashed afresh."""
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256(path: str, inode: int, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def writable_dir(path: Path | str, flag: str = "--out") -> Path:
    """Create `path` if needed and prove a file can be written there, or one line saying why not."""
    path = Path(path)
    problem = _cannot_write(path)
    if problem:
        raise TextsiftError(f"{path}: cannot write there ({problem}); pass another {flag}")
    return path


def writable_file(path: Path | str, flag: str = "--out") -> Path:
    """Prove `path` can be written (its folder exists and takes a file), without touching an existing file."""
    path = Path(path)
    if path.is_dir():
        raise TextsiftError(f"{path}: is a folder, not a file; pass a file name to {flag}")
    problem = _cannot_write(path.parent)
    if problem:
        raise TextsiftError(f"{path}: cannot write there ({problem}); pass another {flag}")
    return path


def _cannot_write(folder: Path) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return e.strerror or str(e)
    return None
