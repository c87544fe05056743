"""Writing the editor's YAML files: a new draft, stories picked into an issue,
unpicked and moved, feeds added to newsletter.yaml.

Picks, unpicks and moves change only the lines they mean. The file is
composed into nodes (with their line and column), the edit replaces, inserts
or removes whole lines, and every other byte stays as the editor wrote it:
comments, blank lines, indentation, quoting, line endings. (ruamel's
round-trip dump re-indents the whole file to one style, moves end-of-line
comments and appends after a trailing comment block.) The result is composed
again and compared with what the edit meant before anything is written; a
layout too unusual to edit safely is refused, never guessed at.

Every edit returns what it did (`Edit`), with the digest of the file it
wrote. A caller that shows the file and edits it later (the browser desk)
passes the digest it read as `expected_digest`: if the file changed in the
meantime the edit is refused (`EditConflict`). Files are replaced whole:
written aside, flushed to disk, then renamed over the old one (exchanged with
it, where Linux can, and the file replaced checked after the fact, so a text
editor's save landing at that moment is put back, not lost). `Edit.before`
holds the bytes an edit replaced, and `restore` puts them back (undo) under
the same check. `set_field` writes an item's headline or blurb override the
same way, `set_issue_field` and `set_bullets` the issue's subject, preheader,
intro and the lead's bullets; `issue_slots` and `issue_head` give the browser
desk's panel every item and those words as written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .._files import exchange
from ..errors import InputError, NewsletterError, Problem
from ..model import MIN_ID_PREFIX, FeedSpec, SourceLocation, Story
from ._fields import _CONTROL, LONG, PROSE, SHORT  # what the issue reader refuses in text
from ._yaml import load_yaml
from .cadence import Cadence, CadenceError, choose_issue_date
from .lookup import NO_STORE, StoryLookup

__all__ = ["FIELDS", "ISSUE_FIELDS", "MAX_BULLETS", "MIN_PREFIX", "PLACEHOLDER_URL", "SECTIONS",
           "Cadence", "CadenceError", "Edit", "EditConflict", "IssueHead", "IssuePicks",
           "IssueSlots", "Placed", "Slot", "add_feeds", "choose_issue_date", "draft_text",
           "file_digest", "issue_head", "issue_picks", "issue_slots", "move", "pick",
           "rank_candidates", "replace_file", "restore", "set_bullets", "set_field",
           "set_issue_field", "unpick", "write_new_file"]

SECTIONS = ("lead", "catch_up", "deep_dives")
PLACEHOLDER_URL = "https://example.org/replace-me"
#: An id prefix shorter than this matches too many stories to be meant (as the store's).
MIN_PREFIX = MIN_ID_PREFIX
_PLACEHOLDER_HEADLINE = "TODO: the lead's headline"
_TODO = {"catch_up": "TODO: a story in a line or two", "deep_dives": "TODO: a longer read"}
_OFFERED_HEADER = "# Candidates since the last issue, best first:"
#: The keys that say which story the lead is; the rest (bullets, body) is the editor's prose.
_LEAD_STORY_KEYS = ("story", "url", "headline", "image", "lang")
_ODD_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# --- a new draft -------------------------------------------------------------


def rank_candidates(stories: Iterable[Story], limit: int = 20) -> list[Story]:
    """Best first: stories several feeds carried, then the newest."""
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    ranked = sorted(stories, key=lambda s: (len(s.sources), s.published or oldest), reverse=True)
    return ranked[:limit]


def draft_text(*, number: int, date: dt.date, candidates: Sequence[Story]) -> str:
    """A new draft issue: valid as it stands, a placeholder in each section, and
    candidates offered as comments."""
    lines = [
        f"# Issue {number}: a draft. Pick stories with",
        "#   newsletter pick ID --into lead|catch_up|deep_dives",
        "# and order them with: newsletter move ID --to N",
        "# (or move a commented candidate below into a section and uncomment it).",
        f"number: {number}",
        f"date: {date.isoformat()}",
        "status: draft",
        f'subject: "TODO: the subject line of issue {number}"',
        'preheader: "TODO: the line inboxes show after the subject"',
        "",
        "lead:",
        f"  url: {PLACEHOLDER_URL}",
        f'  headline: "{_PLACEHOLDER_HEADLINE}"',
        "  bullets:",
        '    - "TODO: what happened"',
        '    - "TODO: why it matters"',
        "",
        "catch_up:",
        "  items:",
        f"    - url: {PLACEHOLDER_URL}",
        f'      headline: "{_TODO["catch_up"]}"',
        "",
        "deep_dives:",
        "  items:",
        f"    - url: {PLACEHOLDER_URL}",
        f'      headline: "{_TODO["deep_dives"]}"',
        "",
    ]
    if candidates:
        lines.append(_OFFERED_HEADER)
        lines += [f"#    - story: {s.id}   # {_label(s)}" for s in candidates]
    return "\n".join(lines) + "\n"


def _label(story: Story) -> str:
    date = story.published.strftime("%Y-%m-%d") if story.published else ""
    title = " ".join(story.title.split())[:90]
    label = " · ".join(part for part in (date, story.source, title) if part)
    return "".join(c for c in label if c.isprintable())  # a comment is one printable line


# --- what an issue file holds --------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Placed:
    """A story in an issue file, and where: `section` is lead, catch_up,
    deep_dives or lead.body (a related story); `position` counts from 1 among
    the section's items; `line` is 1-based."""

    section: str
    position: int
    line: int
    ref: str  # `story:` as written ("" for a story written inline)
    url: str  # `url:` as written
    story_id: str | None  # what `ref` resolved to, when it did
    title: str  # the candidate's title, else the headline written
    placeholder: bool = False  # the draft's "replace me" item

    @property
    def name(self) -> str:
        """How a message names it: its id, else its reference or link."""
        return self.story_id or self.ref or self.url

    def holds(self, story: Story) -> bool:
        """Whether this item is `story`: by id (a start of it, as resolved), or by link."""
        if self.story_id == story.id or (self.ref and self.ref in (story.id, story.url)):
            return True
        return bool(self.url) and self.url == story.url

    def where(self) -> str:
        if self.section == "lead.body":
            return f"the lead's body, block {self.position}"
        return "the lead" if self.section == "lead" else f"{self.section} item {self.position}"


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuePicks:
    """What an issue file holds, in order (lead, its related stories, catch-up,
    deep dives), and the digest of the bytes read: an edit given it as
    `expected_digest` is refused if the file changed since."""

    path: Path
    digest: str
    placed: tuple[Placed, ...]

    def holding(self, story: Story) -> Placed | None:
        return next((p for p in self.placed if p.holds(story) and not p.placeholder), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    """What `pick`, `unpick`, `move`, `set_field` or `restore` did to an issue file.

    `position` and `line` are where the story is now (for an unpick: where it
    was; 0 for a restore); `digest` is the file as written, for the next
    edit's `expected_digest`; `before` is the file's bytes before the edit, so
    a caller can undo it (`restore(path, edit.before, expected_digest=edit.digest)`).
    """

    path: Path
    action: Literal["pick", "unpick", "move", "edit", "restore"]
    story: str
    section: str
    position: int
    line: int
    digest: str
    before: bytes = dataclasses.field(repr=False)
    field: str = ""  # what an "edit" changed: "headline" or "blurb"
    replaced: Placed | None = None  # the lead `replace` took out
    kept: tuple[str, ...] = ()  # keys of the replaced lead left in place (its prose)
    placeholder: bool = False  # an unpick left the section's placeholder: never empty
    moved_from: int | None = None
    unoffered: bool = False  # the story's line left the draft's offered candidates


class EditConflict(NewsletterError):
    """The issue file changed after the caller read it: nothing was written."""


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, as `IssuePicks.digest` and `Edit.digest` give it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """One item of an issue file as the editor wrote it, for the browser desk's
    panel: every item of the lead's body, catch-up, deep dives and sponsors,
    free paragraphs and videos included, in reading order."""

    slot: str  # lead, lead.body, catch_up, deep_dives, sponsors
    position: int  # from 1 within the slot, every item counted (as `move --to` counts)
    line: int  # 1-based, where the item starts: where the issue reader locates it
    kind: Literal["story", "inline", "placeholder", "text", "video", "related", "sponsor"]
    ref: str = ""  # `story:` as written
    url: str = ""  # `url:` as written
    story_id: str | None = None  # what `ref` resolved to, when it did
    title: str = ""  # the candidate's title, else the headline written
    headline: str | None = None  # `headline:` (a video's `title:`) as written; None: none
    blurb: str | None = None  # `blurb:` as written; None: none
    text: str = ""  # a free paragraph's or text block's markdown


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueSlots:
    """Every item of an issue file (`Slot`), and the digest of the bytes read."""

    path: Path
    digest: str
    slots: tuple[Slot, ...]


def issue_slots(issue_file: Path, lookup: StoryLookup = NO_STORE) -> IssueSlots:
    """Every item an issue file holds, as written: it needs the YAML only, so an
    issue that does not validate (a story the store lacks, a key misspelt)
    still shows what can be placed."""
    text = _IssueText.read(issue_file)
    return IssueSlots(path=issue_file, digest=text.digest, slots=text.slots(lookup))


def issue_picks(issue_file: Path, lookup: StoryLookup = NO_STORE) -> IssuePicks:
    """Every story an issue file holds, with where it is; `lookup` resolves
    `story:` references to ids (the lock file, then the store)."""
    text = _IssueText.read(issue_file)
    return IssuePicks(path=issue_file, digest=text.digest, placed=text.placed(lookup))


# --- pick, unpick, move ----------------------------------------------------------


def pick(issue_file: Path, story: Story, section: str, *, lookup: StoryLookup = NO_STORE,
         replace: bool = False, expected_digest: str | None = None) -> Edit:
    """Add `story: <id>` to a section of the issue file, changing no other line
    but the draft's placeholder there and the story's offered-candidate comment.

    Refused (NewsletterError naming where) when the story is already in the
    issue, and for the lead when it holds a story, unless `replace`: then the
    keys that name the old lead go (`story`, `url`, `headline`, `image`,
    `lang`) and its prose stays (`Edit.kept`).
    """
    if section not in SECTIONS:
        raise NewsletterError(f'no section "{section}"', hint=f"use one of {', '.join(SECTIONS)}")
    text = _IssueText.read(issue_file, expected_digest)
    before = text.placed(lookup)
    there = next((p for p in before if p.holds(story) and not p.placeholder), None)
    if there is not None:
        raise _already_in(text, there, story, section)
    edit = _Lines(text)
    replaced: Placed | None = None
    kept: tuple[str, ...] = ()
    if section == "lead":
        lead = next((p for p in before if p.section == "lead"), None)
        replaced, kept = _pick_lead(edit, story, lead, replace=replace)
    else:
        _pick_item(edit, section, story)
    unoffered = edit.unoffer(story.id)
    after = _expected_after_pick(before, section, story, replaced)
    new, placed = text.rewritten(edit.text(), lookup, after)
    mine = next(p for p in placed if p.holds(story))
    return Edit(path=issue_file, action="pick", story=story.id, section=section,
                position=mine.position, line=mine.line, digest=new.digest, before=text.data,
                replaced=replaced, kept=kept, unoffered=unoffered)


def unpick(issue_file: Path, ref: str, *, lookup: StoryLookup = NO_STORE,
           expected_digest: str | None = None) -> Edit:
    """Take a story out of the issue, by id, a unique start of it, or link.

    A section never becomes empty (the issue would not build): its last story
    gives way to the draft's placeholder, and so does the lead.
    """
    text = _IssueText.read(issue_file, expected_digest)
    before = text.placed(lookup)
    gone = _find_placed(text, before, ref)
    if gone.section == "lead.body":
        raise NewsletterError(f"{gone.name} is a related story in the lead's body",
                              location=text.at(gone.line),
                              hint="take out its related: block in a text editor")
    edit = _Lines(text)
    placeholder = _unpick_lead(edit) if gone.section == "lead" else \
        _unpick_item(edit, gone)
    after = [_signature(p) for p in before if p is not gone and not p.placeholder]
    new, _ = text.rewritten(edit.text(), lookup, after)
    return Edit(path=issue_file, action="unpick", story=gone.name, section=gone.section,
                position=gone.position, line=gone.line, digest=new.digest, before=text.data,
                placeholder=placeholder)


def move(issue_file: Path, ref: str, *, to: int | None = None, before: str | None = None,
         lookup: StoryLookup = NO_STORE, expected_digest: str | None = None) -> Edit:
    """Move a story within its section: to position `to` (from 1), or just
    before the story `before`. Only the moved item's lines change place; the
    comments and blank lines between items stay where they are."""
    if (to is None) == (before is None):
        raise NewsletterError("say where to: give either a position or the story to go before",
                              hint="e.g. --to 1, or --before 9f3c1a")
    text = _IssueText.read(issue_file, expected_digest)
    placed = text.placed(lookup)
    moving = _find_placed(text, placed, ref)
    if moving.section not in ("catch_up", "deep_dives"):
        raise NewsletterError(f"{moving.name} is {moving.where()}: only catch_up and deep_dives "
                              "items have an order", location=text.at(moving.line),
                              hint='to put another story in the lead, use '
                                   '"newsletter pick ID --into lead --replace"')
    units = text.units(moving.section)
    target = to if to is not None else _position_before(text, placed, moving, before or "")
    if not 1 <= target <= len(units):
        raise NewsletterError(f"{moving.section} has {len(units)} items: the position must be "
                              f"1 to {len(units)}", hint=f"e.g. --to 1 (first) or --to "
                                                         f"{len(units)} (last)")
    edit = _Lines(text)
    edit.reorder(units, moving.position - 1, target - 1)
    after = _expected_after_move(placed, moving, target)
    new, now = text.rewritten(edit.text(), lookup, after)
    mine = next(p for p in now if _signature(p) == _signature(moving))
    return Edit(path=issue_file, action="move", story=moving.name, section=moving.section,
                position=mine.position, line=mine.line, digest=new.digest, before=text.data,
                moved_from=moving.position)


# --- headline and blurb overrides, undo --------------------------------------------

#: The overrides `set_field` writes, and the sections whose items have them: every
#: story has a headline; only catch-up items and deep dives have a blurb (the lead's
#: standfirst is its bullets, a related story is a headline alone).
FIELDS: dict[str, tuple[str, ...]] = {
    "headline": ("lead", "lead.body", "catch_up", "deep_dives"),
    "blurb": ("catch_up", "deep_dives"),
}
_FIELD_LIMITS = {"headline": SHORT, "blurb": PROSE}  # the issue reader's
#: Characters YAML refuses in a file (C1 controls, line and paragraph separators, a
#: BOM, non-characters): written as escapes inside double quotes.
_ESCAPED = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def set_field(issue_file: Path, story_ref: str, field: str, value: str, *,
              lookup: StoryLookup = NO_STORE, expected_digest: str | None = None) -> Edit:
    """Write, change or remove (an empty or blank `value`) the `headline:` or
    `blurb:` the editor wrote on one story of the issue (by id, a unique start
    of it, or link), changing only that key's lines.

    The value is written in double quotes (a multi-line blurb as a literal
    block when it reads back the same), so quotes, colons, `#`, YAML's special
    words and any script come back exactly; the edited file is read again and
    the value compared before it replaces the old one. Refused: a field the
    section does not have (see `FIELDS`), a value the issue reader would
    refuse (control characters, too long), removing the headline of a story
    written out (it has no other).
    """
    if field not in FIELDS:
        raise NewsletterError(f'no field "{field}" to edit', hint="edit headline or blurb")
    value = "" if not value.strip() else value
    _check_value(field, value, _FIELD_LIMITS[field])
    text = _IssueText.read(issue_file, expected_digest)
    placed = text.placed(lookup)
    item = _find_placed(text, placed, story_ref)
    if item.section not in FIELDS[field]:
        raise _no_such_field(text, item, field)
    node = text.item_node(item)
    if node.flow_style:
        raise text.unusual(item.where(), node.start_mark.line)
    edit = _Lines(text)
    written = _entries(node).get(field)
    if value:
        lines = _field_lines(field, value, node.start_mark.column)
        if written is None:
            _insert_key(edit, node, field, lines)
        else:
            _replace_key(edit, *written, lines)
    elif written is None:  # nothing to remove: the file stays as it is
        return Edit(path=issue_file, action="edit", story=item.name, section=item.section,
                    position=item.position, line=item.line, digest=text.digest,
                    before=text.data, field=field)
    elif field == "headline" and not item.ref:
        raise NewsletterError(f"{item.name} is written out: its headline is the only one it "
                              "has", location=text.at(item.line),
                              hint="write another headline instead of removing it")
    else:
        _remove_key(edit, *written)
    expected = [_signature(p) for p in placed if not p.placeholder]

    def holds(new: _IssueText, now: Sequence[Placed]) -> bool:
        mine = next(p for p in now if _signature(p) == _signature(item))
        found = _entries(new.item_node(mine)).get(field)
        return _scalar(found[1]) == value if found else not value

    new, _ = text.rewritten(edit.text(), lookup, expected, holds)
    return Edit(path=issue_file, action="edit", story=item.name, section=item.section,
                position=item.position, line=item.line, digest=new.digest, before=text.data,
                field=field)


def restore(issue_file: Path, data: bytes, *, expected_digest: str) -> Edit:
    """Put `data` back as the issue file (the undo of an edit: its `before`), written
    aside and renamed; refused (EditConflict) unless the file still holds the bytes
    `expected_digest` names (those the edit wrote), so a change made since in a
    text editor is never lost."""
    try:
        current = issue_file.read_bytes()
    except OSError as exc:
        raise NewsletterError(f"cannot read the file: {exc.strerror or exc}",
                              location=SourceLocation(path=issue_file),
                              hint="check the issue file's name") from exc
    if hashlib.sha256(current).hexdigest() != expected_digest:
        raise _changed(issue_file)
    replace_file(issue_file, data, expected_digest=expected_digest)
    return Edit(path=issue_file, action="restore", story="", section="", position=0, line=0,
                digest=hashlib.sha256(data).hexdigest(), before=current)


# --- the issue's own words: subject, preheader, intro, the lead's bullets -----------------

#: The issue's own fields `set_issue_field` writes, with the issue reader's limits
#: (`editorial`'s top-level read: subject 150, preheader 200, intro PROSE; written
#: there as numbers, so tests/test_drafting.py holds these to what it refuses).
ISSUE_FIELDS: dict[str, int] = {"subject": 150, "preheader": 200, "intro": PROSE}
_ONE_LINE = ("subject", "preheader")
#: Where a field not yet written goes: after the last of those before it in this
#: order (the issue reader's keys, as a new draft writes them).
_TOP_ORDER = ("number", "date", "status", "slug", "lang", "subject", "preheader", "topic",
              "intro")
#: The issue reader's most bullets (`check` says a standfirst has 2 or 3), each one
#: line of at most LONG characters.
MAX_BULLETS = 10
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueHead:
    """The issue's own words as written, for the browser desk's form: None where
    the file has none, or not as text; `digest` as `IssueSlots.digest`."""

    path: Path
    digest: str
    subject: str | None
    preheader: str | None
    intro: str | None
    bullets: tuple[str, ...] | None  # the lead's, when they are a list of text


def issue_head(issue_file: Path) -> IssueHead:
    """The subject, preheader, intro and the lead's bullets as the file has them."""
    text = _IssueText.read(issue_file)
    found = {name: _text_of(text.top[name][1]) if name in text.top else None
             for name in ISSUE_FIELDS}
    lead = text.top.get("lead")
    written = _entries(lead[1]).get("bullets") if lead and isinstance(
        lead[1], MappingNode) else None
    bullets = _texts_of(written[1]) if written else None
    return IssueHead(path=issue_file, digest=text.digest, subject=found["subject"],
                     preheader=found["preheader"], intro=found["intro"], bullets=bullets)


def set_issue_field(issue_file: Path, field: str, value: str, *,
                    expected_digest: str | None = None) -> Edit:
    """Write, change or remove (an empty or blank `value`) the issue's `subject:`,
    `preheader:` or `intro:`, changing only that key's lines (a new one goes
    after the keys a draft writes before it).

    Written as `set_field` writes an override (double quotes; the intro as a
    literal block when it reads back the same), and read back before the file
    is replaced: the field must hold `value` and every other key what it held.
    Refused: what the issue reader would refuse (control characters, a line
    break in the subject or preheader, too long), removing the subject.
    """
    if field not in ISSUE_FIELDS:
        raise NewsletterError(f'no issue field "{field}" to edit',
                              hint=f"edit one of {', '.join(ISSUE_FIELDS)}")
    value = "" if not value.strip() else value
    _check_value(field, value, ISSUE_FIELDS[field], one_line=field in _ONE_LINE)
    if field == "subject" and not value:
        raise NewsletterError("an issue needs a subject",
                              hint="write another subject instead of removing it")
    text = _IssueText.read(issue_file, expected_digest)
    written = text.top.get(field)
    edit = _Lines(text)
    if value:
        lines = _field_lines(field, value, text.root.start_mark.column)
        if written is None:
            _insert_top(edit, field, lines)
        else:
            _replace_key(edit, *written, lines)
    elif written is None:  # nothing to remove: the file stays as it is
        return _issue_edit(text, text, field, "issue")
    else:
        _remove_key(edit, *written)

    def holds(new: _IssueText, _: Sequence[Placed]) -> bool:
        now = new.top.get(field)
        mine = _text_of(now[1]) == value if now else not value
        return mine and _same_besides(text.root, new.root, field)

    edited = edit.text()
    if edited == text.text:  # the file says so already: nothing is written
        return _issue_edit(text, text, field, "issue")
    new, _ = text.rewritten(edited, NO_STORE, _stories(text), holds)
    return _issue_edit(text, new, field, "issue")


def set_bullets(issue_file: Path, bullets: Sequence[str], *,
                expected_digest: str | None = None) -> Edit:
    """Write the lead's `bullets:` (none: the key goes), changing only their lines.

    Each bullet is one double-quoted line of a block list; a bullet the file
    already holds at its place keeps its line as written (and its comment), a
    changed one is rewritten in place, those beyond the new list go, new ones
    follow the last. Bullets written another way (on one line, say) are
    rewritten whole. Read back before the file is replaced: the list must be
    `bullets` and every other key what it held. Refused: an empty bullet, more
    than the issue reader takes (`MAX_BULLETS`, each as a headline is checked,
    at most LONG characters), an issue without a lead written as keys.
    """
    wanted = tuple(bullets)
    _check_bullets(wanted)
    text = _IssueText.read(issue_file, expected_digest)
    lead = text.top.get("lead")
    if lead is None or _is_empty(lead[1]):
        raise NewsletterError("the issue has no lead to give bullets to",
                              location=text.at(lead[0].start_mark.line + 1) if lead else
                              SourceLocation(path=issue_file),
                              hint="pick a story into the lead first")
    key, node = lead
    if not isinstance(node, MappingNode) or node.flow_style:
        raise text.unusual("lead", key.start_mark.line)
    written = _entries(node).get("bullets")
    edit = _Lines(text)
    if not wanted:
        if written is None:
            return _issue_edit(text, text, "bullets", "lead")
        _remove_key(edit, *written)
    elif written is None:
        _insert_key(edit, node, "bullets", _bullet_lines(wanted, node.start_mark.column))
    elif _is_block_of_text(written[1]):
        _edit_bullets(edit, written[1], wanted)
    else:
        _replace_key(edit, *written, _bullet_lines(wanted, node.start_mark.column))

    def holds(new: _IssueText, _: Sequence[Placed]) -> bool:
        now = new.top["lead"][1]
        if not isinstance(now, MappingNode):
            return False
        found = _entries(now).get("bullets")
        mine = _texts_of(found[1]) == wanted if found else not wanted
        return mine and _same_besides(text.root, new.root, "lead") and \
            _same_besides(node, now, "bullets")

    edited = edit.text()
    if edited == text.text:  # the file says so already: nothing is written
        return _issue_edit(text, text, "bullets", "lead")
    new, _ = text.rewritten(edited, NO_STORE, _stories(text), holds)
    return _issue_edit(text, new, "bullets", "lead")


def _check_bullets(bullets: Sequence[str]) -> None:
    if len(bullets) > MAX_BULLETS:
        raise NewsletterError(f"{len(bullets)} bullets: the lead takes at most {MAX_BULLETS}",
                              hint="a standfirst has 2 or 3 bullets")
    for n, bullet in enumerate(bullets, 1):
        if not bullet.strip():
            raise NewsletterError(f"bullet {n} is empty", hint="write it, or leave it out")
        _check_value(f"bullet {n}", bullet, LONG, one_line=True)


def _issue_edit(text: _IssueText, new: _IssueText, field: str, section: str) -> Edit:
    """An edit of the issue's own words: `line` is where the key is now (or was)."""
    def line_of(source: _IssueText) -> int | None:
        top = source.top.get("lead" if field == "bullets" else field)
        if top is not None and field == "bullets":
            inner = _entries(top[1]).get(field) if isinstance(top[1], MappingNode) else None
            top = inner or top
        return top[0].start_mark.line + 1 if top else None

    return Edit(path=text.path, action="edit", story="", section=section,
                position=1 if section == "lead" else 0,
                line=line_of(new) or line_of(text) or 0, digest=new.digest,
                before=text.data, field=field)


def _stories(text: _IssueText) -> list[_Signature]:
    """The stories an edit of the issue's own words leaves as they are."""
    return [_signature(p) for p in text.placed(NO_STORE) if not p.placeholder]


def _text_of(node: Node) -> str | None:
    """A scalar's text as written; None for a null or anything but a scalar."""
    return None if _is_empty(node) else _scalar(node)


def _texts_of(node: Node) -> tuple[str, ...] | None:
    """A list of scalars as their texts; None for anything else."""
    if not isinstance(node, SequenceNode):
        return None
    texts = tuple(text for text in map(_text_of, node.value) if text is not None)
    return texts if len(texts) == len(node.value) else None


def _is_block_of_text(node: Node) -> TypeGuard[SequenceNode]:
    return isinstance(node, SequenceNode) and not node.flow_style and bool(node.value) and \
        all(isinstance(item, ScalarNode) for item in node.value)


def _bullet_lines(bullets: Sequence[str], column: int) -> list[str]:
    indent = " " * column
    return [f"{indent}bullets:", *(f"{indent}  - {_quoted(b)}" for b in bullets)]


def _edit_bullets(edit: _Lines, seq: SequenceNode, bullets: Sequence[str]) -> None:
    """The bullets of a block list made `bullets`, item by item: an unchanged one
    keeps its line, a changed one keeps its dash and the comment after it, one
    that goes takes the comment lines directly above it."""
    text, column = edit.source, seq.start_mark.column
    spans: list[tuple[int, int]] = []
    floor = seq.start_mark.line
    for item in seq.value:
        dash = text._dash_line(item, column, floor)
        spans.append((dash, max(text.last_line(item), dash)))
        floor = spans[-1][1] + 1
    for (dash, end), item, bullet in zip(spans, seq.value, bullets, strict=False):
        if _text_of(item) == bullet and str(item.tag).endswith(":str"):
            continue
        line = text.lines_of[dash]
        prefix = line[:item.start_mark.column] if item.start_mark.line == dash else \
            line[:column] + "- "
        new = prefix + _quoted(bullet)
        rest = line[item.end_mark.column:].rstrip("\r\n")
        if end == dash and item.end_mark.line == dash and rest.strip().startswith("#"):
            new += rest
        edit.replace((dash, end + 1), [new])
    for n, (dash, end) in enumerate(spans[len(bullets):], len(bullets)):
        head = dash  # a bullet that goes takes the comment lines written directly above it
        while head > (spans[n - 1][1] + 1 if n else seq.start_mark.line) and \
                text._comment_at(head - 1, column):
            head -= 1
        edit.replace((head, end + 1), [])
    if len(bullets) > len(spans):
        last = spans[-1][1]
        edit._ensure_newline(last)
        edit.insert(last + 1, [" " * column + "- " + _quoted(b) for b in bullets[len(spans):]])


def _insert_top(edit: _Lines, field: str, lines: list[str]) -> None:
    """A new top-level key after the last of the keys before it in `_TOP_ORDER`,
    else before the file's first key."""
    text = edit.source
    earlier = [text.top[name][1] for name in _TOP_ORDER[:_TOP_ORDER.index(field)]
               if name in text.top]
    if earlier:
        end = max(text.last_line(value) for value in earlier)
        edit._ensure_newline(end)
        edit.insert(end + 1, lines)
    else:
        edit.insert(min(key.start_mark.line for key, _ in text.root.value), lines)


def _same_besides(old: MappingNode, new: MappingNode, key: str) -> bool:
    """Whether two mappings hold the same keys and values (as composed: tags and
    texts, whatever the quoting or layout), `key` aside."""
    def rest(node: MappingNode) -> list[tuple[object, object]]:
        return [(_tree(k), _tree(v)) for k, v in node.value
                if not (isinstance(k, ScalarNode) and k.value == key)]

    return rest(old) == rest(new)


def _tree(node: Node) -> object:
    """A composed node as plain values (the nesting is bounded: `load_yaml` checks it)."""
    if isinstance(node, MappingNode):
        return "map", tuple((_tree(k), _tree(v)) for k, v in node.value)
    if isinstance(node, SequenceNode):
        return "seq", tuple(_tree(item) for item in node.value)
    return node.tag, node.value


def _check_value(field: str, value: str, limit: int, *, one_line: bool = False) -> None:
    """Refuse what the issue reader would refuse, before the file is touched: it
    counts a one-line field's characters with its spaces run together."""
    bad = _SURROGATE.search(value) or _CONTROL.search(value)
    if bad:
        raise NewsletterError(f"the {field} contains the invisible character "
                              f"U+{ord(bad.group()):04X}", hint="retype the text around it")
    if one_line and _LINE_BREAK.search(value):
        raise NewsletterError(f"the {field} is one line: it has a line break",
                              hint=f"write the {field} on one line")
    counted = " ".join(value.split()) if one_line else value.strip()
    if len(counted) > limit:
        raise NewsletterError(f"the {field} has {len(counted):,} characters: at most "
                              f"{limit:,}", hint=f"shorten the {field}")


def _no_such_field(text: _IssueText, item: Placed, field: str) -> NewsletterError:
    hint = {"lead": "the lead's standfirst is its bullets: edit them instead",
            "lead.body": "a related story is a headline alone"}.get(
        item.section, "edit its headline instead")
    return NewsletterError(f"{item.name} is {item.where()}, which has no {field}",
                           location=text.at(item.line), hint=hint)


def _field_lines(field: str, value: str, column: int) -> list[str]:
    """`field: value` as YAML lines at `column`: a literal block for several lines
    when it reads back exactly, else one double-quoted line (JSON's escapes are
    YAML's, and what YAML refuses raw is escaped too)."""
    indent = " " * column
    block = _literal_block(value)
    if block is not None:
        header, body = block
        return [f"{indent}{field}: {header}",
                *(f"{indent}  {line}" if line else "" for line in body)]
    return [f"{indent}{field}: {_quoted(value)}"]


def _quoted(value: str) -> str:
    """`value` in double quotes: JSON's escapes are YAML's, and what YAML refuses raw
    in a file is escaped too."""
    return _ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value,
                                                                        ensure_ascii=False))


def _literal_block(value: str) -> tuple[str, list[str]] | None:
    """`|` or `|-` and the lines of a multi-line value, when a literal block holds it
    exactly (no tabs or odd characters, no leading space, at most one final newline)."""
    if "\n" not in value.rstrip("\n") or value.startswith((" ", "\n")) or \
            value.endswith("\n\n") or re.search(r"[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd"
                                                r"\U00010000-\U0010ffff]", value) or \
            _ESCAPED.search(value):
        return None
    header = "|" if value.endswith("\n") else "|-"
    body = value.removesuffix("\n").split("\n")
    sample = f"k: {header}\n" + "".join(f"  {line}\n" if line else "\n" for line in body)
    try:
        same = YAML(typ="safe").load(sample) == {"k": value}
    except YAMLError:
        same = False
    return (header, body) if same else None


def _replace_key(edit: _Lines, key: Node, value: Node, lines: list[str]) -> None:
    """A key and its value replaced by `lines`; what is before the key on its line
    (an item's `- `) stays, and so does a comment after a one-line value (on the
    key's line: after a block's `|`, never inside the block)."""
    text = edit.source
    start, stop = text.key_span(key, value)
    first = text.lines_of[start]
    lines = [first[:key.start_mark.column] + lines[0].lstrip(" "), *lines[1:]]
    if stop - start == 1 and value.end_mark.line == start:
        rest = first[value.end_mark.column:].rstrip("\r\n")
        if rest.strip().startswith("#"):
            lines[0] += rest
    edit.replace((start, stop), lines)


def _remove_key(edit: _Lines, key: Node, value: Node) -> None:
    text = edit.source
    start, stop = text.key_span(key, value)
    if text.lines_of[start][:key.start_mark.column].strip():  # `- headline: ...`
        raise text.unusual(f"{key.value}: (first on its item's line)", start)
    edit.replace((start, stop), [])


def _insert_key(edit: _Lines, node: MappingNode, field: str, lines: list[str]) -> None:
    """A new key after the key it follows: a blurb or the lead's bullets after the
    headline, the headline after the story or link (else after the item's last key)."""
    text, keys = edit.source, _entries(node)
    follows = ["headline"] if field in ("blurb", "bullets") and "headline" in keys else \
        [name for name in ("story", "url") if name in keys]
    anchors = [keys[name][1] for name in follows] or [node.value[-1][1]]
    end = max(text.last_line(value) for value in anchors)
    edit._ensure_newline(end)
    edit.insert(end + 1, lines)


def _position_before(text: _IssueText, placed: Sequence[Placed], moving: Placed,
                     ref: str) -> int:
    other = _find_placed(text, placed, ref)
    if other is moving:
        raise NewsletterError(f"{ref} is the story being moved", hint="name another story")
    if other.section != moving.section:
        raise NewsletterError(
            f"{moving.name} is in {moving.section} and {other.name} in {other.section}",
            location=text.at(other.line),
            hint=f'a story moves within its section: "newsletter unpick {moving.name}", then '
                 f'"newsletter pick {moving.name} --into {other.section}"')
    return other.position - (moving.position < other.position)


def _already_in(text: _IssueText, there: Placed, story: Story, section: str
                ) -> NewsletterError:
    if there.section == section and section != "lead":
        hint = f'to change its place, "newsletter move {story.id} --to N"'
    elif there.section == "lead.body":
        hint = "it is a related story in the lead's body; take that out first to pick it here"
    else:
        hint = f'to have it here instead, "newsletter unpick {story.id}" first'
    return NewsletterError(
        f"{story.id} is already in this issue, {there.where()}: {text.line_text(there.line)}",
        location=text.at(there.line), hint=hint)


def _find_placed(text: _IssueText, placed: Sequence[Placed], ref: str) -> Placed:
    """The item `ref` names: its id, its reference or link as written, or a unique
    start of its id."""
    pickable = [p for p in placed if not p.placeholder]
    exact = [p for p in pickable if ref and ref in (p.story_id, p.ref, p.url)]
    if exact:
        return exact[0]
    if len(ref) < MIN_PREFIX:
        raise NewsletterError(f'"{ref}" is too short to name a story',
                              hint=f"give at least {MIN_PREFIX} characters of its id, or "
                                   "the whole id or link")
    starting = [p for p in pickable
                if (p.story_id or "").startswith(ref) or p.ref.startswith(ref)]
    if len(starting) == 1:
        return starting[0]
    held = ", ".join(f"{p.name} ({p.where()})" for p in pickable[:12]) or "no stories yet"
    if starting:
        raise NewsletterError(f'"{ref}" starts {len(starting)} stories of this issue',
                              location=SourceLocation(path=text.path),
                              hint=f"give more of the id: {held}")
    raise NewsletterError(f'no story "{ref}" in this issue', location=SourceLocation(
        path=text.path), hint=f"it holds: {held}")


_Signature = tuple[str, str, str]


def _signature(p: Placed) -> _Signature:
    return p.section, p.ref, p.url


_RANK = {"lead": 0, "lead.body": 1, "catch_up": 2, "deep_dives": 3}  # the order of `placed`


def _expected_after_pick(before: Sequence[Placed], section: str, story: Story,
                         replaced: Placed | None) -> list[_Signature]:
    """The stories the issue should hold after a pick: the new one last in its section."""
    kept = [_signature(p) for p in before if not p.placeholder and p is not replaced]
    index = sum(_RANK[name] <= _RANK[section] for name, _, _ in kept)
    return [*kept[:index], (section, story.id, ""), *kept[index:]]


def _expected_after_move(placed: Sequence[Placed], moving: Placed,
                         target: int) -> list[_Signature]:
    """The stories the issue should hold after a move: the same, one elsewhere in its section."""
    others = [p for p in placed if not p.placeholder and p is not moving]
    ahead = [p for p in others if p.section == moving.section
             and p.position - (p.position > moving.position) < target]
    index = sum(_RANK[p.section] < _RANK[moving.section] for p in others) + len(ahead)
    signatures = [_signature(p) for p in others]
    return [*signatures[:index], _signature(moving), *signatures[index:]]


# --- the edits, line by line ------------------------------------------------------


def _pick_lead(edit: _Lines, story: Story, lead: Placed | None, *, replace: bool
               ) -> tuple[Placed | None, tuple[str, ...]]:
    text = edit.source
    entry = text.top.get("lead")
    line = f"story: {_id_text(story.id)}  # {_label(story)}"
    if entry is None:
        edit.add_section("lead", [line])
        return None, ()
    key, value = entry
    if _is_empty(value):
        edit.insert(key.start_mark.line + 1, [" " * (key.start_mark.column + 2) + line])
        return None, ()
    if not isinstance(value, MappingNode) or value.flow_style:
        raise text.unusual("lead", key.start_mark.line)
    keys = _entries(value)
    real = lead is not None and not lead.placeholder and (lead.ref or lead.url)
    if real and not replace:
        assert lead is not None
        title = f' "{lead.title}"' if lead.title else ""
        raise NewsletterError(
            f"the lead is already {lead.name}{title}", location=text.at(lead.line),
            hint=f'to put {story.id} in its place, add --replace (its bullets and body stay); '
                 f'or pick it into catch_up or deep_dives')
    if real:
        going = [k for k in _LEAD_STORY_KEYS if k in keys]
    else:  # the draft's placeholder: its link, and its headline unless the editor wrote one
        going = [k for k in ("story", "url") if k in keys]
        if _scalar(keys.get("headline", (None, None))[1]) == _PLACEHOLDER_HEADLINE:
            going.append("headline")
    spans = sorted(text.key_span(keys[k][0], keys[k][1]) for k in going)
    indent = " " * value.start_mark.column
    if spans:
        edit.replace(spans[0], [indent + line])
        for span in spans[1:]:
            edit.replace(span, [])
    else:
        edit.insert(value.start_mark.line, [indent + line])
    kept = tuple(k for k in keys if k not in going) if real else ()
    return (lead if real else None), kept


def _unpick_lead(edit: _Lines) -> bool:
    text = edit.source
    _, value = text.top["lead"]
    assert isinstance(value, MappingNode)
    keys = _entries(value)
    spans = sorted(text.key_span(*keys[k]) for k in _LEAD_STORY_KEYS if k in keys)
    indent = " " * value.start_mark.column
    edit.replace(spans[0], [f"{indent}url: {PLACEHOLDER_URL}",
                            f'{indent}headline: "{_PLACEHOLDER_HEADLINE}"'])
    for span in spans[1:]:
        edit.replace(span, [])
    return True


def _pick_item(edit: _Lines, section: str, story: Story) -> None:
    text = edit.source
    line = f"- story: {_id_text(story.id)}  # {_label(story)}"
    entry = text.top.get(section)
    if entry is None:
        edit.add_section(section, ["items:", "  " + line])
        return
    key, value = entry
    if _is_empty(value):
        indent = " " * (key.start_mark.column + 2)
        edit.insert(key.start_mark.line + 1, [indent + "items:", indent + "  " + line])
        return
    if not isinstance(value, MappingNode) or value.flow_style:
        raise text.unusual(section, key.start_mark.line)
    items = _entries(value).get("items")
    indent = " " * value.start_mark.column
    if items is None:
        edit.insert(text.last_line(value) + 1, [indent + "items:", indent + "  " + line])
        return
    items_key, seq = items
    if _is_empty(seq) or (isinstance(seq, SequenceNode) and seq.flow_style and not seq.value):
        edit.open_empty_list(items_key, seq, [indent + "  " + line])
        return
    if not isinstance(seq, SequenceNode) or seq.flow_style:
        raise text.unusual(f"{section}.items", items_key.start_mark.line)
    units = text.units(section)
    dash = " " * seq.start_mark.column
    holders = [u for u in units if text.is_placeholder(u.node)]
    if holders:
        edit.replace((holders[0].dash, holders[0].end + 1), [dash + line])
        for unit in holders[1:]:  # rare: their own lines only, never two gaps at once
            edit.replace((unit.head, unit.end + 1), [])
    else:
        edit.append_unit(units, [dash + line])


def _unpick_item(edit: _Lines, gone: Placed) -> bool:
    """Remove the item; the last one of its section gives way to the placeholder."""
    text = edit.source
    units = text.units(gone.section)
    index = gone.position - 1
    if len(units) > 1:
        edit.remove_unit(units, index)
        return False
    unit = units[0]
    dash = " " * text.lines_of[unit.dash].index("-")
    edit.replace((unit.dash, unit.end + 1), [f"{dash}- url: {PLACEHOLDER_URL}",
                                            f'{dash}  headline: "{_TODO[gone.section]}"'])
    return True


def _id_text(story_id: str) -> str:
    """An id as YAML text: plain when it is a plain word, else quoted."""
    return story_id if _PLAIN_ID.fullmatch(story_id) else json.dumps(story_id)


def _entries(node: MappingNode) -> dict[str, tuple[Node, Node]]:
    return {k.value: (k, v) for k, v in node.value if isinstance(k, ScalarNode)}


def _scalar(node: Node | None) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def _is_empty(node: Node) -> bool:
    """`key:` with nothing after it (or `~`, `null`)."""
    return isinstance(node, ScalarNode) and str(node.tag or "").endswith(":null")


@dataclass(frozen=True, slots=True)
class _Unit:
    """One item of a block list: its comment lines directly above (`head`), the
    line of its dash, its last line (0-based, inclusive)."""

    head: int
    dash: int
    end: int
    node: Node


class _IssueText:
    """An issue file as lines (line endings kept) plus its composed nodes."""

    def __init__(self, path: Path, data: bytes, text: str, root: MappingNode) -> None:
        self.path = path
        self.data = data
        self.text = text
        self.digest = hashlib.sha256(data).hexdigest()
        self.lines_of = _split_lines(text)
        self.newline = "\r\n" if self.lines_of and self.lines_of[0].endswith("\r\n") else "\n"
        self.root = root
        self.top = _entries(root)

    @classmethod
    def read(cls, path: Path, expected_digest: str | None = None) -> _IssueText:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NewsletterError(f"cannot read the file: {exc.strerror or exc}",
                                  location=SourceLocation(path=path),
                                  hint="check the issue file's name") from exc
        if expected_digest is not None and hashlib.sha256(data).hexdigest() != expected_digest:
            raise _changed(path)
        return cls.parse(path, data)

    @classmethod
    def parse(cls, path: Path, data: bytes, *, edited: bool = False) -> _IssueText:
        """`data` composed; the file at `path` is first checked as every reader does
        (size, encoding, control characters, nesting), unless `data` is our edit of it."""
        problems: list[Problem] = []
        if not edited:
            load_yaml(path, problems)
        text = data.decode("utf-8", errors="replace")
        if not problems and _ODD_BREAKS.search(text):
            line = text.count("\n", 0, _ODD_BREAKS.search(text).start()) + 1  # type: ignore[union-attr]  # searched just above
            problems.append(Problem(location=SourceLocation(path=path, line=line), field="",
                                    message="a line break other than \\n or \\r\\n",
                                    hint="save the file with ordinary line breaks"))
        root = None
        if not problems:
            try:
                root = YAML(typ="safe").compose(text)
            except YAMLError as exc:
                problems.append(Problem(location=SourceLocation(path=path), field="",
                                        message=str(exc)))
        if problems:
            raise NewsletterError(f"cannot read the file: {problems[0].message}",
                                  location=problems[0].location,
                                  hint='fix the file first ("newsletter build" shows where)')
        if not isinstance(root, MappingNode) or root.flow_style:
            raise NewsletterError("the file is not a mapping of keys",
                                  location=SourceLocation(path=path))
        return cls(path, data, text, root)

    # --- where things are

    def at(self, line: int) -> SourceLocation:
        return SourceLocation(path=self.path, line=line)

    def line_text(self, line: int) -> str:
        return self.lines_of[line - 1].strip()

    def unusual(self, where: str, line: int) -> NewsletterError:
        return NewsletterError(f"{where} is written in a form this command does not edit "
                               "(on one line, or not as keys)", location=self.at(line + 1),
                               hint="write it as keys, one per line, or edit it by hand")

    def last_line(self, node: Node) -> int:
        """The 0-based line a node ends on, trailing blank lines not counted."""
        if isinstance(node, MappingNode | SequenceNode) and node.value and not node.flow_style:
            last = node.value[-1]
            return self.last_line(last[1] if isinstance(last, tuple) else last)
        end, start = node.end_mark, int(node.start_mark.line)
        line = min(int(end.line) - (int(end.column) == 0), len(self.lines_of) - 1)
        line = max(line, start)
        while line > start and not self.lines_of[line].strip():
            line -= 1
        return line

    def key_span(self, key: Node, value: Node) -> tuple[int, int]:
        """The lines [start, stop) of one key and its value."""
        return key.start_mark.line, self.last_line(value) + 1

    def units(self, section: str) -> list[_Unit]:
        _, value = self.top[section]
        assert isinstance(value, MappingNode)
        items_key, seq = _entries(value)["items"]
        assert isinstance(seq, SequenceNode)
        column, floor, units = seq.start_mark.column, items_key.start_mark.line + 1, []
        for item in seq.value:
            dash = self._dash_line(item, column, floor)
            head = dash
            while head > floor and self._comment_at(head - 1, column):
                head -= 1
            end = max(self.last_line(item), dash)
            units.append(_Unit(head=head, dash=dash, end=end, node=item))
            floor = end + 1
        return units

    def _dash_line(self, item: Node, column: int, floor: int) -> int:
        for line in range(item.start_mark.line, floor - 1, -1):
            text = self.lines_of[line]
            if text[column:column + 1] == "-" and not text[:column].strip():
                return line
        raise self.unusual("the list", item.start_mark.line)

    def _comment_at(self, line: int, column: int) -> bool:
        text = self.lines_of[line]
        stripped = text.lstrip(" ")
        return stripped.startswith("#") and len(text) - len(stripped) >= column

    def scalar_lines(self) -> set[int]:
        """Lines inside a scalar written over several lines (never a comment there)."""
        inside: set[int] = set()
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, ScalarNode):
                inside.update(range(node.start_mark.line + 1, node.end_mark.line + 1))
            elif isinstance(node, MappingNode):
                stack += [part for pair in node.value for part in pair]
            elif isinstance(node, SequenceNode):
                stack += node.value
        return inside

    # --- what is placed where

    def item_node(self, item: Placed) -> MappingNode:
        """The mapping an item of `placed` is written as."""
        def entry(node: Node, key: str) -> Node:
            assert isinstance(node, MappingNode)  # `placed` went through mappings only
            return _entries(node)[key][1]

        if item.section == "lead":
            node = entry(self.root, "lead")
        elif item.section == "lead.body":
            blocks = entry(entry(self.root, "lead"), "body").value
            node = entry(blocks[item.position - 1], "related")
        else:
            node = entry(entry(self.root, item.section), "items").value[item.position - 1]
        assert isinstance(node, MappingNode)  # `placed` lists mappings only
        return node

    def is_placeholder(self, node: Node) -> bool:
        if not isinstance(node, MappingNode):
            return False
        keys = _entries(node)
        return "story" not in keys and _scalar(keys.get("url", (None, None))[1]) == PLACEHOLDER_URL

    def placed(self, lookup: StoryLookup) -> tuple[Placed, ...]:
        found: list[Placed] = []
        lead = self.top.get("lead")
        if lead is not None and isinstance(lead[1], MappingNode):
            found.append(self._place("lead", 1, lead[1], lookup))
            body = _entries(lead[1]).get("body")
            for n, block in enumerate(body[1].value if body and isinstance(
                    body[1], SequenceNode) else ()):
                related = _entries(block).get("related") if isinstance(block, MappingNode) \
                    else None
                if related and isinstance(related[1], MappingNode):
                    found.append(self._place("lead.body", n + 1, related[1], lookup))
        for section in SECTIONS[1:]:
            entry = self.top.get(section)
            items = _entries(entry[1]).get("items") if entry and isinstance(
                entry[1], MappingNode) else None
            if items is None or not isinstance(items[1], SequenceNode):
                continue
            for n, item in enumerate(items[1].value):
                if isinstance(item, MappingNode) and "text" not in _entries(item):
                    found.append(self._place(section, n + 1, item, lookup))
        return tuple(found)

    def slots(self, lookup: StoryLookup) -> tuple[Slot, ...]:
        found: list[Slot | None] = []
        lead = self.top.get("lead")
        if lead is not None and isinstance(lead[1], MappingNode):
            found.append(self._slot("lead", 1, lead[1], lookup))
            body = _entries(lead[1]).get("body")
            found += [self._block(n, block, lookup) for n, block in enumerate(
                body[1].value if body and isinstance(body[1], SequenceNode) else (), 1)]
        for section in SECTIONS[1:]:
            entry = self.top.get(section)
            items = _entries(entry[1]).get("items") if entry and isinstance(
                entry[1], MappingNode) else None
            found += [self._slot(section, n, item, lookup) for n, item in enumerate(
                items[1].value if items and isinstance(items[1], SequenceNode) else (), 1)]
        sponsors = self.top.get("sponsors")
        found += [self._sponsor(n, box) for n, box in enumerate(
            sponsors[1].value if sponsors and isinstance(sponsors[1], SequenceNode) else (), 1)]
        return tuple(slot for slot in found if slot is not None)

    def _slot(self, section: str, position: int, node: Node, lookup: StoryLookup
              ) -> Slot | None:
        if not isinstance(node, MappingNode):
            return None  # not an item: the issue reader says so
        keys = _entries(node)
        line = node.start_mark.line + 1
        if "text" in keys:
            return Slot(slot=section, position=position, line=line, kind="text",
                        text=_scalar(keys["text"][1]) or "")
        placed = self._place(section, position, node, lookup)
        kind: Literal["story", "inline", "placeholder"] = \
            "placeholder" if placed.placeholder else "story" if placed.ref else "inline"
        return Slot(slot=section, position=position, line=line, kind=kind, ref=placed.ref,
                    url=placed.url, story_id=placed.story_id, title=placed.title,
                    headline=_scalar(keys.get("headline", (None, None))[1]),
                    blurb=_scalar(keys.get("blurb", (None, None))[1]))

    def _block(self, position: int, block: Node, lookup: StoryLookup) -> Slot | None:
        """A block of the lead's body: text, a related story or a video."""
        entries = _entries(block) if isinstance(block, MappingNode) else {}
        if len(entries) != 1:
            return None  # not a block: the issue reader says so
        kind, (_, value) = next(iter(entries.items()))
        line = block.start_mark.line + 1
        if kind == "text":
            return Slot(slot="lead.body", position=position, line=line, kind="text",
                        text=_scalar(value) or "")
        if kind == "related":
            slot = self._slot("lead.body", position, value, lookup)
            return dataclasses.replace(slot, kind="related", line=line) if slot else None
        if kind == "video" and isinstance(value, MappingNode):
            keys = _entries(value)
            title = _scalar(keys.get("title", (None, None))[1])
            return Slot(slot="lead.body", position=position, line=line, kind="video",
                        url=_scalar(keys.get("url", (None, None))[1]) or "",
                        title=title or "", headline=title)
        return None

    def _sponsor(self, position: int, node: Node) -> Slot | None:
        if not isinstance(node, MappingNode):
            return None
        keys = _entries(node)
        headline = _scalar(keys.get("headline", (None, None))[1])
        return Slot(slot="sponsors", position=position, line=node.start_mark.line + 1,
                    kind="sponsor", url=_scalar(keys.get("url", (None, None))[1]) or "",
                    title=headline or "", headline=headline)

    def _place(self, section: str, position: int, node: MappingNode,
               lookup: StoryLookup) -> Placed:
        keys = _entries(node)
        ref = _scalar(keys.get("story", (None, None))[1]) or ""
        url = _scalar(keys.get("url", (None, None))[1]) or ""
        named = keys.get("story") or keys.get("url")
        found = lookup.find(ref) if ref else None
        headline = _scalar(keys.get("headline", (None, None))[1]) or ""
        return Placed(section=section, position=position,
                      line=(named[0] if named else node).start_mark.line + 1,
                      ref=ref, url=url, story_id=found.id if found else None,
                      title=found.title if found else headline,
                      placeholder=self.is_placeholder(node))

    # --- writing

    def rewritten(self, text: str, lookup: StoryLookup, expected: Sequence[_Signature],
                  holds: Callable[[_IssueText, Sequence[Placed]], bool] | None = None
                  ) -> tuple[_IssueText, tuple[Placed, ...]]:
        """Check the edited text holds exactly the stories `expected`, in order (and
        whatever else `holds` asks of it); then write it in place of the file
        (refused if the file changed since it was read)."""
        data = text.encode("utf-8")
        try:
            new = _IssueText.parse(self.path, data, edited=True)
        except NewsletterError as exc:
            raise self._unsafe() from exc
        placed = new.placed(lookup)
        if [_signature(p) for p in placed if not p.placeholder] != list(expected):
            raise self._unsafe()
        if holds is not None and not holds(new, placed):
            raise self._unsafe()
        replace_file(self.path, data, expected_digest=self.digest)
        return new, placed

    def _unsafe(self) -> NewsletterError:
        return NewsletterError("this change cannot be made safely in this file's layout",
                               location=SourceLocation(path=self.path),
                               hint="nothing was written; make the change in a text editor")


class _Lines:
    """Edits to an issue's lines, made against the lines as read and applied at once."""

    def __init__(self, source: _IssueText) -> None:
        self.source = source
        self.changes: list[tuple[int, int, list[str]]] = []  # [start, stop) -> new lines
        self.dropped: set[int] = set()  # comment lines taken out (offered candidates)

    def insert(self, at: int, lines: Sequence[str]) -> None:
        self.replace((at, at), lines)

    def replace(self, span: tuple[int, int], lines: Sequence[str]) -> None:
        nl = self.source.newline
        self.changes.append((span[0], span[1], [line + nl for line in lines]))

    def add_section(self, section: str, body: Sequence[str]) -> None:
        """A new top-level section, before the next one in order, else after the last key."""
        text, lines = self.source, [f"{section}:", *("  " + line for line in body)]
        later = [text.top[s][0] for s in SECTIONS[SECTIONS.index(section) + 1:]
                 if s in text.top]
        if later:
            at = min(key.start_mark.line for key in later)
            while at > 0 and text._comment_at(at - 1, 0):
                at -= 1
            self.insert(at, [*lines, ""])
        else:
            last = text.root.value[-1][1] if text.root.value else text.root
            end = text.last_line(last) + 1 if text.root.value else len(text.lines_of)
            self._ensure_newline(end - 1)
            self.insert(end, ["", *lines])

    def open_empty_list(self, key: Node, seq: Node, items: Sequence[str]) -> None:
        """`items: []` or `items:` with nothing -> `items:` and the new lines below."""
        line = seq.start_mark.line if isinstance(seq, SequenceNode) else key.start_mark.line
        text = self.source.lines_of[line]
        ending = text[len(text.rstrip("\r\n")):] or self.source.newline
        if isinstance(seq, SequenceNode):  # cut the [] and keep any comment after it
            rest = text[seq.end_mark.column:].rstrip("\r\n").strip()
            text = text[:seq.start_mark.column].rstrip() + (" " + rest if rest else "")
        self.changes.append((line, line + 1, [text.rstrip("\r\n") + ending]))
        self.insert(line + 1, items)

    def append_unit(self, units: Sequence[_Unit], lines: Sequence[str]) -> None:
        """After the last item, spaced as the last two are."""
        text, last = self.source, units[-1]
        gap = text.lines_of[units[-2].end + 1:last.head] if len(units) > 1 else []
        blank = [""] * len(gap) if all(not line.strip() for line in gap) else []
        self._ensure_newline(last.end)
        self.insert(last.end + 1, [*blank, *lines])

    def remove_unit(self, units: Sequence[_Unit], index: int) -> None:
        """Take an item out with the gap after it (the one before it, when last)."""
        unit = units[index]
        if index + 1 < len(units):
            self.replace((unit.head, units[index + 1].head), [])
        elif index > 0:
            self.replace((units[index - 1].end + 1, unit.end + 1), [])
        else:
            self.replace((unit.head, unit.end + 1), [])

    def reorder(self, units: Sequence[_Unit], old: int, new: int) -> None:
        """Move one item among the others; the gaps between items stay in place."""
        lines = self.source.lines_of
        order = [u for n, u in enumerate(units) if n != old]
        order.insert(new, units[old])
        region: list[str] = []
        for n, unit in enumerate(order):
            body = lines[unit.head:unit.end + 1]
            if not body[-1].endswith("\n"):
                body[-1] += self.source.newline
            region += body
            if n + 1 < len(units):
                region += lines[units[n].end + 1:units[n + 1].head]
        if not lines[units[-1].end].endswith("\n"):
            region[-1] = region[-1].rstrip("\r\n")
        self.changes.append((units[0].head, units[-1].end + 1, region))

    def unoffer(self, story_id: str) -> bool:
        """Drop the story's line from the candidates a draft offers as comments (and
        the heading, when none is left)."""
        lines = self.source.lines_of
        inside = self.source.scalar_lines()
        offered = re.compile(rf"#\s*-\s*story:\s*{re.escape(story_id)}(?:\s|$)")
        header = next((n for n, line in enumerate(lines) if line.rstrip() == _OFFERED_HEADER
                       and n not in inside), None)
        dropped = {n for n, line in enumerate(lines)
                   if n not in inside and offered.match(line)}
        if not dropped:
            return False
        self.dropped |= dropped
        if header is not None:
            rest = [n for n, line in enumerate(lines[header + 1:], header + 1)
                    if line.startswith("#") and n not in self.dropped]
            if not rest or not re.match(r"#\s*-\s*story:", lines[rest[0]]):
                self.dropped.add(header)
                self._drop_blank_end()
        return True

    def _drop_blank_end(self) -> None:
        """Blank lines left at the very end once the offered candidates are gone."""
        lines, end = self.source.lines_of, len(self.source.lines_of)
        while end > 0 and (end - 1 in self.dropped or not lines[end - 1].strip()):
            end -= 1
        tail = set(range(end, len(lines)))
        if any(n in self.dropped for n in tail):
            self.dropped |= tail

    def _ensure_newline(self, line: int) -> None:
        lines = self.source.lines_of
        if 0 <= line < len(lines) and not lines[line].endswith("\n"):
            self.changes.append((line, line + 1, [lines[line] + self.source.newline]))

    def text(self) -> str:
        lines = list(self.source.lines_of)
        for n in self.dropped:
            self.changes.append((n, n + 1, []))
        for start, stop, new in sorted(self.changes, key=lambda c: (c[0], c[1]), reverse=True):
            lines[start:stop] = new
        return "".join(lines)


def _split_lines(text: str) -> list[str]:
    """Lines with their endings (\\n or \\r\\n); only \\n ends a line here, as in
    the composer's marks once other breaks are refused."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _changed(path: Path) -> EditConflict:
    return EditConflict(f"{path.name} changed since it was read",
                        location=SourceLocation(path=path),
                        hint="nothing was written: read it again, then make the change")


# --- writing files whole -----------------------------------------------------------


def replace_file(path: Path, data: bytes, *, expected_digest: str | None = None) -> None:
    """Replace `path` with `data`: written aside, flushed to disk, renamed over it
    (the file's permissions kept). With `expected_digest`, refused (EditConflict)
    if the file no longer holds the bytes it names.

    A save from a text editor that lands between the check and the rename
    would be lost without a word, so where Linux can (renameat2), the new file
    is exchanged with the old one in one step and the file it replaced is
    checked after the fact: if it is not the one expected, the two are
    exchanged back and the edit refused. Only two saves within the same few
    microseconds could still cross; elsewhere, the check before the rename is
    all there is.
    """
    with _aside(path, data) as partial:
        with contextlib.suppress(OSError):
            partial.chmod(path.stat().st_mode & 0o7777)
        if expected_digest is None:
            partial.replace(path)
        else:
            _replace_unchanged(path, partial, expected_digest)
    _sync_folder(path.parent)


def _replace_unchanged(path: Path, partial: Path, expected_digest: str) -> None:
    if _digest_or_none(path) != expected_digest:
        raise _changed(path)
    try:
        exchanged = exchange(partial, path)
    except FileNotFoundError as exc:  # removed since the check
        raise _changed(path) from exc
    if not exchanged:
        partial.replace(path)
    elif _digest_or_none(partial) != expected_digest:  # `partial` names the file replaced
        exchange(partial, path)  # a save came in between: it goes back in place
        raise _changed(path)


def write_new_file(path: Path, data: bytes) -> None:
    """Create `path` with `data`, whole or not at all; FileExistsError if it exists."""
    with _aside(path, data) as partial:
        partial.chmod(0o666 & ~_umask())
        os.link(partial, path)  # never replaces: a file made meanwhile stays
    _sync_folder(path.parent)


@contextlib.contextmanager
def _aside(path: Path, data: bytes) -> Iterator[Path]:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def _digest_or_none(path: Path) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the system lets a folder be synced)."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would, for a moment,
    for every thread)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


# --- feeds added to newsletter.yaml -----------------------------------------------


def add_feeds(settings_file: Path, feeds: Iterable[FeedSpec], *,
              read_back: Callable[[Path], object] | None = None,
              source: str = "the list") -> list[FeedSpec]:
    """Append feeds whose URL the desk does not list yet; returns those added.

    `read_back` is the settings reader (`config.load_settings`): the new text
    is read back by it before it replaces the file, and if the reader would
    refuse it (too many feeds, a name or address it does not take), nothing is
    written and a NewsletterError says why, naming each feed of `source` at
    fault. The reader's own code decides, so the limits cannot drift apart.
    """
    yaml = _round_trip()
    document = _load(yaml, settings_file)
    listed = document.get("feeds")
    if not isinstance(listed, CommentedSeq):
        listed = CommentedSeq()
        document["feeds"] = listed
    had = len(listed)
    offered = list(feeds)
    added = _append_new(listed, offered)
    if added:
        text = _dump(yaml, document)
        if read_back:
            problems = _read_back(settings_file, text, read_back)
            if problems:
                raise _import_refused(problems, source=source, listed=len(offered),
                                      added=added, had=had)
        replace_file(settings_file, text.encode("utf-8"))
    return added


def _append_new(listed: CommentedSeq, feeds: Iterable[FeedSpec]) -> list[FeedSpec]:
    known = {str(entry.get("url")) for entry in listed if isinstance(entry, dict)}
    names = {str(entry.get("name")) for entry in listed if isinstance(entry, dict)}
    added = []
    for feed in feeds:
        if feed.url in known:
            continue
        name = feed.name
        while name in names:  # names identify feeds in the store: keep them unique
            name += "-2"
        entry = CommentedMap(name=name, url=feed.url)
        if feed.language:
            entry["language"] = feed.language
        if feed.section:  # the OPML folder it was in
            entry["section"] = feed.section
        listed.append(entry)
        known.add(str(feed.url))
        names.add(name)
        added.append(dataclasses.replace(feed, name=name))
    return added


def _read_back(settings_file: Path, text: str, read_back: Callable[[Path], object]
               ) -> tuple[Problem, ...]:
    """What the settings reader says of `text`, from a file beside the real one
    (so that paths in it mean the same); the real file is not touched."""
    handle, name = tempfile.mkstemp(prefix=f".{settings_file.name}.", suffix=".tmp",
                                    dir=settings_file.parent)
    os.close(handle)
    trial = Path(name)
    try:
        trial.write_text(text, encoding="utf-8")
        read_back(trial)
    except InputError as exc:
        return exc.problems
    finally:
        trial.unlink(missing_ok=True)
    return ()


def _import_refused(problems: Sequence[Problem], *, source: str, listed: int,
                    added: Sequence[FeedSpec], had: int) -> NewsletterError:
    described = [_described(problem, added, had) for problem in problems]
    hints = []
    if any(not feed for feed, _ in described):  # the list as a whole: too many, too big
        hints.append("import a smaller list (split the OPML file), or remove feeds from "
                     "newsletter.yaml first")
    if any(feed for feed, _ in described):
        hints.append(f"fix or remove the outlines named above in {source}")
    lines = "".join(f"\n  {line}" for _, line in described)
    return NewsletterError(
        f"{source} not imported: with its feeds, newsletter.yaml would no longer load"
        f"{lines}\n  {source} lists {listed:,} feeds, {len(added):,} of them new to this "
        f"desk; the desk has {had:,}",
        hint=f"nothing was written; {' and '.join(hints)}")


_FEED_FIELD = re.compile(r"feeds\[(\d+)\]\.?")


def _described(problem: Problem, added: Sequence[FeedSpec], had: int) -> tuple[str, str]:
    """The imported feed a problem is about ("" for the list as a whole), and a
    line that names it as the OPML file does (its title and address)."""
    match = _FEED_FIELD.match(problem.field)
    if not match or not had <= int(match[1]) < had + len(added):
        return "", f"{problem.field or 'newsletter.yaml'}: {problem.message}"
    feed = added[int(match[1]) - had]
    key = problem.field[match.end():] or "outline"
    return feed.name, f'"{feed.name}" ({feed.url}): {key}: {problem.message}'


def _load(yaml: YAML, path: Path) -> CommentedMap:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise NewsletterError(f"cannot read the file: {exc}", location=SourceLocation(path=path),
                              hint='fix the file first ("newsletter build" shows where)') from exc
    if not isinstance(document, CommentedMap):
        raise NewsletterError("the file is not a mapping of keys",
                              location=SourceLocation(path=path))
    return document


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the editor's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump(yaml: YAML, document: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()
