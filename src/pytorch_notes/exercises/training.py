"""Exercises of the Training track (docs/training/exercises.ipynb)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pytorch_notes.exercises import exercise, expect


@exercise("training.in-place",
          en="Module.to converts the module itself; Tensor.to returns a new tensor and leaves x as it was.",
          zh="Module.to 直接转换模块本身；Tensor.to 返回一个新张量，x 保持原样。")
def _(answer):
    expect(isinstance(answer, (tuple, list)) and len(answer) == 2,
           "the answer should be a pair: (x.dtype, model.weight.dtype).",
           "答案应当是一对值：(x.dtype, model.weight.dtype)。")
    tensor_dtype, module_dtype = answer
    expect(all(isinstance(d, torch.dtype) for d in answer), "both entries should be dtypes, "
           "such as torch.float32.", "两项都应当是 dtype，例如 torch.float32。")
    expect(tensor_dtype == torch.float32, "x.to(...) without assignment leaves x as it was: a "
           "tensor's .to returns a new tensor.", "不赋值的 x.to(...) 不改变 x：张量的 .to 返回一个新张量。")
    expect(module_dtype == torch.float64, "model.to(...) changes the module itself, even "
           "without assignment.", "即使不赋值，model.to(...) 也会改变模块本身。")


@exercise("training.to-device",
          en="both tensors of the batch moved to the device, whatever the device is.",
          zh="批中的两个张量都移到了目标设备上，无论它是哪种设备。")
def _(answer):
    expect(callable(answer), "the answer should be the function to_device itself.",
           "答案应当是函数 to_device 本身。")
    batch = (torch.zeros(4, 1, 28, 28), torch.tensor([3, 1, 4, 1]))
    moved = answer(batch, torch.device("meta"))  # a device without data: moves are free
    expect(isinstance(moved, (tuple, list)) and len(moved) == 2,
           "to_device should return the pair (images, labels).",
           "to_device 应当返回 (images, labels) 这一对。")
    images, labels = moved
    expect(images.device.type == "meta", f"the images are on {images.device}, not on the device "
           "given.", f"图像在 {images.device} 上，而不是给定的设备上。")
    expect(labels.device.type == "meta", f"the labels stayed on {labels.device}: the loss needs "
           "them on the same device as the model's output.",
           f"标签还留在 {labels.device} 上：计算损失时它们要和模型输出在同一设备上。")
    expect(images.shape == batch[0].shape and labels.shape == batch[1].shape
           and labels.dtype == torch.int64, "the tensors changed shape or dtype on the way.",
           "张量在移动途中改变了形状或 dtype。")


def _classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 3))


def _toy_loader() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(10, 4, generator=generator)
    y = torch.randint(0, 3, (10,), generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=4)  # 4 + 4 + 2


def _record_modes(model):
    calls = []
    model.register_forward_hook(
        lambda module, inputs, output: calls.append((module.training, torch.is_grad_enabled())))
    return calls


@exercise("training.evaluate",
          en="eval() switched Dropout off, no_grad() kept no graph, and every sample counted once.",
          zh="eval() 关掉了 Dropout，no_grad() 没有保留计算图，每个样本都只算了一次。")
def _(answer):
    expect(callable(answer), "the answer should be the function evaluate itself.",
           "答案应当是函数 evaluate 本身。")
    model, loader = _classifier(), _toy_loader()
    calls = _record_modes(model)
    result = answer(model, loader)
    expect(isinstance(result, tuple) and len(result) == 2,
           "evaluate should return two numbers: (mean loss, accuracy).",
           "evaluate 应当返回两个数：(平均损失, 准确率)。")
    loss, accuracy = result
    expect(all(not training for training, _ in calls), "the model ran in training mode: Dropout "
           "was still dropping.", "模型在训练模式下运行：Dropout 仍在随机丢弃。")
    expect(all(not grad for _, grad in calls), "autograd recorded a graph during evaluation.",
           "评估时自动求导仍在记录计算图。")
    expect(isinstance(loss, float) and isinstance(accuracy, float),
           "return Python floats (.item()), not tensors.", "应当返回 Python 浮点数（.item()），而不是张量。")
    model.eval()
    x, y = loader.dataset.tensors
    with torch.no_grad():
        logits = model(x)
    expected_loss = F.cross_entropy(logits, y).item()
    expected_accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    batch_means = sum(F.cross_entropy(model(bx), by).item() for bx, by in loader) / len(loader)
    expect(abs(loss - batch_means) > 1e-6 or abs(loss - expected_loss) < 1e-6,
           "the loss is the mean of the batch means, but the last batch is smaller: weight each "
           "batch by its size.", "损失是各批均值的平均，可最后一批更小：应当按批大小加权。")
    expect(abs(loss - expected_loss) < 1e-5, "the loss is not the mean cross-entropy over all "
           "samples.", "损失不是全部样本交叉熵的平均值。")
    expect(accuracy <= 1, "the accuracy should be a fraction between 0 and 1.",
           "准确率应当是 0 到 1 之间的比例。")
    expect(abs(accuracy - expected_accuracy) < 1e-6, "the accuracy is not the fraction of "
           "samples whose largest logit is the label.", "准确率不是 logit 最大者恰为标签的样本所占的比例。")


@exercise("training.predict",
          en="eval, no_grad, softmax, argmax: each image's class and how sure the model is.",
          zh="eval、no_grad、softmax、argmax：得到每张图像的类别，以及模型有多确定。")
def _(answer):
    expect(callable(answer), "the answer should be the function predict itself.",
           "答案应当是函数 predict 本身。")
    model = _classifier()
    calls = _record_modes(model)
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    result = answer(model, x)
    expect(isinstance(result, tuple) and len(result) == 2,
           "predict should return (classes, confidences).", "predict 应当返回 (classes, confidences)。")
    classes, confidences = result
    expect(all(not training for training, _ in calls), "the model ran in training mode: Dropout "
           "made the prediction random.", "模型在训练模式下运行：Dropout 让预测变得随机。")
    expect(all(not grad for _, grad in calls), "autograd recorded a graph for a prediction.",
           "预测时自动求导仍在记录计算图。")
    model.eval()
    with torch.no_grad():
        logits = model(x)
    expect(torch.equal(torch.as_tensor(classes), logits.argmax(dim=1)),
           "the classes are not the index of the largest score of each row.",
           "类别不是每一行最大分数的下标。")
    confidences = torch.as_tensor(confidences)
    expect(confidences.shape == (6,), f"confidences of shape {tuple(confidences.shape)}: one "
           "number per image.", f"confidences 的形状是 {tuple(confidences.shape)}：应当每张图像一个数。")
    expect(not torch.allclose(confidences, logits.max(dim=1).values),
           "the confidences are raw logits: turn them into probabilities first.",
           "confidences 还是原始的 logits：要先把它们变成概率。")
    expect(torch.allclose(confidences, logits.softmax(dim=1).max(dim=1).values, atol=1e-6),
           "the confidences are not the probability of the predicted class.",
           "confidences 不是所预测类别的概率。")


@exercise("training.top3", en="topk gives the three best classes of each image, best first.",
          zh="topk 给出每张图像最好的三个类别，最好的排在最前。")
def _(answer):
    expect(callable(answer), "the answer should be the function top3 itself.",
           "答案应当是函数 top3 本身。")
    logits = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    result = torch.as_tensor(answer(logits))
    expect(tuple(result.shape) == (5, 3), f"shape {tuple(result.shape)}: expected three classes "
           "for each of the 5 images, (5, 3).", f"形状是 {tuple(result.shape)}：应当是 5 张图像"
           "各三个类别，即 (5, 3)。")
    expected = logits.topk(3, dim=1).indices
    expect(not torch.equal(result, logits.argsort(dim=1)[:, :3]),
           "these are the three lowest scores.", "这是分数最低的三个。")
    expect(torch.equal(result.sort(dim=1).values, expected.sort(dim=1).values),
           "these are not the three highest scores of each image.", "这不是每张图像分数最高的三个。")
    expect(torch.equal(result, expected), "the right classes in the wrong order: best first.",
           "类别对了，顺序不对：最好的应当排在最前。")


def _mnist_loaders():
    from pytorch_notes.datasets import mnist

    digits = mnist(train=False)
    images = digits.data[:768].unsqueeze(1).float() / 255
    labels = digits.targets[:768]
    train = DataLoader(TensorDataset(images[:512], labels[:512]), batch_size=64)
    val = DataLoader(TensorDataset(images[512:], labels[512:]), batch_size=128)
    return train, val


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Linear(32, 10))


def _reference_fit(model, train_loader, val_loader, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
        model.eval()
        correct = seen = 0
        with torch.no_grad():
            for images, labels in val_loader:
                correct += (model(images).argmax(dim=1) == labels).sum().item()
                seen += len(labels)
        history.append(correct / seen)
    return history


@exercise("training.fit",
          en="train() to learn, eval() and no_grad() to measure, every epoch: accuracy climbs on "
          "digits the model never trained on.",
          zh="每一轮都用 train() 学习、用 eval() 和 no_grad() 评估：模型在没训练过的数字上准确率不断上升。")
def _(answer):
    expect(callable(answer), "the answer should be the function fit itself.",
           "答案应当是函数 fit 本身。")
    train_loader, val_loader = _mnist_loaders()
    model = _mlp()
    calls = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(
        (len(inputs[0]) == 128, module.training, torch.is_grad_enabled())))
    history = answer(model, train_loader, val_loader, 3, 0.5)
    expect(isinstance(history, list) and len(history) == 3,
           "fit should return a list with one validation accuracy per epoch.",
           "fit 应当返回一个列表，每轮一个验证准确率。")
    training_calls = [(mode, grad) for is_val, mode, grad in calls if not is_val]
    val_calls = [(mode, grad) for is_val, mode, grad in calls if is_val]
    expect(len(training_calls) == 3 * len(train_loader) and len(val_calls) == 3 * len(val_loader),
           "fit should go once through train_loader and once through val_loader per epoch.",
           "fit 每一轮应当把 train_loader 和 val_loader 各走一遍。")
    expect(all(mode for mode, _ in training_calls), "after the first evaluation, training ran "
           "in eval mode: BatchNorm stopped learning from the batches.",
           "第一次评估之后，训练是在评估模式下进行的：BatchNorm 不再从批数据中学习。")
    expect(not any(mode for mode, _ in val_calls), "validation ran in training mode: BatchNorm "
           "used the batch's statistics and changed its running ones.",
           "验证是在训练模式下进行的：BatchNorm 用了这一批的统计量，还改动了它的滑动统计量。")
    expect(not any(grad for _, grad in val_calls), "validation recorded a graph for every batch.",
           "验证时每一批都记录了计算图。")
    reference = _mlp()
    expected = _reference_fit(reference, train_loader, val_loader, 3, 0.5)
    weights_match = all(torch.allclose(a, b, atol=1e-5) for a, b in zip(
        model.state_dict().values(), reference.state_dict().values()))
    expect(weights_match, "the weights differ from plain SGD on cross-entropy: is each step's "
           "gradient its batch's alone?", "权重与在交叉熵上做普通 SGD 的结果不同：每一步的梯度"
           "只来自它自己那一批吗？")
    expect(all(isinstance(a, float) and a <= 1 for a in history),
           "each accuracy should be a float between 0 and 1.", "每个准确率都应当是 0 到 1 之间的浮点数。")
    expect(all(abs(a - b) < 1e-6 for a, b in zip(history, expected)),
           "the accuracies are not the fraction of validation digits classified right.",
           "准确率不是验证集中分类正确的数字所占的比例。")
