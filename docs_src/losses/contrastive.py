# %% [markdown]
# # Contrastive losses: InfoNCE, NT-Xent and triplet
# Book page: losses/contrastive

# %%
# --8<-- [start:info_nce]
import math

import torch
import torch.nn.functional as F

torch.manual_seed(0)
N, D, tau = 8, 16, 0.1
# unit vectors: a dot product is a cosine similarity
anchors = F.normalize(torch.randn(N, D), dim=1)
# a noisy view of each anchor
positives = F.normalize(anchors + 0.5 * torch.randn(N, D), dim=1)
# (N, N): anchor i against every candidate j; positives on the diagonal
sim = anchors @ positives.T
cosine = F.cosine_similarity(anchors[2], positives[5], dim=0)
assert torch.isclose(sim[2, 5], cosine)

# InfoNCE term by term: L_i = -log( exp(s_ii / tau) / sum_j exp(s_ij / tau) )
terms = [
    -torch.log(torch.exp(sim[i, i] / tau) / torch.exp(sim[i] / tau).sum())
    for i in range(N)
]
by_hand = torch.stack(terms).mean()
# The same loss as classification: row i has N "classes" (the candidates),
# and the right one is i.
as_classification = F.cross_entropy(sim / tau, torch.arange(N))
assert torch.allclose(by_hand, as_classification)

# Chance level: when every similarity is equal, each row is a uniform guess
# among N candidates.
chance = F.cross_entropy(torch.zeros(N, N), torch.arange(N)).item()
assert math.isclose(chance, math.log(N), rel_tol=1e-6)
assert by_hand < math.log(N)  # the noisy views are already recognisable
print(
    f"InfoNCE by hand {by_hand:.4f} | as cross-entropy "
    f"{as_classification:.4f} | chance log N = {math.log(N):.4f}"
)
# --8<-- [end:info_nce]

# %%
# --8<-- [start:temperature]
# one anchor: its positive first, then negatives, hard to easy
row = torch.tensor([0.8, 0.7, 0.3, 0.1, -0.2, -0.5])
temperatures = [1.0, 0.5, 0.1, 0.05]
softmaxes = [(row / t).softmax(dim=0) for t in temperatures]
entropies = [-(p * p.log()).sum().item() for p in softmaxes]
for t, p, h in zip(temperatures, softmaxes, entropies):
    print(f"tau = {t:4}: probabilities {p.numpy().round(3)}, entropy {h:.3f}")

# Lower temperature, sharper distribution: entropy falls, the largest
# probability rises.
assert all(a > b for a, b in zip(entropies, entropies[1:]))
assert all(p.max() < q.max() for p, q in zip(softmaxes, softmaxes[1:]))
# tau = 1: nearly uniform, as cosines only span [-1, 1]
assert entropies[0] > 0.9 * math.log(6)
# --8<-- [end:temperature]

# %%
# --8<-- [start:hard_negatives]
gradients = {}
for t in temperatures:
    s = row.clone().requires_grad_()
    F.cross_entropy((s / t)[None], torch.tensor([0])).backward()
    p = (row / t).softmax(dim=0)
    # dL/ds_j = (p_j - [j is the positive]) / tau: negatives are pushed,
    # the positive pulled.
    expected = (p - F.one_hot(torch.tensor(0), 6)) / t
    assert torch.allclose(s.grad, expected, atol=1e-6)
    # the push on the negatives equals the pull on the positive
    assert abs(s.grad.sum()) < 1e-5
    gradients[t] = s.grad

# The share of the push on the hardest negative (s = 0.7) grows as tau
# falls ...
hard_share = [
    (gradients[t][1] / gradients[t][1:].sum()).item() for t in temperatures
]
assert all(a < b for a, b in zip(hard_share, hard_share[1:]))
assert hard_share[-1] > 0.99
# ... the hard negative's gradient itself is larger at tau = 0.1 than at 1,
# the easiest one's is smaller.
assert gradients[0.1][1] > 5 * gradients[1.0][1]
assert gradients[0.1][5] < gradients[1.0][5] / 1000
for t, share in zip(temperatures, hard_share):
    print(
        f"tau = {t:4}: dL/ds on the hard negative {gradients[t][1]:.3f}, "
        f"share of the push {share:.1%}"
    )
# --8<-- [end:hard_negatives]

# %%
# --8<-- [start:nt_xent_loop]
torch.manual_seed(0)
N, tau = 4, 0.5
view1 = torch.randn(N, D)
view2 = view1 + 0.8 * torch.randn(N, D)  # two augmentations of N examples
# 2N embeddings: first views, then second views
z = F.normalize(torch.cat([view1, view2]), dim=1)
sim = z @ z.T  # (2N, 2N)

total = 0.0
for i in range(2 * N):
    positive = i + N if i < N else i - N  # the other view of the same example
    denominator = 0.0
    for k in range(2 * N):
        if k != i:  # all but yourself: 1 positive + 2N - 2 negatives
            denominator += torch.exp(sim[i, k] / tau)
    total += -torch.log(torch.exp(sim[i, positive] / tau) / denominator)
loop_loss = total / (2 * N)

# Why "yourself" must go: s_ii = 1 is the largest entry of every row.
assert torch.allclose(sim.diagonal(), torch.ones(2 * N))
assert (sim.max(dim=1).values <= sim.diagonal() + 1e-6).all()
print(f"NT-Xent, double loop: {loop_loss:.4f}")
# --8<-- [end:nt_xent_loop]

# %%
# --8<-- [start:nt_xent_vectorized]
self_mask = torch.eye(2 * N, dtype=torch.bool)
# exp(-inf) = 0: yourself drops out of the sum
logits = (sim / tau).masked_fill(self_mask, float("-inf"))
# i -> i + N, i + N -> i
targets = torch.cat([torch.arange(N, 2 * N), torch.arange(0, N)])
assert torch.equal(targets, (torch.arange(2 * N) + N) % (2 * N))
vectorized = F.cross_entropy(logits, targets)
assert torch.allclose(vectorized, loop_loss)

# Forget the mask, and every row spends most of its probability on itself.
unmasked = F.cross_entropy(sim / tau, targets)
assert unmasked > vectorized
print(
    f"NT-Xent, vectorized: {vectorized:.4f} | without the mask: {unmasked:.4f}"
)
# --8<-- [end:nt_xent_vectorized]

# %%
# --8<-- [start:package]
import inspect

from pytorch_notes import expect_error
from pytorch_notes.losses import info_nce, nt_xent

# The default temperatures: 0.1 for info_nce, 0.5 for nt_xent ...
defaults = {
    f.__name__: inspect.signature(f).parameters["temperature"].default
    for f in (info_nce, nt_xent)
}
assert defaults == {"info_nce": 0.1, "nt_xent": 0.5}
# ... and the results agree with the hand-written losses at those values.
assert torch.allclose(info_nce(anchors, positives), as_classification)
assert torch.allclose(nt_xent(view1, view2), loop_loss)
# it normalizes its inputs: scaling one changes nothing
assert torch.allclose(info_nce(3 * anchors, positives), as_classification)
assert nt_xent(view1, view2, reduction="none").shape == (2 * N,)
print("default temperatures:", defaults)

with expect_error(ValueError, "same shape"):
    info_nce(anchors, positives[:5])
with expect_error(ValueError, "temperature must be > 0"):
    nt_xent(view1, view2, temperature=0)
with expect_error(ValueError, "at least 2 pairs"):
    info_nce(anchors[:1], positives[:1])
# --8<-- [end:package]

# %%
# --8<-- [start:triplet]
torch.manual_seed(0)
# 32 triplets of 5-d embeddings
anchor, positive, negative = torch.randn(3, 32, 5).unbind(0)


def triplet_by_hand(anchor, positive, negative, margin, p=2, eps=1e-6):
    def distance(x, y):
        return (x - y + eps).norm(p=p, dim=1)  # PyTorch adds eps to x - y

    gap = distance(anchor, positive) - distance(anchor, negative)
    return (gap + margin).clamp(min=0).mean()


for margin in (0.2, 1.0, 2.0):
    for p in (2, 1):  # Euclidean distance (the default), and L1
        loss_fn = torch.nn.TripletMarginLoss(margin=margin, p=p)
        reference = loss_fn(anchor, positive, negative)
        mine = triplet_by_hand(anchor, positive, negative, margin, p=p)
        assert torch.allclose(mine, reference)
        print(f"margin {margin}, p={p}: triplet loss {reference:.4f}")

# Triplets already farther from the negative than from the positive by the
# margin cost nothing.
gaps = F.pairwise_distance(anchor, negative) - F.pairwise_distance(
    anchor, positive
)
anchor_grad = anchor.clone().requires_grad_()
loss_fn = torch.nn.TripletMarginLoss(margin=1.0, reduction="none")
per_triplet = loss_fn(anchor_grad, positive, negative)
per_triplet.sum().backward()
easy = gaps > 1.0
assert easy.any() and (per_triplet[easy] == 0).all()
assert (anchor_grad.grad[easy] == 0).all()

# With a single negative, InfoNCE is a soft triplet:
# log(1 + exp((s_neg - s_pos) / tau)).
s_pos, s_neg = torch.tensor(0.6), torch.tensor(0.4)
pair_logits = torch.stack([s_pos, s_neg])[None] / 0.1
two_way = F.cross_entropy(pair_logits, torch.tensor([0]))
assert torch.allclose(two_way, F.softplus((s_neg - s_pos) / 0.1))
# --8<-- [end:triplet]

# %%
# --8<-- [start:train]
torch.manual_seed(0)


def two_views(signal):
    """The same 2-D point, slightly jittered, plus 6 dims of fresh noise
    that the embedding should ignore."""
    jitter = signal + 0.05 * torch.randn_like(signal)
    return torch.cat([jitter, torch.randn(len(signal), 6)], dim=1)


encoder = torch.nn.Sequential(
    torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8)
)
held_out = torch.rand(32, 2) * 4 - 2
held_a, held_b = two_views(held_out), two_views(held_out)


def evaluate():
    with torch.no_grad():
        a = F.normalize(encoder(held_a), dim=1)
        s = a @ F.normalize(encoder(held_b), dim=1).T
    # is the positive the best match?
    top1 = (s.argmax(dim=1) == torch.arange(32)).float().mean().item()
    return s, s.diagonal().mean().item(), top1


sim_before, positive_before, top1_before = evaluate()
optimizer = torch.optim.Adam(encoder.parameters(), lr=0.01)
losses = []
for step in range(150):
    signal = torch.rand(128, 2) * 4 - 2
    view_a = encoder(two_views(signal))
    loss = info_nce(view_a, encoder(two_views(signal)), temperature=0.1)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
sim_after, positive_after, top1_after = evaluate()

assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10  # the loss falls
# positive pairs are pulled together ...
assert positive_after > 0.95 > positive_before
# ... and picked out of 32 candidates (chance: 3%)
assert top1_before < 0.25 and top1_after > 0.6
print(
    f"loss {losses[0]:.2f} -> {losses[-1]:.2f} "
    f"(chance log 128 = {math.log(128):.2f})"
)
print(
    f"held-out positive similarity {positive_before:.2f} -> "
    f"{positive_after:.2f}, top-1 match {top1_before:.0%} -> "
    f"{top1_after:.0%}"
)
# --8<-- [end:train]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axes = plt.subplot_mosaic(
    [["loss", "loss"], ["before", "after"]],
    figsize=(6.8, 6),
    height_ratios=[2, 3],
    layout="constrained",
)
axes["loss"].plot(losses)
axes["loss"].axhline(
    math.log(128), color="gray", linestyle="--", label="chance, log 128"
)
axes["loss"].set_xlabel("step")
axes["loss"].set_ylabel("InfoNCE loss")
axes["loss"].legend()
panels = [
    (axes["before"], sim_before, "before training"),
    (axes["after"], sim_after, "after training"),
]
for axis, s, title in panels:
    image = axis.imshow(s[:12, :12].numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    axis.set_title(title)
    axis.set_xlabel("view 2 of held-out point j")
    axis.set_ylabel("view 1 of point i")
fig.colorbar(
    image, ax=[axes["before"], axes["after"]], label="cosine similarity"
)
# --8<-- [end:plot]
