"""warmup_cosine and warmup_cosine_scheduler follow the formula, agree with each other and refuse bad input."""

import math

import pytest
import torch

from pytorch_notes.schedules import warmup_cosine, warmup_cosine_scheduler


def optimizer_with(*lrs):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def test_warmup_is_linear_from_zero_to_base_lr():
    assert warmup_cosine(0, 100, 10, 0.5) == 0.0
    assert warmup_cosine(5, 100, 10, 0.5) == pytest.approx(0.25)
    assert warmup_cosine(10, 100, 10, 0.5) == pytest.approx(0.5)


def test_cosine_phase_matches_the_closed_form_and_ends_at_min_lr():
    total, warmup, base, low = 50, 5, 1.0, 0.1
    for step in range(warmup, total):
        t = (step - warmup) / (total - warmup)
        expected = low + 0.5 * (base - low) * (1 + math.cos(math.pi * t))
        assert warmup_cosine(step, total, warmup, base, low) == pytest.approx(expected)
    midpoint = warmup + (total - warmup) / 2
    assert warmup_cosine(int(midpoint), total, warmup, base, low) == pytest.approx((base + low) / 2, abs=0.04)
    assert warmup_cosine(total, total, warmup, base, low) == pytest.approx(low)
    assert warmup_cosine(total + 7, total, warmup, base, low) == pytest.approx(low)


def test_curve_rises_then_never_increases():
    lrs = [warmup_cosine(s, 40, 8, 2.0, 0.2) for s in range(45)]
    assert all(a < b for a, b in zip(lrs[:8], lrs[1:9]))
    assert all(a >= b for a, b in zip(lrs[8:], lrs[9:]))
    assert max(lrs) == pytest.approx(2.0) and min(lrs[8:]) == pytest.approx(0.2)


def test_no_warmup_equals_cosine_annealing_lr():
    optimizer = optimizer_with(0.3)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20, eta_min=0.01)
    for step in range(21):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(warmup_cosine(step, 20, 0, 0.3, 0.01))
        optimizer.step()
        cosine.step()


def test_scheduler_follows_the_function_for_every_group():
    optimizer = optimizer_with(0.1, 0.02)
    scheduler = warmup_cosine_scheduler(optimizer, total_steps=30, warmup_steps=6, min_lr=0.001)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
    for step in range(35):
        for group, base in zip(optimizer.param_groups, (0.1, 0.02)):
            assert group["lr"] == pytest.approx(warmup_cosine(step, 30, 6, base, 0.001))
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.001, 0.001])


def test_scheduler_with_a_zero_lr_group_keeps_it_at_zero():
    optimizer = optimizer_with(0.1, 0.0)
    scheduler = warmup_cosine_scheduler(optimizer, total_steps=10, warmup_steps=2)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[1]["lr"] == 0.0


@pytest.mark.parametrize("args, error, match", [
    ((1.5, 10, 2, 0.1), TypeError, "step must be an int"),
    ((True, 10, 2, 0.1), TypeError, "step must be an int"),
    ((0, 10.0, 2, 0.1), TypeError, "total_steps must be an int"),
    ((0, 10, None, 0.1), TypeError, "warmup_steps must be an int"),
    ((0, 10, 2, "0.1"), TypeError, "base_lr must be a real number"),
    ((0, 10, 2, 0.1, None), TypeError, "min_lr must be a real number"),
    ((-1, 10, 2, 0.1), ValueError, "step must be >= 0"),
    ((0, 0, 0, 0.1), ValueError, "total_steps must be >= 1"),
    ((0, 10, 10, 0.1), ValueError, "warmup_steps must be in"),
    ((0, 10, -1, 0.1), ValueError, "warmup_steps must be in"),
    ((0, 10, 2, -0.1), ValueError, "base_lr must be >= 0"),
    ((0, 10, 2, float("nan")), ValueError, "base_lr must be finite"),
    ((0, 10, 2, 0.1, 0.2), ValueError, "min_lr must be in"),
    ((0, 10, 2, 0.1, -0.01), ValueError, "min_lr must be in"),
])
def test_warmup_cosine_refuses_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        warmup_cosine(*args)


def test_scheduler_refuses_bad_input():
    optimizer = optimizer_with(0.1)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        warmup_cosine_scheduler([torch.zeros(1)], 10, 2)
    with pytest.raises(TypeError, match="total_steps must be an int"):
        warmup_cosine_scheduler(optimizer, 10.5, 2)
    with pytest.raises(ValueError, match="warmup_steps must be in"):
        warmup_cosine_scheduler(optimizer, 10, 11)
    with pytest.raises(ValueError, match="min_lr must be >= 0"):
        warmup_cosine_scheduler(optimizer, 10, 2, min_lr=-1.0)
    with pytest.raises(ValueError, match="must not exceed a group's lr"):
        warmup_cosine_scheduler(optimizer, 10, 2, min_lr=0.5)
    with pytest.raises(TypeError, match="min_lr must be a real number"):
        warmup_cosine_scheduler(optimizer, 10, 2, min_lr="0")
