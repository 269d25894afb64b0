"""Spiking sampling networks (SSN): spike-based wake-sleep learning of Boltzmann
distributions, with SAL and Kolen-Pollack weight alignment (paper figures 4 and 5)."""

from .config import SSNConfig, load_config, presets
from .setup import Problem, make_problem
from .train import Trainer, TrainState, train

__all__ = [
    "SSNConfig",
    "load_config",
    "presets",
    "Problem",
    "make_problem",
    "Trainer",
    "TrainState",
    "train",
]
