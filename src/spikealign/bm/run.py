"""One spiking-Boltzmann-machine training run with its run directory: resumable, atomic,
never silently overwritten (:mod:`spikealign.rundir`, as SSN runs).

Files (all written atomically):

``config.yaml``      the resolved, validated config
``checkpoint.npz``   training state after the last checkpointed epoch (removed when done)
``results.npz``      :data:`RESULT_FIELDS`
``metrics.json``     final numbers (:func:`summary`): ``test_accuracy`` (fraction, last
                     evaluation), ``asymmetry`` (last value), ``feedback`` (none/sal/kp/kp+sal), ...
``figure.png/.pdf``  accuracy / D_KL and asymmetry over epochs, weights W_ij vs W_ji
``checksums.json``, ``status.json``  as every family

An interrupted run (Ctrl-C, killed process) restarted with the same directory and config
continues from its last checkpoint (``checkpoint_every`` epochs) and ends bit-identical to an
uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__, rundir
from ..config import ConfigError, dump_yaml, yaml_hash
from ..io import atomic_save_npz, atomic_write_json, atomic_write_text, write_status
from ..progress import progress
from .config import BMConfig
from .train import Trainer, TrainState

LAYOUT = rundir.Layout("bm", ("results.npz", "metrics.json"),
                       ("config.yaml", "figure.png", "figure.pdf"), ("checkpoint.npz",))

RESULT_FIELDS = {
    "asym": "(epochs + 1,) pair asymmetry Var(W_ij - W_ji) over reciprocal pairs, initial first",
    "eval_epochs": "(n_eval,) epochs after which an evaluation ran",
    "accuracy": "(n_eval,) test accuracy (NaN without labels)",
    "n_eval": "(n_eval,) test images used by each evaluation",
    "completion": "(n_eval,) fraction of occluded pixels completed correctly",
    "dkl_sampled": "(n_eval,) D_KL(data || sampled visible marginal) (bars task)",
    "dkl_exact": "(n_eval,) D_KL(data || exact visible marginal of (W+W^T)/2) (bars task)",
    "initial_weights": "(N, N) W0, W[post, pre]",
    "initial_biases": "(N,) b0",
    "final_weights": "(N, N) W after the last epoch",
    "final_biases": "(N,) b after the last epoch",
    "mask": "(N, N) existing synapses",
    "layout": "(3,) n_visible, n_label, n_hidden",
}


def config_hash(cfg: BMConfig) -> str:
    return yaml_hash(cfg)


def results_arrays(trainer: Trainer, state: TrainState) -> dict:
    s = trainer.setup
    out = {k: np.array(getattr(state, k), dtype=float) for k in TrainState.LISTS}
    out["eval_epochs"] = out["eval_epochs"].astype(np.int64)
    out["n_eval"] = out["n_eval"].astype(np.int64)
    out.update(initial_weights=s.W0, initial_biases=s.b0, final_weights=state.W,
               final_biases=state.b, mask=s.mask,
               layout=np.array([s.n_visible, s.n_label, trainer.cfg.network.n_hidden]))
    return out


def _last(values):
    return None if not values or np.isnan(values[-1]) else float(values[-1])


def summary(cfg: BMConfig, state: TrainState, engine: str) -> dict:
    return {
        "task": cfg.task,
        "feedback": cfg.feedback,
        "test_accuracy": _last(state.accuracy),
        "asymmetry": float(state.asym[-1]),
        "initial_asymmetry": float(state.asym[0]),
        "completion": _last(state.completion),
        "dkl_sampled": _last(state.dkl_sampled),
        "dkl_exact": _last(state.dkl_exact),
        "n_test": int(state.n_eval[-1]) if state.n_eval else 0,
        "epochs": state.epoch,
        "synaptic_noise": cfg.init.synaptic_noise,
        "plasticity_noise": cfg.stdp.noise,
        "runtime_s": state.elapsed_s,
        "engine": engine,
        "clamping": cfg.clamping,
        "version": __version__,
        "config_hash": config_hash(cfg),
    }


def _resume_point(ckpt: Path, h: str) -> TrainState | None:
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
    except Exception as exc:  # noqa: BLE001 - a truncated or corrupt file
        rundir.warn(f"{ckpt}: damaged checkpoint ({type(exc).__name__}: {exc}); the run "
                    "restarts from its beginning")
        return None


def run(cfg: BMConfig, out_dir, *, engine: str = "fast", overwrite: bool = False,
        show_progress: bool = True, make_figure: bool = True, label: str = "bm",
        bar_position: int | None = None, trainer: Trainer | None = None) -> dict:
    """Train ``cfg`` into ``out_dir`` (resuming a matching checkpoint); returns the summary."""
    out_dir = rundir.check_out(out_dir)
    trainer = trainer or Trainer(cfg, engine)  # loads the data before anything is written
    h = config_hash(cfg)
    ckpt = out_dir / "checkpoint.npz"
    with rundir.claim(out_dir, LAYOUT, overwrite=overwrite, config_hash=h) as rd:
        state = None if overwrite else _resume_point(ckpt, h)
        if state is None:
            state = trainer.initial_state()
        rd.begin(epoch=state.epoch, epochs=cfg.epochs, resumed=state.epoch > 0)
        rd.extra["epoch"] = state.epoch
        atomic_write_text(out_dir / "config.yaml", dump_yaml(cfg))
        nb = trainer.n_batches()
        with progress(total=cfg.epochs * nb, desc=label, unit="batch",
                      disable=None if show_progress else True, initial=state.epoch * nb,
                      position=bar_position) as bar:
            while not trainer.done(state):
                trainer.epoch(state, on_batch=bar.update)
                post = {"asym": f"{state.asym[-1]:.3g}"}
                if state.accuracy and not np.isnan(state.accuracy[-1]):
                    post["acc"] = f"{state.accuracy[-1]:.3f}"
                if state.dkl_sampled and not np.isnan(state.dkl_sampled[-1]):
                    post["dkl"] = f"{state.dkl_sampled[-1]:.3g}"
                bar.set_postfix(post)
                if state.epoch % cfg.checkpoint_every == 0 and not trainer.done(state):
                    atomic_save_npz(ckpt, compressed=False, config_hash=np.array(h),
                                    **state.to_arrays())
                rd.extra["epoch"] = state.epoch
                write_status(out_dir, "running", epoch=state.epoch, epochs=cfg.epochs)
        result = results_arrays(trainer, state)
        atomic_save_npz(out_dir / "results.npz", **result)
        metrics = summary(cfg, state, engine)
        atomic_write_json(out_dir / "metrics.json", metrics)
        files = ["config.yaml", "results.npz", "metrics.json"]
        if make_figure:
            from .figures import run_figure

            files += [p.name for p in run_figure(result, out_dir / "figure", title=label)]
        rd.finish(files, config_hash=h, test_accuracy=metrics["test_accuracy"],
                  asymmetry=metrics["asymmetry"], runtime_s=metrics["runtime_s"])
        ckpt.unlink(missing_ok=True)
        return metrics
