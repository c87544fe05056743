"""The tests reach 127.0.0.1 only: in the test process and in every Python process it starts.

conftest installs tests/_loopback/sitecustomize.py's guard here and puts its folder first
on PYTHONPATH, so each child imports it at start-up. These tests hold both up, the way
the other tests start processes: `python -m newsletter` and the installed `newsletter`
command with the environment inherited or copied, and test_package's cleaned environment.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import LOOPBACK_GUARD, REPO, LocalSite, loopback_guard
from PIL import Image
from test_package import clean_env

GUARD_FILE = LOOPBACK_GUARD / "sitecustomize.py"
# a host the tests must never ask for (the package index that test_package once used):
# looked up here, never connected to
INTERNET_HOST = "pypi.org"
# a picture's host for a build: never a real one, so that a build without the guard
# would not reach the internet either (RFC 6761: .invalid names never resolve)
PICTURE_HOST = "pictures.tideline.invalid"
# 127.0.0.1 spelt as the system resolver reads it (inet_aton): it would answer, and a
# connection would stay on this machine; the guard allows exact loopback names only, so
# a refusal of this name proves the guard refused it, not a machine that is offline
ANOTHER_SPELLING = "127.1"
# a build takes about a second here, and a few on a loaded machine; a build that waited
# on the network would wait out the pictures' 10 s connect limit first
RUN_TIMEOUT = 30

PROBE = f"""\
import json, socket, sys
import newsletter
guard = sys.modules.get("sitecustomize")
def lookup(host):
    try:
        return socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as refused:
        return [refused.errno == socket.EAI_NONAME, str(refused)]
print(json.dumps({{
    "sitecustomize": getattr(guard, "__file__", None),
    "guarded": socket.getaddrinfo is getattr(guard, "loopback_getaddrinfo", None),
    "internet": lookup({INTERNET_HOST!r}),
    "another spelling": lookup({ANOTHER_SPELLING!r}),
    "loopback": lookup("127.0.0.1"),
    "newsletter": newsletter.__file__,
}}))
"""


def test_the_test_process_looks_up_loopback_only() -> None:
    for host in (INTERNET_HOST, ANOTHER_SPELLING, b"pypi.org"):
        with pytest.raises(socket.gaierror, match=re.escape(loopback_guard.REFUSED)) as refused:
            socket.getaddrinfo(host, 443)
        assert refused.value.errno == socket.EAI_NONAME  # "no such host", as a resolver says
    assert {info[4][0] for info in socket.getaddrinfo("127.0.0.1", 80)} == {"127.0.0.1"}
    assert socket.getaddrinfo is loopback_guard.loopback_getaddrinfo


def test_a_loopback_server_is_reached() -> None:
    site = LocalSite(handler=_PictureHandler)
    try:
        with socket.create_connection(("127.0.0.1", site.server.server_address[1]),
                                      timeout=RUN_TIMEOUT):
            pass
    finally:
        site.close()


def test_the_session_puts_the_guard_first_on_pythonpath() -> None:
    first = os.environ["PYTHONPATH"].split(os.pathsep)[0]
    assert Path(first) == LOOPBACK_GUARD and GUARD_FILE.is_file()


@pytest.mark.parametrize("env", [
    pytest.param(None, id="inherited"),
    pytest.param({**os.environ, "COLUMNS": "100"}, id="copied"),
    pytest.param(clean_env(), id="test_package-clean"),
    pytest.param(clean_env(Path(sys.prefix)), id="test_package-clean-venv"),
])
def test_a_child_python_looks_up_loopback_only(env: dict[str, str] | None,
                                               tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    assert probe["sitecustomize"] == str(GUARD_FILE), "the child did not import the guard"
    assert probe["guarded"], "the child's socket.getaddrinfo is not the guard's"
    for host in ("internet", "another spelling"):
        refused, said = probe[host]
        assert refused and loopback_guard.REFUSED in said, probe
    assert probe["loopback"] == "127.0.0.1"
    # PYTHONPATH still lets the child import everything else, from where it is installed
    assert Path(probe["newsletter"]).is_relative_to(REPO / "newsletter"), probe


# --- a real build: its pictures are asked for on 127.0.0.1 or not at all -------------------


class _PictureHandler(http.server.BaseHTTPRequestHandler):
    """A PNG at any path, counting the requests."""

    asked: ClassVar[Counter[str]] = Counter()
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.asked[self.path] += 1
        body = _png()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "teal").save(out, "PNG")
    return out.getvalue()


@pytest.fixture()
def picture_site() -> Iterator[LocalSite]:
    _PictureHandler.asked.clear()
    site = LocalSite(handler=_PictureHandler)
    try:
        yield site
    finally:
        site.close()


DESK = """\
name: Guard desk
base_url: https://guard.example.org/
language: en
unsubscribe: mailchimp
"""

ISSUE = """\
number: 1
date: 2026-11-27
status: ready
subject: Pictures from elsewhere
lead:
  url: https://news.example.org/kelp
  headline: Kelp comes back
  image:
    src: https://{remote}/kelp.png
    alt: Kelp
deep_dives:
  items:
    - url: https://news.example.org/reef
      headline: A reef
      image:
        src: http://{spelling}:{port}/reef.png
        alt: Reef
"""


@pytest.mark.parametrize("command", [
    pytest.param([sys.executable, "-m", "newsletter"], id="python-m"),
    pytest.param([str(Path(sys.executable).with_name("newsletter"))], id="installed-command"),
])
def test_a_build_finds_no_host_but_this_machine(command: list[str], tmp_path: Path,
                                                picture_site: LocalSite) -> None:
    desk = tmp_path / "desk"
    (desk / "issues").mkdir(parents=True)
    (desk / "newsletter.yaml").write_text(DESK, encoding="utf-8")
    port = picture_site.server.server_address[1]
    (desk / "issues" / "2026-11-27.yaml").write_text(
        ISSUE.format(remote=PICTURE_HOST, spelling=ANOTHER_SPELLING, port=port),
        encoding="utf-8")

    done = subprocess.run([*command, "build"], cwd=desk, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, check=False)

    assert "Traceback" not in done.stderr, done.stderr
    assert f'the host "{PICTURE_HOST}" was not found' in done.stderr, done.stderr
    # the resolver would have answered this one, and the server would have sent a picture
    assert f'the host "{ANOTHER_SPELLING}" was not found' in done.stderr, done.stderr
    assert sum(_PictureHandler.asked.values()) == 0
    assert done.returncode == 1  # an editor's own picture that cannot be shown is an error
