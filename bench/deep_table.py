"""Accuracy / alignment table of the deep benchmark: algorithms x seeds on one data set.

Runs :func:`spikealign.deep.train.train_run` for every (algorithm, seed) into
``OUT/<algo>_s<seed>`` (finished runs are reused, unfinished ones resume), then prints a
markdown table of the final test accuracy and the final angle of each FC layer (mean +- std
over seeds) and writes it to ``OUT/table.md``.

    PYTHONPATH=src python bench/deep_table.py --dataset fmnist --epochs 2 --seeds 0 1 2 \
        --threads 1 --out runs/fmnist
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ALGOS = ["bp", "bp_fa", "fa", "kp", "scfa", "sal", "rdd"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="fmnist")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--algos", nargs="+", default=ALGOS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/deep_table"))
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()

    from spikealign.deep.train import train_run
    from spikealign.io import read_status

    for algo in args.algos:
        for seed in args.seeds:
            run = args.out / f"{algo}_s{seed}"
            st = read_status(run)
            if st is not None and st.get("state") == "done":
                continue
            t0 = time.perf_counter()
            train_run(
                {"algo": algo, "dataset": args.dataset, "epochs": args.epochs, "seed": seed},
                run,
                data_dir=args.data_dir,
                threads=args.threads,
            )
            print(f"{algo} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    table = make_table(args.out, args.algos, args.seeds)
    (args.out / "table.md").write_text(table)
    print(table)


def make_table(out: Path, algos, seeds) -> str:
    lines = [
        "| algorithm | test accuracy (%) | angle fc1 (deg) | angle fc2 (deg) | "
        "angle fc3 (deg) | epoch time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for algo in algos:
        acc, ang, times = [], [], []
        for seed in seeds:
            p = out / f"{algo}_s{seed}" / "metrics.json"
            if not p.is_file():
                continue
            m = json.loads(p.read_text())
            if not m["epochs"]:
                continue
            last = m["epochs"][-1]
            acc.append(last["test_acc"])
            ang.append([a["angle"] for a in last["align"]])
            times.append(
                np.mean(
                    [e["train_time_s"] + e["phase_time_s"] + e["test_time_s"] for e in m["epochs"]]
                )
            )
        if not acc:
            continue
        ang = np.array(ang)

        def fmt(x):
            x = np.asarray(x, dtype=float)
            return f"{x.mean():.2f} +- {x.std(ddof=1) if len(x) > 1 else 0.0:.2f}"

        lines.append(
            f"| {algo} | {fmt(acc)} | "
            + " | ".join(fmt(ang[:, i]) for i in range(3))
            + f" | {np.mean(times):.0f} |"
        )
    return "\n".join(lines) + f"\n\nseeds: {list(seeds)}; n = runs per row\n"


if __name__ == "__main__":
    main()
