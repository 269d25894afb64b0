"""Kinds of runs a sweep can execute: each maps to a runner ``fn(config, run_dir, label=...)``.

A runner trains one model from a resolved config (a dict), writes its files into ``run_dir``
atomically (``spikealign.io``) and returns a dict of metrics. It may claim the directory and
record its checksums itself (:mod:`spikealign.rundir`, as the three runners here do); the task
wrapper (:mod:`spikealign.sweep.tasks`) records the checksums of every file it wrote and marks
the run done afterwards if it did not. Runners are referenced by import path, so any
importable function works, also on remote Dask workers.

Measured cost here (2-core box, event-driven engine, one core per run, CPU time through
``sweep run``): an SSN run costs 16.8 ns per training step (sleep phase with plasticity) and
19.1 ns per validation step (free sampling with the state histogram), :func:`ssn_seconds`.
The two coefficients minimise the largest relative error over :data:`SSN_MEASURED_RUNS` (ten
paper-scale parts measured in three sessions: each within 18 %) and
:data:`SSN_MEASURED_SWEEPS` (the wall times of seven whole sweeps: each within 15 %). The
same configuration cost up to 23 % more in one session than in another (KP twin: 17.6 s and
21.6 s per run; ``plast_noise``: 171 s and 204 s), so no fixed model does much better;
``sweep status`` rescales its estimate by the finished runs of the sweep it reports on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

#: kind -> runner import path
RUNNERS: dict[str, str] = {
    "ssn": "spikealign.sweep.kinds:run_ssn",
    "microcircuit": "spikealign.sweep.kinds:run_microcircuit",
    "deep": "spikealign.sweep.kinds:run_deep",
    "bm": "spikealign.sweep.kinds:run_bm",
    "bm_baselines": "spikealign.sweep.kinds:run_bm_baselines",
}

#: measured nanoseconds per simulated SSN training step on one core of this machine (see the
#: module docstring and :data:`SSN_MEASURED_RUNS`)
SSN_NS_PER_TRAIN_STEP = 16.8
#: the same per validation step (free sampling, state histogram)
SSN_NS_PER_VALIDATION_STEP = 19.1
#: the measurements the two coefficients are fitted to: ``(session, part, training steps,
#: validation steps, CPU seconds per run)``, CPU time per paper-scale run through ``sweep run``
#: on this machine, in three work sessions (2 and 3: the mean over every run of the part in
#: one sweep, ``docs/sweeps.md``, "Timings").
SSN_MEASURED_RUNS: tuple[tuple[int, str, float, float, float], ...] = (
    (1, "syn_noise", 0.998e9, 2.05e9, 53.0),
    (1, "syn_noise_kp", 0.998e9, 0.205e9, 17.6),
    (1, "plast_noise", 7.496e9, 3.8e9, 171.0),
    (1, "plast_noise_v3", 0.999e9, 0.105e9, 16.0),
    (2, "syn_noise", 0.998e9, 2.05e9, 52.6),
    (2, "syn_noise_sal", 0.998e9, 2.05e9, 55.0),
    (2, "syn_noise_kp", 0.998e9, 0.205e9, 21.6),
    (3, "plast_noise", 7.496e9, 3.8e9, 204.0),
    (3, "plast_noise_sal", 7.496e9, 3.8e9, 219.0),
    (3, "plast_noise_kp", 0.999e9, 0.105e9, 20.3),
)
#: wall times of whole sweeps on this machine's 2 local workers, with nothing else running:
#: ``(session, presets, scale, noise level or None for all, runs executed, wall minutes)``.
#: ``sweep list``'s 2-core column (the model's CPU time over 2) is checked against each.
SSN_MEASURED_SWEEPS: tuple[tuple[int, tuple[str, ...], str, float | None, int, float], ...] = (
    (1, ("fig4",), "quick", None, 360, 14.6),
    (1, ("fig5",), "quick", None, 360, 12.0),
    (2, ("syn_noise", "syn_noise_sal"), "paper", None, 170, 76.9),
    (2, ("syn_noise_kp",), "paper", None, 120, 22.0),
    (2, ("kp_lr_v3", "syn_noise_sal_v3", "plast_noise_sal_v3"), "paper", 0.8, 400, 67.9),
    (3, ("fig5",), "paper", 0.05, 60, 78.0),
    (3, ("kp_lr_v3", "syn_noise_sal_v3", "plast_noise_sal_v3"), "paper", 0.4, 400, 77.7),
)
#: the same for the 1-1-1 microcircuit (measured with ``sweep run fig6``: 8.4 s of CPU time per
#: paper run of 98.8e6 steps, teacher and free validation included)
MC_NS_PER_STEP = 85.0


def resolve(runner: str) -> Callable:
    """Import ``"module:function"``."""
    module, _, attr = runner.partition(":")
    if not module or not attr:
        raise ValueError(f"runner must be 'module:function' (got {runner!r})")
    return getattr(importlib.import_module(module), attr)


def run_ssn(config: dict, run_dir: Path, *, label: str = "ssn") -> dict:
    """One SSN training run (``spikealign.ssn.run.run``), quiet and without the per-run figure
    (``spikealign ssn run`` on the run's ``config.yaml`` draws it when wanted)."""
    from ..config import validate
    from ..ssn.config import SSNConfig
    from ..ssn.run import run

    cfg = validate(SSNConfig, config, source=str(Path(run_dir) / "config.yaml"))
    return run(cfg, run_dir, show_progress=False, make_figure=False, label=label)


def run_microcircuit(config: dict, run_dir: Path, *, label: str = "microcircuit") -> dict:
    """One teacher-student microcircuit run (``spikealign.microcircuits.run_experiment``);
    ``config`` is ``{"experiment": <resolved config>, "seed_offset": k}``. Quiet and without
    the per-run figure, like SSN runs in sweeps."""
    from ..microcircuits import run_experiment

    return run_experiment(
        config["experiment"],
        run_dir,
        seed_offset=config["seed_offset"],
        progress=False,
        figure=False,
    )


def run_deep(config: dict, run_dir: Path, *, label: str = "deep") -> dict:
    """One conv-net training run (``spikealign.deep.train_run``) on one torch thread. Data are
    looked up as by ``spikealign deep train`` (``$SPIKEALIGN_DATA_DIR``, the fetch cache, the
    system's Fashion-MNIST); a missing data set fails this run with one line, not the sweep."""
    from ..deep.train import train_run

    return train_run(config, run_dir, progress=False, threads=1)


def run_bm(config: dict, run_dir: Path, *, label: str = "bm") -> dict:
    """One spiking-Boltzmann-machine training run (``spikealign.bm.run.run``), quiet, with
    its per-run figure (a few hundred ms)."""
    from ..bm.config import BMConfig
    from ..bm.run import run
    from ..config import validate

    cfg = validate(BMConfig, config, source=str(Path(run_dir) / "config.yaml"))
    return run(cfg, run_dir, show_progress=False, label=label)


def run_bm_baselines(config: dict, run_dir: Path, *, label: str = "bm_baselines") -> dict:
    """The baselines of a bm experiment (``spikealign.bm.baselines``) for one seed."""
    from ..bm.run import run_baselines

    return run_baselines(config, run_dir, show_progress=False)


def ssn_seconds(cfg) -> float:
    """Estimated seconds of one SSN run (an :class:`~spikealign.ssn.config.SSNConfig`) on one
    core: its training steps times :data:`SSN_NS_PER_TRAIN_STEP` plus its validation steps
    times :data:`SSN_NS_PER_VALIDATION_STEP`."""
    return (
        cfg.train_steps * SSN_NS_PER_TRAIN_STEP
        + cfg.validation_run_steps * SSN_NS_PER_VALIDATION_STEP
    ) * 1e-9


def bm_baseline_seconds(config: dict) -> float:
    """Estimated seconds of one baselines run on one core, scaled by the number of training
    images times input pixels from the measured digits runs (16 s of CPU each, mostly the two
    non-spiking Boltzmann machines); predicts the measured Fashion-MNIST 14x14 runs (520 s) at
    491 s."""
    n_train = config["data"].get("n_train") or {"digits": 997}.get(config["task"], 55_000)
    pixels = 64 if config["task"] == "digits" else config["data"]["size"] ** 2
    return 16.0 * max(0.05, n_train * pixels / (997 * 64))


#: measured CPU nanoseconds of the spiking Boltzmann machine on one core here (event-driven
#: engine, exact coactivation counts, CPU time through ``sweep run``): per simulated step of
#: any phase, and per synapse and step (a spike is delivered to every target, so the work grows
#: with the fan-out, not with the number of units). Fitted (relative least squares) to the
#: medians of the noise-free runs of bm_digits (174 units, 14 800 synapses, 1.6e7 steps: 150 s),
#: bm_bars (17, 144, 1.4e7: 26 s) and bm_fmnist (406, 82 400, 1.3e7: 765 s): predicted within
#: 14 % for each.
BM_NS_PER_STEP = 1790.0
BM_NS_PER_SYNAPSE_STEP = 0.585


def bm_seconds(cfg) -> float:
    """Estimated seconds of one bm run on one core: the simulated steps of its wake, sleep and
    evaluation phases times (:data:`BM_NS_PER_STEP` + synapses x
    :data:`BM_NS_PER_SYNAPSE_STEP`)."""
    from ..bm.data import DEFAULT_VALIDATION, DIGITS_TEST

    n_train = {"digits": 1797 - DIGITS_TEST, "bars": 14}.get(cfg.task, 60_000)
    n_val = cfg.data.n_validation or DEFAULT_VALIDATION[cfg.task]
    n_train = min(cfg.data.n_train or n_train, n_train - n_val)
    n_test = min(
        cfg.data.n_test or 10_000, {"digits": DIGITS_TEST, "bars": 0}.get(cfg.task, 10_000)
    )
    n_vis = {"digits": 64, "bars": 9}.get(cfg.task, cfg.data.size**2)
    n_label = 0 if cfg.task == "bars" else 10
    n = n_vis + n_label + cfg.network.n_hidden
    n_data = n_vis + n_label
    synapses = (
        2 * n_data * cfg.network.n_hidden if cfg.network.connectivity == "rbm" else n * (n - 1)
    )
    batches = -(-n_train // cfg.batch_size)
    wake = cfg.epochs * n_train * cfg.wake_steps
    sleep = cfg.epochs * batches * cfg.sleep_phases * cfg.sleep_steps
    n_evals = cfg.epochs // cfg.eval.every + (cfg.epochs % cfg.eval.every != 0)
    per_eval = (
        min(cfg.eval.n_validation or n_val, n_val) + min(cfg.eval.completion, n_val)
    ) * cfg.eval.steps
    if cfg.task == "bars":
        per_eval = cfg.eval.dkl_steps
    evals = n_evals * per_eval + (n_val + n_test + 2 * cfg.eval.completion) * cfg.eval.steps
    steps = wake + sleep + evals
    return max(1.0, steps * (BM_NS_PER_STEP + synapses * BM_NS_PER_SYNAPSE_STEP) * 1e-9)


#: measured seconds of one BP epoch on one core of this machine (bench/bench_deep.py: 50 s for
#: Fashion-MNIST's 60 000 images at batch 128); the others scaled by image size and count
DEEP_EPOCH_SECONDS = {"mnist": 50.0, "fmnist": 50.0, "cifar10": 90.0, "svhn": 130.0}
#: measured CPU seconds of the spiking phase that SAL / RDD add to every epoch (5 SAL phases
#: of 2000 steps; 90 000 RDD steps), from a quick fig8_fmnist sweep (28 s and 31 s per run of
#: which about 5 s are the shortened epoch)
DEEP_PHASE_SECONDS = {"sal": 23.0, "rdd": 26.0}


def deep_seconds(config: dict) -> float:
    """Estimated seconds of one deep training run on one core."""
    per_epoch = DEEP_EPOCH_SECONDS[config["dataset"]]
    limit = config.get("train_limit")
    if limit:
        per_epoch *= min(1.0, limit / 60_000)
    per_epoch += DEEP_PHASE_SECONDS.get(config["algo"], 0.0)
    return max(1.0, config["epochs"] * per_epoch)


def microcircuit_seconds(experiment) -> float:
    """Estimated seconds of one microcircuit run on one core (teacher + student steps)."""
    from ..microcircuits.protocol import student_total_steps, teacher_steps

    return (student_total_steps(experiment) + teacher_steps(experiment)) * MC_NS_PER_STEP * 1e-9
