"""GPU checks for the chapters that run on a GPU: "00 Tensor basics" and the training track's
"GPU training with .cuda()" (docs/training/gpu-cuda.md, which lists what they measure).

Every test is marked `gpu` and is skipped where CUDA is unavailable (see conftest.py).
Run them on a CUDA machine and read what they measured: `pytest -m gpu -s tests/test_gpu.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pytorch_notes import time_op

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.gpu


def test_device_round_trip_and_mixing_raises():
    torch.manual_seed(0)
    on_cpu = torch.randn(1000, 1000)
    on_gpu = on_cpu.to("cuda")
    assert on_gpu.device.type == "cuda" and on_cpu.device.type == "cpu"
    assert torch.equal(on_gpu.cpu(), on_cpu)  # a copy there and back changes no bit
    assert torch.equal((on_gpu * 2).cpu(), on_cpu * 2)

    with pytest.raises(RuntimeError, match="same device"):
        on_cpu + on_gpu
    with pytest.raises(RuntimeError, match="same device"):
        on_cpu @ on_gpu

    seconds = time_op(lambda: on_cpu.to("cuda"), device="cuda", repeats=5)
    gigabytes = on_cpu.numel() * on_cpu.element_size() / 1e9
    print(f"\nround trip ok; {gigabytes * 1e3:.0f} MB host-to-GPU copy: {seconds * 1e3:.3f} ms "
          f"({gigabytes / seconds:.1f} GB/s, pageable memory)")


def test_gpu_matmul_timed_with_and_without_synchronize():
    torch.manual_seed(0)
    size = 4096
    a_cpu, b_cpu = torch.randn(size, size), torch.randn(size, size)
    a_gpu, b_gpu = a_cpu.cuda(), b_cpu.cuda()

    cpu_seconds = time_op(lambda: a_cpu @ b_cpu, device="cpu", repeats=3, warmup=1)
    gpu_seconds = time_op(lambda: a_gpu @ b_gpu, device="cuda", repeats=10, warmup=3)

    # The same call timed without synchronising: the clock stops once the kernel is queued.
    unsynchronised = []
    for _ in range(10):
        torch.cuda.synchronize()  # start from an empty queue, as time_op does
        start = time.perf_counter()
        a_gpu @ b_gpu
        unsynchronised.append(time.perf_counter() - start)  # no synchronize before stopping
    torch.cuda.synchronize()
    unsynchronised_seconds = sorted(unsynchronised)[len(unsynchronised) // 2]

    flops = 2 * size**3
    print(f"\n{size}x{size} float32 matmul on {torch.cuda.get_device_name(0)}:")
    print(f"  cpu ({torch.get_num_threads()} threads): {cpu_seconds * 1e3:9.3f} ms "
          f"({flops / cpu_seconds / 1e12:.2f} TFLOP/s)")
    print(f"  gpu, synchronised:     {gpu_seconds * 1e3:9.3f} ms ({flops / gpu_seconds / 1e12:.2f} TFLOP/s)")
    print(f"  gpu, not synchronised: {unsynchronised_seconds * 1e3:9.3f} ms (only the launch)")
    print(f"  speed-up: {cpu_seconds / gpu_seconds:.0f}x")  # reported, never asserted: it depends on the machine
    assert torch.allclose((a_gpu @ b_gpu).cpu(), a_cpu @ b_cpu, rtol=1e-2, atol=1e-1)  # the same product


def test_pinned_memory_and_non_blocking_copy():
    torch.manual_seed(0)
    pageable = torch.randn(64, 3, 224, 224)  # about 38 MB, an ImageNet-sized batch
    pinned = pageable.pin_memory()
    assert pinned.is_pinned() and not pageable.is_pinned()
    assert torch.equal(pinned, pageable)  # pin_memory() copies into page-locked memory

    on_gpu = pinned.to("cuda", non_blocking=True)  # queued; the CPU goes on at once
    torch.cuda.synchronize()  # wait for the copy before reading the result
    assert torch.equal(on_gpu.cpu(), pageable)

    gigabytes = pageable.numel() * pageable.element_size() / 1e9
    pageable_seconds = time_op(lambda: pageable.to("cuda"), device="cuda", repeats=10)
    pinned_seconds = time_op(lambda: pinned.to("cuda", non_blocking=True), device="cuda", repeats=10)
    print(f"\nhost-to-GPU copy of {gigabytes * 1e3:.0f} MB:")
    print(f"  pageable:             {pageable_seconds * 1e3:8.3f} ms ({gigabytes / pageable_seconds:.1f} GB/s)")
    print(f"  pinned, non_blocking: {pinned_seconds * 1e3:8.3f} ms ({gigabytes / pinned_seconds:.1f} GB/s)")


@pytest.mark.parametrize("chapter, cuda_line", [("autograd/tensor_basics.py", "device: cuda"),
                                                ("training/gpu_cuda.py", "training on "),
                                                ("training/device_agnostic.py", "device: cuda")])
def test_training_chapters_run_on_cuda(chapter, cuda_line, tmp_path):
    """The chapters with a GPU branch take it, and their asserts hold there."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "tests" / "offline"))
    result = subprocess.run([sys.executable, str(ROOT / "docs_src" / chapter)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert cuda_line in result.stdout
