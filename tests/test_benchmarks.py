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
