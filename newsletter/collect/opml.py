"""OPML, the file feed readers use to move subscription lists around.

Reading is listparser's: it reads OPML as feed readers write it, not as the
spec says it should be: `xmlurl` in any case, the `<opml>` element in a
namespace, a bare `&` in a title or address, and folders. Ours (strict XML
through ElementTree) found no feed in the first three and dropped folders. A
feed's folder becomes its `section`; folders inside folders are joined with
" / " ("Science / Oceans"), and `feeds_to_opml` writes them nested again, so
a section survives an export and an import.

Two things stay ours. The guard: a file that declares a DOCTYPE or entities
is refused before any parser sees it (entities could expand without bound
or reach for files). And the text: listparser decodes bytes as UTF-8 only,
so the file is first decoded by its byte order mark or XML declaration
(w3lib), then handed over as UTF-8 with a BOM, which also fixes the encoding
for listparser's other parser (lxml's, when installed).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from xml.sax.saxutils import quoteattr

import listparser
from w3lib.encoding import html_to_unicode

from ..errors import NewsletterError
from ..model import FeedSpec
from ..sanitize import is_safe_url

__all__ = ["FOLDER_SEPARATOR", "feeds_from_opml", "feeds_to_opml"]

#: Joins a feed's nested folders into its section: "Science / Oceans".
FOLDER_SEPARATOR = " / "
_DECLARATIONS = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_NAME_LENGTH = 100
_SECTION_LENGTH = 300  # what the settings reader takes for a feed's section (SHORT)


def feeds_from_opml(data: bytes) -> list[FeedSpec]:
    """Every outline with an http(s) feed address, in file order, named by its text
    (else title, else address), its folders as its section.

    A feed listed twice (in two folders, say) comes once, in its first folder.
    """
    if _DECLARATIONS.search(data):
        # entities could expand without bound or reach for files: never parse them
        raise NewsletterError("the OPML file declares a DOCTYPE or entities",
                              hint="export the list again from your feed reader")
    text = html_to_unicode(None, data)[1]  # a BOM, or the XML declaration; else UTF-8
    # bytes, never str: listparser fetches a str that starts with http:// over the network
    found = listparser.parse(codecs.BOM_UTF8 + text.encode("utf-8"))
    if not found["version"]:
        raise NewsletterError("not an OPML file: it has no <opml> element",
                              hint="export the list from your feed reader as OPML")
    languages = _languages(text)
    feeds: list[FeedSpec] = []
    for feed in found["feeds"]:
        url: str = feed["url"]
        if is_safe_url(url) and not url.lower().startswith("mailto:"):
            feeds.append(FeedSpec(name=_one_line(feed["title"], _NAME_LENGTH) or url, url=url,
                                  section=_section(feed["categories"]),
                                  language=languages.get(url)))
    return feeds


def _section(categories: list[list[str]]) -> str | None:
    """The first folder path listparser saw for a feed, joined on one line."""
    folders = [_one_line(name, _NAME_LENGTH) for name in (categories or [[]])[0]]
    section = FOLDER_SEPARATOR.join(name for name in folders if name)
    return section[:_SECTION_LENGTH].rstrip() or None


def _one_line(label: str, length: int) -> str:
    return " ".join(label.split())[:length].rstrip()


class _Languages(HTMLParser):
    """Each feed outline's `language` attribute, which listparser does not keep.

    The same tokenizer listparser uses, so both read the same outlines.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.rpartition(":")[2] == "outline":
            values = dict(attrs)
            url, language = (values.get("xmlurl") or "").strip(), values.get("language")
            if url and language and language.strip():
                self.found.setdefault(url, language.strip())


def _languages(text: str) -> dict[str, str]:
    reader = _Languages()
    reader.feed(text)
    reader.close()
    return reader.found


# --- writing -----------------------------------------------------------------------


@dataclass(slots=True)
class _Folder:
    """Feeds and folders in the order they first appear; built only to write them."""

    name: str
    items: list[FeedSpec | _Folder] = field(default_factory=list)
    folders: dict[str, _Folder] = field(default_factory=dict)

    def folder(self, path: Iterable[str]) -> _Folder:
        here = self
        for name in path:
            if name not in here.folders:
                here.folders[name] = _Folder(name=name)
                here.items.append(here.folders[name])
            here = here.folders[name]
        return here


def feeds_to_opml(feeds: Iterable[FeedSpec], *, title: str) -> str:
    """OPML 2.0 of the feeds that have an address, each in the folders its section names."""
    root = _Folder(name="")
    for feed in feeds:
        if feed.url:
            path = (feed.section or "").split(FOLDER_SEPARATOR)
            root.folder(name.strip() for name in path if name.strip()).items.append(feed)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_text(title)}</title></head>", "  <body>",
             *_outlines(root, depth=2), "  </body>", "</opml>"]
    return "\n".join(lines) + "\n"


def _outlines(folder: _Folder, *, depth: int) -> Iterator[str]:
    pad = "  " * depth
    for item in folder.items:
        if isinstance(item, _Folder):
            yield f"{pad}<outline text={quoteattr(item.name)}>"
            yield from _outlines(item, depth=depth + 1)
            yield f"{pad}</outline>"
        else:
            yield f"{pad}<outline {_attributes(item)}/>"


def _attributes(feed: FeedSpec) -> str:
    attributes: dict[str, Any] = {"type": "rss", "text": feed.name, "title": feed.name,
                                  "xmlUrl": feed.url, "language": feed.language}
    return " ".join(f"{key}={quoteattr(value)}" for key, value in attributes.items() if value)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
