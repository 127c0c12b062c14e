"""Exercises of the Training engineering track (docs/engineering/exercises.ipynb)."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from pytorch_notes.exercises import exercise, expect
from pytorch_notes.memory import SavedTensorCounter
from pytorch_notes.schedules import warmup_cosine


@exercise("engineering.param-groups",
          en="matrices are decayed, biases and norm weights are not, and every parameter is in "
          "exactly one group.",
          zh="矩阵参与权重衰减，偏置和归一化层的权重不参与，每个参数恰好属于一个组。")
def _(answer):
    expect(callable(answer), "the answer should be the function param_groups itself.",
           "答案应当是函数 param_groups 本身。")
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))
    groups = answer(model, 0.1)
    expect(isinstance(groups, (list, tuple)) and all(isinstance(g, dict) and "params" in g for g in groups),
           "param_groups should return a list of dicts, each with a \"params\" list.",
           "param_groups 应当返回一个字典列表，每个字典都有一个 \"params\" 列表。")
    optimizer = torch.optim.AdamW(groups, lr=0.01)  # also refuses a parameter in two groups
    seen = [id(p) for group in optimizer.param_groups for p in group["params"]]
    missing = [name for name, p in model.named_parameters() if id(p) not in seen]
    expect(not missing, f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} in no group: "
           "never trained.", f"{', '.join(missing)} 不在任何组里：永远不会被训练。")
    decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    names = dict(model.named_parameters())
    expect(decay[id(names["1.weight"])] != 0.1,
           "the LayerNorm weight is decayed: decide by the number of dimensions (norm gains are 1-D).",
           "LayerNorm 的权重被衰减了：应当按维数来判断（归一化层的增益是一维的）。")
    expect(all(decay[id(p)] == 0 for p in model.parameters() if p.dim() < 2),
           "a group that does not set weight_decay takes the optimizer's default (0.01 for AdamW): "
           "give the no-decay group weight_decay=0.",
           "不设 weight_decay 的组会沿用优化器的默认值（AdamW 是 0.01）：给不衰减的组设 weight_decay=0。")
    expect(all(decay[id(p)] == 0.1 for p in model.parameters() if p.dim() >= 2),
           "the weight matrices should be decayed with the weight_decay given.",
           "权重矩阵应当按给定的 weight_decay 衰减。")


@exercise("engineering.warmup-cosine",
          en="linear from 0 to the peak over the warmup, half a cosine down to min_lr at "
          "total_steps, and min_lr after.",
          zh="预热期间从 0 线性升到峰值，再沿半个余弦在 total_steps 处降到 min_lr，之后保持 min_lr。")
def _(answer):
    expect(callable(answer), "the answer should be the function lr_at itself.",
           "答案应当是函数 lr_at 本身。")
    total, warmup, base, low = 20, 5, 0.1, 0.01
    values = [answer(step, total, warmup, base, low) for step in range(total + 5)]
    expect(all(v is not None for v in values), "lr_at returned None: compute the rate and return it.",
           "lr_at 返回了 None：把学习率算出来并返回。")
    values = [float(v) for v in values]
    expected = [warmup_cosine(step, total, warmup, base, low) for step in range(total + 5)]
    expect(math.isclose(values[0], 0.0, abs_tol=1e-12), f"step 0 has rate {values[0]:.4g}: the "
           "warmup starts at 0.", f"第 0 步的学习率是 {values[0]:.4g}：预热应当从 0 开始。")
    expect(all(math.isclose(v, e, rel_tol=1e-6) for v, e in zip(values[:warmup], expected)),
           "the warmup is wrong: base_lr · step / warmup_steps, reaching the peak at step "
           "warmup_steps.", "预热阶段不对：应为 base_lr · step / warmup_steps，在第 warmup_steps 步达到峰值。")
    expect(math.isclose(values[total], low, rel_tol=1e-6),
           f"at total_steps the rate is {values[total]:.4g}, expected min_lr = {low}: the cosine "
           "runs from the end of the warmup to total_steps, towards min_lr.",
           f"第 total_steps 步的学习率是 {values[total]:.4g}，应当是 min_lr = {low}：余弦从预热结束一直走到 "
           "total_steps，终点是 min_lr。")
    expect(all(math.isclose(v, low, rel_tol=1e-6) for v in values[total:]),
           "after total_steps the rate should stay at min_lr.", "total_steps 之后学习率应当保持在 min_lr。")
    expect(all(math.isclose(v, e, rel_tol=1e-6) for v, e in zip(values, expected)),
           "the cosine part is wrong: min_lr + ½(base_lr − min_lr)(1 + cos(π·progress)), with "
           "progress going from 0 to 1 between warmup_steps and total_steps.",
           "余弦部分不对：应为 min_lr + ½(base_lr − min_lr)(1 + cos(π·progress))，progress 在 "
           "warmup_steps 到 total_steps 之间从 0 走到 1。")


@exercise("engineering.unscale",
          en="divided by the scale in float32, the tiny gradients come back, and any inf or NaN "
          "skips the step.",
          zh="在 float32 中除以缩放系数，极小的梯度就回来了；只要有 inf 或 NaN 就跳过这一步。")
def _(answer):
    expect(callable(answer), "the answer should be the function unscale itself.",
           "答案应当是函数 unscale 本身。")
    scale = 2.0**15
    tiny, normal = torch.tensor([1e-8, -3e-8]), torch.tensor([0.5, -0.25, 1.5])
    grads = [(tiny * scale).half(), (normal * scale).half()]
    result = answer([g.clone() for g in grads], scale)
    expect(isinstance(result, tuple) and len(result) == 2,
           "unscale should return two things: the list of gradients and found_inf.",
           "unscale 应当返回两样东西：梯度列表和 found_inf。")
    unscaled, found_inf = result
    expect(isinstance(unscaled, (list, tuple)) and len(unscaled) == 2
           and all(isinstance(g, torch.Tensor) for g in unscaled),
           "the first result should be a list with one gradient per input gradient.",
           "第一个结果应当是一个列表，每个输入梯度对应一个梯度。")
    expect(not torch.allclose(unscaled[1].float(), (normal * scale)),
           "the gradients are still scaled: divide them by the scale.", "梯度仍是放大后的：要除以缩放系数。")
    expect(all(g.dtype == torch.float32 for g in unscaled) and unscaled[0].abs().min() > 0,
           "the tiny gradients became 0: unscale in float32, where 1e-8 is representable (in "
           "float16 they underflow again).",
           "极小的梯度变成了 0：要在 float32 中反缩放，那里能表示 1e-8（在 float16 中它们又会下溢）。")
    expect(torch.allclose(unscaled[0], tiny, rtol=1e-3) and torch.allclose(unscaled[1], normal),
           "the unscaled gradients are not the scaled ones divided by the scale.",
           "反缩放后的梯度不是放大后的梯度除以缩放系数。")
    expect(not bool(found_inf), "found_inf is True, but every gradient is finite.",
           "所有梯度都是有限值，found_inf 却是 True。")
    for bad, name in ((float("inf"), "inf"), (float("nan"), "NaN")):
        poisoned = [grads[0].clone(), grads[1].clone()]
        poisoned[1][0] = bad
        _, found = answer(poisoned, scale)
        expect(bool(found), f"a gradient holds {name}, but found_inf is False: check for inf and NaN "
               "(torch.isfinite).", f"有个梯度含有 {name}，found_inf 却是 False：要同时检查 inf 和 NaN"
               "（torch.isfinite）。")


def _blocks() -> nn.Sequential:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(4)])


@exercise("engineering.checkpoint",
          en="each block keeps only its input for backward and recomputes the rest: the same "
          "gradients with fewer saved activations.",
          zh="每个块只为反向传播保存它的输入，其余的重新计算：梯度相同，保存的激活值更少。")
def _(answer):
    expect(callable(answer), "the answer should be the function checkpointed_forward itself.",
           "答案应当是函数 checkpointed_forward 本身。")
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))  # data: no requires_grad
    plain_model, model = _blocks(), _blocks()
    with SavedTensorCounter(exclude=plain_model.parameters()) as plain_saved:
        plain_out = plain_model(x)
    plain_out.pow(2).sum().backward()
    with SavedTensorCounter(exclude=model.parameters()) as saved:
        out = answer(model, x)
    expect(isinstance(out, torch.Tensor) and out.shape == plain_out.shape,
           "checkpointed_forward should return the output of the last block.",
           "checkpointed_forward 应当返回最后一个块的输出。")
    expect(torch.allclose(out.detach(), plain_out.detach(), atol=1e-6),
           "the output differs from running the blocks one after the other.",
           "输出与依次运行各块的结果不同。")
    expect(out.requires_grad, "the output does not require grad: with use_reentrant=True and an "
           "input that does not require grad (a batch of data), the weights get no gradient. Use "
           "use_reentrant=False.",
           "输出不需要梯度：use_reentrant=True 时，如果输入（一批数据）不需要梯度，权重就得不到梯度。"
           "要用 use_reentrant=False。")
    out.pow(2).sum().backward()
    expect(all(p.grad is not None for p in model.parameters()),
           "some weights got no gradient.", "有些权重没有得到梯度。")
    expect(all(torch.allclose(p.grad, q.grad, atol=1e-5) for p, q in
               zip(model.parameters(), plain_model.parameters())),
           "the gradients differ from the plain forward pass.", "梯度与普通前向传播的不同。")
    expect(saved.count < plain_saved.count,
           f"{saved.count} activations were saved for backward, as many as without checkpointing "
           f"({plain_saved.count}): run each block through torch.utils.checkpoint.checkpoint.",
           f"为反向传播保存了 {saved.count} 个激活值，与不用检查点时（{plain_saved.count} 个）一样多："
           "要让每个块都经过 torch.utils.checkpoint.checkpoint。")


@exercise("engineering.shard-indices",
          en="every N-th index from the rank, padded from the start so that all ranks get the same "
          "number: what DistributedSampler gives without shuffling.",
          zh="从本进程的序号开始每隔 N 个取一个下标，并从开头补齐，使每个进程拿到的数量相同：正是 DistributedSampler 不打乱时给出的结果。")
def _(answer):
    from torch.utils.data.distributed import DistributedSampler

    expect(callable(answer), "the answer should be the function shard itself.",
           "答案应当是函数 shard 本身。")
    for size, world_size in ((12, 3), (10, 3), (10, 4)):
        for rank in range(world_size):
            got = answer(size, world_size, rank)
            expect(got is not None, "shard returned None: return the list of indices.",
                   "shard 返回了 None：应当返回下标列表。")
            got = [int(i) for i in got]
            expected = list(DistributedSampler(range(size), num_replicas=world_size, rank=rank,
                                               shuffle=False))
            expect(got != list(range(rank, size, world_size)) or got == expected,
                   f"with {size} examples on {world_size} ranks, rank {rank} gets {len(got)} indices, "
                   "not as many as the others: pad with indices from the start so that every rank "
                   "gets the same number.",
                   f"{size} 个样本分给 {world_size} 个进程时，进程 {rank} 拿到 {len(got)} 个下标，与其他进程不一样多："
                   "要从开头取下标来补齐，让每个进程拿到的数量相同。")
            expect(got == expected, f"rank {rank} of {world_size} gets {got}: it should take every "
                   f"{world_size}-th index, starting at {rank}.",
                   f"{world_size} 个进程中的进程 {rank} 拿到了 {got}：它应当从 {rank} 开始每隔 {world_size} 个取一个下标。")


@exercise("engineering.ddp-step",
          en="averaging the shard gradients and applying the same step everywhere keeps the "
          "replicas identical to one big-batch step.",
          zh="把各分片的梯度取平均、在每个副本上走同样的一步，副本就与在整个大批上走一步完全一致。")
def _(answer):
    expect(callable(answer), "the answer should be the function ddp_step itself.",
           "答案应当是函数 ddp_step 本身。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    generator = torch.Generator().manual_seed(1)
    inputs, targets = torch.randn(8, 3, generator=generator), torch.randn(8, 2, generator=generator)
    reference = copy.deepcopy(model)
    F.mse_loss(reference(inputs), targets).backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.1 * p.grad
    original = [p.detach().clone() for p in model.parameters()]
    replicas = answer(model, inputs, targets, 4, 0.1)
    expect(isinstance(replicas, (list, tuple)) and len(replicas) == 4
           and all(isinstance(r, nn.Module) for r in replicas),
           "ddp_step should return the list of world_size replicas (modules).",
           "ddp_step 应当返回 world_size 个副本（模块）组成的列表。")
    expect(all(torch.equal(p, q) for p, q in zip(model.parameters(), original)),
           "the original model changed: each rank works on its own copy.",
           "原来的模型被改动了：每个进程都应当在自己的副本上工作。")
    weights = [torch.cat([p.detach().flatten() for p in r.parameters()]) for r in replicas]
    expect(all(torch.allclose(w, weights[0], atol=1e-6) for w in weights),
           "the replicas differ after the step: every rank must apply the same, all-reduced "
           "gradient.", "这一步之后各副本不一样了：每个进程都必须使用同一个经过 all-reduce 的梯度。")
    start = torch.cat([p.flatten() for p in original])
    target = torch.cat([p.detach().flatten() for p in reference.parameters()])
    expect(not torch.allclose(weights[0], start + 4 * (target - start), atol=1e-5),
           "the step is 4 times too large: the gradients are summed over the ranks; average them.",
           "这一步大了 4 倍：梯度在各进程间求了和，应当取平均。")
    expect(torch.allclose(weights[0], target, atol=1e-5),
           "the replicas do not match one SGD step on the whole batch: each rank takes an equal "
           "shard, the shard gradients are averaged, then every replica steps.",
           "各副本与在整个批上走一步 SGD 的结果不符：每个进程取一个等大的分片，分片梯度取平均，然后每个副本各走一步。")
