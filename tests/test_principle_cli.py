"""``spikealign principle stdd|phase-plane`` and ``spikealign figure 2|10|11|12 --quick``."""

import numpy as np
import pytest

from spikealign.cli import main


def run(argv, capsys):
    main(argv)
    return capsys.readouterr().out


def test_stdd_command_prints_drift_and_saves(tmp_path, capsys):
    out = run(
        [
            "principle",
            "stdd",
            "--w-ab",
            "0.8",
            "--w-ba",
            "0.4",
            "--b-a",
            "-0.5",
            "--b-b",
            "-0.5",
            "--t-ref",
            "10",
            "--t-max",
            "22",
            "--out",
            str(tmp_path / "s.npz"),
        ],
        capsys,
    )
    from spikealign.principle import sal_drift, stdd
    from spikealign.stdp import sal_window

    dt, p = stdd(0.8, 0.4, -0.5, -0.5, t_ref=10, t_syn=10, t_max=22)
    dw_ab, _ = sal_drift(dt, p, sal_window(10))
    assert f"dW_AB: {dw_ab:.10g}" in out
    data = np.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(data["p"], p)
    out = run(
        [
            "principle",
            "stdd",
            "--w-ab",
            "0.1",
            "--w-ba",
            "0.2",
            "--t-ref",
            "3",
            "--table",
            "--center",
            "zero",
            "--out",
            str(tmp_path / "s.csv"),
        ],
        capsys,
    )
    assert "\n0 0\n" in out
    assert (tmp_path / "s.csv").read_text().startswith("dt,p\n-7,")


def test_phase_plane_command(tmp_path, capsys):
    out = run(
        [
            "principle",
            "phase-plane",
            "--t-ref",
            "5",
            "--t-max",
            "12",
            "--n",
            "5",
            "--w-min",
            "-1",
            "--w-max",
            "1",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "pp.npz"),
            "--plot",
            str(tmp_path / "pp.png"),
        ],
        capsys,
    )
    assert "mean relative deviation" in out
    data = np.load(tmp_path / "pp.npz")
    assert data["grid"].shape == (5, 5, 2)
    assert (tmp_path / "pp.png").stat().st_size > 0


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["principle", "stdd", "--w-ab", "1", "--w-ba", "1", "--t-ref", "10", "--t-max", "10"],
            "t_max: must be larger than t_ref",
        ),
        (
            ["principle", "stdd", "--w-ab", "1", "--w-ba", "1", "--t-ref", "10", "--t-syn", "0"],
            "t_syn: must be > 0",
        ),
        (
            ["principle", "stdd", "--w-ab", "1", "--w-ba", "1", "--t-ref", "10", "--psp", "gauss"],
            "psp: unknown PSP shape",
        ),
        (["principle", "phase-plane", "--t-ref", "10", "--n", "1000000"], "phase plane"),
        (
            [
                "principle",
                "stdd",
                "--w-ab",
                "1",
                "--w-ba",
                "1",
                "--t-ref",
                "10",
                "--t-max",
                "1000000",
            ],
            "needs about",
        ),
        (["principle", "phase-plane", "--t-ref", "10", "--chain", "ssn"], "chain: must be one of"),
    ],
)
def test_bad_input_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err
    assert "\n" not in err


@pytest.mark.parametrize(
    "fig_id,keys",
    [
        ("2", ["dt", "stdd_exc_asym", "evolution_both", "evolution_fixed", "grid", "attractor"]),
        ("10", ["grid_noisy", "grid_sym", "rate_dale", "rate_direct"]),
        ("11", ["psp_kappa", "stdds", "grids", "deviation", "attractor_points"]),
        ("12", ["delta_exc", "big_delta_exc", "delta_inh", "big_delta_inh"]),
    ],
)
def test_figure_quick_writes_files(fig_id, keys, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_QUIET", "1")
    out = run(["figure", fig_id, "--quick", "--out", str(tmp_path)], capsys)
    for ext in ("png", "pdf", "npz"):
        path = tmp_path / f"fig{fig_id}.{ext}"
        assert path.stat().st_size > 0
        assert str(path) in out
    data = np.load(tmp_path / f"fig{fig_id}.npz")
    for k in keys:
        assert k in data.files
