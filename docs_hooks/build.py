"""MkDocs hooks of PyTorch Notes.

- Every Python fence of every page runs at build time (``book.PageSession``); what
  it printed appears under it as an "Output" block and the figures it drew as
  images, so nothing on the page is hand-copied. A fence that raises fails the build.
  Results are shared with the tests through ``book``'s cache (``.cache/pages/``).
- Math is rendered to HTML by KaTeX (the npm package in ``node_modules``, run with node) at
  build time, cached in ``.cache/``: pages ship KaTeX's stylesheet and fonts, no math JavaScript.
- Each chapter is offered as a notebook in its page's language (``notebook.py``: the page's
  prose, math, code and the build's outputs and figures) with download and "Open in Colab"
  buttons; chapters link to the exercise notebooks that practise them, which mkdocs-jupyter
  renders as pages (``exercise_pages``).
- Reader polish: each page's first paragraph becomes its meta description (and
  link preview); the 404 page exists in both languages; ``robots.txt`` points to
  the sitemap, which lists both languages with their hreflang alternates; search
  looks in the page's own language (one index per language).
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import matplotlib
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url, yaml_load
from pymdownx.slugs import slugify

import book
import notebook

KATEX = book.ROOT / "node_modules" / "katex" / "dist"
KATEX_FILES = ["katex.min.css"]
KATEX_RENDER = Path(__file__).with_name("katex_render.cjs")
# what pymdownx.arithmatex (generic mode) writes: <span class="arithmatex">\(x\)</span>, <div ...>\[x\]</div>
ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">\\[(\[](.*?)\\[)\]]</\1>', flags=re.S)
INLINE_MATH = re.compile(r"\\\((.+?)\\\)")  # in the table of contents' titles
LABELS = {
    "en": {"language": "en", "output": "Output", "download": "Download notebook", "colab": "Open in Colab"},
    "zh": {"language": "zh", "output": "输出", "download": "下载 Notebook", "colab": "在 Colab 中打开"},
}
# Under every page with code: what it ran with, written from the run itself.
STAMP = {
    "en": ('<p class="run-stamp" data-search-exclude>The code on this page ran with torch {torch} and torchvision {torchvision} '
           'on {device}, on {date}, in {seconds} s.</p>', "a CPU ({threads} threads)", "a GPU ({gpu})"),
    "zh": ('<p class="run-stamp" data-search-exclude>本页代码的运行环境：torch {torch}、torchvision {torchvision}，{device}，'
           '运行于 {date}，用时 {seconds} 秒。</p>', "CPU（{threads} 个线程）", "GPU（{gpu}）"),
}


def run_stamp_html(stamp: dict, language: str) -> str:
    """The line under a page that says what its code ran with, in the page's language."""
    line, cpu, gpu = STAMP[language]
    return line.format(**stamp, device=(gpu if stamp["gpu"] else cpu).format(**stamp))
SECTION_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):[A-Za-z0-9_-]+\]\s*$")
# Material fetches `<href>sitemap.xml` for every <link rel="alternate" hreflang> in a page's head,
# expecting each to be a language's home; mkdocs-static-i18n points them at the page's twin, so every
# page load asked for a missing `<page>/sitemap.xml`. The sitemap carries the hreflang pairs instead.
HEAD_ALTERNATE = re.compile(r'\n\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')

_results: dict[str, dict] = {}  # book.results_key -> book.cached_results format, shared by en and zh
_workdir = Path(tempfile.mkdtemp(prefix="pytorch-notes-build-"))
_page_alternates: list = []  # the language switcher's links, put back after the 404 page
_english_404 = ""


def on_config(config):
    missing = [name for name in KATEX_FILES if not (KATEX / name).is_file()]
    if missing:
        raise PluginError(f"KaTeX is not installed ({KATEX / missing[0]} is missing): run `npm ci` first")
    os.environ["MPLBACKEND"] = "Agg"
    matplotlib.use("Agg")
    book.use_data_root()
    _math.load()
    return config


class MathCache:
    """TeX -> HTML rendered by KaTeX, kept in ``.cache/katex-<version>.json`` between builds."""

    def __init__(self):
        self.path = None
        self.rendered: dict[str, str] = {}
        self.changed = False

    def load(self) -> None:
        version = json.loads((KATEX.parent / "package.json").read_text(encoding="utf-8"))["version"]
        self.path = book.ROOT / ".cache" / f"katex-{version}.json"
        if self.path.is_file():
            self.rendered = json.loads(self.path.read_text(encoding="utf-8"))

    def save(self) -> None:
        if self.changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(self.rendered), encoding="utf-8")
            os.replace(partial, self.path)

    def render(self, expressions: list[tuple[str, bool]], where: str) -> None:
        """Render the (TeX, display) pairs not yet in the cache, all in one node call."""
        todo = sorted({e for e in expressions if self.key(*e) not in self.rendered})
        if not todo:
            return
        result = subprocess.run(["node", str(KATEX_RENDER)], input=json.dumps(todo), capture_output=True,
                                text=True, encoding="utf-8")
        if result.returncode:
            error = next((line for line in result.stderr.splitlines() if "Error" in line), result.stderr)
            raise PluginError(f"{where}: KaTeX could not render the math: {error.strip()}")
        self.rendered.update((self.key(*e), html) for e, html in zip(todo, json.loads(result.stdout)))
        self.changed = True

    @staticmethod
    def key(tex: str, display: bool) -> str:
        return ("display:" if display else "inline:") + tex

    def html(self, tex: str, display: bool) -> str:
        """KaTeX's HTML; search indexes only its MathML text (no TeX source, no glyph boxes)."""
        return (self.rendered[self.key(tex, display)]
                .replace('aria-hidden="true">', 'aria-hidden="true" data-search-exclude>', 1)
                .replace('<annotation encoding="application/x-tex">',
                         '<annotation encoding="application/x-tex" data-search-exclude>', 1))

    def mathml(self, tex: str, display: bool = False) -> str:
        """The MathML alone, without the TeX annotation (browsers draw it; its text reads well)."""
        mathml = re.search(r"<math.*?</math>", self.rendered[self.key(tex, display)], flags=re.S)[0]
        return re.sub(r"<annotation.*?</annotation>", "", mathml, flags=re.S)


_math = MathCache()


def render_math(page_html: str, page) -> tuple[str, str]:
    """The page with its math rendered, and a plain-text version for its description; the math in
    the titles of its table of contents becomes MathML."""
    found = [(html.unescape(m[2]), m[1] == "div") for m in ARITHMATEX.finditer(page_html)]
    titles = list(_toc_items(page.toc))
    found += [(html.unescape(tex), False) for item in titles for tex in INLINE_MATH.findall(item.title)]
    _math.render(found, page.file.src_path)
    for item in titles:
        item.title = INLINE_MATH.sub(lambda m: _math.mathml(html.unescape(m[1])), item.title)

    def rendered(match: re.Match) -> str:
        return f'<{match[1]} class="arithmatex">{_math.html(html.unescape(match[2]), match[1] == "div")}</{match[1]}>'

    def plain(match: re.Match) -> str:
        return re.sub(r"<[^>]+>", "", _math.mathml(html.unescape(match[2]), match[1] == "div"))

    return ARITHMATEX.sub(rendered, page_html), ARITHMATEX.sub(plain, page_html)


def _toc_items(items):
    for item in items:
        yield item
        yield from _toc_items(item.children)


def notebook_uri(script: str, language: str = "en") -> str:
    """Site path of a chapter's notebook in ``language``, named after its docs_src script."""
    suffix = ".zh.ipynb" if language == "zh" else ".ipynb"
    return "notebooks/" + str(Path(script).relative_to("docs_src").with_suffix(suffix))


@functools.cache
def _requirement(repo_url: str) -> str:
    """What a notebook's install cell installs: the package at the commit the site is built from."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=book.ROOT, capture_output=True, text=True)
    return f"git+{repo_url}" + (f"@{commit.stdout.strip()}" if commit.returncode == 0 else "")


_notebooks: dict[str, str] = {}  # site path -> notebook, written by on_post_build


def exercise_pages(files, config) -> None:
    """Make the exercise notebooks pages again, in the language being built.

    mkdocs-jupyter turns ``docs/<track>/exercises.ipynb`` into a page, then mkdocs-static-i18n
    rebuilds every file as a plain ``File`` and the notebook becomes a download (the plugins'
    known clash, mkdocs-static-i18n issue #198). Wrap each back, at the address i18n gives the
    page (``zh/<track>/exercises/`` for ``exercises.zh.ipynb``); the other language's copy goes.
    """
    from mkdocs_jupyter.plugin import NotebookFile

    language = config.plugins["i18n"].current_language
    for file in [f for f in files if re.search(r"(^|/)exercises(\.zh)?\.ipynb$", f.src_uri)]:
        files.remove(file)
        if (getattr(file, "localization", None) or "en") != language:
            continue
        page = NotebookFile(file, config.use_directory_urls, config.site_dir)
        folder = ("zh/" if language == "zh" else "") + re.sub(r"(\.zh)?\.ipynb$", "", file.src_uri)
        page.dest_path = f"{folder}/index.html"
        page.abs_dest_path = os.path.normpath(os.path.join(config.site_dir, page.dest_path))
        page.url = f"{folder}/"
        base = folder.removeprefix("zh/")  # the twins, for the sitemap and the language switcher
        page.alternates = {other: SimpleNamespace(page=None, url=("zh/" if other == "zh" else "") + base + "/")
                           for other in LABELS}
        files.append(page)
    # the sitemap lists each language's pages with their twins, from what i18n saw before this
    config.plugins["i18n"].i18n_files_per_language[language] = files.documentation_pages()


@event_priority(-100)  # after mkdocs-static-i18n has sorted the files by language
def on_files(files, config):
    exercise_pages(files, config)
    for name in KATEX_FILES + sorted(str(p.relative_to(KATEX)) for p in KATEX.glob("fonts/*.woff2")):
        files.append(File.generated(config, f"assets/katex/{name}", abs_src_path=str(KATEX / name)))
    for script in sorted((book.ROOT / "docs_src").rglob("*.py")):
        for language in LABELS:  # placeholders, so that links to them check; each page writes its own
            files.append(File.generated(config, notebook_uri(str(script.relative_to(book.ROOT)), language),
                                        content=""))
    return files


def _run_page(fences, page_name: str) -> list:
    key = book.results_key(fences)
    if key not in _results:
        results = book.cached_results(key)
        if results is None:
            results = _execute(fences, page_name)
            book.save_results(key, results)
        _results[key] = results
    return _results[key]


def _execute(fences, page_name: str) -> dict:
    session = book.PageSession(page_name, _workdir / page_name)
    results = []
    for fence in fences:
        try:
            stdout, figures = session.run(fence)
        except Exception as error:
            raise PluginError(f"{page_name}: the fence at line {fence.first_line} raised "
                              f"{type(error).__name__}: {error}") from error
        results.append((stdout, [book.figure_file(figure) for figure in figures]))
    return {"fences": results, "stamp": book.run_stamp(session)}


FIGURE_TEXT = Path(__file__).with_name("figure_text.zh.yml")
SVG_TEXT = re.compile(r"(<text\b[^>]*>)(.*?)(</text>)", flags=re.S)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# the fonts of the zh pages' stack (extra.css): an SVG shown by <img> does not see the page's CSS
CJK_FONTS = ("'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', "
             "'Source Han Sans SC', 'WenQuanYi Micro Hei', sans-serif")


class FigureText:
    """The reviewed EN -> ZH table of figure text (``figure_text.zh.yml``): ``text`` maps one
    line of a figure to its Chinese (``{}`` stands for a number), ``pages`` does the same for one
    page's figures (a line that means something else there), ``keep`` lists the Latin words that
    stay as they are (symbols, API and library names, the page's own data)."""

    def __init__(self, path: Path = FIGURE_TEXT):
        table = yaml_load(path.read_text(encoding="utf-8"))
        self.keep = set(table["keep"])
        self.pages = table.get("pages", {})
        self.exact = {key: value for key, value in table["text"].items() if "{}" not in key}
        self.patterns = [(re.compile("^" + r"([-+\d.,]+)".join(map(re.escape, key.split("{}"))) + "$"), value)
                         for key, value in table["text"].items() if "{}" in key]

    def english(self, line: str) -> list[str]:
        """The English words of ``line`` that a zh figure may not show."""
        return [word for word in LATIN_WORD.findall(line) if len(word) > 1 and word not in self.keep]

    def translate(self, line: str, page: str = "") -> str | None:
        """``line`` (drawn on ``page``, e.g. "data/cifar10") in Chinese, ``line`` itself when it needs
        no translation, None when the table lacks it."""
        text = line.strip()
        exact = self.exact | self.pages.get(page, {})  # a page's own entries win
        if text in exact:
            return exact[text]
        for pattern, value in self.patterns:
            if match := pattern.match(text):
                return value.format(*match.groups())
        return None if self.english(line) else line

    def svg(self, svg: str, page: str = "") -> tuple[str, list[str]]:
        """The SVG (drawn on ``page``) with every line of text in Chinese and CJK fonts in its
        font stacks, and the lines the table lacks."""
        missing = []

        def one(match: re.Match) -> str:
            line = html.unescape(match[2])
            if "<tspan" in line:  # mathtext, drawn glyph by glyph: symbols only
                glyphs = "".join(re.findall(r">([^<]*)</tspan>", line))
                missing.extend([glyphs] if self.english(glyphs) else [])
                return match[0]
            chinese = self.translate(line, page)
            if chinese is None:
                missing.append(line)
                return match[0]
            return match[1] + html.escape(chinese, quote=False) + match[3]

        svg = SVG_TEXT.sub(one, svg).replace("sans-serif;", CJK_FONTS + ";")
        return svg, missing


_figure_text: FigureText | None = None


def page_name(page) -> str:
    """A page's name in both languages: "nn/lenet" for nn/lenet.md and nn/lenet.zh.md."""
    return str(Path(page.file.src_uri).with_suffix("")).removesuffix(".zh")


def _page_figure(contents: bytes, alt: str, page) -> tuple[bytes, str]:
    """A figure and its alt text in the page's language (stand-in stamp, zh figure text)."""
    global _figure_text
    language = getattr(page.file, "locale", "en")
    note = book.STANDIN_NOTE["en"].encode()
    if note in contents:  # a figure drawn from a synthetic stand-in: say so in the page's language
        contents = contents.replace(note, html.escape(book.STANDIN_NOTE[language]).encode())
        alt += f" ({book.STANDIN_NOTE['en']})" if language == "en" else f"（{book.STANDIN_NOTE['zh']}）"
    if language == "zh":
        _figure_text = _figure_text or FigureText()
        svg, missing = _figure_text.svg(contents.decode(), page_name(page))
        if missing:
            raise PluginError(f"{page.file.src_path}: a figure has text with no Chinese in "
                              f"{FIGURE_TEXT.name}: {sorted(set(missing))}")
        contents = svg.encode()
    return contents, alt


def _figure_html(contents: bytes, extension: str, alt: str, page, config) -> str:
    uri = f"assets/figures/{hashlib.sha256(contents).hexdigest()[:16]}.{extension}"
    target = Path(config.site_dir) / uri
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(contents)
    src = get_relative_url(uri, page.url)
    width, height = (round(float(size) * 4 / 3) for size in  # matplotlib writes sizes in pt
                     re.search(rb'<svg[^>]* width="([\d.]+)pt" height="([\d.]+)pt"', contents).groups())
    kind = "photo" if b"<image" in contents else "chart"  # dark mode inverts charts, never photos
    return (f'<figure class="book-figure book-figure--{kind}" markdown>\n<a href="{src}">'
            f'<img src="{src}" alt="{alt}" width="{width}" height="{height}" loading="lazy"></a>\n</figure>')


PRACTICE = {"en": '!!! tip "Practice"\n    {links}: exercises on this chapter, with answers checked as you go.',
            "zh": '!!! tip "练习"\n    {links}：与本章配套的练习，每道题的答案都会当场检查。'}


def _notebook_prose(path: Path) -> str:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


@functools.cache
def exercises_for_page() -> dict[str, list[str]]:
    """Chapter (``nn/lenet.md``) -> the exercise notebooks (``nn/exercises.ipynb``) that link to it."""
    practised: dict[str, list[str]] = {}
    for path in sorted((book.ROOT / "docs").glob("*/exercises.ipynb")):
        uri = str(path.relative_to(book.ROOT / "docs"))
        for target in re.findall(r"\]\(([^)#\s]+\.md)", _notebook_prose(path)):
            notebooks = practised.setdefault(posixpath.normpath(posixpath.join(posixpath.dirname(uri), target)), [])
            notebooks += [] if uri in notebooks else [uri]
    return practised


def practice_note(page, language: str) -> str:
    """The tip at the end of a chapter linking to the exercises that practise it ("" if none)."""
    chapter = page.file.src_uri.replace(".zh.md", ".md")
    links = []
    for uri in exercises_for_page().get(chapter, []):
        path = book.ROOT / "docs" / (uri.replace(".ipynb", ".zh.ipynb") if language == "zh" else uri)
        title = re.search(r"^# (.+)$", _notebook_prose(path), flags=re.M)[1]
        links.append(f"[{title}]({posixpath.relpath(uri, posixpath.dirname(chapter))})")
    return PRACTICE[language].format(links=("、" if language == "zh" else ", ").join(links)) if links else ""


def _chapter_script(fences) -> str | None:
    """The docs_src script a chapter's code comes from (None for a page with code from several)."""
    scripts = {m["path"] for f in fences for m in map(book.INCLUDE.match, f.includes)
               if m["path"].startswith("docs_src/")}
    return scripts.pop() if len(scripts) == 1 else None


def _buttons(uri: str, page, labels, config) -> str:
    link = get_relative_url(uri, page.file.src_uri)
    repo = config.extra["repo_url"].rstrip("/").removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/gh-pages/{uri}"
    return ("<div data-search-exclude markdown>\n\n"  # buttons are not what a search should find
            f"[:material-download: {labels['download']}]({link}){{ .md-button }} "
            f"[:simple-googlecolab: {labels['colab']}]({colab}){{ .md-button }}\n\n</div>\n")


MATH_HEADING = re.compile(r"^(#{2,6} )(.*\$[^$]+\$.*?)\s*$")
_slugify = slugify(case="lower")  # as in mkdocs.yml's toc settings


def math_free_anchors(markdown: str) -> str:
    """Give each heading with math an anchor made from its words alone: "## The ELBO: a bound on
    $\\log p(x)$" gets #the-elbo-a-bound-on, not #the-elbo-a-bound-on-log-px."""
    lines, fenced = markdown.split("\n"), False
    for number, line in enumerate(lines):
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        match = None if fenced else MATH_HEADING.match(line)
        words = " ".join(re.sub(r"\$[^$]+\$", "", match[2]).split()).strip(" :：,，") if match else ""
        if words and not re.search(r"\{:?\s*[#.][^}]*\}$", match[2]):  # (no attribute list of its own)
            lines[number] = f"{line.rstrip()} {{ #{_slugify(words, '-')} }}"
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    # mkdocstrings reads its locale once, at startup; the API reference exists in both languages,
    # so its headings ("Parameters:" / "参数：") follow the page being rendered.
    config.plugins["mkdocstrings"].handlers._locale = getattr(page.file, "locale", "en")
    markdown = math_free_anchors(markdown)
    fences = book.python_fences(markdown, page.file.src_path)
    if not fences:
        return markdown
    labels = LABELS[getattr(page.file, "locale", "en")]
    results = _run_page(fences, page_name(page))
    shown = [(stdout, [(*_page_figure(contents, fence.alt or "", page), extension)
                       for contents, extension in figures])
             for fence, (stdout, figures) in zip(fences, results["fences"])]
    practice = practice_note(page, labels["language"])
    lines = markdown.split("\n") + (["", practice] if practice else []) + ["", run_stamp_html(results["stamp"], labels["language"])]
    for fence, (stdout, figures) in reversed(list(zip(fences, shown))):
        if figures and not fence.alt:
            raise PluginError(f"{page.file.src_path}: the fence at line {fence.first_line} draws a "
                              'figure but has no alt text (add alt="..." to its info string)')
        block = []
        if stdout.strip():
            block += ["", f'```{{ .text .no-copy title="{labels["output"]}" }}', stdout.rstrip("\n"), "```"]
        block += ["", *(_figure_html(contents, extension, alt, page, config)
                        for contents, alt, extension in figures)] if figures else []
        lines[fence.end_line:fence.end_line] = block
        opening = fence.first_line - 2
        lines[opening] = book.ALT.sub("", lines[opening])
    script = _chapter_script(fences)
    if script:
        uri = notebook_uri(script, labels["language"])
        _notebooks[uri] = notebook.chapter_notebook(
            markdown, fences, [(stdout, [(contents, extension) for contents, _, extension in figures])
                               for stdout, figures in shown],
            src_uri=page.file.src_uri, language=labels["language"], site_url=config.site_url,
            requirement=_requirement(config.extra["repo_url"]))
        title = next(i for i, line in enumerate(lines) if line.startswith("# "))
        lines[title + 1:title + 1] = ["", _buttons(uri, page, labels, config)]
    return "\n".join(lines)


def summary(page_html: str, limit: int = 160) -> str:
    """The first paragraph of prose of a rendered page as plain, HTML-escaped text of at most
    ``limit`` characters (cut at a space where it has one), or "" when there is none."""
    for paragraph in re.findall(r"<p>(.*?)</p>", page_html, flags=re.S):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", paragraph)).split())
        if "md-button" in paragraph or len(text) < 40:
            continue
        if len(text) > limit:
            cut = text[:limit - 1]
            text = (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut) + "…"
        return html.escape(text, quote=False).replace('"', "&quot;")  # (an apostrophe stays one character)
    return ""


CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"  # CJK punctuation, ideographs, full-width forms
CJK_LINE_BREAK = re.compile(f"(?<=[{CJK}])\n[ \t]*(?=[{CJK}])")
PRE = re.compile(r"(<pre[\s\S]*?</pre>)")


def join_cjk_lines(page_html: str) -> str:
    """Remove the line breaks that sit between two CJK characters outside ``<pre>``: browsers render
    them as spaces ("会被跟踪； 默认"), and Chinese puts no space between words."""
    parts = PRE.split(page_html)
    return "".join(part if part.startswith("<pre") else CJK_LINE_BREAK.sub("", part) for part in parts)


# Interface text that Python-Markdown and mkdocstrings write in English whatever the page's language
ZH_INTERFACE = {r'title="Permanent link"': 'title="永久链接"',
                r'(<p class="doc doc-class-bases">\s*)Bases: ': r"\1基类："}


def on_page_content(page_html, page, config, files):
    if page.file.src_uri.endswith(".ipynb"):
        page.title = html.unescape(page.title)  # mkdocs-jupyter hands it over escaped: "&amp;" in the footer
        page_html = notebook_page(page_html, page, files, config, LABELS[getattr(page.file, "locale", "en") or "en"])
    if getattr(page.file, "locale", "en") == "zh":
        page_html = join_cjk_lines(page_html)
        for english, chinese in ZH_INTERFACE.items():
            page_html = re.sub(english, chinese, page_html)
    page_html, plain = render_math(page_html, page)
    page.meta.setdefault("description", summary(plain))
    return page_html


NOTEBOOK_CHROME = re.compile(r"<style\b.*?</style>|<script\b.*?</script>|<!--.*?-->", flags=re.S)
NOTEBOOK_WIDGETS = ("celltoolbar", "zeroclipboard-container", "clipboard-copy-txt")  # tags, a second copy button
MARKDOWN_LINK = re.compile(r'href="(?!https?:|#|/)([^"#]+\.md)(#[^"]*)?"')
DOLLAR_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", flags=re.S)
CODE = re.compile(r"(<pre\b.*?</pre>|<code\b.*?</code>)", flags=re.S)


def _without_divs(page_html: str, class_name: str) -> str:
    """``page_html`` without the ``<div class="<class_name>">`` elements (nested divs and all)."""
    start = re.compile(rf'<div class="{class_name}"')
    while match := start.search(page_html):
        depth, position = 0, match.start()
        for tag in re.finditer(r"<(/?)div\b[^>]*>", page_html[position:]):
            depth += -1 if tag[1] else 1
            if depth == 0:
                page_html = page_html[:position] + page_html[position + tag.end():]
                break
    return page_html


def notebook_page(page_html: str, page, files, config, labels: dict) -> str:
    """An exercise notebook rendered by mkdocs-jupyter, made a page of this book: no inline
    JupyterLab styles and no scripts (its MathJax and Mermaid came from a CDN), math by KaTeX like
    every page, code blocks as Material's (with its copy button), links to chapters resolved, and
    the download and Colab buttons in the page's language."""
    page_html = NOTEBOOK_CHROME.sub("", page_html)
    for class_name in NOTEBOOK_WIDGETS:
        page_html = _without_divs(page_html, class_name)
    page_html = page_html.replace('class="highlight-ipynb hl-python"', 'class="highlight"')
    page_html = re.sub(r'(<div class="highlight"><pre>)(.*?)(</pre>)', r"\1<code>\2</code>\3", page_html, flags=re.S)
    page_html = page_html.replace('<div class="jp-Cell-inputWrapper" tabindex="0">', '<div class="jp-Cell-inputWrapper">')
    # Headings get the ids of the table of contents (mkdocs-jupyter builds it with Python-Markdown's
    # slugs, nbconvert writes its own), and Material's permalinks.
    anchors = iter([item.id for item in _toc_items(page.toc)])

    def heading(match: re.Match) -> str:
        anchor = next(anchors, "")
        link = f'<a class="headerlink" href="#{anchor}" title="Permanent link">¶</a>' if anchor else ""
        return f'<h{match[1]}{f" id={chr(34)}{anchor}{chr(34)}" if anchor else ""}>{match[2]}{link}</h{match[1]}>'

    page_html = re.sub(r'<h(\d) id="[^"]*">(.*?)<a class="anchor-link" href="#[^"]*">¶</a></h\1>', heading, page_html)
    folder = posixpath.dirname(page.file.src_uri)

    def chapter_link(match: re.Match) -> str:
        target = files.get_file_from_path(posixpath.normpath(posixpath.join(folder, match[1])))
        if target is None:
            raise PluginError(f"{page.file.src_path}: a link to {match[1]}, which does not exist")
        return f'href="{get_relative_url(target.url, page.url)}{match[2] or ""}"'

    def math(match: re.Match) -> str:
        return (f'<div class="arithmatex">\\[{match[1]}\\]</div>' if match[1] is not None
                else f'<span class="arithmatex">\\({match[2]}\\)</span>')

    parts = CODE.split(MARKDOWN_LINK.sub(chapter_link, page_html))
    page_html = "".join(part if CODE.fullmatch(part) else DOLLAR_MATH.sub(math, part) for part in parts)
    name = Path(page.file.abs_src_path).name
    repo = config.extra["repo_url"].rstrip("/").removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/gh-pages/{page.url}{name}"
    buttons = (f'<p data-search-exclude><a class="md-button" href="{name}" download>{labels["download"]}</a> '
               f'<a class="md-button" href="{colab}">{labels["colab"]}</a></p>')
    return re.sub(r"(</h1>)", r"\1" + buttons.replace("\\", "\\\\"), page_html, count=1)


def simplified_chinese(output: str) -> str:
    """Tag a zh page as simplified Chinese (Material writes ``lang="zh"``), so browsers pick SC fonts."""
    return output.replace('<html lang="zh"', '<html lang="zh-CN"', 1)


def on_post_page(output, page, config):
    if getattr(page.file, "locale", "en") == "zh":
        output = simplified_chinese(output)
    return HEAD_ALTERNATE.sub("", output)


def on_pre_template(template, template_name, config):
    global _page_alternates
    if template_name == "404.html":  # its language switcher leads to each language's home page
        _page_alternates = config.extra.get("alternate", [])
        base = urlsplit(config.site_url or "/").path.rstrip("/") + "/"
        config.extra["alternate"] = [dict(alternate, link=base + ("" if alternate["lang"] == "en" else f"{alternate['lang']}/"))
                                     for alternate in _page_alternates]
    return template


def on_post_template(output, template_name, config):
    """Keep each language's 404 page: mkdocs-static-i18n renders 404.html once per language into
    the same root file, so the last language built (zh) would win. Root 404.html stays English."""
    global _english_404
    if template_name != "404.html":
        return output
    config.extra["alternate"] = _page_alternates
    output = HEAD_ALTERNATE.sub("", output)
    language = config.theme["language"]
    if language == "en":
        _english_404 = output
        return output
    target = Path(config.site_dir) / language / "404.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(simplified_chinese(output), encoding="utf-8")
    return _english_404 or output


def split_search_index(site_dir: Path) -> None:
    """One search index per language: ``search/search_index.json`` keeps the English pages and
    ``zh/search/search_index.json`` the Chinese ones (``lazy-search-index.html`` asks for the page's)."""
    index_file = site_dir / "search" / "search_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    for language, keep in (("en", lambda location: not location.startswith("zh/")),
                           ("zh", lambda location: location.startswith("zh/"))):
        docs = [doc for doc in index["docs"] if keep(doc["location"])]
        target = index_file if language == "en" else site_dir / "zh" / "search" / "search_index.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(dict(index, docs=docs), ensure_ascii=False, separators=(",", ":")),
                          encoding="utf-8")


@event_priority(-100)  # after the search plugin has written the index
def on_post_build(config):
    _math.save()
    for uri, content in _notebooks.items():
        (Path(config.site_dir) / uri).write_text(content, encoding="utf-8")
    split_search_index(Path(config.site_dir))
    robots = f"User-agent: *\nAllow: /\nSitemap: {config.site_url}sitemap.xml\n"
    (Path(config.site_dir) / "robots.txt").write_text(robots, encoding="utf-8")


def on_shutdown():
    shutil.rmtree(_workdir, ignore_errors=True)
