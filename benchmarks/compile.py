"""Eager vs ``torch.compile`` (Inductor) on the CPU: an MLP and the book's LeNet.

For each model and each task (inference under ``torch.no_grad()``, and a
training step: forward, backward, SGD step), the script times the eager model
and the compiled one with ``pytorch_notes.time_op``, alternating the two calls
(median of ``--repeats`` calls each, after warm-up calls), and reports the first compiled call separately:
that is where the compilation happens.

    python benchmarks/compile.py
    python benchmarks/compile.py --threads 2 --repeats 50
    python benchmarks/compile.py --model lenet --task inference

Prints the machine (CPU model, threads), torch version and date, then a
Markdown table. Times are reported, never judged.
"""

import argparse
import datetime
import platform
import statistics
import time

import torch
from torch import nn

from pytorch_notes import seed_everything, time_op
from pytorch_notes.models import LeNet


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (Linux), else what platform says."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(256, 1024), nn.GELU(approximate="tanh"), nn.Linear(1024, 256))


MODELS = {  # name: (title, constructor, input shape)
    "mlp": ("MLP 256-1024-256, batch 64", mlp, (64, 256)),
    "lenet": ("LeNet, batch 64 of 1x28x28", LeNet, (64, 1, 28, 28)),
}
TASKS = {"inference": False, "training": True}


def measure(make_model, shape, train: bool, repeats: int, warmup: int) -> tuple[float, float, float]:
    """Median seconds per call (eager, compiled) and the seconds of the first compiled call."""
    seed_everything(0)
    model = make_model()
    x = torch.randn(shape)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def run(net):
        if not train:
            with torch.no_grad():
                return net(x)
        optimizer.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        optimizer.step()

    compiled = torch.compile(model)
    start = time.perf_counter()
    run(compiled)  # compiles (forward, and backward when training)
    first_call = time.perf_counter() - start
    for _ in range(warmup):
        run(model), run(compiled)
    # alternate the two, so that a busy moment of the machine hits both
    eager, fast = [], []
    for _ in range(repeats):
        eager.append(time_op(lambda: run(model), repeats=1, warmup=0))
        fast.append(time_op(lambda: run(compiled), repeats=1, warmup=0))
    return statistics.median(eager), statistics.median(fast), first_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per measurement (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: PyTorch's choice)")
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {cpu_model()}, {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"{datetime.date.today().isoformat()}")
    print(f"median of {args.repeats} calls after {args.warmup} warm-up calls\n")
    print("| model | task | eager (ms) | compiled (ms) | speed-up | first compiled call (s) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    models = MODELS if args.model == "all" else {args.model: MODELS[args.model]}
    tasks = TASKS if args.task == "all" else {args.task: TASKS[args.task]}
    for title, make_model, shape in models.values():
        for train in tasks.values():
            eager, fast, first_call = measure(make_model, shape, train, args.repeats, args.warmup)
            label = "training step" if train else "inference"
            print(f"| {title} | {label} | {eager * 1e3:.2f} | {fast * 1e3:.2f} | {eager / fast:.2f}× "
                  f"| {first_call:.1f} |", flush=True)


if __name__ == "__main__":
    main()
