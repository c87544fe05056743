"""What every HTTP user of the package shares: `collect.fetch`, `collect.web`, `check.links`.

- `USER_AGENT`, the one way newsletter names itself to a server;
- `new_client`: the httpx client, with the caller's timeouts, connection
  limits and redirect policy, asking only for the encodings we can undo
  with a bound;
- `Slots`: at most N requests at once, and M to one host (or origin);
- `gather_or_cancel`: run tasks together; on an error or Ctrl-C the others are
  cancelled and awaited before the client they use is closed;
- `read_body`: a streamed body, capped while it arrives and while it inflates.

Each user keeps what is its own: which headers it sends, what a failure
means to the editor (these helpers raise `BodyTooLarge` and
`UnknownCoding`, and let `NETWORK_ERRORS` and `DECODE_ERRORS` through for
the caller to word), and what it does with the body.

Why decompression is done here rather than by httpx: httpx's decoders
inflate each network chunk in full, and 329 bytes of brotli inflate to
200 MB before any cap could look. So bodies are read raw
(`Response.aiter_raw`) and inflated by decoders that stop at the cap.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from . import __version__

try:
    import brotli  # type: ignore[import-untyped]  # no stubs; C bindings, httpx[brotli]
except ImportError:  # pragma: no cover - PyPy uses brotlicffi, which we do not bound
    brotli = None

__all__ = ["CODINGS", "DECODE_ERRORS", "NETWORK_ERRORS", "USER_AGENT", "BodyTooLarge", "Slots",
           "UnknownCoding", "Unreachable", "detail", "error_chain", "gather_or_cancel",
           "new_client", "read_body", "web_host", "why_unreachable"]

USER_AGENT = f"newsletter/{__version__} (+https://github.com/newsletter-desk/newsletter)"

#: What httpx raises for a request that got no usable answer (TimeoutError: asyncio.timeout).
NETWORK_ERRORS: tuple[type[Exception], ...] = (TimeoutError, httpx.HTTPError, httpx.InvalidURL)

_T = TypeVar("_T")


# --- the client ---------------------------------------------------------------------


def new_client(*, accept: str, timeout: httpx.Timeout, connections: int,
               keepalive: int | None = None, max_redirects: int | None,
               user_agent: str = USER_AGENT,
               event_hooks: dict[str, list[Callable[[Any], Any]]] | None = None,
               ) -> httpx.AsyncClient:
    """An httpx client that names newsletter and asks only for encodings `read_body` bounds.

    `connections` caps open connections, `keepalive` the idle ones kept
    (default: as many). `max_redirects` None: redirects are not followed
    (the caller follows them itself, hop by hop).
    """
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept": accept,
                 "Accept-Encoding": ", ".join(CODINGS)},
        timeout=timeout,
        limits=httpx.Limits(max_connections=connections,
                            max_keepalive_connections=connections if keepalive is None
                            else keepalive),
        follow_redirects=max_redirects is not None,
        max_redirects=max_redirects if max_redirects is not None else 0,
        event_hooks=event_hooks)


class Slots:
    """At most `concurrency` requests in flight, and at most `per_host` to one host.

    The key is the caller's idea of a host: a host name (`collect.fetch`), or
    an origin (scheme, host, port: `check.links`). The host's slot is taken
    first, so a request waiting for a busy host holds none of the global ones.
    Make it inside the event loop that uses it.
    """

    def __init__(self, *, concurrency: int, per_host: int) -> None:
        self._all = asyncio.Semaphore(concurrency)
        self._per_host = per_host
        self._hosts: dict[Hashable, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def __call__(self, host: Hashable) -> AsyncIterator[None]:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self._per_host)
        async with slot, self._all:
            yield


async def gather_or_cancel(work: Iterable[Awaitable[_T]]) -> list[_T]:
    """Every result, in order; the first error comes out as it is.

    On that error, or when the run itself is cancelled (Ctrl-C), the other
    tasks are cancelled and awaited before this returns, so none of them is
    still using the client when the caller closes it.
    """
    tasks = [asyncio.ensure_future(one) for one in work]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def error_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then what caused it, and so on (each once): where the real reason hides."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def web_host(url: str) -> str | None:
    """The host of an http(s) address, to count connections against; None for
    anything httpx should not be given (another scheme, no host, spaces)."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        return None
    if scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return None
    return host


def detail(exc: BaseException) -> str:
    """What went wrong, in the words of the first error in the chain that has any.

    Never empty: a connection reset mid-body comes out of httpx as a
    `ReadError` with no message, caused by one with none either, caused by
    `ConnectionResetError` ("Connection reset by peer").
    """
    for cause in error_chain(exc):
        said = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        if said.strip():
            return said.strip()
    return " from ".join(type(cause).__name__ for cause in error_chain(exc))


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Why a connection could not be made; each caller words it for its reader.

    `said` is the host not found, the certificate's or TLS's complaint, or
    the error's own words.
    """

    kind: Literal["host", "refused", "certificate", "tls", "other"]
    said: str


def why_unreachable(exc: BaseException, host: str = "") -> Unreachable:
    """Sort a connect failure by its cause: an unknown host, a refusal, TLS trouble."""
    causes = list(error_chain(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Unreachable("certificate", cause.verify_message or str(cause))
        if isinstance(cause, ssl.SSLError):
            return Unreachable("tls", str(cause.reason or cause))
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return Unreachable("host", host)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return Unreachable("refused", "")
    return Unreachable("other", detail(exc))


# --- the body: capped while it streams and while it inflates -------------------------


class BodyTooLarge(Exception):
    """What came, or what it inflates to, is past the cap; `declared` if Content-Length said so."""

    def __init__(self, cap: int, declared: int | None = None) -> None:
        super().__init__(f"the body is larger than {cap} bytes")
        self.cap = cap
        self.declared = declared


class UnknownCoding(Exception):
    """The server used a Content-Encoding we did not ask for and cannot undo."""

    def __init__(self, coding: str) -> None:
        super().__init__(f'unknown content coding "{coding}"')
        self.coding = coding


class _Decoder(Protocol):
    def __call__(self, data: bytes, limit: int) -> bytes: ...


class _Inflate:
    """gzip, or deflate (zlib-wrapped, or raw as some servers send it); at most `limit` out."""

    def __init__(self, coding: str) -> None:
        self._raw_fallback = coding == "deflate"
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | (0 if self._raw_fallback else 16))

    def __call__(self, data: bytes, limit: int) -> bytes:
        if self._raw_fallback and data:
            self._raw_fallback = False
            try:
                return self._inflater.decompress(data, limit)
            except zlib.error:
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inflater.decompress(data, limit)


class _Unbrotli:
    """brotli, with an output limit (brotli >= 1.2)."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def __call__(self, data: bytes, limit: int) -> bytes:
        return bytes(self._decompressor.process(data, output_buffer_limit=limit))


def _brotli_bounded() -> bool:
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except (AttributeError, TypeError):  # no brotli, or one without output limits
        return False
    return True


_BROTLI = brotli is not None and _brotli_bounded()
#: The encodings we ask for (Accept-Encoding) and undo with a bound.
CODINGS = ("gzip", "deflate", "br") if _BROTLI else ("gzip", "deflate")
#: What a damaged compressed body raises from `read_body`.
DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error, *((brotli.error,) if _BROTLI else ()))


def _decoders(content_encoding: str) -> list[_Decoder]:
    """One decoder per coding, in the order they are undone (the last applied first)."""
    chain: list[_Decoder] = []
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("gzip", "x-gzip", "deflate"):
            chain.append(_Inflate("deflate" if coding == "deflate" else "gzip"))
        elif coding == "br" and _BROTLI:
            chain.append(_Unbrotli())
        elif coding not in ("", "identity"):
            raise UnknownCoding(coding)
    return chain


async def read_body(response: httpx.Response, cap: int) -> bytes:
    """The decoded body; `BodyTooLarge` as soon as what came or what it inflates to passes `cap`.

    Also `UnknownCoding`, and the `DECODE_ERRORS` of a damaged body.
    """
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(cap, int(declared))
    chain = _decoders(response.headers.get("content-encoding", ""))
    body, received = bytearray(), 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        for decode in chain:
            chunk = decode(chunk, cap - len(body) + 1)
        body += chunk
        if received > cap or len(body) > cap:
            raise BodyTooLarge(cap)
    return bytes(body)
