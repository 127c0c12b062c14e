# %% [markdown]
# # Precision in practice
# Book page: engineering/precision

# %%
# --8<-- [start:rounding]
import math

import torch


def round_mantissa(x, bits):
    """Round fp32 values to `bits` mantissa bits, to nearest (ties to even)."""
    drop = 23 - bits  # fp32 stores 23 mantissa bits
    raw = x.view(torch.int32)
    lowest_kept = (raw >> drop) & 1
    raw = (raw + (1 << (drop - 1)) - 1 + lowest_kept) & -(1 << drop)
    return raw.view(torch.float32)


torch.manual_seed(0)
values = torch.randn(100_000) * 100
# the trick is exactly PyTorch's own rounding to bf16 (7 bits) ...
assert torch.equal(round_mantissa(values, 7), values.bfloat16().float())
# ... and to fp16 (10 bits), where fp16 has normal numbers
normal = values.abs() >= torch.finfo(torch.float16).tiny
assert torch.equal(
    round_mantissa(values, 10)[normal], values.half().float()[normal]
)
tf32 = round_mantissa(values, 10)  # TF32: fp32's exponent, fp16's mantissa
relative = ((tf32 - values) / values).abs()
assert relative.max() <= 2**-11  # at most half a gap: 2^-11 of the value
print(f"largest relative error of the TF32 rounding: {relative.max():.2e}")
# --8<-- [end:rounding]


# %%
# --8<-- [start:matmul_error]
def rms(t):
    return t.double().pow(2).mean().sqrt().item()


sizes = [16, 64, 256, 1024, 4096]
errors = {"fp32": [], "tf32": [], "bf16": []}
torch.manual_seed(0)
for K in sizes:
    a, b = torch.randn(64, K), torch.randn(K, 64)
    exact = a.double() @ b.double()
    errors["fp32"].append(rms(a @ b - exact))
    for name, bits in (("tf32", 10), ("bf16", 7)):
        # round the inputs, then multiply and add in fp32, as tensor cores do
        product = round_mantissa(a, bits) @ round_mantissa(b, bits)
        errors[name].append(rms(product - exact))

# model: each of the K products carries two rounding errors of rms
# u * sqrt(3 / (8 ln 2)) / sqrt(3) = 0.42 u, u = 2^-(bits + 1)
constant = 1 / (2 * math.sqrt(math.log(2)))  # sqrt(2 K) * 0.42 u
for K, tf32_error, bf16_error, fp32_error in zip(
    sizes, errors["tf32"], errors["bf16"], errors["fp32"]
):
    predicted = constant * math.sqrt(K) * 2**-11
    assert 0.8 < tf32_error / predicted < 1.2  # grows like sqrt(K)
    assert 6 < bf16_error / tf32_error < 10  # 3 bits fewer: 8 times more
    assert fp32_error < tf32_error / 100  # fp32's own error is far below
    print(
        f"K={K:5d}  fp32 {fp32_error:.1e}  tf32 {tf32_error:.1e}  "
        f"(model {predicted:.1e})  bf16 {bf16_error:.1e}"
    )
# relative to the size of the result (~ sqrt(K)), the error stays flat
relative = [e / math.sqrt(K) for e, K in zip(errors["tf32"], sizes)]
assert max(relative) / min(relative) < 1.2
# --8<-- [end:matmul_error]

# %%
# --8<-- [start:error_plot]
import matplotlib.pyplot as plt

fig, axis = plt.subplots(figsize=(6, 3.5))
for name, marker in (("bf16", "s"), ("tf32", "o"), ("fp32", "^")):
    axis.plot(sizes, errors[name], marker=marker, label=f"{name} inputs")
model_line = [constant * math.sqrt(K) * 2**-11 for K in sizes]
axis.plot(sizes, model_line, "k--", label="model: 0.6 sqrt(K) 2^-11")
axis.set_xscale("log", base=2)
axis.set_yscale("log")
axis.set_xlabel("inner dimension K")
axis.set_ylabel("rms error of A @ B")
axis.set_title("Matmul error against float64")
axis.set_ylim(bottom=1e-8)  # room for the legend
axis.legend(loc="lower right", ncol=2)
fig.tight_layout()
# --8<-- [end:error_plot]

# %%
# --8<-- [start:settings]
assert torch.get_float32_matmul_precision() == "highest"  # the default
for setting in ("high", "medium", "highest"):
    torch.set_float32_matmul_precision(setting)
    assert torch.get_float32_matmul_precision() == setting
    # the CUDA TF32 switch follows: on for "high" and "medium"
    assert torch.backends.cuda.matmul.allow_tf32 == (setting != "highest")
assert torch.backends.cudnn.allow_tf32  # convolutions: TF32 by default

torch.manual_seed(0)
a, b = torch.randn(256, 1024), torch.randn(1024, 256)
exact = a.double() @ b.double()
results = {}
for setting in ("highest", "high", "medium"):
    torch.set_float32_matmul_precision(setting)
    results[setting] = a @ b
torch.set_float32_matmul_precision("highest")  # back to the default
assert results["highest"].dtype == results["medium"].dtype == torch.float32

# On the CPU, "high" has nothing faster to use: same bits as "highest".
assert torch.equal(results["high"], results["highest"])
# "medium" either changes nothing, or (on a CPU with bf16 instructions)
# rounds the inputs to bf16, exactly like the emulation above
bf16_inputs = round_mantissa(a, 7) @ round_mantissa(b, 7)
medium_is_bf16 = (
    rms(results["medium"] - bf16_inputs) < rms(bf16_inputs - exact) / 100
)
assert medium_is_bf16 or torch.equal(results["medium"], results["highest"])
for setting, result in results.items():
    print(f"{setting:8s} rms error {rms(result - exact):.1e}")
print("this CPU runs 'medium' in bf16:", medium_is_bf16)
# --8<-- [end:settings]

# %%
# --8<-- [start:attention_overflow]
fp16 = torch.finfo(torch.float16)
assert fp16.max == (2 - 2**-10) * 2**15 == 65504

torch.manual_seed(0)
d = 128
hidden = torch.randn(16, d) * 24  # 16 tokens, entries around +-24
q = k = hidden.half()  # a query matches its own key best
squared_norms = q.float().norm(dim=-1) ** 2
assert squared_norms.mean() > fp16.max  # q . q is past fp16's top
print(f"|q|^2 per token: {squared_norms.mean():,.0f} on average")

logits = q @ k.T  # fp16 in, fp16 out
probs = logits.softmax(dim=-1)
assert logits.isinf().any()
rows_with_inf = logits.isinf().any(dim=-1)
# one inf in a row makes the whole row NaN (inf - inf inside softmax)
assert torch.equal(probs.isnan().all(dim=-1), rows_with_inf)
print(
    f"rows with inf logits: {rows_with_inf.sum()} of 16, all NaN after softmax"
)
# --8<-- [end:attention_overflow]

# %%
# --8<-- [start:attention_fixes]
import torch.nn.functional as F

exact = hidden.double() @ hidden.double().T / math.sqrt(d)


def relative_error(t):
    return ((t.double() - exact).norm() / exact.norm()).item()


# Fix 1: scale q first; the logits are then sqrt(d) = 11 times smaller
scaled_first = (q * d**-0.5) @ k.T
assert scaled_first.max() < fp16.max / 4  # far from the top
# Fix 2: compute the logits in fp32
in_fp32 = (q.float() @ k.float().T) / math.sqrt(d)
# Fix 3: bf16, fp32's range with 3 mantissa bits fewer than fp16
in_bf16 = (hidden.bfloat16() * d**-0.5) @ hidden.bfloat16().T
for name, t in (("fp16 scaled", scaled_first), ("fp32", in_fp32)):
    assert t.isfinite().all()
    assert relative_error(t) < 2**-11  # fp16 rounding of the inputs, no more
for name, t in (("fp16 scaled", scaled_first), ("bf16", in_bf16)):
    print(f"{name:11s} max logit {t.max():7.0f}  error {relative_error(t):.1e}")
assert in_bf16.isfinite().all()
# the price of bf16: about 8 times the error of fp16
assert 4 < relative_error(in_bf16) / relative_error(scaled_first) < 16
assert 2**-11 < relative_error(in_bf16) < 2**-8

# PyTorch's fused attention does not overflow either
out = F.scaled_dot_product_attention(q[None], k[None], q[None])
assert out.isfinite().all()
# --8<-- [end:attention_fixes]

# %%
# --8<-- [start:accumulation]
import torch.nn as nn

from pytorch_notes.data import gaussian_ring

points, labels = gaussian_ring(n=512, modes=8, std=0.3, seed=0)


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 8))


def gradients(model):
    return [p.grad.clone() for p in model.parameters()]


x, y = points[:128], labels[:128]
model = make_model()
F.cross_entropy(model(x), y).backward()
full_batch = gradients(model)

accum_steps = 4  # 4 micro-batches of 32 = one batch of 128
model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
for xb, yb in zip(x.chunk(accum_steps), y.chunk(accum_steps)):
    loss = F.cross_entropy(model(xb), yb) / accum_steps
    scaler.scale(loss).backward()  # gradients add up in .grad
# once per window: unscale, (clip,) step, update
scaler.unscale_(optimizer)
for accumulated, reference in zip(gradients(model), full_batch):
    assert torch.allclose(accumulated, reference, atol=1e-6)
scaler.step(optimizer)
scaler.update()

# Forgetting "/ accum_steps": gradients accum_steps times too large
model = make_model()
for xb, yb in zip(x.chunk(accum_steps), y.chunk(accum_steps)):
    F.cross_entropy(model(xb), yb).backward()
for accumulated, reference in zip(gradients(model), full_batch):
    assert torch.allclose(accumulated, accum_steps * reference, atol=1e-5)
print("accumulated, unscaled gradients = full-batch gradients")
# --8<-- [end:accumulation]


# %%
# --8<-- [start:fp16_gradients]
def fp16_gradients(model):
    """Round each gradient through fp16, as an fp16 backward would."""
    for p in model.parameters():
        p.register_hook(lambda grad: grad.half().float())


def train_windows(model, optimizer, scaler, windows):
    """One optimizer step per window of micro-batches; True where skipped."""
    skipped = []
    for micro_batches in windows:
        optimizer.zero_grad()
        for xb, yb in micro_batches:
            loss = F.cross_entropy(model(xb), yb) / len(micro_batches)
            scaler.scale(loss).backward()
        before = [p.detach().clone() for p in model.parameters()]
        scale = scaler.get_scale()
        scaler.step(optimizer)  # skipped if any gradient is inf or NaN
        scaler.update()
        unchanged = all(map(torch.equal, before, model.parameters()))
        # a skipped window leaves the weights alone and halves the scale
        assert unchanged == (scaler.get_scale() == scale / 2)
        skipped.append(unchanged)
    return skipped


def make_windows(count, seed):
    generator = torch.Generator().manual_seed(seed)
    windows = []
    for _ in range(count):
        order = torch.randperm(512, generator=generator)[:128]
        windows.append(
            list(zip(points[order].chunk(4), labels[order].chunk(4)))
        )
    return windows


windows = make_windows(20, seed=1)
model = make_model()
fp16_gradients(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
# init_scale 2^16; doubles after 2 good windows in a row
scaler = torch.amp.GradScaler("cpu", growth_interval=2)
skipped = train_windows(model, optimizer, scaler, windows[:12])
assert any(skipped)  # the scale grew until an fp16 gradient overflowed
assert scaler.get_scale() < 2.0**16 * 2 ** (12 // 2)
print("skipped windows:", [i for i, s in enumerate(skipped) if s])
print("scale after 12 windows:", scaler.get_scale())
# --8<-- [end:fp16_gradients]

# %%
# --8<-- [start:resume]
import shutil
from pathlib import Path

from pytorch_notes.checkpoints import load_checkpoint, save_checkpoint

folder = Path("checkpoints/precision")
shutil.rmtree(folder, ignore_errors=True)
path = save_checkpoint(
    folder / "window-12.pt", model, optimizer, epoch=12, scaler=scaler
)
state = scaler.state_dict()
print("saved scale", state["scale"], "growth tracker", state["_growth_tracker"])
skipped += train_windows(model, optimizer, scaler, windows[12:])
uninterrupted = [p.detach().clone() for p in model.parameters()]


def resume(with_scaler_state):
    model = make_model()
    fp16_gradients(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", growth_interval=2)
    load_checkpoint(
        path, model, optimizer, scaler=scaler if with_scaler_state else None
    )
    skipped = train_windows(model, optimizer, scaler, windows[12:])
    return [p.detach() for p in model.parameters()], skipped


weights, skipped_restored = resume(with_scaler_state=True)
assert all(map(torch.equal, weights, uninterrupted))
assert skipped_restored == skipped[12:]

weights, skipped_fresh = resume(with_scaler_state=False)
# a fresh scaler starts again at 2^16: other windows are skipped
assert skipped_fresh != skipped[12:]
assert not all(map(torch.equal, weights, uninterrupted))
for name, flags in (
    ("uninterrupted", skipped[12:]),
    ("resumed with scaler state", skipped_restored),
    ("resumed without", skipped_fresh),
):
    print(f"{name:26s} skips", [i + 12 for i, s in enumerate(flags) if s])
# --8<-- [end:resume]

# %%
# --8<-- [start:fp8_formats]
fp8_formats = {torch.float8_e4m3fn: (4, 3), torch.float8_e5m2: (5, 2)}
for dtype, (exponent_bits, mantissa_bits) in fp8_formats.items():
    info = torch.finfo(dtype)
    bias = 2 ** (exponent_bits - 1) - 1
    assert info.bits == 1 + exponent_bits + mantissa_bits == 8
    assert info.eps == 2.0**-mantissa_bits
    assert info.tiny == 2.0 ** (1 - bias)
    every_value = torch.arange(256, dtype=torch.uint8).view(dtype).float()
    finite = every_value[every_value.isfinite()]
    assert finite.max() == info.max
    print(
        f"{str(dtype):20s} max {info.max:7.0f}  tiny {info.tiny:.1e}  "
        f"eps {info.eps}  NaNs {every_value.isnan().sum()}  "
        f"infs {every_value.isinf().sum()}"
    )

e4m3, e5m2 = torch.finfo(torch.float8_e4m3fn), torch.finfo(torch.float8_e5m2)
# E5M2 follows IEEE: the top exponent is kept for inf and NaN
assert e5m2.max == (2 - 2**-2) * 2.0 ** (2**5 - 2 - 15) == 57344
# E4M3 "fn" (finite, no inf) uses the top exponent for numbers too,
# all but its last pattern, 1.111 x 2^8, which is NaN
assert e4m3.max == (2 - 2 * 2**-3) * 2.0 ** (2**4 - 1 - 7) == 448
assert e5m2.max / e4m3.max == 128  # E5M2: range; E4M3: one more bit
# --8<-- [end:fp8_formats]

# %%
# --8<-- [start:number_line]
formats = {
    "fp16, tf32": torch.float16,
    "bf16": torch.bfloat16,
    "fp8 e4m3": torch.float8_e4m3fn,
    "fp8 e5m2": torch.float8_e5m2,
}
grid = torch.linspace(1, 2, 4097)[:-1]  # finer than any gap here
fig, axis = plt.subplots(figsize=(7, 2.8))
axis.barh(len(formats), 1, left=1, height=0.5, color="0.6")  # fp32: dense
for row, (name, dtype) in enumerate(formats.items()):
    representable = grid.to(dtype).float().unique()
    representable = representable[representable < 2]
    # m mantissa bits: 2^m numbers between 1 and 2
    assert len(representable) == 2 ** (-math.log2(torch.finfo(dtype).eps))
    height = len(formats) - 1 - row
    axis.vlines(representable.numpy(), height - 0.3, height + 0.3, lw=0.6)
axis.set_yticks(range(len(formats) + 1))
axis.set_yticklabels(list(reversed(formats)) + ["fp32"])
axis.set_xlim(0.98, 2.02)
axis.set_xlabel("value")
axis.set_title("The numbers each format has between 1 and 2")
fig.tight_layout()
# --8<-- [end:number_line]

# %%
# --8<-- [start:fp8_scaling]
e4m3_dtype = torch.float8_e4m3fn
too_big = torch.tensor([1000.0]).to(e4m3_dtype).float()
# nothing above 448: NaN in older releases (2.6), clamped to 448 in newer
assert too_big.isnan().all() or (too_big == 448).all()
print("1000 -> e4m3 ->", too_big.item())

torch.manual_seed(0)
grads = torch.randn(10_000) * 1e-3  # gradient-sized values
direct = grads.to(e4m3_dtype).float()
lost = (direct == 0).float().mean()
# below 2^-10, half of e4m3's smallest subnormal 2^-9: zero
assert 0.6 < lost < 0.75

scale = grads.abs().max() / e4m3.max  # per-tensor scale: amax -> 448
stored = (grads / scale).to(e4m3_dtype)  # 1 byte each, plus one fp32 scale
restored = stored.float() * scale
relative = (restored - grads).abs() / grads.abs()
in_normal_range = (grads / scale).abs() >= e4m3.tiny
assert (restored != 0).all()  # nothing lost
# 3 mantissa bits: at most half a gap, 2^-4 of the value
assert relative[in_normal_range].max() <= 2**-4
print(
    f"without a scale: {lost:.0%} become 0;  with amax/448: "
    f"median error {relative.median():.1%}, max {relative.max():.1%}"
)
# --8<-- [end:fp8_scaling]
