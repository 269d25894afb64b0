"""``spikealign ssn ...``: run, demo, presets, check."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True)


def parse_overrides(pairs: list[str]) -> dict:
    """``a.b=value`` pairs to a nested dict (:func:`spikealign.config.parse_overrides`, the
    parser of every family's ``--set``); a malformed pair raises
    :class:`~spikealign.config.ConfigError` naming it."""
    from ..config import parse_overrides as _parse

    return _parse(pairs, "lr.symm")


@app.command("run")
def run_cmd(
    config: str = typer.Argument(..., help="YAML file or preset name (spikealign ssn presets)."),
    out: Path | None = typer.Option(None, "--out", help="Run directory [runs/ssn/<name>]."),
    set_: list[str] = typer.Option(None, "--set", help="Override a key, e.g. --set lr.symm=0"),
    engine: str = typer.Option("fast", help="fast (numba) or reference (slow, readable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a finished run."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Train one SSN; writes results.npz, metrics.json, config.yaml and figure.png/pdf."""
    from ..config import ConfigError
    from .config import load_config
    from .run import run

    cfg = load_config(config, overrides=parse_overrides(set_))
    if engine not in ("fast", "reference"):
        raise ConfigError(f"--engine: must be fast or reference (got {engine!r})")
    name = Path(config).stem
    out = out or Path("runs") / "ssn" / name
    m = run(cfg, out, engine=engine, overwrite=overwrite, show_progress=not quiet, label=name)
    typer.echo(
        f"{out}: final DKL {m['final_dkl']:.4g}, asymmetry {m['final_asym']:.4g}, "
        f"{m['runtime_s']:.1f} s ({m['ns_per_step']:.1f} ns/step)"
    )


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("runs/ssn_demo"), "--out", help="Output directory."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace finished runs."),
    workers: int = typer.Option(0, help="Parallel processes (0: one per core, at most 3)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
):
    """Main job: synaptic noise, the same network without alignment, with SAL and with KP."""
    from ..config import ConfigError
    from .demo import run_demo

    if workers < 0:
        raise ConfigError(f"--workers: must be >= 0 (got {workers})")
    res = run_demo(out, overwrite=overwrite, workers=workers or None, show_progress=not quiet)
    typer.echo(f"{'feedback':<10}{'final DKL':>12}{'asymmetry':>12}{'time [s]':>10}")
    for name, m in res["metrics"].items():
        typer.echo(
            f"{name:<10}{m['final_dkl']:>12.4g}{m['final_asym']:>12.4g}{m['runtime_s']:>10.1f}"
        )
    for f in res["figures"]:
        typer.echo(f)


@app.command("presets")
def presets_cmd():
    """List the shipped configs with their size."""
    from .config import PRESET_DIR, load_config, presets

    for name in presets():
        cfg = load_config(name)
        lines = (PRESET_DIR / f"{name}.yaml").read_text().splitlines()
        first = lines[0].lstrip("# ")
        paper = next(
            (
                ln.split(":", 1)[1].split()[0].rstrip(";")
                for ln in lines[:3]
                if ln.startswith("# paper:")
            ),
            "?",
        )
        typer.echo(
            f"{name:<19} paper={paper:<6} {cfg.num_epochs:>7} cycles  "
            f"{cfg.total_steps:.2e} steps  feedback={cfg.feedback:<5} {first}"
        )


@app.command("check")
def check_cmd(
    config: str = typer.Argument(..., help="YAML file or preset name."),
    set_: list[str] = typer.Option(None, "--set", help="Override a key."),
):
    """Validate a config and print it resolved, with its cost."""
    from ..config import dump_yaml
    from .config import load_config

    cfg = load_config(config, overrides=parse_overrides(set_))
    typer.echo(dump_yaml(cfg))
    typer.echo(
        f"# {cfg.total_steps:.3e} simulated steps, {len(cfg.validation_cycles)} "
        f"validations, feedback: {cfg.feedback}"
    )
