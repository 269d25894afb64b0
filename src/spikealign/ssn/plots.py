"""Figures of SSN runs: one run's six panels and the with/without-SAL comparison of the demo.

Distribution panels show every state up to :data:`MAX_STATES` states and the most probable
ones beyond (a 20-neuron network has 2^20 states), so a figure takes seconds at any size."""

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


#: at most this many states are drawn as bars (all of them up to 7 neurons) ...
MAX_STATES = 128
#: ... or as points (the demo's comparison)
MAX_POINTS = 1024
#: at most this many target weights are drawn as dashed lines
MAX_TARGET_LINES = 60


def shown_states(target: np.ndarray, *sampled: np.ndarray, k: int = MAX_STATES) -> np.ndarray:
    """Indices of the states to draw: all states when there are at most ``k``, else the most
    probable ones, an equal share by the target and by each sampled distribution (filled up to
    ``k`` by the target), ordered by target probability. O(2^N): milliseconds for N = 20."""
    n_states = len(target)
    if n_states <= k:
        return np.arange(n_states)
    share = k // (1 + len(sampled))
    chosen: set[int] = set()
    for p in (target, *sampled):
        chosen.update(int(i) for i in np.argpartition(-np.asarray(p), share)[:share])
    by_target = np.argpartition(-target, k)[:k]
    for i in by_target[np.argsort(-target[by_target], kind="stable")]:
        if len(chosen) >= k:
            break
        chosen.add(int(i))
    idx = np.array(sorted(chosen), dtype=np.int64)
    return idx[np.argsort(-target[idx], kind="stable")]


def _state_axis(ax, idx: np.ndarray, n_states: int, what: str = "state") -> None:
    """x labels of a distribution panel drawn at positions 0..len(idx)-1."""
    if len(idx) < n_states:
        every = -(-len(idx) // 32)  # at most 32 labels
        ax.set_xticks(
            np.arange(0, len(idx), every), [str(i) for i in idx[::every]], rotation=90, fontsize=6
        )
        ax.set_xlabel(f"the {len(idx)} most probable of {n_states} states (neuron 0 = MSB)")
    else:
        ax.set_xlabel(f"{what} (neuron 0 = MSB)")


def _distribution_panel(ax, target: np.ndarray, sampled: np.ndarray) -> None:
    idx = shown_states(target, sampled)
    x = np.arange(len(idx))
    ax.bar(x - 0.2, target[idx], width=0.4, label="target")
    ax.bar(x + 0.2, sampled[idx], width=0.4, label="sampled (last validation)")
    _state_axis(ax, idx, len(target))
    ax.set(yscale="log", ylabel="p(z)")
    ax.legend(fontsize=8)


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
    targets = np.unique(res["target_weights"][off])
    if len(targets) > MAX_TARGET_LINES:  # evenly spread over the range
        targets = targets[np.linspace(0, len(targets) - 1, MAX_TARGET_LINES).astype(int)]
    for wt in targets:
        ax[2].axhline(wt, color="k", ls="--", lw=0.5, alpha=0.3)
    ax[2].set(ylabel="weights (dashed: target)", xlabel="cycle")
    ax[3].plot(cyc, res["all_biases"], color="C3", alpha=0.5)
    for bt in res["target_biases"]:
        ax[3].axhline(bt, color="k", ls="--", lw=0.5, alpha=0.3)
    ax[3].set(ylabel="biases (dashed: target)", xlabel="cycle")
    d = res["all_weights"] - np.transpose(res["all_weights"], (0, 2, 1))
    ax[4].plot(cyc, d[:, iu[0], iu[1]], color="C2", alpha=0.5)
    ax[4].set(ylabel=r"$W_{ij} - W_{ji}$", xlabel="cycle")
    _distribution_panel(ax[5], res["target_distr"], res["all_distr"][-1])
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
    ax[0].set(
        xlabel="wake-sleep cycle",
        ylabel=r"weight asymmetry Var$(W_{ij} - W_{ji})$",
        title="SAL removes the asymmetry",
    )
    ax[1].set(
        yscale="log",
        xlabel="wake-sleep cycle",
        ylabel=r"$D_\mathrm{KL}$(target $\|$ sampled)",
        title="and the network samples better",
    )
    idx = shown_states(target, *(res["all_distr"][-1] for res in runs.values()), k=MAX_POINTS)
    k = np.arange(len(idx))
    ax[2].plot(k, target[idx], "k.-", lw=0.8, label="target")
    for name, res in runs.items():
        ax[2].plot(
            k,
            res["all_distr"][-1][idx],
            ".",
            color=COLORS.get(name),
            alpha=0.8,
            label=LABELS.get(name, name),
        )
    ax[2].set(yscale="log", ylabel="p(z)", title="final sampled distribution")
    _state_axis(ax[2], idx, len(target))
    for a in ax:
        a.legend(fontsize=8)
    for a in ax[:2]:
        a.xaxis.set_major_locator(MaxNLocator(5))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(stem))
