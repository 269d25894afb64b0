"""Figures of spiking-Boltzmann-machine runs: one run (:func:`run_figure`) and the experiment
of a sweep (:func:`figure_bm`, also ``spikealign figure bm DIR``)."""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import rundir
from ..io import atomic_save_npz, atomic_savefig, atomic_write_text, read_json


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def run_figure(result: dict, stem: Path, title: str = "bm") -> list[Path]:
    """Score over epochs, asymmetry over epochs, final W_ij against W_ji (reciprocal pairs)."""
    plt = _plt()
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.4))
    ep = result["eval_epochs"]
    acc = result["val_accuracy"]
    if len(acc) and np.any(np.isfinite(acc)):
        ax[0].plot(ep, acc, "o-")
        ax[0].set_ylabel("validation accuracy")
    else:
        ax[0].semilogy(ep, result["dkl_sampled"], "o-", label="sampled")
        ax[0].semilogy(ep, result["dkl_exact"], "s--", label="exact (W+W^T)/2")
        ax[0].set_ylabel("D_KL(data || visible marginal)")
        ax[0].legend()
    ax[0].set_xlabel("epoch")
    ax[1].plot(np.arange(len(result["asym"])), result["asym"])
    ax[1].set_yscale("symlog", linthresh=1e-4)
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("Var(W_ij - W_ji)")
    W, mask = result["final_weights"], result["mask"]
    i, j = np.nonzero(np.triu(mask & mask.T, k=1))
    ax[2].plot(W[j, i], W[i, j], ".", ms=2, alpha=0.5)
    lim = max(1e-3, float(np.abs(W).max()))
    ax[2].plot([-lim, lim], [-lim, lim], "k:", lw=0.8)
    ax[2].set_xlabel("W_ji (one direction)")
    ax[2].set_ylabel("W_ij (other direction)")
    fig.suptitle(title)
    fig.tight_layout()
    paths = [Path(f"{stem}.png"), Path(f"{stem}.pdf")]
    for p in paths:
        atomic_savefig(fig, p, dpi=120)
    plt.close(fig)
    return paths


def collect(source: Path) -> dict:
    """``{(condition, feedback): [(metrics, results.npz arrays), ...]}`` of the finished runs of
    a sweep folder. A damaged run (files not matching their checksums) is left out with a
    warning naming it; unfinished runs are left out and counted in one warning."""
    from .run import LAYOUT

    groups = defaultdict(list)
    unfinished = 0
    for d in sorted(Path(source).iterdir()):
        if not d.is_dir() or d.name.count("-") < 2:
            continue
        info = rundir.inspect(d, LAYOUT)
        if info.state == "damaged":
            warnings.warn(f"{d}: left out of figure bm, {info.error()}", stacklevel=2)
            continue
        if info.state != "done":
            unfinished += 1
            continue
        cond, fb, _ = d.name.rsplit("-", 2)
        with np.load(d / "results.npz") as a:
            res = {k: a[k] for k in ("asym", "accuracy", "dkl_sampled", "eval_epochs")}
        groups[(cond, fb)].append((read_json(d / "metrics.json"), res))
    if unfinished:
        warnings.warn(f"figure bm: left out {unfinished} unfinished run(s) in {source}",
                      stacklevel=2)
    return groups


def table(groups: dict) -> list[str]:
    """Markdown rows: condition, feedback, runs, score mean ± std, asymmetry mean ± std."""
    rows = ["| condition | feedback | runs | test accuracy / D_KL | final asymmetry |",
            "|---|---|---|---|---|"]
    for (cond, fb), runs in sorted(groups.items()):
        ms = [m for m, _ in runs]
        key = "test_accuracy" if ms[0].get("test_accuracy") is not None else "dkl_sampled"
        s = np.array([m[key] for m in ms], dtype=float)
        a = np.array([m["asymmetry"] for m in ms], dtype=float)
        rows.append(f"| {cond} | {fb} | {len(ms)} | {s.mean():.4g} ± {s.std():.2g} | "
                    f"{a.mean():.3g} ± {a.std():.2g} |")
    return rows


def figure_bm(source: Path, out: Path, quick: bool = False) -> list[Path]:
    """Experiment figure: final score and asymmetry per noise condition and feedback
    (mean and spread over seeds), and the asymmetry over epochs."""
    if source is None or not Path(source).is_dir():
        raise ValueError(f"figure bm: {source} is not a directory of bm runs")
    out = rundir.check_out(out)
    groups = collect(Path(source))
    if not groups:
        raise ValueError(f"figure bm: no finished bm sweep runs in {source}")
    plt = _plt()
    conds = sorted({c for c, _ in groups}, key=lambda c: ("clean", "synaptic",
                                                          "plasticity").index(c)
                   if c in ("clean", "synaptic", "plasticity") else 9)
    fbs = [f for f in ("none", "sal", "kp") if any(f == g for _, g in groups)]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    width = 0.8 / max(1, len(fbs))
    plotted = {}
    labelled: set = set()
    first = next(iter(groups.values()))[0][0]
    key = "test_accuracy" if first.get("test_accuracy") is not None else "dkl_sampled"
    for k, fb in enumerate(fbs):
        for c_i, cond in enumerate(conds):
            runs = groups.get((cond, fb), [])
            if not runs:
                continue
            s = np.array([m[key] for m, _ in runs], dtype=float)
            a = np.array([m["asymmetry"] for m, _ in runs], dtype=float)
            x = c_i + (k - (len(fbs) - 1) / 2) * width
            ax[0].bar(x, s.mean(), width, yerr=s.std(), color=f"C{k}",
                      label=None if fb in labelled else fb)
            labelled.add(fb)
            ax[1].bar(x, a.mean(), width, yerr=a.std(), color=f"C{k}")
            plotted[f"{cond}_{fb}_score"] = s
            plotted[f"{cond}_{fb}_asym"] = a
            curves = np.array([r["asym"] for _, r in runs])
            ls = {"clean": ":", "synaptic": "-", "plasticity": "--"}.get(cond, "-.")
            ax[2].plot(np.median(curves, 0), ls, color=f"C{k}", label=f"{cond} {fb}")
            plotted[f"{cond}_{fb}_asym_curve"] = np.median(curves, 0)
    for a in ax[:2]:
        a.set_xticks(range(len(conds)), conds)
    ax[0].set_ylabel("test accuracy" if key == "test_accuracy" else "D_KL (sampled)")
    if key == "test_accuracy":
        ax[0].set_ylim(0, 1)
    ax[0].legend()
    ax[1].set_ylabel("final Var(W_ij - W_ji)")
    ax[1].set_yscale("symlog", linthresh=1e-4)
    ax[2].set_yscale("symlog", linthresh=1e-4)
    ax[2].set_xlabel("epoch")
    ax[2].set_ylabel("Var(W_ij - W_ji), median")
    ax[2].legend(fontsize=6)
    fig.suptitle(f"spiking Boltzmann machine: {Path(source).name}")
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "bm_experiment.png", out / "bm_experiment.pdf"]
    for p in paths:
        atomic_savefig(fig, p, dpi=120)
    plt.close(fig)
    atomic_save_npz(out / "bm_experiment.npz", **plotted)
    atomic_write_text(out / "bm_experiment.md", "\n".join(table(groups)) + "\n")
    return paths + [out / "bm_experiment.npz", out / "bm_experiment.md"]
