# %% [markdown]
# # Attention at inference
# Book page: architecture/attention-inference

# %%
# --8<-- [start:agree]
import torch
import torch.nn.functional as F

from pytorch_notes.attention import causal_mask, scaled_dot_product_attention

torch.manual_seed(0)
# (batch, heads, length, head_dim)
q, k, v = (torch.randn(2, 4, 6, 8) for _ in range(3))

ours, _ = scaled_dot_product_attention(q, k, v)
plain = F.scaled_dot_product_attention(q, k, v)
assert torch.allclose(plain, ours, atol=1e-6)

causal, _ = scaled_dot_product_attention(q, k, v, causal_mask(6))
by_flag = F.scaled_dot_product_attention(q, k, v, is_causal=True)
by_mask = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(6))
assert torch.allclose(by_flag, causal, atol=1e-6)
assert torch.allclose(by_mask, causal, atol=1e-6)
# the mask matters: without it the outputs differ
assert not torch.allclose(causal, ours, atol=1e-3)
print(f"no mask: max difference {(plain - ours).abs().max():.1e}")
print(f"causal:  max difference {(by_flag - causal).abs().max():.1e}")
# --8<-- [end:agree]

# %%
# --8<-- [start:backends]
import contextlib
import warnings

from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode

from pytorch_notes import expect_error


class KernelNames(TorchDispatchMode):
    """Record the name of every ATen operation that runs."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.__name__.split(".")[0])
        return func(*args, **(kwargs or {}))


def kernels(backend=None, **options):
    """The ATen operations one SDPA call runs (on `backend` only, if given)."""
    only = sdpa_kernel(backend) if backend else contextlib.nullcontext()
    with only, KernelNames() as recorder:
        F.scaled_dot_product_attention(q, k, v, **options)
    return recorder.names


cpu_flash = "_scaled_dot_product_flash_attention_for_cpu"
assert kernels() == [cpu_flash]  # the default pick on this CPU
assert kernels(SDPBackend.FLASH_ATTENTION, is_causal=True) == [cpu_flash]
# a bool mask first becomes a float one (0 or -inf, by `where`)
with_mask = kernels(SDPBackend.FLASH_ATTENTION, attn_mask=causal_mask(6))
assert with_mask[-2:] == ["where", cpu_flash]
math_ops = [
    name
    for name in kernels(SDPBackend.MATH)
    if name in ("bmm", "_safe_softmax")
]
assert math_ops == ["bmm", "_safe_softmax", "bmm"]  # plain matmul + softmax
for backend in (SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION):
    print(backend.name, end=": ")
    with expect_error(RuntimeError, "No viable backend"):
        kernels(backend)
print("FLASH_ATTENTION with dropout", end=": ")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")  # PyTorch warns why it refuses
    with expect_error(RuntimeError, "No available kernel"):
        kernels(SDPBackend.FLASH_ATTENTION, dropout_p=0.1)
reasons = [str(w.message).split(" (Triggered")[0] for w in caught]
assert "Both fused kernels do not support non-zero dropout." in reasons
print("  reason:", reasons[-1])
print("default:", kernels(), "| MATH:", math_ops)
# --8<-- [end:backends]

# %%
# --8<-- [start:top_left]
from torch.nn.attention.bias import causal_lower_right

torch.manual_seed(0)
# keys and values of 6 positions; the last 2 queries are the new ones
k, v = torch.randn(1, 4, 6, 8), torch.randn(1, 4, 6, 8)
q_all = torch.randn(1, 4, 6, 8)
q_new = q_all[:, :, 4:]

full = F.scaled_dot_product_attention(q_all, k, v, is_causal=True)
wrong = F.scaled_dot_product_attention(q_new, k, v, is_causal=True)
# is_causal aligns the triangle top left: new query 0 sees key 0 only
assert torch.allclose(wrong[:, :, 0], v[:, :, 0], atol=1e-6)
assert not torch.allclose(wrong, full[:, :, 4:], atol=1e-3)

# the new rows of the full mask: query i is position 4 + i
rows = causal_mask(6)[4:]
print(rows.int())
right = F.scaled_dot_product_attention(q_new, k, v, attn_mask=rows)
assert torch.allclose(right, full[:, :, 4:], atol=1e-6)
lower_right = causal_lower_right(2, 6)  # PyTorch's name for it
by_bias = F.scaled_dot_product_attention(q_new, k, v, attn_mask=lower_right)
assert torch.allclose(by_bias, right, atol=1e-6)
print(
    f"is_causal=True on 2 new queries: off by {(wrong - right).abs().max():.2f}"
)
# --8<-- [end:top_left]

# %%
# --8<-- [start:model]
from torch import nn

from pytorch_notes.attention import CausalSelfAttention, KVCache


class Block(nn.Module):
    def __init__(self, d_model, num_heads, num_kv_heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, num_heads, num_kv_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            nn.Linear(4 * d_model, d_model),
        )

    def forward(self, x, cache=None):
        x = x + self.attn(self.norm1(x), cache)
        return x + self.mlp(self.norm2(x))


class TinyDecoder(nn.Module):
    def __init__(self, num_kv_heads=8, vocab=128, d_model=64, num_heads=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(64, d_model)  # up to 64 positions
        self.blocks = nn.ModuleList(
            Block(d_model, num_heads, num_kv_heads) for _ in range(2)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens, caches=None):
        start = 0 if caches is None else len(caches[0])
        positions = torch.arange(start, start + tokens.shape[1])
        x = self.embed(tokens) + self.position(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.norm(x))


torch.manual_seed(0)
model = TinyDecoder().eval()
prompt = torch.tensor([list(b"Attention is all")])  # bytes as token ids
print(prompt.shape, "parameters:", sum(p.numel() for p in model.parameters()))
# --8<-- [end:model]

# %%
# --8<-- [start:decode]
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten
x = torch.randn(1, 2, 4, 8)
with FlopCounterMode(display=False) as counter:
    F.scaled_dot_product_attention(x, x, x)  # the CPU flash kernel
assert counter.get_total_flops() == 0  # no FLOP formula for it: not counted


@torch.no_grad()
def generate(model, prompt, steps, use_cache):
    """Greedy decoding; also counts each step's matmul FLOPs."""
    caches = [KVCache() for _ in model.blocks] if use_cache else None
    tokens, fed, all_logits, flops = prompt, prompt, [], []
    for _ in range(steps):
        # the MATH backend runs plain bmm, which FlopCounterMode counts
        with sdpa_kernel(SDPBackend.MATH):
            with FlopCounterMode(display=False) as counter:
                logits = model(fed, caches)[:, -1]
        counts = counter.get_flop_counts()["Global"]
        flops.append((counts[aten.addmm], counts[aten.bmm]))
        next_token = logits.argmax(dim=-1, keepdim=True)
        tokens = torch.cat([tokens, next_token], dim=1)
        fed = next_token if use_cache else tokens
        all_logits.append(logits)
    return tokens, torch.stack(all_logits, dim=1), flops


steps = 32
recomputed, logits_recomputed, flops_recomputed = generate(
    model, prompt, steps, use_cache=False
)
cached, logits_cached, flops_cached = generate(
    model, prompt, steps, use_cache=True
)
assert torch.equal(recomputed, cached)  # the same 32 tokens
assert torch.allclose(logits_recomputed, logits_cached, atol=1e-5)
print("generated ids:", cached[0, prompt.shape[1] :].tolist()[:12], "...")
print(
    "max logit difference: "
    f"{(logits_recomputed - logits_cached).abs().max():.1e}"
)
# --8<-- [end:decode]

# %%
# --8<-- [start:flops]
prompt_length, layers, d_model = prompt.shape[1], 2, 64
linear_weights = sum(
    m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear)
)
for t in range(steps):
    n = prompt_length + t  # positions in the sequence at step t
    linear, attention = flops_recomputed[t]
    assert linear == 2 * linear_weights * n  # every position, every layer
    assert attention == layers * 4 * d_model * n * n  # Q K^T and weights V
    linear, attention = flops_cached[t]
    fed = n if t == 0 else 1  # the prompt once, then one token per step
    assert linear == 2 * linear_weights * fed
    assert attention == layers * 4 * d_model * fed * n

total = [sum(map(sum, f)) for f in (flops_recomputed, flops_cached)]
print(f"linear layers: {linear_weights} weights, 2 FLOPs each per position")
print(
    f"{steps} tokens: {total[0] / 1e6:.1f} MFLOP recomputing, "
    f"{total[1] / 1e6:.1f} MFLOP with the cache ({total[0] / total[1]:.0f}x)"
)
# --8<-- [end:flops]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

per_token = {
    name: [sum(step) / 1e6 for step in flops[1:]]
    for name, flops in [
        ("recompute the prefix", flops_recomputed),
        ("KV cache", flops_cached),
    ]
}
fig, axis = plt.subplots(figsize=(6, 3.5))
for name, values in per_token.items():
    axis.plot(range(2, steps + 1), values, label=name)
axis.set_xlabel("generated token")
axis.set_ylabel("MFLOP for this token")
axis.set_title("cost of one decoding step")
axis.set_ylim(bottom=0)
axis.legend()
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:gqa]
torch.manual_seed(0)
gqa = CausalSelfAttention(d_model=64, num_heads=8, num_kv_heads=2)
mha = CausalSelfAttention(d_model=64, num_heads=8)  # 8 key/value heads
group = 8 // 2  # query heads per key/value head
with torch.no_grad():
    mha.q_proj.load_state_dict(gqa.q_proj.state_dict())
    mha.out_proj.load_state_dict(gqa.out_proj.state_dict())
    for small, big in [(gqa.k_proj, mha.k_proj), (gqa.v_proj, mha.v_proj)]:
        # rows of kv head j, copied for query heads 4j .. 4j + 3
        rows = small.weight.view(2, 8, 64).repeat_interleave(group, dim=0)
        big.weight.copy_(rows.reshape(64, 64))
        big.bias.copy_(
            small.bias.view(2, 8).repeat_interleave(group, 0).flatten()
        )
    x = torch.randn(2, 10, 64)
    assert torch.allclose(gqa(x), mha(x), atol=1e-6)

count = lambda module: sum(p.numel() for p in module.parameters())
print("parameters: MHA", count(mha), "GQA", count(gqa))
assert count(mha) - count(gqa) == 2 * (64 * 64 + 64) * (1 - 2 / 8)

# PyTorch does the repeat inside SDPA with enable_gqa=True
q, k, v = (
    torch.randn(2, 8, 10, 8),
    torch.randn(2, 2, 10, 8),
    torch.randn(2, 2, 10, 8),
)
repeated = F.scaled_dot_product_attention(
    q, k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
)
shared = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
assert torch.allclose(shared, repeated, atol=1e-6)
with expect_error(RuntimeError, "must match the size"):
    F.scaled_dot_product_attention(q, k, v)  # 8 query heads, 2 kv heads
# --8<-- [end:gqa]


# %%
# --8<-- [start:memory]
def kv_cache_bytes(layers, batch, kv_heads, length, head_dim, element_size):
    """Keys and values: two tensors per layer."""
    return 2 * layers * batch * kv_heads * length * head_dim * element_size


sequence = cached  # prompt + 32 decoded tokens
assert sequence.shape == (1, 48)
measured = {}
for kv_heads in (8, 2, 1):  # MHA, GQA, MQA
    torch.manual_seed(0)
    caches = [KVCache() for _ in range(2)]
    with torch.no_grad():
        TinyDecoder(num_kv_heads=kv_heads)(sequence, caches)
    measured[kv_heads] = sum(c.keys.nbytes + c.values.nbytes for c in caches)
    assert measured[kv_heads] == kv_cache_bytes(
        2, 1, kv_heads, sequence.shape[1], 8, 4
    )
    print(f"{kv_heads} kv heads: {measured[kv_heads]:,} bytes")
assert measured[2] * 4 == measured[1] * 8 == measured[8]  # ratio kv_heads/8

# a 7B model's shape: 32 layers, 32 heads of 128, fp16, 4096 positions
gib = 2**30
print(f"MHA, 32 kv heads: {kv_cache_bytes(32, 1, 32, 4096, 128, 2) / gib} GiB")
print(f"GQA,  8 kv heads: {kv_cache_bytes(32, 1, 8, 4096, 128, 2) / gib} GiB")
# --8<-- [end:memory]

# %%
# --8<-- [start:fused_mha]
from pytorch_notes.attention import MultiHeadAttention

torch.manual_seed(0)
block = MultiHeadAttention(d_model=64, num_heads=8)
x = torch.randn(2, 10, 64)
outputs, grads = [], []
for need_weights in (True, False):  # the book's function, then PyTorch's
    block.zero_grad()
    output, weights = block(
        x, x, x, mask=causal_mask(10), need_weights=need_weights
    )
    output.pow(2).sum().backward()
    outputs.append(output)
    grads.append([p.grad.clone() for p in block.parameters()])
assert weights is None  # the fused path never forms the weights
assert torch.allclose(outputs[0], outputs[1], atol=1e-6)
assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(*grads))
print(f"output difference {(outputs[0] - outputs[1]).abs().max():.1e}")
# --8<-- [end:fused_mha]
