"""Hostile feeds end to end: ingested, picked into an issue, rendered; nothing can run.

Also: a `newsletter fetch` killed mid-run leaves a consistent store, and
the next fetch completes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LocalSite
from markupsafe import escape
from test_parse import with_link
from test_sanitize import script_risks

from newsletter import api
from newsletter.collect.parse import parse_feed
from newsletter.desk.editorial import load_issue
from newsletter.desk.lookup import StaticLookup
from newsletter.errors import FeedError
from newsletter.model import FetchOutcome, Story

CASES = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "xss" / "feedparser_sanitize"
NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
PLAYERS = ("https://www.youtube-nocookie.com/", "https://player.vimeo.com/")


def sanitize_case_stories() -> list[Story]:
    cases = json.loads((CASES / "CASES.json").read_text(encoding="utf-8"))["cases"]
    stories: list[Story] = []
    for number, case in enumerate(cases):
        data = with_link((CASES / case["file"]).read_bytes())
        try:
            parsed = parse_feed(data, feed=case["file"], url="https://feeds.example.org/x",
                                fetched_at=NOW)
        except FeedError:
            continue
        # one story per case, each at its own address so none dedupes away
        stories += [Story(**{**{f: getattr(s, f) for f in s.__dataclass_fields__},
                             "id": f"c{number:05d}{i}", "url": f"https://e.org/{number}/{i}"})
                    for i, s in enumerate(parsed.stories)]
    return stories


@pytest.mark.corpus
def test_feed_payloads_picked_into_an_issue_cannot_run(desk: Path) -> None:
    stories = sanitize_case_stories()
    assert len(stories) > 500
    settings = api.load_desk(desk)
    lookup = StaticLookup(stories)
    for start in range(0, len(stories), 150):
        chunk = stories[start:start + 150]
        path = desk / "issues" / "2026-12-04.yaml"
        path.write_text(
            "number: 1\ndate: 2026-12-04\nsubject: Hostile feeds\n"
            f"lead:\n  story: {chunk[0].id}\n"
            "catch_up:\n  items:\n" + "".join(f"    - story: {s.id}\n" for s in chunk)
            + "deep_dives:\n  items:\n" + "".join(f"    - story: {s.id}\n" for s in chunk[:20]),
            encoding="utf-8")
        issue, rendered = api.render_issue(path, settings, lookup=lookup)
        assert len(issue.stories) == len(chunk)
        assert script_risks(rendered.email_html) == []
        assert script_risks(rendered.web_html, allowed_iframes=PLAYERS,
                            allowed_forms=(settings.signup_url,)) == []


@pytest.mark.corpus
def test_a_referenced_story_brings_its_fields_into_all_three_outputs(desk: Path) -> None:
    [story] = [s for s in sanitize_case_stories() if s.title][:1]
    path = desk / "issues" / "2026-12-04.yaml"
    path.write_text("number: 1\ndate: 2026-12-04\nsubject: S\n"
                    f"lead:\n  story: {story.id}\n", encoding="utf-8")
    issue = load_issue(path, api.load_desk(desk), StaticLookup([story]))
    assert (issue.lead.url, issue.lead.headline) == (story.url, story.title)


# --- a fetch killed with SIGKILL ---------------------------------------------------


class _SlowFeeds(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        number = int(self.path.strip("/").split(".")[0])
        time.sleep(0.05 * (number % 10))
        items = "".join(f"<item><title>Feed {number} story {i}</title>"
                        f"<link>https://news.example.org/{number}/{i}</link>"
                        f"<description>Story {i} of feed {number}.</description></item>"
                        for i in range(40))
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{number}</title>' \
               f"{items}</channel></rss>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def slow_server() -> Iterator[str]:
    site = LocalSite(handler=_SlowFeeds)
    try:
        yield site.url
    finally:
        site.close()


def test_a_fetch_killed_mid_run_leaves_a_consistent_store(desk: Path, slow_server: str) -> None:
    feeds = "".join(f"  - name: feed-{n}\n    url: {slow_server}{n}.xml\n" for n in range(60))
    settings_file = desk / "newsletter.yaml"
    text = settings_file.read_text(encoding="utf-8")
    settings_file.write_text(text[: text.index("\nfeeds:")] + "\nfeeds:\n" + feeds,
                             encoding="utf-8")
    database = desk / ".newsletter" / "candidates.sqlite"
    child = subprocess.Popen([sys.executable, "-m", "newsletter", "fetch"], cwd=desk,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and _saved_feeds(database) < 5:
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the fetch and its parsing workers
        child.wait(timeout=10)
    saved = _saved_feeds(database)
    assert 5 <= saved < 60, "the fetch was not caught mid-run"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = db.execute("SELECT feed, COUNT(*) FROM story_sources GROUP BY feed").fetchall()
    assert all(count == 40 for _, count in counts), counts  # every feed whole, or absent
    again = subprocess.run([sys.executable, "-m", "newsletter", "fetch"], cwd=desk,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert _saved_feeds(database) == 60


def _saved_feeds(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("SELECT COUNT(DISTINCT feed) FROM story_sources").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


# --- one feed through `fetch` into the store (issue 11) -----------------------------

HOSTILE_TITLE = '<![><img src="]><img src=x onerror=alert(39)//">'


def desk_with_feed(desk: Path, body: bytes) -> Path:
    """The desk reading one local feed, `feeds/daily.xml`; returns the feed's path."""
    feed = desk / "feeds" / "daily.xml"
    feed.parent.mkdir(exist_ok=True)
    feed.write_bytes(body)
    settings_file = desk / "newsletter.yaml"
    text = settings_file.read_text(encoding="utf-8")
    settings_file.write_text(text[: text.index("\nfeeds:")]
                             + "\nfeeds:\n  - name: daily\n    path: feeds/daily.xml\n",
                             encoding="utf-8")
    return feed


def rss_items(*items: tuple[str, str]) -> bytes:
    """(title, description) pairs as an RSS feed, undated, each at an address of its own
    that stays the same when the feed changes."""
    body = "".join(f"<item><title>{escape(title)}</title>"
                   f"<link>https://e.org/{hashlib.sha256(title.encode()).hexdigest()[:12]}</link>"
                   f"<description>{escape(text)}</description></item>" for title, text in items)
    return f'<rss version="2.0"><channel><title>Daily</title>{body}</channel></rss>'.encode()


def test_a_title_that_broke_the_sanitizer_costs_only_that_title(desk: Path) -> None:
    """It raised AssertionError in the stdlib HTML parser: the whole feed was lost."""
    items = [(f"Story {n}", f"Words of story {n}") for n in range(50)]
    items[7] = (HOSTILE_TITLE + "</b>", "Words of the eighth")  # HTML, feedparser judges
    desk_with_feed(desk, rss_items(*items))
    settings = api.load_desk(desk)
    [report] = api.fetch(settings, now=NOW)
    assert report.result.outcome == FetchOutcome.UPDATED and report.saved.new == 50
    assert "daily: entry 8: its title has no text once its markup is removed; its first " \
           "words stand in" in report.result.warnings
    with api.open_store(settings) as store:
        titles = {s.title for s in store.search(limit=100)}
    assert len(titles) == 50 and "Words of the eighth" in titles


def test_undated_stories_keep_their_first_date_when_the_feed_changes(desk: Path) -> None:
    feed = desk_with_feed(desk, rss_items(("One", "one"), ("Two", "two")))
    settings = api.load_desk(desk)
    first, later = NOW, NOW + dt.timedelta(days=2)
    api.fetch(settings, now=first)
    feed.write_bytes(rss_items(("Three", "three"), ("One", "one, corrected"), ("Two", "two")))
    [report] = api.fetch(settings, now=later)
    assert (report.saved.new, report.saved.updated) == (1, 1)
    with api.open_store(settings) as store:
        newest_first = [(s.title, s.published) for s in store.search()]
    assert newest_first == [("Three", later), ("Two", first), ("One", first)]
