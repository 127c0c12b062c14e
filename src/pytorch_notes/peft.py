"""Parameter-efficient fine-tuning: LoRA and adapters.

LoRA (Hu et al., 2021) keeps a pretrained ``nn.Linear`` frozen and trains a
low-rank update: the layer computes ``W x + b`` with ``W = W0 + (alpha / r) * B @ A``,
where only ``A`` (shape ``(r, in)``) and ``B`` (shape ``(out, r)``) train. ``B``
starts at zero, so a freshly wrapped layer computes exactly what the base layer did.
Introduced by the chapter "LoRA" (peft/lora).

Adapters (Houlsby et al., 2019) add small bottleneck networks to a frozen
model instead: :class:`BottleneckAdapter` in series after a layer, and
:class:`GatedAdapter` beside it behind a zero-initialised ``tanh`` gate.
Introduced by the chapter "Adapters" (peft/adapters).

Both ``LoRALinear`` and ``apply_lora`` also take a frozen 4-bit
``pytorch_notes.quantization.NF4Linear`` as the base layer: LoRA on a
quantised base is QLoRA (chapter "Quantisation and QLoRA", peft/qlora).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn as nn

from pytorch_notes._checks import check_int, check_real, check_type
from pytorch_notes.quantization import NF4Linear


def _check_lora_args(r: object, alpha: object, dropout: object) -> None:
    check_int("r", r, 1)
    check_real("alpha", alpha, above=0)
    check_real("dropout", dropout, 0, below=1)


class LoRALinear(nn.Module):
    """Wrap an existing ``nn.Linear`` with a trainable low-rank update ``(alpha / r) * B @ A``.

    The base layer is kept (as ``self.base``) and frozen: its weight and bias get
    ``requires_grad=False``. ``lora_A`` (shape ``(r, in_features)``) is
    initialised like ``nn.Linear`` weights (Kaiming uniform); ``lora_B`` (shape
    ``(out_features, r)``) starts at zero, so at initialisation the output equals
    ``base(x)`` exactly. The forward pass is::

        base(x) + (dropout(x) @ A.T @ B.T) * (alpha / r)

    which never builds the ``(out, in)`` matrix ``B @ A``. Dropout acts on the
    LoRA branch only and is off in ``eval()`` mode.

    Args:
        base: the pretrained linear layer to adapt (frozen in place): an ``nn.Linear``, or an
            ``NF4Linear`` whose 4-bit weight is dequantised on the fly (QLoRA).
        r: rank of the update, a positive int.
        alpha: scale numerator, a positive number; the update is multiplied by ``alpha / r``.
        dropout: dropout probability on the LoRA branch's input, in ``[0, 1)``.

    Example:
        >>> layer = LoRALinear(nn.Linear(512, 512), r=8, alpha=16)
        >>> sum(p.numel() for p in layer.parameters() if p.requires_grad)
        8192

    Raises:
        TypeError: if ``base`` is not an ``nn.Linear`` or ``NF4Linear``, ``r`` is not an int, or
            ``alpha``/``dropout`` are not real numbers.
        ValueError: if ``r <= 0``, ``alpha`` is not positive and finite, or ``dropout``
            is outside ``[0, 1)``.
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        check_type("base", base, (nn.Linear, NF4Linear), "an nn.Linear or NF4Linear")
        _check_lora_args(r, alpha, dropout)
        self.base = base
        for parameter in base.parameters():
            parameter.requires_grad_(False)
        self.r = int(r)
        self.alpha = float(alpha)
        self.scaling = self.alpha / self.r
        factory = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Parameter(torch.empty(self.r, base.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, self.r, **factory))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # the nn.Linear default
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """The update ``(alpha / r) * B @ A``, shape ``(out_features, in_features)``."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T
        return self.base(x) + update * self.scaling

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        """Return a new plain ``nn.Linear`` with weight ``W0 + (alpha / r) * B @ A`` and the base bias.

        The merged layer computes what this module computes in ``eval()`` mode,
        at the cost of the base layer alone. This module is left unchanged.
        """
        merged = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None,
                           device=self.base.weight.device, dtype=self.base.weight.dtype)
        merged.weight.copy_(self.base.weight + self.delta_weight())
        if self.base.bias is not None:
            merged.bias.copy_(self.base.bias)
        return merged

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def apply_lora(model: nn.Module, target_names: str | Iterable[str], r: int = 8, alpha: float = 16.0,
               dropout: float = 0.0) -> nn.Module:
    """Freeze ``model`` and replace the named ``nn.Linear`` (or ``NF4Linear``) submodules with ``LoRALinear``.

    A submodule is a target when its name in ``model.named_modules()`` equals a
    target name or ends with ``"." + name`` (so ``"fc1"`` matches
    ``"encoder.fc1"``). Every parameter of the model is frozen first, so
    afterwards only the LoRA matrices ``A`` and ``B`` train. The model is
    changed in place and returned.

    Args:
        model: the model to adapt.
        target_names: one name or an iterable of names of ``nn.Linear`` submodules.
        r: rank of every update, a positive int.
        alpha: scale numerator; every update is multiplied by ``alpha / r``.
        dropout: dropout probability on the LoRA branches, in ``[0, 1)``.

    Returns:
        The same ``model``, with the targets wrapped.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``, a name is not a str, or a
            matched submodule is not an ``nn.Linear`` or ``NF4Linear``.
        ValueError: if no target name is given, a name is empty or matches no
            submodule, or ``r``/``alpha``/``dropout`` are out of range. Everything is
            checked before the model changes.
    """
    check_type("model", model, nn.Module, "an nn.Module")
    names = [target_names] if isinstance(target_names, str) else list(target_names)
    for name in names:
        check_type("a target name", name, str, "a str")
    if not names or "" in names:
        raise ValueError(f"target_names must name at least one submodule, and no name may be empty, got {names}")
    _check_lora_args(r, alpha, dropout)

    matches = {}
    for name in names:
        found = [full for full, _ in model.named_modules() if full == name or full.endswith("." + name)]
        if not found:
            raise ValueError(f"no submodule named {name!r} in {type(model).__name__}")
        for full in found:
            module = model.get_submodule(full)
            if not isinstance(module, (nn.Linear, NF4Linear)):
                raise TypeError(f"submodule {full!r} is a {type(module).__name__}, not an nn.Linear or NF4Linear")
            matches[full] = module

    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for full, module in matches.items():
        parent_name, _, child_name = full.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child_name, LoRALinear(module, r=r, alpha=alpha, dropout=dropout))
    return model


class BottleneckAdapter(nn.Module):
    """A bottleneck adapter (Houlsby et al., 2019): ``h + up(activation(down(h)))``.

    ``down`` projects the ``dim`` features to ``bottleneck`` features, ``up``
    projects them back, and the residual adds the input. ``up`` starts at zero
    (weight and bias), so a new adapter is the identity function: inserted after
    a frozen layer, it leaves the model unchanged until it has trained. It has
    ``2 * dim * bottleneck + dim + bottleneck`` parameters.

    Args:
        dim: number of features in and out, a positive int.
        bottleneck: number of hidden features, a positive int (usually much smaller than ``dim``).
        activation: the nonlinearity between the projections (default ``nn.ReLU()``).

    Raises:
        TypeError: if ``dim`` or ``bottleneck`` is not an int, or ``activation`` is not an ``nn.Module``.
        ValueError: if ``dim`` or ``bottleneck`` is not positive.
    """

    def __init__(self, dim: int, bottleneck: int, activation: nn.Module | None = None):
        super().__init__()
        check_int("dim", dim, 1)
        check_int("bottleneck", bottleneck, 1)
        check_type("activation", activation, (nn.Module, type(None)), "an nn.Module")
        self.down = nn.Linear(dim, bottleneck)
        self.activation = nn.ReLU() if activation is None else activation
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(self.activation(self.down(h)))


class GatedAdapter(nn.Module):
    """A frozen sublayer with a gated adapter beside it: ``sublayer(x) + tanh(gate) * adapter(x)``.

    The adapter branch (``down``, activation, ``up``; no residual of its own)
    reads the sublayer's *input* and runs in parallel with it. The scalar
    ``gate`` starts at 0, so the module starts as exactly the frozen sublayer,
    while ``up`` keeps a random initialisation so that the gate receives a
    gradient from the first step (with both at zero nothing would ever train).
    The sublayer's parameters are frozen in place.

    Args:
        sublayer: the pretrained module to adapt; it must map ``(..., dim)`` to ``(..., dim)``.
        dim: number of features of the sublayer's input and output, a positive int.
        bottleneck: hidden features of the adapter branch, a positive int.
        activation: the nonlinearity of the branch (default ``nn.ReLU()``).

    Raises:
        TypeError: if ``sublayer`` or ``activation`` is not an ``nn.Module``, or a size is not an int.
        ValueError: if a size is not positive.
    """

    def __init__(self, sublayer: nn.Module, dim: int, bottleneck: int, activation: nn.Module | None = None):
        super().__init__()
        check_type("sublayer", sublayer, nn.Module, "an nn.Module")
        check_int("dim", dim, 1)
        check_int("bottleneck", bottleneck, 1)
        check_type("activation", activation, (nn.Module, type(None)), "an nn.Module")
        self.sublayer = sublayer
        for parameter in sublayer.parameters():
            parameter.requires_grad_(False)
        self.down = nn.Linear(dim, bottleneck)
        self.activation = nn.ReLU() if activation is None else activation
        self.up = nn.Linear(bottleneck, dim)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sublayer(x) + torch.tanh(self.gate) * self.up(self.activation(self.down(x)))
