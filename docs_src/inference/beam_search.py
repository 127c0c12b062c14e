# %% [markdown]
# # Beam search
# Book page: inference/beam-search

# %%
# --8<-- [start:model]
import math

import torch
from pytorch_notes.decoding import BigramLM, greedy_decode

vocab = ["<s>", "</s>", "a", "the", "cat", "dog", "sat", "down"]
# p(next word | word); missing pairs have p = 0
lm = BigramLM.from_probabilities(
    vocab,
    {
        "<s>": {"a": 0.5, "the": 0.4, "</s>": 0.1},
        "a": {"cat": 0.4, "dog": 0.3, "</s>": 0.3},
        "the": {"cat": 0.9, "dog": 0.1},
        "cat": {"</s>": 0.55, "sat": 0.45},
        "dog": {"</s>": 0.7, "sat": 0.3},
        "sat": {"down": 1.0},
        "down": {"</s>": 1.0},
    },
)
BOS, EOS = vocab.index("<s>"), vocab.index("</s>")

greedy = greedy_decode(lm, BOS, EOS, max_len=10)
print(lm.decode(greedy.tokens), f"p = {math.exp(greedy.log_prob):.3f}")
assert lm.decode(greedy.tokens) == "<s> a cat </s>" and greedy.finished
assert abs(math.exp(greedy.log_prob) - 0.5 * 0.4 * 0.55) < 1e-6
# --8<-- [end:model]

# %%
# --8<-- [start:scores]
tokens = lm.encode("<s> the cat </s>")
step_log_probs = [
    lm(tokens[:t]).log_softmax(dim=-1)[tokens[t]].item()
    for t in range(1, len(tokens))
]
print(
    "per step:",
    [round(lp, 3) for lp in step_log_probs],
    "sum:",
    round(sum(step_log_probs), 3),
)
# log of a product = sum of logs
assert abs(sum(step_log_probs) - math.log(0.4 * 0.9 * 0.55)) < 1e-6
assert abs(lm.log_prob(tokens) - sum(step_log_probs)) < 1e-6

# Why logs: a product of many probabilities underflows, a sum of logs does not.
p = torch.full((200,), 0.5)
assert p.prod() == 0  # 0.5**200 = 6.2e-61, below float32's smallest 1.4e-45
assert math.isclose(p.double().prod().item(), 6.223e-61, rel_tol=1e-3)
assert p.log().sum().isfinite()  # -138.6: an ordinary number
# --8<-- [end:scores]


# %%
# --8<-- [start:exhaustive]
def exhaustive_search(step_fn, max_len):
    """Every sequence that ends with EOS within max_len tokens, with its
    log-probability."""
    finished, frontier = [], [((BOS,), 0.0)]
    for _ in range(max_len):
        longer = []
        for prefix, log_prob in frontier:
            for token, lp in enumerate(
                step_fn(prefix).log_softmax(dim=-1).tolist()
            ):
                if lp == -math.inf:
                    continue  # impossible: cannot be part of the best sequence
                (finished if token == EOS else longer).append(
                    (prefix + (token,), log_prob + lp)
                )
        frontier = longer
    return sorted(finished, key=lambda item: -item[1])


every = exhaustive_search(lm, max_len=6)
for seq, log_prob in every[:5]:
    print(f"{math.exp(log_prob):.3f}  {lm.decode(seq)}")
best_tokens, best_log_prob = every[0]
assert (
    lm.decode(best_tokens) == "<s> the cat </s>"
    and abs(math.exp(best_log_prob) - 0.198) < 1e-6
)
# greedy is not optimal: 0.110 vs 0.198
assert greedy.log_prob < best_log_prob - 0.5
# the sequences share all the mass
assert abs(sum(math.exp(lp) for _, lp in every) - 1) < 1e-6
assert len(every) == 10
print(len(every), "sequences in all")
# --8<-- [end:exhaustive]


# %%
# --8<-- [start:by_hand]
def beam_search_by_hand(step_fn, width, max_len):
    beams, finished, history = [((BOS,), 0.0)], [], []
    for _ in range(max_len):
        candidates = [
            (prefix + (token,), log_prob + lp)
            for prefix, log_prob in beams
            for token, lp in enumerate(
                step_fn(prefix).log_softmax(dim=-1).tolist()
            )
            if lp > -math.inf
        ]
        # best first; stable for ties
        candidates.sort(key=lambda item: -item[1])
        kept = candidates[:width]
        history.append(kept)
        # a finished hypothesis leaves the beam ...
        finished += [c for c in kept if c[0][-1] == EOS]
        # ... and the beam shrinks by one
        beams = [c for c in kept if c[0][-1] != EOS]
        if not beams:
            break
    return sorted(finished + beams, key=lambda item: -item[1]), history


found, history = beam_search_by_hand(lm, width=2, max_len=6)
for step, kept in enumerate(history, 1):
    print(
        f"step {step}:",
        " | ".join(
            f"{lm.decode(s[1:])} ({math.exp(lp):.3f})" for s, lp in kept
        ),
    )
assert found[0][0] == best_tokens  # width 2 already finds the best sequence
# "the" survived step 1 in 2nd place
assert [lm.decode(s[1:]) for s, _ in history[1]] == ["the cat", "a cat"]
# --8<-- [end:by_hand]

# %%
# --8<-- [start:package]
from pytorch_notes import expect_error
from pytorch_notes.decoding import beam_search

for width in (1, 2, 3, 4):
    hypotheses = beam_search(lm, BOS, EOS, beam_width=width, max_len=6)
    by_hand, _ = beam_search_by_hand(lm, width, max_len=6)
    assert [h.tokens for h in hypotheses] == [s for s, _ in by_hand]
    assert all(
        abs(h.log_prob - lp) < 1e-6 for h, (_, lp) in zip(hypotheses, by_hand)
    )
    print(
        f"width {width}: best {lm.decode(hypotheses[0].tokens)}, "
        f"p = {math.exp(hypotheses[0].log_prob):.3f}"
    )

# width 1 = greedy
assert beam_search(lm, BOS, EOS, beam_width=1, max_len=10) == [greedy]
# wide enough to keep every prefix
wide = beam_search(lm, BOS, EOS, beam_width=100, max_len=6)
# = exhaustive search, same order
assert [h.tokens for h in wide] == [s for s, _ in every]
assert all(
    abs(h.log_prob - lp) < 1e-6 and h.finished
    for h, (_, lp) in zip(wide, every)
)
# scores add along the sequence
assert all(abs(h.log_prob - lm.log_prob(h.tokens)) < 1e-6 for h in wide)

with expect_error(ValueError, "beam_width must be >= 1"):
    beam_search(lm, BOS, EOS, beam_width=0, max_len=6)
# --8<-- [end:package]

# %%
# --8<-- [start:eos]
hypotheses = beam_search(lm, BOS, EOS, beam_width=2, max_len=6)
for h in hypotheses:
    print(f"{h.log_prob:7.3f}  finished={h.finished}  {lm.decode(h.tokens)}")
assert all(h.finished and h.tokens[-1] == EOS for h in hypotheses)
# a short one finished early and was kept
assert {len(h.tokens) for h in hypotheses} == {4, 6}
# after it finished, one beam went on
assert [len(kept) for kept in history] == [2, 2, 2, 1, 1]

# too short for the long sentence
cut = beam_search(lm, BOS, EOS, beam_width=2, max_len=3)
assert [h.finished for h in cut] == [True, False] and lm.decode(
    cut[1].tokens
) == "<s> the cat sat"
# --8<-- [end:eos]

# %%
# --8<-- [start:short_bias]
short, long = (
    lm.encode("<s> the cat </s>"),
    lm.encode("<s> the cat sat down </s>"),
)
print(
    f"short: log p = {lm.log_prob(short):.3f}, "
    f"per token {lm.log_prob(short) / 3:.3f}"
)
print(
    f"long:  log p = {lm.log_prob(long):.3f}, "
    f"per token {lm.log_prob(long) / 5:.3f}"
)
# every extra token can only lower log p ...
assert lm.log_prob(short) > lm.log_prob(long)
# ... though the long one is likelier per token
assert lm.log_prob(short) / 3 < lm.log_prob(long) / 5
# so, without a penalty, the short one wins
assert hypotheses[0].tokens == tuple(short)

# Why: a prefix is always at least as likely as any of its continuations (each
# step multiplies by p <= 1).
assert all(lm.log_prob(h.tokens[:-1]) >= h.log_prob for h in wide)
# --8<-- [end:short_bias]

# %%
# --8<-- [start:length_penalty]
from pytorch_notes.decoding import length_penalty


def gnmt(length, alpha):
    return ((5 + length) / 6) ** alpha


for n in (1, 3, 5, 10):
    assert math.isclose(length_penalty(n, 0.7), gnmt(n, 0.7))
    assert math.isclose(length_penalty(n, 0.7, "simple"), n**0.7)
    # alpha = 0: no penalty
    assert length_penalty(n, 0.0) == length_penalty(n, 0.0, "simple") == 1.0
assert length_penalty(1, 0.7) == 1.0 and length_penalty(7, 1.0) == 2.0

for kind in ("gnmt", "simple"):
    ranked = beam_search(
        lm, BOS, EOS, beam_width=2, max_len=6, alpha=1.0, length_norm=kind
    )
    exact = max(
        every,
        key=lambda item: item[1] / length_penalty(len(item[0]) - 1, 1.0, kind),
    )
    print(
        f"{kind:6s}:",
        " | ".join(f"{lm.decode(h.tokens[1:])} {h.score:.3f}" for h in ranked),
    )
    # the long sentence now wins, as in exhaustive search
    assert ranked[0].tokens == tuple(long) == exact[0]
    assert all(
        math.isclose(
            h.score, h.log_prob / length_penalty(len(h.tokens) - 1, 1.0, kind)
        )
        for h in ranked
    )
# --8<-- [end:length_penalty]


# %%
# --8<-- [start:diverse]
def diverse_groups(step_fn, num_groups, strength, max_len):
    """Diverse beam search with one beam per group: a group pays `strength`
    for every earlier group that picked the same token at the same step
    (Hamming diversity)."""
    groups = [(BOS,)] * num_groups
    for _ in range(max_len):
        picked_now = []
        for g, prefix in enumerate(groups):
            if prefix[-1] == EOS:
                continue
            scores = step_fn(prefix).log_softmax(dim=-1)
            for token in picked_now:
                scores[token] -= strength
            token = int(scores.argmax())
            picked_now.append(token)
            groups[g] = prefix + (token,)
    return groups


plain = [h.tokens for h in beam_search(lm, BOS, EOS, beam_width=2, max_len=6)]
diverse = diverse_groups(lm, num_groups=2, strength=1.0, max_len=6)
print("plain beam:", [lm.decode(s[1:]) for s in plain])
print("diverse:   ", [lm.decode(s[1:]) for s in diverse])
assert plain[0][1:3] == plain[1][1:3]  # both plain hypotheses start "the cat"
assert [vocab[s[1]] for s in diverse] == ["a", "the"]  # group 2 avoids "a"
# no penalty: every group is greedy
assert diverse_groups(lm, 2, 0.0, 6) == [greedy.tokens] * 2
# --8<-- [end:diverse]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

kept_prefixes = {prefix for kept in history for prefix, _ in kept}
fig, axis = plt.subplots(figsize=(6.8, 4.5))
frontier = [((BOS,), 0.0)]
for step in range(1, 6):
    grown = []
    for prefix, log_prob in frontier:
        for token, lp in enumerate(lm(prefix).log_softmax(dim=-1).tolist()):
            if lp == -math.inf:
                continue
            child = (prefix + (token,), log_prob + lp)
            kept = child[0] in kept_prefixes
            axis.plot(
                [step - 1, step],
                [log_prob, child[1]],
                color="tab:blue" if kept else "lightgray",
                lw=2 if kept else 1,
                zorder=2 if kept else 1,
            )
            axis.annotate(
                vocab[token],
                (step, child[1]),
                fontsize=8,
                xytext=(3, 0),
                textcoords="offset points",
                color="black" if kept else "gray",
            )
            if token != EOS:
                grown.append(child)
    frontier = grown
greedy_steps = [
    lm.log_prob(greedy.tokens[: t + 1]) for t in range(len(greedy.tokens))
]
axis.plot(range(len(greedy_steps)), greedy_steps, "r--", lw=1.5, label="greedy")
axis.plot([], [], color="tab:blue", lw=2, label="kept by beam search, width 2")
axis.plot([], [], color="lightgray", label="pruned")
finished_steps = [len(h.tokens) - 1 for h in hypotheses]
axis.plot(
    finished_steps,
    [h.log_prob for h in hypotheses],
    "*",
    color="tab:orange",
    ms=14,
    label="finished, kept",
)
axis.set_xlabel("step")
axis.set_ylabel("log p(prefix)")
axis.set_title("the search tree: every possible prefix")
axis.legend(loc="lower left")
fig.tight_layout()
# --8<-- [end:plot]
