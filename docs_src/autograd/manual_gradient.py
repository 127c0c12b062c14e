# %% [markdown]
# # 02 Manual gradient: fit y = 2x + 1 with the chain rule by hand
# Book page: autograd/manual-gradient

# %%
# --8<-- [start:data]
import torch
from pytorch_notes import line_data

x, y = line_data(n=100, slope=2.0, intercept=1.0, noise=0.1, seed=0)
assert x.shape == y.shape == (100, 1)
# close to the line: the noise is small
assert (y - (2 * x + 1)).abs().max() < 0.4
print("x:", tuple(x.shape), "y:", tuple(y.shape))
print("first three (x, y) points:\n", torch.cat([x[:3], y[:3]], dim=1))
# --8<-- [end:data]


# %%
# --8<-- [start:grads]
def loss_and_grads(w, b, x, y):
    """Mean squared error and its gradient, by hand with the chain rule."""
    residual = w * x + b - y  # r_i = w x_i + b - y_i
    loss = (residual**2).mean()  # L = mean(r_i^2)
    dw = (2 * residual * x).mean()  # dL/dw = mean(2 r_i x_i)
    db = (2 * residual).mean()  # dL/db = mean(2 r_i)
    return loss, dw, db


# Check the hand-derived gradient against autograd at one point.
w = torch.tensor(0.5, requires_grad=True)
b = torch.tensor(-0.3, requires_grad=True)
loss, dw, db = loss_and_grads(w, b, x, y)
loss.backward()
assert torch.allclose(dw, w.grad) and torch.allclose(db, b.grad)
print(f"by hand:  dw={dw.item():.4f}  db={db.item():.4f}")
print(f"autograd: dw={w.grad.item():.4f}  db={b.grad.item():.4f}")
# --8<-- [end:grads]

# %%
# --8<-- [start:descent]
w, b, lr = 0.0, 0.0, 0.1
history = []
for step in range(200):
    loss, dw, db = loss_and_grads(torch.tensor(w), torch.tensor(b), x, y)
    w, b = w - lr * dw.item(), b - lr * db.item()  # gradient descent step
    history.append(loss.item())
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}  w {w:.3f}  b {b:.3f}")

assert abs(w - 2.0) < 0.05 and abs(b - 1.0) < 0.05
assert history[-1] < history[0] / 100
print(f"learned w = {w:.3f}, b = {b:.3f}")

# The floor: the best any line can do (least squares, solved exactly)
# is what the noise leaves, its variance 0.1**2 = 0.01.
A = torch.cat([x, torch.ones_like(x)], dim=1)
best = ((A @ torch.linalg.lstsq(A, y).solution - y) ** 2).mean().item()
noise_power = ((y - (2 * x + 1)) ** 2).mean().item()  # left by the true line
assert abs(history[-1] - best) < 1e-3 * best  # descent reached the floor
assert best <= noise_power < 1.05 * best  # the true line is barely worse
assert abs(best - 0.1**2) < 0.1 * 0.1**2  # and the floor is the noise variance
print(
    f"final loss {history[-1]:.5f}, best line {best:.5f}, "
    f"true line {noise_power:.5f}"
)
# --8<-- [end:descent]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3))
left.plot(history)
left.set(xlabel="step", ylabel="MSE loss", yscale="log", title="Loss")
right.scatter(x.numpy(), y.numpy(), s=8, label="data")
right.plot(
    x.numpy(), (w * x + b).numpy(), color="C1", label=f"y = {w:.2f}x + {b:.2f}"
)
right.set(xlabel="x", ylabel="y", title="Fitted line")
right.legend()
fig.tight_layout()
# --8<-- [end:plot]
