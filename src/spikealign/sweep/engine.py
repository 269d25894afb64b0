"""Execute the runs of a sweep on Dask distributed: local, any scheduler, or SLURM.

* default: a ``LocalCluster`` with one single-threaded worker process per usable core
  (``--workers N`` to change);
* ``scheduler="tcp://HOST:PORT"``: any running Dask cluster (``dask scheduler`` +
  ``dask worker``); the sweep directory must be on a filesystem all workers share;
* ``cluster="slurm"``: ``dask_jobqueue.SLURMCluster``, one single-threaded worker per core of
  each job, scaled adaptively up to ``workers`` (jobs of ``cores`` cores each); workers retire
  five minutes before the job's walltime and their runs move to other workers.

One Dask task per run (:func:`spikealign.sweep.tasks.execute`), most expensive first. Dask
reschedules the task of a worker that dies (up to ``distributed.scheduler.allowed-failures``
times, default 3); a run lost more often is marked failed. Rerunning the sweep skips finished
runs and reruns failed and unfinished ones; a damaged run (a result file that no longer matches
its checksum) is rerun with a warning naming the file.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..progress import progress
from ..rundir import warn
from . import tasks
from .spec import RunSpec


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


@dataclass
class SlurmOptions:
    """Options of ``--cluster slurm`` (see docs/sweeps.md)."""

    cores: int = 8
    memory: str = "16GB"
    walltime: str = "04:00:00"
    queue: str | None = None
    account: str | None = None
    interface: str | None = None
    local_directory: str | None = None
    job_extra: tuple[str, ...] = ()

    def cluster_kwargs(self) -> dict:
        kw = {
            "cores": self.cores,
            "processes": self.cores,
            "memory": self.memory,
            "walltime": self.walltime,
            "queue": self.queue,
            "account": self.account,
            "interface": self.interface,
            "local_directory": self.local_directory,
            "job_extra_directives": list(self.job_extra),
        }
        life = _seconds(self.walltime) - 300
        if life >= 600:
            kw["worker_extra_args"] = ["--lifetime", f"{life}s", "--lifetime-stagger", "60s"]
        return {k: v for k, v in kw.items() if v is not None}


def _seconds(walltime: str) -> int:
    """SLURM walltime ``[D-]HH:MM[:SS]`` or ``MM`` in seconds."""
    days, _, rest = walltime.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 1:
        h, m, s = 0, parts[0], 0
    elif len(parts) == 2:
        h, m, s = parts[0], parts[1], 0
    else:
        h, m, s = parts[:3]
    return (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s


def slurm_cluster(opts: SlurmOptions, workers: int):
    """A ``SLURMCluster`` scaling adaptively to ``workers`` worker processes."""
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(**opts.cluster_kwargs())
    cluster.adapt(minimum_jobs=0, maximum_jobs=max(1, math.ceil(workers / opts.cores)))
    return cluster


@contextlib.contextmanager
def _workers_ignore_ctrl_c():
    """Start worker processes with SIGINT ignored (they inherit it): Ctrl-C in a terminal
    reaches the whole process group, and only the client should react, by shutting the
    cluster down, instead of every worker dying with a traceback of its own."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def open_client(
    scheduler: str | None = None,
    cluster: str = "local",
    workers: int | None = None,
    slurm: SlurmOptions | None = None,
    echo=print,
):
    """A Dask ``Client`` for the chosen execution backend (module docstring)."""
    from distributed import Client, LocalCluster

    if scheduler:
        if workers:
            echo("--workers is ignored with --scheduler: the cluster has its own workers")
        with Client(scheduler, timeout="30s") as client:
            echo(
                f"using the Dask scheduler at {scheduler} "
                f"({len(client.scheduler_info()['workers'])} workers now)"
            )
            yield client
        return
    if cluster == "local":
        n = workers or usable_cores()
        with _workers_ignore_ctrl_c():
            lc = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        with lc, Client(lc) as client:
            echo(f"local Dask cluster: {n} worker processes")
            yield client
        return
    if cluster == "slurm":
        opts = slurm or SlurmOptions()
        n = workers or 10 * opts.cores
        with slurm_cluster(opts, n) as sc, Client(sc) as client:
            echo(
                f"SLURM cluster: up to {math.ceil(n / opts.cores)} jobs of {opts.cores} cores "
                f"(scheduler {sc.scheduler_address}); job script:\n{sc.job_script()}"
            )
            yield client
        return
    raise ValueError(f"cluster must be 'local' or 'slurm' (got {cluster!r})")


def execute_specs(
    client,
    pending: list[RunSpec],
    out: Path,
    *,
    n_total: int,
    n_done: int,
    show_progress: bool = True,
    echo=print,
) -> dict:
    """Submit one task per pending run and wait; returns counts and per-run results."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    session = uuid.uuid4().hex[:6]
    futures = {}
    for spec in sorted(pending, key=lambda s: -s.cost):
        fut = client.submit(
            tasks.execute,
            spec.to_dict(),
            str(out),
            pure=False,
            key=f"spikealign-{spec.part}-{spec.index:04d}-{session}",
            priority=int(spec.cost),
        )
        futures[fut] = spec
    counts = {"done": 0, "failed": 0, "skipped": 0, "lost": 0}
    results = []
    bar = progress(
        total=n_total,
        desc=f"sweep {out.name}",
        unit="run",
        disable=None if show_progress else True,
        initial=n_done,
    )
    try:
        for fut in as_completed(futures):
            spec = futures[fut]
            try:
                res = fut.result()
            except KilledWorker as exc:
                error = f"lost with its worker too often ({exc})"
                tasks.record_lost(spec, out, error)
                res = {"part": spec.part, "index": spec.index, "state": "failed", "error": error}
            except (FutureCancelledError, OSError) as exc:
                res = {
                    "part": spec.part,
                    "index": spec.index,
                    "state": "lost",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            state = res["state"]
            counts[state] = counts.get(state, 0) + 1
            results.append(res)
            if state == "failed":
                msg = f"failed: {out / spec.rel_dir}: {res.get('error', '')}"
                if bar.disable:
                    echo(msg)
                else:
                    bar.write(msg)
            bar.update(1)
            bar.set_postfix(failed=counts["failed"], refresh=False)
    finally:
        bar.close()
    return {"counts": counts, "results": results}


def run_sweep(
    specs: list[RunSpec],
    out: Path,
    *,
    scheduler: str | None = None,
    cluster: str = "local",
    workers: int | None = None,
    slurm: SlurmOptions | None = None,
    limit: int | None = None,
    show_progress: bool = True,
    echo=print,
) -> dict:
    """Run every unfinished spec into ``out`` (the manifest must already be written)."""
    out = Path(out)
    plan = tasks.plan(specs, out)
    pending = plan.pending[:limit] if limit is not None else plan.pending
    states = ", ".join(f"{v} {k}" for k, v in sorted(plan.states.items()))
    echo(f"{out}: {len(specs)} runs ({states}); {len(pending)} to run")
    for line in plan.warnings(out, pending):  # damaged results (README): named, then rerun
        warn(line)
    if not pending:
        return {"counts": {"done": 0, "failed": 0}, "results": [], "wall_s": 0.0, "pending": 0}
    t0 = time.perf_counter()
    try:
        with open_client(scheduler, cluster, workers, slurm, echo=echo) as client:
            try:
                res = execute_specs(
                    client,
                    pending,
                    out,
                    n_total=len(plan.done) + len(pending),
                    n_done=len(plan.done),
                    show_progress=show_progress,
                    echo=echo,
                )
            except KeyboardInterrupt:
                # Ctrl-C also reaches the worker processes; the cluster's shutdown then logs
                # their exits as errors with tracebacks, which are expected here
                logging.getLogger("distributed").setLevel(logging.CRITICAL)
                raise
    except KeyboardInterrupt:
        echo("stopped; finished runs are kept: rerun the same command to continue")
        raise
    res["wall_s"] = time.perf_counter() - t0
    res["pending"] = len(pending)
    return res


def select_levels(parts, specs: list[RunSpec], levels) -> list[RunSpec]:
    """The specs at the noise levels ``levels`` (``--level``); a level that no part sweeps is
    refused, naming the levels there are. The runs keep their index, seeds and directory, so
    a later sweep of the whole grid into the same directory skips them."""
    from ..config import ConfigError

    if not levels:
        return specs
    have = sorted({float(lv) for p in parts for lv in getattr(p, "levels", ())})
    for lv in levels:
        if not any(math.isclose(lv, h, rel_tol=1e-9, abs_tol=1e-12) for h in have):
            shown = ", ".join(f"{h:g}" for h in have) or "none (the preset has no noise axis)"
            raise ConfigError(f"--level: {lv:g} is not a level of these presets (levels: {shown})")
    return [
        s
        for s in specs
        if "noise" in s.params
        and any(
            math.isclose(float(s.params["noise"]), lv, rel_tol=1e-9, abs_tol=1e-12) for lv in levels
        )
    ]


def sweep(
    presets: list[str],
    out,
    *,
    scale: str = "paper",
    overrides: dict | None = None,
    argv: str | None = None,
    levels=None,
    **kw,
) -> dict:
    """Plan the presets' runs into ``out`` (manifest), run what is unfinished, record timing.

    ``out`` must be new, empty or a sweep directory (:func:`.layout.check_sweep_dir`); the
    command holds its lock (``out/.lock``) throughout, so a second ``sweep run`` on the same
    directory fails at once naming the holder's pid. ``kw`` goes to :func:`run_sweep`
    (scheduler, cluster, workers, slurm, limit, ...).
    """
    from ..runlock import hold
    from .layout import (
        check_manifest,
        check_sweep_dir,
        part_entry,
        record_timing,
        update_manifest,
    )
    from .presets import build_specs

    overrides = overrides or {}
    out = Path(out).absolute()
    parts, specs = build_specs(presets, scale, overrides)
    select_levels(parts, specs, levels)  # a wrong --level fails before anything is written
    check_sweep_dir(out, [p.name for p in parts])
    entries = {
        p.name: part_entry(p, [s for s in specs if s.part == p.name], scale, overrides)
        for p in parts
    }
    check_manifest(out, entries)
    out.mkdir(parents=True, exist_ok=True)
    with hold(out):  # one sweep command per directory; a second one fails at once
        check_manifest(out, entries)  # again, now that no other command can change it
        update_manifest(
            out, entries, {"command": "run", "presets": list(presets), "scale": scale, "argv": argv}
        )
        res = run_sweep(select_levels(parts, specs, levels), out, **kw)
        run_s = sum(r.get("runtime_s", 0.0) for r in res["results"])
        cpu = sum(r.get("cpu_s", 0.0) for r in res["results"])
        record_timing(
            out,
            wall_s=res["wall_s"],
            executed=res["pending"],
            run_wall_s=run_s,
            run_cpu_s=cpu,
            **res["counts"],
        )
    res.update(out=out, parts=parts, run_wall_s=run_s, run_cpu_s=cpu)
    return res
