# %% [markdown]
# # Loss functions: L1, MSE, CrossEntropy
# Book page: nn/losses

# %%
# --8<-- [start:l1_mse]
import torch
import torch.nn as nn
import torch.nn.functional as F

predictions = torch.tensor([1.0, 2.0, 3.0])
targets = torch.tensor([1.0, 2.0, 5.0])
error = predictions - targets  # [0, 0, -2]

l1_mean = nn.L1Loss()(predictions, targets)  # reduction="mean" is the default
l1_sum = nn.L1Loss(reduction="sum")(predictions, targets)
l1_none = nn.L1Loss(reduction="none")(predictions, targets)
mse_mean = nn.MSELoss()(predictions, targets)
mse_sum = nn.MSELoss(reduction="sum")(predictions, targets)
mse_none = nn.MSELoss(reduction="none")(predictions, targets)

assert torch.equal(l1_none, error.abs()) and torch.equal(
    l1_none, torch.tensor([0.0, 0.0, 2.0])
)
assert torch.equal(mse_none, error**2) and torch.equal(
    mse_none, torch.tensor([0.0, 0.0, 4.0])
)
assert l1_sum == 2 and torch.isclose(l1_mean, torch.tensor(2 / 3))
assert mse_sum == 4 and torch.isclose(mse_mean, torch.tensor(4 / 3))
assert l1_mean == l1_none.mean() and mse_sum == mse_none.sum()
# module and function: the same number
assert mse_mean == F.mse_loss(predictions, targets)

# the same batch, twice as large
twice = predictions.repeat(2), targets.repeat(2)
# the mean does not depend on the batch size
assert nn.MSELoss()(*twice) == mse_mean
assert nn.MSELoss(reduction="sum")(*twice) == 2 * mse_sum  # the sum does
print(
    f"L1:  none {l1_none.tolist()}  "
    f"sum {l1_sum.item():.4f}  mean {l1_mean.item():.4f}"
)
print(
    f"MSE: none {mse_none.tolist()}  "
    f"sum {mse_sum.item():.4f}  mean {mse_mean.item():.4f}"
)
# --8<-- [end:l1_mse]

# %%
# --8<-- [start:cross_entropy]
# (N=1, C=3): raw scores, one row per example
logits = torch.tensor([[0.1, 0.2, 0.3]])
label = torch.tensor([1])  # (N,): the index of the right class

loss = nn.CrossEntropyLoss()(logits, label)
# -x_y + log sum_j exp(x_j)
by_formula = -logits[0, 1] + torch.log(torch.exp(logits[0]).sum())
# log-softmax, then pick -log p_y
two_steps = F.nll_loss(F.log_softmax(logits, dim=1), label)

assert torch.isclose(loss, by_formula) and torch.isclose(loss, two_steps)
assert abs(loss.item() - 1.1019) < 1e-4
# = -log p_y
assert torch.isclose(loss, -torch.log(torch.softmax(logits, dim=1)[0, 1]))
print(f"CrossEntropyLoss   {loss.item():.4f}")
print(f"-x_y + logsumexp   {by_formula.item():.4f}")
print(f"nll(log_softmax)   {two_steps.item():.4f}")
# --8<-- [end:cross_entropy]

# %%
# --8<-- [start:logits]
probabilities = torch.softmax(logits, dim=1)
wrong = F.cross_entropy(probabilities, label)  # softmax applied twice
assert not torch.isclose(wrong, loss)
print(
    f"on logits {loss.item():.4f}, on probabilities {wrong.item():.4f}  (wrong)"
)

confident = torch.tensor([[0.0, 5.0, 0.0]])  # the model is sure, and right
right_way = F.cross_entropy(confident, label)
wrong_way = F.cross_entropy(torch.softmax(confident, dim=1), label)
# softmax twice squashes the confidence away
assert right_way < 0.02 and wrong_way > 0.5
print(
    f"confident logits: {right_way.item():.4f} on logits, "
    f"{wrong_way.item():.4f} on probabilities"
)

# Even a perfect, certain prediction cannot reach a loss of 0 that way:
perfect = torch.tensor([[0.0, 1.0, 0.0]])  # "probability 1 for class 1"
floor = F.cross_entropy(perfect, label)
assert torch.isclose(
    floor, -1 + torch.log(torch.exp(torch.tensor([0.0, 1.0, 0.0])).sum())
)
assert abs(floor.item() - 0.5514) < 1e-4  # -1 + log(2 + e), far from 0
# logits can
assert F.cross_entropy(torch.tensor([[0.0, 20.0, 0.0]]), label) < 1e-8
print(f"'perfect' probabilities still give a loss of {floor.item():.4f}")
# --8<-- [end:logits]

# %%
# --8<-- [start:targets]
from pytorch_notes import expect_error

torch.manual_seed(0)
batch_logits = torch.randn(4, 3)  # N = 4 examples, C = 3 classes
class_index = torch.tensor([0, 2, 1, 2])  # dtype int64 (long)
one_hot = F.one_hot(class_index, num_classes=3).float()  # (N, C), dtype float32

assert class_index.dtype == torch.long and one_hot.dtype == torch.float32
assert torch.isclose(
    F.cross_entropy(batch_logits, class_index),
    F.cross_entropy(batch_logits, one_hot),
)

# soft labels: each row is a distribution over classes
soft = torch.tensor(
    [[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]]
)
by_formula = -(soft * F.log_softmax(batch_logits, dim=1)).sum(dim=1).mean()
assert torch.isclose(F.cross_entropy(batch_logits, soft), by_formula)

with expect_error(RuntimeError, "Float"):  # (N,) targets must be integers
    # indices stored as float
    F.cross_entropy(batch_logits, class_index.float())
print(
    f"indices {F.cross_entropy(batch_logits, class_index).item():.4f} = "
    f"one-hot {F.cross_entropy(batch_logits, one_hot).item():.4f}; "
    f"soft labels {F.cross_entropy(batch_logits, soft).item():.4f}"
)
# --8<-- [end:targets]

# %%
# --8<-- [start:shapes]
per_example = F.cross_entropy(batch_logits, class_index, reduction="none")
rows = range(4)
assert per_example.shape == (4,)
assert torch.allclose(
    per_example,
    -batch_logits[rows, class_index] + batch_logits.logsumexp(dim=1),
)
assert torch.isclose(
    per_example.mean(), F.cross_entropy(batch_logits, class_index)
)

torch.manual_seed(0)
# (N, C, H, W): a score per class for every pixel
pixel_logits = torch.randn(2, 3, 4, 4)
pixel_labels = torch.randint(0, 3, (2, 4, 4))  # (N, H, W): a class per pixel
per_pixel = F.cross_entropy(pixel_logits, pixel_labels, reduction="none")
assert per_pixel.shape == (2, 4, 4)

# (N*H*W, C): class axis last
flat_logits = pixel_logits.permute(0, 2, 3, 1).reshape(-1, 3)
flat_labels = pixel_labels.reshape(-1)
assert torch.isclose(
    F.cross_entropy(pixel_logits, pixel_labels),
    F.cross_entropy(flat_logits, flat_labels),
)
print(
    "(N, C) logits",
    tuple(batch_logits.shape),
    "+ (N,) labels -> per example",
    tuple(per_example.shape),
)
print(
    "(N, C, H, W) logits",
    tuple(pixel_logits.shape),
    "+ (N, H, W) labels -> per pixel",
    tuple(per_pixel.shape),
)
# --8<-- [end:shapes]

# %%
# --8<-- [start:stability]
big = torch.tensor([[1000.0, 0.0, -1000.0]])

# exp(1000) = inf, inf / inf = nan
naive_softmax = torch.exp(big) / torch.exp(big).sum()
# softmax(-1000 vs 1000) = 0, log 0 = -inf
log_of_softmax = torch.log(torch.softmax(big, dim=1))
stable = F.cross_entropy(big, label)

overflow = torch.exp(torch.tensor([88.7, 88.8]))  # float32 ends near e^88.72
assert torch.isfinite(overflow[0]) and torch.isinf(overflow[1])
assert torch.isinf(torch.exp(big)).any() and torch.isnan(naive_softmax).any()
assert torch.isinf(-log_of_softmax[0, 1])
# -0 + (1000 + log(1 + e^-1000 + e^-2000))
assert torch.isfinite(stable) and stable == 1000.0

shifted = big - big.max()  # the logsumexp trick: subtract the max first
assert (
    big.logsumexp(dim=1).item()
    == (big.max() + torch.exp(shifted).sum().log()).item()
    == 1000.0
)
print("naive softmax:", naive_softmax)
print("-log(softmax)[1]:", -log_of_softmax[0, 1].item())
print("F.cross_entropy:", stable.item())
# --8<-- [end:stability]

# %%
# --8<-- [start:ignore_weight]
# -100: "no label here" (the default ignore_index)
labels_with_padding = torch.tensor([0, 2, -100, 1])
per_example = F.cross_entropy(
    batch_logits, labels_with_padding, reduction="none"
)
keep = labels_with_padding != -100
assert per_example[2] == 0
assert torch.isclose(
    F.cross_entropy(batch_logits, labels_with_padding),
    # mean over 3, not 4
    F.cross_entropy(batch_logits[keep], labels_with_padding[keep]),
)

class_weight = torch.tensor([1.0, 2.0, 0.5])
weighted = F.cross_entropy(batch_logits, class_index, weight=class_weight)
w_i = class_weight[class_index]  # the weight of each example's true class
l_i = F.cross_entropy(batch_logits, class_index, reduction="none")
assert torch.isclose(weighted, (w_i * l_i).sum() / w_i.sum())  # a weighted mean
print(
    f"ignore_index: mean over {keep.sum().item()} labelled examples "
    f"= {F.cross_entropy(batch_logits, labels_with_padding).item():.4f}"
)
print(
    f"weight {class_weight.tolist()}: {weighted.item():.4f} "
    f"(unweighted {l_i.mean().item():.4f})"
)
# --8<-- [end:ignore_weight]

# %%
# --8<-- [start:bce]
# one logit per example: "how sure it is class 1"
score = torch.tensor([-2.0, 0.5, 3.0])
is_positive = torch.tensor([0.0, 1.0, 1.0])
with_logits = nn.BCEWithLogitsLoss()(score, is_positive)
after_sigmoid = nn.BCELoss()(torch.sigmoid(score), is_positive)
p = torch.sigmoid(score)
by_formula = -(is_positive * p.log() + (1 - is_positive) * (1 - p).log()).mean()
assert torch.isclose(with_logits, after_sigmoid) and torch.isclose(
    with_logits, by_formula
)

# sigmoid(50) rounds to exactly 1.0 in float32
confident_and_wrong = torch.tensor([50.0])
negative = torch.tensor([0.0])
assert torch.sigmoid(confident_and_wrong) == 1.0
stable = nn.BCEWithLogitsLoss()(confident_and_wrong, negative)
clamped = nn.BCELoss()(torch.sigmoid(confident_and_wrong), negative)
assert torch.isclose(stable, torch.tensor(50.0))  # log(1 + e^50) = 50.000...
assert clamped == 100.0  # log(0) = -inf, which BCELoss clamps to -100
logit = confident_and_wrong.clone().requires_grad_(True)
nn.BCELoss()(torch.sigmoid(logit), negative).backward()
assert logit.grad == 0  # the clamped loss gives the logit no gradient at all
logit.grad = None
nn.BCEWithLogitsLoss()(logit, negative).backward()
assert logit.grad == 1  # sigmoid(x) - y = 1: a full-size push the right way
print(
    f"moderate logits: BCEWithLogits {with_logits.item():.4f} "
    f"= BCE(sigmoid) {after_sigmoid.item():.4f}"
)
print(
    f"logit 50, label 0: BCEWithLogits {stable.item():.1f} (gradient 1), "
    f"BCE(sigmoid) {clamped.item():.1f} (gradient 0)"
)
# --8<-- [end:bce]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

errors = torch.linspace(-3, 3, 121)
zeros = torch.zeros_like(errors)
l1_curve = F.l1_loss(errors, zeros, reduction="none")
mse_curve = F.mse_loss(errors, zeros, reduction="none")
smooth_curve = F.smooth_l1_loss(errors, zeros, reduction="none", beta=1.0)

small = errors.abs() < 1
# quadratic near 0
assert torch.allclose(smooth_curve[small], 0.5 * errors[small] ** 2)
# linear far away
assert torch.allclose(smooth_curve[~small], errors[~small].abs() - 0.5)
assert torch.allclose(
    F.huber_loss(errors, zeros, reduction="none", delta=1.0), smooth_curve
)
assert torch.allclose(
    F.huber_loss(errors, zeros, reduction="none", delta=2.0),
    2.0 * F.smooth_l1_loss(errors, zeros, reduction="none", beta=2.0),
)

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(errors, l1_curve, label="L1  |e|")
ax.plot(errors, mse_curve, label="MSE  e²")
ax.plot(errors, smooth_curve, label="SmoothL1 / Huber (β = 1)")
ax.set(xlabel="error e = prediction − target", ylabel="loss", ylim=(0, 4))
ax.legend()
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:outliers]
# four small errors and one outlier
base = torch.tensor([1.0, -1.0, 1.0, -1.0, 10.0])
target = torch.zeros(5)
for scale in (2.0, 3.0):  # scale every error by k: L1 grows by k, MSE by k^2
    assert torch.isclose(
        F.l1_loss(scale * base, target), scale * F.l1_loss(base, target)
    )
    assert torch.isclose(
        F.mse_loss(scale * base, target), scale**2 * F.mse_loss(base, target)
    )
share = base[4] ** 2 / (base**2).sum()
assert round(share.item(), 2) == 0.96  # the outlier is 96% of the MSE
print(
    f"the outlier's share of the loss: MSE {share:.0%}, "
    f"L1 {base[4].abs() / base.abs().sum():.0%}"
)

guess = base.clone().requires_grad_(True)  # the gradient each prediction gets
F.mse_loss(guess, target).backward()
# proportional to the error: the outlier pulls 10x
assert torch.allclose(guess.grad, 2 * base / 5)
guess.grad = None
F.l1_loss(guess, target).backward()
# the same size for everyone
assert torch.allclose(guess.grad.abs(), torch.full((5,), 1 / 5))

data = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0])  # fit one constant c to these
c = torch.linspace(0, 100, 10001).unsqueeze(1)
best_mse = c[((data - c) ** 2).mean(dim=1).argmin()].item()
best_l1 = c[(data - c).abs().mean(dim=1).argmin()].item()
assert abs(best_mse - data.mean().item()) < 0.01  # MSE picks the mean (22)
assert abs(best_l1 - data.median().item()) < 0.01  # L1 picks the median (3)
print(
    f"best constant: MSE {best_mse:.2f} (the mean), "
    f"L1 {best_l1:.2f} (the median)"
)
# --8<-- [end:outliers]
