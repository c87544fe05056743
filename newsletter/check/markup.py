"""Checks of the email's HTML as clients will read it: the language, layout
tables screen readers should skip, link text that says where it goes, and
text colours set without a background (dark mode can turn them unreadable)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from ..model import SourceLocation
from . import Finding, Severity

__all__ = ["markup_findings"]

_VAGUE_LINKS = {"click here", "here", "read more", "more", "link", "this link", "click",
                "learn more", "this", "more here"}
# Outlook-only blocks; `<!--[if !mso]><!-->` is for everyone else and stays
_MSO = re.compile(r"<!--\[if (?!!)[^\]]*mso[^\]]*\]>.*?<!\[endif\]-->",
                  re.IGNORECASE | re.DOTALL)
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


def markup_findings(email_html: str,
                    where: Callable[[str], SourceLocation | None] | None = None
                    ) -> list[Finding]:
    """The email's markup problems; `where` locates a link in the issue file (the
    item whose link it is), for the findings about one link."""
    reader = _Reader()
    try:
        reader.feed(_MSO.sub("", email_html))  # Outlook-only markup is MJML's own, and hidden
        reader.close()
    except AssertionError:
        pass  # Python's parser gives up on some junk (`<![>`); judge what it read
    found = []
    if not reader.lang:
        found.append(Finding(severity=Severity.ERROR, code="lang-missing", message=(
            "the email's <html> has no lang: screen readers guess the language"),
            hint="set lang: in the issue (or language: in newsletter.yaml)"))
    if reader.layout_tables:
        found.append(Finding(severity=Severity.WARNING, code="table-role", message=(
            f"{reader.layout_tables} layout table(s) lack role=\"presentation\": screen "
            "readers announce rows and columns"),
            hint='add role="presentation" to tables used for layout in the templates'))
    for text, href in reader.vague_links:
        found.append(Finding(severity=Severity.WARNING, code="link-text", message=(
            f'a link says only "{text}"'), hint="make the link text say where it goes, e.g. "
            "the story's headline", subject=href, location=where(href) if where else None))
    for colour in sorted(reader.bare_colours):
        found.append(Finding(severity=Severity.WARNING, code="dark-mode-color", message=(
            f"text coloured {colour} has no background colour behind it: a dark-mode client "
            "may put it on a dark background"),
            hint="give the block a background-color (or bgcolor) wherever text has a colour",
            subject=colour))
    return found


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.layout_tables = 0
        self.vague_links: list[tuple[str, str]] = []
        self.bare_colours: set[str] = set()
        self._backgrounds: list[bool] = []  # per open element: it, or one above, has one
        self._tags: list[str] = []
        self._link: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        style = values.get("style", "").lower().replace(" ", "")
        if tag == "html":
            self.lang = values.get("lang", "")
        if tag == "table" and values.get("role") != "presentation":
            self.layout_tables += 1
        behind = bool(self._backgrounds and self._backgrounds[-1])
        has_background = behind or "background" in style or "bgcolor" in values
        colour = re.search(r"(?:^|;)color:([^;!]+)", style)
        if colour and not has_background:
            self.bare_colours.add(colour.group(1))
        if tag == "a":
            self._link = (values.get("href", ""), [])
        if tag not in _VOID:
            self._tags.append(tag)
            self._backgrounds.append(has_background)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            href, parts = self._link
            text = " ".join("".join(parts).split()).lower().strip(".:!\u00bb\u203a\u2192\u2026 ")
            if text in _VAGUE_LINKS:
                self.vague_links.append((text, href))
            self._link = None
        if tag in self._tags:
            while self._tags:  # close what the HTML left open inside it
                self._backgrounds.pop()
                if self._tags.pop() == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link[1].append(data)
