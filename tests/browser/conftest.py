"""Fixtures for the browser tests: a JupyterLab on 127.0.0.1, Chromium under Playwright, helpers.

The session starts one JupyterLab server (free port, random token, isolated settings, workspaces,
runtime, config and data folders under a temporary folder) whose root is a *copy* of `lessons/`,
so that running the lessons in the browser never touches the committed notebooks. JupyterLab's
notebook ``windowingMode`` is ``none`` so that every cell stays in the page.

Chromium is Debian's (`/usr/bin/chromium`, or the path in ``OUTAGE_KIT_CHROMIUM``); Playwright's
own browser download is not used. Without it the browser tests are skipped, loudly, unless the
``CI`` environment variable is set: then they fail.

Slider-to-chart times are collected in a session-wide list, printed as a table at the end of the
session and written to ``build/test-artifacts/responsiveness.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LESSONS_DIR = REPO_ROOT / "lessons"
LESSONS = sorted(LESSONS_DIR.glob("*.ipynb"))
ARTIFACTS_DIR = REPO_ROOT / "build" / "test-artifacts"

CHROMIUM_ENV = "OUTAGE_KIT_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}

VEGALITE_MIME = "application/vnd.vegalite.v5+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
#: Target for a slider move to show in its chart (recorded and printed, not asserted).
RESPONSIVENESS_TARGET_MS = 500.0

_MEASUREMENTS = pytest.StashKey[list]()
_SKIP_REASON = pytest.StashKey[str]()
_BROWSER = pytest.StashKey[str]()


# --------------------------------------------------------------------------------------------
# pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Chromium against a JupyterLab server (tests/browser)"
    )
    config.stash[_MEASUREMENTS] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    rows = session.config.stash.get(_MEASUREMENTS, [])
    if not rows:
        return
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    report = {
        "target_ms": RESPONSIVENESS_TARGET_MS,
        "note": "time from the slider move to the first changed chart markup or pixels; "
        "recorded, not asserted",
        "browser": session.config.stash.get(_BROWSER, None),
        "measurements": rows,
    }
    (ARTIFACTS_DIR / "responsiveness.json").write_text(json.dumps(report, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    reason = config.stash.get(_SKIP_REASON, None)
    if reason:
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", red=True, bold=True)
        terminalreporter.write_line(reason, red=True, bold=True)
    rows = config.stash.get(_MEASUREMENTS, [])
    if not rows:
        return
    terminalreporter.write_sep(
        "=",
        "slider responsiveness (move -> chart redrawn; "
        f"target < {RESPONSIVENESS_TARGET_MS:.0f} ms, not asserted)",
    )
    header = ("lesson", "view", "control", "kind", "ms")
    table = [
        (
            row["lesson"],
            row["view"],
            row["control"],
            row["kind"],
            "no change" if row["ms"] is None else f"{row['ms']:.0f}",
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *table]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *table]:
        terminalreporter.write_line(
            "  ".join(
                str(cell).rjust(w) if i == len(header) - 1 else str(cell).ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    terminalreporter.write_line(f"written to {ARTIFACTS_DIR / 'responsiveness.json'}")


# --------------------------------------------------------------------------------------------
# The lessons as committed


@dataclass(frozen=True)
class Lesson:
    """A committed lesson notebook, read as JSON (no kernel)."""

    path: Path
    nb: dict = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> Lesson:
        return cls(path, json.loads(path.read_text(encoding="utf-8")))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def cells(self) -> list[dict]:
        return self.nb["cells"]

    def code_cells(self) -> list[int]:
        return [i for i, cell in enumerate(self.cells) if cell["cell_type"] == "code"]

    def cells_with(self, mime: str) -> list[int]:
        return cells_with(self.nb, mime)

    def slide_type(self, index: int) -> str:
        return self.cells[index].get("metadata", {}).get("slideshow", {}).get("slide_type", "-")

    def vega_range_params(self, index: int) -> list[str]:
        """Names of the Vega-Lite params bound to a range input in this cell's chart output."""
        names: list[str] = []
        for output in self.cells[index].get("outputs", []):
            spec = output.get("data", {}).get(VEGALITE_MIME)
            if spec is not None:
                names.extend(_range_params(spec))
        return names


def cells_with(nb: dict, mime: str) -> list[int]:
    """Indices of the cells with at least one output carrying ``mime``."""
    return [
        i
        for i, cell in enumerate(nb["cells"])
        if any(mime in output.get("data", {}) for output in cell.get("outputs", []))
    ]


def _range_params(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for param in node.get("params", []) or []:
            bind = param.get("bind") if isinstance(param, dict) else None
            if isinstance(bind, dict) and bind.get("input") == "range":
                found.append(param["name"])
        for key, value in node.items():
            if key != "params":
                found.extend(_range_params(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_range_params(value))
    return list(dict.fromkeys(found))


def jupyter_charts_in_widget_state(nb: dict) -> int:
    """How many ``alt.JupyterChart`` models the notebook's saved widget state holds."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state", {})
    return sum(
        1
        for model in state.values()
        if model.get("model_module") == "anywidget"
        and str(model.get("state", {}).get("_anywidget_id", "")).endswith("JupyterChart")
    )


# --------------------------------------------------------------------------------------------
# Chromium


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)


@pytest.fixture(scope="session")
def chromium_executable(request: pytest.FixtureRequest) -> str:
    """Debian's Chromium, and Playwright: skip loudly when absent, fail when ``CI`` is set."""
    path = chromium_path()
    problem = None
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        problem = (
            f"Chromium not found at {path} (set {CHROMIUM_ENV} to another executable, or "
            "install Debian's chromium package: apt-get install chromium)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as error:
            problem = f"the playwright package is not importable ({error}); pip install playwright"
    if problem is None:
        return path
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"browser tests cannot run in CI: {problem}", pytrace=False)
    message = f"BROWSER TESTS SKIPPED: {problem}"
    request.config.stash[_SKIP_REASON] = message
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser(chromium_executable: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        request.config.stash[_BROWSER] = f"Chromium {chromium.version} ({chromium_executable})"
        try:
            yield chromium
        finally:
            chromium.close()


# --------------------------------------------------------------------------------------------
# JupyterLab


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """A JupyterLab server on 127.0.0.1 with its own settings, serving a copy of the lessons."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root_dir = base / "lessons"
        self.settings_dir = base / "lab-settings"
        self.workspaces_dir = base / "lab-workspaces"
        self.runtime_dir = base / "runtime"
        self.log_path = base / "jupyterlab.log"
        self.token = secrets.token_hex(24)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    # -- set-up

    def prepare(self) -> None:
        shutil.copytree(
            LESSONS_DIR, self.root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
        user_settings = {
            # Keep every cell in the page, so that off-screen charts and widgets render.
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
            # Save widget state on save, so that the test can count the JupyterChart models.
            "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
        }
        for relative, value in user_settings.items():
            target = self.settings_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(value))
        for folder in (self.workspaces_dir, self.runtime_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            JUPYTERLAB_SETTINGS_DIR=str(self.settings_dir),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workspaces_dir),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_CONFIG_DIR=str(self.base / "jupyter-config"),
            JUPYTER_DATA_DIR=str(self.base / "jupyter-data"),
            IPYTHONDIR=str(self.base / "ipython"),
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        return env

    def start(self, timeout_s: float = 90.0) -> None:
        last_error = ""
        for _attempt in range(3):
            self.port = _free_port()
            command = [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root_dir}",
                # Lets the tests read kernel status and run commands through window.jupyterapp.
                "--LabApp.expose_app_in_browser=True",
            ]
            if os.getuid() == 0:
                command.append("--allow-root")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    command,
                    cwd=self.base,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + timeout_s
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    self.api("GET", "/api/status", timeout_s=2)
                    return
                except (OSError, urllib.error.URLError):
                    time.sleep(0.2)
            exited = self.proc.poll() is not None
            last_error = (
                f"JupyterLab exited with code {self.proc.returncode}"
                if exited
                else f"JupyterLab did not answer within {timeout_s:.0f} s"
            )
            self.stop()
            if not exited:
                break
            # It exited: most likely the port was taken in the meantime; try another one.
        raise RuntimeError(f"{last_error}; log:\n{self.log_tail()}")

    # -- use

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, notebook: str, workspace: str) -> str:
        query = urllib.parse.urlencode({"reset": "", "token": self.token})
        path = f"/lab/workspaces/{workspace}/tree/{urllib.parse.quote(notebook)}"
        return f"{self.base_url}{path}?{query}"

    def rise_url(self, notebook: str, cell_index: int = 0) -> str:
        query = urllib.parse.urlencode({"activeCellIndex": cell_index, "token": self.token})
        return f"{self.base_url}/rise/{urllib.parse.quote(notebook)}?{query}"

    def is_local(self, url: str) -> bool:
        return url.startswith(
            (f"http://127.0.0.1:{self.port}/", f"ws://127.0.0.1:{self.port}/")
        ) or url.startswith(("data:", "blob:", "about:"))

    def api(self, method: str, path: str, timeout_s: float = 10.0) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method in ("POST", "PUT", "PATCH") else None,
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut every session and kernel down, so that tests do not share or pile up kernels."""
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout_s=30)
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout_s=30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- tear-down

    def _leftover_pids(self) -> list[int]:
        """Processes whose command line names this server's folder: the server, its kernels."""
        marker = str(self.base).encode()
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, ValueError):
                if marker in (entry / "cmdline").read_bytes() and int(entry.name) != os.getpid():
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            self.shutdown_kernels()
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                self.api("POST", "/api/shutdown", timeout_s=5)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        # Anything the server left running (a kernel that did not shut down) goes too.
        for pid in self._leftover_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def jupyter_lab(
    chromium_executable: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterLabServer]:
    """One JupyterLab for the session (started only when Chromium is there to use it)."""
    server = JupyterLabServer(tmp_path_factory.mktemp("jupyterlab"))
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# Pages


@dataclass
class BrowserPage:
    """A page in its own browser context, with everything it asked the network for."""

    page: Any
    context: Any
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def outside_requests(self, server: JupyterLabServer) -> list[str]:
        return sorted({url for url in self.requests if not server.is_local(url)})


@pytest.fixture
def new_page(browser: Any, jupyter_lab: JupyterLabServer) -> Iterator[Callable[[], BrowserPage]]:
    """Factory of fresh pages; closes them and shuts the kernels they started down afterwards."""
    opened: list[BrowserPage] = []

    def make() -> BrowserPage:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(30_000)
        record = BrowserPage(page=page, context=context)
        context.on("request", lambda req: record.requests.append(req.url))
        page.on("websocket", lambda ws: record.requests.append(ws.url))
        page.on("pageerror", lambda error: record.page_errors.append(str(error)))
        page.on(
            "console",
            lambda msg: record.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        opened.append(record)
        return record

    try:
        yield make
    finally:
        for record in opened:
            with contextlib.suppress(Exception):
                record.context.close()
        jupyter_lab.shutdown_kernels()


@pytest.fixture(scope="session")
def responsiveness(request: pytest.FixtureRequest) -> list[dict]:
    """Session-wide list of slider-to-chart measurements (printed and saved at the end)."""
    return request.config.stash[_MEASUREMENTS]


def artifact_path(name: str) -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR / name


# --------------------------------------------------------------------------------------------
# Charts in the page

#: A JavaScript function: the size of one rendered Vega view (``.marks``, an SVG or a canvas),
#: whether it was drawn (an SVG with marks in it, a canvas whose pixels are not all one colour),
#: and whether it sits in a widget (an ``alt.JupyterChart``) or in a Vega-Lite mime output.
CHART_INFO_FN = """
function (marks) {
  const box = marks.getBoundingClientRect();
  let drawn = false;
  if (marks.tagName === 'CANVAS') {
    if (marks.width > 0 && marks.height > 0) {
      const data = marks.getContext('2d').getImageData(0, 0, marks.width, marks.height).data;
      for (let i = 4; i < data.length; i += 4 * 7) {
        if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]
            || data[i + 3] !== data[3]) { drawn = true; break; }
      }
    }
  } else {
    drawn = marks.querySelectorAll('path, line, rect, circle, text, image').length > 0;
  }
  return {
    tag: marks.tagName.toLowerCase(),
    width: box.width,
    height: box.height,
    drawn: drawn && box.width > 0 && box.height > 0,
    inWidget: marks.closest('.jupyter-widgets') !== null,
    inMimeOutput: marks.closest('.jp-RenderedVegaLite') !== null,
  };
}
"""

#: Every Vega view under an element.
CHART_STATS_JS = (
    "(root) => { const info = " + CHART_INFO_FN + ";\n"
    "return [...root.querySelectorAll('.vega-embed .chart-wrapper > .marks')].map(info); }"
)

#: Installs a change detector on an element: it waits until the element's charts have been
#: still for a moment, then records the first time their SVG markup or canvas pixels differ,
#: counted from the first key press (or from the moment a trigger sets ``start``).
ARM_PROBE_JS = """
async (root, opts) => {
  const signature = () => [...root.querySelectorAll('.vega-embed .chart-wrapper > .marks')]
    .map((m) => (m.tagName === 'CANVAS' ? m.toDataURL() : m.outerHTML)).join('\\n');
  const t0 = performance.now();
  let last = signature();
  let stableSince = performance.now();
  while (performance.now() - stableSince < opts.settleMs && performance.now() - t0 < 5000) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const now = signature();
    if (now !== last) { last = now; stableSince = performance.now(); }
  }
  if (root.__okProbe) root.__okProbe.stop();
  const probe = {base: last, start: null, end: null};
  const check = () => {
    if (probe.start !== null && probe.end === null && signature() !== probe.base) {
      probe.end = performance.now();
      probe.stop();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
  let frame = 0;
  const loop = () => { check(); if (probe.end === null) frame = requestAnimationFrame(loop); };
  frame = requestAnimationFrame(loop);
  const onKey = () => { if (probe.start === null) probe.start = performance.now(); };
  if (opts.startOnKeydown) document.addEventListener('keydown', onKey, true);
  probe.stop = () => {
    observer.disconnect();
    cancelAnimationFrame(frame);
    document.removeEventListener('keydown', onKey, true);
  };
  root.__okProbe = probe;
  return last.length;
}
"""

PROBE_DONE_JS = "(root) => root.__okProbe && root.__okProbe.end !== null"
PROBE_RESULT_JS = """
(root) => { const p = root.__okProbe; p.stop(); return p.end === null ? null : p.end - p.start; }
"""

#: Moves a Vega-bound range input by about a tenth of its range (up, or down when near the top),
#: the way the browser does when it is dragged: set the value, fire ``input``.
MOVE_VEGA_RANGE_JS = """
(root, name) => {
  const input = root.querySelector(`.vega-bindings input[type="range"][name="${name}"]`);
  const min = parseFloat(input.min), max = parseFloat(input.max);
  const step = parseFloat(input.step) || (max - min) / 100;
  const before = parseFloat(input.value);
  const steps = Math.max(1, Math.round((max - min) / step / 10));
  let after = before + steps * step;
  if (after > max) after = before - steps * step;
  const decimals = (String(input.step).split('.')[1] || '').length;
  const value = after.toFixed(decimals);
  if (root.__okProbe) root.__okProbe.start = performance.now();
  input.value = value;
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new Event('change', {bubbles: true}));
  return {before: String(before), after: input.value};
}
"""


def chart_stats(locator: Any) -> list[dict]:
    return locator.evaluate(CHART_STATS_JS)


def measure_chart_change(
    page: Any,
    root: Any,
    trigger: Callable[[], Any],
    *,
    start_on_keydown: bool,
    timeout_ms: float = 10_000,
) -> tuple[float | None, Any]:
    """Run ``trigger`` and return (ms until the charts under ``root`` change, trigger's result).

    ``None`` for the time means the charts did not change within ``timeout_ms``.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    handle = root.element_handle()
    handle.evaluate(ARM_PROBE_JS, {"settleMs": 150, "startOnKeydown": start_on_keydown})
    result = trigger()
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(PROBE_DONE_JS, arg=handle, timeout=timeout_ms)
    elapsed_ms = handle.evaluate(PROBE_RESULT_JS)
    return (None if elapsed_ms is None else round(elapsed_ms, 1)), result


def move_vega_range(root: Any, name: str) -> dict:
    return root.evaluate(MOVE_VEGA_RANGE_JS, name)
