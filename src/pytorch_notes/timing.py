"""Timing GPU work correctly."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from pytorch_notes._checks import check_int, check_type


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
        TypeError: if ``fn`` is not callable, or ``repeats``/``warmup`` is not an int.
        ValueError: if ``repeats < 1`` or ``warmup < 0``.
    """
    check_type("fn", fn, Callable, "callable")
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
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
