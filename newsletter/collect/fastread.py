"""feedparser-rs's view of XML -> neutral entries, where it reads as feedparser does.

feedparser-rs (Rust, with feedparser's field names) parses a feed about 25x
faster than feedparser as we call it, and on the well-formed feeds of the
corpus gives the same entries, links, titles, dates and authors
(`bench/parsers.py` prints the comparison). It is not used where it reads
differently or cannot read at all; `read_fast` returns None there and
`entries.read_xml` (feedparser) reads the feed instead:

- a charset other than UTF-8 (or plain ASCII), or an XML declaration that
  names one: `sniff.charset_of` decides the charset, and feedparser is told
  it; feedparser-rs cannot be told, and read an ISO-8859 file as no entries;
- `xml:base` anywhere: feedparser-rs takes the channel's link as the base of
  relative URLs, feedparser the feed's own URL and every `xml:base` on the
  way down;
- a document it calls broken (`bozo`): feedparser's lenient parse, with its
  reason in the warning, is what the rest of the pipeline expects;
- no entries, or no feed version (a bare Atom `<entry>`, an unknown root),
  or as many entries as its limit (it would drop the rest);
- a root element that is not a feed's, and any exception.

It is given bytes, never `str`: a string that starts with `http` is fetched.
Its own sanitizer and relative-URI pass are off, as feedparser's are:
`sanitize` is our one sanitizer, and every field still goes through it.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin
from xml.parsers import expat

import feedparser_rs
from feedparser.mixin import _FeedParserMixin
from markupsafe import escape

from ..sanitize import html_to_plain
from .entries import Entry, Picture, Read, side, utc_time

__all__ = ["read_fast"]

_ROOTS = frozenset({"rss", "feed", "rdf"})  # not CDF's <channel>: feedparser reads that
_VERSIONS = ("rss", "atom")  # rss090, rss10, rss20, atom10...; not "" or "json*"
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_UTF8 = frozenset({"utf-8", "ascii"})
_DECLARED = re.compile(rb"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)""",
                       re.IGNORECASE)
# feedparser reads an RSS title as plain text unless it looks like HTML (an end
# tag or an entity, only known elements and entities); feedparser-rs calls every
# RSS title HTML. feedparser's own test is used, so the two agree.
_looks_like_html: Callable[[str], bool] = _FeedParserMixin.looks_like_html
_TITLE_TAG = re.compile(rb"<title[\s>]")
_LINK_TAG = re.compile(rb"<link[\s>]")
_LINK_WITH_ATTRIBUTES = re.compile(rb"<link\s+[^\s>/]")
_LINK_NO_HREF = re.compile(rb"<link(?![^>]*\shref\s*=)[\s>]")
# xml:base, or the bare `base` attribute that feedparser honours as well
_BASE = re.compile(rb"\s(?:xml:)?base\s*=")
_AUTHOR_TAG = re.compile(rb"<author[\s>]")
# Elements of other namespaces named like the ones feedparser-rs reads a summary or a
# date from (media:description, itunes:summary, dc:date, atom:updated): it takes
# some of them for the core element where feedparser does not, and misses others
_CLASHING = re.compile(rb"<[A-Za-z0-9_.-]+:(?:summary|description|title|date|updated"
                       rb"|modified|language|published|issued|created)[\s>/]")
_PERMALINK_FALSE = re.compile(rb"<guid\s[^>]*isPermaLink\s*=\s*[\"']false[\"'][^>]*>"
                              rb"\s*(?:<!\[CDATA\[)?\s*([^<\]\s]*)", re.IGNORECASE)
_NOT_URL = re.compile(r"[<>\s]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_LIMITS = feedparser_rs.ParserLimits()


def read_fast(data: bytes, *, root: str, url: str, charset: str) -> Read | None:
    """feedparser-rs's reading of an XML feed, or None where feedparser must read it."""
    if root not in _ROOTS or not _utf8(data, charset) or _BASE.search(data) or \
            data.count(b"xml:lang") > 1 or not _well_formed(data):
        return None
    try:
        parsed = feedparser_rs.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception:  # noqa: BLE001  # any failure of the fast path: feedparser decides
        return None
    entries = parsed.entries
    if parsed.bozo or not entries or len(entries) >= _LIMITS.max_entries or \
            not str(parsed.version or "").startswith(_VERSIONS):
        return None
    about = parsed.feed
    atom = str(parsed.version).startswith("atom")
    if _nested(data, len(entries), atom) or _CLASHING.search(data) or \
            "&amp;" in _text(about, "link"):
        return None
    inherited = _inherited_authors(data, about, entries, atom)
    if inherited is None:
        return None
    # matched by value (decoded as feedparser-rs decodes it); a value that is also some
    # other entry's plain guid cannot be told apart that way: feedparser reads those
    not_links = {html.unescape(g.decode("utf-8", "replace"))
                 for g in _PERMALINK_FALSE.findall(data)}
    if not_links and sum(_text(e, "id") in not_links for e in entries) > len(
            _PERMALINK_FALSE.findall(data)):
        return None
    read = tuple(_entry(e, url, atom, inherited, not_links) for e in entries)
    if not all(map(_as_feedparser_reads, entries, read)):
        return None
    return Read(
        title=_title(about, atom),
        link=_text(about, "link"),
        language=_text(about, "language"),
        entries=read,
    )


def _well_formed(data: bytes) -> bool:
    """What feedparser's strict parse (expat, namespaces on) says; about 2 ms per MB.

    feedparser-rs reads some broken XML without a word (an XML declaration
    in the middle, undefined entities); feedparser says it is broken, and
    its lenient parse is what the rest of the pipeline expects there.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError, LookupError):  # a charset expat cannot read
        return False
    return True


def _as_feedparser_reads(entry: Any, read: Entry) -> bool:
    """False for what feedparser-rs is known to read differently from feedparser:
    a link or picture with an entity left in it, a date it could not read (feedparser
    reads more formats), an entry without a link (feedparser finds one in more
    places), a picture whose address it blanked (it blanks private and loopback
    addresses), an RSS author written "address (name)" (feedparser keeps the name)."""
    urls = (read.link, *(p.src for p in read.pictures), *read.other_links)
    blanked = any(not p.src.strip() for p in read.pictures)
    return bool(read.link) and not blanked and not any("&amp;" in u or _NOT_URL.search(u)
                                                       for u in (*urls, read.guid)) and \
        (read.published is not None or not read.published_text) and \
        (read.updated is not None or not read.updated_text) and \
        not any("@" in a for a in read.authors)


def _has_scheme(url: str) -> bool:
    return bool(_SCHEME.match(url))


def _nested(data: bytes, entries: int, atom: bool) -> bool:
    """Whether a <title> or <link> sits inside some other element of an entry (an
    <image> in a <category>, an OpenGraph block): feedparser-rs takes it for the
    entry's own. And an Atom <link> without href, which it reads as a link."""
    most = entries + 2  # the channel's, its <image>'s, and one per entry
    if atom:
        return len(_TITLE_TAG.findall(data)) > most or _LINK_NO_HREF.search(data) is not None
    # an RSS <link> with attributes (Atom's spelling, often self-closed) is read wrongly
    return len(_TITLE_TAG.findall(data)) > most or len(_LINK_TAG.findall(data)) > most or \
        _LINK_WITH_ATTRIBUTES.search(data) is not None


def _inherited_authors(data: bytes, about: Any, entries: list[Any],
                       atom: bool) -> tuple[str, ...] | None:
    """The feed's authors, which feedparser-rs gives entries that name none (feedparser
    gives them none); () when no entry has them; None when that cannot be told."""
    names = tuple(_text(a, "name") for a in about.authors or ())
    if not names or all(_names(e) != names for e in entries):
        return ()
    if atom and len(_AUTHOR_TAG.findall(data)) == len(names):
        return names  # only the feed's own <author> elements: every entry's are inherited
    return None


def _names(entry: Any) -> tuple[str, ...]:
    return tuple(_text(a, "name") for a in entry.authors or ())


def _utf8(data: bytes, charset: str) -> bool:
    """Whether the bytes are read as UTF-8 by us and by feedparser-rs alike."""
    if data.isascii():
        return True
    declared = _DECLARED.match(data[:512])
    named = declared.group(1).decode("ascii").lower().replace("_", "-") if declared else "utf-8"
    return charset in _UTF8 and named in ("utf-8", "utf8")


def _entry(entry: Any, url: str, atom: bool, inherited: tuple[str, ...],
           not_links: set[str]) -> Entry:
    link = _join(url, _text(entry, "link"))
    summary_detail = getattr(entry, "summary_detail", None)
    title_detail = getattr(entry, "title_detail", None)
    content = _content(entry)
    authors = [] if inherited and _names(entry) == inherited else list(_names(entry))
    guid = _text(entry, "id")
    return Entry(
        link=link,
        other_links=tuple(_join(url, a) for a in _alternates(entry, link)),
        # feedparser resolves a guid that is a permalink against the feed's URL
        guid=guid if _has_scheme(guid) or guid in not_links else _join(url, guid),
        title=_text(entry, "title"),
        title_is_html=_is_html(title_detail, _text(entry, "title"), atom),
        summary=_html(summary_detail, _text(entry, "summary"), True),
        summary_base=url,
        content=content,
        content_base=url,
        published=_when(entry.published_parsed or entry.dc_date_parsed
                        or entry.created_parsed),
        published_text=_text(entry, "published") or _text(entry, "dc_date")
        or _text(entry, "created"),
        # feedparser-rs gives an RSS item's pubDate as `updated` too; feedparser
        # gives only what the entry says, and parse falls back the same way
        updated=_when(entry.updated_parsed) if _own_update(entry) else None,
        updated_text=_text(entry, "updated") if _own_update(entry) else "",
        authors=tuple(authors) if any(authors) or inherited else (_text(entry, "author"),),
        language=_text(entry, "language") or _text(title_detail, "language")
        or _text(summary_detail, "language"),
        pictures=tuple(_pictures(entry)),
    )


def _join(base: str, found: str) -> str:
    """As feedparser resolves a URL it reads: against the feed's URL, "" if unreadable."""
    if not found or found.startswith(("https://", "http://")):
        return found  # already absolute (most are): urljoin would only parse it again
    try:
        return urljoin(base, found)
    except ValueError:
        return ""


def _own_update(entry: Any) -> bool:
    return bool(entry.updated) and entry.updated != entry.published


def _alternates(entry: Any, link: str) -> Iterator[str]:
    for found in entry.links or ():
        href = _text(found, "href")
        if href and href != link and _text(found, "rel") in ("", "alternate"):
            yield href


def _content(entry: Any) -> str:
    """The first HTML content element, else the first of any type, as HTML."""
    contents = list(entry.content or ())
    chosen = next((c for c in contents if _text(c, "type").lower() in _HTML_TYPES), None)
    chosen = chosen or (contents[0] if contents else None)
    return "" if chosen is None else _html(chosen, _text(chosen, "value"), True)


def _title(about: Any, atom: bool) -> str:
    title = _text(about, "title")
    return html_to_plain(title) if _is_html(getattr(about, "title_detail", None), title, atom) \
        else title


def _html(detail: Any, value: str, atom: bool) -> str:
    """A text construct as HTML: plain text is escaped, so `a < b` stays text."""
    return value if detail is None or _is_html(detail, value, atom) else str(escape(value))


def _is_html(detail: Any, value: str, atom: bool) -> bool:
    kind = _text(detail, "type").lower()
    if kind not in _HTML_TYPES:
        return False
    return atom or _looks_like_html(value)


def _pictures(entry: Any) -> Iterator[Picture]:
    """media:content images, then media:thumbnail, then image enclosures."""
    for media in entry.media_content or ():
        kind = f"{_text(media, 'medium')} {_text(media, 'type')}".lower().replace("unknown", "")
        src = _text(media, "url")
        if "image" in kind or (not kind.strip() and src.lower().endswith(_IMAGE_EXTENSIONS)):
            yield Picture(src=src, width=side(dict(media.items()), "width"),
                          height=side(dict(media.items()), "height"))
    for thumb in entry.media_thumbnail or ():
        yield Picture(src=_text(thumb, "url"), width=side(dict(thumb.items()), "width"),
                      height=side(dict(thumb.items()), "height"))
    for enclosure in entry.enclosures or ():
        if _text(enclosure, "type").lower().startswith("image/"):
            yield Picture(src=_text(enclosure, "href"))


def _text(thing: object, name: str) -> str:
    value = getattr(thing, name, None)
    return value if isinstance(value, str) else ""


def _when(value: object) -> dt.datetime | None:
    return utc_time(value)
