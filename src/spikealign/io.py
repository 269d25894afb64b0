"""Atomic result files and run directories.

Every result file is written to a temporary file in the target directory and moved into place
with :func:`os.replace`, so a reader (or a resumed run) sees either the old file or the complete
new one, never a partial file.

A run directory carries ``status.json`` with ``{"state": "running" | "done" | "failed" |
"interrupted", ...}``; :mod:`spikealign.rundir` owns run directories (lock, checksums, whether
a run is finished) and :mod:`spikealign.runlock` their lock.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

STATUS_FILE = "status.json"


class OutputExistsError(FileExistsError):
    """A finished run would be overwritten (or another process works on the directory)."""


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (``os.umask`` sets it,
    which races with other threads, e.g. Dask workers)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path, write: Callable[[Any], None], mode: str = "wb", suffix: str = ".tmp"):
    """Call ``write(fh)`` on a temporary file next to ``path``, then fsync and rename it onto
    ``path``. If ``write`` raises (e.g. a failed checksum), the temporary file is removed and
    ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path, data: bytes):
    atomic_write(path, lambda fh: fh.write(data), "wb")


def atomic_write_text(path, text: str):
    atomic_write(path, lambda fh: fh.write(text), "w")


def atomic_write_json(path, obj):
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, allow_nan=True) + "\n")


def atomic_save_npz(path, compressed: bool = True, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def atomic_savefig(fig, path, **kwargs):
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip("."), **kwargs)
    atomic_write_bytes(path, buf.getvalue())


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def read_json(path) -> dict | None:
    """The JSON object in ``path``, or None if it is missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def read_status(run_dir) -> dict | None:
    return read_json(Path(run_dir) / STATUS_FILE)


def write_status(run_dir, state: str, **info):
    atomic_write_json(Path(run_dir) / STATUS_FILE, {"state": state, **info})
