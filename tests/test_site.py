"""The built site, as a reader gets it: both languages, outputs, math, notebooks, no CDN."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NAV_PAGES = []


def _nav_pages(items):
    for item in items:
        for value in item.values():
            if isinstance(value, list):
                _nav_pages(value)
            else:
                NAV_PAGES.append(value)


_nav_pages(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)["nav"])
CHAPTERS = [page for page in NAV_PAGES if '--8<-- "docs_src/' in (ROOT / "docs" / page).read_text(encoding="utf-8")]


def page_url(page: str, language: str) -> str:
    path = "index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html"
    return path if language == "en" else f"zh/{path}"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site_dir)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    return site_dir


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
    assert 'lang="zh"' in html if language == "zh" else 'lang="en"' in html


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


def test_math_is_marked_up_for_katex_and_katex_is_served(site):
    html = (site / page_url("autograd/manual-gradient.md", "zh")).read_text(encoding="utf-8")
    assert '<div class="arithmatex">\\[' in html and '<span class="arithmatex">\\(' in html
    for asset in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js"):
        assert (site / "assets" / "katex" / asset).is_file()
    assert list((site / "assets" / "katex" / "fonts").glob("*.woff2"))


def test_figures_are_files_with_alt_text(site):
    html = (site / page_url("autograd/manual-gradient.md", "en")).read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+\.svg)" alt="([^"]+)"', html)
    assert images
    for src, _alt in images:
        assert ((site / page_url("autograd/manual-gradient.md", "en")).parent / src).resolve().is_file()


def test_chinese_search_finds_chinese_words(site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["config"]["lang"] == ["en", "zh"]
    assert "、" in index["config"]["separator"]
    zh_text = " ".join(doc["text"] for doc in index["docs"] if doc["location"].startswith("zh/"))
    assert "\u200b梯度\u200b" in zh_text  # jieba split the Chinese text into words


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
    from urllib.parse import unquote, urljoin, urlsplit

    site_url = os.environ.get("SITE_URL", "https://pytorch-notes.github.io/pytorch-notes/")  # as in mkdocs.yml
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
