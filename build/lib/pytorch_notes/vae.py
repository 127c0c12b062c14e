"""The building blocks of a variational autoencoder (VAE).

Introduced by the chapter "Variational autoencoders" (generative/vae).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _check_float_tensor(name: str, value) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if value.dim() < 1:
        raise ValueError(f"{name} must have at least 1 dimension (the latent one), got a 0-d tensor")


def _check_mu_logvar(mu, logvar) -> None:
    _check_float_tensor("mu", mu)
    _check_float_tensor("logvar", logvar)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")


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
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
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
        x: targets in [0, 1], the same shape as ``logits``.
        mu: encoder means, shape ``(N, latent_dim)``.
        logvar: encoder log-variances, the same shape as ``mu``.
        beta: weight of the KL term, a number >= 0 (β-VAE when != 1).

    Returns:
        ``(loss, reconstruction, kl)``, three scalar tensors (batch means).

    Raises:
        TypeError: if a tensor argument is not a floating-point tensor, or beta is not a number.
        ValueError: on mismatched shapes, x outside [0, 1], or beta < 0.
    """
    _check_float_tensor("logits", logits)
    _check_float_tensor("x", x)
    _check_mu_logvar(mu, logvar)
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape, got {tuple(logits.shape)} and {tuple(x.shape)}")
    if logits.dim() != 2 or mu.dim() != 2 or mu.shape[0] != x.shape[0]:
        raise ValueError(f"expected logits/x of shape (N, D) and mu/logvar of shape (N, latent_dim), "
                         f"got {tuple(x.shape)} and {tuple(mu.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"x must lie in [0, 1] (a Bernoulli decoder), got [{x.min():.3g}, {x.max():.3g}]")
    if not isinstance(beta, (int, float)) or isinstance(beta, bool):
        raise TypeError(f"beta must be a number, got {type(beta).__name__}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
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
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.in_features = in_features
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, in_features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, in_features)`` → ``(mu, logvar)``, each ``(N, latent_dim)``.

        Raises:
            ValueError: if the last dimension of x is not in_features.
        """
        if not isinstance(x, torch.Tensor) or x.shape[-1:] != (self.in_features,):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (N, {self.in_features}), got {shape}")
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` → logits ``(N, in_features)``.

        Raises:
            ValueError: if the last dimension of z is not latent_dim.
        """
        if not isinstance(z, torch.Tensor) or z.shape[-1:] != (self.latent_dim,):
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor of shape (N, {self.latent_dim}), got {shape}")
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
