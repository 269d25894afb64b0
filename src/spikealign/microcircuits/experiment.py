"""One teacher-student run with its result files (``docs/microcircuits.md``).

:func:`run_experiment` is the single-run API used by the CLI and by sweeps. A run directory
holds

* ``config.yaml``: the resolved config (after overrides);
* ``result.npz``: everything per pattern, per epoch and the recordings (:func:`result_arrays`);
* ``metrics.json``: the summary (:func:`summary`);
* ``run.png``: loss over epochs and weights against the teacher's;
* ``checksums.json``: SHA-256 of the files above and the config hash, written when the run
  ends;
* ``status.json``: ``running`` / ``done`` / ``failed`` / ``interrupted`` (Ctrl-C) with the
  config hash.

Every file is written atomically and ``checksums.json`` is written only after all others
exist, so an interrupted run never leaves a finished-looking directory; the next call runs it
again from its beginning (a run takes seconds). Calling :func:`run_experiment` again on a
finished directory with the same config and seed offset returns its metrics without
simulating (so a sweep can simply be resubmitted); a different config there is an error
unless ``overwrite``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import __version__, rundir
from ..io import OutputExistsError, atomic_save_npz, atomic_write_json, atomic_write_text
from ..progress import progress as progress_bar
from .alignment import feedback_cosine
from .config import MicrocircuitConfig, config_hash, dump_config, load_config, run_seeds
from .protocol import (
    ROLE_NAMES,
    StudentResult,
    TeacherResult,
    run_student,
    run_teacher,
    student_total_steps,
    teacher_steps,
)

RESULT_FILE = "result.npz"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
FIGURE_FILE = "run.png"


def simulate(
    cfg: MicrocircuitConfig,
    seed_offset: int = 0,
    *,
    progress: bool = False,
    engine: str | None = None,
) -> tuple[TeacherResult, StudentResult, dict]:
    """Teacher then student; returns both results and timing information."""
    engine = engine or cfg.options.engine
    seeds = run_seeds(cfg, seed_offset)
    n_teacher, n_student = teacher_steps(cfg), student_total_steps(cfg)
    with progress_bar(
        total=n_teacher + n_student,
        desc=f"microcircuit {cfg.mode}",
        unit="step",
        unit_scale=True,
        disable=None if progress else True,
    ) as bar:
        t0 = time.perf_counter()
        teacher = run_teacher(cfg, seeds, engine=engine, tick=bar.update)
        t1 = time.perf_counter()
        student = run_student(cfg, seeds, teacher, engine=engine, tick=bar.update)
        t2 = time.perf_counter()
    timing = {
        "teacher_steps": n_teacher,
        "student_steps": n_student,
        "teacher_wall_s": t1 - t0,
        "student_wall_s": t2 - t1,
        "ns_per_step": 1e9 * (t2 - t0) / max(1, n_teacher + n_student),
        "engine": engine,
    }
    return teacher, student, timing


def summary(
    cfg: MicrocircuitConfig,
    seed_offset: int,
    teacher: TeacherResult,
    student: StudentResult,
    timing: dict,
) -> dict:
    """The ``metrics.json`` content."""
    dims = cfg.dims
    final = student.final_weights
    alignment = {str(layer): feedback_cosine(final, layer) for layer in range(1, len(dims) - 1)}

    def last(x):
        x = np.asarray(x, float)
        return float(x[-1]) if len(x) else float("nan")

    return {
        "spikealign_version": __version__,
        "config_hash": config_hash(cfg, seed_offset),
        "seed_offset": seed_offset,
        "mode": cfg.mode,
        "dims": dims,
        "seeds": run_seeds(cfg, seed_offset),
        "num_epochs": cfg.student_simulation_settings.num_epochs,
        "final_loss_nudged": last(student.loss_nudged),
        "final_loss_free": last(student.loss_free),
        "loss_nudged": student.loss_nudged.tolist(),
        "loss_free": student.loss_free.tolist(),
        "alignment": alignment,
        "final_weights": {k: v.tolist() for k, v in final.items()},
        "initial_weights": {k: v.tolist() for k, v in student.initial_weights.items()},
        "teacher_weights": {k: v.tolist() for k, v in teacher.weights.items()},
        "timing": timing,
    }


def result_arrays(
    cfg: MicrocircuitConfig, teacher: TeacherResult, student: StudentResult
) -> dict[str, np.ndarray]:
    """The ``result.npz`` content (documented in ``docs/microcircuits.md``)."""
    s = cfg.student_simulation_settings
    from .network import Layout

    table = Layout(tuple(cfg.dims)).neuron_table()
    arrays = {
        "dims": np.asarray(cfg.dims, np.int64),
        "epoch": np.arange(s.num_epochs),
        "loss_nudged": student.loss_nudged,
        "loss_free": student.loss_free,
        "val_start": student.val_start,
        "u_in": student.u_in,
        "u_tgt": student.u_tgt,
        "u_out": student.u_out,
        "u_out_free": student.u_out_free,
        "role": student.role,
        "role_names": np.array(ROLE_NAMES),
        "pattern_index": student.pattern_index,
        "rates": (student.counts / s.t_pattern).astype(np.float32),
        "neuron_layer": table[:, 0],
        "neuron_kind": table[:, 1],
        "rec_block": np.int64(s.recorded_sample_length),
        "pattern_steps": np.int64(s.t_pattern * cfg.network_properties.t_ref),
        "teacher.u_in": teacher.u_in,
        "teacher.u_out": teacher.u_out,
        "teacher.targets": teacher.targets,
        "teacher.rates": (teacher.counts / cfg.teacher_simulation_settings.t_pattern).astype(
            np.float32
        ),
    }
    for key, val in student.initial_weights.items():
        arrays[f"init.{key}"] = val
    for key, val in student.final_weights.items():
        arrays[f"final.{key}"] = val
    for key, val in teacher.weights.items():
        arrays[f"teacher.{key}"] = val
    arrays.update(student.recordings)
    if student.spikes is not None:
        arrays["spikes"] = student.spikes
    return arrays


LAYOUT = rundir.LAYOUTS["microcircuit"]


def run_experiment(
    config: str | Path | dict | MicrocircuitConfig,
    out_dir: str | Path,
    *,
    seed_offset: int = 0,
    progress: bool = False,
    overwrite: bool = False,
    overrides: list[str] | None = None,
    engine: str | None = None,
    figure: bool = True,
    reuse: bool = True,
) -> dict:
    """Run teacher and student once and write the run directory (module docstring).

    ``config``: preset name, YAML path, dict or :class:`MicrocircuitConfig`;
    ``seed_offset``: added to the seeds (:func:`~.config.run_seeds`); ``overrides``:
    ``dotted.key=value`` strings. Returns the metrics dict. Re-running a finished directory
    with the same config returns the stored metrics (``reuse=False``: refuses it, as the
    command line does); another config there raises ``OutputExistsError`` unless
    ``overwrite``. The directory is claimed for the run (:func:`spikealign.rundir.claim`).
    """
    cfg = load_config(config, overrides)
    out_dir = rundir.check_out(out_dir)
    chash = config_hash(cfg, seed_offset)
    with rundir.claim(out_dir, LAYOUT, overwrite=overwrite, refuse_done=False) as rd:
        if rd.info.state == "done" and not overwrite:
            if reuse and rd.info.config_hash == chash:
                return json.loads((out_dir / METRICS_FILE).read_text())
            raise OutputExistsError(rd.finished_message(chash))
        rd.extra.update(config_hash=chash, seed_offset=seed_offset)
        rd.begin(config_hash=chash, seed_offset=seed_offset)
        for stale in (METRICS_FILE, RESULT_FILE, FIGURE_FILE):  # of an unfinished run
            (out_dir / stale).unlink(missing_ok=True)
        atomic_write_text(out_dir / CONFIG_FILE, dump_config(cfg))
        teacher, student, timing = simulate(cfg, seed_offset, progress=progress, engine=engine)
        metrics = summary(cfg, seed_offset, teacher, student, timing)
        arrays = result_arrays(cfg, teacher, student)
        atomic_save_npz(out_dir / RESULT_FILE, **arrays)
        files = [CONFIG_FILE, RESULT_FILE, METRICS_FILE]
        if figure:
            from .plots import run_figure

            run_figure(arrays, out_dir / FIGURE_FILE, metrics=metrics)
            files.append(FIGURE_FILE)
        atomic_write_json(out_dir / METRICS_FILE, metrics)
        rd.finish(files, config_hash=chash, seed_offset=seed_offset)
    return metrics
