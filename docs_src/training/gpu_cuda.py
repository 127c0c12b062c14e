# %% [markdown]
# # GPU training with .cuda(): what moves, what stays, and how to time it
# Book page: training/gpu-cuda

# %%
# --8<-- [start:modules-vs-tensors]
import torch
import torch.nn as nn

torch.manual_seed(0)
layer = nn.Linear(4, 2)
weight = layer.weight  # a handle on the Parameter object itself

# A module converts its parameters in place and returns itself ...
assert layer.cpu() is layer and layer.to("cpu") is layer
# on this CPU machine, a dtype change shows the effect
assert layer.to(torch.float64) is layer
# same Parameter, new data
assert layer.weight is weight and weight.dtype == torch.float64
layer.to(torch.float32)

# ... a tensor returns the converted copy and leaves the original alone.
t = torch.ones(3)
t.to(torch.float64)  # result thrown away: this line does nothing
assert t.dtype == torch.float32
t64 = t.to(torch.float64)
assert t64.dtype == torch.float64 and t64 is not t
assert t.to("cpu") is t  # already there: .to returns t itself, no copy

if torch.cuda.is_available():
    t_gpu = t.cuda()
    # t stayed on the CPU
    assert t.device.type == "cpu" and t_gpu.device.type == "cuda"
    assert layer.cuda() is layer and layer.weight is weight and weight.is_cuda
    layer.cpu()
print("module.to returns the module:", layer.to("cpu") is layer)
print("tensor.to returns a new tensor:", t.to(torch.float64) is not t)
# --8<-- [end:modules-vs-tensors]

# %%
# --8<-- [start:buffers]
norm = nn.BatchNorm2d(3)
assert [name for name, _ in norm.named_parameters()] == ["weight", "bias"]
assert [name for name, _ in norm.named_buffers()] == [
    "running_mean",
    "running_var",
    "num_batches_tracked",
]
norm.to(torch.float64)
# buffers are converted with the parameters
assert norm.running_mean.dtype == torch.float64
# a dtype change skips integer tensors
assert norm.num_batches_tracked.dtype == torch.int64

plain_loss = nn.CrossEntropyLoss()
# nothing to move
assert list(plain_loss.parameters()) == [] and list(plain_loss.buffers()) == []
weighted_loss = nn.CrossEntropyLoss(weight=torch.linspace(1.0, 2.0, 10))
# this one must move
assert [name for name, _ in weighted_loss.named_buffers()] == ["weight"]
if torch.cuda.is_available():
    assert weighted_loss.cuda().weight.is_cuda
print("BatchNorm2d buffers:", [name for name, _ in norm.named_buffers()])
print(
    "CrossEntropyLoss(weight=...) buffers:",
    [name for name, _ in weighted_loss.named_buffers()],
)
# --8<-- [end:buffers]

# %%
# --8<-- [start:optimizer]
torch.manual_seed(0)
model = nn.Linear(4, 2)
# created BEFORE the move
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
before = list(model.parameters())
model.to(torch.float64)  # stands in for model.cuda() here
# the same objects
assert all(old is new for old, new in zip(before, model.parameters()))
# the optimizer holds them
assert optimizer.param_groups[0]["params"][0] is model.weight

old_weight = model.weight.detach().clone()
model(torch.randn(8, 4, dtype=torch.float64)).pow(2).mean().backward()
optimizer.step()
# so the step reaches the model
assert not torch.equal(model.weight.detach(), old_weight)
print("after the move, the optimizer still updates the model's weights")

# The optimizer's state is another matter: Adam's moments do not follow a later
# move.
model = nn.Linear(4, 2)
adam = torch.optim.Adam(model.parameters(), lr=0.1)
model(torch.randn(8, 4)).pow(2).mean().backward()
adam.step()  # creates exp_avg and exp_avg_sq, float32 like the weights
model.to(torch.float64)
assert adam.state[model.weight]["exp_avg"].dtype == torch.float32  # left behind
# loading casts the state to the parameters' device and dtype
adam.load_state_dict(adam.state_dict())
assert adam.state[model.weight]["exp_avg"].dtype == torch.float64
print(
    "Adam's state after load_state_dict:",
    adam.state[model.weight]["exp_avg"].dtype,
)
# --8<-- [end:optimizer]

# %%
# --8<-- [start:data]
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import ToTensor

from pytorch_notes.datasets import cifar10

# small: a few seconds on a CPU
train_set = Subset(cifar10(train=True, transform=ToTensor()), range(64))
loader = DataLoader(
    train_set,
    batch_size=32,
    shuffle=True,
    generator=torch.Generator().manual_seed(0),
)
images, labels = next(iter(loader))
assert images.shape == (32, 3, 32, 32) and images.dtype == torch.float32
assert 0 <= images.min() and images.max() <= 1 and labels.dtype == torch.int64
print("batch:", tuple(images.shape), "on", images.device)
# --8<-- [end:data]

# %%
# --8<-- [start:cuda-train]
import time

from pytorch_notes.models import Moli

torch.manual_seed(0)
model = Moli()
loss_fn = nn.CrossEntropyLoss()
if torch.cuda.is_available():
    model = model.cuda()  # returns the same module, moved
    # no buffers: harmless, and needed once it has a weight
    loss_fn = loss_fn.cuda()
    print("training on", torch.cuda.get_device_name(0))
else:
    print("CUDA is not available: the same code trains on the CPU")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # after the move

# All 64 images in one batch, to score the same images before and after.
all_images, all_labels = next(iter(DataLoader(train_set, batch_size=64)))
if torch.cuda.is_available():
    all_images, all_labels = all_images.cuda(), all_labels.cuda()
with torch.no_grad():
    loss_before = loss_fn(model(all_images), all_labels).item()

epoch_losses, epoch_seconds = [], []
for epoch in range(2):
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # start the clock with an empty queue
    start = time.perf_counter()
    total, seen = 0.0, 0
    for images, labels in loader:
        if torch.cuda.is_available():
            # every batch, inputs and targets
            images, labels = images.cuda(), labels.cuda()
        outputs = model(images)
        assert (
            outputs.device == images.device == next(model.parameters()).device
        )
        loss = loss_fn(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        seen += len(labels)
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # stop it only when the GPU is done
    epoch_seconds.append(time.perf_counter() - start)
    epoch_losses.append(total / seen)
    print(f"epoch {epoch + 1}: mean loss {epoch_losses[-1]:.3f}")

with torch.no_grad():
    loss_after = loss_fn(model(all_images), all_labels).item()
expected = "cuda" if torch.cuda.is_available() else "cpu"
assert all(p.device.type == expected for p in model.parameters())
assert loss_after < loss_before  # training lowered the loss on its images
print(f"loss on all 64 images: {loss_before:.3f} -> {loss_after:.3f}")
# --8<-- [end:cuda-train]

# %%
# --8<-- [start:mismatch]
from pytorch_notes import expect_error

model_device = next(model.parameters()).device
images, labels = next(iter(loader))
images = images.to(model_device)
assert images.device == model_device  # the invariant of every training step
assert model(images).shape == (32, 10)

if torch.cuda.is_available():
    with expect_error(RuntimeError, "same"):
        model(images.cpu())  # CPU input, CUDA weights
else:
    with expect_error(RuntimeError, "should be the same"):
        model(images.double())  # the CPU cousin: float64 input, float32 weights
# --8<-- [end:mismatch]

# %%
# --8<-- [start:clocks]
wall = time.get_clock_info("time")
stopwatch = time.get_clock_info("perf_counter")
# the calendar clock can be set, even backwards
assert not wall.monotonic and wall.adjustable
# made for measuring intervals
assert stopwatch.monotonic and not stopwatch.adjustable
print(
    "time.time:        monotonic",
    wall.monotonic,
    "| adjustable",
    wall.adjustable,
)
print(
    "time.perf_counter: monotonic",
    stopwatch.monotonic,
    "| adjustable",
    stopwatch.adjustable,
)
# --8<-- [end:clocks]

# %%
# --8<-- [start:async]
from pytorch_notes.timing import synchronize

device = next(model.parameters()).device
size = 4096 if device.type == "cuda" else 256
a = torch.randn(size, size, device=device)
a @ a  # warm-up
synchronize(device)

start = time.perf_counter()
for _ in range(10):
    product = a @ a
# The original notes' measurement: the loop has returned
returned = time.perf_counter() - start
synchronize(device)
finished = time.perf_counter() - start  # the right one: the work is done
if device.type == "cuda":
    # most of the work was still queued when the loop returned
    assert returned < finished / 2
    print(
        "on the GPU the loop returned long before the work was done:",
        returned < finished / 2,
    )
else:
    print(
        "on the CPU, @ returns when the product is computed: nothing is queued"
    )
# --8<-- [end:async]

# %%
# --8<-- [start:time-op]
from pytorch_notes import time_op

images, labels = next(iter(loader))
images, labels = images.to(device), labels.to(device)


def train_step():
    optimizer.zero_grad()
    loss_fn(model(images), labels).backward()
    optimizer.step()


weight = next(model.parameters())
steps_before = int(optimizer.state[weight]["step"])  # Adam counts its steps
# median of 3, after 1 warm-up
step_seconds = time_op(train_step, device=device, repeats=3, warmup=1)
images_per_second = len(images) / step_seconds
assert optimizer.state[weight]["step"] == steps_before + 1 + 3  # warm-up + 3
# the number is yours to print
print(f"timed one training step on a batch of {len(images)} on {device.type}")
# --8<-- [end:time-op]

# %%
# --8<-- [start:flops]
size = 512
ones = torch.ones(size, size, device=device)
# with all ones, every product term adds 1: n^3 of them
assert (ones @ ones).sum().item() == size**3
a = torch.randn(size, size, device=device)
b = torch.randn(size, size, device=device)
matmul_seconds = time_op(lambda: a @ b, device=device, repeats=5, warmup=1)
gflops = 2 * size**3 / matmul_seconds / 1e9  # the number is yours to print
print(f"one {size}x{size} matmul: {2 * size**3:,} floating-point operations")
# --8<-- [end:flops]
