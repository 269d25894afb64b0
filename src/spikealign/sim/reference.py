"""Reference simulator of a sampling network: a plain step-by-step loop.

Slow (microseconds per step) and meant to be read. Every step ``t``:

1. PSP of each neuron ``j``: ``psp_j = sum kappa(t - s)`` over its ``n_last_psp`` latest spikes
   ``s < t`` (``kappa`` sampled with age 0 set to 0).
2. Potential ``u_i = b_i + sum_j W_ij psp_j``, summed over ``j = 0 .. N-1`` in order
   (``potentials="ordered"``), or exactly in fixed point, ``u_i = 2**-P (q(b_i) +
   sum_j q(W_ij psp_j))`` (``"fixed"``; :class:`~spikealign.sim.params.SimParams`).
3. Each neuron that may spike (``t >= last spike + min_isi``) adds its quantised hazard
   ``h(u_i)`` to an accumulator and spikes when the accumulator exceeds its threshold
   (``spikealign.neuron``: this is spiking with probability ``1 / (1 + t_ref exp(-u))``).
4. A spiking neuron resets its accumulator and draws a new threshold ``E ~ Exp(1)`` from
   ``rng`` (neurons in id order; thresholds for all neurons are drawn once at the start).

The compiled simulator (:mod:`spikealign.sim.fast`) performs the same arithmetic and draws, so
both emit identical spike trains for the same ``rng`` state.
"""

from __future__ import annotations

import numpy as np

from ..neuron import HAZARD_QUANTA_MAX, hazard_quanta_py, threshold_quanta_py
from ..spikes import as_record
from .params import POTENTIAL_SCALE, SimParams, check_fixed_range, quantise


def simulate_reference(W, b, n_steps: int, params: SimParams, rng: np.random.Generator, clamp=None):
    """Simulate ``n_steps`` steps from rest; returns the spike record ``(time, neuron)``.

    ``clamp[i]``: -1 (or ``clamp=None``) free; 0 forced silent (hazard 0: never spikes);
    1 forced on (hazard ``HAZARD_QUANTA_MAX``: spikes at every step it is not refractory).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = len(b)
    table = params.psp_table()
    n_taps = len(table)
    log_t_ref = params.log_t_ref
    fixed = params.potential_mode(n) == "fixed"
    if fixed:
        check_fixed_range(W, b, params, table)

    history: list[list[int]] = [[] for _ in range(n)]
    free_at = np.zeros(n, dtype=np.int64)
    acc = [0] * n
    thr = [threshold_quanta_py(rng.standard_exponential()) for _ in range(n)]
    times, ids = [], []
    for t in range(n_steps):
        psp = np.zeros(n)
        for j in range(n):
            for s in history[j][-params.n_last_psp :]:
                if t - s < n_taps:
                    psp[j] += table[t - s]
        if fixed:
            uq = quantise(b)
            for j in range(n):
                uq += quantise(W[:, j] * psp[j])
            u = uq.astype(float) * (1.0 / POTENTIAL_SCALE)
        else:
            u = b.copy()
            for j in range(n):
                u += W[:, j] * psp[j]
        for i in range(n):
            if t < free_at[i]:
                continue
            if clamp is not None and clamp[i] >= 0:
                acc[i] += HAZARD_QUANTA_MAX if clamp[i] == 1 else 0
            else:
                acc[i] += hazard_quanta_py(u[i], log_t_ref)
            if acc[i] > thr[i]:
                times.append(t)
                ids.append(i)
                history[i].append(t)
                free_at[i] = t + params.min_isi
                acc[i] = 0
                thr[i] = threshold_quanta_py(rng.standard_exponential())
    return as_record(times, ids)
