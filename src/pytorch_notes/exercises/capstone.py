"""Exercises of the Capstone track (docs/capstone/exercises.ipynb)."""

from __future__ import annotations

import math

import torch

from pytorch_notes.exercises import expect, expect_tensor, exercise


def _book_bytes() -> torch.Tensor:
    from pytorch_notes.datasets import book_text

    return torch.tensor(list(book_text().encode("utf-8")))


def _unigram_loss(train: torch.Tensor, val: torch.Tensor, add: float = 1.0) -> float:
    """Mean −log p(x) over ``val``, p the training byte counts plus ``add``, normalised."""
    counts = torch.bincount(train, minlength=256).double() + add
    return -(counts / counts.sum()).log()[val].mean().item()


def _number(result: object, name: str) -> float:
    expect(result is not None, f"{name} returned None: compute the loss and return it.",
           f"{name} 返回了 None：把损失算出来并返回。")
    expect(isinstance(result, (int, float)) or (isinstance(result, torch.Tensor) and result.numel() == 1),
           f"{name} should return one number (a float or a one-element tensor).",
           f"{name} 应当返回一个数（float 或只有一个元素的张量）。")
    return float(result)


@exercise("capstone.unigram-baseline",
          en="the byte counts of the training split plus one, normalised, then the mean −log p over the "
          "validation bytes: the loss a language model must beat, in nats per byte.",
          zh="训练集的字节计数各加一再归一化，然后对验证集的字节取 −log p 的平均：语言模型必须打败的损失，"
          "单位是每字节奈特。")
def _(answer):
    expect(callable(answer), "the answer should be the function unigram_baseline itself.",
           "答案应当是函数 unigram_baseline 本身。")
    unseen = _number(answer(torch.tensor(list(b"abracadabra")), torch.tensor(list(b"cadaver"))),
                     "unigram_baseline")
    expect(math.isfinite(unseen),
           "a validation byte that never occurs in the training split gets probability 0 and an "
           "infinite loss: add one to the count of every one of the 256 bytes.",
           "训练集里从未出现的验证字节概率为 0，损失变成无穷大：256 个字节的计数都要加一。")
    data = _book_bytes()
    train, val = data[:60_000], data[60_000:70_000]
    out = _number(answer(train, val), "unigram_baseline")
    right = _unigram_loss(train, val)
    expect(not math.isclose(out, right / math.log(2), rel_tol=1e-4),
           "that is in bits per byte: the training loss (F.cross_entropy) uses the natural log.",
           "这是每字节的比特数：训练损失（F.cross_entropy）用的是自然对数。")
    expect(not math.isclose(out, math.log(256), rel_tol=1e-4),
           "that is the loss of the uniform guess over 256 bytes: use the training bytes' frequencies.",
           "这是对 256 个字节均匀猜测的损失：要用训练集中字节的频率。")
    expect(not math.isclose(out, _unigram_loss(val, val), rel_tol=1e-4),
           "the frequencies come from the bytes being scored: count the training split, then score "
           "the validation bytes with those counts.",
           "频率来自被评估的那些字节：应当统计训练集，再用这些计数给验证集的字节打分。")
    expect(not math.isclose(out, -_unigram_loss(train, val), rel_tol=1e-4),
           "a loss is −log p: check the sign.", "损失是 −log p：检查一下符号。")
    expect(math.isclose(out, right, rel_tol=1e-5),
           f"the loss is {out:.4f}: it should be the mean over the validation bytes of −log p(x), "
           "p being each byte's training count plus one, divided by the total.",
           f"损失是 {out:.4f}：应当对验证集的每个字节取 −log p(x) 再平均，"
           "p 是该字节在训练集中的计数加一，再除以总数。")


@exercise("capstone.batch",
          en="random windows of context + 1 bytes, each inside the data, split into inputs and the "
          "targets one byte later.",
          zh="随机取 context + 1 个字节的窗口，每个都落在数据之内，再拆成输入和晚一个字节的目标。")
def _(answer):
    expect(callable(answer), "the answer should be the function get_batch itself.",
           "答案应当是函数 get_batch 本身。")
    data = torch.arange(40)  # token i at position i: a window shows where it was cut
    context, size = 8, 64
    out = answer(data, context, size, torch.Generator().manual_seed(0))
    expect(isinstance(out, tuple) and len(out) == 2, "get_batch should return a pair (x, y).",
           "get_batch 应当返回一对 (x, y)。")
    x = expect_tensor(out[0], "x", (size, context))
    y = expect_tensor(out[1], "y", (size, context))
    expect(torch.equal(x[:, 1:], x[:, :-1] + 1), "a row of x is not one stretch of consecutive tokens.",
           "x 的某一行不是连续的一段词元。")
    expect(not torch.equal(y, x), "y equals x: the target at each position is the token after it.",
           "y 与 x 相同：每个位置的目标是它后面的那个词元。")
    expect(torch.equal(y, x + 1), "y is not x moved on by exactly one token.", "y 不是把 x 恰好后移一个词元。")
    expect(len(x[:, 0].unique()) > 1, "every row starts at the same place: draw a start for each row.",
           "每一行都从同一个位置开始：要为每一行各抽一个起点。")
    again = answer(data, context, size, torch.Generator().manual_seed(0))[0]
    expect(torch.equal(again, x), "the same seeded generator gave another batch: draw the starts with "
           "the generator you are given, so that a run can be repeated.",
           "同样种子的生成器给出了另一批数据：用传入的 generator 抽取起点，运行才能复现。")
    generator = torch.Generator().manual_seed(1)
    starts = torch.cat([answer(data, context, size, generator)[0][:, 0] for _ in range(20)])
    last = len(data) - context - 1  # y's last token is data[start + context]
    expect(int(starts.min()) == 0 and int(starts.max()) == last,
           f"in 20 batches the starts ran from {int(starts.min())} to {int(starts.max())}: every window "
           "that fits, the first and the last one included, should be drawn.",
           f"20 批数据里起点从 {int(starts.min())} 到 {int(starts.max())}：每个放得下的窗口，"
           "包括第一个和最后一个，都应当能被抽到。")


@exercise("capstone.utf8-length",
          en="the leading 1 bits of a byte say how many bytes its character has; 10xxxxxx only continues one.",
          zh="字节开头连续的 1 说明它开头的字符有几个字节；10xxxxxx 只是字符的续字节。")
def _(answer):
    expect(callable(answer), "the answer should be the function utf8_length itself.",
           "答案应当是函数 utf8_length 本身。")
    from pytorch_notes.datasets import book_text

    expected = {byte: 0 for byte in range(0x80, 0xC0)}
    for character in set(book_text()) | {"🙂"}:  # (the book's text has no 4-byte character)
        encoded = character.encode("utf-8")
        expected[encoded[0]] = len(encoded)
    got = {byte: answer(byte) for byte in sorted(expected)}
    expect(all(isinstance(length, int) for length in got.values()),
           "utf8_length should return an int for every byte.", "utf8_length 对每个字节都应当返回 int。")
    continuation = [byte for byte in range(0x80, 0xC0) if byte in got and got[byte] != 0]
    expect(not continuation,
           f"byte 0x{continuation[0] if continuation else 0:02X} (10xxxxxx) starts no character: it "
           "continues the one before, so its length is 0.",
           f"字节 0x{continuation[0] if continuation else 0:02X}（10xxxxxx）不开始任何字符：它接在前一个"
           "字符后面，所以长度是 0。")
    expect(got[0xE6] == 3, "0xE6, the first byte of 梯 and of many Chinese characters (1110xxxx), "
           "starts a character of 3 bytes.",
           "0xE6 是“梯”等许多汉字的第一个字节（1110xxxx），它开始一个 3 字节的字符。")
    wrong = [byte for byte in got if got[byte] != expected[byte]]
    expect(not wrong,
           f"byte 0x{wrong[0] if wrong else 0:02X} starts a character of another length: count its "
           "leading 1 bits.",
           f"字节 0x{wrong[0] if wrong else 0:02X} 开始的字符长度不对：数一数它开头连续的 1。")


@exercise("capstone.continuation-mass",
          en="after a byte that opens a 3-byte character (1110xxxx), the probability of bytes 0x80–0xBF, "
          "averaged over those positions: the chapter's measure of what the model learned of UTF-8.",
          zh="在开始一个 3 字节字符的字节（1110xxxx）之后，字节 0x80–0xBF 的概率之和，对这些位置取平均："
          "本章衡量模型学到多少 UTF-8 的指标。")
def _(answer):
    expect(callable(answer), "the answer should be the function continuation_mass itself.",
           "答案应当是函数 continuation_mass 本身。")
    previous = _book_bytes()[10_000:14_000]  # English and Chinese, with 2- and 3-byte characters
    generator = torch.Generator().manual_seed(0)
    probs = torch.randn(len(previous), 256, generator=generator).mul(2).softmax(dim=-1)  # random, in place of a model's
    out = _number(answer(probs, previous), "continuation_mass")
    opens = (previous >= 0xE0) & (previous < 0xF0)
    mass = probs[opens][:, 0x80:0xC0].sum(dim=-1)
    expect(not math.isclose(out, probs[opens][:, 0x80:0xBF].sum(dim=-1).mean().item(), rel_tol=1e-5),
           "0xBF (10111111) is a continuation byte too: the range is 0x80 to 0xBF, both included.",
           "0xBF（10111111）也是续字节：范围是 0x80 到 0xBF，两端都包括。")
    expect(not math.isclose(out, probs[previous >= 0xC0][:, 0x80:0xC0].sum(dim=-1).mean().item(), rel_tol=1e-5),
           "bytes 110xxxxx open 2-byte characters: keep only the positions after a byte 1110xxxx.",
           "110xxxxx 开始的是 2 字节字符：只保留紧跟在 1110xxxx 字节之后的位置。")
    expect(not math.isclose(out, probs[:, 0x80:0xC0].sum(dim=-1).mean().item(), rel_tol=1e-5),
           "that is the average over every position: keep only those right after a byte that opens a "
           "3-byte character.", "这是对所有位置的平均：只保留紧跟在开始 3 字节字符的字节之后的位置。")
    expect(not math.isclose(out, mass.sum().item(), rel_tol=1e-5),
           "that is the sum over the positions: average it.", "这是对各位置求和：应当取平均。")
    expect(math.isclose(out, mass.mean().item(), rel_tol=1e-5),
           "the value differs from the mean, over the positions after a byte 1110xxxx, of the probability "
           "of bytes 0x80–0xBF.",
           "数值与预期不符：应当在 1110xxxx 字节之后的位置上，对字节 0x80–0xBF 的概率之和取平均。")


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    """``steps`` AdamW steps on random mini-batches of a fixed regression, drawn with the global RNG."""
    inputs = torch.linspace(-1, 1, 256).view(64, 4)
    targets = inputs.sum(dim=1, keepdim=True).sin()
    for _ in range(steps):
        rows = torch.randint(64, (8,))
        loss = torch.nn.functional.mse_loss(model(inputs[rows]), targets[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _fresh(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 1)
    return model, torch.optim.AdamW(model.parameters(), lr=0.05)


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in model.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@exercise("capstone.resume",
          en="the weights, the optimizer's state and the random state, copied when saved: the resumed run "
          "ends bit for bit where the uninterrupted one does.",
          zh="权重、优化器状态和随机状态，保存时复制一份：续跑的结果与不中断的运行逐位相同。")
def _(answer):
    expect(isinstance(answer, tuple) and len(answer) == 2 and all(map(callable, answer)),
           "the answer should be the pair of functions (save, load).", "答案应当是一对函数 (save, load)。")
    save, load = answer
    model, optimizer = _fresh(0)
    _train(model, optimizer, 10)
    uninterrupted = _weights(model)
    model, optimizer = _fresh(0)
    _train(model, optimizer, 5)
    state = save(model, optimizer)
    at_save, optimizer_at_save, rng_at_save = _weights(model), str(optimizer.state_dict()), torch.get_rng_state()
    _train(model, optimizer, 2)  # the run goes on a little before it is killed
    after_save = _weights(model)
    resumed, resumed_optimizer = _fresh(1)  # a new process: other weights, another random state
    load(state, resumed, resumed_optimizer)
    expect(not _same(_weights(resumed), after_save),
           "the saved weights changed as training went on after the save: state_dict() holds the live "
           "tensors, so copy them (copy.deepcopy, or torch.save to a file).",
           "保存之后训练继续，保存的权重也跟着变了：state_dict() 里是正在训练的张量本身，要复制一份"
           "（copy.deepcopy，或用 torch.save 写进文件）。")
    expect(_same(_weights(resumed), at_save), "after load, the model's weights are not the saved ones.",
           "load 之后，模型的权重不是保存时的权重。")
    expect(str(resumed_optimizer.state_dict()) == optimizer_at_save,
           "the optimizer's state (AdamW's moment estimates and step count) was not restored.",
           "没有恢复优化器的状态（AdamW 的矩估计和步数）。")
    expect(torch.equal(torch.get_rng_state(), rng_at_save),
           "the random state was not restored: the resumed run would draw other batches.",
           "没有恢复随机状态：续跑时抽到的批次会不一样。")
    _train(resumed, resumed_optimizer, 5)
    expect(_same(_weights(resumed), uninterrupted),
           "the resumed run ends with other weights than the uninterrupted one.",
           "续跑结束时的权重与不中断运行的不同。")
