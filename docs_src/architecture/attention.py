# %% [markdown]
# # Attention from scratch
# Book page: architecture/attention

# %%
# --8<-- [start:formula]
import math

import torch
import torch.nn.functional as F

torch.manual_seed(0)
q = torch.randn(3, 8)  # 3 queries, d_k = 8
k = torch.randn(5, 8)  # 5 keys, also d_k = 8
v = torch.randn(5, 6)  # one value per key, d_v = 6

# (3, 5): how well query i matches key j
scores = q @ k.T / math.sqrt(k.shape[-1])
# each row becomes a probability distribution over the keys
weights = scores.softmax(dim=-1)
output = weights @ v  # (3, 6): each output row is a weighted mean of the values
assert scores.shape == weights.shape == (3, 5) and output.shape == (3, 6)
assert (weights > 0).all()
assert torch.allclose(weights.sum(dim=-1), torch.ones(3))  # rows sum to 1

# Output row i, written out: sum over the keys j of w_ij * v_j.
row_1 = sum(weights[1, j] * v[j] for j in range(5))
assert torch.allclose(output[1], row_1)
# The same score, written out: q_1 . k_2 / sqrt(d_k).
assert torch.isclose(scores[1, 2], (q[1] * k[2]).sum() / math.sqrt(8))
print("weights:\n", weights)
print("row sums:", weights.sum(dim=-1))
# --8<-- [end:formula]


# %%
# --8<-- [start:function]
def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        # True = keep, False = never look
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


torch.manual_seed(0)
# (N, heads, length, dim)
q, k, v = (
    torch.randn(2, 4, 7, 16),
    torch.randn(2, 4, 9, 16),
    torch.randn(2, 4, 9, 12),
)
output, weights = attention(q, k, v)
assert output.shape == (2, 4, 7, 12) and weights.shape == (2, 4, 7, 9)
assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 4, 7))

# PyTorch's fused version (no weights returned)
reference = F.scaled_dot_product_attention(q, k, v)
assert torch.allclose(output, reference, atol=1e-6)
print(
    "max difference to F.scaled_dot_product_attention:",
    f"{(output - reference).abs().max():.1e}",
)
# --8<-- [end:function]

# %%
# --8<-- [start:variance]
torch.manual_seed(0)
for d_k in (16, 64, 256):
    # unit-variance entries
    q_rows, k_rows = torch.randn(4000, d_k), torch.randn(4000, d_k)
    dots = (q_rows * k_rows).sum(dim=-1)  # 4000 samples of q . k
    assert abs(dots.var() / d_k - 1) < 0.1  # Var(q . k) = d_k
    # divided by sqrt(d_k): variance 1
    assert abs((dots / math.sqrt(d_k)).var() - 1) < 0.1
    print(
        f"d_k = {d_k:3d}: Var(q.k) = {dots.var():6.1f}, "
        f"Var(q.k / sqrt(d_k)) = {(dots / math.sqrt(d_k)).var():.2f}"
    )
# --8<-- [end:variance]

# %%
# --8<-- [start:saturation]
torch.manual_seed(0)
d_k = 256
# 1000 queries, 8 keys each
q_rows, k_rows = torch.randn(1000, 1, d_k), torch.randn(1000, 8, d_k)
# (1000, 8), standard deviation 16
raw_scores = (q_rows @ k_rows.transpose(-2, -1)).squeeze(1)

results = {}
for name, s in [
    ("unscaled", raw_scores),
    ("scaled", raw_scores / math.sqrt(d_k)),
]:
    s = s.clone().requires_grad_()
    p = s.softmax(dim=-1)
    # how much can the scores still move the first weight?
    p[:, 0].sum().backward()
    results[name] = (
        p.max(dim=-1).values.mean().item(),
        s.grad.abs().mean().item(),
    )
    print(
        f"{name:8s}: mean largest weight {results[name][0]:.2f}, "
        f"mean |gradient| {results[name][1]:.4f}"
    )

assert results["unscaled"][0] > 0.9  # softmax saturates: almost one-hot
assert results["scaled"][0] < 0.5
# and its gradients vanish
assert results["unscaled"][1] < results["scaled"][1] / 5
# --8<-- [end:saturation]

# %%
# --8<-- [start:causal]
torch.manual_seed(0)
length, d_model = 6, 8
tokens = torch.randn(1, length, d_model)
to_q, to_k, to_v = (torch.nn.Linear(d_model, d_model) for _ in range(3))

# position i sees 0..i
causal = torch.ones(length, length, dtype=torch.bool).tril()
print(causal.int())


def self_attention(x):
    return attention(to_q(x), to_k(x), to_v(x), mask=causal)


with torch.no_grad():
    output, weights = self_attention(tokens)
    changed = tokens.clone()
    changed[:, 4:] = torch.randn(1, 2, d_model)  # rewrite the last two tokens
    output_changed, _ = self_attention(changed)

above_diagonal = ~causal
# no weight on the future, exactly
assert (weights[0][above_diagonal] == 0).all()
# the first token can only see itself
assert torch.equal(weights[0, 0], torch.eye(length)[0])
assert torch.allclose(weights.sum(dim=-1), torch.ones(1, length))
# earlier outputs: bit-for-bit the same
assert torch.equal(output_changed[:, :4], output[:, :4])
# later ones do change
assert not torch.allclose(output_changed[:, 4:], output[:, 4:])
reference = F.scaled_dot_product_attention(
    to_q(tokens), to_k(tokens), to_v(tokens), is_causal=True
)
assert torch.allclose(output, reference, atol=1e-6)
print("causal weights:\n", weights[0].numpy().round(2))
# --8<-- [end:causal]

# %%
# --8<-- [start:package]
from pytorch_notes import expect_error
from pytorch_notes.attention import (
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)

assert torch.equal(causal_mask(length), causal)
torch.manual_seed(0)
q, k, v = (
    torch.randn(2, 4, 7, 16),
    torch.randn(2, 4, 9, 16),
    torch.randn(2, 4, 9, 12),
)
mask = torch.rand(7, 9) > 0.3
mask[:, 0] = True  # every query keeps at least one key
ours, ours_weights = attention(q, k, v, mask)
package, package_weights = scaled_dot_product_attention(q, k, v, mask)
assert torch.equal(ours, package) and torch.equal(ours_weights, package_weights)
assert torch.allclose(
    package, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6
)

with expect_error(ValueError, "share the last dimension"):
    scaled_dot_product_attention(q, k[..., :8], v)
no_key = torch.zeros(7, 9, dtype=torch.bool)  # no query may look at any key
lost, _ = scaled_dot_product_attention(q, k, v, no_key)  # not checked: no sync
assert lost.isnan().all()  # each row is softmax of all -inf: 0/0
# --8<-- [end:package]

# %%
# --8<-- [start:heads]
torch.manual_seed(0)
batch, length, d_model, num_heads = 2, 6, 16, 4
head_dim = d_model // num_heads
mha = MultiHeadAttention(d_model, num_heads)
x = torch.randn(batch, length, d_model)

with torch.no_grad():
    projected_q = mha.q_proj(x)  # (N, L, d_model)
    # cut d_model into heads
    split_q = projected_q.view(batch, length, num_heads, head_dim)
    # (N, heads, L, head_dim): heads become a batch dimension
    heads_q = split_q.transpose(1, 2)
    assert heads_q.shape == (2, 4, 6, 4)
    # head 2 = columns 8..11
    assert torch.equal(
        heads_q[:, 2], projected_q[..., 2 * head_dim : 3 * head_dim]
    )
    heads_k = (
        mha.k_proj(x).view(batch, length, num_heads, head_dim).transpose(1, 2)
    )
    heads_v = (
        mha.v_proj(x).view(batch, length, num_heads, head_dim).transpose(1, 2)
    )

    # all heads at once
    per_head, per_head_weights = attention(heads_q, heads_k, heads_v)
    assert per_head.shape == (2, 4, 6, 4) and per_head_weights.shape == (
        2,
        4,
        6,
        6,
    )
    # heads side by side again
    merged = per_head.transpose(1, 2).reshape(batch, length, d_model)
    assert torch.equal(merged[..., 2 * head_dim : 3 * head_dim], per_head[:, 2])
    by_hand = mha.out_proj(merged)

    output, averaged_weights = mha(x, x, x)
assert output.shape == (2, 6, 16) and averaged_weights.shape == (2, 6, 6)
assert torch.allclose(output, by_hand, atol=1e-6)
assert torch.allclose(averaged_weights, per_head_weights.mean(dim=1))
print(mha)
# --8<-- [end:heads]

# %%
# --8<-- [start:torch_mha]
torch.manual_seed(0)
torch_mha = torch.nn.MultiheadAttention(d_model, num_heads, batch_first=True)
# W_q, W_k, W_v stacked
assert torch_mha.in_proj_weight.shape == (3 * d_model, d_model)

with torch.no_grad():
    w_q, w_k, w_v = torch_mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = torch_mha.in_proj_bias.chunk(3)
    for layer, w, b in [
        (mha.q_proj, w_q, b_q),
        (mha.k_proj, w_k, b_k),
        (mha.v_proj, w_v, b_v),
        (mha.out_proj, torch_mha.out_proj.weight, torch_mha.out_proj.bias),
    ]:
        layer.weight.copy_(w)
        layer.bias.copy_(b)

    keep = causal_mask(length)
    ours, ours_weights = mha(x, x, x, mask=keep)
    # PyTorch: True = do NOT attend
    theirs, theirs_weights = torch_mha(x, x, x, attn_mask=~keep)
    # the keep-mask, passed as is
    wrong, wrong_weights = torch_mha(x, x, x, attn_mask=keep)

assert torch.allclose(ours, theirs, atol=1e-5)
# both averaged over the heads
assert torch.allclose(ours_weights, theirs_weights, atol=1e-6)
# The wrong convention: each token sees only the future, and the last one sees
# nothing (NaN).
assert (wrong_weights[:, :-1][keep[:-1].expand(batch, -1, -1)] == 0).all()
assert wrong[:, -1].isnan().all() and not wrong[:, :-1].isnan().any()
assert not torch.allclose(ours[:, :-1], wrong[:, :-1], atol=1e-3)

count = lambda module: sum(p.numel() for p in module.parameters())
assert count(mha) == count(torch_mha) == 4 * d_model**2 + 4 * d_model
print("parameters:", count(mha), "= 4*16^2 + 4*16")
print(
    "max difference to nn.MultiheadAttention: "
    f"{(ours - theirs).abs().max():.1e}"
)
# --8<-- [end:torch_mha]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

words = ["the", "cat", "sat", "on", "the", "mat"]
fig, axis = plt.subplots(figsize=(4.5, 4))
image = axis.imshow(ours_weights[0].numpy(), cmap="viridis", vmin=0, vmax=1)
axis.set_xticks(range(6), words)
axis.set_yticks(range(6), words)
axis.set_xlabel("key (attended to)")
axis.set_ylabel("query")
axis.set_title("causal attention weights")
fig.colorbar(image, ax=axis)
fig.tight_layout()
# --8<-- [end:plot]
