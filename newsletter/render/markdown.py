"""Editor markdown -> sanitized HTML (raw HTML in the source stays text).

Typography follows the text's own language: quotation marks by CLDR (“ ” in
English, „ “ in German, 「 」 in Japanese), set by the same `locale.Quoter`
as plain text is, on the text between tags only (never code, URLs,
attributes or an escaped quote), and emphasis in Chinese and Japanese as
upright bold, since those scripts have no italics and a client's synthetic
slant smears the characters.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from ..sanitize import clean_html
from .links import LinkPolicy
from .locale import Quoter, is_cjk, quote_marks

if TYPE_CHECKING:  # markdown-it is imported by the first md(): a one-issue build starts sooner
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore

__all__ = ["CJK_EMPHASIS", "markdown_to_html"]

#: What `<em>` becomes in Chinese and Japanese text: a fixed attribute on a tag the
#: sanitizer wrote (nh3 drops `style` from the editor's markup, so it is added after).
CJK_EMPHASIS = '<em style="font-style:normal;font-weight:700;">'


@lru_cache(maxsize=32)
def _parser(marks: tuple[str, str, str, str]) -> MarkdownIt:
    from markdown_it import MarkdownIt

    # commonmark with html off: `<b>` typed by an editor shows as text, never as markup
    parser = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["strikethrough", "table", "replacements"]
    )
    # markdown-it's smartquotes leave quotes between two CJK characters straight
    # ("他说"你好""), so quotes are ours, the same as the plain-text filter's
    parser.core.ruler.after("replacements", "quotes", lambda state: _curl(state, marks))
    return parser


def _curl(state: StateCore, marks: tuple[str, str, str, str]) -> None:
    """Curl the quotes of each paragraph's text runs; code spans and escaped
    characters (`\\"`) are context only."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        quoter = Quoter(marks)
        for token in block.children:
            if token.type == "text":
                token.content = quoter.curl(token.content)
            elif token.type in ("code_inline", "text_special"):
                quoter.verbatim(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                quoter.verbatim(" ")


@lru_cache(maxsize=4096)
def _render(source: str, marks: tuple[str, str, str, str]) -> str:
    # each piece of prose appears in the email, the text part and the web page
    html: str = _parser(marks).render(source)
    return html


def markdown_to_html(source: str, links: LinkPolicy | None = None, lang: str = "en") -> Markup:
    """Render editor markdown in `lang`, then sanitize it; links follow `links`.

    `![alt](url)` pictures are dropped: in an email a picture needs a size,
    alt text and a credit, which the issue's image fields give.
    """
    if not source.strip():
        return Markup("")
    if links is None:
        html = clean_html(_render(source, quote_marks(lang)), None, pictures=False)
        return _upright(html) if is_cjk(lang) else html
    return _cleaned(source, links.base, tuple(links.utm.items()) if links.utm else None,
                    quote_marks(lang), is_cjk(lang))


@lru_cache(maxsize=4096)
def _cleaned(source: str, base: str, utm: tuple[tuple[str, str], ...] | None,
             marks: tuple[str, str, str, str], cjk: bool) -> Markup:
    # the email and the text part share a link policy, and so do the web page and
    # the feed: each piece of prose is sanitized once per policy, not per output
    html = clean_html(_render(source, marks), LinkPolicy(base, dict(utm) if utm else None),
                      pictures=False)
    return _upright(html) if cjk else html


def _upright(html: Markup) -> Markup:
    """Emphasis without a synthetic slant. The sanitizer writes `<em>` bare (it
    allows only lang, dir and title on it), so the literal is every opening tag."""
    return html.replace(Markup("<em>"), Markup(CJK_EMPHASIS))
