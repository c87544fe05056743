"""Hostile feeds end to end: ingested, picked into an issue, rendered; nothing can run.

Also: a `newsletter fetch` killed mid-run leaves a consistent store, and
the next fetch completes.
"""

from __future__ import annotations

import datetime as dt
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
from test_parse import with_link
from test_sanitize import script_risks

from newsletter import api
from newsletter.collect.parse import parse_feed
from newsletter.editorial import StaticLookup, load_issue
from newsletter.errors import FeedError
from newsletter.model import Story

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
