"""Fetch one web page (for `newsletter add`): bounded in time and size, decoded as a browser would.

The client, the size cap and the bounded decompression are `newsletter._http`'s
(shared with `fetch`). What is this module's own is the text: a page's bytes
are decoded by the WHATWG order, through w3lib's `html_to_unicode`: a byte
order mark first, then the HTTP charset, then the page's own `<meta charset>`
or `<meta http-equiv>` (or an XML declaration), and UTF-8 when nothing says.
The HTTP charset alone garbled every page that declares its encoding only in
the markup, as Japanese sites in Shift_JIS often do.
"""

from __future__ import annotations

import asyncio

import httpx
from w3lib.encoding import html_to_unicode

from .._http import (
    CODINGS,
    DECODE_ERRORS,
    BodyTooLarge,
    UnknownCoding,
    new_client,
    read_body,
)
from ..errors import FeedError
from ..sanitize import is_safe_url

__all__ = ["MAX_PAGE_BYTES", "get_page", "page_text"]

MAX_PAGE_BYTES = 5_000_000
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
_TOTAL_SECONDS = 60.0  # connect, redirects and body: a server sending a byte at a time ends
_MAX_REDIRECTS = 5


def get_page(url: str) -> tuple[str, str]:
    """The page's text and its final address after redirects; FeedError on failure.

    Runs its own event loop (`asyncio.run`): call it from plain code.
    """
    if not is_safe_url(url) or url.lower().startswith("mailto:"):
        raise FeedError("not a web address", feed=url, hint="give an https:// address")
    body, content_type, final_url = asyncio.run(_download(url))
    return page_text(body, content_type), final_url


def page_text(body: bytes, content_type: str | None) -> str:
    """A page's bytes as text: BOM, then the HTTP charset, then `<meta>`, else UTF-8."""
    return html_to_unicode(content_type, body)[1]


async def _download(url: str) -> tuple[bytes, str | None, str]:
    try:
        async with (asyncio.timeout(_TOTAL_SECONDS),
                    new_client(accept=_ACCEPT, timeout=_TIMEOUT, connections=1,
                               max_redirects=_MAX_REDIRECTS) as client,
                    client.stream("GET", url) as response):
            response.raise_for_status()
            body = await read_body(response, MAX_PAGE_BYTES)
            return body, response.headers.get("content-type"), str(response.url)
    except BodyTooLarge as exc:
        raise FeedError(f"the page is larger than {MAX_PAGE_BYTES:,} bytes", feed=url,
                        hint="write the story inline in the issue file instead") from exc
    except UnknownCoding as exc:
        raise FeedError(f'the server sent the page encoded as "{exc.coding}", which newsletter '
                        f"cannot read (it asks for {', '.join(CODINGS)})", feed=url,
                        hint="write the story inline in the issue file instead") from exc
    except DECODE_ERRORS as exc:
        raise FeedError("the server sent a damaged compressed page", feed=url,
                        hint="try again later, or write the story inline") from exc
    except TimeoutError as exc:
        raise FeedError(f"the page took longer than {_TOTAL_SECONDS:g} s to download", feed=url,
                        hint="try again later, or write the story inline") from exc
    except httpx.HTTPStatusError as exc:
        raise FeedError(f"the server answered {exc.response.status_code}", feed=url,
                        hint="check the address in a browser") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FeedError(f"cannot fetch the page ({type(exc).__name__})", feed=url,
                        hint="check the address and your connection") from exc
