# %% [markdown]
# # Device-agnostic training with .to(device)
# Book page: training/device-agnostic

# %%
# --8<-- [start:device]
import torch

from pytorch_notes import available_devices, expect_error, pick_device

# chosen once, here
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
assert device.type in available_devices()

best = pick_device()  # CUDA, else Apple's MPS, else the CPU
if torch.cuda.is_available():
    assert best.type == "cuda"
elif torch.backends.mps.is_available():
    assert best.type == "mps"
else:
    assert best == torch.device("cpu")
# or ask for one explicitly ...
assert pick_device("cpu") == torch.device("cpu")
missing = "cuda:99" if torch.cuda.is_available() else "cuda"
# ... and hear at once if it is not there
with expect_error(ValueError, missing):
    pick_device(missing)
# PyTorch 2.6+: the same idea for any accelerator (CUDA, MPS, XPU, ...)
if torch.accelerator.is_available():
    accelerator = torch.accelerator.current_accelerator()
else:
    accelerator = torch.device("cpu")
if accelerator.type in ("cuda", "mps", "cpu"):
    assert accelerator.type == best.type  # agrees with pick_device()
print(
    "device:",
    device,
    "| pick_device():",
    best,
    "| available here:",
    available_devices(),
)
print("torch.accelerator:", accelerator)
# --8<-- [end:device]

# %%
# --8<-- [start:create]
torch.manual_seed(0)
noise = torch.randn(4, 3, device=device)  # made where it is needed: no copy
moved = torch.randn(4, 3).to(device)  # made on the CPU, then copied over
assert noise.device.type == moved.device.type == device.type
if device.type == "cuda":
    # "cuda" has no index
    assert noise.device == torch.device("cuda:0") and noise.device != device

total = noise.sum()  # a 0-d tensor, still on the device
value = total.item()  # a Python float: waits for the device, copies one number
as_array = noise.cpu().numpy()  # NumPy only reads host memory
assert isinstance(value, float) and total.device.type == device.type
assert as_array.shape == (4, 3) and abs(as_array.sum() - value) < 1e-5
print(
    f"sum on {total.device.type}: {value:.4f} | "
    f"as NumPy: {as_array.dtype}, {as_array.shape}"
)
# --8<-- [end:create]

# %%
# --8<-- [start:hard-coded]
NO_CUDA_MESSAGES = (
    # a CPU-only build of PyTorch (AssertionError)
    "Torch not compiled with CUDA enabled",
    # a CUDA build on a machine without an NVIDIA driver
    "Found no NVIDIA driver",
    "No CUDA GPUs are available",  # a driver, but no visible GPU
)


def hard_coded_batch():
    # the original notes' version: "cuda" written into the code
    hard_coded = torch.device("cuda")
    return torch.zeros(2, 3).to(hard_coded)


if torch.cuda.is_available():
    assert hard_coded_batch().device.type == "cuda"
    print(
        "CUDA is available here, so the hard-coded version runs; "
        "on a CPU-only machine it crashes"
    )
else:
    # naming the device is fine; using it is not
    assert torch.device("cuda").type == "cuda"
    with expect_error(Exception) as crash:
        hard_coded_batch()
    assert isinstance(crash.error, (RuntimeError, AssertionError))
    assert any(message in str(crash.error) for message in NO_CUDA_MESSAGES)
    # the device variable just works
    assert torch.zeros(2, 3).to(device).device.type == "cpu"
# --8<-- [end:hard-coded]

# %%
# --8<-- [start:loader]
import warnings

from torch.utils.data import DataLoader, Subset
from torchvision.transforms import ToTensor

from pytorch_notes.datasets import cifar10

cifar = cifar10(train=True, transform=ToTensor())
train_set, val_set = Subset(cifar, range(64)), Subset(cifar, range(64, 96))

on_cuda = device.type == "cuda"  # pinned memory only helps host-to-GPU copies
train_loader = DataLoader(
    train_set,
    batch_size=32,
    shuffle=True,
    pin_memory=on_cuda,
    generator=torch.Generator().manual_seed(0),
)
val_loader = DataLoader(val_set, batch_size=32, pin_memory=on_cuda)

images, labels = next(iter(train_loader))
assert images.is_pinned() == on_cuda
images, labels = (
    images.to(device, non_blocking=on_cuda),
    labels.to(device, non_blocking=on_cuda),
)
assert images.device.type == labels.device.type == device.type

# asking anyway on a machine without a GPU
if not torch.accelerator.is_available():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch, _ = next(
            iter(DataLoader(train_set, batch_size=4, pin_memory=True))
        )
    assert not batch.is_pinned()  # nothing to pin for
    warned = any("pin_memory" in str(w.message) for w in caught)
    print(f"pin_memory=True without a GPU: nothing pinned; warning: {warned}")
print(
    "batch:",
    tuple(images.shape),
    "on",
    images.device.type,
    "| pinned before the copy:",
    on_cuda,
)
# --8<-- [end:loader]

# %%
# --8<-- [start:train]
import torch.nn as nn

from pytorch_notes import seed_everything
from pytorch_notes.models import Moli
from pytorch_notes.training import evaluate, fit

seed_everything(0)
model = Moli().to(device)  # first the move ...
# ... then the optimizer
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
in_order = DataLoader(train_set, batch_size=64)  # all 64 training images
before = evaluate(model, in_order, loss_fn, device)
history = fit(
    model,
    train_loader,
    loss_fn,
    optimizer,
    epochs=2,
    val_loader=val_loader,
    device=device,
    progress=False,
)
after = evaluate(model, in_order, loss_fn, device)

assert [record["epoch"] for record in history] == [1, 2]
assert after["loss"] < before["loss"]  # the same images, before and after
assert all(p.device.type == device.type for p in model.parameters())
for record in history:
    print(
        f"epoch {record['epoch']}: train loss {record['train_loss']:.3f}, "
        f"val accuracy {record['val_accuracy']:.3f}"
    )
print(
    f"loss on the 64 training images: {before['loss']:.3f} -> "
    f"{after['loss']:.3f}"
)
# --8<-- [end:train]

# %%
# --8<-- [start:results]
model.eval()
# all 32 validation images in one batch
val_images, val_labels = next(iter(val_loader))
with torch.no_grad():
    logits = model(val_images.to(device))
# back to the CPU to compare, print or plot
predicted = logits.argmax(dim=1).cpu()
accuracy = (predicted == val_labels).float().mean().item()
assert predicted.device.type == "cpu" and logits.device.type == device.type
assert abs(accuracy - history[-1]["val_accuracy"]) < 1e-6  # what fit measured
names = [cifar.classes[i] for i in predicted[:4].tolist()]
print("first predictions:", names, f"| accuracy {accuracy:.3f}")
# --8<-- [end:results]

# %%
# --8<-- [start:checkpoint]
import shutil

from pytorch_notes.checkpoints import atomic_save

shutil.rmtree("checkpoints/device-agnostic", ignore_errors=True)
path = atomic_save(model.state_dict(), "checkpoints/device-agnostic/moli.pt")

# straight onto this machine's device
state = torch.load(path, map_location=device, weights_only=True)
assert all(tensor.device.type == device.type for tensor in state.values())
# e.g. a GPU checkpoint on a laptop
on_cpu = torch.load(path, map_location="cpu", weights_only=True)
assert all(tensor.device.type == "cpu" for tensor in on_cpu.values())

restored = Moli().to(device)
# copies into the existing parameters, wherever they live
restored.load_state_dict(on_cpu)
assert all(p.device.type == device.type for p in restored.parameters())
restored.eval()
with torch.no_grad():
    assert torch.equal(restored(val_images.to(device)), logits)
print("saved", path.as_posix(), "| loaded onto", device.type, "and onto cpu")
# --8<-- [end:checkpoint]

# %%
# --8<-- [start:determinism]
import torch.nn.functional as F

few_images = torch.stack([train_set[i][0] for i in range(16)])
few_labels = torch.tensor([train_set[i][1] for i in range(16)])


def train_a_few_steps(on, steps=3):
    """Seeded: the same initial weights (made on the CPU), the same batch,
    three SGD steps on `on`."""
    seed_everything(0)
    net = Moli().to(on)
    sgd = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x, y = few_images.to(on), few_labels.to(on)
    for _ in range(steps):
        sgd.zero_grad()
        F.cross_entropy(net(x), y).backward()
        sgd.step()
    return [p.detach().cpu() for p in net.parameters()]


first, second = train_a_few_steps(device), train_a_few_steps(device)
if device.type == "cpu":
    assert all(torch.equal(a, b) for a, b in zip(first, second))  # bit for bit
else:
    assert all(
        torch.allclose(a, b, rtol=1e-4, atol=1e-6)
        for a, b in zip(first, second)
    )
print(
    "two seeded runs on",
    device.type,
    "give identical weights:",
    all(torch.equal(a, b) for a, b in zip(first, second)),
)

if torch.cuda.is_available():
    on_cpu = train_a_few_steps("cpu")
    gap = max((a - b).abs().max().item() for a, b in zip(first, on_cpu))
    # close, but not bitwise equal: other kernels, other rounding
    assert gap < 1e-3
    print(f"largest weight difference CPU vs CUDA: {gap:.1e}")
# --8<-- [end:determinism]
