"""`newsletter preview`: the live-reload server, over HTTP and in real headless Chromium.

Every test starts `api.preview_server` on 127.0.0.1 (a free port) over a private
copy of the example desk and talks to it for real: raw HTTP requests (http.client
and plain sockets, which send a path exactly as written), and Debian's Chromium
through Playwright, with every request to another host aborted. Files are
changed on disk and the page is expected to follow (within a hang guard: bench/preview.py times it).

A fed desk (`fed_desk`) is the example desk after a real `newsletter fetch` of
its feeds, with a draft whose every pick is a `story:` reference, so every
render reads the candidate store: what the watcher then hears (the store's side
files, real writes by another `newsletter fetch`) is counted batch by batch,
and pages must move only when what they show changed.

An audit hook (installed once: audit hooks cannot be removed) records opens of
sentinel files outside the desk, so the traversal tests prove that nothing
outside the desk was read, not only that nothing came back.
The load tests open up to 200 connections at once from the test's own thread
(non-blocking sockets) and count the threads the server starts; their waits are
hang guards, never speed limits. Screenshots land in tests/artifacts/preview-*.png.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import ARTIFACTS, CHINESE_ISSUE, EXAMPLE_ISSUE, REPO
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

import newsletter.preview.server
from newsletter import api
from newsletter.preview.desk import DeskPreview
from newsletter.preview.server import EVENTS_PATH, PreviewServer, ServerLimits, clean_request_path

ENGLISH = EXAMPLE_ISSUE.stem
CHINESE = CHINESE_ISSUE.stem
ARABIC = "2026-11-13"  # the third example issue (issues/2026-11-13.yaml)
DRAFT = "2026-12-04"  # newer than every example issue
ADDED = "2026-12-11"  # appears while the start page is open
WAIT_MS = 30_000  # every other wait gives up after this long: a hang guard, not a speed limit
LOAD_MS = 10_000
RELOAD_MS = 20_000  # a hang guard for a save to show (bench/preview.py measures how fast)
HTTP_TIMEOUT = 5.0

DRAFT_TEXT = f"""\
number: 49
date: {DRAFT}
status: draft
subject: "Tideline #49: Unfinished draft about narwhal tusks"
lead:
  url: https://news.example.org/2026/12/03/narwhal
  headline: "Unfinished draft about narwhal tusks"
"""

LEAD_HEADLINE = re.compile(r'^(  headline: )"(.*)"$', re.MULTILINE)  # the first is lead's


# --- who opened what ------------------------------------------------------------

_WATCHED: set[str] = set()  # real paths of sentinel files; empty: record nothing
_OPENED: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _WATCHED or not args:
        return
    path = args[0]
    if isinstance(path, str | bytes | os.PathLike):
        name = os.fsdecode(path)
        if os.path.realpath(name) in _WATCHED:
            _OPENED.append(name)


sys.addaudithook(_audit)


@contextlib.contextmanager
def _recording_opens(*sentinels: Path) -> Iterator[list[str]]:
    """Within the block, every open of a sentinel (or of a link to one) is listed."""
    _OPENED.clear()
    _WATCHED.update(os.path.realpath(p) for p in sentinels)
    try:
        yield _OPENED
    finally:
        _WATCHED.clear()


# --- fixtures and helpers ---------------------------------------------------------


@pytest.fixture()
def preview(desk: Path) -> Iterator[PreviewServer]:
    """The preview of a private desk, serving and watching on 127.0.0.1."""
    with _serving(api.preview_server(desk, host="127.0.0.1", port=0)) as server:
        yield server


@contextlib.contextmanager
def _serving(server: PreviewServer) -> Iterator[PreviewServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def outside(tmp_path: Path, desk: Path) -> Path:
    """A secret file outside the desk, and links to it (and to /etc/passwd) in the
    desk's picture folder, where a request for a picture might look."""
    folder = tmp_path / "outside"
    folder.mkdir()
    secret = folder / "secret.txt"
    secret.write_text("SENTINEL-7f3a-outside-the-desk\n", encoding="utf-8")
    images = desk / "examples" / "images"
    (images / "leak.jpg").symlink_to(secret)
    (images / "passwd.jpg").symlink_to("/etc/passwd")
    assert not secret.resolve().is_relative_to(desk.resolve())
    return secret


def _port(server: PreviewServer) -> int:
    port = urlsplit(server.url).port
    assert port, server.url
    return port


def _request(server: PreviewServer, method: str, target: str,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send `target` as written (http.client neither normalises nor quotes it)."""
    connection = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=HTTP_TIMEOUT)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def _raw_exchange(server: PreviewServer, data: bytes) -> bytes:
    """Write `data` to a fresh connection; everything the server sends back until it
    closes the connection or goes quiet for half a second."""
    received = b""
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(data)
        sock.settimeout(0.5)
        deadline = time.monotonic() + HTTP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
    return received


def _get(server: PreviewServer, target: str) -> bytes:
    status, _, body = _request(server, "GET", target)
    assert status == 200, f"GET {target}: {status} {body[:200]!r}"
    return body


def _start_page_links(body: bytes) -> list[str]:
    return re.findall(r'<a href="/issues/([^"/]+)/"', body.decode())


def _asset_name(server: PreviewServer, stem: str) -> str:
    """The name the web page shows the picture by, at its own size (the email may
    show a copy resized for it)."""
    page = _get(server, f"/issues/{ENGLISH}/index.html").decode()
    match = re.search(rf'images/{stem}-[0-9a-f]+\.jpg', page)
    assert match, f"the web page shows no {stem} picture"
    return match.group(0)


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(0.02)


# --- HTTP: pages ------------------------------------------------------------------


def test_start_page_lists_every_issue_newest_first_drafts_included(
        preview: PreviewServer, desk: Path) -> None:
    assert _start_page_links(_get(preview, "/")) == [ENGLISH, CHINESE, ARABIC]

    (desk / "issues" / f"{DRAFT}.yaml").write_text(DRAFT_TEXT, encoding="utf-8")
    body = _get(preview, "/").decode()
    assert _start_page_links(body.encode()) == [DRAFT, ENGLISH, CHINESE, ARABIC]
    (item,) = [li for li in re.findall(r"<li>.*?</li>", body, re.DOTALL)
               if f'href="/issues/{DRAFT}/"' in li]
    assert "narwhal tusks" in item and re.search(r'class="badge draft"', item), item
    state = json.loads(_get(preview, f"/issues/{DRAFT}/state.json"))
    assert state["error"] is None and "narwhal" in state["subject"], state


@pytest.mark.parametrize(("rest", "content_type", "expected"), [
    ("", "text/html", b'<script src="/__ui/preview.js"'),  # the desk, its script a file
    ("index.html", "text/html", b"<h1>"),
    ("email.html", "text/html", b"nl-page"),
    ("email.txt", "text/plain", b"Tideline"),
    ("state.json", "application/json", b'"email_bytes"'),
], ids=["preview", "web", "email", "text", "state"])
def test_issue_routes(preview: PreviewServer, rest: str, content_type: str,
                      expected: bytes) -> None:
    status, headers, body = _request(preview, "GET", f"/issues/{ENGLISH}/{rest}")
    assert status == 200, body[:200]
    assert headers["content-type"].startswith(content_type)
    assert headers["cache-control"] == "no-store"
    assert expected in body


def test_a_view_of_an_issue_that_does_not_build_says_so_instead_of_a_404(desk: Path) -> None:
    """A frame may ask for a view just after a save broke the issue (a text editor
    writing the file in place): it gets a word and the view script, not a 404 that
    the page would log as an error; the page itself shows the error."""
    issue_file = desk / "issues" / f"{ENGLISH}.yaml"
    issue_file.write_text(issue_file.read_text(encoding="utf-8").replace(
        "number:", "  number:", 1), encoding="utf-8")
    with _serving(api.preview_server(desk, host="127.0.0.1", port=0)) as server:
        state = json.loads(_get(server, f"/issues/{ENGLISH}/state.json"))
        assert state["error"] is not None, state
        for view in ("index.html", "email.html", "email.txt"):
            body = _get(server, f"/issues/{ENGLISH}/{view}").decode()
            assert "does not build just now" in body, (view, body[:200])
        assert b"/__view.js" in _get(server, f"/issues/{ENGLISH}/email.html")


def test_state_json_describes_the_issue(preview: PreviewServer) -> None:
    state = json.loads(_get(preview, f"/issues/{ENGLISH}/state.json"))
    assert state["key"] == ENGLISH and state["error"] is None
    assert state["subject"].startswith("Tideline #48")
    assert 10_000 < state["email_bytes"] < 102 * 1024, state


def test_pictures_are_served_by_their_content_name(preview: PreviewServer, desk: Path) -> None:
    name = _asset_name(preview, "lead-kelp-forest")
    status, headers, body = _request(preview, "GET", f"/issues/{ENGLISH}/{name}")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert body == (desk / "examples" / "images" / "lead-kelp-forest.jpg").read_bytes()
    # by the served name only, never by the file's own name in the desk
    assert _request(preview, "GET", f"/issues/{ENGLISH}/images/lead-kelp-forest.jpg")[0] == 404


def test_dark_and_images_off_variants(preview: PreviewServer) -> None:
    plain = _get(preview, f"/issues/{ENGLISH}/email.html").decode()
    dark = _get(preview, f"/issues/{ENGLISH}/email.html?dark=1").decode()
    no_images = _get(preview, f"/issues/{ENGLISH}/email.html?images=0").decode()
    assert "prefers-color-scheme: dark" in plain and "prefers-color-scheme" not in dark
    assert re.findall(r"<img\b[^>]*\ssrc=", plain), "the example email has pictures"
    assert re.findall(r"<img\b", no_images), "pictures off keeps the img elements (and alt)"
    assert not re.findall(r"<img\b[^>]*\ssrc=", no_images)


# --- HTTP: methods ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_get_and_head_are_allowed(preview: PreviewServer, desk: Path, method: str) -> None:
    before = (desk / "issues" / f"{ENGLISH}.yaml").read_bytes()
    status, headers, _ = _request(preview, method, f"/issues/{ENGLISH}/state.json",
                                  {"Content-Length": "0"})
    assert status == 405
    assert headers.get("allow") == "GET, HEAD"
    assert (desk / "issues" / f"{ENGLISH}.yaml").read_bytes() == before


def test_a_refused_request_body_is_not_read_as_another_request(preview: PreviewServer) -> None:
    """A POST's body must not be taken for the next request on the connection
    (a page on any site can make the browser POST to 127.0.0.1)."""
    smuggled = b"GET /issues/2026-11-27/state.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
               b"Content-Length: " + str(len(smuggled)).encode() + b"\r\n\r\n" + smuggled)
    answers = re.findall(rb"^HTTP/1\.[01] (\d{3})", _raw_exchange(preview, request), re.M)
    assert answers[:1] == [b"405"], answers
    assert answers == [b"405"], (
        "the body of the refused POST was answered as a request of its own "
        f"(statuses {answers}): preview.py's _Handler._refuse neither reads the body "
        "nor closes the connection")


def test_head_sends_the_headers_of_get_and_no_body(preview: PreviewServer) -> None:
    for target in ("/", f"/issues/{ENGLISH}/index.html", f"/issues/{ENGLISH}/email.txt"):
        _, get_headers, get_body = _request(preview, "GET", target)
        raw = _raw_exchange(preview, f"HEAD {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Connection: close\r\n\r\n".encode())
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), raw[:200]
        assert body == b"", f"HEAD {target} sent {len(body)} bytes of body"
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        assert fields["Content-Length"] == str(len(get_body)) == get_headers["content-length"]
        assert fields["Content-Type"] == get_headers["content-type"]


def test_a_dropped_connection_prints_no_traceback(preview: PreviewServer,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The editor's terminal shows rebuilds and errors, not a traceback each time
    the browser drops a connection (as it does when a save reloads a view that is
    still loading)."""
    capsys.readouterr()
    before = set(threading.enumerate())
    with socket.create_connection(("127.0.0.1", _port(preview)), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(f"GET /issues/{ENGLISH}/index.html HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\n\r\n".encode())
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # closed with a reset, as a browser cancelling a load does

    def handled() -> bool:
        return not [t for t in threading.enumerate()
                    if t not in before and "process_request" in t.name and t.is_alive()]

    _wait_until(handled, HTTP_TIMEOUT, "the server to finish with the connection")
    err = capsys.readouterr().err
    assert "Traceback" not in err, (
        "a connection the browser reset printed a traceback on the editor's terminal "
        "(socketserver's handle_error; preview.py's server neither ignores ConnectionError "
        "nor overrides handle_error):\n" + err[-600:])


# --- HTTP: the desk's writes (tests/test_desk_browser.py has the rest) ----------------------


def test_each_run_has_its_own_token_and_its_pages_carry_it(preview: PreviewServer,
                                                           desk: Path) -> None:
    with _serving(api.preview_server(desk, host="127.0.0.1", port=0)) as other:
        assert other.token != preview.token and len(preview.token) >= 40
    for target in ("/", f"/issues/{ENGLISH}/"):
        body = _get(preview, target).decode()
        assert f'<meta name="newsletter-token" content="{preview.token}">' in body, target


def test_the_api_takes_posts_and_nothing_else(preview: PreviewServer, desk: Path) -> None:
    before = (desk / "issues" / f"{ENGLISH}.yaml").read_bytes()
    status, headers, _ = _request(preview, "PUT", f"/api/issues/{ENGLISH}/pick",
                                  {"Content-Length": "0"})
    assert status == 405 and headers.get("allow") == "GET, HEAD, POST"
    assert (desk / "issues" / f"{ENGLISH}.yaml").read_bytes() == before


def test_another_sites_page_cannot_read_the_api(preview: PreviewServer) -> None:
    """A page elsewhere cannot read a cross-origin answer anyway; the browser says
    where a request comes from, and the desk does not even answer it."""
    target = f"/api/issues/{ENGLISH}/panel"
    assert _request(preview, "GET", target, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    status, headers, body = _request(preview, "GET", target, {"Sec-Fetch-Site": "same-origin"})
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["panel"]["path"] == f"issues/{ENGLISH}.yaml"


def test_the_views_say_they_are_laid_out_with_a_script_of_the_servers(
        preview: PreviewServer) -> None:
    for view in ("index.html", "email.html"):
        status, headers, body = _request(preview, "GET", f"/issues/{ENGLISH}/{view}")
        scripts = re.findall(rb"<script\b[^>]*>", body)
        assert b'<script src="/__view.js">' in scripts, view
        assert all(b"src=" in s or b"ld+json" in s for s in scripts), scripts
        assert "script-src 'self'" in headers["content-security-policy"]
    status, headers, body = _request(preview, "GET", "/__view.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"newsletterPreview" in body


# --- HTTP: load, slow clients, bounded threads ------------------------------------------

CROWD = 200  # connections at once: with a listen backlog of 5, 118 to 170 went unanswered
# a hang guard, not a speed limit: 200 answers take about 0.2 s on an idle machine
CROWD_GUARD = 30.0
LOAD_TARGETS = ("/", f"/issues/{ENGLISH}/state.json", f"/issues/{ENGLISH}/email.txt",
                f"/issues/{ENGLISH}/index.html", f"/issues/{CHINESE}/state.json")


class _Crowd:
    """Many connections to one port at once, driven from this thread (non-blocking
    sockets, so the test starts no threads of its own): bytes to send on each, and
    everything each got back until the server closed it."""

    def __init__(self, port: int, count: int) -> None:
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        self._outgoing = [b""] * count
        self.received = [b""] * count
        self.closed = [False] * count
        for index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))  # in progress: writable once connected
            self._sockets.append(sock)
            self._selector.register(sock, selectors.EVENT_READ, index)

    def send(self, index: int, data: bytes) -> None:
        if not self.closed[index]:
            self._outgoing[index] += data
            self._selector.modify(self._sockets[index],
                                  selectors.EVENT_READ | selectors.EVENT_WRITE, index)

    def run(self, seconds: float, until: Callable[[], bool] = lambda: False,
            tick: Callable[[], None] = lambda: None) -> bool:
        """Move bytes until `until()` holds (True) or `seconds` pass (False);
        `tick` runs between rounds."""
        deadline = time.monotonic() + seconds
        while not until():
            if time.monotonic() > deadline:
                return False
            for key, events in self._selector.select(timeout=0.02):
                if events & selectors.EVENT_WRITE:
                    self._write(key.data)
                if events & selectors.EVENT_READ and not self.closed[key.data]:
                    self._read(key.data)
            tick()
        return True

    def _write(self, index: int) -> None:
        try:
            sent = self._sockets[index].send(self._outgoing[index])
        except BlockingIOError:
            return
        except OSError:  # refused or reset: the server closed it
            self._close(index)
            return
        self._outgoing[index] = self._outgoing[index][sent:]
        if not self._outgoing[index]:
            self._selector.modify(self._sockets[index], selectors.EVENT_READ, index)

    def _read(self, index: int) -> None:
        try:
            chunk = self._sockets[index].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.received[index] += chunk
        else:
            self._close(index)

    def _close(self, index: int) -> None:
        self.closed[index] = True
        self._selector.unregister(self._sockets[index])
        self._sockets[index].close()

    def all_closed(self) -> bool:
        return all(self.closed)

    def statuses(self) -> list[int | None]:
        """The status of each answer, None for a connection not answered."""
        return [int(m.group(1)) if (m := re.match(rb"HTTP/1\.1 (\d{3}) ", data)) else None
                for data in self.received]

    def close(self) -> None:
        for index, closed in enumerate(self.closed):
            if not closed:
                self._close(index)
        self._selector.close()


@contextlib.contextmanager
def _crowd(server: PreviewServer, count: int) -> Iterator[_Crowd]:
    crowd = _Crowd(_port(server), count)
    try:
        yield crowd
    finally:
        crowd.close()


def _load_request(index: int) -> tuple[bytes, bytes]:
    """A GET of one of the preview's pages, as its request line and the rest."""
    return (f"GET {LOAD_TARGETS[index % len(LOAD_TARGETS)]} HTTP/1.1\r\n".encode(),
            b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")


class _ThreadCount:
    """The most threads that were running at once, beyond those that ran when it was made."""

    def __init__(self) -> None:
        self._before = set(threading.enumerate())
        self.peak = 0

    def sample(self) -> None:
        started = [t for t in threading.enumerate() if t not in self._before and t.is_alive()]
        self.peak = max(self.peak, len(started))


@contextlib.contextmanager
def _limited_preview(desk: Path, limits: ServerLimits) -> Iterator[PreviewServer]:
    """The desk's preview under other limits than `api.preview_server`'s defaults
    (its pages only: nothing is watched)."""
    server = PreviewServer(host="127.0.0.1", port=0, limits=limits)
    server.attach(DeskPreview(desk, server.url, render=api.render_with_stories), ())
    with _serving(server):
        yield server


def test_200_concurrent_requests_are_all_answered(preview: PreviewServer) -> None:
    with _crowd(preview, CROWD) as crowd:
        for index in range(CROWD):
            crowd.send(index, b"".join(_load_request(index)))
        crowd.run(CROWD_GUARD, until=crowd.all_closed)
        statuses = crowd.statuses()
    answered = statuses.count(200)
    assert answered == CROWD, (
        f"{answered} of {CROWD} concurrent requests were answered within {CROWD_GUARD} s "
        f"(statuses: {sorted(set(statuses), key=str)}): the listen backlog "
        "(ServerLimits.backlog) is too short for the connections that wait for a thread")


def test_handler_threads_stay_bounded_under_200_connections(preview: PreviewServer) -> None:
    """Every connection sends half a request and waits, as a crowd of slow
    clients would: the server must not start a thread for each."""
    bound = preview.limits.requests + preview.limits.streams
    threads = _ThreadCount()
    with _crowd(preview, CROWD) as crowd:
        for index in range(CROWD):
            crowd.send(index, _load_request(index)[0])
        crowd.run(0.5, tick=threads.sample)  # the server takes on what it will
        for index in range(CROWD):
            crowd.send(index, _load_request(index)[1])
        crowd.run(CROWD_GUARD, until=crowd.all_closed, tick=threads.sample)
        statuses = crowd.statuses()
    assert threads.peak <= bound, (
        f"{threads.peak} threads ran at once for {CROWD} connections; at most {bound} "
        "(ServerLimits.requests + streams) may")
    assert statuses.count(200) == CROWD, sorted(set(statuses), key=str)


SLOW_LIMITS = ServerLimits(requests=16, streams=2, client_timeout=0.5)
DRIBBLE = 0.1  # seconds between the bytes of a slow client: well within the timeout
# a hang guard: 50 slow sockets take 4 rounds of 16 threads, 2 s in all
SLOW_GUARD = 20.0


def test_slow_and_silent_clients_are_cut_off_and_others_still_answered(desk: Path) -> None:
    """50 slowloris sockets: half send a request header a byte every 0.1 s (each
    read is quick, so only a deadline for the whole header stops them), half send
    nothing. The server closes each after the timeout, while ordinary requests
    made meanwhile are answered and no more threads run than the limits allow."""
    slow, ordinary = range(50), range(50, 60)
    idle = 60  # answered once, then silent on its kept-alive connection
    header = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000
    with _limited_preview(desk, SLOW_LIMITS) as server, _crowd(server, 61) as crowd:
        threads = _ThreadCount()
        sent = [0] * len(slow)
        next_byte = [time.monotonic()]

        def dribble() -> None:
            threads.sample()
            if time.monotonic() < next_byte[0]:
                return
            next_byte[0] += DRIBBLE
            for index in slow[::2]:
                crowd.send(index, header[sent[index]:sent[index] + 1])
                sent[index] += 1

        crowd.run(0.2, tick=dribble)  # the slow ones are first in line
        for index in ordinary:
            crowd.send(index, b"".join(_load_request(index)))
        crowd.send(idle, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        crowd.run(SLOW_GUARD, until=crowd.all_closed, tick=dribble)
        statuses = crowd.statuses()
        open_slow = [i for i in slow if not crowd.closed[i]]
        assert not open_slow, (
            f"{len(open_slow)} of 50 slow or silent connections were still open after "
            f"{SLOW_GUARD} s (the slow ones had sent up to {max(sent)} bytes): the server "
            f"must close a connection whose header is not complete within "
            f"{SLOW_LIMITS.client_timeout} s")
        assert crowd.closed[idle] and statuses[idle] == 200, crowd.received[idle][:100]
    assert [statuses[i] for i in slow] == [None] * len(slow)
    assert [statuses[i] for i in ordinary] == [200] * len(ordinary)
    bound = SLOW_LIMITS.requests + SLOW_LIMITS.streams
    assert threads.peak <= bound, f"{threads.peak} threads ran at once; the limits allow {bound}"


def test_event_streams_have_their_own_bound(desk: Path) -> None:
    """Open pages (each holds an event stream) take none of the threads that
    answer requests; streams past their limit are refused, not queued."""
    limits = ServerLimits(requests=2, streams=3, client_timeout=HTTP_TIMEOUT)
    with _limited_preview(desk, limits) as server, _crowd(server, 5) as crowd:
        for index in range(5):
            crowd.send(index, f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())

        def all_answered() -> bool:
            return all(b"\r\n\r\n" in data for data in crowd.received)

        assert crowd.run(CROWD_GUARD, until=all_answered), crowd.received
        statuses = crowd.statuses()
        assert sorted(statuses, key=str) == [200, 200, 200, 503, 503], statuses
        # with three streams open, requests still have both their threads
        for target in LOAD_TARGETS:
            _get(server, target)
        assert crowd.run(HTTP_TIMEOUT, until=lambda: crowd.closed.count(True) >= 2)
        assert [crowd.closed[i] for i in range(5) if statuses[i] == 503] == [True, True]
        assert not any(crowd.closed[i] for i in range(5) if statuses[i] == 200)


def _stream_status(server: PreviewServer) -> tuple[int, socket.socket]:
    """A page's event stream: the status it was answered with, and its socket."""
    sock = socket.create_connection(("127.0.0.1", _port(server)), timeout=HTTP_TIMEOUT)
    sock.sendall(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n" not in head:  # bounded: the socket's timeout
        data = sock.recv(4096)
        if not data:
            break
        head += data
    return int(head.split(b" ", 2)[1]), sock


def _stream_when_free(server: PreviewServer, guard: float) -> tuple[socket.socket, int]:
    """An event stream, asked again while refused: its socket, and the refusals."""
    refused = 0
    deadline = time.monotonic() + guard  # a hang guard, not a measurement
    while True:
        status, sock = _stream_status(server)
        if status == 200:
            return sock, refused
        sock.close()
        refused += 1
        assert time.monotonic() < deadline, (
            f"the closed pages' stream slots were still taken after {guard:g} s "
            f"({refused} streams refused)")
        time.sleep(0.1)


def test_a_closed_pages_stream_gives_its_slot_back(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tab closed frees its stream's slot about a second later, not at the
    stream's next write: a desk closed and opened again and again (16 times within
    the keep-alive, 15 s, once) still gets its stream, so its views load."""
    monkeypatch.setattr(newsletter.preview.server, "_KEEPALIVE", 120.0)  # no write meanwhile
    limits = ServerLimits(requests=2, streams=2, client_timeout=HTTP_TIMEOUT)
    guard = 10 * newsletter.preview.server._STREAM_LOOK
    with _limited_preview(desk, limits) as server:
        for _ in range(3):  # six pages, two at a time, through two slots
            pages = [_stream_when_free(server, guard) for _ in range(2)]
            for sock, _refused in pages:
                sock.close()


# --- HTTP: nothing but the preview's own pages ------------------------------------------

TRAVERSALS = [
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2fetc%2fpasswd",
    f"/issues/{ENGLISH}/images/..%2f..%2f..%2fnewsletter.yaml",
    f"/issues/{ENGLISH}/images/../../../newsletter.yaml",
    "//etc/passwd",
    "/issues/%2e%2e/",
    "/%5c..%5c..%5cetc%5cpasswd",
    f"/issues/{ENGLISH}/%00",
    "http://127.0.0.1/etc/passwd",  # the absolute form of a request line
]
# not clean paths, but not attempts to leave the site either: nothing to unit-test
HTTP_ONLY = [
    f"/issues/{ENGLISH}/images/leak.jpg",  # a link to a file outside the desk
    f"/issues/{ENGLISH}/images/passwd.jpg",  # a link to /etc/passwd
    "/issues/",  # no folder listings
    f"/issues/{ENGLISH}/images/",
    "/%ff",  # not UTF-8
]


@pytest.mark.parametrize("target", TRAVERSALS + HTTP_ONLY)
def test_no_request_reaches_a_file_outside_the_previews_pages(
        preview: PreviewServer, desk: Path, outside: Path, target: str) -> None:
    settings_text = (desk / "newsletter.yaml").read_bytes()
    with _recording_opens(outside, Path("/etc/passwd")) as opened:
        for method in ("GET", "HEAD"):
            status, _, body = _request(preview, method, target)
            assert status == 404, f"{method} {target}: {status}"
            assert b"root:" not in body and b"SENTINEL" not in body
            assert settings_text[:200] not in body and b"Tideline desk settings" not in body
    assert opened == [], f"{target} made the server open {opened}"


def test_the_open_recorder_sees_opens_through_a_link(outside: Path, desk: Path) -> None:
    """The check above is not vacuous: reading the link is recorded."""
    with _recording_opens(outside) as opened:
        (desk / "examples" / "images" / "leak.jpg").read_bytes()
        (desk / "newsletter.yaml").read_bytes()  # inside the desk: not listed
    assert opened == [str(desk / "examples" / "images" / "leak.jpg")]


# --- a desk fed by feeds: the version moves only when what a page shows does ------------

FED = "2026-12-04"  # the fed draft's file name and slug
STORY_URLS = {  # each pick of the fed draft, as its feed (examples/feeds/) gives it
    "lead": "https://science.example.net/2026/11/24/seamount-ghost-shark-nursery",
    "catch_up": "https://news.example.org/2026/11/24/dark-trawlers-marine-reserve",
    "deep_dive": "https://haiyang.example.net/2026/11/24/dongyu-bay-shorebirds",
}
LEAD_TITLE = "Camera sleds find a ghost shark nursery on a seamount's flank"


def _plain_quotes(text: str) -> str:
    """A view's text with straight apostrophes: the render may set curly ones, and
    what a test looks for is the words."""
    return text.replace("\u2019", "'").replace("\u2018", "'")
FED_TEXT = """\
number: 49
date: 2026-12-04
status: draft
subject: "Tideline #49: picked from the desk's feeds"
preheader: Every story in this issue comes from the candidate store.
lead:
  story: {lead}
  bullets:
    - Egg cases by the hundred, 900 metres down
    - The site lies outside a proposed trawling closure
catch_up:
  items:
    - story: {catch_up}
deep_dives:
  items:
    - story: {deep_dive}
"""
STORE_SIDE = "candidates.sqlite-wal"  # what every connection to the store touches
CLI_TIMEOUT = 180.0  # a hang guard for a `newsletter` command


def _newsletter(desk: Path, *args: str) -> str:
    """Run a real `newsletter` command in the desk; its output."""
    done = subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=desk,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)
    assert done.returncode == 0, f"newsletter {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture()
def fed_desk(desk: Path) -> Path:
    """The example desk with its three feeds in a real store (a real `newsletter
    fetch` of examples/feeds/) and a draft whose every pick is a `story:` reference."""
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    _newsletter(desk, "fetch")
    with api.open_store(api.load_desk(desk)) as store:
        found = {slot: store.find(url) for slot, url in STORY_URLS.items()}
    ids = {slot: story.id for slot, story in found.items() if story is not None}
    assert ids.keys() == STORY_URLS.keys(), f"the fetch stored {ids} of {STORY_URLS}"
    (desk / "issues" / f"{FED}.yaml").write_text(FED_TEXT.format(**ids), encoding="utf-8")
    return desk


class _Watching:
    """What a real preview's watcher handed over, batch by batch (recorded once
    handled: the version moved or not by then), and how often an issue was rendered.
    Made before the server starts."""

    def __init__(self, server: PreviewServer) -> None:
        self.batches: list[tuple[float, set[Path]]] = []  # (when handling began, paths)
        self.renders = 0
        handle, builder = server.rebuilt, server.builder
        assert isinstance(builder, DeskPreview)
        render = builder.render

        def rebuilt(paths: set[Path]) -> None:
            began = time.monotonic()
            handle(paths)
            self.batches.append((began, paths))

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.renders += 1  # under the desk's lock
            return render(*args, **kwargs)

        server.rebuilt = rebuilt  # type: ignore[method-assign]  # the watchers call self.rebuilt
        builder.render = counted  # type: ignore[assignment]  # counts, then renders for real

    def wait_for(self, name: str, since: float) -> None:
        """Until a batch that began after `since` (time.monotonic) held a file `name`."""
        def handled() -> bool:
            return any(began > since and any(p.name == name for p in paths)
                       for began, paths in self.batches)

        _wait_until(handled, WAIT_MS / 1000, f"the watcher to hand over {name}")

    def settle_store(self, desk: Path) -> None:
        """Until everything the store's watcher heard so far is handled: one more read
        of the store (a change the watcher hears after all before it) and its batch."""
        since = time.monotonic()
        with api.open_store(api.load_desk(desk)) as store:
            store.find(STORY_URLS["lead"])
        self.wait_for(STORE_SIDE, since)


def _with_lead_title(feed: Path, title: str) -> None:
    text = feed.read_text(encoding="utf-8")
    assert text.count(f"<title>{LEAD_TITLE}</title>") == 1, feed
    feed.write_text(text.replace(f"<title>{LEAD_TITLE}</title>", f"<title>{title}</title>"),
                    encoding="utf-8")


def test_reading_the_store_moves_nothing_and_a_fetch_that_changes_a_pick_moves_it_once(
        fed_desk: Path) -> None:
    """Every render of a fed issue reads the store, and every read touches the
    store's side files, which the watcher hears: that must neither move the version
    nor render again. A fetch writes the store: the issue is rendered again, and the
    version moves only if the fetch changed what the issue shows, then once."""
    issue = fed_desk / "issues" / f"{FED}.yaml"
    server = api.preview_server(fed_desk, host="127.0.0.1", port=0)
    watching = _Watching(server)
    with _serving(server) as preview:
        assert LEAD_TITLE in _plain_quotes(_get(preview, f"/issues/{FED}/email.txt").decode())
        watching.settle_store(fed_desk)
        version, renders = preview.version, watching.renders

        # the store read twenty times, as rendering reads it
        since = time.monotonic()
        settings = api.load_desk(fed_desk)
        for _ in range(20):
            api.render_with_stories(issue, settings)
        watching.wait_for(STORE_SIDE, since)
        watching.settle_store(fed_desk)
        assert (preview.version, watching.renders) == (version, renders), (
            f"reading the store moved the version {preview.version - version} times and "
            f"rendered the open issue {watching.renders - renders} times")

        # a real fetch writes the store (each feed's last fetch) but changes no story
        _newsletter(fed_desk, "fetch")
        watching.settle_store(fed_desk)
        assert watching.renders > renders, "a write to the store did not render the issue again"
        assert preview.version == version, "a fetch that changed no story moved the version"

        # a real fetch that changes the lead's story
        _with_lead_title(fed_desk / "examples" / "feeds" / "ocean-science.xml",
                         "Ghost shark nursery found: the title the feed changed")
        _newsletter(fed_desk, "fetch")
        watching.settle_store(fed_desk)
        assert preview.version == version + 1, (
            f"a fetch that changed the lead moved the version {preview.version - version} times")
        text = _plain_quotes(_get(preview, f"/issues/{FED}/email.txt").decode())
        assert "the title the feed changed" in text and LEAD_TITLE not in text


def test_a_save_without_a_change_moves_nothing(fed_desk: Path) -> None:
    """Saving the issue, newsletter.yaml or a template without changing it renders
    the open issue again and moves nothing; a real change moves the version once."""
    override = fed_desk / "templates" / "text" / "issue.txt"
    override.parent.mkdir(parents=True)
    shutil.copy(REPO / "templates" / "text" / "issue.txt", override)  # the theme's own
    issue = fed_desk / "issues" / f"{FED}.yaml"
    server = api.preview_server(fed_desk, host="127.0.0.1", port=0)
    watching = _Watching(server)
    with _serving(server) as preview:
        _get(preview, f"/issues/{FED}/state.json")
        start = _get(preview, "/")
        watching.settle_store(fed_desk)
        version = preview.version
        for saved in (issue, fed_desk / "newsletter.yaml", override):
            renders, since = watching.renders, time.monotonic()
            saved.write_bytes(saved.read_bytes())
            watching.wait_for(saved.name, since)
            assert watching.renders > renders, f"saving {saved.name} rendered nothing again"
            assert preview.version == version, f"saving {saved.name} unchanged moved the version"
        watching.settle_store(fed_desk)  # the renders' own reads of the store
        assert preview.version == version

        for changed, before, after in (
                (override, "{{ issue.subject }}", "{{ issue.subject }} (from the desk)"),
                (issue, "Egg cases by the hundred", "Egg cases by the thousand")):
            text = changed.read_text(encoding="utf-8")
            assert before in text, changed
            since = time.monotonic()
            changed.write_text(text.replace(before, after, 1), encoding="utf-8")
            watching.wait_for(changed.name, since)
            watching.settle_store(fed_desk)
            assert preview.version == version + 1, f"one save of {changed.name}"
            version = preview.version
        assert "(from the desk)" in _get(preview, f"/issues/{FED}/email.txt").decode()
        assert _get(preview, "/") == start, "the start page lists the same issues"


# --- clean_request_path ---------------------------------------------------------------


@pytest.mark.parametrize("raw", [*TRAVERSALS, "///etc/passwd", "/issues/a\\b", "/.",
                                 "/issues/%2E%2E/state.json"])
def test_clean_request_path_refuses_paths_that_leave_the_site(raw: str) -> None:
    cleaned = clean_request_path(raw)
    assert cleaned is None, (
        f"clean_request_path({raw!r}) gave {cleaned!r}; its docstring promises None for a "
        "doubled leading slash, but urlsplit() reads '//host/path' as a host, so the "
        "`path.startswith('//')` check in newsletter/preview.py can never match")


@pytest.mark.parametrize(("raw", "expected"), [
    ("/", "/"),
    (f"/issues/{ENGLISH}/", f"/issues/{ENGLISH}/"),
    (f"/issues/{ENGLISH}/email.html?dark=1&images=0", f"/issues/{ENGLISH}/email.html"),
    (f"/issues/{ENGLISH}/index.html#top", f"/issues/{ENGLISH}/index.html"),
    ("/issues/a%20b/", "/issues/a b/"),
    ("/%252e%252e/", "/%2e%2e/"),  # decoded once only
    ("/issues/..foo/", "/issues/..foo/"),  # a name beginning with dots is a name
])
def test_clean_request_path_keeps_ordinary_paths(raw: str, expected: str) -> None:
    assert clean_request_path(raw) == expected


# --- in the browser --------------------------------------------------------------------


def _local_only(route: Any) -> None:
    """Let the page talk to the preview on 127.0.0.1 and nothing else."""
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@pytest.fixture()
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    contexts = []

    def new_page_(width: int = 1600, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme="light", service_workers="block")
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(LOAD_MS)
        context.route("**/*", _local_only)
        return context.new_page()

    yield new_page_
    for context in contexts:
        context.close()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"preview-{name}.png"), timeout=LOAD_MS)


WEB = "iframe[data-src='index.html']"
EMAIL_600 = "iframe.w600"
EMAIL_375 = "iframe.w375"
TEXT = "iframe[data-src='email.txt']"

PAINTED = "(n) => window.newsletterPreview && window.newsletterPreview.painted.length >= n"

FRAME_TEXT = """([frame, css]) => {
  const doc = document.querySelector(frame).contentDocument;
  const el = doc && doc.querySelector(css);
  return el ? el.textContent.trim() : null;
}"""

SHOWS = """([frame, css, text]) => {
  const doc = document.querySelector(frame).contentDocument;
  const el = doc && doc.readyState === "complete" && doc.querySelector(css);
  return Boolean(el && el.textContent.replace(/\\s+/g, " ").includes(text));
}"""

EVERY_VIEW_SHOWS = """(text) => [
  ["iframe[data-src='index.html']", "h1"], ["iframe.w600", "body"], ["iframe.w375", "body"],
  ["iframe[data-src='email.txt']", "body"],
].every(([frame, css]) => {
  const doc = document.querySelector(frame).contentDocument;
  const el = doc && doc.readyState === "complete" && doc.querySelector(css);
  return Boolean(el && el.textContent.replace(/\\s+/g, " ").includes(text));
}) && document.getElementById("overlay").hidden"""

FRAME_BACKGROUND = """([frame, css]) => {
  const doc = document.querySelector(frame).contentDocument;
  return getComputedStyle(doc.querySelector(css)).backgroundColor;
}"""

RELOADED_WITH = """([frame, query, present = true]) => {
  const win = document.querySelector(frame).contentWindow;
  return win.location.search.includes(query) === present
    && win.document.readyState === "complete";
}"""


def _open_issue(new_page: Callable[..., Any], server: PreviewServer) -> Any:
    page = new_page()
    page.goto(f"{server.url}issues/{ENGLISH}/", wait_until="load")
    page.wait_for_function(PAINTED, arg=4)
    return page


def _wait_for(page: Any, script: str, arg: Any, what: str, timeout: int = WAIT_MS) -> None:
    try:
        page.wait_for_function(script, arg=arg, timeout=timeout)
    except PlaywrightTimeoutError as error:
        web_h1 = page.evaluate(FRAME_TEXT, [WEB, "h1"])
        overlay = page.evaluate("() => [document.getElementById('overlay').hidden,"
                                " document.getElementById('overlay').textContent.trim()]")
        raise AssertionError(f"{what}: not within {timeout} ms; the web view's h1 is "
                             f"{web_h1!r}, the overlay (hidden, text) is {overlay!r}, "
                             f"newsletterPreview is "
                             f"{page.evaluate('() => window.newsletterPreview')!r}") from error


def _with_lead_headline(text: str, headline: str) -> str:
    new, count = LEAD_HEADLINE.subn(lambda m: f'{m.group(1)}"{headline}"', text, count=1)
    assert count == 1, "no lead headline line in the issue file"
    return new


def _set_lead_headline(issue: Path, headline: str) -> None:
    """Save the issue file with another lead headline, in one write."""
    issue.write_text(_with_lead_headline(issue.read_text(encoding="utf-8"), headline),
                     encoding="utf-8")


def _lead_headline(issue: Path) -> str:
    match = LEAD_HEADLINE.search(issue.read_text(encoding="utf-8"))
    assert match, issue
    return match.group(2)


@pytest.mark.browser
def test_a_save_shows_in_every_view_without_reloading_the_page(
        new_page: Callable[..., Any], preview: PreviewServer, desk: Path) -> None:
    issue = desk / "issues" / f"{ENGLISH}.yaml"
    page = _open_issue(new_page, preview)
    assert page.evaluate(FRAME_TEXT, [WEB, "h1"]) == _lead_headline(issue)
    page.evaluate("() => { window.previewTestMarker = 'still the same page'; }")
    page.evaluate(f"() => document.querySelector(\"{WEB}\").contentWindow.scrollTo(0, 600)")
    assert page.evaluate(f"() => document.querySelector(\"{WEB}\").contentWindow.scrollY") == 600
    _screenshot(page, "issue")

    # 1. an edit comes on screen, in the web view and the email
    edited = "Kelp returns to the Marrow Coast in an edit saved by the preview test"
    version = preview.version
    _set_lead_headline(issue, edited)
    _wait_for(page, EVERY_VIEW_SHOWS, edited, "the edited headline in every view", RELOAD_MS)
    assert preview.version > version
    assert page.evaluate("() => window.previewTestMarker") == "still the same page", \
        "the preview page itself was reloaded"
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1

    # every view of the new version painted; the web view kept its place
    now = page.evaluate("() => window.newsletterPreview.version")
    _wait_for(page, """(v) => new Set(window.newsletterPreview.painted
                   .filter((p) => p.version === v).map((p) => p.view)).size === 3""",
              now, "every view painted at the new version")
    scroll_y = page.evaluate(f"() => document.querySelector(\"{WEB}\").contentWindow.scrollY")
    assert scroll_y >= 500, f"the web view scrolled back to {scroll_y} after the reload"

    # 2. a broken file: the overlay names the file and line
    lines = issue.read_text(encoding="utf-8").splitlines(keepends=True)
    broken_line = 6
    lines.insert(broken_line - 1, "  preheader_extra: an indented key where none may be\n")
    issue.write_text("".join(lines), encoding="utf-8")
    _wait_for(page, "() => !document.getElementById('overlay').hidden",
              None, "the error overlay", RELOAD_MS)
    where = page.locator("#overlay code").all_inner_texts()
    assert any(re.search(rf"{ENGLISH}\.yaml:{broken_line}(:\d+)?$", w) for w in where), where
    assert page.locator("#overlay").is_visible()
    _screenshot(page, "overlay")

    # 3. fixed: the overlay goes, a fresh render comes
    del lines[broken_line - 1]
    fixed = "Kelp returns to the Marrow Coast after the broken save was fixed"
    issue.write_text(_with_lead_headline("".join(lines), fixed), encoding="utf-8")
    _wait_for(page, EVERY_VIEW_SHOWS, fixed, "the overlay gone and the fixed file in every view",
              RELOAD_MS)
    assert page.evaluate("() => window.previewTestMarker") == "still the same page"


@pytest.mark.browser
def test_dark_mode_images_off_and_the_size_badge(
        new_page: Callable[..., Any], preview: PreviewServer) -> None:
    page = _open_issue(new_page, preview)
    state = json.loads(_get(preview, f"/issues/{ENGLISH}/state.json"))
    badge = page.inner_text("#size").strip()
    match = re.fullmatch(r"email (\d+\.\d) KB of 102 KB", badge)
    assert match, badge
    assert abs(float(match.group(1)) - state["email_bytes"] / 1024) < 0.06, (badge, state)
    assert "over" not in (page.get_attribute("#size", "class") or "")

    light_email = page.evaluate(FRAME_BACKGROUND, [EMAIL_600, ".nl-page"])
    light_web = page.evaluate(FRAME_BACKGROUND, [WEB, "body"])
    painted = page.evaluate("() => window.newsletterPreview.painted.length")
    page.check("#dark")
    for frame in (WEB, EMAIL_600, EMAIL_375):
        _wait_for(page, RELOADED_WITH, [frame, "dark=1"], f"{frame} reloaded with ?dark=1")
    page.wait_for_function(PAINTED, arg=painted + 4)
    dark_email = page.evaluate(FRAME_BACKGROUND, [EMAIL_600, ".nl-page"])
    dark_web = page.evaluate(FRAME_BACKGROUND, [WEB, "body"])
    assert dark_email != light_email, f"the email stays {light_email} in dark mode"
    assert dark_web != light_web, f"the web page stays {light_web} in dark mode"
    _screenshot(page, "dark")

    page.uncheck("#dark")
    count = "([frame, css]) => document.querySelector(frame).contentDocument" \
            ".querySelectorAll(css).length"
    _wait_for(page, RELOADED_WITH, [EMAIL_600, "dark=1", False], "the email back in light mode")
    assert page.evaluate(count, [EMAIL_600, "img[src]"]) > 0, "the example email has pictures"
    page.check("#no-images")
    for frame in (EMAIL_600, EMAIL_375):
        _wait_for(page, RELOADED_WITH, [frame, "images=0"], f"{frame} reloaded with ?images=0")
        assert page.evaluate(count, [frame, "img"]) > 0, "the img elements (and alt) stay"
        assert page.evaluate(count, [frame, "img[src]"]) == 0, f"{frame} still loads pictures"
    _screenshot(page, "images-off")


@pytest.mark.browser
def test_a_burst_of_saves_is_one_rebuild(new_page: Callable[..., Any], desk: Path) -> None:
    """Five quick saves reach the page as one rebuild, or two: the saves the
    watcher has seen when it yields make the first, and every save that lands
    while a rebuild runs waits for one more. The watcher is held in its first
    rebuild (where the terminal is told what changed) until the burst is over,
    as a loaded machine would hold it, so the saves land during that rebuild
    however slowly this machine makes them: what is counted is rebuilds
    against saves, never the time the saves took."""
    burst_over = threading.Event()
    held: list[bool] = []

    def hold(paths: set[Path], problems: list[str]) -> None:
        held.append(burst_over.wait(WAIT_MS / 1000))

    issue = desk / "issues" / f"{ENGLISH}.yaml"
    server = api.preview_server(desk, host="127.0.0.1", port=0, on_change=hold)
    with _serving(server) as preview:
        page = _open_issue(new_page, preview)
        page.evaluate("""() => {
          window.previewTestVersions = [];
          new EventSource("/__events").onmessage = (e) => window.previewTestVersions.push(+e.data);
        }""")
        page.wait_for_function("() => window.previewTestVersions.length >= 1")
        before = preview.version

        for n in range(5):
            _set_lead_headline(issue, f"Burst of saves, number {n}")
            time.sleep(0.02)
        burst_over.set()
        _wait_for(page, SHOWS, [WEB, "h1", "Burst of saves, number 4"], "the last save",
                  RELOAD_MS)

        # quiet: no version for 800 ms (twice the watcher's grouping window)
        last = [preview.version, time.monotonic()]

        def quiet() -> bool:
            if preview.version != last[0]:
                last[:] = [preview.version, time.monotonic()]
            return time.monotonic() - last[1] > 0.8

        _wait_until(quiet, 5.0, "the watcher to settle")
        bumps = preview.version - before
        assert held and held[0], "the first rebuild was not held until the burst was over"
        assert 1 <= bumps <= 2, f"5 saves made {bumps} rebuilds"
        seen = page.evaluate("() => window.previewTestVersions")
        assert 1 <= len(set(seen) - {before}) <= 2, f"the page was told of versions {seen}"
        assert page.evaluate("() => window.newsletterPreview.version") == preview.version


@pytest.mark.browser
def test_start_page_follows_new_issue_files(new_page: Callable[..., Any],
                                            preview: PreviewServer, desk: Path) -> None:
    page = new_page(1000, 700)
    # count the messages the page's own event stream gets (first: connected)
    page.add_init_script("""(() => {
      const Native = window.EventSource;
      window.previewTestMessages = 0;
      window.EventSource = function (url) {
        const source = new Native(url);
        source.addEventListener("message", () => { window.previewTestMessages += 1; });
        return source;
      };
    })()""")
    page.goto(preview.url, wait_until="load")
    links = "() => Array.from(document.querySelectorAll('ol.issues a')).map((a) => a.href)"
    assert page.evaluate(links) == [f"{preview.url}issues/{s}/"
                                    for s in (ENGLISH, CHINESE, ARABIC)]
    page.wait_for_function("() => window.previewTestMessages >= 1")
    page.evaluate("() => { window.previewTestMarker = 'before'; }")

    (desk / "issues" / f"{ADDED}.yaml").write_text(
        DRAFT_TEXT.replace(DRAFT, ADDED), encoding="utf-8")
    try:
        page.wait_for_function(f"() => document.querySelector(\"a[href='/issues/{ADDED}/']\")",
                               timeout=RELOAD_MS)
    except PlaywrightTimeoutError as error:
        raise AssertionError(f"the start page did not list {ADDED} within {RELOAD_MS} ms: "
                             f"{page.evaluate(links)}") from error
    assert page.evaluate(links) == [f"{preview.url}issues/{s}/"
                                    for s in (ADDED, ENGLISH, CHINESE, ARABIC)]
    assert page.evaluate("() => window.previewTestMarker") is None, "listed without a reload?"
    _screenshot(page, "start")


@pytest.mark.browser
def test_a_save_during_a_reload_keeps_the_scroll_position(
        new_page: Callable[..., Any], preview: PreviewServer, desk: Path) -> None:
    """Two saves close together: the second rebuild arrives while the web view is
    still loading the first (held here by holding back its page, as a slow
    machine would). The web view must still come back where the editor was, and
    `newsletterPreview.painted` must name the versions that were really shown."""
    issue = desk / "issues" / f"{ENGLISH}.yaml"
    page = _open_issue(new_page, preview)
    page.evaluate(f"""() => {{
      const frame = document.querySelector("{WEB}");
      window.previewTestLoads = [];  // the version of every document the web view loaded
      frame.addEventListener("load", () => window.previewTestLoads.push(
        Number(new URLSearchParams(frame.contentWindow.location.search).get("v"))));
      frame.contentWindow.scrollTo(0, 600);
    }}""")
    baseline = page.evaluate("() => window.newsletterPreview.painted.length")
    start = page.evaluate("() => window.newsletterPreview.version")
    held: list[Any] = []
    holding = [True]

    def hold(route: Any) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    def web_asked(version: int) -> bool:
        return any(f"index.html?v={version}" in route.request.url for route in held)

    def wait_until_asked(version: int) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while not web_asked(version):  # route handlers run while Playwright is being called
            assert time.monotonic() < deadline, f"the web view never asked for version {version}"
            page.wait_for_timeout(20)

    page.route("**/index.html?v=*", hold)
    try:
        _set_lead_headline(issue, "First of two quick saves")
        _wait_for(page, "(v) => window.newsletterPreview.version > v", start,
                  "the first save's version", RELOAD_MS)
        first = page.evaluate("() => window.newsletterPreview.version")
        wait_until_asked(first)  # the web view is now half-way through a reload
        _set_lead_headline(issue, "Second of two quick saves")
        _wait_for(page, "(v) => window.newsletterPreview.version > v", first,
                  "the second save's version", RELOAD_MS)
        last = page.evaluate("() => window.newsletterPreview.version")
        wait_until_asked(last)
    finally:
        holding[0] = False
        for route in held:
            with contextlib.suppress(Exception):  # a request its frame gave up
                route.continue_()
    _wait_for(page, SHOWS, [WEB, "h1", "Second of two"], "the second save", RELOAD_MS)
    _wait_for(page, "(v) => window.previewTestLoads.includes(v)", last,
              "the web view to finish loading the last version")
    page.evaluate("() => new Promise((done) => requestAnimationFrame("
                  "() => requestAnimationFrame(done)))")  # the painted entries are pushed

    problems = []
    scroll_y = page.evaluate(f"() => document.querySelector(\"{WEB}\").contentWindow.scrollY")
    if scroll_y < 500:
        problems.append(
            f"the web view came back at scrollY {scroll_y}, not near 600: preview.js load() "
            "reads the position from the frame while the first reload is half-loaded (0), and "
            "both reloads' 'load' listeners (added with once: true) fire on the last "
            "document, the later one scrolling it to 0")
    # the views count as shown once laid out, before their load event: the page
    # that was open before the saves may finish loading after the listener went on
    loads = [v for v in page.evaluate("() => window.previewTestLoads") if v > start]
    painted = [p["version"] for p in page.evaluate("() => window.newsletterPreview.painted")
               [baseline:] if p["view"] == "index.html"]
    if sorted(painted) != sorted(loads):
        problems.append(
            f"newsletterPreview.painted says the web view painted versions {painted}, but it "
            f"loaded {loads}: the first reload's listener records the second reload's "
            "document under the first version")
    assert problems == [], "\n".join(problems)


def test_a_name_pointed_at_this_computer_by_another_site_is_refused(
        preview: PreviewServer) -> None:
    """DNS rebinding: a web page that points a name of its own at 127.0.0.1 must
    not read the drafts through the reader's browser."""
    address = urlsplit(preview.url)
    port = address.port
    connection = http.client.HTTPConnection(address.hostname or "", port, timeout=10)
    try:
        connection.request("GET", "/issues/2026-11-27/state.json",
                           headers={"Host": f"attacker.example:{port}"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 421 and b"Tideline" not in body


IDLE_MS = 10_000  # how long a fed issue is watched with no edits: a window, not a limit

# counts the messages of every event stream the page opens (the first: connected)
COUNT_EVENTS = """(() => {
  const Native = window.EventSource;
  window.previewTestMessages = 0;
  window.EventSource = function (url) {
    const source = new Native(url);
    source.addEventListener("message", () => { window.previewTestMessages += 1; });
    return source;
  };
})()"""

RELOADS = """() => ({
  messages: window.previewTestMessages,
  painted: window.newsletterPreview ? window.newsletterPreview.painted.length : null,
  navigations: performance.getEntriesByType("navigation").length,
  marker: window.previewTestMarker || null,
})"""


@pytest.mark.browser
def test_a_fed_issue_left_open_does_not_reload_and_one_save_reloads_it_once(
        new_page: Callable[..., Any], fed_desk: Path) -> None:
    """A fed issue open for 10 s with no edits: no version reaches the page and no
    view loads again, though every render reads the store and the watcher hears it
    (before, the page reloaded about nine times a second). Then one save: one
    version, each view loaded once more, and the pages that do not show that issue
    (another issue, the list of issues) load nothing again."""
    issue = fed_desk / "issues" / f"{FED}.yaml"
    server = api.preview_server(fed_desk, host="127.0.0.1", port=0)
    watching = _Watching(server)
    with _serving(server) as preview:
        pages = {}
        for name, address in (("fed", f"issues/{FED}/"), ("other", f"issues/{ENGLISH}/"),
                              ("start", "")):
            page = new_page(1000, 700)
            page.add_init_script(COUNT_EVENTS)
            page.goto(preview.url + address, wait_until="load")
            page.wait_for_function("() => window.previewTestMessages >= 1")
            if name != "start":
                page.wait_for_function(PAINTED, arg=4)
            page.evaluate("() => { window.previewTestMarker = 'the page as opened'; }")
            pages[name] = page
        opened = {name: page.evaluate(RELOADS) for name, page in pages.items()}
        version = preview.version

        pages["fed"].wait_for_timeout(IDLE_MS)
        watching.settle_store(fed_desk)
        heard = sum(STORE_SIDE in {p.name for p in paths} for _, paths in watching.batches)
        assert heard >= 1, "the watcher never heard the store (the fed issue reads it)"
        idle = {name: page.evaluate(RELOADS) for name, page in pages.items()}
        assert (idle, preview.version) == (opened, version), (
            f"with no edits for {IDLE_MS / 1000:.0f} s the pages went from {opened} to "
            f"{idle} (server version {version} -> {preview.version}) while the watcher "
            f"heard the store {heard} times")

        text = issue.read_text(encoding="utf-8")
        issue.write_text(text.replace("Egg cases by the hundred", "Egg cases by the thousand"),
                         encoding="utf-8")
        _wait_for(pages["fed"], SHOWS, [WEB, "body", "Egg cases by the thousand"],
                  "the save in the web view", RELOAD_MS)
        _wait_for(pages["fed"], """(v) => window.newsletterPreview.painted
                    .filter((p) => p.version === v).length === 4""", preview.version,
                  "every view painted at the new version")
        for name, page in pages.items():  # every page heard of the new version
            page.wait_for_function("(n) => window.previewTestMessages >= n",
                                   arg=idle[name]["messages"] + 1)
        watching.settle_store(fed_desk)  # the save's render read the store too
        saved = {name: page.evaluate(RELOADS) for name, page in pages.items()}
        assert preview.version == version + 1
        assert saved["fed"] == {**idle["fed"], "messages": idle["fed"]["messages"] + 1,
                                "painted": idle["fed"]["painted"] + 4}, saved["fed"]
        for name in ("other", "start"):
            assert saved[name] == {**idle[name], "messages": idle[name]["messages"] + 1}, (
                f"the {name} page does not show the saved issue, yet went from {idle[name]} "
                f"to {saved[name]}")
