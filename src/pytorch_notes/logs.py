"""Reading TensorBoard event files back, to check what a run logged."""

from __future__ import annotations

import os
from pathlib import Path

from pytorch_notes._checks import check_type


def _accumulator(logdir: str | os.PathLike):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    check_type("logdir", logdir, (str, os.PathLike), "a path")
    if not any(Path(logdir).glob("events.out.tfevents.*")):
        raise FileNotFoundError(f"no TensorBoard event files in {logdir} "
                                "(did the SummaryWriter write there, and was it closed or flushed?)")
    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def read_scalars(logdir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Every scalar logged in ``logdir``: ``{tag: [(step, value), ...]}`` in step order.

    Uses TensorBoard's own event reader, so what it returns is what the
    TensorBoard UI would plot. Values come back as float32, as stored.

    Raises:
        TypeError: if ``logdir`` is not a path.
        FileNotFoundError: if ``logdir`` holds no event file.
    """
    accumulator = _accumulator(logdir)
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def read_images(logdir: str | os.PathLike) -> dict[str, list[tuple[int, tuple[int, int]]]]:
    """Every image logged in ``logdir``: ``{tag: [(step, (height, width)), ...]}``.

    ``add_images`` stores a whole batch as one grid image, so its size is the
    grid's, not one image's.

    Raises:
        TypeError: if ``logdir`` is not a path.
        FileNotFoundError: if ``logdir`` holds no event file.
    """
    accumulator = _accumulator(logdir)
    return {tag: [(event.step, (event.height, event.width)) for event in accumulator.Images(tag)]
            for tag in accumulator.Tags()["images"]}
