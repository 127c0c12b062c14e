"""The built site, as a reader gets it: both languages, outputs, math, notebooks, no CDN."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html import escape as html_escape, unescape
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree import ElementTree
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SITE_URL = os.environ.get("SITE_URL", "https://pytorch-notes.github.io/pytorch-notes/")  # as in mkdocs.yml
NAV_PAGES = []


def _nav_pages(items):
    for item in items:
        if isinstance(item, str):  # a section's index page
            NAV_PAGES.append(item)
            continue
        for value in item.values():
            if isinstance(value, list):
                _nav_pages(value)
            else:
                NAV_PAGES.append(value)


_nav_pages(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)["nav"])
CHAPTERS = [page for page in NAV_PAGES if '--8<-- "docs_src/' in (ROOT / "docs" / page).read_text(encoding="utf-8")]


def page_url(page: str, language: str) -> str:
    stem = re.sub(r"\.(md|ipynb)$", "", page)
    path = "index.html" if stem == "index" else stem.removesuffix("/index") + "/index.html"
    return path if language == "en" else f"zh/{path}"


class _Assets(HTMLParser):
    """Collects what a browser would fetch at page load: scripts, stylesheets, images, iframes."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("rel") in ("stylesheet", "preload", "modulepreload", "icon"):
            self.urls.append(attrs.get("href", ""))


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("page", NAV_PAGES)
def test_every_page_exists_in_both_languages_without_cdn(site, page, language):
    html = (site / page_url(page, language)).read_text(encoding="utf-8")
    assets = _Assets()
    assets.feed(html)
    external = [url for url in assets.urls if re.match(r"^(https?:)?//", url)]
    assert not external, f"page load would fetch third-party files: {external}"
    assert '<html lang="zh-CN"' in html if language == "zh" else '<html lang="en"' in html


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("page", CHAPTERS)
def test_chapters_show_real_output_and_offer_a_notebook(site, page, language):
    html = (site / page_url(page, language)).read_text(encoding="utf-8")
    label = "Output" if language == "en" else "输出"
    assert f'<span class="filename">{label}</span>' in html
    notebook_href = re.search(r'href="([^"]+\.ipynb)"', html).group(1)
    notebook = (site / page_url(page, language)).parent / notebook_href
    nbformat.validate(nbformat.read(notebook, as_version=4))
    assert "colab.research.google.com/github/" in html


EXERCISES = [page for page in NAV_PAGES if page.endswith("/exercises.ipynb")]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_exercise_pages_are_notebook_pages_in_their_language_and_chapters_link_to_them(site, language):
    """mkdocs-jupyter renders each track's exercises in the page's language (with mkdocs-static-i18n:
    the hook re-wraps them), with a download of that language's notebook; every chapter an exercise
    practises links back to the exercise page."""
    assert len(EXERCISES) >= 13
    practised = 0
    for page in EXERCISES:
        html = (site / page_url(page, language)).read_text(encoding="utf-8")
        source = ROOT / "docs" / (page if language == "en" else page.replace(".ipynb", ".zh.ipynb"))
        notebook = nbformat.read(source, as_version=4)
        title = notebook.cells[0].source.splitlines()[0].removeprefix("# ")
        assert re.search(rf"<h1[^>]*>{re.escape(html_escape(title))}<", html), f"{page} ({language}): not its notebook"
        assert 'class="jupyter-wrapper"' in html and "<style" not in html.split("<body", 1)[1]
        download = re.search(r'<a class="md-button" href="([^"]+\.ipynb)" download>', html)[1]
        assert (site / page_url(page, language)).parent.joinpath(download).is_file()
        assert download == Path(source).name
        for chapter in set(re.findall(r"\]\(([^)#\s]+\.md)", "".join(c.source for c in notebook.cells))):
            target = os.path.normpath(os.path.join(os.path.dirname(page), chapter))
            chapter_html = (site / page_url(target, language)).read_text(encoding="utf-8")
            assert re.search(r'href="(\.\./)*' + re.escape(os.path.dirname(page)) + r'/exercises/"|href="\.\./exercises/"',
                             chapter_html), f"{target} ({language}) does not link to {page}"
            practised += 1
    assert practised >= 40


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_page_with_code_says_what_it_ran_with(site, language):
    """The run stamp: torch and torchvision versions, device, date and seconds, from the run itself."""
    import torch
    import torchvision

    pattern = {"en": r"^The code on this page ran with .* on a (CPU|GPU) \(.*\), on \d{4}-\d{2}-\d{2}, in [\d.]+ s\.$",
               "zh": r"^本页代码的运行环境：.*，(CPU|GPU)（.*），运行于 \d{4}-\d{2}-\d{2}，用时 [\d.]+ 秒。$"}[language]
    for page in CHAPTERS:
        text = (site / page_url(page, language)).read_text(encoding="utf-8")
        stamps = re.findall(r'<p class="run-stamp"[^>]*>(.*?)</p>', text, flags=re.S)
        assert len(stamps) == 1, f"{page} ({language}) has {len(stamps)} run stamps"
        assert re.match(pattern, stamps[0]), stamps[0]
        assert f"torch {torch.__version__}" in stamps[0] and f"torchvision {torchvision.__version__}" in stamps[0]


def test_math_is_rendered_at_build_time_and_pages_ship_no_math_script(site):
    """KaTeX runs in the build: pages carry its HTML (and MathML), its CSS and fonts, and no TeX
    source anywhere a reader sees it: page, table of contents, search index, link previews."""
    for language in ("en", "zh"):
        html = (site / page_url("architecture/attention.md", language)).read_text(encoding="utf-8")
        body = re.sub(r"<(pre|code|script)\b.*?</\1>", "", html, flags=re.S)
        assert '<div class="arithmatex"><span class="katex-display">' in html
        assert '<span class="arithmatex"><span class="katex">' in html
        assert "\\(" not in body and "\\[" not in body, "TeX source left on the page"
        table_of_contents = html[html.index("md-nav--secondary"):html.index("<article")]
        assert "<math" in table_of_contents and "\\(" not in table_of_contents
        scripts = re.findall(r'<script src="([^"]+)"', html)
        assert not [src for src in scripts if "katex" in src or "mathjax" in src], scripts
        assert re.search(r'<link rel="stylesheet" href="[./]*assets/katex/katex.min.css"', html)
    assert (site / "assets" / "katex" / "katex.min.css").is_file()
    assert list((site / "assets" / "katex" / "fonts").glob("*.woff2"))
    assert not list((site / "assets" / "katex").glob("*.js"))
    index = "".join((site / path / "search" / "search_index.json").read_text(encoding="utf-8") for path in ("", "zh"))
    assert "\\\\(" not in index and "\\\\frac" not in index, "TeX source in the search index"
    description = re.search(r'<meta name="description" content="([^"]*)"',
                            (site / "nn" / "linear" / "index.html").read_text(encoding="utf-8"))
    assert description and "\\" not in description[1]


def test_headings_with_math_have_anchors_without_tex(site):
    """A heading's anchor comes from its words: #the-elbo-a-lower-bound-on, not #...-log-px."""
    checked = 0
    for page in site.rglob("*.html"):
        for anchor, heading in re.findall(r'<h[2-6] id="([^"]+)">(.*?)</h[2-6]>', page.read_text(encoding="utf-8")):
            tex = " ".join(re.findall(r'encoding="application/x-tex"[^>]*>(.*?)</annotation>', heading))
            commands = re.findall(r"\\([a-zA-Z]+)", tex)
            checked += bool(tex)
            assert not [name for name in commands if name.lower() in unescape(anchor)], (page, anchor, tex)
    assert checked >= 20


def test_the_api_reference_links_the_objects_docstrings_name(site):
    """Docstrings name other objects with Sphinx roles (:class:`KVCache`), which Markdown would
    show as text; the reference shows each as a link to the object's entry, on its page or another."""
    for language in ("", "zh/"):
        pages = {page.parent.name: page.read_text(encoding="utf-8")
                 for page in (site / language / "reference").glob("*/index.html")}
        assert not [name for name, html in pages.items() if re.search(r":(class|func|meth|attr|mod):", html)]
        assert 'href="#pytorch_notes.attention.KVCache.append"' in pages["layers"]  # :meth:`append`
        assert 'href="../layers/#pytorch_notes.attention.KVCache"' in pages["language"]  # from gpt


COLUMN_PX = 720  # the text column on a desktop is 688 px: a figure drawn wider is shown shrunk
FIGURE_BUDGET = 250_000  # bytes; the build makes heavy figures lighter (docs_hooks/build.py)


def test_figures_are_light_files_with_alt_text_size_and_a_link_to_zoom(site):
    """Every figure of every page, in both languages: a file of the site, light, described by its
    alt text, with its size set (no layout shift), linking to itself (a tap opens it full size)."""
    figures = 0
    figure = re.compile(r'<a href="([^"]+)"><img src="([^"]*assets/figures/[^"]+)" alt="([^"]*)" '
                        r'width="(\d+)" height="(\d+)"')
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert len(figure.findall(text)) == len(re.findall(r'<img src="[^"]*assets/figures/', text)), page
        for href, src, alt, width, height in figure.findall(text):
            figures += 1
            file = (page.parent / src).resolve()
            assert file.is_file(), f"{page.relative_to(site)}: {src} is missing"
            assert href == src and 100 < int(width) <= COLUMN_PX and int(height) > 50, \
                f"{page.relative_to(site)}: {src} is {width} px wide: draw it for the column (figsize <= 7 in)"
            assert len(alt) > 20, f"{page.relative_to(site)}: {src} has no real alt text"
            assert file.stat().st_size <= FIGURE_BUDGET, f"{src} is {file.stat().st_size} bytes"
    assert figures > 50


@pytest.mark.parametrize("language", ["en", "zh"])
def test_figures_drawn_from_a_stand_in_say_so_in_the_figure_and_its_alt_text(site, language):
    """After a page prints that it uses a synthetic stand-in, each figure says so in the page's language.

    Only CIFAR-10 can fall back to a stand-in; MNIST and the ants/bees photos ship with the package.
    """
    sys.path.insert(0, str(ROOT / "docs_hooks"))
    from book import STANDIN, STANDIN_NOTE

    note, pages_with_stand_ins = STANDIN_NOTE[language], 0
    for page in CHAPTERS:
        text = (site / page_url(page, language)).read_text(encoding="utf-8")
        if STANDIN not in text:
            continue
        pages_with_stand_ins += 1
        after = text[text.index(STANDIN):]
        for src, alt in re.findall(r'<img src="([^"]*assets/figures/[^"]+)" alt="([^"]*)"', after):
            figure = (site / page_url(page, language)).parent / src
            assert note in alt, f"{page} ({language}): the alt text of {src} does not say it shows a stand-in"
            assert note in figure.read_text(encoding="utf-8"), f"{page} ({language}): {src} does not say it"
            assert "mnist" not in page.lower() and "lenet" not in page, f"{page} uses an MNIST stand-in"
    real_cifar = (Path(os.environ.get("PYTORCH_NOTES_DATA", "data")) / "cifar-10-batches-py").is_dir()
    assert pages_with_stand_ins == 0 if real_cifar else pages_with_stand_ins >= 5


def test_no_line_break_between_chinese_characters_on_zh_pages(site):
    """A line break between two CJK characters renders as a space in Chrome and Safari."""
    sys.path.insert(0, str(ROOT / "docs_hooks"))
    from build import CJK_LINE_BREAK, PRE

    pages = sorted((site / "zh").rglob("*.html"))
    assert len(pages) > 50
    for page in pages:
        text = page.read_text(encoding="utf-8")
        outside_code = "".join(part for part in PRE.split(text) if not part.startswith("<pre"))
        found = [m.start() for m in CJK_LINE_BREAK.finditer(outside_code)]
        assert not found, f"{page.relative_to(site)}: {len(found)} line breaks between CJK characters, " \
                          f"e.g. {outside_code[found[0] - 20:found[0] + 20]!r}"
    description = re.search(r'<meta name="description" content="([^"]*)"',
                            (site / "zh" / "nn" / "lenet" / "index.html").read_text(encoding="utf-8"))[1]
    assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", description), description


def test_zh_pages_get_a_chinese_system_font_stack_and_no_web_font(site):
    """Full-width punctuation and Chinese text come from a simplified-Chinese system font."""
    css = (site / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    stack = re.search(r'html\[lang\|="zh"\] body \{\s*--md-text-font-family:([^;]*);', css)[1]
    fonts = [font.strip().strip('"') for font in stack.split(",")]
    assert {"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC"} <= set(fonts)
    assert fonts[-1] == "sans-serif" and "@font-face" not in css
    assert '<html lang="zh-CN"' in (site / "zh" / "404.html").read_text(encoding="utf-8")


# Names a zh page's interface may show in Latin letters (of the book, products, systems)
INTERFACE_NAMES = {"PyTorch", "Notes", "English", "Material", "MkDocs", "GitHub", "Colab", "Notebook",
                   "Windows", "Linux", "for"}


def _english_words(text: str) -> list[str]:
    """Ordinary English words in a string with no Chinese in it: not names (CamelCase, ALLCAPS,
    with digits or . _) and not in INTERFACE_NAMES."""
    if re.search(r"[\u4e00-\u9fff]", text):
        return []
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9]|[A-Za-z]", text)
    return [word for word in words if len(word) > 2 and word not in INTERFACE_NAMES
            and not re.search(r"[0-9_.]|.[A-Z]", word)]


class _Interface(HTMLParser):
    """The interface of a page: what the theme and the build write around the content (header,
    footer, search, buttons, the run stamp, code-block and section titles, the API reference's
    table headers and "required" labels) and every title / aria-label / placeholder. Not the
    content: the article's prose, code, math, and the titles taken from the pages (navigation,
    table of contents)."""

    LABELS = ("doc-section-title", "doc-class-bases", "filename", "md-button", "run-stamp",
              "admonition-title", "md-header__button", "md-search", "md-footer-meta", "md-source-file")
    CONTENT = ("md-nav__link", "md-ellipsis", "md-footer__title", "md-header__topic")

    def __init__(self):
        super().__init__()
        self.open, self.strings = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        outer = self.open[-1] if self.open else {"skip": False, "article": False, "label": False, "td": False}
        skip = (tag in ("code", "pre", "script", "style", "svg") or "arithmatex" in classes
                or any(name in classes for name in self.CONTENT))
        label = tag == "th" or (tag == "em" and outer["td"]) or any(name in classes for name in self.LABELS)
        state = {"skip": outer["skip"] or skip, "article": outer["article"] or tag == "article",
                 "label": outer["label"] or label, "td": outer["td"] or tag == "td"}
        if tag not in ("br", "img", "input", "link", "meta", "hr", "source", "wbr", "path"):
            self.open.append(dict(state, tag=tag))
        if (not state["skip"] or "md-footer__link" in classes) and "md-nav" not in classes:  # a nav's label is a title
            names = ("aria-label", "placeholder") if "autorefs" in classes else ("title", "aria-label", "placeholder")
            self.strings += [attrs[name] for name in names if attrs.get(name)]  # (a reference link's title: a signature)

    def handle_endtag(self, tag):
        if any(state["tag"] == tag for state in self.open):  # close it, and what it left open
            while self.open.pop()["tag"] != tag:
                pass

    def handle_data(self, data):
        state = self.open[-1] if self.open else {"skip": False, "article": False, "label": False}
        if data.strip() and not state["skip"] and (not state["article"] or state["label"]):
            self.strings.append(data.strip())


def test_zh_pages_show_no_english_interface_text(site):
    """Headings' permalinks, the theme switch, footer, search, the API reference's labels: all Chinese.

    (The API reference's descriptions are the docstrings, in English, as its zh page says.)"""
    pages = sorted((site / "zh").rglob("*.html"))
    found = {}
    for page in pages:
        parser = _Interface()
        parser.feed(page.read_text(encoding="utf-8"))
        for string in parser.strings:
            if _english_words(string):
                found.setdefault(string, str(page.relative_to(site)))
    assert not found, f"English interface text on zh pages: {found}"
    english = _Interface()
    english.feed((site / "reference" / "training" / "index.html").read_text(encoding="utf-8"))
    english = {string for string in english.strings if _english_words(string)}
    assert {"Permanent link", "Parameters:", "Switch to dark mode", "required", "Made with"} <= english


def test_every_zh_figure_is_in_chinese(site):
    """Each zh figure: its text lines translated from docs_hooks/figure_text.zh.yml, text kept as
    text (so the reader's Chinese fonts draw it), no English word outside the table's ``keep``."""
    sys.path.insert(0, str(ROOT / "docs_hooks"))
    from build import SVG_TEXT, FigureText

    table, figures = FigureText(), 0
    for page in sorted((site / "zh").rglob("*.html")):
        for src in re.findall(r'<img src="([^"]*assets/figures/[^"]+)"', page.read_text(encoding="utf-8")):
            assert src.endswith(".svg"), f"{page.relative_to(site)}: {src} is not an SVG with text as text"
            svg = ((page.parent / src).resolve()).read_text(encoding="utf-8")
            lines = [unescape(re.sub(r"<[^>]+>", "", text)) for _, text, _ in SVG_TEXT.findall(svg)]
            name = str(page.parent.relative_to(site / "zh"))
            english = [line for line in lines if table.english(line) or line in table.pages.get(name, {})]
            assert not english, f"{page.relative_to(site)}: {src} shows English: {english}"
            figures += 1
    assert figures > 50


def test_each_language_has_its_own_search_index_and_chinese_search_finds_chinese_words(site):
    english = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    chinese = json.loads((site / "zh" / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert chinese["config"]["lang"] == ["en", "zh"] and "、" in chinese["config"]["separator"]
    assert english["docs"] and not [doc for doc in english["docs"] if doc["location"].startswith("zh/")]
    assert chinese["docs"] and all(doc["location"].startswith("zh/") for doc in chinese["docs"])
    zh_text = " ".join(doc["text"] for doc in chinese["docs"])
    assert "\u200b梯度\u200b" in zh_text  # jieba split the Chinese text into words
    interface = ("Download notebook Open in Colab", "下载 Notebook 在 Colab 中打开",  # the buttons, the run stamp
                 "The code on this page ran with torch", "本页代码的运行环境：torch")
    for doc in english["docs"] + chinese["docs"]:
        assert not any(text in " ".join(doc["text"].split()) for text in interface), doc["location"]


class _Links(HTMLParser):
    """Collects every link target of a page and every id it defines."""

    def __init__(self):
        super().__init__()
        self.targets, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag in ("a", "link") and attrs.get("href"):
            self.targets.append(attrs["href"])
        if tag in ("img", "script", "iframe") and attrs.get("src"):
            self.targets.append(attrs["src"])


def _parse(path: Path) -> _Links:
    links = _Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def test_no_broken_internal_link_or_anchor(site):
    """Every link between the site's own pages, in both languages, reaches a file, and its #anchor an id."""
    site_url = SITE_URL
    base = urlsplit(site_url)
    pages = {path: _parse(path) for path in site.rglob("*.html")}
    broken = []
    for page, links in pages.items():
        page_address = site_url + page.relative_to(site).as_posix()
        for target in links.targets:
            address = urlsplit(urljoin(page_address, target))
            if address.scheme not in ("http", "https") or address.netloc != base.netloc:
                continue  # mailto:, data:, or another site: not ours to check offline
            if not address.path.startswith(base.path):
                broken.append(f"{page.relative_to(site)}: {target} leaves the site's sub-path {base.path}")
                continue
            file = site / unquote(address.path[len(base.path):])
            if address.path.endswith("/"):
                file = file / "index.html"
            if not file.is_file():
                broken.append(f"{page.relative_to(site)}: {target} (no {file.relative_to(site)})")
            elif address.fragment and file.suffix == ".html":
                ids = pages[file].ids if file in pages else _parse(file).ids
                if unquote(address.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {target} (no id {address.fragment!r})")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(sorted(set(broken))[:50])


def _meta(html: str, key: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    return found and found.group(1)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_page_has_reader_polish(site, language):
    """Link previews, a description, the favicon, an edit link to its own source, a last-updated date,
    previous/next links, and no per-page hreflang links (Material would fetch <page>/sitemap.xml)."""
    suffix = "" if language == "en" else ".zh"
    for number, page in enumerate(NAV_PAGES):
        html = (site / page_url(page, language)).read_text(encoding="utf-8")
        canonical = SITE_URL + page_url(page, language).removesuffix("index.html")
        assert _meta(html, "og:url") == canonical, page
        assert _meta(html, "og:image") == SITE_URL + "assets/social-card.png"
        assert _meta(html, "og:locale") == ("en_US" if language == "en" else "zh_CN")
        assert _meta(html, "og:title") and _meta(html, "twitter:card") == "summary_large_image"
        description = _meta(html, "description")
        assert description and description == _meta(html, "og:description") and len(description) <= 170, page
        assert '<link rel="icon" href="' in html and "assets/favicon.svg" in html
        source = re.sub(r"\.(md|ipynb)$", rf"{suffix}.\1", page)
        assert re.search(rf'<a href="[^"]*/edit/main/docs/{re.escape(source)}"[^>]*rel="edit"', html), page
        date = re.search(r'git-revision-date-localized-plugin-date"[^>]*>([^<]+)<', html)
        assert date and re.search(r"\d{4}" if language == "en" else r"\d{4}年\d{1,2}月\d{1,2}日", date.group(1)), page
        assert ("md-footer__link--prev" in html) == (number > 0), page
        assert ("md-footer__link--next" in html) == (number < len(NAV_PAGES) - 1), page
        assert not re.search(r'<link rel="alternate" href="[^"]*" hreflang=', html), page
    home = (site / page_url("index.md", language)).read_text(encoding="utf-8")
    assert _meta(home, "og:type") == "website"


def test_404_pages_in_both_languages(site):
    english, chinese = (site / "404.html").read_text(encoding="utf-8"), (site / "zh" / "404.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in english and "<h1>404: page not found</h1>" in english and "前往中文首页" in english
    assert '<html lang="zh-CN"' in chinese and "<h1>404：页面不存在</h1>" in chinese and "English home page" in chinese
    for html in (english, chinese):
        assert _meta(html, "robots") == "noindex"
        assert f'href="{urlsplit(SITE_URL).path}assets/stylesheets/' in html  # absolute: served at any depth


def test_robots_and_sitemap_cover_both_languages(site):
    assert (site / "robots.txt").read_text() == f"User-agent: *\nAllow: /\nSitemap: {SITE_URL}sitemap.xml\n"
    sitemap = ElementTree.parse(site / "sitemap.xml").getroot()
    namespaces = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    entries = {url.findtext("s:loc", namespaces=namespaces): {link.get("hreflang"): link.get("href")
               for link in url.findall("x:link", namespaces)} for url in sitemap.findall("s:url", namespaces)}
    for page in NAV_PAGES:
        english, chinese = (SITE_URL + page_url(page, language).removesuffix("index.html") for language in ("en", "zh"))
        assert entries.get(english) == {"en": english, "zh": chinese}, page
        assert entries.get(chinese) == {"en": english, "zh": chinese}, page


def test_outside_links_are_listed_and_checked_where_the_network_allows(site):
    """Writes test-results/external-links.txt. Requests them only with PYTORCH_NOTES_CHECK_EXTERNAL_LINKS=1
    (`make linkcheck`): CI has no internet, and an outside site being down must not fail the book."""
    sys.path.insert(0, str(ROOT / "tools"))
    from check_external_links import external_links

    links = external_links(site)
    results = Path(os.environ.get("PYTORCH_NOTES_RESULTS", ROOT / "test-results"))
    results.mkdir(parents=True, exist_ok=True)
    (results / "external-links.txt").write_text("".join(f"{link}\n" for link in links), encoding="utf-8")
    edit_prefix = os.environ.get("EDIT_URI", "https://github.com/pytorch-notes/pytorch-notes/edit/main/docs/")
    edited = [link.removeprefix(edit_prefix) for link in links if link.startswith(edit_prefix)]
    assert len(edited) == 2 * len(NAV_PAGES) and all((ROOT / "docs" / source).is_file() for source in edited)
    if os.environ.get("PYTORCH_NOTES_CHECK_EXTERNAL_LINKS") != "1":
        pytest.skip(f"{len(links)} outside links listed, not requested (PYTORCH_NOTES_CHECK_EXTERNAL_LINKS=1 to check)")
    result = subprocess.run([sys.executable, "tools/check_external_links.py", str(site), "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)  # a fresh process: no offline guard
    assert result.returncode == 0, result.stdout[-5000:]
