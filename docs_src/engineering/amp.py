# %% [markdown]
# # Mixed precision (AMP)
# Book page: engineering/amp

# %%
# --8<-- [start:formats]
import torch

# exponent and mantissa bits
formats = {
    torch.float16: (5, 10),
    torch.bfloat16: (8, 7),
    torch.float32: (8, 23),
}
for dtype, (exponent_bits, mantissa_bits) in formats.items():
    info = torch.finfo(dtype)
    # sign + exponent + mantissa
    assert info.bits == 1 + exponent_bits + mantissa_bits
    # gap between 1 and the next number
    assert info.eps == 2.0**-mantissa_bits
    # smallest normal number
    assert info.tiny == 2.0 ** (2 - 2 ** (exponent_bits - 1))
    top = 2.0 ** (2 ** (exponent_bits - 1) - 1)
    assert info.max == (2 - 2.0**-mantissa_bits) * top
    print(
        f"{str(dtype):15s} max {info.max:9.3e}  tiny {info.tiny:9.3e}  "
        f"eps {info.eps:9.3e}"
    )

fp16, bf16, fp32 = (torch.finfo(d) for d in formats)
assert fp16.max == 65504
# bf16: fp32's range ...
assert bf16.tiny == fp32.tiny and bf16.max / fp32.max > 0.99
# ... with fewer mantissa bits
assert bf16.eps == 2**-7 == 2**16 * fp32.eps and bf16.eps == 8 * fp16.eps
# --8<-- [end:formats]

# %%
# --8<-- [start:overflow]
big = torch.tensor([60000.0, 65504.0, 65519.0, 65520.0, 1e5])
print("fp16:", big.half().tolist())
print("bf16:", big.bfloat16().tolist())
assert big.half()[:3].isfinite().all()  # 65519 still rounds down to 65504
assert big.half()[3:].isinf().all()  # from 65520 on: inf
# and so does any product past the top
assert (torch.tensor(65504.0, dtype=torch.float16) * 2).isinf()
# inf - inf: one overflow becomes NaN
assert (big.half()[3] - big.half()[4]).isnan()
assert big.bfloat16().isfinite().all()  # bf16 goes up to 3.4e38, like fp32

# The price of bf16's range: 8 significant bits (7 stored + 1 implicit).
assert torch.tensor(257.0).bfloat16().item() == 256  # 257 is not bf16
assert torch.tensor(257.0).half().item() == 257
one = torch.tensor(1.0, dtype=torch.bfloat16)
assert one + 1 / 256 == one and one + 1 / 128 != one
print(
    "257 in bf16:",
    torch.tensor(257.0).bfloat16().item(),
    "| 1 + 1/256 in bf16:",
    (one + 1 / 256).item(),
)

# 8 bits are 2 to 3 decimal digits: the round trip keeps "123" of 1234.5678.
assert torch.tensor(1234.5678).bfloat16().item() == 1232
assert torch.tensor(1234.5678).half().item() == 1235
torch.manual_seed(0)
values = torch.rand(10_000) * 1000 + 0.001
error = ((values.bfloat16().float() - values) / values).abs().max()
assert 2**-9 < error <= 2**-8  # relative error up to half the gap, 0.4 %
print(f"largest relative error of the bf16 round trip: {error:.4f}")
# --8<-- [end:overflow]


# %%
# --8<-- [start:master_weights]
def stochastic_bf16(x):
    """fp32 -> bf16, rounding up or down at random, in proportion."""
    noise = torch.randint_like(x, 2**16, dtype=torch.int32)
    bits = (x.view(torch.int32) + noise) & -(2**16)  # clear the low 16 bits
    return bits.view(torch.float32).bfloat16()  # exact: nothing left to round


torch.manual_seed(0)
master = torch.ones(1000)  # fp32 master weights
nearest = torch.ones(1000, dtype=torch.bfloat16)  # bf16, round to nearest
stochastic = torch.ones(1000, dtype=torch.bfloat16)  # bf16, stochastic
for _ in range(100):  # 100 updates of +0.001 each
    master += 1e-3
    nearest = (nearest.float() + 1e-3).bfloat16()
    stochastic = stochastic_bf16(stochastic.float() + 1e-3)
assert torch.allclose(master, torch.full((1000,), 1.1))
assert (nearest == 1).all()  # every single update was rounded away
assert abs(stochastic.float().mean() - 1.1) < 0.01  # kept, on average
print(
    f"after 100 updates of 0.001: fp32 {master[0]:.4f}, "
    f"bf16 {nearest[0].item():.4f}, "
    f"bf16 stochastic (mean) {stochastic.float().mean():.4f}"
)
# --8<-- [end:master_weights]

# %%
# --8<-- [start:underflow]
# gradients of a real network span many decades
grads = torch.tensor([1e-3, 1e-5, 1e-7, 2e-8, 1e-9])
print("fp16:", grads.half())
print("bf16:", grads.bfloat16())
smallest_fp16 = 2.0**-24  # the smallest subnormal fp16 number, about 6e-8
assert torch.tensor(smallest_fp16).half().item() == smallest_fp16
# below half of it: 0
assert torch.equal(grads.half()[3:], torch.zeros(2, dtype=torch.float16))
# subnormal: only a few bits left, 19 % off
assert abs(grads.half()[2].item() - 1e-7) / 1e-7 > 0.1
assert (grads.bfloat16() > 0).all()  # bf16 keeps them all (roughly)

# The same underflow in backward: an fp16 weight whose true gradient is 1e-8.
w = torch.ones(4, dtype=torch.float16, requires_grad=True)
x = torch.full((4,), 1e-5, dtype=torch.float16)
loss = (w * x).sum() * 1e-3  # dloss/dw = 1e-3 * x = 1e-8
loss.backward()
# the whole gradient is lost
assert torch.equal(w.grad, torch.zeros(4, dtype=torch.float16))
print("fp16 gradient of a 1e-8 slope:", w.grad.tolist())
# --8<-- [end:underflow]

# %%
# --8<-- [start:loss_scaling]
scale = 2.0**15
w.grad = None
((w * x).sum() * 1e-3 * scale).backward()  # backward of scale * loss
assert (w.grad > 0).all()  # scale * 1e-8 = 3.3e-4: a normal fp16 number
unscaled = w.grad.float() / scale  # in fp32, where 1e-8 is representable
true_grad = 1e-3 * x.float()
# the true gradient, to fp16 accuracy
assert torch.allclose(unscaled, true_grad, rtol=2e-3)
print(
    f"scaled fp16 grad: {w.grad[0].item():.3e} -> "
    f"unscaled in fp32: {unscaled[0].item():.3e}"
)

# The same scale on a gradient of 10 overflows: 10 * 2^15 > 65504.
# No fixed scale suits every step.
w.grad = None
((w * 10.0).sum() * scale).backward()
assert w.grad.isinf().all()
print("gradient 10 times scale 2^15 in fp16:", w.grad.tolist())
# --8<-- [end:loss_scaling]

# %%
# --8<-- [start:autocast]
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes import expect_error

torch.manual_seed(0)
linear = nn.Linear(8, 4)
x, target = torch.randn(16, 8), torch.randint(0, 4, (16,))

with torch.autocast("cpu", dtype=torch.bfloat16):
    logits = linear(x)  # runs in bf16 ...
    product = x @ x.T
    probs = logits.softmax(dim=-1)
    loss = F.cross_entropy(logits, target)  # ... the loss runs in fp32
    mse = F.mse_loss(logits, torch.zeros(16, 4))
assert logits.dtype == product.dtype == torch.bfloat16
assert loss.dtype == mse.dtype == torch.float32  # on autocast's fp32 list
# CPU: softmax follows its input (CUDA autocast puts it in fp32)
assert probs.dtype == torch.bfloat16
# autocast casts copies; nothing is changed in place
assert linear.weight.dtype == x.dtype == torch.float32
assert linear(x).dtype == torch.float32  # outside the block: plain fp32

loss.backward()
# the gradient has the parameter's dtype
assert linear.weight.grad.dtype == torch.float32
print(
    "linear:",
    logits.dtype,
    "| softmax:",
    probs.dtype,
    "| cross_entropy:",
    loss.dtype,
    "| weight:",
    linear.weight.dtype,
    "| weight.grad:",
    linear.weight.grad.dtype,
)

# A bf16 output that leaves the block meets fp32 weights: no autocast
# to reconcile them.
with expect_error(RuntimeError, "same dtype"):
    nn.Linear(4, 2)(logits)
# --8<-- [end:autocast]

# %%
# --8<-- [start:memory]
from pytorch_notes.memory import SavedTensorCounter

torch.manual_seed(0)
mlp = nn.Sequential(
    nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8)
)
batch = torch.randn(4096, 2)

with SavedTensorCounter(exclude=mlp.parameters()) as saved_fp32:
    mlp(batch)
with torch.autocast("cpu", dtype=torch.bfloat16):
    with SavedTensorCounter(exclude=mlp.parameters()) as saved_bf16:
        mlp(batch)
# bf16 copies of the weights that backward multiplies by
# (layers 2 and 3; layer 1's input needs no gradient)
weight_copies = 2 * (mlp[2].weight.numel() + mlp[4].weight.numel())
# every activation: 2 bytes, not 4
assert saved_bf16.nbytes == saved_fp32.nbytes // 2 + weight_copies
assert saved_bf16.nbytes < 0.51 * saved_fp32.nbytes
print(
    f"saved for backward: fp32 {saved_fp32.nbytes / 1e6:.2f} MB, "
    f"bf16 {saved_bf16.nbytes / 1e6:.2f} MB"
)
# --8<-- [end:memory]

# %%
# --8<-- [start:grad_scaler]
torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
x, y = torch.randn(32, 4), torch.randn(32, 1)


def scaled_step(poison=False):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    scaler.scale(loss).backward()  # gradients of 1024 * loss
    if poison:  # what an fp16 overflow leaves behind
        model.weight.grad[0, 0] = float("inf")
    before = model.weight.detach().clone()
    scaler.step(optimizer)  # unscale, check for inf/NaN, step if all finite
    scaler.update()  # adjust the scale for the next step
    return not torch.equal(before, model.weight.detach())


scales = []
assert scaled_step() and scaler.get_scale() == 2.0**10  # a good step
scales.append(scaler.get_scale())
# inf found: the step is skipped, weights unchanged ...
assert not scaled_step(poison=True)
assert scaler.get_scale() == 2.0**9  # ... and the scale is halved
scales.append(scaler.get_scale())
for _ in range(3):  # growth_interval = 3 good steps in a row ...
    assert scaled_step()
    scales.append(scaler.get_scale())
# ... and the scale doubles
assert scales == [2.0**10, 2.0**9, 2.0**9, 2.0**9, 2.0**10]
print("scale after each step:", scales)

# unscale_ by hand before clipping: dividing by a power of two is exact.
optimizer.zero_grad()
F.mse_loss(model(x), y).backward()
plain_grad = model.weight.grad.clone()
optimizer.zero_grad()
scaler.scale(F.mse_loss(model(x), y)).backward()
assert torch.allclose(model.weight.grad, plain_grad * scaler.get_scale())
scaler.unscale_(optimizer)
assert torch.equal(model.weight.grad, plain_grad)
before = model.weight.detach().clone()
scaler.step(optimizer)  # knows the gradients are unscaled: no 2nd division
scaler.update()
# a plain SGD step, lr = 0.1
assert torch.allclose(model.weight, before - 0.1 * plain_grad)
# --8<-- [end:grad_scaler]

# %%
# --8<-- [start:training]
from pytorch_notes.data import gaussian_ring

points, labels = gaussian_ring(n=512, modes=8, std=0.3, seed=0)


def train(dtype, steps=100):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(2, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, 8),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    use_bf16 = dtype == torch.bfloat16
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            loss = F.cross_entropy(net(points), labels)
        opt.zero_grad()
        loss.backward()  # outside autocast; gradients come out fp32
        opt.step()
        losses.append(loss.item())
    # fp32 master weights throughout
    assert all(p.dtype == torch.float32 for p in net.parameters())
    return losses


losses_fp32 = train(torch.float32)
losses_bf16 = train(torch.bfloat16)
assert losses_bf16[-1] < losses_bf16[0] / 4  # bf16 training learns
assert abs(losses_bf16[-1] - losses_fp32[-1]) < 0.05  # and ends where fp32 ends
print(
    f"loss: fp32 {losses_fp32[0]:.3f} -> {losses_fp32[-1]:.3f}, "
    f"bf16 {losses_bf16[0]:.3f} -> {losses_bf16[-1]:.3f}"
)
# --8<-- [end:training]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axis = plt.subplots(figsize=(6, 3.5))
axis.plot(losses_fp32, label="fp32")
axis.plot(losses_bf16, label="bf16 autocast", linestyle="--")
axis.set_yscale("log")
axis.set_xlabel("step")
axis.set_ylabel("cross-entropy")
axis.set_title("8-way ring classification on the CPU")
axis.legend()
fig.tight_layout()
# --8<-- [end:plot]
