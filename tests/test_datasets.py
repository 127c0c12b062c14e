"""pytorch_notes.datasets: real data when present, a clear synthetic fallback otherwise."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pytorch_notes.datasets import (CIFAR10_CLASSES, DATA_ENV, SyntheticImages, cifar10, data_root,
                                    hymenoptera, mnist)

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
    dataset = cifar10(train=True, root=tmp_path)  # the download is refused by the offline guard
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "CIFAR-10" in printed[0] and "synthetic stand-in" in printed[0]
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


def test_offline_mnist_and_hymenoptera_fall_back(tmp_path, capsys):
    digits, insects = mnist(train=True, root=tmp_path), hymenoptera("val", root=tmp_path)
    assert digits[0][0].mode == "L" and digits[0][0].size == (28, 28) and len(digits.classes) == 10
    assert insects.classes == ["ants", "bees"] and insects[0][0].size == (224, 224)
    assert capsys.readouterr().out.count("synthetic stand-in") == 2


@needs_shared
def test_real_mnist_test_digits_from_the_shared_folder():
    digits = mnist(train=False, root=SHARED)
    assert len(digits) == 10_000 and digits[0][1] == 7  # the famous first test digit
    image = digits[0][0]
    assert image.size == (28, 28) and image.mode == "L" and np.asarray(image).max() == 255


@needs_shared
def test_real_hymenoptera_subset_from_the_shared_folder():
    train = hymenoptera("train", root=SHARED)
    assert train.classes == ["ants", "bees"] and len(train) == 80
    assert train[0][0].mode == "RGB"


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


def test_hymenoptera_folder_writes_a_standin_once(tmp_path, capsys):
    from pytorch_notes.datasets import hymenoptera_folder

    folder = hymenoptera_folder(tmp_path, synthetic_size=6)
    assert "synthetic stand-in" in capsys.readouterr().out
    assert sorted(p.relative_to(folder).parts[:2] for p in folder.rglob("*.jpg")) == (
        [("train", "ants")] * 3 + [("train", "bees")] * 3 + [("val", "ants")] * 3 + [("val", "bees")] * 3)
    first = (folder / "train" / "ants" / "train_0000.jpg").stat().st_mtime_ns
    assert hymenoptera_folder(tmp_path, synthetic_size=6) == folder
    assert (folder / "train" / "ants" / "train_0000.jpg").stat().st_mtime_ns == first


@needs_shared
def test_hymenoptera_folder_prefers_the_real_images():
    from pytorch_notes.datasets import hymenoptera_folder

    folder = hymenoptera_folder(SHARED)
    assert folder.name == "hymenoptera_subset" and len(list((folder / "train" / "ants").glob("*.jpg"))) == 40
