"""Data sets of the spiking Boltzmann machine: binary images with class labels, split three ways.

Every task has a training, a **validation** and a test part. Hyperparameters, early stopping
and the curves during training use the validation part only; the test part is evaluated once,
at the end of a run (:mod:`spikealign.bm.train`).

* ``digits``: scikit-learn's 8x8 handwritten digits (1797 images, shipped with scikit-learn,
  no download), intensities ``/16``, binarised at ``data.threshold``. A fixed permutation
  (seed :data:`SPLIT_SEED`) puts the last :data:`DIGITS_TEST` images into the test set (the
  same 500 test images as spikealign 0.1); of the other 1297, a second fixed permutation (seed
  :data:`VALIDATION_SEED`) holds out ``data.n_validation`` (default
  :data:`DEFAULT_VALIDATION` ``["digits"]`` = 300) for validation: 997 / 300 / 500.
* ``bars``: 3x3 bars-and-stripes, the 14 images whose rows are all equal or whose columns are
  all equal, uniformly distributed (no labels; training = validation = test = the 14
  patterns). The data distribution over the 2^9 visible states is known exactly.
* ``fmnist`` / ``mnist``: the installed data set (:func:`spikealign.datasets.load_arrays`),
  average-pooled to ``data.size`` x ``data.size`` and binarised; the official test set; a
  fixed ``data.n_validation`` (default 5000) of the 60 000 training images for validation.

``data.n_train`` / ``data.n_test`` then take the first images of the (fixed) training and test
parts; the validation part does not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..boltzmann import state_index
from ..config import ConfigError

SPLIT_SEED = 20240613
VALIDATION_SEED = 20261206
DIGITS_TEST = 500
#: validation images per task when ``data.n_validation`` is not set
DEFAULT_VALIDATION = {"digits": 300, "fmnist": 5000, "mnist": 5000, "bars": 0}


@dataclass
class Dataset:
    """Binary images (``uint8``, flattened) with labels (``int64``; None without labels)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    shape: tuple[int, int]
    n_classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def __post_init__(self):
        if self.x_val is None:  # no held-out part (bars): validation = the training images
            self.x_val, self.y_val = self.x_train, self.y_train

    @property
    def n_visible(self) -> int:
        return self.x_train.shape[1]

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray | None]:
        """``(x, y)`` of ``"train"``, ``"validation"`` or ``"test"``."""
        parts = {
            "train": (self.x_train, self.y_train),
            "validation": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }
        if which not in parts:
            raise ValueError(f"part must be train, validation or test (got {which!r})")
        return parts[which]

    def distribution(self) -> np.ndarray:
        """Empirical distribution of the training images over the ``2^n_visible`` states
        (pixel 0 the most significant bit); only for small images."""
        if self.n_visible > 20:
            raise ValueError("distribution: only for <= 20 visible units")
        counts = np.bincount(state_index(self.x_train), minlength=2**self.n_visible)
        return counts / counts.sum()


def bars_and_stripes(side: int = 3) -> np.ndarray:
    """All ``2^(side+1) - 2`` bars-and-stripes images (rows all equal or columns all equal),
    flattened row by row, in a fixed order (no duplicates)."""
    pats = set()
    for k in range(2**side):
        bits = np.array([(k >> (side - 1 - i)) & 1 for i in range(side)], dtype=np.uint8)
        pats.add(tuple(np.repeat(bits[:, None], side, axis=1).ravel()))  # rows
        pats.add(tuple(np.repeat(bits[None, :], side, axis=0).ravel()))  # columns
    return np.array(sorted(pats), dtype=np.uint8)


def _digits(threshold: float):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    xb = (x / 16.0 >= threshold).astype(np.uint8)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    tr, te = perm[:-DIGITS_TEST], perm[-DIGITS_TEST:]
    return xb[tr], y[tr].astype(np.int64), xb[te], y[te].astype(np.int64), (8, 8)


def pool(images: np.ndarray, size: int) -> np.ndarray:
    """``(N, H, W)`` images average-pooled (area) to ``(N, size, size)``; H = W = 28 here."""
    n, h, w = images.shape
    edges_r = np.linspace(0, h, size + 1).round().astype(int)
    edges_c = np.linspace(0, w, size + 1).round().astype(int)
    x = images.astype(float)
    rows = np.stack([x[:, a:b].mean(1) for a, b in zip(edges_r[:-1], edges_r[1:], strict=True)], 1)
    return np.stack(
        [rows[:, :, a:b].mean(2) for a, b in zip(edges_c[:-1], edges_c[1:], strict=True)], 2
    )


def _idx(name: str, size: int, threshold: float):
    from ..datasets import DataMissingError, load_arrays

    try:
        xtr, ytr, xte, yte = load_arrays(name)
    except (DataMissingError, ValueError) as exc:
        raise ConfigError(
            f"task: {name} is not installed here ({exc}); see `spikealign data --help`"
        ) from None

    def prep(x):
        return (pool(np.asarray(x)[:, 0] / 255.0, size) >= threshold).reshape(len(x), -1)

    return (
        prep(xtr).astype(np.uint8),
        np.asarray(ytr, dtype=np.int64),
        prep(xte).astype(np.uint8),
        np.asarray(yte, dtype=np.int64),
        (size, size),
    )


def split_validation(x, y, n_validation: int):
    """``(x_train, y_train, x_val, y_val)``: a fixed permutation (seed
    :data:`VALIDATION_SEED`) of the training images; its last ``n_validation`` are held out.
    The remaining training images keep their original order."""
    n = len(x)
    if not 1 <= n_validation < n:
        raise ConfigError(
            f"data.n_validation: must be in [1, {n - 1}] for this task (got {n_validation})"
        )
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(VALIDATION_SEED).permutation(n)[n - n_validation :]] = True
    return x[~held], y[~held], x[held], y[held]


def load_task(
    task: str,
    *,
    threshold: float = 0.5,
    size: int = 14,
    n_train: int | None = None,
    n_test: int | None = None,
    n_validation: int | None = None,
) -> Dataset:
    """The data set of ``task`` (module docstring)."""
    if task == "bars":
        x = bars_and_stripes(3)
        return Dataset("bars", x, None, x.copy(), None, (3, 3), 0)
    if task == "digits":
        xtr, ytr, xte, yte, shape = _digits(threshold)
    elif task in ("fmnist", "mnist"):
        xtr, ytr, xte, yte, shape = _idx(task, size, threshold)
    else:
        raise ConfigError(f"task: unknown task {task!r}; allowed: digits, bars, fmnist, mnist")
    n_val = DEFAULT_VALIDATION[task] if n_validation is None else n_validation
    xtr, ytr, xva, yva = split_validation(xtr, ytr, n_val)
    if n_train is not None:
        xtr, ytr = xtr[:n_train], ytr[:n_train]
    if n_test is not None:
        xte, yte = xte[:n_test], yte[:n_test]
    return Dataset(task, xtr, ytr, xte, yte, shape, 10, xva, yva)
