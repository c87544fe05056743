"""Editorial stage: resolving stories, defaults, and the checks added after review."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from newsletter import api
from newsletter.desk.editorial import load_issue
from newsletter.desk.lookup import StaticLookup
from newsletter.errors import IssueFileError, SettingsError
from newsletter.model import Image, Story
from newsletter.render.locale import locale_for

MINIMAL = """\
number: 3
date: 2026-12-04
subject: A small issue
lead:
  url: https://example.org/lead
  headline: The lead
"""


def write(desk: Path, text: str, name: str = "2026-12-04.yaml") -> Path:
    path = desk / "issues" / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, lookup: StaticLookup | None = None) -> list[str]:
    with pytest.raises(IssueFileError) as caught:
        load_issue(path, api.load_desk(path.parent.parent), *([lookup] if lookup else []))
    return [f"{p.field}: {p.message}" for p in caught.value.problems]


def test_a_referenced_story_fills_every_field_and_any_can_be_overridden(desk: Path) -> None:
    story = Story(id="9f3c1a2b", url="https://news.example.org/s", title="From the feed",
                  summary="<p>Summary with <b>markup</b> and *stars*</p>", language="en",
                  image=Image(src="https://cdn.example.org/p.jpg", alt="p", width=600,
                              height=400))
    text = MINIMAL + ("deep_dives:\n  items:\n    - story: 9f3c\n"
                      "    - story: https://news.example.org/s\n      headline: Our own words\n")
    issue = load_issue(write(desk, text), api.load_desk(desk), StaticLookup([story]))
    first, second = issue.deep_dives.items
    assert (first.url, first.headline) == (story.url, story.title)
    assert first.image is not None and first.image.location is not None  # named by story:
    assert first.image == replace(story.image, location=first.image.location,
                                  field="deep_dives.items[0].story")
    assert first.image.location.line == first.location.line
    assert first.blurb == r"Summary with markup and \*stars\*"
    assert second.headline == "Our own words" and second.url == story.url


def test_a_dangling_reference_suggests_a_near_id(desk: Path) -> None:
    lookup = StaticLookup([Story(id="9f3c1a2b", url="https://e.org/x", title="t")])
    text = MINIMAL.replace("  url: https://example.org/lead\n", "  story: 9f3c1a2c\n")
    with pytest.raises(IssueFileError) as caught:
        load_issue(write(desk, text), api.load_desk(desk), lookup)
    [problem] = caught.value.problems
    assert problem.field == "lead.story" and 'no candidate "9f3c1a2c"' in problem.message
    assert problem.hint == 'did you mean "9f3c1a2b"?' and problem.location.line == 5


def test_every_section_is_checked_even_after_a_fatal_problem(desk: Path) -> None:
    text = MINIMAL.replace("number: 3", "number: 0") + (
        "slug: Bad_Slug\ndeep_dives:\n  items:\n    - url: nope\n      headline: x\n")
    found = problems(write(desk, text))
    assert any(f.startswith("number:") for f in found)
    assert any(f.startswith("slug:") for f in found)
    assert any(f.startswith("deep_dives.items[0].url:") for f in found)


def test_text_fields_keep_what_the_editor_typed(desk: Path) -> None:
    text = MINIMAL.replace("headline: The lead", "headline: 012") + "slug: 2026-12-04\n"
    issue = load_issue(write(desk, text), api.load_desk(desk))
    assert issue.lead.headline == "012" and issue.slug == "2026-12-04"


def test_a_tag_on_a_mapping_is_refused(desk: Path) -> None:
    found = problems(write(desk, MINIMAL.replace("lead:\n", "lead: !custom\n")))
    assert any("the tag !custom is not allowed" in f for f in found)


def test_a_sponsor_in_a_missing_section_is_reported(desk: Path) -> None:
    text = MINIMAL + ("sponsors:\n  - slot: after_catch_up\n    advertiser: A\n"
                      "    headline: H\n    url: https://example.org/ad\n")
    assert problems(write(desk, text)) == ["sponsors[0].slot: this issue has no catch_up section"]


def test_a_wrong_value_is_not_also_reported_missing(desk: Path) -> None:
    text = MINIMAL.replace("headline: The lead", "headline: [a, b]")
    assert problems(write(desk, text)) == ["lead.headline: expected text, got a list"]


def test_the_default_sign_up_box_speaks_the_issue_language(desk: Path) -> None:
    path = write(desk, MINIMAL + "lang: zh-Hans\n")
    _, rendered = api.render_issue(path, api.load_desk(desk))
    assert "订阅Tideline" in rendered.web_html and "第3期" in rendered.web_html
    assert "Sign up for" not in rendered.email_html


def test_markdown_pictures_are_dropped_links_are_tagged(desk: Path) -> None:
    intro = "intro: '![chart](https://cdn.example.org/c.png) [a](https://example.org/a)'\n"
    _, rendered = api.render_issue(write(desk, MINIMAL + intro), api.load_desk(desk))
    for html in (rendered.email_html, rendered.web_html):
        assert "cdn.example.org" not in html  # no size, no credit, a third-party request
    assert "https://example.org/a?utm_source=" in rendered.email_html


@pytest.mark.parametrize(("tag", "label"), [
    ("en", "Deep dives"), ("ja", "深掘り"), ("ja-JP", "深掘り"), ("zh-Hans", "深度阅读"),
    ("zh-TW", "深度閱讀"), ("zh-Hant-HK", "深度閱讀"), ("zh", "深度阅读"), ("jav", "Deep dives"),
    ("zha", "Deep dives"),
])
def test_labels_follow_the_primary_language(tag: str, label: str) -> None:
    assert locale_for(tag).deep_dives == label


@pytest.mark.parametrize(("setting", "message"), [
    ('unsubscribe: "javascript:alert(1)"', '"javascript:" links are not allowed'),
    ("colors:\n  brand: #c0ffee\n", "is empty"),
    ("logo:\n  src: /etc/passwd\n  alt: x\n", "is neither a file in the desk nor a web address"),
])
def test_settings_refuse_unsafe_or_silently_wrong_values(desk: Path, setting: str,
                                                         message: str) -> None:
    settings_file = desk / "newsletter.yaml"
    text = settings_file.read_text(encoding="utf-8")
    for key in ("unsubscribe:", "colors:", "logo:"):
        if setting.startswith(key):
            start = text.index(f"\n{key}") + 1
            end = text.index("\n\n", start)
            text = text[:start] + setting.rstrip("\n") + text[end:]
    settings_file.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        api.load_desk(desk)
    assert any(message in p.message for p in caught.value.problems), caught.value


def test_many_issues_show_a_progress_bar_and_a_summary(desk: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    for day in range(1, 7):  # in the past: an issue dated later is held off the site
        write(desk, MINIMAL.replace("2026-12-04", f"2026-11-{day:02d}") + "status: ready\n",
              f"2026-11-{day:02d}.yaml")
    result = subprocess.run([sys.executable, "-m", "newsletter", "build", "--out",
                             str(tmp_path / "o")], cwd=desk, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    issues = 6 + len(list((desk / "issues").glob("2026-11-[12]*.yaml")))  # and the example's
    assert f"wrote o/: {issues} issues ({issues} rendered, 0 unchanged)" in result.stdout.replace(
        str(tmp_path) + "/", "")
    assert len(list((tmp_path / "o" / "issues").iterdir())) == issues


def test_drafts_are_built_only_when_asked(desk: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    write(desk, MINIMAL)  # no status: a draft
    def build(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsletter", "build", *extra], cwd=desk,
                              capture_output=True, text=True, timeout=120)

    plain = build("--out", str(tmp_path / "plain"))
    assert plain.returncode == 0 and "skipped 1 draft; build them with --drafts" in plain.stdout
    assert not (tmp_path / "plain" / "issues" / "2026-12-04").exists()
    assert build("--drafts", "--out", str(tmp_path / "all")).returncode == 0
    assert (tmp_path / "all" / "issues" / "2026-12-04" / "email.html").is_file()
    named = build("issues/2026-12-04.yaml", "--out", str(tmp_path / "named"))
    assert named.returncode == 0 and (tmp_path / "named" / "issues" / "2026-12-04").is_dir()


# --- every item knows its line ---------------------------------------------------------

LOCATED = MINIMAL + """\
  body:
    - text: A paragraph.
    - related:
        url: https://example.org/related
        headline: Related
    - video:
        url: https://example.org/video
        title: A video
catch_up:
  items:
    - story: 9f3c
    - text: A free paragraph.
deep_dives:
  items:
    - url: https://example.org/dive
      headline: A dive
sponsors:
  - advertiser: A
    headline: H
    url: https://example.org/ad
"""


def test_every_item_carries_the_line_it_is_written_on(desk: Path) -> None:
    story = Story(id="9f3c1a2b", url="https://news.example.org/s", title="From the feed")
    path = write(desk, LOCATED)
    issue = load_issue(path, api.load_desk(desk), StaticLookup([story]))
    lines = LOCATED.splitlines()

    def written(item: object) -> str:
        location = item.location  # type: ignore[attr-defined]
        assert location is not None and location.path == path, item
        return lines[location.line - 1].strip()

    assert written(issue.lead) == "url: https://example.org/lead"  # its first key
    assert [written(b) for b in issue.lead.body] == ["- text: A paragraph.", "- related:",
                                                      "- video:"]
    assert [written(i) for i in issue.catch_up.items] == ["- story: 9f3c",
                                                          "- text: A free paragraph."]
    assert written(issue.deep_dives.items[0]) == "- url: https://example.org/dive"
    assert written(issue.sponsors[0]) == "- advertiser: A"
    assert issue.catch_up.items[0].story == story.id


# --- blurbs from feeds -----------------------------------------------------------------

SENTENCE = "Dr. Reyes counted the kelp along the reef at dawn, one frond at a time. "
ABSTRACT = "<p>" + SENTENCE * 25 + "</p>"  # about 1,800 characters
ZH_SENTENCE = "今年台风季的预警最后一公里仍然是沿海村庄最难解决的问题。"


def feed_blurb(desk: Path, summary: str, *, language: str | None = None,
               written: str = "") -> tuple[str, bool]:
    story = Story(id="ab12cd34", url="https://news.example.org/a", title="A story",
                  summary=summary, language=language)
    blurb = f"      blurb: {written}\n" if written else ""
    text = MINIMAL + f"deep_dives:\n  items:\n    - story: ab12\n{blurb}"
    card = load_issue(write(desk, text), api.load_desk(desk),
                      StaticLookup([story])).deep_dives.items[0]
    return card.blurb, card.blurb_trimmed


def test_a_long_feed_summary_is_cut_at_a_sentence_within_the_desk_limit(desk: Path) -> None:
    blurb, trimmed = feed_blurb(desk, ABSTRACT)
    assert trimmed and blurb.startswith("Dr. Reyes counted")
    assert len(blurb.split()) <= 60 and blurb.endswith("one frond at a time.")
    settings_file = desk / "newsletter.yaml"
    settings_file.write_text(settings_file.read_text(encoding="utf-8") + "blurb_words: 20\n",
                             encoding="utf-8")
    blurb, _ = feed_blurb(desk, ABSTRACT)
    assert blurb == SENTENCE.strip()  # one sentence (15 words) fits in 20, two do not


def test_a_first_sentence_over_the_limit_is_cut_between_words(desk: Path) -> None:
    blurb, trimmed = feed_blurb(desk, "<p>" + "word " * 200 + "end.</p>")
    assert trimmed and blurb == "word " * 59 + "word…"


def test_bare_links_are_dropped_from_a_feed_blurb(desk: Path) -> None:
    assert feed_blurb(desk, "https://example.org/2026/11/some-story") == ("", True)
    blurb, trimmed = feed_blurb(desk, "<p>Read it at https://example.org/x today. "
                                      "Or www.example.org/y.</p>")
    assert trimmed and "example.org" not in blurb and blurb.startswith("Read it at today.")


@pytest.mark.parametrize("language", ["zh-Hans", None])
def test_chinese_and_japanese_summaries_are_cut_by_characters(desk: Path,
                                                             language: str | None) -> None:
    blurb, trimmed = feed_blurb(desk, ZH_SENTENCE * 10, language=language)
    assert trimmed and blurb == ZH_SENTENCE * 4  # 28 characters each, 120 at most
    japanese = "高さ15メートルの津波避難タワーが完成した。" * 12
    blurb, trimmed = feed_blurb(desk, japanese, language="ja")
    assert trimmed and len(blurb) <= 120 and blurb.endswith("完成した。")


def test_a_short_summary_and_a_written_blurb_are_kept_whole(desk: Path) -> None:
    assert feed_blurb(desk, "<p>Kelp is back.</p>") == ("Kelp is back.", False)
    long = "Our own words. " * 40
    assert feed_blurb(desk, ABSTRACT, written=long) == (long.strip(), False)


def test_a_feed_blurb_stays_plain_text_in_markdown(desk: Path) -> None:
    summary = "<p>1. Not a list, *not* emphasis, &amp;copy; and [no](link) &lt;b&gt;</p>"
    blurb, _ = feed_blurb(desk, summary)
    from newsletter.render.markdown import markdown_to_html

    html = str(markdown_to_html(blurb))
    assert "<ol" not in html and "<em>" not in html and "©" not in html and "<b>" not in html
    assert "1. Not a list, *not* emphasis, &amp;copy; and [no](link) &lt;b&gt;" in html


def test_a_story_reference_too_short_states_the_rule(desk: Path) -> None:
    path = desk / "issues" / "2026-11-27.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("lead:\n", "lead:\n  story: ab1\n", 1), encoding="utf-8")
    with pytest.raises(IssueFileError) as caught:
        load_issue(path, api.load_desk(desk), StaticLookup())
    [problem] = [p for p in caught.value.problems if p.field == "lead.story"]
    assert problem.message == '"ab1" is too short to name a candidate'
    assert "at least 4 characters" in problem.hint
