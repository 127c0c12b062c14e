"""Unit tests of pytorch_notes.gpt, bad input included."""

import math

import pytest
import torch
import torch.nn.functional as F

from pytorch_notes.attention import KVCache
from pytorch_notes.gpt import GPT, Block, GPTConfig
from pytorch_notes.positional import apply_rope

SMALL = GPTConfig(vocab_size=32, context=24, d_model=16, n_layers=2, n_heads=2)


def small_model(seed=0):
    torch.manual_seed(seed)
    return GPT(SMALL)


def test_config_defaults_and_head_dim():
    config = GPTConfig()
    assert (config.vocab_size, config.context, config.d_model, config.n_layers, config.n_heads) == (256, 128, 64, 2, 4)
    assert config.head_dim == 16


@pytest.mark.parametrize("kwargs, error", [
    ({"d_model": 0}, ValueError), ({"n_layers": 1.5}, TypeError), ({"vocab_size": True}, TypeError),
    ({"d_model": 10, "n_heads": 3}, ValueError),  # does not divide
    ({"d_model": 12, "n_heads": 4}, ValueError),  # head size 3 is odd: RoPE needs pairs
    ({"rope_base": 1.0}, ValueError), ({"rope_base": "big"}, TypeError),
])
def test_config_rejects_bad_sizes(kwargs, error):
    with pytest.raises(error):
        GPTConfig(**kwargs)


def test_forward_shape_parameter_count_and_weight_tying():
    model = small_model()
    tokens = torch.randint(0, 32, (3, 10))
    assert model(tokens).shape == (3, 10, 32)
    d, r = SMALL.d_model, SMALL.mlp_ratio
    expected = SMALL.vocab_size * d + SMALL.n_layers * (4 * d * d + 2 * r * d * d + 2 * d) + d
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.head.weight is model.embed.weight


def test_untrained_model_predicts_nearly_uniformly():
    model = GPT(GPTConfig())
    tokens, targets = torch.randint(0, 256, (4, 64)), torch.randint(0, 256, (4 * 64,))
    loss = F.cross_entropy(model(tokens).flatten(0, 1), targets).item()
    assert abs(loss - math.log(256)) < 0.05


def test_model_is_causal():
    model = small_model()
    tokens = torch.randint(0, 32, (2, 12))
    changed = tokens.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 32
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert torch.allclose(before[:, :8], after[:, :8], atol=1e-6)
    assert not torch.allclose(before[:, 8:], after[:, 8:], atol=1e-4)


def test_block_matches_its_formula():
    torch.manual_seed(0)
    block = Block(SMALL)
    x, positions = torch.randn(2, 7, 16), torch.arange(7)
    with torch.no_grad():
        q, k, v = block.qkv(block.attn_norm(x)).split(16, dim=-1)
        q, k, v = (t.view(2, 7, 2, 8).transpose(1, 2) for t in (q, k, v))
        mixed = F.scaled_dot_product_attention(apply_rope(q, positions), apply_rope(k, positions), v, is_causal=True)
        h = x + block.out(mixed.transpose(1, 2).reshape(2, 7, 16))
        expected = h + block.mlp(block.mlp_norm(h))
        assert torch.allclose(block(x, positions), expected, atol=1e-6)


def test_cached_forward_equals_full_forward_one_and_several_at_a_time():
    model = small_model()
    tokens = torch.randint(0, 32, (2, 15))
    with torch.no_grad():
        full = model(tokens)
        caches = model.new_caches()
        pieces = [model(tokens[:, :6], caches), model(tokens[:, 6:7], caches), model(tokens[:, 7:15], caches)]
    assert all(len(cache) == 15 for cache in caches) and all(isinstance(c, KVCache) for c in caches)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_generation_equals_uncached_generation(seed):
    model = small_model(seed)
    prompt = torch.randint(0, 32, (3, 4))
    cached = model.generate(prompt, 16, temperature=0)
    uncached = model.generate(prompt, 16, temperature=0, use_cache=False)
    assert cached.shape == (3, 20) and torch.equal(cached[:, :4], prompt)
    assert torch.equal(cached, uncached)
    sampled = [model.generate(prompt, 16, temperature=0.9, top_p=0.8, generator=torch.Generator().manual_seed(7),
                              use_cache=use_cache) for use_cache in (True, False)]
    assert torch.equal(sampled[0], sampled[1])


def test_greedy_generation_takes_the_argmax():
    model = small_model()
    prompt = torch.randint(0, 32, (1, 5))
    out = model.generate(prompt, 1, temperature=0)
    with torch.no_grad():
        assert out[0, -1] == model(prompt)[0, -1].argmax()
    assert torch.equal(model.generate(prompt, 0), prompt)


def test_sampling_is_reproducible_and_follows_the_generator():
    model = small_model()
    prompt = torch.zeros(1, 1, dtype=torch.long)
    draw = lambda seed: model.generate(prompt, 20, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_forward_rejects_bad_input():
    model = small_model()
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.rand(1, 4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[1, 2, 3]])
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="1 to 24 positions"):
        model(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="1 to 24 positions"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="one KVCache per block"):
        model(torch.zeros(1, 3, dtype=torch.long), [KVCache()])
    with pytest.raises(TypeError, match="list of KVCache"):
        model(torch.zeros(1, 3, dtype=torch.long), KVCache())
    caches = model.new_caches()
    model(torch.zeros(1, 20, dtype=torch.long), caches)
    with pytest.raises(ValueError, match="1 to 4 positions"):  # 20 cached + 5 > 24
        model(torch.zeros(1, 5, dtype=torch.long), caches)
    uneven = model.new_caches()
    model.blocks[0](torch.zeros(1, 2, 16), torch.arange(2), uneven[0])
    with pytest.raises(ValueError, match="same number of positions"):
        model(torch.zeros(1, 1, dtype=torch.long), uneven)


def test_block_rejects_bad_input():
    block = Block(SMALL)
    with pytest.raises(ValueError, match="shape"):
        block(torch.zeros(1, 3, 8), torch.arange(3))
    with pytest.raises(TypeError, match="KVCache"):
        block(torch.zeros(1, 3, 16), torch.arange(3), cache=[])
    with pytest.raises(TypeError, match="GPTConfig"):
        Block({"d_model": 16})
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT(None)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
    ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens"),
    ({"max_new_tokens": 30}, ValueError, "context"),
    ({"max_new_tokens": 3, "temperature": -1}, ValueError, "temperature"),
    ({"max_new_tokens": 3, "top_p": 0}, ValueError, "top_p"),
    ({"max_new_tokens": 3, "top_p": 1.5}, ValueError, "top_p"),
    ({"max_new_tokens": 3, "use_cache": 1}, TypeError, "use_cache"),
])
def test_generate_rejects_bad_input(kwargs, error, match):
    model = small_model()
    with pytest.raises(error, match=match):
        model.generate(torch.zeros(1, 3, dtype=torch.long), **kwargs)


def test_generate_rejects_a_bad_prompt():
    model = small_model()
    with pytest.raises(TypeError, match="integer tensor"):
        model.generate(torch.zeros(1, 3), 2)
    with pytest.raises(ValueError, match="shape"):
        model.generate(torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="context"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), 2)
