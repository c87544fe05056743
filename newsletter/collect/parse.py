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
2. **Parse** with feedparser, given a file object (a `bytes` argument that
   names an existing file would be *opened* by feedparser) and with its
   sanitizer off: `sanitize.clean_html` is our single sanitizer, so no
   markup is cleaned twice by two different rules.
3. **Build stories**: canonical https links (entries without a usable web
   link are dropped and counted), plain-text titles, sanitized summaries
   with absolute URLs, UTC dates that are never missing or in the future, a
   picture, and one story per guid, link and content within the feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from markupsafe import escape

from ..errors import FeedError
from ..model import Image, Story
from ..sanitize import clean_html, html_to_plain
from .canonical import canonical_url, story_id
from .jsonfeed import JsonFeed, JsonFeedError, read_json_feed

__all__ = ["MAX_TITLE", "ParsedFeed", "parse_feed"]

MAX_TITLE = 300
#: How far after the fetch a date may lie before it counts as "in the future"
#: (clocks drift; a feed stamped a minute ahead is not lying).
FUTURE_SLACK = dt.timedelta(minutes=5)
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

    Dates: `published` and `updated` are aware UTC. A missing or unreadable
    date falls back to the other one, then to `fetched_at`; a date more than
    `FUTURE_SLACK` after `fetched_at` is clamped to `fetched_at`, so a feed
    cannot pin its stories to the top by dating them next year.

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
    for start, end in reversed(prolog.doctypes):
        data = data[:head.offset(start)] + data[head.offset(end):]
    read = _read_xml(data, root=prolog.root, feed=feed, url=url, content_type=content_type)
    return _build(read, context)


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
    title: str  # plain text
    summary: str  # HTML
    content: str  # HTML
    published: dt.datetime | None
    updated: dt.datetime | None
    authors: tuple[str, ...]
    language: str
    pictures: tuple[_Picture, ...]  # media, thumbnails, enclosures: before <img> in the text


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
        yield _Entry(
            link=item.url or permalink or item.external_url,
            guid=item.id,
            title=html.unescape(item.title),  # plain text by the spec, yet often escaped
            summary=str(escape(html.unescape(item.summary))),
            content=item.content_html or _paragraphs(item.content_text),
            published=item.date_published,
            updated=item.date_modified,
            authors=item.authors,
            language=item.language,
            pictures=tuple(_Picture(src=p) for p in pictures if p),
        )


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, split at blank lines."""
    blocks = (b.strip() for b in re.split(r"\n\s*\n", text))
    return "".join(f"<p>{escape(b)}</p>" for b in blocks if b)


def _read_xml(data: bytes, *, root: str, feed: str, url: str,
              content_type: str | None) -> _Read:
    parsed = feedparser.parse(
        io.BytesIO(data),  # never bytes: feedparser opens a bytes "path" that exists
        response_headers=_response_headers(content_type, url),
        sanitize_html=False,
        resolve_relative_uris=True,
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


def _response_headers(content_type: str | None, url: str) -> dict[str, str]:
    """Headers for feedparser: the base URL, and the charset the server declared.

    The media type is always given as application/xml: once the body is known
    to be XML, the server's label (text/plain, text/html, octet-stream) says
    nothing more, and RFC 7303 retired RFC 3023's rule that text/xml without a
    charset is US-ASCII, which made feedparser flag every UTF-8 feed served so.
    """
    charset = _CHARSET.search(content_type or "")
    media = f"application/xml; charset={charset.group(1)}" if charset else "application/xml"
    return {"content-type": media, "content-location": url}


def _bozo_reason(parsed: Mapping[str, Any]) -> str:
    if not parsed.get("bozo"):
        return ""
    error = parsed.get("bozo_exception")
    text = str(error).splitlines()[0].strip() if error is not None and str(error) else ""
    return text[:200] or type(error).__name__


def _xml_entry(entry: Mapping[str, Any]) -> _Entry:
    details = (entry.get("title_detail"), entry.get("summary_detail"), *_contents(entry))
    authors = [_str(a, "name") for a in entry.get("authors") or () if isinstance(a, Mapping)]
    return _Entry(
        link=_str(entry, "link"),
        guid=_str(entry, "id"),
        title=_title_of(entry),
        summary=_html_of(entry.get("summary_detail"), _str(entry, "summary")),
        content=_content_of(entry),
        published=_struct_time(entry.get("published_parsed") or entry.get("created_parsed")),
        # dict.get: FeedParserDict.get falls back to published_parsed, with a warning
        updated=_struct_time(dict.get(entry, "updated_parsed") if isinstance(entry, dict)
                             else None),
        authors=tuple(authors) if any(authors) else (_str(entry, "author"),),
        language=_str(entry, "language") or next(
            (_str(d, "language") for d in details if isinstance(d, Mapping)
             and _str(d, "language")), ""),
        pictures=tuple(_xml_pictures(entry)),
    )


def _contents(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = entry.get("content") or []
    return [c for c in found if isinstance(c, Mapping)]


def _content_of(entry: Mapping[str, Any]) -> str:
    """The first HTML content element, else the first of any type."""
    contents = _contents(entry)
    chosen = next((c for c in contents if _is_html(_str(c, "type"))), None)
    chosen = chosen or (contents[0] if contents else None)
    return _html_of(chosen, _str(chosen, "value")) if chosen else ""


def _title_of(about: Mapping[str, Any]) -> str:
    """A title as plain text: markup removed only when feedparser says it is HTML."""
    title = _str(about, "title")
    detail = about.get("title_detail")
    kind = _str(detail, "type") if isinstance(detail, Mapping) else ""
    return html_to_plain(_scrub(title)) if _is_html(kind) else title


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


def _build(read: _Read, context: _Context) -> ParsedFeed:
    stories: list[Story] = []
    seen: set[str] = set()
    no_link: list[str] = []
    unsafe: list[str] = []
    duplicates = 0
    feed_language = _language(read.language) or context.language
    for entry in read.entries:
        link = _scrub(entry.link).strip()
        if not link:  # joined with the feed's URL, "" would become the feed itself
            no_link.append(link)
            continue
        absolute = _join(context.url, link)
        url = canonical_url(absolute) if absolute else None
        if url is None:
            unsafe.append(link)
            continue
        story = _story(entry, url=url, base=absolute or url, context=context,
                       language=feed_language)
        keys = _identity(story)
        if seen.intersection(keys):
            duplicates += 1
            continue
        seen.update(keys)
        stories.append(story)
    warnings = [*read.warnings, *_drop_warnings(context.feed, no_link, unsafe, duplicates)]
    return ParsedFeed(
        title=_plain_title(read.title),
        stories=tuple(stories),
        warnings=tuple(warnings),
        best_effort=read.best_effort,
        dropped=len(no_link) + len(unsafe) + duplicates + read.skipped,
        link=canonical_url(_join(context.url, read.link) or "") or "",
    )


def _identity(story: Story) -> tuple[str, ...]:
    """What makes two entries of one feed the same: guid, link, or all their text.

    The text hash covers title, summary and content together, because feeds
    that repeat one boilerplate summary on every entry are common; entries
    with a title and no text at all are told apart by guid and link only.
    """
    keys = [f"url {story.url}"]
    if story.guid:
        keys.append(f"guid {story.guid}")
    if story.summary or story.content:  # a title alone is not enough to call two entries one
        text = "\0".join((story.title, story.summary, story.content))
        keys.append(f"text {hashlib.sha256(text.encode('utf-8')).hexdigest()}")
    return tuple(keys)


def _drop_warnings(feed: str, no_link: list[str], unsafe: list[str],
                   duplicates: int) -> Iterator[str]:
    if no_link:
        yield f"{feed}: dropped {_count(len(no_link), 'entry')} without a link"
    if unsafe:
        yield (f"{feed}: dropped {_count(len(unsafe), 'entry')} whose link is not a web "
               f"address (http or https), e.g. {unsafe[0][:100]!r}")
    if duplicates:
        yield (f"{feed}: dropped {_count(duplicates, 'duplicate entry')} "
               "(same guid, link or text as an earlier one)")


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _story(entry: _Entry, *, url: str, base: str, context: _Context, language: str) -> Story:
    def rewrite(found: str) -> str | None:  # clean_html then drops what is not http(s)/mailto
        return _join(base, found)

    def rewrite_src(found: str) -> str | None:  # a picture is never a mailto: link
        joined = _join(base, found)
        return joined if joined and _is_web(joined) else None

    summary = str(clean_html(_scrub(entry.summary), rewrite, rewrite_src)).strip()
    content = str(clean_html(_scrub(entry.content), rewrite, rewrite_src)).strip()
    title = (_plain_title(entry.title) or _first_words(html_to_plain(summary or content))
             or _host_and_path(url))
    published, updated = _dates(entry.published, entry.updated, context.fetched_at)
    return Story(
        id=story_id(url),
        url=url,
        title=title,
        summary=summary,
        content=content,
        image=_picture(entry.pictures, (content, summary), base=base, alt=title),
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


def _dates(published: dt.datetime | None, updated: dt.datetime | None,
           fetched_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(published, updated): each falls back to the other, then to the fetch time."""
    published = _not_future(published, fetched_at)
    updated = _not_future(updated, fetched_at)
    first = published or updated or fetched_at
    return first, updated or first


def _not_future(when: dt.datetime | None, fetched_at: dt.datetime) -> dt.datetime | None:
    if when is None:
        return None
    when = when.astimezone(dt.UTC)
    return fetched_at if when > fetched_at + FUTURE_SLACK else when


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

