"""Counting the activations autograd keeps for the backward pass.

A forward pass saves, for every operation that needs them, the tensors its
backward will read: the input of a ``Linear``, the output of a ``tanh``, a
dropout mask. Between the forward and the backward pass these saved tensors
are most of a network's memory, and they are what mixed precision halves and
gradient checkpointing trades for recomputation. :class:`SavedTensorCounter`
measures them on any device, the CPU included, by listening to
``torch.autograd.graph.saved_tensors_hooks``.
Introduced by the chapter "Gradient checkpointing" (engineering/checkpointing)
and used by "Mixed precision (AMP)" (engineering/amp).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from pytorch_notes._checks import check_tensor


class SavedTensorCounter:
    """Context manager: count the tensors (and bytes) autograd saves for backward.

    Inside the ``with`` block, every tensor an operation saves for its backward
    pass goes through a pack hook that records its storage. Several saves of the
    same memory (a ``tanh`` output that the next ``Linear`` saves again as its
    input, a transposed view of a weight) are counted once, by storage. Storages
    of the tensors in ``exclude`` (typically ``model.parameters()``, which exist
    anyway) and empty storages are not counted, so what remains is the activations. Tensors are
    returned unchanged: the forward and backward passes compute exactly what
    they compute without the counter.

    The counter sees what autograd saves while the block runs. Gradient
    checkpointing with ``use_reentrant=False`` saves a checkpointed segment's
    inputs (counted) and nothing inside the segment (its own hook takes over
    there); the tensors it recomputes during backward are not seen.

    Args:
        exclude: tensors whose storages are not counted (e.g. the parameters).

    Attributes:
        saves: number of save events, duplicates included.
        count: number of distinct storages counted.
        nbytes: their total size in bytes.

    Example:
        >>> layer = torch.nn.Linear(4, 3)
        >>> with SavedTensorCounter(exclude=layer.parameters()) as saved:
        ...     out = layer(torch.randn(10, 4, requires_grad=True))
        >>> saved.count, saved.nbytes  # the (10, 4) float32 input
        (1, 160)

    Raises:
        TypeError: if ``exclude`` is not an iterable of tensors.
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()):
        if isinstance(exclude, torch.Tensor) or not isinstance(exclude, Iterable):
            raise TypeError(f"exclude must be an iterable of tensors (e.g. model.parameters()), "
                            f"got {type(exclude).__name__}")
        exclude = list(exclude)
        for i, item in enumerate(exclude):
            check_tensor(f"exclude[{i}]", item, dtype=None)
        self._excluded = {t.untyped_storage().data_ptr() for t in exclude}
        self._storages: dict[int, torch.UntypedStorage] = {}
        self._hooks = None
        self.saves = 0
        self.count = 0
        self.nbytes = 0

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self.saves += 1
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if storage.nbytes() > 0 and key not in self._excluded and key not in self._storages:
            self._storages[key] = storage  # held until exit, so no address is reused meanwhile
            self.count += 1
            self.nbytes += storage.nbytes()
        return tensor

    def __enter__(self) -> "SavedTensorCounter":
        if self._hooks is not None:
            raise RuntimeError("this SavedTensorCounter is already active")
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._hooks.__exit__(*exc_info)
        self._hooks = None
        self._storages.clear()
