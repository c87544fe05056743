"""Pin what an issue's build depended on, beside the issue file.

`issues/2026-11-27.yaml` gets `issues/2026-11-27.lock.json` holding every
candidate the build used and the size of every picture on the web it had to
measure (or why it could not use one), so a rebuild a year later, or in CI
with no candidate store and no network, gives the same output even after the
feed changed or vanished. `newsletter build --refresh` resolves the
references from the store again and measures the pictures again.

`load_pinned` reads an issue as a build does: `story:` references from the
lock, then the store; pictures of unknown size from the lock, then measured
by the `Measure` the caller hands in (the desk does no network I/O itself).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._urls import is_remote
from ..errors import IssueFileError, NewsletterError, Problem
from ..model import Asset, Image, Logo, Settings, SourceLocation, Story
from ._yaml import KeyPath, field_name, load_yaml
from .lookup import PinnedLookup, StoryLookup

if TYPE_CHECKING:  # only named: a no-op build or `candidates` never loads an issue's parts
    from ..model import Issue

__all__ = ["LOCK_VERSION", "LeftOut", "Lock", "Measure", "PicturePin", "PinnedIssue",
           "load_pinned", "lock_name", "lock_path", "may_write_lock", "read_lock", "read_lock_file",
           "story_from_json", "story_to_json", "write_lock"]

#: 2: pictures are pinned too. A version 1 lock is read as one with no pictures pinned.
LOCK_VERSION = 2
_READS = (1, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class PicturePin:
    """What a build found at a picture's address: its size, or why it cannot be used.

    `lasting` failures (404, not a picture, too big) are pinned like sizes;
    the others (a timeout, no network) are not, so the next build asks again.
    """

    url: str
    width: int | None = None
    height: int | None = None
    problem: str = ""
    hint: str = ""
    lasting: bool = True

    @property
    def usable(self) -> bool:
        return bool(self.width and self.height and not self.problem)


#: Measures pictures on the web: URLs in, a pin for each out (the caller's network I/O).
Measure = Callable[[Sequence[str]], Mapping[str, PicturePin]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    """An issue's lock file: the stories its references resolved to, the pictures measured."""

    stories: tuple[Story, ...] = ()
    pictures: Mapping[str, PicturePin] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeftOut:
    """A story's picture the issue goes out without, at the item that picked the story."""

    location: SourceLocation  # the item's `story:` line
    field: str  # the item, e.g. deep_dives.items[2]
    story: str  # the candidate's id
    url: str  # the picture
    reason: str
    hint: str

    @property
    def message(self) -> str:
        return f"the picture of story {self.story} ({self.url}) is left out: {self.reason}"

    def __str__(self) -> str:
        return str(Problem(location=self.location, field=self.field, message=self.message,
                           hint=self.hint))


@dataclass(frozen=True, slots=True, kw_only=True)
class PinnedIssue:
    """An issue resolved as a build resolves it, and what its lock file should pin."""

    issue: Issue
    stories: tuple[Story, ...]  # as the lock and store gave them (what the lock pins)
    pictures: Mapping[str, PicturePin]  # every picture of unknown size it needed, by URL
    left_out: tuple[LeftOut, ...] = ()

    @property
    def sizes(self) -> dict[str, Asset | str]:
        """For `render.assets`: each picture's size, or why it cannot be used."""
        return {url: Asset(url=url, width=pin.width, height=pin.height)
                if pin.usable and pin.width and pin.height else pin.problem
                for url, pin in self.pictures.items()}

    @property
    def pins(self) -> tuple[PicturePin, ...]:
        """What the lock keeps: sizes, and the failures that asking again will not mend."""
        return tuple(pin for _, pin in sorted(self.pictures.items())
                     if pin.usable or pin.lasting)

    @property
    def unsettled(self) -> bool:
        """A picture failed in a way the next build should try again (a timeout, offline)."""
        return any(not pin.usable and not pin.lasting for pin in self.pictures.values())


def lock_path(issue_file: Path) -> Path:
    return issue_file.with_name(lock_name(issue_file.name))


def lock_name(issue_name: str) -> str:
    """The name of the lock file of the issue file named `issue_name` (its stem as
    `PurePath.stem` gives it, with `.lock.json`), without making a path: a no-op
    build asks it for every issue."""
    dot = issue_name.rfind(".")
    stem = issue_name[:dot] if 0 < dot < len(issue_name) - 1 else issue_name
    return f"{stem}.lock.json"


def may_write_lock(issue_file: Path, settings: Settings, out_dir: Path | None) -> bool:
    """Whether a build into `out_dir` may write the issue's lock file.

    A build into the desk's own site (`paths.output`) pins what it built. A
    build into another folder (`--out`) is a preview: it pins an issue that
    has no lock yet, but never rewrites one, which the desk may have
    committed and CI builds from (`build --refresh --out x` must not move
    the pins of a published issue).
    """
    own_site = out_dir is None or out_dir.resolve() == settings.output_dir.resolve()
    return own_site or not lock_path(issue_file).exists()


def read_lock(path: Path) -> tuple[Story, ...]:
    """The pinned stories of an issue; none when there is no lock file."""
    return read_lock_file(path).stories


def read_lock_file(path: Path) -> Lock:
    """The whole lock of an issue; an empty one when there is no lock file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") not in _READS:
            raise ValueError(f"version {data.get('version')!r}")
        return Lock(stories=tuple(story_from_json(item) for item in data["stories"]),
                    pictures={url: _pin_from_json(url, item)
                              for url, item in data.get("pictures", {}).items()})
    except FileNotFoundError:
        return Lock()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NewsletterError(f"the lock file cannot be read ({exc})",
                              location=SourceLocation(path=path),
                              hint="delete it and build with --refresh to pin the stories "
                                   "again") from exc


def write_lock(path: Path, stories: Iterable[Story], pictures: Iterable[PicturePin] = ()
               ) -> None:
    """Write the lock whole or not at all; byte-identical for the same stories and pictures."""
    document = {"version": LOCK_VERSION, "stories": [story_to_json(s) for s in stories],
                "pictures": {pin.url: _pin_to_json(pin) for pin in pictures}}
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


def _pin_to_json(pin: PicturePin) -> dict[str, Any]:
    if pin.usable:
        return {"width": pin.width, "height": pin.height}
    return {"problem": pin.problem, "hint": pin.hint}


def _pin_from_json(url: Any, item: Any) -> PicturePin:
    if not isinstance(url, str) or not isinstance(item, dict):
        raise TypeError(f"a picture is pinned as {type(item).__name__}")
    if "problem" in item:
        return PicturePin(url=url, problem=str(item["problem"]), hint=str(item.get("hint", "")))
    width, height = item["width"], item["height"]
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise ValueError(f"the size pinned for {url} is not two positive whole numbers")
    return PicturePin(url=url, width=width, height=height)


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _parse_time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


# --- reading an issue as a build does ---------------------------------------------


def load_pinned(path: Path, settings: Settings, store: StoryLookup | None, *, lock: Lock,
                measure: Measure | None) -> PinnedIssue:
    """Read, validate and resolve `path` with its lock, the store and measured pictures.

    Pictures on the web whose size neither the editor nor the feed gave (a
    candidate's picture, or an `image:` written without width and height)
    take their size from the lock, or else from `measure`; with no
    `measure` (offline) they are "not measured". A candidate's picture that
    cannot be used is left out of the item, reported per item in `left_out`;
    the editor's own is reported by `render.assets`, as it always was.
    """
    lookup = PinnedLookup(lock.stories, store)
    issue = _load(path, settings, lookup, missing_store=store is None)
    pictured = _pictured_items(path, lookup) if issue.stories else []
    wanted = _unsized(pictured, issue, settings)
    if not wanted:
        return PinnedIssue(issue=issue, stories=issue.stories, pictures={})
    pins = {url: lock.pictures[url] for url in wanted if url in lock.pictures}
    missing = [url for url in wanted if url not in pins]
    if missing:
        pins |= measure(missing) if measure is not None else {
            url: _not_measured(url, path) for url in missing}
    usable = {url: pin for url, pin in pins.items() if pin.usable}
    sized = issue
    if any(item.picture in usable for item in pictured):
        sized = _load(path, settings, _SizedLookup(lookup, usable), missing_store=False)
    left_out = tuple(
        LeftOut(location=item.location, field=item.field, story=item.story, url=item.picture,
                reason=pins[item.picture].problem, hint=pins[item.picture].hint)
        for item in pictured if item.picture in pins and item.picture not in usable)
    return PinnedIssue(issue=sized, stories=issue.stories, pictures=pins, left_out=left_out)


def _load(path: Path, settings: Settings, lookup: StoryLookup, *, missing_store: bool) -> Issue:
    from .editorial import load_issue  # not for listing candidates or a no-op build

    try:
        return load_issue(path, settings, lookup)
    except IssueFileError as exc:
        if not missing_store:
            raise
        raise IssueFileError(_without_store(problem, path) for problem in exc.problems) from exc


def _without_store(problem: Problem, path: Path) -> Problem:
    """A story the lock does not pin, on a desk with no store here (a fresh checkout, CI):
    fetching there is not the fix; pinning it where it was picked is."""
    if not (problem.field.endswith("story") and problem.message.startswith("no candidate")):
        return problem
    lock = lock_path(path).name
    return replace(problem, hint=(
        f"this desk has no candidate store here (a fresh checkout, as in CI) and {lock} does "
        f"not pin the story: build the issue where its stories were fetched and commit {lock} "
        "with it (or write the story inline with url: and headline:)"))


def _not_measured(url: str, path: Path) -> PicturePin:
    lock = lock_path(path).name
    return PicturePin(url=url, lasting=False, problem=(
        f"its size is not known, and it was not measured (offline, and {lock} does not pin it)"),
        hint=f"build the issue with a network, and commit {lock} so that CI needs none")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pictured:
    """An item showing its story's picture of unknown size (the lead, a deep dive)."""

    location: SourceLocation  # of its story: reference
    field: str
    story: str
    picture: str


def _pictured_items(path: Path, lookup: StoryLookup) -> list[_Pictured]:
    """The items whose picture comes from their story and has no size yet, as written."""
    doc = load_yaml(path, [])
    top = doc.data if doc is not None else None
    if doc is None or not isinstance(top, dict):
        return []
    items: list[tuple[KeyPath, Any]] = [(("lead",), top.get("lead"))]
    dives = top.get("deep_dives")
    if isinstance(dives, dict) and isinstance(dives.get("items"), list):
        items += [(("deep_dives", "items", i), item) for i, item in enumerate(dives["items"])]
    found = []
    for key_path, item in items:
        if not isinstance(item, dict) or item.get("image") is not None:
            continue  # no story here, or the editor gave the item a picture of its own
        ref = item.get("story")
        story = lookup.find(ref) if isinstance(ref, str) and ref else None
        picture = _unsized_story_picture(story) if story else None
        if story is not None and picture:
            found.append(_Pictured(location=doc.where((*key_path, "story")),
                                   field=field_name(key_path), story=story.id, picture=picture))
    return found


def _unsized_story_picture(story: Story) -> str | None:
    image = story.image
    if image is None or not is_remote(image.src) or (image.width and image.height):
        return None
    return image.src


def _unsized(pictured: Iterable[_Pictured], issue: Issue, settings: Settings) -> list[str]:
    """Pictures on the web the issue shows whose size nobody gave, in reading order."""
    logo = settings.logo
    written: list[Image | Logo] = [*issue.images(), *([logo] if logo else [])]
    return list(dict.fromkeys([
        *(item.picture for item in pictured),
        *(i.src for i in written if is_remote(i.src) and not (i.width and i.height))]))


class _SizedLookup:
    """A lookup whose stories carry the measured size of their picture."""

    def __init__(self, inner: StoryLookup, sizes: Mapping[str, PicturePin]) -> None:
        self.inner = inner
        self.sizes = sizes

    def find(self, ref: str) -> Story | None:
        story = self.inner.find(ref)
        pin = self.sizes.get(_unsized_story_picture(story) or "") if story else None
        if story is None or story.image is None or pin is None:
            return story
        return replace(story, image=replace(story.image, width=pin.width, height=pin.height))

    def suggest(self, ref: str) -> Sequence[str]:
        return self.inner.suggest(ref)
