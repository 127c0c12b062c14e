"""Exercises of the Loss functions in depth track (docs/losses/exercises.ipynb)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pytorch_notes.exercises import exercise, expect
from pytorch_notes.losses import focal_loss, info_nce


def _value(result, name: str) -> torch.Tensor:
    """The reader's result as a float64 scalar tensor, or Wrong if it is not one number."""
    expect(result is not None, f"{name} returned None: compute the value and return it.",
           f"{name} 返回了 None：把值算出来并返回。")
    value = torch.as_tensor(result).detach().to(torch.float64)
    expect(value.numel() == 1, f"{name} should return one number (a scalar), got shape "
           f"{tuple(value.shape)}: average over the batch.",
           f"{name} 应当返回一个数（标量），得到的形状是 {tuple(value.shape)}：要对批取平均。")
    return value.reshape(())


def _near(value: torch.Tensor, reference: torch.Tensor) -> bool:
    return torch.allclose(value, reference.to(torch.float64), rtol=1e-4, atol=1e-6)


@exercise("losses.kl-div",
          en="F.kl_div takes the model's log-probabilities first and the target second: KL(p || q) "
          "per example.",
          zh="F.kl_div 先接模型的对数概率，再接目标：得到每个样本平均的 KL(p || q)。")
def _(answer):
    expect(callable(answer), "the answer should be the function kl itself.",
           "答案应当是函数 kl 本身。")
    generator = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(4, 5, dtype=torch.float64, generator=generator), dim=1)
    q = torch.softmax(torch.randn(4, 5, dtype=torch.float64, generator=generator), dim=1)
    value = _value(answer(p, q), "kl")
    rows = (p * (p.log() - q.log())).sum(dim=1)
    expect(not _near(value, (q * (q.log() - p.log())).sum(dim=1).mean()),
           "this is KL(q || p), the other direction: which argument of F.kl_div is the target?",
           "这是 KL(q || p)，方向反了：F.kl_div 的哪个参数是目标？")
    expect(not _near(value, rows.mean() / 5),
           "the value is 5 times too small: the default reduction divides by the number of "
           "elements, not by the batch size.",
           "数值小了 5 倍：默认的归约方式除以元素个数，而不是批大小。")
    expect(not _near(value, rows.sum()), "the value is the sum over the batch: average over the "
           "examples.", "这是对整个批求和的结果：应当对样本取平均。")
    expect(value >= 0, "a KL divergence below zero: F.kl_div expects log-probabilities as its "
           "first argument.", "KL 散度小于零：F.kl_div 的第一个参数应当是对数概率。")
    expect(_near(value, rows.mean()), "the value is not KL(p || q) averaged over the rows: "
           "check what each argument of F.kl_div should be.",
           "数值不是按行平均的 KL(p || q)：检查 F.kl_div 的每个参数应当是什么。")


@exercise("losses.distillation",
          en="the student matches the softened teacher, and the T² factor keeps the soft term's "
          "gradient the same size whatever the temperature.",
          zh="学生去拟合软化后的教师，T² 因子让软目标项的梯度大小不随温度变化。")
def _(answer):
    expect(callable(answer), "the answer should be the function distillation_loss itself.",
           "答案应当是函数 distillation_loss 本身。")
    generator = torch.Generator().manual_seed(1)
    student = 2 * torch.randn(16, 6, dtype=torch.float64, generator=generator)
    teacher = 2 * torch.randn(16, 6, dtype=torch.float64, generator=generator)
    labels = torch.randint(0, 6, (16,), generator=generator)
    T, alpha = 4.0, 0.7
    value = _value(answer(student, teacher, labels, T, alpha), "distillation_loss")

    def kl(target_logits, model_logits, temperature):
        return F.kl_div(F.log_softmax(model_logits / temperature, dim=1),
                        F.log_softmax(target_logits / temperature, dim=1),
                        reduction="batchmean", log_target=True)

    hard = F.cross_entropy(student, labels)
    expect(not _near(value, alpha * kl(teacher, student, T) + (1 - alpha) * hard),
           "the soft term is not multiplied by T²: its gradient would shrink like 1/T².",
           "软目标项没有乘以 T²：它的梯度会像 1/T² 那样缩小。")
    expect(not _near(value, alpha * T**2 * kl(student, teacher, T) + (1 - alpha) * hard),
           "the KL goes the wrong way: the teacher is the target, the student is the model.",
           "KL 的方向反了：教师是目标，学生是模型。")
    expect(not _near(value, alpha * kl(teacher, student, 1.0) + (1 - alpha) * hard)
           and not _near(value, alpha * T**2 * kl(teacher, student, 1.0) + (1 - alpha) * hard),
           "the softmaxes are not softened: divide both sets of logits by T.",
           "softmax 没有被软化：两组 logits 都要除以 T。")
    expect(not _near(value, (1 - alpha) * T**2 * kl(teacher, student, T) + alpha * hard),
           "alpha weighs the wrong term: alpha goes with the soft (teacher) term.",
           "alpha 加权的项不对：alpha 应当乘在软目标（教师）项上。")
    expect(_near(value, alpha * T**2 * kl(teacher, student, T) + (1 - alpha) * hard),
           "the value is not alpha·T²·KL(teacher || student) + (1 - alpha)·CE: check each term.",
           "数值不是 alpha·T²·KL(教师 || 学生) + (1 - alpha)·CE：逐项检查。")


@exercise("losses.focal",
          en="(1 - p_t)^γ shrinks the loss of easy examples, and with γ = 0 it is cross-entropy.",
          zh="(1 - p_t)^γ 压低了简单样本的损失，γ = 0 时它就是交叉熵。")
def _(answer):
    expect(callable(answer), "the answer should be the function focal itself.",
           "答案应当是函数 focal 本身。")
    generator = torch.Generator().manual_seed(2)
    logits = 2 * torch.randn(12, 4, dtype=torch.float64, generator=generator)
    targets = torch.randint(0, 4, (12,), generator=generator)
    log_p_true = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
    zero = _value(answer(logits, targets, 0.0), "focal")
    expect(not _near(zero, F.cross_entropy(logits, targets, reduction="sum")),
           "with γ = 0 the value is the sum of the cross-entropies: average over the examples.",
           "γ = 0 时得到的是交叉熵之和：应当对样本取平均。")
    expect(zero >= 0, "the loss is negative: log p_t is negative, the loss is minus it.",
           "损失是负的：log p_t 本身是负数，损失应当取它的相反数。")
    expect(_near(zero, F.cross_entropy(logits, targets)),
           "with γ = 0 focal loss should be plain cross-entropy: check how p_t is taken "
           "(softmax over the classes, the entry of the true class).",
           "γ = 0 时 Focal 损失应当就是交叉熵：检查 p_t 是怎么取的（对类别做 softmax，取真实类别那一项）。")
    value = _value(answer(logits, targets, 2.0), "focal")
    expect(not _near(value, -(log_p_true.exp() ** 2 * log_p_true).mean()),
           "the factor grows with p_t: it should shrink the loss of easy examples (p_t near 1).",
           "这个因子随 p_t 增大：它应当压低简单样本（p_t 接近 1）的损失。")
    expect(_near(value, focal_loss(logits, targets, gamma=2.0)),
           "with γ = 2 the value is wrong: the cross-entropy of each example is multiplied by "
           "(1 - p_t) to the power γ.",
           "γ = 2 时数值不对：每个样本的交叉熵要乘以 (1 - p_t) 的 γ 次方。")


@exercise("losses.smoothing-gap",
          en="with label smoothing the loss is smallest at a finite gap, log(1 + K(1 - ε)/ε): the "
          "logits stop growing.",
          zh="有了标签平滑，损失在一个有限的差距 log(1 + K(1 - ε)/ε) 处最小：logits 不再无限增长。")
def _(answer):
    expect(callable(answer), "the answer should be the function best_gap itself.",
           "答案应当是函数 best_gap 本身。")
    cases = [(0.1, 5), (0.2, 10), (0.05, 3)]
    values = []
    for eps, K in cases:
        result = answer(eps, K)
        expect(result is not None, "best_gap returned None: compute the gap and return it.",
               "best_gap 返回了 None：把差距算出来并返回。")
        values.append(float(result))
    expect(all(math.isfinite(v) for v in values),
           "an infinite gap is what plain cross-entropy wants; with ε > 0 the best gap is finite.",
           "无穷大的差距是普通交叉熵的情形；ε > 0 时最优差距是有限的。")
    expect(not all(math.isclose(v, math.log((1 - e) / (e / K)), rel_tol=1e-6)
                   for v, (e, K) in zip(values, cases)),
           "the true class also gets its share ε/K of the spread mass.",
           "真实类别也分到了被摊开的那份 ε/K。")
    expect(not all(math.isclose(v, math.log((1 - e) / (e / (K - 1))), rel_tol=1e-6)
                   for v, (e, K) in zip(values, cases)),
           "this spreads ε over the K - 1 wrong classes only: the book spreads it over all K.",
           "这样只把 ε 摊给了 K - 1 个错误类别：本书把它摊给全部 K 个类别。")
    expect(all(math.isclose(v, math.log(1 + K * (1 - e) / e), rel_tol=1e-6)
               for v, (e, K) in zip(values, cases)),
           "not the best gap: the loss is smallest where softmax(z) equals the smoothed target, "
           "so z_y - z_k = log(q_y / q_k).",
           "这不是最优差距：当 softmax(z) 等于平滑后的目标时损失最小，所以 z_y - z_k = log(q_y / q_k)。")


@exercise("losses.info-nce",
          en="InfoNCE is a cross-entropy over cosine similarities divided by the temperature, "
          "with each positive on the diagonal.",
          zh="InfoNCE 是对余弦相似度除以温度后做的交叉熵，正样本在对角线上。")
def _(answer):
    expect(callable(answer), "the answer should be the function info_nce_by_hand itself.",
           "答案应当是函数 info_nce_by_hand 本身。")
    generator = torch.Generator().manual_seed(3)
    queries = 3 * torch.randn(8, 5, dtype=torch.float64, generator=generator)
    keys = queries + 2 * torch.randn(8, 5, dtype=torch.float64, generator=generator)
    value = _value(answer(queries, keys, 0.1), "info_nce_by_hand")
    normal_q, normal_k = F.normalize(queries, dim=1), F.normalize(keys, dim=1)
    cosine = normal_q @ normal_k.T
    expect(not _near(value, F.cross_entropy(queries @ keys.T / 0.1, torch.arange(8))),
           "the similarities are raw dot products: normalize the embeddings first (cosine "
           "similarity).", "相似度是未归一化的点积：先把嵌入归一化（余弦相似度）。")
    expect(not _near(value, F.cross_entropy(cosine, torch.arange(8))),
           "the temperature is missing: divide the similarities by it.",
           "少了温度：要把相似度除以它。")
    expect(not _near(value, F.cross_entropy(cosine / 0.1, torch.zeros(8, dtype=torch.long))),
           "every row's target is column 0: the positive of row i is in column i.",
           "每一行的目标都是第 0 列：第 i 行的正样本在第 i 列。")
    expect(_near(value, info_nce(queries, keys, temperature=0.1)),
           "the value is not InfoNCE: cross-entropy of the cosine similarities over the "
           "temperature, targets 0, 1, ..., N-1.",
           "数值不是 InfoNCE：对“余弦相似度除以温度”做交叉熵，目标是 0, 1, ..., N-1。")


def two_views(signal: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two-d points, slightly jittered, plus 6 dims of fresh noise (the contrastive chapter's views)."""
    jitter = signal + 0.05 * torch.randn(signal.shape, generator=generator)
    return torch.cat([jitter, torch.randn(len(signal), 6, generator=generator)], dim=1)


@exercise("losses.contrastive-project",
          en="trained with InfoNCE on two views, the encoder ignores the noise: held-out points "
          "pick out their own second view.",
          zh="用 InfoNCE 在两个视图上训练后，编码器学会了忽略噪声：留出的点能认出自己的另一个视图。")
def _(answer):
    expect(isinstance(answer, torch.nn.Module), "the answer should be the trained encoder, an "
           "nn.Module.", "答案应当是训练好的编码器，一个 nn.Module。")
    generator = torch.Generator().manual_seed(4)
    held_out = torch.rand(32, 2, generator=generator) * 4 - 2
    view_a, view_b = two_views(held_out, generator), two_views(held_out, generator)
    with torch.no_grad():
        a = F.normalize(answer(view_a), dim=1)
        b = F.normalize(answer(view_b), dim=1)
    similarity = a @ b.T
    top1 = (similarity.argmax(dim=1) == torch.arange(32)).float().mean().item()
    expect(top1 > 0.5, f"only {top1:.0%} of 32 held-out points pick their own second view: the "
           "two views of each point should be the positive pair of the loss.",
           f"32 个留出点中只有 {top1:.0%} 认出了自己的另一个视图：每个点的两个视图应当是损失里的正样本对。")
    expect(similarity.diagonal().mean() > 0.9, "the two views of a point are not yet close "
           "(mean cosine similarity below 0.9): train longer.",
           "同一个点的两个视图还不够接近（平均余弦相似度低于 0.9）：再多训练一会儿。")
