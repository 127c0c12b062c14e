"""The text sample that ships with pytorch_notes: this book's prose, and the tool that makes it."""

import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pytorch_notes.datasets import BOOK_TEXT, SAMPLES, book_text

ROOT = Path(__file__).resolve().parent.parent


def load_tool():
    spec = importlib.util.spec_from_file_location("make_text_sample", ROOT / "tools" / "make_text_sample.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_book_text_is_both_languages_small_and_free_of_markup():
    text = book_text()
    assert BOOK_TEXT.parent == SAMPLES and isinstance(text, str)
    size = len(text.encode("utf-8"))
    assert 100_000 < size <= 400_000  # a few hundred KB
    chinese = sum("\u4e00" <= c <= "\u9fff" for c in text)
    assert 0.05 < chinese / len(text) < 0.5  # both languages, in bulk
    for markup in ("```", "--8<--", "$$", "<div", "](", "!!!", "| ---"):
        assert markup not in text, markup
    tenth = len(text) // 10  # the last tenth (a validation split) holds both languages too
    assert re.search(r"\bthe\b", text[-tenth:]) and "的" in text[-tenth:]


def test_the_tool_drops_code_math_html_and_keeps_prose():
    tool = load_tool()
    page = "\n".join([
        "# Title",
        "",
        "First line of a paragraph with $x^2$ math",
        "and a [link](../x.md), **bold** and `code`.",
        "",
        "```python",
        "secret_code = 1",
        "```",
        "",
        '--8<-- "docs_src/a.py:b"',
        "$$",
        "E = mc^2",
        "$$",
        "<!-- a comment -->",
        '!!! tip "Remember this"',
        "    Indented admonition text.",
        "",
        "| English | 中文 |",
        "| --- | --- |",
        "| token | 词元 |",
        "",
        "中文第一行",
        "接着第二行。",
        "- a list item",
    ])
    paragraphs = [p for p in tool.blocks(page) if p]
    assert paragraphs == [
        "Title",
        "First line of a paragraph with math and a link, bold and code.",
        "Remember this",
        "Indented admonition text.",
        "English · 中文",
        "token · 词元",
        "中文第一行接着第二行。",
        "a list item",
    ]


def test_the_tool_keeps_every_chapter_within_its_budget(tmp_path, monkeypatch):
    tool = load_tool()
    monkeypatch.setattr(tool, "TARGET", tmp_path / "book_text.txt")
    tool.main()
    made = (tmp_path / "book_text.txt").read_text(encoding="utf-8")
    assert len(made.encode("utf-8")) <= tool.MAX_BYTES
    pages = [p for p in (ROOT / "docs").rglob("*.md") if p.name not in tool.SKIP]
    assert len(made.encode("utf-8")) <= len(pages) * tool.PAGE_BYTES
    for page in pages:  # every page's first paragraph is in
        first = next(p for p in tool.blocks(page.read_text(encoding="utf-8")) if p)
        assert first in made, page


def test_book_text_explains_a_missing_file(monkeypatch, tmp_path):
    import pytorch_notes.datasets as datasets

    monkeypatch.setattr(datasets, "BOOK_TEXT", tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="make_text_sample"):
        datasets.book_text()


def test_the_wheel_ships_the_text(tmp_path):
    import shutil

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "src"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("pytorch_notes-*.whl")
    assert "pytorch_notes/samples/book_text.txt" in zipfile.ZipFile(wheel).namelist()
