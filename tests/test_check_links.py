"""The link checker against a real HTTP server on 127.0.0.1.

The server counts what it is asked (method and path) and how many requests
it is answering at once; every slow route wakes up when the test ends, so no
server thread outlives its test by more than a moment. No test measures time.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsletter.check import Severity
from newsletter.check import links as links_module
from newsletter.check.links import USER_AGENT, LinkChecker, LinkTarget
from newsletter.model import SourceLocation

SLOW = 3.0  # seconds /slow waits before answering (it wakes early when the test ends)
QUICK = 0.5  # the checker's timeout where /slow is asked

Route = Callable[["Handler"], None]


# --- the server -------------------------------------------------------------------


@dataclass
class Site:
    """What the server serves (`routes`) and what it was asked (`asked`: method, path)."""

    server: http.server.ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    most_in_flight: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def hits(self, path: str) -> list[str]:
        """The methods of the requests for `path`, in order."""
        with self.lock:
            return [method for method, asked in self.asked if asked == path]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: Any  # a ThreadingHTTPServer carrying `.site`

    @property
    def site(self) -> Site:
        site: Site = self.server.site
        return site

    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        with self.site.lock:
            self.site.asked.append((self.command, self.path))
            self.site.headers.append({k.lower(): v for k, v in self.headers.items()})
        route = self.site.routes.get(self.path.partition("?")[0])
        if route is None:
            self.reply(404)
        else:
            route(self)

    def reply(self, status: int, headers: dict[str, str] | None = None) -> None:
        body = f"<p>HTTP {status}</p>".encode()
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the checker gave up and hung up: what a test of a timeout wants
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def site() -> Iterator[Site]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    served = Site(server=server)
    server.site = served  # type: ignore[attr-defined]  # read by Handler.site
    served.routes.update(ROUTES)
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


def status(code: int) -> Route:
    return lambda h: h.reply(code)


def redirect(code: int, location: str, headers: dict[str, str] | None = None) -> Route:
    return lambda h: h.reply(code, {"Location": location, **(headers or {})})


def no_head(h: Handler) -> None:
    h.reply(405 if h.command == "HEAD" else 200, {"Allow": "GET"})


def hang_up_on_head(h: Handler) -> None:
    if h.command == "HEAD":
        h.close_connection = True  # no answer at all
    else:
        h.reply(200)


def slow(h: Handler) -> None:
    h.site.stop.wait(SLOW)
    h.reply(200)


def busy(h: Handler) -> None:
    """Counts the requests in flight; done counting before it answers, so a client's
    next request (sent after this answer) can never overlap this one's count."""
    site = h.site
    with site.lock:
        site.in_flight += 1
        site.most_in_flight = max(site.most_in_flight, site.in_flight)
    site.stop.wait(0.1)
    with site.lock:
        site.in_flight -= 1
    h.reply(200)


def cookie_then_ok(h: Handler) -> None:
    """Redirects to itself to set a cookie, then answers: a loop only without cookies."""
    if "seen=1" in (h.headers.get("Cookie") or ""):
        h.reply(200)
    else:
        h.reply(302, {"Location": "/cookie", "Set-Cookie": "seen=1; Path=/"})


ROUTES: dict[str, Route] = {
    "/ok": status(200),
    "/moved": redirect(301, "/moved-again"),
    "/moved-again": redirect(301, "/ok"),
    "/moved-308": redirect(308, "/ok"),
    "/temp": redirect(302, "/ok"),
    "/see-other": redirect(303, "/ok"),
    "/temp-307": redirect(307, "/ok"),
    "/moved-then-temp": redirect(301, "/temp"),
    "/temp-then-moved": redirect(302, "/moved-308"),
    "/moved-to-missing": redirect(301, "/missing"),
    "/to-private": redirect(301, "/private/page"),
    "/private/page": status(200),
    "/gone": status(410),
    "/missing": status(404),
    "/forbidden": status(403),
    "/login": status(401),
    "/too-often": status(429),
    "/error": status(500),
    "/unavailable": status(503),
    "/nohead": no_head,
    "/hangs-up-on-head": hang_up_on_head,
    "/slow": slow,
    "/loop-a": redirect(302, "/loop-b"),
    "/loop-b": redirect(302, "/loop-a"),
    "/self": redirect(301, "/self"),
    "/cookie": cookie_then_ok,
    "/bad-location": redirect(302, "mailto:someone@example.org"),
    "/broken-location": redirect(301, "http://[::1/page"),
    "/no-location": status(302),
    "/busy": busy,
    **{f"/chain/{n}": redirect(302, f"/chain/{n - 1}") for n in range(1, 20)},
    "/chain/0": status(200),
}


# --- helpers ----------------------------------------------------------------------


def at(line: int) -> SourceLocation:
    return SourceLocation(path=Path("issues/2026-11-27.yaml"), line=line, column=5)


def check(*urls: str, **options: Any) -> list[Any]:
    return LinkChecker(**options).check([LinkTarget(url=url, location=at(i + 1))
                                         for i, url in enumerate(urls)])


def one(url: str, **options: Any) -> Any:
    found = check(url, **options)
    assert len(found) == 1, found
    finding = found[0]
    assert finding.subject == url
    assert url in finding.message
    assert finding.hint
    assert finding.location == at(1)
    return finding


def free_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- what each answer means -------------------------------------------------------


@pytest.mark.parametrize("path", ["/ok", "/temp", "/see-other", "/temp-307", "/nohead",
                                  "/temp-then-moved", "/cookie"])
def test_good_links_give_no_finding(site: Site, path: str) -> None:
    assert check(site.url(path)) == []


@pytest.mark.parametrize(("path", "says"), [
    ("/moved", "moved permanently to {ok}"),  # 301 -> 301 -> 200
    ("/moved-308", "moved permanently to {ok}"),
    # 301 -> 302 -> 200: the link moved to the 301's target; the 302 is only for now
    ("/moved-then-temp", "moved permanently to {temp}, which redirects on to {ok}"),
])
def test_permanent_redirects_are_reported_as_moved(site: Site, path: str, says: str) -> None:
    finding = one(site.url(path))
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-moved")
    assert finding.message == f"{site.url(path)} " + says.format(ok=site.url("/ok"),
                                                                 temp=site.url("/temp"))
    assert finding.hint == "link to the new address"


def test_every_hop_of_a_chain_is_asked(site: Site) -> None:
    one(site.url("/moved"))
    assert site.asked == [("HEAD", "/moved"), ("HEAD", "/moved-again"), ("HEAD", "/ok")]


@pytest.mark.parametrize(("path", "says"), [("/missing", "is dead (HTTP 404 Not Found)"),
                                            ("/gone", "is gone for good (HTTP 410 Gone)")])
def test_missing_and_gone_pages_are_dead(site: Site, path: str, says: str) -> None:
    finding = one(site.url(path))
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-dead")
    assert finding.message == f"{site.url(path)} {says}"
    assert site.hits(path) == ["HEAD"]  # a 404 is an answer: no GET after it


def test_a_link_moved_to_a_dead_page_is_dead_and_says_where(site: Site) -> None:
    finding = one(site.url("/moved-to-missing"))
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-dead")
    assert f"HTTP 404 Not Found at {site.url('/missing')}" in finding.message


@pytest.mark.parametrize(("path", "hint"), [("/forbidden", "allowlist"), ("/login", "login"),
                                            ("/too-often", "later")])
def test_other_client_errors_are_refusals(site: Site, path: str, hint: str) -> None:
    finding = one(site.url(path))
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-refused")
    assert hint in finding.hint


def test_a_403_to_head_is_asked_again_with_get(site: Site) -> None:
    one(site.url("/forbidden"))
    assert site.hits("/forbidden") == ["HEAD", "GET"]


@pytest.mark.parametrize("path", ["/error", "/unavailable"])
def test_server_errors_are_warnings(site: Site, path: str) -> None:
    finding = one(site.url(path))
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-server-error")
    assert "HTTP 5" in finding.message


def test_head_refused_is_asked_again_with_get(site: Site) -> None:
    assert check(site.url("/nohead")) == []
    assert site.hits("/nohead") == ["HEAD", "GET"]


def test_head_answered_by_hanging_up_is_asked_again_with_get(site: Site) -> None:
    assert check(site.url("/hangs-up-on-head")) == []
    assert site.hits("/hangs-up-on-head") == ["HEAD", "GET"]


def test_a_slow_site_times_out(site: Site) -> None:
    finding = one(site.url("/slow"), timeout=QUICK)
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-timeout")
    assert f"did not answer within {QUICK:g} s" in finding.message
    assert site.hits("/slow") == ["HEAD"]  # a timeout is not a refusal: no GET after it


def test_an_unreachable_port_is_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/page"
    finding = one(url)
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-unreachable")
    assert finding.message == f"{url} refused the connection"


def test_tls_to_a_plain_server_is_unreachable(site: Site) -> None:
    url = f"https://127.0.0.1:{site.server.server_address[1]}/ok"
    finding = one(url)
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-unreachable")
    assert "secure (TLS) connection" in finding.message


@pytest.mark.parametrize("path", ["/loop-a", "/self"])
def test_redirect_loops_are_errors_and_stop_at_once(site: Site, path: str) -> None:
    finding = one(site.url(path))
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-redirect-loop")
    assert "redirects in a loop" in finding.message
    assert site.hits(path) == ["HEAD"]  # the loop is seen when it closes, not after 10 hops
    if path == "/loop-a":
        assert site.hits("/loop-b") == ["HEAD"]
        assert (f"({site.url('/loop-a')} -> {site.url('/loop-b')} -> {site.url('/loop-a')})"
                in finding.message)


def test_too_many_redirects_are_an_error(site: Site) -> None:
    finding = one(site.url("/chain/5"), max_redirects=3)
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-redirect-loop")
    assert "redirects more than 3 times" in finding.message
    assert [len(site.hits(f"/chain/{n}")) for n in range(6)] == [0, 0, 1, 1, 1, 1]
    assert check(site.url("/chain/5"), max_redirects=5) == []


def test_a_redirect_somewhere_unfollowable_is_reported(site: Site) -> None:
    finding = one(site.url("/bad-location"))
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-server-error")
    assert '"mailto:someone@example.org"' in finding.message
    finding = one(site.url("/broken-location"))
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-server-error")
    assert '"http://[::1/page"' in finding.message
    finding = one(site.url("/no-location"))
    assert (finding.severity, finding.code) == (Severity.WARNING, "link-refused")
    assert "HTTP 302" in finding.message


# --- what is not fetched ----------------------------------------------------------


@pytest.mark.parametrize("url", ["mailto:desk@example.org", "tel:+3312345678", "ftp://x/y",
                                 "/relative/page", "#top", "javascript:alert(1)", ""])
def test_links_that_are_not_http_are_skipped(site: Site, url: str) -> None:
    assert check(url) == []
    assert site.asked == []


@pytest.mark.parametrize("url", ["http://", "https:///path", "http://exa mple.org/",
                                 "http://[::1/", "https://example.org/\nx"])
def test_malformed_addresses_are_errors_without_a_request(url: str) -> None:
    finding = one(url)
    assert (finding.severity, finding.code) == (Severity.ERROR, "link-invalid")


@pytest.mark.parametrize("entry", ["127.0.0.1", "https://nothing.example", "127.0.0.1:{port}/ok",
                                   "http://127.0.0.1:{port}/o"])
def test_the_allowlist_is_never_fetched(site: Site, entry: str) -> None:
    port = site.server.server_address[1]
    entry = entry.format(port=port)
    found = check(site.url("/ok"), site.url("/missing"), allow=[entry, "example.com"])
    if entry == "https://nothing.example":  # another site: ours is checked as usual
        assert [f.code for f in found] == ["link-dead"]
        assert site.hits("/ok") == ["HEAD"]
    elif entry == "127.0.0.1":  # the whole host
        assert found == []
        assert site.asked == []
    else:  # a prefix: /ok is allowed, /missing is not
        assert [f.subject for f in found] == [site.url("/missing")]
        assert site.hits("/ok") == []


def test_the_allowlist_covers_subdomains_only_on_a_dot() -> None:
    allow = links_module._Allowlist(["twitter.com", "*.example.org", "https://a.test/x/"])
    assert allow.covers("https://twitter.com/desk")
    assert allow.covers("https://mobile.twitter.com/desk")
    assert allow.covers("https://TWITTER.com./desk")
    assert not allow.covers("https://nottwitter.com/desk")
    assert allow.covers("https://example.org/") and allow.covers("http://www.example.org/")
    assert allow.covers("https://a.test/x/y") and not allow.covers("https://a.test/y")
    with pytest.raises(ValueError, match="names no site"):
        links_module._Allowlist(["  "])


def test_a_redirect_into_the_allowlist_stops_there(site: Site) -> None:
    finding = one(site.url("/to-private"), allow=[site.url("/private/")])
    assert finding.code == "link-moved"  # the 301 was seen; where it leads was not asked
    assert finding.message == (f"{site.url('/to-private')} moved permanently to "
                               f"{site.url('/private/page')}")
    assert site.hits("/private/page") == []


# --- one request per URL per checker ----------------------------------------------


def test_the_same_url_twice_is_fetched_once_and_reported_twice(site: Site) -> None:
    url = site.url("/missing")
    found = check(url, site.url("/ok"), url)
    assert [(f.subject, f.location) for f in found] == [(url, at(1)), (url, at(3))]
    assert site.hits("/missing") == ["HEAD"]


def test_fragments_are_not_sent_and_share_one_fetch(site: Site) -> None:
    found = check(site.url("/gone#intro"), site.url("/gone#end"))
    assert [f.subject for f in found] == [site.url("/gone#intro"), site.url("/gone#end")]
    assert site.url("/gone#end") in found[1].message
    assert site.asked == [("HEAD", "/gone")]


def test_the_cache_lasts_as_long_as_the_checker(site: Site) -> None:
    checker = LinkChecker()
    targets = [LinkTarget(url=site.url("/moved-308")), LinkTarget(url=site.url("/ok"))]
    first = checker.check(targets)
    asked = len(site.asked)  # /moved-308, then /ok twice: as a link and as the 308's target
    assert checker.check(targets[::-1]) == first
    assert len(site.asked) == asked == 3
    LinkChecker().check(targets)  # a new checker, a new run
    assert site.hits("/moved-308") == ["HEAD", "HEAD"]


def test_findings_come_in_the_order_of_the_targets(site: Site) -> None:
    paths = ["/error", "/ok", "/gone", "/moved-308", "/missing", "/forbidden"]
    found = check(*(site.url(path) for path in paths))
    assert [f.subject for f in found] == [site.url(p) for p in paths if p != "/ok"]
    assert [f.location for f in found] == [at(1), at(3), at(4), at(5), at(6)]


# --- concurrency ------------------------------------------------------------------


@pytest.mark.parametrize("per_host", [3, 4])
def test_links_are_checked_concurrently_within_the_per_host_limit(site: Site,
                                                                  per_host: int) -> None:
    urls = [site.url(f"/busy?n={n}") for n in range(12)]
    assert check(*urls, per_host=per_host) == []
    assert len(site.asked) == 12
    assert 1 < site.most_in_flight <= per_host


def test_the_global_limit_holds_below_the_per_host_one(site: Site) -> None:
    urls = [site.url(f"/busy?n={n}") for n in range(12)]
    assert check(*urls, concurrency=3, per_host=10) == []
    assert 1 < site.most_in_flight <= 3


def test_the_server_sees_who_is_asking(site: Site) -> None:
    check(site.url("/ok"))
    assert site.headers[0]["user-agent"] == USER_AGENT
    assert check(site.url("/ok"), user_agent="desk-bot/1") == []
    assert site.headers[1]["user-agent"] == "desk-bot/1"


@pytest.mark.parametrize("bad", [{"timeout": 0}, {"concurrency": 0}, {"per_host": 0},
                                 {"max_redirects": -1}])
def test_limits_must_be_positive(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="positive"):
        LinkChecker(**bad)


# --- deciding, without a network --------------------------------------------------


def _bad_certificate() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "certificate has expired"  # set by the ssl module when it is real
    return error


def _connect_error(cause: BaseException) -> httpx.ConnectError:
    request = httpx.Request("HEAD", "https://nowhere.example/page")
    try:
        raise httpx.ConnectError("failed", request=request) from cause
    except httpx.ConnectError as exc:
        return exc


@pytest.mark.parametrize(("cause", "says"), [
    (socket.gaierror(-2, "Name or service not known"), 'host, "nowhere.example", that was not'),
    (_bad_certificate(), "certificate that is not valid (certificate has expired)"),
    (OSError(113, "No route to host"), "could not be reached"),
])
def test_connection_failures_are_unreachable(cause: BaseException, says: str) -> None:
    verdict = links_module._failure(_connect_error(cause), start="https://nowhere.example/page",
                                    at="https://nowhere.example/page", timeout=10)
    assert (verdict.severity, verdict.code) == (Severity.ERROR, "link-unreachable")
    assert says in verdict.says


def test_a_failure_after_a_redirect_says_where() -> None:
    verdict = links_module._failure(TimeoutError(), start="https://a.example/",
                                    at="https://b.example/", timeout=2.5)
    assert verdict.says == "did not answer within 2.5 s (redirected to https://b.example/)"


def test_only_a_leading_run_of_permanent_redirects_is_a_move() -> None:
    hop = links_module._Hop
    moved = [hop(url="http://a/", status=301, to="https://a/"),
             hop(url="https://a/", status=308, to="https://a/new"),
             hop(url="https://a/new", status=302, to="https://a/new?x"),
             hop(url="https://a/new?x", status=200)]
    assert links_module._moved_to(moved) == "https://a/new"
    assert links_module._moved_to([hop(url="http://a/", status=302, to="https://b/"),
                                   hop(url="https://b/", status=301, to="https://c/"),
                                   hop(url="https://c/", status=200)]) is None
    assert links_module._moved_to([hop(url="http://a/", status=200)]) is None
