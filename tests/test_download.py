"""pytorch_notes.download: resumable, checked, atomic downloads, against a server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import re
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pytorch_notes import download
from pytorch_notes.__main__ import main
from pytorch_notes.datasets import CIFAR10_CLASSES, DATA_ENV, IdxMNIST
from pytorch_notes.download import MANIFEST, Item, fetch

TESTS = Path(__file__).resolve().parent
SHARED_MNIST = TESTS.parents[1] / "shared" / "datasets" / "MNIST" / "raw"
MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture(autouse=True)
def default_root(tmp_path, monkeypatch) -> Path:
    """The data root when none is given: a temporary folder, never the working tree's data/."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "default-root"))
    return tmp_path / "default-root"


# ---------------------------------------------------------------- the server

class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-``; can drop a connection on demand."""

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, dict(self.headers)))
        name = self.path.lstrip("/")
        body = server.files.get(name)
        if body is None:
            return self.send_error(404)
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        start = int(match[1]) if match and server.ranges else 0
        if start and start >= len(body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = server.drop_after.pop(name, None)  # once: send `cut` bytes, then hang up
        self.wfile.write(body[start:][:cut])

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, dict]] = []
        self.drop_after: dict[str, int] = {}
        self.ranges = True  # False: answer a Range request with the whole file (200)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{name}"


@pytest.fixture
def server():
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# ------------------------------------------------- tiny files in the real formats

def idx_gz(magic: int, array: np.ndarray) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def cifar_tar_gz() -> bytes:
    rng = np.random.default_rng(1)
    members = {"batches.meta": {"label_names": CIFAR10_CLASSES, "num_vis": 3072}}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        members[name] = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                         "labels": [int(x) for x in rng.integers(0, 10, 4)]}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            raw = pickle.dumps(content)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def hymenoptera_zip(splits=("train", "val")) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for s, split in enumerate(splits):
            for c, label in enumerate(["ants", "bees"]):
                for i in range(3):
                    name = f"hymenoptera_data/{split}/{label}/{label}_{i}.jpg"
                    info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
                    zipped.writestr(info, jpeg(100 * s + 10 * c + i))
    return buffer.getvalue()


def weights() -> bytes:
    buffer = io.BytesIO()
    torch.save({"weight": torch.arange(2000.0).view(40, 50), "bias": torch.zeros(40)}, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sources() -> dict[str, bytes]:
    """The bytes to serve for each MANIFEST path."""
    rng = np.random.default_rng(0)
    files = {}
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (20, 28, 28))
        files[f"MNIST/raw/{prefix}-images-idx3-ubyte.gz"] = idx_gz(2051, images)
        files[f"MNIST/raw/{prefix}-labels-idx1-ubyte.gz"] = idx_gz(2049, np.arange(20) % 10)
    files["cifar-10-python.tar.gz"] = cifar_tar_gz()
    files["hymenoptera_data.zip"] = hymenoptera_zip()
    files["weights/vgg16-397923af.pth"] = weights()
    return files


def checksum_of(item: Item, body: bytes) -> str | None:
    """The checksum of ``body`` in the form (algorithm, prefix length) that ``item`` uses."""
    if item.checksum is None:
        return None
    algorithm, expected = item.checksum.split(":")
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()[:len(expected)]}"


def serve(server: Server, item: Item, body: bytes) -> Item:
    """``item`` served from the loopback server, its checksum made to fit ``body``."""
    server.files[item.path] = body
    return dataclasses.replace(item, url=server.url(item.path), checksum=checksum_of(item, body))


@pytest.fixture
def local(server, sources) -> list[Item]:
    """The MANIFEST, served from 127.0.0.1 with tiny files of the same formats."""
    return [serve(server, item, sources[item.path]) for item in MANIFEST]


def by_name(items: list[Item], text: str) -> Item:
    return next(item for item in items if text in item.name)


def leftovers(root: Path) -> list[Path]:
    """``.part`` files and hidden temporary folders: what a finished run must not leave."""
    return sorted(p for p in root.rglob("*") if p.name.endswith(".part") or p.name.startswith("."))


# ------------------------------------------------------------------ the tests

def test_the_manifest_holds_what_the_book_reads():
    paths = {item.path: item for item in MANIFEST}
    assert len(paths) == len(MANIFEST) == 7 and len({item.name for item in MANIFEST}) == 7
    assert all(item.url.startswith("https://") for item in MANIFEST)
    for file in MNIST_FILES:
        item = paths[f"MNIST/raw/{file}"]
        assert item.url == f"https://ossci-datasets.s3.amazonaws.com/mnist/{file}"
        assert re.fullmatch("md5:[0-9a-f]{32}", item.checksum) and item.extract_to is None
    cifar = paths["cifar-10-python.tar.gz"]
    assert cifar.url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar.extract_to == "cifar-10-batches-py"
    assert cifar.checksum == "md5:c58f30108f718f92721af3b95e74349a"
    ants = paths["hymenoptera_data.zip"]
    assert ants.extract_to == "hymenoptera_data" and ants.checksum is None
    assert set(ants.contents) == {f"{s}/{c}" for s in ("train", "val") for c in ("ants", "bees")}
    vgg = paths["weights/vgg16-397923af.pth"]
    assert vgg.url == "https://download.pytorch.org/models/vgg16-397923af.pth"
    assert vgg.checksum == "sha256:397923af"


def test_every_kind_lands_readable_and_a_second_run_downloads_nothing(server, local, sources,
                                                                       tmp_path, capsys):
    from torchvision.datasets import ImageFolder

    assert fetch(local, tmp_path) == []
    raw = tmp_path / "MNIST" / "raw"
    for prefix in ("train", "t10k"):
        digits = IdxMNIST(raw / f"{prefix}-images-idx3-ubyte.gz",
                          raw / f"{prefix}-labels-idx1-ubyte.gz")
        assert len(digits) == 20 and digits[3][0].size == (28, 28) and digits[3][1] == 3
    batches = tmp_path / "cifar-10-batches-py"
    with open(batches / "data_batch_1", "rb") as file:
        batch = pickle.load(file, encoding="latin1")
    assert batch["data"].shape == (4, 3072) and batch["data"].dtype == np.uint8
    assert len(batch["labels"]) == 4
    with open(batches / "batches.meta", "rb") as file:
        assert pickle.load(file)["label_names"] == CIFAR10_CLASSES
    for split in ("train", "val"):
        images = ImageFolder(tmp_path / "hymenoptera_data" / split)
        assert images.classes == ["ants", "bees"] and len(images) == 6
        assert images[0][0].size == (16, 16)
    state = torch.load(tmp_path / "weights" / "vgg16-397923af.pth", weights_only=True)
    assert torch.equal(state["weight"], torch.arange(2000.0).view(40, 50))
    assert (raw / MNIST_FILES[0]).read_bytes() == sources[f"MNIST/raw/{MNIST_FILES[0]}"]
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "cifar-10-python.tar.gz").exists()  # archives go once extracted
    assert not (tmp_path / "hymenoptera_data.zip").exists()
    assert capsys.readouterr().out.count(": ready (") == 7

    seen = len(server.requests)
    assert fetch(local, tmp_path) == []
    assert len(server.requests) == seen
    assert capsys.readouterr().out.count(": already there (") == 7


def test_a_checksum_mismatch_names_both_checksums_and_deletes_the_file(local, sources, tmp_path):
    item = dataclasses.replace(by_name(local, "MNIST train images"), checksum="md5:" + "0" * 32)
    real = hashlib.md5(sources[item.path]).hexdigest()
    [line] = fetch([item], tmp_path)
    assert line.startswith("MNIST train images: checksum mismatch")
    assert f"expected md5 {'0' * 32}, got {real}" in line and "deleted" in line
    assert "python -m pytorch_notes data" in line
    assert not (tmp_path / item.path).exists() and leftovers(tmp_path) == []


def test_a_wrong_resumed_file_is_deleted_not_resumed_again(server, local, sources, tmp_path):
    item = by_name(local, "VGG16")
    part = tmp_path / (item.path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"not the start of the file")
    [line] = fetch([item], tmp_path)
    assert "checksum mismatch" in line and not part.exists()
    assert server.requests[-1][1]["Range"] == f"bytes={len(b'not the start of the file')}-"
    assert fetch([item], tmp_path) == []  # from scratch: no Range
    assert "Range" not in server.requests[-1][1]
    assert (tmp_path / item.path).read_bytes() == sources[item.path]


def test_a_dropped_connection_keeps_the_part_and_the_next_run_resumes(server, local, sources,
                                                                      tmp_path):
    item = by_name(local, "VGG16")
    body = sources[item.path]
    server.drop_after[item.path] = 1000
    [line] = fetch([item], tmp_path)
    assert line == ("VGG16 ImageNet weights: connection dropped after 1,000 bytes "
                    f"of {len(body):,} bytes: "
                    "run `python -m pytorch_notes data` again to resume from there")
    part = tmp_path / (item.path + ".part")
    assert part.read_bytes() == body[:1000] and not (tmp_path / item.path).exists()

    assert fetch([item], tmp_path) == []
    assert server.requests[-1][1]["Range"] == "bytes=1000-"
    assert (tmp_path / item.path).read_bytes() == body and not part.exists()


def test_a_dropped_archive_resumes_and_is_extracted(server, local, tmp_path):
    item = by_name(local, "CIFAR-10")
    server.drop_after[item.path] = 500
    [line] = fetch([item], tmp_path)
    assert "connection dropped after 500 bytes" in line
    assert not (tmp_path / "cifar-10-batches-py").exists()
    assert fetch([item], tmp_path) == []
    assert server.requests[-1][1]["Range"] == "bytes=500-"
    assert (tmp_path / "cifar-10-batches-py" / "test_batch").is_file() and leftovers(tmp_path) == []


def test_a_server_that_ignores_range_makes_it_start_over(server, local, sources, tmp_path):
    item = by_name(local, "VGG16")
    server.ranges = False
    part = tmp_path / (item.path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"junk")
    assert fetch([item], tmp_path) == []
    assert server.requests[-1][1]["Range"] == "bytes=4-"
    assert (tmp_path / item.path).read_bytes() == sources[item.path]


def test_a_complete_part_answered_416_is_checked_and_kept(server, local, sources, tmp_path):
    item = by_name(local, "VGG16")
    part = tmp_path / (item.path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(sources[item.path])  # e.g. killed between the last byte and the rename
    assert fetch([item], tmp_path) == []
    assert (tmp_path / item.path).read_bytes() == sources[item.path] and not part.exists()


def test_404_names_the_url(server, tmp_path):
    item = Item("Lost file", server.url("nothing/here.bin"), "lost.bin")
    [line] = fetch([item], tmp_path)
    assert line.startswith(f"Lost file: HTTP 404 Not Found at {item.url}")
    assert not (tmp_path / "lost.bin").exists() and leftovers(tmp_path) == []


def test_one_failure_does_not_stop_the_next_item(server, local, sources, tmp_path):
    with socket.socket() as probe:  # a port where nobody listens
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    items = [Item("Lost file", server.url("lost.bin"), "lost.bin"),
             Item("Closed port", f"http://127.0.0.1:{closed}/x.bin", "x.bin"),
             by_name(local, "MNIST test labels")]
    lost, unreachable = fetch(items, tmp_path)
    assert lost.startswith("Lost file: HTTP 404")
    assert unreachable.startswith(f"Closed port: cannot reach {items[1].url}")
    assert "check the connection" in unreachable
    assert (tmp_path / items[2].path).read_bytes() == sources[items[2].path]


def test_a_damaged_zip_is_deleted_and_nothing_is_extracted(server, local, tmp_path):
    body = bytearray(hymenoptera_zip())
    body[body.index(jpeg(0)) + 200] ^= 0xFF  # one flipped byte inside a stored JPEG
    item = serve(server, by_name(local, "hymenoptera"), bytes(body))
    [line] = fetch([item], tmp_path)
    assert line.startswith("hymenoptera_data (ants and bees): "
                           "the archive hymenoptera_data.zip is damaged")
    assert "CRC-32 mismatch in hymenoptera_data/train/ants/ants_0.jpg" in line
    assert not (tmp_path / "hymenoptera_data").exists()
    assert not (tmp_path / "hymenoptera_data.zip").exists() and leftovers(tmp_path) == []


def test_an_archive_without_the_expected_folders_is_refused(server, local, tmp_path):
    item = serve(server, by_name(local, "hymenoptera"), hymenoptera_zip(splits=("train",)))
    [line] = fetch([item], tmp_path)
    assert "hymenoptera_data/val/ants is missing or empty" in line
    assert not (tmp_path / "hymenoptera_data").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/datasets is not present")
def test_the_manifest_checksums_match_the_real_mnist_test_files(server, tmp_path):
    items = [dataclasses.replace(item, url=server.url(item.path)) for item in MANIFEST
             if item.path.startswith("MNIST/raw/t10k")]  # checksums as in MANIFEST
    for item in items:
        server.files[item.path] = (SHARED_MNIST / Path(item.path).name).read_bytes()
    assert fetch(items, tmp_path) == []
    raw = tmp_path / "MNIST" / "raw"
    digits = IdxMNIST(raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz")
    assert len(digits) == 10_000


def test_the_data_command_exits_1_with_each_failure_on_stderr(server, local, tmp_path, monkeypatch,
                                                               capsys):
    monkeypatch.setattr(download, "MANIFEST", local)
    assert main(["data", "--root", str(tmp_path), "--only", "mnist", "VGG"]) == 0
    out = capsys.readouterr().out
    assert f"5 of 5 items ready in {tmp_path}" in out
    assert not (tmp_path / "cifar-10-batches-py").exists()

    del server.files["cifar-10-python.tar.gz"]
    server.files["hymenoptera_data.zip"] = b"not a zip"
    assert main(["data", "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    failures = [line for line in captured.err.splitlines()  # each on its own line, among the bars
                if line.startswith(("CIFAR-10: ", "hymenoptera")) and "%|" not in line]
    assert len(failures) == 2 and "HTTP 404 Not Found" in failures[0] and "damaged" in failures[1]
    assert "already there" in captured.out and f"5 of 7 items ready in {tmp_path}" in captured.out

    with pytest.raises(SystemExit) as exited:
        main(["data", "--only", "svhn"])
    assert exited.value.code == 2 and "no item is named like 'svhn'" in capsys.readouterr().err


def test_without_root_the_data_goes_to_the_data_root(local, sources, default_root, monkeypatch):
    monkeypatch.setattr(download, "MANIFEST", local)
    assert fetch([by_name(local, "VGG16")]) == []
    assert main(["data", "--only", "mnist test"]) == 0
    assert sorted(p.name for p in (default_root / "MNIST" / "raw").iterdir()) == MNIST_FILES[2:]
    weights_file = default_root / "weights" / "vgg16-397923af.pth"
    assert weights_file.read_bytes() == sources["weights/vgg16-397923af.pth"]


def test_python_dash_m_data_with_everything_there_needs_no_network(tmp_path):
    weights_file = tmp_path / "weights" / "vgg16-397923af.pth"
    weights_file.parent.mkdir()
    weights_file.write_bytes(weights())
    env = dict(os.environ, PYTHONPATH=str(TESTS / "offline"))  # connections beyond loopback fail
    command = [sys.executable, "-m", "pytorch_notes", "data", "--root", str(tmp_path),
               "--only", "vgg16"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "VGG16 ImageNet weights: already there" in result.stdout
    assert f"1 of 1 items ready in {tmp_path}" in result.stdout


def test_bad_input_is_refused_clearly(tmp_path):
    with pytest.raises(TypeError, match="items must be a sequence of Item, got str"):
        fetch("MNIST", tmp_path)
    with pytest.raises(TypeError, match="items must be a sequence of Item"):
        fetch([MANIFEST[0], "CIFAR-10"], tmp_path)
    with pytest.raises(TypeError, match="root must be a path or None, got int"):
        fetch(MANIFEST, root=3)
    with pytest.raises(ValueError, match="url must start with https:// or http://"):
        Item("x", "ftp://example.org/x", "x")
    with pytest.raises(ValueError, match="checksum must be 'md5:<hex>'"):
        Item("x", "https://example.org/x", "x", checksum="crc32:1234abcd")
    with pytest.raises(ValueError, match="path must be a relative path inside the data root"):
        Item("x", "https://example.org/x", "../outside")
    with pytest.raises(ValueError, match="extract_to must be a relative path"):
        Item("x", "https://example.org/x.zip", "x.zip", extract_to="/tmp/x")
    with pytest.raises(TypeError, match="path must be a str, got PosixPath|path must be a str"):
        Item("x", "https://example.org/x", Path("x"))
    with pytest.raises(TypeError, match="contents must be a tuple, got list"):
        Item("x", "https://example.org/x.zip", "x.zip", extract_to="x", contents=["a"])
