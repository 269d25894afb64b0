"""The previous compiled simulator, which walks every step (kept as the benchmark baseline).

:mod:`spikealign.sim.fast` (event-driven: it jumps from event to event) replaced it; this one is
kept so that ``bench/bench_ssn.py`` can measure the ratio of the two in the same run and the
tests can check that both emit the same spikes. Same model, arithmetic and random draws as
:mod:`spikealign.sim.reference` (with ``potentials="ordered"``):

* The PSP vector only changes at *events*: the ages at which a spike's kernel value changes
  (for the rect kernel: onset and offset). Between events each neuron's hazard is constant, so
  the per-step work is one integer add and compare per neuron.
* When every PSP is 0 or 1 (rect kernel, no overlapping PSPs of one neuron) the hazards of a
  PSP pattern are cached by the pattern's bit mask, so exp/log are computed once per pattern.
* Statistics are accumulated while simulating (pair-based STDP for any number of windows,
  spike counts, a histogram of the sampled binary states), so long phases need constant memory;
  the spike record itself is optional.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..neuron import HAZARD_QUANTA_MAX, hazard_quanta, threshold_quanta
from ..stdp import window_value
from .fast import prepare  # noqa: F401  (re-exported: the same PSP preparation)

#: largest network for which hazards are cached per PSP bit pattern (2^N x N int64 entries)
MAX_CACHED_NEURONS = 12


@njit(cache=True)
def _potential_hazards(W, b, psp, log_t_ref, clamp, hq):  # pragma: no cover - compiled
    n = b.shape[0]
    for i in range(n):
        if clamp[i] >= 0:  # forced: silent (0) or spiking whenever free (1)
            hq[i] = HAZARD_QUANTA_MAX if clamp[i] == 1 else 0
            continue
        u = b[i]
        for j in range(n):
            u += W[i, j] * psp[j]
        hq[i] = hazard_quanta(u, log_t_ref)


@njit(cache=True)
def _advance(t, stop, n, acc, hq, thr, free_at):  # pragma: no cover - compiled
    """Run steps ``t .. stop-1`` of hazard accumulation; stop after the first step in which a
    neuron's accumulator exceeds its threshold. Returns that step, or ``stop``."""
    while t < stop:
        hit = False
        for i in range(n):
            a = acc[i] + (hq[i] if t >= free_at[i] else 0)
            acc[i] = a
            hit |= a > thr[i]
        if hit:
            return t
        t += 1
    return stop


@njit(cache=True)
def run_phase(
    n_steps,
    W,
    b,
    log_t_ref,
    min_isi,
    t_on,
    table,
    changes,
    binary,
    n_last_psp,
    rng,
    codes,
    utau,
    pars,
    n_last_stdp,
    S,
    sample_every,
    hist,
    counts,
    record,
    clamp,
):
    """Simulate ``n_steps`` from rest; accumulate statistics in place.

    clamp[i]: -1 free, 0 forced silent, 1 forced to spike whenever not refractory.

    S[k] += pair-STDP of window k (codes[k], pars[k]); hist += state counts sampled every
    ``sample_every`` steps (0: off); counts += spike counts. Returns ``(times, ids, n_spikes)``
    (empty arrays unless ``record``).
    """  # pragma: no cover - compiled
    n = b.shape[0]
    n_taps = table.shape[0]
    n_changes = changes.shape[0]
    n_win = codes.shape[0]
    # >= 2 so that a state read at a spike's own step still sees the previous spike
    ring_len = max(n_last_psp, n_last_stdp, 2)
    ring = np.zeros((n, ring_len), dtype=np.int64)
    nspk = np.zeros(n, dtype=np.int64)  # spikes so far per neuron
    head = np.full(n, ring_len - 1, dtype=np.int64)  # ring slot of the newest spike
    free_at = np.zeros(n, dtype=np.int64)
    acc = np.zeros(n, dtype=np.int64)
    thr = np.empty(n, dtype=np.int64)
    for i in range(n):
        thr[i] = threshold_quanta(rng.standard_exponential())
    psp = np.zeros(n)
    hq = np.empty(n, dtype=np.int64)
    _potential_hazards(W, b, psp, log_t_ref, clamp, hq)

    use_cache = binary and n <= 12
    if use_cache:
        cache = np.empty((1 << n, n), dtype=np.int64)
        cached = np.zeros(1 << n, dtype=np.bool_)
        cache[0, :] = hq
        cached[0] = True
    else:
        cache = np.empty((1, n), dtype=np.int64)
        cached = np.zeros(1, dtype=np.bool_)

    # each neuron spikes at most once per min_isi steps: an exact bound, no reallocation
    cap = n * (n_steps // min_isi + 1) if record else 0
    rec_t = np.empty(cap, dtype=np.int64)
    rec_i = np.empty(cap, dtype=np.int64)
    n_rec = 0
    big = np.int64(1) << 62
    next_evt = big
    pnext = np.full(n, big, dtype=np.int64)  # next PSP change per neuron
    mask = 0  # bit j set: PSP of neuron j is non-zero (key of the hazard cache)
    # binary states (neuron 0 = most significant bit) change only at s + 1 and s + t_on + 1
    # after a spike s: the histogram adds the number of read-out times t = 0, se, 2 se, ...
    # between two changes to the pattern that held in between
    sampling = sample_every > 0
    snext = np.full(n, big, dtype=np.int64)  # next state change per neuron
    zmask = 0
    z_since = 0

    t = 0
    while t < n_steps:
        if t == next_evt:
            if sampling:
                new_z = zmask
                for j in range(n):
                    if snext[j] != t:
                        continue
                    bit = 1 << (n - 1 - j)
                    last = ring[j, head[j]]
                    if t == last + 1:
                        new_z |= bit
                        snext[j] = last + t_on + 1
                    else:  # t == last + t_on + 1
                        new_z &= ~bit
                        snext[j] = big
                if new_z != zmask:
                    hist[zmask] += (t + sample_every - 1) // sample_every - (
                        z_since + sample_every - 1
                    ) // sample_every
                    zmask = new_z
                    z_since = t
            # PSPs change only for the neurons whose next change time is now
            changed = False
            for j in range(n):
                if pnext[j] != t:
                    continue
                pnext[j] = big
                m = min(nspk[j], n_last_psp)
                v = 0.0
                for r in range(m):
                    idx = head[j] - (m - 1 - r)
                    if idx < 0:
                        idx += ring_len
                    s = ring[j, idx]
                    age = t - s
                    if age < n_taps:
                        v += table[age]
                    lo = np.searchsorted(changes, age, side="right")
                    if lo < n_changes and s + changes[lo] < pnext[j]:
                        pnext[j] = s + changes[lo]
                if v != psp[j]:
                    psp[j] = v
                    changed = True
                    if v != 0.0:
                        mask |= 1 << j
                    else:
                        mask &= ~(1 << j)
            next_evt = big
            for j in range(n):
                if pnext[j] < next_evt:
                    next_evt = pnext[j]
                if snext[j] < next_evt:
                    next_evt = snext[j]
            if changed:
                if use_cache:
                    if not cached[mask]:
                        _potential_hazards(W, b, psp, log_t_ref, clamp, hq)
                        cache[mask, :] = hq
                        cached[mask] = True
                    else:
                        for i in range(n):
                            hq[i] = cache[mask, i]
                else:
                    _potential_hazards(W, b, psp, log_t_ref, clamp, hq)

        # quiet steps up to the next event or the end, or the first spike
        stop = min(next_evt, n_steps)
        t = _advance(t, stop, n, acc, hq, thr, free_at)
        if t == stop:
            t -= 1  # no spike: the last step done is stop - 1
        else:
            for i in range(n):
                if acc[i] <= thr[i] or t < free_at[i]:
                    continue
                # --- neuron i spikes at t ---
                counts[i] += 1
                if record:
                    rec_t[n_rec] = t
                    rec_i[n_rec] = i
                    n_rec += 1
                for q in range(n):
                    if q == i:
                        continue
                    m = min(nspk[q], n_last_stdp)
                    for r in range(m):
                        # partner spikes oldest first, as spikealign.stdp.pair_stdp
                        idx = head[q] - (m - 1 - r)
                        if idx < 0:
                            idx += ring_len
                        d = float(t - ring[q, idx])
                        for k in range(n_win):
                            code = codes[k]
                            tau = utau[k]
                            if tau > 0.0:
                                # tau_plus = tau_minus = tau for all synapses: the window's
                                # shape is shared by both directions (same arithmetic as
                                # window_value, which evaluates a * shape on each side)
                                if code == 1:
                                    if d >= tau:
                                        continue
                                    sh = 1.0 - d / tau
                                else:
                                    sh = math.exp(-d / tau)
                                if d > 0.0:
                                    S[k, i, q] += pars[k, 0, i, q] * sh
                                    S[k, q, i] += pars[k, 1, q, i] * sh
                                continue
                            S[k, i, q] += window_value(
                                code,
                                pars[k, 0, i, q],
                                pars[k, 1, i, q],
                                pars[k, 2, i, q],
                                pars[k, 3, i, q],
                                d,
                            )
                            S[k, q, i] += window_value(
                                code,
                                pars[k, 0, q, i],
                                pars[k, 1, q, i],
                                pars[k, 2, q, i],
                                pars[k, 3, q, i],
                                -d,
                            )
                head[i] = head[i] + 1 if head[i] + 1 < ring_len else 0
                ring[i, head[i]] = t
                nspk[i] += 1
                free_at[i] = t + min_isi
                acc[i] = 0
                thr[i] = threshold_quanta(rng.standard_exponential())
                if n_changes > 0:
                    cand = t + changes[0]
                    if cand < pnext[i]:
                        pnext[i] = cand
                    if cand < next_evt:
                        next_evt = cand
                if sampling:
                    snext[i] = t + 1
                    if t + 1 < next_evt:
                        next_evt = t + 1

        t += 1

    if sampling:
        hist[zmask] += (n_steps + sample_every - 1) // sample_every - (
            z_since + sample_every - 1
        ) // sample_every
    return rec_t[:n_rec], rec_i[:n_rec], n_rec
