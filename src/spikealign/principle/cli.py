"""``spikealign principle ...``: analytic STDDs and SAL phase planes from the command line.

Conventions: A and B are the two neurons, ``--w-ab`` is the weight from B onto A and
``dt = t_A - t_B``. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="SAL principle: analytic STDDs and phase planes of two coupled neurons.",
)

_PSP_HELP = "PSP shape: rect, alpha, exp, cutoff or tail."
_CHAIN_HELP = "upstream (min ISI t_ref, the paper's chain) or simulator (t_ref + 1, exact SSN)."


def _window(kind: str, tau: float | None, amplitude: float, t_ref: int):
    from ..config import ConfigError
    from ..stdp import sal_window

    if kind not in ("exp", "tri"):
        raise ConfigError(f"window: must be exp or tri (got {kind!r})")
    tau = float(t_ref if tau is None else tau)
    if not tau > 0:
        raise ConfigError(f"tau: must be > 0 (got {tau})")
    return sal_window(tau, amplitude, kind=kind)


def _defaults(t_ref: int, t_syn: float | None, t_max: int | None):
    return (float(t_ref) if t_syn is None else t_syn), (2 * t_ref + 2 if t_max is None else t_max)


@app.command("stdd")
def stdd_cmd(
    w_ab: float = typer.Option(..., "--w-ab", help="Weight from B onto A."),
    w_ba: float = typer.Option(..., "--w-ba", help="Weight from A onto B."),
    b_a: float = typer.Option(0.0, "--b-a", help="Bias of A."),
    b_b: float = typer.Option(0.0, "--b-b", help="Bias of B."),
    t_ref: int = typer.Option(..., "--t-ref", help="Refractory period (steps)."),
    t_syn: float | None = typer.Option(None, "--t-syn", help="PSP time constant [t_ref]."),
    t_max: int | None = typer.Option(None, "--t-max", help="Age cap [2 t_ref + 2]."),
    psp: str = typer.Option("rect", "--psp", help=_PSP_HELP),
    chain: str = typer.Option("upstream", "--chain", help=_CHAIN_HELP),
    center: str = typer.Option("nan", "--center", help="dt = 0 bin: nan, zero or smooth."),
    ties: str | None = typer.Option(None, "--ties", help="exact or upstream [by chain]."),
    window: str = typer.Option("exp", "--window", help="SAL window shape: exp or tri."),
    tau: float | None = typer.Option(None, "--tau", help="SAL window time constant [t_ref]."),
    amplitude: float = typer.Option(1.0, "--amplitude", help="SAL window amplitude."),
    table: bool = typer.Option(False, "--table", help="Also print every bin (dt, p)."),
    out: Path | None = typer.Option(None, "--out", help="Save the STDD (.npz or .csv)."),
):
    """Analytic STDD of two coupled sampling neurons and the SAL drift of both weights."""
    import numpy as np

    from ..config import ConfigError
    from ..io import atomic_save_npz, atomic_write_text
    from .chain import ChainSpec
    from .drift import sal_drift
    from .stdd import CENTERS, resolve_ties, stdd

    t_syn, t_max = _defaults(t_ref, t_syn, t_max)
    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)  # validates before any work
    ties = resolve_ties(spec.chain, ties)
    if center not in CENTERS:
        raise ConfigError(f"center: must be one of {', '.join(CENTERS)} (got {center!r})")
    win = _window(window, tau, amplitude, t_ref)
    if out is not None and out.suffix not in (".npz", ".csv"):
        raise ConfigError(f"out: must end in .npz or .csv (got {out})")
    dt, p = stdd(
        w_ab,
        w_ba,
        b_a,
        b_b,
        t_ref=t_ref,
        t_syn=t_syn,
        t_max=t_max,
        psp=psp,
        chain=chain,
        center=center,
        ties=ties,
    )
    dw_ab, dw_ba = sal_drift(dt, p, win)
    typer.echo(
        f"# W_AB={w_ab:g} W_BA={w_ba:g} b_A={b_a:g} b_B={b_b:g} t_ref={t_ref} "
        f"t_syn={t_syn:g} t_max={t_max} psp={psp} chain={chain} ties={ties} "
        f"window={window}(tau={win.tau_plus.item():g}, A={amplitude:g})"
    )
    typer.echo(f"dW_AB: {dw_ab:.10g}")
    typer.echo(f"dW_BA: {dw_ba:.10g}")
    typer.echo(f"mass dt<0: {np.sum(p[dt < 0]):.6f}  dt>0: {np.sum(p[dt > 0]):.6f}")
    mode = int(dt[np.nanargmax(np.where(dt != 0, p, -1.0))])
    typer.echo(f"mode dt: {mode}")
    if table:
        for d, v in zip(dt, p, strict=True):
            typer.echo(f"{int(d)} {v:.10g}")
    if out is not None:
        if out.suffix == ".npz":
            atomic_save_npz(
                out,
                dt=dt,
                p=p,
                dw=np.array([dw_ab, dw_ba]),
                params=np.array([w_ab, w_ba, b_a, b_b, t_ref, t_syn, t_max]),
                psp=psp,
                chain=chain,
                ties=ties,
                center=center,
            )
        else:
            lines = ["dt,p"] + [f"{int(d)},{v:.17g}" for d, v in zip(dt, p, strict=True)]
            atomic_write_text(out, "\n".join(lines) + "\n")
        typer.echo(f"wrote {out}")


@app.command("phase-plane")
def phase_plane_cmd(
    w_min: float = typer.Option(-2.0, "--w-min", help="Smallest weight of the grid."),
    w_max: float = typer.Option(2.0, "--w-max", help="Largest weight of the grid."),
    n: int = typer.Option(17, "--n", help="Grid values per axis."),
    b_a: float = typer.Option(0.0, "--b-a", help="Bias of A."),
    b_b: float = typer.Option(0.0, "--b-b", help="Bias of B."),
    t_ref: int = typer.Option(..., "--t-ref", help="Refractory period (steps)."),
    t_syn: float | None = typer.Option(None, "--t-syn", help="PSP time constant [t_ref]."),
    t_max: int | None = typer.Option(None, "--t-max", help="Age cap [2 t_ref + 2]."),
    psp: str = typer.Option("rect", "--psp", help=_PSP_HELP),
    chain: str = typer.Option("upstream", "--chain", help=_CHAIN_HELP),
    ties: str | None = typer.Option(None, "--ties", help="exact or upstream [by chain]."),
    window: str = typer.Option("exp", "--window", help="SAL window shape: exp or tri."),
    tau: float | None = typer.Option(None, "--tau", help="SAL window time constant [t_ref]."),
    amplitude: float = typer.Option(1.0, "--amplitude", help="SAL window amplitude."),
    upscale_n: int = typer.Option(100, "--upscale", help="Attractor: interpolate to N x N."),
    workers: int | None = typer.Option(None, "--workers", help="Processes [all CPUs]."),
    out: Path = typer.Option(Path("phase_plane.npz"), "--out", help="Result file (.npz)."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw it (.png or .pdf)."),
):
    """SAL drift on a (W_AB, W_BA) grid, its attractor line and deviation from the diagonal."""
    import numpy as np

    from ..config import ConfigError
    from ..io import atomic_save_npz, atomic_savefig
    from .chain import ChainSpec
    from .drift import attractor, attractor_deviation, phase_plane
    from .stdd import resolve_ties

    t_syn, t_max = _defaults(t_ref, t_syn, t_max)
    spec = ChainSpec(t_ref, t_syn, t_max, psp, chain)
    ties = resolve_ties(spec.chain, ties)
    if n < 2:
        raise ConfigError(f"n: must be >= 2 (got {n})")
    if not w_max > w_min:
        raise ConfigError(f"w_max: must be larger than w_min (got {w_min:g}, {w_max:g})")
    if upscale_n < 2:
        raise ConfigError(f"upscale: must be >= 2 (got {upscale_n})")
    if out.suffix != ".npz":
        raise ConfigError(f"out: must end in .npz (got {out})")
    if plot is not None and plot.suffix not in (".png", ".pdf"):
        raise ConfigError(f"plot: must end in .png or .pdf (got {plot})")
    win = _window(window, tau, amplitude, t_ref)
    w = np.linspace(w_min, w_max, n)
    grid = phase_plane(
        w,
        b_a=b_a,
        b_b=b_b,
        t_ref=t_ref,
        t_syn=t_syn,
        t_max=t_max,
        window=win,
        psp=psp,
        chain=chain,
        ties=ties,
        workers=workers,
        progress=True,
    )
    line = attractor(w, grid, n_upscale=upscale_n if n >= 4 else None)
    dev = attractor_deviation(line)
    atomic_save_npz(
        out,
        w=w,
        grid=grid,
        attractor=line,
        deviation=dev,
        params=np.array([b_a, b_b, t_ref, t_syn, t_max]),
        psp=psp,
        chain=chain,
        ties=ties,
        attractor_columns=np.array(["W_BA", "W_AB"]),
    )
    typer.echo(f"grid: {n} x {n}, W in [{w_min:g}, {w_max:g}], max |dW| = {np.abs(grid).max():.6g}")
    typer.echo(
        f"attractor points: {len(line)}; mean relative deviation from the diagonal: {dev:.6g}"
    )
    typer.echo(f"wrote {out}")
    if plot is not None:
        from .figures import _figure, plot_phase_plane

        fig = _figure(figsize=(5, 4))
        ax = fig.add_subplot(1, 1, 1)
        plot_phase_plane(fig, ax, w, w, grid)
        ax.plot(w, w, "k:", lw=0.8)
        ax.set_xlabel(r"$W_{AB}$")
        ax.set_ylabel(r"$W_{BA}$")
        atomic_savefig(fig, plot, dpi=150, bbox_inches="tight")
        typer.echo(f"wrote {plot}")
