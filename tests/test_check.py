"""`newsletter check`: each finding kind from an issue that has the problem,
and not from one that does not; the example desk is clean."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter import api
from newsletter.check import Severity
from newsletter.check.content import CLIP_BYTES, content_findings
from newsletter.check.markup import markup_findings
from newsletter.desk.lockfile import lock_path, write_lock
from newsletter.model import Asset, Finding, Story

SMALL = """\
number: 49
date: 2026-12-04
status: ready
subject: Short and clear
preheader: One line that makes people open it
lead:
  url: https://example.org/lead
  headline: The lead story
  image:
    src: examples/images/lead-mangroves.jpg
    alt: Mangroves at low tide
  body:
    - text: A paragraph with a [useful link](https://example.org/useful).
"""


def write(desk: Path, text: str, name: str = "2026-12-04.yaml") -> Path:
    path = desk / "issues" / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(desk: Path, path: Path) -> dict[str, list[str]]:
    report = api.check_issue(path, api.load_desk(desk), offline=True)
    found: dict[str, list[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.code, []).append(str(finding.location or ""))
    return found


def test_the_example_issues_are_clean(desk: Path) -> None:
    for name in ("2026-11-27.yaml", "2026-11-20.yaml", "2026-11-13.yaml"):
        report = api.check_issue(desk / "issues" / name, api.load_desk(desk), offline=True)
        loud = [str(f) for f in report.findings if f.severity >= Severity.WARNING]
        assert loud == [], name


def test_a_small_clean_issue_has_no_content_findings(desk: Path) -> None:
    found = codes(desk, write(desk, SMALL))
    assert not {"subject-long", "preheader-missing", "placeholder", "image-alt",
                "image-alt-filename", "image-wide", "link-reused"} & found.keys()


def test_a_long_subject_and_no_preheader(desk: Path) -> None:
    text = SMALL.replace("subject: Short and clear", "subject: " + "A very long subject " * 4)
    text = text.replace("preheader: One line that makes people open it\n", "")
    found = codes(desk, write(desk, text))
    assert found["subject-long"][0].endswith("2026-12-04.yaml:4:1")
    assert "preheader-missing" in found


@pytest.mark.parametrize("word", ["TK", "TODO", "Lorem ipsum", "{{ name }}"])
def test_placeholders_left_in_are_errors_with_their_line(desk: Path, word: str) -> None:
    text = SMALL.replace("A paragraph with", f"A paragraph {word} with")
    found = codes(desk, write(desk, text))
    assert found["placeholder"] == [f"{desk / 'issues' / '2026-12-04.yaml'}:13:"
                                    f"{len('    - text: A paragraph ') + 1}"]


def test_a_comment_is_not_a_placeholder(desk: Path) -> None:
    found = codes(desk, write(desk, "# TODO: ask the photo desk\n" + SMALL))
    assert "placeholder" not in found


def test_pictures_without_alt_or_named_like_files(desk: Path) -> None:
    found = codes(desk, write(desk, SMALL.replace("alt: Mangroves at low tide",
                                                  "alt: IMG_2041.jpg")))
    # at the picture's src: line, where every finding about the picture is
    assert "image-alt-filename" in found and found["image-alt-filename"][0].endswith(":10:10")


def test_pictures_wider_than_1200(desk: Path) -> None:
    settings = api.load_desk(desk)
    issue, rendered = api.render_issue(write(desk, SMALL), settings)
    wide = {"examples/images/lead-mangroves.jpg": Asset(url="x", width=2400, height=1350)}
    found = content_findings(issue, source_text=SMALL, email_html=rendered.email_html,
                             pictures=wide, earlier=[], window_days=14)
    assert [f.code for f in found] == ["image-wide"]
    narrow = {"examples/images/lead-mangroves.jpg": Asset(url="x", width=1200, height=675)}
    assert content_findings(issue, source_text=SMALL, email_html=rendered.email_html,
                            pictures=narrow, earlier=[], window_days=14) == []


def test_email_size_against_gmail_clipping(desk: Path) -> None:
    settings = api.load_desk(desk)
    issue, _ = api.render_issue(write(desk, SMALL), settings)
    assets = {"examples/images/lead-mangroves.jpg": Asset(url="x", width=1200, height=675)}

    def size_codes(size: int) -> list[str]:
        found = content_findings(issue, source_text=SMALL, email_html="x" * size,
                                 pictures=assets, earlier=[], window_days=14)
        return [(f.code, str(f.severity)) for f in found]  # type: ignore[misc]

    assert size_codes(80 * 1024) == []
    assert size_codes(95 * 1024) == [("email-size", "warning")]
    assert size_codes(CLIP_BYTES + 1) == [("email-clipped", "error")]


def test_a_link_that_already_ran(desk: Path) -> None:
    write(desk, SMALL.replace("number: 49", "number: 50").replace("2026-12-04", "2026-12-11")
          .replace("https://example.org/useful", "https://example.org/new"), "2026-12-11.yaml")
    found = codes(desk, desk / "issues" / "2026-12-11.yaml")
    assert "link-reused" not in found
    write(desk, SMALL)
    found = codes(desk, desk / "issues" / "2026-12-11.yaml")
    assert "link-reused" in found and found["link-reused"][0].endswith(":7:3")  # the lead


def test_a_story_older_than_the_window(desk: Path) -> None:
    settings = api.load_desk(desk)
    issue, _ = api.render_issue(write(desk, SMALL), settings)
    assets = {"examples/images/lead-mangroves.jpg": Asset(url="x", width=1200, height=675)}

    def stale(days: int) -> list[str]:
        story = Story(id="abc123", url="https://example.org/lead", title="The lead story",
                      published=dt.datetime(2026, 12, 4, tzinfo=dt.UTC) - dt.timedelta(days))
        found = content_findings(replace(issue, stories=(story,)), source_text=SMALL,
                                 email_html="", pictures=assets, earlier=[], window_days=14)
        return [f.code for f in found]

    assert stale(3) == []
    assert stale(30) == ["story-old"]


MARKUP = """<!doctype html><html{lang}><body>
<table{role}><tr><td style="background-color:#fff"><p style="color:#333">Fine</p></td></tr>
</table>
<p style="color:#123456">{text}</p>
<a href="https://example.org/x">{link}</a>
</body></html>"""


def test_markup_findings_each_have_a_trigger() -> None:
    good = MARKUP.format(lang=' lang="en"', role=' role="presentation"', text="",
                         link="The harbour that moved")
    good = good.replace('<p style="color:#123456"></p>', "")
    assert markup_findings(good) == []
    bad = MARKUP.format(lang="", role="", text="dark", link="Read more")
    found = {f.code: f for f in markup_findings(bad)}
    assert set(found) == {"lang-missing", "table-role", "link-text", "dark-mode-color"}
    assert found["dark-mode-color"].subject == "#123456"
    assert found["link-text"].severity is Severity.WARNING


def test_outlook_only_markup_is_not_checked() -> None:
    html = MARKUP.format(lang=' lang="en"', role=' role="presentation"', text="",
                         link="The harbour").replace('<p style="color:#123456"></p>', "")
    html = html.replace("</body>", "<!--[if mso]><table><tr><td>x</td></tr></table>"
                        "<![endif]--></body>")
    assert markup_findings(html) == []


def test_cli_check_reports_and_exits_by_severity(desk: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsletter", "check", *args], cwd=desk,
                              capture_output=True, text=True, timeout=120)

    clean = run("--all", "--offline", "--strict")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 errors, 0 warnings" in clean.stdout
    write(desk, SMALL.replace("A paragraph with", "A paragraph TK with"))
    broken = run("--offline", "issues/2026-12-04.yaml")
    assert broken.returncode == 1
    assert "error (1)" in broken.stdout and "[placeholder]" in broken.stdout
    assert "issues/2026-12-04.yaml:13:" in broken.stdout
    warned = run("--offline", "--json", "issues/2026-12-04.yaml")
    report = json.loads(warned.stdout)
    assert {f["code"] for i in report["issues"] for f in i["findings"]} >= {"placeholder"}
    long_subject = SMALL.replace("subject: Short and clear", "subject: " + "Long words " * 8)
    write(desk, long_subject)
    assert run("--offline", "issues/2026-12-04.yaml").returncode == 0
    assert run("--offline", "--strict", "issues/2026-12-04.yaml").returncode == 1


def test_an_accepted_finding_stays_visible_as_a_note(desk: Path) -> None:
    settings = api.load_desk(desk)
    long_subject = SMALL.replace("subject: Short and clear", "subject: " + "Long words " * 8)
    path = write(desk, long_subject)
    [before] = [f for f in api.check_issue(path, settings, offline=True).findings
                if f.code == "subject-long"]
    assert before.severity is Severity.WARNING
    accepted = replace(settings, check=replace(settings.check, accept=("subject-long",)))
    [after] = [f for f in api.check_issue(path, accepted, offline=True).findings
               if f.code == "subject-long"]
    assert after.severity is Severity.NOTE and "accepted in newsletter.yaml" in after.message


def test_links_are_checked_with_the_line_they_come_from(desk: Path, tmp_path: Path) -> None:
    from conftest import LocalSite

    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "ok.html").write_text("<p>fine</p>", encoding="utf-8")
    site = LocalSite(pages)
    try:
        text = (SMALL.replace("https://example.org/lead", f"{site.url}ok.html")
                .replace("https://example.org/useful", f"{site.url}missing.html"))
        path = write(desk, text)
        report = api.check_issue(path, api.load_desk(desk))
        dead = [f for f in report.findings if f.code == "link-dead"]
        assert [f.subject for f in dead] == [f"{site.url}missing.html"]
        assert str(dead[0].location).endswith("2026-12-04.yaml:13:46")
        assert not [f for f in report.findings if f.code.startswith("link-")
                    and f.subject.endswith("ok.html")]
        offline = api.check_issue(path, api.load_desk(desk), offline=True)
        assert not [f for f in offline.findings if f.code.startswith("link-")]
    finally:
        site.close()


@pytest.mark.parametrize("line", [
    "    - text: Todo el mundo habla del mar. A paragraph with",
    "    - text: A paragraph with  # TODO: a comment, not text",
])
def test_words_and_comments_that_are_not_placeholders(desk: Path, line: str) -> None:
    text = SMALL.replace("    - text: A paragraph with", line)
    assert "placeholder" not in codes(desk, write(desk, text))


def test_a_sponsor_booked_for_two_weeks_is_not_a_repeat(desk: Path) -> None:
    sponsor = ("sponsors:\n  - slot: after_lead\n    advertiser: Harbour Light\n"
               "    headline: The Salt Almanac\n    url: https://example.org/almanac\n")
    write(desk, SMALL + sponsor)
    later = (SMALL.replace("number: 49", "number: 50").replace("2026-12-04", "2026-12-11")
             .replace("https://example.org/useful", "https://example.org/other")
             .replace("https://example.org/lead", "https://example.org/lead2") + sponsor)
    assert "link-reused" not in codes(desk, write(desk, later, "2026-12-11.yaml"))


def test_check_all_includes_a_ready_issue_it_cannot_read(desk: Path) -> None:
    write(desk, "status: ready\ntopic: Ocean: restoration\n")
    result = subprocess.run([sys.executable, "-m", "newsletter", "check", "--all", "--offline"],
                            cwd=desk, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "2026-12-04.yaml" in result.stdout


# --- findings on picked items carry the item's line ---------------------------------------

# An issue as `new` and `pick` leave it: the offered candidates in a comment block
# above the picks, naming the same ids (and here URLs) the picks reference.
PICKED = """\
number: 49
date: 2026-12-04
status: ready
subject: Short and clear
preheader: One line that makes people open it
# Candidates since the last issue, best first:
#    - story: c1a551c0   # 2026-09-01 · https://example.org/classic · An old classic
#    - story: ke1p0001   # https://news.example.org/2026/11/26/marrow-coast-kelp-restoration
lead:
  url: https://example.org/lead
  headline: The lead story
  image:
    src: examples/images/lead-mangroves.jpg
    alt: Mangroves at low tide
catch_up:
  items:
    - story: ke1p0001
    - url: https://example.org/vague
      headline: Read more
deep_dives:
  items:
    - story: c1a551c0
"""
CLASSIC = Story(id="c1a551c0a1", url="https://example.org/classic", title="An old classic",
                summary="<p>" + "A sentence of twelve words about the sea and its long tides. "
                * 20 + "</p>", published=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
# ran as the lead of 2026-11-27
KELP = Story(id="ke1p0001ab", url="https://news.example.org/2026/11/26/marrow-coast-kelp-"
             "restoration", title="Kelp again", summary="<p>Short.</p>",
             published=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))


def picked(desk: Path, text: str = PICKED) -> Path:
    """The issue, with its story: references pinned as a build pins them."""
    path = write(desk, text)
    write_lock(lock_path(path), [CLASSIC, KELP])
    return path


def line(text: str, written: str) -> int:
    """The 1-based line of the first line of `text` that starts with `written`."""
    return next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith(written))


def findings(desk: Path, path: Path, **options: object) -> dict[str, list[Finding]]:
    report = api.check_issue(path, api.load_desk(desk), offline=True)  # type: ignore[arg-type]
    found: dict[str, list[Finding]] = {}
    for finding in report.findings:
        found.setdefault(finding.code, []).append(finding)
    return found


def test_findings_on_picked_stories_point_at_the_item_not_the_comments(desk: Path) -> None:
    path = picked(desk)
    found = findings(desk, path)
    where = {code: [(f.location.path, f.location.line) if f.location else None for f in group]
             for code, group in found.items()}
    assert where["story-old"] == [(path, line(PICKED, "    - story: c1a551c0"))]
    assert where["link-reused"] == [(path, line(PICKED, "    - story: ke1p0001"))]
    # vague link text is found in the email's HTML, and mapped back to its item
    assert where["link-text"] == [(path, line(PICKED, "    - url: https://example.org/vague"))]
    assert found["link-text"][0].subject.startswith("https://example.org/vague")


def test_a_dead_link_of_a_referenced_story_points_at_its_item(desk: Path,
                                                               tmp_path: Path) -> None:
    from conftest import LocalSite

    (tmp_path / "pages").mkdir()
    site = LocalSite(tmp_path / "pages")
    try:
        text = PICKED.replace("https://example.org/classic", f"{site.url}gone.html")
        path = write(desk, text)
        write_lock(lock_path(path), [replace(CLASSIC, url=f"{site.url}gone.html"), KELP])
        report = api.check_issue(path, api.load_desk(desk))
        [dead] = [f for f in report.findings if f.code == "link-dead"]
        assert dead.location is not None
        assert dead.location.line == line(text, "    - story: c1a551c0")
    finally:
        site.close()


def test_a_trimmed_feed_blurb_is_noted_on_its_item(desk: Path) -> None:
    path = picked(desk)
    [note] = findings(desk, path)["blurb-trimmed"]
    assert note.severity is Severity.NOTE
    assert note.location is not None
    assert note.location.line == line(PICKED, "    - story: c1a551c0")
    assert "blurb:" in note.hint


# --- accepting a finding for one item ---------------------------------------------------


def test_an_item_accepts_a_finding_with_its_reason(desk: Path) -> None:
    text = (PICKED.replace("    - story: ke1p0001\n",
                           "    - story: ke1p0001\n      accept: [link-reused]\n")
            .replace("    - story: c1a551c0\n", "    - story: c1a551c0\n      accept:\n"
                     '        story-old: "a classic worth rereading"\n'))
    found = findings(desk, picked(desk, text))
    [old], [reused] = found["story-old"], found["link-reused"]
    assert old.severity is reused.severity is Severity.NOTE
    assert "a classic worth rereading" in old.message
    assert old.location is not None and old.location.line == line(text, "    - story: c1a551c0")


def test_an_acceptance_covers_its_own_item_only(desk: Path) -> None:
    text = PICKED.replace("    - story: ke1p0001\n",
                          "    - story: ke1p0001\n      accept: [link-reused, story-old]\n")
    found = findings(desk, picked(desk, text))
    assert found["link-reused"][0].severity is Severity.NOTE
    assert found["story-old"][0].severity is Severity.WARNING  # another item's


def test_the_issue_accepts_a_finding_for_a_named_item_or_for_itself(desk: Path) -> None:
    text = PICKED + (
        "accept:\n"
        "  - code: link-text\n"
        '    item: "catch_up.items[1]"\n'
        '    reason: "the headline is the name of the column"\n'
        "  - code: story-old\n"
        "    item: c1a551c0\n"
        "  - link-reused\n")
    found = findings(desk, picked(desk, text))
    assert {f.severity for code in ("link-text", "story-old", "link-reused")
            for f in found[code]} == {Severity.NOTE}
    assert "the name of the column" in found["link-text"][0].message


def test_an_unknown_code_is_a_located_error_with_a_did_you_mean(desk: Path) -> None:
    text = PICKED.replace("    - story: ke1p0001\n",
                          "    - story: ke1p0001\n      accept: [link-reuse]\n")
    found = findings(desk, picked(desk, text))
    [unknown] = found["accept-unknown"]
    assert unknown.severity is Severity.ERROR
    assert unknown.location is not None
    assert unknown.location.line == line(text, "      accept: [link-reuse]")
    assert unknown.hint == 'did you mean "link-reused"?'
    assert found["link-reused"][0].severity is Severity.WARNING


def test_strict_passes_once_each_routine_finding_is_accepted(desk: Path) -> None:
    def strict() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsletter", "check", "--offline",
                               "--strict", "--notes", "issues/2026-12-04.yaml"], cwd=desk,
                              capture_output=True, text=True, timeout=120)

    text = PICKED.replace("      headline: Read more\n", "      headline: Kelp in numbers\n")
    picked(desk, text)
    assert strict().returncode == 1
    picked(desk, text + "accept:\n  - code: story-old\n    item: c1a551c0\n"
           '    reason: "a classic worth rereading"\n  - code: link-reused\n'
           "    item: ke1p0001\n")
    result = strict()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "accepted: a classic worth rereading" in result.stdout


def test_every_finding_code_is_known_and_documented() -> None:
    from conftest import REPO

    from newsletter.check import CODES

    written = set()
    for source in [*(REPO / "newsletter" / "check").glob("*.py"), REPO / "newsletter" / "api.py"]:
        text = source.read_text(encoding="utf-8")
        written |= set(re.findall(r'\bcode="([a-z-]+)"', text))
        written |= set(re.findall(r'^CODE = "([a-z-]+)"', text, re.M))
    assert written and written <= set(CODES), written - set(CODES)
    docs = (REPO / "docs" / "issue-format.md").read_text(encoding="utf-8")
    assert not [code for code in CODES if f"`{code}`" not in docs]


def test_a_picture_narrower_than_twice_its_shown_width_is_soft(desk: Path) -> None:
    from PIL import Image as PILImage

    PILImage.new("RGB", (700, 394), "#336699").save(desk / "examples" / "images" / "small.jpg")
    soft = SMALL.replace("examples/images/lead-mangroves.jpg", "examples/images/small.jpg")
    found = codes(desk, write(desk, soft))
    # at the picture's src: line; shown 552 px wide, a sharp copy needs 1104
    assert "image-soft" in found and found["image-soft"][0].endswith(":10:10")
    assert "image-soft" not in codes(desk, write(desk, SMALL))  # a 1200 px lead


VIDEO_BLOCK = """\
    - video:
        url: https://www.youtube.com/watch?v=dQw4w9WgXcQ
        title: Divers at work
        duration: "02:47"
        thumbnail:
          src: examples/images/video-small.jpg
          alt: Divers on a reef
"""


def test_a_video_thumbnail_is_judged_by_its_badged_copy(desk: Path) -> None:
    from PIL import Image as PILImage

    PILImage.new("RGB", (640, 360), "#336699").save(
        desk / "examples" / "images" / "video-small.jpg")
    found = codes(desk, write(desk, SMALL + VIDEO_BLOCK))
    assert "image-soft" in found
    PILImage.new("RGB", (1104, 621), "#336699").save(
        desk / "examples" / "images" / "video-small.jpg")
    assert "image-soft" not in codes(desk, write(desk, SMALL + VIDEO_BLOCK))
