"""Collecting: feeds (and single pages) -> candidate stories.

`fetch_feeds` is the stage's entry point for `newsletter fetch`: every feed
of the desk, concurrently, one `FetchResult` each (see `fetch`). Parsing
lives in `parse`; pages added by hand in `web` and `page`.
"""

from __future__ import annotations

from .fetch import USER_AGENT, FetchOptions, ParsedLike, ParseFn, ask_again, fetch_feeds

__all__ = ["USER_AGENT", "FetchOptions", "ParseFn", "ParsedLike", "ask_again", "fetch_feeds"]
