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
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from ..errors import InputError, NewsletterError, Problem
from ..model import FeedSpec, SourceLocation, Story

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
        _replace_text(settings_file, text)
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
        added.append(feed)
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


def _replace_text(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
