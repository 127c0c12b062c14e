# %% [markdown]
# # 03 Autograd basics: requires_grad, backward, accumulation, backward(v) =
# vᵀJ, no_grad Book page: autograd/autograd-basics

# %%
# --8<-- [start:requires-grad]
import torch
from pytorch_notes import expect_error

x = torch.tensor([1.0, 2.0, 3.0])  # data: not tracked (the default)
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)  # a parameter: tracked

y = w * x  # touches a tracked tensor, so it is tracked too
z = x * 2  # only untracked inputs: a plain tensor
assert not x.requires_grad and w.requires_grad
assert y.requires_grad and y.grad_fn is not None
assert not z.requires_grad and z.grad_fn is None
print(
    "y:", y.requires_grad, y.grad_fn.name(), "| z:", z.requires_grad, z.grad_fn
)

b = torch.zeros(3).requires_grad_()  # switch tracking on, in place
assert b.requires_grad

with expect_error(RuntimeError, "floating point and complex dtype"):
    torch.tensor([1, 2, 3], requires_grad=True)  # integers have no derivative
# --8<-- [end:requires-grad]

# %%
# --8<-- [start:backward]
a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(3.0, requires_grad=True)
loss = a * b + b**2  # L = ab + b²
assert a.grad is None and b.grad is None  # nothing computed yet

loss.backward()
assert loss.item() == 15.0
assert a.grad.item() == 3.0  # dL/da = b
assert b.grad.item() == 8.0  # dL/db = a + 2b
print(f"L = {loss.item()}   dL/da = {a.grad.item()}   dL/db = {b.grad.item()}")
# --8<-- [end:backward]

# %%
# --8<-- [start:accumulate]
w = torch.tensor([1.0, -2.0], requires_grad=True)
x = torch.tensor([3.0, 4.0])


def loss_fn():
    return (w * x).sum()  # dL/dw = x


loss_fn().backward()
assert torch.equal(w.grad, x)
loss_fn().backward()  # a second forward and backward, .grad not reset
assert torch.equal(w.grad, 2 * x)  # added to, not replaced
print("after two backward calls:", w.grad)

w.grad = None  # way 1: drop the gradient
loss_fn().backward()
assert torch.equal(w.grad, x)

w.grad.zero_()  # way 2: overwrite it with zeros, in place
assert torch.equal(w.grad, torch.zeros(2))

optimizer = torch.optim.SGD([w], lr=0.1)
optimizer.zero_grad()  # what a training loop calls: set_to_none=True by default
assert w.grad is None
# --8<-- [end:accumulate]


# %%
# --8<-- [start:forgot-zero]
def descend(steps, zero_grad):
    """Gradient descent on (w - 3)² from w = 0; return w at every step."""
    w = torch.tensor(0.0, requires_grad=True)
    trajectory = [w.item()]
    for _ in range(steps):
        if zero_grad:
            w.grad = None
        loss = (w - 3) ** 2
        loss.backward()
        with torch.no_grad():  # the update is not part of the model (see below)
            w -= 0.1 * w.grad
        trajectory.append(w.item())
    return trajectory


good = descend(30, zero_grad=True)
bad = descend(30, zero_grad=False)
assert abs(good[-1] - 3) < 0.01  # converges to the minimum at 3
assert max(bad) > 5.9 and min(bad[10:]) < 0.1  # swings between 0 and 6
assert max(abs(v - 3) for v in bad[-10:]) > 1  # ... and does not settle
print(f"with zeroing:    w = {good[-1]:.4f}")
print(f"without zeroing: w = {bad[-1]:.4f}")
# --8<-- [end:forgot-zero]

# %%
# --8<-- [start:forgot-zero-plot]
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(good, marker=".", label="w.grad = None\nevery step")
ax.plot(bad, marker=".", label="gradients left\nto accumulate")
ax.axhline(3, color="gray", linestyle="--", linewidth=1, label="minimum, w = 3")
ax.set(xlabel="step", ylabel="w")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.tight_layout()
# --8<-- [end:forgot-zero-plot]

# %%
# --8<-- [start:why-accumulate]
torch.manual_seed(0)
inputs, targets = torch.randn(8, 3), torch.randn(8)
w = torch.zeros(3, requires_grad=True)

((inputs @ w - targets) ** 2).sum().backward()  # the whole batch at once
full_batch = w.grad.clone()

w.grad = None
for chunk in range(0, 8, 2):  # four pieces of two samples, gradients added up
    part = slice(chunk, chunk + 2)
    ((inputs[part] @ w - targets[part]) ** 2).sum().backward()
assert torch.allclose(w.grad, full_batch)
print("full batch:", full_batch)
print("4 x 2     :", w.grad)
# --8<-- [end:why-accumulate]

# %%
# --8<-- [start:non-scalar]
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x**2  # two outputs: which number should be differentiated?
with expect_error(RuntimeError, "only for scalar outputs"):  # needs a vector v
    y.backward()
# --8<-- [end:non-scalar]

# %%
# --8<-- [start:vjp]
from torch.autograd.functional import jacobian


def f(x):
    """f: R² -> R³, f(x1, x2) = (x1² x2, x1 + 3 x2, x2³)."""
    x1, x2 = x
    return torch.stack([x1**2 * x2, x1 + 3 * x2, x2**3])


x = torch.tensor([1.0, 2.0], requires_grad=True)
J = jacobian(f, x)  # 3 x 2, J[i, j] = d f_i / d x_j
x1, x2 = x.tolist()
assert torch.allclose(
    J, torch.tensor([[2 * x1 * x2, x1**2], [1.0, 3.0], [0.0, 3 * x2**2]])
)

v = torch.tensor([1.0, 0.5, -1.0])
f(x).backward(v)
assert torch.allclose(x.grad, v @ J)  # backward(v) computes vᵀJ
print("x.grad =", x.grad, "  v @ J =", v @ J)

x.grad = None
(v * f(x)).sum().backward()  # the same thing, spelled as a scalar
assert torch.allclose(x.grad, v @ J)

x.grad = None
f(x).backward(torch.ones(3))  # v = all ones: the gradient of the sum
assert torch.allclose(x.grad, J.sum(dim=0))
# --8<-- [end:vjp]

# %%
# --8<-- [start:jacobian-rows]
rows = []
for e_i in torch.eye(3):  # e_0, e_1, e_2: pick one output at a time
    x.grad = None
    f(x).backward(e_i)  # e_iᵀJ = row i of J
    rows.append(x.grad.clone())
assert torch.allclose(torch.stack(rows), J)
print("J rebuilt with 3 backward passes:\n", torch.stack(rows))

from torch.autograd.graph import saved_tensors_hooks

big = torch.linspace(-1.0, 1.0, 1_000_000, requires_grad=True)
v_big = torch.rand(1_000_000, generator=torch.Generator().manual_seed(0))
saved = []  # the size of every tensor the graph keeps for backward
with saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
    squares = big**2
squares.backward(v_big)  # J would be 10^6 x 10^6 (4 TB), but it is never built
assert sum(saved) == 1_000_000  # the graph keeps x (for 2x), not 10^12 entries
# vᵀJ for a diagonal J
assert torch.allclose(big.grad, v_big * 2 * big.detach())
# --8<-- [end:jacobian-rows]

# %%
# --8<-- [start:no-grad]
w = torch.tensor([1.0, -2.0], requires_grad=True)

with torch.no_grad():
    y = w * 2  # computed, but not recorded
assert not y.requires_grad and y.grad_fn is None
# nothing was recorded, so there is nothing to differentiate
with expect_error(RuntimeError, "does not have a grad_fn"):
    y.sum().backward()


@torch.no_grad()  # the same switch, as a decorator
def predict(inputs):
    return inputs * w


assert not predict(torch.ones(2)).requires_grad
# --8<-- [end:no-grad]

# %%
# --8<-- [start:update]
(w**2).sum().backward()  # dL/dw = 2w = [2, -4]

# autograd refuses to record an in-place update of a leaf
with expect_error(RuntimeError, "leaf Variable that requires grad"):
    w -= 0.1 * w.grad  # an in-place change to a tracked leaf

with torch.no_grad():
    w -= 0.1 * w.grad  # the update is not part of the model: don't record it
assert torch.allclose(w, torch.tensor([0.8, -1.6]))
assert w.requires_grad and w.grad_fn is None  # still a trainable parameter
print("after one step:", w)
# --8<-- [end:update]

# %%
# --8<-- [start:inference-mode]
with torch.inference_mode():
    y = w * 2
assert not y.requires_grad and y.is_inference()

# an inference tensor cannot be saved for backward
with expect_error(RuntimeError, "cannot be saved for backward"):
    w * y  # autograd would have to save y for the backward pass

assert (w * y.clone()).requires_grad  # a clone made outside is a normal tensor
assert (w + y).requires_grad  # fine: the backward of + needs no saved input
# --8<-- [end:inference-mode]

# %%
# --8<-- [start:item]
loss = (w**2).sum()
value = loss.item()  # a plain Python number, with no graph attached
assert isinstance(value, float) and isinstance(loss, torch.Tensor)
assert loss.requires_grad and loss.grad_fn is not None

running_tensor, running_float = 0.0, 0.0
for step in range(3):
    loss = ((w * step) ** 2).sum()
    # a tensor: chains every step's graph
    running_tensor = running_tensor + loss
    running_float += loss.item()  # a float: the graphs can be freed
assert (
    isinstance(running_tensor, torch.Tensor)
    and running_tensor.grad_fn is not None
)
assert isinstance(running_float, float)
assert abs(running_float - running_tensor.item()) < 1e-5
w.grad = None
running_tensor.backward()  # reaches back through all three steps' graphs
assert torch.allclose(w.grad, 2 * w.detach() * (0 + 1 + 4))  # sum of 2w·step²
w.grad = None
print(f"running loss: {running_float:.4f}")

with expect_error(RuntimeError, "2 elements cannot be converted"):
    w.item()  # two elements: not one number
numbers = w.tolist()  # several elements: a Python list of floats
assert isinstance(numbers, list) and all(isinstance(n, float) for n in numbers)
print("w.tolist():", [round(n, 4) for n in numbers])
# --8<-- [end:item]
