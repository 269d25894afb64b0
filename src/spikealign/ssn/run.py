"""One SSN training run with its output directory: resumable, atomic, never silently overwritten.

Files in the run directory (all written atomically):

``config.yaml``      the resolved, validated config
``checkpoint.npz``   training state after the last finished validation block (removed when done)
``results.npz``      results, see :data:`RESULT_FIELDS`
``metrics.json``     final and summary numbers (:func:`summary`)
``figure.png/.pdf``  DKL, asymmetry, weights and biases against targets, W - W^T, final vs
                     target distribution
``status.json``      ``{"state": "running" | "done" | "failed", ...}``

An interrupted run restarted with the same directory and config continues from its checkpoint
and ends bit-identical to an uninterrupted run (the simulator's random state is saved too).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import ConfigError, dump_yaml
from ..io import (
    atomic_save_npz,
    atomic_write_json,
    atomic_write_text,
    prepare_run_dir,
    read_status,
    write_status,
)
from ..progress import progress
from .config import SSNConfig
from .train import Trainer, TrainState, initial_state

#: fields of results.npz (n_val validations, N neurons)
RESULT_FIELDS = {
    "dkls": "(n_val,) D_KL(target || sampled) at each validation",
    "target_distr": "(2^N,) exact target distribution (neuron 0 = most significant bit)",
    "all_distr": "(n_val, 2^N) sampled distribution at each validation",
    "all_weights": "(n_val, N, N) W after each validation cycle's update, W[post, pre]",
    "all_biases": "(n_val, N) biases after each validation cycle",
    "all_asym": "(n_val,) Var(triu(W - W^T, k=1)) at each validation",
    "val_cycles": "(n_val,) cycle index of each validation",
    "target_weights": "(N, N) target W*",
    "target_biases": "(N,) target b*",
    "initial_weights": "(N, N) W0",
    "initial_biases": "(N,) b0",
    "final_weights": "(N, N) W after the last cycle",
    "final_biases": "(N,) b after the last cycle",
}


def config_hash(cfg: SSNConfig) -> str:
    return hashlib.sha256(dump_yaml(cfg).encode()).hexdigest()[:16]


def results_arrays(trainer: Trainer, state: TrainState) -> dict:
    p = trainer.problem
    n = trainer.cfg.dim
    return {
        "dkls": np.array(state.dkls, dtype=float),
        "target_distr": p.target_distr,
        "all_distr": np.array(state.distrs, dtype=float).reshape(-1, 2**n),
        "all_weights": np.array(state.weights, dtype=float).reshape(-1, n, n),
        "all_biases": np.array(state.biases, dtype=float).reshape(-1, n),
        "all_asym": np.array(state.asyms, dtype=float),
        "val_cycles": np.array(state.val_cycles, dtype=np.int64),
        "target_weights": p.W_target,
        "target_biases": p.b_target,
        "initial_weights": p.W0,
        "initial_biases": p.b0,
        "final_weights": state.W,
        "final_biases": state.b,
    }


def summary(cfg: SSNConfig, state: TrainState, engine: str) -> dict:
    return {
        "feedback": cfg.feedback,
        "final_dkl": state.dkls[-1],
        "final_asym": state.asyms[-1],
        "min_dkl": float(np.min(state.dkls)),
        "n_validations": len(state.dkls),
        "cycles": state.cycle,
        "simulated_steps": cfg.total_steps,
        "runtime_s": state.elapsed_s,
        "ns_per_step": state.elapsed_s / cfg.total_steps * 1e9,
        "engine": engine,
        "version": __version__,
        "config_hash": config_hash(cfg),
    }


def run(cfg: SSNConfig, out_dir, *, engine: str = "fast", overwrite: bool = False,
        show_progress: bool = True, make_figure: bool = True, label: str = "ssn",
        bar_position: int | None = None) -> dict:
    """Train ``cfg`` into ``out_dir`` (resuming a matching checkpoint); returns the summary.

    ``bar_position``: line of the progress bar when several runs share a terminal."""
    out_dir = Path(out_dir)
    trainer = Trainer(cfg, engine)  # validates the engine before anything is written
    prepare_run_dir(out_dir, overwrite=overwrite)
    h = config_hash(cfg)
    ckpt = out_dir / "checkpoint.npz"
    state = None
    status = read_status(out_dir)
    if ckpt.is_file() and not overwrite:
        with np.load(ckpt) as a:
            if str(a["config_hash"]) != h:
                raise ConfigError(
                    f"{out_dir} holds a checkpoint of a different config; use another --out "
                    "or --overwrite"
                )
            state = TrainState.from_arrays(a)
    if state is None:
        state = initial_state(cfg, trainer.problem)
    atomic_write_text(out_dir / "config.yaml", dump_yaml(cfg))
    write_status(out_dir, "running", cycle=state.cycle, num_epochs=cfg.num_epochs,
                 resumed=bool(status and state.cycle > 0), started=time.time())
    try:
        with progress(total=cfg.num_epochs, desc=label, unit="cycle",
                      disable=None if show_progress else True, initial=state.cycle,
                      position=bar_position) as bar:
            while not trainer.done(state):
                trainer.step_block(state, on_cycles=bar.update)
                bar.set_postfix(dkl=f"{state.dkls[-1]:.3g}", asym=f"{state.asyms[-1]:.3g}")
                atomic_save_npz(ckpt, compressed=False, config_hash=np.array(h),
                                **state.to_arrays())
                write_status(out_dir, "running", cycle=state.cycle, num_epochs=cfg.num_epochs)
        result = results_arrays(trainer, state)
        atomic_save_npz(out_dir / "results.npz", **result)
        metrics = summary(cfg, state, engine)
        atomic_write_json(out_dir / "metrics.json", metrics)
        if make_figure:
            from .plots import run_figure

            run_figure(result, out_dir / "figure", title=label)
        write_status(out_dir, "done", finished=time.time(), **{
            k: metrics[k] for k in ("final_dkl", "final_asym", "runtime_s")})
        ckpt.unlink(missing_ok=True)
        return metrics
    except BaseException as exc:
        write_status(out_dir, "failed" if not isinstance(exc, KeyboardInterrupt)
                     else "interrupted", cycle=state.cycle, error=repr(exc))
        raise
