"""OPML in and out: the lists feed readers really write, folders as sections, the guard."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import corpus_file
from hypothesis import given
from hypothesis import strategies as st

from newsletter.collect.opml import feeds_from_opml, feeds_to_opml
from newsletter.errors import NewsletterError
from newsletter.model import FeedSpec

REAL_LISTS = [corpus_file(f"feeds/rsparser/not_a_feed/{name}")
              for name in ("Subs.opml", "SubsNoTitleAttributes.opml")]


def opml(body: str, *, root: str = '<opml version="2.0">', end: str = "</opml>") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>{root}<body>{body}</body>{end}'.encode()


def found(data: bytes) -> list[tuple[str, str | None, str | None]]:
    return [(f.name, f.url, f.section) for f in feeds_from_opml(data)]


def test_a_lowercase_xmlurl_is_a_feed() -> None:
    data = opml('<outline text="Tides" xmlurl="https://tides.example.org/rss"/>'
                '<outline text="Shouted" XMLURL="https://loud.example.org/rss"/>')
    assert found(data) == [("Tides", "https://tides.example.org/rss", None),
                           ("Shouted", "https://loud.example.org/rss", None)]


@pytest.mark.parametrize(("root", "end", "outline"), [
    ('<opml xmlns="http://opml.org/spec2" version="2.0">', "</opml>", "outline"),
    ('<o:opml xmlns:o="http://opml.org/spec2" version="2.0">', "</o:opml>", "o:outline"),
], ids=["default-namespace", "prefixed"])
def test_an_opml_in_a_namespace_is_read(root: str, end: str, outline: str) -> None:
    body = f'<{outline} text="Tides" xmlUrl="https://tides.example.org/rss"/>'
    if outline.startswith("o:"):
        body = f"<o:body>{body}</o:body>"
        data = f'<?xml version="1.0"?>{root}{body}{end}'.encode()
    else:
        data = opml(body, root=root, end=end)
    assert found(data) == [("Tides", "https://tides.example.org/rss", None)]


def test_a_bare_ampersand_is_read_as_itself() -> None:
    data = opml('<outline text="Tom & Jerry" xmlUrl="https://e.org/rss?a=1&b=2"/>'
                '<outline text="Escaped &amp; fine" xmlUrl="https://e.org/x?a=1&amp;b=2"/>')
    assert found(data) == [("Tom & Jerry", "https://e.org/rss?a=1&b=2", None),
                           ("Escaped & fine", "https://e.org/x?a=1&b=2", None)]


def test_folders_become_sections_and_nested_ones_are_joined() -> None:
    data = opml('<outline text="Loose" xmlUrl="https://e.org/loose"/>'
                '<outline text="Science">'
                '  <outline text="Reefs" xmlUrl="https://e.org/reefs"/>'
                '  <outline title="Oceans">'  # a folder named by its title only
                '    <outline text="Tides" xmlUrl="https://e.org/tides"/>'
                "  </outline>"
                '  <outline text="Twice" xmlUrl="https://e.org/twice"/>'
                "</outline>"
                '<outline text="Other"><outline text="Twice" xmlUrl="https://e.org/twice"/>'
                "</outline>")
    assert found(data) == [
        ("Loose", "https://e.org/loose", None),
        ("Reefs", "https://e.org/reefs", "Science"),
        ("Tides", "https://e.org/tides", "Science / Oceans"),
        ("Twice", "https://e.org/twice", "Science"),  # listed twice: once, its first folder
    ]


def test_names_languages_and_what_is_not_a_feed() -> None:
    data = opml('<outline text="  " title="From the title" xmlUrl="https://e.org/a"/>'
                '<outline xmlUrl="https://e.org/b" language=" fr-CA "/>'
                '<outline text="A page" htmlUrl="https://e.org/"/>'
                '<outline text="A script" xmlUrl="javascript:alert(1)"/>'
                '<outline text="Mail" xmlUrl="mailto:a@e.org"/>')
    feeds = feeds_from_opml(data)
    assert [(f.name, f.language) for f in feeds] == [
        ("From the title", None), ("https://e.org/b", "fr-CA")]


def test_a_file_in_another_encoding_is_decoded_by_its_declaration() -> None:
    data = ('<?xml version="1.0" encoding="ISO-8859-1"?><opml version="1.0"><body>'
            '<outline text="Café Müller" xmlUrl="https://e.org/cafe"/></body></opml>')
    assert found(data.encode("iso-8859-1")) == [("Café Müller", "https://e.org/cafe", None)]


@pytest.mark.corpus
@pytest.mark.parametrize("path", REAL_LISTS, ids=lambda p: p.name)
def test_real_subscription_lists_give_every_feed_in_its_folder(path: Path) -> None:
    """Checked against ElementTree, a strict parser these well-formed files satisfy."""
    data = path.read_bytes()
    expected = []
    for folder in [None, *ET.fromstring(data).iter("outline")]:
        for outline in ET.fromstring(data).find("body") if folder is None else folder:
            if outline.get("xmlUrl"):
                name = outline.get("text") or outline.get("title") or ""
                expected.append((" ".join(name.split()), outline.get("xmlUrl"),
                                 folder.get("text") if folder is not None else None))
    feeds = found(data)
    assert len(feeds) == 207
    assert sorted(feeds) == sorted(expected)
    assert {section for _, _, section in feeds} == {
        None, "Programming", "Macintosh", "Weblogs", "Writers"}


@pytest.mark.parametrize("hostile", [
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
    b'<?xml version="1.0"?><!doctype opml SYSTEM "file:///etc/passwd"><opml><body/></opml>',
    b'<?xml version="1.0"?><opml><body><!ENTITY x "y"></body></opml>',
])
def test_declarations_are_refused_before_parsing(hostile: bytes) -> None:
    with pytest.raises(NewsletterError, match="DOCTYPE or entities"):
        feeds_from_opml(hostile)


@pytest.mark.parametrize("not_opml", [
    b"not xml at all <", b"", b"<html><body><a href='https://e.org/rss'>feed</a></body></html>",
    b'<rss version="2.0"><channel><title>A feed</title></channel></rss>',
])
def test_what_is_not_opml_is_refused(not_opml: bytes) -> None:
    with pytest.raises(NewsletterError, match="not an OPML file") as caught:
        feeds_from_opml(not_opml)
    assert "export the list" in caught.value.hint


def test_an_export_writes_sections_as_folders_and_reads_back_the_same() -> None:
    feeds = [FeedSpec(name="Loose <one>", url="https://e.org/loose?a=1&b=2", language="en-GB"),
             FeedSpec(name="Reefs", url="https://e.org/reefs", section="Science"),
             FeedSpec(name="Tides", url="https://e.org/tides", section="Science / Oceans"),
             FeedSpec(name="Local", path="feeds/a.xml", section="Science"),
             FeedSpec(name="Kelp", url="https://e.org/kelp", section="Science")]
    text = feeds_to_opml(feeds, title="Desk")
    assert text.count('<outline text="Science">') == 1  # one folder, its feeds gathered
    assert '<outline text="Oceans">' in text and "feeds/a.xml" not in text
    back = feeds_from_opml(text.encode())
    assert [(f.name, f.url, f.section, f.language) for f in back] == [
        ("Loose <one>", "https://e.org/loose?a=1&b=2", None, "en-GB"),
        ("Reefs", "https://e.org/reefs", "Science", None),
        ("Tides", "https://e.org/tides", "Science / Oceans", None),
        ("Kelp", "https://e.org/kelp", "Science", None),
    ]


_LABEL = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)


@given(st.lists(st.tuples(_LABEL, st.none() | st.lists(_LABEL, min_size=1, max_size=3)),
                max_size=8))
def test_names_and_sections_survive_an_export_and_an_import(
        written: list[tuple[str, list[str] | None]]) -> None:
    feeds = [FeedSpec(name=name, url=f"https://e.org/{i}",
                      section=" / ".join(folders) if folders is not None else None)
             for i, (name, folders) in enumerate(written)]
    back = {f.url: f for f in feeds_from_opml(feeds_to_opml(feeds, title="t").encode())}
    for feed in feeds:
        name = " ".join(feed.name.split())[:100].rstrip() or feed.url
        folders = [" ".join(part.split()) for part in (feed.section or "").split(" / ")]
        section = " / ".join(part for part in folders if part) or None
        assert (back[str(feed.url)].name, back[str(feed.url)].section) == (name, section)


def test_an_import_keeps_each_feed_in_its_folder(desk: Path, tmp_path: Path) -> None:
    from newsletter import api

    listing = tmp_path / "list.opml"
    listing.write_bytes(opml(
        '<outline text="Science"><outline text="Oceans">'
        '<outline text="Tides" xmlUrl="https://tides.example.org/rss"/></outline></outline>'
        '<outline text="Loose" xmlUrl="https://loose.example.org/rss"/>'))
    api.import_feeds(api.load_desk(desk), listing)
    sections = {f.name: f.section for f in api.load_desk(desk).feeds}
    assert sections["Tides"] == "Science / Oceans" and sections["Loose"] is None
