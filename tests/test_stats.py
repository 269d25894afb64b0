"""spikealign.stats: t intervals of the mean (against scipy and by hand, and their coverage),
paired tests (against scipy) and Holm's correction (by hand and its properties)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from spikealign.stats import holm, mean_ci, paired_test

FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


# -- mean_ci ---------------------------------------------------------------------------------------


def test_mean_ci_by_hand():
    x = [0.81, 0.84, 0.79, 0.86, 0.80]
    n = 5
    mean = sum(x) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))  # ddof = 1
    t = 2.7764451051977987  # t_{0.975, 4}
    ci = mean_ci(x)
    assert ci.n == 5 and ci.level == 0.95
    assert ci.mean == pytest.approx(mean, rel=1e-15)
    assert ci.std == pytest.approx(s, rel=1e-12)
    assert ci.low == pytest.approx(mean - t * s / math.sqrt(n), rel=1e-12)
    assert ci.high == pytest.approx(mean + t * s / math.sqrt(n), rel=1e-12)
    assert ci.half_width == pytest.approx(t * s / math.sqrt(n), rel=1e-12)
    # ddof = 0 would give a narrower interval
    assert ci.half_width > t * np.std(x) / math.sqrt(n) * 1.1


@settings(max_examples=60, deadline=None, database=None)
@given(
    x=st.lists(FINITE, min_size=2, max_size=30), level=st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99])
)
def test_mean_ci_equals_scipys_t_interval(x, level):
    ci = mean_ci(x, level)
    arr = np.array(x)
    sem = arr.std(ddof=1) / math.sqrt(len(arr))
    assert ci.n == len(x) and ci.level == level
    assert ci.std == pytest.approx(arr.std(ddof=1), rel=1e-9, abs=1e-9)
    if sem == 0:
        assert ci.low == ci.high == ci.mean
        return
    low, high = sps.t.interval(level, len(arr) - 1, loc=arr.mean(), scale=sem)
    tol = 1e-9 * (abs(arr.mean()) + sem)
    assert ci.low == pytest.approx(low, abs=tol) and ci.high == pytest.approx(high, abs=tol)


def test_mean_ci_drops_non_finite_values_and_needs_two():
    ci = mean_ci([1.0, np.nan, 3.0, np.inf, -np.inf])
    ref = mean_ci([1.0, 3.0])
    assert (ci.n, ci.mean, ci.low, ci.high) == (2, 2.0, ref.low, ref.high)
    one = mean_ci([4.0, np.nan])
    assert one.n == 1 and one.mean == 4.0
    assert np.isnan(one.std) and np.isnan(one.low) and np.isnan(one.high)
    none = mean_ci([])
    assert none.n == 0 and np.isnan(none.mean) and np.isnan(none.low)
    for level in (0.0, 1.0, -0.5, 95):
        with pytest.raises(ValueError, match="level"):
            mean_ci([1.0, 2.0], level)


@pytest.mark.parametrize("n,level", [(3, 0.95), (5, 0.95), (10, 0.8)])
def test_mean_ci_covers_the_true_mean_at_its_level(n, level):
    """Normal samples of size n: the interval holds the true mean in a fraction ``level`` of
    repetitions. With R repetitions the empirical coverage has standard deviation
    sqrt(level (1 - level) / R); allowed: 4 of them (a false alarm in about 6e-5 of runs).
    ddof = 0 or a normal quantile instead of t would undercover, at n = 3 by far more."""
    reps = 4000
    rng = np.random.default_rng(n)
    mu, sigma = 3.0, 2.0
    hits = 0
    for _ in range(reps):
        ci = mean_ci(rng.normal(mu, sigma, n), level)
        hits += ci.low <= mu <= ci.high
    tol = 4 * math.sqrt(level * (1 - level) / reps)
    assert abs(hits / reps - level) < tol, hits / reps


# -- paired_test ---------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, database=None)
@given(
    pairs=st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=3, max_size=12)
)
def test_paired_test_equals_scipy(pairs):
    # (tied |differences| make scipy's Wilcoxon a permutation test of ~0.3 s: few examples)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    d = a - b
    res = paired_test(a, b)
    assert res.n == len(a)
    ci = mean_ci(d)
    assert res.diff.mean == ci.mean and res.diff.low == ci.low and res.diff.high == ci.high
    if np.all(d == d[0]):  # no spread: t undefined; equal pairs give p = 1
        assert res.p_t == (1.0 if d[0] == 0 else 0.0)
        return
    assert res.p_t == pytest.approx(sps.ttest_rel(a, b).pvalue, rel=1e-9, abs=1e-300)
    assert res.p_wilcoxon == pytest.approx(
        sps.wilcoxon(a, b, zero_method="wilcox").pvalue, rel=1e-9, abs=1e-300
    )


def test_paired_test_by_hand_and_its_edge_cases():
    a = np.array([0.90, 0.85, 0.88, 0.91, 0.87, 0.86])
    b = np.array([0.88, 0.86, 0.84, 0.88, 0.85, 0.85])
    d = a - b
    t = d.mean() / (d.std(ddof=1) / math.sqrt(6))
    p = 2 * sps.t.sf(abs(t), 5)
    res = paired_test(a, b)
    assert res.p_t == pytest.approx(p, rel=1e-10)
    assert res.diff.mean == pytest.approx(d.mean(), rel=1e-12)
    # a pair with a non-finite member is dropped, both members
    res2 = paired_test(np.append(a, np.nan), np.append(b, 0.5))
    assert res2.n == 6 and res2.p_t == res.p_t
    res3 = paired_test(np.insert(a, 2, 0.5), np.insert(b, 2, np.inf))
    assert res3.n == 6 and res3.p_t == res.p_t and res3.diff.mean == res.diff.mean
    with pytest.raises(ValueError, match="pair up"):
        paired_test(a, b[:-1])
    same = paired_test(a, a)
    assert same.p_t == 1.0 and same.p_wilcoxon == 1.0
    short = paired_test([1.0], [2.0])
    assert short.n == 1 and np.isnan(short.p_t) and np.isnan(short.p_wilcoxon)


# -- holm ----------------------------------------------------------------------------------------


def test_holm_by_hand():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> the
    # running maximum keeps 0.06)
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02], rel=1e-12)
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])  # capped by the running max ...
    assert holm([0.7, 0.6]) == pytest.approx([1.0, 1.0])  # ... and at 1
    assert holm([0.02]) == pytest.approx([0.02])
    out = holm([0.01, np.nan, 0.04])  # NaN is no test: m = 2
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.04])
    assert np.all(np.isnan(holm([np.nan, np.nan])))
    assert holm([]).shape == (0,)


P = st.one_of(st.floats(0.0, 1.0), st.just(float("nan")))


@settings(max_examples=100, deadline=None, database=None)
@given(p=st.lists(P, min_size=0, max_size=15))
def test_holm_properties(p):
    p = np.array(p, dtype=float)
    adj = holm(p)
    assert adj.shape == p.shape
    nan = np.isnan(p)
    assert np.array_equal(np.isnan(adj), nan)
    q, a = p[~nan], adj[~nan]
    assert np.all(a >= q) and np.all(a <= 1.0)
    order = np.argsort(q, kind="stable")
    assert np.all(np.diff(a[order]) >= 0)  # monotone in the order of the raw p-values
    m = len(q)
    assert np.all(a <= np.minimum(1.0, m * q) + 1e-15)  # never above Bonferroni
    # NaN entries do not count as tests: the same as holm of the finite ones alone
    assert np.array_equal(a, holm(q))
    if m:  # the smallest p is multiplied by m exactly
        k = order[0]
        assert a[k] == pytest.approx(min(1.0, m * q[k]), rel=1e-12)
