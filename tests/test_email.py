# ruff: noqa: RUF001  # the curly quotes and full-width punctuation are what is tested
"""The default theme's email as a news desk would send it (issue 15): one test per
defect seen, on the rendered email and text part of the example issues and of small
issues built here."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import html5lib
import pytest
from conftest import CHINESE_ISSUE, EXAMPLE_ISSUE, REPO

from newsletter import api
from newsletter.check.clients import client_support
from newsletter.model import RenderedIssue, Settings
from newsletter.render.email import unitless_shorthands
from newsletter.render.locale import dateline, quotes

NS = "{http://www.w3.org/1999/xhtml}"
THEME = REPO / "templates"
#: What the preheader's filler is made of: nothing a reader sees.
FILLER = "\u034f\u200c\u00a0"
MSO_BLOCK = re.compile(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", re.DOTALL)
STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


@pytest.fixture(scope="module")
def example(settings: Settings) -> RenderedIssue:
    return api.render_issue(EXAMPLE_ISSUE, settings)[1]


@pytest.fixture(scope="module")
def chinese(settings: Settings) -> RenderedIssue:
    return api.render_issue(CHINESE_ISSUE, settings)[1]


def tree(html: str) -> list[tuple[str, dict[str, str], str]]:
    """(tag, attributes, text inside) of every element html5lib sees (not what Outlook's
    conditional comments hold)."""
    found = []
    for element in html5lib.parse(html).iter():
        if isinstance(element.tag, str):
            found.append((element.tag.removeprefix(NS), dict(element.attrib), _text(element)))
    return found


def _text(element: Any) -> str:
    """The text inside an element, without its comments' (Outlook's copies)."""
    parts = [element.text or ""] if isinstance(element.tag, str) else []
    for child in element:
        parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def outlook_images(html: str) -> list[dict[str, str]]:
    """The <img> tags only Outlook for Windows reads (inside `<!--[if mso]>`)."""
    return [attrs for block in MSO_BLOCK.findall(html)
            for tag, attrs, _ in tree(block) if tag == "img"]


def styles(attrs: dict[str, str]) -> dict[str, str]:
    pairs = (part.split(":", 1) for part in attrs.get("style", "").split(";") if ":" in part)
    return {name.strip(): value.strip() for name, value in pairs}


def dark_rules(html: str) -> dict[str, str]:
    """Selector -> declarations of the email's dark-mode rules: those in the
    prefers-color-scheme media query and Outlook.com's [data-ogsc]/[data-ogsb] ones."""
    css = "\n".join(STYLE_BLOCK.findall(html))
    at = css.index("prefers-color-scheme: dark")
    media = css[css.index("{", at) + 1:]
    rules: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", media):
        for selector in selectors.split(","):
            rules[" ".join(selector.split())] = body
    for selectors, body in re.findall(r"([^{}]*\[data-og[^{}]*)\{([^{}]*)\}", css):
        for selector in selectors.split(","):
            rules[" ".join(selector.split())] = body
    return rules


def colour(rules: dict[str, str], selector: str, prop: str = "color") -> str:
    match = re.search(rf"(?:^|;)\s*{prop}:\s*(#[0-9a-f]{{6}})", rules[selector])
    assert match, (selector, rules[selector])
    return match.group(1)


def issue_copy(desk: Path, change: dict[str, str], name: str = EXAMPLE_ISSUE.name) -> Path:
    """The desk's copy of an example issue with some of its text replaced (each once)."""
    path = desk / "issues" / name
    text = path.read_text(encoding="utf-8")
    for old, new in change.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def render(path: Path, settings: Settings | None = None) -> RenderedIssue:
    return api.render_issue(path, settings or api.load_desk(path))[1]


# --- 1. lengths with their units -------------------------------------------------


def test_every_length_in_the_theme_has_its_unit_and_outlook_gets_the_narrow_boxes(
        example: RenderedIssue) -> None:
    for template in sorted((THEME / "email").glob("*.mjml")):
        assert unitless_shorthands(template.read_text(encoding="utf-8")) == [], template.name
    # the boxed sections (sponsor, sign-up) sit 24 px in from each side: Outlook's
    # column table is 552 px, as Node MJML makes it, not the page's 600
    columns = re.findall(r'<td class="([\w -]*)-outlook" style="vertical-align:top;'
                         r'width:(\d+)px;"', example.email_html)
    widths = {cls.split()[-1]: int(width) for cls, width in columns}
    assert widths.get("nl-box") == 552 and widths.get("nl-cta") == 552, columns


# --- 2. pictures in Yahoo and Outlook ---------------------------------------------


def test_pictures_scale_in_yahoo_and_keep_their_size_in_outlook(
        example: RenderedIssue, chinese: RenderedIssue, settings: Settings) -> None:
    for rendered in (example, chinese):
        html = rendered.email_html
        twins = {(a["src"], a["width"]): a for a in outlook_images(html)}
        pictures = [a for tag, a, _ in tree(html) if tag == "img" and "logo" not in a["src"]]
        assert len(pictures) >= 4
        for attrs in pictures:
            css = styles(attrs)
            # Yahoo turns any CSS height into a minimum height, and then the height
            # attribute wins: neither may be there
            assert "height" not in attrs and "height" not in css, attrs
            assert css["width"] == "100%" and css["max-width"] == f"{attrs['width']}px", attrs
            twin = twins[(attrs["src"], attrs["width"])]
            assert twin["height"].isdigit() and twin["alt"] == attrs["alt"]
        # nothing in the built email sets a CSS height on a picture (MJML's reset neither)
        assert not re.search(r"img\s*\{[^}]*(?<![\w-])height\s*:", html)
    # so the example desk's check needs no acceptance for it any more
    heights = [f for f in client_support(example.email_html)
               if "css-height" in f.message or "`height`" in f.message]
    assert heights == [], heights


# --- 3. fonts, label punctuation and emphasis by language --------------------------


def test_english_in_a_chinese_issue_gets_the_latin_fonts(chinese: RenderedIssue) -> None:
    html = chinese.email_html
    english = [a for tag, a, _ in tree(html) if a.get("lang") == "en"]
    assert english
    for attrs in english:
        assert "nl-font-latin" in attrs.get("class", "").split(), attrs
        assert styles(attrs)["font-family"].startswith("-apple-system"), attrs
    # Outlook ignores the inline stack: the head gives the class its face
    assert re.search(r"\.nl-font-latin a[^{]*\{ font-family: Arial", html)


def test_labels_use_the_punctuation_of_their_language(example: RenderedIssue,
                                                      chinese: RenderedIssue) -> None:
    email = chinese.email_html
    assert "▶ 观看：" in email and "▶ 观看:" not in email and "观看 (" not in email
    assert re.search(r'alt="视频（\d\d:\d\d）：', email)
    text = chinese.text
    assert re.search(r"^视频（\d\d:\d\d）：", text, re.MULTILINE)
    assert "\n链接：\n" in text and "链接:" not in text and "退订：" in text
    assert "在浏览器中查看：\n" in text
    assert "\nLinks:\n" in example.text and "Unsubscribe: " in example.text
    assert re.search(r"^VIDEO \(03:12\): Inside", example.text, re.MULTILINE)


def test_emphasis_in_chinese_is_bold_not_slanted(desk: Path) -> None:
    path = issue_copy(desk, {
        '      headline: "Seagrass stores carbon. Proving how much is the hard part"\n':
        '      headline: "海草床的碳汇难以证明"\n      lang: zh-Hans\n',
        "      blurb: |\n        Seagrass meadows cover":
        "      blurb: |\n        海草床*很难*计量。Seagrass meadows cover"})
    html = render(path).email_html
    assert '海草床<em style="font-style:normal;font-weight:700;">很难</em>' in html
    # English emphasis keeps its italics
    assert "<em>urchin barren</em>" in html


# --- 4. issue number and date --------------------------------------------------------


def test_masthead_shows_the_issue_number_and_date(example: RenderedIssue,
                                                  chinese: RenderedIssue,
                                                  settings: Settings) -> None:
    issue = api.render_issue(EXAMPLE_ISSUE, settings)[0]
    line = dateline(issue.number, issue.date, issue.lang)
    assert line.startswith("Issue 48 · ") and "2026" in line
    for output in (example.email_html, example.text):
        assert line in output
    for output in (chinese.email_html, chinese.text):
        assert "第47期 · 2026年11月20日" in output
    masthead = example.email_html.split('class="nl-kicker"')[0]
    assert line in masthead


# --- 5. no repetition; typographic quotes --------------------------------------------


def test_lead_closes_with_read_the_full_story(example: RenderedIssue,
                                              chinese: RenderedIssue,
                                              settings: Settings) -> None:
    issue = api.render_issue(EXAMPLE_ISSUE, settings)[0]
    links = [(a["href"].split("?")[0], text.strip()) for tag, a, text
             in tree(example.email_html) if tag == "a"]
    to_lead = [text for href, text in links if href == issue.lead.url]
    assert "Read the full story →" in to_lead
    # the headline is a link once (the h1), never again as a closing link
    headline = quotes(issue.lead.headline, "en")
    assert [text for text in to_lead if headline in text] == [headline]
    assert "阅读全文 →" in chinese.email_html
    assert re.search(r"^Read the full story \[1\]$", example.text, re.MULTILINE)
    assert re.search(r"^阅读全文 \[1\]$", chinese.text, re.MULTILINE)


def test_video_duration_is_on_the_badge_only(example: RenderedIssue) -> None:
    labels = [text for tag, a, text in tree(example.email_html)
              if tag == "a" and text.startswith("▶")]
    assert labels == ["▶ Watch: Inside the urchin cull: a morning with Port Halden’s "
                      "volunteer divers",
                      "▶ Watch: From spore to forest: how a kelp nursery works, in four minutes"]
    visible = re.sub(r"<[^>]+>", " ", MSO_BLOCK.sub("", example.email_html))
    assert "03:12" not in visible and "04:05" not in visible
    # the text part has no badge: the duration is said there, once
    assert example.text.count("03:12") == 1


def test_headlines_get_typographic_quotes(example: RenderedIssue) -> None:
    assert "Satellites spot ‘dark’ trawlers" in example.email_html
    assert "Satellites spot ‘dark’ trawlers" in example.text
    assert "'dark'" not in example.email_html and "'dark'" not in example.text
    assert "world’s oceans" in example.email_html  # the desk's tagline


# --- 6. compact deep dives ---------------------------------------------------------


def card_pictures(html: str) -> list[int]:
    """Widths of the deep dives' pictures, in order."""
    section = html.split("nl-heading")[2]
    return [int(a["width"]) for tag, a, _ in tree(section) if tag == "img"
            and "/dive-" in a["src"]]


def test_deep_dives_past_the_setting_are_compact_cards(example: RenderedIssue,
                                                       settings: Settings) -> None:
    assert settings.full_width_deep_dives == 2
    assert card_pictures(example.email_html) == [552, 552, 168, 168, 168, 168]
    cards = [a for tag, a, _ in tree(example.email_html)
             if tag == "td" and "nl-card-pic" in a.get("class", "")]
    assert len(cards) == 4 and all(a["width"] == "184" for a in cards)
    assert all(styles(a)["padding-right"] == "16px" for a in cards)
    # phones: a smaller picture beside the text
    assert re.search(r"max-width: 479px\)\s*\{[^}]*\}\s*\.nl-card-pic \{ width: 96px",
                     example.email_html) or ".nl-card-pic { width: 96px !important; }" in \
        example.email_html
    none_full = dataclasses.replace(settings, full_width_deep_dives=0)
    html = api.render_issue(EXAMPLE_ISSUE, none_full)[1].email_html
    assert card_pictures(html) == [168] * 6
    all_full = dataclasses.replace(settings, full_width_deep_dives=10)
    html = api.render_issue(EXAMPLE_ISSUE, all_full)[1].email_html
    assert card_pictures(html) == [552] * 6


# --- 7. dark mode --------------------------------------------------------------------


def test_dark_mode_keeps_the_hierarchy(example: RenderedIssue, settings: Settings) -> None:
    html = example.email_html
    rules = dark_rules(html)
    text, muted = colour(rules, ".nl-text div"), colour(rules, ".nl-text .nl-muted")
    brand = colour(rules, ".nl-text a")
    assert len({text, muted, brand}) == 3
    # muted text stays muted, also where `.nl-text div` and `.nl-text p` would reach it
    assert colour(rules, ".nl-small div") == muted == colour(rules, ".nl-text .nl-muted p")
    # kickers (the topic, the sponsor's label) keep a brand colour
    assert colour(rules, ".nl-kicker div") == brand
    # headlines are text, not links
    assert colour(rules, ".nl-text .nl-head") == text
    # the sign-up box keeps its border, and the button its colour
    assert colour(rules, ".nl-cta table", "border-color") == brand
    assert colour(rules, ".nl-button td", "background-color") == brand
    # Outlook.com: links, headlines, muted text and buttons
    assert colour(rules, "[data-ogsc] .nl-text a") == brand
    assert colour(rules, "[data-ogsc] .nl-text .nl-head") == text
    assert colour(rules, "[data-ogsc] .nl-text .nl-muted") == muted
    assert colour(rules, "[data-ogsb] .nl-button td", "background-color") == brand
    assert "color" in rules["[data-ogsc] .nl-button a"]
    # and the elements carry the classes the rules select
    classes = [a.get("class", "").split() for tag, a, _ in tree(html)]
    heads = [a for tag, a, _ in tree(html) if tag == "a" and "nl-head" in a.get("class", "")]
    assert len(heads) == 1 + 4 + 6 + 1  # lead, catch-up, deep dives, sponsor
    assert ["nl-kicker"] in classes and any("nl-cta" in c for c in classes)
    assert any("nl-button" in c for c in classes)
    assert settings.colors.muted in html and settings.colors.brand in html


# --- 8. images off ---------------------------------------------------------------------


def test_alt_text_is_styled_and_says_where_the_picture_leads(example: RenderedIssue,
                                                             settings: Settings) -> None:
    issue = api.render_issue(EXAMPLE_ISSUE, settings)[0]
    html = example.email_html
    cells = [a for tag, a, _ in tree(html) if tag == "div" and a.get("class") == "nl-pic"]
    assert len(cells) == 1 + 2 + 6  # the lead, two videos, six deep dives
    assert all(styles(a)["background-color"] not in ("", settings.colors.background)
               for a in cells)
    for attrs in (a for tag, a, _ in tree(html) if tag == "img" and "logo" not in a["src"]):
        css = styles(attrs)
        assert css["color"] == settings.colors.muted and css["font-size"].endswith("px"), attrs
    # the alt text is set in the font of the text around it
    root = html5lib.parse(html)
    parents = {child: parent for parent in root.iter() for child in parent}
    for cell in (e for e in root.iter() if e.get("class") == "nl-pic"):
        above = cell
        while "font-family" not in above.get("style", ""):
            above = parents[above]
        assert "sans-serif" in above.get("style"), above.attrib
    alts = {a["src"].rsplit("/", 1)[-1].split("-")[1]: a["alt"] for tag, a, _ in tree(html)
            if tag == "img" and ("/lead-" in a["src"] or "/video-" in a["src"])}
    assert alts["kelp"] == quotes(issue.lead.headline, "en")
    assert alts["urchin"] == ("Video (03:12): Inside the urchin cull: a morning with "
                              "Port Halden’s volunteer divers")
    seagrass = [a["alt"] for tag, a, _ in tree(html) if tag == "img" and "seagrass" in a["src"]]
    assert seagrass == ["Seagrass stores carbon. Proving how much is the hard part"]


# --- 9. headings -------------------------------------------------------------------------


def test_email_has_real_headings_styled_inline(example: RenderedIssue,
                                               settings: Settings) -> None:
    issue = api.render_issue(EXAMPLE_ISSUE, settings)[0]
    found = [(tag, a, text) for tag, a, text in tree(example.email_html)
             if tag in ("h1", "h2")]
    h1 = [(a, text) for tag, a, text in found if tag == "h1"]
    assert [text for _, text in h1] == [quotes(issue.lead.headline, "en")]
    assert [text for tag, _, text in found if tag == "h2"] == [
        "60-Second Catch-up", "Deep dives", "Was this forwarded to you?"]
    for _, attrs, _ in found:
        css = styles(attrs)
        assert css["margin"] == "0px" and css["font-size"].endswith("px"), attrs
        assert css["font-weight"] == "700"


# --- 11. preheader -----------------------------------------------------------------------


def test_preheader_is_followed_by_filler_and_hidden_from_outlook(
        example: RenderedIssue, settings: Settings) -> None:
    issue = api.render_issue(EXAMPLE_ISSUE, settings)[0]
    body = example.email_html.split("<body", 1)[1].split(">", 1)[1]
    hidden = re.search(r'<div class="nl-preheader" style="([^"]*)">([^<]*)</div>', body)
    assert hidden, "no preheader block"
    style, content = hidden.groups()
    assert "mso-hide:all" in style and "display:none" in style
    assert content.startswith(issue.preheader)
    filler = content[len(issue.preheader):].replace("&nbsp;", "\u00a0")
    assert filler and filler == FILLER * (len(filler) // len(FILLER)), repr(filler[:12])
    assert len(filler) // len(FILLER) >= 40
    # it comes before any text a reader sees
    visible = re.sub(r"<[^>]+>", "", body[:hidden.start()]).strip()
    assert visible == "", visible


def test_a_short_preheader_gets_more_filler(desk: Path) -> None:
    path = issue_copy(desk, {'preheader: "Urchin divers, a spore nursery and sceptical '
                             'skippers on the Marrow Coast. Plus: seagrass carbon, ghost nets '
                             'and a harbour that chose to move."': 'preheader: "Kelp is back."'})
    html = render(path).email_html.replace("&nbsp;", "\u00a0")
    assert "Kelp is back." + FILLER * (160 - len("Kelp is back.")) + "<" in html


# --- 12. right to left -------------------------------------------------------------------


def test_a_right_to_left_issue_runs_and_mirrors_right_to_left(desk: Path) -> None:
    path = issue_copy(desk, {
        "status: ready\n": "status: ready\nlang: ar\n",
        # one story in English, which runs left to right inside the Arabic issue
        '    - url: https://news.example.com/2026/11/05/farmers-let-sea-back-in\n':
        '    - url: https://news.example.com/2026/11/05/farmers-let-sea-back-in\n'
        '      lang: en\n',
        '        headline: "Sea star wasting: scientists close in on the disease that '
        'unravelled a coastline"\n':
        '        headline: "Sea star wasting: scientists close in on the disease that '
        'unravelled a coastline"\n        lang: en\n'})
    html = render(path).email_html
    elements = tree(html)
    assert any(a.get("dir") == "rtl" and a.get("lang") == "ar" for _, a, _ in elements)
    assert 'dir="ltr"' not in html.split("<body", 1)[1].split('lang="en"')[0]
    bullets = [a for tag, a, _ in elements if tag == "ul"]
    assert styles(bullets[0])["padding-right"] == "20px"
    intro = [a for tag, a, _ in elements if "border-right" in styles(a)]
    assert intro, "no quote rule on the right"
    # the English related story turns back to left to right, rule on its left
    related = [a for tag, a, _ in elements if a.get("lang") == "en" and tag == "div"
               and "border-left" in styles(a)]
    assert related and related[0]["dir"] == "ltr"
    # cards: the picture on the start side (right), the gap on its left; the English
    # card is a left-to-right table with its picture on the left
    cards = [a for tag, a, _ in elements if tag == "td" and "nl-card-pic" in a.get("class", "")]
    gaps = [next(side for side in ("left", "right") if f"padding-{side}" in styles(a))
            for a in cards]
    assert gaps == ["left", "left", "right", "left"]
    assert len(re.findall(r'<table[^>]*dir="ltr"', html)) == 1
    # the "read on" arrow points the way Arabic runs
    assert "اقرأ القصة كاملة ←" in html


# --- the text part, and the size ------------------------------------------------------


def test_text_part_has_the_dateline_and_no_repeated_headline(example: RenderedIssue,
                                                             settings: Settings) -> None:
    issue = api.render_issue(EXAMPLE_ISSUE, settings)[0]
    text = example.text
    head = text.split("=" * 40)[0]
    assert dateline(issue.number, issue.date, issue.lang) in head
    flat = " ".join(text.split())
    assert flat.count("Tideline: fishing towns are replanting") == 1


def test_seed_shaped_email_stays_under_60_kb(example: RenderedIssue) -> None:
    assert len(example.email_html.encode()) < 60 * 1024
