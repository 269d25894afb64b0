"""RDD and STDWI each reduce the angle between W and B of a small random layer pair;
alignment measures; the core additions used by SALNet."""

import math

import numpy as np
import pytest

from spikealign.deep.align import alignment, angle, corrcoef, sign_agreement
from spikealign.deep.rdd import UPDATE_EVERY, Driver, RDDNet, kappa, rdd_phase
from spikealign.deep.stdwi import stdwi
from spikealign.neuron import spike_logit_offset, spike_probability
from spikealign.stdp import exp_window, sal_window, tri_window


def _pair(n=30, seed=43):
    rng = np.random.default_rng(seed)
    bound = math.sqrt(3.0 / n)
    return rng.uniform(-bound, bound, (n, n)), rng.uniform(-bound, bound, (n, n))


def test_alignment_measures():
    w = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert angle(w, w) == pytest.approx(0.0, abs=1e-6)
    assert angle(w, -w) == pytest.approx(180.0)
    assert angle(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == pytest.approx(90.0)
    assert corrcoef(w, 2 * w + 1) == pytest.approx(1.0)
    assert sign_agreement(w, -w) == -1.0
    assert set(alignment(w, w)) == {"angle", "corr", "sign", "var"}


def test_rdd_reduces_angle():
    W, B = _pair()
    net = RDDNet([30, 30])
    net.set_weights([None, W], [B])
    before = angle(W, net.layers[0].fb_weight.T)
    drv = Driver([30], np.random.default_rng(44))
    for i in range(2 * UPDATE_EVERY):
        if (i + 1) % 100 == 0:
            drv.choose()
        net.step([drv.advance(0), None])
        if (i + 1) % UPDATE_EVERY == 0:
            net.update_fb_weights()
    after = angle(W, net.layers[0].fb_weight.T)
    assert after < before - 20, (before, after)
    # the updated entries carry the spread of the first B
    mask = net.layers[0].beta != 0
    assert mask.mean() > 0.5
    assert np.std(net.layers[0].fb_weight[mask]) == pytest.approx(np.std(B), rel=1e-9)


def test_rdd_phase_updates_every_layer():
    rng = np.random.default_rng(0)
    sizes = [40, 30, 20, 4]
    net = RDDNet(sizes)
    W = [None] + [rng.uniform(-0.3, 0.3, (sizes[l], sizes[l - 1])) for l in range(1, 4)]
    B = [rng.uniform(-0.3, 0.3, (sizes[l], sizes[l + 1])) for l in range(3)]
    net.set_weights(W, B)
    rdd_phase(net, 9000, np.random.default_rng(1), update_every=3000)
    for l in range(3):
        assert not np.allclose(net.layers[l].fb_weight, B[l]), l
    assert kappa(1) > 0 and kappa(30) > 0


def test_stdwi_reduces_angle():
    W, B = _pair(20, seed=7)
    Bf, t, a, c = stdwi(W, B.T, 60_000.0, np.random.default_rng(1))
    assert Bf.shape == W.shape
    assert t[-1] == pytest.approx(60.0)
    assert a[-1] < a[0] - 15, (a[0], a[-1])
    assert c[-1] > c[0] + 0.1


def test_trace_tables_and_decay():
    w = exp_window(a_plus=-2.0, a_minus=3.0, tau_plus=5.0, tau_minus=10.0)
    causal, anti = w.trace_tables(4)
    assert np.allclose(causal, -2.0 * np.exp(-np.arange(4) / 5.0))
    assert np.allclose(anti, 3.0 * np.exp(-np.arange(4) / 10.0))
    # k >= 1 equals the window itself on each side
    assert np.allclose(causal[1:], w(np.arange(1, 4)))
    assert np.allclose(anti[1:], w(-np.arange(1, 4)))
    c, a = tri_window(1.0, 1.0, 2.0).trace_tables(3)
    assert np.allclose(c, [1.0, 0.5, 0.0]) and np.allclose(a, [1.0, 0.5, 0.0])
    with pytest.raises(ValueError):
        w.trace_decay()
    assert sal_window(4.0).trace_decay() == pytest.approx(math.exp(-0.25))
    assert spike_probability(0.3, 10) == pytest.approx(
        1 / (1 + math.exp(-(0.3 - spike_logit_offset(10))))
    )
