"""A full disk and a read-only medium in every command that writes (issue 18, item 1), and the
warning that names a damaged run `sweep run` reruns (item 2).

Every command that writes (``ssn run``, ``ssn demo``, ``microcircuit run``, ``deep train``,
``deep symmetrize``, ``bm train``, ``principle stdd``, ``principle phase-plane``,
``figure 12``, ``figure 4``, ``sweep run``, ``data fetch``) must end with one line on stderr
naming the path it could not write and the OS's reason, a non-zero exit status and no
traceback, and must leave what was finished before (a finished run directory, an earlier output
file, the runs of a sweep) exactly as it was, with no temporary files.

Two kinds of faults:

* real ones: a small tmpfs, mounted for the test (needs root and permission to mount; skipped
  otherwise), filled to the last page (``ENOSPC``) or remounted read-only (``EROFS``);
* injected ones: ``os.replace``, ``os.fsync``, ``tempfile.mkstemp`` or ``os.mkdir`` made to fail
  with an errno for the paths under the test's directory (``monkeypatch``), also where a real
  file system would not fail at that point.

The commands run in-process (:func:`spikealign.cli.main`). The module prints how many fault
cases it tried, by class.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from deep_synth import write_mnist_like
from mc_helpers import TINY as MC_TINY
from spikealign import cli, rundir, runlock
from spikealign.io import atomic_save_npz, atomic_write, atomic_write_json, read_status
from spikealign.io import write_status as _write_status

REASON = {
    errno.ENOSPC: os.strerror(errno.ENOSPC),
    errno.EROFS: os.strerror(errno.EROFS),
    errno.EDQUOT: os.strerror(errno.EDQUOT),
    errno.EIO: os.strerror(errno.EIO),
}

#: fault cases tried, by class (printed at the end of the module)
TRIED: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_tried(request):
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if TRIED and reporter is not None:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items()))
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(
                f"\ntest_write_faults: {sum(TRIED.values())} fault cases tried ({parts})"
            )


# -- running the CLI and reading its output --------------------------------------------------


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``spikealign ARGV`` in-process: (exit status, stdout, stderr). Warnings are printed to
    stderr as the command line prints them (pytest would otherwise record them)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("always")
        warnings.showwarning = _to_stderr
        try:
            cli.main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _to_stderr(message, category, filename, lineno, file=None, line=None):
    """What Python does with a warning outside pytest: ``formatwarning`` onto stderr."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def ok(argv: list[str]) -> str:
    code, out, err = run_cli(argv)
    assert code == 0, f"{argv}: exit {code}\n{out}\n{err}"
    return out


def error_line(result: tuple[int, str, str], where, reason: str) -> str:
    """The one ``error:`` line of a failed command, which names ``where`` and ``reason``; a
    non-zero exit status and no traceback."""
    code, out, err = result
    text = out + err
    assert code != 0, f"exit status 0:\n{text}"
    assert "Traceback" not in text, text
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"not one line on stderr:\n{err}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert str(where) in line, f"{line!r} does not name {where}"
    assert reason in line, f"{line!r} does not give the reason {reason!r}"
    return line


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (relative names)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def temporaries(root: Path) -> list[str]:
    """Temporary files of atomic writes (and downloads) left under ``root``."""
    return [str(p) for p in root.rglob(".*") if p.name.endswith((".tmp", ".part"))]


def finished_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob(rundir.CHECKSUM_FILE))


def assert_intact(root: Path, before: dict[str, str]) -> None:
    """``root`` holds exactly the files it held, unchanged, and its runs are still done."""
    assert snapshot(root) == before
    for run_dir in finished_runs(root):
        info = rundir.inspect(run_dir)
        assert info.state == "done", (run_dir, info)


# -- a real small disk -------------------------------------------------------------------------


class Disk:
    """A tmpfs mounted at ``path``: :meth:`fill` it, :meth:`free` it, make it read-only."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir(parents=True)
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here (needs root and the permission to mount): "
                f"{res.stderr.strip() or res.returncode}"
            )
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write a file until the disk is full (ENOSPC): not one more page fits."""
        with open(self.filler, "wb", buffering=0) as fh:
            block = b"\0" * (1 << 16)
            while True:
                try:
                    fh.write(block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    if len(block) == 1:
                        break
                    block = block[: len(block) // 2]

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def disk(tmp_path):
    d = Disk(tmp_path / "disk", "48m")
    try:
        yield d
    finally:
        d.unmount()


# -- injected faults ---------------------------------------------------------------------------


class Faults:
    """Make one OS call fail with ``err`` for the paths under ``root`` (where ``only`` holds
    for the path); ``hits`` counts the calls made to fail."""

    CALLS = ("replace", "fsync", "mkstemp", "mkdir")

    def __init__(self, monkeypatch, root: Path):
        self.mp, self.root, self.hits = monkeypatch, os.path.realpath(root), 0

    def _under(self, path) -> bool:
        return os.path.realpath(os.fspath(path)).startswith(self.root + os.sep)

    def _fail(self, err: int, *names):
        self.hits += 1
        return OSError(err, os.strerror(err), *names)

    def inject(self, call: str, err: int, only=lambda path: True) -> None:
        if call == "replace":
            real_replace = os.replace

            def replace(src, dst, **kw):
                if self._under(dst) and only(dst):
                    raise self._fail(err, os.fspath(src), None, os.fspath(dst))
                return real_replace(src, dst, **kw)

            self.mp.setattr(os, "replace", replace)
        elif call == "fsync":
            real_fsync = os.fsync

            def fsync(fd):
                path = os.readlink(f"/proc/self/fd/{fd if isinstance(fd, int) else fd.fileno()}")
                if self._under(path) and only(path):
                    raise self._fail(err)  # as the OS reports it: no file name
                return real_fsync(fd)

            self.mp.setattr(os, "fsync", fsync)
        elif call == "mkstemp":
            real_mkstemp = tempfile.mkstemp

            def mkstemp(suffix=None, prefix=None, dir=None, text=False):
                if dir is not None and self._under(os.path.join(dir, "x")) and only(dir):
                    raise self._fail(err, os.path.join(dir, f"{prefix}XXXXXX{suffix}"))
                return real_mkstemp(suffix, prefix, dir, text)

            self.mp.setattr(tempfile, "mkstemp", mkstemp)
        elif call == "mkdir":
            real_mkdir = os.mkdir

            def mkdir(path, mode=0o777, **kw):
                if self._under(path) and not os.path.isdir(path) and only(path):
                    raise self._fail(err, os.fspath(path))
                return real_mkdir(path, mode, **kw)

            self.mp.setattr(os, "mkdir", mkdir)
        else:  # pragma: no cover - a typo in a test
            raise ValueError(call)


# -- the commands that write -------------------------------------------------------------------

SSN_TINY = [
    "--set",
    "num_epochs=9",
    "--set",
    "val_step=4",
    "--set",
    "val_factor=3",
    "--set",
    "dur=30",
]
BM_TINY = [
    "--set",
    "epochs=1",
    "--set",
    "data.n_train=40",
    "--set",
    "data.n_test=30",
    "--set",
    "network.n_hidden=10",
    "--set",
    "eval.completion=5",
]
DEEP_TINY = {"batch_size": 16, "test_batch_size": 32, "train_limit": 32, "test_limit": 16}
DEMO_TINY = {"num_epochs": 9, "val_step": 4, "val_factor": 3, "dur": 30}


def fabricate_sweep(out: Path) -> None:
    """The ``tiny`` preset at quick scale as ``sweep run`` leaves it finished: manifest, and
    per run spec, config, results, metrics, checksums and status ``done`` (made-up numbers)."""
    from spikealign.sweep import layout
    from spikealign.sweep.presets import build_specs

    parts, specs = build_specs(["tiny"], "quick")
    out.mkdir(parents=True)
    (out / runlock.LOCK_FILE).touch()  # the sweep command's lock file, as it leaves it
    layout.update_manifest(
        out,
        {
            p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], "quick", {})
            for p in parts
        },
        {"command": "run", "presets": ["tiny"], "scale": "quick", "argv": None},
    )
    for s in specs:
        run_dir = out / s.rel_dir
        run_dir.mkdir(parents=True)
        n_val = 5
        level = float(s.params.get("noise", 0.0))
        atomic_save_npz(
            run_dir / "results.npz",
            dkls=np.linspace(1.0, 0.1 + level, n_val),
            all_asym=np.linspace(0.5, 0.01 + level, n_val),
            val_cycles=np.arange(n_val) * 10,
        )
        atomic_write_json(
            run_dir / "metrics.json",
            {"final_dkl": 0.1 + level, "final_asym": 0.01, "runtime_s": 1.0},
        )
        atomic_write_json(run_dir / "spec.json", s.to_dict())
        (run_dir / "config.yaml").write_text(yaml.safe_dump(s.config))
        (run_dir / ".lock").touch()
        rundir.record_checksums(
            run_dir,
            ["results.npz", "metrics.json", "config.yaml"],
            config_hash=s.hash,
            family="ssn",
        )
        _write_status(run_dir, "done")


@dataclass
class Command:
    """One command that writes. ``argv(out, inputs)``: the command writing into the directory
    ``out`` (its error line must name ``out`` or a path in it); ``refuses``: a finished ``out``
    is refused (exit 2) instead of written again; ``make_finished``: builds a finished ``out``
    without the command (else the command itself runs); ``setup(monkeypatch)``: before it;
    ``locks``: the first thing it writes into an existing ``out`` is the lock file."""

    name: str
    argv: object
    refuses: bool = True
    make_finished: object = None
    setup: object = None  # (monkeypatch) -> None, before the command runs
    locks: bool = True  # takes the lock of ``out`` first (a run directory, a sweep)


def _demo_setup(monkeypatch):
    from spikealign.ssn import demo

    monkeypatch.setattr(demo, "DEMO_OVERRIDES", dict(DEMO_TINY))


def _finished_demo(out: Path) -> None:
    """The demo finished in this process (its faults run with two worker processes, whose
    errors come back pickled)."""
    ok(["ssn", "demo", "--out", out, "--workers", "1", "--quiet"])


COMMANDS = [
    Command(
        "ssn run", lambda o, i: ["ssn", "run", "syn_noise_sal", "--out", o, "--quiet", *SSN_TINY]
    ),
    Command(
        "ssn demo",
        lambda o, i: ["ssn", "demo", "--out", o, "--workers", "2", "--quiet"],
        setup=_demo_setup,
        make_finished=_finished_demo,
        locks=False,
    ),
    Command(
        "microcircuit run",
        lambda o, i: ["microcircuit", "run", i / "mc.yaml", "--out", o, "--quiet"],
    ),
    Command(
        "deep train",
        lambda o, i: [
            "deep",
            "train",
            "--algo",
            "bp",
            "--epochs",
            "1",
            "--data-dir",
            i / "data",
            "--config",
            i / "deep.yaml",
            "--threads",
            "1",
            "--out",
            o,
            "--quiet",
        ],
    ),
    Command(
        "deep symmetrize",
        lambda o, i: [
            "deep",
            "symmetrize",
            "--sizes",
            "8,4,2",
            "--epochs",
            "1",
            "--len-epoch",
            "2",
            "--threads",
            "1",
            "--out",
            o,
            "--quiet",
        ],
    ),
    Command(
        "bm train", lambda o, i: ["bm", "train", "digits-quick", "--out", o, "--quiet", *BM_TINY]
    ),
    Command(
        "principle stdd",
        lambda o, i: [
            "principle",
            "stdd",
            "--w-ab",
            "0.5",
            "--w-ba",
            "-0.5",
            "--t-ref",
            "5",
            "--out",
            o / "stdd.csv",
        ],
        refuses=False,
        locks=False,
    ),
    Command(
        "principle phase-plane",
        lambda o, i: [
            "principle",
            "phase-plane",
            "--n",
            "3",
            "--t-ref",
            "5",
            "--workers",
            "1",
            "--out",
            o / "pp.npz",
            "--plot",
            o / "pp.png",
        ],
        refuses=False,
        locks=False,
    ),
    Command("figure 12", lambda o, i: ["figure", "12", "--out", o], refuses=False, locks=False),
    Command(
        "figure 4",
        lambda o, i: ["figure", "4", i / "sweep", "--out", o],
        refuses=False,
        locks=False,
    ),
    Command(
        "sweep run",
        lambda o, i: [
            "sweep",
            "run",
            "tiny",
            "--scale",
            "quick",
            "--out",
            o,
            "--no-figures",
            "--quiet",
        ],
        refuses=False,
        make_finished=fabricate_sweep,
    ),
]
BY_NAME = {c.name: c for c in COMMANDS}


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """Input files of the commands, on the ordinary disk."""
    root = tmp_path / "inputs"
    root.mkdir()
    (root / "mc.yaml").write_text(yaml.safe_dump(MC_TINY))
    (root / "deep.yaml").write_text(yaml.safe_dump(DEEP_TINY))
    write_mnist_like(root / "data" / "FashionMNIST" / "raw", n_train=48, n_test=20)
    fabricate_sweep(root / "sweep")
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    return root


def make_finished(cmd: Command, out: Path, inputs: Path) -> dict[str, str]:
    """A finished ``out`` of ``cmd``; returns its snapshot."""
    if cmd.make_finished is not None:
        cmd.make_finished(out)
    else:
        ok(cmd.argv(out, inputs))
    before = snapshot(out)
    assert before
    if cmd.refuses:
        assert finished_runs(out), f"{cmd.name}: no finished run in {out}"
    assert_intact(out, before)
    return before


def check_fault(
    cmd: Command,
    done: Path,
    new: Path,
    inputs: Path,
    before: dict,
    reason: str,
    cls: str,
    rewrite_fails: bool = True,
) -> None:
    """``cmd`` into a new directory and into its finished one under a fault: one error line
    naming the path and the reason (or the refusal of the finished run); nothing finished
    damaged, no temporary files. ``rewrite_fails=False``: the fault does not reach a rewrite
    of an existing output (a failing ``mkdir``), which is then not tried."""
    TRIED[cls] += 1
    error_line(run_cli(cmd.argv(new, inputs)), new, reason)
    if cmd.refuses:
        result = run_cli(cmd.argv(done, inputs))
        assert result[0] == 2, result
        error_line(result, done, "holds a finished run")
    elif rewrite_fails:  # an earlier output written again: the write fails, the old file stays
        error_line(run_cli(cmd.argv(done, inputs)), done, reason)
    assert_intact(done, before)
    assert temporaries(done.parent) == []


@pytest.mark.parametrize("name", list(BY_NAME))
def test_full_disk_then_read_only_medium(name, disk, inputs, monkeypatch):
    """A real tmpfs: the command's finished output, then the disk full, then read-only (a new
    directory, one the full disk let it create, an empty one that has no lock file yet)."""
    cmd = BY_NAME[name]
    if cmd.setup:
        cmd.setup(monkeypatch)
    done, new, empty = disk.path / "done", disk.path / "new", disk.path / "empty"
    before = make_finished(cmd, done, inputs)
    empty.mkdir()
    disk.fill()
    check_fault(cmd, done, new, inputs, before, REASON[errno.ENOSPC], "real disk full")
    disk.free()
    disk.remount("ro")
    check_fault(
        cmd, done, disk.path / "other", inputs, before, REASON[errno.EROFS], "real read-only"
    )
    if new.exists():  # what the full disk let the first attempt create (a folder, a lock)
        error_line(run_cli(cmd.argv(new, inputs)), new, REASON[errno.EROFS])
    line = error_line(run_cli(cmd.argv(empty, inputs)), empty, REASON[errno.EROFS])
    if cmd.locks:
        assert line == f"error: cannot write {empty / runlock.LOCK_FILE}: {REASON[errno.EROFS]}"
    assert list(empty.iterdir()) == []


FAULTS = [
    ("replace", errno.ENOSPC),
    ("fsync", errno.EDQUOT),
    ("mkstemp", errno.EROFS),
    ("mkdir", errno.EROFS),
    ("fsync", errno.EIO),
]
#: the commands of the injected faults (the demo's runs are in other processes)
INJECTED = [n for n in BY_NAME if n != "ssn demo"]
#: every command with one fault, every fault with two commands (the default run); the other
#: pairs of the cross product run with ``-m slow``
PAIRS = [(name, *FAULTS[k % len(FAULTS)]) for k, name in enumerate(INJECTED)]
OTHER_PAIRS = [(n, c, e) for n in INJECTED for c, e in FAULTS if (n, c, e) not in PAIRS]


def _pair_id(pair) -> str:
    return f"{pair[0]}-{pair[1]}-{errno.errorcode[pair[2]]}"


@pytest.fixture(scope="module")
def finished_outputs(tmp_path_factory):
    """One finished output per command (copied by each test)."""
    return {}


@pytest.mark.parametrize("name,call,err", PAIRS, ids=[_pair_id(p) for p in PAIRS])
def test_injected_write_fault(
    name, call, err, tmp_path, inputs, monkeypatch, finished_outputs, tmp_path_factory
):
    """An injected fault (module docstring): the command into a new directory fails with one
    line naming it and the OS's reason; its finished output is refused or kept as it was."""
    injected_fault(
        name, call, err, tmp_path, inputs, monkeypatch, finished_outputs, tmp_path_factory
    )


@pytest.mark.slow
@pytest.mark.parametrize("name,call,err", OTHER_PAIRS, ids=[_pair_id(p) for p in OTHER_PAIRS])
def test_injected_write_fault_every_pair(
    name, call, err, tmp_path, inputs, monkeypatch, finished_outputs, tmp_path_factory
):
    """:func:`test_injected_write_fault` for the rest of the commands x faults product."""
    injected_fault(
        name, call, err, tmp_path, inputs, monkeypatch, finished_outputs, tmp_path_factory
    )


def injected_fault(
    name, call, err, tmp_path, inputs, monkeypatch, finished_outputs, tmp_path_factory
):
    cmd = BY_NAME[name]
    if cmd.setup:
        cmd.setup(monkeypatch)
    if name not in finished_outputs:
        first = tmp_path_factory.mktemp("finished") / "done"
        make_finished(cmd, first, inputs)
        finished_outputs[name] = first
    root = tmp_path / "work"
    root.mkdir()
    done, new = root / "done", root / "new"
    shutil.copytree(finished_outputs[name], done, symlinks=True)
    before = snapshot(done)
    assert_intact(done, before)
    faults = Faults(monkeypatch, root)
    faults.inject(call, err)
    check_fault(
        cmd,
        done,
        new,
        inputs,
        before,
        REASON[err],
        f"injected {call} {errno.errorcode[err]}",
        rewrite_fails=call != "mkdir",
    )
    assert faults.hits > 0, "the fault was never hit"


# -- data fetch --------------------------------------------------------------------------------


class _Response:
    def __init__(self, body: bytes):
        self.body, self.headers = io.BytesIO(body), {"Content-Length": str(len(body))}

    def read(self, n=-1):
        return self.body.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _serve(monkeypatch, body: bytes = b"\x1f\x8b" + b"x" * (1 << 18)):
    """``data fetch mnist`` downloads ``body`` from a stand-in server, as one file whose
    registered checksum it matches (so faults after the checksum are reached too)."""
    from spikealign.deep import fetch

    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda url, timeout=None: _Response(body))
    real = fetch.SOURCES["mnist"]
    monkeypatch.setitem(
        fetch.SOURCES,
        "mnist",
        fetch.Source(
            real.base_url,
            real.folder,
            (fetch.RemoteFile(real.files[0].name, "md5:" + hashlib.md5(body).hexdigest()),),
        ),
    )


def test_fetch_on_a_full_then_read_only_disk(disk, monkeypatch):
    _serve(monkeypatch)
    cache = disk.path / "cache"
    cache.mkdir()
    disk.fill()
    TRIED["real disk full"] += 1
    line = error_line(
        run_cli(["data", "fetch", "mnist", "--dest", cache, "--quiet"]),
        cache / "MNIST" / "raw",
        REASON[errno.ENOSPC],
    )
    assert line.startswith(f"error: cannot write {cache / 'MNIST' / 'raw'}/")
    assert sorted(p.name for p in cache.rglob("*")) == []  # no folders, no partial files
    disk.free()
    disk.remount("ro")
    TRIED["real read-only"] += 1
    error_line(
        run_cli(["data", "fetch", "mnist", "--dest", cache, "--quiet"]),
        cache / "MNIST" / "raw",
        REASON[errno.EROFS],
    )


@pytest.mark.parametrize(
    "call,err", [("replace", errno.ENOSPC), ("fsync", errno.EDQUOT), ("mkstemp", errno.EROFS)]
)
def test_fetch_injected_fault(call, err, tmp_path, monkeypatch):
    _serve(monkeypatch)
    cache = tmp_path / "cache"
    faults = Faults(monkeypatch, tmp_path)
    faults.inject(call, err)
    TRIED[f"injected {call} {errno.errorcode[err]}"] += 1
    error_line(
        run_cli(["data", "fetch", "mnist", "--dest", cache, "--quiet"]),
        cache / "MNIST" / "raw",
        REASON[err],
    )
    assert faults.hits > 0
    assert not cache.exists()  # the folders it created are gone again


# -- the pieces: atomic writes, the lock, the CLI's exit status --------------------------------


@pytest.mark.parametrize("call,err", FAULTS, ids=[f"{c}-{errno.errorcode[e]}" for c, e in FAULTS])
def test_atomic_write_keeps_the_old_file(call, err, tmp_path, monkeypatch):
    path = tmp_path / "sub" / "results.npz"
    if call != "mkdir":
        atomic_write(path, lambda fh: fh.write(b"old"))
    faults = Faults(monkeypatch, tmp_path)
    faults.inject(call, err)
    TRIED["atomic_write"] += 1
    with pytest.raises(OSError) as caught:
        atomic_write(path, lambda fh: fh.write(b"new" * 1000))
    assert faults.hits > 0
    exc = caught.value
    assert exc.errno == err
    where = path.parent if call == "mkdir" else path
    assert str(exc) in (
        f"cannot write {where}: {REASON[err]}",
        f"cannot create directory {where}: {REASON[err]}",
    ), str(exc)
    again = pickle.loads(pickle.dumps(exc))  # returned by Dask and process pools
    assert type(again) is type(exc) and str(again) == str(exc)
    if call != "mkdir":
        assert path.read_bytes() == b"old"
    assert temporaries(tmp_path) == []


def test_atomic_write_on_a_real_full_disk(disk):
    path = disk.path / "a.bin"
    atomic_write(path, lambda fh: fh.write(b"old"))
    disk.fill()
    TRIED["atomic_write"] += 1
    with pytest.raises(OSError, match=f"^cannot write {path}: {REASON[errno.ENOSPC]}$"):
        atomic_write(path, lambda fh: fh.write(os.urandom(1 << 16)))
    assert path.read_bytes() == b"old" and temporaries(disk.path) == []


def test_other_errors_of_the_writer_pass_unchanged(tmp_path):
    """A failed checksum or a read error of the writer's own input is not a write error."""
    path = tmp_path / "f"

    def boom(fh):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/elsewhere/x")

    with pytest.raises(FileNotFoundError) as caught:
        atomic_write(path, boom)
    assert caught.value.filename == "/elsewhere/x"
    with pytest.raises(ValueError, match="checksum"):
        atomic_write(path, lambda fh: (_ for _ in ()).throw(ValueError("checksum mismatch")))
    assert not path.exists() and temporaries(tmp_path) == []


def test_lock_on_a_read_only_medium(disk):
    """A finished run on a read-only medium keeps its lock file: locked through a read-only
    descriptor, so it is recognised (and refused) and a second holder is still kept out;
    without a lock file, one line names it."""
    with_lock, without = disk.path / "a", disk.path / "b"
    with_lock.mkdir()
    (with_lock / runlock.LOCK_FILE).touch()
    without.mkdir()
    disk.remount("ro")
    TRIED["real read-only"] += 2
    with runlock.hold(with_lock):
        seen = []

        def second():
            seen.append(runlock.holder(with_lock))
            try:
                with runlock.hold(with_lock):
                    seen.append("got it")
            except runlock.RunBusyError as exc:
                seen.append(exc)

        other = threading.Thread(target=second)
        other.start()
        other.join()
        assert seen[0] == ""  # held (by a holder whose line the medium could not take)
        assert isinstance(seen[1], runlock.RunBusyError)
    with pytest.raises(OSError) as caught:
        with runlock.hold(without):
            pass
    assert str(caught.value) == f"cannot write {without / runlock.LOCK_FILE}: {REASON[errno.EROFS]}"


def test_lock_on_a_full_disk(disk):
    """The holder's line does not fit: the lock is held all the same."""
    run_dir = disk.path / "r"
    run_dir.mkdir()
    (run_dir / runlock.LOCK_FILE).touch()
    disk.fill()
    TRIED["real disk full"] += 1
    with runlock.hold(run_dir):
        seen = []
        other = threading.Thread(target=lambda: seen.append(runlock.holder(run_dir)))
        other.start()
        other.join()
        assert seen == [""]  # held, by somebody whose line could not be written


@pytest.mark.parametrize(
    "exc,line",
    [
        (
            OSError(errno.ENOSPC, REASON[errno.ENOSPC], "runs/x/results.npz"),
            "error: cannot write runs/x/results.npz: No space left on device",
        ),
        (
            OSError(errno.EROFS, REASON[errno.EROFS], "runs/x"),
            "error: cannot write runs/x: Read-only file system",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "runs/x/.lock"),
            "error: runs/x/.lock: Permission denied",
        ),
        (OSError(errno.EIO, REASON[errno.EIO]), "error: Input/output error"),
    ],
)
def test_any_os_error_is_one_line_with_exit_status_1(exc, line, monkeypatch):
    """The safety net of :func:`spikealign.cli.main`: an OSError from code that does not name
    its file itself (a plain ``mkdir``, a library) is one line with what the OS named, exit
    status 1. Here ``spikealign version`` fails while printing to stdout."""
    real = cli.typer.echo

    def echo(message=None, *args, err=False, **kw):
        if not err:
            raise exc
        return real(message, *args, err=err, **kw)

    monkeypatch.setattr(cli.typer, "echo", echo)
    TRIED["cli safety net"] += 1
    code, out, err = run_cli(["version"])
    assert code == 1 and "Traceback" not in out + err, (code, out, err)
    assert err.strip() == line


# -- a run stopped by a full disk mid-way resumes ----------------------------------------------


def nth(name: str, n: int):
    """A fault predicate: true for the ``n``-th write of a file called ``name`` (1-based)."""
    seen = {"k": 0}

    def only(path) -> bool:
        if Path(path).name != name:
            return False
        seen["k"] += 1
        return seen["k"] == n

    return only


def test_ssn_run_stopped_by_a_full_disk_resumes_bit_identically(tmp_path, monkeypatch):
    """The second checkpoint does not fit: one line naming it, status ``failed``, the first
    checkpoint intact; the rerun resumes from it and ends as an undisturbed run."""
    argv = ["ssn", "run", "syn_noise_sal", "--quiet", *SSN_TINY, "--out"]
    ok([*argv, tmp_path / "ref"])
    out = tmp_path / "run"
    faults = Faults(monkeypatch, out)
    faults.inject("replace", errno.ENOSPC, only=nth("checkpoint.npz", 2))
    TRIED["mid-run disk full"] += 1
    error_line(run_cli([*argv, out]), out / "checkpoint.npz", REASON[errno.ENOSPC])
    assert faults.hits == 1
    status = read_status(out)
    assert status["state"] == "failed" and "No space left on device" in status["error"]
    with np.load(out / "checkpoint.npz") as ck:
        assert int(ck["cycle"]) == 4  # the first validation block's
    assert temporaries(out) == []
    monkeypatch.undo()
    ok([*argv, out])
    assert rundir.inspect(out).state == "done"
    with np.load(tmp_path / "ref" / "results.npz") as a, np.load(out / "results.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_run_whose_last_status_does_not_fit_stays_finished(tmp_path, monkeypatch):
    """The results and their checksums are written, then status.json ``done`` does not fit:
    one line names it, and the run is finished all the same (never marked failed): the next
    command refuses it as finished."""
    argv = ["ssn", "run", "syn_noise_sal", "--quiet", *SSN_TINY, "--out", tmp_path / "run"]
    out = tmp_path / "run"
    faults = Faults(monkeypatch, out)
    faults.inject(
        "replace",
        errno.ENOSPC,
        only=lambda p: Path(p).name == "status.json" and (out / rundir.CHECKSUM_FILE).exists(),
    )
    TRIED["mid-run disk full"] += 1
    error_line(run_cli(argv), out / "status.json", REASON[errno.ENOSPC])
    assert faults.hits == 1
    assert rundir.inspect(out).state == "done"
    assert read_status(out)["state"] == "running"  # the last status written, not "failed"
    monkeypatch.undo()
    code, _, err = run_cli(argv)
    assert code == 2 and "holds a finished run" in err


def test_deep_train_stopped_by_a_full_disk_resumes(tmp_path, inputs, monkeypatch):
    """Epoch 2's checkpoint does not fit: epoch 1's stays and the rerun continues from it
    with the same numbers as an undisturbed run."""
    argv = [
        "deep",
        "train",
        "--algo",
        "fa",
        "--epochs",
        "2",
        "--data-dir",
        inputs / "data",
        "--config",
        inputs / "deep.yaml",
        "--threads",
        "1",
        "--quiet",
        "--out",
    ]
    ok([*argv, tmp_path / "ref"])
    out = tmp_path / "run"
    faults = Faults(monkeypatch, out)
    faults.inject("replace", errno.ENOSPC, only=nth("last.pt", 2))
    TRIED["mid-run disk full"] += 1
    error_line(run_cli([*argv, out]), out / "checkpoints" / "last.pt", REASON[errno.ENOSPC])
    assert read_status(out)["state"] == "failed"
    assert temporaries(out) == []
    monkeypatch.undo()
    ok([*argv, out])
    assert rundir.inspect(out).state == "done"
    ref = json.loads((tmp_path / "ref" / "metrics.json").read_text())["epochs"]
    got = json.loads((out / "metrics.json").read_text())["epochs"]
    assert len(got) == 2
    for a, b in zip(ref, got, strict=True):
        assert (a["train_loss"], a["test_loss"], a["align"]) == (
            b["train_loss"],
            b["test_loss"],
            b["align"],
        )


# -- sweeps: the worker side -------------------------------------------------------------------


def stub_sweep(out: Path, n: int = 4):
    """``n`` stand-in runs (``tests/sweep_stub.py``) planned into ``out``."""
    from spikealign.sweep import layout
    from spikealign.sweep.presets import TINY
    from spikealign.sweep.spec import RunSpec

    specs = [
        RunSpec(
            part="stub",
            index=i,
            kind="stub",
            runner="sweep_stub:run",
            config={"value": float(i)},
            params={"noise": 0.0},
        )
        for i in range(n)
    ]
    entry = {**layout.part_entry(TINY[0], specs, "quick", {}), "kind": "stub"}
    layout.update_manifest(out, {"stub": entry}, {"command": "test"})
    return specs


def test_worker_records_a_run_failed_by_a_full_disk(tmp_path, monkeypatch):
    """:func:`tasks.execute` (what a worker runs): results.npz does not fit. The result and
    status.json say why, naming the file; traceback and log are kept; a finished run of the
    sweep is not written to at all; the rerun succeeds."""
    from spikealign.sweep import tasks

    out = tmp_path / "sw"
    specs = stub_sweep(out, 2)
    assert tasks.execute(specs[0].to_dict(), str(out))["state"] == "done"
    first, second = out / specs[0].rel_dir, out / specs[1].rel_dir
    before = snapshot(first)
    faults = Faults(monkeypatch, out)
    faults.inject("replace", errno.ENOSPC, only=lambda p: Path(p).name == "results.npz")
    TRIED["worker disk full"] += 2
    assert tasks.execute(specs[0].to_dict(), str(out))["state"] == "skipped"
    assert faults.hits == 0  # nothing written into the finished run
    res = tasks.execute(specs[1].to_dict(), str(out))
    want = f"cannot write {second / 'results.npz'}: No space left on device"
    assert res["state"] == "failed" and want in res["error"], res
    status = read_status(second)
    assert status["state"] == "failed" and want in status["error"]
    assert "Traceback" in (second / "error.txt").read_text()
    assert "failed after" in (second / "log.txt").read_text()
    assert_intact(first, before)
    assert temporaries(out) == []
    monkeypatch.undo()
    assert tasks.execute(specs[1].to_dict(), str(out))["state"] == "done"
    assert tasks.run_state(second, kind="stub") == "done"


@pytest.mark.parametrize(
    "call,err",
    [
        ("replace", errno.ENOSPC),
        ("mkstemp", errno.EROFS),
        ("mkdir", errno.EROFS),
        ("fsync", errno.EIO),
    ],
)
def test_worker_never_raises_when_nothing_can_be_recorded(call, err, tmp_path, monkeypatch):
    """Every write under the sweep fails: the worker returns ``failed`` naming the file and
    the reason, raises nothing, leaves the finished run untouched, and the run stays to do."""
    from spikealign.sweep import tasks

    out = tmp_path / "sw"
    specs = stub_sweep(out, 2)
    assert tasks.execute(specs[0].to_dict(), str(out))["state"] == "done"
    first, second = out / specs[0].rel_dir, out / specs[1].rel_dir
    before = snapshot(first)
    faults = Faults(monkeypatch, out)
    faults.inject(call, err)
    TRIED[f"worker {call} {errno.errorcode[err]}"] += 1
    assert tasks.execute(specs[0].to_dict(), str(out))["state"] == "skipped"
    res = tasks.execute(specs[1].to_dict(), str(out))
    assert res["state"] == "failed" and REASON[err] in res["error"], res
    assert str(second) in res["error"]
    assert faults.hits > 0
    assert_intact(first, before)
    assert temporaries(out) == []
    assert [s.index for s in tasks.plan(specs, out).pending] == [1]


def test_sweep_on_a_full_then_read_only_disk_with_dask_workers(disk):
    """Real worker processes (a LocalCluster) on a real tmpfs: runs that meet a full disk or a
    read-only medium are reported failed with the file and the reason; finished runs stay
    intact; when the disk is writable again the same sweep finishes them."""
    pytest.importorskip("distributed")
    from spikealign.sweep import engine, tasks

    out = disk.path / "sw"
    specs = stub_sweep(out, 4)
    quiet = {"show_progress": False, "echo": lambda *a, **k: None, "workers": 1}
    assert engine.run_sweep(specs, out, limit=2, **quiet)["counts"]["done"] == 2
    done = [out / s.rel_dir for s in specs[:2]]
    before = {d: snapshot(d) for d in done}
    disk.fill()
    for reason, cls in (
        (REASON[errno.ENOSPC], "real disk full"),
        (REASON[errno.EROFS], "real read-only"),
    ):
        if cls == "real read-only":
            disk.free()
            disk.remount("ro")
        TRIED[cls] += 1
        res = engine.run_sweep(specs, out, **quiet)
        assert res["pending"] == 2 and res["counts"]["failed"] == 2, res
        for r in res["results"]:
            run_dir = out / specs[r["index"]].rel_dir
            assert str(run_dir) in r["error"] and reason in r["error"], r
        for d in done:
            assert_intact(d, before[d])
        assert temporaries(out) == []
    disk.remount("rw")
    res = engine.run_sweep(specs, out, **quiet)
    assert res["pending"] == 2 and res["counts"]["done"] == 2
    assert all(tasks.run_state(out / s.rel_dir, kind="stub") == "done" for s in specs)


# -- sweeps: the client side -------------------------------------------------------------------


def inline_cluster(monkeypatch):
    """Run the tasks of ``sweep run`` in this process (the same :func:`tasks.execute` a Dask
    worker calls) instead of starting a LocalCluster."""
    from spikealign.sweep import engine, tasks

    @contextlib.contextmanager
    def open_client(*args, **kw):
        yield None

    def execute_specs(client, pending, out, **kw):
        results = [tasks.execute(s.to_dict(), str(out)) for s in pending]
        counts = collections.Counter({"done": 0, "failed": 0})
        counts.update(r["state"] for r in results)
        return {"counts": dict(counts), "results": results}

    monkeypatch.setattr(engine, "open_client", open_client)
    monkeypatch.setattr(engine, "execute_specs", execute_specs)


def test_sweep_figures_that_do_not_fit(tmp_path, monkeypatch):
    """``sweep run`` of a finished sweep whose figures cannot be written: one error line naming
    the figure file, the summary still printed, exit status 1, the runs untouched."""
    out = tmp_path / "sw"
    fabricate_sweep(out)
    runs = {d: snapshot(d) for d in finished_runs(out)}
    faults = Faults(monkeypatch, out / "figures")
    faults.inject("replace", errno.ENOSPC)
    TRIED["sweep figures disk full"] += 1
    code, stdout, err = run_cli(
        ["sweep", "run", "tiny", "--scale", "quick", "--out", out, "--quiet"]
    )
    line = error_line((code, stdout, err), out / "figures", REASON[errno.ENOSPC])
    assert code == 1 and line.startswith("error: figure 4 not drawn: cannot write ")
    assert "all runs done" in stdout
    for d, snap in runs.items():
        assert_intact(d, snap)
    assert temporaries(out) == []


def damage(run_dir: Path) -> Path:
    """Change ``results.npz`` so it no longer matches its checksum (still a readable file)."""
    path = run_dir / "results.npz"
    atomic_save_npz(
        path, dkls=np.full(5, 9.0), all_asym=np.full(5, 9.0), val_cycles=np.arange(5) * 10
    )
    return path


def test_sweep_run_names_each_damaged_run_it_reruns(tmp_path, monkeypatch):
    """README: ``sweep run`` reruns a damaged run "with a warning naming the file"; one
    warning per damaged run that this command reruns (``--limit`` leaves the other for later),
    none once it is done again."""
    from spikealign.sweep import tasks
    from spikealign.sweep.presets import build_specs

    out = tmp_path / "sw"
    fabricate_sweep(out)
    specs = build_specs(["tiny"], "quick")[1]
    first, second = out / specs[1].rel_dir, out / specs[6].rel_dir
    bad = [damage(first), damage(second)]
    inline_cluster(monkeypatch)
    argv = ["sweep", "run", "tiny", "--scale", "quick", "--out", out, "--no-figures", "--quiet"]
    for run_dir, path in zip((first, second), bad, strict=True):
        TRIED["damaged run rerun"] += 1
        code, stdout, err = run_cli([*argv, "--limit", "1"])
        left = run_dir == first  # the second is left failed (damaged) by the first command
        assert code == (1 if left else 0) and "Traceback" not in stdout + err, (stdout, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines == [
            f"warning: {run_dir}: damaged result: {path} (checksum mismatch); rerunning"
        ], err
        assert tasks.run_state(run_dir, kind="ssn") == "done"
    code, stdout, err = run_cli(argv)
    assert code == 0 and err == "", err
    assert "all runs done" in stdout
