"""The real-data check of the book's LeNet (run when the real MNIST digits are present)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def test_lenet_benchmark_runs_on_the_shipped_digits():
    """One epoch, to check the script; the nn/lenet chapter asserts >= 97 % itself, and the full run reports time."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "offline"))
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mnist_lenet.py"), "--epochs", "1"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: below 97 % after one epoch
    assert "held-out accuracy on digits 8000-9999" in result.stdout


def run_throughput(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "offline"))
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), *args], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_throughput_benchmark_runs_small_on_the_cpu():
    table = run_throughput("--device", "cpu", "--batch-size", "8", "--steps", "2", "--warmup", "1", "--levels", "4")
    assert table.count("| + ") == 3 and "| naive |" in table


@pytest.mark.gpu
def test_throughput_benchmark_on_cuda():
    """Prints the table for the GPU training chapter (run with -s)."""
    print(run_throughput("--device", "cuda"))


def test_compile_benchmark_runs_small_on_the_cpu():
    """One model, one task, two timed calls: checks the script (one Inductor compile), not the speed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "offline"))
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compile.py"), "--model", "mlp", "--task",
                             "inference", "--repeats", "2", "--warmup", "0"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"torch {torch.__version__}" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| MLP")]
    assert len(rows) == 1 and "| inference |" in rows[0]
