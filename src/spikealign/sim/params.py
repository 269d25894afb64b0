"""Parameters of a network of stochastic sampling neurons (shared by every simulator)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..neuron import min_isi_ssn
from ..psp import PSP_NAMES, make_psp


@dataclass(frozen=True)
class SimParams:
    """Neuron and synapse parameters of a sampling network (all times in steps).

    t_ref:       refractory period; neurons are "on" for ``t_ref`` steps after a spike and the
                 spike probability is ``1 / (1 + t_ref exp(-u))``.
    tau_syn:     synaptic time constant of the PSP kernel (rect: its length).
    psp:         PSP shape, one of ``spikealign.psp.PSP_NAMES``.
    min_isi:     minimum inter-spike interval; default ``t_ref + 1`` (the SSN convention).
    n_last_psp:  how many of a neuron's most recent spikes contribute PSPs.

    A spike at step ``s`` acts on the other neurons from step ``s + 1`` on: the membrane
    potential is ``u_i(t) = b_i + sum_j W_ij sum_s kappa(t - s)`` over the ``n_last_psp`` latest
    spikes ``s < t`` of each neuron ``j`` (the diagonal ``W_ii`` included).
    """

    t_ref: int
    tau_syn: float
    psp: str = "rect"
    min_isi: int | None = None
    n_last_psp: int = 10

    def __post_init__(self):
        if int(self.t_ref) != self.t_ref or self.t_ref < 1:
            raise ValueError(f"t_ref must be an integer >= 1 (got {self.t_ref})")
        if not self.tau_syn > 0:
            raise ValueError(f"tau_syn must be > 0 (got {self.tau_syn})")
        if self.psp not in PSP_NAMES:
            raise ValueError(f"psp: unknown shape {self.psp!r}; allowed: {', '.join(PSP_NAMES)}")
        if self.min_isi is None:
            object.__setattr__(self, "min_isi", min_isi_ssn(self.t_ref))
        if self.min_isi < 1:
            raise ValueError(f"min_isi must be >= 1 (got {self.min_isi})")
        if self.n_last_psp < 1:
            raise ValueError(f"n_last_psp must be >= 1 (got {self.n_last_psp})")

    @property
    def kernel(self):
        return make_psp(self.psp, self.t_ref, self.tau_syn)

    @property
    def log_t_ref(self) -> float:
        return math.log(self.t_ref)

    def psp_table(self) -> np.ndarray:
        """PSP sampled at ages ``0 .. K-1``, age 0 set to 0 (a spike acts from the next step)."""
        return self.kernel.table(first_age=1)


def change_ages(table: np.ndarray) -> np.ndarray:
    """Ages ``a >= 1`` at which a single spike's PSP value changes (``table[K] := 0``)."""
    ext = np.concatenate([table, [0.0]])
    return (np.nonzero(ext[1:] != ext[:-1])[0] + 1).astype(np.int64)
