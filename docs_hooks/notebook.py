"""Each chapter as a notebook in the page's language (used by build.py).

The notebook carries the page: its prose and math as Markdown cells, its code as code
cells with the output and figures of the build, so a reader on Colab or Jupyter reads
the chapter there. What only MkDocs understands becomes plain Markdown: admonitions
turn into block quotes, includes are expanded, links to other chapters point to the
published site in the same language.
"""

from __future__ import annotations

import posixpath
import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import book

ADMONITION = re.compile(r'^(?P<indent>\s*)(?:!!!|\?\?\?\+?)\s+(?P<kind>[\w-]+)(?:\s+"(?P<title>[^"]*)")?\s*$')
TAB = re.compile(r'^(?P<indent>\s*)===\+?\s+"(?P<title>[^"]*)"\s*$')
ATTRIBUTES = re.compile(r"\s*\{:?\s*[.#:][^}\n]*\}")  # { .md-button }, { #anchor }, {: .class }
ICON = re.compile(r":(?:material|octicons|fontawesome|simple)-[\w-]+:(?:\{[^}]*\})?\s?")
LINK = re.compile(r"(\]\()(?P<target>[^)\s]+)(\))")
ABBREVIATION = re.compile(r"^\*\[[^\]]+\]:")
KIND_TITLES = {  # an admonition without a title gets its kind's name, as Material shows it
    "en": {"note": "Note", "tip": "Tip", "warning": "Warning", "info": "Info", "danger": "Danger",
           "example": "Example", "question": "Question", "success": "Success", "failure": "Failure",
           "bug": "Bug", "abstract": "Abstract", "quote": "Quote"},
    "zh": {"note": "注意", "tip": "提示", "warning": "警告", "info": "说明", "danger": "危险",
           "example": "示例", "question": "问题", "success": "成功", "failure": "失败",
           "bug": "缺陷", "abstract": "摘要", "quote": "引用"},
}
WHERE = {"en": "Read this chapter on the web, with the rest of the book: {url}",
         "zh": "在网页上阅读本章及全书其他章节：{url}"}
INSTALL = (
    "# Installs the book's helper package, the version this notebook was built with,\n"
    "# when it is missing (e.g. on Colab).\n"
    "import importlib.util, subprocess, sys\n"
    'if importlib.util.find_spec("pytorch_notes") is None:\n'
    "    subprocess.check_call(\n"
    '        [sys.executable, "-m", "pip", "install", "-q", "{requirement}"]\n'
    "    )"
)


def page_url(src_uri: str, language: str, site_url: str) -> str:
    """Published address of a page (``nn/lenet.md`` -> ``<site>/zh/nn/lenet/`` for zh)."""
    path = src_uri.removesuffix(".md")
    path = "" if path == "index" else path.removesuffix("/index") + "/"
    return site_url.rstrip("/") + "/" + ("zh/" if language == "zh" else "") + path


def _absolute(target: str, src_uri: str, language: str, site_url: str) -> str:
    """A link of the page made to work outside the site."""
    if re.match(r"^[a-z]+:|^#", target):
        return target
    path, _, anchor = target.partition("#")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(src_uri), path))
    if resolved.endswith(".md"):
        url = page_url(resolved, language, site_url)
    else:  # an image or download: the same file for both languages
        url = site_url.rstrip("/") + "/" + resolved
    return url + (f"#{anchor}" if anchor else "")


def plain_markdown(text: str, src_uri: str, language: str, site_url: str) -> str:
    """MkDocs Markdown as Markdown that Jupyter renders: admonitions and tabs as block quotes
    and bold titles, no attribute lists, icons or abbreviations, links to the published site."""
    out, quote_indent = [], None
    for line in book.expand(text).split("\n"):
        if ABBREVIATION.match(line):
            continue
        if quote_indent is not None:
            if line.strip() and not line.startswith(quote_indent + "    "):
                quote_indent = None
            else:
                out.append("> " + line[len(quote_indent) + 4:] if line.strip() else ">")
                continue
        if match := ADMONITION.match(line):
            title = match["title"] or KIND_TITLES[language].get(match["kind"], match["kind"].title())
            out.append(f"> **{title}**" if title else ">")
            out.append(">")
            quote_indent = match["indent"]
            continue
        if match := TAB.match(line):
            out.append(f"**{match['title']}**")
            continue
        out.append(line)
    text = "\n".join(out)
    text = ICON.sub("", ATTRIBUTES.sub("", text))
    return LINK.sub(lambda m: m[1] + _absolute(m["target"], src_uri, language, site_url) + m[3], text)


def _outputs(stdout: str, figures: list[tuple[bytes, str]], alt: str | None) -> list:
    outputs = [new_output("stream", name="stdout", text=stdout)] if stdout.strip() else []
    for contents, extension in figures:
        mime = "image/svg+xml" if extension == "svg" else f"image/{extension}"
        data = {mime: contents.decode() if extension == "svg" else contents, "text/plain": alt or ""}
        outputs.append(new_output("display_data", data=data))
    return outputs


def chapter_notebook(markdown: str, fences: list[book.Fence], results: list, *, src_uri: str,
                     language: str, site_url: str, requirement: str) -> str:
    """The page as an ``.ipynb``: Markdown cells for its prose, a code cell per Python fence with
    what the build printed and drew (``results``: one ``(stdout, figures)`` per fence, figures
    already in the page's language), and first an install cell for ``requirement``."""
    lines, cells, start = markdown.split("\n"), [], 0
    for fence, (stdout, figures) in zip(fences, results):
        prose = "\n".join(lines[start:fence.first_line - 2]).strip()
        if prose:
            cells.append(new_markdown_cell(plain_markdown(prose, src_uri, language, site_url)))
        code = fence.code.strip("\n")
        cells.append(new_code_cell(code, outputs=_outputs(stdout, figures, fence.alt)))
        start = fence.end_line
    rest = "\n".join(lines[start:]).strip()
    if rest:
        cells.append(new_markdown_cell(plain_markdown(rest, src_uri, language, site_url)))
    where = WHERE[language].format(url=page_url(src_uri.replace(".zh.md", ".md"), language, site_url))
    cells[1:1] = [new_markdown_cell(f"*{where}*"),
                  new_code_cell(INSTALL.format(requirement=requirement))]
    code_cells = [cell for cell in cells if cell.cell_type == "code"]
    for count, cell in enumerate(code_cells[1:], 2):  # as run top to bottom, the install cell first
        cell.execution_count = count
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # stable ids: the same page gives the same notebook
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return nbformat.writes(notebook)
