"""One SSN training run with its output directory: resumable, atomic, never silently overwritten.

Files in the run directory (all written atomically):

``config.yaml``      the resolved, validated config
``checkpoint.npz``   training state after the last finished validation block (removed when done)
``results.npz``      results, see :data:`RESULT_FIELDS`
``metrics.json``     final and summary numbers (:func:`summary`)
``figure.png/.pdf``  DKL, asymmetry, weights and biases against targets, W - W^T, final vs
                     target distribution
``checksums.json``   SHA-256 of the result files and the config hash, written when the run ends
``status.json``      ``{"state": "running" | "done" | "failed" | "interrupted", ...}``

An interrupted run (Ctrl-C: status ``interrupted``; a killed process: ``running`` with a free
lock) restarted with the same directory and config continues from its checkpoint and ends
bit-identical to an uninterrupted run (the simulator's random state is saved too). A damaged
checkpoint is reported and the run restarts from its beginning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__, rundir
from ..config import ConfigError, dump_yaml, yaml_hash
from ..io import atomic_save_npz, atomic_write_json, atomic_write_text, write_status
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
    return yaml_hash(cfg)


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


def _resume_point(ckpt: Path, h: str) -> TrainState | None:
    """The state saved in ``ckpt`` (None without one). A checkpoint of another config is an
    error; a damaged one is reported and the run restarts from its beginning."""
    if not ckpt.is_file():
        return None
    try:
        with np.load(ckpt) as a:
            if "config_hash" in a.files and str(a["config_hash"]) != h:
                raise ConfigError(f"{ckpt.parent} holds a checkpoint of a different config; "
                                  "use another --out or --overwrite")
            return TrainState.from_arrays(a)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a truncated or corrupt file, whatever numpy says
        rundir.warn(f"{ckpt}: damaged checkpoint ({type(exc).__name__}: {exc}); the run "
                    "restarts from its beginning")
        return None


def run(cfg: SSNConfig, out_dir, *, engine: str = "fast", overwrite: bool = False,
        show_progress: bool = True, make_figure: bool = True, label: str = "ssn",
        bar_position: int | None = None) -> dict:
    """Train ``cfg`` into ``out_dir`` (resuming a matching checkpoint); returns the summary.

    The directory is claimed for the whole run (:func:`spikealign.rundir.claim`: one writer,
    no foreign files, a finished run only replaced with ``overwrite``); Ctrl-C leaves status
    ``interrupted`` and the checkpoint, from which the next call resumes.
    ``bar_position``: line of the progress bar when several runs share a terminal."""
    out_dir = rundir.check_out(out_dir)
    trainer = Trainer(cfg, engine)  # validates the engine before anything is written
    h = config_hash(cfg)
    ckpt = out_dir / "checkpoint.npz"
    with rundir.claim(out_dir, rundir.LAYOUTS["ssn"], overwrite=overwrite,
                      config_hash=h) as rd:
        state = None if overwrite else _resume_point(ckpt, h)
        if state is None:
            state = initial_state(cfg, trainer.problem)
        rd.begin(cycle=state.cycle, num_epochs=cfg.num_epochs, resumed=state.cycle > 0)
        rd.extra["cycle"] = state.cycle
        atomic_write_text(out_dir / "config.yaml", dump_yaml(cfg))
        with progress(total=cfg.num_epochs, desc=label, unit="cycle",
                      disable=None if show_progress else True, initial=state.cycle,
                      position=bar_position) as bar:
            while not trainer.done(state):
                trainer.step_block(state, on_cycles=bar.update)
                bar.set_postfix(dkl=f"{state.dkls[-1]:.3g}", asym=f"{state.asyms[-1]:.3g}")
                atomic_save_npz(ckpt, compressed=False, config_hash=np.array(h),
                                **state.to_arrays())
                rd.extra["cycle"] = state.cycle
                write_status(out_dir, "running", cycle=state.cycle, num_epochs=cfg.num_epochs)
        result = results_arrays(trainer, state)
        atomic_save_npz(out_dir / "results.npz", **result)
        metrics = summary(cfg, state, engine)
        atomic_write_json(out_dir / "metrics.json", metrics)
        files = ["config.yaml", "results.npz", "metrics.json"]
        if make_figure:
            from .plots import run_figure

            files += [p.name for p in run_figure(result, out_dir / "figure", title=label)]
        rd.finish(files, config_hash=h, **{k: metrics[k] for k in
                                           ("final_dkl", "final_asym", "runtime_s")})
        ckpt.unlink(missing_ok=True)
        return metrics
