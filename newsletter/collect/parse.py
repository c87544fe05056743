"""Feed bytes -> candidate stories: the pure, CPU-bound half of collecting.

`parse_feed` takes the bytes a fetch returned and gives a `ParsedFeed` or
raises `FeedError`. It reads no file, opens no socket and never looks at the
clock (the fetch time is an argument), so the fetcher can run it in a
process pool and tests can run it over the corpora.

The steps, and why each is here (1 and 2 live in `sniff`, 3 in `entries`):

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
3. **Parse** with feedparser-rs where it reads a document as feedparser does
   (`fastread`: UTF-8, well-formed, none of the constructs it reads
   differently; about 25x faster), else with feedparser, given a file
   object (a `bytes` argument that names an existing file would be *opened*
   by feedparser); with either, the sanitizer is off (`sanitize` is our
   single sanitizer, so no markup is cleaned twice by two different rules)
   and the relative-URI pass off
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
import datetime as dt
import hashlib
import html
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import FeedError
from ..model import Image, ParsedFeed, Story
from ..sanitize import MAX_DEPTH, Cleaned, clean_field, html_to_plain
from .canonical import canonical_url, story_id
from .entries import RAW_TITLE, Entry, Picture, Read, count, read_json, read_xml, scrub, side
from .fastread import read_fast
from .sniff import Head, charset_of, is_json, not_a_feed, scan_prolog, web_page

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
_FALLBACK_TITLE_CHARS = 80
_WEB_PAGE_ROOTS = frozenset({"html", "head", "body"})

_SPACE = re.compile(r"\s+")
_FIRST = re.compile(r"\s*(\S)")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_IMG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(src|width|height)="([^"]*)"')


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
    head = Head.of(data)
    if not _FIRST.match(head.text):
        return ParsedFeed(title="", stories=(), warnings=(f"{feed}: the feed is empty",))
    if is_json(head, content_type):
        return _build(read_json(data, feed=feed), context)
    xml = xml_input(data, head, feed=feed, content_type=content_type)
    read = read_fast(xml.data, root=xml.root, url=url, charset=xml.charset) or read_xml(
        xml.data, root=xml.root, feed=feed, url=url, content_type=content_type,
        charset=xml.charset)
    return _build(read, context, xml.warnings)


@dataclass(frozen=True, slots=True, kw_only=True)
class XmlInput:
    """XML bytes as a parser may read them: no DOCTYPE, the root and charset known."""

    data: bytes
    root: str
    charset: str
    warnings: tuple[str, ...]


def xml_input(data: bytes, head: Head, *, feed: str, content_type: str | None) -> XmlInput:
    """Steps 1 and 2: refuse what is not a feed or declares entities, decide the charset."""
    prolog = scan_prolog(head.text, feed)
    if not prolog.root:  # no element at all: spare feedparser's slow lenient parse of junk
        raise not_a_feed(feed, "there is no XML element in it")
    if prolog.root in _WEB_PAGE_ROOTS:
        raise web_page(feed)
    if prolog.root == "opml":
        raise FeedError("this is an OPML subscription list, not a feed", feed=feed,
                        hint='add the feeds it lists with "newsletter feeds import"')
    charset, warnings = charset_of(data, head, content_type, feed)
    for start, end in reversed(prolog.doctypes):
        data = data[:head.offset(start)] + data[head.offset(end):]
    return XmlInput(data=data, root=prolog.root, charset=charset, warnings=warnings)


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

    entry: Entry
    label: str  # "entry 3 'Title'": how warnings name it
    link: str  # absolute, with its fragment
    page: str  # the link's canonical URL, without its fragment
    title: str
    summary: str
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Dropped:
    label: str
    link: str  # "" when the entry had none
    problems: tuple[str, ...] = ()


def _build(read: Read, context: _Context, warnings: Iterable[str] = ()) -> ParsedFeed:
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


def _prepare(entry: Entry, index: int, context: _Context,
             notes: _Notes) -> _Ready | _Dropped:
    """Choose the entry's link and clean its fields; or say why it cannot be a story."""
    title, title_empty = _entry_title(entry)
    label = _label(entry, index, title)
    own = scrub(entry.link).strip()
    if not own:  # joined with the feed's URL, "" would become the feed itself
        return _Dropped(label=label, link="", problems=entry.problems)
    joined = _join(context.url, own)
    page = (canonical_url(joined) or "") if joined else ""
    web = joined if page else ""
    summary = _clean(entry.summary, base=entry.summary_base or web or context.url,
                     limit=MAX_SUMMARY, what="summary", label=label, notes=notes)
    content = _clean(entry.content, base=entry.content_base or web or context.url,
                     limit=MAX_CONTENT, what="content", label=label, notes=notes)
    if not web:
        web, how = _stand_in(entry, (content, summary), context)
        if not web:
            return _Dropped(label=label, link=own, problems=entry.problems)
        page = canonical_url(web) or ""
        notes.add("entries whose link is not a web address",
                  f"{label}: its link {own[:100]!r} is not a web address; "
                  f"{how} {web[:100]} stands in for it")
    for problem in entry.problems:
        notes.add(f"{entry.kind}s with fields of the wrong type", f"{label}: {problem}")
    if title_empty:
        notes.add("titles without text", f"{label}: its title has no text once its markup "
                                          "is removed; its first words stand in")
    return _Ready(entry=entry, label=label, link=web, page=page, summary=summary,
                  content=content,
                  title=title or _first_words(html_to_plain(summary or content))
                  or _host_and_path(web))


def _entry_title(entry: Entry) -> tuple[str, bool]:
    """The title as one line of plain text, and whether markup was all it had."""
    raw = scrub(entry.title[:RAW_TITLE])
    plain = _plain_title(html_to_plain(raw) if entry.title_is_html else raw)
    return plain, bool(raw.strip()) and not plain


def _label(entry: Entry, index: int, title: str) -> str:
    """How a warning names an entry: its position, and its title or guid."""
    number = f"{entry.kind} {index + 1}"
    guid = scrub(entry.guid).strip()
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

    if not text:  # most feeds give a summary or a content, not both: spare nh3 a call
        return ""
    cleaned: Cleaned = clean_field(scrub(text), rewrite, rewrite_src, max_bytes=limit)
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


def _stand_in(entry: Entry, cleaned: Iterable[str], context: _Context) -> tuple[str, str]:
    """(a web link, what it is) to use instead of an entry's own unusable link.

    In order: another alternate link, a guid that is a web address, the first
    link of the content (then of the summary). ("", "") when there is none.
    """
    candidates = [("its other link", _join(context.url, scrub(link)) or "")
                  for link in entry.other_links]
    candidates.append(("its guid", scrub(entry.guid).strip()))
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
        page = one.page  # one canonical_url per entry: it was a fifth of our own time
        url = (canonical_url(one.link, keep_fragment=True) or page) if page in keep_fragment \
            else page
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
            fragments.setdefault(one.page, set()).add(fragment)
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
        yield (f"{feed}: dropped {count(len(without), kind)} without a link"
               + (f" ({_some(why)})" if why else ""))
    if unsafe:
        yield (f"{feed}: dropped {count(len(unsafe), kind)} whose link is not a web address "
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
        yield (f"{feed}: dropped {count(sum(duplicates.values()), 'duplicate entry')} "
               f"({rules} as an earlier entry)")


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
        language=_story_language(_language(entry.language), language,
                                 f"{ready.title}\n{ready.summary[:_SCRIPT_SAMPLE]}"),
        published=published,
        updated=updated,
        authors=tuple(dict.fromkeys(a for a in map(_plain_title, entry.authors) if a)),
        guid=scrub(entry.guid).strip(),
    )


def _join(base: str, found: str) -> str | None:
    """`found` made absolute against `base`; None if it cannot be parsed."""
    if found.startswith(("https://", "http://")) and found == found.strip():
        return found  # already absolute: urljoin would only parse it (a third of our time)
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


def _dates(entry: Entry, fetched_at: dt.datetime, label: str,
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


def _picture(pictures: Iterable[Picture], texts: Iterable[str], *, base: str,
             alt: str) -> Image | None:
    """The first usable picture: the entry's media, else the first <img> of its text."""
    for picture in (*pictures, *(p for t in texts for p in _img_tags(t))):
        if not picture.src.strip():
            continue  # joined to the base, an empty address would be the story's own page
        src = _join(base, scrub(picture.src))
        if not src or not _is_web(src):
            continue
        if (picture.width or 2) < 2 or (picture.height or 2) < 2:
            continue  # a 1x1 tracking pixel, not a picture
        return Image(src=src, alt=alt, width=picture.width, height=picture.height)
    return None


def _img_tags(cleaned: str) -> Iterator[Picture]:
    """<img> tags of sanitized HTML (nh3 writes attributes double-quoted)."""
    for tag in _IMG.finditer(cleaned):
        found = {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(tag.group())}
        if found.get("src"):
            yield Picture(src=found["src"], width=side(found, "width"),
                           height=side(found, "height"))


# --- text ------------------------------------------------------------------


def _plain_title(text: str) -> str:
    """One line of text, at most MAX_TITLE characters."""
    line = _SPACE.sub(" ", scrub(text)).strip()
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


# hiragana, katakana (but the middle dot and the long-vowel mark, which Chinese text
# uses too), katakana extensions, halfwidth katakana; and the Han ideographs
_KANA = re.compile("[\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fd\u30fe"
                   "\u31f0-\u31ff\uff66-\uff9d]")
_HIRAGANA = re.compile("[\u3041-\u3096\u309d\u309e]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TAG = re.compile(r"<[^>]*>")
_QUOTED = re.compile("[\u300a\u300c\u300e\u3008\u201c][^\u300b\u300d\u300f\u3009\u201d]{0,200}"
                     "[\u300b\u300d\u300f\u3009\u201d]")  # 《》「」『』〈〉“”
_SCRIPT_SAMPLE = 1_000  # characters of the summary enough to tell Japanese from Chinese


def _story_language(declared: str, inherited: str, text: str) -> str | None:
    """The entry's own language tag; else the feed's (or the desk's setting for it),
    unless the text is plainly Japanese and that says otherwise.

    A Chinese feed carries the odd Japanese story, and Han characters alone cannot
    tell the two apart, but kana can: Japanese prose is a third to a half kana,
    its particles (の, を, が) hiragana, while Chinese has kana only in a quoted
    name or title (ウォークマン, 《となりのトトロ》). So, quotations set aside,
    the story is `ja` when it has two hiragana or more, kana make at least a
    sixth of its CJK characters, and those at least a quarter of its letters
    (an English story naming a Pokémon in katakana stays English).
    """
    if declared:
        return declared
    if inherited.lower().startswith("ja") or not _HIRAGANA.search(text):
        return inherited or None
    text = _QUOTED.sub(" ", _TAG.sub(" ", text))
    kana = len(_KANA.findall(text))
    cjk = kana + len(_HAN.findall(text))
    if len(_HIRAGANA.findall(text)) >= 2 and kana * 6 >= cjk and \
            cjk * 4 >= sum(c.isalpha() for c in text):
        return "ja"
    return inherited or None


def _language(tag: str) -> str:
    """A BCP 47-looking language tag (`en`, `pt-BR`; `en_US` is mended), else ""."""
    tag = tag.strip().replace("_", "-")
    return tag if _LANGUAGE.fullmatch(tag) else ""

