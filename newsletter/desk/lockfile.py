"""Pin what an issue's `story:` references resolved to, beside the issue file.

`issues/2026-11-27.yaml` gets `issues/2026-11-27.lock.json` holding every
candidate the build used, so a rebuild a year later gives the same output
even after the feed changed or vanished. `newsletter build --refresh`
resolves the references from the store again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import NewsletterError
from ..model import Image, SourceLocation, Story

__all__ = ["LOCK_VERSION", "lock_path", "read_lock", "story_from_json", "story_to_json",
           "write_lock"]

LOCK_VERSION = 1


def lock_path(issue_file: Path) -> Path:
    return issue_file.with_name(f"{issue_file.stem}.lock.json")


def read_lock(path: Path) -> tuple[Story, ...]:
    """The pinned stories of an issue; none when there is no lock file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"version {data.get('version')!r}")
        return tuple(story_from_json(item) for item in data["stories"])
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NewsletterError(f"the lock file cannot be read ({exc})",
                              location=SourceLocation(path=path),
                              hint="delete it and build with --refresh to pin the stories "
                                   "again") from exc


def write_lock(path: Path, stories: Iterable[Story]) -> None:
    """Write the lock whole or not at all; byte-identical for the same stories."""
    document = {"version": LOCK_VERSION, "stories": [story_to_json(s) for s in stories]}
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return  # unchanged: leave the file (and its time stamp) alone
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def story_to_json(story: Story) -> dict[str, Any]:
    image = story.image
    return {
        "id": story.id, "url": story.url, "title": story.title, "summary": story.summary,
        "content": story.content, "source": story.source, "sources": list(story.sources),
        "language": story.language, "authors": list(story.authors), "guid": story.guid,
        "published": _time(story.published), "updated": _time(story.updated),
        "image": None if image is None else {
            "src": image.src, "alt": image.alt, "credit": image.credit,
            "caption": image.caption, "width": image.width, "height": image.height},
    }


def story_from_json(item: dict[str, Any]) -> Story:
    image = item.get("image")
    return Story(
        id=str(item["id"]), url=str(item["url"]), title=str(item["title"]),
        summary=str(item.get("summary", "")), content=str(item.get("content", "")),
        source=str(item.get("source", "")), sources=tuple(item.get("sources", ())),
        language=item.get("language"), authors=tuple(item.get("authors", ())),
        guid=str(item.get("guid", "")),
        published=_parse_time(item.get("published")), updated=_parse_time(item.get("updated")),
        image=None if image is None else Image(
            src=str(image["src"]), alt=str(image.get("alt", "")),
            credit=str(image.get("credit", "")), caption=str(image.get("caption", "")),
            width=image.get("width"), height=image.get("height")),
    )


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _parse_time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
