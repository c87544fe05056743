"""Editorial stage: resolving stories, defaults, and the checks added after review."""

from __future__ import annotations

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
    assert (first.url, first.headline, first.image) == (story.url, story.title, story.image)
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

    for day in range(1, 7):
        write(desk, MINIMAL.replace("2026-12-04", f"2026-12-{day:02d}") + "status: ready\n",
              f"2026-12-{day:02d}.yaml")
    result = subprocess.run([sys.executable, "-m", "newsletter", "build", "--out",
                             str(tmp_path / "o")], cwd=desk, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "wrote o/: 8 issues (8 rendered, 0 unchanged)" in result.stdout.replace(
        str(tmp_path) + "/", "")
    assert len(list((tmp_path / "o" / "issues").iterdir())) == 8


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
