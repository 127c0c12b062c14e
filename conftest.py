"""Test set-up: offline guard, the `gpu` marker, and the runner that executes book pages.

pytest-markdown-docs collects every Python fence of every page under docs/ as a
test. Its default runner would run each fence alone; ours (registered as the
default) expands the fence's ``--8<--`` includes exactly like the site build and
runs the fences of a page in order in one namespace, like a reader pasting them
into one Python session. Errors point into the docs_src file and line.
"""

from __future__ import annotations

import runpy
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from pytest_markdown_docs._runners import _Runner, register_runner

ROOT = Path(__file__).resolve().parent
OFFLINE = ROOT / "tests" / "offline"
sys.path.insert(0, str(ROOT / "docs_hooks"))
runpy.run_path(str(OFFLINE / "sitecustomize.py"))  # no network from here on

import book  # noqa: E402

WORKDIR = Path(tempfile.mkdtemp(prefix="pytorch-notes-tests-"))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (skipped without one)")


def pytest_unconfigure(config):
    shutil.rmtree(WORKDIR, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


class _Page:
    def __init__(self, path: Path):
        relative = path.relative_to(ROOT)
        self.fences = book.python_fences(path.read_text(encoding="utf-8"), str(relative))
        self.session = book.PageSession(str(relative.with_suffix("")), WORKDIR / relative.with_suffix(""))
        self.done = 0
        self.failed_at: int | None = None


@register_runner(default=True)
class BookPageRunner(_Runner):
    """Runs a page's fences in order in one namespace (see the module docstring)."""

    pages: dict[Path, _Page] = {}

    def runtest(self, test, args, *, asyncio_runner=None):
        path = Path(test.source_path).resolve()
        if path not in self.pages:
            self.pages[path] = _Page(path)
        page = self.pages[path]
        # pytest-markdown-docs' start_line is the opening fence's 1-based line
        index = next(i for i, fence in enumerate(page.fences) if fence.first_line == test.start_line + 1)
        while page.done <= index:
            if page.failed_at is not None:
                raise RuntimeError(f"not run: the fence at line {page.failed_at} of this page failed")
            fence = page.fences[page.done]
            try:
                page.session.run(fence)
            except BaseException:
                page.failed_at = fence.first_line - 1
                raise
            finally:
                page.done += 1
                import matplotlib.pyplot as plt

                plt.close("all")

    def repr_failure(self, test, excinfo, style=None):
        tb = excinfo.tb
        while tb is not None and not _is_book_code(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next  # start at the first frame of the page's own code
        if tb is None:
            return excinfo.exconly()
        return "".join(traceback.format_exception(excinfo.type, excinfo.value, tb))


def _is_book_code(filename: str) -> bool:
    return any(Path(filename).is_relative_to(ROOT / folder) for folder in ("docs", "docs_src"))
