"""One spiking-Boltzmann-machine training run with its run directory: resumable, atomic,
never silently overwritten (:mod:`spikealign.rundir`, as SSN runs).

Files (all written atomically):

* ``config.yaml``: the resolved, validated config;
* ``checkpoint.npz``: training state after the last checkpointed epoch (removed when done);
* ``results.npz``: :data:`RESULT_FIELDS`;
* ``metrics.json``: final numbers (:func:`summary`): ``validation_accuracy`` (all validation
  images, last evaluation), ``test_accuracy`` (the one test evaluation, after training, on
  the selected parameters), ``asymmetry`` (last value), ``feedback`` (none/sal/kp/kp+sal), ...;
* ``figure.png/.pdf``: accuracy / D_KL and asymmetry over epochs, weights W_ij vs W_ji;
* ``checksums.json``, ``status.json``: as every family.

An interrupted run (Ctrl-C, killed process) restarted with the same directory and config
continues from its last checkpoint (``checkpoint_every`` epochs) and ends bit-identical to an
uninterrupted run.
"""

from __future__ import annotations

import numpy as np

from .. import __version__, rundir
from ..config import ConfigError, dump_yaml, yaml_hash
from ..familyrun import Trainable, run_resumable
from ..io import atomic_write_json, atomic_write_text
from .config import BMConfig
from .train import Trainer, TrainState

LAYOUT = rundir.LAYOUTS["bm"]

RESULT_FIELDS = {
    "asym": "(epochs + 1,) pair asymmetry Var(W_ij - W_ji) over reciprocal pairs, initial first",
    "asym_active": "(epochs + 1,) the same over the pairs of active units (bm.train.active_pairs:"
    " no visible unit whose pixel is on in < 2 % of the training images)",
    "eval_epochs": "(n_eval,) epochs after which a validation evaluation ran",
    "val_accuracy": "(n_eval,) validation accuracy (NaN without labels)",
    "n_eval": "(n_eval,) validation images used by each evaluation",
    "val_completion": "(n_eval,) fraction of occluded validation pixels completed correctly",
    "dkl_sampled": "(n_eval,) D_KL(data || sampled visible marginal) (bars task)",
    "dkl_exact": "(n_eval,) D_KL(data || exact visible marginal of (W+W^T)/2) (bars task)",
    "test_accuracy": "() the one test evaluation, after training (NaN without labels)",
    "test_completion": "() completion score on the test images, after training",
    "selected_epoch": "() epoch of the reported parameters (eval.select)",
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
    out["test_accuracy"] = np.float64(state.test_accuracy)
    out["test_completion"] = np.float64(state.test_completion)
    out["selected_epoch"] = np.int64(trainer.selected(state)[2])
    out.update(
        initial_weights=s.W0,
        initial_biases=s.b0,
        final_weights=state.W,
        final_biases=state.b,
        mask=s.mask,
        layout=np.array([s.n_visible, s.n_label, trainer.cfg.network.n_hidden]),
    )
    return out


def _last(values):
    return None if not values or np.isnan(values[-1]) else float(values[-1])


def _value(x):
    return None if x is None or np.isnan(x) else float(x)


def summary(cfg: BMConfig, state: TrainState, engine: str, trainer: Trainer) -> dict:
    d = trainer.setup.data
    return {
        "task": cfg.task,
        "feedback": cfg.feedback,
        "validation_accuracy": _last(state.val_accuracy),
        "test_accuracy": _value(state.test_accuracy),
        "asymmetry": float(state.asym[-1]),
        "initial_asymmetry": float(state.asym[0]),
        "asymmetry_active": float(state.asym_active[-1]),
        "initial_asymmetry_active": float(state.asym_active[0]),
        "validation_completion": _last(state.val_completion),
        "test_completion": _value(state.test_completion),
        "dkl_sampled": _last(state.dkl_sampled),
        "dkl_exact": _last(state.dkl_exact),
        "n_train": int(len(d.x_train)),
        "n_validation": int(len(d.x_val)) if d.n_classes else 0,
        "n_test": int(len(d.x_test)) if d.n_classes else 0,
        "select": cfg.eval.select,
        "selected_epoch": int(trainer.selected(state)[2]),
        "coactivation": cfg.stdp.coactivation,
        "epochs": state.epoch,
        "synaptic_noise": cfg.init.synaptic_noise,
        "plasticity_noise": cfg.stdp.noise,
        "runtime_s": state.elapsed_s,
        "engine": engine,
        "clamping": cfg.clamping,
        "version": __version__,
        "config_hash": config_hash(cfg),
    }


def trainable(
    cfg: BMConfig, engine: str = "fast", label: str = "bm", trainer: Trainer | None = None
) -> Trainable:
    """The bm training run as :func:`spikealign.familyrun.run_resumable` runs it: progress in
    minibatches, a checkpoint every ``checkpoint_every`` epochs."""
    trainer = trainer or Trainer(cfg, engine)  # loads the data before anything is written
    nb = trainer.n_batches()

    def postfix(state):
        post = {"asym": f"{state.asym[-1]:.3g}"}
        if state.val_accuracy and not np.isnan(state.val_accuracy[-1]):
            post["val_acc"] = f"{state.val_accuracy[-1]:.3f}"
        if state.dkl_sampled and not np.isnan(state.dkl_sampled[-1]):
            post["dkl"] = f"{state.dkl_sampled[-1]:.3g}"
        return post

    def results(state):
        return results_arrays(trainer, state), summary(cfg, state, engine, trainer)

    def figure(result, stem):
        from .figures import run_figure

        return run_figure(result, stem, title=label)

    return Trainable(
        family="bm",
        config_yaml=dump_yaml(cfg),
        config_hash=config_hash(cfg),
        total=cfg.epochs * nb,
        unit="batch",
        progress_key="epoch",
        total_key="epochs",
        new_state=trainer.initial_state,
        state_from_arrays=TrainState.from_arrays,
        state_arrays=lambda st: st.to_arrays(),
        position=lambda st: st.epoch * nb,
        done=trainer.done,
        step=lambda st, on: trainer.epoch(st, on_batch=on),
        checkpoint_due=lambda st: st.epoch % cfg.checkpoint_every == 0,
        postfix=postfix,
        results=results,
        figure=figure,
        finish_keys=("validation_accuracy", "test_accuracy", "asymmetry", "runtime_s"),
    )


def run(
    cfg: BMConfig,
    out_dir,
    *,
    engine: str = "fast",
    overwrite: bool = False,
    show_progress: bool = True,
    make_figure: bool = True,
    label: str = "bm",
    bar_position: int | None = None,
    trainer: Trainer | None = None,
) -> dict:
    """Train ``cfg`` into ``out_dir`` (resuming a matching checkpoint); returns the summary
    (the shared run-directory rules, :mod:`spikealign.familyrun`)."""
    out_dir = rundir.check_out(out_dir)
    return run_resumable(
        trainable(cfg, engine, label, trainer),
        out_dir,
        overwrite=overwrite,
        show_progress=show_progress,
        make_figure=make_figure,
        label=label,
        bar_position=bar_position,
    )


def baselines_table(results: dict) -> list[str]:
    rows = [f"{'baseline':<22}{'validation':>11}{'test':>8}  hyperparameters"]
    for name, r in results.items():
        rows.append(
            f"{name:<22}{r['validation_accuracy']:>11.3f}{r['test_accuracy']:>8.3f}"
            f"  {r.get('hyperparameters', {})}"
        )
    return rows


def run_baselines(
    config: dict, out_dir, *, overwrite: bool = False, show_progress: bool = True, echo=None
) -> dict:
    """The baselines of :mod:`spikealign.bm.baselines` for ``config`` (``task``, ``data``,
    ``n_hidden``, ``seed``) into the run directory ``out_dir``: ``baselines.json``
    (``{name: {"validation_accuracy", "test_accuracy", "hyperparameters", "seconds"}}``)
    and ``config.yaml``; the shared run-directory rules (one writer, a finished run kept)."""
    import hashlib

    from ..config import yaml_text
    from .baselines import run_baselines as compute
    from .data import load_task

    out_dir = rundir.check_out(out_dir)
    d = config["data"]
    data = load_task(
        config["task"],
        threshold=d["threshold"],
        size=d["size"],
        n_train=d.get("n_train"),
        n_test=d.get("n_test"),
        n_validation=d.get("n_validation"),
    )  # one line if missing: before writing
    if data.n_classes == 0:
        raise ConfigError(f"baselines: the {config['task']} task has no labels to classify")
    text = yaml_text(config, sort_keys=False)
    h = hashlib.sha256(text.encode()).hexdigest()[:16]
    with rundir.claim(
        out_dir, rundir.LAYOUTS["bm_baselines"], overwrite=overwrite, config_hash=h
    ) as rd:
        rd.begin()
        atomic_write_text(out_dir / "config.yaml", text)
        res = compute(data, int(config["n_hidden"]), int(config["seed"]), echo=echo)
        atomic_write_json(out_dir / "baselines.json", res)
        rd.finish(["config.yaml", "baselines.json"], config_hash=h)
    return {f"{k}_test_accuracy": v["test_accuracy"] for k, v in res.items()}
