"""Test set-up: offline guard, the `gpu` marker, and the runner that executes book pages.

pytest-markdown-docs collects every Python fence of every page under docs/ as a
test. Its default runner would run each fence alone; ours (registered as the
default) expands the fence's ``--8<--`` includes exactly like the site build and
runs the fences of a page in order in one namespace, like a reader pasting them
into one Python session. Errors point into the docs_src file and line. An
English page and its Chinese twin hold the same code (tests/test_book.py checks
that), so the twin's fences pass or fail with the first run instead of running
the same code twice. A page that passes leaves its outputs and figures in the
cache the site build reads (``book.save_results``), so the build that follows
does not run the book a second time.
"""

from __future__ import annotations

import runpy
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
try:  # a private module of pytest-markdown-docs (pinned to 0.9.x in pyproject.toml)
    from pytest_markdown_docs._runners import _Runner, register_runner
except ImportError as error:
    raise ImportError("this book's page runner needs pytest-markdown-docs 0.9.x, whose private module "
                      "_runners provides _Runner and register_runner; the installed version moved them: "
                      "install pytest-markdown-docs>=0.9,<0.10 or port conftest.py") from error

ROOT = Path(__file__).resolve().parent
OFFLINE = ROOT / "tests" / "offline"
sys.path.insert(0, str(ROOT / "docs_hooks"))
runpy.run_path(str(OFFLINE / "sitecustomize.py"))  # no network from here on

import book  # noqa: E402

book.use_data_root()

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


class _Run:
    """One execution of a page's fences. Twins (``x.md``, ``x.zh.md``) hold the same code and share one run."""

    def __init__(self, path: Path):
        name = str(path.relative_to(ROOT / "docs").with_suffix("")).removesuffix(".zh")  # as the build names it
        self.session = book.PageSession(name, WORKDIR / name)
        self.done = 0
        self.failed: str | None = None
        self.results: list | None = []  # what each fence printed and drew, for the site build (None: saved)


@register_runner(default=True)
class BookPageRunner(_Runner):
    """Runs a page's fences in order in one namespace (see the module docstring)."""

    fences: dict[Path, list[book.Fence]] = {}
    runs: dict[tuple[str, ...], _Run] = {}

    def runtest(self, test, args, *, asyncio_runner=None):
        path = Path(test.source_path).resolve()
        if path not in self.fences:
            self.fences[path] = book.python_fences(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
        fences = self.fences[path]
        code = tuple(fence.code for fence in fences)
        if code not in self.runs:
            self.runs[code] = _Run(path)
        run = self.runs[code]
        # pytest-markdown-docs' start_line is the opening fence's 1-based line
        index = next(i for i, fence in enumerate(fences) if fence.first_line == test.start_line + 1)
        while run.done <= index:
            if run.failed is not None:
                raise RuntimeError(f"not run: {run.failed} failed")
            fence = fences[run.done]
            try:
                stdout, figures = run.session.run(fence)
                run.results.append((stdout, [book.figure_file(figure) for figure in figures]))
            except BaseException:
                run.failed = f"the fence at {path.relative_to(ROOT)}:{fence.first_line - 1}"
                raise
            finally:
                run.done += 1
                import matplotlib.pyplot as plt

                plt.close("all")
        if run.results is not None and len(run.results) == len(fences):
            results = {"fences": run.results, "stamp": book.run_stamp(run.session)}
            book.save_results(book.results_key(fences), results)  # the site build reuses them
            run.results = None

    def repr_failure(self, test, excinfo, style=None):
        tb = excinfo.tb
        while tb is not None and not _is_book_code(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next  # start at the first frame of the page's own code
        if tb is None:
            return excinfo.exconly()
        return "".join(traceback.format_exception(excinfo.type, excinfo.value, tb))


def _is_book_code(filename: str) -> bool:
    return any(Path(filename).is_relative_to(ROOT / folder) for folder in ("docs", "docs_src"))
