"""Run directories of single runs (issue 11): finished-ness from the result files, foreign
files, --out as a file, one writer (real processes, SIGKILL), damaged results and checkpoints,
Ctrl-C as ``interrupted`` in every family."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from mc_helpers import tiny
from spikealign import rundir, runlock
from spikealign.io import OutputExistsError, read_status, write_status
from spikealign.microcircuits import run_experiment
from spikealign.ssn import load_config
from spikealign.ssn import run as ssn_run
from spikealign.ssn.train import Trainer

ENV = {**os.environ, "SPIKEALIGN_QUIET": "1"}
SSN = rundir.LAYOUTS["ssn"]
HOLD = (
    "import sys, time\nfrom spikealign.runlock import hold\n"
    "with hold(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n"
)


def smoke(**over):
    return load_config("smoke", overrides=over)


def cli(*args, cwd=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "spikealign", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=timeout,
    )


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def hold_in_other_process(run_dir):
    run_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], env=ENV, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished SSN smoke run, copied by the tests that change it."""
    out = tmp_path_factory.mktemp("ssn") / "run"
    ssn_run.run(smoke(), out, show_progress=False, make_figure=False)
    return out


def copy_run(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


# -- item 1: finished from the result files; foreign files; --out as a file -----------------


@pytest.mark.parametrize("status", ["missing", "damaged", "running", "failed"])
def test_finished_run_is_not_overwritten_whatever_its_status_says(finished, tmp_path, status):
    out = copy_run(finished, tmp_path / "r")
    before = (out / "results.npz").read_bytes()
    if status == "missing":
        (out / "status.json").unlink()
    elif status == "damaged":
        (out / "status.json").write_text('{"state": "do')
    else:
        write_status(out, status)
    assert rundir.inspect(out, SSN).state == "done"
    with pytest.raises(OutputExistsError, match="holds a finished run"):
        ssn_run.run(smoke(), out, show_progress=False, make_figure=False)
    assert (out / "results.npz").read_bytes() == before
    ssn_run.run(smoke(), out, show_progress=False, make_figure=False, overwrite=True)
    assert rundir.inspect(out, SSN).state == "done"


def test_run_of_an_earlier_version_without_status_is_not_overwritten(finished, tmp_path):
    """No checksums (an earlier version's run) and no status: the complete, readable result
    files still make it a finished run; with a truncated result it is not."""
    out = copy_run(finished, tmp_path / "r")
    (out / "checksums.json").unlink()
    (out / "status.json").unlink()
    (out / ".lock").unlink()
    assert rundir.inspect(out, SSN).state == "done"
    with pytest.raises(OutputExistsError, match="finished run"):
        ssn_run.run(smoke(), out, show_progress=False, make_figure=False)
    write_status(out, "done")
    truncate(out / "results.npz")
    info = rundir.inspect(out, SSN)
    assert info.state == "damaged" and str(out / "results.npz") in info.error()


def test_folder_with_the_users_files_is_refused(tmp_path):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "config.yaml").write_text("my: own config\n")
    for overwrite in (False, True):
        with pytest.raises(rundir.OutDirError, match=r"did not create \(config.yaml\)"):
            ssn_run.run(smoke(), mine, show_progress=False, overwrite=overwrite)
    assert sorted(p.name for p in mine.iterdir()) == ["config.yaml"]
    assert (mine / "config.yaml").read_text() == "my: own config\n"
    r = cli("ssn", "run", "smoke", "--out", ".", "--quiet", cwd=mine)
    assert r.returncode == 2 and "did not create (config.yaml)" in one_line(r.stderr)
    assert sorted(p.name for p in mine.iterdir()) == ["config.yaml"]


def test_finished_run_with_a_file_of_the_users_is_not_overwritten(finished, tmp_path):
    out = copy_run(finished, tmp_path / "r")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(rundir.OutDirError, match=r"did not create \(notes.txt\)"):
        ssn_run.run(smoke(), out, show_progress=False, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert rundir.inspect(out, SSN).state == "done"


def test_microcircuit_cli_refuses_a_finished_run_whose_status_is_missing(tmp_path):
    import yaml

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny()))
    out = tmp_path / "mc"
    run_experiment(str(cfg), out, figure=False)
    (out / "status.json").unlink()
    r = cli("microcircuit", "run", str(cfg), "--out", str(out), "--quiet")
    assert r.returncode == 2 and "holds a finished run" in one_line(r.stderr), r.stderr
    truncate(out / "result.npz")  # damaged: the run is done again, with a warning
    r = cli("microcircuit", "run", str(cfg), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "warning: damaged result: " in r.stderr and str(out / "result.npz") in r.stderr
    assert rundir.inspect(out, rundir.LAYOUTS["microcircuit"]).state == "done"


@pytest.mark.parametrize("under", [False, True])
def test_out_that_is_a_file_or_under_a_file(tmp_path, under):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    out = f / "run" if under else f
    r = cli("ssn", "run", "smoke", "--out", str(out), "--quiet")
    line = one_line(r.stderr)
    assert r.returncode == 2 and str(f) in line and "is a file" in line, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert f.read_text() == "x"
    with pytest.raises(rundir.OutDirError, match="file"):
        run_experiment(tiny(), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# -- item 2: one writer per directory -------------------------------------------------------


@pytest.mark.timeout(900)
def test_second_process_fails_at_once_and_a_killed_holder_leaves_no_lock(tmp_path):
    out = tmp_path / "r"
    long_run = [
        "ssn",
        "run",
        "smoke",
        "--out",
        str(out),
        "--quiet",
        "--set",
        "num_epochs=1000001",
        "--set",
        "val_step=1000",
    ]
    holder = subprocess.Popen(
        [sys.executable, "-m", "spikealign", *long_run],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        t0 = time.time()
        while not (out / "checkpoint.npz").is_file():  # running, past its first block
            assert holder.poll() is None and time.time() - t0 < 600
            time.sleep(0.2)
        second = cli(*long_run)
        assert holder.poll() is None  # the second command did not wait for the holder
        line = one_line(second.stderr)
        assert second.returncode == 2, second.stderr
        assert str(out) in line and f"pid {holder.pid}" in line and "in use" in line
        assert rundir.inspect(out, SSN).state == "running"
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=60)
    assert read_status(out)["state"] == "running"
    info = rundir.inspect(out, SSN)
    assert info.state == "interrupted" and info.owner is None
    again = cli("ssn", "run", "smoke", "--out", str(out), "--quiet", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert rundir.inspect(out, SSN).state == "done"


def test_status_running_with_a_free_lock_is_interrupted(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    write_status(out, "running")
    assert rundir.inspect(out).state == "interrupted"
    held, release = threading.Event(), threading.Event()

    def other_writer():
        with runlock.hold(out):
            held.set()
            release.wait(60)

    t = threading.Thread(target=other_writer)
    t.start()
    try:
        assert held.wait(60)
        info = rundir.inspect(out)
        assert info.state == "running" and info.owner.startswith(str(os.getpid()))
        with pytest.raises(runlock.RunBusyError, match=f"pid {os.getpid()}"):
            ssn_run.run(smoke(), out, show_progress=False)
    finally:
        release.set()
        t.join()
    assert rundir.inspect(out).state == "interrupted"


def test_every_family_refuses_a_directory_held_by_another_process(tmp_path):
    targets = {
        "ssn": lambda d: ssn_run.run(smoke(), d, show_progress=False),
        "microcircuit": lambda d: run_experiment(tiny(), d),
    }
    try:
        from spikealign.deep.symmetrize import symmetrize_run
        from spikealign.deep.train import train_run

        targets["deep"] = lambda d: train_run({"algo": "fa", "epochs": 1}, d)
        targets["symmetrize"] = lambda d: symmetrize_run({"sizes": [4, 3, 2], "epochs": 1}, d)
    except ImportError:  # no torch
        pass
    for name, start in targets.items():
        d = tmp_path / name
        proc = hold_in_other_process(d)
        try:
            with pytest.raises(runlock.RunBusyError, match=f"{re.escape(str(d))}.*pid {proc.pid}"):
                start(d)
        finally:
            proc.kill()
            proc.wait(timeout=60)
        assert sorted(p.name for p in d.iterdir()) == [".lock"], name  # nothing written


# -- item 3: damaged results and checkpoints ------------------------------------------------


def test_damaged_result_is_named_and_the_run_done_again(finished, tmp_path):
    out = copy_run(finished, tmp_path / "r")
    with np.load(finished / "results.npz") as f:
        want = {k: f[k] for k in f.files}
    truncate(out / "results.npz")
    info = rundir.inspect(out, SSN)
    assert info.state == "damaged"
    assert info.problems == [f"{out / 'results.npz'} (checksum mismatch)"]
    with pytest.warns(
        rundir.RunDirWarning,
        match=r"results.npz \(checksum mismatch\).*"
        "starts again",
    ):
        ssn_run.run(smoke(), out, show_progress=False, make_figure=False)
    assert rundir.inspect(out, SSN).state == "done"
    with np.load(out / "results.npz") as f:
        for k in want:
            np.testing.assert_array_equal(f[k], want[k], err_msg=k)


def test_damaged_checkpoint_restarts_the_run_with_a_warning(finished, tmp_path, monkeypatch):
    out = tmp_path / "r"
    original = Trainer.step_block
    calls = {"n": 0}

    def flaky(self, state, **kw):
        if calls["n"] == 1:
            raise KeyboardInterrupt
        calls["n"] += 1
        return original(self, state, **kw)

    monkeypatch.setattr(Trainer, "step_block", flaky)
    with pytest.raises(KeyboardInterrupt):
        ssn_run.run(smoke(), out, show_progress=False, make_figure=False)
    monkeypatch.undo()
    assert read_status(out)["state"] == "interrupted"
    truncate(out / "checkpoint.npz")
    r = cli("ssn", "run", "smoke", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    line = one_line(r.stderr)  # no traceback
    assert line.startswith("warning: ") and str(out / "checkpoint.npz") in line
    assert "restarts from its beginning" in line
    with np.load(finished / "results.npz") as a, np.load(out / "results.npz") as b:
        np.testing.assert_array_equal(a["dkls"], b["dkls"])


# -- item 6: Ctrl-C is `interrupted` in every family, and a rerun finishes ------------------


def test_ctrl_c_leaves_interrupted_in_the_microcircuit_family(tmp_path, monkeypatch):
    from spikealign.microcircuits import experiment

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "simulate", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny(), tmp_path / "mc")
    assert read_status(tmp_path / "mc")["state"] == "interrupted"
    assert rundir.inspect(tmp_path / "mc").state == "interrupted"
    monkeypatch.undo()
    run_experiment(tiny(), tmp_path / "mc", figure=False)
    assert rundir.inspect(tmp_path / "mc", rundir.LAYOUTS["microcircuit"]).state == "done"


def test_deep_damaged_checkpoint_and_ctrl_c(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from deep_synth import write_mnist_like
    from spikealign.deep import train as T

    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    write_mnist_like(data / "FashionMNIST" / "raw", n_train=32, n_test=8)
    cfg = {"algo": "fa", "epochs": 2, "batch_size": 16, "test_batch_size": 8, "augment": False}
    real = T._train_epoch
    calls = {"n": 0}

    def ctrl_c_in_epoch_2(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "_train_epoch", ctrl_c_in_epoch_2)
    out = tmp_path / "deep"
    with pytest.raises(KeyboardInterrupt):
        T.train_run(cfg, out, data_dir=data)
    monkeypatch.setattr(T, "_train_epoch", real)
    assert read_status(out)["state"] == "interrupted"
    truncate(out / "checkpoints" / "last.pt")
    with pytest.warns(rundir.RunDirWarning, match="last.pt: damaged checkpoint.*beginning"):
        m = T.train_run(cfg, out, data_dir=data)
    assert [e["epoch"] for e in m["epochs"]] == [1, 2]
    assert rundir.inspect(out, rundir.LAYOUTS["deep"]).state == "done"
    (out / "final_model.pt").write_bytes(b"garbage")
    info = rundir.inspect(out, rundir.LAYOUTS["deep"])
    assert info.state == "damaged" and str(out / "final_model.pt") in info.error()


# -- item 5: big networks -------------------------------------------------------------------


def test_figure_of_a_20_neuron_run_draws_the_most_probable_states(tmp_path, monkeypatch):
    from spikealign.ssn import plots

    n, n_val = 20, 3
    rng = np.random.default_rng(0)
    target = rng.dirichlet(np.full(2**n, 0.05))
    sampled = rng.dirichlet(np.full(2**n, 0.05), size=n_val)
    res = {
        "val_cycles": np.arange(n_val) * 10,
        "dkls": np.ones(n_val),
        "all_asym": np.ones(n_val),
        "all_weights": rng.normal(size=(n_val, n, n)),
        "all_biases": rng.normal(size=(n_val, n)),
        "target_weights": rng.normal(size=(n, n)),
        "target_biases": rng.normal(size=n),
        "target_distr": target,
        "all_distr": sampled,
    }
    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, stem: drawn.setdefault("fig", fig) and [])
    t0 = time.process_time()
    plots.run_figure(res, tmp_path / "figure")
    assert time.process_time() - t0 < 20
    bars = drawn["fig"].axes[5].patches
    assert 0 < len(bars) <= 2 * 128  # target and sampled bars of at most 128 states
    idx = plots.shown_states(target, sampled[-1])
    assert len(idx) == 128 and len(set(idx.tolist())) == len(idx)
    assert set(np.argsort(-target)[:40]) <= set(idx.tolist())  # the most probable states
    assert set(np.argsort(-sampled[-1])[:40]) <= set(idx.tolist())
    assert np.all(np.diff(target[idx]) <= 0)
    assert plots.shown_states(target[:128]).tolist() == list(range(128))  # 7 neurons: all
    plots.plt.close(drawn["fig"])


def test_checksums_record_every_result_file(finished):
    record = json.loads((finished / "checksums.json").read_text())
    assert set(record["files"]) == {"config.yaml", "results.npz", "metrics.json"}
    assert record["config_hash"] == ssn_run.config_hash(smoke())
    for name, digest in record["files"].items():
        assert rundir.file_digest(finished / name) == digest
