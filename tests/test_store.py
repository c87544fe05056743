"""Candidate store: round-trips, dedupe, lookup, search in any language, usage and
pruning, and what a killed process or a second process leaves behind.

Every test runs against a real SQLite file in tmp_path. To stop a save in the
middle of its transaction (to kill it there, or to read beside it), the test
wraps `sqlite3.connect` so the store's connection gets a trace callback
(`Connection.set_trace_callback`, called as each statement starts) that
blocks at the Nth `INSERT INTO stories`. The store itself has no test hook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from generated_store import AI_EVERY, make_store
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.collect import store as store_module
from newsletter.collect.parse import parse_feed
from newsletter.collect.store import (
    BY_HAND,
    SCHEMA_VERSION,
    SaveCounts,
    Store,
    changed,
    dedupe,
    default_path,
    has_term,
    search_terms,
)
from newsletter.desk.lookup import StoryLookup
from newsletter.errors import StoreError
from newsletter.model import (
    CandidateRow,
    FeedSpec,
    FeedState,
    FetchOutcome,
    FetchResult,
    Image,
    Marks,
    SourceLocation,
    Story,
)

NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)


def day(n: int) -> dt.datetime:
    return dt.datetime(2026, 11, n, 12, tzinfo=dt.UTC)


def story(url: str, title: str = "A story", **fields: object) -> Story:
    """A story as a parser would make it: the id derived from the canonical URL."""
    story_id = hashlib.sha256(url.encode()).hexdigest()[:10]
    return Story(id=story_id, url=url, title=title, **fields)  # type: ignore[arg-type]


def fetched(name: str, stories: tuple[Story, ...] = (),
            outcome: FetchOutcome = FetchOutcome.UPDATED, **fields: object) -> FetchResult:
    spec = FeedSpec(name=name, url=f"https://{name}.example.org/feed.xml")
    state = FeedState(url=spec.url or "", etag=f'"{name}-etag"')
    return FetchResult(feed=spec, outcome=outcome, state=state, stories=stories,
                       **fields)  # type: ignore[arg-type]


def titles(found: list[Story]) -> list[str]:
    return [s.title for s in found]


def stored(s: Story, *sources: str, seen: dt.datetime = NOW) -> Story:
    """`s` as the store gives it back: its sources are the feeds that carried it, and
    without a date of its own it is dated by when the store first saw it."""
    return replace(s, source=sources[0], sources=sources, published=s.published or seen)


def many(feed: str, count: int, start: int = 0) -> tuple[Story, ...]:
    return tuple(story(f"https://{feed}.example.org/{i}", f"{feed} story {i}", guid=f"{feed}-{i}",
                       summary=f"<p>Text of {feed} story {i}</p>", published=day(1 + i % 28))
                 for i in range(start, start + count))


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(default_path(tmp_path)) as opened:
        yield opened


def integrity(path: Path) -> tuple[str, int, int]:
    """SQLite's integrity check, and the rows of stories and of the search index
    (FTS5's own check raises if the index is damaged; `unindexed` asks it for the
    texts it should hold, which the check of SQLite before 3.44 does not compare)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO story_grams (story_grams) VALUES ('integrity-check')")
        assert unindexed(conn) == []
        return (conn.execute("PRAGMA integrity_check").fetchone()[0],
                conn.execute("SELECT count(*) FROM stories").fetchone()[0],
                conn.execute("SELECT count(*) FROM story_plain").fetchone()[0])
    finally:
        conn.close()


def released_store(path: Path, version: int) -> sqlite3.Connection:
    """A new store file with the schema as `version` released it (its migrations,
    which never change once released); the connection is left open for rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in store_module._MIGRATIONS[:version]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn


def unindexed(conn: sqlite3.Connection) -> list[int]:
    """The texts of `story_plain` that the trigram index does not give back when
    asked for their title's first trigram."""
    rows = conn.execute("SELECT pk, lower(substr(title, 1, 3)) FROM story_plain "
                        "WHERE length(title) >= 3").fetchall()
    return [pk for pk, gram in rows if conn.execute(
        "SELECT 1 FROM story_grams WHERE story_grams MATCH ? AND rowid = ?",
        ('"' + gram.replace('"', '""') + '"', pk)).fetchone() is None]


def leaves_written(path: Path) -> int:
    """How many leaf pages FTS5 has written to its newest level, from the counter of
    its structure record (4-byte cookie, [a version mark,] then varints: levels,
    segments, this counter). Every write of the terms it holds in memory adds at
    least one."""
    conn = sqlite3.connect(path)
    try:
        record: bytes = conn.execute(
            "SELECT block FROM story_grams_data WHERE id = 10").fetchone()[0]
    finally:
        conn.close()
    at = 8 if record[4:8] == b"\xff\x00\x00\x01" else 4  # SQLite 3.44's structure v2
    numbers = []
    while len(numbers) < 3:
        value = 0
        for _ in range(9):  # SQLite's varint: 7 bits a byte, high bit "more" (9 at most)
            byte, at = record[at], at + 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        numbers.append(value)
    return numbers[2]


# --- pure decisions ------------------------------------------------------------


def test_dedupe_keeps_the_first_of_entries_with_the_same_guid_url_or_text() -> None:
    first = story("https://e.org/1", guid="g1", summary="<p>one</p>")
    same_guid = story("https://e.org/2", guid="g1", summary="<p>two</p>")
    same_url = story("https://e.org/1", guid="g3", summary="<p>three</p>")
    same_text = story("https://e.org/4", guid="g4", summary="<p>one</p>")
    other = story("https://e.org/5", guid="g5", summary="<p>five</p>")
    assert dedupe([first, same_guid, same_url, same_text, other]) == (first, other)


def test_dedupe_never_merges_stories_that_share_only_a_title() -> None:
    a, b = story("https://e.org/a", "Weekly roundup"), story("https://e.org/b", "Weekly roundup")
    assert dedupe([a, b]) == (a, b)


def test_changed_is_about_what_an_editor_sees() -> None:
    old = story("https://e.org/a", "Title", summary="<p>s</p>", authors=("Ann",))
    assert not changed(old, replace(old, authors=("Bob",), guid="other"))
    for new in [replace(old, title="New"), replace(old, summary="<p>t</p>"),
                replace(old, content="<p>c</p>"), replace(old, updated=day(2)),
                replace(old, image=Image(src="https://e.org/p.jpg", alt=""))]:
        assert changed(old, new)


@pytest.mark.parametrize(("text", "term", "found"), [
    ("AI models", "ai", True), ("said again", "ai", False), ("AI芯片出口", "AI", True),
    ("海洋保护区", "海洋", True), ("海の生き物", "海洋", False), ("5G, 6G", "6g", True),
    ("C# and F#", "c#", True), ("50% off", "%", True), ("", "a", False), (None, "a", False),
    ("École", "éc", True), ("\u212aelvin", "k", False),
])
def test_a_short_term_is_a_whole_word_in_ascii_and_a_substring_otherwise(
        text: str | None, term: str, found: bool) -> None:
    assert has_term(text, term) is found


def test_search_terms_quote_every_long_term_and_set_short_ones_aside() -> None:
    match, short = search_terms('海洋 保护区 AND ( say"hi"')
    assert (match, short) == ('"保护区" "AND" "say""hi"""', ("海洋", "("))
    assert search_terms("  ") == (None, ())
    assert search_terms(None) == (None, ())
    assert search_terms("ab\x00c") == ('"abc"', ())


# --- round-trips ---------------------------------------------------------------


def test_a_fetched_story_reads_back_field_for_field(store: Store) -> None:
    full = story(
        "https://news.example.org/kelp", "Kelp returns", summary="<p>The <b>bay</b></p>",
        content="<p>Long text</p>", language="en", published=day(20), updated=day(21),
        authors=("Ann Lee", "Bo Chen"), guid="urn:uuid:1",
        image=Image(src="https://cdn.example.org/k.jpg", alt="kelp", credit="A. Photographer",
                    caption="At low tide", width=1200, height=800,
                    location=SourceLocation(path=Path("feeds/x.xml"), line=3, column=7),
                    field="image.src"))
    bare = story("https://news.example.org/bare", "Bare")
    assert store.save(fetched("news", (full, bare)), now=NOW) == SaveCounts(new=2)
    assert store.find(full.id) == stored(full, "news")
    assert store.find(bare.url) == stored(bare, "news")


texts = st.text(max_size=30)
aware = st.datetimes(  # hypothesis takes naive bounds and attaches the zone itself
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC))
images = st.builds(
    Image, src=texts, alt=texts, credit=texts, caption=texts, field=texts,
    width=st.none() | st.integers(1, 10_000), height=st.none() | st.integers(1, 10_000),
    location=st.none() | st.builds(SourceLocation, path=st.builds(Path, texts),
                                   line=st.none() | st.integers(1, 10**6),
                                   column=st.none() | st.integers(1, 10**4)))
stories = st.builds(
    Story, id=st.text(min_size=1, max_size=20), url=st.text(min_size=1, max_size=60),
    title=texts, summary=st.text(max_size=200), content=st.text(max_size=200),
    image=st.none() | images, language=st.none() | texts, published=st.none() | aware,
    updated=st.none() | aware, authors=st.lists(texts, max_size=3).map(tuple), guid=texts)


@settings(max_examples=60, deadline=None)
@given(stories)
def test_any_story_round_trips_through_save_and_find(s: Story) -> None:
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "c.sqlite") as fresh:
        assert fresh.save(fetched("feed", (s,)), now=NOW) == SaveCounts(new=1)
        assert fresh.find(s.id) == stored(s, "feed")
        assert fresh.search(limit=5) == [stored(s, "feed")]


def test_feed_state_and_status_round_trip(store: Store) -> None:
    state = FeedState(url="https://moved.example.org/feed", etag='W/"1"',
                      last_modified="Fri, 27 Nov 2026 08:00:00 GMT", body_hash="ab12",
                      fresh_until=day(28))
    result = replace(fetched("news", many("news", 3)), state=state)
    store.save(result, now=NOW)
    assert store.feed_states() == {"news": state}
    [status] = store.feed_status().values()
    assert (status.name, status.url, status.last_checked, status.last_outcome,
            status.last_error, status.stories) == (
        "news", state.url, NOW, FetchOutcome.UPDATED, "", 3)


def test_a_gone_feed_stays_gone_until_it_is_enabled(store: Store) -> None:
    gone = replace(fetched("news", outcome=FetchOutcome.FAILED, error="removed"),
                   state=FeedState(url="https://news.example.org/feed.xml", gone_since=day(20)))
    store.save(gone, now=day(20))
    store.save(fetched("blog"), now=day(20))
    assert store.feed_states()["news"].gone_since == day(20)
    assert store.enable_feed("news") and not store.enable_feed("news")
    assert not store.enable_feed("blog")  # never gone: nothing to do
    assert store.feed_states()["news"].gone_since is None


def test_a_feed_whose_address_changed_starts_afresh(store: Store) -> None:
    store.save(fetched("news"), now=NOW)
    store.save(fetched("blog"), now=NOW)
    moved = FeedSpec(name="news", url="https://elsewhere.example.org/rss")
    current = [moved, FeedSpec(name="blog", url="https://blog.example.org/feed.xml")]
    assert set(store.feed_states(current=current)) == {"blog"}


@pytest.mark.parametrize("outcome", [FetchOutcome.FAILED, FetchOutcome.NOT_MODIFIED,
                                     FetchOutcome.UNCHANGED, FetchOutcome.FRESH])
def test_a_fetch_without_news_records_only_its_status(store: Store,
                                                      outcome: FetchOutcome) -> None:
    store.save(fetched("news", many("news", 2)), now=day(1))
    later = fetched("news", many("news", 5, start=10), outcome=outcome,
                    error="HTTP 500" if outcome == FetchOutcome.FAILED else "")
    assert store.save(later, now=day(2)) == SaveCounts()
    status = store.feed_status()["news"]
    assert (status.last_outcome, status.last_checked, status.stories) == (outcome, day(2), 2)
    assert status.last_error == later.error
    assert len(store.search()) == 2


def test_a_first_fetch_that_fails_is_still_listed(store: Store) -> None:
    store.save(fetched("news", outcome=FetchOutcome.FAILED, error="no such host"), now=NOW)
    status = store.feed_status()["news"]
    assert (status.last_outcome, status.last_error, status.stories) == (
        FetchOutcome.FAILED, "no such host", 0)


# --- dedupe in the store -------------------------------------------------------


def test_a_second_save_counts_new_updated_and_unchanged(store: Store) -> None:
    a, b, c = many("news", 3)
    assert store.save(fetched("news", (a, b)), now=day(1)) == SaveCounts(new=2)
    retitled = replace(b, title="A better title")
    assert store.save(fetched("news", (a, retitled, c)), now=day(2)) == SaveCounts(
        new=1, updated=1, unchanged=1)
    assert store.find(b.id) == stored(retitled, "news")


def test_within_a_feed_an_entry_is_found_again_by_guid_then_url_then_text(store: Store) -> None:
    original = story("https://news.example.org/a", "Title", guid="g1", summary="<p>text</p>")
    store.save(fetched("news", (original,)), now=day(1))
    new_url = replace(original, id="other-id", url="https://news.example.org/a?moved")
    new_guid = replace(original, guid="g2", title="Title, corrected")
    new_both = replace(new_guid, id="third", url="https://news.example.org/b", guid="g3")
    for entry, verdict in [(new_url, SaveCounts(unchanged=1)), (new_guid, SaveCounts(updated=1)),
                           (new_both, SaveCounts(unchanged=1))]:
        assert store.save(fetched("news", (entry,)), now=day(2)) == verdict
    [only] = store.search()
    assert (only.id, only.url, only.title) == (original.id, original.url, "Title, corrected")


def test_across_feeds_one_story_per_url_with_every_source(store: Store) -> None:
    theirs = story("https://wire.example.org/s", "Wire words", guid="w1", published=day(5))
    ours = replace(theirs, title="Our words", guid="b1")
    store.save(fetched("wire", (theirs,)), now=day(5))
    assert store.save(fetched("blog", (ours,)), now=day(6)) == SaveCounts(unchanged=1)
    found = store.find(theirs.id)
    assert found == stored(theirs, "wire", "blog")  # the first source keeps the wording
    assert [s.id for s in store.search(feed="blog")] == [theirs.id]
    assert {n: s.stories for n, s in store.feed_status().items()} == {"wire": 1, "blog": 1}
    assert store.save(fetched("blog", (ours,)), now=day(7)) == SaveCounts(unchanged=1)
    assert store.find(theirs.id) == found


def test_two_urls_with_the_same_short_id_both_fit(store: Store) -> None:
    a = Story(id="9f3c1a", url="https://e.org/a", title="A")
    b = Story(id="9f3c1a", url="https://e.org/b", title="B")
    store.save(fetched("news", (a, b)), now=NOW)
    assert store.find("9f3c1a") == stored(a, "news")
    assert store.find("9f3c1a-2") == stored(replace(b, id="9f3c1a-2"), "news")


# --- lookup --------------------------------------------------------------------


@pytest.fixture()
def three(store: Store) -> Store:
    store.save(fetched("news", (
        Story(id="9f3c1a2b", url="https://e.org/kelp-forests", title="Kelp"),
        Story(id="9f3c77aa", url="https://e.org/urchins", title="Urchins"),
        Story(id="0b11d2e4", url="https://e.org/otters", title="Otters"),
    )), now=NOW)
    return store


@pytest.mark.parametrize(("ref", "title"), [
    ("9f3c1a2b", "Kelp"), ("9f3c1", "Kelp"), ("0b11", "Otters"),
    ("https://e.org/urchins", "Urchins"),
    ("9f3c", None),  # two ids start so
    ("0b1", None),  # a prefix under four characters is not enough
    ("https://e.org/urchin", None), ("", None), ("zzzz", None),
])
def test_find_by_id_unique_prefix_or_url(three: Store, ref: str, title: str | None) -> None:
    found = three.find(ref)
    assert (found.title if found else None) == title


def test_suggest_offers_near_ids_and_ids_whose_url_matches(three: Store) -> None:
    assert three.suggest("9f3c1a2c")[0] == "9f3c1a2b"
    assert three.suggest("otters") == ["0b11d2e4"]
    assert set(three.suggest("9f3c")) == {"9f3c1a2b", "9f3c77aa"}
    assert three.suggest("") == []


def test_an_id_prefix_is_literal_text(store: Store) -> None:
    odd = Story(id="ab[c]*?d", url="https://e.org/odd", title="Odd")
    store.save(fetched("news", (odd, Story(id="abxyz", url="https://e.org/x", title="X"))),
               now=NOW)
    assert store.find("ab[c]*") == stored(odd, "news")
    assert store.find("ab[c") is not None and store.find("ab*?") is None


def test_the_store_is_a_story_lookup(three: Store) -> None:
    lookup: StoryLookup = three
    assert lookup.find("0b11d2e4") is not None


# --- search --------------------------------------------------------------------

KELP = story("https://e.org/kelp", "Kelp forests return to the bay", published=day(20),
             summary="<p>Divers count <strong>urchins</strong> again.</p>")
MARINE = story("https://e.org/zh", "海洋保护区扩大", published=day(21), language="zh",
               summary="<p>政府宣布扩大海洋保护区的范围。</p>")
TOKYO = story("https://e.org/ja", "東京湾の水質が改善", published=day(22), language="ja",
              content="<p>海の生き物が戻ってきた。</p>")
STORMS = story("https://e.org/ai", "AI models forecast storms", published=day(19))


@pytest.fixture()
def shelf(store: Store) -> Store:
    store.save(fetched("news", (KELP, MARINE, TOKYO, STORMS)), now=NOW)
    return store


@pytest.mark.parametrize(("words", "expected"), [
    ("kelp", [KELP]), ("KELP Bay", [KELP]), ("kelp storms", []),
    ("urchins", [KELP]),  # the summary, as text
    ("strong", []),  # not its markup
    ("保护区", [MARINE]), ("海洋保护区", [MARINE]), ("海洋", [MARINE]), ("海洋 政府", [MARINE]),
    ("海", [TOKYO, MARINE]), ("東京湾", [TOKYO]), ("水質", [TOKYO]), ("生き物", [TOKYO]),
    ("AI", [STORMS]), ("ai storms", [STORMS]), ("%", []), ("_", []),
    ("", [TOKYO, MARINE, KELP, STORMS]),
])
def test_search_finds_words_in_any_language(shelf: Store, words: str,
                                            expected: list[Story]) -> None:
    assert shelf.search(words=words) == [stored(s, "news") for s in expected]


HOSTILE = ['"', '""', '"""', "AND (", "OR", "NOT kelp", "NEAR(kelp bay)", "*", "kelp*",
           "title:kelp", "^kelp", "-kelp", "'", "\\", "(", ")", "{title}: x", "\x00",
           "kelp\x00", '" OR 1=1 --', "'; DROP TABLE stories; --", "%%%", "a AND", "AND OR NOT"]


@pytest.mark.parametrize("words", HOSTILE)
def test_no_query_breaks_the_search(shelf: Store, words: str) -> None:
    shelf.search(words=words)
    assert len(shelf.search()) == 4


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store that hypothesis examples share: they only read it."""
    with Store(tmp_path_factory.mktemp("two") / "c.sqlite") as opened:
        opened.save(fetched("news", (KELP, MARINE)), now=NOW)
        yield opened


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_no_text_at_all_breaks_the_search(two: Store, words: str) -> None:
    found = two.search(words=words)
    assert all(s in (stored(KELP, "news"), stored(MARINE, "news")) for s in found)


def test_search_filters_since_feed_unused_and_limit(shelf: Store) -> None:
    shelf.save(fetched("blog", (replace(KELP, guid="b"),
                                story("https://e.org/blog", "Blog", published=day(25)))),
               now=NOW)
    shelf.mark_used([MARINE.id], issue_number=1, issue_date=dt.date(2026, 11, 23))
    assert titles(shelf.search(since=day(21))) == ["Blog", TOKYO.title, MARINE.title]
    assert titles(shelf.search(feed="blog")) == ["Blog", KELP.title]
    assert titles(shelf.search(unused=True, since=day(20))) == ["Blog", TOKYO.title, KELP.title]
    assert titles(shelf.search(words="海", unused=True)) == [TOKYO.title]
    assert titles(shelf.search(limit=2)) == ["Blog", TOKYO.title]
    assert shelf.search(feed="nobody") == []


def test_an_undated_story_is_dated_by_when_it_was_first_seen(store: Store) -> None:
    undated = story("https://e.org/undated", "Undated")
    store.save(fetched("news", (undated, *many("news", 2))), now=day(15))  # published 1st, 2nd
    assert store.search()[0].title == "Undated"
    assert [s.title for s in store.search(since=day(10))] == ["Undated"]


# --- usage and pruning -----------------------------------------------------------


def test_mark_used_records_an_issue_and_a_rebuild_replaces_its_list(shelf: Store) -> None:
    assert shelf.last_issue_date() is None
    shelf.mark_used([KELP.id, MARINE.id, "not-in-the-store"], issue_number=47,
                    issue_date=dt.date(2026, 11, 20))
    shelf.mark_used([KELP.id], issue_number=48, issue_date=dt.date(2026, 11, 27))
    assert shelf.used_in(KELP.id) == [47, 48]
    assert shelf.last_issue_date() == dt.date(2026, 11, 27)
    shelf.mark_used([TOKYO.id], issue_number=47, issue_date=dt.date(2026, 11, 20))
    assert (shelf.used_in(MARINE.id), shelf.used_in(TOKYO.id)) == ([], [47])


def test_uses_give_each_storys_issues_with_their_dates(shelf: Store) -> None:
    shelf.mark_used([KELP.id, MARINE.id], issue_number=47, issue_date=dt.date(2026, 11, 20))
    shelf.mark_used([KELP.id], issue_number=48, issue_date=dt.date(2026, 11, 27))
    assert shelf.uses([KELP.id, MARINE.id, TOKYO.id, "not-in-the-store"]) == {
        KELP.id: [(47, dt.date(2026, 11, 20)), (48, dt.date(2026, 11, 27))],
        MARINE.id: [(47, dt.date(2026, 11, 20))]}
    ids = [f"id-{n}" for n in range(1_200)] + [KELP.id]  # past one IN (...) list
    assert list(shelf.uses(ids)) == [KELP.id]


def test_sources_name_every_feed_and_first_seen_is_the_first_fetch(store: Store) -> None:
    first = story("https://a.example.org/1", guid="1")
    store.save(fetched("Coastal-Desk", (first,)), now=NOW)
    store.save(fetched("ocean", (first,)), now=NOW + dt.timedelta(hours=5))
    store.save(fetched("quiet"), now=NOW)
    store.add(story("https://b.example.org/2"), now=NOW)
    assert store.sources() == sorted(["Coastal-Desk", "ocean", "quiet", BY_HAND])
    assert store.first_seen(first.id) == NOW and store.first_seen("nope") is None


def test_prune_removes_old_stories_but_never_a_used_one(store: Store, tmp_path: Path) -> None:
    old = many("news", 10)  # published on the 1st to the 10th
    store.save(fetched("news", old), now=day(12))
    store.mark_used([old[0].id, old[7].id], issue_number=1, issue_date=dt.date(2026, 11, 2))
    assert store.prune(older_than=day(6)) == 4  # the 1st to 5th, less the used 1st
    left = {s.id for s in store.search(limit=100)}
    assert left == {s.id for s in old[5:]} | {old[0].id}
    assert store.prune(older_than=day(28)) == 4  # all but the two used ones
    assert store.find(old[0].id) is not None and store.find(old[1].id) is None
    assert store.feed_status()["news"].stories == 2
    assert integrity(default_path(tmp_path)) == ("ok", 2, 2)


def test_add_by_hand_stores_a_new_story_or_returns_the_stored_one(store: Store) -> None:
    page = story("https://e.org/page", "A page", published=day(3))
    assert store.add(page, now=NOW) == stored(page, BY_HAND)
    assert store.add(page, now=NOW) == stored(page, BY_HAND)
    carried = many("news", 1)[0]
    store.save(fetched("news", (carried,)), now=NOW)
    assert store.add(replace(carried, title="my title"), now=NOW) == stored(
        carried, "news", BY_HAND)


def test_a_naive_time_is_a_bug_not_data(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.save(fetched("news"), now=dt.datetime(2026, 11, 27))  # noqa: DTZ001


# --- files, versions, crashes, neighbours -----------------------------------------


def test_opening_makes_the_folder_and_a_wal_file(tmp_path: Path) -> None:
    path = default_path(tmp_path)
    assert path == tmp_path / ".newsletter" / "candidates.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_file_that_is_not_a_database_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    path.write_bytes(b"these are somebody's notes, not a database\n" * 100)
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert "not a SQLite database" in str(caught.value) and "move it aside" in caught.value.hint
    assert path.read_bytes().startswith(b"these are")


def test_a_folder_in_the_way_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "candidates.sqlite").mkdir()
    with pytest.raises(StoreError, match="cannot be opened"):
        Store(tmp_path / "candidates.sqlite")


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer") as caught:
        Store(path)
    assert "upgrade" in caught.value.hint


def test_a_store_upgraded_while_open_takes_no_more_writes(tmp_path: Path) -> None:
    """A preview keeps its store open for hours; a newer tool run meanwhile may
    upgrade the file, and rows written the old way would miss what the new schema
    does (v6 indexes a new story's text itself, no trigger does)."""
    path = tmp_path / "candidates.sqlite"
    with Store(path) as running:
        running.save(fetched("news", many("news", 2)), now=NOW)
        newer = sqlite3.connect(path)
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        newer.commit()
        newer.close()
        for write in (lambda: running.save(fetched("wire", many("wire", 3)), now=NOW),
                      lambda: running.mark(many("news", 1)[0].id, starred=True, now=NOW)):
            with pytest.raises(StoreError, match="upgraded the candidate store") as caught:
                write()
            assert "nothing was written" in str(caught.value)
            assert "preview" in caught.value.hint
        assert len(running.search(limit=10)) == 2  # reading still works
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM marks").fetchone()[0] == 0
    conn.close()


def test_a_version_2_store_is_migrated_and_keeps_its_feeds(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    conn = released_store(path, 2)
    conn.execute("INSERT INTO feeds (name, configured, url, etag) VALUES "
                 "('news', 'https://news.example.org/feed.xml', "
                 "'https://news.example.org/feed.xml', '\"v2\"')")
    conn.close()
    with Store(path) as migrated:
        assert migrated.feed_states() == {"news": FeedState(
            url="https://news.example.org/feed.xml", etag='"v2"')}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_version_1_store_is_migrated_and_its_stories_become_searchable(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    store_module._MIGRATIONS[0](conn)  # the schema as version 1 released it
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO stories (id, url, title, summary, content, authors, guid, "
                 "first_seen) VALUES ('abcd1234', 'https://e.org/v1', '海洋保护区扩大', "
                 "'<p>kelp</p>', '', '[]', '', ?)", (NOW.isoformat(),))
    conn.execute("INSERT INTO story_sources VALUES ('abcd1234', 'news', 0, '')")
    conn.close()
    with Store(path) as migrated:
        assert [s.id for s in migrated.search(words="保护区 kelp")] == ["abcd1234"]
        found = migrated.find("abcd")
        assert found is not None and found.sources == ("news",)
    assert integrity(path) == ("ok", 1, 1)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_busy_store_is_a_store_error(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = default_path(tmp_path)
    Store(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(store_module, "_BUSY_MS", 200)
    try:
        with Store(path) as second:
            assert second.search() == []  # reading goes on beside a writer
            with pytest.raises(StoreError, match="busy"):
                second.save(fetched("news"), now=NOW)
    finally:
        writer.close()


def traced(block_at: int, block: Callable[[], None]) -> Callable[..., sqlite3.Connection]:
    """`sqlite3.connect` whose connections call `block` as the Nth story insert starts."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real(*args, **kwargs)
        inserts = 0

        def trace(sql: str) -> None:
            nonlocal inserts
            if sql.lstrip().startswith("INSERT INTO stories "):
                inserts += 1
                if inserts == block_at:
                    block()
        conn.set_trace_callback(trace)
        return conn
    return connect


def test_readers_go_on_while_another_store_writes(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = default_path(tmp_path)
    reader = Store(path)
    reader.save(fetched("old", many("old", 10)), now=NOW)
    inside, release = threading.Event(), threading.Event()

    def block() -> None:
        inside.set()
        release.wait(30)

    counts: list[SaveCounts] = []

    def write() -> None:
        with Store(path) as writer:
            counts.append(writer.save(fetched("new", many("new", 50)), now=NOW))

    monkeypatch.setattr(sqlite3, "connect", traced(25, block))
    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert inside.wait(30), "the writer never reached its 25th story"
        assert len(reader.search(limit=100)) == 10  # not the writer's half feed
        assert reader.find(many("old", 1)[0].id) is not None
        assert set(reader.feed_status()) == {"old"}
        # the reads are done and the writer still holds its transaction open: they
        # never waited for its lock (which it keeps until `release`)
        assert thread.is_alive() and counts == []
    finally:
        release.set()
        thread.join(30)
    assert counts == [SaveCounts(new=50)]
    assert len(reader.search(feed="new", limit=100)) == 50
    reader.close()


CHILD = """
import datetime as dt, sqlite3, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import test_store
from newsletter.collect.store import Store

path, block_at = Path(sys.argv[1]), int(sys.argv[2])
def block():
    print("inside", flush=True)
    time.sleep(120)
sqlite3.connect = test_store.traced(block_at, block)
with Store(path) as store:
    for n in range(200):
        store.save(test_store.fetched(f"f{n}", test_store.many(f"f{n}", 50)),
                   now=test_store.NOW)
        print(f"saved {n}", flush=True)
"""


def run_child(tmp_path: Path, block_at: int, wait_for: str) -> None:
    """Start a process saving feeds f0, f1... of 50 stories; SIGKILL it once it says
    `wait_for`."""
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    errors = (tmp_path / "child.err").open("wb")
    child = subprocess.Popen(
        [sys.executable, str(script), str(default_path(tmp_path)), str(block_at),
         str(Path(__file__).parent)], stdout=subprocess.PIPE, stderr=errors)
    assert child.stdout is not None
    said, deadline = b"", time.monotonic() + 60
    try:
        while wait_for.encode() not in said:
            ready, _, _ = select.select([child.stdout], [], [], deadline - time.monotonic())
            chunk = os.read(child.stdout.fileno(), 4096) if ready else b""
            assert chunk, f"the child stopped: {said!r} {(tmp_path / 'child.err').read_text()}"
            said += chunk
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        errors.close()


def assert_whole_feeds(path: Path) -> dict[str, int]:
    """Every feed in the store has its 50 stories or is not there at all."""
    assert integrity(path)[0] == "ok"
    with Store(path) as after:
        counts = {name: status.stories for name, status in after.feed_status().items()}
        assert set(counts.values()) <= {50}, counts
        assert integrity(path)[1:] == (50 * len(counts), 50 * len(counts))
        assert after.save(fetched("later", many("later", 50)), now=NOW) == SaveCounts(new=50)
    return counts


def test_a_process_killed_inside_a_save_leaves_whole_feeds(tmp_path: Path) -> None:
    run_child(tmp_path, block_at=5 * 50 + 25, wait_for="inside")  # half way through f5
    assert assert_whole_feeds(default_path(tmp_path)) == {f"f{n}": 50 for n in range(5)}
    with Store(default_path(tmp_path)) as after:
        assert after.save(fetched("f5", many("f5", 50)), now=NOW) == SaveCounts(new=50)


def test_a_process_killed_at_any_moment_leaves_whole_feeds(tmp_path: Path) -> None:
    run_child(tmp_path, block_at=0, wait_for="saved 3")  # killed wherever it is then
    assert len(assert_whole_feeds(default_path(tmp_path))) >= 4


# --- what feeds give: anchored entries, undated entries (issue 11) -----------------

SCRIPTING_NEWS = (Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feeds"
                  / "rsparser" / "scriptingNews.rss")


def parsed(name: str, data: bytes, now: dt.datetime) -> FetchResult:
    """A feed's bytes as `newsletter fetch` saves them: parsed at `now`, UPDATED."""
    found = parse_feed(data, feed=name, url=f"https://{name}.example.org/feed.xml",
                       fetched_at=now)
    return fetched(name, found.stories, warnings=found.warnings)


@pytest.mark.corpus
def test_entries_that_are_anchors_on_one_page_are_each_a_story(store: Store) -> None:
    """Scripting News: 50 items on 8 day pages (`26.html#a080605`). Two pairs share
    guid and link (the same anchor reused): those are the only repeats."""
    result = parsed("scripting", SCRIPTING_NEWS.read_bytes(), NOW)
    assert store.save(result, now=NOW) == SaveCounts(new=48)
    assert result.warnings == ("scripting: dropped 2 duplicate entries (2 with the same "
                               "guid as an earlier entry)",)
    assert store.feed_status()["scripting"].stories == 48
    day_page = [s for s in store.search(limit=100) if "/2017/06/26.html" in s.url]
    assert len(day_page) == 8 and all("#a" in s.url for s in day_page)
    again = parsed("scripting", SCRIPTING_NEWS.read_bytes(), day(28))
    assert store.save(again, now=day(28)) == SaveCounts(unchanged=48)


@pytest.mark.corpus
def test_the_same_story_from_two_feeds_is_still_one(store: Store) -> None:
    data = SCRIPTING_NEWS.read_bytes()
    store.save(parsed("scripting", data, NOW), now=NOW)
    # a mirror with three anchored entries of one day page, and a story two feeds link to
    # with different tracking and a fragment that names no anchor of its own
    mirrored = b"".join(re.findall(rb"<item>.*?</item>", data, re.DOTALL)[:3])
    mirror = (b'<rss version="2.0"><channel><title>Mirror</title>' + mirrored
              + b"<item><title>Kelp</title><link>http://news.example.org/kelp#comments</link>"
                b"</item></channel></rss>")
    wire = (b'<rss version="2.0"><channel><title>Wire</title><item><title>Kelp</title>'
            b"<link>https://news.example.org/kelp?utm_source=wire</link></item></channel></rss>")
    assert store.save(parsed("mirror", mirror, NOW), now=NOW) == SaveCounts(new=1, unchanged=3)
    assert store.save(parsed("wire", wire, NOW), now=NOW) == SaveCounts(unchanged=1)
    kelp = store.find("https://news.example.org/kelp")
    assert kelp is not None and kelp.sources == ("mirror", "wire")
    assert {n: s.stories for n, s in store.feed_status().items()} == {
        "scripting": 48, "mirror": 4, "wire": 1}


def test_an_undated_story_keeps_its_first_date_when_its_feed_changes(store: Store) -> None:
    """The fallback date is when the store first saw the story, not the latest fetch."""
    def feed(*titles: str, words: str = "") -> bytes:
        items = "".join(f"<item><title>{t}</title><link>https://e.org/{t}</link>"
                        f"<description>{t} {words}</description></item>" for t in titles)
        return f'<rss version="2.0"><channel><title>U</title>{items}</channel></rss>'.encode()

    store.save(parsed("undated", feed("One", "Two"), day(10)), now=day(10))
    changed_body = feed("Three", "One", "Two", words="(corrected)")
    assert store.save(parsed("undated", changed_body, day(12)), now=day(12)) == SaveCounts(
        new=1, updated=2)
    assert [(s.title, s.published) for s in store.search()] == [
        ("Three", day(12)), ("Two", day(10)), ("One", day(10))]
    assert [s.title for s in store.search(since=day(11))] == ["Three"]


def test_a_story_stored_with_a_date_keeps_the_date_it_was_given(store: Store) -> None:
    dated = story("https://e.org/d", "Dated", published=day(3))
    store.save(fetched("news", (dated,)), now=day(10))
    store.save(fetched("news", (replace(dated, published=None, title="Now undated"),)),
               now=day(12))
    found = store.find(dated.id)
    assert found is not None and (found.title, found.published) == ("Now undated", day(3))


# --- the editor's marks and the browser desk's pages -------------------------------


def test_a_story_is_starred_or_skipped_never_both_and_a_mark_comes_off(shelf: Store) -> None:
    assert shelf.mark(KELP.id, starred=True, now=NOW) == Marks(starred=True)
    assert shelf.mark(KELP.id, skipped=True, now=NOW) == Marks(skipped=True)  # un-stars
    assert shelf.mark(KELP.id, starred=False, now=NOW) == Marks(skipped=True)  # not starred
    assert shelf.mark(MARINE.id, starred=True, skipped=False, now=NOW) == Marks(starred=True)
    assert shelf.mark(TOKYO.id, now=NOW) == Marks()  # nothing asked, nothing changed
    assert shelf.marks([KELP.id, MARINE.id, TOKYO.id, "nope"]) == {
        KELP.id: Marks(skipped=True), MARINE.id: Marks(starred=True)}
    assert shelf.mark(KELP.id, skipped=False, now=NOW) == Marks()
    assert shelf.marks([KELP.id]) == {}
    assert shelf.mark("nope", starred=True, now=NOW) is None  # only an exact id
    assert shelf.mark(KELP.id[:6], starred=True, now=NOW) is None
    with pytest.raises(ValueError, match="not both"):
        shelf.mark(KELP.id, starred=True, skipped=True, now=NOW)


def test_search_filters_by_marks_and_leaves_skipped_ones_out_when_asked(shelf: Store) -> None:
    shelf.mark(KELP.id, starred=True, now=NOW)
    shelf.mark(MARINE.id, skipped=True, now=NOW)
    everything = [TOKYO.title, MARINE.title, KELP.title, STORMS.title]
    assert titles(shelf.search()) == everything  # None: marks do not matter
    assert titles(shelf.search(skipped=False)) == [TOKYO.title, KELP.title, STORMS.title]
    assert titles(shelf.search(skipped=True)) == [MARINE.title]
    assert titles(shelf.search(starred=True)) == [KELP.title]
    assert titles(shelf.search(starred=True, words="海")) == []
    assert titles(shelf.search(skipped=True, words="海")) == [MARINE.title]


def test_a_pruned_story_takes_its_mark_with_it(store: Store) -> None:
    old = many("news", 3)  # published on the 1st to the 3rd
    store.save(fetched("news", old), now=NOW)
    store.mark(old[0].id, starred=True, now=NOW)
    store.mark(old[1].id, skipped=True, now=NOW)
    assert store.prune(older_than=day(10)) == 3
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM marks").fetchone()[0] == 0
    conn.close()


def test_a_page_is_newest_first_with_the_total_and_only_what_a_list_shows(shelf: Store) -> None:
    shelf.mark(KELP.id, starred=True, now=NOW)
    shelf.mark(TOKYO.id, skipped=True, now=NOW)
    first = shelf.page(limit=2)
    assert (first.total, first.offset) == (3, 0)  # the skipped one left out
    assert [row.id for row in first.rows] == [MARINE.id, KELP.id]
    assert [row.id for row in shelf.page(offset=2, limit=2).rows] == [STORMS.id]
    assert shelf.page(offset=5).rows == ()
    kelp = first.rows[1]
    assert (kelp.title, kelp.url, kelp.sources, kelp.published) == (
        KELP.title, KELP.url, ("news",), KELP.published or NOW)
    assert (kelp.starred, kelp.skipped, kelp.used_in) == (True, False, ())
    assert kelp.summary == "Divers count urchins again."  # as text
    assert shelf.page(skipped=True).rows[0].id == TOKYO.id
    assert shelf.page(skipped=None).total == 4
    assert [r.id for r in shelf.page(words="海", skipped=None).rows] == [TOKYO.id, MARINE.id]
    assert shelf.row(KELP.id) == kelp and shelf.row("nope") is None


@pytest.mark.parametrize(("query", "expected"), [
    ({"words": "海洋"}, [MARINE]),  # two characters: no trigram, a scan
    ({"words": "保护区"}, [MARINE]),  # three: the index
    ({"words": "AI"}, [STORMS]),
    ({"words": "ai storms"}, [STORMS]),
    ({"words": "kelp"}, [KELP]),
    ({"since": day(21)}, [TOKYO, MARINE]),
    ({"feed": "news", "unused": True}, [TOKYO, KELP, STORMS]),
    ({"feed": "nobody"}, []),
    ({"starred": True}, [KELP]),
    ({"skipped": True}, []),
])
def test_every_filter_of_a_page_is_searchs(shelf: Store, query: dict[str, Any],
                                           expected: list[Story]) -> None:
    shelf.mark(KELP.id, starred=True, now=NOW)
    shelf.mark_used([MARINE.id], issue_number=1, issue_date=dt.date(2026, 11, 23))
    page = shelf.page(**query)
    assert [row.id for row in page.rows] == [s.id for s in expected]
    assert page.total == len(expected)
    assert [s.id for s in shelf.search(**query)] == [s.id for s in expected]


@pytest.mark.parametrize("words", HOSTILE)
def test_no_query_breaks_a_page(shelf: Store, words: str) -> None:
    page = shelf.page(words=words)
    assert page.total == len(page.rows) <= 4


def test_a_short_ascii_term_is_literal_text_in_like_too(store: Store) -> None:
    odd = story("https://e.org/odd", "Rates up 5% in a_b", published=day(3))
    store.save(fetched("news", (odd, story("https://e.org/plain", "Rates up 55 in ab"))),
               now=NOW)
    for words in ("%", "_", "5%", "a_", "\\"):
        expected = [odd.id] if words != "\\" else []
        assert [s.id for s in store.search(words=words)] == expected, words
        assert [r.id for r in store.page(words=words).rows] == expected, words


def test_a_list_summary_is_plain_bounded_text_of_the_summary_else_the_content(
        store: Store) -> None:
    limit = CandidateRow.SUMMARY_CHARS
    long_words = story("https://e.org/long", "Long", summary="<p>" + "word " * 5_000 + "</p>",
                       content="<p>" + "x" * 500_000 + "</p>", published=day(5))
    chinese = story("https://e.org/zh", "中文", summary="<p>" + "海洋保护区扩大。" * 200 + "</p>",
                    published=day(4))
    no_summary = story("https://e.org/content", "Content", content="<p>From the <b>content</b>"
                       "</p>", published=day(3))
    unsafe = story("https://e.org/unsafe", "Unsafe picture", published=day(2),
                   image=Image(src="javascript:alert(1)", alt=""))
    store.save(fetched("news", (long_words, chinese, no_summary, unsafe)), now=NOW)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    rows = {row.title: row for row in store.page().rows}
    store._conn.set_trace_callback(None)
    assert rows["Long"].summary.endswith("word…") and len(rows["Long"].summary) <= limit
    assert rows["中文"].summary.endswith("…") and len(rows["中文"].summary) == limit
    assert rows["Content"].summary == "From the content"
    assert rows["Unsafe picture"].picture is None
    # a list never reads a story's HTML: only the start of its plain text
    assert statements and not [sql for sql in statements
                               if re.search(r"\bs\.(summary|content)\b|\bbody\b(?!, 1)", sql)]


def test_a_generated_store_pages_as_it_was_made(tmp_path: Path) -> None:
    made = make_store(tmp_path / "c.sqlite", 2_000)
    with Store(made.path) as generated:
        first = generated.page()
        assert first.total == made.stories - len(made.skipped)
        dates = [row.published or NOW for row in first.rows]  # every row has a date
        assert dates == sorted(dates, reverse=True) and len(first.rows) == 50
        assert generated.page(starred=True, limit=200).total == len(made.starred)
        assert {r.id for r in generated.page(starred=True, limit=200).rows} == made.starred
        assert generated.page(skipped=True).total == len(made.skipped)
        assert generated.page(unused=True, skipped=None).total == made.stories - len(made.used)
        ai = generated.page(words="AI", skipped=None, limit=200)
        assert ai.total == len([n for n in range(made.stories)
                                if n % AI_EVERY == 0 and n % 5 < 3])
        assert all(re.search(r"\bAI\b", row.title) for row in ai.rows)
        assert generated.page(words="海洋", skipped=None).total > 0


def test_a_version_3_store_is_migrated_keeps_its_stories_and_takes_marks(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    conn = released_store(path, 3)
    conn.execute("INSERT INTO stories (id, url, title, summary, content, authors, guid, "
                 "first_seen) VALUES ('abcd1234', 'https://e.org/v3', 'Kept', '<p>Its summary"
                 "</p>', '', '[]', '', ?)", (NOW.isoformat(),))
    conn.execute("INSERT INTO story_text (rowid, title, body) SELECT pk, title, "
                 "'Its summary' || char(10) FROM stories")
    conn.execute("INSERT INTO story_sources VALUES ('abcd1234', 'news', 0, '')")
    conn.close()
    with Store(path) as migrated:
        assert [s.id for s in migrated.search()] == ["abcd1234"]
        assert migrated.mark("abcd1234", starred=True, now=NOW) == Marks(starred=True)
        [row] = migrated.page(starred=True).rows
        assert (row.id, row.starred, row.summary, row.sources) == (
            "abcd1234", True, "Its summary", ("news",))
    assert integrity(path) == ("ok", 1, 1)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    conn.close()


# --- schema v5: the lean search index --------------------------------------------


def v4_store(path: Path, stories: int) -> None:
    """A store as schema v4 wrote it (v2's index with positions and its own copy of
    the text), through the released migrations and the SQL v4's Store ran."""
    conn = released_store(path, 4)
    body = " ".join(f"tide{n} kelp harbour" for n in range(300))  # a long article
    for n in range(stories):
        conn.execute("INSERT INTO stories (pk, id, url, title, summary, content, authors, "
                     "guid, first_seen) VALUES (?, ?, ?, ?, ?, ?, '[]', '', ?)",
                     (n + 1, f"id{n:06d}", f"https://e.org/{n}", f"海洋保护区 story {n}",
                      f"<p>AI summary {n}</p>", f"<p>{body}</p>", NOW.isoformat()))
        conn.execute("INSERT INTO story_text (rowid, title, body) VALUES (?, ?, ?)",
                     (n + 1, f"海洋保护区 story {n}", f"AI summary {n}\n{body}"))
        conn.execute("INSERT INTO story_sources VALUES (?, 'news', 0, '')", (f"id{n:06d}",))
    conn.execute("INSERT INTO marks VALUES ('id000001', 'starred', ?)", (NOW.isoformat(),))
    conn.execute("INSERT INTO marks VALUES ('id000002', 'skipped', ?)", (NOW.isoformat(),))
    conn.close()


def test_a_version_4_store_keeps_its_stories_and_marks_and_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    v4_store(path, 300)
    before = path.stat().st_size
    with Store(path) as migrated:
        assert len(migrated.search(limit=1000)) == 300
        assert len(migrated.search(skipped=False, limit=1000)) == 299
        assert migrated.marks(["id000001", "id000002"]) == {
            "id000001": Marks(starred=True), "id000002": Marks(skipped=True)}
        assert [s.id for s in migrated.search(words="海洋 AI summary 7", limit=1000)
                if s.id == "id000007"] == ["id000007"]
        [row] = migrated.page(starred=True).rows
        assert (row.id, row.summary) == ("id000001", "AI summary 1")
        kept = migrated.find("id000003")  # its long content is kept compressed now
        assert kept is not None and kept.content.startswith("<p>tide0 kelp harbour tide1")
        assert len(kept.content) > 5000 and kept.summary == "<p>AI summary 3</p>"
    assert integrity(path) == ("ok", 300, 300)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'story_text'"
                        ).fetchone()[0] == 0
    conn.close()
    assert path.stat().st_size < before / 2  # the index's pages given back


def _long_stories(count: int) -> tuple[Story, ...]:
    """Stories whose rows are about 2 KB: the compressed content is most of the row,
    as it is for a full-text feed's. Made-up words, which compress about as well as
    prose does."""
    import random
    import string

    rng = random.Random(5)

    def words(k: int) -> str:
        return " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 8)))
                        for _ in range(k))

    return tuple(story(f"https://e.org/long/{n}", f"Long story {n}", published=day(3),
                       content="".join(f"<p>{words(100)}.</p>" for _ in range(6)))
                 for n in range(count))


def test_a_new_store_has_pages_that_hold_several_long_stories(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stories = _long_stories(300)
    sizes = {}
    for page_bytes in (4096, store_module._PAGE_BYTES):
        monkeypatch.setattr(store_module, "_PAGE_BYTES", page_bytes)
        path = tmp_path / f"{page_bytes}.sqlite"
        with Store(path) as made:
            made.save(fetched("news", stories), now=NOW)
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA page_size").fetchone()[0] == page_bytes
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        assert integrity(path) == ("ok", 300, 300)
        sizes[page_bytes] = path.stat().st_size
    # a 4 KiB page holds one of these rows and wastes the rest
    assert store_module._PAGE_BYTES == 8192
    assert sizes[8192] < sizes[4096] * 0.9, sizes


def test_a_store_made_with_other_pages_keeps_them_and_works(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    v4_store(path, 20)  # 4 KiB pages, as every store before this one
    with Store(path) as migrated:
        migrated.save(fetched("news", _long_stories(5)), now=NOW)
        assert len(migrated.search(limit=100)) == 25
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    conn.close()
    assert integrity(path) == ("ok", 25, 25)


# --- schema v6: new text indexed in one batch per transaction ---------------------


def test_saving_a_feed_writes_the_index_once_not_once_a_story(tmp_path: Path) -> None:
    """v5 indexed each new story from a trigger; a trigger's statement runs in a
    savepoint, and FTS5 writes out what it holds in memory at every savepoint: one
    leaf page (at least) per story, each a segment to merge again later."""
    path = tmp_path / "candidates.sqlite"
    with Store(path) as made:
        made.save(fetched("news", many("news", 60)), now=NOW)
        after_one = leaves_written(path)
        made.save(fetched("wire", many("wire", 60)), now=NOW)
        assert [s.title for s in made.search(words="wire story 42")] == ["wire story 42"]
    assert 1 <= after_one <= 6 and leaves_written(path) <= 2 * 6, after_one
    assert integrity(path) == ("ok", 120, 120)


def test_feeds_saved_together_are_one_transaction_and_one_write_of_the_index(
        tmp_path: Path) -> None:
    """A fetch saves the results that came in while it saved the last ones together."""
    apart, together = tmp_path / "apart.sqlite", tmp_path / "together.sqlite"
    results = [fetched(name, many(name, 15)) for name in ("news", "wire", "blog", "desk")]
    results.append(fetched("down", outcome=FetchOutcome.FAILED, error="no such host"))
    with Store(apart) as one_by_one:
        counts = [one_by_one.save(result, now=NOW) for result in results]
    with Store(together) as at_once:
        assert at_once.save_all(results, now=NOW) == counts
        assert [s.title for s in at_once.search(words="blog story 12")] == ["blog story 12"]
        assert set(at_once.feed_status()) == {"news", "wire", "blog", "desk", "down"}
    assert counts[0] == SaveCounts(new=15) and counts[-1] == SaveCounts()
    # one write of what the index holds per commit: 4 commits against 1
    assert leaves_written(together) < leaves_written(apart), (
        leaves_written(together), leaves_written(apart))
    assert integrity(together) == integrity(apart) == ("ok", 60, 60)


def test_feeds_saved_together_are_saved_all_or_none(store: Store) -> None:
    naive = dt.datetime(2026, 11, 1)  # noqa: DTZ001 - the store refuses it: the second feed fails
    undatable = story("https://late.example.org/1", "Undatable", published=naive)
    with pytest.raises(ValueError, match="naive datetime"):
        store.save_all([fetched("news", many("news", 5)), fetched("late", (undatable,))], now=NOW)
    assert store.feed_states() == {} and store.search() == []
    assert store.save_all([fetched("news", many("news", 5))], now=NOW) == [SaveCounts(new=5)]


def test_a_version_5_store_indexes_its_new_stories_once(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    conn = released_store(path, 5)
    conn.execute("INSERT INTO stories (pk, id, url, title, summary, content, authors, guid, "
                 "first_seen) VALUES (1, 'abcd1234', 'https://e.org/v5', 'Kelp forests', "
                 "'<p>Its summary</p>', '', '[]', '', ?)", (NOW.isoformat(),))
    conn.execute("INSERT INTO story_plain VALUES (1, 'Kelp forests', 'Its summary' || char(10))")
    conn.execute("INSERT INTO story_sources VALUES ('abcd1234', 'news', 0, '')")
    conn.close()
    with Store(path) as migrated:
        migrated.save(fetched("news", (story("https://e.org/new", "Kelp harvests"),)), now=NOW)
        assert sorted(titles(migrated.search(words="kelp"))) == ["Kelp forests", "Kelp harvests"]
        before = leaves_written(path)
        migrated.save(fetched("wire", many("wire", 40)), now=NOW)
        assert leaves_written(path) - before <= 6
    assert integrity(path) == ("ok", 42, 42)
    conn = sqlite3.connect(path)
    triggers = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    conn.close()
    # changing and removing a text still go through the index's triggers
    assert triggers == {"story_plain_removed", "story_plain_changed"}


def test_a_term_is_found_only_where_its_text_is_whole(store: Store) -> None:
    """The index knows which stories hold each trigram, not where: "kelp" has the
    trigrams of "kel" and "elp", and only the text check tells them apart."""
    apart = story("https://e.org/apart", "Kel and elp", summary="<p>the kelx and xelp</p>",
                  published=day(3))
    whole = story("https://e.org/whole", "Kelp", published=day(4))
    store.save(fetched("news", (apart, whole)), now=NOW)
    assert [s.id for s in store.search(words="kelp")] == [whole.id]
    assert [s.id for s in store.search(words="KEL ELP")] == [whole.id, apart.id]


def test_search_reads_the_start_of_a_long_content(store: Store) -> None:
    head = " ".join(["tide"] * (store_module.SEARCHED_CONTENT // 10))  # half of it
    long = story("https://e.org/long", "Long", published=day(3),
                 content=f"<p>{head} early</p><p>{'x' * 5000} late</p>")
    store.save(fetched("news", (long,)), now=NOW)
    assert [s.id for s in store.search(words="early")] == [long.id]
    assert store.search(words="late") == []
