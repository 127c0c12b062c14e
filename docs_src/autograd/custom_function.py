# %% [markdown]
# # 08 Custom autograd.Function: ReLU, straight-through estimator, multi-input,
# gradcheck Book page: autograd/custom-function

# %%
# --8<-- [start:relu]
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)  # keep what backward will need
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x > 0)  # dL/dx = dL/dy * 1[x > 0]


x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
y = MyReLU.apply(x)  # call .apply, never forward() directly
# an upstream gradient dL/dy = [1, 2, 3, 4, 5]
y.backward(torch.arange(1.0, 6.0))

x_ref = x.detach().clone().requires_grad_()
torch.relu(x_ref).backward(torch.arange(1.0, 6.0))

assert torch.equal(y, torch.relu(x_ref))
assert torch.equal(x.grad, x_ref.grad)  # 0 at x = 0, like torch.relu
# the whole function is one node
assert type(y.grad_fn).__name__ == "MyReLUBackward"
print("output:  ", y)
print("x.grad:  ", x.grad)
print("grad_fn: ", type(y.grad_fn).__name__)
# --8<-- [end:relu]

# %%
# --8<-- [start:saved_tensors]
from pytorch_notes import expect_error

a = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
hidden = a * 1.0  # an intermediate tensor, not a leaf
out = MyReLU.apply(hidden)  # saves hidden at version 0
hidden.add_(1.0)  # an in-place change: hidden is now at version 1

with expect_error(RuntimeError, "modified by an inplace operation"):
    out.sum().backward()
# --8<-- [end:saved_tensors]

# %%
# --8<-- [start:gradcheck_relu]
from torch.autograd import gradcheck

# no zero in it
x = torch.linspace(-2.0, 2.0, 10, dtype=torch.float64, requires_grad=True)
assert not (x == 0).any()
assert gradcheck(MyReLU.apply, (x,))
print("gradcheck away from 0: passed")

# At the kink x = 0 the central difference sees half of each side.
kink = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
h = 1e-6
central = (MyReLU.apply(kink + h) - MyReLU.apply(kink - h)) / (2 * h)
assert torch.allclose(central, torch.tensor([0.5], dtype=torch.float64))
assert not gradcheck(MyReLU.apply, (kink,), raise_exception=False)
print("at x = 0: finite difference", central.item(), "but backward says 0")
# --8<-- [end:gradcheck_relu]

# %%
# --8<-- [start:wrong_backward]
from torch.autograd.gradcheck import GradcheckError


class WrongReLU(MyReLU):
    @staticmethod
    def backward(ctx, grad_output):
        return grad_output  # bug: forgot the mask 1[x > 0]


two_points = torch.tensor([-1.0, 2.0], dtype=torch.float64, requires_grad=True)
with expect_error(GradcheckError, "Jacobian mismatch") as mismatch:
    gradcheck(WrongReLU.apply, (two_points,))
# both Jacobians
print("\n".join(str(mismatch.error).rstrip().splitlines()[1:]))
# --8<-- [end:wrong_backward]


# %%
# --8<-- [start:ste]
class RoundSTE(torch.autograd.Function):
    """Forward: round. Backward: pretend the rounding was the identity."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output  # d round(x)/dx taken as 1


x = torch.tensor([-1.7, -0.6, 0.4, 1.2, 2.6], requires_grad=True)
torch.round(x).sum().backward()
# the true derivative: 0 almost everywhere
assert torch.equal(x.grad, torch.zeros(5))
print("torch.round grad:", x.grad)

x.grad = None
y = RoundSTE.apply(x)
y.sum().backward()
assert torch.equal(y, torch.round(x))  # same forward...
# ...but the gradient passes straight through
assert torch.equal(x.grad, torch.ones(5))
print("RoundSTE output: ", y)
print("RoundSTE grad:   ", x.grad)

# The same estimator without a Function: forward value round(x), gradient of x.
x.grad = None
y_detach = x + (torch.round(x) - x).detach()
y_detach.sum().backward()
assert torch.equal(y_detach, y) and torch.equal(x.grad, torch.ones(5))
# --8<-- [end:ste]


# %%
# --8<-- [start:ste_clipped]
class SignSTE(torch.autograd.Function):
    """sign(x) forward; gradient passed through only where |x| <= 1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x.abs() <= 1)


x = torch.tensor([-3.0, -0.8, 0.3, 1.0, 2.5], requires_grad=True)
y = SignSTE.apply(x)
y.sum().backward()
assert torch.equal(y, torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0]))
assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))
print("SignSTE grad:", x.grad)
# --8<-- [end:ste_clipped]

# %%
# --8<-- [start:ste_training]
from pytorch_notes import line_data

x, y = line_data(n=100, slope=2.0, intercept=1.0, noise=0.1, seed=0)


def quantize(w, rounding, step=0.25):
    """Snap w to the grid ..., 1.75, 2.0, 2.25, ..."""
    return rounding(w / step) * step


def fit(rounding, steps=100):
    w = torch.tensor(0.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((quantize(w, rounding) * x + b - y) ** 2).mean()
        loss.backward()
        optimizer.step()
    return w.item(), quantize(w, torch.round).item(), loss.item()


results = {"torch.round": fit(torch.round), "RoundSTE": fit(RoundSTE.apply)}
for name, (w, w_quantized, loss) in results.items():
    print(
        f"{name:12s} w = {w:.4f}  quantized w = {w_quantized:.2f}  "
        f"loss = {loss:.4f}"
    )

w_round, _, loss_round = results["torch.round"]
_, w_quantized_ste, loss_ste = results["RoundSTE"]
assert w_round == 0.0  # w never moved: its gradient was always 0
assert w_quantized_ste == 2.0  # the quantized slope found the true slope
assert loss_ste < loss_round / 100
# Only b learned: the best constant is mean(y), which leaves y's variance.
assert abs(loss_round - y.var(unbiased=False).item()) < 1e-3
assert abs(loss_ste - 0.1**2) < 0.1 * 0.1**2  # the noise variance, as in 01
# --8<-- [end:ste_training]

# %%
# --8<-- [start:multi_input]
needs_seen = []  # what backward was asked for, kept for the demo below


class ScaledMulSin(torch.autograd.Function):
    """f(x, y, scale) = scale * x * y + sin(x); scale is a Python float."""

    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)  # tensors: save_for_backward
        ctx.scale = scale  # anything else: a plain attribute
        return scale * x * y + torch.sin(x)

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        needs_seen.append(ctx.needs_input_grad)
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output * (ctx.scale * y + torch.cos(x))
        if ctx.needs_input_grad[1]:
            grad_y = grad_output * ctx.scale * x
        return grad_x, grad_y, None  # one per forward input; None for scale


torch.manual_seed(0)
x = torch.randn(4, dtype=torch.float64, requires_grad=True)
y = torch.randn(4, dtype=torch.float64, requires_grad=True)
ScaledMulSin.apply(x, y, 3.0).sum().backward()

x_ref, y_ref = (
    x.detach().clone().requires_grad_(),
    y.detach().clone().requires_grad_(),
)
(3.0 * x_ref * y_ref + torch.sin(x_ref)).sum().backward()
assert torch.allclose(x.grad, x_ref.grad) and torch.allclose(y.grad, y_ref.grad)
assert gradcheck(ScaledMulSin.apply, (x, y, 3.0))
print("needs_input_grad, both inputs trainable:", needs_seen[-1])

# y as a constant: backward is told, and skips grad_y.
ScaledMulSin.apply(x, y.detach(), 3.0).sum().backward()
assert needs_seen[-1] == (True, False, False)
print("needs_input_grad, y constant:           ", needs_seen[-1])
# --8<-- [end:multi_input]

# %%
# --8<-- [start:gradgradcheck]
from torch.autograd import gradgradcheck

inputs = (x, y, 3.0)
# second derivatives are right too
assert gradgradcheck(ScaledMulSin.apply, inputs)
print("ScaledMulSin: gradgradcheck passed")


class DetachedMulSin(ScaledMulSin):
    @staticmethod
    def backward(ctx, grad_output):
        # cuts backward off the graph
        x, y = (t.detach() for t in ctx.saved_tensors)
        return (
            grad_output * (ctx.scale * y + torch.cos(x)),
            grad_output * ctx.scale * x,
            None,
        )


# first derivatives still right...
assert gradcheck(DetachedMulSin.apply, inputs)
# ...second not
assert not gradgradcheck(DetachedMulSin.apply, inputs, raise_exception=False)
print("DetachedMulSin: gradcheck passed, gradgradcheck failed")
# --8<-- [end:gradgradcheck]


# %%
# --8<-- [start:setup_context]
class Cube(torch.autograd.Function):
    generate_vmap_rule = True  # let torch.func.vmap batch it automatically

    @staticmethod
    def forward(x):  # no ctx here
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x**2


t = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
Cube.apply(t).sum().backward()  # the usual way still works
assert torch.allclose(t.grad, 3 * t.detach() ** 2)
assert gradcheck(Cube.apply, (t,))

grad_cube = torch.func.grad(Cube.apply)  # d(x^3)/dx for a scalar x
per_element = torch.func.vmap(grad_cube)(t.detach())  # ...mapped over a batch
assert torch.allclose(per_element, 3 * t.detach() ** 2)
print("vmap(grad(Cube)):", per_element)

# the classic style does not work with torch.func
with expect_error(RuntimeError, "setup_context"):
    torch.func.grad(MyReLU.apply)(torch.tensor(1.0))
# --8<-- [end:setup_context]
