# %% [markdown]
# # Residual connections
# Book page: architecture/residual

# %%
# --8<-- [start:identity]
import torch
import torch.nn as nn
from torch.autograd.functional import jacobian

torch.manual_seed(0)
# F: any small network
branch = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))


def residual(x):
    return x + branch(x)  # the input skips over F and is added back


x = torch.randn(4)
J_residual = jacobian(residual, x)  # (4, 4): d output_i / d x_j
J_branch = jacobian(branch, x)
# d(x + F)/dx = I + dF/dx
assert torch.allclose(J_residual, torch.eye(4) + J_branch, atol=1e-6)

# Even when F's derivative is (nearly) zero, the gradient passes: I + 0 = I.
with torch.no_grad():
    branch[2].weight.zero_()
assert torch.equal(jacobian(branch, x), torch.zeros(4, 4))
assert torch.equal(jacobian(residual, x), torch.eye(4))
print(
    "Jacobian of x + F(x), the weights of F's last layer zeroed:\n",
    jacobian(residual, x),
)
# --8<-- [end:identity]

# %%
# --8<-- [start:init]
fan_in = 1000
default = nn.Linear(fan_in, fan_in).weight  # U(-1/sqrt(n), 1/sqrt(n))
assert torch.isclose(default.var(), torch.tensor(1 / (3 * fan_in)), rtol=0.02)

tanh_gain = nn.init.calculate_gain("tanh")  # 5/3
xavier = nn.init.xavier_uniform_(torch.empty(fan_in, fan_in), gain=tanh_gain)
expected = tanh_gain**2 * 2 / (fan_in + fan_in)  # gain^2 * 2 / (in + out)
assert tanh_gain == 5 / 3
assert torch.isclose(xavier.var(), torch.tensor(expected), rtol=0.02)
print(
    f"weight std, n = {fan_in}: default {default.std():.4f} "
    f"= 1/sqrt(3n), Xavier for tanh {xavier.std():.4f} = (5/3)/sqrt(n)"
)
# --8<-- [end:init]

# %%
# --8<-- [start:depth]
import torch.nn.functional as F


def layer_gradients(
    depth, residual, activation=torch.tanh, seed=0, width=32, xavier=False
):
    torch.manual_seed(seed)
    layers = [nn.Linear(width, width) for _ in range(depth)]  # default init
    if xavier:  # ... or Xavier with the gain for tanh, and zero biases
        for layer in layers:
            nn.init.xavier_uniform_(layer.weight, gain=tanh_gain)
            nn.init.zeros_(layer.bias)
    h, target = torch.randn(64, width), torch.randn(64, width)
    for layer in layers:
        h = h + activation(layer(h)) if residual else activation(layer(h))
    F.mse_loss(h, target).backward()
    norms = torch.tensor([layer.weight.grad.norm() for layer in layers])
    return norms, h


for seed in range(3):
    plain, _ = layer_gradients(40, residual=False, seed=seed)
    skip, _ = layer_gradients(40, residual=True, seed=seed)
    xavier, _ = layer_gradients(40, residual=False, seed=seed, xavier=True)
    print(
        f"seed {seed}: first-layer gradient norm: plain {plain[0]:.1e}, "
        f"residual {skip[0]:.1f}, plain with Xavier init {xavier[0]:.1f}"
    )
    # plain, default init: the gradient vanishes on its way down
    assert plain[0] < 1e-8 and plain[-1] > 1e-2
    assert plain[0] < plain[-1] * 1e-6
    assert skip[0] / plain[0] > 1e10  # more than ten orders of magnitude
    # residual: every layer gets a gradient of the same order
    assert skip[0] > 1 and skip.max() / skip.min() < 5
    # plain, Xavier init: nothing vanishes, the first layer gets the most
    assert xavier[0] > 1 and xavier[0] > xavier[-1]
# --8<-- [end:depth]

# %%
# --8<-- [start:relu_branch]
_, h_tanh = layer_gradients(40, residual=True, seed=0)
_, h_relu = layer_gradients(40, residual=True, activation=torch.relu, seed=0)
start = torch.randn(64, 32).norm(dim=1).mean()  # about sqrt(32) = 5.7
tanh_norm = h_tanh.norm(dim=1).mean()
relu_norm = h_relu.norm(dim=1).mean()
print(
    f"mean norm of h: input {start:.1f}, after 40 tanh branches "
    f"{tanh_norm:.1f}, after 40 ReLU branches {relu_norm:.1e}"
)
assert tanh_norm < 10 * start  # tanh branches add at most 1 per entry
assert relu_norm > 1000 * start  # ReLU branches only add: it explodes
# --8<-- [end:relu_branch]

# %%
# --8<-- [start:plot_depth]
import matplotlib.pyplot as plt

plain, _ = layer_gradients(40, residual=False)
skip, _ = layer_gradients(40, residual=True)
xavier, _ = layer_gradients(40, residual=False, xavier=True)
fig, axis = plt.subplots(figsize=(6, 3.5))
index = range(1, 41)
axis.semilogy(
    index, plain.numpy(), "o-", markersize=3, label="plain, default init"
)
axis.semilogy(
    index,
    xavier.numpy(),
    "^-",
    markersize=3,
    label="plain, Xavier init (gain 5/3)",
)
axis.semilogy(
    index, skip.numpy(), "s-", markersize=3, label="residual, default init"
)
axis.set_xlabel("layer (1 = next to the input)")
axis.set_ylabel("weight gradient norm")
axis.set_title("40 tanh layers, width 32: gradient norm per layer")
axis.legend()
fig.tight_layout()
# --8<-- [end:plot_depth]

# %%
# --8<-- [start:degradation]
from pytorch_notes.datasets import mnist

digits = mnist(train=False)  # the 10,000 official test digits
pixels = digits.data[:2000].float().div(255).flatten(1)  # (2000, 784)
targets = digits.targets[:2000]


class MLP(nn.Module):
    """784 -> width, `depth` blocks of Linear, BatchNorm, ReLU, -> 10."""

    def __init__(self, depth, residual, width=32):
        super().__init__()
        self.stem = nn.Linear(784, width)
        self.linears = nn.ModuleList(
            nn.Linear(width, width, bias=False) for _ in range(depth)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(depth))
        self.head = nn.Linear(width, 10)
        self.residual = residual
        for linear in self.linears:  # He init, made for ReLU
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for linear, norm in zip(self.linears, self.norms):
            out = norm(linear(h))
            h = torch.relu(h + out) if self.residual else torch.relu(out)
        return self.head(h)


def train_mlp(depth, residual, seed, steps=100):
    torch.manual_seed(seed)
    model = MLP(depth, residual)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    curve = []
    for step in range(steps):
        batch = torch.randint(0, len(pixels), (64,))
        loss = F.cross_entropy(model(pixels[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.append(loss.item())
    model.eval()
    with torch.no_grad():  # the loss on all 2000 training digits
        return F.cross_entropy(model(pixels), targets).item(), curve


nets = {
    "plain, 2 blocks": (2, False),
    "plain, 20 blocks": (20, False),
    "residual, 20 blocks": (20, True),
}
curves = {}
for seed in range(3):
    final = {}
    for name, (depth, residual) in nets.items():
        final[name], curves[name, seed] = train_mlp(depth, residual, seed)
    print(
        f"seed {seed}: training loss after 100 steps:",
        ", ".join(f"{name} {loss:.2f}" for name, loss in final.items()),
    )
    shallow, deep = final["plain, 2 blocks"], final["plain, 20 blocks"]
    deep_residual = final["residual, 20 blocks"]
    assert deep > 3 * shallow  # deeper and plain: a worse TRAINING loss
    assert deep > 1.5 * deep_residual  # same depth with skips: much better
    assert shallow < deep_residual  # (though not yet as low as shallow)
    # the residual net starts worse: its 20 branches only add (see above)
    first_steps = {name: max(curves[name, seed][:20]) for name in nets}
    assert first_steps["residual, 20 blocks"] == max(first_steps.values())

    torch.manual_seed(seed)  # the deep plain net's gradient at init
    model = MLP(20, residual=False)
    F.cross_entropy(model(pixels), targets).backward()
    first, last = (model.linears[i].weight.grad.norm() for i in (0, -1))
    print(
        f"  plain, 20 blocks, at init: gradient norm {first:.2f} in "
        f"block 1, {last:.2f} in block 20"
    )
    assert first > last  # it does not vanish on the way down

# Yet every extra plain block could be the identity on its input h >= 0:
linear, norm = nn.Linear(32, 32, bias=False), nn.BatchNorm1d(32).eval()
with torch.no_grad():
    linear.weight.copy_(torch.eye(32))  # W = I
    norm.weight.copy_((norm.running_var + norm.eps).sqrt())  # undo the
    norm.bias.copy_(norm.running_mean)  # normalization: gamma, beta
h = torch.relu(torch.randn(64, 32))
assert torch.allclose(torch.relu(norm(linear(h))), h, atol=1e-6)
# --8<-- [end:degradation]

# %%
# --8<-- [start:plot_degradation]
fig, axis = plt.subplots(figsize=(6, 3.5))
for name in nets:
    curve = torch.tensor(curves[name, 0])
    smooth = curve.unfold(0, 10, 1).mean(dim=1)  # mean of 10 steps
    axis.plot(range(10, 101), smooth.numpy(), label=name)
axis.set_xlabel("step (batches of 64 digits)")
axis.set_ylabel("training loss (cross-entropy)")
axis.set_title("2,000 MNIST digits, SGD: same budget, seed 0")
axis.legend()
fig.tight_layout()
# --8<-- [end:plot_degradation]

# %%
# --8<-- [start:basic_block]
from pytorch_notes import expect_error


def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(
        in_channels, out_channels, 3, stride=stride, padding=1, bias=False
    )


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None  # the shortcut is the identity, unless
        if stride != 1 or in_channels != out_channels:  # the shape changes
            self.downsample = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False
                ),
                nn.BatchNorm2d(out_channels),
            )

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

# Without a projection the sum fails: the branch has 128 channels, x has 64.
wider = BasicBlock(64, 128)  # stride 1, more channels: a projection too
assert wider.downsample is not None
branch_out = wider.bn2(wider.conv2(torch.relu(wider.bn1(wider.conv1(images)))))
with expect_error(RuntimeError, "(128) must match the size of tensor b (64)"):
    branch_out + images

# Zero the last BatchNorm's gamma (torchvision's zero_init_residual):
# the block starts as relu(x).
with torch.no_grad():
    same.bn2.weight.zero_()
assert torch.equal(same(images), torch.relu(images))
print("output shapes:", tuple(same(images).shape), tuple(down(images).shape))
# --8<-- [end:basic_block]

# %%
# --8<-- [start:torchvision]
from torchvision.models import resnet18

resnet = resnet18(weights=None)  # random weights: builds offline


def count(module):
    return sum(p.numel() for p in module.parameters())


torch.manual_seed(0)
pairs = [
    (BasicBlock(64, 64), resnet.layer1[0]),
    (BasicBlock(64, 128, stride=2), resnet.layer2[0]),
]
for ours, theirs in pairs:
    assert count(ours) == count(theirs)
    # same names: conv1, bn1, conv2, bn2, downsample.0 and .1
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        assert torch.allclose(ours(images), theirs(images), atol=1e-6)
    print(f"{count(ours):7d} parameters, same output as torchvision")

# Two 3x3 convs without bias, two BatchNorms (gamma and beta);
# plus the 1x1 projection and its BatchNorm.
assert count(resnet.layer1[0]) == 2 * 64 * 64 * 9 + 2 * 2 * 64 == 73_984
assert (
    count(resnet.layer2[0])
    == 64 * 128 * 9 + 128 * 128 * 9 + 2 * 2 * 128 + 64 * 128 + 2 * 128
    == 230_144
)
# --8<-- [end:torchvision]

# %%
# --8<-- [start:post_pre]
torch.manual_seed(0)
d_model, num_heads, d_ff = 16, 4, 32
post_layer = nn.TransformerEncoderLayer(
    d_model, num_heads, d_ff, dropout=0.0, batch_first=True, norm_first=False
)
pre_layer = nn.TransformerEncoderLayer(
    d_model, num_heads, d_ff, dropout=0.0, batch_first=True, norm_first=True
)
tokens = torch.randn(2, 5, d_model)


def attend(layer, x):
    return layer.self_attn(x, x, x, need_weights=False)[0]


def feed_forward(layer, x):
    return layer.linear2(torch.relu(layer.linear1(x)))


def post_ln(layer, x):  # the original Transformer (2017): normalize the sum
    x = layer.norm1(x + attend(layer, x))
    return layer.norm2(x + feed_forward(layer, x))


def pre_ln(layer, x):  # GPT-2 and most models since: the branch input only
    x = x + attend(layer, layer.norm1(x))
    return x + feed_forward(layer, layer.norm2(x))


assert torch.allclose(
    post_ln(post_layer, tokens), post_layer(tokens), atol=1e-6
)
assert torch.allclose(pre_ln(pre_layer, tokens), pre_layer(tokens), atol=1e-6)
# Post-LN's output is a LayerNorm output: every token has mean 0 and
# variance 1. Pre-LN's is not.
post_out, pre_out = post_layer(tokens), pre_layer(tokens)
assert torch.allclose(post_out.mean(-1), torch.zeros(2, 5), atol=1e-6)
assert torch.allclose(
    post_out.var(-1, correction=0), torch.ones(2, 5), atol=1e-3
)
assert pre_out.mean(-1).abs().max() > 0.01
print(
    "per-token mean of the output, Post-LN:",
    post_out.mean(-1)[0].detach().numpy().round(3),
)
print(
    "per-token mean of the output, Pre-LN: ",
    pre_out.mean(-1)[0].detach().numpy().round(3),
)
# --8<-- [end:post_pre]

# %%
# --8<-- [start:blocks]
from pytorch_notes.attention import causal_mask
from pytorch_notes.layers import PostLNBlock, PreLNBlock

post_block = PostLNBlock(d_model, num_heads, d_ff)
pre_block = PreLNBlock(d_model, num_heads, d_ff)
post_block.copy_from(post_layer)  # splits in_proj_weight into W_Q, W_K, W_V
pre_block.copy_from(pre_layer)
assert count(post_block) == count(pre_block) == count(post_layer)

# ours: True = may attend; PyTorch's src_mask: True = may NOT attend
keep = causal_mask(5)
for block, layer in [(post_block, post_layer), (pre_block, pre_layer)]:
    assert torch.allclose(block(tokens), layer(tokens), atol=1e-5)
    assert torch.allclose(
        block(tokens, keep), layer(tokens, src_mask=~keep), atol=1e-5
    )
print(pre_block)

with expect_error(ValueError, "shape (N, length, 16)"):
    pre_block(torch.randn(5, 16))
with expect_error(ValueError, "must divide d_model"):
    PreLNBlock(16, 3, 32)
# --8<-- [end:blocks]

# %%
# --8<-- [start:stream]
# Switch every branch off (zero its last layer): Pre-LN becomes exactly
# the identity, Post-LN does not.
torch.manual_seed(0)
for Block in [PostLNBlock, PreLNBlock]:
    block = Block(d_model, num_heads, d_ff)
    with torch.no_grad():
        for last in [block.self_attn.out_proj, block.linear2]:
            last.weight.zero_()
            last.bias.zero_()
    y = block(tokens)
    print(
        f"{Block.__name__} with silent branches: output == input? "
        f"{torch.equal(y, tokens)}"
    )
    assert torch.equal(y, tokens) == (Block is PreLNBlock)
    if Block is PostLNBlock:  # LN(LN(x))
        twice = F.layer_norm(F.layer_norm(tokens, (16,)), (16,))
        assert torch.allclose(y, twice, atol=1e-6)

# At init, 12 blocks deep: the identity part of d output / d input, and
# the gradient from top to bottom.
depth, results = 12, {"Post-LN": [], "Pre-LN": []}
for seed in range(5):
    for name, Block in [("Post-LN", PostLNBlock), ("Pre-LN", PreLNBlock)]:
        torch.manual_seed(seed)
        stack = nn.Sequential(
            *[Block(d_model, num_heads, d_ff) for _ in range(depth)]
        )
        x = torch.randn(1, 4, d_model)
        J = jacobian(stack, x, vectorize=True)
        J = J.reshape(4 * d_model, 4 * d_model)
        identity_part = J.diagonal().mean()  # trace(J) / n: 1 for J = I

        x = torch.randn(8, 4, d_model, requires_grad=True)
        y = stack(x)
        y.retain_grad()
        F.mse_loss(y, torch.randn(8, 4, d_model)).backward()
        ratio = x.grad.norm() / y.grad.norm()
        results[name].append((identity_part.item(), ratio.item()))

for name, rows in results.items():
    print(
        name,
        "trace(J)/n:",
        [f"{a:.2f}" for a, _ in rows],
        "| |grad input| / |grad output|:",
        [f"{b:.2f}" for _, b in rows],
    )
for (post_trace, post_ratio), (pre_trace, pre_ratio) in zip(
    results["Post-LN"], results["Pre-LN"]
):
    # Pre-LN keeps the identity, Post-LN loses it
    assert abs(pre_trace - 1) < 0.15 and post_trace < 0.8
    # Post-LN's gradient shrinks on the way down, Pre-LN's grows
    assert post_ratio < 0.9 < 1.1 < pre_ratio
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
assert torch.allclose(ours(x), by_hand, atol=1e-6)
assert torch.allclose(theirs(x), by_hand, atol=1e-6)
# a gain only; LayerNorm also has a bias
assert count(ours) == 8 and count(nn.LayerNorm(8)) == 16

rms_norm = RMSNorm(8, eps=eps)  # gain 1
layer_norm = nn.LayerNorm(8, eps=eps)  # gain 1, bias 0
# LayerNorm also subtracts the mean ...
assert not torch.allclose(rms_norm(x), layer_norm(x), atol=1e-2)
centered = x - x.mean(dim=-1, keepdim=True)  # ... so with zero mean: the same
assert torch.allclose(rms_norm(centered), layer_norm(centered), atol=1e-5)
# Both ignore the scale of x; only LayerNorm ignores a shift.
assert torch.allclose(rms_norm(3 * x), rms_norm(x), atol=1e-5)
assert torch.allclose(layer_norm(x + 5), layer_norm(x), atol=1e-4)
assert not torch.allclose(rms_norm(x + 5), rms_norm(x), atol=1e-2)
print(ours)
print(
    "RMS of each normalized row:",
    rms_norm(x).pow(2).mean(-1).sqrt().detach().numpy().round(4),
)
# --8<-- [end:rmsnorm]
