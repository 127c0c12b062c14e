# %% [markdown]
# # 08 Tensor operations and GPU: creation, memory, broadcasting, matmul, NumPy,
# devices Book page: autograd/tensors-gpu

# %%
# --8<-- [start:create]
import torch

torch.manual_seed(0)
uniform = torch.rand(5, 3)  # uniform on [0, 1)
normal = torch.randn(5, 3)  # standard normal N(0, 1)
# the dtype is chosen, not inferred
counts = torch.zeros(5, 3, dtype=torch.long)
point = torch.tensor([5.5, 3])  # from Python data: dtype inferred (float32)

assert uniform.shape == normal.shape == counts.shape == (5, 3)
# the default float dtype
assert uniform.dtype == normal.dtype == point.dtype == torch.float32
assert counts.dtype == torch.int64 and counts.sum() == 0  # torch.long is int64
assert ((uniform >= 0) & (uniform < 1)).all()

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
# --8<-- [start:view]
from pytorch_notes import expect_error


def shares_memory(a, b):
    """True when a and b are windows onto the same storage: writing one
    changes the other."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


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
# read down the columns
assert copied[:6].tolist() == [100.0, 4.0, 8.0, 1.0, 5.0, 9.0]
print("column-major read of the grid:", copied[:6])
# --8<-- [end:view]

# %%
# --8<-- [start:indexing]
table = torch.arange(12).reshape(3, 4)
row, column, corner = table[1], table[:, 2], table[1:, ::2]
assert row.tolist() == [4, 5, 6, 7] and column.tolist() == [2, 6, 10]
assert corner.tolist() == [[4, 6], [8, 10]]
# slices are views
assert all(shares_memory(view, table) for view in (row, column, corner))
assert table[..., 0].tolist() == [0, 4, 8] and table[None].shape == (1, 3, 4)

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
print(table)
# --8<-- [end:indexing]

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
# --8<-- [start:matmul]
torch.manual_seed(0)
A = torch.randn(2, 3)
B = torch.randn(3, 4)
C = A @ B  # the same as torch.matmul(A, B)
assert C.shape == (2, 4)
# C_ij = sum_k A_ik B_kj
assert torch.allclose(C[1, 2], (A[1, :] * B[:, 2]).sum())
assert torch.allclose(C, torch.einsum("ik,kj->ij", A, B))
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
stack = torch.randn(10, 2, 3)  # ten 2x3 matrices
kernels = torch.randn(10, 3, 4)  # ten 3x4 matrices
out = stack @ kernels  # ten products at once
assert out.shape == (10, 2, 4)
assert torch.allclose(out, torch.einsum("bik,bkj->bij", stack, kernels))
assert torch.allclose(out[7], stack[7] @ kernels[7])

shared = stack @ B  # (10, 2, 3) @ (3, 4): B is broadcast over the batch
assert shared.shape == (10, 2, 4) and torch.allclose(shared[7], stack[7] @ B)
print(
    "batched:",
    tuple(stack.shape),
    "@",
    tuple(kernels.shape),
    "->",
    tuple(out.shape),
)
# --8<-- [end:batched]

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
print(
    "int64 / 2 ->",
    (ints / 2).dtype,
    "| float16 + float32 ->",
    (halves + torch.ones(3)).dtype,
)
# --8<-- [end:dtypes]

# %%
# --8<-- [start:numpy]
import numpy as np

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

# %%
# --8<-- [start:device]
from pytorch_notes import pick_device

device = pick_device()  # cuda if there is one, else mps, else cpu
print("device:", device)

# created directly where it will be used
weights = torch.randn(3, 2, device=device)
inputs = torch.randn(4, 3).to(device)  # created on the CPU, then copied over
outputs = inputs @ weights  # both operands on one device: the work runs there
assert outputs.device.type == device.type
# already there: .to() returns the same tensor
assert inputs.to(device) is inputs

result = outputs.cpu()  # back to the CPU to print, plot or hand to NumPy
assert result.device.type == "cpu"
assert torch.allclose(result, inputs.cpu() @ weights.cpu(), atol=1e-5)
print(result)
# --8<-- [end:device]


# %%
# --8<-- [start:agnostic]
def add_noise(x, std=0.1):
    """Works on any device and dtype: the noise is made like x, where x
    lives."""
    return x + std * torch.randn_like(x)


noisy = add_noise(outputs)
assert noisy.device == outputs.device and noisy.dtype == outputs.dtype
# a fresh tensor on outputs' device, without naming it
fresh = outputs.new_zeros(4)
assert fresh.device == outputs.device

layer = torch.nn.Linear(3, 2)
assert layer.to(device) is layer  # a module moves its parameters in place...
assert layer.weight.device.type == device.type
# ...so it now accepts the inputs on the device
assert layer(inputs).shape == (4, 2)
print("noise made on", noisy.device, "| layer weights on", layer.weight.device)
# --8<-- [end:agnostic]

# %%
# --8<-- [start:timing]
from pytorch_notes import available_devices, time_op

size = 512
ones = torch.ones(size, size)
# with all ones, every product term adds 1: n^3 of them
assert (ones @ ones).sum() == size**3
a, b = torch.randn(size, size), torch.randn(size, size)

# just "cpu" here; "cpu" and "cuda" on a GPU machine
for name in available_devices():
    a_here, b_here = a.to(name), b.to(name)
    seconds = time_op(lambda: a_here @ b_here, device=name, repeats=5, warmup=1)
    print(
        f"{name}: {seconds * 1e3:.2f} ms per {size}x{size} matmul, "
        f"{2 * size**3 / seconds / 1e9:.1f} GFLOP/s"
    )
# --8<-- [end:timing]

# %%
# --8<-- [start:pinned]
batch = torch.randn(64, 3, 32, 32)  # a batch as a DataLoader would hand it over
if torch.cuda.is_available():
    batch = batch.pin_memory()  # page-locked: the GPU can copy it by DMA
assert batch.is_pinned() == torch.cuda.is_available()

# may return before the copy is done
on_device = batch.to(device, non_blocking=True)
# .cpu() waits for the copy on its stream
assert torch.equal(on_device.cpu(), batch)
print("pinned:", batch.is_pinned(), "| batch on", on_device.device)
# --8<-- [end:pinned]
