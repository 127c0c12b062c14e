"""A small training run for the kill-and-resume test: ``python resume_worker.py CHECKPOINTS OUT [seeded]``.

Deterministic (seeded, one thread), with shuffling, dropout, momentum and a
learning-rate schedule, so that every piece of saved state matters. With
``seeded`` the DataLoader shuffles with its own seeded generator (as the
DataLoader chapter recommends), whose state the checkpoint must carry too. Each epoch
takes about a second, so the test can kill it in the middle of one.
"""

import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from pytorch_notes.training import fit


class SlowDataset(Dataset):
    def __init__(self, size: int = 160):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(size, 8, generator=generator)
        self.y = (self.x[:, 0] + self.x[:, 1] > 0).long()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, index):
        time.sleep(0.006)
        return self.x[index], self.y[index]


if __name__ == "__main__":
    checkpoints, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    generator = torch.Generator().manual_seed(1) if sys.argv[3:] == ["seeded"] else None
    loader = DataLoader(SlowDataset(), batch_size=16, shuffle=True, generator=generator)
    fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=5, scheduler=scheduler,
        checkpoint_dir=checkpoints, progress=False)
    torch.save(model.state_dict(), out)
