"""collect.fetch: feeds over real HTTP on 127.0.0.1, and the pure decisions beneath.

A small threaded server serves whatever each test routes to a path and
records every request it saw (and, for some routes, the bytes it sent).
Timeouts and caps are small, so most tests end within a second or two;
nothing leaves 127.0.0.1. No test times the tool: what bounds the work is
proved by counting, and a run that may hang goes through `within`, a guard
many times the time it should take.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import http.server
import logging
import multiprocessing
import os
import re
import signal
import socket
import ssl
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import brotli  # type: ignore[import-untyped]  # no stubs
import httpx
import pytest

import newsletter.collect
from newsletter import __version__
from newsletter.collect import USER_AGENT, FetchOptions, fetch_feeds
from newsletter.collect import fetch as fetch_module
from newsletter.collect.parse import ParsedFeed, parse_feed
from newsletter.errors import FeedError, StoreError
from newsletter.model import FeedSpec, FeedState, FetchOutcome, FetchResult, Story

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
# small limits: a slow or huge response fails in well under a second
FAST = FetchOptions(connect_timeout=1.0, read_timeout=0.4, total_timeout=2.0,
                    max_bytes=64 * 1024, workers=0)

Route = Callable[["Handler"], None]
T = TypeVar("T")


def rss(stamp: str = "a", items: int = 3) -> bytes:
    """A small RSS 2.0 feed; a different `stamp` gives different stories."""
    entries = "".join(
        f"<item><title>Story {stamp}{i}</title><link>https://example.org/{stamp}/{i}</link>"
        f"<guid>https://example.org/{stamp}/{i}</guid>"
        f"<pubDate>Mon, 16 Nov 2026 10:0{i}:00 GMT</pubDate>"
        f"<description>Text {stamp} {i}</description></item>" for i in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {stamp}</title><link>https://example.org/</link>"
            f"<description>Example</description>{entries}</channel></rss>").encode()


# --- the server -------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Site:
    """What the server serves (`routes`) and what it saw (`requests`)."""

    server: http.server.ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    sent: dict[str, int] = field(default_factory=dict)
    ended: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    most_in_flight: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: Any  # a ThreadingHTTPServer carrying `.site`

    @property
    def site(self) -> Site:
        site: Site = self.server.site
        return site

    def do_GET(self) -> None:
        self.site.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.site.routes.get(self.path)
        if route is None:
            self.reply(404, b"no such route")
        else:
            route(self)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def site() -> Iterator[Site]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    served = Site(server=server)
    server.site = served  # type: ignore[attr-defined]  # read by Handler.site
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.stop.set()  # slow handlers wake up and finish
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; these tests talk to 127.0.0.1 only."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)


# routes


def serve(body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Route:
    return lambda h: h.reply(status, body, headers)


def with_etag(body: bytes, etag: str) -> Route:
    def route(h: Handler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.reply(304, headers={"ETag": etag})
        else:
            h.reply(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})
    return route


def with_last_modified(body: bytes, stamp: str) -> Route:
    def route(h: Handler) -> None:
        if h.headers.get("If-Modified-Since") == stamp:
            h.reply(304)
        else:
            h.reply(200, body, {"Last-Modified": stamp})
    return route


def redirect(status: int, location: str) -> Route:
    return lambda h: h.reply(status, b"", {"Location": location})


def slow(seconds: float, body: bytes) -> Route:
    def route(h: Handler) -> None:
        h.site.stop.wait(seconds)
        h.reply(200, body)
    return route


def trickle(interval: float) -> Route:
    """Headers at once, then a byte every `interval`: each read is on time, the whole is not.

    Counts the bytes it managed to send, and says when it stopped.
    """
    def route(h: Handler) -> None:
        done = h.site.ended.setdefault(h.path, threading.Event())
        h.site.sent[h.path] = 0
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        try:
            for _ in range(1000):
                if h.site.stop.wait(interval):
                    return
                h.wfile.write(b" ")
                h.wfile.flush()
                h.site.sent[h.path] += 1
        except OSError:  # the client hung up: what the test wants to see
            h.close_connection = True
        finally:
            done.set()
    return route


def endless(chunk: int = 16 * 1024, interval: float = 0.005) -> Route:
    """A body that never ends (no length, close-delimited); counts what it managed to send."""
    def route(h: Handler) -> None:
        done = h.site.ended.setdefault(h.path, threading.Event())
        h.site.sent[h.path] = 0
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            while not h.site.stop.is_set() and h.site.sent[h.path] < 50 * 1024 * 1024:
                h.wfile.write(b"<!-- padding -->" * (chunk // 16))
                h.wfile.flush()
                h.site.sent[h.path] += chunk
                time.sleep(interval)
        except OSError:  # the client hung up: what the test wants to see
            pass
        finally:
            done.set()
    return route


def reset_mid_body(h: Handler) -> None:
    """Part of the body, then a TCP reset (SO_LINGER 0), as a crashed proxy sends."""
    h.send_response(200)
    h.send_header("Content-Length", "10000")
    h.end_headers()
    h.wfile.write(rss()[:100])
    h.wfile.flush()
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def drop_mid_body(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "10000")
    h.end_headers()
    h.wfile.write(rss()[:100])
    h.wfile.flush()
    h.connection.shutdown(socket.SHUT_RDWR)
    h.close_connection = True


def busy(seconds: float) -> Route:
    """Counts how many requests are in flight at once."""
    def route(h: Handler) -> None:
        site = h.site
        with site.lock:
            site.in_flight += 1
            site.most_in_flight = max(site.most_in_flight, site.in_flight)
        site.stop.wait(seconds)
        with site.lock:
            site.in_flight -= 1
        h.reply(200, rss(h.path.strip("/")))
    return route


# --- helpers ----------------------------------------------------------------------


def spec(name: str, url: str | None = None, path: str | None = None) -> FeedSpec:
    return FeedSpec(name=name, url=url, path=path)


def fetch_one(feed: FeedSpec, state: FeedState | None = None, *, root: Path | None = None,
              now: dt.datetime = NOW, options: FetchOptions = FAST,
              parse: Any = parse_feed) -> FetchResult:
    states = {feed.name: state} if state else {}
    [result] = fetch_feeds([feed], states, root=root or Path.cwd(), now=now, options=options,
                           parse=parse)
    return result


class CountingParse:
    """`parse_feed`, counting its calls; `parse` is a closure, so it runs in this process."""

    def __init__(self) -> None:
        self.calls = 0

        def parse(data: bytes, **kwargs: Any) -> ParsedFeed:
            self.calls += 1
            return parse_feed(data, **kwargs)

        self.parse = parse


@pytest.fixture()
def counting() -> CountingParse:
    return CountingParse()


def no_children() -> bool:
    return not multiprocessing.active_children()


def within(seconds: float, run: Callable[[], T]) -> T:
    """`run()`'s result, or a failed test if it has not returned in `seconds`.

    A hang guard, not a stopwatch: `seconds` is many times what `run` should
    take, so a loaded machine never trips it and a hang never blocks the suite.
    """
    outcome: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(run())
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            error.append(exc)

    thread = threading.Thread(target=target, name="hang-guard", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds:g} s: it hangs"
    if error:
        raise error[0]
    return outcome[0]


# --- conditional GET --------------------------------------------------------------


def test_etag_second_fetch_is_not_modified_and_not_parsed(
        site: Site, counting: CountingParse) -> None:
    site.routes["/etag.xml"] = with_etag(rss(), '"v1"')
    feed = spec("etag", site.url("/etag.xml"))
    first = fetch_one(feed, parse=counting.parse)
    assert first.outcome == FetchOutcome.UPDATED and len(first.stories) == 3
    assert first.state.etag == '"v1"' and counting.calls == 1

    second = fetch_one(feed, first.state, parse=counting.parse)
    assert second.outcome == FetchOutcome.NOT_MODIFIED
    assert second.stories == () and counting.calls == 1
    assert site.requests[-1].headers["if-none-match"] == '"v1"'
    assert second.state.etag == '"v1"' and second.state.body_hash == first.state.body_hash


def test_last_modified_second_fetch_is_not_modified(site: Site, counting: CountingParse) -> None:
    stamp = "Mon, 16 Nov 2026 10:00:00 GMT"
    site.routes["/lm.xml"] = with_last_modified(rss(), stamp)
    feed = spec("lm", site.url("/lm.xml"))
    first = fetch_one(feed, parse=counting.parse)
    assert first.outcome == FetchOutcome.UPDATED and first.state.last_modified == stamp
    second = fetch_one(feed, first.state, parse=counting.parse)
    assert second.outcome == FetchOutcome.NOT_MODIFIED and counting.calls == 1
    assert site.requests[-1].headers["if-modified-since"] == stamp
    assert "if-none-match" not in site.requests[-1].headers


def test_same_body_without_validators_is_unchanged_by_hash(
        site: Site, counting: CountingParse) -> None:
    site.routes["/plain.xml"] = serve(rss("a"))
    feed = spec("plain", site.url("/plain.xml"))
    first = fetch_one(feed, parse=counting.parse)
    assert first.outcome == FetchOutcome.UPDATED
    assert first.state.etag is None and first.state.last_modified is None
    assert first.state.body_hash and len(first.state.body_hash) == 64

    second = fetch_one(feed, first.state, parse=counting.parse)
    assert second.outcome == FetchOutcome.UNCHANGED and counting.calls == 1
    assert second.state == first.state

    site.routes["/plain.xml"] = serve(rss("b"))
    third = fetch_one(feed, second.state, parse=counting.parse)
    assert third.outcome == FetchOutcome.UPDATED and counting.calls == 2
    assert {s.title for s in third.stories} == {"Story b0", "Story b1", "Story b2"}


def test_max_age_keeps_the_feed_fresh_without_a_request(site: Site) -> None:
    site.routes["/cached.xml"] = serve(rss(), {"Cache-Control": "public, max-age=600"})
    feed = spec("cached", site.url("/cached.xml"))
    first = fetch_one(feed)
    assert first.state.fresh_until == NOW + dt.timedelta(seconds=600)

    inside = fetch_one(feed, first.state, now=NOW + dt.timedelta(minutes=5))
    assert inside.outcome == FetchOutcome.FRESH and inside.state == first.state
    assert inside.hint.endswith("it will be asked again after 2026-11-20 09:10 UTC")
    assert site.hits("/cached.xml") == 1

    after = fetch_one(feed, first.state, now=NOW + dt.timedelta(minutes=11))
    assert after.outcome == FetchOutcome.UNCHANGED and site.hits("/cached.xml") == 2


# --- redirects --------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_moves_the_feed(site: Site, status: int) -> None:
    site.routes["/old.xml"] = redirect(status, "/new.xml")
    site.routes["/new.xml"] = serve(rss())
    feed = spec("moved", site.url("/old.xml"))
    result = fetch_one(feed)
    assert result.outcome == FetchOutcome.UPDATED
    assert result.moved_to == site.url("/new.xml") == result.state.url

    again = fetch_one(feed, result.state)  # the next fetch goes straight to the new address
    assert again.outcome == FetchOutcome.UNCHANGED
    assert [seen.path for seen in site.requests] == ["/old.xml", "/new.xml", "/new.xml"]


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_does_not_move_the_feed(site: Site, status: int) -> None:
    site.routes["/here.xml"] = redirect(status, "/for-now.xml")
    site.routes["/for-now.xml"] = serve(rss())
    feed = spec("temporary", site.url("/here.xml"))
    result = fetch_one(feed)
    assert result.outcome == FetchOutcome.UPDATED and len(result.stories) == 3
    assert result.moved_to is None and result.state.url == feed.url


def test_redirect_loop_fails(site: Site) -> None:
    site.routes["/a"] = redirect(302, "/b")
    site.routes["/b"] = redirect(302, "/a")
    result = fetch_one(spec("loop", site.url("/a")))
    assert result.outcome == FetchOutcome.FAILED
    assert "redirects more than 5 times" in result.error
    assert site.hits("/a") + site.hits("/b") == 6


def test_permanent_redirect_to_a_web_page_does_not_move_the_feed(site: Site) -> None:
    site.routes["/feed"] = redirect(301, "/home")
    site.routes["/home"] = serve(b"<!doctype html><html><body>Welcome</body></html>",
                                 {"Content-Type": "text/html"})
    result = fetch_one(spec("gone", site.url("/feed")))
    assert result.outcome == FetchOutcome.FAILED and result.moved_to is None
    assert "not a feed" in result.error and site.url("/home") in result.error
    assert result.state.url == site.url("/feed")


# --- what servers answer ----------------------------------------------------------


@pytest.mark.parametrize(("status", "error", "hint"), [
    (404, "there is no feed at this address (HTTP 404 Not Found)", "delete it from newsletter"),
    (410, "the feed was removed (HTTP 410 Gone); newsletter will not ask for it again",
     "find its new address"),
    (500, "the server failed (HTTP 500 Internal Server Error)", "try again later"),
    (503, "the server failed (HTTP 503 Service Unavailable)", "try again later"),
    (403, "the server refuses to give the feed (HTTP 403 Forbidden)", "browser"),
    (418, "the server answered HTTP 418", "browser"),
])
def test_http_errors_fail_with_a_hint(site: Site, status: int, error: str, hint: str) -> None:
    site.routes["/feed.xml"] = serve(b"nope", status=status)
    old = FeedState(url=site.url("/feed.xml"), etag='"old"', body_hash="ab" * 32)
    result = fetch_one(spec("broken", site.url("/feed.xml")), old)
    assert result.outcome == FetchOutcome.FAILED
    assert result.error.startswith(error) and hint in result.hint
    # a failure keeps what the last good fetch left (and a 410 says when it was gone)
    assert result.state == (replace(old, gone_since=NOW) if status == 410 else old)


def test_a_gone_feed_is_not_asked_again(site: Site) -> None:
    site.routes["/feed.xml"] = serve(b"", status=410)
    feed = spec("gone", site.url("/feed.xml"))
    first = fetch_one(feed)
    assert first.outcome == FetchOutcome.FAILED and first.state.gone_since == NOW
    later = fetch_one(feed, first.state, now=NOW + dt.timedelta(days=30))
    assert later.outcome == FetchOutcome.GONE
    assert site.hits("/feed.xml") == 1
    assert "2026-11-20" in later.error and "410" in later.error
    assert 'newsletter feeds enable gone' in later.hint
    assert later.state == first.state  # still gone, still dated by the first 410


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_keeps_the_feed_from_being_asked(site: Site, status: int) -> None:
    site.routes["/busy.xml"] = serve(b"slow down", {"Retry-After": "120"}, status=status)
    feed = spec("busy", site.url("/busy.xml"))
    result = fetch_one(feed)
    assert result.outcome == FetchOutcome.FAILED and "asked newsletter to wait" in result.error
    assert result.state.fresh_until == NOW + dt.timedelta(seconds=120)
    assert result.hint == "newsletter will not ask again before 2026-11-20 09:02 UTC"

    later = fetch_one(feed, result.state, now=NOW + dt.timedelta(seconds=60))
    assert later.outcome == FetchOutcome.FRESH and site.hits("/busy.xml") == 1
    # the editor reads when the feed will be asked again, and why it was not asked now
    assert later.hint == ("the server asked newsletter to wait (Retry-After or Cache-Control: "
                          "max-age); it will be asked again after 2026-11-20 09:02 UTC")


def test_response_slower_than_the_read_timeout_fails(site: Site) -> None:
    site.routes["/slow.xml"] = slow(60.0, rss())  # until the test ends
    result = within(10, lambda: fetch_one(spec("slow", site.url("/slow.xml"))))
    assert result.outcome == FetchOutcome.FAILED
    assert result.error == "the server stopped sending for 0.4 s" and "try again" in result.hint


def test_a_feed_that_trickles_past_the_total_timeout_fails(site: Site) -> None:
    site.routes["/trickle.xml"] = trickle(0.05)
    options = FetchOptions(read_timeout=0.4, total_timeout=0.5, workers=0)
    result = within(10, lambda: fetch_one(spec("trickle", site.url("/trickle.xml")),
                                          options=options))
    assert result.error == "the feed took longer than 0.5 s to download"
    # the client hung up mid-body: the server saw it, having sent part of the 1000 bytes
    assert site.ended["/trickle.xml"].wait(10)
    assert site.sent["/trickle.xml"] < 1000


# --- size, encodings, broken connections ---------------------------------------


def test_body_over_the_cap_is_refused_while_it_streams(site: Site) -> None:
    site.routes["/endless.xml"] = endless()
    result = within(10, lambda: fetch_one(spec("endless", site.url("/endless.xml"))))
    assert result.outcome == FetchOutcome.FAILED
    assert result.error == "the feed is larger than the 64 KB newsletter reads"
    assert "archive" in result.hint
    # the client hung up early: the server saw the connection close, having sent little
    assert site.ended["/endless.xml"].wait(10)
    assert site.sent["/endless.xml"] < 1024 * 1024


def test_declared_length_over_the_cap_is_refused_before_reading(site: Site) -> None:
    site.routes["/big.xml"] = serve(b"x" * (200 * 1024))
    result = fetch_one(spec("big", site.url("/big.xml")))
    assert result.error == "the feed is 200 KB, more than the 64 KB newsletter reads"


@pytest.mark.parametrize(("coding", "encode"), [
    ("gzip", gzip.compress),
    ("br", brotli.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
])
def test_compressed_feeds_are_decoded(site: Site, coding: str,
                                      encode: Callable[[bytes], bytes]) -> None:
    body = rss(items=20)
    site.routes["/packed.xml"] = serve(encode(body), {"Content-Encoding": coding})
    result = fetch_one(spec("packed", site.url("/packed.xml")))
    assert result.outcome == FetchOutcome.UPDATED and len(result.stories) == 20
    assert site.requests[0].headers["accept-encoding"] == "gzip, deflate, br"


def test_compressed_body_is_capped_as_it_inflates(site: Site) -> None:
    """36 KB of brotli that would inflate to 200 MB is refused at the 64 KB cap."""
    packer = brotli.Compressor(quality=1)
    bomb = b"".join(packer.process(b"\0" * (16 << 20)) for _ in range(12)) + packer.finish()
    assert len(bomb) < FAST.max_bytes
    site.routes["/bomb.xml"] = serve(bomb, {"Content-Encoding": "br"})
    tracemalloc.start()
    try:
        result = fetch_one(spec("bomb", site.url("/bomb.xml")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error == "the feed is larger than the 64 KB newsletter reads"
    assert peak < 20 * 1024 * 1024


def test_damaged_gzip_and_unknown_encodings_fail(site: Site) -> None:
    site.routes["/damaged.xml"] = serve(b"\x1f\x8bnot gzip at all", {"Content-Encoding": "gzip"})
    site.routes["/zstd.xml"] = serve(b"whatever", {"Content-Encoding": "zstd"})
    damaged, zstd = fetch_feeds(
        [spec("damaged", site.url("/damaged.xml")), spec("zstd", site.url("/zstd.xml"))], {},
        root=Path.cwd(), now=NOW, options=FAST)
    assert damaged.error.startswith("the server sent a damaged compressed feed")
    assert zstd.error == 'the server sent the feed encoded as "zstd", which newsletter cannot read'


def test_dropped_connection_fails(site: Site) -> None:
    site.routes["/dropped.xml"] = drop_mid_body
    result = fetch_one(spec("dropped", site.url("/dropped.xml")))
    assert result.outcome == FetchOutcome.FAILED
    assert result.error.startswith("the connection dropped before the feed was complete")
    assert "try again later" in result.hint


def test_a_reset_connection_says_what_happened(site: Site) -> None:
    """httpx reports a reset mid-body as ReadError(""): the detail comes from its cause."""
    site.routes["/reset.xml"] = reset_mid_body
    result = fetch_one(spec("reset", site.url("/reset.xml")))
    assert result.outcome == FetchOutcome.FAILED
    assert result.error == (
        "the connection dropped before the feed was complete (Connection reset by peer)")
    assert "()" not in result.error


def test_connection_refused_fails() -> None:
    with socket.socket() as taken:  # bound, never listening: connecting is refused
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = fetch_one(spec("refused", f"http://127.0.0.1:{port}/feed.xml"))
    assert result.error == "the server refused the connection"
    assert result.hint == "check the address, or whether the site is down"


def test_tls_failure_fails(site: Site) -> None:
    """https:// to a plain-HTTP server: the TLS handshake fails."""
    port = site.server.server_address[1]
    result = fetch_one(spec("tls", f"https://127.0.0.1:{port}/feed.xml"))
    assert result.error.startswith("the secure (TLS) connection failed")
    assert "https://" in result.hint


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "http://", "example.org/feed",
                                 "http://exa mple.org/feed", "http://[::1/feed", ""])
def test_invalid_addresses_fail_without_a_request(url: str) -> None:
    result = fetch_one(FeedSpec(name="odd", url=url or None))
    assert result.outcome == FetchOutcome.FAILED
    assert "address" in result.error and "http://" in result.hint


# --- feeds in the desk ------------------------------------------------------------


def test_local_feed_is_read_and_then_unchanged(tmp_path: Path, counting: CountingParse) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "local.xml").write_bytes(rss())
    feed = spec("local", path="feeds/local.xml")
    first = fetch_one(feed, root=tmp_path, parse=counting.parse)
    assert first.outcome == FetchOutcome.UPDATED and len(first.stories) == 3
    assert first.state.url == (tmp_path / "feeds" / "local.xml").resolve().as_uri()
    second = fetch_one(feed, first.state, root=tmp_path, parse=counting.parse)
    assert second.outcome == FetchOutcome.UNCHANGED and counting.calls == 1


def test_local_paths_may_not_leave_the_desk(tmp_path: Path) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    outside = tmp_path / "secret.xml"
    outside.write_bytes(rss())
    (desk / "link.xml").symlink_to(outside)
    results = fetch_feeds(
        [spec("up", path="../secret.xml"), spec("absolute", path=str(outside)),
         spec("link", path="link.xml")], {}, root=desk, now=NOW, options=FAST)
    assert [r.outcome for r in results] == [FetchOutcome.FAILED] * 3
    for result in results:
        assert result.error.endswith("is outside the desk folder")
        assert "inside the folder holding newsletter.yaml" in result.hint


def test_missing_local_file_fails(tmp_path: Path) -> None:
    result = fetch_one(spec("missing", path="feeds/nowhere.xml"), root=tmp_path)
    assert result.error == 'there is no file "feeds/nowhere.xml"'
    assert "relative to the folder holding newsletter.yaml" in result.hint


# --- a whole run ------------------------------------------------------------------


def test_one_bad_feed_never_stops_the_others(site: Site, tmp_path: Path) -> None:
    """Everything at once, parsed in the process pool with the real parser."""
    site.routes["/good.xml"] = with_etag(rss("g"), '"g"')
    site.routes["/gone.xml"] = serve(b"", status=410)
    site.routes["/error.xml"] = serve(b"", status=500)
    site.routes["/slow.xml"] = slow(60.0, rss())  # until the test ends
    site.routes["/page.html"] = serve(b"<!doctype html><html><body>hi</body></html>",
                                      {"Content-Type": "text/html"})
    site.routes["/packed.xml"] = serve(gzip.compress(rss("p")), {"Content-Encoding": "gzip"})
    site.routes["/dropped.xml"] = drop_mid_body
    (tmp_path / "local.xml").write_bytes(rss("l"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{taken.getsockname()[1]}/"
        feeds = [spec("good", site.url("/good.xml")), spec("gone", site.url("/gone.xml")),
                 spec("error", site.url("/error.xml")), spec("slow", site.url("/slow.xml")),
                 spec("page", site.url("/page.html")), spec("packed", site.url("/packed.xml")),
                 spec("dropped", site.url("/dropped.xml")), spec("refused", refused),
                 spec("local", path="local.xml"), spec("escape", path="../local.xml"),
                 spec("invalid", "ftp://example.org/")]
        seen: list[FetchResult] = []
        results = within(60, lambda: fetch_feeds(
            feeds, {}, root=tmp_path, now=NOW, on_result=seen.append,
            options=FetchOptions(read_timeout=0.4, workers=2)))
    assert [r.feed for r in results] == feeds  # in the order asked
    assert len(seen) == len(feeds)
    assert {r.feed.name for r in seen} == {f.name for f in feeds}
    outcome = {r.feed.name: r.outcome for r in results}
    assert [name for name, o in outcome.items() if o == FetchOutcome.UPDATED] == [
        "good", "packed", "local"]
    by_name = {r.feed.name: r for r in results}
    assert by_name["good"].stories[0].title == "Story g0"
    assert by_name["page"].error == "this is a web page, not a feed"
    assert by_name["page"].hint == "look for the feed's address on the page (an RSS or Atom link)"
    assert by_name["slow"].error == "the server stopped sending for 0.4 s"
    for result in results:
        assert result.outcome != FetchOutcome.FAILED or (result.error and result.hint)
    assert no_children()  # the pool is shut down, no process left behind


def test_the_server_sees_who_is_asking(site: Site) -> None:
    site.routes["/feed.xml"] = serve(rss())
    fetch_one(spec("ua", site.url("/feed.xml")))
    headers = site.requests[0].headers
    assert headers["user-agent"] == USER_AGENT == (
        f"newsletter/{__version__} (+https://github.com/newsletter-desk/newsletter)")
    assert re.fullmatch(r"newsletter/\d+\.\d+\.\d+\S* \(\+https://\S+\)", headers["user-agent"])
    assert "application/rss+xml" in headers["accept"]


@pytest.mark.parametrize(("per_host", "concurrency", "most"), [(2, 16, 2), (4, 1, 1)])
def test_connections_are_limited_per_host_and_overall(
        site: Site, per_host: int, concurrency: int, most: int) -> None:
    for i in range(6):
        site.routes[f"/f{i}"] = busy(0.1)
    options = FetchOptions(per_host=per_host, concurrency=concurrency, workers=0)
    results = fetch_feeds([spec(f"f{i}", site.url(f"/f{i}")) for i in range(6)], {},
                          root=Path.cwd(), now=NOW, options=options)
    assert all(r.outcome == FetchOutcome.UPDATED for r in results)
    assert site.most_in_flight == most


def test_on_result_is_called_as_each_feed_finishes(site: Site) -> None:
    site.routes["/quick.xml"] = serve(rss("q"))
    site.routes["/late.xml"] = slow(0.3, rss("l"))
    order: list[str] = []
    fetch_feeds([spec("late", site.url("/late.xml")), spec("quick", site.url("/quick.xml"))],
                {}, root=Path.cwd(), now=NOW, options=FAST,
                on_result=lambda r: order.append(r.feed.name))
    assert order == ["quick", "late"]


def test_an_error_in_on_result_stops_the_run_as_it_is(site: Site) -> None:
    site.routes["/a.xml"] = serve(rss("a"))
    site.routes["/b.xml"] = serve(rss("b"))

    def save(result: FetchResult) -> None:
        raise StoreError("the store is damaged")

    with pytest.raises(StoreError, match="damaged"):
        fetch_feeds([spec("a", site.url("/a.xml")), spec("b", site.url("/b.xml"))], {},
                    root=Path.cwd(), now=NOW, options=FetchOptions(workers=2), on_result=save)
    assert no_children()


def test_a_parser_bug_fails_one_feed_and_is_logged(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    site.routes["/feed.xml"] = serve(rss())

    def broken(data: bytes, **kwargs: Any) -> ParsedFeed:
        raise ZeroDivisionError("oops")

    with caplog.at_level(logging.ERROR, logger="newsletter.collect.fetch"):
        result = fetch_one(spec("buggy", site.url("/feed.xml")), parse=broken)
    assert result.error == "newsletter could not read this feed (ZeroDivisionError: oops)"
    assert "bug in newsletter" in result.hint
    assert "ZeroDivisionError" in caplog.text


def test_a_fake_parser_can_stand_in(site: Site) -> None:
    site.routes["/feed.xml"] = serve(b"anything")
    story = Story(id="abc", url="https://example.org/x", title="X")

    def fake(data: bytes, *, feed: str, url: str, content_type: str | None = None,
             fetched_at: dt.datetime, language: str | None = None) -> ParsedFeed:
        assert (data, feed, url, fetched_at, language) == (
            b"anything", "fake", site.url("/feed.xml"), NOW, "fr")
        return ParsedFeed(title="", stories=(story,), warnings=("odd",))

    result = fetch_one(FeedSpec(name="fake", url=site.url("/feed.xml"), language="fr"),
                       parse=fake)
    assert result.stories == (story,) and result.warnings == ("odd",)


def test_not_a_feed_keeps_the_old_state(site: Site) -> None:
    site.routes["/feed.xml"] = serve(b"<html><body>maintenance</body></html>",
                                     {"ETag": '"new"'})
    old = FeedState(url=site.url("/feed.xml"), etag='"old"', body_hash="cd" * 32)
    result = fetch_one(spec("page", site.url("/feed.xml")), old)
    assert result.outcome == FetchOutcome.FAILED and result.state == old


def test_feed_error_without_the_feed_prefix_reaches_the_result(site: Site) -> None:
    site.routes["/feed.xml"] = serve(rss())

    def refuse(data: bytes, *, feed: str, **kwargs: Any) -> ParsedFeed:
        raise FeedError("too strange", feed=feed, hint="ask the site")

    result = fetch_one(spec("odd", site.url("/feed.xml")), parse=refuse)
    assert (result.error, result.hint) == ("too strange", "ask the site")


def test_the_pool_is_skipped_for_a_single_feed_and_unpicklable_parsers() -> None:
    assert fetch_module._Parser(parse_feed, workers=0, limit=30)._pool is None
    assert fetch_module._Parser(lambda data, **kw: parse_feed(data, **kw), workers=2,
                                limit=30)._pool is None
    parser = fetch_module._Parser(parse_feed, workers=2, limit=30)
    try:
        assert parser._pool is not None
    finally:
        parser.close()


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_feeds([], {}, root=Path.cwd(), now=dt.datetime(2026, 1, 1))  # noqa: DTZ001


def test_the_package_exports_what_it_names() -> None:
    assert sorted(newsletter.collect.__all__) == sorted(fetch_module.__all__)
    for name in newsletter.collect.__all__:
        assert getattr(newsletter.collect, name) is getattr(fetch_module, name)


# --- pure decisions ---------------------------------------------------------------


MAX = dt.timedelta(days=1)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"cache-control": "max-age=300"}, 300),
    ({"cache-control": "public, max-age=\"300\""}, 300),
    ({"cache-control": "max-age=300", "age": "100"}, 200),
    ({"cache-control": "max-age=300", "age": "400"}, None),
    ({"cache-control": "max-age=0"}, None),
    ({"cache-control": "no-cache, max-age=300"}, None),
    ({"cache-control": "no-store"}, None),
    ({"cache-control": "max-age=soon"}, None),
    ({"cache-control": "max-age=31536000"}, 86400),  # capped at max_fresh
    ({}, None),
])
def test_fresh_until(headers: dict[str, str], seconds: int | None) -> None:
    expected = NOW + dt.timedelta(seconds=seconds) if seconds else None
    assert fetch_module._fresh_until(httpx.Headers(headers), NOW, MAX) == expected


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120),
    ("Fri, 20 Nov 2026 09:30:00 GMT", 1800),
    ("Friday, 20-Nov-26 09:30:00 GMT", 1800),
    ("Fri, 20 Nov 2026 08:00:00 GMT", None),  # in the past
    ("99999999999999999999", 86400),
    ("soon", None),
    ("", None),
])
def test_retry_after(value: str, seconds: int | None) -> None:
    expected = NOW + dt.timedelta(seconds=seconds) if seconds else None
    assert fetch_module._retry_after(httpx.Headers({"retry-after": value}), NOW, MAX) == expected


@pytest.mark.parametrize(("hops", "moved"), [
    ([(200, "a")], None),
    ([(301, "a"), (200, "b")], "b"),
    ([(308, "a"), (301, "b"), (200, "c")], "c"),
    ([(301, "a"), (302, "b"), (200, "c")], "b"),  # moved to b; c is only for now
    ([(302, "a"), (301, "b"), (200, "c")], None),
    ([(301, "a"), (304, "b")], "b"),
    ([(301, "a"), (200, "a")], None),  # back where it started
])
def test_permanent_target(hops: list[tuple[int, str]], moved: str | None) -> None:
    assert fetch_module._permanent_target(hops[0][1], hops) == moved


def _connect_error(cause: BaseException) -> httpx.ConnectError:
    error = httpx.ConnectError(str(cause), request=httpx.Request("GET", "https://nowhere.test/"))
    error.__cause__ = cause
    return error


def test_errors_are_described_for_the_editor() -> None:
    def describe(exc: BaseException) -> tuple[str, str]:
        failure = fetch_module._describe(exc, FAST)
        return failure.message, failure.hint

    dns = describe(_connect_error(socket.gaierror(-2, "Name or service not known")))
    assert dns == ('the host "nowhere.test" was not found',
                   "check the address, or whether the site is down")
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    message, hint = describe(_connect_error(cert))
    assert message == "the site's certificate is not valid (self-signed certificate)"
    assert "tell the site's owner" in hint
    assert describe(TimeoutError())[0] == "the feed took longer than 2 s to download"
    assert describe(httpx.ConnectTimeout("slow"))[0] == "the server did not answer within 1 s"
    assert describe(httpx.ReadError("reset"))[0].startswith("the connection dropped")
    # some httpx errors have no message at all: the detail is never empty
    assert describe(httpx.ReadError(""))[0] == (
        "the connection dropped before the feed was complete (ReadError)")
    assert describe(httpx.ProxyError("no"))[1].startswith("check the HTTP_PROXY")


def test_next_state_after_a_304_keeps_what_the_server_did_not_resend() -> None:
    old = FeedState(url="https://a/", etag='"1"', last_modified="x", body_hash="h")
    got = fetch_module._Download(url="https://a/", not_modified=True, etag='"2"')
    assert fetch_module._next_state(old, got, "h") == FeedState(
        url="https://a/", etag='"2"', last_modified="x", body_hash="h")
    fresh = fetch_module._Download(url="https://a/", body=b"new")
    assert fetch_module._next_state(old, fresh, "n") == FeedState(url="https://a/", body_hash="n")


def test_default_options() -> None:
    options = FetchOptions()
    assert options.concurrency == 16 and 2 <= options.per_host <= 4
    assert options.max_bytes == 10 * 1024 * 1024 and options.max_redirects == 5
    assert options.workers >= 1 and options.user_agent == USER_AGENT
    assert options.parse_timeout == 30
    with pytest.raises(ValueError, match="positive"):
        FetchOptions(per_host=0)
    with pytest.raises(ValueError, match="positive"):
        FetchOptions(parse_timeout=0)


def parse_in_worker(data: bytes, **kwargs: Any) -> ParsedFeed:
    """A picklable stand-in that says which process ran it."""
    return ParsedFeed(title="", stories=(), warnings=(str(os.getpid()),))


def test_parsing_runs_in_worker_processes(site: Site) -> None:
    for name in "abc":
        site.routes[f"/{name}.xml"] = serve(rss(name))
    results = fetch_feeds([spec(n, site.url(f"/{n}.xml")) for n in "abc"], {}, root=Path.cwd(),
                          now=NOW, options=FetchOptions(workers=2), parse=parse_in_worker)
    pids = {int(r.warnings[0]) for r in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert no_children()


# --- a time limit on each feed's parse ----------------------------------------------


def parse_or_hang(data: bytes, **kwargs: Any) -> ParsedFeed:
    """A picklable parser that never ends on a feed saying "hang", as a crafted one can.

    It ignores SIGTERM, like a worker deep in C code (an HTML parser on
    thousands of nested tags) that runs no Python signal handler: only a
    SIGKILL stops it. Its sleep is bounded, so nothing outlives a broken test
    for long.
    """
    if b"hang" in data:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _ in range(600):
            time.sleep(1)
    return parse_feed(data, **kwargs)


def test_a_parse_past_the_time_limit_is_stopped_and_the_others_go_on(site: Site) -> None:
    site.routes["/hang.xml"] = serve(rss("hang"))
    for name in "abcd":
        site.routes[f"/{name}.xml"] = serve(rss(name))
    feeds = [spec("hang", site.url("/hang.xml")),
             *(spec(name, site.url(f"/{name}.xml")) for name in "abcd")]
    # 2 s: ample for the small feeds' parses on a loaded machine; the guard is 15 times it
    options = FetchOptions(workers=2, parse_timeout=2.0)
    results = within(30, lambda: fetch_feeds(feeds, {}, root=Path.cwd(), now=NOW,
                                             options=options, parse=parse_or_hang))
    by_name = {r.feed.name: r for r in results}
    hung = by_name.pop("hang")
    assert hung.outcome == FetchOutcome.FAILED and hung.stories == ()
    assert hung.error == ("reading the feed took longer than 2 s, the limit for one feed, "
                          "so newsletter stopped it")
    assert "tell the site's owner" in hung.hint
    assert hung.state == FeedState(url=site.url("/hang.xml"))  # read again next time
    for name, result in by_name.items():  # the killed worker was replaced; they all parsed
        assert result.outcome == FetchOutcome.UPDATED, result.error
        assert [s.title for s in result.stories] == [f"Story {name}{i}" for i in range(3)]
    assert no_children()  # the stuck worker was killed, not left behind


def test_a_parse_in_this_process_past_the_time_limit_fails_the_feed(site: Site) -> None:
    """No pool (one feed, a closure): the thread cannot be killed, but the fetch ends."""
    site.routes["/feed.xml"] = serve(rss())
    release = threading.Event()

    def stuck(data: bytes, **kwargs: Any) -> ParsedFeed:
        release.wait(60)  # let go when the test ends
        return parse_feed(data, **kwargs)

    options = dataclasses.replace(FAST, parse_timeout=1.0)
    try:
        result = within(30, lambda: fetch_one(spec("stuck", site.url("/feed.xml")),
                                              options=options, parse=stuck))
    finally:
        release.set()
    assert result.outcome == FetchOutcome.FAILED
    assert result.error.startswith("reading the feed took longer than 1 s")


def test_a_worker_that_dies_fails_only_its_feed(site: Site) -> None:
    site.routes["/crash.xml"] = serve(rss("crash"))
    for name in "ab":
        site.routes[f"/{name}.xml"] = serve(rss(name))
    feeds = [spec(name, site.url(f"/{name}.xml")) for name in ("crash", "a", "b")]
    results = within(30, lambda: fetch_feeds(feeds, {}, root=Path.cwd(), now=NOW,
                                             options=FetchOptions(workers=2),
                                             parse=parse_or_crash))
    crashed, *others = results
    assert crashed.error == ("the process reading the feed stopped unexpectedly "
                             "(killed by SIGKILL)")
    assert "short of memory" in crashed.hint
    assert [r.outcome for r in others] == [FetchOutcome.UPDATED] * 2
    assert no_children()


def parse_or_crash(data: bytes, **kwargs: Any) -> ParsedFeed:
    """A picklable parser whose process dies on a feed saying "crash" (the OOM killer's way)."""
    if b"crash" in data:
        os.kill(os.getpid(), signal.SIGKILL)
    return parse_feed(data, **kwargs)
