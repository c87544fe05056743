"""The wheel as a user gets it: built, installed into a fresh venv, and run.

Nothing here imports the package under test: every check runs the installed
copy in a new virtual environment (no system site-packages), from a folder
outside the repository, so a file that is missing from the wheel fails here
even though the editable install of the developer's venv would find it.

Nothing here needs the network either (the tests reach 127.0.0.1 only): the
build uses the developer's venv's hatchling (`--no-isolation`), and the new venv
gets the wheel alone (`--no-deps --no-index`) and sees the developer's venv's
packages, at the pinned versions, through a `.pth` line; `pip check` then proves
they satisfy what the wheel declares.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest
from conftest import LOOPBACK_GUARD, REPO, guarded_pythonpath
from ruamel.yaml import YAML

pytestmark = pytest.mark.slow

BUILD_TIMEOUT = 300
VENV_TIMEOUT = 120
INSTALL_TIMEOUT = 120  # one wheel from a file
RUN_TIMEOUT = 120

HOMEPAGE = "https://github.com/newsletter-desk/newsletter"  # also in the User-Agent
LICENSE = REPO / "LICENSE"
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


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """The caller's environment without anything pointing at the developer's venv,
    and with the tests' network guard (PYTHONPATH is its folder alone)."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
                          "PIP_REQUIRE_VIRTUALENV", "PYTHONSAFEPATH"}}
    env["PYTHONPATH"] = guarded_pythonpath()
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
    builds them (`python -m build`): a file the sdist lacks is missing from the
    wheel too. Built with the venv's hatchling (the `test` extra has it), not one
    fetched into an isolated environment: the tests reach 127.0.0.1 only."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, REPO], cwd=out,
         timeout=BUILD_TIMEOUT, env=clean_env())
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
    """A fresh venv (no system site-packages) with the wheel, and the developer's venv's
    packages (the pinned versions) behind it for the wheel's dependencies."""
    root = tmp_path_factory.mktemp("installed")
    assert REPO not in root.resolve().parents, "the venv must live outside the repository"
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=root, timeout=VENV_TIMEOUT, env=clean_env())
    python = venv / "bin" / "python"
    env = clean_env(venv)
    # the wheel alone, from the file: nothing is looked up on a package index
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=root,
         timeout=INSTALL_TIMEOUT, env=env)
    unmet = _pip_check(python, root, env)
    assert unmet.returncode != 0 and "newsletter-desk" in unmet.stdout, \
        f"pip check should miss the wheel's dependencies before they are added:\n{unmet.stdout}"
    _see_the_dev_packages(python, root, env)
    met = _pip_check(python, root, env)
    assert met.returncode == 0, \
        f"the pinned packages do not satisfy what the wheel declares:\n{met.stdout}{met.stderr}"
    work = root / "work"
    work.mkdir()
    return Installed(venv=venv, python=python, newsletter=venv / "bin" / "newsletter",
                     work=work)


def _pip_check(python: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "check"], cwd=cwd, env=env,
                          timeout=RUN_TIMEOUT, capture_output=True, text=True, check=False)


def _see_the_dev_packages(python: Path, cwd: Path, env: dict[str, str]) -> None:
    """Put the developer's venv's site-packages on the new venv's path, after its own.

    A path line in a `.pth` file is added to sys.path, but the `.pth` files in the
    folder it adds are not read: the developer's editable newsletter (a `.pth` line
    naming the repository) stays out, and the wheel's copy is the one imported.
    """
    own = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               cwd=cwd, timeout=RUN_TIMEOUT, env=env).stdout.strip()
    dev = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    (Path(own) / "_developer_venv.pth").write_text("".join(f"{path}\n" for path in dev),
                                                   encoding="utf-8")


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

    assert {"pytest", "hypothesis", "html5lib", "aiosmtpd", "build", "hatchling",
            "playwright"} <= extra("test")
    assert extra("lint") == {"ruff", "mypy"}
    assert extra("browser") == {"playwright"}
    assert "playwright" in extra("bench")
    assert extra("dev") == extra("test") | extra("lint") | extra("browser") | extra("bench")


def test_installed_copy_is_the_one_that_runs(installed: Installed) -> None:
    """The venv imports its own newsletter, not the repository's editable one; its
    dependencies come from the developer's venv; and it is under the network guard."""
    done = _run([installed.python, "-c", INSTALLED_PROBE], cwd=installed.work,
                timeout=RUN_TIMEOUT, env=clean_env(installed.venv))
    newsletter, click, guard = (Path(line).resolve() for line in done.stdout.split())
    assert installed.venv.resolve() in newsletter.parents, newsletter
    assert REPO not in newsletter.parents, newsletter
    assert Path(sysconfig.get_path("purelib")).resolve() in click.parents, click
    assert guard == LOOPBACK_GUARD / "sitecustomize.py"


INSTALLED_PROBE = """\
import sys, click, newsletter
print(newsletter.__file__, click.__file__, sys.modules["sitecustomize"].__file__)
"""


def test_python_dash_m_newsletter_help(installed: Installed) -> None:
    done = _run([installed.python, "-m", "newsletter", "--help"], cwd=installed.work,
                timeout=RUN_TIMEOUT, env=clean_env(installed.venv))
    assert "Usage:" in done.stdout
    for command in ("build", "init"):
        assert re.search(rf"^\s+{command}\b", done.stdout, re.MULTILINE), done.stdout


def test_init_then_build_works_out_of_the_box(installed: Installed) -> None:
    env = clean_env(installed.venv)
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
