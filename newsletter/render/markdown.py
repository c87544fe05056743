"""Editor markdown -> sanitized HTML (raw HTML in the source stays text)."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup

from ..sanitize import clean_html
from .links import LinkPolicy

__all__ = ["markdown_to_html"]


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # commonmark with html off: `<b>` typed by an editor shows as text, never as markup
    return MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["strikethrough", "table", "replacements", "smartquotes"]
    )


@lru_cache(maxsize=4096)
def _render(source: str) -> str:
    # each piece of prose appears in the email, the text part and the web page
    html: str = _parser().render(source)
    return html


def markdown_to_html(source: str, links: LinkPolicy | None = None) -> Markup:
    """Render editor markdown, then sanitize it; links follow `links`.

    `![alt](url)` pictures are dropped: in an email a picture needs a size,
    alt text and a credit, which the issue's image fields give.
    """
    if not source.strip():
        return Markup("")
    if links is None:
        return clean_html(_render(source), None, pictures=False)
    return _cleaned(source, links.base, tuple(links.utm.items()) if links.utm else None)


@lru_cache(maxsize=4096)
def _cleaned(source: str, base: str, utm: tuple[tuple[str, str], ...] | None) -> Markup:
    # the email and the text part share a link policy, and so do the web page and
    # the feed: each piece of prose is sanitized once per policy, not per output
    return clean_html(_render(source), LinkPolicy(base, dict(utm) if utm else None),
                      pictures=False)
