# %% [markdown]
# # F.conv2d: stride and padding
# Book page: nn/conv

# %%
# --8<-- [start:shapes]
import torch
import torch.nn.functional as F
from pytorch_notes import expect_error

image = torch.tensor(
    [
        [1, 2, 0, 3, 1],
        [0, 1, 2, 3, 1],
        [1, 2, 1, 0, 0],
        [5, 2, 3, 1, 1],
        [2, 1, 0, 1, 1],
    ],
    dtype=torch.float32,
)
kernel = torch.tensor([[1, 2, 1], [0, 1, 0], [2, 1, 0]], dtype=torch.float32)

with expect_error(RuntimeError, "Expected 3D (unbatched) or 4D (batched)"):
    # plain 2-D tensors: conv2d does not know which axis is which
    F.conv2d(image, kernel)

x = image.reshape(1, 1, 5, 5)  # (N, C, H, W): one image, one channel, 5x5
weight = kernel.reshape(1, 1, 3, 3)  # (out_channels, in_channels, kH, kW)
assert x.shape == (1, 1, 5, 5) and weight.shape == (1, 1, 3, 3)
# reshape only adds axes of size 1, the numbers stay
assert torch.equal(x[0, 0], image)
unbatched = F.conv2d(x[0], weight)  # (C, H, W): one image, no batch axis
assert torch.equal(unbatched, F.conv2d(x, weight)[0])
print("input:", tuple(x.shape), " weight:", tuple(weight.shape))
# --8<-- [end:shapes]

# %%
# --8<-- [start:stride]
out_s1 = F.conv2d(x, weight, stride=1)
out_s2 = F.conv2d(x, weight, stride=2)
out_p1 = F.conv2d(x, weight, stride=1, padding=1)

assert torch.equal(
    out_s1[0, 0], torch.tensor([[10.0, 12, 12], [18, 16, 16], [13, 9, 3]])
)
assert torch.equal(out_s2[0, 0], torch.tensor([[10.0, 12], [13, 3]]))
assert torch.equal(
    out_p1[0, 0],
    torch.tensor(
        [
            [1.0, 3, 4, 10, 8],
            [5, 10, 12, 12, 6],
            [7, 18, 16, 16, 8],
            [11, 13, 9, 3, 4],
            [14, 13, 9, 7, 4],
        ]
    ),
)
# stride 2 = every other stride-1 output
assert torch.equal(out_s2[0, 0], out_s1[0, 0, ::2, ::2])
# padding adds a border, keeps the middle
assert torch.equal(out_p1[0, 0, 1:-1, 1:-1], out_s1[0, 0])
print("stride=1:\n", out_s1[0, 0])
print("stride=2:\n", out_s2[0, 0])
print("padding=1:\n", out_p1[0, 0])
# --8<-- [end:stride]


# %%
# --8<-- [start:by_hand]
def conv2d_by_hand(image, kernel, stride=1, padding=0):
    """Slide the kernel over the (zero-padded) image: multiply, add, no flip."""
    # zeros on all four sides
    image = F.pad(image, (padding, padding, padding, padding))
    k_h, k_w = kernel.shape
    out_h = (image.shape[0] - k_h) // stride + 1
    out_w = (image.shape[1] - k_w) // stride + 1
    out = torch.zeros(out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            patch = image[
                i * stride : i * stride + k_h, j * stride : j * stride + k_w
            ]
            out[i, j] = (patch * kernel).sum()
    return out


assert (
    conv2d_by_hand(image, kernel)[0, 0]
    == 1 * 1 + 2 * 2 + 0 * 1 + 0 * 0 + 1 * 1 + 2 * 0 + 1 * 2 + 2 * 1 + 1 * 0
    == 10
)
assert torch.equal(conv2d_by_hand(image, kernel), out_s1[0, 0])
assert torch.equal(conv2d_by_hand(image, kernel, stride=2), out_s2[0, 0])
assert torch.equal(conv2d_by_hand(image, kernel, padding=1), out_p1[0, 0])

flipped = kernel.flip(0, 1)  # the textbook "convolution" flips the kernel first
assert not torch.equal(conv2d_by_hand(image, flipped), out_s1[0, 0])
print("the double loop matches F.conv2d for stride 1, stride 2 and padding 1")
print(
    "with the kernel flipped (true convolution):\n",
    conv2d_by_hand(image, flipped),
)
# --8<-- [end:by_hand]


# %%
# --8<-- [start:formula]
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


checked = 0
for size in (5, 7, 8, 28, 32):
    for k in (1, 2, 3, 5):
        for s in (1, 2, 3):
            for p in (0, 1, 2):
                for d in (1, 2):
                    if conv_output_size(size, k, s, p, d) < 1:
                        # the (dilated) kernel does not fit: conv2d raises
                        continue
                    out = F.conv2d(
                        torch.zeros(1, 1, size, size),
                        torch.zeros(1, 1, k, k),
                        stride=s,
                        padding=p,
                        dilation=d,
                    )
                    assert out.shape[-1] == conv_output_size(size, k, s, p, d)
                    checked += 1

assert conv_output_size(5, 3) == 3 and conv_output_size(5, 3, stride=2) == 2
assert conv_output_size(5, 3, padding=1) == 5
# "keeps the size": p = (k - 1) / 2 with s = 1
assert conv_output_size(32, 5, padding=2) == 32
assert conv_output_size(32, 3, stride=2, padding=1) == 16  # "halves the size"
print(f"formula matches F.conv2d in {checked} (H, k, s, p, d) combinations")
# --8<-- [end:formula]

# %%
# --8<-- [start:channels]
torch.manual_seed(0)
rgb = torch.randn(2, 3, 6, 6)  # a batch of 2 images with 3 channels
w = torch.randn(4, 3, 3, 3)  # 4 filters, each one 3 channels x 3 x 3
b = torch.randn(4)  # one bias per output channel
out = F.conv2d(rgb, w, b)
assert out.shape == (2, 4, 4, 4)

# Output channel o = sum over input channels c of (channel c conv filter o's
# slice c) + b[o].
for o in range(4):
    per_channel = [
        F.conv2d(rgb[:, c : c + 1], w[o : o + 1, c : c + 1]) for c in range(3)
    ]
    expected = torch.stack(per_channel).sum(dim=0) + b[o]
    assert torch.allclose(out[:, o : o + 1], expected, atol=1e-5)

print(
    "input",
    tuple(rgb.shape),
    "* weight",
    tuple(w.shape),
    "+ bias",
    tuple(b.shape),
    "->",
    tuple(out.shape),
)
print("each output channel = sum over the 3 input channels + its bias")
# --8<-- [end:channels]

# %%
# --8<-- [start:same]
same = F.conv2d(x, weight, padding="same")
assert same.shape == x.shape  # 5x5 in, 5x5 out
assert torch.equal(same, out_p1)  # for k = 3, "same" is padding=1
# k = 5: padding 2
assert F.conv2d(x, torch.ones(1, 1, 5, 5), padding="same").shape == x.shape
# "valid" = no padding
assert torch.equal(F.conv2d(x, weight, padding="valid"), out_s1)

with expect_error(RuntimeError, "not supported for strided convolutions"):
    F.conv2d(x, weight, stride=2, padding="same")
print("padding='same':", tuple(x.shape), "->", tuple(same.shape))
# --8<-- [end:same]

# %%
# --8<-- [start:groups]
import torch.nn as nn


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())


# every output sees all 8 inputs
full = nn.Conv2d(8, 8, kernel_size=3, padding=1)
# each output sees 1 input
depthwise = nn.Conv2d(8, 8, kernel_size=3, padding=1, groups=8)
assert full.weight.shape == (8, 8, 3, 3) and depthwise.weight.shape == (
    8,
    1,
    3,
    3,
)
assert count_parameters(full) == 8 * 8 * 3 * 3 + 8 == 584
assert count_parameters(depthwise) == 8 * 1 * 3 * 3 + 8 == 80

torch.manual_seed(0)
feature_map = torch.randn(1, 8, 6, 6)
out = depthwise(feature_map)
# channel c of the output depends on channel c of the input only
for c in range(8):
    alone = F.conv2d(
        feature_map[:, c : c + 1],
        depthwise.weight[c : c + 1],
        depthwise.bias[c : c + 1],
        padding=1,
    )
    assert torch.allclose(out[:, c : c + 1], alone, atol=1e-6)
print(
    f"parameters: full {count_parameters(full)}, "
    f"depthwise {count_parameters(depthwise)}"
)
# --8<-- [end:groups]

# %%
# --8<-- [start:sobel]
import matplotlib.pyplot as plt

picture = torch.zeros(16, 16)
picture[4:12, 4:12] = 1.0  # a bright square on a dark background
picture[6:10, 6:10] = 0.5  # with a grey hole in the middle
# responds to left-right change
sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
sobel_y = sobel_x.T  # responds to top-bottom change

edges_x = F.conv2d(
    picture.reshape(1, 1, 16, 16), sobel_x.reshape(1, 1, 3, 3), padding=1
)[0, 0]
edges_y = F.conv2d(
    picture.reshape(1, 1, 16, 16), sobel_y.reshape(1, 1, 3, 3), padding=1
)[0, 0]
magnitude = (edges_x**2 + edges_y**2).sqrt()

assert magnitude[0:3, 0:3].abs().max() == 0  # flat dark region: no edge
assert magnitude[7:9, 7:9].abs().max() == 0  # flat grey region: no edge
# dark->bright: +4, bright->dark: -4
assert edges_x[8, 4] == 4 and edges_x[8, 11] == -4
assert edges_x[8, 6] == -2  # bright->grey is half the step, half the response
# a horizontal edge: only sobel_y sees it
assert edges_y[4, 8] == 4 and edges_x[4, 8] == 0

fig, axes = plt.subplots(2, 2, figsize=(5.6, 5.6))
for ax, img, title in zip(
    axes.flat,
    [picture, edges_x, edges_y, magnitude],
    ["image", "Sobel x", "Sobel y", "edge magnitude"],
):
    ax.imshow(img.numpy(), cmap="gray")
    ax.set(title=title, xticks=[], yticks=[])
fig.tight_layout()
# --8<-- [end:sobel]

# %%
# --8<-- [start:module]
torch.manual_seed(0)
conv = nn.Conv2d(
    in_channels=1, out_channels=1, kernel_size=3, stride=1, padding=1
)
assert conv.weight.shape == (1, 1, 3, 3) and conv.bias.shape == (1,)
# parameters to learn
assert conv.weight.requires_grad and conv.bias.requires_grad
assert torch.equal(
    F.conv2d(x, conv.weight, conv.bias, stride=1, padding=1), conv(x)
)

# load the chapter's kernel and a zero bias into the module
with torch.no_grad():
    conv.weight.copy_(weight)
    conv.bias.zero_()
assert torch.equal(conv(x), out_p1)
print(conv)
print("conv(x) with the chapter's kernel:\n", conv(x)[0, 0].detach())
# --8<-- [end:module]
