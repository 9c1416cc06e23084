"""The build metadata stays in the form current setuptools accepts without warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_an_spdx_string_for_a_setuptools_that_reads_it() -> None:
    """`project.license` as a table is deprecated (builds with it stop working after
    2027-02-18); an SPDX string needs setuptools 77 or newer."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    (setuptools,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.search(r">=(\d+)", setuptools)
    assert minimum is not None
    assert int(minimum.group(1)) >= 77
    classifiers = pyproject["project"].get("classifiers", [])
    assert not [c for c in classifiers if c.startswith("License ::")]  # refused next to SPDX
