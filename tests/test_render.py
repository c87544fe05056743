"""Render stage: properties of the email, text part and web page that fail on their own."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import html5lib
import pytest
from conftest import CHINESE_ISSUE, DATA, EXAMPLE_ISSUE, REPO

from newsletter import api
from newsletter.desk.config import UNSUBSCRIBE_DIALECTS
from newsletter.model import Lead, RenderedIssue, Settings, Utm
from newsletter.render.links import LinkPolicy, add_utm, embed_url
from newsletter.render.text import WIDTH

GOLDEN = DATA / "golden"
GMAIL_CLIP = 102 * 1024
NS = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(scope="module")
def example(settings: Settings) -> tuple[object, RenderedIssue]:
    return api.render_issue(EXAMPLE_ISSUE, settings)


@pytest.fixture(scope="module")
def chinese(settings: Settings) -> tuple[object, RenderedIssue]:
    return api.render_issue(CHINESE_ISSUE, settings)


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    tree = html5lib.parse(html)
    return [(el.tag.removeprefix(NS), dict(el.attrib)) for el in tree.iter()
            if isinstance(el.tag, str)]


def all_rendered(example: tuple[object, RenderedIssue], chinese: tuple[object, RenderedIssue]
                 ) -> list[tuple[str, str]]:
    return [(f"{name}.{kind}", getattr(r, kind)) for name, (_, r) in
            (("example", example), ("chinese", chinese)) for kind in ("email_html", "web_html")]


# --- links -------------------------------------------------------------------


SITE_LINK = re.compile(r"^(#main|\.\./\.\./(index\.html(#archive)?|feed\.xml)|"
                       r"\.\./[a-z0-9-]+/index\.html)$")


def test_every_href_is_absolute_http_or_mailto(example, chinese, settings) -> None:
    for name, html in all_rendered(example, chinese):
        for tag, attrs in elements(html):
            href = attrs.get("href")
            if href is None or href == settings.unsubscribe:
                continue
            if name.endswith("web_html") and SITE_LINK.match(href):
                continue  # the skip link, and pages of the site (relative: it works from disk)
            assert re.match(r"^(https?://[^/\s]+|mailto:\S+@)", href), (name, tag, href)


def test_email_links_carry_utm_tags_but_the_web_page_does_not(example) -> None:
    _, rendered = example
    email_links = [a["href"] for tag, a in elements(rendered.email_html)
                   if tag == "a" and a.get("href", "").startswith("http")]
    assert email_links and all("utm_source=tideline" in url for url in email_links)
    assert all("utm_campaign=tideline-48" in url for url in email_links)
    web_links = [a["href"] for tag, a in elements(rendered.web_html) if tag == "a"]
    assert not any("utm_" in url for url in web_links)


def test_utm_never_overwrites_a_parameter_the_link_already_has() -> None:
    url = "https://example.org/a?utm_source=partner&x=1#top"
    tagged = add_utm(url, {"utm_source": "ours", "utm_medium": "email"})
    assert tagged == "https://example.org/a?utm_source=partner&x=1&utm_medium=email#top"


def test_link_policy_refuses_unsafe_schemes_and_resolves_relative_links() -> None:
    policy = LinkPolicy("https://news.example.org/issues/1/")
    assert policy("javascript:alert(1)") is None
    assert policy("data:text/html,<script>") is None
    assert policy("vbscript:x") is None
    assert policy("../2/") == "https://news.example.org/issues/2/"
    assert policy("mailto:desk@example.org") == "mailto:desk@example.org"


@pytest.mark.parametrize(("url", "player"), [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3",
     "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
    ("https://youtu.be/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
    ("https://vimeo.com/123456789", "https://player.vimeo.com/video/123456789?dnt=1"),
    ("https://example.org/video.mp4", None),
])
def test_video_embeds_use_privacy_enhanced_players(url: str, player: str | None) -> None:
    assert embed_url(url) == player


# --- email -------------------------------------------------------------------


def test_email_has_no_script_or_event_handlers(example, chinese) -> None:
    for _, rendered in (example, chinese):
        html = rendered.email_html
        assert "<script" not in html.lower()
        for tag, attrs in elements(html):
            assert not [a for a in attrs if a.lower().startswith("on")], tag
            assert tag not in {"script", "iframe", "object", "embed", "form"}


def test_every_image_has_alt_width_and_height(example, chinese) -> None:
    for name, html in all_rendered(example, chinese):
        images = [attrs for tag, attrs in elements(html) if tag == "img"]
        assert images, name
        for attrs in images:
            assert attrs.get("alt"), (name, attrs)
            assert attrs.get("width", "").isdigit() and attrs.get("height", "").isdigit(), attrs


def test_email_is_outlook_safe_and_dark_mode_aware(example) -> None:
    html = example[1].email_html
    assert "<!--[if mso" in html
    assert "prefers-color-scheme: dark" in html
    assert '<meta name="color-scheme" content="light dark"' in html
    assert 'role="presentation"' in html


def test_email_sets_a_background_wherever_it_sets_a_text_colour(example) -> None:
    # Dark text on a transparent background turns unreadable in a client's dark mode.
    body = example[1].email_html.split("<body", 1)[1]
    assert re.search(r'<body[^>]*background-color|background-color:#ffffff', "<body" + body)
    sections = re.findall(r'<div class="nl-surface[^"]*" style="([^"]*)"', body)
    assert sections and all("background-color:" in style for style in sections)


def test_email_has_preheader_view_in_browser_and_unsubscribe(example, settings) -> None:
    issue, rendered = example
    html = rendered.email_html
    assert issue.preheader in html
    assert f'href="{settings.unsubscribe}"' in html
    browser_links = [a["href"] for tag, a in elements(html) if tag == "a"
                     and a.get("href", "").startswith(f"{settings.base_url}issues/{issue.slug}/?")]
    assert browser_links, "no view-in-browser link to the web page"


@pytest.mark.parametrize("dialect", sorted(UNSUBSCRIBE_DIALECTS))
def test_unsubscribe_placeholder_follows_the_dialect(dialect: str, desk: Path) -> None:
    settings_file = desk / "newsletter.yaml"
    text = settings_file.read_text(encoding="utf-8")
    settings_file.write_text(text.replace("unsubscribe: mailchimp", f"unsubscribe: {dialect}"),
                             encoding="utf-8")
    settings = api.load_desk(desk)
    _, rendered = api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings)
    placeholder = UNSUBSCRIBE_DIALECTS[dialect]
    assert f'href="{placeholder}"' in rendered.email_html
    assert placeholder in rendered.text


def test_email_is_smaller_than_gmail_clips(example, chinese) -> None:
    for _, rendered in (example, chinese):
        assert len(rendered.email_html.encode()) < GMAIL_CLIP


def test_video_is_a_badged_thumbnail_in_the_email_and_a_player_on_the_web(example) -> None:
    _, rendered = example
    email_images = [a["src"] for tag, a in elements(rendered.email_html) if tag == "img"]
    assert any("-play-" in src for src in email_images)
    frames = [a["src"] for tag, a in elements(rendered.web_html) if tag == "iframe"]
    assert frames and all(src.startswith(("https://www.youtube-nocookie.com/embed/",
                                          "https://player.vimeo.com/video/")) for src in frames)


# --- text part ---------------------------------------------------------------


def picked_headlines(lead: Lead, issue: object) -> list[str]:
    heads = [lead.headline]
    heads += [b.headline for b in lead.body if b.kind == "related"]
    heads += [b.title for b in lead.body if b.kind == "video"]
    heads += [i.headline for i in issue.catch_up.items if i.kind == "item"]
    heads += [d.headline for d in issue.deep_dives.items]
    heads += [s.headline for s in issue.sponsors]
    return heads


def test_every_picked_headline_is_in_the_text_part(example, chinese) -> None:
    for issue, rendered in (example, chinese):
        flat = re.sub(r"\s+", " ", rendered.text)
        flat_cjk = re.sub(r"\s+", "", rendered.text)
        for headline in picked_headlines(issue.lead, issue):
            assert headline in flat or re.sub(r"\s+", "", headline) in flat_cjk, headline


def test_text_part_wraps_at_78_columns_and_lists_links(example, chinese) -> None:
    import unicodedata

    for _, rendered in (example, chinese):
        lines = rendered.text.splitlines()
        for line in lines:
            if re.match(r"^(\[\d+\] )?https?://\S+$", line):
                continue  # a URL cannot be broken
            width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
            assert width <= WIDTH, line
        refs = [line for line in lines if re.match(r"^\[\d+\] (https?|mailto):", line)]
        cited = set(re.findall(r"\[(\d+)\]", rendered.text))
        assert len(refs) >= 5 and {r.split("]")[0][1:] for r in refs} == cited


def test_text_part_has_no_html(example) -> None:
    assert not re.search(r"<(p|a|div|strong|em)\b", example[1].text)
    assert "&amp;" not in example[1].text


# --- web page ----------------------------------------------------------------


def test_web_page_is_semantic_and_shareable(example, settings) -> None:
    issue, rendered = example
    html = rendered.web_html
    tags = {tag for tag, _ in elements(html)}
    assert {"main", "article", "header", "footer", "section", "figure", "time"} <= tags
    url = f"{settings.base_url}issues/{issue.slug}/"
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert '<html lang="en">' in html


# --- Chinese -----------------------------------------------------------------


def test_chinese_issue_keeps_its_text_and_language(chinese) -> None:
    issue, rendered = chinese
    assert issue.lang == "zh-Hans"
    assert '<html lang="zh-Hans"' in rendered.web_html
    assert 'lang="zh-Hans"' in rendered.email_html
    for output in (rendered.email_html, rendered.web_html, rendered.text):
        assert issue.lead.headline.replace(" ", "") in output.replace("\n", "")
        assert "\ufffd" not in output and "Ã" not in output and "å" not in output
    assert "PingFang SC" in rendered.email_html and "Microsoft YaHei" in rendered.email_html
    assert "60秒速览" in rendered.text


def test_items_in_another_language_are_marked(chinese) -> None:
    _, rendered = chinese
    assert 'lang="en"' in rendered.email_html and 'lang="en"' in rendered.web_html
    # the desk's own words (English here) keep their language inside a Chinese issue
    assert '<p lang="en">© 2026' in rendered.web_html
    assert '<div lang="en">© 2026' in rendered.email_html


# --- markdown and sanitizing ---------------------------------------------------


JSON_LD = re.compile(r'<script type="application/ld\+json">[^<]*</script>')


def test_editor_markdown_cannot_inject_html(desk: Path) -> None:
    path = desk / "issues" / EXAMPLE_ISSUE.name
    text = path.read_text(encoding="utf-8")
    evil = ('intro: |\n  <script>alert(1)</script> [x](javascript:alert(2)) '
            '<img src=x onerror=alert(3)> [ok](https://example.org/ok)\n')
    path.write_text(re.sub(r"(?m)^intro: \|\n(  .*\n|\n)+", evil, text), encoding="utf-8")
    _, rendered = api.render_issue(path, api.load_desk(desk))
    for html in (rendered.email_html, JSON_LD.sub("", rendered.web_html)):
        assert "<script" not in html and "onerror=" not in html.replace("onerror=alert(3)&gt;", "")
        assert "javascript:" not in html.replace("(javascript:alert(2))", "")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "https://example.org/ok" in html


# --- determinism and golden files --------------------------------------------


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        # each build with its own empty cache: the output must not depend on it
        env = dict(os.environ, SOURCE_DATE_EPOCH="1764201600",
                   XDG_CACHE_HOME=str(tmp_path / f"cache-{run}"))
        subprocess.run([sys.executable, "-m", "newsletter", "build", "--out", str(out)],
                       cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
        outputs.append({p.relative_to(out): (p.read_bytes(), p.stat().st_mtime)
                        for p in sorted(out.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert {mtime for _, mtime in outputs[0].values()} == {1764201600}


@pytest.mark.parametrize("name", ["email.html", "email.txt", "index.html"])
def test_golden_output(name: str, example: tuple[object, RenderedIssue],
                       update_golden: bool) -> None:
    rendered = example[1]
    actual = {"email.html": rendered.email_html, "email.txt": rendered.text,
              "index.html": rendered.web_html}[name]
    golden = GOLDEN / EXAMPLE_ISSUE.stem / name
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), "no golden file: run pytest --update-golden and review the diff"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if the change is intended, run "
        "pytest tests/test_render.py --update-golden and review the diff")


def test_utm_can_be_switched_off(settings: Settings) -> None:
    quiet = dataclasses.replace(settings, utm=Utm(enabled=False))
    _, rendered = api.render_issue(EXAMPLE_ISSUE, quiet)
    assert "utm_" not in rendered.email_html and "utm_" not in rendered.text


# --- smaller things that were seen (issue 13) ----------------------------------


def test_videos_sharing_a_thumbnail_each_get_their_own_duration(desk: Path) -> None:
    path = desk / "issues" / EXAMPLE_ISSUE.name
    text = path.read_text(encoding="utf-8")
    video = text[text.index("    - video:\n"):text.index("    - text: |\n        The plan")]
    three = "".join(video.replace('"03:12"', f'"0{n}:1{n}"') for n in (1, 2, 3))
    path.write_text(text.replace(video, three), encoding="utf-8")
    _, rendered = api.render_issue(path, api.load_desk(desk))
    badged = [a["src"] for tag, a in elements(rendered.email_html)
              if tag == "img" and "video-urchin-divers-play-" in a["src"]]
    assert len(badged) == 3 and len(set(badged)) == 3  # one badge per duration
    for n in (1, 2, 3):
        assert f"(0{n}:1{n})" in rendered.email_html


def test_an_item_in_another_script_gets_its_own_fonts_everywhere(desk: Path) -> None:
    path = desk / "issues" / EXAMPLE_ISSUE.name
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(
        '      headline: "Seagrass stores carbon. Proving how much is the hard part"\n',
        '      headline: "海草床的碳汇难以证明"\n      lang: zh-Hans\n', 1),
        encoding="utf-8")
    _, rendered = api.render_issue(path, api.load_desk(desk))
    email = rendered.email_html
    card = re.search(r'<div class="nl-font-zh-hans" lang="zh-Hans" style="font-family:'
                     r'PingFang SC[^"]*">', email)
    assert card, "the Chinese card has no font stack of its own"
    # Outlook ignores the inline stack: the head gives the class its face
    assert re.search(r"\.nl-font-zh-hans a[^{]*\{ font-family: Microsoft YaHei", email)
    assert '[lang="zh-Hans"] { font-family: PingFang SC' in rendered.web_html
    # English items keep the issue's stack: no class, no inline font
    assert email.count("nl-font-") == email.count("nl-font-zh-hans") and \
        "nl-font-latin" not in email


def test_an_english_item_in_a_chinese_issue_needs_no_fonts_of_its_own(chinese) -> None:
    _, rendered = chinese
    assert "nl-font-" not in rendered.email_html
    assert '[lang="en"]' not in rendered.web_html


FOOTER_WITHOUT_UNSUBSCRIBE = """\
{% extends "default:email/issue.mjml" %}
{% block footer %}
<mj-section><mj-column><mj-text>Thanks for reading.</mj-text></mj-column></mj-section>
{% endblock %}
"""


def test_a_desk_footer_that_drops_the_unsubscribe_link_is_found(desk: Path) -> None:
    from newsletter.render import Renderer

    settings = api.load_desk(desk)
    issue, rendered = api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings)
    assert Renderer(settings).unsubscribe_problems(issue, rendered) == ()
    override = desk / "templates" / "email" / "issue.mjml"
    override.parent.mkdir(parents=True)
    override.write_text(FOOTER_WITHOUT_UNSUBSCRIBE, encoding="utf-8")
    issue, rendered = api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings)
    [problem] = Renderer(settings).unsubscribe_problems(issue, rendered)
    assert problem.location.path == override and settings.unsubscribe in problem.message
    assert "unsubscribe_url" in problem.hint


def test_check_says_a_desk_footer_dropped_the_unsubscribe_link(desk: Path) -> None:
    override = desk / "templates" / "email" / "issue.mjml"
    override.parent.mkdir(parents=True)
    override.write_text(FOOTER_WITHOUT_UNSUBSCRIBE, encoding="utf-8")
    report = api.check_issue(desk / "issues" / EXAMPLE_ISSUE.name, api.load_desk(desk),
                             offline=True)
    [missing] = [f for f in report.findings if f.code == "unsubscribe-missing"]
    assert str(missing.severity) == "error" and missing.location is not None
    assert missing.location.path == override
