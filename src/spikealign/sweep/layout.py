"""Directory layout of a sweep and its manifest.

::

    DIR/
      sweep.json                 manifest: parts, their runs (index, params, config hash),
                                 the commands that ran, timings
      figures/                   figures drawn at the end of ``sweep run`` (fig4.png, ...)
      <part>/run.NNNN/           one run (part e.g. syn_noise_sal, NNNN = upstream exp index)
        spec.json                what the run computes (kind, resolved config, params, hash)
        config.yaml              the resolved config
        results.npz              results (SSN: dkls, all_asym, val_cycles, weights, ...)
        metrics.json             final numbers and run time
        status.json              running | done | failed | interrupted
        log.txt                  one line per attempt: start, end, host, worker, duration
        error.txt                traceback of the last failed attempt
        checkpoint.npz           SSN state while running (resume point)
        checksums.json           SHA-256 of the result files, written when the run ends
        .lock                    held (flock) while a process works on the run
      .lock                      held by the ``sweep run`` command working on the directory

Every file except ``log.txt`` (appended lines) is written atomically. ``sweep run`` refuses a
directory holding anything else (:func:`check_sweep_dir`).
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import __version__
from ..io import atomic_write_json, read_json
from .spec import RunSpec, run_dir_name

MANIFEST = "sweep.json"
FIGURE_DIR = "figures"


class SweepConflict(ValueError):
    """The directory holds runs of different settings."""


def check_sweep_dir(out, parts) -> None:
    """Refuse ``out`` if it is a file, lies under one, or holds entries a sweep does not write
    (anything but ``sweep.json``, ``figures/``, ``.lock`` and the directories of the parts in
    ``parts`` or in its manifest), e.g. ``--out .`` in a project folder."""
    from ..rundir import OutDirError, check_out

    out = check_out(out)
    if not out.is_dir():
        return
    known = {
        MANIFEST,
        FIGURE_DIR,
        ".lock",
        *parts,
        *((read_manifest(out) or {}).get("parts") or {}),
    }
    other = sorted(
        p.name
        for p in out.iterdir()
        if p.name not in known and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    )
    if other:
        shown = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        raise OutDirError(
            f"{out} holds files spikealign did not create ({shown}); choose a "
            "new or empty directory for --out"
        )


def read_manifest(out) -> dict | None:
    return read_json(Path(out) / MANIFEST)


def part_entry(part, specs: list[RunSpec], scale: str, overrides: dict) -> dict:
    return {
        **part.describe(),
        "scale": scale,
        "overrides": overrides,
        "runs": [
            {
                "index": s.index,
                "dir": run_dir_name(s.index),
                "params": s.params,
                "config_hash": s.hash,
                "cost_s": s.cost,
            }
            for s in specs
        ],
    }


def check_manifest(out, entries: dict) -> None:
    """Refuse to mix settings: a part already planned in ``out`` must have the same runs."""
    old = read_manifest(out)
    if not old:
        return
    for name, entry in entries.items():
        prev = old.get("parts", {}).get(name)
        if prev is None:
            continue
        a = {r["index"]: r["config_hash"] for r in prev["runs"]}
        b = {r["index"]: r["config_hash"] for r in entry["runs"]}
        if a != b:
            raise SweepConflict(
                f"{Path(out) / name} holds a sweep with other settings (scale "
                f"{prev.get('scale')}, overrides {prev.get('overrides') or 'none'}); use another "
                "--out, or delete that directory to start it again"
            )


def update_manifest(out, entries: dict, command: dict) -> dict:
    """Add ``entries`` (part name -> entry) and a history record; returns the manifest."""
    out = Path(out)
    man = read_manifest(out) or {"format": 1, "parts": {}, "history": []}
    man["parts"].update(entries)
    man["spikealign"] = __version__
    man["history"].append({"time": time.time(), **command})
    atomic_write_json(out / MANIFEST, man)
    return man


def record_timing(out, **info) -> None:
    """Add timing numbers to the last history record."""
    man = read_manifest(out)
    if man and man.get("history"):
        man["history"][-1].update(info)
        atomic_write_json(Path(out) / MANIFEST, man)
