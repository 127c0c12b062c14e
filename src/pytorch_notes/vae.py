"""The building blocks of a variational autoencoder (VAE).

Introduced by the chapter "Variational autoencoders" (generative/vae).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes._checks import check_int, check_real, check_same_shape, check_tensor, check_type


def _check_mu_logvar(mu: object, logvar: object) -> None:
    check_tensor("mu", mu, (..., "latent_dim"))
    check_tensor("logvar", logvar)
    check_same_shape("mu", mu, "logvar", logvar)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) in closed form, summed over the last (latent) dimension.

    ``KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1)``, with ``σ² = exp(logvar)``.

    Args:
        mu: means, shape ``(..., latent_dim)``.
        logvar: log-variances ``log σ²``, the same shape as ``mu``.

    Returns:
        The KL divergence of each distribution, shape ``(...)`` (``mu.shape[:-1]``),
        in nats, always >= 0 and 0 only for μ = 0, σ = 1.

    Raises:
        TypeError: if mu or logvar is not a floating-point tensor.
        ValueError: if they are 0-d or their shapes differ.
    """
    _check_mu_logvar(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample z ~ N(μ, diag σ²) as ``z = μ + σ·ε`` with ``ε ~ N(0, I)``, differentiably.

    The randomness sits in ``ε``, which does not depend on the parameters, so
    gradients flow from ``z`` to ``mu`` and ``logvar`` (the reparameterization
    trick). With ``generator=None`` the global RNG draws ``ε``, exactly as
    ``torch.randn_like(mu)`` would.

    Args:
        mu: means, shape ``(..., latent_dim)``.
        logvar: log-variances ``log σ²``, the same shape as ``mu``.
        generator: optional ``torch.Generator`` for ``ε`` (on the device of ``mu``).

    Returns:
        A sample ``z`` of the same shape as ``mu``, attached to the graph of ``mu`` and ``logvar``.

    Raises:
        TypeError: if mu or logvar is not a floating-point tensor, or generator is not a Generator.
        ValueError: if they are 0-d or their shapes differ.
    """
    _check_mu_logvar(mu, logvar)
    check_type("generator", generator, (torch.Generator, type(None)), "a torch.Generator or None")
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + (0.5 * logvar).exp() * eps


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (β-weighted) negative ELBO of a VAE with a Bernoulli decoder, averaged over the batch.

    ``loss = reconstruction + β · KL`` where, per example, ``reconstruction =
    −log p(x | z) = Σ_pixels BCE(logits, x)`` and ``KL = KL(q(z|x) ‖ N(0, I))``.
    With ``beta=1`` the loss is −ELBO, an upper bound on −log p(x).

    Args:
        logits: decoder outputs (before the sigmoid), shape ``(N, D)``.
        x: targets in [0, 1], the same shape as ``logits`` (the range is not
            checked: reading x would wait for the GPU on every training step).
        mu: encoder means, shape ``(N, latent_dim)``.
        logvar: encoder log-variances, the same shape as ``mu``.
        beta: weight of the KL term, a number >= 0 (β-VAE when != 1).

    Returns:
        ``(loss, reconstruction, kl)``, three scalar tensors (batch means).

    Raises:
        TypeError: if a tensor argument is not a floating-point tensor, or beta is not a real number.
        ValueError: on mismatched shapes, or beta < 0.
    """
    check_tensor("logits", logits, ("N", "D"))
    check_tensor("x", x)
    check_same_shape("logits", logits, "x", x)
    check_tensor("mu", mu, (f"N={x.shape[0]}", "latent_dim"))
    _check_mu_logvar(mu, logvar)
    check_real("beta", beta, 0)
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1).mean()
    kl = gaussian_kl(mu, logvar).mean()
    return reconstruction + beta * kl, reconstruction, kl


class VAE(nn.Module):
    """A small MLP variational autoencoder for flattened inputs in [0, 1].

    Encoder: ``Linear(in_features, hidden) → ReLU → Linear(hidden, 2·latent_dim)``,
    whose output is split into ``mu`` and ``logvar``. Decoder:
    ``Linear(latent_dim, hidden) → ReLU → Linear(hidden, in_features)``, returning
    logits of a Bernoulli distribution per feature (apply ``sigmoid`` for pixel
    values).

    Args:
        in_features: size of a flattened input, e.g. 784 for 28×28 images.
        latent_dim: size of the latent code z.
        hidden: width of the hidden layer of encoder and decoder.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if an argument is smaller than 1.
    """

    def __init__(self, in_features: int, latent_dim: int, hidden: int = 128):
        super().__init__()
        for name, value in (("in_features", in_features), ("latent_dim", latent_dim), ("hidden", hidden)):
            check_int(name, value, 1)
        self.in_features = in_features
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, in_features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, in_features)`` → ``(mu, logvar)``, each ``(N, latent_dim)``.

        Raises:
            TypeError: if x is not a floating-point tensor.
            ValueError: if the last dimension of x is not in_features.
        """
        check_tensor("x", x, (..., f"in_features={self.in_features}"))
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` → logits ``(N, in_features)``.

        Raises:
            TypeError: if z is not a floating-point tensor.
            ValueError: if the last dimension of z is not latent_dim.
        """
        check_tensor("z", z, (..., f"latent_dim={self.latent_dim}"))
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample ``z`` by reparameterization, decode.

        Args:
            x: inputs, shape ``(N, in_features)``.
            generator: optional generator for the noise of the sample.

        Returns:
            ``(logits, mu, logvar)``.
        """
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar
