"""GAN losses from logits, the WGAN-GP gradient penalty, and a mode-coverage count.

Introduced by the chapter "GAN: minimax, non-saturating loss, mode collapse,
WGAN-GP" (generative/gan). The discriminator's raw score is a logit ``l``, and
``D = sigmoid(l)``; every loss is written with ``softplus`` so that it stays
finite when ``D`` is 0 or 1:

- ``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pytorch_notes._checks import check_real, check_tensor, check_type


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss ``-E[log D(x)] - E[log(1 - D(G(z)))]``, from logits.

    Minimising it maximises the GAN value function over D; it equals binary
    cross-entropy with label 1 for real samples and 0 for generated ones.

    Args:
        real_logits: discriminator logits of real samples, any shape.
        fake_logits: discriminator logits of generated samples, any shape.

    Returns:
        A scalar tensor: the mean over the real logits plus the mean over the fake ones.

    Raises:
        TypeError: if either argument is not a floating-point tensor.
        ValueError: if either is empty.
    """
    for name, value in (("real_logits", real_logits), ("fake_logits", fake_logits)):
        check_tensor(name, value)
        if value.numel() == 0:
            raise ValueError(f"{name} must not be empty")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """The generator's loss from the discriminator's logits of generated samples.

    - ``saturating=False`` (the default, the one to train with): the
      non-saturating loss ``-E[log D(G(z))]``; its gradient stays large while
      D rejects the samples.
    - ``saturating=True``: the minimax loss ``E[log(1 - D(G(z)))]`` of the
      original game; its gradient vanishes as ``D(G(z)) -> 0``.

    Args:
        fake_logits: discriminator logits of generated samples, any shape.
        saturating: which of the two losses to return.

    Returns:
        A scalar tensor, the mean over the logits.

    Raises:
        TypeError: if fake_logits is not a floating-point tensor or saturating is not a bool.
        ValueError: if fake_logits is empty.
    """
    check_tensor("fake_logits", fake_logits)
    if fake_logits.numel() == 0:
        raise ValueError("fake_logits must not be empty")
    check_type("saturating", saturating, bool, "a bool")
    if saturating:
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)
    return F.softplus(-fake_logits).mean()  # -log sigmoid(l) = softplus(-l)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     epsilon: torch.Tensor | None = None) -> torch.Tensor:
    """The WGAN-GP penalty ``E[(||grad_x critic(x_hat)||_2 - 1)^2]`` (Gulrajani et al., 2017).

    ``x_hat = epsilon * real + (1 - epsilon) * fake`` with one ``epsilon`` per
    sample, uniform in [0, 1] unless given. ``real[i]`` is paired with
    ``fake[i]``: an optimal critic has gradient norm 1 on the lines between
    the pairs of an optimal transport coupling, which the penalty cannot
    know, so pairing samples as they come is the paper's heuristic. The
    gradient is taken with ``create_graph=True``, so the penalty can be
    back-propagated into the critic's parameters. Multiply it by the weight
    (``lambda = 10`` in the paper) yourself.

    Args:
        critic: maps a batch ``(N, ...)`` to scores with ``N`` elements (``(N,)`` or ``(N, 1)``).
        real: real samples, floating point, shape ``(N, ...)``.
        fake: generated samples, same shape as ``real`` (detach them from the generator).
        epsilon: optional mixing weights, ``N`` values in [0, 1] (shape ``(N,)``);
            drawn with ``torch.rand`` when omitted.

    Returns:
        A scalar tensor, the penalty averaged over the ``N`` interpolates.

    Raises:
        TypeError: if critic is not callable, or real, fake or epsilon is not a floating-point tensor.
        ValueError: if real and fake differ in shape, are empty or 0-dimensional, epsilon
            does not hold N values in [0, 1], or the critic does not return N scores.
    """
    if not callable(critic):
        raise TypeError(f"critic must be callable, got {type(critic).__name__}")
    check_tensor("real", real)
    check_tensor("fake", fake)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if real.dim() < 1 or real.shape[0] == 0:
        raise ValueError(f"real and fake must be a non-empty batch (N, ...), got shape {tuple(real.shape)}")
    n = real.shape[0]
    if epsilon is None:
        epsilon = torch.rand(n, dtype=real.dtype, device=real.device)
    else:
        check_tensor("epsilon", epsilon)
        if epsilon.shape != (n,):
            raise ValueError(f"epsilon must have shape ({n},), got {tuple(epsilon.shape)}")
        if (epsilon < 0).any() or (epsilon > 1).any():
            raise ValueError("epsilon must lie in [0, 1]")
    epsilon = epsilon.view(n, *([1] * (real.dim() - 1)))  # broadcast over the sample's dimensions
    interpolates = (epsilon * real.detach() + (1 - epsilon) * fake.detach()).requires_grad_(True)
    scores = critic(interpolates)
    if not isinstance(scores, torch.Tensor) or scores.numel() != n:
        raise ValueError(f"critic must return {n} scores, one per sample, got "
                         f"{tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__}")
    (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    norms = gradients.reshape(n, -1).norm(dim=1)
    return ((norms - 1) ** 2).mean()


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, max_distance: float) -> torch.Tensor:
    """How many samples land near each mode: counts per centre, within ``max_distance``.

    Each sample is assigned to its nearest centre and counted only if it lies
    within ``max_distance`` of it; samples far from every centre count nowhere.
    ``(counts > 0).sum()`` is the number of modes covered.

    Args:
        samples: points, floating point, shape ``(N, D)``.
        centres: mode centres, floating point, shape ``(M, D)``.
        max_distance: how close a sample must be to its nearest centre, > 0.

    Returns:
        An int64 tensor of shape ``(M,)``: the number of samples counted at each centre.

    Raises:
        TypeError: if samples or centres is not a floating-point tensor, or
            max_distance is not a real number.
        ValueError: if the shapes are not ``(N, D)`` and ``(M, D)`` with the same
            ``D`` and ``M >= 1``, or max_distance is not positive.
    """
    check_tensor("samples", samples)
    check_tensor("centres", centres)
    if samples.dim() != 2 or centres.dim() != 2 or samples.shape[1] != centres.shape[1] or centres.shape[0] < 1:
        raise ValueError(f"samples and centres must have shapes (N, D) and (M, D) with M >= 1, got "
                         f"{tuple(samples.shape)} and {tuple(centres.shape)}")
    check_real("max_distance", max_distance, above=0)
    distance, nearest = torch.cdist(samples, centres.to(samples.dtype)).min(dim=1)
    return torch.bincount(nearest[distance <= max_distance], minlength=centres.shape[0])
