"""lessons/INSTRUCTORS.md agrees with the lessons and the package.

Per lesson section: the timing matches the lesson's first cell; every exercise check that the
lesson calls has an answer in the guide; every stated answer is correct by that check; every
"number to quote" is what the package computes. No kernel, no network.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import nbformat
import pytest

import outage_kit

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "lessons" / "INSTRUCTORS.md"
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
# The modules that hold the exercise checks, by the name the lessons and the guide use:
# outage_kit.exercises and the topic modules named like it (graph_exercises, ...).
CHECK_MODULES = {
    info.name: importlib.import_module(f"outage_kit.{info.name}")
    for info in pkgutil.iter_modules(outage_kit.__path__)
    if info.name.endswith("exercises")
}

SECTION = re.compile(r"^## Lesson (\d\d) · (.+)$", re.MULTILINE)
NOTEBOOK = re.compile(r"^\*\*Notebook:\*\* `([^`]+)`", re.MULTILINE)
TIMING = re.compile(r"(\d+) min teaching, (\d+) min exercises")
GUIDE_TIMING = re.compile(r"^\*\*Timing:\*\* (\d+) min teaching, (\d+) min exercises", re.MULTILINE)
ANSWER_ROW = re.compile(
    r"^\|\s*(?P<label>[^|`]+?)\s*\|\s*`(?P<answer>[^`]+)`\s*\|"
    r"\s*`(?P<module>[a-z_]*exercises)\.(?P<check>\w+)`\s*\|\s*$",
    re.MULTILINE,
)
QUOTE_ROW = re.compile(
    r"^\|\s*(?P<label>[^|`]+?)\s*\|\s*(?P<value>≈?\s*[\d,]+(?:\.\d+)?)\s*(?P<unit>[^|`]*?)\s*\|"
    r"\s*`(?P<code>[^`]+)`\s*\|\s*$",
    re.MULTILINE,
)
CHECK_CALL = re.compile(r"\b([a-z_]*exercises)\.([a-z_][a-z0-9_]*)\(")


def _sections() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    matches = list(SECTION.finditer(text))
    sections = {}
    for match, following in zip(matches, matches[1:] + [None], strict=True):
        end = following.start() if following else len(text)
        body = text[match.end() : end]
        # A section ends at the next second-level heading of any kind.
        other = re.search(r"^## ", body, re.MULTILINE)
        sections[match.group(1)] = body[: other.start()] if other else body
    return sections


def _subsection(body: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\s*$", body, re.MULTILINE)
    if not match:
        return ""
    rest = body[match.end() :]
    end = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


SECTIONS = _sections()


def _first_cell_timing(lesson: Path) -> tuple[int, int]:
    first = nbformat.read(lesson, as_version=4).cells[0].source
    match = TIMING.search(first)
    assert match, f"{lesson.name}: first cell gives no 'X min teaching, Y min exercises'"
    return int(match.group(1)), int(match.group(2))


def _checks_called(lesson: Path) -> set[str]:
    nb = nbformat.read(lesson, as_version=4)
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            names |= {
                f"{m}.{n}"
                for m, n in CHECK_CALL.findall(cell.source)
                if callable(getattr(CHECK_MODULES[m], n))
            }
    return names


def test_every_lesson_has_a_section_and_every_section_a_lesson():
    numbers = {lesson.name[:2] for lesson in LESSONS}
    assert set(SECTIONS) == numbers
    for lesson in LESSONS:
        body = SECTIONS[lesson.name[:2]]
        match = NOTEBOOK.search(body)
        assert match and match.group(1) == lesson.name, f"section {lesson.name[:2]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_timing_agrees_with_the_lesson(lesson):
    body = SECTIONS[lesson.name[:2]]
    match = GUIDE_TIMING.search(body)
    assert match, f"section {lesson.name[:2]} has no **Timing:** line"
    assert (int(match.group(1)), int(match.group(2))) == _first_cell_timing(lesson)
    total = re.search(r"\((\d+) min in all\)", body[match.start() : match.start() + 200])
    if total:
        assert int(total.group(1)) == sum(_first_cell_timing(lesson))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_check_of_the_lesson_has_an_answer(lesson):
    rows = list(ANSWER_ROW.finditer(_subsection(SECTIONS[lesson.name[:2]], "Answers")))
    answered = {f"{row.group('module')}.{row.group('check')}" for row in rows}
    missing = _checks_called(lesson) - answered
    assert not missing, f"{lesson.name}: no answer in the guide for {sorted(missing)}"


def _answers():
    for number, body in SECTIONS.items():
        for row in ANSWER_ROW.finditer(_subsection(body, "Answers")):
            yield pytest.param(row, id=f"{number}-{row.group('check')}")


@pytest.mark.parametrize("row", list(_answers()))
def test_stated_answer_is_correct(row):
    check = getattr(CHECK_MODULES[row.group("module")], row.group("check"))
    answer = ast.literal_eval(row.group("answer"))
    verdict = check(answer)
    assert verdict.correct is True, f"{row.group('label')}: {answer!r} -> {verdict}"


def _quotes():
    for number, body in SECTIONS.items():
        for row in QUOTE_ROW.finditer(_subsection(body, "Numbers to quote")):
            yield pytest.param(row, id=f"{number}-{row.group('label')[:40]}")


def test_quotes_table_rows_are_all_parsed():
    for number, body in SECTIONS.items():
        table = _subsection(body, "Numbers to quote")
        rows = [line for line in table.splitlines() if line.startswith("| ")]
        rows = [line for line in rows if not line.startswith("| quantity")]
        parsed = list(QUOTE_ROW.finditer(table))
        assert len(parsed) == len(rows), f"section {number}: a row of Numbers to quote is malformed"


@pytest.mark.parametrize("row", list(_quotes()))
def test_quoted_number_is_what_the_package_computes(row):
    stated_text = row.group("value").replace("≈", "").replace(",", "").strip()
    stated = float(stated_text)
    decimals = len(stated_text.split(".")[1]) if "." in stated_text else 0
    code = row.group("code")
    # The short names in the expression are outage_kit modules (queueing, retries, data...).
    names = {
        name: importlib.import_module(f"outage_kit.{name}")
        for name in set(re.findall(r"\b([a-z_]+)\.", code))
        if importlib.util.find_spec(f"outage_kit.{name}") is not None
    }
    computed = float(eval(code, names))  # noqa: S307 - the guide is ours
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    assert abs(computed - stated) <= tolerance, f"{row.group('label')}: {computed} vs {stated}"


def test_the_guide_names_the_commands_it_relies_on():
    text = GUIDE.read_text(encoding="utf-8")
    for command in ("make lab", "make slides", "make student", "environment.yml", "Alt+R"):
        assert command in text
