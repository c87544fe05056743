"""How an issue's `story:` references find their stories.

`editorial` resolves references through a `StoryLookup` handed in by the
caller, so the desk never imports the candidate store: `api` opens the store
(a `StoryStore`) and hands it in, wrapped in a `PinnedLookup` that asks the
issue's lock file first. A build in another process gets a `StoreOpener`,
a picklable function that opens the store there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from ..model import Settings, Story

__all__ = ["NO_STORE", "PinnedLookup", "StaticLookup", "StoreOpener", "StoryLookup",
           "StoryStore", "store_path"]


class StoryLookup(Protocol):
    """Finds candidate stories by id (or unique id prefix) or by URL."""

    def find(self, ref: str) -> Story | None: ...

    def suggest(self, ref: str) -> Sequence[str]: ...


class StoryStore(StoryLookup, Protocol):
    """The candidate store as a build uses it: a lookup that also records use."""

    def mark_used(self, story_ids: Iterable[str], *, issue_number: int,
                  issue_date: dt.date) -> None: ...

    def close(self) -> None: ...


#: Opens the desk's candidate store, or gives None when there is none yet.
StoreOpener = Callable[[], StoryStore | None]


class StaticLookup:
    """A lookup over stories held in memory."""

    def __init__(self, stories: Iterable[Story] = ()) -> None:
        self._stories = tuple(stories)

    def find(self, ref: str) -> Story | None:
        exact = [s for s in self._stories if ref in (s.id, s.url)]
        prefixed = [s for s in self._stories if s.id.startswith(ref)]
        if exact:
            return exact[0]
        return prefixed[0] if len(prefixed) == 1 else None

    def suggest(self, ref: str) -> Sequence[str]:
        import difflib  # only to suggest, on a miss

        return difflib.get_close_matches(ref, [s.id for s in self._stories], n=3, cutoff=0.5)


NO_STORE = StaticLookup()


class PinnedLookup:
    """Stories pinned in an issue's lock file first, then the candidate store."""

    def __init__(self, pinned: Iterable[Story], store: StoryLookup | None) -> None:
        self.pinned = StaticLookup(pinned)
        self.store = store or NO_STORE

    def find(self, ref: str) -> Story | None:
        return self.pinned.find(ref) or self.store.find(ref)

    def suggest(self, ref: str) -> Sequence[str]:
        return self.store.suggest(ref) or self.pinned.suggest(ref)


def store_path(settings: Settings) -> Path:
    """The desk's candidate store: one SQLite file, no server."""
    return settings.root / ".newsletter" / "candidates.sqlite"
