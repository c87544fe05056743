"""Checks of what the editor wrote and picked: size, subject, preheader,
pictures, placeholders left in, links that already ran, stale stories."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..model import GMAIL_CLIP_BYTES, Asset, Issue, SourceLocation
from . import Finding, Severity

__all__ = ["CLIP_BYTES", "SUBJECT_MAX", "WARN_BYTES", "content_findings", "line_of",
           "urls_in"]

CLIP_BYTES = GMAIL_CLIP_BYTES
WARN_BYTES = 90 * 1024
SUBJECT_MAX = 60  # inboxes on phones cut the subject around here
WIDE_PICTURE = 1200
# editors write TK/TODO in capitals; "Todo el mundo" is Spanish, not a note to self
_PLACEHOLDER = re.compile(r"\bTK\b|\bTODO\b|\bFIXME\b|(?i:lorem ipsum)|\{\{")
_FILE_NAME = re.compile(r"^[\w.-]+\.(jpe?g|png|gif|webp|svg)$|^(img|image|dsc|photo)[_-]?\d+$",
                        re.IGNORECASE)
_URL = re.compile(r"https?://[^\s\"'<>)\]]+")


def content_findings(issue: Issue, *, source_text: str, email_html: str,
                     pictures: Mapping[str, Asset], earlier: Sequence[tuple[Issue | str, set[str]]],
                     window_days: int) -> list[Finding]:
    """Everything checkable without the network. `earlier` lists the issues
    before this one (newest first) with the links each carried."""
    where = _Locator(issue.source, source_text)
    found = [*_size(len(email_html.encode())), *_subject(issue, where)]
    found += _pictures(issue, pictures, where)
    found += _placeholders(source_text, issue.source)
    found += _reused(issue, where, earlier)
    found += _stale(issue, where, window_days)
    return found


def _size(size: int) -> list[Finding]:
    if size > CLIP_BYTES:
        return [Finding(severity=Severity.ERROR, code="email-clipped", message=(
            f"the email is {size / 1024:.0f} KB: Gmail clips it after 102 KB, hiding the end "
            "and the unsubscribe link"),
            hint="shorten the issue: fewer deep dives or shorter blurbs")]
    if size > WARN_BYTES:
        return [Finding(severity=Severity.WARNING, code="email-size", message=(
            f"the email is {size / 1024:.0f} KB, close to Gmail's 102 KB clipping limit"),
            hint="a little more text would clip it; trim where you can")]
    return []


def _subject(issue: Issue, where: _Locator) -> list[Finding]:
    found = []
    if len(issue.subject) > SUBJECT_MAX:
        found.append(Finding(severity=Severity.WARNING, code="subject-long", message=(
            f"the subject has {len(issue.subject)} characters; phones show about "
            f"{SUBJECT_MAX}"), hint="put the words that matter first, or shorten it",
            location=where.key("subject")))
    if not issue.preheader:
        found.append(Finding(severity=Severity.WARNING, code="preheader-missing", message=(
            "there is no preheader: inboxes will show the first words of the email instead"),
            hint="add preheader: with one line that makes people open it",
            location=where.key("subject")))
    return found


def _pictures(issue: Issue, pictures: Mapping[str, Asset], where: _Locator) -> list[Finding]:
    found = []
    for image in issue.images():
        at = image.location or where.text(image.src)
        name = image.alt.strip()
        if not name:
            found.append(Finding(severity=Severity.ERROR, code="image-alt", message=(
                f"{image.src} has no alt text: readers with images off or screen readers "
                "get nothing"), hint="add alt: describing the picture", location=at,
                subject=image.src))
        elif _FILE_NAME.match(name):
            found.append(Finding(severity=Severity.WARNING, code="image-alt-filename", message=(
                f'the alt text of {image.src} is a file name ("{name}")'),
                hint="describe what the picture shows", location=where.text(name) or at,
                subject=image.src))
        asset = pictures.get(image.src)
        width = image.width or (asset.width if asset else None)
        if width is None:
            found.append(Finding(severity=Severity.WARNING, code="image-width", message=(
                f"the width of {image.src} is not known"), hint="add width: and height:",
                location=at, subject=image.src))
        elif width > WIDE_PICTURE:
            found.append(Finding(severity=Severity.WARNING, code="image-wide", message=(
                f"{image.src} is {width} px wide; every reader downloads all of it"),
                hint=f"export it at most {WIDE_PICTURE} px wide", location=at,
                subject=image.src))
    return found


def _placeholders(source_text: str, source: Path) -> list[Finding]:
    found = []
    for number, line in enumerate(source_text.splitlines(), start=1):
        match = _PLACEHOLDER.search(_without_comment(line))  # a comment is the editor's note
        if match:
            found.append(Finding(severity=Severity.ERROR, code="placeholder", message=(
                f'"{match.group(0)}" is still in the text'),
                hint="write the real words before sending",
                location=SourceLocation(path=source, line=number, column=match.start() + 1)))
    return found


def _reused(issue: Issue, where: _Locator,
            earlier: Sequence[tuple[Issue | str, set[str]]]) -> list[Finding]:
    found = []
    mine = set(issue_urls(issue))
    for url in sorted(mine):
        for before, urls in earlier:
            if url in urls:
                name = (f"issue {before.number} ({before.date})" if isinstance(before, Issue)
                        else before)
                found.append(Finding(severity=Severity.WARNING, code="link-reused", message=(
                    f"{url} already ran in {name}"),
                    hint="pick another story, or say why it is back",
                    location=where.text(url), subject=url))
                break
    return found


def _stale(issue: Issue, where: _Locator, window_days: int) -> list[Finding]:
    found = []
    oldest = dt.datetime.combine(issue.date, dt.time(), dt.UTC) - dt.timedelta(days=window_days)
    for story in issue.stories:
        if story.published and story.published < oldest:
            age = (issue.date - story.published.date()).days
            found.append(Finding(severity=Severity.WARNING, code="story-old", message=(
                f'"{story.title}" was published {age} days before the issue'),
                hint=f"this desk's window is {window_days} days (check.window_days)",
                location=where.text(story.id) or where.text(story.url), subject=story.url))
    return found


def _without_comment(line: str) -> str:
    """The line up to a YAML comment: a `#` at the start or after a space, outside quotes."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def issue_urls(issue: Issue) -> list[str]:
    """Every story link the issue points readers to (not sponsors: a booking
    may run several weeks)."""
    lead = issue.lead
    urls = [lead.url, *(getattr(block, "url", "") for block in lead.body)]
    if issue.catch_up:
        urls += [getattr(item, "url", "") for item in issue.catch_up.items]
    if issue.deep_dives:
        urls += [card.url for card in issue.deep_dives.items]
    return [u for u in urls if u]


def urls_in(text: str) -> set[str]:
    """Links written anywhere in a text (an earlier issue's YAML or lock file)."""
    return {m.group(0).rstrip(".,;") for m in _URL.finditer(text)}


def line_of(source: Path, text: str, needle: str) -> SourceLocation | None:
    """Where `needle` is first written in the issue file, if it is."""
    index = text.find(needle) if needle else -1
    if index < 0:
        return None
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return SourceLocation(path=source, line=line, column=column)


class _Locator:
    def __init__(self, source: Path, text: str) -> None:
        self.source = source
        self.body = text

    def text(self, needle: str) -> SourceLocation | None:
        return line_of(self.source, self.body, needle)

    def key(self, name: str) -> SourceLocation | None:
        match = re.search(rf"(?m)^{re.escape(name)}:", self.body)
        return line_of(self.source, self.body, match.group(0)) if match else None


def earlier_links(paths: Iterable[tuple[str, str]]) -> list[tuple[str, set[str]]]:
    """(name, file text) of earlier issues -> the links each carried."""
    return [(name, urls_in(text)) for name, text in paths]
