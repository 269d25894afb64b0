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

TINY = {
    "epochs": 4,
    "batch_size": 7,
    "wake_steps": 40,
    "sleep_steps": 100,
    "lr": {"weight": 0.1, "bias": 0.05, "symm": 0.1},
    "init": {"synaptic_noise": 0.3},
    "stdp": {"noise": 0.2},
    "eval": {"every": 2, "steps": 50, "dkl_steps": 3000},
    "checkpoint_every": 1,
}


def tiny_cfg(**kw):
    return load_config("bars", overrides={**TINY, **kw})


def cli(*args, cwd=None):
    env = {**os.environ, "SPIKEALIGN_QUIET": "1"}
    return subprocess.run(
        [sys.executable, "-m", "spikealign", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "override, field",
    [
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
    ],
)
def test_bad_configs_are_rejected_naming_the_field(override, field):
    with pytest.raises(ConfigError) as exc:
        load_config("bars", overrides=override)
    msg = str(exc.value)
    assert field in msg and "\n" not in msg


def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "task: digits\nnetwork: {n_hidden: 10}\nepochs: 1\nbatch_size: 2\n"
        "wake_steps: 10\nsleep_steps: 10\nlr: {weight: 0.1, bias: 0.1}\nbogus: 1\n"
    )
    for args in (
        ("bm", "train", str(bad), "--out", str(tmp_path / "o")),
        ("bm", "train", "digits-quick", "--out", str(tmp_path / "o"), "--set", "lr.weight=.nan"),
        ("bm", "train", "no-such-preset"),
        ("bm", "check", "digits-quick", "--set", "sim.t_ref=0"),
    ):
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
    r = cli(
        "bm",
        "train",
        "digits-quick",
        "--out",
        str(out),
        "--set",
        "epochs=1",
        "--set",
        "data.n_train=40",
        "--set",
        "data.n_test=30",
        "--set",
        "lr.kp=0.01",
        "--set",
        "network.n_hidden=10",
        "--set",
        "eval.completion=5",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["feedback"] == "kp" and 0.0 <= m["test_accuracy"] <= 1.0
    assert 0.0 <= m["validation_accuracy"] <= 1.0 and m["coactivation"] == "exact"
    assert (m["n_train"], m["n_validation"], m["n_test"]) == (40, 300, 30)
    assert m["select"] == "last" and m["selected_epoch"] == 1 and m["asymmetry"] >= 0.0
    assert "test accuracy" in r.stdout
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


def test_experiment_grids_are_sweep_presets():
    from spikealign.bm.experiments import EXPERIMENTS
    from spikealign.sweep.presets import PRESETS, build_specs

    exp = EXPERIMENTS["bm_digits"]
    parts, specs = build_specs(["bm_digits"], "paper")
    cells = [
        f"bm_digits-{c}-{f}"
        for c, f in (
            ("clean", "none"),
            ("synaptic", "none"),
            ("synaptic", "sal"),
            ("synaptic", "kp"),
            ("plasticity", "none"),
            ("plasticity", "sal"),
            ("plasticity", "kp"),
        )
    ]
    assert [p.name for p in parts] == [*cells, "bm_digits-baselines"]
    assert [p.kind for p in parts] == ["bm"] * 7 + ["bm_baselines"]
    by = {(s.part, s.index): s for s in specs}
    assert len(specs) == 7 * len(exp.seeds) + len(exp.baseline_seeds)
    s = by[("bm_digits-synaptic-sal", 1)]
    assert s.config["seed"] == {"data": 0, "init": 1, "sim": 101}
    assert s.params == {"condition": "synaptic", "feedback": "sal", "seed": 1}
    assert s.config["init"]["synaptic_noise"] == 0.5 and s.config["lr"]["symm"] == 0.2
    assert by[("bm_digits-clean-none", 0)].config["init"]["synaptic_noise"] == 0.0
    assert by[("bm_digits-plasticity-kp", 3)].config["stdp"]["noise"] == 0.5
    assert by[("bm_digits-plasticity-kp", 3)].config["lr"]["kp"] > 0
    base = by[("bm_digits-baselines", 4)].config
    assert base["seed"] == 4 and base["task"] == "digits" and base["n_hidden"] == 100
    # the long-sleep experiment: the same cells and seeds, every run with its long sleeps
    long = EXPERIMENTS["bm_digits_long"]
    long_parts, long_specs = build_specs(["bm_digits_long"], "paper")
    assert [p.name for p in long_parts] == [c.replace("bm_digits", "bm_digits_long") for c in cells]
    steps = long.base["sleep_steps"]
    assert steps > s.config["sleep_steps"]
    assert all(x.config["sleep_steps"] == steps for x in long_specs)
    ls = {(x.part, x.index): x for x in long_specs}[("bm_digits_long-synaptic-sal", 1)]
    assert ls.config["lr"] == s.config["lr"] and ls.config["seed"] == s.config["seed"]
    # --scale quick: the same grid, shorter runs; the experiment's own settings kept
    _, quick = build_specs(["bm_digits"], "quick")
    assert [(x.part, x.index) for x in quick] == [(x.part, x.index) for x in specs]
    runs = [x for x in quick if x.kind == "bm"]
    assert all(x.config["epochs"] == exp.quick["epochs"] < s.config["epochs"] for x in runs)
    _, long_quick = build_specs(["bm_digits_long"], "quick")
    assert all(x.config["sleep_steps"] == steps for x in long_quick)
    for name in ("bm_digits", "bm_digits_long", "bm_bars", "bm_sleep", "bm_fmnist"):
        assert name in PRESETS


def tiny_bars_runs(folder):
    """Tiny bars runs of three cells into ``folder/<cell>-s0`` (``bm train`` style)."""
    from spikealign.bm.experiments import EXPERIMENTS
    from spikealign.config import merge

    exp = EXPERIMENTS["bm_bars"]
    base = {
        **{k: v for k, v in TINY.items() if k not in ("init", "stdp")},
        "lr": {"weight": 0.1, "bias": 0.05},
    }  # noise-free unless the condition adds it
    for cond, fb in (("clean", "none"), ("synaptic", "sal"), ("synaptic", "none")):
        over = merge(merge(base, exp.conditions[cond]), exp.feedbacks[fb])
        cfg = load_config("bars", overrides=over)
        run_mod.run(cfg, folder / f"{cond}-{fb}-s0", show_progress=False, make_figure=False)


def test_experiment_figure_of_a_folder_of_runs(tmp_path):
    from spikealign.bm.figures import figure_bm
    from spikealign.figures import FIGURES

    folder = tmp_path / "bars-runs"
    tiny_bars_runs(folder)
    paths = figure_bm(folder, tmp_path / "fig")
    assert [p.name for p in paths] == [
        "bars-runs.png",
        "bars-runs.pdf",
        "bars-runs.npz",
        "bars-runs.md",
    ]
    assert all(p.is_file() for p in paths)
    table = (tmp_path / "fig" / "bars-runs.md").read_text()
    # one run per cell; tiny runs may leave a state unsampled (infinite sampled D_KL), which
    # the table counts beside the run count rather than averaging in
    assert "| synaptic | sal | 1/1" in table and "| clean | none | 1/1" in table
    assert "95 % CI" in table
    # a damaged run is left out with a warning naming it; an --out that is a file is refused
    (folder / "synaptic-sal-s0" / "metrics.json").write_text("{broken")
    with pytest.warns(UserWarning, match="synaptic-sal-s0 left out"):
        figure_bm(folder, tmp_path / "fig2")
    assert "| synaptic | sal |" not in (tmp_path / "fig2" / "bars-runs.md").read_text()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutDirError, match="is a file"):
        figure_bm(folder, tmp_path / "afile")
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
