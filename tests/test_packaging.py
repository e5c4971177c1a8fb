"""What `pip install` ships: every source directory is a package setuptools finds."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
TOP = ("agent", "envs", "perceiver_io")  # pyproject.toml [tool.setuptools.packages.find] include


def test_every_source_directory_is_an_installed_package():
    found = set(find_packages(ROOT, include=[f"{name}*" for name in TOP]))
    sources = {path.parent.relative_to(ROOT).as_posix().replace("/", ".")
               for name in TOP for path in (ROOT / name).rglob("*.py")}
    assert sources - found == set()
