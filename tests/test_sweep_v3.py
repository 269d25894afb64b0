"""Paper v3 sweeps (figures 4, 5 and kp_lr): grids, seeds, infinite D_KL, figure layouts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikealign.figures import make_figure
from spikealign.io import atomic_save_npz, write_status
from spikealign.ssn.config import v3_seeds
from spikealign.sweep import layout
from spikealign.sweep.figures import figure_data, quartiles
from spikealign.sweep.kp_lr import kp_lr_data, kp_vs_sal
from spikealign.sweep.presets import KP_LR_PLAST, KP_LR_SYN, PRESETS, build_specs
from test_sweep_figures import fake_sweep


@pytest.mark.parametrize(
    "preset,n_runs,levels,keys",
    [
        ("fig4_v3", 360, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], ["init_noise"]),
        ("fig5_v3", 300, [0.0, 0.2, 0.4, 0.6, 0.8], ["ws", "sal"]),
    ],
)
def test_v3_grids_use_the_seed_table_at_every_level(preset, n_runs, levels, keys):
    parts, specs = build_specs([preset], "paper")
    assert len(specs) == n_runs and [p.feedback for p in parts] == ["none", "sal", "kp"]
    assert all(p.paper == "v3" for p in parts)
    for s in specs:
        k = s.index % 20
        level = levels[s.index // 20]
        cfg = s.config
        assert cfg["seed_id"] == k and cfg["seed"] == v3_seeds(k)
        assert s.params["seed.sim"] == 7654 + k and s.params["noise"] == level
        if keys == ["init_noise"]:
            assert cfg["init_noise"] == level and cfg["stdp"]["ws"]["noise"] == 0.0
        else:
            assert cfg["stdp"]["ws"]["noise"] == cfg["stdp"]["sal"]["noise"] == level
            assert cfg["init_noise"] == 0.2
        assert cfg["target_scaling"] and cfg["zero_diagonal"] and cfg["val_factor"] == 100
    # the same seed id gives the same three seeds in every part and at every level
    by_k = {}
    for s in specs:
        by_k.setdefault(s.index % 20, set()).add(tuple(s.config["seed"].values()))
    assert all(len(v) == 1 for v in by_k.values())


def test_v2_grid_is_unchanged():
    _, specs = build_specs(["fig4"], "paper")
    s = specs[25]  # level 0.2, distr index 1, init index 1
    assert s.config["seed"] == {"distr": 4322, "init": 9003, "sim": 7654 + 25}


def test_kp_lr_grid():
    parts, specs = build_specs(["kp_lr_v3"], "paper")
    assert len(specs) == (10 + 8) * 2 * 20
    assert np.allclose(KP_LR_SYN, 1e-6 * np.array([1, 2, 4, 8, 16, 32, 64, 120, 240, 480]))
    assert np.allclose(KP_LR_PLAST, 1e-5 * 2.0 ** np.arange(-3, 5))
    rates = {p.group: [] for p in parts}
    for p in parts:
        rates[p.group].append(p.fixed["lr"]["kp"])
        assert p.levels == (0.4, 0.8) and p.figure == "kp-lr"
    assert np.allclose(rates["syn_noise_kp_lr_v3"], KP_LR_SYN)
    assert np.allclose(rates["plast_noise_kp_lr_v3"], KP_LR_PLAST)
    for s in specs:
        part = next(p for p in parts if p.name == s.part)
        assert s.config["lr"]["kp"] == part.fixed["lr"]["kp"] == s.params["lr.kp"]
        assert s.config["lr"]["symm"] == 0.0


def test_presets_are_labelled_with_their_paper_version():
    for name in ("fig4_v3", "fig5_v3", "kp_lr_v3"):
        assert PRESETS[name][0].startswith("[paper v3]")
    for name in ("fig4", "fig5"):
        assert PRESETS[name][0].startswith("[paper v2]")
    kp2 = [p for p in PRESETS["fig4"][1] if p.feedback == "kp"][0]
    assert kp2.paper == "none"  # the v2 KP part is an extension, not a paper run


# -- statistics with infinite D_KL ---------------------------------------------------------------


def _quantile_by_definition(values, q):
    """Linear-interpolation quantile on the sorted finite-or-infinite values (NaN dropped)."""
    v = sorted(x for x in values if not np.isnan(x))
    if not v:
        return np.nan
    h = (len(v) - 1) * q
    lo, hi = int(np.floor(h)), int(np.ceil(h))
    if np.isinf(v[lo]) or (h > lo and np.isinf(v[hi])):
        return np.inf
    return v[lo] + (h - lo) * (v[hi] - v[lo])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0, 10), st.just(np.inf), st.just(np.nan)), min_size=1, max_size=25)
)
def test_quartiles_rank_infinity_above_all_values(values):
    got = quartiles(np.array(values)[:, None])[:, 0]
    want = [_quantile_by_definition(values, q) for q in (0.25, 0.5, 0.75)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_quartiles_agree_with_numpy_on_finite_data():
    x = np.random.default_rng(0).normal(size=(20, 7))
    x[3, 2] = np.nan
    np.testing.assert_allclose(quartiles(x), np.nanquantile(x, [0.25, 0.5, 0.75], axis=0))


def _mark_infinite(out, part, indices):
    for i in indices:
        f = out / part / f"run.{i:04d}" / "results.npz"
        with np.load(f) as z:
            d = {k: z[k] for k in z.files}
        d["dkls"] = d["dkls"].copy()
        d["dkls"][-1] = np.inf
        atomic_save_npz(f, **d)


def test_v3_figure_counts_infinite_dkl_and_draws_the_v3_layout(tmp_path):
    out = tmp_path / "sw"
    fake_sweep(out, "fig4_v3")
    # level 0.8 (runs 80..99): 6 of the SAL runs never sampled a state at the last validation
    inf_runs = [81, 84, 90, 93, 97, 99]
    _mark_infinite(out, "syn_noise_sal_v3", inf_runs)
    data = figure_data(out, "4")
    assert str(data["paper"]) == "v3" and str(data["kp_paper"]) == "v3"
    assert data["levels"].tolist() == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert data["sal_final_dkl_inf"].tolist() == [0, 0, 0, 0, 6]
    finite = [(i + 1.0) * 2 for i in range(80, 100) if i not in inf_runs]
    want = [_quantile_by_definition(finite + [np.inf] * 6, q) for q in (0.25, 0.5, 0.75)]
    np.testing.assert_allclose(data["sal_final_dkl"][:, 4], want)
    assert np.isinf(data["sal_final_dkl"][2, 4]) and np.isfinite(data["sal_final_dkl"][1, 4])
    assert data["sal_dkl_inf"][-1] == 6 and data["sal_dkl_inf"][0] == 0
    paths = make_figure("4", out, tmp_path / "figs", False)
    assert [p.name for p in paths] == ["fig4.png", "fig4.pdf", "fig4.npz", "fig4_finals.csv"]
    with np.load(paths[2]) as z:
        assert z["sal_final_dkl_inf"].tolist() == [0, 0, 0, 0, 6]
    rows = paths[3].read_text().splitlines()
    assert rows[0].startswith("level,variant,runs,planned,dkl_infinite")
    sal08 = [r.split(",") for r in rows if r.startswith("0.8,sal,")][0]
    assert sal08[2:5] == ["20", "20", "6"] and sal08[7] == "inf"
    assert float(sal08[6]) == pytest.approx(want[1], rel=1e-6)


def test_v2_sweep_labels_its_kp_part_as_an_extension(tmp_path):
    out = tmp_path / "sw"
    fake_sweep(out, "fig5")
    data = figure_data(out, "5")
    assert str(data["paper"]) == "v2" and str(data["kp_paper"]) == "none"
    make_figure("5", out, tmp_path / "figs", False)


def test_a_directory_with_v2_and_v3_sweeps_of_one_figure_is_refused(tmp_path):
    out = tmp_path / "sw"
    fake_sweep(out, "fig4")
    parts, specs = build_specs(["fig4_v3"], "quick")
    layout.update_manifest(
        out,
        {
            p.name: layout.part_entry(p, [s for s in specs if s.part == p.name], "quick", {})
            for p in parts
        },
        {"command": "test"},
    )
    with pytest.raises(ValueError, match="several sweeps of figure 4"):
        figure_data(out, "4")


def test_kp_lr_figure_from_a_sweep(tmp_path):
    out = tmp_path / "sw"
    parts, specs = fake_sweep(out, "kp_lr_v3")
    fake_sweep(out, "fig5_v3")  # SAL reference lines of the plasticity column
    # make the D_KL of one rate clearly best at level 0.8 in the synaptic column
    best = [p for p in parts if p.group == "syn_noise_kp_lr_v3"][4]
    for s in specs:
        if s.part == best.name and s.params["noise"] == 0.8:
            write_status(out / s.rel_dir, "done")
            atomic_save_npz(
                out / s.rel_dir / "results.npz",
                dkls=np.full(41, 1e-3),
                all_asym=np.full(41, 1e-4),
                val_cycles=np.arange(0, 20001, 500),
            )
    (out / [s for s in specs if s.part == parts[0].name][0].rel_dir / "status.json").unlink()
    data = kp_lr_data(out)
    assert np.allclose(data["c0_rates"], KP_LR_SYN) and np.allclose(data["c1_rates"], KP_LR_PLAST)
    assert int(data["c0_0.8_best"]) == 4
    assert data["c0_0.4_n"][0] == 19 and data["c0_0.4_planned"][0] == 20
    assert "c1_0.8_sal_dkl" in data and "c0_0.8_sal_dkl" not in data
    assert "c1_0.8_sal_asym" in data and "c1_0.4_sal_asym" in data
    paths = make_figure("kp-lr", out, tmp_path / "figs", False)
    assert [p.name for p in paths] == ["kp-lr.png", "kp-lr.pdf", "kp-lr.npz", "kp-lr_vs_sal.csv"]
    # the answer: rates at or below SAL's median D_KL and asymmetry, and both at once
    rows = {(r["noise"], r["level"]): r for r in kp_vs_sal(data)}
    assert rows[("synaptic noise", 0.8)]["sal"] is None  # no SAL runs for that column
    r = rows[("plasticity noise", 0.8)]
    sal_d, sal_a = data["c1_0.8_sal_dkl"][1], data["c1_0.8_sal_asym"][1]
    rates = data["c1_rates"]
    want_d = [float(x) for x, v in zip(rates, data["c1_0.8_dkl"][1], strict=True) if v <= sal_d]
    want_a = [float(x) for x, v in zip(rates, data["c1_0.8_asym"][1], strict=True) if v <= sal_a]
    assert r["dkl"] == want_d and r["asym"] == want_a
    assert r["both"] == [x for x in want_d if x in want_a]
    csv = paths[3].read_text().splitlines()
    assert csv[0].startswith("noise,level,sal_dkl_median") and len(csv) == 1 + len(rows)


def test_kp_lr_figure_of_an_unfinished_sweep_draws_what_is_there(tmp_path):
    # as `sweep run kp_lr_v3 --level 0.8` leaves it: the plasticity column without any
    # finished run, the synaptic column only at 0.8 and only for the first rates
    out = tmp_path / "sw"
    _, specs = build_specs(["kp_lr_v3"], "quick")
    syn = sorted({s.part for s in specs if s.part.startswith("syn_noise")})
    skip = {
        (s.part, s.index)
        for s in specs
        if s.part.startswith("plast_noise") or s.params["noise"] == 0.4 or s.part in syn[3:]
    }
    fake_sweep(out, "kp_lr_v3", skip=skip)
    data = kp_lr_data(out)
    assert data["c1_0.8_n"].sum() == 0 and np.isnan(data["c1_0.8_dkl"]).all()
    assert data["c0_0.8_n"].tolist() == [20] * 3 + [0] * (len(syn) - 3)
    assert int(data["c0_0.8_best"]) == 0 and int(data["c0_0.4_best"]) == -1
    paths = make_figure("kp-lr", out, tmp_path / "figs", False)
    assert paths[0].stat().st_size > 0
    rows = paths[3].read_text().splitlines()[1:]
    assert len(rows) == 4 and all(r.endswith("none,none,none") for r in rows)


def test_kp_lr_figure_without_runs_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="kp_lr_v3"):
        kp_lr_data(tmp_path)


def test_figure_out_that_is_a_file_is_refused_with_one_line(tmp_path, capsys):
    from spikealign.cli import main

    out = tmp_path / "sw"
    fake_sweep(out, "fig4_v3")
    f = tmp_path / "f.txt"
    f.write_text("mine")
    for target in (f, f / "sub"):
        with pytest.raises(SystemExit) as exc:
            main(["figure", "4", str(out), "--out", str(target)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --out") and "Traceback" not in err
    assert f.read_text() == "mine"


@pytest.mark.parametrize("fig_id", ["4", "5", "kp-lr", "6"])
def test_figure_source_that_is_a_file_is_refused_without_a_wrong_hint(fig_id, tmp_path, capsys):
    from spikealign.cli import main

    f = tmp_path / "notes.txt"
    f.write_text("mine")
    with pytest.raises(SystemExit) as exc:
        main(["figure", fig_id, str(f), "--out", str(tmp_path / "figs")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "sweep run" not in err and "Traceback" not in err
    assert f.read_text() == "mine" and not (tmp_path / "figs").exists()
