"""Incremental builds: whatever changed, the site an incremental build leaves is the
one `--force` builds from the same inputs, byte for byte; and a build with nothing
to do reads no issue file the manifest already knows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from conftest import REPO
from test_site import SMALL_ISSUE, build, small_issue, tree

from newsletter.desk.lockfile import PicturePin, lock_name, lock_path, write_lock
from newsletter.publish import archive
from newsletter.render import DEFAULT_THEME


def _override(desk: Path, name: str, added: str) -> None:
    """The desk's own copy of a default theme file, with `added` at its end."""
    target = desk / "templates" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    text = (REPO / "templates" / name).read_text(encoding="utf-8")
    target.write_text(text + added, encoding="utf-8")


def _web_css(desk: Path) -> None:
    _override(desk, "web/_style.css", ".bench-edit { color: #0b4f6c; }\n")


def _email_macros(desk: Path) -> None:
    _override(desk, "email/_macros.mjml", "{# an edit that changes no output #}\n")


def _text_part(desk: Path) -> None:
    _override(desk, "text/issue.txt", "\n-- \nsent with care\n")


_SECTION = "<mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>"


def _email_including(desk: Path, name: str) -> None:
    """The desk's email template, including `name` at the end of its body."""
    _override(desk, "email/issue.mjml", "")
    email = desk / "templates" / "email" / "issue.mjml"
    email.write_text(email.read_text(encoding="utf-8").replace(
        "</mj-body>", f'{{% include "{name}" %}}</mj-body>', 1), encoding="utf-8")


def _write(desk: Path, name: str, text: str) -> None:
    path = desk / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _through_a_partial(desk: Path, word: str) -> None:
    """The email includes a template outside the output folders, which includes a
    web template: an edit of that web template reaches the email."""
    _email_including(desk, "partials/_bridge.html")
    _write(desk, "partials/_bridge.html", '{% include "web/_bit.html" %}')
    _write(desk, "web/_bit.html", _SECTION.format(word))


def _from_a_web_subfolder(desk: Path, word: str) -> None:
    _email_including(desk, "web/parts/_bit.html")
    _write(desk, "web/parts/_bit.html", _SECTION.format(word))


@pytest.mark.parametrize("theme", [_through_a_partial, _from_a_web_subfolder],
                         ids=lambda theme: theme.__name__.strip("_"))
def test_an_email_that_reaches_a_web_template_is_rendered_again_when_it_changes(
        desk: Path, theme: Callable[[Path, str], None]) -> None:
    theme(desk, "WORD-ONE")
    build(desk)
    theme(desk, "WORD-TWO")  # the web template the email reaches, edited
    build(desk)
    emails = [p.read_text(encoding="utf-8") for p in (desk / "site").rglob("email.html")]
    assert emails and all("WORD-TWO" in email for email in emails)
    incremental = tree(desk / "site")
    build(desk, force=True)
    assert tree(desk / "site") == incremental


def _one_issue(desk: Path) -> None:
    small_issue(desk, 2, word="edited")


def _picture(desk: Path) -> None:
    picture = desk / "examples" / "images" / "lead-mangroves.jpg"
    picture.write_bytes(picture.read_bytes() + b"\0")  # the same picture, other bytes


def _issue_added(desk: Path) -> None:
    (desk / "issues" / "2026-12-04.yaml").write_text(SMALL_ISSUE.format(
        number=49, date="2026-12-04", status="ready", word="newest"), encoding="utf-8")


def _issue_removed(desk: Path) -> None:
    (desk / "issues" / "2026-11-20.yaml").unlink()


@pytest.mark.parametrize("change", [_web_css, _email_macros, _text_part, _one_issue, _picture,
                                    _issue_added, _issue_removed],
                         ids=lambda change: change.__name__.strip("_"))
def test_an_incremental_build_equals_a_forced_build_byte_for_byte(
        desk: Path, change: Callable[[Path], None]) -> None:
    for number in range(1, 4):
        small_issue(desk, number)
    build(desk)
    change(desk)
    build(desk)
    incremental = tree(desk / "site")
    forced = build(desk, force=True)
    assert forced.rendered  # not vacuous: everything was rendered again
    assert tree(desk / "site") == incremental


@pytest.fixture()
def settles_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is trusted by its stat as soon as it is read (the real rule waits two
    seconds after its last change, which a test would have to sleep through)."""
    monkeypatch.setattr(archive, "_SETTLED_NS", -10**12)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []
    real = archive._file_digest

    def counted(path: Path) -> str:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(archive, "_file_digest", counted)
    return reads


@pytest.mark.usefixtures("settles_at_once")
def test_a_build_with_nothing_to_do_reads_no_issue_file_it_knows(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(desk)
    build(desk)  # the first no-op remembers what had not settled at the first build
    reads = _count_reads(monkeypatch)
    report = build(desk)
    assert report.unchanged and report.kept == 3
    assert reads == []


@pytest.mark.usefixtures("settles_at_once")
def test_an_upgraded_rendering_library_renders_every_issue_and_the_index_again(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade of mjml or markdown-it alone changes the pages: an incremental
    build that kept the old ones would no longer equal a forced build."""
    build(desk)
    build(desk)  # the first no-op remembers what had not settled at the first build
    assert build(desk).unchanged
    upgraded = archive.library_versions().replace("mjml_python=", "mjml_python=99.")
    monkeypatch.setattr(archive, "library_versions", lambda: upgraded)
    report = build(desk)
    assert len(report.rendered) == 3 and not report.unchanged
    assert build(desk).unchanged  # and once only


def test_the_library_versions_are_those_importlib_metadata_reads() -> None:
    import importlib.metadata

    said = dict(pair.split("=") for pair in archive.library_versions().split())
    assert set(said) == set(archive._RENDERING_LIBRARIES)
    assert said == {name: importlib.metadata.version(name) for name in said}


def test_a_lock_file_written_beside_a_known_issue_renders_it_again(desk: Path) -> None:
    """The lock is part of an issue's digest: a no-op build looks for it by name in one
    listing of the folder, so a wrong name would keep the stale pages."""
    build(desk)
    assert build(desk).unchanged
    issue = desk / "issues" / "2026-11-20.yaml"
    write_lock(lock_path(issue), [], [PicturePin(url="https://example.org/a.jpg", width=4,
                                                 height=3)])
    report = build(desk)
    assert [p.name for p in report.rendered] == [issue.name]


@pytest.mark.parametrize("name", ["2026-11-20.yaml", "a.b.yaml", "a.", ".yaml", "plain", "a..b"])
def test_a_lock_name_is_the_lock_paths_name(name: str) -> None:
    assert lock_name(name) == lock_path(Path("issues", name)).name == \
        f"{PurePosixPath(name).stem}.lock.json"


@pytest.mark.usefixtures("settles_at_once")
def test_an_edit_that_keeps_the_size_and_the_time_is_still_seen(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = desk / "issues" / "2026-11-27.yaml"
    build(desk)
    build(desk)
    before = issue.stat()
    text = issue.read_text(encoding="utf-8")
    assert "replant their lost kelp" in text
    issue.write_text(text.replace("replant their lost kelp", "replant their lost reef", 1),
                     encoding="utf-8")
    os.utime(issue, ns=(before.st_atime_ns, before.st_mtime_ns))  # as rsync -t or cp -p do
    assert issue.stat().st_size == before.st_size
    report = build(desk)
    assert issue.name in {p.name for p in report.rendered}
    page = (desk / "site" / "issues" / "2026-11-27" / "index.html").read_text(encoding="utf-8")
    assert "replant their lost reef" in page


def _count_renders(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many emails, text parts and web pages the builds in this process render
    (fewer than POOL_FROM issues: no worker processes)."""
    import newsletter.render as render

    counts = {"email": 0, "text": 0, "web": 0}
    real = render.Renderer.render

    def counted(self: render.Renderer, issue: object, assets: object, *,
                outputs: tuple[str, ...] = render.OUTPUTS) -> object:
        for output in outputs:
            counts[output] += 1
        return real(self, issue, assets, outputs=outputs)  # type: ignore[arg-type]

    monkeypatch.setattr(render.Renderer, "render", counted)
    return counts


@pytest.mark.parametrize(("change", "rendered"), [
    (_web_css, {"email": 0, "text": 0, "web": 3}),
    (_email_macros, {"email": 3, "text": 3, "web": 3}),
    (_text_part, {"email": 3, "text": 3, "web": 3}),
], ids=lambda value: getattr(value, "__name__", "").strip("_") or "rendered")
def test_a_theme_edit_renders_only_the_outputs_whose_templates_changed(
        desk: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None],
        rendered: dict[str, int]) -> None:
    issues = sorted((desk / "issues").glob("*.yaml"))
    assert len(issues) == 3 < archive.POOL_FROM  # rendered in this process, so counted
    build(desk)
    change(desk)
    counts = _count_renders(monkeypatch)
    report = build(desk)
    assert len(report.rendered) == 3  # every issue's page changed
    assert counts == rendered
    incremental = tree(desk / "site")
    assert build(desk, force=True).rendered
    assert tree(desk / "site") == incremental  # the email and its pictures carried over whole


def test_a_web_only_build_carries_the_email_over_even_after_the_web_drops_a_picture(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pictures only the email uses come from the record, not from what the web
    page uses: a web page that stops showing the lead's retina copy leaves the
    email's copy in place, and the folder as a forced build makes it."""
    build(desk)
    page = desk / "templates" / "web" / "issue.html"  # no picture on the page at all
    page.parent.mkdir(parents=True)
    page.write_text("{{ issue.subject }}\n", encoding="utf-8")
    counts = _count_renders(monkeypatch)
    build(desk)
    assert counts["email"] == 0
    incremental = tree(desk / "site")
    assert any(name.endswith("w.jpg") for name in incremental)  # the email's retina copies
    build(desk, force=True)
    assert tree(desk / "site") == incremental


def test_the_build_finds_the_default_theme_where_render_does() -> None:
    assert archive.default_theme() == DEFAULT_THEME
