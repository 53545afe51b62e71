"""`make slides`: every lesson becomes a reveal.js deck that works from file:// with no internet.

Builds all decks into a temporary folder with tools/build_slides.py, checks the HTML for
external addresses, then opens the decks in Chromium (Playwright) from the file system and
checks that every request stays local, that every chart is drawn on its slide, that every
control bound to a Vega-Lite param (sliders, buttons) redraws its chart without changing the
slide, that the speaker view opens, and that the static SVG is shown when Vega is missing.

Needs npm (the build runs `npm ci` once if tools/slides/node_modules is missing) and
/usr/bin/chromium. Without them the tests skip with a reason, except under CI (env CI set),
where they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = Path(os.environ.get("OUTAGE_KIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IN_CI = bool(os.environ.get("CI"))


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (required under CI)")
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


def _load_build_slides():
    spec = importlib.util.spec_from_file_location("build_slides", ROOT / "tools/build_slides.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_slides = _load_build_slides()


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> Path:
    """All lessons built into one temporary folder; returns the folder."""
    installed = build_slides.LOCK_STAMP.is_file()
    if not installed and shutil.which("npm") is None:
        _unavailable("npm is not installed and tools/slides/node_modules is missing")
    out = tmp_path_factory.mktemp("slides")
    try:
        build_slides.build(LESSONS, out)
    except build_slides.BuildError as error:
        _unavailable(f"cannot build the decks: {error}")
    return out


# --- the HTML, without a browser -------------------------------------------------------------


class _References(HTMLParser):
    """Collects every address that a page would load: scripts, styles, images, frames."""

    LOADING = {
        "script": ("src",),
        "link": ("href",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "frame": ("src",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "embed": ("src",),
        "object": ("data",),
        "track": ("src",),
    }

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[tuple[str, str]] = []
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name in self.LOADING.get(tag, ()):
            if values.get(name):
                self.addresses.append((tag, values[name].strip()))
        if tag in {"script", "style"} and not values.get("src"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.inline_scripts.append(data)
        elif self._in == "style":
            self.inline_styles.append(data)


def _is_remote(address: str) -> bool:
    scheme = urlparse(address).scheme.lower()
    return address.startswith("//") or scheme not in {"", "file", "data", "blob", "about"}


def _parse(path: Path) -> _References:
    parser = _References()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data):
        self.chunks.append(data)


def _words(text: str) -> str:
    return " ".join(text.split())


def _visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return _words("".join(parser.chunks))


def test_one_deck_per_lesson_and_an_index(decks):
    for lesson in LESSONS:
        assert (decks / f"{lesson.stem}.slides.html").is_file(), lesson.name
    assert (decks / "index.html").is_file()
    assert (decks / "assets" / "THIRD_PARTY_NOTICES.txt").is_file()


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_deck_loads_nothing_from_the_internet(decks, lesson):
    deck = decks / f"{lesson.stem}.slides.html"
    page = _parse(deck)
    assert any(tag == "script" for tag, _ in page.addresses)
    remote = [(tag, address) for tag, address in page.addresses if _is_remote(address)]
    assert not remote, f"{deck.name} loads from the network: {remote}"
    for tag, address in page.addresses:
        if not address.startswith("data:"):
            target = decks / unquote(urlparse(address).path)
            assert target.is_file(), f"{deck.name}: <{tag}> points at missing {address}"
    for code in page.inline_scripts:
        assert "import(" not in code and " from 'http" not in code and ' from "http' not in code
    for css in page.inline_styles:
        assert "@import url(http" not in css and "url(//" not in css


def test_assets_style_sheets_are_local(decks):
    for css in (decks / "assets").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for marker in ("url(http", "url('http", 'url("http', "url(//", "@import 'http"):
            assert marker not in text, f"{css.relative_to(decks)} refers to the network"


def _cells(lesson: Path):
    return nbformat.read(lesson, as_version=4).cells


def _slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_slide_metadata_is_respected(decks, lesson):
    html = (decks / f"{lesson.stem}.slides.html").read_text(encoding="utf-8")
    text = _visible_text(html)
    cells = _cells(lesson)
    notes = [c for c in cells if _slide_type(c) == "notes"]
    assert html.count('<aside class="notes">') == len(notes)
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution" in tags:
            assert _slide_type(cell) == "skip"
        if cell.cell_type == "code" and _slide_type(cell) == "skip":
            assert _words(cell.source) not in text, f"a skipped cell is in the deck: {cell.source}"
        elif cell.cell_type == "code":
            assert _words(cell.source) in text, f"a shown cell is missing: {cell.source}"
    charts = sum(
        "application/vnd.vegalite.v5+json" in o.get("data", {})
        for c in cells
        if _slide_type(c) != "skip"
        for o in c.get("outputs", [])
    )
    assert html.count('class="jp-OutputArea-output ok-chart') == charts


def test_widget_view_becomes_a_note(tmp_path):
    """A widget output on a shown slide says to use JupyterLab instead of showing its repr."""
    lesson = LESSONS[-1]
    nb = nbformat.read(lesson, as_version=4)
    widget_cells = [
        c for c in nb.cells if any(WIDGET_MIME in o.get("data", {}) for o in c.get("outputs", []))
    ]
    if not widget_cells:
        cell = nbformat.v4.new_code_cell("panel", metadata={"slideshow": {"slide_type": "-"}})
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data",
                data={WIDGET_MIME: {"model_id": "x", "version_major": 2}, "text/plain": "<Panel>"},
            )
        ]
        nb.cells.append(cell)
        widget_cells = [cell]
    for cell in widget_cells:
        cell.metadata["slideshow"] = {"slide_type": "-"}
    path = tmp_path / lesson.name
    nbformat.write(nb, path)
    html = build_slides.export_deck(path, tmp_path).read_text(encoding="utf-8")
    name = widget_cells[0].outputs[0]["data"]["text/plain"].strip("<>")
    assert f"Interactive panel ({name})" in html
    assert "run this lesson in JupyterLab" in html
    assert f"&lt;{name}&gt;" not in html
    assert f'<script type="{WIDGET_MIME}"' not in html


# --- the decks in Chromium, from file:// -------------------------------------------------------


class _BrowserThread:
    """Chromium driven from one worker thread of its own.

    Playwright's sync API refuses to start in a thread where another sync Playwright is
    running (the browser tests in tests/browser/ keep one for the whole session), so this
    module's browser lives in its own thread and every check runs there: ``run(check, ...)``
    calls ``check(browser, ...)`` in that thread and re-raises whatever it raises.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deck-chromium")
        self._manager = None
        self._browser = None

    def start(self) -> None:
        def launch():
            from playwright.sync_api import sync_playwright

            self._manager = sync_playwright()
            playwright = self._manager.__enter__()
            self._browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )

        self._pool.submit(launch).result()

    def run(self, check, *args):
        return self._pool.submit(check, self._browser, *args).result()

    def stop(self) -> None:
        def close():
            if self._browser is not None:
                self._browser.close()
            if self._manager is not None:
                self._manager.__exit__(None, None, None)

        try:
            self._pool.submit(close).result()
        finally:
            self._pool.shutdown()


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is absent: the deck tests need Chromium")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the playwright Python package is not installed")
    driver = _BrowserThread()
    try:
        driver.start()
        yield driver
    finally:
        driver.stop()


class _Session:
    """A browser context that records every request and page error."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, deck: Path):
        self.page.goto(deck.as_uri())
        self.page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=20_000)
        self.page.evaluate("window.outageKitDeck.ready")
        self.page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
        # Fragments fade in over 0.2 s (CSS transitions); a test reads the end state at once.
        self.page.add_style_tag(content="* { transition: none !important; }")
        return self.page

    def remote_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]

    def close(self):
        self.context.close()


# Charts on the current slide that can be seen: every fragment around them is shown, and the
# live Vega SVG (or the fallback image) has a real size.
_VISIBLE_CHARTS = """(kind) => {
  const charts = Array.from(document.querySelectorAll('.ok-chart'));
  const slide = Reveal.getCurrentSlide();
  return charts.flatMap((chart, index) => {
    if (!slide.contains(chart)) return [];
    for (let node = chart; node && node !== slide; node = node.parentElement) {
      if (node.classList.contains('fragment') && !node.classList.contains('visible')) return [];
    }
    const where = kind === 'live' ? '.ok-chart-vega svg' : '.ok-chart-fallback img';
    const drawn = chart.querySelector(where);
    if (!drawn) return [];
    const box = drawn.getBoundingClientRect();
    const style = getComputedStyle(drawn);
    const ok = box.width > 100 && box.height > 100 && style.visibility === 'visible'
      && style.display !== 'none' && (kind === 'live' || drawn.naturalWidth > 0);
    return ok ? [index] : [];
  });
}"""

_AT_END = "Reveal.isLastSlide() && !Reveal.availableFragments().next"


def _step_through(page, kind: str) -> tuple[set[int], int]:
    seen: set[int] = set()
    page.evaluate("Reveal.slide(0, 0, -1)")
    for steps in range(1, 500):
        seen.update(page.evaluate(_VISIBLE_CHARTS, kind))
        if page.evaluate(_AT_END):
            return seen, steps
        page.evaluate("Reveal.next()")
    raise AssertionError("the deck never reached its last slide")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_deck_runs_offline_and_draws_every_chart(decks, chromium, lesson):
    chromium.run(_check_deck_draws_every_chart, decks, lesson)


def _check_deck_draws_every_chart(browser, decks: Path, lesson: Path) -> None:
    session = _Session(browser)
    try:
        page = session.open(decks / f"{lesson.stem}.slides.html")
        states = page.evaluate(
            "Array.from(document.querySelectorAll('.ok-chart'), c => c.dataset.okState)"
        )
        assert states and set(states) == {"live"}, f"charts not drawn by Vega: {states}"
        seen, steps = _step_through(page, "live")
        assert steps >= page.evaluate("Reveal.getTotalSlides()")
        assert seen == set(range(len(states))), f"charts never seen on a slide: {seen}"
        assert not session.errors, session.errors
        assert not session.remote_requests(), session.remote_requests()
    finally:
        session.close()


def _bound_params(spec) -> list[tuple[str, dict]]:
    """(param name, its binding) for every Vega-Lite param bound to an input, in spec order."""
    found = []
    if isinstance(spec, dict):
        for param in spec.get("params", []) or []:
            if isinstance(param, dict) and isinstance(param.get("bind"), dict):
                found.append((param["name"], param["bind"]))
        for key, value in spec.items():
            if key != "params":
                found += _bound_params(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _bound_params(value)
    return found


def _shown_chart_specs(lesson: Path) -> list[dict]:
    """Vega-Lite specs of the chart outputs that appear in the deck, in deck order."""
    return [
        output["data"]["application/vnd.vegalite.v5+json"]
        for cell in _cells(lesson)
        if _slide_type(cell) != "skip"
        for output in cell.get("outputs", [])
        if "application/vnd.vegalite.v5+json" in output.get("data", {})
    ]


def test_some_deck_has_a_vega_slider():
    """Vega-native sliders are the kit's way to stay interactive in slides: keep one tested."""
    inputs = [
        bind.get("input")
        for lesson in LESSONS
        for spec in _shown_chart_specs(lesson)
        for _, bind in _bound_params(spec)
    ]
    assert "range" in inputs


def _operate(page, control, kind: str) -> None:
    """Change one bound control the way a presenter would."""
    if kind == "range":
        slider = control.locator("input[type=range]")
        before = slider.input_value()
        slider.focus()  # reveal.js must leave the arrow keys to a focused slider
        key = "ArrowLeft" if before == slider.get_attribute("max") else "ArrowRight"
        for _ in range(5):
            page.keyboard.press(key)
        assert slider.input_value() != before, "the arrow keys did not move the slider"
    elif kind == "radio":
        control.locator("input[type=radio]:not(:checked)").first.click()
    elif kind == "select":
        select = control.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.input_value()
        select.select_option(next(o for o in options if o != current))
    elif kind == "checkbox":
        control.locator("input[type=checkbox]").click()
    else:
        pytest.fail(f"the deck test cannot operate a {kind!r} control yet: add it to _operate")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_bound_controls_redraw_their_chart_and_keep_the_slide(decks, chromium, lesson):
    charts = [(i, _bound_params(spec)) for i, spec in enumerate(_shown_chart_specs(lesson))]
    charts = [(i, params) for i, params in charts if params]
    if charts:
        chromium.run(_check_bound_controls, decks, lesson, charts)


def _check_bound_controls(browser, decks: Path, lesson: Path, charts) -> None:
    session = _Session(browser)
    try:
        page = session.open(decks / f"{lesson.stem}.slides.html")
        for index, params in charts:
            chart = page.locator(".ok-chart").nth(index)
            chart.evaluate(
                """(chart) => {
                  const indices = Reveal.getIndices(chart.closest('section'));
                  Reveal.slide(indices.h, indices.v);
                  while (Reveal.nextFragment()) {}
                }"""
            )
            drawing = chart.locator(".ok-chart-vega svg").first
            assert drawing.is_visible()
            controls = chart.locator(".vega-bindings .vega-bind")
            assert controls.count() == len(params), f"chart {index}: not every param has a control"
            for name, bind in params:
                label = (bind.get("name") or name).strip()
                control = controls.filter(has=page.locator(".vega-bind-name", has_text=label))
                assert control.count() == 1, f"no single control labelled {label!r}"
                where = page.evaluate("JSON.stringify(Reveal.getIndices())")
                before = drawing.inner_html()
                _operate(page, control, bind.get("input", ""))
                page.wait_for_function(
                    "([el, old]) => el.innerHTML !== old",
                    arg=[drawing.element_handle(), before],
                    timeout=5_000,
                )
                assert page.evaluate("JSON.stringify(Reveal.getIndices())") == where, name
        assert not session.errors, session.errors
        assert not session.remote_requests(), session.remote_requests()
    finally:
        session.close()


def test_speaker_view_shows_the_notes(decks, chromium):
    lesson = next(p for p in LESSONS if any(_slide_type(c) == "notes" for c in _cells(p)))
    first_note = next(c for c in _cells(lesson) if _slide_type(c) == "notes").source.split()[:6]
    chromium.run(_check_speaker_view, decks, lesson, first_note)


def _check_speaker_view(browser, decks: Path, lesson: Path, first_note: list[str]) -> None:
    session = _Session(browser)
    try:
        page = session.open(decks / f"{lesson.stem}.slides.html")
        page.evaluate("Reveal.slide(0, 0, -1)")
        with page.expect_popup() as popup_info:
            page.keyboard.press("s")
        speaker = popup_info.value
        speaker.wait_for_function(
            "document.querySelector('.speaker-controls-notes') && "
            "document.querySelector('.speaker-controls-notes').innerText.length > 20",
            timeout=10_000,
        )
        text = speaker.evaluate("document.querySelector('.speaker-controls-notes').innerText")
        assert " ".join(first_note) in " ".join(text.split())
        assert not session.remote_requests(), session.remote_requests()
    finally:
        session.close()


def test_static_svg_is_shown_when_vega_is_missing(decks, chromium, tmp_path):
    copy_dir = tmp_path / "deck-without-vega"
    shutil.copytree(decks, copy_dir)
    (copy_dir / "assets" / "vega" / "vega-embed.min.js").unlink()
    chromium.run(_check_fallback, copy_dir / f"{LESSONS[0].stem}.slides.html")


def _check_fallback(browser, deck: Path) -> None:
    session = _Session(browser)
    try:
        page = session.open(deck)
        states = page.evaluate(
            "Array.from(document.querySelectorAll('.ok-chart'), c => c.dataset.okState)"
        )
        assert states and set(states) == {"fallback"}
        seen, _ = _step_through(page, "fallback")
        assert seen == set(range(len(states)))
        assert not session.remote_requests(), session.remote_requests()
    finally:
        session.close()


def test_build_without_npm_fails_clearly_when_packages_are_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(build_slides, "LOCK_STAMP", tmp_path / "no-stamp")
    with pytest.raises(build_slides.BuildError, match="npm ci --prefix tools/slides"):
        build_slides.ensure_node_modules(allow_npm=False)


def test_package_json_pins_exact_versions_and_lock_agrees():
    package = json.loads((build_slides.SLIDES_TOOLS / "package.json").read_text())
    lock = json.loads((build_slides.SLIDES_TOOLS / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} should be pinned exactly, not {version!r}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    used = {package_name for package_name, _, _ in build_slides.ASSET_FILES}
    assert used <= set(package["dependencies"]), "every asset comes from a pinned package"


def test_build_refuses_a_deck_that_would_load_from_the_network():
    page = (
        '<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//cdn/x.css">'
        '<script src="assets/require.js"></script><img src="data:image/png;base64,AA">'
        '<a href="https://example.org/source">a source link loads nothing</a>'
    )
    assert build_slides.external_references(page) == ["https://cdn.example/x.js", "//cdn/x.css"]
