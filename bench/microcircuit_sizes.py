"""SAL, FA and BP feedback on a microcircuit larger than the paper's 1-1-1 networks.

Takes the paper presets (``sal``, ``fa``, ``bp``: protocol, learning rates, lengths) and changes
only what a larger network needs: ``--dims``, a random teacher (``w_up`` of each layer uniform in
``[lo, hi] * 2 / n_in``) and random input vectors (8 training, 6 validation patterns uniform in
[-3, 3] per input neuron), all drawn from ``--task-seed`` so every mode and seed offset learns the
same task. Runs go to ``OUT/<mode><seed>`` (finished runs are reused), then the script prints a
markdown table of ``angle(B12, W21^T)`` at the start and the end of each run and the final free
validation loss, and writes it to ``OUT/table.md``.

    PYTHONPATH=src python bench/microcircuit_sizes.py --dims 3 4 2 --seeds 0 1 2 3 \
        --out runs/mc_342
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import yaml


def task_config(mode: str, dims: list[int], task_seed: int) -> dict:
    from spikealign.microcircuits.config import preset_path

    cfg = yaml.safe_load(preset_path(mode).read_text())
    rng = np.random.default_rng(task_seed)
    n_hidden_layers = len(dims) - 2
    cfg["network_properties"]["dims"] = list(dims)
    lr = cfg["network_properties"]["lr"]
    cfg["network_properties"]["lr"] = [dict(lr[0]) for _ in range(n_hidden_layers)] + [lr[-1]]
    bias = cfg["student_initial_parameters"]["bias"][0]
    cfg["student_initial_parameters"]["bias"] = [bias] * (len(dims) - 1)
    cfg["teacher_initial_parameters"]["bias"] = [bias] * (len(dims) - 1)
    limits = [(0.0, 2.0)] * n_hidden_layers + [(-1.0, 2.0)]  # positive drive into the hidden layer
    cfg["teacher_initial_parameters"]["weights"] = [
        {"w_up": (rng.uniform(lo, hi, (dims[k + 1], dims[k])) * 2.0 / dims[k]).round(3).tolist()}
        for k, (lo, hi) in enumerate(limits)
    ]
    cfg["u_input"] = {
        "training": rng.uniform(-3, 3, (8, dims[0])).round(2).tolist(),
        "validation": rng.uniform(-3, 3, (6, dims[0])).round(2).tolist(),
    }
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[3, 4, 2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--modes", nargs="+", default=["sal", "fa", "bp"])
    ap.add_argument("--task-seed", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("runs/mc_sizes"))
    args = ap.parse_args()
    if len(args.dims) < 3:
        ap.error("--dims needs at least one hidden layer")

    from spikealign.microcircuits import load_config, run_experiment
    from spikealign.microcircuits.alignment import feedback_angle

    rows = []
    for mode in args.modes:
        cfg = load_config(task_config(mode, args.dims, args.task_seed))
        angles0, angles1, losses = [], [], []
        for seed in args.seeds:
            m = run_experiment(cfg, args.out / f"{mode}{seed}", seed_offset=seed)
            angles0.append(feedback_angle(m["initial_weights"]))
            angles1.append(feedback_angle(m["final_weights"]))
            losses.append(m["final_loss_free"])
            print(
                f"{mode} seed {seed}: angle {angles0[-1]:.1f} -> {angles1[-1]:.1f} deg, "
                f"final free loss {losses[-1]:.3g}",
                flush=True,
            )
        rows.append((mode, angles0, angles1, losses))

    dims = "-".join(map(str, args.dims))
    lines = [
        f"dims {dims}, task seed {args.task_seed}, seed offsets {args.seeds}",
        "",
        "| mode | angle(B12, W21^T) start (deg) | end (deg), per seed | end, median "
        "| final free loss, geo-mean |",
        "|---|---|---|---|---|",
    ]
    for mode, a0, a1, loss in rows:
        lines.append(
            f"| {mode} | {np.median(a0):.0f} (median) | "
            f"{', '.join(f'{a:.0f}' for a in a1)} | {np.median(a1):.0f} | "
            f"{math.exp(np.mean(np.log(loss))):.3g} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")
    print(json.dumps({"dims": args.dims, "out": str(args.out)}))


if __name__ == "__main__":
    main()
