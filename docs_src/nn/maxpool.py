# %% [markdown]
# # MaxPool2d: windows, ceil_mode, dtypes and gradients
# Book page: nn/maxpool

# %%
# --8<-- [start:input]
import torch
import torch.nn as nn

matrix = torch.tensor(
    [
        [1, 2, 0, 3, 1],
        [0, 1, 2, 3, 1],
        [1, 2, 1, 0, 0],
        [5, 2, 3, 1, 1],
        [2, 1, 0, 1, 1],
    ],
    dtype=torch.float32,
)
# (N, C, H, W): one image, one channel, 5 x 5
image = matrix.reshape(1, 1, 5, 5)
assert image.shape == (1, 1, 5, 5)
# (C, H, W) without a batch works too
assert nn.MaxPool2d(3)(matrix[None]).shape == (1, 1, 1)
print(image)
# --8<-- [end:input]

# %%
# --8<-- [start:ceil]
pool_ceil = nn.MaxPool2d(kernel_size=3, ceil_mode=True)
pool_floor = nn.MaxPool2d(kernel_size=3, ceil_mode=False)  # the default
# stride defaults to kernel_size
assert pool_ceil.stride == pool_ceil.kernel_size == 3

out_ceil = pool_ceil(image)
out_floor = pool_floor(image)
assert torch.equal(out_ceil, torch.tensor([[[[2.0, 3.0], [5.0, 1.0]]]]))
assert torch.equal(out_floor, torch.tensor([[[[2.0]]]]))

# The top-right output of ceil_mode=True is the max of a cut-off 3 x 2 window.
assert out_ceil[0, 0, 0, 1] == matrix[0:3, 3:5].max()
print("ceil_mode=True:\n", out_ceil[0, 0])
print("ceil_mode=False:\n", out_floor[0, 0])
# --8<-- [end:ceil]

# %%
# --8<-- [start:formula]
import math


def pooled_size(
    size, kernel, stride=None, padding=0, dilation=1, ceil_mode=False
):
    """Output length of max pooling along one axis, as PyTorch computes it."""
    stride = kernel if stride is None else stride
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding(span / stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window would start in the right padding: drop it
    return out


checked = 0
for size in range(3, 20):
    for kernel in (2, 3):
        for stride in (1, 2, 3):
            # PyTorch allows padding <= kernel / 2
            for padding in range(kernel // 2 + 1):
                for dilation in (1, 2):
                    if size + 2 * padding < dilation * (kernel - 1) + 1:
                        continue  # the window does not fit at all
                    for ceil_mode in (False, True):
                        pool = nn.MaxPool2d(
                            kernel,
                            stride,
                            padding,
                            dilation,
                            ceil_mode=ceil_mode,
                        )
                        expected = pooled_size(
                            size, kernel, stride, padding, dilation, ceil_mode
                        )
                        assert (
                            pool(torch.zeros(1, 1, size, size)).shape[-1]
                            == expected
                        )
                        checked += 1
assert pooled_size(5, 3, ceil_mode=True) == 2 and pooled_size(5, 3) == 1
# not 4: the drop rule
assert pooled_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
print(f"formula matches PyTorch on {checked} configurations")
# --8<-- [end:formula]

# %%
# --8<-- [start:options]
from pytorch_notes import expect_error

torch.manual_seed(0)
x = torch.randn(1, 1, 8, 8)
shapes = {
    "kernel 2 (stride 2)": nn.MaxPool2d(2)(x).shape,
    "kernel 3, stride 1": nn.MaxPool2d(3, stride=1)(x).shape,
    "kernel 3, stride 1, padding 1": nn.MaxPool2d(3, stride=1, padding=1)(
        x
    ).shape,
    "kernel 2, dilation 2": nn.MaxPool2d(2, dilation=2)(x).shape,
}
assert shapes["kernel 2 (stride 2)"] == (1, 1, 4, 4)
assert shapes["kernel 3, stride 1"] == (1, 1, 6, 6)
assert shapes["kernel 3, stride 1, padding 1"] == (1, 1, 8, 8)  # "same" size
# a 2x2 window with holes spans 3x3
assert shapes["kernel 2, dilation 2"] == (1, 1, 3, 3)
for name, shape in shapes.items():
    print(f"{name:30s} -> {tuple(shape)}")

# Padding counts as -infinity, not 0: it never wins, even when every value is
# negative.
negative = -1 - torch.rand(1, 1, 4, 4)
padded = nn.MaxPool2d(3, stride=1, padding=1)(negative)
assert (padded < 0).all()

with expect_error(RuntimeError, "pad should be at most half"):
    nn.MaxPool2d(3, padding=2)(x)  # padding 2 > 3 / 2

# Dilation: the window takes every other pixel, here x[0,0], x[0,2], x[2,0],
# x[2,2].
dilated = nn.MaxPool2d(2, dilation=2)(x)
assert dilated[0, 0, 0, 0] == x[0, 0, 0:3:2, 0:3:2].max()
# --8<-- [end:options]

# %%
# --8<-- [start:dtype]
integers = matrix.to(torch.int64).reshape(1, 1, 5, 5)
pooled_integers = pool_ceil(integers)  # the CPU kernel accepts integers
assert pooled_integers.dtype == torch.int64
assert torch.equal(pooled_integers, out_ceil.to(torch.int64))
print(
    f"torch {torch.__version__}, int64 input on the CPU:",
    pooled_integers.dtype,
    pooled_integers.flatten().tolist(),
)

# ... but nothing around the pool in a network does.
with expect_error(RuntimeError, "floating point"):
    integers.requires_grad_()
with expect_error(RuntimeError, "should be the same"):
    nn.Conv2d(1, 1, kernel_size=3)(integers)

# In a network the pool sees the float output of the layer before it.
torch.manual_seed(0)
block = nn.Sequential(
    nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
)
features = block(image)  # image is float32, as the first layer requires
assert features.dtype == torch.float32 and features.shape == (1, 4, 2, 2)
# --8<-- [end:dtype]

# %%
# --8<-- [start:functional]
import torch.nn.functional as F

torch.manual_seed(0)
batch = torch.randn(2, 3, 9, 9)
layer = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
functional = F.max_pool2d(
    batch, kernel_size=3, stride=2, padding=1, ceil_mode=True
)
assert torch.equal(layer(batch), functional)
# nothing to learn: the module only stores settings
assert list(layer.parameters()) == []
assert layer(batch).shape == (2, 3, 5, 5)  # channels are pooled independently
print(layer)
# --8<-- [end:functional]

# %%
# --8<-- [start:unpool]
torch.manual_seed(0)
x = torch.randn(1, 1, 4, 4)
pool = nn.MaxPool2d(2, return_indices=True)
unpool = nn.MaxUnpool2d(2)

pooled, indices = pool(x)
restored = unpool(pooled, indices)

# Indices are flat positions in each H x W plane.
assert torch.equal(x.flatten()[indices.flatten()], pooled.flatten())
# Unpooling puts each maximum back where it came from and zeros everywhere else.
is_max = torch.zeros(16, dtype=torch.bool)
is_max[indices.flatten()] = True
assert torch.equal(restored.flatten(), torch.where(is_max, x.flatten(), 0.0))
# Not an inverse: a window whose max is negative now holds zeros, which win the
# next pool.
assert round(pooled.min().item(), 4) == -0.2506  # such a window exists here
assert torch.equal(pool(restored)[0], pooled.clamp(min=0))
print("indices:\n", indices[0, 0])
print("restored:\n", restored[0, 0])
# --8<-- [end:unpool]

# %%
# --8<-- [start:gradient]
x = image.clone().requires_grad_()
nn.MaxPool2d(kernel_size=3, ceil_mode=True)(x).sum().backward()

expected = torch.zeros(5, 5)
# where each window's max sits
for row, col in [(0, 1), (0, 3), (3, 0), (3, 3)]:
    expected[row, col] = 1.0
# the max gets dL/dy = 1, everyone else 0
assert torch.equal(x.grad[0, 0], expected)
# a three-way tie in the first window ...
assert (matrix[0:3, 0:3] == 2).sum() == 3
# ... and only one of the three gets the gradient
assert x.grad[0, 0, 0:3, 0:3].sum() == 1
print("gradient, non-overlapping windows:\n", x.grad[0, 0])

# With overlapping windows (stride 1), a pixel collects one gradient per window
# it wins.
x.grad = None
nn.MaxPool2d(kernel_size=3, stride=1)(x).sum().backward()
assert x.grad.sum() == 9  # nine 3x3 windows, one unit of gradient each
assert x.grad[0, 0, 3, 0] == 2  # the 5 lies in two windows and wins both
print("gradient, stride 1:\n", x.grad[0, 0])
# --8<-- [end:gradient]

# %%
# --8<-- [start:picture]
torch.manual_seed(0)
picture = 0.3 * torch.rand(1, 1, 16, 16)  # dim noise
for i in range(16):
    picture[0, 0, i, i] = 1.0  # a thin bright diagonal

max_pooled = F.max_pool2d(picture, 2)
avg_pooled = F.avg_pool2d(picture, 2)
assert max_pooled.shape == avg_pooled.shape == (1, 1, 8, 8)
diagonal = torch.arange(8)
# the line survives intact
assert (max_pooled[0, 0, diagonal, diagonal] == 1.0).all()
on_line = avg_pooled[0, 0, diagonal, diagonal]
assert ((0.5 <= on_line) & (on_line <= 0.65)).all()  # (1 + 1 + noise) / 4
off_line = ~torch.eye(8, dtype=torch.bool)
background_max = max_pooled[0, 0][off_line].mean()
background_avg = avg_pooled[0, 0][off_line].mean()
assert background_max > 1.4 * background_avg  # max picks the brightest noise
print("diagonal after max pool:", max_pooled[0, 0, diagonal, diagonal].tolist())
print(
    "diagonal after avg pool:",
    [round(v, 2) for v in avg_pooled[0, 0, diagonal, diagonal].tolist()],
)
# --8<-- [end:picture]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(7, 2.6))
panels = [
    (picture, "input 16x16"),
    (max_pooled, "MaxPool2d(2): 8x8"),
    (avg_pooled, "AvgPool2d(2): 8x8"),
]
for axis, (tensor, title) in zip(axes, panels):
    axis.imshow(tensor[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
    axis.set_title(title)
    axis.axis("off")
fig.tight_layout()
# --8<-- [end:plot]
