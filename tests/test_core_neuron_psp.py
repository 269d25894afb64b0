"""Neuron model, PSP kernels and spike records."""

import math

import numpy as np
import pytest

from spikealign import neuron, psp, spikes


def test_spike_probability_and_hazard_are_consistent():
    u = np.linspace(-10, 10, 101)
    for t_ref in (1, 10, 50):
        p = neuron.spike_probability(u, t_ref)
        np.testing.assert_allclose(p, 1 / (1 + t_ref * np.exp(-u)), rtol=1e-12)
        np.testing.assert_allclose(-np.expm1(-neuron.hazard(u, t_ref)), p, rtol=1e-12)


def test_quantised_hazard_python_and_compiled_are_bit_identical():
    rng = np.random.default_rng(0)
    log_t = math.log(50)
    for u in np.concatenate([rng.normal(0, 5, 20000), [-800, -40, 0, 40, 800]]):
        assert neuron.hazard_quanta_py(u, log_t) == neuron.hazard_quanta(u, log_t)
        assert abs(
            neuron.hazard_quanta_py(u, log_t) / neuron.HAZARD_SCALE
            - min(neuron.hazard(u, 50), 2**61 / neuron.HAZARD_SCALE)
        ) < 1e-12 * (1 + abs(u))


def test_min_isi_conventions():
    assert neuron.min_isi_ssn(10) == 11
    assert neuron.min_isi_microcircuit(10) == 10


@pytest.mark.parametrize("name", psp.PSP_NAMES)
def test_psp_integrals_match_quadrature(name):
    k = psp.make_psp(name, t_ref=10, tau_syn=4)
    x = np.linspace(0, 400, 400001)
    num = np.trapezoid(k(x), x)
    assert num == pytest.approx(k.integral, rel=2e-4)


def test_alpha_integrates_to_t_ref_for_any_tau():
    for tau in (2.0, 5.0, 10.0, 20.0):
        assert psp.alpha(10, tau).integral == 10
        x = np.linspace(0, 60 * tau, 600001)
        assert np.trapezoid(psp.alpha(10, tau)(x), x) == pytest.approx(10, rel=1e-6)


def test_rect_support_and_tables():
    k = psp.rect(50)
    assert k.support == (0.0, 50.0)
    t0 = k.table()
    assert len(t0) == 50 and t0.sum() == 50
    t1 = k.table(first_age=1)  # SSN convention: ages 1..tau_syn-1
    assert t1[0] == 0 and t1.sum() == 49


def test_truncated_tail_keeps_the_mass():
    for name in ("alpha", "exp", "tail"):
        k = psp.make_psp(name, 10, 5)
        n = k.n_taps(1e-9)
        assert k.table(n).sum() == pytest.approx(k.table(4 * n).sum(), rel=1e-8)


def test_bad_psp():
    with pytest.raises(ValueError, match="unknown PSP shape"):
        psp.make_psp("box", 10)
    with pytest.raises(ValueError, match="tau_syn must be > 0"):
        psp.make_psp("rect", 10, 0)


def test_states_from_spikes_brute_force():
    rng = np.random.default_rng(2)
    rec = spikes.as_record(rng.integers(0, 500, 60), rng.integers(0, 3, 60))
    rec = np.unique(rec, axis=0)
    z = spikes.states_from_spikes(rec, 3, t_on=7, duration=500, dt=3)
    for k, T in enumerate(range(0, 500, 3)):
        for i in range(3):
            s = rec[rec[:, 1] == i, 0]
            assert z[k, i] == int(np.any((s < T) & (T <= s + 7)))


def test_upstream_conversion_roundtrip():
    up = np.array([[3.0, 2.0], [1.0, 1.0], [3.0, 1.0]])
    rec = spikes.from_upstream(up)
    assert rec.tolist() == [[1, 0], [3, 0], [3, 1]]
    np.testing.assert_array_equal(spikes.to_upstream(rec), [[1, 1], [3, 1], [3, 2]])
