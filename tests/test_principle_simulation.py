"""Analytic STDD and SAL drift against the core simulator.

Tolerances come from the number of adjacent pairs: within a half, the ``N`` pairs fall into the
lag bins like a multinomial sample, so the count of bin ``l`` is Binomial(N, q) (``q`` = analytic
within-half probability; the STDD holds ``q / 2``), standard deviation ``sqrt(q (1 - q) / N)`` in
frequency. Every bin's count must have a two-sided exact binomial tail probability above the
Bonferroni level for a family error of 1e-6 (exact also for the far-tail bins with expected
counts far below 1), and Pearson's chi-square of each half (bins with expected count >= 5, the
rest pooled) must lie below its 1 - 1e-6 quantile. The drift must lie within ``z = 5``
standard errors of its estimate (the spread of the window over the pairs). Seeds are fixed.
"""

import numpy as np
import pytest
from scipy.stats import binom, chi2

from spikealign.principle import sal_drift, stdd
from spikealign.principle.empirical import (
    adjacent_lags,
    empirical_stdd,
    measured_drift,
    simulate_pair,
)
from spikealign.stdp import nn_stdp, sal_window

ALPHA = 1e-6
BURN_IN = 1000


def assert_stdd_matches(p, counts_right, counts_left, n_right, n_left):
    """Bin-wise and chi-square agreement of one simulated STDD with the analytic one."""
    c = len(counts_right)
    q_right = 2 * p[c + 1 :]
    q_left = 2 * p[:c][::-1]
    level = ALPHA / (2 * c)  # Bonferroni over all bins of both halves
    for q, counts, n in ((q_right, counts_right, n_right), (q_left, counts_left, n_left)):
        tail = 2 * np.minimum(binom.cdf(counts, n, q), binom.sf(counts - 1, n, q))
        assert np.all(tail > level), (
            f"bin {np.argmin(tail) + 1}: count {counts[np.argmin(tail)]:.0f}, expected "
            f"{n * q[np.argmin(tail)]:.2f}, tail probability {tail.min():.2e}"
        )
        expected = n * q
        big = expected >= 5
        obs = np.append(counts[big], counts[~big].sum())
        exp = np.append(expected[big], expected[~big].sum())
        keep = exp > 0
        x2 = np.sum((obs[keep] - exp[keep]) ** 2 / exp[keep])
        dof = keep.sum() - 1
        assert x2 < chi2.isf(ALPHA, dof), f"chi2 {x2:.1f} for {dof} dof"


def run_comparison(
    w,
    *,
    t_ref,
    t_syn,
    t_max,
    n_steps,
    seed,
    psp="rect",
    chain="simulator",
    n_last_psp=10,
    min_isi=None,
    ties=None,
):
    dt, p = stdd(*w, t_ref=t_ref, t_syn=t_syn, t_max=t_max, psp=psp, chain=chain, ties=ties)
    rec = simulate_pair(
        *w,
        t_ref=t_ref,
        t_syn=t_syn,
        n_steps=n_steps,
        psp=psp,
        n_last_psp=n_last_psp,
        min_isi=min_isi,
        rng=np.random.default_rng(seed),
    )
    dte, pe, se, n_r, n_l = empirical_stdd(rec, t_max, start=BURN_IN)
    np.testing.assert_array_equal(dt, dte)
    c = t_max - 1
    counts_right = np.rint(2 * pe[c + 1 :] * n_r)
    counts_left = np.rint(2 * pe[:c][::-1] * n_l)
    assert_stdd_matches(p, counts_right, counts_left, n_r, n_l)
    return dt, p, rec


def test_simulator_chain_matches_simulation():
    """Cheap sibling of the slow test: 4e6 steps, about 1.5e5 pairs per half."""
    run_comparison((0.4, 0.8, -0.5, 0.3), t_ref=10, t_syn=10, t_max=40, n_steps=4_000_000, seed=11)


def test_inhibitory_chain_matches_simulation():
    """Cheap sibling of the slow inhibitory case (both weights negative, long lags up to
    t_max - 1 = 49): 4e6 steps, about 8e4 pairs per half."""
    run_comparison(
        (-0.8, -0.4, -0.5, -0.5), t_ref=10, t_syn=10, t_max=50, n_steps=4_000_000, seed=12
    )


def test_alpha_psp_chain_matches_simulation():
    """Cheap sibling of the slow alpha-PSP case (exact with n_last_psp = 1; the kernel has died
    out by t_max - 1): 4e6 steps, about 2.2e5 pairs per half."""
    run_comparison(
        (0.8, -0.6, 0.0, 0.5),
        t_ref=8,
        t_syn=2.0,
        t_max=60,
        psp="alpha",
        n_last_psp=1,
        n_steps=4_000_000,
        seed=13,
    )


def test_upstream_chain_is_resolved_as_different():
    """The same data reject the upstream chain (minimum ISI t_ref instead of t_ref + 1)."""
    w = (0.4, 0.8, -0.5, 0.3)
    _, p_up = stdd(*w, t_ref=10, t_syn=10, t_max=40, chain="upstream")
    rec = simulate_pair(*w, t_ref=10, t_syn=10, n_steps=4_000_000, rng=np.random.default_rng(11))
    _, pe, _, n_r, n_l = empirical_stdd(rec, 40, start=BURN_IN)
    with pytest.raises(AssertionError):
        assert_stdd_matches(
            p_up, np.rint(2 * pe[40:] * n_r), np.rint(2 * pe[:39][::-1] * n_l), n_r, n_l
        )


def test_measured_drift_matches_analytic():
    """Cheap sibling: nearest-neighbour SAL drift on 4e6 simulated steps."""
    w = (0.3, 0.9, -0.2, 0.1)
    kw = dict(t_ref=10, t_syn=10, chain="simulator")
    dt, p = stdd(*w, t_max=80, **kw)
    dt2, p2 = stdd(*w, t_max=120, **kw)
    win = sal_window(10)
    dw_ab, dw_ba = sal_drift(dt, p, win)
    assert abs(sal_drift(dt2, p2, win)[0] - dw_ab) < 1e-7  # lag cut-off negligible
    rec = simulate_pair(*w, t_ref=10, t_syn=10, n_steps=4_000_000, rng=np.random.default_rng(5))
    m_ab, m_ba, se_ab, se_ba, n_r, n_l = measured_drift(rec, win, start=BURN_IN)
    assert n_r > 100_000 and n_l > 100_000
    assert abs(m_ab - dw_ab) < 5 * se_ab
    assert abs(m_ba - dw_ba) < 5 * se_ba
    assert m_ab > 0 > m_ba  # the weaker weight grows


def test_nn_stdp_sums_the_adjacent_pairs():
    """The STDP machinery and the lag extraction see the same pairs (deterministic)."""
    rec = simulate_pair(
        0.5, -0.5, 0.5, 0.0, t_ref=5, t_syn=5, n_steps=200_000, rng=np.random.default_rng(2)
    )
    right, left = adjacent_lags(rec)
    win = sal_window(5)
    S = nn_stdp(rec, 2, win, inclusive=True)
    assert S[0, 1] == pytest.approx(win(right).sum() + win(-left).sum(), rel=1e-12)
    assert S[1, 0] == pytest.approx(win(-right).sum() + win(left).sum(), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        dict(w=(0.4, 0.8, -0.5, 0.3), t_ref=10, t_syn=10, t_max=40),
        dict(w=(-0.8, -0.4, -0.5, -0.5), t_ref=10, t_syn=10, t_max=50),
        dict(w=(1.5, 0.5, -0.5, -0.2), t_ref=25, t_syn=25, t_max=60),
        # alpha PSP: exact when only the last spike's PSP counts and the kernel has died out
        dict(w=(0.8, -0.6, 0.0, 0.5), t_ref=8, t_syn=2.0, t_max=60, psp="alpha", n_last_psp=1),
        # the upstream chain (minimum ISI t_ref) with exact ties is the law of a simulator with
        # min_isi = t_ref
        dict(
            w=(0.4, 0.8, -0.5, 0.3),
            t_ref=10,
            t_syn=10,
            t_max=40,
            chain="upstream",
            min_isi=10,
            ties="exact",
        ),
    ],
)
def test_analytic_matches_simulation_long(case):
    case = dict(case)
    w = case.pop("w")
    run_comparison(w, n_steps=40_000_000, seed=2024, **case)


@pytest.mark.slow
@pytest.mark.parametrize(
    "w", [(0.3, 0.9, -0.2, 0.1), (-0.9, -0.1, 0.3, 0.3), (1.2, 1.2, -0.5, 0.5)]
)
def test_measured_drift_matches_analytic_long(w):
    dt, p = stdd(*w, t_ref=10, t_syn=10, t_max=100, chain="simulator")
    win = sal_window(10)
    dw_ab, dw_ba = sal_drift(dt, p, win)
    rec = simulate_pair(*w, t_ref=10, t_syn=10, n_steps=40_000_000, rng=np.random.default_rng(7))
    m_ab, m_ba, se_ab, se_ba, _, _ = measured_drift(rec, win, start=BURN_IN)
    assert abs(m_ab - dw_ab) < 5 * se_ab
    assert abs(m_ba - dw_ba) < 5 * se_ba
