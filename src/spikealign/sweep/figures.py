"""Figures 4 and 5 from a sweep directory (``reference-model`` 2.8, upstream v3 with KP).

Four panels, statistics across the 20 seeds (5 targets x 4 initialisations) of each noise
level: median and interquartile range (``nanquantile``), over validation points for the curves
and of the last validation for the final values.

(a) ``Var(W_ij - W_ji)`` against wake-sleep cycles: baseline (no noise, no alignment, dashed),
    the highlighted noise level without alignment (dotted), with SAL (solid), with KP
    (dash-dot); numbered round markers at the right end label the curves.
(b) The same for ``D_KL(p* || p)`` (log scale).
(c) Final asymmetry against the noise level: SAL, no alignment and KP side by side, the
    baseline as a horizontal line with its IQR band.
(d) The same for ``D_KL``.

Figure 4: synaptic noise (``init_noise``), levels 0-0.8 plotted (level 1.0 is run but, as
upstream, not plotted), highlight 0.8, asymmetry on a symlog scale (linthresh 1e-4).
Figure 5: plasticity noise (``stdp.ws.noise = stdp.sal.noise``), levels 0-0.05, highlight 0.05,
baseline init noise 0.2 and no plasticity noise, log scales.

Runs are placed by their run index and noise level from the sweep manifest, never by file
order: a missing or unfinished run is a NaN row, and so is a run whose result files do not
match their recorded checksums (left out with a warning naming it). Wherever fewer runs than
planned entered a statistic, the figure says so (``n/N`` next to the point, ``(n/N runs)``
in the legend, a footnote with the counts per part). Each KP curve is drawn on its own cycle
axis (the figure 5 twin runs 20 001 cycles, the others 150 001).

Files: ``fig4.png``, ``fig4.pdf``, ``fig4.npz`` (everything plotted) and ``fig4_finals.csv``
(the final values per noise level and variant: runs, infinite D_KL, quartiles) in ``out``.
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import rundir
from ..io import atomic_save_npz, atomic_write_text
from .layout import read_manifest

FEEDBACKS = ("none", "sal", "kp")
LABEL = {"baseline": "baseline", "none": "w/o SAL", "sal": "with SAL", "kp": "with KP"}
COLOR = {"baseline": "C0", "none": "C1", "sal": "C2", "kp": "C3"}
STYLE = {"baseline": "--", "none": ":", "sal": "-", "kp": "-."}
MARKER = {"none": "3", "sal": "x", "kp": "4"}
NUMBER = {"baseline": "1", "none": "2", "sal": "3", "kp": "4"}
OFFSET = {"sal": 1, "none": 0, "kp": -1}  # in units of _offset_unit
NUMBER_DX = {"sal": 8, "none": 8, "kp": -8}  # points between an error bar and its number


@dataclass(frozen=True)
class FigureSpec:
    fig_id: str
    group: str  # the paper's part prefix
    title: str
    noise_label: str
    baseline_label: str
    asym_scale: str  # "symlog" or "log"
    paper: str = "v2"
    baseline_color: str = "C0"
    dkl_ylim: tuple = (None, None)  # (left, right) D_KL limits of the paper, widened to the data


SYN = r"$\sigma^\mathrm{noise}_\mathrm{syn}$"
PLAST = r"$\sigma^\mathrm{noise}_\mathrm{plast}$"
#: by (figure, paper version); v2: the main branch's notebook (no KP in the paper: a KP part of
#: a v2 sweep is a spikealign extension and labelled so), v3: the PR #10 notebook
SPECS = {
    ("4", "v2"): FigureSpec(
        "4", "syn_noise", "synaptic noise", SYN, f"baseline ({SYN} = 0)", "symlog"
    ),
    ("5", "v2"): FigureSpec(
        "5", "plast_noise", "plasticity noise", PLAST, f"baseline ({SYN} = 0.2, {PLAST} = 0)", "log"
    ),
    ("4", "v3"): FigureSpec(
        "4",
        "syn_noise_v3",
        "synaptic noise",
        SYN,
        f"baseline ({SYN} = 0, {PLAST} = 0)",
        "symlog",
        "v3",
        "C0",
        ((1e-3, 2.0), (4e-3, 2.1e-2)),
    ),
    ("5", "v3"): FigureSpec(
        "5",
        "plast_noise_v3",
        "plasticity noise",
        PLAST,
        f"baseline ({SYN} = 0.2, {PLAST} = 0)",
        "log",
        "v3",
        "purple",
    ),
}


@dataclass
class PartData:
    """The runs of one part, aligned by run index (NaN rows for runs without results)."""

    name: str
    feedback: str
    levels: np.ndarray  # (n_runs,) noise level of each run
    cycles: np.ndarray  # (n_val,)
    dkls: np.ndarray  # (n_runs, n_val)
    asym: np.ndarray  # (n_runs, n_val)
    present: np.ndarray  # (n_runs,) bool

    def rows(self, level: float) -> np.ndarray:
        return np.isclose(self.levels, level)

    def final(self, level: float, key: str) -> np.ndarray:
        """Last validation's ``dkl`` or ``asym`` of the runs at ``level`` (NaN: no result)."""
        arr = self.dkls if key == "dkl" else self.asym
        rows = self.rows(level)
        return arr[rows, -1] if arr.shape[1] else np.full(int(rows.sum()), np.nan)


def finished(run_dir: Path, kind: str | None) -> bool:
    """Whether the run is done with its result files intact (checksums verified); a damaged
    run is left out with a warning naming it."""
    info = rundir.inspect(run_dir, rundir.layout_of(kind))
    if info.state == "damaged":
        warnings.warn(f"{run_dir}: left out of the figure, {info.error()}", stacklevel=3)
    return info.state == "done"


def load_part(source: Path, name: str, entry: dict) -> PartData:
    """Load ``dkls`` and ``all_asym`` of every finished run of a part; NaN rows otherwise."""
    runs = sorted(entry["runs"], key=lambda r: r["index"])
    loaded: dict[int, tuple] = {}
    cycles = None
    for k, r in enumerate(runs):
        run_dir = Path(source) / name / r["dir"]
        if not finished(run_dir, entry.get("kind")):
            continue
        try:
            with np.load(run_dir / "results.npz") as f:
                d, a, c = f["dkls"], f["all_asym"], f["val_cycles"]
        except (OSError, KeyError, ValueError):
            warnings.warn(f"{run_dir}: unreadable results.npz, treated as missing", stacklevel=2)
            continue
        if cycles is None:
            cycles = np.asarray(c)
        if len(c) != len(cycles) or not np.array_equal(c, cycles):
            warnings.warn(
                f"{run_dir}: other validation cycles than the part's first run, treated as missing",
                stacklevel=2,
            )
            continue
        loaded[k] = (d, a)
    if cycles is None:
        cycles = np.zeros(0, dtype=np.int64)
    n, m = len(runs), len(cycles)
    dkls = np.full((n, m), np.nan)
    asym = np.full((n, m), np.nan)
    present = np.zeros(n, dtype=bool)
    for k, (d, a) in loaded.items():
        dkls[k], asym[k], present[k] = d, a, True
    levels = np.array([float(r["params"]["noise"]) for r in runs])
    return PartData(name, entry["feedback"], levels, cycles, dkls, asym, present)


def quartiles(x: np.ndarray) -> np.ndarray:
    """25/50/75 % quantiles over axis 0 (linear interpolation, as ``np.nanquantile``).

    NaN (a run without results) is left out. ``+inf`` (``D_KL`` of a run that never sampled a
    target state, possible with ``val_factor`` 100) is kept as the largest value: a quantile
    that falls on an infinite value, or interpolates towards one, is ``inf``; the others are
    exact. (``np.nanquantile`` gives ``nan`` where it interpolates between two infinities.)
    All-NaN columns give NaN.
    """
    x = np.asarray(x, dtype=float)
    if x.shape[0] == 0:
        return np.full((3,) + x.shape[1:], np.nan)
    srt = np.sort(x, axis=0)  # NaN last, +inf just before
    n = np.sum(~np.isnan(x), axis=0)
    out = np.full((3,) + x.shape[1:], np.nan)
    for k, q in enumerate((0.25, 0.5, 0.75)):
        h = (np.maximum(n, 1) - 1) * q
        lo = np.floor(h).astype(np.int64)
        hi = np.ceil(h).astype(np.int64)
        frac = h - lo
        v_lo = np.take_along_axis(srt, lo[None], axis=0)[0]
        v_hi = np.take_along_axis(srt, hi[None], axis=0)[0]
        with np.errstate(invalid="ignore"):
            val = np.where(frac > 0, v_lo + frac * (v_hi - v_lo), v_lo)
        val = np.where(np.isinf(v_lo) | ((frac > 0) & np.isinf(v_hi)), np.inf, val)
        out[k] = np.where(n > 0, val, np.nan)
    return out


def count_infinite(x: np.ndarray) -> np.ndarray:
    """Number of infinite entries over axis 0."""
    return np.sum(np.isinf(np.asarray(x, dtype=float)), axis=0)


def figure_parts(source: Path, fig_id: str) -> tuple[dict, dict]:
    """``(entries by feedback, all entries)`` of the parts of figure ``fig_id`` in ``source``.

    Uses the sweep manifest; without one (runs copied from elsewhere) the paper grid of the
    presets (v2 and v3) is assumed for the part directories that exist. A directory may hold
    one sweep per figure (v2 or v3), not both.
    """
    source = Path(source)
    man = read_manifest(source)
    if man is not None:
        entries = {k: v for k, v in man["parts"].items() if v.get("figure") == fig_id}
    else:
        from .layout import part_entry
        from .presets import PRESETS

        entries = {}
        for preset in (f"fig{fig_id}", f"fig{fig_id}_v3"):
            for part in PRESETS[preset][1]:
                if (source / part.name).is_dir():
                    entries[part.name] = part_entry(part, part.specs("paper"), "unknown", {})
    if not entries:
        raise FileNotFoundError(
            f"{source}: no runs of figure {fig_id}; run `spikealign sweep run fig{fig_id} "
            f"--out {source}` first"
        )
    groups = sorted({v["group"] for v in entries.values()})
    if len(groups) > 1:
        raise ValueError(
            f"{source}: several sweeps of figure {fig_id} ({', '.join(groups)}); "
            "keep each in its own directory"
        )
    group = groups[0]
    chosen = {v["feedback"]: (k, v) for k, v in entries.items() if v["group"] == group}
    return chosen, entries


def _offset_unit(levels) -> float:
    """Horizontal offset between the error bars of one level (0.02 for levels 0-0.8)."""
    span = float(np.max(levels) - np.min(levels)) if len(levels) > 1 else 0.0
    return 0.025 * span if span > 0 else 0.02


def figure_data(source: Path, fig_id: str) -> dict:
    """Everything the figure plots, as arrays (also saved as the figure's npz)."""
    chosen, _ = figure_parts(source, fig_id)
    parts = {fb: load_part(source, name, entry) for fb, (name, entry) in chosen.items()}
    ref = chosen.get("none", next(iter(chosen.values())))[1]
    highlight = float(ref["highlight"])
    all_levels = sorted({float(r["params"]["noise"]) for r in ref["runs"]})
    levels = [lv for lv in all_levels if lv <= highlight + 1e-12]
    data: dict = {
        "levels": np.array(levels),
        "highlight": np.float64(highlight),
        "parts": np.array([chosen[fb][0] for fb in FEEDBACKS if fb in chosen]),
        "paper": np.array(ref.get("paper", "v2")),
        "kp_paper": np.array(chosen["kp"][1].get("paper", "none") if "kp" in chosen else ""),
    }
    for fb in FEEDBACKS:
        if fb not in parts:
            continue
        p = parts[fb]
        finals = {"dkl": [], "asym": [], "inf": []}
        counts, planned = [], []
        for lv in levels:
            rows = p.rows(lv)
            planned.append(int(rows.sum()))
            counts.append(int(p.present[rows].sum()))
            for key in ("dkl", "asym"):
                finals[key].append(quartiles(p.final(lv, key)))
            finals["inf"].append(int(count_infinite(p.final(lv, "dkl"))))
        data[f"{fb}_count"] = np.array(counts)
        data[f"{fb}_planned"] = np.array(planned)
        for key in ("dkl", "asym"):
            data[f"{fb}_final_{key}"] = np.array(finals[key]).T.reshape(3, len(levels))
        data[f"{fb}_final_dkl_inf"] = np.array(finals["inf"], dtype=np.int64)
        data[f"{fb}_missing_total"] = np.int64((~p.present).sum())
        data[f"{fb}_infinite_dkl"] = np.int64(np.isinf(p.dkls[:, -1]).sum() if p.dkls.size else 0)
        data[f"{fb}_runs_total"] = np.int64(len(p.present))
    curves = {"baseline": ("none", min(levels) if levels else 0.0)}
    curves.update({fb: (fb, highlight) for fb in FEEDBACKS})
    for curve, (fb, lv) in curves.items():
        if fb not in parts:
            continue
        p = parts[fb]
        rows = p.rows(lv)
        data[f"{curve}_cycles"] = p.cycles
        data[f"{curve}_asym"] = quartiles(p.asym[rows])
        data[f"{curve}_dkl"] = quartiles(p.dkls[rows])
        data[f"{curve}_dkl_inf"] = count_infinite(p.dkls[rows]).astype(np.int64)
        data[f"{curve}_n"] = np.array([int(p.present[rows].sum()), int(rows.sum())])
    return data


def draw(data: dict, spec: FigureSpec, stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    from ..ssn.plots import _save

    levels = data["levels"]
    unit = _offset_unit(levels)
    color = {**COLOR, "baseline": spec.baseline_color}
    fig, ax = plt.subplots(
        2, 2, figsize=(9.5, 6.2), sharex="col", gridspec_kw={"wspace": 0.35, "hspace": 0.12}
    )
    handles = []
    xmax = 0.0
    for curve in ("baseline", "none", "sal", "kp"):
        if f"{curve}_cycles" not in data:
            continue
        cyc = data[f"{curve}_cycles"]
        n, planned = data[f"{curve}_n"]
        label = LABEL[curve]
        if curve == "kp" and str(data.get("kp_paper", "")) == "none":
            label += " (extension)"  # a v2 sweep: the paper's v2 has no KP runs
        if n < planned:
            label += f" ({n}/{planned} runs)" if n else " (no runs)"
        for row, key in ((0, "asym"), (1, "dkl")):
            q = data[f"{curve}_{key}"]
            if len(cyc):
                ax[row, 0].plot(cyc, q[1], STYLE[curve], color=color[curve])
                ax[row, 0].fill_between(
                    cyc, q[0], q[2], color=color[curve], alpha=0.25, linewidth=0
                )
        if len(cyc):
            xmax = max(xmax, float(cyc[-1]))
        handles.append(
            Line2D(
                [],
                [],
                color=color[curve],
                linestyle=STYLE[curve],
                marker=MARKER.get(curve),
                label=label,
            )
        )
    for row, key in ((0, "asym"), (1, "dkl")):  # numbered markers at the curves' ends
        for curve in ("baseline", "none", "sal", "kp"):
            if f"{curve}_{key}" not in data or not len(data[f"{curve}_cycles"]):
                continue
            y = data[f"{curve}_{key}"][1][-1]
            if np.isfinite(y):  # staggered, so that equal final values stay readable
                x = xmax * (1.06 + 0.055 * (int(NUMBER[curve]) - 1))
                _number(ax[row, 0], x, y, NUMBER[curve], color[curve])
        if xmax:
            ax[row, 0].set_xlim(-0.02 * xmax, xmax * 1.27)
            ticks = [t for t in ax[row, 0].get_xticks() if 0 <= t <= xmax * 1.001]
            ax[row, 0].set_xticks(ticks)
    for row, key in ((0, "asym"), (1, "dkl")):
        a = ax[row, 1]
        if "baseline_cycles" in data:
            q = data[f"baseline_{key}"][:, -1] if len(data["baseline_cycles"]) else [np.nan] * 3
            if np.all(np.isfinite(q)):
                a.axhline(q[1], color=color["baseline"], zorder=-1)
                a.axhspan(q[0], q[2], color=color["baseline"], alpha=0.25, zorder=-2, linewidth=0)
                _number(a, levels.min() - 3.5 * unit, q[1], NUMBER["baseline"], color["baseline"])
        trans = blended_transform_factory(a.transData, a.transAxes)
        for fb in ("sal", "none", "kp"):
            if f"{fb}_final_{key}" not in data:
                continue
            q = data[f"{fb}_final_{key}"]
            x = levels + OFFSET[fb] * unit
            with np.errstate(invalid="ignore"):  # an infinite quartile has no bar (footnote)
                yerr = np.nan_to_num([q[1] - q[0], q[2] - q[1]], nan=0.0, posinf=0.0)
            a.errorbar(
                x, q[1], yerr=yerr, fmt=MARKER[fb], capsize=3, color=color[fb], linestyle="none"
            )
            count, planned = data[f"{fb}_count"], data[f"{fb}_planned"]
            for k, (xi, yi, c, pl) in enumerate(zip(x, q[1], count, planned, strict=True)):
                if c == 0:  # nothing to show: a cross on the axis
                    a.plot(
                        [xi], [0.03], marker="x", color=color[fb], transform=trans, clip_on=False
                    )
                    a.text(
                        xi,
                        0.07,
                        f"0/{pl}",
                        color=color[fb],
                        transform=trans,
                        ha="center",
                        fontsize=6,
                    )
                elif not np.isfinite(yi):  # median infinite (D_KL of an unsampled state)
                    a.text(
                        xi,
                        0.92,
                        "inf" + (f" {c}/{pl}" if c < pl else ""),
                        color=color[fb],
                        transform=trans,
                        ha="center",
                        fontsize=6,
                    )
                if key == "dkl" and c and data[f"{fb}_final_dkl_inf"][k]:
                    # runs whose final D_KL is infinite: counted next to the point
                    a.text(
                        xi,
                        0.02 + 0.05 * (OFFSET[fb] + 1),
                        f"{data[f'{fb}_final_dkl_inf'][k]}"
                        r"$\times\infty$",
                        color=color[fb],
                        transform=trans,
                        ha="center",
                        fontsize=5,
                    )
                elif c < pl:
                    a.annotate(
                        f"{c}/{pl}",
                        (xi, q[2][k]),
                        xytext=(0, 3),
                        textcoords="offset points",
                        ha="center",
                        fontsize=6,
                        color=color[fb],
                    )
            hl = np.isclose(levels, data["highlight"])
            if hl.any() and np.isfinite(q[1][hl][0]):
                a.annotate(
                    NUMBER[fb],
                    (x[hl][0], q[1][hl][0]),
                    xytext=(NUMBER_DX[fb], 0),
                    textcoords="offset points",
                    fontsize=6,
                    color=color[fb],
                    va="center",
                    ha="center",
                    bbox={"boxstyle": "circle,pad=0.15", "fc": "white", "ec": color[fb], "lw": 0.6},
                )
        a.set_xticks(levels)
        if len(levels):
            a.set_xlim(levels.min() - 5 * unit, levels.max() + 4 * unit)
    for col in (0, 1):
        if spec.asym_scale == "symlog":
            ax[0, col].set_yscale("symlog", linthresh=1e-4)
            ax[0, col].set_ylim(-5e-5, 3)
        else:
            ax[0, col].set_yscale("log")
        ax[1, col].set_yscale("log")
        if spec.dkl_ylim[col] is not None:  # the paper's limits, widened to show all data
            lo, hi = spec.dkl_ylim[col]
            cur = ax[1, col].get_ylim()
            ax[1, col].set_ylim(min(lo, cur[0]), max(hi, cur[1]))
        ax[0, col].set_ylabel(r"$\mathrm{Var}\,(W_{ij} - W_{ji})$")
        ax[1, col].set_ylabel(r"$D_\mathrm{KL}(p^* \| p)$")
    ax[1, 0].set_xlabel("wake-sleep cycles")
    ax[1, 0].ticklabel_format(style="sci", scilimits=(-3, 4), axis="x")
    ax[1, 1].set_xlabel(spec.noise_label)
    for row in (0, 1):  # the highlighted level, in both time-course panels
        ax[row, 0].text(
            0.03,
            0.06,
            f"{spec.noise_label} = {data['highlight']:g}",
            transform=ax[row, 0].transAxes,
            fontsize=8,
            bbox={"boxstyle": "round", "fc": (1, 1, 1, 0.7), "ec": "black"},
        )
    for a, letter in zip(ax.ravel(), "acbd", strict=True):
        a.text(-0.2, 1.02, letter, transform=a.transAxes, fontweight="bold")
    if handles:
        handles[0].set_label(handles[0].get_label().replace("baseline", spec.baseline_label, 1))
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=4,
        fontsize=8,
        title=spec.title,
        title_fontproperties={"weight": "bold"},
        bbox_to_anchor=(0.5, 1.03),
    )
    fig.text(0.01, 0.0, textwrap.fill(_footnote(data), 150), fontsize=7, ha="left", va="top")
    paths = _save(fig, stem)
    plt.close(fig)
    return paths


def _number(ax, x, y, text, color, transform=None):
    kw = {"transform": transform} if transform is not None else {}
    ax.plot(
        [x],
        [y],
        marker="o",
        markersize=9,
        markerfacecolor="white",
        color=color,
        clip_on=False,
        **kw,
    )
    ax.text(x, y, text, color=color, ha="center", va="center", fontsize=6, **kw)


def _footnote(data: dict) -> str:
    parts = [str(p) for p in data["parts"]]
    fbs = [fb for fb in FEEDBACKS if f"{fb}_runs_total" in data]
    missing = [
        (name, int(data[f"{fb}_missing_total"]), int(data[f"{fb}_runs_total"]))
        for name, fb in zip(parts, fbs, strict=True)
    ]
    absent = [LABEL[fb] for fb in FEEDBACKS if f"{fb}_runs_total" not in data]
    text = "median and IQR across seeds; "
    if any(m for _, m, _ in missing):
        text += "runs without results (marked n/N where planned runs are missing): " + ", ".join(
            f"{name} {m}/{t}" for name, m, t in missing if m
        )
    else:
        text += "all " + str(sum(t for _, _, t in missing)) + " runs present"
    if absent:
        text += "; not run: " + ", ".join(absent)
    inf = sum(int(np.sum(data.get(f"{fb}_final_dkl_inf", 0))) for fb in FEEDBACKS)
    if inf:
        text += (
            "; final " + r"$D_\mathrm{KL}$" + f" infinite in {inf} plotted runs (a target "
            r"state never sampled; counted as $k\times\infty$ at their level and ranked "
            "above every finite value in the quartiles; an infinite quartile is not drawn)"
        )
    text += f"; protocol of paper {data['paper']}"
    return text


FINALS_HEADER = (
    "level,variant,runs,planned,dkl_infinite,dkl_q25,dkl_median,dkl_q75,"
    "asym_q25,asym_median,asym_q75"
)


def finals_csv(data: dict) -> str:
    """The final values of the figure as CSV (one row per noise level and variant; the
    baseline is the no-alignment row at the lowest level)."""
    rows = [FINALS_HEADER]
    for k, lv in enumerate(data["levels"]):
        for fb in FEEDBACKS:
            if f"{fb}_final_dkl" not in data:
                continue
            d, a = data[f"{fb}_final_dkl"][:, k], data[f"{fb}_final_asym"][:, k]
            rows.append(
                ",".join(
                    [
                        f"{lv:g}",
                        fb,
                        str(int(data[f"{fb}_count"][k])),
                        str(int(data[f"{fb}_planned"][k])),
                        str(int(data[f"{fb}_final_dkl_inf"][k])),
                        *(f"{v:.6g}" for v in (*d, *a)),
                    ]
                )
            )
    return "\n".join(rows) + "\n"


def make(fig_id: str, source: Path, out: Path) -> list[Path]:
    data = figure_data(Path(source), fig_id)
    spec = SPECS[(fig_id, "v3" if str(data["paper"]) == "v3" else "v2")]
    planned = sum(int(data[f"{fb}_runs_total"]) for fb in FEEDBACKS if f"{fb}_runs_total" in data)
    missing = sum(
        int(data[f"{fb}_missing_total"]) for fb in FEEDBACKS if f"{fb}_missing_total" in data
    )
    if planned and missing == planned:
        raise FileNotFoundError(
            f"figure {fig_id}: none of the {planned} planned runs under "
            f"{source} has finished yet (see `spikealign sweep status "
            f"{source}`)"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"fig{fig_id}"
    paths = draw(data, spec, stem)
    atomic_save_npz(Path(f"{stem}.npz"), **data)
    table = Path(f"{stem}_finals.csv")
    atomic_write_text(table, finals_csv(data))
    return [*paths, Path(f"{stem}.npz"), table]


def figure4(source: Path | None, out: Path, quick: bool = False) -> list[Path]:
    """Figure 4 (synaptic noise) from a sweep directory (``spikealign sweep run fig4``)."""
    return make("4", source, out)


def figure5(source: Path | None, out: Path, quick: bool = False) -> list[Path]:
    """Figure 5 (plasticity noise) from a sweep directory (``spikealign sweep run fig5``)."""
    return make("5", source, out)


def figure6(source: Path | None, out: Path, quick: bool = False) -> list[Path]:
    """Figure 6 from a sweep directory: the microcircuit family's own figure function
    (``spikealign.microcircuits.plots.figure6``) on the finished runs of the sweep's ``mc_*``
    parts (a sweep directory may also hold SSN runs). A directory without a sweep manifest is
    passed through. Unfinished runs are left out and counted in a warning.
    """
    from ..microcircuits.plots import figure6 as draw

    source = Path(source)
    man = read_manifest(source)
    parts = {k: v for k, v in (man or {}).get("parts", {}).items() if v.get("figure") == "6"}
    if not parts:
        return draw(source, out, quick)
    planned = [source / name / r["dir"] for name, entry in parts.items() for r in entry["runs"]]
    done = [d for d in planned if finished(d, "microcircuit")]
    if len(done) < len(planned):
        warnings.warn(
            f"figure 6: {len(planned) - len(done)} of {len(planned)} planned "
            "microcircuit runs have no results yet",
            stacklevel=2,
        )
    return draw(source, out, quick, run_dirs=done)
