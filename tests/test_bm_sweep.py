"""bm experiments on the sweep engine: one real (tiny) run through ``sweep run`` on a local Dask
cluster, runs of another config never taken for done, ``bm sweep`` as an alias, ``sweep
list``, and the experiment figure of folders and sweep directories (fabricated runs)."""

import contextlib
import io
import shutil

import numpy as np
import pytest

from spikealign import cli, rundir
from spikealign.bm.figures import figure_bm
from spikealign.config import ConfigError, parse_overrides
from spikealign.io import atomic_save_npz, atomic_write_json, read_json, write_status
from spikealign.stats import holm, mean_ci, paired_test
from spikealign.sweep import engine, layout, presets, status, tasks
from spikealign.sweep.presets import build_specs

pytest.importorskip("distributed")
#: the figures of partly run sweeps name every unfinished run; checked where it matters
pytestmark = pytest.mark.filterwarnings("ignore:figure bm.*unfinished:UserWarning")

#: a bm run of a second or two: one epoch on 20 images, short phases, small evaluations
TINY_SET = [
    "epochs=1",
    "data.n_train=20",
    "data.n_test=20",
    "eval.steps=20",
    "eval.completion=0",
    "wake_steps=20",
    "network.n_hidden=8",
]
TINY = parse_overrides(TINY_SET, "lr.symm")
QUIET = {"show_progress": False, "echo": lambda *a, **k: None}


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def one_error_line(code, stdout, stderr):
    lines = stderr.strip().splitlines()
    assert code == 2 and stdout == "" and len(lines) == 1, (code, stdout, stderr)
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def starts(run_dir) -> int:
    return sum(" start " in ln for ln in (run_dir / "log.txt").read_text().splitlines())


@pytest.fixture(scope="module")
def long_sweep(tmp_path_factory):
    """``sweep run bm_digits_long --scale quick --limit 1`` with tiny runs: one real run on a
    one-worker local cluster, the rest planned; the figure drawn at the end."""
    out = tmp_path_factory.mktemp("bm") / "sw"
    sets = [a for s in TINY_SET for a in ("--set", s)]
    code, stdout, stderr = run_cli(
        [
            "sweep",
            "run",
            "bm_digits_long",
            "--scale",
            "quick",
            "--out",
            str(out),
            "--limit",
            "1",
            "--workers",
            "1",
            "--quiet",
            *sets,
        ]
    )
    assert code == 0, stdout + stderr
    _, specs = build_specs(["bm_digits_long"], "quick", TINY)
    done = [s for s in specs if tasks.run_state(out / s.rel_dir, s.hash, s.kind) == "done"]
    assert len(done) == 1
    return out, specs, done[0], stdout


def test_a_bm_run_through_the_sweep_engine(long_sweep):
    out, specs, spec, stdout = long_sweep
    run_dir = out / spec.rel_dir
    from spikealign.bm.experiments import EXPERIMENTS

    long = EXPERIMENTS["bm_digits_long"]
    assert len(specs) == 7 * len(long.seeds) and spec.kind == "bm"
    # the experiment's long sleeps survive --scale quick; --set epochs=1 wins over both
    assert spec.config["sleep_steps"] == long.base["sleep_steps"] and spec.config["epochs"] == 1
    m = read_json(run_dir / "metrics.json")
    assert m["config_hash"] and 0.0 <= m["test_accuracy"] <= 1.0
    assert m["n_validation"] == 300 and m["n_test"] == 20
    assert read_json(run_dir / "spec.json")["config_hash"] == spec.hash
    assert rundir.inspect(run_dir, rundir.LAYOUTS["bm"]).state == "done"
    summary = status.summarize(out)["total"]
    assert summary["runs"] == len(specs) and summary["done"] == 1
    assert summary["missing"] == len(specs) - 1
    # the experiment figure of the sweep, drawn at the end
    md = (out / "figures" / "bm_digits_long.md").read_text()
    assert "figure bm:" in stdout and (out / "figures" / "bm_digits_long.png").is_file()
    assert f"1/{len(long.seeds)}" in md and "95 % CI" in md


def test_other_settings_for_the_same_sweep_directory_are_refused(long_sweep):
    out, _, spec, _ = long_sweep
    with pytest.raises(layout.SweepConflict, match="other settings"):
        engine.sweep(
            ["bm_digits_long"],
            out,
            scale="quick",
            overrides={**TINY, "sleep_steps": 500},
            limit=1,
            **QUIET,
        )
    code, stdout, stderr = run_cli(
        [
            "sweep",
            "run",
            "bm_digits_long",
            "--scale",
            "quick",
            "--out",
            str(out),
            "--limit",
            "1",
            "--set",
            "epochs=2",
        ]
    )
    assert "other settings" in one_error_line(code, stdout, stderr)
    assert starts(out / spec.rel_dir) == 1  # nothing was run again


@pytest.mark.parametrize("spec_file", ["foreign", "none"])
def test_a_finished_run_of_another_config_is_never_done(long_sweep, tmp_path, spec_file):
    """The long-sleep run copied into a part of bm_digits (shorter sleeps): with its own
    spec.json, or without one (as ``bm train --out`` leaves a run). Refused, never done."""
    long_out, _, long_spec, _ = long_sweep
    out = tmp_path / "sw"
    engine.sweep(["bm_digits"], out, scale="quick", overrides=TINY, limit=0, **QUIET)
    _, specs = build_specs(["bm_digits"], "quick", TINY)
    spec = next(s for s in specs if s.part == "bm_digits-clean-none" and s.index == 0)
    assert spec.hash != long_spec.hash and spec.config["sleep_steps"] == 500
    run_dir = out / spec.rel_dir
    shutil.copytree(long_out / long_spec.rel_dir, run_dir)
    if spec_file == "none":
        (run_dir / "spec.json").unlink()
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert rundir.inspect(run_dir, rundir.LAYOUTS["bm"]).state == "done"  # a finished run...
    assert tasks.run_state(run_dir, spec.hash, "bm") == "conflict"  # ... of another config
    with pytest.raises(layout.SweepConflict, match=str(run_dir)):
        tasks.plan(specs, out)
    with pytest.raises(layout.SweepConflict, match="another config"):
        engine.sweep(["bm_digits"], out, scale="quick", overrides=TINY, limit=1, **QUIET)
    res = tasks.execute(spec.to_dict(), str(out))
    assert res["state"] == "failed" and "another config" in res["error"]
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    summary = status.summarize(out)
    assert summary["total"]["done"] == 0
    assert summary["parts"]["bm_digits-clean-none"]["interrupted"] == 1
    # the experiment figure leaves it out, naming it (beside a finished run of this sweep)
    fake_run(out / "bm_digits-clean-none" / "run.0001", "digits", seed=1)
    with pytest.warns(UserWarning, match="run.0000 left out: holds a run of another config"):
        figure_bm(out, tmp_path / "fig")
    assert "| clean | none | 1/10 |" in (tmp_path / "fig" / "bm_digits.md").read_text()


def test_bm_sweep_into_a_folder_of_other_files_is_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    monkeypatch.chdir(folder)

    def must_not_run(*a, **k):
        raise AssertionError("a sweep into a folder of other files ran")

    monkeypatch.setattr(engine, "run_sweep", must_not_run)
    line = one_error_line(*run_cli(["bm", "sweep", "digits", "--out", "."]))
    assert "did not create (notes.txt)" in line
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    line = one_error_line(*run_cli(["sweep", "run", "bm_bars", "--out", str(folder)]))
    assert "notes.txt" in line


def test_bm_sweep_is_an_alias_of_sweep_run(monkeypatch, tmp_path):
    from spikealign.bm.sweep import preset_name
    from spikealign.sweep import cli as sweep_cli

    for name, preset in (
        ("digits", "bm_digits"),
        ("digits-long", "bm_digits_long"),
        ("bm_digits_long", "bm_digits_long"),
        ("bars", "bm_bars"),
        ("sleep", "bm_sleep"),
        ("fmnist", "bm_fmnist"),
    ):
        assert preset_name(name) == preset
    with pytest.raises(ConfigError) as exc:
        preset_name("digits_lon")
    msg = str(exc.value)
    assert "\n" not in msg and "digits_lon" in msg
    assert "experiments: digits, digits-long, bars, sleep, fmnist" in msg
    out = tmp_path / "x"
    line = one_error_line(*run_cli(["bm", "sweep", "cifar", "--out", str(out)]))
    assert "unknown bm experiment 'cifar'" in line and "digits-long" in line
    assert not out.exists()
    seen = {}
    monkeypatch.setattr(sweep_cli, "run_cmd", lambda **kw: seen.update(kw))
    code, _, stderr = run_cli(
        ["bm", "sweep", "digits-long", "--out", str(out), "--scale", "quick", "--workers", "1"]
    )
    assert code == 0, stderr
    assert seen["presets"] == ["bm_digits_long"] and seen["out"] == out
    assert seen["scale"] == "quick" and seen["workers"] == 1 and seen["figures"]


def test_sweep_list_and_bm_presets_list_the_bm_experiments():
    from spikealign.bm.experiments import EXPERIMENTS

    code, stdout, stderr = run_cli(["sweep", "list"])
    assert code == 0, stderr
    rows = {ln.split()[0]: ln.split() for ln in stdout.splitlines()[1:] if ln.strip()}
    assert set(EXPERIMENTS) == {"bm_digits", "bm_digits_long", "bm_bars", "bm_sleep", "bm_fmnist"}
    for name, exp in EXPERIMENTS.items():
        n = len(exp.cells()) * len(exp.seeds) + len(exp.baseline_seeds)
        assert int(rows[name][1]) == n, rows[name]
        assert "[beyond the paper]" in " ".join(rows[name])
        _, specs = build_specs([name], "paper")
        assert len(specs) == n
    assert len(EXPERIMENTS["bm_digits"].cells()) == 7  # clean runs without alignment only
    code, stdout, _ = run_cli(["bm", "presets"])
    assert code == 0
    n = 7 * len(EXPERIMENTS["bm_digits"].seeds) + len(EXPERIMENTS["bm_digits"].baseline_seeds)
    assert "sweep bm_digits  " in stdout and f"{n} runs" in stdout
    assert "spikealign sweep run bm_digits_long" in stdout


# -- the experiment figure ----------------------------------------------------------------------


def fake_run(
    run_dir, task, feedback="none", synaptic=0.0, plasticity=0.0, score=0.9, asym=1e-3, seed=0
):
    """A finished bm run's files (as an earlier version left them: no checksums)."""
    run_dir.mkdir(parents=True)
    digits = task != "bars"
    atomic_write_json(
        run_dir / "metrics.json",
        {
            "task": task,
            "feedback": feedback,
            "synaptic_noise": synaptic,
            "plasticity_noise": plasticity,
            "asymmetry": asym,
            "test_accuracy": score if digits else None,
            "validation_accuracy": score - 0.01 if digits else None,
            "dkl_exact": None if digits else score,
            "dkl_sampled": None if digits else score,
        },
    )
    atomic_save_npz(
        run_dir / "results.npz",
        asym=np.array([0.0, asym]),
        val_accuracy=np.array([0.5, score] if digits else [np.nan, np.nan]),
        dkl_exact=np.array([np.nan, np.nan] if digits else [1.0, score]),
        dkl_sampled=np.array([np.nan, np.nan] if digits else [1.0, score]),
        eval_epochs=np.array([1, 2]),
    )
    (run_dir / "config.yaml").write_text(f"task: {task}\nseed: {{init: {seed}}}\n")
    write_status(run_dir, "done")


def test_figure_of_a_folder_mixing_tasks_names_the_odd_run(tmp_path):
    folder = tmp_path / "runs"
    fake_run(folder / "a", "digits", seed=0)
    fake_run(folder / "b", "digits", seed=1)
    fake_run(folder / "odd-one", "bars", seed=0)
    with pytest.raises(ValueError, match=r"mixes tasks; odd-one \(bars\) is not digits"):
        figure_bm(folder, tmp_path / "fig")
    assert not (tmp_path / "fig").exists()
    line = one_error_line(*run_cli(["figure", "bm", str(folder), "--out", str(tmp_path / "fig")]))
    assert "odd-one (bars)" in line
    shutil.rmtree(folder / "odd-one")
    paths = figure_bm(folder, tmp_path / "fig")
    assert [p.name for p in paths] == ["runs.png", "runs.pdf", "runs.npz", "runs.md"]


#: fabricated scores of the digits experiment: (condition, feedback) -> per seed
DIGITS = {
    ("clean", "none"): [0.90, 0.92, 0.91, 0.93],
    ("synaptic", "none"): [0.80, 0.83, 0.79, 0.82],
    ("synaptic", "sal"): [0.89, 0.90, 0.90, 0.93],
}
ASYM = {("clean", "none"): 0.0, ("synaptic", "none"): 0.25, ("synaptic", "sal"): 0.01}


def fake_bm_sweep(out):
    """Manifest of bm_digits and bm_bars (quick) with fabricated finished runs of some cells
    and two baseline seeds."""
    parts, specs = build_specs(["bm_digits", "bm_bars"], "quick")
    layout.update_manifest(
        out,
        {
            p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], "quick", {})
            for p in parts
        },
        {"command": "test"},
    )
    for s in specs:
        key = (s.params["condition"], s.params["feedback"])
        seed = s.params["seed"]
        run_dir = out / s.rel_dir
        if s.part.startswith("bm_digits-baselines"):
            if seed < 2:
                run_dir.mkdir(parents=True)
                atomic_write_json(
                    run_dir / "baselines.json",
                    {
                        "knn": {
                            "validation_accuracy": 0.95,
                            "test_accuracy": 0.96 + 0.01 * seed,
                            "hyperparameters": {"k": 1},
                            "seconds": 0.1,
                        }
                    },
                )
                write_status(run_dir, "done")
            continue
        syn = 0.5 if key[0] == "synaptic" else 0.0
        if s.part.startswith("bm_digits") and key in DIGITS and seed < 4:
            fake_run(
                run_dir,
                "digits",
                key[1],
                syn,
                0.0,
                DIGITS[key][seed],
                ASYM[key] * (1 + 0.1 * seed),
                seed,
            )
        elif s.part.startswith("bm_bars") and key in DIGITS and seed < 3:
            fake_run(
                run_dir,
                "bars",
                key[1],
                syn,
                0.0,
                0.1 * (1 + seed) * (2 if key == ("synaptic", "none") else 1),
                ASYM[key] + 0.01 * seed,
                seed,
            )
    return specs


def ci_text(values):
    ci = mean_ci(values)
    return f"{ci.mean:.4g} [{ci.low:.4g}, {ci.high:.4g}]"


def test_figure_of_a_sweep_directory_one_per_experiment_with_cis(tmp_path):
    out = tmp_path / "sw"
    fake_bm_sweep(out)
    with pytest.warns(UserWarning, match="left out"):  # the unfinished (missing) runs
        paths = figure_bm(out, tmp_path / "fig")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"{e}.{x}" for e in ("bm_digits", "bm_bars") for x in ("png", "pdf", "npz", "md")
    )
    md = (tmp_path / "fig" / "bm_digits.md").read_text()
    for (cond, fb), vals in DIGITS.items():
        row = f"| {cond} | {fb} | 4/10 | {ci_text(vals)} |"
        assert row in md, (row, md)
    assert "| plasticity |" not in md  # no finished runs: no row
    base = mean_ci([0.96, 0.97])
    assert f"| knn | 2 | {base.mean:.4g} [{base.low:.4g}, {base.high:.4g}] |" in md
    # paired comparisons, Holm-corrected over all of them
    comp = [
        ln.split("|")
        for ln in md.splitlines()
        if ln.count("|") == 8 and any(op in ln.split("|")[1] for op in (" - ", " / "))
    ]
    assert [c[1].strip() for c in comp] == [
        "synaptic none - clean",
        "synaptic sal - clean",
        "synaptic sal - synaptic none",
        "synaptic sal / synaptic none",
    ]
    raw = [
        paired_test(DIGITS[("synaptic", "none")], DIGITS[("clean", "none")]).p_t,
        paired_test(DIGITS[("synaptic", "sal")], DIGITS[("clean", "none")]).p_t,
        paired_test(DIGITS[("synaptic", "sal")], DIGITS[("synaptic", "none")]).p_t,
    ]
    asym_sal = [ASYM[("synaptic", "sal")] * (1 + 0.1 * k) for k in range(4)]
    asym_none = [ASYM[("synaptic", "none")] * (1 + 0.1 * k) for k in range(4)]
    raw.append(paired_test(np.log10(asym_sal), np.log10(asym_none)).p_t)
    for c, p, p_holm in zip(comp, raw, holm(raw), strict=True):
        assert c[5].strip() == f"{p:.2g}" and c[6].strip() == f"{p_holm:.2g}", c
    bars = (tmp_path / "fig" / "bm_bars.md").read_text()
    assert "final D_KL (sampled)" in bars and "final D_KL (exact, (W+W^T)/2)" in bars
    assert "| synaptic | none | 3/10 |" in bars
    with np.load(tmp_path / "fig" / "bm_digits.npz") as f:
        assert f["synaptic_sal_test_accuracy"].tolist() == DIGITS[("synaptic", "sal")]
        assert f["synaptic_sal_seeds"].tolist() == [0, 1, 2, 3]


def test_free_samples_figure_of_a_bm_digits_sweep(tmp_path):
    """figure bm-samples: the visible states of a free phase of the networks of seed 0 of
    clean / synaptic / synaptic+SAL, taken from the sweep's own runs; a sweep without these
    runs gives one line naming them."""
    from spikealign.figures import make_figure
    from spikealign.sweep import tasks

    tiny = {
        "epochs": 1,
        "data": {"n_train": 20},
        "wake_steps": 20,
        "sleep_steps": 40,
        "eval": {"steps": 20, "completion": 0},
    }
    out = tmp_path / "sw"
    parts, specs = build_specs(["bm_digits"], "quick", tiny)
    with pytest.raises(ValueError, match="no finished bm_digits runs of clean-none"):
        layout.update_manifest(
            out,
            {
                p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], "quick", tiny)
                for p in parts
            },
            {"command": "test"},
        )
        make_figure("bm-samples", out, tmp_path / "fig", False)
    want = [
        s
        for s in specs
        if s.params.get("seed") == 0
        and (s.params["condition"], s.params["feedback"])
        in {("clean", "none"), ("synaptic", "none"), ("synaptic", "sal")}
    ]
    assert len(want) == 3
    for s in want:
        assert tasks.execute(s.to_dict(), str(out))["state"] == "done"
    paths = make_figure("bm-samples", out, tmp_path / "fig", True)
    assert [p.name for p in paths] == ["bm_samples.png", "bm_samples.pdf", "bm_samples.npz"]
    with np.load(paths[2]) as f:
        assert sorted(f.files) == sorted(s.part for s in want)
        for k in f.files:
            x = f[k]
            assert x.shape == (16, 64) and set(np.unique(x)) <= {0, 1}
        # the samples are those of the run's final network (its own config, seed 0 stream)
        from spikealign.bm.config import load_config
        from spikealign.bm.figures import free_samples

        s = want[2]
        cfg = load_config(out / s.rel_dir / "config.yaml")
        with np.load(out / s.rel_dir / "results.npz") as r:
            again = free_samples(
                r["final_weights"],
                r["final_biases"],
                cfg,
                16,
                100,
                1000,
                np.random.default_rng([0, 2024]),
            )
            init = free_samples(
                r["initial_weights"],
                r["initial_biases"],
                cfg,
                16,
                100,
                1000,
                np.random.default_rng([0, 2024]),
            )
        assert np.array_equal(f[s.part], again) and not np.array_equal(f[s.part], init)


def test_comparisons_use_the_experiments_reference_and_order():
    """bm_sleep has no clean condition: every sleep variant is compared with its reference,
    the digits preset's 2000-step sleep, on test and validation accuracy, paired by seed; the
    table keeps the preset's order (500, 2000, 8000, persistent ...)."""
    from spikealign.bm.figures import Cell, ExperimentRuns, _condition_order, comparisons, table

    rng = np.random.default_rng(0)
    base = rng.uniform(0.88, 0.93, 5)
    shift = {"sleep500": -0.02, "sleep2000": 0.0, "sleep8000": 0.01, "persistent500": 0.0}
    cells = {}
    for cond, d in shift.items():
        ms = [
            {"test_accuracy": b + d, "validation_accuracy": b + d / 2, "asymmetry": 0.0}
            for b in base
        ]
        cells[(cond, "none")] = Cell(cond, "none", list(range(5)), ms, [{} for _ in ms])
    exp = ExperimentRuns("bm_sleep", "digits", cells, [], {}, [])
    assert _condition_order(exp)[:4] == ["sleep500", "sleep2000", "sleep8000", "persistent500"]
    rows = comparisons(exp)
    assert [(r["comparison"], r["metric"]) for r in rows[:2]] == [
        ("sleep500 none - sleep2000", "test_accuracy"),
        ("sleep500 none - sleep2000", "validation_accuracy"),
    ]
    assert len(rows) == 6  # three variants x two metrics, none against itself
    by = {(r["comparison"], r["metric"]): r for r in rows}
    assert by[("sleep500 none - sleep2000", "test_accuracy")]["diff"] == pytest.approx(-0.02)
    assert by[("sleep8000 none - sleep2000", "validation_accuracy")]["diff"] == pytest.approx(0.005)
    lines = table(exp)
    order = [
        ln.split("|")[1].strip()
        for ln in lines
        if ln.startswith("| sleep") or ln.startswith("| persistent")
    ]
    assert order[:4] == ["sleep500", "sleep2000", "sleep8000", "persistent500"]


def test_each_cell_of_a_bm_experiment_is_a_preset_of_its_own():
    """One cell (or the baselines) of an experiment runs on its own, as the SSN parts do."""
    _, specs = build_specs(["bm_fmnist-synaptic-sal"], "quick")
    assert {s.part for s in specs} == {"bm_fmnist-synaptic-sal"} and len(specs) == 3
    _, base = build_specs(["bm_digits-baselines"], "paper")
    assert {s.kind for s in base} == {"bm_baselines"} and len(base) == 5
    _, whole = build_specs(["bm_digits"], "paper")
    _, cells = build_specs([p for p in presets.PRESETS if p.startswith("bm_digits-")], "paper")
    assert sorted(s.hash for s in cells) == sorted(s.hash for s in whole)


@pytest.mark.parametrize(
    "experiment,measured_s", [("bm_digits", 150.0), ("bm_bars", 26.0), ("bm_fmnist", 765.0)]
)
def test_bm_cost_model_matches_the_measured_runs(experiment, measured_s):
    """`sweep list` estimates: a noise-free paper run of each task within 20 % of its measured
    median CPU time here (174 / 17 / 406 units; the work grows with the synapses reached)."""
    _, specs = build_specs([experiment], "paper")
    run = next(s for s in specs if s.part.endswith("clean-none"))
    assert run.cost == pytest.approx(measured_s, rel=0.2)
