"""Unit tests of pytorch_notes.vae: the KL formula, the reparameterization trick, the loss, bad input."""

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from pytorch_notes.vae import VAE, gaussian_kl, reparameterize, vae_loss


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 2, 6, dtype=torch.float64), torch.randn(5, 2, 6, dtype=torch.float64)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), 1.0)).sum(-1)
    kl = gaussian_kl(mu, logvar)
    assert kl.shape == (5, 2) and kl.dtype == torch.float64
    assert torch.allclose(kl, expected)
    assert (kl > 0).all()


def test_gaussian_kl_is_zero_only_at_the_prior():
    assert torch.equal(gaussian_kl(torch.zeros(3), torch.zeros(3)), torch.tensor(0.0))
    assert gaussian_kl(torch.tensor([0.1, 0.0]), torch.zeros(2)) > 0
    assert gaussian_kl(torch.zeros(2), torch.tensor([0.0, -0.1])) > 0


def test_reparameterize_formula_generator_and_global_rng():
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 2.0]])
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    eps = torch.randn(1, 2, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(z, mu + torch.tensor([[1.0, torch.e]]) * eps)
    torch.manual_seed(5)
    a = reparameterize(mu, logvar)
    torch.manual_seed(5)
    assert torch.allclose(a, mu + (0.5 * logvar).exp() * torch.randn_like(mu))


def test_reparameterize_moments_and_gradients():
    mu = torch.tensor([0.3, -1.5], requires_grad=True)
    logvar = torch.tensor([-0.5, 0.5], requires_grad=True)
    z = reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mu.detach(), atol=0.02)
    assert torch.allclose(z.var(0), logvar.detach().exp(), rtol=0.03)
    (z**2).mean(0).sum().backward()
    assert torch.allclose(mu.grad, 2 * mu.detach(), atol=0.03)
    assert torch.allclose(logvar.grad, logvar.detach().exp(), atol=0.03)


def test_vae_shapes_and_loss():
    torch.manual_seed(0)
    model = VAE(20, latent_dim=3, hidden=16)
    x = torch.rand(7, 20)
    logits, mu, logvar = model(x)
    assert logits.shape == (7, 20) and mu.shape == logvar.shape == (7, 3)
    assert model.decode(torch.zeros(2, 3)).shape == (2, 20)
    loss, reconstruction, kl = vae_loss(logits, x, mu, logvar, beta=2.5)
    expected_reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 7
    assert torch.allclose(reconstruction, expected_reconstruction)
    assert torch.allclose(kl, gaussian_kl(mu, logvar).mean())
    assert torch.allclose(loss, reconstruction + 2.5 * kl)
    assert torch.allclose(vae_loss(logits, x, mu, logvar, beta=0)[0], reconstruction)


def test_vae_forward_is_reproducible_with_a_generator():
    model = VAE(10, 2, hidden=8)
    x = torch.rand(4, 10)
    first = model(x, torch.Generator().manual_seed(1))[0]
    assert torch.equal(first, model(x, torch.Generator().manual_seed(1))[0])


def test_vae_trains():
    torch.manual_seed(0)
    patterns = (torch.rand(4, 16) < 0.5).float()
    x = patterns[torch.randint(4, (256,))]  # four binary patterns: learnable structure
    model = VAE(16, 2, hidden=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        logits, mu, logvar = model(x)
        loss = vae_loss(logits, x, mu, logvar)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])


def test_bad_input_is_refused():
    mu = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        gaussian_kl([0.0, 0.0], mu)
    with pytest.raises(TypeError, match="floating-point"):
        gaussian_kl(mu, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(mu, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"mu must have shape \(\.\.\., latent_dim\)"):
        gaussian_kl(torch.tensor(0.0), torch.tensor(0.0))
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(mu, torch.zeros(3))
    with pytest.raises(TypeError, match="Generator"):
        reparameterize(mu, mu, generator=0)
    logits, x = torch.zeros(2, 5), torch.rand(2, 5)
    with pytest.raises(ValueError, match="same shape"):
        vae_loss(logits, torch.rand(2, 4), mu, mu)
    with pytest.raises(ValueError, match="beta"):
        vae_loss(logits, x, mu, mu, beta=-1.0)
    with pytest.raises(TypeError, match="beta"):
        vae_loss(logits, x, mu, mu, beta="1")
    with pytest.raises(ValueError, match=r"mu must have shape \(N=2, latent_dim\), got \(3, 3\)"):
        vae_loss(logits, x, torch.zeros(3, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, D\)"):
        vae_loss(logits[0], x[0], mu, mu)


@pytest.mark.parametrize("kwargs, error", [(dict(in_features=0, latent_dim=2), ValueError),
                                           (dict(in_features=4, latent_dim=2.0), TypeError),
                                           (dict(in_features=4, latent_dim=2, hidden=True), TypeError)])
def test_vae_rejects_bad_sizes(kwargs, error):
    with pytest.raises(error):
        VAE(**kwargs)


def test_vae_rejects_wrong_input_width():
    model = VAE(6, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., in_features=6\), got \(3, 5\)"):
        model(torch.rand(3, 5))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., latent_dim=2\)"):
        model.decode(torch.rand(3, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        model([[0.0] * 6])
