"""Exercises of the Evaluation & inference track (docs/inference/exercises.ipynb)."""

from __future__ import annotations

import math

import torch

from pytorch_notes.decoding import (
    BigramLM,
    apply_repetition_penalty,
    beam_search,
    greedy_decode,
    length_penalty,
    top_k_filter,
    top_p_filter,
)
from pytorch_notes.exercises import exercise, expect


def _logits(result, name: str, shape: tuple) -> torch.Tensor:
    """The reader's result as a float tensor of ``shape``, or Wrong."""
    expect(result is not None, f"{name} returned None: compute the logits and return them.",
           f"{name} 返回了 None：把 logits 算出来并返回。")
    expect(isinstance(result, torch.Tensor), f"{name} should return a tensor of logits.",
           f"{name} 应当返回一个 logits 张量。")
    expect(tuple(result.shape) == shape, f"{name} returned shape {tuple(result.shape)}, expected "
           f"{shape}: filter each row, keep the shape.",
           f"{name} 返回的形状是 {tuple(result.shape)}，应当是 {shape}：逐行过滤，形状不变。")
    return result.detach()


def _kept(logits: torch.Tensor) -> torch.Tensor:
    return logits > float("-inf")


@exercise("inference.top-k",
          en="the k largest logits stay and every other token gets -inf: probability exactly 0.",
          zh="最大的 k 个 logits 保留，其余词元都设为 -inf：概率恰好为 0。")
def _(answer):
    expect(callable(answer), "the answer should be the function top_k itself.",
           "答案应当是函数 top_k 本身。")
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 10, generator=generator)
    out = _logits(answer(logits.clone(), 3), "top_k", (4, 10))
    expected = top_k_filter(logits, 3)
    expect(not torch.isinf(out).any() or out[torch.isinf(out)].lt(0).all(),
           "some logits became +inf.", "有些 logits 变成了 +inf。")
    expect(torch.isinf(out).any(), "no token was removed: a removed token needs the logit -inf "
           "(a logit of 0 still has a probability).",
           "没有任何词元被去掉：被去掉的词元要把 logit 设为 -inf（logit 为 0 仍然有概率）。")
    kept = _kept(out).sum(dim=1)
    expect(not (kept == 4).all(), "each row keeps k + 1 tokens: count again which ones stay.",
           "每行保留了 k + 1 个词元：再数一数留下的是哪几个。")
    expect((kept == 3).all(), f"rows keep {kept.tolist()} tokens: each row should keep exactly k = 3.",
           f"各行保留了 {kept.tolist()} 个词元：每行应当恰好保留 k = 3 个。")
    expect(torch.equal(_kept(out), _kept(expected)), "the kept tokens are not the k most likely "
           "ones of their row.", "保留的不是每行里最可能的 k 个词元。")
    expect(torch.equal(out[_kept(out)], logits[_kept(expected)]),
           "the kept logits changed: top-k only removes tokens, it leaves the others as they were.",
           "保留的 logits 被改动了：top-k 只负责去掉词元，其余的保持原样。")


@exercise("inference.top-p",
          en="the nucleus is the smallest set of most likely tokens with mass ≥ p: the token that "
          "crosses p stays.",
          zh="核（nucleus）是概率和 ≥ p 的最小的一组最可能词元：跨过 p 的那个词元也要保留。")
def _(answer):
    expect(callable(answer), "the answer should be the function top_p itself.",
           "答案应当是函数 top_p 本身。")
    logits = torch.tensor([[2.0, 0.5, 1.5, -1.0, 1.0, 0.0], [0.2, 3.0, -0.5, 0.1, 1.0, 2.5]])
    out = _logits(answer(logits.clone(), 0.7), "top_p", (2, 6))
    expected = top_p_filter(logits, 0.7)
    kept, right = _kept(out), _kept(expected)
    expect(kept.any(dim=1).all(), "a row lost every token: the most likely token always stays.",
           "有一行的词元全被去掉了：最可能的词元总要保留。")
    crossing = right & ~_kept(_top_p_strict(logits, 0.7))
    expect(not torch.equal(kept, right & ~crossing),
           "the token that crosses p was removed: keep a token while the mass before it is still "
           "below p.", "跨过 p 的那个词元被去掉了：只要它之前的概率和还小于 p，就要保留它。")
    expect(torch.equal(kept, right), "the kept set is not the nucleus: sort the tokens by "
           "probability, most likely first, before adding up their mass.",
           "保留的集合不是核：先按概率从大到小给词元排序，再累加概率。")
    expect(torch.equal(out[kept], logits[right]), "the kept logits changed: top-p only removes "
           "tokens.", "保留的 logits 被改动了：top-p 只负责去掉词元。")


def _top_p_strict(logits: torch.Tensor, p: float) -> torch.Tensor:
    """The usual mistake: keep only the tokens whose cumulative mass, themselves included, is < p."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    remove_sorted = sorted_logits.softmax(dim=-1).cumsum(dim=-1) >= p
    remove_sorted[..., 0] = False
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


@exercise("inference.repetition-penalty",
          en="positive logits divided, negative ones multiplied: every repeated token becomes less "
          "likely, once however often it appeared.",
          zh="正的 logit 除以惩罚系数，负的乘以它：每个重复的词元都变得更不可能，不论出现几次都只罚一次。")
def _(answer):
    expect(callable(answer), "the answer should be the function penalize itself.",
           "答案应当是函数 penalize 本身。")
    logits = torch.tensor([2.0, -1.0, 0.5, -0.3, 1.2, 0.0])
    previous = [0, 1, 1, 3]
    out = _logits(answer(logits.clone(), list(previous), 1.5), "penalize", (6,))
    expected = apply_repetition_penalty(logits, previous, 1.5)
    expect(not math.isclose(out[1].item(), -1.0 / 1.5, rel_tol=1e-5),
           "a negative logit divided by the penalty moves up, towards zero: the repeated token "
           "became more likely.", "负的 logit 除以惩罚系数会向 0 靠近，也就是变大：重复的词元反而更可能了。")
    expect(not math.isclose(out[1].item(), -1.0 * 1.5**2, rel_tol=1e-5),
           "token 1 appeared twice and was penalized twice: penalize each distinct token once.",
           "词元 1 出现了两次，被罚了两次：每个不同的词元只罚一次。")
    expect(torch.allclose(out[[2, 4, 5]], logits[[2, 4, 5]]),
           "tokens that never appeared changed: only the previous tokens are penalized.",
           "没出现过的词元也被改动了：只惩罚之前出现过的词元。")
    expect(torch.allclose(out, expected), "the penalized logits are not right: divide the positive "
           "ones by the penalty and multiply the negative ones by it.",
           "惩罚后的 logits 不对：正的除以惩罚系数，负的乘以它。")


VOCAB = ["<s>", "</s>", "a", "the", "cat", "dog", "sat", "down"]
BOOK_LM = BigramLM.from_probabilities(VOCAB, {
    "<s>": {"a": 0.5, "the": 0.4, "</s>": 0.1},
    "a": {"cat": 0.4, "dog": 0.3, "</s>": 0.3},
    "the": {"cat": 0.9, "dog": 0.1},
    "cat": {"</s>": 0.55, "sat": 0.45},
    "dog": {"</s>": 0.7, "sat": 0.3},
    "sat": {"down": 1.0},
    "down": {"</s>": 1.0},
})


@exercise("inference.sequence-log-prob",
          en="a sequence's log-probability is the sum of the log-softmax of each step, one term per "
          "generated token.",
          zh="一个序列的对数概率，是每一步 log-softmax 的和，每个生成的词元一项。")
def _(answer):
    expect(callable(answer), "the answer should be the function sequence_log_prob itself.",
           "答案应当是函数 sequence_log_prob 本身。")
    tokens = BOOK_LM.encode("<s> the cat </s>")
    result = answer(lambda prefix: BOOK_LM(prefix) + 2.0, tokens)  # logits, not log-probabilities
    expect(result is not None, "sequence_log_prob returned None: compute the sum and return it.",
           "sequence_log_prob 返回了 None：把和算出来并返回。")
    value = float(result)
    expect(not math.isclose(value, 0.4 * 0.9 * 0.55, rel_tol=1e-4),
           "this is the probability, a product: scores add up in log space.",
           "这是概率，一个乘积：得分要在对数空间里相加。")
    expect(value < 0, "a log-probability cannot be positive: take the log-softmax of the logits.",
           "对数概率不可能为正：要对 logits 取 log-softmax。")
    expect(not math.isclose(value, math.log(0.4 * 0.9), rel_tol=1e-4),
           "the last token, </s>, is missing: it is generated too, and has a probability.",
           "少了最后一个词元 </s>：它也是生成出来的，也有概率。")
    expect(math.isclose(value, math.log(0.4 * 0.9 * 0.55), rel_tol=1e-4),
           "the sum is not log p: use log_softmax(step_fn(prefix))[next token] for each step, "
           "the prefix being every token before it.",
           "这个和不是 log p：每一步取 log_softmax(step_fn(prefix))[下一个词元]，prefix 是它之前的所有词元。")


@exercise("inference.length-penalty",
          en="the GNMT score divides the log-probability by ((5 + length) / 6)^α, the length "
          "counting only generated tokens.",
          zh="GNMT 得分把对数概率除以 ((5 + 长度) / 6)^α，长度只计生成的词元。")
def _(answer):
    expect(callable(answer), "the answer should be the function score itself.",
           "答案应当是函数 score 本身。")
    cases = [((0, 3, 4, 1), -1.6, 1.0), ((0, 2, 4, 6, 7, 1), -2.9, 0.6), ((0, 1), -2.3, 2.0)]
    values = [answer(tokens, log_prob, alpha) for tokens, log_prob, alpha in cases]
    expect(all(v is not None for v in values), "score returned None: compute it and return it.",
           "score 返回了 None：把它算出来并返回。")
    values = [float(v) for v in values]

    def all_match(divisor):
        return all(math.isclose(v, lp / divisor(len(t), a), rel_tol=1e-6)
                   for v, (t, lp, a) in zip(values, cases))

    expect(not all(math.isclose(v, lp * length_penalty(len(t) - 1, a), rel_tol=1e-6)
                   for v, (t, lp, a) in zip(values, cases)),
           "multiplying a negative log-probability by the penalty makes long sequences worse still: "
           "divide by it.", "把负的对数概率乘以惩罚项，长序列会更吃亏：应当除以它。")
    expect(not all_match(lambda n, a: length_penalty(n, a)),
           "the length counts BOS: only the generated tokens count (EOS included).",
           "长度把 BOS 也算进去了：只计生成的词元（包括 EOS）。")
    expect(not all_match(lambda n, a: (n - 1) ** a),
           "this is the simple penalty length^α: the exercise asks for GNMT's ((5 + length) / 6)^α.",
           "这是简单惩罚 length^α：本题要的是 GNMT 的 ((5 + length) / 6)^α。")
    expect(all_match(lambda n, a: length_penalty(n - 1, a)),
           "the score is not log_prob / ((5 + length) / 6)^α.",
           "得分不是 log_prob / ((5 + length) / 6)^α。")


def _random_lm(seed: int) -> BigramLM:
    generator = torch.Generator().manual_seed(seed)
    return BigramLM(2 * torch.randn(6, 6, generator=generator))


@exercise("inference.beam-search",
          en="keeping the best prefixes across all beams by summed log-probability, and setting "
          "finished ones aside, finds what the package's beam_search finds.",
          zh="按累加的对数概率在所有束之间挑出最好的前缀，并把结束的假设放到一边，找到的结果与本书的 beam_search 相同。")
def _(answer):
    expect(callable(answer), "the answer should be the function beam itself.",
           "答案应当是函数 beam 本身。")
    bos, eos = VOCAB.index("<s>"), VOCAB.index("</s>")
    cases = [(BOOK_LM, bos, eos, 2), (BOOK_LM, bos, eos, 1)]
    cases += [(_random_lm(seed), 0, 1, width) for seed in (1, 2, 3) for width in (2, 3)]
    for step_fn, start, end, width in cases:
        result = answer(step_fn, start, end, width, 6)
        expect(result is not None, "beam returned None: return the tokens of the best hypothesis.",
               "beam 返回了 None：应当返回最佳假设的词元。")
        tokens = tuple(int(t) for t in result)
        expected = beam_search(step_fn, start, end, width, 6)[0].tokens
        greedy = greedy_decode(step_fn, start, end, 6).tokens
        expect(tokens[:1] == (start,), "the tokens should start with BOS, as the prefixes do.",
               "词元应当以 BOS 开头，和各个前缀一样。")
        expect(end not in tokens[:-1], "a hypothesis went on after </s>: a finished hypothesis "
               "leaves the beam.", "有个假设在 </s> 之后还在继续：结束的假设要离开束。")
        expect(tokens == expected or tokens != greedy,
               f"with width {width} this is greedy's answer: keep the {width} best candidates of "
               "all beams at every step.",
               f"宽度为 {width} 时得到的却是贪心解码的结果：每一步都要在所有束的候选中保留最好的 {width} 个。")
        expect(tokens == expected, "not the hypothesis beam search finds: rank the candidates by "
               "the summed log-probability of the whole prefix, not by the last step's.",
               "这不是束搜索找到的假设：候选要按整个前缀累加的对数概率排序，而不是只看最后一步。")
