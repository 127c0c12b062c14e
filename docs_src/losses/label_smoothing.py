# %% [markdown]
# # Label smoothing
# Book page: losses/label-smoothing

# %%
# --8<-- [start:smooth_target]
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
# 8 examples, 5 classes
random_logits = 3 * torch.randn(8, 5, dtype=torch.float64)
random_targets = torch.randint(0, 5, (8,))
# -log p_y, one per example
ce_each = F.cross_entropy(random_logits, random_targets, reduction="none")

num_classes, eps = 5, 0.1
one_hot = F.one_hot(random_targets, num_classes).to(torch.float64)
# every class gets eps/K, the true one too
soft_targets = (1 - eps) * one_hot + eps / num_classes
assert torch.allclose(
    soft_targets.sum(dim=1), torch.ones(8, dtype=torch.float64)
)
assert math.isclose(
    soft_targets[0, random_targets[0]].item(), 1 - eps + eps / num_classes
)

log_p = F.log_softmax(random_logits, dim=1)
# cross-entropy with the soft targets
against_soft = -(soft_targets * log_p).sum(dim=1).mean()
hand_formula = ((1 - eps) * ce_each + eps * (-log_p).mean(dim=1)).mean()
assert torch.allclose(against_soft, hand_formula)
assert torch.allclose(
    F.cross_entropy(random_logits, random_targets, label_smoothing=eps),
    hand_formula,
)
assert torch.allclose(
    nn.CrossEntropyLoss(label_smoothing=eps)(random_logits, random_targets),
    hand_formula,
)
# soft targets accepted directly
assert torch.allclose(
    F.cross_entropy(random_logits, soft_targets), hand_formula
)
print(
    "soft target of example 0: "
    f"{[round(v, 4) for v in soft_targets[0].tolist()]}"
)
print(
    f"label-smoothed cross-entropy: {hand_formula:.4f}  "
    f"(plain: {ce_each.mean():.4f})"
)
# --8<-- [end:smooth_target]

# %%
# --8<-- [start:kl_view]
from pytorch_notes import expect_error
from pytorch_notes.losses import smoothed_cross_entropy

for smoothing in (0.0, 0.1, 0.5):
    assert torch.allclose(
        smoothed_cross_entropy(random_logits, random_targets, smoothing),
        F.cross_entropy(
            random_logits, random_targets, label_smoothing=smoothing
        ),
    )

# mean_k(-log p_k) = KL(u || p) + log K: the eps term pulls p towards the
# uniform u
uniform = torch.full((8, num_classes), 1 / num_classes, dtype=torch.float64)
# KL(u || p), one per example
kl_u_p = F.kl_div(log_p, uniform, reduction="none").sum(dim=1)
assert torch.allclose((-log_p).mean(dim=1), kl_u_p + math.log(num_classes))
assert (kl_u_p >= 0).all()
assert torch.allclose(
    hand_formula,
    ((1 - eps) * ce_each + eps * kl_u_p).mean() + eps * math.log(num_classes),
)
print(f"KL(u || p) per example: {[round(v, 3) for v in kl_u_p.tolist()]}")

with expect_error(ValueError, "smoothing must be in [0, 1]"):
    smoothed_cross_entropy(random_logits, random_targets, 1.5)
# --8<-- [end:kl_view]


# %%
# --8<-- [start:closed_form]
def best_gap(eps, K):
    """Logit gap z_y - z_k at the smoothed loss's minimum: log(q_y / q_k)."""
    return math.log((1 - eps + eps / K) / (eps / K))


for eps_, K in [(0.1, 5), (0.1, 10), (0.2, 5), (0.01, 1000)]:
    q = torch.full((1, K), eps_ / K, dtype=torch.float64)
    q[0, 0] += 1 - eps_  # the smoothed target, true class 0
    z = q.log().requires_grad_()  # logits = log q, so softmax(z) = q
    loss = F.cross_entropy(z, torch.tensor([0]), label_smoothing=eps_)
    loss.backward()
    # gradient p - q = 0: this is the minimum (the loss is convex in z)
    assert z.grad.abs().max() < 1e-12
    assert math.isclose((z[0, 0] - z[0, 1]).item(), best_gap(eps_, K))
    # the same, rearranged
    assert math.isclose(best_gap(eps_, K), math.log(1 + K * (1 - eps_) / eps_))
    entropy_q = -(q * q.log()).sum().item()
    # the smallest loss is H(q), not 0
    assert math.isclose(loss.item(), entropy_q)
    if (eps_, K) == (0.1, 5):
        assert round(best_gap(eps_, K), 2) == 3.83  # log 46
        assert round(entropy_q, 2) == 0.39
    print(
        f"eps={eps_:<5} K={K:<5} best gap = {best_gap(eps_, K):6.3f}   "
        f"smallest loss H(q) = {entropy_q:.3f}"
    )
# --8<-- [end:closed_form]


# %%
# --8<-- [start:optimal_gap]
def fit_one_example(smoothing, checkpoints, num_classes=5):
    """Gradient descent on the logits of one example (class 0 is true);
    (gap, loss) at each checkpoint."""
    z = torch.zeros(1, num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([z], lr=1.0)
    history = []
    for step in range(1, max(checkpoints) + 1):
        optimizer.zero_grad()
        loss = F.cross_entropy(z, torch.tensor([0]), label_smoothing=smoothing)
        loss.backward()
        optimizer.step()
        if step in checkpoints:
            # true logit minus the largest other one
            gap = (z[0, 0] - z[0, 1:]).min().item()
            history.append((gap, loss.item()))
    return history


(gap_smooth, loss_smooth), (gap_later, _) = fit_one_example(
    0.1, checkpoints=(400, 800)
)
assert abs(gap_smooth - best_gap(0.1, 5)) < 1e-3  # log 46
assert abs(gap_later - gap_smooth) < 1e-3  # stays put

gaps_plain = [
    gap for gap, _ in fit_one_example(0.0, checkpoints=(100, 400, 1600))
]
# without smoothing the gap keeps growing
assert gaps_plain[0] < gaps_plain[1] < gaps_plain[2]
assert gaps_plain[2] > best_gap(0.1, 5)
assert [round(gap, 1) for gap in gaps_plain] == [6.2, 7.6, 9.0]
print(
    f"with eps=0.1: gap {gap_smooth:.4f}  "
    f"(formula log(46) = {best_gap(0.1, 5):.4f}), loss {loss_smooth:.4f}"
)
print(
    "without smoothing: gap after 100/400/1600 steps = "
    f"{[round(g, 2) for g in gaps_plain]}"
)
# --8<-- [end:optimal_gap]

# %%
# --8<-- [start:train]
from pytorch_notes.data import gaussian_ring

K = 6
# overlapping classes
points, labels = gaussian_ring(n=600, modes=K, radius=2.0, std=0.7, seed=0)
test_points, test_labels = gaussian_ring(
    n=2000, modes=K, radius=2.0, std=0.7, seed=1
)


def train_classifier(smoothing, seed):
    torch.manual_seed(seed)  # the same initial weights for every smoothing
    net = nn.Sequential(
        nn.Linear(2, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, K),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        F.cross_entropy(
            net(points), labels, label_smoothing=smoothing
        ).backward()
        optimizer.step()
    with torch.no_grad():
        return net(test_points).softmax(dim=1)


runs = {}  # seed -> {smoothing: (probs, confidence, accuracy)}
for seed in (0, 1, 2):  # three initial weights: the same relations each time
    stats = runs[seed] = {}
    for smoothing in (0.0, 0.1):
        probs = train_classifier(smoothing, seed)
        confidence, predicted = probs.max(dim=1)
        accuracy = (predicted == test_labels).float().mean().item()
        stats[smoothing] = (probs, confidence, accuracy)
    _, conf_plain, acc_plain = stats[0.0]
    _, conf_smooth, acc_smooth = stats[0.1]
    assert abs(acc_plain - acc_smooth) < 0.02  # the same decisions ...
    drop = conf_plain.mean() - conf_smooth.mean()
    assert 0.05 < drop < 0.11  # ... made with less confidence
    assert conf_plain.max() > 0.999 and conf_smooth.max() < 0.99
    assert (conf_plain >= 0.99).float().mean() > 0.1
    assert not (conf_smooth >= 0.99).any()
    assert conf_plain.mean() > acc_plain  # plain: over-confident
    assert conf_smooth.mean() < acc_smooth  # smoothed: a little under-confident
    if seed == 0:  # the pair the page prints and plots
        for smoothing, (_, confidence, accuracy) in stats.items():
            print(
                f"eps={smoothing}: test accuracy {accuracy:.3f}, "
                f"mean confidence {confidence.mean():.3f}, "
                f"largest confidence {confidence.max():.4f}"
            )
stats = runs[0]
(_, conf_plain, acc_plain), (_, conf_smooth, acc_smooth) = (
    stats[0.0],
    stats[0.1],
)
# --8<-- [end:train]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axis = plt.subplots(figsize=(6, 3.5))
bins = torch.linspace(1 / K, 1, 31).numpy()
axis.hist(conf_plain.numpy(), bins=bins, alpha=0.6, label="eps = 0 (plain)")
axis.hist(conf_smooth.numpy(), bins=bins, alpha=0.6, label="eps = 0.1")
axis.axvline(
    1 - 0.1 + 0.1 / K, color="black", linestyle="--", label="1 - eps + eps/K"
)
axis.set_xlabel("confidence (largest softmax probability)")
axis.set_ylabel("test points")
axis.legend(loc="upper left")
fig.tight_layout()
# --8<-- [end:plot]


# %%
# --8<-- [start:distillation]
def wrong_class_entropy(probs):
    """Entropy of the distribution over the K - 1 classes other than the
    predicted one."""
    rest = probs.scatter(1, probs.argmax(dim=1, keepdim=True), 0.0)
    rest = rest / rest.sum(dim=1, keepdim=True)
    return -(rest * rest.clamp_min(1e-12).log()).sum(dim=1).mean().item()


# the entropy of a uniform distribution over the other 5 classes
flat = math.log(K - 1)
entropies = {
    seed: (wrong_class_entropy(run[0.0][0]), wrong_class_entropy(run[0.1][0]))
    for seed, run in runs.items()
}
for entropy_plain, entropy_smooth in entropies.values():  # all three pairs
    assert entropy_smooth > 2 * entropy_plain and entropy_smooth < flat
entropy_plain, entropy_smooth = entropies[0]
print(
    f"entropy of the wrong-class probabilities: plain {entropy_plain:.2f}, "
    f"smoothed {entropy_smooth:.2f} (uniform: {flat:.2f})"
)
# --8<-- [end:distillation]
