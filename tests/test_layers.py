"""Unit tests of pytorch_notes.layers, bad input included."""

import pytest
import torch
import torch.nn as nn

from pytorch_notes.attention import causal_mask
from pytorch_notes.layers import PostLNBlock, PreLNBlock, RMSNorm


def test_rms_norm_matches_the_formula_and_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6) * 3 + 1
    ours, theirs = RMSNorm(6, eps=1e-5), nn.RMSNorm(6, eps=1e-5)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        theirs.weight.copy_(ours.weight)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * ours.weight
    assert ours(x).shape == x.shape
    assert torch.allclose(ours(x), expected, atol=1e-6)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    assert torch.equal(RMSNorm(4).weight, torch.ones(4))


def test_rms_norm_equals_layer_norm_only_for_zero_mean_input():
    torch.manual_seed(0)
    x = torch.randn(5, 8) + 1
    rms, layer = RMSNorm(8, eps=1e-6), nn.LayerNorm(8, eps=1e-6)
    centered = x - x.mean(-1, keepdim=True)
    assert torch.allclose(rms(centered), layer(centered), atol=1e-5)
    assert not torch.allclose(rms(x), layer(x), atol=1e-2)


def test_rms_norm_gradient():
    x = torch.randn(3, 4, dtype=torch.double, requires_grad=True)
    norm = RMSNorm(4).double()
    assert torch.autograd.gradcheck(norm, (x,))


@pytest.mark.parametrize("args, error, match", [((4.0,), TypeError, "size"), ((0,), ValueError, "size"),
                                                ((True,), TypeError, "size"), ((4, "1e-6"), TypeError, "eps"),
                                                ((4, -1.0), ValueError, "eps")])
def test_rms_norm_rejects_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        RMSNorm(*args)


def test_rms_norm_rejects_bad_input():
    norm = RMSNorm(4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        norm([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="floating-point"):
        norm(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        norm(torch.ones(2, 5))


@pytest.mark.parametrize("norm_first, Block", [(False, PostLNBlock), (True, PreLNBlock)])
@pytest.mark.parametrize("masked", [False, True])
def test_blocks_match_torch_encoder_layer(norm_first, Block, masked):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(12, 3, 20, dropout=0.0, batch_first=True, norm_first=norm_first)
    block = Block(12, 3, 20)
    block.copy_from(layer)
    x = torch.randn(3, 6, 12)
    mask = causal_mask(6) if masked else None
    expected = layer(x, src_mask=None if mask is None else ~mask)
    assert block(x, mask).shape == (3, 6, 12)
    assert torch.allclose(block(x, mask), expected, atol=1e-5)
    assert sum(p.numel() for p in block.parameters()) == sum(p.numel() for p in layer.parameters())


def test_copy_from_rejects_other_layers():
    block = PreLNBlock(12, 3, 20)
    with pytest.raises(TypeError, match="nn.TransformerEncoderLayer"):
        block.copy_from(nn.Linear(12, 12))
    with pytest.raises(ValueError, match="d_model=8"):
        block.copy_from(nn.TransformerEncoderLayer(8, 2, 20, batch_first=True))


def test_pre_ln_with_silent_branches_is_the_identity():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8)
    for Block in (PreLNBlock, PostLNBlock):
        block = Block(8, 2, 16)
        with torch.no_grad():
            for last in (block.self_attn.out_proj, block.linear2):
                last.weight.zero_()
                last.bias.zero_()
        assert torch.equal(block(x), x) == (Block is PreLNBlock)


def test_post_ln_output_is_normalized():
    torch.manual_seed(0)
    y = PostLNBlock(8, 2, 16)(torch.randn(2, 4, 8) * 5 + 3)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 4), atol=1e-5)
    assert torch.allclose(y.var(-1, correction=0), torch.ones(2, 4), atol=1e-3)


@pytest.mark.parametrize("Block", [PostLNBlock, PreLNBlock])
def test_blocks_reject_bad_arguments(Block):
    with pytest.raises(TypeError, match="d_model"):
        Block(8.0, 2, 16)
    with pytest.raises(ValueError, match="num_heads"):
        Block(8, 0, 16)
    with pytest.raises(ValueError, match="must divide"):
        Block(8, 3, 16)
    with pytest.raises(TypeError, match="dim_feedforward"):
        Block(8, 2, None)
    with pytest.raises(ValueError, match="dim_feedforward"):
        Block(8, 2, -4)


@pytest.mark.parametrize("Block", [PostLNBlock, PreLNBlock])
def test_blocks_reject_bad_input(Block):
    block = Block(8, 2, 16)
    with pytest.raises(TypeError, match="torch.Tensor"):
        block("tokens")
    with pytest.raises(TypeError, match="floating-point"):
        block(torch.ones(2, 4, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(N, length, 8\)"):
        block(torch.randn(4, 8))
    with pytest.raises(ValueError, match=r"shape \(N, length, 8\)"):
        block(torch.randn(2, 4, 6))
