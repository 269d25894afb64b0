"""Small synthetic data-set files in the real on-disk formats (shared by the deep tests)."""

import pickle

import numpy as np

from spikealign.deep import data as D


def write_mnist_like(folder, n_train=12, n_test=6, seed=0, gz=True):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, arr in arrays.items():
        D.write_idx(folder / (stem + (".gz" if gz else "")), arr)
    return arrays


def write_cifar(folder, n=4, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [*D.CIFAR_TRAIN, D.CIFAR_TEST]:
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, n)]
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": x, b"labels": y, b"batch_label": b"x"}, fh)
        out[name] = (x, y)
    return out


def write_svhn(folder, n=5, seed=0):
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, name in D.SVHN_FILES.items():
        X = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
        savemat(folder / name, {"X": X, "y": y})
        out[split] = (X, y)
    return out
