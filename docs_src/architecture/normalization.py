# %% [markdown]
# # Normalization: Batch, Layer, Group and Instance norm
# Book page: architecture/normalization

# %%
# --8<-- [start:by_hand]
import torch
import torch.nn as nn

torch.manual_seed(0)
N, C, H, W = 4, 6, 5, 5
G = 3  # GroupNorm: 3 groups of C / G = 2 channels
x = torch.randn(N, C, H, W) * 3 + 2  # mean 2, standard deviation 3
eps = 1e-5


def normalize(t, dims):
    mean = t.mean(dim=dims, keepdim=True)
    # biased: divide by n, not n - 1
    var = t.var(dim=dims, unbiased=False, keepdim=True)
    return (t - mean) / torch.sqrt(var + eps), mean


# BatchNorm: per channel, over N, H, W
batch_x, batch_mean = normalize(x, (0, 2, 3))
# LayerNorm: per sample, over C, H, W
layer_x, layer_mean = normalize(x, (1, 2, 3))
# InstanceNorm: per sample and channel, over H, W
instance_x, instance_mean = normalize(x, (2, 3))
# GroupNorm: per sample and group, over its channels, H, W
grouped = x.view(N, G, C // G, H, W)
group_x, group_mean = normalize(grouped, (2, 3, 4))
group_x = group_x.view(N, C, H, W)

# One statistic per ... : the shape of the mean says what is shared.
assert batch_mean.shape == (1, C, 1, 1)  # one per channel
assert layer_mean.shape == (N, 1, 1, 1)  # one per sample
assert instance_mean.shape == (N, C, 1, 1)  # one per (sample, channel)
assert group_mean.shape == (N, G, 1, 1, 1)  # one per (sample, group)
# Over the cells it averaged, each output has mean 0 and variance 1.
for out, dims in [
    (batch_x, (0, 2, 3)),
    (layer_x, (1, 2, 3)),
    (instance_x, (2, 3)),
    (group_x.view(N, G, C // G, H, W), (2, 3, 4)),
]:
    assert torch.allclose(out.mean(dim=dims), torch.zeros(1), atol=1e-5)
    assert torch.allclose(
        out.var(dim=dims, unbiased=False), torch.ones(1), atol=1e-3
    )
# The statistic of sample 1, channels 2-3 (group 1), is the plain mean of those
# cells.
assert torch.isclose(group_mean[1, 1].squeeze(), x[1, 2:4].mean())
for name, mean in [
    ("batch", batch_mean),
    ("layer", layer_mean),
    ("instance", instance_mean),
    ("group", group_mean),
]:
    print(
        f"{name:8s} norm: {mean.numel():2d} means, "
        f"each over {x.numel() // mean.numel():3d} numbers"
    )
# --8<-- [end:by_hand]

# %%
# --8<-- [start:torch_match]
bn, ln = nn.BatchNorm2d(C), nn.LayerNorm([C, H, W])
gn, inorm = nn.GroupNorm(G, C), nn.InstanceNorm2d(C)
# a new module is in train mode: it normalizes with the batch's own statistics
assert bn.training
with torch.no_grad():
    # one call: each train-mode call also updates bn's running statistics
    bn_out = bn(x)
    for out, by_hand in [
        (bn_out, batch_x),
        (ln(x), layer_x),
        (gn(x), group_x),
        (inorm(x), instance_x),
    ]:
        assert torch.allclose(out, by_hand, atol=1e-5)

# The variance in the formula is the biased one (divide by n) ...
n = N * H * W
unbiased_x = (x - batch_mean) / torch.sqrt(
    x.var(dim=(0, 2, 3), keepdim=True) + eps
)
assert not torch.allclose(bn_out, unbiased_x, atol=1e-3)
assert torch.allclose(unbiased_x, batch_x * ((n - 1) / n) ** 0.5, atol=1e-4)
# ... but running_var (from 1, momentum 0.1) stores the unbiased one (divide by
# n - 1).
unbiased_var = x.var(dim=(0, 2, 3))
assert torch.allclose(bn.running_var, 0.9 * 1 + 0.1 * unbiased_var)
assert not torch.allclose(
    bn.running_var, 0.9 * 1 + 0.1 * unbiased_var * (n - 1) / n
)
print(f"n = {n}: unbiased / biased variance = n / (n - 1) = {n / (n - 1):.4f}")
# --8<-- [end:torch_match]

# %%
# --8<-- [start:group_extremes]
with torch.no_grad():
    one_group = nn.GroupNorm(1, C)(x)
    one_per_channel = nn.GroupNorm(C, C)(x)
# G = 1: LayerNorm
assert torch.allclose(one_group, nn.LayerNorm([C, H, W])(x), atol=1e-5)
# G = C: InstanceNorm
assert torch.allclose(one_per_channel, nn.InstanceNorm2d(C)(x), atol=1e-5)
assert not torch.allclose(gn(x), one_group, atol=1e-3)  # 1 < G < C: neither
print(
    "GroupNorm(1, C) == LayerNorm([C, H, W]); "
    "GroupNorm(C, C) == InstanceNorm2d(C)"
)
# --8<-- [end:group_extremes]

# %%
# --8<-- [start:running]
torch.manual_seed(0)
bn = nn.BatchNorm2d(C, momentum=0.1)
# the initial running statistics
expected_mean, expected_var = torch.zeros(C), torch.ones(C)
for step in range(20):
    batch = torch.randn(8, C, H, W) * 3 + 2
    # train mode: normalize with this batch, and update the running statistics
    bn(batch)
    expected_mean = 0.9 * expected_mean + 0.1 * batch.mean(dim=(0, 2, 3))
    # unbiased
    expected_var = 0.9 * expected_var + 0.1 * batch.var(dim=(0, 2, 3))
assert torch.allclose(bn.running_mean, expected_mean, atol=1e-5)
assert torch.allclose(bn.running_var, expected_var, atol=1e-4)
assert bn.num_batches_tracked == 20

bn.eval()  # eval mode: use the running statistics, update nothing
before = bn.running_mean.clone()
with torch.no_grad():
    y = bn(x)
running_x = (x - bn.running_mean.view(1, C, 1, 1)) / torch.sqrt(
    bn.running_var.view(1, C, 1, 1) + eps
)
assert torch.allclose(y, running_x, atol=1e-5)
assert torch.equal(bn.running_mean, before)
# not the batch's own statistics
assert not torch.allclose(y, batch_x, atol=1e-2)
print("running mean:", bn.running_mean.numpy().round(2))
print("running var: ", bn.running_var.numpy().round(2))
# --8<-- [end:running]

# %%
# --8<-- [start:batch_mates]
from pytorch_notes import expect_error

torch.manual_seed(0)
sample = torch.randn(1, C, H, W)
mates_a, mates_b = torch.randn(3, C, H, W), torch.randn(3, C, H, W) * 2 + 1
# same first sample
batch_a, batch_b = torch.cat([sample, mates_a]), torch.cat([sample, mates_b])

bn, ln = nn.BatchNorm2d(C), nn.LayerNorm([C, H, W])
with torch.no_grad():
    bn_a, bn_b = bn(batch_a)[0], bn(batch_b)[0]
    ln_a, ln_b = ln(batch_a)[0], ln(batch_b)[0]
    bn.eval()
    eval_a, eval_b = bn(batch_a)[0], bn(batch_b)[0]
# train-mode BatchNorm: the mates change sample 0
assert (bn_a - bn_b).abs().max() > 1
assert torch.equal(ln_a, ln_b)  # LayerNorm: sample 0 alone decides, bit for bit
# eval-mode BatchNorm: fixed statistics, no dependence
assert torch.allclose(eval_a, eval_b)
print(
    "sample 0, BatchNorm (train), largest change: "
    f"{(bn_a - bn_b).abs().max():.3f}"
)
print(
    "sample 0, LayerNorm,         largest change: "
    f"{(ln_a - ln_b).abs().max():.3f}"
)

# One number per channel in train mode: no variance to estimate.
with expect_error(ValueError, "Expected more than 1 value per channel"):
    nn.BatchNorm2d(C)(torch.randn(1, C, 1, 1))
# --8<-- [end:batch_mates]

# %%
# --8<-- [start:affine]
torch.manual_seed(0)
modules = {
    "BatchNorm2d": nn.BatchNorm2d(C),
    "LayerNorm": nn.LayerNorm([C, H, W]),
    "GroupNorm": nn.GroupNorm(G, C),
    "InstanceNorm2d": nn.InstanceNorm2d(C),
}
shapes = {
    name: [tuple(p.shape) for p in m.parameters()]
    for name, m in modules.items()
}
# gamma, beta per channel
assert shapes["BatchNorm2d"] == shapes["GroupNorm"] == [(C,), (C,)]
# per element of normalized_shape
assert shapes["LayerNorm"] == [(C, H, W), (C, H, W)]
assert shapes["InstanceNorm2d"] == []  # affine=False by default ...
# ... and no running statistics
assert modules["InstanceNorm2d"].running_mean is None
# gamma = 1, beta = 0 at init
assert torch.equal(modules["GroupNorm"].weight, torch.ones(C))
assert torch.equal(modules["GroupNorm"].bias, torch.zeros(C))

gn = modules["GroupNorm"]
with torch.no_grad():
    gn.weight.copy_(torch.linspace(0.5, 3, C))
    gn.bias.copy_(torch.arange(C, dtype=torch.float))
    y = gn(x)
gamma, beta = gn.weight.view(1, C, 1, 1), gn.bias.view(1, C, 1, 1)
# y = gamma * x_hat + beta
assert torch.allclose(y, gamma * group_x + beta, atol=1e-5)
for name, shape in shapes.items():
    print(f"{name:14s} parameters: {shape}")
# --8<-- [end:affine]

# %%
# --8<-- [start:transformer]
torch.manual_seed(0)
d_model = 8
tokens = torch.randn(2, 5, d_model) * 4 + 1  # (N, L, d_model)
ln = nn.LayerNorm(d_model)  # normalized_shape = the last dimension only
with torch.no_grad():
    y = ln(tokens)
    # one mean per token: shape (2, 5, 1)
    token_mean = tokens.mean(dim=-1, keepdim=True)
    token_var = tokens.var(dim=-1, unbiased=False, keepdim=True)
    assert torch.allclose(
        y, (tokens - token_mean) / torch.sqrt(token_var + ln.eps), atol=1e-5
    )
    assert torch.allclose(y.mean(dim=-1), torch.zeros(2, 5), atol=1e-5)

    # Pad the sequences with 3 zero tokens: the real tokens' outputs do not
    # move.
    padded = torch.cat([tokens, torch.zeros(2, 3, d_model)], dim=1)
    assert torch.allclose(ln(padded)[:, :5], y, atol=1e-6)
    # BatchNorm over the same tokens (BatchNorm1d wants (N, d, L)) shares
    # statistics across tokens and samples: the padding shifts them and changes
    # every real token's output.
    bn1d = nn.BatchNorm1d(d_model)
    bn_plain = bn1d(tokens.transpose(1, 2)).transpose(1, 2)
    bn_padded = bn1d(padded.transpose(1, 2)).transpose(1, 2)[:, :5]
    # every real token moves, by more than 0.1
    assert ((bn_plain - bn_padded).abs().amax(dim=-1) > 0.1).all()
    ln.eval()  # no running statistics: eval mode computes the same thing
    assert torch.equal(ln(tokens), y)
print(
    f"LayerNorm, change from padding: {(ln(padded)[:, :5] - y).abs().max():.1e}"
)
print(
    f"BatchNorm, change from padding: {(bn_plain - bn_padded).abs().max():.2f}"
)
# --8<-- [end:transformer]

# %%
# --8<-- [start:cube]
import matplotlib.pyplot as plt
import numpy as np

n_cells, c_cells, hw_cells = 4, 6, 4  # a small (N, C, H*W) block of cells
# the cells that share one mean and one variance: those of sample 0 / channel 0
shared = {
    "Batch Norm": (slice(None), slice(0, 1), slice(None)),
    "Layer Norm": (slice(0, 1), slice(None), slice(None)),
    "Instance Norm": (slice(0, 1), slice(0, 1), slice(None)),
    # one group = 2 of the 6 channels
    "Group Norm": (slice(0, 1), slice(0, 2), slice(None)),
}
fig = plt.figure(figsize=(6.8, 6))
for i, (title, cells) in enumerate(shared.items()):
    filled = np.ones((n_cells, c_cells, hw_cells), dtype=bool)
    colors = np.full(filled.shape, "#dddddd", dtype=object)
    colors[cells] = "#3b75af"
    axis = fig.add_subplot(2, 2, i + 1, projection="3d")
    axis.voxels(filled, facecolors=colors, edgecolor="#555555", linewidth=0.3)
    axis.set_box_aspect((n_cells, c_cells, hw_cells))
    axis.set(xticks=[], yticks=[], zticks=[])
    axis.set_xlabel("N (samples)", labelpad=-10)
    axis.set_ylabel("C (channels)", labelpad=-10)
    axis.set_zlabel("H, W", labelpad=-12)
    axis.set_title(title)
fig.tight_layout()
# Check the picture against the layers: bump cell (0, 0, 0) of a block of this
# shape; the outputs that move are the cells that share its statistics.
torch.manual_seed(0)
block = torch.randn(n_cells, c_cells, hw_cells, 1)  # H*W cells as (H*W, 1)
bumped = block.clone()
bumped[0, 0, 0] += 1.0
layers = {
    "Batch Norm": nn.BatchNorm2d(c_cells),
    "Layer Norm": nn.LayerNorm([c_cells, hw_cells, 1]),
    "Instance Norm": nn.InstanceNorm2d(c_cells),
    "Group Norm": nn.GroupNorm(c_cells // 2, c_cells),
}
for title, layer in layers.items():
    with torch.no_grad():
        moved = (layer(bumped) - layer(block)).abs().squeeze(-1) > 1e-6
    drawn = np.zeros((n_cells, c_cells, hw_cells), dtype=bool)
    drawn[shared[title]] = True
    assert (moved.numpy() == drawn).all(), title
# --8<-- [end:cube]
