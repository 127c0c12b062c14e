# %% [markdown]
# # GAN: minimax, non-saturating loss, mode collapse, WGAN-GP
# Book page: generative/gan

# %%
# --8<-- [start:value]
import math

import torch

x = torch.linspace(-8, 10, 3601, dtype=torch.float64)  # a fine grid: integrals become sums
dx = x[1] - x[0]


def normal_pdf(x, mean, std=1.0):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


p_data, p_g = normal_pdf(x, 0.0), normal_pdf(x, 2.0)  # real data around 0, generator around 2


def value(d):  # V(D, G) = E_data[log D(x)] + E_g[log(1 - D(x))]
    return ((p_data * d.log() + p_g * (1 - d).log()) * dx).sum()


d_star = p_data / (p_data + p_g)  # the optimal discriminator
torch.manual_seed(0)
for _ in range(5):  # any other discriminator scores lower
    bump = 0.5 * torch.randn(4, dtype=torch.float64)
    other = torch.sigmoid(torch.logit(d_star) + bump[0] + bump[1] * torch.sin(bump[2] * x + bump[3]))
    assert value(other) < value(d_star)

m = (p_data + p_g) / 2
jsd = 0.5 * ((p_data * (p_data / m).log() + p_g * (p_g / m).log()) * dx).sum()  # Jensen-Shannon divergence
assert torch.isclose(value(d_star), -math.log(4) + 2 * jsd)
assert torch.isclose(value(torch.full_like(x, 0.5)), torch.tensor(-math.log(4), dtype=torch.float64))
print(f"V(D*) = {value(d_star):.4f} = -log 4 + 2 JSD = {-math.log(4):.4f} + 2 * {jsd:.4f}")
print("D*(x) at x = -2, 0, 1, 2, 4:", d_star[[1200, 1600, 1800, 2000, 2400]].numpy().round(3))
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
for _ in range(300):
    loss = (F.binary_cross_entropy_with_logits(discriminator(real_samples), torch.ones(4000, 1))
            + F.binary_cross_entropy_with_logits(discriminator(fake_samples), torch.zeros(4000, 1)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

w, b = discriminator.weight.item(), discriminator.bias.item()
# log D*/(1 - D*) = log p_data - log p_g = -x^2/2 + (x - 2)^2/2 = -2x + 2
assert abs(w + 2) < 0.2 and abs(b - 2) < 0.2
with torch.no_grad():
    learned = torch.sigmoid(discriminator(x.float()[:, None])).squeeze(1).double()
middle = (x > -3) & (x < 5)  # where the samples are
assert (learned - d_star)[middle].abs().max() < 0.05
print(f"learned logit {w:+.3f} x {b:+.3f}, optimal logit -2 x + 2")
# --8<-- [end:optimal_d]

# %%
# --8<-- [start:saturation]
d_values = torch.tensor([0.5, 0.1, 0.01, 1e-3, 1e-5], dtype=torch.float64)
logits = torch.logit(d_values).requires_grad_()  # D(G(z)) = sigmoid(logit)
saturating = torch.log(1 - torch.sigmoid(logits))  # the generator minimises this (minimax)
(grad_saturating,) = torch.autograd.grad(saturating.sum(), logits)
non_saturating = -torch.log(torch.sigmoid(logits))  # ... or this (non-saturating)
(grad_non_saturating,) = torch.autograd.grad(non_saturating.sum(), logits)

assert torch.allclose(grad_saturating, -d_values)  # d/dl log(1 - D) = -D -> 0
assert torch.allclose(grad_non_saturating, -(1 - d_values))  # d/dl -log D = -(1 - D) -> -1
assert grad_saturating[-1].abs() < 1e-4 and grad_non_saturating[-1].abs() > 0.99
for d, g_s, g_n in zip(d_values, grad_saturating, grad_non_saturating):
    print(f"D(G(z)) = {d:.0e}: |grad| saturating {g_s.abs():.0e}, non-saturating {g_n.abs():.3f}")
# --8<-- [end:saturation]

# %%
# --8<-- [start:losses]
from pytorch_notes import expect_error
from pytorch_notes.gan import discriminator_loss, generator_loss

torch.manual_seed(0)
real_logits, fake_logits = 3 * torch.randn(16, 1), 3 * torch.randn(16, 1)
bce = F.binary_cross_entropy_with_logits
d_by_hand = -torch.sigmoid(real_logits).log().mean() - (1 - torch.sigmoid(fake_logits)).log().mean()
assert torch.allclose(discriminator_loss(real_logits, fake_logits), d_by_hand)
assert torch.allclose(discriminator_loss(real_logits, fake_logits),
                      bce(real_logits, torch.ones(16, 1)) + bce(fake_logits, torch.zeros(16, 1)))
assert torch.allclose(generator_loss(fake_logits), bce(fake_logits, torch.ones(16, 1)))  # label "real"
assert torch.allclose(generator_loss(fake_logits, saturating=True),
                      (1 - torch.sigmoid(fake_logits)).log().mean())

far_out = torch.tensor([-200.0])  # D = sigmoid(-200) is 0 in float32
assert torch.sigmoid(far_out).log().isinf().all()  # the naive formula breaks
assert torch.isclose(generator_loss(far_out), torch.tensor(200.0))  # softplus does not
with expect_error(TypeError, "floating-point"):
    discriminator_loss(real_logits, torch.ones(16, 1, dtype=torch.long))
# --8<-- [end:losses]

# %%
# --8<-- [start:ring]
from pytorch_notes.data import gaussian_ring
from pytorch_notes.gan import mode_coverage

ring, _ = gaussian_ring(4096, modes=8, radius=2.0, std=0.05, seed=0)
angles = 2 * math.pi * torch.arange(8) / 8
centres = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)  # the 8 mode centres


def distance_to_nearest_mode(points):
    return torch.cdist(points, centres).min(dim=1).values.mean().item()


assert distance_to_nearest_mode(ring) < 0.1  # real points sit on their modes
real_counts = mode_coverage(ring[:2000], centres, max_distance=0.5)
collapsed = centres[3] + 0.05 * torch.randn(2000, 2)  # every sample in one mode
assert (real_counts > 0).sum() == 8 and real_counts.sum() == 2000
assert (mode_coverage(collapsed, centres, max_distance=0.5) > 0).sum() == 1
print("real samples per mode:", real_counts.tolist())
# --8<-- [end:ring]

# %%
# --8<-- [start:train]
def mlp(inputs, outputs, activation):
    return nn.Sequential(nn.Linear(inputs, 64), activation, nn.Linear(64, 64), activation, nn.Linear(64, outputs))


torch.manual_seed(0)
latent = 8
generator = mlp(latent, 2, nn.ReLU())
critic_net = mlp(2, 1, nn.LeakyReLU(0.2))  # the discriminator: a logit per point
g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
d_optimizer = torch.optim.Adam(critic_net.parameters(), lr=2e-3, betas=(0.5, 0.999))
z_eval = torch.randn(2000, latent)  # fixed noise to measure progress
with torch.no_grad():
    distance_before = distance_to_nearest_mode(generator(z_eval))

for step in range(500):
    real = ring[torch.randint(0, len(ring), (256,))]
    fake = generator(torch.randn(256, latent))
    d_loss = discriminator_loss(critic_net(real), critic_net(fake.detach()))  # detach: D's step only
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()
    g_loss = generator_loss(critic_net(fake))  # non-saturating: -log D(G(z))
    g_optimizer.zero_grad()
    g_loss.backward()
    g_optimizer.step()

with torch.no_grad():
    generated = generator(z_eval)
distance_after = distance_to_nearest_mode(generated)
counts = mode_coverage(generated, centres, max_distance=0.5)
assert distance_after < 0.75 * distance_before  # samples moved toward the ring's modes
assert 1 <= (counts > 0).sum() <= 8
print(f"mean distance to the nearest mode: {distance_before:.3f} -> {distance_after:.3f}")
print(f"generated samples per mode: {counts.tolist()}, modes covered: {(counts > 0).sum()} of 8")
# --8<-- [end:train]

# %%
# --8<-- [start:collapse]
with torch.no_grad():
    scores = critic_net(ring[:2000]).squeeze(1)  # D's logits on real points
    favourite = ring[scores.argmax()]  # the single point D likes best
    loss_spread = generator_loss(critic_net(ring[:2000]))  # a perfect generator, all 8 modes
    loss_collapsed = generator_loss(critic_net(favourite.expand(2000, 2)))  # everything on one point
assert loss_collapsed < loss_spread  # against a fixed D, collapsing is the better move
print(f"generator loss: real data (8 modes) {loss_spread:.3f}, collapsed on D's favourite {loss_collapsed:.3f}")
# --8<-- [end:collapse]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(7, 3.5), sharex=True, sharey=True)
axes[0].scatter(*ring[:2000].numpy().T, s=2, color="0.4")
axes[0].set_title("real: 8 Gaussians on a ring")
axes[1].scatter(*generated.numpy().T, s=2, color="C0")
axes[1].set_title(f"generated after 500 steps ({(counts > 0).sum()} modes)")
for axis in axes:
    axis.scatter(*centres.numpy().T, marker="x", color="C3")
    axis.set_aspect("equal")
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:penalty]
from pytorch_notes.gan import gradient_penalty

torch.manual_seed(0)
critic = mlp(2, 1, nn.LeakyReLU(0.2))  # a WGAN critic: a score, no sigmoid
real, fake = ring[:64], generator(torch.randn(64, latent)).detach()
epsilon = torch.rand(64)

mixed = (epsilon[:, None] * real + (1 - epsilon[:, None]) * fake).requires_grad_()  # points between the two
(grad_x,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)  # keep the graph: D learns
by_hand = ((grad_x.norm(dim=1) - 1) ** 2).mean()

package = gradient_penalty(critic, real, fake, epsilon=epsilon)
assert torch.allclose(package, by_hand)
package.backward()  # the penalty reaches the critic's weights ...
assert critic[0].weight.grad.abs().sum() > 0 and critic[-1].weight.grad.abs().sum() > 0
assert critic[-1].bias.grad is None  # ... except the output bias, which does not change grad_x
critic_loss = critic(fake).mean() - critic(real).mean() + 10 * gradient_penalty(critic, real, fake)
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


one_lipschitz = linear_critic(torch.tensor([[0.6, 0.8]]))  # |w| = 1: gradient norm 1 everywhere
three_lipschitz = linear_critic(torch.tensor([[1.8, 2.4]]))  # |w| = 3
assert torch.allclose(gradient_penalty(one_lipschitz, real, fake), torch.tensor(0.0), atol=1e-7)
steep = gradient_penalty(three_lipschitz, real, fake)
assert torch.allclose(steep, torch.tensor(4.0))  # (3 - 1)^2
steep.backward()
assert (three_lipschitz.weight.grad * three_lipschitz.weight).sum() > 0  # descent shrinks |w|
with expect_error(ValueError, "same shape"):
    gradient_penalty(critic, real, fake[:10])
print(f"penalty, 1-Lipschitz critic: {gradient_penalty(one_lipschitz, real, fake):.1e}; 3-Lipschitz: {steep:.1f}")
# --8<-- [end:lipschitz]
