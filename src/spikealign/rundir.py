"""Run directories of every family: who may write, whether a run is finished, checksums.

One directory belongs to one run. The rules, used by SSN, microcircuit and deep runs and by
sweeps alike:

* :func:`check_out`: an ``--out`` that is a file or lies under a file is refused
  (:class:`OutDirError`, one line) before anything is written.
* :func:`claim` (a ``with`` block around a run): refuses a folder holding files spikealign
  did not create (:func:`foreign_entries`), takes the directory's lock for the whole run
  (:mod:`spikealign.runlock`: a second process fails at once naming the holder's pid) and
  refuses a finished run unless ``overwrite``. If the block raises after
  :meth:`Run.begin`, ``status.json`` becomes ``interrupted`` (Ctrl-C) or ``failed``.
* :meth:`Run.finish` records the SHA-256 of every result file in ``checksums.json`` (with the
  config hash; :mod:`spikealign.checksums`), then writes ``status.json`` ``done``.
* :func:`inspect` decides the state from the result files, never from ``status.json`` alone:
  a run with ``checksums.json`` is ``done`` when every recorded file matches and ``damaged``
  otherwise. A run of an earlier version (no checksums) is ``done`` when its status says so
  (or the status is missing or unreadable and no checkpoint is left) and its result files are
  present and readable, else ``damaged``. ``running`` means another process holds the lock;
  a status ``running`` whose lock is free is ``interrupted``.

A write that fails (disk full, read-only medium) raises :class:`~spikealign.io.WriteError`
naming the file. The ``failed`` status of a run stopped that way is recorded when the medium
still allows it; otherwise the status stays ``running`` with a free lock, i.e.
``interrupted``: either way the run's checkpoint is kept and a rerun resumes from it. Nothing
is written into a finished run's directory before it is refused.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import runlock
from .checksums import (  # noqa: F401 - file_digest re-exported: one module for run dirs
    CHECKSUM_FILE,
    file_digest,
    record_checksums,
    unreadable,
    verify,
)
from .io import STATUS_FILE, OutputExistsError, WriteError, make_dirs, read_status
from .io import write_status as _write_status

#: files of spikealign's bookkeeping that any run directory may hold (sweeps add the last three)
BOOKKEEPING = (STATUS_FILE, CHECKSUM_FILE, runlock.LOCK_FILE, "spec.json", "log.txt", "error.txt")
STATES = ("missing", "running", "done", "damaged", "failed", "interrupted")


class OutDirError(ValueError):
    """The output directory cannot be used (a file, under a file, or holding other files)."""


class RunDirWarning(UserWarning):
    """A run directory needed attention (damaged checkpoint or results): what was done."""


@dataclass(frozen=True)
class Layout:
    """The files one family writes into a run directory (names relative to it).

    ``results``: every finished run has them (the first is the main result); ``optional``:
    written too (config, figures) and checksummed; ``resume``: resume points of an unfinished
    run; ``dirs``: sub-directories it creates."""

    family: str
    results: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()

    def owns(self, name: str) -> bool:
        """Whether a top-level entry ``name`` may have been written by this family."""
        top = {n.split("/")[0] for n in self.results + self.optional + self.resume}
        return (
            name in top
            or name in self.dirs
            or name in BOOKKEEPING
            or _is_temporary(name)
            or not self.results
        )


LAYOUTS = {
    "ssn": Layout(
        "ssn",
        ("results.npz", "metrics.json"),
        ("config.yaml", "figure.png", "figure.pdf"),
        ("checkpoint.npz",),
    ),
    "microcircuit": Layout(
        "microcircuit", ("result.npz", "metrics.json"), ("config.yaml", "run.png")
    ),
    "deep": Layout(
        "deep", ("final_model.pt", "metrics.json"), ("config.yaml",), dirs=("checkpoints",)
    ),  # checkpoints/ stays after the run
    "symmetrize": Layout("symmetrize", ("metrics.json",), ("config.yaml",)),
    "bm": Layout(
        "bm",
        ("results.npz", "metrics.json"),
        ("config.yaml", "figure.png", "figure.pdf"),
        ("checkpoint.npz",),
    ),
    "bm_baselines": Layout("bm_baselines", ("baselines.json",), ("config.yaml",)),
}
#: runs of other kinds (sweep runners outside spikealign): any files, checked by suffix
GENERIC = Layout("generic")


def layout_of(kind: str | None) -> Layout:
    return LAYOUTS.get(kind or "", GENERIC)


def _is_temporary(name: str) -> bool:
    """A temporary file of :func:`spikealign.io.atomic_write` (left by a killed process)."""
    return name.startswith(".") and name.endswith(".tmp")


def warn(message: str) -> None:
    warnings.warn(message, RunDirWarning, stacklevel=3)


def remove(path) -> None:
    """Delete the file ``path`` if it exists (a missing one is not tried: a read-only medium
    refuses even that); :class:`~spikealign.io.WriteError` naming it when the medium refuses."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError.of(exc, path, "remove") from exc


# -- paths ----------------------------------------------------------------------------------


def check_out(path) -> Path:
    """``path`` as a Path if it can be a run directory; :class:`OutDirError` (naming what is
    wrong) if it is a file or lies under one. Writes nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutDirError(f"--out {path} is a file, not a directory")
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise OutDirError(f"--out {path} lies under {parent}, which is a file")
            break
    return path


def foreign_entries(run_dir, layout: Layout) -> list[str]:
    """Entries of an existing ``run_dir`` that spikealign did not create: all of them when the
    folder holds no ``status.json``, ``checksums.json``, ``.lock``, ``spec.json`` or main
    result (e.g. a folder with the user's own ``config.yaml``), else those the family does
    not write."""
    entries = sorted(p.name for p in Path(run_dir).iterdir())
    if not entries:
        return []
    marks = {STATUS_FILE, CHECKSUM_FILE, runlock.LOCK_FILE, "spec.json", *layout.results[:1]}
    if not marks.intersection(entries):
        return entries
    return [e for e in entries if not layout.owns(e)]


def _refuse_foreign(run_dir: Path, layout: Layout) -> None:
    other = foreign_entries(run_dir, layout)
    if other:
        shown = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        raise OutDirError(
            f"{run_dir} holds files spikealign did not create ({shown}); choose "
            "a new or empty directory for --out"
        )


# -- states ---------------------------------------------------------------------------------


@dataclass
class RunInfo:
    """What :func:`inspect` found; ``problems`` name the damaged files."""

    state: str
    problems: list[str] = field(default_factory=list)
    status: dict | None = None
    record: dict | None = None
    owner: str | None = None

    @property
    def config_hash(self) -> str | None:
        return (self.record or {}).get("config_hash") or (self.status or {}).get("config_hash")

    def error(self) -> str:
        """One line: the damaged files, or the recorded error."""
        if self.problems:
            return "damaged result: " + "; ".join(self.problems)
        return str((self.status or {}).get("error", ""))


def result_files(run_dir, layout: Layout = GENERIC) -> list[str]:
    """The family's result files present in ``run_dir``; for :data:`GENERIC`, every file but
    spikealign's bookkeeping and temporary files."""
    run_dir = Path(run_dir)
    if layout.results:
        return [n for n in layout.results + layout.optional if (run_dir / n).is_file()]
    return sorted(
        p.name
        for p in run_dir.iterdir()
        if p.is_file() and p.name not in BOOKKEEPING and not _is_temporary(p.name)
    )


def _legacy(run_dir: Path, layout: Layout, status: dict | None) -> tuple[str, list[str]]:
    """State of a run directory without checksums (an earlier version's or unfinished)."""
    state = (status or {}).get("state")
    present = result_files(run_dir, layout)
    complete = all((run_dir / n).is_file() for n in layout.results) and bool(present)
    resumable = any((run_dir / n).exists() for n in layout.resume)
    if state == "done" or (state is None and complete and not resumable):
        problems = [
            f"{run_dir / n} (missing)" for n in layout.results[:1] if not (run_dir / n).is_file()
        ]
        if not present:
            problems.append(f"{run_dir} (no result files)")
        problems += [f"{run_dir / n} ({why})" for n in present if (why := unreadable(run_dir / n))]
        return ("damaged" if problems else "done"), problems
    if state == "failed":
        return "failed", []
    if state is not None:
        return "interrupted", []
    rest = [p for p in run_dir.iterdir() if p.name not in BOOKKEEPING[2:]]
    return ("interrupted" if rest else "missing"), []


def inspect(run_dir, layout: Layout = GENERIC) -> RunInfo:
    """The state of ``run_dir`` (module docstring), one of :data:`STATES`. Reads only."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return RunInfo("missing")
    status = read_status(run_dir)
    owner = runlock.holder(run_dir)
    if owner is not None:
        return RunInfo("running", status=status, owner=owner)
    if (run_dir / CHECKSUM_FILE).exists():
        record, problems = verify(run_dir)
        return RunInfo("damaged" if problems else "done", problems, status, record)
    state, problems = _legacy(run_dir, layout, status)
    return RunInfo(state, problems, status)


# -- one run --------------------------------------------------------------------------------


class Run:
    """A claimed run directory (:func:`claim`): ``info`` is its state when claimed;
    ``extra`` is added to the ``failed`` / ``interrupted`` status."""

    def __init__(self, run_dir: Path, layout: Layout, info: RunInfo, overwrite: bool):
        self.dir, self.layout, self.info, self.overwrite = run_dir, layout, info, overwrite
        self.extra: dict = {}
        self.started = self.finished = self.recorded = False

    def begin(self, **status) -> None:
        """Start (again): drop the checksums (the directory no longer holds a finished run),
        the files of a replaced or damaged run, and write ``status.json`` ``running``."""
        if self.info.state == "damaged":
            warn(f"{self.info.error()}; the run in {self.dir} starts again")
        remove(self.dir / CHECKSUM_FILE)
        if self.overwrite or self.info.state == "damaged":
            lay = self.layout
            for name in lay.results + lay.optional + lay.resume:
                remove(self.dir / name)
        self.started = True
        _write_status(self.dir, "running", started=time.time(), **status)

    def finish(self, files, *, config_hash: str | None = None, **status) -> None:
        """Record the checksums of ``files`` (result files, relative names), then ``done``."""
        record_checksums(self.dir, files, config_hash=config_hash, family=self.layout.family)
        self.recorded = True  # finished from here on (inspect); never marked failed
        _write_status(self.dir, "done", finished=time.time(), **status)
        self.finished = True

    def finished_message(self, config_hash: str | None = None) -> str:
        other = config_hash is not None and self.info.config_hash not in (None, config_hash)
        return (
            f"{self.dir} holds a finished run{' of another config' if other else ''}; "
            "choose another --out or pass --overwrite"
        )


@contextlib.contextmanager
def claim(
    run_dir,
    layout: Layout,
    *,
    overwrite: bool = False,
    refuse_done: bool = True,
    wait: bool = False,
    config_hash: str | None = None,
):
    """Own ``run_dir`` for a run (module docstring); yields a :class:`Run`.

    Raises :class:`OutDirError` (a file, under a file, foreign files),
    :class:`~spikealign.runlock.RunBusyError` (another process holds it; ``wait`` blocks
    instead) or :class:`~spikealign.io.OutputExistsError` (a finished run, with
    ``refuse_done`` and without ``overwrite``; ``config_hash`` tells whether it is of
    another config)."""
    run_dir = check_out(run_dir)
    if run_dir.is_dir():
        _refuse_foreign(run_dir, layout)
    make_dirs(run_dir)
    with runlock.hold(run_dir, wait=wait):
        run = Run(run_dir, layout, inspect(run_dir, layout), overwrite)
        if refuse_done and run.info.state == "done" and not overwrite:
            raise OutputExistsError(run.finished_message(config_hash))
        try:
            yield run
        except BaseException as exc:
            if run.started and not run.finished and not run.recorded:
                state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                try:
                    _write_status(
                        run_dir, state, error=f"{type(exc).__name__}: {exc}"[:500], **run.extra
                    )
                except OSError:  # e.g. the disk that stopped the run is still full
                    pass
            raise
