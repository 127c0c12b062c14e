"""Small synthetic datasets that chapters learn from."""

from __future__ import annotations

import torch

from pytorch_notes._checks import check_int, check_real


def line_data(n: int = 100, slope: float = 2.0, intercept: float = 1.0, noise: float = 0.1,
              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on the line ``y = slope * x + intercept`` plus Gaussian noise.

    ``x`` is spread evenly over [-1, 1]. The same arguments always give the same
    tensors (a private generator is seeded; the global RNG is left alone).

    Args:
        n: number of points, at least 2.
        slope: slope of the line to recover.
        intercept: intercept of the line to recover.
        noise: standard deviation of the noise added to ``y`` (0 for exact points).
        seed: seed of the noise.

    Returns:
        ``(x, y)``, two float32 tensors of shape ``(n, 1)``.

    Raises:
        TypeError: if ``n`` or ``seed`` is not an int, or ``noise`` not a real number.
        ValueError: if ``n < 2``, or ``noise`` is negative or not finite.
    """
    check_int("n", n, 2)
    check_int("seed", seed)
    check_real("noise", noise, 0)
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1.0, 1.0, n).unsqueeze(1)
    y = slope * x + intercept + noise * torch.randn(n, 1, generator=generator)
    return x, y


def gaussian_ring(n: int = 1000, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D points drawn from ``modes`` small Gaussians evenly spaced on a circle.

    The classic toy target of generative models: a model that covers every mode
    puts points near all ``modes`` centres; a collapsed one covers only a few.
    Mode ``m`` is centred at ``radius * (cos(2πm/modes), sin(2πm/modes))``, and
    every point picks its mode uniformly at random. The same arguments always
    give the same tensors (a private generator is seeded; the global RNG is left
    alone).

    Args:
        n: number of points, at least 1.
        modes: number of Gaussians on the circle, at least 1.
        radius: radius of the circle of centres, > 0.
        std: standard deviation of each Gaussian, >= 0.
        seed: seed of the draw.

    Returns:
        ``(points, mode)``: float32 ``(n, 2)`` points and int64 ``(n,)`` mode indices.

    Raises:
        TypeError: if ``n``, ``modes`` or ``seed`` is not an int, or ``radius``/``std`` not a real number.
        ValueError: if ``n`` or ``modes`` is smaller than 1, ``radius <= 0``, ``std < 0``, or one is not finite.
    """
    check_int("n", n, 1)
    check_int("modes", modes, 1)
    check_int("seed", seed)
    check_real("radius", radius, above=0)
    check_real("std", std, 0)
    generator = torch.Generator().manual_seed(seed)
    mode = torch.randint(modes, (n,), generator=generator)
    angle = 2 * torch.pi * mode / modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator), mode
