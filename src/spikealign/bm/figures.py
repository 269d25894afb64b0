"""Figures of spiking-Boltzmann-machine runs: one run (:func:`run_figure`) and the experiment
of a sweep (:func:`figure_bm`, also ``spikealign figure bm DIR``)."""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rundir
from ..io import atomic_save_npz, atomic_savefig, atomic_write_text, read_json


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import AutoLocator, MultipleLocator

    plt.MultipleLocator, plt.AutoLocator = MultipleLocator, AutoLocator
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


CONDITION_ORDER = ("clean", "synaptic", "plasticity")
FEEDBACK_ORDER = ("none", "sal", "kp")
FEEDBACK_COLOR = {"none": "C1", "sal": "C2", "kp": "C3"}


@dataclass
class Cell:
    """The finished runs of one (condition, feedback) cell, by seed."""

    condition: str
    feedback: str
    seeds: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    results: list = field(default_factory=list)


@dataclass
class ExperimentRuns:
    name: str
    task: str
    cells: dict  # (condition, feedback) -> Cell
    baselines: list  # baselines.json contents, one per seed
    planned: dict  # (condition, feedback) -> planned runs
    left_out: list  # (run dir, why)


def _load_run(d: Path):
    with np.load(d / "results.npz") as a:
        res = {
            k: a[k]
            for k in ("asym", "val_accuracy", "dkl_exact", "dkl_sampled", "eval_epochs")
            if k in a.files
        }
    return read_json(d / "metrics.json"), res


def _condition_of(m: dict) -> str:
    if m.get("synaptic_noise", 0) and m.get("plasticity_noise", 0):
        return "synaptic+plasticity"
    if m.get("synaptic_noise", 0):
        return "synaptic"
    if m.get("plasticity_noise", 0):
        return "plasticity"
    return "clean"


def _inspect(d: Path, layout, config_hash: str | None = None) -> str | None:
    """None if the run is finished and intact, else why it is left out; with the
    ``config_hash`` of a sweep's manifest, a run of another config is left out too."""
    if config_hash is not None:
        from ..sweep.tasks import run_info

        info = run_info(d, config_hash, layout.family)
    else:
        info = rundir.inspect(d, layout)
    if info.state == "conflict":
        return "holds a run of another config"
    if info.state == "damaged":
        return info.error()
    if info.state != "done":
        return f"unfinished ({info.state})"
    return None


def collect_sweep(source: Path) -> list[ExperimentRuns]:
    """The bm experiments of a sweep directory (``spikealign sweep run bm_...``), from its
    manifest: runs placed by part and seed, never by file order."""
    from ..sweep.layout import read_manifest

    man = read_manifest(source) or {}
    exps: dict[str, ExperimentRuns] = {}
    for part, entry in (man.get("parts") or {}).items():
        if entry.get("kind") not in ("bm", "bm_baselines"):
            continue
        name = entry.get("experiment", entry.get("group", "bm"))
        exp = exps.setdefault(name, ExperimentRuns(name, "", {}, [], {}, []))
        layout = rundir.layout_of(entry["kind"])
        key = (entry.get("condition", ""), entry.get("feedback", ""))
        if entry["kind"] == "bm":
            exp.planned[key] = len(entry["runs"])
            cell = exp.cells.setdefault(key, Cell(*key))
        for r in sorted(entry["runs"], key=lambda r: r["index"]):
            d = Path(source) / part / r["dir"]
            why = _inspect(d, layout, r.get("config_hash"))
            if why is not None:
                exp.left_out.append((d, why))
                continue
            if entry["kind"] == "bm_baselines":
                exp.baselines.append(read_json(d / "baselines.json"))
                continue
            m, res = _load_run(d)
            exp.task = exp.task or m.get("task", "")
            cell.seeds.append(int(r["params"].get("seed", r["index"])))
            cell.metrics.append(m)
            cell.results.append(res)
    return [e for e in exps.values() if any(c.metrics for c in e.cells.values())]


def collect_folder(source: Path) -> list[ExperimentRuns]:
    """A folder of bm run directories (``spikealign bm train --out FOLDER/NAME``): cells from
    each run's noise and feedback, seeds from its config. Runs of different tasks cannot be
    drawn together: a ValueError names the runs of the minority task."""
    import yaml

    layout = rundir.LAYOUTS["bm"]
    exp = ExperimentRuns(Path(source).name, "", {}, [], {}, [])
    tasks: dict[str, list[Path]] = defaultdict(list)
    found = []
    for d in sorted(Path(source).iterdir()):
        if not d.is_dir() or not (d / "config.yaml").is_file():
            continue
        why = _inspect(d, layout)
        if why is not None:
            exp.left_out.append((d, why))
            continue
        m, res = _load_run(d)
        tasks[m.get("task", "?")].append(d)
        found.append((d, m, res))
    if len(tasks) > 1:
        major = max(tasks, key=lambda t: len(tasks[t]))
        odd = [f"{d.name} ({t})" for t, ds in tasks.items() if t != major for d in ds]
        raise ValueError(
            f"figure bm: {source} mixes tasks; {', '.join(odd)} "
            f"{'is' if len(odd) == 1 else 'are'} not {major} like the others"
        )
    for d, m, res in found:
        key = (_condition_of(m), m.get("feedback", "none"))
        cell = exp.cells.setdefault(key, Cell(*key))
        cfg = yaml.safe_load((d / "config.yaml").read_text()) or {}
        cell.seeds.append(int((cfg.get("seed") or {}).get("init", len(cell.seeds))))
        cell.metrics.append(m)
        cell.results.append(res)
        exp.task = m.get("task", "")
        exp.planned[key] = exp.planned.get(key, 0) + 1
    return [exp] if found else []


def score_key(task: str) -> str:
    """The final score of a task: test accuracy with labels; without labels (bars) the D_KL of
    the distribution the network samples (``dkl_sampled``; ``dkl_exact``, the Boltzmann
    machine of the symmetric part ``(W + W^T) / 2``, is not what an asymmetric network
    samples, and is reported beside it)."""
    return "dkl_sampled" if task == "bars" else "test_accuracy"


def second_key(task: str) -> str:
    """The metric reported beside :func:`score_key`."""
    return "dkl_exact" if task == "bars" else "validation_accuracy"


def _is_dkl(key: str) -> bool:
    return key.startswith("dkl")


def _score_values(cell: Cell, key: str) -> np.ndarray:
    return np.array([np.nan if m.get(key) is None else m[key] for m in cell.metrics], dtype=float)


def _by_seed(cell: Cell, values) -> dict:
    return dict(zip(cell.seeds, values, strict=True))


def comparisons(exp: ExperimentRuns) -> list[dict]:
    """Paired comparisons (same seeds) of the experiment, p-values Holm-corrected over all of
    them: for each noisy condition, each feedback against the clean reference and SAL / KP
    against no alignment (score; on the log scale for D_KL), and the fold change of the
    final asymmetry of SAL and KP against no alignment (on the log scale)."""
    from ..stats import holm, paired_test

    key = score_key(exp.task)
    log_score = _is_dkl(key)
    rows = []

    def add(what, a_cell, b_cell, metric, log):
        va = _by_seed(a_cell, _score_values(a_cell, metric))
        vb = _by_seed(b_cell, _score_values(b_cell, metric))
        seeds = sorted(set(va) & set(vb))
        a = np.array([va[k] for k in seeds])
        b = np.array([vb[k] for k in seeds])
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                a, b = np.log10(a), np.log10(b)
        t = paired_test(a, b)
        rows.append(
            {
                "comparison": what,
                "metric": ("log10 " if log else "") + metric,
                "n": t.n,
                "diff": t.diff.mean,
                "low": t.diff.low,
                "high": t.diff.high,
                "p": t.p_t,
                "p_wilcoxon": t.p_wilcoxon,
            }
        )

    ref_cond = _reference(exp)
    clean = exp.cells.get((ref_cond, "none"))
    # an experiment without alignment rules (bm_sleep) asks about validation accuracy too
    metrics = [key]
    if {f for _, f in exp.cells} == {"none"} and not log_score:
        metrics.append(second_key(exp.task))
    for cond in [c for c in _condition_order(exp) if c != ref_cond]:
        for fb in FEEDBACK_ORDER:
            cell = exp.cells.get((cond, fb))
            if cell is None or not cell.metrics:
                continue
            if clean is not None and clean.metrics:
                for metric in metrics:
                    add(f"{cond} {fb} - {ref_cond}", cell, clean, metric, log_score)
            base = exp.cells.get((cond, "none"))
            if fb != "none" and base is not None and base.metrics:
                add(f"{cond} {fb} - {cond} none", cell, base, key, log_score)
                add(f"{cond} {fb} / {cond} none", cell, base, "asymmetry", True)
    adj = holm([r["p"] for r in rows])
    for r, a in zip(rows, adj, strict=True):
        r["p_holm"] = float(a)
    return rows


def _fmt(x, digits=3):
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def table(exp: ExperimentRuns) -> list[str]:
    """Markdown: per cell the mean with its 95 % t interval (ddof = 1) of the final score and
    asymmetry; the baselines; the paired comparisons (:func:`comparisons`)."""
    from ..stats import mean_ci

    key = score_key(exp.task)
    label = "final D_KL (sampled)" if _is_dkl(key) else "test accuracy"
    label2 = "final D_KL (exact, (W+W^T)/2)" if _is_dkl(key) else "validation"
    rows = [
        f"| condition | feedback | runs | {label} [95 % CI] | {label2} [95 % CI] | "
        "final asymmetry [95 % CI] |",
        "|---|---|---|---|---|---|",
    ]
    for (cond, fb), cell in _ordered(exp.cells, _condition_order(exp)):
        s = mean_ci(_score_values(cell, key))
        v = mean_ci(_score_values(cell, second_key(exp.task)))
        a = mean_ci(_score_values(cell, "asymmetry"))
        n = f"{len(cell.metrics)}/{exp.planned.get((cond, fb), len(cell.metrics))}"
        n_inf = int(np.sum(np.isinf(_score_values(cell, key))))
        if n_inf:  # left out of the mean: say so
            n += f" ({n_inf} infinite)"
        rows.append(
            f"| {cond} | {fb} | {n} | {_fmt(s.mean, 4)} [{_fmt(s.low, 4)}, "
            f"{_fmt(s.high, 4)}] | {_fmt(v.mean, 4)} [{_fmt(v.low, 4)}, "
            f"{_fmt(v.high, 4)}] | {_fmt(a.mean)} [{_fmt(a.low)}, {_fmt(a.high)}] |"
        )
    base = baseline_summary(exp)
    if base:
        rows += [
            "",
            "| baseline | seeds | test accuracy [95 % CI] | validation |",
            "|---|---|---|---|",
        ]
        for name, (t, v) in base.items():
            rows.append(
                f"| {name} | {t.n} | {_fmt(t.mean, 4)} [{_fmt(t.low, 4)}, "
                f"{_fmt(t.high, 4)}] | {_fmt(v.mean, 4)} |"
            )
    comp = comparisons(exp)
    if comp:
        rows += [
            "",
            "Paired by seed; p: paired t-test, Holm-corrected over the "
            f"{len(comp)} comparisons (p_W: Wilcoxon signed-rank, uncorrected).",
            "",
            "| comparison | metric | n | mean difference [95 % CI] | p | p (Holm) | p_W |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in comp:
            rows.append(
                f"| {r['comparison']} | {r['metric']} | {r['n']} | "
                f"{_fmt(r['diff'])} [{_fmt(r['low'])}, {_fmt(r['high'])}] | "
                f"{_fmt(r['p'], 2)} | {_fmt(r['p_holm'], 2)} | "
                f"{_fmt(r['p_wilcoxon'], 2)} |"
            )
    return rows


def baseline_summary(exp: ExperimentRuns) -> dict:
    """``{name: (test MeanCI, validation MeanCI)}`` over the baseline seeds."""
    from ..stats import mean_ci

    names = sorted({k for b in exp.baselines for k in b})
    return {
        n: (
            mean_ci([b[n]["test_accuracy"] for b in exp.baselines if n in b]),
            mean_ci([b[n]["validation_accuracy"] for b in exp.baselines if n in b]),
        )
        for n in names
    }


def _experiment(name: str):
    from .experiments import EXPERIMENTS

    return EXPERIMENTS.get(name)


def _reference(exp: ExperimentRuns) -> str:
    """The condition the others are compared with: the experiment's ``reference``."""
    e = _experiment(exp.name)
    return e.reference if e is not None else "clean"


def _condition_order(exp: ExperimentRuns) -> list[str]:
    """Conditions in the experiment's own order (its preset), else clean, synaptic,
    plasticity, then the others by name."""
    e = _experiment(exp.name)
    if e is not None:
        order = list(e.conditions)
    else:
        order = list(CONDITION_ORDER)
    return order + sorted({c for c, _ in exp.cells} - set(order))


def _ordered(cells: dict, order=CONDITION_ORDER):
    order = list(order)

    def rank(item):
        (c, f), _ = item
        return (
            order.index(c) if c in order else len(order),
            FEEDBACK_ORDER.index(f) if f in FEEDBACK_ORDER else 9,
            c,
            f,
        )

    return sorted(((k, v) for k, v in cells.items() if v.metrics), key=rank)


def figure_bm(source: Path, out: Path, quick: bool = False) -> list[Path]:
    """The experiment figure(s) of a sweep directory (one per bm experiment in it) or of a
    folder of bm runs: (a) the final score per condition and feedback, mean and 95 % t
    interval over seeds, with the baselines as reference lines; (b) the final asymmetry,
    the same; (c) the validation score over epochs; (d) the asymmetry over epochs (means over
    seeds). Writes ``<experiment>.png/.pdf/.npz`` and ``<experiment>.md`` (table and paired
    comparisons)."""
    from ..sweep.layout import MANIFEST

    if source is None or not Path(source).is_dir():
        raise ValueError(f"figure bm: {source} is not a directory of bm runs")
    out = rundir.check_out(out)
    source = Path(source)
    exps = collect_sweep(source) if (source / MANIFEST).is_file() else collect_folder(source)
    left = [e for x in exps for e in x.left_out]
    for d, why in left:
        warnings.warn(f"figure bm: {d} left out: {why}", stacklevel=2)
    if not exps:
        raise ValueError(f"figure bm: no finished bm runs in {source}")
    paths = []
    for exp in exps:
        paths += _draw(exp, Path(out))
    return paths


def _draw(exp: ExperimentRuns, out: Path) -> list[Path]:
    from ..stats import mean_ci

    plt = _plt()
    key = score_key(exp.task)
    cells = _ordered(exp.cells, _condition_order(exp))
    # without noise the weights stay symmetric: panel (b) shows the validation score instead
    symmetric = all(
        np.nanmax(np.abs(_score_values(c, "asymmetry")), initial=0.0) == 0 for _, c in cells
    )
    by_condition = len({f for (_, f), _ in cells}) == 1  # one rule: colour by condition
    fig, ax = plt.subplots(1, 4, figsize=(17, 3.9))
    plotted: dict[str, np.ndarray] = {}
    xt, xl = [], []
    lows, highs = [], []
    for x, ((cond, fb), cell) in enumerate(cells):
        color = f"C{x % 10}" if by_condition else FEEDBACK_COLOR.get(fb, "C0")
        vals = _score_values(cell, key)
        if _is_dkl(key):  # geometric mean and its interval (log scale)
            with np.errstate(divide="ignore"):
                ci = mean_ci(np.log10(vals))
            mid, lo, hi = 10**ci.mean, 10**ci.low, 10**ci.high
        else:
            ci = mean_ci(vals)
            mid, lo, hi = ci.mean, ci.low, ci.high
        ax[0].errorbar(
            [x],
            [mid],
            yerr=[[mid - lo], [hi - mid]] if np.isfinite(lo) else None,
            fmt="o",
            color=color,
            capsize=4,
        )
        ax[0].plot(np.full(len(vals), x) + 0.18, vals, ".", color=color, alpha=0.35, ms=4)
        lows += [np.nanmin(vals), lo]
        highs += [np.nanmax(vals), hi]
        a = _score_values(cell, second_key(exp.task) if symmetric else "asymmetry")
        ca = mean_ci(a)
        ax[1].errorbar(
            [x],
            [ca.mean],
            yerr=[[ca.mean - ca.low], [ca.high - ca.mean]] if np.isfinite(ca.low) else None,
            fmt="o",
            color=color,
            capsize=4,
        )
        ax[1].plot(np.full(len(a), x) + 0.18, a, ".", color=color, alpha=0.35, ms=4)
        xt.append(x)
        xl.append(f"{cond}\n{fb}")
        plotted[f"{cond}_{fb}_{key}"] = vals
        plotted[f"{cond}_{fb}_{second_key(exp.task) if symmetric else 'asymmetry'}"] = a
        plotted[f"{cond}_{fb}_seeds"] = np.array(cell.seeds)
        ls = {"clean": ":", "synaptic": "-", "plasticity": "--"}.get(cond, "-.")
        curve_key = key if _is_dkl(key) else "val_accuracy"
        curves = [r[curve_key] for r in cell.results if curve_key in r]
        if curves and len({len(c) for c in curves}) == 1:
            ep = cell.results[0]["eval_epochs"]
            mean = np.nanmean(np.array(curves, dtype=float), axis=0)
            ax[2].plot(ep, mean, ls, color=color, marker=".", label=f"{cond} {fb}")
            plotted[f"{cond}_{fb}_curve"] = mean
        asyms = [r["asym"] for r in cell.results]
        if asyms and len({len(c) for c in asyms}) == 1 and not symmetric:
            mean = np.mean(np.array(asyms, dtype=float), axis=0)
            ax[3].plot(np.arange(len(mean)), mean, ls, color=color, label=f"{cond} {fb}")
            plotted[f"{cond}_{fb}_asym_curve"] = mean
    base = baseline_summary(exp)
    styles = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
    shades = ["0.15", "0.3", "0.45", "0.6", "0.35", "0.5"]
    ordered = sorted(base.items(), key=lambda kv: -kv[1][0].mean)
    for k, (name, (t, _)) in enumerate(ordered):
        if not np.isfinite(t.mean):
            continue
        ax[0].axhline(
            t.mean,
            color=shades[k % 6],
            lw=0.9,
            ls=styles[k % 6],
            label=f"{name.replace('_', ' ')} {t.mean:.3f}",
        )
        lows.append(t.mean)
        highs.append(t.mean)
        plotted[f"baseline_{name}_test"] = np.array([t.mean, t.low, t.high])
    if base:
        ax[0].legend(
            fontsize=6,
            title="baselines (test, mean)",
            title_fontsize=6,
            loc="lower left",
            frameon=False,
        )
    for a in ax[:2]:
        a.set_xticks(xt, xl, fontsize=7)
        a.set_xlim(-0.5, len(cells) - 0.3)
    finite_lo = [v for v in lows if np.isfinite(v)]
    finite_hi = [v for v in highs if np.isfinite(v)]
    if _is_dkl(key):
        for a in (ax[0], ax[2]):  # log only where there is something positive to show
            ys = [y for line in a.get_lines() for y in np.ravel(line.get_ydata())]
            if any(np.isfinite(y) and y > 0 for y in ys):
                a.set_yscale("log")
        ax[0].set_ylabel("final D_KL(data || sampled) (geom. mean, 95 % CI)")
        ax[2].set_ylabel("D_KL (sampled), mean over seeds")
    else:
        if finite_lo and finite_hi:  # zoomed so that a 1-point difference is visible
            lo, hi = min(finite_lo), max(finite_hi)
            pad = max(0.005, 0.08 * (hi - lo))
            ax[0].set_ylim(lo - pad, hi + pad)
        ax[0].set_ylabel("test accuracy (mean, 95 % CI)")
        ax[0].yaxis.set_major_locator(
            _plt().MultipleLocator(0.01)
            if finite_hi and max(finite_hi) - min(finite_lo) < 0.12
            else _plt().AutoLocator()
        )
        ax[0].grid(axis="y", lw=0.3, alpha=0.5)
        ax[2].set_ylabel("validation accuracy, mean over seeds")
    if symmetric:
        ax[1].set_ylabel(f"final {second_key(exp.task).replace('_', ' ')} (mean, 95 % CI)")
        ax[1].grid(axis="y", lw=0.3, alpha=0.5)
        ax[3].text(
            0.5,
            0.5,
            "no noise: W_ij = W_ji throughout",
            ha="center",
            va="center",
            transform=ax[3].transAxes,
            fontsize=8,
        )
        ax[3].set_yticks([])
    else:
        ax[1].set_yscale("symlog", linthresh=1e-4)
        ax[1].set_ylabel("final Var(W_ij - W_ji) (mean, 95 % CI)")
    ax[2].set_xlabel("epoch")
    ax[2].legend(fontsize=6)
    if not symmetric:
        ax[3].set_yscale("symlog", linthresh=1e-4)
    ax[3].set_xlabel("epoch")
    ax[3].set_ylabel("Var(W_ij - W_ji), mean over seeds")
    n_runs = sum(len(c.metrics) for _, c in cells)
    planned = sum(exp.planned.values())
    fig.suptitle(
        f"spiking Boltzmann machine: {exp.name} ({exp.task}; {n_runs}/{planned} runs; "
        f"points: single seeds)",
        fontsize=10,
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{exp.name}.png", out / f"{exp.name}.pdf"]
    for p in paths:
        atomic_savefig(fig, p, dpi=130)
    plt.close(fig)
    atomic_save_npz(out / f"{exp.name}.npz", **plotted)
    atomic_write_text(out / f"{exp.name}.md", "\n".join(table(exp)) + "\n")
    return paths + [out / f"{exp.name}.npz", out / f"{exp.name}.md"]


#: the networks whose free samples :func:`figure_samples` shows: (condition, feedback, title)
SAMPLE_CELLS = (
    ("clean", "none", "noise-free"),
    ("synaptic", "none", "synaptic noise 0.5, no alignment"),
    ("synaptic", "sal", "synaptic noise 0.5, SAL"),
)


def free_samples(W, b, cfg, n_samples: int, spacing: int, burn_in: int, rng) -> np.ndarray:
    """Binary visible states ``(n_samples, n_visible)`` of one free phase (every unit free,
    labels too) of the network ``(W, b)`` of a bm config ``cfg``: the states at steps
    ``burn_in, burn_in + spacing, ...`` (a unit is on in the ``t_ref`` steps after a spike,
    :mod:`spikealign.spikes`)."""
    from ..spikes import states_from_spikes
    from .model import BoltzmannMachine, make_mask
    from .train import sim_params

    n_vis = len(b) - cfg.network.n_hidden - (0 if cfg.task == "bars" else 10)
    n_label = len(b) - cfg.network.n_hidden - n_vis
    mask = make_mask(n_vis + n_label, cfg.network.n_hidden, cfg.network.connectivity)
    net = BoltzmannMachine(W, b, n_vis, n_label, mask, sim_params(cfg))
    T = burn_in + spacing * n_samples
    st = net.phase(T, rng, None, record=True)
    z = states_from_spikes(st.spikes, net.n, cfg.sim.t_ref, T, 1)
    return z[burn_in::spacing][:n_samples, :n_vis]


def figure_samples(source: Path, out: Path, quick: bool = False) -> list[Path]:
    """Freely sampled digit images of the ``bm_digits`` experiment in ``source`` (a sweep
    directory): for seed 0 of the noise-free network, the network under synaptic noise
    without alignment and the one with SAL (:data:`SAMPLE_CELLS`), the visible states of one
    free phase from rest (labels free too), one every 100 steps after 1000 steps (``quick``:
    fewer). Writes ``bm_samples.png/.pdf/.npz``."""
    import yaml

    from ..sweep.layout import read_manifest
    from .config import BMConfig

    source, out = Path(source), rundir.check_out(out)
    parts = (read_manifest(source) or {}).get("parts") or {}
    n_rows, n_cols = (2, 8) if quick else (4, 10)
    found = []
    for cond, fb, title in SAMPLE_CELLS:
        entry = next(
            (
                e
                for e in parts.values()
                if e.get("kind") == "bm"
                and e.get("condition") == cond
                and e.get("feedback") == fb
                and e.get("experiment", "").startswith("bm_digits")
            ),
            None,
        )
        if entry is None:
            continue
        part = next(n for n, e in parts.items() if e is entry)
        run = min(entry["runs"], key=lambda r: r["params"].get("seed", r["index"]))
        d = source / part / run["dir"]
        why = _inspect(d, rundir.LAYOUTS["bm"])
        if why is not None:
            warnings.warn(f"figure bm-samples: {d} left out: {why}", stacklevel=2)
            continue
        cfg = BMConfig.model_validate(yaml.safe_load((d / "config.yaml").read_text()))
        with np.load(d / "results.npz") as a:
            W, b = a["final_weights"], a["final_biases"]
        rng = np.random.default_rng([int(run["params"].get("seed", 0)), 2024])
        x = free_samples(W, b, cfg, n_rows * n_cols, 100, 1000, rng)
        found.append((title, x, int(run["params"].get("seed", 0)), part))
    if not found:
        cells = ", ".join(f"{c}-{f}" for c, f, _ in SAMPLE_CELLS)
        raise ValueError(f"figure bm-samples: no finished bm_digits runs of {cells} in {source}")
    plt = _plt()
    fig, axes = plt.subplots(1, len(found), figsize=(4.2 * len(found), 0.45 * n_rows + 0.9))
    axes = np.atleast_1d(axes)
    plotted = {}
    for ax, (title, x, seed, part) in zip(axes, found, strict=True):
        side = int(round(np.sqrt(x.shape[1])))
        tiles = x.reshape(n_rows, n_cols, side, side).transpose(0, 2, 1, 3)
        grid = np.ones((n_rows * (side + 1) - 1, n_cols * (side + 1) - 1)) * 0.5
        for r in range(n_rows):
            for c in range(n_cols):
                grid[
                    r * (side + 1) : r * (side + 1) + side, c * (side + 1) : c * (side + 1) + side
                ] = tiles[r, :, c, :]
        ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{title}\n(seed {seed})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        plotted[part] = x
    fig.suptitle(
        "free samples of the visible units (one every 100 steps after 1000 steps from rest)",
        fontsize=9,
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "bm_samples.png", out / "bm_samples.pdf"]
    for p in paths:
        atomic_savefig(fig, p, dpi=130)
    plt.close(fig)
    atomic_save_npz(out / "bm_samples.npz", **plotted)
    return paths + [out / "bm_samples.npz"]
