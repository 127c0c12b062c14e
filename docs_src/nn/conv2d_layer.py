# %% [markdown]
# # nn.Conv2d layers: weights, initialisation, feature maps and TensorBoard
# Book page: nn/conv2d-layer

# %%
# --8<-- [start:batch]
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import ToTensor
from pytorch_notes.datasets import cifar10

test_set = cifar10(train=False, transform=ToTensor())
# no shuffling: the same batches on every run
loader = DataLoader(test_set, batch_size=64)
images, labels = next(iter(loader))
assert images.shape == (64, 3, 32, 32) and images.dtype == torch.float32
# ToTensor maps bytes 0..255 to [0, 1]
assert images.min() >= 0 and images.max() <= 1
assert labels.shape == (64,)
# a second pass starts with the same batch
assert torch.equal(next(iter(loader))[0], images)
print("images:", tuple(images.shape), " labels:", tuple(labels.shape))
# --8<-- [end:batch]

# %%
# --8<-- [start:layer]
import torch.nn as nn


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


torch.manual_seed(0)
conv1 = nn.Conv2d(
    in_channels=3, out_channels=6, kernel_size=3, stride=1, padding=0
)
assert conv1.weight.shape == (6, 3, 3, 3)  # (out_channels, in_channels, kH, kW)
assert conv1.bias.shape == (6,)  # one bias per output channel
n_parameters = sum(p.numel() for p in conv1.parameters())
assert n_parameters == 6 * 3 * 3 * 3 + 6 == 168

output = conv1(images)
side = conv_output_size(32, kernel_size=3)  # (32 + 0 - 2 - 1) // 1 + 1 = 30
assert side == 30 and output.shape == (64, 6, side, side)
# same 168 weights, any image size
assert conv1(torch.zeros(1, 3, 64, 64)).shape == (1, 6, 62, 62)
print(conv1)
print("parameters:", n_parameters)
print("input", tuple(images.shape), "-> output", tuple(output.shape))
# --8<-- [end:layer]

# %%
# --8<-- [start:functional]
import torch.nn.functional as F

assert [name for name, _ in conv1.named_parameters()] == ["weight", "bias"]
assert torch.equal(
    conv1(images),
    F.conv2d(images, conv1.weight, conv1.bias, stride=1, padding=0),
)
# the output remembers how to reach the weights
assert conv1.weight.requires_grad and output.requires_grad
print("conv1(x) == F.conv2d(x, conv1.weight, conv1.bias)")
# --8<-- [end:functional]

# %%
# --8<-- [start:init]
import math

fan_in = conv1.in_channels * 3 * 3  # inputs that one output pixel sees: 27
bound = 1 / math.sqrt(fan_in)
# reset_parameters: kaiming_uniform_(a=sqrt(5))
gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
assert math.isclose(gain, math.sqrt(1 / 3))
# kaiming's bound = gain * sqrt(3 / fan_in)
assert math.isclose(gain * math.sqrt(3 / fan_in), bound)
assert conv1.weight.abs().max() <= bound and conv1.bias.abs().max() <= bound
# the bound is reached, not only respected
assert conv1.weight.abs().max() > 0.9 * bound

# The whole initialisation is two uniform draws, weight first, then bias.
torch.manual_seed(0)
weight = torch.empty(6, 3, 3, 3).uniform_(-bound, bound)
bias = torch.empty(6).uniform_(-bound, bound)
assert torch.allclose(conv1.weight, weight) and torch.allclose(conv1.bias, bias)

torch.manual_seed(0)
# same seed, same layer
assert torch.equal(nn.Conv2d(3, 6, 3).weight, conv1.weight)
# the generator has moved on
assert not torch.equal(nn.Conv2d(3, 6, 3).weight, conv1.weight)
print(
    f"bound = 1/sqrt({fan_in}) = {bound:.4f}, "
    f"largest |weight| = {conv1.weight.abs().max():.4f}"
)
# --8<-- [end:init]

# %%
# --8<-- [start:by_hand]
n, o, i, j = 5, 2, 10, 17  # image 5, output channel 2, row 10, column 17
# (3, 3, 3): the 3x3 window in all three input channels
patch = images[n, :, i : i + 3, j : j + 3]
# R, G and B contributions
per_channel = [(patch[c] * conv1.weight[o, c]).sum() for c in range(3)]
by_hand = sum(per_channel) + conv1.bias[o]
assert torch.allclose(by_hand, output[n, o, i, j], atol=1e-6)

# All 6 channels at that pixel: one matrix-vector product, (6, 27) @ (27,) +
# (6,).
all_channels = conv1.weight.reshape(6, 27) @ patch.reshape(27) + conv1.bias
assert torch.allclose(all_channels, output[n, :, i, j], atol=1e-6)
print(
    "per input channel:",
    [round(v.item(), 4) for v in per_channel],
    "+ bias",
    round(conv1.bias[o].item(), 4),
)
print(
    "by hand:",
    round(by_hand.item(), 4),
    " conv1:",
    round(output[n, o, i, j].item(), 4),
)
# --8<-- [end:by_hand]

# %%
# --8<-- [start:sobel]
sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
# RGB -> grey weights (ITU-R BT.601), they sum to 1
luminance = torch.tensor([0.299, 0.587, 0.114])

edge_layer = nn.Conv2d(3, 1, kernel_size=3, bias=False)
# overwrite the random weights: no gradient should record this
with torch.no_grad():
    # (1, 3, 3, 3)
    edge_layer.weight.copy_(luminance.reshape(1, 3, 1, 1) * sobel_x)

# Summing over input channels makes this layer "grey conversion, then Sobel".
# (64, 1, 32, 32)
grey = (luminance.reshape(1, 3, 1, 1) * images).sum(dim=1, keepdim=True)
with torch.no_grad():
    edges = edge_layer(images)
assert torch.allclose(
    edges, F.conv2d(grey, sobel_x.reshape(1, 1, 3, 3)), atol=1e-5
)

# A synthetic vertical edge: black left half, white right half.
step = torch.zeros(1, 3, 32, 32)
step[..., 16:] = 1.0
with torch.no_grad():
    # (30, 30); output column j reads input columns j..j+2
    response = edge_layer(step)[0, 0]
# windows across the edge: 1 + 2 + 1
assert torch.allclose(response[:, 14:16], torch.tensor(4.0))
# flat: nothing
assert (
    response[:, :14].abs().max() < 1e-6 and response[:, 16:].abs().max() < 1e-6
)
with torch.no_grad():
    turned = edge_layer(step.transpose(2, 3))[0, 0]  # the same edge, horizontal
assert turned.abs().max() < 1e-6  # a vertical-edge detector does not see it
print(
    "response along row 0 of the step image:",
    [round(v, 2) for v in response[0, 10:20].tolist()],
)
# --8<-- [end:sobel]

# %%
# --8<-- [start:figure]
import matplotlib.pyplot as plt

panels = [(images[0].permute(1, 2, 0), "input")]
panels += [(output[0, c].detach(), f"channel {c}") for c in range(6)]
panels += [(edges[0, 0], "Sobel x")]
fig, axes = plt.subplots(2, 4, figsize=(7, 3.8))
for axis, (picture, title) in zip(axes.flat, panels):
    # each map scaled to its own min..max
    axis.imshow(picture.numpy(), cmap="gray")
    axis.set_title(title, fontsize=9)
    axis.axis("off")
fig.tight_layout()
# --8<-- [end:figure]

# %%
# --8<-- [start:tb_refused]
import io
import shutil

import numpy as np
from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import image as image_summary
from pytorch_notes import expect_error

# a rerun starts from an empty log
shutil.rmtree("runs/conv2d_layer", ignore_errors=True)
writer = SummaryWriter("runs/conv2d_layer")
with torch.no_grad():
    output = conv1(images)  # (64, 6, 30, 30)

# 6 channels: neither grey (1) nor RGB (3). (torch 2.6 gives no message.)
with expect_error(AssertionError):
    writer.add_images("conv1/output", output, 0)

# The original notes' fix: pretend the 64 x 6 channels are 128 RGB images.
fake_rgb = torch.reshape(output, (-1, 3, 30, 30))
assert fake_rgb.shape == (128, 3, 30, 30)
# "image" 0 = channels 0, 1, 2 of image 0 as R, G, B
assert torch.equal(fake_rgb[0], output[0, 0:3])
# "image" 1 = channels 3, 4, 5 of image 0
assert torch.equal(fake_rgb[1], output[0, 3:6])
# "image" 2 = channels 0, 1, 2 of image 1
assert torch.equal(fake_rgb[2], output[1, 0:3])
writer.add_images("seed/output_as_rgb", fake_rgb, 0)

# Float images are stored as bytes: value * 255, clipped to 0..255. Negative
# activations turn black.
summary = image_summary(
    "pixels", torch.tensor([[[-0.5, 0.0, 0.5, 1.0, 1.5]]]), dataformats="CHW"
)
stored = np.array(
    Image.open(io.BytesIO(summary.value[0].image.encoded_image_string))
)
# -0.5 looks like 0, 1.5 like 1
assert stored[0, :, 0].tolist() == [0, 0, 127, 255, 255]
assert output.min() < 0

with expect_error(RuntimeError, "is invalid for input of size"):
    # 64 x 16 channels: not a multiple of 3
    torch.reshape(nn.Conv2d(3, 16, 3)(images), (-1, 3, 30, 30))
print(f"conv1 output values lie in [{output.min():.2f}, {output.max():.2f}]")
# write what is queued now: the writer stays open for the next section
writer.flush()
# --8<-- [end:tb_refused]

# %%
# --8<-- [start:tb_log]
from pytorch_notes.logs import read_images


def channels_as_grey(feature_maps, k=8):
    """(N, C, H, W) -> (C * k, 1, H, W): channel c of images 0..k-1,
    each channel scaled to [0, 1]."""
    # (C, k, H, W): channel-major, one grid row per channel
    maps = feature_maps[:k].transpose(0, 1)
    low = maps.amin(dim=(1, 2, 3), keepdim=True)
    high = maps.amax(dim=(1, 2, 3), keepdim=True)
    maps = (maps - low) / (high - low).clamp_min(1e-8)
    return maps.reshape(-1, 1, *maps.shape[-2:])


greys = channels_as_grey(output)
assert greys.shape == (6 * 8, 1, 30, 30)
per_channel = greys.reshape(6, -1)
# each channel 0..1
assert (per_channel.amin(dim=1) == 0).all() and (
    per_channel.amax(dim=1) == 1
).all()
# grid row 2, column 5
assert torch.equal(greys[2 * 8 + 5, 0].argmax(), output[5, 2].argmax())

for step, (batch_images, _) in enumerate(loader):
    if step == 3:
        break
    with torch.no_grad():
        batch_output = conv1(batch_images)
    writer.add_images("input", batch_images, step)
    writer.add_images("conv1/channels", channels_as_grey(batch_output), step)
writer.close()  # flushes the events to disk

logged = read_images("runs/conv2d_layer")
assert set(logged) == {"input", "conv1/channels", "seed/output_as_rgb"}
assert [step for step, _ in logged["input"]] == [0, 1, 2]
assert [step for step, _ in logged["conv1/channels"]] == [0, 1, 2]
# add_images puts 8 images per grid row: 64 -> 8 x 8
assert logged["input"][0][1] == (8 * 32, 8 * 32)
# 6 rows (channels) of 8 images
assert logged["conv1/channels"][0][1] == (6 * 30, 8 * 30)
# 128 fake images -> 16 rows
assert logged["seed/output_as_rgb"] == [(0, (16 * 30, 8 * 30))]
for tag, events in sorted(logged.items()):
    print(
        f"{tag:20s} steps {[s for s, _ in events]}, "
        f"grid (height, width) {events[0][1]}"
    )
# --8<-- [end:tb_log]

# %%
# --8<-- [start:options]
same = nn.Conv2d(3, 6, kernel_size=3, padding="same")
# stride 1: pads (3 - 1) / 2 = 1 on each side
assert same(images).shape == (64, 6, 32, 32)

dilated = nn.Conv2d(3, 6, kernel_size=3, dilation=2)
assert dilated.weight.shape == (6, 3, 3, 3)  # still 3x3 weights ...
# ... spread over a 5x5 window: 32 - 5 + 1
assert dilated(images).shape == (64, 6, 28, 28)
spread = torch.zeros(6, 3, 5, 5)
# the same kernel with zeros in the holes
spread[:, :, ::2, ::2] = dilated.weight.detach()
assert torch.allclose(
    dilated(images), F.conv2d(images, spread, dilated.bias), atol=1e-5
)

# 3 groups of 2 input and 2 output channels
grouped = nn.Conv2d(6, 6, kernel_size=3, groups=3)
# each filter sees 6 / 3 = 2 input channels
assert grouped.weight.shape == (6, 2, 3, 3)
# vs 330 with groups=1
assert sum(p.numel() for p in grouped.parameters()) == 6 * 2 * 3 * 3 + 6 == 114
assert grouped(output).shape == (64, 6, 28, 28)
with expect_error(ValueError, "in_channels must be divisible by groups"):
    nn.Conv2d(3, 6, kernel_size=3, groups=2)
print(same, dilated, grouped, sep="\n")
# --8<-- [end:options]
