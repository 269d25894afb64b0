"""Readers of the data sets every family uses, from the standard on-disk formats (numpy only:
no torch, no torchvision, no downloads at run time). The deep networks
(:mod:`spikealign.deep.data`) and the spiking Boltzmann machines (:mod:`spikealign.bm.data`)
read their images here.

Readers (numpy, no torch): MNIST / Fashion-MNIST IDX files (``.gz`` or plain), CIFAR-10
python batches, SVHN ``.mat`` (scipy.io). :func:`load_arrays` (via :func:`find_dataset`)
looks for the files, in this order, under

1. ``--data-dir`` (``data_dir``), in the usual folder names (torchvision's layout works);
2. the download cache of ``spikealign data fetch`` (:func:`cache_dir`);
3. for Fashion-MNIST, where Debian's ``dataset-fashion-mnist`` installs it
   (``/usr/share/datasets/fashion-mnist``).

Files and the folders tried inside a root, per data set:

* ``mnist``: ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (or without ``.gz``) in
  ``MNIST/raw``, ``MNIST``, ``mnist``, ``mnist/raw`` or the root itself;
* ``fmnist``: the same four names in ``FashionMNIST/raw``, ``FashionMNIST``,
  ``fashion-mnist``, ``fashion_mnist``, ``fmnist`` or the root itself;
* ``cifar10``: ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` in
  ``cifar-10-batches-py``;
* ``svhn``: ``train_32x32.mat``, ``test_32x32.mat`` in the root, ``svhn`` or ``SVHN``;
* ``digits``: no files (scikit-learn's 8x8 digits, ``load_digits``, ship with it).

``digits`` (1797 images of 8x8 pixels, values 0..16 scaled to 0..255) needs scikit-learn
(``pip install scikit-learn``) and nothing else: a fixed split (permutation of
``numpy.random.default_rng(0)``) gives 1437 training and 360 test images; no augmentation.

Missing files raise :class:`DataMissingError` with one line naming the files and folders.

``SPECS`` holds each data set's image shape and the normalisation and augmentation that the
deep networks apply (:mod:`spikealign.deep.data`).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYSTEM_DIRS = {"fmnist": [Path("/usr/share/datasets/fashion-mnist")]}

IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = "test_batch"
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}

FOLDERS = {
    "mnist": ["MNIST/raw", "MNIST", "mnist", "mnist/raw", "."],
    "fmnist": ["FashionMNIST/raw", "FashionMNIST", "fashion-mnist", "fashion_mnist", "fmnist", "."],
    "cifar10": ["cifar-10-batches-py"],
    "svhn": [".", "svhn", "SVHN"],
    "digits": [],
}


@dataclass(frozen=True)
class DatasetSpec:
    """Normalisation and augmentation of one data set (upstream ``symmnet.datasets``)."""

    channels: int
    shape: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_pad: int
    hflip: bool


SPECS = {
    "mnist": DatasetSpec(1, (28, 28), (0.13,), (0.30,), 0, True),
    "fmnist": DatasetSpec(1, (28, 28), (0.29,), (0.32,), 0, True),
    "cifar10": DatasetSpec(3, (32, 32), (0.49, 0.48, 0.44), (0.20, 0.20, 0.20), 4, True),
    "svhn": DatasetSpec(3, (32, 32), (0.44, 0.44, 0.47), (0.12, 0.12, 0.11), 4, True),
    "digits": DatasetSpec(1, (8, 8), (0.31,), (0.38,), 0, False),
}
DIGITS_TEST = 360


class DataMissingError(FileNotFoundError):
    """The data set's files were not found; the message says where to put which files."""


# -- readers -------------------------------------------------------------------------------


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) of unsigned bytes into an array of its shape."""
    path = Path(path)
    with _open(path) as fh:
        data = fh.read()
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {data[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).copy()
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} values for shape {dims}")
    return body.reshape(dims)


def write_idx(path, array: np.ndarray, compress: bool | None = None):
    """Write a uint8 array as an IDX file (gzip if the name ends in ``.gz``); for tests."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = head + array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def read_idx_dataset(folder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_x, train_y, test_x, test_y)`` of an MNIST-format folder; images (N, 1, H, W)."""
    folder = Path(folder)
    out = []
    for key, stem in IDX_FILES.items():
        path = _find_idx(folder, stem)
        if path is None:
            raise DataMissingError(f"{folder}: {stem}(.gz) not found")
        arr = read_idx(path)
        out.append(arr[:, None] if key.endswith("_x") else arr.astype(np.int64))
    return tuple(out)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as fh:
        d = pickle.load(fh, encoding="bytes")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: not a CIFAR-10 python batch (no data/labels)")
    x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
    return x, np.asarray(labels, dtype=np.int64)


def read_cifar10(folder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 python batches in ``folder`` (``cifar-10-batches-py``); images (N, 3, 32, 32)."""
    folder = Path(folder)
    train = [_cifar_batch(folder / name) for name in CIFAR_TRAIN]
    tx, ty = _cifar_batch(folder / CIFAR_TEST)
    return (np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), tx, ty)


def read_svhn_mat(path) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN ``*_32x32.mat``: images (N, 3, 32, 32) uint8, labels 0..9 (the file's 10 -> 0)."""
    from scipy.io import loadmat

    m = loadmat(str(path))
    x = np.ascontiguousarray(np.transpose(m["X"], (3, 2, 0, 1)), dtype=np.uint8)
    y = np.asarray(m["y"], dtype=np.int64).ravel()
    y[y == 10] = 0
    return x, y


def read_svhn(folder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    folder = Path(folder)
    return (
        *read_svhn_mat(folder / SVHN_FILES["train"]),
        *read_svhn_mat(folder / SVHN_FILES["test"]),
    )


# -- finding -------------------------------------------------------------------------------


def _complete(name: str, folder: Path) -> bool:
    if name in ("mnist", "fmnist"):
        return all(_find_idx(folder, stem) is not None for stem in IDX_FILES.values())
    if name == "cifar10":
        return all((folder / f).is_file() for f in [*CIFAR_TRAIN, CIFAR_TEST])
    return all((folder / f).is_file() for f in SVHN_FILES.values())


def cache_dir() -> Path:
    """The download cache of ``spikealign data fetch``: ``$SPIKEALIGN_CACHE``, else
    ``$XDG_CACHE_HOME/spikealign/data`` (``~/.cache/spikealign/data``)."""
    if os.environ.get("SPIKEALIGN_CACHE"):
        return Path(os.environ["SPIKEALIGN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spikealign" / "data"


def search_roots(name: str, data_dir=None) -> list[Path]:
    if data_dir is None:
        data_dir = env_data_dir()
    roots = [Path(data_dir)] if data_dir is not None else []
    roots.append(cache_dir())
    return roots


def find_dataset(name: str, data_dir=None) -> Path:
    """The folder holding data set ``name`` (module docstring) or :class:`DataMissingError`."""
    if name not in SPECS:
        raise ValueError(f"dataset must be one of {', '.join(SPECS)} (got {name!r})")
    if name == "digits":
        return _digits_dir()
    candidates = [root / sub for root in search_roots(name, data_dir) for sub in FOLDERS[name]]
    candidates += SYSTEM_DIRS.get(name, [])
    for folder in candidates:
        if folder.is_dir() and _complete(name, folder):
            return folder
    raise DataMissingError(missing_message(name, data_dir))


def missing_message(name: str, data_dir=None) -> str:
    where = Path(data_dir) if data_dir is not None else Path("DATA_DIR")
    if name in ("mnist", "fmnist"):
        files = ", ".join(s + ".gz" for s in IDX_FILES.values())
        folder = where / FOLDERS[name][0]
    elif name == "cifar10":
        files = ", ".join([*CIFAR_TRAIN, CIFAR_TEST])
        folder = where / "cifar-10-batches-py"
    else:
        files = ", ".join(SVHN_FILES.values())
        folder = where
    if name == "digits":
        return "digits: needs scikit-learn (pip install scikit-learn)"
    extra = " or apt-get install dataset-fashion-mnist," if name == "fmnist" else ""
    return (
        f"{name}: data not found; put {files} into {folder} (--data-dir DATA_DIR),"
        f"{extra} or run `spikealign data fetch {name}`"
    )


def _digits_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise DataMissingError(
            "digits: needs scikit-learn (pip install scikit-learn); its "
            "8x8 digits ship with it, nothing is downloaded"
        )
    return Path(spec.origin).parent / "datasets" / "data"


def read_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: 1437 train / 360 test images (N, 1, 8, 8) uint8 (module
    docstring)."""
    _digits_dir()
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    test, train = order[:DIGITS_TEST], order[DIGITS_TEST:]
    return x[train], y[train], x[test], y[test]


def load_arrays(name: str, data_dir=None):
    """``(train_x, train_y, test_x, test_y)`` as uint8 images (N, C, H, W) and int64 labels."""
    if name == "digits":
        return read_digits()
    folder = find_dataset(name, data_dir)
    if name in ("mnist", "fmnist"):
        return read_idx_dataset(folder)
    if name == "cifar10":
        return read_cifar10(folder)
    return read_svhn(folder)


def limit(arrays, n_train: int | None, n_test: int | None):
    """The first ``n_train`` / ``n_test`` samples (None: all)."""
    tx, ty, vx, vy = arrays
    if n_train is not None:
        tx, ty = tx[:n_train], ty[:n_train]
    if n_test is not None:
        vx, vy = vx[:n_test], vy[:n_test]
    return tx, ty, vx, vy


def env_data_dir() -> Path | None:
    v = os.environ.get("SPIKEALIGN_DATA_DIR")
    return Path(v) if v else None
