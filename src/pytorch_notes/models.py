"""The models the chapters build: ``Moli`` for CIFAR-10 and ``LeNet`` for MNIST.

Each chapter that introduces one builds it line by line first; later chapters
import it from here.
"""

from __future__ import annotations

import contextlib
import io
import os

import torch
from torch import nn


def _check_images(model: nn.Module, x: torch.Tensor, channels: int, size: int) -> None:
    if torch.jit.is_tracing():
        return  # add_graph traces the model: a shape check would be frozen into the graph, with a warning
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{type(model).__name__} expects a tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1:] != (channels, size, size):
        raise ValueError(f"{type(model).__name__} expects a batch of shape (N, {channels}, {size}, {size}), "
                         f"got {tuple(x.shape)}; add a batch dimension with x.unsqueeze(0)")


class Moli(nn.Module):
    """A small CIFAR-10 classifier: three 5×5 conv + max-pool stages, then two linear layers.

    Input ``(N, 3, 32, 32)``, output ``(N, num_classes)`` logits. Each 5×5
    convolution has ``padding=2`` so it keeps the spatial size, and each pool
    halves it: 32 → 16 → 8 → 4, so the flattened features are 64·4·4 = 1024.
    ReLU follows every layer but the last (the course this comes from left
    them out, which leaves max pooling as the only non-linearity).

    Raises:
        ValueError: in ``forward``, if the input is not ``(N, 3, 32, 32)``.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 64), nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(self, x, 3, 32)
        return self.model(x)


class LeNet(nn.Module):
    """LeNet-5 for 28×28 grayscale digits (MNIST), with ReLU and max pooling.

    ``padding=2`` on the first convolution makes a 28×28 digit behave like
    LeNet's original 32×32 input: 28 → conv 28 → pool 14 → conv 10 → pool 5,
    so the classifier sees 16·5·5 = 400 features.

    Raises:
        ValueError: in ``forward``, if the input is not ``(N, 1, 28, 28)``.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(self, x, 1, 28)
        return self.classifier(self.features(x))


VGG16_FILE = "vgg16-397923af.pth"  # torchvision's file name: 397923af starts its SHA-256


def vgg16(pretrained: bool = True, root: str | os.PathLike | None = None) -> nn.Module:
    """torchvision's VGG16, with its ImageNet weights when they can be had.

    ``pretrained=True`` loads ``VGG16_Weights.IMAGENET1K_V1`` (the modern
    ``weights=`` API; the old ``pretrained=True`` argument is deprecated) from
    ``<data root>/weights/vgg16-397923af.pth`` (``python -m pytorch_notes
    data`` puts it there), else from torch's cache (``$TORCH_HOME``) or a
    download (528 MB). When none works, e.g. offline, one line says so and the
    model keeps its random initialization: the architecture is the same, so
    code that edits or inspects it still runs. ``model.pretrained`` says which.

    Raises:
        TypeError: if ``pretrained`` is not a bool.
        ValueError: if the file under the data root is not a readable checkpoint.
    """
    from torchvision.models import VGG16_Weights
    from torchvision.models import vgg16 as build_vgg16

    from pytorch_notes.datasets import data_root

    if not isinstance(pretrained, bool):
        raise TypeError(f"pretrained must be a bool, got {type(pretrained).__name__}")
    model = build_vgg16(weights=None)
    model.pretrained = False
    if not pretrained:
        return model
    local = data_root(root) / "weights" / VGG16_FILE
    if local.is_file():
        try:
            state = torch.load(local, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(f"{local} is not a readable checkpoint ({error}); delete it and run "
                             "python -m pytorch_notes data") from error
    else:
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                state = VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=False)  # cache, else download
        except (OSError, RuntimeError) as error:  # URLError is an OSError
            print(f"[pytorch_notes] VGG16: ImageNet weights unavailable ({type(error).__name__}); "
                  "using random initialization. Get them with: python -m pytorch_notes data")
            return model
    model.load_state_dict(state)
    model.pretrained = True
    return model
