"""Stand-in runners for the sweep tests (importable by Dask workers: tests/ is on sys.path).

``run`` writes an SSN-like results file within milliseconds; it raises when the config asks
for it (``{"fail": true}``, or ``{"fail_if": PATH}`` while PATH exists), so failure handling
can be tested without a slow simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikealign.io import atomic_save_npz, atomic_write_json, write_status


def run(config: dict, run_dir, *, label: str = "stub") -> dict:
    if config.get("fail") or (config.get("fail_if") and Path(config["fail_if"]).exists()):
        raise RuntimeError(f"boom in {label}")
    n = int(config.get("n_val", 3))
    value = float(config.get("value", 1.0))
    atomic_save_npz(
        f"{run_dir}/results.npz",
        dkls=np.full(n, value),
        all_asym=np.full(n, value),
        val_cycles=np.arange(n) * 10,
    )
    metrics = {"final_dkl": value, "runtime_s": 0.0}
    atomic_write_json(f"{run_dir}/metrics.json", metrics)
    write_status(run_dir, "done")
    return metrics
