"""Readers on small synthetic files in the real formats; finding data sets; the batch loader."""

import gzip

import numpy as np
import pytest

from deep_synth import write_cifar, write_mnist_like, write_svhn
from spikealign import datasets
from spikealign.deep import data as D


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    arrays = write_mnist_like(tmp_path / "MNIST" / "raw", gz=gz)
    tx, ty, vx, vy = D.read_idx_dataset(tmp_path / "MNIST" / "raw")
    assert tx.shape == (12, 1, 28, 28) and tx.dtype == np.uint8
    assert np.array_equal(tx[:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(vy, arrays["t10k-labels-idx1-ubyte"])
    assert ty.dtype == np.int64


def test_idx_rejects_garbage(tmp_path):
    p = tmp_path / "bad.gz"
    p.write_bytes(gzip.compress(b"\x01\x02\x03\x04rest"))
    with pytest.raises(ValueError, match="not an IDX"):
        D.read_idx(p)


def test_cifar_reader(tmp_path):
    written = write_cifar(tmp_path / "cifar-10-batches-py")
    tx, ty, vx, vy = D.load_arrays("cifar10", tmp_path)
    assert tx.shape == (20, 3, 32, 32) and vx.shape == (4, 3, 32, 32)
    x0, y0 = written["data_batch_1"]
    assert np.array_equal(tx[0, 0].ravel(), x0[0, :1024])  # channel-major rows
    assert list(ty[:4]) == y0


def test_svhn_reader(tmp_path):
    written = write_svhn(tmp_path / "svhn")
    tx, ty, vx, vy = D.load_arrays("svhn", tmp_path)
    X, y = written["train"]
    assert tx.shape == (5, 3, 32, 32)
    assert np.array_equal(tx[2, 1], X[:, :, 1, 2])
    want = y.ravel().astype(np.int64)
    want[want == 10] = 0
    assert np.array_equal(ty, want) and ty.max() <= 9


@pytest.mark.parametrize("sub", ["FashionMNIST/raw", "fashion-mnist", "fmnist", "."])
def test_find_fmnist_folder_names(tmp_path, monkeypatch, sub):
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", {})  # where find_dataset reads it
    write_mnist_like(tmp_path / "data" / sub)
    assert D.find_dataset("fmnist", tmp_path / "data") == tmp_path / "data" / sub


def test_missing_data_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", {})  # where find_dataset reads it
    for name in [n for n in D.SPECS if n != "digits"]:  # digits: no files (below)
        with pytest.raises(D.DataMissingError) as err:
            D.find_dataset(name, tmp_path)
        msg = str(err.value)
        assert "\n" not in msg and "spikealign data fetch" in msg and str(tmp_path) in msg
    with pytest.raises(ValueError, match="dataset must be one of"):
        D.find_dataset("imagenet", tmp_path)


def test_digits_needs_only_sklearn(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a)
    )
    with pytest.raises(D.DataMissingError) as err:
        D.load_arrays("digits")
    assert "\n" not in str(err.value) and "pip install scikit-learn" in str(err.value)


def test_digits_split():
    pytest.importorskip("sklearn")
    tx, ty, vx, vy = D.load_arrays("digits")
    assert tx.shape == (1437, 1, 8, 8) and vx.shape == (360, 1, 8, 8)
    assert tx.dtype == np.uint8 and tx.max() == 255 and set(np.unique(ty)) == set(range(10))
    from sklearn.datasets import load_digits

    full = np.round(load_digits().images * 255 / 16).astype(np.uint8)
    # a partition of all 1797 images (fixed permutation of default_rng(0))
    order = np.random.default_rng(0).permutation(1797)
    assert np.array_equal(vx[:, 0], full[order[:360]])
    assert np.array_equal(tx[:, 0], full[order[360:]])


def test_cache_is_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "cache"))
    write_mnist_like(tmp_path / "cache" / "MNIST" / "raw")
    assert D.find_dataset("mnist") == tmp_path / "cache" / "MNIST" / "raw"


def test_batch_loader_augment():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, 10)
    spec = D.SPECS["cifar10"]
    test = D.BatchLoader(x, y, spec, 4, train=False)
    batches = list(test)
    assert len(test) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    want = (x[:4] / 255.0 - np.array(spec.mean)[:, None, None]) / np.array(spec.std)[:, None, None]
    assert np.allclose(batches[0][0].numpy(), want, atol=1e-5)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    tr1 = [b[0] for b in D.BatchLoader(x, y, spec, 3, True, g1)]
    tr2 = [b[0] for b in D.BatchLoader(x, y, spec, 3, True, g2)]
    assert len(tr1) == 3  # the last batch of 1 is dropped
    assert all(torch.equal(a, b) for a, b in zip(tr1, tr2, strict=True))
    # a crop of the padded image: every augmented image is a shifted / flipped original
    xs = torch.as_tensor(x).float() / 255
    aug = D.augment(torch.as_tensor(x[:1]), spec, torch.Generator().manual_seed(3), True)
    raw = aug * torch.tensor(spec.std)[:, None, None] + torch.tensor(spec.mean)[:, None, None]
    pad = torch.nn.functional.pad(xs[:1], (4, 4, 4, 4))
    found = any(
        torch.allclose(raw, cand[..., dy : dy + 32, dx : dx + 32], atol=1e-5)
        for cand in (pad, pad.flip(-1))
        for dy in range(9)
        for dx in range(9)
    )
    assert found
