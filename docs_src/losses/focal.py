# %% [markdown]
# # Focal loss
# Book page: losses/focal

# %%
# --8<-- [start:imbalance]
import math

import torch
import torch.nn.functional as F


def logits_for(p_true, num_classes=2):
    """Logits whose softmax gives class 0 probability p_true (the rest
    shared evenly)."""
    rest = (1 - p_true) / (num_classes - 1)
    row = [math.log(p_true)] + [math.log(rest)] * (num_classes - 1)
    # float64: exact comparisons with the formulas
    return torch.tensor([row], dtype=torch.float64)


# 990 easy examples the model already gets right (p_t = 0.9), 10 hard ones (p_t
# = 0.1).
easy, hard = logits_for(0.9).repeat(990, 1), logits_for(0.1).repeat(10, 1)
logits = torch.cat([easy, hard])
targets = torch.zeros(1000, dtype=torch.long)

ce = F.cross_entropy(logits, targets, reduction="none")
easy_share = ce[:990].sum() / ce.sum()
assert math.isclose(ce[0].item(), -math.log(0.9)) and math.isclose(
    ce[-1].item(), -math.log(0.1)
)
# the easy 99% carry over 80% of the total cross-entropy
assert easy_share > 0.8
print(f"CE per example: easy {ce[0]:.3f}, hard {ce[-1]:.3f}")
print(f"share of the total CE from the 990 easy examples: {easy_share:.1%}")
# --8<-- [end:imbalance]


# %%
# --8<-- [start:by_hand]
def focal_by_hand(logits, targets, gamma):
    log_p = F.log_softmax(logits, dim=1)  # log of the softmax, computed stably
    # log p_t, one per example
    log_p_true = log_p.gather(1, targets[:, None]).squeeze(1)
    p_true = log_p_true.exp()
    modulating = (1 - p_true) ** gamma  # ~0 for easy examples, ~1 for hard ones
    return -modulating * log_p_true  # per-example focal loss


fl = focal_by_hand(logits, targets, gamma=2)
easy_share_focal = fl[:990].sum() / fl.sum()
assert round(easy_share_focal.item(), 2) == 0.05  # ~5%: the hard 10 carry 95%
# gamma = 0: plain cross-entropy
assert torch.allclose(focal_by_hand(logits, targets, gamma=0), ce)

torch.manual_seed(0)
random_logits = 3 * torch.randn(8, 5, dtype=torch.float64)
random_targets = torch.randint(0, 5, (8,))
assert torch.allclose(
    focal_by_hand(random_logits, random_targets, gamma=0),
    F.cross_entropy(random_logits, random_targets, reduction="none"),
)
print(f"focal loss (gamma=2) per example: easy {fl[0]:.5f}, hard {fl[-1]:.3f}")
print(
    "share of the total focal loss from the easy examples: "
    f"{easy_share_focal:.1%}"
)
# --8<-- [end:by_hand]

# %%
# --8<-- [start:factor]
for gamma in (0, 0.5, 1, 2, 5):
    easy_factor, hard_factor = (1 - 0.9) ** gamma, (1 - 0.1) ** gamma
    print(
        f"gamma={gamma:<3}  (1-p_t)^gamma: p_t=0.9 -> {easy_factor:.5f}   "
        f"p_t=0.1 -> {hard_factor:.5f}"
    )

# the easy example's loss is cut 100 times
assert math.isclose(fl[0] / ce[0], 0.01)
assert math.isclose(fl[-1] / ce[-1], 0.81)  # the hard one keeps 81 % of it
fl_5 = focal_by_hand(logits, targets, gamma=5)  # gamma = 5 widens the gap
assert math.isclose(fl_5[0] / ce[0], 1e-5)  # 10^-5 ...
assert round((fl_5[-1] / ce[-1]).item(), 2) == 0.59  # ... against 0.59
# focal loss never exceeds cross-entropy, and the larger gamma, the smaller it
# is
p_grid = torch.linspace(0.01, 0.99, 99)
losses_by_gamma = [-((1 - p_grid) ** g) * p_grid.log() for g in (0, 1, 2, 5)]
for smaller, larger in zip(losses_by_gamma[1:], losses_by_gamma[:-1]):
    assert (smaller <= larger).all()
# --8<-- [end:factor]

# %%
# --8<-- [start:package]
from pytorch_notes import expect_error
from pytorch_notes.losses import focal_loss

for gamma in (0, 0.5, 2, 5):
    per_example = focal_loss(
        random_logits, random_targets, gamma=gamma, reduction="none"
    )
    assert torch.allclose(
        per_example, focal_by_hand(random_logits, random_targets, gamma)
    )
    assert torch.allclose(
        focal_loss(random_logits, random_targets, gamma=gamma),
        per_example.mean(),
    )
    assert torch.allclose(
        focal_loss(random_logits, random_targets, gamma=gamma, reduction="sum"),
        per_example.sum(),
    )
# Class indices are not checked (a GPU sync): gather refuses a bad one.
with expect_error(RuntimeError, "out of bounds"):
    focal_loss(random_logits, torch.tensor([0, 1, 2, 3, 4, 0, 1, 7]))
print("pytorch_notes.losses.focal_loss agrees with the hand-built version")
print(
    "mean focal loss on the imbalanced batch: "
    f"{focal_loss(logits, targets):.5f}"
    f"  (cross-entropy {F.cross_entropy(logits, targets):.5f})"
)
# --8<-- [end:package]

# %%
# --8<-- [start:alpha]
# one weight per class
alpha = torch.tensor([0.2, 1.0, 1.0, 3.0, 0.5], dtype=torch.float64)
# alpha_t: the weight of each example's true class
alpha_true = alpha[random_targets]
ce_each = F.cross_entropy(random_logits, random_targets, reduction="none")

# gamma = 0 with alpha is class-weighted cross-entropy, for every reduction
for reduction in ("none", "sum", "mean"):
    ours = focal_loss(
        random_logits, random_targets, gamma=0, alpha=alpha, reduction=reduction
    )
    assert torch.allclose(
        ours,
        F.cross_entropy(
            random_logits, random_targets, weight=alpha, reduction=reduction
        ),
    )

# "mean" divides by the sum of the weights, not by the number of examples
weighted_mean = (alpha_true * ce_each).sum() / alpha_true.sum()
plain_mean = (alpha_true * ce_each).mean()
assert torch.allclose(
    F.cross_entropy(random_logits, random_targets, weight=alpha), weighted_mean
)
assert not torch.allclose(weighted_mean, plain_mean)
assert round(weighted_mean.item(), 2) == 5.54  # sum / sum of alpha_t ...
assert round(plain_mean.item(), 2) == 4.64  # ... against sum / N

# with gamma > 0 the two factors simply multiply
with_both = focal_loss(
    random_logits, random_targets, gamma=2, alpha=alpha, reduction="none"
)
assert torch.allclose(
    with_both,
    alpha_true * focal_by_hand(random_logits, random_targets, gamma=2),
)
print(f"weighted mean (sum / sum of alpha_t): {weighted_mean:.4f}")
print(f"plain mean    (sum / N)             : {plain_mean:.4f}")
# --8<-- [end:alpha]


# %%
# --8<-- [start:gradient]
def logit_gradient(loss_fn, p_true, num_classes=3):
    z = logits_for(p_true, num_classes).requires_grad_()
    loss_fn(z, torch.tensor([0])).backward()
    return z.grad[0]


ce_loss = F.cross_entropy
focal_2 = lambda z, y: focal_loss(z, y, gamma=2)
grads = {
    (name, p): logit_gradient(fn, p)
    for name, fn in [("CE", ce_loss), ("focal", focal_2)]
    for p in (0.9, 0.1)
}
for (name, p), grad in grads.items():
    print(f"{name:5s} p_t={p}: dL/dz = {[round(g, 4) for g in grad.tolist()]}")

# cross-entropy: dL/dz = p - onehot
assert torch.allclose(
    grads["CE", 0.9], torch.tensor([0.9 - 1, 0.05, 0.05], dtype=torch.float64)
)
# focal: dFL/dz_j = dFL/dp_t * p_t (delta_tj - p_j), with dFL/dp_t = gamma
# (1-p)^(gamma-1) log p - (1-p)^gamma / p
for p in (0.9, 0.1):
    probs = torch.tensor([p, (1 - p) / 2, (1 - p) / 2], dtype=torch.float64)
    one_hot_true = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    dfl_dp = 2 * (1 - p) * math.log(p) - (1 - p) ** 2 / p
    assert torch.allclose(
        grads["focal", p], dfl_dp * p * (one_hot_true - probs)
    )

norm = {key: grad.norm().item() for key, grad in grads.items()}
assert norm["focal", 0.9] < norm["focal", 0.1]  # easy example: smaller push
# focal cuts the easy gradient > 20x ...
assert norm["focal", 0.9] / norm["CE", 0.9] < 0.05
# ... while the hard one even grows a little
assert norm["focal", 0.1] > norm["CE", 0.1]
# on the true logit of the hard example: 1.10 against 0.90
assert round(grads["focal", 0.1][0].item(), 2) == -1.10
assert round(grads["CE", 0.1][0].item(), 2) == -0.90
# --8<-- [end:gradient]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

p_t = torch.linspace(0.001, 1.0, 500)
fig, axis = plt.subplots(figsize=(6, 4))
for gamma in (0, 0.5, 1, 2, 5):
    label = "gamma=0 (cross-entropy)" if gamma == 0 else f"gamma={gamma}"
    axis.plot(
        p_t.numpy(), (-((1 - p_t) ** gamma) * p_t.log()).numpy(), label=label
    )
axis.axvspan(0.6, 1.0, color="grey", alpha=0.15)
axis.text(0.8, 3.5, "well-classified", ha="center")
axis.set_xlabel("probability of the true class p_t")
axis.set_ylabel("loss")
axis.set_ylim(0, 5)
# in the shaded region the focal curves fall far below cross-entropy
well = torch.linspace(0.6, 1.0, 401, dtype=torch.float64)
peak = {g: (-((1 - well) ** g) * well.log()).max().item() for g in (0, 2, 5)}
assert round(peak[0], 2) == 0.51 and peak[2] < 0.09 and peak[5] < 0.006
axis.legend()
fig.tight_layout()
# --8<-- [end:plot]
