"""Writing the editor's YAML files: a new draft, picks added to an issue,
feeds added to newsletter.yaml.

Edits go through ruamel.yaml's round-trip mode, so the editor's comments,
key order and formatting survive; files are replaced whole, never left
half-written.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .errors import NewsletterError
from .model import FeedSpec, SourceLocation, Story

__all__ = ["PLACEHOLDER_URL", "SECTIONS", "add_feeds", "add_pick", "draft_text",
           "rank_candidates"]

SECTIONS = ("lead", "catch_up", "deep_dives")
PLACEHOLDER_URL = "https://example.org/replace-me"
_PLACEHOLDER_HEADLINE = "TODO: the lead's headline"


def rank_candidates(stories: Iterable[Story], limit: int = 20) -> list[Story]:
    """Best first: stories several feeds carried, then the newest."""
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    ranked = sorted(stories, key=lambda s: (len(s.sources), s.published or oldest), reverse=True)
    return ranked[:limit]


def draft_text(*, number: int, date: dt.date, candidates: Sequence[Story]) -> str:
    """A new draft issue: valid as it stands, with candidates offered as comments."""
    lines = [
        f"# Issue {number}: a draft. Pick stories with",
        "#   newsletter pick ID --into lead|catch_up|deep_dives",
        "# or move a commented candidate below into a section and uncomment it.",
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
    ]
    if candidates:
        lines.append("# Candidates since the last issue, best first:")
        lines += [f"#    - story: {s.id}   # {_label(s)}" for s in candidates]
    return "\n".join(lines) + "\n"


def _label(story: Story) -> str:
    date = story.published.strftime("%Y-%m-%d") if story.published else ""
    title = " ".join(story.title.split())[:90]
    return " · ".join(part for part in (date, story.source, title) if part)


def add_pick(issue_file: Path, story: Story, section: str) -> None:
    """Add `story: <id>` to a section of the issue file, keeping everything else."""
    if section not in SECTIONS:
        raise NewsletterError(f'no section "{section}"', hint=f"use one of {', '.join(SECTIONS)}")
    yaml = _round_trip()
    document = _load(yaml, issue_file)
    if section == "lead":
        _pick_lead(document, story)
    else:
        _pick_item(document, section, story)
    _replace_text(issue_file, _dump(yaml, document))


def _pick_lead(document: CommentedMap, story: Story) -> None:
    lead = document.get("lead")
    if not isinstance(lead, CommentedMap):
        lead = CommentedMap()
        document["lead"] = lead
    last = next(reversed(lead), None)
    gap = lead.ca.items.get(last) if last is not None else None  # blank lines after the lead
    if lead.get("url") == PLACEHOLDER_URL:
        del lead["url"]
    if lead.get("headline") == _PLACEHOLDER_HEADLINE:
        del lead["headline"]
    lead.insert(0, "story", story.id, comment=_label(story))
    _keep_trailing_gap(lead, gap)


def _keep_trailing_gap(mapping: CommentedMap, gap: Any) -> None:
    """ruamel keeps the blank lines after a mapping as a comment on its last key:
    when that key was removed, give them to the new last key."""
    if not gap or gap[2] is None:
        return
    last = next(reversed(mapping))
    token = mapping.ca.items.get(last)
    if token is None or token[2] is None:
        mapping.ca.items[last] = gap
    elif not token[2].value.endswith("\n\n"):
        token[2].value = token[2].value.rstrip("\n") + "\n\n"


def _pick_item(document: CommentedMap, section: str, story: Story) -> None:
    block = document.get(section)
    if not isinstance(block, CommentedMap):
        block = CommentedMap()
        document[section] = block
    items = block.get("items")
    if not isinstance(items, CommentedSeq):
        items = CommentedSeq()
        block["items"] = items
    entry = CommentedMap()
    entry["story"] = story.id
    entry.yaml_add_eol_comment(_label(story), "story")
    items.append(entry)


def add_feeds(settings_file: Path, feeds: Iterable[FeedSpec]) -> list[FeedSpec]:
    """Append feeds whose URL the desk does not list yet; returns those added."""
    yaml = _round_trip()
    document = _load(yaml, settings_file)
    listed = document.get("feeds")
    if not isinstance(listed, CommentedSeq):
        listed = CommentedSeq()
        document["feeds"] = listed
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
        listed.append(entry)
        known.add(str(feed.url))
        names.add(name)
        added.append(feed)
    if added:
        _replace_text(settings_file, _dump(yaml, document))
    return added


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


def _replace_text(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
