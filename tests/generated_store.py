"""A candidate store of many generated stories, made through `Store.save` as a fetch
makes it: for tests of the browser desk's lists and for `bench/desk.py`.

`make_store(path, 10_000)` writes 10,000 stories from 20 feeds over 60 days in a
few seconds: titles and summaries in English, Chinese and Japanese (so the
search's short and long terms, in every script, have something to find),
pictures on about half of them, a few stories that several feeds carried, and
some stories starred, skipped and used by an issue. The same arguments give
the same store, and `GeneratedStore` says what is in it, so a caller can assert
counts without asking the store.

Not a test module (no `test_` prefix); a benchmark imports it after putting
`tests/` on `sys.path`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from newsletter.collect.store import Store
from newsletter.model import FeedSpec, FeedState, FetchOutcome, FetchResult, Image, Story

__all__ = ["AI_EVERY", "NOW", "GeneratedStore", "make_store"]

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
FEEDS = 20
DAYS = 60

_ENGLISH = ("kelp", "harbour", "storm", "tide", "coral", "estuary", "flood", "reef",
            "plankton", "salmon", "wetland", "dune", "glacier", "monsoon", "drought")
_CHINESE = ("海洋保护区", "珊瑚礁", "台风季节", "渔业资源", "海平面上升", "红树林", "潮汐能")
_JAPANESE = ("東京湾の水質", "海の生き物", "津波避難タワー", "漁業の未来", "藻場の再生")
#: How often a title names "AI" (a short ASCII term: a whole word, not a substring).
AI_EVERY = 25


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedStore:
    """What `make_store` wrote: how many stories, and which are marked or used."""

    path: Path
    stories: int
    feeds: tuple[str, ...]
    starred: frozenset[str]
    skipped: frozenset[str]
    used: frozenset[str]


def make_store(path: Path, count: int = 10_000, *, seed: int = 14) -> GeneratedStore:
    """A store at `path` (a new file) with `count` generated stories; see the module."""
    rng = random.Random(seed)
    feeds = tuple(f"feed-{n:02d}" for n in range(FEEDS))
    stories = [_story(n, rng) for n in range(count)]
    with Store(path) as store:
        for index, feed in enumerate(feeds):
            own = stories[index::FEEDS]
            shared = tuple(stories[(index + 1) % FEEDS::FEEDS * 7])  # also another feed's
            store.save(_fetched(feed, (*own, *shared)), now=NOW)
        starred = frozenset(s.id for s in stories[::97])
        skipped = frozenset(s.id for s in stories[5::23]) - starred
        used = frozenset(s.id for s in stories[3::41])
        for story_id in starred:
            store.mark(story_id, starred=True, now=NOW)
        for story_id in skipped:
            store.mark(story_id, skipped=True, now=NOW)
        store.mark_used(used, issue_number=48, issue_date=NOW.date())
    return GeneratedStore(path=path, stories=count, feeds=feeds, starred=starred,
                          skipped=skipped, used=used)


def _story(n: int, rng: random.Random) -> Story:
    url = f"https://news{n % 37}.example.org/{2026 - n % 3}/story-{n}"
    words = rng.sample(_ENGLISH, 3)
    script = n % 5
    if script == 3:
        title = f"{rng.choice(_CHINESE)}：{rng.choice(_CHINESE)}的新研究 {n}"  # noqa: RUF001 - Chinese is written with its own colon
        summary = f"<p>{rng.choice(_CHINESE)}。研究人员发现{rng.choice(_CHINESE)}正在变化。</p>"
    elif script == 4:
        title = f"{rng.choice(_JAPANESE)}、{rng.choice(_JAPANESE)}について {n}"
        summary = f"<p>{rng.choice(_JAPANESE)}が戻ってきた。調査は続く。</p>"
    else:
        ai = " AI" if n % AI_EVERY == 0 else ""
        title = f"The {words[0]} and the {words[1]}{ai}: story {n}"
        summary = (f"<p>A <b>{words[2]}</b> report on {words[0]} and {words[1]}, "
                   f"number {n}. " + " ".join(rng.choices(_ENGLISH, k=60)) + "</p>")
    picture = Image(src=f"https://img.example.org/{n}.jpg", alt=title, width=1200,
                    height=800) if n % 2 else None
    published = NOW - dt.timedelta(minutes=rng.randrange(DAYS * 24 * 60))
    return Story(id=hashlib.sha256(url.encode()).hexdigest()[:10], url=url, title=title,
                 summary=summary, content=f"<p>{title}</p>" * 3, image=picture,
                 published=published, guid=url, authors=("A. Writer",))


def _fetched(name: str, stories: tuple[Story, ...]) -> FetchResult:
    spec = FeedSpec(name=name, url=f"https://{name}.example.org/feed.xml")
    return FetchResult(feed=spec, outcome=FetchOutcome.UPDATED, state=FeedState(url=spec.url or ""),
                       stories=stories)
