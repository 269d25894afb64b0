"""Microcircuit model: structure, self-predicting state, copied feedback, SAL, averages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mc_helpers import random_network
from spikealign.microcircuits import reference
from spikealign.microcircuits.drive import Drive, run_pattern
from spikealign.microcircuits.network import Layout, NetParams, Network
from spikealign.microcircuits.recording import Recorder
from spikealign.neuron import spike_probability, spike_probability_jit, spike_probability_py


def test_spike_probability_scalar_twins_agree():
    rng = np.random.default_rng(0)
    u = np.concatenate([rng.normal(0, 5, 2000), [-800.0, -710.0, 0.0, 50.0, 800.0]])
    lt = math.log(10)
    py = np.array([spike_probability_py(x, lt) for x in u])
    jit = np.array([spike_probability_jit(x, lt) for x in u])
    np.testing.assert_array_equal(py, jit)
    # the core tanh form loses relative (not absolute) precision for tiny probabilities
    np.testing.assert_allclose(py, spike_probability(u, 10), rtol=1e-12, atol=1e-15)
    assert spike_probability_py(-800.0, lt) == 0.0


def test_layout_draw_order_and_weight_views():
    lay = Layout((2, 3, 4, 2))
    kinds = [(k, layer, s.stop - s.start) for k, layer, s in lay.populations()]
    assert kinds == [
        ("input", 0, 2),
        ("pyr", 1, 3),
        ("inn", 1, 4),
        ("pyr", 2, 4),
        ("inn", 2, 2),
        ("output", 3, 2),
    ]
    assert lay.n_neurons == 17
    net = Network(NetParams(dims=(2, 3, 4, 2)))
    assert net.w_up(1).shape == (3, 2) and net.w_up(3).shape == (2, 4)
    assert net.w_down(2).shape == (4, 2) and net.w_ip(2).shape == (2, 4)
    net.w_up(2)[...] = 7.0  # views write through to the flat storage
    assert np.count_nonzero(net.w_up_flat == 7.0) == 12
    twin = net.copy()
    twin.w_up(2)[...] = 1.0
    assert np.all(net.w_up(2) == 7.0) and np.all(twin.values[twin.offsets["w_up_flat"] :][:6] == 0)
    np.testing.assert_array_equal(twin.w_up(2), 1.0)


def test_distribute_weights_and_symmetrization_switches():
    net = random_network((2, 3, 4, 2), seed=1, update_down=False)
    for layer in (1, 2):
        np.testing.assert_array_equal(net.w_down(layer), net.w_up(layer + 1).T)
        np.testing.assert_array_equal(net.w_ip(layer), net.w_up(layer + 1))
        np.testing.assert_array_equal(net.w_pi(layer), -net.w_down(layer))
    net.set_symmetrization()
    assert np.all(net.lam_api[1:3] == 1.0)
    assert not net.w_pi_flat.any() and not net.w_ip_flat.any()
    net.unset_symmetrization()
    assert np.all(net.lam_api[1:3] == net.params.lambda_api)
    np.testing.assert_array_equal(net.w_pi(2), -net.w_down(2))
    # interneurons get the next layer's bias
    net.set_bias([[-1.0, -2.0, -3.0], 0.5, [4.0, 5.0]])
    np.testing.assert_array_equal(net.bias[net.layout.inn(2)], [4.0, 5.0])
    np.testing.assert_array_equal(net.bias[net.layout.inn(1)], 0.5)


def test_moving_average_is_the_papers_sliding_mean():
    """Window of m values, the initial 0 counting as the first sample."""
    m = 7
    net = random_network((1, 1, 1), seed=2, ma_size=m, learning_lag=0)
    lay = net.layout
    history = [0.0]
    drive = Drive(u_in=np.array([1.0]), u_tgt=np.array([0.5]), n_steps=1)
    rng = np.random.default_rng(3)
    g = lay.pyr(2).start
    for _ in range(40):
        run_pattern(net, drive, rng, engine="reference")
        history.append(net.u[g])
        assert net.ma_u[g] == pytest.approx(np.mean(history[-m:]), abs=1e-12)


def test_self_predicting_interneurons_mirror_the_free_output():
    """Without nudging the interneuron potential equals the output potential every step."""
    for dims in ((1, 1, 1), (2, 3, 2)):
        net = random_network(dims, seed=4)
        lay = net.layout
        rng = np.random.default_rng(5)
        drive = Drive(u_in=np.full(dims[0], 0.5), u_tgt=None, n_steps=1)
        for _ in range(300):
            run_pattern(net, drive, rng, engine="reference")
            np.testing.assert_array_equal(net.u[lay.inn(1)], net.u[lay.pyr(2)])


def _apical_statistics(net, n_steps, block, seed):
    rec = Recorder(net, [[], ["v_api"], []], n_steps, block)
    drive = Drive(u_in=np.full(net.layout.dims[0], 0.3), u_tgt=None, n_steps=n_steps)
    run_pattern(net, drive, np.random.default_rng(seed), recorder=rec)
    rec.finalize()
    blocks = rec.results()["rec.1.v_api"].astype(float)
    n = blocks.shape[0]
    return blocks.mean(axis=0), blocks.std(axis=0, ddof=1) / np.sqrt(n)


def test_self_predicting_state_cancels_apical_input_in_expectation():
    """E[v_api] = W_down (E[psp_out] - E[psp_inn]) = 0 in the self-predicting state, while
    the top-down input alone (interneuron path off) is far from 0. Block means over 5000 steps
    (>> the ~20-step correlation time) give the standard error; 5 SE bounds the mean."""
    for dims in ((1, 1, 1), (2, 3, 2)):
        net = random_network(dims, seed=6)
        net.w_down(1)[...] = np.where(net.w_down(1) >= 0, 2.0, -2.0)
        net.set_sps()
        mean, se = _apical_statistics(net, 1_000_000, 5000, seed=7)
        assert np.all(np.abs(mean) < 5 * se + 1e-12), (dims, mean, se)
        off = random_network(dims, seed=6)
        off.w_down(1)[...] = net.w_down(1)
        off.w_pi(1)[...] = 0.0
        mean_off, se_off = _apical_statistics(off, 1_000_000, 5000, seed=7)
        assert np.all(np.abs(mean_off) > 20 * se_off), (dims, mean_off, se_off)


@pytest.mark.parametrize("dims", [(1, 1, 1), (2, 3, 4, 2)])
@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_backprop_feedback_equals_transposed_forward_weights_after_every_step(dims, engine):
    net = random_network(dims, seed=8, update_down=False, learning_lag=3)
    rng = np.random.default_rng(9)
    changed = 0
    for step in range(1500 if engine == "fast" else 300):
        before = net.w_up_flat.copy()
        symm = (step // 100) % 4 == 3
        if symm and step % 100 == 0:
            net.set_symmetrization()
        drive = Drive(
            u_in=np.full(dims[0], 1.0),
            u_tgt=np.full(dims[-1], 0.8),
            n_steps=1,
            plast_up=not symm,
            sal=False,
            copy_bp=True,
            set_sps=True,
        )
        run_pattern(net, drive, rng, engine=engine)
        if symm and step % 100 == 99:
            net.unset_symmetrization()
        changed += not np.array_equal(before, net.w_up_flat)
        for layer in net.layout.hidden:
            np.testing.assert_array_equal(net.w_down(layer), net.w_up(layer + 1).T)
    assert changed > 10  # the forward weights did learn


def _sal_trace(w21, b0, seed, n_patterns=8, lr=0.004):
    """Symmetrization patterns only: forward weights fixed, SAL on B = W_down."""
    net = Network(NetParams(dims=(1, 1, 1), lr_up=(0.0, 0.2, 0.003), lr_down=(0.0, lr, 0.0)))
    net.set_weights([{"w_up": 2.0, "w_down": b0}, {"w_up": w21}])
    net.distribute_weights()
    net.set_bias([-1.0, -1.0])
    rng = np.random.default_rng(seed)
    trace = [b0]
    for _ in range(n_patterns):
        net.set_symmetrization()
        run_pattern(net, Drive(u_in=np.array([0.0]), u_tgt=None, n_steps=20000, sal=True), rng)
        net.unset_symmetrization()
        trace.append(float(net.w_down(1)[0, 0]))
    return np.array(trace)


@pytest.mark.parametrize("w21", [2.0, -2.0, 1.5])
@pytest.mark.parametrize("start", ["zero", "opposite"])
def test_sal_moves_feedback_toward_the_forward_weight_above(w21, start):
    b0 = 0.0 if start == "zero" else -w21
    for seed in (1, 2, 3):
        trace = _sal_trace(w21, b0, seed)
        dist = np.abs(trace - w21)
        assert np.all(np.diff(dist[:5]) < 0), (seed, trace)  # monotone approach at first
        assert dist[-1] < 0.6 * dist[0], (seed, trace)
        assert np.sign(trace[-1]) == np.sign(w21), (seed, trace)


def test_sal_same_step_accumulate_vs_overwrite():
    """With n_last = 2 a pre and a post spike in the same step add both pair terms (ours) or
    keep only the anti-causal one (paper); with n_last = 1 both are 0, so the rules agree."""
    net = Network(NetParams(dims=(1, 1, 1), n_last=2, lr_down=(0.0, 1.0, 0.0)))
    t = 100
    net.clock[0] = t
    hid, out = net.layout.pyr(1).start, net.layout.pyr(2).start
    net.last[hid] = [t - 3, t]
    net.last[out] = [t - 5, t]
    causal = net.params.stdp_a_causal * math.exp(-5 / 10) / 2
    anti = net.params.stdp_a_anticausal * math.exp(-3 / 10) / 2
    reference.sal_plasticity(net)
    assert net.w_down(1)[0, 0] == pytest.approx(causal + anti)
    over = Network(NetParams(dims=(1, 1, 1), n_last=2, lr_down=(0.0, 1.0, 0.0), sal_overwrite=True))
    over.clock[0], over.last[hid], over.last[out] = t, [t - 3, t], [t - 5, t]
    reference.sal_plasticity(over)
    assert over.w_down(1)[0, 0] == pytest.approx(anti)
    one = Network(NetParams(dims=(1, 1, 1), n_last=1, lr_down=(0.0, 1.0, 0.0)))
    one.clock[0], one.last[hid], one.last[out] = t, [t], [t]
    reference.sal_plasticity(one)
    assert one.w_down(1)[0, 0] == 0.0


def test_forward_plasticity_uses_presynaptic_spike_one_step_back():
    net = random_network((1, 1, 1), seed=10, learning_lag=0)
    t = 500
    net.clock[0] = t
    lay = net.layout
    net.ma_u[:] = 1.0
    net.ma_vb[:] = 0.5
    w_hidden, w_out = net.w_up(1).copy(), net.w_up(2).copy()
    net.last[lay.pyr(0).start, -1] = t - 1  # input spiked one step back: hidden W_up learns
    net.last[lay.pyr(1).start, -1] = t  # hidden spiked now: output W_up does not
    drive = Drive(u_in=np.zeros(1), u_tgt=np.zeros(1), n_steps=1, plast_up=True)
    reference.forward_plasticity(net, drive)
    phi = spike_probability(np.array([1.0, 0.5 - 1.0]), 10)
    assert net.w_up(1)[0, 0] == pytest.approx(w_hidden[0, 0] + 0.2 * (phi[0] - phi[1]))
    assert net.w_up(2)[0, 0] == w_out[0, 0]
