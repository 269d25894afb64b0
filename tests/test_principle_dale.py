"""Dale's law E/I system: effective weights, seeded draws, simulated drift."""

import numpy as np
import pytest

from spikealign.principle.dale import EISystem, drift_grid, rate_check


def test_default_effective_weight_is_raw_minus_one():
    s = EISystem()  # sigma(4 * 0.5 - 2) / 0.5 = 1
    np.testing.assert_allclose(s.effective([0.0, 1.0, 2.0], "e2"), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(s.effective([0.5], "e1"), [-0.5])


def test_effective_inverse_roundtrip_and_noisy_draw_order():
    s = EISystem.noisy(np.random.default_rng(97))
    rng = np.random.default_rng(97)
    draws = [rng.normal(4, 0.2), rng.normal(4, 0.2), rng.normal(-1, 0.1), rng.normal(-1, 0.1),
             rng.normal(-2, 0.2), rng.normal(-2, 0.2)]
    got = [s.weights["i1_e1"], s.weights["i2_e2"], s.weights["e2_i1"], s.weights["e1_i2"],
           s.biases["i1"], s.biases["i2"]]
    assert got == draws
    x = np.linspace(-1, 2, 7)
    for post in ("e1", "e2"):
        np.testing.assert_allclose(s.raw(s.effective(x, post), post), x, atol=1e-14)
    W, b = s.network()
    assert W[1, 2] == s.weights["e2_i1"] and W[2, 0] == s.weights["i1_e1"]
    assert b[3] == s.biases["i2"]


def test_drift_grid_seeded_and_worker_independent():
    w = [0.5, 1.5]
    kw = dict(t_ref=10, t_syn=10, n_steps=100_000, seed=3)
    g1 = drift_grid(EISystem(), w, workers=1, **kw)
    g2 = drift_grid(EISystem(), w, workers=2, **kw)
    np.testing.assert_array_equal(g1, g2)
    # SAL on the E synapses pulls the raw weights together
    assert g1[0, 1, 0] > 0 > g1[0, 1, 1]
    assert g1[1, 0, 0] < 0 < g1[1, 0, 1]


def test_rate_check_runs():
    w_eff, dale, direct = rate_check(EISystem(), [0.0, 2.0], t_ref=10, t_syn=10,
                                     n_steps=100_000)
    np.testing.assert_allclose(w_eff, [-1.0, 1.0])
    assert dale[1] > dale[0] and direct[1] > direct[0]
    assert np.all(np.abs(dale - direct) < 0.1)


def test_bad_system():
    from spikealign.config import ConfigError

    with pytest.raises(ConfigError):
        EISystem(weights={"e2_e1": 1.0})
