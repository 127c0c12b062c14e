# %% [markdown]
# # LeNet: a first full training loop
# Book page: nn/lenet

# %%
# --8<-- [start:data]
import torch
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import Compose, Normalize, ToTensor

from pytorch_notes import seed_everything
from pytorch_notes.datasets import mnist

seed_everything(0)
digits = mnist(train=False)  # the 10,000 official test digits, as PIL images
# The test part is never seen in training.
train_part, test_part = range(0, 8000), range(8000, 10_000)

# Standardize with statistics of the training digits only, never the test ones.
pixels = digits.data[:8000].float() / 255
mean, std = pixels.mean().item(), pixels.std().item()
digits.transform = Compose([ToTensor(), Normalize([mean], [std])])
train_set, test_set = Subset(digits, train_part), Subset(digits, test_part)

image, label = train_set[0]
assert image.shape == (1, 28, 28) and image.dtype == torch.float32
background = torch.tensor((0 - mean) / std)  # a 0 pixel after Normalize
assert torch.isclose(image.min(), background)
assert isinstance(label, int) and 0 <= label <= 9
train_labels = torch.tensor([int(digits.targets[i]) for i in train_set.indices])
test_labels = torch.tensor([int(digits.targets[i]) for i in test_set.indices])
assert set(train_labels.tolist()) == set(test_labels.tolist()) == set(range(10))
print(f"train: {len(train_set)} digits, test: {len(test_set)} digits")
print(f"pixel mean {mean:.4f}, std {std:.4f} (training digits)")
print("train digits per class:", torch.bincount(train_labels).tolist())
# --8<-- [end:data]

# %%
# --8<-- [start:build]
import torch.nn as nn
import torch.nn.functional as F


class LeNetByHand(nn.Module):
    def __init__(self):
        super().__init__()
        # 28x28 in, 28x28 out
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        # (N, 16, 5, 5) -> (N, 400), the batch stays
        x = torch.flatten(x, start_dim=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)  # logits: no softmax, CrossEntropyLoss applies it


torch.manual_seed(0)
by_hand = LeNetByHand()
batch = torch.stack([train_set[i][0] for i in range(8)])
assert by_hand(batch).shape == (8, 10)  # one score per class for each digit
print(by_hand)
# --8<-- [end:build]


# %%
# --8<-- [start:shapes]
def conv_size(size, kernel, padding=0):
    return size + 2 * padding - kernel + 1  # stride 1


x = batch
shapes = {"input": x.shape}
x = F.relu(by_hand.conv1(x))
shapes["conv1 5x5, padding 2"] = x.shape
x = F.max_pool2d(x, 2)
shapes["max pool 2"] = x.shape
x = F.relu(by_hand.conv2(x))
shapes["conv2 5x5"] = x.shape
features = F.max_pool2d(x, 2)
shapes["max pool 2 "] = features.shape
flat = torch.flatten(features, 1)
shapes["flatten"] = flat.shape

assert conv_size(28, 5, padding=2) == 28 and conv_size(14, 5) == 10
assert [tuple(shape) for shape in shapes.values()] == [
    (8, 1, 28, 28),
    (8, 6, 28, 28),
    (8, 6, 14, 14),
    (8, 16, 10, 10),
    (8, 16, 5, 5),
    (8, 400),
]
for name, shape in shapes.items():
    print(f"{name:22s} {tuple(shape)}")
# --8<-- [end:shapes]


# %%
# --8<-- [start:flatten]
def num_flat_features(x):  # the original notes' hand-written flatten
    count = 1
    for size in x.size()[1:]:  # every dimension but the batch
        count *= size
    return count


from pytorch_notes import expect_error

assert num_flat_features(features) == 400
assert torch.equal(
    features.view(-1, num_flat_features(features)), torch.flatten(features, 1)
)

# A hard-coded view(-1, 400) hides a wrong input size: without padding, a 28x28
# digit ends as 16x4x4 = 256 features, and a batch of 25 is silently regrouped
# into 16 rows.
no_padding = nn.Conv2d(1, 6, kernel_size=5)
# 28 -> 24 -> 12
x = F.max_pool2d(F.relu(no_padding(torch.zeros(25, 1, 28, 28))), 2)
wrong = F.max_pool2d(F.relu(by_hand.conv2(x)), 2)  # 12 -> 8 -> 4
assert wrong.shape == (25, 16, 4, 4)
# 25 digits became 16 mixed-up rows
assert wrong.view(-1, 400).shape == (16, 400)
with expect_error(RuntimeError, "cannot be multiplied"):
    # flatten keeps 25 rows of 256: fc1 refuses loudly
    by_hand.fc1(torch.flatten(wrong, 1))
# --8<-- [end:flatten]


# %%
# --8<-- [start:params]
def conv_params(c_in, c_out, k):
    return c_out * c_in * k * k + c_out  # weights + one bias per output channel


def linear_params(n_in, n_out):
    return n_out * n_in + n_out


per_layer = {
    name: sum(p.numel() for p in layer.parameters())
    for name, layer in by_hand.named_children()
}
assert per_layer == {
    "conv1": conv_params(1, 6, 5),  # 156
    "conv2": conv_params(6, 16, 5),  # 2,416
    "fc1": linear_params(400, 120),  # 48,120
    "fc2": linear_params(120, 84),  # 10,164
    "fc3": linear_params(84, 10),  # 850
}
total = sum(p.numel() for p in by_hand.parameters())
assert total == sum(per_layer.values()) == 61_706
# small kernels, reused everywhere
assert (per_layer["conv1"] + per_layer["conv2"]) / total < 0.05
# most weights sit in the first linear layer
assert per_layer["fc1"] / total > 0.75
for name, count in per_layer.items():
    print(f"{name:6s} {count:6,d}")
print(f"total  {total:,}")
# --8<-- [end:params]

# %%
# --8<-- [start:package]
from pytorch_notes.models import LeNet

model = LeNet()
theirs = model.state_dict()
mine = by_hand.state_dict()
# same layers, same order
assert [p.shape for p in theirs.values()] == [p.shape for p in mine.values()]
# copy by position, keep their names
model.load_state_dict(dict(zip(theirs.keys(), mine.values())))

assert torch.equal(model(batch), by_hand(batch))  # the same network
print(list(theirs.keys()))
# --8<-- [end:package]

# %%
# --8<-- [start:random_targets]
torch.manual_seed(0)
net = LeNet()
mse = nn.MSELoss()
sgd = torch.optim.SGD(net.parameters(), lr=0.01)
# The original notes' loop: new random inputs and random targets every time.
for step in range(40):
    inputs, targets = torch.randn(16, 1, 28, 28), torch.randn(16, 10)
    sgd.zero_grad()
    mse(net(inputs), targets).backward()
    sgd.step()

# Targets independent of inputs: E[(f(x) - y)^2] = E[f(x)^2] + Var(y) >= Var(y)
# = 1, for any f.
with torch.no_grad():
    inputs, targets = torch.randn(1000, 1, 28, 28), torch.randn(1000, 10)
    fresh_loss = mse(net(inputs), targets).item()
    zero_loss = mse(torch.zeros_like(targets), targets).item()
# no better than always answering 0
assert fresh_loss > 0.95 and fresh_loss >= zero_loss - 0.01
print(
    f"after 40 steps on random targets: loss {fresh_loss:.3f}; "
    f"predicting 0 everywhere: {zero_loss:.3f}"
)
# --8<-- [end:random_targets]

# %%
# --8<-- [start:setup]
seed_everything(0)
model = LeNet()
loss_fn = nn.CrossEntropyLoss()  # logits (N, 10) and integer labels (N,)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
# a new order every epoch
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=500)


def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train()
    total, seen, step_losses = 0.0, 0, []
    for images, labels in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        step_losses.append(loss.item())  # a float: no graph kept
        total += loss.item() * len(labels)
        seen += len(labels)
    return total / seen, step_losses


def accuracy(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():  # no graph: faster, less memory
        for images, labels in loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
    return correct / len(loader.dataset)


chance = accuracy(model, test_loader)
assert chance < 0.3  # untrained: about 1 in 10
with torch.no_grad():
    logits = model(batch)
# softmax keeps the order
assert torch.equal(logits.softmax(dim=1).argmax(dim=1), logits.argmax(dim=1))
assert len(train_loader) == 125  # 8000 / 64 batches of 64
print(f"untrained model: test accuracy {chance:.3f}")
# --8<-- [end:setup]

# %%
# --8<-- [start:train]
EPOCHS = 8
epoch_losses, step_losses, test_accuracies = [], [], []
for epoch in range(EPOCHS):
    epoch_loss, losses = train_one_epoch(
        model, train_loader, loss_fn, optimizer
    )
    epoch_losses.append(epoch_loss)
    step_losses += losses
    test_accuracies.append(accuracy(model, test_loader))
    print(
        f"epoch {epoch + 1}: train loss {epoch_loss:.4f}, "
        f"test accuracy {test_accuracies[-1]:.3f}"
    )

assert len(step_losses) == EPOCHS * len(train_loader)
assert epoch_losses[-1] < epoch_losses[0] / 4  # a real drop, not noise
assert test_accuracies[-1] >= 0.97  # on 2,000 real digits it never trained on
assert not model.training  # accuracy() left it in eval mode
with torch.no_grad():
    eval_scores = model(batch)
    model.train()
    train_scores = model(batch)
    model.eval()
assert not eval_scores.requires_grad  # no graph was recorded
# no Dropout or BatchNorm in LeNet: the modes agree
assert torch.equal(eval_scores, train_scores)
# --8<-- [end:train]

# %%
# --8<-- [start:curves]
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3))
left.plot(range(1, len(step_losses) + 1), step_losses, label="each batch")
steps_per_epoch = len(train_loader)
epoch_ends = [steps_per_epoch * (e + 1) for e in range(EPOCHS)]
left.plot(epoch_ends, epoch_losses, "o-", label="epoch mean")
left.set_xlabel("step")
left.set_ylabel("cross-entropy")
left.legend()
right.plot(range(EPOCHS + 1), [chance] + test_accuracies, "o-")
right.set_ylim(0, 1)
right.set_xticks(range(EPOCHS + 1))
right.set_xlabel("epoch")
right.set_ylabel("test accuracy")
fig.tight_layout()
# --8<-- [end:curves]

# %%
# --8<-- [start:predictions]
from pytorch_notes.plots import show_images

images = torch.stack([test_set[i][0] for i in range(16)])  # standardized
labels = test_labels[:16]
with torch.no_grad():
    predicted = model(images).argmax(dim=1)
pixels = images * std + mean  # undo Normalize to show the digits as they are
titles = [
    f"pred {p}" + ("" if p == t else f" ({t})")
    for p, t in zip(predicted.tolist(), labels.tolist())
]
assert len(titles) == 16 and all(t.startswith("pred ") for t in titles)
assert (predicted == labels).float().mean() >= 0.5  # most of them right
figure = show_images(pixels, titles=titles, ncols=8)
# --8<-- [end:predictions]
