"""What a feed's parse gives and a fetch reports, and what the browser desk's
candidate list asks and gets.

Loaded on the first use of one of its names through `newsletter.model` (see
there); import the names from there. Listing candidates in the terminal and a
build never meet these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from .common import FeedSpec, Image, Story, Use

__all__ = [
    "CandidatePage",
    "CandidateQuery",
    "CandidateRow",
    "FeedState",
    "FetchOutcome",
    "FetchResult",
    "ParsedFeed",
]


# --- collecting ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    """One feed's stories as `collect.parse` read them, plus what a reader of the
    fetch log should know (here, not there: a fetch unpickles it from its parsing
    workers without loading the parser).

    `dropped` counts entries that did not become stories (no usable link, or
    a duplicate of an earlier entry); `warnings` say why, each naming the
    feed. `best_effort` is feedparser's "bozo" on a feed that still gave
    entries: the XML was broken and the stories came from a lenient parse.
    """

    title: str
    stories: tuple[Story, ...]
    warnings: tuple[str, ...] = ()
    best_effort: bool = False
    dropped: int = 0
    link: str = ""  # the site's home page, canonical; "" when unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedState:
    """What a feed's last fetch left behind for the next one to be cheap."""

    url: str  # where to fetch next: a permanent redirect moves it
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # for servers that send neither validator
    fresh_until: dt.datetime | None = None  # Cache-Control max-age or Retry-After
    # when the server said the feed is gone for good (HTTP 410): not asked again
    # until the editor enables it (or gives it another address)
    gone_since: dt.datetime | None = None


class FetchOutcome(StrEnum):
    UPDATED = "updated"  # fetched and parsed
    NOT_MODIFIED = "not modified"  # 304: nothing parsed
    UNCHANGED = "unchanged"  # same bytes as last time: nothing parsed
    FRESH = "fresh"  # not asked: the server said it would not change yet
    GONE = "gone"  # not asked: the server said the feed was removed (HTTP 410)
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    """One feed's fetch: an outcome, never an exception."""

    feed: FeedSpec
    outcome: FetchOutcome
    state: FeedState
    stories: tuple[Story, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str = ""
    hint: str = ""
    moved_to: str | None = None  # a permanent redirect's new address


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateQuery:
    """Which candidates the browser desk lists: every filter ANDed, newest first."""

    since: dt.datetime | None = None
    feed: str | None = None  # matched case-insensitively (as `candidates --feed`)
    words: str | None = None  # the store's search (Chinese and Japanese included)
    unused: bool = False
    starred: bool = False
    skipped: bool = False  # False: skipped stories are left out; True: only skipped ones
    offset: int = 0
    limit: int = 50  # 1 to MAX_PAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateRow:
    """One candidate as the browser desk lists it: bounded, plain text only."""

    id: str
    url: str
    title: str
    sources: tuple[str, ...]
    published: dt.datetime | None  # undated stories: when the store first saw them
    picture: Image | None  # the story's picture (http or https), for a thumbnail
    summary: str  # plain text, at most SUMMARY_CHARS characters (the content's start
    #               when the feed gave no summary)
    used_in: tuple[Use, ...]
    starred: bool
    skipped: bool

    SUMMARY_CHARS: ClassVar[int] = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidatePage:
    """One page of candidates, and how many match in all."""

    rows: tuple[CandidateRow, ...]
    total: int
    offset: int
