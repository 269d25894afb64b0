"""The resumable training run every simulation family shares (SSN, spiking Boltzmann machines):
one run directory, its lock, checkpoints, result files and checksums, written once.

A family describes its run as a :class:`Trainable` (how to start, continue, checkpoint and
finish its training state); :func:`run_resumable` does the rest, in this order:

1. refuse an unusable ``--out`` (a file, under a file: :func:`spikealign.rundir.check_out`);
2. claim the directory for the whole run (:func:`spikealign.rundir.claim`: no foreign files,
   one writer, a finished run only replaced with ``overwrite``);
3. resume from ``checkpoint.npz`` when it holds this config (a checkpoint of another config is
   a one-line error; a damaged one is reported and the run starts again);
4. write ``config.yaml``, then train block by block with a progress bar (ETA), writing the
   checkpoint (atomically) and ``status.json`` after each due block;
5. write the result files (``results.npz``, ``metrics.json``, the run figure), record their
   checksums and mark the run ``done`` (:meth:`spikealign.rundir.Run.finish`); remove the
   checkpoint.

Ctrl-C or an error leaves ``status.json`` ``interrupted`` / ``failed`` and the last checkpoint,
from which the same command continues; an uninterrupted and a resumed run end bit-identical as
long as the family's state arrays hold everything that evolves (its random generator too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import rundir
from .config import ConfigError
from .io import atomic_save_npz, atomic_write_json, atomic_write_text, write_status
from .progress import progress

CHECKPOINT = "checkpoint.npz"


@dataclass
class Trainable:
    """One family's training run, as :func:`run_resumable` needs it.

    ``family``: the run-directory layout (:data:`spikealign.rundir.LAYOUTS`); ``config_yaml``
    and ``config_hash``: the resolved config; ``total`` / ``unit`` / ``progress_key`` /
    ``total_key``: the progress (e.g. 20001 ``cycle``\\ s, recorded in ``status.json`` as
    ``cycle`` and ``num_epochs``). Callables:

    * ``new_state()`` / ``state_from_arrays(npz)`` / ``state_arrays(state)``: start, restore,
      save the training state;
    * ``position(state)``: progress so far; ``done(state)``;
    * ``step(state, on_progress)``: one block of training (calls ``on_progress(k)``);
    * ``checkpoint_due(state)``: write a checkpoint after this block;
    * ``postfix(state)``: numbers shown on the progress bar;
    * ``results(state)``: ``(arrays of results.npz, metrics.json dict)``;
    * ``figure(results, stem)``: the run figure's paths (None: no figure).
    """

    family: str
    config_yaml: str
    config_hash: str
    total: int
    unit: str
    progress_key: str
    total_key: str
    new_state: Callable[[], Any]
    state_from_arrays: Callable[[Any], Any]
    state_arrays: Callable[[Any], dict]
    position: Callable[[Any], int]
    done: Callable[[Any], bool]
    step: Callable[[Any, Callable[[int], Any]], None]
    results: Callable[[Any], tuple[dict, dict]]
    checkpoint_due: Callable[[Any], bool] = field(default=lambda state: True)
    postfix: Callable[[Any], dict] = field(default=lambda state: {})
    figure: Callable[[dict, Path], list[Path]] | None = None
    finish_keys: tuple[str, ...] = ("runtime_s",)


def resume_point(trainable: Trainable, ckpt: Path):
    """The state saved in ``ckpt`` (None without one, or when it is damaged: reported, the run
    starts again). A checkpoint of another config is a :class:`ConfigError`."""
    if not ckpt.is_file():
        return None
    try:
        with np.load(ckpt) as a:
            if "config_hash" in a.files and str(a["config_hash"]) != trainable.config_hash:
                raise ConfigError(
                    f"{ckpt.parent} holds a checkpoint of a different config; "
                    "use another --out or --overwrite"
                )
            return trainable.state_from_arrays(a)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a truncated or corrupt file, whatever numpy says
        rundir.warn(
            f"{ckpt}: damaged checkpoint ({type(exc).__name__}: {exc}); the run "
            "restarts from its beginning"
        )
        return None


def run_resumable(
    trainable: Trainable,
    out_dir,
    *,
    overwrite: bool = False,
    show_progress: bool = True,
    make_figure: bool = True,
    label: str = "run",
    bar_position: int | None = None,
) -> dict:
    """Train ``trainable`` into ``out_dir`` (module docstring); returns its metrics."""
    t = trainable
    out_dir = rundir.check_out(out_dir)
    ckpt = out_dir / CHECKPOINT
    with rundir.claim(
        out_dir, rundir.LAYOUTS[t.family], overwrite=overwrite, config_hash=t.config_hash
    ) as rd:
        state = None if overwrite else resume_point(t, ckpt)
        if state is None:
            state = t.new_state()
        pos = t.position(state)
        rd.begin(**{t.progress_key: pos, t.total_key: t.total, "resumed": pos > 0})
        rd.extra[t.progress_key] = pos
        atomic_write_text(out_dir / "config.yaml", t.config_yaml)
        with progress(
            total=t.total,
            desc=label,
            unit=t.unit,
            disable=None if show_progress else True,
            initial=pos,
            position=bar_position,
        ) as bar:
            while not t.done(state):
                t.step(state, bar.update)
                bar.set_postfix(t.postfix(state))
                if t.checkpoint_due(state) and not t.done(state):
                    atomic_save_npz(
                        ckpt,
                        compressed=False,
                        config_hash=np.array(t.config_hash),
                        **t.state_arrays(state),
                    )
                rd.extra[t.progress_key] = t.position(state)
                write_status(
                    out_dir, "running", **{t.progress_key: t.position(state), t.total_key: t.total}
                )
        result, metrics = t.results(state)
        atomic_save_npz(out_dir / "results.npz", **result)
        atomic_write_json(out_dir / "metrics.json", metrics)
        files = ["config.yaml", "results.npz", "metrics.json"]
        if make_figure and t.figure is not None:
            files += [p.name for p in t.figure(result, out_dir / "figure")]
        rd.finish(
            files,
            config_hash=t.config_hash,
            **{k: metrics[k] for k in t.finish_keys if k in metrics},
        )
        ckpt.unlink(missing_ok=True)
        return metrics
