# %% [markdown]
# # Cross-attention: text reads the image
# Book page: multimodal/cross-attention

# %%
# --8<-- [start:shapes]
import math

import torch
import torch.nn as nn

torch.manual_seed(0)
text = torch.randn(2, 7, 32)  # (N, L, d_text): 7 text tokens of width 32
# (N, S, d_image): a 7x7 grid of patches of width 48
image = torch.randn(2, 49, 48)

d_k = 16  # queries and keys meet in a shared space of width d_k
W_q = torch.randn(32, d_k) / math.sqrt(32)  # text  -> query
W_k = torch.randn(48, d_k) / math.sqrt(48)  # image -> key
# image -> value, back at the text width
W_v = torch.randn(48, 32) / math.sqrt(48)

# (2, 7, 16), (2, 49, 16), (2, 49, 32)
q, k, v = text @ W_q, image @ W_k, image @ W_v
# (2, 7, 49): every text token against every patch
scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
weights = scores.softmax(dim=-1)
output = weights @ v  # (2, 7, 32)

assert (
    q.shape == (2, 7, 16) and k.shape == (2, 49, 16) and v.shape == (2, 49, 32)
)
assert scores.shape == weights.shape == (2, 7, 49) and output.shape == (
    2,
    7,
    32,
)
# Each example reads its own image only: change image 0, output 1 stays.
changed = image.clone()
changed[0] = torch.randn(49, 48)
q2, k2, v2 = text @ W_q, changed @ W_k, changed @ W_v
again = (q2 @ k2.transpose(-2, -1) / math.sqrt(d_k)).softmax(dim=-1) @ v2
assert torch.allclose(again[1], output[1])
assert not torch.allclose(again[0], output[0], atol=1e-2)
# Text token 3 of image 1 = a weighted mean of that image's 49 patch values.
assert torch.allclose(
    output[1, 3], (weights[1, 3, :, None] * v[1]).sum(dim=0), atol=1e-6
)
print(
    "weights:",
    tuple(weights.shape),
    "| row sums:",
    weights.sum(dim=-1)[0].numpy().round(4),
)
# --8<-- [end:shapes]

# %%
# --8<-- [start:torch_mha]
from pytorch_notes.attention import scaled_dot_product_attention

torch.manual_seed(0)
embed_dim, num_heads = 32, 4
head_dim = embed_dim // num_heads
torch_cross = nn.MultiheadAttention(
    embed_dim, num_heads, kdim=48, vdim=48, batch_first=True
)
# kdim != embed_dim: three separate matrices
assert torch_cross.in_proj_weight is None
assert torch_cross.q_proj_weight.shape == (32, 32)
assert (
    torch_cross.k_proj_weight.shape
    == torch_cross.v_proj_weight.shape
    == (32, 48)
)

to_q, to_k, to_v, to_out = (
    nn.Linear(32, 32),
    nn.Linear(48, 32),
    nn.Linear(48, 32),
    nn.Linear(32, 32),
)
with torch.no_grad():
    # the biases are still stacked
    b_q, b_k, b_v = torch_cross.in_proj_bias.chunk(3)
    for layer, w, b in [
        (to_q, torch_cross.q_proj_weight, b_q),
        (to_k, torch_cross.k_proj_weight, b_k),
        (to_v, torch_cross.v_proj_weight, b_v),
        (to_out, torch_cross.out_proj.weight, torch_cross.out_proj.bias),
    ]:
        layer.weight.copy_(w)
        layer.bias.copy_(b)


def split_heads(x):  # (N, length, 32) -> (N, heads, length, 8)
    return x.view(x.shape[0], x.shape[1], num_heads, head_dim).transpose(1, 2)


def cross_attention(text, image):
    heads, weights = scaled_dot_product_attention(
        split_heads(to_q(text)),
        split_heads(to_k(image)),
        # (N, 4, 7, 8), (N, 4, 7, 49)
        split_heads(to_v(image)),
    )
    merged = heads.transpose(1, 2).reshape(
        text.shape[0], text.shape[1], embed_dim
    )
    return to_out(merged), weights.mean(dim=1)


with torch.no_grad():
    ours, ours_weights = cross_attention(text, image)
    # query, key, value
    theirs, theirs_weights = torch_cross(text, image, image)
assert ours.shape == theirs.shape == (2, 7, 32) and theirs_weights.shape == (
    2,
    7,
    49,
)
assert torch.allclose(ours, theirs, atol=1e-5)
assert torch.allclose(ours_weights, theirs_weights, atol=1e-6)
count = sum(p.numel() for p in torch_cross.parameters())
assert count == 32 * 32 + 2 * 32 * 48 + 3 * 32 + (32 * 32 + 32)
print(
    "parameters:",
    count,
    "| max difference:",
    f"{(ours - theirs).abs().max():.1e}",
)
# --8<-- [end:torch_mha]

# %%
# --8<-- [start:lengths]
with torch.no_grad():
    for patches in (16, 49, 196):  # a 4x4, 7x7 or 14x14 grid
        out, w = torch_cross(
            text, torch.randn(2, patches, 48), torch.randn(2, patches, 48)
        )
        # length of the text, always
        assert out.shape == (2, 7, 32) and w.shape == (2, 7, patches)
        print(
            f"{patches:3d} patches -> output {tuple(out.shape)}, "
            f"weights {tuple(w.shape)}"
        )
    short_text, _ = torch_cross(text[:, :3], image, image)
    # the queries alone decide the output length
    assert short_text.shape == (2, 3, 32)

# Swap the roles and the image asks the questions: the output then has one row
# per patch.
image_reads_text = nn.MultiheadAttention(
    48, 4, kdim=32, vdim=32, batch_first=True
)
with torch.no_grad():
    out, _ = image_reads_text(image, text, text)
assert out.shape == (2, 49, 48)
# --8<-- [end:lengths]

# %%
# --8<-- [start:project_first]
from pytorch_notes import expect_error
from pytorch_notes.attention import MultiHeadAttention

torch.manual_seed(0)
mha = MultiHeadAttention(32, 4)  # keys and values must have width d_model = 32
with expect_error(ValueError, "(N, length, 32)"):
    mha(text, image, image)

media_proj = nn.Linear(48, 32)  # bring the patches to the text width first
with torch.no_grad():
    media = media_proj(image)
    out, w = mha(text, media, media)
    assert out.shape == (2, 7, 32) and w.shape == (2, 7, 49)

    # Two linear maps in a row are one linear map: k_proj(media_proj(m)) = m W^T
    # + b, with W = W_k W_p (32 x 48) and b = W_k b_p + b_k.
    W = mha.k_proj.weight @ media_proj.weight
    b = mha.k_proj.weight @ media_proj.bias + mha.k_proj.bias
    assert W.shape == (32, 48)
    assert torch.allclose(mha.k_proj(media), image @ W.T + b, atol=1e-5)
print("keys from projected media == one 48 -> 32 map: True")
# --8<-- [end:project_first]

# %%
# --8<-- [start:gate_by_hand]
torch.manual_seed(1)
norm = nn.LayerNorm(32)
alpha = nn.Parameter(torch.zeros(()))  # the gate, a single scalar, starts at 0


def gated_cross_attention(x, image):
    media = media_proj(image)
    attended, _ = mha(norm(x), media, media)
    return x + torch.tanh(alpha) * attended, attended


x = text.clone()  # stands in for the hidden states of a frozen language model
y, attended = gated_cross_attention(x, image)
assert torch.equal(y, x)  # tanh(0) = 0: the new layer is exactly the identity

target = torch.randn(2, 7, 32)
loss = (y - target).pow(2).sum()
loss.backward()
grad_y = 2 * (y - target).detach()
# dy/dalpha = (1 - tanh(alpha)^2) * attended = attended at alpha = 0
assert torch.allclose(alpha.grad, (grad_y * attended.detach()).sum(), rtol=1e-4)
assert alpha.grad.abs() > 0  # the gate learns from step 1 ...
attention_grads = [
    p.grad
    for p in [*mha.parameters(), *media_proj.parameters(), *norm.parameters()]
]
# ... the attention does not
assert all(torch.equal(g, torch.zeros_like(g)) for g in attention_grads)

optimizer = torch.optim.SGD(
    [alpha, *mha.parameters(), *media_proj.parameters(), *norm.parameters()],
    lr=1e-3,
)
optimizer.step()
optimizer.zero_grad()
assert alpha != 0  # one step later the gate is ajar ...
(gated_cross_attention(x, image)[0] - target).pow(2).sum().backward()
# ... and the attention weights now get gradient
assert mha.q_proj.weight.grad.abs().sum() > 0
print(f"alpha after one step: {alpha.item():.4f}")
# --8<-- [end:gate_by_hand]

# %%
# --8<-- [start:package]
from pytorch_notes.attention import GatedCrossAttention

torch.manual_seed(0)
block = GatedCrossAttention(
    d_model=32, media_dim=48, num_heads=4, ffn_hidden=64
)
print(block)
y, w = block(text, image)
# both gates at 0: the identity
assert torch.equal(y, text) and w.shape == (2, 7, 49)
y.pow(2).sum().backward()
assert block.attn_gate.grad != 0 and block.ffn_gate.grad != 0
gated_away = [
    p for name, p in block.named_parameters() if not name.endswith("gate")
]
assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in gated_away)

# The same forward, line by line, with the block's own layers and two open
# gates.
with torch.no_grad():
    block.attn_gate.fill_(0.5)
    block.ffn_gate.fill_(-0.3)
    media = block.media_proj(image)
    attended, weights = block.attn(block.norm(text), media, media)
    h = text + math.tanh(0.5) * attended
    # ffn = LayerNorm -> Linear -> GELU -> Linear
    h = h + math.tanh(-0.3) * block.ffn(h)
    y, w = block(text, image)
assert torch.allclose(y, h, atol=1e-6) and torch.equal(w, weights)

with expect_error(ValueError, "media_dim=48"):
    block(text, text)
with expect_error(ValueError, "same batch size"):
    block(text, image[:1])
# --8<-- [end:package]

# %%
# --8<-- [start:train]
torch.manual_seed(0)
classes, patches, text_len = 4, 16, 4
patterns = 2 * torch.randn(classes, 48)  # the "object" of each class


def make_batch(n):
    labels = torch.randint(classes, (n,))
    images = torch.randn(n, patches, 48)  # background patches
    where = torch.randint(patches, (n,))
    # the object sits in one random patch
    images[torch.arange(n), where] += patterns[labels]
    # the text says nothing about it
    return torch.randn(n, text_len, 32), images, labels, where


model = GatedCrossAttention(d_model=32, media_dim=48, num_heads=4)
# the frozen language model's readout
frozen_head = nn.Linear(32, classes).requires_grad_(False)


def loss_of(x, images, labels):
    y, weights = model(x, images)
    # every text token predicts the class
    logits = frozen_head(y).reshape(-1, classes)
    return nn.functional.cross_entropy(
        logits, labels.repeat_interleave(text_len)
    ), weights


optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
test_text, test_images, test_labels, test_where = make_batch(256)
# each text gets the previous example's image
shuffled = test_images.roll(1, dims=0)
with torch.no_grad():
    loss_before = loss_of(test_text, test_images, test_labels)[0].item()
    # gate 0: the image is ignored
    assert loss_of(test_text, shuffled, test_labels)[0].item() == loss_before
for step in range(60):
    loss = loss_of(*make_batch(64)[:3])[0]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
with torch.no_grad():
    loss_after, test_weights = loss_of(test_text, test_images, test_labels)
    loss_shuffled = loss_of(test_text, shuffled, test_labels)[0]
gate = torch.tanh(model.attn_gate).item()
print(
    f"loss {loss_before:.3f} -> {loss_after:.4f} | "
    f"shuffled images {loss_shuffled:.2f} | tanh(gate) = {gate:.3f}"
)
assert abs(gate) > 0.05  # the gate has opened
assert loss_after < 0.1 * loss_before  # and the loss fell
assert loss_shuffled > 10 * loss_after  # because the model reads the image
# --8<-- [end:train]

# %%
# --8<-- [start:map]
import matplotlib.pyplot as plt

# (256, 4): weight on the object's patch
on_object = test_weights[torch.arange(256), :, test_where]
assert on_object.mean() > 5 / patches  # far above the uniform 1/16
print(
    f"mean weight on the object's patch: {on_object.mean():.2f} "
    f"(uniform: {1 / patches:.3f})"
)

fig, axis = plt.subplots(figsize=(7, 2.4))
image_map = axis.imshow(
    test_weights[0].numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto"
)
axis.set_xticks(range(patches))
where = test_where[0].item()
axis.add_patch(
    plt.Rectangle(
        (where - 0.5, -0.5),
        1,
        text_len,
        fill=False,
        edgecolor="red",
        linewidth=2,
    )
)
axis.set_yticks(range(text_len), [f"text {i}" for i in range(text_len)])
axis.set_xlabel(f"image patch (red box: the object, patch {where})")
axis.set_title("cross-attention weights after training: query x patch")
fig.colorbar(image_map, ax=axis)
fig.tight_layout()
# --8<-- [end:map]

# %%
# --8<-- [start:qformer]
from pytorch_notes.attention import QFormerBlock

torch.manual_seed(0)
qformer = QFormerBlock(num_queries=32, d_model=32, media_dim=48, num_heads=4)
assert isinstance(qformer.queries, nn.Parameter) and qformer.queries.shape == (
    32,
    32,
)

for patches in (49, 256):
    out, w = qformer(torch.randn(2, patches, 48))
    # 32 tokens per image, always
    assert out.shape == (2, 32, 32) and w.shape == (2, 32, patches)
    assert torch.allclose(w.sum(dim=-1), torch.ones(2, 32))
    print(f"{patches:3d} patches -> {tuple(out.shape)}")

# The forward, step by step: self-attention among the queries, cross-attention
# to the image, FFN.
with torch.no_grad():
    media = qformer.media_proj(image)
    q = qformer.queries.expand(2, -1, -1)  # the same 32 queries for every image
    h = qformer.self_norm(q)
    q = q + qformer.self_attn(h, h, h)[0]
    attended, _ = qformer.cross_attn(qformer.cross_norm(q), media, media)
    q = q + attended
    by_hand = q + qformer.ffn(q)
out, _ = qformer(image)
assert torch.allclose(out, by_hand, atol=1e-6)
# same queries, different images: different summaries
assert not torch.allclose(out[0], out[1])

out.pow(2).mean().backward()
# the queries learn
assert qformer.queries.grad is not None and qformer.queries.grad.abs().sum() > 0
# --8<-- [end:qformer]

# %%
# --8<-- [start:fixed_tokens]
torch.manual_seed(0)
llm_width, prompt_len = 64, 12
# BLIP-2: one linear layer into the LLM's embedding space
to_llm = nn.Linear(32, llm_width)
prompt = torch.randn(1, prompt_len, llm_width)  # embedded text tokens

with torch.no_grad():
    for side in (16, 32):  # 256 or 1024 patches
        patches = torch.randn(1, side * side, 48)
        visual_tokens = to_llm(qformer(patches)[0])  # (1, 32, 64)
        # soft visual prompt + text
        llm_input = torch.cat([visual_tokens, prompt], dim=1)
        # fixed, whatever the image size
        assert llm_input.shape == (1, 32 + prompt_len, llm_width)
        raw = side * side + prompt_len  # what feeding every patch would cost
        # self-attention scores per LLM layer
        ratio = raw**2 / llm_input.shape[1] ** 2
        assert ratio > 30
        print(
            f"{side * side:4d} patches: "
            f"LLM input {llm_input.shape[1]} tokens instead of {raw}, "
            f"{ratio:.0f}x fewer attention scores per layer"
        )
# --8<-- [end:fixed_tokens]
