"""Pin every runtime and development dependency at the version installed here.

    .venv/bin/python tools/constraints.py          # rewrite the constraints files
    .venv/bin/python tools/constraints.py --check  # exit 1, showing what would change

Run it with the project's venv (Python 3.11, `pip install -e '.[dev]'` done)
after adding, removing or upgrading a dependency in `pyproject.toml`, then run
the tests: when the golden files move, `pytest --update-golden` records the new
versions beside them and `tests/test_golden_deps.py` names what changed.

What it pins: the requirements `pyproject.toml` names (`dependencies` and every
extra), then theirs, and so on, each at the version installed in the running
Python, markers evaluated for it. Byte-identical output and the golden files
depend on these exact versions (mjml-python, nh3, markdown-it-py, Jinja2, ...),
so CI, the publish workflows and a desk's builds install with them:

- `constraints.txt`: two parts, `# runtime:` (what `pip install newsletter-desk`
  brings) and `# development:` (the rest of the `dev` extra). `.ci/run` and
  `.github/workflows/publish.yml` install with it (`pip install -c constraints.txt`).
- `newsletter/scaffold/dot-github/constraints.txt`: the runtime part again,
  which `newsletter init` writes into a new desk as `.github/constraints.txt`
  for its publish workflow.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
CONSTRAINTS = REPO / "constraints.txt"
DESK_CONSTRAINTS = REPO / "newsletter" / "scaffold" / "dot-github" / "constraints.txt"
PYTHON = "3.11"  # the Python CI and the publish workflows run; the pins are made on it
COMMAND = "python tools/constraints.py"
RUNTIME = "# runtime:"
DEVELOPMENT = "# development:"

Pins = dict[NormalizedName, "Pin"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pin:
    """One distribution at one version, spelt as its own metadata spells it."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


class ConstraintsError(Exception):
    """The installed packages cannot be pinned as they are; the message says why."""


# --- what pyproject.toml asks for ---------------------------------------------------------


def project() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return table


def declared(extras: Iterable[str] = ()) -> list[Requirement]:
    """The runtime requirements, then those of `extras`, with the project's references
    to its own extras (`newsletter-desk[test,lint]`) replaced by what they list."""
    table = project()
    own = canonicalize_name(str(table["name"]))
    optional = table.get("optional-dependencies", {})
    found: list[Requirement] = []
    pending = [*map(Requirement, table.get("dependencies", [])),
               *(Requirement(line) for extra in extras for line in optional[extra])]
    expanded: set[str] = set()
    while pending:
        requirement = pending.pop(0)
        if canonicalize_name(requirement.name) != own:
            found.append(requirement)
            continue
        for extra in sorted(requirement.extras - expanded):
            expanded.add(extra)
            pending += [Requirement(line) for line in optional[extra]]
    return found


def runtime_requirements() -> list[Requirement]:
    return declared()


def all_requirements() -> list[Requirement]:
    return declared(project().get("optional-dependencies", {}))


# --- what is installed ---------------------------------------------------------------------


def installed(requirements: Iterable[Requirement]) -> Pins:
    """Every distribution `requirements` need, transitively, at its installed version."""
    pins: Pins = {}
    extras_seen: dict[NormalizedName, set[str]] = {}
    pending = [(requirement, "pyproject.toml") for requirement in requirements
               if requirement.marker is None or requirement.marker.evaluate({"extra": ""})]
    while pending:
        requirement, wanted_by = pending.pop(0)
        name = canonicalize_name(requirement.name)
        pin = pins.get(name) or _installed_pin(requirement, wanted_by)
        pins[name] = pin
        new_extras = {"", *requirement.extras} - extras_seen.setdefault(name, set())
        if new_extras:
            extras_seen[name] |= new_extras
            pending += [(needed, pin.name) for needed in _needs(pin.name, new_extras)]
    return pins


def _installed_pin(requirement: Requirement, wanted_by: str) -> Pin:
    try:
        distribution = metadata.distribution(requirement.name)
    except metadata.PackageNotFoundError:
        raise ConstraintsError(
            f"{requirement.name} (wanted by {wanted_by}) is not installed: run "
            f"`.venv/bin/pip install -e '.[dev]'` first") from None
    version = distribution.version
    if not requirement.specifier.contains(version, prereleases=True):
        raise ConstraintsError(
            f"{wanted_by} wants {requirement}, but {requirement.name} {version} is installed: "
            f"run `.venv/bin/pip install -e '.[dev]'` first")
    return Pin(name=distribution.metadata["Name"], version=version)


def _needs(name: str, extras: set[str]) -> list[Requirement]:
    """What `name` requires, here, when asked for with `extras` ("" is the plain install)."""
    needs = [Requirement(line) for line in metadata.distribution(name).requires or []]
    return [requirement for requirement in needs if requirement.marker is None
            or any(requirement.marker.evaluate({"extra": extra}) for extra in extras)]


# --- the files -----------------------------------------------------------------------------


def pin_lines(pins: Mapping[NormalizedName, Pin]) -> list[str]:
    return [str(pins[name]) for name in sorted(pins)]


def read_pins(text: str) -> dict[str, Pins]:
    """The pins of a constraints file by part ("runtime", "development"); lines
    before the first part's heading count as "runtime" (the desk's copy has no parts)."""
    parts: dict[str, Pins] = {"runtime": {}, "development": {}}
    part = "runtime"
    for line in text.splitlines():
        if line.startswith((RUNTIME, DEVELOPMENT)):
            part = line[2:].partition(":")[0]
        elif line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pin = Pin(name=name.strip(), version=version.strip())
            parts[part][canonicalize_name(pin.name)] = pin
    return parts


def constraints_text(runtime: Pins, development: Pins) -> str:
    return "\n".join([
        f"# The exact versions CI tests with, for Python {PYTHON}: byte-identical output",
        "# and the golden files depend on them. Made by `" + COMMAND + "` from",
        "# pyproject.toml and the packages installed; do not edit by hand.",
        "# Install with: pip install -c constraints.txt -e '.[dev]'",
        "",
        f"{RUNTIME} what `pip install newsletter-desk` brings",
        *pin_lines(runtime),
        "",
        f"{DEVELOPMENT} the rest of the dev extra (test, lint, browser, bench)",
        *pin_lines({name: pin for name, pin in development.items() if name not in runtime}),
        "",
    ])


def desk_constraints_text(runtime: Pins) -> str:
    # `newsletter init` fills in __TOOL_VERSION__, as in the workflow beside this file
    return "\n".join([
        f"# The exact versions newsletter-desk __TOOL_VERSION__ was tested with (Python {PYTHON}).",
        "# The publish workflow installs with them, so the site built here is the one",
        "# the tool's tests vouch for. Upgrading the tool? Take this file from the new",
        "# version: `newsletter init` in an empty folder writes it to .github/constraints.txt.",
        "",
        *pin_lines(runtime),
        "",
    ])


def expected_files() -> dict[Path, str]:
    """What the constraints files should hold, given pyproject.toml and this Python."""
    runtime = installed(runtime_requirements())
    return {CONSTRAINTS: constraints_text(runtime, installed(all_requirements())),
            DESK_CONSTRAINTS: desk_constraints_text(runtime)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != PYTHON:
        sys.stderr.write(f"the pins are made on Python {PYTHON}, this is {running}: "
                         f"run it with the project's venv (.venv/bin/python)\n")
        return 2
    try:
        files = expected_files()
    except ConstraintsError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    stale = [path for path, text in files.items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    for path in stale:
        if args.check:
            old = path.read_text(encoding="utf-8") if path.is_file() else ""
            rel = path.relative_to(REPO).as_posix()
            sys.stderr.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), files[path].splitlines(keepends=True),
                f"{rel} (as it is)", f"{rel} (from what is installed)"))
        else:
            path.write_text(files[path], encoding="utf-8")
            sys.stderr.write(f"wrote {path.relative_to(REPO)}\n")
    if args.check and stale:
        sys.stderr.write(f"run `{COMMAND}` to rewrite them\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
