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
tokens = torch.randn(1, length, d_model)  # "the cat sat on the mat", as embeddings
order = torch.tensor([5, 2, 0, 4, 1, 3])  # a shuffled sentence: same words, another order
shuffled = tokens[:, order]

with torch.no_grad():
    output, _ = mha(tokens, tokens, tokens)
    output_shuffled, _ = mha(shuffled, shuffled, shuffled)

# Permuting the input only permutes the output: attention cannot tell the two orders apart.
assert torch.allclose(output_shuffled, output[:, order], atol=1e-6)
print("max difference after un-shuffling:", f"{(output_shuffled - output[:, order]).abs().max():.1e}")
# --8<-- [end:no_order]

# %%
# --8<-- [start:sinusoidal]
import math

from pytorch_notes.positional import sinusoidal_encoding

max_len, d = 50, 16
positions = torch.arange(max_len)
omega = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # omega_i = 10000^(-2i/d), i = 0 .. d/2 - 1
angles = positions[:, None] * omega[None, :]  # (max_len, d/2): p * omega_i
by_hand = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(1)  # sin at 2i, cos at 2i+1

pe = sinusoidal_encoding(positions, d)
assert pe.shape == (max_len, d)
assert torch.allclose(pe, by_hand.float(), atol=1e-5)
assert math.isclose(pe[7, 2 * 3].item(), math.sin(7 * 10000 ** (-6 / 16)), abs_tol=1e-6)  # one entry, written out
assert pe.abs().max() <= 1  # bounded, whatever the position
# The wavelengths 2*pi/omega_i run from 2*pi to (almost) 2*pi*10000.
wavelengths = 2 * math.pi / omega
assert math.isclose(wavelengths[0].item(), 2 * math.pi) and wavelengths[-1] > 2 * math.pi * 1000
print("wavelengths:", [round(w) for w in wavelengths.tolist()])
# --8<-- [end:sinusoidal]

# %%
# --8<-- [start:offset]
pe = sinusoidal_encoding(torch.arange(200, dtype=torch.float64), d)  # float64: exact enough to compare
for k in (1, 5, 17):
    dots = (pe[:-k] * pe[k:]).sum(dim=-1)  # PE(p) . PE(p + k) for every p
    formula = torch.cos(k * omega).sum()  # sum_i cos(k * omega_i): no p in it
    assert torch.allclose(dots, formula.expand_as(dots))
    print(f"offset {k:2d}: PE(p).PE(p+k) = {dots[0]:.4f} for every p")

assert torch.allclose((pe * pe).sum(dim=-1), torch.full((200,), d / 2, dtype=torch.float64))  # offset 0: d/2
# --8<-- [end:offset]

# %%
# --8<-- [start:rotation]
def rotation_for_offset(k, omega):
    """Block-diagonal matrix with one 2x2 rotation by k * omega_i per (sin, cos) pair."""
    blocks = []
    for w in omega.tolist():
        c, s = math.cos(k * w), math.sin(k * w)
        blocks.append(torch.tensor([[c, s], [-s, c]], dtype=torch.float64))  # acts on (sin, cos)
    return torch.block_diag(*blocks)


k = 5
R = rotation_for_offset(k, omega)
assert R.shape == (d, d)
assert torch.allclose(R @ R.T, torch.eye(d, dtype=torch.float64))  # orthogonal: a pure rotation
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
position_embedding = nn.Embedding(max_len, d_model)  # one trained vector per position


def embed(ids):
    positions = torch.arange(ids.shape[-1])
    return token_embedding(ids) + position_embedding(positions)  # (N, L, d) + (L, d)


ids = torch.tensor([[11, 42, 7, 99, 42, 3]])
x = embed(ids)
assert x.shape == (1, 6, d_model)
assert sum(p.numel() for p in position_embedding.parameters()) == max_len * d_model
assert torch.allclose(x[0, 1], token_embedding.weight[42] + position_embedding.weight[1])

# With positions added, the same word at two places gets two different inputs ...
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
    angle = positions[:, None] * omega  # (L, dim/2): pair i at position p turns by p * omega_i
    even, odd = x[..., 0::2], x[..., 1::2]  # pair i = features (2i, 2i+1)
    rotated = torch.stack((even * angle.cos() - odd * angle.sin(),
                           even * angle.sin() + odd * angle.cos()), dim=-1)
    return rotated.flatten(-2)


torch.manual_seed(0)
q, k = torch.randn(d), torch.randn(d)  # one query and one key vector, the same at every position
positions = torch.arange(64.0)
q_rot = rope(q.expand(64, d), positions)  # q placed at positions 0..63
k_rot = rope(k.expand(64, d), positions)
scores = q_rot @ k_rot.T  # scores[m, n] = rope(q, m) . rope(k, n)

# The score depends only on m - n: shifting both positions changes nothing.
for offset in (-7, 0, 3, 20):
    m = torch.arange(max(0, offset), min(64, 64 + offset))  # every m with n = m - offset in range
    diagonal = scores[m, m - offset]
    assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-4)
    print(f"m - n = {offset:3d}: score {diagonal[0]:+.3f} at all {len(m)} position pairs")

assert torch.allclose(q_rot.norm(dim=-1), q.norm().expand(64))  # rotations keep the length
assert torch.allclose(q_rot[0], q)  # position 0: no rotation
# --8<-- [end:rope_by_hand]

# %%
# --8<-- [start:rope_complex]
# Pair (x_2i, x_2i+1) as the complex number x_2i + i x_2i+1; rotating it is multiplying by e^{i p omega_i}.
q_complex = torch.view_as_complex(q.reshape(d // 2, 2))  # (d/2,) complex
turn = torch.polar(torch.ones(64, d // 2), positions[:, None] * omega.float())  # e^{i p omega_i}
q_rot_complex = torch.view_as_real(q_complex * turn).flatten(-2)  # back to (64, d) real
assert torch.allclose(q_rot_complex, q_rot, atol=1e-5)

# And the score is the real part of q_m * conj(k_n) = q * conj(k) * e^{i (m - n) omega}.
k_complex = torch.view_as_complex(k.reshape(d // 2, 2))
m, n = 30, 12
relative = (q_complex * k_complex.conj() * torch.polar(torch.ones(d // 2), (m - n) * omega.float())).real.sum()
assert torch.isclose(relative, scores[m, n], atol=1e-4)
print(f"score(30, 12) = {scores[m, n]:.4f}, from m - n = 18 alone: {relative:.4f}")
# --8<-- [end:rope_complex]

# %%
# --8<-- [start:package]
from pytorch_notes.positional import apply_rope

torch.manual_seed(0)
q = torch.randn(2, 4, 10, 8)  # (N, heads, L, head_dim)
positions = torch.arange(10)
assert torch.allclose(apply_rope(q, positions), rope(q, positions), atol=1e-6)

# Half-split RoPE (GPT-NeoX, Llama in Hugging Face) pairs feature i with i + dim/2 instead:
# the same rotations after reordering the features, so q . k is the same.
half_split_order = torch.cat((torch.arange(0, 8, 2), torch.arange(1, 8, 2)))  # [0, 2, 4, 6, 1, 3, 5, 7]
def rope_half_split(x, positions):
    first, second = x[..., :4], x[..., 4:]
    angle = positions[:, None] * 10000 ** (-torch.arange(0, 8, 2) / 8)
    return torch.cat((first * angle.cos() - second * angle.sin(), first * angle.sin() + second * angle.cos()), dim=-1)
assert torch.allclose(rope_half_split(q[..., half_split_order], positions),
                      apply_rope(q, positions)[..., half_split_order], atol=1e-6)

with expect_error(ValueError, "even dim"):
    apply_rope(torch.randn(10, 7), positions)
with expect_error(ValueError, "one entry per row"):
    apply_rope(q, torch.arange(9))
# --8<-- [end:package]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
image = left.imshow(sinusoidal_encoding(torch.arange(64), 32).numpy(), cmap="RdBu", aspect="auto")
left.set_xlabel("feature (sin at 2i, cos at 2i+1)")
left.set_ylabel("position")
left.set_title("sinusoidal encoding, d = 32")
fig.colorbar(image, ax=left)

pe_32 = sinusoidal_encoding(torch.arange(128.0), 32)
torch.manual_seed(0)
x_rot = apply_rope(torch.randn(32).expand(128, 32), torch.arange(128))  # one vector at positions 0..127
offsets = torch.arange(128)
right.plot(offsets.numpy(), (pe_32 @ pe_32[0] / 16).numpy(), label="sinusoidal: PE(p).PE(p+k) / (d/2)")
right.plot(offsets.numpy(), (x_rot @ x_rot[0] / x_rot[0].dot(x_rot[0])).numpy(), label="RoPE: x_p.x_(p+k) / |x|^2")
right.set_xlabel("offset k")
right.set_ylabel("similarity")
right.set_title("similarity to position 0 falls with the offset")
right.legend(fontsize=8)
fig.tight_layout()
# --8<-- [end:plot]
