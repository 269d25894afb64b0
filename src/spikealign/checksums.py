"""Checksums of result files (``checksums.json``) and readability checks of files without.

:func:`record_checksums` writes the SHA-256 of a run's result files and its config hash;
:func:`verify` lists every recorded file that is missing or no longer matches;
:func:`unreadable` says why a file without a recorded checksum (a run of an earlier version)
cannot be read: a zip container (``.npz``, ``.pt``) with a bad member or truncated, JSON or
YAML that does not parse, an empty file.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

from .io import atomic_write_json, read_json

CHECKSUM_FILE = "checksums.json"


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_checksums(
    run_dir, files, *, config_hash: str | None = None, family: str | None = None
) -> dict:
    """Write ``checksums.json``: the SHA-256 of each of ``files`` (names relative to
    ``run_dir``, all existing) and the run's config hash. Returns the record."""
    run_dir = Path(run_dir)
    record = {
        "format": 1,
        "algorithm": "sha256",
        "family": family,
        "config_hash": config_hash,
        "finished": time.time(),
        "files": {str(f): file_digest(run_dir / f) for f in files},
    }
    atomic_write_json(run_dir / CHECKSUM_FILE, record)
    return record


def verify(run_dir) -> tuple[dict | None, list[str]]:
    """``(record, problems)`` of a run with ``checksums.json``; each problem is a path with
    what is wrong in parentheses."""
    run_dir = Path(run_dir)
    record = read_json(run_dir / CHECKSUM_FILE)
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return None, [f"{run_dir / CHECKSUM_FILE} (unreadable)"]
    problems = []
    for name, digest in record["files"].items():
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{path} (missing)")
        elif file_digest(path) != digest:
            problems.append(f"{path} (checksum mismatch)")
    return record, problems


def unreadable(path) -> str | None:
    """Why ``path`` (a result file without a recorded checksum) cannot be read, or None."""
    path = Path(path)
    try:
        if path.suffix in (".npz", ".pt", ".zip"):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            return f"bad CRC in {bad}" if bad else None
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            yaml.safe_load(path.read_text())
        elif path.stat().st_size == 0:
            return "empty"
    except Exception as exc:  # noqa: BLE001 - any failure to read means unreadable
        return f"unreadable: {type(exc).__name__}"
    return None
