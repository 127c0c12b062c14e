"""The exercise notebooks (docs/<track>/exercises.ipynb and .zh.ipynb) and their checks.

Every solution passes its check; every typical wrong answer (tests/exercise_answers/<track>.py)
fails it with the intended hint; the notebooks as a reader gets them run and say "not yet";
the two languages hold the same code; the solved notebooks run in a fresh Jupyter kernel.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import nbformat
import pytest

from pytorch_notes import exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs").glob("*/exercises.ipynb"))
TRACKS = [path.parent.name for path in NOTEBOOKS]
CHECK_LINE = re.compile(r'^check\("(?P<name>[^"]+)", answer\)$', flags=re.M)
SOLUTION = re.compile(r"<details><summary>(?:Solution|参考答案)</summary>\n\n```python\n(?P<code>.*?)\n```\n",
                      flags=re.S)


def _cells(track: str, language: str = "en") -> list:
    suffix = ".zh.ipynb" if language == "zh" else ".ipynb"
    return nbformat.read(ROOT / "docs" / track / f"exercises{suffix}", as_version=4).cells


def _tagged(cells: list, tag: str) -> list:
    return [cell for cell in cells if tag in cell.metadata.get("tags", [])]


def _solutions(cells: list) -> list[str]:
    codes = []
    for cell in _tagged(cells, "solution"):
        match = SOLUTION.search(cell.source)
        assert match, f"a solution cell without <details> and a python fence:\n{cell.source[:300]}"
        codes.append(match["code"])
    return codes


def _wrong_answers(track: str) -> dict:
    path = ROOT / "tests" / "exercise_answers" / f"{track}.py"
    spec = importlib.util.spec_from_file_location(f"wrong_{track}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


def _run(code: str, namespace: dict) -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "<exercise>", "exec"), namespace)
    return output.getvalue()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # what an exercise writes lands here


def test_every_track_has_exercises_in_both_languages():
    assert len(NOTEBOOKS) >= 1
    for path in NOTEBOOKS:
        assert path.with_name("exercises.zh.ipynb").is_file(), f"{path} has no zh twin"
        assert (ROOT / "tests" / "exercise_answers" / f"{path.parent.name}.py").is_file()


def test_every_registered_exercise_is_in_one_notebook():
    used = [m["name"] for track in TRACKS for cell in _tagged(_cells(track), "exercise")
            for m in CHECK_LINE.finditer(cell.source)]
    assert sorted(used) == sorted(exercises.names()), "registered exercises and notebooks differ"
    assert len(used) == len(set(used)), "an exercise is used twice"


@pytest.mark.parametrize("track", TRACKS)
def test_notebook_layout_and_twins(track):
    en, zh = _cells(track, "en"), _cells(track, "zh")
    setup = _tagged(en, "setup")
    assert len(setup) == 1 and 'check = checker("en")' in setup[0].source
    assert 'check = checker("zh")' in _tagged(zh, "setup")[0].source
    assert [c.cell_type for c in en] == [c.cell_type for c in zh], "en and zh cells differ"
    assert [c.metadata.get("tags") for c in en] == [c.metadata.get("tags") for c in zh]
    for english, chinese in zip(_tagged(en, "exercise"), _tagged(zh, "exercise")):
        assert english.source == chinese.source, "an exercise cell differs between en and zh"
    assert _solutions(en) == _solutions(zh), "a solution differs between en and zh"
    exercise_cells = _tagged(en, "exercise")
    assert len(exercise_cells) == len(_solutions(en)) >= 5
    for cell, solution in zip(exercise_cells, _solutions(en)):
        names = CHECK_LINE.findall(cell.source)
        assert len(names) == 1 and CHECK_LINE.findall(solution) == names, cell.source
    for cell in en + zh:
        assert not cell.get("outputs"), "exercise notebooks are committed without outputs"


@pytest.mark.parametrize("track", TRACKS)
def test_solutions_pass_and_wrong_answers_get_their_hint(track, in_tmp):
    cells = _cells(track)
    wrong = _wrong_answers(track)
    namespace: dict = {}
    _run(_tagged(cells, "setup")[0].source, namespace)
    for cell, solution in zip(_tagged(cells, "exercise"), _solutions(cells)):
        name = CHECK_LINE.search(cell.source)["name"]
        assert len(wrong.get(name, [])) >= 2, f"{name}: give at least two typical wrong answers"
        for code, hint in wrong[name]:
            trial = dict(namespace)
            _run(code, trial)
            printed = _run(f'check("{name}", answer)', trial)
            assert printed.startswith("✗") and hint in printed, f"{name}: {code!r} printed {printed!r}"
        printed = _run(solution, namespace)
        assert "✓" in printed and "✗" not in printed, f"{name}: the solution printed {printed!r}"


@pytest.mark.parametrize("track", TRACKS)
def test_unsolved_notebook_runs_and_says_not_yet(track, in_tmp):
    cells = _cells(track)
    namespace: dict = {}
    _run(_tagged(cells, "setup")[0].source, namespace)
    for cell in _tagged(cells, "exercise"):
        printed = _run(cell.source, namespace)
        assert printed.strip().splitlines()[-1].startswith("✗"), f"a skeleton passes:\n{cell.source}"


@pytest.mark.parametrize("track", TRACKS)
def test_solved_notebook_runs_in_a_fresh_kernel(track, tmp_path):
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "docs" / track / "exercises.ipynb", as_version=4)
    solutions = iter(_solutions(notebook.cells))
    for cell in notebook.cells:
        if "exercise" in cell.metadata.get("tags", []):
            cell.source = next(solutions)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert printed.count("✓") == len(_tagged(notebook.cells, "exercise")) and "✗" not in printed
