"""Learning-rate schedule: linear warmup, then cosine decay.

``warmup_cosine`` gives the learning rate at one step as a plain number;
``warmup_cosine_scheduler`` wraps the same curve in a
``torch.optim.lr_scheduler.LambdaLR`` for a real optimizer (one curve per
parameter group, each scaled to that group's own learning rate).

The curve, with ``W = warmup_steps`` and ``T = total_steps``::

    step < W:       lr = base_lr * step / W              (0 -> base_lr)
    W <= step < T:  lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * t)) / 2
                    with t = (step - W) / (T - W)        (base_lr -> min_lr)
    step >= T:      lr = min_lr
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from pytorch_notes._checks import check_int, check_real, check_type


def _check_steps(total_steps: object, warmup_steps: object) -> None:
    check_int("total_steps", total_steps, 1)
    check_int("warmup_steps", warmup_steps, 0, total_steps - 1)


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, base_lr: float, min_lr: float = 0.0) -> float:
    """Learning rate at ``step`` of a linear-warmup + cosine-decay schedule.

    The rate rises linearly from 0 (at step 0) to ``base_lr`` (at step
    ``warmup_steps``), then follows half a cosine down to ``min_lr``, which it
    reaches at ``total_steps`` and keeps afterwards. With ``warmup_steps=0`` the
    curve is ``torch.optim.lr_scheduler.CosineAnnealingLR`` with
    ``T_max=total_steps`` and ``eta_min=min_lr``.

    Args:
        step: the step index, an int ``>= 0`` (the number of optimizer steps taken so far).
        total_steps: length of the schedule, an int ``>= 1``.
        warmup_steps: length of the linear warmup, an int in ``[0, total_steps)``.
        base_lr: the peak learning rate, ``>= 0``.
        min_lr: the final learning rate, in ``[0, base_lr]``.

    Returns:
        The learning rate, a float.

    Raises:
        TypeError: if a step count is not an int (bools are refused) or a rate is
            not a real number.
        ValueError: if ``step < 0``, ``total_steps < 1``, ``warmup_steps`` is not in
            ``[0, total_steps)``, a rate is not finite, ``base_lr < 0`` or ``min_lr``
            is not in ``[0, base_lr]``.
    """
    check_int("step", step, 0)
    _check_steps(total_steps, warmup_steps)
    check_real("base_lr", base_lr, 0)
    min_lr = check_real("min_lr", min_lr, 0, base_lr)
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))  # stays at min_lr after T
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


def warmup_cosine_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int,
                            min_lr: float = 0.0) -> LambdaLR:
    """A ``LambdaLR`` that follows :func:`warmup_cosine` for every parameter group.

    Each group's current ``lr`` is its peak (``base_lr``); ``LambdaLR`` multiplies
    it by ``warmup_cosine(step, ...) / base_lr``, so after ``k`` calls of
    ``scheduler.step()`` the group's ``lr`` is ``warmup_cosine(k, ..., base_lr, min_lr)``.
    Call ``optimizer.step()`` first, then ``scheduler.step()``, once per batch.
    Note that the first step (step 0) runs at learning rate 0 when ``warmup_steps > 0``.

    Args:
        optimizer: the optimizer whose learning rates to schedule.
        total_steps: length of the schedule, an int ``>= 1``.
        warmup_steps: length of the linear warmup, an int in ``[0, total_steps)``.
        min_lr: the final learning rate of every group, in ``[0, lr]`` for each group's ``lr``.

    Returns:
        A ``torch.optim.lr_scheduler.LambdaLR`` (it also sets each group's ``lr``
        to the step-0 value).

    Raises:
        TypeError: if ``optimizer`` is not a ``torch.optim.Optimizer``, a step count
            is not an int, or ``min_lr`` is not a real number.
        ValueError: if ``total_steps < 1``, ``warmup_steps`` is not in
            ``[0, total_steps)``, or ``min_lr`` is negative, not finite, or above a
            group's learning rate.
    """
    check_type("optimizer", optimizer, torch.optim.Optimizer, "a torch.optim.Optimizer")
    _check_steps(total_steps, warmup_steps)
    check_real("min_lr", min_lr, 0)
    base_lrs = [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]
    if min_lr > min(base_lrs):
        raise ValueError(f"min_lr ({min_lr}) must not exceed a group's lr ({min(base_lrs)})")

    def factor(base_lr: float):  # LambdaLR multiplies the group's lr by it
        if base_lr == 0:
            return lambda step: 0.0
        return lambda step: warmup_cosine(step, total_steps, warmup_steps, base_lr, min_lr) / base_lr

    return LambdaLR(optimizer, [factor(lr) for lr in base_lrs])
