"""Fetch one web page (for `newsletter add`): bounded in time and size."""

from __future__ import annotations

import httpx

from ..errors import FeedError
from ..sanitize import is_safe_url
from .fetch import USER_AGENT

__all__ = ["MAX_PAGE_BYTES", "get_page"]

MAX_PAGE_BYTES = 5_000_000
# uncompressed only: httpx inflates a whole network chunk at once, and a page
# is small enough that a bomb is a worse risk than the bytes
_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
_TIMEOUT = httpx.Timeout(20.0, connect=10.0)


def get_page(url: str) -> tuple[str, str]:
    """The page's text and its final address after redirects; FeedError on failure."""
    if not is_safe_url(url) or url.lower().startswith("mailto:"):
        raise FeedError("not a web address", feed=url, hint="give an https:// address")
    try:
        with httpx.Client(timeout=_TIMEOUT, follow_redirects=True, max_redirects=5,
                          headers=_HEADERS) as client, \
                client.stream("GET", url) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_PAGE_BYTES:
                    raise FeedError(f"the page is larger than {MAX_PAGE_BYTES:,} bytes", feed=url,
                                    hint="write the story inline in the issue file instead")
            encoding = response.encoding or "utf-8"
            return bytes(body).decode(encoding, errors="replace"), str(response.url)
    except httpx.HTTPStatusError as exc:
        raise FeedError(f"the server answered {exc.response.status_code}", feed=url,
                        hint="check the address in a browser") from exc
    except httpx.HTTPError as exc:
        raise FeedError(f"cannot fetch the page ({type(exc).__name__})", feed=url,
                        hint="check the address and your connection") from exc
