"""Scaled dot-product attention, the causal mask and multi-head attention, from scratch.

Introduced by the chapter "Attention from scratch" (architecture/attention).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def _check_tensor(name: str, value, min_dim: int) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimensions, got shape {tuple(value.shape)}")


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, returning the output and the weights.

    Args:
        q: queries, shape ``(..., L, d_k)``.
        k: keys, shape ``(..., S, d_k)``.
        v: values, shape ``(..., S, d_v)``.
        mask: optional bool tensor broadcastable to ``(..., L, S)``; ``True`` means
            "this query may look at this key" (the convention of
            ``torch.nn.functional.scaled_dot_product_attention``; the opposite of
            ``nn.MultiheadAttention``'s ``attn_mask``). Every query must keep at
            least one key.

    Returns:
        ``(output, weights)``: output of shape ``(..., L, d_v)`` and weights of shape
        ``(..., L, S)`` whose rows sum to 1 (masked entries are exactly 0).

    Raises:
        TypeError: if q, k or v is not a floating-point tensor, or mask is not a bool tensor.
        ValueError: if the shapes do not fit together, or a query has every key masked.
    """
    _check_tensor("q", q, 2)
    _check_tensor("k", k, 2)
    _check_tensor("v", v, 2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of keys, got {k.shape[-2]} and {v.shape[-2]}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask must be a bool tensor (True = keep)")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"scores' shape {tuple(scores.shape)}") from None
        if not mask.any(dim=-1).all():
            raise ValueError("mask leaves a query with no key to attend to (a row of all False)")
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Bool ``(length, length)`` mask, ``True`` on and below the diagonal: position i sees 0..i.

    Raises:
        TypeError: if length is not an int.
        ValueError: if length is smaller than 1.
    """
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError(f"length must be an int, got {type(length).__name__}")
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate q/k/v/out projections (batch first).

    Computes ``num_heads`` scaled dot-product attentions of size
    ``d_model // num_heads`` in parallel and mixes their concatenation with
    ``out_proj``. Same maths and parameter count (4·d² + 4·d) as
    ``nn.MultiheadAttention(d_model, num_heads, batch_first=True)``.

    Args:
        d_model: embedding size of the inputs and the output.
        num_heads: number of heads; must divide ``d_model``.

    Raises:
        TypeError: if d_model or num_heads is not an int.
        ValueError: if they are not positive, or num_heads does not divide d_model.
    """

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        for name, value in (("d_model", d_model), ("num_heads", num_heads)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if d_model % num_heads != 0:
            raise ValueError(f"num_heads ({num_heads}) must divide d_model ({d_model})")
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, d_model) -> (N, num_heads, L, head_dim)."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` (N, L, d_model) to ``key``/``value`` (N, S, d_model).

        Args:
            mask: optional bool mask, ``(L, S)`` or ``(N, L, S)``, ``True`` = keep.

        Returns:
            ``(output, weights)``: ``(N, L, d_model)`` and the weights averaged over
            the heads, ``(N, L, S)``.

        Raises:
            TypeError: if an input is not a floating-point tensor.
            ValueError: if an input is not 3-D with last dimension d_model, the batch
                sizes differ, key and value lengths differ, or the mask has the wrong shape.
        """
        for name, x in (("query", query), ("key", key), ("value", value)):
            _check_tensor(name, x, 1)
            if x.dim() != 3 or x.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have shape (N, length, {self.d_model}), got {tuple(x.shape)}")
        if not query.shape[0] == key.shape[0] == value.shape[0]:
            raise ValueError("query, key and value must have the same batch size")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"key and value must have the same length, got {key.shape[1]} and {value.shape[1]}")
        if mask is not None and isinstance(mask, torch.Tensor):
            if mask.dim() == 3:
                mask = mask[:, None]  # (N, L, S) -> (N, 1, L, S): the same mask for every head
            elif mask.dim() != 2:
                raise ValueError(f"mask must have shape (L, S) or (N, L, S), got {tuple(mask.shape)}")
        q = self.split_heads(self.q_proj(query))
        k = self.split_heads(self.k_proj(key))
        v = self.split_heads(self.v_proj(value))
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (N, H, L, head_dim), (N, H, L, S)
        batch, _, length, _ = heads.shape
        merged = heads.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(merged), weights.mean(dim=1)
