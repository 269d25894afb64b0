"""Statistics for reporting results over seeds: means with confidence intervals and paired
comparisons corrected for multiple testing.

* :func:`mean_ci`: mean and the two-sided Student-t confidence interval of the mean,
  ``mean ± t_{1-a/2, n-1} s / sqrt(n)`` with the sample standard deviation ``s`` (``ddof=1``).
* :func:`paired_test`: a paired comparison of two conditions run with the same seeds: mean
  difference with its t interval and the two-sided paired t-test p-value (and the exact
  Wilcoxon signed-rank p-value, which does not assume normal differences).
* :func:`holm`: Holm-Bonferroni adjusted p-values (controls the family-wise error rate; never
  less powerful than Bonferroni).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof = 1)
    low: float
    high: float
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean of the finite ``values`` with its Student-t confidence interval (module
    docstring); for fewer than 2 values the interval is NaN."""
    from scipy import stats

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1) (got {level})")
    x = _finite(values)
    n = len(x)
    if n == 0:
        return MeanCI(0, np.nan, np.nan, np.nan, np.nan, level)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(1, mean, np.nan, np.nan, np.nan, level)
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / np.sqrt(n)
    return MeanCI(n, mean, sd, mean - half, mean + half, level)


@dataclass(frozen=True)
class PairedTest:
    n: int
    diff: MeanCI  # of a - b
    p_t: float  # two-sided paired t-test
    p_wilcoxon: float  # two-sided Wilcoxon signed-rank (exact for small n without ties)


def paired_test(a, b, level: float = 0.95) -> PairedTest:
    """Compare ``a`` and ``b`` paired by position (the same seed): pairs with a non-finite
    member are dropped. Raises ValueError if the lengths differ."""
    from scipy import stats

    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired_test: a and b must pair up (got {a.shape} and {b.shape})")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    d = a - b
    n = len(d)
    ci = mean_ci(d, level)
    if n < 2:
        return PairedTest(n, ci, np.nan, np.nan)
    if np.all(d == d[0]):  # no spread: the t statistic is undefined
        p_t = 1.0 if d[0] == 0 else 0.0
    else:
        p_t = float(stats.ttest_rel(a, b).pvalue)
    if np.all(d == 0):
        p_w = 1.0
    else:
        p_w = float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    return PairedTest(n, ci, p_t, p_w)


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order (NaN stays NaN and does not
    count as a test)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
