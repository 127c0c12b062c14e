"""Scaled dot-product attention, the causal mask and multi-head attention, from scratch.

Introduced by the chapter "Attention from scratch" (architecture/attention).
The inference pieces, :class:`KVCache` and :class:`CausalSelfAttention` (with
grouped-query heads), are introduced by the chapter "Attention at inference"
(architecture/attention-inference). The cross-attention blocks of multimodal models, :class:`GatedCrossAttention`
(Flamingo) and :class:`QFormerBlock` (BLIP-2), are introduced by the chapter
"Cross-attention" (multimodal/cross-attention).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes._checks import check_int, check_same_shape, check_tensor, check_type


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
            least one key: a row of all ``False`` is softmax of all ``-inf``, and
            its output is NaN. That is not checked, because checking would read
            the mask's values (a GPU sync on every call).

    Returns:
        ``(output, weights)``: output of shape ``(..., L, d_v)`` and weights of shape
        ``(..., L, S)`` whose rows sum to 1 (masked entries are exactly 0).

    Raises:
        TypeError: if q, k or v is not a floating-point tensor, or mask is not a bool tensor.
        ValueError: if the shapes do not fit together.
    """
    check_tensor("q", q, (..., "L", "d_k"))
    check_tensor("k", k, (..., "S", "d_k"))
    check_tensor("v", v, (..., "S", "d_v"))
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q and k must share the last dimension d_k, and k and v the number of keys S; "
                         f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        check_tensor("mask", mask, dtype=torch.bool)
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"scores' shape {tuple(scores.shape)}") from None
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Bool ``(length, length)`` mask, ``True`` on and below the diagonal: position i sees 0..i.

    Raises:
        TypeError: if length is not an int.
        ValueError: if length is smaller than 1.
    """
    check_int("length", length, 1)
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
        check_int("d_model", d_model, 1)
        check_int("num_heads", num_heads, 1)
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
                mask: torch.Tensor | None = None,
                need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` (N, L, d_model) to ``key``/``value`` (N, S, d_model).

        Args:
            mask: optional bool mask, ``(L, S)`` or ``(N, L, S)``, ``True`` = keep.
            need_weights: ``True`` (the default) computes the heads with the
                book's :func:`scaled_dot_product_attention` and returns the
                weights; ``False`` calls ``torch.nn.functional.scaled_dot_product_attention``,
                which may pick a fused kernel that never stores the weights, and
                returns ``None`` for them (chapter architecture/attention-inference).

        Returns:
            ``(output, weights)``: ``(N, L, d_model)`` and the weights averaged over
            the heads, ``(N, L, S)`` (``None`` when ``need_weights`` is ``False``).

        Raises:
            TypeError: if an input is not a floating-point tensor, the mask not a bool
                tensor, or need_weights not a bool.
            ValueError: if an input is not 3-D with last dimension d_model, the batch
                sizes differ, key and value lengths differ, or the mask has the wrong shape.
        """
        for name, x in (("query", query), ("key", key), ("value", value)):
            check_tensor(name, x, ("N", "length", self.d_model))
        if not (query.shape[0] == key.shape[0] == value.shape[0] and key.shape[1] == value.shape[1]):
            raise ValueError(f"query, key and value must have the same batch size, and key and value the same "
                             f"length; got {tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}")
        if mask is not None:
            check_tensor("mask", mask, dtype=torch.bool)
            if mask.dim() not in (2, 3):
                raise ValueError(f"mask must have shape (L, S) or (N, L, S), got {tuple(mask.shape)}")
            mask = mask[:, None] if mask.dim() == 3 else mask  # (N, L, S) -> (N, 1, L, S): one mask for all heads
        check_type("need_weights", need_weights, bool, "a bool")
        q = self.split_heads(self.q_proj(query))
        k = self.split_heads(self.k_proj(key))
        v = self.split_heads(self.v_proj(value))
        if need_weights:
            heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (N, H, L, head_dim), (N, H, L, S)
        else:
            heads, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
        batch, _, length, _ = heads.shape
        merged = heads.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(merged), None if weights is None else weights.mean(dim=1)


# --- Cross-attention between modalities (chapter multimodal/cross-attention) ---


def _feed_forward(d_model: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))


class GatedCrossAttention(nn.Module):
    """Flamingo-style gated cross-attention: text tokens read media tokens through a tanh gate.

    ``y = x + tanh(attn_gate) * CrossAttn(LayerNorm(x), media_proj(media))``, then, if
    ``ffn_hidden`` is given, ``y = y + tanh(ffn_gate) * FFN(y)`` (the FFN starts with
    its own LayerNorm). Queries come from ``x``; keys and values from the media
    features, first projected from ``media_dim`` to ``d_model`` by ``media_proj``
    (so that ``MultiHeadAttention`` can take them). Both gates are scalars
    initialised to 0: a new block is exactly the identity, so inserting it into a
    frozen language model changes nothing until the gates open during training.

    Args:
        d_model: width of the text tokens (queries) and of the output.
        media_dim: width of the media features (keys and values before ``media_proj``).
        num_heads: number of attention heads; must divide ``d_model``.
        ffn_hidden: hidden width of the gated feed-forward layer, or ``None`` for no FFN.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, or num_heads does not divide d_model.
    """

    def __init__(self, d_model: int, media_dim: int, num_heads: int, ffn_hidden: int | None = None):
        super().__init__()
        check_int("d_model", d_model, 1)
        check_int("media_dim", media_dim, 1)
        check_int("num_heads", num_heads, 1)
        if ffn_hidden is not None:
            check_int("ffn_hidden", ffn_hidden, 1)
        self.d_model = d_model
        self.media_dim = media_dim
        self.media_proj = nn.Linear(media_dim, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.attn_gate = nn.Parameter(torch.zeros(()))
        self.ffn = None if ffn_hidden is None else _feed_forward(d_model, ffn_hidden)
        self.ffn_gate = None if ffn_hidden is None else nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, media: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Let the text tokens ``x`` (N, L, d_model) attend to ``media`` (N, S, media_dim).

        Args:
            mask: optional bool mask, ``(L, S)`` or ``(N, L, S)``, ``True`` = keep
                (e.g. each text token sees only the image before it).

        Returns:
            ``(output, weights)``: ``(N, L, d_model)``, the same length as ``x`` whatever
            ``S`` is, and the cross-attention weights averaged over the heads, ``(N, L, S)``.

        Raises:
            TypeError: if an input is not a floating-point tensor.
            ValueError: if the shapes are wrong or the batch sizes differ.
        """
        check_tensor("x", x, ("N", "length", f"d_model={self.d_model}"))
        check_tensor("media", media, ("N", "length", f"media_dim={self.media_dim}"))
        if x.shape[0] != media.shape[0]:
            raise ValueError(f"x and media must have the same batch size, got {x.shape[0]} and {media.shape[0]}")
        media = self.media_proj(media)
        attended, weights = self.attn(self.norm(x), media, media, mask=mask)
        x = x + torch.tanh(self.attn_gate) * attended
        if self.ffn is not None:
            x = x + torch.tanh(self.ffn_gate) * self.ffn(x)
        return x, weights


class QFormerBlock(nn.Module):
    """A minimal Q-Former block (BLIP-2 style): learned queries read image features.

    ``num_queries`` learned query vectors (an ``nn.Parameter``, the same for every
    image) go through three pre-LayerNorm residual steps: self-attention among
    the queries, cross-attention from the queries to the projected image
    features, and a feed-forward layer. The output always has ``num_queries``
    tokens, however many image features come in.

    Args:
        num_queries: number of learned queries (= output tokens per image).
        d_model: width of the queries and of the output.
        media_dim: width of the image features.
        num_heads: number of attention heads; must divide ``d_model``.
        ffn_hidden: hidden width of the feed-forward layer (default ``4 * d_model``).

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, or num_heads does not divide d_model.
    """

    def __init__(self, num_queries: int, d_model: int, media_dim: int, num_heads: int,
                 ffn_hidden: int | None = None):
        super().__init__()
        check_int("num_queries", num_queries, 1)
        check_int("d_model", d_model, 1)
        check_int("media_dim", media_dim, 1)
        check_int("num_heads", num_heads, 1)
        ffn_hidden = 4 * d_model if ffn_hidden is None else ffn_hidden
        check_int("ffn_hidden", ffn_hidden, 1)
        self.media_dim = media_dim
        self.queries = nn.Parameter(0.02 * torch.randn(num_queries, d_model))
        self.media_proj = nn.Linear(media_dim, d_model)
        self.self_norm = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.cross_norm = nn.LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.ffn = _feed_forward(d_model, ffn_hidden)

    def forward(self, media: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summarise ``media`` (N, S, media_dim) into ``num_queries`` tokens.

        Returns:
            ``(output, weights)``: ``(N, num_queries, d_model)`` and the cross-attention
            weights averaged over the heads, ``(N, num_queries, S)``.

        Raises:
            TypeError: if media is not a floating-point tensor.
            ValueError: if media is not ``(N, S, media_dim)``.
        """
        check_tensor("media", media, ("N", "length", f"media_dim={self.media_dim}"))
        media = self.media_proj(media)
        q = self.queries.expand(media.shape[0], -1, -1)
        h = self.self_norm(q)
        q = q + self.self_attn(h, h, h)[0]
        attended, weights = self.cross_attn(self.cross_norm(q), media, media)
        q = q + attended
        return q + self.ffn(q), weights


# --- Attention at inference (chapter architecture/attention-inference) ---


class KVCache:
    """Keys and values of the positions seen so far, for one attention layer.

    During incremental decoding each step feeds only the new positions; their
    keys and values are appended here, and attention reads all of them. Empty
    until the first :meth:`append`, which fixes the batch size, number of
    key/value heads, head size, dtype and device that later appends must match.
    """

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        """Number of cached positions (0 when empty)."""
        return 0 if self.keys is None else self.keys.shape[2]

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the keys and values of new positions; return all cached ``(keys, values)``.

        Args:
            keys: ``(batch, kv_heads, new_positions, head_dim)``.
            values: same shape as ``keys``.

        Returns:
            ``(keys, values)`` of every position so far, each
            ``(batch, kv_heads, len(self), head_dim)``, concatenated along dim 2.

        Raises:
            TypeError: if keys or values is not a floating-point tensor, or their
                dtypes differ from each other or from the cached ones.
            ValueError: if they are not 4-D, differ in shape, or their batch,
                kv_heads or head_dim (or device) differ from the cached ones.
        """
        shape = ("batch", "kv_heads", "new_positions", "head_dim")
        check_tensor("keys", keys, shape)
        check_tensor("values", values, shape)
        check_same_shape("keys", keys, "values", values)
        if keys.dtype != values.dtype:
            raise TypeError(f"keys and values must have the same dtype, got {keys.dtype} and {values.dtype}")
        if keys.device != values.device:
            raise ValueError(f"keys and values must be on the same device, got {keys.device} and {values.device}")
        if self.keys is None:
            self.keys, self.values = keys, values
            return self.keys, self.values
        cached = self.keys
        if (keys.shape[0], keys.shape[1], keys.shape[3]) != (cached.shape[0], cached.shape[1], cached.shape[3]):
            raise ValueError(f"keys must match the cached (batch, kv_heads, head_dim) = "
                             f"{(cached.shape[0], cached.shape[1], cached.shape[3])}, got {tuple(keys.shape)}")
        if keys.dtype != cached.dtype:
            raise TypeError(f"keys must have the cached dtype {cached.dtype}, got {keys.dtype}")
        if keys.device != cached.device:
            raise ValueError(f"keys must be on the cached device {cached.device}, got {keys.device}")
        self.keys = torch.cat([cached, keys], dim=2)
        self.values = torch.cat([self.values, values], dim=2)
        return self.keys, self.values


class CausalSelfAttention(nn.Module):
    """Causal self-attention with grouped-query heads and an optional :class:`KVCache`.

    ``num_heads`` query heads share ``num_kv_heads`` key/value heads: each group
    of ``num_heads // num_kv_heads`` consecutive query heads reads the same
    keys and values. ``num_kv_heads = num_heads`` is ordinary multi-head
    attention, ``num_kv_heads = 1`` is multi-query attention. Only the
    ``num_kv_heads`` heads are projected and cached; they are repeated
    (``repeat_interleave``) just before
    ``torch.nn.functional.scaled_dot_product_attention``.

    Args:
        d_model: embedding size of the input and the output.
        num_heads: number of query heads; must divide ``d_model``.
        num_kv_heads: number of key/value heads (default ``num_heads``); must
            divide ``num_heads``.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, num_heads does not divide d_model,
            or num_kv_heads does not divide num_heads.
    """

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int | None = None):
        super().__init__()
        check_int("d_model", d_model, 1)
        check_int("num_heads", num_heads, 1)
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        check_int("num_kv_heads", num_kv_heads, 1)
        if d_model % num_heads != 0:
            raise ValueError(f"num_heads ({num_heads}) must divide d_model ({d_model})")
        if num_heads % num_kv_heads != 0:
            raise ValueError(f"num_kv_heads ({num_kv_heads}) must divide num_heads ({num_heads})")
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, num_kv_heads * self.head_dim)
        self.v_proj = nn.Linear(d_model, num_kv_heads * self.head_dim)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Attend from each position of ``x`` (N, L, d_model) to itself and the positions before it.

        Args:
            x: the new positions.
            cache: if given, the keys and values of ``x`` are appended to it and
                attention reads every cached position: ``x`` continues the
                sequence after the ``len(cache)`` positions already there.

        Returns:
            ``(N, L, d_model)``.

        Raises:
            TypeError: if x is not a floating-point tensor, or cache not a KVCache.
            ValueError: if x is not ``(N, L, d_model)``, or does not fit the cache.
        """
        check_tensor("x", x, ("N", "length", f"d_model={self.d_model}"))
        if cache is not None:
            check_type("cache", cache, KVCache, "a KVCache or None")
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(k, v)  # every position so far: (N, kv_heads, S, head_dim)
        group = self.num_heads // self.num_kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        past = k.shape[2] - length
        # Query i is position past + i: it sees keys 0..past + i. (is_causal=True
        # would align the triangle to the top left, wrong when past > 0.)
        mask = None if past == 0 else causal_mask(k.shape[2], x.device)[past:]
        heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past == 0)
        return self.out_proj(heads.transpose(1, 2).reshape(batch, length, self.d_model))
