"""One task per run: idempotent, locked, with its traceback recorded on failure.

:func:`execute` is what a Dask worker runs. It takes the run's lock
(:func:`spikealign.runlock.hold` on ``<run>/.lock``, waiting: a second process working on the
same run, e.g. a task duplicated after a lost connection or an orphan of a killed client, waits
for the first), skips a finished run, and otherwise calls the kind's runner. Whatever the
runner raises is recorded (``status.json`` ``failed`` with the error, ``error.txt`` with the
traceback, a line in ``log.txt``) and returned, never raised, so one failing run does not stop
the sweep. Runs stopped without a chance to record anything (a killed worker or client) keep
``status.json`` ``running`` with a free lock, i.e. interrupted; the next sweep reruns them,
and SSN runs resume from their last checkpoint. A run whose runner recorded no checksums gets
them from the wrapper (every file it wrote).

A write that fails (a full disk, a read-only medium) fails the run with one line naming the file
(:class:`spikealign.io.WriteError`); its ``failed`` status, traceback and log line are each
recorded where the medium still allows it, and nothing is written into a finished run: its
files are never touched.

Run states (:func:`run_state`, from :func:`spikealign.rundir.inspect`): ``done`` (result files
present and matching their checksums), ``failed`` (also a damaged result, named by its path),
``running`` (another process holds the lock), ``interrupted`` (stopped before the end, nobody
holds the lock), ``missing`` (never started) and ``conflict`` (the directory holds a run of
another config).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import rundir, runlock
from ..io import (
    WriteError,
    atomic_write_json,
    atomic_write_text,
    describe_os_error,
    make_dirs,
    read_json,
    read_status,
    write_status,
)
from . import kinds
from .layout import MANIFEST, SweepConflict
from .spec import RunSpec

SPEC_FILE = "spec.json"
LOG_FILE = "log.txt"
ERROR_FILE = "error.txt"
LOCK_FILE = runlock.LOCK_FILE


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def log(run_dir: Path, text: str) -> None:
    """Append a line to the run's ``log.txt``; :class:`~spikealign.io.WriteError` naming it
    when that fails."""
    path = Path(run_dir) / LOG_FILE
    try:
        with open(path, "a") as fh:
            fh.write(f"{_now()} {text}\n")
    except OSError as exc:
        raise WriteError.of(exc, path) from exc


def _try(record, *args, **kw) -> None:
    """Record something about a failed run if the medium allows it (the disk that failed the
    run may still be full): the result says ``failed`` either way."""
    try:
        record(*args, **kw)
    except OSError:
        pass


@contextlib.contextmanager
def run_lock(run_dir: Path, wait: bool = True):
    """Exclusive lock of a run directory; yields False when ``wait=False`` and it is taken."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(runlock.hold(run_dir, wait=wait))
        except runlock.RunBusyError:
            yield False
            return
        yield True


def read_spec_hash(run_dir: Path) -> str | None:
    return (read_json(Path(run_dir) / SPEC_FILE) or {}).get("config_hash")


def run_info(
    run_dir: Path, config_hash: str | None = None, kind: str | None = None
) -> rundir.RunInfo:
    """:func:`spikealign.rundir.inspect` of a sweep run; state ``conflict`` when the
    directory's ``spec.json`` names another config than ``config_hash``, or when it has no
    ``spec.json`` (the sweep writes one before it starts a run) but holds a finished run whose
    checksums record another config (e.g. ``spikealign bm train --out`` into a part)."""
    run_dir = Path(run_dir)
    have = read_spec_hash(run_dir) if config_hash is not None else None
    if have is not None and have != config_hash:
        return rundir.RunInfo("conflict")
    info = rundir.inspect(run_dir, rundir.layout_of(kind))
    if (
        config_hash is not None
        and have is None
        and info.record is not None
        and info.config_hash not in (None, config_hash)
    ):
        return rundir.RunInfo("conflict")
    return info


def run_state(run_dir: Path, config_hash: str | None = None, kind: str | None = None) -> str:
    """State of one run directory (module docstring); ``config_hash`` detects conflicts."""
    state = run_info(run_dir, config_hash, kind).state
    return "failed" if state == "damaged" else state


@dataclass
class Plan:
    """The runs of a sweep split by what has to happen to them."""

    done: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    states: dict = field(default_factory=dict)  # state -> count
    damaged: dict = field(default_factory=dict)  # rel_dir of a damaged run -> what is damaged

    def warnings(self, out: Path, specs: list[RunSpec]) -> list[str]:
        """One line per damaged run of ``specs`` (those about to be rerun), naming its
        damaged files: ``RUN_DIR: damaged result: FILE (checksum mismatch); rerunning``."""
        return [
            f"{Path(out) / s.rel_dir}: {self.damaged[s.rel_dir]}; rerunning"
            for s in specs
            if s.rel_dir in self.damaged
        ]


def plan(specs: list[RunSpec], out: Path) -> Plan:
    """Classify runs; raise :class:`SweepConflict` if a directory holds another config.
    Damaged runs count as failed; :attr:`Plan.damaged` names their damaged files."""
    p = Plan()
    for spec in specs:
        info = run_info(Path(out) / spec.rel_dir, spec.hash, spec.kind)
        if info.state == "conflict":
            raise SweepConflict(
                f"{Path(out) / spec.rel_dir} holds a run of another config; use another --out, "
                "or delete that directory to start it again"
            )
        state = "failed" if info.state == "damaged" else info.state
        if info.state == "damaged":
            p.damaged[spec.rel_dir] = info.error()
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
        return {
            **base,
            "state": "failed",
            "error": f"{out} is not visible on worker {socket.gethostname()}: the sweep directory "
            "must be on a filesystem shared by the client and all workers",
        }
    try:
        make_dirs(run_dir)
        with runlock.hold(run_dir, wait=True):
            return _execute_locked(s, run_dir, base)
    except OSError as exc:  # no run directory or lock (a read-only medium): nothing written
        error = f"{type(exc).__name__}: {describe_os_error(exc)}".splitlines()[0][:500]
        return {**base, "state": "failed", "error": error}


def _execute_locked(s: RunSpec, run_dir: Path, base: dict) -> dict:
    """:func:`execute` once the run's lock is held."""
    info = run_info(run_dir, s.hash, s.kind)
    if info.state == "done":
        return {**base, "state": "skipped"}
    if info.state == "conflict":
        return {**base, "state": "failed", "error": f"{run_dir} holds another config"}
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if info.state == "damaged":  # no longer a finished run; the runner starts it again
            write_status(run_dir, "failed", error=info.error()[:500], finished=time.time())
            rundir.remove(run_dir / rundir.CHECKSUM_FILE)
        atomic_write_json(run_dir / SPEC_FILE, s.to_dict())
        worker = _worker_address()
        log(run_dir, f"start ({info.state}) on {_host()}{' worker ' + worker if worker else ''}")
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            metrics = kinds.resolve(s.runner)(s.config, run_dir, label=s.label)
        except Exception as exc:  # recorded where possible, the sweep goes on
            dt = time.perf_counter() - t0
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            _try(atomic_write_text, run_dir / ERROR_FILE, traceback.format_exc())
            _try(
                write_status,
                run_dir,
                "failed",
                error=error,
                traceback=ERROR_FILE,
                host=_host(),
                finished=time.time(),
            )
            _try(log, run_dir, f"failed after {dt:.1f} s: {error}")
            return {**base, "state": "failed", "error": error, "runtime_s": dt}
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if not (run_dir / rundir.CHECKSUM_FILE).exists():
            rundir.record_checksums(
                run_dir, rundir.result_files(run_dir), config_hash=s.hash, family=s.kind
            )
        status = read_status(run_dir) or {}
        if status.get("state") == "done":
            status.pop("state")
            write_status(run_dir, "done", **{**status, "wall_s": dt, "cpu_s": cpu})
        else:
            write_status(run_dir, "done", finished=time.time(), wall_s=dt, cpu_s=cpu)
        rundir.remove(run_dir / ERROR_FILE)
        log(run_dir, f"done in {dt:.1f} s (CPU {cpu:.1f} s)")
        small = {k: v for k, v in (metrics or {}).items() if isinstance(v, int | float | str)}
        return {**base, "state": "done", "runtime_s": dt, "cpu_s": cpu, "metrics": small}
    except OSError as exc:  # its bookkeeping cannot be written: a full disk, read-only, ...
        return _write_failed(run_dir, s, base, exc, time.perf_counter() - t0)


def _write_failed(run_dir: Path, s: RunSpec, base: dict, exc: OSError, dt: float) -> dict:
    """The result of a started run whose own bookkeeping could not be written (lock held). A
    run found finished (results and checksums written, only a later status or log line
    failed) stays done; any other is recorded ``failed`` where the medium allows it."""
    error = f"{type(exc).__name__}: {describe_os_error(exc)}".splitlines()[0][:500]
    try:
        finished = run_info(run_dir, s.hash, s.kind).state == "done"
    except OSError:  # not even readable
        finished = False
    if finished:
        _try(log, run_dir, f"done; then {error}")
        return {**base, "state": "done", "runtime_s": dt, "warning": error}
    _try(write_status, run_dir, "failed", error=error, host=_host(), finished=time.time())
    _try(log, run_dir, f"failed: {error}")
    return {**base, "state": "failed", "error": error, "runtime_s": dt}


def record_lost(spec: RunSpec, out: Path, error: str) -> None:
    """Mark a run failed from the client (its task was lost with its workers too often)."""
    run_dir = Path(out) / spec.rel_dir
    try:
        make_dirs(run_dir)
        with run_lock(run_dir, wait=False) as got:
            if not got:  # somebody still works on it
                return
            if run_state(run_dir, kind=spec.kind) == "done":
                return
            write_status(run_dir, "failed", error=error, finished=time.time())
            log(run_dir, f"failed (client): {error}")
    except OSError:  # cannot be recorded (disk full, read-only); the client reports it failed
        pass


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None
