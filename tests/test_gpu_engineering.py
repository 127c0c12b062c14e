"""GPU checks of the training-engineering chapters (skipped without CUDA).

Mixed precision (engineering/amp): the CUDA autocast dtypes, and the time of a
training step of a matmul-heavy model in fp32, fp16 autocast + GradScaler and
bf16 autocast. Gradient checkpointing (engineering/checkpointing): the same
gradients, and the peak memory with and without ``checkpoint_sequential``.
Run with ``pytest -m gpu -s tests/test_gpu_engineering.py`` to see the numbers.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint_sequential

from pytorch_notes import time_op

pytestmark = pytest.mark.gpu


def mlp(width, depth, device):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.GELU()]
    return nn.Sequential(*layers, nn.Linear(width, 10)).to(device)


def test_cuda_autocast_dtypes():
    torch.manual_seed(0)
    linear = nn.Linear(64, 10).cuda()
    x, target = torch.randn(32, 64, device="cuda"), torch.randint(0, 10, (32,), device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        logits = linear(x)
        probs = logits.softmax(dim=-1)
        loss = F.cross_entropy(logits, target)
    assert logits.dtype == torch.float16
    assert probs.dtype == torch.float32  # on CUDA, softmax is on autocast's fp32 list (unlike the CPU)
    assert loss.dtype == torch.float32
    assert linear.weight.dtype == torch.float32
    loss.backward()
    assert linear.weight.grad.dtype == torch.float32


def test_amp_speedup_on_cuda():
    torch.manual_seed(0)
    width, depth, batch = 4096, 4, 8192
    x = torch.randn(batch, width, device="cuda")
    target = torch.randint(0, 10, (batch,), device="cuda")

    def make_step(dtype):
        torch.manual_seed(0)
        model = mlp(width, depth, "cuda")
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
        losses = []

        def step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=dtype or torch.float16, enabled=dtype is not None):
                loss = F.cross_entropy(model(x), target)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())

        return step, losses

    seconds, losses = {}, {}
    for name, dtype in [("fp32", None), ("fp16 autocast", torch.float16), ("bf16 autocast", torch.bfloat16)]:
        step, losses[name] = make_step(dtype)
        seconds[name] = time_op(step, device="cuda", repeats=10, warmup=3)
        assert torch.isfinite(losses[name][-1])  # (fp16 may skip its first steps while the scale settles)

    print(f"\nTF32 for fp32 matmuls: {torch.backends.cuda.matmul.allow_tf32}")
    flops = 3 * 2 * batch * width * width * depth  # forward + backward of the big matmuls
    print(f"training step, {depth} x Linear({width}, {width}), batch {batch}, on {torch.cuda.get_device_name(0)}:")
    for name, t in seconds.items():
        print(f"  {name:14s} {t * 1e3:8.2f} ms  ({flops / t / 1e12:6.1f} TFLOP/s)  "
              f"speed-up {seconds['fp32'] / t:4.1f}x")  # reported, never asserted: machine-dependent


def test_checkpointing_peak_memory_on_cuda():
    torch.manual_seed(0)
    width, depth, batch, segments = 1024, 32, 4096, 8  # about sqrt(64 modules): peak ~ k + n/k
    model = mlp(width, depth, "cuda")
    x = torch.randn(batch, width, device="cuda")
    target = torch.randint(0, 10, (batch,), device="cuda")

    def run(checkpointed):
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        out = checkpoint_sequential(model, segments, x, use_reentrant=False) if checkpointed else model(x)
        F.cross_entropy(out, target).backward()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - start
        return peak, [p.grad.clone() for p in model.parameters()]

    run(False)  # warm-up: cuBLAS workspaces and the allocator's first blocks
    plain_peak, plain_grads = run(False)
    ckpt_peak, ckpt_grads = run(True)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(plain_grads, ckpt_grads))
    assert ckpt_peak < plain_peak

    plain_seconds = time_op(lambda: run(False), device="cuda", repeats=5, warmup=1)
    ckpt_seconds = time_op(lambda: run(True), device="cuda", repeats=5, warmup=1)
    activation_mb = batch * width * 4 / 2**20
    print(f"\n{depth} x (Linear({width}, {width}) + GELU), batch {batch}, one activation {activation_mb:.0f} MiB, "
          f"on {torch.cuda.get_device_name(0)}:")
    print(f"  plain:                       peak {plain_peak / 2**20:8.0f} MiB, step {plain_seconds * 1e3:7.2f} ms")
    print(f"  checkpoint_sequential({segments}):    peak {ckpt_peak / 2**20:8.0f} MiB, "
          f"step {ckpt_seconds * 1e3:7.2f} ms")
    print(f"  memory saved: {1 - ckpt_peak / plain_peak:.0%}, extra time: {ckpt_seconds / plain_seconds - 1:.0%}")
