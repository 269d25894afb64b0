"""Plain reference implementation of the analytic STDD (slow; read it, test against it).

Builds the transition matrix entry by entry in Python loops straight from the model
(:mod:`spikealign.principle.chain`), solves for the stationary distribution with a sparse LU and
computes each half histogram by explicit propagation, as the reference model describes
(section 1.4): condition on the first neuron having just spiked, propagate with the spike-free
matrix, read out the responder's spike probability each step. The fast code in
:mod:`spikealign.principle.stdd` must agree with it to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .chain import ChainSpec, stationary_sparse


def reference_transition_matrix(w_ab, w_ba, b_a, b_b, spec: ChainSpec) -> sp.csr_matrix:
    """Loop-built ``T[to, from]`` over states ``zeta_A * t_max + zeta_B``."""
    n = spec.t_max
    c = n - 1
    kappa = spec.kappa()
    first_free_age = spec.min_isi - 1
    entries: dict[tuple[int, int], float] = {}
    for za in range(n):
        for zb in range(n):
            za_next = min(za + 1, c)
            zb_next = min(zb + 1, c)
            if za >= first_free_age:
                u = b_a + w_ab * kappa[zb_next]
                pa = 1.0 / (1.0 + spec.t_ref * math.exp(-u))
            else:
                pa = 0.0
            if zb >= first_free_age:
                u = b_b + w_ba * kappa[za_next]
                pb = 1.0 / (1.0 + spec.t_ref * math.exp(-u))
            else:
                pb = 0.0
            frm = za * n + zb
            for to, prob in (
                (za_next * n + zb_next, (1 - pa) * (1 - pb)),  # nobody spikes
                (0 * n + zb_next, pa * (1 - pb)),  # A spikes
                (za_next * n + 0, (1 - pa) * pb),  # B spikes
                (0, pa * pb),  # both spike
            ):
                if prob != 0.0:
                    entries[(to, frm)] = entries.get((to, frm), 0.0) + prob
    rows = [k[0] for k in entries]
    cols = [k[1] for k in entries]
    return sp.csr_matrix((list(entries.values()), (rows, cols)), shape=(n * n, n * n))


def _half(T, p, n, first: str, ties: str):
    """Half histogram over lags 1 .. n-1 by propagation (first neuron spiked at lag 0)."""

    def idx(z_first, z_resp):
        return z_first * n + z_resp if first == "A" else z_resp * n + z_first

    start = np.zeros(n * n)
    for z in range(n):
        start[idx(0, z)] = p[idx(0, z)]
    start /= start.sum()
    T = T.tolil(copy=True)
    # spike-free propagator: zero every row whose target has a spike (age 0) ...
    no = T.copy()
    for z in range(1, n):
        no[idx(z, 0), :] = 0.0  # only the responder spikes
        no[idx(0, z), :] = 0.0  # only the first neuron spikes
    if ties == "exact":
        no[0, :] = 0.0  # ... including "both spike" (upstream keeps this row)
    no = no.tocsr()
    # read-out: probability that the responder spikes in the next step, from states whose first
    # neuron has age l - 1 (the responder's spike lands at lag l)
    Tc = T.tocsr()
    read = sp.lil_matrix((n, n * n))
    for lag in range(1, n):
        for z in range(n):
            frm = idx(lag - 1, z)
            read[lag, frm] = Tc[idx(lag, 0), frm] + Tc[0, frm]
    read = read.tocsr()
    h = read @ start
    dist = start
    for _ in range(n):
        dist = no @ dist
        h = h + read @ dist
    return h[1:]


def reference_stdd(
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
    """Same signature and result as :func:`spikealign.principle.stdd`, computed plainly."""
    from .stdd import assemble, resolve_ties

    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)
    ties = resolve_ties(spec.chain, ties)
    T = reference_transition_matrix(float(w_ab), float(w_ba), float(b_a), float(b_b), spec)
    p = stationary_sparse(T)
    right = _half(T, p, spec.t_max, "B", ties)  # B first, then A: dt > 0
    left = _half(T, p, spec.t_max, "A", ties)  # A first, then B: dt < 0
    return assemble(right, left, center)
