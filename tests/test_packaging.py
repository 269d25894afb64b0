"""Release metadata: one version source, ``spikealign --version``, the files a release ships."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

import spikealign

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_defined_once_and_printed_by_the_cli():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "spikealign.__version__"
    }
    assert re.fullmatch(r"\d+\.\d+\.\d+", spikealign.__version__)
    for args in (["--version"], ["version"]):
        out = subprocess.run(
            [sys.executable, "-m", "spikealign", *args], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == spikealign.__version__


def test_release_files_agree_with_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(cff["version"]) == spikealign.__version__
    assert cff["license"] == "MIT"
    assert "2503.02642" in cff["preferred-citation"]["url"]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{spikealign.__version__}]" in changelog
    assert (ROOT / "src" / "spikealign" / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["spikealign"]
