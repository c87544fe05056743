"""One issue and its parts, what rendering makes of it, and check findings.

Loaded on the first use of one of its names through `newsletter.model` (see
there); import the names from there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Literal

from .common import Asset, Image, SourceLocation, Status, Story

__all__ = [
    "Acceptance",
    "CallToAction",
    "CatchUp",
    "CatchUpItem",
    "Correction",
    "DeepDive",
    "DeepDives",
    "Finding",
    "Issue",
    "IssueAssets",
    "IssuePanel",
    "Item",
    "Lead",
    "LeadBlock",
    "PanelItem",
    "Paragraphs",
    "Related",
    "RenderedIssue",
    "Severity",
    "Sponsor",
    "SponsorSlot",
    "TextBlock",
    "Video",
]


# --- the browser desk's panel ------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelItem:
    """One item of an issue in the browser desk's panel, in its slot's order.

    `headline` and `blurb` are as readers see them (the editor's override, else
    the candidate's); `*_written` say whether the YAML holds an override.
    """

    slot: str  # "lead", "lead.body", "catch_up", "deep_dives", "sponsors"
    position: int  # from 1 within its slot (free paragraphs and blocks counted)
    line: int  # where the item starts in the issue file (as check findings give it)
    story: str | None  # the candidate id its story: resolved to, else None
    url: str
    headline: str
    blurb: str  # "" where the slot has none
    headline_written: bool
    blurb_written: bool
    kind: str  # "story", "inline", "placeholder", "text", "video", "related", "sponsor"


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuePanel:
    """An issue file as the browser desk's panel shows it; `digest` (sha256 of the
    bytes read) goes with every write, which is refused if the file changed."""

    path: Path
    digest: str
    items: tuple[PanelItem, ...]
    # why the issue cannot be read or resolved ("" when it can); the items are those that
    # could be placed. Edits are refused only when the YAML itself cannot be read.
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Acceptance:
    """A check finding the editor accepts, for one item or the whole issue, and why.

    `location` is where the acceptance is written (its code), so an unknown
    code can be reported there.
    """

    code: str
    reason: str = ""
    location: SourceLocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TextBlock:
    """Editor markdown, rendered with raw HTML off."""

    markdown: str
    location: SourceLocation | None = None  # where the block is written
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class Related:
    """A related story placed in the lead's body: a linked headline."""

    url: str
    headline: str
    lang: str | None = None
    location: SourceLocation | None = None  # where the item is written in the issue file
    story: str = ""  # the id of the candidate its story: reference resolved to
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for this item
    kind: Literal["related"] = "related"


@dataclass(frozen=True, slots=True, kw_only=True)
class Video:
    """A video in the lead's body: a badged thumbnail in the email, a player on the web."""

    url: str
    title: str
    duration: str = ""
    thumbnail: Image | None = None
    location: SourceLocation | None = None  # where the block is written
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for this video
    kind: Literal["video"] = "video"


LeadBlock = TextBlock | Related | Video


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead:
    """The lead story: headline, standfirst bullets, picture and body blocks."""

    url: str
    headline: str
    bullets: tuple[str, ...] = ()
    image: Image | None = None
    body: tuple[LeadBlock, ...] = ()
    lang: str | None = None
    location: SourceLocation | None = None  # where the item is written in the issue file
    story: str = ""  # the id of the candidate its story: reference resolved to
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for this item


@dataclass(frozen=True, slots=True, kw_only=True)
class CatchUpItem:
    """A catch-up entry: a linked headline with a blurb."""

    url: str
    headline: str
    blurb: str = ""
    lang: str | None = None
    location: SourceLocation | None = None  # where the item is written in the issue file
    story: str = ""  # the id of the candidate its story: reference resolved to
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for this item
    blurb_trimmed: bool = False  # the blurb is a feed's summary, cut to the desk's length
    kind: Literal["item"] = "item"


@dataclass(frozen=True, slots=True, kw_only=True)
class Paragraphs:
    """A free catch-up paragraph (markdown)."""

    markdown: str
    location: SourceLocation | None = None  # where the paragraph is written
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class CatchUp:
    """The "60-Second Catch-up": short items and free paragraphs."""

    heading: str
    items: tuple[CatchUpItem | Paragraphs, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeepDive:
    """One deep-dive card: linked headline, picture and blurb."""

    url: str
    headline: str
    blurb: str = ""
    image: Image | None = None
    lang: str | None = None
    location: SourceLocation | None = None  # where the item is written in the issue file
    story: str = ""  # the id of the candidate its story: reference resolved to
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for this item
    blurb_trimmed: bool = False  # the blurb is a feed's summary, cut to the desk's length


@dataclass(frozen=True, slots=True, kw_only=True)
class DeepDives:
    """The row of deep-dive cards."""

    heading: str
    items: tuple[DeepDive, ...]


class SponsorSlot(StrEnum):
    AFTER_LEAD = "after_lead"
    AFTER_CATCH_UP = "after_catch_up"
    AFTER_DEEP_DIVES = "after_deep_dives"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sponsor:
    """A paid slot, always labelled as such."""

    slot: SponsorSlot
    advertiser: str
    headline: str
    url: str
    text: str = ""
    label: str = ""  # empty: the theme's word for "Sponsored" in the issue's language
    image: Image | None = None
    location: SourceLocation | None = None  # where the box is written
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for this box


#: An item of an issue that links somewhere: what a check finding can be about.
Item = Lead | Related | Video | CatchUpItem | DeepDive | Sponsor


@dataclass(frozen=True, slots=True, kw_only=True)
class CallToAction:
    """The sign-up box; an empty heading or button is worded by the theme."""

    heading: str
    text: str
    button: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Correction:
    """A correction published after the issue went out: shown on the web page
    and in the feed, never in the email as sent."""

    date: dt.date
    text: str  # markdown


@dataclass(frozen=True, slots=True, kw_only=True)
class Issue:
    """One issue, resolved and valid: what the renderer receives."""

    source: Path
    number: int
    date: dt.date
    slug: str
    status: Status
    subject: str
    lang: str
    lead: Lead
    preheader: str = ""
    topic: str = ""
    intro: str = ""
    catch_up: CatchUp | None = None
    deep_dives: DeepDives | None = None
    sponsors: tuple[Sponsor, ...] = ()
    cta: CallToAction | None = None
    corrections: tuple[Correction, ...] = ()
    stories: tuple[Story, ...] = ()  # the candidates its story: references resolved to
    # the moment the issue goes live on the site, if not at the start of its date (UTC)
    publish_at: dt.datetime | None = None
    accept: tuple[Acceptance, ...] = ()  # findings the editor accepts for the whole issue

    @property
    def goes_live(self) -> dt.datetime:
        """When the site may show the issue: `publish_at`, else 00:00 UTC on its date."""
        return self.publish_at or dt.datetime.combine(self.date, dt.time(), dt.UTC)

    @property
    def updated(self) -> dt.date:
        """The day the issue last changed: its date, or its latest correction."""
        return max((self.date, *(c.date for c in self.corrections)))

    def sponsors_in(self, slot: str) -> tuple[Sponsor, ...]:
        return tuple(s for s in self.sponsors if s.slot.value == slot)

    def items(self) -> tuple[Item, ...]:
        """Every item that links somewhere, in reading order (sponsors last)."""
        found: list[Item] = [self.lead]
        found += [b for b in self.lead.body if isinstance(b, Related | Video)]
        if self.catch_up:
            found += [i for i in self.catch_up.items if isinstance(i, CatchUpItem)]
        if self.deep_dives:
            found += self.deep_dives.items
        return (*found, *self.sponsors)

    def images(self) -> tuple[Image, ...]:
        """Every picture the issue shows, in reading order."""
        found: list[Image | None] = [self.lead.image]
        found += [b.thumbnail for b in self.lead.body if isinstance(b, Video)]
        found += [s.image for s in self.sponsors]
        if self.deep_dives:
            found += [d.image for d in self.deep_dives.items]
        return tuple(i for i in found if i is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueAssets:
    """Every picture of one issue, by the `src` the editor wrote.

    `video_thumbnails` are the email's versions of video thumbnails, with a
    play badge drawn in (no email client can overlay one reliably).
    `files` are written beside the issue's pages: (relative name, bytes, or
    the desk file to copy as it is).
    """

    images: Mapping[str, Asset]
    video_thumbnails: Mapping[str, Asset]
    files: tuple[tuple[str, bytes | Path], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedIssue:
    """The three outputs of one issue, plus the files they refer to."""

    email_html: str
    text: str
    web_html: str
    assets: tuple[tuple[str, bytes | Path], ...] = ()

    @property
    def email_bytes(self) -> int:
        """The email's size as sent (what Gmail's clipping limit counts)."""
        return len(self.email_html.encode("utf-8"))


# --- checking ----------------------------------------------------------------


class Severity(IntEnum):
    NOTE = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing to look at: what, where (the YAML line it comes from, when
    there is one) and what to do about it."""

    severity: Severity
    code: str  # stable and short, e.g. "link-dead", "email-size"
    message: str
    hint: str = ""
    location: SourceLocation | None = None
    subject: str = ""  # the URL, picture or CSS property it is about

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        head = f"{where}{self.severity}: {self.message} [{self.code}]"
        return f"{head}\n  hint: {self.hint}" if self.hint else head
