# %% [markdown]
# # Diffusion beyond DDPM: DDIM, guidance, flow matching
# Book page: generative/diffusion-beyond

# %%
# --8<-- [start:data]
import math

import torch

from pytorch_notes.data import gaussian_ring

# 8 classes, one cluster each, wide enough to overlap
points, labels = gaussian_ring(4096, modes=8, radius=2.0, std=0.4, seed=0)
angles = 2 * math.pi * torch.arange(8) / 8
centres = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)


def energy_distance(x, y):
    """0 for one distribution, larger the more x and y differ."""
    between = torch.cdist(x, y).mean()
    return 2 * between - torch.cdist(x, x).mean() - torch.cdist(y, y).mean()


data_half, other_half = points[:2048], points[2048:]
noise = torch.randn(2048, 2, generator=torch.Generator().manual_seed(0))
noise_gap = energy_distance(noise, data_half)
data_gap = energy_distance(other_half, data_half)
assert data_gap < noise_gap / 20  # two halves of the data: nearly 0
nearest_own = torch.cdist(points, centres).argmin(dim=1) == labels
assert 0.85 < nearest_own.float().mean() < 0.99  # the clusters overlap
print(
    f"energy distance to the data: noise {noise_gap:.3f}, "
    f"other half of the data {data_gap:.4f}"
)
print(
    "data points nearest their own class's centre: "
    f"{nearest_own.float().mean():.3f}"
)
# --8<-- [end:data]

# %%
# --8<-- [start:train]
import torch.nn as nn

from pytorch_notes.diffusion import DDPMSchedule, ddpm_loss
from pytorch_notes.positional import sinusoidal_encoding
from pytorch_notes.schedules import warmup_cosine_scheduler

T = 1000
schedule = DDPMSchedule(T)  # beta from 1e-4 to 0.02, as in Ho et al.
NULL = 8  # the label that means "no label"


class Denoiser(nn.Module):
    """eps_theta(x_t, t, y): an MLP on x_t, the step t and the label y."""

    def __init__(self, num_steps, num_classes, dim=16, hidden=128):
        super().__init__()
        self.register_buffer(
            "time_table",
            sinusoidal_encoding(torch.arange(num_steps + 1), dim),
        )
        # one row per class, plus one for NULL
        self.label_table = nn.Embedding(num_classes + 1, dim)
        self.net = nn.Sequential(
            nn.Linear(2 + 2 * dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x, t, y):
        features = [x, self.time_table[t], self.label_table(y)]
        return self.net(torch.cat(features, dim=1))


torch.manual_seed(0)
model = Denoiser(T, num_classes=8)
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
scheduler = warmup_cosine_scheduler(optimizer, total_steps=2000, warmup_steps=0)
losses = []
for step in range(2000):
    index = torch.randint(0, len(points), (256,))
    # label dropout: a fifth of the batch learns without its label
    y = labels[index].masked_fill(torch.rand(256) < 0.2, NULL)
    loss = ddpm_loss(lambda x_t, t: model(x_t, t, y), schedule, points[index])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    losses.append(loss.item())

first, last = sum(losses[:200]) / 200, sum(losses[-200:]) / 200
assert last < 0.8 * first
print(f"L_simple: first 200 steps {first:.3f}, last 200 {last:.3f}")


classes = torch.arange(2000) % 8  # labels to sample with: 250 of each class


def conditional(x_t, t):  # the network, told each sample's class
    return model(x_t, t, classes[: len(x_t)])


# --8<-- [end:train]

# %%
# --8<-- [start:ddim_step]
from pytorch_notes.diffusion import ddim_sample

alpha_bars = schedule.alpha_bars


@torch.no_grad()
def ddim(model, x, steps, eta=0.0, generator=None):
    for t, s in zip(steps, steps[1:] + [0]):  # jump from t to s < t
        eps = model(x, torch.full((x.shape[0],), t))
        a_t, a_s = alpha_bars[t], alpha_bars[s]
        x0_hat = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        sigma = eta * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)).sqrt()
        x = a_s.sqrt() * x0_hat + (1 - a_s - sigma**2).sqrt() * eps
        if eta > 0 and s > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator)
    return x.float()


steps = torch.linspace(T, 1, 20).round().long().tolist()  # 20 of 1000
x_T = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
by_hand = ddim(conditional, x_T, steps)
package = ddim_sample(conditional, schedule, (1000, 2), 20, noise=x_T)
assert torch.allclose(by_hand, package, atol=1e-4)
noisy_by_hand = ddim(
    conditional, x_T, steps, eta=1.0, generator=torch.Generator().manual_seed(2)
)
noisy_package = ddim_sample(
    conditional,
    schedule,
    (1000, 2),
    20,
    eta=1.0,
    generator=torch.Generator().manual_seed(2),
    noise=x_T,
)
assert torch.allclose(noisy_by_hand, noisy_package, atol=1e-4)
print("steps:", steps)
amplify = 1 / alpha_bars[T].sqrt()  # x0_hat at t = T scales errors by this
assert 150 < amplify < 170
print(f"1 / sqrt(alpha_bar_T) = {amplify:.0f}")
print(
    "hand and package agree: max difference "
    f"{(by_hand - package).abs().max():.1e}"
)
# --8<-- [end:ddim_step]

# %%
# --8<-- [start:deterministic]
generator = torch.Generator().manual_seed(1)
generator_state = generator.get_state()
global_state = torch.get_rng_state()
once = ddim_sample(
    conditional, schedule, (1000, 2), 20, generator=generator, noise=x_T
)
twice = ddim_sample(
    conditional, schedule, (1000, 2), 20, generator=generator, noise=x_T
)
assert torch.equal(once, twice)  # eta = 0: the same noise, the same samples
# and nothing random was drawn, from the generator or the global RNG
assert torch.equal(generator.get_state(), generator_state)
assert torch.equal(torch.get_rng_state(), global_state)

noisy = [
    ddim_sample(
        conditional,
        schedule,
        (1000, 2),
        20,
        eta=1.0,
        generator=torch.Generator().manual_seed(seed),
        noise=x_T,
    )
    for seed in (1, 2)
]
moved = (noisy[0] - noisy[1]).norm(dim=1)
assert moved.median() > 0.1  # eta = 1: the same start, other samples
print(
    "eta = 0, twice: identical; eta = 1, two generators: median distance "
    f"{moved.median():.2f} between the samples of one start"
)
# --8<-- [end:deterministic]

# %%
# --8<-- [start:eta_one]
from pytorch_notes.diffusion import ddpm_sample

t = torch.arange(2, T + 1)  # all steps, s = t - 1
a_t, a_s = alpha_bars[t], alpha_bars[t - 1]
sigma_squared = (1 - a_s) / (1 - a_t) * (1 - a_t / a_s)  # eta = 1
assert torch.allclose(sigma_squared, schedule.posterior_variance[t])

ancestral = ddpm_sample(
    conditional,
    schedule,
    (2000, 2),
    generator=torch.Generator().manual_seed(3),
)
ddim_all = ddim_sample(
    conditional,
    schedule,
    (2000, 2),
    T,
    eta=1.0,
    generator=torch.Generator().manual_seed(3),
)
assert torch.allclose(ancestral, ddim_all, atol=1e-3)
print(
    "DDIM with eta = 1 over all 1000 steps vs DDPM: max difference "
    f"{(ancestral - ddim_all).abs().max():.1e}"
)
# --8<-- [end:eta_one]

# %%
# --8<-- [start:few_steps]
calls = 0


def counted(x_t, t):
    global calls
    calls += 1
    return conditional(x_t, t)


def spread(x):  # median distance to the nearest class centre
    return torch.cdist(x, centres).min(dim=1).values.median()


ddpm_gap = energy_distance(ancestral, data_half)
gaps, spreads = {}, {}
for num_steps in (1, 2, 5, 10, 20, 50):
    calls = 0
    drawn = ddim_sample(
        counted,
        schedule,
        (2000, 2),
        num_steps,
        generator=torch.Generator().manual_seed(3),
    )
    assert calls == num_steps  # one network call per step
    gaps[num_steps] = energy_distance(drawn, data_half)
    spreads[num_steps] = spread(drawn)
    print(
        f"DDIM, {num_steps:2d} network calls: "
        f"energy distance {gaps[num_steps]:.4f}, "
        f"spread {spreads[num_steps]:.2f}"
    )
print(
    f"DDPM, {T} network calls: energy distance {ddpm_gap:.4f}, "
    f"spread {spread(ancestral):.2f}; data: spread {spread(points):.2f}"
)
# one or two jumps from x_T: worse than the noise itself
assert gaps[1] > noise_gap and gaps[2] > noise_gap
assert gaps[5] > gaps[10] > gaps[20]  # more steps, closer to the data
assert gaps[20] < noise_gap / 20  # 20 steps: most of the way
assert gaps[20] < 2.5 * ddpm_gap  # and not far behind 1000 DDPM steps
assert gaps[50] < 1.5 * ddpm_gap  # 50 steps: about as close
# few steps: clusters too tight, the spread grows back with the steps
assert spreads[5] < spreads[10] < spreads[20] < spread(points)
assert spreads[5] < spread(points) / 2
# --8<-- [end:few_steps]

# %%
# --8<-- [start:steps_plot]
import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 3, figsize=(6.8, 4.6), sharex=True, sharey=True)
axes[0, 0].scatter(*points[:1000].numpy().T, s=1, color="C7")
axes[0, 0].set_title("data", fontsize=9)
for axis, num_steps in zip(axes.flat[1:], (5, 10, 20, 50)):
    drawn = ddim_sample(conditional, schedule, (1000, 2), num_steps, noise=x_T)
    axis.scatter(*drawn.numpy().T, s=1, color="C0")
    axis.set_title(f"DDIM, {num_steps} steps", fontsize=9)
axes[1, 2].scatter(*ancestral[:1000].numpy().T, s=1, color="C1")
axes[1, 2].set_title(f"DDPM, {T} steps", fontsize=9)
for axis in axes.flat:
    axis.set_aspect("equal")
axes[0, 0].set_xlim(-4, 4)
axes[0, 0].set_ylim(-4, 4)
fig.tight_layout()
# --8<-- [end:steps_plot]

# %%
# --8<-- [start:guidance]
from pytorch_notes.diffusion import classifier_free_guidance

x_t = torch.randn(8, 2, generator=torch.Generator().manual_seed(5))
t = torch.full((8,), 500)
y = torch.arange(8)  # one sample per class
with torch.no_grad():
    eps_cond = model(x_t, t, y)
    eps_uncond = model(x_t, t, torch.full((8,), NULL))
    for w in (0.0, 1.0, 3.0):
        guided = classifier_free_guidance(model, y, NULL, w)(x_t, t)
        assert torch.equal(guided, eps_cond + w * (eps_cond - eps_uncond))
        # other convention: eps_uncond + s (eps_cond - eps_uncond), s = 1 + w
        other = eps_uncond + (1 + w) * (eps_cond - eps_uncond)
        assert torch.allclose(guided, other, atol=1e-5)
    # w = 0 is the conditional model itself, w = -1 the unconditional one
    assert torch.equal(
        classifier_free_guidance(model, y, NULL, 0.0)(x_t, t), eps_cond
    )
    assert torch.allclose(
        classifier_free_guidance(model, y, NULL, -1.0)(x_t, t),
        eps_uncond,
        atol=1e-6,
    )
print("w = 0: exactly the conditional prediction")
# --8<-- [end:guidance]

# %%
# --8<-- [start:guidance_measure]
wanted = torch.arange(1000) % 8  # 125 samples per class


def class_stats(samples):
    """Share nearest their class's centre, angle off it, distance from 0."""
    nearest = torch.cdist(samples, centres).argmin(dim=1) == wanted
    angle = torch.atan2(samples[:, 1], samples[:, 0]) - angles[wanted]
    off = torch.remainder(angle + math.pi, 2 * math.pi) - math.pi
    radius = samples.norm(dim=1).median()
    return nearest.float().mean(), off.abs().median(), radius


weights = (0.0, 1.0, 3.0)
for seed in range(3):
    stats = {}
    for w in weights:
        guided = classifier_free_guidance(model, wanted, NULL, w)
        drawn = ddim_sample(
            guided,
            schedule,
            (1000, 2),
            20,
            generator=torch.Generator().manual_seed(seed),
        )
        stats[w] = class_stats(drawn)
    share, off, radius = (dict(zip(weights, v)) for v in zip(*stats.values()))
    assert share[0.0] < share[1.0] <= share[3.0] and share[3.0] > 0.99
    assert off[3.0] < off[0.0] / 4  # closer to the class's direction
    assert radius[3.0] > radius[0.0] + 0.5  # but pushed out, off the data
    assert abs(radius[0.0] - points.norm(dim=1).median()) < 0.1  # w = 0: data
    print(
        f"seed {seed}: nearest own centre "
        + ", ".join(f"w={w:g} {share[w]:.3f}" for w in weights)
        + "; median angle off it "
        + ", ".join(f"{off[w]:.3f}" for w in weights)
        + "; median radius "
        + ", ".join(f"{radius[w]:.2f}" for w in weights)
    )
print(f"data: median radius {points.norm(dim=1).median():.2f}")
# --8<-- [end:guidance_measure]

# %%
# --8<-- [start:guidance_plot]
fig, axes = plt.subplots(1, 4, figsize=(7.2, 2.3), sharex=True, sharey=True)
panels = [("data", None)] + [(f"guidance w = {w:g}", w) for w in weights]
for axis, (title, w) in zip(axes, panels):
    if w is None:
        shown, colours = points[:1000], labels[:1000]
    else:
        guided = classifier_free_guidance(model, wanted, NULL, w)
        shown = ddim_sample(
            guided,
            schedule,
            (1000, 2),
            20,
            generator=torch.Generator().manual_seed(0),
        )
        colours = wanted
    axis.scatter(*shown.numpy().T, s=1, c=colours.numpy(), cmap="tab10")
    axis.set_title(title, fontsize=9)
    axis.set_aspect("equal")
axes[0].set_xlim(-4, 4)
axes[0].set_ylim(-4, 4)
fig.tight_layout()
# --8<-- [end:guidance_plot]

# %%
# --8<-- [start:flow_train]
import torch.nn.functional as F


class VelocityField(nn.Module):
    """v_theta(x_t, t) for a real t in [0, 1]: an MLP on (x_t, t)."""

    def __init__(self, hidden=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(3, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x, t):
        return self.net(torch.cat([x, t[:, None]], dim=1))


def interpolate(x0, x1, t):  # x0: noise, x1: data
    return (1 - t[:, None]) * x0 + t[:, None] * x1


def best_velocity(x_t, t, std=0.4):
    """E[x1 - x0 | x_t], exact for noise to 8 Gaussians of this std."""
    t = t[:, None, None]  # (N, 1, 1)
    var = (1 - t) ** 2 + t**2 * std**2  # x_t from class k ~ N(t c_k, var I)
    diff = x_t[:, None] - t * centres  # (N, 8, 2)
    resp = (-(diff**2).sum(-1, keepdim=True) / (2 * var)).softmax(dim=1)
    x1_mean = (resp * (centres + t * std**2 / var * diff)).sum(dim=1)
    return (x1_mean - x_t) / (1 - t[:, 0])


g = torch.Generator().manual_seed(4)  # a fixed batch to measure on
x1_test = points[torch.randint(0, len(points), (4096,), generator=g)]
x0_test = torch.randn(4096, 2, generator=g)
t_test = torch.rand(4096, generator=g)
x_test = interpolate(x0_test, x1_test, t_test)


def test_loss(velocity):
    with torch.no_grad():
        return F.mse_loss(velocity(x_test, t_test), x1_test - x0_test)


torch.manual_seed(0)
flow = VelocityField()
untrained = test_loss(flow)
optimizer = torch.optim.Adam(flow.parameters(), lr=5e-3)
scheduler = warmup_cosine_scheduler(optimizer, total_steps=2000, warmup_steps=0)
for step in range(2000):
    x1 = points[torch.randint(0, len(points), (256,))]
    x0, t = torch.randn(256, 2), torch.rand(256)
    loss = F.mse_loss(flow(interpolate(x0, x1, t), t), x1 - x0)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()

trained, floor = test_loss(flow), test_loss(best_velocity)
assert trained < 0.75 * untrained
assert floor < trained < 1.05 * floor  # within 5% of the best possible
assert floor > 0.5 * untrained  # which is far from 0
print(
    f"flow matching loss: untrained {untrained:.3f}, trained {trained:.3f}, "
    f"best possible {floor:.3f}"
)
# --8<-- [end:flow_train]


# %%
# --8<-- [start:flow_sample]
@torch.no_grad()
def euler_sample(velocity, x, num_steps):
    path = [x]
    for i in range(num_steps):
        t = torch.full((x.shape[0],), i / num_steps)
        x = x + velocity(x, t) / num_steps  # x_{t+dt} = x_t + dt v
        path.append(x)
    return torch.stack(path)  # (num_steps + 1, N, 2)


flow_gaps = {}
for seed in range(3):
    start = torch.randn(2000, 2, generator=torch.Generator().manual_seed(seed))
    start_gap = energy_distance(start, data_half)
    for num_steps in (1, 5, 20):
        end = euler_sample(flow, start, num_steps)[-1]
        flow_gaps[seed, num_steps] = energy_distance(end, data_half)
    assert flow_gaps[seed, 20] < start_gap / 20  # the noise became data
    assert flow_gaps[seed, 5] < start_gap / 5  # even in 5 steps
    # one step: x_0 + v(x_0, 0), about E[x_1]: everything near the data mean
    one_step = euler_sample(flow, start, 1)[-1]
    assert one_step.norm(dim=1).median() < 0.5
    print(
        f"seed {seed}: energy distance to the data: noise {start_gap:.3f}, "
        + ", ".join(
            f"{n} Euler steps {flow_gaps[seed, n]:.4f}" for n in (1, 5, 20)
        )
    )
# --8<-- [end:flow_sample]

# %%
# --8<-- [start:flow_plot]
start = torch.randn(300, 2, generator=torch.Generator().manual_seed(6))
path = euler_sample(flow, start, 20)
length = (path[1:] - path[:-1]).norm(dim=2).sum(dim=0)
straight = (path[-1] - path[0]).norm(dim=1)
ratio = (length / straight).median()
inwards = (path[5].norm(dim=1) < path[0].norm(dim=1)).float().mean()
assert inwards > 0.9  # at t = 0.25 nearly all are nearer the origin than at 0
assert ratio > 1.3  # the learned paths bend: longer than straight lines
print(
    f"path length / straight distance, median: {ratio:.2f}; "
    f"nearer the origin at t = 0.25 than at t = 0: {inwards:.0%}"
)
fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.6))
# 300 paths drawn as one bitmap (rasterized), not 300 vector lines
left.plot(
    *path.numpy().transpose(2, 0, 1),
    color="C0",
    alpha=0.3,
    lw=0.6,
    rasterized=True,
)
left.scatter(*path[0].numpy().T, s=3, color="C7", label="start: noise (t = 0)")
left.scatter(*path[-1].numpy().T, s=3, color="C3", label="end: samples (t = 1)")
left.set_aspect("equal")
left.set_title("flow matching: 20 Euler steps", fontsize=9)
left.legend(loc="upper left", fontsize=7, framealpha=0.9)
times = torch.linspace(0, 1, 21).numpy()
right.plot(times, path[:, :60].norm(dim=2).numpy(), color="C0", alpha=0.4)
right.set_xlabel("t")
right.set_ylabel("distance from the origin")
right.set_title("60 of the paths: first in, then out", fontsize=9)
fig.tight_layout()
# --8<-- [end:flow_plot]
