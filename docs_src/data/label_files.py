# %% [markdown]
# # Label files for ants and bees
# Book page: data/label-files

# %%
# --8<-- [start:source]
from pathlib import Path

from torchvision.datasets import ImageFolder

from pytorch_notes.datasets import hymenoptera_folder

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def images_in(folder):
    """The image files of a folder, sorted by name (listing order differs
    between systems)."""
    return sorted(
        p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )


source = hymenoptera_folder() / "train"  # train/ants/*.jpg, train/bees/*.jpg
classes = sorted(p.name for p in source.iterdir() if p.is_dir())
source_counts = {name: len(images_in(source / name)) for name in classes}
assert classes == ["ants", "bees"]
assert all(count > 0 for count in source_counts.values())

# In this layout the label *is* the folder name, which is what ImageFolder
# reads.
folder_dataset = ImageFolder(source)
assert folder_dataset.classes == classes
assert len(folder_dataset) == sum(source_counts.values())
for path, index in folder_dataset.samples:
    assert Path(path).parent.name == classes[index]
print("images per class:", source_counts)
# --8<-- [end:source]

# %%
# --8<-- [start:paths]
from pathlib import PurePosixPath, PureWindowsPath

from pytorch_notes import expect_error

# The original notes wrote "train\\ants_label": on Linux and macOS that is
# ONE name with a backslash in it.
assert PureWindowsPath("train\\ants_label").parts == ("train", "ants_label")
assert PurePosixPath("train\\ants_label").parts == ("train\\ants_label",)
# The / operator joins with the separator of the system the code runs on.
assert (Path("train") / "ants_label").parts == ("train", "ants_label")

# Writing into a folder that does not exist fails; mkdir(parents=True) creates
# the whole chain.
missing = Path("data/not_there/ants_label/0001.txt")
with expect_error(FileNotFoundError, "not_there"):
    missing.write_text("ants\n")
demo = Path("data/mkdir_demo/a/b")
demo.mkdir(parents=True, exist_ok=True)
with expect_error(FileExistsError, "mkdir_demo"):
    # a second run must not fail: that is what exist_ok=True is for
    demo.mkdir(parents=True)
demo.mkdir(parents=True, exist_ok=True)
# --8<-- [end:paths]

# %%
# --8<-- [start:generate]
import shutil


def write_labelled_copy(source, target):
    """Copy source/<class>/*.jpg to target/<class>_image/ and write
    target/<class>_label/<stem>.txt."""
    for class_dir in sorted(p for p in Path(source).iterdir() if p.is_dir()):
        class_name = class_dir.name
        image_dir = Path(target) / f"{class_name}_image"
        label_dir = Path(target) / f"{class_name}_label"
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for image_path in images_in(class_dir):
            shutil.copyfile(image_path, image_dir / image_path.name)
            (label_dir / f"{image_path.stem}.txt").write_text(class_name + "\n")


def snapshot(folder):
    """Every file under folder, as {relative path: bytes}."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


labelled = Path("data/ants_bees_labelled/train")
# start clean, so the script can be rerun
shutil.rmtree(labelled, ignore_errors=True)
write_labelled_copy(source, labelled)
first = snapshot(labelled)
# idempotent: a second run changes nothing
write_labelled_copy(source, labelled)
assert snapshot(labelled) == first

assert sorted(p.name for p in labelled.iterdir()) == [
    "ants_image",
    "ants_label",
    "bees_image",
    "bees_label",
]
for class_name in classes:
    images = images_in(labelled / f"{class_name}_image")
    labels = sorted((labelled / f"{class_name}_label").glob("*.txt"))
    # one label per image, none lost
    assert len(images) == len(labels) == source_counts[class_name]
    # stems match one to one
    assert [p.stem for p in images] == [p.stem for p in labels]
    assert all(p.read_text() == class_name + "\n" for p in labels)
    print(f"{class_name}: {len(images)} images, {len(labels)} label files")
print("files under", labelled.as_posix() + ":", len(first))
# --8<-- [end:generate]


# %%
# --8<-- [start:read]
def read_label(label_path):
    """The class name stored in a label file (surrounding whitespace and
    newline removed)."""
    return Path(label_path).read_text(encoding="utf-8").strip()


example = images_in(labelled / "bees_image")[0]
example_label = labelled / "bees_label" / f"{example.stem}.txt"
assert read_label(example_label) == "bees"
# what is on disk; strip() removes the newline
assert example_label.read_text() == "bees\n"
print(f"{example.name} -> {example_label.name}: {read_label(example_label)!r}")
# --8<-- [end:read]

# %%
# --8<-- [start:csv]
import csv

csv_path = labelled / "labels.csv"
# newline="": the csv module writes the line ends
with open(csv_path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["filename", "label"])
    for class_name in classes:
        for image_path in images_in(labelled / f"{class_name}_image"):
            writer.writerow(
                [f"{class_name}_image/{image_path.name}", class_name]
            )

with open(csv_path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))

# DictReader takes the keys from the header row
assert list(rows[0]) == ["filename", "label"]
assert len(rows) == sum(source_counts.values())  # one row per image
# csv ends every row with \r\n itself
assert csv_path.read_bytes().count(b"\r\n") == len(rows) + 1
for row in rows:
    image_path = labelled / row["filename"]
    class_name = image_path.parent.name.removesuffix("_image")
    assert image_path.is_file()
    assert row["label"] == read_label(
        labelled / f"{class_name}_label" / f"{image_path.stem}.txt"
    )
print(*csv_path.read_text().splitlines()[:3], sep="\n")
# --8<-- [end:csv]


# %%
# --8<-- [start:check]
def find_problems(root, classes):
    """Every image needs a label file with a known class, and every label
    file an image."""
    problems = []
    for class_name in classes:
        image_stems = {p.stem for p in images_in(root / f"{class_name}_image")}
        label_paths = {
            p.stem: p for p in (root / f"{class_name}_label").glob("*.txt")
        }
        for stem in sorted(image_stems - label_paths.keys()):
            problems.append(
                f"{class_name}_image/{stem}: image without a label file"
            )
        for stem in sorted(label_paths.keys() - image_stems):
            problems.append(
                f"{class_name}_label/{stem}.txt: label file without an image"
            )
        for stem in sorted(image_stems & label_paths.keys()):
            if read_label(label_paths[stem]) not in classes:
                problems.append(
                    f"{class_name}_label/{stem}.txt: unknown class "
                    f"{read_label(label_paths[stem])!r}"
                )
    return problems


assert find_problems(labelled, classes) == []

broken = Path("data/ants_bees_broken/train")
shutil.rmtree(broken, ignore_errors=True)
shutil.copytree(labelled, broken)
ant_images = images_in(broken / "ants_image")
bee_images = images_in(broken / "bees_image")
# an image loses its label
(broken / "ants_label" / f"{ant_images[0].stem}.txt").unlink()
bee_images[0].unlink()  # a label loses its image
# a typo-level mistake
(broken / "bees_label" / f"{bee_images[1].stem}.txt").write_text("wasps\n")

problems = find_problems(broken, classes)
assert problems == [
    f"ants_image/{ant_images[0].stem}: image without a label file",
    f"bees_label/{bee_images[0].stem}.txt: label file without an image",
    f"bees_label/{bee_images[1].stem}.txt: unknown class 'wasps'",
]
# Unchecked, the same mistakes surface later: a crash mid-epoch, or a third
# class out of nowhere.
with expect_error(FileNotFoundError, ant_images[0].stem):
    read_label(broken / "ants_label" / f"{ant_images[0].stem}.txt")
assert sorted({read_label(p) for p in broken.glob("*_label/*.txt")}) == [
    "ants",
    "bees",
    "wasps",
]
print(f"{len(problems)} problems found:")
for problem in problems:
    print(" ", problem)
# --8<-- [end:check]

# %%
# --8<-- [start:figure]
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from pytorch_notes.plots import show_images

picked = [
    (name, path)
    for name in classes
    for path in images_in(labelled / f"{name}_image")[:4]
]
tensors, titles, sizes = [], [], set()
for class_name, image_path in picked:
    with Image.open(image_path) as image:
        sizes.add(image.size)
        # short side 96, then the middle
        small = TF.center_crop(TF.resize(image.convert("RGB"), 96), 96)
    tensors.append(TF.to_tensor(small))
    titles.append(
        read_label(labelled / f"{class_name}_label" / f"{image_path.stem}.txt")
    )

batch = torch.stack(tensors)
assert len(sizes) > 1  # the photos come in different sizes
assert any(w != h for w, h in sizes)  # not square: the crop cuts the long side
assert batch.shape == (8, 3, 96, 96) and 0 <= batch.min() and batch.max() <= 1
assert titles == ["ants"] * 4 + ["bees"] * 4
figure = show_images(batch, titles, ncols=4, size=1.8)
# --8<-- [end:figure]
