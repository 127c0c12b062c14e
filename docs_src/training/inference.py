# %% [markdown]
# # Using a trained model
# Book page: training/inference

# %%
# --8<-- [start:train]
import shutil

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import ToTensor

from pytorch_notes import seed_everything
from pytorch_notes.checkpoints import save_checkpoint
from pytorch_notes.datasets import mnist
from pytorch_notes.models import LeNet
from pytorch_notes.training import fit

seed_everything(0)
digits = mnist(train=False)  # the official 10,000 test digits, as PIL images
to_tensor = ToTensor()
# (2500, 1, 28, 28) in [0, 1]
images = torch.stack([to_tensor(digits[i][0]) for i in range(2500)])
labels = torch.tensor([digits[i][1] for i in range(2500)])
train_images, val_images = images[:2000], images[2000:]

# from the training images only
mean, std = train_images.mean().item(), train_images.std().item()
train_set = TensorDataset((train_images - mean) / std, labels[:2000])
val_set = TensorDataset((val_images - mean) / std, labels[2000:])
assert (
    abs(train_set.tensors[0].mean()) < 1e-4
    and abs(train_set.tensors[0].std() - 1) < 1e-4
)

model = LeNet()
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
history = fit(
    model,
    DataLoader(train_set, batch_size=32, shuffle=True),
    loss_fn,
    optimizer,
    epochs=2,
    val_loader=DataLoader(val_set, batch_size=500),
    progress=False,
)
assert history[-1]["val_accuracy"] > 0.8

shutil.rmtree("checkpoints/inference", ignore_errors=True)
checkpoint = "checkpoints/inference/lenet-mnist.pt"
save_checkpoint(
    checkpoint,
    model,
    optimizer,
    epoch=2,
    mean=mean,
    std=std,
    classes=digits.classes,
)
print(f"normalize with mean {mean:.4f}, std {std:.4f}")
print(
    f"after 2 epochs: val accuracy {history[-1]['val_accuracy']:.3f}; "
    f"saved {checkpoint}"
)
# --8<-- [end:train]

# %%
# --8<-- [start:load]
from pytorch_notes.checkpoints import load_checkpoint

restored = LeNet()  # a fresh model: random weights until we load
info = load_checkpoint(
    checkpoint, restored, map_location="cpu", restore_rng=False
)
for name, tensor in model.state_dict().items():
    assert torch.equal(restored.state_dict()[name], tensor)
assert info["epoch"] == 2 and info["classes"] == digits.classes
# the preprocessing travels with the weights
assert (info["mean"], info["std"]) == (mean, std)

# The same by hand: torch.load gives back the dictionary that save_checkpoint
# wrote.
state = torch.load(
    checkpoint, map_location=torch.device("cpu"), weights_only=True
)
by_hand = LeNet()
by_hand.load_state_dict(state["model"])
assert all(
    torch.equal(a, b)
    for a, b in zip(by_hand.parameters(), restored.parameters())
)
print("checkpoint keys:", sorted(state))
print(
    "restored epoch:", info["epoch"], "| classes:", info["classes"][:3], "..."
)
# --8<-- [end:load]

# %%
# --8<-- [start:file]
from pathlib import Path

from PIL import Image

digit, label = digits[2500]  # held out: not among the 2,500 digits used above
shutil.rmtree("data/my_digits", ignore_errors=True)
Path("data/my_digits").mkdir(parents=True)
# as a user's drawing might be
digit.resize((112, 112)).convert("RGBA").save("data/my_digits/2500.png")

image = Image.open("data/my_digits/2500.png")
assert image.mode == "RGBA" and image.size == (112, 112)
# four channels: red, green, blue, alpha
assert to_tensor(image).shape == (4, 112, 112)
# what a CIFAR-10 model like Moli needs
assert to_tensor(image.convert("RGB")).shape == (3, 112, 112)
gray = image.convert("L")  # LeNet reads one channel
assert gray.mode == "L" and to_tensor(gray).shape == (1, 112, 112)
print("file:", image.mode, image.size, "-> converted:", gray.mode, gray.size)
# --8<-- [end:file]

# %%
# --8<-- [start:preprocess]
from torchvision.transforms import Compose, Normalize, Resize

from pytorch_notes import expect_error

preprocess = Compose(
    [
        Resize((28, 28)),  # the size the model was trained on
        ToTensor(),  # (1, 28, 28), values in [0, 1]
        # the numbers from training, read from the checkpoint
        Normalize([info["mean"]], [info["std"]]),
    ]
)
# one number: only the shorter side
assert Resize(28)(Image.new("L", (224, 112))).size == (56, 28)
x = preprocess(gray)
assert x.shape == (1, 28, 28)
batch = x.unsqueeze(0)  # a batch of one: (N, C, H, W)
assert batch.shape == (1, 1, 28, 28)
# The original notes' reshape gives the same result here.
assert torch.equal(batch, torch.reshape(x, (1, 1, 28, 28)))

round_trip = to_tensor(Resize((28, 28))(gray))
# up to 112 x 112 and back: nearly the same digit
assert (round_trip - to_tensor(digit)).abs().mean() < 0.1
with expect_error(ValueError, "add a batch dimension"):
    restored(x)
print("input to the model:", tuple(batch.shape))
# --8<-- [end:preprocess]

# %%
# --8<-- [start:predict]
# a new module starts in train mode; loading weights does not change that
assert restored.training
restored.eval()
with torch.inference_mode():
    logits = restored(batch)
probabilities = logits.softmax(dim=1)
assert logits.shape == probabilities.shape == (1, 10)
assert abs(probabilities.sum().item() - 1) < 1e-6
predicted = probabilities.argmax(dim=1).item()
assert predicted == logits.argmax(dim=1).item()  # softmax keeps the order
assert predicted == label
assert logits.is_inference() and not logits.requires_grad
print(
    f"predicted: {info['classes'][predicted]} with probability "
    f"{probabilities[0, predicted]:.3f}"
)
print(f"label:     {info['classes'][label]}")
# --8<-- [end:predict]


# %%
# --8<-- [start:batch]
def load_image(path):
    return preprocess(Image.open(path).convert("L"))


for index in range(2501, 2508):  # seven more drawings in the same folder
    digits[index][0].resize((112, 112)).convert("RGBA").save(
        f"data/my_digits/{index}.png"
    )
paths = sorted(Path("data/my_digits").glob("*.png"))
file_labels = torch.tensor([digits[int(path.stem)][1] for path in paths])

# (8, 1, 28, 28): stack adds the batch axis
inputs = torch.stack([load_image(path) for path in paths])
assert inputs.shape == (8, 1, 28, 28)
with torch.inference_mode():
    probabilities = restored(inputs).softmax(dim=1)
top_probabilities, top_classes = probabilities.topk(3, dim=1)
assert top_classes.shape == (8, 3)
# sorted, most likely first
assert (top_probabilities[:, :-1] >= top_probabilities[:, 1:]).all()
assert torch.equal(top_classes[:, 0], probabilities.argmax(dim=1))
assert (top_classes[:, 0] == file_labels).sum() >= 6
for path, classes, probs in zip(
    paths, top_classes.tolist(), top_probabilities.tolist()
):
    print(path.name, " ".join(f"{c}: {p:.2f}" for c, p in zip(classes, probs)))
# --8<-- [end:batch]

# %%
# --8<-- [start:figure]
from pytorch_notes.plots import show_images

# what the model sees, before Normalize
to_view = Compose([Resize((28, 28)), ToTensor()])
views = torch.stack([to_view(Image.open(path).convert("L")) for path in paths])
titles = [
    f"{c} ({p:.2f})"
    for c, p in zip(
        top_classes[:, 0].tolist(), top_probabilities[:, 0].tolist()
    )
]
figure = show_images(views, titles=titles, ncols=8)
# --8<-- [end:figure]

# %%
# --8<-- [start:mistake-eval]
torch.manual_seed(0)
tiny = nn.Sequential(
    nn.Linear(4, 16), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(16, 3)
)
sample = torch.randn(1, 4)
assert tiny.training
with torch.no_grad():
    # still in train mode: a new dropout mask each call
    first, second = tiny(sample), tiny(sample)
    tiny.eval()
    third, fourth = tiny(sample), tiny(sample)
assert not torch.equal(first, second)
assert torch.equal(third, fourth)  # eval(): Dropout passes everything through
print(
    "train mode:",
    [round(v, 3) for v in first[0].tolist()],
    [round(v, 3) for v in second[0].tolist()],
)
print(
    "eval mode: ",
    [round(v, 3) for v in third[0].tolist()],
    [round(v, 3) for v in fourth[0].tolist()],
)
# --8<-- [end:mistake-eval]

# %%
# --8<-- [start:mistake-normalize]
val_labels = labels[2000:]
rows = torch.arange(len(val_labels))
with torch.inference_mode():
    right = restored((val_images - mean) / std).softmax(dim=1)  # as in training
    wrong = restored(val_images).softmax(dim=1)  # Normalize forgotten: [0, 1]
results = {}
for name, probs in [("with Normalize", right), ("without Normalize", wrong)]:
    results[name] = (
        (probs.argmax(dim=1) == val_labels).float().mean().item(),  # accuracy
        probs[rows, val_labels].mean().item(),  # mean probability of the truth
        probs.max(dim=1).values.mean().item(),  # mean top probability
    )
    print(
        f"{name:18s} accuracy {results[name][0]:.3f}, probability of "
        f"the true digit {results[name][1]:.3f}, top {results[name][2]:.3f}"
    )
good, bad = results["with Normalize"], results["without Normalize"]
assert abs(bad[0] - good[0]) < 0.05  # accuracy alone hides the mistake ...
assert bad[1] < good[1] - 0.2  # ... the probabilities do not
assert bad[2] < good[2] - 0.2  # flatter: even the top answer is unsure
assert bad[2] < bad[0] - 0.2  # and far below how often it is right
# --8<-- [end:mistake-normalize]

# %%
# --8<-- [start:mistake-missing]
# Like the original notes' moli_29.pth: a checkpoint never written here.
missing = "checkpoints/inference/lenet-epoch-30.pt"
assert not Path(missing).exists()
with expect_error(FileNotFoundError, "no checkpoint at"):
    load_checkpoint(missing, LeNet())
with expect_error(FileNotFoundError, "No such file"):
    torch.load(missing, weights_only=True)
# --8<-- [end:mistake-missing]
