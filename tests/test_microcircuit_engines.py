"""The numpy reference and the numba kernel: same spikes, same numbers, same random stream."""

from __future__ import annotations

import numpy as np
import pytest

from mc_helpers import random_network, tiny, tiny_dims
from spikealign.microcircuits import fast, load_config, simulate
from spikealign.microcircuits.drive import Drive, run_pattern
from spikealign.microcircuits.recording import Recorder, SpikeLog


def _compare_runs(cfg, exact=True):
    ref_t, ref_s, _ = simulate(cfg, 0, engine="reference")
    fast_t, fast_s, _ = simulate(cfg, 0, engine="fast")
    assert ref_s.spikes is not None and len(ref_s.spikes) > 50
    np.testing.assert_array_equal(ref_s.spikes, fast_s.spikes)  # spike for spike
    np.testing.assert_array_equal(ref_s.counts, fast_s.counts)
    np.testing.assert_array_equal(ref_t.counts, fast_t.counts)
    check = (
        np.testing.assert_array_equal
        if exact
        else (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12))
    )
    check(ref_t.u_out, fast_t.u_out)
    for name in ("u_out", "u_out_free", "loss_nudged", "loss_free"):
        check(getattr(ref_s, name), getattr(fast_s, name))
    for key in ref_s.final_weights:
        check(ref_s.final_weights[key], fast_s.final_weights[key])
    assert ref_s.recordings.keys() == fast_s.recordings.keys()
    for key in ref_s.recordings:
        check(ref_s.recordings[key], fast_s.recordings[key])
    return ref_s


def test_reference_and_fast_agree_on_a_full_sal_run():
    s = _compare_runs(load_config(tiny()))
    assert np.isfinite(s.loss_free).all() and np.isfinite(s.loss_nudged).all()
    assert not np.array_equal(s.initial_weights["1.w_down"], s.final_weights["1.w_down"])


@pytest.mark.parametrize(
    "changes",
    [
        {"student_simulation_settings.update_down": False},  # bp
        {"network_properties.lr.0.down": 0.0},  # fa
        {"network_properties.n_last_spks": 3},
        {"network_properties.n_last_spks": 2, "options": {"sal_same_step": "overwrite"}},
        {"student_simulation_settings.set_sps": False},
        {
            "student_simulation_settings.shuffle_training": False,
            "student_simulation_settings.recorded_sample_length": 1,
        },
    ],
)
def test_reference_and_fast_agree_in_every_mode(changes):
    _compare_runs(load_config(tiny(**changes)))


@pytest.mark.parametrize("dims", [(2, 3, 2), (2, 3, 4, 2), (3, 2)])
def test_reference_and_fast_agree_for_other_layer_sizes(dims):
    _compare_runs(load_config(tiny_dims(dims)))


def test_reference_draws_match_one_block_draw():
    """The fast engine's ``rng.random(n_steps * n)`` is the reference's per-population draws."""
    net = random_network((2, 3, 4, 2))
    n = net.layout.n_neurons
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    per_pop = np.concatenate(
        [a.random(s.stop - s.start) for _ in range(5) for _, _, s in net.layout.populations()]
    )
    np.testing.assert_array_equal(per_pop, b.random(5 * n))


def test_chunked_kernel_calls_change_nothing(monkeypatch):
    """Patterns split into many kernel calls give the same result as one call."""

    def run(chunk):
        monkeypatch.setattr(fast, "CHUNK_DRAWS", chunk)
        net = random_network((2, 3, 2), seed=3)
        rec = Recorder(net, [["u_in"], ["w_up", "v_api"], ["u_pyr"]], 3000, 77)
        spikes = SpikeLog()
        rng = np.random.default_rng(4)
        outs = [
            run_pattern(
                net,
                Drive(
                    u_in=np.array([0.3, -0.2]),
                    u_tgt=np.array([0.5, 1.0]),
                    n_steps=1000,
                    lag=100,
                    plast_up=k != 1,
                    sal=k == 1,
                ),
                rng,
                recorder=rec,
                spikes=spikes,
            ).u_out
            for k in range(3)
        ]
        rec.finalize()
        return np.array(outs), net.values.copy(), rec.out.copy(), spikes.record()

    whole = run(1 << 20)
    pieces = run(7 * 13)  # 13 steps per call for 7 neurons... and a remainder
    for x, y in zip(whole, pieces, strict=True):
        np.testing.assert_array_equal(x, y)


def test_other_psp_kernel_agrees():
    """Any core PSP kernel (here the alpha shape) runs identically in both engines."""
    outs = []
    for engine in ("reference", "fast"):
        net = random_network((2, 3, 2), seed=5, psp="alpha", n_last=3)
        rng = np.random.default_rng(6)
        log = SpikeLog()
        run_pattern(
            net,
            Drive(
                u_in=np.array([0.3, 1.0]),
                u_tgt=np.array([0.5, 1.0]),
                n_steps=400,
                lag=10,
                plast_up=True,
            ),
            rng,
            engine=engine,
            spikes=log,
        )
        outs.append((log.record(), net.values.copy()))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12, atol=1e-14)
