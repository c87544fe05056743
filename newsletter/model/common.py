"""The values every command meets: the desk's settings, feeds and their fetches,
the store's stories and candidates, pictures, and the archive's entries.

Loaded with `newsletter.model`; import the names from there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

__all__ = [
    "GMAIL_CLIP_BYTES",
    "MAX_PAGE",
    "MIN_ID_PREFIX",
    "Asset",
    "CheckSettings",
    "Colors",
    "FeedSpec",
    "Image",
    "Logo",
    "Marks",
    "Paths",
    "Sender",
    "Settings",
    "SiteEntry",
    "Smtp",
    "SourceLocation",
    "Status",
    "Story",
    "Use",
    "Utm",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLocation:
    """Where a value was written: 1-based line and column in a file."""

    path: Path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [str(self.path)]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


# --- desk settings ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Colors:
    """The desk's brand colours, as #rrggbb."""

    brand: str = "#0b4f6c"
    accent: str = "#e0a458"
    text: str = "#1f2a30"
    background: str = "#ffffff"
    muted: str = "#5c6b73"


@dataclass(frozen=True, slots=True, kw_only=True)
class Logo:
    """The desk's logo: a desk path or an https URL."""

    src: str
    alt: str
    width: int | None = None
    height: int | None = None
    location: SourceLocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """Who the email comes from."""

    name: str
    email: str
    reply_to: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Utm:
    """Campaign tags added to every link in the email.

    `campaign` may use `{number}`, `{date}` and `{slug}`.
    """

    enabled: bool = True
    source: str = "newsletter"
    medium: str = "email"
    campaign: str = "issue-{number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Paths:
    """Desk folders, relative to the folder holding `newsletter.yaml`."""

    issues: str = "issues"
    output: str = "site"
    templates: str = "templates"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSettings:
    """What `newsletter check` looks for beyond its fixed rules."""

    reuse_issues: int = 8  # a link in any of this many earlier issues is a repeat
    window_days: int = 14  # a picked story older than this before the issue is stale
    skip_links: tuple[str, ...] = ()  # hosts or URL prefixes that refuse link checkers
    accept: tuple[str, ...] = ()  # "code" or "code:subject" the desk knows about: notes only


@dataclass(frozen=True, slots=True, kw_only=True)
class Smtp:
    """Where `newsletter send-test` sends; the password only ever comes from the
    environment variable `password_env`."""

    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: str = "NEWSLETTER_SMTP_PASSWORD"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSpec:
    """One feed the desk reads (used by `newsletter fetch`)."""

    name: str
    url: str | None = None
    path: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """A desk's `newsletter.yaml`, validated."""

    root: Path
    name: str
    base_url: str
    tagline: str = ""
    description: str = ""
    language: str = "en"
    colors: Colors = Colors()
    logo: Logo | None = None
    sender: Sender | None = None
    signup_url: str | None = None
    signup_field: str = "email"  # the address field of the service's sign-up form
    footer: str = ""
    legal: str = ""
    unsubscribe: str = "*|UNSUB|*"
    utm: Utm = Utm()
    paths: Paths = Paths()
    feeds: tuple[FeedSpec, ...] = ()
    check: CheckSettings = CheckSettings()
    smtp: Smtp | None = None
    # when issues come out, for the date `newsletter new` gives the next one: "weekly on
    # friday", "every 2 weeks on monday", "weekly", "daily" (desk.cadence.Cadence reads
    # it); "" = a week after the newest issue
    cadence: str = ""
    # a blurb taken from a feed is cut to this many words (two characters a word in
    # Chinese and Japanese, which have no spaces between words)
    blurb_words: int = 60
    # how many deep dives, from the first, show their picture across the column; the
    # rest are compact cards with a small picture beside the text (six full-width
    # pictures stack up to thousands of pixels of scrolling on a phone)
    full_width_deep_dives: int = 2

    @property
    def issues_dir(self) -> Path:
        return self.root / self.paths.issues

    @property
    def output_dir(self) -> Path:
        return self.root / self.paths.output

    @property
    def templates_dir(self) -> Path:
        return self.root / self.paths.templates


# --- the desk in the browser -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Use:
    """An issue that ran a story."""

    number: int
    date: dt.date

    def __str__(self) -> str:
        return f"#{self.number} on {self.date.isoformat()}"

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "date": self.date.isoformat()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Marks:
    """The editor's triage of one candidate, kept in the store: starred (a keeper)
    or skipped (left out of the lists); never both."""

    starred: bool = False
    skipped: bool = False


#: The most candidates one page of the browser desk asks for.
MAX_PAGE = 200


# --- the issue -------------------------------------------------------------


class Status(StrEnum):
    DRAFT = "draft"
    READY = "ready"


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """A picture as the editor named it; `src` is a desk path or an https URL."""

    src: str
    alt: str
    credit: str = ""
    caption: str = ""
    width: int | None = None
    height: int | None = None
    location: SourceLocation | None = None
    field: str = "image.src"


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A candidate story: what a feed entry (or a page added by hand) becomes.

    `id` is short and stable (derived from the canonical URL) so an editor can
    type it; `url` is canonical (https, no tracking parameters, no fragment
    unless the feed's entries are anchors on one page); `title` is plain
    text; `summary` and `content` are sanitized HTML of bounded size;
    `published`/`updated` are aware UTC, or None when the feed gave no date
    to trust: the store then dates the story by when it first saw it, and
    reads it back with that date. `source` is the first feed that carried
    it, `sources` every feed that did.
    """

    id: str
    url: str
    title: str
    summary: str = ""
    content: str = ""
    image: Image | None = None
    source: str = ""
    sources: tuple[str, ...] = ()
    language: str | None = None
    published: dt.datetime | None = None
    updated: dt.datetime | None = None
    authors: tuple[str, ...] = ()
    guid: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """A picture as readers fetch it: an absolute URL and its pixel size."""

    url: str
    width: int
    height: int


#: The shortest start of a story id that names a story: shorter ones match too many
#: stories to be meant (the store, the issue reader and the drafting commands agree).
MIN_ID_PREFIX = 4

#: Gmail cuts an email's HTML after this many bytes ("[Message clipped]"),
#: hiding the end of the issue and its unsubscribe link.
GMAIL_CLIP_BYTES = 102 * 1024


# --- the archive site ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteEntry:
    """One issue as the archive sees it: the index, the feed, the sitemap,
    the search index and its neighbours' previous/next links.

    `image` is the lead picture (absolute URL); `search_text` is what the
    archive search matches: the subject, summary and every headline.
    """

    slug: str
    number: int
    date: dt.date
    updated: dt.date
    subject: str
    preheader: str
    lang: str
    status: Status
    image: Asset | None = None
    image_alt: str = ""
    search_text: str = ""
    goes_live: dt.datetime | None = None  # Issue.goes_live; None: live (an older record)

    def held(self, now: dt.datetime) -> bool:
        """A ready issue whose time has not come at `now`: kept off the site until then."""
        return self.status is Status.READY and self.goes_live is not None and \
            self.goes_live > now
