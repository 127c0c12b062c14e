"""Checkpoints that lose nothing: full training state, written atomically, loaded safely.

A checkpoint holds everything a training run needs to continue as if it had
never stopped: the model's and the optimizer's state, the scheduler's, the
mixed-precision ``GradScaler``'s (its loss scale and growth counter), the
number of finished epochs, and the state of every random generator (Python,
NumPy, PyTorch on the CPU and on each GPU), so the next epoch shuffles and
drops out exactly as it would have.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "pytorch_notes.checkpoint/1"
PATTERN = "epoch-*.pt"  # checkpoint_path() names files epoch-001.pt, epoch-002.pt, ...


def _rng_state() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                  "has_gauss": has_gauss, "cached_gauss": cached_gauss},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file next to ``path``, then rename it into place.

    A crash mid-write leaves the previous file (or none), never half a file: the
    rename is atomic on POSIX and Windows. Missing parent folders are created.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path, got {type(path).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _check_scaler(scaler: Any) -> None:
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(f"scaler must be a torch.amp.GradScaler or None, got {type(scaler).__name__}")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any | None = None, epoch: int = 0, *, scaler: torch.amp.GradScaler | None = None,
                    **extra: Any) -> Path:
    """Write the full training state after ``epoch`` finished epochs, atomically.

    ``scaler``, the ``GradScaler`` of an fp16 run, is saved too: its scale and
    growth counter decide which of the next steps are skipped. ``extra`` values
    (e.g. the loss history) are stored too; they must be plain Python data or
    tensors, so that ``weights_only=True`` can load them.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``, ``epoch`` is not an int,
            or ``scaler`` is not a ``torch.amp.GradScaler``.
        ValueError: if ``epoch`` is negative.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    _check_scaler(scaler)
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise TypeError(f"epoch must be an int, got {type(epoch).__name__}")
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    state = {
        "format": FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": _rng_state(),
        "extra": extra,
    }
    if scaler is not None:  # only then: files without a scaler keep their layout
        state["scaler"] = scaler.state_dict()
    return atomic_save(state, path)


def load_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any | None = None, map_location: str | torch.device = "cpu",
                    restore_rng: bool = True, *, scaler: torch.amp.GradScaler | None = None) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; return ``{"epoch": ..., **extra}``.

    Loads with ``weights_only=True``: the file can hold tensors and plain data,
    but no code. The model's state is loaded strictly (every key must match).
    Pass ``scaler`` to restore a ``GradScaler``'s scale and growth counter.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        TypeError: if ``scaler`` is not a ``torch.amp.GradScaler``.
        ValueError: if the file is truncated, corrupted, not a checkpoint of this format,
            holds objects that ``weights_only=True`` refuses, or if it lacks the optimizer,
            scheduler or scaler state you ask to restore.
    """
    _check_scaler(scaler)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):  # not a refused class or function: broken bytes
            raise ValueError(f"{path} is not a complete checkpoint (truncated or corrupted?): {error}") from error
        raise ValueError(f"{path} holds objects other than tensors and plain data, which could run code "
                         "when loaded; refused (weights_only=True)") from error
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise ValueError(f"{path} is not a complete checkpoint (truncated or corrupted?): "
                         f"{str(error).splitlines()[0]}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint")
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if target is not None and state.get(name) is None:  # "scaler" is there only if one was saved
            raise ValueError(f"{path} holds no {name} state to restore")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        _set_rng_state(state["rng"])
    return {"epoch": state["epoch"], **state["extra"]}


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The checkpoint with the highest epoch in ``folder`` (files ``epoch-NNN.pt``), or None."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}")
    numbered = [(int(match[1]), path) for path in Path(folder).glob(PATTERN)
                if (match := re.fullmatch(r"epoch-(\d+)", path.stem))]
    return max(numbered)[1] if numbered else None


def checkpoint_path(folder: str | os.PathLike, epoch: int) -> Path:
    """Where the checkpoint after ``epoch`` epochs goes: ``folder/epoch-NNN.pt``."""
    return Path(folder) / f"epoch-{epoch:03d}.pt"
