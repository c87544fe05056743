"""An editor's issue file -> a resolved, valid `Issue`.

Stories are written inline or referenced with `story:` (a candidate id or
URL). References are resolved through a `StoryLookup` handed in by the
caller; this module never imports the store, so it can be tested with a
lookup made of a few literal stories.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from ..errors import IssueFileError, Problem
from ..model import (
    MIN_ID_PREFIX,
    Acceptance,
    CallToAction,
    CatchUp,
    CatchUpItem,
    Correction,
    DeepDive,
    DeepDives,
    Image,
    Issue,
    Lead,
    LeadBlock,
    Paragraphs,
    Related,
    Settings,
    SourceLocation,
    Sponsor,
    SponsorSlot,
    Status,
    Story,
    TextBlock,
    Video,
)
from ._blurbs import feed_blurb
from ._fields import LONG, PROSE, Fields, is_picture_source
from ._yaml import KeyPath, field_name, issue_status, load_yaml
from .lookup import NO_STORE, StoryLookup

__all__ = ["issue_status", "load_issue"]

_TOP = ("number", "date", "status", "slug", "lang", "subject", "preheader", "topic", "intro",
        "lead", "catch_up", "deep_dives", "sponsors", "cta", "corrections", "publish_at",
        "accept")
T = TypeVar("T")
_STORY = ("story", "url", "headline", "lang", "accept")
_IMAGE = ("src", "alt", "credit", "caption", "width", "height")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_DURATION = re.compile(r"^(\d{1,2}:)?\d{1,2}:\d{2}$")
_CODE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")  # a check finding's code: link-reused
_ACCEPT_HINT = 'e.g. accept: [link-reused], or accept: {story-old: "why it is back"}'


def _no_candidate_problem(ref: str, near: Sequence[str]) -> tuple[str, str]:
    """Why `ref` names no candidate, and what to write instead."""
    if len(ref) < MIN_ID_PREFIX and "/" not in ref:
        return (f'"{ref}" is too short to name a candidate',
                f"give at least {MIN_ID_PREFIX} characters of its id (as \"newsletter "
                "candidates\" lists them), or the whole id or link")
    hint = f'did you mean "{near[0]}"?' if near else (
        'run "newsletter fetch", or write the story inline with url: and headline:')
    return f'no candidate "{ref}"', hint


def load_issue(path: Path, settings: Settings, lookup: StoryLookup = NO_STORE) -> Issue:
    """Read, validate and resolve one issue file; IssueFileError lists every problem."""
    problems: list[Problem] = []
    doc = load_yaml(path, problems)
    issue = None
    if doc is not None and doc.data is None:
        problems.append(Problem(location=SourceLocation(path=path, line=1, column=1), field="",
                                message="the file is empty",
                                hint='start from an example: "newsletter init" writes one'))
    elif doc is not None:
        issue = _IssueReader(Fields(doc, problems), settings, lookup).read(doc.data)
    if problems:
        raise IssueFileError(problems)
    assert issue is not None, "an unreadable issue without a reported problem"
    return issue


def _or_found(written: T | None, found: Story | None, field: str) -> T | None:
    """What the editor wrote, else what the referenced candidate says."""
    if written or found is None:
        return written
    value: T | None = getattr(found, field)
    return value


def _sized_image(found: Story | None, named_at: SourceLocation, field: str) -> Image | None:
    """A candidate's picture, when its size is known: an email cannot show a
    picture of unknown size well, and the feed's page may be gone when building.
    It is reported (by check, by the build) where the `story:` naming it is."""
    image = found.image if found else None
    if not (image and image.width and image.height):
        return None
    return replace(image, location=named_at, field=field)


@dataclass(slots=True)
class _Named:
    """An issue-level acceptance that names one item, until that item is read."""

    acceptance: Acceptance
    item: str
    key_path: KeyPath  # of the item: key, where a name that matches nothing is reported
    claimed: bool = False


class _IssueReader:
    def __init__(self, f: Fields, settings: Settings, lookup: StoryLookup) -> None:
        self.f = f
        self.settings = settings
        self.lookup = lookup
        self.used: dict[str, Story] = {}  # referenced candidates, by id, in reading order
        self.named: list[_Named] = []  # issue-level acceptances of one item
        self.places: list[str] = []  # every item's place: lead, catch_up.items[0], ...
        self.item_names: list[str] = []  # and every name it may be given: place, id, url

    def read(self, data: Any) -> Issue | None:
        f = self.f
        top = f.mapping(data, (), known=_TOP, required=("number", "date", "subject", "lead"),
                        what="section")
        if top is None:
            return None
        # read first: the items it names take their acceptances as they are read
        accept = self.issue_accepts(top.get("accept"))
        # every section is read, even after a fatal problem, so all are reported at once
        fields: dict[str, Any] = {
            "number": f.integer(top, ("number",), minimum=1),
            "date": f.date(top, ("date",)),
            "slug": self.slug(top),
            "status": Status(f.choice(top, ("status",), list(Status), default="draft")),
            "subject": f.text(top, ("subject",), max_len=150, required=True),
            "preheader": f.text(top, ("preheader",), max_len=200),
            "topic": f.text(top, ("topic",), max_len=80),
            "lang": f.language(top, ("lang",)) or self.settings.language,
            "intro": f.text(top, ("intro",), max_len=PROSE),
            "lead": self.lead(top.get("lead")),
            "catch_up": self.catch_up(top.get("catch_up")),
            "deep_dives": self.deep_dives(top.get("deep_dives")),
            "cta": self.cta(top.get("cta")),
        }
        fields["corrections"] = self.corrections(top.get("corrections"), fields["date"])
        fields["sponsors"] = self.sponsors(top.get("sponsors"), fields)
        fields["publish_at"] = self.publish_at(top, fields["date"])
        self.report_unclaimed()
        if any(fields[key] is None for key in ("number", "date", "lead")):
            return None
        return Issue(source=f.doc.path, stories=tuple(self.used.values()), accept=accept,
                     **fields)

    def slug(self, top: dict[str, Any]) -> str:
        slug = self.f.text(top, ("slug",), default=self.f.doc.path.stem.lower())
        if not _SLUG.match(slug):
            self.f.problem(("slug",), f'"{slug}" cannot be used in a web address',
                           "use lowercase letters, digits and dashes, e.g. 2026-11-27")
        return slug

    # --- stories -----------------------------------------------------------

    def story(self, m: dict[str, Any], key_path: KeyPath) -> tuple[Story | None, str, str]:
        """The referenced candidate (if any), then the url and headline to use."""
        f = self.f
        ref = f.text(m, (*key_path, "story"), max_len=2_000)
        found = self.lookup.find(ref) if ref else None
        if found is not None:
            self.used.setdefault(found.id, found)
        if ref and found is None:
            f.problem((*key_path, "story"), *_no_candidate_problem(ref, self.lookup.suggest(ref)))
        url = f.url(m, (*key_path, "url")) or (found.url if found else "")
        headline = f.text(m, (*key_path, "headline")) or (found.title if found else "")
        hints = {"url": "give the story's link with url:, or reference a candidate with story:",
                 "headline": "write the headline readers will see"}
        for key, value in (("url", url), ("headline", headline)):
            if ref or value:
                continue
            if key not in m:
                f.problem(key_path, f'missing "{key}"', hints[key])
            elif m[key] is None or m[key] == "":
                f.problem((*key_path, key), "is empty", hints[key])
            # any other value was wrong and has been reported already
        return found, url, headline

    def blurb(self, m: dict[str, Any], key_path: KeyPath, found: Story | None,
              lang: str | None) -> dict[str, Any]:
        """The blurb the editor wrote, else the candidate's summary cut to the desk's length."""
        written = self.f.text(m, (*key_path, "blurb"), max_len=PROSE)
        if written or found is None:
            return {"blurb": written}
        made = feed_blurb(found.summary, words=self.settings.blurb_words, language=lang)
        return {"blurb": made.markdown, "blurb_trimmed": made.trimmed}

    def picked(self, m: dict[str, Any], kp: KeyPath, found: Story | None, url: str,
               *, block: KeyPath = ()) -> dict[str, Any]:
        """What every picked story carries: where it is written (its first key, or
        the `- ` of its block), the candidate it resolved to, and the findings the
        editor accepts for it."""
        place = field_name(block or kp)
        written = (place, field_name(kp), url, m.get("story"), found and found.id)
        names = {name for name in written if isinstance(name, str) and name}
        return {"location": self.f.where(block or kp), "story": found.id if found else "",
                "accept": self.accepts(m, kp, names, place)}

    # --- sections ----------------------------------------------------------

    def lead(self, value: Any) -> Lead | None:
        f, kp = self.f, ("lead",)
        if value is None:
            return None  # reported as missing or empty by the top-level read
        m = f.mapping(value, kp, known=(*_STORY, "bullets", "image", "body"))
        if m is None:
            return None
        found, url, headline = self.story(m, kp)
        image = self.image(m.get("image"), (*kp, "image"))
        return Lead(
            url=url, headline=headline,
            bullets=self.bullets(m, kp),
            image=image or self.candidate_image(found, kp),
            body=self.body(m.get("body"), (*kp, "body")),
            lang=_or_found(f.language(m, (*kp, "lang")), found, "language"),
            **self.picked(m, kp, found, url),
        )

    def candidate_image(self, found: Story | None, kp: KeyPath) -> Image | None:
        return _sized_image(found, self.f.where((*kp, "story")), field_name((*kp, "story")))

    def bullets(self, m: dict[str, Any], kp: KeyPath) -> tuple[str, ...]:
        bullets = self.f.strings(m, (*kp, "bullets"), max_len=LONG, max_items=10)
        if isinstance(m.get("bullets"), list) and not 2 <= len(bullets) <= 3:
            count = len(bullets)
            self.f.problem((*kp, "bullets"), f"has {count} bullet{'s' * (count != 1)}",
                           "a standfirst has 2 or 3 bullets")
        return bullets

    def body(self, value: Any, kp: KeyPath) -> tuple[LeadBlock, ...]:
        blocks: list[LeadBlock] = []
        for i, item in enumerate(self.f.sequence(value, kp)):
            block = self.block(item, (*kp, i))
            if block is not None:
                blocks.append(block)
        return tuple(blocks)

    def block(self, item: Any, kp: KeyPath) -> LeadBlock | None:
        f = self.f
        m = f.mapping(item, kp, known=("text", "related", "video"), what="block")
        if m is None:
            return None
        if len(m) != 1:
            f.problem(kp, f"a block has exactly one of text:, related:, video:; found {len(m)}",
                      'start each block with its own "- "')
            return None
        kind, value = next(iter(m.items()))
        if kind == "text":
            return TextBlock(markdown=f.text(m, (*kp, "text"), max_len=PROSE, required=True),
                             location=f.where(kp))
        if kind == "related":
            return self.related(value, kp)
        return self.video(value, kp)

    def related(self, value: Any, block: KeyPath) -> Related | None:
        kp = (*block, "related")
        m = self.f.mapping(value, kp, known=_STORY)
        if m is None:
            return None
        found, url, headline = self.story(m, kp)
        lang = _or_found(self.f.language(m, (*kp, "lang")), found, "language")
        return Related(url=url, headline=headline, lang=lang,
                       **self.picked(m, kp, found, url, block=block))

    def video(self, value: Any, block: KeyPath) -> Video | None:
        f, kp = self.f, (*block, "video")
        m = f.mapping(value, kp, known=("url", "title", "duration", "thumbnail", "accept"),
                      required=("url", "title"))
        if m is None:
            return None
        title = f.text(m, (*kp, "title"), required=True)
        duration = f.text(m, (*kp, "duration"), max_len=10)
        if duration and not _DURATION.match(duration):
            f.problem((*kp, "duration"), f'"{duration}" is not a duration',
                      'write minutes and seconds in quotes, e.g. "03:48"')
        url = f.url(m, (*kp, "url"), required=True)
        return Video(url=url, title=title, duration=duration,
                     thumbnail=self.image(m.get("thumbnail"), (*kp, "thumbnail"), alt=title),
                     location=f.where(block),
                     accept=self.accepts(m, kp, {field_name(block), field_name(kp), url},
                                         field_name(block)))

    def section(self, value: Any, kp: KeyPath) -> tuple[str, list[tuple[KeyPath, Any]]] | None:
        """A catch-up or deep-dives mapping: its heading, and its items with their paths."""
        if value is None:
            return None
        m = self.f.mapping(value, kp, known=("heading", "items"))
        if m is None:
            return None
        items = self.f.sequence(m.get("items"), (*kp, "items"), min_items=1)
        heading = self.f.text(m, (*kp, "heading"), max_len=80)
        return heading, [((*kp, "items", i), item) for i, item in enumerate(items)]

    def catch_up(self, value: Any) -> CatchUp | None:
        section = self.section(value, ("catch_up",))
        if section is None:
            return None
        heading, entries = section
        items = (self.catch_up_item(item, ikp) for ikp, item in entries)
        return CatchUp(heading=heading, items=tuple(i for i in items if i is not None))

    def catch_up_item(self, item: Any, ikp: KeyPath) -> CatchUpItem | Paragraphs | None:
        f = self.f
        if isinstance(item, dict) and "text" in item:
            if f.mapping(item, ikp, known=("text",)) is None:
                return None
            return Paragraphs(markdown=f.text(item, (*ikp, "text"), max_len=PROSE, required=True),
                              location=f.where(ikp))
        entry = f.mapping(item, ikp, known=(*_STORY, "blurb"))
        if entry is None:
            return None
        found, url, headline = self.story(entry, ikp)
        lang = _or_found(f.language(entry, (*ikp, "lang")), found, "language")
        return CatchUpItem(url=url, headline=headline, lang=lang,
                           **self.blurb(entry, ikp, found, lang),
                           **self.picked(entry, ikp, found, url))

    def deep_dives(self, value: Any) -> DeepDives | None:
        section = self.section(value, ("deep_dives",))
        if section is None:
            return None
        heading, entries = section
        cards = (self.deep_dive(item, ikp) for ikp, item in entries)
        return DeepDives(heading=heading, items=tuple(c for c in cards if c is not None))

    def deep_dive(self, item: Any, ikp: KeyPath) -> DeepDive | None:
        f = self.f
        entry = f.mapping(item, ikp, known=(*_STORY, "blurb", "image"))
        if entry is None:
            return None
        found, url, headline = self.story(entry, ikp)
        image = self.image(entry.get("image"), (*ikp, "image"))
        lang = _or_found(f.language(entry, (*ikp, "lang")), found, "language")
        return DeepDive(
            url=url, headline=headline, lang=lang,
            image=image or self.candidate_image(found, ikp),
            **self.blurb(entry, ikp, found, lang),
            **self.picked(entry, ikp, found, url),
        )

    def sponsors(self, value: Any, sections: dict[str, Any]) -> tuple[Sponsor, ...]:
        f = self.f
        slots = [s.value for s in SponsorSlot]
        found = []
        for i, item in enumerate(f.sequence(value, ("sponsors",), max_items=5)):
            kp: KeyPath = ("sponsors", i)
            m = f.mapping(item, kp, known=("slot", "label", "advertiser", "headline", "text",
                                           "url", "image", "accept"),
                          required=("advertiser", "headline", "url"))
            if m is None:
                continue
            slot = SponsorSlot(f.choice(m, (*kp, "slot"), slots, default="after_lead"))
            section = slot.value.removeprefix("after_")
            if section != "lead" and sections.get(section) is None:
                f.problem((*kp, "slot"), f"this issue has no {section} section",
                          "use another slot, e.g. after_lead, or the sponsor is never shown")
            url = f.url(m, (*kp, "url"), required=True)
            found.append(Sponsor(
                slot=slot,
                label=f.text(m, (*kp, "label"), max_len=40),
                advertiser=f.text(m, (*kp, "advertiser")),
                headline=f.text(m, (*kp, "headline")),
                text=f.text(m, (*kp, "text"), max_len=PROSE),
                url=url,
                image=self.image(m.get("image"), (*kp, "image")),
                location=f.where(kp),
                accept=self.accepts(m, kp, {field_name(kp), url}, field_name(kp)),
            ))
        return tuple(found)

    def cta(self, value: Any) -> CallToAction | None:
        f, kp, s = self.f, ("cta",), self.settings
        if value is None:
            if not s.signup_url:
                return None
            # empty heading and button: the theme words them in the issue's language
            return CallToAction(heading="", text=s.tagline, button="", url=s.signup_url)
        m = f.mapping(value, kp, known=("heading", "text", "button", "url"))
        if m is None:
            return None
        url = f.url(m, (*kp, "url"), allow_mailto=True) or s.signup_url or ""
        if not url:
            f.problem(kp, 'missing "url"', "give the sign-up link, or set signup_url in "
                      "newsletter.yaml")
        return CallToAction(
            heading=f.text(m, (*kp, "heading")),
            text=f.text(m, (*kp, "text"), max_len=LONG, default=s.tagline),
            button=f.text(m, (*kp, "button"), max_len=40),
            url=url,
        )

    def corrections(self, value: Any, issue_date: dt.date | None) -> tuple[Correction, ...]:
        f = self.f
        found = []
        for i, item in enumerate(f.sequence(value, ("corrections",), max_items=20)):
            kp: KeyPath = ("corrections", i)
            m = f.mapping(item, kp, known=("date", "text"), required=("date", "text"))
            if m is None:
                continue
            date = f.date(m, (*kp, "date"))
            text = f.text(m, (*kp, "text"), max_len=LONG, required=True)
            if date and issue_date and date < issue_date:
                f.problem((*kp, "date"), f"the correction is dated {date}, before the issue "
                          f"itself ({issue_date})", "give the day the correction was made")
            if date and text:
                found.append(Correction(date=date, text=text))
        return tuple(sorted(found, key=lambda c: c.date))

    # --- when it goes live ------------------------------------------------------

    def publish_at(self, top: dict[str, Any], date: dt.date | None) -> dt.datetime | None:
        """The moment the site may show the issue, with the zone it was written in."""
        f, kp = self.f, ("publish_at",)
        written = f.text(top, kp, max_len=60)
        if not written:
            return None
        example = "e.g. 2026-12-11T07:00:00+01:00 (Z for UTC)"
        try:
            when = dt.datetime.fromisoformat(written)
        except ValueError:
            f.problem(kp, f'"{written}" is not a date and time', f"write it as {example}")
            return None
        if when.tzinfo is None:
            f.problem(kp, "has no time zone", f"add the zone's offset from UTC, {example}")
            return None
        if date and when.date() < date:
            f.problem(kp, f"is before the issue's date ({date})",
                      "the issue goes live at publish_at: the same day as date: or later")
            return None
        return when

    # --- findings the editor accepts -----------------------------------------

    def issue_accepts(self, value: Any) -> tuple[Acceptance, ...]:
        """The top-level `accept:`: codes for the whole issue, and entries naming one
        item (kept until that item is read)."""
        kp: KeyPath = ("accept",)
        if not isinstance(value, list):
            return self.accepts({"accept": value}, (), set(), "") if value is not None else ()
        whole = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict):
                whole += self.codes([entry], kp, start=i)
                continue
            ekp = (*kp, i)
            m = self.f.mapping(entry, ekp, known=("code", "item", "reason"), required=("code",))
            code = self.code(m or {}, (*ekp, "code"))
            if not code:
                continue
            accepted = Acceptance(code=code, reason=self.f.text(m or {}, (*ekp, "reason")),
                                  location=self.f.where((*ekp, "code")))
            item = self.f.text(m or {}, (*ekp, "item"), max_len=2_000)
            if item:
                self.named.append(_Named(acceptance=accepted, item=item,
                                         key_path=(*ekp, "item")))
            else:
                whole.append(accepted)
        return tuple(whole)

    def accepts(self, m: dict[str, Any], kp: KeyPath, names: set[str], place: str
                ) -> tuple[Acceptance, ...]:
        """An item's `accept:` (a list of codes, or codes with their reasons), then
        the issue-level entries that name the item (at `place`) by one of `names`."""
        value, akp = m.get("accept"), (*kp, "accept")
        found: list[Acceptance] = []
        if isinstance(value, list):
            found += self.codes(value, akp)
        elif isinstance(value, dict):
            for code in value:
                if self.code({code: code}, (*akp, code), at_key=True):
                    found.append(Acceptance(code=code, reason=self.f.text(value, (*akp, code)),
                                            location=self.f.doc.where_key((*akp, code))))
        elif value is not None:
            self.f.problem(akp, "expected a list of finding codes, or codes with their reasons",
                           _ACCEPT_HINT)
        if place:
            self.places.append(place)
            self.item_names += sorted(names)
        for named in self.named:
            if not named.claimed and named.item in names:
                named.claimed = True
                found.append(named.acceptance)
        return tuple(found)

    def codes(self, items: list[Any], kp: KeyPath, start: int = 0) -> list[Acceptance]:
        holder = {start + i: item for i, item in enumerate(items)}
        return [Acceptance(code=code, location=self.f.where((*kp, i)))
                for i in holder if (code := self.code(holder, (*kp, i)))]

    def code(self, holder: dict[Any, Any], kp: KeyPath, *, at_key: bool = False) -> str:
        """A finding code as written (whether check knows it is check's to say)."""
        code = self.f.text(holder, kp, max_len=40, required=True)
        if code and not _CODE.match(code):
            self.f.problem(kp, f'"{code}" is not a finding code',
                           '"newsletter check" prints each code in brackets, e.g. [link-reused]',
                           at_key=at_key)
            return ""
        return code

    def report_unclaimed(self) -> None:
        """Issue-level acceptances that named no item of the issue."""
        for named in self.named:
            if named.claimed:
                continue
            near = difflib.get_close_matches(named.item, self.item_names, n=1, cutoff=0.6)
            hint = (f'did you mean "{near[0]}"?' if near else
                    f"the items of this issue: {', '.join(self.places[:12])}")
            self.f.problem(named.key_path, "names no item of this issue", hint)

    # --- pictures ----------------------------------------------------------

    def image(self, value: Any, kp: KeyPath, *, alt: str = "") -> Image | None:
        f = self.f
        if value is None:
            return None
        if isinstance(value, str):
            value = {"src": value}
        m = f.mapping(value, kp, known=_IMAGE, required=("src",) if alt else ("src", "alt"))
        if m is None:
            return None
        src = f.text(m, (*kp, "src"), max_len=2_000, required=True)
        if src and not is_picture_source(src):
            f.problem((*kp, "src"), f'"{src}" is neither a file in the desk nor a web address',
                      "use a path relative to newsletter.yaml (examples/images/x.jpg) "
                      "or an https:// URL")
        return Image(
            src=src,
            alt=f.text(m, (*kp, "alt"), default=alt),
            credit=f.text(m, (*kp, "credit")),
            caption=f.text(m, (*kp, "caption"), max_len=LONG),
            width=f.integer(m, (*kp, "width"), minimum=1),
            height=f.integer(m, (*kp, "height"), minimum=1),
            location=f.where((*kp, "src")),
            field=field_name((*kp, "src")),
        )
