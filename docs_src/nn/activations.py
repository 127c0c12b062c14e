# %% [markdown]
# # ReLU and Sigmoid: formulas, in-place, images and gradients
# Book page: nn/activations

# %%
# --8<-- [start:formulas]
import torch
import torch.nn as nn
import torch.nn.functional as F

x = torch.tensor([[1.0, -0.5], [-1.0, 3.0]])

relu_out = nn.ReLU()(x)
sigmoid_out = nn.Sigmoid()(x)
assert torch.equal(relu_out, torch.maximum(x, torch.zeros_like(x)))  # max(0, x)
assert torch.equal(relu_out, torch.tensor([[1.0, 0.0], [0.0, 3.0]]))
assert torch.allclose(sigmoid_out, 1 / (1 + torch.exp(-x)))  # 1 / (1 + e^-x)
assert ((0 < sigmoid_out) & (sigmoid_out < 1)).all()
# sigmoid(-x) = 1 - sigmoid(x)
assert torch.allclose(sigmoid_out + nn.Sigmoid()(-x), torch.ones(2, 2))
print("ReLU:\n", relu_out)
print("Sigmoid:\n", sigmoid_out)
# --8<-- [end:formulas]


# %%
# --8<-- [start:module]
# The original notes' model, minus the reshape
class ActivationDemo(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu1 = nn.ReLU()
        self.sigmoid1 = nn.Sigmoid()

    def forward(self, x):
        return self.relu1(x), self.sigmoid1(x)


demo = ActivationDemo()
assert list(demo.parameters()) == []  # nothing to learn
relu_out, sigmoid_out = demo(x)

# Element-wise: any shape works, no (N, C, H, W) reshape needed.
as_image = x.reshape(-1, 1, 2, 2)
assert torch.equal(demo(as_image)[0].reshape(2, 2), relu_out)

# The same computation as functions.
assert torch.equal(relu_out, torch.relu(x)) and torch.equal(relu_out, F.relu(x))
assert torch.equal(sigmoid_out, torch.sigmoid(x))
print(demo)
# --8<-- [end:module]

# %%
# --8<-- [start:inplace]
from pytorch_notes import expect_error

relu_inplace = nn.ReLU(inplace=True)
values = x.clone()
result = relu_inplace(values)
assert result is values  # no new tensor: the input itself was overwritten
assert torch.equal(values, torch.tensor([[1.0, 0.0], [0.0, 3.0]]))

leaf = torch.tensor([1.0, -2.0], requires_grad=True)
with expect_error(
    RuntimeError,
    "a leaf Variable that requires grad is being used in an in-place operation",
):
    relu_inplace(leaf)

probabilities = torch.sigmoid(leaf)  # sigmoid keeps its output for backward
assert probabilities._version == 0
# no value changes (all > 0), yet the saved tensor was written to
relu_inplace(probabilities)
assert probabilities._version == 1  # autograd's version counter saw the write
with expect_error(RuntimeError, "modified by an inplace operation"):
    probabilities.sum().backward()

# After a Linear layer it is safe: Linear's backward needs its input, not its
# output.
torch.manual_seed(0)
layer = nn.Linear(2, 3)
inputs = torch.randn(4, 2)
relu_inplace(layer(inputs)).sum().backward()
grad_inplace = layer.weight.grad.clone()
layer.weight.grad = None
torch.relu(layer(inputs)).sum().backward()
assert torch.equal(grad_inplace, layer.weight.grad)
# --8<-- [end:inplace]

# %%
# --8<-- [start:batch]
from torch.utils.data import DataLoader
from torchvision.transforms import Normalize, ToTensor
from pytorch_notes.datasets import cifar10

test_data = cifar10(train=False, transform=ToTensor())
images, labels = next(iter(DataLoader(test_data, batch_size=64)))
assert images.shape == (64, 3, 32, 32)
assert images.min() >= 0 and images.max() <= 1  # ToTensor: pixels / 255

relu_images, sigmoid_images = demo(images)
# nothing is negative: ReLU changes nothing
assert torch.equal(relu_images, images)

low, high = torch.sigmoid(torch.tensor(0.0)), torch.sigmoid(torch.tensor(1.0))
assert low == 0.5 and abs(high - 0.7311) < 1e-4
# [0, 1] -> [0.5, 0.731]
assert sigmoid_images.min() >= low and sigmoid_images.max() <= high
# the contrast drops at least fourfold
assert sigmoid_images.std() <= 0.25 * images.std()
print(
    f"input:   [{images.min():.3f}, {images.max():.3f}], std {images.std():.3f}"
)
print(
    f"sigmoid: [{sigmoid_images.min():.3f}, {sigmoid_images.max():.3f}], "
    f"std {sigmoid_images.std():.3f}"
)
# --8<-- [end:batch]

# %%
# --8<-- [start:normalize]
normalize = Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
normalized = normalize(images)  # (x - 0.5) / 0.5, channel by channel
assert torch.allclose(normalized, 2 * images - 1)
assert normalized.min() >= -1 and normalized.max() <= 1

relu_normalized = torch.relu(normalized)
zeros = (relu_normalized == 0).float().mean()
not_positive = (normalized <= 0).float().mean()
# ReLU zeroes exactly the values that were <= 0
assert zeros == not_positive > 0
darker = (images <= 0.5).float().mean()
assert zeros == darker  # ... that is, the pixels no brighter than mid-grey
per_image = (relu_normalized == 0).flatten(1).float().mean(dim=1)
assert per_image.max() - per_image.min() > 0.1  # the share depends on the image
assert torch.equal(relu_normalized, normalized.clamp(min=0))
# displayable as it is
assert relu_normalized.min() >= 0 and relu_normalized.max() <= 1
print(
    f"after Normalize: [{normalized.min():.3f}, {normalized.max():.3f}]; "
    f"ReLU zeroes {zeros:.1%} of the values"
)
print(f"per image: from {per_image.min():.1%} to {per_image.max():.1%}")
# --8<-- [end:normalize]

# %%
# --8<-- [start:images]
from pytorch_notes.plots import show_images

rows = torch.cat([images[:6], sigmoid_images[:6], relu_normalized[:6]])
titles = ["input"] * 6 + ["Sigmoid"] * 6 + ["ReLU(Normalize)"] * 6
figure = show_images(rows, titles=titles, ncols=6, size=1.5)
# --8<-- [end:images]

# %%
# --8<-- [start:sigmoid_grad]
z = torch.linspace(-8, 8, 1601, requires_grad=True)
s = torch.sigmoid(z)
# each output depends on its own input only, so z.grad = sigmoid'(z)
s.sum().backward()

s = s.detach()
assert torch.allclose(z.grad, s * (1 - s))  # sigmoid' = sigmoid (1 - sigmoid)
assert z.grad.max() <= 0.25 and z.grad[800] == 0.25  # the maximum, at z = 0
assert torch.allclose(z.grad[[0, -1]], torch.tensor(3.35e-4), rtol=0.01)
assert z.grad[0] < z.grad[800] / 700  # saturated at |z| = 8
print(f"sigmoid'(0) = {z.grad[800]:.4f}, sigmoid'(±8) = {z.grad[-1]:.2e}")
# --8<-- [end:sigmoid_grad]

# %%
# --8<-- [start:vanishing]
import math

start = torch.tensor(0.5, requires_grad=True)
h, local_slopes = start, []
for _ in range(10):
    h = torch.sigmoid(h)
    local_slopes.append((h * (1 - h)).item())
h.backward()  # chain rule: the product of the 10 local slopes
assert math.isclose(start.grad.item(), math.prod(local_slopes), rel_tol=1e-5)
assert start.grad < 0.25**10
print(f"d h10 / d h0 = {start.grad:.3e} <= 0.25^10 = {0.25**10:.3e}")


def first_to_last_gradient(activation, seed=0):
    """Gradient norm of the first layer's weights over that of the last,
    in a 10-layer MLP."""
    torch.manual_seed(seed)
    layers = []
    for _ in range(10):
        linear = nn.Linear(64, 64)
        if activation is nn.ReLU:
            # He init, made for ReLU
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    mlp = nn.Sequential(*layers)
    mlp(torch.randn(32, 64)).sum().backward()
    return (mlp[0].weight.grad.norm() / mlp[-2].weight.grad.norm()).item()


for seed in range(3):  # the same picture for three random networks
    sigmoid_ratio = first_to_last_gradient(nn.Sigmoid, seed)
    relu_ratio = first_to_last_gradient(nn.ReLU, seed)
    assert sigmoid_ratio < 2e-8  # a few billionths: the first layer stalls
    assert 0.1 < relu_ratio < 10  # the same order: the gradient gets through
print(
    f"first / last layer gradient: Sigmoid {sigmoid_ratio:.1e}, "
    f"ReLU {relu_ratio:.2f}"
)
# --8<-- [end:vanishing]

# %%
# --8<-- [start:relu_grad]
z = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
torch.relu(z).sum().backward()
# 1 if z > 0 else 0 (also at 0)
assert torch.equal(z.grad, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0]))

# A dead unit: its pre-activation is negative for every input, so it never gets
# a gradient.
torch.manual_seed(0)
layer = nn.Linear(4, 3)
with torch.no_grad():
    layer.bias[2] = -10.0  # e.g. after one huge update step
inputs = torch.randn(16, 4)
pre_activation = layer(inputs)
assert (pre_activation[:, 2] < 0).all() and (pre_activation[:, :2] > 0).any()

optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
torch.relu(pre_activation).sum().backward()
assert (layer.weight.grad[2] == 0).all() and layer.bias.grad[2] == 0
assert layer.weight.grad[:2].abs().sum() > 0  # the live units do learn
dead_row = layer.weight[2].detach().clone()
optimizer.step()
assert torch.equal(layer.weight[2], dead_row)  # the update cannot revive it
print("gradient of the dead unit's weights:", layer.weight.grad[2].tolist())
# --8<-- [end:relu_grad]

# %%
# --8<-- [start:others]
z = torch.linspace(-4, 4, 81, requires_grad=True)

leaky = nn.LeakyReLU(negative_slope=0.01)(z)
assert torch.allclose(leaky, torch.where(z > 0, z, 0.01 * z))
leaky.sum().backward()
# small, but never 0: no dead units
assert torch.allclose(z.grad[z < 0], torch.tensor(0.01))
z.grad = None

gelu = nn.GELU()(z)
normal_cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # Phi(z)
assert torch.allclose(gelu, z * normal_cdf, atol=1e-6)
assert (gelu[z < 0] < 0).all()  # slightly negative for negative inputs
gelu_minus_one = nn.GELU()(torch.tensor(-1.0))
assert abs(gelu_minus_one + 0.1587) < 1e-4

tanh = nn.Tanh()(z)
# a rescaled sigmoid
assert torch.allclose(tanh, 2 * torch.sigmoid(2 * z) - 1, atol=1e-6)
assert tanh.min() > -1 and tanh.max() < 1
tanh.sum().backward()
assert z.grad[40] == 1 and z.grad[0] < 0.002  # slope 1 at 0, saturated at -4
print(
    f"GELU(-1) = {gelu_minus_one:.4f}, "
    f"tanh(1) = {torch.tanh(torch.tensor(1.0)):.4f}"
)
# --8<-- [end:others]

# %%
# --8<-- [start:curves]
import matplotlib.pyplot as plt

curves = {
    "ReLU": nn.ReLU(),
    "LeakyReLU(0.1)": nn.LeakyReLU(0.1),  # a visible slope; 0.01 is the default
    "GELU": nn.GELU(),
    "Sigmoid": nn.Sigmoid(),
    "Tanh": nn.Tanh(),
}
z = torch.linspace(-4, 4, 401, requires_grad=True)
fig, (left, right) = plt.subplots(
    1, 2, figsize=(6.8, 3.6), layout="constrained"
)
for name, activation in curves.items():
    y = activation(z)
    (slope,) = torch.autograd.grad(y.sum(), z)  # the derivative at every point
    if name == "GELU":  # dips below 0, overshoots 1, settles at 1
        assert slope.min() < 0 and slope.max() > 1.05 and slope[-1] < 1.01
    # dashed, so ReLU stays visible under it
    style = "--" if name.startswith("Leaky") else "-"
    left.plot(z.detach().numpy(), y.detach().numpy(), style, label=name)
    right.plot(z.detach().numpy(), slope.numpy(), style, label=name)
left.set_title("activation f(z)")
right.set_title("derivative f'(z)")
for axis in (left, right):
    axis.axhline(0, color="gray", linewidth=0.5)
    axis.set_xlabel("z")
# one legend below both panels: they draw the same five functions
fig.legend(
    *left.get_legend_handles_labels(), loc="outside lower center", ncols=5
)
# --8<-- [end:curves]

# %%
# --8<-- [start:tensorboard]
import shutil
from torch.utils.tensorboard import SummaryWriter
from pytorch_notes.logs import read_images

# a rerun starts from an empty log
shutil.rmtree("runs/activations", ignore_errors=True)
writer = SummaryWriter("runs/activations")
for step, (batch, _) in enumerate(DataLoader(test_data, batch_size=16)):
    if step == 2:
        break
    _, sigmoid_batch = demo(batch)
    relu_normalized_batch, _ = demo(normalize(batch))
    writer.add_images("input", batch, step)  # float images: values in [0, 1]
    writer.add_images("sigmoid", sigmoid_batch, step)
    writer.add_images("relu_after_normalize", relu_normalized_batch, step)
writer.close()

logged = read_images("runs/activations")
assert sorted(logged) == ["input", "relu_after_normalize", "sigmoid"]
for tag, events in logged.items():
    assert [step for step, _ in events] == [0, 1]
    assert events[0][1] == (2 * 32, 8 * 32)  # 16 images as a grid of 2 rows x 8
print(
    {
        tag: [step for step, _ in events]
        for tag, events in sorted(logged.items())
    }
)
# --8<-- [end:tensorboard]
