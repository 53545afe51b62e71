"""`make student`: the lessons without solutions, re-executed, leak no answer.

Builds the whole student edition into a temporary folder with tools/build_student.py (each
lesson runs in a fresh kernel, about 10 s for two lessons on two cores) and checks the result.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import nbformat
import pytest

import outage_kit

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
# Exercise checks live in outage_kit.exercises and in topic modules named like it
# (graph_exercises, ...); a check call is `<module>.<check>(`.
EXERCISE_MODULES = {
    info.name: importlib.import_module(f"outage_kit.{info.name}")
    for info in pkgutil.iter_modules(outage_kit.__path__)
    if info.name.endswith("exercises")
}
CHECK_CALL = re.compile(r"\b([a-z_]*exercises)\.([a-z_][a-z0-9_]*)\(")
CHECKS = {
    (module_name, name)
    for module_name, module in EXERCISE_MODULES.items()
    for name, function in inspect.getmembers(module, inspect.isfunction)
    if function.__module__ == module.__name__ and not name.startswith("_")
}


def _load_build_student():
    spec = importlib.util.spec_from_file_location("build_student", ROOT / "tools/build_student.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_student", module)
    spec.loader.exec_module(module)
    return module


build_student = _load_build_student()


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student") / "student"
    build_student.build(LESSONS, out, jobs=2)
    return out


@pytest.fixture(params=LESSONS, ids=[p.stem for p in LESSONS])
def pair(request, edition):
    """(the complete lesson, its student edition)."""
    source = nbformat.read(request.param, as_version=4)
    student = nbformat.read(edition / request.param.name, as_version=4)
    return source, student


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _check_cells(nb):
    """Code cells, other than solutions, that call an exercise check function."""
    return [
        cell
        for cell in nb.cells
        if cell.cell_type == "code"
        and "solution" not in _tags(cell)
        and set(CHECK_CALL.findall(cell.source)) & CHECKS
    ]


def test_every_lesson_is_in_the_edition(edition):
    assert sorted(p.name for p in edition.glob("*.ipynb")) == [p.name for p in LESSONS]
    assert (edition / "README.md").is_file()


def test_no_solution_cell_remains(pair):
    source, student = pair
    removed = [c for c in source.cells if "solution" in _tags(c)]
    assert removed, "the complete lesson should have solution cells"
    assert not [c for c in student.cells if "solution" in _tags(c)]
    assert len(student.cells) == len(source.cells) - len(removed)
    kept = [c.source for c in source.cells if "solution" not in _tags(c)]
    assert [c.source for c in student.cells] == kept
    for cell in removed:
        assert cell.source not in {c.source for c in student.cells}


def test_ran_top_to_bottom_without_error(pair):
    _, student = pair
    counts = [c.execution_count for c in student.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    for cell in student.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", cell.source
            assert output.get("name") != "stderr", (cell.source, output.get("text"))
    assert "widgets" not in student.metadata


def test_no_output_says_correct(pair):
    _, student = pair
    for cell in student.cells:
        for output in cell.get("outputs", []):
            for text in build_student.output_texts(output):
                assert "Correct:" not in text, cell.source
                assert ">Correct</b>" not in text, cell.source


def test_every_check_says_no_answer_yet(pair):
    source, student = pair
    checks = _check_cells(student)
    solutions = [c for c in source.cells if "solution" in _tags(c)]
    assert len(checks) >= len(solutions), "each solution should have a check cell after it"
    for cell in checks:
        plain = [o["data"]["text/plain"] for o in cell.outputs if "text/plain" in o.get("data", {})]
        html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
        assert plain and all(text.startswith("No answer yet:") for text in plain), cell.source
        assert html and all("No answer yet" in text for text in html), cell.source


def test_the_complete_lessons_do_say_correct():
    """The check above means something: with solutions, the same checks say Correct."""
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        for cell in _check_cells(source):
            texts = [o["data"]["text/plain"] for o in cell.outputs if "data" in o]
            assert any(text.startswith("Correct:") for text in texts), (lesson.name, cell.source)


def test_problems_finds_a_leak_and_a_left_solution():
    nb = nbformat.v4.new_notebook()
    leaked = nbformat.v4.new_code_cell("exercises.x(1)", execution_count=1)
    leaked.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "Correct: yes"})]
    solution = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["solution"]})
    solution.execution_count = 2
    nb.cells = [leaked, solution]
    found = build_student.problems(nb, "n.ipynb")
    assert any("Correct:" in line for line in found)
    assert any("solution" in line for line in found)
