"""Pair-based STDP against hand-computed spike trains, and window definitions."""

import math

import numpy as np
import pytest

from spikealign import stdp


def test_exp_window_values_and_all_taus_honoured():
    w = stdp.exp_window(a_plus=2.0, a_minus=-0.5, tau_plus=10.0, tau_minus=4.0)
    assert w(3.0) == pytest.approx(2.0 * math.exp(-0.3))
    assert w(-3.0) == pytest.approx(-0.5 * math.exp(-0.75))
    assert w(0.0) == 0.0


def test_tri_window_values():
    w = stdp.tri_window(1.0, 3.0, 10.0, 5.0)
    np.testing.assert_allclose(
        w(np.array([-6, -5, -2, 0, 2, 10, 11])), [0, 0, 3.0 * 0.6, 0, 0.8, 0, 0]
    )


def test_sal_window_is_odd():
    w = stdp.sal_window(tau=7.0, amplitude=1.5, kind="exp")
    dt = np.arange(1, 30)
    np.testing.assert_allclose(w(-dt), -w(dt))
    assert w(1.0) < 0 < w(-1.0)  # causal depressed, anti-causal potentiated


def test_pair_stdp_hand_computed_n_last_1():
    # neuron 0 spikes at 10, neuron 1 at 13, neuron 0 at 20, neuron 2 at 20, neuron 1 at 40
    spikes = np.array([[10, 0], [13, 1], [20, 0], [20, 2], [40, 1]])
    w = stdp.exp_window(1.0, -1.0, 5.0, 8.0)
    K = lambda d: w(float(d)).item()  # noqa: E731
    S = np.zeros((3, 3))
    # spike (13, 1): partner 0 last spike 10 -> dt=3
    S[1, 0] += K(3)
    S[0, 1] += K(-3)
    # spike (20, 0): partner 1 last spike 13 -> dt=7
    S[0, 1] += K(7)
    S[1, 0] += K(-7)
    # spike (20, 2): partners 0 (last 20, dt 0) and 1 (last 13, dt 7)
    S[2, 1] += K(7)
    S[1, 2] += K(-7)
    # spike (40, 1): partners 0 (last 20) and 2 (last 20): dt=20
    S[1, 0] += K(20)
    S[0, 1] += K(-20)
    S[1, 2] += K(20)
    S[2, 1] += K(-20)
    for impl in (stdp.pair_stdp, stdp.pair_stdp_reference):
        np.testing.assert_allclose(impl(spikes, 3, w, n_last=1), S, rtol=1e-14)


def test_pair_stdp_n_last_2_uses_two_latest_partner_spikes():
    spikes = np.array([[0, 1], [5, 1], [9, 1], [12, 0]])
    w = stdp.tri_window(1.0, 1.0, 20.0, 20.0)
    S = stdp.pair_stdp(spikes, 2, w, n_last=2)
    # pairs with the two latest spikes of neuron 1 (5 and 9): dt = 7 and 3
    assert S[0, 1] == pytest.approx((1 - 7 / 20) + (1 - 3 / 20))
    assert S[1, 0] == pytest.approx((1 - 7 / 20) + (1 - 3 / 20))
    S3 = stdp.pair_stdp(spikes, 2, w, n_last=3)
    assert S3[0, 1] == pytest.approx(S[0, 1] + (1 - 12 / 20))


def test_per_synapse_amplitudes():
    spikes = np.array([[0, 0], [4, 1]])
    ap = np.array([[0.0, 2.0], [3.0, 0.0]])
    am = np.array([[0.0, 5.0], [7.0, 0.0]])
    w = stdp.Window("tri", ap, am, 10.0, 10.0)
    S = stdp.pair_stdp(spikes, 2, w)
    # post 1 / pre 0 is causal (dt=4): a_plus[1, 0] * 0.6; synapse 1->0 anti-causal: a_minus[0, 1]
    assert S[1, 0] == pytest.approx(3.0 * 0.6)
    assert S[0, 1] == pytest.approx(5.0 * 0.6)


def test_compiled_and_reference_agree_on_random_trains():
    rng = np.random.default_rng(0)
    n = 5
    times = np.sort(rng.integers(0, 2000, 400))
    ids = rng.integers(0, n, 400)
    spikes = np.stack([times, ids], 1)
    spikes = spikes[np.lexsort((spikes[:, 1], spikes[:, 0]))]
    amps = 1 + 0.1 * rng.normal(size=(n, n))
    for w in (stdp.exp_window(amps, -amps, 13.0, 7.0), stdp.tri_window(1.0, -0.5, 30.0, 12.0)):
        for n_last in (1, 3):
            np.testing.assert_array_equal(
                stdp.pair_stdp(spikes, n, w, n_last), stdp.pair_stdp_reference(spikes, n, w, n_last)
            )


def test_truncated_normal_bounds_and_zero_sigma():
    rng = np.random.default_rng(3)
    v = stdp.truncated_normal(rng, 0.2, (50, 50))
    assert np.all(np.abs(v) <= 0.3)
    assert np.std(v) > 0.1
    np.testing.assert_array_equal(stdp.truncated_normal(rng, 0.0, (3, 3)), 0.0)


def test_forward_backward_split():
    f = np.full((3, 3), 1.0)
    b = np.full((3, 3), 2.0)
    m = stdp.forward_backward(f, b)
    assert m[0, 1] == 1 and m[1, 2] == 1 and m[1, 0] == 2 and m[2, 0] == 2


def test_bad_windows():
    with pytest.raises(ValueError, match="unknown kind"):
        stdp.Window("gauss", 1, 1, 1, 1)
    with pytest.raises(ValueError, match="tau_plus must be > 0"):
        stdp.exp_window(1, 1, 0.0, 1)
