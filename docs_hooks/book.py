"""Run the Python fences of a book page, exactly as the page shows them.

Shared by the site build (``docs_hooks/build.py`` puts each fence's printed output
and figures under it) and by the tests (``tests/conftest.py`` runs each fence as a
pytest item). Both expand ``--8<--`` includes with pymdownx.snippets configured as
in ``mkdocs.yml``, so the code that runs is the code the reader sees.

A page is one Python session: its fences run in order in one namespace, like a
reader pasting them one after another into a fresh interpreter.

What a page's fences print and draw is kept in ``.cache/pages/`` under a key of
everything it depends on (its code, the package, this file,
the library versions, torch's thread count, the data folder): whichever of the tests and the build
runs a page first saves its results, and the other reuses them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import pickle
import re
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import markdown
from markdown_it import MarkdownIt
from mkdocs.utils import yaml_load

ROOT = Path(__file__).resolve().parent.parent
PYTHON_LANGS = {"py", "python", "python3"}
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+)(?::(?P<section>[A-Za-z0-9_-]+))?"\s*$')
ALT = re.compile(r'\s*alt="(?P<alt>[^"]*)"')


@dataclass
class Fence:
    """One Python fence of a page, with its includes expanded."""

    info: str  # the fence's info string, e.g. 'python alt="..."'
    raw: str  # the fence body as written in the markdown
    code: str  # the body after pymdownx.snippets
    first_line: int  # 1-based markdown line of the body's first line
    end_line: int  # 1-based markdown line of the closing fence
    filename: str  # where the code lives: a docs_src file or the page
    lineno: int  # line in `filename` of the code's first line
    includes: list[str] = field(default_factory=list)

    @property
    def alt(self) -> str | None:
        """Alt text for the figures this fence draws (fence attribute ``alt="..."``)."""
        match = ALT.search(self.info)
        return match.group("alt") if match else None


def _snippets_config() -> dict:
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as f:
        config = yaml_load(f)
    for ext in config["markdown_extensions"]:
        if isinstance(ext, dict) and "pymdownx.snippets" in ext:
            options = dict(ext["pymdownx.snippets"] or {})
            options["base_path"] = [str(ROOT / p) for p in options.get("base_path", ["."])]
            return options
    raise RuntimeError("mkdocs.yml does not enable pymdownx.snippets")


_snippets = None


def expand(text: str) -> str:
    """Expand the ``--8<--`` includes in ``text`` the way the site build does."""
    global _snippets
    if _snippets is None:
        md = markdown.Markdown(extensions=["pymdownx.snippets"],
                               extension_configs={"pymdownx.snippets": _snippets_config()})
        _snippets = md.preprocessors["snippet"]
    return "\n".join(_snippets.run(text.split("\n")))


def _section_start(path: str, section: str | None) -> int:
    """1-based line in ``path`` of the first line a section include yields."""
    if section is None:
        return 1
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    marker = f"# --8<-- [start:{section}]"
    for number, line in enumerate(lines, 1):
        if line.strip() == marker:
            return number + 1
    raise ValueError(f"{path} has no section {section!r} (expected a line '{marker}')")


def python_fences(page_text: str, page_path: str) -> list[Fence]:
    """The Python fences of a page, in order, with includes expanded."""
    fences = []
    for token in MarkdownIt("commonmark").parse(page_text):
        words = token.info.strip("{} ").split()
        if token.type != "fence" or not words or words[0].lstrip(".") not in PYTHON_LANGS:
            continue
        if "notest" in words:
            continue
        raw = token.content
        includes = [m for m in map(INCLUDE.match, raw.splitlines()) if m]
        code = expand(raw)
        filename, lineno = page_path, token.map[0] + 2
        if len(includes) == 1 and raw.strip() == includes[0].group(0).strip():
            # A fence that is exactly one include: errors point into docs_src.
            filename = str(ROOT / includes[0]["path"])
            lineno = _section_start(includes[0]["path"], includes[0]["section"])
        fences.append(Fence(token.info, raw, code, token.map[0] + 2, token.map[1],
                            filename, lineno, [m.group(0).strip() for m in includes]))
    return fences


@contextlib.contextmanager
def _working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


STANDIN = "using a synthetic stand-in"  # what pytorch_notes.datasets prints when it uses one
STANDIN_NOTE = {"en": "Synthetic stand-in data: not real photos",
                "zh": "合成的替代数据：并非真实照片"}


class PageSession:
    """A fresh interpreter for one page: run its fences in order, capture what they print.

    Each fence runs with ``workdir`` as the current directory (chapters write
    ``runs/``, ``checkpoints/`` and ``data/`` relative to it). The figures a fence
    leaves open are returned and closed, so each fence reports only its own.
    Once the page has announced a synthetic stand-in, every figure it draws
    says so at its top (``STANDIN_NOTE``; the build swaps in the page's language).
    """

    def __init__(self, name: str, workdir: Path):
        module_name = "book_page_" + re.sub(r"\W", "_", name)
        self.module = types.ModuleType(module_name)
        sys.modules[module_name] = self.module  # so pickle and dataclasses find page classes
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.standin = False
        self.seconds = 0.0  # time spent running the page's code

    def run(self, fence: Fence) -> tuple[str, list]:
        """Execute one fence; return (printed text, list of matplotlib figures)."""
        os.environ.setdefault("MPLBACKEND", "Agg")
        import matplotlib.pyplot as plt

        plt.close("all")
        code = "\n" * (fence.lineno - 1) + fence.code + "\n"
        compiled = compile(code, fence.filename, "exec", dont_inherit=True)
        stdout = io.StringIO()
        start = time.perf_counter()
        with _working_directory(self.workdir), contextlib.redirect_stdout(stdout):
            exec(compiled, self.module.__dict__)
        self.seconds += time.perf_counter() - start
        figures = [plt.figure(number) for number in plt.get_fignums()]
        self.standin = self.standin or STANDIN in stdout.getvalue()
        for figure in figures if self.standin else []:
            figure.text(0.5, 1.0, STANDIN_NOTE["en"], ha="center", va="bottom", color="#b3261e",
                        fontsize=11, fontweight="bold")
        return stdout.getvalue(), figures


def use_data_root() -> None:
    """Pages run in their own working folders: give them the data root as an absolute path
    (``$PYTORCH_NOTES_DATA``, else the project's ``data/``, where ``make data`` downloads)."""
    os.environ["PYTORCH_NOTES_DATA"] = str((ROOT / os.environ.get("PYTORCH_NOTES_DATA", "data")).resolve())


FIGURE_BUDGET = 150_000  # bytes of SVG; above it, point clouds are embedded as one bitmap
FIGURE_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "pytorch-notes"}  # text stays text; stable ids
CACHE = ROOT / ".cache" / "pages"
EMBEDDED_PNG = re.compile(rb'data:image/png;base64,([A-Za-z0-9+/=\s]+)"')


def _embedded_as_jpeg(svg: bytes) -> bytes:
    """The SVG with each embedded PNG (photos, rasterized point clouds) re-encoded as a JPEG on white."""
    from PIL import Image

    def jpeg(match: re.Match) -> bytes:
        image = Image.open(io.BytesIO(base64.b64decode(match[1]))).convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        buffer = io.BytesIO()
        flat.save(buffer, "JPEG", quality=85)
        return b"data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()) + b'"'

    return EMBEDDED_PNG.sub(jpeg, svg)


def figure_file(figure) -> tuple[bytes, str]:
    """The figure as (SVG contents, "svg"), as light as it can be while staying sharp.

    Text always stays text (the zh build translates it, and the reader's fonts draw it).
    Over FIGURE_BUDGET, the collections (thousands of scatter points, 3-D boxes) become one
    embedded bitmap while text and axes stay vector; if still over (photos), the embedded
    bitmaps become JPEGs.
    """
    import matplotlib

    def save(**options) -> bytes:
        buffer = io.BytesIO()
        with matplotlib.rc_context(FIGURE_STYLE):
            figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None}, **options)
        return buffer.getvalue()

    contents = save()
    if len(contents) > FIGURE_BUDGET:
        for axes in figure.axes:
            for collection in axes.collections:
                collection.set_rasterized(True)
        contents = min(contents, save(dpi=150), key=len)
    if len(contents) > FIGURE_BUDGET:
        contents = min(contents, _embedded_as_jpeg(contents), key=len)
    return contents, "svg"


def results_key(fences: list[Fence]) -> str:
    """What a page's results depend on, hashed: its code, our code, the libraries, threads, the data."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    sources = sorted((ROOT / "src").rglob("*.py")) + [ROOT / "docs_hooks" / "book.py"]  # (build.py only shows them)
    for path in sources:
        digest.update(path.read_bytes())
    for package in ("torch", "torchvision", "numpy", "matplotlib"):
        digest.update(version(package).encode())
    import torch

    # float sums split over more threads round differently: printed numbers depend on it
    digest.update(f"threads={torch.get_num_threads()}".encode())
    data = Path(os.environ.get("PYTORCH_NOTES_DATA", "data"))
    digest.update(str(data).encode())  # and which datasets it holds: `make data` changes the pages
    digest.update(repr(sorted(str(p.relative_to(data)) for p in data.glob("*/*"))).encode())
    for fence in fences:
        digest.update(b"\0" + fence.code.encode())
    return digest.hexdigest()


def run_stamp(session: PageSession) -> dict:
    """What a page's code ran with, and when: versions, device, date, seconds."""
    import datetime

    import torch
    import torchvision

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else ""
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "gpu": gpu,
            "threads": torch.get_num_threads(), "date": datetime.date.today().isoformat(),
            "seconds": round(session.seconds, 1)}


def cached_results(key: str) -> dict | None:
    """A page's saved results: ``{"fences": [(printed text, [(figure bytes, extension), ...]), ...],
    "stamp": run_stamp(...)}``."""
    try:
        return pickle.loads((CACHE / key).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError):
        return None  # (an older format is a different key: the key hashes this file)


def save_results(key: str, results: dict) -> None:
    """Keep a page's results for the next run (written whole or not at all)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"{key}.{os.getpid()}.tmp"
    partial.write_bytes(pickle.dumps(results))
    os.replace(partial, CACHE / key)
