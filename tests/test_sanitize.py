"""Sanitizing: hostile markup from the XSS corpora never reaches an output as code.

The payloads are put everywhere an editor or a feed can put text (headlines,
markdown blurbs, link targets) and the whole pipeline renders them; a real
HTML parser then checks that nothing in the email or the web page can run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import html5lib
import pytest
from conftest import REPO
from hypothesis import given
from hypothesis import strategies as st

from newsletter import api
from newsletter.sanitize import clean_html, html_to_plain, is_safe_url

CORPORA = REPO.parent / "shared" / "corpora" / "xss"
INTRUDERS = CORPORA / "payloadsallthethings" / "XSS_Injection" / "Intruders"
PAYLOAD_FILES = [*sorted(INTRUDERS.glob("*.txt")), CORPORA / "h5sc" / "rss_vectors.txt"]
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
