# %% [markdown]
# # The optimizer loop: zero_grad, backward, step
# Book page: nn/optimizer

# %%
# --8<-- [start:data]
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import ToTensor

from pytorch_notes.datasets import cifar10
from pytorch_notes.models import Moli

torch.manual_seed(0)
cifar = cifar10(train=True, transform=ToTensor())
# a small slice keeps every run to seconds
train_set = Subset(cifar, range(256))
# one fixed batch for the demos
images, labels = next(iter(DataLoader(train_set, batch_size=32)))

assert len(train_set) == 256
assert images.shape == (32, 3, 32, 32) and labels.shape == (32,)
assert labels.dtype == torch.int64 and 0 <= labels.min() and labels.max() <= 9
assert 0.0 <= images.min() and images.max() <= 1.0
print(
    f"{len(train_set)} images; one batch: {tuple(images.shape)}, "
    f"labels {labels[:8].tolist()} ..."
)
# --8<-- [end:data]

# %%
# --8<-- [start:sgd_step]
torch.manual_seed(0)
model = Moli()
loss_fn = nn.CrossEntropyLoss()
lr = 0.1
optimizer = torch.optim.SGD(model.parameters(), lr=lr)

optimizer.zero_grad()
loss_fn(model(images), labels).backward()
before = [p.detach().clone() for p in model.parameters()]
optimizer.step()

for p, old in zip(model.parameters(), before):
    # p <- p - lr * grad, for every tensor
    assert torch.allclose(p, old - lr * p.grad)
    assert not torch.equal(p, old)  # every tensor moved
# weight and bias of 3 convolutions and 2 linear layers
assert len(before) == 10
assert len(optimizer.state) == 0  # plain SGD keeps no memory between steps
print(f"{len(before)} parameter tensors, each moved by -lr * grad")
# --8<-- [end:sgd_step]

# %%
# --8<-- [start:momentum]
torch.manual_seed(0)
model = Moli()
mu = 0.9
optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=mu)
params = list(model.parameters())
expected = [p.detach().clone() for p in params]
velocity = [torch.zeros_like(p) for p in params]

for step in range(2):
    optimizer.zero_grad()
    loss_fn(model(images), labels).backward()
    optimizer.step()
    for i, p in enumerate(params):
        # v <- mu * v + g  (the first step: v = g)
        velocity[i] = mu * velocity[i] + p.grad
        expected[i] = expected[i] - lr * velocity[i]  # p <- p - lr * v
        assert torch.allclose(
            optimizer.state[p]["momentum_buffer"], velocity[i]
        )
        assert torch.allclose(p, expected[i], atol=1e-6)

assert all(optimizer.state[p].keys() == {"momentum_buffer"} for p in params)
buffers = sum(optimizer.state[p]["momentum_buffer"].numel() for p in params)
assert buffers == sum(p.numel() for p in params)  # one extra number per weight
print(
    f"momentum buffers hold {buffers:,} numbers, "
    "as many as the model has weights"
)

# The velocity on its own, for one weight:
v_same = v_flip = 0.0
for step in range(100):
    v_same = mu * v_same + 1.0  # the gradient keeps its sign
    v_flip = mu * v_flip + (-1.0) ** step  # the gradient flips every step
# 10 vs about 0.53
assert abs(v_same - 1 / (1 - mu)) < 1e-3 and abs(v_flip) < 1 / (1 + mu) + 1e-3

# The other common form, v <- mu v + lr g and p <- p - v, gives the same weights
# at a fixed lr.
p_torch = v_torch = p_other = v_other = torch.tensor(0.0)
for g in torch.randn(20):
    v_torch = mu * v_torch + g
    p_torch = p_torch - lr * v_torch
    v_other = mu * v_other + lr * g
    p_other = p_other - v_other
assert torch.allclose(p_torch, p_other)
print(
    f"constant gradient: v -> {v_same:.3f}; "
    f"alternating gradient: |v| <= {abs(v_flip):.3f}"
)
# --8<-- [end:momentum]

# %%
# --8<-- [start:zero_grad]
optimizer.zero_grad()
loss_fn(model(images), labels).backward()
first = [p.grad.clone() for p in params]
loss_fn(model(images), labels).backward()  # no zero_grad in between
# grads add up
assert all(torch.allclose(p.grad, 2 * g) for p, g in zip(params, first))

# the old behaviour: keep the tensors, fill with zeros
optimizer.zero_grad(set_to_none=False)
assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in params)
before = [p.detach().clone() for p in params]
# zero gradients, yet the momentum buffers still move every weight
optimizer.step()
for p, old in zip(params, before):
    assert not torch.equal(p, old)
    # v is now mu * v
    assert torch.allclose(p, old - lr * optimizer.state[p]["momentum_buffer"])

optimizer.zero_grad()  # set_to_none=True, the default: drop the tensors
assert all(p.grad is None for p in params)
before = [p.detach().clone() for p in params]
optimizer.step()  # a parameter whose grad is None is skipped
assert all(torch.equal(p, old) for p, old in zip(params, before))
print(
    "no zero_grad: grads doubled; zero grads: weights still move; "
    "grad None: skipped"
)
# --8<-- [end:zero_grad]

# %%
# --8<-- [start:loop]
import math


def train(model, optimizer, epochs=3):
    loss_fn = nn.CrossEntropyLoss()  # built once, not once per step
    loader = DataLoader(
        train_set,
        batch_size=32,
        shuffle=True,
        # the same batches in every run
        generator=torch.Generator().manual_seed(0),
    )
    step_losses = []
    for epoch in range(epochs):
        running_loss = 0.0
        for batch_images, batch_labels in loader:
            optimizer.zero_grad()  # 1. forget the last step's gradients
            # 2. forward, 3. loss
            loss = loss_fn(model(batch_images), batch_labels)
            loss.backward()  # 4. gradients of the loss for every parameter
            optimizer.step()  # 5. update the parameters
            # a Python float: this step's graph can be freed
            running_loss += loss.item()
            step_losses.append(loss.item())
        print(f"epoch {epoch + 1}: mean loss {running_loss / len(loader):.4f}")
    return step_losses


all_images, all_labels = next(iter(DataLoader(train_set, batch_size=256)))


def loss_on_train_set(model):
    """The mean loss over all 256 images, with one set of weights."""
    with torch.no_grad():
        return loss_fn(model(all_images), all_labels).item()


torch.manual_seed(0)
sgd_model = Moli()
start_loss = loss_on_train_set(sgd_model)
# built once, too
sgd = torch.optim.SGD(sgd_model.parameters(), lr=0.05, momentum=0.9)
sgd_losses = train(sgd_model, sgd)

steps_per_epoch = len(train_set) // 32  # 8 batches of 32
sgd_epochs = [
    sum(sgd_losses[i : i + steps_per_epoch]) / steps_per_epoch
    for i in range(0, len(sgd_losses), steps_per_epoch)
]
assert len(sgd_losses) == 3 * steps_per_epoch == 24
# untrained: about a uniform guess over 10 classes
assert abs(sgd_losses[0] - math.log(10)) < 0.05
# SGD is still near it after the first epoch
assert abs(sgd_epochs[0] - math.log(10)) < 0.1
sgd_end_loss = loss_on_train_set(sgd_model)
assert sgd_end_loss < start_loss  # the same 256 images, before vs after
print(
    f"loss on all 256 images: {start_loss:.4f} before, {sgd_end_loss:.4f} after"
)
# a momentum buffer for each of the 10 parameter tensors ...
assert len(sgd.state) == 10
# ... a new one has none
assert (
    len(torch.optim.SGD(sgd_model.parameters(), lr=0.05, momentum=0.9).state)
    == 0
)
# --8<-- [end:loop]

# %%
# --8<-- [start:item]
from pytorch_notes import expect_error

torch.manual_seed(0)
model = Moli()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
running = 0.0
# The original notes: running_loss = running_loss + result_loss
for step in range(3):
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    running = running + loss

# the end of this step's graph
assert type(loss.grad_fn).__name__ == "NllLossBackward0"
assert isinstance(running, torch.Tensor) and running.grad_fn is not None
# it holds the last loss
assert type(running.grad_fn.next_functions[1][0]).__name__ == "NllLossBackward0"
links, node = 0, running.grad_fn  # walk the chain the additions built
while type(node).__name__ == "AddBackward0":
    links += 1
    node = node.next_functions[0][0]
assert links == 3  # one link per step, each holding that step's whole graph
with expect_error(RuntimeError, "backward through the graph a second time"):
    # the graphs are still attached; only their saved tensors were freed
    running.backward()

value = loss.item()
assert type(value) is float  # a plain Python number: it keeps no graph alive
print("running:", running)
print("loss.item():", round(value, 4))
# --8<-- [end:item]

# %%
# --8<-- [start:adam]
torch.manual_seed(0)
model = Moli()
# betas=(0.9, 0.999), eps=1e-8
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
params = list(model.parameters())
optimizer.zero_grad()
loss_fn(model(images), labels).backward()
before = [p.detach().clone() for p in params]
optimizer.step()

for p, old in zip(params, before):
    g, state = p.grad, optimizer.state[p]
    assert state.keys() == {"step", "exp_avg", "exp_avg_sq"}
    assert torch.allclose(state["exp_avg"], 0.1 * g)  # m = (1 - beta1) g
    # v = (1 - beta2) g^2
    assert torch.allclose(state["exp_avg_sq"], 0.001 * g**2)
    # bias-corrected first step
    assert torch.allclose(p - old, -1e-3 * g / (g.abs() + 1e-8), atol=1e-6)
    large = g.abs() > 1e-5
    # size lr, whatever |g|
    assert torch.allclose((p - old)[large].abs(), torch.tensor(1e-3), rtol=0.01)
adam_state = [
    optimizer.state[p][key] for p in params for key in ("exp_avg", "exp_avg_sq")
]
# twice momentum's
assert sum(t.numel() for t in adam_state) == 2 * sum(p.numel() for p in params)

torch.manual_seed(0)
adam_model = Moli()  # the same start as sgd_model
assert loss_on_train_set(adam_model) == start_loss  # the same weights
adam_losses = train(
    adam_model, torch.optim.Adam(adam_model.parameters(), lr=1e-3)
)
assert adam_losses[0] == sgd_losses[0]  # same weights, same first batch
adam_end_loss = loss_on_train_set(adam_model)
assert adam_end_loss < start_loss
print(
    f"loss on all 256 images after training: SGD {sgd_end_loss:.4f}, "
    f"Adam {adam_end_loss:.4f} (from {start_loss:.4f})"
)
# --8<-- [end:adam]

# %%
# --8<-- [start:param_groups]
torch.manual_seed(0)
model = Moli()
# conv stages | flatten + linear layers
features, classifier = model.model[:9], model.model[9:]
optimizer = torch.optim.SGD(
    [
        {"params": features.parameters()},  # uses the default lr below
        {"params": classifier.parameters(), "lr": 0.1},
    ],
    lr=0.01,
    momentum=0.9,
)
assert [group["lr"] for group in optimizer.param_groups] == [0.01, 0.1]
# defaults fill the rest
assert all(group["momentum"] == 0.9 for group in optimizer.param_groups)

optimizer.zero_grad()
loss_fn(model(images), labels).backward()
before = {p: p.detach().clone() for p in model.parameters()}
optimizer.step()
for group in optimizer.param_groups:
    for p in group["params"]:
        # first step: v = g
        assert torch.allclose(p, before[p] - group["lr"] * p.grad)

print(
    [
        f"{len(group['params'])} tensors at lr {group['lr']}"
        for group in optimizer.param_groups
    ]
)

optimizer.param_groups[1]["lr"] = 0.05  # what a learning-rate scheduler does
assert optimizer.param_groups[1]["lr"] == 0.05
# --8<-- [end:param_groups]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axis = plt.subplots(figsize=(7, 3.5))
steps = range(1, len(sgd_losses) + 1)
axis.plot(steps, sgd_losses, label="SGD, lr 0.05, momentum 0.9")
axis.plot(steps, adam_losses, label="Adam, lr 0.001")
for boundary in range(steps_per_epoch, len(sgd_losses), steps_per_epoch):
    # epoch boundaries
    axis.axvline(boundary + 0.5, color="grey", linewidth=0.5)
axis.axhline(
    math.log(10),
    color="grey",
    linestyle="--",
    linewidth=0.8,
    label="ln 10 (uniform guess)",
)
axis.set_xlabel("step (batch of 32)")
axis.set_ylabel("cross-entropy loss")
axis.legend()
fig.tight_layout()
# --8<-- [end:plot]
