"""pytorch_notes.datasets: the full data when present, else the shipped real sample, else (CIFAR-10) a stand-in."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pytorch_notes.datasets import (CIFAR10_CLASSES, DATA_ENV, SAMPLES, SyntheticImages, cifar10, data_root,
                                    hymenoptera, hymenoptera_folder, mnist)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is not present")


def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert data_root() == Path("data")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_root() == tmp_path and data_root("elsewhere") == Path("elsewhere")
    with pytest.raises(TypeError, match="root"):
        data_root(3)


def test_offline_cifar10_announces_and_mimics_the_interface(tmp_path, capsys):
    dataset = cifar10(train=True, root=tmp_path)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "CIFAR-10" in printed[0] and "synthetic stand-in" in printed[0]
    assert "python -m pytorch_notes data" in printed[0]  # says how to get the real data
    image, label = dataset[0]
    assert isinstance(image, Image.Image) and image.size == (32, 32) and image.mode == "RGB"
    assert dataset.classes == CIFAR10_CLASSES and label == dataset.targets[0]


def test_synthetic_images_are_deterministic_and_transformed():
    to_tensor = lambda image: torch.from_numpy(np.array(image)).permute(2, 0, 1)  # noqa: E731
    a = SyntheticImages(["x", "y"], 10, (8, 6), transform=to_tensor)
    b = SyntheticImages(["x", "y"], 10, (8, 6), transform=to_tensor)
    assert torch.equal(a[3][0], b[3][0]) and a[3][0].shape == (3, 8, 6)
    assert not torch.equal(a[3][0], a[5][0]) and a[3][1] == 1
    assert torch.equal(a[-1][0], a[9][0])
    with pytest.raises(IndexError):
        a[10]


def test_synthetic_images_have_a_learnable_signal():
    data = SyntheticImages(CIFAR10_CLASSES, 400, (32, 32))
    pixels = torch.stack([torch.from_numpy(np.array(data[i][0])).float().flatten() for i in range(len(data))])
    labels = torch.tensor(data.targets)
    train, test = slice(0, 300), slice(300, 400)
    means = torch.stack([pixels[train][labels[train] == c].mean(0) for c in range(10)])
    predicted = torch.cdist(pixels[test], means).argmin(1)
    assert (predicted == labels[test]).float().mean() > 0.9  # chance is 0.1


@pytest.mark.parametrize("kwargs, error", [({"classes": []}, ValueError), ({"size": 0}, ValueError),
                                           ({"mode": "CMYK"}, ValueError)])
def test_synthetic_images_reject_bad_input(kwargs, error):
    with pytest.raises(error):
        SyntheticImages(**{"classes": ["a"], "size": 4, "image_size": (2, 2), **kwargs})


def test_an_empty_data_root_gives_the_real_shipped_samples(tmp_path, capsys, monkeypatch):
    import pytorch_notes.datasets

    monkeypatch.setattr(pytorch_notes.datasets, "_announced_sample", False)
    digits = mnist(train=False, root=tmp_path)
    assert len(digits) == 10_000 and digits[0][1] == 7  # the famous first test digit
    assert digits[0][0].size == (28, 28) and digits[0][0].mode == "L"
    assert torch.bincount(digits.targets).tolist()[:2] == [980, 1135]  # the official test split's counts
    assert capsys.readouterr().out == ""  # the shipped files ARE the official test split: nothing to announce
    train, val = hymenoptera("train", root=tmp_path), hymenoptera("val", root=tmp_path)
    assert train.classes == val.classes == ["ants", "bees"]
    assert [train.targets.count(c) for c in (0, 1)] == [40, 40] and [val.targets.count(c) for c in (0, 1)] == [20, 20]
    image = train[0][0]
    assert image.mode == "RGB" and min(image.size) == 256
    assert capsys.readouterr().out.count("120 real photos shipped") == 1  # announced once per session


def test_the_shipped_mnist_files_are_the_official_ones():
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (SAMPLES / "MNIST" / "raw").iterdir()}
    assert md5 == {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",  # torchvision checks these
                   "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


def test_the_mnist_train_split_is_not_shipped_and_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m pytorch_notes data"):
        mnist(train=True, root=tmp_path)


def test_the_full_data_wins_over_the_shipped_sample(tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "train-images-idx3-ubyte.gz", 2051, bytes(784 * 3), count=3)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", 2049, bytes([4, 2, 9]), count=3)
    assert mnist(train=True, root=tmp_path).targets.tolist() == [4, 2, 9]
    for split in ("train", "val"):
        for name in ("ants", "bees"):
            folder = tmp_path / "hymenoptera_data" / split / name
            folder.mkdir(parents=True)
            Image.new("RGB", (300, 200)).save(folder / "photo.jpg")
    assert hymenoptera_folder(tmp_path) == tmp_path / "hymenoptera_data"
    assert len(hymenoptera("val", root=tmp_path)) == 2
    assert capsys.readouterr().out == ""


def _write_idx(path, magic, payload, count):
    with gzip.open(path, "wb") as f:
        f.write(magic.to_bytes(4, "big") + count.to_bytes(4, "big"))
        if magic == 2051:
            f.write((28).to_bytes(4, "big") * 2)
        f.write(payload)


def test_truncated_or_corrupted_mnist_files_raise(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", 2051, bytes(784 * 2), count=3)  # one image short
    _write_idx(raw / "t10k-labels-idx1-ubyte.gz", 2049, bytes(3), count=3)
    with pytest.raises(ValueError, match="truncated"):
        mnist(train=False, root=tmp_path)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a readable IDX file"):
        mnist(train=False, root=tmp_path)


@pytest.mark.parametrize("call", [lambda: cifar10(train="yes"), lambda: mnist(train=1),
                                  lambda: hymenoptera("test")])
def test_loaders_reject_bad_input(call):
    with pytest.raises((TypeError, ValueError)):
        call()


def test_the_wheel_ships_the_samples_and_they_work_from_it(tmp_path):
    """A fresh install (the wheel, unpacked) teaches on real digits and photos with no data root at all."""
    import subprocess
    import sys
    import zipfile

    import shutil

    root, source = Path(__file__).resolve().parent.parent, tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "src"):  # a copy: setuptools writes build/ beside it
        (shutil.copytree if (root / name).is_dir() else shutil.copy)(root / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("pytorch_notes-*.whl")
    zipfile.ZipFile(wheel).extractall(tmp_path / "installed")
    code = ("import pytorch_notes, pytorch_notes.datasets as d; print(pytorch_notes.__file__); "
            "print(len(d.mnist(train=False)), len(d.hymenoptera('train')), len(d.hymenoptera('val')))")
    (tmp_path / "empty").mkdir()
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "empty", capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "installed")}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(tmp_path / "installed"))  # imported from the wheel, not the source tree
    assert lines[-1] == "10000 80 40" and "120 real photos shipped" in result.stdout
