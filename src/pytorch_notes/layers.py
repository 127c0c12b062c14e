"""RMSNorm and the two Transformer encoder blocks, Post-LN and Pre-LN.

Introduced by the chapter "Residual connections" (architecture/residual).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from pytorch_notes._checks import check_int, check_real, check_tensor
from pytorch_notes.attention import MultiHeadAttention




class RMSNorm(nn.Module):
    """Root-mean-square normalization over the last dimension: x / sqrt(mean(x²) + eps) · g.

    Unlike LayerNorm it subtracts no mean and adds no bias; it only rescales each
    vector to unit root mean square and multiplies by a learned gain ``weight``
    (initialized to ones). Same result as ``torch.nn.RMSNorm(size, eps=eps)``.

    Args:
        size: length of the last dimension (the features normalized together).
        eps: small positive number added to the mean square, for stability.

    Raises:
        TypeError: if size is not an int or eps is not a number.
        ValueError: if size is not positive or eps is negative.
    """

    def __init__(self, size: int, eps: float = 1e-6):
        super().__init__()
        check_int("size", size, 1)
        self.size = size
        self.eps = check_real("eps", eps, minimum=0)
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` of shape ``(..., size)``; returns the same shape.

        Raises:
            TypeError: if x is not a floating-point tensor.
            ValueError: if the last dimension of x is not ``size``.
        """
        check_tensor("x", x, (..., self.size))
        rms = x.pow(2).mean(dim=-1, keepdim=True).add(self.eps).sqrt()
        return x / rms * self.weight

    def extra_repr(self) -> str:
        return f"{self.size}, eps={self.eps}"


class _EncoderBlock(nn.Module):
    """Self-attention and a feed-forward network (Linear-ReLU-Linear), each with a LayerNorm."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, eps: float = 1e-5):
        super().__init__()
        check_int("d_model", d_model, 1)
        check_int("num_heads", num_heads, 1)
        check_int("dim_feedforward", dim_feedforward, 1)
        self.d_model = d_model
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)

    def attend(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The attention branch: self-attention of x to itself (weights dropped)."""
        return self.self_attn(x, x, x, mask=mask)[0]

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The feed-forward branch: linear2(relu(linear1(x)))."""
        return self.linear2(torch.relu(self.linear1(x)))

    @torch.no_grad()
    def copy_from(self, layer: nn.TransformerEncoderLayer) -> None:
        """Copy the weights of ``layer`` into this block (their functions then agree).

        PyTorch stacks the three input projections into one ``in_proj_weight`` of
        shape ``(3 * d_model, d_model)``: its thirds are W_Q, W_K and W_V. The
        other parts have the same names in both modules.

        Args:
            layer: an ``nn.TransformerEncoderLayer`` with the same sizes.

        Raises:
            TypeError: if layer is not an ``nn.TransformerEncoderLayer``.
            ValueError: if its sizes differ from this block's.
        """
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"layer must be an nn.TransformerEncoderLayer, got {type(layer).__name__}")
        if layer.linear1.weight.shape != self.linear1.weight.shape or layer.self_attn.num_heads != self.self_attn.num_heads:
            raise ValueError(f"layer has d_model={layer.linear1.in_features}, num_heads={layer.self_attn.num_heads}, "
                             f"dim_feedforward={layer.linear1.out_features}; this block has d_model={self.d_model}, "
                             f"num_heads={self.self_attn.num_heads}, dim_feedforward={self.linear1.out_features}")
        attention = self.self_attn
        stacked = zip([attention.q_proj, attention.k_proj, attention.v_proj],
                      layer.self_attn.in_proj_weight.chunk(3), layer.self_attn.in_proj_bias.chunk(3))
        for projection, weight, bias in stacked:
            projection.weight.copy_(weight)
            projection.bias.copy_(bias)
        attention.out_proj.load_state_dict(layer.self_attn.out_proj.state_dict())
        for name in ["linear1", "linear2", "norm1", "norm2"]:
            getattr(self, name).load_state_dict(getattr(layer, name).state_dict())

    def _check(self, x) -> None:
        check_tensor("x", x, ("N", "length", self.d_model))


class PostLNBlock(_EncoderBlock):
    """Transformer encoder block with the LayerNorm after each residual sum (the original Transformer).

    ``x = norm1(x + attention(x))``, then ``x = norm2(x + feed_forward(x))``.
    Same function as ``nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward,
    dropout=0, batch_first=True, norm_first=False)`` with the same weights.

    Args:
        d_model: embedding size of the tokens.
        num_heads: number of attention heads; must divide d_model.
        dim_feedforward: hidden size of the feed-forward network.
        eps: the LayerNorms' eps.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, or num_heads does not divide d_model.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(N, L, d_model)``.

        Args:
            x: the token vectors.
            mask: optional bool mask ``(L, L)`` or ``(N, L, L)``, ``True`` = may attend.

        Returns:
            A tensor of the same shape as x.

        Raises:
            TypeError: if x is not a floating-point tensor.
            ValueError: if x does not have shape ``(N, L, d_model)``.
        """
        self._check(x)
        x = self.norm1(x + self.attend(x, mask))
        return self.norm2(x + self.feed_forward(x))


class PreLNBlock(_EncoderBlock):
    """Transformer encoder block with the LayerNorm at the start of each branch (GPT-2 and later).

    ``x = x + attention(norm1(x))``, then ``x = x + feed_forward(norm2(x))``: the
    residual stream ``x`` itself is never normalized, so it is an identity path from
    the block's input to its output. Same function as
    ``nn.TransformerEncoderLayer(..., dropout=0, batch_first=True, norm_first=True)``
    with the same weights. A stack of Pre-LN blocks usually ends with one more LayerNorm.

    Args:
        d_model: embedding size of the tokens.
        num_heads: number of attention heads; must divide d_model.
        dim_feedforward: hidden size of the feed-forward network.
        eps: the LayerNorms' eps.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, or num_heads does not divide d_model.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(N, L, d_model)``.

        Args:
            x: the token vectors.
            mask: optional bool mask ``(L, L)`` or ``(N, L, L)``, ``True`` = may attend.

        Returns:
            A tensor of the same shape as x.

        Raises:
            TypeError: if x is not a floating-point tensor.
            ValueError: if x does not have shape ``(N, L, d_model)``.
        """
        self._check(x)
        x = x + self.attend(self.norm1(x), mask)
        return x + self.feed_forward(self.norm2(x))
