# %% [markdown]
# # DataLoader: batches, shuffling, workers and TensorBoard
# Book page: data/dataloader

# %%
# --8<-- [start:dataset]
import math

import torch
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import ToTensor
from pytorch_notes.datasets import cifar10

test_data = cifar10(train=False, transform=ToTensor())
classes = test_data.classes
# the real test split has 10,000 images; 1,000 are plenty here
if len(test_data) > 1000:
    test_data = Subset(test_data, range(1000))

# one sample: what the dataset gives, before any batching
image, label = test_data[0]
assert len(test_data) == 1000
assert image.shape == (3, 32, 32) and image.dtype == torch.float32
assert 0 <= image.min() and image.max() <= 1
assert isinstance(label, int) and 0 <= label < len(classes) == 10
print(
    f"{len(test_data)} images; one sample: image {tuple(image.shape)}, "
    f"label {label} ({classes[label]})"
)
# --8<-- [end:dataset]

# %%
# --8<-- [start:batch]
loader = DataLoader(test_data, batch_size=64, shuffle=False)
images, labels = next(iter(loader))  # the first batch

# (N, C, H, W)
assert images.shape == (64, 3, 32, 32) and images.dtype == torch.float32
assert labels.shape == (64,) and labels.dtype == torch.int64

# The default collate function stacked 64 samples along a new first axis.
first_64 = [test_data[i] for i in range(64)]
assert torch.equal(images, torch.stack([image for image, _ in first_64]))
assert labels.tolist() == [label for _, label in first_64]
print("images:", tuple(images.shape), images.dtype)
print("labels:", tuple(labels.shape), labels.dtype, labels[:8].tolist())
# --8<-- [end:batch]

# %%
# --8<-- [start:figure]
from pytorch_notes.plots import show_images

figure = show_images(
    images[:16], titles=[classes[i] for i in labels[:16]], ncols=8
)
assert len(figure.axes) == 16
# --8<-- [end:figure]

# %%
# --8<-- [start:length]
n, batch_size = len(test_data), 64
keep_last = DataLoader(test_data, batch_size=batch_size)
drop_last = DataLoader(test_data, batch_size=batch_size, drop_last=True)

# loader.batch_sampler yields the index lists of the batches: nothing is loaded.
sizes_keep = [len(indices) for indices in keep_last.batch_sampler]
sizes_drop = [len(indices) for indices in drop_last.batch_sampler]

assert len(keep_last) == math.ceil(n / batch_size) == 16
# a short last batch
assert sizes_keep[:-1] == [64] * 15 and sizes_keep[-1] == n - 15 * 64 == 40
assert len(drop_last) == n // batch_size == 15
# 40 images left out this epoch
assert sizes_drop == [64] * 15 and sum(sizes_drop) == 960
print(
    f"drop_last=False: {len(keep_last)} batches, "
    f"last one has {sizes_keep[-1]} images"
)
print(
    f"drop_last=True:  {len(drop_last)} batches, all of {batch_size}, "
    f"{n - sum(sizes_drop)} images unused"
)

# Why drop it: with 1,025 samples the last batch holds one, and BatchNorm1d
# cannot train on one.
import torch.nn as nn
from pytorch_notes import expect_error

assert [
    len(indices)
    for indices in DataLoader(range(1025), batch_size=64).batch_sampler
][-1] == 1
with expect_error(ValueError, "Expected more than 1 value per channel"):
    # a batch of one sample, 3 features
    nn.BatchNorm1d(3).train()(torch.zeros(1, 3))
# --8<-- [end:length]

# %%
# --8<-- [start:shuffle]
# a dataset whose item i is i
order = DataLoader(range(n), batch_size=64, shuffle=True)

torch.manual_seed(0)
# the indices, in the order they came
epochs = [torch.cat(list(order)) for _ in range(2)]
for seen in epochs:
    # every index exactly once
    assert torch.equal(seen.sort().values, torch.arange(n))
assert not torch.equal(epochs[0], epochs[1])  # a new order each epoch

# the global seed drives shuffle=True: the same seed, the same two epochs
torch.manual_seed(0)
assert torch.equal(torch.cat(list(order)), epochs[0])
assert torch.equal(torch.cat(list(order)), epochs[1])
print("epoch 0 starts with", epochs[0][:8].tolist())
print("epoch 1 starts with", epochs[1][:8].tolist())
# --8<-- [end:shuffle]


# %%
# --8<-- [start:generator]
def shuffled_loader(dataset, seed):
    return DataLoader(
        dataset,
        batch_size=64,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


def one_epoch(loader):
    return torch.cat(list(loader))


assert torch.equal(
    one_epoch(shuffled_loader(range(n), 0)),
    one_epoch(shuffled_loader(range(n), 0)),
)
assert not torch.equal(
    one_epoch(shuffled_loader(range(n), 0)),
    one_epoch(shuffled_loader(range(n), 1)),
)

# The loader's own generator leaves the global random state alone (and the other
# way round).
rng_before = torch.get_rng_state()
one_epoch(shuffled_loader(range(n), 0))
assert torch.equal(torch.get_rng_state(), rng_before)

# The same holds for the images: two loaders, same seed, same first batch.
images_a, labels_a = next(iter(shuffled_loader(test_data, 0)))
images_b, labels_b = next(iter(shuffled_loader(test_data, 0)))
assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)
print("seed 0, first batch labels:", labels_a[:8].tolist())
# --8<-- [end:generator]

# %%
# --8<-- [start:collate]
from torch.utils.data import default_collate

samples = [test_data[i] for i in range(4)]  # a list of (image, label) pairs
# what DataLoader does with them
stacked_images, stacked_labels = default_collate(samples)
assert stacked_images.shape == (4, 3, 32, 32) and stacked_labels.tolist() == [
    s[1] for s in samples
]


def collate_to_dict(samples):
    images, labels = zip(*samples)
    return {"images": torch.stack(images), "labels": torch.tensor(labels)}


dict_loader = DataLoader(test_data, batch_size=4, collate_fn=collate_to_dict)
batch = next(iter(dict_loader))
assert torch.equal(batch["images"], stacked_images) and torch.equal(
    batch["labels"], stacked_labels
)
print({name: tuple(value.shape) for name, value in batch.items()})

with expect_error(RuntimeError, "stack expects each tensor to be equal size"):
    # images of different sizes
    default_collate([torch.zeros(3, 32, 32), torch.zeros(3, 28, 28)])
# --8<-- [end:collate]

# %%
# --8<-- [start:workers]
first_128 = Subset(test_data, range(128))
in_main = list(DataLoader(first_128, batch_size=64, num_workers=0))
in_workers = list(DataLoader(first_128, batch_size=64, num_workers=2))

assert len(in_main) == len(in_workers) == 2
for (images_0, labels_0), (images_2, labels_2) in zip(in_main, in_workers):
    assert torch.equal(images_0, images_2) and torch.equal(labels_0, labels_2)
print("num_workers=0 and num_workers=2 give the same", len(in_main), "batches")
# --8<-- [end:workers]

# %%
# --8<-- [start:processes]
import os
from torch.utils.data import Dataset, get_worker_info


class WhoLoadsMe(Dataset):
    """Item i is (i, id of the worker that loaded it, its process id)."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        worker = get_worker_info()  # None in the main process
        return index, -1 if worker is None else worker.id, os.getpid()


def run_epoch(loader):
    batches = list(loader)
    for k, (indices, worker_ids, pids) in enumerate(batches):
        # batch k comes from worker k % 2, in order
        assert (worker_ids == k % 2).all()
    return {int(pid) for _, _, pids in batches for pid in pids}


restarting = DataLoader(WhoLoadsMe(), batch_size=2, num_workers=2)
first, second = run_epoch(restarting), run_epoch(restarting)
assert len(first) == len(second) == 2 and os.getpid() not in first
assert first.isdisjoint(second)  # every epoch starts two new processes

persistent = DataLoader(
    WhoLoadsMe(), batch_size=2, num_workers=2, persistent_workers=True
)
first, second = run_epoch(persistent), run_epoch(persistent)
assert first == second  # the same two processes serve every epoch
del persistent  # ends its workers
print(
    "default: 2 new worker processes per epoch; "
    "persistent_workers=True: the same 2 each epoch"
)
# --8<-- [end:processes]

# %%
# --8<-- [start:tensorboard]
import shutil
from torch.utils.tensorboard import SummaryWriter
from pytorch_notes.logs import read_images

# a rerun starts from an empty log
shutil.rmtree("runs/dataloader", ignore_errors=True)
writer = SummaryWriter("runs/dataloader")
loader = DataLoader(
    Subset(test_data, range(200)),
    batch_size=64,
    shuffle=True,
    drop_last=True,
    generator=torch.Generator().manual_seed(0),
)
for epoch in range(2):
    for step, (images, labels) in enumerate(loader):
        # (N, C, H, W): the whole batch, one grid
        writer.add_images(f"Epoch: {epoch}", images, step)
with expect_error(AssertionError, "input_format: CHW"):
    # add_image takes ONE image (C, H, W), not a batch
    writer.add_image("batch", images, 0)
writer.close()  # flush the events to disk before reading them back

logged = read_images("runs/dataloader")
assert sorted(logged) == ["Epoch: 0", "Epoch: 1"]
for tag, events in logged.items():
    # 200 // 64 = 3 full batches per epoch
    assert [step for step, _ in events] == [0, 1, 2]
    # 64 images as an 8 x 8 grid
    assert all(size == (8 * 32, 8 * 32) for _, size in events)
    print(f"{tag!r}: steps {[step for step, _ in events]}, grid {events[0][1]}")
# --8<-- [end:tensorboard]
