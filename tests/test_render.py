"""Render stage: properties of the email, text part and web page that fail on their own."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
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


MSO_BLOCK = re.compile(r"<!--\[if mso[^\]]*\]>(.*?)<!\[endif\]-->", re.DOTALL)


def test_every_image_has_alt_width_and_height(example, chinese) -> None:
    # In the email only Outlook's copy of a picture (in an MSO conditional) has a
    # height: Yahoo Mail would stretch the others to it (issue 15, point 2).
    for name, html in all_rendered(example, chinese):
        images = [attrs for tag, attrs in elements(html) if tag == "img"]
        assert images, name
        for attrs in images:
            assert attrs.get("alt"), (name, attrs)
            assert attrs.get("width", "").isdigit(), (name, attrs)
            assert name.startswith(("example.email", "chinese.email")) or \
                attrs.get("height", "").isdigit(), (name, attrs)
        if ".email" in name:
            outlook = [attrs for block in MSO_BLOCK.findall(html)
                       for tag, attrs in elements(block) if tag == "img"]
            assert outlook, name
            for attrs in outlook:
                assert attrs.get("alt") and attrs.get("width", "").isdigit() and \
                    attrs.get("height", "").isdigit(), (name, attrs)


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
    from newsletter.render.locale import quotes

    for issue, rendered in (example, chinese):
        flat = re.sub(r"\s+", " ", rendered.text)
        flat_cjk = re.sub(r"\s+", "", rendered.text)
        for picked in picked_headlines(issue.lead, issue):
            headline = quotes(picked, issue.lang)  # typographic quotes, as the email's
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
    assert '<html lang="en" dir="ltr">' in html


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
    assert 'lang="en">© 2026' in rendered.web_html
    assert 'lang="en">© 2026' in rendered.email_html


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
    card = [attrs for tag, attrs in elements(email)
            if attrs.get("lang") == "zh-Hans" and "nl-font-zh-hans" in attrs.get("class", "")
            and attrs.get("style", "").startswith("font-family:PingFang SC")]
    assert card, "the Chinese card has no font stack of its own"
    # Outlook ignores the inline stack: the head gives the class its face
    assert re.search(r"\.nl-font-zh-hans a[^{]*\{ font-family: Microsoft YaHei", email)
    assert '[lang="zh-Hans"] { font-family: PingFang SC' in rendered.web_html
    # English items keep the issue's stack: no class, no inline font
    assert email.count("nl-font-") == email.count("nl-font-zh-hans") and \
        "nl-font-latin" not in email


def test_an_english_item_in_a_chinese_issue_gets_the_latin_stack(chinese) -> None:
    # in the Chinese stack, English gets the CJK face's wide Latin letters ("You ' re")
    _, rendered = chinese
    assert "nl-font-latin" in rendered.email_html
    assert '[lang="en"]' in rendered.web_html


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


# --- render infrastructure of issue 15: inlined CSS, datelines, retina copies ---------

STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style>", re.DOTALL | re.IGNORECASE)
THEME_CSS = """<mjml><mj-head><mj-style>
a { color: #0b4f6c; }
.nl-text p { margin: 0px 0px 14px; }
a:hover, .nl-text li { text-decoration: underline; }
:root { color-scheme: light dark; }
[data-ogsc] .nl-text p { color: #ffffff !important; }
@media (max-width: 479px) { .nl-text p { font-size: 21px !important; } }
</mj-style></mj-head><mj-body><mj-section><mj-column>
<mj-text css-class="nl-text"><p>Read <a href="https://example.org/">this</a></p>
<ul><li>one</li></ul></mj-text>
<mj-image src="https://example.org/a.jpg" width="300px" height="200px" alt="A" />
</mj-column></mj-section></mj-body></mjml>"""


def test_the_themes_plain_rules_are_inlined_and_the_rest_stay_in_style() -> None:
    from newsletter.render.email import compile_mjml

    html = compile_mjml(THEME_CSS, template="test")
    without_style = STYLE_BLOCK.sub("", html)
    tags = elements(without_style)
    [link] = [attrs for tag, attrs in tags if tag == "a"]
    assert "color: #0b4f6c" in link["style"]
    [paragraph] = [attrs for tag, attrs in tags if tag == "p"]
    assert "margin: 0px 0px 14px" in paragraph["style"]
    [item] = [attrs for tag, attrs in tags if tag == "li"]
    assert "underline" in item["style"]  # the plain selector of a list with a:hover
    styles = " ".join(attrs.get("style", "") for _, attrs in tags)
    assert "21px" not in styles and "color-scheme" not in styles and "#ffffff" not in styles
    kept = " ".join(STYLE_BLOCK.findall(html))
    assert "@media (max-width: 479px)" in kept and "[data-ogsc]" in kept and ":root" in kept


def test_mjmls_picture_reset_has_no_height_and_is_not_inlined() -> None:
    # Yahoo Mail reads height:auto as a minimum height: with a height attribute it
    # stretches the picture on phones
    from newsletter.render.email import compile_mjml

    html = compile_mjml(THEME_CSS, template="test")
    reset = re.search(r"\bimg \{[^}]*\}", html)
    assert reset is not None and "border: 0" in reset.group()
    assert "height: auto" not in reset.group() and "height:auto" not in reset.group()
    [picture] = [attrs for tag, attrs in elements(html) if tag == "img"]
    assert "line-height" not in picture["style"] and "interpolation" not in picture["style"]


def test_prose_keeps_its_link_colour_where_style_is_dropped(example, chinese) -> None:
    # Gmail for accounts that are not Google's drops <style>
    for _, rendered in (example, chinese):
        bare = STYLE_BLOCK.sub("", rendered.email_html)
        links = [attrs for tag, attrs in elements(bare) if tag == "a"]
        assert links and all("color" in attrs.get("style", "") for attrs in links)
        assert "@media" not in " ".join(attrs.get("style", "") for _, attrs in elements(bare))


def test_the_seed_shaped_issue_stays_under_60_kb(example) -> None:
    _, rendered = example
    assert rendered.email_bytes < 60 * 1024, rendered.email_bytes


@pytest.mark.parametrize("which", ["example", "chinese"])
def test_the_dateline_is_in_the_email_the_text_part_and_the_web_page(which: str,
                                                                      request) -> None:
    from newsletter.render.locale import dateline

    issue, rendered = request.getfixturevalue(which)
    line = dateline(issue.number, issue.date, issue.lang)
    assert str(issue.date.year) in line and str(issue.number) in line
    for part in (rendered.email_html, rendered.text, rendered.web_html):
        assert line in part.replace("&middot;", "·").replace("&#183;", "·")


def test_a_picture_is_copied_for_the_site_at_twice_its_shown_width(tmp_path: Path) -> None:
    import io

    from PIL import Image as PILImage

    from newsletter.model import Asset
    from newsletter.render.assets import RetinaCopies

    source = tmp_path / "big.jpg"
    PILImage.new("RGB", (2400, 1350), "#336699").save(source)
    small = tmp_path / "small.png"
    PILImage.new("RGB", (600, 400), "#336699").save(small)
    page = "https://example.org/issues/1/"
    files = [("images/big-0123456789.jpg", source), ("images/small-9876543210.png", small)]
    big = Asset(url=f"{page}images/big-0123456789.jpg", width=2400, height=1350)
    copies = RetinaCopies(files, page, default_width=552)
    assert copies.src(big) == f"{page}images/big-0123456789-1104w.jpg"
    assert copies.src(big, 120) == f"{page}images/big-0123456789-240w.jpg"
    on_the_page = Asset(url="images/big-0123456789.jpg", width=2400, height=1350)
    assert copies.src(on_the_page) == "images/big-0123456789-1104w.jpg"  # relative stays so
    narrow = Asset(url=f"{page}images/small-9876543210.png", width=600, height=400)
    assert copies.src(narrow) == narrow.url  # never enlarged
    remote = Asset(url="https://cdn.example.org/x.jpg", width=2400, height=1350)
    assert copies.src(remote) == remote.url
    made = dict(copies.files())
    assert sorted(made) == ["images/big-0123456789-1104w.jpg", "images/big-0123456789-240w.jpg"]
    data = made["images/big-0123456789-1104w.jpg"]
    with PILImage.open(io.BytesIO(data if isinstance(data, bytes) else data.read_bytes())) as copy:
        assert copy.size == (1104, 621) and copy.format == "JPEG"


def test_retina_copies_are_published_with_the_issue(desk: Path) -> None:
    from newsletter.render import Renderer

    override = desk / "templates" / "web" / "issue.html"
    override.parent.mkdir(parents=True)
    override.write_text('{{ picture_src(asset_of(issue.lead.image)) }}\n', encoding="utf-8")
    settings = api.load_desk(desk)
    _, rendered = api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings,
                                   renderer=Renderer(settings))
    url = rendered.web_html.strip()
    assert url.startswith("images/") and url.endswith("-1104w.jpg")  # from a 1200 px lead
    assert url in dict(rendered.assets)


@pytest.mark.parametrize("alt", ["كيف تُربّى الشعاب", "Café crème", "a\u00a0b", "❤️ ok",
                                 "👩\u200d🔬 lab", "Jalape\u0303no",
                                 "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"])
def test_attribute_values_keep_combining_marks_and_format_characters(alt: str) -> None:
    # mjml-python writes them as Rust escapes ("\\u{64f}") unless they are references
    from newsletter.render.email import compile_mjml

    source = ('<mjml><mj-body><mj-section><mj-column><mj-text>'
              f'<img alt="{alt}" src="https://example.org/a.jpg" width="10" />{alt}'
              f'<a href="https://example.org/" title="{alt}">go</a></mj-text>'
              '</mj-column></mj-section></mj-body></mjml>')
    html = compile_mjml(source, template="test")
    assert "\\u{" not in html
    tags = elements(html)
    assert [attrs["alt"] for tag, attrs in tags if tag == "img"] == [alt]
    assert alt in [attrs.get("title") for tag, attrs in tags if tag == "a"]


# --- the work a render does (issue 16: counted, never timed) -----------------------------


@pytest.mark.parametrize("outputs", [{"web"}, {"email"}, {"text"}, {"email", "text"}])
def test_each_output_renders_alone_as_it_does_in_the_whole(
        outputs: set[str], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsletter.render as render
    from newsletter.desk.editorial import load_issue
    from newsletter.render import Renderer
    from newsletter.render.assets import resolve_assets

    issue = load_issue(EXAMPLE_ISSUE, settings)
    assets = resolve_assets(issue, settings.root, render.issue_url(settings, issue),
                            settings.logo)
    whole = Renderer(settings).render(issue, assets)
    compiled = []
    real = render.compile_mjml
    monkeypatch.setattr(render, "compile_mjml",
                        lambda *a, **k: compiled.append(1) or real(*a, **k))
    alone = Renderer(settings).render(issue, assets, outputs=outputs)
    for output, field in (("email", "email_html"), ("text", "text"), ("web", "web_html")):
        assert getattr(alone, field) == (getattr(whole, field) if output in outputs else "")
    assert len(compiled) == ("email" in outputs)  # the email is not compiled for nothing
    assert set(alone.assets) <= set(whole.assets)
    with pytest.raises(ValueError, match="no such output"):
        Renderer(settings).render(issue, assets, outputs="web")  # a string is no list


def test_a_retina_copy_is_looked_up_in_the_cache_once_per_process(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.render import Renderer, assets

    settings = api.load_desk(desk)
    looked_up: list[str] = []
    real = assets.cache_dir
    monkeypatch.setattr(assets, "cache_dir", lambda name: looked_up.append(name) or real(name))
    monkeypatch.setattr(assets, "_MADE", {})
    renderer = Renderer(settings)
    api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings, renderer=renderer)
    first = looked_up.count("retina")
    assert first  # the example issue has pictures wider than twice their column
    for _ in range(3):  # a desk shows the same pictures issue after issue
        api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings, renderer=renderer)
    assert looked_up.count("retina") == first


def test_a_retina_copy_is_published_from_the_cache_not_written_per_issue(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter._cache import cache_dir
    from newsletter.render import Renderer, assets

    monkeypatch.setattr(assets, "_MADE", {})
    settings = api.load_desk(desk)
    renderer = Renderer(settings)
    for _ in range(2):  # made, then found
        _, rendered = api.render_issue(desk / "issues" / EXAMPLE_ISSUE.name, settings,
                                       renderer=renderer)
        copies = [data for name, data in rendered.assets if re.search(r"-\d+w\.", name)]
        assert copies
        folder = cache_dir("retina")
        assert folder is not None
        # a file of the cache: the site links it (one inode for every issue that shows it)
        assert all(isinstance(data, Path) and data.parent == folder for data in copies)


def test_a_process_whose_retina_copies_left_the_cache_makes_them_again(
        desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A preview runs for hours, and the editor may empty ~/.cache meanwhile: its
    next build linked the vanished files and failed, asking to free disk space."""
    from newsletter._cache import cache_dir
    from newsletter.render import assets

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(assets, "_MADE", {})
    settings = api.load_desk(desk)
    api.build_site(settings)
    folder = cache_dir("retina")
    assert folder is not None
    emptied = [copy.unlink() or copy.name for copy in folder.iterdir()]
    assert emptied  # not vacuous: the example issues have retina copies
    shutil.rmtree(desk / "site")
    api.build_site(settings)
    copies = sorted((desk / "site").rglob("*-*w.jpg"))
    assert copies and all(copy.stat().st_size > 0 for copy in copies)
    assert sorted(copy.name for copy in folder.iterdir()) == sorted(emptied)  # made again


def test_the_themes_css_is_parsed_for_inlining_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import css_inline

    from newsletter.render import email

    made: list[str] = []
    real = css_inline.CSSInliner
    monkeypatch.setattr(css_inline, "CSSInliner",
                        lambda **k: made.append(k["extra_css"]) or real(**k))
    email._inliner.cache_clear()
    source = ('<mjml><mj-head><mj-style>p {{ color: #{} }}</mj-style></mj-head><mj-body>'
              '<mj-section><mj-column><mj-text><p>{}</p></mj-text></mj-column></mj-section>'
              '</mj-body></mjml>')
    for issue in range(5):
        assert 'style="color: #123456' in email.compile_mjml(
            source.format("123456", f"issue {issue}"), template="test")
    email.compile_mjml(source.format("654321", "another theme"), template="test")
    assert len(made) == 2


def test_attribute_references_are_those_of_every_character_checked() -> None:
    """The regex-driven pass equals the plain one: every character of every attribute
    value at U+007F and up, made a reference when MRML would mangle it."""
    import random
    import unicodedata

    from newsletter.render import email

    def plain(source: str) -> str:
        def value(found: re.Match[str]) -> str:
            return "".join(f"&#x{ord(c):x};" if c >= "\x7f" and unicodedata.category(c)
                           in email._MANGLED_CATEGORIES else c for c in found.group())
        return re.sub(r"<[A-Za-z][^<>]*>",
                      lambda tag: email._ATTRIBUTE_VALUE.sub(value, tag.group()), source)

    pieces = ['<mj-text ', 'alt="', "'", '"', "=", ">", "<", "a", " ", "\x7f", "\u064f",
              "\u200d", "\u00a0", "é", "你", "\U0001f600", "<img title='"]
    rng = random.Random(16)
    for _ in range(3000):
        source = "é" + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        assert email._attributes_as_references(source) == plain(source), source


def test_importing_render_loads_no_picture_locale_or_markdown_library() -> None:
    # a one-issue build, or a command that only names render, starts without them
    code = ("import sys, newsletter.render; print(sorted(m for m in ('PIL', 'babel', "
            "'markdown_it', 'css_inline', 'mjml') if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60).stdout.strip()
    assert found == "[]"


# --- the templates a template names, kept between processes -----------------------------


def test_a_templates_references_are_kept_by_its_source(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.render.env import make_environment, referenced_templates

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = make_environment()
    parsed: list[str] = []
    real_parse = env.parse
    monkeypatch.setattr(env, "parse", lambda source, *args, **kwargs: (
        parsed.append(source), real_parse(source, *args, **kwargs))[1])
    source = ('{% import "email/_macros.mjml" as ui %}{% include "text/issue.txt" %}'
              "{% include chosen %}")  # a name in a variable is not one it can know
    named = ["email/_macros.mjml", "text/issue.txt"]
    assert referenced_templates(env, source) == named
    assert referenced_templates(env, source) == named  # kept: not parsed again
    assert len(parsed) == 1
    edited = source.replace("text/issue.txt", "web/issue.html")
    assert referenced_templates(env, edited) == ["email/_macros.mjml", "web/issue.html"]
    assert len(parsed) == 2
    for kept in (tmp_path / "cache" / "newsletter" / "jinja").glob("references-*.json"):
        kept.write_text("{half a file", encoding="utf-8")
    assert referenced_templates(env, source) == named  # a damaged entry is worked out again
    assert len(parsed) == 3
    assert referenced_templates(env, "{% if %}") == []  # Jinja reports it where it is used
    assert referenced_templates(env, "{% if %}") == []
    assert len(parsed) == 5  # an error is never kept


def test_a_renderer_in_a_new_process_does_not_parse_the_email_templates_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script = ("import sys, jinja2.environment as e\n"
              "from pathlib import Path\n"
              "from newsletter import api\n"
              "from newsletter.render import Renderer\n"
              "calls = []\n"
              "real = e.Environment.parse\n"
              "def counted(self, *a, **k):\n"
              "    calls.append(1)\n"
              "    return real(self, *a, **k)\n"
              "e.Environment.parse = counted\n"
              "renderer = Renderer(api.load_desk(Path(sys.argv[1])))\n"
              "renderer.warm_up()\n"
              "print(len(calls), renderer._templates_of('email/issue.mjml'))\n")
    runs = [subprocess.run([sys.executable, "-c", script, str(REPO)], capture_output=True,
                           text=True, check=True, timeout=120).stdout.split(" ", 1)
            for _ in range(2)]
    assert runs[0][1] == runs[1][1] and "email/_macros.mjml" in runs[0][1]
    assert (int(runs[0][0]), int(runs[1][0])) == (2, 0)
