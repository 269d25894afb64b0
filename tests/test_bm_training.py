"""Wake-sleep STDP of the spiking Boltzmann machine: the update against a hand computation,
SAL and KP shrinking the asymmetry, determinism, and a short real-data run that learns."""

import copy
import math

import numpy as np
import pytest

from spikealign.bm import load_config
from spikealign.bm.data import Dataset, bars_and_stripes
from spikealign.bm.model import make_mask, pair_asymmetry
from spikealign.bm.train import Setup, Trainer, make_rules, train

TINY = {
    "epochs": 2,
    "batch_size": 4,
    "wake_steps": 40,
    "sleep_steps": 80,
    "network": {"n_hidden": 2},
    "eval": {"every": 1, "steps": 50, "completion": 0, "dkl_steps": 2000},
}


def tiny_setup(cfg, W0, b0, ws_noise=0.0, sal_noise=0.0, seed=0):
    """A 2 visible + 2 hidden network on two patterns."""
    x = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.uint8)
    data = Dataset("tiny", x, None, x, None, (1, 2), 0)
    mask = make_mask(2, 2, "rbm")
    ws, sal = make_rules(4, cfg.stdp_tau, ws_noise, sal_noise, np.random.default_rng(seed))
    return Setup(data, mask, np.where(mask, W0, 0.0), b0, ws, sal, 2, 0)


def hand_stdp(spikes, n, amp, tau, sign_causal=1.0):
    """Pair STDP with the triangular window, nearest partner spike (n_last = 1), written out:
    a spike of p at t pairs with the latest earlier-or-simultaneous spike s of each q != p;
    W[p, q] (causal, dt = t - s > 0) gets sign_causal * a_pq (1 - dt / tau), W[q, p]
    (anti-causal for q) gets a_qp (1 - dt / tau); |dt| >= tau and dt = 0 add nothing."""
    S = np.zeros((n, n))
    last = [None] * n
    for t, p in spikes:
        for q in range(n):
            if q == p or last[q] is None:
                continue
            dt = t - last[q]
            if 0 < dt < tau:
                S[p, q] += sign_causal * amp[p, q] * (1 - dt / tau)
                S[q, p] += amp[q, p] * (1 - dt / tau)
        last[p] = t
    return S


def test_wake_sleep_update_matches_hand_computation_window_estimator():
    """``stdp.coactivation: window`` (the SSN's estimate, kept to measure its bias): pair
    STDP with the triangular window; the exact estimator (the default) is checked against
    BoltzmannMachine.coactivation in test_bm_coactivation.py."""
    cfg = load_config(
        "bars",
        overrides={
            **TINY,
            "lr": {"weight": 0.3, "bias": 0.2, "symm": 0.5, "kp": 0.01},
            "sleep_phases": 2,
            "stdp": {"coactivation": "window"},
        },
    )
    rng = np.random.default_rng(4)
    W0 = rng.normal(0, 0.8, (4, 4))
    b0 = rng.normal(0, 0.5, 4)
    setup = tiny_setup(cfg, W0, b0, ws_noise=0.3, sal_noise=0.2, seed=9)
    tr = Trainer(cfg, engine="reference", setup=setup)
    state = tr.initial_state()
    idx = np.array([0, 2, 1])

    # the same phases again, recorded, from a copy of the generator
    r = copy.deepcopy(state.rng)
    net = tr.network(state)
    wake = [
        net.phase(
            cfg.wake_steps,
            r,
            net.clamp_vector(setup.data.x_train[k]),
            windows=(setup.ws_rule,),
            record=True,
        ).spikes
        for k in idx
    ]
    sleep = [
        net.phase(cfg.sleep_steps, r, None, windows=tr.sleep_windows, record=True).spikes
        for _ in range(cfg.sleep_phases)
    ]
    tau, t_ref = cfg.stdp_tau, cfg.sim.t_ref
    a_ws = setup.ws_rule.a_plus
    a_sal = setup.sal_rule.a_minus
    assert np.array_equal(-setup.sal_rule.a_plus, a_sal)
    C_w = np.mean([hand_stdp(s, 4, a_ws, tau) for s in wake], 0) / cfg.wake_steps * t_ref
    C_s = np.mean([hand_stdp(s, 4, a_ws, tau) for s in sleep], 0) / cfg.sleep_steps * t_ref
    S_sal = np.mean([hand_stdp(s, 4, a_sal, tau, -1.0) for s in sleep], 0) / cfg.sleep_steps * t_ref
    m_w = np.mean([np.bincount(s[:, 1], minlength=4) for s in wake], 0) / cfg.wake_steps * t_ref
    m_s = np.mean([np.bincount(s[:, 1], minlength=4) for s in sleep], 0) / cfg.sleep_steps * t_ref
    # forced clamping: a visible unit clamped to 1 spikes every min_isi = t_ref steps
    x0 = setup.data.x_train[idx[0]]
    assert np.array_equal(
        wake[0][wake[0][:, 1] == 0][:, 0], np.arange(0, cfg.wake_steps, t_ref) if x0[0] else []
    )
    assert C_w[2:, :2].any() and C_s.any() and S_sal.any()

    W = (1 - 0.01) * (state.W + 0.3 * (C_w - C_s)) + 0.5 * S_sal
    W = np.where(setup.mask, np.clip(W, -cfg.max_w, cfg.max_w), 0.0)
    b = state.b + 0.2 * (m_w - m_s)

    tr.minibatch(state, idx)
    np.testing.assert_allclose(state.W, W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state.b, b, rtol=1e-12, atol=1e-12)


def asym_after(lr_symm, lr_kp, updates=150):
    cfg = load_config(
        "bars",
        overrides={
            **TINY,
            "lr": {"weight": 0.0, "bias": 0.0, "symm": lr_symm, "kp": lr_kp},
            "sleep_steps": 400,
        },
    )
    rng = np.random.default_rng(1)
    W0 = rng.normal(0, 1.0, (4, 4))
    setup = tiny_setup(cfg, W0, np.zeros(4))
    tr = Trainer(cfg, setup=setup)
    state = tr.initial_state()
    for _ in range(updates):
        tr.minibatch(state, np.array([0]))
    return pair_asymmetry(W0, setup.mask), state.asym[0], pair_asymmetry(state.W, setup.mask)


def test_sal_and_kp_reduce_the_asymmetry_of_a_small_network():
    a0, a_init, a_none = asym_after(0.0, 0.0)
    assert a_init == a0 > 0.1 and a_none == a0  # without alignment nothing changes
    _, _, a_sal = asym_after(0.5, 0.0)
    _, _, a_kp = asym_after(0.0, 0.01)
    assert a_sal < 0.5 * a0
    assert a_kp == pytest.approx(a0 * 0.99**300, rel=1e-9)  # pure decay: (1 - lr)^(2 n)


def test_same_seed_same_bits_and_engines_agree():
    cfg = load_config(
        "bars",
        overrides={
            **TINY,
            "lr": {"weight": 0.1, "bias": 0.05, "symm": 0.1},
            "init": {"synaptic_noise": 0.3},
            "stdp": {"noise": 0.2},
        },
    )
    a, _ = train(cfg)
    b, _ = train(cfg)
    assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert a.dkl_sampled == b.dkl_sampled and a.asym == b.asym
    ref, _ = train(cfg, engine="reference")
    assert np.array_equal(a.W, ref.W) and np.array_equal(a.b, ref.b)
    other, _ = train(cfg.model_copy(update={"seed": cfg.seed.model_copy(update={"sim": 9})}))
    assert not np.array_equal(a.W, other.W)


def test_bars_task_data_is_exact():
    x = bars_and_stripes(3)
    assert len(x) == 14 and len({tuple(r) for r in x}) == 14
    cfg = load_config("bars", overrides=TINY)
    p = Trainer(cfg).setup.data.distribution()
    assert p.shape == (512,) and np.isclose(p.sum(), 1) and np.count_nonzero(p) == 14


def test_short_digit_run_learns():
    # chance is 1/10; with n test images the accuracy of a guessing network has standard
    # deviation sqrt(0.1 * 0.9 / n): demand 5 of them above chance (p < 3e-7)
    n_test = 200
    cfg = load_config(
        "digits-quick",
        overrides={
            "epochs": 3,
            "data": {"n_test": n_test},
            "network": {"n_hidden": 60},
            "eval": {"every": 3, "completion": 20},
            "sleep_steps": 300,
            "sleep_phases": 1,
        },
    )
    state, _ = train(cfg)
    assert state.n_eval[-1] == 300  # the last validation evaluation uses all 300 images
    for acc, n in ((state.test_accuracy, n_test), (state.val_accuracy[-1], 300)):
        assert acc > 0.1 + 5 * math.sqrt(0.1 * 0.9 / n)
    assert 0.5 < state.val_completion[-1] <= 1.0 and 0.5 < state.test_completion <= 1.0


def test_plasticity_noise_is_per_synapse_and_drives_the_directions_apart():
    ws, sal = make_rules(6, 10.0, 0.4, 0.2, np.random.default_rng(3))
    a, a_sal = ws.a_plus, sal.a_minus
    off = ~np.eye(6, dtype=bool)
    assert np.all(np.abs(a - 1) <= 1.5 * 0.4) and np.all(np.abs(a_sal - 1) <= 1.5 * 0.2)
    assert np.all(a[off] != a.T[off])  # forward and backward synapses drawn separately
    assert np.array_equal(ws.a_minus, a) and np.array_equal(sal.a_plus, -a_sal)
    clean, _ = make_rules(6, 10.0, 0.0, 0.0, np.random.default_rng(3))
    assert np.all(clean.a_plus == 1.0)
    # without alignment, learning with noisy amplitudes moves W_ij and W_ji apart
    cfg = load_config(
        "bars", overrides={**TINY, "epochs": 20, "stdp": {"noise": 0.5}, "network": {"n_hidden": 4}}
    )
    state, _ = train(cfg)
    assert state.asym[0] == 0.0 and state.asym[-1] > 1e-4


@pytest.mark.slow
def test_digits_quick_contract():
    """The public contract: digits-quick in at most 3 minutes (2 cores) with >= 80 %."""
    import time

    t0 = time.perf_counter()
    state, _ = train(load_config("digits-quick"))
    assert time.perf_counter() - t0 < 180
    assert state.n_eval[-1] == 300 and state.test_accuracy >= 0.8
