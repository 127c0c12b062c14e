"""Make the text sample that ships inside the package: this book's own prose, English and Chinese.

    python tools/make_text_sample.py

Reads docs/**/*.md and keeps what a reader reads as sentences: headings,
paragraphs, list items, table cells. Dropped: code fences and include lines,
math ($...$ and $$...$$), HTML tags and comments, link targets, image links,
admonition and tab markers, Markdown emphasis. From each page it keeps the
opening paragraphs, up to PAGE_BYTES, so every chapter is represented and the
file stays small. Each English page is followed by its Chinese twin, pages in
path order, so any stretch of the file (the validation split at its end, say)
holds both languages. The result is UTF-8, one paragraph per line, written to
src/pytorch_notes/samples/book_text.txt, at most MAX_BYTES.

Run it again when the pages change; the output is deterministic.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "pytorch_notes" / "samples" / "book_text.txt"
MAX_BYTES = 400_000
PAGE_BYTES = 2_400  # per page and language: the opening paragraphs
SKIP = {"reference.md", "reference.zh.md"}  # API pages: generated lists, no prose

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
REMOVE = [
    re.compile(r"<!--.*?-->", re.S),  # HTML comments
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$"),  # inline math
    re.compile(r"</?[A-Za-z][^>]*>"),  # HTML tags
    re.compile(r"!\[[^\]]*\]\([^)]*\)"),  # images
    re.compile(r"\{:?[^}\n]*\}(?=\s|$)"),  # attribute lists {: .class }
]


def blocks(markdown: str) -> list[str]:
    """The page without code fences, include lines and admonition/tab markers, as paragraphs."""
    lines, fence = [], None
    for line in markdown.splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None:
            if opening and opening.group(1)[0] == fence[0] and not line.strip().strip(fence[0]):
                fence = None
        elif "--8<--" not in line:
            lines.append(line)
    text = "\n".join(lines)
    for pattern in REMOVE:
        text = pattern.sub("", text)
    paragraphs, current = [], []
    for line in text.splitlines():
        line = line.strip()
        marker = re.match(r'^(!!!|\?\?\?\+?|===)\s*[\w-]*\s*(?:"([^"]*)")?', line)
        if marker:  # an admonition or tab: its title is a paragraph of its own
            if current:
                paragraphs.append(current)
            paragraphs.append([marker.group(2) or ""])
            current = []
            continue
        if re.fullmatch(r"\|?[\s:|-]+\|?", line) and "-" in line:  # table rule
            line = ""
        if line.startswith("|"):  # a table row: its cells, one paragraph
            line = " · ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
            if current:
                paragraphs.append(current)
            paragraphs.append([line])
            current = []
            continue
        if not line or re.match(r"^(#+\s|[-*+]\s|\d+\.\s)", line):
            if current:
                paragraphs.append(current)
            current = []
        line = re.sub(r"^(#+|[-*+]|\d+\.)\s+", "", line)
        if line:
            current.append(line)
    if current:
        paragraphs.append(current)
    return [join(paragraph) for paragraph in paragraphs]


def join(lines: list[str]) -> str:
    """One paragraph on one line: a space between English lines, none between Chinese ones."""
    text = lines[0]
    for line in lines[1:]:
        glue = "" if re.match(f"[{CJK}]", text[-1:]) and re.match(f"[{CJK}]", line[:1]) else " "
        text += glue + line
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](target) -> text
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`+)", "", text)  # emphasis and inline-code marks
    return re.sub(r"[ \t]+", " ", text).strip()


def page_text(path: Path) -> str:
    """The opening paragraphs of a page, one per line, up to PAGE_BYTES (at least one paragraph)."""
    kept, size = [], 0
    for paragraph in filter(None, blocks(path.read_text(encoding="utf-8"))):
        size += len(paragraph.encode("utf-8")) + 1
        if kept and size > PAGE_BYTES:
            break
        kept.append(paragraph + "\n")
    return "".join(kept)


def main() -> None:
    docs = ROOT / "docs"
    english = sorted(p for p in docs.rglob("*.md") if not p.name.endswith(".zh.md") and p.name not in SKIP)
    parts, size = [], 0
    for page in english:
        twin = page.with_name(page.stem + ".zh.md")
        text = page_text(page) + (page_text(twin) if twin.is_file() else "")
        if size + len(text.encode("utf-8")) > MAX_BYTES:
            break
        parts.append(text)
        size += len(text.encode("utf-8"))
    TARGET.write_text("".join(parts), encoding="utf-8")
    print(f"{TARGET}: {size:,} bytes from {len(parts)} page pairs of {len(english)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
