"""Sweeps on a real Dask LocalCluster: everything runs once, failures are recorded."""

import json

import numpy as np
import pytest

from spikealign.io import read_status
from spikealign.sweep import engine, layout, status, tasks
from spikealign.sweep.figures import figure4
from spikealign.sweep.presets import TINY, build_specs
from spikealign.sweep.spec import RunSpec

pytest.importorskip("distributed")

QUIET = {"show_progress": False, "echo": lambda *a, **k: None}


def starts(run_dir) -> int:
    return sum(" start " in line for line in (run_dir / "log.txt").read_text().splitlines())


def test_tiny_sweep_on_a_local_cluster_then_nothing_to_do(tmp_path):
    out = tmp_path / "sw"
    res = engine.sweep(["tiny"], out, workers=2, **QUIET)
    assert res["counts"]["done"] == 12 and res["pending"] == 12
    _, specs = build_specs(["tiny"])
    for s in specs:
        run_dir = out / s.rel_dir
        assert read_status(run_dir)["state"] == "done"
        assert json.loads((run_dir / "spec.json").read_text())["config_hash"] == s.hash
        with np.load(run_dir / "results.npz") as r:
            assert len(r["dkls"]) == len(r["val_cycles"]) == 5
        assert (run_dir / "config.yaml").is_file() and not (run_dir / "checkpoint.npz").exists()
        assert starts(run_dir) == 1
    again = engine.sweep(["tiny"], out, workers=2, **QUIET)
    assert again["pending"] == 0  # no cluster started, nothing executed
    assert all(starts(out / s.rel_dir) == 1 for s in specs)
    summary = status.summarize(out)
    assert summary["total"]["runs"] == 12 and summary["total"]["done"] == 12
    assert "all runs done" in status.format_summary(summary)
    man = layout.read_manifest(out)
    assert [h["executed"] for h in man["history"]] == [12, 0]
    paths = figure4(out, tmp_path / "fig")
    assert [p.name for p in paths] == ["fig4.png", "fig4.pdf", "fig4.npz", "fig4_finals.csv"]
    with np.load(paths[2]) as f:
        assert f["sal_count"].tolist() == [2, 2] and f["levels"].tolist() == [0.0, 0.8]
    # a different config for the same directory is refused before anything runs
    with pytest.raises(layout.SweepConflict, match="other settings"):
        engine.sweep(["tiny"], out, overrides={"val_factor": 11}, workers=2, **QUIET)


def stub_specs(fail_if: dict[int, str] | None = None) -> list[RunSpec]:
    fail_if = fail_if or {}
    return [
        RunSpec(
            part="stub",
            index=i,
            kind="stub",
            runner="sweep_stub:run",
            config={"fail_if": fail_if.get(i), "value": float(i)},
            params={"noise": 0.0},
        )
        for i in range(6)
    ]


def test_failing_run_records_its_traceback_and_the_sweep_continues(tmp_path):
    out = tmp_path / "sw"
    broken = tmp_path / "broken"  # run 2 fails while this file exists
    broken.touch()
    specs = stub_specs({2: str(broken)})
    part = TINY[0]
    layout.update_manifest(
        out, {"stub": layout.part_entry(part, specs, "paper", {})}, {"command": "test"}
    )
    res = engine.run_sweep(specs, out, workers=2, **QUIET)
    assert res["counts"]["done"] == 5 and res["counts"]["failed"] == 1
    bad = out / "stub/run.0002"
    st = read_status(bad)
    assert st["state"] == "failed" and st["error"] == "RuntimeError: boom in stub#2"
    tb = (bad / "error.txt").read_text()
    assert "Traceback" in tb and "sweep_stub.py" in tb and "boom" in tb
    assert "failed after" in (bad / "log.txt").read_text()
    summary = status.summarize(out)
    assert summary["total"]["failed"] == 1 and summary["total"]["done"] == 5
    text = status.format_summary(summary)
    assert "failed: " in text and "boom" in text and "1 runs to (re)run" in text
    # the next sweep (cause fixed) reruns only the failed run, and clears its traceback
    broken.unlink()
    plan = tasks.plan(specs, out)
    assert [s.index for s in plan.pending] == [2]
    res2 = engine.run_sweep(specs, out, workers=1, **QUIET)
    assert res2["pending"] == 1 and res2["counts"]["done"] == 1
    assert read_status(bad)["state"] == "done" and not (bad / "error.txt").exists()
    assert starts(bad) == 2 and starts(out / "stub/run.0000") == 1


def test_run_states_and_lock(tmp_path):
    import threading

    run_dir = tmp_path / "r"
    assert tasks.run_state(run_dir) == "missing"
    run_dir.mkdir()
    (run_dir / "status.json").write_text('{"state": "running"}')
    assert tasks.run_state(run_dir) == "interrupted"  # nobody holds the lock
    with tasks.run_lock(run_dir):
        # the holder itself sees the run's own state; any other thread or process: running
        assert tasks.run_state(run_dir) == "interrupted"
        seen = []
        other = threading.Thread(target=lambda: seen.append(tasks.run_state(run_dir)))
        other.start()
        other.join()
        assert seen == ["running"]
    assert tasks.run_state(run_dir) == "interrupted"
    (run_dir / "spec.json").write_text('{"config_hash": "abc"}')
    assert tasks.run_state(run_dir, "abc") == "interrupted"
    assert tasks.run_state(run_dir, "xyz") == "conflict"


def test_worker_without_the_sweep_directory_reports_it(tmp_path):
    spec = stub_specs()[0]
    res = tasks.execute(spec.to_dict(), str(tmp_path / "elsewhere"))
    assert res["state"] == "failed" and "shared by the client and all workers" in res["error"]


def test_level_runs_only_that_noise_level_and_the_rest_later(tmp_path, monkeypatch):
    """--level: only the runs at the given noise level execute (the others stay missing, with
    their grid index and seeds); a later sweep of the whole grid runs just the rest. A level
    the presets do not sweep is refused before anything is written."""
    from spikealign.config import ConfigError

    executed = []

    def fake_run(specs, out, **kw):
        plan = tasks.plan(specs, out)
        executed.append([(s.part, s.index, s.params["noise"]) for s in plan.pending])
        for s in plan.pending:
            tasks.execute(s.to_dict(), str(out))
        return {
            "counts": {"done": len(plan.pending)},
            "results": [],
            "wall_s": 0.0,
            "pending": len(plan.pending),
        }

    monkeypatch.setattr(engine, "run_sweep", fake_run)
    out = tmp_path / "sw"
    with pytest.raises(ConfigError, match=r"--level: 0.5 is not a level .*0, 0.8"):
        engine.sweep(["tiny"], out, levels=[0.5], **QUIET)
    assert not out.exists()
    engine.sweep(["tiny"], out, levels=[0.8], **QUIET)
    _, specs = build_specs(["tiny"])
    at = {(s.part, s.index) for s in specs if s.params["noise"] == 0.8}
    assert {(p, i) for p, i, _ in executed[0]} == at and len(at) == 6
    summary = status.summarize(out)
    assert summary["total"]["done"] == 6 and summary["total"]["missing"] == 6
    engine.sweep(["tiny"], out, **QUIET)  # the whole grid: the other level only
    assert {(p, i) for p, i, _ in executed[1]} == {(s.part, s.index) for s in specs} - at
    assert status.summarize(out)["total"]["done"] == 12
