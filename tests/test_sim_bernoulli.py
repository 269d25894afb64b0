"""The fast engine against an independent simulator of the paper's law and exact theory.

Three independent implementations of the SSN neuron law (``reference-model`` 2.1) meet here:

* the fast engine (``spikealign.sim``, time rescaling: hazard against an ``Exp(1)`` threshold);
* ``spikealign.sim.bernoulli``: one uniform number per neuron and step, spike if it is below
  ``1 / (1 + t_ref exp(-u))``, potentials recomputed from the spike history;
* :func:`exact_law` below: the exact Markov chain over the neurons' spike ages (no sampling),
  which gives the exact distribution of the state ``z(T)`` at any time ``T`` from rest and the
  exact expected spike counts, also for coupled networks.

Statistical design: every sample comes from an independent run from rest (the fast engine:
consecutive runs on one generator; the Bernoulli simulator: runs side by side), one state per
run, read at the end, and one spike count per run, so no autocorrelation enters. Since the
chain is exact at every ``T``, no stationarity is assumed either. Thresholds: Pearson
chi-square at a false-alarm probability of 1e-6 (bins with expected count < 5 merged), and
5 standard errors for mean counts.

Where theory is exact: with ``W = 0`` the neurons are independent renewal processes. After a
spike a neuron waits ``min_isi - 1`` steps and then spikes with probability ``r = 1 / (1 +
t_ref e^-b)`` per step, so its ISI is ``min_isi - 1 + Geometric(r)`` and its stationary
on-probability is ``t_ref / (min_isi - 1 + 1/r)``: for the SSN (``min_isi = t_ref + 1``) that
is ``1 / (1 + 1/t_ref + e^-b)``, for ``min_isi = t_ref`` (microcircuit refractoriness) exactly
the logistic ``1 / (1 + e^-b)`` of the Boltzmann distribution. Coupled networks sample the
Boltzmann distribution only approximately in discrete time (neurons update in parallel), so
there the exact chain is the ground truth.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sps
from scipy import stats

from spikealign.sim import SimParams, simulate
from spikealign.sim.bernoulli import (
    bernoulli_raster,
    raster_states,
    raster_to_record,
    simulate_bernoulli,
)

ALPHA = 1e-6  # false-alarm probability of each statistical check
Z_MAX = 5.0

# a coupled 4-neuron network with excitatory and inhibitory weights (W[post, pre])
W4 = np.array(
    [[0.0, 1.2, -0.8, 0.5], [1.0, 0.0, 0.7, -1.1], [-0.6, 0.9, 0.0, 0.8], [0.4, -1.3, 1.1, 0.0]]
)
B4 = np.array([-0.3, 0.2, -0.5, 0.4])


# -- the exact law ------------------------------------------------------------------------------


def exact_law(W, b, t_ref, tau_syn, min_isi, n_steps):
    """Exact distribution of ``z(n_steps)`` (``2^N``, neuron 0 = MSB) and expected spike counts
    over steps ``0 .. n_steps-1`` of a network started from rest.

    Markov chain over the ages ``a_i = t - (last spike of i before t)``, capped at ``cap`` (an
    age >= cap, or no spike yet, acts like ``cap``). At step ``t`` neuron ``j`` has PSP 1 iff
    ``a_j < tau_syn`` (rect kernel acting from the next step on), neuron ``i`` may spike iff
    ``a_i >= min_isi``, and then does so with probability ``1 / (1 + t_ref exp(-u_i))``,
    independently of the others given the ages; it is on iff ``a_i <= t_ref``. Needs
    ``tau_syn <= min_isi + 1``: a neuron's PSPs never overlap, so its last spike suffices.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = len(b)
    assert tau_syn <= min_isi + 1
    cap = max(min_isi, math.ceil(tau_syn), t_ref + 1)
    ages = np.indices((cap,) * n).reshape(n, -1).T + 1  # all (a_0, .., a_{N-1}) in 1..cap
    n_states = len(ages)
    psp = (ages < tau_syn).astype(float)
    u = b + psp @ W.T
    q = np.where(ages >= min_isi, 1.0 / (1.0 + t_ref * np.exp(-u)), 0.0)
    strides = cap ** np.arange(n - 1, -1, -1)
    rows, cols, vals = [], [], []
    for pattern in range(2**n):  # who spikes in this step
        spk = np.array([(pattern >> (n - 1 - i)) & 1 for i in range(n)], dtype=bool)
        rows.append(np.arange(n_states))
        cols.append((np.where(spk, 1, np.minimum(ages + 1, cap)) - 1) @ strides)
        vals.append(np.prod(np.where(spk, q, 1.0 - q), axis=1))
    P = sps.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_states, n_states),
    )
    PT = P.T.tocsr()
    pi = np.zeros(n_states)
    pi[-1] = 1.0  # rest: every age capped
    counts = np.zeros(n)
    for _ in range(n_steps):
        counts += pi @ q
        pi = PT @ pi
    z = (ages <= t_ref).astype(np.int64)
    z_index = z @ (1 << np.arange(n - 1, -1, -1))
    return np.bincount(z_index, weights=pi, minlength=2**n), counts


# -- samples ------------------------------------------------------------------------------------


def fast_rasters(W, b, n_steps, params, seed, n_runs):
    """``n_runs`` independent fast-engine runs from rest as a raster ``(runs, steps, N)``."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_runs, n_steps, len(b)), dtype=bool)
    for r in range(n_runs):
        rec = simulate(W, b, n_steps, params, rng, engine="fast")
        out[r, rec[:, 0], rec[:, 1]] = True
    return out


def final_state_counts(raster, t_ref):
    """Histogram over the 2^N states of each run's state at ``T = n_steps``."""
    n_steps, n = raster.shape[1:]
    z = raster_states(raster, t_ref, [n_steps])[:, 0, :].astype(np.int64)
    return np.bincount(z @ (1 << np.arange(n - 1, -1, -1)), minlength=2**n)


def merge_small(expected, *observed, min_expected=5.0):
    """Merge the bins with expected count below ``min_expected`` into one."""
    small = expected < min_expected
    if not small.any():
        return (expected, *observed)
    return (
        np.append(expected[~small], expected[small].sum()),
        *(np.append(o[~small], o[small].sum()) for o in observed),
    )


def chi2_gof(observed, probs):
    """Pearson statistic against exact probabilities and its 1 - ALPHA threshold."""
    observed = np.asarray(observed, dtype=float)
    e, o = merge_small(observed.sum() * np.asarray(probs), observed)
    return float(np.sum((o - e) ** 2 / e)), float(stats.chi2.isf(ALPHA, len(e) - 1))


def chi2_two_sample(a, b):
    """Pearson homogeneity statistic of two histograms and its 1 - ALPHA threshold."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pooled = (a + b) / (a.sum() + b.sum())
    ea, eb = a.sum() * pooled, b.sum() * pooled
    keep = (ea >= 5) & (eb >= 5)
    if not keep.all():
        a, b, ea, eb = (np.append(x[keep], x[~keep].sum()) for x in (a, b, ea, eb))
    stat = float(np.sum((a - ea) ** 2 / ea) + np.sum((b - eb) ** 2 / eb))
    return stat, float(stats.chi2.isf(ALPHA, len(a) - 1))


def count_z(counts, expected):
    """Per-neuron z-scores of the mean spike count per run against its exact expectation."""
    counts = np.asarray(counts, dtype=float)
    se = counts.std(axis=0, ddof=1) / math.sqrt(len(counts))
    return (counts.mean(axis=0) - expected) / se


def check_against_exact(raster, probs, expected_counts, t_ref, label):
    stat, thr = chi2_gof(final_state_counts(raster, t_ref), probs)
    assert stat < thr, f"{label}: state distribution chi2 {stat:.1f} >= {thr:.1f}"
    z = count_z(raster.sum(axis=1), expected_counts)
    assert np.all(np.abs(z) < Z_MAX), f"{label}: spike-count z-scores {np.round(z, 2)}"


# -- the oracle against theory ------------------------------------------------------------------


@pytest.mark.parametrize("min_isi", [10, 11])
def test_exact_law_matches_renewal_theory_and_boltzmann(min_isi):
    """W = 0: the chain's distribution far from rest is the product of the renewal on-
    probabilities ``t_ref / (min_isi - 1 + 1/r)``; for ``min_isi = t_ref`` that is the exact
    Boltzmann distribution (product of logistics) and for the SSN's ``t_ref + 1`` it is not."""
    t_ref, b = 10, np.array([0.7, -0.4, -1.5])
    probs, counts = exact_law(np.zeros((3, 3)), b, t_ref, t_ref, min_isi, 1500)
    r = 1.0 / (1.0 + t_ref * np.exp(-b))
    on = t_ref / (min_isi - 1 + 1.0 / r)
    z = np.array([[(k >> (2 - i)) & 1 for i in range(3)] for k in range(8)])
    product = np.prod(np.where(z == 1, on, 1.0 - on), axis=1)
    np.testing.assert_allclose(probs, product, rtol=1e-9)
    boltzmann = np.exp(z @ b) / np.exp(z @ b).sum()
    if min_isi == t_ref:
        np.testing.assert_allclose(probs, boltzmann, rtol=1e-9)
    else:
        np.testing.assert_allclose(on, 1.0 / (1.0 + 1.0 / t_ref + np.exp(-b)), rtol=1e-12)
        assert np.max(np.abs(probs / boltzmann - 1.0)) > 0.05
    # stationary spike rate of a renewal process: 1 / mean ISI
    _, later = exact_law(np.zeros((3, 3)), b, t_ref, t_ref, min_isi, 2500)
    np.testing.assert_allclose((later - counts) / 1000, 1.0 / (min_isi - 1 + 1.0 / r), rtol=1e-9)


# -- deterministic conventions --------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["bernoulli", "fast", "reference"])
def test_psp_onset_length_and_refractoriness_are_exact(engine):
    """With |u| = 50 spiking is certain (or impossible) to double precision, so the spike times
    follow from the conventions alone. Neuron 0 (b = 50, self-inhibition -200 through its own
    PSP) spikes every ``tau_syn`` steps when its PSP lasts ``tau_syn - 1`` steps and
    ``min_isi <= tau_syn``; neuron 1 (b = -50, +100 from neuron 0) spikes in the first step of
    each of neuron 0's PSPs, ``s + 1``, and is refractory for the rest of it; neuron 2
    (b = 50, alone) spikes every ``min_isi = t_ref + 1`` steps from step 0."""
    t_ref, tau_syn, n_steps = 3, 5, 40
    W = np.array([[-200.0, 0, 0], [100.0, 0, 0], [0, 0, 0]])
    b = np.array([50.0, -50.0, 50.0])
    if engine == "bernoulli":
        rec = simulate_bernoulli(
            W, b, n_steps, t_ref, tau_syn, np.random.default_rng(0), n_last_psp=1
        )
    else:
        rec = simulate(
            W,
            b,
            n_steps,
            SimParams(t_ref=t_ref, tau_syn=tau_syn, n_last_psp=1),
            np.random.default_rng(0),
            engine=engine,
        )
    times = [rec[rec[:, 1] == i, 0].tolist() for i in range(3)]
    assert times[0] == list(range(0, n_steps, 5))
    assert times[1] == list(range(1, n_steps, 5))
    assert times[2] == list(range(0, n_steps, 4))


def test_bernoulli_helpers():
    raster = np.zeros((7, 2), dtype=bool)
    raster[[1, 3, 3, 6], [0, 1, 0, 1]] = True
    np.testing.assert_array_equal(raster_to_record(raster), [[1, 0], [3, 0], [3, 1], [6, 1]])
    # on at T iff a spike s with s < T <= s + 2
    z = raster_states(raster, 2, [0, 1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(
        z, [[0, 0], [0, 0], [1, 0], [1, 0], [1, 1], [1, 1], [0, 0], [0, 1]]
    )
    with pytest.raises(ValueError, match="W must be"):
        bernoulli_raster(np.zeros((2, 3)), np.zeros(2), 5, 2, 2, np.random.default_rng(0))


# -- statistics -----------------------------------------------------------------------------------


def _compare_coupled(W, b, t_ref, tau_syn, n_steps, n_runs, seed):
    params = SimParams(t_ref=t_ref, tau_syn=tau_syn, n_last_psp=2)
    probs, expected = exact_law(W, b, t_ref, tau_syn, params.min_isi, n_steps)
    fast = fast_rasters(W, b, n_steps, params, seed, n_runs)
    bern = bernoulli_raster(
        W, b, n_steps, t_ref, tau_syn, np.random.default_rng(seed + 1), n_runs=n_runs, n_last_psp=2
    )
    check_against_exact(bern, probs, expected, t_ref, "bernoulli")
    check_against_exact(fast, probs, expected, t_ref, "fast")
    stat, thr = chi2_two_sample(final_state_counts(fast, t_ref), final_state_counts(bern, t_ref))
    assert stat < thr, f"fast vs bernoulli states: chi2 {stat:.1f} >= {thr:.1f}"
    cf, cb = fast.sum(axis=1), bern.sum(axis=1)
    se = np.sqrt(cf.var(axis=0, ddof=1) / n_runs + cb.var(axis=0, ddof=1) / n_runs)
    z = (cf.mean(axis=0) - cb.mean(axis=0)) / se
    assert np.all(np.abs(z) < Z_MAX), f"fast vs bernoulli counts: z {np.round(z, 2)}"


def test_fast_engine_and_bernoulli_simulator_follow_the_exact_law():
    """Coupled 4-neuron network, t_ref = tau_syn = 10: 10000 independent runs of 150 steps per
    simulator; the state at T = 150 (16 bins) and the spike counts against the exact chain, and
    the two simulators against each other. Power (from the exact chain; the standard error of a
    mean count is 0.013-0.014): a refractory period one step short moves the mean counts by
    0.6-0.7 and gives the states a non-centrality of 340 (threshold 56); a PSP one step too
    long moves the counts by 0.09-0.25 (non-centrality 120)."""
    _compare_coupled(W4, B4, 10, 10, 150, 10000, seed=20)


@pytest.mark.slow
@pytest.mark.parametrize("t_ref, tau_syn, seed", [(10, 10, 30), (8, 5, 40), (6, 7, 50)])
def test_fast_engine_and_bernoulli_simulator_follow_the_exact_law_long(t_ref, tau_syn, seed):
    _compare_coupled(1.3 * W4, B4, t_ref, tau_syn, 12 * t_ref, 40000, seed)


def _isis(raster, cutoff):
    """ISIs of one neuron whose first spike lies before ``cutoff``: whether an interval is
    selected depends only on the intervals before it, so each is a fresh draw of the ISI law
    (a renewal process), and runs long enough past ``cutoff`` leave none censored."""
    out = []
    for run in raster:
        t = np.nonzero(run)[0]
        out.append(np.diff(t)[t[:-1] < cutoff])
    return np.concatenate(out)


@pytest.mark.parametrize("u", [-1.0, 1.0])
def test_isi_distribution_of_a_free_neuron_is_exact(u):
    """One neuron at constant potential u: ISI = t_ref + Geometric(r), r = 1/(1 + t_ref e^-u),
    exactly (no interval shorter than t_ref + 1). An interval starting before step 300 of a run
    of 1000 steps is censored with probability (1 - r)^690 < 1e-10."""
    t_ref, n_steps, cutoff = 10, 1000, 300
    r = 1.0 / (1.0 + t_ref * math.exp(-u))
    W, b = np.zeros((1, 1)), np.array([u])
    params = SimParams(t_ref=t_ref, tau_syn=t_ref)
    samples = {
        "fast": _isis(fast_rasters(W, b, n_steps, params, 3, 300)[:, :, 0], cutoff),
        "bernoulli": _isis(
            bernoulli_raster(W, b, n_steps, t_ref, t_ref, np.random.default_rng(4), n_runs=300)[
                :, :, 0
            ],
            cutoff,
        ),
    }
    for label, isi in samples.items():
        assert len(isi) > 1500
        assert isi.min() >= t_ref + 1, f"{label}: ISI {isi.min()} < t_ref + 1"
        k = isi - t_ref  # Geometric(r) on 1, 2, ...
        k_max = 60
        hist = np.bincount(np.minimum(k, k_max), minlength=k_max + 1)[1:]
        probs = r * (1 - r) ** np.arange(k_max - 1)
        probs = np.append(probs, (1 - r) ** (k_max - 1))  # tail k >= k_max
        stat, thr = chi2_gof(hist, probs)
        assert stat < thr, f"{label}: ISI chi2 {stat:.1f} >= {thr:.1f}"


@pytest.mark.parametrize("min_isi", [10, 11])
def test_independent_neurons_sample_the_theoretical_distribution(min_isi):
    """W = 0, runs of 400 steps (the chain puts the state within 1e-9 of stationarity by then):
    the state distribution of both simulators is the product of renewal on-probabilities; for
    ``min_isi = t_ref`` that is the exact Boltzmann distribution ``p(z) ∝ exp(b^T z)``."""
    t_ref, n_steps, n_runs = 10, 400, 3000
    b = np.array([0.7, -0.4, -1.5])
    W = np.zeros((3, 3))
    z = np.array([[(k >> (2 - i)) & 1 for i in range(3)] for k in range(8)])
    if min_isi == t_ref:
        theory = np.exp(z @ b) / np.exp(z @ b).sum()
    else:
        on = 1.0 / (1.0 + 1.0 / t_ref + np.exp(-b))
        theory = np.prod(np.where(z == 1, on, 1.0 - on), axis=1)
    chain, _ = exact_law(W, b, t_ref, t_ref, min_isi, n_steps)
    np.testing.assert_allclose(chain, theory, rtol=1e-9, atol=0)
    params = SimParams(t_ref=t_ref, tau_syn=t_ref, min_isi=min_isi)
    rasters = {
        "fast": fast_rasters(W, b, n_steps, params, 5, n_runs),
        "bernoulli": bernoulli_raster(
            W, b, n_steps, t_ref, t_ref, np.random.default_rng(6), n_runs=n_runs, min_isi=min_isi
        ),
    }
    for label, raster in rasters.items():
        stat, thr = chi2_gof(final_state_counts(raster, t_ref), theory)
        assert stat < thr, f"{label}: chi2 {stat:.1f} >= {thr:.1f} against theory"
