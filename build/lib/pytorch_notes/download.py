"""``python -m pytorch_notes data``: download the book's full datasets and weights, safely.

Each file goes to ``<path>.part`` first; an interrupted download resumes from
there (an HTTP ``Range`` request), the finished file is checked against its
checksum, and only then renamed to its final name. Archives are extracted into
a temporary folder, checked, and renamed into place. So whatever carries the
final name is complete, and running the command again only does what is left.

``MANIFEST`` holds the book's data: the four MNIST files (kept gzip-compressed,
as the book reads them), CIFAR-10 (python version), the ants/bees photos of
``hymenoptera_data`` and torchvision's VGG16 ImageNet weights. No checksum is
published for ``hymenoptera_data.zip``: its own CRC-32s are checked instead
(``ZipFile.testzip``), and its four class folders must hold images.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from pytorch_notes.datasets import data_root

AGAIN = "run `python -m pytorch_notes data` again"
TIMEOUT = 30  # seconds without an answer before a connection counts as lost
CHUNK = 1 << 16
CHECKSUM = r"md5:[0-9a-f]{8,32}|sha256:[0-9a-f]{8,64}"  # a prefix of the digest is enough
NETWORK = (TimeoutError, ConnectionError, http.client.HTTPException)  # a lost connection
DAMAGED = (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error)


@dataclass(frozen=True)
class Item:
    """One download: where it comes from, where it lands under the data root, how it is checked.

    Args:
        name: what the reader sees, e.g. ``"MNIST train images"``.
        url: an ``https://`` (or ``http://``) address.
        path: where the downloaded file lands, e.g. ``"MNIST/raw/train-images-idx3-ubyte.gz"``.
        checksum: ``"md5:<hex>"`` or ``"sha256:<hex>"``, where ``<hex>`` may be a prefix
            of the digest (at least 8 digits); None when none is published.
        extract_to: None for a plain file; for an archive (``.zip``, else a tar), the
            folder it holds, e.g. ``"cifar-10-batches-py"``. The archive is deleted
            once that folder is in place.
        contents: paths inside ``extract_to`` that the archive must produce; each
            folder among them must hold at least one file.

    Raises:
        TypeError: if a field has the wrong type.
        ValueError: if ``url``, ``checksum`` or a path is malformed (paths must be
            relative and stay inside the data root).
    """

    name: str
    url: str
    path: str
    checksum: str | None = None
    extract_to: str | None = None
    contents: tuple[str, ...] = ()

    def __post_init__(self):
        for field in ("name", "url"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"{field} must be a str, got {type(getattr(self, field)).__name__}")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"url must start with https:// or http://, got {self.url!r}")
        if self.checksum is not None and not re.fullmatch(CHECKSUM, str(self.checksum)):
            raise ValueError("checksum must be 'md5:<hex>', 'sha256:<hex>' or None, "
                             f"got {self.checksum!r}")
        if not isinstance(self.contents, tuple):
            raise TypeError(f"contents must be a tuple, got {type(self.contents).__name__}")
        _check_relative("path", self.path)
        if self.extract_to is not None:
            _check_relative("extract_to", self.extract_to)
        for path in self.contents:
            _check_relative("contents", path)


def _check_relative(field: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, got {type(value).__name__}")
    if not value or PurePosixPath(value).is_absolute() or ".." in PurePosixPath(value).parts:
        raise ValueError(f"{field} must be a relative path inside the data root, got {value!r}")


MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MANIFEST = (
    *(Item(f"MNIST {split} {kind}", MNIST_URL + file, f"MNIST/raw/{file}", f"md5:{md5}")
      for split, kind, file, md5 in [
          ("train", "images", "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
          ("train", "labels", "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
          ("test", "images", "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
          ("test", "labels", "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]),
    Item("CIFAR-10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
         "cifar-10-python.tar.gz", "md5:c58f30108f718f92721af3b95e74349a",
         extract_to="cifar-10-batches-py",
         contents=("batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6)))),
    # No checksum is published for this archive: the zip's own CRC-32s are checked instead,
    # and the four class folders must hold images.
    Item("hymenoptera_data (ants and bees)",
         "https://download.pytorch.org/tutorial/hymenoptera_data.zip",
         "hymenoptera_data.zip", None, extract_to="hymenoptera_data",
         contents=("train/ants", "train/bees", "val/ants", "val/bees")),
    # torchvision's convention: the 8 hex digits in the file name start the file's SHA-256.
    Item("VGG16 ImageNet weights", "https://download.pytorch.org/models/vgg16-397923af.pth",
         "weights/vgg16-397923af.pth", "sha256:397923af"),
)


class _Failed(Exception):
    """One item could not be fetched; the message says why and what to do."""


def fetch(items: Sequence[Item] = MANIFEST, root: str | os.PathLike | None = None) -> list[str]:
    """Download, check and put in place each item under ``root`` (default: :func:`data_root`).

    An item already in place (its file, or its extracted folder) is skipped.
    A download resumes from its ``.part`` file; a checksum mismatch deletes the
    ``.part``; a dropped connection keeps it, so the next run resumes. Archives
    are checked (a ``.zip`` by its CRC-32s, then ``contents``) before they are
    renamed into place; a damaged archive is deleted. One item failing does
    not stop the others.

    Returns:
        One line per item that failed, saying what failed and what to do; empty
        when every item is in place.

    Raises:
        TypeError: if ``items`` is not a sequence of :class:`Item` or ``root`` is not a path.
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not all(
            isinstance(item, Item) for item in items):
        raise TypeError(f"items must be a sequence of Item, got {type(items).__name__}")
    folder = data_root(root)
    failures = []
    for item in items:
        target = folder / (item.extract_to or item.path)
        if target.exists():
            print(f"{item.name}: already there ({target})")
            continue
        try:
            if not (folder / item.path).exists():  # an archive may be here from a failed extraction
                _download(item, folder / item.path)
            if item.extract_to:
                _extract(item, folder)
        except _Failed as failure:
            failures.append(f"{item.name}: {failure}")
        except OSError as error:  # e.g. the disk is full or the folder is not writable
            failures.append(f"{item.name}: {error}; fix that and {AGAIN}")
        else:
            print(f"{item.name}: ready ({target})")
    return failures


def _download(item: Item, path: Path) -> None:
    """``item.url`` to ``path``: through ``<path>.part`` (resumed if there), checked, renamed."""
    part = path.with_name(path.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(item.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            _receive(item, response, part, have)
    except urllib.error.HTTPError as error:
        error.close()
        if not (error.code == 416 and have):  # 416 to a resume: nothing left, check the .part
            raise _Failed(f"HTTP {error.code} {error.reason} at {item.url}: check the address, "
                          f"or {AGAIN} later") from error
    except (urllib.error.URLError, *NETWORK) as error:
        reason = getattr(error, "reason", None) or error
        raise _Failed(f"cannot reach {item.url} ({reason}): "
                      f"check the connection and {AGAIN}") from error
    _verify(item, part)
    os.replace(part, path)


def _receive(item: Item, response: http.client.HTTPResponse, part: Path, have: int) -> None:
    """Append the response body to ``part`` with a progress bar; fail if the connection drops."""
    if response.status != 206:  # the server ignored the Range header: start over
        have = 0
    size = response.headers.get("Content-Length")
    total = have + int(size) if size is not None else None
    dropped = None
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "ab" if have else "wb") as file, tqdm(
            total=total, initial=have, desc=item.name, unit="B", unit_scale=True, unit_divisor=1024,
            file=sys.stderr) as bar:
        try:
            while chunk := response.read(CHUNK):
                file.write(chunk)
                bar.update(len(chunk))
        except NETWORK as error:
            dropped = error
    done = part.stat().st_size
    if dropped is not None or (total is not None and done < total):
        of = f" of {_size(total)}" if total is not None else ""
        raise _Failed(f"connection dropped after {_size(done)}{of}: "
                      f"{AGAIN} to resume from there")


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _verify(item: Item, part: Path) -> None:
    """Compare the file's digest with ``item.checksum`` (a prefix is enough); delete it if wrong."""
    if item.checksum is None:
        return
    algorithm, expected = item.checksum.split(":")
    digest = hashlib.new(algorithm)
    with open(part, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    got = digest.hexdigest()[:len(expected)]
    if got != expected:
        part.unlink()
        raise _Failed(f"checksum mismatch (expected {algorithm} {expected}, got {got}): "
                      f"the file was deleted; {AGAIN}")


def _extract(item: Item, root: Path) -> None:
    """Unpack the archive into a temporary folder under ``root``, check it, rename it into place."""
    archive = root / item.path
    temporary = Path(tempfile.mkdtemp(dir=root, prefix=f".{Path(item.path).name}."))
    try:
        try:
            if item.path.endswith(".zip"):
                with zipfile.ZipFile(archive) as zipped:
                    if (bad := zipped.testzip()) is not None:
                        raise zipfile.BadZipFile(f"CRC-32 mismatch in {bad}")
                    zipped.extractall(temporary)
            else:
                with tarfile.open(archive) as tar:
                    tar.extractall(temporary, filter="data")
            _check_contents(item, temporary / item.extract_to)
        except (*DAMAGED, _Failed) as error:
            archive.unlink()
            raise _Failed(f"the archive {archive.name} is damaged or incomplete ({error}): "
                          f"it was deleted; {AGAIN}") from error
        (root / item.extract_to).parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary / item.extract_to, root / item.extract_to)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    archive.unlink()


def _check_contents(item: Item, folder: Path) -> None:
    if not folder.is_dir():
        raise _Failed(f"it holds no {item.extract_to}/ folder")
    for name in item.contents:
        path = folder / name
        if not path.exists() or (path.is_dir() and not any(p.is_file() for p in path.iterdir())):
            raise _Failed(f"{item.extract_to}/{name} is missing or empty")
