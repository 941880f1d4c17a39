"""Dependency floors exclude versions with published advisories (DESIGN §16).

The advisories live in tests/fixtures/advisories.toml (ids, fixed version, URL).
Every package named there must be a requirement in pyproject.toml whose lower
bound is at least the highest fixed version of its advisories, with a comment
naming an advisory beside it; and the version installed here must satisfy it.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ADVISORIES = tomllib.loads((ROOT / "tests/fixtures/advisories.toml").read_text())["advisory"]


def requirements() -> dict[str, Requirement]:
    """Every requirement of the project and its extras, by canonical name."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    found: dict[str, Requirement] = {}
    extras = [line for lines in project["optional-dependencies"].values() for line in lines]
    for line in [*project["dependencies"], *extras]:
        requirement = Requirement(line)
        found.setdefault(canonicalize_name(requirement.name), requirement)
    return found


def floor(requirement: Requirement) -> Version | None:
    """The lowest version a requirement allows (>=, == or ~=), or None without one."""
    bounds = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=")]
    return max(bounds) if bounds else None


def needed() -> dict[str, Version]:
    """Per package, the version that fixes all of its advisories."""
    fixed: dict[str, Version] = defaultdict(lambda: Version("0"))
    for advisory in ADVISORIES:
        name = canonicalize_name(advisory["package"])
        fixed[name] = max(fixed[name], Version(advisory["fixed"]))
    return dict(fixed)


def test_every_advisory_names_its_ids_fix_and_source():
    for advisory in ADVISORIES:
        assert advisory["ids"] and all(
            re.fullmatch(
                r"(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|PYSEC-\d{4}-\d+)", i
            )
            for i in advisory["ids"]
        ), advisory
        Version(advisory["fixed"])
        assert advisory["url"].startswith("https://"), advisory
        assert advisory["summary"], advisory


@pytest.mark.parametrize(("package", "fixed"), sorted(needed().items()))
def test_the_floor_excludes_every_version_with_an_advisory(package, fixed):
    requirement = requirements().get(package)
    assert requirement is not None, f"{package} has advisories but no floor in pyproject.toml"
    lowest = floor(requirement)
    assert lowest is not None and lowest >= fixed, (
        f"pyproject.toml allows {requirement}; its advisories are fixed in {fixed}"
    )


@pytest.mark.parametrize(("package", "fixed"), sorted(needed().items()))
def test_the_installed_version_is_past_every_advisory(package, fixed):
    try:
        installed = Version(version(package))
    except PackageNotFoundError:
        pytest.skip(f"{package} is not installed here (an extra)")
    assert installed >= fixed, f"{package} {installed} is installed; advisories fixed in {fixed}"


def test_each_raised_floor_has_its_advisory_named_beside_it():
    lines = PYPROJECT.read_text().splitlines()
    for advisory in ADVISORIES:
        name = canonicalize_name(advisory["package"])
        fixed = needed()[name]
        if fixed != Version(advisory["fixed"]):
            continue  # an older advisory of the package: the newest one is named
        named = [i for i, line in enumerate(lines) if name in _named_on(line)]
        assert named, advisory["package"]
        assert any(any(i in _comment_above(lines, at) for i in advisory["ids"]) for at in named), (
            f"name {advisory['ids'][0]} in a comment above {advisory['package']}'s floor"
        )


def _comment_above(lines: list[str], index: int) -> str:
    """The comment lines right above line `index`."""
    above = []
    while index > 0 and lines[index - 1].lstrip().startswith("#"):
        index -= 1
        above.append(lines[index])
    return " ".join(above)


def _named_on(line: str) -> set[str]:
    """The packages a line of pyproject.toml requires (none for a comment)."""
    if line.lstrip().startswith("#"):
        return set()
    names = set()
    for quoted in re.findall(r'"([^"]+)"', line):
        try:
            names.add(canonicalize_name(Requirement(quoted).name))
        except ValueError:
            continue
    return names
