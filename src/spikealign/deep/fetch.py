"""``spikealign data fetch NAME``: explicit, checksum-verified downloads into a cache.

Nothing downloads at run time; training reads files from ``--data-dir``, this cache or the
system folders (:mod:`spikealign.deep.data`). A fetch

1. streams each file into a temporary file in the target folder while hashing it;
2. compares the digest with the registered checksum (``md5:`` or ``sha256:``); on a mismatch
   it deletes the temporary file and raises :class:`ChecksumError` (nothing is left behind);
3. moves the verified file into place with :func:`os.replace` (atomic);
4. unpacks archives (CIFAR-10) into a temporary folder that is renamed into place.

A fetch that fails (no network, HTTP error, broken connection, checksum mismatch, Ctrl-C)
raises one line naming the URL and removes the folders it created that are still empty, so
it leaves neither partial files nor empty folders behind. A file that cannot be written (a full
disk, a read-only cache) raises :class:`spikealign.io.WriteError` naming it, with the same
clean-up.

Files already present with the right checksum are not downloaded again. The cache is
``$SPIKEALIGN_CACHE``, else ``$XDG_CACHE_HOME/spikealign/data``, else
``~/.cache/spikealign/data``; it uses the folder names the readers look for. ``--mirror URL``
replaces the base URL (same file names, same checksums).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets import cache_dir  # the download cache lives in the core (module docstring)
from ..io import WriteError, atomic_write


class ChecksumError(ValueError):
    """A downloaded file does not match its registered checksum."""


class FetchError(ValueError):
    """A download failed (network, HTTP status); nothing was saved."""


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name in the target folder
    checksum: str  # "md5:<hex>" or "sha256:<hex>"


@dataclass(frozen=True)
class Source:
    """Where a data set's files come from and where they go under the cache."""

    base_url: str
    folder: str
    files: tuple[RemoteFile, ...]
    extract: tuple[str, ...] = field(default=())  # archive names to unpack after download

    def with_base_url(self, base_url: str) -> Source:
        return Source(base_url, self.folder, self.files, self.extract)


_IDX = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: the published files and their checksums (the ones torchvision verifies)
SOURCES: dict[str, Source] = {
    "mnist": Source(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "MNIST/raw",
        tuple(
            RemoteFile(n, "md5:" + h)
            for n, h in zip(
                _IDX,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
                strict=True,
            )
        ),
    ),
    "fmnist": Source(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "FashionMNIST/raw",
        tuple(
            RemoteFile(n, "md5:" + h)
            for n, h in zip(
                _IDX,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
                strict=True,
            )
        ),
    ),
    "cifar10": Source(
        "https://www.cs.toronto.edu/~kriz/",
        ".",
        (RemoteFile("cifar-10-python.tar.gz", "md5:c58f30108f718f92721af3b95e74349a"),),
        extract=("cifar-10-python.tar.gz",),
    ),
    "svhn": Source(
        "http://ufldl.stanford.edu/housenumbers/",
        ".",
        (
            RemoteFile("train_32x32.mat", "md5:e26dedcc434d2e4c54c9b2d4a06d8373"),
            RemoteFile("test_32x32.mat", "md5:eb5a983be6a315427106f1b164d9cef3"),
        ),
    ),
}

CHUNK = 1 << 20


def _hasher(checksum: str):
    algo, _, hexdigest = checksum.partition(":")
    if algo not in ("md5", "sha256") or not hexdigest:
        raise ValueError(f"checksum must be 'md5:<hex>' or 'sha256:<hex>' (got {checksum!r})")
    return hashlib.new(algo), hexdigest.lower()


def file_checksum_ok(path: Path, checksum: str) -> bool:
    h, want = _hasher(checksum)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest() == want


def download(
    url: str, target: Path, checksum: str, timeout: float = 60.0, progress: bool = False
) -> Path:
    """Download ``url`` to ``target`` atomically, verifying ``checksum`` (module docstring)."""
    target = Path(target)
    h, want = _hasher(checksum)

    def stream(out):
        bar = None
        try:
            with _open_url(url, timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                if progress:
                    from ..progress import progress as _bar

                    bar = _bar(total=total, desc=target.name, unit="B", unit_scale=True)
                for block in iter(lambda: resp.read(CHUNK), b""):
                    try:
                        out.write(block)
                    except OSError as exc:  # a full disk: the file, not the download, failed
                        raise WriteError.of(exc, target) from exc
                    h.update(block)
                    if bar is not None:
                        bar.update(len(block))
        except WriteError:
            raise
        except (OSError, http.client.HTTPException) as exc:  # connection lost, timeout, ...
            raise FetchError(
                f"{url}: download failed ({_reason(exc)}); nothing was saved"
            ) from None
        finally:
            if bar is not None:
                bar.close()
        got = h.hexdigest()
        if got != want:  # raised before the rename: nothing is saved
            raise ChecksumError(
                f"{url}: checksum mismatch (expected {checksum}, got "
                f"{checksum.partition(':')[0]}:{got}); nothing was saved"
            )

    atomic_write(target, stream, "wb", suffix=".part")
    return target


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason) or type(reason).__name__


def _open_url(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise FetchError(f"{url}: download failed ({_reason(exc)}); nothing was saved") from None
    except ValueError as exc:  # not a URL urllib can open (--mirror)
        raise FetchError(
            f"{url}: not a URL that can be downloaded ({exc}); nothing was saved"
        ) from None


def _missing_dirs(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for d in (folder, *folder.parents):
        if d.exists() or d.is_symlink():
            break
        missing.append(d)
    return missing


def _remove_empty(dirs: list[Path]):
    """Remove the folders of ``dirs`` (deepest first) that are empty; keep the others."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:  # not empty (a verified file was kept) or already gone
            pass


def _extract(archive: Path, dest: Path):
    """Unpack a tar archive next to itself: into a temporary folder, then rename into place."""
    try:
        tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".extract."))
    except OSError as exc:
        raise WriteError.of(exc, dest, "unpack into") from exc
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        for item in tmp.iterdir():
            final = dest / item.name
            if final.exists():
                shutil.rmtree(final) if final.is_dir() else final.unlink()
            os.replace(item, final)
    except OSError as exc:  # a full disk or read-only medium while unpacking
        raise (
            WriteError.of(exc, exc.filename)
            if exc.filename
            else WriteError.of(exc, dest, "unpack into")
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(
    name: str,
    dest: Path | None = None,
    *,
    mirror: str | None = None,
    source: Source | None = None,
    progress: bool = False,
) -> Path:
    """Fetch data set ``name`` into ``dest`` (default: :func:`cache_dir`); returns the folder.

    ``source`` replaces the registered :data:`SOURCES` entry (tests use a local server);
    ``mirror`` only replaces its base URL.
    """
    if source is None:
        if name == "digits":
            raise ValueError(
                "data fetch: digits ships with scikit-learn (pip install "
                "scikit-learn); there is nothing to fetch"
            )
        if name not in SOURCES:
            raise ValueError(
                f"data fetch: unknown data set {name!r}; available: {', '.join(SOURCES)}"
            )
        source = SOURCES[name]
    if mirror:
        source = source.with_base_url(mirror)
    dest = Path(dest) if dest is not None else cache_dir()
    folder = dest / source.folder
    base = source.base_url if source.base_url.endswith("/") else source.base_url + "/"
    created = _missing_dirs(folder.absolute())
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. the destination is a file
            raise FetchError(
                f"{folder}: cannot create the data folder "
                f"({exc.strerror or exc}); nothing was saved"
            ) from None
        for f in source.files:
            target = folder / f.name
            if target.is_file() and file_checksum_ok(target, f.checksum):
                continue
            download(base + f.name, target, f.checksum, progress=progress)
        for archive in source.extract:
            _extract(folder / archive, folder)
    except BaseException:
        _remove_empty(created)  # no empty folders left behind by a failed fetch
        raise
    return folder
