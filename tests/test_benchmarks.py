"""The real-data check of the book's LeNet (run when the real MNIST digits are present)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = ROOT.parent / "shared" / "datasets"


@pytest.mark.skipif(not (REAL_DATA / "MNIST").is_dir(), reason="../shared/datasets/MNIST is not present")
def test_lenet_reaches_97_percent_on_held_out_real_digits():
    env = dict(os.environ, PYTORCH_NOTES_DATA=str(REAL_DATA), PYTHONPATH=str(ROOT / "tests" / "offline"))
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mnist_lenet.py")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "held-out accuracy" in result.stdout


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
