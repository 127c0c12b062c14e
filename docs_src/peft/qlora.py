# %% [markdown]
# # Quantisation and QLoRA
# Book page: peft/qlora

# %%
# --8<-- [start:pretrain]
import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.datasets import mnist

torch.manual_seed(0)
digits = mnist(train=False)  # the 10,000 official test digits
images = digits.data[:3000].float().div(255).view(-1, 784)
labels = digits.targets[:3000]
train_x, train_y = images[:2000], labels[:2000]
test_x, test_y = images[2000:], labels[2000:]

model = nn.Sequential(
    nn.Linear(784, 64),
    nn.ReLU(),
    nn.Linear(64, 64),
    nn.ReLU(),
    nn.Linear(64, 10),
)


def train(net, inputs, targets, steps, lr=1e-2, seed=0):
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    batches = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        batch = torch.randint(len(inputs), (250,), generator=batches)
        loss = F.cross_entropy(net(inputs[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(net, inputs, targets):
    return (net(inputs).argmax(dim=1) == targets).float().mean().item()


pretrain_losses = train(model, train_x, train_y, steps=60)
pretrained_accuracy = accuracy(model, test_x, test_y)
assert pretrained_accuracy > 0.8  # a real, if small, digit classifier
print(f"held-out accuracy of the pretrained MLP: {pretrained_accuracy:.1%}")
# --8<-- [end:pretrain]

# %%
# --8<-- [start:int8]
W = model[0].weight.detach()  # (64, 784): the trained first layer
block_size = 64
blocks = W.reshape(-1, block_size)  # 784 blocks of 64 consecutive weights
absmax = blocks.abs().amax(dim=1, keepdim=True)  # one scale per block
codes = torch.round(blocks / absmax * 127).to(torch.int8)
restored = (codes.float() * absmax / 127).reshape(W.shape)

assert codes.dtype == torch.int8 and codes.abs().max() == 127
# Rounding moves a value by at most half a step, and a step is absmax / 127.
error = (restored - W).abs().reshape(-1, block_size)
half_step = absmax / 127 / 2
assert (error <= half_step * (1 + 1e-5)).all()
assert (error / half_step).max() > 0.99  # and the bound is reached


def rms(x):
    return x.pow(2).mean().sqrt().item()


# One scale for the whole matrix: every step is as large as the largest weight
# allows.
global_absmax = W.abs().max()
global_restored = torch.round(W / global_absmax * 127) * global_absmax / 127
assert (absmax <= global_absmax).all()
assert rms(restored - W) < rms(global_restored - W)
print(
    f"largest |w|: {global_absmax:.3f}, median block absmax: "
    f"{absmax.median():.3f}"
)
print(
    f"RMS error: blockwise {rms(restored - W):.2e}, "
    f"one global scale {rms(global_restored - W):.2e}"
)
# --8<-- [end:int8]

# %%
# --8<-- [start:outlier]
from pytorch_notes.quantization import dequantize_int8, quantize_int8

package_codes, package_absmax = quantize_int8(W, block_size=64)
assert torch.equal(package_codes, codes)
assert torch.equal(
    dequantize_int8(package_codes, package_absmax, W.shape), restored
)

# Inject one outlier, 20 times the largest weight.
with_outlier = W.clone()
with_outlier[5, 300] = 20 * global_absmax
outlier_block = (5 * 784 + 300) // block_size
codes_o, absmax_o = quantize_int8(with_outlier, block_size=64)
changed = (codes_o != codes).any(dim=1).nonzero().flatten().tolist()
assert changed == [outlier_block]  # blockwise: only its own block suffers

restored_o = dequantize_int8(codes_o, absmax_o, W.shape)
scale_o = with_outlier.abs().max()
global_o = torch.round(with_outlier / scale_o * 127) * scale_o / 127
# one global scale: the step grows 20 times, and so does the error (over 10x)
assert rms(global_o - with_outlier) > 10 * rms(global_restored - W)
assert rms(global_o - with_outlier) > 10 * rms(restored_o - with_outlier)
zeroed = (global_o == 0).float().mean().item()
print(f"with the outlier, one global scale rounds {zeroed:.0%} of W to zero")
print(
    f"RMS error: blockwise {rms(restored_o - with_outlier):.2e}, "
    f"one global scale {rms(global_o - with_outlier):.2e}"
)
# --8<-- [end:outlier]

# %%
# --8<-- [start:plot_blocks]
import matplotlib.pyplot as plt


def block_rms(approx, exact):
    return (approx - exact).reshape(-1, 64).pow(2).mean(dim=1).sqrt()


fig, axis = plt.subplots(figsize=(6.8, 3.6))
axis.semilogy(
    block_rms(global_o, with_outlier).numpy(), label="one global scale"
)
axis.semilogy(
    block_rms(restored_o, with_outlier).numpy(), label="blockwise, 64"
)
axis.axvline(
    outlier_block, color="gray", linestyle=":", label="outlier's block"
)
axis.set_xlabel("block")
axis.set_ylabel("RMS error in the block")
axis.set_title("int8 round trip of W with one outlier")
axis.set_ylim(top=1)  # room for the legend above the curves
axis.legend(loc="upper right", ncol=3)
fig.tight_layout()
# --8<-- [end:plot_blocks]

# %%
# --8<-- [start:nf4_levels]
from torch.special import ndtri  # the inverse of the normal CDF

from pytorch_notes.quantization import nf4_levels

offset = 1 - (1 / 30 + 1 / 32) / 2
quantiles = ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float64))
positive = quantiles[:-1]  # 8 levels above zero
negative = -ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float64))[:-1]
zero = torch.zeros(1, dtype=torch.float64)
levels = torch.cat([negative, zero, positive]).sort().values
levels = (levels / levels.max()).float()

assert len(levels) == 16 and (levels.diff() > 0).all()
assert levels[0] == -1 and levels[7] == 0 and levels[-1] == 1
assert (levels > 0).sum() == 8 and (levels < 0).sum() == 7

# The table bitsandbytes ships (get_4bit_type("nf4")).
published = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
    0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
])  # fmt: skip
assert torch.allclose(levels, published, atol=1e-6, rtol=0)
assert torch.equal(nf4_levels(), levels)
print("NF4 levels:", [round(v, 4) for v in levels.tolist()])
# --8<-- [end:nf4_levels]

# %%
# --8<-- [start:pack]
from pytorch_notes.quantization import pack_4bit, unpack_4bit

four_bit = torch.tensor([1, 15, 7, 0], dtype=torch.uint8)
# the first code goes into the high four bits
by_hand = (four_bit[0::2] << 4) | four_bit[1::2]
assert by_hand.tolist() == [0x1F, 0x70] and by_hand.dtype == torch.uint8
assert torch.equal(pack_4bit(four_bit), by_hand)
assert torch.equal(unpack_4bit(by_hand), four_bit.long())

# NF4 codes of the trained layer: nearest level to w / absmax, block by block
midpoints = (levels[1:] + levels[:-1]) / 2
nf4_codes = torch.bucketize(blocks / absmax, midpoints)
packed = pack_4bit(nf4_codes)
assert packed.nbytes == W.numel() // 2  # two weights per byte
assert torch.equal(unpack_4bit(packed), nf4_codes.flatten())
print(f"{W.numel():,} weights -> {packed.nbytes:,} bytes of codes")
# --8<-- [end:pack]

# %%
# --8<-- [start:nf4_error]
from pytorch_notes.quantization import dequantize_nf4, quantize_nf4


def nf4_round_trip(w):
    return dequantize_nf4(*quantize_nf4(w, block_size=64), w.shape)


def int4_round_trip(w):  # uniform 4-bit absmax: 15 levels k / 7, k = -7..7
    b = w.reshape(-1, 64)
    a = b.abs().amax(dim=1, keepdim=True)
    return (torch.round(b / a * 7) / 7 * a).reshape(w.shape)


def code_entropy(codes):  # bits of information per code actually used
    p = torch.bincount(codes.flatten(), minlength=16).float()
    p = p[p > 0] / p.sum()
    return -(p * p.log2()).sum().item()


for seed in range(5):
    torch.manual_seed(seed)
    normal_w = 0.02 * torch.randn(256, 256)
    nf4_err = rms(nf4_round_trip(normal_w) - normal_w)
    int4_err = rms(int4_round_trip(normal_w) - normal_w)
    assert nf4_err < 0.9 * int4_err  # NF4: over 10 % less error

    b = normal_w.reshape(-1, 64)
    a = b.abs().amax(dim=1, keepdim=True)
    nf4_used = unpack_4bit(quantize_nf4(normal_w)[0])
    int4_used = (torch.round(b / a * 7) + 7).long()
    # NF4 spreads the weights more evenly over its codes
    assert code_entropy(nf4_used) > code_entropy(int4_used)
    print(
        f"seed {seed}: RMS error NF4 {nf4_err:.2e}, uniform int4 "
        f"{int4_err:.2e}; bits per code used: NF4 "
        f"{code_entropy(nf4_used):.2f}, int4 {code_entropy(int4_used):.2f}"
    )
# --8<-- [end:nf4_error]

# %%
# --8<-- [start:plot_levels]
fig, axis = plt.subplots(figsize=(6.8, 3.6))
scaled = (b / a).flatten().numpy()  # the last seed's weights, / block absmax
axis.hist(scaled, bins=120, color="lightgray", label="w / block absmax")
for k, level in enumerate(levels.tolist()):
    axis.axvline(level, color="C0", label="NF4 levels" if k == 0 else None)
for k in range(-7, 8):
    axis.axvline(
        k / 7,
        color="C1",
        linestyle="--",
        ymax=0.5,
        label="uniform int4 levels" if k == -7 else None,
    )
axis.set_xlabel("w / block absmax")
axis.set_ylabel("count")
axis.set_title("Normal weights and the 16 NF4 levels")
axis.legend(loc="upper left")
fig.tight_layout()
# --8<-- [end:plot_levels]

# %%
# --8<-- [start:memory]
import math

torch.manual_seed(0)
w = 0.02 * torch.randn(1024, 1024)  # one layer, 1,048,576 weights
n = w.numel()
int8_codes, int8_absmax = quantize_int8(w, block_size=64)
nf4_packed, nf4_absmax = quantize_nf4(w, block_size=64)
# Double quantisation: the float32 scales are themselves quantised, to int8 in
# blocks of 256, around their mean.
scale_mean = nf4_absmax.mean()
dq_codes, dq_absmax = quantize_int8(nf4_absmax - scale_mean, block_size=256)

stored = {
    "fp32": [w],
    "bf16": [w.bfloat16()],
    "int8 + fp32 scales": [int8_codes, int8_absmax],
    "NF4 + fp32 scales": [nf4_packed, nf4_absmax],
    "NF4 + double quant": [nf4_packed, dq_codes, dq_absmax, scale_mean],
}
per_weight = {k: sum(t.nbytes for t in ts) / n for k, ts in stored.items()}
formula = {
    "fp32": 4,
    "bf16": 2,
    "int8 + fp32 scales": 1 + 4 / 64,
    "NF4 + fp32 scales": 0.5 + 4 / 64,
    "NF4 + double quant": 0.5 + 1 / 64 + 4 / (64 * 256) + 4 / n,
}
assert all(math.isclose(per_weight[k], formula[k]) for k in formula)

# The scales come back within half an int8 step of their block of 256.
dq_scales = dequantize_int8(dq_codes, dq_absmax, nf4_absmax.shape) + scale_mean
dq_half_step = (dq_absmax / 127 / 2).repeat_interleave(256)
assert ((dq_scales - nf4_absmax).abs() <= dq_half_step * (1 + 1e-5)).all()
# and the weights lose almost nothing more: under 1 % more error
plain = dequantize_nf4(nf4_packed, nf4_absmax, w.shape)
double = dequantize_nf4(nf4_packed, dq_scales, w.shape)
assert rms(double - w) < 1.01 * rms(plain - w)

print("format               bytes/weight   7B model")
for name, size in per_weight.items():
    print(f"{name:20s} {size:12.4f} {size * 7e9 / 1e9:7.2f} GB")
# --8<-- [end:memory]

# %%
# --8<-- [start:qlora]
from pytorch_notes.peft import LoRALinear
from pytorch_notes.quantization import NF4Linear

qlora = nn.Sequential(
    *[
        LoRALinear(NF4Linear(m), r=8, alpha=16)
        if isinstance(m, nn.Linear)
        else m
        for m in model
    ]
)
lora_names = [n for n, p in qlora.named_parameters() if p.requires_grad]
assert lora_names == [f"{i}.lora_{f}" for i in (0, 2, 4) for f in "AB"]
lora_count = sum(p.numel() for p in qlora.parameters() if p.requires_grad)
assert lora_count == 8 * (784 + 64) + 8 * (64 + 64) + 8 * (64 + 10) == 8_400
assert sum(p.numel() for p in model.parameters()) == 55_050
# the 4-bit base alone keeps the pretrained model's skill
assert abs(accuracy(qlora, test_x, test_y) - pretrained_accuracy) < 0.02

# The new task: the same digits, transposed (rows become columns).
flip = images.view(-1, 28, 28).transpose(1, 2).reshape(-1, 784)
flip_train, flip_test = flip[:2000], flip[2000:]
accuracy_before = accuracy(qlora, flip_test, test_y)

bases = [(m.base.codes.clone(), m.base.absmax.clone()) for m in qlora[::2]]
lora_before = [
    p.detach().clone() for p in qlora.parameters() if p.requires_grad
]
qlora_losses = train(qlora, flip_train, train_y, steps=60, seed=1)
accuracy_after = accuracy(qlora, flip_test, test_y)

# only the LoRA matrices received gradients ...
with_grad = [n for n, p in qlora.named_parameters() if p.grad is not None]
assert with_grad == lora_names
lora_after = [p for p in qlora.parameters() if p.requires_grad]
assert all(not torch.equal(a, b) for a, b in zip(lora_before, lora_after))
# ... and the 4-bit base is bit for bit what it was
for (codes_0, absmax_0), m in zip(bases, qlora[::2]):
    assert torch.equal(m.base.codes, codes_0)
    assert torch.equal(m.base.absmax, absmax_0)
first, last = qlora_losses[0], sum(qlora_losses[-10:]) / 10
assert last < first / 5
assert accuracy_after > 3 * accuracy_before
print(f"loss {first:.2f} -> {last:.2f} (mean of the last 10 steps)")
print(
    f"held-out accuracy on transposed digits: {accuracy_before:.1%} -> "
    f"{accuracy_after:.1%}"
)
# --8<-- [end:qlora]

# %%
# --8<-- [start:activations]
import copy

from pytorch_notes.memory import SavedTensorCounter

full = copy.deepcopy(model)  # full fine-tuning: every weight trains
lora = nn.Sequential(
    *[
        LoRALinear(copy.deepcopy(m), r=8, alpha=16)
        if isinstance(m, nn.Linear)
        else m
        for m in model
    ]
)
# clone: a slice would share (and count) the storage of all 3,000 images
batch_x, batch_y = flip_train[:256].clone(), train_y[:256]


def saved_bytes(net):
    with SavedTensorCounter(exclude=net.parameters()) as saved:
        F.cross_entropy(net(batch_x), batch_y).backward()
    return saved.nbytes


def weight_bytes(net):
    tensors = list(net.parameters()) + list(net.buffers())
    return sum(t.nbytes for t in tensors)


def grad_and_adam_bytes(net):
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable)
    optimizer.step()  # the gradients are those saved_bytes left
    grads = sum(p.grad.nbytes for p in trainable)
    states = optimizer.state.values()
    state = sum(t.nbytes for s in states for t in s.values())
    # a gradient, two moments and a step count per tensor
    count = sum(p.numel() for p in trainable)
    assert grads + state == 3 * 4 * count + 4 * len(trainable)
    return grads + state


table = {}
for name, net in {"full": full, "LoRA": lora, "QLoRA": qlora}.items():
    saved = saved_bytes(net)
    table[name] = (weight_bytes(net), grad_and_adam_bytes(net), saved)

# LoRA saves every activation full fine-tuning saves, plus x A^T (256 x r)
# per adapted layer
assert table["LoRA"][2] == table["full"][2] + 3 * 256 * 8 * 4
assert table["QLoRA"][2] == table["LoRA"][2]  # the 4-bit base saves nothing
grad_ratio = table["full"][1] / table["LoRA"][1]
assert grad_ratio > 5 and table["QLoRA"][1] == table["LoRA"][1]
assert table["QLoRA"][0] < table["full"][0] / 3  # NF4 base + fp32 LoRA
print("          weights  grads+Adam  activations  (bytes)")
for name, (weights, grads, saved) in table.items():
    print(f"{name:6s} {weights:10,} {grads:11,} {saved:12,}")
print(f"gradients and Adam state: {grad_ratio:.1f}x smaller with LoRA")

# The pitfall: a slice shares (and keeps alive) the storage of all 3,000 images.
with SavedTensorCounter(exclude=full.parameters()) as sliced:
    full(flip_train[:256])
assert sliced.nbytes > flip.nbytes > 9 * table["full"][2]
print(f"saved with a sliced batch: {sliced.nbytes:,} bytes")
# --8<-- [end:activations]
