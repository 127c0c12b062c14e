"""Exercises of the Data & TensorBoard track (docs/data/exercises.ipynb)."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile

import numpy as np
import torch
from torch.utils.data import DataLoader

from pytorch_notes.exercises import exercise, expect


@exercise("data.to-tensor", en="HWC bytes became CHW floats in [0, 1], exactly what ToTensor gives.",
          zh="HWC 排列的字节变成了 [0, 1] 内、CHW 排列的浮点数，与 ToTensor 的结果完全一致。")
def _(answer):
    expect(callable(answer), "the answer should be the function to_tensor itself.",
           "答案应当是函数 to_tensor 本身。")
    array = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    expected = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    image = answer(array.copy())
    expect(isinstance(image, torch.Tensor), "to_tensor should return a tensor.",
           "to_tensor 应当返回一个张量。")
    expect(tuple(image.shape) != (4, 5, 3), "shape (4, 5, 3) is still height, width, channels: "
           "layers want the channels first.", "形状 (4, 5, 3) 仍是高、宽、通道：网络层要求通道在前。")
    expect(tuple(image.shape) != (3, 5, 4), "shape (3, 5, 4): height and width are swapped.",
           "形状是 (3, 5, 4)：高和宽对调了。")
    expect(tuple(image.shape) == (3, 4, 5), f"shape {tuple(image.shape)}: expected (channels, "
           "height, width).", f"形状是 {tuple(image.shape)}：应当是（通道, 高, 宽）。")
    expect(image.dtype == torch.float32, f"dtype {image.dtype}: expected float32.",
           f"dtype 是 {image.dtype}：应当是 float32。")
    expect(image.max() <= 1, "values go up to 255: scale the bytes into [0, 1].",
           "数值最大到 255：应当把字节缩放到 [0, 1]。")
    expect(torch.allclose(image, expected), "the shape and range are right, but the pixels are "
           "not where they were in the array.", "形状和范围都对，但像素不在数组里原来的位置上。")


@exercise("data.channel-stats",
          en="one mean and one std per channel, over every pixel of every image: ready for Normalize.",
          zh="每个通道一个均值、一个标准差，统计的是所有图像的全部像素：可以直接交给 Normalize。")
def _(answer):
    expect(callable(answer), "the answer should be the function channel_stats itself.",
           "答案应当是函数 channel_stats 本身。")
    generator = torch.Generator().manual_seed(0)
    scale = torch.tensor([1.0, 2.0, 4.0])[:, None, None]
    images = [torch.rand(3, 8, 8, generator=generator) * scale,
              torch.rand(3, 16, 12, generator=generator) * scale + 1,
              torch.rand(3, 4, 4, generator=generator) * scale * 3]
    pixels = torch.cat([image.reshape(3, -1) for image in images], dim=1)
    result = answer(images)
    expect(isinstance(result, tuple) and len(result) == 2,
           "channel_stats should return two tensors: mean and std.",
           "channel_stats 应当返回两个张量：mean 和 std。")
    mean, std = (torch.as_tensor(value, dtype=torch.float32) for value in result)
    expect(mean.shape == (3,) and std.shape == (3,),
           f"shapes {tuple(mean.shape)} and {tuple(std.shape)}: expected one number per channel.",
           f"形状是 {tuple(mean.shape)} 和 {tuple(std.shape)}：应当每个通道一个数。")
    per_image_mean = torch.stack([image.mean(dim=(1, 2)) for image in images]).mean(dim=0)
    expect(not torch.allclose(mean, per_image_mean, atol=1e-4),
           "the mean averages per-image means: the images differ in size, so count every pixel "
           "once.", "均值是各图均值的平均：图像大小不同，应当让每个像素都只算一次。")
    expect(torch.allclose(mean, pixels.mean(dim=1), atol=1e-4),
           "the means are not the per-channel means of all pixels.",
           "均值不是全部像素在各通道上的均值。")
    expect(torch.allclose(std, pixels.std(dim=1), rtol=1e-2),  # n or n - 1: either
           "the means are right but the stds are not: take the std of all pixels of a channel "
           "together.", "均值对了，标准差不对：应当把一个通道的全部像素放在一起求标准差。")


@exercise("data.dataset",
          en="__len__ and __getitem__ are all a Dataset needs; the transform touches only the image.",
          zh="Dataset 只需要 __len__ 和 __getitem__；变换只作用于图像。")
def _(answer):
    expect(isinstance(answer, type), "the answer should be the class TransformedDataset itself.",
           "答案应当是类 TransformedDataset 本身。")
    items = [(torch.full((1, 2, 2), float(i)), i % 2) for i in range(5)]
    dataset = answer(items, lambda image: image * 10)
    expect(hasattr(dataset, "__len__"), "len(dataset) fails: a Dataset needs __len__.",
           "len(dataset) 出错：Dataset 需要 __len__。")
    expect(len(dataset) == 5, f"len(dataset) is {len(dataset)} for 5 items.",
           f"5 个样本，len(dataset) 却是 {len(dataset)}。")
    item = dataset[3]
    expect(isinstance(item, tuple) and len(item) == 2,
           "an item should be an (image, label) pair.", "每个样本应当是一个 (image, label) 对。")
    image, label = item
    expect(label == 1, "the label changed: the transform is for the image only.",
           "标签变了：变换只应作用于图像。")
    expect(isinstance(image, torch.Tensor) and torch.equal(image, torch.full((1, 2, 2), 30.0)),
           "the image is not transform(image) of item 3.", "图像不是第 3 个样本的 transform(image)。")
    expect(len(list(itertools.islice(iter(dataset), 6))) == 5, "iterating with for does not stop after the last item: "
           "an index out of range must raise IndexError.",
           "用 for 遍历时没有在最后一个样本后停下：越界的下标应当抛出 IndexError。")


@exercise("data.drop-last",
          en="ceil(1000 / 96) = 11 batches, the last with 40 images; drop_last leaves 10.",
          zh="ceil(1000 / 96) = 11 个批，最后一批 40 张；drop_last 之后剩 10 个批。")
def _(answer):
    expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
           "the answer should be three numbers: (batches kept, batches with drop_last, last "
           "batch size).", "答案应当是三个数：（保留时的批数, drop_last 时的批数, 最后一批的大小）。")
    values = [float(value) for value in answer]
    expect(all(value.is_integer() for value in values),
           "batch counts and sizes are whole numbers.", "批数和批大小都是整数。")
    kept, dropped, last = (int(value) for value in values)
    expect((kept, dropped) != (10, 11), "the first two are swapped: drop_last gives fewer "
           "batches.", "前两个数对调了：drop_last 得到的批更少。")
    expect(kept == 11, "the loader without drop_last keeps a short last batch: count it too.",
           "不设 drop_last 的加载器保留了不满的最后一批：它也要算上。")
    expect(dropped == 10, "with drop_last=True only full batches remain.",
           "drop_last=True 时只剩下满的批。")
    expect(last == 40, "the last batch holds what is left after the full batches.",
           "最后一批装的是满批之后剩下的样本。")


def _order(loader) -> list[int]:
    return torch.cat([torch.as_tensor(batch) for batch in loader]).tolist()


@exercise("data.shuffle-seed",
          en="the loader's own generator makes its shuffled order repeatable, yet new every epoch.",
          zh="加载器自己的生成器让打乱的顺序可以复现，而每一轮又各不相同。")
def _(answer):
    expect(callable(answer), "the answer should be the function shuffled_loader itself.",
           "答案应当是函数 shuffled_loader 本身。")
    dataset = list(range(40))
    first, second, other = answer(dataset, 0), answer(dataset, 0), answer(dataset, 1)
    expect(isinstance(first, DataLoader), "shuffled_loader should return a DataLoader.",
           "shuffled_loader 应当返回一个 DataLoader。")
    epoch_1 = _order(first)
    expect(sorted(epoch_1) == dataset, "one epoch should visit every item exactly once.",
           "一轮应当把每个样本恰好访问一次。")
    expect(epoch_1 != dataset, "the order is not shuffled.", "顺序没有打乱。")
    torch.manual_seed(1234)  # a reader's global seed must not matter
    expect(_order(second) == epoch_1, "two loaders with the same seed gave different orders: "
           "the shuffle draws from the global random state, not from the loader's own generator.",
           "两个种子相同的加载器给出了不同的顺序：打乱用的是全局随机状态，而不是加载器自己的生成器。")
    expect(_order(first) != epoch_1, "every epoch has the same order: seed the generator once, "
           "when the loader is made.", "每一轮的顺序都一样：生成器只应在创建加载器时设一次种子。")
    expect(_order(other) != epoch_1, "the seed is ignored: another seed gives the same order.",
           "种子没有起作用：换一个种子，顺序却一样。")


@exercise("data.tensorboard",
          en="one scalar per step under one tag, in an event file TensorBoard can read.",
          zh="同一个标记名下每步一个标量，写在 TensorBoard 能读的事件文件里。")
def _(answer):
    from pytorch_notes.logs import read_scalars

    expect(callable(answer), "the answer should be the function log_losses itself.",
           "答案应当是函数 log_losses 本身。")
    losses = [2.5, 1.25, 0.5, 0.25]
    # a folder of its own that stays until exit: a writer left open keeps appending to it
    log_dir = tempfile.mkdtemp(prefix="log_losses-")
    atexit.register(shutil.rmtree, log_dir, ignore_errors=True)
    answer(log_dir, losses)
    try:
        scalars = read_scalars(log_dir)
    except FileNotFoundError:
        scalars = None
    expect(scalars is not None, "there is no event file in log_dir: give the writer log_dir.",
           "log_dir 里没有事件文件：应当把 log_dir 交给 SummaryWriter。")
    unwritten = "not everything is in the event file yet: the writer must flush() or close() " \
        "before anyone reads it."
    unwritten_zh = "事件文件里还没有全部内容：写入器要先 flush() 或 close()，别人才能读到。"
    expect(scalars, unwritten, unwritten_zh)
    expect("loss/train" in scalars, f"tags {sorted(scalars)}: expected the tag 'loss/train'.",
           f"标记名是 {sorted(scalars)}：应当是 'loss/train'。")
    steps = [step for step, _ in scalars["loss/train"]]
    values = [value for _, value in scalars["loss/train"]]
    truncated = len(steps) < len(losses) and steps == list(range(len(steps)))
    expect(not truncated, unwritten, unwritten_zh)
    expect(steps == [0, 1, 2, 3], f"steps {steps}: pass each loss's index as global_step.",
           f"步数是 {steps}：应当把每个损失的下标作为 global_step 传入。")
    expect(values == losses, "the steps are right but the values are not the losses.",
           "步数对了，但数值不是那些损失。")


@exercise("data.mnist-loader",
          en="a shuffled DataLoader over a Subset of real digits gives (32, 1, 28, 28) float batches.",
          zh="在真实手写数字的 Subset 上建立的打乱的 DataLoader，给出 (32, 1, 28, 28) 的浮点批。")
def _(answer):
    from pytorch_notes.datasets import mnist

    expect(isinstance(answer, DataLoader), "the answer should be a DataLoader.",
           "答案应当是一个 DataLoader。")
    expect(len(answer.dataset) == 256, f"the dataset has {len(answer.dataset)} digits: expected "
           "the first 256 (a Subset).", f"数据集有 {len(answer.dataset)} 个数字：应当是前 256 个（Subset）。")
    expect(len(answer) == 8, f"{len(answer)} batches: expected 256 / 32 = 8.",
           f"一共 {len(answer)} 个批：应当是 256 / 32 = 8 个。")
    try:
        batches = list(answer)
    except TypeError as error:
        batches = error
    expect(not isinstance(batches, TypeError), "the batches cannot be stacked: the dataset gives "
           "PIL images; give it a transform that makes tensors.",
           "这些样本无法堆成批：数据集给出的是 PIL 图像，应当给它一个把图像变成张量的 transform。")
    images = batches[0][0]
    expect(tuple(images.shape) == (32, 1, 28, 28) and images.dtype == torch.float32,
           f"a batch of images has shape {tuple(images.shape)} and dtype {images.dtype}: expected "
           "(32, 1, 28, 28) float32.", f"一批图像的形状是 {tuple(images.shape)}、dtype 是 "
           f"{images.dtype}：应当是 (32, 1, 28, 28) 的 float32。")
    expect(images.min() >= 0 and images.max() <= 1, "pixels should lie in [0, 1], as ToTensor "
           "gives them.", "像素应当在 [0, 1] 内，即 ToTensor 给出的范围。")
    seen = torch.cat([labels for _, labels in batches]).tolist()
    expected = mnist(train=False).targets[:256].tolist()
    expect(sorted(seen) == sorted(expected), "the labels are not those of the first 256 test "
           "digits.", "标签不是前 256 个测试集数字的标签。")
    expect(seen != expected, "the batches come in the dataset's order: shuffle them.",
           "批按数据集原本的顺序给出：应当打乱。")
