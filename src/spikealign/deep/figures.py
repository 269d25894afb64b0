"""Figures 7, 8 and 9 (registered in :mod:`spikealign.figures`). Each writes PNG + PDF and the
npz of what it plots, and returns the paths.

* fig 7: one 50 -> 50 layer pair, W and B independent U(+-sqrt(3/50)) from
  ``default_rng(43)``; B learned by SAL (SALNet [50, 50], t_ref 10, lr 0.05, 8 copies, one
  update per 1250 steps = 1 s of 0.1 ms steps over 8 copies), RDD (1000 steps of 1 ms per
  second, layer 0 driven, ``default_rng(44)``, feedback updates every 10 s of cumulative time:
  the fixed upstream check) and STDWI (dt 0.25 ms); 100 s each (``quick``: 20 s). Scatter of
  W vs B per method and the angle over time.
* fig 8: from a directory of ``deep train`` runs: final test accuracy per algorithm and data
  set (mean +- std over seeds) and the angle of each FC layer over epochs (first data set).
* fig 9: standalone SALNet [1600, 384, 192, 10] (batch 1) angle vs simulated time for SAL
  learning rates 0.005, 0.01, 0.02, 0.04; 100 updates of 10,000 steps (``quick``: 10 updates
  of 1,000 steps).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .. import rundir
from ..io import atomic_save_npz, atomic_savefig, read_json
from . import ALGOS, DATASETS, require_torch

CM = 1 / 2.54
COLORS = {"SAL": "C0", "RDD": "C1", "STDWI": "C2"}


def _save(fig, out: Path, name: str, **arrays) -> list[Path]:
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf", out / f"{name}.npz"]
    atomic_savefig(fig, paths[0], dpi=200, bbox_inches="tight")
    atomic_savefig(fig, paths[1], bbox_inches="tight")
    atomic_save_npz(paths[2], **arrays)
    plt.close(fig)
    return paths


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# -- figure 7 ------------------------------------------------------------------------------


def fig7_data(seconds: int = 100, n: int = 50) -> dict:
    """Simulate SAL, RDD and STDWI on one layer pair (module docstring)."""
    torch = require_torch()
    from .align import angle
    from .rdd import UPDATE_EVERY, Driver, RDDNet
    from .salnet import SALNet
    from .stdwi import stdwi

    rng = np.random.default_rng(43)
    bound = np.sqrt(3.0 / n)
    W = rng.uniform(-bound, bound, size=(n, n))  # (out, in)
    B = rng.uniform(-bound, bound, size=(n, n))  # (in, out)
    res = {"W": W, "B0": B.T}

    sal = SALNet(
        [n, n], t_ref=10, sal_lr=0.05, batch_size=8, generator=torch.Generator().manual_seed(43)
    )
    sal.W[1] = torch.tensor(W, dtype=torch.float32)
    sal.B[0] = torch.tensor(B, dtype=torch.float32)
    steps = int(1000.0 / (0.1 * 8))
    t, a = [0.0], [angle(W, sal.B[0].t())]
    for ep in range(seconds):
        sal.phase(steps)
        t.append(ep + 1.0)
        a.append(angle(W, sal.B[0].t()))
    res.update(sal_B=sal.B[0].t().double().numpy(), sal_t=np.array(t), sal_angle=np.array(a))

    rdd = RDDNet([n, n])
    rdd.set_weights([None, W], [B])
    drv = Driver([n], np.random.default_rng(44))
    t, a = [0.0], [angle(W, rdd.layers[0].fb_weight.T)]
    step = 0
    for ep in range(seconds):
        for i in range(1000):
            if (i + 1) % 100 == 0:
                drv.choose()
            rdd.step([drv.advance(0), None])
            step += 1
            if step % UPDATE_EVERY == 0:
                rdd.update_fb_weights()
        t.append(ep + 1.0)
        a.append(angle(W, rdd.layers[0].fb_weight.T))
    res.update(rdd_B=rdd.layers[0].fb_weight.T.copy(), rdd_t=np.array(t), rdd_angle=np.array(a))

    Bs, ts, angs, _ = stdwi(W, B.T, seconds * 1000.0, np.random.default_rng(45))
    res.update(stdwi_B=Bs, stdwi_t=ts, stdwi_angle=angs)
    return res


def fig7(source=None, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    plt = _pyplot()
    d = fig7_data(20 if quick else 100)
    fig, axes = plt.subplots(2, 2, figsize=(9 * CM * 1.6, 8 * CM * 1.6))
    W = d["W"].ravel()
    for ax, key, label in zip(
        axes.ravel()[:3], ("sal", "rdd", "stdwi"), ("SAL", "RDD", "STDWI"), strict=True
    ):
        b = d[f"{key}_B"].ravel()
        ax.scatter(W, b, s=6, alpha=0.3, edgecolors="none", c=COLORS[label], label=label)
        lim = 1.1 * max(np.abs(W).max(), np.abs(b).max())
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="W", ylabel="B", aspect="equal")
        ax.grid(True)
        ax.legend(loc="lower right")
    ax = axes[1, 1]
    for key, label, ls in (("sal", "SAL", "-"), ("rdd", "RDD", "--"), ("stdwi", "STDWI", "-.")):
        ax.plot(d[f"{key}_t"], d[f"{key}_angle"], ls, c=COLORS[label], label=label)
    ax.set(xlabel="t [s]", ylabel=r"$\angle(W^T, B)$ [deg]")
    ax.legend()
    ax.grid(True)
    fig.tight_layout()
    return _save(fig, Path(out), "fig7", **d)


# -- figure 8 ------------------------------------------------------------------------------


def collect_runs(source: Path) -> dict:
    """``{(dataset, algo): [metrics, ...]}`` of every finished training run below ``source``
    (a ``metrics.json`` with epochs in a run directory that is done, its result files intact).
    A damaged run (files not matching their checksums) is left out with a warning naming it;
    unfinished runs are left out and counted in one warning."""
    runs: dict = {}
    unfinished = 0
    for p in sorted(Path(source).rglob("metrics.json")):
        m = read_json(p) or {}
        if not ("algo" in m and m.get("epochs")):
            continue
        info = rundir.inspect(p.parent, rundir.LAYOUTS["deep"])
        if info.state == "damaged":
            warnings.warn(f"{p.parent}: left out of figure 8, {info.error()}", stacklevel=2)
        elif info.state != "done":
            unfinished += 1
        else:
            runs.setdefault((m["dataset"], m["algo"]), []).append(m)
    if unfinished:
        warnings.warn(
            f"figure 8: left out {unfinished} unfinished run(s) below {source}", stacklevel=2
        )
    return runs


def fig8(source: Path, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    plt = _pyplot()
    runs = collect_runs(source)
    if not runs:
        raise FileNotFoundError(f"figure 8: no deep train runs (metrics.json) below {source}")
    datasets = [d for d in DATASETS if any(k[0] == d for k in runs)]
    algos = [a for a in ALGOS if any(k[1] == a for k in runs)]
    acc_mean = np.full((len(datasets), len(algos)), np.nan)
    acc_std = np.full_like(acc_mean, np.nan)
    for i, ds in enumerate(datasets):
        for j, al in enumerate(algos):
            accs = [m["epochs"][-1]["test_acc"] for m in runs.get((ds, al), [])]
            if accs:
                acc_mean[i, j] = np.mean(accs)
                acc_std[i, j] = np.std(accs, ddof=1) if len(accs) > 1 else 0.0
    fig = plt.figure(figsize=(18 * CM, 12 * CM))
    gs = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(gs[0, :])
    width = 0.8 / len(algos)
    x = np.arange(len(datasets))
    for j, al in enumerate(algos):
        ax.bar(
            x + (j - (len(algos) - 1) / 2) * width,
            acc_mean[:, j],
            width,
            yerr=acc_std[:, j],
            label=al,
            capsize=2,
        )
    ax.set_xticks(x, datasets)
    ax.set_ylabel("test accuracy [%]")
    lo = np.nanmin(acc_mean - np.nan_to_num(acc_std))
    ax.set_ylim(max(0.0, lo - 5), 100)
    ax.legend(ncol=len(algos), fontsize="small")
    ds0 = datasets[0]
    curves = {}
    for layer in range(3):
        ax = fig.add_subplot(gs[1, layer])
        for al in algos:
            ms = runs.get((ds0, al), [])
            if not ms:
                continue
            n_ep = min(len(m["epochs"]) for m in ms)
            a = np.array(
                [
                    [m["init"]["align"][layer]["angle"]]
                    + [e["align"][layer]["angle"] for e in m["epochs"][:n_ep]]
                    for m in ms
                ]
            )
            curves[f"{al}_fc{layer + 1}"] = a
            ax.plot(np.arange(n_ep + 1), a.mean(0), label=al)
        ax.set(xlabel="epoch", title=f"fc{layer + 1} ({ds0})", ylim=(0, 95))
        if layer == 0:
            ax.set_ylabel(r"$\angle(W, B)$ [deg]")
        ax.grid(True)
    fig.tight_layout()
    return _save(
        fig,
        Path(out),
        "fig8",
        datasets=np.array(datasets),
        algos=np.array(algos),
        acc_mean=acc_mean,
        acc_std=acc_std,
        **curves,
    )


# -- figure 9 ------------------------------------------------------------------------------

FIG9_LRS = (0.005, 0.01, 0.02, 0.04)


def fig9(source=None, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    require_torch()
    plt = _pyplot()
    from .symmetrize import SymmetrizeConfig, symmetrize

    epochs, len_epoch = (10, 100) if quick else (100, 1000)
    fig, axes = plt.subplots(1, 3, figsize=(18 * CM, 6 * CM), sharey=True)
    arrays = {"lrs": np.array(FIG9_LRS)}
    for lr in FIG9_LRS:
        m = symmetrize(SymmetrizeConfig(epochs=epochs, len_epoch=len_epoch, sal_lr=lr))
        steps = np.array(m["steps"], dtype=float)
        ang = np.array([[a["angle"] for a in row] for row in m["align"]])
        arrays[f"steps_lr{lr}"] = steps
        arrays[f"angle_lr{lr}"] = ang
        for layer, ax in enumerate(axes):
            ax.plot(steps * 1e-3, ang[:, layer], label=f"lr {lr}")
    for layer, ax in enumerate(axes):
        ax.set(title=f"layer pair {layer}")
        ax.grid(True)
    axes[0].set_ylabel(r"$\angle(W^T, B)$ [deg]")
    axes[-1].legend()
    fig.supxlabel("simulated time [s] (1 step = 1 ms)")
    fig.tight_layout()
    return _save(fig, Path(out), "fig9", **arrays)
