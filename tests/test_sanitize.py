"""Sanitizing: hostile markup from the XSS corpora never reaches an output as code.

The payloads are put everywhere an editor or a feed can put text (headlines,
markdown blurbs, link targets) and the whole pipeline renders them; a real
HTML parser then checks that nothing in the email or the web page can run.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import html5lib
import nh3
import pytest
from conftest import REPO, corpus_file, corpus_files
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter import api
from newsletter import sanitize as sanitize_module
from newsletter.sanitize import (
    _ATTRIBUTES,
    _TAGS,
    MAX_DEPTH,
    RAW_FACTOR,
    clean_field,
    clean_html,
    html_to_plain,
    is_safe_url,
    plain_of_clean,
)

CORPORA = REPO.parent / "shared" / "corpora" / "xss"
PAYLOAD_FILES = [*corpus_files("xss/payloadsallthethings/XSS_Injection/Intruders", "*.txt"),
                 corpus_file("xss/h5sc/rss_vectors.txt")]
NS = "{http://www.w3.org/1999/xhtml}"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background"}
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "base", "form", "applet"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def script_risks(html: str, *, allowed_iframes: tuple[str, ...] = (),
                 allowed_forms: tuple[str, ...] = ()) -> list[str]:
    """Everything in `html` that could run script, as readable findings.

    Allowed: players from `allowed_iframes`, the sign-up form posting to one
    of `allowed_forms`, and JSON-LD data (a script element that is not code,
    as long as its whole text is JSON: nothing broke out of it).
    """
    found = []
    for el in html5lib.parse(html).iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.removeprefix(NS)
        if tag in FORBIDDEN_TAGS and not (
                (tag == "iframe" and el.get("src", "").startswith(allowed_iframes or ("\0",)))
                or (tag == "form" and el.get("action") in allowed_forms)
                or (tag == "script" and _is_json_ld(el))):
            found.append(f"<{tag}>")
        if tag == "meta" and el.get("http-equiv", "").lower() not in {"", "content-type",
                                                                      "x-ua-compatible"}:
            found.append("<meta http-equiv>")
        for name, value in el.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{tag}[{name}]")
            if name.lower() in URL_ATTRIBUTES and re.match(
                    r"\s*(javascript|vbscript|data):", value, re.I):
                found.append(f"{tag}[{name}]={value[:40]}")
            if name.lower() == "style" and re.search(r"expression\(|behavior:|-moz-binding",
                                                     value, re.I):
                found.append(f"{tag}[style]")
    return found


def _is_json_ld(element: Any) -> bool:
    if element.get("type") != "application/ld+json" or element.attrib.keys() - {"type"}:
        return False
    try:
        json.loads(element.text or "")
    except ValueError:
        return False
    return True


def payloads(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [_CONTROL.sub("", line).strip() for line in lines if line.strip()]


def hostile_issue(items: list[str]) -> str:
    """An issue whose catch-up carries each payload as headline, blurb and link."""
    entries = []
    for i, payload in enumerate(items):
        entries.append(
            f"    - url: https://example.org/{i}\n"
            f"      headline: {json.dumps(payload[:300])}\n"
            f"      blurb: {json.dumps(payload + f' [link]({payload})')}\n")
    return (
        "number: 1\ndate: 2026-11-27\nsubject: Hostile\n"
        f"intro: {json.dumps(' '.join(items[:20]))}\n"
        "lead:\n  url: https://example.org/lead\n  headline: Lead\n"
        f"  body:\n    - text: {json.dumps(chr(10).join(items[:50]))}\n"
        "catch_up:\n  items:\n" + "".join(entries)
    )


@pytest.mark.corpus
@pytest.mark.parametrize("payload_file", PAYLOAD_FILES, ids=lambda p: p.name)
def test_payloads_never_reach_an_output_as_code(payload_file: Path, desk: Path) -> None:
    settings = api.load_desk(desk)
    every = payloads(payload_file)
    assert every, payload_file
    for start in range(0, len(every), 200):
        path = desk / "issues" / "2026-11-27.yaml"
        path.write_text(hostile_issue(every[start:start + 200]), encoding="utf-8")
        _, rendered = api.render_issue(path, settings)
        assert script_risks(rendered.email_html) == []
        assert script_risks(rendered.web_html, allowed_iframes=(
            "https://www.youtube-nocookie.com/", "https://player.vimeo.com/"),
            allowed_forms=(settings.signup_url,)) == []


@pytest.mark.corpus
def test_h5sc_vectors_are_cleaned() -> None:
    vectors = (CORPORA / "h5sc" / "vectors.txt").read_text(encoding="utf-8")
    blocks = re.findall(r'<div id="\d+">(.*?)//\["', vectors, re.S)
    assert len(blocks) > 100
    for block in blocks:
        cleaned = clean_html(block)
        assert script_risks(str(cleaned)) == [], block[:80]


@pytest.mark.parametrize("markup", [
    '<p>A <a href="https://example.org/x" title="t">link</a> and <abbr title="x">abbr</abbr></p>',
    '<img src="https://example.org/a.png" alt="a" width="10" height="10">',
    "<table><tbody><tr><td>cell</td></tr></tbody></table>",
    "<ul><li>one</li></ul><blockquote>q</blockquote><strong>s</strong><em>e</em>",
])
def test_ordinary_markup_survives(markup: str) -> None:
    cleaned = str(clean_html(markup))
    for tag in re.findall(r"<([a-z]+)", markup):
        assert f"<{tag}" in cleaned


def test_relative_links_are_made_absolute_or_dropped() -> None:
    cleaned = str(clean_html('<a href="/a">x</a><a href="javascript:1">y</a>',
                             lambda url: "https://example.org" + url if url.startswith("/")
                             else url))
    assert 'href="https://example.org/a"' in cleaned
    assert "javascript" not in cleaned and ">y</a>" in cleaned


def test_an_interrupt_inside_the_attribute_filter_is_raised_not_lost() -> None:
    """nh3 calls the attribute filter from Rust, which prints an exception raised there
    and goes on: a Ctrl-C landing in it once let a build run to its end and swap the
    site (tests/test_site.py::test_ctrl_c_leaves_the_previous_site_byte_identical)."""
    def interrupted(url: str) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clean_html('<a href="https://e.org/">x</a>', rewrite=interrupted)
    # and the next clean is untouched by it
    assert clean_html('<a href="https://e.org/">x</a>') == \
        '<a href="https://e.org/" rel="noopener noreferrer">x</a>'


@given(st.text(max_size=300))
def test_sanitizing_is_idempotent(text: str) -> None:
    once = str(clean_html(text))
    assert str(clean_html(once)) == once


@given(st.text(max_size=200))
def test_safe_urls_are_only_http_or_mailto(text: str) -> None:
    if is_safe_url(text):
        assert text.strip().lower().startswith(("http://", "https://", "mailto:"))


def test_html_to_plain_drops_markup() -> None:
    assert html_to_plain("<p>One <b>two</b></p><script>x()</script><p>three</p>") == \
        "One two three"


# --- never raises, never runs long (issue 11) ----------------------------------

HOSTILE_TITLE = '<![><img src="]><img src=x onerror=alert(39)//">'
ODD_MARKUP = [
    HOSTILE_TITLE, "<![", "<![CDATA[x", "<![if !IE]>x<![endif]>", "<!", "<?", "</", "</>",
    "<!--", "<!-->", "<!--->", "<a href='x", '<a b="', "<script>", "<style>a", "<textarea>",
    "<plaintext><b>x", "<svg><![CDATA[<b>]]></svg>", "\ud800<b>x</b>\udfff", "\x00<p>\x00",
    "<a =x>y", "<div/>x", "<p>" * 500, "</p>" * 500, "<b><i>" * 300 + "x",
]


@pytest.mark.parametrize("markup", ODD_MARKUP, ids=lambda m: repr(m[:20]))
def test_odd_markup_never_makes_the_sanitizer_raise(markup: str) -> None:
    assert isinstance(html_to_plain(markup), str)
    assert script_risks(str(clean_html(markup))) == []
    assert script_risks(str(clean_field(markup, max_bytes=100).html)) == []


def test_a_title_that_broke_the_stdlib_parser_is_read_as_its_text() -> None:
    """HTMLParser raised AssertionError on "<![" (and one feed lost 49 stories)."""
    assert html_to_plain(HOSTILE_TITLE) == ""
    assert html_to_plain(f"Before {HOSTILE_TITLE} after") == "Before after"
    assert html_to_plain("<p>One</p><p>two<br>three</p>") == "One two three"
    assert html_to_plain("a &lt; b &amp; <b>c</b>") == "a < b & c"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.lists(st.sampled_from(
    ["<", ">", "/", "!", "-", "?", "[", "]", '"', "'", "=", " ", "a", "p", "b", "div",
     "script", "CDATA", "\ud800", "&", "#", ";"]), max_size=80).map("".join))
def test_the_sanitizer_is_total(text: str) -> None:
    plain = html_to_plain(text)
    cleaned = str(clean_html(text))
    assert isinstance(plain, str) and script_risks(cleaned) == []
    assert str(clean_html(cleaned)) == cleaned


@pytest.mark.corpus
@pytest.mark.parametrize("payload_file", PAYLOAD_FILES, ids=lambda p: p.name)
def test_payload_lists_never_make_the_sanitizer_raise(payload_file: Path) -> None:
    for payload in payloads(payload_file):
        html_to_plain(payload)
        assert script_risks(str(clean_field(payload * 3, max_bytes=200).html)) == []


# --- depth and size ----------------------------------------------------------------


def tree_depth(markup: str) -> int:
    """How deep a spec-following parser (html5lib, not nh3's html5ever) nests `markup`."""
    deepest, stack = 0, [(html5lib.parseFragment(markup), 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node)
    return deepest


@pytest.fixture()
def nh3_inputs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return count_nh3_inputs(monkeypatch)


def count_nh3_inputs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string the sanitizer hands nh3, in order (a list that fills as it runs)."""
    given_to_nh3: list[str] = []
    clean = sanitize_module._nh3

    def counting(cleaner: nh3.Cleaner, html: str) -> str:
        given_to_nh3.append(html)
        return clean(cleaner, html)

    monkeypatch.setattr(sanitize_module, "_nh3", counting)
    return given_to_nh3


def nested(levels: int, opener: str = '<ul class="level"><li>',
           closer: str = "</li></ul>") -> str:
    return opener * levels + "deep text" + closer * levels


@pytest.mark.parametrize(("opener", "closer", "flattened"), [
    ('<ul class="level"><li>', "</li></ul>", True), ("<div>", "</div>", True),
    ("<b><i>", "</i></b>", True), ("<blockquote><p>", "</p></blockquote>", True),
    ("<table><tr><td>", "</td></tr></table>", True), ("<div>", "", True),
    # tricks that fool a naive count of start and end tags
    ("<span title='>'>", "</span>", True), ("<em><!-- </em> -->", "</em>", True),
    ("<div title='</div>'>", "</div>", True), ("<p><object>", "</div>", True),
    ("<q><script></q></script>", "</q>", True), ("<svg><g>", "</g></svg>", True),
    ("<svg><g><![CDATA[></g>]]>", "", True), ("<i><b></i>", "", False), ("<a>", "", False),
])
def test_nh3_is_never_given_more_than_the_depth_limit(opener: str, closer: str, flattened: bool,
                                                      nh3_inputs: list[str]) -> None:
    """Counting, not timing: html5ever's work grows with the square of the depth."""
    markup = nested(3_000, opener, closer)
    cleaned = clean_field(markup, max_bytes=10**7)
    plain = html_to_plain(markup)
    assert cleaned.too_deep is flattened
    if "svg" not in opener:  # nh3 keeps no text of an <svg>
        assert "deep text" in str(cleaned.html) and "deep text" in plain
    assert nh3_inputs and all(tree_depth(given) <= 3 * MAX_DEPTH for given in nh3_inputs)
    assert tree_depth(str(cleaned.html)) <= 3 * MAX_DEPTH


def _wrapped(tag: str) -> Any:
    return lambda parts: f'<{tag} title="x">{"".join(parts)}</{tag}>'


_TEXTS = st.text(alphabet="ab <&>\"'", max_size=8).map(html.escape)
_INLINE = st.recursive(
    _TEXTS | _TEXTS.map(lambda t: f'<a href="https://e.org/?a=1&amp;b">{t}</a>'),
    lambda inner: st.one_of(*(st.lists(inner, max_size=3).map(_wrapped(tag))
                              for tag in ("b", "em", "span", "q", "code"))),
    max_leaves=12)
_BLOCKS = st.recursive(
    st.lists(_INLINE, max_size=3).map(_wrapped("p")),
    lambda inner: st.lists(inner, max_size=3).map(_wrapped("blockquote"))
    | st.lists(inner.map(_wrapped("li")).map(lambda li: [li]), max_size=3).map(
        lambda items: "<ul>" + "".join(li for item in items for li in item) + "</ul>"),
    max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(st.lists(_BLOCKS, max_size=4).map("".join))
def test_well_nested_markup_comes_out_as_nh3_alone_makes_it(markup: str) -> None:
    """The re-balancing pass (taken past MAX_DEPTH "<") changes nothing well nested."""
    padded = "<br>" * (MAX_DEPTH + 1) + markup
    assert str(clean_html(padded)) == nh3.clean(
        padded, tags=_TAGS, attributes=_ATTRIBUTES, link_rel="noopener noreferrer",
        url_schemes={"http", "https", "mailto"})


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="abc <>/&;é\u4e2d", max_size=300), st.integers(20, 400))
def test_a_field_over_its_size_is_cut_cleanly(text: str, limit: int) -> None:
    markup = "".join(f"<p>{part} <b>{part}</b> &amp; é</p>" for part in text.split("/"))
    cleaned = clean_field(markup, max_bytes=limit)
    out = str(cleaned.html)
    assert len(out.encode("utf-8")) <= limit
    assert str(clean_html(out)) == out  # still clean: no tag or entity cut in half
    full = str(clean_html(markup))
    if len(full.encode("utf-8")) <= limit:
        assert (out, cleaned.cut_from) == (full, 0)
    else:
        assert cleaned.cut_from > limit and out.count("\u2026") <= 1
        kept = html_to_plain(out).removesuffix("\u2026").strip()
        assert html_to_plain(full).startswith(kept)


def test_only_so_much_of_a_huge_field_is_read(nh3_inputs: list[str]) -> None:
    huge = "<p>" + "word " * 2_000_000 + "</p>"  # 10 MB
    cleaned = clean_field(huge, max_bytes=64 * 1024)
    assert len(str(cleaned.html).encode()) <= 64 * 1024 and cleaned.cut_from >= 10_000_000
    assert max(map(len, nh3_inputs)) <= RAW_FACTOR * 64 * 1024


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;\"'= abpliuy#x123\n")) | st.characters(),
               max_size=80))
def test_the_plain_text_of_clean_html_needs_no_second_nh3_pass(html: str) -> None:
    """The store reads the text of stored (sanitized) summaries with a regex, not nh3."""
    cleaned = str(clean_html(html))
    assert plain_of_clean(cleaned) == html_to_plain(cleaned)
