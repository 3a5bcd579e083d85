"""The dependency promise: requirements*.txt give bounded ranges, constraints.txt pins versions inside them,
and the environment the tests run in is exactly the pinned one (make installs with -c constraints.txt)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def requirements(name: str) -> list[Requirement]:
    found = []
    for line in (REPO / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def pins() -> dict[str, str]:
    pinned = {}
    for requirement in requirements("constraints.txt"):
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"constraints.txt must pin exact versions: {requirement}"
        pinned[canonicalize_name(requirement.name)] = spec.version
    return pinned


def test_every_requirement_is_a_bounded_range_or_a_pin():
    for requirement in requirements("requirements.txt") + requirements("requirements-dev.txt"):
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" in operators or ({">=", "<"} <= operators), \
            f"{requirement}: give a lower and an upper bound (>=x,<y) or an exact pin"


def test_constraints_pin_every_requirement_inside_its_range():
    pinned = pins()
    for requirement in requirements("requirements.txt") + requirements("requirements-dev.txt"):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is missing from constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (str(requirement), pinned[name])


def test_the_test_environment_is_the_pinned_one():
    for name, pinned in pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            raise AssertionError(f"{name}=={pinned} is pinned in constraints.txt but not installed: run make test")
        assert installed.split("+")[0] == pinned, f"{name}: installed {installed}, constraints.txt pins {pinned}"
