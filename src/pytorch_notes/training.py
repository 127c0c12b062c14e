"""The training loop of the book: ``fit`` trains, ``evaluate`` measures.

One epoch of ``fit`` is the loop the ``nn`` chapters write by hand
(``zero_grad → forward → loss → backward → step``), plus what a real run
needs: a tqdm progress bar, TensorBoard scalars, evaluation in ``eval()`` mode
under ``torch.no_grad()``, and a checkpoint after every epoch from which an
interrupted run resumes.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

import torch
from torch import nn

from pytorch_notes.checkpoints import checkpoint_path, latest_checkpoint, load_checkpoint, save_checkpoint


def _device_of(model: nn.Module, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _loader_generators(loader: Iterable) -> list[torch.Generator]:
    """The random generators a DataLoader draws its order from: its own and its sampler's."""
    found = [getattr(loader, "generator", None), getattr(getattr(loader, "sampler", None), "generator", None)]
    return list({id(g): g for g in found if isinstance(g, torch.Generator)}.values())


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str | torch.device | None = None
             ) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader``, in ``eval()`` mode without gradients.

    The loss is averaged over samples (each batch's mean loss weighted by its
    size), so a short last batch counts as much as it should.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or ``loss_fn`` is not callable.
        ValueError: if ``loader`` yields no samples.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable, e.g. nn.CrossEntropyLoss()")
    device = _device_of(model, device)
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += loss_fn(logits, labels).item() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += len(labels)
    if seen == 0:
        raise ValueError("the loader yielded no samples")
    return {"loss": total_loss / seen, "accuracy": correct / seen}


def fit(model: nn.Module, train_loader: Iterable, loss_fn: Callable, optimizer: torch.optim.Optimizer,
        epochs: int, val_loader: Iterable | None = None, scheduler: Any | None = None,
        device: str | torch.device | None = None, checkpoint_dir: str | os.PathLike | None = None,
        log_dir: str | os.PathLike | None = None, progress: bool = True) -> list[dict[str, float]]:
    """Train for ``epochs`` epochs and return one record per epoch.

    Each record holds ``epoch``, ``train_loss`` and ``train_accuracy`` (measured
    during the epoch, in ``train()`` mode), plus ``val_loss`` and ``val_accuracy``
    when ``val_loader`` is given. With ``log_dir`` the same numbers go to
    TensorBoard as ``loss/train``, ``accuracy/val``, ... With ``checkpoint_dir``
    the full state is saved after every epoch (``epoch-001.pt``, ...), and a
    new call resumes after the last saved epoch: a run killed at any moment
    loses at most the epoch in progress, and ends with the same weights as a run
    that was never interrupted (the checkpoint also holds the state of the
    loader's own seeded ``generator``, if it has one, so the next epoch is
    shuffled as it would have been).

    Raises:
        TypeError: on a model that is not an ``nn.Module``, a loss that is not callable,
            or ``epochs`` that is not an int.
        ValueError: if ``epochs < 1``.
    """
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable, e.g. nn.CrossEntropyLoss()")
    if not isinstance(epochs, int) or isinstance(epochs, bool):
        raise TypeError(f"epochs must be an int, got {type(epochs).__name__}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    device = _device_of(model, device)
    history: list[dict[str, float]] = []
    start = 0
    last = latest_checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    if last is not None:
        state = load_checkpoint(last, model, optimizer, scheduler, map_location=device)
        start, history = state["epoch"], state["history"]
        for generator, saved in zip(_loader_generators(train_loader), state.get("loader_rng", [])):
            generator.set_state(saved)
        print(f"resuming after epoch {start} from {last.name}")
    writer = SummaryWriter(log_dir, purge_step=start + 1) if log_dir is not None else None
    try:
        for epoch in range(start + 1, epochs + 1):
            model.train()
            total_loss, correct, seen = 0.0, 0, 0
            for images, labels in tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", disable=not progress,
                                       leave=False):
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                optimizer.zero_grad()
                logits = model(images)
                loss = loss_fn(logits, labels)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(labels)  # .item(): a float, not a tensor holding the graph
                correct += (logits.argmax(dim=1) == labels).sum().item()
                seen += len(labels)
            if scheduler is not None:
                scheduler.step()
            record = {"epoch": epoch, "train_loss": total_loss / seen, "train_accuracy": correct / seen}
            if val_loader is not None:
                scores = evaluate(model, val_loader, loss_fn, device)
                record.update(val_loss=scores["loss"], val_accuracy=scores["accuracy"])
            history.append(record)
            if writer is not None:
                for name, value in record.items():
                    if name != "epoch":
                        split, metric = name.split("_")
                        writer.add_scalar(f"{metric}/{split}", value, epoch)
                writer.flush()
            if checkpoint_dir is not None:
                save_checkpoint(checkpoint_path(checkpoint_dir, epoch), model, optimizer, scheduler, epoch,
                                history=history,
                                loader_rng=[g.get_state() for g in _loader_generators(train_loader)])
    finally:
        if writer is not None:
            writer.close()
    return history
