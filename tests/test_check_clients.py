"""Client support: what the email uses, looked up in caniemail.com's data.

The corpus copy of caniemail's full data (`shared/corpora/caniemail`, beside
the repository) is read in place: it is what the shipped subset is made from,
and the expected clients below come from it, not from this file.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import EXAMPLE_ISSUE, REPO

from newsletter import api
from newsletter.check import Finding, Severity
from newsletter.check.clients import (
    CODE,
    ENHANCEMENTS,
    TARGETS,
    client_support,
    features_used,
    shipped_data,
)
from newsletter.model import Settings

CANIEMAIL = REPO.parent / "shared" / "corpora" / "caniemail" / "caniemail.json"
SHIPPED = REPO / "newsletter" / "data" / "caniemail.json"
TOOL = REPO / "tools" / "caniemail_subset.py"
MAX_SHIPPED_BYTES = 300_000

# What the example email uses on purpose, with a fallback (see ENHANCEMENTS),
# or only where the client that reads it is not looking: none may warn.
FALLBACKS_IN_OUR_EMAIL = (
    "css-at-media",                       # MJML's column widths, our mobile headline size
    "css-at-media-prefers-color-scheme",  # our dark-mode colours
    "html-meta-color-scheme",             # ditto
    "css-selector-attribute",             # [data-ogsc], [data-ogsb]: Outlook.com dark mode
    "html-body",                          # MJML repeats the body background on a <div>
    "html-doctype",
    "css-border-spacing",                 # MJML's image tables, with cellspacing="0"
    "css-border-radius",                  # the button's corners
    "css-cursor",                         # the button's cursor:auto
    "css-outline",                        # MJML's img reset
    "css-word-break",                     # MJML's break-word on every text block
    "html-aria-label",                    # MJML's role="article" wrapper
    "html-target",                        # MJML's target="_blank" on linked pictures
    "css-opacity", "css-overflow", "css-max-height",  # the hidden preheader
)


@pytest.fixture(scope="module")
def caniemail() -> dict[str, Any]:
    """caniemail's full data, read where it lies."""
    data: dict[str, Any] = json.loads(CANIEMAIL.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("caniemail_subset", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def feature(data: Mapping[str, Any], slug: str) -> Mapping[str, Any]:
    return next(f for f in data["data"] if f["slug"] == slug)


def clients_at(data: Mapping[str, Any], slug: str, level: str) -> list[str]:
    """The labels of the target clients whose newest result for `slug` is `level`."""
    stats = feature(data, slug)["stats"]
    labels = []
    for client in TARGETS:
        versions = stats.get(client.family, {}).get(client.platform) or {}
        if versions and list(versions.values())[-1].split()[0] == level:
            labels.append(client.label)
    return labels


def named(message: str, verb: str) -> list[str]:
    """The clients a finding's message names after `verb`."""
    if verb not in message:
        return []
    return message.split(verb, 1)[1].split("; only partly by ")[0].split(", ")


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    subjects = [f.subject for f in findings]
    assert len(subjects) == len(set(subjects)), "one finding per feature"
    return {f.subject: f for f in findings}


def email(body: str, head: str = "") -> str:
    return (f"<!doctype html><html lang=\"en\"><head><title>t</title>{head}</head>"
            f"<body>{body}</body></html>")


# --- the shipped data --------------------------------------------------------------


@pytest.mark.corpus
def test_shipped_subset_is_what_the_tool_makes_from_the_corpus(tool, caniemail) -> None:
    made = tool.dumps(tool.subset(caniemail, tool.source_name(str(CANIEMAIL))))
    assert SHIPPED.read_text(encoding="utf-8") == made, (
        "remake it: .venv/bin/python tools/caniemail_subset.py "
        "../shared/corpora/caniemail/caniemail.json newsletter/data/caniemail.json")


@pytest.mark.corpus
def test_tool_writes_the_file_from_the_command_line(tool, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "caniemail.json"
    assert tool.main([str(CANIEMAIL), str(out)]) == 0
    assert out.read_bytes() == SHIPPED.read_bytes()


@pytest.mark.corpus
def test_shipped_subset_is_small_credited_and_complete(caniemail) -> None:
    assert SHIPPED.stat().st_size < MAX_SHIPPED_BYTES
    data = shipped_data()
    header = data["header"]
    assert header["licence"] == "MIT" and header["credit"] == "caniemail.com"
    assert header["data_date"] == caniemail["last_update_date"]
    assert header["clients"] == [f"{c.family}/{c.platform}" for c in TARGETS]
    wanted = {f["slug"] for f in caniemail["data"] if f["category"] in ("css", "html")}
    assert {f["slug"] for f in data["data"]} == wanted
    for kept in data["data"]:
        for platforms in kept["stats"].values():
            assert all(len(versions) == 1 for versions in platforms.values())


@pytest.mark.corpus
def test_the_data_knows_every_target_and_enhancement(caniemail) -> None:
    slugs = {f["slug"] for f in caniemail["data"]}
    assert set(ENHANCEMENTS) <= slugs
    for client in TARGETS:
        assert feature(caniemail, "html-table")["stats"][client.family][client.platform]


# --- what an email uses --------------------------------------------------------------

USES = [
    # html, slugs it must use, slugs it must not
    ('<div style="margin-top:4px;padding-left:2px">', {"css-margin", "css-padding"}, set()),
    ('<div style="border-top-left-radius:4px">', {"css-border-radius"}, {"css-border"}),
    ('<div style="border-top:1px solid red">', {"css-border", "css-unit-px"}, set()),
    ('<div style="display:flex">', {"css-display-flex"}, {"css-display"}),
    ('<div style="display:inline-flex">', {"css-display-flex"}, set()),
    ('<div style="display:inline-block">', {"css-display"}, set()),
    ('<div style="background:url(a.png) no-repeat">', {"css-background",
                                                         "css-background-image"}, set()),
    ('<div style="background-image:url(a.png)">', {"css-background-image"}, set()),
    ('<div style="width:calc(100% - 2rem)">', {"css-width", "css-unit-calc", "css-unit-percent",
                                                "css-unit-rem"}, set()),
    ('<p style="color:rgba(0,0,0,.5);font-family:system-ui">', {"css-rgba", "css-sytem-ui"},
     set()),
    ('<p style="--brand:#000;color:var(--brand)">', {"css-variables"}, set()),
    ('<p style="filter:opacity(50%);background:linear-gradient(red, blue)">',
     {"css-filter", "css-linear-gradient", "css-background"}, {"css-opacity"}),
    ('<p style="gap:4px;column-gap:2px">', {"css-gap"}, set()),
    ('<p style="margin-inline-start:2px">', {"css-margin-inline-start-end"}, {"css-margin"}),
    ('<p style="color:#0b4f6c;-webkit-text-size-adjust:100%;mso-line-height-rule:exactly">',
     set(), {"css-unit-percent"}),
    ('<div style="display:none;opacity:0;max-height:0;overflow:hidden">',
     {"css-display-none"}, {"css-opacity", "css-max-height", "css-overflow"}),
    ('<h3>x</h3><ul><li>x</li></ul><section>x</section>',
     {"html-h1-h6", "html-lists", "html-semantics"}, set()),
    ('<img src="a.png" srcset="a.png 1x, b.png 2x" loading="lazy" alt="">',
     {"html-img", "html-srcset", "html-loading-attribute"}, set()),
    ('<a href="mailto:a@example.org">a</a> <a href="#top">top</a>',
     {"html-mailto-links", "html-anchor-links"}, set()),
    ('<input type="checkbox"><button>go</button>', {"html-input-checkbox",
                                                     "html-button-submit"}, set()),
    ('<td style="color:red" abbr="x">x</td>', set(), {"html-style", "html-abbr"}),
    ('<svg viewBox="0 0 1 1"></svg><video src="a.mp4"></video>', {"html-svg", "html-video"},
     set()),
    ('<style>.a.b, a.c {color:red} #x > p + p ~ p {margin:0}</style><a class="a b c">',
     {"html-style", "css-selector-chaining", "css-selector-class", "css-selector-grouping",
      "css-selector-id", "css-selector-child", "css-selector-adjacent-sibling",
      "css-selector-general-sibling", "css-selector-type"}, set()),
    ('<style>.a .b {color:red} [data-x] p {color:blue}</style><p class="a b">',
     {"css-selector-descendant", "css-selector-attribute"}, {"css-selector-chaining"}),
    ("<style>a:hover{color:red} p::before{content:''} li:nth-child(2n){color:red}</style>",
     {"css-pseudo-class-hover", "css-pseudo-element-before", "css-pseudo-class-nth-child"},
     set()),
    ("<style>@media (prefers-color-scheme: dark) { p { color: #fff !important } }</style>",
     {"css-at-media", "css-at-media-prefers-color-scheme", "css-important"}, set()),
    ("<style>@media screen and (-webkit-min-device-pixel-ratio:2) and (orientation:portrait)"
     " {p{color:red}}</style>",
     {"css-at-media", "css-at-media-device-pixel-ratio", "css-at-media-orientation"}, set()),
    ('<style>@import url("x.css"); @font-face {font-family: X; src: url(x.woff)}'
     "@keyframes k {from {opacity:0} to {opacity:1}} /* note */</style>",
     {"css-at-import", "css-at-font-face", "css-at-keyframes", "css-opacity", "css-comments"},
     set()),
    ('<style>.a { color: red; .b { color: blue } }</style><p class="a">', {"css-nesting"}, set()),
    ('<style media="screen and (min-width:480px)">.a{width:50%}</style>', {"css-at-media"},
     set()),
    # rules for classes no element has match nothing: MJML's spares, Thunderbird's hook
    ('<style>td.mj-full-width-mobile {width:auto} .moz-text-html .x {display:flex}'
     '.x, .gone {border-radius:2px}</style><td class="x">',
     {"css-selector-class", "css-border-radius", "css-selector-grouping"},
     {"css-selector-chaining", "css-width", "css-display-flex", "css-selector-descendant"}),
    ('<meta name="color-scheme" content="light dark">', {"html-meta-color-scheme"}, set()),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("html", "uses", "absent"), USES, ids=[case[0][:40] for case in USES])
def test_features_used(caniemail, html: str, uses: set[str], absent: set[str]) -> None:
    features = {f["slug"]: f for f in caniemail["data"]}
    used = features_used(html, features)
    assert uses <= used.keys()
    assert not absent & used.keys()


def test_a_finding_says_where_the_feature_is_used() -> None:
    html = email('<div style="display:flex"><div style="display: flex !important">x</div></div>')
    finding = by_subject(client_support(html))["css-display-flex"]
    assert "`display: flex`" in finding.hint
    assert "`display: flex !important`" in finding.hint
    assert "https://www.caniemail.com/features/css-display-flex/" in finding.hint


# --- findings -------------------------------------------------------------------------


@pytest.mark.corpus
def test_flex_and_video_warn_naming_the_clients_the_data_names(caniemail) -> None:
    html = email('<div style="display:flex"><video src="https://example.org/a.mp4" controls>'
                 "</video></div>")
    findings = by_subject(client_support(html))
    for slug in ("css-display-flex", "html-video"):
        finding = findings[slug]
        assert finding.severity == Severity.WARNING and finding.code == CODE
        missing = clients_at(caniemail, slug, "n")
        assert named(finding.message, " is not supported by ") == missing
        assert named(finding.message, "; only partly by ") == clients_at(caniemail, slug, "a")
        assert feature(caniemail, slug)["title"] in finding.message
    assert any(c.startswith("Outlook") for c in clients_at(caniemail, "css-display-flex", "n"))
    assert {c.split()[0] for c in clients_at(caniemail, "html-video", "n")} >= {
        "Gmail", "Outlook"}


@pytest.mark.corpus
def test_the_full_data_and_the_shipped_subset_say_the_same(caniemail) -> None:
    html = email('<div style="display:flex;background-image:url(a.png)"><video></video>'
                 "<svg></svg></div>",
                 "<style>.a.b{color:red} @media (prefers-color-scheme:dark){a{color:#fff}}</style>")
    assert client_support(html, caniemail) == client_support(html)


def test_a_plain_table_email_warns_of_nothing() -> None:
    html = email(
        '<table role="presentation" cellpadding="0" cellspacing="0" width="600">'
        '<tr><td style="color:#1f2a30;background-color:#ffffff;font-family:Arial, sans-serif">'
        '<p>Hello</p><a href="https://example.org/" style="color:#0b4f6c">a link</a>'
        "</td></tr></table>")
    findings = client_support(html)
    assert not [f for f in findings if f.severity >= Severity.WARNING], findings
    assert {f.subject for f in findings} <= {"html-doctype", "html-body", "html-lang",
                                             "html-role", "html-width"}


def test_outlook_conditional_comments_are_not_read() -> None:
    hidden = ('<!--[if mso | IE]><table role="presentation"><tr><td style="display:flex">'
              '<video src="a.mp4"></video><![endif]-->'
              '<!--[if mso]><style>p { position: absolute; }</style><![endif]-->')
    used = features_used(email(hidden), {f["slug"]: f for f in shipped_data()["data"]})
    assert not {"css-display-flex", "html-video", "css-position", "html-style"} & used.keys()
    # <!--[if !mso]><!--> ... <!--<![endif]--> is what every client but Outlook reads
    shown = '<!--[if !mso]><!--><video src="a.mp4"></video><!--<![endif]-->'
    assert "html-video" in by_subject(client_support(email(shown)))


@pytest.mark.parametrize("junk", ['<![><img src="]><video>', "<![x]><video>", "<![ if]><video>",
                                  "<![if !mso]><video><![endif]>"])
def test_broken_markup_is_read_as_a_browser_would(junk: str) -> None:
    assert "html-video" in by_subject(client_support(email(junk)))


def test_enhancements_are_notes_whatever_the_clients_do() -> None:
    html = email('<div style="border-radius:4px">x</div>',
                 '<meta name="color-scheme" content="light dark">'
                 "<style>@media (prefers-color-scheme: dark) { div { color: #fff } }</style>")
    findings = by_subject(client_support(html))
    for slug in ("css-border-radius", "html-meta-color-scheme",
                 "css-at-media-prefers-color-scheme"):
        assert findings[slug].severity == Severity.NOTE
        assert "not supported by" in findings[slug].message
        assert ENHANCEMENTS[slug] in findings[slug].hint


# --- our own email ------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_findings(settings: Settings) -> list[Finding]:
    _, rendered = api.render_issue(EXAMPLE_ISSUE, settings)
    return client_support(rendered.email_html)


def test_our_email_warns_of_nothing_mjml_gives_a_fallback(example_findings) -> None:
    findings = by_subject(example_findings)
    for slug in FALLBACKS_IN_OUR_EMAIL:
        assert slug not in findings or findings[slug].severity == Severity.NOTE, findings[slug]
    # what the theme uses on purpose is seen, and is a note
    for slug in ("css-at-media", "css-at-media-prefers-color-scheme", "html-meta-color-scheme",
                 "css-selector-attribute"):
        assert findings[slug].severity == Severity.NOTE
    assert "css-opacity" not in findings  # the preheader's hiding is not "using" opacity
    warnings = [f for f in example_findings if f.severity >= Severity.WARNING]
    print(f"\n{len(warnings)} client-support warning(s) for the example email:")
    for finding in warnings:
        print(finding)


def test_our_email_gives_no_picture_a_css_height(example_findings) -> None:
    # Yahoo Mail reads `height:auto` as a minimum height and stretches the picture to
    # its height attribute; MJML's head reset wrote it for every <img> (issue 15, point 2)
    assert "css-height" not in by_subject(example_findings)
