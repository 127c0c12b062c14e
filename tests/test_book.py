"""The book's machinery: twins, includes, fences that would escape the tests, scripts."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import book
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EN_PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".zh.md"))
ZH_PAGES = sorted(DOCS.rglob("*.zh.md"))
SCRIPTS = sorted((ROOT / "docs_src").rglob("*.py"))
INDENTED_PYTHON_FENCE = re.compile(r"^[ \t]+(`{3,}|~{3,})\s*\{?\s*\.?(python|py|python3)\b", re.MULTILINE)


@functools.cache
def fences_of(page: Path) -> list[book.Fence]:
    """The Python fences of a page, includes expanded (parsed once per test session)."""
    return book.python_fences(page.read_text(encoding="utf-8"), relative(page))


def twin(page: Path) -> Path:
    return page.with_name(page.name.removesuffix(".md") + ".zh.md")


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_pages_and_scripts():
    assert len(EN_PAGES) >= 12 and len(SCRIPTS) >= 10


@pytest.mark.parametrize("page", EN_PAGES, ids=relative)
def test_every_page_has_a_chinese_twin(page):
    assert twin(page).is_file(), f"{relative(page)} has no Chinese twin {relative(twin(page))}"


@pytest.mark.parametrize("page", ZH_PAGES, ids=relative)
def test_every_chinese_page_has_an_english_twin(page):
    english = page.with_name(page.name.removesuffix(".zh.md") + ".md")
    assert english.is_file(), f"{relative(page)} has no English twin"


@pytest.mark.parametrize("page", EN_PAGES, ids=relative)
def test_twins_run_the_same_code_in_the_same_order(page):
    english = [f.raw for f in fences_of(page)]
    chinese = [f.raw for f in fences_of(twin(page))]
    assert english == chinese


@pytest.mark.parametrize("page", EN_PAGES, ids=relative)
def test_twins_have_the_same_heading_structure(page):
    def levels(path):
        text = re.sub(r"^(`{3,}).*?^\1", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
        return [len(m) for m in re.findall(r"^(#{1,6}) ", text, flags=re.M)]

    assert levels(page) == levels(twin(page))


def test_the_api_reference_documents_every_public_module_once_in_both_languages():
    """Each public module of pytorch_notes is on exactly one reference page (the same page in
    both languages), and the reference's index links to it there."""
    reference = DOCS / "reference"
    modules = sorted(path.stem for path in (ROOT / "src" / "pytorch_notes").glob("[!_]*.py"))
    found = {}
    for language, pages in (("en", set(reference.glob("*.md")) - set(reference.glob("*.zh.md"))),
                            ("zh", reference.glob("*.zh.md"))):
        where = [(module, page.name.split(".")[0]) for page in pages if not page.name.startswith("index.")
                 for module in re.findall(r"^::: pytorch_notes\.(\w+)$", page.read_text(encoding="utf-8"), flags=re.M)]
        assert sorted(module for module, _ in where) == modules, f"{language}: each module once"
        index = (reference / ("index.md" if language == "en" else "index.zh.md")).read_text(encoding="utf-8")
        links = re.findall(r"\]\(([\w-]+)\.md#pytorch_notes\.(\w+)\)", index)
        assert sorted((module, page) for page, module in links) == sorted(where), f"{language}: the index's links"
        found[language] = sorted(where)
    assert found["en"] == found["zh"]


@pytest.mark.parametrize("page", EN_PAGES + ZH_PAGES, ids=relative)
def test_no_python_fence_hides_in_an_admonition_or_tab(page):
    # pytest-markdown-docs (and the build's runner) only see top-level fences; an
    # indented one would be shown to readers but never run.
    hidden = INDENTED_PYTHON_FENCE.findall(page.read_text(encoding="utf-8"))
    assert not hidden, f"{relative(page)}: a python fence inside an admonition/tab is never run"


@pytest.mark.parametrize("page", EN_PAGES + ZH_PAGES, ids=relative)
def test_fences_include_existing_sections_one_per_fence(page):
    for fence in fences_of(page):
        assert len(fence.includes) == 1 and fence.raw.strip() == fence.includes[0], (
            f"{relative(page)} line {fence.first_line}: a fence holds exactly one --8<-- include")
        assert fence.code.strip(), f"{relative(page)} line {fence.first_line}: the include is empty"


@pytest.mark.parametrize("script", SCRIPTS, ids=relative)
def test_a_page_shows_every_section_of_its_script_in_order(script):
    sections = re.findall(r"^# --8<-- \[start:([\w-]+)\]$", script.read_text(encoding="utf-8"), re.M)
    assert sections, f"{relative(script)} has no sections"
    shown = [f.includes[0] for page in EN_PAGES
             for f in fences_of(page)
             if f'"{relative(script)}:' in f.includes[0]]
    assert shown == [f'--8<-- "{relative(script)}:{section}"' for section in sections]


SHIPPED_DATA_SCRIPTS = [s for s in SCRIPTS if re.search(r"\b(mnist|hymenoptera\w*)\(", s.read_text(encoding="utf-8"))]


@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str


def run_scripts(jobs: dict, workdir: Path) -> dict:
    """Run each script of ``jobs`` in its folder (``{script: cwd}``) as a fresh ``__main__``, one per CPU core.

    tests/fork_runner.py imports torch once and forks a child per script. One
    thread each (the runs go in parallel); offline; no data root set.
    """
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "tests" / "offline"), OMP_NUM_THREADS="1")
    env.pop("PYTORCH_NOTES_DATA", None)
    specs = []
    for number, (script, cwd) in enumerate(jobs.items()):
        specs.append({"script": str(script), "cwd": str(cwd), "timeout": 300, "env": env,
                      "stdout": str(workdir / f"{number}.out"), "stderr": str(workdir / f"{number}.err")})
    runner = subprocess.run([sys.executable, str(ROOT / "tests" / "fork_runner.py"), str(os.cpu_count() or 2)],
                            input=json.dumps(specs), env=env, capture_output=True, text=True, timeout=1800)
    assert runner.returncode == 0, runner.stderr[-3000:]
    codes = json.loads(runner.stdout)
    return {key: ScriptRun(code, Path(spec["stdout"]).read_text(errors="replace"), Path(spec["stderr"]).read_text(errors="replace"))
            for key, spec, code in zip(jobs, specs, codes)}


@pytest.fixture(scope="session")
def script_runs(request, tmp_path_factory):
    """The selected scripts run as fresh sessions, each in an empty folder with no data root set:
    what a reader gets from a fresh offline install (the data shipped with the package).

    Only the runs that the selected tests check are started (so `-k lora` runs
    one script, not the whole book); each test below then checks one result.
    """
    selected = {(item.originalname, item.callspec.params["script"]) for item in request.session.items
                if "script_runs" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")}
    workdir = tmp_path_factory.mktemp("scripts")
    jobs = {script: workdir / relative(script) for script in SCRIPTS
            if {("test_script_runs_on_its_own", script), ("test_mnist_and_ants_bees_pages_need_no_download", script)}
            & selected}
    return run_scripts(jobs, workdir) if jobs else {}


@pytest.mark.parametrize("script", SCRIPTS, ids=relative)
def test_script_runs_on_its_own(script, script_runs):
    result = script_runs[script]
    assert result.returncode == 0, f"exit code {result.returncode} (-14: timed out)\n{result.stderr[-3000:]}"
    # A deprecation the chapter meets is either gone or explained on its page, in both languages.
    warned = set(re.findall(r"\b(DeprecationWarning|FutureWarning)\b", result.stderr))
    pages = [page for page in DOCS.rglob("*.md") if f'"{relative(script)}:' in page.read_text(encoding="utf-8")]
    unexplained = {(w, relative(page)) for w in warned for page in pages if w not in page.read_text(encoding="utf-8")}
    assert not unexplained, f"warnings the page does not explain: {sorted(unexplained)}\n{result.stderr[-2000:]}"


@pytest.mark.parametrize("script", SHIPPED_DATA_SCRIPTS, ids=relative)
def test_mnist_and_ants_bees_pages_need_no_download(script, script_runs):
    """With an empty data root, the MNIST and ants/bees chapters run on the real data shipped with the package."""
    result = script_runs[script]
    assert result.returncode == 0, f"exit code {result.returncode} (-14: timed out)\n{result.stderr[-3000:]}"
    assert book.STANDIN not in result.stdout, f"{relative(script)} fell back to a synthetic stand-in"


def test_a_fence_error_points_into_docs_src(tmp_path):
    script = ROOT / "docs_src" / "autograd" / "manual_gradient.py"
    fence = book.python_fences('```python\n--8<-- "docs_src/autograd/manual_gradient.py:grads"\n```\n',
                               "page.md")[0]
    start = script.read_text(encoding="utf-8").splitlines().index("# --8<-- [start:grads]") + 2
    assert (fence.filename, fence.lineno) == (str(script), start)
    broken = book.Fence(fence.info, fence.raw, "x = 1\nraise ValueError('boom')", 3, 5, fence.filename, 40)
    with pytest.raises(ValueError) as error:
        book.PageSession("error-test", tmp_path).run(broken)
    assert error.traceback[-1].lineno + 1 == 41  # pytest's lineno is 0-based


def test_a_page_session_keeps_names_and_captures_output_and_figures(tmp_path):
    session = book.PageSession("session-test", tmp_path)
    fence = book.python_fences("```python\n--8<-- \"docs_src/autograd/manual_gradient.py:data\"\n```\n", "p.md")[0]
    stdout, figures = session.run(fence)
    assert "x: (100, 1)" in stdout and figures == []
    plot = book.Fence("python", "", "import matplotlib.pyplot as plt\nplt.plot(x[:, 0], y[:, 0])\nprint(len(x))",
                      1, 3, "p.md", 1)
    stdout, figures = session.run(plot)  # `x` and `y` survive from the first fence
    assert stdout == "100\n" and len(figures) == 1


@pytest.mark.parametrize("script", SCRIPTS, ids=relative)
def test_all_code_of_a_script_is_in_sections(script):
    # Then pasting a page's fences in order is the same program as running the
    # script, which test_script_runs_on_its_own runs in a fresh interpreter.
    inside, stray = False, []
    for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(r"^# --8<-- \[start:", line):
            assert not inside, f"{relative(script)}:{number}: sections must not nest"
            inside = True
        elif re.match(r"^# --8<-- \[end:", line):
            inside = False
        elif not inside and line.strip() and not line.startswith("#"):
            stray.append(f"{number}: {line}")
    assert not stray, f"{relative(script)} has code outside sections (not on any page): {stray}"


@pytest.mark.parametrize("script", SCRIPTS, ids=relative)
def test_a_chapter_deletes_only_inside_its_own_folders(script):
    """`rmtree("checkpoints")` in a page would wipe a reader's own checkpoints: clear `checkpoints/<chapter>`."""
    shared = re.findall(r"""rmtree\(\s*(?:Path\()?["'](?:\./)?(checkpoints|runs|data)/?["']""",
                        script.read_text(encoding="utf-8"))
    assert not shared, f"{relative(script)} deletes the whole {shared[0]}/ folder; delete {shared[0]}/<chapter> only"


def test_the_private_runner_api_of_pytest_markdown_docs_is_what_conftest_uses():
    """conftest.py subclasses a private class of pytest-markdown-docs: fail clearly if its shape changes."""
    import inspect
    from importlib.metadata import version

    from pytest_markdown_docs import _runners

    assert version("pytest-markdown-docs").startswith("0.9."), "conftest.py was written for 0.9.x"
    assert {"runtest", "repr_failure"} <= _runners._Runner.__abstractmethods__
    assert list(inspect.signature(_runners._Runner.runtest).parameters)[:3] == ["self", "test", "args"]
    assert "default" in inspect.signature(_runners.register_runner).parameters
