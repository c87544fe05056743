"""Fetch the desk's feeds: concurrently, politely, cheaply when nothing changed.

`fetch_feeds` takes every `FeedSpec` with the `FeedState` its last fetch left
and returns one `FetchResult` per feed, never an exception for one feed's
problem. Three layers, outermost first:

- the run: one `httpx.AsyncClient` (asyncio) for all feeds, a global and a
  per-host semaphore, parsing in a process pool while the network goes on,
  each feed's parse stopped (its worker killed) past `parse_timeout`;
- one feed (`_Run.fetch`): fresh? -> download -> same as last time? -> parse;
- what the server said, decided in pure functions (`_conditional_headers`,
  `_fresh_until`, `_retry_after`, `_permanent_target`, `_status_failure`,
  `_next_state`), tested without a network.

Every third-party error becomes a `_Failure` (message + hint) in one place:
`_mapped_errors` for the network and the decoders, `_read_file` for the disk.

The client, the slots, gather-and-cancel and the capped, bounded reading of
a body (size cap while streaming, decompression that stops at the cap) are
shared with `collect.web` and `check.links` in `newsletter._http`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as dt
import email.utils
import functools
import hashlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
import pebble

from .._http import (
    CODINGS,
    DECODE_ERRORS,
    NETWORK_ERRORS,
    USER_AGENT,
    BodyTooLarge,
    Slots,
    UnknownCoding,
    detail,
    gather_or_cancel,
    new_client,
    read_body,
    web_host,
    why_unreachable,
)
from .._workers import start_worker
from ..errors import FeedError
from ..model import FeedSpec, FeedState, FetchOutcome, FetchResult, Story
from .deferred import parse_feed_later

__all__ = ["USER_AGENT", "FetchOptions", "ParseFn", "ParsedLike", "ask_again", "fetch_feeds"]

ACCEPT = ("application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
          "application/feed+json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")

_log = logging.getLogger(__name__)
_PERMANENT = (301, 308)
_MB = 1024 * 1024


class ParsedLike(Protocol):
    """What fetching needs of a parsed feed (`model.ParsedFeed` is one)."""

    @property
    def stories(self) -> tuple[Story, ...]: ...

    @property
    def warnings(self) -> tuple[str, ...]: ...


class ParseFn(Protocol):
    """`parse.parse_feed`'s signature: bytes in, stories out, FeedError if not a feed.

    To run in the process pool it must be picklable (a module-level function);
    a closure or lambda is called in this process, in a thread.
    """

    def __call__(self, data: bytes, /, *, feed: str, url: str, content_type: str | None = ...,
                 fetched_at: dt.datetime, language: str | None = ...) -> ParsedLike: ...


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchOptions:
    """How many feeds at once, how long to wait, how much to read.

    Timeouts are seconds. `total_timeout` bounds one feed's connect,
    redirects and body (not its parsing). `parse_timeout` bounds one feed's
    parsing: past it the worker process parsing it is killed and replaced,
    and the feed fails; the other feeds' parses go on. (A feed parsed in
    this process, when there is no pool, fails all the same, but its thread
    cannot be killed and finishes in the background.) `max_fresh` caps how
    long a server's `max-age` or `Retry-After` may keep a feed from being
    asked. `workers` is the size of the parsing pool; 0 parses in this
    process.
    """

    concurrency: int = 16
    per_host: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    # a real feed parses in well under a second; minutes only for crafted ones
    parse_timeout: float = 30.0
    max_bytes: int = 10 * _MB
    max_redirects: int = 5
    max_fresh: dt.timedelta = dt.timedelta(days=1)
    user_agent: str = USER_AGENT
    workers: int = dataclasses.field(default_factory=_cpu_count)

    def __post_init__(self) -> None:
        if min(self.concurrency, self.per_host, self.max_bytes) < 1 or self.workers < 0 \
                or not self.parse_timeout > 0:
            raise ValueError(f"FetchOptions need positive limits: {self}")


def fetch_feeds(feeds: Sequence[FeedSpec], states: Mapping[str, FeedState], *, root: Path,
                now: dt.datetime, on_result: Callable[[FetchResult], None] | None = None,
                options: FetchOptions = FetchOptions(),
                parse: ParseFn = parse_feed_later) -> list[FetchResult]:
    """Fetch every feed; one `FetchResult` each, in the order of `feeds`.

    `states` holds each feed's last `FeedState` by feed name (none: never
    fetched). `path:` feeds are read relative to `root` and may not leave
    it. `on_result` is called in this thread as each feed finishes, in the
    order they finish. Nothing is raised for one feed's problem; an
    exception from `on_result` stops the run and comes out as it is.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    asking = sum(1 for spec in feeds if _will_ask(spec, states.get(spec.name), now))
    parser = _Parser(parse, workers=min(options.workers, asking) if asking > 1 else 0,
                     limit=options.parse_timeout)
    try:
        run = functools.partial(_Run, states=states, root=root.resolve(), now=now,
                                options=options, parser=parser)
        return asyncio.run(_fetch_all(feeds, on_result, run, options))
    finally:
        parser.close()


async def _fetch_all(feeds: Sequence[FeedSpec], on_result: Callable[[FetchResult], None] | None,
                     make_run: Callable[..., _Run], options: FetchOptions) -> list[FetchResult]:
    async with _new_client(options) as client:
        run = make_run(client=client)

        async def one(spec: FeedSpec) -> FetchResult:
            result = await run.fetch(spec)
            if on_result is not None:
                on_result(result)
            return result

        return await gather_or_cancel(one(spec) for spec in feeds)


def _new_client(options: FetchOptions) -> httpx.AsyncClient:
    return new_client(
        accept=ACCEPT, user_agent=options.user_agent, connections=options.concurrency,
        timeout=httpx.Timeout(connect=options.connect_timeout, read=options.read_timeout,
                              write=options.read_timeout, pool=options.total_timeout),
        max_redirects=options.max_redirects)


class _Failure(Exception):
    """A feed's problem as the editor reads it; `fresh_until` when the server asked us to wait."""

    def __init__(self, message: str, hint: str, fresh_until: dt.datetime | None = None,
                 *, gone: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fresh_until = fresh_until
        self.gone = gone  # the server said the feed was removed for good (410)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Download:
    """What the server (or the disk) gave for one feed, before parsing."""

    url: str  # the final address, after redirects
    not_modified: bool = False
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    fresh_until: dt.datetime | None = None
    moved_to: str | None = None
    redirected: bool = False


class _Run:
    """One `fetch_feeds` call: the client, the semaphores, the parser and the clock."""

    def __init__(self, *, client: httpx.AsyncClient, states: Mapping[str, FeedState], root: Path,
                 now: dt.datetime, options: FetchOptions, parser: _Parser) -> None:
        self.client = client
        self.states = states
        self.root = root
        self.now = now
        self.options = options
        self.parser = parser
        self.slots = Slots(concurrency=options.concurrency, per_host=options.per_host)

    async def fetch(self, spec: FeedSpec) -> FetchResult:
        """One feed, start to end: a `FetchResult` whatever happens to it."""
        state = _first_state(spec, self.states.get(spec.name), self.root)
        if state.gone_since is not None:
            return _gone(spec, state, state.gone_since)
        if state.fresh_until is not None and _is_fresh(spec, state, self.now):
            return FetchResult(feed=spec, outcome=FetchOutcome.FRESH, state=state,
                               hint=_fresh_hint(state.fresh_until))
        try:
            got = await (self._read_local(spec.path) if spec.path else self._download(state))
        except _Failure as failure:
            if failure.gone:
                state = dataclasses.replace(state, gone_since=self.now)
            return _failed(spec, state, failure)
        return await self._conclude(spec, state, got)

    async def _conclude(self, spec: FeedSpec, state: FeedState, got: _Download) -> FetchResult:
        digest = state.body_hash if got.not_modified else hashlib.sha256(got.body).hexdigest()
        after = _next_state(state, got, digest)
        if got.not_modified or digest == state.body_hash:
            outcome = FetchOutcome.NOT_MODIFIED if got.not_modified else FetchOutcome.UNCHANGED
            return FetchResult(feed=spec, outcome=outcome, state=after, moved_to=got.moved_to)
        try:
            parsed = await self.parser(got.body, feed=spec.name, url=got.url,
                                       content_type=got.content_type, fetched_at=self.now,
                                       language=spec.language)
        except FeedError as exc:  # the old state stays, so the next fetch reads it again
            return _failed(spec, state, _not_a_feed(exc, got))
        except _Failure as failure:  # too slow, or the worker died: the old state stays too
            return _failed(spec, state, failure)
        except Exception as exc:  # noqa: BLE001 - a parser bug fails one feed, loudly in the log
            _log.exception("parsing the feed %s (%s) failed", spec.name, got.url)
            return _failed(spec, state, _Failure(
                f"newsletter could not read this feed ({type(exc).__name__}: {exc})",
                "this is a bug in newsletter: please report it with the feed's address"))
        return FetchResult(feed=spec, outcome=FetchOutcome.UPDATED, state=after,
                           stories=tuple(parsed.stories), warnings=tuple(parsed.warnings),
                           moved_to=got.moved_to)

    async def _download(self, state: FeedState) -> _Download:
        async with self.slots(_checked_host(state.url)):
            with _mapped_errors(self.options):
                async with asyncio.timeout(self.options.total_timeout), self.client.stream(
                        "GET", state.url, headers=_conditional_headers(state)) as response:
                    return await self._receive(state.url, response)

    async def _receive(self, url: str, response: httpx.Response) -> _Download:
        headers, status = response.headers, response.status_code
        hops = [(hop.status_code, str(hop.request.url)) for hop in (*response.history, response)]
        if status == 304 or not 200 <= status < 300:
            # read the (empty or small) body to its end: an unread stream makes httpx
            # close the connection instead of reusing it for the next unchanged feed
            await _drain(response)
        if status != 304 and not 200 <= status < 300:
            raise _status_failure(status, response.reason_phrase, headers, self.now,
                                  self.options.max_fresh)
        return _Download(
            url=str(response.url), not_modified=status == 304,
            body=b"" if status == 304 else await _read_body(response, self.options.max_bytes),
            content_type=headers.get("content-type"), etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            fresh_until=_fresh_until(headers, self.now, self.options.max_fresh),
            moved_to=_permanent_target(url, hops), redirected=len(hops) > 1)

    async def _read_local(self, relative: str) -> _Download:
        path = _inside(self.root, relative)
        body = await asyncio.to_thread(_read_file, path, relative, self.options.max_bytes)
        return _Download(url=path.as_uri(), body=body)


# --- deciding: pure functions over what the server said ---------------------------


def ask_again(state: FeedState, *, force: bool, gone_too: bool) -> FeedState:
    """A feed's state for a fetch the editor asked for by hand.

    `force` forgets the validators (ETag, Last-Modified, the body's hash) and
    the freshness the server asked for, so the feed is downloaded and parsed
    whatever it said last time; `gone_too` forgets that it said the feed was
    gone (HTTP 410): a feed named on the command line is asked again.
    """
    if force:
        state = FeedState(url=state.url, gone_since=state.gone_since)
    return dataclasses.replace(state, gone_since=None) if gone_too else state


def _first_state(spec: FeedSpec, stored: FeedState | None, root: Path) -> FeedState:
    """The state a fetch starts from; a `path:` feed keeps only its body hash."""
    if spec.path:
        return FeedState(url=(root / spec.path).as_uri(),
                         body_hash=stored.body_hash if stored else None)
    return stored or FeedState(url=spec.url or "")


def _will_ask(spec: FeedSpec, state: FeedState | None, now: dt.datetime) -> bool:
    gone = state is not None and state.gone_since is not None and not spec.path
    return not gone and not _is_fresh(spec, state, now)


def _is_fresh(spec: FeedSpec, state: FeedState | None, now: dt.datetime) -> bool:
    """Still inside the time the server said the feed would not change (or to wait)."""
    return bool(spec.url and not spec.path and state is not None
                and state.fresh_until is not None and now < state.fresh_until)


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _next_state(state: FeedState, got: _Download, body_hash: str | None) -> FeedState:
    """After a 200 the server's validators replace ours; a 304 may refresh them."""
    etag, modified = got.etag, got.last_modified
    if got.not_modified:
        etag, modified = etag or state.etag, modified or state.last_modified
    return FeedState(url=got.moved_to or state.url, etag=etag, last_modified=modified,
                     body_hash=body_hash, fresh_until=got.fresh_until)


def _fresh_until(headers: Mapping[str, str], now: dt.datetime,
                 max_fresh: dt.timedelta) -> dt.datetime | None:
    """`Cache-Control: max-age` (less `Age`) as a time, capped at `max_fresh`."""
    directives = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    max_age, age = directives.get("max-age", ""), headers.get("age", "0").strip()
    if "no-store" in directives or "no-cache" in directives or not max_age.isdigit():
        return None
    return _later(now, int(max_age) - (int(age) if age.isdigit() else 0), max_fresh)


def _retry_after(headers: Mapping[str, str], now: dt.datetime,
                 max_fresh: dt.timedelta) -> dt.datetime | None:
    """`Retry-After` (seconds or an HTTP date) as a time, capped at `max_fresh`."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return _later(now, int(value), max_fresh)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # the obsolete date forms carry no zone; HTTP dates are GMT
        when = when.replace(tzinfo=dt.UTC)
    return _later(now, int((when - now).total_seconds()), max_fresh)


def _later(now: dt.datetime, seconds: int, max_fresh: dt.timedelta) -> dt.datetime | None:
    if seconds <= 0:
        return None
    return now + min(dt.timedelta(seconds=min(seconds, 10**9)), max_fresh)


def _permanent_target(start: str, hops: Sequence[tuple[int, str]]) -> str | None:
    """Where an unbroken run of permanent redirects from the start leads, if anywhere.

    `hops` are (status, address) of each request in order; in 301 -> 302 ->
    200 the feed moved to the 301's target, and the 302 is only for now.
    """
    target = None
    for (status, _), (_, following) in itertools.pairwise(hops):
        if status not in _PERMANENT:
            break
        target = following
    return target if target != start else None


def _status_failure(status: int, reason: str, headers: Mapping[str, str], now: dt.datetime,
                    max_fresh: dt.timedelta) -> _Failure:
    said = f"HTTP {status} {reason}".strip()
    if status == 410:
        return _Failure(f"the feed was removed ({said}); newsletter will not ask for it again",
                        _REMOVED, gone=True)
    if status == 404:
        return _Failure(f"there is no feed at this address ({said})", _REMOVED)
    until = _retry_after(headers, now, max_fresh) if status in (429, 503) else None
    if until is not None:
        return _Failure(f"the server asked newsletter to wait ({said})",
                        f"newsletter will not ask again before {until:%Y-%m-%d %H:%M %Z}",
                        fresh_until=until)
    if status == 429:
        return _Failure(f"the server says it was asked too often ({said})",
                        "wait a while before fetching again")
    if status in (401, 403):
        return _Failure(f"the server refuses to give the feed ({said})",
                        "the feed may need a login, or the site blocks automatic readers; "
                        "open the address in a browser to see")
    if status >= 500:
        return _Failure(f"the server failed ({said})",
                        "the site has trouble of its own; try again later")
    return _Failure(f"the server answered {said}",
                    "open the address in a browser to see what it says")


def _fresh_hint(until: dt.datetime) -> str:
    return (f"the server asked newsletter to wait (Retry-After or Cache-Control: max-age); "
            f"it will be asked again after {until.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC")


def _gone(spec: FeedSpec, state: FeedState, since: dt.datetime) -> FetchResult:
    """A feed whose server said it was removed is not asked again."""
    return FetchResult(
        feed=spec, outcome=FetchOutcome.GONE, state=state,
        error=f"not asked: the server said on {since:%Y-%m-%d} that the feed was "
              "removed (HTTP 410 Gone)",
        hint=f"delete it from newsletter.yaml, give it a new address, or, if it is back, "
             f'run "newsletter feeds enable {spec.name}"')


def _not_a_feed(exc: FeedError, got: _Download) -> _Failure:
    message = exc.message.removeprefix(f"{exc.feed}: ") if exc.feed else exc.message
    if got.redirected:
        message += f" (the address now leads to {got.url})"
    return _Failure(message, exc.hint or "check that the address is the feed, not the site")


def _failed(spec: FeedSpec, state: FeedState, failure: _Failure) -> FetchResult:
    if failure.fresh_until is not None:
        state = dataclasses.replace(state, fresh_until=failure.fresh_until)
    return FetchResult(feed=spec, outcome=FetchOutcome.FAILED, state=state,
                       error=failure.message, hint=failure.hint)


_REMOVED = "the feed was removed; delete it from newsletter.yaml or find its new address"
_CHECK = "check the address, or whether the site is down"
_LATER = "the site may be slow or down; try again later"
_DROPPED = "try again later; if it keeps happening, the site has trouble serving the feed"
_INVALID = "give the feed an http:// or https:// address in newsletter.yaml"


# --- the edges: where other libraries' errors become _Failures ---------------------


def _checked_host(url: str) -> str:
    """The host to count connections against; a _Failure for what httpx should not see."""
    if not url:
        raise _Failure("the feed has no address", _INVALID)
    host = web_host(url)
    if host is None:
        raise _Failure(f'"{url}" is not a web address newsletter can fetch', _INVALID)
    return host


_MAPPED = (*NETWORK_ERRORS, *DECODE_ERRORS)


@contextmanager
def _mapped_errors(options: FetchOptions) -> Iterator[None]:
    """The one place where the network's (and the decoders') errors become `_Failure`s."""
    try:
        yield
    except _MAPPED as exc:
        raise _describe(exc, options) from exc


def _describe(exc: BaseException, options: FetchOptions) -> _Failure:
    if isinstance(exc, TimeoutError):  # asyncio.timeout: the feed's whole time ran out
        return _Failure(f"the feed took longer than {options.total_timeout:g} s to download",
                        _LATER)
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return _Failure(f"the server did not answer within {options.connect_timeout:g} s",
                        _LATER)
    if isinstance(exc, httpx.TimeoutException):
        return _Failure(f"the server stopped sending for {options.read_timeout:g} s", _LATER)
    if isinstance(exc, httpx.TooManyRedirects):
        return _Failure(f"the address redirects more than {options.max_redirects} times",
                        "open it in a browser to find where the feed lives now, and put "
                        "that address in newsletter.yaml")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return _Failure(f"the address cannot be fetched ({detail(exc)})", _INVALID)
    if isinstance(exc, httpx.ProxyError):
        return _Failure(f"the proxy failed ({detail(exc)})",
                        "check the HTTP_PROXY / HTTPS_PROXY settings of this machine")
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return _Failure(f"the connection dropped before the feed was complete ({detail(exc)})",
                        _DROPPED)
    if isinstance(exc, DECODE_ERRORS):
        return _Failure(f"the server sent a damaged compressed feed ({detail(exc)})", _DROPPED)
    return _Failure(f"the fetch failed ({type(exc).__name__}: {detail(exc)})", _LATER)


def _connect_failure(exc: httpx.ConnectError) -> _Failure:
    why = why_unreachable(exc, exc.request.url.host)
    if why.kind == "certificate":
        return _Failure(f"the site's certificate is not valid ({why.said})",
                        "the site's HTTPS is misconfigured (or the connection is being "
                        "intercepted); tell the site's owner, or try again later")
    if why.kind == "tls":
        return _Failure(f"the secure (TLS) connection failed ({why.said})",
                        "check that the site really serves https://, or try again later")
    if why.kind == "host":
        return _Failure(f'the host "{why.said}" was not found', _CHECK)
    if why.kind == "refused":
        return _Failure("the server refused the connection", _CHECK)
    return _Failure(f"could not connect ({why.said})", _CHECK)


def _too_large(cap: int, declared: int | None = None) -> _Failure:
    size = f"{_size(declared)}, more than" if declared else "larger than"
    return _Failure(f"the feed is {size} the {_size(cap)} newsletter reads",
                    "a feed this big is usually a whole archive; look for a shorter one on the "
                    "site")


def _size(count: int) -> str:
    return f"{count / _MB:.3g} MB" if count >= _MB else f"{count / 1024:.3g} KB"


def _inside(root: Path, relative: str) -> Path:
    """`relative` within the desk folder; a _Failure if it leads out (`..`, absolute, link)."""
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise _Failure(f'cannot read "{relative}" ({exc})', _LOCAL) from exc
    if not path.is_relative_to(root):
        raise _Failure(f'"{relative}" is outside the desk folder',
                       "a path: feed must be a file inside the folder holding newsletter.yaml; "
                       "use url: for anything else")
    return path


def _read_file(path: Path, shown: str, cap: int) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(cap + 1)
    except FileNotFoundError as exc:
        raise _Failure(f'there is no file "{shown}"', _LOCAL) from exc
    except OSError as exc:
        raise _Failure(f'cannot read "{shown}" ({exc.strerror or exc})', _LOCAL) from exc
    if len(data) > cap:
        raise _too_large(cap)
    return data


_LOCAL = "check path: in newsletter.yaml; it is relative to the folder holding newsletter.yaml"


# --- reading the body: capped while it streams (newsletter._http) -----------------


async def _read_body(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, or a _Failure as soon as what came or what it inflates to passes `cap`."""
    try:
        return await read_body(response, cap)
    except BodyTooLarge as exc:
        raise _too_large(cap, exc.declared) from exc
    except UnknownCoding as exc:
        raise _Failure(f'the server sent the feed encoded as "{exc.coding}", which newsletter '
                       "cannot read", f"tell the site's owner; newsletter asks for "
                       f"{', '.join(CODINGS)}") from exc


# --- parsing: in a process pool while the network goes on, each feed in its time ---


class _Parser:
    """Calls `parse` in worker processes, so parsing (CPU) overlaps fetching (I/O),
    and stops any feed's parse that runs past `limit` seconds.

    The pool is pebble's: past a task's time limit it kills that task's worker
    and starts another, and the other feeds' parses never notice. The standard
    `ProcessPoolExecutor` can do neither: it cannot stop a running task, and a
    worker killed from outside breaks every task in flight.

    Falls back to a thread of this process when there is nothing to overlap
    (`workers` 0), when `parse` cannot be pickled (a closure), or when the
    pool cannot start or breaks. A thread cannot be killed: past the limit
    its feed fails all the same and the thread is left to finish (a daemon,
    so it never holds up the end of the program). `close()` stops the pools
    and waits for their workers to exit.
    """

    def __init__(self, parse: ParseFn, *, workers: int, limit: float) -> None:
        self._parse = parse
        self._limit = limit
        self._pool = _start_pool(workers) if workers > 0 and _picklable(parse) else None
        self._pools = [self._pool] if self._pool else []

    async def __call__(self, data: bytes, *, feed: str, url: str, content_type: str | None,
                       fetched_at: dt.datetime, language: str | None) -> ParsedLike:
        call = functools.partial(self._parse, data, feed=feed, url=url,
                                 content_type=content_type, fetched_at=fetched_at,
                                 language=language)
        if self._pool is not None:
            try:
                future = self._pool.schedule(call, timeout=self._limit)
                await _settled(self._pool, future)
            # ImportError: a system without working semaphores (sem_open)
            except (BrokenProcessPool, OSError, RuntimeError, ImportError) as exc:
                self._give_up(exc)  # the pool cannot start, or cannot go on
            else:
                return _worker_result(future, self._limit)
        return await self._in_thread(call)

    async def _in_thread(self, call: Callable[[], ParsedLike]) -> ParsedLike:
        done: concurrent.futures.Future[ParsedLike] = concurrent.futures.Future()
        threading.Thread(target=_settle, args=(done, call), name="newsletter-parse",
                         daemon=True).start()
        waiting = asyncio.wrap_future(done)
        try:
            finished, _ = await asyncio.wait({waiting}, timeout=self._limit)
        finally:
            waiting.cancel()  # no-op once done; else the thread's result is dropped
        if not finished:
            _log.warning("parsing a feed in this process took longer than %g s; it goes on "
                         "in a background thread", self._limit)
            raise _too_slow(self._limit)
        return waiting.result()

    def _give_up(self, exc: BaseException) -> None:
        if self._pool is not None:
            _log.warning("the parsing processes failed (%s); parsing in this process", exc)
            self._pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            self._pool = None

    def close(self) -> None:
        for pool in self._pools:
            # every parse has been awaited (or given up): kill the workers, do not wait
            pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            pool.join()


async def _settled(pool: pebble.ProcessPool, future: pebble.ProcessFuture[Any]) -> None:
    """Wait for a parse in the pool to end; BrokenProcessPool if the pool stops first.

    A pool whose workers cannot start (or all die while idle) goes quiet
    rather than failing its tasks, so its health is checked while waiting.
    """
    waiting = asyncio.wrap_future(future)
    try:
        while not (await asyncio.wait({waiting}, timeout=_POOL_CHECK))[0]:
            if not pool.active:
                raise BrokenProcessPool("the pool of parsing processes stopped")
    finally:
        waiting.cancel()  # no-op once done; else pebble kills the worker running it


def _worker_result(future: pebble.ProcessFuture[Any], limit: float) -> ParsedLike:
    """What a finished parse in the pool gave; _Failure for the pool's own verdicts."""
    try:
        return cast(ParsedLike, future.result())
    except TimeoutError as exc:
        if hasattr(exc, "traceback"):  # raised by `parse` itself: pebble adds the worker's
            raise
        raise _too_slow(limit) from exc
    except pebble.ProcessExpired as exc:
        raise _worker_died(exc.exitcode) from exc


def _settle(done: concurrent.futures.Future[ParsedLike], call: Callable[[], ParsedLike]) -> None:
    if not done.set_running_or_notify_cancel():
        return
    try:
        done.set_result(call())
    except BaseException as exc:  # noqa: BLE001 - handed to the feed waiting for it
        done.set_exception(exc)


def _too_slow(limit: float) -> _Failure:
    return _Failure(f"reading the feed took longer than {limit:g} s, the limit for one feed, "
                    "so newsletter stopped it",
                    "something in the feed is very slow to read (HTML nested thousands of "
                    "levels deep, a huge item); tell the site's owner, or remove the feed")


def _worker_died(code: int | None) -> _Failure:
    how = f"exit status {code}"
    if code is not None and code < 0:
        with suppress(ValueError):
            how = f"killed by {signal.Signals(-code).name}"
    return _Failure(f"the process reading the feed stopped unexpectedly ({how})",
                    "the machine may have run short of memory; try again, and if it keeps "
                    "happening, report it with the feed's address")


_POOL_CHECK = 1.0  # seconds between looks at the pool's health while a parse runs


def _picklable(parse: ParseFn) -> bool:
    try:
        pickle.dumps(parse)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _start_pool(workers: int) -> pebble.ProcessPool:
    # spawn, not fork: forking a process that runs threads (asyncio's resolver,
    # a caller's) can deadlock the child, and Python 3.12 warns about it. The
    # workers are started by this thread and the pool's manager thread, which
    # both outlive the pool (see _workers: the kernel's parent is a thread).
    return pebble.ProcessPool(max_workers=workers, initializer=start_worker,
                              initargs=(os.getpid(),),
                              context=multiprocessing.get_context("spawn"))


async def _drain(response: httpx.Response, limit: int = 64_000) -> None:
    """Consume a body we do not want (bounded), so the connection can be reused."""
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            break  # a large error page: closing the connection is cheaper than reading it
