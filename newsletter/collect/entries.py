"""Feed formats -> neutral entries: feedparser's view of XML, or our JSON Feed reader.

What the formats say about an entry (links, text constructs and their
types, dates, pictures, xml:base) becomes one `Entry` shape, so building
stories (`parse`) never looks at a format again.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import feedparser
from markupsafe import escape

from ..errors import FeedError
from ..sanitize import html_to_plain
from .jsonfeed import JsonFeed, JsonFeedError, read_json_feed
from .sniff import not_a_feed, web_page

__all__ = ["RAW_TITLE", "Entry", "Picture", "Read", "count", "read_json", "read_xml", "scrub",
           "side", "utc_time"]

RAW_TITLE = 16 * 1024  # characters of a title's markup read at most
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})  # channel: CDF
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_MAX_PICTURE_SIDE = 20_000
# C0/C1 controls (but tab, newline, return), lone surrogates, and non-characters:
# none is text, and nh3 (Rust strings) cannot even take a surrogate.
_NOT_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(1, 17))
    + "]"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Picture:
    src: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One entry, whatever the format, before it is checked and cleaned."""

    link: str
    guid: str
    title: str
    title_is_html: bool  # else plain text
    summary: str  # HTML
    content: str  # HTML
    published: dt.datetime | None
    updated: dt.datetime | None
    authors: tuple[str, ...]
    language: str
    pictures: tuple[Picture, ...]  # media, thumbnails, enclosures: before <img> in the text
    # Where relative URLs in the summary and content point from (xml:base, else the
    # feed's URL); "" for JSON Feed, whose relative URLs are the item's.
    summary_base: str = ""
    content_base: str = ""
    other_links: tuple[str, ...] = ()  # alternate links, for when `link` is not a web address
    published_text: str = ""  # the dates as written, for warnings
    updated_text: str = ""
    problems: tuple[str, ...] = ()  # fields of the wrong type (JSON Feed)
    kind: str = "entry"  # how warnings name it: "entry" or "item"


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    title: str
    link: str
    language: str
    entries: tuple[Entry, ...]
    warnings: tuple[str, ...] = ()
    best_effort: bool = False
    skipped: int = 0  # entries that were not even entries (JSON items that are not objects)


def read_json(data: bytes, *, feed: str) -> Read:
    try:
        parsed = read_json_feed(data)
    except JsonFeedError as e:
        hint = ("ask the site for its RSS, Atom or JSON Feed address"
                if str(e).startswith("unsupported") else
                "check the feed's address: the server did not send a readable JSON Feed")
        raise FeedError(str(e), feed=feed, hint=hint) from e
    warnings: tuple[str, ...] = ()
    if parsed.skipped:
        warnings = (f"{feed}: skipped {count(parsed.skipped, 'item')} that "
                    f"{'is' if parsed.skipped == 1 else 'are'} not JSON objects",)
    return Read(title=html.unescape(parsed.title), link=parsed.home_page_url,
                 language=parsed.language,
                 entries=tuple(_json_entries(parsed)), warnings=warnings,
                 skipped=parsed.skipped)


def _json_entries(parsed: JsonFeed) -> Iterator[Entry]:
    for item in parsed.items:
        pictures = (item.image, item.banner_image, *item.image_attachments)
        permalink = item.id if item.id.startswith(("https://", "http://")) else ""
        links = [link for link in (item.url, permalink, item.external_url) if link.strip()]
        yield Entry(
            link=links[0] if links else "",
            other_links=tuple(links[1:]),
            guid=item.id,
            title=html.unescape(item.title),  # plain text by the spec, yet often escaped
            title_is_html=False,
            summary=str(escape(html.unescape(item.summary))),
            content=item.content_html or _paragraphs(item.content_text),
            published=item.date_published,
            updated=item.date_modified,
            published_text=item.date_published_text,
            updated_text=item.date_modified_text,
            authors=item.authors,
            language=item.language,
            pictures=tuple(Picture(src=p) for p in pictures if p),
            problems=item.problems,
            kind="item",
        )


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, split at blank lines."""
    blocks = (b.strip() for b in re.split(r"\n\s*\n", text))
    return "".join(f"<p>{escape(b)}</p>" for b in blocks if b)


def read_xml(data: bytes, *, root: str, feed: str, url: str, content_type: str | None,
              charset: str) -> Read:
    parsed = feedparser.parse(
        io.BytesIO(data),  # never bytes: feedparser opens a bytes "path" that exists
        # application/xml: once the body is known to be XML, the server's label
        # (text/plain, text/html) says nothing more, and RFC 7303 retired the rule
        # that text/xml without a charset is US-ASCII. The charset is ours (_charset).
        response_headers={"content-type": f"application/xml; charset={charset}",
                          "content-location": url},
        sanitize_html=False,
        resolve_relative_uris=False,  # clean_field resolves them, in linear time
    )
    version = _str(parsed, "version")
    entries = parsed.get("entries") or []
    bozo = _bozo_reason(parsed)
    media = (content_type or "").partition(";")[0].strip().lower()
    if not version and not entries:
        if media in ("text/html", "application/xhtml+xml"):
            raise web_page(feed)
        if bozo:
            raise not_a_feed(feed, f"the XML cannot be read ({bozo})")
    warnings = [f"{feed}: best-effort parse: {bozo}"] if bozo else []
    if not version and not entries and root not in _FEED_ROOTS:
        warnings.append(f"{feed}: no feed found: the document's root element is <{root}>")
    about = parsed.get("feed") or {}
    return Read(
        title=_title_of(about),
        link=_str(about, "link"),
        language=_str(about, "language"),
        entries=tuple(_xml_entry(e) for e in entries),
        warnings=tuple(warnings),
        best_effort=bool(bozo and entries),
    )


def _bozo_reason(parsed: Mapping[str, Any]) -> str:
    if not parsed.get("bozo"):
        return ""
    error = parsed.get("bozo_exception")
    text = str(error).splitlines()[0].strip() if error is not None and str(error) else ""
    return text[:200] or type(error).__name__


def _xml_entry(entry: Mapping[str, Any]) -> Entry:
    details = (entry.get("title_detail"), entry.get("summary_detail"), *_contents(entry))
    authors = [_str(a, "name") for a in entry.get("authors") or () if isinstance(a, Mapping)]
    link = _str(entry, "link")
    content, content_base = _content_of(entry)
    title_detail = entry.get("title_detail")
    return Entry(
        link=link,
        other_links=tuple(_alternates(entry, link)),
        guid=_str(entry, "id"),
        title=_str(entry, "title"),
        title_is_html=_is_html(_str(title_detail, "type")),
        summary=_html_of(entry.get("summary_detail"), _str(entry, "summary")),
        summary_base=_str(entry.get("summary_detail"), "base"),
        content=content,
        content_base=content_base,
        published=utc_time(entry.get("published_parsed") or entry.get("created_parsed")),
        published_text=_str(entry, "published") or _str(entry, "created"),
        updated=utc_time(_own(entry, "updated_parsed")),
        updated_text=text if isinstance(text := _own(entry, "updated"), str) else "",
        authors=tuple(authors) if any(authors) else (_str(entry, "author"),),
        language=_str(entry, "language") or next(
            (_str(d, "language") for d in details if isinstance(d, Mapping)
             and _str(d, "language")), ""),
        pictures=tuple(_xml_pictures(entry)),
    )


def _own(entry: Mapping[str, Any], key: str) -> object:
    """An entry's own value: dict.get, since FeedParserDict.get("updated") falls back
    to "published", with a DeprecationWarning."""
    return dict.get(entry, key) if isinstance(entry, dict) else None


def _alternates(entry: Mapping[str, Any], link: str) -> Iterator[str]:
    """The entry's other rel="alternate" links: stand-ins for an unusable `link`."""
    for found in entry.get("links") or ():
        href = _str(found, "href")
        if href and href != link and _str(found, "rel") in ("", "alternate"):
            yield href


def _contents(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = entry.get("content") or []
    return [c for c in found if isinstance(c, Mapping)]


def _content_of(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The first HTML content element (else the first of any type), and its base URL."""
    contents = _contents(entry)
    chosen = next((c for c in contents if _is_html(_str(c, "type"))), None)
    chosen = chosen or (contents[0] if contents else None)
    if chosen is None:
        return "", ""
    return _html_of(chosen, _str(chosen, "value")), _str(chosen, "base")


def _title_of(about: Mapping[str, Any]) -> str:
    """A title as plain text: markup removed only when feedparser says it is HTML."""
    title = _str(about, "title")
    detail = about.get("title_detail")
    kind = _str(detail, "type") if isinstance(detail, Mapping) else ""
    return html_to_plain(scrub(title[:RAW_TITLE])) if _is_html(kind) else title


def _html_of(detail: object, value: str) -> str:
    """A text construct as HTML: plain text is escaped, so `a < b` stays text."""
    kind = _str(detail, "type") if isinstance(detail, Mapping) else "text/html"
    return value if _is_html(kind) else str(escape(value))


def _is_html(kind: str) -> bool:
    return kind.lower() in _HTML_TYPES


def _xml_pictures(entry: Mapping[str, Any]) -> Iterator[Picture]:
    """media:content images, then media:thumbnail, then image enclosures."""
    for media in entry.get("media_content") or ():
        kind = f"{_str(media, 'medium')} {_str(media, 'type')}".lower()
        src = _str(media, "url")
        if "image" in kind or (not kind.strip() and _looks_like_picture(src)):
            yield Picture(src=src, width=side(media, "width"), height=side(media, "height"))
    for thumb in entry.get("media_thumbnail") or ():
        yield Picture(src=_str(thumb, "url"), width=side(thumb, "width"),
                       height=side(thumb, "height"))
    for enclosure in entry.get("enclosures") or ():
        if _str(enclosure, "type").lower().startswith("image/"):
            yield Picture(src=_str(enclosure, "href"))


def _looks_like_picture(src: str) -> bool:
    return urlsplit(src).path.lower().endswith(_IMAGE_EXTENSIONS)


def _str(mapping: object, key: str) -> str:
    """A string member of one of feedparser's dicts; anything else reads as ""."""
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) else ""


def side(mapping: object, key: str) -> int | None:
    """A picture's width or height: a positive whole number of pixels, else None."""
    text = mapping.get(key) if isinstance(mapping, Mapping) else None
    if not isinstance(text, str | int) or not str(text).strip().isdigit():
        return None
    value = int(str(text).strip())
    return value if 0 < value <= _MAX_PICTURE_SIDE else None


def utc_time(value: object) -> dt.datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None when absent or impossible."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return dt.datetime(*value[:6], tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None




def scrub(text: str) -> str:
    return _NOT_TEXT.sub("", text)


def count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"
