"""The feed parser as a fetch hands it to its parsing workers: loaded where it runs.

A fetch sends each feed to a worker process and gets a `ParsedFeed` back;
with workers it never parses a feed itself. A pickle carries a function by
its module's name, so naming `parse.parse_feed` would make the process that
fetches load the parser too (feedparser, the cleaning of entries: ~30 ms of
imports before its first request). This module loads it at the first call,
in the worker. (`ParsedFeed` lives in the model for the same reason: the
fetching process unpickles it.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

    from ..model import ParsedFeed

__all__ = ["parse_feed_later"]


def parse_feed_later(data: bytes, /, *, feed: str, url: str, content_type: str | None = None,
                     fetched_at: dt.datetime, language: str | None = None) -> ParsedFeed:
    """`parse.parse_feed`, its module loaded at the first call."""
    from .parse import parse_feed

    return parse_feed(data, feed=feed, url=url, content_type=content_type,
                      fetched_at=fetched_at, language=language)
