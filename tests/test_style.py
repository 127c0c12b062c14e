"""The code the pages show fits the code column: laid out by ruff, no line over 80 columns.

docs_src/ruff.toml holds the settings; `ruff format docs_src` fixes the layout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, "docs_src"], cwd=ROOT,
                          capture_output=True, text=True)


def test_snippet_lines_fit_the_code_column():
    result = ruff("check", "--no-cache", "--output-format=concise")
    assert result.returncode == 0, f"lines over 80 columns in docs_src:\n{result.stdout[-3000:]}"
    longest = max(len(line) for path in (ROOT / "docs_src").rglob("*.py")
                  for line in path.read_text(encoding="utf-8").splitlines())
    assert longest <= 80, longest


def test_snippets_are_laid_out_by_ruff_format():
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, f"run `ruff format docs_src`:\n{result.stdout[-3000:]}"
