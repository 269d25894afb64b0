"""Event-driven compiled simulator of a sampling network, with streamed statistics.

The event loop of one phase (``n_steps`` steps from rest), :func:`run_phase`:

    loop:  t_event = min(next PSP or binary-state change, n_steps)   (fixed ages after spikes)
           t_spike = min over neurons of their threshold crossing under the present hazard
           if t_event <= t_spike:  stop at n_steps, else apply the events at t_event: new PSPs
                                   -> new hazards and crossings of the neurons they reach
           else:                   the neurons crossing at t_spike spike (in id order)

Why jumping is exact: a neuron accumulates its quantised hazard ``h`` (an integer,
:mod:`spikealign.neuron`) in every step it is not refractory and spikes in the first step its
accumulator ``acc`` exceeds its threshold ``thr``. While ``h`` is constant that step is

    start + (thr - acc) // h,        start = max(since, free_at),

with ``since`` the step from which ``acc`` is not yet updated and ``free_at`` the end of its
refractoriness. When ``h`` changes at step ``t`` the neuron first books ``h (t - start)`` (if
positive) into ``acc``. These are the integers a step-by-step loop adds, so the spike trains are
bit-identical to :mod:`spikealign.sim.reference` (and to the old stepping engine,
:mod:`spikealign.sim.stepwise`); nothing is done per step.

Potentials (``SimParams.potentials``): in the ordered mode a neuron's potential is re-summed
over its non-zero inputs in index order whenever one of them changes (zero terms do not change a
float sum, so this equals the dense sum), and with binary PSPs and at most
``MAX_CACHED_NEURONS`` neurons the hazards of each PSP pattern are computed once and cached; in
the fixed-point mode a PSP change adds the exact integer change of each target's potential, so
an event costs what the changed neuron's non-zero outgoing weights cost.

Per spike, the pair-STDP sums of every window are read from shape tables indexed by the
integer lag (computed once per phase with the arithmetic of :func:`spikealign.stdp.window_value`,
so the sums are bit-identical too).

Records: the inputs are three named tuples, :class:`Network`, :class:`Rules` and :class:`Stats`
(accumulators), unpacked once per phase; the dynamic state is the neuron table ``nrn`` (one
int64 row per quantity: ``nrn[ACC, i]``), the scalar ``clock`` (``clock[NEXT_EVENT]``), the
spike ``ring`` and the ``psp`` vector. Each event is one small function of those arrays. (Numba
reference-counts every array taken out of a record; in this loop that cost more than the
simulation itself, so records stop at the phase boundary.)
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..limits import MAX_PHASE_STEPS  # noqa: F401  (phases stay below it: limits says why)
from ..neuron import HAZARD_QUANTA_MAX, hazard_quanta, threshold_quanta
from ..stdp import window_value
from .params import POTENTIAL_SCALE, SimParams, change_ages, check_fixed_range

#: the event functions: compiled without reference counting (they never allocate). A compiled
#: function that takes arrays otherwise increments and decrements each array's reference count
#: (an atomic operation) on every call, which cost more than the simulation itself.
kernel = njit(cache=True, _nrt=False)
#: the same, for the innermost functions, inlined into their callers
inline_kernel = njit(cache=True, _nrt=False, inline="always")

#: largest network for which hazards are cached per PSP bit pattern (2^N x N int64 entries)
MAX_CACHED_NEURONS = 12
#: longest shape table of an exponential STDP window (lags beyond it are computed)
MAX_SHAPE_TABLE = 1 << 14

# potential modes (Network.mode)
CACHED, ORDERED, FIXED = 0, 1, 2
# rows of the neuron table nrn (int64, (N_ROWS, N))
FREE_AT = 0  # first step at which the neuron may spike again
ACC = 1  # hazard accumulated over its free steps before SINCE
SINCE = 2
THR = 3  # threshold (fixed point) of the present inter-spike interval
HQ = 4  # present quantised hazard
CROSS = 5  # step at which it crosses its threshold under HQ (NEVER: not before FAR)
PNEXT = 6  # next step at which its PSP changes
SNEXT = 7  # next step at which its binary state changes
NSPK = 8  # spikes so far
HEAD = 9  # ring slot of its newest spike
UQ = 10  # fixed-point potential (FIXED mode)
CHANGED = 11  # 1: its PSP changed in the present event
TOUCHED = 12  # 1: its potential changed in the present event
N_ROWS = 13
# slots of the clock (int64, (N_SLOTS,))
NEXT_EVENT = 0  # earliest PNEXT / SNEXT
PSP_MASK = 1  # bit j: PSP of neuron j is non-zero (the key of the hazard cache)
Z_MASK = 2  # present binary state (neuron 0 = most significant bit)
Z_SINCE = 3  # ... held since this step
N_REC = 4  # spikes recorded
N_SLOTS = 5
NEVER = np.int64(1) << 62
INV_POTENTIAL_SCALE = 1.0 / POTENTIAL_SCALE
#: crossings further than this many steps ahead are never reached (phases are shorter)
FAR = float(2**50)

Network = namedtuple(
    "Network",
    [
        "W",
        "b",  # float64 (N, N) [post, pre], (N,)
        "log_t_ref",  # ln t_ref: spike probability 1 / (1 + t_ref exp(-u))
        "min_isi",  # steps from a spike to the earliest next one
        "t_on",  # a neuron is "on" (state 1) for t_on steps after a spike
        "table",  # float64: PSP of one spike by age (age 0 = 0)
        "changes",  # int64: ages at which one spike's PSP changes
        "n_last_psp",  # the PSPs of a neuron's n_last_psp latest spikes add up
        "clamp",  # int8 (N,): -1 free, 0 forced silent, 1 forced on
        "mode",  # potentials: CACHED, ORDERED or FIXED
        "post_ptr",
        "post_idx",  # for pre j: the posts i with W[i, j] != 0, ascending
        "pre_ptr",
        "pre_idx",  # for post i: the pres j with W[i, j] != 0, ascending
    ],
)
Rules = namedtuple(
    "Rules",
    [
        "codes",  # int64 (K,): window kinds (exp 0, tri 1)
        "utau",  # float64 (K,): the window's single time constant (0: several)
        "pars",  # float64 (K, 4, N, N): a_plus, a_minus, tau_plus, tau_minus
        "n_last",  # pairs with each partner's n_last latest spikes
        "shapes",  # float64 (K, L): shape by integer lag (windows with utau > 0)
    ],
)
Stats = namedtuple(
    "Stats",
    [
        "S",  # float64 (K, N, N): pair-STDP sums, added to
        "hist",  # int64 (2^N,): sampled binary states, added to
        "counts",  # int64 (N,): spikes, added to
        "co",  # int64 (N, N): steps with z_i = z_j = 1, added to ((0, 0): off)
        "on",  # int64 (N,): steps with z_i = 1, added to ((0,): off)
        "sample_every",  # read the states every so many steps (0: off)
        "rec_t",
        "rec_i",  # int64 (cap,): the spike record (cap 0: none)
    ],
)


# --- threshold crossings ----------------------------------------------------------------------


@kernel
def _crossing(start, room, h, inv_h):  # pragma: no cover - compiled
    """First step at which an accumulator ``room`` below its threshold exceeds it, adding h
    per step from ``start``: start + room // h. The quotient is estimated with the reciprocal
    ``inv_h = 1 / h`` (a division costs more than the rest of an event) and corrected in exact
    integers; a crossing more than 2**50 steps away is NEVER (phases are shorter)."""
    if h <= 0:
        return NEVER
    qf = float(room) * inv_h
    if qf > FAR:
        return NEVER
    q = np.int64(qf)
    while q * h > room:
        q -= 1
    while (q + 1) * h <= room:
        q += 1
    return start + q


@kernel
def _book(i, t, nrn):  # pragma: no cover - compiled
    """Add the hazard of neuron i's free steps before t to its accumulator."""
    start = max(nrn[SINCE, i], nrn[FREE_AT, i])
    if t > start:
        nrn[ACC, i] += nrn[HQ, i] * (t - start)
    nrn[SINCE, i] = t


@kernel
def _reciprocal(h):  # pragma: no cover - compiled
    return 1.0 / float(h) if h > 0 else 0.0


@kernel
def _set_hazard(i, h, t, nrn, inv):  # pragma: no cover - compiled
    """From step t on neuron i accumulates h: book the old hazard, find the new crossing."""
    if h != nrn[HQ, i]:
        _book(i, t, nrn)
        nrn[HQ, i] = h
        inv[i] = _reciprocal(h)
        start = max(t, nrn[FREE_AT, i])
        nrn[CROSS, i] = _crossing(start, nrn[THR, i] - nrn[ACC, i], h, inv[i])


@kernel
def _first_crossing(nrn):  # pragma: no cover - compiled
    """Earliest threshold crossing of any neuron (NEVER: none)."""
    tc = NEVER
    for i in range(nrn.shape[1]):
        tc = min(tc, nrn[CROSS, i])
    return tc


# --- potentials and hazards -------------------------------------------------------------------


@kernel
def _forced_hazard(c):  # pragma: no cover - compiled
    """Hazard of a clamped neuron: 0 (never spikes) or the cap (spikes whenever free)."""
    return np.int64(HAZARD_QUANTA_MAX) if c == 1 else np.int64(0)


@kernel
def _ordered_hazard(i, W, b, pre_ptr, pre_idx, psp, log_t_ref):  # pragma: no cover - compiled
    """Hazard of neuron i at u_i = b_i + sum_j W_ij psp_j (non-zero W_ij, j ascending)."""
    u = b[i]
    for p in range(pre_ptr[i], pre_ptr[i + 1]):
        j = pre_idx[p]
        u += W[i, j] * psp[j]
    return hazard_quanta(u, log_t_ref)


@kernel
def _fixed_term(w, v):  # pragma: no cover - compiled
    """Fixed-point term q(w v) = rint(w v 2**P) (params.quantise)."""
    return np.int64(np.rint(w * v * POTENTIAL_SCALE))


@kernel
def _hazard(i, nrn, psp, W, b, pre_ptr, pre_idx, clamp, fixed, log_t_ref):  # pragma: no cover
    """Hazard of neuron i now: its clamp, or its potential (FIXED: nrn[UQ]; else summed)."""
    if clamp[i] >= 0:
        return _forced_hazard(clamp[i])
    if fixed:
        return hazard_quanta(float(nrn[UQ, i]) * INV_POTENTIAL_SCALE, log_t_ref)
    return _ordered_hazard(i, W, b, pre_ptr, pre_idx, psp, log_t_ref)


@kernel
def _psp_value(j, t, nrn, ring, table, changes, n_last_psp):  # pragma: no cover - compiled
    """PSP of neuron j at step t (its latest spikes, oldest first) and its next change."""
    m = min(nrn[NSPK, j], n_last_psp)
    ring_len = ring.shape[1]
    v = 0.0
    nxt = NEVER
    for r in range(m):
        idx = nrn[HEAD, j] - (m - 1 - r)
        if idx < 0:
            idx += ring_len
        s = ring[j, idx]
        age = t - s
        if age < table.shape[0]:
            v += table[age]
        lo = np.searchsorted(changes, age, side="right")
        if lo < changes.shape[0] and s + changes[lo] < nxt:
            nxt = s + changes[lo]
    return v, nxt


@kernel
def _cached_hazards(t, m, nrn, inv, cache, cache_inv):  # pragma: no cover - compiled
    """Every hazard changes to the cached hazards of PSP pattern m at step t: book the old
    ones, find the new crossings."""
    for i in range(nrn.shape[1]):
        nrn[CHANGED, i] = 0  # (only the other modes use the marks)
        h = cache[m, i]
        if h == nrn[HQ, i]:
            continue
        start = max(nrn[SINCE, i], nrn[FREE_AT, i])
        if t > start:
            nrn[ACC, i] += nrn[HQ, i] * (t - start)
        nrn[SINCE, i] = t
        nrn[HQ, i] = h
        inv[i] = cache_inv[m, i]
        nrn[CROSS, i] = _crossing(max(t, nrn[FREE_AT, i]), nrn[THR, i] - nrn[ACC, i], h, inv[i])


@njit(cache=True)
def _fill_cache(m, nrn, psp, cache, cache_inv, cached, net):  # pragma: no cover - compiled
    """Hazards (and their reciprocals) of PSP pattern m, computed on its first occurrence."""
    if not cached[m]:
        for i in range(nrn.shape[1]):
            h = _hazard(
                i, nrn, psp, net.W, net.b, net.pre_ptr, net.pre_idx, net.clamp, False, net.log_t_ref
            )
            cache[m, i] = h
            cache_inv[m, i] = _reciprocal(h)
        cached[m] = True


@kernel
def _update_psps(t, nrn, ring, psp, prev, table, changes, n_last_psp, clock):  # pragma: no cover
    """New PSPs of the neurons whose PSP changes at t (prev: the old values; clock[PSP_MASK]:
    the pattern of non-zero PSPs); returns the number that changed."""
    n_changed = 0
    for j in range(nrn.shape[1]):
        if nrn[PNEXT, j] != t:
            continue
        v, nxt = _psp_value(j, t, nrn, ring, table, changes, n_last_psp)
        nrn[PNEXT, j] = nxt
        prev[j] = psp[j]
        if v != psp[j]:
            psp[j] = v
            nrn[CHANGED, j] = 1
            n_changed += 1
            if v != 0.0:
                clock[PSP_MASK] |= np.int64(1) << j
            else:
                clock[PSP_MASK] &= ~(np.int64(1) << j)
    return n_changed


@kernel
def _propagate(
    t, nrn, inv, psp, prev, W, b, post_ptr, post_idx, pre_ptr, pre_idx, clamp, fixed, log_t_ref
):  # pragma: no cover - compiled
    """The neurons reached by the changed PSPs (TOUCHED pres) get new hazards; in FIXED mode
    each adds the exact change of its fixed-point potential first."""
    n = nrn.shape[1]
    for j in range(n):  # pres whose PSP changed -> their posts
        if nrn[CHANGED, j] == 0:
            continue
        nrn[CHANGED, j] = 0
        for p in range(post_ptr[j], post_ptr[j + 1]):
            i = post_idx[p]
            nrn[TOUCHED, i] = 1
            if fixed:
                nrn[UQ, i] += _fixed_term(W[i, j], psp[j]) - _fixed_term(W[i, j], prev[j])
    for i in range(n):
        if nrn[TOUCHED, i] == 1:
            nrn[TOUCHED, i] = 0
            h = _hazard(i, nrn, psp, W, b, pre_ptr, pre_idx, clamp, fixed, log_t_ref)
            _set_hazard(i, h, t, nrn, inv)


# --- binary states ----------------------------------------------------------------------------


@kernel
def _count_reads(t, clock, hist, se):  # pragma: no cover - compiled
    """The pattern held since clock[Z_SINCE] is read at t' = 0, se, 2 se, ... below t."""
    hist[clock[Z_MASK]] += (t + se - 1) // se - (clock[Z_SINCE] + se - 1) // se


@kernel
def _state_events(t, t_on, nrn, ring, clock, hist, se):  # pragma: no cover - compiled
    """Binary states change at s + 1 (on) and s + t_on + 1 (off) after a spike s."""
    n = nrn.shape[1]
    new_z = clock[Z_MASK]
    for j in range(n):
        if nrn[SNEXT, j] != t:
            continue
        bit = np.int64(1) << (n - 1 - j)
        last = ring[j, nrn[HEAD, j]]
        if t == last + 1:
            new_z |= bit
            nrn[SNEXT, j] = last + t_on + 1
        else:  # t == last + t_on + 1
            new_z &= ~bit
            nrn[SNEXT, j] = NEVER
    if new_z != clock[Z_MASK]:
        _count_reads(t, clock, hist, se)
        clock[Z_MASK] = new_z
        clock[Z_SINCE] = t


@kernel
def _next_event(nrn, clock):  # pragma: no cover - compiled
    nxt = NEVER
    for j in range(nrn.shape[1]):
        nxt = min(nxt, nrn[PNEXT, j], nrn[SNEXT, j])
    clock[NEXT_EVENT] = nxt


# --- spikes -----------------------------------------------------------------------------------


@kernel
def _window_shape(code, lag, tau):  # pragma: no cover - compiled
    """Shape of a window with one time constant at a lag > 0 (exp: e^-d/tau; tri: 1 - d/tau,
    0 from tau on): the arithmetic of window_value, which multiplies it by the amplitude."""
    d = float(lag)
    if code == 1:
        return 1.0 - d / tau if d < tau else 0.0
    return math.exp(-d / tau)


@njit(cache=True)
def shape_tables(codes, utau, max_len):  # pragma: no cover - compiled
    """Shape of each single-time-constant window at lags 0 .. L-1 (lag 0 unused)."""
    n_win = codes.shape[0]
    length = 1
    for k in range(n_win):
        if utau[k] > 0.0:
            need = int(math.ceil(utau[k])) + 1 if codes[k] == 1 else max_len
            length = max(length, min(need, max_len))
    out = np.zeros((n_win, length))
    for k in range(n_win):
        if utau[k] > 0.0:
            for lag in range(1, length):
                out[k, lag] = _window_shape(codes[k], lag, utau[k])
    return out


@inline_kernel
def _pair(k, i, q, lag, codes, utau, pars, shapes, S):  # pragma: no cover - compiled
    """Window k on the pair (spike of i now, spike of q lag steps ago): S[k, i, q] gets the
    causal value K_iq(lag), S[k, q, i] the anti-causal value K_qi(-lag)."""
    tau = utau[k]
    if tau > 0.0:  # one time constant: shape from the table, times each side's amplitude
        if lag <= 0:
            return  # simultaneous spikes add K(0) = 0
        sh = shapes[k, lag] if lag < shapes.shape[1] else _window_shape(codes[k], lag, tau)
        if sh != 0.0:
            S[k, i, q] += pars[k, 0, i, q] * sh
            S[k, q, i] += pars[k, 1, q, i] * sh
        return
    d = float(lag)
    S[k, i, q] += window_value(
        codes[k], pars[k, 0, i, q], pars[k, 1, i, q], pars[k, 2, i, q], pars[k, 3, i, q], d
    )
    S[k, q, i] += window_value(
        codes[k], pars[k, 0, q, i], pars[k, 1, q, i], pars[k, 2, q, i], pars[k, 3, q, i], -d
    )


@kernel
def _pair_stdp(i, t, n_last, codes, utau, pars, shapes, nrn, ring, S):  # pragma: no cover
    """Pairs of a spike of neuron i at t with the n_last latest spikes of every other neuron
    (oldest first), for every window."""
    ring_len = ring.shape[1]
    for q in range(nrn.shape[1]):
        if q == i:
            continue
        m = min(nrn[NSPK, q], n_last)
        for r in range(m):
            idx = nrn[HEAD, q] - (m - 1 - r)
            if idx < 0:
                idx += ring_len
            lag = t - ring[q, idx]
            for k in range(codes.shape[0]):
                _pair(k, i, q, lag, codes, utau, pars, shapes, S)


@kernel
def _coactivate(i, t, t1, t_on, nrn, ring, co, on):  # pragma: no cover - compiled
    """Exact coactivation counts of a spike of i at t in a part ending at t1: i is on at
    t + 1 .. t + t_on; it overlaps the on-window of every other neuron's latest spike s
    (s + 1 .. s + t_on, s <= t; a neuron spiking at t too was processed before i, so the
    pair is counted once) in the steps t + 1 .. min(s + t_on, t1 - 1). With min_isi >= t_on
    only the latest spike can overlap (phase_statistics checks this)."""
    end_i = min(t + t_on, t1 - 1)
    if end_i <= t:
        return
    on[i] += end_i - t
    for q in range(nrn.shape[1]):
        if q == i or nrn[NSPK, q] == 0:
            continue
        end = min(ring[q, nrn[HEAD, q]] + t_on, end_i)
        if end > t:
            co[i, q] += end - t
            co[q, i] += end - t


@kernel
def _coactivation_carry(t0, t1, t_on, nrn, ring, co, on):  # pragma: no cover - compiled
    """The on-windows of spikes before t0 that reach into the part t0 .. t1-1 (a continued
    simulation): each neuron's own steps and the overlaps of every pair, counted from t0."""
    n = nrn.shape[1]
    for i in range(n):
        if nrn[NSPK, i] == 0:
            continue
        end_i = min(ring[i, nrn[HEAD, i]] + t_on, t1 - 1)
        if end_i < t0:
            continue
        on[i] += end_i - t0 + 1
        for q in range(i + 1, n):
            if nrn[NSPK, q] == 0:
                continue
            end = min(ring[q, nrn[HEAD, q]] + t_on, end_i)
            if end >= t0:
                co[i, q] += end - t0 + 1
                co[q, i] += end - t0 + 1


@kernel
def _reset(i, t, min_isi, thr, nrn, inv, ring):  # pragma: no cover - compiled
    """After a spike at t: push t on i's ring, refractory until t + min_isi, threshold thr."""
    head = nrn[HEAD, i] + 1
    if head == ring.shape[1]:
        head = 0
    nrn[HEAD, i] = head
    ring[i, head] = t
    nrn[NSPK, i] += 1
    nrn[FREE_AT, i] = t + min_isi
    nrn[ACC, i] = 0
    nrn[SINCE, i] = t
    nrn[THR, i] = thr
    nrn[CROSS, i] = _crossing(t + min_isi, thr, nrn[HQ, i], inv[i])


@kernel
def _schedule(i, t, first_change, sampling, nrn, clock):  # pragma: no cover - compiled
    """A spike of i at t changes its PSP at t + first_change and its state at t + 1."""
    if first_change > 0:
        cand = t + first_change
        nrn[PNEXT, i] = min(nrn[PNEXT, i], cand)
        clock[NEXT_EVENT] = min(clock[NEXT_EVENT], cand)
    if sampling:
        nrn[SNEXT, i] = t + 1
        clock[NEXT_EVENT] = min(clock[NEXT_EVENT], t + 1)


@kernel
def _record(i, t, clock, rec_t, rec_i):  # pragma: no cover - compiled
    k = clock[N_REC]
    if k < rec_t.shape[0]:
        rec_t[k] = t
        rec_i[k] = i
        clock[N_REC] = k + 1


# --- the phase --------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def new_state(net, n_last_stdp, rng):  # pragma: no cover - compiled
    """A network at rest: no spikes, thresholds drawn in id order, potentials at the biases.
    Returns (nrn, inv, clock, ring, psp, cache, cache_inv, cached, prev); inv = 1 / hazard,
    prev: scratch for the PSPs before an event."""
    n = net.b.shape[0]
    # >= 2 so that a state read at a spike's own step still sees the previous spike
    ring_len = max(net.n_last_psp, n_last_stdp, 2)
    nrn = np.zeros((N_ROWS, n), dtype=np.int64)
    nrn[CROSS] = NEVER
    nrn[PNEXT] = NEVER
    nrn[SNEXT] = NEVER
    nrn[HEAD] = ring_len - 1
    fixed = net.mode == FIXED
    for i in range(n):
        nrn[THR, i] = threshold_quanta(rng.standard_exponential())
        nrn[UQ, i] = _fixed_term(net.b[i], 1.0) if fixed else 0
    clock = np.zeros(N_SLOTS, dtype=np.int64)
    clock[NEXT_EVENT] = NEVER
    ring = np.zeros((n, ring_len), dtype=np.int64)
    psp = np.zeros(n)
    n_pat = (1 << n) if net.mode == CACHED else 1
    cache = np.empty((n_pat, n), dtype=np.int64)
    cache_inv = np.empty((n_pat, n))
    cached = np.zeros(n_pat, dtype=np.bool_)
    inv = np.zeros(n)
    if net.mode == CACHED:
        _fill_cache(0, nrn, psp, cache, cache_inv, cached, net)
        _cached_hazards(0, 0, nrn, inv, cache, cache_inv)
    else:
        for i in range(n):
            h = _hazard(
                i, nrn, psp, net.W, net.b, net.pre_ptr, net.pre_idx, net.clamp, fixed, net.log_t_ref
            )
            _set_hazard(i, h, 0, nrn, inv)
    return nrn, inv, clock, ring, psp, cache, cache_inv, cached, np.zeros(n)


@njit(cache=True)
def run_phase(n_steps, net, rules, stats, rng):  # pragma: no cover - compiled
    """Simulate ``n_steps`` steps from rest, adding to ``stats``; returns the number of
    recorded spikes (``stats.rec_t[:k]``, ``stats.rec_i[:k]``)."""
    state = new_state(net, rules.n_last, rng)
    return advance(0, n_steps, net, rules, stats, rng, state)


@kernel
def _resync_states(t0, t_on, nrn, ring, clock):  # pragma: no cover - compiled
    """Binary states and their next changes at t0 from the latest spikes (a continued
    simulation whose previous part did not track them)."""
    n = nrn.shape[1]
    z = np.int64(0)
    for j in range(n):
        nrn[SNEXT, j] = NEVER
        if nrn[NSPK, j] == 0:
            continue
        last = ring[j, nrn[HEAD, j]]
        if last + 1 <= t0 <= last + t_on:  # on: changes back at last + t_on + 1
            z |= np.int64(1) << (n - 1 - j)
            nrn[SNEXT, j] = last + t_on + 1
    clock[Z_MASK] = z
    clock[Z_SINCE] = t0


@njit(cache=True)
def refresh(t, net, state):  # pragma: no cover - compiled
    """The network changed (weights, biases, clamp) at step t: hazards and crossings from the
    present PSPs under ``net``; the old hazards are booked up to t."""
    nrn, inv, clock, ring, psp, cache, cache_inv, cached, prev = state
    n = nrn.shape[1]
    cached[:] = False
    if net.mode == CACHED:
        m = clock[PSP_MASK]
        _fill_cache(m, nrn, psp, cache, cache_inv, cached, net)
        _cached_hazards(t, m, nrn, inv, cache, cache_inv)
        return
    fixed = net.mode == FIXED
    for i in range(n):
        if fixed:
            u = _fixed_term(net.b[i], 1.0)
            for p in range(net.pre_ptr[i], net.pre_ptr[i + 1]):
                j = net.pre_idx[p]
                u += _fixed_term(net.W[i, j], psp[j])
            nrn[UQ, i] = u
        h = _hazard(
            i, nrn, psp, net.W, net.b, net.pre_ptr, net.pre_idx, net.clamp, fixed, net.log_t_ref
        )
        _set_hazard(i, h, t, nrn, inv)


@njit(cache=True)
def begin_part(t0, sample_every, net, state):  # pragma: no cover - compiled
    """Before :func:`advance` continues a simulation at step t0 > 0: binary states are
    tracked only while sampling, so they are rebuilt from the spikes (or dropped)."""
    nrn, clock, ring = state[0], state[2], state[3]
    if sample_every > 0:
        _resync_states(t0, net.t_on, nrn, ring, clock)
    else:
        for j in range(nrn.shape[1]):
            nrn[SNEXT, j] = NEVER
    _next_event(nrn, clock)


@njit(cache=True, inline="always")  # inlined into run_phase, where the state is fresh
def advance(t0, t1, net, rules, stats, rng, state):  # pragma: no cover - compiled
    """Simulate the steps t0 .. t1-1 of ``state`` (a simulation that has reached step t0;
    continued parts call :func:`begin_part` first), adding to ``stats``; returns the number of
    recorded spikes. The statistics of the call are those of its spikes: pairs with partner
    spikes of earlier calls count, states are read at the multiples of ``sample_every`` in
    [t0, t1)."""
    nrn, inv, clock, ring, psp, cache, cache_inv, cached, prev = state
    n = nrn.shape[1]
    # the records, unpacked once (the event functions take arrays)
    W, b, clamp, log_t_ref = net.W, net.b, net.clamp, net.log_t_ref
    pre_ptr, pre_idx, post_ptr, post_idx = net.pre_ptr, net.pre_idx, net.post_ptr, net.post_idx
    table, changes, n_last_psp = net.table, net.changes, net.n_last_psp
    min_isi, t_on, mode, fixed = net.min_isi, net.t_on, net.mode, net.mode == FIXED
    first_change = changes[0] if changes.shape[0] > 0 else 0
    codes, utau, pars, shapes, n_last = (
        rules.codes,
        rules.utau,
        rules.pars,
        rules.shapes,
        rules.n_last,
    )
    S, hist, counts, rec_t, rec_i = stats.S, stats.hist, stats.counts, stats.rec_t, stats.rec_i
    co, on = stats.co, stats.on
    coact = co.shape[0] > 0
    se = stats.sample_every
    clock[N_REC] = 0
    if coact and t0 > 0:
        _coactivation_carry(t0, t1, t_on, nrn, ring, co, on)
    while True:
        te = min(clock[NEXT_EVENT], t1)
        tc = _first_crossing(nrn)
        if te <= tc:  # events at a step come before its spikes
            if te >= t1:
                break
            if se > 0:
                _state_events(te, t_on, nrn, ring, clock, hist, se)
            if _update_psps(te, nrn, ring, psp, prev, table, changes, n_last_psp, clock) > 0:
                if mode == CACHED:
                    m = clock[PSP_MASK]
                    if not cached[m]:
                        _fill_cache(m, nrn, psp, cache, cache_inv, cached, net)
                    _cached_hazards(te, m, nrn, inv, cache, cache_inv)
                else:
                    _propagate(
                        te,
                        nrn,
                        inv,
                        psp,
                        prev,
                        W,
                        b,
                        post_ptr,
                        post_idx,
                        pre_ptr,
                        pre_idx,
                        clamp,
                        fixed,
                        log_t_ref,
                    )
            _next_event(nrn, clock)
            continue
        for i in range(n):
            if nrn[CROSS, i] != tc:
                continue
            counts[i] += 1
            _record(i, tc, clock, rec_t, rec_i)
            if codes.shape[0] > 0:
                _pair_stdp(i, tc, n_last, codes, utau, pars, shapes, nrn, ring, S)
            if coact:
                _coactivate(i, tc, t1, t_on, nrn, ring, co, on)
            _reset(i, tc, min_isi, threshold_quanta(rng.standard_exponential()), nrn, inv, ring)
            _schedule(i, tc, first_change, se > 0, nrn, clock)
    if se > 0:
        _count_reads(t1, clock, hist, se)
        clock[Z_SINCE] = t1
    return clock[N_REC]


# --- building the records ---------------------------------------------------------------------


@dataclass
class PhaseStats:
    """Statistics of one simulated phase.

    Attributes
    ----------
    counts : numpy.ndarray
        Spikes per neuron, shape (N,).
    stdp : numpy.ndarray
        Pair-STDP sums, one (N, N) matrix ``S[post, pre]`` per window, shape
        (n_windows, N, N).
    states : numpy.ndarray or None
        Counts of the sampled binary states, shape (2^N,) (None if not sampled).
    spikes : numpy.ndarray or None
        Spike record (None unless recorded).
    co : numpy.ndarray or None
        Steps of the phase at which ``z_i = z_j = 1``, int64 (N, N), diagonal 0 (None unless
        ``coactivation=True``); ``co / n_steps`` is the coactivation ``<z_i z_j>``.
    on : numpy.ndarray or None
        Steps at which ``z_i = 1``, int64 (N,) (None unless ``coactivation=True``).
    """

    counts: np.ndarray
    stdp: np.ndarray
    states: np.ndarray | None
    spikes: np.ndarray | None
    co: np.ndarray | None = None
    on: np.ndarray | None = None


def prepare(params: SimParams):
    """Kernel-ready PSP table, change ages and the 'binary PSP' flag."""
    table = params.psp_table()
    changes = change_ages(table)
    binary = bool(np.all((table == 0.0) | (table == 1.0))) and (
        params.n_last_psp == 1 or params.min_isi >= len(table) - 1
    )
    return table, changes, binary


def _adjacency(mask: np.ndarray):
    """CSR-style (ptr, idx) of the non-zero entries of each row of ``mask``, ascending."""
    rows, cols = np.nonzero(mask)
    ptr = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=ptr[1:])
    return ptr, cols.astype(np.int64)


def make_network(W, b, params: SimParams, clamp=None, *, dense: bool = False) -> Network:
    """The :class:`Network` record of ``(W, b)`` (float64, C-contiguous; W[post, pre]; the
    record holds these arrays, not copies). ``dense``: every pair is a synapse, also where W is
    0 now (for training, where W changes between phases; in FIXED mode only the non-zero
    pattern of W at phase start is used, so keep dense there too)."""
    W = np.ascontiguousarray(W, dtype=float)
    b = np.ascontiguousarray(b, dtype=float)
    n = b.shape[0]
    table, changes, binary = prepare(params)
    pmode = params.potential_mode(n)
    if pmode == "fixed":
        check_fixed_range(W, b, params, table)
        mode = FIXED
    else:
        mode = CACHED if binary and n <= MAX_CACHED_NEURONS else ORDERED
    nz = np.ones(W.shape, dtype=bool) if dense else W != 0.0
    pre_ptr, pre_idx = _adjacency(nz)
    post_ptr, post_idx = _adjacency(nz.T)
    clamp = np.full(n, -1, dtype=np.int8) if clamp is None else np.asarray(clamp, np.int8)
    return Network(
        W=W,
        b=b,
        log_t_ref=float(params.log_t_ref),
        min_isi=int(params.min_isi),
        t_on=int(params.t_ref),
        table=table,
        changes=changes,
        n_last_psp=int(params.n_last_psp),
        clamp=clamp,
        mode=int(mode),
        post_ptr=post_ptr,
        post_idx=post_idx,
        pre_ptr=pre_ptr,
        pre_idx=pre_idx,
    )


def window_arrays(windows, n):
    """Kernel-ready windows: kind codes, a uniform time constant per window (0 if the time
    constants differ between sides or synapses) and the (n_win, 4, n, n) parameters."""
    codes = np.array([w.code for w in windows], dtype=np.int64)
    utau = np.zeros(len(windows))
    pars = np.zeros((len(windows), 4, n, n))
    for k, w in enumerate(windows):
        pars[k] = w.matrices(n)
        taus = pars[k, 2:]
        if np.all(taus == taus.flat[0]):
            utau[k] = taus.flat[0]
    return codes, utau, pars


def make_rules(windows, n: int, n_last: int = 1) -> Rules:
    """The :class:`Rules` record of STDP ``windows`` (pairs with ``n_last`` latest spikes)."""
    codes, utau, pars = window_arrays(windows, n)
    return Rules(
        codes=codes,
        utau=utau,
        pars=pars,
        n_last=int(n_last),
        shapes=shape_tables(codes, utau, MAX_SHAPE_TABLE),
    )


def make_stats(
    n: int,
    n_windows: int,
    n_steps: int,
    min_isi: int,
    *,
    sample_every: int = 0,
    record: bool = False,
    coactivation: bool = False,
) -> Stats:
    """Zeroed accumulators; the spike record holds the exact maximum number of spikes (each
    neuron spikes at most once per ``min_isi`` steps)."""
    cap = n * (int(n_steps) // int(min_isi) + 1) if record else 0
    nc = n if coactivation else 0
    return Stats(
        S=np.zeros((n_windows, n, n)),
        hist=np.zeros(2**n if sample_every > 0 else 0, dtype=np.int64),
        counts=np.zeros(n, dtype=np.int64),
        co=np.zeros((nc, nc), dtype=np.int64),
        on=np.zeros(nc, dtype=np.int64),
        sample_every=int(sample_every),
        rec_t=np.empty(cap, dtype=np.int64),
        rec_i=np.empty(cap, dtype=np.int64),
    )
