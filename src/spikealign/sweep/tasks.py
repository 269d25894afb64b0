"""One task per run: idempotent, locked, with its traceback recorded on failure.

:func:`execute` is what a Dask worker runs. It takes the run's lock (``flock`` on
``<run>/.lock``; a second process working on the same run, e.g. a task duplicated after a lost
connection or an orphan of a killed client, waits for the first), skips a finished run, and
otherwise calls the kind's runner. Whatever the runner raises is recorded (``status.json``
``failed`` with the error, ``error.txt`` with the traceback, a line in ``log.txt``) and
returned, never raised, so one failing run does not stop the sweep. Runs stopped without a
chance to record anything (a killed worker or client) keep ``status.json`` ``running``; the
next sweep reruns them, and SSN runs resume from their last checkpoint.

Run states (:func:`run_state`): ``done``, ``failed``, ``running`` (status running and the lock
is held), ``unfinished`` (status running or interrupted, nobody holds the lock), ``missing``
(never started) and ``conflict`` (the directory holds a run of another config).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write_json, atomic_write_text, read_json, read_status, write_status
from . import kinds
from .layout import MANIFEST, SweepConflict
from .spec import RunSpec

try:  # POSIX only; without it runs are not protected against duplicate execution
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

SPEC_FILE = "spec.json"
LOG_FILE = "log.txt"
ERROR_FILE = "error.txt"
LOCK_FILE = ".lock"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def log(run_dir: Path, text: str) -> None:
    with open(Path(run_dir) / LOG_FILE, "a") as fh:
        fh.write(f"{_now()} {text}\n")


@contextlib.contextmanager
def run_lock(run_dir: Path, wait: bool = True):
    """Exclusive lock of a run directory; yields False when ``wait=False`` and it is taken."""
    if fcntl is None:  # pragma: no cover
        yield True
        return
    fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_spec_hash(run_dir: Path) -> str | None:
    return (read_json(Path(run_dir) / SPEC_FILE) or {}).get("config_hash")


def run_state(run_dir: Path, config_hash: str | None = None) -> str:
    """State of one run directory (module docstring); ``config_hash`` detects conflicts."""
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    if status is None:
        return "missing"
    if config_hash is not None:
        have = read_spec_hash(run_dir)
        if have is not None and have != config_hash:
            return "conflict"
    state = status.get("state")
    if state in ("done", "failed"):
        return state
    if (run_dir / LOCK_FILE).exists():
        with run_lock(run_dir, wait=False) as got:
            if not got:
                return "running"
    return "unfinished"


@dataclass
class Plan:
    """The runs of a sweep split by what has to happen to them."""

    done: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    states: dict = field(default_factory=dict)  # state -> count


def plan(specs: list[RunSpec], out: Path) -> Plan:
    """Classify runs; raise :class:`SweepConflict` if a directory holds another config."""
    p = Plan()
    for spec in specs:
        state = run_state(Path(out) / spec.rel_dir, spec.hash)
        if state == "conflict":
            raise SweepConflict(
                f"{Path(out) / spec.rel_dir} holds a run of another config; use another --out, "
                "or delete that directory to start it again")
        p.states[state] = p.states.get(state, 0) + 1
        (p.done if state == "done" else p.pending).append(spec)
    return p


def execute(spec: dict, out: str) -> dict:
    """Run one spec into ``out/<part>/run.NNNN`` (called on a worker); never raises."""
    s = RunSpec.from_dict(spec)
    out = Path(out)
    run_dir = out / s.rel_dir
    base = {"part": s.part, "index": s.index, "host": socket.gethostname()}
    if not (out / MANIFEST).is_file():
        return {**base, "state": "failed", "error":
                f"{out} is not visible on worker {socket.gethostname()}: the sweep directory "
                "must be on a filesystem shared by the client and all workers"}
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        state = run_state(run_dir, s.hash)
        if state == "done":
            return {**base, "state": "skipped"}
        if state == "conflict":
            return {**base, "state": "failed", "error": f"{run_dir} holds another config"}
        atomic_write_json(run_dir / SPEC_FILE, s.to_dict())
        worker = _worker_address()
        log(run_dir, f"start ({state}) on {_host()}{' worker ' + worker if worker else ''}")
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            metrics = kinds.resolve(s.runner)(s.config, run_dir, label=s.label)
        except Exception as exc:  # recorded, the sweep goes on
            dt = time.perf_counter() - t0
            tb = traceback.format_exc()
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            atomic_write_text(run_dir / ERROR_FILE, tb)
            write_status(run_dir, "failed", error=error, traceback=ERROR_FILE, host=_host(),
                         finished=time.time())
            log(run_dir, f"failed after {dt:.1f} s: {error}")
            return {**base, "state": "failed", "error": error, "runtime_s": dt}
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        status = read_status(run_dir) or {}
        if status.get("state") == "done":
            status.pop("state")
            write_status(run_dir, "done", **{**status, "wall_s": dt, "cpu_s": cpu})
        else:
            write_status(run_dir, "done", finished=time.time(), wall_s=dt, cpu_s=cpu)
        (run_dir / ERROR_FILE).unlink(missing_ok=True)
        log(run_dir, f"done in {dt:.1f} s (CPU {cpu:.1f} s)")
        small = {k: v for k, v in (metrics or {}).items() if isinstance(v, int | float | str)}
        return {**base, "state": "done", "runtime_s": dt, "cpu_s": cpu, "metrics": small}


def record_lost(spec: RunSpec, out: Path, error: str) -> None:
    """Mark a run failed from the client (its task was lost with its workers too often)."""
    run_dir = Path(out) / spec.rel_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir, wait=False) as got:
        if not got:  # somebody still works on it
            return
        if run_state(run_dir) == "done":
            return
        write_status(run_dir, "failed", error=error, finished=time.time())
        log(run_dir, f"failed (client): {error}")


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None
