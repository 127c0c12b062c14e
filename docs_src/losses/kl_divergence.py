# %% [markdown]
# # KL divergence: forward, reverse, temperature and distillation
# Book page: losses/kl-divergence

# %%
# --8<-- [start:definition]
import math

import torch
import torch.nn.functional as F

torch.manual_seed(0)
# 4 target distributions over 5 classes
p = torch.softmax(torch.randn(4, 5, dtype=torch.float64), dim=1)
# 4 model distributions
q = torch.softmax(torch.randn(4, 5, dtype=torch.float64), dim=1)

# KL(p || q) of each row, from the formula
kl_rows = (p * (p.log() - q.log())).sum(dim=1)
kl_by_hand = kl_rows.mean()  # averaged over the batch

# input: log q (model), target: p
kl_torch = F.kl_div(q.log(), p, reduction="batchmean")
# target as log p too
kl_torch_log = F.kl_div(
    q.log(), p.log(), reduction="batchmean", log_target=True
)
assert torch.allclose(kl_by_hand, kl_torch) and torch.allclose(
    kl_by_hand, kl_torch_log
)

cross_entropy = -(p * q.log()).sum(dim=1)  # H(p, q)
entropy = -(p * p.log()).sum(dim=1)  # H(p)
# KL = cross-entropy - entropy
assert torch.allclose(kl_rows, cross_entropy - entropy)
print("KL(p || q) per row:", kl_rows.numpy().round(4))
print(f"by hand {kl_by_hand:.6f}, F.kl_div {kl_torch:.6f}")
# --8<-- [end:definition]

# %%
# --8<-- [start:traps]
import warnings

# log p as input, q as target
swapped = F.kl_div(p.log(), q, reduction="batchmean")
# that is KL(q || p)
assert torch.allclose(swapped, (q * (q.log() - p.log())).sum(dim=1).mean())
assert not torch.allclose(swapped, kl_by_hand)
assert round(swapped.item(), 3) == 0.327  # the numbers the page quotes
assert round(kl_by_hand.item(), 3) == 0.289

# forgot the log: no error ...
probabilities_as_input = F.kl_div(q, p, reduction="batchmean")
assert probabilities_as_input < 0  # ... and a "divergence" below zero

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    default_mean = F.kl_div(q.log(), p)  # the default reduction is "mean"
assert "batchmean" in str(caught[0].message)  # PyTorch warns about it
# divided by N * C, not by N
assert torch.allclose(default_mean, kl_by_hand / 5)
print(
    f"swapped arguments: {swapped:.4f} (= KL(q || p)), "
    f"probabilities as input: {probabilities_as_input:.4f}"
)
print(f"reduction='mean': {default_mean:.4f} = batchmean / 5")
# --8<-- [end:traps]


# %%
# --8<-- [start:gibbs]
def kl(p, q):
    return (p * (p.log() - q.log())).sum(dim=-1)


torch.manual_seed(0)
many_p = torch.softmax(3 * torch.randn(10_000, 6, dtype=torch.float64), dim=1)
many_q = torch.softmax(3 * torch.randn(10_000, 6, dtype=torch.float64), dim=1)
assert (kl(many_p, many_q) > 0).all()  # never negative (Gibbs' inequality)
# zero when equal
assert torch.allclose(
    kl(many_p, many_p), torch.zeros(10_000, dtype=torch.float64)
)

nudged = torch.softmax(
    many_p.log() + 1e-3 * torch.randn(10_000, 6, dtype=torch.float64), dim=1
)
# tiny, but still positive
assert (kl(many_p, nudged) > 0).all() and kl(many_p, nudged).max() < 1e-5
print(f"smallest KL over 10000 random pairs: {kl(many_p, many_q).min():.2e}")
print(
    "largest KL after a 1e-3 nudge of the logits: "
    f"{kl(many_p, nudged).max():.2e}"
)
# --8<-- [end:gibbs]

# %%
# --8<-- [start:asymmetry]
p_pair = torch.tensor([0.80, 0.15, 0.05], dtype=torch.float64)
q_pair = torch.tensor([0.40, 0.30, 0.30], dtype=torch.float64)
forward, reverse = kl(p_pair, q_pair), kl(q_pair, p_pair)
assert math.isclose(
    forward, 0.8 * math.log(2) + 0.15 * math.log(0.5) + 0.05 * math.log(1 / 6)
)
assert abs(forward - reverse) > 0.1  # KL(p || q) != KL(q || p)
assert (round(forward.item(), 3), round(reverse.item(), 3)) == (0.361, 0.468)
print(f"KL(p || q) = {forward:.4f}, KL(q || p) = {reverse:.4f}")

# Where the target is 0, the two directions differ even more.
p_zero = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
q_full = torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64)
# 0 * log 0 counts as 0
forward_zero = F.kl_div(q_full.log(), p_zero, reduction="sum")
# q puts mass where p has none
reverse_zero = F.kl_div(p_zero.log(), q_full, reduction="sum")
assert math.isclose(forward_zero, math.log(0.5 / 0.4))
assert reverse_zero == math.inf
print(f"KL(p0 || q) = {forward_zero:.4f}, KL(q || p0) = {reverse_zero}")
# --8<-- [end:asymmetry]

# %%
# --8<-- [start:fit]
# a fine grid: integrals become sums
x = torch.linspace(-7, 7, 701, dtype=torch.float64)
dx = x[1] - x[0]


def log_normal(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(
        std * math.sqrt(2 * math.pi)
    )


half_width = torch.tensor(0.5, dtype=torch.float64)
log_target = torch.logaddexp(
    log_normal(x, -2.0, half_width), log_normal(x, 2.0, half_width)
) + math.log(0.5)
target = log_target.exp()  # two modes, at -2 and +2, each with std 0.5
assert math.isclose((target * dx).sum(), 1.0, abs_tol=1e-6)


def fit_gaussian(direction, steps=200):
    # start a little right of 0
    mean = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    log_std = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([mean, log_std], lr=0.05)
    for _ in range(steps):
        log_model = log_normal(x, mean, log_std.exp())
        if direction == "forward":  # KL(p || q): the target weighs the errors
            loss = (target * (log_target - log_model)).sum() * dx
        else:  # KL(q || p): the model weighs the errors
            loss = (log_model.exp() * (log_model - log_target)).sum() * dx
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return mean.item(), log_std.exp().item(), loss.item()


forward_fit, reverse_fit = fit_gaussian("forward"), fit_gaussian("reverse")
# Forward KL matches the moments: mean 0, variance 0.5^2 + 2^2, straddling both
# modes.
assert (
    abs(forward_fit[0]) < 0.05
    and abs(forward_fit[1] - math.sqrt(0.25 + 4)) < 0.05
)
# Reverse KL picks one mode (the nearer one) and fits it: mean 2, std 0.5, and
# KL = log 2.
assert abs(reverse_fit[0] - 2) < 0.05 and abs(reverse_fit[1] - 0.5) < 0.05
assert abs(reverse_fit[2] - math.log(2)) < 0.01
print(
    f"forward KL fit: mean {forward_fit[0]:+.3f}, std {forward_fit[1]:.3f}, "
    f"KL {forward_fit[2]:.4f}"
)
print(
    f"reverse KL fit: mean {reverse_fit[0]:+.3f}, std {reverse_fit[1]:.3f}, "
    f"KL {reverse_fit[2]:.4f}"
)
# --8<-- [end:fit]

# %%
# --8<-- [start:fit_plot]
import matplotlib.pyplot as plt

fig, axis = plt.subplots(figsize=(6, 3.2))
axis.fill_between(
    x.numpy(), target.numpy(), color="0.85", label="target p (two modes)"
)
for (mean, std, _), name, style in [
    (forward_fit, "forward KL(p||q): covers both", "C0-"),
    (reverse_fit, "reverse KL(q||p): picks one", "C3--"),
]:
    density = log_normal(x, mean, torch.tensor(std, dtype=torch.float64)).exp()
    axis.plot(x.numpy(), density.numpy(), style, label=name)
axis.set_xlabel("x")
axis.set_ylabel("density")
axis.legend(fontsize=8)
fig.tight_layout()
# --8<-- [end:fit_plot]

# %%
# --8<-- [start:temperature]
logits = torch.tensor([4.0, 2.0, 1.0, 0.5, -1.0])
temperatures = [0.25, 0.5, 1.0, 2.0, 4.0, 16.0, 256.0]
entropies = []
for T in temperatures:
    probs = torch.softmax(logits / T, dim=0)
    entropies.append(-(probs * probs.log()).sum().item())
    # the ranking never changes, only how sharp it is
    assert torch.equal(probs.argsort(), logits.argsort())
    print(
        f"T = {T:6.2f}: probs {probs.numpy().round(3)}, "
        f"entropy {entropies[-1]:.3f}"
    )

# entropy rises with T
assert all(a < b for a, b in zip(entropies, entropies[1:]))
# T -> 0: one-hot on the largest logit
assert torch.softmax(logits / 0.25, dim=0)[0] > 0.99
# T -> infinity: uniform, entropy log 5
assert abs(entropies[-1] - math.log(5)) < 1e-3
# --8<-- [end:temperature]


# %%
# --8<-- [start:distillation_loss]
def distillation_loss(
    student_logits, teacher_logits, labels, T=4.0, alpha=0.9, scale=True
):
    soft_student = F.log_softmax(student_logits / T, dim=1)
    soft_teacher = F.log_softmax(teacher_logits / T, dim=1)
    soft = F.kl_div(
        soft_student, soft_teacher, reduction="batchmean", log_target=True
    )
    if scale:
        # keeps the soft term's gradient the same size whatever T
        soft = soft * T**2
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard


torch.manual_seed(0)
teacher_logits = 2 * torch.randn(64, 10, dtype=torch.float64)
student_logits = 2 * torch.randn(64, 10, dtype=torch.float64)
labels = torch.randint(0, 10, (64,))


def soft_gradient(T, scale):
    s = student_logits.clone().requires_grad_()
    distillation_loss(
        s, teacher_logits, labels, T=T, alpha=1.0, scale=scale
    ).backward()
    return s.grad


# The gradient of KL(softmax(t/T) || softmax(s/T)) w.r.t. s is (softmax(s/T) -
# softmax(t/T)) / (T * N).
expected = (
    torch.softmax(student_logits / 4, 1) - torch.softmax(teacher_logits / 4, 1)
) / (4 * 64)
assert torch.allclose(soft_gradient(4.0, scale=False), expected)

for T in (4.0, 8.0, 16.0):
    plain, scaled = (
        soft_gradient(T, scale=False).norm(),
        soft_gradient(2 * T, scale=False).norm(),
    )
    ratio = (plain / scaled).item()
    # without T^2: doubling T divides the gradient by about 4
    assert 3.6 < ratio < 4.4
    print(
        f"T = {T:4.1f} -> {2 * T:4.1f}: "
        f"gradient shrinks x{ratio:.2f} without T^2"
    )

scaled_norms = [
    soft_gradient(T, scale=True).norm().item() for T in (4.0, 8.0, 16.0, 32.0)
]
# with T^2: about the same size at every T
assert max(scaled_norms) / min(scaled_norms) < 1.25
print("gradient norms with T^2:", [round(g, 5) for g in scaled_norms])
# --8<-- [end:distillation_loss]

# %%
# --8<-- [start:distillation]
import torch.nn as nn


def spiral_data(n, seed):
    generator = torch.Generator().manual_seed(seed)
    points = 4 * torch.rand(n, 2, generator=generator) - 2
    angle, radius = torch.atan2(points[:, 1], points[:, 0]), points.norm(dim=1)
    # three spiral arms
    labels = ((angle + 2 * radius) / (2 * math.pi / 3)).floor().long() % 3
    return points, labels


def mlp(hidden):
    return nn.Sequential(
        nn.Linear(2, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 3),
    )


def train(model, inputs, loss_fn, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        loss = loss_fn(model(inputs))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


train_x, train_y = spiral_data(1000, seed=1)
test_x, test_y = spiral_data(2000, seed=2)
torch.manual_seed(0)
teacher = train(
    mlp(64), train_x, lambda out: F.cross_entropy(out, train_y), steps=300
)

few_x, few_y = train_x[:100], train_y[:100]  # the student sees only 100 points
with torch.no_grad():
    teacher_on_few, teacher_on_test = teacher(few_x), teacher(test_x)

students = {
    "hard labels": lambda out: F.cross_entropy(out, few_y),
    "distilled": lambda out: distillation_loss(out, teacher_on_few, few_y),
}
teacher_test_labels = teacher_on_test.argmax(1)
teacher_accuracy = (teacher_test_labels == test_y).float().mean()
print(f"teacher    : accuracy {teacher_accuracy:.1%}")
for seed in (1, 2, 3):  # three initial weights, each shared by both students
    results = {}
    for name, loss_fn in students.items():
        torch.manual_seed(seed)
        model = train(mlp(32), few_x, loss_fn, steps=300)
        with torch.no_grad():
            out = model(test_x)
        agreement = (out.argmax(1) == teacher_test_labels).float().mean().item()
        accuracy = (out.argmax(1) == test_y).float().mean().item()
        gap = F.kl_div(
            F.log_softmax(out, 1),
            F.log_softmax(teacher_on_test, 1),
            reduction="batchmean",
            log_target=True,
        ).item()
        results[name] = agreement, gap
        if seed == 1:
            print(
                f"{name:11s}: agrees with teacher {agreement:.1%}, "
                f"accuracy {accuracy:.1%}, KL(teacher || model) {gap:.3f}"
            )
    # the distilled student follows the teacher more often ...
    assert results["distilled"][0] > results["hard labels"][0] + 0.03
    # ... and its probabilities are much closer to the teacher's
    assert results["distilled"][1] < results["hard labels"][1] / 2
# --8<-- [end:distillation]
