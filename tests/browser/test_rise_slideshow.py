"""Every lesson as a RISE (reveal.js) slideshow: the slides' Vega-bound sliders move their charts.

ipywidgets and anywidget views do not render inside jupyterlab-rise with current
jupyterlab_widgets (upstream jupyterlab-contrib/rise #119 and #126), so the lessons put charts
whose sliders are Vega-Lite params bound to range inputs on the slides that need a live control.
This test opens each lesson with jupyterlab-rise's own page (``/rise/<notebook>``, what "Render
as Reveal Slideshow" shows), from the committed outputs, without running anything:

* for every code cell on a slide (not ``skip``, not ``notes``) whose chart has a param bound to a
  range input, it starts the slideshow on that cell's slide, steps through the slide's fragments
  with the space bar until the chart is on screen, checks that the chart is drawn, and moves each
  of its range inputs (set the value and fire ``input``: reveal.js takes the arrow keys) and
  checks that the chart changes;
* a lesson with no such slide (lesson 00) still has to open as a slideshow;
* the slideshow asks nothing of any host but the JupyterLab server on 127.0.0.1.

A screenshot of each tested slide goes to ``build/test-artifacts/<lesson>.slide-cell<N>.png``.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    LESSONS,
    BrowserPage,
    JupyterLabServer,
    Lesson,
    artifact_path,
    chart_stats,
    measure_chart_change,
    move_vega_range,
)

pytestmark = pytest.mark.browser

NOT_ON_SLIDES = {"skip", "notes"}
#: Space-bar presses allowed to reach a chart from the start of its slide (one per fragment).
MAX_STEPS = 20

#: The element is on the current slide and every fragment around it has been revealed.
SHOWN_JS = """
(element) => {
  const section = element.closest('section');
  if (!section || !section.classList.contains('present')) return false;
  for (let f = element.closest('.fragment'); f; f = f.parentElement.closest('.fragment')) {
    if (!f.classList.contains('visible')) return false;
  }
  const box = element.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
}
"""


def slider_cells(lesson: Lesson) -> list[int]:
    """Code cells shown on slides whose committed chart has a Vega-bound range input."""
    return [
        index
        for index in lesson.code_cells()
        if lesson.slide_type(index) not in NOT_ON_SLIDES and lesson.vega_range_params(index)
    ]


def _open_slideshow(page: Any, lab: JupyterLabServer, lesson: Lesson, cell_index: int) -> None:
    page.goto(lab.rise_url(lesson.name, cell_index))
    page.wait_for_selector(".reveal .slides section.present", timeout=60_000)
    # RISE builds the slides from the notebook's cells, all of them, in order.
    page.wait_for_function(
        "(n) => document.querySelectorAll('.reveal .slides .jp-Cell').length === n",
        arg=len(lesson.cells),
        timeout=30_000,
    )


def _step_to(page: Any, element: Any) -> int:
    """Press space (reveal.js: next fragment or slide) until ``element`` is shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    handle = element.element_handle()
    for steps in range(MAX_STEPS + 1):
        try:
            page.wait_for_function(SHOWN_JS, arg=handle, timeout=1_500)
            return steps
        except PlaywrightTimeout:
            page.keyboard.press("Space")
    raise AssertionError(f"the chart did not come on screen after {MAX_STEPS} presses of space")


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_slideshow_vega_sliders_move_their_charts(
    path: Path, jupyter_lab: JupyterLabServer, new_page: Any, responsiveness: list[dict]
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    lesson = Lesson.load(path)
    browser_page: BrowserPage = new_page()
    page = browser_page.page
    problems: list[str] = []
    targets = slider_cells(lesson)
    if not targets:
        # Nothing to move: the deck must still open, offline.
        _open_slideshow(page, jupyter_lab, lesson, 0)
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_load_state("networkidle", timeout=5_000)
        page.screenshot(path=str(artifact_path(f"{lesson.stem}.slide-cell0.png")))
    for index in targets:
        _open_slideshow(page, jupyter_lab, lesson, index)
        cell = page.locator(".reveal .slides .jp-Cell").nth(index)
        chart = cell.locator(".vega-embed").filter(
            has=page.locator('.vega-bindings input[type="range"]')
        )
        assert chart.count() == 1, (
            f"cell {index}: expected one chart with range inputs on its slide"
        )
        steps = _step_to(page, chart)
        where = f"cell {index} (slide {page.evaluate('() => location.hash')}, {steps} steps)"
        drawn = [c for c in chart_stats(chart) if c["drawn"]]
        if not drawn:
            problems.append(f"{where}: the chart is not drawn: {chart_stats(chart)}")
        names = chart.locator('.vega-bindings input[type="range"]').evaluate_all(
            "(inputs) => inputs.map((input) => input.name)"
        )
        expected = lesson.vega_range_params(index)
        if sorted(names) != sorted(expected):
            problems.append(f"{where}: range inputs {names}, the chart's spec binds {expected}")
        for name in names:
            ms, values = measure_chart_change(
                page, chart, functools.partial(move_vega_range, chart, name), start_on_keydown=False
            )
            responsiveness.append(
                {
                    "lesson": lesson.stem,
                    "view": "RISE slideshow",
                    "control": f"cell {index}: {name}",
                    "kind": "Vega-bound slider",
                    "ms": ms,
                    "moved": f"{values['before']} -> {values['after']}",
                }
            )
            if ms is None:
                problems.append(
                    f"{where}: moving {name!r} ({values['before']} -> {values['after']}) "
                    "did not change the chart"
                )
        page.screenshot(path=str(artifact_path(f"{lesson.stem}.slide-cell{index}.png")))
    outside = browser_page.outside_requests(jupyter_lab)
    if outside:
        problems.append(f"requests left 127.0.0.1:{jupyter_lab.port}: {outside}")
    assert not problems, f"{lesson.name} as a slideshow:\n- " + "\n- ".join(problems)
