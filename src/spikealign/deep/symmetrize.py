"""Standalone SAL symmetrisation of a SALNet (upstream ``salnet_symm.py``; figure 9).

W and B of all layer pairs random and independent (:func:`.salnet_common.init_params`); each
"epoch" runs ``len_epoch * t_ref`` steps followed by one update of B. ``metrics.json`` holds,
before training and after every epoch, the simulated time (steps) and per layer pair the
angle, correlation, sign agreement and var between ``W_{l+1}`` and ``B_l^T``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from pydantic import Field

from .. import rundir
from ..config import StrictModel, dump_yaml, validate
from ..io import atomic_write_json, atomic_write_text
from ..progress import progress as make_bar
from .salnet import SALNet


class SymmetrizeConfig(StrictModel):
    sizes: list[int] = [1600, 384, 192, 10]
    t_ref: int = Field(10, ge=1)
    epochs: int = Field(100, ge=0)
    len_epoch: int = Field(1000, ge=1)
    sal_lr: float = 0.01
    batch_size: int = Field(1, ge=1)
    buffer_length: int = Field(2, ge=1)
    seed: int = Field(0, ge=0)


def symmetrize(cfg: SymmetrizeConfig, progress: bool = False) -> dict:
    """Run :class:`SymmetrizeConfig` and return the metrics (no files)."""
    net = SALNet(
        cfg.sizes,
        t_ref=cfg.t_ref,
        sal_lr=cfg.sal_lr,
        batch_size=cfg.batch_size,
        buffer_length=cfg.buffer_length,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    steps = cfg.len_epoch * cfg.t_ref
    metrics = {"config": cfg.model_dump(mode="json"), "steps": [0], "align": [net.alignment()]}
    bar = make_bar(cfg.epochs * steps, "SAL", "step", disable=not progress)
    t0 = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        net.phase(steps, bar)
        metrics["steps"].append(epoch * steps)
        metrics["align"].append(net.alignment())
    bar.close()
    metrics["wall_s"] = time.perf_counter() - t0
    metrics["rates"] = (
        net.n_spikes / max(1, net.t * net.batch) / torch.tensor(net.sizes, dtype=torch.float64)
    ).tolist()
    return metrics


def symmetrize_run(
    config, out_dir, *, progress: bool = False, overwrite: bool = False, threads: int | None = None
) -> dict:
    """:func:`symmetrize` into ``out_dir`` (config.yaml, metrics.json, checksums.json,
    status.json), claimed for the run (:func:`spikealign.rundir.claim`); an interrupted run
    starts again from its beginning."""
    cfg = (
        config
        if isinstance(config, SymmetrizeConfig)
        else validate(SymmetrizeConfig, dict(config), "deep symmetrize")
    )
    if threads is not None:
        torch.set_num_threads(int(threads))
    out = Path(out_dir)
    with rundir.claim(out, rundir.LAYOUTS["symmetrize"], overwrite=overwrite) as rd:
        rd.begin()
        atomic_write_text(out / "config.yaml", dump_yaml(cfg))
        metrics = symmetrize(cfg, progress)
        atomic_write_json(out / "metrics.json", metrics)
        rd.finish(["config.yaml", "metrics.json"])
    return metrics
