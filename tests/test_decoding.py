"""Unit tests of pytorch_notes.decoding: the logit processors, sampling, greedy and beam search, bad input."""

import itertools
import math

import pytest
import torch

from pytorch_notes.decoding import (BigramLM, Hypothesis, apply_repetition_penalty, apply_temperature,
                                    beam_search, greedy_decode, length_penalty, process_logits, sample_next,
                                    top_k_filter, top_p_filter)

PROBS = torch.tensor([0.45, 0.25, 0.15, 0.10, 0.05])
LOGITS = PROBS.log() + 2.0


def test_temperature():
    assert torch.equal(apply_temperature(LOGITS, 2.0), LOGITS / 2)
    assert torch.allclose(apply_temperature(LOGITS, 1.0).softmax(-1), PROBS)
    batch = torch.randn(3, 4, 7)
    assert torch.equal(apply_temperature(batch, 0.5).argmax(-1), batch.argmax(-1))


def test_top_k_keeps_exactly_k_and_renormalises():
    for k in range(1, 6):
        filtered = top_k_filter(LOGITS, k)
        assert torch.isfinite(filtered).sum() == k
        probs = filtered.softmax(-1)
        assert torch.allclose(probs[:k], PROBS[:k] / PROBS[:k].sum())
    assert torch.equal(top_k_filter(LOGITS, 10), LOGITS)
    ties = torch.zeros(2, 6)
    assert (torch.isfinite(top_k_filter(ties, 2)).sum(-1) == 2).all()  # exactly k even with ties


def test_top_p_keeps_the_token_that_crosses_p():
    assert torch.isfinite(top_p_filter(LOGITS, 0.75)).tolist() == [True, True, True, False, False]
    assert torch.isfinite(top_p_filter(LOGITS, 0.4)).tolist() == [True, False, False, False, False]
    assert torch.isfinite(top_p_filter(LOGITS, 0.46)).tolist() == [True, True, False, False, False]
    assert torch.equal(top_p_filter(LOGITS, 1.0), LOGITS)
    assert torch.allclose(top_p_filter(LOGITS, 0.75).softmax(-1)[:3], PROBS[:3] / 0.85)


def test_top_p_on_shuffled_batches():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 20)
    filtered = top_p_filter(logits, 0.6)
    probs = logits.softmax(-1)
    kept = torch.isfinite(filtered)
    for row_probs, row_kept in zip(probs.reshape(-1, 20), kept.reshape(-1, 20)):
        assert row_probs[row_kept].sum() >= 0.6
        assert row_probs[row_kept].min() >= row_probs[~row_kept].max()  # the most likely ones
        assert row_probs[row_kept].sum() - row_probs[row_kept].min() < 0.6  # the smallest such set


def test_repetition_penalty_both_signs_and_batches():
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
    out = apply_repetition_penalty(logits, [0, 1, 1], 2.0)
    assert torch.equal(out, torch.tensor([1.0, -2.0, 0.5, -3.0]))
    assert torch.equal(apply_repetition_penalty(logits, [], 2.0), logits)
    batch = torch.stack([logits, logits])
    out = apply_repetition_penalty(batch, torch.tensor([[0], [3]]), 2.0)
    assert torch.equal(out, torch.tensor([[1.0, -1.0, 0.5, -3.0], [2.0, -1.0, 0.5, -6.0]]))


def test_process_logits_order():
    expected = top_p_filter(top_k_filter(apply_repetition_penalty(LOGITS, [0], 1.3) / 0.8, 4), 0.9)
    got = process_logits(LOGITS, previous_tokens=[0], repetition_penalty=1.3, temperature=0.8, top_k=4, top_p=0.9)
    assert torch.equal(got, expected)
    assert torch.equal(process_logits(LOGITS), LOGITS)


def test_sample_next_matches_the_distribution_and_is_reproducible():
    n = 20_000
    draws = sample_next(LOGITS.expand(n, 5), generator=torch.Generator().manual_seed(1), top_k=3)
    frequencies = torch.bincount(draws, minlength=5) / n
    assert (frequencies - top_k_filter(LOGITS, 3).softmax(-1)).abs().max() < 0.015
    again = sample_next(LOGITS.expand(n, 5), generator=torch.Generator().manual_seed(1), top_k=3)
    assert torch.equal(draws, again)
    assert sample_next(LOGITS).shape == () and sample_next(torch.randn(2, 3, 5)).shape == (2, 3)


@pytest.mark.parametrize("call, error, match", [
    (lambda: apply_temperature(LOGITS, 0), ValueError, "positive"),
    (lambda: apply_temperature(LOGITS, float("inf")), ValueError, "finite"),
    (lambda: apply_temperature(LOGITS, "1"), TypeError, "number"),
    (lambda: apply_temperature(LOGITS.tolist(), 1.0), TypeError, "torch.Tensor"),
    (lambda: apply_temperature(torch.tensor([1, 2]), 1.0), TypeError, "floating-point"),
    (lambda: apply_temperature(torch.tensor(1.0), 1.0), ValueError, "shape"),
    (lambda: top_k_filter(LOGITS, 0), ValueError, "k must be >= 1"),
    (lambda: top_k_filter(LOGITS, True), TypeError, "int"),
    (lambda: top_p_filter(LOGITS, 0.0), ValueError, "(0, 1]"),
    (lambda: top_p_filter(LOGITS, 1.01), ValueError, "(0, 1]"),
    (lambda: apply_repetition_penalty(LOGITS, [0], 0.0), ValueError, "penalty must be > 0"),
    (lambda: apply_repetition_penalty(LOGITS, [5], 1.2), ValueError, "[0, 5)"),
    (lambda: apply_repetition_penalty(LOGITS, [0.5], 1.2), TypeError, "ints"),
    (lambda: apply_repetition_penalty(LOGITS, torch.tensor([0.0]), 1.2), TypeError, "torch.int64"),
    (lambda: apply_repetition_penalty(LOGITS, torch.tensor([[0]]), 1.2), ValueError, "does not fit"),
    (lambda: apply_repetition_penalty(LOGITS, "0", 1.2), TypeError, "list of ints"),
])
def test_processors_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        call()


def test_tensor_token_ids_and_empty_rows_are_not_read():
    """Reading them would wait for the GPU at every token; on the CPU PyTorch itself refuses both."""
    with pytest.raises(RuntimeError, match="out of bounds"):
        apply_repetition_penalty(LOGITS, torch.tensor([5]), 1.2)
    with pytest.raises(RuntimeError, match="probability tensor"):
        sample_next(torch.full((5,), float("-inf")))


VOCAB = ["<s>", "</s>", "a", "the", "cat", "dog"]


def toy_lm():
    return BigramLM.from_probabilities(VOCAB, {
        "<s>": {"a": 0.5, "the": 0.4, "</s>": 0.1},
        "a": {"cat": 0.35, "dog": 0.35, "</s>": 0.3},
        "the": {"cat": 0.9, "</s>": 0.1},
        "cat": {"</s>": 1.0},
        "dog": {"</s>": 0.6, "cat": 0.4},
    })


def all_finished(lm, max_len):
    """Every sequence of positive probability that ends with EOS within max_len tokens."""
    found, frontier = [], [((0,), 0.0)]
    for _ in range(max_len):
        grown = []
        for tokens, log_prob in frontier:
            for token, lp in enumerate(lm(tokens).log_softmax(-1).tolist()):
                if lp > -math.inf:
                    (found if token == 1 else grown).append((tokens + (token,), log_prob + lp))
        frontier = grown
    return found


def test_bigram_lm():
    lm = toy_lm()
    assert lm.vocab_size == 6 and lm(lm.encode("<s> the")).softmax(-1)[4].item() == pytest.approx(0.9)
    assert lm.decode(lm.encode("<s> a dog </s>")) == "<s> a dog </s>"
    assert lm.log_prob(lm.encode("<s> a dog </s>")) == pytest.approx(math.log(0.5 * 0.35 * 0.6), abs=1e-6)
    assert torch.allclose(lm([1]).softmax(-1), torch.full((6,), 1 / 6))  # no row: uniform


def test_greedy_is_beam_width_one_and_not_optimal():
    lm = toy_lm()
    greedy = greedy_decode(lm, 0, 1, 10)
    assert isinstance(greedy, Hypothesis) and greedy.finished
    assert lm.decode(greedy.tokens) == "<s> a cat </s>"
    assert greedy.log_prob == pytest.approx(lm.log_prob(greedy.tokens))
    assert beam_search(lm, 0, 1, beam_width=1, max_len=10) == [greedy]
    best = max(all_finished(lm, 10), key=lambda item: item[1])
    assert lm.decode(best[0]) == "<s> the cat </s>" and best[1] > greedy.log_prob + 0.1


def test_wide_beam_is_exhaustive():
    lm = toy_lm()
    exhaustive = sorted(all_finished(lm, 5), key=lambda item: -item[1])
    beams = beam_search(lm, 0, 1, beam_width=100, max_len=5)
    assert [h.tokens for h in beams] == [tokens for tokens, _ in exhaustive]
    assert all(h.finished and h.log_prob == pytest.approx(lp) for h, (_, lp) in zip(beams, exhaustive))


def test_max_len_returns_unfinished_and_length_penalty():
    loop = BigramLM(torch.tensor([[0.0, -5.0, 1.0], [0.0, 0.0, 0.0], [0.0, -5.0, 1.0]]))
    hypotheses = beam_search(loop, 0, 1, beam_width=2, max_len=3)
    assert any(not h.finished for h in hypotheses) and all(len(h.tokens) <= 4 for h in hypotheses)
    greedy = greedy_decode(loop, 0, 1, 3)
    assert greedy.tokens == (0, 2, 2, 2) and not greedy.finished
    assert greedy.log_prob == greedy.score == pytest.approx(3 * loop([0]).log_softmax(-1)[2].item())
    assert length_penalty(1, 0.7) == 1.0 and length_penalty(4, 0.0) == 1.0
    assert length_penalty(7, 1.0) == pytest.approx(2.0) and length_penalty(3, 2.0, "simple") == 9.0
    scored = beam_search(loop, 0, 1, beam_width=3, max_len=3, alpha=1.0, length_norm="simple")
    assert all(h.score == pytest.approx(h.log_prob / (len(h.tokens) - 1)) for h in scored)
    assert [h.score for h in scored] == sorted((h.score for h in scored), reverse=True)


@pytest.mark.parametrize("call, error, match", [
    (lambda: greedy_decode("lm", 0, 1, 3), TypeError, "callable"),
    (lambda: greedy_decode(toy_lm(), 0, 1, 0), ValueError, "max_len"),
    (lambda: greedy_decode(toy_lm(), -1, 1, 3), ValueError, "bos"),
    (lambda: greedy_decode(lambda prefix: [0.0, 1.0], 0, 1, 3), TypeError, r"step_fn\(prefix\) must be a torch"),
    (lambda: greedy_decode(lambda prefix: torch.zeros(2, dtype=torch.long), 0, 1, 3), TypeError, "floating-point"),
    (lambda: greedy_decode(lambda prefix: torch.zeros(2, 2), 0, 1, 3), ValueError, r"must have shape \(V,\)"),
    (lambda: beam_search(toy_lm(), 0, 1, 0, 3), ValueError, "beam_width"),
    (lambda: beam_search(toy_lm(), 0, 1, 2.0, 3), TypeError, "beam_width"),
    (lambda: beam_search(toy_lm(), 0, 1, 2, 3, alpha=-1.0), ValueError, "alpha"),
    (lambda: beam_search(toy_lm(), 0, 1, 2, 3, length_norm="average"), ValueError, "gnmt"),
    (lambda: length_penalty(0, 1.0), ValueError, "length"),
    (lambda: BigramLM(torch.zeros(2, 3)), ValueError, "square"),
    (lambda: BigramLM(torch.zeros(2, 2, dtype=torch.long)), TypeError, "floating-point"),
    (lambda: BigramLM(torch.tensor([[0.0, 0.0], [-math.inf, -math.inf]])), ValueError, "finite"),
    (lambda: BigramLM(torch.zeros(2, 2), ["a", "a"]), ValueError, "distinct"),
    (lambda: BigramLM(torch.zeros(2, 2), "ab"), TypeError, "list of str"),
    (lambda: BigramLM.from_probabilities(["a", "b"], {"a": {"c": 1.0}}), ValueError, "unknown word"),
    (lambda: BigramLM.from_probabilities(["a", "b"], {"a": {"b": 0.5}}), ValueError, "sum to 1"),
    (lambda: BigramLM.from_probabilities(["a", "b"], {"a": {"a": 1.5, "b": -0.5}}), ValueError, ">= 0"),
    (lambda: BigramLM.from_probabilities(["a", "b"], [("a", "b")]), TypeError, "dict"),
    (lambda: toy_lm()([]), ValueError, "at least one token"),
    (lambda: toy_lm()(0), TypeError, "sequence"),
    (lambda: toy_lm()([9]), ValueError, "out of range"),
    (lambda: toy_lm().encode("the fox"), ValueError, "fox"),
    (lambda: BigramLM(torch.zeros(2, 2)).decode([0]), ValueError, "no vocab"),
])
def test_decoders_and_model_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_beam_keeps_finished_hypotheses_of_every_length():
    lm = toy_lm()
    hypotheses = beam_search(lm, 0, 1, beam_width=3, max_len=5)
    lengths = {len(h.tokens) for h in hypotheses}
    assert len(lengths) > 1 and all(h.finished for h in hypotheses)
    assert list(itertools.chain.from_iterable(h.tokens[-1:] for h in hypotheses)) == [1] * len(hypotheses)
