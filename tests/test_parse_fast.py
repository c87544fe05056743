"""feedparser-rs as the first reader of XML feeds, feedparser where it reads differently.

The rule (collect/fastread.py) is only worth its speed if a story is the
same whichever parser read it: the corpus test below runs every XML file of
the feed corpus through `parse_feed` twice, as shipped and with feedparser
alone, and compares every field of every story and every warning.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import feedparser_rs
import pytest
from conftest import CORPORA, corpus_json

from newsletter.collect import parse as parse_module
from newsletter.collect.parse import ParsedFeed, parse_feed
from newsletter.errors import FeedError

FEEDS = CORPORA / "feeds"
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
URL = "https://example.org/feeds/main.xml"
MANIFEST: list[dict[str, Any]] = corpus_json("feeds/MANIFEST.json", "files")
XML = [r for r in MANIFEST if r["kind"] == "xml"]

#: Files where the two readings differ, and why; each is feedparser-rs's reading of
#: something the cheap checks before it do not see (bench/parsers.py lists them too).
KNOWN_DIFFERENCES = {
    # escaped HTML with <br />\n<br />: feedparser-rs keeps one <br> fewer
    "feed-rs/atom/atom_example_7.xml",
    # a relative link in the summary resolved against another base
    "feed-rs/atom/atom_mediarss_reddit_1.xml",
    # "mer, 16 nov 2022": feedparser-rs reads the Italian date, feedparser does not
    "feed-rs/rss2/rss_2.0_ilmessaggero.xml",
    # an item whose only <link> is inside <category><image>: feedparser-rs takes it
    "feedparser/wellformed/rss/item_category_image.xml",
}


@pytest.fixture()
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each parser read a document."""
    calls: Counter[str] = Counter()

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(feedparser, "parse", counting("feedparser", feedparser.parse))
    monkeypatch.setattr(feedparser_rs, "parse", counting("rs", feedparser_rs.parse))
    return calls


def feedparser_only() -> Iterator[None]:
    saved = parse_module.read_fast
    parse_module.read_fast = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        parse_module.read_fast = saved


def parsed_or_error(data: bytes, name: str) -> ParsedFeed | str:
    try:
        return parse_feed(data, feed=name, url=URL, fetched_at=NOW)
    except FeedError as e:
        return str(e)


def both_ways(data: bytes, name: str) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    fast = parsed_or_error(data, name)
    only = feedparser_only()
    next(only)
    try:
        slow = parsed_or_error(data, name)
    finally:
        next(only, None)
    return fast, slow


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (f'{declaration}<rss version="2.0"><channel><title>T</title>'
            f"<link>https://e.org/</link>{items}</channel></rss>").encode()


ITEMS = "".join(f"<item><title>Story {n}</title><link>https://e.org/{n}</link>"
                f"<guid>https://e.org/{n}</guid><pubDate>Tue, 24 Nov 2026 10:00:0{n} GMT"
                f"</pubDate><description>&lt;p&gt;Words {n}&lt;/p&gt;</description></item>"
                for n in range(3))


def test_a_plain_utf8_feed_is_read_by_feedparser_rs_alone(parses: Counter[str]) -> None:
    parsed = parse_feed(rss(ITEMS), feed="t", url=URL, fetched_at=NOW)
    assert parses == {"rs": 1}
    assert [s.title for s in parsed.stories] == ["Story 0", "Story 1", "Story 2"]
    assert parsed.stories[2].summary == "<p>Words 2</p>"
    assert parsed.stories[2].published == dt.datetime(2026, 11, 24, 10, 0, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(("why", "data"), [
    ("latin-1", rss(ITEMS.replace("Story 1", "Caf\u00e9"),
                    declaration='<?xml version="1.0" encoding="iso-8859-1"?>')
     .replace("Caf\u00e9".encode(), "Caf\u00e9".encode("latin-1"))),
    ("broken XML", rss(ITEMS + "<item><title>a & b</title><link>https://e.org/x</link></item>")),
    ("xml:base", rss(ITEMS).replace(b"<channel>", b'<channel xml:base="https://b.org/">')),
    ("a dc:date", rss(ITEMS.replace("</item>", "<dc:date>2026-11-20</dc:date></item>", 1))
     .replace(b'<rss version="2.0"',
              b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"')),
    ("no entries", rss("")),
    # a guid that is not a link whose value is also another entry's plain guid
    ("a guid both a link and not", rss(ITEMS.replace(
        "<guid>https://e.org/0</guid>", "<guid>12345</guid>").replace(
        "<guid>https://e.org/1</guid>", '<guid isPermaLink="false">12345</guid>'))),
    # feedparser-rs blanks loopback and private addresses; joined to the story's link,
    # a blank picture address once made the story's own page its picture
    ("a picture on 127.0.0.1", rss(ITEMS.replace(
        "</item>", '<enclosure url="http://127.0.0.1:9/p.jpg" type="image/jpeg"/></item>', 1))),
])
def test_what_feedparser_rs_reads_differently_goes_to_feedparser(
        why: str, data: bytes, parses: Counter[str]) -> None:
    fast, slow = both_ways(data, "t")
    assert parses["feedparser"] == 2, why  # once as shipped, once in the reference run
    assert fast == slow
    if not isinstance(fast, str):
        assert all(s.image is None or s.image.src != s.url for s in fast.stories), why


def test_a_guid_that_is_no_link_is_kept_as_written_even_with_an_entity(
        parses: Counter[str]) -> None:
    data = rss(ITEMS.replace("<guid>https://e.org/0</guid>",
                             '<guid isPermaLink="false">a&amp;b</guid>'))
    fast, slow = both_ways(data, "t")
    assert parses["rs"] >= 1 and fast == slow
    assert not isinstance(fast, str) and any(s.guid == "a&b" for s in fast.stories)


@pytest.mark.corpus
@pytest.mark.parametrize("record", XML, ids=lambda r: str(r["path"]))
def test_stories_are_the_same_whichever_parser_read_them(record: dict[str, Any]) -> None:
    fast, slow = both_ways((FEEDS / record["path"]).read_bytes(), record["path"])
    if record["path"] in KNOWN_DIFFERENCES:
        assert fast != slow, "no longer differs: remove it from KNOWN_DIFFERENCES"
    else:
        assert fast == slow
