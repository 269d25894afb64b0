"""Atomic result files and run directories.

Every result file is written to a temporary file in the target directory and moved into place
with :func:`os.replace`, so a reader (or a resumed run) sees either the old file or the complete
new one, never a partial file. A write that fails (disk full, read-only medium, quota, I/O
error) raises :class:`WriteError`, one line naming the file and the OS's reason, after removing
the temporary file: the old file is left as it was.

A run directory carries ``status.json`` with ``{"state": "running" | "done" | "failed" |
"interrupted", ...}``; :mod:`spikealign.rundir` owns run directories (lock, checksums, whether
a run is finished) and :mod:`spikealign.runlock` their lock.
"""

from __future__ import annotations

import errno
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


#: errors that only a write can cause (the others, e.g. EACCES or EIO, also come from reads)
WRITE_ERRNOS = frozenset(
    getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EROFS", "EFBIG") if hasattr(errno, n)
)


class WriteError(OSError):
    """Writing ``filename`` failed (disk full, read-only medium, quota, permissions, I/O error):
    ``str()`` is one line, ``cannot write PATH: REASON`` (``action`` replaces ``write``, e.g.
    ``create directory``). ``errno`` and ``strerror`` are the OS's."""

    def __init__(self, errno_: int | None, strerror: str, filename, action: str = "write"):
        super().__init__(errno_, strerror, str(filename))
        self.action = action

    @classmethod
    def of(cls, exc: OSError, path, action: str = "write") -> WriteError:
        return cls(exc.errno, exc.strerror or str(exc) or type(exc).__name__, path, action)

    def __reduce__(self):  # pickled with its action (Dask returns exceptions from workers)
        return type(self), (self.errno, self.strerror, self.filename, self.action)

    def __str__(self) -> str:
        return f"cannot {self.action} {self.filename}: {self.strerror}"


def describe_os_error(exc: OSError) -> str:
    """One line for any ``OSError``: :class:`WriteError` as it is, else the file(s) it names
    and the OS's reason (``cannot write PATH: REASON`` for the errors only writes cause)."""
    if isinstance(exc, WriteError):
        return str(exc)
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return reason
    where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    if exc.errno in WRITE_ERRNOS:
        return f"cannot write {where}: {reason}"
    return f"{where}: {reason}"


def make_dirs(path) -> Path:
    """``mkdir -p path``; :class:`WriteError` naming the directory that could not be created
    (a read-only medium, a full disk, a file in the way)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError.of(exc, exc.filename or path, "create directory") from exc
    return path


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
    ``path``. If anything raises (e.g. a failed checksum in ``write``, a full disk), the
    temporary file is removed and ``path`` is left as it was. An ``OSError`` of the writing
    itself (creating the folder or the temporary file, writing, fsync, rename) becomes
    :class:`WriteError` naming ``path``; other exceptions of ``write`` pass unchanged."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        raise WriteError.of(exc, path) from exc
    try:
        with os.fdopen(fd, mode) as fh:
            # mkstemp creates the file private (0600); give it the mode a plain open() would
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:  # already gone (or the medium went read-only: nothing more to do)
            pass
        if (
            isinstance(exc, OSError)
            and not isinstance(exc, WriteError)
            and exc.filename in (None, tmp, str(path))
        ):
            raise WriteError.of(exc, path) from exc
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


# --- Neo export --------------------------------------------------------------------------------

NEO_HINT = "spikealign.io.to_neo needs neo: pip install 'spikealign[neo]'"


class NeoMissingError(ImportError):
    """``neo`` is not installed; the message says how to install the ``neo`` extra."""


def _require_neo():
    """Import and return ``neo`` (and ``quantities``), or raise :class:`NeoMissingError`."""
    try:
        import neo
        import quantities
    except ImportError as err:
        raise NeoMissingError(f"{NEO_HINT} ({err})") from None
    return neo, quantities


def _check_dt(dt_ms) -> float:
    try:
        dt = float(dt_ms)
    except (TypeError, ValueError):
        raise ValueError(f"dt_ms must be a number of milliseconds (got {dt_ms!r})") from None
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt_ms must be finite and > 0 (got {dt_ms!r})")
    return dt


def _check_record(spikes, n_neurons) -> np.ndarray:
    """``spikes`` as an int64 ``(n, 2)`` array with times >= 0 and ids in [0, n_neurons)."""
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int | np.integer) or n_neurons < 1:
        raise ValueError(f"n_neurons must be an integer >= 1 (got {n_neurons!r})")
    rec = np.asarray(spikes)
    if rec.ndim != 2 or rec.shape[1] != 2:
        raise ValueError(
            f"spikes must be an (n, 2) array of (time, neuron) rows (got shape {rec.shape})"
        )
    if rec.size and (rec.dtype == bool or not np.issubdtype(rec.dtype, np.integer)):
        raise ValueError(
            f"spikes must hold integers: (time step, neuron id) (got dtype {rec.dtype})"
        )
    rec = rec.astype(np.int64, copy=False)
    if rec.size and rec[:, 0].min() < 0:
        raise ValueError(f"spike times must be >= 0 steps (got {rec[:, 0].min()})")
    if rec.size and not (0 <= rec[:, 1].min() and rec[:, 1].max() < n_neurons):
        bad = rec[:, 1][(rec[:, 1] < 0) | (rec[:, 1] >= n_neurons)][0]
        raise ValueError(f"neuron ids must be 0-based and < n_neurons={n_neurons} (got {bad})")
    return rec


def to_neo(
    spikes,
    n_neurons: int,
    dt_ms: float,
    *,
    n_steps: int | None = None,
    t_stop_ms: float | None = None,
) -> list:
    """A spike record as one ``neo.SpikeTrain`` per neuron, in milliseconds.

    A spike at step ``t`` lies at ``t * dt_ms`` ms. Every train starts at ``t_start = 0`` ms
    and ends at ``t_stop``, which is, in this order of precedence:

    * ``n_steps * dt_ms`` if ``n_steps`` (the simulated duration in steps) is given: the
      record then covers steps ``0 .. n_steps - 1``, so every spike lies before ``t_stop``;
    * ``t_stop_ms`` if given (it must lie after the last spike);
    * otherwise ``(last step + 1) * dt_ms``, the end of the last step that holds a spike. Pass
      ``n_steps`` where you know it: rates computed against this default are biased upwards
      by the silent steps after the last spike that it leaves out.

    Trains carry ``sampling_rate = 1 / dt_ms`` (per ms), ``name = "neuron i"`` and the annotation
    ``neuron=i``; neuron ``i`` is item ``i`` of the list (neurons without spikes get an empty
    train). Needs the optional ``neo`` extra (``pip install 'spikealign[neo]'``); neo is
    imported only when this function is called.

    Parameters
    ----------
    spikes : array_like of int, shape (n, 2)
        Spike record: ``(time step, neuron id)`` rows, ids 0-based (:mod:`spikealign.spikes`).
        Rows need not be sorted.
    n_neurons : int
        Number of neurons (ids must be below it); the length of the returned list.
    dt_ms : float
        Duration of one simulation step in milliseconds (finite, > 0).
    n_steps : int, optional
        Simulated duration in steps; sets ``t_stop = n_steps * dt_ms``.
    t_stop_ms : float, optional
        End of the trains in ms (if ``n_steps`` is not given).

    Returns
    -------
    list of neo.SpikeTrain
        One train per neuron, times in ms.

    Raises
    ------
    ValueError
        A record that is not ``(n, 2)`` integers, a negative time, an id outside
        ``[0, n_neurons)``, a ``dt_ms`` that is not finite and positive, a ``t_stop`` not after
        the last spike, or both ``n_steps`` and ``t_stop_ms``.
    NeoMissingError
        neo is not installed (an ``ImportError``).

    Examples
    --------
    >>> import numpy as np
    >>> from spikealign.io import to_neo
    >>> trains = to_neo(np.array([[0, 1], [3, 0], [7, 1]]), 2, dt_ms=0.5, n_steps=10)
    >>> [t.times.magnitude.tolist() for t in trains]
    [[1.5], [0.0, 3.5]]
    >>> float(trains[0].t_stop), str(trains[0].units)
    (5.0, '1.0 ms')
    """
    rec = _check_record(spikes, n_neurons)
    dt = _check_dt(dt_ms)
    last = int(rec[:, 0].max()) if rec.size else None
    if n_steps is not None and t_stop_ms is not None:
        raise ValueError("give n_steps or t_stop_ms, not both")
    if n_steps is not None:
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
            raise ValueError(f"n_steps must be an integer >= 1 (got {n_steps!r})")
        if last is not None and last >= n_steps:
            raise ValueError(f"n_steps={n_steps}: the record has a spike at step {last}")
        t_stop = int(n_steps) * dt
    elif t_stop_ms is not None:
        try:
            t_stop = float(t_stop_ms)
        except (TypeError, ValueError):
            raise ValueError(f"t_stop_ms must be a number (got {t_stop_ms!r})") from None
        if not np.isfinite(t_stop) or t_stop <= (last * dt if last is not None else 0.0):
            raise ValueError(
                f"t_stop_ms must be finite and after the last spike, at "
                f"{(last or 0) * dt:g} ms (got {t_stop_ms!r})"
            )
    elif last is not None:
        t_stop = (last + 1) * dt
    else:
        raise ValueError("an empty record has no last spike: pass n_steps or t_stop_ms")
    neo, pq = _require_neo()
    order = np.lexsort((rec[:, 0], rec[:, 1]))
    ids, times = rec[order, 1], rec[order, 0]
    bounds = np.searchsorted(ids, np.arange(n_neurons + 1))
    return [
        neo.SpikeTrain(
            times[bounds[i] : bounds[i + 1]] * dt,
            units="ms",
            t_start=0.0,
            t_stop=t_stop,
            sampling_rate=(1.0 / dt) / pq.ms,
            name=f"neuron {i}",
            neuron=i,
        )
        for i in range(n_neurons)
    ]


def from_neo(trains, dt_ms: float) -> np.ndarray:
    """Spike trains back to a spike record: train ``i`` is neuron ``i``.

    Each spike time (any time unit) is converted to ms and divided by ``dt_ms``; the quotient
    must be a whole step (within 1e-6 of a step), as for every train made by :func:`to_neo`.

    Parameters
    ----------
    trains : sequence of neo.SpikeTrain
        One train per neuron, in neuron order.
    dt_ms : float
        Duration of one step in milliseconds (finite, > 0).

    Returns
    -------
    numpy.ndarray of int64, shape (n, 2)
        The spike record, ``(time step, neuron id)`` rows sorted by time, then id.
    """
    from .spikes import as_record

    dt = _check_dt(dt_ms)
    times, ids = [], []
    for i, train in enumerate(trains):
        steps = np.asarray(train.times.rescale("ms").magnitude, dtype=float) / dt
        whole = np.rint(steps)
        if steps.size and np.max(np.abs(steps - whole)) > 1e-6:
            raise ValueError(f"train {i}: spike times are not whole steps of dt_ms={dt:g} ms")
        times.append(whole.astype(np.int64))
        ids.append(np.full(len(whole), i, dtype=np.int64))
    if not times:
        return np.zeros((0, 2), dtype=np.int64)
    return as_record(np.concatenate(times), np.concatenate(ids))
