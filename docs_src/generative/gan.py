# %% [markdown]
# # GAN: minimax, non-saturating loss, mode collapse, WGAN-GP
# Book page: generative/gan

# %%
# --8<-- [start:value]
import math

import torch

x = torch.linspace(-8, 10, 3601, dtype=torch.float64)  # integrals become sums
dx = x[1] - x[0]


def normal_pdf(x, mean, std=1.0):
    z = (x - mean) / std
    return torch.exp(-0.5 * z**2) / (std * math.sqrt(2 * math.pi))


p_data, p_g = normal_pdf(x, 0.0), normal_pdf(x, 2.0)  # real at 0, fake at 2


def value(d):  # V(D, G) = E_data[log D(x)] + E_g[log(1 - D(x))]
    return ((p_data * d.log() + p_g * (1 - d).log()) * dx).sum()


d_star = p_data / (p_data + p_g)  # the optimal discriminator
torch.manual_seed(0)
for _ in range(5):  # any other discriminator scores lower
    a, b, c, d = 0.5 * torch.randn(4, dtype=torch.float64)
    other = torch.sigmoid(torch.logit(d_star) + a + b * torch.sin(c * x + d))
    assert value(other) < value(d_star)

m = (p_data + p_g) / 2
kl_data = (p_data * (p_data / m).log() * dx).sum()
kl_g = (p_g * (p_g / m).log() * dx).sum()
jsd = 0.5 * (kl_data + kl_g)  # the Jensen-Shannon divergence
assert torch.isclose(value(d_star), -math.log(4) + 2 * jsd)
half = torch.full_like(x, 0.5)  # the discriminator at the optimum p_g = p_data
assert torch.isclose(value(half), torch.tensor(-math.log(4), dtype=x.dtype))
print(
    f"V(D*) = {value(d_star):.4f} = -log 4 + 2 JSD "
    f"= {-math.log(4):.4f} + 2 * {jsd:.4f}"
)
print(
    "D*(x) at x = -2, 0, 1, 2, 4:",
    d_star[[1200, 1600, 1800, 2000, 2400]].numpy().round(3),
)
# --8<-- [end:value]

# %%
# --8<-- [start:optimal_d]
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
real_samples = torch.randn(4000, 1)  # from p_data = N(0, 1)
fake_samples = torch.randn(4000, 1) + 2  # from p_g = N(2, 1)
discriminator = nn.Linear(1, 1)  # D(x) = sigmoid(w x + b)
optimizer = torch.optim.Adam(discriminator.parameters(), lr=0.05)
bce = F.binary_cross_entropy_with_logits
ones, zeros = torch.ones(4000, 1), torch.zeros(4000, 1)
for _ in range(300):
    loss = bce(discriminator(real_samples), ones) + bce(
        discriminator(fake_samples), zeros
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

w, b = discriminator.weight.item(), discriminator.bias.item()
# log D*/(1 - D*) = log p_data - log p_g = -x^2/2 + (x - 2)^2/2 = -2x + 2
assert abs(w + 2) < 0.2 and abs(b - 2) < 0.2
with torch.no_grad():
    learned = torch.sigmoid(discriminator(x.float()[:, None]))
learned = learned.squeeze(1).double()
middle = (x > -3) & (x < 5)  # where the samples are
assert (learned - d_star)[middle].abs().max() < 0.05
print(f"learned logit {w:+.3f} x {b:+.3f}, optimal logit -2 x + 2")
# --8<-- [end:optimal_d]

# %%
# --8<-- [start:saturation]
d_values = torch.tensor([0.5, 0.1, 0.01, 1e-3, 1e-5], dtype=torch.float64)
logits = torch.logit(d_values).requires_grad_()  # D(G(z)) = sigmoid(logit)
saturating = torch.log(1 - torch.sigmoid(logits))  # minimax: G minimises it
(grad_saturating,) = torch.autograd.grad(saturating.sum(), logits)
non_saturating = -torch.log(torch.sigmoid(logits))  # ... or this one
(grad_non_saturating,) = torch.autograd.grad(non_saturating.sum(), logits)

assert torch.allclose(grad_saturating, -d_values)  # -D -> 0
assert torch.allclose(grad_non_saturating, -(1 - d_values))  # -(1 - D) -> -1
assert grad_saturating[-1].abs() < 1e-4
assert grad_non_saturating[-1].abs() > 0.99
for d, g_s, g_n in zip(d_values, grad_saturating, grad_non_saturating):
    print(
        f"D(G(z)) = {d:.0e}: |grad| saturating {g_s.abs():.0e}, "
        f"non-saturating {g_n.abs():.3f}"
    )
# --8<-- [end:saturation]

# %%
# --8<-- [start:losses]
from pytorch_notes import expect_error
from pytorch_notes.gan import discriminator_loss, generator_loss

torch.manual_seed(0)
real_logits, fake_logits = 3 * torch.randn(16, 1), 3 * torch.randn(16, 1)
ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
d_by_hand = (
    -torch.sigmoid(real_logits).log().mean()
    - (1 - torch.sigmoid(fake_logits)).log().mean()
)
d_loss = discriminator_loss(real_logits, fake_logits)
assert torch.allclose(d_loss, d_by_hand)
assert torch.allclose(d_loss, bce(real_logits, ones) + bce(fake_logits, zeros))
# the non-saturating loss is BCE with the label "real"
assert torch.allclose(generator_loss(fake_logits), bce(fake_logits, ones))
assert torch.allclose(
    generator_loss(fake_logits, saturating=True),
    (1 - torch.sigmoid(fake_logits)).log().mean(),
)

far_out = torch.tensor([-200.0])  # D = sigmoid(-200) is 0 in float32
assert torch.sigmoid(far_out).log().isinf().all()  # the naive formula breaks
assert torch.isclose(generator_loss(far_out), torch.tensor(200.0))  # not so
with expect_error(TypeError, "floating-point"):
    discriminator_loss(real_logits, torch.ones(16, 1, dtype=torch.long))
# --8<-- [end:losses]

# %%
# --8<-- [start:ring]
from pytorch_notes.data import gaussian_ring
from pytorch_notes.gan import mode_coverage

ring, _ = gaussian_ring(4096, modes=8, radius=2.0, std=0.05, seed=0)
angles = 2 * math.pi * torch.arange(8) / 8
centres = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)  # 8 modes


def distance_to_nearest_mode(points):
    return torch.cdist(points, centres).min(dim=1).values.mean().item()


assert distance_to_nearest_mode(ring) < 0.1  # real points sit on their modes
real_counts = mode_coverage(ring[:2000], centres, max_distance=0.5)
collapsed = centres[3] + 0.05 * torch.randn(2000, 2)  # all in one mode
assert (real_counts > 0).sum() == 8 and real_counts.sum() == 2000
assert (mode_coverage(collapsed, centres, max_distance=0.5) > 0).sum() == 1
print("real samples per mode:", real_counts.tolist())
# --8<-- [end:ring]


# %%
# --8<-- [start:train]
def mlp(inputs, outputs, activation):
    return nn.Sequential(
        nn.Linear(inputs, 64),
        activation,
        nn.Linear(64, 64),
        activation,
        nn.Linear(64, outputs),
    )


def adam(model, beta2=0.999):
    return torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.5, beta2))


latent = 8


def train_gan(seed, steps=500):
    torch.manual_seed(seed)
    generator = mlp(latent, 2, nn.ReLU())
    discriminator = mlp(2, 1, nn.LeakyReLU(0.2))  # a logit per point
    g_optimizer, d_optimizer = adam(generator), adam(discriminator)
    z_eval = torch.randn(2000, latent)  # fixed noise to measure progress
    with torch.no_grad():
        before = generator(z_eval)
    for step in range(steps):
        real = ring[torch.randint(0, len(ring), (256,))]
        fake = generator(torch.randn(256, latent))
        # detach: the discriminator's step computes no gradient for G
        d_loss = discriminator_loss(
            discriminator(real), discriminator(fake.detach())
        )
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()
        g_loss = generator_loss(discriminator(fake))  # -log D(G(z))
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()
    with torch.no_grad():
        after = generator(z_eval)
    return generator, discriminator, before, after


generator, discriminator, before, generated = train_gan(seed=0)
distance_before = distance_to_nearest_mode(before)
distance_after = distance_to_nearest_mode(generated)
counts = mode_coverage(generated, centres, max_distance=0.5)
assert distance_after < 0.75 * distance_before  # samples moved to the modes
print(
    f"mean distance to the nearest mode: "
    f"{distance_before:.3f} -> {distance_after:.3f}"
)
print(
    f"generated samples per mode: {counts.tolist()}, "
    f"modes covered: {(counts > 0).sum()} of 8"
)
# --8<-- [end:train]

# %%
# --8<-- [start:seeds]
samples = {0: generated}  # seed 0 was trained above
for seed in range(1, 6):
    samples[seed] = train_gan(seed)[3]

covered, distance = {}, {}
for seed, points in samples.items():
    in_modes = mode_coverage(points, centres, max_distance=0.5)
    covered[seed] = (in_modes > 0).sum().item()
    distance[seed] = distance_to_nearest_mode(points)
    print(
        f"seed {seed}: {covered[seed]} of 8 modes covered, "
        f"{in_modes.sum():4d} of 2000 samples in a mode, "
        f"mean distance {distance[seed]:.2f}"
    )

full = [seed for seed in samples if covered[seed] == 8]
partial = [seed for seed in samples if covered[seed] < 8]
assert len(full) > len(samples) / 2  # most seeds cover every mode ...
assert len(partial) >= 1  # ... but not every seed
# the runs that miss modes are also the ones whose samples miss the ring
assert min(distance[s] for s in partial) > max(distance[s] for s in full)
# --8<-- [end:seeds]

# %%
# --8<-- [start:collapse]
with torch.no_grad():
    scores = discriminator(ring[:2000]).squeeze(1)  # D's logits on real data
    favourite = ring[scores.argmax()]  # the single point D likes best
    # a perfect generator (all 8 modes) vs one that puts everything there
    loss_spread = generator_loss(discriminator(ring[:2000]))
    loss_collapsed = generator_loss(discriminator(favourite.expand(2000, 2)))
assert loss_collapsed < loss_spread  # against a fixed D, collapsing wins
print(
    f"generator loss: real data (8 modes) {loss_spread:.3f}, "
    f"collapsed on D's favourite {loss_collapsed:.3f}"
)
# --8<-- [end:collapse]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

worst = min(samples, key=lambda seed: (covered[seed], -distance[seed]))
panels = [
    (ring[:2000], "real: 8 Gaussians on a ring", "0.4"),
    (generated, f"GAN, seed 0: {covered[0]} modes", "C0"),
    (samples[worst], f"GAN, seed {worst}: {covered[worst]} modes", "C1"),
]
fig, axes = plt.subplots(1, 3, figsize=(7, 2.8), sharex=True, sharey=True)
for axis, (points, title, colour) in zip(axes, panels):
    axis.scatter(*points.numpy().T, s=2, color=colour)
    axis.scatter(*centres.numpy().T, marker="x", color="C3")
    axis.set_title(title, fontsize=10)
    axis.set_aspect("equal")
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:penalty]
from pytorch_notes.gan import gradient_penalty

torch.manual_seed(0)
critic = mlp(2, 1, nn.LeakyReLU(0.2))  # a WGAN critic: a score, no sigmoid
real, fake = ring[:64], generated[:64]
epsilon = torch.rand(64)

e = epsilon[:, None]
mixed = (e * real + (1 - e) * fake).requires_grad_()  # between the two
# create_graph: the gradient itself stays differentiable, so the critic learns
(grad_x,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
by_hand = ((grad_x.norm(dim=1) - 1) ** 2).mean()

package = gradient_penalty(critic, real, fake, epsilon=epsilon)
assert torch.allclose(package, by_hand)
package.backward()  # the penalty reaches the critic's weights ...
assert critic[0].weight.grad.abs().sum() > 0
assert critic[-1].weight.grad.abs().sum() > 0
assert critic[-1].bias.grad is None  # ... but not the output bias
critic_loss = (
    critic(fake).mean()
    - critic(real).mean()
    + 10 * gradient_penalty(critic, real, fake)
)
print(f"gradient penalty: by hand {by_hand:.5f}, package {package:.5f}")
print(f"one WGAN-GP critic loss (lambda = 10): {critic_loss:.4f}")
# --8<-- [end:penalty]


# %%
# --8<-- [start:lipschitz]
def linear_critic(weight):
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


one_lipschitz = linear_critic(torch.tensor([[0.6, 0.8]]))  # |w| = 1
three_lipschitz = linear_critic(torch.tensor([[1.8, 2.4]]))  # |w| = 3
flat = gradient_penalty(one_lipschitz, real, fake)
assert torch.allclose(flat, torch.tensor(0.0), atol=1e-7)
steep = gradient_penalty(three_lipschitz, real, fake)
assert torch.allclose(steep, torch.tensor(4.0))  # (3 - 1)^2
steep.backward()
w = three_lipschitz.weight
assert (w.grad * w).sum() > 0  # a descent step shrinks |w|
with expect_error(ValueError, "same shape"):
    gradient_penalty(critic, real, fake[:10])
print(f"penalty, 1-Lipschitz critic: {flat:.1e}; 3-Lipschitz: {steep:.1f}")
# --8<-- [end:lipschitz]

# %%
# --8<-- [start:coupling]
# 1-D: real points at 0 and 10, generated ones at 1 and 9.
real_1d = torch.tensor([[0.0], [10.0]])
fake_1d = torch.tensor([[1.0], [9.0]])
# The optimal coupling moves 1 -> 0 and 9 -> 10: W1 = mean distance = 1.
w1 = (real_1d.sort(dim=0).values - fake_1d.sort(dim=0).values).abs().mean()


def v_critic(x):  # |x - 5| - 4: slope -1, then +1
    return (x - 5).abs() - 4


def bowl_critic(x):  # slope -1 on [0, 1], flat on [1, 9], +1 on [9, 10]
    return torch.relu(1 - x) + torch.relu(x - 9)


half_way = torch.tensor([0.5, 0.5])
for f in (v_critic, bowl_critic):
    score = f(real_1d).mean() - f(fake_1d).mean()
    assert torch.isclose(score, w1)  # both reach W1: both are optimal
    # on the lines between coupled pairs (0-1 and 10-9): gradient norm 1
    coupled = gradient_penalty(f, real_1d, fake_1d, epsilon=half_way)
    assert coupled == 0
# random pairs 0-9 and 10-1: the lines cross [1, 9], where the optimal
# bowl_critic is flat: its gradient there is 0, not 1
swapped = fake_1d.flip(0)
assert gradient_penalty(v_critic, real_1d, swapped, epsilon=half_way) == 0
assert gradient_penalty(bowl_critic, real_1d, swapped, epsilon=half_way) == 1
flat_on_random = gradient_penalty(bowl_critic, real_1d, swapped, half_way)
print(
    f"W1 = {w1:.1f}; penalty of the flat optimal critic: coupled pairs "
    f"0.0, random pairs {flat_on_random:.1f}"
)
# --8<-- [end:coupling]


# %%
# --8<-- [start:wgan]
def train_wgan_gp(seed, steps=150, critic_steps=5):
    torch.manual_seed(seed)  # the same networks and noise as train_gan
    generator = mlp(latent, 2, nn.ReLU())
    critic = mlp(2, 1, nn.LeakyReLU(0.2))  # a score, no sigmoid
    g_optimizer, c_optimizer = adam(generator, 0.9), adam(critic, 0.9)
    z_eval = torch.randn(2000, latent)
    for step in range(steps):
        for _ in range(critic_steps):  # train the critic closer to optimal
            real = ring[torch.randint(0, len(ring), (256,))]
            with torch.no_grad():
                fake = generator(torch.randn(256, latent))
            c_loss = (
                critic(fake).mean()
                - critic(real).mean()
                + 10 * gradient_penalty(critic, real, fake)
            )
            c_optimizer.zero_grad()
            c_loss.backward()
            c_optimizer.step()
        g_loss = -critic(generator(torch.randn(256, latent))).mean()
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()
    with torch.no_grad():
        after = generator(z_eval)
    return critic, after


def gradient_norms(f, real, fake):  # |grad f| at random interpolates
    e = torch.rand(len(real), 1)
    mixed = (e * real + (1 - e) * fake).requires_grad_()
    (grad,) = torch.autograd.grad(f(mixed).sum(), mixed)
    return grad.norm(dim=1)


critic, wgan_samples = train_wgan_gp(seed=0)
torch.manual_seed(0)
wgan_norms = gradient_norms(critic, ring[:2000], wgan_samples)
gan_norms = gradient_norms(discriminator, ring[:2000], generated)
wgan_counts = mode_coverage(wgan_samples, centres, max_distance=0.5)
wgan_distance = distance_to_nearest_mode(wgan_samples)
for name, norms in [("WGAN-GP critic", wgan_norms), ("GAN logit", gan_norms)]:
    print(
        f"{name:14s} |grad| on interpolates: mean {norms.mean():.2f}, "
        f"10%-90% {norms.quantile(0.1):.2f}-{norms.quantile(0.9):.2f}, "
        f"(|grad| - 1)^2 {((norms - 1) ** 2).mean():.3f}"
    )
print(
    f"WGAN-GP samples per mode: {wgan_counts.tolist()}, "
    f"mean distance {distance_before:.2f} -> {wgan_distance:.2f}"
)
assert abs(wgan_norms.mean() - 1) < 0.2  # the penalty holds it near 1
# unpenalised, the GAN's logit would pay more than ten times as much
assert ((gan_norms - 1) ** 2).mean() > 10 * ((wgan_norms - 1) ** 2).mean()
assert wgan_distance < 0.85 * distance_before  # samples moved to the ring
assert wgan_distance > max(distance[s] for s in full)  # not as close yet
# --8<-- [end:wgan]
