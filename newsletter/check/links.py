"""Check that every link of an issue still leads somewhere.

`LinkChecker.check` takes `LinkTarget`s (a URL and the YAML line it comes
from) and returns `Finding`s in the order of the targets, none for a good
link. Three layers, outermost first, as in `collect.fetch`:

- the run (`_Run`): one `httpx.AsyncClient`, a global limit and one per
  origin (scheme, host, port), one task per distinct URL (the client, the
  limits and gather-and-cancel are `newsletter._http`'s, shared with `collect`);
- one link (`_Run.follow`): HEAD (GET where HEAD is refused), redirect by
  redirect, each hop its own bounded request, so every hop is seen;
- what the answers mean, decided in pure functions over `_Hop`s
  (`_answered`, `_moved_to`, `_loop`, `_failure`), tested without a network.

What is checked and what is not:

- only http(s) links; `mailto:`, `tel:`, relative and other links are
  skipped without a finding (the renderer decides which of them survive);
- links in the allowlist are never fetched and give no finding at all: the
  editor listed those sites knowing they turn bots away, and a note per link
  would bury the findings that matter. An entry is a host, which covers its
  subdomains (``twitter.com``), a URL prefix (``https://example.com/members/``)
  or a prefix without its scheme (``example.com/members/``, either scheme).
  A redirect into the allowlist ends the chain there, as if it had answered;
- the fragment (``#...``) is never sent, so ``page#a`` and ``page#b`` are one
  fetch;
- a chain of redirects is "moved" only when it starts with a permanent one:
  in 301 -> 302 -> 200 the link moved to the 301's target (the 302 is the
  site's business for now); in 302 -> 301 -> 200 the link is the address the
  site says to keep using, so it is fine.

Bounds: each request (connect, send, response headers) gets `timeout`
seconds once it holds its slots; at most `max_redirects` redirects per link;
no body is read (HEAD has none; a GET is closed as soon as its headers are
in). One link thus costs at most 2 * (max_redirects + 1) requests.

Results are kept per URL for the life of the checker (a per-run cache): a
URL listed twice is fetched once and each listing gets its own finding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from .._http import (
    NETWORK_ERRORS,
    USER_AGENT,
    Slots,
    gather_or_cancel,
    new_client,
    why_unreachable,
)
from ..model import SourceLocation
from . import Finding, Severity

__all__ = ["USER_AGENT", "LinkChecker", "LinkTarget"]

ACCEPT = "text/html,application/xhtml+xml,*/*;q=0.8"

_PERMANENT = frozenset({301, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# answers to HEAD that say "not this way" rather than "not here": ask again with GET
_HEAD_REFUSED = frozenset({400, 403, 405, 501})
_LOCATION = "newsletter.location"  # where `_take_location` keeps a redirect's Location


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTarget:
    """One link to check, and the YAML line it comes from."""

    url: str
    location: SourceLocation | None = None


class LinkChecker:
    """Checks links over HTTP, remembering each URL's result while it lives.

    `allow`: hosts (with their subdomains) or URL prefixes never fetched.
    `timeout`: seconds for one request, to its response headers.
    `concurrency`: requests in flight at once; `per_host`: at once to one
    origin (scheme, host and port). `max_redirects`: per link.
    """

    def __init__(self, *, allow: Sequence[str] = (), timeout: float = 10.0,
                 concurrency: int = 16, per_host: int = 4, max_redirects: int = 10,
                 user_agent: str = USER_AGENT) -> None:
        if timeout <= 0 or min(concurrency, per_host) < 1 or max_redirects < 0:
            raise ValueError("LinkChecker needs a positive timeout, concurrency and per_host, "
                             "and max_redirects of at least 0")
        self._allow = _Allowlist(allow)
        self._limits = _Limits(timeout=timeout, concurrency=concurrency, per_host=per_host,
                               max_redirects=max_redirects, user_agent=user_agent)
        self._cache: dict[str, _Verdict | None] = {}

    def checked(self) -> int:
        """How many distinct addresses this checker has fetched so far."""
        return len(self._cache)

    def check(self, targets: Sequence[LinkTarget]) -> list[Finding]:
        """A finding for every target whose link is not fine, in the order of `targets`.

        Runs its own event loop (`asyncio.run`), so call it from plain code,
        not from a coroutine.
        """
        pending: dict[str, None] = {}  # ordered, and quick to ask
        for target in targets:
            key = _key(target.url)
            if key is None or key in self._cache or key in pending or self._allow.covers(key):
                continue
            malformed = _malformed(key)
            if malformed is not None:
                self._cache[key] = malformed
            else:
                pending[key] = None
        if pending:
            self._cache.update(asyncio.run(_check_all(list(pending), self._limits,
                                                      self._allow)))
        return [verdict.about(target) for target in targets
                if (key := _key(target.url)) is not None
                and (verdict := self._cache.get(key)) is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Limits:
    timeout: float
    concurrency: int
    per_host: int
    max_redirects: int
    user_agent: str


class _Allowlist:
    """Sites that turn bots away: hosts (and their subdomains) and URL prefixes."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.hosts: list[str] = []
        self.prefixes: list[str] = []
        for entry in entries:
            spelled = entry.strip().lower()
            if not spelled.strip("*."):
                raise ValueError(f"the allowlist entry {entry!r} names no site")
            if "://" in spelled:
                self.prefixes.append(spelled)
            elif "/" in spelled or ":" in spelled:  # a prefix without its scheme
                self.prefixes += [f"http://{spelled}", f"https://{spelled}"]
            else:
                self.hosts.append(spelled.removeprefix("*").strip("."))

    def covers(self, url: str) -> bool:
        lowered = url.lower()
        if any(lowered.startswith(prefix) for prefix in self.prefixes):
            return True
        host = _host(url)
        return any(host == allowed or host.endswith(f".{allowed}") for allowed in self.hosts)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        return ""


def _key(url: str) -> str | None:
    """The address to fetch (no fragment), or None for a link not checked (not http(s))."""
    scheme, colon, _ = url.partition(":")
    if not colon or scheme.lower() not in ("http", "https"):
        return None
    return url.partition("#")[0]


# --- one run: the client, the slots, one task per URL ------------------------------


async def _check_all(urls: Sequence[str], limits: _Limits,
                     allow: _Allowlist) -> dict[str, _Verdict | None]:
    async with _new_client(limits) as client:
        run = _Run(client, limits, allow)
        verdicts = await gather_or_cancel(run.follow(url) for url in urls)
    return dict(zip(urls, verdicts, strict=True))


def _new_client(limits: _Limits) -> httpx.AsyncClient:
    return new_client(
        accept=ACCEPT, user_agent=limits.user_agent, timeout=httpx.Timeout(limits.timeout),
        # `concurrency` requests in flight (our slots), plus idle connections kept for
        # sites with more links to come: a full pool would close them for a new site
        connections=limits.concurrency * 3, keepalive=limits.concurrency * 2,
        max_redirects=None,  # followed here, hop by hop, to see each one
        event_hooks={"response": [_take_location]})


async def _take_location(response: httpx.Response) -> None:
    """Move a redirect's Location out of httpx's way, into `response.extensions`.

    httpx builds the next request of every redirect, even one it will not
    follow, and raises on a Location it cannot make one of (`mailto:`, a bad
    URL), losing the answer. This hook runs before that, and we follow
    redirects ourselves.
    """
    if response.status_code in _REDIRECTS and "location" in response.headers:
        response.extensions[_LOCATION] = response.headers.pop("location")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Hop:
    """One answer on the way: where it came from and what it said."""

    url: str
    status: int
    reason: str = ""
    location: str = ""  # a redirect's Location header, as sent
    to: str | None = None  # where the redirect leads, when it is an http(s) address
    sets_cookie: bool = False


class _Run:
    """One `check` call: the client, and slots overall and per origin."""

    def __init__(self, client: httpx.AsyncClient, limits: _Limits, allow: _Allowlist) -> None:
        self.client = client
        self.limits = limits
        self.allow = allow
        self.slots = Slots(concurrency=limits.concurrency, per_host=limits.per_host)

    async def follow(self, url: str) -> _Verdict | None:
        """One link, from its first request to its last redirect: a verdict, or None if fine."""
        hops: list[_Hop] = []
        at = url
        while True:
            try:
                hop = await self._ask(at)
            except NETWORK_ERRORS as exc:
                return _failure(exc, start=url, at=at, timeout=self.limits.timeout)
            hops.append(hop)
            if hop.to is None:
                return _answered(hops)
            if self.allow.covers(hop.to):
                return _moved(hops)
            if len(hops) > self.limits.max_redirects or _looping(hops):
                return _loop(hops, self.limits.max_redirects)
            at = hop.to

    async def _ask(self, url: str) -> _Hop:
        """HEAD, then GET if the server refuses HEAD (by status, or by hanging up)."""
        try:
            hop = await self._request("HEAD", url)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return await self._request("GET", url)
        return await self._request("GET", url) if hop.status in _HEAD_REFUSED else hop

    async def _request(self, method: str, url: str) -> _Hop:
        async with (self.slots(_origin(url)), asyncio.timeout(self.limits.timeout),
                    self.client.stream(method, url) as response):
            if method == "HEAD":  # empty by protocol; read, so the connection is reused
                await response.aread()
            return _hop(response)  # a GET's body is never read: closing drops it


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def _hop(response: httpx.Response) -> _Hop:
    status, url = response.status_code, str(response.request.url)
    location: str = response.extensions.get(_LOCATION, "")
    return _Hop(url=url, status=status, reason=response.reason_phrase, location=location,
                to=_redirect_target(url, location) if location else None,
                sets_cookie="set-cookie" in response.headers)


def _redirect_target(url: str, location: str) -> str | None:
    """Where a Location leads from `url` (no fragment); None if it is no http(s) address."""
    try:
        target = httpx.URL(url).join(location.strip())
    except httpx.InvalidURL:
        return None
    if target.scheme not in ("http", "https") or not target.host:
        return None
    return str(target.copy_with(fragment=None))


# --- deciding: pure functions over what the servers said --------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Verdict:
    """What is wrong with a URL, said of whichever link names it."""

    severity: Severity
    code: str
    says: str  # follows the URL: "is dead (HTTP 404 Not Found)"
    hint: str

    def about(self, target: LinkTarget) -> Finding:
        return Finding(severity=self.severity, code=self.code, message=f"{target.url} {self.says}",
                       hint=self.hint, location=target.location, subject=target.url)


def _malformed(url: str) -> _Verdict | None:
    """An http(s) address httpx should not be given."""
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        host = ""
    if host and not any(c.isspace() or ord(c) < 32 for c in url):
        return None
    return _Verdict(severity=Severity.ERROR, code="link-invalid",
                    says="is not a valid web address", hint=_FIX_ADDRESS)


def _answered(hops: Sequence[_Hop]) -> _Verdict | None:
    """What the last answer of a chain (not a redirect to follow) means for its link."""
    last = hops[-1]
    said = f"HTTP {last.status} {last.reason}".strip()
    if len(hops) > 1:
        said += f" at {last.url}"
    if 200 <= last.status < 300:
        return _moved(hops)
    if last.status in (404, 410):
        gone = last.status == 410
        return _Verdict(severity=Severity.ERROR, code="link-dead",
                        says=f"is {'gone for good' if gone else 'dead'} ({said})",
                        hint=_GONE if gone else _DEAD)
    if 400 <= last.status < 500:
        return _Verdict(severity=Severity.WARNING, code="link-refused",
                        says=f"was refused ({said})", hint=_REFUSED.get(last.status, _BOTS))
    if last.status >= 500:
        return _Verdict(severity=Severity.WARNING, code="link-server-error",
                        says=f"failed on the site's side ({said})", hint=_LATER)
    if last.location:  # a redirect to something that is not a web address
        return _Verdict(severity=Severity.WARNING, code="link-server-error",
                        says=f'redirects to "{last.location}", which newsletter cannot follow',
                        hint=_BROWSER)
    return _Verdict(severity=Severity.WARNING, code="link-refused",
                    says=f"did not answer with a page ({said})", hint=_BROWSER)


def _moved_to(hops: Sequence[_Hop]) -> str | None:
    """Where the unbroken run of permanent redirects from the link's own address leads."""
    target = None
    for hop in hops:
        if hop.status not in _PERMANENT or hop.to is None:
            break
        target = hop.to
    return target if target != hops[0].url else None


def _moved(hops: Sequence[_Hop]) -> _Verdict | None:
    """A chain that arrived: fine, or a warning if the link moved for good."""
    target = _moved_to(hops)
    if target is None:
        return None
    final = hops[-1].to or hops[-1].url
    onward = f", which redirects on to {final}" if final != target else ""
    return _Verdict(severity=Severity.WARNING, code="link-moved",
                    says=f"moved permanently to {target}{onward}",
                    hint="link to the new address")


def _looping(hops: Sequence[_Hop]) -> bool:
    """The next hop goes back to an address already asked, and no cookie changed anything."""
    return (hops[-1].to in {hop.url for hop in hops}
            and not any(hop.sets_cookie for hop in hops))


def _loop(hops: Sequence[_Hop], max_redirects: int) -> _Verdict:
    urls = [hop.url for hop in hops]
    again = hops[-1].to or ""
    if again in urls:
        cycle = " -> ".join([*urls[urls.index(again):], again])
        says = f"redirects in a loop ({cycle})"
    else:
        says = f"redirects more than {max_redirects} times (the last to {again})"
    return _Verdict(severity=Severity.ERROR, code="link-redirect-loop", says=says,
                    hint="open it in a browser; if it never arrives there either, link to "
                         "another page of the site")


def _failure(exc: Exception, *, start: str, at: str, timeout: float) -> _Verdict:
    """A request that got no answer, as the editor reads it."""
    where = f" (redirected to {at})" if at != start else ""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return _Verdict(severity=Severity.WARNING, code="link-timeout",
                        says=f"did not answer within {timeout:g} s{where}", hint=_SLOW)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return _Verdict(severity=Severity.ERROR, code="link-invalid",
                        says=f"is not a valid web address{where}", hint=_FIX_ADDRESS)
    if isinstance(exc, httpx.ProxyError):
        return _Verdict(severity=Severity.ERROR, code="link-unreachable",
                        says=f"could not be reached through the proxy{where} ({exc})",
                        hint="check this machine's HTTP_PROXY / HTTPS_PROXY settings")
    if isinstance(exc, httpx.ConnectError):
        return _unreachable(exc, where)
    if isinstance(exc, httpx.TransportError):  # the server hung up or broke the protocol
        return _Verdict(severity=Severity.WARNING, code="link-server-error",
                        says=f"hung up without a proper answer{where} ({exc})", hint=_LATER)
    return _Verdict(severity=Severity.WARNING, code="link-server-error",
                    says=f"could not be checked{where} ({type(exc).__name__}: {exc})",
                    hint=_BROWSER)


def _unreachable(exc: httpx.ConnectError, where: str) -> _Verdict:
    why = why_unreachable(exc, exc.request.url.host)
    says, hint = f"could not be reached{where} ({why.said})", _DOWN
    if why.kind == "host":
        says, hint = f'has a host, "{why.said}", that was not found{where}', _TYPO
    elif why.kind == "refused":
        says = f"refused the connection{where}"
    elif why.kind == "certificate":
        says = f"has a certificate that is not valid{where} ({why.said})"
        hint = "readers' browsers will warn them off this site: find another link"
    elif why.kind == "tls":
        says = f"failed to set up a secure (TLS) connection{where} ({why.said})"
        hint = "check whether the site really serves https://; try http:// in a browser"
    return _Verdict(severity=Severity.ERROR, code="link-unreachable", says=says, hint=hint)


_FIX_ADDRESS = "fix the address in the issue"
_DEAD = "check the address for a typo, link to where the page went, or remove the link"
_GONE = "the site removed the page on purpose: remove the link, or link to an archived copy"
_BOTS = ("open it in a browser: if it works there, the site turns away automatic checks; "
         "add the site to the link-check allowlist")
_REFUSED = {
    401: "the page needs a login: readers without one will not see it",
    429: "the site limits how often it is asked: check again later, or add the site to the "
         "link-check allowlist",
}
_LATER = "the site has trouble of its own: check again later, and find another link if it lasts"
_SLOW = "the site may be slow or down: open it in a browser, or check again later"
_DOWN = "the site may be down: open it in a browser, or check again later"
_TYPO = "check the address for a typo; the site may be gone"
_BROWSER = "open it in a browser to see where it leads"
