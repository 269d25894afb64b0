"""Sweeps and the run-directory rules (issue 11): checksums verified by `sweep status`,
`sweep run` and figures; runs of earlier versions (no checksums) stay done; damaged
checkpoints; one `sweep run` per directory; --out as a file or a folder of other files."""

import os
import subprocess
import sys

import numpy as np
import pytest

from spikealign import rundir
from spikealign.io import atomic_save_npz, atomic_write_json, read_status, write_status
from spikealign.runlock import RunBusyError
from spikealign.sweep import engine, layout, status, tasks
from spikealign.sweep.figures import figure4
from spikealign.sweep.presets import TINY, build_specs
from spikealign.sweep.spec import RunSpec

ENV = {**os.environ, "SPIKEALIGN_QUIET": "1"}
QUIET = {"show_progress": False, "echo": lambda *a, **k: None}
HOLD = (
    "import sys, time\nfrom spikealign.runlock import hold\n"
    "with hold(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n"
)


def starts(run_dir) -> int:
    return sum(" start " in line for line in (run_dir / "log.txt").read_text().splitlines())


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def manifest(out, parts, specs, scale="quick"):
    layout.update_manifest(
        out,
        {
            p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], scale, {})
            for p in parts
        },
        {"command": "test"},
    )


def test_damaged_result_is_failed_listed_by_path_and_rerun(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "sw"
    specs = [
        RunSpec(
            part="stub",
            index=i,
            kind="stub",
            runner="sweep_stub:run",
            config={"value": float(i)},
            params={"noise": 0.0},
        )
        for i in range(4)
    ]
    entry = {**layout.part_entry(TINY[0], specs, "quick", {}), "kind": "stub"}
    layout.update_manifest(out, {"stub": entry}, {"command": "test"})
    assert engine.run_sweep(specs, out, workers=1, **QUIET)["counts"]["done"] == 4
    bad = out / "stub" / "run.0002"
    assert set(rundir.verify(bad)[0]["files"]) == {"results.npz", "metrics.json"}
    truncate(bad / "results.npz")
    summary = status.summarize(out)
    assert summary["total"]["done"] == 3 and summary["total"]["failed"] == 1
    text = status.format_summary(summary)
    assert f"failed: {bad}: damaged result: {bad / 'results.npz'} (checksum mismatch)" in text
    assert "1 runs to (re)run" in text
    assert [s.index for s in tasks.plan(specs, out).pending] == [2]
    res = engine.run_sweep(specs, out, workers=1, **QUIET)
    assert res["pending"] == 1 and res["counts"]["done"] == 1
    assert tasks.run_state(bad, kind="stub") == "done" and starts(bad) == 2
    assert all(starts(out / "stub" / f"run.{i:04d}") == 1 for i in (0, 1, 3))
    assert "start (damaged)" in (bad / "log.txt").read_text()


def fake_tiny_sweep(out, legacy: set[int]):
    """The tiny preset's 12 SSN runs with fabricated results: runs of ``tiny_sal`` whose index
    is in ``legacy`` look like an earlier version's (no checksums), the others are recorded."""
    parts, specs = build_specs(["tiny"])
    manifest(out, parts, specs)
    for s in specs:
        run_dir = out / s.rel_dir
        run_dir.mkdir(parents=True)
        value = 1.0 + s.index
        atomic_save_npz(
            run_dir / "results.npz",
            dkls=np.full(5, value),
            all_asym=np.full(5, value / 100),
            val_cycles=np.arange(5) * 250,
        )
        atomic_write_json(run_dir / "metrics.json", {"final_dkl": value, "runtime_s": 1.0})
        atomic_write_json(run_dir / "spec.json", s.to_dict())
        (run_dir / "config.yaml").write_text("dim: 7\n")
        (run_dir / "log.txt").write_text("2026-01-01 00:00:00 start (missing) on host:1\n")
        (run_dir / ".lock").touch()  # as an earlier version's sweep left it: empty, free
        if not (s.part == "tiny_sal" and s.index in legacy):
            rundir.record_checksums(run_dir, ["results.npz", "metrics.json"], family="ssn")
        write_status(run_dir, "done")
    return specs


def test_figures_and_status_verify_results_and_keep_earlier_runs(tmp_path):
    out = tmp_path / "sw"
    specs = fake_tiny_sweep(out, legacy={0, 1, 2})
    sal = out / "tiny_sal"
    summary = status.summarize(out)
    assert summary["total"]["done"] == 12  # runs without checksums (earlier versions) count
    assert tasks.plan(specs, out).pending == []
    # a checksummed result changed but still readable, and an earlier run's truncated file
    atomic_save_npz(
        sal / "run.0003" / "results.npz",
        dkls=np.full(5, 99.0),
        all_asym=np.full(5, 99.0),
        val_cycles=np.arange(5) * 250,
    )
    truncate(sal / "run.0001" / "results.npz")
    with pytest.warns(UserWarning) as caught:
        paths = figure4(out, tmp_path / "fig")
    messages = " ".join(str(w.message) for w in caught)
    for run in ("run.0003", "run.0001"):
        assert (
            f"{sal / run}: left out of the figure, damaged result: "
            f"{sal / run / 'results.npz'}" in messages
        )
    with np.load(paths[2]) as f:
        assert f["sal_count"].tolist() == [1, 1]  # two of the four SAL runs left out
        assert f["none_count"].tolist() == [2, 2]
    summary = status.summarize(out)
    assert summary["parts"]["tiny_sal"]["failed"] == 2 and summary["total"]["done"] == 10
    errors = {f["run"]: f["error"] for f in summary["parts"]["tiny_sal"]["failed_runs"]}
    assert "checksum mismatch" in errors[str(sal / "run.0003")]
    assert (
        "bad CRC" in errors[str(sal / "run.0001")] or "unreadable" in errors[str(sal / "run.0001")]
    )
    assert sorted((s.part, s.index) for s in tasks.plan(specs, out).pending) == [
        ("tiny_sal", 1),
        ("tiny_sal", 3),
    ]


def test_damaged_checkpoint_of_a_sweep_run_restarts_it(tmp_path):
    out = tmp_path / "sw"
    parts, specs = build_specs(["tiny"])
    manifest(out, parts, specs)
    spec = specs[0]
    run_dir = out / spec.rel_dir
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a whole zip file")
    write_status(run_dir, "running")
    assert tasks.run_state(run_dir, spec.hash, spec.kind) == "interrupted"
    with pytest.warns(rundir.RunDirWarning, match="checkpoint.npz: damaged checkpoint"):
        res = tasks.execute(spec.to_dict(), str(out))
    assert res["state"] == "done", res
    assert tasks.run_state(run_dir, spec.hash, spec.kind) == "done"
    assert not (run_dir / "checkpoint.npz").exists()


def test_one_sweep_command_per_directory(tmp_path):
    out = tmp_path / "sw"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], env=ENV, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunBusyError, match=f"{out} is in use .*pid {proc.pid}"):
            engine.sweep(["tiny"], out, workers=1, **QUIET)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    finally:
        proc.kill()
        proc.wait(timeout=60)


def test_sweep_out_that_is_a_file_or_holds_other_files(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    for out in (f, f / "sw"):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "spikealign",
                "sweep",
                "run",
                "tiny",
                "--out",
                str(out),
                "--quiet",
            ],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert str(f) in r.stderr and "is a file" in r.stderr
    with pytest.raises(rundir.OutDirError, match=r"did not create \(notes.txt\)"):
        engine.sweep(["tiny"], tmp_path, workers=1, **QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert not read_status(tmp_path)
