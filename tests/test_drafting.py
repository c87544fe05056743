"""Editing the editor's files: drafts, picks, OPML, lock files, pages added by hand."""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import http.server
import json
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import brotli  # type: ignore[import-untyped]  # no stubs
import pytest
from conftest import REPO, LocalSite
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from newsletter.collect.opml import feeds_from_opml, feeds_to_opml
from newsletter.collect.page import feed_links, story_from_page
from newsletter.collect.store import MIN_PREFIX as STORE_MIN_PREFIX
from newsletter.collect.web import find_feed, get_page
from newsletter.desk import drafts
from newsletter.desk.drafts import add_feeds, draft_text, pick, rank_candidates
from newsletter.desk.editorial import load_issue
from newsletter.desk.lockfile import read_lock, story_from_json, story_to_json, write_lock
from newsletter.desk.lookup import StaticLookup
from newsletter.errors import FeedError, NewsletterError
from newsletter.model import FeedSpec, Image, Settings, Story

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def story(n: int, **extra: object) -> Story:
    fields: dict[str, object] = {
        "id": f"a{n:09x}", "url": f"https://news.example.org/{n}", "title": f"Story {n}",
        "source": "coastal-desk", "sources": ("coastal-desk",),
        "published": NOW - dt.timedelta(days=n)}
    fields.update(extra)
    return Story(**fields)  # type: ignore[arg-type]


ISSUE = """\
# Issue 49: the editor's own comment stays
number: 49
date: 2026-12-04
status: draft
subject: "A subject"   # trailing comment stays too

lead:
  url: https://example.org/replace-me
  headline: "TODO: the lead's headline"

catch_up:
  heading: 60-Second Catch-up
  items:
    - url: https://example.org/written
      headline: Written inline   # keep me
"""


def test_pick_keeps_comments_order_and_formatting(tmp_path: Path) -> None:
    path = tmp_path / "2026-12-04.yaml"
    path.write_text(ISSUE, encoding="utf-8")
    pick(path, story(1), "catch_up")
    pick(path, story(2), "deep_dives")
    pick(path, story(3), "lead")
    text = path.read_text(encoding="utf-8")
    assert "# Issue 49: the editor's own comment stays" in text
    assert '"A subject"   # trailing comment stays too' in text
    assert "headline: Written inline   # keep me" in text
    assert text.index("    - url: https://example.org/written") < text.index(
        f"    - story: {story(1).id}")
    assert f"\ndeep_dives:\n  items:\n    - story: {story(2).id}" in text
    assert f"lead:\n  story: {story(3).id}" in text
    assert "replace-me" not in text and "TODO: the lead" not in text


def test_pick_into_a_broken_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: [1\n", encoding="utf-8")
    with pytest.raises(NewsletterError, match="cannot read the file"):
        pick(path, story(1), "lead")


def test_a_draft_is_valid_yaml_listing_the_best_candidates_first() -> None:
    cross_posted = story(9, sources=("coastal-desk", "ocean-science"))
    text = draft_text(number=50, date=dt.date(2026, 12, 11),
                      candidates=rank_candidates([story(1), story(2), cross_posted]))
    assert "number: 50\ndate: 2026-12-11\nstatus: draft" in text
    offered = [line for line in text.splitlines() if line.startswith("#    - story:")]
    assert [line.split()[3] for line in offered] == [cross_posted.id, story(1).id, story(2).id]


def test_opml_round_trip_and_import_keeps_comments(tmp_path: Path) -> None:
    feeds = [FeedSpec(name="Ocean & Science", url="https://science.example.net/rss?x=1&y=2"),
             FeedSpec(name="local", path="examples/feeds/a.xml")]
    opml = feeds_to_opml(feeds, title="Tideline <desk>")
    back = feeds_from_opml(opml.encode())
    assert [(f.name, f.url) for f in back] == [("Ocean & Science", feeds[0].url)]
    settings = tmp_path / "newsletter.yaml"
    settings.write_text("name: Desk  # a comment\nbase_url: https://e.org/\nfeeds:\n"
                        "  - name: Ocean & Science\n    url: https://other.example.org/\n",
                        encoding="utf-8")
    added = add_feeds(settings, back + back)
    text = settings.read_text(encoding="utf-8")
    assert len(added) == 1 and "# a comment" in text
    assert "name: Ocean & Science-2" in text and text.count("science.example.net") == 1


@pytest.mark.parametrize("hostile", [
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
    b"not xml at all <",
])
def test_hostile_or_broken_opml_is_refused(hostile: bytes) -> None:
    with pytest.raises(NewsletterError):
        feeds_from_opml(hostile)


def test_lock_round_trips_and_is_stable(tmp_path: Path) -> None:
    stories = [story(1, image=Image(src="https://i.example.org/a.jpg", alt="a", width=600,
                                    height=400), authors=("Ana",), language="en",
                     updated=NOW), story(2, summary="<p>两句话。</p>")]
    path = tmp_path / "2026-12-04.lock.json"
    write_lock(path, stories)
    first = path.read_bytes()
    assert read_lock(path) == tuple(stories)
    write_lock(path, stories)
    assert path.read_bytes() == first and "两句话" in first.decode()


def test_a_damaged_lock_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "x.lock.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(NewsletterError, match="lock file") as caught:
        read_lock(path)
    assert "--refresh" in caught.value.hint


# hypothesis wants naive bounds for aware datetimes
EARLIEST, LATEST = dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)  # noqa: DTZ001


@given(st.text(max_size=40), st.text(max_size=80), st.none() | st.datetimes(
    min_value=EARLIEST, max_value=LATEST, timezones=st.just(dt.UTC)))
def test_story_json_round_trip(title: str, summary: str, published: dt.datetime | None) -> None:
    original = story(3, title=title, summary=summary, published=published)
    assert story_from_json(story_to_json(original)) == original


PAGE = """<!doctype html><html lang="en"><head>
<title>Fallback title</title>
<link rel="canonical" href="https://news.example.org/2026/11/27/harbour?utm_source=x#top">
<meta property="og:title" content="The harbour that moved">
<meta property="og:description" content="A town votes to leave <its> sea wall.">
<meta property="og:image" content="/img/harbour.jpg?sig=abc">
<meta property="og:image:width" content="1200"><meta property="og:image:height" content="630">
<meta property="og:site_name" content="Coastal Desk">
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "NewsArticle", "headline": "LD headline", "datePublished": "2026-11-26T08:00:00Z",
   "author": [{"@type": "Person", "name": "Ana Reyes"}]}]}</script>
</head><body><p>Text</p></body></html>"""


def test_a_page_becomes_a_story_from_its_metadata() -> None:
    found = story_from_page(PAGE, url="https://news.example.org/p?id=1", fetched_at=NOW)
    assert found.url == "https://news.example.org/2026/11/27/harbour"
    assert found.title == "The harbour that moved" and found.source == "Coastal Desk"
    assert "&lt;its&gt;" in found.summary
    assert found.image == Image(src="https://news.example.org/img/harbour.jpg?sig=abc",
                                alt="The harbour that moved", width=1200, height=630)
    assert found.published == dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC)
    assert found.authors == ("Ana Reyes",) and found.language == "en"


def test_a_page_without_a_title_is_refused() -> None:
    with pytest.raises(FeedError, match="no title"):
        story_from_page("<html><body>x</body></html>", url="https://e.org/", fetched_at=NOW)


def test_markup_that_breaks_the_stdlib_parser_keeps_what_was_read() -> None:
    head, _, _ = PAGE.partition("</head>")
    hostile = head + '<![><img src="]><img src=x onerror=alert(39)//"></head></html>'
    found = story_from_page(hostile, url="https://news.example.org/p?id=1", fetched_at=NOW)
    assert found.title == "The harbour that moved"


# --- a page fetched for "newsletter add": decoded as a browser would, bounded ------------


Served = dict[str, tuple[bytes, dict[str, str]]]
Pages = tuple[str, Served]  # the site's address, and what it serves by path


class _PageHandler(http.server.BaseHTTPRequestHandler):
    """Serves `pages[path]` = (body, headers) exactly as given."""

    pages: ClassVar[Served] = {}

    def do_GET(self) -> None:
        body, headers = self.pages.get(self.path, (b"", {}))
        self.send_response(200 if self.path in self.pages else 404)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # the client may stop reading at its cap

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def pages() -> Iterator[Pages]:
    served: Served = {}
    handler = type("Handler", (_PageHandler,), {"pages": served})
    site = LocalSite(handler=handler)
    try:
        yield site.url, served
    finally:
        site.close()


JAPANESE_TITLE = "港が動いた日"
SHIFT_JIS_PAGE = (f'<html lang="ja"><head><meta charset="Shift_JIS">'
                  f'<meta property="og:title" content="{JAPANESE_TITLE}">'
                  f"<title>{JAPANESE_TITLE}</title></head><body>本文</body></html>")


def test_a_page_is_decoded_by_its_meta_charset_when_http_says_none(pages: Pages) -> None:
    url, served = pages
    served["/sjis.html"] = (SHIFT_JIS_PAGE.encode("shift_jis"),
                            {"Content-Type": "text/html"})  # no charset: only the page says
    text, final = get_page(f"{url}sjis.html")
    assert final == f"{url}sjis.html"
    story = story_from_page(text, url=final, fetched_at=NOW)
    assert story.title == JAPANESE_TITLE and story.language == "ja"


def test_a_byte_order_mark_wins_over_the_http_charset(pages: Pages) -> None:
    url, served = pages
    page = f"<html><head><title>{JAPANESE_TITLE} — café</title></head></html>"
    served["/bom.html"] = (codecs.BOM_UTF8 + page.encode("utf-8"),
                           {"Content-Type": "text/html; charset=iso-8859-1"})
    served["/http.html"] = (page.encode("utf-8"),  # no BOM: the HTTP charset is obeyed
                            {"Content-Type": "text/html; charset=utf-8"})
    text, _ = get_page(f"{url}bom.html")
    assert text == page  # the BOM itself is not part of the text
    assert get_page(f"{url}http.html")[0] == page


def test_a_compressed_page_is_read_and_a_bomb_stops_at_the_cap(pages: Pages) -> None:
    """Inflated by the fetcher's bounded decoders: 36 KB of brotli that would inflate to
    200 MB stops at the 5 MB cap (httpx's own decoder, before, held 385 MB at once)."""
    url, served = pages
    served["/packed.html"] = (brotli.compress(SHIFT_JIS_PAGE.encode("utf-8")),
                              {"Content-Type": "text/html; charset=utf-8",
                               "Content-Encoding": "br"})
    assert JAPANESE_TITLE in get_page(f"{url}packed.html")[0]
    packer = brotli.Compressor(quality=1)
    bomb = b"".join(packer.process(b"\0" * (16 << 20)) for _ in range(12)) + packer.finish()
    served["/bomb.html"] = (bomb, {"Content-Type": "text/html", "Content-Encoding": "br"})
    tracemalloc.start()
    try:
        with pytest.raises(FeedError, match="larger than 5,000,000 bytes"):
            get_page(f"{url}bomb.html")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60 * 1024 * 1024  # the capped body and its copies: about 18 MB


def test_a_page_that_is_not_there_says_so(pages: Pages) -> None:
    url, _ = pages
    with pytest.raises(FeedError, match="answered 404") as caught:
        get_page(f"{url}missing.html")
    assert caught.value.hint
    with pytest.raises(FeedError, match="not a web address"):
        get_page("javascript:alert(1)")


# --- pick, unpick, move: every other byte stays ------------------------------------------

HAND_WRITTEN = """\
# Issue 49, written by hand: every comment and blank line below is the editor's
number: 49
date: 2026-12-04
subject:   "A subject"     # spaced as the editor likes

lead:
    story: a000000001      # the lead, indented four
    bullets: ["one", 'two']
    body:
    - text: |
        A paragraph.

        # not a comment: text inside the block
    - related:
        story: a000000007

catch_up:
  heading: Catch-up
  items:
  # about the first item
  - story: a000000002   # keep me

  - url: https://example.org/written
    headline: Written inline
    blurb: >
      folded
      text

  # a note between items, with a blank line on each side

  - text: A paragraph between stories.
  - story: a000000003
deep_dives:
  items:
      - story: a000000004
      - story: a000000005   # last
"""


def hand_written(tmp_path: Path, text: str = HAND_WRITTEN) -> Path:
    path = tmp_path / "2026-12-04.yaml"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_pick_then_unpick_gives_back_the_very_same_bytes(tmp_path: Path, newline: str) -> None:
    path = hand_written(tmp_path, HAND_WRITTEN.replace("\n", newline))
    before = path.read_bytes()
    for section in ("catch_up", "deep_dives"):
        picked = pick(path, story(9), section)
        assert f"- story: {story(9).id}  # " in path.read_text("utf-8")
        assert path.read_bytes().count(b"\r\n") == (before.count(b"\r\n") + 1 if newline == "\r\n"
                                                    else 0)
        undone = drafts.unpick(path, story(9).id)
        assert (undone.section, undone.position) == (section, picked.position)
        assert path.read_bytes() == before


def test_move_there_and_back_gives_back_the_very_same_bytes(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    before = path.read_bytes()
    moved = drafts.move(path, story(3).id, to=1)
    assert (moved.position, moved.moved_from) == (1, 4)
    text = path.read_text("utf-8")
    assert text.index(story(3).id) < text.index("# about the first item") < text.index(
        story(2).id) < text.index("Written inline") < text.index("A paragraph between")
    assert "\n  # a note between items, with a blank line on each side\n\n" in text
    drafts.move(path, story(3).id, to=4)
    assert path.read_bytes() == before
    drafts.move(path, story(5).id, before=story(4).id)
    drafts.move(path, story(4).id, before=story(5).id)
    assert path.read_bytes() == before


@pytest.mark.parametrize("example", sorted((REPO / "issues").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_the_example_issues_come_back_byte_for_byte(tmp_path: Path, example: Path) -> None:
    path = tmp_path / example.name
    path.write_bytes(example.read_bytes())
    placed = drafts.issue_picks(path).placed
    for section in ("catch_up", "deep_dives"):
        pick(path, story(9), section)
        drafts.unpick(path, story(9).id)
        assert path.read_bytes() == example.read_bytes()
        last = [p for p in placed if p.section == section][-1]
        drafts.move(path, last.url, to=1)
        assert drafts.issue_picks(path).placed != placed
        drafts.move(path, last.url, to=last.position)
        assert path.read_bytes() == example.read_bytes()


def test_an_item_keeps_the_comment_written_directly_above_it(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    drafts.move(path, story(2).id, to=3)
    lines = path.read_text("utf-8").splitlines()
    mine = lines.index(f"  - story: {story(2).id}   # keep me")
    assert lines[mine - 1] == "  # about the first item"
    assert lines[mine - 3] == "  # a note between items, with a blank line on each side"
    assert lines[mine + 1] == f"  - story: {story(3).id}"


@hsettings(max_examples=60, deadline=None)  # files on disk: no deadline on a loaded machine
@given(st.lists(st.sampled_from(["", "  # a comment", "", "  # note: - story: x"]),
                min_size=4, max_size=4),
       st.integers(min_value=1, max_value=3), st.integers(min_value=1, max_value=3))
def test_any_spacing_and_comments_survive_pick_move_unpick(gaps: list[str], old: int,
                                                          new: int) -> None:
    import tempfile

    items = [f"    - story: a00000000{n}\n" for n in (1, 2, 3)]
    text = "number: 1\nlead:\n  url: https://e.org/\n  headline: H\ncatch_up:\n  items:\n"
    text += "".join(item + (gap + "\n" if gap else "") for item, gap in zip(items, gaps,
                                                                          strict=False))
    text += "# the end\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "i.yaml"
        path.write_text(text, encoding="utf-8")
        drafts.move(path, f"a00000000{old}", to=new)
        drafts.move(path, f"a00000000{old}", to=old)
        assert path.read_text(encoding="utf-8") == text
        pick(path, story(9), "catch_up")
        drafts.unpick(path, story(9).id)
        assert path.read_text(encoding="utf-8") == text


def test_a_second_lead_is_refused_naming_the_lead_and_replace_keeps_its_prose(
        tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    lookup = StaticLookup([story(1)])
    with pytest.raises(NewsletterError) as caught:
        pick(path, story(8), "lead", lookup=lookup)
    message = str(caught.value)
    assert f'the lead is already {story(1).id} "Story 1"' in message
    assert "2026-12-04.yaml:7" in message and "--replace" in caught.value.hint
    assert path.read_text("utf-8") == HAND_WRITTEN
    edit = pick(path, story(8), "lead", lookup=lookup, replace=True)
    assert edit.replaced is not None and edit.replaced.story_id == story(1).id
    assert edit.kept == ("bullets", "body") and edit.line == 7
    text = path.read_text("utf-8")
    assert f"lead:\n    story: {story(8).id}  # " in text
    assert "    bullets: [\"one\", 'two']\n    body:\n" in text and story(1).id not in text


def test_picking_into_a_placeholder_lead_needs_no_replace(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(draft_text(number=2, date=dt.date(2026, 12, 4), candidates=[]), "utf-8")
    edit = pick(path, story(1), "lead")
    assert edit.replaced is None and "replace-me" not in path.read_text("utf-8").split(
        "catch_up:")[0]


@pytest.mark.parametrize(("ref_written", "where"), [
    ("a000000002", "catch_up item 1"),
    ("a0000000", "catch_up item 1"),  # a unique start of the id, as an editor may write it
])
def test_a_story_already_in_the_issue_is_refused_naming_where(tmp_path: Path, ref_written: str,
                                                              where: str) -> None:
    path = hand_written(tmp_path, HAND_WRITTEN.replace("story: a000000002", f"story: "
                                                        f"{ref_written}"))
    before = path.read_bytes()
    for section in ("catch_up", "deep_dives"):
        with pytest.raises(NewsletterError) as caught:
            pick(path, story(2), section, lookup=StaticLookup([story(2)]))
        message = str(caught.value)
        assert f"{story(2).id} is already in this issue, {where}" in message
        assert "2026-12-04.yaml:21: " in message and f"- story: {ref_written}" in message
        assert path.read_bytes() == before
    with pytest.raises(NewsletterError, match="catch_up item 2"):
        pick(path, story(6, url="https://example.org/written"), "deep_dives")
    with pytest.raises(NewsletterError, match="the lead's body, block 2"):
        pick(path, story(7), "catch_up")


def test_a_picked_story_leaves_the_offered_candidates(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(draft_text(number=2, date=dt.date(2026, 12, 4),
                               candidates=[story(1), story(2)]), encoding="utf-8")
    assert pick(path, story(1), "catch_up").unoffered
    text = path.read_text("utf-8")
    assert f"#    - story: {story(1).id}" not in text and f"#    - story: {story(2).id}" in text
    assert "# Candidates since the last issue" in text
    pick(path, story(2), "deep_dives")
    text = path.read_text("utf-8")
    assert "# Candidates" not in text and text.endswith("a longer read\"\n") is False
    assert text.endswith(f"{story(2).id}  # {drafts._label(story(2))}\n")


def test_a_new_draft_holds_every_section_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "2026-12-04.yaml"
    path.write_text(draft_text(number=2, date=dt.date(2026, 12, 4), candidates=[story(1)]),
                    encoding="utf-8")
    issue = load_issue(path, Settings(root=tmp_path, name="D", base_url="https://e.org/"))
    assert issue.lead and issue.catch_up and issue.deep_dives
    assert [i.url for i in (*issue.catch_up.items, *issue.deep_dives.items)] == [
        drafts.PLACEHOLDER_URL] * 2


def test_unpicking_the_last_story_of_a_section_leaves_a_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(draft_text(number=2, date=dt.date(2026, 12, 4), candidates=[]), "utf-8")
    first = path.read_bytes()
    for section in drafts.SECTIONS:
        pick(path, story(1), section)
        assert drafts.unpick(path, story(1).id[:MIN_PREFIX_OF_TESTS]).placeholder
        assert path.read_bytes() == first  # the placeholder is the draft's own
    load_issue(path, Settings(root=tmp_path, name="D", base_url="https://e.org/"))


MIN_PREFIX_OF_TESTS = 10


def test_move_refuses_what_it_cannot_do_and_writes_nothing(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    before = path.read_bytes()
    cases = [
        (lambda: drafts.move(path, story(1).id, to=1), "the lead"),
        (lambda: drafts.move(path, story(4).id, before=story(2).id),
         "a000000004 is in deep_dives and a000000002 in catch_up"),
        (lambda: drafts.move(path, story(4).id, to=3), "deep_dives has 2 items"),
        (lambda: drafts.move(path, "a00", to=1), "too short"),
        (lambda: drafts.move(path, "a0000000", to=1), "starts 6 stories"),
        (lambda: drafts.move(path, "ffffffff", to=1), 'no story "ffffffff"'),
        (lambda: drafts.unpick(path, story(7).id), "related story in the lead's body"),
    ]
    for call, said in cases:
        with pytest.raises(NewsletterError, match=said):
            call()
    assert path.read_bytes() == before


def test_the_id_rule_is_the_stores() -> None:
    assert drafts.MIN_PREFIX == STORE_MIN_PREFIX


def test_an_edit_is_refused_when_the_file_changed_since_it_was_read(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    read = drafts.issue_picks(path)
    edit = pick(path, story(9), "deep_dives", expected_digest=read.digest)
    assert edit.digest == drafts.file_digest(path) != read.digest
    changed = path.read_bytes()
    with pytest.raises(drafts.EditConflict, match="changed since it was read"):
        drafts.unpick(path, story(9).id, expected_digest=read.digest)
    with pytest.raises(drafts.EditConflict):  # changed between reading and renaming
        drafts.replace_file(path, b"x: 1\n", expected_digest=read.digest)
    assert path.read_bytes() == changed
    drafts.move(path, story(9).id, to=1, expected_digest=edit.digest)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing left aside


def test_an_edit_keeps_the_file_permissions(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    path.chmod(0o640)
    pick(path, story(9), "catch_up")
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(("text", "said"), [
    ("number: 1\nlead: {story: a000000001}\n", "not as keys"),
    ("number: 1\nlead:\n  url: https://e.org/\n  headline: H\ncatch_up: {items: [{story: x}]}\n",
     "not as keys"),
    ("a: [1\n", "cannot read the file"),
    ("- a list\n", "not a mapping"),
    ("number: 1\rlead: x\r", "a line break other than"),
])
def test_a_layout_it_cannot_edit_safely_is_refused_not_guessed(tmp_path: Path, text: str,
                                                               said: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(text.encode())
    with pytest.raises(NewsletterError, match=said):
        pick(path, story(5), "lead" if "lead: {" in text else "catch_up")
    assert path.read_bytes() == text.encode()


def test_picks_create_missing_sections_in_their_order(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("number: 1\ndate: 2026-12-04\nsubject: S\ndeep_dives:\n  items: []  # x\n"
                    "# the end\n", encoding="utf-8")
    pick(path, story(1), "deep_dives")
    pick(path, story(2), "lead")
    pick(path, story(3), "catch_up")
    assert path.read_text("utf-8") == (
        f"number: 1\ndate: 2026-12-04\nsubject: S\nlead:\n  story: {story(2).id}  # "
        f"{drafts._label(story(2))}\n\ncatch_up:\n  items:\n    - story: {story(3).id}  # "
        f"{drafts._label(story(3))}\n\ndeep_dives:\n  items: # x\n    - story: {story(1).id}"
        f"  # {drafts._label(story(1))}\n# the end\n")


def test_a_hostile_title_stays_inside_its_comment(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(draft_text(number=2, date=dt.date(2026, 12, 4), candidates=[]), "utf-8")
    nasty = story(1, title="Line\nbreak: yes\u2028 # \x85more\x07", source="feed\r\nx: 1")
    pick(path, nasty, "catch_up")
    picks = drafts.issue_picks(path).placed
    assert [(p.section, p.ref) for p in picks if not p.placeholder] == [("catch_up", nasty.id)]


# --- when the next issue is due -----------------------------------------------------------


@pytest.mark.parametrize(("text", "spelled", "days", "weekday"), [
    ("weekly on friday", "weekly on friday", 7, 4),
    ("Weekly on Fridays", "weekly on friday", 7, 4),
    ("every 2 weeks on mon", "every 2 weeks on monday", 14, 0),
    ("weekly", "weekly", 7, None),
    ("daily", "daily", 1, None),
    ("every week on sunday", "weekly on sunday", 7, 6),
])
def test_a_cadence_reads_as_written(text: str, spelled: str, days: int,
                                    weekday: int | None) -> None:
    cadence = drafts.Cadence.parse(text)
    assert (str(cadence), cadence.days, cadence.weekday) == (spelled, days, weekday)


@pytest.mark.parametrize(("text", "said", "hint"), [
    ("weekly on frday", '"frday" is not a day of the week', 'did you mean "friday"?'),
    ("fortnightly", '"fortnightly" is not a cadence', "every 2 weeks on monday"),
    ("daily on monday", "a daily issue has no weekday", "weekly on friday"),
    ("every 99 weeks on monday", "give 1 to 52 weeks", "weekly on friday"),
])
def test_a_cadence_that_cannot_be_read_says_how_to_write_it(text: str, said: str,
                                                            hint: str) -> None:
    with pytest.raises(drafts.CadenceError) as caught:
        drafts.Cadence.parse(text)
    assert said in str(caught.value) and hint in caught.value.hint


FRIDAY = drafts.Cadence.parse("weekly on friday")
NOV_27, DEC_4 = dt.date(2026, 11, 27), dt.date(2026, 12, 4)  # Fridays


@pytest.mark.parametrize(("cadence", "taken", "today", "chosen", "said"), [
    (FRIDAY, {NOV_27}, dt.date(2026, 11, 28), DEC_4, "after the newest issue (2026-11-27)"),
    (FRIDAY, {dt.date(2026, 11, 24)}, dt.date(2026, 11, 24), NOV_27, "weekly on friday"),
    (None, {dt.date(2026, 11, 24)}, dt.date(2026, 11, 24), dt.date(2026, 12, 1), "a week after"),
    (FRIDAY, {dt.date(2026, 12, 3), NOV_27}, NOV_27, DEC_4, "(2026-12-03)"),
    (FRIDAY, set(), dt.date(2026, 11, 25), dt.date(2026, 11, 25), "no issues yet"),
    (FRIDAY, {dt.date(2026, 1, 2)}, dt.date(2026, 11, 25), NOV_27, "from today"),
    (drafts.Cadence.parse("every 2 weeks on friday"), {NOV_27}, NOV_27,
     dt.date(2026, 12, 11), "every 2 weeks"),
    (drafts.Cadence.parse("daily"), {NOV_27, dt.date(2026, 11, 28)}, NOV_27,
     dt.date(2026, 11, 29), "daily"),
])
def test_the_next_issue_date_follows_the_cadence(cadence: drafts.Cadence | None,
                                                 taken: set[dt.date], today: dt.date,
                                                 chosen: dt.date, said: str) -> None:
    day, why = drafts.choose_issue_date(cadence, taken, today)
    assert day == chosen and said in why and day not in taken


def test_the_next_issue_date_is_never_one_an_issue_has() -> None:
    for cadence in (FRIDAY, None, drafts.Cadence.parse("daily")):
        for today in (NOV_27 - dt.timedelta(days=30), NOV_27, DEC_4 + dt.timedelta(days=30)):
            taken = {NOV_27 - dt.timedelta(days=n) for n in range(0, 40, 3)}
            assert drafts.choose_issue_date(cadence, taken, today)[0] > NOV_27


# --- "newsletter feeds add": the feed of an ordinary page -----------------------------------

RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>  Coastal\n Desk </title>'
       b"<link>https://coastal.example.org/</link><item><title>One</title>"
       b"<link>https://coastal.example.org/1</link></item></channel></rss>")


def page_naming(*links: str) -> bytes:
    tags = "".join(links)
    return f"<!doctype html><html><head><title>A blog</title>{tags}</head><body>x</body></html>" \
        .encode()


def test_the_feeds_a_page_names_come_best_first_and_absolute() -> None:
    html = page_naming(
        '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">',
        '<link rel="alternate" type="application/atom+xml" title="Atom" href="atom.xml">',
        '<link rel="stylesheet" href="/style.css">',
        '<link rel="alternate" type="application/rss+xml" title="Comments" href="/c/feed">',
        '<LINK REL="Alternate feed" TYPE="application/RSS+xml; charset=utf-8" href="/feed">',
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">',
        '<link rel="alternate" type="text/html" hreflang="de" href="/de/">',
    ).decode()
    links = feed_links(html, base="https://blog.example.org/2026/post.html")
    assert [(link.url, link.title) for link in links] == [
        ("https://blog.example.org/c/feed", "Comments"),
        ("https://blog.example.org/feed", ""),
        ("https://blog.example.org/2026/atom.xml", "Atom"),
        ("https://blog.example.org/wp-json/wp/v2/posts/1", ""),
    ]


def test_a_feed_is_found_through_the_page_that_names_it(pages: Pages) -> None:
    url, served = pages
    served["/blog/"] = (page_naming(
        '<link rel="alternate" type="application/rss+xml" href="../feed.xml">'),
        {"Content-Type": "text/html; charset=utf-8"})
    served["/feed.xml"] = (RSS, {"Content-Type": "application/rss+xml"})
    found = find_feed(f"{url}blog/", now=NOW)
    assert (found.url, found.page) == (f"{url}feed.xml", f"{url}blog/")
    assert " ".join(found.title.split()) == "Coastal Desk"
    direct = find_feed(f"{url}feed.xml", now=NOW)
    assert (direct.url, direct.page) == (f"{url}feed.xml", "")


def test_a_page_naming_no_readable_feed_says_so(pages: Pages) -> None:
    url, served = pages
    served["/plain.html"] = (page_naming(), {"Content-Type": "text/html"})
    with pytest.raises(FeedError, match="neither a feed nor a page that names one") as caught:
        find_feed(f"{url}plain.html", now=NOW)
    assert "/feed" in caught.value.hint
    broken = [f'<link rel="alternate" type="application/rss+xml" href="/gone{n}.xml">'
              for n in range(10)]
    served["/broken.html"] = (page_naming(*broken), {"Content-Type": "text/html"})
    with pytest.raises(FeedError, match="names 10 feeds, and none could be read") as caught:
        find_feed(f"{url}broken.html", now=NOW)
    assert str(caught.value).count("answered 404") == 3  # a page cannot make us ask for ever


def test_an_id_that_is_not_a_plain_word_is_written_quoted(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    odd = story(1, id="a: b #c")
    edit = pick(path, odd, "deep_dives")
    assert '- story: "a: b #c"  # ' in path.read_text("utf-8") and edit.position == 3
    drafts.unpick(path, "a: b #c")
    assert path.read_text("utf-8") == HAND_WRITTEN


# --- headline and blurb overrides, undo ----------------------------------------------

HAND_STORIES = StaticLookup([story(n) for n in range(1, 10)])


def test_an_override_written_then_removed_gives_back_the_very_same_bytes(tmp_path: Path) -> None:
    for newline in ("\n", "\r\n"):
        path = hand_written(tmp_path, HAND_WRITTEN.replace("\n", newline))
        before = path.read_bytes()
        for ref, field in [(story(2).id, "headline"), (story(2).id, "blurb"),
                           (story(1).id, "headline"), (story(7).id, "headline"),
                           (story(5).id, "blurb"), (story(3).id, "blurb")]:
            edit = drafts.set_field(path, ref, field, "Our own words:\nin two lines")
            assert edit.before == before and edit.digest == drafts.file_digest(path)
            added = [line for line in path.read_bytes().split(newline.encode())
                     if line not in before.split(newline.encode())]
            assert added and all(line.lstrip().startswith((field.encode(), b"Our", b"in"))
                                 for line in added), added
            drafts.set_field(path, ref, field, "")
            assert path.read_bytes() == before, (ref, field)


def test_an_override_changes_only_its_own_lines_and_keeps_its_comment(tmp_path: Path) -> None:
    path = tmp_path / "2026-12-04.yaml"
    path.write_text(ISSUE, encoding="utf-8")
    edit = drafts.set_field(path, "https://example.org/written", "headline", "New: words")
    assert (edit.action, edit.field, edit.section, edit.position) == ("edit", "headline",
                                                                      "catch_up", 1)
    assert path.read_text("utf-8") == ISSUE.replace(
        "headline: Written inline   # keep me", 'headline: "New: words"   # keep me')
    drafts.set_field(path, "https://example.org/written", "blurb", "A blurb")
    assert path.read_text("utf-8").endswith(
        '      headline: "New: words"   # keep me\n      blurb: "A blurb"\n')
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    drafts.set_field(path, "https://example.org/written", "blurb", "一句话。")
    assert path.read_text("utf-8") == HAND_WRITTEN.replace(
        "    blurb: >\n      folded\n      text\n", '    blurb: "一句话。"\n')


HOSTILE_VALUES = [
    'He said "no"', "it's", "key: value", "a # b", "#start", "- dash", "? q", "yes", "No",
    "null", "~", "true", "012", "1e3", "2026-12-04", "{a: b}", "[x]", "&anchor", "*alias",
    "!tag", "!!python/object:os.system", "|", ">", "%TAG", "@at", "`tick`", "'single'",
    '"double"', "back\\slash", "line one\nline two", "ends\n", "\n\nleading newlines",
    "  leading spaces", "trailing spaces  ", "tab\there", "a\n\n  indented\n\nb",
    "中文：冒号「引号」", "日本語の見出し、です。",  # noqa: RUF001 - the colon Chinese uses "emoji 🌊 and ZWJ 👩‍👩‍👧", "line\u2028sep",
    "para\u2029sep", "nel\x85here", "bom\ufeffinside", "c1\x9bcontrol", "crlf\r\nend",
    "---", "...", "line\n---\nafter", "# only a comment", "{{ jinja }}", "<script>x</script>",
    "x" * 300,
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("field", ["headline", "blurb"])
def test_a_hostile_override_reads_back_exactly(tmp_path: Path, field: str, value: str) -> None:
    from ruamel.yaml import YAML

    path = hand_written(tmp_path)
    drafts.set_field(path, story(2).id, field, value)
    data = YAML(typ="safe").load(path.read_bytes())
    assert data["catch_up"]["items"][0] == {"story": story(2).id, field: value}
    assert data["deep_dives"] == {"items": [{"story": story(4).id}, {"story": story(5).id}]}
    assert drafts.issue_slots(path).slots[3].headline == (value if field == "headline" else None)
    drafts.set_field(path, story(2).id, field, "")
    assert path.read_bytes() == HAND_WRITTEN.encode()


@hsettings(max_examples=150, deadline=None)  # files on disk: no deadline on a loaded machine
@given(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters=(
    *map(chr, [*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f]), "\ufffe", "\uffff")),
    min_size=1, max_size=40).filter(str.strip))
def test_any_text_the_reader_takes_round_trips_as_a_blurb(value: str) -> None:
    import tempfile

    from ruamel.yaml import YAML

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "i.yaml"
        path.write_text(HAND_WRITTEN, encoding="utf-8")
        drafts.set_field(path, "https://example.org/written", "blurb", value)
        data = YAML(typ="safe").load(path.read_bytes())
        assert data["catch_up"]["items"][1]["blurb"] == value


def test_the_issue_reader_shows_an_override_as_written(tmp_path: Path,
                                                      settings: Settings) -> None:
    path = hand_written(tmp_path)
    drafts.set_field(path, story(2).id, "headline", 'Kelp: "back" # for good')
    drafts.set_field(path, story(2).id, "blurb", "Two lines:\n*markdown* here.")
    item = load_issue(path, settings, HAND_STORIES).catch_up.items[0]  # type: ignore[union-attr]  # the file has one
    assert (item.headline, item.blurb) == ('Kelp: "back" # for good',  # type: ignore[union-attr]  # an item
                                           "Two lines:\n*markdown* here.")


@pytest.mark.parametrize(("ref", "field", "value", "said", "hint"), [
    (story(1).id, "blurb", "x", "the lead, which has no blurb", "bullets"),
    (story(7).id, "blurb", "x", "the lead's body, block 2, which has no blurb", "headline alone"),
    ("https://example.org/written", "headline", "", "is written out", "another headline"),
    (story(2).id, "title", "x", 'no field "title"', "headline or blurb"),
    (story(2).id, "headline", "bell\x07", "invisible character U+0007", "retype"),
    (story(2).id, "headline", "x" * 301, "301 characters: at most 300", "shorten"),
    (story(2).id, "blurb", "\ud800", "U+D800", "retype"),
    ("a0000", "headline", "x", '"a0000" starts 6 stories', "more of the id"),
])
def test_an_override_that_cannot_be_is_refused_and_writes_nothing(
        tmp_path: Path, ref: str, field: str, value: str, said: str, hint: str) -> None:
    path = hand_written(tmp_path)
    with pytest.raises(NewsletterError, match=re.escape(said)) as caught:
        drafts.set_field(path, ref, field, value, lookup=HAND_STORIES)
    assert hint in caught.value.hint
    assert path.read_bytes() == HAND_WRITTEN.encode()


def test_an_override_first_on_its_dash_line_is_changed_there_and_never_removed(
        tmp_path: Path) -> None:
    text = ("number: 1\nlead:\n  url: https://e.org/\n  headline: H\ncatch_up:\n  items:\n"
            "    - headline: First   # mine\n      story: a000000002\n")
    path = tmp_path / "i.yaml"
    path.write_text(text, encoding="utf-8")
    drafts.set_field(path, story(2).id, "headline", "Second")
    assert path.read_text("utf-8") == text.replace("- headline: First", '- headline: "Second"')
    with pytest.raises(NewsletterError, match="first on its item's line"):
        drafts.set_field(path, story(2).id, "headline", "")
    flow = "number: 1\nlead:\n  url: https://e.org/\n  headline: H\ncatch_up:\n  items:\n" \
           "    - {story: a000000002}\n"
    path.write_text(flow, encoding="utf-8")
    with pytest.raises(NewsletterError, match="not as keys"):
        drafts.set_field(path, story(2).id, "headline", "x")
    assert path.read_text("utf-8") == flow


def test_a_comment_after_a_one_line_override_stays_out_of_the_block_replacing_it(
        tmp_path: Path) -> None:
    """It went after the block's last line, inside its text: the read-back refused
    the edit. Now it follows the block's `|-`, where YAML keeps it a comment."""
    path = tmp_path / "i.yaml"
    path.write_text(ISSUE.replace("headline: Written inline   # keep me",
                                  'headline: Written inline\n      blurb: "x"   # mine'),
                    encoding="utf-8")
    drafts.set_field(path, "https://example.org/written", "blurb", "Two\nlines")
    assert path.read_text("utf-8").endswith(
        "      blurb: |-   # mine\n        Two\n        lines\n")
    assert _loaded(path)["catch_up"]["items"][0]["blurb"] == "Two\nlines"  # type: ignore[index]  # a mapping


def test_removing_an_override_that_is_not_there_writes_nothing(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    mtime = path.stat().st_mtime_ns
    edit = drafts.set_field(path, story(2).id, "blurb", "   ")  # blank is nothing
    assert edit.digest == drafts.file_digest(path) and edit.before == path.read_bytes()
    assert path.stat().st_mtime_ns == mtime


def test_every_edit_carries_the_bytes_before_it_and_restore_undoes_it(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    steps: list[Callable[[str], drafts.Edit]] = [
             lambda d: pick(path, story(9), "deep_dives", expected_digest=d),
             lambda d: drafts.move(path, story(9).id, to=1, expected_digest=d),
             lambda d: drafts.set_field(path, story(9).id, "headline", "Mine",
                                        expected_digest=d),
             lambda d: drafts.unpick(path, story(9).id, expected_digest=d)]
    edits, versions = [], [path.read_bytes()]
    for step in steps:
        edits.append(step(drafts.file_digest(path)))
        versions.append(path.read_bytes())
    for edit, before in zip(edits, versions, strict=False):
        assert edit.before == before
    for edit, before in zip(reversed(edits), reversed(versions[:-1]), strict=True):
        undone = drafts.restore(path, edit.before, expected_digest=edit.digest)
        assert path.read_bytes() == before and undone.action == "restore"
        assert undone.digest == drafts.file_digest(path)
    assert path.read_bytes() == HAND_WRITTEN.encode()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing left aside


def test_an_undo_is_refused_when_the_file_changed_since_the_edit(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    edit = drafts.set_field(path, story(2).id, "headline", "Mine")
    typed = path.read_bytes() + b"# typed in a text editor\n"
    path.write_bytes(typed)
    with pytest.raises(drafts.EditConflict, match="changed since it was read"):
        drafts.restore(path, edit.before, expected_digest=edit.digest)
    with pytest.raises(drafts.EditConflict):
        drafts.set_field(path, story(2).id, "headline", "Again", expected_digest=edit.digest)
    assert path.read_bytes() == typed


def test_issue_slots_list_every_item_where_the_issue_reader_puts_it(
        tmp_path: Path, settings: Settings) -> None:
    path = hand_written(tmp_path)
    slots = drafts.issue_slots(path, HAND_STORIES)
    assert slots.digest == drafts.file_digest(path)
    assert [(s.slot, s.position, s.kind, s.line) for s in slots.slots] == [
        ("lead", 1, "story", 7), ("lead.body", 1, "text", 10), ("lead.body", 2, "related", 14),
        ("catch_up", 1, "story", 21), ("catch_up", 2, "inline", 23),
        ("catch_up", 3, "text", 31), ("catch_up", 4, "story", 32),
        ("deep_dives", 1, "story", 35), ("deep_dives", 2, "story", 36)]
    inline = slots.slots[4]
    assert (inline.headline, inline.blurb, inline.story_id) == ("Written inline",
                                                               "folded text\n", None)
    assert slots.slots[2].story_id == story(7).id and slots.slots[2].title == "Story 7"
    issue = load_issue(path, settings, HAND_STORIES)
    located = {item.location.line for item in issue.items() if item.location}
    assert located == {s.line for s in slots.slots if s.kind != "text"}


def editor_saves(path: Path, data: bytes) -> None:
    """A text editor's save: the whole file written aside, then renamed over it."""
    aside = path.with_name(path.name + ".editor~")
    aside.write_bytes(data)
    aside.replace(path)


def test_a_save_landing_between_the_check_and_the_rename_is_put_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = hand_written(tmp_path)
    typed = HAND_WRITTEN.encode() + b"# saved in a text editor\n"
    real_digest = drafts._digest_or_none
    checks = []

    def check_then_save(target: Path) -> str | None:
        found = real_digest(target)
        checks.append(target)
        if len(checks) == 1:  # the check before the rename: the editor saves right after it
            editor_saves(path, typed)
        return found

    monkeypatch.setattr(drafts, "_digest_or_none", check_then_save)
    with pytest.raises(drafts.EditConflict, match="changed since it was read"):
        drafts.set_field(path, story(2).id, "headline", "From the browser")
    assert path.read_bytes() == typed
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing left aside


EDITOR = """
import os, sys, time
path, saves = sys.argv[1], int(sys.argv[2])
for n in range(saves):
    with open(path, "rb") as f:
        data = f.read()
    with open(path + ".editor~", "wb") as f:
        f.write(data + b"# editor save %d\\n" % n)
    os.replace(path + ".editor~", path)
    time.sleep(0.002)
"""


def test_a_text_editor_saving_while_the_browser_writes_loses_no_save(tmp_path: Path) -> None:
    """A real editor process saves 300 times, 2 ms apart, while this process edits the
    same file with digests: every edit either lands or is refused, and every save
    the editor made is still in the file at the end."""
    path = hand_written(tmp_path)
    editor = subprocess.Popen([sys.executable, "-c", EDITOR, str(path), "300"])
    landed = refused = 0
    try:
        for n in range(2_000):  # bounded; the editor ends first
            if editor.poll() is not None:
                break
            try:
                drafts.set_field(path, story(2).id, "headline", f"Browser {n}",
                                 expected_digest=drafts.file_digest(path))
                landed += 1
            except (drafts.EditConflict, NewsletterError):
                refused += 1  # changed under it, or read while the editor wrote it
        assert editor.wait(timeout=60) == 0
    finally:
        editor.kill()
    saves = path.read_text("utf-8").count("# editor save ")
    assert saves == 300, f"{300 - saves} editor saves lost ({landed} edits, {refused} refused)"
    assert landed > 0


# --- the issue's own words: subject, preheader, intro, the lead's bullets -----------------

ONE_LINE_VALUES = [v for v in HOSTILE_VALUES if not re.search("[\n\r\x85\u2028\u2029]", v)]


def _loaded(path: Path) -> dict[str, object]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(path.read_bytes())
    assert isinstance(data, dict)
    return data


def test_issue_fields_written_then_removed_give_back_the_very_same_bytes(tmp_path: Path) -> None:
    for newline in ("\n", "\r\n"):
        path = hand_written(tmp_path, HAND_WRITTEN.replace("\n", newline))
        before = path.read_bytes()
        for field, value in [("preheader", "A line: after the subject"),
                             ("intro", "Our own words:\nin two lines\n"), ("intro", "one")]:
            edit = drafts.set_issue_field(path, field, value)
            assert edit.before == before and edit.digest == drafts.file_digest(path)
            assert (edit.action, edit.field, edit.section) == ("edit", field, "issue")
            added = [line for line in path.read_bytes().split(newline.encode())
                     if line not in before.split(newline.encode())]
            assert added and all(line.startswith((field.encode(), b"  Our", b"  in"))
                                 for line in added), added
            assert getattr(drafts.issue_head(path), field) == value
            drafts.set_issue_field(path, field, "  ")  # blank: the key goes
            assert path.read_bytes() == before, (field, value)


def test_an_issue_field_changes_only_its_own_lines_and_keeps_its_comment(
        tmp_path: Path) -> None:
    path = tmp_path / "2026-12-04.yaml"
    path.write_text(ISSUE, encoding="utf-8")
    edit = drafts.set_issue_field(path, "subject", "Kelp: back # for good")
    assert edit.line == 5
    assert path.read_text("utf-8") == ISSUE.replace(
        'subject: "A subject"   # trailing', 'subject: "Kelp: back # for good"   # trailing')
    drafts.set_issue_field(path, "intro", "First")
    drafts.set_issue_field(path, "preheader", "Then")  # between the subject and the intro
    assert path.read_text("utf-8") == ISSUE.replace(
        'subject: "A subject"   # trailing comment stays too\n',
        'subject: "Kelp: back # for good"   # trailing comment stays too\n'
        'preheader: "Then"\nintro: "First"\n')
    # a comment after a one-line value moves to a block's first line, never inside it
    path.write_text(ISSUE.replace("status: draft\n", 'status: draft\nintro: "x"   # mine\n'),
                    encoding="utf-8")
    drafts.set_issue_field(path, "intro", "Two\nlines")
    assert "intro: |-   # mine\n  Two\n  lines\nsubject:" in path.read_text("utf-8")
    assert drafts.issue_head(path).intro == "Two\nlines"


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_hostile_intro_reads_back_exactly(tmp_path: Path, value: str) -> None:
    path = hand_written(tmp_path)
    drafts.set_issue_field(path, "intro", value)
    data = _loaded(path)
    assert data["intro"] == value and data["subject"] == "A subject"
    assert drafts.issue_head(path).intro == value
    drafts.set_issue_field(path, "intro", "")
    assert path.read_bytes() == HAND_WRITTEN.encode()


@pytest.mark.parametrize("value", [v for v in ONE_LINE_VALUES if len(v) <= 150])
@pytest.mark.parametrize("field", ["subject", "preheader"])
def test_a_hostile_subject_or_preheader_reads_back_exactly(tmp_path: Path, field: str,
                                                           value: str) -> None:
    path = hand_written(tmp_path)
    drafts.set_issue_field(path, field, value)
    data = _loaded(path)
    assert data[field] == value and data["number"] == 49
    assert getattr(drafts.issue_head(path), field) == value
    drafts.set_issue_field(path, field, "A subject" if field == "subject" else "")
    unchanged = [line for line in path.read_text("utf-8").splitlines()
                 if line not in HAND_WRITTEN.splitlines()]
    assert unchanged == (['subject: "A subject"     # spaced as the editor likes']
                         if field == "subject" else []), unchanged


@pytest.mark.parametrize("value", ONE_LINE_VALUES)
def test_a_hostile_bullet_reads_back_exactly(tmp_path: Path, value: str) -> None:
    from ruamel.yaml import YAML

    path = hand_written(tmp_path)
    drafts.set_bullets(path, ["First", value])
    original = YAML(typ="safe").load(HAND_WRITTEN)
    original["lead"]["bullets"] = ["First", value]
    assert _loaded(path) == original
    assert drafts.issue_head(path).bullets == ("First", value)


@hsettings(max_examples=100, deadline=None)  # files on disk: no deadline on a loaded machine
@given(st.lists(st.text(st.characters(blacklist_categories=["Cs", "Zl", "Zp"],
                                      blacklist_characters=(
    *map(chr, [*range(0x0e), *range(0x0e, 0x20), 0x7f, 0x85]), "\ufffe", "\uffff")),
    min_size=1, max_size=30).filter(str.strip), max_size=4))
def test_any_bullets_the_reader_takes_round_trip(bullets: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "i.yaml"
        path.write_text(BULLETED, encoding="utf-8")
        drafts.set_bullets(path, bullets)
        lead = _loaded(path)["lead"]
        assert lead.get("bullets", []) == bullets  # type: ignore[attr-defined]  # a mapping
        text = path.read_text("utf-8")  # every line around the bullets as it was
        assert text.startswith(BULLETED[:BULLETED.index("  bullets:")])
        assert text.endswith(BULLETED[BULLETED.index("  image:"):])


BULLETED = """\
number: 49
date: 2026-12-04
subject: "S"

lead:
  story: a000000001
  headline: "Kelp"   # the lead's own
  bullets:
    - "What happened"
    # about the second bullet
    - Why it matters   # why it matters, kept
  image: {src: examples/images/logo.png, alt: x}

catch_up:
  items:
    - story: a000000002
"""


def test_bullets_change_only_their_own_lines_and_keep_their_comments(tmp_path: Path) -> None:
    path = tmp_path / "i.yaml"
    path.write_text(BULLETED, encoding="utf-8")
    edit = drafts.set_bullets(path, ["What happened, now", "Why it matters", "And next"])
    assert (edit.action, edit.field, edit.section, edit.line) == ("edit", "bullets", "lead", 8)
    assert path.read_text("utf-8") == BULLETED.replace(
        '    - "What happened"\n', '    - "What happened, now"\n').replace(
        "kept\n", 'kept\n    - "And next"\n')
    drafts.set_bullets(path, ["What happened", "Why: it matters"])
    assert path.read_text("utf-8") == BULLETED.replace(
        "- Why it matters   # why", '- "Why: it matters"   # why')
    drafts.set_bullets(path, ["Only one"])
    assert path.read_text("utf-8") == BULLETED.replace(
        '    - "What happened"\n', '    - "Only one"\n').replace(
        "    # about the second bullet\n    - Why it matters   # why it matters, kept\n", "")
    drafts.set_bullets(path, [])
    assert "bullets" not in path.read_text("utf-8")
    assert path.read_text("utf-8") == BULLETED.replace(
        BULLETED[BULLETED.index("  bullets:"):BULLETED.index("  image:")], "")
    drafts.set_bullets(path, ["What happened", "Why it matters"])  # after the headline again
    assert '  headline: "Kelp"   # the lead\'s own\n  bullets:\n    - "What happened"\n' \
           '    - "Why it matters"\n  image:' in path.read_text("utf-8")


def test_bullets_written_on_one_line_are_written_again_as_a_list(tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    assert drafts.issue_head(path).bullets == ("one", "two")
    drafts.set_bullets(path, ["one", "two", "three"])
    assert path.read_text("utf-8") == HAND_WRITTEN.replace(
        """    bullets: ["one", 'two']\n""",
        '    bullets:\n      - "one"\n      - "two"\n      - "three"\n')


@pytest.mark.parametrize(("edit", "said", "hint"), [
    (lambda p: drafts.set_issue_field(p, "subject", ""), "needs a subject", "another subject"),
    (lambda p: drafts.set_issue_field(p, "subject", "x" * 151), "151 characters: at most 150",
     "shorten"),
    (lambda p: drafts.set_issue_field(p, "subject", "two\nlines"), "is one line", "one line"),
    (lambda p: drafts.set_issue_field(p, "preheader", "x  " * 100 + "x"),  # spaces run together
     "201 characters: at most 200", "shorten"),
    (lambda p: drafts.set_issue_field(p, "preheader", "sep\u2028"), "is one line", "one line"),
    (lambda p: drafts.set_issue_field(p, "intro", "bell\x07"), "invisible character U+0007",
     "retype"),
    (lambda p: drafts.set_issue_field(p, "intro", "\ud800"), "U+D800", "retype"),
    (lambda p: drafts.set_issue_field(p, "intro", "x" * 20_001),
     "20,001 characters: at most 20,000", "shorten"),
    (lambda p: drafts.set_issue_field(p, "topic", "x"), 'no issue field "topic"', "subject"),
    (lambda p: drafts.set_bullets(p, ["a", " "]), "bullet 2 is empty", "leave it out"),
    (lambda p: drafts.set_bullets(p, ["a"] * 11), "11 bullets: the lead takes at most 10",
     "2 or 3"),
    (lambda p: drafts.set_bullets(p, ["a", "x" * 1001]), "bullet 2 has 1,001 characters",
     "shorten"),
    (lambda p: drafts.set_bullets(p, ["a\nb"]), "bullet 1 is one line", "one line"),
])
def test_issue_words_that_cannot_be_are_refused_and_write_nothing(
        tmp_path: Path, edit: Callable[[Path], drafts.Edit], said: str, hint: str) -> None:
    path = hand_written(tmp_path)
    with pytest.raises(NewsletterError, match=re.escape(said)) as caught:
        edit(path)
    assert hint in caught.value.hint
    assert path.read_bytes() == HAND_WRITTEN.encode()


@pytest.mark.parametrize(("text", "said"), [
    ("number: 1\nsubject: S\n", "no lead to give bullets to"),
    ("number: 1\nsubject: S\nlead:\n", "no lead to give bullets to"),
    ("number: 1\nsubject: S\nlead: {url: 'https://e.org/', headline: H}\n", "not as keys"),
])
def test_bullets_need_a_lead_written_as_keys(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "i.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NewsletterError, match=said):
        drafts.set_bullets(path, ["a", "b"])
    assert path.read_text("utf-8") == text


def test_the_limits_are_the_issue_readers(tmp_path: Path, settings: Settings) -> None:
    """At each limit the reader takes the file; one character more, it refuses it."""
    from newsletter.errors import IssueFileError

    def written(field: str, value: str) -> str:
        if field == "bullets":
            return HAND_WRITTEN.replace("""["one", 'two']""", f"[{value}, two]")
        if field == "subject":
            return HAND_WRITTEN.replace('"A subject"', value)
        return HAND_WRITTEN.replace("number: 49\n", f"number: 49\n{field}: {value}\n")

    for field, limit in {**drafts.ISSUE_FIELDS, "bullets": 1_000}.items():
        load_issue(hand_written(tmp_path, written(field, json.dumps("x" * limit))), settings,
                   HAND_STORIES)
        with pytest.raises(IssueFileError, match=f"the limit is {limit:,}"):
            load_issue(hand_written(tmp_path, written(field, json.dumps("x" * (limit + 1)))),
                       settings, HAND_STORIES)
    path = hand_written(tmp_path, HAND_WRITTEN.replace("""["one", 'two']""",
                                                       str(["b"] * (drafts.MAX_BULLETS + 1))))
    with pytest.raises(IssueFileError, match=f"at most {drafts.MAX_BULLETS} are allowed"):
        load_issue(path, settings, HAND_STORIES)


def test_issue_edits_are_refused_on_a_changed_file_and_undone_by_restore(
        tmp_path: Path) -> None:
    path = hand_written(tmp_path)
    steps: list[Callable[[str], drafts.Edit]] = [
        lambda d: drafts.set_issue_field(path, "subject", "New", expected_digest=d),
        lambda d: drafts.set_issue_field(path, "preheader", "Pre", expected_digest=d),
        lambda d: drafts.set_issue_field(path, "intro", "In\ntwo", expected_digest=d),
        lambda d: drafts.set_bullets(path, ["a", "b", "c"], expected_digest=d),
        lambda d: drafts.set_bullets(path, [], expected_digest=d)]
    edits, versions = [], [path.read_bytes()]
    for step in steps:
        edits.append(step(drafts.file_digest(path)))
        versions.append(path.read_bytes())
    assert len(set(versions)) == len(versions)
    stale = edits[0].digest
    typed = path.read_bytes() + b"# typed in a text editor\n"
    path.write_bytes(typed)
    for step in steps:
        with pytest.raises(drafts.EditConflict, match="changed since it was read"):
            step(stale)
    assert path.read_bytes() == typed
    path.write_bytes(versions[-1])
    for edit, before in zip(reversed(edits), reversed(versions[:-1]), strict=True):
        assert edit.before == before
        drafts.restore(path, edit.before, expected_digest=edit.digest)
        assert path.read_bytes() == before
    assert path.read_bytes() == HAND_WRITTEN.encode()


def test_an_issue_edit_that_would_not_read_back_as_meant_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = hand_written(tmp_path)
    monkeypatch.setattr(drafts, "_quoted", lambda value: '"something else"')
    with pytest.raises(NewsletterError, match="cannot be made safely"):
        drafts.set_issue_field(path, "subject", "Mine")
    with pytest.raises(NewsletterError, match="cannot be made safely"):
        drafts.set_bullets(path, ["a", "b"])
    monkeypatch.setattr(drafts, "_field_lines", lambda field, value, column: [
        f'{field}: "{value}"', "number: 50"])  # the value, and another key changed
    with pytest.raises(NewsletterError, match="cannot be made safely"):
        drafts.set_issue_field(path, "preheader", "Mine")
    assert path.read_bytes() == HAND_WRITTEN.encode()


def test_a_new_draft_is_made_complete_with_the_issues_own_words(
        tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "2026-12-04.yaml"
    path.write_text(draft_text(number=49, date=dt.date(2026, 12, 4), candidates=[]),
                    encoding="utf-8")
    head = drafts.issue_head(path)
    assert head.subject == "TODO: the subject line of issue 49"
    assert head.bullets == ("TODO: what happened", "TODO: why it matters")
    drafts.set_issue_field(path, "subject", "Kelp is back")
    drafts.set_issue_field(path, "preheader", "And the otters with it")
    drafts.set_bullets(path, ["Kelp forests regrew", "Otters ate the urchins"])
    text = path.read_text("utf-8")
    assert text == draft_text(number=49, date=dt.date(2026, 12, 4), candidates=[]).replace(
        '"TODO: the subject line of issue 49"', '"Kelp is back"').replace(
        '"TODO: the line inboxes show after the subject"', '"And the otters with it"').replace(
        '"TODO: what happened"', '"Kelp forests regrew"').replace(
        '"TODO: why it matters"', '"Otters ate the urchins"')
    issue = load_issue(path, settings)
    assert (issue.subject, issue.preheader, issue.lead.bullets) == (
        "Kelp is back", "And the otters with it", ("Kelp forests regrew",
                                                   "Otters ate the urchins"))
