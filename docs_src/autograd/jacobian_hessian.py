# %% [markdown]
# # 06 Jacobian and higher order: VJP, JVP, Jacobian, Hessian, Newton
# Book page: autograd/jacobian-hessian

# %%
# --8<-- [start:jacobian]
import torch
from torch.autograd.functional import jacobian


def f(x):  # R^3 -> R^2
    return torch.stack([x[0] ** 2 * x[1], 5 * x[0] + torch.sin(x[2])])


x = torch.tensor([1.0, 2.0, 3.0])
J_by_hand = torch.tensor(
    [
        [2 * x[0] * x[1], x[0] ** 2, 0.0],  # d f_0 / d(x_0, x_1, x_2)
        [5.0, 0.0, torch.cos(x[2])],  # d f_1 / d(x_0, x_1, x_2)
    ]
)
J = jacobian(f, x)

assert J.shape == (2, 3)  # m x n: one row per output, one column per input
assert torch.allclose(J, J_by_hand)
print("J =\n", J)
# --8<-- [end:jacobian]

# %%
# --8<-- [start:rows]
x_leaf = x.clone().requires_grad_()
y = f(x_leaf)  # one forward pass, kept for several backward passes
rows = []
for i in range(y.numel()):
    e_i = torch.zeros_like(y)
    e_i[i] = 1.0
    # e_i^T J
    (row,) = torch.autograd.grad(y, x_leaf, grad_outputs=e_i, retain_graph=True)
    rows.append(row)

assert torch.allclose(torch.stack(rows), J)

v = torch.tensor([2.0, -1.0])
# what y.backward(v) accumulates
(vT_J,) = torch.autograd.grad(y, x_leaf, grad_outputs=v)
assert torch.allclose(vT_J, v @ J)
print("row 0 from a VJP:", rows[0])
print("v^T J            :", vT_J)
# --8<-- [end:rows]

# %%
# --8<-- [start:vjp_jvp]
import torch.func
from torch.autograd.functional import jvp, vjp

u = torch.tensor([1.0, 0.5, -2.0])  # a direction in input space (n = 3)

_, vjp_value = vjp(f, x, v)  # v^T J: one backward pass
_, jvp_value = jvp(f, x, u)  # J u:   one forward pass
assert torch.allclose(vjp_value, v @ J)
assert torch.allclose(jvp_value, J @ u)

# torch.func: the same ideas as composable function transforms.
y, vjp_fn = torch.func.vjp(f, x)  # returns the output and a function v -> v^T J
(vjp_func,) = vjp_fn(v)
_, jvp_func = torch.func.jvp(f, (x,), (u,))
assert torch.allclose(vjp_func, vjp_value) and torch.allclose(
    jvp_func, jvp_value
)

J_rev = torch.func.jacrev(f)(x)  # all rows: VJPs with the rows of the identity
# all columns: JVPs with the columns of the identity
J_fwd = torch.func.jacfwd(f)(x)
J_fwd_functional = jacobian(f, x, vectorize=True, strategy="forward-mode")
assert (
    torch.allclose(J_rev, J)
    and torch.allclose(J_fwd, J)
    and torch.allclose(J_fwd_functional, J)
)
print("v^T J =", vjp_value, "  J u =", jvp_value)
# --8<-- [end:vjp_jvp]


# %%
# --8<-- [start:cost]
class CountPasses(torch.autograd.Function):
    """Identity on f's output; counts the passes autograd runs through it."""

    backward_passes = 0
    forward_passes = 0  # forward-mode passes: tangents pushed through (JVPs)

    @staticmethod
    def forward(y):
        return y.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad_y):
        CountPasses.backward_passes += 1
        return grad_y

    @staticmethod
    def jvp(ctx, tangent_y):
        CountPasses.forward_passes += 1
        return tangent_y


def jacobian_reverse(f, x):
    """Row by row: one VJP (one backward pass) per output."""
    y, vjp_fn = torch.func.vjp(f, x)
    return torch.stack([vjp_fn(e)[0] for e in torch.eye(y.numel())])


def jacobian_forward(f, x):
    """Column by column: one JVP (one forward pass with a tangent) per input."""
    columns = [torch.func.jvp(f, (x,), (e,))[1] for e in torch.eye(x.numel())]
    return torch.stack(columns, dim=1)


def wide(x):  # R^300 -> R^2, shaped like a loss: many inputs, few outputs
    return torch.stack([(x**2).sum(), torch.sin(x).sum()])


def tall(t):  # R^2 -> R^300, e.g. a curve sampled at 300 points
    k = torch.linspace(0, 1, 300)
    return t[0] * torch.cos(k * t[1])


x_wide = torch.randn(300, generator=torch.Generator().manual_seed(0))
t_tall = torch.tensor([1.5, 4.0])
for name, g, inputs in [("wide", wide, x_wide), ("tall", tall, t_tall)]:

    def counted(x, g=g):
        return CountPasses.apply(g(x))

    CountPasses.backward_passes = CountPasses.forward_passes = 0
    J_r = jacobian_reverse(counted, inputs)
    J_f = jacobian_forward(counted, inputs)
    m, n = J_r.shape
    assert torch.allclose(J_r, J_f, atol=1e-6)
    assert CountPasses.backward_passes == m  # reverse mode: one pass per output
    assert CountPasses.forward_passes == n  # forward mode: one pass per input
    print(
        f"{name}: J is {m} x {n}; reverse mode "
        f"{CountPasses.backward_passes} backward passes, forward mode "
        f"{CountPasses.forward_passes} forward passes"
    )
# --8<-- [end:cost]

# %%
# --8<-- [start:higher]
import math

x = torch.linspace(-math.pi, math.pi, 101, requires_grad=True)
derivative = torch.sin(x)
derivatives = [derivative]
for _ in range(4):
    # sin acts elementwise, so the gradient of the sum holds each point's
    # derivative
    (derivative,) = torch.autograd.grad(derivative.sum(), x, create_graph=True)
    derivatives.append(derivative)

expected = [
    torch.sin(x),
    torch.cos(x),
    -torch.sin(x),
    -torch.cos(x),
    torch.sin(x),
]
for order, (got, want) in enumerate(zip(derivatives, expected)):
    assert torch.allclose(got, want, atol=1e-6), order
print(
    "at x = pi/2 (index 75), derivatives 1 to 4:",
    # + 0.0 turns -0.0 into 0.0
    [round(d[75].item(), 4) + 0.0 for d in derivatives[1:]],
)

# Without create_graph the result is a plain tensor: nothing to differentiate
# again.
(first,) = torch.autograd.grad(torch.sin(x).sum(), x)
assert not first.requires_grad and derivatives[1].requires_grad
# --8<-- [end:higher]

# %%
# --8<-- [start:plot_derivatives]
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
labels = ["sin x", "1st: cos x", "2nd: -sin x", "3rd: -cos x"]
for d, label in zip(derivatives, labels):
    ax.plot(x.detach(), d.detach(), label=label)
ax.set(xlabel="x", title="sin x and its derivatives, by repeated autograd")
ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
fig.tight_layout()
# --8<-- [end:plot_derivatives]

# %%
# --8<-- [start:hessian]
from torch.autograd.functional import hessian

generator = torch.Generator().manual_seed(0)
A = torch.randn(3, 3, dtype=torch.float64, generator=generator)  # not symmetric
b = torch.randn(3, dtype=torch.float64, generator=generator)
S = (A + A.T) / 2  # the symmetric part of A


def quadratic(x):
    return 0.5 * x @ A @ x + b @ x


x0 = torch.randn(3, dtype=torch.float64, generator=generator)

# The Hessian is the Jacobian of the gradient: differentiate each gradient entry
# again.
x_leaf = x0.clone().requires_grad_()
(gradient,) = torch.autograd.grad(quadratic(x_leaf), x_leaf, create_graph=True)
H_rows = [
    torch.autograd.grad(gradient[i], x_leaf, retain_graph=True)[0]
    for i in range(3)
]
H_by_double_backward = torch.stack(H_rows)

assert torch.allclose(gradient, S @ x0 + b)  # grad = (A + A^T)/2 x + b
assert torch.allclose(H_by_double_backward, S)  # H = (A + A^T)/2, not A
assert torch.allclose(hessian(quadratic, x0), S)
assert torch.allclose(torch.func.hessian(quadratic)(x0), S)
# what func.hessian does
assert torch.allclose(torch.func.jacfwd(torch.func.jacrev(quadratic))(x0), S)
# Hessians are symmetric
assert torch.allclose(H_by_double_backward, H_by_double_backward.T)
assert not torch.allclose(S, A)
print("A =\n", A)
print("H = (A + A^T) / 2 =\n", torch.func.hessian(quadratic)(x0))
# --8<-- [end:hessian]

# %%
# --8<-- [start:hvp]
from torch.autograd.functional import hvp

v = torch.randn(3, dtype=torch.float64, generator=generator)

# Reverse over reverse: differentiate (grad f . v), a scalar, once more.
(gradient,) = torch.autograd.grad(quadratic(x_leaf), x_leaf, create_graph=True)
(Hv,) = torch.autograd.grad(gradient @ v, x_leaf)
assert torch.allclose(Hv, S @ v)

_, Hv_functional = hvp(quadratic, x0, v)
_, Hv_forward_over_reverse = torch.func.jvp(
    torch.func.grad(quadratic), (x0,), (v,)
)
assert torch.allclose(Hv_functional, S @ v) and torch.allclose(
    Hv_forward_over_reverse, S @ v
)
print("H v =", Hv)


# A million inputs: H would have 10^12 entries, H v costs two passes over 10^6
# numbers.
def quartic(x):  # sum(x^4) / 4: gradient x^3, Hessian diag(3 x^2)
    return (x**4).sum() / 4


big_x = torch.randn(1_000_000, dtype=torch.float64, generator=generator)
big_v = torch.randn(1_000_000, dtype=torch.float64, generator=generator)
_, big_Hv = torch.func.jvp(torch.func.grad(quartic), (big_x,), (big_v,))
assert torch.allclose(big_Hv, 3 * big_x**2 * big_v)
print(
    f"H v for n = {big_x.numel():,} without building H; first entries:",
    [round(h, 4) for h in big_Hv[:3].tolist()],
)
# --8<-- [end:hvp]

# %%
# --8<-- [start:newton]
# symmetric positive definite
A_bowl = torch.tensor([[3.0, 1.0], [1.0, 0.5]], dtype=torch.float64)
b_bowl = torch.tensor([-2.0, -0.5], dtype=torch.float64)


def bowl(x):
    return 0.5 * x @ A_bowl @ x + b_bowl @ x


x_min = torch.linalg.solve(A_bowl, -b_bowl)  # the minimum: gradient A x + b = 0


def newton_step(f, x):
    g = torch.func.grad(f)(x)
    H = torch.func.hessian(f)(x)
    return x - torch.linalg.solve(H, g)  # x - H^{-1} g, without forming H^{-1}


start = torch.tensor([-2.0, 2.0], dtype=torch.float64)
x_newton = newton_step(bowl, start)
assert torch.allclose(x_newton, x_min)  # one step lands on -A^{-1} b
assert torch.allclose(
    torch.func.grad(bowl)(x_newton), torch.zeros(2, dtype=torch.float64)
)

# Gradient descent, same start, lr = 1/lambda_max (stable below 2/lambda_max).
eigenvalues = torch.linalg.eigvalsh(A_bowl)  # ascending
lr = 1 / eigenvalues.max()
path = [start]
for _ in range(20):
    path.append(path[-1] - lr * torch.func.grad(bowl)(path[-1]))
path = torch.stack(path)
# Each step multiplies the error by (I - lr A): directions with small
# eigenvalues crawl.
contraction = torch.eye(2, dtype=torch.float64) - lr * A_bowl
assert torch.allclose(
    path[-1] - x_min,
    torch.linalg.matrix_power(contraction, 20) @ (start - x_min),
)
slow_factor = 1 - eigenvalues.min() / eigenvalues.max()
assert abs(eigenvalues.max() / eigenvalues.min() - 22.5) < 0.1
# Measure the error along each eigenvector (columns of V: slow, fast).
V = torch.linalg.eigh(A_bowl).eigenvectors
before, after = V.T @ (start - x_min), V.T @ (path[-1] - x_min)
assert after[1].abs() < 1e-9  # lr = 1/lambda_max: fast direction solved
kept = (after[0] / before[0]).item()  # the slow direction's share still left
assert abs(kept - slow_factor.item() ** 20) < 1e-9 and abs(kept - 0.40) < 0.01
gd_distance = (path[-1] - x_min).norm().item()
print("minimum -A^{-1} b  :", x_min)
print("one Newton step    :", x_newton)
print(f"20 gradient steps  : {path[-1]}  (still {gd_distance:.2f} away)")
# --8<-- [end:newton]

# %%
# --8<-- [start:plot_newton]
grid = torch.linspace(-3, 3, 121, dtype=torch.float64)
X1, X2 = torch.meshgrid(grid, grid, indexing="xy")
points = torch.stack([X1, X2], dim=-1)
values = (
    0.5 * torch.einsum("...i,ij,...j->...", points, A_bowl, points)
    + points @ b_bowl
)

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.contour(X1, X2, values, levels=20, cmap="viridis", linewidths=0.8)
ax.plot(
    path[:, 0],
    path[:, 1],
    "o-",
    color="C1",
    markersize=3,
    label="20 gradient descent steps",
)
ax.annotate(
    "",
    xy=x_newton.tolist(),
    xytext=start.tolist(),
    arrowprops=dict(arrowstyle="->", color="C3", linewidth=2),
)
ax.plot(
    *x_min.tolist(),
    "*",
    color="C3",
    markersize=14,
    label="minimum = one Newton step",
)
ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
# --8<-- [end:plot_newton]
