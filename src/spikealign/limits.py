"""Limits of the sampling-network simulators (:mod:`spikealign.sim`).

They live in a module without compiled code so that the configs (:mod:`spikealign.ssn.config`,
:mod:`spikealign.bm.config`) can check them without importing numba. Each limit says why it is
where it is.
"""

from __future__ import annotations

import math

#: Steps of one phase, and of a :class:`spikealign.sim.Chain` with all its parts together, stay
#: below this. The event-driven engine (:mod:`spikealign.sim.fast`) treats a threshold crossing
#: more than ``FAR = 2**50`` steps ahead as never reached, which is exact only while every
#: phase ends within ``2**50`` steps of any step it has reached; ``2**49`` keeps a factor 2 of
#: margin, and every int64 time it computes (a step plus a refractory period, a PSP change age
#: or a state read interval, each also at most ``2**49``) stays far below ``2**62`` (its
#: ``NEVER``). At about 10 ns per neuron and step no phase comes near it.
MAX_PHASE_STEPS = 2**49

#: Most latest spikes of a neuron that contribute PSPs (``n_last_psp``, ``num_last_spikes``)
#: or STDP pairs (``n_last_stdp``). Each neuron keeps a ring of that many spike times (8 KiB
#: per neuron at the limit) and every PSP change or spike visits up to that many entries per
#: neuron, so an unbounded value is unbounded memory and time (``1e9``: 8 GB per neuron).
#: More PSPs of one neuron overlap only when a PSP outlasts 1024 refractory periods, and the
#: STDP windows in use decay within a few refractory periods: the limit takes nothing away.
MAX_LAST_SPIKES = 1024

#: Most integer ages of a sampled PSP kernel (``SimParams.psp_table``: ``tau_syn`` for
#: ``rect``, about ``21 tau_syn`` for ``exp``, ``t_ref + 1`` for ``cutoff``, ...). The table
#: (float64) and its change ages (int64) take 16 bytes per age, 256 MiB at the limit; a PSP of
#: 16.7 million steps is 10^5 times the longest one in use (and would make every phase an
#: event per step and spike).
MAX_PSP_TAPS = 2**24


def psp_problem(psp: str, t_ref: int, tau_syn: float) -> tuple[str, str] | None:
    """Why the PSP kernel ``psp`` with ``t_ref`` and ``tau_syn``, sampled as the simulators
    sample it (ages ``1 .. n_taps - 1``), cannot be simulated: more than :data:`MAX_PSP_TAPS`
    ages, or a value that is not finite (an amplitude such as ``t_ref / tau_syn**2`` that
    overflows for a tiny ``tau_syn``). Returns ``(field, message)`` naming the parameter that
    sets the length (``t_ref`` for ``cutoff``), or None."""
    from .psp import make_psp

    kernel = make_psp(psp, t_ref, tau_syn)
    try:
        taps = kernel.n_taps()
    except OverflowError:  # ceil(inf): tau_syn near the float range
        taps = math.inf
    if taps > MAX_PSP_TAPS:
        by_t_ref = psp == "cutoff" or (psp == "tail" and t_ref > tau_syn * 20)
        return "t_ref" if by_t_ref else "tau_syn", (
            f"the {psp} PSP would be sampled at {float(taps):.4g} ages; at most {MAX_PSP_TAPS} "
            f"(2**24) are simulated (got t_ref {t_ref}, tau_syn {tau_syn})"
        )
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            finite = bool(np.all(np.isfinite(kernel.table(taps, first_age=1))))
    except ArithmeticError:  # tau_syn**2 == 0.0 and the like
        finite = False
    if not finite:
        return "tau_syn", (
            f"the {psp} PSP is not finite at t_ref {t_ref}, tau_syn {tau_syn} (tau_syn too small)"
        )
    return None
