"""Drawing image batches for the page."""

from __future__ import annotations

from typing import Sequence

import torch

from pytorch_notes._checks import check_int, check_tensor


COLUMN_INCHES = 7.0  # the page's text column on a desktop (688 px); figures are drawn to fit it


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8,
                size: float = 1.2):
    """Draw a batch ``(N, C, H, W)`` of images as a grid and return the matplotlib figure.

    Values must lie in [0, 1] (what ``ToTensor`` gives); use the un-normalized
    images. One or three channels. ``titles`` (one per image) go above the images.
    Each image is ``size`` inches wide, less if the row would be wider than the
    page's column (``COLUMN_INCHES``).
    The images are copied to the CPU first (drawing needs them there), so the
    range check reads no GPU memory.

    Raises:
        TypeError: if ``images`` is not a tensor.
        ValueError: on a wrong shape, values outside [0, 1], or a wrong number of titles.
    """
    import matplotlib.pyplot as plt

    check_tensor("images", images, dtype=None)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    images = images.detach().cpu()
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"image values must lie in [0, 1], got [{images.min():.3g}, {images.max():.3g}]; "
                         "show the images before Normalize")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    ncols = min(check_int("ncols", ncols, 1), len(images))
    nrows = -(-len(images) // ncols)
    size = min(size, COLUMN_INCHES / ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * nrows * bool(titles)),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            pixels = images[index].permute(1, 2, 0).numpy()
            axis.imshow(pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                axis.set_title(titles[index], fontsize=8)
    figure.tight_layout()
    return figure
