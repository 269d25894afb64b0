"""Exact coactivation counts (``phase_statistics(coactivation=True)``, ``Chain.run``,
``BoltzmannMachine.coactivation``) against the time average of the binary states computed by
hand from the recorded spikes, step by step; how the biased triangular-window estimate differs
from it; and the training update using the same estimator."""

import copy

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spikealign.bm import load_config
from spikealign.bm.model import BoltzmannMachine
from spikealign.bm.train import Trainer, exact_moments, moments
from spikealign.sim import Chain, SimParams, phase_statistics
from spikealign.stdp import pair_stdp, tri_window

#: (t_ref, min_isi): the bm default (min_isi = t_ref: a forced unit is on all the time), the
#: SSN's t_ref + 1, and a short t_ref with frequent same-step spikes
PARAMS = {
    "bm": SimParams(t_ref=10, tau_syn=11, min_isi=10),
    "ssn": SimParams(t_ref=4, tau_syn=4, min_isi=5),
    "short": SimParams(t_ref=3, tau_syn=4, min_isi=3),
}
N = 6
CLAMP = np.array([1, 1, 1, -1, -1, -1], dtype=np.int8)  # three units in lockstep, three free


def network(seed, n=N, scale=1.2, bias=0.0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, scale, (n, n))
    W = (W + W.T) / 2
    np.fill_diagonal(W, 0.0)
    return W, rng.normal(bias, 1.0, n)


def spike_times(spikes, n):
    times = [set() for _ in range(n)]
    for s, i in np.asarray(spikes).reshape(-1, 2):
        times[int(i)].add(int(s))
    return times


def hand_counts(spikes, n, t_ref, T):
    """Step by step: z_i(t) = 1 iff i spiked at some s with s < t <= s + t_ref; over t = 0 ..
    T - 1 count the steps with z_i = 1 (on) and with z_i = z_j = 1, i != j (co)."""
    times = spike_times(spikes, n)
    on = np.zeros(n, dtype=np.int64)
    co = np.zeros((n, n), dtype=np.int64)
    for t in range(T):
        z = [any(t - a in times[i] for a in range(1, t_ref + 1)) for i in range(n)]
        for i in range(n):
            if not z[i]:
                continue
            on[i] += 1
            for j in range(n):
                if j != i and z[j]:
                    co[i, j] += 1
    return co, on


def hand_average(spikes, n, t_ref, T):
    """``(C, m)``: C[i, j] = 1/T sum_t z_i z_j (diagonal: m), m[i] = 1/T sum_t z_i."""
    co, on = hand_counts(spikes, n, t_ref, T)
    C = co.astype(float)
    np.fill_diagonal(C, on)
    return C / T, on / T


def assert_counts(st_, spikes, n, t_ref, T):
    co, on = hand_counts(spikes, n, t_ref, T)
    assert st_.co.dtype == np.int64 and st_.on.dtype == np.int64
    assert np.array_equal(st_.co, co), (st_.co, co)
    assert np.array_equal(st_.on, on)
    assert np.all(np.diag(st_.co) == 0) and np.array_equal(st_.co, st_.co.T)


# -- one phase: every engine against the hand count ----------------------------------------------


@pytest.mark.parametrize("engine", ["fast", "reference", "stepwise"])
@pytest.mark.parametrize("pname", list(PARAMS))
def test_clamped_lockstep_phase_matches_the_hand_count(engine, pname):
    params = PARAMS[pname]
    W, b = network(1)
    T = 157  # not a multiple of min_isi: the last on-windows are cut by the phase end
    st_ = phase_statistics(
        W,
        b,
        T,
        params,
        np.random.default_rng(2),
        engine=engine,
        clamp=CLAMP,
        record=True,
        coactivation=True,
    )
    times = spike_times(st_.spikes, N)
    for i in range(3):  # forced on: every min_isi steps from step 0, all three in the same step
        assert sorted(times[i]) == list(range(0, T, params.min_isi))
    assert any(times[i] for i in range(3, N))  # the free units spike too
    assert_counts(st_, st_.spikes, N, params.t_ref, T)
    if params.min_isi == params.t_ref:  # on from step 1 to the end, together
        assert st_.co[0, 1] == st_.co[1, 2] == st_.on[0] == T - 1


@pytest.mark.parametrize("engine", ["fast", "reference", "stepwise"])
@pytest.mark.parametrize("pname", list(PARAMS))
def test_free_phase_matches_the_hand_count(engine, pname):
    params = PARAMS[pname]
    W, b = network(3, bias=0.5)
    T = 233
    st_ = phase_statistics(
        W, b, T, params, np.random.default_rng(4), engine=engine, record=True, coactivation=True
    )
    assert len(st_.spikes) > 20
    assert_counts(st_, st_.spikes, N, params.t_ref, T)


def test_the_engines_agree_and_counting_changes_no_draw():
    params = PARAMS["short"]
    W, b = network(5, bias=0.5)
    runs = [
        phase_statistics(
            W, b, 300, params, np.random.default_rng(6), engine=e, record=True, coactivation=c
        )
        for e in ("fast", "reference", "stepwise")
        for c in (True, False)
    ]
    for r in runs[1:]:
        assert np.array_equal(r.spikes, runs[0].spikes)
    for r in runs[::2]:
        assert np.array_equal(r.co, runs[0].co) and np.array_equal(r.on, runs[0].on)
    assert runs[1].co is None and runs[1].on is None


@pytest.mark.parametrize("T", [1, 2, 10, 11])
def test_short_phases(T):
    """T = 1: a state read at step 0 is off (nothing spiked before); the lockstep units are on
    from step 1 on."""
    params = PARAMS["bm"]
    W, b = network(7)
    st_ = phase_statistics(
        W, b, T, params, np.random.default_rng(0), clamp=CLAMP, record=True, coactivation=True
    )
    assert st_.on[0] == T - 1 and st_.co[0, 2] == T - 1
    assert_counts(st_, st_.spikes, N, params.t_ref, T)


# -- BoltzmannMachine.coactivation: the time average of z_i z_j over one phase ------------------


@pytest.mark.parametrize("engine", ["fast", "reference", "stepwise"])
@pytest.mark.parametrize("clamped", [True, False])
def test_boltzmann_machine_coactivation_is_the_time_average(engine, clamped):
    W, b = network(8, bias=0.3)
    net = BoltzmannMachine(W, b, n_visible=3, params=PARAMS["bm"], engine=engine)
    clamp = net.clamp_vector(np.array([1, 0, 1])) if clamped else None
    T = 181
    spikes = net.phase(T, np.random.default_rng(9), clamp, record=True).spikes
    C, m = net.coactivation(T, np.random.default_rng(9), clamp)
    C_hand, m_hand = hand_average(spikes, net.n, net.params.t_ref, T)
    assert np.array_equal(C, C_hand) and np.array_equal(m, m_hand)
    assert np.array_equal(np.diag(C), m) and np.array_equal(C, C.T)
    if clamped:  # units 0 and 2 in lockstep: together from step 1 on; unit 1 never on
        assert C[0, 2] == (T - 1) / T and m[1] == 0.0 and not C[1].any()


@pytest.mark.parametrize("T", [1, 2, 37, 400])
def test_lockstep_wake_coactivation_of_two_clamped_units_is_T_minus_1_over_T(T):
    """Two units clamped on spike together every t_ref steps from step 0: both are on in every
    step but step 0, so <z_0 z_1> = (T - 1) / T exactly. The triangular window (zero at
    dt = 0 and at |dt| >= t_ref) sees none of it."""
    params = PARAMS["bm"]
    W, b = network(10, n=5)
    net = BoltzmannMachine(W, b, n_visible=2, params=params)
    clamp = net.clamp_vector(np.array([1, 1]))
    C, m = net.coactivation(T, np.random.default_rng(1), clamp)
    assert C[0, 1] == C[1, 0] == m[0] == m[1] == (T - 1) / T
    win = tri_window(1.0, 1.0, params.t_ref)
    st_ = net.phase(T, np.random.default_rng(1), clamp, windows=(win,))
    C_win, _ = moments([st_], T, params.t_ref)
    assert C_win[0, 1] == 0.0


# -- parts of a Chain add up to one phase ---------------------------------------------------------


@settings(max_examples=30, deadline=None, database=None)
@given(
    parts=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    seed=st.integers(0, 2**16),
    clamped=st.booleans(),
    pname=st.sampled_from(sorted(PARAMS)),
)
@example(parts=[1] * 25, seed=3, clamped=True, pname="bm")
@example(parts=[9, 1, 1, 10, 1], seed=4, clamped=False, pname="short")
def test_chain_parts_add_up_to_one_phase(parts, seed, clamped, pname):
    params = PARAMS[pname]
    W, b = network(seed, bias=0.5)
    clamp = CLAMP if clamped else None
    T = sum(parts)
    chain = Chain(W, b, params, np.random.default_rng(seed), clamp=clamp)
    co = np.zeros((N, N), dtype=np.int64)
    on = np.zeros(N, dtype=np.int64)
    recorded = []
    for k in parts:
        st_ = chain.run(k, record=True, coactivation=True)
        co += st_.co
        on += st_.on
        recorded.append(st_.spikes)
    spikes = np.concatenate(recorded)
    whole = phase_statistics(
        W, b, T, params, np.random.default_rng(seed), clamp=clamp, record=True, coactivation=True
    )
    assert np.array_equal(spikes, whole.spikes)
    assert np.array_equal(co, whole.co) and np.array_equal(on, whole.on)
    hand_co, hand_on = hand_counts(spikes, N, params.t_ref, T)
    assert np.array_equal(co, hand_co) and np.array_equal(on, hand_on)


def test_a_chain_part_counts_its_own_steps_only():
    """Each part counts the steps t0 .. t1 - 1 (on-windows of earlier parts' spikes that
    reach into it included), checked part by part against the hand count of those steps."""
    params = PARAMS["short"]
    W, b = network(11, bias=0.5)
    chain = Chain(W, b, params, np.random.default_rng(12), clamp=CLAMP)
    recorded = []
    t0 = 0
    for k in (5, 1, 7, 1, 1, 13):
        st_ = chain.run(k, record=True, coactivation=True)
        recorded.append(st_.spikes)
        spikes = np.concatenate(recorded)
        co_all, on_all = hand_counts(spikes, N, params.t_ref, t0 + k)
        co_before, on_before = hand_counts(spikes, N, params.t_ref, t0)
        assert np.array_equal(st_.co, co_all - co_before)
        assert np.array_equal(st_.on, on_all - on_before)
        t0 += k


# -- the triangular-window estimate misses same-step spikes and counts past the phase end ---------


def same_step_and_overhang(spikes, n, t_ref, T):
    """By hand, over every pair of spikes (s of i, u of j, i != j) whose on-windows overlap
    (|s - u| < t_ref): D0[i, j] = the number of pairs in the same step, O[i, j] = the steps of
    their overlap after the phase end (> T - 1); O_self[i] = the steps of i's own on-windows
    after the phase end."""
    times = spike_times(spikes, n)
    D0 = np.zeros((n, n), dtype=np.int64)
    O = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            for s in times[i]:
                for u in times[j]:
                    d = abs(s - u)
                    if d >= t_ref:
                        continue
                    D0[i, j] += d == 0
                    first, last = max(s, u) + 1, min(s, u) + t_ref  # the overlap
                    O[i, j] += sum(1 for t in range(first, last + 1) if t > T - 1)
    O_self = np.array([sum(max(0, s + t_ref - (T - 1)) for s in times[i]) for i in range(n)])
    return D0, O, O_self


@pytest.mark.parametrize("clamped", [True, False])
def test_exact_minus_window_is_same_step_coincidences_plus_overhang(clamped):
    params = PARAMS["short"]
    t_ref = params.t_ref
    W, b = network(13, bias=1.0)
    T = 401
    win = tri_window(1.0, 1.0, float(t_ref))
    st_ = phase_statistics(
        W,
        b,
        T,
        params,
        np.random.default_rng(14),
        clamp=CLAMP if clamped else None,
        windows=(win,),
        record=True,
        coactivation=True,
    )
    D0, O, O_self = same_step_and_overhang(st_.spikes, N, t_ref, T)
    assert D0.sum() > 0 and O.sum() > 0 and O_self.sum() > 0  # both effects occur here
    # the window estimate: pair sums (1 - dt / t_ref) times t_ref, i.e. t_ref - dt per pair
    S = st_.stdp[0] * t_ref
    assert np.allclose(S, pair_stdp(st_.spikes, N, win) * t_ref, rtol=0, atol=1e-9)
    assert np.allclose(S, np.rint(S), rtol=0, atol=1e-9)
    window = np.rint(S).astype(np.int64)
    assert np.array_equal(st_.co, window + t_ref * D0 - O)
    assert np.array_equal(st_.on, st_.counts * t_ref - O_self)
    # the same in the units of the training rule: C_exact = C_window + (t_ref D0 - O) / T
    C_win, m_win = moments([st_], T, t_ref)
    C_ex, m_ex = exact_moments([st_], T, 1.0)
    np.testing.assert_allclose(C_ex - C_win, (t_ref * D0 - O) / T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m_win - m_ex, O_self / T, rtol=0, atol=1e-12)


# -- argument checks -------------------------------------------------------------------------------


def test_coactivation_needs_min_isi_at_least_t_ref():
    params = SimParams(t_ref=5, tau_syn=5, min_isi=4)
    W, b = network(0)
    for engine in ("fast", "reference", "stepwise"):
        with pytest.raises(ValueError, match="coactivation.*min_isi"):
            phase_statistics(
                W, b, 10, params, np.random.default_rng(0), engine=engine, coactivation=True
            )
        phase_statistics(W, b, 10, params, np.random.default_rng(0), engine=engine)  # fine
    with pytest.raises(ValueError, match="coactivation.*min_isi"):
        Chain(W, b, params, np.random.default_rng(0)).run(10, coactivation=True)
    net = BoltzmannMachine(W, b, n_visible=2, params=params)
    with pytest.raises(ValueError, match="coactivation.*min_isi"):
        net.coactivation(10, np.random.default_rng(0))


@pytest.mark.parametrize("value", [1, 0, "yes", None, 1.0, np.int64(1)])
def test_coactivation_must_be_a_bool(value):
    W, b = network(0)
    params = PARAMS["bm"]
    with pytest.raises(TypeError, match="coactivation must be a bool"):
        phase_statistics(W, b, 10, params, np.random.default_rng(0), coactivation=value)
    with pytest.raises(TypeError, match="coactivation must be a bool"):
        Chain(W, b, params, np.random.default_rng(0)).run(10, coactivation=value)
    st_ = phase_statistics(W, b, 10, params, np.random.default_rng(0), coactivation=np.bool_(True))
    assert st_.co.shape == (N, N)


def test_boltzmann_machine_coactivation_needs_a_step():
    W, b = network(0)
    net = BoltzmannMachine(W, b, n_visible=2, params=PARAMS["bm"])
    with pytest.raises(ValueError, match="n_steps"):
        net.coactivation(0, np.random.default_rng(0))


# -- the training update uses this estimator -------------------------------------------------------


def exact_cfg(**kw):
    over = {
        "epochs": 1,
        "batch_size": 3,
        "wake_steps": 60,
        "sleep_steps": 120,
        "sleep_phases": 2,
        "network": {"n_hidden": 3},
        "max_w": 100.0,
        "max_b": 100.0,
        "lr": {"weight": 0.3, "bias": 0.2},
        "stdp": {"noise": 0.4},
        "init": {"weight": 0.8},
        "eval": {"completion": 0},
    }
    return load_config("bars", overrides={**over, **kw})


def test_training_update_uses_the_boltzmann_machine_coactivation(monkeypatch):
    cfg = exact_cfg()
    assert cfg.stdp.coactivation == "exact"
    tr = Trainer(cfg)
    state = tr.initial_state()
    idx = np.array([4, 0, 9])
    a = tr.setup.ws_rule.a_plus
    off = ~np.eye(len(a), dtype=bool)
    assert np.all(a[off] != a.T[off]) and np.any(a != 1.0)  # per synapse, both directions

    # the phases of the update again, from a copy of the generator, through the public API
    r = copy.deepcopy(state.rng)
    net = tr.network(state)
    x = tr.setup.data.x_train
    wake = [net.coactivation(cfg.wake_steps, r, net.clamp_vector(x[k])) for k in idx]
    sleep = [net.coactivation(cfg.sleep_steps, r) for _ in range(cfg.sleep_phases)]

    seen = {}
    orig = Trainer.update

    def spy(self, st, wake_stats, sleep_stats):
        seen["wake"], seen["sleep"] = wake_stats, sleep_stats
        return orig(self, st, wake_stats, sleep_stats)

    monkeypatch.setattr(Trainer, "update", spy)
    W0, b0 = state.W.copy(), state.b.copy()
    tr.minibatch(state, idx)
    for got, (C, m), T in [
        *((s, c, cfg.wake_steps) for s, c in zip(seen["wake"], wake, strict=True)),
        *((s, c, cfg.sleep_steps) for s, c in zip(seen["sleep"], sleep, strict=True)),
    ]:
        assert np.array_equal(got.co / T, np.where(off, C, 0.0))
        assert np.array_equal(got.on / T, m)
    C_w = np.mean([C for C, _ in wake], axis=0)
    C_s = np.mean([C for C, _ in sleep], axis=0)
    m_w = np.mean([m for _, m in wake], axis=0)
    m_s = np.mean([m for _, m in sleep], axis=0)
    assert np.abs(C_w - C_s)[tr.setup.mask].max() > 0.01
    # the amplitudes 1 + eta multiply elementwise, per synapse
    W = np.where(tr.setup.mask, W0 + cfg.lr.weight * a * (C_w - C_s), 0.0)
    b = b0 + cfg.lr.bias * (m_w - m_s)
    np.testing.assert_allclose(state.W, W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state.b, b, rtol=1e-12, atol=1e-14)
    C_tr, m_tr = exact_moments(seen["wake"], cfg.wake_steps, a)
    np.testing.assert_allclose(C_tr, a * np.where(off, C_w, 0.0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(m_tr, m_w, rtol=1e-12, atol=0)


def test_persistent_sleep_chains_count_the_steps_of_each_part(monkeypatch):
    """Persistent sleep chains (Chain parts, the network changing between them) deliver the
    counts of their own steps, on-windows of the previous update's spikes included."""
    cfg = exact_cfg(sleep_chain="persistent", sleep_phases=1, sleep_steps=37)
    parts = []
    orig = Chain.run

    def recording(self, n_steps, **kw):
        st_ = orig(self, n_steps, **{**kw, "record": True})  # recording changes no draw
        parts.append(st_)
        return st_

    monkeypatch.setattr(Chain, "run", recording)
    tr = Trainer(cfg)
    state = tr.initial_state()
    for k in range(3):
        tr.minibatch(state, np.array([k]))
    assert len(parts) == 3 and all(p.co is not None for p in parts)
    n, t_ref, T = tr.setup.mask.shape[0], cfg.sim.t_ref, cfg.sleep_steps
    for k, p in enumerate(parts):
        spikes = np.concatenate([q.spikes for q in parts[: k + 1]])
        co1, on1 = hand_counts(spikes, n, t_ref, (k + 1) * T)
        co0, on0 = hand_counts(spikes, n, t_ref, k * T)
        assert np.array_equal(p.co, co1 - co0) and np.array_equal(p.on, on1 - on0)
    assert parts[2].spikes[:, 0].min() >= 2 * T
