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
    assert [p.name for p in paths] == ["fig4.png", "fig4.pdf", "fig4.npz",
                                        "fig4_finals.csv"]
    with np.load(paths[2]) as f:
        assert f["sal_count"].tolist() == [2, 2] and f["levels"].tolist() == [0.0, 0.8]
    # a different config for the same directory is refused before anything runs
    with pytest.raises(layout.SweepConflict, match="other settings"):
        engine.sweep(["tiny"], out, overrides={"val_factor": 11}, workers=2, **QUIET)


def stub_specs(fail_if: dict[int, str] | None = None) -> list[RunSpec]:
    fail_if = fail_if or {}
    return [RunSpec(part="stub", index=i, kind="stub", runner="sweep_stub:run",
                    config={"fail_if": fail_if.get(i), "value": float(i)},
                    params={"noise": 0.0}) for i in range(6)]


def test_failing_run_records_its_traceback_and_the_sweep_continues(tmp_path):
    out = tmp_path / "sw"
    broken = tmp_path / "broken"  # run 2 fails while this file exists
    broken.touch()
    specs = stub_specs({2: str(broken)})
    part = TINY[0]
    layout.update_manifest(out, {"stub": layout.part_entry(part, specs, "paper", {})},
                           {"command": "test"})
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
