"""Teacher-student protocol, result files, CLI, figure 6 and the paper's SAL/BP/FA ordering."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mc_helpers import tiny, tiny_dims
from spikealign.cli import main
from spikealign.microcircuits import load_config, run_experiment, simulate
from spikealign.microcircuits.protocol import (
    ROLE_SYMM,
    ROLE_TRAIN,
    ROLE_VAL,
    epoch_roles,
    pattern_loss,
    pattern_sequence,
)


def _cli(args) -> int:
    """Exit status of ``spikealign ARGS``."""
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_pattern_sequence_draws_with_replacement_and_cycles_in_order():
    idx, is_val = pattern_sequence(
        8,
        6,
        seed=915344,
        len_epoch=20,
        len_validation=6,
        num_epochs=3,
        shuffle_training=True,
        shuffle_validation=False,
    )
    assert len(idx) == 78 and is_val.sum() == 18
    rng = np.random.default_rng(915344)
    for epoch in range(3):
        np.testing.assert_array_equal(idx[epoch * 26 : epoch * 26 + 20], rng.choice(8, 20))
        np.testing.assert_array_equal(idx[epoch * 26 + 20 : (epoch + 1) * 26], np.arange(6))
    ordered, _ = pattern_sequence(
        3,
        2,
        seed=0,
        len_epoch=5,
        len_validation=3,
        num_epochs=1,
        shuffle_training=False,
        shuffle_validation=False,
    )
    np.testing.assert_array_equal(ordered, [0, 1, 2, 0, 1, 0, 1, 0])


def test_epoch_roles_and_loss():
    roles = epoch_roles(20, 5, 6)
    assert (roles == ROLE_TRAIN).sum() == 15 and (roles == ROLE_SYMM).sum() == 5
    assert np.all(roles[20:] == ROLE_VAL) and np.all(roles[15:20] == ROLE_SYMM)
    assert pattern_loss(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))[0] == 2.5


def test_teacher_student_run_structure():
    cfg = load_config(tiny())
    teacher, student, timing = simulate(cfg, 0)
    s = cfg.student_simulation_settings
    n_pat = s.num_epochs * (s.len_epoch + s.len_validation)
    assert student.u_out.shape == (n_pat, 1) and len(student.loss_free) == s.num_epochs
    # targets are the teacher's mean outputs; validation patterns carry validation targets
    val = student.role == ROLE_VAL
    np.testing.assert_array_equal(
        student.u_tgt[val], teacher.val_targets[student.pattern_index[val]]
    )
    np.testing.assert_array_equal(
        student.u_tgt[~val], teacher.train_targets[student.pattern_index[~val]]
    )
    # the paper's loss, recomputed from the per-pattern outputs
    first = slice(s.len_epoch, s.len_epoch + s.len_validation)
    assert student.loss_nudged[0] == pytest.approx(
        np.mean((student.u_out[first] - student.u_tgt[first]) ** 2)
    )
    assert np.isnan(student.u_out_free[~val]).all() and np.isfinite(student.u_out_free[val]).all()
    # the free side runs do not touch the main run
    no_free = load_config(tiny(options={"free_validation": False}))
    _, student2, _ = simulate(no_free, 0)
    np.testing.assert_array_equal(student.u_out, student2.u_out)
    np.testing.assert_array_equal(student.spikes, student2.spikes)
    assert np.isnan(student2.loss_free).all()
    assert timing["student_steps"] > timing["teacher_steps"] > 0


def test_recording_flags_and_block_means():
    cfg = load_config(tiny(**{"student_simulation_settings.recorded_sample_length": 300}))
    _, student, _ = simulate(cfg, 0)
    rec = student.recordings
    # one block per pattern here: the flags are exactly the roles
    np.testing.assert_array_equal(rec["rec.2.validation"][:, 0], student.role == ROLE_VAL)
    np.testing.assert_array_equal(rec["rec.2.symmetrization"][:, 0], student.role == ROLE_SYMM)
    np.testing.assert_array_equal(rec["rec.0.u_in"][:, 0], student.u_in[:, 0].astype(np.float32))


def test_zero_validation_patterns_work():
    """The paper's loss code crashes for len_validation = 0 (quirk 21)."""
    cfg = load_config(tiny(**{"student_simulation_settings.len_validation": 0}))
    _, student, _ = simulate(cfg, 0)
    assert np.isnan(student.loss_nudged).all() and len(student.loss_nudged) == 2


def test_teacher_seed_per_run_and_first_output_targets():
    cfg = load_config(tiny())
    t0, _, _ = simulate(cfg, 0)
    t1, _, _ = simulate(cfg, 1)
    assert not np.array_equal(t0.u_out, t1.u_out)
    fixed = load_config(tiny(options={"teacher_seed_per_run": False}))
    np.testing.assert_array_equal(simulate(fixed, 1)[0].u_out, t0.u_out)
    two = tiny(
        **{
            "network_properties.dims": [1, 1, 2],
            "teacher_initial_parameters.weights": [{"w_up": 2.0}, {"w_up": [[2.0], [-1.0]]}],
            "options": {"teacher_targets": "first"},
        }
    )
    teacher, _, _ = simulate(load_config(two), 0)
    np.testing.assert_array_equal(teacher.targets[:, 1], teacher.u_out[:, 0])


def test_run_experiment_files_resume_and_refusal(tmp_path):
    out = tmp_path / "run"
    metrics = run_experiment(tiny(), out, seed_offset=2)
    for name in ("result.npz", "metrics.json", "run.png", "config.yaml", "status.json"):
        assert (out / name).is_file()
    assert json.loads((out / "status.json").read_text())["state"] == "done"
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["final_loss_free"] == metrics["final_loss_free"]
    assert stored["seeds"]["student_poisson_seed"] == 11 + 2
    with np.load(out / "result.npz") as res:
        assert res["loss_free"].shape == (2,) and "rec.1.w_down" in res.files
        assert res["spikes"].shape[1] == 2
    assert not list(out.glob(".*.tmp"))
    # same config again: the stored metrics, nothing simulated
    mtime = (out / "result.npz").stat().st_mtime_ns
    assert run_experiment(tiny(), out, seed_offset=2) == stored
    assert (out / "result.npz").stat().st_mtime_ns == mtime
    from spikealign.io import OutputExistsError

    with pytest.raises(OutputExistsError):
        run_experiment(tiny(), out, seed_offset=3)
    run_experiment(tiny(), out, seed_offset=3, overwrite=True)


def test_failed_run_is_marked(tmp_path, monkeypatch):
    from spikealign.microcircuits import experiment

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(experiment, "atomic_save_npz", boom)
    with pytest.raises(RuntimeError):
        run_experiment(tiny(), tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and "disk full" in status["error"]
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_cli_run_and_figure6(tmp_path, capsys):
    cfg_path = tmp_path / "tiny.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(tiny()))
    runs = tmp_path / "runs"
    modes = (
        ("sal", []),
        ("bp", ["--set", "student_simulation_settings.update_down=false"]),
        ("fa", ["--set", "network_properties.lr.0.down=0.0"]),
    )
    for mode, extra in modes:
        for k in (0, 1):
            assert (
                _cli(
                    [
                        "microcircuit",
                        "run",
                        str(cfg_path),
                        "--seed-offset",
                        str(k),
                        "--out",
                        str(runs / f"{mode}.{k:04d}"),
                        "--quiet",
                        *extra,
                    ]
                )
                == 0
            )
    assert f"mode {'fa'}" in capsys.readouterr().out
    # a finished run is not overwritten
    assert (
        _cli(["microcircuit", "run", str(cfg_path), "--out", str(runs / "sal.0000"), "--quiet"])
        == 2
    )
    # an unfinished and a broken run are skipped
    (runs / "broken").mkdir()
    (runs / "broken" / "metrics.json").write_text("{")
    (runs / "broken" / "status.json").write_text('{"state": "done"}')
    (runs / "sal.0001" / "status.json").write_text('{"state": "running"}')
    (runs / "sal.0001" / "checksums.json").unlink()  # finished-ness is in the checksums
    with pytest.warns(UserWarning, match="skipped 2"):
        assert _cli(["figure", "6", str(runs), "--out", str(tmp_path / "fig")]) == 0
    for name in ("mc_epochs.png", "mc_epochs.pdf", "mc_distr.png", "mc_distr.pdf", "fig6.npz"):
        assert (tmp_path / "fig" / name).is_file()
    with np.load(tmp_path / "fig" / "fig6.npz") as npz:
        assert npz["skipped_runs"] == 2 and list(npz["modes"]) == ["sal", "bp", "fa"]
        assert npz["6b.loss_free.bp.median"].shape == (2,)
    assert _cli(["figure", "6", str(tmp_path / "nothing"), "--out", str(tmp_path / "fig2")]) == 2


def test_feedback_angle_is_exact():
    from spikealign.microcircuits.plots import final_feedback_angle

    w21 = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])  # layer 2 <- layer 1

    def angle(b12):
        return final_feedback_angle({"final_weights": {"1.w_down": b12, "2.w_up": w21}})

    assert angle(w21.T) == pytest.approx(0.0, abs=1e-6)
    assert angle(-2.5 * w21.T) == pytest.approx(180.0)
    orth = np.array([[2.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])  # <orth, W21^T> = 2 - 2 = 0
    assert angle(orth) == pytest.approx(90.0)
    b = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    # cos = 1 / |W21| = 1 / sqrt(15)
    assert angle(b) == pytest.approx(math.degrees(math.acos(1 / math.sqrt(15))))


def test_figure6_for_larger_networks_shows_the_feedback_angle(tmp_path):
    """For a 2-3-2 network figure 6 plots angle(B12, W21^T); with copied feedback (bp) it is 0
    at every epoch, and the per-run figure gets the angle panel too."""
    from spikealign.microcircuits import load_config
    from spikealign.microcircuits.plots import feedback_angle_trace

    runs = tmp_path / "runs"
    for mode, changes in (
        ("sal", {}),
        ("bp", {"student_simulation_settings.update_down": False}),
        ("fa", {"network_properties.lr.0.down": 0.0}),
    ):
        cfg = tiny_dims(
            (2, 3, 2),
            **{
                "student_simulation_settings.num_epochs": 3,
                "student_simulation_settings.recorded_sample_length": 30,
                **changes,
            },
        )
        run_experiment(load_config(cfg), runs / mode)
        assert (runs / mode / "run.png").is_file()
        with np.load(runs / mode / "result.npz") as npz:
            trace = feedback_angle_trace(dict(npz), 3)
        assert trace.shape == (3,) and np.all((trace >= 0) & (trace <= 180))
        if mode == "bp":
            np.testing.assert_allclose(trace, 0.0, atol=0.05)
        else:
            assert trace[0] > 1.0  # random initial feedback is not aligned
    assert _cli(["figure", "6", str(runs), "--out", str(tmp_path / "fig")]) == 0
    with np.load(tmp_path / "fig" / "fig6.npz") as npz:
        np.testing.assert_allclose(npz["6b.angle.bp.median"], 0.0, atol=0.05)
        assert npz["6b.angle.fa.median"].shape == (3,)
        assert npz["6c.final_angle_B12_W21T.bp"][0] == pytest.approx(0.0, abs=0.05)
        assert "6c.final_W10.sal" not in npz.files and "6c.final_B12.sal" in npz.files


def test_cli_check_and_presets(capsys):
    assert (
        _cli(["microcircuit", "check", "sal", "--set", "student_simulation_settings.num_epochs=2"])
        == 0
    )
    out = capsys.readouterr().out
    assert "num_epochs: 2" in out and "mode sal" in out
    assert _cli(["microcircuit", "presets"]) == 0
    assert "sal-upstream" in capsys.readouterr().out


# -- the paper's ordering -----------------------------------------------------------------------

SEEDS = range(1, 9)


def _final_free_losses(mode, epochs, lr_factor):
    base = load_config(mode)
    lr = base.network_properties.lr
    cfg = load_config(
        mode,
        [
            f"student_simulation_settings.num_epochs={epochs}",
            f"network_properties.lr.0.up={lr[0].up * lr_factor}",
            f"network_properties.lr.0.down={lr[0].down * lr_factor}",
            f"network_properties.lr.1.up={lr[1].up * lr_factor}",
        ],
    )
    return np.array([simulate(cfg, k)[1].loss_free[-1] for k in SEEDS])


def _check_ordering(losses):
    """SAL's final free loss is below FA's and closer to BP's than to FA's (geometric means
    over seeds, i.e. distances on the log scale of figure 6c)."""
    gm = {m: math.exp(np.mean(np.log(v))) for m, v in losses.items()}
    assert gm["sal"] < gm["fa"], gm
    assert math.log(gm["sal"] / gm["bp"]) < math.log(gm["fa"] / gm["sal"]), gm


def test_paper_ordering_reduced_length():
    """8 seeds of the presets, 25 instead of 150 epochs with 3x the learning rates (so the
    short run reaches the same stage). Measured: geometric means SAL 0.0029, BP 0.0019,
    FA 0.0132 (two FA seeds fail with loss ~0.6: feedback of the wrong sign)."""
    _check_ordering({m: _final_free_losses(m, 25, 3.0) for m in ("sal", "bp", "fa")})


@pytest.mark.slow
def test_paper_ordering_full_length():
    """The presets unchanged (150 epochs), 8 seeds. Measured: SAL 0.0009, BP 0.0007,
    FA 0.0044."""
    _check_ordering({m: _final_free_losses(m, 150, 1.0) for m in ("sal", "bp", "fa")})


def test_cli_registers_the_microcircuit_family():
    from spikealign.cli import app

    assert "microcircuit" in {g.name for g in app.registered_groups}
