"""Figures 4 and 5 from sweep directories, with missing, failed and odd runs (synthetic data)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from spikealign.figures import make_figure
from spikealign.io import atomic_save_npz, write_status
from spikealign.sweep import layout
from spikealign.sweep.figures import figure_data, quartiles
from spikealign.sweep.presets import build_specs

CYCLES = np.arange(0, 20001, 500)


def fake_sweep(out, preset, skip=(), fail=(), other_cycles=(), manifest=True):
    """Every run's curves are constant: value = (index + 1) * factor(part)."""
    parts, specs = build_specs([preset], "quick")
    factor = {p.name: k + 1.0 for k, p in enumerate(parts)}
    if manifest:
        layout.update_manifest(
            out,
            {
                p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], "quick", {})
                for p in parts
            },
            {"command": "test"},
        )
    for s in specs:
        key = (s.part, s.index)
        if key in skip:
            continue
        run_dir = out / s.rel_dir
        run_dir.mkdir(parents=True)
        if key in fail:
            write_status(run_dir, "failed", error="boom")
            continue
        v = (s.index + 1) * factor[s.part]
        cyc = CYCLES[:-1] if key in other_cycles else CYCLES
        atomic_save_npz(
            run_dir / "results.npz",
            dkls=np.full(len(cyc), v),
            all_asym=np.full(len(cyc), v / 1000),
            val_cycles=cyc,
        )
        write_status(run_dir, "done")
    return parts, specs


def test_figure_of_a_sweep_without_finished_runs_says_so(tmp_path):
    out = tmp_path / "sw"
    _, specs = build_specs(["fig4"], "quick")
    fake_sweep(out, "fig4", skip={(s.part, s.index) for s in specs})
    with pytest.raises(
        FileNotFoundError,
        match=r"figure 4: none of the 360 planned runs .* "
        r"has finished yet",
    ):
        make_figure("4", out, tmp_path / "fig", False)
    assert not (tmp_path / "fig" / "fig4.png").exists()


def test_missing_runs_are_marked_not_misaligned(tmp_path):
    out = tmp_path / "sw"
    gone = {("syn_noise", 3), ("syn_noise", 7)}
    failed = {("syn_noise_sal", 85)}
    odd = {("syn_noise_sal", 90)}
    fake_sweep(
        out,
        "fig4",
        skip=gone | {("syn_noise_kp", i) for i in range(80, 100)},
        fail=failed,
        other_cycles=odd,
    )
    with pytest.warns(UserWarning, match="other validation cycles"):
        data = figure_data(out, "4")
    assert data["levels"].tolist() == [0.0, 0.2, 0.4, 0.6, 0.8]  # level 1.0 is not plotted
    assert data["none_count"].tolist() == [18, 20, 20, 20, 20]
    assert data["sal_count"].tolist() == [20, 20, 20, 20, 18]
    assert data["kp_count"].tolist() == [20, 20, 20, 20, 0]
    assert data["none_planned"].tolist() == [20] * 5
    # values are placed by run index: level 0 without runs 3 and 7 -> indices 0..19 minus two
    idx0 = np.array([i for i in range(20) if i not in (3, 7)])
    assert data["none_final_dkl"][:, 0] == pytest.approx(quartiles(idx0 + 1.0))
    assert data["baseline_dkl"][1] == pytest.approx(np.median(idx0 + 1.0))
    idx4 = np.array([i for i in range(80, 100) if i not in (85, 90)])
    assert data["sal_final_dkl"][:, 4] == pytest.approx(quartiles((idx4 + 1.0) * 2))
    assert data["sal_asym"][1] == pytest.approx(np.median((idx4 + 1.0) * 2 / 1000))
    assert np.all(np.isnan(data["kp_final_dkl"][:, 4])) and data["kp_n"].tolist() == [0, 20]
    assert data["kp_missing_total"] == 20 and data["none_missing_total"] == 2
    assert data["baseline_cycles"].tolist() == CYCLES.tolist()
    with pytest.warns(UserWarning):
        paths = make_figure("4", out, tmp_path / "figs", False)
    assert [p.name for p in paths] == ["fig4.png", "fig4.pdf", "fig4.npz", "fig4_finals.csv"]
    assert all(p.stat().st_size > 1000 for p in paths[:3])
    with np.load(paths[2]) as f:
        assert f["kp_count"].tolist() == [20, 20, 20, 20, 0]


def test_figure5_and_a_directory_without_manifest(tmp_path):
    out = tmp_path / "sw"
    fake_sweep(out, "fig5", skip={("plast_noise_kp", i) for i in range(120)}, manifest=False)
    (out / "plast_noise_kp").mkdir()
    data = figure_data(out, "5")  # paper grid assumed from the presets
    assert data["levels"].tolist() == [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]
    assert data["highlight"] == 0.05 and data["kp_count"].tolist() == [0] * 6
    paths = make_figure("5", out, tmp_path / "figs", False)
    assert paths[0].name == "fig5.png" and paths[0].stat().st_size > 1000


def test_figure_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no runs of figure 4"):
        make_figure("4", tmp_path, tmp_path / "figs", False)
    with pytest.raises(ValueError, match="directory of runs"):
        make_figure("4", None, tmp_path / "figs", False)


def test_cli_figure_list_and_status(tmp_path):
    out = tmp_path / "sw"
    fake_sweep(out, "fig4", skip={("syn_noise", 0)}, fail={("syn_noise", 1)})
    env = {**os.environ, "SPIKEALIGN_QUIET": "1"}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "spikealign", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = cli("figure", "4", str(out), "--out", str(tmp_path / "f"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f" / "fig4.pdf").is_file()
    r = cli("sweep", "status", str(out))
    assert r.returncode == 0
    lines = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines() if ln.strip()}
    assert lines["syn_noise"][2:8] == ["120", "118", "1", "0", "0", "1"]
    assert "failed: " in r.stdout and "boom" in r.stdout
    r = cli("sweep", "status", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "not a sweep directory" in r.stderr
    r = cli("sweep", "list")
    assert r.returncode == 0
    rows = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines()[1:] if ln.strip()}
    assert rows["fig4"][1] == "360" and rows["fig5"][1] == "360" and rows["fig6"][1] == "60"
    r = cli("sweep", "run", "fig9", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "unknown sweep preset" in r.stderr


def test_figure6_from_a_sweep_directory_shared_with_ssn_runs(tmp_path):
    from spikealign.sweep import engine, tasks
    from spikealign.sweep.presets import build_specs as specs_of

    out = tmp_path / "sw"
    fake_sweep(out, "fig4")  # SSN parts in the same directory must stay invisible to figure 6
    short = {"student_simulation_settings": {"num_epochs": 2}}
    parts, specs = specs_of(["fig6"], overrides=short)
    layout.update_manifest(
        out,
        {
            p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], "paper", short)
            for p in parts
        },
        {"command": "test"},
    )
    chosen = [s for s in specs if s.index < 2 and s.part != "mc_fa"]  # 2 SAL, 2 BP runs
    res = engine.run_sweep(chosen, out, workers=2, show_progress=False, echo=lambda *a, **k: None)
    assert res["counts"]["done"] == 4
    assert tasks.run_state(out / "mc_bp/run.0001") == "done"
    with pytest.warns(UserWarning, match="56 of 60 planned microcircuit runs"):
        paths = make_figure("6", out, tmp_path / "figs", False)
    names = {p.name for p in paths}
    assert {"mc_epochs.png", "mc_distr.png", "fig6.npz"} <= names
    with np.load(tmp_path / "figs" / "fig6.npz") as f:
        keys = set(f.files)
    assert any(".sal." in k for k in keys) and any(".bp." in k for k in keys)
    assert not any(".fa." in k for k in keys)
    assert not list(out.glob(".fig6-*"))  # the temporary tree is gone


def test_status_rescales_the_time_left_by_what_the_finished_runs_cost(tmp_path):
    from spikealign.io import read_status
    from spikealign.sweep import status

    out = tmp_path / "sw"
    _, specs = build_specs(["fig4"], "quick")
    by_part: dict = {}
    for s in specs:
        by_part.setdefault(s.part, []).append(s)
    # syn_noise: 3 runs finished at 2x the model; syn_noise_sal: 1 run at 4x; syn_noise_kp: none
    done = {("syn_noise", s.index): 2.0 for s in by_part["syn_noise"][:3]}
    done[("syn_noise_sal", by_part["syn_noise_sal"][0].index)] = 4.0
    fake_sweep(out, "fig4", skip={(s.part, s.index) for s in specs} - set(done))
    cost = {(s.part, s.index): s.cost for s in specs}
    for key, factor in done.items():
        run_dir = out / next(s.rel_dir for s in specs if (s.part, s.index) == key)
        info = {k: v for k, v in read_status(run_dir).items() if k != "state"}
        write_status(run_dir, "done", **info, cpu_s=factor * cost[key])
    summary = status.summarize(out)
    parts = summary["parts"]

    def left(part):
        return sum(s.cost for s in by_part[part] if (part, s.index) not in done)

    assert parts["syn_noise"]["cost_factor"] == pytest.approx(2.0)
    assert parts["syn_noise"]["estimated_remaining_cpu_s"] == pytest.approx(2 * left("syn_noise"))
    assert parts["syn_noise_sal"]["cost_factor"] == pytest.approx(4.0)
    # a part without finished runs takes the factor of all finished runs of the sweep
    measured = sum(f * cost[k] for k, f in done.items())
    factor = measured / sum(cost[k] for k in done)
    assert parts["syn_noise_kp"]["cost_factor"] == pytest.approx(factor)
    kp_left = parts["syn_noise_kp"]["estimated_remaining_cpu_s"]
    assert kp_left == pytest.approx(factor * left("syn_noise_kp"))
    assert parts["syn_noise_kp"]["model_remaining_cpu_s"] == pytest.approx(left("syn_noise_kp"))
    total = summary["total"]
    assert total["cost_factor"] == pytest.approx(factor)
    assert total["estimated_remaining_cpu_s"] == pytest.approx(
        sum(p["estimated_remaining_cpu_s"] for p in parts.values())
    )
    text = status.format_summary(summary)
    assert f"x {factor:.2f}" in text


def test_status_of_a_sweep_without_finished_runs_uses_the_plain_cost_model(tmp_path):
    from spikealign.sweep import status

    out = tmp_path / "sw"
    _, specs = build_specs(["fig4"], "quick")
    fake_sweep(out, "fig4", skip={(s.part, s.index) for s in specs})
    summary = status.summarize(out)
    assert summary["total"]["cost_factor"] is None
    model = sum(s.cost for s in specs)
    assert summary["total"]["estimated_remaining_cpu_s"] == pytest.approx(model)
    assert "(cost model)" in status.format_summary(summary)


@pytest.mark.parametrize("bad", ["abc", None, -5.0, float("nan"), [1]])
def test_status_ignores_a_recorded_cpu_time_that_is_not_a_number(bad, tmp_path):
    from spikealign.io import read_status
    from spikealign.sweep import status

    out = tmp_path / "sw"
    _, specs = build_specs(["fig4"], "quick")
    first = specs[0]
    fake_sweep(out, "fig4", skip={(s.part, s.index) for s in specs[1:]})
    run_dir = out / first.rel_dir
    info = {k: v for k, v in read_status(run_dir).items() if k != "state"}
    write_status(run_dir, "done", **info, cpu_s=bad)
    summary = status.summarize(out)
    assert summary["total"]["done"] == 1 and summary["total"]["cpu_s"] == 0.0
    assert summary["total"]["cost_factor"] is None
    assert "runs to (re)run" in status.format_summary(summary)
