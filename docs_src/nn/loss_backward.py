# %% [markdown]
# # Loss and backward in a CNN
# Book page: nn/loss-backward

# %%
# --8<-- [start:batch]
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision.transforms import ToTensor

from pytorch_notes.datasets import cifar10
from pytorch_notes.models import Moli

torch.manual_seed(0)
model = Moli()  # untrained: weights drawn from PyTorch's default initialisation
test_set = cifar10(train=False, transform=ToTensor())
# no shuffling: the first batch is always the same
loader = DataLoader(test_set, batch_size=32)
images, targets = next(iter(loader))

assert images.shape == (32, 3, 32, 32) and images.dtype == torch.float32
# ToTensor scales pixels to [0, 1]
assert 0 <= images.min() and images.max() <= 1
# one class index per image
assert targets.shape == (32,) and targets.dtype == torch.int64
assert 0 <= targets.min() and targets.max() <= 9
print("images:", tuple(images.shape), images.dtype)
print(
    "targets:", tuple(targets.shape), targets.dtype, targets[:8].tolist(), "..."
)
# --8<-- [end:batch]

# %%
# --8<-- [start:loss]
import math

import torch.nn.functional as F

loss_fn = nn.CrossEntropyLoss()  # built once, reused for every batch
logits = model(images)  # raw scores, no softmax at the end of Moli
loss = loss_fn(logits, targets)

assert logits.shape == (32, 10)
# one number for the whole batch
assert loss.shape == () and loss.dtype == torch.float32
# ... that remembers how it was computed
assert loss.requires_grad and loss.grad_fn is not None
rows = torch.arange(len(targets))
# mean of -log softmax(z)_y
by_formula = -F.log_softmax(logits, dim=1)[rows, targets].mean()
assert torch.isclose(loss, by_formula)

softmax_first = loss_fn(logits.softmax(dim=1), targets)  # a softmax too many
assert not torch.isclose(softmax_first, loss)
# what even a perfect one-hot "prediction" would score
floor = -1 + math.log(math.e + 9)
assert softmax_first > floor  # this loss can never go below 1.46
print("loss:", loss)
print(f"-log softmax(z)_y, averaged: {by_formula.item():.4f}")
print(
    f"with a softmax before the loss (wrong): {softmax_first.item():.4f}, "
    f"never below {floor:.4f}"
)
# --8<-- [end:loss]

# %%
# --8<-- [start:chance]
# a conv and both linear layers
for layer in (model.model[0], model.model[10], model.model[12]):
    fan_in = layer.weight[0].numel()  # inputs per output: 3*5*5, 1024, 64
    # default init: U(-1/sqrt(fan_in), ...)
    assert layer.weight.abs().max() <= 1 / math.sqrt(fan_in)

largest_logit = logits.abs().max().item()
assert largest_logit < 0.5  # a fresh network outputs small scores ...
# ... so the loss is near ln 10 (a bound)
assert abs(loss.item() - math.log(10)) <= 2 * largest_logit
assert abs(loss.item() - math.log(10)) < 0.1
probabilities = logits.softmax(dim=1)
assert (probabilities - 0.1).abs().max() < 0.1  # every class gets roughly 1/10
print(f"loss {loss.item():.4f}  vs  ln 10 = {math.log(10):.4f}")
print(
    f"largest |logit| {largest_logit:.3f}; probabilities between "
    f"{probabilities.min().item():.3f} and {probabilities.max().item():.3f}"
)
# --8<-- [end:chance]

# %%
# --8<-- [start:backward]
named = dict(model.named_parameters())
assert all(p.grad is None for p in named.values())  # nothing computed yet

loss.backward()  # fills .grad of every parameter the loss depends on

for name, p in named.items():
    assert p.grad is not None and p.grad.shape == p.shape
    assert p.grad.abs().sum() > 0
assert not hasattr(model, "backward")  # the Module has no backward ...
# ... nor has the loss function object ...
assert not hasattr(loss_fn, "backward")
assert hasattr(loss, "backward")  # ... the loss tensor it returned does
for name, p in named.items():
    print(
        f"{name:16s} shape {str(tuple(p.shape)):16s} "
        f"grad norm {p.grad.norm().item():.4f}"
    )
# --8<-- [end:backward]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

layer_names = [
    name.removesuffix(".weight") for name in named if name.endswith(".weight")
]
layer_norms = [
    torch.cat(
        [named[n + ".weight"].grad.flatten(), named[n + ".bias"].grad.flatten()]
    )
    .norm()
    .item()
    for n in layer_names
]
kinds = [type(model.get_submodule(n)).__name__ for n in layer_names]
assert kinds == ["Conv2d", "Conv2d", "Conv2d", "Linear", "Linear"]
# the first convolution gets the smallest gradient
assert min(layer_norms) == layer_norms[0] > 0

fig, axis = plt.subplots(figsize=(6, 3))
axis.bar(
    [f"{n}\n{k}" for n, k in zip(layer_names, kinds)],
    layer_norms,
    color="tab:orange",
)
axis.set_ylabel("gradient norm")
axis.set_title("Gradient norm per layer after one backward")
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:finite_difference]
import copy

# a small batch keeps float64 fast
few_images, few_targets = images[:4], targets[:4]
# one weight of the first convolution: the longest way back from the loss
index = (0, 0, 2, 2)


def loss_with_shift(shift, dtype):
    """The loss on the small batch after adding `shift` to that one weight
    (on a copy)."""
    shifted = copy.deepcopy(model).to(dtype)
    with torch.no_grad():
        shifted.model[0].weight[index] += shift
    return loss_fn(shifted(few_images.to(dtype)), few_targets).item()


# float64: the same weights, 16 digits instead of 7
model64 = copy.deepcopy(model).double()
model64.zero_grad()
loss_fn(model64(few_images.double()), few_targets).backward()
analytic = model64.model[0].weight.grad[index].item()

eps = 1e-6
numeric = (
    loss_with_shift(eps, torch.float64) - loss_with_shift(-eps, torch.float64)
) / (2 * eps)
numeric32 = (
    loss_with_shift(eps, torch.float32) - loss_with_shift(-eps, torch.float32)
) / (2 * eps)
assert math.isclose(numeric, analytic, rel_tol=1e-5, abs_tol=1e-8)
# float32: rounding noise, not a derivative
assert not math.isclose(numeric32, analytic, rel_tol=0.1)
print(
    f"dL/dw{list(index)}: backward {analytic:.8f}, "
    f"finite difference {numeric:.8f} (float64), "
    f"{numeric32:.8f} (float32)"
)
# --8<-- [end:finite_difference]

# %%
# --8<-- [start:twice]
from pytorch_notes import expect_error

with expect_error(RuntimeError, "retain_graph=True"):
    loss.backward()  # the graph was freed by the first backward

# what the one backward above left
once = [p.grad.clone() for p in model.parameters()]
# a second forward + backward, no zero_grad
loss_fn(model(images), targets).backward()
for p, g in zip(model.parameters(), once):
    assert torch.allclose(p.grad, 2 * g)  # gradients add up

model.zero_grad()  # set_to_none=True by default
assert all(p.grad is None for p in model.parameters())
print(
    "after two backward passes: grad = 2 x one pass; "
    "after zero_grad(): grad is None"
)
# --8<-- [end:twice]

# %%
# --8<-- [start:sgd_step]
lr = 0.05
loss_before = loss_fn(model(images), targets)
loss_before.backward()
squared_grad_norm = sum((p.grad**2).sum() for p in model.parameters()).item()

first_weight = model.model[0].weight
with expect_error(RuntimeError, "leaf Variable that requires grad"):
    first_weight -= lr * first_weight.grad  # outside no_grad: refused

with torch.no_grad():  # the update itself must not be recorded in a graph
    for p in model.parameters():
        p -= lr * p.grad
loss_after = loss_fn(model(images), targets)

decrease = loss_before.item() - loss_after.item()
assert decrease > 0
# first order: lr * |g|^2
assert math.isclose(decrease, lr * squared_grad_norm, rel_tol=0.25)
print(
    f"loss {loss_before.item():.5f} -> {loss_after.item():.5f}: "
    f"decrease {decrease:.6f}, "
    f"lr * |g|^2 = {lr * squared_grad_norm:.6f}"
)
# --8<-- [end:sgd_step]

# %%
# --8<-- [start:reduction]
model.zero_grad()
logits = model(images)
per_sample = nn.CrossEntropyLoss(reduction="none")(logits, targets)
# the default
mean_loss = nn.CrossEntropyLoss(reduction="mean")(logits, targets)
sum_loss = nn.CrossEntropyLoss(reduction="sum")(logits, targets)
assert per_sample.shape == (32,)
assert torch.isclose(per_sample.mean(), mean_loss) and torch.isclose(
    per_sample.sum(), sum_loss
)

# what a batch_size=1 loader gives
one_image = loss_fn(model(images[:1]), targets[:1])
assert torch.isclose(one_image, per_sample[0], atol=1e-6)

mean_loss.backward(retain_graph=True)  # keep the graph: sum_loss shares it
mean_grads = [p.grad.clone() for p in model.parameters()]
model.zero_grad()
sum_loss.backward()
for p, g in zip(model.parameters(), mean_grads):
    # sum = N x mean
    assert torch.allclose(p.grad, 32 * g, rtol=1e-4, atol=1e-7)
model.zero_grad()
print(
    "per-sample losses:", [round(v, 3) for v in per_sample[:4].tolist()], "..."
)
print(
    f"mean {mean_loss.item():.4f}, sum {sum_loss.item():.4f}; "
    f"first image alone {one_image.item():.4f}"
)
# --8<-- [end:reduction]
