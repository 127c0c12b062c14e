"""Losses written out by hand: focal loss, label-smoothed cross-entropy, and contrastive losses.

The two classification losses take raw scores (logits) of shape ``(N, C)`` and
class indices of shape ``(N,)``, like ``torch.nn.functional.cross_entropy``, and
reduce to it in their limits: ``focal_loss(..., gamma=0)`` is cross-entropy (with
``alpha`` as the class ``weight``), and ``smoothed_cross_entropy(..., smoothing=0)``
is plain cross-entropy.

The contrastive losses ``info_nce``, ``nt_xent`` and ``clip_loss`` take two
batches of embeddings of shape ``(N, D)`` whose rows ``i`` form a positive pair;
every other row is a negative. Each is a cross-entropy over a matrix of cosine
similarities whose correct "class" for row ``i`` is the column of its positive.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from pytorch_notes._checks import check_choice, check_real, check_same_shape, check_tensor, check_type

REDUCTIONS = ("mean", "sum", "none")


def _check_logits_and_targets(logits: torch.Tensor, targets: torch.Tensor) -> None:
    """Types and shapes only: the targets' range is not read (a GPU sync every step), see the Raises notes."""
    check_tensor("logits", logits, ("N", "C"))
    check_tensor("targets", targets, (f"N={logits.shape[0]}",), dtype="int")


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               alpha: torch.Tensor | Sequence[float] | None = None, reduction: str = "mean") -> torch.Tensor:
    """Multi-class focal loss (Lin et al., 2017): ``FL = -alpha_t * (1 - p_t)**gamma * log(p_t)``.

    ``p_t`` is the softmax probability of the true class. The factor
    ``(1 - p_t)**gamma`` shrinks the loss of examples the model already gets
    right (``p_t`` near 1), so the rare, hard ones dominate the gradient.

    Normalization: with ``alpha`` given, ``reduction="mean"`` divides the sum by
    ``sum(alpha_t)``, not by ``N``, exactly like ``F.cross_entropy(weight=alpha)``;
    so ``focal_loss(x, y, gamma=0, alpha=w)`` equals ``F.cross_entropy(x, y, weight=w)``
    for every reduction. Without ``alpha`` the mean is over the ``N`` examples.

    Args:
        logits: raw scores, floating point, shape ``(N, C)``.
        targets: class indices in ``[0, C)``, integer, shape ``(N,)``.
        gamma: focusing parameter, ``>= 0``; ``0`` gives cross-entropy.
        alpha: optional per-class weights, ``C`` non-negative numbers (a tensor, list or tuple).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-example losses, shape ``(N,)``).

    Returns:
        The loss: a scalar tensor, or shape ``(N,)`` with ``reduction="none"``.

    Raises:
        TypeError: if logits/targets are not tensors of the right dtype, gamma is
            not a real number, or alpha is not a tensor, list or tuple.
        ValueError: on wrong shapes, negative gamma, alpha of the wrong length, or
            an unknown reduction. The values of ``targets`` and ``alpha`` are not
            read (that would wait for the GPU on every step): an index outside
            ``[0, C)`` fails in ``gather`` (a RuntimeError on the CPU, a device-side
            assert on CUDA), like ``F.cross_entropy``.
    """
    _check_logits_and_targets(logits, targets)
    check_real("gamma", gamma, 0)
    check_choice("reduction", reduction, REDUCTIONS)
    if alpha is not None:
        check_type("alpha", alpha, (torch.Tensor, list, tuple), "None, a tensor, a list or a tuple")
        alpha = torch.as_tensor(alpha, dtype=logits.dtype, device=logits.device)
        check_tensor("alpha", alpha, (f"C={logits.shape[1]}",))

    log_p_true = F.log_softmax(logits, dim=1).gather(1, targets.long()[:, None]).squeeze(1)  # log p_t
    p_true = log_p_true.exp()
    losses = -((1 - p_true) ** gamma) * log_p_true
    weights = torch.ones_like(losses) if alpha is None else alpha[targets.long()]  # alpha_t
    losses = weights * losses

    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / weights.sum()


def smoothed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Cross-entropy with label smoothing, by the hand formula ``(1 - eps) * CE + eps * mean_k(-log p_k)``.

    This is the cross-entropy against the smoothed target distribution
    ``(1 - eps) * one_hot + eps / C``, averaged over the batch, and equals
    ``F.cross_entropy(logits, targets, label_smoothing=eps)``.

    Args:
        logits: raw scores, floating point, shape ``(N, C)``.
        targets: class indices in ``[0, C)``, integer, shape ``(N,)``.
        smoothing: ``eps`` in ``[0, 1]``, the probability mass spread evenly over all ``C`` classes.

    Returns:
        The mean loss over the batch, a scalar tensor.

    Raises:
        TypeError: if logits/targets are not tensors of the right dtype or smoothing is not a real number.
        ValueError: on wrong shapes or smoothing outside ``[0, 1]`` (targets: as in :func:`focal_loss`).
    """
    _check_logits_and_targets(logits, targets)
    check_real("smoothing", smoothing, 0, 1)

    log_p = F.log_softmax(logits, dim=1)
    cross_entropy = -log_p.gather(1, targets.long()[:, None]).squeeze(1)  # -log p_y
    uniform_part = -log_p.mean(dim=1)  # (1/C) * sum_k -log p_k
    return ((1 - smoothing) * cross_entropy + smoothing * uniform_part).mean()


# --- Contrastive losses: InfoNCE, NT-Xent (SimCLR) and the symmetric CLIP loss ---


def _check_pairs(first_name: str, first: torch.Tensor, second_name: str, second: torch.Tensor) -> None:
    """Two (N, D) floating-point batches whose row i is a positive pair, N >= 2."""
    check_tensor(first_name, first, ("N", "D"))
    check_tensor(second_name, second, ("N", "D"))
    check_same_shape(first_name, first, second_name, second)
    if first.shape[0] < 2:
        raise ValueError(f"need at least 2 pairs (a positive and at least one negative per row), "
                         f"got N = {first.shape[0]}")


def info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.1,
             reduction: str = "mean") -> torch.Tensor:
    """InfoNCE (van den Oord et al., 2018): ``L_i = -log softmax_j(s_ij / temperature)[i]``.

    Row ``i`` of ``keys`` is the positive of row ``i`` of ``queries``; the other
    ``N - 1`` keys are its negatives. Both are L2-normalized first, so ``s_ij``
    is the cosine similarity, and the loss is the cross-entropy of the
    ``(N, N)`` matrix ``s / temperature`` with the targets ``0, 1, ..., N-1``:
    ``F.cross_entropy(q @ k.T / temperature, torch.arange(N))``.

    Args:
        queries: floating point, shape ``(N, D)``, ``N >= 2``.
        keys: floating point, the same shape; ``keys[i]`` is the positive of ``queries[i]``.
        temperature: ``> 0``; a smaller value sharpens the softmax over the keys.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-query losses, shape ``(N,)``).

    Returns:
        The loss: a scalar tensor, or shape ``(N,)`` with ``reduction="none"``.

    Raises:
        TypeError: if the embeddings are not floating-point tensors or temperature
            is not a real number.
        ValueError: if the embeddings are not both ``(N, D)`` with ``N >= 2``,
            temperature is not positive, or the reduction is unknown.
    """
    _check_pairs("queries", queries, "keys", keys)
    check_real("temperature", temperature, above=0)
    check_choice("reduction", reduction, REDUCTIONS)
    similarities = F.normalize(queries, dim=1) @ F.normalize(keys, dim=1).T  # (N, N), positives on the diagonal
    targets = torch.arange(queries.shape[0], device=queries.device)
    return F.cross_entropy(similarities / temperature, targets, reduction=reduction)


def nt_xent(view1: torch.Tensor, view2: torch.Tensor, temperature: float = 0.5,
            reduction: str = "mean") -> torch.Tensor:
    """NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR (Chen et al., 2020).

    The ``2N`` embeddings ``z = cat([view1, view2])`` are L2-normalized; each one
    has its other view as positive (row ``i`` pairs with ``i + N``, row ``i + N``
    with ``i``) and the remaining ``2N - 2`` embeddings as negatives. Its own
    similarity (always 1) is masked out of the softmax. The loss is averaged
    over all ``2N`` rows.

    Args:
        view1: floating point, shape ``(N, D)``, ``N >= 2``: the first view of each example.
        view2: floating point, the same shape: the second view.
        temperature: ``> 0``; SimCLR's authors use 0.5 on CIFAR-10 (batch 512) and 0.1 on ImageNet (batch 4096).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-embedding losses, shape ``(2N,)``).

    Returns:
        The loss: a scalar tensor, or shape ``(2N,)`` with ``reduction="none"``.

    Raises:
        TypeError: if the views are not floating-point tensors or temperature is not
            a real number.
        ValueError: if the views are not both ``(N, D)`` with ``N >= 2``,
            temperature is not positive, or the reduction is unknown.
    """
    _check_pairs("view1", view1, "view2", view2)
    check_real("temperature", temperature, above=0)
    check_choice("reduction", reduction, REDUCTIONS)
    n = view1.shape[0]
    z = F.normalize(torch.cat([view1, view2]), dim=1)  # (2N, D)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))  # never pick yourself
    targets = (torch.arange(2 * n, device=z.device) + n) % (2 * n)  # i <-> i + N
    return F.cross_entropy(logits, targets, reduction=reduction)


def clip_loss(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
              scale: float | torch.Tensor) -> torch.Tensor:
    """The symmetric contrastive loss of CLIP (Radford et al., 2021).

    Both sides are L2-normalized, ``logits = scale * images @ texts.T`` (shape
    ``(N, N)``, matching pairs on the diagonal), and the loss is the mean of the
    image-to-text cross-entropy (over the rows) and the text-to-image one (over
    the columns, i.e. the rows of ``logits.T``). It equals
    ``(info_nce(images, texts, 1/scale) + info_nce(texts, images, 1/scale)) / 2``.

    Args:
        image_embeddings: floating point, shape ``(N, D)``, ``N >= 2``.
        text_embeddings: floating point, the same shape; row ``i`` describes image ``i``.
        scale: the multiplier of the cosine similarities (``1 / temperature``), a
            positive real number or a one-element tensor, e.g. ``model.logit_scale.exp()``
            (gradients flow through it when it is a learnable tensor). A tensor's
            value is not checked: reading it would wait for the GPU on every step.

    Returns:
        The mean of the two cross-entropies, a scalar tensor.

    Raises:
        TypeError: if the embeddings are not floating-point tensors, or scale is
            neither a real number nor a floating-point tensor.
        ValueError: if the embeddings are not both ``(N, D)`` with ``N >= 2``, a
            number scale is not positive, or a tensor scale has more than one element.
    """
    _check_pairs("image_embeddings", image_embeddings, "text_embeddings", text_embeddings)
    if isinstance(scale, torch.Tensor):
        check_tensor("scale", scale)
        if scale.numel() != 1:
            raise ValueError(f"scale must hold one number, got shape {tuple(scale.shape)}")
    else:
        check_real("scale", scale, above=0)
    images = F.normalize(image_embeddings, dim=1)
    texts = F.normalize(text_embeddings, dim=1)
    logits_per_image = scale * images @ texts.T  # row i: image i against every text
    targets = torch.arange(images.shape[0], device=images.device)
    image_to_text = F.cross_entropy(logits_per_image, targets)
    text_to_image = F.cross_entropy(logits_per_image.T, targets)  # row j of the transpose: text j against every image
    return (image_to_text + text_to_image) / 2
