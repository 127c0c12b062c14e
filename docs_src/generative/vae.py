# %% [markdown]
# # Variational autoencoders
# Book page: generative/vae

# %%
# --8<-- [start:elbo]
import math

import torch
from torch.distributions import Normal, kl_divergence

# A model small enough to solve exactly: z ~ N(0, 1), x | z ~ N(w z, s^2).
w, s, x_obs = 2.0, 0.5, torch.tensor(1.3)
# the evidence: x ~ N(0, w^2 + s^2)
log_px = Normal(0.0, math.sqrt(w**2 + s**2)).log_prob(x_obs)
# the true posterior p(z | x) is N(post_mean, post_var)
post_var = s**2 / (w**2 + s**2)
post_mean = w * x_obs / (w**2 + s**2)
posterior = Normal(post_mean, math.sqrt(post_var))


def elbo(q):
    # E_q[log p(x|z)] in closed form: E_q[(x - w z)^2] = (x - w m)^2 + w^2 v for
    # q = N(m, v)
    m, v = q.mean, q.variance
    expected_log_lik = Normal(w * m, s).log_prob(x_obs) - w**2 * v / (2 * s**2)
    # minus KL(q || prior)
    return expected_log_lik - kl_divergence(q, Normal(0.0, 1.0))


torch.manual_seed(0)
q = Normal(0.0, 1.0)
z = q.sample((1_000_000,))  # check the closed form once, by Monte Carlo
monte_carlo = Normal(w * z, s).log_prob(x_obs).mean() - kl_divergence(
    q, Normal(0.0, 1.0)
)
assert abs(monte_carlo - elbo(q)) < 0.05

print(f"log p(x) = {log_px:.4f}")
for name, q in [
    ("true posterior", posterior),
    ("prior N(0, 1)", Normal(0.0, 1.0)),
    ("mean off by 0.5", Normal(post_mean + 0.5, math.sqrt(post_var))),
    ("variance x 4", Normal(post_mean, 2 * math.sqrt(post_var))),
]:
    bound, gap = elbo(q), kl_divergence(q, posterior)
    assert bound <= log_px + 1e-6  # a lower bound ...
    # ... whose gap is exactly KL(q || p(z|x))
    assert abs((log_px - bound) - gap) < 1e-5
    print(
        f"{name:16s}: ELBO = {bound:8.4f}, KL(q || posterior) = {gap:.4f}, "
        f"sum = {bound + gap:.4f}"
    )
# tight when q is the true posterior
assert abs(elbo(posterior) - log_px) < 1e-5
# --8<-- [end:elbo]

# %%
# --8<-- [start:kl]
torch.manual_seed(0)
# 4 distributions q = N(mu, diag sigma^2) in a 3-D latent space
mu = torch.randn(4, 3)
# the encoder outputs log sigma^2: any real number is valid
logvar = 0.5 * torch.randn(4, 3)
kl_formula = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=-1)

q = Normal(mu, (0.5 * logvar).exp())  # scale = sigma = exp(logvar / 2)
prior = Normal(torch.zeros(3), torch.ones(3))
# per-dimension KLs add up: the dimensions are independent
kl_torch = kl_divergence(q, prior).sum(dim=-1)
assert torch.allclose(kl_formula, kl_torch, atol=1e-6)

z = q.sample((200_000,))  # (200000, 4, 3)
# E_q[log q(z) - log p(z)]
kl_monte_carlo = (q.log_prob(z) - prior.log_prob(z)).sum(dim=-1).mean(dim=0)
assert torch.allclose(kl_formula, kl_monte_carlo, atol=0.03)
assert (kl_formula > 0).all()
# q = prior: KL = 0, the only way to get 0
assert kl_divergence(prior, prior).sum() == 0
print("closed form:", kl_formula.numpy().round(4))
print("torch      :", kl_torch.numpy().round(4))
print("Monte Carlo:", kl_monte_carlo.numpy().round(4))
# --8<-- [end:kl]

# %%
# --8<-- [start:reparam]
from pytorch_notes import expect_error

mu = torch.tensor([0.5, -1.0], requires_grad=True)
logvar = torch.tensor([0.0, 0.8], requires_grad=True)
torch.manual_seed(0)
eps = torch.randn(200_000, 2)  # the noise does not depend on mu or logvar ...
# ... so z is a differentiable function of them
z = mu + (0.5 * logvar).exp() * eps
# Monte Carlo estimate of E[z^2] = mu^2 + sigma^2
(z**2).mean(dim=0).sum().backward()

# gradients do flow
assert mu.grad.abs().min() > 0 and logvar.grad.abs().min() > 0
# d/dmu (mu^2 + sigma^2) = 2 mu
assert torch.allclose(mu.grad, 2 * mu.detach(), atol=0.03)
# d/dlogvar exp(logvar) = sigma^2
assert torch.allclose(logvar.grad, logvar.detach().exp(), atol=0.03)
print(
    "grad mu    :",
    mu.grad.numpy().round(3),
    " exact:",
    (2 * mu.detach()).numpy(),
)
print(
    "grad logvar:",
    logvar.grad.numpy().round(3),
    " exact:",
    logvar.detach().exp().numpy().round(3),
)

# torch.distributions: rsample() is this same trick, sample() cuts the graph.
std = (0.5 * logvar).exp()
torch.manual_seed(1)
by_rsample = Normal(mu, std).rsample((5,))
torch.manual_seed(1)
assert torch.allclose(by_rsample, mu + std * torch.randn(5, 2))
assert by_rsample.requires_grad
by_sample = Normal(mu, std).sample((5,))
assert not by_sample.requires_grad and by_sample.grad_fn is None
with expect_error(RuntimeError, "does not require grad"):
    (by_sample**2).sum().backward()
# --8<-- [end:reparam]

# %%
# --8<-- [start:package]
from pytorch_notes.vae import VAE, gaussian_kl, reparameterize, vae_loss

torch.manual_seed(0)
mu, logvar = torch.randn(4, 3), 0.5 * torch.randn(4, 3)
assert torch.allclose(
    gaussian_kl(mu, logvar),
    0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=-1),
)
assert torch.allclose(
    gaussian_kl(mu, logvar),
    kl_divergence(Normal(mu, (0.5 * logvar).exp()), prior).sum(-1),
)
assert torch.equal(
    gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2)
)

generator = torch.Generator().manual_seed(7)
z = reparameterize(mu, logvar, generator)
eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(7))
assert torch.allclose(z, mu + (0.5 * logvar).exp() * eps)

with expect_error(ValueError, "same shape"):
    gaussian_kl(mu, logvar[:, :2])
with expect_error(TypeError, "floating-point"):
    reparameterize(mu, torch.zeros(4, 3, dtype=torch.long))
# --8<-- [end:package]

# %%
# --8<-- [start:data]
import numpy as np

from pytorch_notes.datasets import mnist

# The 10,000 official test digits: PIL images, 28x28 grayscale
digits = mnist(train=False)
# (1000, 28, 28) uint8
pixels = np.stack([np.asarray(digits[i][0]) for i in range(1000)])
# what ToTensor gives, flattened
x_all = torch.from_numpy(pixels).float().div(255).view(1000, 784)
assert x_all.shape == (1000, 784)
# pixel intensities: valid Bernoulli means
assert x_all.min() >= 0 and x_all.max() <= 1
print(f"{len(x_all)} images, mean intensity {x_all.mean():.3f}")
# --8<-- [end:data]

# %%
# --8<-- [start:model]
import torch.nn.functional as F

torch.manual_seed(0)
vae = VAE(in_features=784, latent_dim=4, hidden=128)
batch = x_all[:64]

torch.manual_seed(1)
# one network outputs both halves
mu, logvar = vae.encoder(batch).chunk(2, dim=-1)
z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
logits = vae.decoder(z)  # Bernoulli logits: sigmoid(logits) are the pixel means
# -log p(x|z)
reconstruction = F.binary_cross_entropy_with_logits(
    logits, batch, reduction="none"
).sum(dim=1)
kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=1)
negative_elbo = (reconstruction + kl).mean()

torch.manual_seed(1)
package_logits, package_mu, package_logvar = vae(batch)
loss, package_reconstruction, package_kl = vae_loss(
    package_logits, batch, package_mu, package_logvar
)
assert torch.allclose(package_logits, logits)
assert torch.allclose(loss, negative_elbo) and torch.allclose(
    loss, package_reconstruction + package_kl
)
assert mu.shape == logvar.shape == z.shape == (64, 4) and logits.shape == (
    64,
    784,
)
# logits near 0: log 2 per pixel
assert abs(package_reconstruction / (784 * math.log(2)) - 1) < 0.05
print(vae)
print(
    f"untrained: reconstruction {package_reconstruction:.1f} "
    f"+ KL {package_kl:.2f} = -ELBO {loss:.1f} nats"
)
# --8<-- [end:model]


# %%
# --8<-- [start:train]
def train_vae(beta, steps=250, batch_size=64):
    torch.manual_seed(0)
    model = VAE(784, latent_dim=4, hidden=128)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = []
    for _ in range(steps):
        batch = x_all[torch.randint(len(x_all), (batch_size,))]
        logits, mu, logvar = model(batch)
        loss, reconstruction, kl = vae_loss(
            logits, batch, mu, logvar, beta=beta
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return model, history


vae, history = train_vae(beta=1.0)
first, last = sum(history[:20]) / 20, sum(history[-50:]) / 50
assert last < 0.5 * first  # the loss more than halves
print(
    f"-ELBO per image: {first:.1f} nats (first 20 steps) -> "
    f"{last:.1f} nats (last 50 steps)"
)
# --8<-- [end:train]


# %%
# --8<-- [start:beta]
@torch.no_grad()
def evaluate(model):
    mu, logvar = model.encode(x_all)
    # reconstruct from the mean code: no sampling noise
    logits = model.decode(mu)
    reconstruction = (
        F.binary_cross_entropy_with_logits(logits, x_all, reduction="none")
        .sum(dim=1)
        .mean()
    )
    return reconstruction.item(), gaussian_kl(mu, logvar).mean().item()


vae_beta4, _ = train_vae(beta=4.0)
results = {}
for beta, model in [(1.0, vae), (4.0, vae_beta4)]:
    results[beta] = evaluate(model)
    print(
        f"beta = {beta}: reconstruction {results[beta][0]:.1f} nats, "
        f"KL {results[beta][1]:.2f} nats"
    )
# larger beta: the code carries less information ...
assert results[4.0][1] < results[1.0][1]
# ... and the reconstructions get worse
assert results[4.0][0] > results[1.0][0]
# --8<-- [end:beta]

# %%
# --8<-- [start:plot]
from pytorch_notes.plots import show_images

with torch.no_grad():
    originals = x_all[:8]
    rows = [originals]
    for model in (vae, vae_beta4):
        rows.append(torch.sigmoid(model.decode(model.encode(originals)[0])))
    torch.manual_seed(0)
    # new images: z from the prior N(0, I)
    rows.append(torch.sigmoid(vae.decode(torch.randn(8, 4))))
grid = torch.cat(rows).view(-1, 1, 28, 28)
titles = [
    label if i == 0 else ""
    for label in ("input", "beta = 1", "beta = 4", "prior sample")
    for i in range(8)
]
figure = show_images(grid, titles=titles, ncols=8)
# --8<-- [end:plot]
