"""Blockwise int8 and NF4 quantisation, 4-bit packing and NF4Linear: bounds, round trips, sizes, bad input."""

import pytest
import torch
import torch.nn as nn

from pytorch_notes.quantization import (
    NF4Linear,
    dequantize_int8,
    dequantize_nf4,
    nf4_levels,
    pack_4bit,
    quantize_int8,
    quantize_nf4,
    unpack_4bit,
)

# bitsandbytes' get_4bit_type("nf4")
PUBLISHED_NF4 = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
]


def test_int8_round_trip_is_within_half_a_step_of_each_block():
    torch.manual_seed(0)
    x = torch.randn(8, 96) * torch.logspace(-3, 1, 8)[:, None]  # blocks of very different scales
    codes, absmax = quantize_int8(x, block_size=32)
    assert codes.dtype == torch.int8 and codes.shape == (24, 32) and absmax.shape == (24,)
    assert torch.equal(absmax, x.reshape(24, 32).abs().amax(dim=1))
    assert torch.equal(codes.abs().amax(dim=1), torch.full((24,), 127, dtype=torch.int8))
    restored = dequantize_int8(codes, absmax, x.shape)
    assert restored.shape == x.shape
    error = (restored - x).abs().reshape(24, 32)
    assert (error <= absmax[:, None] / 254 * (1 + 1e-5)).all()


def test_int8_zero_block_and_exact_values():
    x = torch.tensor([0.0, 0.0, 0.0, 0.0, -2.0, 1.0, 0.5, 2.0])
    codes, absmax = quantize_int8(x, block_size=4)
    assert absmax.tolist() == [0.0, 2.0]
    assert codes.tolist() == [[0, 0, 0, 0], [-127, 64, 32, 127]]  # round(63.5) = 64: half to even
    assert torch.equal(dequantize_int8(codes, absmax, (8,))[:4], torch.zeros(4))


def test_nf4_levels_match_the_published_table():
    levels = nf4_levels()
    assert levels.dtype == torch.float32 and levels.shape == (16,)
    assert torch.allclose(levels, torch.tensor(PUBLISHED_NF4), atol=1e-6, rtol=0)
    assert (levels.diff() > 0).all() and levels[7] == 0 and levels[0] == -1 and levels[-1] == 1


def test_pack_and_unpack():
    codes = torch.arange(16).repeat(3)
    packed = pack_4bit(codes)
    assert packed.dtype == torch.uint8 and packed.numel() == 24
    assert packed[:2].tolist() == [0x01, 0x23]
    assert torch.equal(unpack_4bit(packed), codes)
    assert torch.equal(unpack_4bit(pack_4bit(codes.view(4, 12).to(torch.uint8))), codes)


def test_nf4_round_trip_picks_the_nearest_level():
    torch.manual_seed(0)
    x = torch.randn(4, 64)
    packed, absmax = quantize_nf4(x, block_size=32)
    assert packed.numel() == 128 and absmax.shape == (8,)
    restored = dequantize_nf4(packed, absmax, (4, 64))
    scaled = (x.reshape(8, 32) / absmax[:, None]).reshape(-1, 1)
    nearest = nf4_levels()[(scaled - nf4_levels()).abs().argmin(dim=1)]
    assert torch.allclose(restored.reshape(8, 32), nearest.reshape(8, 32) * absmax[:, None])
    assert torch.equal(restored.abs().reshape(8, 32).amax(dim=1), absmax)  # the absmax itself is exact


def test_nf4_has_less_error_than_uniform_int4_on_normal_weights():
    for seed in range(3):
        torch.manual_seed(seed)
        w = torch.randn(128, 128)
        nf4 = dequantize_nf4(*quantize_nf4(w), w.shape)
        b = w.reshape(-1, 64)
        a = b.abs().amax(dim=1, keepdim=True)
        int4 = (torch.round(b / a * 7) / 7 * a).reshape(w.shape)
        assert (nf4 - w).pow(2).mean() < (int4 - w).pow(2).mean()


def test_nf4_linear_stores_four_bits_and_computes_with_the_dequantised_weight():
    torch.manual_seed(0)
    linear = nn.Linear(128, 32)
    layer = NF4Linear(linear)
    assert layer.codes.nbytes == 128 * 32 // 2 and layer.absmax.nbytes == 128 * 32 // 64 * 4
    assert list(layer.parameters()) == [layer.bias] and not layer.bias.requires_grad
    assert torch.equal(layer.weight, dequantize_nf4(*quantize_nf4(linear.weight), (32, 128)))
    x = torch.randn(2, 5, 128, requires_grad=True)
    out = layer(x)
    expected = x @ layer.weight.T + linear.bias
    assert out.shape == (2, 5, 32) and torch.allclose(out, expected, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    assert torch.allclose(x.grad, grad @ layer.weight, atol=1e-5)
    assert NF4Linear(nn.Linear(64, 2, bias=False)).bias is None
    assert "block_size=64" in repr(layer)


def test_nf4_linear_saves_no_weight_for_backward():
    from pytorch_notes.memory import SavedTensorCounter

    layer = NF4Linear(nn.Linear(64, 64, bias=False))
    x = torch.randn(3, 64, requires_grad=True)
    with SavedTensorCounter() as saved:
        layer(x)
    assert saved.saves == 0


@pytest.mark.parametrize("call, error, match", [
    (lambda: quantize_int8([1.0, 2.0]), TypeError, "x must be a torch.Tensor"),
    (lambda: quantize_int8(torch.arange(64)), TypeError, "floating-point"),
    (lambda: quantize_int8(torch.randn(10), block_size=4), ValueError, "divisible by block_size=4"),
    (lambda: quantize_int8(torch.randn(8), block_size=0), ValueError, "block_size must be >= 1"),
    (lambda: quantize_int8(torch.randn(8), block_size=2.0), TypeError, "block_size must be an int"),
    (lambda: quantize_nf4(torch.randn(3), block_size=1), ValueError, "even number"),
    (lambda: dequantize_int8(torch.zeros(4, 8), torch.ones(4), (32,)), TypeError, "torch.int8"),
    (lambda: dequantize_int8(torch.zeros(4, 8, dtype=torch.int8), torch.ones(4), (30,)), ValueError,
     "do not fit"),
    (lambda: dequantize_int8(torch.zeros(4, 8, dtype=torch.int8), torch.ones(4), "32"), TypeError, "shape"),
    (lambda: dequantize_nf4(torch.zeros(16, dtype=torch.uint8), torch.ones(2), (33,)), ValueError, "do not fit"),
    (lambda: pack_4bit(torch.tensor([1, 2, 3])), ValueError, "even number"),
    (lambda: pack_4bit(torch.tensor([1, 16])), ValueError, r"\[0, 15\]"),
    (lambda: pack_4bit(torch.tensor([-1, 0])), ValueError, r"\[0, 15\]"),
    (lambda: pack_4bit(torch.tensor([0.0, 1.0])), TypeError, "integer"),
    (lambda: unpack_4bit(torch.tensor([1, 2])), TypeError, "torch.uint8"),
    (lambda: NF4Linear(nn.Conv1d(2, 2, 1)), TypeError, "linear must be an nn.Linear"),
    (lambda: NF4Linear(nn.Linear(5, 5)), ValueError, "divisible by block_size=64"),
])
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
