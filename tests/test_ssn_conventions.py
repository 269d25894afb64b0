"""Conventions of SSN training pinned against hand computations (``reference-model`` 2.2, 2.5).

Every expected value here is computed in this file from spike records or literal numbers, not
through the library's own helpers for the same quantity (``spikes.states_from_spikes``,
``boltzmann.kl_divergence``, ``ssn.train.apply_update``, ...), so a shared mistake cannot cancel.
"""

import importlib
import itertools
import math

import numpy as np
import pytest

from spikealign.boltzmann import kl_divergence
from spikealign.sim import SimParams, phase_statistics
from spikealign.spikes import state_histogram, states_from_spikes
from spikealign.ssn import load_config
from spikealign.ssn.train import Trainer, initial_state
from spikealign.stdp import tri_window

# the module (``spikealign.ssn.train`` as an attribute is the function ``train``)
train_mod = importlib.import_module("spikealign.ssn.train")

# -- helpers written for these tests --------------------------------------------------------------


def tiny_cfg(t_ref=10, **over):
    """A small syn_noise_sal run: 3 neurons, sleep 40 t_ref, validations 25x longer."""
    tau = {"tau_plus": t_ref, "tau_minus": t_ref}
    base = {
        "dim": 3,
        "num_epochs": 6,
        "val_step": 5,
        "val_factor": 25,
        "dur": 40,
        "sim_params": {"t_ref": t_ref, "tau_syn": t_ref},
        "stdp": {"ws": tau, "sal": tau},
    }
    for key, value in over.items():
        if isinstance(value, dict):
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return load_config("syn_noise_sal", overrides=base)


def on_states(spikes, n, t_ref, length):
    """z[T, i] for T = 0 .. length-1: neuron i is on in the t_ref steps after each spike,
    T = s+1 .. s+t_ref (``reference-model`` 2.2: s < T <= s + t_ref). One slice per spike."""
    z = np.zeros((length, n), dtype=np.int64)
    for s, i in spikes:
        z[s + 1 : s + 1 + t_ref, i] = 1
    return z


def hand_histogram(spikes, n, t_ref, n_steps, every):
    """Counts of the states read at T = 0, every, 2 every, ... < n_steps, neuron 0 the most
    significant bit."""
    z = on_states(spikes, n, t_ref, n_steps)[0:n_steps:every]
    index = sum(z[:, i] << (n - 1 - i) for i in range(n))
    return np.bincount(index, minlength=2**n)


def hand_boltzmann(W, b):
    """p(z) ∝ exp(z^T W z / 2 + b^T z) over itertools.product order (neuron 0 = MSB)."""
    z = np.array(list(itertools.product([0, 1], repeat=len(b))), dtype=float)
    logp = 0.5 * np.einsum("ki,ij,kj->k", z, W, z) + z @ b
    p = np.exp(logp - logp.max())
    return p / p.sum()


def hand_kl(p, q):
    return float(sum(pk * math.log(pk / qk) for pk, qk in zip(p, q, strict=True) if pk > 0))


def sim_params_of(cfg):
    return SimParams(
        t_ref=cfg.sim_params.t_ref,
        tau_syn=cfg.sim_params.tau_syn,
        n_last_psp=cfg.sim_params.num_last_spikes,
    )


# -- a. D_KL argument order -----------------------------------------------------------------------


def test_kl_divergence_hand_values():
    """D_KL(p || q) = sum_k p_k ln(p_k / q_k), with p first; asymmetric cases by hand."""
    p, q = [0.5, 0.5], [0.9, 0.1]
    assert kl_divergence(p, q) == pytest.approx(math.log(5 / 3), rel=1e-14)  # 0.511
    assert kl_divergence(q, p) == pytest.approx(
        0.9 * math.log(1.8) + 0.1 * math.log(0.2), rel=1e-14
    )  # 0.368
    # zero in the first argument: 0 ln 0 = 0; zero in the second where the first is not: inf
    assert kl_divergence([1.0, 0.0], [0.25, 0.75]) == pytest.approx(math.log(4), rel=1e-14)
    assert kl_divergence([0.25, 0.75], [1.0, 0.0]) == math.inf


def test_training_records_dkl_of_target_against_sampled():
    """``dkls[k] = D_KL(target || sampled_k)``, with the target from the target weights by hand
    and the sampled distribution as recorded; the reverse order differs by > 10 % here."""
    cfg = tiny_cfg()
    trainer = Trainer(cfg, "fast")
    state = initial_state(cfg, trainer.problem)
    trainer.step_block(state)
    trainer.step_block(state)
    assert state.val_cycles == [0, 5]
    target = hand_boltzmann(trainer.problem.W_target, trainer.problem.b_target)
    for dkl, sampled in zip(state.dkls, state.distrs, strict=True):
        forward, reverse = hand_kl(target, sampled), hand_kl(sampled, target)
        assert abs(forward - reverse) > 0.1 * forward
        assert dkl == pytest.approx(forward, rel=1e-12)


# -- b. state read-out ----------------------------------------------------------------------------


def test_states_from_a_hand_made_record():
    """t_ref = 4, read every 2 steps below 12: neuron i is on at T iff a spike s < T <= s + 4.
    Spikes: neuron 0 at 1 and 6, neuron 1 at 3, neuron 2 at 6 and 11 (the last one is never
    seen: nothing is read after step 11)."""
    spikes = np.array([[1, 0], [3, 1], [6, 0], [6, 2], [11, 2]])
    expected = np.array(
        [
            [0, 0, 0],  # T = 0
            [1, 0, 0],  # T = 2: spike 1 of neuron 0 (on at 2..5)
            [1, 1, 0],  # T = 4: neuron 1 on at 4..7
            [0, 1, 0],  # T = 6: neuron 0's window ended at 5; spikes at 6 act from 7 on
            [1, 0, 1],  # T = 8: neurons 0 and 2 on at 7..10, neuron 1 off after 7
            [1, 0, 1],  # T = 10
        ]
    )
    np.testing.assert_array_equal(states_from_spikes(spikes, 3, 4, 12, 2), expected)
    np.testing.assert_array_equal(on_states(spikes, 3, 4, 12)[::2], expected)
    hist = np.zeros(8, dtype=np.int64)
    for z in expected:
        hist[4 * z[0] + 2 * z[1] + z[2]] += 1
    np.testing.assert_array_equal(state_histogram(spikes, 3, 4, 12, 2), hist)


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("t_ref, every, n_steps", [(10, 5, 20003), (7, 3, 9001)])
def test_engine_state_histogram_matches_hand_readout(engine, t_ref, every, n_steps):
    """The histogram an engine accumulates while simulating equals the one read by hand from
    its recorded spikes at T = 0, every, 2 every, ... < n_steps."""
    if engine == "reference":
        n_steps //= 4
    W = np.array([[0.0, 1.5, -0.7], [1.2, 0.0, 0.9], [-0.5, 1.1, 0.0]])
    b = np.array([-0.4, 0.1, -0.8])
    st = phase_statistics(
        W,
        b,
        n_steps,
        SimParams(t_ref=t_ref, tau_syn=t_ref),
        np.random.default_rng(3),
        sample_every=every,
        record=True,
        engine=engine,
    )
    assert len(st.spikes) > 100
    hand = hand_histogram(st.spikes, 3, t_ref, n_steps, every)
    assert hand.sum() == -(-n_steps // every)  # ceil: reads at 0 .. n_steps - 1
    np.testing.assert_array_equal(st.states, hand)


@pytest.mark.parametrize("t_ref", [10, 7])
def test_validation_reads_states_every_half_t_ref(t_ref):
    """A validation cycle's sampled distribution is the state histogram read every
    ``t_ref // 2`` steps (5 for t_ref 10, 3 for t_ref 7) of its sleep phase. The phase is
    replayed from the simulation seed (cycle 0 simulates W0, b0 from rest for
    val_factor * dur * t_ref steps) and read by hand; neighbouring intervals give other
    histograms, so the interval is pinned."""
    cfg = tiny_cfg(t_ref=t_ref)
    trainer = Trainer(cfg, "fast")
    state = initial_state(cfg, trainer.problem)
    trainer.validation_cycle(state)
    steps = 25 * 40 * t_ref
    spikes = phase_statistics(
        trainer.problem.W0,
        trainer.problem.b0,
        steps,
        sim_params_of(cfg),
        np.random.default_rng(cfg.seed.sim),
        record=True,
    ).spikes
    every = t_ref // 2
    hist = hand_histogram(spikes, 3, t_ref, steps, every)
    np.testing.assert_allclose(state.distrs[0], hist / hist.sum(), rtol=0, atol=1e-15)
    for other in (every - 1, every + 1):
        h = hand_histogram(spikes, 3, t_ref, steps, other)
        assert np.max(np.abs(h / h.sum() - hist / hist.sum())) > 1e-4


# -- c. phase lengths -----------------------------------------------------------------------------


def test_phase_lengths_and_readout_of_a_block_reference_engine(monkeypatch):
    """Every phase the trainer simulates (reference engine) is recorded: a block is one
    validation of val_factor * dur * t_ref = 25 * 40 * 10 steps read every 5 steps, then
    val_step - 1 = 4 sleep phases of dur * t_ref = 400 steps without read-out. Each phase
    simulates exactly its steps: spikes lie in [0, steps) and the validation histogram holds
    ceil(steps / 5) states."""
    calls = []
    real = phase_statistics

    def recording(W, b, n_steps, params, rng, **kw):
        st = real(W, b, n_steps, params, rng, **{**kw, "record": True})
        calls.append((n_steps, kw.get("sample_every", 0), st))
        return st

    monkeypatch.setattr(train_mod, "phase_statistics", recording)
    cfg = tiny_cfg()
    trainer = Trainer(cfg, "reference")
    state = initial_state(cfg, trainer.problem)
    trainer.step_block(state)
    assert [(n, every) for n, every, _ in calls] == [(10000, 5)] + [(400, 0)] * 4
    for n, _, st in calls:
        assert len(st.spikes) > 0 and st.spikes[:, 0].min() >= 0 and st.spikes[:, 0].max() < n
    assert calls[0][2].states.sum() == 2000


def _hand_update(W, b, st, steps, t_ref, problem, lr, max_w, max_b):
    """Steps 3, 5, 6 of a cycle (``reference-model`` 2.5) for syn_noise_sal (no KP, no
    zero diagonal): gradient on the normalised STDP sums and counts, SAL, clipping."""
    W = W + lr.weight * (problem.C_wake - st.stdp[0] * t_ref / steps)
    b = b + lr.bias * (problem.m_target - st.counts * t_ref / steps)
    W = W + lr.symm * (st.stdp[1] * t_ref / steps)
    return np.clip(W, -max_w, max_w), np.clip(b, -max_b, max_b)


def _replay_block(cfg, problem, val_steps, sleep_steps):
    rng = np.random.default_rng(cfg.seed.sim)
    W, b = problem.W0.copy(), problem.b0.copy()
    for steps in [val_steps] + [sleep_steps] * (cfg.val_step - 1):
        st = phase_statistics(
            W,
            b,
            steps,
            sim_params_of(cfg),
            rng,
            windows=(problem.ws_rule, problem.sal_rule),
            n_last_stdp=1,
        )
        W, b = _hand_update(W, b, st, steps, cfg.t_ref, problem, cfg.lr, cfg.max_w, cfg.max_b)
    return W, b


def test_phase_lengths_of_a_block_fast_engine():
    """The compiled training loop: a block (one validation, four sleep phases) reproduces a hand
    replay with phases of 25 * 40 * 10 and 40 * 10 steps, and no replay with a phase one step
    longer or shorter (beyond the 1e-12 tolerance), so both lengths are pinned to the step."""
    cfg = tiny_cfg()
    trainer = Trainer(cfg, "fast")
    state = initial_state(cfg, trainer.problem)
    trainer.step_block(state)
    assert state.cycle == 5
    W, b = _replay_block(cfg, trainer.problem, 10000, 400)
    np.testing.assert_allclose(state.W, W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state.b, b, rtol=1e-12, atol=1e-12)
    for val_steps, sleep_steps in [(10001, 400), (9999, 400), (10000, 401), (10000, 399)]:
        W2, b2 = _replay_block(cfg, trainer.problem, val_steps, sleep_steps)
        assert np.max(np.abs(W2 - W)) + np.max(np.abs(b2 - b)) > 1e-9


# -- d. STDP coactivation vs per-step states ------------------------------------------------------


def _coactivation_terms(spikes, n, t_ref, steps):
    """(per-step coactivation sums over T < steps, overhang sums over T in [steps, steps +
    t_ref), same-step spike pairs), all (n, n) integer matrices."""
    z = on_states(spikes, n, t_ref, steps + t_ref)
    inside = z[:steps].T @ z[:steps]
    overhang = z[steps:].T @ z[steps:]
    raster = np.zeros((steps, n), dtype=np.int64)
    raster[spikes[:, 0], spikes[:, 1]] = 1
    same_step = raster.T @ raster
    return inside, overhang, same_step


def check_coactivation_identity(S, counts, spikes, n, t_ref, steps):
    inside, overhang, same_step = _coactivation_terms(spikes, n, t_ref, steps)
    off = ~np.eye(n, dtype=bool)
    # t_ref S_ij = sum_{T < D} z_i z_j + B_ij - t_ref n0_ij        (i != j)
    np.testing.assert_allclose(
        (t_ref * S)[off],
        (inside + overhang - t_ref * same_step)[off],
        rtol=0,
        atol=1e-9 * len(spikes),
    )
    # the diagonal analogue: t_ref n_i = sum_{T < D} z_i + B_ii     (r_hat = n_i t_ref / D)
    np.testing.assert_array_equal(t_ref * counts, np.diag(inside + overhang))
    return overhang, same_step


def test_sleep_stdp_coactivation_equals_per_step_coactivation():
    """With the sleep rule (triangular, a+ = a- = 1, tau = t_ref, n_last = 1) and the SSN
    neuron (on for T = s+1 .. s+t_ref, minimum ISI t_ref + 1), on the spikes of a D-step phase:

        t_ref S_ij = #{T in [0, D): z_i(T) = z_j(T) = 1} + B_ij - t_ref n0_ij    (i != j)

    i.e. C_hat_ij = S_ij t_ref / D = (fraction of steps with z_i = z_j = 1) + (B_ij -
    t_ref n0_ij) / D. A pair of spikes d = |s_i - s_j| steps apart has on-windows overlapping
    in max(0, t_ref - d) steps, which is t_ref K(d) for 0 < d, and every such pair is counted
    once (a partner spike less than t_ref steps back is the partner's latest one). Two
    corrections remain:

    * same-step pairs (n0_ij of them): their windows overlap fully (t_ref steps) but K(0) = 0;
    * the phase end: B_ij = #{T in [D, D + t_ref): z_i = z_j = 1} counts the overlap of windows
      of the phase's spikes beyond its last step (T = 0 needs no correction: nothing is on).

    The diagonal analogue is the on-fraction: t_ref n_i = #{T < D: z_i = 1} + B_ii. Pinned on a
    strongly coupled network where both corrections are non-zero.
    """
    t_ref, steps, n = 10, 20007, 4
    cfg = tiny_cfg(dim=n)
    rule = Trainer(cfg, "fast").problem.ws_rule  # the training's sleep rule (no noise)
    assert rule.kind == "tri"
    for par in (rule.a_plus, rule.a_minus):
        np.testing.assert_array_equal(par, 1.0)
    for par in (rule.tau_plus, rule.tau_minus):
        np.testing.assert_array_equal(par, t_ref)
    W = np.full((n, n), 1.6) - 1.6 * np.eye(n)
    b = np.full(n, -1.2)
    st = phase_statistics(
        W,
        b,
        steps,
        SimParams(t_ref=t_ref, tau_syn=t_ref, n_last_psp=1),
        np.random.default_rng(12),
        windows=(rule, tri_window(1, 1, t_ref)),
        n_last_stdp=1,
        record=True,
    )
    np.testing.assert_array_equal(st.stdp[0], st.stdp[1])
    overhang, same_step = check_coactivation_identity(
        st.stdp[0], st.counts, st.spikes, n, t_ref, steps
    )
    off = ~np.eye(n, dtype=bool)
    assert same_step[off].min() > 20 and overhang[off].max() > 0


def test_training_sleep_phases_satisfy_the_coactivation_identity(monkeypatch):
    """The same identity on the sleep phases training actually uses (reference engine, the
    S_ws and counts its update reads)."""
    captured = []
    real = phase_statistics

    def recording(W, b, n_steps, params, rng, **kw):
        st = real(W, b, n_steps, params, rng, **{**kw, "record": True})
        captured.append((n_steps, st))
        return st

    monkeypatch.setattr(train_mod, "phase_statistics", recording)
    cfg = tiny_cfg()
    trainer = Trainer(cfg, "reference")
    trainer.step_block(initial_state(cfg, trainer.problem))
    assert len(captured) == 5
    for n_steps, st in captured:
        check_coactivation_identity(st.stdp[0], st.counts, st.spikes, 3, cfg.t_ref, n_steps)
