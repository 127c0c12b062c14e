"""SavedTensorCounter: counts what autograd saves, once per storage, changes nothing, refuses bad input."""

import pytest
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from pytorch_notes.memory import SavedTensorCounter


def test_linear_saves_its_input_and_the_weight_is_excluded():
    layer = nn.Linear(4, 3)
    x = torch.randn(10, 4, requires_grad=True)
    with SavedTensorCounter(exclude=layer.parameters()) as saved:
        layer(x)
    assert (saved.count, saved.nbytes) == (1, 10 * 4 * 4)
    assert saved.saves == 2  # the input and (a transposed view of) the weight
    with SavedTensorCounter() as everything:
        layer(x)
    assert everything.count == 2 and everything.nbytes == 10 * 4 * 4 + 3 * 4 * 4


def test_shared_storage_is_counted_once():
    x = torch.randn(8, 5, requires_grad=True)
    with SavedTensorCounter() as saved:
        y = torch.tanh(x)  # saves y
        (y * y).sum()  # saves y twice more
    assert saved.saves == 3 and saved.count == 1 and saved.nbytes == 8 * 5 * 4


def test_mlp_activations_and_dtype():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
    x = torch.randn(32, 6)
    with SavedTensorCounter(exclude=model.parameters()) as saved:
        model(x)
    # x (the weight gradient needs it) and the two tanh outputs; the second Linear's input is one of them.
    assert saved.count == 3 and saved.nbytes == 32 * 6 * 4 + 2 * 32 * 16 * 4
    model.double()
    with SavedTensorCounter(exclude=model.parameters()) as saved64:
        model(x.double())
    assert saved64.nbytes == 2 * saved.nbytes


def test_no_grad_saves_nothing_and_results_are_unchanged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    x = torch.randn(5, 3)
    with torch.no_grad(), SavedTensorCounter() as saved:
        model(x)
    assert saved.count == saved.saves == saved.nbytes == 0

    model(x).sum().backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with SavedTensorCounter():
        out = model(x)
    out.sum().backward()  # backward after the block still works
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), expected))


def test_checkpoint_saves_only_the_segment_input():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
    x = torch.randn(4, 8, requires_grad=True)
    with SavedTensorCounter(exclude=block.parameters()) as plain:
        block(x)
    with SavedTensorCounter(exclude=block.parameters()) as checkpointed:
        checkpoint(block, x, use_reentrant=False)
    assert plain.count == 3  # x and the two tanh outputs
    assert checkpointed.count == 1 and checkpointed.nbytes == 4 * 8 * 4  # only x


def test_counter_can_be_reused_but_not_nested_into_itself():
    counter = SavedTensorCounter()
    x = torch.randn(3, requires_grad=True)
    with counter:
        x.exp()
    with counter:
        x.exp()
    assert counter.saves == 2
    with pytest.raises(RuntimeError, match="already active"):
        with counter, counter:
            pass


def test_bad_input():
    with pytest.raises(TypeError, match="iterable of tensors"):
        SavedTensorCounter(exclude=torch.ones(3))
    with pytest.raises(TypeError, match="iterable of tensors"):
        SavedTensorCounter(exclude=3)
    with pytest.raises(TypeError, match=r"exclude\[1\] must be a torch.Tensor, got str"):
        SavedTensorCounter(exclude=[torch.ones(2), "weight"])
