# %% [markdown]
# # A custom Dataset
# Book page: data/custom-dataset

# %%
# --8<-- [start:folder]
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from pytorch_notes.datasets import hymenoptera_folder

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class FolderDataset(Dataset):
    """The images of root/<class_name>/, each as (PIL image, class_name)."""

    def __init__(self, root, class_name):
        self.class_name = class_name
        folder = Path(root) / class_name
        # sorted: the order of a directory listing differs between systems and
        # runs
        self.paths = sorted(
            p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
        )

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        # the with block closes the file
        with Image.open(self.paths[index]) as image:
            return image.convert("RGB"), self.class_name


train = hymenoptera_folder() / "train"
ants = FolderDataset(train, "ants")
bees = FolderDataset(train, "bees")
# counting files is enough
assert len(ants) == len(list((train / "ants").glob("*.jpg")))
assert len(bees) == len(list((train / "bees").glob("*.jpg")))

image, label = ants[0]
assert isinstance(image, Image.Image) and label == "ants"
assert image.mode == "RGB" and len(image.getbands()) == 3
width, height = image.size  # PIL says (width, height) ...
# ... NumPy says (height, width, channels)
assert np.asarray(image).shape == (height, width, 3)
# any mode -> 3 channels
assert Image.new("RGBA", (5, 3)).convert("RGB").getbands() == ("R", "G", "B")
print(
    f"{len(ants)} ants, {len(bees)} bees; "
    f"ants[0] is a {image.mode} image of {width}x{height}, label {label!r}"
)
# --8<-- [end:folder]

# %%
# --8<-- [start:label_files]
import shutil

labelled = Path("data/custom_dataset/train")
shutil.rmtree(labelled, ignore_errors=True)
for name, dataset in [("ants", ants), ("bees", bees)]:
    for folder in (labelled / f"{name}_image", labelled / f"{name}_label"):
        folder.mkdir(parents=True, exist_ok=True)
    for path in dataset.paths[:4]:  # a few are enough here
        shutil.copyfile(path, labelled / f"{name}_image" / path.name)
        (labelled / f"{name}_label" / f"{path.stem}.txt").write_text(
            name + "\n"
        )


class LabelFileDataset(Dataset):
    """Images in root/image_dir/, the label of x.jpg in root/label_dir/x.txt."""

    def __init__(self, root, image_dir, label_dir):
        self.label_dir = Path(root) / label_dir
        self.paths = sorted(
            p
            for p in (Path(root) / image_dir).iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES
        )

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        label = (
            (self.label_dir / f"{path.stem}.txt")
            .read_text(encoding="utf-8")
            .strip()
        )
        with Image.open(path) as image:
            return image.convert("RGB"), label


labelled_ants = LabelFileDataset(labelled, "ants_image", "ants_label")
labelled_bees = LabelFileDataset(labelled, "bees_image", "bees_label")
assert len(labelled_ants) == len(labelled_bees) == 4
assert [labelled_ants[i][1] for i in range(4)] == ["ants"] * 4
assert labelled_bees[0][1] == "bees"
# the same picture
assert np.array_equal(np.asarray(labelled_ants[0][0]), np.asarray(ants[0][0]))
print("label of", labelled_bees.paths[0].name, "->", repr(labelled_bees[0][1]))
# --8<-- [end:label_files]

# %%
# --8<-- [start:concat]
from torch.utils.data import ConcatDataset

from pytorch_notes import expect_error

train_set = ants + bees
assert isinstance(train_set, ConcatDataset)
assert len(train_set) == len(ants) + len(bees)
assert train_set.cumulative_sizes == [len(ants), len(ants) + len(bees)]

# Index i < len(ants) goes to ants[i]; the rest to bees[i - len(ants)].
first_bee, bee_label = train_set[len(ants)]
assert bee_label == "bees" and train_set[len(ants) - 1][1] == "ants"
assert np.array_equal(np.asarray(first_bee), np.asarray(bees[0][0]))
assert np.array_equal(np.asarray(train_set[-1][0]), np.asarray(bees[-1][0]))
print(f"len(ants + bees) = {len(train_set)}; item {len(ants)} is bees[0]")


# has __getitem__ and __len__, but does not inherit from Dataset
class NotADataset:
    def __getitem__(self, index):
        return index

    def __len__(self):
        return 1


with expect_error(TypeError, "unsupported operand"):
    NotADataset() + NotADataset()  # the + comes from Dataset.__add__
# --8<-- [end:concat]

# %%
# --8<-- [start:transform]
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, default_collate
from torchvision import transforms
from torchvision.datasets import ImageFolder


class AntsBeesDataset(Dataset):
    """root/<class>/*.jpg as (image, class index), like ImageFolder;
    transform is applied to the image."""

    def __init__(self, root, transform=None):
        self.classes = sorted(
            p.name for p in Path(root).iterdir() if p.is_dir()
        )
        self.class_to_idx = {
            name: index for index, name in enumerate(self.classes)
        }
        self.samples = [
            (path, self.class_to_idx[name])
            for name in self.classes
            for path in sorted((Path(root) / name).iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES
        ]
        self.targets = [target for _, target in self.samples]
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        with Image.open(path) as image:
            image = image.convert("RGB")
        if self.transform is not None:
            image = self.transform(image)
        return image, target


to_small_tensor = transforms.Compose(
    [transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor()]
)
ours = AntsBeesDataset(train, transform=to_small_tensor)
theirs = ImageFolder(train, transform=to_small_tensor)
assert len(ours) == len(theirs) == len(train_set)
assert ours.classes == theirs.classes == ["ants", "bees"]
assert ours.class_to_idx == theirs.class_to_idx == {"ants": 0, "bees": 1}
assert ours.targets == theirs.targets
assert [str(path) for path, _ in ours.samples] == [
    path for path, _ in theirs.samples
]
for index in (0, len(ours) - 1):
    assert (
        torch.equal(ours[index][0], theirs[index][0])
        and ours[index][1] == theirs[index][1]
    )

# Integer labels batch into a tensor, which is what a loss needs; strings stay a
# list.
loader = DataLoader(
    ours, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)
)
images, targets = next(iter(loader))
assert images.shape == (4, 3, 64, 64) and targets.dtype == torch.int64
assert (
    set(targets.tolist()) <= {0, 1} and 0 <= images.min() and images.max() <= 1
)
# a model that cannot decide: loss = ln 2
loss = F.cross_entropy(torch.zeros(4, 2), targets)
assert torch.isclose(loss, torch.log(torch.tensor(2.0)))
assert default_collate(["ants", "bees"]) == ["ants", "bees"]
with expect_error(ValueError, "too many dimensions 'str'"):
    torch.tensor(["ants", "bees"])
print(
    "class_to_idx:",
    ours.class_to_idx,
    "| batch:",
    tuple(images.shape),
    targets.tolist(),
)
# --8<-- [end:transform]

# %%
# --8<-- [start:index_error]
from itertools import islice

with expect_error(IndexError, "list index out of range"):
    labelled_ants[len(labelled_ants)]  # one past the end

# A Dataset has no __iter__: `for x in dataset` calls dataset[0], dataset[1],
# ... until IndexError.
seen = [label for _, label in labelled_ants]
assert seen == ["ants"] * len(labelled_ants)


class Wraparound(Dataset):
    """A bug: the index wraps around, so no index is ever out of range."""

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return index % len(self)


# len 3, but the loop never ends
assert list(islice(Wraparound(), 7)) == [0, 1, 2, 0, 1, 2, 0]
# a DataLoader uses len()
assert len(list(DataLoader(Wraparound(), batch_size=None))) == 3
print("for-loop over labelled_ants gave", len(seen), "items")
# --8<-- [end:index_error]

# %%
# --8<-- [start:figure]
from pytorch_notes.plots import show_images

indices = [
    0,
    1,
    2,
    3,
    len(ours) - 4,
    len(ours) - 3,
    len(ours) - 2,
    len(ours) - 1,
]
pairs = [ours[i] for i in indices]
batch = torch.stack([image for image, _ in pairs])
titles = [f"{ours.classes[target]} ({target})" for _, target in pairs]
assert batch.shape == (8, 3, 64, 64)
assert titles == ["ants (0)"] * 4 + ["bees (1)"] * 4  # a row of each class
figure = show_images(batch, titles, ncols=4, size=1.8)
# --8<-- [end:figure]
