"""Figures of SSN runs: one run's six panels and the with/without-SAL comparison of the demo."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..io import atomic_savefig  # noqa: E402


def _save(fig, stem: Path) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        p = Path(f"{stem}.{ext}")
        atomic_savefig(fig, p, dpi=150, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    return paths


def run_figure(res: dict, stem, title: str = "") -> list[Path]:
    """Six panels of one run (``results.npz`` fields)."""
    cyc = res["val_cycles"]
    n = res["target_weights"].shape[0]
    iu = np.triu_indices(n, k=1)
    off = ~np.eye(n, dtype=bool)
    fig, ax = plt.subplots(3, 2, figsize=(10, 9))
    ax = ax.ravel()
    ax[0].plot(cyc, res["dkls"], "C0")
    ax[0].set(yscale="log", ylabel=r"$D_\mathrm{KL}$(target $\|$ sampled)", xlabel="cycle")
    ax[1].plot(cyc, res["all_asym"], "C1")
    ax[1].set(yscale="symlog", ylabel=r"Var$(W_{ij} - W_{ji})$", xlabel="cycle")
    ax[1].set_yscale("symlog", linthresh=1e-4)
    w = res["all_weights"][:, off]
    ax[2].plot(cyc, w, color="C0", alpha=0.3, lw=0.8)
    for wt in np.unique(res["target_weights"][off]):
        ax[2].axhline(wt, color="k", ls="--", lw=0.5, alpha=0.3)
    ax[2].set(ylabel="weights (dashed: target)", xlabel="cycle")
    ax[3].plot(cyc, res["all_biases"], color="C3", alpha=0.5)
    for bt in res["target_biases"]:
        ax[3].axhline(bt, color="k", ls="--", lw=0.5, alpha=0.3)
    ax[3].set(ylabel="biases (dashed: target)", xlabel="cycle")
    d = res["all_weights"] - np.transpose(res["all_weights"], (0, 2, 1))
    ax[4].plot(cyc, d[:, iu[0], iu[1]], color="C2", alpha=0.5)
    ax[4].set(ylabel=r"$W_{ij} - W_{ji}$", xlabel="cycle")
    k = np.arange(2**n)
    ax[5].bar(k - 0.2, res["target_distr"], width=0.4, label="target")
    ax[5].bar(k + 0.2, res["all_distr"][-1], width=0.4, label="sampled (last validation)")
    ax[5].set(yscale="log", xlabel="state (neuron 0 = MSB)", ylabel="p(z)")
    ax[5].legend(fontsize=8)
    for a in ax[:5]:
        a.xaxis.set_major_locator(MaxNLocator(5))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(stem))


COLORS = {"none": "C3", "sal": "C0", "kp": "C2", "kp+sal": "C4"}
LABELS = {"none": "no alignment", "sal": "SAL", "kp": "Kolen-Pollack", "kp+sal": "KP + SAL"}


def comparison_figure(runs: dict[str, dict], stem, title: str = "") -> list[Path]:
    """Asymmetry, DKL and final distributions of runs that differ only in their feedback."""
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    target = None
    for name, res in runs.items():
        c, lab = COLORS.get(name, None), LABELS.get(name, name)
        ax[0].plot(res["val_cycles"], res["all_asym"], color=c, label=lab)
        ax[1].plot(res["val_cycles"], res["dkls"], color=c, label=lab)
        target = res["target_distr"]
    ax[0].set_yscale("symlog", linthresh=1e-4)
    ax[0].set(xlabel="wake-sleep cycle", ylabel=r"weight asymmetry Var$(W_{ij} - W_{ji})$",
              title="SAL removes the asymmetry")
    ax[1].set(yscale="log", xlabel="wake-sleep cycle",
              ylabel=r"$D_\mathrm{KL}$(target $\|$ sampled)",
              title="and the network samples better")
    k = np.arange(len(target))
    ax[2].plot(k, target, "k.-", lw=0.8, label="target")
    for name, res in runs.items():
        ax[2].plot(k, res["all_distr"][-1], ".", color=COLORS.get(name), alpha=0.8,
                   label=LABELS.get(name, name))
    ax[2].set(yscale="log", xlabel="state", ylabel="p(z)", title="final sampled distribution")
    for a in ax:
        a.legend(fontsize=8)
    for a in ax[:2]:
        a.xaxis.set_major_locator(MaxNLocator(5))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(stem))
