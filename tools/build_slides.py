"""Export every lesson to an offline reveal.js deck: build/slides/<lesson>.slides.html + assets/.

Usage: python tools/build_slides.py [--out build/slides] [--no-npm] [lessons/NN_name.ipynb ...]

The decks open from the file system (file://) with no internet. Every script and style sheet
they load sits in ``<out>/assets/``, copied from npm packages pinned in
``tools/slides/package.json`` and ``package-lock.json``:

* reveal.js 4 (with its notes plugin: press S for the speaker view), require.js and jQuery,
  which nbconvert's slides template needs;
* Vega 5, Vega-Lite 5 and vega-embed 6, which draw the lessons' charts from their Vega-Lite
  JSON, so sliders bound to Vega-Lite params keep working in the deck. If Vega cannot draw a
  chart, the deck shows the chart's static SVG (also committed in the notebook).

The only network access is ``npm ci`` from the npm registry, and only when
``tools/slides/node_modules`` is missing or older than ``package-lock.json``. ``--no-npm``
forbids it (the build then fails if the packages are not installed).

nbconvert runs with the template in ``tools/slides/templates/outage_kit_reveal`` (it extends
nbconvert's ``reveal`` template) and these options, the same as this command line::

    jupyter nbconvert --to slides --template outage_kit_reveal \\
        --TemplateExporter.extra_template_basedirs=tools/slides/templates \\
        --SlidesExporter.reveal_url_prefix=assets/reveal.js \\
        --SlidesExporter.require_js_url=assets/require.js \\
        --SlidesExporter.jquery_url=assets/jquery.min.js \\
        --SlidesExporter.reveal_theme=white --SlidesExporter.reveal_scroll=True \\
        --SlidesExporter.reveal_number=c/t --SlidesExporter.reveal_width=1100 \\
        --SlidesExporter.reveal_height=800 --no-prompt lessons/NN_name.ipynb

``widget_renderer_url`` stays empty: the lessons store no widget state (their panels need a
kernel), so the template never loads a widget renderer; widget outputs become a note that
says to run the lesson in JupyterLab. Slide metadata is respected: ``skip`` cells (among them
the solutions) are left out, ``notes`` cells become speaker notes.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = ROOT / "lessons"
SLIDES_TOOLS = ROOT / "tools" / "slides"
NODE_MODULES = SLIDES_TOOLS / "node_modules"
TEMPLATE_DIR = SLIDES_TOOLS / "templates"
TEMPLATE_NAME = "outage_kit_reveal"
DECK_FILES = SLIDES_TOOLS / "deck"
LOCK_STAMP = NODE_MODULES / ".outage_kit-lock.sha256"
ASSETS = "assets"

#: (npm package, path inside the package, path inside assets/): every file a deck loads.
ASSET_FILES = (
    ("reveal.js", "dist/reveal.js", "reveal.js/dist/reveal.js"),
    ("reveal.js", "dist/reveal.css", "reveal.js/dist/reveal.css"),
    ("reveal.js", "dist/theme/white.css", "reveal.js/dist/theme/white.css"),
    ("reveal.js", "dist/theme/fonts/source-sans-pro", "reveal.js/dist/theme/fonts/source-sans-pro"),
    ("reveal.js", "plugin/notes/notes.js", "reveal.js/plugin/notes/notes.js"),
    ("requirejs", "require.js", "require.js"),
    ("jquery", "dist/jquery.min.js", "jquery.min.js"),
    ("vega", "build/vega.min.js", "vega/vega.min.js"),
    ("vega-lite", "build/vega-lite.min.js", "vega/vega-lite.min.js"),
    ("vega-embed", "build/vega-embed.min.js", "vega/vega-embed.min.js"),
)
#: The reveal.js theme: "white" uses only fonts shipped with reveal.js (some themes use web fonts).
REVEAL_THEME = "white"

_TEX = re.compile(r"(?<![\\$])\$[^\s$][^$\n]*\$|\\\(|\\\[")


class BuildError(RuntimeError):
    """The decks cannot be built; the message says why and what to do."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_node_modules(allow_npm: bool = True) -> None:
    """Install the pinned npm packages with ``npm ci`` unless they are already installed.

    Raises
    ------
    BuildError
        If they are missing and ``allow_npm`` is false, if npm is absent, or if ``npm ci`` fails.
    """
    lock = SLIDES_TOOLS / "package-lock.json"
    wanted = _sha256(lock)
    if LOCK_STAMP.is_file() and LOCK_STAMP.read_text().strip() == wanted:
        _check_pinned_versions()
        return
    if not allow_npm:
        raise BuildError(
            f"{NODE_MODULES} is missing or older than {lock.name}; "
            f"run `npm ci --prefix {SLIDES_TOOLS.relative_to(ROOT)}` (needs the npm registry once)."
        )
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not on PATH: install Node.js 18 or newer to build the decks.")
    command = [npm, "ci", "--prefix", str(SLIDES_TOOLS), "--ignore-scripts", "--no-audit"]
    command.append("--no-fund")
    print("installing the deck's JavaScript: npm", " ".join(command[1:]), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"npm ci failed:\n{result.stdout}\n{result.stderr}")
    LOCK_STAMP.write_text(wanted + "\n")
    _check_pinned_versions()


def _check_pinned_versions() -> None:
    pinned = json.loads((SLIDES_TOOLS / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        meta = NODE_MODULES / name / "package.json"
        installed = json.loads(meta.read_text())["version"] if meta.is_file() else None
        if installed != version:
            raise BuildError(
                f"npm package {name} is {installed or 'not installed'}, package.json pins "
                f"{version}: run `npm ci --prefix tools/slides`."
            )


def copy_assets(out_dir: Path) -> Path:
    """Copy every file the decks load into ``out_dir/assets``; return that folder."""
    assets = out_dir / ASSETS
    if assets.exists():
        shutil.rmtree(assets)
    for package, source, target in ASSET_FILES:
        src = NODE_MODULES / package / source
        dst = assets / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    deck = assets / "outage_kit"
    deck.mkdir()
    for name in ("deck.js", "deck.css"):
        shutil.copy2(DECK_FILES / name, deck / name)
    _write_notices(assets)
    return assets


def _write_notices(assets: Path) -> None:
    lines = ["Third-party files in this folder, copied from these npm packages:", ""]
    packages = sorted({package for package, _, _ in ASSET_FILES})
    for package in packages:
        meta = json.loads((NODE_MODULES / package / "package.json").read_text())
        lines.append(f"{package} {meta['version']} ({meta.get('license', 'see package')})")
        for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
            text = NODE_MODULES / package / name
            if text.is_file():
                lines += ["", text.read_text(encoding="utf-8").strip(), ""]
                break
        lines.append("-" * 72)
    (assets / "THIRD_PARTY_NOTICES.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


class _LoadedAddresses(HTMLParser):
    """The addresses a page loads by itself: script, style sheet, image, frame, media."""

    ATTRIBUTES = {"src", "href", "data", "srcset", "poster"}
    TAGS = {"script", "link", "img", "iframe", "frame", "source", "video", "audio", "embed"}
    TAGS |= {"object", "track"}

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.TAGS:
            self.addresses += [v for k, v in attrs if k in self.ATTRIBUTES and v]


def external_references(page: str) -> list[str]:
    """Addresses on the network (not file, data, blob or relative) that ``page`` would load."""
    parser = _LoadedAddresses()
    parser.feed(page)
    return [
        address
        for address in parser.addresses
        if address.strip().startswith("//")
        or urlparse(address.strip()).scheme.lower() not in {"", "file", "data", "blob", "about"}
    ]


def make_exporter(assets: str = ASSETS):
    """The nbconvert SlidesExporter with the kit's template and local script addresses."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    slides = config.SlidesExporter
    slides.template_name = TEMPLATE_NAME
    slides.extra_template_basedirs = [str(TEMPLATE_DIR)]
    slides.reveal_url_prefix = f"{assets}/reveal.js"
    slides.require_js_url = f"{assets}/require.js"
    slides.jquery_url = f"{assets}/jquery.min.js"
    slides.widget_renderer_url = ""
    slides.reveal_theme = REVEAL_THEME
    slides.reveal_scroll = True
    slides.reveal_number = "c/t"
    slides.reveal_width = "1100"
    slides.reveal_height = "800"
    slides.exclude_input_prompt = True
    slides.exclude_output_prompt = True
    return SlidesExporter(config=config)


def _title(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def warn_about_unsupported(nb, name: str) -> list[str]:
    """Things an offline deck cannot show: TeX (no MathJax) and Mermaid diagrams."""
    problems = []
    for index, cell in enumerate(nb.cells):
        shown = cell.get("metadata", {}).get("slideshow", {}).get("slide_type") != "skip"
        if shown and cell.cell_type == "markdown" and _TEX.search(cell.source):
            problems.append(f"{name}: cell {index} has TeX, which the offline deck shows as text")
        for output in cell.get("outputs", []):
            if "text/vnd.mermaid" in output.get("data", {}):
                problems.append(f"{name}: cell {index} has a Mermaid diagram (not rendered)")
    return problems


def export_deck(path: Path, out_dir: Path, exporter=None) -> Path:
    """Write ``out_dir/<stem>.slides.html`` for one lesson and return its path."""
    import nbformat

    exporter = exporter or make_exporter()
    nb = nbformat.read(path, as_version=4)
    nb = copy.deepcopy(nb)
    title = _title(nb)
    if title:
        nb.metadata["title"] = title
    resources = {"metadata": {"name": path.stem, "path": str(path.parent)}}
    resources["outage_kit_assets"] = ASSETS
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    remote = external_references(body)
    if remote:
        raise BuildError(f"{path.name}: the deck would load from the network: {remote}")
    target = out_dir / f"{path.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    for problem in warn_about_unsupported(nb, path.name):
        print("warning:", problem, file=sys.stderr)
    return target


def write_index(out_dir: Path, decks: list[Path], titles: dict[Path, str]) -> Path:
    items = "\n".join(
        f'<li><a href="{html.escape(d.name)}">{html.escape(titles.get(d, d.stem))}</a></li>'
        for d in decks
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>outage_kit slides</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:40em;margin:3em auto;
line-height:1.5}}</style></head>
<body><h1>outage_kit: lesson slides</h1>
<p>Offline reveal.js decks. Keys: space or arrows to move, S for speaker notes, F full screen,
Esc overview.</p>
<ul>
{items}
</ul></body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def build(lessons: list[Path], out_dir: Path, allow_npm: bool = True) -> list[Path]:
    """Build the decks of ``lessons`` into ``out_dir`` (created if needed); return their paths."""
    import nbformat

    ensure_node_modules(allow_npm)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_assets(out_dir)
    exporter = make_exporter()
    decks, titles = [], {}
    for path in lessons:
        deck = export_deck(path, out_dir, exporter)
        decks.append(deck)
        titles[deck] = _title(nbformat.read(path, as_version=4)) or path.stem
    write_index(out_dir, decks, titles)
    return decks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="notebooks (default: lessons/*)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    parser.add_argument("--no-npm", action="store_true", help="never run npm ci")
    args = parser.parse_args(argv)
    lessons = args.lessons or sorted(LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))
    start = time.perf_counter()
    try:
        decks = build(lessons, args.out, allow_npm=not args.no_npm)
    except BuildError as error:
        print(f"build_slides: {error}", file=sys.stderr)
        return 1
    for deck in decks:
        print(f"wrote {deck}")
    print(f"{len(decks)} decks in {time.perf_counter() - start:.1f} s; open {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
