# %% [markdown]
# # nn.Linear and flatten
# Book page: nn/linear

# %%
# --8<-- [start:formula]
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
linear = nn.Linear(in_features=4, out_features=3)
assert linear.weight.shape == (3, 4)  # (out_features, in_features)
assert linear.bias.shape == (3,)

x = torch.randn(2, 4)  # a batch of 2 samples, 4 features each
y = linear(x)
assert y.shape == (2, 3)
assert torch.allclose(y, x @ linear.weight.T + linear.bias)  # y = x W^T + b
assert torch.allclose(y, F.linear(x, linear.weight, linear.bias))
# row 2 of W . sample 1
assert torch.allclose(y[1, 2], linear.weight[2] @ x[1] + linear.bias[2])

# Only the last axis is transformed; every leading axis is carried along.
x3 = torch.randn(2, 5, 4)
y3 = linear(x3)
assert y3.shape == (2, 5, 3)
assert torch.allclose(y3[1, 3], linear(x3[1, 3]))  # each 4-vector on its own
assert linear(torch.randn(4)).shape == (3,)  # a single vector works too

n_parameters = sum(p.numel() for p in linear.parameters())
assert n_parameters == 4 * 3 + 3 == 15
print(linear)
print(
    "x",
    tuple(x.shape),
    "-> y",
    tuple(y.shape),
    "|",
    tuple(x3.shape),
    "->",
    tuple(y3.shape),
)
print("parameters:", n_parameters)
# --8<-- [end:formula]

# %%
# --8<-- [start:init]
import math

torch.manual_seed(0)
layer = nn.Linear(3072, 10)
bound = 1 / math.sqrt(layer.in_features)
assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
assert layer.weight.abs().max() > 0.99 * bound  # 30,720 draws reach the edge

# Var(w) = bound^2 / 3 = 1 / (3 * in), so unit-variance inputs give Var(y) close
# to 1/3.
inputs = torch.randn(1000, 3072)
with torch.no_grad():
    outputs = layer(inputs)
assert abs(outputs.var().item() - 1 / 3) < 0.03
print(
    f"bound 1/sqrt(3072) = {bound:.5f}, "
    f"largest |w| = {layer.weight.abs().max():.5f}"
)
print(f"Var(y) for N(0, 1) inputs: {outputs.var():.3f}")
# --8<-- [end:init]

# %%
# --8<-- [start:batch]
from torch.utils.data import DataLoader
from torchvision.transforms import ToTensor
from pytorch_notes.datasets import cifar10

test_set = cifar10(train=False, transform=ToTensor())
loader = DataLoader(test_set, batch_size=64)
images, labels = next(iter(loader))
assert images.shape == (64, 3, 32, 32) and labels.shape == (64,)
print("images:", tuple(images.shape))
# --8<-- [end:batch]

# %%
# --8<-- [start:flatten]
from pytorch_notes import expect_error

# start_dim=0: the batch axis is flattened too
everything = torch.flatten(images)
per_image = torch.flatten(images, start_dim=1)  # keeps axis 0, the batch
assert everything.shape == (64 * 3 * 32 * 32,) == (196608,)
assert per_image.shape == (64, 3 * 32 * 32) == (64, 3072)
# nn.Flatten() defaults to start_dim=1
assert torch.equal(nn.Flatten()(images), per_image)
assert torch.equal(images.reshape(images.size(0), -1), per_image)
assert torch.equal(images.view(images.size(0), -1), per_image)
# row 5 is image 5, in (C, H, W) order
assert torch.equal(per_image[5], images[5].flatten())
c, h, w = 2, 7, 19
assert per_image[5, c * 1024 + h * 32 + w] == images[5, c, h, w]
# same numbers, another shape
assert torch.equal(everything[5 * 3072 : 6 * 3072], per_image[5])
# flatten only H and W
assert nn.Flatten(start_dim=2)(images).shape == (64, 3, 1024)

# view never copies, so it needs a memory layout it can reinterpret; reshape
# copies when it must.
# (N, H, W, C), a view with permuted strides
channels_last = images.permute(0, 2, 3, 1)
with expect_error(RuntimeError, "view size is not compatible"):
    channels_last.view(64, -1)
# view: the same memory
assert images.view(64, -1).data_ptr() == images.data_ptr()
# reshape had to copy
assert channels_last.reshape(64, -1).data_ptr() != images.data_ptr()
assert channels_last.reshape(64, -1).shape == (64, 3072)
# same values, another order
assert not torch.equal(channels_last.reshape(64, -1), per_image)
# R, G, B of pixel (0, 0)
assert torch.equal(channels_last.reshape(64, -1)[0, :3], images[0, :, 0, 0])
print("torch.flatten(x):   ", tuple(everything.shape))
print("torch.flatten(x, 1):", tuple(per_image.shape))
# --8<-- [end:flatten]

# %%
# --8<-- [start:seed_bug]
from torch.utils.data import Subset

torch.manual_seed(0)
# As in the original notes: one input per number in the whole batch
notes_linear = nn.Linear(196608, 10)
out = notes_linear(torch.flatten(images))
# ten numbers for 64 images: the batch became one sample
assert out.shape == (10,)
notes_count = sum(p.numel() for p in notes_linear.parameters())
assert notes_count == 196608 * 10 + 10 == 1_966_090

changed = images.clone()
changed[63] = 0.0  # change the last image only ...
moved = notes_linear(torch.flatten(changed)) != out
# ... and every output moves: the 64 images are mixed into one prediction
assert moved.all()
# One prediction cannot be scored against 64 labels: recent torch raises a
# ValueError, torch 2.6 a RuntimeError ("size mismatch"); both name the 64.
with expect_error(Exception, "64"):
    nn.CrossEntropyLoss()(out, labels)

# The last batch of an epoch is short unless the dataset size is a multiple of
# 64.
n_last = len(test_set) % 64  # CIFAR-10 test: 10000 = 156 * 64 + 16
assert n_last > 0 and len(loader) == len(test_set) // 64 + 1
last_images, _ = next(
    iter(
        DataLoader(
            Subset(test_set, range(len(test_set) - n_last, len(test_set))),
            batch_size=64,
        )
    )
)
assert last_images.shape == (n_last, 3, 32, 32)
with expect_error(RuntimeError, "mat1 and mat2 shapes cannot be multiplied"):
    notes_linear(torch.flatten(last_images))
# hides it
assert (
    len(DataLoader(test_set, batch_size=64, drop_last=True))
    == len(test_set) // 64
)

# The fix: flatten each image, and size the layer for one image.
fixed = nn.Linear(3072, 10)
assert fixed(torch.flatten(images, 1)).shape == (64, 10)
# any batch size
assert fixed(torch.flatten(last_images, 1)).shape == (n_last, 10)
print(
    f"seed: {tuple(torch.flatten(images).shape)} -> {tuple(out.shape)};",
    f"fixed: {tuple(torch.flatten(last_images, 1).shape)} -> {(n_last, 10)}",
)
# --8<-- [end:seed_bug]

# %%
# --8<-- [start:classifier]
torch.manual_seed(0)
classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
logits = classifier(images)
assert logits.shape == (64, 10)  # one score per class for each image
n_linear = sum(p.numel() for p in classifier.parameters())
assert n_linear == 3072 * 10 + 10 == 30730
n_conv = sum(p.numel() for p in nn.Conv2d(3, 6, 3).parameters())
assert n_conv == 168  # a 3x3 convolution does not grow with the image
# the same classifier on 224 x 224 images
assert 3 * 224 * 224 * 10 + 10 == 1_505_290

# A linear layer on a whole image = a convolution whose kernel is as large as
# the image.
as_conv = nn.Conv2d(3, 10, kernel_size=32)
with torch.no_grad():
    as_conv.weight.copy_(classifier[1].weight.reshape(10, 3, 32, 32))
    as_conv.bias.copy_(classifier[1].bias)
assert as_conv(images).shape == (64, 10, 1, 1)
assert torch.allclose(as_conv(images).flatten(1), logits, atol=1e-5)
print(classifier)
print(
    f"parameters: Linear(3072, 10) {n_linear:,}  vs  Conv2d(3, 6, 3) {n_conv}"
)
# --8<-- [end:classifier]

# %%
# --8<-- [start:variants]
import copy

no_bias = nn.Linear(3072, 10, bias=False)
assert no_bias.bias is None
assert sum(p.numel() for p in no_bias.parameters()) == 30720
# y = x W^T
assert torch.equal(no_bias(per_image), F.linear(per_image, no_bias.weight))
with_bias = nn.Linear(3072, 10)
with torch.no_grad():
    with_bias.weight.copy_(no_bias.weight)
# subtracts the batch mean, and the bias with it
batch_norm = nn.BatchNorm1d(10)
assert torch.allclose(
    batch_norm(with_bias(per_image)), batch_norm(no_bias(per_image)), atol=1e-4
)

identity = nn.Identity()
# returns its input: a placeholder where a layer used to be
assert identity(images) is images
assert list(identity.parameters()) == []
backbone = copy.deepcopy(classifier)
backbone[1] = nn.Identity()  # swap out the class scores ...
# ... and the model returns its features
assert backbone(images).shape == (64, 3072)

lazy = nn.LazyLinear(10)  # in_features is found on the first call
assert lazy.in_features == 0
with expect_error(ValueError, "uninitialized parameter"):
    lazy.weight.numel()  # nothing to count (or to give an optimizer) yet
lazy(per_image)
assert lazy.in_features == 3072 and lazy.weight.shape == (10, 3072)
assert type(lazy) is nn.Linear  # after the first call it is an ordinary Linear
print(no_bias, identity, lazy, sep="\n")
# --8<-- [end:variants]

# %%
# --8<-- [start:train]
train_set = cifar10(train=True, transform=ToTensor())
x_train, y_train = next(
    iter(DataLoader(Subset(train_set, range(500)), batch_size=500))
)

torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(3072, 10))
nn.init.zeros_(model[1].weight)  # start from 0: W holds only what it learns
nn.init.zeros_(model[1].bias)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
losses = []
for step in range(100):  # full-batch gradient descent on 500 images
    optimizer.zero_grad()
    loss = loss_fn(model(x_train), y_train)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with torch.no_grad():
    predicted = model(x_train).argmax(dim=1)
accuracy = (predicted == y_train).float().mean().item()
assert math.isclose(losses[0], math.log(10), rel_tol=1e-6)  # all logits 0
assert losses[-1] < losses[0] - 0.2
assert accuracy > 0.25  # chance is 1 in 10
print(
    f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
    f"training accuracy {accuracy:.0%} (chance 10%)"
)
# --8<-- [end:train]

# %%
# --8<-- [start:templates]
from pytorch_notes.plots import show_images

W = model[1].weight.detach()  # (10, 3072): one row per class
# Every gradient of W is a weighted sum of the 500 flattened images, so a W
# that started at 0 is one too: least squares finds the weights exactly.
X = x_train.flatten(1).double()  # (500, 3072)
mix = torch.linalg.lstsq(X.T, W.T.double()).solution  # (500, 10)
rest = W.T.double() - X.T @ mix  # what the 500 images cannot explain
assert rest.norm() < 1e-4 * W.norm()  # nothing but float32 rounding
untrained = nn.Linear(3072, 10).weight.detach().double()  # random, not 0
rest = untrained.T - X.T @ torch.linalg.lstsq(X.T, untrained.T).solution
assert rest.norm() > 0.5 * untrained.norm()  # random rows are no such mix

templates = W.reshape(10, 3, 32, 32)  # row k of W, as an image
low = templates.amin(dim=(1, 2, 3), keepdim=True)
high = templates.amax(dim=(1, 2, 3), keepdim=True)
show_images(
    (templates - low) / (high - low),
    titles=train_set.classes,
    ncols=5,
    size=1.6,
)
# --8<-- [end:templates]
