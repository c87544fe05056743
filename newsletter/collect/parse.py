"""Feed bytes -> candidate stories: the pure, CPU-bound half of collecting.

`parse_feed` takes the bytes a fetch returned and gives a `ParsedFeed` or
raises `FeedError`. It reads no file, opens no socket and never looks at the
clock (the fetch time is an argument), so the fetcher can run it in a
process pool and tests can run it over the corpora.

The steps, and why each is here:

1. **Sniff.** A body whose first character is `{` is a JSON Feed (our own
   reader, `jsonfeed`); anything else is XML. Before feedparser sees XML
   bytes, the prolog (what precedes the first element) is scanned: a DOCTYPE
   that declares entities is refused (billion laughs, XXE), a plain DOCTYPE
   is cut out, and a root element `<html>` or `<opml>` is reported as what
   it is instead of as an empty feed.
2. **Decode.** The charset is decided here and handed to feedparser: a BOM,
   else the declared charset (HTTP, then the XML declaration) when the bytes
   are valid in it, else UTF-8 when they are valid UTF-8, else
   charset-normalizer's guess, reported in a warning. feedparser alone would
   read undeclared Big5 or KOI8-R as windows-1252 (mojibake).
3. **Parse** with feedparser, given a file object (a `bytes` argument that
   names an existing file would be *opened* by feedparser), with its
   sanitizer off (`sanitize` is our single sanitizer, so no markup is
   cleaned twice by two different rules) and its relative-URI pass off
   (an sgmllib walk over every summary that took 18 s on deeply nested
   markup): `sanitize.clean_field` resolves `href` and `src` itself, against
   the base feedparser records for each field (xml:base, else the feed's URL).
4. **Build stories**: canonical https links (an entry whose own link is not
   a web address uses another of its links, else is dropped and counted),
   plain-text titles, sanitized summaries and contents with absolute URLs and
   bounded size and depth, UTC dates that are never before `DATE_FLOOR` nor in
   the future, a picture, and one story per guid, link and content within
   the feed. Anything an entry loses on the way is said in a warning naming
   the feed and the entry.
"""

from __future__ import annotations

import calendar
import codecs
import datetime as dt
import hashlib
import html
import io
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import feedparser
from markupsafe import escape

from ..errors import FeedError
from ..model import Image, Story
from ..sanitize import MAX_DEPTH, Cleaned, clean_field, html_to_plain
from .canonical import canonical_url, story_id
from .jsonfeed import JsonFeed, JsonFeedError, read_json_feed

__all__ = ["DATE_FLOOR", "MAX_CONTENT", "MAX_SUMMARY", "MAX_TITLE", "ParsedFeed", "parse_feed"]

MAX_TITLE = 300  # characters of plain text; a longer title ends in an ellipsis
#: A story's summary and content are cut to these sizes (bytes of sanitized
#: HTML as UTF-8), between tags and words, with a warning: a summary is a
#: teaser (Gmail clips a whole email at 102 KB), a content a long article.
MAX_SUMMARY = 64 * 1024
MAX_CONTENT = 512 * 1024
#: How far after the fetch a date may lie before it counts as "in the future"
#: (clocks drift; a feed stamped a minute ahead is not lying).
FUTURE_SLACK = dt.timedelta(minutes=5)
#: Dates before this are not believed (an epoch counted in the wrong unit,
#: 0000-00-00, 1970-01-01 from a zero timestamp): no news feed is older.
DATE_FLOOR = dt.datetime(1995, 1, 1, tzinfo=dt.UTC)
#: Warnings about single entries, at most this many of each kind per feed
#: (then one line saying how many more).
MAX_ENTRY_WARNINGS = 5
_RAW_TITLE = 16 * 1024  # characters of a title's markup read at most
_FALLBACK_TITLE_CHARS = 80
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})  # channel: CDF
_WEB_PAGE_ROOTS = frozenset({"html", "head", "body"})
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_MAX_PICTURE_SIDE = 20_000

_SPACE = re.compile(r"\s+")
_FIRST = re.compile(r"\s*(\S)")
# C0/C1 controls (but tab, newline, return), lone surrogates, and non-characters:
# none is text, and nh3 (Rust strings) cannot even take a surrogate.
_NOT_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(1, 17))
    + "]"
)
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_IMG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(src|width|height)="([^"]*)"')
_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    """One feed's stories, plus what a reader of the fetch log should know.

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


def parse_feed(data: bytes, *, feed: str, url: str, content_type: str | None = None,
               fetched_at: dt.datetime, language: str | None = None) -> ParsedFeed:
    """Parse one feed's bytes (RSS, Atom, RDF, CDF or JSON Feed) into stories.

    `feed` names the feed in warnings and errors; `url` is where the bytes
    came from, the base for relative links; `content_type` is the HTTP
    header (only its charset is used for XML; the body decides the format);
    `language` is the desk's setting for the feed, used when neither the
    entry nor the feed declares one.

    Dates: `published` and `updated` are aware UTC, or None when the entry
    gives no usable date: the store then dates the story by when it first
    saw it, and keeps that date on later fetches. A date before `DATE_FLOOR`,
    more than `FUTURE_SLACK` after `fetched_at`, or not a real date
    (`0000-00-00`, `2026-13-45`) is not used, with a warning; `updated`
    falls back to `published` and the other way round.

    Raises FeedError(message, feed=feed, hint=...) when the bytes are not a
    feed (a web page, an OPML list, unreadable JSON or XML) or are refused
    (entity declarations). An empty body is a feed with no stories.
    """
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    context = _Context(feed=feed, url=url, fetched_at=fetched_at.astimezone(dt.UTC),
                       language=_language(language or ""))
    head = _Head.of(data)
    if not _FIRST.match(head.text):
        return ParsedFeed(title="", stories=(), warnings=(f"{feed}: the feed is empty",))
    if _is_json(head, content_type):
        return _build(_read_json(data, feed=feed), context)
    prolog = _scan_prolog(head.text, feed)
    if not prolog.root:  # no element at all: spare feedparser's slow lenient parse of junk
        raise _not_a_feed(feed, "there is no XML element in it")
    if prolog.root in _WEB_PAGE_ROOTS:
        raise _web_page(feed)
    if prolog.root == "opml":
        raise FeedError("this is an OPML subscription list, not a feed", feed=feed,
                        hint='add the feeds it lists with "newsletter feeds import"')
    charset, charset_warnings = _charset(data, head, content_type, feed)
    for start, end in reversed(prolog.doctypes):
        data = data[:head.offset(start)] + data[head.offset(end):]
    read = _read_xml(data, root=prolog.root, feed=feed, url=url, content_type=content_type,
                     charset=charset)
    return _build(read, context, charset_warnings)


# --- sniffing --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Head:
    """The body decoded just well enough to read markup, and a way back to bytes.

    Markup characters are ASCII, so any ASCII-compatible encoding (UTF-8,
    Latin-1, Shift_JIS, Big5 ...) is read byte for byte as Latin-1; UTF-16
    and UTF-32 are recognised by their BOM or by the zero bytes around the
    first character, as XML 1.0 Appendix F does.
    """

    text: str
    start: int  # bytes of BOM before `text`
    codec: str  # "latin-1", "utf-16-le" ...

    @classmethod
    def of(cls, data: bytes) -> _Head:
        codec, start = _encoding_of(data[:4])
        if codec == "latin-1":
            return cls(text=data[start:].decode("latin-1"), start=start, codec=codec)
        width = 4 if codec.startswith("utf-32") else 2
        end = start + (len(data) - start) // width * width
        errors = "replace" if width == 4 else "surrogatepass"  # both keep 1 char per unit
        return cls(text=data[start:end].decode(codec, errors), start=start, codec=codec)

    def offset(self, index: int) -> int:
        """The byte offset of character `index` of `text`."""
        if self.codec == "latin-1":
            return self.start + index
        if self.codec.startswith("utf-32"):
            return self.start + 4 * index
        return self.start + len(self.text[:index].encode(self.codec, "surrogatepass"))


_BOMS = (
    (b"\xef\xbb\xbf", "latin-1"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _encoding_of(first: bytes) -> tuple[str, int]:
    """(codec to read markup with, length of the BOM) from the first four bytes."""
    for bom, codec in _BOMS:
        if first.startswith(bom):
            return codec, len(bom)
    if len(first) < 4:
        return "latin-1", 0
    if first[:3] == b"\0\0\0":
        return "utf-32-be", 0
    if first[1:] == b"\0\0\0":
        return "utf-32-le", 0
    if first[0] == 0 and first[1] != 0:
        return "utf-16-be", 0
    if first[1] == 0 and first[0] != 0:
        return "utf-16-le", 0
    return "latin-1", 0


def _is_json(head: _Head, content_type: str | None) -> bool:
    """JSON by the body's first character; by the header only if the body is not markup."""
    found = _FIRST.match(head.text)
    first = found.group(1) if found else ""
    if first == "{":
        return True
    media = (content_type or "").partition(";")[0].strip().lower()
    return first != "<" and media in ("application/feed+json", "application/json")


# Each scan below searches for its next token in C (re.search), so junk such as
# a megabyte of "<" or an unclosed "<!--" costs one pass, not one per character.
_PROLOG_TOKEN = re.compile(r"<\?|<!--|<!DOCTYPE|<(?P<name>[^\W\d][\w.:-]*)", re.IGNORECASE)
_DOCTYPE = re.compile(r"""<!DOCTYPE(?:"[^"]*"|'[^']*'|[^"'>\[])*([\[>]?)""", re.IGNORECASE)
_SUBSET_TOKEN = re.compile(r"""<!ENTITY|<!--|"[^"]*"|'[^']*'|\]""", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prolog:
    root: str  # the first element's local name, lowercased; "" if none was found
    doctypes: tuple[tuple[int, int], ...]  # character spans of plain DOCTYPEs


def _scan_prolog(text: str, feed: str) -> _Prolog:
    """Walk the declarations, comments and PIs before the first element.

    Raises FeedError at the first DOCTYPE whose internal subset declares an
    ENTITY: expanding entities is how billion laughs exhausts memory and XXE
    reads files, and no feed needs them.
    """
    doctypes: list[tuple[int, int]] = []
    i = 0
    while i >= 0 and (token := _PROLOG_TOKEN.search(text, i)):
        if token.group("name"):
            root = token.group("name").rpartition(":")[2].lower()
            return _Prolog(root=root, doctypes=tuple(doctypes))
        kind = token.group().upper()
        if kind == "<!DOCTYPE":
            i = _doctype_end(text, token.start(), feed)
            if i >= 0:
                doctypes.append((token.start(), i))
        else:
            i = _after(text, "?>" if kind == "<?" else "-->", token.end())
    return _Prolog(root="", doctypes=tuple(doctypes))


def _after(text: str, end: str, start: int) -> int:
    """The index just after the next `end` from `start`, or -1."""
    found = text.find(end, start)
    return found + len(end) if found >= 0 else -1


def _doctype_end(text: str, start: int, feed: str) -> int:
    """Where the DOCTYPE at `start` ends, or -1 if it never does."""
    head = _DOCTYPE.match(text, start)
    assert head is not None  # the caller saw "<!DOCTYPE"
    if head.group(1) != "[":
        return head.end() if head.group(1) == ">" else -1
    i = head.end()
    while i >= 0 and (token := _SUBSET_TOKEN.search(text, i)):
        kind = token.group().upper()
        if kind == "<!ENTITY":
            raise FeedError(
                "the feed declares XML entities, which could read files or exhaust memory",
                feed=feed,
                hint="newsletter refuses feeds with <!ENTITY declarations; ask the publisher "
                     "to remove them from the feed's <!DOCTYPE>",
            )
        if kind == "]":
            return _after(text, ">", token.end())
        i = _after(text, "-->", token.end()) if kind == "<!--" else token.end()
    return -1


def _not_a_feed(feed: str, why: str) -> FeedError:
    return FeedError(f"this is not a feed: {why}", feed=feed,
                     hint="check the feed's address; open it in a browser to see what the "
                          "server sends")


def _web_page(feed: str) -> FeedError:
    return FeedError("this is a web page, not a feed", feed=feed,
                     hint="look for the feed's address on the page (an RSS or Atom link)")


# --- the charset ---------------------------------------------------------------

_XML_ENCODING = re.compile(
    r"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# feedparser's reading of gb2312: the superset that Chinese feeds really use
_WIDER = {"gb2312": "gb18030"}


def _charset(data: bytes, head: _Head, content_type: str | None,
             feed: str) -> tuple[str, tuple[str, ...]]:
    """The charset to read the XML with, and a warning when it is not the declared one.

    A BOM (or UTF-16/32's zero bytes) decides. Else the declared charset (the
    HTTP header's, then the XML declaration's) when the bytes are valid in
    it; else UTF-8 when they are valid UTF-8; else charset-normalizer's
    guess. windows-1252, feedparser's last resort, turns Big5 or KOI8-R into
    mojibake that nobody is told about.
    """
    if head.codec != "latin-1":
        return head.codec, ()
    if head.start:  # a UTF-8 byte order mark
        return "utf-8", ()
    body = data[head.start:]
    found = _CHARSET.search(content_type or "") or _XML_ENCODING.match(head.text)
    declared = found.group(1) if found else ""
    codec = _codec(declared)
    # UTF-16 and -32 markup has zero bytes, which _Head saw (or not): never the declaration
    if codec and not codec.startswith(("utf-16", "utf-32")) and _decodes(body, codec):
        return codec, ()
    if codec != "utf-8" and _decodes(body, "utf-8"):
        why = (f"declares the unknown charset {declared[:40]!r}" if codec is None
               else f"is declared as {declared[:40]} but is not")
        return "utf-8", ((f"{feed}: the feed {why}; read as UTF-8",) if declared else ())
    guess = _guess(body)
    why = ("declares no charset and is not UTF-8" if not declared else
           f"declares the unknown charset {declared[:40]!r} and is not UTF-8" if codec is None
           else "is declared as utf-8 but is not" if codec == "utf-8"
           else f"is declared as {declared[:40]} but is neither that nor UTF-8")
    return guess, (f"{feed}: the feed {why}; read as {guess}, a guess (ask its publisher "
                   "to declare its charset)",)


def _codec(name: str) -> str | None:
    """Python's name for a declared charset, or None if Python knows no such charset."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _WIDER.get(codec, codec)


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _guess(data: bytes) -> str:
    """charset-normalizer's best reading of `data`; windows-1252 when it has none."""
    best = charset_normalizer.from_bytes(data).best()
    return (_codec(best.encoding) if best else None) or "windows-1252"


# --- reading: feedparser or JSON Feed -> neutral entries ------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Picture:
    src: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
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
    pictures: tuple[_Picture, ...]  # media, thumbnails, enclosures: before <img> in the text
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
class _Read:
    title: str
    link: str
    language: str
    entries: tuple[_Entry, ...]
    warnings: tuple[str, ...] = ()
    best_effort: bool = False
    skipped: int = 0  # entries that were not even entries (JSON items that are not objects)


def _read_json(data: bytes, *, feed: str) -> _Read:
    try:
        parsed = read_json_feed(data)
    except JsonFeedError as e:
        hint = ("ask the site for its RSS, Atom or JSON Feed address"
                if str(e).startswith("unsupported") else
                "check the feed's address: the server did not send a readable JSON Feed")
        raise FeedError(str(e), feed=feed, hint=hint) from e
    warnings: tuple[str, ...] = ()
    if parsed.skipped:
        warnings = (f"{feed}: skipped {_count(parsed.skipped, 'item')} that "
                    f"{'is' if parsed.skipped == 1 else 'are'} not JSON objects",)
    return _Read(title=html.unescape(parsed.title), link=parsed.home_page_url,
                 language=parsed.language,
                 entries=tuple(_json_entries(parsed)), warnings=warnings,
                 skipped=parsed.skipped)


def _json_entries(parsed: JsonFeed) -> Iterator[_Entry]:
    for item in parsed.items:
        pictures = (item.image, item.banner_image, *item.image_attachments)
        permalink = item.id if item.id.startswith(("https://", "http://")) else ""
        links = [link for link in (item.url, permalink, item.external_url) if link.strip()]
        yield _Entry(
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
            pictures=tuple(_Picture(src=p) for p in pictures if p),
            problems=item.problems,
            kind="item",
        )


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, split at blank lines."""
    blocks = (b.strip() for b in re.split(r"\n\s*\n", text))
    return "".join(f"<p>{escape(b)}</p>" for b in blocks if b)


def _read_xml(data: bytes, *, root: str, feed: str, url: str, content_type: str | None,
              charset: str) -> _Read:
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
            raise _web_page(feed)
        if bozo:
            raise _not_a_feed(feed, f"the XML cannot be read ({bozo})")
    warnings = [f"{feed}: best-effort parse: {bozo}"] if bozo else []
    if not version and not entries and root not in _FEED_ROOTS:
        warnings.append(f"{feed}: no feed found: the document's root element is <{root}>")
    about = parsed.get("feed") or {}
    return _Read(
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


def _xml_entry(entry: Mapping[str, Any]) -> _Entry:
    details = (entry.get("title_detail"), entry.get("summary_detail"), *_contents(entry))
    authors = [_str(a, "name") for a in entry.get("authors") or () if isinstance(a, Mapping)]
    link = _str(entry, "link")
    content, content_base = _content_of(entry)
    title_detail = entry.get("title_detail")
    return _Entry(
        link=link,
        other_links=tuple(_alternates(entry, link)),
        guid=_str(entry, "id"),
        title=_str(entry, "title"),
        title_is_html=_is_html(_str(title_detail, "type")),
        summary=_html_of(entry.get("summary_detail"), _str(entry, "summary")),
        summary_base=_str(entry.get("summary_detail"), "base"),
        content=content,
        content_base=content_base,
        published=_struct_time(entry.get("published_parsed") or entry.get("created_parsed")),
        published_text=_str(entry, "published") or _str(entry, "created"),
        updated=_struct_time(_own(entry, "updated_parsed")),
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
    return html_to_plain(_scrub(title[:_RAW_TITLE])) if _is_html(kind) else title


def _html_of(detail: object, value: str) -> str:
    """A text construct as HTML: plain text is escaped, so `a < b` stays text."""
    kind = _str(detail, "type") if isinstance(detail, Mapping) else "text/html"
    return value if _is_html(kind) else str(escape(value))


def _is_html(kind: str) -> bool:
    return kind.lower() in _HTML_TYPES


def _xml_pictures(entry: Mapping[str, Any]) -> Iterator[_Picture]:
    """media:content images, then media:thumbnail, then image enclosures."""
    for media in entry.get("media_content") or ():
        kind = f"{_str(media, 'medium')} {_str(media, 'type')}".lower()
        src = _str(media, "url")
        if "image" in kind or (not kind.strip() and _looks_like_picture(src)):
            yield _Picture(src=src, width=_side(media, "width"), height=_side(media, "height"))
    for thumb in entry.get("media_thumbnail") or ():
        yield _Picture(src=_str(thumb, "url"), width=_side(thumb, "width"),
                       height=_side(thumb, "height"))
    for enclosure in entry.get("enclosures") or ():
        if _str(enclosure, "type").lower().startswith("image/"):
            yield _Picture(src=_str(enclosure, "href"))


def _looks_like_picture(src: str) -> bool:
    return urlsplit(src).path.lower().endswith(_IMAGE_EXTENSIONS)


def _str(mapping: object, key: str) -> str:
    """A string member of one of feedparser's dicts; anything else reads as ""."""
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) else ""


def _side(mapping: object, key: str) -> int | None:
    """A picture's width or height: a positive whole number of pixels, else None."""
    text = mapping.get(key) if isinstance(mapping, Mapping) else None
    if not isinstance(text, str | int) or not str(text).strip().isdigit():
        return None
    value = int(str(text).strip())
    return value if 0 < value <= _MAX_PICTURE_SIDE else None


def _struct_time(value: object) -> dt.datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None when absent or impossible."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return dt.datetime(*value[:6], tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None


# --- building stories ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    feed: str
    url: str
    fetched_at: dt.datetime
    language: str


class _Notes:
    """Warnings about single entries, each naming the feed and the entry.

    At most MAX_ENTRY_WARNINGS of one kind are spelled out; the rest are
    counted, so a feed of 500 entries with broken dates gives six lines.
    """

    def __init__(self, feed: str) -> None:
        self.feed = feed
        self._by_kind: dict[str, list[str]] = {}

    def add(self, kind: str, text: str) -> None:
        self._by_kind.setdefault(kind, []).append(text)

    def warnings(self) -> Iterator[str]:
        for kind, texts in self._by_kind.items():
            for text in texts[:MAX_ENTRY_WARNINGS]:
                yield f"{self.feed}: {text}"
            if len(texts) > MAX_ENTRY_WARNINGS:
                yield f"{self.feed}: and {len(texts) - MAX_ENTRY_WARNINGS} more {kind}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ready:
    """An entry with a web link, its fields cleaned: a story but for its URL and dates."""

    entry: _Entry
    label: str  # "entry 3 'Title'": how warnings name it
    link: str  # absolute, with its fragment
    title: str
    summary: str
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Dropped:
    label: str
    link: str  # "" when the entry had none
    problems: tuple[str, ...] = ()


def _build(read: _Read, context: _Context, warnings: Iterable[str] = ()) -> ParsedFeed:
    notes = _Notes(context.feed)
    ready: list[_Ready] = []
    dropped: list[_Dropped] = []
    for index, entry in enumerate(read.entries):
        prepared = _prepare(entry, index, context, notes)
        if isinstance(prepared, _Ready):
            ready.append(prepared)
        else:
            dropped.append(prepared)
    stories, duplicates = _stories(ready, context, _language(read.language) or context.language,
                                   notes)
    kind = read.entries[0].kind if read.entries else "entry"
    return ParsedFeed(
        title=_plain_title(read.title),
        stories=stories,
        warnings=(*read.warnings, *warnings, *_drop_warnings(context.feed, kind, dropped),
                  *_duplicate_warnings(context.feed, duplicates), *notes.warnings()),
        best_effort=read.best_effort,
        dropped=len(dropped) + sum(duplicates.values()) + read.skipped,
        link=canonical_url(_join(context.url, read.link) or "") or "",
    )


def _prepare(entry: _Entry, index: int, context: _Context,
             notes: _Notes) -> _Ready | _Dropped:
    """Choose the entry's link and clean its fields; or say why it cannot be a story."""
    title, title_empty = _entry_title(entry)
    label = _label(entry, index, title)
    own = _scrub(entry.link).strip()
    if not own:  # joined with the feed's URL, "" would become the feed itself
        return _Dropped(label=label, link="", problems=entry.problems)
    joined = _join(context.url, own)
    web = joined if joined and canonical_url(joined) else ""
    summary = _clean(entry.summary, base=entry.summary_base or web or context.url,
                     limit=MAX_SUMMARY, what="summary", label=label, notes=notes)
    content = _clean(entry.content, base=entry.content_base or web or context.url,
                     limit=MAX_CONTENT, what="content", label=label, notes=notes)
    if not web:
        web, how = _stand_in(entry, (content, summary), context)
        if not web:
            return _Dropped(label=label, link=own, problems=entry.problems)
        notes.add("entries whose link is not a web address",
                  f"{label}: its link {own[:100]!r} is not a web address; "
                  f"{how} {web[:100]} stands in for it")
    for problem in entry.problems:
        notes.add(f"{entry.kind}s with fields of the wrong type", f"{label}: {problem}")
    if title_empty:
        notes.add("titles without text", f"{label}: its title has no text once its markup "
                                          "is removed; its first words stand in")
    return _Ready(entry=entry, label=label, link=web, summary=summary, content=content,
                  title=title or _first_words(html_to_plain(summary or content))
                  or _host_and_path(web))


def _entry_title(entry: _Entry) -> tuple[str, bool]:
    """The title as one line of plain text, and whether markup was all it had."""
    raw = _scrub(entry.title[:_RAW_TITLE])
    plain = _plain_title(html_to_plain(raw) if entry.title_is_html else raw)
    return plain, bool(raw.strip()) and not plain


def _label(entry: _Entry, index: int, title: str) -> str:
    """How a warning names an entry: its position, and its title or guid."""
    number = f"{entry.kind} {index + 1}"
    guid = _scrub(entry.guid).strip()
    if title:
        return f"{number} {title[:60]!r}"
    if guid:
        return f"{number} ({'id' if entry.kind == 'item' else 'guid'} {guid[:60]!r})"
    return number


def _clean(text: str, *, base: str, limit: int, what: str, label: str, notes: _Notes) -> str:
    """A summary or content sanitized, its URLs absolute, its size and depth bounded."""
    def rewrite(found: str) -> str | None:  # clean_field then drops what is not http(s)/mailto
        return _join(base, found)

    def rewrite_src(found: str) -> str | None:  # a picture is never a mailto: link
        joined = _join(base, found)
        return joined if joined and _is_web(joined) else None

    cleaned: Cleaned = clean_field(_scrub(text), rewrite, rewrite_src, max_bytes=limit)
    if cleaned.too_deep:
        notes.add("fields nested too deeply",
                  f"{label}: its {what} nests elements more than {MAX_DEPTH} deep; the "
                  "deeper ones were dropped, their text kept")
    if cleaned.cut_from:
        notes.add("fields cut to size", f"{label}: its {what} was cut from "
                                        f"{_kb(cleaned.cut_from)} to {_kb(limit)}")
    return str(cleaned.html).strip()


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB"


_LINK_IN_TEXT = re.compile(r'<a\b[^>]*?\shref="([^"]+)"')


def _stand_in(entry: _Entry, cleaned: Iterable[str], context: _Context) -> tuple[str, str]:
    """(a web link, what it is) to use instead of an entry's own unusable link.

    In order: another alternate link, a guid that is a web address, the first
    link of the content (then of the summary). ("", "") when there is none.
    """
    candidates = [("its other link", _join(context.url, _scrub(link)) or "")
                  for link in entry.other_links]
    candidates.append(("its guid", _scrub(entry.guid).strip()))
    candidates += [("the first link of its text", html.unescape(found.group(1)))
                   for text in cleaned if (found := _LINK_IN_TEXT.search(text))]
    for how, link in candidates:
        if _is_web(link) and canonical_url(link):
            return link, how
    return "", ""


def _stories(ready: list[_Ready], context: _Context, language: str,
             notes: _Notes) -> tuple[tuple[Story, ...], Counter[str]]:
    """One story per entry, but for repeats within the feed (counted by rule)."""
    keep_fragment = _anchored_pages(ready)
    stories: list[Story] = []
    seen: set[tuple[str, str]] = set()
    duplicates: Counter[str] = Counter()
    for one in ready:
        page = canonical_url(one.link) or ""
        url = canonical_url(one.link, keep_fragment=page in keep_fragment) or page
        story = _story(one, url=url, context=context, language=language, notes=notes)
        keys = _identity(story)
        repeated = next((rule for rule, key in keys if (rule, key) in seen), None)
        if repeated:
            duplicates[repeated] += 1
            continue
        seen.update(keys)
        stories.append(story)
    return tuple(stories), duplicates


def _anchored_pages(ready: Iterable[_Ready]) -> set[str]:
    """Pages (canonical URLs) that entries link to at two or more different anchors.

    On such a page (a blog's day page, `26.html#a080605`) the fragment names
    the story, so it stays in the story's URL; elsewhere it goes (`#comments`
    is the post), and the canonical URL meets the same story from other feeds.
    """
    fragments: dict[str, set[str]] = {}
    for one in ready:
        fragment = urlsplit(one.link).fragment
        if fragment:
            fragments.setdefault(canonical_url(one.link) or "", set()).add(fragment)
    return {page for page, found in fragments.items() if len(found) > 1}


def _identity(story: Story) -> tuple[tuple[str, str], ...]:
    """What makes two entries of one feed the same, by rule: guid, link, or all their text.

    The text hash covers title, summary and content together, because feeds
    that repeat one boilerplate summary on every entry are common; entries
    with a title and no text at all are told apart by guid and link only.
    """
    keys = [("guid", story.guid)] if story.guid else []
    keys.append(("link", story.url))
    if story.summary or story.content:  # a title alone is not enough to call two entries one
        text = "\0".join((story.title, story.summary, story.content))
        keys.append(("text", hashlib.sha256(text.encode("utf-8")).hexdigest()))
    return tuple(keys)


def _drop_warnings(feed: str, kind: str, dropped: list[_Dropped]) -> Iterator[str]:
    """One line for the entries without a link, one for those whose link is not web."""
    without = [d for d in dropped if not d.link]
    unsafe = [d for d in dropped if d.link]
    if without:
        why = [f"{d.label}: {'; '.join(d.problems)}" for d in without if d.problems]
        yield (f"{feed}: dropped {_count(len(without), kind)} without a link"
               + (f" ({_some(why)})" if why else ""))
    if unsafe:
        yield (f"{feed}: dropped {_count(len(unsafe), kind)} whose link is not a web address "
               "(http or https), with no other link to stand in: "
               + _some(f"{d.label} ({d.link[:100]!r})" for d in unsafe))


def _some(texts: Iterable[str], most: int = 3) -> str:
    """The first few of `texts`, and how many more."""
    listed = list(texts)
    more = f", and {len(listed) - most} more" if len(listed) > most else ""
    return ", ".join(listed[:most]) + more


def _duplicate_warnings(feed: str, duplicates: Counter[str]) -> Iterator[str]:
    if duplicates:
        rules = ", ".join(f"{duplicates[rule]} with the same {rule}"
                          for rule in ("guid", "link", "text") if duplicates[rule])
        yield (f"{feed}: dropped {_count(sum(duplicates.values()), 'duplicate entry')} "
               f"({rules} as an earlier entry)")


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _story(ready: _Ready, *, url: str, context: _Context, language: str,
           notes: _Notes) -> Story:
    entry = ready.entry
    published, updated = _dates(entry, context.fetched_at, ready.label, notes)
    return Story(
        id=story_id(url),
        url=url,
        title=ready.title,
        summary=ready.summary,
        content=ready.content,
        image=_picture(entry.pictures, (ready.content, ready.summary), base=ready.link,
                       alt=ready.title),
        source=context.feed,
        sources=(context.feed,),
        language=_language(entry.language) or language or None,
        published=published,
        updated=updated,
        authors=tuple(dict.fromkeys(a for a in map(_plain_title, entry.authors) if a)),
        guid=_scrub(entry.guid).strip(),
    )


def _join(base: str, found: str) -> str | None:
    """`found` made absolute against `base`; None if it cannot be parsed."""
    try:
        return urljoin(base, found.strip()) if base else found.strip()
    except ValueError:
        return None


def _is_web(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --- dates -------------------------------------------------------------------

_ISO_DATE = re.compile(r"\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?")


def _dates(entry: _Entry, fetched_at: dt.datetime, label: str,
           notes: _Notes) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(published, updated): each falls back to the other; None when neither is usable.

    None is the documented fallback: the store dates such a story by when it
    first saw it, and that date does not move when the feed changes.
    """
    usable: list[dt.datetime | None] = []
    noted: set[str] = set()  # an Atom entry may give one date as both
    for when, text in ((entry.published, entry.published_text),
                       (entry.updated, entry.updated_text)):
        problem = _date_problem(when, text, fetched_at)
        if problem and text not in noted:
            noted.add(text)
            notes.add("entries with dates that cannot be used",
                      f"{label}: its date {text.strip()[:40]!r} {problem}; it is dated by "
                      "when it was first fetched")
        usable.append(None if problem or when is None else when.astimezone(dt.UTC))
    published, updated = usable
    first = published or updated
    return first, updated or first


def _date_problem(when: dt.datetime | None, text: str, fetched_at: dt.datetime) -> str:
    """Why a date cannot be used ("" if it can, or if there is none)."""
    if not _real_date(text):
        return "is not a real date"
    if when is None:
        return "is not a date" if text.strip() else ""
    if when < DATE_FLOOR:
        return f"is before {DATE_FLOOR:%Y-%m-%d}"
    if when > fetched_at + FUTURE_SLACK:
        return "is in the future"
    return ""


def _real_date(text: str) -> bool:
    """False for an ISO 8601 date whose month or day does not exist (feedparser
    reads `2026-13-45` as 2027-01-01, and `0000-00-00` as 30 November)."""
    found = _ISO_DATE.match(text)
    if not found:
        return True
    year, month = int(found.group(1)), int(found.group(2))
    if not (year >= 1 and 1 <= month <= 12):
        return False
    return found.group(3) is None or 1 <= int(found.group(3)) <= calendar.monthrange(
        year, month)[1]


# --- pictures ----------------------------------------------------------------


def _picture(pictures: Iterable[_Picture], texts: Iterable[str], *, base: str,
             alt: str) -> Image | None:
    """The first usable picture: the entry's media, else the first <img> of its text."""
    for picture in (*pictures, *(p for t in texts for p in _img_tags(t))):
        src = _join(base, _scrub(picture.src))
        if not src or not _is_web(src):
            continue
        if (picture.width or 2) < 2 or (picture.height or 2) < 2:
            continue  # a 1x1 tracking pixel, not a picture
        return Image(src=src, alt=alt, width=picture.width, height=picture.height)
    return None


def _img_tags(cleaned: str) -> Iterator[_Picture]:
    """<img> tags of sanitized HTML (nh3 writes attributes double-quoted)."""
    for tag in _IMG.finditer(cleaned):
        found = {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(tag.group())}
        if found.get("src"):
            yield _Picture(src=found["src"], width=_side(found, "width"),
                           height=_side(found, "height"))


# --- text ------------------------------------------------------------------


def _scrub(text: str) -> str:
    return _NOT_TEXT.sub("", text)


def _plain_title(text: str) -> str:
    """One line of text, at most MAX_TITLE characters."""
    line = _SPACE.sub(" ", _scrub(text)).strip()
    return line if len(line) <= MAX_TITLE else line[:MAX_TITLE - 1].rstrip() + "\u2026"


def _first_words(text: str) -> str:
    """The start of a text, cut at a word, for an entry that has no title."""
    if len(text) <= _FALLBACK_TITLE_CHARS:
        return text
    cut = text[:_FALLBACK_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "\u2026"


def _host_and_path(url: str) -> str:
    parts = urlsplit(url)
    return _plain_title(f"{parts.hostname or ''}{parts.path.rstrip('/')}")


def _language(tag: str) -> str:
    """A BCP 47-looking language tag (`en`, `pt-BR`; `en_US` is mended), else ""."""
    tag = tag.strip().replace("_", "-")
    return tag if _LANGUAGE.fullmatch(tag) else ""

