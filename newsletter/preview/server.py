"""A live-reload server: serves what a builder makes and tells open pages to
reload when a watched file changes what they show.

Nothing here knows about issues. A `Builder` answers requests (in memory)
and hears which files changed; this module serves HTTP on 127.0.0.1,
watches the files (watchfiles), and pushes a new version number to every
open page over server-sent events, but only when the builder's
`fingerprint` (digests of what its pages show) differs after the change: a
file touched without a change, or one the builder's own reads touch, moves
nothing. No request path ever becomes a file path here: the builder looks
pages up by name.

Writes are the builder's too, and reach it only through one gate
(`_Handler._post_refusal`): a POST, to a path under `/api/`, with the
server's own Host and Origin (no other site the editor has open, and no name
pointed at this computer, can post), the per-run secret token the builder
puts in its pages (`PreviewServer.token`), a JSON object of at most 64 KiB
announced by Content-Length, and, when the server listens on the network, an
editor who said `allow_writes`. Every refusal is a JSON `{"error", "hint"}`
and closes the connection (a body never read must not pass for a request).
Pages carry their own Content-Security-Policy (`Page.csp`).

The server takes on a bounded amount of work (`ServerLimits`): a fixed
number of handler threads for requests and another for event streams, a
listen backlog that holds the connections waiting for one, and a deadline
for each request header, so neither a burst of connections nor a few slow
or silent clients can stall it.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import io
import ipaddress
import json
import math
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["API_PREFIX", "DEFAULT_LIMITS", "EVENTS_PATH", "LOOPBACK_HOSTS", "MAX_BODY",
           "TOKEN_HEADER", "Builder", "Page", "PreviewServer", "ServerLimits",
           "clean_request_path", "refusal"]

EVENTS_PATH = "/__events"
API_PREFIX = "/api/"  # the only paths a POST may go to
TOKEN_HEADER = "X-Newsletter-Token"
MAX_BODY = 64 * 1024  # bytes of a POST body: an edit of one item is a few hundred
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")
_JSON = "application/json"
_KEEPALIVE = 15.0  # seconds between comments on an idle event stream
# seconds between looks whether an idle stream's page went away: a closed tab held
# its stream's slot until the next write (up to _KEEPALIVE), and a desk reopened a
# dozen times within that found every slot taken, its views never loaded
_STREAM_LOOK = 1.0
# watchfiles groups a burst of saves: it yields once nothing changed for STEP ms
_STEP_MS = 30
_DEBOUNCE_MS = 400
_SLOT_POLL = 0.1  # seconds: how often a server waiting for a free thread checks for stop


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """How much the preview server takes on at once, and how long it waits for a client.

    No more than `requests` threads serve requests at once; further connections
    wait in the listen backlog (up to `backlog` of them: the kernel completes
    their handshakes and keeps what they send) until a thread is free. An event
    stream (`/__events`, open as long as its page) moves to one of `streams`
    threads of its own, so open pages never take the threads page loads need;
    past that, a stream is refused with 503. A client has `client_timeout`
    seconds to send a whole request header, counted from when its thread starts
    or from its last answer, so a slow client (a byte every few seconds) is cut
    off like a silent or idle one; each write of an answer has as long.
    """

    backlog: int = 1024  # the socketserver default, 5, dropped connections at 200
    requests: int = 32
    streams: int = 16  # Chromium opens at most 6 connections per host anyway
    client_timeout: float = 5.0

    def __post_init__(self) -> None:
        if min(self.backlog, self.requests, self.streams, self.client_timeout) <= 0:
            raise ValueError(f"every server limit must be above 0: {self}")


DEFAULT_LIMITS = ServerLimits()


@dataclass(frozen=True, slots=True)
class Page:
    """One response, made in memory.

    `csp` is sent as its Content-Security-Policy. `touched` names the files
    the request wrote: the server lets the builder catch up with them right
    after answering, as the watcher would a moment later, so open pages hear
    of a write at once.
    """

    body: bytes
    content_type: str
    status: int = 200
    cache: str = "no-store"  # pages change on every save; content-hashed files never do
    csp: str = ""
    touched: frozenset[Path] = frozenset()


def refusal(status: int, error: str, hint: str = "", **more: Any) -> Page:
    """A JSON answer saying what was refused and what to do instead."""
    body = json.dumps({"error": error, "hint": hint, **more}).encode()
    return Page(body, _JSON, status)


class Builder(Protocol):
    def page(self, path: str, query: Mapping[str, str]) -> Page | None:
        """The page at a clean absolute path (see `clean_request_path`), or None."""

    def post(self, path: str, body: Mapping[str, Any]) -> Page | None:
        """A write to a clean path under `/api/`, or None (404). Only reached
        once the request passed every check (origin, token, size, a JSON object)."""

    def changed(self, paths: set[Path]) -> None:
        """Watched files changed: make what depends on them again."""

    def fingerprint(self) -> object:
        """What the pages show now, as a value that differs whenever anything
        shown differs (digests, not the pages): compared before and after
        `changed`, it decides whether open pages hear of a change."""

    def close(self) -> None:
        """The server stopped: let go of anything held open."""


def clean_request_path(raw: str) -> str | None:
    """The request's path, decoded once and checked; None for anything that
    tries to leave the site: `..` segments (also percent-encoded), backslashes,
    NUL, or a doubled leading slash."""
    if not raw.startswith("/") or raw.startswith("//"):
        return None  # urlsplit would read "//etc/passwd" as a host and a path
    path = unquote(raw.partition("?")[0].partition("#")[0], errors="strict")
    if "\\" in path or "\0" in path or path.startswith("//"):
        return None
    if any(part in ("..", ".") for part in path.split("/")):
        return None
    return path


class PreviewServer:
    """Serves a builder on host:port; `version` counts rebuilds.

    `token` is a secret made for this run: the builder puts it in its pages,
    and every POST must carry it (`TOKEN_HEADER`). On a host other than this
    computer's own, POSTs are refused unless `allow_writes`.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8000,
                 limits: ServerLimits = DEFAULT_LIMITS, allow_writes: bool = False) -> None:
        """Bind now (so the address is known, and a busy port fails at once)."""
        self.builder: Builder | None = None
        self.host = host
        self.token = secrets.token_urlsafe(32)
        self.allow_writes = allow_writes
        self.watch: list[Path] = []  # with everything below them
        self.watch_flat: list[Path] = []  # just the folder's own entries
        self.watch_filter: Callable[[Any, str], bool] | None = None
        self.on_change: Callable[[set[Path]], None] | None = None
        self.version = 0
        self.limits = limits
        self._changed = threading.Condition()
        self._rebuilding = threading.Lock()  # two watchers: one change compared at a time
        self._stop = threading.Event()
        slots = _Slots(limits)
        self._server = _Server((host, port), _handler_for(self, slots), limits=limits,
                               slots=slots, stopping=self._stop)
        self._threads: list[threading.Thread] = []

    def attach(self, builder: Builder, watch: Iterable[Path],
               watch_filter: Callable[[Any, str], bool] | None = None,
               on_change: Callable[[set[Path]], None] | None = None,
               watch_flat: Iterable[Path] = ()) -> None:
        """What to serve, which files to watch, and who hears about changes."""
        self.builder = builder
        self.watch = [p for p in watch if p.exists()]
        self.watch_flat = [p for p in watch_flat if p.exists()]
        self.watch_filter = watch_filter
        self.on_change = on_change

    @property
    def url(self) -> str:
        return f"http://{_bracketed(self.host)}:{self._server.server_port}/"

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def on_network(self) -> bool:
        """Listening on an address other computers reach (not loopback)."""
        return self.host not in LOOPBACK_HOSTS

    @property
    def writable(self) -> bool:
        """Whether POSTs may write: always on loopback, on the network only if allowed."""
        return self.allow_writes or not self.on_network

    def start(self) -> None:
        """Serve and watch on background threads (returns at once)."""
        for target, name in ((self._server.serve_forever, "preview-http"),
                             (lambda: self._watch(self.watch, True), "preview-watch"),
                             (lambda: self._watch(self.watch_flat, False), "preview-watch-flat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.builder is not None:
            self.builder.close()

    def rebuilt(self, paths: set[Path]) -> None:
        """Let the builder catch up with `paths`, then tell every open page, if
        anything a page shows is different (else no version, no event)."""
        with self._rebuilding:
            if self.builder is not None:
                before = self.builder.fingerprint()
                self.builder.changed(paths)
                if self.builder.fingerprint() == before:
                    return
            with self._changed:
                self.version += 1
                self._changed.notify_all()
        if self.on_change is not None:
            self.on_change(paths)

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen or self._stop.is_set(),
                                   timeout=timeout)
            return self.version

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _watch(self, paths: list[Path], recursive: bool) -> None:
        if not paths:
            return
        from watchfiles import watch  # only the preview needs it

        for changes in watch(*paths, watch_filter=self.watch_filter, recursive=recursive,
                             stop_event=self._stop, debounce=_DEBOUNCE_MS, step=_STEP_MS,
                             yield_on_timeout=False, raise_interrupt=False):
            self.rebuilt({Path(path) for _, path in changes})


class _Slots:
    """The handler threads' two budgets, requests and event streams. Each
    handler thread holds one slot, of one kind, until it ends."""

    def __init__(self, limits: ServerLimits) -> None:
        self._requests = threading.BoundedSemaphore(limits.requests)
        self._streams = threading.BoundedSemaphore(limits.streams)
        self._held = threading.local()  # the slot this thread holds

    def take_request(self, stopping: threading.Event) -> bool:
        """A request slot, waited for while all are busy; False if the server stops first."""
        while not self._requests.acquire(timeout=_SLOT_POLL):
            if stopping.is_set():
                return False
        return True

    def give_back_request(self) -> None:
        """For a slot taken by `take_request` whose thread never started."""
        self._requests.release()

    def serve(self, work: Callable[[], None]) -> None:
        """Run `work` on this thread under the request slot taken for it."""
        self._held.slot = self._requests
        try:
            work()
        finally:
            self._held.slot.release()

    def to_stream(self) -> bool:
        """Trade this thread's request slot for a stream slot; False when all are taken."""
        if not self._streams.acquire(blocking=False):
            return False
        self._held.slot.release()
        self._held.slot = self._streams
        return True


class _Server(ThreadingHTTPServer):
    """A thread per connection, but no more than the slots allow: while every
    request slot is busy the server stops accepting, and the listen backlog
    holds the connections that wait."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *,
                 limits: ServerLimits, slots: _Slots, stopping: threading.Event) -> None:
        self.request_queue_size = limits.backlog  # what server_activate passes to listen()
        self.slots = slots
        self.stopping = stopping
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.take_request(self.stopping):
            self.shutdown_request(request)
            return
        work = functools.partial(self.process_request_thread, request, client_address)
        thread = threading.Thread(target=self.slots.serve, args=(work,), name="preview-request",
                                  daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: socketserver closes the connection
            self.slots.give_back_request()
            raise


class _HeaderReader(io.RawIOBase):
    """A connection's bytes for the buffered reader that parses requests, with
    one deadline for a whole request header: a client that sends a byte every
    few seconds is cut off like one that sends nothing (a per-read timeout
    alone would wait for it forever)."""

    def __init__(self, connection: socket.socket, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout
        self._deadline = math.inf

    def restart(self) -> None:
        """The next request header is due within the timeout from now."""
        self._deadline = time.monotonic() + self._timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:  # (a timeout of 0 would mean "do not wait", not "too late")
            raise TimeoutError("the request header did not arrive in time")
        self._connection.settimeout(left)
        try:
            return self._connection.recv_into(buffer)
        finally:
            self._connection.settimeout(self._timeout)  # answers go out under their own


def _handler_for(server: PreviewServer, slots: _Slots) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        preview = server
        thread_slots = slots
        timeout = server.limits.client_timeout  # socketserver sets it on the connection

    return Handler


class _Handler(BaseHTTPRequestHandler):
    preview: PreviewServer
    thread_slots: _Slots
    server_version = "newsletter-preview"
    protocol_version = "HTTP/1.1"
    # headers and body go out as two writes: without this the body waits ~40 ms
    # for the browser's delayed acknowledgement of the headers (Nagle)
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own reader would wait for a slow client forever
        self._header = _HeaderReader(self.connection, self.preview.limits.client_timeout)
        self.rfile = io.BufferedReader(self._header)

    def handle_one_request(self) -> None:
        # a header not complete in time raises TimeoutError inside, where
        # http.server catches it and closes the connection
        self._header.restart()
        super().handle_one_request()

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        path = self._clean_path()
        if path is None or not path.startswith(API_PREFIX):
            self._refuse()
            return
        found = self._post_refusal()
        if isinstance(found, Page):
            self._discard_body()
        body = found if isinstance(found, Page) else self._read_json(found)
        if isinstance(body, Page):
            self.close_connection = True  # a refused request's connection ends with it
            self._send(body, head=False)
            return
        builder = self.preview.builder
        page = builder.post(path, body) if builder is not None else None
        self._send(page or refusal(HTTPStatus.NOT_FOUND, f"nothing to post to at {path}"),
                   head=False)
        if page is not None and page.touched:
            self.preview.rebuilt(set(page.touched))

    def _refuse(self) -> None:
        # its body is never parsed: close, so it cannot pass for another request
        self.close_connection = True
        self._discard_body()
        path = self._clean_path()
        api = path is not None and path.startswith(API_PREFIX)
        said = b"only GET, HEAD and POST\n" if api else b"only GET and HEAD\n"
        self._send(Page(said, "text/plain; charset=utf-8", HTTPStatus.METHOD_NOT_ALLOWED),
                   head=False, allow="GET, HEAD, POST" if api else "GET, HEAD")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def _clean_path(self) -> str | None:
        try:
            return clean_request_path(self.path)
        except UnicodeDecodeError:
            return None

    def _answer(self, *, head: bool) -> None:
        if not self._host_allowed():
            self._send(Page(b"unknown host\n", "text/plain; charset=utf-8",
                            HTTPStatus.MISDIRECTED_REQUEST), head=head)
            return
        path = self._clean_path()
        if path == EVENTS_PATH and not head:
            if self.thread_slots.to_stream():
                self._events()
            else:
                self.close_connection = True  # nothing else is asked on a stream's connection
                self._send(Page(b"too many open previews: close some of the tabs\n",
                                "text/plain; charset=utf-8", HTTPStatus.SERVICE_UNAVAILABLE),
                           head=head)
            return
        if path and path.startswith(API_PREFIX) and not self._same_site_fetch():
            self._send(refusal(HTTPStatus.FORBIDDEN, "a request from another site",
                               "open the desk from its own address"), head=head)
            return
        query = dict(parse_qsl(urlsplit(self.path).query))
        builder = self.preview.builder
        page = builder.page(path, query) if path and builder else None
        self._send(page or Page(b"not found\n", "text/plain; charset=utf-8",
                                HTTPStatus.NOT_FOUND), head=head)

    def _host_allowed(self) -> bool:
        """On this computer, only its own names: a web page that points a name of
        its own at 127.0.0.1 (DNS rebinding) must not read the drafts."""
        if self.preview.on_network:
            return True  # --host: the editor chose to serve the network
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        return host in LOOPBACK_HOSTS

    # --- the gate every POST passes -------------------------------------------------

    def _post_refusal(self) -> Page | int:
        """Why this POST is refused (a page to answer with), else its body's length."""
        if not self._host_allowed():
            return refusal(HTTPStatus.MISDIRECTED_REQUEST, "unknown host",
                           "open the desk at the address `newsletter preview` printed")
        if not self._origin_allowed() or not self._same_site_fetch(post=True):
            return refusal(HTTPStatus.FORBIDDEN, "a write from another site or page",
                           "edit from the desk's own page, at the address "
                           "`newsletter preview` printed")
        if not self.preview.writable:
            return refusal(HTTPStatus.FORBIDDEN,
                           "the desk is read-only when served to the network",
                           "start it with --allow-writes to edit from other computers")
        token = self.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(token.encode(), self.preview.token.encode()):
            return refusal(HTTPStatus.FORBIDDEN, "a missing or stale token",
                           "reload the page: the desk was restarted since it was opened")
        return self._body_length()

    def _body_length(self) -> Page | int:
        if self.headers.get("Transfer-Encoding") is not None:
            return refusal(HTTPStatus.LENGTH_REQUIRED, "a body in chunks",
                           "send the body whole, with a Content-Length")
        length = (self.headers.get("Content-Length") or "").strip()
        if not length.isdigit() or len(length) > 12:
            return refusal(HTTPStatus.LENGTH_REQUIRED, "no Content-Length",
                           "send the body whole, with a Content-Length")
        if int(length) > MAX_BODY:
            return refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"a body of {int(length)} bytes: at most {MAX_BODY} are read",
                           "send one edit at a time")
        kind = (self.headers.get("Content-Type") or "").partition(";")[0].strip().lower()
        if kind != _JSON:
            return refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                           f"a body of type {kind or 'unknown'}", f"send {_JSON}")
        return int(length)

    def _discard_body(self) -> None:
        """Read and drop the body of a refused request, if it is small and whole, so
        the refusal reaches the client: closing a connection with bytes unread
        resets it, and the client may lose the answer. A large or chunked body
        is left unread (the client learns nothing, but no work is done for it)."""
        length = (self.headers.get("Content-Length") or "").strip()
        if self.headers.get("Transfer-Encoding") is not None or not length.isdigit() \
                or len(length) > 12 or int(length) > MAX_BODY:
            return
        with contextlib.suppress(OSError):  # a slow or gone client: the answer goes anyway
            self.rfile.read(int(length))

    def _read_json(self, length: int) -> dict[str, Any] | Page:
        """The body (its length checked) as a JSON object, or the refusal."""
        data = self.rfile.read(length)  # within the request's deadline (_HeaderReader)
        if len(data) != length:
            return refusal(HTTPStatus.BAD_REQUEST, "the body ended early")
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return refusal(HTTPStatus.BAD_REQUEST, "the body is not JSON", "send a JSON object")
        if not isinstance(body, dict):
            return refusal(HTTPStatus.BAD_REQUEST, "the body is not a JSON object",
                           "send a JSON object")
        return body

    def _origin_allowed(self) -> bool:
        """The request comes from a page of this server: its Origin is one of the
        server's own addresses (a form or script on another site, another port
        of this computer included, sends its own; a sandboxed frame sends null)."""
        origin = (self.headers.get("Origin") or "").strip().lower()
        return origin != "" and origin in self._own_origins()

    def _own_origins(self) -> set[str]:
        port = self.preview.port
        host = self.preview.host
        if not self.preview.on_network:
            return {f"http://{_bracketed(name)}:{port}" for name in LOOPBACK_HOSTS}
        if host not in _WILDCARD_HOSTS:
            return {f"http://{_bracketed(host).lower()}:{port}"}
        # every address of this computer: the one the browser asked, if it is an
        # address (a name could be anyone's, pointed here)
        asked = (self.headers.get("Host") or "").strip().lower()
        name, _, asked_port = asked.rpartition(":")
        if asked_port != str(port) or not _is_address(name.strip("[]")):
            return set()
        return {f"http://{asked}"}

    def _same_site_fetch(self, *, post: bool = False) -> bool:
        """Browsers say where a request comes from (Sec-Fetch-Site): from this
        server's own pages only. A GET typed or followed by the editor is "none";
        a write must come from a page ("same-origin")."""
        site = (self.headers.get("Sec-Fetch-Site") or "").strip().lower()
        allowed = ("same-origin",) if post else ("same-origin", "none")
        return site == "" or site in allowed

    def _send(self, page: Page, *, head: bool, allow: str = "") -> None:
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self.send_header("Cache-Control", page.cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if page.csp:
            self.send_header("Content-Security-Policy", page.csp)
        if page.content_type.startswith("text/html"):
            self.send_header("X-Frame-Options", "SAMEORIGIN")
        if allow:
            self.send_header("Allow", allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(page.body)

    def _events(self) -> None:
        """Server-sent events: the build version now, then at every change."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        seen = self.preview.version
        with contextlib.suppress(OSError):  # the page went away
            self.wfile.write(f"retry: 500\ndata: {seen}\n\n".encode())
            self.wfile.flush()
            quiet_since = time.monotonic()
            while not self.preview.stopping:
                now = self.preview.wait_for_change(seen, _STREAM_LOOK)
                if now == seen:
                    if self._page_gone():
                        return
                    if time.monotonic() - quiet_since < _KEEPALIVE:
                        continue
                message = f"data: {now}\n\n" if now != seen else ": still here\n\n"
                self.wfile.write(message.encode())
                self.wfile.flush()
                seen, quiet_since = now, time.monotonic()

    def _page_gone(self) -> bool:
        """Whether the page hung up its stream: it never sends on it, so a socket
        that reads as ready holds either the end of the stream or stray bytes."""
        try:
            ready, _, _ = select.select([self.connection], [], [], 0)
            return bool(ready) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def handle(self) -> None:
        # a save cancels half-loaded views: the browser hanging up is not news
        with contextlib.suppress(ConnectionError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the editor's terminal shows rebuilds and errors, not every request


def _bracketed(host: str) -> str:
    """A host as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
