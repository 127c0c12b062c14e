# %% [markdown]
# # Sampling: greedy, temperature, top-k, top-p, repetition penalty
# Book page: inference/sampling

# %%
# --8<-- [start:distribution]
import torch
import torch.nn.functional as F

# candidates for the word after "the"
words = ["cat", "dog", "bird", "fish", "frog"]
target = torch.tensor([0.45, 0.25, 0.15, 0.10, 0.05])
# a model's raw scores: any constant shift gives the same softmax
logits = target.log() + 2.0
probs = logits.softmax(dim=-1)
assert torch.allclose(probs, target)
# softmax(z + c) = softmax(z)
assert torch.allclose((logits + 7.0).softmax(dim=-1), probs)
assert (logits > 0).any() and (logits < 0).any()  # raw logits have both signs
for word, z, p in zip(words, logits, probs):
    print(f"{word:5s} logit {z:+.3f}  p = {p:.2f}")
# --8<-- [end:distribution]

# %%
# --8<-- [start:greedy]
from pytorch_notes.decoding import BigramLM, greedy_decode

vocab = ["<s>", "</s>", "the", "a", "cat", "dog", "sat", "ran", "on", "away"]
# p(next word | word); missing pairs have p = 0
lm = BigramLM.from_probabilities(
    vocab,
    {
        "<s>": {"the": 0.6, "a": 0.4},
        "the": {"cat": 0.55, "dog": 0.45},
        "a": {"cat": 0.4, "dog": 0.6},
        "cat": {"sat": 0.6, "ran": 0.3, "</s>": 0.1},
        "dog": {"ran": 0.5, "sat": 0.4, "</s>": 0.1},
        "sat": {"on": 0.9, "</s>": 0.1},
        "ran": {"away": 0.5, "on": 0.4, "</s>": 0.1},
        "on": {"the": 0.8, "a": 0.2},
        "away": {"</s>": 0.9, "on": 0.1},
    },
)
BOS, EOS = vocab.index("<s>"), vocab.index("</s>")

tokens = [BOS]
for _ in range(12):
    # greedy: the single most likely next token
    tokens.append(int(lm(tokens).argmax()))
    if tokens[-1] == EOS:
        break
print(lm.decode(tokens))
# stuck in a loop
assert lm.decode(tokens) == "<s> the cat sat on the cat sat on the cat sat on"
assert EOS not in tokens

greedy = greedy_decode(lm, BOS, EOS, max_len=12)
assert list(greedy.tokens) == tokens and not greedy.finished
assert abs(greedy.log_prob - lm.log_prob(tokens)) < 1e-5
# --8<-- [end:greedy]


# %%
# --8<-- [start:temperature]
def entropy(p):
    return torch.special.entr(p).sum().item()  # -sum p log p, with 0 log 0 = 0


temperatures = [0.05, 0.25, 0.5, 1.0, 2.0, 5.0, 100.0]
entropies = []
for T in temperatures:
    p_T = (logits / T).softmax(dim=-1)
    assert torch.allclose(p_T, F.softmax(logits / T, dim=-1))
    # the most likely token stays the most likely
    assert p_T.argmax() == logits.argmax()
    entropies.append(entropy(p_T))
    print(
        f"T = {T:6.2f}: p = {p_T.numpy().round(3)}, entropy {entropies[-1]:.3f}"
    )

assert torch.allclose((logits / 1.0).softmax(dim=-1), probs)  # T = 1: unchanged
# T -> 0: one-hot on the argmax
assert (logits / 0.05).softmax(dim=-1).max() > 0.9999
# T -> inf: uniform
assert torch.allclose(
    (logits / 100.0).softmax(dim=-1), torch.full((5,), 0.2), atol=0.005
)
# entropy grows with T
assert all(a < b for a, b in zip(entropies, entropies[1:]))
log_V = torch.log(torch.tensor(5.0)).item()
assert entropies[0] < 1e-3 and log_V - entropies[-1] < 1e-3  # from 0 to log V

from pytorch_notes.decoding import apply_temperature

assert torch.equal(apply_temperature(logits, 0.5), logits / 0.5)
# --8<-- [end:temperature]

# %%
# --8<-- [start:top_k]
k = 3
values, indices = logits.topk(k)
kept_logits = torch.full_like(logits, float("-inf")).scatter(0, indices, values)
p_k = kept_logits.softmax(dim=-1)
print("top-3:", p_k.numpy().round(3))

assert (p_k > 0).sum() == k  # exactly k tokens survive
# p_i / (mass of the top k)
assert torch.allclose(p_k[indices], probs[indices] / probs[indices].sum())
# the survivors share the removed mass
assert (p_k[indices] > probs[indices]).all()

from pytorch_notes.decoding import top_k_filter

assert torch.equal(top_k_filter(logits, k), kept_logits)
# --8<-- [end:top_k]

# %%
# --8<-- [start:top_p]
p = 0.75
sorted_probs, order = probs.sort(descending=True)
cumulative = sorted_probs.cumsum(dim=0)  # 0.45, 0.70, 0.85, 0.95, 1.00
# mass of the tokens ranked above each one
mass_before = cumulative - sorted_probs
# keep a token while the mass so far is still short of p
keep = order[mass_before < p]
print(
    "cumulative:",
    cumulative.numpy().round(2),
    "-> keep",
    [words[i] for i in keep],
)

# 0.45 + 0.25 < 0.75: bird crosses and stays
assert [words[i] for i in keep] == ["cat", "dog", "bird"]
# the smallest such set
assert probs[keep].sum() >= p and probs[keep[:-1]].sum() < p

p_p = torch.zeros(5)
p_p[keep] = probs[keep] / probs[keep].sum()
assert torch.isclose(probs[keep].sum(), torch.tensor(0.85))  # the divisor

from pytorch_notes.decoding import top_p_filter

assert torch.allclose(top_p_filter(logits, p).softmax(dim=-1), p_p)
# cat alone > 0.4
assert (
    top_p_filter(logits, 0.4).softmax(dim=-1) == torch.tensor([1.0, 0, 0, 0, 0])
).all()
assert torch.equal(top_p_filter(logits, 1.0), logits)  # p = 1 keeps everything
# --8<-- [end:top_p]

# %%
# --8<-- [start:repetition]
theta = 1.5
# "cat" (logit > 0) and "fish" (logit < 0) were generated before
seen = torch.tensor([0, 3])
penalised = logits.clone()
penalised[seen] = torch.where(
    logits[seen] > 0, logits[seen] / theta, logits[seen] * theta
)
print(
    "before:",
    logits[seen].numpy().round(3),
    "after:",
    penalised[seen].numpy().round(3),
)
assert torch.isclose(penalised[0], logits[0] / theta) and torch.isclose(
    penalised[3], logits[3] * theta
)
new_probs = penalised.softmax(dim=-1)
assert (penalised[seen] < logits[seen]).all()  # both seen logits go down ...
# ... so both lose ground against an unseen token ("bird")
odds = lambda q: q[seen] / q[2]
assert (odds(new_probs) < odds(probs)).all()

naive = logits.clone()
naive[seen] = logits[seen] / theta  # CTRL's formula applied to a negative logit
# fish gains: wrong way
assert naive[3] > logits[3] and odds(naive.softmax(dim=-1))[1] > odds(probs)[1]

from pytorch_notes.decoding import apply_repetition_penalty

assert torch.equal(apply_repetition_penalty(logits, seen, theta), penalised)
# once per token
assert torch.equal(
    apply_repetition_penalty(logits, [0, 3, 3, 0, 3], theta), penalised
)
# same softmax before ...
shifted = apply_repetition_penalty(logits - 5.0, seen, theta).softmax(dim=-1)
# ... but not after: not shift-invariant
assert not torch.allclose(shifted, new_probs, atol=1e-3)
print(
    "penalised:",
    new_probs.numpy().round(3),
    "| logits shifted by -5 first:",
    shifted.numpy().round(3),
)
# --8<-- [end:repetition]

# %%
# --8<-- [start:order]
from pytorch_notes.decoding import process_logits

history = [0]  # "cat" came before
# 1. penalty, on the raw logits
z = apply_repetition_penalty(logits, history, 1.3)
z = z / 0.8  # 2. temperature
z = top_k_filter(z, 4)  # 3. top-k
z = top_p_filter(z, 0.9)  # 4. top-p, on the distribution top-k left
final = z.softmax(dim=-1)
options = dict(
    previous_tokens=history,
    repetition_penalty=1.3,
    temperature=0.8,
    top_k=4,
    top_p=0.9,
)
assert torch.equal(process_logits(logits, **options), z)
print("final:", final.numpy().round(3))

# The order matters: top-p before a sharpening temperature keeps 3 tokens, after
# it only 2.
assert (top_p_filter(logits, 0.75) / 0.5).isfinite().sum() == 3
assert top_p_filter(logits / 0.5, 0.75).isfinite().sum() == 2
sharp = (logits / 0.5).softmax(dim=-1)  # cat 0.675, cat + dog 0.883 > 0.75
expected = torch.tensor([0.675, 0.883])
assert torch.allclose(sharp[:2].cumsum(0), expected, atol=1e-3)

# Temperature, top-k and top-p never remove or demote the argmax: greedy ignores
# them.
torch.manual_seed(0)
many = 3 * torch.randn(200, 50)
filtered = process_logits(many, temperature=0.3, top_k=5, top_p=0.5)
assert torch.equal(filtered.argmax(dim=-1), many.argmax(dim=-1))
# --8<-- [end:order]

# %%
# --8<-- [start:sample]
from pytorch_notes.decoding import sample_next

n = 20_000
# one "cat" per row
batch_options = dict(
    options, previous_tokens=torch.zeros(n, 1, dtype=torch.long)
)
draws = sample_next(
    logits.expand(n, 5),
    generator=torch.Generator().manual_seed(0),
    **batch_options,
)
frequencies = torch.bincount(draws, minlength=5) / n
print("expected: ", final.numpy().round(3))
print("observed: ", frequencies.numpy().round(3))
assert draws.shape == (n,)
assert (frequencies[final == 0] == 0).all()  # a filtered token is never drawn
# standard error here is at most 0.0035
assert (frequencies - final).abs().max() < 0.015

again = sample_next(
    logits.expand(n, 5),
    generator=torch.Generator().manual_seed(0),
    **batch_options,
)
assert torch.equal(again, draws)  # same seed, same draws
# --8<-- [end:sample]


# %%
# --8<-- [start:generate]
def generate(model, seed, max_len=12, **options):
    generator = torch.Generator().manual_seed(seed)
    tokens = [BOS]
    for _ in range(max_len):
        tokens.append(
            int(
                sample_next(
                    model(tokens),
                    generator=generator,
                    previous_tokens=tokens[1:],
                    **options,
                )
            )
        )
        if tokens[-1] == EOS:
            break
    return model.decode(tokens)


for seed in range(3):
    print(generate(lm, seed))
cold = {generate(lm, seed, temperature=0.3) for seed in range(100)}
warm = {generate(lm, seed, temperature=1.5) for seed in range(100)}
print(len(cold), "different sentences at T = 0.3,", len(warm), "at T = 1.5")
assert len(warm) > 1.4 * len(cold)  # T = 1.5: far more variety

penalised_greedy = greedy_decode(
    lambda prefix: apply_repetition_penalty(lm(prefix), prefix[1:], 2.0),
    BOS,
    EOS,
    max_len=12,
)
print(lm.decode(penalised_greedy.tokens))
assert (
    lm.decode(penalised_greedy.tokens)
    == "<s> the cat sat on the dog ran away </s>"
)
# --8<-- [end:generate]

# %%
# --8<-- [start:checks]
from pytorch_notes import expect_error

with expect_error(ValueError, "temperature must be positive"):
    apply_temperature(logits, 0.0)
with expect_error(ValueError, "p must be in (0, 1]"):
    top_p_filter(logits, 1.5)
with expect_error(TypeError, "k must be an int"):
    top_k_filter(logits, 2.5)
with expect_error(ValueError, "token ids in [0, 5)"):
    apply_repetition_penalty(logits, [7], 1.3)
# --8<-- [end:checks]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

panels = {
    "original": probs,
    "T = 0.5": apply_temperature(logits, 0.5).softmax(dim=-1),
    "T = 2": apply_temperature(logits, 2.0).softmax(dim=-1),
    "top-k, k = 3": top_k_filter(logits, 3).softmax(dim=-1),
    "top-p, p = 0.75": top_p_filter(logits, 0.75).softmax(dim=-1),
    "penalty 1.5 on cat, fish": apply_repetition_penalty(
        logits, [0, 3], 1.5
    ).softmax(dim=-1),
}
fig, axes = plt.subplots(2, 3, figsize=(6.8, 4.8), sharey=True)
for axis, (title, dist) in zip(axes.flat, panels.items()):
    axis.bar(words, probs.numpy(), color="lightgray", label="original")
    axis.bar(words, dist.numpy(), width=0.5, color="tab:blue", label="after")
    axis.set_title(title)
    axis.set_ylim(0, 1)
axes[0, 0].legend()
for axis in axes[:, 0]:
    axis.set_ylabel("probability")
fig.tight_layout()
# --8<-- [end:plot]
