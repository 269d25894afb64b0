"""One training run of the benchmark: :func:`train_run` (the API) behind ``spikealign deep train``.

Per epoch (upstream ``main_salnet.py``, section 4.4 of the reference):

0. The model: ``model`` (:mod:`.models`: ``convnet``, the paper's conv net, ``mlp``,
   ``lenet5`` or ``module:function``) converted for ``algo``
   (:func:`spikealign.deep.conversion.convert`).
1. The spiking phase (:class:`spikealign.deep.aligner.Aligner` on fc1..fc3 of the conv net,
   on the chain of converted linear layers otherwise). SAL: copy fc weights, biases and
   feedback weights into the SALNet (its state persists across epochs), run
   ``sal.n_iterations`` phases of ``sal.len_epoch * sal.t_ref`` steps, each followed by one
   update of B, copy B back. RDD: reset the RDD net, copy the weights, run one phase of
   ``rdd.rdd_time`` s (:func:`spikealign.deep.rdd.rdd_phase`), copy B back. STDWI:
   ``stdwi.duration_ms`` per layer. With ``align_every: N`` the phase runs every N training
   batches instead.
2. One epoch of SGD (lr, momentum; weight decay only for KP's W and B) over the shuffled,
   augmented training set; then the test set.
3. ``metrics.json`` (atomic) with, per epoch, the mean train/test loss, accuracy (%), time,
   and per FC layer the angle, correlation, sign agreement and var between W and B (B := W for
   BP layers; for SCFA ``B = |B0|`` as upstream, plus ``align_effective`` with
   ``sign(W) |B0|``); SAL
   and RDD runs also record the alignment right after the phase (``align_after_phase``);
   ``alignment``: :func:`spikealign.deep.conversion.alignment` of every converted layer
   (W against ``effective_feedback()``), by qualified name.
4. ``checkpoints/last.pt`` every epoch and ``checkpoints/epoch_XXX.pt`` every
   ``checkpoint_every`` epochs: model, optimiser, SALNet / RDD state and every generator, so a
   run resumes from its last checkpoint with the same numbers it would have produced.

Seeding: one integer seed; independent streams for init, data order and augmentation, SAL and
RDD come from ``numpy.random.SeedSequence(seed).spawn(4)``.
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from .. import rundir
from ..config import ConfigError, StrictModel, dump_yaml, validate
from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..progress import progress as make_bar
from . import ALGOS, DATASETS
from .align import alignment
from .aligner import Aligner
from .conversion import alignment as model_alignment
from .conversion import converted_layers, linear_chain, param_groups
from .convnet import ConvNet, fc_pairs, loss_fn
from .data import SPECS, BatchLoader, limit, load_arrays
from .layers import FeedbackUndefined
from .models import build_model


class SALConfig(StrictModel):
    n_iterations: int = Field(5, ge=0)
    t_ref: int = Field(10, ge=1)
    len_epoch: int = Field(200, ge=1)
    sal_lr: float = 0.04
    batch_size: int = Field(32, ge=1)
    buffer_length: int = Field(2, ge=1)


class RDDConfig(StrictModel):
    rdd_time: float = Field(90.0, gt=0, description="seconds of 1 ms steps per phase")
    update_every: int = Field(10_000, ge=1)


class STDWIConfig(StrictModel):
    duration_ms: float = Field(2000.0, gt=0, description="ms of STDWI per layer and phase")


class TrainConfig(StrictModel):
    algo: Literal[ALGOS]
    dataset: Literal[DATASETS] = "fmnist"
    model: str = Field(
        "convnet", min_length=1, description="convnet | mlp | lenet5 | module:function"
    )
    epochs: int = Field(100, ge=0)
    seed: int = Field(0, ge=0)
    batch_size: int = Field(128, ge=2)
    test_batch_size: int = Field(256, ge=1)
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0)
    weight_decay: float | None = Field(None, ge=0, description="KP only; default 0.001")
    double_softmax: bool = False
    augment: bool = True
    train_limit: int | None = Field(None, ge=2)
    test_limit: int | None = Field(None, ge=1)
    checkpoint_every: int = Field(10, ge=1)
    sal: SALConfig = SALConfig()
    rdd: RDDConfig = RDDConfig()
    stdwi: STDWIConfig = STDWIConfig()
    align_every: int | None = Field(
        None,
        ge=1,
        description="sal/rdd/stdwi: run the phase "
        "every N training batches instead of before each epoch",
    )

    def kp_weight_decay(self) -> float:
        return 0.001 if self.weight_decay is None else self.weight_decay


assert set(DATASETS) == set(SPECS)
N_CLASSES = 10  # every data set of SPECS has ten classes


def _seeds(seed: int) -> dict[str, int]:
    kids = np.random.SeedSequence(seed).spawn(4)
    names = ("init", "data", "sal", "rdd")
    return {
        n: int(k.generate_state(1, dtype=np.uint64)[0] >> 1)
        for n, k in zip(names, kids, strict=True)
    }


def fc_layers(net) -> list:
    """The FC layers logged under ``align``: fc1..fc3 of the conv net, else every converted
    linear layer in ``named_modules`` order."""
    if isinstance(net, ConvNet):
        return net.fc_layers
    return [
        m
        for m in converted_layers(net).values()
        if isinstance(m, torch.nn.Linear) or hasattr(m, "in_features")
    ]


def _fc_alignment(fcs, effective: bool = False) -> list[dict]:
    """:func:`.align.alignment` of each layer's ``fc_pairs``; NaN for a DFA layer without a
    weight-shaped feedback (e.g. one the model never calls)."""
    out = []
    for f in fcs:
        try:
            ((w, b),) = fc_pairs([f], effective)
        except FeedbackUndefined:
            out.append(dict.fromkeys(("angle", "corr", "sign", "var"), float("nan")))
            continue
        out.append(alignment(w, b))
    return out


def _align_all(net) -> dict:
    fcs = fc_layers(net)
    out = {"align": _fc_alignment(fcs)}
    if any(getattr(f, "mode", "") in ("scfa", "brsf") for f in fcs):
        out["align_effective"] = _fc_alignment(fcs, effective=True)
    out["alignment"] = model_alignment(net)
    return out


def _evaluate(net, loader, double_softmax):
    net.eval()
    total, loss, correct = 0, 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            out = net(x)
            loss += float(loss_fn(out, y, double_softmax, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
            total += len(y)
    return loss / max(total, 1), 100.0 * correct / max(total, 1)


def _train_epoch(net, opt, loader, double_softmax, bar, after_batch=None):
    net.train()
    total, loss, correct = 0, 0.0, 0
    for i, (x, y) in enumerate(loader):
        opt.zero_grad(set_to_none=True)
        out = net(x)
        batch_loss = loss_fn(out, y, double_softmax)
        batch_loss.backward()
        opt.step()
        loss += float(batch_loss.detach()) * len(y)
        correct += int((out.detach().argmax(1) == y).sum())
        total += len(y)
        if after_batch is not None:
            after_batch(i)
        if bar is not None:
            bar.update(1)
    return loss / max(total, 1), 100.0 * correct / max(total, 1)


class _Run:
    """All objects of one run and their (de)serialisation."""

    def __init__(self, cfg: TrainConfig, data_dir, net=None):
        """``net``: the model :func:`checked_model` built (else built here, the same way)."""
        self.cfg = cfg
        seeds = _seeds(cfg.seed)
        spec = SPECS[cfg.dataset]
        if not cfg.augment:
            spec = type(spec)(spec.channels, spec.shape, spec.mean, spec.std, 0, False)
        tx, ty, vx, vy = limit(load_arrays(cfg.dataset, data_dir), cfg.train_limit, cfg.test_limit)
        self.g_data = torch.Generator().manual_seed(seeds["data"])
        self.train_loader = BatchLoader(tx, ty, spec, cfg.batch_size, True, self.g_data)
        self.test_loader = BatchLoader(vx, vy, spec, cfg.test_batch_size, False)
        self.net = net if net is not None else checked_model(cfg)
        fcs = fc_layers(self.net)
        self.sizes = [fcs[0].in_features] + [f.out_features for f in fcs] if fcs else []
        self.opt = torch.optim.SGD(
            param_groups(self.net, cfg.kp_weight_decay()), lr=cfg.lr, momentum=cfg.momentum
        )
        self.aligner = None
        if cfg.algo in ("sal", "rdd", "stdwi"):
            chain = ["fc1", "fc2", "fc3"] if isinstance(self.net, ConvNet) else None
            options = {"sal": cfg.sal, "rdd": cfg.rdd, "stdwi": cfg.stdwi}[cfg.algo]
            options = options.model_dump()
            self.aligner = Aligner(
                self.net,
                cfg.algo,
                chain=chain,
                every=cfg.align_every,
                generator=torch.Generator().manual_seed(seeds["sal"]),
                rng=np.random.default_rng(seeds["sal" if cfg.algo == "stdwi" else "rdd"]),
                **options,
            )

    # -- phases --------------------------------------------------------------------------
    def phase(self, show: bool) -> float:
        """The spiking phase before an epoch (:class:`spikealign.deep.aligner.Aligner`);
        none when the aligner steps every ``align_every`` batches instead."""
        t0 = time.perf_counter()
        if self.aligner is not None and self.cfg.align_every is None:
            self.aligner.step(progress=show)
        return time.perf_counter() - t0

    def after_batch(self, show: bool):
        if self.aligner is None or self.cfg.align_every is None:
            return None
        return lambda i: self.aligner.maybe_step(i, progress=False)

    # -- checkpoints -----------------------------------------------------------------------
    def state(self, epoch: int, metrics: dict) -> dict:
        st = {
            "epoch": epoch,
            "model": self.net.state_dict(),
            "opt": self.opt.state_dict(),
            "g_data": self.g_data.get_state(),
            "metrics": metrics,
        }
        if self.aligner is not None:
            st["aligner"] = self.aligner.state_dict()
        return st

    def load(self, st: dict):
        self.net.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        self.g_data.set_state(st["g_data"])
        if self.aligner is not None:
            self.aligner.load_state_dict(st["aligner"])


def checked_model(cfg: TrainConfig):
    """The run's model (``cfg.model`` converted for ``cfg.algo``, initialised from the run's
    init stream) after one batch of zeros went through it (:func:`.models.build_model`); a
    bad model raises :class:`ConfigError` (one line naming ``model``)."""
    spec = SPECS[cfg.dataset]
    g_init = torch.Generator().manual_seed(_seeds(cfg.seed)["init"])
    try:
        net = build_model(cfg.model, cfg.algo, spec.channels, spec.shape, N_CLASSES, g_init)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if cfg.algo in ("sal", "rdd", "stdwi") and not isinstance(net, ConvNet):
        try:  # the spiking phase needs a chain of linear layers (Aligner's default)
            linear_chain(net)
        except ValueError as exc:
            raise ConfigError(f"model: {cfg.model}: {exc}") from None
    return net


def _save_checkpoint(paths: list[Path], state: dict):
    """Serialise ``state`` once and write it atomically to every path."""
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    for path in paths:
        atomic_write_bytes(path, buf.getbuffer())


def _checkpoint(last: Path, cfg_text: str):
    """The state saved in ``last`` (None without one). A checkpoint of another config is an
    error; a damaged one is reported and the run restarts from its beginning."""
    if not last.is_file():
        return None
    out = last.parent.parent
    old = (out / "config.yaml").read_text() if (out / "config.yaml").is_file() else None
    if old != cfg_text:
        raise ConfigError(
            f"{out}: holds an unfinished run of another config; choose "
            "another --out or pass --overwrite"
        )
    try:
        return torch.load(last, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt, whatever torch says
        rundir.warn(
            f"{last}: damaged checkpoint ({type(exc).__name__}); the run restarts "
            "from its beginning"
        )
        return None


def train_run(
    config,
    out_dir,
    *,
    data_dir=None,
    progress: bool = False,
    threads: int | None = None,
    resume: bool = True,
    overwrite: bool = False,
) -> dict:
    """Train one configuration into ``out_dir``; returns the metrics dict (also in
    ``out_dir/metrics.json``). ``config`` is a :class:`TrainConfig` or a dict of its fields.

    A directory holding an unfinished run of the same config (Ctrl-C: status ``interrupted``)
    resumes from its last checkpoint (``resume=False`` starts over); a finished one is refused
    unless ``overwrite``. The directory is claimed for the run
    (:func:`spikealign.rundir.claim`); ``checksums.json`` records the result files at the end.
    """
    cfg = (
        config
        if isinstance(config, TrainConfig)
        else validate(TrainConfig, dict(config), "deep train")
    )
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be >= 1 (got {threads})")
        torch.set_num_threads(int(threads))
    net = checked_model(cfg)  # a bad model: one line, before anything is written
    out = rundir.check_out(out_dir)
    cfg_text = dump_yaml(cfg)
    chash = hashlib.sha256(cfg_text.encode()).hexdigest()[:16]
    last = out / "checkpoints" / "last.pt"
    with rundir.claim(out, rundir.LAYOUTS["deep"], overwrite=overwrite, config_hash=chash) as rd:
        ckpt = _checkpoint(last, cfg_text) if resume and not overwrite else None
        rd.begin()
        atomic_write_text(out / "config.yaml", cfg_text)
        metrics = _train(cfg, out, data_dir, ckpt, progress, last, net)
        rd.finish(
            ["config.yaml", "metrics.json", "final_model.pt"], config_hash=chash, epochs=cfg.epochs
        )
    return metrics


def _train(
    cfg: TrainConfig, out: Path, data_dir, ckpt, progress: bool, last: Path, net=None
) -> dict:
    """The epochs of :func:`train_run` (from ``ckpt`` when given) and the final model."""
    run = _Run(cfg, data_dir, net)
    metrics = {
        "config": cfg.model_dump(mode="json"),
        "algo": cfg.algo,
        "dataset": cfg.dataset,
        "seed": cfg.seed,
        "model": cfg.model,
        "fc_sizes": run.sizes,
        "torch_threads": torch.get_num_threads(),
        "init": _align_all(run.net),
        "epochs": [],
    }
    start = 0
    if ckpt is not None:
        run.load(ckpt)
        metrics = ckpt["metrics"]
        start = int(ckpt["epoch"])
    ebar = make_bar(
        cfg.epochs,
        f"{cfg.algo}/{cfg.dataset} seed {cfg.seed}",
        "epoch",
        disable=not progress,
        initial=start,
    )
    for epoch in range(start + 1, cfg.epochs + 1):
        rec: dict = {"epoch": epoch}
        rec["phase_time_s"] = run.phase(progress)
        if cfg.algo in ("sal", "rdd", "stdwi") and cfg.align_every is None:
            rec["align_after_phase"] = _align_all(run.net)["align"]
        t0 = time.perf_counter()
        bbar = make_bar(
            len(run.train_loader), f"epoch {epoch}", "batch", disable=not progress, leave=False
        )
        rec["train_loss"], rec["train_acc"] = _train_epoch(
            run.net, run.opt, run.train_loader, cfg.double_softmax, bbar, run.after_batch(progress)
        )
        bbar.close()
        rec["train_time_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rec["test_loss"], rec["test_acc"] = _evaluate(run.net, run.test_loader, cfg.double_softmax)
        rec["test_time_s"] = time.perf_counter() - t0
        rec.update(_align_all(run.net))
        if not all(math.isfinite(rec[k]) for k in ("train_loss", "test_loss")):
            rec["diverged"] = True
        metrics["epochs"].append(rec)
        state = run.state(epoch, metrics)
        keep = epoch % cfg.checkpoint_every == 0
        _save_checkpoint(
            [last] + ([out / "checkpoints" / f"epoch_{epoch:03d}.pt"] if keep else []), state
        )
        atomic_write_json(out / "metrics.json", metrics)
        ebar.update(1)
        ebar.set_postfix(test_acc=f"{rec['test_acc']:.2f}", angle=f"{rec['align'][0]['angle']:.1f}")
    ebar.close()
    atomic_write_json(out / "metrics.json", metrics)  # also when resumed after the last epoch
    _save_checkpoint([out / "final_model.pt"], {"model": run.net.state_dict()})
    return metrics
