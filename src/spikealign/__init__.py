"""spikealign: spike-based alignment learning (SAL) and the weight-transport problem.

Shared core: :mod:`spikealign.neuron`, :mod:`spikealign.psp`, :mod:`spikealign.stdp`,
:mod:`spikealign.spikes`, :mod:`spikealign.boltzmann`, :mod:`spikealign.sim`.
Model families: :mod:`spikealign.ssn` (spiking sampling networks) and the others listed in
the README.
"""

__version__ = "0.2.0"
