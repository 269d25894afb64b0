"""``spikealign data ...``: explicit data-set downloads (:mod:`.fetch`) and look-ups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import DATASETS

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(DATASETS)}.")],
    dest: Annotated[Path | None, typer.Option(help="Target root (default: the cache).")] = None,
    mirror: Annotated[str | None, typer.Option(help="Base URL replacing the official one.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
):
    """Download a data set with checksum verification into the cache (atomic)."""
    from .fetch import fetch as do_fetch

    folder = do_fetch(name, dest, mirror=mirror, progress=not quiet)
    typer.echo(str(folder))


@app.command("where")
def where(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(DATASETS)}.")],
    data_dir: Annotated[Path | None, typer.Option(help="Folder to search first.")] = None,
):
    """Print the folder a data set would be read from (or where to put it)."""
    from .data import find_dataset

    typer.echo(str(find_dataset(name, data_dir)))
