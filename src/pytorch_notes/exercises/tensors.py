"""Exercises of the Tensors & autograd track (docs/autograd/exercises.ipynb)."""

from __future__ import annotations

import torch

from pytorch_notes.exercises import exercise, expect


def _close(value, reference, tolerance=1e-5) -> bool:
    """Whether ``value`` is a tensor (or number) of the reference's shape and close to it."""
    value = torch.as_tensor(value, dtype=reference.dtype)
    return value.shape == reference.shape and torch.allclose(value, reference, atol=tolerance,
                                                             rtol=tolerance)


@exercise("tensors.stack", en="stack adds a new first dimension: shape (2, 3).",
          zh="stack 新增了第一维：形状为 (2, 3)。")
def _(answer):
    expect(isinstance(answer, torch.Tensor), "the answer should be a tensor.", "答案应当是一个张量。")
    expect(answer.dim() == 2, f"expected 2 dimensions, got {answer.dim()}: cat joins along an "
           "existing dimension, stack makes a new one.",
           f"应当有 2 个维度，得到 {answer.dim()} 个：cat 沿已有维度拼接，stack 会新建一维。")
    expect(tuple(answer.shape) == (2, 3), f"shape {tuple(answer.shape)}: which dimension is new?",
           f"形状是 {tuple(answer.shape)}：新的那一维应当在哪里？")
    expect(torch.equal(answer, torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
           "the shape is right but the values are not a and b in order.",
           "形状对了，但数值不是按顺序排列的 a 和 b。")


@exercise("autograd.manual-gradient",
          en="your chain-rule gradients dL/dw and dL/db agree with autograd.",
          zh="你用链式法则推出的 dL/dw 和 dL/db 与 autograd 的结果一致。")
def _(answer):
    expect(callable(answer), "the answer should be the function loss_and_grads itself.",
           "答案应当是函数 loss_and_grads 本身。")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(20, 1, generator=generator)
    y = 2 * x + 1 + 0.1 * torch.randn(20, 1, generator=generator)
    w = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(-0.3, requires_grad=True)
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    result = answer(w.detach(), b.detach(), x, y)
    expect(isinstance(result, tuple) and len(result) == 3,
           "loss_and_grads should return three values: loss, dw, db.",
           "loss_and_grads 应当返回三个值：loss、dw、db。")
    expect(all(value is not None for value in result), "loss_and_grads returned None: compute "
           "all three values.", "loss_and_grads 返回了 None：三个值都要算出来。")
    got_loss, dw, db = (torch.as_tensor(value, dtype=torch.float32).detach() for value in result)
    expect(_close(got_loss, loss.detach()), "the loss is not the mean of the squared residuals.",
           "损失不是残差平方的平均值。")
    for got, name, reference in ((dw, "dw", w.grad), (db, "db", b.grad)):
        expect(not _close(got, reference / 2),
               f"{name} is half of what it should be: what is the derivative of r**2?",
               f"{name} 只有应有值的一半：r**2 的导数是什么？")
        expect(not _close(got, reference * len(x), 1e-3),
               f"{name} is {len(x)} times too large: the loss is a mean, so is its gradient.",
               f"{name} 大了 {len(x)} 倍：损失是平均值，它的梯度也应是平均值。")
        expect(_close(got, reference),
               f"{name} does not match autograd: write L through the residual r = w*x + b - y "
               "and apply the chain rule.",
               f"{name} 与 autograd 的结果不符：把 L 写成残差 r = w*x + b - y 的函数，再用链式法则。")


@exercise("autograd.accumulate",
          en="with .grad cleared before each backward, every entry is the gradient for its own x.",
          zh="每次 backward 之前清空 .grad，每一项都只是对应那个 x 的梯度。")
def _(answer):
    expect(isinstance(answer, (list, tuple)) and len(answer) == 3,
           "the answer should be the list grads with three entries.",
           "答案应当是含三项的列表 grads。")
    values = [float(value) for value in answer]
    expect(values != [0.0, 0.0, 0.0],
           "all three entries are 0: they are one tensor, w.grad, zeroed in place after you "
           "stored it. Store a number (.item()) instead.",
           "三项都是 0：它们是同一个张量 w.grad，存下之后又被原地清零了。应当存一个数（.item()）。")
    expect(values != [3.0, 15.0, 42.0],
           "each entry holds the sum of all gradients so far: backward adds to .grad.",
           "每一项都是到目前为止所有梯度之和：backward 会累加到 .grad 上。")
    expect(values == [3.0, 12.0, 27.0],
           "the entries are not d(loss)/dw for x = 1, 2, 3.",
           "这几项不是 x = 1、2、3 时的 d(loss)/dw。")


@exercise("autograd.detach",
          en="detach() made the sum a constant: the gradient flows only through the other factor.",
          zh="detach() 把求和变成了常数：梯度只经过另一个因子流回。")
def _(answer):
    expect(callable(answer), "the answer should be the function scaled itself.",
           "答案应当是函数 scaled 本身。")
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = answer(x)
    expect(isinstance(out, torch.Tensor) and out.shape == x.shape,
           "scaled(x) should return a tensor shaped like x.", "scaled(x) 应当返回与 x 形状相同的张量。")
    expect(torch.allclose(out.detach(), x.detach() * 6.0), "the values are not x times x.sum().",
           "数值不是 x 乘以 x.sum()。")
    expect(out.requires_grad, "no gradient reaches x at all: detach only the factor that should "
           "be a constant.", "梯度完全到不了 x：只应 detach 那个当作常数的因子。")
    upstream = torch.tensor([1.0, 2.0, 3.0])
    out.backward(upstream)
    dot = (upstream * x.detach()).sum()
    expect(not torch.allclose(x.grad, upstream * 6.0 + dot),
           "the gradient also flows back through x.sum(): cut the graph there.",
           "梯度也经 x.sum() 流了回去：应当在那里切断计算图。")
    expect(not torch.allclose(x.grad, dot.expand(3)),
           "the gradient flows only through the sum: which factor should be the constant?",
           "梯度只经过了求和那一支：哪个因子才应当是常数？")
    expect(torch.allclose(x.grad, upstream * 6.0), "the gradient reaching x is not the "
           "expected one: check which part of the expression is detached.",
           "到达 x 的梯度不对：检查表达式中哪一部分被 detach 了。")


@exercise("autograd.hook",
          en="the tensor hook clipped the gradient on its way back, before it reached x.grad.",
          zh="张量钩子在梯度回传途中、到达 x.grad 之前把它截断了。")
def _(answer):
    expect(callable(answer), "the answer should be the hook function clip itself.",
           "答案应当是钩子函数 clip 本身。")
    x = torch.tensor([-2.0, -0.25, 0.25, 3.0], requires_grad=True)
    x.register_hook(answer)
    (x**2).sum().backward()  # true gradient 2x = [-4, -0.5, 0.5, 6]
    expect(x.grad is not None, "x.grad is None: the hook must return a tensor or nothing.",
           "x.grad 是 None：钩子应当返回一个张量，或者什么都不返回。")
    expect(not torch.equal(x.grad, 2 * x.detach()),
           "x.grad is unchanged: a hook changes the gradient by returning a new tensor "
           "(returning None keeps it as it was).",
           "x.grad 没有变：钩子要靠返回一个新张量来改变梯度（返回 None 则保持原样）。")
    expect(x.grad.min() >= -1, "gradients below -1 went through unchanged.",
           "小于 -1 的梯度原样通过了。")
    expect(x.grad.max() <= 1, "gradients above 1 went through unchanged.",
           "大于 1 的梯度原样通过了。")
    expect(torch.equal(x.grad, torch.tensor([-1.0, -0.5, 0.5, 1.0])),
           "gradients inside [-1, 1] should pass unchanged.", "[-1, 1] 以内的梯度应当原样通过。")


@exercise("autograd.jacobian",
          en="one forward pass and one vector-Jacobian product per output give the Jacobian row by row.",
          zh="一次前向传播，每个输出一次向量-雅可比积，逐行拼出了雅可比矩阵。")
def _(answer):
    expect(callable(answer), "the answer should be the function jacobian_rows itself.",
           "答案应当是函数 jacobian_rows 本身。")
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 4, generator=generator)

    def g(x):  # R^4 -> R^3
        return torch.tanh(weight @ x)

    x = torch.randn(4, generator=generator)
    expected = (1 - torch.tanh(weight @ x) ** 2)[:, None] * weight
    J = answer(g, x)
    expect(isinstance(J, torch.Tensor), "jacobian_rows should return a tensor.",
           "jacobian_rows 应当返回一个张量。")
    expect(tuple(J.shape) != (4, 3), "the shape is transposed: one row per output, one column "
           "per input.", "形状转置了：每个输出一行，每个输入一列。")
    expect(tuple(J.shape) == (3, 4), f"shape {tuple(J.shape)}: a function R^4 -> R^3 has a "
           "3 x 4 Jacobian.", f"形状是 {tuple(J.shape)}：R^4 -> R^3 的函数，雅可比矩阵是 3 x 4。")
    expect(torch.allclose(J.detach(), expected, atol=1e-5),
           "the values differ from the Jacobian: row i is e_i^T J.",
           "数值与雅可比矩阵不符：第 i 行是 e_i^T J。")


@exercise("autograd.custom-function",
          en="your Function's backward multiplies the upstream gradient by 3x², as gradcheck would confirm.",
          zh="你的 Function 的 backward 把上游梯度乘以 3x²，gradcheck 也会认可它。")
def _(answer):
    expect(isinstance(answer, type) and issubclass(answer, torch.autograd.Function),
           "the answer should be the class Cube, a subclass of torch.autograd.Function.",
           "答案应当是类 Cube，torch.autograd.Function 的子类。")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, dtype=torch.float64, generator=generator).requires_grad_()
    upstream = torch.randn(5, dtype=torch.float64, generator=generator)
    y = answer.apply(x)
    expect(isinstance(y, torch.Tensor), "forward should return a tensor.",
           "forward 应当返回一个张量。")
    expect(torch.allclose(y.detach(), x.detach() ** 3), "forward does not return x cubed.",
           "forward 返回的不是 x 的立方。")
    y.backward(upstream)
    expect(x.grad is not None, "no gradient reached x: backward should return dL/dx.",
           "没有梯度到达 x：backward 应当返回 dL/dx。")
    derivative = 3 * x.detach() ** 2
    expect(not torch.allclose(x.grad, derivative),
           "backward ignores grad_output: the chain rule multiplies by the upstream gradient.",
           "backward 没有用到 grad_output：链式法则要乘上上游梯度。")
    expect(torch.allclose(x.grad, upstream * derivative),
           "backward does not return dL/dx: check the derivative of x**3, taken at the input "
           "saved in forward.",
           "backward 返回的不是 dL/dx：检查 x**3 的导数，它应在 forward 保存的输入处取值。")
