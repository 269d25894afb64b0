"""``spikealign deep ...``: training and standalone symmetrisation.

Importing this module does not import torch: each command checks for it and prints one line
saying how to install the extra when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import ALGOS, DATASETS, INSTALL_HINT, MODELS, torch_available

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _need_torch():
    if not torch_available():
        typer.echo(f"error: {INSTALL_HINT}", err=True)
        raise typer.Exit(2)


def _choice(value: str, allowed, name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


@app.command("train")
def train(
    algo: Annotated[str, typer.Option(help=f"One of {', '.join(ALGOS)}.")],
    dataset: Annotated[str, typer.Option(help=f"One of {', '.join(DATASETS)}.")] = "fmnist",
    model: Annotated[
        str,
        typer.Option(
            help=f"One of {', '.join(MODELS)} or module:function "
            "(function(in_channels, input_shape, n_classes) -> "
            "nn.Module)."
        ),
    ] = "convnet",
    epochs: Annotated[int | None, typer.Option(help="Epochs (default 100).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(help="Run directory (default runs/deep/[MODEL_]ALGO_DATASET_sSEED)."),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder with the data set files.")] = None,
    threads: Annotated[int | None, typer.Option(help="torch.set_num_threads.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML with more TrainConfig fields.")] = None,
    double_softmax: Annotated[
        bool, typer.Option(help="Reproduce upstream: cross-entropy of the softmax output.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a finished run.")] = False,
    no_resume: Annotated[bool, typer.Option(help="Start over instead of resuming.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
):
    """Train a model (the paper's conv net by default) with one feedback algorithm; resumes an
    unfinished run in OUT."""
    _need_torch()
    _choice(algo, ALGOS, "--algo")
    _choice(dataset, DATASETS, "--dataset")
    from ..config import ConfigError, load_yaml, validate
    from .data import find_dataset
    from .train import TrainConfig, train_run

    # every check before the run directory is made: options, config, data
    if data_dir is not None and not data_dir.is_dir():
        raise ConfigError(
            f"--data-dir: {data_dir}: "
            f"{'not a directory' if data_dir.exists() else 'no such directory'}"
        )
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads: must be >= 1 (got {threads})")
    fields = load_yaml(config) if config is not None else {}
    fields.update(algo=algo, dataset=dataset, seed=seed)
    if model != "convnet" or "model" not in fields:
        fields["model"] = model
    if epochs is not None:
        fields["epochs"] = epochs
    if double_softmax:
        fields["double_softmax"] = True
    cfg = validate(TrainConfig, fields, str(config) if config is not None else "deep train")
    find_dataset(cfg.dataset, data_dir)  # missing files: one line saying where to put them
    from .train import checked_model

    try:  # one batch through the model before anything is written
        checked_model(cfg)
    except ConfigError as exc:
        raise ConfigError(f"--{exc}") from None
    prefix = "" if cfg.model == "convnet" else cfg.model.replace(":", "-").replace("/", "-") + "_"
    out = out or Path("runs/deep") / f"{prefix}{algo}_{dataset}_s{seed}"
    m = train_run(
        cfg,
        out,
        data_dir=data_dir,
        progress=not quiet,
        threads=threads,
        resume=not no_resume,
        overwrite=overwrite,
    )
    if m["epochs"]:
        last = m["epochs"][-1]
        angles = ", ".join(f"{a['angle']:.1f}" for a in last["align"])
        typer.echo(f"{out}: test accuracy {last['test_acc']:.2f} %, FC angles {angles} deg")
    else:
        typer.echo(str(out))


@app.command("symmetrize")
def symmetrize(
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/deep/symmetrize"),
    sizes: Annotated[str, typer.Option(help="Layer sizes, comma separated.")] = "1600,384,192,10",
    epochs: Annotated[int, typer.Option(help="Updates of B.")] = 100,
    len_epoch: Annotated[int, typer.Option(help="Steps per update / t_ref.")] = 1000,
    lr: Annotated[float, typer.Option(help="SAL learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option(help="Parallel copies.")] = 1,
    t_ref: Annotated[int, typer.Option(help="Refractory period (steps).")] = 10,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int | None, typer.Option(help="torch.set_num_threads.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a finished run.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
):
    """Symmetrise a random SALNet with SAL alone (figure 9 standalone)."""
    _need_torch()
    from ..config import ConfigError
    from .symmetrize import symmetrize_run

    try:
        size_list = [int(s) for s in sizes.split(",")]
    except ValueError:
        raise ValueError(f"--sizes: comma-separated integers expected (got {sizes!r})") from None
    if len(size_list) < 2 or min(size_list) < 1:
        raise ConfigError(f"--sizes: at least two layer sizes >= 1 expected (got {sizes!r})")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads: must be >= 1 (got {threads})")
    m = symmetrize_run(
        {
            "sizes": size_list,
            "epochs": epochs,
            "len_epoch": len_epoch,
            "sal_lr": lr,
            "batch_size": batch_size,
            "t_ref": t_ref,
            "seed": seed,
        },
        out,
        progress=not quiet,
        overwrite=overwrite,
        threads=threads,
    )
    angles = ", ".join(f"{a['angle']:.1f}" for a in m["align"][-1])
    typer.echo(f"{out}: angles {angles} deg after {m['steps'][-1]} steps")
