"""Training throughput (images/s) of the Moli CNN on CIFAR-shaped data, one speed-up at a time.

Each configuration adds one change to the previous one:

1. naive: a DataLoader of float images, ``.to(device)`` each batch
2. + pinned memory and ``non_blocking=True`` copies
3. + ``channels_last`` memory format
4. + bf16 autocast
5. + ``torch.compile``

    python benchmarks/throughput.py                    # the best device here
    python benchmarks/throughput.py --device cpu --steps 20

Prints a Markdown table. Time is measured with the device synchronized, after
warm-up steps (which also absorb torch.compile's compilation).
"""

import argparse
import time
from contextlib import nullcontext

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pytorch_notes import environment_report, pick_device, seed_everything
from pytorch_notes.models import Moli
from pytorch_notes.timing import synchronize

STEPS = ["naive", "+ pinned memory, non_blocking", "+ channels_last", "+ bf16 autocast", "+ torch.compile"]


def images_per_second(level: int, device: torch.device, batch_size: int, steps: int, warmup: int) -> float:
    """Train ``warmup + steps`` batches with the first ``level + 1`` changes; time the last ``steps``."""
    seed_everything(0)
    pinned, channels_last, bf16, compiled = (level >= 1, level >= 2, level >= 3, level >= 4)
    images = torch.rand(batch_size * 8, 3, 32, 32)
    labels = torch.randint(0, 10, (len(images),))
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True, drop_last=True,
                        pin_memory=pinned and device.type == "cuda")
    model = Moli().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compiled else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()

    def batches():
        while True:
            yield from loader

    done, started = 0, None
    for x, y in batches():
        if done == warmup:
            synchronize(device)
            started = time.perf_counter()
        if done == warmup + steps:
            break
        x, y = x.to(device, non_blocking=pinned), y.to(device, non_blocking=pinned)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(step_model(x), y)
        loss.backward()
        optimizer.step()
        done += 1
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--levels", type=int, default=len(STEPS), help="how many configurations to run")
    args = parser.parse_args()
    device = pick_device(args.device)
    print(environment_report())
    print(f"\nMoli on {device}, batch {args.batch_size}, {args.steps} timed steps after {args.warmup} warm-up\n")
    print("| configuration | images/s | vs naive |\n| --- | ---: | ---: |")
    baseline = None
    for level in range(args.levels):
        speed = images_per_second(level, device, args.batch_size, args.steps, args.warmup)
        baseline = baseline or speed
        print(f"| {STEPS[level]} | {speed:,.0f} | {speed / baseline:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
