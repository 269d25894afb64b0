"""Benchmark table of ``spikealign.deep.convert``: every algorithm on an MLP and LeNet-5, on
scikit-learn's 8x8 digits and on Fashion-MNIST, several seeds (docs/deep.md, section
"Any model: measured").

Each cell is one :func:`spikealign.deep.train.train_run` into
``OUT/<dataset>_<model>_<algo>_s<seed>`` (finished runs are reused). Settings
(``SETTINGS`` below): digits all 1437 training images, 15 epochs, batch 32; Fashion-MNIST
the first 10,000 training images, 3 epochs, batch 64, the full test set; SGD lr 0.01,
momentum 0.9, KP weight decay 0.001; spiking phases before each epoch: SAL 2 x 2000 steps
(lr 0.04, 32 copies), RDD 20 s, STDWI 1 s per layer. Writes
``OUT/table.md`` (test accuracy mean +- std over seeds, and the mean final angle of each
converted layer, in model order) and prints it.

    SPIKEALIGN_QUIET=1 PYTHONPATH=src python bench/deep_convert_table.py --threads 1 \\
        --out runs/deep_convert
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ALGOS = ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "sal", "rdd", "stdwi"]
MODELS = ["mlp", "lenet5"]
PHASES = {
    "sal": {"n_iterations": 2, "len_epoch": 200},
    "rdd": {"rdd_time": 20.0},
    "stdwi": {"duration_ms": 1000.0},
}
SETTINGS = {
    "digits": {"epochs": 15, "batch_size": 32},
    "fmnist": {"epochs": 3, "batch_size": 64, "train_limit": 10_000},
}


def run_one(ds, model, algo, seed, out: Path, data_dir=None) -> dict:
    from spikealign.deep.train import train_run
    from spikealign.io import read_status

    d = out / f"{ds}_{model}_{algo}_s{seed}"
    if (d / "metrics.json").is_file() and (read_status(d) or {}).get("state") == "done":
        return json.loads((d / "metrics.json").read_text())
    cfg = {
        "algo": algo,
        "dataset": ds,
        "model": model,
        "seed": seed,
        **SETTINGS[ds],
        "sal": PHASES["sal"],
        "rdd": PHASES["rdd"],
        "stdwi": PHASES["stdwi"],
    }
    t0 = time.perf_counter()
    m = train_run(cfg, d, data_dir=data_dir, overwrite=True)
    print(
        f"  {d.name}: {m['epochs'][-1]['test_acc']:.2f} % ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return m


def _fmt(v) -> str:
    return f"{np.mean(v):.2f} +- {np.std(v, ddof=1) if len(v) > 1 else 0.0:.2f}"


def table(results: dict, datasets, models, algos) -> str:
    lines = []
    for ds in datasets:
        for model in models:
            lines += [
                f"\n**{ds}, {model}**\n",
                "| algorithm | test accuracy (%) | final angle per layer (deg), model order "
                "| epoch time (s) |",
                "|---|---|---|---|",
            ]
            for algo in algos:
                ms = results.get((ds, model, algo), [])
                if not ms:
                    continue
                acc = [m["epochs"][-1]["test_acc"] for m in ms]
                names = list(ms[0]["epochs"][-1]["alignment"])
                ang = [
                    np.mean([m["epochs"][-1]["alignment"][n]["angle"] for m in ms]) for n in names
                ]
                t = np.mean(
                    [
                        np.mean(
                            [
                                e["phase_time_s"] + e["train_time_s"] + e["test_time_s"]
                                for e in m["epochs"]
                            ]
                        )
                        for m in ms
                    ]
                )
                lines.append(
                    f"| {algo} | {_fmt(acc)} | {' / '.join(f'{a:.1f}' for a in ang)} | {t:.1f} |"
                )
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", nargs="+", default=["digits", "fmnist"])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--algos", nargs="+", default=ALGOS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/deep_convert"))
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    results: dict = {}
    t0 = time.perf_counter()
    for ds in args.datasets:
        for model in args.models:
            for algo in args.algos:
                for seed in args.seeds:
                    m = run_one(ds, model, algo, seed, args.out, args.data_dir)
                    results.setdefault((ds, model, algo), []).append(m)
                (args.out / "table.md").write_text(
                    table(results, args.datasets, args.models, args.algos)
                )
    text = table(results, args.datasets, args.models, args.algos)
    (args.out / "table.md").write_text(text)
    print(text)
    print(f"total: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
