"""Layered spiking cortical microcircuits learning a teacher (paper figure 6).

Pyramidal neurons with basal and apical compartments, interneurons that predict the layer
above (self-predicting state), and three ways to get the top-down feedback weights: learned by
SAL (``sal``), fixed random (``fa``) or copied from the forward weights (``bp``).

Modules: :mod:`.config` (the paper's YAML format, presets, validation), :mod:`.network`
(state and structure), :mod:`.reference` (numpy step) and :mod:`.fast` (numba kernel) with
:mod:`.drive` (one pattern), :mod:`.recording`, :mod:`.protocol` (teacher, student, epochs),
:mod:`.experiment` (run directory), :mod:`.plots`, :mod:`.cli`. See ``docs/microcircuits.md``.
"""

from .config import FEEDBACK_MODES, MicrocircuitConfig, load_config, preset_names, run_seeds
from .drive import Drive, run_pattern
from .experiment import run_experiment, simulate
from .network import Layout, NetParams, Network

__all__ = [
    "FEEDBACK_MODES",
    "Drive",
    "Layout",
    "MicrocircuitConfig",
    "NetParams",
    "Network",
    "load_config",
    "preset_names",
    "run_experiment",
    "run_pattern",
    "run_seeds",
    "simulate",
]
