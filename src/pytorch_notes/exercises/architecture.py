"""Exercises of the Architecture track (docs/architecture/exercises.ipynb)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pytorch_notes.attention import (
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from pytorch_notes.exercises import exercise, expect, expect_tensor
from pytorch_notes.positional import sinusoidal_encoding


@exercise("architecture.attention",
          en="softmax(Q Kᵀ / √d_k) V, with the mask keeping what it marks True: the book's attention.",
          zh="softmax(Q Kᵀ / √d_k) V，掩码保留标为 True 的位置：正是本书的注意力。")
def _(answer):
    expect(callable(answer), "the answer should be the function attention itself.",
           "答案应当是函数 attention 本身。")
    generator = torch.Generator().manual_seed(0)
    q, k = (torch.randn(2, 5, 16, generator=generator) for _ in range(2))
    v = torch.randn(2, 5, 3, generator=generator)
    mask = causal_mask(5)
    out = expect_tensor(answer(q, k, v, mask), "attention", (2, 5, 3))
    scores = q @ k.transpose(-2, -1)

    def attend(scores, keep, dim=-1):
        return scores.masked_fill(~keep, float("-inf")).softmax(dim=dim) @ v

    expect(not torch.isnan(out).any(), "the output has NaNs: a row with every key masked. Which "
           "entries does True keep?", "输出里有 NaN：某一行的键全被遮住了。True 表示保留哪些位置？")
    expect(not torch.allclose(out, attend(scores, ~mask), atol=1e-5),
           "the mask is inverted: True means “this query may look at this key”.",
           "掩码反了：True 的意思是“这个查询可以看这个键”。")
    expect(not torch.allclose(out, attend(scores, mask), atol=1e-5),
           "the scores are not scaled: divide by the square root of d_k.",
           "分数没有缩放：要除以 d_k 的平方根。")
    expect(not torch.allclose(out, attend(scores / 16, mask), atol=1e-5),
           "the scores are divided by d_k: divide by its square root.",
           "分数除以的是 d_k：应当除以它的平方根。")
    expected, _ = scaled_dot_product_attention(q, k, v, mask)
    expect(torch.allclose(out, expected, atol=1e-5),
           "the output differs from softmax(Q Kᵀ / √d_k) V: is the softmax taken over the keys "
           "(the last dimension)?",
           "输出与 softmax(Q Kᵀ / √d_k) V 不符：softmax 是沿着键（最后一维）做的吗？")


@exercise("architecture.cache-mask",
          en="the new queries are the last rows of the causal mask: the triangle aligned to the "
          "bottom right.",
          zh="新的查询是因果掩码的最后几行：对齐到右下角的三角形。")
def _(answer):
    expect(callable(answer), "the answer should be the function cache_mask itself.",
           "答案应当是函数 cache_mask 本身。")
    mask = answer(3, 7)
    expect(mask is not None, "cache_mask returned None: build the mask and return it.",
           "cache_mask 返回了 None：把掩码建好并返回。")
    expect(isinstance(mask, torch.Tensor) and mask.dtype == torch.bool,
           "the mask should be a bool tensor (True = may look).",
           "掩码应当是 bool 张量（True 表示可以看）。")
    expect(tuple(mask.shape) == (3, 7), f"shape {tuple(mask.shape)}: one row per new query, one "
           "column per cached position, (L, S).",
           f"形状是 {tuple(mask.shape)}：每个新查询一行，每个缓存的位置一列，即 (L, S)。")
    expect(not torch.equal(mask, torch.ones(3, 7, dtype=torch.bool).tril()),
           "this is the triangle aligned to the top left: new query 0 sees key 0 only, as if it "
           "were the first position.",
           "这是对齐到左上角的三角形：新查询 0 只能看到键 0，仿佛它是第一个位置。")
    expect(not mask.all(), "every query sees every key: the new queries must not see the "
           "positions after them.", "每个查询都能看到每个键：新查询不应看到它之后的位置。")
    expect(torch.equal(mask, causal_mask(7)[4:]), "query i should see keys 0 .. S - L + i, "
           "no more, no less.", "查询 i 应当恰好看到键 0 .. S - L + i。")
    one = answer(1, 5)
    expect(isinstance(one, torch.Tensor) and torch.equal(one, torch.ones(1, 5, dtype=torch.bool)),
           "with one new query (L = 1) it sees every position: the row should be all True.",
           "只有一个新查询（L = 1）时，它能看到所有位置：这一行应当全是 True。")


@exercise("architecture.sinusoidal",
          en="sines in the even columns, cosines in the odd ones, at frequencies 10000^(-2i/d).",
          zh="偶数列是正弦，奇数列是余弦，频率为 10000^(-2i/d)。")
def _(answer):
    expect(callable(answer), "the answer should be the function sinusoidal itself.",
           "答案应当是函数 sinusoidal 本身。")
    positions = torch.arange(12)
    table = expect_tensor(answer(positions, 8), "sinusoidal", (12, 8)).to(torch.float32)
    expected = sinusoidal_encoding(positions, 8)
    expect(not torch.allclose(table, torch.cat([expected[:, 0::2], expected[:, 1::2]], 1),
                              atol=1e-5),
           "sines fill the first half and cosines the second: the book interleaves them (sin in "
           "the even columns, cos in the odd ones).",
           "正弦占了前一半、余弦占了后一半：本书把它们交错排列（偶数列是 sin，奇数列是 cos）。")
    expect(torch.allclose(table[0], expected[0], atol=1e-5),
           "position 0 is wrong: sin 0 = 0 in the even columns, cos 0 = 1 in the odd ones.",
           "位置 0 不对：偶数列是 sin 0 = 0，奇数列是 cos 0 = 1。")
    expect(torch.allclose(table[:, :2], expected[:, :2], atol=1e-5),
           "the first pair of columns is wrong: its frequency is 1.",
           "第一对列不对：它的频率是 1。")
    expect(torch.allclose(table, expected, atol=1e-5),
           "the slower pairs are wrong: check the frequencies ω_i = 10000^(-2i/d), i = 0 .. d/2 - 1.",
           "较慢的几对列不对：检查频率 ω_i = 10000^(-2i/d)，i = 0 .. d/2 - 1。")


@exercise("architecture.layer-norm",
          en="each vector is normalized by its own mean and biased variance: exactly nn.LayerNorm.",
          zh="每个向量都用它自己的均值和有偏方差归一化：与 nn.LayerNorm 完全一致。")
def _(answer):
    expect(callable(answer), "the answer should be the function layer_norm itself.",
           "答案应当是函数 layer_norm 本身。")
    generator = torch.Generator().manual_seed(1)
    x = 3 + 2 * torch.randn(4, 6, 5, generator=generator)
    out = expect_tensor(answer(x), "layer_norm", (4, 6, 5))
    expected = F.layer_norm(x, (5,))
    expect(not torch.allclose(out, expected * math.sqrt(4 / 5), atol=1e-4),
           "the outputs are a little too small: the variance inside LayerNorm is divided by n, "
           "not by n - 1.",
           "输出偏小了一点：LayerNorm 里的方差除以的是 n，而不是 n - 1。")
    expect(not torch.allclose(out, F.batch_norm(x.transpose(1, 2), None, None, training=True)
                              .transpose(1, 2), atol=1e-4),
           "these are BatchNorm's statistics, across the batch: LayerNorm averages over the last "
           "dimension of each vector.",
           "这是 BatchNorm 的统计量，跨样本计算：LayerNorm 是在每个向量的最后一维上求平均。")
    expect(torch.allclose(out.mean(dim=-1), torch.zeros(4, 6), atol=1e-4),
           "each vector should have mean 0 over its last dimension.",
           "每个向量在最后一维上的均值应当是 0。")
    expect(torch.allclose(out, expected, atol=1e-4),
           "the values differ from nn.LayerNorm: subtract the mean, divide by sqrt(variance + eps).",
           "数值与 nn.LayerNorm 不符：减去均值，再除以 sqrt(方差 + eps)。")


@exercise("architecture.rms-norm",
          en="RMSNorm divides by the root mean square and multiplies by a learned gain: no mean, "
          "no bias.",
          zh="RMSNorm 除以均方根，再乘以可学习的增益：不减均值，也没有偏置。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, torch.nn.Module),
           "the answer should be the class RMSNorm, a subclass of nn.Module.",
           "答案应当是类 RMSNorm，nn.Module 的子类。")
    norm = answer(6)
    parameters = list(norm.parameters())
    expect(sum(p.numel() for p in parameters) == 6,
           f"RMSNorm(6) has {sum(p.numel() for p in parameters)} parameters: it has one learned "
           "gain per feature, and no bias.",
           f"RMSNorm(6) 有 {sum(p.numel() for p in parameters)} 个参数：每个特征一个可学习的增益，没有偏置。")
    generator = torch.Generator().manual_seed(2)
    x = 1 + torch.randn(3, 6, generator=generator)
    with torch.no_grad():
        parameters[0].copy_(torch.linspace(0.5, 2.0, 6))
    out = expect_tensor(norm(x), "RMSNorm(6)", (3, 6))
    gain = torch.linspace(0.5, 2.0, 6)
    rms = x.pow(2).mean(dim=-1, keepdim=True).add(1e-6).sqrt()
    expect(not torch.allclose(out, F.layer_norm(x, (6,), eps=1e-6) * gain, atol=1e-4),
           "this subtracts the mean, like LayerNorm: RMSNorm only rescales.",
           "这里减去了均值，和 LayerNorm 一样：RMSNorm 只做缩放。")
    expect(not torch.allclose(out, x / x.norm(dim=-1, keepdim=True) * gain, atol=1e-4),
           "dividing by the norm is too much by √d: take the mean of the squares, not the sum.",
           "除以范数多除了 √d：要对平方取平均，而不是求和。")
    expect(torch.allclose(out.detach() / gain, x / rms, atol=1e-4),
           "the output is not x / sqrt(mean(x²) + eps) times the gain: is the gain used?",
           "输出不是 x / sqrt(mean(x²) + eps) 乘以增益：增益用上了吗？")


@exercise("architecture.multi-head",
          en="split into heads, attend in each, merge and project: the same output as the book's "
          "MultiHeadAttention.",
          zh="拆成多个头、各自做注意力、再合并并投影：输出与本书的 MultiHeadAttention 相同。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, torch.nn.Module),
           "the answer should be the class SelfAttention, a subclass of nn.Module.",
           "答案应当是类 SelfAttention，nn.Module 的子类。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = answer(16, 4)
        reference = MultiHeadAttention(16, 4)
    expect(set(dict(module.named_parameters())) == set(dict(reference.named_parameters())),
           "SelfAttention(16, 4) should hold four nn.Linear(16, 16): q_proj, k_proj, v_proj "
           "and out_proj.",
           "SelfAttention(16, 4) 应当含有四个 nn.Linear(16, 16)：q_proj、k_proj、v_proj 和 out_proj。")
    reference.load_state_dict(module.state_dict())
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 16, generator=generator)
    mask = causal_mask(6)
    out = expect_tensor(module(x, mask), "SelfAttention(16, 4)(x, mask)", (2, 6, 16))
    expected, _ = reference(x, x, x, mask)
    expect(not torch.allclose(out, _one_head(reference, x, mask), atol=1e-5),
           "this is one head of size 16: split d_model into num_heads heads of size d_model / "
           "num_heads.",
           "这是一个大小为 16 的头：要把 d_model 拆成 num_heads 个大小为 d_model / num_heads 的头。")
    x_late = x.clone()
    x_late[:, -1] += 1.0
    out_late = module(x_late, mask).detach()
    expect(torch.allclose(out_late[:, :-1], out[:, :-1], atol=1e-5),
           "changing the last position changed earlier outputs: positions are mixed. Reshape to "
           "(N, L, heads, head_dim) before moving the heads forward.",
           "改动最后一个位置，前面的输出也变了：位置被混在一起了。先变形为 (N, L, heads, head_dim)，再把头这一维移到前面。")
    expect(torch.allclose(out, expected, atol=1e-5),
           "the output differs from multi-head attention: check the scaling (the head size), "
           "the merge back to (N, L, d_model) and out_proj.",
           "输出与多头注意力不符：检查缩放（用头的大小）、合并回 (N, L, d_model) 的方式，以及 out_proj。")


def _one_head(reference: MultiHeadAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What the reference's weights give with a single head of size d_model."""
    with torch.no_grad():
        out, _ = scaled_dot_product_attention(reference.q_proj(x), reference.k_proj(x),
                                              reference.v_proj(x), mask)
        return reference.out_proj(out)
