"""The wheel as a user gets it: built, installed into a fresh venv, and run.

Nothing here imports the package under test: every check runs the installed
copy in a new virtual environment (no system site-packages), from a folder
outside the repository, so a file that is missing from the wheel fails here
even though the editable install of the developer's venv would find it.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest
from conftest import REPO
from ruamel.yaml import YAML

pytestmark = pytest.mark.slow

BUILD_TIMEOUT = 300
VENV_TIMEOUT = 120
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 120

HOMEPAGE = "https://github.com/newsletter-desk/newsletter"  # also in the User-Agent
LICENSE = REPO / "LICENSE"
CONSTRAINTS = REPO / "constraints.txt"
EXTRAS = {"test", "lint", "browser", "bench", "dev"}

PACKAGED_TEMPLATES = (
    "newsletter/templates/email/issue.mjml",
    "newsletter/templates/web/issue.html",
    "newsletter/templates/text/issue.txt",
)


def _run(args: list[str | Path], *, cwd: Path, timeout: float,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output if it fails or hangs."""
    try:
        done = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, timeout=timeout,
                              capture_output=True, text=True, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(map(str, args))} took over {timeout} s\n"
                    f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode} in {cwd}\n"
                    f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    """The caller's environment without anything pointing at the developer's venv."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
                          "PIP_REQUIRE_VIRTUALENV", "PYTHONSAFEPATH"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NO_COLOR"] = "1"
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    return env


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The project's sdist, and the wheel built from that sdist, the way a release
    builds them (`python -m build`, isolated): a file the sdist lacks is missing
    from the wheel too."""
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)]
    isolated = subprocess.run(command, cwd=out, env=_clean_env(), timeout=BUILD_TIMEOUT,
                              capture_output=True, text=True, check=False)
    if isolated.returncode != 0:
        # Only when the isolated build cannot fetch hatchling from the package
        # index; a broken project fails the same way below and is reported.
        print(f"isolated build failed, retrying with --no-isolation:\n{isolated.stderr}")
        _run([*command, "--no-isolation"], cwd=out, timeout=BUILD_TIMEOUT, env=_clean_env())
    wheels = sorted(out.glob("newsletter_desk-*.whl"))
    sdists = sorted(out.glob("newsletter_desk-*.tar.gz"))
    assert len(wheels) == len(sdists) == 1, f"expected one wheel and one sdist in {out}"
    return Dists(sdist=sdists[0], wheel=wheels[0])


@pytest.fixture(scope="session")
def wheel(dists: Dists) -> Path:
    return dists.wheel


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return HeaderParser().parsestr(archive.read(name).decode())


@dataclass(frozen=True)
class Installed:
    venv: Path
    python: Path
    newsletter: Path
    work: Path  # an empty folder outside the repository to run commands in


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Installed:
    """A fresh venv (no system site-packages) with only the wheel and its dependencies."""
    root = tmp_path_factory.mktemp("installed")
    assert REPO not in root.resolve().parents, "the venv must live outside the repository"
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=root, timeout=VENV_TIMEOUT, env=_clean_env())
    python = venv / "bin" / "python"
    # at the pinned versions, as the publish workflows install it
    _run([python, "-m", "pip", "install", "-c", CONSTRAINTS, wheel], cwd=root,
         timeout=INSTALL_TIMEOUT, env=_clean_env(venv))
    work = root / "work"
    work.mkdir()
    return Installed(venv=venv, python=python, newsletter=venv / "bin" / "newsletter",
                     work=work)


def test_wheel_ships_the_default_templates_and_the_scaffold(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [name for name in PACKAGED_TEMPLATES if name not in names]
    assert missing == [], f"{wheel.name} lacks {missing}"
    assert "newsletter/scaffold/newsletter.yaml" in names, sorted(names)
    assert any(name.startswith("newsletter/scaffold/issues/") for name in names), sorted(names)
    assert any(name.startswith("newsletter/scaffold/dot-github/workflows/") for name in names), \
        sorted(names)
    # the pinned versions `newsletter init` gives a desk's publish workflow
    assert "newsletter/scaffold/dot-github/constraints.txt" in names, sorted(names)
    entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "newsletter = newsletter.cli:main" in archive.read(entry_points).decode()


def test_sdist_and_wheel_ship_the_licence(dists: Dists) -> None:
    licence = LICENSE.read_bytes()
    assert licence.startswith(b"MIT License") and b"The newsletter developers" in licence
    with zipfile.ZipFile(dists.wheel) as archive:
        [in_wheel] = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(in_wheel) == licence
    with tarfile.open(dists.sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        member = archive.extractfile(f"{root}/LICENSE")
        assert member is not None and member.read() == licence
        names = set(archive.getnames())
    for shipped in ("README.md", "CHANGELOG.md", "constraints.txt", "pyproject.toml",
                    "templates/email/issue.mjml"):
        assert f"{root}/{shipped}" in names, f"the sdist lacks {shipped}"
    metadata = wheel_metadata(dists.wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_metadata_says_where_the_project_lives(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= urls.keys(), urls
    assert urls["Homepage"] == urls["Repository"] == HOMEPAGE
    assert all(url.startswith(HOMEPAGE + "/") for name, url in urls.items()
               if name not in {"Homepage", "Repository"}), urls
    changelog = urls["Changelog"].removeprefix(HOMEPAGE + "/blob/main/")
    assert (REPO / changelog).is_file(), urls["Changelog"]
    with zipfile.ZipFile(wheel) as archive:  # the User-Agent names the same home
        assert any(HOMEPAGE in archive.read(n).decode() for n in archive.namelist()
                   if n.startswith("newsletter/") and n.endswith(".py"))


def test_metadata_classifies_what_ci_runs(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    classifiers = metadata.get_all("Classifier") or []
    minimum = metadata["Requires-Python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {minimum}" in classifiers, classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
    # the licence is the SPDX expression; a licence classifier beside it is refused (PEP 639)
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert {"newsletter", "email", "mjml"} <= set(metadata["Keywords"].split(","))


def test_extras_by_purpose_and_dev_is_their_union(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    assert set(metadata.get_all("Provides-Extra") or []) == EXTRAS
    requires = metadata.get_all("Requires-Dist") or []

    def extra(name: str) -> set[str]:
        """The distributions an extra brings (hatchling writes self-references out)."""
        return {re.split(r"[<>=;\[ ]", line, maxsplit=1)[0].lower() for line in requires
                if re.search(rf"""extra == ["']{name}["']$""", line)}

    assert {"pytest", "hypothesis", "html5lib", "aiosmtpd", "build", "playwright"} <= \
        extra("test")
    assert extra("lint") == {"ruff", "mypy"}
    assert extra("browser") == {"playwright"}
    assert "playwright" in extra("bench")
    assert extra("dev") == extra("test") | extra("lint") | extra("browser") | extra("bench")


def test_installed_copy_is_the_one_that_runs(installed: Installed) -> None:
    """The venv imports its own newsletter, not the repository's editable one."""
    done = _run([installed.python, "-c", "import newsletter; print(newsletter.__file__)"],
                cwd=installed.work, timeout=RUN_TIMEOUT, env=_clean_env(installed.venv))
    location = Path(done.stdout.strip()).resolve()
    assert installed.venv.resolve() in location.parents, location
    assert REPO not in location.parents, location


def test_python_dash_m_newsletter_help(installed: Installed) -> None:
    done = _run([installed.python, "-m", "newsletter", "--help"], cwd=installed.work,
                timeout=RUN_TIMEOUT, env=_clean_env(installed.venv))
    assert "Usage:" in done.stdout
    for command in ("build", "init"):
        assert re.search(rf"^\s+{command}\b", done.stdout, re.MULTILINE), done.stdout


def test_init_then_build_works_out_of_the_box(installed: Installed) -> None:
    env = _clean_env(installed.venv)
    _run([installed.newsletter, "init", "mydesk"], cwd=installed.work, timeout=RUN_TIMEOUT,
         env=env)
    desk = installed.work / "mydesk"

    assert (desk / "newsletter.yaml").is_file()
    assert (desk / "templates").is_dir()
    assert (desk / ".github" / "workflows" / "publish.yml").is_file()
    issues = sorted((desk / "issues").glob("*.yaml"))
    assert len(issues) == 1, issues
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.yaml", issues[0].name), issues[0].name
    subject = YAML(typ="safe").load(issues[0].read_text(encoding="utf-8"))["subject"]
    assert isinstance(subject, str)
    assert subject.strip()

    _run([installed.newsletter, "build"], cwd=desk, timeout=RUN_TIMEOUT, env=env)

    built = sorted(path for path in (desk / "site" / "issues").iterdir() if path.is_dir())
    assert len(built) == 1, built
    folder = built[0]
    for name in ("index.html", "email.html", "email.txt"):
        assert (folder / name).is_file(), f"{folder / name} was not written"
        assert (folder / name).stat().st_size > 0, f"{folder / name} is empty"
    email = (folder / "email.html").read_text(encoding="utf-8")
    assert "<!doctype html>" in email.lower()
    assert subject in email or html.escape(subject) in email, \
        f"subject {subject!r} not in {folder / 'email.html'}"
    text = " ".join((folder / "email.txt").read_text(encoding="utf-8").split())
    assert " ".join(subject.split()) in text, "the plain-text email lacks the subject"
