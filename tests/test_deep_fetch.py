"""``spikealign data fetch`` against a local HTTP server serving small synthetic files."""

import hashlib
import http.server
import io
import tarfile
import threading
from functools import partial

import numpy as np
import pytest

from deep_synth import write_cifar, write_mnist_like
from spikealign.deep import data as D
from spikealign.deep import fetch as F


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _md5(path):
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def _source(root, url, folder="FashionMNIST/raw", bad=None):
    files = []
    for p in sorted(root.iterdir()):
        if p.is_file():
            files.append(F.RemoteFile(p.name, "sha256:" + "0" * 64 if p.name == bad else _md5(p)))
    return F.Source(url, folder, tuple(files))


def test_fetch_mnist_format(tmp_path, server):
    root, url = server
    arrays = write_mnist_like(root)
    dest = tmp_path / "cache"
    folder = F.fetch("fmnist", dest, source=_source(root, url))
    assert folder == dest / "FashionMNIST" / "raw"
    tx, ty, vx, vy = D.read_idx_dataset(folder)
    assert np.array_equal(tx[:, 0], arrays["train-images-idx3-ubyte"])
    # already present with the right checksum: nothing is downloaded again (the server no
    # longer has the files, so a download attempt would fail)
    src = _source(root, url)
    mtime = (folder / "t10k-images-idx3-ubyte.gz").stat().st_mtime_ns
    for p in root.iterdir():
        p.unlink()
    F.fetch("fmnist", dest, source=src)
    assert (folder / "t10k-images-idx3-ubyte.gz").stat().st_mtime_ns == mtime


def test_checksum_mismatch_leaves_nothing(tmp_path, server):
    root, url = server
    write_mnist_like(root)
    dest = tmp_path / "cache"
    src = _source(root, url, bad="train-images-idx3-ubyte.gz")
    with pytest.raises(F.ChecksumError, match="checksum mismatch"):
        F.fetch("fmnist", dest, source=src)
    folder = dest / "FashionMNIST" / "raw"
    names = sorted(p.name for p in folder.iterdir())
    assert "train-images-idx3-ubyte.gz" not in names
    assert not [n for n in names if n.startswith(".") or n.endswith(".part")]
    # files fetched before the bad one are complete and verified
    for n in names:
        assert _md5(folder / n) == _md5(root / n)


def test_registered_checksums_reject_synthetic_files(tmp_path, server):
    root, url = server
    write_mnist_like(root)
    with pytest.raises(F.ChecksumError):
        F.fetch("mnist", tmp_path / "cache", mirror=url)
    assert not (tmp_path / "cache").exists()  # no files, and no empty folders either


def test_fetch_cifar_archive(tmp_path, server):
    root, url = server
    src_dir = tmp_path / "src"
    written = write_cifar(src_dir / "cifar-10-batches-py")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src_dir / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    (root / "cifar-10-python.tar.gz").write_bytes(buf.getvalue())
    src = F.Source(
        url,
        ".",
        (F.RemoteFile("cifar-10-python.tar.gz", _md5(root / "cifar-10-python.tar.gz")),),
        extract=("cifar-10-python.tar.gz",),
    )
    dest = tmp_path / "cache"
    F.fetch("cifar10", dest, source=src)
    tx, ty, _, _ = D.load_arrays("cifar10", dest)
    assert list(ty[:4]) == written["data_batch_1"][1]


def test_unknown_name_and_bad_checksum_spec(tmp_path):
    with pytest.raises(ValueError, match="unknown data set"):
        F.fetch("imagenet", tmp_path)
    with pytest.raises(ValueError, match="checksum must be"):
        F._hasher("crc32:00")
    assert set(F.SOURCES) == set(D.SPECS) - {"digits"}
    with pytest.raises(ValueError, match="ships with scikit-learn"):
        F.fetch("digits", tmp_path)


def test_http_error_is_one_line(tmp_path, server):
    root, url = server
    src = F.Source(url, ".", (F.RemoteFile("missing.bin", "md5:" + "0" * 32),))
    with pytest.raises(F.FetchError, match="download failed") as err:
        F.fetch("x", tmp_path / "cache", source=src)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache").exists()
