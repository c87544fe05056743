"""The archive site: what `newsletter build` writes, how it rebuilds, and
that a failed build leaves the previous site exactly as it was."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import html5lib
import pytest
from conftest import REPO

from newsletter import api
from newsletter.errors import BuildError, NewsletterError, RenderError
from newsletter.publish import archive
from newsletter.publish.archive import SiteReport
from newsletter.publish.site import StagedSite, link_tree, write_file

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"

SMALL_ISSUE = """\
number: {number}
date: {date}
status: {status}
subject: "Issue {number}: {word} tides"
preheader: The {word} edition
lead:
  url: https://example.org/{number}/lead
  headline: "{word} lead story"
  image:
    src: examples/images/lead-mangroves.jpg
    alt: Mangroves at low tide
  body:
    - text: A paragraph about {word} water.
deep_dives:
  items:
    - url: https://example.org/{number}/dive
      headline: "Deep dive on {word} reefs"
      blurb: Reefs and more reefs.
"""


def small_issue(desk: Path, number: int, *, status: str = "ready", word: str = "") -> Path:
    date = f"2025-{1 + number // 28:02d}-{1 + number % 28:02d}"
    path = desk / "issues" / f"{date}.yaml"
    path.write_text(SMALL_ISSUE.format(number=number, date=date, status=status,
                                       word=word or f"word{number}"), encoding="utf-8")
    return path


# what the build takes as now, unless a test says: after every issue the tests write, so
# none is held (tests/test_site.py holds issues on purpose), whatever the machine's clock
NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def build(desk: Path, **options: object) -> SiteReport:
    options.setdefault("now", NOW)
    return api.build_site(api.load_desk(desk), **options)  # type: ignore[arg-type]


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) -> a digest of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def stamps(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


def leftovers(desk: Path) -> list[str]:
    return sorted(p.name for p in desk.iterdir() if p.name.startswith(".site."))


# --- what a build writes ---------------------------------------------------------


def test_the_example_desk_builds_a_whole_site(desk: Path) -> None:
    report = build(desk)
    site = desk / "site"
    assert not report.unchanged and len(report.rendered) == 3  # issues/: en, zh, ar
    for name in ("index.html", "404.html", "feed.xml", "sitemap.xml", "robots.txt",
                 "issues/2026-11-27/index.html", "issues/2026-11-27/email.html",
                 "issues/2026-11-27/email.txt", "issues/2026-11-20/index.html",
                 "issues/2026-11-13/index.html"):
        assert (site / name).is_file(), name
    for asset in (site / "assets").iterdir():  # named by their content: cacheable for ever
        digest = re.search(r"\.([0-9a-f]{12})\.js$", asset.name)
        assert digest, asset.name
        assert hashlib.sha256(asset.read_bytes()).hexdigest().startswith(digest[1])
    for picture in (site / "issues" / "2026-11-27" / "images").iterdir():
        # the desk's picture, or its copy resized for the email (render.assets: -<px>w)
        assert re.search(r"-[0-9a-f]{10}(-[0-9]+w)?\.(jpg|png)$", picture.name), picture.name


def test_the_index_shows_the_latest_issue_then_the_archive_by_year(desk: Path) -> None:
    for number in (1, 2):
        small_issue(desk, number)
    build(desk)
    page = html5lib.parse((desk / "site" / "index.html").read_text(encoding="utf-8"),
                          namespaceHTMLElements=False)
    latest = page.find(".//section[@class='latest']")
    assert latest is not None
    assert "Tideline #48" in "".join(latest.itertext())
    years = [h.text for h in page.iterfind(".//section[@class='year']/h3")]
    assert years == ["2026", "2025"]
    listed = [li.get("data-slug") for li in page.iterfind(".//ol[@class='issues']/li")]
    assert listed == ["2026-11-27", "2026-11-20", "2026-11-13", "2025-01-03", "2025-01-02"]
    links = [a.get("href") for a in page.iterfind(".//ol[@class='issues']/li/a")]
    assert all((desk / "site" / href).is_file() for href in links)
    form = page.find(".//form[@class='subscribe']")
    assert form is not None and form.get("action") == "https://tideline.example.org/subscribe"
    assert page.find(".//form[@role='search']").get("hidden") is not None  # shown by its script


def test_issue_pages_link_to_their_neighbours(desk: Path) -> None:
    build(desk)
    site = desk / "site" / "issues"
    newer = (site / "2026-11-27" / "index.html").read_text(encoding="utf-8")
    middle = (site / "2026-11-20" / "index.html").read_text(encoding="utf-8")
    older = (site / "2026-11-13" / "index.html").read_text(encoding="utf-8")
    assert 'rel="prev" href="../2026-11-20/index.html"' in newer and 'rel="next"' not in newer
    assert 'rel="next" href="../2026-11-27/index.html"' in middle
    assert 'rel="prev" href="../2026-11-13/index.html"' in middle
    assert 'rel="next" href="../2026-11-20/index.html"' in older and 'rel="prev"' not in older
    assert "<!-- newsletter:issue-nav -->" not in newer + middle + older


def test_the_feed_is_valid_atom_with_full_content(desk: Path) -> None:
    build(desk)
    data = (desk / "site" / "feed.xml").read_bytes()
    root = ET.fromstring(data)  # strict XML: a malformed feed raises here
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        "https://tideline.example.org/issues/2026-11-27/",
        "https://tideline.example.org/issues/2026-11-20/",
        "https://tideline.example.org/issues/2026-11-13/"]
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Tideline"
    first = parsed.entries[0]
    assert first.title.startswith("Tideline #48")
    assert first.link == "https://tideline.example.org/issues/2026-11-27/"
    content = first.content[0].value
    assert "Deep dives" in content and "<script" not in content
    assert re.search(r'<img [^>]*src="https://tideline\.example\.org/issues/2026-11-27/images/',
                     content)
    assert parsed.entries[1].get("language", parsed.entries[1].title_detail.language) == "zh-Hans"


def test_the_feed_keeps_the_latest_twenty(desk: Path) -> None:
    for number in range(1, 25):
        small_issue(desk, number)
    build(desk)
    root = ET.fromstring((desk / "site" / "feed.xml").read_bytes())
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 20
    assert entries[0].findtext(f"{ATOM}id").endswith("/2026-11-27/")
    assert entries[-1].findtext(f"{ATOM}id").endswith("/2025-01-09/")  # the three, then 24..8


def test_sitemap_and_robots(desk: Path) -> None:
    build(desk)
    root = ET.fromstring((desk / "site" / "sitemap.xml").read_bytes())
    locations = [u.findtext(f"{SITEMAP}loc") for u in root.findall(f"{SITEMAP}url")]
    assert locations == ["https://tideline.example.org/",
                         "https://tideline.example.org/issues/2026-11-27/",
                         "https://tideline.example.org/issues/2026-11-20/",
                         "https://tideline.example.org/issues/2026-11-13/"]
    robots = (desk / "site" / "robots.txt").read_text(encoding="utf-8")
    assert "Sitemap: https://tideline.example.org/sitemap.xml" in robots


def test_share_meta_and_json_ld_on_issue_pages(desk: Path) -> None:
    path = desk / "issues" / "2026-11-27.yaml"
    text = path.read_text(encoding="utf-8")
    hostile = 'Kelp </script><script>alert(1)</script> & "friends"'
    path.write_text(re.sub(r"(?m)^subject: .*$", f"subject: {json.dumps(hostile)}", text),
                    encoding="utf-8")
    build(desk)
    html = (desk / "site" / "issues" / "2026-11-27" / "index.html").read_text(encoding="utf-8")
    page = html5lib.parse(html, namespaceHTMLElements=False)
    meta = {m.get("property") or m.get("name"): m.get("content") for m in page.iter("meta")}
    assert meta["og:type"] == "article" and meta["og:title"] == hostile
    assert meta["og:image"].startswith("https://tideline.example.org/issues/2026-11-27/images/")
    assert meta["twitter:card"] == "summary_large_image"
    scripts = list(page.iter("script"))
    assert [s.get("type") for s in scripts] == ["application/ld+json"]  # and nothing broke out
    data = json.loads(scripts[0].text)
    assert data["@type"] == "NewsArticle" and data["headline"] == hostile
    assert data["datePublished"] == "2026-11-27" and data["image"] == [meta["og:image"]]


def test_web_pages_work_opened_from_disk(desk: Path) -> None:
    """Pictures and site links are relative, so a double-clicked page shows whole."""
    build(desk)
    folder = desk / "site" / "issues" / "2026-11-27"
    page = html5lib.parse((folder / "index.html").read_text(encoding="utf-8"),
                          namespaceHTMLElements=False)
    pictures = [img.get("src") for img in page.iter("img")]
    assert pictures and all((folder / src).is_file() for src in pictures)
    local = [a.get("href") for a in page.iter("a") if a.get("href", "").startswith("../")]
    assert local and all((folder / href.split("#")[0]).is_file() for href in local)


# --- drafts and corrections -----------------------------------------------------


def test_drafts_get_pages_only_when_asked_and_never_a_place_in_the_archive(desk: Path) -> None:
    draft = small_issue(desk, 1, status="draft", word="secretive")
    report = build(desk)
    assert report.skipped_drafts == 1
    assert not (desk / "site" / "issues" / "2025-01-02").exists()
    report = build(desk, drafts=True)
    page = (desk / "site" / "issues" / "2025-01-02" / "index.html").read_text(encoding="utf-8")
    assert '<meta name="robots" content="noindex">' in page and "draft-banner" in page
    for name in ("index.html", "feed.xml", "sitemap.xml", *(
            f"assets/{p.name}" for p in (desk / "site" / "assets").iterdir())):
        assert "secretive" not in (desk / "site" / name).read_text(encoding="utf-8"), name
    assert "Disallow: /issues/2025-01-02/" in (desk / "site" / "robots.txt").read_text()
    # a named draft is built without --drafts
    build(desk, named=[draft])
    assert (desk / "site" / "issues" / "2025-01-02" / "index.html").is_file()


def test_a_half_written_draft_does_not_stop_the_build(desk: Path) -> None:
    (desk / "issues" / "2026-12-04.yaml").write_text("status: draft\nnumber: soon\nlead:\n",
                                                     encoding="utf-8")
    report = build(desk)
    assert report.skipped_drafts == 1 and len(report.rendered) == 3


def test_a_correction_shows_on_the_web_and_moves_the_feed_but_not_the_email(desk: Path) -> None:
    build(desk)
    site = desk / "site"
    issue = site / "issues" / "2026-11-27"
    email_before = (issue / "email.html").read_bytes(), (issue / "email.txt").read_bytes()
    path = desk / "issues" / "2026-11-27.yaml"
    path.write_text(path.read_text(encoding="utf-8") + (
        "corrections:\n"
        "  - date: 2026-12-02\n"
        "    text: An earlier version gave the wrong **depth** for the spore nursery.\n"),
        encoding="utf-8")
    report = build(desk)
    assert [p.name for p in report.rendered] == [path.name]
    assert ((issue / "email.html").read_bytes(), (issue / "email.txt").read_bytes()) == \
        email_before
    web = (issue / "index.html").read_text(encoding="utf-8")
    assert "Corrections" in web and "<strong>depth</strong>" in web
    assert 'datetime="2026-12-02"' in web
    assert '"dateModified": "2026-12-02"' in web
    parsed = feedparser.parse((site / "feed.xml").read_bytes())
    assert parsed.entries[0].updated.startswith("2026-12-02")
    assert parsed.entries[0].published.startswith("2026-11-27")
    assert parsed.feed.updated.startswith("2026-12-02")


def test_a_correction_before_the_issue_date_is_refused(desk: Path) -> None:
    path = desk / "issues" / "2026-11-27.yaml"
    path.write_text(path.read_text(encoding="utf-8") + (
        "corrections:\n  - date: 2026-11-01\n    text: Too early.\n"), encoding="utf-8")
    with pytest.raises(NewsletterError) as caught:
        build(desk)
    assert "corrections[0].date" in str(caught.value) and "before the issue" in str(caught.value)


# --- incremental builds ---------------------------------------------------------------


def test_a_second_build_writes_nothing(desk: Path) -> None:
    build(desk)
    before = stamps(desk / "site")
    report = build(desk)
    assert report.unchanged and not report.rendered
    assert stamps(desk / "site") == before


def test_only_the_changed_issue_is_rendered_and_the_site_matches_a_full_build(
        desk: Path, tmp_path: Path) -> None:
    for number in range(1, 6):
        small_issue(desk, number)
    build(desk)
    changed = small_issue(desk, 3, word="changed")
    report = build(desk)
    # its neighbours name it in their previous/next links: they change too
    assert sorted(p.name for p in report.rendered) == [
        "2025-01-03.yaml", changed.name, "2025-01-05.yaml"]
    assert report.kept == 5
    assert "changed lead story" in (desk / "site" / "issues" / changed.stem / "index.html"
                                    ).read_text(encoding="utf-8")
    full = build(desk, out_dir=tmp_path / "full", force=True)
    assert len(full.rendered) == 8
    assert tree(desk / "site") == tree(tmp_path / "full")


def test_a_new_issue_re_renders_its_neighbour_for_the_next_link(desk: Path, tmp_path: Path
                                                                ) -> None:
    build(desk)
    path = desk / "issues" / "2026-12-04.yaml"
    path.write_text(SMALL_ISSUE.format(number=49, date="2026-12-04", status="ready",
                                       word="newest"), encoding="utf-8")
    report = build(desk)
    assert sorted(p.name for p in report.rendered) == ["2026-11-27.yaml", "2026-12-04.yaml"]
    page = (desk / "site" / "issues" / "2026-11-27" / "index.html").read_text(encoding="utf-8")
    assert 'rel="next" href="../2026-12-04/index.html"' in page
    build(desk, out_dir=tmp_path / "full", force=True)
    assert tree(desk / "site") == tree(tmp_path / "full")


def test_a_theme_change_rebuilds_every_issue(desk: Path) -> None:
    build(desk)
    (desk / "templates" / "web").mkdir(parents=True)
    style = (REPO / "templates" / "web" / "_style.css").read_text(encoding="utf-8")
    (desk / "templates" / "web" / "_style.css").write_text(style + ".x { color: red; }\n",
                                                           encoding="utf-8")
    report = build(desk)
    assert len(report.rendered) == 3
    assert ".x { color: red; }" in (desk / "site" / "issues" / "2026-11-27" / "index.html"
                                    ).read_text(encoding="utf-8")


def test_a_changed_picture_rebuilds_the_issues_that_show_it(desk: Path) -> None:
    small_issue(desk, 1)
    build(desk)
    picture = desk / "examples" / "images" / "lead-mangroves.jpg"
    picture.write_bytes(picture.read_bytes() + b"\0")  # same picture, other bytes
    report = build(desk)
    assert "2025-01-02.yaml" in {p.name for p in report.rendered}
    assert "2026-11-27.yaml" not in {p.name for p in report.rendered}


def test_force_and_a_deleted_site_rebuild_everything(desk: Path) -> None:
    build(desk)
    assert len(build(desk, force=True).rendered) == 3
    shutil.rmtree(desk / "site")
    assert len(build(desk).rendered) == 3


def test_parallel_rendering_gives_the_same_site(desk: Path, tmp_path: Path) -> None:
    for number in range(1, 13):
        small_issue(desk, number)
    one = build(desk, out_dir=tmp_path / "one", jobs=1)
    many = build(desk, out_dir=tmp_path / "many", jobs=2)
    assert len(one.rendered) == len(many.rendered) == 15
    assert tree(tmp_path / "one") == tree(tmp_path / "many")


# --- a failed build changes nothing ------------------------------------------------------


def test_a_template_error_in_one_issue_leaves_the_previous_site_byte_identical(
        desk: Path) -> None:
    for number in range(1, 11):
        small_issue(desk, number)
    build(desk)
    before = tree(desk / "site")
    # issue 7 of 10 alone gets a template of its own that fails
    (desk / "templates" / "web").mkdir(parents=True)
    (desk / "templates" / "web" / "2025-01-08.html").write_text(
        '{% extends "default:web/issue.html" %}{% block main %}{{ issue.nope }}{% endblock %}',
        encoding="utf-8")
    small_issue(desk, 5, word="edited")
    with pytest.raises(RenderError) as caught:
        build(desk, jobs=2)
    assert "2025-01-08.html" in str(caught.value)
    assert tree(desk / "site") == before
    assert leftovers(desk) == []


def test_every_broken_issue_is_reported_at_once(desk: Path) -> None:
    for number in range(1, 11):
        small_issue(desk, number)
    for number in (3, 7):
        path = desk / "issues" / f"2025-01-{1 + number:02d}.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("number: ", "number: -"),
                        encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        build(desk)
    message = str(caught.value)
    assert "2025-01-04.yaml" in message and "2025-01-08.yaml" in message
    assert "2 issues could not be built" in message
    assert not (desk / "site").exists()


def test_two_issues_with_one_slug_stop_the_build(desk: Path) -> None:
    path = small_issue(desk, 1)
    path.write_text(path.read_text(encoding="utf-8") + "slug: 2026-11-27\n", encoding="utf-8")
    with pytest.raises(NewsletterError, match="both build issues/2026-11-27/"):
        build(desk)


def test_a_folder_the_tool_did_not_make_is_never_replaced(desk: Path) -> None:
    (desk / "site").mkdir()
    (desk / "site" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(NewsletterError, match="was not made by newsletter"):
        build(desk)
    assert [p.name for p in (desk / "site").iterdir()] == ["notes.txt"]


def _start_build(desk: Path, *extra: str, limit: int | None = None
                 ) -> subprocess.Popen[bytes]:
    def limit_file_size() -> None:
        # Ctrl-C as a shell's foreground job gets it: whatever this test process has
        # blocked or ignored (a child inherits both) is not the build's to inherit
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if limit is not None:  # a full disk, as the writing process sees it
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "build", *extra], cwd=desk,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_file_size)


@pytest.mark.parametrize(("reason", "hint"), [
    (errno.ENOSPC, "free some disk space"), (errno.EFBIG, "free some disk space"),
    (errno.EACCES, "fix the permissions of /srv/desk"), (errno.EROFS, "or build elsewhere"),
    (errno.ENOENT, "went missing (did another program remove it?)"),
    (errno.EIO, "if it fails the same way, check /srv/desk"),
])
def test_a_failed_write_says_what_to_do_by_its_reason(reason: int, hint: str) -> None:
    """A file gone from the cache under a running preview is no full disk."""
    failure = archive._write_failure(
        OSError(reason, os.strerror(reason), "/srv/desk/.site.tmp/issues/a/email.html"),
        Path("/srv/desk/site"))
    assert failure.message == (f"could not write the site next to /srv/desk/site: "
                               f"{os.strerror(reason)} (/srv/desk/.site.tmp/issues/a/email.html)")
    assert hint in failure.hint and "the previous site was left as it was" in failure.hint


def test_a_full_disk_leaves_the_previous_site_byte_identical(desk: Path) -> None:
    build(desk)
    before = tree(desk / "site")
    small_issue(desk, 1)  # something to write
    (desk / "issues" / "2026-11-27.yaml").write_text(
        (desk / "issues" / "2026-11-27.yaml").read_text(encoding="utf-8") + "\n",
        encoding="utf-8")
    process = _start_build(desk, limit=20_000)  # the email alone is bigger
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert b"could not write the site" in stderr and b"File too large" in stderr
    assert b"Traceback" not in stderr
    assert tree(desk / "site") == before
    assert leftovers(desk) == []


def test_ctrl_c_leaves_the_previous_site_byte_identical(desk: Path) -> None:
    for number in range(1, 121):
        small_issue(desk, number)
    build(desk)
    before = tree(desk / "site")
    for number in range(1, 121):
        small_issue(desk, number, word="again")
    process = _start_build(desk, "--jobs", "1")
    deadline = time.monotonic() + 60

    def rendering() -> bool:  # the next site is being written, far from its swap
        return any((desk / name / ".render").is_dir() for name in leftovers(desk))

    while not rendering() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert rendering(), "the build never started rendering"
    here = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (stdout, stderr, here)
    assert b"interrupted: no half-built site was left behind" in stderr
    assert tree(desk / "site") == before
    assert leftovers(desk) == []


def test_cli_build_reports_and_says_when_nothing_changed(desk: Path) -> None:
    first = subprocess.run([sys.executable, "-m", "newsletter", "build"], cwd=desk,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "wrote site/: 3 issues (3 rendered, 0 unchanged)" in first.stdout
    assert "open site/index.html" in first.stdout
    again = subprocess.run([sys.executable, "-m", "newsletter", "build"], cwd=desk,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "site/ is up to date (3 issues)" in again.stdout
    forced = subprocess.run([sys.executable, "-m", "newsletter", "build", "--force"], cwd=desk,
                            capture_output=True, text=True, timeout=120)
    assert "(3 rendered, 0 unchanged)" in forced.stdout


def test_desk_pictures_are_linked_but_never_re_dated(desk: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    source = desk / "examples" / "images" / "lead-kelp-forest.jpg"
    before = source.stat().st_mtime_ns
    build(desk)
    # the desk's own picture, not its copy resized for the email (…-<digest>-1104w.jpg)
    [linked] = (desk / "site" / "issues" / "2026-11-27" / "images").glob(
        "lead-kelp-forest-??????????.jpg")
    assert linked.stat().st_ino == source.stat().st_ino  # one copy on disk, however many issues
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(desk, force=True)
    [copied] = (desk / "site" / "issues" / "2026-11-27" / "images").glob(
        "lead-kelp-forest-??????????.jpg")
    assert copied.stat().st_ino != source.stat().st_ino
    assert copied.stat().st_mtime == 1700000000
    assert source.stat().st_mtime_ns == before
    assert copied.read_bytes() == source.read_bytes()


def test_an_edit_to_the_archive_page_template_is_published(desk: Path) -> None:
    build(desk)
    (desk / "templates" / "web").mkdir(parents=True)
    index = (REPO / "templates" / "web" / "index.html").read_text(encoding="utf-8")
    (desk / "templates" / "web" / "index.html").write_text(
        index.replace('<main id="main" class="wrap">', '<main id="main" class="wrap edited">'),
        encoding="utf-8")
    report = build(desk)
    assert not report.unchanged and not report.rendered  # no issue page depends on it
    assert 'class="wrap edited"' in (desk / "site" / "index.html").read_text(encoding="utf-8")


def test_an_issue_named_through_another_folder_is_the_same_issue(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (desk / "templates").mkdir()
    monkeypatch.chdir(desk / "templates")
    report = api.build_site(api.load_desk(desk), named=[Path("../issues/2026-11-27.yaml")])
    assert len(report.rendered) == 3


# --- kill -9 at the carry-over step ---------------------------------------------------

# A real build whose third carried-over folder is followed by kill -9: the
# moment is chosen by wrapping StagedSite.keep in this driver, not by timing.
_KILLED_DURING_CARRY_OVER = """\
import os, signal, sys
from newsletter.publish import site
from newsletter.cli import main

carried = 0
keep = site.StagedSite.keep


def keep_then_die(self, name):
    global carried
    keep(self, name)
    carried += 1
    if carried == 3:
        os.kill(os.getpid(), signal.SIGKILL)


site.StagedSite.keep = keep_then_die
sys.argv = ["newsletter", "build", "--jobs", "1"]
main()
"""


@pytest.mark.parametrize("earlier_builds", [1, 2], ids=["linked", "from-previous-site"])
def test_kill_9_during_the_carry_over_leaves_the_previous_site_byte_identical(
        desk: Path, tmp_path: Path, earlier_builds: int) -> None:
    for number in range(1, 9):
        small_issue(desk, number)
    build(desk)
    if earlier_builds == 2:  # the second build keeps the site it replaced
        small_issue(desk, 1, word="edited")
        build(desk)
        assert (desk / ".newsletter" / "previous-site" / "issues" / "2025-01-06").is_dir()
    before = tree(desk / "site")
    small_issue(desk, 5, word="changed")  # 3 issues to render, 8 to carry over
    killed = subprocess.run([sys.executable, "-c", _KILLED_DURING_CARRY_OVER], cwd=desk,
                            capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert leftovers(desk), "the build was killed before it staged anything"
    assert tree(desk / "site") == before
    report = build(desk)
    assert report.kept == 8 and leftovers(desk) == []
    build(desk, out_dir=tmp_path / "full", force=True)
    assert tree(desk / "site") == tree(tmp_path / "full")


def inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_ino
            for p in sorted(folder.rglob("*")) if p.is_file()}


def restage(site: Path) -> StagedSite:
    """The live site staged again as it is (its own pages, every issue folder kept)."""
    with StagedSite(site, "restaged") as staged:
        for page in site.iterdir():
            if page.is_file() and page.name != ".newsletter-build":
                staged.write(page.name, page.read_bytes())
        shutil.copytree(site / "assets", staged.root / "assets")
        for folder in sorted((site / "issues").iterdir()):
            staged.keep(f"issues/{folder.name}")
        staged.commit()
    return staged


def test_carried_over_folders_are_linked_then_moved_from_the_replaced_site(desk: Path) -> None:
    for number in range(1, 6):
        small_issue(desk, number)
    build(desk)
    site = desk / "site"
    pages, files = tree(site), inodes(site / "issues")
    assert restage(site).files_linked == len(files)  # no replaced site yet: one link per file
    assert restage(site).files_linked == 0  # each folder one rename from the replaced site
    assert inodes(site / "issues") == files  # the very same files, not a byte copied
    edited = site / "issues" / "2025-01-03" / "email.txt"
    edited.unlink()  # a file replaced by hand in the live site
    edited.write_bytes(b"edited by hand")
    assert restage(site).files_linked == len(inodes(edited.parent))  # that folder alone
    assert edited.read_bytes() == b"edited by hand"
    pages["issues/2025-01-03/email.txt"] = hashlib.sha256(b"edited by hand").hexdigest()
    pages.pop(".newsletter-build")  # names the build
    assert {name: digest for name, digest in tree(site).items()
            if name != ".newsletter-build"} == pages


def test_a_build_never_writes_into_a_file_it_shares_with_the_live_site(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live, staged = tmp_path / "live.html", tmp_path / "staged.html"
    live.write_bytes(b"live")
    picture = tmp_path / "picture.jpg"
    picture.write_bytes(b"picture")
    # a rendered page; a desk picture, linked; a desk picture, copied to be dated
    for data, epoch in ((b"rendered", ""), (picture, ""), (picture, "1700000000")):
        staged.unlink(missing_ok=True)
        os.link(live, staged)  # as the carry-over leaves a file
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
        write_file(staged, data)
        assert live.read_bytes() == b"live"
        assert staged.read_bytes() == (data if isinstance(data, bytes) else b"picture")


def test_carry_over_copies_where_it_cannot_link(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second filesystem (tmpfs at /dev/shm)")
    source = Path(tempfile.mkdtemp(dir=shm))
    try:
        (source / "images").mkdir()
        (source / "index.html").write_bytes(b"page")
        (source / "images" / "a.jpg").write_bytes(b"picture")
        os.utime(source / "index.html", (1700000000, 1700000000))
        assert link_tree(source, tmp_path / "copy") == 2  # links fail across filesystems
        assert tree(tmp_path / "copy") == tree(source)
        assert (tmp_path / "copy" / "index.html").stat().st_mtime == 1700000000
    finally:
        shutil.rmtree(source)


# --- issues dated in the future ---------------------------------------------------------

NEXT_WEEK = dt.datetime(2026, 12, 11, tzinfo=dt.UTC)  # 2026-12-11, 00:00 UTC


def future_issue(desk: Path, extra: str = "") -> Path:
    path = desk / "issues" / "2026-12-11.yaml"
    path.write_text(SMALL_ISSUE.format(number=49, date="2026-12-11", status="ready",
                                       word="embargoed") + extra, encoding="utf-8")
    return path


def listed(desk: Path) -> str:
    """What the archive tells readers and robots: index, feed, sitemap, search."""
    site = desk / "site"
    names = ["index.html", "feed.xml", "sitemap.xml",
             *(f"assets/{p.name}" for p in (site / "assets").iterdir())]
    return "".join((site / name).read_text(encoding="utf-8") for name in names)


def test_a_ready_issue_dated_in_the_future_is_held_until_its_day(desk: Path,
                                                                 tmp_path: Path) -> None:
    path = future_issue(desk)
    report = build(desk, now=NEXT_WEEK - dt.timedelta(seconds=1))
    assert report.held == {path: NEXT_WEEK} and path not in report.rendered
    assert not (desk / "site" / "issues" / "2026-12-11").exists()
    assert "embargoed" not in listed(desk) and "2026-12-11" not in listed(desk)
    page = (desk / "site" / "issues" / "2026-11-27" / "index.html").read_text(encoding="utf-8")
    assert "2026-12-11" not in page  # no "next" link to it either
    # nothing changed but the time: the held issue is still held, nothing is written
    again = build(desk, now=NEXT_WEEK - dt.timedelta(seconds=1))
    assert again.unchanged and again.held == {path: NEXT_WEEK}
    # its time comes: the next build (a scheduled one, nothing edited) publishes it
    report = build(desk, now=NEXT_WEEK)
    assert not report.unchanged and not report.held
    assert sorted(p.name for p in report.rendered) == ["2026-11-27.yaml", path.name]
    assert "embargoed" in listed(desk)
    build(desk, out_dir=tmp_path / "full", force=True, now=NEXT_WEEK)
    assert tree(desk / "site") == tree(tmp_path / "full")


def test_publish_at_holds_an_issue_until_that_moment_in_its_zone(desk: Path) -> None:
    path = future_issue(desk, "publish_at: 2026-12-11T07:00:00+01:00\n")
    seven_in_paris = NEXT_WEEK + dt.timedelta(hours=6)
    report = build(desk, now=seven_in_paris - dt.timedelta(minutes=1))
    assert report.held == {path: seven_in_paris}
    assert report.held[path].utcoffset() == dt.timedelta(hours=1)  # as the editor wrote it
    assert "embargoed" not in listed(desk)
    assert not build(desk, now=seven_in_paris).held
    assert "embargoed" in listed(desk)


def test_a_held_issue_named_on_the_command_line_gets_a_page_but_no_place(desk: Path) -> None:
    path = future_issue(desk)
    report = build(desk, named=[path], now=NEXT_WEEK - dt.timedelta(days=1))
    assert (desk / "site" / "issues" / "2026-12-11" / "index.html").is_file()
    assert "embargoed" not in listed(desk)
    assert "Disallow: /issues/2026-12-11/" in (desk / "site" / "robots.txt").read_text()
    assert report.held == {path: NEXT_WEEK}


def test_cli_build_says_which_issue_is_held_and_until_when(desk: Path) -> None:
    def run() -> str:
        result = subprocess.run([sys.executable, "-m", "newsletter", "build"], cwd=desk,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    path = desk / "issues" / "2999-01-01.yaml"
    text = SMALL_ISSUE.format(number=99, date="2999-01-01", status="ready", word="far")
    path.write_text(text, encoding="utf-8")
    out = run()
    assert "wrote site/: 3 issues (3 rendered, 0 unchanged)" in out
    assert "held issues/2999-01-01.yaml until 2999-01-01 00:00 UTC" in out
    assert not (desk / "site" / "issues" / "2999-01-01").exists()
    assert "2999-01-01" not in (desk / "site" / "index.html").read_text(encoding="utf-8")
    path.write_text(text + "publish_at: 2999-01-01T07:30:00+01:00\n", encoding="utf-8")
    assert "held issues/2999-01-01.yaml until 2999-01-01 07:30 +01:00" in run()
    again = run()
    assert "up to date" in again and "held issues/2999-01-01.yaml" in again


def test_a_draft_whose_yaml_cannot_be_read_is_skipped_with_a_warning(
        desk: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = desk / "issues" / "2026-12-04.yaml"
    broken.write_text("status: draft\nsubject: [half typed\nlead:\n  url: x\n", encoding="utf-8")
    report = build(desk)
    assert len(report.rendered) == 3 and report.skipped_drafts == 1
    [warning] = report.warnings
    assert "2026-12-04.yaml" in warning and "cannot be read" in warning
    assert warning in caplog.text
    again = build(desk)  # unchanged since: still skipped, still said
    assert again.unchanged and again.warnings == report.warnings
    # a ready issue is never skipped quietly, however broken
    broken.write_text("status: ready\nsubject: [half typed\n", encoding="utf-8")
    with pytest.raises(NewsletterError, match=r"2026-12-04\.yaml"):
        build(desk)
