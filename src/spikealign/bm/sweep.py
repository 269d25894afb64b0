"""``spikealign bm sweep NAME --out DIR``: the experiment grid, resumably.

Each sweep is the product (seed) x (noise condition) x (feedback) on one preset (the
noise-free condition only without alignment); every run has
its own run directory ``DIR/<condition>-<feedback>-s<seed>`` (:mod:`spikealign.bm.run`), so a
finished run is kept, an interrupted one resumes from its checkpoint and a second call only
does what is missing. Seed ``k`` sets ``seed.init = k`` (initial weights, plasticity noise)
and ``seed.sim = 100 + k`` (spikes, minibatch order); the data split is fixed.

This is a small runner of its own rather than a part of the ``spikealign sweep`` (Dask)
engine, whose run kinds and presets are the paper's SSN and microcircuit grids.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from .. import rundir
from ..config import ConfigError
from ..io import read_json
from ..progress import progress


@dataclass(frozen=True)
class Sweep:
    preset: str
    conditions: dict  # name -> overrides (nested dict)
    feedbacks: dict  # name -> overrides
    seeds: int
    description: str
    base: dict | None = None  # overrides of every run of the sweep


    def runs(self, seeds: int | None = None) -> list[tuple[str, dict]]:
        """``(run name, overrides)``, seed by seed (all conditions of seed 0 first); the
        noise-free condition ``clean`` only without alignment (the reference)."""
        out = []
        for k, (c, co), (f, fo) in product(range(seeds or self.seeds),
                                           self.conditions.items(), self.feedbacks.items()):
            if c == "clean" and f != "none":
                continue
            ov = {"seed": {"init": k, "sim": 100 + k}}
            for part in (self.base or {}, co, fo):
                for key, val in part.items():
                    ov[key] = {**ov.get(key, {}), **val} if isinstance(val, dict) else val
            out.append((f"{c}-{f}-s{k}", ov))
        return out


#: alignment mechanisms compared by the experiment (rates tuned for the presets' lengths)
FEEDBACKS = {"none": {}, "sal": {"lr": {"symm": 0.2}}, "kp": {"lr": {"kp": 0.002}}}
SWEEPS = {
    "digits": Sweep(
        "digits-quick",
        {"clean": {}, "synaptic": {"init": {"synaptic_noise": 0.5}},
         "plasticity": {"stdp": {"noise": 0.5}}},
        FEEDBACKS, 3,
        "digits-quick: clean / synaptic noise 0.5 / plasticity noise 0.5 x none/SAL/KP"),
    # the same grid with 4x longer sleep phases: SAL's pair sums are then precise enough to
    # shrink the asymmetry of the digit RBM (docs/bm.md)
    "digits-long": Sweep(
        "digits-quick",
        {"clean": {}, "synaptic": {"init": {"synaptic_noise": 0.5}},
         "plasticity": {"stdp": {"noise": 0.5}}},
        FEEDBACKS, 3,
        "digits-quick with sleep phases of 2000 steps: clean / synaptic 0.5 / plasticity 0.5 "
        "x none/SAL/KP", base={"sleep_steps": 2000}),
    "bars": Sweep(
        "bars",
        {"clean": {}, "synaptic": {"init": {"synaptic_noise": 0.5}},
         "plasticity": {"stdp": {"noise": 0.5}}},
        {"none": {}, "sal": {"lr": {"symm": 0.2}}, "kp": {"lr": {"kp": 0.0005}}}, 3,
        "bars (3x3, 8 hidden, exact D_KL): clean / synaptic 0.5 / plasticity 0.5 x none/SAL/KP"),
}


def _one(args) -> str:
    name, preset, overrides, run_dir = args
    from .config import load_config
    from .run import LAYOUT, run

    cfg = load_config(preset, overrides)
    if rundir.inspect(run_dir, LAYOUT).state != "done":
        run(cfg, run_dir, show_progress=False, label=name)
    m = read_json(Path(run_dir) / "metrics.json") or {}
    acc, dkl = m.get("test_accuracy"), m.get("dkl_sampled")
    score = f"acc {acc:.3f}" if acc is not None else f"dkl {dkl:.4g}" if dkl is not None else ""
    return f"{name:<24} {score:<14} asym {m.get('asymmetry', float('nan')):.4g}"


def run_sweep(name: str, out, *, workers: int = 1, seeds: int | None = None,
              show_progress: bool = True) -> list[str]:
    if name not in SWEEPS:
        raise ConfigError(f"sweep: unknown sweep {name!r}; allowed: {', '.join(SWEEPS)}")
    sw = SWEEPS[name]
    out = rundir.check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(rn, sw.preset, ov, out / rn) for rn, ov in sw.runs(seeds)]
    from .config import load_config

    for _, preset, ov, _ in jobs:  # every config valid before any run
        load_config(preset, ov)
    rows = []
    with progress(total=len(jobs), desc=f"bm sweep {name}", unit="run",
                  disable=None if show_progress else True) as bar:
        if workers == 1:
            for j in jobs:
                rows.append(_one(j))
                bar.update(1)
        else:
            with ProcessPoolExecutor(workers) as ex:
                for row in ex.map(_one, jobs):
                    rows.append(row)
                    bar.update(1)
    return rows
