"""Post-synaptic potential (PSP) kernels.

A kernel ``kappa(x)`` gives the PSP a presynaptic spike causes ``x`` steps after it (``x >= 0``;
``x`` is called the *age* of the spike). All shapes below are parameterised by the refractory
period ``t_ref`` and the synaptic time constant ``tau_syn`` (both in steps):

===========  ==============================================================  =================
name         kappa(x)                                                        support
===========  ==============================================================  =================
``rect``     1 for 0 <= x < tau_syn, else 0                                  [0, tau_syn)
``alpha``    (t_ref / tau_syn**2) x exp(-x / tau_syn)  for x > 0, else 0     (0, inf)
``exp``      a exp(-x / tau_syn), ``a`` below                                [0, inf)
``cutoff``   ``exp`` for x <= t_ref, else 0                                  [0, t_ref]
``tail``     1 for x <= t_ref, ``exp`` beyond                                [0, inf)
===========  ==============================================================  =================

with ``a = (t_ref / tau_syn) / (1 - exp(-t_ref / tau_syn))`` (``exp``, ``cutoff``, ``tail``).
The continuous integrals ``int_0^inf kappa(x) dx`` are: rect ``tau_syn``; alpha ``t_ref``;
exp ``a tau_syn = t_ref / (1 - exp(-t_ref / tau_syn))``; cutoff ``t_ref``; tail
``t_ref + a tau_syn exp(-t_ref / tau_syn)``. The rect and alpha shapes thus carry the same
total drive as a rectangle of length ``t_ref`` when ``tau_syn = t_ref`` (rect) or for any
``tau_syn`` (alpha, cutoff).

How a simulator samples the kernel is its own convention, documented there: the SSN and the
STDD chain evaluate ``kappa`` at ages ``x >= 1`` (a spike acts from the next step on, so the
rect PSP of the SSN lasts ``tau_syn - 1`` steps, as upstream), the microcircuits from ``x = 0``.
:meth:`PSPKernel.table` returns the sampled kernel for either convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PSP_NAMES = ("rect", "alpha", "exp", "cutoff", "tail")

#: relative tail mass at which infinite kernels are truncated for simulation
DEFAULT_TAIL_TOL = 1e-9


@dataclass(frozen=True)
class PSPKernel:
    """A PSP shape with its parameters. Call it on ages (steps, scalar or array)."""

    name: str
    t_ref: float
    tau_syn: float

    def __post_init__(self):
        if self.name not in PSP_NAMES:
            allowed = ", ".join(PSP_NAMES)
            raise ValueError(f"psp: unknown PSP shape {self.name!r}; allowed: {allowed}")
        if not self.t_ref > 0:
            raise ValueError(f"psp: t_ref must be > 0 (got {self.t_ref})")
        if not self.tau_syn > 0:
            raise ValueError(f"psp: tau_syn must be > 0 (got {self.tau_syn})")

    # -- the shapes -------------------------------------------------------------------------
    @property
    def _exp_amplitude(self) -> float:
        r = self.t_ref / self.tau_syn
        return r / (-math.expm1(-r))

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        t_ref, tau = self.t_ref, self.tau_syn
        nonneg = x >= 0
        if self.name == "rect":
            return np.where(nonneg & (x < tau), 1.0, 0.0)
        if self.name == "alpha":
            return np.where(x > 0, (t_ref / tau**2) * x * np.exp(-np.abs(x) / tau), 0.0)
        expo = self._exp_amplitude * np.exp(-np.abs(x) / tau)
        if self.name == "exp":
            return np.where(nonneg, expo, 0.0)
        if self.name == "cutoff":
            return np.where(nonneg & (x <= t_ref), expo, 0.0)
        # tail
        return np.where(nonneg, np.where(x <= t_ref, 1.0, expo), 0.0)

    # -- documented properties ----------------------------------------------------------------
    @property
    def support(self) -> tuple[float, float]:
        """Closed interval of ages outside which the kernel is zero (``inf`` if unbounded)."""
        if self.name == "rect":
            return 0.0, float(self.tau_syn)  # right end excluded, see module table
        if self.name == "cutoff":
            return 0.0, float(self.t_ref)
        return 0.0, math.inf

    @property
    def integral(self) -> float:
        """``int_0^inf kappa(x) dx`` in closed form (module docstring)."""
        t_ref, tau = self.t_ref, self.tau_syn
        if self.name == "rect":
            return float(tau)
        if self.name in ("alpha", "cutoff"):
            return float(t_ref)
        a = self._exp_amplitude
        if self.name == "exp":
            return a * tau
        return t_ref + a * tau * math.exp(-t_ref / tau)

    def n_taps(self, tol: float = DEFAULT_TAIL_TOL) -> int:
        """Number of integer ages ``0 .. n-1`` that carry all but ``tol`` of the kernel's mass.

        Finite kernels return their exact support; the exponential tails are cut where the
        remaining integral falls below ``tol`` times the total.
        """
        if self.name == "rect":
            return int(math.ceil(self.tau_syn))
        if self.name == "cutoff":
            return int(math.floor(self.t_ref)) + 1
        tau = self.tau_syn
        if self.name == "alpha":
            # tail of x exp(-x/tau): (x/tau + 1) exp(-x/tau) relative mass
            x = tau
            while (x / tau + 1.0) * math.exp(-x / tau) > tol:
                x *= 1.1
            return int(math.ceil(x)) + 1
        start = self.t_ref if self.name == "tail" else 0.0
        return int(math.ceil(start + tau * math.log(1.0 / tol))) + 1

    def table(self, n: int | None = None, *, first_age: int = 0) -> np.ndarray:
        """Kernel sampled at integer ages ``0 .. n-1``; ages below ``first_age`` are set to 0.

        ``first_age=1`` is the SSN / STDD convention (a spike acts from the next step on),
        ``first_age=0`` the microcircuit one.
        """
        if n is None:
            n = self.n_taps()
        vals = self(np.arange(n, dtype=float))
        vals[: max(0, first_age)] = 0.0
        return vals


def make_psp(name: str, t_ref: float, tau_syn: float | None = None) -> PSPKernel:
    """Build a :class:`PSPKernel`; ``tau_syn`` defaults to ``t_ref``."""
    return PSPKernel(name=name, t_ref=t_ref, tau_syn=t_ref if tau_syn is None else tau_syn)


def rect(t_ref: float, tau_syn: float | None = None) -> PSPKernel:
    """Rectangular PSP of length ``tau_syn`` (module table)."""
    return make_psp("rect", t_ref, tau_syn)


def alpha(t_ref: float, tau_syn: float | None = None) -> PSPKernel:
    """Alpha PSP normalised to the integral ``t_ref`` (module table)."""
    return make_psp("alpha", t_ref, tau_syn)
