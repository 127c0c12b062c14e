"""Unit tests of pytorch_notes.attention, bad input included."""

import math

import pytest
import torch
import torch.nn.functional as F

from pytorch_notes.attention import (
    CausalSelfAttention,
    GatedCrossAttention,
    KVCache,
    MultiHeadAttention,
    QFormerBlock,
    causal_mask,
    scaled_dot_product_attention,
)


def test_attention_matches_the_formula_and_pytorch():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 5)
    output, weights = scaled_dot_product_attention(q, k, v)
    expected_weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1)
    assert output.shape == (2, 3, 4, 5) and weights.shape == (2, 3, 4, 6)
    assert torch.allclose(weights, expected_weights)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 4))
    assert torch.allclose(output, F.scaled_dot_product_attention(q, k, v), atol=1e-6)


def test_mask_true_means_keep():
    torch.manual_seed(0)
    q, k, v = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 3)
    mask = causal_mask(4)
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    assert (weights[~mask] == 0).all()
    assert torch.allclose(output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6)
    assert torch.allclose(output, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)


def test_causal_mask():
    assert torch.equal(causal_mask(3), torch.tensor([[True, False, False], [True, True, False], [True, True, True]]))
    assert causal_mask(1).shape == (1, 1) and causal_mask(2, device="cpu").device.type == "cpu"


@pytest.mark.parametrize("length, error", [(2.0, TypeError), ("3", TypeError), (True, TypeError),
                                           (0, ValueError), (-1, ValueError)])
def test_causal_mask_rejects_bad_lengths(length, error):
    with pytest.raises(error, match="length"):
        causal_mask(length)


def test_attention_rejects_bad_input():
    q, k, v = torch.randn(4, 8), torch.randn(5, 8), torch.randn(5, 3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        scaled_dot_product_attention(q.tolist(), k, v)
    with pytest.raises(TypeError, match="floating-point"):
        scaled_dot_product_attention(q, k.long(), v)
    with pytest.raises(ValueError, match=r"v must have shape \(\.\.\., S, d_v\)"):
        scaled_dot_product_attention(q, k, torch.randn(5))
    with pytest.raises(ValueError, match="last dimension"):
        scaled_dot_product_attention(q, torch.randn(5, 7), v)
    with pytest.raises(ValueError, match="number of keys"):
        scaled_dot_product_attention(q, k, torch.randn(6, 3))
    with pytest.raises(TypeError, match="bool"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 5))
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 4, dtype=torch.bool))


def test_a_query_with_no_key_gives_nan_unchecked():
    """Refusing it would read the mask's values: a GPU sync on every call. The row is softmax of all -inf."""
    q, k, v = torch.randn(4, 8), torch.randn(5, 8), torch.randn(5, 3)
    mask = causal_mask(5)[:4]
    mask[2] = False
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    assert output[2].isnan().all() and weights[2].isnan().all()
    assert not output[[0, 1, 3]].isnan().any()


@pytest.mark.parametrize("mask_kind", [None, "causal", "batched"])
def test_multi_head_attention_matches_torch(mask_kind):
    torch.manual_seed(0)
    d_model, num_heads, length = 12, 3, 5
    ours = MultiHeadAttention(d_model, num_heads)
    theirs = torch.nn.MultiheadAttention(d_model, num_heads, batch_first=True)
    with torch.no_grad():
        for layer, w, b in zip([ours.q_proj, ours.k_proj, ours.v_proj], theirs.in_proj_weight.chunk(3),
                               theirs.in_proj_bias.chunk(3)):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
        ours.out_proj.load_state_dict(theirs.out_proj.state_dict())
    x = torch.randn(2, length, d_model)
    mask = None if mask_kind is None else causal_mask(length)
    if mask_kind == "batched":
        mask = mask.expand(2, length, length)
    output, weights = ours(x, x, x, mask=mask)
    torch_mask = None if mask is None else ~(mask if mask.dim() == 2 else mask[0])
    expected, expected_weights = theirs(x, x, x, attn_mask=torch_mask)
    assert output.shape == (2, length, d_model) and weights.shape == (2, length, length)
    assert torch.allclose(output, expected, atol=1e-5)
    assert torch.allclose(weights, expected_weights, atol=1e-6)


def test_multi_head_attention_cross_attention_shapes_and_parameters():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    output, weights = mha(torch.randn(3, 4, 8), torch.randn(3, 7, 8), torch.randn(3, 7, 8))
    assert output.shape == (3, 4, 8) and weights.shape == (3, 4, 7)
    assert sum(p.numel() for p in mha.parameters()) == 4 * 8**2 + 4 * 8
    output.sum().backward()
    assert all(p.grad is not None for p in mha.parameters())


@pytest.mark.parametrize("d_model, num_heads, error", [(8.0, 2, TypeError), (8, "2", TypeError),
                                                       (True, 1, TypeError), (0, 1, ValueError),
                                                       (8, 0, ValueError), (8, 3, ValueError)])
def test_multi_head_attention_rejects_bad_sizes(d_model, num_heads, error):
    with pytest.raises(error):
        MultiHeadAttention(d_model, num_heads)


def test_multi_head_attention_rejects_bad_input():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 4, 8)
    with pytest.raises(TypeError, match="torch.Tensor"):
        mha(x.tolist(), x, x)
    with pytest.raises(ValueError, match=r"\(N, length, 8\)"):
        mha(torch.randn(2, 4, 6), x, x)
    with pytest.raises(ValueError, match=r"\(N, length, 8\)"):
        mha(torch.randn(4, 8), x, x)
    with pytest.raises(ValueError, match="batch size"):
        mha(torch.randn(3, 4, 8), x, x)
    with pytest.raises(ValueError, match="same length"):
        mha(x, x, torch.randn(2, 5, 8))
    with pytest.raises(TypeError, match="floating-point"):
        mha(x, x, x.long())
    with pytest.raises(ValueError, match="mask must have shape"):
        mha(x, x, x, mask=torch.ones(4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        mha(x, x, x, mask=torch.ones(4, 4))


# --- GatedCrossAttention and QFormerBlock (chapter multimodal/cross-attention) ---


@pytest.mark.parametrize("ffn_hidden", [None, 16])
def test_gated_cross_attention_starts_as_the_identity(ffn_hidden):
    torch.manual_seed(0)
    block = GatedCrossAttention(8, 6, 2, ffn_hidden=ffn_hidden)
    x, media = torch.randn(3, 4, 8), torch.randn(3, 9, 6)
    y, weights = block(x, media)
    assert torch.equal(y, x)
    assert weights.shape == (3, 4, 9) and torch.allclose(weights.sum(-1), torch.ones(3, 4))
    (y * torch.randn_like(y)).sum().backward()
    gates = [block.attn_gate] + ([] if ffn_hidden is None else [block.ffn_gate])
    assert all(g.grad.abs() > 0 for g in gates)
    others = [p for name, p in block.named_parameters() if not name.endswith("gate")]
    assert others and all(torch.equal(p.grad, torch.zeros_like(p)) for p in others)
    assert (block.ffn is None) == (block.ffn_gate is None) == (ffn_hidden is None)


def test_gated_cross_attention_matches_its_formula_and_keeps_the_text_length():
    torch.manual_seed(0)
    block = GatedCrossAttention(8, 6, 2, ffn_hidden=16)
    with torch.no_grad():
        block.attn_gate.fill_(0.7)
        block.ffn_gate.fill_(-0.2)
        x = torch.randn(2, 5, 8)
        for length in (1, 7, 30):
            media = torch.randn(2, length, 6)
            y, weights = block(x, media)
            assert y.shape == (2, 5, 8) and weights.shape == (2, 5, length)
        projected = block.media_proj(media)
        attended, _ = block.attn(block.norm(x), projected, projected)
        h = x + math.tanh(0.7) * attended
        expected = h + math.tanh(-0.2) * block.ffn(h)
    assert torch.allclose(y, expected, atol=1e-6)


def test_gated_cross_attention_mask():
    torch.manual_seed(0)
    block = GatedCrossAttention(8, 6, 2)
    mask = torch.zeros(4, 9, dtype=torch.bool)
    mask[:, :3] = True  # every text token sees only the first three media tokens
    _, weights = block(torch.randn(2, 4, 8), torch.randn(2, 9, 6), mask=mask)
    assert (weights[..., 3:] == 0).all() and torch.allclose(weights.sum(-1), torch.ones(2, 4))


@pytest.mark.parametrize("kwargs, error", [
    (dict(d_model=8.0, media_dim=6, num_heads=2), TypeError),
    (dict(d_model=8, media_dim="6", num_heads=2), TypeError),
    (dict(d_model=8, media_dim=6, num_heads=True), TypeError),
    (dict(d_model=8, media_dim=6, num_heads=2, ffn_hidden=1.5), TypeError),
    (dict(d_model=0, media_dim=6, num_heads=1), ValueError),
    (dict(d_model=8, media_dim=-1, num_heads=2), ValueError),
    (dict(d_model=8, media_dim=6, num_heads=3), ValueError),
    (dict(d_model=8, media_dim=6, num_heads=2, ffn_hidden=0), ValueError),
])
def test_gated_cross_attention_rejects_bad_sizes(kwargs, error):
    with pytest.raises(error):
        GatedCrossAttention(**kwargs)


def test_gated_cross_attention_rejects_bad_input():
    block = GatedCrossAttention(8, 6, 2)
    x, media = torch.randn(2, 4, 8), torch.randn(2, 9, 6)
    with pytest.raises(TypeError, match="torch.Tensor"):
        block(x.tolist(), media)
    with pytest.raises(TypeError, match="floating-point"):
        block(x, media.long())
    with pytest.raises(ValueError, match="d_model=8"):
        block(torch.randn(2, 4, 6), media)
    with pytest.raises(ValueError, match="media_dim=6"):
        block(x, torch.randn(2, 9, 8))
    with pytest.raises(ValueError, match="media_dim=6"):
        block(x, torch.randn(9, 6))
    with pytest.raises(ValueError, match="same batch size"):
        block(x, torch.randn(3, 9, 6))
    with pytest.raises(ValueError, match="mask must have shape"):
        block(x, media, mask=torch.ones(9, dtype=torch.bool))


def test_qformer_block_outputs_one_token_per_query():
    torch.manual_seed(0)
    block = QFormerBlock(num_queries=5, d_model=8, media_dim=6, num_heads=2)
    assert isinstance(block.queries, torch.nn.Parameter) and block.queries.shape == (5, 8)
    assert any(p is block.queries for p in block.parameters())
    assert block.ffn[1].out_features == 32  # default hidden width 4 * d_model
    for length in (3, 49, 256):
        output, weights = block(torch.randn(2, length, 6))
        assert output.shape == (2, 5, 8) and weights.shape == (2, 5, length)
        assert torch.allclose(weights.sum(-1), torch.ones(2, 5))
    output.sum().backward()
    assert block.queries.grad.abs().sum() > 0


def test_qformer_block_matches_its_steps():
    torch.manual_seed(0)
    block = QFormerBlock(num_queries=4, d_model=8, media_dim=6, num_heads=2, ffn_hidden=12)
    media = torch.randn(3, 10, 6)
    with torch.no_grad():
        output, weights = block(media)
        projected = block.media_proj(media)
        q = block.queries.expand(3, -1, -1)
        h = block.self_norm(q)
        q = q + block.self_attn(h, h, h)[0]
        attended, expected_weights = block.cross_attn(block.cross_norm(q), projected, projected)
        q = q + attended
        expected = q + block.ffn(q)
    assert torch.allclose(output, expected, atol=1e-6) and torch.equal(weights, expected_weights)
    assert not torch.allclose(output[0], output[1])


@pytest.mark.parametrize("args, error", [((4.0, 8, 6, 2), TypeError), ((4, 8, 6, "2"), TypeError),
                                         ((0, 8, 6, 2), ValueError), ((4, 8, 0, 2), ValueError),
                                         ((4, 8, 6, 3), ValueError), ((4, 8, 6, 2, -5), ValueError)])
def test_qformer_block_rejects_bad_sizes(args, error):
    with pytest.raises(error):
        QFormerBlock(*args)


def test_qformer_block_rejects_bad_input():
    block = QFormerBlock(4, 8, 6, 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        block([[0.0] * 6])
    with pytest.raises(TypeError, match="floating-point"):
        block(torch.ones(2, 3, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="media_dim=6"):
        block(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match="media_dim=6"):
        block(torch.randn(3, 6))


# --- KVCache (chapter architecture/attention-inference) ---


def test_kv_cache_appends_along_the_positions():
    torch.manual_seed(0)
    cache = KVCache()
    assert len(cache) == 0
    k1, v1 = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    keys, values = cache.append(k1, v1)
    assert len(cache) == 4 and torch.equal(keys, k1) and torch.equal(values, v1)
    k2, v2 = torch.randn(2, 3, 1, 5), torch.randn(2, 3, 1, 5)
    keys, values = cache.append(k2, v2)
    assert len(cache) == 5 and keys.shape == values.shape == (2, 3, 5, 5)
    assert torch.equal(keys, torch.cat([k1, k2], dim=2)) and torch.equal(values, torch.cat([v1, v2], dim=2))


def test_kv_cache_rejects_bad_input():
    cache = KVCache()
    x = torch.randn(2, 3, 4, 5)
    with pytest.raises(TypeError, match="torch.Tensor"):
        cache.append(x.tolist(), x)
    with pytest.raises(TypeError, match="floating-point"):
        cache.append(x, x.long())
    with pytest.raises(ValueError, match=r"\(batch, kv_heads, new_positions, head_dim\)"):
        cache.append(torch.randn(3, 4, 5), torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="same shape"):
        cache.append(x, torch.randn(2, 3, 4, 6))
    with pytest.raises(TypeError, match="same dtype"):
        cache.append(x, x.double())
    assert len(cache) == 0  # nothing was cached by a refused call
    cache.append(x, x)
    for bad in (torch.randn(1, 3, 1, 5), torch.randn(2, 2, 1, 5), torch.randn(2, 3, 1, 4)):
        with pytest.raises(ValueError, match="cached"):
            cache.append(bad, bad)
    with pytest.raises(TypeError, match="cached dtype"):
        cache.append(x.double(), x.double())
    assert len(cache) == 4


# --- CausalSelfAttention and the fused path of MultiHeadAttention (chapter architecture/attention-inference) ---


@pytest.mark.parametrize("num_kv_heads", [4, 2, 1])
def test_causal_self_attention_with_cache_matches_the_full_pass(num_kv_heads):
    torch.manual_seed(0)
    attn = CausalSelfAttention(16, 4, num_kv_heads)
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        full = attn(x)
        cache = KVCache()
        parts = [attn(x[:, :3], cache)] + [attn(x[:, i:i + 1], cache) for i in range(3, 7)]
        parts_of_two = [attn(x[:, i:i + 2], c) for c in [KVCache()] for i in (0, 2, 4)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-6)
    assert torch.allclose(torch.cat(parts_of_two, dim=1), full[:, :6], atol=1e-6)
    assert len(cache) == 7 and cache.keys.shape == (2, num_kv_heads, 7, 4)
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 2, 16)
    with torch.no_grad():
        assert torch.equal(attn(changed)[:, :5], full[:, :5])  # causal: the future is never read


def test_causal_self_attention_shares_keys_and_values_within_a_group():
    torch.manual_seed(0)
    gqa = CausalSelfAttention(16, 4, 2)
    mha = CausalSelfAttention(16, 4)
    with torch.no_grad():
        for name in ("q_proj", "out_proj"):
            getattr(mha, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("k_proj", "v_proj"):  # kv head j serves query heads 2j and 2j + 1
            weight = getattr(gqa, name).weight.view(2, 4, 16).repeat_interleave(2, dim=0).reshape(16, 16)
            getattr(mha, name).weight.copy_(weight)
            getattr(mha, name).bias.copy_(getattr(gqa, name).bias.view(2, 4).repeat_interleave(2, dim=0).reshape(16))
        x = torch.randn(3, 5, 16)
        assert torch.allclose(gqa(x), mha(x), atol=1e-6)
    assert sum(p.numel() for p in gqa.parameters()) == 2 * (16 * 16 + 16) + 2 * (16 * 8 + 8)


@pytest.mark.parametrize("args, error", [((16.0, 4), TypeError), ((16, 4, "2"), TypeError), ((16, 4, True), TypeError),
                                         ((0, 1), ValueError), ((16, 3), ValueError), ((16, 4, 3), ValueError),
                                         ((16, 4, 0), ValueError), ((16, 2, 4), ValueError)])
def test_causal_self_attention_rejects_bad_sizes(args, error):
    with pytest.raises(error):
        CausalSelfAttention(*args)


def test_causal_self_attention_rejects_bad_input():
    attn = CausalSelfAttention(16, 4, 2)
    x = torch.randn(2, 3, 16)
    with pytest.raises(TypeError, match="torch.Tensor"):
        attn(x.tolist())
    with pytest.raises(TypeError, match="floating-point"):
        attn(x.long())
    with pytest.raises(ValueError, match="d_model=16"):
        attn(torch.randn(2, 3, 8))
    with pytest.raises(TypeError, match="KVCache"):
        attn(x, cache=[])
    cache = KVCache()
    attn(x, cache)
    with pytest.raises(ValueError, match="cached"):
        attn(torch.randn(1, 1, 16), cache)  # another batch size than the cached one


def test_multi_head_attention_fused_path_matches_the_book_path():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    mask = torch.rand(2, 5, 7) > 0.3
    mask[..., 0] = True
    outputs, grads = [], []
    for need_weights in (True, False):
        mha.zero_grad()
        output, weights = mha(x, memory, memory, mask=mask, need_weights=need_weights)
        assert (weights is None) == (not need_weights)
        (output * torch.arange(16.0)).sum().backward()
        grads.append([p.grad.clone() for p in mha.parameters()])
        outputs.append(output)
    assert torch.allclose(outputs[0], outputs[1], atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(*grads))
    with pytest.raises(TypeError, match="need_weights"):
        mha(x, x, x, need_weights=0)


# --- What the chapter architecture/attention-inference says about the GPU backends (run with -m gpu) ---


@pytest.mark.gpu
def test_sdpa_backends_on_a_gpu():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("the chapter's table is about sm80 and newer")
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 128, 64, device="cuda") for _ in range(3))
    mask = causal_mask(128, device="cuda")
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True)
    for dtype in (torch.float16, torch.bfloat16):  # FlashAttention: half precision, no explicit mask
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            flash = F.scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), is_causal=True)
            with pytest.raises(RuntimeError):
                F.scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), attn_mask=mask)
        assert torch.allclose(flash.double(), expected, atol=2e-2)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION), pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(q, k, v, is_causal=True)  # float32
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):  # float32 with a mask: memory-efficient attention
        efficient = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(efficient.double(), expected, atol=1e-4)
    with sdpa_kernel(SDPBackend.MATH):  # float64 only on the math backend
        assert torch.allclose(F.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                                             attn_mask=mask), expected)


@pytest.mark.gpu
def test_causal_self_attention_with_cache_on_a_gpu():
    torch.manual_seed(0)
    attn = CausalSelfAttention(64, 8, 2).to("cuda", torch.float16)
    x = torch.randn(2, 12, 64, device="cuda", dtype=torch.float16)
    with torch.no_grad():
        full = attn(x)
        cache = KVCache()
        steps = [attn(x[:, :4], cache)] + [attn(x[:, i:i + 1], cache) for i in range(4, 12)]
    assert torch.allclose(torch.cat(steps, dim=1).float(), full.float(), atol=1e-2)
    assert cache.keys.dtype == torch.float16 and cache.keys.device.type == "cuda"
