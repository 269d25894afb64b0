"""The event-driven engine (sim.fast) against the step-by-step reference, convention by
convention, and its own building blocks against exact arithmetic."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikealign import boltzmann as bz
from spikealign.neuron import HAZARD_QUANTA_MAX
from spikealign.sim import SimParams, phase_statistics
from spikealign.sim import fast as F
from spikealign.sim.params import POTENTIAL_SCALE, quantise
from spikealign.stdp import exp_window, sal_window, tri_window, window_value_py


def net(n, seed, scale=1.5, density=1.0):
    rng = np.random.default_rng(seed)
    W = scale * rng.uniform(-1, 1, (n, n))
    if density < 1.0:
        W *= rng.random((n, n)) < density
    return W, rng.uniform(-1, 1, n)


def windows(n, seed=0):
    rng = np.random.default_rng(seed)
    return (
        tri_window(1.0, 1.0, 20, 20),  # one time constant: table
        sal_window(15, amplitude=rng.uniform(0.5, 1.5, (n, n))),  # per-synapse amplitudes
        exp_window(0.7, 1.3, rng.uniform(5, 30, (n, n)), 9.0),
    )  # per-synapse taus


def assert_identical(
    W,
    b,
    params,
    steps=5000,
    seed=3,
    clamp=None,
    sample_every=7,
    n_last_stdp=2,
    engines=("reference",),
):
    n = len(b)
    kw = dict(
        windows=windows(n),
        n_last_stdp=n_last_stdp,
        record=True,
        clamp=clamp,
        sample_every=sample_every if n <= 14 else 0,
    )
    a = phase_statistics(W, b, steps, params, np.random.default_rng(seed), **kw)
    for engine in engines:
        r = phase_statistics(W, b, steps, params, np.random.default_rng(seed), engine=engine, **kw)
        np.testing.assert_array_equal(a.spikes, r.spikes)
        np.testing.assert_array_equal(a.counts, r.counts)
        if kw["sample_every"]:
            np.testing.assert_array_equal(a.states, r.states)
        # the reference computes STDP offline, in another order: equal up to rounding
        np.testing.assert_allclose(a.stdp, r.stdp, rtol=1e-12, atol=1e-12)
    return a


CONVENTIONS = {
    "ssn rect": (7, SimParams(t_ref=20, tau_syn=20, n_last_psp=1)),
    "microcircuit refractoriness": (5, SimParams(t_ref=10, tau_syn=10, min_isi=10)),
    "overlapping rect PSPs": (4, SimParams(t_ref=6, tau_syn=25, n_last_psp=3)),
    "alpha": (4, SimParams(t_ref=10, tau_syn=5, psp="alpha", n_last_psp=4)),
    "exp": (5, SimParams(t_ref=10, tau_syn=4, psp="exp", n_last_psp=2)),
    "cutoff": (5, SimParams(t_ref=8, tau_syn=6, psp="cutoff")),
    "tail": (3, SimParams(t_ref=8, tau_syn=6, psp="tail", n_last_psp=2)),
    "above the cache (ordered)": (14, SimParams(t_ref=15, tau_syn=15, potentials="ordered")),
    "above the cache (fixed)": (14, SimParams(t_ref=15, tau_syn=15)),
    "fixed, small": (5, SimParams(t_ref=12, tau_syn=12, potentials="fixed")),
    "fixed, alpha": (6, SimParams(t_ref=8, tau_syn=4, psp="alpha", potentials="fixed")),
}


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_event_engine_equals_reference(name):
    n, params = CONVENTIONS[name]
    a = assert_identical(*net(n, 11), params)
    assert len(a.spikes) > 100


@pytest.mark.parametrize(
    "name", [k for k, (n, p) in CONVENTIONS.items() if p.potential_mode(n) == "ordered"]
)
def test_event_engine_equals_stepping_engine(name):
    n, params = CONVENTIONS[name]
    assert_identical(*net(n, 12), params, steps=20000, engines=("stepwise",))


def test_sparse_masks_equal_reference_and_cost_their_nonzeros():
    n = 20
    W, b = net(n, 5, scale=2.0)
    mask = np.zeros((n, n), dtype=bool)
    mask[:8, 8:] = mask[8:, :8] = True  # bipartite: visible 0..7, hidden 8..19
    W = W * mask
    params = SimParams(t_ref=10, tau_syn=10)
    assert_identical(W, b, params, steps=4000)
    record = F.make_network(W, b, params)
    assert len(record.post_idx) == len(record.pre_idx) == np.count_nonzero(W)
    for j in range(n):  # posts of j: exactly the non-zero column, ascending
        np.testing.assert_array_equal(
            record.post_idx[record.post_ptr[j] : record.post_ptr[j + 1]], np.nonzero(W[:, j])[0]
        )


def test_clamped_and_overlapping_above_the_cache():
    n = 16
    W, b = net(n, 8)
    clamp = np.full(n, -1)
    clamp[:3] = 1
    clamp[3:5] = 0
    assert_identical(W, b, SimParams(t_ref=8, tau_syn=20, n_last_psp=3), clamp=clamp)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 6),
    seed=st.integers(0, 10**6),
    t_ref=st.integers(1, 12),
    tau=st.integers(1, 20),
    psp=st.sampled_from(["rect", "alpha", "exp"]),
    n_last=st.integers(1, 3),
    isi_ssn=st.booleans(),
    fixed=st.booleans(),
    scale=st.floats(0.0, 4.0),
)
def test_random_networks_equal_reference(n, seed, t_ref, tau, psp, n_last, isi_ssn, fixed, scale):
    params = SimParams(
        t_ref=t_ref,
        tau_syn=tau,
        psp=psp,
        n_last_psp=n_last,
        min_isi=None if isi_ssn else t_ref,
        potentials="fixed" if fixed else "ordered",
    )
    W, b = net(n, seed, scale=scale)
    assert_identical(W, b, params, steps=800, seed=seed, sample_every=3)


def test_phases_are_independent_of_how_they_are_cut():
    """Same seed, same phase: independent of statistics requested (no extra draws)."""
    W, b = net(7, 2)
    p = SimParams(t_ref=20, tau_syn=20)
    a = phase_statistics(W, b, 30000, p, np.random.default_rng(4), record=True)
    c = phase_statistics(
        W, b, 30000, p, np.random.default_rng(4), record=True, windows=windows(7), sample_every=9
    )
    np.testing.assert_array_equal(a.spikes, c.spikes)


# --- building blocks ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(room=st.integers(0, 2**55), h=st.integers(1, 2**61), start=st.integers(0, 2**40))
def test_crossing_is_exact_integer_division(room, h, start):
    c = F._crossing(start, room, h, 1.0 / h)
    q = room // h
    if q < 2**50 - 8:
        assert c == start + q
    else:
        assert c in (start + q, F.NEVER)


def test_crossing_without_hazard_is_never():
    assert F._crossing(5, 10, 0, 0.0) == F.NEVER
    assert F._crossing(5, 10**12, HAZARD_QUANTA_MAX, 1.0 / HAZARD_QUANTA_MAX) == 5


@pytest.mark.parametrize(
    "window",
    [
        tri_window(1.0, 1.0, 20, 20),
        tri_window(1.0, 1.0, 7.5, 7.5),
        exp_window(1.0, 1.0, 13.0, 13.0),
        sal_window(50),
    ],
)
def test_shape_tables_are_the_window(window):
    """Table entry (and the computed value beyond the table) times the amplitude is the
    window's value at that lag, bit for bit."""
    codes, utau, pars = F.window_arrays((window,), 1)
    tab = F.shape_tables(codes, utau, 64)
    tau = float(window.tau_plus)
    ap, am = float(window.a_plus), float(window.a_minus)
    for lag in range(1, 200):
        sh = tab[0, lag] if lag < tab.shape[1] else F._window_shape(codes[0], lag, utau[0])
        assert ap * sh == window_value_py(window.code, ap, am, tau, tau, float(lag))
        assert am * sh == window_value_py(window.code, ap, am, tau, tau, -float(lag))


def test_fixed_point_potentials_are_close_to_float_sums():
    rng = np.random.default_rng(0)
    n = 30
    W = rng.normal(size=(n, n))
    b = rng.normal(size=n)
    psp = rng.integers(0, 3, n).astype(float)
    exact = b + W @ psp
    uq = quantise(b) + sum(quantise(W[:, j] * psp[j]) for j in range(n))
    u = uq.astype(float) / POTENTIAL_SCALE
    assert np.max(np.abs(u - exact)) <= (n + 1) * 2.0**-37 + 1e-12
    # exact integer sums: the order of the terms does not matter
    uq_rev = quantise(b) + sum(quantise(W[:, j] * psp[j]) for j in reversed(range(n)))
    np.testing.assert_array_equal(uq, uq_rev)


def test_fixed_mode_samples_the_boltzmann_distribution():
    n = 5
    rng = np.random.default_rng(21)
    W = bz.copy_triu(rng.uniform(-1, 1, (n, n)))
    b = rng.uniform(-1, 1, n)
    target, _ = bz.exact_distribution(W, b)
    p = SimParams(t_ref=50, tau_syn=50, potentials="fixed")
    sts = phase_statistics(W, b, 10_000_000, p, np.random.default_rng(3), sample_every=25)
    # 4e5 samples over 32 states (correlation ~4 reads): sampling noise of D_KL ~ 2e-4;
    # the discrete-time sampling bias is a few 1e-3
    assert bz.kl_divergence(target, bz.empirical_distribution(sts.states)) < 0.01


def test_bad_inputs():
    p = SimParams(t_ref=10, tau_syn=10, potentials="fixed")
    with pytest.raises(ValueError, match="fixed"):
        phase_statistics(np.full((2, 2), 1e9), np.zeros(2), 10, p, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_steps"):
        phase_statistics(np.zeros((2, 2)), np.zeros(2), 2**50, p, np.random.default_rng(0))
    with pytest.raises(ValueError, match="potentials"):
        SimParams(t_ref=10, tau_syn=10, potentials="double")
    with pytest.raises(ValueError, match="stepwise"):
        phase_statistics(
            np.zeros((2, 2)), np.zeros(2), 10, p, np.random.default_rng(0), engine="stepwise"
        )


def test_long_silence_is_jumped():
    """A silent network costs nothing per step: 1e11 steps finish at once, with the
    rate-determined number of spikes (a Poisson count, 6 sigma)."""
    b = np.array([-30.0, -28.0])
    p = SimParams(t_ref=10, tau_syn=10)
    steps = 10**11
    st_ = phase_statistics(np.zeros((2, 2)), b, steps, p, np.random.default_rng(0))
    rate = np.log1p(np.exp(b - math.log(10)))  # hazard per step ~ spike probability
    expected = rate * steps
    assert np.all(np.abs(st_.counts - expected) < 6 * np.sqrt(expected) + 1)


def test_bad_statistics_requests():
    p = SimParams(t_ref=10, tau_syn=10)
    with pytest.raises(ValueError, match="sample_every"):
        phase_statistics(
            np.zeros((2, 2)), np.zeros(2), 10, p, np.random.default_rng(0), sample_every=-1
        )
    with pytest.raises(ValueError, match="at most 24 neurons"):
        phase_statistics(
            np.zeros((30, 30)), np.zeros(30), 10, p, np.random.default_rng(0), sample_every=5
        )
    with pytest.raises(ValueError, match="finite"):
        phase_statistics(np.full((2, 2), np.nan), np.zeros(2), 10, p, np.random.default_rng(0))


# --- a simulation in parts (Chain) --------------------------------------------------------------

from spikealign.neuron import hazard_quanta_py, threshold_quanta_py  # noqa: E402
from spikealign.sim import Chain  # noqa: E402
from spikealign.spikes import state_histogram  # noqa: E402


def reference_switching(segments, params, rng, n):
    """Step loop with the network switched between segments ``(steps, W, b, clamp)``: the
    reference's arithmetic (ordered or fixed potentials), written out once more."""
    table = params.psp_table()
    fixed = params.potential_mode(n) == "fixed"
    hist_spikes = [[] for _ in range(n)]
    free_at = np.zeros(n, dtype=np.int64)
    acc = [0] * n
    thr = [threshold_quanta_py(rng.standard_exponential()) for _ in range(n)]
    out, t = [], 0
    for steps, W, b, clamp in segments:
        for _ in range(steps):
            psp = np.zeros(n)
            for j in range(n):
                for s in hist_spikes[j][-params.n_last_psp :]:
                    if t - s < len(table):
                        psp[j] += table[t - s]
            if fixed:
                uq = quantise(b) + sum(quantise(W[:, j] * psp[j]) for j in range(n))
                u = uq.astype(float) / POTENTIAL_SCALE
            else:
                u = b.copy()
                for j in range(n):
                    u += W[:, j] * psp[j]
            for i in range(n):
                if t < free_at[i]:
                    continue
                if clamp[i] >= 0:
                    acc[i] += HAZARD_QUANTA_MAX if clamp[i] == 1 else 0
                else:
                    acc[i] += hazard_quanta_py(u[i], params.log_t_ref)
                if acc[i] > thr[i]:
                    out.append((t, i))
                    hist_spikes[i].append(t)
                    free_at[i] = t + params.min_isi
                    acc[i] = 0
                    thr[i] = threshold_quanta_py(rng.standard_exponential())
            t += 1
    return np.array(out, dtype=np.int64).reshape(-1, 2)


CHAIN_CASES = {
    "cached": (6, SimParams(t_ref=10, tau_syn=10)),
    "alpha": (4, SimParams(t_ref=8, tau_syn=4, psp="alpha", n_last_psp=3)),
    "fixed": (14, SimParams(t_ref=8, tau_syn=8)),
}


@pytest.mark.parametrize("name", list(CHAIN_CASES))
def test_chain_parts_equal_one_phase(name):
    n, p = CHAIN_CASES[name]
    W, b = net(n, 3)
    parts = (1500, 1, 0, 2777, 999)
    se = 7 if n <= 12 else 0
    whole = phase_statistics(
        W,
        b,
        sum(parts),
        p,
        np.random.default_rng(9),
        windows=windows(n),
        n_last_stdp=2,
        sample_every=se,
        record=True,
    )
    chain = Chain(W, b, p, np.random.default_rng(9), n_last_stdp=2)
    got = [chain.run(k, windows=windows(n), sample_every=se, record=True) for k in parts]
    np.testing.assert_array_equal(np.concatenate([g.spikes for g in got]), whole.spikes)
    np.testing.assert_array_equal(sum(g.counts for g in got), whole.counts)
    np.testing.assert_allclose(sum(g.stdp for g in got), whole.stdp, rtol=1e-12, atol=1e-12)
    if se:
        np.testing.assert_array_equal(sum(g.states for g in got), whole.states)
    assert chain.time == sum(parts)


def test_chain_reads_states_of_its_part_only():
    n, p = 5, SimParams(t_ref=10, tau_syn=10)
    W, b = net(n, 4)
    chain = Chain(W, b, p, np.random.default_rng(1))
    first = chain.run(3001, record=True)  # not sampled
    second = chain.run(4000, sample_every=9, record=True)
    rec = np.concatenate([first.spikes, second.spikes])
    want = state_histogram(rec, n, p.t_ref, 7001, 9) - state_histogram(rec, n, p.t_ref, 3001, 9)
    np.testing.assert_array_equal(second.states, want)


@pytest.mark.parametrize("name", ["cached", "fixed"])
def test_chain_network_changes_act_from_the_present_step(name):
    n, p = CHAIN_CASES[name]
    n = min(n, 13)
    W1, b1 = net(n, 5)
    W2, b2 = net(n, 6, scale=2.0)
    free = np.full(n, -1)
    clamp3 = free.copy()
    clamp3[0], clamp3[1] = 1, 0
    chain = Chain(W1, b1, p, np.random.default_rng(2))
    a = chain.run(700, record=True).spikes
    chain.set_network(W2, b2)
    c = chain.run(800, record=True).spikes
    chain.set_network(clamp=clamp3)
    d = chain.run(500, record=True).spikes
    want = reference_switching(
        [(700, W1, b1, free), (800, W2, b2, free), (500, W2, b2, clamp3)],
        p,
        np.random.default_rng(2),
        n,
    )
    np.testing.assert_array_equal(np.concatenate([a, c, d]), want)


def test_chain_unchanged_network_is_a_no_op_and_errors():
    n, p = 5, SimParams(t_ref=10, tau_syn=10)
    W, b = net(n, 7)
    x = Chain(W, b, p, np.random.default_rng(0))
    y = Chain(W, b, p, np.random.default_rng(0))
    r1 = [x.run(1000, record=True).spikes, x.run(1000, record=True).spikes]
    r2 = [y.run(1000, record=True).spikes]
    y.set_network(W, b)
    r2.append(y.run(1000, record=True).spikes)
    np.testing.assert_array_equal(np.concatenate(r1), np.concatenate(r2))
    with pytest.raises(ValueError, match="neurons"):
        x.set_network(np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="n_steps"):
        x.run(-1)
    with pytest.raises(ValueError, match="finite"):
        x.set_network(np.full((n, n), np.inf))


def test_chain_many_small_parts_alternating_statistics():
    """Boundaries right after spikes and parts with and without state reads: spikes equal one
    phase, and each sampled part reads exactly the states of its own steps."""
    n, p = 4, SimParams(t_ref=6, tau_syn=6)
    W, b = net(n, 8)
    lengths = np.random.default_rng(0).integers(1, 15, 400)
    whole = phase_statistics(W, b, int(lengths.sum()), p, np.random.default_rng(5), record=True)
    chain = Chain(W, b, p, np.random.default_rng(5))
    t, spikes = 0, []
    for k, steps in enumerate(lengths):
        se = 3 if k % 3 else 0
        got = chain.run(int(steps), sample_every=se, record=True)
        spikes.append(got.spikes)
        t += int(steps)
        if se:
            rec = whole.spikes[whole.spikes[:, 0] < t]
            want = state_histogram(rec, n, p.t_ref, t, se) - state_histogram(
                rec, n, p.t_ref, t - int(steps), se
            )
            np.testing.assert_array_equal(got.states, want, err_msg=f"part {k}")
    np.testing.assert_array_equal(np.concatenate(spikes), whole.spikes)


@pytest.mark.parametrize("name", ["cached", "fixed"])
def test_chain_restored_from_its_arrays_continues_bit_identically(name):
    n, p = CHAIN_CASES[name]
    W, b = net(n, 2)
    a = Chain(W, b, p, np.random.default_rng(4))
    a.run(1234)
    saved, rng_state = a.state_arrays(), a.rng.bit_generator.state
    want = a.run(2000, record=True, sample_every=5 if n <= 12 else 0)
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    c = Chain.restore(W, b, p, rng, saved)
    got = c.run(2000, record=True, sample_every=5 if n <= 12 else 0)
    np.testing.assert_array_equal(got.spikes, want.spikes)
    if n <= 12:
        np.testing.assert_array_equal(got.states, want.states)
    with pytest.raises(ValueError, match="shape"):
        Chain.restore(W[:3, :3], b[:3], p, rng, saved)
