"""Exercises of the Multimodal track (docs/multimodal/exercises.ipynb)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pytorch_notes.exercises import exercise, expect


def _pair(result, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    expect(isinstance(result, tuple) and len(result) == 2
           and all(isinstance(r, torch.Tensor) for r in result),
           f"{name} should return two tensors: (logits_per_image, logits_per_text).",
           f"{name} 应当返回两个张量：(logits_per_image, logits_per_text)。")
    return result[0].detach(), result[1].detach()


@exercise("multimodal.clip-logits",
          en="cosine similarities times exp(logit_scale), read by rows for the images and by "
          "columns for the texts.",
          zh="余弦相似度乘以 exp(logit_scale)，按行读给图像，按列读给文本。")
def _(answer):
    expect(callable(answer), "the answer should be the function clip_logits itself.",
           "答案应当是函数 clip_logits 本身。")
    generator = torch.Generator().manual_seed(0)
    images = 3 * torch.randn(4, 6, generator=generator)
    texts = 3 * torch.randn(5, 6, generator=generator)
    logit_scale = torch.tensor(math.log(1 / 0.07))
    per_image, per_text = _pair(answer(images, texts, logit_scale), "clip_logits")
    cosine = F.normalize(images, dim=1) @ F.normalize(texts, dim=1).T
    expect(tuple(per_image.shape) == (4, 5), f"logits_per_image has shape {tuple(per_image.shape)}: "
           "one row per image, one column per text, (4, 5).",
           f"logits_per_image 的形状是 {tuple(per_image.shape)}：每张图像一行，每段文本一列，即 (4, 5)。")
    expect(tuple(per_text.shape) == (5, 4), f"logits_per_text has shape {tuple(per_text.shape)}: "
           "it scores each text against every image, (5, 4).",
           f"logits_per_text 的形状是 {tuple(per_text.shape)}：它给每段文本对所有图像打分，即 (5, 4)。")
    expect(not torch.allclose(per_image, 14.2857 * (images @ texts.T), rtol=1e-3),
           "the embeddings are not normalized: the similarity is the cosine, in [-1, 1].",
           "嵌入没有归一化：相似度应当是余弦相似度，在 [-1, 1] 之间。")
    expect(not torch.allclose(per_image, logit_scale * cosine, rtol=1e-4),
           "logit_scale is the log of the scale: multiply by its exp.",
           "logit_scale 是缩放系数的对数：要乘以它的 exp。")
    expect(torch.allclose(per_image, logit_scale.exp() * cosine, rtol=1e-4),
           "logits_per_image is not exp(logit_scale) times the cosine similarities.",
           "logits_per_image 不是 exp(logit_scale) 乘以余弦相似度。")
    expect(torch.allclose(per_text, per_image.T), "logits_per_text should be the transpose of "
           "logits_per_image: the same matrix, read by columns.",
           "logits_per_text 应当是 logits_per_image 的转置：同一个矩阵，按列读。")


@exercise("multimodal.clip-loss",
          en="the mean of two cross-entropies: images choose their caption over the rows, captions "
          "choose their image over the columns.",
          zh="两个交叉熵的平均：图像按行选自己的文字描述，文字描述按列选自己的图像。")
def _(answer):
    expect(callable(answer), "the answer should be the function symmetric_loss itself.",
           "答案应当是函数 symmetric_loss 本身。")
    generator = torch.Generator().manual_seed(1)
    logits = 5 * torch.randn(6, 6, generator=generator)
    result = answer(logits)
    expect(isinstance(result, torch.Tensor) and result.numel() == 1,
           "symmetric_loss should return one number.", "symmetric_loss 应当返回一个数。")
    value = result.detach().reshape(())
    targets = torch.arange(6)
    rows, columns = F.cross_entropy(logits, targets), F.cross_entropy(logits.T, targets)
    expect(not torch.isclose(value, rows, rtol=1e-5) and not torch.isclose(value, columns, rtol=1e-5),
           "only one direction: CLIP also asks each caption to choose its image (the columns).",
           "只有一个方向：CLIP 还要求每段文字描述选出自己的图像（按列）。")
    expect(not torch.isclose(value, rows + columns, rtol=1e-5),
           "the two cross-entropies are added: CLIP averages them.",
           "两个交叉熵被加在了一起：CLIP 取的是它们的平均。")
    expect(torch.isclose(value, (rows + columns) / 2, rtol=1e-5),
           "the value is not the mean of the cross-entropy of the rows and of the columns, with "
           "the matching pairs on the diagonal.",
           "数值不是按行与按列两个交叉熵的平均（匹配的对在对角线上）。")


@exercise("multimodal.clamp-scale",
          en="the stored log-scale is clamped in place, so the scale stays in [1, 100] and the "
          "optimizer keeps the same parameter.",
          zh="存储的对数缩放系数被原地截断，于是缩放系数保持在 [1, 100] 内，优化器拿着的仍是同一个参数。")
def _(answer):
    expect(callable(answer), "the answer should be the function clamp_scale_ itself.",
           "答案应当是函数 clamp_scale_ 本身。")
    from pytorch_notes.clip import CLIP

    model = CLIP(nn.Identity(), nn.Identity())
    parameter = model.logit_scale
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    for stored, expected in ((math.log(287.0), 100.0), (-0.5, 1.0), (math.log(20.0), 20.0)):
        with torch.no_grad():
            model.logit_scale.fill_(stored)
        answer(model)
        expect(model.logit_scale is parameter and optimizer.param_groups[0]["params"][0] is parameter,
               "logit_scale is a new object now: the optimizer still holds the old one. Clamp the "
               "parameter in place.", "logit_scale 变成了一个新对象：优化器拿着的还是旧的那个。要原地截断这个参数。")
        expect(parameter.requires_grad and parameter.is_leaf,
               "logit_scale is no longer a trainable leaf: clamp it under torch.no_grad().",
               "logit_scale 不再是可训练的叶子节点：要在 torch.no_grad() 下截断它。")
        scale = parameter.exp().item()
        expect(not (expected == 100.0 and math.isclose(scale, 287.0, rel_tol=1e-4)),
               "the scale of 287 was not clamped: clamp logit_scale in place (clamp_), to "
               "[0, log(100)], since it stores the log of the scale.",
               "缩放系数 287 没有被截断：要原地（clamp_）把 logit_scale 截断到 [0, log(100)]，因为它存的是缩放系数的对数。")
        expect(math.isclose(scale, expected, rel_tol=1e-5),
               f"a stored scale of {math.exp(stored):.3g} became {scale:.3g}, expected {expected:g}: "
               "the scale should stay between 1 and 100.",
               f"存储的缩放系数 {math.exp(stored):.3g} 变成了 {scale:.3g}，应当是 {expected:g}：缩放系数应保持在 1 到 100 之间。")


@exercise("multimodal.zero-shot",
          en="each image takes the class whose prompt embedding has the highest cosine similarity: "
          "no image label needed.",
          zh="每张图像取与之余弦相似度最高的那个类别提示的嵌入：不需要任何图像标签。")
def _(answer):
    expect(callable(answer), "the answer should be the function zero_shot itself.",
           "答案应当是函数 zero_shot 本身。")
    generator = torch.Generator().manual_seed(2)
    prompts = F.normalize(torch.randn(4, 8, generator=generator), dim=1)
    prompts = prompts * torch.tensor([[1.0], [6.0], [0.5], [2.0]])  # an encoder's norms vary
    truth = torch.randint(0, 4, (30,), generator=generator)
    images = 3 * (F.normalize(prompts, dim=1)[truth] + 0.3 * torch.randn(30, 8, generator=generator))
    predicted = answer(images, prompts)
    expect(isinstance(predicted, torch.Tensor), "zero_shot should return a tensor of class indices.",
           "zero_shot 应当返回一个类别下标张量。")
    expect(tuple(predicted.shape) == (30,), f"zero_shot returned shape {tuple(predicted.shape)}: one "
           "class per image, (30,). Along which dimension is the argmax taken?",
           f"zero_shot 返回的形状是 {tuple(predicted.shape)}：每张图像一个类别，即 (30,)。argmax 是沿哪一维取的？")
    expected = (F.normalize(images, dim=1) @ F.normalize(prompts, dim=1).T).argmax(dim=1)
    expect(not torch.equal(predicted, (images @ prompts.T).argmax(dim=1)),
           "raw dot products favour the prompts with large norms: compare cosine similarities.",
           "未归一化的点积偏向范数大的提示：应当比较余弦相似度。")
    expect(torch.equal(predicted.long(), expected),
           "the predictions are not the most similar prompt of each image.",
           "预测结果不是每张图像最相似的那个提示。")


@exercise("multimodal.cross-attention",
          en="queries from the text, keys and values from the image: one output row per text token, "
          "whatever the number of patches.",
          zh="查询来自文本，键和值来自图像：每个文本词元一行输出，与图块的数量无关。")
def _(answer):
    expect(callable(answer), "the answer should be the function cross_attend itself.",
           "答案应当是函数 cross_attend 本身。")
    generator = torch.Generator().manual_seed(3)
    text, image = torch.randn(7, 8, generator=generator), torch.randn(12, 10, generator=generator)
    w_q, w_k = torch.randn(8, 4, generator=generator), torch.randn(10, 4, generator=generator)
    w_v = torch.randn(10, 8, generator=generator)
    out = answer(text, image, w_q, w_k, w_v)
    expect(isinstance(out, torch.Tensor), "cross_attend should return a tensor.",
           "cross_attend 应当返回一个张量。")
    expect(tuple(out.shape) != (12, 8), "the output has one row per patch: the image is asking. "
           "The queries come from the text.",
           "输出每个图块一行：提问的成了图像。查询应当来自文本。")
    expect(tuple(out.shape) == (7, 8), f"shape {tuple(out.shape)}: the output has the length of "
           "the queries (7 text tokens) and the width of the values (8).",
           f"形状是 {tuple(out.shape)}：输出的长度等于查询的长度（7 个文本词元），宽度等于值的宽度（8）。")
    scores = (text @ w_q) @ (image @ w_k).T
    expect(not torch.allclose(out.detach(), scores.softmax(dim=-1) @ (image @ w_v), atol=1e-5),
           "the scores are not scaled: divide by √d_k.", "分数没有缩放：要除以 √d_k。")
    expect(torch.allclose(out.detach(), (scores / 2).softmax(dim=-1) @ (image @ w_v), atol=1e-5),
           "the output is not softmax(Q Kᵀ / √d_k) V with Q = text·W_Q, K = image·W_K, "
           "V = image·W_V.",
           "输出不是 softmax(Q Kᵀ / √d_k) V，其中 Q = text·W_Q，K = image·W_K，V = image·W_V。")


@exercise("multimodal.learned-queries",
          en="learned queries read the image through cross-attention: a fixed number of visual "
          "tokens, whatever the number of patches.",
          zh="可学习的查询通过交叉注意力读取图像：无论有多少图块，视觉词元的数量都固定。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, nn.Module),
           "the answer should be the class Resampler, a subclass of nn.Module.",
           "答案应当是类 Resampler，nn.Module 的子类。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = answer(4, 16, 24)
    queries = getattr(module, "queries", None)
    expect(isinstance(queries, nn.Parameter) and tuple(queries.shape) == (4, 16),
           "Resampler(4, 16, 24) should hold the learned queries as an nn.Parameter of shape (4, 16), "
           "called queries.",
           "Resampler(4, 16, 24) 应当把可学习的查询存为形状为 (4, 16)、名为 queries 的 nn.Parameter。")
    generator = torch.Generator().manual_seed(4)
    small, large = torch.randn(2, 10, 24, generator=generator), torch.randn(2, 50, 24, generator=generator)
    out_small, out_large = module(small), module(large)
    expect(isinstance(out_small, torch.Tensor), "Resampler(...)(media) should return a tensor.",
           "Resampler(...)(media) 应当返回一个张量。")
    expect(tuple(out_small.shape) != (2, 10, 16), "the output has one row per patch: the image "
           "features are asking. The learned queries ask.",
           "输出每个图块一行：提问的成了图像特征。应当由可学习的查询来提问。")
    expect(tuple(out_small.shape) == (2, 4, 16) and tuple(out_large.shape) == (2, 4, 16),
           f"shapes {tuple(out_small.shape)} and {tuple(out_large.shape)} for 10 and 50 patches: "
           "expected (2, 4, 16) both times.",
           f"10 个和 50 个图块时形状分别是 {tuple(out_small.shape)} 和 {tuple(out_large.shape)}：两次都应当是 (2, 4, 16)。")
    expect(not torch.allclose(out_small[0], out_small[1], atol=1e-5),
           "two different images give the same tokens: the image must come in through the keys "
           "and values.", "两张不同的图像得到了相同的词元：图像应当经由键和值进入。")
    shuffled = module(small[:, torch.randperm(10, generator=generator)])
    expect(torch.allclose(shuffled, out_small, atol=1e-5),
           "shuffling the patches changed the output: attention over the patches should not "
           "depend on their order (no pooling by position).",
           "打乱图块的顺序改变了输出：对图块的注意力不应依赖它们的顺序（不要按位置汇聚）。")
    out_small.pow(2).sum().backward()
    expect(queries.grad is not None and queries.grad.abs().sum() > 0,
           "the queries get no gradient: they must take part in the attention as its queries.",
           "查询没有得到梯度：它们必须作为注意力的查询参与计算。")
