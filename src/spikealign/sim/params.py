"""Parameters of a network of stochastic sampling neurons (shared by every simulator)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..limits import MAX_PHASE_STEPS, psp_problem
from ..neuron import min_isi_ssn
from ..psp import PSP_NAMES, make_psp
from . import checks

POTENTIAL_MODES = ("auto", "ordered", "fixed")
#: fixed-point potentials carry this many fractional bits (resolution 1.5e-11)
POTENTIAL_BITS = 36
POTENTIAL_SCALE = float(2**POTENTIAL_BITS)
#: ``potentials="auto"`` keeps the ordered float sums up to this many neurons
MAX_ORDERED_NEURONS = 12
#: fixed-point potentials must stay below this bound (so sums never overflow int64)
MAX_FIXED_POTENTIAL = 2.0**25


def quantise(x):
    """Fixed-point potential term ``rint(x 2**POTENTIAL_BITS)`` as int64 (elementwise)."""
    return np.rint(np.asarray(x, dtype=float) * POTENTIAL_SCALE).astype(np.int64)


@dataclass(frozen=True)
class SimParams:
    """Neuron and synapse parameters of a sampling network (all times in steps).

    Parameters
    ----------
    t_ref : int
        Refractory period (steps); neurons are "on" for ``t_ref`` steps after a spike and the
        spike probability is ``1 / (1 + t_ref exp(-u))``.
    tau_syn : float
        Synaptic time constant of the PSP kernel (steps; rect: its length).
    psp : str
        PSP shape, one of ``spikealign.psp.PSP_NAMES``.
    min_isi : int, optional
        Minimum inter-spike interval (steps); default ``t_ref + 1`` (the SSN convention).
    n_last_psp : int
        How many of a neuron's most recent spikes contribute PSPs.
    potentials : str
        Arithmetic of the membrane potentials (both engines follow it exactly).
        ``"ordered"``: ``u_i = b_i + sum_j W_ij psp_j`` in floating point, summed over ``j``
        in increasing order (the historical engine; every PSP change recomputes the sums of
        the neurons it reaches). ``"fixed"``: every term is rounded to a multiple of
        ``2**-POTENTIAL_BITS`` and summed exactly in integers,
        ``u_i = 2**-P (q(b_i) + sum_j q(W_ij psp_j))``, ``q(x) = rint(x 2**P)``, so a PSP
        change updates the potentials incrementally in O(fan-out). ``"auto"`` (default):
        ``ordered`` up to ``MAX_ORDERED_NEURONS`` neurons, ``fixed`` above. The two differ by
        at most ``N 2**-(P+1)`` in ``u``.

    Notes
    -----
    A spike at step ``s`` acts on the other neurons from step ``s + 1`` on: the membrane
    potential is ``u_i(t) = b_i + sum_j W_ij sum_s kappa(t - s)`` over the ``n_last_psp`` latest
    spikes ``s < t`` of each neuron ``j`` (the diagonal ``W_ii`` included).
    """

    t_ref: int
    tau_syn: float
    psp: str = "rect"
    # None (the default) becomes t_ref + 1 in __post_init__: an int once constructed
    min_isi: int = None  # type: ignore[assignment]
    n_last_psp: int = 10
    potentials: str = "auto"

    def __post_init__(self):
        """Every field checked (TypeError / ValueError naming it; :mod:`.checks`): integers
        where the engines need integers, finite numbers, the engines' bounds
        (:mod:`spikealign.limits`: refractoriness at most ``2**49`` steps, at most
        ``MAX_LAST_SPIKES`` PSPs per neuron, a sampled PSP of at most ``MAX_PSP_TAPS`` finite
        values). numpy scalars are stored as Python numbers."""
        if not isinstance(self.potentials, str) or self.potentials not in POTENTIAL_MODES:
            raise ValueError(
                f"potentials must be one of {', '.join(POTENTIAL_MODES)} (got {self.potentials!r})"
            )
        t_ref = checks.integer("t_ref", self.t_ref, 1, MAX_PHASE_STEPS, high_text="2**49")
        object.__setattr__(self, "t_ref", t_ref)
        tau_syn = checks.real("tau_syn", self.tau_syn)
        if not tau_syn > 0:
            raise ValueError(f"tau_syn must be > 0 (got {tau_syn})")
        object.__setattr__(self, "tau_syn", tau_syn)
        if not isinstance(self.psp, str) or self.psp not in PSP_NAMES:
            raise ValueError(f"psp: unknown shape {self.psp!r}; allowed: {', '.join(PSP_NAMES)}")
        if self.min_isi is None:
            object.__setattr__(self, "min_isi", min_isi_ssn(t_ref))
        # up to t_ref + 1 at the largest t_ref (the default); the int64 step arithmetic of
        # sim.fast stays far from overflow (limits.MAX_PHASE_STEPS)
        object.__setattr__(
            self,
            "min_isi",
            checks.integer("min_isi", self.min_isi, 1, MAX_PHASE_STEPS + 1, high_text="2**49 + 1"),
        )
        object.__setattr__(self, "n_last_psp", checks.last_spikes("n_last_psp", self.n_last_psp))
        problem = psp_problem(self.psp, t_ref, tau_syn)
        if problem is not None:
            raise ValueError(f"{problem[0]}: {problem[1]}")

    def potential_mode(self, n: int) -> str:
        """``"ordered"`` or ``"fixed"`` for a network of ``n`` neurons (``potentials``)."""
        if self.potentials != "auto":
            return self.potentials
        return "ordered" if n <= MAX_ORDERED_NEURONS else "fixed"

    @property
    def kernel(self):
        return make_psp(self.psp, self.t_ref, self.tau_syn)

    @property
    def log_t_ref(self) -> float:
        return math.log(self.t_ref)

    def psp_table(self) -> np.ndarray:
        """PSP at ages ``0 .. K-1``, age 0 set to 0 (a spike acts from the next step on)."""
        return self.kernel.table(first_age=1)


def change_ages(table: np.ndarray) -> np.ndarray:
    """Ages ``a >= 1`` at which a single spike's PSP value changes (``table[K] := 0``)."""
    ext = np.concatenate([table, [0.0]])
    return (np.nonzero(ext[1:] != ext[:-1])[0] + 1).astype(np.int64)


def check_fixed_range(W, b, params: SimParams, table: np.ndarray | None = None):
    """Refuse a network whose fixed-point potentials could leave ``+-MAX_FIXED_POTENTIAL``
    (``|b_i| + sum_j |W_ij| n_last_psp max|kappa|``), before any simulation."""
    table = params.psp_table() if table is None else table
    peak = params.n_last_psp * float(np.max(np.abs(table), initial=0.0))
    bound = float(np.max(np.abs(b) + np.abs(W).sum(axis=1) * peak, initial=0.0))
    if not bound < MAX_FIXED_POTENTIAL:
        raise ValueError(
            f"potentials='fixed' needs |u| < {MAX_FIXED_POTENTIAL:g}; this network "
            f"can reach {bound:.4g} (use potentials='ordered')"
        )
