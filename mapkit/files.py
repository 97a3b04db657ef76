"""The package's one atomic file write and one file hash.

Atomic writes leave the permissions a plain ``open(path, "w")`` gives.

``tempfile.mkstemp`` creates its file mode 0600 so that nobody else can read it while it
is being written; renamed into place as is, a card or a PNG would stay unreadable to
others on a shared server or a Docker volume. ``atomic_write`` writes to such a
temporary sibling, then sets the mode the umask allows (0644 under the usual 022)
before renaming it, so a reader sees either the old file or the whole new one.

Example::

    >>> atomic_write("out/card.md", b"# card\\n")                                   # doctest: +SKIP
    >>> atomic_write("out/map.png", lambda f: image.save(f, format="PNG"))          # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_lock = threading.Lock()


def default_mode() -> int:
    """The mode a new regular file gets from ``open``: 0666 less the process umask."""
    with _lock:  # the umask can only be read by setting it; restore it at once
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | Path, content: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write ``content`` (bytes, or a function given the open binary file) to ``path``
    atomically, with the umask's default permissions. Returns ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write`` of UTF-8 text."""
    return atomic_write(path, text.encode("utf-8"))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (maps can be hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
