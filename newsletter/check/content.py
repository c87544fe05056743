"""Checks of what the editor wrote and picked: size, subject, preheader,
pictures, placeholders left in, links that already ran, stale stories,
blurbs cut from a feed's summary.

A finding about a picked item is located at the item (`Item.location`, which
the issue reader takes from the YAML it read), never by searching the file's
text: a draft lists its candidates' ids in comments above the picks.
`Locator` maps a link found in the rendered HTML back to its item.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..model import (
    GMAIL_CLIP_BYTES,
    Asset,
    CatchUpItem,
    DeepDive,
    Image,
    Issue,
    Item,
    SourceLocation,
    Sponsor,
)
from ..sanitize import is_remote
from . import Finding, Severity

__all__ = ["CLIP_BYTES", "SUBJECT_MAX", "WARN_BYTES", "Locator", "content_findings",
           "urls_in", "yaml_urls"]

CLIP_BYTES = GMAIL_CLIP_BYTES
WARN_BYTES = 90 * 1024
SUBJECT_MAX = 60  # inboxes on phones cut the subject around here
WIDE_PICTURE = 1200
#: Device pixels per CSS pixel that a picture needs to look sharp on a phone.
RETINA = 2
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"\b(src|width)\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
# A copy the build made of a picture: its retina copy (`-1104w.jpg`) or a video
# thumbnail with the play badge drawn in (`-play-<digest>.jpg`), and the content
# digest that ends each name of ours.
_RETINA_COPY = re.compile(r"-\d+w(?=\.\w+$)")
_BADGED_COPY = re.compile(r"-play-[0-9a-f]{10}(?=\.\w+$)")
_DIGEST = re.compile(r"-[0-9a-f]{10}(?=\.\w+$)")
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
    where = Locator(issue, source_text)
    found = [*_size(len(email_html.encode())), *_subject(issue, where)]
    found += _pictures(issue, pictures, where)
    found += _soft_pictures(issue, pictures, email_html, where)
    found += _placeholders(source_text, issue.source)
    found += _reused(issue, earlier)
    found += _stale(issue, window_days)
    found += _trimmed(issue)
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


def _subject(issue: Issue, where: Locator) -> list[Finding]:
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


def _pictures(issue: Issue, pictures: Mapping[str, Asset], where: Locator) -> list[Finding]:
    found = []
    for image in issue.images():
        at = image.location or where.text(image.src)  # a picture the issue reader did not name
        name = image.alt.strip()
        if not name:
            found.append(Finding(severity=Severity.ERROR, code="image-alt", message=(
                f"{image.src} has no alt text: readers with images off or screen readers "
                "get nothing"), hint="add alt: describing the picture", location=at,
                subject=image.src))
        elif _FILE_NAME.match(name):
            found.append(Finding(severity=Severity.WARNING, code="image-alt-filename", message=(
                f'the alt text of {image.src} is a file name ("{name}")'),
                hint="describe what the picture shows", location=at, subject=image.src))
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


def _soft_pictures(issue: Issue, pictures: Mapping[str, Asset], email_html: str,
                   where: Locator) -> list[Finding]:
    """Pictures narrower than twice the width the email shows them at: soft on a
    phone or a laptop that draws two pixels for each of the email's. A warning for
    the desk's own files (the editor can export a bigger one); a note for a picture
    on the web, a feed's most often, which the editor can only take or leave."""
    shown = _shown_widths(pictures, email_html)
    found = []
    for image in {image.src: image for image in issue.images()}.values():
        asset, width = pictures.get(image.src), shown.get(image.src, 0)
        if asset is None or asset.width >= RETINA * width:
            continue
        remote = is_remote(image.src)
        found.append(Finding(
            severity=Severity.NOTE if remote else Severity.WARNING, code="image-soft",
            message=(f"{image.src} is {asset.width} px wide and shown {width} px wide: it "
                     f"looks soft on phones and retina screens, which need "
                     f"{RETINA * width} px"),
            hint=(f"a picture of at least {RETINA * width} px would be sharper: the "
                  "story's page may have one" if remote else
                  f"use a source at least {RETINA * width} px wide (it is resized for the "
                  "site, and readers get no more than they need)"),
            location=image.location or where.text(image.src), subject=image.src))
    return found


def _shown_widths(pictures: Mapping[str, Asset], email_html: str) -> dict[str, int]:
    """The widest each picture (by src) is shown in the email, from its `<img>` tags'
    width attributes; its copies (retina, play badge) count as the picture."""
    by_url = {asset.url: src for src, asset in pictures.items()}
    by_stem = {_DIGEST.sub("", asset.url): src for src, asset in pictures.items()}
    widest: dict[str, int] = {}
    for tag in _IMG.finditer(email_html):
        attrs = {k.lower(): v for k, v in _ATTR.findall(tag.group())}
        url = _RETINA_COPY.sub("", attrs.get("src", ""))
        src = by_url.get(url)
        if src is None and _BADGED_COPY.search(url):
            src = by_stem.get(_BADGED_COPY.sub("", url))
        width = attrs.get("width", "")
        if src is not None and width.isdigit():
            widest[src] = max(widest.get(src, 0), int(width))
    return widest


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


def _reused(issue: Issue, earlier: Sequence[tuple[Issue | str, set[str]]]) -> list[Finding]:
    found = []
    for item in _stories(issue):
        ran = next((before for before, urls in earlier if item.url in urls), None)
        if ran is None:
            continue
        name = f"issue {ran.number} ({ran.date})" if isinstance(ran, Issue) else ran
        found.append(Finding(severity=Severity.WARNING, code="link-reused", message=(
            f"{item.url} already ran in {name}"),
            hint="pick another story, or say why it is back (accept: [link-reused] on the "
                 "item)", location=item.location, subject=item.url))
    return found


def _stale(issue: Issue, window_days: int) -> list[Finding]:
    found = []
    oldest = dt.datetime.combine(issue.date, dt.time(), dt.UTC) - dt.timedelta(days=window_days)
    picked_by: dict[str, SourceLocation | None] = {}
    for item in reversed(issue.items()):  # the first item to pick a story names it
        if story_id := getattr(item, "story", ""):
            picked_by[story_id] = item.location
    for story in issue.stories:
        if story.published and story.published < oldest:
            age = (issue.date - story.published.date()).days
            found.append(Finding(severity=Severity.WARNING, code="story-old", message=(
                f'"{story.title}" was published {age} days before the issue'),
                hint=f"this desk's window is {window_days} days (check.window_days); to run "
                     "it anyway, write accept: {story-old: \"why\"} on the item",
                location=picked_by.get(story.id), subject=story.url))
    return found


def _trimmed(issue: Issue) -> list[Finding]:
    """Blurbs cut from a feed's summary: readable, but not what an editor would write."""
    return [Finding(severity=Severity.NOTE, code="blurb-trimmed", message=(
        f'the blurb of "{item.headline}" is its feed\'s summary, cut to fit'),
        hint="write the item's own blurb: under its story: line", location=item.location,
        subject=item.url)
        for item in issue.items() if isinstance(item, CatchUpItem | DeepDive)
        and item.blurb_trimmed]


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


def _stories(issue: Issue) -> list[Item]:
    """Every story the issue points readers to, once per link (not sponsors: a
    booking may run several weeks)."""
    seen: dict[str, Item] = {}
    for item in issue.items():
        if item.url and not isinstance(item, Sponsor):
            seen.setdefault(item.url, item)
    return sorted(seen.values(), key=lambda item: item.url)


def urls_in(text: str) -> set[str]:
    """Links written anywhere in a text (an earlier issue's lock file)."""
    return {m.group(0).rstrip(".,;") for m in _URL.finditer(text)}


def yaml_urls(text: str) -> set[str]:
    """Links an issue file carries, leaving out its comments (a draft's notes and
    offered candidates did not run)."""
    return urls_in("\n".join(_without_comment(line) for line in text.splitlines()))


class Locator:
    """Where what a finding is about is written in the issue file."""

    def __init__(self, issue: Issue, text: str) -> None:
        self.source = issue.source
        self.lines = text.splitlines()
        self.items = _item_links(issue)

    def link(self, url: str) -> SourceLocation | None:
        """The item whose link or picture `url` is (campaign tags aside), else
        where the URL is first written outside a comment (a link in markdown)."""
        return self.items.get(_untagged(url)) or self.text(url)

    def text(self, needle: str) -> SourceLocation | None:
        """Where `needle` is first written outside a comment, if it is."""
        for number, line in enumerate(self.lines, start=1):
            index = _without_comment(line).find(needle) if needle else -1
            if index >= 0:
                return SourceLocation(path=self.source, line=number, column=index + 1)
        return None

    def key(self, name: str) -> SourceLocation | None:
        """A top-level key's line."""
        return next((SourceLocation(path=self.source, line=number, column=1)
                     for number, line in enumerate(self.lines, start=1)
                     if line.startswith(f"{name}:")), None)


def _item_links(issue: Issue) -> dict[str, SourceLocation]:
    """Every item's link and pictures (untagged) -> where the item is written."""
    found: dict[str, SourceLocation] = {}
    for item in issue.items():
        if item.location is None:
            continue
        for image in _pictures_of(item):
            found.setdefault(_untagged(image.src), image.location or item.location)
        if item.url:
            found.setdefault(_untagged(item.url), item.location)
    return found


def _pictures_of(item: Item) -> list[Image]:
    picture = getattr(item, "image", None) or getattr(item, "thumbnail", None)
    return [picture] if picture is not None else []


def _untagged(url: str) -> str:
    """`url` without campaign (utm_*) parameters: the email's links carry them."""
    parts = urlsplit(url)  # both sides of a comparison are spelt anew alike
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.startswith("utm_")]
    return urlunsplit(parts._replace(query=urlencode(query)))
