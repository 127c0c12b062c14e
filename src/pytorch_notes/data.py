"""Small synthetic datasets that chapters learn from."""

from __future__ import annotations

import torch


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
        TypeError: if ``n`` or ``seed`` is not an int.
        ValueError: if ``n < 2`` or ``noise < 0``.
    """
    for name, value in (("n", n), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1.0, 1.0, n).unsqueeze(1)
    y = slope * x + intercept + noise * torch.randn(n, 1, generator=generator)
    return x, y
