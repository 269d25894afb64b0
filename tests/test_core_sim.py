"""Simulators of sampling networks: reference vs fast, statistics, ground truth."""

import math

import numpy as np
import pytest

from spikealign import boltzmann as bz
from spikealign.sim import SimParams, phase_statistics, simulate
from spikealign.spikes import spike_counts, state_histogram
from spikealign.stdp import pair_stdp_reference, sal_window, tri_window


def random_net(n, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    W = scale * rng.uniform(-1, 1, (n, n))
    return W, rng.uniform(-1, 1, n)


CASES = [
    dict(n=7, params=SimParams(t_ref=50, tau_syn=50, n_last_psp=1)),  # SSN paper setting
    dict(n=3, params=SimParams(t_ref=10, tau_syn=25, n_last_psp=3)),  # overlapping PSPs
    dict(n=4, params=SimParams(t_ref=10, tau_syn=5, psp="alpha", n_last_psp=4)),
    dict(n=3, params=SimParams(t_ref=10, tau_syn=10, min_isi=10)),  # microcircuit refractoriness
    dict(n=14, params=SimParams(t_ref=20, tau_syn=20)),  # too large for the hazard cache
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"n{c['n']}-{c['params'].psp}")
def test_reference_and_fast_emit_identical_spikes(case):
    W, b = random_net(case["n"], 11, scale=1.5)
    p = case["params"]
    s_fast = simulate(W, b, 6000, p, np.random.default_rng(5), engine="fast")
    s_ref = simulate(W, b, 6000, p, np.random.default_rng(5), engine="reference")
    assert len(s_fast) > 50
    np.testing.assert_array_equal(s_fast, s_ref)


def test_streamed_statistics_equal_offline_statistics():
    W, b = random_net(5, 3)
    p = SimParams(t_ref=20, tau_syn=20, n_last_psp=1)
    windows = (
        tri_window(1.0, 1.0, 20, 20),
        sal_window(20, kind="exp"),
        tri_window(np.random.default_rng(1).uniform(0.5, 1.5, (5, 5)), 0.7, 15, 9),
    )
    st = phase_statistics(
        W,
        b,
        30000,
        p,
        np.random.default_rng(9),
        windows=windows,
        n_last_stdp=2,
        sample_every=7,
        record=True,
    )
    rec = st.spikes
    np.testing.assert_array_equal(st.counts, spike_counts(rec, 5))
    np.testing.assert_array_equal(st.states, state_histogram(rec, 5, 20, 30000, 7))
    for k, w in enumerate(windows):
        np.testing.assert_allclose(
            st.stdp[k], pair_stdp_reference(rec, 5, w, 2), rtol=1e-12, atol=1e-12
        )


def test_same_seed_same_bits_and_generator_advances():
    W, b = random_net(7, 0)
    p = SimParams(t_ref=50, tau_syn=50)
    a = simulate(W, b, 20000, p, np.random.default_rng(1))
    rng = np.random.default_rng(1)
    c = simulate(W, b, 20000, p, rng)
    np.testing.assert_array_equal(a, c)
    d = simulate(W, b, 20000, p, rng)  # the generator moved on
    assert not np.array_equal(c, d)


def test_refractoriness():
    p = SimParams(t_ref=10, tau_syn=10)
    rec = simulate(np.zeros((1, 1)), np.array([8.0]), 5000, p, np.random.default_rng(0))
    isi = np.diff(rec[:, 0])
    assert isi.min() == 11  # t_ref + 1
    p2 = SimParams(t_ref=10, tau_syn=10, min_isi=10)
    isi2 = np.diff(
        simulate(np.zeros((1, 1)), np.array([8.0]), 5000, p2, np.random.default_rng(0))[:, 0]
    )
    assert isi2.min() == 10


@pytest.mark.parametrize("u", [-2.0, 0.0, 1.5])
def test_single_neuron_spike_rate_matches_theory(u):
    """ISI = (min_isi - 1) + Geometric(p): mean min_isi - 1 + 1/p; tolerance from its variance."""
    t_ref, steps = 10, 400_000
    p = 1 / (1 + t_ref * math.exp(-u))
    params = SimParams(t_ref=t_ref, tau_syn=10)
    rec = simulate(np.zeros((1, 1)), np.array([u]), steps, params, np.random.default_rng(2))
    isi = np.diff(rec[:, 0])
    mean, var = params.min_isi - 1 + 1 / p, (1 - p) / p**2
    se = math.sqrt(var / len(isi))
    assert abs(isi.mean() - mean) < 4.5 * se


def test_excitation_raises_partner_rate():
    p = SimParams(t_ref=10, tau_syn=10)
    b = np.array([-1.0, -1.0])
    base = phase_statistics(np.zeros((2, 2)), b, 200000, p, np.random.default_rng(0)).counts
    W = np.array([[0.0, 0.0], [3.0, 0.0]])  # 0 excites 1
    exc = phase_statistics(W, b, 200000, p, np.random.default_rng(0)).counts
    assert exc[1] > 1.3 * base[1]
    assert abs(exc[0] - base[0]) < 0.1 * base[0]


def _sampling_dkl(steps, seed):
    n = 5
    rng = np.random.default_rng(seed)
    W = bz.copy_triu(rng.uniform(-1, 1, (n, n)))
    b = rng.uniform(-1, 1, n)
    target, _ = bz.exact_distribution(W, b)
    p = SimParams(t_ref=50, tau_syn=50)
    st = phase_statistics(W, b, steps, p, np.random.default_rng(seed + 1), sample_every=25)
    return bz.kl_divergence(target, bz.empirical_distribution(st.states))


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_network_samples_its_boltzmann_distribution(seed):
    # 2e7 steps = 8e5 samples over 32 states: the sampling noise of D_KL is about
    # (32 - 1) / (2 * 8e5 / correlation time ~ 4) ~ 1e-4, far below the 0.01 bound; what
    # remains is the discrete-time neural-sampling bias (measured 1e-3 .. 5e-3).
    assert _sampling_dkl(20_000_000, seed) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 20))
def test_network_samples_its_boltzmann_distribution_many_seeds(seed):
    assert _sampling_dkl(200_000_000, seed) < 0.01


def test_bad_arguments():
    p = SimParams(t_ref=10, tau_syn=10)
    with pytest.raises(ValueError, match="W must be"):
        simulate(np.zeros((2, 3)), np.zeros(2), 10, p, np.random.default_rng(0))
    with pytest.raises(ValueError, match="engine"):
        simulate(np.zeros((2, 2)), np.zeros(2), 10, p, np.random.default_rng(0), engine="gpu")
    with pytest.raises(ValueError, match="t_ref"):
        SimParams(t_ref=0, tau_syn=10)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_clamped_neurons_are_forced(engine):
    """clamp 1: a spike at every step the neuron is free (0, min_isi, 2 min_isi, ...), whatever
    its input; clamp 0: no spike even with a huge bias; free neurons still feel the clamped."""
    p = SimParams(t_ref=4, tau_syn=4)
    W = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [6.0, 0.0, 0.0]])
    b = np.array([-30.0, 30.0, -4.0])
    st = phase_statistics(
        W, b, 1000, p, np.random.default_rng(3), record=True, engine=engine, clamp=[1, 0, -1]
    )
    rec = st.spikes
    np.testing.assert_array_equal(rec[rec[:, 1] == 0, 0], np.arange(0, 1000, p.min_isi))
    assert st.counts[1] == 0
    free = phase_statistics(
        W, b, 1000, p, np.random.default_rng(3), engine=engine, clamp=[0, 0, -1]
    ).counts[2]
    assert st.counts[2] > 3 * max(free, 1)


def test_clamped_engines_identical():
    W, b = random_net(9, 4, scale=1.5)
    clamp = np.array([1, 0, -1, -1, 1, -1, 0, -1, -1])
    for p in (SimParams(t_ref=10, tau_syn=10), SimParams(t_ref=6, tau_syn=9, psp="alpha")):
        a = phase_statistics(W, b, 5000, p, np.random.default_rng(2), record=True, clamp=clamp)
        r = phase_statistics(
            W, b, 5000, p, np.random.default_rng(2), record=True, clamp=clamp, engine="reference"
        )
        np.testing.assert_array_equal(a.spikes, r.spikes)


def test_bad_clamp():
    p = SimParams(t_ref=10, tau_syn=10)
    with pytest.raises(ValueError, match="clamp"):
        phase_statistics(
            np.zeros((2, 2)), np.zeros(2), 10, p, np.random.default_rng(0), clamp=[2, 0]
        )
    with pytest.raises(ValueError, match="clamp"):
        phase_statistics(np.zeros((2, 2)), np.zeros(2), 10, p, np.random.default_rng(0), clamp=[1])
