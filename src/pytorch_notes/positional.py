"""Positional encodings: how a Transformer (or a diffusion model) is told "where" or "when".

Introduced by the chapter "Positional encoding" (architecture/positional).
"""

from __future__ import annotations

import math

import torch

from pytorch_notes._checks import check_int, check_real, check_tensor


def _frequencies(dim: int, base: float, dtype: torch.dtype, device) -> torch.Tensor:
    """ω_i = base^(-2i/dim) for i = 0 .. dim/2 - 1, shared by both encodings."""
    index = torch.arange(dim // 2, dtype=dtype, device=device)
    return torch.exp(-math.log(base) * 2 * index / dim)


def sinusoidal_encoding(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The sinusoidal encoding of "Attention Is All You Need", for any real positions.

    For a position ``p`` and ``i = 0 .. dim/2 - 1``, with ``ω_i = base ** (-2i / dim)``::

        encoding[p, 2i]     = sin(p · ω_i)
        encoding[p, 2i + 1] = cos(p · ω_i)

    Positions may be fractional or large, which is why diffusion models reuse it
    to embed their timestep ``t``.

    Args:
        positions: a 1-D tensor of positions (integers or floats), shape ``(L,)``.
        dim: size of each encoding, a positive even int.
        base: the longest wavelength is ``2π · base``; a number > 1.

    Returns:
        A float32 tensor of shape ``(L, dim)`` (float64 if ``positions`` is float64),
        with every entry in ``[-1, 1]``.

    Raises:
        TypeError: if ``positions`` is not a tensor, ``dim`` is not an int or ``base`` not a real number.
        ValueError: if ``positions`` is not 1-D, ``dim`` is not positive and even, or ``base <= 1``.
    """
    check_tensor("positions", positions, ("L",), dtype=None)
    if check_int("dim", dim) < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even int, got {dim}")
    check_real("base", base, above=1)
    dtype = torch.float64 if positions.dtype == torch.float64 else torch.float32
    angles = positions.to(dtype)[:, None] * _frequencies(dim, base, dtype, positions.device)[None, :]  # (L, dim/2)
    encoding = torch.empty(positions.shape[0], dim, dtype=dtype, device=positions.device)
    encoding[:, 0::2] = angles.sin()
    encoding[:, 1::2] = angles.cos()
    return encoding


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoPE): rotate each pair of features by an angle ``p · ω_i``.

    Pairs are **interleaved**, as in the RoFormer paper and in
    :func:`sinusoidal_encoding`: features ``(2i, 2i + 1)`` form pair ``i`` and are
    rotated by ``p · ω_i`` with ``ω_i = base ** (-2i / dim)``::

        out[..., 2i]     = x[..., 2i] · cos(p ω_i) - x[..., 2i + 1] · sin(p ω_i)
        out[..., 2i + 1] = x[..., 2i] · sin(p ω_i) + x[..., 2i + 1] · cos(p ω_i)

    (GPT-NeoX and Llama's Hugging Face code pair feature ``i`` with ``i + dim/2``
    instead, the "half-split" convention: the same rotations on permuted features.)
    Applied to queries and keys, it makes ``rope(q, m) · rope(k, n)`` depend on the
    positions only through ``m - n``; it leaves every vector's norm unchanged.

    Args:
        x: floating-point tensor of shape ``(..., L, dim)`` with an even ``dim``
            (for attention: ``(N, heads, L, head_dim)``).
        positions: 1-D tensor of ``L`` positions (integers or floats), one per row of
            the second-to-last axis of ``x``.
        base: frequency base, a number > 1 (10000 in the paper).

    Returns:
        A tensor of the same shape and dtype as ``x``.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor, ``positions`` is not a
            tensor or ``base`` not a real number.
        ValueError: if ``x`` has fewer than 2 dimensions or an odd last dimension,
            ``positions`` is not 1-D of length ``L``, or ``base <= 1``.
    """
    check_tensor("x", x)
    if x.dim() < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., L, dim) with an even dim, got {tuple(x.shape)}")
    check_tensor("positions", positions, dtype=None)
    if positions.shape != (x.shape[-2],):
        raise ValueError(f"positions must be 1-D with one entry per row of x (L = {x.shape[-2]}), "
                         f"got shape {tuple(positions.shape)}")
    check_real("base", base, above=1)
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    angles = positions.to(dtype)[:, None] * _frequencies(x.shape[-1], base, dtype, x.device)[None, :]  # (L, dim/2)
    cos, sin = angles.cos(), angles.sin()
    even, odd = x[..., 0::2].to(dtype), x[..., 1::2].to(dtype)  # the two coordinates of each pair
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)  # (..., L, dim/2, 2)
    return rotated.flatten(-2).to(x.dtype)  # interleave back: (..., L, dim)
