# %% [markdown]
# # 05 Hooks: look at (and change) what flows through autograd and modules
# Book page: autograd/hooks

# %%
# --8<-- [start:inspect]
import torch

x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
y = x**2  # an intermediate (non-leaf) tensor
loss = (y**2).sum()  # L = sum(x^4)

seen = {}
order = []


def remember(name):
    def hook(grad):
        seen[name] = grad.clone()
        order.append(name)
        # returning nothing (None) leaves the gradient unchanged

    return hook


y.register_hook(remember("y"))
x.register_hook(remember("x"))
loss.backward()

assert not y.is_leaf and x.is_leaf
assert torch.equal(seen["y"], 2 * y.detach())  # dL/dy = 2y
assert torch.equal(seen["x"], 4 * x.detach() ** 3)  # dL/dx = 4x^3
assert torch.equal(x.grad, seen["x"])  # the hook did not change it
assert order == ["y", "x"]  # hooks fire in backward order: loss -> y -> x
print("dL/dy seen by the hook:", seen["y"])
print("dL/dx seen by the hook:", seen["x"])
# --8<-- [end:inspect]

# %%
# --8<-- [start:modify]
x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
x.register_hook(lambda grad: grad.clamp(-10, 10))  # return a NEW tensor
(x**4).sum().backward()  # true gradient 4x^3 = [4, -32, 108]

assert torch.equal(x.grad, torch.tensor([4.0, -10.0, 10.0]))
print("clamped x.grad:", x.grad)

# A hook on an intermediate tensor changes everything upstream of it.
w = torch.tensor([1.0, 2.0], requires_grad=True)
h = 3 * w  # dh/dw = 3
h.register_hook(lambda grad: 0.1 * grad)  # scale the gradient by 0.1
(h**2).sum().backward()  # dL/dh = 2h, so dL/dw = 3 * 2h = 18w without the hook

assert torch.allclose(w.grad, 0.1 * 18 * w.detach())
print("scaled w.grad:", w.grad, " (18w would be", 18 * w.detach(), ")")
# --8<-- [end:modify]

# %%
# --8<-- [start:remove]
calls = []
x = torch.tensor(2.0, requires_grad=True)
handle = x.register_hook(lambda grad: calls.append(grad.item()))

(x**2).backward()  # the hook fires: dL/dx = 2x = 4
handle.remove()
x.grad = None
(x**3).backward()  # the hook is gone: dL/dx = 3x^2 = 12, nobody records it

assert calls == [4.0]
assert x.grad.item() == 12.0

# A handle is also a context manager: the hook lives only inside the block.
with x.register_hook(lambda grad: calls.append(grad.item())):
    x.grad = None
    (5 * x).backward()
x.grad = None
(7 * x).backward()
assert calls == [4.0, 5.0]
print("calls recorded:", calls)
# --8<-- [end:remove]

# %%
# --8<-- [start:forward]
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
inputs = torch.randn(5, 4)

activations = {}


def save_output(module, args, output):
    # detach: keep the values, not the graph
    activations["relu"] = output.detach()


def save_input(module, args):
    # args is the tuple of positional inputs
    activations["head_input"] = args[0].detach()


relu_handle = model[1].register_forward_hook(save_output)
head_handle = model[2].register_forward_pre_hook(save_input)
out = model(inputs)

expected = torch.relu(model[0](inputs))
assert activations["relu"].shape == (5, 8)
assert torch.equal(activations["relu"], expected)
# what ReLU gives, the head takes
assert torch.equal(activations["head_input"], activations["relu"])
print(
    f"ReLU output: shape {tuple(activations['relu'].shape)}, "
    f"{(activations['relu'] == 0).float().mean():.0%} zeros"
)
relu_handle.remove()
head_handle.remove()


# A pre-hook may return new inputs: here we silence hidden unit 0 (an ablation).
def ablate_unit_0(module, args):
    hidden = args[0].clone()
    hidden[:, 0] = 0.0
    return (hidden,)


with model[2].register_forward_pre_hook(ablate_unit_0):
    ablated = model(inputs)

hidden = torch.relu(model[0](inputs))
hidden[:, 0] = 0.0
assert torch.allclose(ablated, model[2](hidden))
# hook removed: the model is back to normal
assert torch.equal(model(inputs), out)
print(
    "largest output change from ablating unit 0: "
    f"{(ablated - out).abs().max():.4f}"
)
# --8<-- [end:forward]

# %%
# --8<-- [start:backward]
layer = model[2]  # Linear(8, 2): y = a W^T + b
grads = {}


def save_grads(module, grad_input, grad_output):
    grads["input"] = grad_input[0]  # dL/da, one tensor per positional input
    grads["output"] = grad_output[0]  # dL/dy, one tensor per output


with layer.register_full_backward_hook(save_grads):
    with layer.register_forward_pre_hook(save_input):
        y = model(inputs)
    loss = (y**2).sum()
    loss.backward()

a = activations["head_input"]
assert grads["output"].shape == (5, 2) and grads["input"].shape == (5, 8)
assert torch.allclose(grads["output"], 2 * y.detach())  # dL/dy = 2y
# dL/da = dL/dy W
assert torch.allclose(grads["input"], grads["output"] @ layer.weight)
# dL/dW = (dL/dy)^T a
assert torch.allclose(layer.weight.grad, grads["output"].T @ a)
# one (out x in) gradient per row
per_example = torch.einsum("bo,bi->boi", grads["output"], a)
assert per_example.shape == (5, 2, 8) and torch.allclose(
    per_example.sum(dim=0), layer.weight.grad
)
print(
    "grad_output:",
    tuple(grads["output"].shape),
    " grad_input:",
    tuple(grads["input"].shape),
)
print(
    "grad_input == grad_output @ W:",
    torch.allclose(grads["input"], grads["output"] @ layer.weight),
)

# The two traps of the warning below.
import warnings
from pytorch_notes import expect_error

old_style = nn.Sequential(nn.Linear(2, 2), nn.ReLU())  # two operations
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with old_style.register_backward_hook(lambda *args: None):  # not "full"
        old_style(torch.randn(3, 2)).sum().backward()
assert any(
    w.category is FutureWarning and "non-full backward hook" in str(w.message)
    for w in caught
)

trap = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True))
with trap[0].register_full_backward_hook(lambda *args: None):
    with expect_error(RuntimeError, "is a view and is being modified inplace"):
        trap(torch.randn(3, 2))  # ReLU(inplace=True) writes into the view
# --8<-- [end:backward]

# %%
# --8<-- [start:cnn]
import torch.nn.functional as F


def make_images(n):
    """16x16 noise with a bright bar in every image; label 1 images also get
    a 4x4 square."""
    images = 0.1 * torch.rand(n, 1, 16, 16)
    labels = torch.randint(0, 2, (n,))
    for i in range(n):
        row, col = (
            torch.randint(0, 16, ()).item(),
            torch.randint(0, 9, ()).item(),
        )
        images[i, 0, row, col : col + 8] = 1.0  # the distractor: a 1x8 bar
        if labels[i] == 1:
            row, col = torch.randint(0, 13, (2,)).tolist()
            # the evidence: a 4x4 square
            images[i, 0, row : row + 4, col : col + 4] = 1.0
    return images, labels


torch.manual_seed(0)
cnn = nn.Sequential(
    # 16x16 -> 8x8
    nn.Conv2d(1, 8, kernel_size=3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    # the last conv block: A is 16 x 8 x 8
    nn.Conv2d(8, 16, kernel_size=3, padding=1),
    nn.ReLU(),
    # global average pool, 2 class scores
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(16, 2),
)
train_images, train_labels = make_images(128)
for _ in range(100):  # plain full-batch gradient descent, as in chapter 02
    loss = F.cross_entropy(cnn(train_images), train_labels)
    cnn.zero_grad()
    loss.backward()
    with torch.no_grad():
        for parameter in cnn.parameters():
            parameter -= 0.5 * parameter.grad

test_images, test_labels = make_images(256)
accuracy = (cnn(test_images).argmax(dim=1) == test_labels).float().mean().item()
assert accuracy > 0.95
print(f"final training loss {loss.item():.4f}, test accuracy {accuracy:.1%}")

image = 0.1 * torch.rand(1, 1, 16, 16)
image[0, 0, 12, 2:10] = 1.0  # a bar in the lower left ...
image[0, 0, 3:7, 9:13] = 1.0  # ... and a square in the upper right
target = 1  # explain the score of the class "has a square"
probability = cnn(image).softmax(dim=1)[0, 1].item()
assert probability > 0.99
print(f"P(has a square) = {probability:.4f}")
# --8<-- [end:cnn]

# %%
# --8<-- [start:gradcam]
captured = {}


def save_activation(module, args, output):
    captured["A"] = output.detach()


def save_gradient(module, grad_input, grad_output):
    captured["dA"] = grad_output[0]  # dy_c / dA


last_block = cnn[4]  # the ReLU after the last conv
with (
    last_block.register_forward_hook(save_activation),
    last_block.register_full_backward_hook(save_gradient),
):
    cnn(image)[0, target].backward()

A, dA = captured["A"][0], captured["dA"][0]  # drop the batch axis: K x H x W
# one weight per channel: spatial mean of the gradient
alpha = dA.mean(dim=(1, 2))
# ReLU(sum_k alpha_k A_k)
cam = torch.relu((alpha[:, None, None] * A).sum(dim=0))
assert (
    A.shape == dA.shape == (16, 8, 8)
    and alpha.shape == (16,)
    and cam.shape == (8, 8)
)

# The same map without hooks: cut the network at A and differentiate by hand.
A_manual = cnn[:5](image).detach().requires_grad_()
y_c = cnn[5:](A_manual)[0, target]
(dA_manual,) = torch.autograd.grad(y_c, A_manual)
cam_manual = torch.relu(
    (dA_manual[0].mean(dim=(1, 2))[:, None, None] * A_manual[0]).sum(dim=0)
)
assert torch.allclose(cam, cam_manual.detach())

# With a global-average-pool head, y_c = sum_k W[c, k] mean(A_k), so alpha_k =
# W[c, k] / (H W).
assert torch.allclose(alpha, cnn[7].weight[target] / (8 * 8))

print("alpha (first 4 channels):", alpha[:4])
print(
    "Grad-CAM map, in % of its maximum:\n",
    (100 * cam / cam.max()).round().int(),
)

heatmap = F.interpolate(
    cam[None, None], size=(16, 16), mode="bilinear", align_corners=False
)[0, 0]
heatmap = heatmap / heatmap.max()  # scale to [0, 1] for display
square, bar = heatmap[3:7, 9:13], heatmap[12, 2:10]
assert heatmap.shape == (16, 16)
hottest_row, hottest_col = divmod(heatmap.argmax().item(), 16)
assert 3 <= hottest_row < 7 and 9 <= hottest_col < 13  # on the square
assert square.mean() > 2 * bar.mean()  # and the bar gets far less credit
print(
    f"mean heat on the square {square.mean():.2f}, on the bar {bar.mean():.2f}"
)
# --8<-- [end:gradcam]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, (left, middle, right) = plt.subplots(1, 3, figsize=(7, 2.6))
left.imshow(image[0, 0].numpy(), cmap="gray")
left.set_title("input")
middle.imshow(cam.numpy(), cmap="jet")
middle.set_title("Grad-CAM, 8x8")
right.imshow(image[0, 0].numpy(), cmap="gray")
right.imshow(heatmap.numpy(), cmap="jet", alpha=0.5)
right.set_title("upsampled, on the input")
for axis in (left, middle, right):
    axis.axis("off")
fig.tight_layout()
# --8<-- [end:plot]
