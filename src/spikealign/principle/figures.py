"""Paper figures of the SAL principle: 2 (c, d, e), 10 (Dale's law), 11 (PSP shapes), 12
(proof illustration). Each writes ``figN.png``, ``figN.pdf`` and ``figN.npz`` (the arrays it
plots) into ``out`` and returns the paths. ``quick=True`` shrinks the grids/simulations so each
figure takes seconds; the full versions take well under a minute on 2 cores (fig 10: about a
minute). Grids run in ``SPIKEALIGN_WORKERS`` processes (default: all CPUs).

Conventions: A = neuron 1 of the paper, B = neuron 2; ``W_AB`` = weight B -> A;
``dt = t_A - t_B``; phase planes have ``W_AB`` on the x axis and ``W_BA`` on the y axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_save_npz, atomic_savefig
from ..psp import make_psp
from ..stdp import sal_window
from .drift import (
    attractor,
    attractor_deviation,
    default_workers,
    phase_plane,
    run_tasks,
    sal_drift,
)
from .stdd import stdd

C_RIGHT = "#88409c"  # causal half (dt > 0)
C_LEFT = "#3787c0"  # anti-causal half (dt < 0)


def _figure(**kw):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(**kw)


def _save(fig, out: Path, stem: str, **arrays) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf", out / f"{stem}.npz"]
    atomic_savefig(fig, paths[0], dpi=200, bbox_inches="tight")
    atomic_savefig(fig, paths[1], bbox_inches="tight")
    atomic_save_npz(paths[2], **arrays)
    return paths


def plot_phase_plane(
    fig, ax, w_x, w_y, grid, *, attractor_color="tab:red", colorbar=True, quiver_every=2
):
    """Drift field ``grid[i, j] = (dW_x, dW_y)`` at ``(w_x[i], w_y[j])``: filled contours of the
    normalised magnitude, arrows on every ``quiver_every``-th point, and the zero contour of
    ``dW_x`` (the attractor)."""
    u = grid[..., 0].T
    v = grid[..., 1].T
    mag = np.hypot(u, v)
    norm = mag / mag.max() if mag.max() > 0 else mag
    im = ax.contourf(w_x, w_y, norm, 15, cmap="GnBu", alpha=0.9)
    if colorbar:
        fig.colorbar(im, ax=ax, ticks=[0.0, 0.5, 1.0], label=r"$|\Delta W|$ (normalised)")
    s = slice(None, None, quiver_every)
    ax.quiver(w_x[s], w_y[s], u[s, s], v[s, s], pivot="mid")
    if np.nanmin(u) < 0 < np.nanmax(u):
        ax.contour(w_x, w_y, u, [0.0], colors=attractor_color)
    ax.set_aspect("equal")
    return im


# -- figure 2 ---------------------------------------------------------------------------------

FIG2C = dict(t_ref=50, t_syn=50, t_max=102, b_a=-0.5, b_b=-0.5, psp="rect", chain="upstream")
FIG2D = dict(
    w0=(1.5, 0.5),
    b=(-0.5, -0.2),
    t_ref=25,
    t_syn=25,
    lr=0.03,
    n_epochs=1500,
    epoch_steps=1500,
    n_last_stdp=10,
    seed=45,
)
#: fig 2e uses the parameters of fig 2d (upstream used t_ref 15 and zero biases) and the chain
#: that matches the simulator the trajectories come from
FIG2E = dict(
    t_ref=25,
    t_syn=25,
    t_max=102,
    b_a=-0.5,
    b_b=-0.2,
    psp="rect",
    chain="simulator",
    w=(-2.0, 2.0, 0.25),
)


def _fig2_data(quick: bool):
    from .empirical import sal_evolution

    c = FIG2C
    kw = dict(t_ref=c["t_ref"], t_syn=c["t_syn"], t_max=c["t_max"], psp=c["psp"], chain=c["chain"])
    data = {}
    for name, (w_ab, w_ba) in {"exc": (0.8, 0.4), "inh": (-0.8, -0.4)}.items():
        dt, p_asym = stdd(w_ab, w_ba, c["b_a"], c["b_b"], **kw)
        _, p_sym = stdd((w_ab + w_ba) / 2, (w_ab + w_ba) / 2, c["b_a"], c["b_b"], **kw)
        data[f"stdd_{name}_asym"] = p_asym
        data[f"stdd_{name}_sym"] = p_sym
        data[f"weights_{name}"] = np.array([w_ab, w_ba])
    data["dt"] = dt
    win_dt = np.linspace(-2 * c["t_ref"], 2 * c["t_ref"], 401)
    data["window_dt"] = win_dt
    data["window"] = sal_window(c["t_ref"])(win_dt)

    d = FIG2D
    win_d = sal_window(d["t_ref"])
    n_epochs = d["n_epochs"]
    rng = np.random.default_rng(d["seed"])
    common = dict(
        t_ref=d["t_ref"],
        t_syn=d["t_syn"],
        window=win_d,
        lr=d["lr"],
        n_epochs=n_epochs,
        epoch_steps=d["epoch_steps"],
        rng=rng,
        n_last_stdp=d["n_last_stdp"],
    )
    data["evolution_both"] = sal_evolution(d["w0"], d["b"], **common)
    data["evolution_fixed"] = sal_evolution(d["w0"], d["b"], fixed="ab", **common)
    epochs = np.arange(n_epochs + 1)
    data["epoch"] = epochs
    data["time_s"] = epochs * d["epoch_steps"] / d["t_ref"] * 0.01  # t_ref = 10 ms

    e = FIG2E
    lo, hi, step = e["w"]
    w = np.arange(lo, hi + step / 2, step)
    grid = phase_plane(
        w,
        b_a=e["b_a"],
        b_b=e["b_b"],
        t_ref=e["t_ref"],
        t_syn=e["t_syn"],
        t_max=e["t_max"],
        window=sal_window(e["t_ref"]),
        psp=e["psp"],
        chain=e["chain"],
        workers=default_workers(),
        progress=not quick,
    )
    data["grid_w"] = w
    data["grid"] = grid
    data["attractor"] = attractor(w, grid, n_upscale=100)
    return data


def figure_2(source=None, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    """Fig 2c (STDDs, SAL window), 2d (two-neuron SAL by simulation), 2e (phase plane with the
    2d trajectories, all at the 2d parameters). ``quick`` changes nothing: it is fast already."""
    data = _fig2_data(quick)
    fig = _figure(figsize=(12.5, 4.2))
    gs = fig.add_gridspec(
        3, 3, width_ratios=[1, 1.25, 1.25], height_ratios=[2, 1.6, 1.2], wspace=0.35, hspace=0.35
    )
    dt = data["dt"]
    t_ref = FIG2C["t_ref"]
    for row, name, label in ((0, "exc", "excitatory"), (1, "inh", "inhibitory")):
        ax = fig.add_subplot(gs[row, 0])
        p = data[f"stdd_{name}_asym"]
        q = data[f"stdd_{name}_sym"]
        r, lft = dt > 0, dt < 0
        ax.plot(dt[r], p[r], color=C_RIGHT, lw=1.2)
        ax.fill_between(dt[r], p[r], color=C_RIGHT, alpha=0.5)
        ax.plot(dt[lft], p[lft], color=C_LEFT, lw=1.2)
        ax.fill_between(dt[lft], p[lft], color=C_LEFT, alpha=0.35)
        ax.plot(dt[r], q[r], "--k", lw=1.0)
        ax.plot(dt[lft], q[lft], "--k", lw=1.0)
        w_ab, w_ba = data[f"weights_{name}"]
        ax.set_title(
            f"{label}: $W_{{AB}}$={w_ab:g}, $W_{{BA}}$={w_ba:g} "
            f"(dashed: both {0.5 * (w_ab + w_ba):g})",
            fontsize=7,
        )
        ax.set_xticks([-t_ref, 0, t_ref], ["", "", ""])
        ax.set_yticks([])
        ax.set_ylabel(r"$p(\Delta t)$")
        for s in ("top", "right", "left"):
            ax.spines[s].set_visible(False)
        if row == 0:
            ax.text(0.55, 0.85, "causal", transform=ax.transAxes, color=C_RIGHT, fontsize=7)
            ax.text(
                0.45,
                0.85,
                "anti-causal",
                transform=ax.transAxes,
                ha="right",
                color=C_LEFT,
                fontsize=7,
            )
            ax.text(-0.02, 1.25, "c", transform=ax.transAxes, fontweight="bold")
    ax = fig.add_subplot(gs[2, 0])
    ax.plot(data["window_dt"], data["window"], color="gray")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_yticks([])
    ax.set_xticks([-t_ref, 0, t_ref], [r"$-\tau_\mathrm{ref}$", "0", r"$\tau_\mathrm{ref}$"])
    ax.set_xlabel(r"$\Delta t = t_A - t_B$")
    ax.set_ylabel(r"$K(\Delta t)$")
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)

    ax = fig.add_subplot(gs[:, 1])
    ev1, ev2, ts = data["evolution_both"], data["evolution_fixed"], data["time_s"]
    s = slice(None, None, 10)
    ax.plot(ts[s], ev1[s, 1], color="darkred", label=r"$W_{BA}$ (plastic)")
    ax.plot(ts[s], ev1[s, 0], color="red", ls="--", label=r"$W_{AB}$ (plastic)")
    ax.plot(ts[s], ev2[s, 1], color="dimgray", label=r"$W_{BA}$ (plastic)")
    ax.plot(ts[s], ev2[s, 0], color="darkgray", ls="--", label=r"$W_{AB}$ (fixed)")
    ax.set_xlabel(r"$t$ [s] ($\tau_\mathrm{ref}$ = 10 ms)")
    ax.set_ylabel(r"$W$")
    ax.legend(fontsize=7, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    top = ax.secondary_xaxis("top", functions=(lambda x: x / 0.01, lambda x: x * 0.01))
    top.set_xlabel(r"$t$ [$\tau_\mathrm{ref}$]")
    ax.text(-0.1, 1.08, "d", transform=ax.transAxes, fontweight="bold")

    ax = fig.add_subplot(gs[:, 2])
    w = data["grid_w"]
    plot_phase_plane(fig, ax, w, w, data["grid"])
    ax.plot(ev1[:, 0], ev1[:, 1], color="darkred", ls="--", lw=1)
    ax.plot(ev1[:1, 0], ev1[:1, 1], marker="o", color="darkred")
    ax.plot(ev2[:, 0], ev2[:, 1], color="dimgray", ls="--", lw=1)
    ax.plot(ev2[:1, 0], ev2[:1, 1], marker="s", ms=4, color="dimgray")
    ax.set_xlabel(r"$W_{AB}$")
    ax.set_ylabel(r"$W_{BA}$")
    e = FIG2E
    ax.set_title(
        f"$t_{{ref}}$={e['t_ref']}, $b$=({e['b_a']:g}, {e['b_b']:g}), chain={e['chain']}",
        fontsize=7,
    )
    ax.text(-0.15, 1.08, "e", transform=ax.transAxes, fontweight="bold")
    params = {f"fig2c_{k}": v for k, v in FIG2C.items()}
    params.update({f"fig2d_{k}": v for k, v in FIG2D.items()})
    params.update({f"fig2e_{k}": v for k, v in FIG2E.items()})
    return _save(fig, out, "fig2", **data, **{k: np.asarray(v) for k, v in params.items()})


# -- figure 10 --------------------------------------------------------------------------------


def figure_10(source=None, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    """Dale's law: SAL phase planes over effective weights of the 2E + 2I system (symmetric and
    seeded noisy pathways) and the rate check (Dale system vs direct effective weight)."""
    from .dale import EISystem, drift_grid, rate_check

    t_ref = 25
    if quick:
        w = np.round(np.arange(0.0, 2.01, 0.25), 10)
        n_steps, n_rate = 400_000, 200_000
    else:
        w = np.round(np.arange(0.0, 2.01, 0.1), 10)
        n_steps, n_rate = 2_000_000, 500_000
    workers = default_workers()
    sym = EISystem()
    noisy = EISystem.noisy(np.random.default_rng(97))
    g_sym = drift_grid(
        sym,
        w,
        t_ref=t_ref,
        t_syn=t_ref,
        n_steps=n_steps,
        seed=1,
        workers=workers,
        progress=not quick,
    )
    g_noisy = drift_grid(
        noisy,
        w,
        t_ref=t_ref,
        t_syn=t_ref,
        n_steps=n_steps,
        seed=2,
        workers=workers,
        progress=not quick,
    )
    w_rate = np.arange(0.0, 2.01, 0.25)
    w_eff_rate, r_dale, r_direct = rate_check(
        noisy, w_rate, t_ref=t_ref, t_syn=t_ref, n_steps=n_rate, seed=3
    )

    fig = _figure(figsize=(14, 4.4))
    axes = [fig.add_subplot(1, 3, k + 1) for k in range(3)]
    for ax, g, system, title in (
        (axes[0], g_noisy, noisy, "noisy pathways (paper)"),
        (axes[1], g_sym, sym, "symmetric pathways"),
    ):
        x = system.effective(w, "e1")  # W_AB^eff: e2 -> e1
        y = system.effective(w, "e2")  # W_BA^eff: e1 -> e2
        plot_phase_plane(fig, ax, x, y, g, colorbar=False)
        ax.set_xlabel(r"$W_{AB}^\mathrm{eff}$ (e2$\to$e1)")
        ax.set_ylabel(r"$W_{BA}^\mathrm{eff}$ (e1$\to$e2)")
        ax.plot(x, x, "k:", lw=0.8)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
        ax.set_title(title, fontsize=8)
        top = ax.secondary_xaxis(
            "top",
            functions=(
                lambda v, s=system: s.raw(v, "e1"),
                lambda v, s=system: s.effective(v, "e1"),
            ),
        )
        top.set_xlabel(r"raw $W^{EE}_{AB}$", fontsize=7)
        right = ax.secondary_yaxis(
            "right",
            functions=(
                lambda v, s=system: s.raw(v, "e2"),
                lambda v, s=system: s.effective(v, "e2"),
            ),
        )
        right.set_ylabel(r"raw $W^{EE}_{BA}$", fontsize=7)
    ax = axes[2]
    ax.plot(w_rate, r_dale, ls="", marker="o", mfc="none", mew=2, label="E-I (Dale)")
    ax.plot(w_rate, r_direct, ls="", marker="s", label="direct, effective weight")
    ax.set_xlabel(r"raw $W^{EE}_{BA}$ (e1$\to$e2)")
    ax.set_ylabel(r"rate of e2 [$\tau_\mathrm{ref}^{-1}$]")
    ax.legend(fontsize=7)
    top = ax.secondary_xaxis(
        "top", functions=(lambda v: noisy.effective(v, "e2"), lambda v: noisy.raw(v, "e2"))
    )
    top.set_xlabel(r"$W_{BA}^\mathrm{eff}$")
    fig.subplots_adjust(wspace=0.75)
    arrays = dict(
        w_raw=w,
        grid_noisy=g_noisy,
        grid_sym=g_sym,
        weff_ab_noisy=noisy.effective(w, "e1"),
        weff_ba_noisy=noisy.effective(w, "e2"),
        weff_ab_sym=sym.effective(w, "e1"),
        weff_ba_sym=sym.effective(w, "e2"),
        rate_w_raw=w_rate,
        rate_w_eff=w_eff_rate,
        rate_dale=r_dale,
        rate_direct=r_direct,
        n_steps=n_steps,
        n_steps_rate=n_rate,
        t_ref=t_ref,
        noisy_weights=np.array([noisy.weights[k] for k in sorted(noisy.weights)]),
        noisy_biases=np.array([noisy.biases[k] for k in sorted(noisy.biases)]),
        weight_names=np.array(sorted(noisy.weights)),
        bias_names=np.array(sorted(noisy.biases)),
    )
    return _save(fig, out, "fig10", **arrays)


# -- figure 11 --------------------------------------------------------------------------------

FIG11_PSPS = (
    ("rect", "rect", 1.0),
    ("alpha_short", "alpha", 1.0 / 3.0),
    ("alpha_long", "alpha", 0.5),
)


def _fig11_task(args):
    """Worker: drift grid, attractor and its deviation for one (PSP, b_A, b_B)."""
    key, psp, t_syn, b_a, b_b, w, keep_line = args
    grid = phase_plane(
        w,
        b_a=b_a,
        b_b=b_b,
        t_ref=10,
        t_syn=t_syn,
        t_max=20,
        window=sal_window(10),
        psp=psp,
        chain="upstream",
        workers=1,
    )
    line = attractor(w, grid, n_upscale=100)
    return key, grid, attractor_deviation(line), (line if keep_line else None)


def fig11_data(quick: bool, workers: int | None = None):
    """Everything figure 11 plots (also used by the benchmark)."""
    b_range = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) if quick else np.arange(-1.0, 1.01, 0.25)
    w = np.linspace(-1.5, 1.5, 10)
    nb = len(b_range)
    grids = np.empty((len(FIG11_PSPS), nb, nb, len(w), len(w), 2))
    dev = np.empty((len(FIG11_PSPS), nb, nb))
    lines: dict[tuple[int, int], np.ndarray] = {}
    tasks = [
        ((k, i, j), psp, 10 * frac, b_range[i], b_range[j], w, i + j == nb - 1)
        for k, (_, psp, frac) in enumerate(FIG11_PSPS)
        for i in range(nb)
        for j in range(nb)
    ]

    def store(res):
        (k, i, j), grid, d, line = res
        grids[k, i, j] = grid
        dev[k, i, j] = d
        if line is not None:
            lines[(k, i)] = line

    run_tasks(_fig11_task, tasks, default_workers() if workers is None else workers, store)
    return b_range, w, grids, dev, lines


def figure_11(source=None, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    """PSP shapes (rect, alpha short/long), their STDDs, attractor lines for anti-diagonal
    biases and the map of the attractor's mean relative deviation from the diagonal."""
    import matplotlib.colors as mcolors
    from matplotlib import colormaps

    b_range, w, grids, dev, lines = fig11_data(quick)
    nb = len(b_range)
    t = np.linspace(-2.0, 20.0, 221)
    kappas = np.array([make_psp(psp, 10, 10 * frac)(t) for _, psp, frac in FIG11_PSPS])
    stdd_biases = [(-0.25, 0.75), (0.25, 0.25), (0.75, -0.25)]
    stdds = np.array(
        [
            [
                stdd(
                    1.0, 1.0, ba, bb, t_ref=30, t_syn=30 * frac, t_max=60, psp=psp, center="smooth"
                )[1]
                for ba, bb in stdd_biases
            ]
            for _, psp, frac in FIG11_PSPS
        ]
    )
    dt = np.arange(-59, 60)
    cmap = colormaps["viridis"]
    diff_norm = mcolors.Normalize(vmin=-2.0, vmax=2.0)  # b_B - b_A

    fig = _figure(figsize=(9, 9.5))
    gs = fig.add_gridspec(
        4, 4, width_ratios=[1, 1, 1, 0.08], height_ratios=[0.6, 0.6, 1, 1], hspace=0.55, wspace=0.3
    )
    titles = (
        "rect PSP\n" + r"$\tau_\mathrm{syn} = \tau_\mathrm{ref}$",
        r"$\alpha$-PSP (short)" + "\n" + r"$\tau_\mathrm{syn} = \tau_\mathrm{ref}/3$",
        r"$\alpha$-PSP (long)" + "\n" + r"$\tau_\mathrm{syn} = \tau_\mathrm{ref}/2$",
    )
    line_b = []
    dev_max = np.nanmax(np.where(np.isfinite(dev), dev, np.nan)) if np.isfinite(dev).any() else 1
    for k in range(3):
        ax = fig.add_subplot(gs[0, k])
        ax.plot(t, kappas[k])
        ax.set_title(titles[k], fontsize=8)
        ax.set_xticks([0, 10], ["0", r"$\tau_\mathrm{ref}$"])
        if k == 0:
            ax.set_ylabel(r"$\kappa(t)$")
        ax = fig.add_subplot(gs[1, k])
        for (ba, bb), p in zip(stdd_biases, stdds[k], strict=True):
            ax.plot(dt, p, color=cmap(diff_norm(bb - ba)), label=f"$b_A$={ba}, $b_B$={bb}")
        ax.set_yticks([])
        ax.set_xticks([-30, 0, 30], [r"$-\tau_\mathrm{ref}$", "0", r"$\tau_\mathrm{ref}$"])
        if k == 0:
            ax.set_ylabel(r"$p(\Delta t)$")
        if k == 2:
            ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
        ax = fig.add_subplot(gs[2, k])
        for i in range(nb):
            line = lines.get((k, i))
            if line is None or len(line) == 0:
                continue
            b_a, b_b = b_range[i], b_range[nb - 1 - i]
            if k == 0:
                line_b.append((b_a, b_b))
            ax.plot(line[:, 1], line[:, 0], color=cmap(diff_norm(b_b - b_a)), lw=1)
        ax.plot(w, w, "k--", lw=0.8)
        ax.plot([1.0], [1.0], marker="o", mfc="none", color="red")
        ax.set_xlim(w[0], w[-1])
        ax.set_ylim(w[0], w[-1])
        ax.set_aspect("equal")
        ax.set_xlabel(r"$W_{AB}$")
        if k == 0:
            ax.set_ylabel(r"$W_{BA}$")
        ax = fig.add_subplot(gs[3, k])
        ax.contourf(
            b_range,
            b_range,
            dev[k].T,
            cmap="YlOrRd",
            norm=mcolors.Normalize(vmin=0.0, vmax=dev_max),
        )
        ax.scatter(
            b_range,
            b_range[::-1],
            marker="s",
            facecolors="none",
            edgecolors="k",
            s=12,
            clip_on=False,
        )
        ax.set_aspect("equal")
        ax.set_xlabel(r"$b_A$")
        if k == 0:
            ax.set_ylabel(r"$b_B$")
    from matplotlib.cm import ScalarMappable

    fig.colorbar(
        ScalarMappable(norm=diff_norm, cmap=cmap),
        cax=fig.add_subplot(gs[2, 3]),
        label=r"$b_B - b_A$",
    )
    fig.colorbar(
        ScalarMappable(norm=mcolors.Normalize(0, dev_max), cmap="YlOrRd"),
        cax=fig.add_subplot(gs[3, 3]),
        label="mean rel. deviation",
    )
    keys = sorted(lines)
    line_arr = np.concatenate([lines[k] for k in keys]) if keys else np.zeros((0, 2))
    line_idx = (
        np.repeat(np.array(keys, dtype=int).reshape(-1, 2), [len(lines[k]) for k in keys], axis=0)
        if keys
        else np.zeros((0, 2), int)
    )
    return _save(
        fig,
        out,
        "fig11",
        psp_names=np.array([p[0] for p in FIG11_PSPS]),
        psp_t=t,
        psp_kappa=kappas,
        stdd_dt=dt,
        stdd_biases=np.array(stdd_biases),
        stdds=stdds,
        b_range=b_range,
        w_range=w,
        grids=grids,
        deviation=dev,
        attractor_points=line_arr,
        attractor_index=line_idx,
        attractor_columns=np.array(["W_BA", "W_AB"]),
    )


# -- figure 12 --------------------------------------------------------------------------------


def proof_delta(w, *, eps=0.05, b_a=0.0, b_b=1.0, t_ref=40, t_syn=40, t_max=80):
    """Proof illustration: ``delta(t) = (p_eps - p_0)(t) - (p_eps - p_0)(-t)`` for ``t >= 0``
    (``p_0`` at ``W_AB = W_BA = w``, ``p_eps`` at ``W_AB = w + eps``, ``W_BA = w - eps``;
    centre bins smoothed) and its cumulative trapezoid ``Delta(t)``."""
    from scipy.integrate import cumulative_trapezoid

    kw = dict(t_ref=t_ref, t_syn=t_syn, t_max=t_max, center="smooth")
    _, p0 = stdd(w, w, b_a, b_b, **kw)
    _, pe = stdd(w + eps, w - eps, b_a, b_b, **kw)
    diff = pe - p0
    delta = (diff - diff[::-1])[t_max - 1 :]
    big = cumulative_trapezoid(delta, initial=0.0)
    return np.arange(len(delta)), delta, big


def figure_12(source=None, out: Path = Path("figures"), quick: bool = False) -> list[Path]:
    """delta(t) and Delta(t) for an excitatory (w = 0.5) and inhibitory (w = -0.5) pair."""
    from scipy.integrate import trapezoid

    fig = _figure(figsize=(7, 4))
    arrays = {}
    win = sal_window(40)
    for col, (name, w) in enumerate((("exc", 0.5), ("inh", -0.5))):
        t, delta, big = proof_delta(w)
        arrays[f"t_{name}"] = t
        arrays[f"delta_{name}"] = delta
        arrays[f"big_delta_{name}"] = big
        arrays[f"int_delta_{name}"] = trapezoid(delta)
        dt, pe = stdd(w + 0.05, w - 0.05, 0.0, 1.0, t_ref=40, t_syn=40, t_max=80)
        arrays[f"drift_eps_{name}"] = np.array(sal_drift(dt, pe, win))
        ax = fig.add_subplot(2, 2, 1 + col)
        ax.plot(t, delta)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(r"$\delta(t)$")
        ax.set_title(
            f"{'excitatory' if w > 0 else 'inhibitory'}: w = {w:g}, "
            rf"$\int\delta$ = {arrays[f'int_delta_{name}']:.2e}",
            fontsize=8,
        )
        ax.set_xticks([0, 40], ["0", r"$\tau_\mathrm{ref}$"])
        ax = fig.add_subplot(2, 2, 3 + col)
        ax.plot(t, big)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(r"$\Delta(t)$")
        ax.set_xlabel(r"$t$")
        ax.set_xticks([0, 40], ["0", r"$\tau_\mathrm{ref}$"])
    fig.subplots_adjust(hspace=0.45, wspace=0.35)
    return _save(fig, out, "fig12", **arrays)
