"""``spikealign bm ...``: train, presets, check, sweep, figure."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True)


def parse_overrides(pairs: list[str]) -> dict:
    """``a.b=value`` pairs to a nested dict (:func:`spikealign.config.parse_overrides`, the
    parser of every family's ``--set``)."""
    from ..config import parse_overrides as _parse

    return _parse(pairs, "lr.symm")


@app.command("train")
def train_cmd(
    config: str = typer.Argument(..., help="YAML file or preset name (spikealign bm presets)."),
    out: Path | None = typer.Option(None, "--out", help="Run directory [runs/bm/<name>]."),
    set_: list[str] = typer.Option(None, "--set", help="Override a key, e.g. --set lr.symm=0.2"),
    engine: str = typer.Option("fast", help="fast (numba) or reference (slow, readable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a finished run."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Train one spiking Boltzmann machine; writes metrics.json, results.npz, config.yaml and
    figure.png/pdf into the run directory (an interrupted run resumes)."""
    from ..config import ConfigError
    from .config import load_config
    from .run import run

    cfg = load_config(config, overrides=parse_overrides(set_))
    if engine not in ("fast", "reference"):
        raise ConfigError(f"--engine: must be fast or reference (got {engine!r})")
    name = Path(config).stem
    out = out or Path("runs") / "bm" / name
    m = run(cfg, out, engine=engine, overwrite=overwrite, show_progress=not quiet, label=name)
    parts = [f"{out}:"]
    if m["test_accuracy"] is not None:
        parts.append(
            f"validation accuracy {m['validation_accuracy']:.3f}, "
            f"test accuracy {m['test_accuracy']:.3f} (evaluated once),"
        )
    if m["dkl_sampled"] is not None:
        parts.append(f"D_KL sampled {m['dkl_sampled']:.4g}, exact {m['dkl_exact']:.4g}")
    parts.append(
        f"asymmetry {m['asymmetry']:.4g}, feedback {m['feedback']}, {m['runtime_s']:.1f} s"
    )
    typer.echo(" ".join(parts))


@app.command("presets")
def presets_cmd():
    """List the shipped configs and the sweep presets."""
    from .config import PRESET_DIR, load_config, presets
    from .experiments import EXPERIMENTS

    for name in presets():
        cfg = load_config(name)
        first = (PRESET_DIR / f"{name}.yaml").read_text().splitlines()[0].lstrip("# ")
        typer.echo(
            f"{name:<16} task={cfg.task:<7} hidden={cfg.network.n_hidden:<4} "
            f"epochs={cfg.epochs:<4} feedback={cfg.feedback:<5} {first}"
        )
    for name, exp in EXPERIMENTS.items():
        n = len(exp.cells()) * len(exp.seeds) + len(exp.baseline_seeds)
        typer.echo(f"sweep {name:<16} {n} runs: {exp.description} (spikealign sweep run {name})")


@app.command("check")
def check_cmd(
    config: str = typer.Argument(..., help="YAML file or preset name."),
    set_: list[str] = typer.Option(None, "--set", help="Override a key."),
):
    """Validate a config and print it resolved."""
    from ..config import dump_yaml
    from .config import load_config

    cfg = load_config(config, overrides=parse_overrides(set_))
    typer.echo(dump_yaml(cfg))
    typer.echo(f"# task {cfg.task}, {cfg.epochs} epochs, feedback: {cfg.feedback}")


@app.command("sweep")
def sweep_cmd(
    name: str = typer.Argument(
        ..., help="Experiment: digits, digits-long, bars, sleep, fmnist (spikealign bm presets)."
    ),
    out: Path = typer.Option(..., "--out", help="Sweep directory."),
    scale: str = typer.Option("paper", "--scale", help="paper or quick (same grid, short runs)."),
    workers: int | None = typer.Option(None, "--workers", help="Worker processes [usable cores]."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Alias of `spikealign sweep run bm_NAME` (the Dask sweep engine: resumable, a run is
    reused only when its config matches, figures at the end)."""
    from ..sweep.cli import run_cmd
    from .sweep import preset_name

    run_cmd(
        presets=[preset_name(name)],
        out=out,
        scale=scale,
        scheduler=None,
        cluster="local",
        workers=workers,
        cores=8,
        memory="16GB",
        walltime="04:00:00",
        queue=None,
        account=None,
        interface=None,
        local_directory=None,
        job_extra=None,
        set_=None,
        limit=None,
        levels=None,
        figures=True,
        quiet=quiet,
    )


@app.command("baselines")
def baselines_cmd(
    config: str = typer.Argument(
        ...,
        metavar="TASK",
        help="digits, fmnist, or a bm config / preset whose data "
        "section and hidden-layer size are used.",
    ),
    out: Path = typer.Option(..., "--out", help="Run directory (baselines.json)."),
    seed: int = typer.Option(
        0, "--seed", min=0, max=2**31 - 1, help="Seed of the stochastic baselines."
    ),
    set_: list[str] = typer.Option(None, "--set", help="Override a key of the config."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace finished results."),
):
    """Simple baselines on the spiking machine's split and input, tuned on validation and
    tested once: logistic regression, k-NN, an MLP, BernoulliRBM + logistic regression and a
    non-spiking Boltzmann machine of the same architecture (CD-1, PCD)."""
    from .config import load_config
    from .run import baselines_table, run_baselines

    preset = {"digits": "digits", "fmnist": "fmnist-14"}.get(config, config)
    cfg = load_config(preset, overrides=parse_overrides(set_))
    spec = {
        "task": cfg.task,
        "data": cfg.data.model_dump(mode="json"),
        "n_hidden": cfg.network.n_hidden,
        "seed": seed,
    }
    run_baselines(spec, out, overwrite=overwrite, echo=None)
    import json

    res = json.loads((Path(out) / "baselines.json").read_text())
    for row in baselines_table(res):
        typer.echo(row)
    typer.echo(f"written: {Path(out) / 'baselines.json'}")


@app.command("figure")
def figure_cmd(
    source: Path = typer.Argument(..., help="Sweep directory (spikealign bm sweep)."),
    out: Path = typer.Option(Path("figures"), "--out", help="Output directory."),
):
    """The experiment figure of a sweep: accuracy / D_KL and asymmetry per condition."""
    from .figures import figure_bm

    for p in figure_bm(source, out, quick=False):
        typer.echo(str(p))
