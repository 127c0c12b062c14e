"""Typography and wording of the Chinese pages' prose (issue 14, item 6).

Only prose is checked: fenced code (with its info string, where alt text lives), inline code,
math (``$...$`` and ``$$...$$``), HTML tags, link targets and the quoted titles of admonitions
and content tabs (Markdown syntax) are blanked out first, keeping line numbers.

- Numbers: one style, ``10,000`` or ``1 万``. A space (or thin / no-break space) inside a number
  (``10 000``, ``2 128``) is forbidden. A group counts as one number when a one-to-three-digit
  run is followed by a space and exactly three more digits, with no digit, decimal point or
  comma on either side: ``10 000`` and ``1 234 567`` are caught; ``第 3 轮 20``, ``k = 1, 2, 4``,
  ``3.5 100`` and ``共 16 个 256`` are not (a word, a comma or a decimal point sits in between).
- Quotation marks: full width “ ” in Chinese prose; an ASCII ``"`` left in prose is flagged.
- Calques a Chinese editor rejected (issue 14): none of ``CALQUES`` may come back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ZH_PAGES = sorted((ROOT / "docs").rglob("*.zh.md"))

FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})")
MATH_BLOCK = re.compile(r"\$\$.*?\$\$", re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)[^$\n]+?(?<![\\$])\$(?!\$)")
HTML_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
LINK_TARGET = re.compile(r"\]\([^)\n]*\)")
SYNTAX_TITLE = re.compile(r'^([ \t]*(?:!!!|\?\?\?\+?|===\+?)[^"\n]*)"[^"\n]*"', re.MULTILINE)

SPACED_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u2009\u202f\u00a0]\d{3})+(?![\d.,])")
ASCII_QUOTE = re.compile(r'"')
CALQUES = {  # pattern: what to write instead
    "这一格": "“the cell”: 这段代码 / 本节代码",
    "覆盖质量": "mass-covering: 覆盖全部概率质量",
    "求众数": "mode-seeking: 锁定单峰",
    "冲成": "flushed to zero: 下溢为 0",
    "比交叉熵下小": "“smaller than under cross-entropy”: rewrite the comparison",
    "点了[^。\n]{0,60}?的名": "“the file names a class”: 文件里写着……的名字",
    "由一个留出的数字写成": "“written from a held-out digit”: rewrite",
}
CALQUE = re.compile("|".join(f"(?:{pattern})" for pattern in CALQUES))


def _blank(match: re.Match) -> str:
    """The match replaced by spaces, its newlines kept (so line numbers stay right)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def prose(markdown: str) -> str:
    """The page with everything that is not Chinese prose blanked out, line for line."""
    lines = markdown.split("\n")
    fence = None
    for i, line in enumerate(lines):
        opening = FENCE_OPEN.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            lines[i] = ""
        elif fence is not None:
            closing = FENCE_OPEN.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                if not line.strip().strip(fence[0]):
                    fence = None
            lines[i] = ""
    text = "\n".join(lines)
    for pattern in (MATH_BLOCK, INLINE_CODE, INLINE_MATH, HTML_TAG, LINK_TARGET):
        text = pattern.sub(_blank, text)
    return SYNTAX_TITLE.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)


def findings(markdown: str, pattern: re.Pattern) -> list[str]:
    """``line N: …context…`` for every match of pattern in the page's prose."""
    text = prose(markdown)
    found = []
    for match in pattern.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        context = text[max(0, match.start() - 12) : match.end() + 12].replace("\n", " ")
        found.append(f"line {line}: {match.group(0)!r} in …{context.strip()}…")
    return found


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def read(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def test_there_are_chinese_pages():
    assert len(ZH_PAGES) >= 60


@pytest.mark.parametrize("page", ZH_PAGES, ids=relative)
def test_numbers_are_not_grouped_with_spaces(page):
    found = findings(read(page), SPACED_NUMBER)
    assert not found, "write 10,000 or 1 万:\n" + "\n".join(found)


@pytest.mark.parametrize("page", ZH_PAGES, ids=relative)
def test_quotation_marks_are_full_width(page):
    found = findings(read(page), ASCII_QUOTE)
    assert not found, "use “ ” in Chinese prose:\n" + "\n".join(found)


@pytest.mark.parametrize("page", ZH_PAGES, ids=relative)
def test_no_rejected_calque(page):
    found = findings(read(page), CALQUE)
    assert not found, "rewrite:\n" + "\n".join(found) + "\nhints: " + "; ".join(CALQUES.values())


# The checks themselves: each must fail on the kind of line it exists to catch.

BAD_PAGE = """# 标题

在 10 000 个随机数上测到的误差，以及 2\u2009128 个参数。
模型锁定一个峰：这叫“求均值”或"覆盖质量"。
这一格验证了它；小梯度会被冲成 0；文件里点了 `Moli` 的名。

```python alt="图中有 "引号" 和 10 000"
--8<-- "docs_src/x.py:a"
```

!!! warning "标题里的 ASCII 引号是语法"
    第 3 轮 20 步，$k = 1, 2$，`print("a 000")`，共 16 个 256 维向量，3.5 100。
"""


def test_the_checks_catch_what_they_exist_for():
    assert [f.split(":")[0] for f in findings(BAD_PAGE, SPACED_NUMBER)] == ["line 3", "line 3"]
    assert [f.split(":")[0] for f in findings(BAD_PAGE, ASCII_QUOTE)] == ["line 4", "line 4"]
    calques = [f.split(" in ")[0] for f in findings(BAD_PAGE, CALQUE)]
    assert calques == ["line 4: '覆盖质量'", "line 5: '这一格'", "line 5: '冲成'", "line 5: '点了        的名'"]
