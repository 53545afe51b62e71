"""Every lesson, in a real JupyterLab in Chromium: restart and run all, then look at the page.

For each notebook in `lessons/` (a copy of it: the committed files are not touched):

* "Restart Kernel and Run All Cells" (from the Kernel menu) runs every code cell, in order, in a
  fresh kernel: every code cell ends with an execution count, counting up from 1;
* no cell shows an error (a traceback) or anything on stderr;
* every chart is drawn by Vega (an SVG with marks, or a canvas with pixels), not shown as a text
  or image fallback: one drawn Vega view in its own cell per Vega-Lite output, plus one per
  ``alt.JupyterChart`` the kernel created (counted from the widget state JupyterLab saves); and
  the run puts Vega-Lite outputs in the same cells as the committed notebook;
* every ipywidgets slider of a widget panel moves that panel's chart (keyboard on the slider
  handle, as a student would), and every Vega-bound range input moves its chart;
* the page asks nothing of any host but the JupyterLab server on 127.0.0.1.

A screenshot of the whole notebook goes to ``build/test-artifacts/<lesson>.png``; the time from
each slider move to the redrawn chart is recorded for the session's responsiveness table.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    CHART_INFO_FN,
    LESSONS,
    VEGALITE_MIME,
    VIEWPORT,
    WIDGET_MIME,
    BrowserPage,
    JupyterLabServer,
    Lesson,
    artifact_path,
    cells_with,
    jupyter_charts_in_widget_state,
    measure_chart_change,
    move_vega_range,
)

pytestmark = pytest.mark.browser

#: Restart, run all and render take ~6-10 s per lesson here; leave room for a slow machine.
RUN_ALL_TIMEOUT_MS = 180_000
RENDER_TIMEOUT_MS = 30_000
#: Presses of the arrow key per ipywidgets slider.
KEY_PRESSES = 3

KERNEL_STATUS_JS = """
() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return kernel ? `${kernel.status}/${kernel.connectionStatus}` : 'none';
}
"""

NOTEBOOK = ".jp-NotebookPanel .jp-Notebook"

#: The input prompts of the code cells: "[ ]:", "[*]:" or "[3]:".
PROMPTS_JS = f"""
() => [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell .jp-InputPrompt')]
  .map((prompt) => prompt.textContent.trim())
"""

#: Run All has started: some prompt is no longer the "[ ]:" of a cleared notebook.
RUN_STARTED_JS = f"() => ({PROMPTS_JS})().some((prompt) => prompt !== '[ ]:')"

#: Run All has stopped: nothing queued or running, and the kernel is idle. (JupyterLab queues
#: every cell at once, so this does not happen between cells; after an error the remaining
#: cells go back to "[ ]:", which the checks report.)
RUN_STOPPED_JS = f"""
() => !({PROMPTS_JS})().includes('[*]:') && ({KERNEL_STATUS_JS})() === 'idle/connected'
"""

#: What each cell shows, in notebook order.
CELLS_JS = f"""
() => {{
  const chartInfo = {CHART_INFO_FN};
  return [...document.querySelectorAll('{NOTEBOOK} .jp-Cell')].map((cell) => {{
    const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')];
    const prompt = cell.querySelector('.jp-InputPrompt');
    return {{
      prompt: cell.classList.contains('jp-CodeCell') && prompt ? prompt.textContent.trim() : null,
      mimes: outputs.map((output) => output.dataset.mimeType || null),
      stderr: [...cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map((output) => output.textContent.slice(0, 800)),
      widgets: cell.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
      text: outputs.map((output) => output.textContent).join('\\n').slice(0, 4000),
      charts: [...cell.querySelectorAll('.vega-embed .chart-wrapper > .marks')].map(chartInfo),
    }};
  }});
}}
"""

DRAWN_CHARTS_JS = f"""
() => {{
  const chartInfo = {CHART_INFO_FN};
  return [...document.querySelectorAll('{NOTEBOOK} .vega-embed .chart-wrapper > .marks')]
    .map(chartInfo).filter((chart) => chart.drawn).length;
}}
"""

#: Text that widget managers and JupyterChart show instead of a widget or chart.
WIDGET_FALLBACKS = re.compile(
    r"Error displaying widget|Loading widget|JavaScript Error|model not found|"
    r"Failed to load model class"
)

#: Browser noise that says nothing about the lessons.
BENIGN_PAGE_ERRORS = re.compile(r"ResizeObserver loop")


def _open_notebook(page: Any, lab: JupyterLabServer, lesson: Lesson) -> None:
    page.goto(lab.lab_url(lesson.name, workspace=f"browser-test-{lesson.stem}"))
    # windowingMode "none" puts every cell in the page; a windowed notebook would stop short.
    page.wait_for_function(
        f"(n) => document.querySelectorAll('{NOTEBOOK} .jp-Cell').length === n",
        arg=len(lesson.cells),
        timeout=60_000,
    )
    page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle/connected'", timeout=60_000)


def _restart_and_run_all(page: Any, lesson: Lesson) -> None:
    # Start from empty outputs, so that nothing committed can pass for a fresh result.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    prompts = page.evaluate(PROMPTS_JS)
    assert prompts and all(p == "[ ]:" for p in prompts), f"outputs not cleared: {prompts}"
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name="Restart Kernel and Run All Cells…", exact=True).click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function(RUN_STARTED_JS, timeout=60_000, polling=50)
    page.wait_for_function(RUN_STOPPED_JS, timeout=RUN_ALL_TIMEOUT_MS, polling=100)


def _save_and_read(page: Any, lab: JupyterLabServer, lesson: Lesson) -> dict:
    """Save the (copied) notebook, with its widget state, and read it back from disk."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000
    )
    return json.loads((lab.root_dir / lesson.name).read_text(encoding="utf-8"))


def _screenshot_notebook(page: Any, path: Path) -> None:
    """The whole notebook in one picture: a viewport as tall as the notebook, then back."""
    height = page.evaluate(
        f"""() => {{
          const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
            || document.querySelector('{NOTEBOOK}');
          if (!outer) return 0;
          outer.scrollTop = 0;
          return outer.scrollHeight;
        }}"""
    )
    tall = min(max(VIEWPORT["height"], height + 250), 16_000)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": tall})
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def _check_run(lesson: Lesson, saved: dict, cells: list[dict]) -> list[str]:
    """Execution counts, errors and stderr, from the saved notebook and from the page."""
    problems = []
    counts = [cell.get("execution_count") for cell in saved["cells"] if cell["cell_type"] == "code"]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts are not 1..{len(counts)} in order: {counts}")
    prompts = [cell["prompt"] for cell in cells if cell["prompt"] is not None]
    if not all(re.fullmatch(r"\[\d+\]:", prompt) for prompt in prompts):
        problems.append(f"not every code cell ran; prompts in the page: {prompts}")
    for index, cell in enumerate(saved["cells"]):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(
                    f"cell {index} raised {output.get('ename')}: {output.get('evalue')}\n"
                    + "\n".join(output.get("traceback", []))[-2000:]
                )
            elif output["output_type"] == "stream" and output.get("name") == "stderr":
                problems.append(f"cell {index} wrote to stderr: {''.join(output['text'])[:800]}")
    for index, cell in enumerate(cells):
        for text in cell["stderr"]:
            problems.append(f"cell {index} shows an error/stderr output in the page: {text}")
    return problems


def _count_outputs(nb: dict, index: int, mime: str) -> int:
    return sum(mime in output.get("data", {}) for output in nb["cells"][index].get("outputs", []))


def _check_charts(lesson: Lesson, saved: dict, cells: list[dict]) -> list[str]:
    """Every chart drawn by Vega: one view per Vega-Lite output and one per JupyterChart."""
    problems = []
    committed = lesson.cells_with(VEGALITE_MIME)
    produced = cells_with(saved, VEGALITE_MIME)
    if produced != committed:
        problems.append(
            f"the run put Vega-Lite outputs in cells {produced}, the committed notebook has "
            f"them in cells {committed} (commit the lesson with its outputs: `make lessons`)"
        )
    for index in sorted(set(committed) | set(produced)):
        cell = cells[index]
        expected = max(
            _count_outputs(saved, index, VEGALITE_MIME),
            _count_outputs(lesson.nb, index, VEGALITE_MIME),
        )
        drawn = [c for c in cell["charts"] if c["inMimeOutput"] and c["drawn"]]
        if len(drawn) != expected:
            problems.append(
                f"cell {index}: {expected} Vega-Lite output(s) but {len(drawn)} drawn Vega "
                f"view(s); outputs shown: {cell['mimes']}, views: {cell['charts']}, "
                f"text: {cell['text'][:300]!r}"
            )
    widget_cells = sorted(set(lesson.cells_with(WIDGET_MIME)) | set(cells_with(saved, WIDGET_MIME)))
    for index in widget_cells:
        cell = cells[index]
        fallback = WIDGET_FALLBACKS.search(cell["text"])
        if cell["widgets"] == 0 or fallback:
            problems.append(
                f"cell {index}: widget output not rendered as a widget "
                f"({fallback.group(0) if fallback else 'no widget in the page'}); "
                f"shows: {cell['text'][:300]!r}"
            )
    jupyter_charts = jupyter_charts_in_widget_state(saved)
    if widget_cells and not saved.get("metadata", {}).get("widgets"):
        problems.append("JupyterLab saved no widget state, so JupyterCharts cannot be counted")
    drawn_in_widgets = sum(c["drawn"] and c["inWidget"] for cell in cells for c in cell["charts"])
    if drawn_in_widgets != jupyter_charts:
        problems.append(
            f"{jupyter_charts} JupyterChart(s) in the kernel's widget state, "
            f"{drawn_in_widgets} drawn in widget outputs"
        )
    vegalite_outputs = sum(
        _count_outputs(saved, index, VEGALITE_MIME) for index in range(len(saved["cells"]))
    )
    drawn_total = sum(c["drawn"] for cell in cells for c in cell["charts"])
    if drawn_total != vegalite_outputs + jupyter_charts:
        problems.append(
            f"{drawn_total} drawn Vega views, expected {vegalite_outputs + jupyter_charts} "
            f"({vegalite_outputs} Vega-Lite outputs + {jupyter_charts} JupyterCharts)"
        )
    return problems


def _check_widget_panels(page: Any, lesson: Lesson, responsiveness: list[dict]) -> list[str]:
    """Each ipywidgets slider next to a chart moves that chart (through the kernel)."""
    problems = []
    problems += _check_toggle_panels(page, lesson, responsiveness)
    panels = (
        page.locator(f"{NOTEBOOK} .jp-OutputArea-output")
        .filter(has=page.locator(".widget-slider"))
        .filter(has=page.locator(".vega-embed"))
    )
    for p in range(panels.count()):
        panel = panels.nth(p)
        sliders = panel.locator(".widget-slider")
        for s in range(sliders.count()):
            slider = sliders.nth(s)
            label = slider.locator(".widget-label").inner_text().strip() or f"slider {s}"
            handle = slider.locator(".noUi-handle")
            before = handle.get_attribute("aria-valuenow")
            at_top = float(before) >= float(handle.get_attribute("aria-valuemax"))
            key = "ArrowLeft" if at_top else "ArrowRight"
            handle.scroll_into_view_if_needed()
            handle.focus()

            def press(key: str = key) -> None:
                for _ in range(KEY_PRESSES):
                    page.keyboard.press(key)

            ms, _ = measure_chart_change(page, panel, press, start_on_keydown=True)
            readout = slider.locator(".widget-readout").inner_text().strip()
            responsiveness.append(
                {
                    "lesson": lesson.stem,
                    "view": "JupyterLab",
                    "control": f"panel {p + 1}: {label}",
                    "kind": "ipywidgets slider",
                    "ms": ms,
                    "moved": f"{key} x{KEY_PRESSES} -> {readout}",
                }
            )
            if ms is None:
                problems.append(
                    f"widget panel {p + 1}: moving slider {label!r} ({key} x{KEY_PRESSES}, "
                    f"readout now {readout}) did not change its chart"
                )
        problems += _check_play_button(page, panel, p, lesson, responsiveness)
    return problems


def _check_toggle_panels(page: Any, lesson: Lesson, responsiveness: list[dict]) -> list[str]:
    """Each ipywidgets toggle button next to a chart moves that chart (through the kernel)."""
    problems = []
    panels = (
        page.locator(f"{NOTEBOOK} .jp-OutputArea-output")
        .filter(has=page.locator(".widget-toggle-button"))
        .filter(has=page.locator(".vega-embed"))
    )
    for p in range(panels.count()):
        panel = panels.nth(p)
        toggles = panel.locator(".widget-toggle-button")
        for t in range(toggles.count()):
            toggle = toggles.nth(t)
            label = toggle.inner_text().strip() or f"toggle {t}"
            toggle.scroll_into_view_if_needed()
            toggle.focus()
            # Pressed from the keyboard, so that the probe's clock starts with the key press.
            ms, _ = measure_chart_change(
                page, panel, lambda: page.keyboard.press("Space"), start_on_keydown=True
            )
            toggle.click()  # back as it was
            responsiveness.append(
                {
                    "lesson": lesson.stem,
                    "view": "JupyterLab",
                    "control": f"toggle panel {p + 1}: {label}",
                    "kind": "ipywidgets toggle",
                    "ms": ms,
                    "moved": "on and off",
                }
            )
            if ms is None:
                problems.append(
                    f"toggle panel {p + 1}: switching {label!r} did not change its chart"
                )
    return problems


def _check_play_button(
    page: Any, panel: Any, p: int, lesson: Lesson, responsiveness: list[dict]
) -> list[str]:
    """A panel's play button (ipywidgets ``Play``) steps its slider and so moves its chart.

    The ``Play`` view's buttons are play/pause, stop (back to the start) and repeat.
    """
    buttons = panel.locator(".widget-play button")
    if buttons.count() == 0:
        return []
    slider = panel.locator(".widget-slider .noUi-handle").first
    before = slider.get_attribute("aria-valuenow")
    play = buttons.first
    play.scroll_into_view_if_needed()
    play.focus()
    # Pressed from the keyboard, so that the probe's clock starts with the key press.
    ms, _ = measure_chart_change(
        page, panel, lambda: page.keyboard.press("Enter"), start_on_keydown=True
    )
    play.click()  # the same button pauses
    after = slider.get_attribute("aria-valuenow")
    responsiveness.append(
        {
            "lesson": lesson.stem,
            "view": "JupyterLab",
            "control": f"panel {p + 1}: play",
            "kind": "ipywidgets play button",
            "ms": ms,
            "moved": f"play -> slider {before} to {after}",
        }
    )
    if ms is None or after == before:
        return [
            f"widget panel {p + 1}: pressing play did not move its slider ({before} -> {after}) "
            "or its chart"
        ]
    return []


def _check_vega_sliders(page: Any, lesson: Lesson, responsiveness: list[dict]) -> list[str]:
    """Each Vega-bound range input moves its own chart (in the browser, no kernel involved)."""
    problems = []
    charts = page.locator(f"{NOTEBOOK} .vega-embed").filter(
        has=page.locator('.vega-bindings input[type="range"]')
    )
    for c in range(charts.count()):
        chart = charts.nth(c)
        chart.scroll_into_view_if_needed()
        names = chart.locator('.vega-bindings input[type="range"]').evaluate_all(
            "(inputs) => inputs.map((input) => input.name)"
        )
        for name in names:
            ms, values = measure_chart_change(
                page, chart, functools.partial(move_vega_range, chart, name), start_on_keydown=False
            )
            responsiveness.append(
                {
                    "lesson": lesson.stem,
                    "view": "JupyterLab",
                    "control": f"chart {c + 1}: {name}",
                    "kind": "Vega-bound slider",
                    "ms": ms,
                    "moved": f"{values['before']} -> {values['after']}",
                }
            )
            if ms is None:
                problems.append(
                    f"Vega-bound slider {name!r} ({values['before']} -> {values['after']}) "
                    "did not change its chart"
                )
    return problems


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_renders_and_responds_in_jupyterlab(
    path: Path, jupyter_lab: JupyterLabServer, new_page: Any, responsiveness: list[dict]
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    lesson = Lesson.load(path)
    browser_page: BrowserPage = new_page()
    page = browser_page.page
    problems: list[str] = []
    try:
        _open_notebook(page, jupyter_lab, lesson)
        _restart_and_run_all(page, lesson)
        saved = _save_and_read(page, jupyter_lab, lesson)
        expected_views = sum(
            _count_outputs(saved, index, VEGALITE_MIME) for index in range(len(saved["cells"]))
        ) + jupyter_charts_in_widget_state(saved)
        # Charts and widgets draw after their cell finished: wait for them (then check all;
        # if they never come, the checks below say which are missing).
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                f"(n) => ({DRAWN_CHARTS_JS})() >= n",
                arg=expected_views,
                timeout=RENDER_TIMEOUT_MS,
                polling=100,
            )
        cells = page.evaluate(CELLS_JS)
        problems += _check_run(lesson, saved, cells)
        problems += _check_charts(lesson, saved, cells)
        problems += _check_widget_panels(page, lesson, responsiveness)
        problems += _check_vega_sliders(page, lesson, responsiveness)
        outside = browser_page.outside_requests(jupyter_lab)
        if outside:
            problems.append(f"requests left 127.0.0.1:{jupyter_lab.port}: {outside}")
        page_errors = [e for e in browser_page.page_errors if not BENIGN_PAGE_ERRORS.search(e)]
        if page_errors:
            problems.append(f"uncaught errors in the page: {page_errors}")
    finally:
        try:
            _screenshot_notebook(page, artifact_path(f"{lesson.stem}.png"))
        except Exception as error:  # never hide the test's own failure behind this one
            problems.append(f"could not save the screenshot: {error}")
    assert not problems, f"{lesson.name} in JupyterLab:\n- " + "\n- ".join(problems)
