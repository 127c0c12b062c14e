# %% [markdown]
# # Optimizers and learning-rate schedules
# Book page: engineering/schedules

# %%
# --8<-- [start:adam_vs_adamw]
import torch

lr, weight_decay, betas, eps = 0.1, 0.5, (0.9, 0.999), 1e-8
theta_start = torch.tensor([1.0, -2.0, 3.0])
target = torch.tensor([0.5, 0.5, 0.5])


def loss_fn(theta):
    return 0.5 * ((theta - target) ** 2).sum()  # dL/dtheta = theta - target


def run_torch(optimizer_class, steps):
    theta = torch.nn.Parameter(theta_start.clone())
    optimizer = optimizer_class(
        [theta], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay
    )
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(theta).backward()
        optimizer.step()
    return theta.detach()


def run_by_hand(steps, decoupled):
    theta = theta_start.clone()
    m = torch.zeros_like(theta)
    v = torch.zeros_like(theta)
    for t in range(1, steps + 1):
        grad = theta - target
        if decoupled:
            # AdamW: shrink theta itself
            theta = theta - lr * weight_decay * theta
        else:
            # Adam: the L2 term joins the gradient
            grad = grad + weight_decay * theta
        m = betas[0] * m + (1 - betas[0]) * grad
        v = betas[1] * v + (1 - betas[1]) * grad**2
        m_hat = m / (1 - betas[0] ** t)
        v_hat = v / (1 - betas[1] ** t)
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
    return theta


for steps in (1, 3):
    adam_l2 = run_torch(torch.optim.Adam, steps)
    adamw = run_torch(torch.optim.AdamW, steps)
    assert torch.allclose(adam_l2, run_by_hand(steps, decoupled=False))
    assert torch.allclose(adamw, run_by_hand(steps, decoupled=True))
    # same lr, same weight_decay, different weights
    assert not torch.allclose(adam_l2, adamw)
    print(
        f"after {steps} step(s): "
        f"Adam+L2 {[round(x, 4) for x in adam_l2.tolist()]}, "
        f"AdamW {[round(x, 4) for x in adamw.tolist()]}"
    )

# Plain SGD: adding lambda * theta to the gradient IS shrinking theta.
theta = torch.nn.Parameter(theta_start.clone())
sgd = torch.optim.SGD([theta], lr=lr, weight_decay=weight_decay)
loss_fn(theta).backward()
sgd.step()
shrunk = (1 - lr * weight_decay) * theta_start - lr * (theta_start - target)
assert torch.allclose(theta.detach(), shrunk)
# --8<-- [end:adam_vs_adamw]

# %%
# --8<-- [start:why_decoupled]
import math


def pure_decay(optimizer_class, decay, steps=10):
    # a small and a large weight
    theta = torch.nn.Parameter(torch.tensor([0.5, 50.0]))
    optimizer = optimizer_class([theta], lr=lr, weight_decay=decay)
    for _ in range(steps):
        # the loss does not care about theta at all
        theta.grad = torch.zeros_like(theta)
        optimizer.step()
    return theta.detach()


start = torch.tensor([0.5, 50.0])
weak, strong = 0.01, 1.0
# Adam + L2: the decay gradient lambda * theta is divided by its own size, so
# lambda cancels.
assert torch.allclose(
    pure_decay(torch.optim.Adam, weak),
    pure_decay(torch.optim.Adam, strong),
    atol=1e-5,
)
# each weight moves by lr
assert torch.allclose(pure_decay(torch.optim.Adam, weak, steps=1), start - lr)
adam_end = pure_decay(torch.optim.Adam, strong)
assert adam_end[0] < 0  # the small weight 0.5 is pushed through zero
assert math.isclose(start[1] - adam_end[1], 10 * lr, rel_tol=0.01)  # ~lr a step
# AdamW: theta_k = (1 - lr * lambda)^k * theta_0, proportional to the weight and
# to lambda.
for decay in (weak, strong):
    assert torch.allclose(
        pure_decay(torch.optim.AdamW, decay), start * (1 - lr * decay) ** 10
    )
for name, optimizer_class, decay in [
    ("Adam+L2, lambda=0.01:", torch.optim.Adam, weak),
    ("Adam+L2, lambda=1.0: ", torch.optim.Adam, strong),
    ("AdamW,   lambda=0.01:", torch.optim.AdamW, weak),
    ("AdamW,   lambda=1.0: ", torch.optim.AdamW, strong),
]:
    weights = pure_decay(optimizer_class, decay).tolist()
    print(name, [round(x, 4) for x in weights])
# --8<-- [end:why_decoupled]

# %%
# --8<-- [start:param_groups]
import torch.nn as nn

from pytorch_notes import expect_error

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 2)
)

decay, no_decay = [], []
for name, param in model.named_parameters():
    # matrices decay; biases, norm gains do not
    (decay if param.ndim >= 2 else no_decay).append(name)
assert decay == ["0.weight", "3.weight"]
assert no_decay == ["0.bias", "1.weight", "1.bias", "3.bias"]

params = dict(model.named_parameters())
optimizer = torch.optim.AdamW(
    [
        {"params": [params[n] for n in decay], "weight_decay": 0.1},
        {"params": [params[n] for n in no_decay], "weight_decay": 0.0},
    ],
    lr=0.01,
)
assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
# defaults fill in
assert all(
    g["lr"] == 0.01 and g["betas"] == (0.9, 0.999)
    for g in optimizer.param_groups
)
# Each parameter in exactly one group: every one is there, and PyTorch refuses
# a parameter that appears twice.
in_groups = {id(p) for g in optimizer.param_groups for p in g["params"]}
assert in_groups == {id(p) for p in model.parameters()}
with expect_error(ValueError, "more than one parameter group"):
    torch.optim.AdamW(
        [
            {"params": [params["0.weight"]]},
            {"params": [params["0.weight"], params["0.bias"]]},
        ]
    )

# A step with zero gradients shows the decay alone.
before = {n: p.detach().clone() for n, p in params.items()}
for p in model.parameters():
    p.grad = torch.zeros_like(p)
optimizer.step()
for n in decay:
    # shrunk by 1 - lr * lambda
    assert torch.allclose(params[n], before[n] * (1 - 0.01 * 0.1))
for n in no_decay:
    assert torch.equal(params[n], before[n])  # untouched
print("decayed:", decay)
print("not decayed:", no_decay)
# --8<-- [end:param_groups]

# %%
# --8<-- [start:step_lr]
import math


def record(make_scheduler, steps, base_lr=0.1, momentum=0.0):
    """The learning rate used at each of `steps` optimizer steps."""
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr, momentum=momentum)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        # first the optimizer (no gradient here, so nothing moves) ...
        optimizer.step()
        scheduler.step()  # ... then the scheduler
    return lrs


total = 40
step_lrs = record(
    lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5),
    total,
)
for k, value in enumerate(step_lrs):
    # lr_k = lr_0 * gamma^floor(k / step_size)
    assert math.isclose(value, 0.1 * 0.5 ** (k // 10))
# halves exactly at step 10
assert step_lrs[9] == 0.1 and math.isclose(step_lrs[10], 0.05)
print(
    "StepLR at steps 0, 10, 20, 30:",
    [round(step_lrs[k], 4) for k in (0, 10, 20, 30)],
)
# --8<-- [end:step_lr]

# %%
# --8<-- [start:cosine]
eta_max, eta_min = 0.1, 0.01
cosine_lrs = record(
    lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=total, eta_min=eta_min
    ),
    2 * total + 1,
)
for t in range(total + 1):
    closed_form = eta_min + 0.5 * (eta_max - eta_min) * (
        1 + math.cos(math.pi * t / total)
    )
    assert math.isclose(cosine_lrs[t], closed_form, rel_tol=1e-6)
# reaches eta_min at T_max
assert math.isclose(cosine_lrs[total], eta_min, rel_tol=1e-6)
# halfway at T_max / 2
assert math.isclose(
    cosine_lrs[total // 2], (eta_max + eta_min) / 2, rel_tol=1e-6
)
# ... and climbs back if you go on
assert math.isclose(cosine_lrs[2 * total], eta_max, rel_tol=1e-4)
cosine_lrs = cosine_lrs[:total]
print(
    "CosineAnnealingLR at steps 0, 20, 39:",
    [round(cosine_lrs[k], 4) for k in (0, 20, 39)],
)
# --8<-- [end:cosine]

# %%
# --8<-- [start:one_cycle]
from pytorch_notes import expect_error

max_lr, pct_start, div_factor, final_div_factor = 0.1, 0.25, 25.0, 1e4
one_cycle = lambda opt: torch.optim.lr_scheduler.OneCycleLR(  # noqa: E731
    opt,
    max_lr=max_lr,
    total_steps=total,
    pct_start=pct_start,
    div_factor=div_factor,
    final_div_factor=final_div_factor,
)
cycle_lrs = record(one_cycle, total, momentum=0.9)

# step 9: the warmup phase ends at pct_start * total_steps - 1
peak = int(pct_start * total) - 1
# starts at max_lr / div_factor = 0.004
assert math.isclose(cycle_lrs[0], max_lr / div_factor)
assert cycle_lrs.index(max(cycle_lrs)) == peak and math.isclose(
    cycle_lrs[peak], max_lr
)
# ends far below the start
assert math.isclose(cycle_lrs[-1], max_lr / div_factor / final_div_factor)

# It also cycles momentum the other way: high when the lr is low.
param = nn.Parameter(torch.zeros(1))
optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9)
scheduler = one_cycle(optimizer)
# max_momentum at the start
assert optimizer.param_groups[0]["momentum"] == 0.95
for _ in range(peak):
    optimizer.step()
    scheduler.step()
# base_momentum at the peak
assert math.isclose(optimizer.param_groups[0]["momentum"], 0.85)
for _ in range(total - peak):
    optimizer.step()
    scheduler.step()
with expect_error(ValueError, "Tried to step"):
    scheduler.step()  # the schedule is exactly total_steps long
print(
    f"OneCycleLR: start {cycle_lrs[0]:.4f}, "
    f"peak {cycle_lrs[peak]:.4f} at step {peak}, end {cycle_lrs[-1]:.1e}"
)
# --8<-- [end:one_cycle]


# %%
# --8<-- [start:warmup_formula]
def lr_at(step, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step < warmup_steps:
        return base_lr * step / warmup_steps  # linear: 0 -> base_lr
    if step >= total_steps:
        return min_lr  # the schedule is over: stay at the floor
    progress = (step - warmup_steps) / (total_steps - warmup_steps)  # 0 -> 1
    return min_lr + 0.5 * (base_lr - min_lr) * (
        1 + math.cos(math.pi * progress)
    )


warmup = 8
mine = [
    lr_at(k, total, warmup, base_lr=0.1, min_lr=0.001) for k in range(total + 1)
]
assert (
    mine[0] == 0.0
    and math.isclose(mine[4], 0.05)
    and math.isclose(mine[warmup], 0.1)
)
# the peak is where warmup hands over to cosine
assert max(mine) == mine[warmup]
# then it only decreases
assert all(a >= b for a, b in zip(mine[warmup:], mine[warmup + 1 :]))
assert math.isclose(mine[total], 0.001)
# Without warmup it is exactly CosineAnnealingLR.
no_warmup = [
    lr_at(k, total, 0, base_lr=eta_max, min_lr=eta_min) for k in range(total)
]
assert all(
    math.isclose(a, b, rel_tol=1e-6) for a, b in zip(no_warmup, cosine_lrs)
)
print(
    "warmup + cosine at steps 0, 4, 8, 24, 40:",
    [round(mine[k], 4) for k in (0, 4, 8, 24, 40)],
)
# --8<-- [end:warmup_formula]

# %%
# --8<-- [start:warmup_package]
from pytorch_notes.schedules import warmup_cosine, warmup_cosine_scheduler

assert all(
    math.isclose(
        lr_at(k, total, warmup, 0.1, 0.001),
        warmup_cosine(k, total, warmup, 0.1, 0.001),
    )
    for k in range(total + 5)
)
with expect_error(ValueError, "warmup_steps must be in"):
    warmup_cosine(0, total_steps=10, warmup_steps=10, base_lr=0.1)

# The scheduler in a real loop: AdamW, two param groups with their own peak lr.
torch.manual_seed(0)
inputs = torch.randn(64, 8)
labels = (inputs[:, 0] > 0).long()
model = nn.Sequential(
    nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 2)
)
matrices = [p for p in model.parameters() if p.ndim >= 2]
others = [p for p in model.parameters() if p.ndim < 2]
optimizer = torch.optim.AdamW(
    [
        {"params": matrices, "lr": 0.05, "weight_decay": 0.01},
        {"params": others, "lr": 0.02, "weight_decay": 0.0},
    ]
)
scheduler = warmup_cosine_scheduler(
    optimizer, total_steps=total, warmup_steps=warmup, min_lr=0.001
)
loss_fn = nn.CrossEntropyLoss()
losses, warmup_lrs = [], []
for step in range(total):
    for group, peak_lr in zip(optimizer.param_groups, (0.05, 0.02)):
        assert math.isclose(
            group["lr"],
            warmup_cosine(step, total, warmup, peak_lr, 0.001),
            abs_tol=1e-12,
        )
    warmup_lrs.append(optimizer.param_groups[0]["lr"])
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), labels)
    loss.backward()
    optimizer.step()
    scheduler.step()
    losses.append(loss.item())
assert math.isclose(scheduler.get_last_lr()[0], 0.001) and math.isclose(
    scheduler.get_last_lr()[1], 0.001
)
assert losses[-1] < losses[0] / 50  # the loss falls by far more than 50x
print(
    f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; "
    f"final lrs {[round(x, 4) for x in scheduler.get_last_lr()]}"
)
# --8<-- [end:warmup_package]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

curves = [
    (step_lrs, "StepLR(step_size=10, gamma=0.5)"),
    (cosine_lrs, "CosineAnnealingLR(T_max=40, eta_min=0.01)"),
    (cycle_lrs, "OneCycleLR(max_lr=0.1, pct_start=0.25)"),
    (warmup_lrs, "warmup_cosine (8 warmup steps)"),
]
fig, axes = plt.subplots(2, 2, figsize=(6.8, 5), sharey=True)
for axis, (lrs, title) in zip(axes.flat, curves):
    axis.plot(torch.arange(len(lrs)).numpy(), torch.tensor(lrs).numpy())
    axis.set_title(title, fontsize=9)
    axis.set_xlabel("step")
for axis in axes[:, 0]:
    axis.set_ylabel("learning rate")
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:order]
import warnings

param = nn.Parameter(torch.ones(1))
optimizer = torch.optim.SGD([param], lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    scheduler.step()  # wrong: the scheduler before the optimizer
    param.grad = torch.ones(1)
    optimizer.step()
messages = [str(w.message) for w in caught]
assert any("before `optimizer.step()`" in m for m in messages)
# the first step used 0.05: lr 0.1 was skipped
assert math.isclose(param.item(), 1 - 0.05, rel_tol=1e-6)
print("UserWarning:", messages[0].split(" In PyTorch")[0])

# Right: optimizer.step() and then scheduler.step(), no warning, the first step
# uses lr 0.1.
param = nn.Parameter(torch.ones(1))
optimizer = torch.optim.SGD([param], lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    param.grad = torch.ones(1)
    optimizer.step()
    scheduler.step()
assert caught == []
assert math.isclose(param.item(), 1 - 0.1, rel_tol=1e-6) and math.isclose(
    optimizer.param_groups[0]["lr"], 0.05
)
# --8<-- [end:order]
