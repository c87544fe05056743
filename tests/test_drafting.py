"""Editing the editor's files: drafts, picks, OPML, lock files, pages added by hand."""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import http.server
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import brotli  # type: ignore[import-untyped]  # no stubs
import pytest
from conftest import LocalSite
from hypothesis import given
from hypothesis import strategies as st

from newsletter.collect.opml import feeds_from_opml, feeds_to_opml
from newsletter.collect.page import story_from_page
from newsletter.collect.web import get_page
from newsletter.desk.drafts import add_feeds, add_pick, draft_text, rank_candidates
from newsletter.desk.lockfile import read_lock, story_from_json, story_to_json, write_lock
from newsletter.errors import FeedError, NewsletterError
from newsletter.model import FeedSpec, Image, Story

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
    add_pick(path, story(1), "catch_up")
    add_pick(path, story(2), "deep_dives")
    add_pick(path, story(3), "lead")
    text = path.read_text(encoding="utf-8")
    assert "# Issue 49: the editor's own comment stays" in text
    assert '"A subject"   # trailing comment stays too' in text
    assert "headline: Written inline   # keep me" in text
    assert text.index("    - url: https://example.org/written") < text.index(
        f"    - story: {story(1).id}")
    assert f"deep_dives:\n  items:\n    - story: {story(2).id}" in text
    assert f"lead:\n  story: {story(3).id}" in text
    assert "replace-me" not in text and "TODO: the lead" not in text


def test_pick_into_a_broken_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: [1\n", encoding="utf-8")
    with pytest.raises(NewsletterError, match="cannot read the file"):
        add_pick(path, story(1), "lead")


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
