"""Each chapter's notebook, in both languages, carries the page: prose, math, code, the build's
outputs and figures, in the page's language; it runs top to bottom in a fresh Jupyter kernel."""

from __future__ import annotations

import re

import nbformat
import pytest

from test_site import CHAPTERS, ROOT, page_url

CJK = re.compile(r"[\u4e00-\u9fff]")
MKDOCS_ONLY = {  # what only MkDocs understands, and must not reach a notebook
    "an admonition": re.compile(r"^\s*(!!!|\?\?\?)", flags=re.M),
    "an include": re.compile(r"--8<--"),
    "an attribute list": re.compile(r"\{\s*[.#][\w-]+[^}]*\}"),
    "a link to a .md file": re.compile(r"\]\((?!https?:)[^)]*\.md(#[^)]*)?\)"),
    "an icon shortcode": re.compile(r":(material|octicons|simple)-[\w-]+:"),
}


def _notebook(site, page: str, language: str):
    html = (site / page_url(page, language)).read_text(encoding="utf-8")
    href = re.search(r'href="([^"]+\.ipynb)"', html).group(1)
    path = (site / page_url(page, language)).parent / href
    return nbformat.read(path, as_version=4), html


@pytest.mark.parametrize("page", CHAPTERS)
def test_notebook_carries_the_page_in_its_language(site, page):
    english, english_html = _notebook(site, page, "en")
    chinese, chinese_html = _notebook(site, page, "zh")
    for notebook, html, language in ((english, english_html, "en"), (chinese, chinese_html, "zh")):
        nbformat.validate(notebook)
        prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        source = ROOT / "docs" / (page if language == "en" else page.replace(".md", ".zh.md"))
        title = next(line for line in source.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
        assert prose.splitlines()[0] == title, f"{page} ({language}): the notebook starts with another title"
        assert bool(CJK.search(prose)) == (language == "zh"), f"{page}: prose in the wrong language"
        for what, pattern in MKDOCS_ONLY.items():
            assert not pattern.search(prose), f"{page} ({language}): {what} in a Markdown cell"
        if 'class="arithmatex"' in html:
            assert "$" in prose, f"{page} ({language}): the page's math is missing"
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        install = code[0].source
        assert 'pip", "install"' in install and re.search(r"@[0-9a-f]{40}\"", install), install
        shown = len(re.findall(r'<span class="filename">(Output|输出)</span>', html))
        printed = sum(any(out.output_type == "stream" for out in cell.outputs) for cell in code)
        assert printed == shown, f"{page} ({language}): {printed} outputs in the notebook, {shown} on the page"
        figures = [out.data["image/svg+xml"] for cell in code for out in cell.outputs if out.output_type == "display_data"]
        shown = [((site / page_url(page, language)).parent / src).read_text(encoding="utf-8")
                 for src in re.findall(r'<figure class="book-figure[^"]*">\s*(?:<p>)?<a href="([^"]+)"', html)]
        assert figures == shown, f"{page} ({language}): the notebook's figures are not the page's"
    code_of = lambda nb: [cell.source for cell in nb.cells if cell.cell_type == "code"]  # noqa: E731
    assert code_of(english) == code_of(chinese), f"{page}: the two languages run different code"


@pytest.mark.parametrize("page", CHAPTERS)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(site, page, tmp_path):
    """The English notebook, run as a reader runs it (the zh one holds the same code: tested above)."""
    from nbclient import NotebookClient

    notebook, _ = _notebook(site, page, "en")
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.output_type == "error"]
    assert not errors
