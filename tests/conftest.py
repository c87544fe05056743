"""Shared fixtures: the example desk, a local build of it, and real Chromium."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

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
                     help="rewrite tests/data/golden/ from the current output")


@pytest.fixture()
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
