"""The main job: one network under synaptic noise, trained with and without SAL and with KP.

All three runs share the target, the initial (asymmetric) weights and the simulator seed; they
differ only in their feedback mechanism. They are the paper's (v3) figure-4 runs at the
highlighted noise level (``syn_noise_v3``, ``syn_noise_sal_v3``, ``syn_noise_kp_v3``: init_noise
0.8, seed id 0), 1.2e9 simulated steps each; the three finish in about a minute on two cores.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..io import atomic_write_json
from .config import load_config
from .plots import comparison_figure
from .run import run

DEMO_RUNS = {
    "none": ("syn_noise_v3", {}),
    "sal": ("syn_noise_sal_v3", {}),
    "kp": ("syn_noise_kp_v3", {}),
}
DEMO_OVERRIDES: dict = {}


def demo_configs():
    return {
        name: load_config(preset, overrides={**DEMO_OVERRIDES, **extra})
        for name, (preset, extra) in DEMO_RUNS.items()
    }


def _one(args):
    name, cfg, out, overwrite, show, position = args
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    return name, run(
        cfg,
        out,
        overwrite=overwrite,
        show_progress=show,
        label=f"demo {name:<4}",
        bar_position=position,
    )


#: what the demo writes into its directory (besides the temporary files of atomic writes)
DEMO_FILES = {"comparison.png", "comparison.pdf", "summary.json"}


def check_demo_dir(out_dir) -> Path:
    """Refuse a demo directory that is a file, lies under one, or holds files the demo does not
    write (one run directory per feedback mechanism and :data:`DEMO_FILES`); writes nothing."""
    from ..rundir import OutDirError, check_out

    out_dir = check_out(out_dir)
    if out_dir.is_dir():
        own = DEMO_FILES | set(DEMO_RUNS)
        other = sorted(
            e.name for e in out_dir.iterdir() if e.name not in own and not e.name.startswith(".")
        )
        if other:
            raise OutDirError(
                f"{out_dir} holds files the demo did not create "
                f"({', '.join(other[:5])}{', ...' if len(other) > 5 else ''}); "
                "choose a new or empty directory for --out"
            )
    return out_dir


def run_demo(
    out_dir, *, overwrite: bool = False, workers: int | None = None, show_progress: bool = True
) -> dict:
    out_dir = check_demo_dir(out_dir)
    cfgs = demo_configs()
    workers = workers or min(len(cfgs), os.cpu_count() or 1)
    jobs = [
        (name, cfgs[name], out_dir / name, overwrite, show_progress, k)
        for k, name in enumerate(cfgs)
    ]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            metrics = dict(pool.map(_one, jobs))
    else:
        metrics = dict(map(_one, jobs))
    results = {}
    for name in cfgs:
        with np.load(out_dir / name / "results.npz") as f:
            results[name] = {k: f[k] for k in f.files}
    paths = comparison_figure(
        results,
        out_dir / "comparison",
        title="Synaptic noise (init_noise 0.8): same network, three feedback mechanisms",
    )
    table = {
        name: {k: metrics[name][k] for k in ("final_dkl", "final_asym", "runtime_s")}
        for name in cfgs
    }
    atomic_write_json(out_dir / "summary.json", table)
    return {"metrics": table, "figures": [str(p) for p in paths]}
