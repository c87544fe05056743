"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) -> typed values.

feedparser 6 cannot read JSON Feed, so this is our own small reader. It
only reads and type-checks: a field of the wrong type is treated as absent
(feeds in the wild put numbers in `id` or `null` in `title`) and named in
the item's `problems` (`null` is absent, not a problem), and turning items
into stories is `parse`'s job, shared with RSS and Atom.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["JsonFeed", "JsonFeedError", "JsonItem", "read_json_feed"]

_VERSION_PREFIXES = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")
_BARE_VERSIONS = frozenset({"1", "1.0", "1.1"})  # seen in the wild (gofeed's fixtures)


class JsonFeedError(ValueError):
    """The bytes are not a JSON Feed we can read; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonItem:
    """One item, fields as the spec names them; strings are "" when absent."""

    id: str
    url: str
    external_url: str
    title: str  # plain text, per the spec
    content_html: str
    content_text: str
    summary: str  # plain text, per the spec
    image: str
    banner_image: str
    date_published: dt.datetime | None  # aware; None when absent or unreadable
    date_modified: dt.datetime | None
    authors: tuple[str, ...]
    language: str
    image_attachments: tuple[str, ...]  # attachment URLs with an image/* type
    date_published_text: str = ""  # as written, for a warning when it is not a date
    date_modified_text: str = ""
    #: Fields of the wrong type, each as 'field "url" is a number (5), not a string'.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonFeed:
    """A JSON Feed: its title, home page and language, and the items that are objects."""

    version: str
    title: str
    home_page_url: str
    language: str
    items: tuple[JsonItem, ...]  # an item without authors has the feed's, as the spec says
    skipped: int = 0  # entries of `items` that were not objects


def read_json_feed(data: bytes) -> JsonFeed:
    """Read JSON Feed bytes (UTF-8, -16 or -32, with or without a BOM).

    Raises JsonFeedError for invalid JSON, a document that is not an object,
    RSS-in-JSON (no `version`, an `rss` member), and unknown versions.
    """
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise JsonFeedError(f"the feed is not valid JSON ({_short(e)})") from e
    if not isinstance(document, dict):
        raise JsonFeedError("the JSON document is not a JSON Feed (it is not an object)")
    version = _text(document, "version")
    if not (version.startswith(_VERSION_PREFIXES) or version in _BARE_VERSIONS):
        raise JsonFeedError(_unsupported(document, version))
    raw_items = document.get("items")
    raw_items = raw_items if isinstance(raw_items, list) else []
    authors = _authors(document)
    items = tuple(_item(i, authors) for i in raw_items if isinstance(i, dict))
    return JsonFeed(
        version=version,
        title=_text(document, "title"),
        home_page_url=_text(document, "home_page_url"),
        language=_text(document, "language"),
        items=items,
        skipped=len(raw_items) - len(items),
    )


def _unsupported(document: Mapping[str, Any], version: str) -> str:
    if not version and "rss" in document:
        return "unsupported format: RSS-in-JSON (only JSON Feed 1.x is read)"
    if version:
        return f"unsupported format: JSON Feed version {version[:80]!r}"
    return "unsupported format: JSON without a JSON Feed \"version\""


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


_TEXT_FIELDS = ("id", "url", "external_url", "title", "content_html", "content_text", "summary",
                "image", "banner_image", "date_published", "date_modified", "language")


def _item(raw: Mapping[str, Any], feed_authors: tuple[str, ...]) -> JsonItem:
    problems: list[str] = []
    text = {key: _text(raw, key, problems) for key in _TEXT_FIELDS}
    return JsonItem(
        id=text["id"],
        url=text["url"],
        external_url=text["external_url"],
        title=text["title"],
        content_html=text["content_html"],
        content_text=text["content_text"],
        summary=text["summary"],
        image=text["image"],
        banner_image=text["banner_image"],
        date_published=_date(text["date_published"]),
        date_modified=_date(text["date_modified"]),
        authors=_authors(raw) or feed_authors,
        language=text["language"],
        image_attachments=_image_attachments(raw.get("attachments")),
        date_published_text=text["date_published"],
        date_modified_text=text["date_modified"],
        problems=tuple(problems),
    )


def _text(raw: Mapping[str, Any], key: str, problems: list[str] | None = None) -> str:
    """A string member; ids may be numbers (1.0 feeds did that), which read as text.

    Any other type reads as "" and, given `problems`, is named there.
    """
    value = raw.get(key)
    if isinstance(value, str):
        return value
    if key == "id" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if value is not None and problems is not None:
        problems.append(f"field {key!r} is {_kind(value)}, not a string")
    return ""


def _kind(value: object) -> str:
    """A JSON value's type, as a reader of the feed would say it."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r:.20})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _authors(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """`authors` (1.1) or the deprecated `author` (1.0): the names."""
    found = raw.get("authors")
    people = found if isinstance(found, list) else [raw.get("author")]
    names = (_text(p, "name").strip() for p in people if isinstance(p, dict))
    return tuple(n for n in names if n)


def _image_attachments(found: object) -> tuple[str, ...]:
    if not isinstance(found, list):
        return ()
    return tuple(
        _text(a, "url") for a in found
        if isinstance(a, dict) and _text(a, "mime_type").lower().startswith("image/")
        and _text(a, "url")
    )


def _date(text: str) -> dt.datetime | None:
    """RFC 3339 as the spec asks, or RFC 822 as some feeds write anyway; aware or None."""
    text = text.strip()
    if not text:
        return None
    try:
        found = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            found = parsedate_to_datetime(text)
        except (ValueError, TypeError, IndexError):
            return None
    # A date without a zone is taken as UTC rather than as the machine's zone.
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)
