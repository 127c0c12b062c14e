# %% [markdown]
# # 07 Gradient tricks: accumulation, clipping, checking, freezing
# Book page: autograd/gradient-tricks

# %%
# --8<-- [start:model]
import torch
from torch import nn
from pytorch_notes import line_data

x, y = line_data(n=100, slope=2.0, intercept=1.0, noise=0.1, seed=0)
loss_fn = nn.MSELoss()  # the mean over the batch


def make_model():
    """A tiny MLP, with the same initial weights at every call."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))


def grads_of(model):
    """Every parameter's gradient, flattened into one vector."""
    return torch.cat([p.grad.flatten() for p in model.parameters()])


# same start every time
assert torch.equal(make_model()[0].weight, make_model()[0].weight)
# (1*8 + 8) + (8*1 + 1)
assert sum(p.numel() for p in make_model().parameters()) == 25
print(make_model())
# --8<-- [end:model]

# %%
# --8<-- [start:big_batch]
big = make_model()
loss_fn(big(x), y).backward()  # one backward over all 100 points
full_grad = grads_of(big)
assert full_grad.shape == (25,)  # one entry per parameter
print("full-batch gradient, first 4 entries: ", full_grad[:4])
# --8<-- [end:big_batch]

# %%
# --8<-- [start:accumulate]
k = 4
small = make_model()
for xb, yb in zip(x.chunk(k), y.chunk(k)):  # 4 micro-batches of 25 points
    loss = loss_fn(small(xb), yb) / k
    loss.backward()  # adds into .grad, it does not overwrite

assert torch.allclose(grads_of(small), full_grad, atol=1e-6)
print("accumulated gradient, first 4 entries:", grads_of(small)[:4])
# --8<-- [end:accumulate]


# %%
# --8<-- [start:steps]
def train_step(model, optimizer, k):
    """One optimizer step on the whole data set, fed as k micro-batches."""
    optimizer.zero_grad()  # once per step, not once per micro-batch
    for xb, yb in zip(x.chunk(k), y.chunk(k)):
        (loss_fn(model(xb), yb) / k).backward()
    optimizer.step()


big, small = make_model(), make_model()
big_opt = torch.optim.SGD(big.parameters(), lr=0.1, momentum=0.9)
small_opt = torch.optim.SGD(small.parameters(), lr=0.1, momentum=0.9)
for step in range(5):
    train_step(big, big_opt, k=1)
    train_step(small, small_opt, k=4)

for p_big, p_small in zip(big.parameters(), small.parameters()):
    assert torch.allclose(p_big, p_small, atol=1e-5)

wrong = make_model()
for xb, yb in zip(x.chunk(k), y.chunk(k)):
    wrong.zero_grad()  # inside the loop: wipes the micro-batches before
    (loss_fn(wrong(xb), yb) / k).backward()
last = make_model()
(loss_fn(last(x.chunk(k)[-1]), y.chunk(k)[-1]) / k).backward()
# only the last micro-batch survived
assert torch.allclose(grads_of(wrong), grads_of(last))
print(
    f"output bias after 5 steps: {big[2].bias.item():.6f} (1 batch), "
    f"{small[2].bias.item():.6f} (4 micro-batches)"
)
# --8<-- [end:steps]

# %%
# --8<-- [start:no_divide]
forgot = make_model()
for xb, yb in zip(x.chunk(k), y.chunk(k)):
    loss_fn(forgot(xb), yb).backward()  # no "/ k"

assert torch.allclose(grads_of(forgot), k * full_grad, atol=1e-5)
print(
    "without / k the gradient is",
    (grads_of(forgot).norm() / full_grad.norm()).item(),
    "times too big",
)
# --8<-- [end:no_divide]

# %%
# --8<-- [start:not_exact]
# 1. Micro-batches of unequal size: weight each mean by its share of the points.
sizes = [40, 30, 20, 10]
uneven, weighted = make_model(), make_model()
for xb, yb in zip(x.split(sizes), y.split(sizes)):
    (loss_fn(uneven(xb), yb) / len(sizes)).backward()
    (loss_fn(weighted(xb), yb) * len(xb) / len(x)).backward()

assert not torch.allclose(grads_of(uneven), full_grad, atol=1e-2)
assert torch.allclose(grads_of(weighted), full_grad, atol=1e-6)
print(
    "sizes 40/30/20/10, / k:       max error "
    f"{(grads_of(uneven) - full_grad).abs().max():.1e}"
)
print(
    "sizes 40/30/20/10, * n_j / n: max error "
    f"{(grads_of(weighted) - full_grad).abs().max():.1e}"
)


# 2. BatchNorm normalises each micro-batch with that micro-batch's statistics.
def make_bn_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(1, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1)
    )


bn_big, bn_small = make_bn_model(), make_bn_model()
loss_fn(bn_big(x), y).backward()
for xb, yb in zip(x.chunk(k), y.chunk(k)):
    (loss_fn(bn_small(xb), yb) / k).backward()

bn_gap = (grads_of(bn_big) - grads_of(bn_small)).abs().max()
assert bn_gap > grads_of(bn_big).abs().max()  # a lot: more than any entry
print(
    f"with BatchNorm, 1 batch vs 4 micro-batches: max difference {bn_gap:.2f}"
)
# --8<-- [end:not_exact]

# %%
# --8<-- [start:clip_norm]
model = make_model()
loss_fn(model(x), y).backward()
before = grads_of(model)
manual_norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))

max_norm = 1.0
total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
after = grads_of(model)

# it returns the norm *before* clipping
assert torch.allclose(total_norm, manual_norm)
assert total_norm > max_norm and torch.allclose(
    after.norm(), torch.tensor(max_norm)
)
# same direction
assert torch.allclose(after, before * max_norm / total_norm, atol=1e-6)
print(f"norm before {total_norm.item():.4f}, after {after.norm().item():.4f}")

# A norm already below max_norm is left alone.
nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
assert torch.equal(grads_of(model), after)
# --8<-- [end:clip_norm]

# %%
# --8<-- [start:clip_value]
model = make_model()
loss_fn(model(x), y).backward()
before = grads_of(model)

clip = 0.5
nn.utils.clip_grad_value_(model.parameters(), clip_value=clip)
after = grads_of(model)

assert after.abs().max() <= clip
assert torch.equal(after, before.clamp(-clip, clip))  # each entry on its own
cosine = torch.cosine_similarity(before, after, dim=0)
assert cosine < 0.9  # the direction changed
print(
    "entries clipped:", (before.abs() > clip).sum().item(), "of", before.numel()
)
print(f"cosine(before, after) = {cosine.item():.3f}")
# --8<-- [end:clip_value]


# %%
# --8<-- [start:finite_diff]
def f(t):
    return torch.sin(t) * torch.exp(t)


# Its first three derivatives, by hand (product rule).
def df(t):
    return (torch.cos(t) + torch.sin(t)) * torch.exp(t)


def d2f(t):
    return 2 * torch.cos(t) * torch.exp(t)


def d3f(t):
    return 2 * (torch.cos(t) - torch.sin(t)) * torch.exp(t)


t = torch.tensor(0.7, dtype=torch.float64)
print("     h   forward error  h/2 f''   central error  h^2/6 f'''")
for h in (1e-1, 1e-2, 1e-3):
    forward_error = (f(t + h) - f(t)) / h - df(t)
    central_error = (f(t + h) - f(t - h)) / (2 * h) - df(t)
    assert torch.isclose(forward_error, h / 2 * d2f(t), rtol=0.05)  # O(h)
    assert torch.isclose(central_error, h**2 / 6 * d3f(t), rtol=0.05)  # O(h^2)
    print(
        f"{h:6.0e}   {forward_error:.2e}     {h / 2 * d2f(t):.2e}   "
        f"{central_error:.2e}       {h**2 / 6 * d3f(t):.2e}"
    )
# --8<-- [end:finite_diff]


# %%
# --8<-- [start:check_model]
def numerical_grad(model, x, y, h=1e-6):
    """Central differences of the loss, one parameter entry at a time."""
    estimates = []
    with torch.no_grad():
        for p in model.parameters():
            flat = p.view(-1)  # shares memory with p
            for i in range(flat.numel()):
                saved = flat[i].item()
                flat[i] = saved + h
                plus = loss_fn(model(x), y)
                flat[i] = saved - h
                minus = loss_fn(model(x), y)
                flat[i] = saved
                estimates.append((plus - minus) / (2 * h))
    return torch.stack(estimates)


def autograd_grad(model, x, y):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return grads_of(model)


def compare(model, x, y, h=1e-6):
    """Largest gap between the two gradients, and the rounding estimate
    eps * |L| / h."""
    error = (
        (numerical_grad(model, x, y, h) - autograd_grad(model, x, y))
        .abs()
        .max()
        .item()
    )
    rounding = torch.finfo(x.dtype).eps * loss_fn(model(x), y).item() / h
    return error, rounding


model32 = make_model()
model64, x64, y64 = make_model().double(), x.double(), y.double()
error32, rounding32 = compare(model32, x, y)
error64, rounding64 = compare(model64, x64, y64)
print(
    f"float32: max |numerical - autograd| = {error32:.1e}   "
    f"eps*|L|/h = {rounding32:.1e}"
)
print(
    f"float64: max |numerical - autograd| = {error64:.1e}   "
    f"eps*|L|/h = {rounding64:.1e}"
)

for error, rounding in [(error32, rounding32), (error64, rounding64)]:
    assert 1 / 3 < error / rounding < 3  # the rounding term predicts the error
assert error64 < 1e-8 and error32 > 1e4 * error64
# --8<-- [end:check_model]

# %%
# --8<-- [start:gradcheck]
import warnings
from torch.autograd import gradcheck

# 1. The model's output with respect to its input.
torch.manual_seed(0)
inputs = torch.randn(5, 1, dtype=torch.float64, requires_grad=True)
assert gradcheck(model64, (inputs,))  # raises an error if it fails

# 2. The loss with respect to the parameters, passed in as inputs.
names = [name for name, _ in model64.named_parameters()]
params = tuple(
    p.detach().clone().requires_grad_() for p in model64.parameters()
)


def loss_of(*params):
    outputs = torch.func.functional_call(
        model64, dict(zip(names, params)), (x64,)
    )
    return loss_fn(outputs, y64)


assert gradcheck(loss_of, params)
print("gradcheck in float64: passed")

# 3. The same check in float32 fails, and gradcheck warns why.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ok32 = gradcheck(model32, (inputs.float(),), raise_exception=False)
assert not ok32
assert any("double precision" in str(w.message) for w in caught)
print("gradcheck in float32:", ok32, "-", str(caught[0].message).split(".")[0])
# --8<-- [end:gradcheck]

# %%
# --8<-- [start:freeze]
model = make_model()
model[0].requires_grad_(False)  # freeze the first Linear layer

total = sum(p.numel() for p in model.parameters())
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
assert (total, trainable) == ((1 * 8 + 8) + (8 * 1 + 1), 8 * 1 + 1)
print(f"trainable parameters: {trainable} of {total}")

optimizer = torch.optim.SGD(
    [p for p in model.parameters() if p.requires_grad], lr=0.1
)
frozen_before = model[0].weight.clone()
head_before = model[2].weight.clone()
optimizer.zero_grad()
loss_fn(model(x), y).backward()
optimizer.step()

assert model[0](x).grad_fn is None  # the graph starts after the frozen layer
assert model[0].weight.grad is None and model[0].bias.grad is None
# the frozen layer did not move
assert torch.equal(model[0].weight, frozen_before)
assert not torch.equal(model[2].weight, head_before)  # the last layer did learn
print("grad of the frozen weight:", model[0].weight.grad)
# --8<-- [end:freeze]

# %%
# --8<-- [start:freeze_optimizer]
model = make_model()
# every parameter
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn(model(x), y).backward()
first_grad = model[0].weight.grad.clone()
optimizer.step()  # a first step, all trainable: it fills the momentum buffers

model[0].requires_grad_(False)  # now freeze the first layer...
optimizer.zero_grad(set_to_none=False)  # ...but keep zero-filled .grad tensors
frozen_before = model[0].weight.clone()
loss_fn(model(x), y).backward()
optimizer.step()

assert torch.count_nonzero(model[0].weight.grad) == 0  # a zero gradient...
moved = model[0].weight - frozen_before  # ...yet momentum moved the weights:
assert torch.allclose(moved, -0.1 * 0.9 * first_grad)  # -lr * 0.9 * old grad
print(
    "frozen weights moved by up to "
    f"{(model[0].weight - frozen_before).abs().max():.4f}"
)

# With .grad set to None (the default of zero_grad) the optimizer skips them.
optimizer.zero_grad()
frozen_before = model[0].weight.clone()
loss_fn(model(x), y).backward()
optimizer.step()
assert model[0].weight.grad is None and torch.equal(
    model[0].weight, frozen_before
)
# --8<-- [end:freeze_optimizer]

# %%
# --8<-- [start:freeze_bn]
torch.manual_seed(0)
# frozen, but in train mode
batch_norm = nn.BatchNorm1d(3).requires_grad_(False)
batch = torch.randn(16, 3) + 5.0

batch_norm(batch)
# the statistics moved, by momentum 0.1 from 0 towards the batch mean
assert torch.allclose(batch_norm.running_mean, 0.1 * batch.mean(dim=0))
print("running_mean after one train-mode forward:", batch_norm.running_mean)

batch_norm.eval()
frozen_mean = batch_norm.running_mean.clone()
batch_norm(batch)
# eval() stops the updates
assert torch.equal(batch_norm.running_mean, frozen_mean)

# a later model.train() reaches every submodule...
nn.Sequential(batch_norm).train()
assert batch_norm.training  # ...and turns the updates back on
# --8<-- [end:freeze_bn]
