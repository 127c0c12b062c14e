# %% [markdown]
# # TensorBoard basics: scalars, images, event files
# Book page: data/tensorboard

# %%
# --8<-- [start:scalars]
import os
import shutil
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from pytorch_notes.logs import read_scalars

base = Path("runs/tensorboard_basics")
# start clean, so a second run of this page sees the same files
shutil.rmtree(base, ignore_errors=True)

writer = SummaryWriter(log_dir=base / "scalars")
for x in range(100):
    writer.add_scalar("y=2x", 2 * x, global_step=x)  # tag, value, step
writer.close()

event_files = sorted((base / "scalars").glob("events.out.tfevents.*"))
assert len(event_files) == 1 and event_files[0].stat().st_size > 0
# name: events.out.tfevents.<time>.<host>.<pid>.<n>
assert f".{os.getpid()}." in event_files[0].name

# {tag: [(step, value), ...]}, what TensorBoard plots
scalars = read_scalars(base / "scalars")
assert list(scalars) == ["y=2x"]
steps = [step for step, _ in scalars["y=2x"]]
values = [value for _, value in scalars["y=2x"]]
assert steps == list(range(100))
# the tag promises y = 2x: check that it holds
assert values == [2 * step for step in steps]
print(f"{len(event_files)} event file in {base / 'scalars'}")
print("tags:", list(scalars))
print("first points (step, value):", scalars["y=2x"][:4])
# --8<-- [end:scalars]

# %%
# --8<-- [start:sections]
import math


def fake_losses(epoch):
    """A made-up run: the training loss keeps falling, the validation loss
    turns up after epoch 6."""
    train = 2.3 * 0.8**epoch
    return train, train + 0.012 * epoch**2


writer = SummaryWriter(base / "training")
for epoch in range(1, 11):
    train_loss, val_loss = fake_losses(epoch)
    writer.add_scalar("loss/train", train_loss, epoch)
    writer.add_scalar("loss/val", val_loss, epoch)
    writer.add_scalar("accuracy/val", 1 - val_loss / 2.3, epoch)
writer.close()

training = read_scalars(base / "training")
assert sorted(training) == ["accuracy/val", "loss/train", "loss/val"]
# TensorBoard groups charts by this prefix
sections = sorted({tag.split("/")[0] for tag in training})
assert sections == ["accuracy", "loss"]
assert all(
    [step for step, _ in points] == list(range(1, 11))
    for points in training.values()
)
# Values are stored as float32: equal to what we logged up to float32 precision.
assert all(
    math.isclose(value, fake_losses(step)[0], rel_tol=1e-6)
    for step, value in training["loss/train"]
)
# the best epoch, as designed
assert min(training["loss/val"], key=lambda point: point[1])[0] == 6
print("sections:", sections)
for tag, points in sorted(training.items()):
    print(f"{tag:13s} {len(points)} points, last = {points[-1][1]:.4f}")
# --8<-- [end:sections]

# %%
# --8<-- [start:add_scalars]
writer = SummaryWriter(base / "compare")
for epoch in range(1, 11):
    train_loss, val_loss = fake_losses(epoch)
    writer.add_scalars("loss", {"train": train_loss, "val": val_loss}, epoch)
writer.close()

subruns = sorted(
    path.name for path in (base / "compare").iterdir() if path.is_dir()
)
# one folder (and event file) per key: <main_tag>_<key>
assert subruns == ["loss_train", "loss_val"]
# the writer's own event file holds no scalars
assert read_scalars(base / "compare") == {}
for name in subruns:
    curve = read_scalars(base / "compare" / name)
    # the same tag in two runs: TensorBoard overlays them on one chart
    assert list(curve) == ["loss"]
    assert len(curve["loss"]) == 10
# same numbers as before
assert (
    read_scalars(base / "compare" / "loss_val")["loss"] == training["loss/val"]
)
for event_file in sorted((base / "compare").rglob("events.out.tfevents.*")):
    print(event_file.parent.relative_to(base) / "events.out.tfevents.*")
# --8<-- [end:add_scalars]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2))
steps, values = zip(*read_scalars(base / "scalars")["y=2x"])
left.plot(steps, values)
left.set_title("y=2x  (run: scalars)")
for name in ["train", "val"]:
    steps, values = zip(
        *read_scalars(base / "compare" / f"loss_{name}")["loss"]
    )
    right.plot(
        steps, values, marker="o", markersize=3, label=f"compare/loss_{name}"
    )
right.set_title("loss  (two runs on one chart)")
right.legend()
for axis in (left, right):
    axis.set_xlabel("step")
    axis.grid(alpha=0.3)
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:image]
import numpy as np
from PIL import Image

from pytorch_notes.datasets import hymenoptera_folder
from pytorch_notes.logs import read_images

# JPEG files in train/{ants,bees} and val/{ants,bees}
folder = hymenoptera_folder()
ant_path = sorted((folder / "train" / "ants").glob("*.jpg"))[0]
bee_path = sorted((folder / "train" / "bees").glob("*.jpg"))[0]
# convert: a JPEG may also be grayscale or CMYK
ant = Image.open(ant_path).convert("RGB")
bee = Image.open(bee_path).convert("RGB")

# PIL -> NumPy: (height, width, channels), uint8 in [0, 255]
ant_array = np.array(ant)
bee_array = np.array(bee)
assert (
    ant_array.shape == (ant.height, ant.width, 3)
    and ant_array.dtype == np.uint8
)

writer = SummaryWriter(base / "images")
writer.add_image("test", ant_array, 1, dataformats="HWC")
# same tag, next step: a slider in the UI
writer.add_image("test", bee_array, 2, dataformats="HWC")
writer.close()

images = read_images(base / "images")  # {tag: [(step, (height, width)), ...]}
assert images == {"test": [(1, ant_array.shape[:2]), (2, bee_array.shape[:2])]}
print(
    "file:",
    ant_path.relative_to(folder).as_posix(),
    "| as array:",
    ant_array.shape,
    ant_array.dtype,
)
print("logged:", images)
# --8<-- [end:image]

# %%
# --8<-- [start:dataformats]
import io

import torch
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from pytorch_notes import expect_error


def logged_pixels(logdir, tag):
    """The images stored under `tag`, decoded into (H, W, 3) uint8 arrays."""
    events = EventAccumulator(str(logdir), size_guidance={"images": 0})
    events.Reload()
    return [
        np.array(Image.open(io.BytesIO(event.encoded_image_string)))
        for event in events.Images(tag)
    ]


# what ToTensor gives: (C, H, W) in [0, 1]
ant_tensor = torch.from_numpy(ant_array).permute(2, 0, 1).float() / 255

writer = SummaryWriter(base / "formats")
with expect_error(TypeError, "Cannot handle this data type"):
    # default "CHW": the H rows are taken for channels
    writer.add_image("wrong", ant_array, 0)
writer.add_image("hwc", ant_array, 0, dataformats="HWC")
# move channels first instead
writer.add_image("chw_numpy", ant_array.transpose(2, 0, 1), 0)
# a ToTensor-style image needs nothing
writer.add_image("chw_tensor", ant_tensor, 0)
# floats must be in [0, 1]
writer.add_image(
    "float_0_255", ant_array.transpose(2, 0, 1).astype(np.float32), 0
)
writer.close()

# the failed call logged nothing
assert "wrong" not in read_images(base / "formats")
# PNG: exactly our pixels
assert np.array_equal(logged_pixels(base / "formats", "hwc")[0], ant_array)
assert np.array_equal(
    logged_pixels(base / "formats", "chw_numpy")[0], ant_array
)
from_float = logged_pixels(base / "formats", "chw_tensor")[0].astype(int)
# float * 255, cut to uint8: at most one level off
assert np.abs(from_float - ant_array).max() <= 1
saturated = logged_pixels(base / "formats", "float_0_255")[0]
# x * 255, clipped: all white
assert np.array_equal(saturated, np.where(ant_array > 0, 255, 0))
print(f"white pixels: {(saturated == 255).mean():.0%} of the float_0_255 image")
# --8<-- [end:dataformats]

# %%
# --8<-- [start:add_images]
from PIL import ImageOps

paths = (
    sorted((folder / "train" / "ants").glob("*.jpg"))[:5]
    + sorted((folder / "train" / "bees").glob("*.jpg"))[:5]
)
thumbnails = np.stack(
    [
        np.array(ImageOps.fit(Image.open(path).convert("RGB"), (64, 64)))
        for path in paths
    ]
)
# (N, H, W, C) -> (N, C, H, W)
batch = torch.from_numpy(thumbnails).permute(0, 3, 1, 2).float() / 255
assert batch.shape == (10, 3, 64, 64)

writer = SummaryWriter(base / "batches")
with expect_error(AssertionError, "input format are different"):
    writer.add_image("batch", batch, 0)  # add_image takes one image
writer.add_images("batch", batch, 0)  # dataformats="NCHW" by default
writer.close()

# TensorBoard tiles a batch into a grid, 8 images per row
columns = min(len(batch), 8)
rows = math.ceil(len(batch) / columns)
assert read_images(base / "batches") == {
    "batch": [(0, (rows * 64, columns * 64))]
}
print(
    f"{len(batch)} images of 64x64 -> one {rows * 64}x{columns * 64} grid "
    f"({rows} rows of {columns})"
)
# --8<-- [end:add_images]

# %%
# --8<-- [start:reuse]
# the same training script, started twice with the same log_dir
for run in range(2):
    writer = SummaryWriter(base / "reused")
    for step in range(5):
        writer.add_scalar("loss", (1 + run) / (step + 1), step)
    writer.close()

# each writer adds a file
assert len(list((base / "reused").glob("events.out.tfevents.*"))) == 2
mixed = [step for step, _ in read_scalars(base / "reused")["loss"]]
assert sorted(mixed) == sorted(list(range(5)) * 2)  # every step twice ...
assert mixed != sorted(mixed)  # ... so the curve jumps back to step 0 halfway
print("steps read from the reused folder:", mixed)
# --8<-- [end:reuse]

# %%
# --8<-- [start:run_dirs]
import socket
from datetime import datetime

for run in range(2):
    # a new folder per run
    run_dir = base / "by_time" / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    writer = SummaryWriter(run_dir)
    for step in range(5):
        writer.add_scalar("loss", (1 + run) / (step + 1), step)
    writer.close()

run_dirs = sorted((base / "by_time").iterdir())
assert len(run_dirs) == 2
for run_dir in run_dirs:
    # one clean curve each
    assert [step for step, _ in read_scalars(run_dir)["loss"]] == list(range(5))
print(f"{len(run_dirs)} runs in {base / 'by_time'}, one clean curve each")

# With no log_dir at all, PyTorch picks a fresh folder per run too:
# runs/<Mon><DD>_<hh-mm-ss>_<host>.
default = SummaryWriter()
default.close()
assert Path(default.log_dir).parent == Path("runs")
assert Path(default.log_dir).name.endswith("_" + socket.gethostname())
shutil.rmtree(default.log_dir)  # only a demonstration: remove it again
# --8<-- [end:run_dirs]

# %%
# --8<-- [start:flush]
import inspect

defaults = {
    name: parameter.default
    for name, parameter in inspect.signature(SummaryWriter).parameters.items()
}
assert defaults["max_queue"] == 10 and defaults["flush_secs"] == 120

writer = SummaryWriter(base / "live")
for step in range(3):
    # queued; a background thread writes it
    writer.add_scalar("loss", 1 / (step + 1), step)
writer.flush()  # wait until everything queued is in the file
assert len(read_scalars(base / "live")["loss"]) == 3

writer.add_scalar("loss", 1 / 4, 3)  # after flush() the writer keeps working
writer.close()  # flush, stop the thread, close the file
assert len(read_scalars(base / "live")["loss"]) == 4

# after close() this does not fail: it opens a new event file
writer.add_scalar("loss", 1 / 5, 4)
writer.close()
assert len(list((base / "live").glob("events.out.tfevents.*"))) == 2

# closed at the end of the block, even on an error
with SummaryWriter(base / "with") as writer:
    writer.add_scalar("loss", 1.0, 0)
assert read_scalars(base / "with") == {"loss": [(0, 1.0)]}
print(
    "after flush: 3 points; after close: 4 points; "
    "logging after close: a 2nd event file"
)
# --8<-- [end:flush]
