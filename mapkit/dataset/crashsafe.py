"""Crash safety of a dataset folder's replacement (``write_dataset``'s last step).

A build writes into ``.NAME.partial-PID`` beside the target, then exchanges it with the
target in one step where the system can (Linux ``renameat2``), leaving the old folder in
``.NAME.partial-PID`` to delete. Elsewhere it moves the old folder to ``.NAME.old-PID``,
the new one to ``NAME``, and deletes the old one. What a crash can leave, and what the
next build does about it (``recover``):

- killed while writing, or after the exchange: a stale ``.NAME.partial-PID`` -> deleted
  (as is ``.NAME.maps-PID``, where a build stages rendered maps);
- killed between the two renames: no ``NAME``, the good copy in ``.NAME.old-PID`` ->
  renamed back to ``NAME``, so the target again holds the old folder;
- killed after them: a stale ``.NAME.old-PID`` -> deleted.

Only folders of that exact form whose process is gone are touched. SIGTERM is turned
into ``BuildInterrupted`` (exit 143) while the folder is written, so it cleans up like Ctrl-C.

Test hook: ``MAPKIT_TEST_CRASH=before-swap|after-exchange|between-renames`` SIGKILLs the
process at that point (``between-renames`` takes the two-rename path);
``MAPKIT_TEST_CRASH=term-before-swap`` sends it SIGTERM instead.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mapkit.errors import MapkitError


class BuildInterrupted(MapkitError):
    """SIGTERM arrived while a dataset folder was being written; the partial folder is
    removed and the old one kept, as for Ctrl-C. Exit 143, the shell's code for SIGTERM."""

    exit_code = 143


def staging(out: Path, kind: str) -> Path:
    """``.NAME.partial-PID`` or ``.NAME.old-PID`` beside ``out``."""
    return out.parent / f".{out.name}.{kind}-{os.getpid()}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours are in use (the build stages maps before it writes the folder)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(out: Path) -> Iterator[tuple[str, Path]]:
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(partial|old|maps)-(\d+)$")
    if not out.parent.is_dir():
        return
    for path in sorted(out.parent.iterdir()):
        m = pattern.match(path.name)
        if m and path.is_dir() and not path.is_symlink() and not _alive(int(m.group(2))):
            yield m.group(1), path


def recover(out: str | Path, warn: Callable[[str], None] | None = None) -> None:
    """Undo what a build of ``out`` that died left behind (see the module docstring)."""
    out = Path(out)
    say = warn or (lambda message: None)
    found = list(_leftovers(out))
    if not out.exists():
        good = [p for kind, p in found if kind == "old" and (p / "manifest.json").is_file()]
        if good:
            keep = max(good, key=lambda p: p.stat().st_mtime)
            keep.rename(out)
            say(f"restored {out} from {keep.name}, left by a build that stopped between its two renames")
            found = [(k, p) for k, p in found if p != keep]
    for _, path in found:
        shutil.rmtree(path, ignore_errors=True)
        say(f"removed {path.name}, left by a build that stopped")


def crash_hook(point: str) -> None:
    """Die here when MAPKIT_TEST_CRASH names ``point`` (tests of crash safety only)."""
    wanted = os.environ.get("MAPKIT_TEST_CRASH")
    if wanted == point:
        os.kill(os.getpid(), signal.SIGKILL)
    elif wanted == f"term-{point}":
        os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises BuildInterrupted (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise BuildInterrupted("terminated (SIGTERM) while writing the dataset folder: nothing was replaced, "
                               "the partial folder was removed")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the
    system or file system cannot, and the caller falls back to two renames."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``tmp``. Where the system can, in one atomic
    exchange (the old folder lands in ``tmp`` and is deleted); elsewhere old ->
    ``.old-PID``, tmp -> out, delete old, with ``recover`` for a death in between."""
    if not out.exists():
        crash_hook("before-swap")
        tmp.rename(out)
        return
    crash_hook("before-swap")
    # the between-renames hook tests the fallback, so it skips the exchange
    if os.environ.get("MAPKIT_TEST_CRASH") != "between-renames" and _exchange(tmp, out):
        crash_hook("after-exchange")
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = staging(out, "old")
    shutil.rmtree(old, ignore_errors=True)
    out.rename(old)
    try:
        crash_hook("between-renames")
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)

