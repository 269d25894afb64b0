"""Analytic spike-timing-difference distribution (STDD) of two coupled sampling neurons.

``stdd(w_ab, w_ba, b_a, b_b, t_ref=..., t_syn=..., t_max=...) -> (dt, p)`` with
``dt = t_A - t_B`` from ``-(t_max - 1)`` to ``t_max - 1`` (conventions in
:mod:`spikealign.principle.chain`).

What is counted
---------------
Merge the two stationary spike trains into one sequence of spike *times*; a time holds A, B or
both. An **adjacent pair** is two consecutive times of that sequence, the earlier containing one
neuron and the later the other: B at ``t_B`` then A at ``t_A > t_B`` with no spike of either
neuron strictly between gives ``dt = t_A - t_B > 0`` (right half); A then B gives ``dt < 0``
(left half). (Nearest-neighbour pairing; a neuron that fires again before its partner ends the
pair without a partner.) In the chain, a right pair with lag ``l`` ends with A spiking in a step
whose previous state has ``zeta_B = l - 1`` and ``zeta_A >= zeta_B`` (neither spiked since B), so
its stationary rate per step is

    R(l) = sum_{i >= l-1} p[i, l-1] a[i, l-1],        L(l) = sum_{j >= l-1} p[l-1, j] b[l-1, j]

read directly off the stationary distribution (the same numbers as propagating the chain from
"B just spiked" with all spikes forbidden, as upstream does, because the mass in ``(i, j)`` with
``i >= j`` *is* the mass that has not spiked since B's spike ``j`` steps ago). Lags are counted up
to ``t_max - 1``.

Each half is normalised to sum to 1/2. Why 1/2: along the merged sequence, every right pair is a
switch from a B time to the next (A) time and every left pair a switch from an A time to a B
time; without simultaneous spikes these switches alternate, so the two kinds are equally
frequent and each makes up half of all adjacent pairs. Each half is therefore the conditional
lag distribution of its kind, weighted 1/2. (Simultaneous spikes and lags beyond ``t_max - 1``
break the exact balance; the normalisation by construction ignores that imbalance, as upstream.)

Ties (``ties=``)
----------------
* ``"exact"``: the definition above (default for ``chain="simulator"``).
* ``"upstream"``: upstream's propagation keeps the mass of "both spike" steps in the propagated
  distribution (it does not zero the transition into ``(0, 0)``, reference quirk 2), so pairs
  that start at a simultaneous spike are counted a second time, truncated at ``t_max``
  propagation steps. Reproduced exactly with a renewal sum (default for ``chain="upstream"``, so
  that the upstream chain gives upstream's numbers).

The ``dt = 0`` bin (``center=``) is NaN, 0, or ``"smooth"``: the mean of its two neighbours.
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError
from .chain import ChainSpec, spike_probabilities, stationary

CENTERS = ("nan", "zero", "smooth")
TIES = ("exact", "upstream")


def resolve_ties(chain: str, ties: str | None) -> str:
    if ties is None:
        return "upstream" if chain == "upstream" else "exact"
    if ties not in TIES:
        raise ConfigError(f"ties: must be one of {', '.join(TIES)} (got {ties!r})")
    return ties


def _pair_rates(p, resp):
    """``h[l-1] = sum_{y >= l-1} p[l-1, y] resp[l-1, y]`` for ``l = 1 .. c`` in the orientation
    ``[first neuron's age, responder's age]``."""
    c = p.shape[0] - 1
    return np.triu(p[:c] * resp[:c]).sum(axis=1)


def _upstream_reentry(p, resp, s, both, n_steps):
    """Extra (unnormalised, per first-neuron spike) bin mass of upstream's propagation, which
    re-enters ``(0, 0)`` after every simultaneous spike (module docstring). Orientation
    ``[first, responder]``; returns an array over lags ``1 .. c``."""
    n = p.shape[0]
    c = n - 1
    rate = p[0].sum()
    K = n_steps
    # gamma-flow of the start process F_k (k = 0 .. K-1), F_k = p[k, y >= k] / rate for k < c
    f = np.zeros(K + 1)  # f[m]: mass entering (0,0) at step m
    kmax = min(c, K)
    f[1 : kmax + 1] = np.triu(p[:kmax] * both[:kmax]).sum(axis=1) / rate
    if K > c:
        # F_c sits in the corner (c, c): survivors of F_{c-1}
        fc = (p[c - 1, c - 1 :] * s[c - 1, c - 1 :]).sum() / rate
        decay = s[c, c] ** np.arange(K - c)
        f[c + 1 : K + 1] = fc * decay * both[c, c]
    # process started by a point mass at (0, 0): along the diagonal, then the corner
    diag_s = np.diagonal(s)
    Ld = np.ones(max(K, c + 1))
    Ld[1 : c + 1] = np.cumprod(diag_s[:c])
    if K > c + 1:
        Ld[c + 1 : K] = Ld[c] * diag_s[c] ** np.arange(1, K - c)
    diag_both = np.concatenate([np.diagonal(both), np.full(max(0, len(Ld) - n), both[c, c])])
    g = np.zeros(K + 1)  # g[n]: mass entering (0,0) n steps after a point mass at (0,0)
    g[1 : K + 1] = Ld[:K] * diag_both[:K]
    # renewal e_m = f_m + sum_{j<m} e_j g_{m-j}
    e = np.zeros(K + 1)
    for m in range(1, K + 1):
        e[m] = f[m] + np.dot(e[1:m], g[m - 1 : 0 : -1])
    E = np.cumsum(e)  # E[j] = sum_{m=1}^{j} e_m
    lags = np.arange(1, c + 1)
    readout = Ld[lags - 1] * np.diagonal(resp)[lags - 1]
    return readout * E[np.clip(K - lags + 1, 0, K)]


def half_histograms(p, a, b, ties: str = "exact", na=None, nb=None):
    """Unnormalised right and left halves over lags ``1 .. t_max - 1``.

    ``right[l-1]``: B then A after ``l`` steps; ``left[l-1]``: A then B (module docstring). For
    ``ties="exact"`` these are stationary pair rates per step; for ``"upstream"`` they are
    upstream's per-spike propagation sums (only their shape matters after normalisation).
    ``na``, ``nb``: the complements ``1 - a``, ``1 - b`` if available (more precise).
    """
    if not (p[:, 0].sum() > 0 and p[0].sum() > 0):
        raise ValueError(
            "stdd: a neuron never fires (its stationary spike rate is 0); the STDD is undefined"
        )
    right = _pair_rates(p.T, a.T)
    left = _pair_rates(p, b)
    if ties == "upstream":
        n_steps = p.shape[0]  # upstream propagates t_max steps
        s = (1 - a if na is None else na) * (1 - b if nb is None else nb)
        both = a * b
        right = right / p[:, 0].sum() + _upstream_reentry(p.T, a.T, s.T, both.T, n_steps)
        left = left / p[0].sum() + _upstream_reentry(p, b, s, both, n_steps)
    return right, left


def assemble(right, left, center: str = "nan"):
    """Full STDD from the halves: each normalised to 1/2, left reversed, centre filled."""
    if center not in CENTERS:
        raise ConfigError(f"center: must be one of {', '.join(CENTERS)} (got {center!r})")
    if not (right.sum() > 0 and left.sum() > 0):
        raise ValueError(
            "stdd: no adjacent spike pairs within t_max - 1 (a neuron never "
            "fires); the STDD is undefined"
        )
    r = right / (2.0 * right.sum())
    lt = left[::-1] / (2.0 * left.sum())
    if center == "nan":
        mid = np.nan
    elif center == "zero":
        mid = 0.0
    else:
        mid = 0.5 * (lt[-1] + r[0])
    c = len(right)
    return np.arange(-c, c + 1), np.concatenate([lt, [mid], r])


def stdd(
    w_ab,
    w_ba,
    b_a,
    b_b,
    *,
    t_ref,
    t_syn,
    t_max,
    psp="rect",
    chain="upstream",
    center="nan",
    ties=None,
):
    """Analytic STDD of the two-neuron system (module docstring).

    Parameters
    ----------
    w_ab, w_ba : float
        Weight B -> A and weight A -> B.
    b_a, b_b : float
        Biases.
    t_ref : int
        Refractory period (steps).
    t_syn : float
        PSP time constant (steps, > 0; rect: its length).
    t_max : int
        Ages are capped at ``t_max - 1``; the STDD covers ``|dt| <= t_max - 1`` steps.
    psp : str
        One of ``spikealign.psp.PSP_NAMES``.
    chain : str
        ``"upstream"`` (minimum ISI ``t_ref``) or ``"simulator"`` (``t_ref + 1``, the law of
        :func:`spikealign.sim.simulate`), see :mod:`.chain`.
    center : str
        ``"nan"``, ``"zero"`` or ``"smooth"`` for the ``dt = 0`` bin.
    ties : str, optional
        ``"exact"`` or ``"upstream"`` (a simultaneous spike starts a second pair, as the
        paper's code counts it); default by chain: ``"upstream"`` for the upstream chain,
        ``"exact"`` for the simulator chain.

    Returns
    -------
    dt : numpy.ndarray of int
        Ascending lags ``dt = t_A - t_B`` in steps, ``-(t_max-1) .. t_max-1``.
    p : numpy.ndarray of float
        Probabilities of the adjacent-pair lags; each half sums to 1/2, the centre bin as
        chosen by ``center``.

    Notes
    -----
    An adjacent pair is two consecutive spike times of the merged trains holding different
    neurons: B at ``t_B`` then A at ``t_A > t_B`` with no spike of either in between gives
    ``dt > 0``. Its stationary rate per step is read off the stationary distribution
    ``p[i, j]`` of the chain over the ages ``(zeta_A, zeta_B)`` and the spike probabilities
    ``a``, ``b``: ``R(l) = sum_{i >= l-1} p[i, l-1] a[i, l-1]`` (right half),
    ``L(l) = sum_{j >= l-1} p[l-1, j] b[l-1, j]`` (left half); each half is normalised to
    1/2, as right and left pairs alternate along the merged sequence.
    """
    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)
    ties = resolve_ties(spec.chain, ties)
    if center not in CENTERS:
        raise ConfigError(f"center: must be one of {', '.join(CENTERS)} (got {center!r})")
    a, b, na, nb = spike_probabilities(w_ab, w_ba, b_a, b_b, spec, complements=True)
    p = stationary(a, b, na, nb)
    right, left = half_histograms(p, a, b, ties, na, nb)
    return assemble(right, left, center)
