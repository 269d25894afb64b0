"""The two-neuron system simulated with the core simulator, and what is measured on it.

Neuron A is id 0, B is id 1, so the core's ``W[post, pre]`` is ``[[0, W_AB], [W_BA, 0]]``.

* :func:`simulate_pair`: spike record of the pair (:func:`spikealign.sim.simulate`).
* :func:`adjacent_lags`: the adjacent pairs of a record (definition in
  :mod:`spikealign.principle.stdd`), split into right (B then A) and left (A then B) lags.
* :func:`empirical_stdd`: their histogram, each half normalised to 1/2 over lags
  ``1 .. t_max - 1`` exactly as the analytic STDD, with the per-bin standard errors.
* :func:`measured_drift`: the SAL drift measured with nearest-neighbour STDP
  (:func:`spikealign.stdp.nn_stdp`), the estimator of :func:`spikealign.principle.sal_drift`.
* :func:`sal_evolution`: the weight evolution of Fig 2d (SAL by pair-based STDP in epochs).
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError
from ..sim import SimParams, phase_statistics, simulate
from ..stdp import Window, nn_stdp


def pair_network(w_ab, w_ba, b_a, b_b):
    """``(W, b)`` of the two-neuron system in the core's ``W[post, pre]`` convention."""
    return (np.array([[0.0, float(w_ab)], [float(w_ba), 0.0]]), np.array([float(b_a), float(b_b)]))


def simulate_pair(
    w_ab, w_ba, b_a, b_b, *, t_ref, t_syn, n_steps, rng, psp="rect", n_last_psp=10, min_isi=None
):
    """Spike record ``(time, neuron)`` of the pair simulated from rest (A = 0, B = 1)."""
    W, b = pair_network(w_ab, w_ba, b_a, b_b)
    params = SimParams(int(t_ref), float(t_syn), psp, min_isi=min_isi, n_last_psp=n_last_psp)
    return simulate(W, b, int(n_steps), params, rng)


def adjacent_lags(spikes, *, start: int = 0):
    """Lags of the adjacent pairs of a two-neuron record whose first spike is at ``>= start``.

    Returns ``(right, left)``: ``right`` holds ``t_A - t_B > 0`` for every B spike followed by an
    A spike with no spike of either neuron strictly between; ``left`` holds ``t_B - t_A > 0`` for
    A then B (so those pairs have ``dt = -left``).
    """
    spikes = np.asarray(spikes, dtype=np.int64).reshape(-1, 2)
    if spikes.size and (spikes[:, 1].min() < 0 or spikes[:, 1].max() > 1):
        raise ValueError("adjacent_lags: a two-neuron record has ids 0 (A) and 1 (B) only")
    ta = spikes[spikes[:, 1] == 0, 0]
    tb = spikes[spikes[:, 1] == 1, 0]

    def lags(first, resp):
        first = first[first >= start]
        # the first neuron's next spike (none after the last one)
        t_next = np.append(first[1:], np.iinfo(np.int64).max)
        k = np.searchsorted(resp, first, side="right")  # the responder's first spike after
        has = k < len(resp)
        t_resp = resp[np.minimum(k, len(resp) - 1)] if len(resp) else np.zeros_like(first)
        # adjacent: the first neuron does not fire again before the responder (same step ok)
        keep = has & (t_resp <= t_next)
        return (t_resp - first)[keep]

    return lags(tb, ta), lags(ta, tb)


def empirical_stdd(spikes, t_max: int, *, start: int = 0):
    """Histogram of adjacent-pair lags as an STDD over ``dt = -(t_max-1) .. t_max-1``.

    Each half is normalised to 1/2 over its lags ``<= t_max - 1`` (as the analytic STDD); the
    centre bin is NaN. Returns ``(dt, p, se, n_right, n_left)`` with ``se`` the binomial standard
    error of each bin, ``sqrt(q (1 - q) / n) / 2`` for the within-half frequency ``q``.
    """
    if int(t_max) < 2:
        raise ConfigError(f"t_max: must be an integer >= 2 (got {t_max!r})")
    c = int(t_max) - 1
    right, left = adjacent_lags(spikes, start=start)
    hr = np.bincount(right[right <= c], minlength=c + 1)[1:]
    hl = np.bincount(left[left <= c], minlength=c + 1)[1:]
    n_r, n_l = int(hr.sum()), int(hl.sum())
    if n_r == 0 or n_l == 0:
        raise ValueError("empirical_stdd: no adjacent pairs within t_max - 1 in the record")
    qr, ql = hr / n_r, hl / n_l
    p = np.concatenate([ql[::-1] / 2, [np.nan], qr / 2])
    se = np.concatenate(
        [np.sqrt(ql * (1 - ql) / n_l)[::-1] / 2, [np.nan], np.sqrt(qr * (1 - qr) / n_r) / 2]
    )
    return np.arange(-c, c + 1), p, se, n_r, n_l


def measured_drift(spikes, window: Window, *, start: int = 0):
    """SAL drift measured on a two-neuron record by nearest-neighbour STDP.

    ``nn_stdp(..., inclusive=True)`` sums the window over the adjacent pairs; the causal and
    anti-causal sides are summed separately (one-sided copies of ``window``) and each is divided
    by its number of pairs and weighted 1/2, the same normalisation as the analytic STDD:

        dW_AB = 1/2 mean_{B->A pairs} K(dt) + 1/2 mean_{A->B pairs} K(dt)

    (no lag cut-off). Returns ``(dW_AB, dW_BA, se_AB, se_BA, n_right, n_left)`` with standard
    errors from the spread of the window values over the pairs.
    """
    spikes = np.asarray(spikes, dtype=np.int64).reshape(-1, 2)
    rec = spikes[spikes[:, 0] >= start]
    causal = nn_stdp(rec, 2, window.with_amplitudes(window.a_plus, 0.0), inclusive=True)
    anti = nn_stdp(rec, 2, window.with_amplitudes(0.0, window.a_minus), inclusive=True)
    right, left = adjacent_lags(rec)
    n_r, n_l = len(right), len(left)
    if n_r < 2 or n_l < 2:
        raise ValueError("measured_drift: too few adjacent pairs in the record")
    dw_ab = 0.5 * causal[0, 1] / n_r + 0.5 * anti[0, 1] / n_l
    dw_ba = 0.5 * anti[1, 0] / n_r + 0.5 * causal[1, 0] / n_l
    per = window.per_synapse

    def k(dt, post, pre):
        return window(dt, post, pre) if per else window(dt)

    se_ab = 0.5 * np.sqrt(
        np.var(k(right, 0, 1), ddof=1) / n_r + np.var(k(-left, 0, 1), ddof=1) / n_l
    )
    se_ba = 0.5 * np.sqrt(
        np.var(k(-right, 1, 0), ddof=1) / n_r + np.var(k(left, 1, 0), ddof=1) / n_l
    )
    return float(dw_ab), float(dw_ba), float(se_ab), float(se_ba), n_r, n_l


def sal_evolution(
    w0,
    b,
    *,
    t_ref,
    t_syn,
    window: Window,
    lr,
    n_epochs,
    epoch_steps,
    rng,
    psp="rect",
    n_last_stdp=10,
    fixed=None,
    progress=False,
):
    """Weight evolution of the pair under SAL by simulation (Fig 2d protocol).

    Each epoch simulates ``epoch_steps`` steps from rest with the current weights, accumulates
    pair-based STDP with ``window`` over the ``n_last_stdp`` latest partner spikes
    (:func:`spikealign.sim.phase_statistics`), normalises it by ``t_ref / epoch_steps`` and
    applies ``W += lr * dW``. ``fixed``: ``"ab"`` or ``"ba"`` keeps that weight. Returns the
    weights ``(n_epochs + 1, 2)`` as columns ``(W_AB, W_BA)``.
    """
    if fixed not in (None, "ab", "ba"):
        raise ConfigError(f"fixed: must be 'ab', 'ba' or None (got {fixed!r})")
    params = SimParams(int(t_ref), float(t_syn), psp)
    w_ab, w_ba = float(w0[0]), float(w0[1])
    out = np.empty((int(n_epochs) + 1, 2))
    out[0] = w_ab, w_ba
    bar = None
    if progress:
        from ..progress import progress as make_bar

        bar = make_bar(total=int(n_epochs), desc="SAL epochs", unit="epoch")
    for e in range(int(n_epochs)):
        W, bias = pair_network(w_ab, w_ba, b[0], b[1])
        st = phase_statistics(
            W, bias, int(epoch_steps), params, rng, windows=(window,), n_last_stdp=int(n_last_stdp)
        )
        dw = st.stdp[0] * (t_ref / epoch_steps)
        if fixed != "ab":
            w_ab += lr * dw[0, 1]
        if fixed != "ba":
            w_ba += lr * dw[1, 0]
        out[e + 1] = w_ab, w_ba
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out
