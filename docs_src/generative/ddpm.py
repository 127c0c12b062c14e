# %% [markdown]
# # DDPM: forward process, L_simple, time embedding, ancestral sampling
# Book page: generative/ddpm

# %%
# --8<-- [start:schedule]
import math

import torch

T = 50  # diffusion steps
# beta_1 .. beta_T, linear
betas = torch.linspace(2e-3, 0.4, T, dtype=torch.float64)
# index = t; beta_0 = 0 stands for the data
betas = torch.cat([torch.zeros(1, dtype=torch.float64), betas])
alphas = 1 - betas
# alpha_bar_t = alpha_1 * ... * alpha_t, alpha_bar_0 = 1
alpha_bars = torch.cumprod(alphas, dim=0)

# the signal only fades
assert alpha_bars[0] == 1 and (alpha_bars[1:] < alpha_bars[:-1]).all()
assert alpha_bars[T] < 1e-4  # after T steps almost nothing of x_0 is left
for t in (1, 5, 10, 20, 50):
    print(
        f"t = {t:2d}: beta_t = {betas[t]:.4f}, "
        f"alpha_bar_t = {alpha_bars[t]:.2e}, "
        f"signal sqrt(alpha_bar_t) = {alpha_bars[t].sqrt():.3f}"
    )
# --8<-- [end:schedule]

# %%
# --8<-- [start:forward]
torch.manual_seed(0)
n = 20000
x0 = torch.tensor([2.0, 0.0]).expand(n, 2)  # many copies of one data point

x = x0.clone()
# the one-step process, t times: x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t)
# noise
for t in range(1, T + 1):
    x = alphas[t].sqrt().float() * x + betas[t].sqrt().float() * torch.randn(
        n, 2
    )
    if t in (5, 20, T):
        closed = alpha_bars[t].sqrt().float() * x0 + (
            1 - alpha_bars[t]
        ).sqrt().float() * torch.randn(n, 2)
        mean, variance = (
            alpha_bars[t].sqrt() * x0[0].double(),
            1 - alpha_bars[t],
        )
        # both match N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)
        for samples in (x, closed):
            assert (samples.mean(dim=0).double() - mean).abs().max() < 0.03
            assert (samples.var(dim=0).double() - variance).abs().max() < 0.05
        print(
            f"t = {t:2d}: iterated mean {x.mean(0).numpy().round(3)}, "
            f"var {x.var(0).numpy().round(3)}; "
            f"closed form mean {mean.numpy().round(3)}, var {variance:.3f}"
        )

# The same, exactly: the mean scales by sqrt(alpha_t), the variance obeys v_t =
# alpha_t v_{t-1} + beta_t.
scale, variance = torch.ones(1).double(), torch.zeros(1).double()
for t in range(1, T + 1):
    scale, variance = alphas[t].sqrt() * scale, alphas[t] * variance + betas[t]
    assert torch.allclose(scale, alpha_bars[t].sqrt()) and torch.allclose(
        variance, 1 - alpha_bars[t]
    )
# --8<-- [end:forward]

# %%
# --8<-- [start:endpoint]
from pytorch_notes.data import gaussian_ring

ring, _ = gaussian_ring(4096, modes=8, radius=2.0, std=0.05, seed=0)
noise = torch.randn(4096, 2)
x_T = (
    alpha_bars[T].sqrt().float() * ring
    + (1 - alpha_bars[T]).sqrt().float() * noise
)
# x_T is the noise, up to sqrt(alpha_bar_T) * |x_0|
assert (x_T - noise).abs().max() < 0.02
assert x_T.mean(dim=0).abs().max() < 0.07
# covariance I: x_T ~ N(0, I)
assert (torch.cov(x_T.T) - torch.eye(2)).abs().max() < 0.1
print(
    f"x_T: mean {x_T.mean(0).numpy().round(3)}, covariance\n"
    f"{torch.cov(x_T.T).numpy().round(3)}"
)
# --8<-- [end:endpoint]

# %%
# --8<-- [start:forward_plot]
import matplotlib.pyplot as plt

shown = (0, 2, 5, 10, 20, 50)
fig, axes = plt.subplots(2, 3, figsize=(6.8, 4.6), sharex=True, sharey=True)
for axis, t in zip(axes.flat, shown):
    x_t = (
        alpha_bars[t].sqrt().float() * ring[:1000]
        + (1 - alpha_bars[t]).sqrt().float() * noise[:1000]
    )
    axis.scatter(*x_t.numpy().T, s=1, color="C0")
    axis.set_title(
        f"t = {t}, $\\bar\\alpha_t$ = {alpha_bars[t]:.2g}", fontsize=9
    )
    axis.set_aspect("equal")
axes[0, 0].set_xlim(-3.5, 3.5)
axes[0, 0].set_ylim(-3.5, 3.5)
fig.tight_layout()

# How sharp is the ring? Spread of |x_t| relative to a round Gaussian cloud.
cloud = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
sharpness, correlation = {}, {}
for t in shown:
    a_bar = alpha_bars[t].float()
    x_t = a_bar.sqrt() * ring[:1000] + (1 - a_bar).sqrt() * noise[:1000]
    round_cloud = x_t.std() * cloud  # Gaussian, same overall spread
    sharpness[t] = x_t.norm(dim=1).std() / round_cloud.norm(dim=1).std()
    pair = torch.stack([x_t[:, 0], ring[:1000, 0]])
    correlation[t] = torch.corrcoef(pair)[0, 1]  # of x_t with x_0
assert sharpness[2] < 0.2  # sharp: radii far tighter than a cloud's
assert sharpness[5] < sharpness[10] < sharpness[20]  # blurring step by step
assert sharpness[20] > 0.85  # gone: as spread out as a round cloud
assert correlation[20] > 0.4  # yet x_20 still carries x_0
print({t: round(s.item(), 2) for t, s in sharpness.items()})
# --8<-- [end:forward_plot]

# %%
# --8<-- [start:package]
from pytorch_notes import expect_error
from pytorch_notes.diffusion import DDPMSchedule

schedule = DDPMSchedule(T, beta_start=2e-3, beta_end=0.4)
assert torch.allclose(schedule.betas, betas) and torch.allclose(
    schedule.alpha_bars, alpha_bars
)

t = torch.randint(1, T + 1, (4096,))  # one step per sample
by_hand = (
    alpha_bars[t].sqrt().float()[:, None] * ring
    + (1 - alpha_bars[t]).sqrt().float()[:, None] * noise
)
assert torch.allclose(schedule.q_sample(ring, t, noise), by_hand, atol=1e-6)
with expect_error(ValueError, "t must have shape (N=4096,)"):
    schedule.q_sample(ring, t[:100], noise)  # one step per sample
t0 = torch.zeros_like(t)  # t = 0 is not refused (reading t would sync a GPU):
assert torch.equal(schedule.q_sample(ring, t0, noise), ring)  # it gives x_0
print(schedule)
# --8<-- [end:package]

# %%
# --8<-- [start:posterior]
# Gaussian conditioning, per coordinate: (x_{t-1}, x_t) given x_0 is jointly
# Gaussian with Var(x_{t-1}) = v, Cov(x_{t-1}, x_t) = sqrt(alpha_t) v, Var(x_t)
# = alpha_t v + beta_t, v = 1 - alpha_bar_{t-1}.
steps = torch.arange(2, T + 1)
v = 1 - alpha_bars[steps - 1]
var_prev, cov, var_t = (
    v,
    alphas[steps].sqrt() * v,
    alphas[steps] * v + betas[steps],
)
coef_xt = cov / var_t  # regression of x_{t-1} on x_t
# from E[x_{t-1}] - coef_xt E[x_t]
coef_x0 = alpha_bars[steps - 1].sqrt() - coef_xt * alpha_bars[steps].sqrt()
conditional_variance = var_prev - cov**2 / var_t  # the Schur complement

# The closed forms of Ho et al.
one_minus = 1 - alpha_bars
assert torch.allclose(
    coef_x0, alpha_bars[steps - 1].sqrt() * betas[steps] / one_minus[steps]
)
assert torch.allclose(
    coef_xt, alphas[steps].sqrt() * one_minus[steps - 1] / one_minus[steps]
)
beta_tilde = one_minus[steps - 1] / one_minus[steps] * betas[steps]
assert torch.allclose(conditional_variance, beta_tilde)
# knowing x_0 leaves less uncertainty than beta_t
assert (beta_tilde < betas[steps]).all()
assert torch.allclose(schedule.posterior_variance[steps], beta_tilde)
assert torch.allclose(schedule.posterior_coef_x0[steps], coef_x0)
assert torch.allclose(schedule.posterior_coef_xt[steps], coef_xt)

# And from samples: regress x_9 on x_10 by least squares, for the one data point
# x_0 = 2.
prev = alpha_bars[9].sqrt() * 2 + one_minus[9].sqrt() * torch.randn(
    100000, dtype=torch.float64
)
now = alphas[10].sqrt() * prev + betas[10].sqrt() * torch.randn(
    100000, dtype=torch.float64
)
design = torch.stack([now, torch.ones_like(now)], dim=1)
slope, intercept = torch.linalg.lstsq(design, prev[:, None]).solution.squeeze(1)
residual = prev - design @ torch.stack([slope, intercept])
assert abs(slope - schedule.posterior_coef_xt[10]) < 0.02
assert abs(intercept - 2 * schedule.posterior_coef_x0[10]) < 0.02
assert abs(residual.var() / schedule.posterior_variance[10] - 1) < 0.02
print(
    f"t = 10: coef of x_t {slope:.4f} "
    f"(exact {schedule.posterior_coef_xt[10]:.4f}), "
    f"residual variance {residual.var():.4f} "
    f"(beta_tilde {schedule.posterior_variance[10]:.4f})"
)
# --8<-- [end:posterior]

# %%
# --8<-- [start:predict_x0]
torch.manual_seed(0)
# float64: at t near T, 1 / sqrt(alpha_bar_t) is about 360 and magnifies
# rounding
x0 = ring[:8].double()
t = torch.randint(1, T + 1, (8,))
eps = torch.randn(8, 2, dtype=torch.float64)
x_t = schedule.q_sample(x0, t, eps)
a_bar = alpha_bars[t][:, None]

# q_sample solved for x_0
x0_hat = (x_t - (1 - a_bar).sqrt() * eps) / a_bar.sqrt()
assert torch.allclose(x0_hat, x0) and torch.allclose(
    schedule.predict_x0(x_t, t, eps), x0_hat
)

# The posterior mean with x_0_hat plugged in only needs x_t and eps:
# mu = (x_t - beta_t / sqrt(1 - alpha_bar_t) * eps) / sqrt(alpha_t)
b, a = betas[t][:, None], alphas[t][:, None]
mu_eps = (x_t - b / (1 - a_bar).sqrt() * eps) / a.sqrt()
assert torch.allclose(schedule.posterior_mean(x0_hat, x_t, t), mu_eps)
print("largest |x0_hat - x0|:", f"{(x0_hat - x0).abs().max():.1e}")
# --8<-- [end:predict_x0]

# %%
# --8<-- [start:time_embedding]
import torch.nn as nn

from pytorch_notes.positional import sinusoidal_encoding


class Denoiser(nn.Module):
    """eps_theta(x_t, t): an MLP on x_t and the sinusoidal embedding of t."""

    def __init__(self, num_steps, time_dim=16, hidden=128):
        super().__init__()
        self.register_buffer(
            "time_table",
            sinusoidal_encoding(torch.arange(num_steps + 1), time_dim),
        )
        self.net = nn.Sequential(
            nn.Linear(2 + time_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x, t):
        # row t of the table = embedding of t
        return self.net(torch.cat([x, self.time_table[t]], dim=1))


table = Denoiser(T).time_table
assert table.shape == (T + 1, 16)
some_steps = torch.tensor([1, 7, 50])
assert torch.allclose(table[some_steps], sinusoidal_encoding(some_steps, 16))
# all pairs of different steps
distances = torch.cdist(table, table)[~torch.eye(T + 1, dtype=torch.bool)]
assert distances.min() > 0.1  # every step has its own code


def gap(s, u):  # distance between the embeddings of steps s and u
    return (table[s] - table[u]).norm()


# distances depend only on the time difference
assert torch.isclose(gap(10, 15), gap(40, 45), atol=1e-5)
all_gaps = torch.cdist(table, table)
for d in range(1, T + 1):  # every pair d steps apart: one distance
    assert torch.allclose(all_gaps.diagonal(d), all_gaps[0, d], atol=1e-5)
assert all_gaps[0, 1] < all_gaps[0, 2:].min()  # next steps are the closest
assert gap(10, 15) < gap(10, 13)  # but not monotone: sin(t) repeats
print(
    f"|e(10) - e(15)| = {gap(10, 15):.3f} = |e(40) - e(45)|, "
    f"|e(10) - e(40)| = {gap(10, 40):.3f}"
)
# --8<-- [end:time_embedding]

# %%
# --8<-- [start:loss]
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from pytorch_notes.diffusion import ddpm_loss

torch.manual_seed(0)
model = Denoiser(T)
x0 = ring[:256]

generator = torch.Generator().manual_seed(1)
t = torch.randint(1, T + 1, (256,), generator=generator)  # t ~ uniform on 1..T
eps = torch.randn(256, 2, generator=generator)
# ||eps - eps_theta(x_t, t)||^2
l_simple = F.mse_loss(model(schedule.q_sample(x0, t, eps), t), eps)
assert torch.allclose(
    ddpm_loss(model, schedule, x0, generator=torch.Generator().manual_seed(1)),
    l_simple,
)

# What L_simple leaves out: the ELBO's term at step t is KL(q(x_{t-1} | x_t,
# x_0) || p_theta(x_{t-1} | x_t)), two Gaussians with variance beta_tilde_t,
# which is a weight times ||eps - eps_theta||^2.
with torch.no_grad():
    keep = t > 1
    x_t, tk, ek = schedule.q_sample(x0, t, eps)[keep], t[keep], eps[keep]
    eps_theta = model(x_t, tk)
    std = schedule.posterior_variance[tk].sqrt().float()[:, None]
    true_mean = schedule.posterior_mean(x0[keep], x_t, tk)
    model_mean = schedule.posterior_mean(
        schedule.predict_x0(x_t, tk, eps_theta), x_t, tk
    )
    kl = kl_divergence(Normal(true_mean, std), Normal(model_mean, std)).sum(
        dim=1
    )
    weight = (
        betas**2
        / (
            2
            * schedule.posterior_variance.clamp_min(1e-12)
            * alphas
            * (1 - alpha_bars)
        )
    ).float()
    assert torch.allclose(
        kl,
        weight[tk] * ((ek - eps_theta) ** 2).sum(dim=1),
        rtol=1e-3,
        atol=1e-5,
    )
# the weights L_simple drops differ a lot across t
assert weight[2:].max() > 10 * weight[2:].min()
untrained_out = model(schedule.q_sample(x0, t, eps), t).detach()
assert untrained_out.pow(2).mean() < 0.05  # untrained: outputs about 0
assert abs(l_simple - eps.pow(2).mean()) < 0.1  # so its loss is about E[eps^2]
print(f"L_simple of the untrained model: {l_simple:.3f}")
print(
    "ELBO weights dropped by L_simple, t = 2, 10, 50:",
    weight[[2, 10, 50]].numpy().round(3),
)
# --8<-- [end:loss]

# %%
# --8<-- [start:train]
from pytorch_notes.schedules import warmup_cosine_scheduler

torch.manual_seed(0)
model = Denoiser(T)
# fused: one update for all tensors
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3, fused=True)
scheduler = warmup_cosine_scheduler(optimizer, total_steps=2000, warmup_steps=0)
losses = []
for step in range(2000):
    batch = ring[torch.randint(0, len(ring), (256,))]
    loss = ddpm_loss(model, schedule, batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    losses.append(loss.item())

first, last = sum(losses[:200]) / 200, sum(losses[-200:]) / 200
assert last < 0.75 * first  # predicting eps = 0 would score 1


angles = 2 * math.pi * torch.arange(8) / 8
modes = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)  # ring centres


def band_losses(low, high):  # t drawn from low..high only
    g = torch.Generator().manual_seed(2)
    x0 = ring[torch.randint(0, len(ring), (4096,), generator=g)]
    t = torch.randint(low, high + 1, (4096,), generator=g)
    eps = torch.randn(4096, 2, generator=g)
    x_t = schedule.q_sample(x0, t, eps)
    # The best possible prediction, E[eps | x_t], exact for 8 Gaussians:
    a = alpha_bars[t].float()[:, None, None]  # (N, 1, 1)
    var = a * 0.05**2 + 1 - a  # x_t from mode m ~ N(sqrt(a) m, var I)
    diff = x_t[:, None] - a.sqrt() * modes  # (N, 8, 2)
    resp = (-(diff**2).sum(-1, keepdim=True) / (2 * var)).softmax(dim=1)
    x0_mean = (resp * (modes + a.sqrt() * 0.05**2 / var * diff)).sum(1)
    a = a[:, 0]
    best = (x_t - a.sqrt() * x0_mean) / (1 - a).sqrt()
    with torch.no_grad():
        return F.mse_loss(model(x_t, t), eps), F.mse_loss(best, eps)


(small_t, small_floor), (large_t, _) = band_losses(1, 10), band_losses(26, T)
assert large_t < small_t / 10  # what is left sits at small t ...
assert small_floor > 0.25  # ... where even the best predictor errs
assert small_t > small_floor  # no network beats E[eps | x_t]
print(
    f"L_simple, mean of the first 200 steps {first:.3f}, "
    f"of the last 200 {last:.3f}"
)
print(
    f"t in 1..10: {small_t:.3f} (best possible {small_floor:.3f}), "
    f"t in 26..50: {large_t:.3f}"
)

# x0_hat from the *predicted* eps, at a small and at the largest t:
g = torch.Generator().manual_seed(3)
x0 = ring[torch.randint(0, len(ring), (2000,), generator=g)]
eps = torch.randn(2000, 2, generator=g)
x0_error = {}
for step in (5, T):
    t = torch.full((2000,), step)
    x_t = schedule.q_sample(x0, t, eps)
    with torch.no_grad():
        x0_hat = schedule.predict_x0(x_t, t, model(x_t, t))
    x0_error[step] = (x0_hat - x0).norm(dim=1).median().item()
assert x0_error[5] < 0.2  # at t = 5: within a cluster's reach
assert x0_error[T] > 2.0  # at t = T: worse than guessing the origin
print(
    f"median |x0_hat - x0|: t = 5 {x0_error[5]:.2f}, t = {T} {x0_error[T]:.1f}"
)
# --8<-- [end:train]

# %%
# --8<-- [start:sample]
from pytorch_notes.diffusion import ddpm_sample


@torch.no_grad()
def sample(model, n, generator):
    x = torch.randn(n, 2, generator=generator)  # x_T ~ N(0, I)
    for step in range(T, 0, -1):
        t = torch.full((n,), step)
        eps_theta = model(x, t)
        # the mean
        x = (
            x - betas[step] / (1 - alpha_bars[step]).sqrt() * eps_theta
        ) / alphas[step].sqrt()
        if step > 1:  # no noise on the last step
            x = x + schedule.posterior_variance[step].sqrt() * torch.randn(
                n, 2, generator=generator
            )
    return x.float()


assert schedule.posterior_variance[1] == 0  # beta_tilde_1 = 0 by itself
samples = sample(model, 2000, torch.Generator().manual_seed(0))
package = ddpm_sample(
    model, schedule, (2000, 2), generator=torch.Generator().manual_seed(0)
)
assert torch.allclose(samples, package, atol=1e-4)
print(
    "hand and package samplers agree: max difference "
    f"{(samples - package).abs().max():.1e}"
)
# --8<-- [end:sample]

# %%
# --8<-- [start:quality]
from pytorch_notes.gan import mode_coverage

angles = 2 * math.pi * torch.arange(8) / 8
# the 8 mode centres
centres = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)


def median_distance(points):  # to the nearest mode centre
    return torch.cdist(points, centres).min(dim=1).values.median().item()


noise_distance = median_distance(torch.randn(2000, 2))
for seed in range(4):
    drawn = ddpm_sample(
        model,
        schedule,
        (2000, 2),
        generator=torch.Generator().manual_seed(seed),
    )
    counts = mode_coverage(drawn, centres, max_distance=0.5)
    # samples sit on the ring's modes
    assert median_distance(drawn) < 0.3 * noise_distance
    assert (counts >= 100).all()  # every mode gets at least 5% of the samples
    assert median_distance(drawn) > 2 * median_distance(ring)  # wider than data
    print(
        f"seed {seed}: median distance {median_distance(drawn):.3f} "
        f"(noise {noise_distance:.3f}), "
        f"per mode {counts.tolist()}"
    )
# --8<-- [end:quality]

# %%
# --8<-- [start:sample_plot]
trajectory = ddpm_sample(
    model,
    schedule,
    (1000, 2),
    generator=torch.Generator().manual_seed(0),
    return_trajectory=True,
)  # trajectory[t] = x_t
fig, axes = plt.subplots(2, 3, figsize=(6.8, 4.6), sharex=True, sharey=True)
for axis, t in zip(axes.flat, shown[::-1]):
    axis.scatter(*trajectory[t].numpy().T, s=1, color="C1")
    axis.set_title(f"sampling, t = {t}", fontsize=9)
    axis.set_aspect("equal")
# the data's mode centres
axes[-1, -1].scatter(
    *centres.numpy().T, marker="+", s=60, linewidths=1, color="C3"
)
axes[0, 0].set_xlim(-3.5, 3.5)
axes[0, 0].set_ylim(-3.5, 3.5)
fig.tight_layout()
# --8<-- [end:sample_plot]
