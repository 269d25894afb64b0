"""The SAL principle: analytic spike-timing statistics of two coupled sampling neurons.

Public API (conventions in :mod:`spikealign.principle.chain`: ``W_AB`` is the weight from B onto
A, ``dt = t_A - t_B``):

* :func:`stdd` -- analytic spike-timing-difference distribution ``(dt, p)``;
* :func:`sal_drift` -- ``(dW_AB, dW_BA)`` of an STDD under an STDP window;
* :func:`phase_plane` -- the drift on a ``(W_AB, W_BA)`` grid, shape ``(n, n, 2)``;
* :func:`attractor`, :func:`attractor_deviation`, :func:`upscale` -- its analysis.

Modules: ``chain`` (transition matrix, stationary distribution), ``stdd``, ``drift``,
``empirical`` (the pair on the core simulator), ``dale`` (E/I system), ``reference`` (plain
loop implementation for tests), ``figures``, ``cli``.
"""

from .drift import attractor, attractor_deviation, phase_plane, rotate_attractor, sal_drift, upscale
from .stdd import stdd

__all__ = [
    "stdd",
    "sal_drift",
    "phase_plane",
    "attractor",
    "attractor_deviation",
    "rotate_attractor",
    "upscale",
]
