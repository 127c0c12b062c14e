"""Weight quantisation for QLoRA: blockwise absmax int8, 4-bit NormalFloat (NF4), a frozen NF4 linear layer.

A weight is cut into blocks of ``block_size`` consecutive values; each block
keeps one float32 scale, its largest absolute value (``absmax``), and each
value is stored as a small integer code relative to that scale. int8 codes
are ``round(127 * w / absmax)``; NF4 codes (Dettmers et al., 2023, "QLoRA")
index 16 levels placed at quantiles of the normal distribution, two codes per
byte. :class:`NF4Linear` keeps a linear layer's weight that way and
dequantises it on the fly, so that ``pytorch_notes.peft.LoRALinear`` can train
LoRA adapters on top of a 4-bit base: QLoRA.
Introduced by the chapter "Quantisation and QLoRA" (peft/qlora).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from pytorch_notes._checks import check_int, check_tensor, check_type


def _check_blocks(name: str, x: object, block_size: object) -> None:
    check_tensor(name, x)
    check_int("block_size", block_size, 1)
    if x.numel() == 0 or x.numel() % block_size:
        raise ValueError(f"{name} must have a positive number of elements divisible by block_size={block_size}, "
                         f"got {x.numel()}")


def _check_codes(codes: object, absmax: object, dtype: torch.dtype, per_value: int,
                 shape: object) -> torch.Size:
    check_tensor("codes", codes, dtype=dtype)
    check_tensor("absmax", absmax, shape=("blocks",))
    check_type("shape", shape, (tuple, list, torch.Size), "a tuple of ints")
    shape = torch.Size(shape)
    if codes.numel() * per_value != shape.numel() or absmax.numel() == 0 or shape.numel() % absmax.numel():
        raise ValueError(f"codes ({codes.numel()} x {per_value} values) and absmax ({absmax.numel()} blocks) "
                         f"do not fit shape {tuple(shape)}")
    return shape


def quantize_int8(x: torch.Tensor, block_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Blockwise absmax int8 quantisation: ``codes = round(127 * x / absmax)`` per block.

    ``x`` is flattened and cut into blocks of ``block_size`` consecutive values.
    Each value then differs from its dequantised copy by at most half a step,
    ``absmax / 127 / 2`` of its block. An all-zero block gets scale 0 and codes 0.

    Args:
        x: a floating-point tensor whose number of elements is divisible by ``block_size``.
        block_size: values per block (one scale each), a positive int.

    Returns:
        ``(codes, absmax)``: int8 codes of shape ``(blocks, block_size)`` in
        ``[-127, 127]`` and the float32 scales, shape ``(blocks,)``.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor or ``block_size`` not an int.
        ValueError: if ``block_size < 1`` or does not divide ``x.numel()``.
    """
    _check_blocks("x", x, block_size)
    blocks = x.detach().float().reshape(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    safe = torch.where(absmax > 0, absmax, torch.ones_like(absmax))
    codes = torch.round(blocks / safe[:, None] * 127).to(torch.int8)
    return codes, absmax


def dequantize_int8(codes: torch.Tensor, absmax: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Undo :func:`quantize_int8`: ``codes * absmax / 127``, reshaped to ``shape`` (float32).

    Raises:
        TypeError: if ``codes`` is not int8 or ``absmax`` not floating point.
        ValueError: if the sizes of ``codes``, ``absmax`` and ``shape`` do not fit together.
    """
    shape = _check_codes(codes, absmax, torch.int8, 1, shape)
    blocks = codes.reshape(absmax.numel(), -1).float()
    return (blocks * absmax[:, None] / 127).reshape(shape)


def nf4_levels() -> torch.Tensor:
    """The 16 levels of 4-bit NormalFloat, built from normal quantiles as in the QLoRA paper.

    Eight levels at the quantiles ``linspace(offset, 0.5, 9)[:-1]`` of the
    standard normal, seven at the mirrored quantiles ``linspace(offset, 0.5, 8)[:-1]``
    (negated), and an exact zero; divided by the largest, so they run from -1
    to 1. ``offset = 1 - (1/30 + 1/32) / 2`` keeps the outermost quantile finite.
    They match bitsandbytes' published NF4 table to about 1e-7.

    Returns:
        A float32 tensor of 16 increasing values, ``-1.0`` first, ``0.0`` at index 7, ``1.0`` last.
    """
    offset = 1 - (1 / 30 + 1 / 32) / 2
    ndtri = torch.special.ndtri
    positive = ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values
    return (levels / levels.max()).float()


def pack_4bit(codes: torch.Tensor) -> torch.Tensor:
    """Pack 4-bit codes (values 0 to 15) two per byte, the first code in the high four bits.

    Args:
        codes: an integer tensor with an even number of elements, each in ``[0, 15]``.

    Returns:
        A flat uint8 tensor with half as many elements.

    Raises:
        TypeError: if ``codes`` is not an integer tensor.
        ValueError: if it has an odd number of elements or a value outside ``[0, 15]``.
    """
    check_tensor("codes", codes, dtype="int")
    if codes.numel() % 2:
        raise ValueError(f"codes must have an even number of elements, got {codes.numel()}")
    flat = codes.reshape(-1).to(torch.int16)
    if flat.numel() and (flat.min() < 0 or flat.max() > 15):
        raise ValueError(f"codes must lie in [0, 15], got values from {flat.min().item()} to {flat.max().item()}")
    return (flat[0::2] * 16 + flat[1::2]).to(torch.uint8)


def unpack_4bit(packed: torch.Tensor) -> torch.Tensor:
    """Undo :func:`pack_4bit`: a flat uint8 tensor of twice as many 4-bit codes (int64).

    Raises:
        TypeError: if ``packed`` is not a uint8 tensor.
    """
    check_tensor("packed", packed, dtype=torch.uint8)
    flat = packed.reshape(-1).long()
    return torch.stack([flat // 16, flat % 16], dim=1).reshape(-1)


def quantize_nf4(x: torch.Tensor, block_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Blockwise NF4 quantisation: each value becomes the index of the nearest level of ``x / absmax``.

    Args:
        x: a floating-point tensor with an even number of elements divisible by ``block_size``.
        block_size: values per block (one scale each), a positive int.

    Returns:
        ``(packed, absmax)``: the codes packed two per byte (uint8, ``x.numel() // 2``
        elements) and the float32 scales, shape ``(blocks,)``.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor or ``block_size`` not an int.
        ValueError: if ``block_size < 1`` or does not divide ``x.numel()``, or ``x.numel()`` is odd.
    """
    _check_blocks("x", x, block_size)
    if x.numel() % 2:
        raise ValueError(f"x must have an even number of elements (two codes per byte), got {x.numel()}")
    blocks = x.detach().float().reshape(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    safe = torch.where(absmax > 0, absmax, torch.ones_like(absmax))
    levels = nf4_levels()
    midpoints = (levels[1:] + levels[:-1]) / 2
    codes = torch.bucketize(blocks / safe[:, None], midpoints)
    return pack_4bit(codes), absmax


def dequantize_nf4(packed: torch.Tensor, absmax: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Undo :func:`quantize_nf4`: ``levels[code] * absmax`` per block, reshaped to ``shape`` (float32).

    Raises:
        TypeError: if ``packed`` is not uint8 or ``absmax`` not floating point.
        ValueError: if the sizes of ``packed``, ``absmax`` and ``shape`` do not fit together.
    """
    shape = _check_codes(packed, absmax, torch.uint8, 2, shape)
    values = nf4_levels().to(absmax.device)[unpack_4bit(packed)]
    return (values.reshape(absmax.numel(), -1) * absmax[:, None]).reshape(shape)


class _FrozenWeightLinear(torch.autograd.Function):
    """``x @ W.T`` for a frozen weight that is rebuilt in backward instead of being saved."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, layer: NF4Linear) -> torch.Tensor:
        ctx.layer = layer
        return x @ layer.weight.T

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output @ ctx.layer.weight, None


class NF4Linear(nn.Module):
    """A frozen linear layer whose weight is stored in NF4: 4-bit codes and one float32 scale per block.

    The weight of ``linear`` is quantised with :func:`quantize_nf4` into the
    buffers ``codes`` (uint8, two codes per byte) and ``absmax``; the bias, if
    any, stays a frozen float parameter. ``weight`` dequantises on every read.
    The forward pass computes ``x @ weight.T + bias`` through an autograd
    function that saves no weight for backward: it dequantises again there, as
    bitsandbytes does, so the full-precision weight never stays alive between
    the passes. Nothing in the layer trains; wrap it in
    ``pytorch_notes.peft.LoRALinear`` to add trainable adapters (QLoRA).

    Args:
        linear: the layer to quantise (left unchanged).
        block_size: values per scale, a positive int dividing the weight's size.

    Example:
        >>> layer = NF4Linear(nn.Linear(128, 64))
        >>> layer.codes.nbytes, layer.absmax.nbytes  # 8192 weights: 4 bits + 32 bits / 64 each
        (4096, 512)

    Raises:
        TypeError: if ``linear`` is not an ``nn.Linear`` or ``block_size`` not an int.
        ValueError: if ``block_size`` does not divide the number of weights.
    """

    def __init__(self, linear: nn.Linear, block_size: int = 64):
        super().__init__()
        check_type("linear", linear, nn.Linear, "an nn.Linear")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.block_size = check_int("block_size", block_size, 1)
        codes, absmax = quantize_nf4(linear.weight, block_size)
        self.register_buffer("codes", codes)
        self.register_buffer("absmax", absmax)
        self.bias = None
        if linear.bias is not None:
            self.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantised weight, float32, shape ``(out_features, in_features)``; computed on each read."""
        return dequantize_nf4(self.codes, self.absmax, (self.out_features, self.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _FrozenWeightLinear.apply(x, self)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, block_size={self.block_size}"
