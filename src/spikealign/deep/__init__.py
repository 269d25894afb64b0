"""Deep networks: the weight-transport benchmark of the paper (figures 7, 8 and 9).

A conv net whose fully connected (FC) layers learn with feedback weights ``B`` that are kept
aligned to the forward weights ``W`` by different mechanisms: backprop (BP), feedback
alignment (FA), BP with FA conv layers, Kolen-Pollack (KP), sign-concordant FA (SCFA), and
the spiking symmetrisation phases SAL (:mod:`.salnet`) and RDD (:mod:`.rdd`); STDWI
(:mod:`.stdwi`) for the single-layer comparison of figure 7.

Torch is an optional extra (``pip install -e '.[deep]'``). This package imports without it;
the modules that need it import it themselves, and :func:`require_torch` turns a missing
torch into one line that says how to install it. The one-run API is
:func:`spikealign.deep.train.train_run`, re-exported here lazily.
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "spikealign deep needs torch: pip install -e '.[deep]' (installs torch==2.13.0)"

ALGOS = ("bp", "fa", "bp_fa", "kp", "scfa", "sal", "rdd", "dfa", "usf", "brsf", "frsf", "stdwi")
DATASETS = ("mnist", "fmnist", "cifar10", "svhn", "digits")
MODELS = ("convnet", "mlp", "lenet5")


class TorchMissingError(ValueError):
    """torch is not installed; the message says how to install the extra."""


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def require_torch():
    """Import and return torch, or raise :class:`TorchMissingError` with one line."""
    if not torch_available():
        raise TorchMissingError(INSTALL_HINT)
    import torch

    return torch


#: lazily imported public names -> their module (torch is imported on first use)
_LAZY = {
    "train_run": "train",
    "TrainConfig": "train",
    "convert": "conversion",
    "alignment": "conversion",
    "param_groups": "conversion",
    "UnconvertibleError": "conversion",
    "Aligner": "aligner",
    "build_model": "models",
}


def __getattr__(name):
    if name in _LAZY:
        require_torch()
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'spikealign.deep' has no attribute {name!r}")
