"""Timing GPU work correctly."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def synchronize(device: str | torch.device) -> None:
    """Wait until every kernel queued on ``device`` has finished (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_op(fn: Callable[[], object], device: str | torch.device = "cpu", repeats: int = 10,
            warmup: int = 2) -> float:
    """Median wall-clock seconds of one call of ``fn`` on ``device``.

    GPU kernels run asynchronously: a call returns as soon as the work is queued.
    So the device is synchronised before the clock starts and before it stops,
    otherwise we would time the queueing, not the work. ``warmup`` calls run
    first and are not timed (the first CUDA call pays for context setup and
    kernel loading).

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: if ``repeats < 1`` or ``warmup < 0``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
