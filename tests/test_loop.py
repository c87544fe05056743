"""The editor's loop end to end, as an editor runs it at the terminal.

A desk made by `newsletter init`, eight real-world feeds served on 127.0.0.1,
`feeds import` and `feeds add`, `fetch`, `new`, `show`, `pick` into every
section, `move`, `unpick`, `check --strict` failing on a routine finding and
passing once the item accepts it, and `build`: the email holds the picks in
the chosen order, their pictures measured from the served files, and feed
summaries cut at a sentence.

The feeds are files of the shared corpora, served as they are but for two
things a real desk would not see: their pictures point at the same local
server (which answers with real JPEG, PNG and GIF bytes made with Pillow), so
nothing leaves the machine; and their dates are moved to this week, as a desk
fetching them today would find them, so that only the one story kept at its
old date is "old" for `check`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import html
import http.server
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import LocalSite, corpus_file

pytestmark = pytest.mark.corpus

# name in newsletter.yaml -> a feed of the corpora; each shows the loop something:
# pictures without sizes, long summaries, RSS 1.0/2.0, Atom, JSON Feed, German
FEEDS = {
    "macworld": "feeds/rsparser/macworld.rss",
    "cloudflare": "feeds/feed-rs/rss2/rss_2.0_cloudflare.xml",
    "research-rsc": "feeds/rsparser/russcox.atom",
    "pbs-space-time": "feeds/feed-rs/atom/atom_mediarss_youtube_1.xml",
    "biorxiv-genomics": "feeds/feed-rs/rss1/rss_1.0_biorxiv.xml",
    "spiegel-update": "feeds/feed-rs/rss2/rss_2.0_spiegel.xml",
    "daring-fireball": "feeds/rsparser/DaringFireball.json",
}
# added with `feeds add` from the address of a page that names it
PAGE_FEED = "feeds/rsparser/livemint.xml"
PAGE_FEED_NAME = "Livemint - News"  # `feeds add` names a feed by its title
# its stories keep their date (December 2023): the deep dive `check` calls old
KEPT_OLD = "biorxiv-genomics"
HANG_GUARD = 180  # seconds for one command, which takes a few


# --- the feeds' server ----------------------------------------------------------------

PICTURE_TYPES = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF"}
REMOTE_PICTURE = re.compile(r"https?://([\w.-]+)(/[^\s\"'<>?#]*?\.(?:jpe?g|png|gif))"
                            r"(?:\?[^\s\"'<>]*)?", re.IGNORECASE)
RSS_DATE = re.compile(r"(<(pubDate|lastBuildDate)>\s*(?:<!\[CDATA\[)?)([^<\]]+?)"
                      r"(\s*(?:\]\]>)?\s*</\2>)")
ISO_DATE = re.compile(r"(<(published|updated)>)([^<]+)(</\2>)"
                      r"|(\"date_(?:published|modified)\"\s*:\s*\")([^\"]+)(\")")


def served_size(path: str) -> tuple[int, int]:
    """The size of the picture served at `path`: its own for each path, 400 to
    1,199 px wide (never "too wide" for `check`), so each can only come from
    measuring that file."""
    width = 400 + zlib.crc32(path.encode()) % 800
    return width, width * 3 // 5


@functools.cache
def picture_bytes(path: str) -> bytes:
    from PIL import Image

    kind = PICTURE_TYPES[path.rsplit(".", 1)[1].lower()]
    out = io.BytesIO()
    Image.new("RGB", served_size(path), (11, 79, 108)).save(out, kind)
    return out.getvalue()


def local_pictures(text: str, base: str) -> str:
    """Every picture on another host moved to this server, under its host's name."""
    return REMOTE_PICTURE.sub(lambda m: f"{base}pictures/{m.group(1)}{m.group(2)}", text)


def this_week(text: str, now: dt.datetime) -> str:
    """The feed's dates moved by whole days, so its newest story is a day old."""
    parsed: list[tuple[re.Match[str], dt.datetime, bool]] = []
    for pattern, rfc822 in ((RSS_DATE, True), (ISO_DATE, False)):
        for match in pattern.finditer(text):
            value = match.group(3) or match.group(6)
            when = _read_date(value.strip(), rfc822=rfc822)
            if when is not None:
                parsed.append((match, when, rfc822))
    if not parsed:
        return text
    newest = max(when for _, when, _ in parsed)
    shift = dt.timedelta(days=(now - newest).days - 1)
    out, at = [], 0
    for match, when, rfc822 in sorted(parsed, key=lambda found: found[0].start()):
        moved = when + shift
        value = email.utils.format_datetime(moved) if rfc822 else moved.isoformat()
        head, tail = (match.group(1), match.group(4)) if match.group(1) else \
            (match.group(5), match.group(7))
        out += [text[at:match.start()], head, value, tail]
        at = match.end()
    return "".join([*out, text[at:]])


def _read_date(value: str, *, rfc822: bool) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value) if rfc822 else \
            dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedServer:
    url: str
    served: dict[str, int]  # path -> how many times it was asked for

    def feed_url(self, relative: str) -> str:
        return f"{self.url}feeds/{Path(relative).name}"


def served_feed(name: str, base: str, now: dt.datetime) -> bytes:
    """The feed file `name` with its pictures on this server and, but for the one kept
    old, its dates in this week."""
    text = local_pictures(corpus_file(SERVED[name]).read_text(encoding="utf-8"), base)
    return (text if name == Path(FEEDS[KEPT_OLD]).name else this_week(text, now)).encode()


# the site's home page, which names its feed as sites do
HOME_PAGE = ('<!doctype html><html><head><title>Livemint</title><link rel="alternate" '
             f'type="application/rss+xml" href="/feeds/{Path(PAGE_FEED).name}"></head>'
             "<body>News</body></html>").encode()
SERVED = {Path(relative).name: relative for relative in (*FEEDS.values(), PAGE_FEED)}


def _feed_handler(now: dt.datetime, served: dict[str, int]
                  ) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            served[path] = served.get(path, 0) + 1
            _, port = cast("tuple[str, int]", self.server.server_address)
            name = path.removeprefix("/feeds/")
            extension = path.rsplit(".", 1)[-1].lower()
            if path == "/":
                self._answer("text/html; charset=utf-8", HOME_PAGE)
            elif name in SERVED:
                kind = "application/json" if name.endswith(".json") else "application/xml"
                self._answer(kind, served_feed(name, f"http://127.0.0.1:{port}/", now))
            elif extension in PICTURE_TYPES:
                self._answer(f"image/{PICTURE_TYPES[extension].lower()}", picture_bytes(path))
            else:
                self.send_error(404)

        def _answer(self, content_type: str, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture()
def feed_server() -> Iterator[FeedServer]:
    served: dict[str, int] = {}
    site = LocalSite(handler=_feed_handler(dt.datetime.now(dt.UTC), served))
    try:
        yield FeedServer(url=site.url, served=served)
    finally:
        site.close()


# --- the editor's commands and edits -----------------------------------------------------


def newsletter(cwd: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """`newsletter ARGS` in `cwd`, as the editor types it; it must exit with `expect`.
    The environment is the test's, which keeps the children on 127.0.0.1 (conftest)."""
    result = subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=HANG_GUARD,
                            env={**os.environ, "COLUMNS": "120"})
    assert result.returncode == expect, (
        f"newsletter {shlex.join(args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def edit(path: Path, *changes: tuple[str, str]) -> None:
    """Change whole lines of the issue file, as the editor does in a text editor."""
    text = path.read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, f"{old!r} is not once in {path.name}:\n{text}"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def line_with(path: Path, needle: str) -> tuple[int, str]:
    """The number and text of the line of `path` that holds `needle` (outside comments)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((number, line) for number, line in enumerate(lines, 1)
                if needle in line.split("#", 1)[0])


def opml(feeds: dict[str, str]) -> str:
    outlines = "".join(f'<outline type="rss" text="{name}" xmlUrl="{html.escape(url)}"/>'
                       for name, url in feeds.items())
    return (f'<?xml version="1.0"?><opml version="2.0"><head><title>feeds</title></head>'
            f"<body>{outlines}</body></opml>")


Story = dict[str, Any]  # a candidate as `candidates --json` prints it


@dataclass(frozen=True, slots=True, kw_only=True)
class Picks:
    """The stories of the issue, in the order the editor left them."""

    lead: Story
    catch_up: tuple[Story, ...]
    deep_dives: tuple[Story, ...]
    unpicked: Story

    def in_order(self) -> list[Story]:
        return [self.lead, *self.catch_up, *self.deep_dives]


def feed_the_desk(desk: Path, server: FeedServer, folder: Path) -> None:
    """A feed reader's list imported, one feed found from a site's home page, one fetch."""
    subscriptions = folder / "subscriptions.opml"
    subscriptions.write_text(opml({name: server.feed_url(relative)
                                   for name, relative in FEEDS.items()}), encoding="utf-8")
    assert "7 new feeds" in newsletter(desk, "feeds", "import", str(subscriptions)).stdout
    assert server.feed_url(PAGE_FEED) in newsletter(desk, "feeds", "add", server.url).stdout
    fetched = as_json(newsletter(desk, "fetch", "--json"))
    assert [f["result"] for f in fetched] == ["updated"] * 8, fetched
    stories = as_json(newsletter(desk, "candidates", "--json", "--limit", "1000"))
    pictures = [s["image"]["src"] for s in stories if s["image"]]
    assert pictures and all(p.startswith(server.url) for p in pictures), \
        "a picture on the internet: the build would try to reach it"


def first(stories: list[Story], *tests: Callable[[Story], bool]) -> Story:
    found = [story for story in stories if all(test(story) for test in tests)]
    assert found, "no candidate of the served feeds fits"
    return found[0]


def from_feed(name: str) -> Callable[[Story], bool]:
    return lambda story: story["source"] == name


def with_picture(story: Story) -> bool:
    return story["image"] is not None


def long_summary(story: Story) -> bool:
    return len(story["summary"]) > 800


def pick_the_stories(desk: Path) -> Picks:
    """This week's stories into every section, one old classic among the deep dives;
    then ordered and one taken out again, with `move` and `unpick`."""
    fresh = as_json(newsletter(desk, "candidates", "--json", "--since", "7d",
                               "--limit", "1000"))
    old = as_json(newsletter(desk, "candidates", "--json", "--feed", KEPT_OLD.upper()))
    lead = first(fresh, from_feed("macworld"), with_picture)
    news = [first(fresh, from_feed(name)) for name in
            ("research-rsc", "pbs-space-time", "spiegel-update", PAGE_FEED_NAME)]
    reads = [first(fresh, from_feed("macworld"), with_picture, long_summary,
                   lambda story: story is not lead),
             first(fresh, from_feed("cloudflare"), with_picture),
             first(old, long_summary)]

    shown = newsletter(desk, "show", lead["id"][:6]).stdout
    assert lead["title"] in shown and lead["image"]["src"] in shown and "macworld" in shown
    newsletter(desk, "pick", lead["id"][:6], "--into", "lead")
    for story in news:
        newsletter(desk, "pick", story["id"], "--into", "catch_up")
    for story in reads:
        newsletter(desk, "pick", story["id"], "--into", "deep_dives")
    newsletter(desk, "move", reads[2]["id"], "--to", "1")
    newsletter(desk, "move", news[3]["id"], "--before", news[0]["id"])
    newsletter(desk, "unpick", news[2]["id"])
    return Picks(lead=lead, catch_up=(news[3], news[0], news[1]),
                 deep_dives=(reads[2], reads[0], reads[1]), unpicked=news[2])


def write_the_editors_words(issue: Path) -> None:
    """The subject, preheader and bullets in place of the draft's TODOs; marked ready."""
    edit(issue,
         ('subject: "TODO: the subject line of issue 2"',
          'subject: "My Briefing #2: locks, logs and a fungus"'),
         ('preheader: "TODO: the line inboxes show after the subject"',
          "preheader: Smart locks, transparent logs and the week's reading"),
         ('    - "TODO: what happened"', "    - Keys are on the way out"),
         ('    - "TODO: why it matters"', "    - A lock is now a computer on the door"),
         ("status: draft", "status: ready"))


def accept_for_the_item(issue: Path, story: Story, code: str, reason: str) -> None:
    _, line = line_with(issue, f"story: {story['id']}")
    edit(issue, (line, f'{line}\n      accept:\n        {code}: "{reason}"'))


# --- what the email must hold ----------------------------------------------------------


def words(text: str) -> str:
    return " ".join(text.split())


def assert_in_order(text: str, picks: Picks) -> None:
    at = [text.find(words(story["title"])) for story in picks.in_order()]
    assert -1 not in at and at == sorted(at), [s["title"] for s in picks.in_order()]
    assert words(picks.unpicked["title"]) not in text


def pictures_in(email_html: str) -> dict[str, tuple[int, int]]:
    """src -> (width, height) of every <img> of the email, as Outlook's copy gives them
    (the copy other clients read has no height: Yahoo would take it as a minimum)."""
    found = {}
    for tag in re.findall(r"<img\b[^>]*>", email_html):
        attributes = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        if "height" in attributes:
            found[attributes["src"]] = (int(attributes["width"]), int(attributes["height"]))
    return found


def fitted(size: tuple[int, int], column: int = 552) -> tuple[int, int]:
    """The theme's size for a picture: its column's width at most, never enlarged."""
    width, height = size
    shown = min(width, column)
    return shown, round(height * shown / width)


def assert_cut_at_a_sentence(text: str, summary: str, limit: int = 60) -> None:
    """The email shows the summary's first whole sentences, at most `limit` words."""
    from newsletter.sanitize import html_to_plain

    whole = html_to_plain(summary)
    start = text.find(whole[:40])
    assert start >= 0, whole[:40]
    shown = 0
    while shown < len(whole) and text[start + shown:start + shown + 1] == whole[shown]:
        shown += 1
    blurb = whole[:shown].rstrip()
    assert len(whole.split()) > limit >= len(blurb.split()), (blurb, whole)
    assert blurb.endswith((".", "!", "?")), blurb


def passes_check_after_one_acceptance(desk: Path, issue: Path, picks: Picks) -> None:
    """`check --strict` fails on the one routine finding, on the old story's own line,
    and passes once that item accepts it, the reason kept in the report."""
    report = as_json(newsletter(desk, "check", "--strict", "--offline", "--json", expect=1))
    stopping = [(f["code"], (f["location"] or {}).get("line"))
                for f in report["issues"][0]["findings"] if f["severity"] != "note"]
    old = picks.deep_dives[0]
    assert stopping == [("story-old", line_with(issue, f"story: {old['id']}")[0])], report

    accept_for_the_item(issue, old, "story-old", "a classic worth rereading")
    passed = as_json(newsletter(desk, "check", "--strict", "--offline", "--json"))
    notes = {(f["code"], f["location"]["line"]): f["message"]
             for f in passed["issues"][0]["findings"] if f["location"]}
    at = {story["id"]: line_with(issue, f"story: {story['id']}")[0]
          for story in picks.in_order()}
    assert "a classic worth rereading" in notes[("story-old", at[old["id"]])]
    for story in picks.deep_dives[:2]:  # the two long summaries
        assert ("blurb-trimmed", at[story["id"]]) in notes, notes


def assert_the_email(folder: Path, lock_file: Path, picks: Picks, server: FeedServer) -> None:
    """The picks in order, their pictures at the size measured from the served file
    (and pinned in the lock file), the long summaries cut at a sentence."""
    email_html = (folder / "email.html").read_text(encoding="utf-8")
    email_text = words((folder / "email.txt").read_text(encoding="utf-8"))
    assert_in_order(email_text, picks)
    shown = pictures_in(email_html)
    lock = json.loads(lock_file.read_text(encoding="utf-8"))
    # the lead and the first two deep dives across the column; the rest compact cards
    columns = [(picks.lead, 552), *((dive, 552 if n < 2 else 168)
                                    for n, dive in enumerate(picks.deep_dives) if n)]
    for story, column in columns:
        src = story["image"]["src"]
        path = "/" + src.removeprefix(server.url)
        served = served_size(path)
        assert server.served[path] >= 1  # measured from this server's file
        assert shown[src] == fitted(served, column), src
        assert lock["pictures"][src] == {"width": served[0], "height": served[1]}
    for story in picks.deep_dives[:2]:
        assert_cut_at_a_sentence(email_text, story["summary"])


# --- the loop --------------------------------------------------------------------------


def test_the_editors_loop_from_feeds_to_a_built_email(tmp_path: Path,
                                                        feed_server: FeedServer) -> None:
    newsletter(tmp_path, "init", "desk")
    desk = tmp_path / "desk"
    [example] = (desk / "issues").glob("*.yaml")
    feed_the_desk(desk, feed_server, tmp_path)

    drafted = re.search(r"wrote (issues/[\d-]+\.yaml)", newsletter(desk, "new").stdout)
    assert drafted, "new names the file it wrote"
    issue = desk / drafted.group(1)
    name = str(issue.relative_to(desk))
    day = dt.date.fromisoformat(issue.stem)
    assert day > dt.date.fromisoformat(example.stem) and day.weekday() == 4  # weekly on friday
    picks = pick_the_stories(desk)
    write_the_editors_words(issue)

    # built by name, as a plain build holds an issue dated after today off the site (see
    # below): this measures its pictures and pins them in the lock file, which is where
    # `check --offline` finds their sizes
    assert "warning" not in newsletter(desk, "build", name).stderr
    passes_check_after_one_acceptance(desk, issue, picks)

    # the site's build holds the issue until its day; named, it is built all the same
    held = newsletter(desk, "build")
    assert f"held {name} until {day}" in held.stdout
    assert not (desk / "site" / "issues" / issue.stem).exists()
    built = newsletter(desk, "build", name)
    assert "warning" not in built.stderr, built.stderr
    index = (desk / "site" / "index.html").read_text(encoding="utf-8")
    assert example.stem in index and issue.stem not in index
    folder = desk / "site" / "issues" / issue.stem
    assert_the_email(folder, issue.with_suffix(".lock.json"), picks, feed_server)

    # what CI has: the issue and its lock file; no store, no picture cache, no network
    shutil.rmtree(desk / ".newsletter")
    newsletter(desk, "build", name, "--offline", "--out", str(tmp_path / "ci"))
    again = tmp_path / "ci" / "issues" / issue.stem / "email.html"
    assert again.read_bytes() == (folder / "email.html").read_bytes()
