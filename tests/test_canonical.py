"""Canonical URLs: RFC 3986's equivalent spellings give one story id; tracking goes, content stays.

The fixed cases of `canonical_url` (schemes, hosts, ports, what is refused) are in
tests/test_parse.py; these are the normalizations and their invariants.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from newsletter.collect.canonical import TRACKING_PARAMETERS, canonical_url, story_id


@pytest.mark.parametrize(("one", "other"), [
    ("https://e.org/%7Euser/", "https://e.org/~user/"),
    ("https://e.org/%7euser/", "https://e.org/~user/"),
    ("https://e.org/a%2fb", "https://e.org/a%2Fb"),
    ("https://e.org/caf%c3%a9", "https://e.org/café"),
    ("https://e.org/%41%42%63-%2D%5f%2e", "https://e.org/ABc--_."),
    ("https://e.org/a/%2E%2E/b/%2e/c", "https://e.org/b/c"),
    ("HTTPS://E.ORG:443/a", "https://e.org/a"),
    ("http://e.org:80/a", "https://e.org/a"),
    ("https://e.org/a?q=%7e%2b", "https://e.org/a?q=~%2B"),
    ("https://e.org/a?si=x&v=9&s_cid=1&p=2&id=3&SI=4", "https://e.org/a?v=9&p=2&id=3"),
    ("https://e.org/a?dclid=1&gbraid=2&mkt_tok=3&_hsenc=4&igsh=5&srsltid=6&x=1",
     "https://e.org/a?x=1"),
    ("https://e.org/a?%75tm_source=rss&%66bclid=1&k=v", "https://e.org/a?k=v"),
])
def test_equivalent_spellings_are_one_story(one: str, other: str) -> None:
    assert canonical_url(one) == canonical_url(other)
    assert story_id(canonical_url(one) or "") == story_id(canonical_url(other) or "")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://e.org/a%2fb", "https://e.org/a%2Fb"),  # an escaped "/" is not a "/"
    ("https://e.org/a%3f%23%26%3d%25", "https://e.org/a%3F%23%26%3D%25"),
    ("https://e.org/a?q=a%26b%3Dc", "https://e.org/a?q=a%26b%3Dc"),  # not a second parameter
    ("https://e.org/100%", "https://e.org/100%25"),  # a lone "%" is escaped itself
    ("https://e.org/%%34%31", "https://e.org/%2541"),  # ... so unescaping makes no new escape
    ("https://e.org//x/./y", "https://e.org//x/y"),  # "//x" is a path, not a host
    ("https://e.org/a/b/..", "https://e.org/a/"),
])
def test_what_must_stay_escaped_stays(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("kept", ["id", "p", "v", "ref", "source", "s", "page", "q", "t"])
def test_parameters_that_choose_the_content_are_kept(kept: str) -> None:
    assert canonical_url(f"https://e.org/a?{kept}=1&utm_medium=x") == f"https://e.org/a?{kept}=1"
    assert kept not in TRACKING_PARAMETERS


def test_a_kept_fragment_is_normalized_too() -> None:
    one = canonical_url("http://e.org/26.html#a%7e%2f", keep_fragment=True)
    assert one == canonical_url("https://e.org/26.html#a~%2F", keep_fragment=True)
    assert one == "https://e.org/26.html#a~%2F"


# --- invariants -------------------------------------------------------------------------

_UNRESERVED = "abcXYZ019-._~"
_SUB_DELIMS = "!$'()*+,;:@"  # legal in a path as they are ("&" and "=" too, outside a query)
_OTHERS = "é中 <>\"{}|^`"  # escaped by canonical_url, as UTF-8
_RESERVED_ESCAPES = ["%2F", "%3F", "%23", "%25", "%26", "%3D", "%20"]
_TRACKING = ["utm_source=feed", "UTM_Campaign=x", "fbclid=1", "gclid=2", "si=3", "s_cid=4",
             "mc_eid=5", "_hsmi=6", "igshid=7"]

_token = st.sampled_from([*_UNRESERVED, *_SUB_DELIMS, *_OTHERS, *_RESERVED_ESCAPES])
_segment = st.lists(_token, max_size=6)
_pair = st.tuples(st.lists(st.sampled_from("kqxyz"), min_size=1, max_size=3), _segment)


def _respell(token: str, draw: st.DrawFn) -> str:
    """Another spelling of the same token: escaped or not, escapes in either case."""
    if token.startswith("%"):
        return "%" + draw(st.sampled_from([token[1:].lower(), token[1:].upper()]))
    if (token in _UNRESERVED or not token.isascii()) and draw(st.booleans()):
        hexes = [f"{byte:02x}" for byte in token.encode("utf-8")]
        return "".join("%" + draw(st.sampled_from([h.lower(), h.upper()])) for h in hexes)
    return token


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, str]:
    """(a URL, the same URL spelled another way RFC 3986 or our tracking rules call equal)."""
    segments = draw(st.lists(_segment, min_size=1, max_size=4))
    pairs = draw(st.lists(_pair, max_size=3))
    one = "https://news.example.org/" + "/".join("".join(s) for s in segments)
    other_path = []
    for segment in segments:
        detour = draw(st.sampled_from(["", "./", "zz/../", "./q/../"]))  # dot segments
        other_path.append(detour + "".join(_respell(t, draw) for t in segment))
    host = draw(st.sampled_from(["news.example.org", "NEWS.Example.ORG", "news.example.org."]))
    scheme = draw(st.sampled_from(["https", "HTTPS", "http", "Http"]))
    port = draw(st.sampled_from(["", ":443" if scheme.lower() == "https" else ":80"]))
    other = f"{scheme}://{host}{port}/" + "/".join(other_path)
    query = ["".join(key) + "=" + "".join(value).replace("&", "%26").replace("=", "%3D")
             for key, value in pairs]
    other_query = ["".join(key) + "=" + "".join(_respell(t, draw) for t in value)
                   .replace("&", "%26").replace("=", "%3D") for key, value in pairs]
    for tracking in draw(st.lists(st.sampled_from(_TRACKING), max_size=3)):
        other_query.insert(draw(st.integers(0, len(other_query))), tracking)
    if query:
        one += "?" + "&".join(query)
    if other_query:
        other += "?" + "&".join(other_query)
    # spaces around a URL are not part of it (WHATWG strips them), so "a " is "a", not "a%20"
    assume(one == one.rstrip())
    return one, other + draw(st.sampled_from(["", "#", "#top", "#%7e"]))


@given(spellings())
def test_equivalent_spellings_always_give_one_id(urls: tuple[str, str]) -> None:
    one, other = urls
    assert canonical_url(one) is not None
    assert canonical_url(other) == canonical_url(one)
    assert story_id(canonical_url(other) or "") == story_id(canonical_url(one) or "")


@given(spellings(), st.booleans())
def test_normalizing_twice_changes_nothing(urls: tuple[str, str], keep: bool) -> None:
    for url in urls:
        once = canonical_url(url, keep_fragment=keep)
        assert once is not None and canonical_url(once, keep_fragment=keep) == once


@given(st.text(max_size=40), st.booleans())
def test_normalizing_any_text_twice_changes_nothing(tail: str, keep: bool) -> None:
    once = canonical_url("https://e.org/" + tail, keep_fragment=keep)
    if once is not None:
        assert canonical_url(once, keep_fragment=keep) == once
