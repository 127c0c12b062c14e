"""Exercises of the Saving & loading track (docs/saving/exercises.ipynb)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from pytorch_notes.exercises import exercise, expect


@exercise("saving.state-dict-keys",
          en="a state_dict names each tensor by its module path; ReLU has none, so index 1 is skipped.",
          zh="state_dict 按模块路径给每个张量命名；ReLU 没有张量，所以跳过了下标 1。")
def _(answer):
    expect(isinstance(answer, (list, tuple)) and all(isinstance(key, str) for key in answer),
           "the answer should be a list of key names (strings).", "答案应当是键名（字符串）的列表。")
    keys = list(answer)
    expect(not any(key.startswith("1.") for key in keys),
           "ReLU has no weight or bias: it adds no keys.", "ReLU 没有权重和偏置：它不产生任何键。")
    expect(all("." in key for key in keys), "each key starts with the layer's index in the "
           "Sequential, then a dot.", "每个键都以层在 Sequential 中的下标开头，后面跟一个点。")
    expect(sorted(keys) == ["0.bias", "0.weight", "2.bias", "2.weight"],
           f"{keys} are not the keys of this model's state_dict.",
           f"{keys} 不是这个模型 state_dict 的键。")
    expect(keys == ["0.weight", "0.bias", "2.weight", "2.bias"],
           "the right keys, but not in the order the state_dict keeps them (layer by layer, "
           "weight before bias).", "键对了，但顺序不是 state_dict 里的顺序（逐层，先权重后偏置）。")


def _small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


@exercise("saving.save-weights",
          en="the file holds only the state_dict, in a folder made first, and loads with weights_only=True.",
          zh="文件里只有 state_dict，所在文件夹事先建好，并且能用 weights_only=True 加载。")
def _(answer):
    expect(callable(answer), "the answer should be the function save_weights itself.",
           "答案应当是函数 save_weights 本身。")
    model = _small_model()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoints" / "run-1" / "weights.pth"
        try:
            answer(model, path)
        except RuntimeError as error:
            expect("does not exist" not in str(error), "the folders on path do not exist yet: "
                   "create them before saving.", "path 上的文件夹还不存在：保存之前先创建它们。")
            raise
        expect(path.is_file(), "no file was written at path.", "path 处没有写出文件。")
        try:
            state = torch.load(path, weights_only=True)
        except Exception as error:  # noqa: BLE001 - any refusal means the same here
            state = error
    expect(not isinstance(state, Exception), "torch.load(path, weights_only=True) refuses the "
           "file: it holds a pickled model object, not just tensors.",
           "torch.load(path, weights_only=True) 拒绝了这个文件：里面是 pickle 序列化的模型对象，"
           "而不只是张量。")
    expect(isinstance(state, dict) and list(state) == list(model.state_dict()),
           "the file does not hold the model's state_dict.", "文件里存的不是模型的 state_dict。")
    expect(all(torch.equal(state[key], value) for key, value in model.state_dict().items()),
           "the keys are right but the tensors differ from the model's.",
           "键对了，但张量与模型的不同。")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Linear(2, 3))
        self.submodule = nn.Linear(3, 1)


@exercise("saving.unwrap",
          en="only the leading 'module.' is removed, so every key matches and strict loading works.",
          zh="只去掉了开头的 “module.”，所有键都能对上，严格加载也就成功了。")
def _(answer):
    expect(callable(answer), "the answer should be the function unwrap itself.",
           "答案应当是函数 unwrap 本身。")
    state = _Net().state_dict()
    wrapped = {"module." + name: tensor for name, tensor in state.items()}
    result = answer(dict(wrapped))
    expect(isinstance(result, dict), "unwrap should return a dict.", "unwrap 应当返回一个字典。")
    keys = list(result)
    expect(not any(key.startswith("module.") for key in keys),
           "keys still start with 'module.'.", "键仍以 “module.” 开头。")
    wrong = [(old, new) for old, new in zip(wrapped, keys) if new != old[len("module."):]]
    expect(not wrong, "some keys lost more than the prefix: "
           + ", ".join(f"{old!r} -> {new!r}" for old, new in wrong[:2])
           + ". Remove the prefix once, at the start only.",
           "有些键去掉的不只是前缀：" + "，".join(f"{old!r} -> {new!r}" for old, new in wrong[:2])
           + "。只应去掉开头的那一个前缀。")
    expect(len(keys) == len(state), "some keys are missing.", "少了一些键。")
    model = _Net()
    model.load_state_dict(result)
    expect(all(torch.equal(model.state_dict()[k], v) for k, v in state.items()),
           "the keys match but the tensors changed.", "键对上了，但张量变了。")


@exercise("saving.vgg-head",
          en="the last layer replaced, not appended to, and only the new head left to train.",
          zh="最后一层被替换而不是追加，并且只留下新的输出层去训练。")
def _(answer):
    from torchvision.models import vgg16

    expect(callable(answer), "the answer should be the function adapt itself.",
           "答案应当是函数 adapt 本身。")
    with torch.device("meta"):  # the architecture only: no memory, no download
        model = vgg16()
    result = answer(model, 10)
    model = result if isinstance(result, nn.Module) else model
    classifier = model.classifier
    last = classifier[-1]
    expect(isinstance(last, nn.Linear) and last.out_features == 10,
           "the model does not end in 10 outputs.", "模型的输出不是 10 个。")
    expect(len(classifier) == 7 and last.in_features == 4096,
           "a layer was appended: the model now maps 1000 ImageNet scores to 10. Replace the "
           "old last layer instead.", "追加了一层：模型变成把 1,000 个 ImageNet 分数映射到 10 个。"
           "应当替换原来的最后一层。")
    expect(not any(p.requires_grad for p in model.features.parameters()),
           "the convolutional features still require grad: freeze them.",
           "卷积特征部分仍然需要梯度：应当把它们冻结。")
    expect(all(p.requires_grad for p in last.parameters()),
           "the new last layer is frozen too: it is the part that must train.",
           "新的最后一层也被冻结了：它正是需要训练的部分。")


@exercise("saving.checkpoint",
          en="model, optimizer state and epoch came back: the resumed run continues step for step.",
          zh="模型、优化器状态和轮数都恢复了：恢复后的训练一步一步地接着原来的走。")
def _(answer):
    expect(isinstance(answer, tuple) and len(answer) == 2 and all(map(callable, answer)),
           "the answer should be the pair (save_checkpoint, resume).",
           "答案应当是函数对 (save_checkpoint, resume)。")
    save_checkpoint, resume = answer
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 3, generator=generator), torch.randn(16, 1, generator=generator)

    def step(model, optimizer):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        step(model, optimizer)
    torch.manual_seed(1)
    fresh = nn.Linear(3, 1)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.pt"
        save_checkpoint(path, model, optimizer, 3)
        try:
            torch.load(path, weights_only=True)
            loads_safely = True
        except Exception:  # noqa: BLE001 - any refusal means the same here
            loads_safely = False
        epoch = resume(path, fresh, fresh_optimizer)
    expect(loads_safely, "the checkpoint does not load with weights_only=True: save state_dicts "
           "and numbers, not objects.", "检查点无法用 weights_only=True 加载：应当保存 state_dict "
           "和数字，而不是对象。")
    expect(epoch == 3, f"resume returned {epoch!r}: it should return the epoch saved.",
           f"resume 返回了 {epoch!r}：应当返回保存时的轮数。")
    expect(all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters())),
           "the resumed model's weights differ from the saved ones.",
           "恢复后的模型权重与保存时的不同。")
    step(model, optimizer)
    step(fresh, fresh_optimizer)
    expect(all(torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(),
                                                                 fresh.parameters())),
           "the weights came back, but the next step differs: the optimizer's state (Adam's "
           "running averages) was not restored into the optimizer that was passed in.",
           "权重恢复了，但下一步不同：优化器的状态（Adam 的滑动平均）没有恢复到传进来的那个优化器里。")
