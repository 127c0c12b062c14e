"""MkDocs hooks of PyTorch Notes.

- Every Python fence of every page runs at build time (``book.PageSession``); what
  it printed appears under it as an "Output" block and the figures it drew as
  images, so nothing on the page is hand-copied. A fence that raises fails the build.
- KaTeX is served from the site itself (files from the npm package in
  ``node_modules``), so no page load reaches a CDN.
- Each chapter's ``docs_src`` script is offered as a notebook (jupytext) with
  download and "Open in Colab" buttons.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import jupytext
import matplotlib
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

import book

KATEX = book.ROOT / "node_modules" / "katex" / "dist"
KATEX_FILES = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]
LABELS = {
    "en": {"output": "Output", "download": "Download notebook", "colab": "Open in Colab"},
    "zh": {"output": "输出", "download": "下载 Notebook", "colab": "在 Colab 中打开"},
}
SECTION_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):[A-Za-z0-9_-]+\]\s*$")

_results: dict[str, list] = {}  # page code hash -> [(stdout, [svg, ...]), ...], shared by en and zh
_workdir = Path(tempfile.mkdtemp(prefix="pytorch-notes-build-"))


def on_config(config):
    missing = [name for name in KATEX_FILES if not (KATEX / name).is_file()]
    if missing:
        raise PluginError(f"KaTeX is not installed ({KATEX / missing[0]} is missing): run `npm ci` first")
    os.environ["MPLBACKEND"] = "Agg"
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "pytorch-notes"})
    return config


def notebook_uri(script: str) -> str:
    """Site path of the notebook made from a docs_src script."""
    return "notebooks/" + str(Path(script).relative_to("docs_src").with_suffix(".ipynb"))


def make_notebook(script: Path, repo_url: str) -> str:
    """The docs_src script as a notebook: section markers removed, an install cell first."""
    text = "\n".join(line for line in script.read_text(encoding="utf-8").splitlines()
                     if not SECTION_MARKER.match(line))
    notebook = jupytext.reads(text, fmt="py:percent")
    setup = (
        "# Installs the book's helper package when it is missing (e.g. on Colab).\n"
        "import importlib.util, subprocess, sys\n"
        'if importlib.util.find_spec("pytorch_notes") is None:\n'
        f'    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "git+{repo_url}"])'
    )
    after_title = 1 if notebook.cells and notebook.cells[0].cell_type == "markdown" else 0
    notebook.cells.insert(after_title, jupytext.reads(setup, fmt="py:percent").cells[0])
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"  # stable ids: the same script gives the same notebook
    return jupytext.writes(notebook, fmt="ipynb")


@event_priority(-100)  # after mkdocs-static-i18n has sorted the files by language
def on_files(files, config):
    for name in KATEX_FILES + sorted(str(p.relative_to(KATEX)) for p in KATEX.glob("fonts/*.woff2")):
        files.append(File.generated(config, f"assets/katex/{name}", abs_src_path=str(KATEX / name)))
    for script in sorted((book.ROOT / "docs_src").rglob("*.py")):
        relative = script.relative_to(book.ROOT)
        files.append(File.generated(config, notebook_uri(str(relative)),
                                    content=make_notebook(script, config.extra["repo_url"])))
    return files


def _package_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((book.ROOT / "src").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run_page(fences, page_name: str) -> list:
    key = hashlib.sha256("\0".join([_package_fingerprint()] + [f.code for f in fences]).encode()).hexdigest()
    if key not in _results:
        session = book.PageSession(page_name, _workdir / page_name)
        results = []
        for fence in fences:
            try:
                stdout, figures = session.run(fence)
            except Exception as error:
                raise PluginError(f"{page_name}: the fence at line {fence.first_line} raised "
                                  f"{type(error).__name__}: {error}") from error
            svgs = []
            for figure in figures:
                buffer = io.StringIO()
                figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
                svgs.append(buffer.getvalue())
            results.append((stdout, svgs))
        _results[key] = results
    return _results[key]


def _figure_html(svg: str, alt: str, page, config) -> str:
    uri = f"assets/figures/{hashlib.sha256(svg.encode()).hexdigest()[:16]}.svg"
    target = Path(config.site_dir) / uri
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(svg, encoding="utf-8")
    src = get_relative_url(uri, page.url)
    return f'<figure class="book-figure" markdown>\n<img src="{src}" alt="{alt}" loading="lazy">\n</figure>'


def _buttons(fences, page, labels, config) -> str:
    scripts = sorted({m["path"] for f in fences for m in map(book.INCLUDE.match, f.includes)
                      if m["path"].startswith("docs_src/")})
    if len(scripts) != 1:
        return ""
    uri = notebook_uri(scripts[0])
    link = get_relative_url(uri, page.file.src_uri)
    repo = config.extra["repo_url"].rstrip("/").removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/gh-pages/{uri}"
    return (f"[:material-download: {labels['download']}]({link}){{ .md-button }} "
            f"[:simple-googlecolab: {labels['colab']}]({colab}){{ .md-button }}\n")


def on_page_markdown(markdown, page, config, files):
    fences = book.python_fences(markdown, page.file.src_path)
    if not fences:
        return markdown
    labels = LABELS[getattr(page.file, "locale", "en")]
    results = _run_page(fences, str(Path(page.file.src_uri).with_suffix("")).removesuffix(".zh"))
    lines = markdown.split("\n")
    for fence, (stdout, svgs) in reversed(list(zip(fences, results))):
        if svgs and not fence.alt:
            raise PluginError(f"{page.file.src_path}: the fence at line {fence.first_line} draws a "
                              'figure but has no alt text (add alt="..." to its info string)')
        block = []
        if stdout.strip():
            block += ["", f'```text title="{labels["output"]}"', stdout.rstrip("\n"), "```"]
        block += ["", *(_figure_html(svg, fence.alt, page, config) for svg in svgs)] if svgs else []
        lines[fence.end_line:fence.end_line] = block
        opening = fence.first_line - 2
        lines[opening] = book.ALT.sub("", lines[opening])
    buttons = _buttons(fences, page, labels, config)
    if buttons:
        title = next(i for i, line in enumerate(lines) if line.startswith("# "))
        lines[title + 1:title + 1] = ["", buttons]
    return "\n".join(lines)


def on_shutdown():
    shutil.rmtree(_workdir, ignore_errors=True)
