"""Exercises of the Neural networks track (docs/nn/exercises.ipynb)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pytorch_notes.exercises import exercise, expect


@exercise("nn.module-list",
          en="nn.ModuleList registers every layer: parameters(), .to() and train() all see them.",
          zh="nn.ModuleList 注册了每一层：parameters()、.to() 和 train() 都能看到它们。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, nn.Module),
           "the answer should be the class Stack, a subclass of nn.Module.",
           "答案应当是类 Stack，nn.Module 的子类。")
    torch.manual_seed(0)
    model = answer(3)
    count = sum(p.numel() for p in model.parameters())
    expect(count != 0, "model.parameters() finds none of the layers: they are not registered "
           "as submodules.", "model.parameters() 一层也找不到：这些层没有注册为子模块。")
    expect(count == 60, f"3 layers of nn.Linear(4, 4) hold 60 parameters, the model has {count}: "
           "are the layers distinct objects?",
           f"3 个 nn.Linear(4, 4) 共有 60 个参数，模型却有 {count} 个：这些层是不同的对象吗？")
    x = torch.randn(2, 4)
    expected = x
    for layer in (m for m in model.modules() if isinstance(m, nn.Linear)):
        expected = layer(expected)
    out = model(x)
    expect(isinstance(out, torch.Tensor) and torch.allclose(out, expected),
           "forward does not apply the layers one after another, in order.",
           "forward 没有按顺序依次应用这些层。")


def _conv_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


_CASES = [(32, 5, 1, 0), (28, 5, 1, 2), (32, 3, 2, 1), (8, 3, 2, 0), (7, 2, 2, 0), (10, 4, 3, 1)]


@exercise("nn.conv-size", en="floor((size + 2·padding − kernel) / stride) + 1, as F.conv2d computes.",
          zh="floor((size + 2·padding − kernel) / stride) + 1，与 F.conv2d 的算法一致。")
def _(answer):
    expect(callable(answer), "the answer should be the function conv_output_size itself.",
           "答案应当是函数 conv_output_size 本身。")
    got = [answer(*case) for case in _CASES]
    expected = [_conv_size(*case) for case in _CASES]
    expect(all(isinstance(value, int) for value in got),
           f"got {got}: a size is a whole number; when the kernel does not fit a last time, the "
           "size rounds down.", f"得到 {got}：尺寸是整数；卷积核最后放不下时要向下取整。")
    expect(got != [value - 1 for value in expected], "off by one: count the first position of "
           "the kernel too.", "差了一：卷积核的第一个位置也要算上。")
    expect(got != [(s + p - k) // st + 1 for s, k, st, p in _CASES],
           "padding is added on both sides of the input.", "填充加在输入的两侧。")
    expect(got == expected, f"for (size, kernel, stride, padding) = {_CASES} expected the sizes "
           f"F.conv2d gives, got {got}.",
           f"对 (size, kernel, stride, padding) = {_CASES}，应当得到 F.conv2d 给出的尺寸，"
           f"却得到 {got}。")


@exercise("nn.flatten", en="flatten(start_dim=1) keeps the batch: one row of 400 features per image.",
          zh="flatten(start_dim=1) 保留批维：每张图像一行，400 个特征。")
def _(answer):
    expect(callable(answer), "the answer should be the function flatten_batch itself.",
           "答案应当是函数 flatten_batch 本身。")
    x = torch.randn(8, 16, 5, 5, generator=torch.Generator().manual_seed(0))
    out = answer(x)
    expect(isinstance(out, torch.Tensor), "flatten_batch should return a tensor.",
           "flatten_batch 应当返回一个张量。")
    expect(out.dim() != 1, f"shape {tuple(out.shape)}: the batch dimension was flattened too.",
           f"形状是 {tuple(out.shape)}：批维也被展平了。")
    expect(tuple(out.shape) == (8, 400), f"shape {tuple(out.shape)}: expected one row per image "
           "with all its 16·5·5 features.", f"形状是 {tuple(out.shape)}：应当每张图像一行，"
           "包含它全部 16·5·5 个特征。")
    expect(torch.equal(out, x.reshape(8, -1)), "the shape is right but the features of an image "
           "are mixed up with those of other images.", "形状对了，但一张图像的特征与别的图像混在了一起。")


@exercise("nn.dropout", en="training-mode Dropout scales survivors by 1/(1 − p), so the mean stays.",
          zh="训练模式下的 Dropout 把保留的元素乘以 1/(1 − p)，期望值保持不变。")
def _(answer):
    expect(isinstance(answer, (int, float)) or (isinstance(answer, torch.Tensor)
                                               and answer.numel() == 1),
           "the answer should be one number.", "答案应当是一个数。")
    value = float(answer)
    expect(value != 1.0, "the survivors are not left at 1: Dropout keeps the expected value of "
           "each entry the same.", "保留下来的元素并不还是 1：Dropout 要让每个元素的期望值保持不变。")
    expect(abs(value - 0.75) > 1e-6, "scaled the wrong way: 1 − p of the entries survive, and "
           "the mean should still be 1.", "缩放方向反了：有 1 − p 的元素保留下来，平均值仍应为 1。")
    expect(abs(value - 4 / 3) < 1e-4, "that is not the value a surviving 1 takes.",
           "保留下来的 1 不是这个值。")


@exercise("nn.cross-entropy",
          en="log_softmax, pick the target's entry, mean: F.cross_entropy, stable for huge logits.",
          zh="log_softmax、取出目标类别那一项、求平均：这就是 F.cross_entropy，对极大的 logits 也稳定。")
def _(answer):
    expect(callable(answer), "the answer should be the function cross_entropy itself.",
           "答案应当是函数 cross_entropy 本身。")
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=generator)
    targets = torch.tensor([0, 3, 1, 1, 2, 0])
    loss = answer(logits, targets)
    expect(isinstance(loss, torch.Tensor) and loss.numel() == 1,
           "cross_entropy should return one number (a 0-dimensional tensor) for the batch.",
           "cross_entropy 对整批应当返回一个数（0 维张量）。")
    expected = F.cross_entropy(logits, targets)
    expect(not torch.allclose(loss, expected * len(targets)),
           "the loss is a sum over the batch: the default reduction is the mean.",
           "损失是整批之和：默认的 reduction 是求平均。")
    expect(not torch.allclose(loss, F.cross_entropy(logits.softmax(dim=1), targets)),
           "softmax is applied twice: cross-entropy takes logits, not probabilities.",
           "softmax 用了两次：交叉熵接收的是 logits，不是概率。")
    expect(torch.allclose(loss, expected, atol=1e-5),
           "the loss is not −log of the softmax probability of the target class, averaged.",
           "损失不是目标类别的 softmax 概率取 −log 后的平均。")
    huge = answer(logits * 1000, targets)
    expect(torch.isfinite(huge).all() and torch.allclose(huge, F.cross_entropy(logits * 1000,
                                                                              targets)),
           "right for small logits, but not finite or wrong for logits of size 1000: softmax "
           "then log overflows.", "logits 小时正确，但 logits 到 1000 量级时结果不再有限或出错："
           "先 softmax 再取 log 会溢出。")


def _reference_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


@exercise("nn.train-step", en="zero_grad, forward, loss, backward, step: one clean update per call.",
          zh="zero_grad、前向、损失、backward、step：每次调用恰好一次干净的更新。")
def _(answer):
    expect(callable(answer), "the answer should be the function train_step itself.",
           "答案应当是函数 train_step 本身。")
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, generator=generator), torch.randn(8, 1, generator=generator)
    runs = []
    for step in (answer, _reference_step):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        start = model.weight.detach().clone()
        losses = []
        for _ in range(3):
            if step is answer:
                losses.append(answer(model, optimizer, F.mse_loss, x, y))
            else:
                losses.append(step(model, optimizer, x, y))
        runs.append((start, model.weight.detach().clone(), losses))
    (start, weight, losses), (_, expected_weight, expected_losses) = runs
    expect(isinstance(losses[0], float), f"train_step returned a {type(losses[0]).__name__}: "
           "return the loss as a Python number, so no graph is kept alive.",
           f"train_step 返回的是 {type(losses[0]).__name__}：应当把损失作为 Python 数返回，"
           "以免计算图一直留在内存里。")
    expect(not torch.equal(weight, start), "the weights never changed: does step() come after "
           "backward()?", "权重始终没变：step() 是在 backward() 之后调用的吗？")
    expect(torch.allclose(weight, expected_weight, atol=1e-6),
           "the weights differ from three clean SGD steps: gradients from an earlier step were "
           "added to this one.", "权重与三次干净的 SGD 更新结果不同：前一步的梯度被加到了这一步上。")
    expect(all(abs(a - b) < 1e-5 for a, b in zip(losses, expected_losses)),
           "the weights are right but the returned losses are not the loss before each step.",
           "权重对了，但返回的损失不是每次更新前的损失。")


@exercise("nn.lenet",
          en="LeNet's 61,706 parameters, trained on real digits, recognise digits they never saw.",
          zh="LeNet 的 61,706 个参数在真实数字上训练后，能认出从没见过的数字。")
def _(answer):
    from pytorch_notes.datasets import mnist

    expect(isinstance(answer, nn.Module), "the answer should be the trained model, an nn.Module.",
           "答案应当是训练好的模型，一个 nn.Module。")
    count = sum(p.numel() for p in answer.parameters())
    expect(count == 61_706, f"the model has {count:,} parameters, LeNet has 61,706: compare the "
           "layers one by one (is the first convolution padded?).",
           f"模型有 {count:,} 个参数，LeNet 是 61,706 个：逐层对照（第一个卷积有没有填充？）。")
    digits = mnist(train=False)
    images = digits.data[8000:8500].unsqueeze(1).float() / 255
    labels = digits.targets[8000:8500]
    was_training = answer.training
    answer.eval()
    with torch.no_grad():
        logits = answer(images)
        alone = answer(images[:1])
    answer.train(was_training)
    expect(tuple(logits.shape) == (500, 10), f"for 500 digits the model gives shape "
           f"{tuple(logits.shape)}: expected one score per class, (500, 10).",
           f"500 个数字，模型输出的形状是 {tuple(logits.shape)}：应当每类一个分数，即 (500, 10)。")
    expect(torch.allclose(alone, logits[:1], atol=1e-4), "a digit's scores depend on the other "
           "digits of the batch: flatten each image on its own.",
           "一个数字的分数竟取决于同批的其他数字：应当每张图像各自展平。")
    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    expect(accuracy >= 0.7, f"accuracy {accuracy:.0%} on 500 unseen digits, below 70%: train "
           "longer, or check the loop (zero_grad, a sensible learning rate).",
           f"在 500 个没见过的数字上准确率为 {accuracy:.0%}，低于 70%：多训练一会儿，"
           "或检查训练循环（zero_grad、合理的学习率）。")
