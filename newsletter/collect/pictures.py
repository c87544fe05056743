"""Pictures on the web, measured: downloaded within limits, sized by Pillow, cached.

Every `<img>` in an email needs a width and a height (Outlook ignores CSS
sizes), and a feed seldom gives them. `measure_pictures` downloads each
picture once, with the limits a feed download has:

- the address and every redirect must be http(s) (redirects are followed
  here, hop by hop, so a `file:` or `ftp:` target is refused, never asked);
- a content type that is not a picture (a web page served in its place, a
  video) is refused before the body is read;
- the body is capped (`Content-Length` first, then while it streams and
  while it inflates: `_http.read_body`), and the whole download has a time
  limit;
- Pillow reads only the file's header, among JPEG, PNG, GIF and WebP; the
  pixels are never decoded, and a header claiming more than `max_pixels` is
  refused (Pillow's own bomb warning and error, for larger claims still, are
  caught and said the same way).

What it found is kept in `cache` (the desk's `.newsletter/pictures/`): the
bytes by content digest, and the answer by URL, so a preview or a second
issue showing the same picture asks nothing. A failure is `lasting` when it
will not mend by asking again (404, not a picture, too big): those are kept
too. A timeout or a dropped connection is not, and is tried again by the
next run (a long-lived process, the preview, waits five minutes first, so a
slow host does not hold up every render). Each URL gets a `Measured` or an
`Unmeasured`, never an exception. At most `concurrency` pictures are asked at
once (`per_host` of them to one host).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from .._cache import store_in_cache
from .._http import (
    DECODE_ERRORS,
    NETWORK_ERRORS,
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

__all__ = ["Measured", "PictureOptions", "Unmeasured", "measure_pictures"]

_log = logging.getLogger(__name__)
_MB = 1024 * 1024
# a server that negotiates gets asked for what every email client shows
_ACCEPT = "image/jpeg, image/png, image/gif;q=0.9, image/*;q=0.5"
# the formats an email can carry (WebP is read only to say why it cannot)
_SHOWN = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif"}
_READ = ("JPEG", "PNG", "GIF", "WEBP")
# what a server may call a picture before Pillow says whether it is one
_MAYBE_PICTURE = ("", "application/octet-stream", "binary/octet-stream")
_CACHE_VERSION = 1
_GONE = "the story goes out without a picture; to show one, give the item its own image:"


@dataclass(frozen=True, slots=True, kw_only=True)
class PictureOptions:
    """How many pictures at once, how long to wait, how much to read: a feed's limits.

    Timeouts are seconds; `total_timeout` bounds one picture's connect,
    redirects and body.
    """

    concurrency: int = 8
    per_host: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * _MB
    max_pixels: int = 40_000_000
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if min(self.concurrency, self.per_host, self.max_bytes, self.max_pixels) < 1:
            raise ValueError(f"PictureOptions need positive limits: {self}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    """A picture that can go in an email: its size, format and content digest."""

    url: str
    width: int
    height: int
    format: str  # JPEG, PNG or GIF
    sha256: str
    size: int  # bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmeasured:
    """A picture that cannot be used, why, and what the editor can do.

    `lasting`: asking again will not help (404, not a picture, too big), so
    the answer is kept; otherwise (a timeout, no connection) it is asked again.
    """

    url: str
    reason: str
    hint: str
    lasting: bool = True


Result = Measured | Unmeasured


def measure_pictures(urls: Iterable[str], *, cache: Path | None = None, fresh: bool = False,
                     options: PictureOptions = PictureOptions()) -> dict[str, Result]:
    """Measure each picture at `urls` (at most `options.concurrency` at once).

    `cache` answers from earlier runs (unless `fresh`) and keeps new answers.
    Runs its own event loop (`asyncio.run`): call it from plain code.
    """
    wanted = list(dict.fromkeys(urls))
    found: dict[str, Result] = {}
    for url in wanted:
        known = None if fresh else _recent_failure(url) or (
            _cached(cache, url) if cache is not None else None)
        if known is not None:
            found[url] = known
    asked = [url for url in wanted if url not in found]
    if asked:
        _log.info("measuring %d picture%s on the web", len(asked), "s" * (len(asked) != 1))
        for result, data in asyncio.run(_measure_all(asked, options)):
            found[result.url] = result
            if isinstance(result, Unmeasured) and not result.lasting:
                _remember_failure(result)
            elif cache is not None:
                _remember(cache, result, data)
    return {url: found[url] for url in wanted}


# A picture that timed out is asked again by the next run, but not by every render of
# a long-lived process (the preview renders on each save): it waits this long first.
_RETRY_AFTER = 300.0
_RECENT_MAX = 1_000
_recent: dict[str, tuple[float, Unmeasured]] = {}


def _recent_failure(url: str) -> Unmeasured | None:
    seen = _recent.get(url)
    if seen is None or time.monotonic() - seen[0] > _RETRY_AFTER:
        return None
    return seen[1]


def _remember_failure(result: Unmeasured) -> None:
    if len(_recent) >= _RECENT_MAX:
        _recent.clear()  # a bound, not a cache policy: forgetting only costs a retry
    _recent[result.url] = (time.monotonic(), result)


# --- the network ------------------------------------------------------------------


class _Refused(Exception):
    """One picture's problem, as the editor reads it."""

    def __init__(self, reason: str, hint: str, *, lasting: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.lasting = lasting


async def _measure_all(urls: list[str], options: PictureOptions
                       ) -> list[tuple[Result, bytes]]:
    slots = Slots(concurrency=options.concurrency, per_host=options.per_host)
    timeout = httpx.Timeout(connect=options.connect_timeout, read=options.read_timeout,
                            write=options.read_timeout, pool=options.total_timeout)
    async with new_client(accept=_ACCEPT, timeout=timeout, connections=options.concurrency,
                          max_redirects=None) as client:
        return await gather_or_cancel(_measure_one(client, slots, url, options) for url in urls)


async def _measure_one(client: httpx.AsyncClient, slots: Slots, url: str,
                       options: PictureOptions) -> tuple[Result, bytes]:
    """The answer for one picture, and its bytes (empty when there are none to keep)."""
    try:
        async with slots(_host(url)), asyncio.timeout(options.total_timeout):
            data = await _download(client, url, options)
    except _Refused as refused:
        return Unmeasured(url=url, reason=refused.reason, hint=refused.hint,
                          lasting=refused.lasting), b""
    except TimeoutError:
        return Unmeasured(url=url, lasting=False, reason=(
            f"the picture took longer than {options.total_timeout:g} s to download"),
            hint="the site may be slow or down; build again later"), b""
    except NETWORK_ERRORS as exc:
        return Unmeasured(url=url, lasting=False, reason=_network_reason(exc, url),
                          hint="check the address and your connection; build again later"), b""
    return _measure(url, data, options), data


def _network_reason(exc: BaseException, url: str) -> str:
    if not isinstance(exc, httpx.ConnectError):
        return f"the download failed ({detail(exc)})"
    why = why_unreachable(exc, exc.request.url.host)
    return {"host": f'the host "{why.said}" was not found',
            "refused": "the server refused the connection",
            "certificate": f"the site's certificate is not valid ({why.said})",
            "tls": f"the secure (TLS) connection failed ({why.said})",
            }.get(why.kind, f"could not connect ({why.said})")


async def _download(client: httpx.AsyncClient, url: str, options: PictureOptions) -> bytes:
    """The picture's bytes; redirects followed here, each checked before it is asked."""
    for _ in range(options.max_redirects + 1):
        _host(url)
        async with client.stream("GET", url) as response:
            location = response.headers.get("location")
            if response.is_redirect and location:
                url = _redirect_target(url, location)
                continue
            return await _picture_body(response, options)
    raise _Refused(f"the address redirects more than {options.max_redirects} times",
                   "open it in a browser and use the address it ends at")


async def _picture_body(response: httpx.Response, options: PictureOptions) -> bytes:
    status = response.status_code
    if status != 200:
        lasting = 400 <= status < 500 and status not in (408, 425, 429)
        raise _Refused(f"the server answered {status} {response.reason_phrase}".rstrip(),
                       _GONE if lasting else "the site may be busy; build again later",
                       lasting=lasting)
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not kind.startswith("image/") and kind not in _MAYBE_PICTURE:
        raise _Refused(f"the address serves {kind}, not a picture",
                       "the feed points at a page, not a picture; " + _GONE)
    try:
        return await read_body(response, options.max_bytes)
    except BodyTooLarge as exc:
        size = f"{_megabytes(exc.declared)}, more than" if exc.declared else "larger than"
        raise _Refused(f"the picture is {size} the {_megabytes(options.max_bytes)} "
                       "newsletter reads", "a picture this big does not belong in an email; "
                       + _GONE) from exc
    except UnknownCoding as exc:
        raise _Refused(f'the server sent the picture encoded as "{exc.coding}"', _GONE) from exc
    except DECODE_ERRORS as exc:
        raise _Refused("the server sent a damaged compressed picture",
                       "build again later", lasting=False) from exc


def _host(url: str) -> str:
    """The host to count connections against; refused unless an http(s) address."""
    host = web_host(url)
    if host is None:
        raise _Refused(f'"{url}" is not an http(s) address', _GONE)
    return host


def _redirect_target(url: str, location: str) -> str:
    try:
        target = urljoin(url, location.strip())
    except ValueError as exc:
        raise _Refused("the server redirects to an address that cannot be read", _GONE) from exc
    scheme = target.partition(":")[0].lower()
    if scheme not in ("http", "https"):
        raise _Refused(f"the server redirects to a {scheme}: address, which newsletter "
                       "never follows", _GONE)
    return target


def _megabytes(count: int | None) -> str:
    return f"{(count or 0) / _MB:.3g} MB"


# --- the picture ------------------------------------------------------------------


def _measure(url: str, data: bytes, options: PictureOptions) -> Result:
    """The size from the header (no pixel is decoded); Unmeasured for what an email cannot show."""
    try:
        with warnings.catch_warnings():
            # past Pillow's own limit it warns; our cap below is lower, so say it as ours
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=_READ) as picture:
                width, height, kind = picture.width, picture.height, picture.format or ""
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        return _too_many_pixels(url, options)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # Pillow's parse errors
        return Unmeasured(url=url, reason="the address does not serve a JPEG, PNG or GIF picture",
                          hint=_GONE)
    if width * height > options.max_pixels:
        return _too_many_pixels(url, options, f" ({width}x{height})")
    if kind not in _SHOWN:
        return Unmeasured(url=url, reason=f"the picture is {kind}, which email clients do not "
                          "all show", hint=_GONE)
    return Measured(url=url, width=width, height=height, format=kind,
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _too_many_pixels(url: str, options: PictureOptions, detail: str = "") -> Unmeasured:
    return Unmeasured(url=url, reason=f"the picture has more than {options.max_pixels:,} "
                      f"pixels{detail}", hint=_GONE)


# --- the cache: answers by URL, bytes by content ----------------------------------


def _entry_path(cache: Path, url: str) -> Path:
    return cache / "urls" / f"{hashlib.sha256(url.encode()).hexdigest()[:40]}.json"


def _cached(cache: Path, url: str) -> Result | None:
    """An earlier answer for `url`; None when there is none, or it cannot be trusted."""
    try:
        data = json.loads(_entry_path(cache, url).read_text(encoding="utf-8"))
        if data.get("version") != _CACHE_VERSION or data.get("url") != url:
            return None
        if "reason" in data:
            return Unmeasured(url=url, reason=str(data["reason"]), hint=str(data["hint"]))
        found = Measured(url=url, width=int(data["width"]), height=int(data["height"]),
                         format=str(data["format"]), sha256=str(data["sha256"]),
                         size=int(data["size"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return found if found.width > 0 and found.height > 0 and found.format in _SHOWN else None


def _remember(cache: Path, result: Result, data: bytes) -> None:
    """Keep a lasting answer (a success, with its bytes, or a failure that asking again
    will not mend)."""
    if isinstance(result, Unmeasured) and not result.lasting:
        return
    entry = {"version": _CACHE_VERSION, "url": result.url}
    if isinstance(result, Measured):
        entry |= {"width": result.width, "height": result.height, "format": result.format,
                  "sha256": result.sha256, "size": result.size}
    else:
        entry |= {"reason": result.reason, "hint": result.hint}
    path = _entry_path(cache, result.url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only desk: measure again next time
    store_in_cache(path, json.dumps(entry, ensure_ascii=False, sort_keys=True).encode())
    if isinstance(result, Measured):
        _keep_bytes(cache, result, data)


def _keep_bytes(cache: Path, result: Measured, data: bytes) -> None:
    """The picture itself, by content: the same picture at two addresses is kept once."""
    path = cache / "files" / f"{result.sha256}{_SHOWN[result.format]}"
    if path.is_file():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    store_in_cache(path, data)

