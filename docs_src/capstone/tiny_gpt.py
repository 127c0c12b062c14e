# %% [markdown]
# # A tiny GPT, end to end
# Book page: capstone/tiny-gpt

# %%
# --8<-- [start:data]
import math

import torch

from pytorch_notes.datasets import book_text

text = book_text()
data = torch.tensor(list(text.encode("utf-8")))  # one token per byte
assert data.dtype == torch.int64 and int(data.max()) < 256
# a Latin letter is one byte, a Chinese character three
assert len("a".encode("utf-8")) == 1 and list("梯".encode("utf-8")) == [
    0xE6,
    0xA2,
    0xAF,
]
chinese = sum("\u4e00" <= c <= "\u9fff" for c in text)
assert len(data) > len(text) + chinese  # each Chinese character: 2 extra
split = int(0.9 * len(data))
train_data, val_data = data[:split], data[split:]
for part in (train_data, val_data):  # both splits hold both languages
    part_text = bytes(part.tolist()).decode("utf-8", errors="ignore")
    assert "the" in part_text and "的" in part_text
print(f"{len(text):,} characters ({chinese:,} Chinese) = {len(data):,} bytes")
print(f"train: {len(train_data):,} bytes, validation: {len(val_data):,} bytes")
start = bytes(val_data[:120].tolist())
print("validation starts:", repr(start.decode(errors="replace")))
# --8<-- [end:data]

# %%
# --8<-- [start:baseline]
import torch.nn.functional as F

# add-one smoothing: a byte unseen in training still gets some probability
counts = torch.bincount(train_data, minlength=256).double() + 1
unigram = counts / counts.sum()
baseline = -unigram.log()[val_data].mean().item()  # nats per byte
uniform = math.log(256)
# The same number as the loss of a "model" that predicts the unigram
# distribution at every position: the training loss, in the same units.
constant_logits = unigram.log().float().expand(len(val_data), 256)
assert math.isclose(
    F.cross_entropy(constant_logits, val_data).item(), baseline, rel_tol=1e-5
)
assert baseline < uniform - 1  # the byte frequencies alone save a nat
top = unigram.topk(5).indices.tolist()
print(f"uniform over 256 bytes: {uniform:.3f} nats per byte")
print(f"unigram baseline on validation: {baseline:.3f} nats per byte")
print("most frequent bytes:", [bytes([b]) for b in top])
# --8<-- [end:baseline]

# %%
# --8<-- [start:model]
from pytorch_notes.gpt import GPT, GPTConfig

torch.manual_seed(0)
config = GPTConfig(vocab_size=256, context=128, d_model=64, n_layers=2)
model = GPT(config)


def parameter_count(c):
    block = 4 * c.d_model**2  # q, k, v and output projections
    block += 2 * c.mlp_ratio * c.d_model**2  # the MLP's two layers
    block += 2 * c.d_model  # two RMSNorm gains
    # embedding (shared with the output layer), blocks, final RMSNorm
    return c.vocab_size * c.d_model + c.n_layers * block + c.d_model


count = sum(p.numel() for p in model.parameters())
assert count == parameter_count(config)
assert model.head.weight is model.embed.weight  # weight tying

x = val_data[: config.context].view(1, -1)
with torch.no_grad():
    logits = model(x[:, :-1])
    start_loss = F.cross_entropy(logits[0], x[0, 1:]).item()
    # change the last token: earlier predictions must not move
    changed = x[:, :-1].clone()
    changed[0, -1] = (changed[0, -1] + 1) % 256
    logits_changed = model(changed)
assert torch.allclose(logits_changed[:, :-1], logits[:, :-1], atol=1e-6)
assert not torch.allclose(logits_changed[:, -1], logits[:, -1], atol=1e-6)
# small random weights: every byte about equally likely
assert abs(start_loss - uniform) < 0.05
print(model)
print(f"{count:,} parameters; untrained loss {start_loss:.3f}")
# --8<-- [end:model]

# %%
# --8<-- [start:block]
from pytorch_notes.positional import apply_rope

block = model.blocks[0]
torch.manual_seed(0)
h = torch.randn(2, 10, config.d_model)  # (N, L, d_model)
positions = torch.arange(10)
heads, head_dim = config.n_heads, config.head_dim

with torch.no_grad():
    normed = block.attn_norm(h)  # pre-norm: the branch reads RMSNorm(h)
    q, k, v = block.qkv(normed).split(config.d_model, dim=-1)
    q, k, v = (
        t.view(2, 10, heads, head_dim).transpose(1, 2) for t in (q, k, v)
    )
    # RoPE on queries and keys, not values
    q = apply_rope(q, positions)
    k = apply_rope(k, positions)
    mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    h1 = h + block.out(mixed.transpose(1, 2).reshape(2, 10, config.d_model))
    by_hand = h1 + block.mlp(block.mlp_norm(h1))
    assert torch.allclose(block(h, positions), by_hand, atol=1e-6)
print("one block by hand = Block.forward; output", tuple(by_hand.shape))
# --8<-- [end:block]

# %%
# --8<-- [start:train]
import shutil
from pathlib import Path

from pytorch_notes.checkpoints import checkpoint_path, save_checkpoint
from pytorch_notes.schedules import warmup_cosine_scheduler

TOTAL_STEPS, WARMUP, BATCH = 400, 40, 16
EVAL_EVERY, SAVE_EVERY = 50, 40
folder = Path("checkpoints/tiny-gpt")  # this chapter's own folder
shutil.rmtree(folder, ignore_errors=True)
length = config.context
val_x = val_data[: (len(val_data) - 1) // length * length].view(-1, length)
val_y = val_data[1 : val_x.numel() + 1].view(-1, length)


def make_optimizer(model):
    # weight decay on matrices, not on the RMSNorm gains
    matrices = [p for p in model.parameters() if p.dim() == 2]
    gains = [p for p in model.parameters() if p.dim() == 1]
    optimizer = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": 0.1}, {"params": gains}],
        lr=3e-3,
        weight_decay=0.0,
    )
    return optimizer, warmup_cosine_scheduler(optimizer, TOTAL_STEPS, WARMUP)


def batch():
    # random windows; the global generator is part of every checkpoint
    starts = torch.randint(len(train_data) - length, (BATCH,))
    windows = torch.stack([train_data[s : s + length + 1] for s in starts])
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def val_loss(model):
    logits = model(val_x)
    return F.cross_entropy(logits.flatten(0, 1), val_y.flatten()).item()


def train(model, optimizer, scheduler, start, stop, history):
    for step in range(start, stop):
        inputs, targets = batch()
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        history["train"].append(loss.item())
        if (step + 1) % EVAL_EVERY == 0:
            history["val"].append((step + 1, val_loss(model)))
        if (step + 1) % SAVE_EVERY == 0:  # the counter counts steps here
            path = checkpoint_path(folder, step + 1)
            save_checkpoint(
                path, model, optimizer, scheduler, step + 1, **history
            )


torch.manual_seed(0)
model = GPT(config)
optimizer, scheduler = make_optimizer(model)
history = {"train": [], "val": []}
train(model, optimizer, scheduler, 0, TOTAL_STEPS, history)

final_val = history["val"][-1][1]
print(f"validation loss {final_val:.3f} vs unigram baseline {baseline:.3f}")
for step, loss in history["val"]:
    print(f"step {step:3d}: validation {loss:.3f}")
assert final_val < baseline - 1.5  # at least 1.5 nats per byte below
val_curve = [loss for _, loss in history["val"]]
# no overfitting yet: every measurement is lower than the one before
assert all(later < earlier for earlier, later in zip(val_curve, val_curve[1:]))
assert val_curve[0] < baseline  # already below it at step 50
# --8<-- [end:train]

# %%
# --8<-- [start:resume]
from pytorch_notes.checkpoints import load_checkpoint

STOPPED = TOTAL_STEPS - SAVE_EVERY  # pretend the run died right after this
# A new process: fresh model, optimizer and scheduler, different weights.
torch.manual_seed(123)
resumed = GPT(config)
resumed_optimizer, resumed_scheduler = make_optimizer(resumed)
state = load_checkpoint(
    checkpoint_path(folder, STOPPED),
    resumed,
    resumed_optimizer,
    resumed_scheduler,
)
assert state["epoch"] == STOPPED
resumed_history = {"train": state["train"], "val": state["val"]}
train(
    resumed,
    resumed_optimizer,
    resumed_scheduler,
    STOPPED,
    TOTAL_STEPS,
    resumed_history,
)
for name, tensor in model.state_dict().items():
    assert torch.equal(tensor, resumed.state_dict()[name]), name
assert resumed_history == history
print(f"resumed at step {STOPPED}, trained to {TOTAL_STEPS}: ")
print("every weight bit-identical to the uninterrupted run")
# --8<-- [end:resume]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

steps = torch.arange(1, TOTAL_STEPS + 1)
train_curve = torch.tensor(history["train"])
window = 20  # running mean over 20 steps, to see the trend
smoothed = train_curve.unfold(0, window, 1).mean(dim=1)
fig, axis = plt.subplots(figsize=(7, 3.5))
axis.plot(steps.numpy(), train_curve.numpy(), alpha=0.3, color="C0")
axis.plot(steps[window - 1 :].numpy(), smoothed.numpy(), label="train")
val_steps, val_losses = zip(*history["val"])
axis.plot(val_steps, val_losses, "o-", label="validation")
axis.axhline(baseline, color="C3", linestyle="--", label="unigram baseline")
axis.axhline(uniform, color="gray", linestyle=":", label="uniform (ln 256)")
axis.set_xlabel("step")
axis.set_ylabel("cross-entropy (nats per byte)")
axis.set_title("tiny GPT on this book's text")
axis.legend(loc="center right")
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:utf8]
# Where the previous byte opens a 3-byte character (0xE0-0xEF), the next byte
# must be a continuation byte (0x80-0xBF): the model learned UTF-8.
with torch.no_grad():
    probs = model(val_x).softmax(dim=-1)
opens = (val_x >= 0xE0) & (val_x <= 0xEF)
continuation_mass = probs[opens][:, 0x80:0xC0].sum(dim=-1)
assert continuation_mass.mean() > 0.98
print(f"{int(opens.sum()):,} lead bytes in validation; mass on continuation")
print(f"bytes after them: {continuation_mass.mean():.4f}")
# --8<-- [end:utf8]

# %%
# --8<-- [start:generate]
from pytorch_notes.checkpoints import latest_checkpoint

# a later session: the newest checkpoint is the trained model
latest = latest_checkpoint(folder)
assert latest == checkpoint_path(folder, TOTAL_STEPS)
sampler = GPT(config)
load_checkpoint(latest, sampler, restore_rng=False)


def encode(prompt):
    return torch.tensor([list(prompt.encode("utf-8"))])


def decode(tokens):
    return bytes(tokens[0].tolist()).decode("utf-8", errors="replace")


generator = torch.Generator().manual_seed(0)
for prompt, new_bytes in [("The gradient", 90), ("梯度", 90)]:
    for temperature, top_p in [(0.8, 0.9), (1.0, None)]:
        out = sampler.generate(
            encode(prompt),
            new_bytes,
            temperature=temperature,
            top_p=top_p,
            generator=generator,
        )
        assert torch.equal(out[:, : len(prompt.encode())], encode(prompt))
        print(f"T={temperature}, top_p={top_p}: {decode(out)!r}")
# --8<-- [end:generate]

# %%
# --8<-- [start:cache]
prompt = encode("梯度下降")
greedy = sampler.generate(prompt, 60, temperature=0)
greedy_no_cache = sampler.generate(prompt, 60, temperature=0, use_cache=False)
assert torch.equal(greedy, greedy_no_cache)

# the cache by hand: the prompt once, then one byte at a time
caches = sampler.new_caches()
with torch.no_grad():
    logits = sampler(prompt, caches)  # fills every block's cache
    assert len(caches[0]) == prompt.shape[1]
    next_byte = logits[:, -1].argmax(dim=-1, keepdim=True)
    step_logits = sampler(next_byte, caches)  # reads one new position
    full_logits = sampler(torch.cat([prompt, next_byte], dim=1))
assert len(caches[0]) == prompt.shape[1] + 1
assert torch.allclose(step_logits[:, -1], full_logits[:, -1], atol=1e-5)
print("greedy, cached = uncached:", decode(greedy))
# --8<-- [end:cache]

# %%
# --8<-- [start:gpu_config]
# A GPU-sized model: GPT-2 small's shape, with bytes as tokens.
gpu_config = GPTConfig(
    vocab_size=256, context=1024, d_model=768, n_layers=12, n_heads=12
)
with torch.device("meta"):  # shapes only: no memory, no training
    gpu_model = GPT(gpu_config)
gpu_count = sum(p.numel() for p in gpu_model.parameters())
assert gpu_count == parameter_count(gpu_config)
assert 84e6 < gpu_count < 86e6
print(f"{gpu_count:,} parameters, {gpu_count * 4 / 2**20:,.0f} MiB in fp32")
# --8<-- [end:gpu_config]
