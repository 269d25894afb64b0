"""The Kolen-Pollack decay-rate figure of paper v3 (``kp_lr``; ``reference-model-v3`` 6, 10).

A 2 x 2 grid: columns synaptic / plasticity noise, rows the final ``Var(W_ij - W_ji)`` (linear)
and the final ``D_KL(p* || p)`` (log) against the decay rate ``lambda = lr.kp`` (log x). Per
noise level (0.4: crosses, 0.8: open squares, dashed) the median with its interquartile range
across the 20 seeds of each rate. A red open circle marks the rate with the lowest median
``D_KL`` of each level (upstream hard-codes these indices; we compute them). Where the same
directory also holds the v3 figure-4/5 SAL runs at these levels (``sweep run fig4_v3 fig5_v3
kp_lr_v3``, or only the two SAL parts at the two levels: ``sweep run syn_noise_sal_v3
plast_noise_sal_v3 --level 0.4 --level 0.8``), SAL's final asymmetry and ``D_KL`` (median
and IQR) at 0.4 (dash-dot) and 0.8 (dotted) are drawn beside them as reference lines and
bands, in both rows: the figure answers whether any decay rate reaches SAL's ``D_KL`` and
SAL's asymmetry at the same time (:func:`kp_vs_sal`, written to ``kp-lr_vs_sal.csv``).

Infinite ``D_KL`` values are ranked above all finite ones (``figures.quartiles``) and counted
in the footnote. Files: ``kp-lr.png``, ``.pdf``, ``.npz`` (everything plotted) and
``kp-lr_vs_sal.csv``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ..io import atomic_save_npz, atomic_write_text
from .figures import count_infinite, load_part, quartiles
from .layout import read_manifest

COLUMNS = (
    ("syn_noise_kp_lr_v3", "syn_noise_sal_v3", "synaptic noise"),
    ("plast_noise_kp_lr_v3", "plast_noise_sal_v3", "plasticity noise"),
)
LEVEL_STYLE = {0.4: ("x", "C0", "-."), 0.8: ("s", "C1", ":")}


def kp_lr_data(source: Path) -> dict:
    """Everything the figure plots, as arrays."""
    source = Path(source)
    man = read_manifest(source)
    parts = (man or {}).get("parts", {})
    data: dict = {}
    found = 0
    for col, (group, sal_part, _) in enumerate(COLUMNS):
        entries = sorted(
            (
                (float(e["fixed"]["lr.kp"]), name, e)
                for name, e in parts.items()
                if e.get("group") == group
            ),
            key=lambda t: t[0],
        )
        if not entries:
            continue
        found += 1
        rates = np.array([lam for lam, _, _ in entries])
        data[f"c{col}_rates"] = rates
        levels = sorted({float(lv) for _, _, e in entries for lv in e["levels"]})
        data[f"c{col}_levels"] = np.array(levels)
        loaded = [load_part(source, name, e) for _, name, e in entries]
        for lv in levels:
            tag = f"c{col}_{lv:g}"
            for key in ("dkl", "asym"):
                finals = [p.final(lv, key) for p in loaded]
                data[f"{tag}_{key}"] = np.array([quartiles(f[:, None])[:, 0] for f in finals]).T
            data[f"{tag}_n"] = np.array([int(p.present[p.rows(lv)].sum()) for p in loaded])
            data[f"{tag}_planned"] = np.array([int(p.rows(lv).sum()) for p in loaded])
            data[f"{tag}_dkl_inf"] = np.array(
                [int(count_infinite(p.final(lv, "dkl"))) for p in loaded]
            )
            med = data[f"{tag}_dkl"][1]
            data[f"{tag}_best"] = (
                np.int64(np.nanargmin(med)) if np.any(np.isfinite(med)) else np.int64(-1)
            )
        if sal_part in parts:  # SAL reference lines from the figure 4/5 sweep
            p = load_part(source, sal_part, parts[sal_part])
            for lv in levels:
                if not p.rows(lv).any():
                    continue
                for key in ("dkl", "asym"):
                    data[f"c{col}_{lv:g}_sal_{key}"] = quartiles(p.final(lv, key)[:, None])[:, 0]
    if not found:
        raise FileNotFoundError(
            f"{source}: no runs of the KP decay-rate study; run `spikealign sweep run kp_lr_v3 "
            f"--out {source}` first"
        )
    return data


def draw(data: dict, stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..ssn.plots import _save

    fig, ax = plt.subplots(
        2, 2, figsize=(9.0, 5.8), sharex="col", gridspec_kw={"wspace": 0.3, "hspace": 0.1}
    )
    notes = []
    for col, (_, _, title) in enumerate(COLUMNS):
        ax[0, col].set_title(title, fontweight="bold")
        if f"c{col}_rates" not in data:
            ax[0, col].text(0.5, 0.5, "not run", transform=ax[0, col].transAxes, ha="center")
            continue
        rates = data[f"c{col}_rates"]
        plotted = False  # a column whose parts have no finished run yet gets no log axes
        for lv in data[f"c{col}_levels"]:
            tag = f"c{col}_{lv:g}"
            marker, color, ref_style = LEVEL_STYLE.get(float(lv), ("o", "C2", "--"))
            for row, key in ((0, "asym"), (1, "dkl")):
                q = data[f"{tag}_{key}"]
                ok = np.isfinite(q[1])
                if not ok.any():
                    continue
                plotted = True
                lo = np.where(np.isfinite(q[0]), q[1] - q[0], 0)
                hi = np.where(np.isfinite(q[2]), q[2] - q[1], 0)
                ax[row, col].errorbar(
                    rates[ok],
                    q[1][ok],
                    yerr=[lo[ok], hi[ok]],
                    marker=marker,
                    mfc="none",
                    color=color,
                    linestyle="--",
                    capsize=3,
                    label=f"noise {lv:g}",
                )
            best = int(data[f"{tag}_best"])
            if best >= 0:
                ax[1, col].plot(
                    rates[best], data[f"{tag}_dkl"][1][best], "o", ms=12, mfc="none", color="red"
                )
            for row, key in ((0, "asym"), (1, "dkl")):
                ref = data.get(f"{tag}_sal_{key}")
                if ref is not None and np.all(np.isfinite(ref)):
                    ax[row, col].axhline(
                        ref[1], color=color, linestyle=ref_style, lw=1, label=f"SAL, noise {lv:g}"
                    )
                    ax[row, col].axhspan(ref[0], ref[2], color=color, alpha=0.15, lw=0)
            n, planned = data[f"{tag}_n"], data[f"{tag}_planned"]
            if np.any(n < planned):
                notes.append(f"{title} {lv:g}: {int(n.sum())}/{int(planned.sum())} runs")
            if data[f"{tag}_dkl_inf"].sum():
                notes.append(
                    f"{title} {lv:g}: final D_KL infinite in "
                    f"{int(data[f'{tag}_dkl_inf'].sum())} runs"
                )
        if plotted:
            ax[1, col].set_xscale("log")
            ax[1, col].set_yscale("log")
        else:
            ax[0, col].text(
                0.5, 0.5, "no finished runs", transform=ax[0, col].transAxes, ha="center"
            )
        ax[1, col].set_xlabel(r"decay rate $\lambda$ (lr.kp)")
        ax[0, col].set_ylabel(r"final $\mathrm{Var}\,(W_{ij} - W_{ji})$")
        ax[1, col].set_ylabel(r"final $D_\mathrm{KL}(p^* \| p)$")
        for row in (0, 1):
            if ax[row, col].get_legend_handles_labels()[0]:
                ax[row, col].legend(fontsize=7)
    fig.text(
        0.01,
        0.0,
        textwrap.fill(
            "median and IQR across seeds of the last validation; red circle: lowest median D_KL "
            "per level; " + ("; ".join(notes) if notes else "all planned runs present"),
            150,
        ),
        fontsize=7,
        va="top",
    )
    paths = _save(fig, stem)
    plt.close(fig)
    return paths


def kp_vs_sal(data: dict) -> list[dict]:
    """Per column and noise level: the decay rates whose median final ``D_KL`` is at most
    SAL's median and, separately, whose median final asymmetry is at most SAL's median, and
    the rates that do both (empty where SAL's runs are missing: ``sal`` is then None)."""
    out = []
    for col, (_, _, title) in enumerate(COLUMNS):
        if f"c{col}_rates" not in data:
            continue
        rates = data[f"c{col}_rates"]
        for lv in data[f"c{col}_levels"]:
            tag = f"c{col}_{lv:g}"
            sal_d, sal_a = data.get(f"{tag}_sal_dkl"), data.get(f"{tag}_sal_asym")
            row = {
                "noise": title,
                "level": float(lv),
                "sal": None,
                "dkl": [],
                "asym": [],
                "both": [],
            }
            if sal_d is not None and sal_a is not None:
                row["sal"] = {"dkl": float(sal_d[1]), "asym": float(sal_a[1])}
                d_ok = data[f"{tag}_dkl"][1] <= sal_d[1]
                a_ok = data[f"{tag}_asym"][1] <= sal_a[1]
                row["dkl"] = [float(r) for r in rates[d_ok]]
                row["asym"] = [float(r) for r in rates[a_ok]]
                row["both"] = [float(r) for r in rates[d_ok & a_ok]]
            out.append(row)
    return out


def figure_kp_lr(source: Path | None, out: Path, quick: bool = False) -> list[Path]:
    """The v3 ``kp_lr`` figure from a sweep directory (``spikealign sweep run kp_lr_v3``)."""
    data = kp_lr_data(Path(source))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / "kp-lr"
    paths = draw(data, stem)
    atomic_save_npz(Path(f"{stem}.npz"), **data)
    lines = [
        "noise,level,sal_dkl_median,sal_asym_median,rates_dkl_at_most_sal,"
        "rates_asym_at_most_sal,rates_both"
    ]
    for r in kp_vs_sal(data):
        sal = r["sal"] or {"dkl": float("nan"), "asym": float("nan")}
        lines.append(
            ",".join(
                [r["noise"], f"{r['level']:g}", f"{sal['dkl']:.6g}", f"{sal['asym']:.6g}"]
                + [" ".join(f"{x:g}" for x in r[k]) or "none" for k in ("dkl", "asym", "both")]
            )
        )
    csv = Path(f"{stem}_vs_sal.csv")
    atomic_write_text(csv, "\n".join(lines) + "\n")
    return [*paths, Path(f"{stem}.npz"), csv]
