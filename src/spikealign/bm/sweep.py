"""``spikealign bm sweep NAME --out DIR``: an alias of ``spikealign sweep run bm_NAME``.

The experiments of this family (:mod:`spikealign.bm.experiments`) are presets of the Dask
sweep engine (:mod:`spikealign.sweep`), so they share its rules: a run counts as done only
when its resolved config matches (a directory holding runs of another config is refused),
one lock per sweep directory and per run, ``sweep status``, the SLURM path, resuming, and the
figures drawn at the end.
"""

from __future__ import annotations

from ..config import ConfigError


def preset_name(name: str) -> str:
    """``digits`` / ``digits-long`` / ``bm_digits`` -> ``bm_digits`` / ``bm_digits_long``."""
    from .experiments import EXPERIMENTS

    key = name if name.startswith("bm_") else "bm_" + name.replace("-", "_")
    if key not in EXPERIMENTS:
        shown = ", ".join(e.removeprefix("bm_").replace("_", "-") for e in EXPERIMENTS)
        raise ConfigError(f"sweep: unknown bm experiment {name!r}; experiments: {shown}")
    return key
