"""The exact versions the output depends on: constraints.txt, and the record beside the
golden files.

Byte-identical output (and so the golden files) depends on the exact versions of
mjml-python, nh3, markdown-it-py and the rest. `constraints.txt` pins them (made by
tools/constraints.py); `tests/data/golden/dependencies.txt` says which versions the
golden files were made with. These tests keep the two, pyproject.toml and the
installed packages in step, and check that a failing golden test names the
dependency that changed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import GOLDEN_DEPENDENCIES, REPO, constraints_tool
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

TOOL = constraints_tool()
CONSTRAINTS = TOOL.read_pins(TOOL.CONSTRAINTS.read_text(encoding="utf-8"))
PINNED = {**CONSTRAINTS["runtime"], **CONSTRAINTS["development"]}
REMAKE = "run `.venv/bin/python tools/constraints.py` and commit constraints.txt"
RUN_TIMEOUT = 120  # a hang guard: an inner pytest run takes a few seconds


def differences(wanted: dict[str, Any], pinned: dict[str, Any]) -> list[str]:
    """`name==version` of each pin in `wanted` that `pinned` has at another version or not."""
    return [f"{pin}: constraints.txt has {pinned.get(name, 'nothing')}"
            for name, pin in sorted(wanted.items())
            if name not in pinned or pinned[name].version != pin.version]


# --- constraints.txt --------------------------------------------------------------------


def test_constraints_pin_every_requirement_pyproject_names() -> None:
    """A dependency added to pyproject.toml fails here until the pins are remade."""
    problems = []
    for requirement in TOOL.all_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        pin = PINNED.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is not pinned")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement} is pinned at {pin.version}")
    for requirement in TOOL.runtime_requirements():
        if canonicalize_name(requirement.name) in CONSTRAINTS["development"]:
            problems.append(f"{requirement.name} is a runtime dependency, pinned as development")
    assert problems == [], f"{problems}: {REMAKE}"


def test_the_installed_packages_are_the_pinned_ones() -> None:
    """What the tests run on is what constraints.txt says (CI installs with it)."""
    installed = TOOL.installed(TOOL.all_requirements())
    assert differences(installed, PINNED) == [], (
        "install the pinned versions (`.venv/bin/pip install -c constraints.txt -e '.[dev]'`) "
        f"or, to move to the installed ones, {REMAKE}")


def test_the_golden_files_were_made_with_the_pinned_versions() -> None:
    recorded = TOOL.read_pins(GOLDEN_DEPENDENCIES.read_text(encoding="utf-8"))["runtime"]
    assert recorded, f"{GOLDEN_DEPENDENCIES} names no package"
    assert differences(recorded, CONSTRAINTS["runtime"]) == [], (
        f"{GOLDEN_DEPENDENCIES.name} and constraints.txt disagree: install the pinned "
        "versions and run pytest --update-golden (then review the diff), or remake the pins")


def test_the_desk_constraints_are_the_runtime_part() -> None:
    """What `newsletter init` gives a desk's publish workflow."""
    desk = TOOL.read_pins(TOOL.DESK_CONSTRAINTS.read_text(encoding="utf-8"))
    assert desk["runtime"] == CONSTRAINTS["runtime"], REMAKE
    assert desk["development"] == {}


def test_every_line_of_the_constraints_is_an_exact_pin() -> None:
    for path in (TOOL.CONSTRAINTS, TOOL.DESK_CONSTRAINTS):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                requirement = Requirement(line)
                assert str(requirement.specifier).startswith("==") and \
                    len(requirement.specifier) == 1, f"{path.name}: {line}"
                assert not requirement.marker and not requirement.extras, f"{path.name}: {line}"
    assert f"Python {TOOL.PYTHON}" in TOOL.CONSTRAINTS.read_text(encoding="utf-8")


def pip_installs(text: str) -> list[list[str]]:
    """The arguments of every `pip install` in a shell script or a README."""
    commands = [shlex.split(part) for line in text.replace("\\\n", " ").splitlines()
                if not line.lstrip().startswith("#") for part in line.split("&&")]
    return [argv[argv.index("install") + 1:] for argv in commands
            if "install" in argv and any(Path(arg).name == "pip" for arg in argv)]


def test_ci_and_the_readme_install_with_the_constraints() -> None:
    ci = pip_installs((REPO / ".ci" / "run").read_text(encoding="utf-8"))
    project = [args for args in ci if "-e" in args]
    assert project and all("-c" in args and args[args.index("-c") + 1] == "constraints.txt"
                           for args in project), ci
    assert any(".[dev]" in args for args in project), ci
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    setup = pip_installs("".join(re.findall(r"```sh\n(.*?)```", section, re.S)))
    assert setup and all(args[:2] == ["-c", "constraints.txt"] for args in setup), setup


def test_the_tool_writes_then_checks_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if f"{sys.version_info.major}.{sys.version_info.minor}" != TOOL.PYTHON:
        pytest.skip(f"the pins are made on Python {TOOL.PYTHON}")
    tool = constraints_tool()
    monkeypatch.setattr(tool, "REPO", tmp_path)
    monkeypatch.setattr(tool, "CONSTRAINTS", tmp_path / "constraints.txt")
    monkeypatch.setattr(tool, "DESK_CONSTRAINTS", tmp_path / "desk" / "constraints.txt")
    (tmp_path / "desk").mkdir()
    assert tool.main([]) == 0
    assert tool.main(["--check"]) == 0
    written = tool.read_pins((tmp_path / "constraints.txt").read_text(encoding="utf-8"))
    assert written["runtime"].keys() >= {"mjml-python", "nh3", "markdown-it-py", "jinja2"}
    assert written["development"].keys() >= {"pytest", "ruff", "mypy", "playwright"}

    moved = (tmp_path / "constraints.txt").read_text(encoding="utf-8").replace(
        str(written["runtime"]["nh3"]), "nh3==0.0.1")
    (tmp_path / "constraints.txt").write_text(moved, encoding="utf-8")
    capsys.readouterr()
    assert tool.main(["--check"]) == 1
    said = capsys.readouterr().err
    assert "-nh3==0.0.1" in said and f"+{written['runtime']['nh3']}" in said
    assert "tools/constraints.py" in said


# --- a golden test that fails says which dependency moved ------------------------------------


def run_golden_test(tmp_path: Path, recorded: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a golden test (one that asks for `update_golden`) in a pytest of its own,
    with our conftest's hooks and its record of versions at tmp_path/dependencies.txt."""
    record = tmp_path / "dependencies.txt"
    record.write_text(recorded, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import importlib.util, sys
        from pathlib import Path

        spec = importlib.util.spec_from_file_location(
            "newsletter_conftest", {str(REPO / "tests" / "conftest.py")!r})
        ours = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = ours
        spec.loader.exec_module(ours)
        ours.GOLDEN_DEPENDENCIES = Path({str(record)!r})
        pytest_addoption = ours.pytest_addoption
        pytest_runtest_makereport = ours.pytest_runtest_makereport
        update_golden = ours.update_golden
        _golden_dependencies_recorded = ours._golden_dependencies_recorded
    """), encoding="utf-8")
    (tmp_path / "test_golden.py").write_text(textwrap.dedent("""
        def test_output_is_the_golden_one(update_golden):
            assert update_golden, "the output differs from the golden file"
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def installed_record() -> str:
    pins = TOOL.installed(TOOL.runtime_requirements())
    return "\n".join(["# made by the test", *TOOL.pin_lines(pins), ""])


def test_a_failing_golden_test_names_every_dependency_that_changed(tmp_path: Path) -> None:
    pins = TOOL.installed(TOOL.runtime_requirements())
    nh3, mjml = pins["nh3"], pins["mjml-python"]
    recorded = installed_record().replace(f"{nh3}\n", "nh3==0.0.1\n").replace(
        f"{mjml}\n", "").replace("# made by the test\n", "# made by the test\nretired==1.0\n")
    done = run_golden_test(tmp_path, recorded)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the output differs from the golden file" in done.stdout
    assert "golden files and dependencies" in done.stdout
    assert f"nh3: 0.0.1 then, {nh3.version} now" in done.stdout
    assert f"mjml-python: not recorded then, {mjml.version} now" in done.stdout
    assert "retired: 1.0 then, not needed now" in done.stdout
    assert "pytest --update-golden" in done.stdout
    listed = [line for line in done.stdout.splitlines() if " then, " in line]
    assert len(listed) == 3, listed  # the unchanged ones are not listed


def test_a_failing_golden_test_says_when_no_dependency_changed(tmp_path: Path) -> None:
    done = run_golden_test(tmp_path, installed_record())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the output moved because of our code, templates or data" in done.stdout
    assert " then, " not in done.stdout


def test_update_golden_records_the_installed_versions(tmp_path: Path) -> None:
    done = run_golden_test(tmp_path, "nh3==0.0.1\n", "--update-golden")
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = TOOL.read_pins((tmp_path / "dependencies.txt").read_text(encoding="utf-8"))
    assert recorded["runtime"] == TOOL.installed(TOOL.runtime_requirements())
