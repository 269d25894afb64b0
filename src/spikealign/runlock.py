"""One writer per run directory: an exclusive ``flock`` on ``<dir>/.lock``.

:func:`hold` takes the lock for a ``with`` block and writes ``"<pid> <host>"`` into the lock
file; the OS releases the lock when the process ends in any way (also SIGKILL), so a dead
holder never leaves a directory stuck. Without ``wait`` a second process fails at once with
:class:`RunBusyError`, whose message names the directory and the holder's pid. Holding is
re-entrant per thread (a sweep task holds the lock of its run and calls the family's run
function, which takes it again); another thread of the same process is refused like another
process. :func:`holder` tells who holds a directory without taking or creating anything.

On a read-only medium (or a lock file that cannot be opened for writing) an existing lock
file is locked through a read-only descriptor (``flock`` needs no write access), so a finished
run there is still recognised and refused; without a lock file, :class:`~spikealign.io.WriteError`
names it. The holder's line is informative only: when it cannot be written (a full disk), the
lock is held all the same.

On systems without ``fcntl`` (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

from .io import OutputExistsError, WriteError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_FILE = ".lock"

_held: dict[tuple[str, int], int] = {}  # (real path, thread id) -> depth
_guard = threading.Lock()


class RunBusyError(OutputExistsError):
    """Another process (or thread) works on the run directory."""


def _key(run_dir) -> tuple[str, int]:
    return os.path.realpath(run_dir), threading.get_ident()


def _owner_text(fd: int) -> str:
    """The holder's ``pid host`` line; waits briefly for a holder that has just locked."""
    for _ in range(5):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.05)
    return ""


def _describe(text: str) -> str:
    parts = text.split()
    if not parts:
        return "pid unknown"
    host = f" on {parts[1]}" if len(parts) > 1 and parts[1] != socket.gethostname() else ""
    return f"pid {parts[0]}{host}"


def busy_message(run_dir, owner: str) -> str:
    return (
        f"{run_dir} is in use by another process ({_describe(owner)}); wait for it to end "
        "or choose another --out"
    )


def _lock(fd: int, run_dir, wait: bool) -> None:
    """Exclusive ``flock`` of ``fd``. Without ``wait`` a few quick retries (a reader of
    :func:`holder` holds a shared lock for microseconds), then :class:`RunBusyError`."""
    if wait:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    for attempt in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == 4:
                raise RunBusyError(busy_message(run_dir, _owner_text(fd))) from None
            time.sleep(0.02)


@contextlib.contextmanager
def hold(run_dir, *, wait: bool = False):
    """Hold the exclusive lock of ``run_dir`` (an existing directory) for the block.

    ``wait=False``: raise :class:`RunBusyError` at once when somebody else holds it;
    ``wait=True``: block until it is free."""
    key = _key(run_dir)
    with _guard:
        mine = key in _held
        if mine:
            _held[key] += 1
    if mine or fcntl is None:
        try:
            yield
        finally:
            if mine:
                with _guard:
                    _held[key] -= 1
        return
    path = Path(run_dir) / LOCK_FILE
    fd, writable = _open_lock_file(path)
    try:
        try:
            _lock(fd, run_dir, wait)
        except RunBusyError:
            raise
        except OSError as exc:  # e.g. NFS refusing an exclusive lock on a read-only descriptor
            raise WriteError.of(exc, path, "lock") from exc
        if writable:
            _best_effort(
                lambda: (
                    os.ftruncate(fd, 0),
                    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0),
                )
            )
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[key]
            if writable:  # before unlocking: never erases the next holder's line
                _best_effort(lambda: os.ftruncate(fd, 0))
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock_file(path: Path) -> tuple[int, bool]:
    """``(fd, writable)`` of the lock file, created if missing; read-only where it cannot be
    opened for writing but exists (module docstring); else :class:`WriteError`."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644), True
    except OSError as exc:
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC), False
        except OSError:
            raise WriteError.of(exc, path) from exc


def _best_effort(write) -> None:
    """The holder's line: a full disk or a failing medium must not cost the lock."""
    try:
        write()
    except OSError:
        pass


def holder(run_dir) -> str | None:
    """``"pid host"`` (possibly ``""``) of whoever else holds the lock of ``run_dir``, or None
    when it is free, held by this thread, or has no lock file. Creates nothing."""
    if fcntl is None or _key(run_dir) in _held:
        return None
    path = Path(run_dir) / LOCK_FILE
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:  # a read-only copy or medium
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:  # shared: readers do not disturb each other
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner_text(fd)
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
