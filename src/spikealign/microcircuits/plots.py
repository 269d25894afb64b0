"""Figures: the per-run figure and the paper's figure 6 (b: loss and weight traces over epochs,
c: distributions of the final loss and weights over seeds).

Weights shown for a network are entry ``[0, 0]`` of ``W_up`` of the first hidden layer
(``W10``), of ``W_up`` of the layer above it (``W21``) and of ``W_down`` of the first hidden
layer (``B12``); for the paper's 1-1-1 networks these are the only weights. With scalar weights
alignment means ``B12 -> W21``. For larger networks a single entry says little, so the figures
add the angle between the feedback matrix and the transposed forward matrix above it,
``angle(B12, W21^T) = arccos(<B12, W21^T> / (|B12| |W21|))`` in degrees (0 = aligned, 90 =
unrelated), over epochs and at the end of each run.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from .. import rundir
from ..io import atomic_save_npz, atomic_savefig
from .alignment import cosine_rows, degrees, feedback_angle

MODE_ORDER = ("sal", "bp", "fa")
MODE_COLORS = {"sal": "#1b9e77", "bp": "#7570b3", "fa": "#d95f02"}
MODE_LABELS = {"sal": "SAL", "bp": "BP", "fa": "FA"}
WEIGHTS = (("W10", "1.w_up"), ("W21", "2.w_up"), ("B12", "1.w_down"))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _epoch_samples(res, key: str, n_epochs: int) -> np.ndarray | None:
    """Entry [0, 0] of a recorded quantity in the block that holds the first step of every
    epoch (the paper's ``recordings[...][::26, 0, 0]`` with one block per pattern)."""
    data = res.get(f"rec.{key}")
    if data is None or data.shape[0] == 0 or n_epochs == 0:
        return None
    return data.reshape(data.shape[0], -1)[_epoch_index(res, data, n_epochs), 0]


def _epoch_index(res, data: np.ndarray, n_epochs: int) -> np.ndarray:
    per_epoch = len(res["role"]) // n_epochs
    first_step = np.arange(n_epochs) * per_epoch * int(res["pattern_steps"])
    return np.minimum(first_step // int(res["rec_block"]), data.shape[0] - 1)


def is_scalar_network(dims) -> bool:
    """True when ``B12`` has a single entry (the paper's 1-1-1 networks); ``dims`` may be None
    (old result files), which counts as scalar."""
    return dims is None or len(dims) < 3 or int(dims[1]) * int(dims[2]) == 1


def feedback_angle_trace(res, n_epochs: int) -> np.ndarray | None:
    """``angle(B12, W21^T)`` in degrees at the first step of every epoch, from the recorded
    ``rec.1.w_down`` and ``rec.2.w_up``; None where either was not recorded."""
    down, up = res.get("rec.1.w_down"), res.get("rec.2.w_up")
    if down is None or up is None or down.shape[0] == 0 or n_epochs == 0:
        return None
    idx = _epoch_index(res, down, n_epochs)
    b = down[idx].reshape(len(idx), -1)
    w = np.swapaxes(up[idx], 1, 2).reshape(len(idx), -1)
    return degrees(cosine_rows(b, w))


def final_feedback_angle(metrics: dict) -> float:
    """``angle(B12, W21^T)`` in degrees of the final weights of a run."""
    fw = metrics["final_weights"]
    if "1.w_down" not in fw or "2.w_up" not in fw:
        return float("nan")
    return feedback_angle(fw, 1)


def run_figure(result: dict | Path, out_path: Path, metrics: dict | None = None) -> Path:
    """Per-run figure: validation loss (free and nudged) over epochs, and the recorded
    weights ``W10``, ``W21``, ``B12`` against the teacher's (``result``: the arrays of
    ``result.npz`` or the file's path)."""
    plt = _plt()
    if not isinstance(result, dict):
        with np.load(result) as npz:
            result = {k: npz[k] for k in npz.files}
    res = result
    epochs = res["epoch"] + 1
    angle = None if is_scalar_network(res.get("dims")) else feedback_angle_trace(res, len(epochs))
    n_rows = 2 if angle is None else 3
    fig, axes = plt.subplots(n_rows, 1, figsize=(6.4, 3.0 * n_rows), sharex=True)
    ax = axes[0]
    for key, label, style in (
        ("loss_free", "free (nudging off)", "-"),
        ("loss_nudged", "nudged (paper)", "--"),
    ):
        y = res[key]
        if np.any(np.isfinite(y) & (y > 0)):
            ax.plot(epochs, y, style, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("validation loss")
    ax.legend(frameon=False)
    title = "microcircuit"
    if metrics is not None:
        title = (
            f"{metrics['mode'].upper()}  dims {metrics['dims']}  seed offset "
            f"{metrics['seed_offset']}"
        )
    ax.set_title(title)

    ax = axes[1]
    n_epochs = len(epochs)
    plotted = False
    for name, key in WEIGHTS:
        trace = _epoch_samples(res, key, n_epochs)
        if trace is not None:
            ax.plot(epochs, trace, label=name)
            plotted = True
        teacher = res.get(f"teacher.{key}")
        if teacher is not None and name != "B12":
            ax.axhline(float(np.ravel(teacher)[0]), color="0.5", ls=":", lw=1)
    if not plotted:
        ax.text(0.5, 0.5, "no weights recorded", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(frameon=False)
    ax.set_ylabel("weight (entry [0, 0])")
    if angle is not None:
        ax = axes[2]
        ax.plot(epochs, angle, color="k")
        ax.set_ylabel("angle(B12, W21ᵀ) (deg)")
        ax.set_ylim(-4, 184)
        ax.set_yticks([0, 45, 90, 135, 180])
    axes[-1].set_xlabel("epoch")
    fig.tight_layout()
    atomic_savefig(fig, out_path, dpi=120)
    plt.close(fig)
    return out_path


# -- figure 6 ---------------------------------------------------------------------------------


def load_runs(
    source: Path, run_dirs: list[Path] | None = None
) -> tuple[dict[str, list[dict]], int]:
    """Finished runs under ``source`` (or exactly the directories ``run_dirs``) grouped by
    mode, and the number of skipped directories (unfinished, failed, damaged or unreadable
    runs; a damaged one, whose files do not match their checksums, is named in a warning)."""
    runs: dict[str, list[dict]] = {}
    skipped = 0
    if run_dirs is None:
        run_dirs = [p.parent for p in sorted(Path(source).rglob("metrics.json"))]
    for run_dir in map(Path, run_dirs):
        metrics_path = run_dir / "metrics.json"
        try:
            try:
                metrics = json.loads(metrics_path.read_text())
                layout = rundir.LAYOUTS["microcircuit"]
            except (OSError, ValueError):
                metrics, layout = {}, rundir.GENERIC  # which family: unknown
            if metrics and metrics.get("mode") not in ("sal", "bp", "fa"):
                continue  # not a microcircuit run (e.g. SSN runs of the same sweep)
            info = rundir.inspect(run_dir, layout)
            if info.state == "damaged":
                warnings.warn(f"{run_dir}: left out of figure 6, {info.error()}", stacklevel=2)
            if info.state != "done" or not metrics:
                raise ValueError("not finished")
            with np.load(run_dir / "result.npz") as npz:
                res = {
                    k: npz[k]
                    for k in npz.files
                    if k.startswith(
                        (
                            "loss",
                            "rec.1.",
                            "rec.2.",
                            "epoch",
                            "role",
                            "rec_block",
                            "pattern_steps",
                            "teacher.1.",
                            "teacher.2.",
                        )
                    )
                }
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            skipped += 1
            continue
        metrics["_dir"] = str(run_dir)
        metrics["_res"] = res
        runs.setdefault(metrics["mode"], []).append(metrics)
    for mode in runs:
        runs[mode].sort(key=lambda m: (m["seed_offset"], m["_dir"]))
    return runs, skipped


def _stack(curves: list[list[float]]) -> np.ndarray:
    n = max(len(c) for c in curves)
    out = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        out[i, : len(c)] = c
    return out


def _final_weight(metrics: dict, key: str) -> float:
    w = metrics["final_weights"].get(key)
    return float(np.ravel(w)[0]) if w is not None else float("nan")


def figure6(
    source: Path | None,
    out: Path,
    quick: bool = False,
    *,
    example_index: int = 11,
    run_dirs: list[Path] | None = None,
) -> list[Path]:
    """Figure 6b (``mc_epochs``) and 6c (``mc_distr``) from a directory of runs.

    Median and inter-quartile range over seeds of the validation loss per epoch (free and, as
    in the paper, nudged), the weight traces of one SAL run (the paper's seed index 11, else
    the last available) over the first 50 epochs, and the final loss and weights per mode.
    Missing or unfinished runs are skipped; modes without runs are left out. ``run_dirs``
    restricts the figure to those run directories (a sweep passes its microcircuit runs).
    """
    del quick  # drawn from existing runs
    plt = _plt()
    if source is None or not Path(source).is_dir():
        raise FileNotFoundError(f"figure 6: {source} is not a directory of runs")
    runs, skipped = load_runs(Path(source), run_dirs)
    if not runs:
        raise FileNotFoundError(f"figure 6: no finished microcircuit runs under {source}")
    if skipped:
        warnings.warn(f"figure 6: skipped {skipped} unfinished or unreadable run(s)", stacklevel=2)
    modes = [m for m in MODE_ORDER if m in runs] + sorted(set(runs) - set(MODE_ORDER))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plotted: dict[str, np.ndarray] = {}
    scalar = all(is_scalar_network(m.get("dims")) for mode in modes for m in runs[mode])
    teacher_w = {}
    for mode in modes:
        tw = runs[mode][0]["teacher_weights"]
        for name, key in WEIGHTS[:2]:
            if key in tw:
                teacher_w[name] = float(np.ravel(tw[key])[0])

    # -- 6b ---------------------------------------------------------------------------------
    fig, axes = plt.subplots(3, 1, figsize=(6.0, 8.0), sharex=False)
    for row, (key, label) in enumerate(
        (("loss_free", "free validation loss"), ("loss_nudged", "validation loss (nudged, paper)"))
    ):
        ax = axes[row]
        for mode in modes:
            curves = _stack([m[key] for m in runs[mode]])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                q25, med, q75 = np.nanpercentile(curves, [25, 50, 75], axis=0)
            ep = np.arange(1, curves.shape[1] + 1)
            sel = np.unique(np.r_[np.arange(0, len(ep), 4), len(ep) - 1])  # every 4th, last
            ax.plot(
                ep[sel],
                med[sel],
                color=MODE_COLORS.get(mode),
                label=f"{MODE_LABELS.get(mode, mode)} (n={len(runs[mode])})",
            )
            ax.fill_between(
                ep[sel], q25[sel], q75[sel], color=MODE_COLORS.get(mode), alpha=0.25, lw=0
            )
            plotted[f"6b.{key}.{mode}.median"] = med
            plotted[f"6b.{key}.{mode}.q25"] = q25
            plotted[f"6b.{key}.{mode}.q75"] = q75
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xlabel("epoch")
        ax.legend(frameon=False, fontsize=8)
    ax = axes[2]
    if not scalar:
        for mode in modes:
            traces = [feedback_angle_trace(m["_res"], len(m["loss_free"])) for m in runs[mode]]
            traces = [list(t) for t in traces if t is not None]
            if not traces:
                continue
            curves = _stack(traces)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                q25, med, q75 = np.nanpercentile(curves, [25, 50, 75], axis=0)
            ep = np.arange(1, curves.shape[1] + 1)
            ax.plot(ep, med, color=MODE_COLORS.get(mode), label=MODE_LABELS.get(mode, mode))
            ax.fill_between(ep, q25, q75, color=MODE_COLORS.get(mode), alpha=0.25, lw=0)
            plotted[f"6b.angle.{mode}.median"] = med
            plotted[f"6b.angle.{mode}.q25"] = q25
            plotted[f"6b.angle.{mode}.q75"] = q75
        ax.set_ylim(-4, 184)
        ax.set_yticks([0, 45, 90, 135, 180])
        ax.set_title("feedback alignment, median and IQR over seeds", fontsize=9)
        ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_ylabel("angle(B12, W21ᵀ) (deg)")
    elif "sal" in runs:
        sal_runs = runs["sal"]
        chosen = sal_runs[example_index] if example_index < len(sal_runs) else sal_runs[-1]
        res = chosen["_res"]
        n_epochs = len(chosen["loss_free"])
        for name, key in WEIGHTS:
            trace = _epoch_samples(res, key, n_epochs)
            if trace is not None:
                ax.plot(np.arange(1, n_epochs + 1)[:50], trace[:50], label=name)
                plotted[f"6b.trace.{name}"] = trace[:50]
        for w in teacher_w.values():
            ax.axhline(w, color="0.4", ls="--", lw=1)
        ax.set_title(f"SAL run, seed offset {chosen['seed_offset']}", fontsize=9)
        ax.legend(frameon=False, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no SAL runs", ha="center", va="center", transform=ax.transAxes)
    if scalar:
        ax.set_xlabel("epoch")
        ax.set_ylabel("weight")
    fig.tight_layout()
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"mc_epochs.{ext}"
        atomic_savefig(fig, p, dpi=150)
        paths.append(p)
    plt.close(fig)

    # -- 6c ---------------------------------------------------------------------------------
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 6.0))
    # (title, npz key, teacher line, value of a run, log scale)
    panels = [("final free loss", "final_free_loss", None, lambda m: m["final_loss_free"], True)]
    if not scalar:
        panels.append(
            (
                "final angle(B12, W21ᵀ) (deg)",
                "final_angle_B12_W21T",
                None,
                final_feedback_angle,
                False,
            )
        )
    suffix = "" if scalar else " [0, 0]"
    panels += [
        (
            f"final {name}{suffix}",
            f"final_{name}",
            teacher_w.get("W21" if name == "B12" else name, np.nan),
            (lambda k: lambda m: _final_weight(m, k))(key),
            False,
        )
        for name, key in (WEIGHTS if scalar else WEIGHTS[1:])
    ]
    rng = np.random.default_rng(0)  # jitter only
    for ax, (title, npz_key, line, get, log) in zip(axes.ravel(), panels, strict=True):
        data = [np.array([get(m) for m in runs[mode]], float) for mode in modes]
        clean = [d[np.isfinite(d)] for d in data]
        ax.boxplot(clean, showfliers=False, widths=0.5)
        ax.set_xticks(range(1, len(modes) + 1), [MODE_LABELS.get(m, m) for m in modes])
        for i, (mode, d) in enumerate(zip(modes, clean, strict=True)):
            ax.scatter(
                i + 1 + rng.uniform(-0.12, 0.12, len(d)),
                d,
                s=10,
                color=MODE_COLORS.get(mode),
                zorder=3,
            )
            plotted[f"6c.{npz_key}.{mode}"] = d
        if line is not None:
            ax.axhline(line, color="0.4", ls="--", lw=1)
        if log:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        p = out / f"mc_distr.{ext}"
        atomic_savefig(fig, p, dpi=150)
        paths.append(p)
    plt.close(fig)
    plotted["skipped_runs"] = np.int64(skipped)
    plotted["modes"] = np.array(modes)
    npz = out / "fig6.npz"
    atomic_save_npz(npz, **plotted)
    paths.append(npz)
    return paths
