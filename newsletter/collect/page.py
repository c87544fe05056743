"""A web page that is in no feed -> a candidate Story, from the page's own metadata;
and the feeds a page names (`feed_links`, for `newsletter feeds add`).

Reads what publishers put there for link previews: OpenGraph (`og:*`),
Twitter cards (`twitter:*`), JSON-LD (`NewsArticle` and friends) and
`<link rel="canonical">`; the page's `<title>` is the last resort. Feeds are
the page's `<link rel="alternate">` of a feed type.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from ..errors import FeedError
from ..model import Image, Story
from ..sanitize import clean_html, is_safe_url
from .canonical import canonical_url, story_id

__all__ = ["ADDED_BY_HAND", "FeedLink", "feed_links", "story_from_page"]

ADDED_BY_HAND = "added by hand"
#: `<link rel="alternate" type=...>` that name a feed, best first; plain JSON last, since
#: WordPress names its REST API that way too (a candidate is read before it is trusted)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
               "application/rdf+xml", "application/json")
_MAX_FEED_LINKS = 20
_ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle",
                  "AnalysisNewsArticle", "OpinionNewsArticle", "WebPage", "VideoObject"}


class _MetaReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self.title = ""
        self.lang = ""
        self.json_ld: list[str] = []
        self.alternates: list[tuple[str, str, str]] = []  # (type, href, title)
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "html":
            self.lang = values.get("lang", "")
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and values.get("content") and key not in self.meta:
                self.meta[key] = values["content"]
        elif tag == "link":
            self._link(values)
        elif tag == "title" or (tag == "script" and values.get("type") == "application/ld+json"):
            self._in = tag
            if tag == "script":
                self.json_ld.append("")

    def _link(self, values: dict[str, str]) -> None:
        rel = values.get("rel", "").lower().split()
        if "canonical" in rel:
            self.canonical = self.canonical or values.get("href", "")
        kind = values.get("type", "").split(";")[0].strip().lower()
        if "alternate" in rel and kind in _FEED_TYPES and values.get("href") \
                and len(self.alternates) < _MAX_FEED_LINKS:
            self.alternates.append((kind, values["href"], values.get("title", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "script":
            self.json_ld[-1] += data


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedLink:
    """A feed a page names with `<link rel="alternate">`."""

    url: str  # absolute
    title: str
    kind: str  # its type: application/rss+xml, ...


def feed_links(html: str, *, base: str) -> tuple[FeedLink, ...]:
    """The feeds a page names, best first (RSS, Atom, JSON Feed, then plain JSON),
    in page order within each type; only http(s) addresses, each once."""
    reader = _read(html)
    links: dict[str, FeedLink] = {}
    for kind, href, title in sorted(reader.alternates, key=lambda a: _FEED_TYPES.index(a[0])):
        try:
            url = urljoin(base, href.strip())
        except ValueError:  # "http://[x" and the like: not an address
            continue
        if is_safe_url(url) and url.startswith(("http://", "https://")) and url not in links:
            links[url] = FeedLink(url=url, title=_one_line(title)[:300], kind=kind)
    return tuple(links.values())


def _read(html: str) -> _MetaReader:
    reader = _MetaReader()
    try:
        reader.feed(html)
        reader.close()
    except AssertionError:  # the stdlib parser's answer to "<![" markup; keep what it read
        pass
    return reader


def story_from_page(html: str, *, url: str, fetched_at: dt.datetime) -> Story:
    """Raises FeedError when the page says too little to be a story (no title)."""
    reader = _read(html)
    article = _json_ld_article(reader.json_ld)
    meta = reader.meta
    link = (canonical_url(reader.canonical, url) or canonical_url(meta.get("og:url", ""), url)
            or canonical_url(url))
    if link is None:
        raise FeedError("the page has no usable web address", feed=url,
                        hint="add pages by their http(s) address")
    # metadata values are text already (the parser decoded their entities)
    title = _one_line(meta.get("og:title") or meta.get("twitter:title")
                      or str(article.get("headline", "")) or reader.title)[:300]
    if not title:
        raise FeedError("the page has no title", feed=url,
                        hint="write the story inline in the issue file instead")
    description = (meta.get("og:description") or meta.get("twitter:description")
                   or meta.get("description") or str(article.get("description", "")))
    published = _time(meta.get("article:published_time") or article.get("datePublished"))
    return Story(
        id=story_id(link), url=link, title=title,
        summary=str(clean_html(f"<p>{_escape(_one_line(description))}</p>"))
        if description else "",
        image=_image(meta, article, link, title),
        source=meta.get("og:site_name") or ADDED_BY_HAND, sources=(ADDED_BY_HAND,),
        language=reader.lang or None,
        published=min(published or fetched_at, fetched_at),
        updated=_time(meta.get("article:modified_time") or article.get("dateModified")),
        authors=_authors(article),
    )


def _json_ld_article(blocks: list[str]) -> dict[str, Any]:
    for block in blocks:
        try:
            data = json.loads(block)
        except ValueError:
            continue
        for item in _items(data):
            kinds = item.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(kind in _ARTICLE_TYPES for kind in kinds):
                return item
    return {}


def _items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        graph = data.get("@graph")
        return _items(graph) if isinstance(graph, list) else [data]
    return []


def _image(meta: dict[str, str], article: dict[str, Any], base: str, title: str) -> Image | None:
    found = meta.get("og:image") or meta.get("og:image:url") or meta.get("twitter:image")
    if not found:
        image = article.get("image")
        image = image[0] if isinstance(image, list) and image else image
        found = image.get("url", "") if isinstance(image, dict) else str(image or "")
    src = urljoin(base, found.strip()) if found else ""
    if not is_safe_url(src) or src.startswith("mailto:"):
        return None  # a picture keeps its exact address: a CDN may sign its query
    width, height = meta.get("og:image:width", ""), meta.get("og:image:height", "")
    return Image(src=src, alt=meta.get("og:image:alt") or title,
                 width=int(width) if width.isdigit() else None,
                 height=int(height) if height.isdigit() else None)


def _authors(article: dict[str, Any]) -> tuple[str, ...]:
    author = article.get("author")
    people = author if isinstance(author, list) else [author]
    names = [p.get("name") if isinstance(p, dict) else p for p in people]
    return tuple(str(n) for n in names if isinstance(n, str) and n)


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _one_line(text: str) -> str:
    return " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
