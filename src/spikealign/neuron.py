"""The stochastic "neural sampling" neuron (Buesing et al. 2011), in discrete time.

A neuron with membrane potential ``u`` that is not refractory spikes in the current step with
probability

    r(u) = 1 / (1 + t_ref * exp(-u)) = logistic(u - ln t_ref).                       (1)

After a spike it stays silent for a model-dependent number of steps. We describe that by the
*minimum inter-spike interval* ``min_isi``: a neuron that spiked at step ``s`` may spike again
at ``s + min_isi`` at the earliest.

* Spiking sampling networks (SSN), SALNet: ``min_isi = t_ref + 1`` (:func:`min_isi_ssn`).
* Cortical microcircuits and the upstream STDD Markov chain: ``min_isi = t_ref``.

Time-rescaling form used by the simulators
------------------------------------------
Drawing one uniform number per neuron and step costs more than the rest of a small network's
step. The simulators therefore use the equivalent time-rescaling construction: each neuron
draws a threshold ``E ~ Exp(1)`` after each spike (and once at the start), accumulates the
per-step *hazard*

    h(u) = -ln(1 - r(u)) = ln(1 + exp(u) / t_ref) = softplus(u - ln t_ref)              (2)

over the steps in which it may spike, and spikes in the first step at which the accumulated
hazard exceeds ``E``. Then P(spike in step t | no spike since the last threshold draw) =
1 - exp(-h(u_t)) = r(u_t), exactly (1). The hazard is accumulated in fixed point, in units of
``2**-HAZARD_BITS`` (:func:`hazard_quanta`), so that a step-by-step loop and an event-driven
loop that adds ``k * h`` at once produce the same integers and hence the same spike trains.
The quantisation changes the hazard by less than 2**-48 per step: far below any statistical
resolution, and documented in ``docs/deviations.md``.

Per-step uniform form (cortical microcircuits)
----------------------------------------------
The microcircuit model keeps the paper's scheme instead: every neuron draws one uniform number
``x`` per step and spikes if ``x < r(u)`` and it is not refractory. Its potentials change every
step (moving averages, nudging), so nothing is gained by time rescaling, and keeping the scheme
keeps the paper's random stream. :func:`spike_probability_py` / :func:`spike_probability_jit`
evaluate (1) for this scheme, bit-identically in Python and compiled code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: hazard is stored as an integer number of 2**-HAZARD_BITS units
HAZARD_BITS = 48
HAZARD_SCALE = float(2**HAZARD_BITS)
#: ceiling of one step's quantised hazard; keeps ``acc + h`` far from int64 overflow
HAZARD_QUANTA_MAX = 2**61


def spike_probability(u, t_ref):
    """Per-step spike probability ``1 / (1 + t_ref exp(-u))`` (eq. 1), elementwise, accurate to
    rounding in relative terms also for tiny probabilities (:func:`logistic`)."""
    return logistic(np.asarray(u, dtype=float) - math.log(t_ref))


def silence_probability(u, t_ref):
    """``1 - spike_probability(u, t_ref)``, computed without cancellation when it is tiny."""
    return logistic(math.log(t_ref) - np.asarray(u, dtype=float))


def spike_logit_offset(t_ref) -> float:
    """``ln t_ref``: eq. (1) is ``r(u) = logistic(u - spike_logit_offset(t_ref))``. Array
    libraries other than numpy (torch in SALNet) apply their own logistic to ``u - offset``."""
    return math.log(t_ref)


def logistic(x):
    """The plain logistic function ``1 / (1 + exp(-x))``, elementwise and overflow-safe, with
    full relative precision in both tails (``exp(x) / (1 + exp(x))`` for ``x < 0``)."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def hazard(u, t_ref):
    """Per-step hazard ``-ln(1 - r(u)) = softplus(u - ln t_ref)`` (eq. 2), elementwise."""
    x = np.asarray(u, dtype=float) - math.log(t_ref)
    return np.logaddexp(0.0, x)


def hazard_quanta_py(u: float, log_t_ref: float) -> int:
    """Quantised hazard of one neuron, ``floor(h(u) * 2**HAZARD_BITS)``, capped.

    Written with ``math`` only, so that it is bit-identical to its compiled twin
    :func:`hazard_quanta` (both call the C library's ``exp`` and ``log1p``).
    """
    x = u - log_t_ref
    if x > 0.0:
        h = x + math.log1p(math.exp(-x))
    else:
        h = math.log1p(math.exp(x))
    q = h * HAZARD_SCALE
    if q >= HAZARD_QUANTA_MAX:
        return HAZARD_QUANTA_MAX
    return int(q)


@njit(cache=True)
def hazard_quanta(u, log_t_ref):  # pragma: no cover - compiled twin of hazard_quanta_py
    x = u - log_t_ref
    if x > 0.0:
        h = x + math.log1p(math.exp(-x))
    else:
        h = math.log1p(math.exp(x))
    q = h * HAZARD_SCALE
    if q >= HAZARD_QUANTA_MAX:
        return np.int64(HAZARD_QUANTA_MAX)
    return np.int64(q)


def threshold_quanta_py(e: float) -> int:
    """Fixed-point spike threshold ``floor(E * 2**HAZARD_BITS)`` for ``E ~ Exp(1)``."""
    return int(e * HAZARD_SCALE)


@njit(cache=True)
def threshold_quanta(e):  # pragma: no cover - compiled twin of threshold_quanta_py
    return np.int64(e * HAZARD_SCALE)


#: above this exponent ``1 + exp(x)`` is treated as infinite (``math.exp`` would raise)
_EXP_MAX = 709.0


def spike_probability_py(u: float, log_t_ref: float) -> float:
    """Scalar spike probability (1) as ``1 / (1 + exp(ln t_ref - u))``, with ``math.exp``.

    This is the per-step form of the models that draw one uniform number per neuron and step
    (the cortical microcircuits): bit-identical to its compiled twin
    :func:`spike_probability_jit`, and equal to :func:`spike_probability` up to rounding.
    Returns exactly 0 where ``ln t_ref - u > 709`` (the true value is below 1e-307, far under
    the 2**-53 resolution of a uniform draw).
    """
    x = log_t_ref - u
    if x > _EXP_MAX:
        return 0.0
    return 1.0 / (1.0 + math.exp(x))


#: compiled twin of :func:`spike_probability_py` (same operations, same libm ``exp``)
spike_probability_jit = njit(cache=True)(spike_probability_py)


def min_isi_ssn(t_ref: int) -> int:
    """Minimum inter-spike interval of the SSN and SALNet neurons: ``t_ref + 1`` steps."""
    return int(t_ref) + 1


def min_isi_microcircuit(t_ref: int) -> int:
    """Minimum inter-spike interval of the microcircuit neurons: ``t_ref`` steps."""
    return int(t_ref)
