"""Datasets that work offline, on real data wherever real data can be had.

Every loader looks under a data root: the ``root`` argument, else the
``PYTORCH_NOTES_DATA`` environment variable, else ``data/``. Three tiers, in order:

1. the full dataset under the data root (``python -m pytorch_notes data``
   downloads it where there is a network);
2. else the real sample that ships inside this package (``samples/``): the
   official MNIST test split (10,000 digits) and 120 photos of ants and bees;
3. else, only for CIFAR-10 (too big to ship), a deterministic synthetic
   stand-in with the same interface, announced by one printed line.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

DATA_ENV = "PYTORCH_NOTES_DATA"
SAMPLES = Path(__file__).resolve().parent / "samples"  # real data shipped with the package
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MNIST_CLASSES = [f"{digit} - {name}" for digit, name in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder datasets are read from: ``root``, else ``$PYTORCH_NOTES_DATA``, else ``data/``."""
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path or None, got {type(root).__name__}")
    return Path(root if root is not None else os.environ.get(DATA_ENV, "data"))


class SyntheticImages(Dataset):
    """A deterministic stand-in for an image-classification dataset.

    Image ``i`` is built from a generator seeded with ``(seed, i)``: the same
    index always gives the same image. Its class is ``i % len(classes)``.

    Args:
        classes: the class names.
        size: number of images.
        image_size: ``(height, width)``.
        mode: PIL mode, ``"RGB"`` or ``"L"``.
        transform: applied to each PIL image, as in torchvision datasets.
        seed: changes every image.
    """

    def __init__(self, classes: list[str], size: int, image_size: tuple[int, int], mode: str = "RGB",
                 transform: Callable | None = None, seed: int = 0):
        if not classes:
            raise ValueError("classes must not be empty")
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if mode not in ("RGB", "L"):
            raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
        self.classes = list(classes)
        self.targets = [i % len(self.classes) for i in range(size)]
        self.image_size = tuple(image_size)
        self.mode = mode
        self.transform = transform
        self.seed = seed

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index %= len(self)
        label = self.targets[index]
        height, width = self.image_size
        channels = 3 if self.mode == "RGB" else 1
        rng = np.random.default_rng([self.seed, index])
        hue = np.random.default_rng([self.seed, 10_000 + label]).uniform(0.2, 0.8, channels)
        rows = np.arange(height)[:, None]
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (label + 1) * rows / height + rng.uniform(0, 0.5))
        pixels = hue * stripes[..., None] + rng.normal(0, 0.15, (height, width, channels))
        pixels = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        image = Image.fromarray(pixels[..., 0] if self.mode == "L" else pixels, mode=self.mode)
        return (self.transform(image) if self.transform else image), label


def cifar10(train: bool = True, transform: Callable | None = None, root: str | os.PathLike | None = None,
            synthetic_size: int = 1000) -> Dataset:
    """CIFAR-10 (32×32 RGB, 10 classes) from ``<root>/cifar-10-batches-py``, or a synthetic stand-in.

    The stand-in (``synthetic_size`` images) is announced by one printed line
    that says how to get the real data; nothing is downloaded here.

    Raises:
        TypeError: if ``train`` is not a bool.
    """
    from torchvision.datasets import CIFAR10

    if not isinstance(train, bool):
        raise TypeError(f"train must be a bool, got {type(train).__name__}")
    folder = data_root(root)
    try:
        return CIFAR10(folder, train=train, transform=transform, download=False)
    except RuntimeError:  # "Dataset not found or corrupted"
        print(f"[pytorch_notes] CIFAR-10: no real data in {folder}; using a synthetic stand-in "
              f"({synthetic_size} striped images, not photos). Real data: python -m pytorch_notes data")
    return SyntheticImages(CIFAR10_CLASSES, synthetic_size, (32, 32), "RGB", transform, seed=int(train))


class IdxMNIST(Dataset):
    """MNIST read straight from its IDX files (``*-images-idx3-ubyte[.gz]`` and labels).

    torchvision's ``MNIST`` insists on all four files of both splits; this reads
    one split, e.g. the official test split alone.
    """

    def __init__(self, images: Path, labels: Path, transform: Callable | None = None):
        self.data = torch.from_numpy(_read_idx(images, magic=2051)).view(-1, 28, 28)
        self.targets = torch.from_numpy(_read_idx(labels, magic=2049)).long()
        if len(self.data) != len(self.targets):
            raise ValueError(f"{images.name} has {len(self.data)} images but {labels.name} "
                             f"has {len(self.targets)} labels")
        self.classes = MNIST_CLASSES
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.data[index].numpy(), mode="L")
        return (self.transform(image) if self.transform else image), int(self.targets[index])


def _read_idx(path: Path, magic: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable IDX file: {error}") from error
    header = 16 if magic == 2051 else 8
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise ValueError(f"{path} is not an IDX file with magic number {magic} (corrupted or wrong file)")
    count = int.from_bytes(raw[4:8], "big")
    expected = count * (784 if magic == 2051 else 1)
    if len(raw) - header != expected:
        raise ValueError(f"{path} is truncated: header says {count} items, "
                         f"found {len(raw) - header} of {expected} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).copy()


def mnist(train: bool = True, transform: Callable | None = None,
          root: str | os.PathLike | None = None) -> IdxMNIST:
    """MNIST (28×28 grayscale digits) from ``<root>/MNIST/raw``, else the test split shipped here.

    Reads the IDX files of the requested split (``train-*`` or ``t10k-*``,
    gzip-compressed or not). The package ships the official test split
    (``train=False``, 10,000 digits); the 60,000 training digits come with
    ``python -m pytorch_notes data``.

    Raises:
        TypeError: if ``train`` is not a bool.
        FileNotFoundError: if the split is in neither place (only ``train=True`` can be).
        ValueError: if the files are corrupted or truncated.
    """
    if not isinstance(train, bool):
        raise TypeError(f"train must be a bool, got {type(train).__name__}")
    prefix = "train" if train else "t10k"
    folders = [data_root(root) / "MNIST" / "raw", SAMPLES / "MNIST" / "raw"]
    for raw in folders:
        for suffix in ("", ".gz"):
            images = raw / f"{prefix}-images-idx3-ubyte{suffix}"
            labels = raw / f"{prefix}-labels-idx1-ubyte{suffix}"
            if images.is_file() and labels.is_file():
                return IdxMNIST(images, labels, transform)
    raise FileNotFoundError(
        f"no MNIST {prefix}-*-ubyte files in {folders[0]}. pytorch_notes ships only the test split: "
        "use mnist(train=False), or get all of MNIST with: python -m pytorch_notes data")


_announced_sample = False


def hymenoptera_folder(root: str | os.PathLike | None = None) -> Path:
    """The ants-vs-bees photos on disk, laid out as ``train/{ants,bees}`` and ``val/{ants,bees}``.

    The full ``hymenoptera_data`` (about 240 training and 150 validation photos) under the data root when it
    is there; else the 120-photo sample shipped with this package (announced
    by one printed line, once per session). Read it; don't write into it.
    """
    global _announced_sample
    full = data_root(root) / "hymenoptera_data"
    if all((full / split).is_dir() for split in ("train", "val")):
        return full
    if not _announced_sample:  # once per session
        print("[pytorch_notes] ants/bees: using the 120 real photos shipped with pytorch_notes "
              "(the full set: python -m pytorch_notes data)")
        _announced_sample = True
    return SAMPLES / "hymenoptera"


def hymenoptera(split: str = "train", transform: Callable | None = None,
                root: str | os.PathLike | None = None) -> Dataset:
    """The ants-vs-bees photos of ``split`` (``"train"`` or ``"val"``) as an ``ImageFolder``.

    From :func:`hymenoptera_folder`: the full set when present, else the shipped sample.
    """
    from torchvision.datasets import ImageFolder

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return ImageFolder(hymenoptera_folder(root) / split, transform=transform)


BOOK_TEXT = SAMPLES / "book_text.txt"


def book_text() -> str:
    """The prose of this book's own pages, in English and Chinese, as one string (a few hundred KB).

    Real text that ships with the package, for training small language models
    offline. ``tools/make_text_sample.py`` extracted it from the pages: the
    opening paragraphs of every chapter, code, math and markup removed, one
    paragraph per line, each English page followed by its Chinese twin. Encode
    it (``text.encode("utf-8")``) for a byte-level model: an English letter is
    one byte, a Chinese character three.

    Returns:
        The text, decoded from UTF-8.

    Raises:
        FileNotFoundError: if the package was installed without its samples.
    """
    if not BOOK_TEXT.is_file():
        raise FileNotFoundError(f"{BOOK_TEXT} is missing: reinstall pytorch_notes with its samples, "
                                "or run tools/make_text_sample.py in the book's repository")
    return BOOK_TEXT.read_text(encoding="utf-8")
