# %% [markdown]
# # Residual connections
# Book page: architecture/residual

# %%
# --8<-- [start:identity]
import torch
import torch.nn as nn
from torch.autograd.functional import jacobian

torch.manual_seed(0)
branch = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))  # F: any small network


def residual(x):
    return x + branch(x)  # the input skips over F and is added back


x = torch.randn(4)
J_residual = jacobian(residual, x)  # (4, 4): d output_i / d x_j
J_branch = jacobian(branch, x)
assert torch.allclose(J_residual, torch.eye(4) + J_branch, atol=1e-6)  # d(x + F)/dx = I + dF/dx

# Even when F's derivative is (nearly) zero, the gradient still passes: I + 0 = I.
with torch.no_grad():
    branch[2].weight.zero_()
assert torch.equal(jacobian(branch, x), torch.zeros(4, 4))
assert torch.equal(jacobian(residual, x), torch.eye(4))
print("Jacobian of x + F(x) with the weights of F's last layer zeroed:\n", jacobian(residual, x))
# --8<-- [end:identity]

# %%
# --8<-- [start:depth]
import torch.nn.functional as F


def layer_gradients(depth, residual, activation=torch.tanh, seed=0, width=32):
    torch.manual_seed(seed)
    layers = [nn.Linear(width, width) for _ in range(depth)]  # default init
    h, target = torch.randn(64, width), torch.randn(64, width)
    for layer in layers:
        h = h + activation(layer(h)) if residual else activation(layer(h))
    F.mse_loss(h, target).backward()
    return torch.tensor([layer.weight.grad.norm() for layer in layers]), h


for seed in range(3):
    plain, _ = layer_gradients(40, residual=False, seed=seed)
    skip, _ = layer_gradients(40, residual=True, seed=seed)
    print(f"seed {seed}: first-layer gradient norm, plain {plain[0]:.1e} vs residual {skip[0]:.1f}")
    assert plain[0] < 1e-8 and plain[-1] > 1e-2  # plain: vanishes on its way down
    assert plain[0] < plain[-1] * 1e-6
    assert skip[0] > 1 and skip.max() / skip.min() < 5  # residual: every layer gets a gradient
    assert skip[0] / plain[0] > 1e10  # more than ten orders of magnitude
# --8<-- [end:depth]

# %%
# --8<-- [start:relu_branch]
_, h_tanh = layer_gradients(40, residual=True, seed=0)
_, h_relu = layer_gradients(40, residual=True, activation=torch.relu, seed=0)
start = torch.randn(64, 32).norm(dim=1).mean()  # about sqrt(32) = 5.7 per sample
print(f"mean norm of h: input {start:.1f}, after 40 tanh branches {h_tanh.norm(dim=1).mean():.1f}, "
      f"after 40 ReLU branches {h_relu.norm(dim=1).mean():.1e}")
assert h_tanh.norm(dim=1).mean() < 10 * start  # tanh branches: each adds at most 1 per entry
assert h_relu.norm(dim=1).mean() > 1000 * start  # ReLU branches only add: the stream explodes
# --8<-- [end:relu_branch]

# %%
# --8<-- [start:plot_depth]
import matplotlib.pyplot as plt

plain, _ = layer_gradients(40, residual=False)
skip, _ = layer_gradients(40, residual=True)
fig, axis = plt.subplots(figsize=(6, 3.5))
axis.semilogy(range(1, 41), plain.numpy(), "o-", markersize=3, label="plain: h = tanh(W h + b)")
axis.semilogy(range(1, 41), skip.numpy(), "s-", markersize=3, label="residual: h = h + tanh(W h + b)")
axis.set_xlabel("layer (1 = next to the input)")
axis.set_ylabel("weight gradient norm")
axis.set_title("40 layers, width 32: gradient norm per layer")
axis.legend()
fig.tight_layout()
# --8<-- [end:plot_depth]

# %%
# --8<-- [start:basic_block]
from pytorch_notes import expect_error


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None  # the shortcut is the identity ...
        if stride != 1 or in_channels != out_channels:  # ... unless the shapes change
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + shortcut)  # add first, then ReLU


torch.manual_seed(0)
images = torch.randn(2, 64, 16, 16)
same = BasicBlock(64, 64)  # like resnet18's layer1 blocks
down = BasicBlock(64, 128, stride=2)  # like the first block of layer2
assert same(images).shape == (2, 64, 16, 16) and same.downsample is None
assert down(images).shape == (2, 128, 8, 8)  # half the size, twice the channels

# Without the projection, the sum cannot be formed: the branch has 128 channels, x has 64.
wider = BasicBlock(64, 128)  # stride 1, but more channels: it gets a projection too
assert wider.downsample is not None
branch_out = wider.bn2(wider.conv2(torch.relu(wider.bn1(wider.conv1(images)))))
with expect_error(RuntimeError, "(128) must match the size of tensor b (64) at non-singleton dimension 1"):
    branch_out + images

# Zero the last BatchNorm's gamma (torchvision's zero_init_residual): the block starts as relu(x).
with torch.no_grad():
    same.bn2.weight.zero_()
assert torch.equal(same(images), torch.relu(images))
print("output shapes:", tuple(same(images).shape), tuple(down(images).shape))
# --8<-- [end:basic_block]

# %%
# --8<-- [start:torchvision]
from torchvision.models import resnet18

resnet = resnet18(weights=None)  # random weights: builds offline
count = lambda module: sum(p.numel() for p in module.parameters())
torch.manual_seed(0)
for ours, theirs in [(BasicBlock(64, 64), resnet.layer1[0]), (BasicBlock(64, 128, stride=2), resnet.layer2[0])]:
    assert count(ours) == count(theirs)
    ours.load_state_dict(theirs.state_dict())  # same names: conv1, bn1, conv2, bn2, downsample.0/.1
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        assert torch.allclose(ours(images), theirs(images), atol=1e-6)
    print(f"{count(ours):7d} parameters, same output as torchvision")

# Two 3x3 convs without bias, two BatchNorms (gamma and beta); plus the 1x1 projection and its BatchNorm.
assert count(resnet.layer1[0]) == 2 * 64 * 64 * 9 + 2 * 2 * 64 == 73_984
assert count(resnet.layer2[0]) == 64 * 128 * 9 + 128 * 128 * 9 + 2 * 2 * 128 + 64 * 128 + 2 * 128 == 230_144
# --8<-- [end:torchvision]

# %%
# --8<-- [start:post_pre]
torch.manual_seed(0)
d_model, num_heads, d_ff = 16, 4, 32
post_layer = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, dropout=0.0, batch_first=True, norm_first=False)
pre_layer = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, dropout=0.0, batch_first=True, norm_first=True)
tokens = torch.randn(2, 5, d_model)


def attend(layer, x):
    return layer.self_attn(x, x, x, need_weights=False)[0]


def feed_forward(layer, x):
    return layer.linear2(torch.relu(layer.linear1(x)))


def post_ln(layer, x):  # the original Transformer (2017): normalize the sum
    x = layer.norm1(x + attend(layer, x))
    return layer.norm2(x + feed_forward(layer, x))


def pre_ln(layer, x):  # GPT-2 and most models since: normalize the branch input only
    x = x + attend(layer, layer.norm1(x))
    return x + feed_forward(layer, layer.norm2(x))


assert torch.allclose(post_ln(post_layer, tokens), post_layer(tokens), atol=1e-6)
assert torch.allclose(pre_ln(pre_layer, tokens), pre_layer(tokens), atol=1e-6)
# Post-LN's output is a LayerNorm output: every token has mean 0 and variance 1. Pre-LN's is not.
post_out, pre_out = post_layer(tokens), pre_layer(tokens)
assert torch.allclose(post_out.mean(-1), torch.zeros(2, 5), atol=1e-6)
assert torch.allclose(post_out.var(-1, correction=0), torch.ones(2, 5), atol=1e-3)
assert pre_out.mean(-1).abs().max() > 0.01
print("per-token mean of the output, Post-LN:", post_out.mean(-1)[0].detach().numpy().round(3))
print("per-token mean of the output, Pre-LN: ", pre_out.mean(-1)[0].detach().numpy().round(3))
# --8<-- [end:post_pre]

# %%
# --8<-- [start:blocks]
from pytorch_notes.attention import causal_mask
from pytorch_notes.layers import PostLNBlock, PreLNBlock

post_block, pre_block = PostLNBlock(d_model, num_heads, d_ff), PreLNBlock(d_model, num_heads, d_ff)
post_block.copy_from(post_layer)  # splits in_proj_weight into W_Q, W_K, W_V
pre_block.copy_from(pre_layer)
assert count(post_block) == count(pre_block) == count(post_layer)

keep = causal_mask(5)  # ours: True = may attend; PyTorch's src_mask: True = may NOT attend
for block, layer in [(post_block, post_layer), (pre_block, pre_layer)]:
    assert torch.allclose(block(tokens), layer(tokens), atol=1e-5)
    assert torch.allclose(block(tokens, keep), layer(tokens, src_mask=~keep), atol=1e-5)
print(pre_block)

with expect_error(ValueError, "shape (N, length, 16)"):
    pre_block(torch.randn(5, 16))
with expect_error(ValueError, "must divide d_model"):
    PreLNBlock(16, 3, 32)
# --8<-- [end:blocks]

# %%
# --8<-- [start:stream]
# Switch every branch off (zero its last layer): Pre-LN becomes exactly the identity, Post-LN does not.
torch.manual_seed(0)
for block in [PostLNBlock(d_model, num_heads, d_ff), PreLNBlock(d_model, num_heads, d_ff)]:
    with torch.no_grad():
        for last in [block.self_attn.out_proj, block.linear2]:
            last.weight.zero_()
            last.bias.zero_()
    y = block(tokens)
    print(f"{type(block).__name__} with silent branches: output == input? {torch.equal(y, tokens)}")
    assert torch.equal(y, tokens) == isinstance(block, PreLNBlock)
    if isinstance(block, PostLNBlock):
        assert torch.allclose(y, F.layer_norm(F.layer_norm(tokens, (16,)), (16,)), atol=1e-6)  # LN(LN(x))

# At init, 12 blocks deep: the identity part of d output / d input, and the gradient from top to bottom.
depth, results = 12, {"Post-LN": [], "Pre-LN": []}
for seed in range(5):
    for name, Block in [("Post-LN", PostLNBlock), ("Pre-LN", PreLNBlock)]:
        torch.manual_seed(seed)
        stack = nn.Sequential(*[Block(d_model, num_heads, d_ff) for _ in range(depth)])
        x = torch.randn(1, 4, d_model)
        J = jacobian(stack, x, vectorize=True).reshape(4 * d_model, 4 * d_model)
        identity_part = J.diagonal().mean()  # trace(J) / n: 1 for J = I

        x = torch.randn(8, 4, d_model, requires_grad=True)
        y = stack(x)
        y.retain_grad()
        F.mse_loss(y, torch.randn(8, 4, d_model)).backward()
        results[name].append((identity_part.item(), (x.grad.norm() / y.grad.norm()).item()))

for name, rows in results.items():
    print(name, "trace(J)/n:", [f"{a:.2f}" for a, _ in rows], "| |grad input| / |grad output|:",
          [f"{b:.2f}" for _, b in rows])
for (post_trace, post_ratio), (pre_trace, pre_ratio) in zip(results["Post-LN"], results["Pre-LN"]):
    assert abs(pre_trace - 1) < 0.15 and post_trace < 0.8  # Pre-LN keeps the identity, Post-LN loses it
    assert post_ratio < 0.9 < 1.1 < pre_ratio  # Post-LN's gradient shrinks on the way down, Pre-LN's grows
# --8<-- [end:stream]

# %%
# --8<-- [start:rmsnorm]
from pytorch_notes.layers import RMSNorm

torch.manual_seed(0)
x = torch.randn(3, 8) + 2.0  # features with a nonzero mean
gain = torch.rand(8) + 0.5
eps = 1e-6
by_hand = x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * gain

ours, theirs = RMSNorm(8, eps=eps), nn.RMSNorm(8, eps=eps)
with torch.no_grad():
    ours.weight.copy_(gain)
    theirs.weight.copy_(gain)
assert torch.allclose(ours(x), by_hand, atol=1e-6) and torch.allclose(theirs(x), by_hand, atol=1e-6)
assert count(ours) == 8 and count(nn.LayerNorm(8)) == 16  # a gain only; LayerNorm also has a bias

rms_norm, layer_norm = RMSNorm(8, eps=eps), nn.LayerNorm(8, eps=eps)  # gain 1, bias 0
assert not torch.allclose(rms_norm(x), layer_norm(x), atol=1e-2)  # LayerNorm also subtracts the mean
centered = x - x.mean(dim=-1, keepdim=True)
assert torch.allclose(rms_norm(centered), layer_norm(centered), atol=1e-5)  # zero mean: the same
# Both ignore the scale of x; only LayerNorm ignores a shift.
assert torch.allclose(rms_norm(3 * x), rms_norm(x), atol=1e-5)
assert torch.allclose(layer_norm(x + 5), layer_norm(x), atol=1e-4)
assert not torch.allclose(rms_norm(x + 5), rms_norm(x), atol=1e-2)
print(ours)
print("RMS of each normalized row:", rms_norm(x).pow(2).mean(-1).sqrt().detach().numpy().round(4))
# --8<-- [end:rmsnorm]
