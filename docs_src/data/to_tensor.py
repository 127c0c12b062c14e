# %% [markdown]
# # ToTensor: from a picture to a float tensor
# Book page: data/to-tensor

# %%
# --8<-- [start:pil]
import numpy as np
import torch
from PIL import Image

from pytorch_notes.datasets import hymenoptera

dataset = hymenoptera("train")
image, label = dataset[0]
width, height = image.size  # PIL: (width, height)
pixels = np.array(image)  # NumPy: (height, width, channels), a writable copy

assert dataset.classes[label] == "ants"  # the first photo of the train folder
assert image.mode == "RGB" and width > height  # landscape: W, H and H, W differ
assert pixels.shape == (height, width, 3) and pixels.dtype == np.uint8
# the order flips, always
assert np.array(Image.new("RGB", (40, 30))).shape == (30, 40, 3)
print(
    f"class: {dataset.classes[label]}, PIL size (W, H): {image.size}, "
    f"NumPy shape (H, W, C): {pixels.shape}"
)
# --8<-- [end:pil]

# %%
# --8<-- [start:to-tensor]
from torchvision import transforms

to_tensor = transforms.ToTensor()
tensor = to_tensor(image)

assert tensor.shape == (3, height, width)  # channels first: (C, H, W)
assert tensor.dtype == torch.float32
assert 0.0 <= tensor.min() and tensor.max() <= 1.0
# Every value is pixel / 255, exactly, with the channel axis moved to the front.
assert torch.equal(
    tensor, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
)
row, col = height // 2, width // 3
assert torch.equal(
    tensor[:, row, col],
    torch.tensor(pixels[row, col] / 255, dtype=torch.float32),
)
print(
    "tensor:",
    tuple(tensor.shape),
    tensor.dtype,
    f"range [{tensor.min():.3f}, {tensor.max():.3f}]",
)
scaled = [round(v, 4) for v in tensor[:, row, col].tolist()]
print(f"pixel at row {row}, col {col}: {pixels[row, col].tolist()} -> {scaled}")
# --8<-- [end:to-tensor]

# %%
# --8<-- [start:channels]
import matplotlib.pyplot as plt

red, green, blue = tensor.mean(dim=(1, 2))  # mean brightness of each plane
assert blue > red + 0.3  # mostly blue background: bright in B, dark in R

fig, axes = plt.subplots(2, 2, figsize=(7, 5))
axes = axes.flatten()  # the 2 x 2 grid, row by row
axes[0].imshow(tensor.permute(1, 2, 0).numpy())  # matplotlib wants (H, W, C)
axes[0].set_title("image")
for axis, channel, name in zip(axes[1:], tensor, ["R", "G", "B"]):
    axis.imshow(channel.numpy(), cmap="gray", vmin=0, vmax=1)
    axis.set_title(f"channel {name}")
for axis in axes:
    axis.axis("off")
fig.tight_layout()
# --8<-- [end:channels]

# %%
# --8<-- [start:numpy]
from pytorch_notes import expect_error

# an HWC uint8 array gives the same tensor
assert torch.equal(to_tensor(pixels), tensor)

# cv2.imread returns the same kind of array, but in B, G, R order.
bgr = pixels[..., ::-1]  # what cv2 would give: the last axis reversed
assert np.array_equal(bgr[..., 0], pixels[..., 2]) and np.array_equal(
    bgr[..., 2], pixels[..., 0]
)

with expect_error(ValueError, "negative"):
    # a reversed view has a negative stride; torch.from_numpy refuses it
    to_tensor(bgr)
bgr_tensor = to_tensor(bgr.copy())
# channel 0 is now blue: not the RGB tensor
assert torch.equal(bgr_tensor, tensor.flip(0))
# flip back (cv2.cvtColor BGR2RGB)
assert torch.equal(to_tensor(bgr[..., ::-1].copy()), tensor)
print(
    f"pixel at row {row}, col {col}: RGB {pixels[row, col].tolist()}, "
    f"BGR {bgr[row, col].tolist()}"
)
# --8<-- [end:numpy]

# %%
# --8<-- [start:float-gray]
as_float = pixels.astype(np.float32)
not_scaled = to_tensor(as_float)
assert not_scaled.max() > 1.0  # a float array is NOT divided by 255 ...
# ... only transposed
assert torch.equal(not_scaled, torch.from_numpy(as_float).permute(2, 0, 1))
# and its dtype is kept: NumPy divides in float64
assert to_tensor(pixels / 255).dtype == torch.float64
print("float32 array ->", not_scaled.dtype, f"max {not_scaled.max():.0f}")

gray_image = image.convert("L")
gray = to_tensor(gray_image)
assert gray.shape == (1, height, width)  # one channel, still (C, H, W)
# a 2-D (H, W) array gets C = 1 too
assert torch.equal(to_tensor(np.array(gray_image)), gray)
# PIL's "L" is the ITU-R 601 luma, rounded to an integer level.
luma = 0.299 * tensor[0] + 0.587 * tensor[1] + 0.114 * tensor[2]
assert (gray[0] - luma).abs().max() < 0.6 / 255
print("grayscale:", tuple(gray.shape))
# --8<-- [end:float-gray]

# %%
# --8<-- [start:v2]
from torchvision import tv_tensors
from torchvision.transforms import v2

to_float_image = v2.Compose(
    [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
)
modern = to_float_image(image)

# a tensor subclass
assert isinstance(modern, tv_tensors.Image) and isinstance(modern, torch.Tensor)
assert modern.shape == tensor.shape and modern.dtype == torch.float32
# ToDtype multiplies by 1/255 where ToTensor divides by 255: equal up to one
# float32 step.
assert torch.allclose(modern, tensor, rtol=0, atol=1e-7)
# the same 0..255 levels
assert torch.equal((modern * 255).round(), (tensor * 255).round())

# every byte value once
all_levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
by_division, by_multiplication = (
    to_tensor(all_levels),
    to_float_image(all_levels),
)
differ = (by_division != by_multiplication).sum().item()
assert (
    64 < differ < 192
    and (by_division - by_multiplication).abs().max() <= 2**-24
)
print(f"levels that differ from ToTensor: {differ} of 256, by at most 2**-24")

# without ToDtype: CHW, but still uint8 0..255
uint8_image = v2.ToImage()(image)
assert uint8_image.dtype == torch.uint8
assert torch.equal(uint8_image, torch.from_numpy(pixels).permute(2, 0, 1))
# --8<-- [end:v2]

# %%
# --8<-- [start:read-image]
import warnings
from pathlib import Path

import torchvision
from torchvision.io import decode_image, read_image

Path("data").mkdir(exist_ok=True)
path = "data/to_tensor_example.png"
image.save(path)  # PNG is lossless: the file holds exactly these pixels

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    decoded = decode_image(path)
    decoded_by_old_name = read_image(path)
version = tuple(int(part) for part in torchvision.__version__.split(".")[:2])
warned = any("TorchCodec" in str(w.message) for w in caught)
assert warned == (version >= (0, 29))  # deprecated from torchvision 0.29 on
assert torch.equal(decoded_by_old_name, decoded)
assert decoded.shape == (3, height, width) and decoded.dtype == torch.uint8
assert torch.equal(decoded, (tensor * 255).round().to(torch.uint8))
assert torch.allclose(
    v2.ToDtype(torch.float32, scale=True)(decoded), tensor, rtol=0, atol=1e-7
)
print("decode_image:", tuple(decoded.shape), decoded.dtype)
print(f"torchvision {torchvision.__version__}: deprecation warning: {warned}")
# --8<-- [end:read-image]

# %%
# --8<-- [start:back]
to_pil = transforms.ToPILImage()
back = to_pil(tensor)
assert back.mode == "RGB" and back.size == image.size
# the uint8 -> float -> uint8 trip is exact
assert np.array_equal(np.array(back), pixels)

# ToPILImage computes (x * 255).byte(), which truncates; it still works because
# k / 255 * 255 lands exactly on k in float32 for every level k.
levels = torch.arange(256, dtype=torch.uint8)
assert torch.equal((levels.float() / 255 * 255).byte(), levels)
print("round trip exact:", np.array_equal(np.array(back), pixels))
# --8<-- [end:back]

# %%
# --8<-- [start:why-float]
import torch.nn as nn

torch.manual_seed(0)
conv = nn.Conv2d(3, 8, kernel_size=3)  # weights are float32
batch = tensor.unsqueeze(0)  # (1, 3, H, W): a batch of one image
assert conv(batch).shape == (1, 8, height - 2, width - 2)

with expect_error(RuntimeError, "should be the same"):
    conv(uint8_image.unsqueeze(0))  # raw bytes
with expect_error(RuntimeError, "should be the same"):
    conv(to_tensor(pixels / 255).unsqueeze(0))  # float64 from NumPy
# --8<-- [end:why-float]

# %%
# --8<-- [start:tensorboard]
import shutil

from torch.utils.tensorboard import SummaryWriter

from pytorch_notes.logs import read_images

# a rerun starts from an empty log
shutil.rmtree("runs/to_tensor", ignore_errors=True)
writer = SummaryWriter("runs/to_tensor")
# (C, H, W) float in [0, 1]: the default
writer.add_image("ToTensor", tensor, global_step=0)
# uint8 (H, W, C): say so
writer.add_image("NumPy", pixels, global_step=0, dataformats="HWC")
with expect_error(TypeError, "Cannot handle this data type"):
    # read as (C=H, H=W, W=3)
    writer.add_image("NumPy, no dataformats", pixels, global_step=0)
writer.close()

logged = read_images("runs/to_tensor")
assert sorted(logged) == ["NumPy", "ToTensor"]
assert logged["ToTensor"] == logged["NumPy"] == [(0, (height, width))]
print(logged)
# --8<-- [end:tensorboard]
