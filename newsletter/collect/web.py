"""Fetch one web page (for `newsletter add`) or find a feed (for `newsletter feeds add`):
bounded in time and size, decoded as a browser would.

The client, the size cap and the bounded decompression are `newsletter._http`'s
(shared with `fetch`). What is this module's own is the text: a page's bytes
are decoded by the WHATWG order, through w3lib's `html_to_unicode`: a byte
order mark first, then the HTTP charset, then the page's own `<meta charset>`
or `<meta http-equiv>` (or an XML declaration), and UTF-8 when nothing says.
The HTTP charset alone garbled every page that declares its encoding only in
the markup, as Japanese sites in Shift_JIS often do.

`find_feed` takes an address an editor pasted: a feed is read as it is; an
ordinary page is searched for the feeds it names (`<link rel="alternate">`),
and the first one that reads as a feed is it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

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

__all__ = ["MAX_FEED_BYTES", "MAX_PAGE_BYTES", "FoundFeed", "find_feed", "get_page",
           "page_text"]

MAX_PAGE_BYTES = 5_000_000
MAX_FEED_BYTES = 10 * 1024 * 1024  # as `fetch` reads feeds
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
_FEED_OR_PAGE = ("application/atom+xml, application/rss+xml, application/feed+json, "
                 "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5")
_FEEDS_TRIED = 3  # feeds a page names that are read before giving up
_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
_TOTAL_SECONDS = 60.0  # connect, redirects and body: a server sending a byte at a time ends
_MAX_REDIRECTS = 5


def get_page(url: str) -> tuple[str, str]:
    """The page's text and its final address after redirects; FeedError on failure.

    Runs its own event loop (`asyncio.run`): call it from plain code.
    """
    body, content_type, final_url = _get(url, accept=_ACCEPT, cap=MAX_PAGE_BYTES)
    return page_text(body, content_type), final_url


def _get(url: str, *, accept: str, cap: int) -> tuple[bytes, str | None, str]:
    if not is_safe_url(url) or url.lower().startswith("mailto:"):
        raise FeedError("not a web address", feed=url, hint="give an https:// address")
    return asyncio.run(_download(url, accept=accept, cap=cap))


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundFeed:
    """The feed behind an address: the address itself, or one its page names."""

    url: str
    title: str  # the feed's own title ("" when it has none)
    page: str = ""  # the page it was found through ("": the address was the feed)
    others: tuple[str, ...] = ()  # further feeds the page names


def find_feed(url: str, *, now: dt.datetime) -> FoundFeed:
    """The feed at `url`, or the first feed the page at `url` names that reads as
    a feed; FeedError saying what was found otherwise."""
    from .page import feed_links

    body, content_type, final = _get(url, accept=_FEED_OR_PAGE, cap=MAX_FEED_BYTES)
    try:
        return FoundFeed(url=url, title=_feed_title(body, content_type, final, now))
    except FeedError as not_a_feed:
        links = feed_links(page_text(body, content_type), base=final)
        if not links:
            raise FeedError(
                "this is neither a feed nor a page that names one "
                '(no <link rel="alternate"> to a feed)', feed=url,
                hint="find the feed's address on the site (it often ends in /feed, /rss or "
                     ".xml) and add that") from not_a_feed
    problems = []
    for link in links[:_FEEDS_TRIED]:
        try:
            feed, content_type, final = _get(link.url, accept=_FEED_OR_PAGE, cap=MAX_FEED_BYTES)
            title = _feed_title(feed, content_type, final, now) or link.title
        except FeedError as exc:
            problems.append(str(exc))
            continue
        return FoundFeed(url=link.url, title=title, page=url,
                         others=tuple(other.url for other in links if other is not link))
    raise FeedError(f"the page names {len(links)} feed{'s' * (len(links) != 1)}, and none "
                    f"could be read: {'; '.join(problems)}", feed=url,
                    hint="add the feed's own address if you know it")


def _feed_title(body: bytes, content_type: str | None, url: str, now: dt.datetime) -> str:
    """The title of the feed in `body`; FeedError when it is no feed."""
    from .parse import parse_feed

    return parse_feed(body, feed=url, url=url, content_type=content_type, fetched_at=now).title


def page_text(body: bytes, content_type: str | None) -> str:
    """A page's bytes as text: BOM, then the HTTP charset, then `<meta>`, else UTF-8."""
    return html_to_unicode(content_type, body)[1]


async def _download(url: str, *, accept: str, cap: int) -> tuple[bytes, str | None, str]:
    try:
        async with (asyncio.timeout(_TOTAL_SECONDS),
                    new_client(accept=accept, timeout=_TIMEOUT, connections=1,
                               max_redirects=_MAX_REDIRECTS) as client,
                    client.stream("GET", url) as response):
            response.raise_for_status()
            body = await read_body(response, cap)
            return body, response.headers.get("content-type"), str(response.url)
    except BodyTooLarge as exc:
        raise FeedError(f"the page is larger than {cap:,} bytes", feed=url,
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
