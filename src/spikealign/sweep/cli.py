"""``spikealign sweep ...``: list, run and status of paper-scale sweeps on Dask."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from .status import format_duration as _dur

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_cmd():
    """Presets with their run counts and the time they take (measured on a 2-core machine)."""
    from ..config import ConfigError
    from .engine import usable_cores
    from .kinds import SSN_MEASURED_RUNS, SSN_NS_PER_TRAIN_STEP, SSN_NS_PER_VALIDATION_STEP
    from .presets import PRESETS, SCALES, build_specs

    cores = usable_cores()
    cols = [f"{s} (1 core)" for s in SCALES] + [f"{s} ({cores} cores)" for s in SCALES]
    typer.echo(f"{'preset':<17}{'runs':>6}" + "".join(f"{c:>17}" for c in cols) + "  description")
    for name, (desc, parts) in PRESETS.items():
        n = sum(p.n_runs for p in parts)
        cost = {}
        for scale in SCALES:
            try:
                cost[scale] = sum(s.cost for s in build_specs([name], scale)[1])
            except ConfigError:
                cost[scale] = None
        cells = [cost[s] for s in SCALES] + [
            None if cost[s] is None else cost[s] / cores for s in SCALES
        ]
        typer.echo(
            f"{name:<17}{n:>6}"
            + "".join(f"{_dur(c) if c is not None else 'n/a':>17}" for c in cells)
            + f"  {desc}"
        )
    typer.echo(
        "Times: a cost model fitted to CPU times measured on one core here "
        f"(spikealign.sweep.kinds; SSN: {SSN_NS_PER_TRAIN_STEP} ns per training step, "
        f"{SSN_NS_PER_VALIDATION_STEP} ns per validation step, fitted to "
        f"{len(SSN_MEASURED_RUNS)} measured paper-scale parts, e.g. 53-55 s per "
        "syn_noise(_sal) run, 171-219 s per plast_noise(_sal) run, 18-22 s per KP twin); the "
        f"{cores}-core column assumes all cores busy. The same run costs up to a quarter more "
        "or less between hosts and sessions; `sweep status DIR` rescales by the finished runs. "
        "n/a: family not in this build."
    )


@app.command("run")
def run_cmd(
    presets: list[str] = typer.Argument(
        ..., metavar="PRESET...", help="fig4, fig5, fig6, tiny or a part (sweep list)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Sweep directory [runs/sweep-<scale>]."),
    scale: str = typer.Option("paper", "--scale", help="paper or quick (same grid, short runs)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Address of a running Dask scheduler."
    ),
    cluster: str = typer.Option("local", "--cluster", help="local or slurm."),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes [local: usable cores; slurm: 10 jobs]."
    ),
    cores: int = typer.Option(8, "--cores", help="slurm: cores (= workers) per job."),
    memory: str = typer.Option("16GB", "--memory", help="slurm: memory per job."),
    walltime: str = typer.Option("04:00:00", "--walltime", help="slurm: walltime per job."),
    queue: str | None = typer.Option(None, "--queue", help="slurm: partition."),
    account: str | None = typer.Option(None, "--account", help="slurm: account to charge."),
    interface: str | None = typer.Option(
        None, "--interface", help="slurm: network interface, e.g. ib0."
    ),
    local_directory: str | None = typer.Option(
        None, "--local-directory", help="slurm: worker scratch directory."
    ),
    job_extra: list[str] = typer.Option(
        None, "--job-extra", help="slurm: extra #SBATCH line, e.g. '--qos=long'."
    ),
    set_: list[str] = typer.Option(None, "--set", help="Override a config key in every run."),
    limit: int | None = typer.Option(None, "--limit", help="Run at most N unfinished runs."),
    levels: list[float] = typer.Option(
        None,
        "--level",
        help="Run only the runs at this noise level (repeatable); the others stay missing.",
    ),
    figures: bool = typer.Option(
        True, "--figures/--no-figures", help="Draw the preset's figures at the end."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Run a sweep (skips finished runs; reruns failed, damaged and interrupted ones), then
    draw it."""
    from ..config import ConfigError, parse_overrides
    from .engine import SlurmOptions, sweep
    from .presets import SCALES

    # option checks before anything is planned or written
    if scale not in SCALES:
        raise ConfigError(f"--scale: must be one of {', '.join(SCALES)} (got {scale!r})")
    if cluster not in ("local", "slurm"):
        raise ConfigError(f"--cluster: must be local or slurm (got {cluster!r})")
    for name, value, low in (
        ("--limit", limit, 0),
        ("--workers", workers, 1),
        ("--cores", cores, 1),
    ):
        if value is not None and value < low:
            raise ConfigError(f"{name}: must be >= {low} (got {value})")

    argv = (
        "spikealign sweep " + shlex.join(sys.argv[sys.argv.index("run") :])
        if "run" in sys.argv
        else None
    )
    slurm = SlurmOptions(
        cores=cores,
        memory=memory,
        walltime=walltime,
        queue=queue,
        account=account,
        interface=interface,
        local_directory=local_directory,
        job_extra=tuple(job_extra or ()),
    )
    res = sweep(
        presets,
        out or Path("runs") / f"sweep-{scale}",
        scale=scale,
        overrides=parse_overrides(set_, "lr.symm"),
        argv=argv,
        scheduler=scheduler,
        cluster=cluster,
        workers=workers,
        slurm=slurm,
        limit=limit,
        levels=levels or None,
        show_progress=not quiet,
        echo=typer.echo,
    )
    out, parts, c = res["out"], res["parts"], res["counts"]
    if res["pending"]:
        typer.echo(
            f"{c.get('done', 0)} runs done, {c.get('failed', 0)} failed, "
            f"{c.get('lost', 0)} lost in {_dur(res['wall_s'])} "
            f"(runs: {_dur(res['run_wall_s'])} wall, {_dur(res['run_cpu_s'])} CPU)"
        )
    drawn = _draw(out, sorted({p.figure for p in parts})) if figures else True
    from .status import format_summary, summarize

    summary = summarize(out)
    typer.echo(format_summary(summary))
    if summary["total"]["failed"] or c.get("lost") or not drawn:
        raise typer.Exit(1)


def _draw(out: Path, fig_ids: list[str]) -> bool:
    """Draw the figures; False when one could not be written (a full disk, a read-only
    medium: one ``error:`` line naming the file; the summary still follows, exit status 1)."""
    from ..figures import make_figure
    from ..io import describe_os_error
    from .layout import FIGURE_DIR

    written = True
    for fig_id in fig_ids:
        try:
            for path in make_figure(fig_id, out, out / FIGURE_DIR, False):
                typer.echo(f"figure {fig_id}: {path}")
        except (ValueError, FileNotFoundError, ImportError) as exc:
            typer.echo(f"figure {fig_id} not drawn: {exc}", err=True)
        except OSError as exc:
            typer.echo(f"error: figure {fig_id} not drawn: {describe_os_error(exc)}", err=True)
            written = False
    return written


@app.command("status")
def status_cmd(
    directory: Path = typer.Argument(..., metavar="DIR", help="Sweep directory."),
    json_: bool = typer.Option(False, "--json", help="Machine-readable summary."),
):
    """Summarise a sweep directory: done / failed (incl. damaged results) / running /
    interrupted / missing runs."""
    import json

    from .status import format_summary, summarize

    _check_manifest_file(directory)
    summary = summarize(directory)
    typer.echo(json.dumps(summary, indent=2) if json_ else format_summary(summary))


def _check_manifest_file(directory: Path) -> None:
    """A ``sweep.json`` that is not the manifest ``sweep run`` writes (binary, not JSON, another
    structure) is refused with one line naming it, instead of a traceback."""
    import json

    from ..config import ConfigError
    from .layout import MANIFEST

    path = Path(directory) / MANIFEST
    if not path.is_file():
        return  # summarize says: not a sweep directory
    try:
        man = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: damaged sweep manifest (not a JSON text: {type(exc).__name__})"
        ) from None
    parts = man.get("parts") if isinstance(man, dict) else None
    ok = isinstance(parts, dict) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("runs"), list)
        and all(
            isinstance(r, dict) and isinstance(r.get("dir"), str) and "config_hash" in r
            for r in entry["runs"]
        )
        for entry in parts.values()
    )
    if not ok:
        raise ConfigError(
            f"{path}: damaged sweep manifest (not the layout `spikealign sweep run` writes)"
        )
