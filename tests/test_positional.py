import math

import pytest
import torch

from pytorch_notes.positional import apply_rope, sinusoidal_encoding


def test_sinusoidal_encoding_follows_the_formula():
    encoding = sinusoidal_encoding(torch.arange(5), 8)
    assert encoding.shape == (5, 8) and encoding.dtype == torch.float32
    p, i = 3, 1
    omega = 10000 ** (-2 * i / 8)
    assert math.isclose(encoding[p, 2 * i].item(), math.sin(p * omega), abs_tol=1e-6)
    assert math.isclose(encoding[p, 2 * i + 1].item(), math.cos(p * omega), abs_tol=1e-6)
    assert torch.equal(encoding[0, 1::2], torch.ones(4))  # cos(0) = 1


def test_sinusoidal_encoding_takes_fractional_positions():
    encoding = sinusoidal_encoding(torch.tensor([0.5, 999.0], dtype=torch.float64), 4)
    assert encoding.dtype == torch.float64 and encoding.abs().max() <= 1


@pytest.mark.parametrize("positions, dim, base, error, match", [
    ([1, 2], 4, 10000.0, TypeError, "torch.Tensor"),
    (torch.zeros(2, 2), 4, 10000.0, ValueError, r"positions must have shape \(L,\)"),
    (torch.arange(3), 4.0, 10000.0, TypeError, "dim must be an int"),
    (torch.arange(3), 5, 10000.0, ValueError, "even"),
    (torch.arange(3), 4, 1.0, ValueError, "base must be > 1"),
    (torch.arange(3), 4, "1e4", TypeError, "base must be a real number"),
])
def test_sinusoidal_encoding_refuses_bad_input(positions, dim, base, error, match):
    with pytest.raises(error, match=match):
        sinusoidal_encoding(positions, dim, base)


def test_apply_rope_rotates_each_interleaved_pair():
    x = torch.tensor([[1.0, 0.0, 0.0, 2.0]])  # one position, pairs (1, 0) and (0, 2)
    out = apply_rope(x, torch.tensor([3]), base=100.0)
    w0, w1 = 1.0, 100.0 ** (-2 / 4)  # omega_0, omega_1
    expected = torch.tensor([[math.cos(3 * w0), math.sin(3 * w0), -2 * math.sin(3 * w1), 2 * math.cos(3 * w1)]])
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(apply_rope(x, torch.tensor([0])), x)  # position 0: identity


def test_apply_rope_scores_depend_on_relative_position_only():
    torch.manual_seed(0)
    q, k = torch.randn(8), torch.randn(8)
    positions = torch.arange(40, dtype=torch.float64)
    q_rot = apply_rope(q.double().expand(40, 8), positions)
    k_rot = apply_rope(k.double().expand(40, 8), positions)
    scores = q_rot @ k_rot.T
    for shift in (1, 7, 25):
        assert torch.allclose(scores[shift:, shift:], scores[:-shift, :-shift])
    assert torch.allclose(q_rot.norm(dim=-1), q.double().norm().expand(40))
    assert q_rot.dtype == torch.float64


def test_apply_rope_keeps_shape_and_dtype_and_matches_sinusoidal_angles():
    x = torch.randn(2, 3, 5, 6, dtype=torch.float16)
    out = apply_rope(x, torch.arange(5))
    assert out.shape == x.shape and out.dtype == torch.float16
    # Rotating the pair (0, 1) by p * omega_i gives (sin, cos): the sinusoidal encoding.
    pairs = torch.tensor([0.0, 1.0]).repeat(3).expand(7, 6)
    assert torch.allclose(apply_rope(pairs, torch.arange(7)),
                          sinusoidal_encoding(torch.arange(7), 6) * torch.tensor([-1.0, 1.0]).repeat(3), atol=1e-6)


@pytest.mark.parametrize("x, positions, base, error, match", [
    ([[1.0, 2.0]], torch.arange(1), 10000.0, TypeError, "torch.Tensor"),
    (torch.ones(3, 4, dtype=torch.long), torch.arange(3), 10000.0, TypeError, "floating-point"),
    (torch.ones(4), torch.arange(1), 10000.0, ValueError, "even dim"),
    (torch.ones(3, 5), torch.arange(3), 10000.0, ValueError, "even dim"),
    (torch.ones(3, 4), [0, 1, 2], 10000.0, TypeError, "positions must be a torch.Tensor"),
    (torch.ones(3, 4), torch.arange(4), 10000.0, ValueError, "one entry per row"),
    (torch.ones(3, 4), torch.zeros(3, 1), 10000.0, ValueError, "one entry per row"),
    (torch.ones(3, 4), torch.arange(3), 0.5, ValueError, "base"),
])
def test_apply_rope_refuses_bad_input(x, positions, base, error, match):
    with pytest.raises(error, match=match):
        apply_rope(x, positions, base)
