"""bm configs, run directories and the command line, end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from spikealign.bm import load_config
from spikealign.bm import run as run_mod
from spikealign.bm.train import Trainer
from spikealign.config import ConfigError
from spikealign.io import OutputExistsError, read_status
from spikealign.rundir import OutDirError

TINY = {"epochs": 4, "batch_size": 7, "wake_steps": 40, "sleep_steps": 100,
        "lr": {"weight": 0.1, "bias": 0.05, "symm": 0.1},
        "init": {"synaptic_noise": 0.3}, "stdp": {"noise": 0.2},
        "eval": {"every": 2, "steps": 50, "dkl_steps": 3000}, "checkpoint_every": 1}


def tiny_cfg(**kw):
    return load_config("bars", overrides={**TINY, **kw})


def cli(*args, cwd=None):
    env = {**os.environ, "SPIKEALIGN_QUIET": "1"}
    return subprocess.run([sys.executable, "-m", "spikealign", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("override, field", [
    ({"lr": {"weight": -1.0}}, "lr.weight"),
    ({"lr": {"kp": 1.5}}, "lr.kp"),
    ({"epochs": "ten"}, "epochs"),
    ({"wake_steps": 0}, "wake_steps"),
    ({"lr": {"symm": float("nan")}}, "lr.symm"),
    ({"init": {"synaptic_noise": float("inf")}}, "init.synaptic_noise"),
    ({"network": {"n_hiden": 3}}, "network.n_hiden"),
    ({"clamping": "soft"}, "clamping"),
    ({"task": "cifar"}, "task"),
    ({"network": {"n_hidden": 30}}, "network.n_hidden"),
])
def test_bad_configs_are_rejected_naming_the_field(override, field):
    with pytest.raises(ConfigError) as exc:
        load_config("bars", overrides=override)
    msg = str(exc.value)
    assert field in msg and "\n" not in msg


def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: digits\nnetwork: {n_hidden: 10}\nepochs: 1\nbatch_size: 2\n"
                   "wake_steps: 10\nsleep_steps: 10\nlr: {weight: 0.1, bias: 0.1}\nbogus: 1\n")
    for args in (("bm", "train", str(bad), "--out", str(tmp_path / "o")),
                 ("bm", "train", "digits-quick", "--out", str(tmp_path / "o"),
                  "--set", "lr.weight=.nan"),
                 ("bm", "train", "no-such-preset"),
                 ("bm", "check", "digits-quick", "--set", "sim.t_ref=0")):
        r = cli(*args)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert not (tmp_path / "o").exists()  # rejected before anything is written


def test_presets_list_and_check():
    r = cli("bm", "presets")
    assert r.returncode == 0 and "digits-quick" in r.stdout and "bars" in r.stdout
    r = cli("bm", "check", "digits-quick", "--set", "lr.symm=0.2")
    assert r.returncode == 0 and "symm: 0.2" in r.stdout and "feedback: sal" in r.stdout


def test_cli_train_writes_metrics_with_the_contract_keys(tmp_path):
    out = tmp_path / "run"
    r = cli("bm", "train", "digits-quick", "--out", str(out), "--set", "epochs=1",
            "--set", "data.n_train=40", "--set", "data.n_test=30", "--set", "lr.kp=0.01",
            "--set", "network.n_hidden=10", "--set", "eval.completion=5", "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["feedback"] == "kp" and 0.0 <= m["test_accuracy"] <= 1.0
    assert m["n_test"] == 30 and m["asymmetry"] >= 0.0
    for f in ("config.yaml", "results.npz", "figure.png", "figure.pdf", "checksums.json"):
        assert (out / f).is_file(), f
    r = cli("bm", "train", "digits-quick", "--out", str(out), "--set", "epochs=1")
    assert r.returncode == 2 and "finished run" in r.stderr


@pytest.mark.parametrize("chain", ["fresh", "persistent"])
def test_run_resumes_bit_identically_and_refuses_overwrite(tmp_path, monkeypatch, chain):
    cfg = tiny_cfg(sleep_chain=chain, sleep_phases=2)
    ref = run_mod.run(cfg, tmp_path / "ref", show_progress=False, make_figure=False)
    with np.load(tmp_path / "ref" / "results.npz") as a:
        W_ref = a["final_weights"].copy()
        assert set(a.files) == set(run_mod.RESULT_FIELDS)

    calls = {"n": 0}
    orig = Trainer.epoch

    def interrupted(self, state, on_batch=None):
        if calls["n"] == 3:
            raise KeyboardInterrupt
        calls["n"] += 1
        return orig(self, state, on_batch)

    monkeypatch.setattr(Trainer, "epoch", interrupted)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_mod.run(cfg, out, show_progress=False, make_figure=False)
    assert read_status(out)["state"] == "interrupted"
    with np.load(out / "checkpoint.npz") as a:
        assert int(a["epoch"]) == 3
        # persistent sleep chains are part of the checkpoint (one per sleep phase)
        assert ("chain1_nrn" in a.files) == (chain == "persistent")
        assert "chain2_nrn" not in a.files
    monkeypatch.setattr(Trainer, "epoch", orig)
    done = {"n": 0}

    def counting(self, state, on_batch=None):
        done["n"] += 1
        return orig(self, state, on_batch)

    monkeypatch.setattr(Trainer, "epoch", counting)
    m = run_mod.run(cfg, out, show_progress=False, make_figure=False)
    assert done["n"] == 1  # only the missing epoch
    with np.load(out / "results.npz") as a:
        assert np.array_equal(a["final_weights"], W_ref)
    assert m["dkl_sampled"] == ref["dkl_sampled"] and m["asymmetry"] == ref["asymmetry"]
    assert m["feedback"] == "sal" and not (out / "checkpoint.npz").exists()
    with pytest.raises(OutputExistsError):
        run_mod.run(cfg, out, show_progress=False, make_figure=False)


def test_sweep_grid_and_experiment_figure(tmp_path):
    from spikealign.bm.figures import figure_bm
    from spikealign.bm.sweep import SWEEPS
    from spikealign.figures import FIGURES

    runs = SWEEPS["digits"].runs(2)
    names = [n for n, _ in runs]
    assert len(names) == len(set(names)) == 14 and names[0] == "clean-none-s0"
    ov = dict(runs)
    assert ov["synaptic-sal-s1"]["seed"] == {"init": 1, "sim": 101}
    assert ov["synaptic-sal-s1"]["init"]["synaptic_noise"] > 0 and ov["synaptic-sal-s1"]["lr"]
    long = dict(SWEEPS["digits-long"].runs(1))  # the same grid, every run with long sleeps
    assert set(long) == {n for n in names if n.endswith("-s0")}
    assert all(o["sleep_steps"] == 2000 for o in long.values())
    assert long["synaptic-sal-s0"]["lr"] == ov["synaptic-sal-s0"]["lr"]
    for name in ("clean-none-s0", "synaptic-sal-s0", "synaptic-none-s0"):
        _, ovr = next(r for r in SWEEPS["bars"].runs(1) if r[0] == name)
        cfg = load_config("bars", overrides={**TINY, **ovr, "lr": {**TINY["lr"],
                                                                     **ovr.get("lr", {})}})
        run_mod.run(cfg, tmp_path / "sweep" / name, show_progress=False, make_figure=False)
    paths = figure_bm(tmp_path / "sweep", tmp_path / "fig")
    assert all(p.is_file() for p in paths)
    table = (tmp_path / "fig" / "bm_experiment.md").read_text()
    assert "| synaptic | sal | 1 |" in table and "| clean | none | 1 |" in table
    # a damaged run is left out with a warning naming it; an --out that is a file is refused
    (tmp_path / "sweep" / "synaptic-sal-s0" / "metrics.json").write_text("{broken")
    with pytest.warns(UserWarning, match="synaptic-sal-s0: left out of figure bm, damaged"):
        figure_bm(tmp_path / "sweep", tmp_path / "fig2")
    assert "| synaptic | sal |" not in (tmp_path / "fig2" / "bm_experiment.md").read_text()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutDirError, match="is a file"):
        figure_bm(tmp_path / "sweep", tmp_path / "afile")
    assert FIGURES["bm"][:3] == ("spikealign.bm.figures", "figure_bm", True)


def test_persistent_sleep_chains_continue_and_differ_from_fresh_ones():
    from spikealign.bm.train import train

    fresh, _ = train(tiny_cfg(epochs=2))
    pers, trainer = train(tiny_cfg(epochs=2, sleep_chain="persistent"))
    again, _ = train(tiny_cfg(epochs=2, sleep_chain="persistent"))
    assert np.array_equal(pers.W, again.W)  # seeded
    assert not np.array_equal(pers.W, fresh.W)
    n_updates = 2 * trainer.n_batches()
    assert [c.time for c in pers.chains] == [n_updates * TINY["sleep_steps"]]
    with pytest.raises(ValueError, match="persistent"):
        Trainer(tiny_cfg(sleep_chain="persistent"), engine="reference")
