"""OPML, the file feed readers use to move subscription lists around."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

from ..errors import NewsletterError
from ..model import FeedSpec
from ..sanitize import is_safe_url

__all__ = ["feeds_from_opml", "feeds_to_opml"]

_DECLARATIONS = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def feeds_from_opml(data: bytes) -> list[FeedSpec]:
    """Every outline with an http(s) xmlUrl, in file order, named by its title."""
    if _DECLARATIONS.search(data):
        # entities could expand without bound or reach for files: never parse them
        raise NewsletterError("the OPML file declares a DOCTYPE or entities",
                              hint="export the list again from your feed reader")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise NewsletterError(f"not an OPML file: {exc}",
                              hint="export the list from your feed reader as OPML") from exc
    feeds: list[FeedSpec] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if is_safe_url(url) and not url.lower().startswith("mailto:"):
            feeds.append(FeedSpec(name=_name(outline, url), url=url,
                                  language=(outline.get("language") or "").strip() or None))
    return feeds


def _name(outline: ET.Element, url: str) -> str:
    """The first of title, text and address that is not blank, on one line."""
    for label in (outline.get("title"), outline.get("text"), url):
        name = " ".join((label or "").split())
        if name:
            return name[:100].rstrip()
    return url


def feeds_to_opml(feeds: Iterable[FeedSpec], *, title: str) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_text(title)}</title></head>", "  <body>"]
    for feed in feeds:
        if feed.url:
            lines.append(f'    <outline type="rss" text={quoteattr(feed.name)} '
                         f"title={quoteattr(feed.name)} xmlUrl={quoteattr(feed.url)}/>")
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
