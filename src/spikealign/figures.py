"""Registry behind ``spikealign figure ID``: one command per paper figure.

Each entry maps a figure id to ``(module, function, needs_source)``. The function is called as
``fn(source=Path | None, out=Path, quick=bool) -> list[Path]`` and returns the files it wrote
(PNG, PDF and the npz of what was plotted). ``needs_source`` figures draw from a directory of
runs (``spikealign figure 4 RUNS_DIR``); the others compute what they plot.
"""

from __future__ import annotations

import importlib
from pathlib import Path

FIGURES: dict[str, tuple[str, str, bool, str]] = {
    # id: (module, function, needs_source, description)
    "2": (
        "spikealign.principle.figures",
        "figure_2",
        False,
        "SAL principle: STDDs (c), two-neuron SAL (d), phase plane (e)",
    ),
    "4": (
        "spikealign.sweep.figures",
        "figure4",
        True,
        "SSN under synaptic noise: asymmetry and DKL without alignment, with SAL and KP "
        "(from `spikealign sweep run fig4_v3`, paper v3 layout, or `fig4`, v2 layout)",
    ),
    "5": (
        "spikealign.sweep.figures",
        "figure5",
        True,
        "SSN under plasticity noise: asymmetry and DKL without alignment, with SAL and KP "
        "(from `spikealign sweep run fig5_v3`, paper v3 layout, or `fig5`, v2 layout)",
    ),
    "kp-lr": (
        "spikealign.sweep.kp_lr",
        "figure_kp_lr",
        True,
        "paper v3: final asymmetry and DKL against the Kolen-Pollack decay rate, with "
        "SAL as reference (from `spikealign sweep run kp_lr_v3 [fig4_v3 fig5_v3]`)",
    ),
    "6": (
        "spikealign.sweep.figures",
        "figure6",
        True,
        "Microcircuits: validation loss and weights of SAL, BP and FA over seeds (a sweep "
        "directory of `spikealign sweep run fig6`, or any directory of microcircuit runs)",
    ),
    "7": (
        "spikealign.deep.figures",
        "fig7",
        False,
        "W vs B after SAL, RDD and STDWI on one 50x50 layer pair; angle over time",
    ),
    "8": (
        "spikealign.deep.figures",
        "fig8",
        True,
        "deep benchmark: test accuracy per algorithm and data set, FC angles over epochs",
    ),
    "9": (
        "spikealign.deep.figures",
        "fig9",
        False,
        "SALNet angle vs simulated time for several SAL learning rates",
    ),
    "10": (
        "spikealign.principle.figures",
        "figure_10",
        False,
        "Dale's law: SAL over effective weights of a 2E + 2I system",
    ),
    "11": (
        "spikealign.principle.figures",
        "figure_11",
        False,
        "PSP shapes: STDDs, attractor lines and their deviation from the diagonal",
    ),
    "12": (
        "spikealign.principle.figures",
        "figure_12",
        False,
        "Proof illustration: delta(t) and Delta(t)",
    ),
    "bm": (
        "spikealign.bm.figures",
        "figure_bm",
        True,
        "spiking Boltzmann machine: score and asymmetry without alignment, with SAL and KP "
        "under synaptic and plasticity noise, 95 % CIs, baselines (from `spikealign sweep run "
        "bm_digits|bm_bars|...`)",
    ),
    "bm-samples": (
        "spikealign.bm.figures",
        "figure_samples",
        True,
        "spiking Boltzmann machine: freely sampled digit images, noise-free, under synaptic "
        "noise, and under synaptic noise with SAL (from `spikealign sweep run bm_digits`)",
    ),
}


def available() -> list[str]:
    return sorted(FIGURES, key=lambda k: (len(k), k))


def make_figure(fig_id: str, source: Path | None, out: Path, quick: bool) -> list[Path]:
    if fig_id not in FIGURES:
        allowed = ", ".join(available()) or "none yet"
        raise ValueError(f"figure: unknown figure {fig_id!r}; available: {allowed}")
    module, func, needs_source, _ = FIGURES[fig_id]
    if needs_source and source is None:
        raise ValueError(f"figure {fig_id}: give the directory of runs to draw from")
    if needs_source and Path(source).exists() and not Path(source).is_dir():
        # a file is never a sweep: say so, rather than "no runs; run sweep run --out FILE"
        raise ValueError(
            f"figure {fig_id}: {source} is a file, not a directory of runs to draw from"
        )
    from .rundir import check_out

    out = check_out(out)  # a file, or a path under one: one line before any work
    fn = getattr(importlib.import_module(module), func)
    return fn(source=source, out=out, quick=quick)
