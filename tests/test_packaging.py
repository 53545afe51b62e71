"""The two ways to install the kit (pip from pyproject.toml, conda from environment.yml) agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(lines: list[str]) -> dict[str, str]:
    """Map normalised package name -> version specifier (spaces removed)."""
    out = {}
    for line in lines:
        match = _REQUIREMENT.match(line)
        if not match:
            raise ValueError(f"cannot parse requirement {line!r}")
        name, spec = match.groups()
        out[_normalise(name)] = spec.replace(" ", "")
    return out


def pyproject_dependencies(path: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    with path.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return parse_requirements(project["dependencies"])


def conda_dependencies(path: Path = ROOT / "environment.yml") -> dict[str, str]:
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    deps = parse_requirements(plain)
    deps.pop("python", None)
    deps.pop("pip", None)
    return deps


def test_conda_and_pip_list_the_same_dependencies():
    pip_deps = pyproject_dependencies()
    conda_deps = conda_dependencies()
    only_pip = sorted(set(pip_deps) - set(conda_deps))
    only_conda = sorted(set(conda_deps) - set(pip_deps))
    assert not only_pip, f"in pyproject.toml but not environment.yml: {only_pip}"
    assert not only_conda, f"in environment.yml but not pyproject.toml: {only_conda}"
    differing = {n: (pip_deps[n], conda_deps[n]) for n in pip_deps if pip_deps[n] != conda_deps[n]}
    assert not differing, f"version specifiers differ (pyproject, environment): {differing}"


def test_conda_python_floor_matches_requires_python():
    with (ROOT / "pyproject.toml").open("rb") as handle:
        requires = tomllib.load(handle)["project"]["requires-python"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{requires}"]


def test_conda_installs_the_kit_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]]


def test_the_comparison_notices_a_difference(tmp_path):
    broken = tmp_path / "environment.yml"
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("  - scipy>=1.10\n", ""), encoding="utf-8")
    assert "scipy" in pyproject_dependencies()
    assert "scipy" not in conda_dependencies(broken)
