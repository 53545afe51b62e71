"""Every lesson follows the kit's conventions. Runs on the committed notebooks, without a kernel.

nbval (in `make test`) re-executes each lesson and compares outputs; these tests check the
structure that nbval cannot see: the lesson frame, slide metadata, exercises with checks and
solutions, committed outputs, and charts emitted in a form that renders offline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from outage_kit import course

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS_DIR.glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_lessons_and_each_is_in_the_course_map():
    assert len(NOTEBOOKS) >= 2
    known = {lesson.notebook for lesson in course.LESSONS}
    for path in NOTEBOOKS:
        assert path.name in known, f"{path.name} is not listed in outage_kit.course.LESSONS"


def test_lessons_are_taken_in_order_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers)))


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, _load(request.param)


def test_opens_with_questions_objectives_duration_prerequisites(notebook):
    path, nb = notebook
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown"
    text = _source(first)
    assert text.startswith(f"# {path.name[:2]} ·")
    for heading in ("Questions", "Objectives", "Duration", "Prerequisites"):
        assert heading in text, f"{path.name}: first cell lacks {heading!r}"
    assert re.search(r"\d+ min", text), f"{path.name}: duration should be in minutes"


def test_closes_with_key_points(notebook):
    path, nb = notebook
    last = nb["cells"][-1]
    assert last["cell_type"] == "markdown" and "## Key points" in _source(last), path.name


def test_every_cell_has_slide_metadata_and_there_are_speaker_notes(notebook):
    path, nb = notebook
    types = [c["metadata"].get("slideshow", {}).get("slide_type") for c in nb["cells"]]
    assert all(t in SLIDE_TYPES for t in types), f"{path.name}: cells without slide metadata"
    assert types[0] == "slide"
    assert types.count("notes") >= 2, f"{path.name}: needs speaker notes"


def test_first_code_cell_enables_offline_charts(notebook):
    path, nb = notebook
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "charts.enable_offline()" in _source(first_code), path.name


def test_has_predict_then_run_and_two_checked_exercises(notebook):
    path, nb = notebook
    cells = nb["cells"]
    assert any("Predict" in _source(c) for c in cells if c["cell_type"] == "markdown")
    solutions = [i for i, c in enumerate(cells) if "solution" in c["metadata"].get("tags", [])]
    assert len(solutions) >= 2, f"{path.name}: needs at least two exercises with solutions"
    for i in solutions:
        answer_cell, check_cell = cells[i - 1], cells[i + 1]
        assert re.search(r"= None\b", _source(answer_cell)), f"{path.name}: cell {i - 1}"
        assert "exercises." in _source(check_cell), f"{path.name}: cell {i + 1} checks nothing"
        assert cells[i]["metadata"]["slideshow"]["slide_type"] == "skip"


def test_outputs_are_committed_and_clean(notebook):
    path, nb = notebook
    counts = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell["execution_count"] is not None, f"{path.name}: cell {i} was never run"
        assert "execution" not in cell["metadata"], f"{path.name}: cell {i} stores run timings"
        counts.append(cell["execution_count"])
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name}: cell {i} has an error"
            assert output.get("name") != "stderr", f"{path.name}: cell {i} wrote to stderr"
            for key in output.get("data", {}):
                if key.startswith("application/vnd.vegalite"):
                    assert key.endswith("+json"), f"{path.name}: cell {i} has {key}"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: not run top to bottom"
    assert "widgets" not in nb["metadata"], f"{path.name}: widget state should not be stored"


def test_every_chart_has_a_json_bundle_and_a_static_svg(notebook):
    path, nb = notebook
    charts_seen = 0
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.vegalite.v5+json" in data:
                charts_seen += 1
                svg = data["image/svg+xml"]
                assert "".join(svg).startswith("<svg"), path.name
    assert charts_seen >= 1, f"{path.name}: no chart"


def test_slideshow_theme_needs_no_web_fonts(notebook):
    # RISE's default theme ("simple") loads fonts from the web; "white" uses reveal.js's own.
    path, nb = notebook
    assert nb["metadata"].get("rise", {}).get("theme") == "white", path.name
