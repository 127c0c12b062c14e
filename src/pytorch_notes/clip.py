"""CLIP-style dual encoders: two towers, one shared embedding space, a learnable temperature.

CLIP (Radford et al., 2021) embeds images and texts with two separate encoders,
L2-normalizes both, and scores every image against every text with
``logit_scale.exp() * images @ texts.T``. The scale is stored as a log (so it
stays positive whatever the optimizer does), starts at ``log(1 / 0.07)`` and is
clamped after each optimizer step so that it never exceeds 100. Train it with
:func:`pytorch_notes.losses.clip_loss`. Zero-shot classification compares an
image with one text embedding per class; :func:`prompt_ensemble` averages the
embeddings of several prompt templates into one per class.
Introduced by the chapter "CLIP" (multimodal/clip).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes._checks import check_real, check_tensor, check_type


class CLIP(nn.Module):
    """An image encoder and a text encoder that meet in one space, scored with a learnable scale.

    ``forward(images, texts)`` returns ``(logits_per_image, logits_per_text)``:
    ``logits_per_image[i, j] = exp(logit_scale) * cos(image_i, text_j)`` and
    ``logits_per_text`` is its transpose. ``logit_scale`` is a scalar
    ``nn.Parameter`` holding the *log* of the scale (``1 / temperature``).

    Args:
        image_encoder: any module mapping a batch of images to ``(N, D)`` features.
        text_encoder: any module mapping a batch of texts to ``(N, D)`` features (the same ``D``).
        temperature: initial temperature, a positive number; the scale starts at
            ``1 / temperature`` (CLIP: 0.07, a scale of about 14.29).
        max_scale: the largest scale :meth:`clamp_logit_scale_` allows (CLIP: 100);
            must be at least ``1 / temperature``.

    Raises:
        TypeError: if an encoder is not an ``nn.Module`` or a number is not a real number.
        ValueError: if ``temperature`` or ``max_scale`` is not positive and finite,
            or ``1 / temperature > max_scale``.
    """

    def __init__(self, image_encoder: nn.Module, text_encoder: nn.Module,
                 temperature: float = 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        check_type("image_encoder", image_encoder, nn.Module, "an nn.Module")
        check_type("text_encoder", text_encoder, nn.Module, "an nn.Module")
        check_real("temperature", temperature, above=0)
        check_real("max_scale", max_scale, above=0)
        if 1 / temperature > max_scale:
            raise ValueError(f"the initial scale 1 / temperature = {1 / temperature:.4g} "
                             f"exceeds max_scale = {max_scale}")
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.max_scale = float(max_scale)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Embed and L2-normalize a batch of images: shape ``(N, D)``, every row of norm 1."""
        return F.normalize(self.image_encoder(images), dim=-1)

    def encode_text(self, texts: torch.Tensor) -> torch.Tensor:
        """Embed and L2-normalize a batch of texts: shape ``(N, D)``, every row of norm 1."""
        return F.normalize(self.text_encoder(texts), dim=-1)

    def forward(self, images: torch.Tensor, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Score every image against every text.

        Args:
            images: a batch of ``N`` images, as the image encoder takes them.
            texts: a batch of ``M`` texts, as the text encoder takes them.

        Returns:
            ``(logits_per_image, logits_per_text)``, shapes ``(N, M)`` and ``(M, N)``.

        Raises:
            ValueError: if the two encoders' outputs are not ``(N, D)`` and ``(M, D)``.
        """
        image_features, text_features = self.encode_image(images), self.encode_text(texts)
        if image_features.dim() != 2 or text_features.dim() != 2 or image_features.shape[1] != text_features.shape[1]:
            raise ValueError(f"the encoders must give (N, D) and (M, D) features with the same D, "
                             f"got {tuple(image_features.shape)} and {tuple(text_features.shape)}")
        logits_per_image = self.logit_scale.exp() * image_features @ text_features.T
        return logits_per_image, logits_per_image.T

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """Clamp the stored log-scale in place to ``[0, log(max_scale)]``; call it after ``optimizer.step()``."""
        self.logit_scale.clamp_(0, math.log(self.max_scale))


def prompt_ensemble(text_embeddings: torch.Tensor) -> torch.Tensor:
    """Average the embeddings of several prompt templates into one unit vector per class.

    Each embedding is L2-normalized, the ``T`` templates are averaged, and the
    mean is normalized again (CLIP's recipe for zero-shot classifiers).

    Args:
        text_embeddings: floating point, shape ``(T, K, D)``: template ``t`` filled
            with class ``k``.

    Returns:
        Shape ``(K, D)``, rows of norm 1: the zero-shot classifier's weights.

    Raises:
        TypeError: if ``text_embeddings`` is not a floating-point tensor.
        ValueError: if it is not three-dimensional.
    """
    check_tensor("text_embeddings", text_embeddings, ("templates", "classes", "D"))
    return F.normalize(F.normalize(text_embeddings, dim=-1).mean(dim=0), dim=-1)
