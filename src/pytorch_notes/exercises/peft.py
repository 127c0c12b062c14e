"""Exercises of the Parameter-efficient fine-tuning track (docs/peft/exercises.ipynb)."""

from __future__ import annotations

import math

import torch
from torch import nn

from pytorch_notes.exercises import exercise, expect


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@exercise("peft.lora-count",
          en="LoRA trains r·(d_in + d_out) numbers instead of d_in·d_out: a few percent of the layer.",
          zh="LoRA 只训练 r·(d_in + d_out) 个数，而不是 d_in·d_out 个：只占这一层的百分之几。")
def _(answer):
    expect(callable(answer), "the answer should be the function lora_trainable itself.",
           "答案应当是函数 lora_trainable 本身。")
    cases = [(512, 512, 8), (768, 3072, 16), (100, 10, 4)]
    values = [answer(*case) for case in cases]
    expect(all(v is not None for v in values), "lora_trainable returned None: count and return "
           "the number.", "lora_trainable 返回了 None：把个数数出来并返回。")
    expect(not all(v == d_in * d_out + r * (d_in + d_out) for v, (d_in, d_out, r) in zip(values, cases)),
           "this includes the frozen weight: only A and B train.",
           "这里把冻结的权重也算进去了：只有 A 和 B 参与训练。")
    expect(not all(v == 2 * r * d_in for v, (d_in, d_out, r) in zip(values, cases)),
           "right for a square layer only: A is r × d_in, B is d_out × r.",
           "只对方阵层成立：A 是 r × d_in，B 是 d_out × r。")
    expect(not all(v == r * d_in * d_out for v, (d_in, d_out, r) in zip(values, cases)),
           "r · d_in · d_out is more than the full layer: count the entries of A and of B.",
           "r · d_in · d_out 比整层还多：分别数一数 A 和 B 的元素个数。")
    expect(all(v == r * (d_in + d_out) for v, (d_in, d_out, r) in zip(values, cases)),
           "not the number of entries of A (r × d_in) and B (d_out × r) together.",
           "这不是 A（r × d_in）和 B（d_out × r）的元素个数之和。")


@exercise("peft.lora-layer",
          en="W₀ frozen, A random, B zero: the layer starts as the pretrained one, and B gets a "
          "gradient from the first step.",
          zh="W₀ 冻结，A 随机，B 为零：这一层一开始就是预训练层，而 B 从第一步起就有梯度。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, nn.Module),
           "the answer should be the class LoRA, a subclass of nn.Module.",
           "答案应当是类 LoRA，nn.Module 的子类。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        base = nn.Linear(6, 5)
        weight, bias = base.weight.detach().clone(), base.bias.detach().clone()
        layer = answer(base, 2, 4.0)
    expect(isinstance(getattr(layer, "A", None), nn.Parameter)
           and isinstance(getattr(layer, "B", None), nn.Parameter),
           "LoRA should have two nn.Parameter attributes, A and B.",
           "LoRA 应当有两个 nn.Parameter 属性：A 和 B。")
    expect(tuple(layer.A.shape) == (2, 6) and tuple(layer.B.shape) == (5, 2),
           f"A has shape {tuple(layer.A.shape)} and B {tuple(layer.B.shape)}: A is (r, in_features) "
           "and B is (out_features, r).",
           f"A 的形状是 {tuple(layer.A.shape)}，B 的是 {tuple(layer.B.shape)}：A 应为 (r, in_features)，"
           "B 应为 (out_features, r)。")
    expect(not base.weight.requires_grad and not base.bias.requires_grad,
           "the pretrained layer still trains: freeze its weight and bias.",
           "预训练层仍在训练：要冻结它的权重和偏置。")
    expect(_trainable(layer) == 2 * 6 + 5 * 2, f"{_trainable(layer)} numbers train: only A and B "
           "should.", f"有 {_trainable(layer)} 个数参与训练：应当只有 A 和 B。")
    expect(not (layer.A == 0).all(), "A and B both start at zero: each gradient contains the "
           "other factor, so nothing would ever train. One of them must be random.",
           "A 和 B 都从零开始：每个梯度里都含有另一个因子，于是什么都训练不了。其中一个必须是随机的。")
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    out = layer(x)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 5),
           "LoRA(base)(x) should return (batch, out_features).",
           "LoRA(base)(x) 应当返回 (batch, out_features)。")
    expect(torch.allclose(out.detach(), x @ weight.T + bias, atol=1e-6),
           "a new LoRA layer should compute exactly what the pretrained layer computes: B starts "
           "at zero.", "新建的 LoRA 层应当与预训练层的计算结果完全相同：B 从零开始。")
    out.sum().backward()
    expect(layer.B.grad is not None and layer.B.grad.abs().sum() > 0,
           "B gets no gradient: is the update part of the output?",
           "B 没有得到梯度：更新项是否进入了输出？")
    with torch.no_grad():
        layer.B.copy_(torch.randn(5, 2, generator=torch.Generator().manual_seed(2)))
        out = layer(x)
        expected = x @ weight.T + bias + 2.0 * (x @ layer.A.T @ layer.B.T)
        expect(not torch.allclose(out, x @ weight.T + bias + x @ layer.A.T @ layer.B.T, atol=1e-5),
               "the update is not scaled: multiply it by α / r.", "更新项没有缩放：要乘以 α / r。")
        expect(torch.allclose(out, expected, atol=1e-5),
               "with B nonzero the output is not base(x) + (α/r)·x Aᵀ Bᵀ.",
               "B 不为零时，输出不是 base(x) + (α/r)·x Aᵀ Bᵀ。")


@exercise("peft.lora-merge",
          en="W₀ + (α/r)·BA is one ordinary weight: the merged layer gives the same outputs at the "
          "cost of the base layer.",
          zh="W₀ + (α/r)·BA 只是一个普通的权重：合并后的层输出相同，开销与基础层一样。")
def _(answer):
    expect(callable(answer), "the answer should be the function merge itself.",
           "答案应当是函数 merge 本身。")
    from pytorch_notes.peft import LoRALinear

    with torch.random.fork_rng():
        torch.manual_seed(0)
        lora = LoRALinear(nn.Linear(6, 6), r=2, alpha=6.0)
        with torch.no_grad():
            lora.lora_B.copy_(torch.randn(6, 2))
    merged = answer(lora)
    expect(isinstance(merged, nn.Linear), "merge should return a plain nn.Linear.",
           "merge 应当返回一个普通的 nn.Linear。")
    expect(tuple(merged.weight.shape) == (6, 6), "the merged layer should have the shape of the "
           "base layer.", "合并后的层应当与基础层形状相同。")
    product = lora.lora_B.detach() @ lora.lora_A.detach()
    base = lora.base.weight.detach()
    weight = merged.weight.detach()
    expect(not torch.allclose(weight, base + product, atol=1e-5),
           "the update is not scaled: W = W₀ + (α/r)·BA.", "更新项没有缩放：W = W₀ + (α/r)·BA。")
    expect(not torch.allclose(weight, base + 3.0 * product.T, atol=1e-5),
           "the update is transposed: B A has shape (out_features, in_features), like W₀.",
           "更新项转置了：B A 的形状是 (out_features, in_features)，与 W₀ 相同。")
    expect(torch.allclose(weight, base + 3.0 * product, atol=1e-5),
           "the merged weight is not W₀ + (α/r)·BA.", "合并后的权重不是 W₀ + (α/r)·BA。")
    expect(merged.bias is not None and torch.allclose(merged.bias.detach(), lora.base.bias.detach()),
           "the merged layer lost the base layer's bias.", "合并后的层丢掉了基础层的偏置。")
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    expect(torch.allclose(merged(x).detach(), lora(x).detach(), atol=1e-5),
           "the merged layer does not give the LoRA layer's outputs.",
           "合并后的层与 LoRA 层的输出不同。")


@exercise("peft.bottleneck-adapter",
          en="down, ReLU, up, plus the input: with up at zero a new adapter is the identity, and "
          "it still learns from the first step.",
          zh="下投影、ReLU、上投影，再加上输入：上投影为零时，新的适配器就是恒等映射，而且从第一步起就能学习。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, nn.Module),
           "the answer should be the class Adapter, a subclass of nn.Module.",
           "答案应当是类 Adapter，nn.Module 的子类。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        adapter = answer(12, 3)
    down, up = getattr(adapter, "down", None), getattr(adapter, "up", None)
    expect(isinstance(down, nn.Linear) and isinstance(up, nn.Linear),
           "Adapter should have two nn.Linear layers, down and up.",
           "Adapter 应当有两个 nn.Linear 层：down 和 up。")
    expect((down.in_features, down.out_features, up.in_features, up.out_features) == (12, 3, 3, 12),
           "Adapter(12, 3): down goes from 12 features to 3, up from 3 back to 12.",
           "Adapter(12, 3)：down 把 12 个特征投影到 3 个，up 再从 3 个投影回 12 个。")
    h = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))
    out = adapter(h)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (5, 12),
           "Adapter(12, 3)(h) should return the shape of h.", "Adapter(12, 3)(h) 应当返回与 h 相同的形状。")
    expect(not torch.allclose(out.detach(), torch.zeros(5, 12), atol=1e-6),
           "a new adapter outputs zeros: the residual adds the input, h + up(...).",
           "新建的适配器输出全是零：残差要把输入加回来，即 h + up(...)。")
    expect(torch.allclose(out.detach(), h, atol=1e-6),
           "a new adapter should be the identity, so that inserting it changes nothing: up starts "
           "at zero (weight and bias).",
           "新建的适配器应当是恒等映射，插进去才不会改变任何东西：up 从零开始（权重和偏置都是）。")
    out.pow(2).sum().backward()
    expect(up.weight.grad is not None and up.weight.grad.abs().sum() > 0,
           "up's weight gets no gradient: with down at zero too, ReLU(down(h)) is 0 and only up's "
           "bias can move. Keep down random.",
           "up 的权重没有得到梯度：down 也为零时，ReLU(down(h)) 恒为 0，只有 up 的偏置能动。down 要保持随机。")
    with torch.no_grad():
        up.weight.copy_(torch.randn(12, 3, generator=torch.Generator().manual_seed(2)))
        expected = h + up(torch.relu(down(h)))
        expect(torch.allclose(adapter(h), expected, atol=1e-5),
               "once up is trained the output is not h + up(ReLU(down(h))).",
               "up 训练之后，输出不是 h + up(ReLU(down(h)))。")


@exercise("peft.gated-adapter",
          en="gate at zero, branch random: the module starts as the frozen sublayer and the gate "
          "gets the first gradient.",
          zh="门控为零、分支随机：模块一开始就是冻结的子层，第一份梯度落在门控上。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, nn.Module),
           "the answer should be the class Gated, a subclass of nn.Module.",
           "答案应当是类 Gated，nn.Module 的子类。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        sublayer = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        module = answer(sublayer, 8, 3)
    gate = getattr(module, "gate", None)
    expect(isinstance(gate, nn.Parameter) and gate.numel() == 1,
           "Gated should have a one-number nn.Parameter called gate.",
           "Gated 应当有一个名为 gate、只含一个数的 nn.Parameter。")
    expect(all(not p.requires_grad for p in sublayer.parameters()),
           "the sublayer still trains: freeze it.", "子层仍在训练：要把它冻结。")
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))
    out = module(x)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (4, 8),
           "Gated(...)(x) should return the sublayer's shape (batch, dim).",
           "Gated(...)(x) 应当返回与子层相同的形状 (batch, dim)。")
    expect(torch.allclose(out.detach(), sublayer(x).detach(), atol=1e-6),
           "a new module should be exactly the frozen sublayer: the gate starts at 0.",
           "新建的模块应当恰好就是冻结的子层：门控从 0 开始。")
    out.pow(2).sum().backward()
    expect(gate.grad is not None and gate.grad.abs().sum() > 0,
           "the gate gets no gradient: with the gate and the up projection both at zero, every "
           "gradient has a zero factor and nothing ever trains. Keep the branch random.",
           "门控没有得到梯度：门控和上投影都为零时，每个梯度都有一个为零的因子，什么都训练不了。分支要保持随机初始化。")
    with torch.no_grad():
        gate.fill_(10.0)
        opened = module(x)
        gate.fill_(0.5)
        half = module(x)
        branch = (opened - sublayer(x)) / math.tanh(10.0)
    expect(torch.allclose(half, sublayer(x) + math.tanh(0.5) * branch, atol=1e-5),
           "the branch is not scaled by tanh(gate): the gate goes through tanh.",
           "分支没有乘以 tanh(gate)：门控要先经过 tanh。")


def _lora_task() -> tuple[nn.Linear, torch.Tensor]:
    """The project's pretrained layer and the rank-2 change of the new task (the skeleton's seed)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        pretrained = nn.Linear(32, 32)
        true_change = 0.5 * torch.randn(32, 2) @ torch.randn(2, 32) / math.sqrt(32)
    return pretrained, true_change


@exercise("peft.lora-project",
          en="the new task lives entirely in A and B: the loss fell, W₀ is untouched and the "
          "change has rank at most r.",
          zh="新任务完全学进了 A 和 B：损失下降了，W₀ 分毫未动，改变量的秩不超过 r。")
def _(answer):
    from pytorch_notes.peft import LoRALinear

    expect(isinstance(answer, LoRALinear), "the answer should be the trained LoRALinear layer.",
           "答案应当是训练好的 LoRALinear 层。")
    pretrained, true_change = _lora_task()
    expect(torch.equal(answer.base.weight, pretrained.weight.detach()),
           "W₀ changed: the pretrained weight must stay frozen (only A and B train).",
           "W₀ 变了：预训练权重必须保持冻结（只训练 A 和 B）。")
    x = torch.randn(512, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        targets = x @ (pretrained.weight + true_change).T + pretrained.bias
        before = torch.nn.functional.mse_loss(pretrained(x), targets).item()
        after = torch.nn.functional.mse_loss(answer(x), targets).item()
    expect(after < 0.05 * before, f"on fresh inputs the error is {after:.4f}, against {before:.4f} "
           "before fine-tuning: train A and B on the task (100 Adam steps are enough).",
           f"在新的输入上误差是 {after:.4f}，微调前是 {before:.4f}：要在任务上训练 A 和 B（100 步 Adam 就够了）。")
    rank = torch.linalg.matrix_rank(answer.delta_weight().detach()).item()
    expect(rank <= answer.r, f"the change has rank {rank}, more than r = {answer.r}.",
           f"改变量的秩是 {rank}，大于 r = {answer.r}。")
