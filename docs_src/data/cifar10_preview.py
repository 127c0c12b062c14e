# %% [markdown]
# # CIFAR-10 with transforms, previewed in TensorBoard
# Book page: data/cifar10

# %%
# --8<-- [start:load]
from PIL import Image
from torchvision.datasets import CIFAR10

from pytorch_notes.datasets import cifar10

# the real CIFAR10 class when the files are there, else the stand-in
train_set = cifar10(train=True)
test_set = cifar10(train=False)

is_real = isinstance(train_set, CIFAR10)
assert (len(train_set), len(test_set)) == (
    (50_000, 10_000) if is_real else (1000, 1000)
)
print(
    "real CIFAR-10" if is_real else "synthetic stand-in",
    "| train:",
    len(train_set),
    "| test:",
    len(test_set),
)
# --8<-- [end:load]

# %%
# --8<-- [start:item]
image, label = test_set[0]  # no transform: a PIL image and an int
assert (
    isinstance(image, Image.Image)
    and image.mode == "RGB"
    and image.size == (32, 32)
)
assert isinstance(label, int) and 0 <= label < 10
if is_real:
    # the first test image of the real set
    assert test_set.classes[label] == "cat"
print(
    type(image).__name__,
    image.mode,
    image.size,
    "| label:",
    label,
    "=",
    test_set.classes[label],
)
# --8<-- [end:item]

# %%
# --8<-- [start:to_tensor]
import numpy as np
import torch
from torchvision import transforms

to_tensor = transforms.ToTensor()
# the dataset calls to_tensor(image) in [i]
tensor_set = cifar10(train=False, transform=to_tensor)
x, same_label = tensor_set[0]
assert (
    isinstance(x, torch.Tensor)
    and x.shape == (3, 32, 32)
    and x.dtype == torch.float32
)
assert same_label == label
assert 0 <= x.min() and x.max() <= 1
# ToTensor = channels first, uint8 [0, 255] -> float [0, 1]
by_hand = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
assert torch.equal(x, by_hand)
# a transform is just a function of the image
assert torch.equal(x, to_tensor(image))
print(
    "image:",
    tuple(x.shape),
    x.dtype,
    f"values in [{x.min():.3f}, {x.max():.3f}]",
    "| label:",
    same_label,
)
# --8<-- [end:to_tensor]

# %%
# --8<-- [start:classes]
from collections import Counter

assert train_set.classes == [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
# one label per image, no images loaded
assert len(train_set.targets) == len(train_set)
names = [train_set.classes[target] for target in train_set.targets[:8]]
print("first labels:", train_set.targets[:8])
print("as names:   ", names)

for split, dataset in [("train", train_set), ("test", test_set)]:
    counts = Counter(dataset.targets)
    assert sorted(counts) == list(range(10))
    assert len(set(counts.values())) == 1  # balanced: every class equally often
    assert sum(counts.values()) == len(dataset)
    print(f"{split}: {counts[0]} images per class")
# --8<-- [end:classes]

# %%
# --8<-- [start:pipeline]
from torchvision.transforms import v2

# per channel (R, G, B), over the 50,000 training images
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

preprocess = v2.Compose(
    [
        v2.ToImage(),  # PIL -> tensor, (C, H, W), still uint8
        v2.ToDtype(torch.float32, scale=True),  # uint8 [0, 255] -> float [0, 1]
        # (x - mean) / std, channel by channel
        v2.Normalize(CIFAR10_MEAN, CIFAR10_STD),
    ]
)
normalized = preprocess(image)
assert isinstance(normalized, torch.Tensor)
assert normalized.shape == (3, 32, 32) and normalized.dtype == torch.float32

# (3, 1, 1) broadcasts over H and W
mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
assert torch.allclose(normalized, (x - mean) / std, atol=1e-6)
# undo Normalize: the ToTensor image again
assert torch.allclose(normalized * std + mean, x, atol=1e-6)
low, high = (0 - mean) / std, (1 - mean) / std  # where 0 and 1 land
assert ((low <= normalized + 1e-6) & (normalized <= high + 1e-6)).all()
print("normalized range:", f"[{normalized.min():.3f}, {normalized.max():.3f}]")
print(
    "possible range per channel:",
    [f"[{a:.2f}, {b:.2f}]" for a, b in zip(low.flatten(), high.flatten())],
)
# --8<-- [end:pipeline]

# %%
# --8<-- [start:statistics]
# (500, 3, 32, 32)
sample = torch.stack([to_tensor(train_set[i][0]) for i in range(500)])
# one number per channel: over images, rows, columns
sample_mean = sample.mean(dim=(0, 2, 3))
sample_std = sample.std(dim=(0, 2, 3))
assert sample_mean.shape == sample_std.shape == (3,)

# what Normalize(CIFAR10_MEAN, CIFAR10_STD) does to each image
rescaled = (sample - mean) / std
assert torch.allclose(
    rescaled.mean(dim=(0, 2, 3)),
    (sample_mean - mean.flatten()) / std.flatten(),
    atol=1e-4,
)
assert torch.allclose(
    rescaled.std(dim=(0, 2, 3)), sample_std / std.flatten(), atol=1e-4
)
# with the sample's own numbers
standardized = v2.Normalize(sample_mean.tolist(), sample_std.tolist())(sample)
assert torch.allclose(
    standardized.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4
)
assert torch.allclose(standardized.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4)

# A common slip: averaging each image's own std gives a smaller, different
# number.
per_image_std = sample.std(dim=(2, 3)).mean(dim=0)
assert (per_image_std < sample_std).all()

# the constants are the statistics of all 50,000 training images (.data is
# uint8, N x H x W x C)
if is_real:
    assert np.allclose(
        train_set.data.mean(axis=(0, 1, 2)) / 255, CIFAR10_MEAN, atol=1e-4
    )
print(
    "first 500 training images, mean:          ",
    [round(v, 4) for v in sample_mean.tolist()],
)
print(
    "first 500 training images, std:           ",
    [round(v, 4) for v in sample_std.tolist()],
)
print(
    "first 500 training images, per-image std: ",
    [round(v, 4) for v in per_image_std.tolist()],
)
# --8<-- [end:statistics]

# %%
# --8<-- [start:tensorboard]
import shutil

from torch.utils.tensorboard import SummaryWriter

from pytorch_notes.logs import read_images

log_dir = "runs/cifar10_preview"
# a rerun starts from an empty folder
shutil.rmtree(log_dir, ignore_errors=True)
with SummaryWriter(log_dir) as writer:
    for i in range(10):
        # ToTensor images in [0, 1], not the normalized ones
        img, target = tensor_set[i]
        assert 0 <= img.min() and img.max() <= 1
        # (C, H, W) is the default dataformats
        writer.add_image("test_set", img, i)

logged = read_images(log_dir)
assert list(logged) == ["test_set"]
# ten positions of the slider
assert [step for step, _ in logged["test_set"]] == list(range(10))
assert all(size == (32, 32) for _, size in logged["test_set"])
print(f"{log_dir}: tag 'test_set', steps 0-9, every image 32x32")
# --8<-- [end:tensorboard]

# %%
# --8<-- [start:grid]
from pytorch_notes.plots import show_images

first = [train_set[i] for i in range(16)]
images = torch.stack([to_tensor(img) for img, _ in first])
titles = [train_set.classes[target] for _, target in first]
figure = show_images(images, titles=titles, ncols=8)
assert len(figure.axes) == 16
# --8<-- [end:grid]
