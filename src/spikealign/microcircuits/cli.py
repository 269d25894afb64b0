"""``spikealign microcircuit ...``: run teacher-student experiments (figure 6)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Cortical microcircuits: SAL vs feedback alignment vs backprop.",
)

SET_HELP = (
    "Override a config value, e.g. --set student_simulation_settings.num_epochs=10 "
    "(repeatable; values are parsed as YAML)."
)


def _default_out(config: str, seed_offset: int) -> Path:
    stem = Path(config).stem if Path(config).suffix in (".yaml", ".yml") else config
    return Path("runs") / "microcircuit" / f"{stem}.{seed_offset:04d}"


@app.command("run")
def run(
    config: str = typer.Argument(
        ..., metavar="CONFIG_OR_PRESET", help="YAML file (the paper's format) or preset name."
    ),
    seed_offset: int = typer.Option(
        0, "--seed-offset", min=0, help="Added to the seeds (run K of a sweep)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run directory [default: runs/microcircuit/NAME.K]."
    ),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    engine: str | None = typer.Option(
        None, "--engine", help="fast or reference [default: options.engine]."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a finished run."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Run teacher and student; write result.npz, metrics.json, run.png and config.yaml."""
    from .config import load_config
    from .experiment import run_experiment

    cfg = load_config(config, overrides)
    if engine is not None and engine not in ("fast", "reference"):
        raise typer.BadParameter("--engine must be fast or reference")
    out = out or _default_out(config, seed_offset)
    metrics = run_experiment(
        cfg,
        out,
        seed_offset=seed_offset,
        progress=not quiet,
        overwrite=overwrite,
        engine=engine,
        reuse=False,
    )
    typer.echo(
        f"{out}: mode {metrics['mode']}, final validation loss free "
        f"{metrics['final_loss_free']:.4g}, nudged {metrics['final_loss_nudged']:.4g} "
        f"({metrics['timing']['ns_per_step']:.0f} ns/step)"
    )


@app.command("presets")
def presets():
    """List the presets."""
    from .config import load_config, preset_names

    for name in preset_names():
        cfg = load_config(name)
        s = cfg.student_simulation_settings
        typer.echo(
            f"{name:14s} mode {cfg.mode:3s}  dims {cfg.dims}  {s.num_epochs} epochs, "
            f"teacher t_pattern {cfg.teacher_simulation_settings.t_pattern}"
        )


@app.command("check")
def check(
    config: str = typer.Argument(..., metavar="CONFIG_OR_PRESET"),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved config as JSON."),
):
    """Validate a config and print it resolved (YAML), with its mode and size."""
    from .config import dump_config, load_config, recording_megabytes
    from .protocol import student_total_steps, teacher_steps

    cfg = load_config(config, overrides)
    if as_json:
        typer.echo(json.dumps(cfg.model_dump(mode="json"), indent=2))
        return
    typer.echo(dump_config(cfg), nl=False)
    typer.echo(
        f"# mode {cfg.mode}; {teacher_steps(cfg):,} teacher + "
        f"{student_total_steps(cfg):,} student steps; recordings "
        f"{recording_megabytes(cfg):.1f} MB"
    )
