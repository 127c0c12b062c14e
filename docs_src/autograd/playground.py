# %% [markdown]
# # 01 Playground: PyTorch, a derivative and a Jacobian in five minutes
# Book page: autograd/playground

# %%
# --8<-- [start:environment]
import torch
from pytorch_notes import available_devices, pick_device

device = pick_device()  # CUDA if there is a GPU, then Apple's MPS, else the CPU
assert torch.__version__ >= "2.6"  # the oldest PyTorch this book supports
assert isinstance(device, torch.device) and device.type in available_devices()
print("torch", torch.__version__)
print("devices here:", available_devices(), "| this page uses:", device)
# --8<-- [end:environment]

# %%
# --8<-- [start:tensor]
a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
assert (
    a.shape == (2, 2)
    and a.dtype == torch.float32
    and a.device.type == device.type
)
print(
    "shape:",
    tuple(a.shape),
    "| dtype:",
    a.dtype,
    "| device type:",
    a.device.type,
)
print("a @ a =", (a @ a).tolist())
# --8<-- [end:tensor]

# %%
# --8<-- [start:derivative]
# record what happens to x
x = torch.tensor(2.0, device=device, requires_grad=True)
y = x**2 + 3 * x  # y(2) = 4 + 6 = 10
y.backward()  # compute dy/dx and store it in x.grad

assert y.item() == 10.0
assert x.grad.item() == 2 * 2.0 + 3  # dy/dx = 2x + 3 = 7
assert x.grad.device == x.device  # the gradient lives where x lives
print(f"y = {y.item()}   dy/dx = {x.grad.item()}")
# --8<-- [end:derivative]

# %%
# --8<-- [start:curve]
xs = torch.linspace(-4.0, 1.0, 41, requires_grad=True)  # 41 points, 0.125 apart
ys = xs**2 + 3 * xs
# ys[i] depends on xs[i] only, so this gives every dy/dx at once
ys.sum().backward()

values = xs.detach()  # the numbers, without the autograd record (chapter 04)
assert torch.allclose(xs.grad, 2 * values + 3)
lowest = ys.argmin().item()
# the minimum: slope zero
assert values[lowest] == -1.5 and xs.grad[lowest] == 0.0
for i in (0, lowest, 40):
    print(
        f"x = {values[i]:5.2f}   y = {ys[i]:6.3f}   dy/dx = {xs.grad[i]:5.2f}"
    )
# --8<-- [end:curve]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(values, ys.detach(), label="y = x² + 3x")
ax.plot(values, xs.grad, label="dy/dx from autograd")
ax.scatter(
    [-1.5],
    [ys[lowest].item()],
    color="C3",
    zorder=3,
    label="slope 0: the minimum",
)
ax.axhline(0, color="gray", linewidth=0.5)
ax.set(xlabel="x")
ax.legend()
fig.tight_layout()
# --8<-- [end:plot]


# %%
# --8<-- [start:check]
def numerical_derivative(f, x, h=1e-6):
    """Central difference (f(x + h) - f(x - h)) / 2h: no autograd involved."""
    return (f(x + h) - f(x - h)) / (2 * h)


def wave(x):
    return torch.sin(x) * torch.exp(-(x**2) / 2)


# float64: see the tip
x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
wave(x).backward()
estimate = numerical_derivative(wave, x.detach())
# product + chain rule
formula = (torch.cos(x) - x * torch.sin(x)) * torch.exp(-(x**2) / 2)

assert torch.isclose(x.grad, estimate, rtol=0, atol=1e-9)  # nine decimal places
assert torch.isclose(x.grad, formula, rtol=1e-12)
print(f"autograd   {x.grad.item():.10f}")
print(f"numerical  {estimate.item():.10f}")
print(f"formula    {formula.item():.10f}")

# the same recipe in float32
rough = numerical_derivative(wave, x.detach().float())
# rounding error swamps the answer
assert abs(rough.item() - x.grad.item()) > 0.01
print(f"numerical in float32: {rough.item():.10f}")
# --8<-- [end:check]

# %%
# --8<-- [start:jacobian]
import math
from torch.autograd.functional import jacobian


def g(x):
    """g(x1, x2) = (x1² x2, 5 x1 + sin x2): two inputs, two outputs."""
    x1, x2 = x
    return torch.stack([x1**2 * x2, 5 * x1 + torch.sin(x2)])


point = torch.tensor([1.0, 2.0])
J = jacobian(g, point)  # J[i, j] = d g_i / d x_j

x1, x2 = point.tolist()
by_hand = torch.tensor([[2 * x1 * x2, x1**2], [5.0, math.cos(x2)]])
assert J.shape == (2, 2)
assert torch.allclose(J, by_hand)
print("Jacobian at (1, 2):\n", J)

# Row 0 of J is the gradient of the first output alone.
p = point.clone().requires_grad_()
g(p)[0].backward()
assert torch.allclose(p.grad, J[0])
# --8<-- [end:jacobian]
