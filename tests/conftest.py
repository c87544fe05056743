"""Shared fixtures: the example desk, a local build of it, and real Chromium; the
shared corpora (skipped when absent, failed in CI); the golden files' dependencies."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import importlib.util
import json
import os
import shutil
import socket
import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from newsletter import api
from newsletter.model import Settings

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EXAMPLE_ISSUE = REPO / "issues" / "2026-11-27.yaml"
CHINESE_ISSUE = REPO / "issues" / "2026-11-20.yaml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# --- the network: 127.0.0.1 only ---------------------------------------------------
# One guard, tests/_loopback/sitecustomize.py: any name lookup but loopback is "no such
# host". Installed here in the test process, and in every Python process the tests start
# through PYTHONPATH (set for the whole session below; a test that builds its own
# environment keeps it with `guarded_pythonpath`). tests/test_network_guard.py proves it.

LOOPBACK_GUARD = Path(__file__).resolve().parent / "_loopback"


def _load_guard() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_loopback_guard",
                                                  LOOPBACK_GUARD / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


loopback_guard = _load_guard()
LOOPBACK: frozenset[str] = loopback_guard.LOOPBACK


def guarded_pythonpath(pythonpath: str = "") -> str:
    """`pythonpath` with the guard's folder first (once): a child imports its sitecustomize."""
    rest = [entry for entry in pythonpath.split(os.pathsep)
            if entry and Path(entry).resolve() != LOOPBACK_GUARD]
    return os.pathsep.join([str(LOOPBACK_GUARD), *rest])


def pytest_configure(config: pytest.Config) -> None:
    # the whole session, collection and session fixtures included; undone at its end
    # so a pytest run inside another process leaves that process as it was
    previous = os.environ.get("PYTHONPATH")
    system_getaddrinfo = socket.getaddrinfo
    os.environ["PYTHONPATH"] = guarded_pythonpath(previous or "")
    loopback_guard.install()

    def undo() -> None:
        socket.getaddrinfo = system_getaddrinfo
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous

    config.add_cleanup(undo)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name lookup in the test process is for this machine: a test that
    would reach the internet finds "no such host" at once (as offline CI would,
    slowly), whatever the code under test tries. Set again for each test, in case
    an earlier one replaced socket.getaddrinfo without putting it back."""
    monkeypatch.setattr(socket, "getaddrinfo", loopback_guard.loopback_getaddrinfo)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The example desk's settings, as written in the repository."""
    return api.load_desk(REPO)


@pytest.fixture()
def desk(tmp_path: Path) -> Path:
    """A private copy of the example desk that a test may change."""
    root = tmp_path / "desk"
    root.mkdir()
    shutil.copy(REPO / "newsletter.yaml", root)
    shutil.copytree(REPO / "issues", root / "issues")
    shutil.copytree(REPO / "examples" / "images", root / "examples" / "images")
    return root


class LocalSite:
    """A folder (or a handler of the test's own) served over HTTP on 127.0.0.1."""

    def __init__(self, root: Path | None = None,
                 handler: type[http.server.BaseHTTPRequestHandler] | None = None) -> None:
        if handler is None:
            handler = functools.partial(_QuietHandler, directory=str(root))  # type: ignore[assignment]  # a partial of the class serves as one
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def served_site(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[str]:
    """The example issues built with base_url pointing at a local server, so
    their pictures load in a browser; yields the server's URL."""
    root = tmp_path_factory.mktemp("served")
    site = LocalSite(root)
    local = dataclasses.replace(settings, base_url=site.url)
    for path in api.find_issue_files(local):
        api.build_issue(path, local, out_dir=root)
    try:
        yield site.url
    finally:
        site.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright.

    Module-scoped: Playwright's sync API keeps an event loop running in this
    thread, and later tests need to start their own (asyncio.run).
    """
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `apt-get install chromium` "
                    "(.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/data/golden/ from the current output, and the "
                          "versions of the packages it was made with")


# --- the shared corpora --------------------------------------------------------------------
# Third-party test data (feeds, XSS and XXE payloads, caniemail's data) that the repository
# does not hold. Tests that read it are marked `corpus`. Where it is absent (a plain clone)
# they are skipped, saying where the corpora come from; where it must be there (.ci/run
# sets NEWSLETTER_REQUIRE_CORPORA=1 when ../shared/corpora exists) anything missing fails.

CORPORA = REPO.parent / "shared" / "corpora"
REQUIRE_CORPORA = "NEWSLETTER_REQUIRE_CORPORA"
CORPORA_SOURCE = ("the shared test corpora in ../shared/corpora beside the repository "
                  "(third-party feeds and payloads, not part of it; their SOURCES.md says "
                  "where each came from)")
_CORPUS_FAILURE = pytest.StashKey[str]()


def corpora_required() -> bool:
    return os.environ.get(REQUIRE_CORPORA, "") not in ("", "0")


def corpus_file(relative: str) -> Path:
    """A file of the corpora, for tests marked `corpus` (importing never fails on a plain
    clone; with NEWSLETTER_REQUIRE_CORPORA set, a missing file stops the run here)."""
    path = CORPORA / relative
    if corpora_required() and not path.is_file():
        raise FileNotFoundError(f"{path}: missing, and {REQUIRE_CORPORA} is set: the corpus "
                                f"tests need {CORPORA_SOURCE}")
    return path


def corpus_json(relative: str, key: str) -> list[Any]:
    """`key` of a JSON index in the corpora; [] when they are absent (the `corpus` tests
    parametrized over it are then skipped)."""
    path = corpus_file(relative)
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8"))[key])


def corpus_files(folder: str, pattern: str = "*") -> list[Path]:
    """The files in a folder of the corpora matching `pattern`, sorted; [] when absent."""
    found = sorted(path for path in (CORPORA / folder).glob(pattern) if path.is_file())
    if corpora_required() and not found:
        raise FileNotFoundError(f"{CORPORA / folder}/{pattern}: no files, and "
                                f"{REQUIRE_CORPORA} is set: the corpus tests need "
                                f"{CORPORA_SOURCE}")
    return found


def _lacks_its_corpus(item: pytest.Item) -> bool:
    """The corpora are absent, or what the test is parametrized over came out empty."""
    return not CORPORA.is_dir() or any(
        str(mark.kwargs.get("reason", "")).startswith("got empty parameter set")
        for mark in item.iter_markers("skip"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = corpora_required()
    for item in items:
        if item.get_closest_marker("corpus") is None or not _lacks_its_corpus(item):
            continue
        if required:
            # a failure, never a skip: take off pytest's skip of an empty parameter set
            item.own_markers[:] = [mark for mark in item.own_markers if mark.name != "skip"]
            item.stash[_CORPUS_FAILURE] = (
                f"{REQUIRE_CORPORA} is set, but this corpus test found nothing to read in "
                f"{CORPORA}: it needs {CORPORA_SOURCE}")
        else:
            item.add_marker(pytest.mark.skip(reason=f"corpus test: needs {CORPORA_SOURCE}"),
                            append=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # at set-up: an empty parameter set has no value to set up (pytest reports an error)
    if _CORPUS_FAILURE in item.stash:
        pytest.fail(item.stash[_CORPUS_FAILURE], pytrace=False)


# --- the golden files and the versions they were made with ----------------------------------
# Byte-identical output depends on the exact versions of mjml-python, nh3, markdown-it-py
# and the rest. `--update-golden` records them beside the golden files; a golden test that
# fails names every package whose installed version differs from the record, and
# tests/test_golden_deps.py holds the record equal to constraints.txt.

GOLDEN_DEPENDENCIES = DATA / "golden" / "dependencies.txt"


@functools.cache
def constraints_tool() -> ModuleType:
    """tools/constraints.py, which knows the runtime dependencies and reads pin files."""
    spec = importlib.util.spec_from_file_location("constraints_tool",
                                                  REPO / "tools" / "constraints.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def record_golden_dependencies(path: Path) -> None:
    """Write the installed versions of every runtime dependency to `path`."""
    tool = constraints_tool()
    pins = tool.installed(tool.runtime_requirements())
    path.write_text("\n".join([
        "# The versions of the packages newsletter runs on, as installed when the golden",
        "# files beside this file were made. Written by `pytest --update-golden`; the golden",
        "# tests name any that differ now, and tests/test_golden_deps.py holds these equal",
        "# to constraints.txt.",
        *tool.pin_lines(pins), ""]), encoding="utf-8")


def golden_dependency_changes(path: Path) -> list[str]:
    """A line for each runtime dependency whose installed version is not the recorded one."""
    tool = constraints_tool()
    recorded = tool.read_pins(path.read_text(encoding="utf-8"))["runtime"] \
        if path.is_file() else {}
    now = tool.installed(tool.runtime_requirements())
    changes = []
    for name in sorted(recorded.keys() | now.keys()):
        then = recorded[name].version if name in recorded else "not recorded"
        version = now[name].version if name in now else "not needed now"
        if then != version:
            changes.append(f"{(recorded.get(name) or now[name]).name}: {then} then, "
                           f"{version} now")
    return changes


def golden_note(path: Path) -> str:
    """What a failed golden test adds to its report: which dependency, if any, changed."""
    try:
        changes = golden_dependency_changes(path)
    except Exception as e:  # noqa: BLE001  # the note must never hide the test's own failure
        return f"could not compare the installed packages with {path}: {e}"
    if not changes:
        return (f"every package newsletter runs on is at the version recorded in {path.name} "
                f"when the golden files were made: the output moved because of our code, "
                f"templates or data")
    return "\n".join([
        f"the golden files were made with other versions of these packages ({path.name}):",
        *(f"  {change}" for change in changes),
        "to build with the pinned versions: pip install -c constraints.txt -e '.[dev]'; to "
        "move to these: pytest --update-golden (it records them too) and python "
        "tools/constraints.py, then review the diff"])


@pytest.fixture(scope="session")
def _golden_dependencies_recorded(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--update-golden"):
        record_golden_dependencies(GOLDEN_DEPENDENCIES)


@pytest.fixture()
def update_golden(request: pytest.FixtureRequest, _golden_dependencies_recorded: None) -> bool:
    """Whether to rewrite the golden files (`--update-golden`); a test that asks for
    this is a golden test, and its failure report says which dependency changed."""
    return bool(request.config.getoption("--update-golden"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if (report.when == "call" and report.failed
            and "update_golden" in getattr(item, "fixturenames", ())
            and hasattr(report.longrepr, "addsection")):
        report.longrepr.addsection("golden files and dependencies",
                                   golden_note(GOLDEN_DEPENDENCIES))
    return report
