"""The ``spikealign`` command line.

Sub-commands live next to their model family (``spikealign/<family>/cli.py``) and are
registered in :data:`SUBCOMMANDS`; figures are registered in :mod:`spikealign.figures`.
Heavy imports (numba kernels, torch) happen inside the commands, so ``--help`` is quick.

User errors (bad config, existing output, missing data) print one line and exit with status 2;
a file that cannot be written (disk full, read-only medium) prints one line naming it and the
OS's reason and exits with status 1.
"""

from __future__ import annotations

import importlib
import math
import sys
import warnings
from pathlib import Path

import typer
import typer.main

from . import __version__

app = typer.Typer(
    name="spikealign",
    help="Spike-based alignment learning (SAL): simulators, training and paper figures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: (name, module holding a typer ``app``, help)
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("ssn", "spikealign.ssn.cli", "Spiking sampling networks: wake-sleep learning with SAL/KP."),
    ("principle", "spikealign.principle.cli", "SAL principle: analytic STDDs and phase planes."),
    (
        "microcircuit",
        "spikealign.microcircuits.cli",
        "Cortical microcircuits: SAL vs feedback alignment vs backprop (figure 6).",
    ),
    ("deep", "spikealign.deep.cli", "Deep networks: weight-transport benchmark (figs 7-9)."),
    ("data", "spikealign.deep.data_cli", "Data sets: checksum-verified downloads, look-ups."),
    ("sweep", "spikealign.sweep.cli", "Paper-scale sweeps on Dask (figures 4, 5, 6)."),
    ("bm", "spikealign.bm.cli", "Spiking Boltzmann machines with hidden units, SAL/KP."),
]

for _name, _module, _help in SUBCOMMANDS:
    app.add_typer(importlib.import_module(_module).app, name=_name, help=_help)


@app.command("figure")
def figure(
    fig_id: str = typer.Argument(..., metavar="ID", help="Paper figure number."),
    source: Path | None = typer.Argument(None, help="Directory of runs (figures 4, 5, 6, 8)."),
    out: Path = typer.Option(Path("figures"), "--out", help="Output directory."),
    quick: bool = typer.Option(False, "--quick", help="Reduced variant (minutes, not hours)."),
):
    """Reproduce one paper figure (PNG + PDF + the npz of what is plotted)."""
    from .figures import make_figure

    for path in make_figure(fig_id, source, out, quick):
        typer.echo(str(path))


@app.command("version")
def version():
    """Print the version."""
    typer.echo(__version__)


def _print_version(value: bool) -> None:
    """Eager ``--version``: print the version and stop before any sub-command runs."""
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    pass


class UserError(Exception):
    """Raised for problems the user can fix; printed as one line."""


def _click_module():
    """The click that typer uses (recent typer versions bundle their own copy)."""
    try:
        from typer import _click  # type: ignore[attr-defined]

        return _click
    except ImportError:  # pragma: no cover - older typer
        import click

        return click


def _option_name(param) -> str:
    opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    if opts and getattr(param, "param_type_name", "option") == "option":
        return opts[0]
    return param.human_readable_name


def _finite_check(param, inner):
    """A parameter callback that refuses NaN and infinity, then calls ``inner``."""

    def check(ctx, p, value):
        values = value if isinstance(value, list | tuple) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                from .config import ConfigError

                raise ConfigError(f"{_option_name(p)}: must be a finite number (got {v!r})")
        return inner(ctx, p, value) if inner is not None else value

    return check


def guard_float_options(command) -> None:
    """Make every option and argument of ``command`` and its sub-commands refuse a float value
    that is NaN or infinite (``--lr nan``, ``--w-ab inf``) with one line naming the option,
    before the command runs. Non-float values pass unchanged."""
    for param in command.params:
        if not getattr(param, "_finite_guard", False):
            param.callback = _finite_check(param, param.callback)
            param._finite_guard = True
    for sub in getattr(command, "commands", {}).values():
        guard_float_options(sub)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and other control characters (which can come from a
    user's key or value) are written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings of the command line (e.g. a damaged checkpoint) as one ``warning: ...`` line."""
    return f"warning: {message}\n"


def main(argv: list[str] | None = None):
    """Entry point. Usage errors print click's message (exit 2); user errors such as a bad
    config or a non-finite float option print one ``error: ...`` line (exit 2); an ``OSError``
    (a write on a full disk or a read-only medium: :class:`spikealign.io.WriteError`) prints
    one ``error: cannot write PATH: REASON`` line (exit 1). Returns normally on success."""
    from .config import ConfigError
    from .io import OutputExistsError, describe_os_error

    click = _click_module()
    warnings.formatwarning = _one_line_warning
    try:
        command = typer.main.get_command(app)
        guard_float_options(command)
        # without standalone mode typer *returns* the code of ``typer.Exit(code)`` and turns
        # Ctrl-C into a returned 130; both must become the process's exit status
        code = command.main(args=argv, prog_name="spikealign", standalone_mode=False)
    except (ConfigError, OutputExistsError, UserError, ValueError, FileNotFoundError) as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:  # the OS refused (a full disk, a read-only medium): no traceback
        typer.echo(f"error: {one_line(describe_os_error(exc))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        code = 130
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == 130:
            typer.echo("interrupted", err=True)
        sys.exit(code)
