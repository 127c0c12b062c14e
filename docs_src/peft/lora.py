# %% [markdown]
# # LoRA: low-rank adaptation of a frozen linear layer
# Book page: peft/lora

# %%
# --8<-- [start:update]
import torch
import torch.nn as nn

torch.manual_seed(0)
d_in, d_out, r, alpha = 6, 5, 2, 4.0
W0 = torch.randn(d_out, d_in)  # the pretrained weight, frozen
A = torch.randn(r, d_in)  # down-projection: d_in -> r
B = torch.randn(d_out, r)  # up-projection:   r -> d_out
scaling = alpha / r

W = W0 + scaling * B @ A
x = torch.randn(3, d_in)
# Two ways to compute the same output: with the merged W, or with W0 plus the
# factored branch.
assert torch.allclose(x @ W.T, x @ W0.T + scaling * (x @ A.T @ B.T), atol=1e-5)

# BA is a product through an r-dimensional bottleneck: its rank is at most r.
assert (B @ A).shape == (d_out, d_in)
assert torch.linalg.matrix_rank(B @ A) == r < min(d_in, d_out)
assert torch.linalg.matrix_rank(W - W0) <= r
print(
    "rank of W0:",
    torch.linalg.matrix_rank(W0).item(),
    "| rank of W - W0:",
    torch.linalg.matrix_rank(W - W0).item(),
)
# --8<-- [end:update]

# %%
# --8<-- [start:by_hand]
import math

torch.manual_seed(0)
base = nn.Linear(16, 8)  # stands in for a pretrained layer
base.requires_grad_(False)  # W0 and the bias are frozen
r, alpha = 4, 8.0
A = nn.Parameter(torch.empty(r, 16))
# small random values, like nn.Linear weights
nn.init.kaiming_uniform_(A, a=math.sqrt(5))
B = nn.Parameter(torch.zeros(8, r))  # zero: the update BA starts at zero


def lora_forward(x):
    return base(x) + (x @ A.T @ B.T) * (alpha / r)


x = torch.randn(4, 16)
# at init: exactly the pretrained layer
assert torch.equal(lora_forward(x), base(x))

# Gradients, with G = dL/dy: dL/dB = s * G^T (x A^T) and dL/dA = s * B^T G^T x.
y = lora_forward(x)
y.pow(2).sum().backward()
G = 2 * y.detach()
s = alpha / r
assert torch.allclose(B.grad, s * G.T @ (x @ A.detach().T), atol=1e-5)
# B = 0, so A gets no gradient at step 1 ...
assert torch.equal(A.grad, torch.zeros_like(A))
assert B.grad.abs().sum() > 0  # ... but B does, and once B != 0, A learns too
assert base.weight.grad is None  # the frozen weight never gets a gradient

# The trap: start A at zero as well, and both gradients are zero forever.
A_zero = nn.Parameter(torch.zeros(r, 16))
B_zero = nn.Parameter(torch.zeros(8, r))
(base(x) + (x @ A_zero.T @ B_zero.T) * s).pow(2).sum().backward()
assert A_zero.grad.abs().sum() == 0 and B_zero.grad.abs().sum() == 0
print(
    "grad of A at init:",
    A.grad.abs().sum().item(),
    "| grad of B at init:",
    round(B.grad.abs().sum().item(), 2),
)
# --8<-- [end:by_hand]

# %%
# --8<-- [start:package]
from pytorch_notes.peft import LoRALinear

layer = LoRALinear(base, r=4, alpha=8)
assert layer.base is base and not base.weight.requires_grad
assert layer.lora_A.shape == (4, 16) and layer.lora_B.shape == (8, 4)
assert layer.scaling == 8 / 4
assert torch.equal(layer.lora_B, torch.zeros(8, 4))
# Kaiming uniform with a=sqrt(5): bound 1/sqrt(in)
assert layer.lora_A.abs().max() <= 1 / math.sqrt(16)
assert torch.equal(layer(x), base(x))

# Give the package layer and the hand-built one the same nonzero A and B: they
# agree.
torch.manual_seed(1)
with torch.no_grad():
    B.normal_()
    layer.lora_A.copy_(A)
    layer.lora_B.copy_(B)
assert torch.allclose(layer(x), lora_forward(x), atol=1e-6)
assert torch.allclose(layer.delta_weight(), (alpha / r) * B @ A)
W_effective = base.weight + layer.delta_weight()
assert torch.allclose(layer(x), x @ W_effective.T + base.bias, atol=1e-5)
print(layer)
# --8<-- [end:package]


# %%
# --8<-- [start:count]
def count(model, trainable):
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad == trainable
    )


big = LoRALinear(nn.Linear(512, 512), r=8, alpha=16)
assert count(big, trainable=True) == 8 * (512 + 512) == 8_192
# W0 and the bias
assert count(big, trainable=False) == 512 * 512 + 512 == 262_656
assert [name for name, p in big.named_parameters() if p.requires_grad] == [
    "lora_A",
    "lora_B",
]
print(
    f"trainable: {count(big, True):,} = "
    f"{count(big, True) / (512 * 512):.2%} of the 262,144 weights"
)

# The optimizer only needs (and only keeps state for) the trainable tensors.
optimizer = torch.optim.AdamW(
    [p for p in big.parameters() if p.requires_grad], lr=1e-3
)
assert (
    sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    == 8_192
)
# --8<-- [end:count]

# %%
# --8<-- [start:train]
import copy
import torch.nn.functional as F

torch.manual_seed(0)
pretrained = nn.Linear(32, 32)
# the new task differs by rank 2
true_change = 0.5 * torch.randn(32, 2) @ torch.randn(2, 32) / math.sqrt(32)
inputs = torch.randn(256, 32)
with torch.no_grad():
    targets = inputs @ (pretrained.weight + true_change).T + pretrained.bias


def fine_tune(model, inputs, targets, steps=100, lr=0.02):
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


lora = LoRALinear(copy.deepcopy(pretrained), r=4, alpha=8)
W0_before = lora.base.weight.clone()
lora_losses = fine_tune(lora, inputs, targets)

full = copy.deepcopy(pretrained)  # full fine-tuning: every weight trains
full_losses = fine_tune(full, inputs, targets)

assert lora_losses[-1] < 0.01 * lora_losses[0]  # LoRA learned the new task ...
assert torch.equal(lora.base.weight, W0_before)  # ... without touching W0
delta_lora = lora.delta_weight().detach()
delta_full = (full.weight - pretrained.weight).detach()
# still rank <= r after training
assert torch.linalg.matrix_rank(delta_lora) <= 4
assert full_losses[-1] < 0.01 * full_losses[0]  # full: a similar loss ...
# ... but its change has almost full rank: small, real values in most directions
assert torch.linalg.matrix_rank(delta_full) > 24
full_values = torch.linalg.svdvals(delta_full)
assert full_values[2] < 0.01 * full_values[1]  # beyond the top two: small
assert torch.linalg.svdvals(delta_lora)[4:].max() < 1e-5  # LoRA: rounding noise
# Both found the true rank-2 change: its two singular values, in the top two of
# each.
true_top2 = torch.linalg.svdvals(true_change)[:2]
assert torch.allclose(
    torch.linalg.svdvals(delta_lora)[:2], true_top2, rtol=0.01
)
assert torch.allclose(
    torch.linalg.svdvals(delta_full)[:2], true_top2, rtol=0.01
)
print(f"LoRA loss: {lora_losses[0]:.3f} -> {lora_losses[-1]:.1e}")
print(f"full loss: {full_losses[0]:.3f} -> {full_losses[-1]:.1e}")
print(
    "rank of the change: LoRA",
    torch.linalg.matrix_rank(delta_lora).item(),
    "| full",
    torch.linalg.matrix_rank(delta_full).item(),
)

# Not luck of one seed: new tasks, data and inits, the same outcome.
svdvals = torch.linalg.svdvals
for seed in (1, 2):
    torch.manual_seed(seed)
    base_s = nn.Linear(32, 32)
    change = 0.5 * torch.randn(32, 2) @ torch.randn(2, 32) / math.sqrt(32)
    x_s = torch.randn(256, 32)
    with torch.no_grad():
        y_s = x_s @ (base_s.weight + change).T + base_s.bias
    lora_s = LoRALinear(copy.deepcopy(base_s), r=4, alpha=8)
    full_s = copy.deepcopy(base_s)
    for losses in (fine_tune(lora_s, x_s, y_s), fine_tune(full_s, x_s, y_s)):
        assert losses[-1] < 0.01 * losses[0]
    sv_lora = svdvals(lora_s.delta_weight().detach())
    sv_full = svdvals((full_s.weight - base_s.weight).detach())
    assert sv_lora[4:].max() < 1e-5 and sv_full[2] < 0.01 * sv_full[1]
    for sv in (sv_lora, sv_full):
        assert torch.allclose(sv[:2], svdvals(change)[:2], rtol=0.01)
# --8<-- [end:train]

# %%
# --8<-- [start:scaling]
base_64 = nn.Linear(64, 64)
scales = {
    rank: LoRALinear(base_64, r=rank, alpha=16).scaling
    for rank in (4, 8, 16, 32)
}
# doubling r with alpha fixed halves alpha/r
assert scales == {4: 4.0, 8: 2.0, 16: 1.0, 32: 0.5}
for rank, scale in scales.items():
    print(f"r={rank:2d}, alpha=16 -> scaling {scale}")

# The scale multiplies the update and nothing else: same A and B, twice alpha,
# twice the change.
torch.manual_seed(0)
small, large = (
    LoRALinear(base_64, r=8, alpha=16),
    LoRALinear(base_64, r=8, alpha=32),
)
with torch.no_grad():
    small.lora_B.normal_()
    large.load_state_dict(small.state_dict())
probe = torch.randn(5, 64)
assert torch.allclose(
    large(probe) - base_64(probe),
    2 * (small(probe) - base_64(probe)),
    atol=1e-5,
)
# --8<-- [end:scaling]

# %%
# --8<-- [start:merge]
from torch.utils.flop_counter import FlopCounterMode

merged = lora.merge()
# a plain layer: no LoRA code needed at inference
assert type(merged) is nn.Linear
assert torch.allclose(
    merged.weight, lora.base.weight + lora.scaling * lora.lora_B @ lora.lora_A
)
test_inputs = torch.randn(64, 32)
with torch.no_grad():
    assert torch.allclose(merged(test_inputs), lora(test_inputs), atol=1e-5)


def flops(module, x):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()


n = len(test_inputs)
assert (
    flops(merged, test_inputs)
    == flops(pretrained, test_inputs)
    == 2 * n * 32 * 32
)
assert flops(lora, test_inputs) == flops(merged, test_inputs) + 2 * n * 4 * (
    32 + 32
)
print(
    "FLOPs per batch: base",
    flops(pretrained, test_inputs),
    "| merged",
    flops(merged, test_inputs),
    "| unmerged LoRA",
    flops(lora, test_inputs),
)
# --8<-- [end:merge]

# %%
# --8<-- [start:apply]
from collections import OrderedDict

from pytorch_notes import expect_error
from pytorch_notes.peft import apply_lora

torch.manual_seed(0)
mlp = nn.Sequential(
    OrderedDict(
        fc1=nn.Linear(20, 64),
        act1=nn.ReLU(),
        fc2=nn.Linear(64, 64),
        act2=nn.ReLU(),
        head=nn.Linear(64, 3),
    )
)
total = sum(p.numel() for p in mlp.parameters())
features = torch.randn(8, 20)
before = mlp(features)

with expect_error(TypeError, "not an nn.Linear"):
    apply_lora(mlp, ["act1"])
with expect_error(ValueError, "no submodule named 'fc3'"):
    apply_lora(mlp, ["fc3"])

apply_lora(mlp, ["fc1", "fc2"], r=4, alpha=8)
assert isinstance(mlp.fc1, LoRALinear) and isinstance(mlp.fc2, LoRALinear)
# frozen, not wrapped
assert type(mlp.head) is nn.Linear and not mlp.head.weight.requires_grad
assert count(mlp, trainable=True) == 4 * (20 + 64) + 4 * (64 + 64) == 848
# every original weight, frozen
assert count(mlp, trainable=False) == total == 5_699
# B = 0: the wrapped model is the same function
assert torch.equal(mlp(features), before)
print(mlp)
print(
    f"trainable {count(mlp, True)} of "
    f"{count(mlp, True) + count(mlp, False)} parameters"
)
# --8<-- [end:apply]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.8, 6.4))
top.semilogy(full_losses, label="full fine-tuning (1,056 parameters)")
top.semilogy(lora_losses, label="LoRA r=4 (256 parameters)")
top.set_xlabel("step")
top.set_ylabel("MSE loss")
top.set_title("Fine-tuning on the toy task")
top.legend()

bottom.semilogy(
    torch.linalg.svdvals(delta_full).numpy(), "o-", label="full fine-tuning"
)
bottom.semilogy(
    torch.linalg.svdvals(delta_lora).numpy(), "s-", label="LoRA r=4"
)
bottom.set_xlabel("index")
bottom.set_ylabel("singular value of the change to W")
bottom.set_title("Singular values of W - W0")
bottom.legend()
fig.tight_layout()
# --8<-- [end:plot]
