# %% [markdown]
# # Positional encodings: sinusoidal, learned, RoPE
# Book page: architecture/positional

# %%
# --8<-- [start:no_order]
import torch

from pytorch_notes.attention import MultiHeadAttention

torch.manual_seed(0)
length, d_model = 6, 16
mha = MultiHeadAttention(d_model, num_heads=4)
# "the cat sat on the mat", as embeddings
tokens = torch.randn(1, length, d_model)
# a shuffled sentence: the same words in another order
order = torch.tensor([5, 2, 0, 4, 1, 3])
shuffled = tokens[:, order]

with torch.no_grad():
    output, _ = mha(tokens, tokens, tokens)
    output_shuffled, _ = mha(shuffled, shuffled, shuffled)

# Permuting the input only permutes the output: attention cannot tell the
# two orders apart.
assert torch.allclose(output_shuffled, output[:, order], atol=1e-6)
difference = (output_shuffled - output[:, order]).abs().max()
print(f"max difference after un-shuffling: {difference:.1e}")
# --8<-- [end:no_order]

# %%
# --8<-- [start:sinusoidal]
import math

from pytorch_notes.positional import sinusoidal_encoding

max_len, d = 50, 16
positions = torch.arange(max_len)
# omega_i = 10000^(-2i/d), i = 0 .. d/2 - 1
omega = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
angles = positions[:, None] * omega[None, :]  # (max_len, d/2): p * omega_i
# sin at 2i, cos at 2i+1
by_hand = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(1)

pe = sinusoidal_encoding(positions, d)
assert pe.shape == (max_len, d)
assert torch.allclose(pe, by_hand.float(), atol=1e-5)
one_entry = math.sin(7 * 10000 ** (-6 / 16))  # PE(7)_6, written out
assert math.isclose(pe[7, 2 * 3].item(), one_entry, abs_tol=1e-6)
assert pe.abs().max() <= 1  # bounded, whatever the position
# The wavelengths 2*pi/omega_i run from 2*pi to (almost) 2*pi*10000.
wavelengths = 2 * math.pi / omega
assert math.isclose(wavelengths[0].item(), 2 * math.pi)
assert wavelengths[-1] > 2 * math.pi * 1000
print("wavelengths:", [round(w) for w in wavelengths.tolist()])
# --8<-- [end:sinusoidal]

# %%
# --8<-- [start:offset]
# float64: exact enough to compare
pe = sinusoidal_encoding(torch.arange(200, dtype=torch.float64), d)
for k in (1, 5, 17):
    dots = (pe[:-k] * pe[k:]).sum(dim=-1)  # PE(p) . PE(p + k) for every p
    formula = torch.cos(k * omega).sum()  # sum_i cos(k * omega_i): no p in it
    assert torch.allclose(dots, formula.expand_as(dots))
    print(f"offset {k:2d}: PE(p).PE(p+k) = {dots[0]:.4f} for every p")

# offset 0: d/2
half_d = torch.full((200,), d / 2, dtype=torch.float64)
assert torch.allclose((pe * pe).sum(dim=-1), half_d)
# --8<-- [end:offset]


# %%
# --8<-- [start:rotation]
def rotation_for_offset(k, omega):
    """Block-diagonal matrix: one 2x2 rotation by k * omega_i per
    (sin, cos) pair."""
    blocks = []
    for w in omega.tolist():
        c, s = math.cos(k * w), math.sin(k * w)
        # acts on (sin, cos)
        blocks.append(torch.tensor([[c, s], [-s, c]], dtype=torch.float64))
    return torch.block_diag(*blocks)


k = 5
R = rotation_for_offset(k, omega)
assert R.shape == (d, d)
# orthogonal: a pure rotation
assert torch.allclose(R @ R.T, torch.eye(d, dtype=torch.float64))
# One matrix, the same for every position p: PE(p + k) = R_k PE(p).
assert torch.allclose(pe[k:], pe[:-k] @ R.T)
print("PE(p+5) = R_5 PE(p) for all", pe.shape[0] - k, "positions")
# --8<-- [end:rotation]

# %%
# --8<-- [start:learned]
import torch.nn as nn

from pytorch_notes import expect_error

torch.manual_seed(0)
max_len = 8
token_embedding = nn.Embedding(100, d_model)  # vocabulary of 100 tokens
# one trained vector per position
position_embedding = nn.Embedding(max_len, d_model)


def embed(ids):
    positions = torch.arange(ids.shape[-1])
    # (N, L, d) + (L, d)
    return token_embedding(ids) + position_embedding(positions)


ids = torch.tensor([[11, 42, 7, 99, 42, 3]])
x = embed(ids)
assert x.shape == (1, 6, d_model)
n_parameters = sum(p.numel() for p in position_embedding.parameters())
assert n_parameters == max_len * d_model
expected = token_embedding.weight[42] + position_embedding.weight[1]
assert torch.allclose(x[0, 1], expected)

# With positions added, the same word at two places gets two different
# inputs ...
assert not torch.allclose(x[0, 1], x[0, 4])
# ... and shuffling the sentence no longer just shuffles the output.
with torch.no_grad():
    output, _ = mha(x, x, x)
    x_shuffled = embed(ids[:, order])
    output_shuffled, _ = mha(x_shuffled, x_shuffled, x_shuffled)
assert not torch.allclose(output_shuffled, output[:, order], atol=1e-3)

# A table has max_len rows: position 8 has no vector, so it cannot extrapolate.
with expect_error(IndexError, "index out of range"):
    embed(torch.randint(100, (1, max_len + 1)))
# --8<-- [end:learned]


# %%
# --8<-- [start:rope_by_hand]
def rope(x, positions, base=10000.0):
    dim = x.shape[-1]
    omega = base ** (-torch.arange(0, dim, 2) / dim)
    # (L, dim/2): pair i at position p turns by p * omega_i
    angle = positions[:, None] * omega
    even, odd = x[..., 0::2], x[..., 1::2]  # pair i = features (2i, 2i+1)
    rotated = torch.stack(
        (
            even * angle.cos() - odd * angle.sin(),
            even * angle.sin() + odd * angle.cos(),
        ),
        dim=-1,
    )
    return rotated.flatten(-2)


torch.manual_seed(0)
# one query and one key vector, the same at every position
q, k = torch.randn(d), torch.randn(d)
positions = torch.arange(64.0)
q_rot = rope(q.expand(64, d), positions)  # q placed at positions 0..63
k_rot = rope(k.expand(64, d), positions)
scores = q_rot @ k_rot.T  # scores[m, n] = rope(q, m) . rope(k, n)

# The score depends only on m - n: shifting both positions changes nothing.
for offset in (-7, 0, 3, 20):
    # every m with n = m - offset in range
    m = torch.arange(max(0, offset), min(64, 64 + offset))
    diagonal = scores[m, m - offset]
    assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-4)
    print(
        f"m - n = {offset:3d}: score {diagonal[0]:+.3f} "
        f"at all {len(m)} position pairs"
    )

# rotations keep the length
assert torch.allclose(q_rot.norm(dim=-1), q.norm().expand(64))
assert torch.allclose(q_rot[0], q)  # position 0: no rotation
# --8<-- [end:rope_by_hand]

# %%
# --8<-- [start:rope_complex]
# Pair (x_2i, x_2i+1) as the complex number x_2i + i x_2i+1; rotating it
# is multiplying by e^{i p omega_i}.
q_complex = torch.view_as_complex(q.reshape(d // 2, 2))  # (d/2,) complex
# e^{i p omega_i}
turn = torch.polar(torch.ones(64, d // 2), positions[:, None] * omega.float())
# back to (64, d) real
q_rot_complex = torch.view_as_real(q_complex * turn).flatten(-2)
assert torch.allclose(q_rot_complex, q_rot, atol=1e-5)

# And the score is the real part of
# q_m * conj(k_n) = q * conj(k) * e^{i (m - n) omega}.
k_complex = torch.view_as_complex(k.reshape(d // 2, 2))
m, n = 30, 12
offset_turn = torch.polar(torch.ones(d // 2), (m - n) * omega.float())
relative = (q_complex * k_complex.conj() * offset_turn).real.sum()
assert torch.isclose(relative, scores[m, n], atol=1e-4)
print(
    f"score(30, 12) = {scores[m, n]:.4f}, from m - n = 18 alone: {relative:.4f}"
)
# --8<-- [end:rope_complex]

# %%
# --8<-- [start:package]
from pytorch_notes.positional import apply_rope

torch.manual_seed(0)
q = torch.randn(2, 4, 10, 8)  # (N, heads, L, head_dim)
positions = torch.arange(10)
assert torch.allclose(apply_rope(q, positions), rope(q, positions), atol=1e-6)

# Half-split RoPE (GPT-NeoX, Llama in Hugging Face) pairs feature i with
# i + dim/2 instead: the same rotations after reordering the features, so
# q . k is the same.
# [0, 2, 4, 6, 1, 3, 5, 7]
half_split_order = torch.cat((torch.arange(0, 8, 2), torch.arange(1, 8, 2)))


def rope_half_split(x, positions):
    first, second = x[..., :4], x[..., 4:]
    angle = positions[:, None] * 10000 ** (-torch.arange(0, 8, 2) / 8)
    return torch.cat(
        (
            first * angle.cos() - second * angle.sin(),
            first * angle.sin() + second * angle.cos(),
        ),
        dim=-1,
    )


reordered = q[..., half_split_order]
interleaved = apply_rope(q, positions)[..., half_split_order]
assert torch.allclose(
    rope_half_split(reordered, positions), interleaved, atol=1e-6
)

with expect_error(ValueError, "even dim"):
    apply_rope(torch.randn(10, 7), positions)
with expect_error(ValueError, "one entry per row"):
    apply_rope(q, torch.arange(9))
# --8<-- [end:package]

# %%
# --8<-- [start:long_context]
train_len, long_len = 64, 256
s = long_len / train_len  # the context is to grow 4 times
omega = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
# A pair whose largest angle in training is under one turn has seen only
# part of the circle: positions past 63 turn it to angles it never saw.
partly_seen = (train_len - 1) * omega < 2 * math.pi
print(
    "pairs that never complete a turn in training:",
    partly_seen.sum().item(),
    "of",
    d // 2,
)
assert partly_seen.tolist() == [False] * 3 + [True] * 5

# Position interpolation (PI): position p becomes p / s, so every position
# of the long context lands in [0, 64), the range seen in training ...
positions = torch.arange(long_len, dtype=torch.float64)
assert (positions / s).max() < train_len
torch.manual_seed(0)
q, k = torch.randn(2, 1, d, dtype=torch.float64)


def score(m, n, scale=1.0):
    m, n = torch.tensor([m / scale]), torch.tensor([n / scale])
    return (apply_rope(q, m) @ apply_rope(k, n).T).item()


# ... at the price of resolution: 4 tokens apart now look like 1 apart.
assert math.isclose(score(200, 196, scale=s), score(1, 0))
assert not math.isclose(score(200, 196), score(1, 0))

# NTK-aware scaling: a larger base instead. The fastest pair is unchanged
# (local order stays sharp), the slowest is interpolated exactly like PI.
ntk_base = 10000 * s ** (d / (d - 2))
x = torch.randn(long_len, d, dtype=torch.float64)
ntk = apply_rope(x, positions, base=ntk_base)
assert torch.allclose(ntk[:, :2], apply_rope(x, positions)[:, :2])
assert torch.allclose(ntk[:, -2:], apply_rope(x, positions / s)[:, -2:])
print(f"NTK-aware base for {s:.0f}x the context: {ntk_base:,.0f}")
# --8<-- [end:long_context]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.8, 6.4))
table = sinusoidal_encoding(torch.arange(64), 32).numpy()
image = top.imshow(table, cmap="RdBu", aspect="auto")
top.set_xlabel("feature (sin at 2i, cos at 2i+1)")
top.set_ylabel("position")
top.set_title("sinusoidal encoding, d = 32")
fig.colorbar(image, ax=top)

pe_32 = sinusoidal_encoding(torch.arange(128.0), 32)
torch.manual_seed(0)
# one vector at positions 0..127
x_rot = apply_rope(torch.randn(32).expand(128, 32), torch.arange(128))
offsets = torch.arange(128)
bottom.plot(
    offsets.numpy(),
    (pe_32 @ pe_32[0] / 16).numpy(),
    label="sinusoidal: PE(p).PE(p+k) / (d/2)",
)
bottom.plot(
    offsets.numpy(),
    (x_rot @ x_rot[0] / x_rot[0].dot(x_rot[0])).numpy(),
    label="RoPE: x_p.x_(p+k) / |x|^2",
)
bottom.set_xlabel("offset k")
bottom.set_ylabel("similarity")
bottom.set_title("similarity to position 0 falls with the offset")
bottom.legend(fontsize=8)
fig.tight_layout()
# --8<-- [end:plot]
