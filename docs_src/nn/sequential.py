# %% [markdown]
# # nn.Sequential: the CIFAR-10 "Moli" network
# Book page: nn/sequential

# %%
# --8<-- [start:conv_size]
import torch
import torch.nn as nn


def conv_out(size, kernel, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one axis, as PyTorch computes it."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# 32 + 4 - 4 - 1 + 1: the size is kept
assert conv_out(32, kernel=5, padding=2) == 32
# without padding a 5x5 kernel eats 2 pixels per side
assert conv_out(32, kernel=5, padding=0) == 28
for kernel in (1, 3, 5, 7):  # odd k, stride 1: padding (k-1)/2 keeps the size
    for size in (8, 16, 32):
        layer = nn.Conv2d(1, 1, kernel, padding=(kernel - 1) // 2)
        assert layer(torch.ones(1, 1, size, size)).shape[-1] == size
        assert conv_out(size, kernel, padding=(kernel - 1) // 2) == size

conv = nn.Conv2d(3, 32, kernel_size=5, padding=2)
x = torch.ones(1, 3, 32, 32)
assert conv(x).shape == (1, 32, 32, 32)
# the same thing, by name
assert nn.Conv2d(3, 32, kernel_size=5, padding="same")(x).shape == (
    1,
    32,
    32,
    32,
)
assert nn.MaxPool2d(2)(conv(x)).shape == (1, 32, 16, 16)  # the pool halves it
print(
    "5x5 conv, padding 2:",
    tuple(conv(x).shape),
    "| padding 0:",
    conv_out(32, 5),
    "x",
    conv_out(32, 5),
)
# --8<-- [end:conv_size]


# %%
# --8<-- [start:by_hand]
class MoliByHand(nn.Module):
    """The original notes' first version: one attribute per layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 5, padding=2)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.pool3 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.linear1 = nn.Linear(1024, 64)
        self.linear2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = self.pool3(self.conv3(x))
        x = self.flatten(x)
        x = self.linear1(x)
        return self.linear2(x)


torch.manual_seed(0)
by_hand = MoliByHand()
batch = torch.ones((64, 3, 32, 32))  # the notes' check: 64 "images" of ones
scores = by_hand(batch)
assert scores.shape == (64, 10)  # ten scores per image
print("MoliByHand output:", tuple(scores.shape))
# --8<-- [end:by_hand]

# %%
# --8<-- [start:sequential]
from pytorch_notes import expect_error

seq = nn.Sequential(
    nn.Conv2d(3, 32, 5, padding=2),
    nn.MaxPool2d(2),
    nn.Conv2d(32, 32, 5, padding=2),
    nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 5, padding=2),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(1024, 64),
    nn.Linear(64, 10),
)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def conv_params(c_in, c_out, k):
    return c_in * c_out * k * k + c_out  # weights + one bias per output channel


def linear_params(n_in, n_out):
    return n_in * n_out + n_out


by_formula = (
    conv_params(3, 32, 5)
    + conv_params(32, 32, 5)
    + conv_params(32, 64, 5)
    + linear_params(1024, 64)
    + linear_params(64, 10)
)
assert (
    count_parameters(seq) == count_parameters(by_hand) == by_formula == 145_578
)

print(list(by_hand.state_dict())[:4], "...")
print(list(seq.state_dict())[:4], "...")
with expect_error(RuntimeError, "Missing key(s)"):
    seq.load_state_dict(by_hand.state_dict())  # same tensors, different names

# same order of registration
renamed = dict(zip(seq.state_dict(), by_hand.state_dict().values()))
seq.load_state_dict(renamed)
torch.manual_seed(1)
images = torch.rand(8, 3, 32, 32)  # eight random images
assert torch.allclose(seq(images), by_hand(images))
print(
    f"parameters: {count_parameters(seq):,} in both; "
    "same weights -> same outputs"
)
# --8<-- [end:sequential]

# %%
# --8<-- [start:trace]
x = batch  # the 64 images of ones
shapes = []
for index, layer in enumerate(seq):  # a Sequential is iterable, in order
    x = layer(x)
    shapes.append(tuple(x.shape))
    print(f"{index}  {type(layer).__name__:10s} -> {tuple(x.shape)}")

assert shapes == [
    (64, 32, 32, 32),
    (64, 32, 16, 16),  # conv keeps 32, pool halves it
    (64, 32, 16, 16),
    (64, 32, 8, 8),
    (64, 64, 8, 8),
    (64, 64, 4, 4),
    (64, 1024),  # 64 channels * 4 * 4
    (64, 64),
    (64, 10),
]
_, channels, height, width = shapes[5]  # what the last pool hands on
assert seq[7].in_features == channels * height * width == 64 * 4 * 4
# --8<-- [end:trace]

# %%
# --8<-- [start:flatten]
features = seq[:6](batch)  # everything before the Flatten
assert features.shape == (64, 64, 4, 4)

kept_batch = nn.Flatten()(features)  # start_dim=1: the batch dimension stays
everything = torch.flatten(features)  # start_dim=0: one long vector
assert kept_batch.shape == (64, 1024)
assert everything.shape == (64 * 1024,)
assert torch.equal(kept_batch, torch.flatten(features, start_dim=1))
assert torch.equal(kept_batch, features.reshape(len(features), -1))
print("nn.Flatten()      :", tuple(kept_batch.shape))
print("torch.flatten(x)  :", tuple(everything.shape))

with expect_error(RuntimeError, "cannot be multiplied"):
    seq[7](everything)  # Linear(1024, 64) on 65536 numbers

# a batch of one image: the wrong flatten does not even fail ...
one = features[:1]
# ... it silently drops the batch dimension
assert seq[7](torch.flatten(one)).shape == (64,)
assert seq[7](nn.Flatten()(one)).shape == (1, 64)
# --8<-- [end:flatten]

# %%
# --8<-- [start:container]
from collections import OrderedDict

assert len(seq) == 9
assert isinstance(seq[0], nn.Conv2d) and isinstance(seq[-1], nn.Linear)
head = seq[:3]  # a slice is a new Sequential ...
assert isinstance(head, nn.Sequential) and len(head) == 3
assert head[0] is seq[0]  # ... that shares the same layers (and weights)
assert head(images).shape == (8, 32, 16, 16)

named = nn.Sequential(
    OrderedDict(
        [
            ("conv1", nn.Conv2d(3, 32, 5, padding=2)),
            ("pool1", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
        ]
    )
)
assert named.conv1 is named[0]  # names and positions both work
assert list(named.state_dict()) == ["conv1.weight", "conv1.bias"]

grown = nn.Sequential()
# append returns the Sequential
grown.append(nn.Linear(4, 8)).append(nn.ReLU()).append(nn.Linear(8, 2))
assert len(grown) == 3 and grown(torch.ones(5, 4)).shape == (5, 2)


class ListOfLayers(nn.Module):
    def __init__(self):
        super().__init__()
        # invisible to the Module
        self.plain_list = [nn.Linear(4, 4), nn.Linear(4, 4)]
        # registered
        self.module_list = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])


listed = ListOfLayers()
# only the ModuleList's two layers
assert count_parameters(listed) == 2 * (4 * 4 + 4)
assert list(listed.state_dict()) == [
    "module_list.0.weight",
    "module_list.0.bias",
    # a save loses the list
    "module_list.1.weight",
    "module_list.1.bias",
]
# unpacking a list is fine
assert nn.Sequential(*listed.plain_list)[1] is listed.plain_list[1]
print(named)
print("grown:", [type(layer).__name__ for layer in grown])
print("ListOfLayers.state_dict():", list(listed.state_dict()))
# --8<-- [end:container]

# %%
# --8<-- [start:linear_collapse]
# Linear(1024, 64), then Linear(64, 10): nothing in between
first, second = seq[7], seq[8]
merged = nn.Linear(1024, 10)
with torch.no_grad():
    merged.weight.copy_(second.weight @ first.weight)  # W = W2 W1
    # b = W2 b1 + b2
    merged.bias.copy_(second.weight @ first.bias + second.bias)

torch.manual_seed(2)
a, b = torch.randn(2, 1024), torch.randn(2, 1024)
same = torch.allclose(second(first(a)), merged(a), atol=1e-5)
assert same
assert count_parameters(merged) == 10_250  # does the work of ...
assert count_parameters(seq[7:]) == 66_250  # ... these two layers


def is_affine(f, x, y):
    """f(x + y) + f(0) == f(x) + f(y) holds for any affine map f(x) = Wx + c."""
    return torch.allclose(
        f(x + y) + f(torch.zeros_like(x)), f(x) + f(y), atol=1e-5
    )


assert is_affine(seq[7:], a, b)  # the original notes' head: affine
# a ReLU in between bends it
assert not is_affine(nn.Sequential(seq[7], nn.ReLU(), seq[8]), a, b)
u, v = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
assert is_affine(seq[0], u, v)  # a convolution is affine too
assert not is_affine(seq, u, v)  # only the max pools bend the whole net
print("Linear(1024, 64) -> Linear(64, 10) equals one Linear(1024, 10):", same)
# --8<-- [end:linear_collapse]

# %%
# --8<-- [start:moli]
from pytorch_notes.models import Moli

with_relu = nn.Sequential()
for layer in seq:
    with_relu.append(layer)
    # after every conv and the first Linear
    if isinstance(layer, nn.Conv2d) or layer is seq[7]:
        with_relu.append(nn.ReLU())

moli = Moli()
assert len(moli.model) == len(with_relu) == 13
assert [type(m) for m in moli.model] == [type(m) for m in with_relu]
assert [type(m) for m in moli.model if not isinstance(m, nn.ReLU)] == [
    type(m) for m in seq
]
assert [p.shape for p in moli.parameters()] == [
    p.shape for p in seq.parameters()
]

with torch.no_grad():  # copy the weights in parameter order (the names differ)
    for target, source in zip(moli.parameters(), seq.parameters()):
        target.copy_(source)
assert torch.allclose(moli(images), with_relu(images))
# the ReLUs change the function
assert not torch.allclose(moli(images), seq(images))

image = images[0]  # (3, 32, 32): one image, no batch dimension
with expect_error(ValueError, "add a batch dimension"):
    moli(image)
with expect_error(RuntimeError, "(64x16 and 1024x64)"):
    # the plain Sequential fails deep inside, with a puzzling message
    seq(image)
assert moli(image.unsqueeze(0)).shape == (1, 10)
# --8<-- [end:moli]

# %%
# --8<-- [start:graph]
import shutil
import warnings

from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)
from torch.utils.tensorboard import SummaryWriter

logdir = "runs/sequential"
shutil.rmtree(logdir, ignore_errors=True)  # a rerun starts from empty
writer = SummaryWriter(logdir)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    writer.add_graph(moli, images)  # runs the model once, records the ops
writer.close()
future = sorted(
    {str(w.message) for w in caught if issubclass(w.category, FutureWarning)}
)
assert all("deprecated" in message for message in future)
print(
    f"torch {torch.__version__}: {len(future)} FutureWarning(s) "
    "during add_graph"
)
for message in future:
    print("  ", message)

events = EventAccumulator(logdir)
events.Reload()
assert events.Tags()["graph"] is True  # written, warning or not
graph = events.Graph()
prefix = "Moli/Sequential[model]/"
scopes = {
    node.name.split("/")[2]
    for node in graph.node
    if node.name.startswith(prefix)
}
expected = {
    f"{type(layer).__name__}[{index}]" for index, layer in enumerate(moli.model)
}
assert scopes == expected  # every one of the 13 layers is a box in the graph
in_order = sorted(scopes, key=lambda scope: int(scope.split("[")[1][:-1]))
print(
    f"graph in {logdir}: {len(graph.node)} nodes, {len(scopes)} layers:",
    ", ".join(in_order[:4]),
    "...",
)
# --8<-- [end:graph]

# %%
# --8<-- [start:summary]
print(moli)

rows = []


def record(module, inputs, output):
    rows.append(
        (type(module).__name__, tuple(output.shape), count_parameters(module))
    )


handles = [layer.register_forward_hook(record) for layer in moli.model]
moli(batch)
for handle in handles:
    handle.remove()

print(f"{'layer':10s} {'output shape':18s} {'parameters':>10s}")
for name, shape, n_params in rows:
    print(f"{name:10s} {str(shape):18s} {n_params:10,d}")
print(f"{'total':29s} {sum(n for _, _, n in rows):10,d}")
assert len(rows) == 13 and rows[-1][1] == (64, 10)
# ReLU and pooling add none
assert sum(n for _, _, n in rows) == count_parameters(moli) == 145_578
# removed: the next call is not recorded
assert all(not layer._forward_hooks for layer in moli.model)
# --8<-- [end:summary]
