# %% [markdown]
# # 00 Tensor basics: creation, dtype and device, views, shapes, reductions,
# broadcasting, in-place operations, einsum, NumPy
# Book page: autograd/tensor-basics

# %%
# --8<-- [start:create]
import torch

torch.manual_seed(0)
uniform = torch.rand(5, 3)  # uniform on [0, 1)
normal = torch.randn(5, 3)  # standard normal N(0, 1)
# the dtype is chosen, not inferred
counts = torch.zeros(5, 3, dtype=torch.long)
point = torch.tensor([5.5, 3])  # from Python data: dtype inferred (float32)
steps = torch.arange(0, 10, 2)  # like range(): the end is left out

assert uniform.shape == normal.shape == counts.shape == (5, 3)
# the default float dtype
assert uniform.dtype == normal.dtype == point.dtype == torch.float32
assert counts.dtype == torch.int64 and counts.sum() == 0  # torch.long is int64
assert ((uniform >= 0) & (uniform < 1)).all()
assert steps.tolist() == [0, 2, 4, 6, 8] and steps.dtype == torch.int64

many = torch.randn(100_000)  # with many samples the statistics show
assert abs(many.mean()) < 0.01 and abs(many.std() - 1) < 0.01
assert abs(torch.rand(100_000).mean() - 0.5) < 0.01
print("rand:\n", uniform)
print(
    "randn mean, std over 100k samples:",
    round(many.mean().item(), 4),
    round(many.std().item(), 4),
)
# --8<-- [end:create]

# %%
# --8<-- [start:empty]
# memory reserved, never written: its values are whatever was there
buffer = torch.empty(5, 3)
torch.add(uniform, normal, out=buffer)  # now every element has been written
assert torch.equal(buffer, uniform + normal)
print("buffer after out=:", buffer.shape, buffer.dtype)
# --8<-- [end:empty]

# %%
# --8<-- [start:like]
base = torch.tensor([5.5, 3], dtype=torch.float64)
# new_*: you give the size; dtype and device come from `base`
ones = base.new_ones(5, 3)
assert ones.shape == (5, 3) and ones.dtype == torch.float64
assert ones.device == base.device

small = base.new_ones(2, dtype=torch.int32)  # ...unless you override them
assert small.dtype == torch.int32

# *_like: shape from `ones`, dtype overridden
noise = torch.randn_like(ones, dtype=torch.float32)
assert noise.shape == ones.shape and noise.dtype == torch.float32
# without an override, everything is copied
assert torch.zeros_like(ones).dtype == torch.float64
print("new_ones:", ones.dtype, "| randn_like(dtype=float32):", noise.dtype)
# --8<-- [end:like]

# %%
# --8<-- [start:mnist]
from pytorch_notes.datasets import mnist

digits = mnist(train=False)  # the 10,000 official test digits
pixels = digits.data[:64]  # the first 64 digits, straight from the file
labels = digits.targets[:64]
assert pixels.shape == (64, 28, 28) and pixels.dtype == torch.uint8
assert pixels.min() == 0 and pixels.max() == 255  # one byte per pixel

images = pixels.float() / 255  # what a model wants: float32 in [0, 1]
assert images.dtype == torch.float32 and images.max() == 1.0
assert pixels.element_size() == 1 and images.element_size() == 4
print("pixels:", tuple(pixels.shape), pixels.dtype, "-> images:", images.dtype)
print("first labels:", labels[:10].tolist())
# --8<-- [end:mnist]

# %%
# --8<-- [start:device]
from pytorch_notes import pick_device

device = pick_device()  # cuda if there is one, else mps, else cpu
print("device:", device, "| images live on", images.device)
assert images.device.type == "cpu"  # a tensor is made on the CPU by default


def with_border(batch, width=2):
    """Frames every image with black pixels. The new tensor is made like
    `batch` (same device, same dtype), so this works on any device."""
    n, h, w = batch.shape
    framed = batch.new_zeros(n, h + 2 * width, w + 2 * width)
    framed[:, width:-width, width:-width] = batch
    return framed


on_device = images.to(device)  # a copy on the device (the same one on a CPU)
framed = with_border(on_device)
assert framed.device == on_device.device and framed.dtype == on_device.dtype
assert framed.shape == (64, 32, 32) and framed[:, :2].abs().sum() == 0
assert torch.equal(framed.cpu(), with_border(images))  # same on every device
# --8<-- [end:device]

# %%
# --8<-- [start:dtypes]
ints = torch.tensor([1, 2, 3])
halves = torch.ones(3, dtype=torch.float16)
assert ints.dtype == torch.int64  # Python ints become int64
# int tensor + float -> the default float dtype
assert (ints + 0.5).dtype == torch.float32
assert (ints / 2).dtype == torch.float32 and (ints // 2).dtype == torch.int64
# a Python number never widens a tensor
assert (halves * 2.0).dtype == torch.float16
# two tensors: the wider dtype wins
assert (halves + torch.ones(3)).dtype == torch.float32
doubles = torch.ones(3, dtype=torch.float64)
assert torch.result_type(halves, doubles) == torch.float64
# 0-dim: like a number
assert (halves + torch.tensor(1.0, dtype=torch.float64)).dtype == torch.float16
# uint8 arithmetic stays uint8, and wraps around
assert (pixels[0].max() + pixels[0].max()).item() == (255 + 255) % 256
print(
    "int64 / 2 ->",
    (ints / 2).dtype,
    "| float16 + float32 ->",
    (halves + torch.ones(3)).dtype,
    "| uint8 255 + 255 ->",
    (pixels[0].max() + pixels[0].max()).item(),
)
# --8<-- [end:dtypes]

# %%
# --8<-- [start:indexing]
from pytorch_notes import expect_error


def shares_memory(a, b):
    """True when a and b are windows onto the same storage: writing one
    changes the other."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


table = torch.arange(12).reshape(3, 4)
row, column, corner = table[1], table[:, 2], table[1:, ::2]
assert row.tolist() == [4, 5, 6, 7] and column.tolist() == [2, 6, 10]
assert corner.tolist() == [[4, 6], [8, 10]]
assert table[-1, -1] == 11 and table[..., 0].tolist() == [0, 4, 8]
# slices are views: the same storage, starting further in
assert all(shares_memory(view, table) for view in (row, column, corner))
assert row.data_ptr() == table.data_ptr() + 4 * table.element_size()

is_multiple_of_3 = table % 3 == 0  # a boolean mask, same shape as table
picked = table[is_multiple_of_3]  # the selected elements, as a new 1-D tensor
rows = table[[2, 0]]  # fancy indexing: a list (or tensor) of indices
assert picked.tolist() == [0, 3, 6, 9]
assert rows.tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
# copies
assert not shares_memory(picked, table) and not shares_memory(rows, table)

picked[0] = -1
assert table[0, 0] == 0  # changing the copy leaves the table alone
# but assigning through a mask writes into the table itself
table[is_multiple_of_3] = 0
assert table.tolist() == [[0, 1, 2, 0], [4, 5, 0, 7], [8, 0, 10, 11]]
assert column.tolist() == [2, 0, 10]  # ...and the views made earlier see it

ones_and_sevens = images[(labels == 1) | (labels == 7)]  # a mask on real data
assert ones_and_sevens.shape[1:] == (28, 28)
assert len(ones_and_sevens) == ((labels == 1) | (labels == 7)).sum()
print(table)
print("digits 1 or 7 among the first 64:", len(ones_and_sevens))
# --8<-- [end:indexing]

# %%
# --8<-- [start:view]
flat = torch.arange(12.0)
grid = flat.view(3, 4)  # same 12 numbers, read as 3 rows of 4
assert grid.data_ptr() == flat.data_ptr()  # no copy: a view
assert flat.view(-1, 6).shape == (2, 6)  # -1: "whatever makes the count right"
assert grid.stride() == (4, 1)  # next row: 4 elements further; next column: 1
# element (i, j) sits at i*stride[0] + j*stride[1]
assert grid[1, 2] == flat[1 * 4 + 2 * 1]

grid[0, 0] = 100.0
assert flat[0] == 100.0  # writing through the view changes the original

columns = grid.t()  # transpose: swaps the strides, moves nothing
assert columns.stride() == (1, 4) and not columns.is_contiguous()
with expect_error(RuntimeError, "view size is not compatible"):
    columns.view(-1)  # view of a non-contiguous tensor fails

copied = columns.reshape(-1)  # reshape: a view when it can, a copy when it must
assert not shares_memory(copied, flat) and copied.is_contiguous()
# contiguous input: reshape returns a view
assert shares_memory(grid.reshape(2, 6), flat)
# the same thing, spelled out
assert torch.equal(copied, columns.contiguous().view(-1))
assert grid.contiguous() is grid  # already contiguous: no copy at all
# read down the columns
assert copied[:6].tolist() == [100.0, 4.0, 8.0, 1.0, 5.0, 9.0]
print("column-major read of the grid:", copied[:6])
# --8<-- [end:view]

# %%
# --8<-- [start:squeeze]
batch = images.unsqueeze(1)  # a channel axis at position 1: (N, 1, H, W)
assert batch.shape == (64, 1, 28, 28) and shares_memory(batch, images)
assert torch.equal(images[:, None], batch)  # None in an index does the same

one_image = batch[0]  # (1, 28, 28): a single image...
as_batch = one_image.unsqueeze(0)  # ...as a batch of one, what a model expects
assert as_batch.shape == (1, 1, 28, 28)
assert as_batch.squeeze().shape == (28, 28)  # squeeze(): every size-1 axis
assert as_batch.squeeze(0).shape == (1, 28, 28)  # squeeze(dim): just that one
# a dim that is not 1 is left alone, without an error
assert as_batch.squeeze(2).shape == (1, 1, 28, 28)
print("images", tuple(images.shape), "-> batch", tuple(batch.shape))
# --8<-- [end:squeeze]

# %%
# --8<-- [start:permute]
import numpy as np
from torchvision.transforms.functional import to_tensor

from pytorch_notes.datasets import hymenoptera

photo, _ = hymenoptera("train")[0]  # a PIL image of an ant
pixels_hwc = torch.from_numpy(np.array(photo))  # NumPy/PIL: height, width, C
height, width = photo.height, photo.width
assert pixels_hwc.shape == (height, width, 3)

chw = pixels_hwc.permute(2, 0, 1)  # PyTorch: channels first
assert chw.shape == (3, height, width) and not chw.is_contiguous()
assert shares_memory(chw, pixels_hwc)  # a view: only the strides moved
assert chw[1, 10, 20] == pixels_hwc[10, 20, 1]  # the same green value
# what ToTensor does for you
assert torch.equal(chw.float() / 255, to_tensor(photo))

nhwc = batch.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C), and back:
assert nhwc.shape == (64, 28, 28, 1)
assert torch.equal(nhwc.permute(0, 3, 1, 2), batch)
flipped = images.transpose(1, 2)  # transpose: swap two dims (here H and W)
assert torch.equal(flipped[5], images[5].T) and not flipped.is_contiguous()
print("photo HWC", tuple(pixels_hwc.shape), "-> CHW", tuple(chw.shape))
# --8<-- [end:permute]

# %%
# --8<-- [start:cat-stack]
first, second = images[:8], images[8:20]  # (8, 28, 28) and (12, 28, 28)
joined = torch.cat([first, second])  # along an existing dim (0 by default)
assert joined.shape == (20, 28, 28) and torch.equal(joined, images[:20])
side_by_side = torch.cat([images[0], images[1]], dim=1)  # width: 28 + 28
assert side_by_side.shape == (28, 56)

pair = torch.stack([images[0], images[1]])  # along a new dim
assert pair.shape == (2, 28, 28)
# stack = unsqueeze every tensor, then cat
assert torch.equal(pair, torch.cat([images[0][None], images[1][None]]))
assert torch.stack([images[0], images[1]], dim=2).shape == (28, 28, 2)
with expect_error(RuntimeError, "stack expects each tensor to be equal size"):
    torch.stack([first, second])  # stack needs equal shapes; cat does not
# both copy into new memory
assert not shares_memory(joined, images) and not shares_memory(pair, images)
print("cat:", tuple(joined.shape), "| stack:", tuple(pair.shape))
# --8<-- [end:cat-stack]

# %%
# --8<-- [start:reductions]
numbers = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
assert numbers.sum() == 21  # no dim: everything, a 0-dim tensor
assert numbers.sum(dim=0).tolist() == [5.0, 7.0, 9.0]  # dim 0 disappears
assert numbers.sum(dim=1).tolist() == [6.0, 15.0]  # dim 1 disappears
assert numbers.sum(dim=1, keepdim=True).shape == (2, 1)  # ...or stays as 1
largest, where = numbers.max(dim=1)  # max with a dim: values and indices
assert largest.tolist() == [3.0, 6.0] and where.tolist() == [2, 2]
assert numbers.argmax() == 5  # no dim: an index into the flattened tensor

ink = batch.mean(dim=(1, 2, 3))  # one number per image: its mean brightness
assert ink.shape == (64,) and torch.allclose(ink[5], batch[5].mean())
mean_digit = batch.mean(dim=0)  # one image: the mean of the batch
assert mean_digit.shape == (1, 28, 28)
# a 1 uses less than half the ink of a 0
assert ink[labels == 1].mean() < ink[labels == 0].mean() / 2

per_image = batch.mean(dim=(1, 2, 3), keepdim=True)  # (64, 1, 1, 1)
centered = batch - per_image  # broadcasts: each image minus its own mean
assert torch.allclose(centered.mean(dim=(1, 2, 3)), torch.zeros(64), atol=1e-6)
with expect_error(RuntimeError, "must match"):
    batch - ink  # (64, 1, 28, 28) - (64,): 64 lines up with the width, 28
# with 28 images it runs, and subtracts image j's mean from pixel column j
mixed_up = batch[:28] - ink[:28]
assert mixed_up.shape == (28, 1, 28, 28)
assert torch.equal(mixed_up[3, 0, :, 5], batch[3, 0, :, 5] - ink[5])
print(
    f"mean ink of a 1: {ink[labels == 1].mean():.3f}, of a 0: "
    f"{ink[labels == 0].mean():.3f}"
)
# --8<-- [end:reductions]

# %%
# --8<-- [start:broadcast]
heights = torch.tensor([[0.0], [10.0], [20.0]])  # shape (3, 1)
offsets = torch.tensor([[1.0, 2.0, 3.0, 4.0]])  # shape (1, 4)
levels = heights + offsets
assert levels.shape == (3, 4)
assert torch.equal(levels, heights.expand(3, 4) + offsets.expand(3, 4))

stretched = heights.expand(3, 4)
# stride 0: no copy
assert stretched.stride() == (1, 0) and shares_memory(stretched, heights)


def broadcast_shape(a, b):
    """The rule by hand: pad with 1s on the left, then each pair must be
    equal or contain a 1."""
    a = (1,) * (len(b) - len(a)) + tuple(a)
    b = (1,) * (len(a) - len(b)) + tuple(b)
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None  # the shapes do not broadcast
    return tuple(x if y == 1 else y for x, y in zip(a, b))


pairs = [
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((5, 1), (5,)),
    ((2, 1, 3), (4, 1)),
]
for left, right in pairs:
    by_torch = (torch.zeros(left) + torch.zeros(right)).shape
    assert broadcast_shape(left, right) == by_torch

assert broadcast_shape((3,), (4,)) is None  # and PyTorch refuses too:

with expect_error(RuntimeError, "must match"):  # (3,) + (4,) do not broadcast
    torch.ones(3) + torch.ones(4)
print(levels)
# --8<-- [end:broadcast]

# %%
# --8<-- [start:broadcast-figure]
import matplotlib.pyplot as plt


def draw_grid(ax, values, stored, title):
    """One square per element; stored elements dark, stretched ones light."""
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            real = bool(stored[i, j])
            ax.add_patch(
                plt.Rectangle(
                    (j, rows - 1 - i),
                    1,
                    1,
                    facecolor="tab:blue" if real else "#dbe8f5",
                    edgecolor="white",
                    linewidth=2,
                )
            )
            ax.text(
                j + 0.5,
                rows - 0.5 - i,
                f"{values[i, j]:g}",
                ha="center",
                va="center",
                color="white" if real else "#4a6f94",
            )
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 3)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


heights_grid, offsets_grid = stretched, offsets.expand(3, 4)
first_column = torch.arange(4) == 0  # where each tensor's numbers are stored
first_row = torch.arange(3)[:, None] == 0
fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.4))
draw_grid(axes[0], heights_grid, first_column.expand(3, 4), "(3, 1) stretched")
draw_grid(axes[1], offsets_grid, first_row.expand(3, 4), "(1, 4) stretched")
draw_grid(axes[2], levels, torch.ones(3, 4), "sum: (3, 4)")
axes[0].text(4.35, 1.5, "+", fontsize=16, va="center")
axes[1].text(4.35, 1.5, "=", fontsize=16, va="center")
fig.text(
    0.5,
    0.02,
    "light squares: read again (stride 0), never copied",
    ha="center",
    fontsize=9,
)
fig.tight_layout(rect=(0, 0.06, 1, 1))
# the picture is the arithmetic: each square of the sum adds the two squares
assert torch.equal(heights_grid + offsets_grid, levels)
# --8<-- [end:broadcast-figure]

# %%
# --8<-- [start:broadcast-pitfall]
import warnings

predictions = torch.zeros(5, 1)  # a model's output: one column
targets = torch.ones(5)  # the labels: a flat vector
wrong = predictions - targets  # (5, 1) - (5,) -> (5, 5): every pair, no error
right = predictions.squeeze(1) - targets  # (5,) - (5,) -> (5,)
assert wrong.shape == (5, 5) and right.shape == (5,)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    # the loss function notices
    torch.nn.functional.mse_loss(predictions, targets)
assert "different to the input size" in str(caught[0].message)
print("wrong:", tuple(wrong.shape), "right:", tuple(right.shape))
print("mse_loss warned:", caught[0].message)
# --8<-- [end:broadcast-pitfall]

# %%
# --8<-- [start:in-place]
total = torch.zeros(3)
address = total.data_ptr()
returned = total.add_(1)  # trailing underscore: changes `total` itself
assert returned is total and total.data_ptr() == address
assert total.tolist() == [1.0, 1.0, 1.0]

fresh = total.add(1)  # no underscore: a new tensor, `total` untouched
assert fresh.data_ptr() != address and total.tolist() == [1.0, 1.0, 1.0]
total += 1  # augmented assignment is in place too
assert total.data_ptr() == address and total.tolist() == [2.0, 2.0, 2.0]
total = total + 1  # a new tensor, bound to the old name
assert total.data_ptr() != address

weight = torch.ones(3, requires_grad=True)
with expect_error(RuntimeError, "a leaf Variable that requires grad"):
    weight.add_(1)  # autograd would lose track of the value it started from
with torch.no_grad():
    weight.sub_(0.5)  # what an optimizer's step does, outside the graph
assert weight.requires_grad and weight.tolist() == [0.5, 0.5, 0.5]
print("total:", total, "| weight after the step:", weight)
# --8<-- [end:in-place]

# %%
# --8<-- [start:matmul]
torch.manual_seed(0)
A = torch.randn(2, 3)
B = torch.randn(3, 4)
C = A @ B  # the same as torch.matmul(A, B)
assert C.shape == (2, 4)
# C_ij = sum_k A_ik B_kj
assert torch.allclose(C[1, 2], (A[1, :] * B[:, 2]).sum())
# * is elementwise: it needs broadcastable shapes
assert torch.equal(A * A, A**2)
with expect_error(RuntimeError, "must match"):  # (2, 3) * (3, 4): no broadcast
    A * B

v = torch.randn(3)
# matrix-vector, and the dot product
assert (A @ v).shape == (2,) and (v @ v).shape == ()
print("C = A @ B:\n", C)
# --8<-- [end:matmul]

# %%
# --8<-- [start:batched]
matrices = torch.randn(10, 2, 3)  # ten 2x3 matrices
kernels = torch.randn(10, 3, 4)  # ten 3x4 matrices
out = matrices @ kernels  # ten products at once
assert out.shape == (10, 2, 4)
assert torch.allclose(out[7], matrices[7] @ kernels[7])

shared = matrices @ B  # (10, 2, 3) @ (3, 4): B is broadcast over the batch
assert shared.shape == (10, 2, 4) and torch.allclose(shared[7], matrices[7] @ B)
print(
    "batched:",
    tuple(matrices.shape),
    "@",
    tuple(kernels.shape),
    "->",
    tuple(out.shape),
)
# --8<-- [end:batched]

# %%
# --8<-- [start:einsum]
# a letter missing from the output is summed over
assert torch.allclose(torch.einsum("ik,kj->ij", A, B), A @ B)
assert torch.allclose(torch.einsum("bik,bkj->bij", matrices, kernels), out)
assert torch.allclose(torch.einsum("ij->", A), A.sum())
assert torch.allclose(torch.einsum("ij->j", A), A.sum(dim=0))
assert torch.equal(torch.einsum("ij->ji", A), A.T)  # nothing summed: a permute

u, w = torch.randn(3), torch.randn(4)
outer = torch.einsum("i,j->ij", u, w)  # no shared letter: every product
assert torch.allclose(outer, u[:, None] * w[None, :])
# every row of A against every row of D: the scores of attention
D = torch.randn(5, 3)
assert torch.allclose(torch.einsum("id,jd->ij", A, D), A @ D.T)
print("einsum('id,jd->ij'):", tuple(torch.einsum("id,jd->ij", A, D).shape))
# --8<-- [end:einsum]

# %%
# --8<-- [start:numpy]
array = np.arange(4.0)  # NumPy's default float is float64
tensor = torch.from_numpy(array)  # no copy: the tensor uses the array's memory
assert tensor.dtype == torch.float64
array[0] = 100.0
assert tensor[0] == 100.0  # a change to the array shows in the tensor

copy = torch.tensor(array)  # torch.tensor always copies
array[1] = -1.0
assert copy[1] == 1.0 and tensor[1] == -1.0
# what a model's weights expect
assert torch.from_numpy(array).float().dtype == torch.float32

numbers = torch.ones(3)
as_array = numbers.numpy()  # a CPU tensor and its .numpy() share memory too
numbers.add_(1)
assert as_array.tolist() == [2.0, 2.0, 2.0]
print("tensor from the array:", tensor)
print("array from the tensor:", as_array)
# --8<-- [end:numpy]

# %%
# --8<-- [start:numpy-grad]
weight = torch.ones(3, requires_grad=True)
# numpy() of a tensor that requires grad fails
with expect_error(RuntimeError, "requires grad"):
    weight.numpy()

snapshot = weight.detach().cpu().numpy()  # the idiom that works on any device
with torch.no_grad():
    weight.mul_(3)  # an optimizer step would do the same
# still shared: .copy() it to keep old values
assert snapshot.tolist() == [3.0, 3.0, 3.0]
assert weight.cpu() is weight  # on the CPU, .cpu() is free: the same tensor
print("the snapshot followed the update:", snapshot)
# --8<-- [end:numpy-grad]
