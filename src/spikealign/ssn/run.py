"""One SSN training run with its output directory: resumable, atomic, never silently overwritten.

Files in the run directory (all written atomically):

* ``config.yaml``: the resolved, validated config;
* ``checkpoint.npz``: training state after the last finished validation block (removed when
  done);
* ``results.npz``: results, see :data:`RESULT_FIELDS`;
* ``metrics.json``: final and summary numbers (:func:`summary`);
* ``figure.png/.pdf``: DKL, asymmetry, weights and biases against targets, W - W^T, final vs
  target distribution;
* ``checksums.json``: SHA-256 of the result files and the config hash, written when the run
  ends;
* ``status.json``: ``{"state": "running" | "done" | "failed" | "interrupted", ...}``.

An interrupted run (Ctrl-C: status ``interrupted``; a killed process: ``running`` with a free
lock) restarted with the same directory and config continues from its checkpoint and ends
bit-identical to an uninterrupted run (the simulator's random state is saved too). A damaged
checkpoint is reported and the run restarts from its beginning.
"""

from __future__ import annotations

import numpy as np

from .. import __version__, rundir
from ..config import dump_yaml, yaml_hash
from ..familyrun import Trainable, run_resumable
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


def trainable(cfg: SSNConfig, engine: str = "fast", label: str = "ssn") -> Trainable:
    """The SSN training run as :func:`spikealign.familyrun.run_resumable` runs it: a
    checkpoint after every validation block, progress in wake-sleep cycles."""
    trainer = Trainer(cfg, engine)  # validates the engine before anything is written

    def results(state):
        return results_arrays(trainer, state), summary(cfg, state, engine)

    def figure(result, stem):
        from .plots import run_figure

        return run_figure(result, stem, title=label)

    return Trainable(
        family="ssn",
        config_yaml=dump_yaml(cfg),
        config_hash=config_hash(cfg),
        total=cfg.num_epochs,
        unit="cycle",
        progress_key="cycle",
        total_key="num_epochs",
        new_state=lambda: initial_state(cfg, trainer.problem),
        state_from_arrays=TrainState.from_arrays,
        state_arrays=lambda st: st.to_arrays(),
        position=lambda st: st.cycle,
        done=trainer.done,
        step=lambda st, on: trainer.step_block(st, on_cycles=on),
        postfix=lambda st: {"dkl": f"{st.dkls[-1]:.3g}", "asym": f"{st.asyms[-1]:.3g}"},
        results=results,
        figure=figure,
        finish_keys=("final_dkl", "final_asym", "runtime_s"),
    )


def run(
    cfg: SSNConfig,
    out_dir,
    *,
    engine: str = "fast",
    overwrite: bool = False,
    show_progress: bool = True,
    make_figure: bool = True,
    label: str = "ssn",
    bar_position: int | None = None,
) -> dict:
    """Train ``cfg`` into ``out_dir`` (resuming a matching checkpoint); returns the summary.

    The run directory's rules are the shared ones (:mod:`spikealign.familyrun`): one writer,
    no foreign files, a finished run only replaced with ``overwrite``; Ctrl-C leaves status
    ``interrupted`` and the checkpoint, from which the next call resumes.
    ``bar_position``: line of the progress bar when several runs share a terminal."""
    out_dir = rundir.check_out(out_dir)
    return run_resumable(
        trainable(cfg, engine, label),
        out_dir,
        overwrite=overwrite,
        show_progress=show_progress,
        make_figure=make_figure,
        label=label,
        bar_position=bar_position,
    )
