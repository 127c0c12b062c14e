"""A small decoder-only GPT built from the book's own parts, with cached generation.

Introduced by the chapter "A tiny GPT, end to end" (capstone/tiny-gpt). Each
block is pre-norm: ``x + attention(RMSNorm(x))``, then ``x + MLP(RMSNorm(x))``.
Attention rotates queries and keys with RoPE (:func:`pytorch_notes.positional.apply_rope`)
and runs ``torch.nn.functional.scaled_dot_product_attention``; during generation
each block keeps its keys and values in a :class:`pytorch_notes.attention.KVCache`,
so every new token costs one position of work instead of the whole prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes._checks import check_int, check_real, check_tensor, check_type
from pytorch_notes.attention import KVCache
from pytorch_notes.decoding import sample_next
from pytorch_notes.layers import RMSNorm
from pytorch_notes.positional import apply_rope


@dataclass(frozen=True)
class GPTConfig:
    """The sizes of a :class:`GPT`.

    Args:
        vocab_size: number of token ids (256 for bytes).
        context: the longest sequence the model reads, prompt and generated tokens together.
        d_model: width of the residual stream.
        n_layers: number of blocks.
        n_heads: attention heads per block; must divide ``d_model``, and the
            head size ``d_model // n_heads`` must be even (RoPE rotates pairs).
        mlp_ratio: the MLP's hidden size is ``mlp_ratio * d_model``.
        rope_base: RoPE's frequency base, a number > 1.

    Raises:
        TypeError: if a size is not an int or ``rope_base`` not a real number.
        ValueError: if a size is not positive, ``n_heads`` does not divide
            ``d_model``, the head size is odd, or ``rope_base <= 1``.
    """

    vocab_size: int = 256
    context: int = 128
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mlp_ratio: int = 4
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "d_model", "n_layers", "n_heads", "mlp_ratio"):
            check_int(name, getattr(self, name), 1)
        check_real("rope_base", self.rope_base, above=1)
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"n_heads must divide d_model into heads of even size, "
                             f"got d_model={self.d_model}, n_heads={self.n_heads}")

    @property
    def head_dim(self) -> int:
        """Size of one attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads


class Block(nn.Module):
    """One pre-norm Transformer block: causal self-attention with RoPE, then an MLP.

    ``x = x + out(attention(rope(q), rope(k), v))`` with q, k, v from ``RMSNorm(x)``,
    then ``x = x + MLP(RMSNorm(x))`` with ``MLP = Linear -> GELU -> Linear``.
    All linear layers are bias-free.

    Args:
        config: the model's sizes.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        check_type("config", config, GPTConfig, "a GPTConfig")
        self.config = config
        d = config.d_model
        self.attn_norm = RMSNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.mlp_norm = RMSNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, config.mlp_ratio * d, bias=False), nn.GELU(),
                                 nn.Linear(config.mlp_ratio * d, d, bias=False))

    def attention(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Causal self-attention of ``x`` ``(N, L, d_model)`` at ``positions`` ``(L,)``.

        With a cache, the new keys and values are appended to it and the queries
        attend to every cached position: a single new query needs no mask (it may
        see everything before it), several new ones get the causal mask shifted
        by the cached length.
        """
        n, length, _ = x.shape
        heads, head_dim = self.config.n_heads, self.config.head_dim
        q, k, v = self.qkv(x).view(n, length, 3, heads, head_dim).permute(2, 0, 3, 1, 4)  # each (N, h, L, hd)
        q = apply_rope(q, positions, self.config.rope_base)
        k = apply_rope(k, positions, self.config.rope_base)
        past = 0
        if cache is not None:
            past = len(cache)
            k, v = cache.append(k, v)
        if past == 0:
            mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif length == 1:
            mixed = F.scaled_dot_product_attention(q, k, v)
        else:  # query i sits at position past + i and sees keys 0 .. past + i
            mask = torch.arange(past + length, device=x.device) <= positions[:, None]
            mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(mixed.transpose(1, 2).reshape(n, length, self.config.d_model))

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(N, L, d_model)``; returns the same shape.

        Args:
            x: the residual stream.
            positions: 1-D tensor of the ``L`` positions of ``x`` (``past, ..., past + L - 1``
                when ``cache`` holds ``past`` positions).
            cache: optional :class:`KVCache` of this block, extended in place.

        Raises:
            TypeError: if x is not a floating-point tensor or cache not a KVCache.
            ValueError: if x does not have shape ``(N, L, d_model)``.
        """
        check_tensor("x", x, ("N", "L", self.config.d_model))
        if cache is not None:
            check_type("cache", cache, KVCache, "a KVCache or None")
        x = x + self.attention(self.attn_norm(x), positions, cache)
        return x + self.mlp(self.mlp_norm(x))


class GPT(nn.Module):
    """A decoder-only language model: token embedding, blocks, RMSNorm, output layer.

    The output layer shares its weight with the token embedding (weight tying),
    and there is no position table: RoPE inside each block tells positions
    apart. Weights start from a normal distribution of standard deviation 0.02,
    so an untrained model's next-token distribution is close to uniform.

    Args:
        config: the model's sizes.

    Raises:
        TypeError: if config is not a ``GPTConfig``.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        check_type("config", config, GPTConfig, "a GPTConfig")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: one (vocab, d_model) matrix
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per block, for :meth:`forward`."""
        return [KVCache() for _ in self.blocks]

    def forward(self, tokens: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """Next-token logits for every position of ``tokens``.

        Args:
            tokens: integer tensor ``(N, L)`` of token ids in ``[0, vocab_size)``
                (the ids are not read here: that would wait for a GPU; an id out
                of range fails in the embedding).
            caches: optional list of one :class:`KVCache` per block (see
                :meth:`new_caches`), all holding the same ``past`` positions.
                ``tokens`` then sit at positions ``past .. past + L - 1``, and
                their keys and values are appended to the caches.

        Returns:
            Logits of shape ``(N, L, vocab_size)``: row ``i`` scores the token
            that follows ``tokens[:, i]``.

        Raises:
            TypeError: if tokens is not an integer tensor or caches not a list of KVCache.
            ValueError: if tokens is not ``(N, L)`` with ``L >= 1``, caches has the
                wrong length or unequal lengths, or ``past + L`` exceeds ``context``.
        """
        check_tensor("tokens", tokens, ("N", "L"), dtype="int")
        past = 0
        if caches is not None:
            check_type("caches", caches, list, "a list of KVCache (one per block) or None")
            if len(caches) != len(self.blocks) or not all(isinstance(c, KVCache) for c in caches):
                raise ValueError(f"caches must hold one KVCache per block ({len(self.blocks)}), got {caches!r}")
            past = len(caches[0])
            if any(len(cache) != past for cache in caches):
                raise ValueError(f"all caches must hold the same number of positions, got {[len(c) for c in caches]}")
        length = tokens.shape[1]
        if length == 0 or past + length > self.config.context:
            raise ValueError(f"tokens must hold 1 to {self.config.context - past} positions "
                             f"(context {self.config.context}, {past} cached), got {length}")
        positions = torch.arange(past, past + length, device=tokens.device)
        x = self.embed(tokens)
        for i, block in enumerate(self.blocks):
            x = block(x, positions, caches[i] if caches is not None else None)
        return self.head(self.norm(x))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_p: float | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True) -> torch.Tensor:
        """Continue ``prompt`` by ``max_new_tokens`` tokens, one at a time.

        With ``use_cache`` (the default) the prompt is read once, filling one
        :class:`KVCache` per block, and each later step feeds only the newest
        token. Without it every step reruns the whole sequence; both give the
        same logits up to rounding, so the same tokens.

        Args:
            prompt: integer tensor ``(N, L)`` of token ids, ``L >= 1``.
            max_new_tokens: number of tokens to add, an int ``>= 0``;
                ``L + max_new_tokens`` must not exceed ``config.context``.
            temperature: ``0`` for greedy decoding (argmax), else the sampling
                temperature, a positive number (see :func:`pytorch_notes.decoding.sample_next`).
            top_p: optional nucleus mass in ``(0, 1]`` (ignored when greedy).
            generator: optional ``torch.Generator`` for reproducible sampling.
            use_cache: keep keys and values between steps.

        Returns:
            A LongTensor ``(N, L + max_new_tokens)``: the prompt, then the new tokens.

        Raises:
            TypeError: if an argument has the wrong type.
            ValueError: if prompt is not ``(N, L)``, the total length exceeds the
                context, or temperature or top_p is out of range.
        """
        check_tensor("prompt", prompt, ("N", "L"), dtype="int")
        check_int("max_new_tokens", max_new_tokens, 0)
        check_real("temperature", temperature, 0)
        if top_p is not None:
            check_real("top_p", top_p, above=0, maximum=1)
        check_type("use_cache", use_cache, bool, "a bool")
        if prompt.shape[1] == 0 or prompt.shape[1] + max_new_tokens > self.config.context:
            raise ValueError(f"prompt length + max_new_tokens must be in [1, {self.config.context}] "
                             f"(the context), got {prompt.shape[1]} + {max_new_tokens}")
        tokens = prompt.long()
        caches = self.new_caches() if use_cache else None
        fed = tokens  # what the next forward reads: all of it without a cache, the new token with one
        for _ in range(max_new_tokens):
            logits = self(fed, caches)[:, -1]
            if temperature == 0:
                token = logits.argmax(dim=-1)
            else:
                token = sample_next(logits, generator=generator, temperature=temperature, top_p=top_p)
            tokens = torch.cat([tokens, token[:, None]], dim=1)
            fed = tokens[:, -1:] if use_cache else tokens
        return tokens
