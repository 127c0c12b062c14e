"""One term per concept on the Chinese pages, glossed at first use; nav titles match page titles.

- `VARIANTS` below is the one list of renderings the book does not use, each with the one it
  uses instead. The preferred renderings and their English are the rows of the glossary page,
  docs/glossary.zh.md (English | 中文 | ...).
- Prose: a page minus fenced code, inline code, math ($...$, $$...$$), HTML comments and link
  targets. Variants are searched in prose and headings, but not in the English that opens a
  full-width parenthesis (up to its first ，/；): that is where a gloss goes, 轮（epoch）.
- Gloss: on each zh page, the first use of a glossary term in prose, outside headings, table rows
  and admonition titles, is followed by its English in full-width parentheses: 雅可比矩阵（Jacobian）;
  the parenthesis may close the word or link that holds the term: [优化器循环](…)（optimizer loop）.
  A one-character term (批, 轮, 层) is too common inside other words to be checked this way.
- Titles: a nav title is its page's H1, or the H1's head before the first colon or comma (nav
  "Normalization" for "# Normalization: Batch, Layer, Group and Instance norm"), in both languages;
  backticks are ignored. The home page's nav title is "Home".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ZH_PAGES = sorted(DOCS.rglob("*.zh.md"))

VARIANTS = {  # regex: preferred rendering
    r"Jacobian|雅克比": "雅可比矩阵",
    r"Hessian|黑塞": "海森矩阵",
    r"梯度累加": "梯度累积",
    r"梯度检查(?!点)": "梯度检验",
    r"(?i)\bepochs?\b": "轮",
    r"\bbatch(es)?\b": "批 / 小批量 / 批大小",
    r"(?i)\btokens?\b": "词元",
    r"(?i)\bhooks?\b|Hook 机制": "钩子",
    r"白名单": "允许列表",
    r"(?i)focal loss": "Focal 损失",
    r"图文对比学习": "图文对比预训练",
    r"前向计算": "前向传播",
}

CJK = "\u4e00-\u9fff"
MASKS = [  # what is not prose: blanked out, keeping the line breaks
    r"(?m)^ *(```|~~~).*?^ *\1[^\n]*$",  # fenced code
    r"\$\$.*?\$\$",  # display math
    r"(`+).+?\1",  # inline code
    r"(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$",  # inline math
    r"<!--.*?-->",
    r"(?<=\])\([^)\s]*\)",  # link targets
]


def blank(match: re.Match) -> str:
    return re.sub(r"[^\n]", " ", match.group())


def prose(text: str) -> str:
    for mask in MASKS:
        text = re.sub(mask, blank, text, flags=re.S)
    return text


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def glossary(page: str = "glossary.zh.md") -> list[tuple[str, str]]:
    """(zh, English) for each row of a glossary page's tables (English | 中文 | ...)."""
    rows = re.findall(r"(?m)^\| *([^|]+?) *\| *([^|]+?) *\|", (DOCS / page).read_text(encoding="utf-8"))
    return [(zh, english) for english, zh in rows if english not in {"English", "英文"} and not english.startswith("---")]


def nav_titles() -> list[tuple[str, str, str]]:
    """(English nav title, zh nav title, page) for every page in the nav."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    i18n = next(plugin["i18n"] for plugin in config["plugins"] if isinstance(plugin, dict) and "i18n" in plugin)
    zh = next(language["nav_translations"] for language in i18n["languages"] if language["locale"] == "zh")
    titles = []

    def walk(items):
        for item in items:
            if isinstance(item, str):  # a section's index page: its title is the section's
                continue
            for title, value in item.items():
                if isinstance(value, list):
                    walk(value)
                else:
                    titles.append((title, zh.get(title, title), value))

    walk(config["nav"])
    return titles


def test_no_variants_in_zh_pages():
    found = []
    for page in ZH_PAGES:
        text = prose(page.read_text(encoding="utf-8"))
        if page.name == "glossary.zh.md":
            text = re.sub(r"(?m)^\|[^|]*", blank, text)  # its first column is the English
        text = re.sub(rf"(?<=（)[^（）{CJK}，；]*(?=[，；）])", blank, text)  # the English in a gloss
        for variant, preferred in VARIANTS.items():
            for match in re.finditer(variant, text):
                found.append(f"{page.relative_to(ROOT)}:{line_of(text, match.start())}: "
                             f"{match.group()!r} -> {preferred}")
    assert not found, "non-preferred terms:\n" + "\n".join(found)


def test_no_variants_in_zh_nav():
    found = [f"mkdocs.yml nav_translations: {zh!r} has {re.search(variant, zh).group()!r} -> {preferred}"
             for _, zh, _ in nav_titles() for variant, preferred in VARIANTS.items() if re.search(variant, zh)]
    assert not found, "\n".join(found)


def glossed_terms() -> list[tuple[str, str]]:
    return [(zh, english) for zh, english in glossary() if len(re.findall(f"[{CJK}]", zh)) > 1]


def first_uses(text: str, terms: list[str]):
    """(term, offset) of each term's first use in the prose outside headings, tables, admonition titles."""
    text = re.sub(r"(?m)^ *(#|\||!!!|\?\?\?).*$", blank, prose(text))
    pattern = "|".join(sorted(map(re.escape, terms), key=len, reverse=True))  # longest term wins
    seen = {}
    for match in re.finditer(pattern, text):
        seen.setdefault(match.group(), match.end())
    return text, seen


def same_english(english: str, gloss: str) -> bool:
    """The gloss names the term, ignoring case, hyphens and the ending (s, e, ing): warm-up for warmup,
    fine-tune for fine-tuning, sampler for sampling."""
    def norm(words):
        return re.sub(r"[-\s]", "", words.lower())
    return re.sub(r"(e|ing)$", "", norm(english).removesuffix("s")) in norm(gloss)


def test_glossary_terms_are_glossed_at_first_use():
    terms = dict(glossed_terms())
    assert len(terms) > 50, "the glossary table was not found"
    missing = []
    for page in ZH_PAGES:
        if page.name == "glossary.zh.md":
            continue
        text, seen = first_uses(page.read_text(encoding="utf-8"), list(terms))
        for term, end in seen.items():
            english = re.sub(r" *\(.*?\)", "", terms[term])
            gloss = re.match(rf"[{CJK}]{{0,4}}(\*\*|\*|\]| )*\s*（([^）]*)）", text[end:])
            if not gloss or not same_english(english, gloss.group(2)):
                missing.append(f"{page.relative_to(ROOT)}:{line_of(text, end)}: {term}（{english}）")
    assert not missing, "first use without the English in parentheses:\n" + "\n".join(missing)


def h1(page: Path) -> str:
    """A page's H1: of its Markdown, or of a notebook page's (exercises) Markdown cells."""
    text = page.read_text(encoding="utf-8")
    if page.suffix == ".ipynb":
        text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"] if cell["cell_type"] == "markdown")
    title = re.search(r"(?m)^# (.+)$", text).group(1)
    return title.replace("`", "").strip()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_nav_titles_match_page_titles(language):
    mismatched = []
    for english, zh, path in nav_titles():
        if path == "index.md":
            continue
        page = DOCS / (path if language == "en" else re.sub(r"\.(md|ipynb)$", r".zh.\1", path))
        nav, title = (english if language == "en" else zh).replace("`", ""), h1(page)
        if nav not in {title, re.split(r"[:：,，]", title)[0].strip()}:
            mismatched.append(f"{page.relative_to(ROOT)}: nav {nav!r} vs H1 {title!r}")
    assert not mismatched, "\n".join(mismatched)


def test_glossary_rows_match_between_languages():
    assert glossary("glossary.md") == glossary("glossary.zh.md")
