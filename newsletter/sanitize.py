"""The one maker of trusted HTML.

Everything that did not come out of our own templates (feed summaries,
rendered editor markdown) passes `clean_html` before it reaches a page or an
email: an nh3 (ammonia) allowlist, links limited to http(s) and mailto, and a
caller-supplied rewrite that makes URLs absolute or tags them. The result is
a `markupsafe.Markup`, the only kind of string the templates print unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3
from markupsafe import Markup

__all__ = ["SAFE_SCHEMES", "UrlRewrite", "clean_html", "html_to_plain", "is_safe_url"]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

#: Called for each href/src; returns the URL to write, or None to drop it.
UrlRewrite = Callable[[str], str | None]

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt", "em",
    "figcaption", "figure", "h2", "h3", "h4", "hr", "i", "img", "ins", "li", "mark", "ol",
    "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "time", "tr", "u", "ul",
}
_ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start"},
}
_URL_ATTRIBUTES = {"href", "src"}
_SPACE = re.compile(r"\s+")


def is_safe_url(url: str) -> bool:
    """True for absolute http(s) URLs with a host, and for mailto: links."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if parts.scheme == "mailto":
        return bool(parts.path)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def clean_html(html: str, rewrite: UrlRewrite | None = None,
               rewrite_src: UrlRewrite | None = None, *, pictures: bool = True) -> Markup:
    """Sanitize an HTML fragment into well-formed, script-free Markup.

    `rewrite` is applied to link targets, `rewrite_src` to picture sources (a
    picture's URL must not get a link's campaign tags). URLs that are not safe
    afterwards are dropped with their attribute: a link without an href still
    shows its text. With `pictures` off, <img> is removed: a picture in an
    email needs the size and credit that only the issue's image fields carry.
    """

    def filter_attribute(tag: str, name: str, value: str) -> str | None:
        if name not in _URL_ATTRIBUTES:
            return value
        change = rewrite_src if name == "src" else rewrite
        url = change(value) if change else value
        return url if url is not None and is_safe_url(url) else None

    cleaned = nh3.clean(
        html,
        tags=_TAGS if pictures else _TAGS - {"img"},
        attributes=_ATTRIBUTES,
        attribute_filter=filter_attribute,
        url_schemes=set(SAFE_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return Markup(cleaned)  # nh3 output is what "safe" means here


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        elif tag in ("br", "p", "li", "div", "h2", "h3", "tr"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_plain(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return _SPACE.sub(" ", "".join(collector.parts)).strip()
