"""What stays fixed while one pattern is presented, and the engine dispatch.

A pattern lasts ``n_steps`` steps. During its first ``lag`` steps (the learning lag) forward
plasticity is off and the output is not averaged. Both engines (``reference``: numpy, readable;
``fast``: numba) advance a :class:`~.network.Network` through one pattern with
:func:`run_pattern` and consume the random stream identically: one uniform number per neuron
and step, neurons in draw order (input; each hidden layer's pyramids, then its interneurons;
output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network
from .recording import Recorder, SpikeLog

ENGINES = ("fast", "reference")


@dataclass
class Drive:
    """Inputs and switches of one pattern.

    u_in:     input potentials (n_in,).
    u_tgt:    output targets (n_out,) or None.
    nudge:    nudge the output towards ``u_tgt`` (ignored without a target).
    plast_up: forward plasticity after the lag; each plastic step then also copies the
              feedback (``copy_bp``) and re-establishes the self-predicting state (``set_sps``).
    sal:      feedback plasticity (SAL) on every step of the pattern.
    """

    u_in: np.ndarray
    u_tgt: np.ndarray | None
    n_steps: int
    lag: int = 0
    nudge: bool = True
    plast_up: bool = False
    sal: bool = False
    copy_bp: bool = False
    set_sps: bool = True


@dataclass
class PatternOutcome:
    """``u_out``: mean output potential over the steps after the lag; ``counts``: spikes per
    neuron (global ids) during the pattern."""

    u_out: np.ndarray
    counts: np.ndarray


def run_pattern(
    net: Network,
    drive: Drive,
    rng: np.random.Generator,
    *,
    engine: str = "fast",
    recorder: Recorder | None = None,
    spikes: SpikeLog | None = None,
) -> PatternOutcome:
    """Advance ``net`` through one pattern with the chosen engine."""
    if engine == "fast":
        from .fast import run_pattern_fast as run
    elif engine == "reference":
        from .reference import run_pattern_reference as run
    else:
        raise ValueError(f"engine must be one of {ENGINES} (got {engine!r})")
    if not 0 <= drive.lag < drive.n_steps:
        raise ValueError(f"lag must lie in [0, n_steps) (got {drive.lag}, {drive.n_steps})")
    return run(net, drive, rng, recorder, spikes)
