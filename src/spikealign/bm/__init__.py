"""Spiking Boltzmann machines with visible, label and hidden units, trained on data by
wake-sleep STDP, with SAL and Kolen-Pollack alignment of the two synapse directions.

API: :class:`BoltzmannMachine` (build, clamp, sample), :func:`load_config`, :func:`train`
(no files), :func:`spikealign.bm.run.run` (a run directory). See ``docs/bm.md``.
"""

from .config import BMConfig, load_config, presets
from .model import BoltzmannMachine, make_mask, pair_asymmetry
from .train import Trainer, train

__all__ = [
    "BMConfig",
    "BoltzmannMachine",
    "Trainer",
    "load_config",
    "make_mask",
    "pair_asymmetry",
    "presets",
    "train",
]
