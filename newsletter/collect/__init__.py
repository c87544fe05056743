"""Collecting: feeds (and single pages) -> candidate stories.

`fetch_feeds` is the stage's entry point for `newsletter fetch`: every feed
of the desk, concurrently, one `FetchResult` each (see `fetch`). Parsing
lives in `parse`; pages added by hand in `web` and `page`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fetch import USER_AGENT, FetchOptions, ParsedLike, ParseFn, ask_again, fetch_feeds

__all__ = ["USER_AGENT", "FetchOptions", "ParseFn", "ParsedLike", "ask_again", "fetch_feeds"]


def __getattr__(name: str) -> object:
    """The fetch names, imported on first use: `import newsletter.collect.store`
    (the candidate list, the site build) must not pull httpx and feedparser in."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(".fetch", __name__), name)
