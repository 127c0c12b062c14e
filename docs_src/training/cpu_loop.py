# %% [markdown]
# # Full training on the CPU
# Book page: training/cpu-loop

# %%
# --8<-- [start:data]
import math
import shutil

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import ToTensor

from pytorch_notes import seed_everything
from pytorch_notes.datasets import cifar10

train_size, val_size = 256, 128  # full scale: 45_000 and 5_000
cifar = cifar10(train=True, transform=ToTensor())
train_set = Subset(cifar, range(train_size))
# held out, never trained on
val_set = Subset(cifar, range(train_size, train_size + val_size))
train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
val_loader = DataLoader(val_set, batch_size=64)

images, labels = next(iter(val_loader))
assert images.shape == (64, 3, 32, 32) and labels.shape == (64,)
assert (
    len(train_loader) == train_size // 32 and len(val_loader) == val_size // 64
)
assert len(cifar.classes) == 10
print(
    f"{len(train_set)} training images in {len(train_loader)} batches, "
    f"{len(val_set)} validation images in {len(val_loader)} batches"
)
# --8<-- [end:data]

# %%
# --8<-- [start:setup]
from pytorch_notes.models import Moli

seed_everything(0)
model = Moli()
loss_fn = nn.CrossEntropyLoss()  # built once, before the loop
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
assert model.training  # a new module starts in train mode
print(f"Moli: {sum(p.numel() for p in model.parameters()):,} parameters")
# --8<-- [end:setup]

# %%
# --8<-- [start:train-epoch]
model.train()
total_loss, correct, seen = 0.0, 0, 0
for images, labels in train_loader:
    optimizer.zero_grad()  # 1. forget the previous batch's gradients
    logits = model(images)  # 2. forward pass: (32, 10) scores
    loss = loss_fn(logits, labels)  # 3. the batch's mean loss, one number
    loss.backward()  # 4. a gradient for every parameter
    optimizer.step()  # 5. move the parameters
    # .item(): a float, so the graph can be freed
    total_loss += loss.item() * len(labels)
    correct += (logits.argmax(dim=1) == labels).sum().item()
    seen += len(labels)
train_loss, train_accuracy = total_loss / seen, correct / seen

assert seen == len(train_set) and type(total_loss) is float
# one short epoch: still near a uniform guess, ln 10
assert abs(train_loss - math.log(10)) < 0.3
print(
    f"epoch 1 by hand: train loss {train_loss:.4f}, "
    f"train accuracy {train_accuracy:.3f}"
)
# --8<-- [end:train-epoch]

# %%
# --8<-- [start:eval-pass]
model.eval()
total_loss, correct, seen = 0.0, 0, 0
with torch.no_grad():
    for images, labels in val_loader:
        logits = model(images)
        total_loss += loss_fn(logits, labels).item() * len(labels)
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += len(labels)
val_loss, val_accuracy = total_loss / seen, correct / seen

# no graph was recorded
assert logits.grad_fn is None and not logits.requires_grad
# eval() alone does not stop the recording
assert model(images).grad_fn is not None
print(
    f"epoch 1 by hand: val loss {val_loss:.4f}, val accuracy {val_accuracy:.3f}"
)
# --8<-- [end:eval-pass]

# %%
# --8<-- [start:modes]
model.train()
assert all(module.training for module in model.modules())
model.eval()  # the same as model.train(False)
assert not any(module.training for module in model.modules())
assert len(list(model.modules())) == 15  # Moli, its Sequential, and 13 layers
print("modules switched:", len(list(model.modules())))

with torch.no_grad():
    in_eval = model(images)
    in_train = model.train()(images)  # train() returns the model itself
# Moli has no Dropout or BatchNorm: the modes agree
assert torch.equal(in_train, in_eval)

torch.manual_seed(0)
dropout = nn.Dropout(p=0.5)
ones = torch.ones(1000)
dropped = dropout.train()(ones)
# zeros, and survivors scaled by 1/(1-p)
assert set(dropped.unique().tolist()) == {0.0, 2.0}
assert abs(dropped.mean().item() - 1) < 0.1  # on average, unchanged
# eval(): passes everything through
assert torch.equal(dropout.eval()(ones), ones)
# --8<-- [end:modes]

# %%
# --8<-- [start:fit]
from pytorch_notes.training import evaluate, fit

# the model trained by hand, measured by the helper
scores = evaluate(model, val_loader, loss_fn)
assert (
    abs(scores["loss"] - val_loss) < 1e-6 and scores["accuracy"] == val_accuracy
)

# a rerun starts from scratch
shutil.rmtree("runs/cpu_loop", ignore_errors=True)
shutil.rmtree("checkpoints/cpu_loop", ignore_errors=True)
seed_everything(0)
model = Moli()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
in_order = DataLoader(train_set, batch_size=64)  # training images, in order
untrained = evaluate(model, in_order, loss_fn)
history = fit(
    model,
    train_loader,
    loss_fn,
    optimizer,
    epochs=2,
    val_loader=val_loader,
    checkpoint_dir="checkpoints/cpu_loop",
    log_dir="runs/cpu_loop",
)

assert [record["epoch"] for record in history] == [1, 2]
assert history[0].keys() == {
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
}
trained = evaluate(model, in_order, loss_fn)  # the same images, final weights
assert trained["loss"] < untrained["loss"]
assert not model.training  # evaluate() leaves the model in eval mode
for record in history:
    print({name: round(value, 4) for name, value in record.items()})
print(
    f"loss on the training images: {untrained['loss']:.4f} untrained, "
    f"{trained['loss']:.4f} after 2 epochs"
)
# --8<-- [end:fit]

# %%
# --8<-- [start:checkpoints]
from pathlib import Path

files = sorted(path.name for path in Path("checkpoints/cpu_loop").iterdir())
# one per epoch; each temporary file was renamed
assert files == ["epoch-001.pt", "epoch-002.pt"]

state = torch.load("checkpoints/cpu_loop/epoch-002.pt", weights_only=True)
assert state.keys() == {
    "format",
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "rng",
    "extra",
}
assert state["epoch"] == 2 and state["extra"]["history"] == history
assert state["model"].keys() == model.state_dict().keys()
print(files)
print(sorted(state))
# --8<-- [end:checkpoints]

# %%
# --8<-- [start:resume]
from pytorch_notes.checkpoints import latest_checkpoint

assert latest_checkpoint("checkpoints/cpu_loop").name == "epoch-002.pt"
# nothing to resume: fit starts at epoch 1
assert latest_checkpoint("checkpoints/never_written") is None

model = Moli()  # as a new process would: fresh objects, the same folders
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
images_seen = []
model.register_forward_pre_hook(
    lambda module, inputs: images_seen.append(len(inputs[0]))
)
resumed = fit(
    model,
    train_loader,
    loss_fn,
    optimizer,
    epochs=3,
    val_loader=val_loader,
    checkpoint_dir="checkpoints/cpu_loop",
    log_dir="runs/cpu_loop",
)

assert [record["epoch"] for record in resumed] == [1, 2, 3]
assert resumed[:2] == history  # epochs 1 and 2 come back from the checkpoint
# this call trained and evaluated one epoch
assert sum(images_seen) == len(train_set) + len(val_set)
adam_steps = optimizer.state[next(model.parameters())]["step"]
# 8 steps ran here, 16 were restored from the file
assert adam_steps == 3 * len(train_loader)
final = evaluate(model, in_order, loss_fn)
assert final["loss"] < untrained["loss"]  # training did lower it
history = resumed
print(f"epoch 3: val accuracy {history[-1]['val_accuracy']:.3f}")
print(
    f"loss on the training images: {untrained['loss']:.4f} untrained, "
    f"{final['loss']:.4f} after 3 epochs"
)
# --8<-- [end:resume]

# %%
# --8<-- [start:tensorboard]
from pytorch_notes.logs import read_scalars

scalars = read_scalars("runs/cpu_loop")
assert scalars.keys() == {
    "loss/train",
    "loss/val",
    "accuracy/train",
    "accuracy/val",
}
for tag, points in scalars.items():
    metric, split = tag.split("/")
    assert [step for step, _ in points] == [1, 2, 3]  # one point per epoch
    for (step, value), record in zip(points, history):
        # stored as float32
        assert abs(value - record[f"{split}_{metric}"]) < 1e-6
# one file per fit() call
assert len(list(Path("runs/cpu_loop").glob("events.out.tfevents.*"))) == 2
for tag, points in sorted(scalars.items()):
    print(f"{tag:15s}", [round(value, 3) for _, value in points])
# --8<-- [end:tensorboard]

# %%
# --8<-- [start:tqdm]
import contextlib
import io

from tqdm import tqdm

out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    for step in tqdm(range(8), desc="epoch 1/3"):
        pass
    # what fit(progress=False) does
    for step in tqdm(range(8), desc="quiet", disable=True):
        pass
# the bar went to stderr ...
assert "epoch 1/3" in err.getvalue() and "8/8" in err.getvalue()
assert out.getvalue() == ""  # ... and nothing to stdout
assert "quiet" not in err.getvalue()
print(
    f"bar on stderr: {'epoch 1/3' in err.getvalue()}; "
    f"stdout: {out.getvalue()!r}"
)
# --8<-- [end:tqdm]

# %%
# --8<-- [start:curves]
import matplotlib.pyplot as plt

epochs = [record["epoch"] for record in history]
fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3))
for split in ("train", "val"):
    left.plot(
        epochs,
        [record[f"{split}_loss"] for record in history],
        "o-",
        label=split,
    )
    right.plot(
        epochs,
        [record[f"{split}_accuracy"] for record in history],
        "o-",
        label=split,
    )
left.set_ylabel("cross-entropy")
right.set_ylabel("accuracy")
right.axhline(0.1, color="gray", linestyle=":", label="chance")
for axis in (left, right):
    axis.set_xlabel("epoch")
    axis.set_xticks(epochs)
    axis.legend()
fig.tight_layout()
# in a script: save the figure once, after training
fig.savefig("runs/cpu_loop/curves.png")
# --8<-- [end:curves]
