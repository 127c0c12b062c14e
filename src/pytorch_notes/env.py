"""Seeding, device choice and an environment report."""

from __future__ import annotations

import platform
import random

import numpy as np
import torch

from pytorch_notes._checks import check_int, check_type

DEVICE_TYPES = ("cpu", "cuda", "mps")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators (CPU and all GPUs).

    Args:
        seed: a non-negative integer below 2**32.

    Raises:
        TypeError: if ``seed`` is not an int.
        ValueError: if ``seed`` is negative or too large for NumPy.
    """
    check_int("seed", seed, 0, 2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def available_devices() -> list[str]:
    """The device types this machine can run tensors on, CPU first: e.g. ``['cpu', 'cuda']``."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def pick_device(preferred: str | None = None) -> torch.device:
    """The device to train on: ``preferred`` if given, else CUDA, then MPS, then CPU.

    Args:
        preferred: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, or ``None`` for the best available.

    Raises:
        TypeError: if ``preferred`` is not a string or None.
        ValueError: if ``preferred`` is not a known device type or is not available here.
    """
    if preferred is None:
        best = next((d for d in ("cuda", "mps") if d in available_devices()), "cpu")
        return torch.device(best)
    check_type("preferred", preferred, str, "a str or None")
    device_type = preferred.split(":")[0]
    if device_type not in DEVICE_TYPES:
        raise ValueError(f"unknown device {preferred!r}; expected one of {', '.join(DEVICE_TYPES)}")
    if device_type not in available_devices():
        raise ValueError(f"device {preferred!r} is not available here; available: {available_devices()}")
    device = torch.device(preferred)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{preferred!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def environment_report() -> dict[str, str]:
    """Versions and devices, plus a tiny matrix product run on every available device.

    Returns a dict of ``name -> value`` strings, the same lines
    ``python -m pytorch_notes`` prints.
    """
    import torchvision

    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda available": str(torch.cuda.is_available()),
        "cuda build": str(torch.version.cuda),
        "mps available": str(torch.backends.mps.is_available()),
    }
    if torch.cuda.is_available():
        report["gpu"] = torch.cuda.get_device_name(0)
    for device in available_devices():
        x = torch.ones(2, 2, device=device)
        report[f"tiny op on {device}"] = "ok" if (x @ x).sum().item() == 8.0 else "WRONG RESULT"
    return report
