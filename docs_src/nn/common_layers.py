# %% [markdown]
# # Common layers: BatchNorm2d, Dropout, AvgPool2d, AdaptiveAvgPool2d, Flatten,
# Embedding Book page: nn/common-layers

# %%
# --8<-- [start:bn_formula]
import torch
from torch import nn

torch.manual_seed(0)
# A batch of 8 feature maps with 3 channels, each channel on its own scale.
channel_mean = torch.tensor([5.0, -2.0, 0.5]).view(1, 3, 1, 1)
channel_std = torch.tensor([3.0, 0.5, 1.0]).view(1, 3, 1, 1)
x = torch.randn(8, 3, 6, 6) * channel_std + channel_mean

bn = nn.BatchNorm2d(3)  # train mode by default
with torch.no_grad():  # give gamma and beta values we can recognise
    bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
    bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
y = bn(x)

# The same thing by hand: statistics per channel, over N, H and W.
mean = x.mean(dim=(0, 2, 3), keepdim=True)
var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)  # biased: divide by n
gamma = bn.weight.view(1, 3, 1, 1)
beta = bn.bias.view(1, 3, 1, 1)
y_by_hand = (x - mean) / torch.sqrt(var + bn.eps) * gamma + beta
assert torch.allclose(y, y_by_hand, atol=1e-5)

# Each output channel now has mean beta and standard deviation gamma.
out_mean = y.mean(dim=(0, 2, 3))
out_std = y.std(dim=(0, 2, 3), unbiased=False)
assert torch.allclose(out_mean, bn.bias, atol=1e-5)
assert torch.allclose(out_std, bn.weight, atol=1e-3)
print("eps:", bn.eps)
print(
    "input  mean per channel:",
    [f"{v:.3f}" for v in x.mean(dim=(0, 2, 3)).tolist()],
)
print(
    "input  std  per channel:",
    [f"{v:.3f}" for v in x.std(dim=(0, 2, 3)).tolist()],
)
print("output mean per channel:", [f"{v:.3f}" for v in out_mean.tolist()])
print("output std  per channel:", [f"{v:.3f}" for v in out_std.tolist()])
# --8<-- [end:bn_formula]

# %%
# --8<-- [start:bn_plot]
import matplotlib.pyplot as plt

plain_bn = nn.BatchNorm2d(3)  # gamma = 1, beta = 0: pure standardisation
assert torch.equal(plain_bn.weight, torch.ones(3))  # the initial values
assert torch.equal(plain_bn.bias, torch.zeros(3))
z = plain_bn(x).detach()
assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
assert torch.allclose(
    z.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3
)
fig, (before, after) = plt.subplots(1, 2, figsize=(7, 3))
for c in range(3):
    before.hist(
        x[:, c].flatten().numpy(), bins=30, alpha=0.6, label=f"channel {c}"
    )
    after.hist(
        z[:, c].flatten().numpy(), bins=30, alpha=0.6, label=f"channel {c}"
    )
before.set(title="Before BatchNorm2d", xlabel="activation")
after.set(title="After BatchNorm2d (γ=1, β=0)", xlabel="activation")
before.legend()
fig.tight_layout()
# --8<-- [end:bn_plot]

# %%
# --8<-- [start:bn_running]
bn = nn.BatchNorm2d(3)
assert torch.equal(bn.running_mean, torch.zeros(3))
assert torch.equal(bn.running_var, torch.ones(3))
assert bn.momentum == 0.1 and bn.num_batches_tracked.item() == 0

expected_mean = bn.running_mean.clone()
expected_var = bn.running_var.clone()
if_biased = bn.running_var.clone()  # what a biased running_var would hold
for step in range(2):
    batch = torch.randn(8, 3, 6, 6) * channel_std + channel_mean
    bn(batch)
    batch_mean = batch.mean(dim=(0, 2, 3))
    # divide by n - 1
    batch_var_unbiased = batch.var(dim=(0, 2, 3), unbiased=True)
    expected_mean = 0.9 * expected_mean + 0.1 * batch_mean
    expected_var = 0.9 * expected_var + 0.1 * batch_var_unbiased
    batch_var_biased = batch.var(dim=(0, 2, 3), unbiased=False)  # divide by n
    if_biased = 0.9 * if_biased + 0.1 * batch_var_biased
    assert torch.allclose(bn.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(bn.running_var, expected_var, atol=1e-5)

assert bn.num_batches_tracked.item() == 2  # one per forward pass in train mode
assert not torch.allclose(bn.running_var, if_biased, atol=1e-5)  # n - 1, not n
# The initial 0 still weighs 0.9 ** 2 = 0.81: channel 0 is near 0.19 * 5.
assert abs(bn.running_mean[0] - 0.19 * 5) < 0.1
print(
    "after 2 batches:  running_mean",
    bn.running_mean,
    " running_var",
    bn.running_var,
)

# The starting values (0 and 1) still weigh 0.9**k after k batches: keep
# training.
for step in range(48):
    bn(torch.randn(8, 3, 6, 6) * channel_std + channel_mean)
assert bn.num_batches_tracked.item() == 50
assert torch.allclose(bn.running_mean, channel_mean.flatten(), atol=0.2)
assert torch.allclose(bn.running_var, channel_std.flatten() ** 2, rtol=0.2)
print(
    "after 50 batches: running_mean",
    bn.running_mean,
    " running_var",
    bn.running_var,
)

# momentum=None: a plain cumulative average instead of an exponential one.
cumulative = nn.BatchNorm2d(3, momentum=None)
first, second = torch.randn(2, 8, 3, 6, 6)
cumulative(first)
cumulative(second)
average_of_means = (first.mean(dim=(0, 2, 3)) + second.mean(dim=(0, 2, 3))) / 2
assert torch.allclose(cumulative.running_mean, average_of_means, atol=1e-6)

# momentum=0.9 (an optimizer's value) keeps 90% of the newest batch.
jumpy = nn.BatchNorm2d(3, momentum=0.9)
jumpy(first)
jumpy(second)
older, newest = first.mean(dim=(0, 2, 3)), second.mean(dim=(0, 2, 3))
expected = 0.9 * newest + 0.1 * (0.9 * older)  # the initial 0 is all but gone
assert torch.allclose(jumpy.running_mean, expected, atol=1e-6)
# --8<-- [end:bn_running]

# %%
# --8<-- [start:bn_eval]
test_batch = torch.randn(4, 3, 6, 6) * channel_std + channel_mean
# train mode: this batch's statistics (and one more update)
y_train = bn(test_batch)
stats_before = (
    bn.running_mean.clone(),
    bn.running_var.clone(),
    bn.num_batches_tracked.item(),
)

bn.eval()
y_eval = bn(test_batch)
rm = bn.running_mean.view(1, 3, 1, 1)
rv = bn.running_var.view(1, 3, 1, 1)
y_eval_by_hand = (test_batch - rm) / torch.sqrt(rv + bn.eps) * bn.weight.view(
    1, 3, 1, 1
) + bn.bias.view(1, 3, 1, 1)
assert torch.allclose(y_eval, y_eval_by_hand, atol=1e-5)
# same input, different output
assert not torch.allclose(y_train, y_eval, atol=1e-2)

# Eval mode changes nothing, and each sample is normalised on its own.
assert torch.equal(bn.running_mean, stats_before[0]) and torch.equal(
    bn.running_var, stats_before[1]
)
assert bn.num_batches_tracked.item() == stats_before[2]
assert torch.allclose(bn(test_batch[:1]), y_eval[:1])
bn.train()
# train: depends on batch mates
assert not torch.allclose(bn(test_batch[:2])[:1], y_train[:1], atol=1e-2)
# no_grad is not eval(): the running statistics still move
with torch.no_grad():
    bn(test_batch)
assert bn.num_batches_tracked.item() == stats_before[2] + 2
print(
    "max |train - eval| output difference: "
    f"{(y_train - y_eval).abs().max().item():.3f}"
)
# --8<-- [end:bn_eval]

# %%
# --8<-- [start:bn_one]
from pytorch_notes import expect_error

bn = nn.BatchNorm2d(3)
one_value_per_channel = torch.randn(1, 3, 1, 1)
with expect_error(
    ValueError, "Expected more than 1 value per channel when training"
):
    bn(one_value_per_channel)

assert torch.equal(bn.running_mean, torch.zeros(3))  # nothing was learned...
assert bn.num_batches_tracked.item() == 1  # ...but the counter already moved

# batch of 1 is fine with 4 pixels
assert bn(torch.randn(1, 3, 2, 2)).shape == (1, 3, 2, 2)
# 2 samples of 1 pixel too
assert bn(torch.randn(2, 3, 1, 1)).shape == (2, 3, 1, 1)
bn.eval()
# eval uses running stats
assert bn(one_value_per_channel).shape == (1, 3, 1, 1)
# --8<-- [end:bn_one]

# %%
# --8<-- [start:dropout]
torch.manual_seed(0)
p = 0.2
drop = nn.Dropout(p)  # train mode by default
# positive, so a 0 in the output means "dropped"
x = torch.rand(1000, 1000) + 0.5
out = drop(x)

kept = out != 0
# survivors scaled by 1/(1-p)
assert torch.allclose(out[kept], x[kept] / (1 - p))
assert torch.equal(out[~kept], torch.zeros_like(out[~kept]))
dropped_fraction = 1 - kept.float().mean().item()
assert abs(dropped_fraction - p) < 0.005
assert abs(out.mean().item() - x.mean().item()) < 0.005  # the mean is preserved
print(f"dropped fraction: {dropped_fraction:.4f}")
print(
    f"mean of x: {x.mean().item():.4f}   "
    f"mean after dropout: {out.mean().item():.4f}"
)

drop.eval()
assert torch.equal(drop(x), x)  # eval mode: identity
# --8<-- [end:dropout]

# %%
# --8<-- [start:dropout_functional]
import torch.nn.functional as F

small = torch.ones(8)
# training=True by default!
assert not torch.equal(F.dropout(small, p=0.5), small)
assert torch.equal(F.dropout(small, p=0.5, training=False), small)
print("F.dropout with default arguments:", F.dropout(small, p=0.5))
# --8<-- [end:dropout_functional]

# %%
# --8<-- [start:dropout2d]
torch.manual_seed(0)
drop2d = nn.Dropout2d(p=0.5)
maps = torch.rand(4, 6, 5, 5) + 0.5
out = drop2d(maps)

channel_zeroed = (out == 0).all(dim=(2, 3))  # shape (N, C)
channel_kept = (out != 0).all(dim=(2, 3))
# whole channels, never single pixels
assert (channel_zeroed | channel_kept).all()
assert channel_zeroed.any() and channel_kept.any()
# 1 / (1 - 0.5)
assert torch.allclose(out[channel_kept], maps[channel_kept] * 2)
print("channels kept (1) or dropped (0), one row per sample:")
print(channel_kept.int())
# --8<-- [end:dropout2d]

# %%
# --8<-- [start:avgpool]
x = torch.arange(16.0).reshape(1, 1, 4, 4)
max_out = nn.MaxPool2d(kernel_size=2)(x)
avg_out = nn.AvgPool2d(kernel_size=2)(x)
assert torch.equal(max_out, torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))
assert torch.equal(avg_out, torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
assert avg_out[0, 0, 0, 0] == x[0, 0, :2, :2].mean()  # window {0, 1, 4, 5}
print("input:\n", x[0, 0])
print("MaxPool2d(2):\n", max_out[0, 0])
print("AvgPool2d(2):\n", avg_out[0, 0])
# --8<-- [end:avgpool]

# %%
# --8<-- [start:count_include_pad]
ones = torch.ones(1, 1, 3, 3)
with_pad = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)(ones)
without_pad = nn.AvgPool2d(
    kernel_size=3, stride=1, padding=1, count_include_pad=False
)(ones)

real_values_in_window = torch.tensor(
    [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
)
# zeros counted
assert torch.allclose(with_pad[0, 0], real_values_in_window / 9)
# only real values counted
assert torch.allclose(without_pad[0, 0], torch.ones(3, 3))
print("count_include_pad=True (default):\n", with_pad[0, 0])
print("count_include_pad=False:\n", without_pad[0, 0])
# --8<-- [end:count_include_pad]

# %%
# --8<-- [start:adaptive]
pool = nn.AdaptiveAvgPool2d((2, 2))
for height, width in [(4, 4), (7, 7), (5, 9), (32, 32)]:
    out = pool(torch.randn(1, 3, height, width))
    assert out.shape == (1, 3, 2, 2)
    print(f"input {height:2d}x{width:<2d} -> output {tuple(out.shape)}")

# Bin i covers rows floor(i*H/out) .. ceil((i+1)*H/out) - 1; for 7 -> 2 the bins
# overlap.
x7 = torch.randn(1, 1, 7, 7)
# floor(0)=0..ceil(3.5)=4, floor(3.5)=3..ceil(7)=7
rows = [range(0, 4), range(3, 7)]
by_hand = torch.tensor(
    [
        [x7[0, 0, r.start : r.stop, c.start : c.stop].mean() for c in rows]
        for r in rows
    ]
)
assert torch.allclose(pool(x7)[0, 0], by_hand)

gap = nn.AdaptiveAvgPool2d(1)  # global average pooling
features = torch.randn(2, 8, 5, 9)
assert torch.allclose(gap(features), features.mean(dim=(2, 3), keepdim=True))
# --8<-- [end:adaptive]

# %%
# --8<-- [start:head]
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 8, kernel_size=3, padding=1),
    nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),  # (N, 8, H, W) -> (N, 8, 1, 1) for any H, W
    nn.Flatten(),  # -> (N, 8)
    nn.Linear(8, 10),
)
for height, width in [(32, 32), (50, 70), (224, 224)]:
    logits = model(torch.randn(2, 3, height, width))
    assert logits.shape == (2, 10)
    print(f"image {height}x{width} -> logits {tuple(logits.shape)}")
# --8<-- [end:head]

# %%
# --8<-- [start:flatten]
x = torch.randn(4, 3, 8, 8)
assert nn.Flatten()(x).shape == (4, 192)  # start_dim=1: the batch stays
# start_dim=0: everything, batch included
assert torch.flatten(x).shape == (768,)
assert torch.equal(torch.flatten(x, start_dim=1), nn.Flatten()(x))
assert torch.equal(x.view(x.size(0), -1), nn.Flatten()(x))

linear = nn.Linear(192, 10)
with expect_error(RuntimeError, "cannot be multiplied"):
    linear(torch.flatten(x))  # 768 features do not fit 192 inputs

one_image = torch.randn(1, 3, 8, 8)
assert linear(nn.Flatten()(one_image)).shape == (1, 10)
# batch dimension silently gone
assert linear(torch.flatten(one_image)).shape == (10,)
print(
    "nn.Flatten():",
    tuple(nn.Flatten()(x).shape),
    "  torch.flatten:",
    tuple(torch.flatten(x).shape),
)
# --8<-- [end:flatten]

# %%
# --8<-- [start:embedding]
torch.manual_seed(0)
vocab_size, dim = 10, 4
emb = nn.Embedding(vocab_size, dim)
token_ids = torch.tensor([[1, 2, 4], [4, 3, 9]])  # 2 sequences of 3 tokens
vectors = emb(token_ids)

assert vectors.shape == (2, 3, 4)
assert torch.equal(vectors, emb.weight[token_ids])  # a lookup: row i for id i
one_hot = F.one_hot(token_ids, num_classes=vocab_size).float()  # (2, 3, 10)
# = a bias-free Linear on one-hot
assert torch.allclose(vectors, one_hot @ emb.weight)
assert torch.equal(vectors[0, 2], vectors[1, 0])  # same id, same vector
print(
    "weight:",
    tuple(emb.weight.shape),
    " ids:",
    tuple(token_ids.shape),
    " output:",
    tuple(vectors.shape),
)
print("vector of id 4:", vectors[0, 2].detach())
# --8<-- [end:embedding]

# %%
# --8<-- [start:embedding_grad]
torch.manual_seed(0)
emb = nn.Embedding(6, 3, padding_idx=0)
# the padding row starts at zero
assert torch.equal(emb.weight[0], torch.zeros(3))

batch = torch.tensor([[2, 5, 2, 0, 0]])  # a sequence padded with id 0
emb(batch).sum().backward()
grad = emb.weight.grad
print("gradient per row:\n", grad)

assert torch.equal(grad[0], torch.zeros(3))  # padding: no gradient
# used twice: gradients add up
assert torch.equal(grad[2], torch.full((3,), 2.0))
assert torch.equal(grad[5], torch.ones(3))  # used once
assert torch.equal(grad[[1, 3, 4]], torch.zeros(3, 3))  # unused rows: nothing

before = emb.weight.detach().clone()
with torch.no_grad():  # one plain gradient-descent step
    emb.weight -= 0.1 * emb.weight.grad
changed = (emb.weight.detach() != before).any(dim=1)
assert changed.tolist() == [False, False, True, False, False, True]
assert torch.equal(emb.weight[0], torch.zeros(3))  # padding row is still zero
# --8<-- [end:embedding_grad]
