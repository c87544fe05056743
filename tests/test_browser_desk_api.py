"""`api.BrowserDesk`: what the desk in the browser asks of the library, on a real
desk (a copy of the example desk), a real candidate store of generated stories
(`generated_store.make_store`) and real issue files; the test send goes to an
SMTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import EXAMPLE_ISSUE
from generated_store import AI_EVERY, NOW, GeneratedStore, make_store
from test_send import LocalController, Mailbox, received

from newsletter import api
from newsletter.desk import drafts
from newsletter.desk.editorial import load_issue
from newsletter.desk.lockfile import lock_path, write_lock
from newsletter.errors import NewsletterError
from newsletter.model import (
    MAX_PAGE,
    CandidateQuery,
    CandidateRow,
    PanelItem,
    Settings,
    Story,
    Use,
)

BROWSER = api.BrowserDesk()
STORIES = 600


@pytest.fixture()
def stocked(desk: Path) -> tuple[Settings, GeneratedStore]:
    """The example desk with a store of 600 generated stories from 20 feeds."""
    settings = api.load_desk(desk)
    return settings, make_store(api.store_path(settings), STORIES)


def every_row(settings: Settings, **query: object) -> list[CandidateRow]:
    """Every row the query matches, page after page (bounded: at most 20 pages)."""
    rows: list[CandidateRow] = []
    for _ in range(20):
        page = BROWSER.candidates(settings, CandidateQuery(offset=len(rows), limit=MAX_PAGE,
                                                           **query))  # type: ignore[arg-type]
        rows += page.rows
        if len(rows) >= page.total:
            return rows
    raise AssertionError("more than 20 pages")


# --- candidates ------------------------------------------------------------------------


def test_candidates_come_newest_first_page_by_page_with_the_total(
        stocked: tuple[Settings, GeneratedStore]) -> None:
    settings, made = stocked
    first = BROWSER.candidates(settings, CandidateQuery())
    assert (first.total, first.offset, len(first.rows)) == (STORIES - len(made.skipped), 0, 50)
    second = BROWSER.candidates(settings, CandidateQuery(offset=50, limit=50))
    assert second.offset == 50 and not {r.id for r in first.rows} & {r.id for r in second.rows}
    rows = every_row(settings)
    assert len(rows) == first.total and rows[:100] == [*first.rows, *second.rows]
    dates = [row.published for row in rows]
    assert None not in dates and dates == sorted(dates, reverse=True)  # type: ignore[type-var]  # none is None
    last = BROWSER.candidates(settings, CandidateQuery(offset=first.total - 3))
    assert len(last.rows) == 3


def test_a_row_is_bounded_plain_text_with_its_picture_uses_and_marks(
        stocked: tuple[Settings, GeneratedStore]) -> None:
    settings, made = stocked
    rows = {row.id: row for row in every_row(settings, skipped=None)}
    assert len(rows) == STORIES
    for row in rows.values():
        assert len(row.summary) <= CandidateRow.SUMMARY_CHARS and "<" not in row.summary
        assert row.sources and row.sources[0].startswith("feed-")
        assert row.picture is None or row.picture.src.startswith("https://img.example.org/")
        assert (row.starred, row.skipped) == (row.id in made.starred, row.id in made.skipped)
        assert row.used_in == ((Use(number=48, date=NOW.date()),) if row.id in made.used
                               else ())
    assert sum(row.picture is not None for row in rows.values()) == STORIES // 2
    assert any(row.summary.endswith("…") for row in rows.values())  # long ones cut


def test_used_in_counts_the_issues_lock_files_too(
        stocked: tuple[Settings, GeneratedStore]) -> None:
    settings, made = stocked
    row = next(r for r in every_row(settings) if r.id not in made.used)
    pinned = Story(id=row.id, url=row.url, title=row.title)
    write_lock(lock_path(settings.issues_dir / "2026-11-20.yaml"), [pinned])
    [again] = [r for r in every_row(settings) if r.id == row.id]
    assert again.used_in == (Use(number=47, date=dt.date(2026, 11, 20)),)


@pytest.mark.parametrize("query", [
    {"feed": "FEED-03"}, {"words": "海洋"}, {"words": "珊瑚礁"}, {"words": "AI"},
    {"starred": True}, {"skipped": True}, {"unused": True},
    {"since": NOW - dt.timedelta(days=7)}, {"words": "kelp", "feed": "feed-07", "unused": True},
])
def test_every_filter_narrows_the_list_to_what_it_names(
        stocked: tuple[Settings, GeneratedStore], query: dict[str, object]) -> None:
    settings, made = stocked
    rows = every_row(settings, **query)
    everything = every_row(settings, skipped=None)
    assert 0 < len(rows) < len(everything)
    for row in rows:
        if "feed" in query:
            assert str(query["feed"]).lower() in row.sources
        if query.get("words") == "AI":
            assert re.search(r"\bAI\b", row.title)
        elif "words" in query:  # anywhere in its text, not only where a row is cut
            with api.open_store(settings) as store:
                whole = store.find(row.id)
            assert whole and str(query["words"]) in whole.title + whole.summary
        if "since" in query:
            assert row.published and row.published >= query["since"]  # type: ignore[operator]  # a datetime
        assert row.starred if query.get("starred") else True
        assert row.skipped == bool(query.get("skipped"))
        assert not (query.get("unused") and row.id in made.used)
    if query == {"starred": True}:
        assert {row.id for row in rows} == made.starred
    if query == {"skipped": True}:
        assert {row.id for row in rows} == made.skipped
    if query == {"words": "AI"}:  # English titles (3 in 5) that name AI, skipped ones left out
        named = {n for n in range(STORIES) if n % AI_EVERY == 0 and n % 5 < 3}
        assert len(named) - len(rows) == len([r for r in every_row(settings, skipped=True)
                                              if re.search(r"\bAI\b", r.title)])


@pytest.mark.parametrize(("query", "said"), [
    (CandidateQuery(limit=0), "a page holds 1 to 200"),
    (CandidateQuery(limit=MAX_PAGE + 1), "a page holds 1 to 200"),
    (CandidateQuery(offset=-1), "from offset 0 up"),
    (CandidateQuery(feed="feed-3"), 'the desk has no feed "feed-3" did you mean "feed-'),
])
def test_a_query_that_cannot_be_answered_says_why(stocked: tuple[Settings, GeneratedStore],
                                                  query: CandidateQuery, said: str) -> None:
    settings, _ = stocked
    with pytest.raises(NewsletterError) as caught:
        BROWSER.candidates(settings, query)
    assert said in f"{caught.value.message} {caught.value.hint}"


def test_before_any_fetch_the_list_says_what_to_do(desk: Path) -> None:
    with pytest.raises(NewsletterError, match="no candidates yet") as caught:
        BROWSER.candidates(api.load_desk(desk), CandidateQuery())
    assert "newsletter fetch" in caught.value.hint


# --- star and skip ---------------------------------------------------------------------


def test_a_star_or_a_skip_is_kept_in_the_store_and_a_skipped_story_leaves_the_list(
        stocked: tuple[Settings, GeneratedStore]) -> None:
    settings, _ = stocked
    first = BROWSER.candidates(settings, CandidateQuery()).rows[0]
    starred = BROWSER.mark(settings, first.id, starred=True)
    assert dataclasses.replace(first, starred=True) == starred
    assert first.id in {r.id for r in every_row(settings, starred=True)}
    skipped = BROWSER.mark(settings, first.id, skipped=True)
    assert (skipped.starred, skipped.skipped) == (False, True)
    assert first.id not in {r.id for r in every_row(settings)}
    assert first.id in {r.id for r in every_row(settings, skipped=True)}
    assert BROWSER.mark(settings, first.id, skipped=False) == first
    with api.open_store(settings) as store:  # the store itself, as another command reads it
        assert store.marks([first.id]) == {}


@pytest.mark.parametrize(("story_id", "marks", "said"), [
    ("not-a-story", {"starred": True}, 'no candidate "not-a-story"'),
    ("", {"skipped": True}, 'no candidate ""'),
    (None, {"starred": True, "skipped": True}, "starred or skipped, not both"),
])
def test_a_mark_that_cannot_be_made_says_why(stocked: tuple[Settings, GeneratedStore],
                                             story_id: str | None, marks: dict[str, bool],
                                             said: str) -> None:
    settings, _ = stocked
    real = BROWSER.candidates(settings, CandidateQuery(limit=1)).rows[0].id
    prefix = real[:6]
    with pytest.raises(NewsletterError, match=re.escape(said)):
        BROWSER.mark(settings, real if story_id is None else story_id, **marks)
    with pytest.raises(NewsletterError, match="no candidate"):  # only a whole id marks
        BROWSER.mark(settings, prefix, starred=True)


# --- the issue panel -------------------------------------------------------------------


def test_the_panel_lists_every_slot_of_the_example_issue_as_readers_see_it(
        desk: Path) -> None:
    settings = api.load_desk(desk)
    path = desk / "issues" / EXAMPLE_ISSUE.name
    panel = BROWSER.panel(settings, path)
    assert (panel.error, panel.path, panel.digest) == ("", path, drafts.file_digest(path))
    issue = load_issue(path, settings)
    slots = {item.slot for item in panel.items}
    assert slots == {"lead", "lead.body", "catch_up", "deep_dives", "sponsors"}
    kinds = {item.kind for item in panel.items}
    assert {"inline", "text", "video", "related", "sponsor"} <= kinds
    lines = {item.location.line for item in issue.items() if item.location}
    assert lines == {i.line for i in panel.items if i.kind not in ("text",)}
    [lead] = [i for i in panel.items if i.slot == "lead"]
    assert (lead.headline, lead.url, lead.headline_written) == (
        issue.lead.headline, issue.lead.url, True)
    assert issue.catch_up and issue.deep_dives
    catch_up = [i for i in panel.items if i.slot == "catch_up"]
    assert [i.position for i in catch_up] == list(range(1, len(issue.catch_up.items) + 1))
    for item, read in zip(catch_up, issue.catch_up.items, strict=True):
        assert item.headline == getattr(read, "headline", item.headline)
        assert item.blurb == getattr(read, "blurb", "")
    dives = [i for i in panel.items if i.slot == "deep_dives"]
    assert [(i.headline, i.blurb) for i in dives] == [
        (d.headline, d.blurb) for d in issue.deep_dives.items]
    assert all(i.blurb == "" for i in panel.items if i.slot not in ("catch_up", "deep_dives"))


def picked_draft(settings: Settings, made: GeneratedStore) -> tuple[Path, CandidateRow]:
    """A new draft, and an unused candidate to pick into it."""
    new = api.new_issue(settings, date=dt.date(2026, 12, 4))
    row = next(r for r in every_row(settings, unused=True) if r.summary)
    return settings.root / new.path if not new.path.is_absolute() else new.path, row


def test_a_picked_story_shows_the_candidates_words_until_the_editor_writes_its_own(
        stocked: tuple[Settings, GeneratedStore], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, made = stocked
    monkeypatch.chdir(settings.root)
    path, row = picked_draft(settings, made)
    digest = BROWSER.panel(settings, path).digest
    edit = BROWSER.pick(settings, path, row.id, into="catch_up", digest=digest)
    [mine] = [i for i in BROWSER.panel(settings, path).items if i.story == row.id]
    assert (mine.slot, mine.kind, mine.line, mine.headline) == ("catch_up", "story", edit.line,
                                                                row.title)
    assert mine.blurb and not mine.headline_written and not mine.blurb_written
    edit = BROWSER.edit(settings, path, row.id, field="headline", value='Ours: "kelp" #1',
                        digest=edit.digest)
    edit = BROWSER.edit(settings, path, row.id, field="blurb", value="Two\nlines.",
                        digest=edit.digest)
    [mine] = [i for i in BROWSER.panel(settings, path).items if i.story == row.id]
    assert (mine.headline, mine.blurb, mine.headline_written, mine.blurb_written) == (
        'Ours: "kelp" #1', "Two\nlines.", True, True)
    edit = BROWSER.edit(settings, path, row.id, field="headline", value="",
                        digest=edit.digest)
    [mine] = [i for i in BROWSER.panel(settings, path).items if i.story == row.id]
    assert (mine.headline, mine.headline_written) == (row.title, False)


def test_an_issue_that_does_not_resolve_still_shows_what_can_be_placed(
        stocked: tuple[Settings, GeneratedStore]) -> None:
    settings, _ = stocked
    path = settings.issues_dir / "2026-12-04.yaml"
    path.write_text("number: 49\ndate: 2026-12-04\nsubject: S\nlead:\n  story: nothere1\n"
                    "catch_up:\n  items:\n    - url: https://e.org/a\n      headline: A\n",
                    encoding="utf-8")
    panel = BROWSER.panel(settings, path)
    assert 'no candidate "nothere1"' in panel.error and panel.digest == drafts.file_digest(path)
    assert [(i.slot, i.kind, i.story, i.headline, i.line) for i in panel.items] == [
        ("lead", "story", None, "", 5), ("catch_up", "inline", None, "A", 8)]
    path.write_text("number: [49\n", encoding="utf-8")
    broken = BROWSER.panel(settings, path)
    assert "cannot read the file" in broken.error and broken.items == ()
    assert broken.digest == drafts.file_digest(path)


# --- writes: digests, conflicts, undo --------------------------------------------------


def test_every_write_carries_a_digest_and_undo_is_a_file_edit(
        stocked: tuple[Settings, GeneratedStore], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, made = stocked
    monkeypatch.chdir(settings.root)
    path, _ = picked_draft(settings, made)
    a, b, c = every_row(settings, unused=True)[:3]
    start = path.read_bytes()
    digest = BROWSER.panel(settings, path).digest
    undo: list[drafts.Edit] = []
    steps: list[Callable[[str], drafts.Edit]] = [
             lambda d: BROWSER.pick(settings, path, a.id, into="lead", digest=d),
                 lambda d: BROWSER.pick(settings, path, b.id, into="deep_dives", digest=d),
                 lambda d: BROWSER.pick(settings, path, c.id, into="deep_dives", digest=d),
                 lambda d: BROWSER.move(settings, path, c.id, to=1, digest=d),
                 lambda d: BROWSER.move(settings, path, b.id, before=c.id, digest=d),
                 lambda d: BROWSER.unpick(settings, path, b.id, digest=d)]
    for step in steps:
        before = path.read_bytes()
        edit = step(digest)
        assert edit.before == before and edit.digest == drafts.file_digest(path) != digest
        undo.append(edit)
        digest = edit.digest
    stale = undo[0].digest
    with pytest.raises(drafts.EditConflict):
        BROWSER.pick(settings, path, b.id, into="catch_up", digest=stale)
    with pytest.raises(drafts.EditConflict):
        BROWSER.restore(settings, path, undo[0].before, digest=stale)
    for edit in reversed(undo):  # undo, step by step, each under the digest it wrote
        BROWSER.restore(settings, path, edit.before, digest=edit.digest)
    assert path.read_bytes() == start
    assert start.startswith(b"# Issue 49: a draft.")  # the draft's comments too


def test_a_write_against_a_file_saved_meanwhile_in_a_text_editor_is_refused(
        stocked: tuple[Settings, GeneratedStore], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, made = stocked
    monkeypatch.chdir(settings.root)
    path, row = picked_draft(settings, made)
    digest = BROWSER.panel(settings, path).digest
    typed = path.read_bytes().replace(b"status: draft", b"status: draft  # my note")
    path.write_bytes(typed)
    writes: list[Callable[[], drafts.Edit]] = [
              lambda: BROWSER.pick(settings, path, row.id, into="catch_up", digest=digest),
                  lambda: BROWSER.edit(settings, path, row.id, field="headline", value="x",
                                       digest=digest),
                  lambda: BROWSER.restore(settings, path, b"number: 1\n", digest=digest)]
    for write in writes:
        with pytest.raises(drafts.EditConflict, match="changed since it was read"):
            write()
        assert path.read_bytes() == typed
    assert BROWSER.panel(settings, path).digest == drafts.file_digest(path) != digest


def test_the_issues_own_words_are_written_with_a_digest_then_undone(
        stocked: tuple[Settings, GeneratedStore], monkeypatch: pytest.MonkeyPatch) -> None:
    """Subject, preheader, intro and the lead's bullets: what `newsletter new` leaves
    as TODO, written as the desk writes them, each under the digest of the one
    before; a stale digest is refused; undo gives back the draft byte for byte."""
    settings, made = stocked
    monkeypatch.chdir(settings.root)
    path, _ = picked_draft(settings, made)
    start = path.read_bytes()
    digest = BROWSER.panel(settings, path).digest
    steps: list[Callable[[str], drafts.Edit]] = [
        lambda d: BROWSER.edit_issue(settings, path, field="subject", value='Kelp: "back"',
                                     digest=d),
        lambda d: BROWSER.edit_issue(settings, path, field="preheader", value="yes",
                                     digest=d),
        lambda d: BROWSER.edit_issue(settings, path, field="intro", value="Two\nlines",
                                     digest=d),
        lambda d: BROWSER.edit_bullets(settings, path, ["What happened", "null"], digest=d)]
    edits = []
    for step in steps:
        before = path.read_bytes()
        edit = step(digest)
        assert edit.before == before and edit.digest == drafts.file_digest(path) != digest
        edits.append(edit)
        digest = edit.digest
    issue = load_issue(path, settings)
    assert (issue.subject, issue.preheader, issue.intro, issue.lead.bullets) == (
        'Kelp: "back"', "yes", "Two\nlines", ("What happened", "null"))
    todo = [line for line in path.read_bytes().splitlines() if b"TODO" in line]
    assert todo and all(b"headline:" in line for line in todo), todo  # the stories' own
    stale = edits[0].digest
    for write in (lambda: BROWSER.edit_issue(settings, path, field="subject", value="x",
                                             digest=stale),
                  lambda: BROWSER.edit_bullets(settings, path, [], digest=stale)):
        with pytest.raises(drafts.EditConflict):
            write()
    for edit in reversed(edits):
        BROWSER.restore(settings, path, edit.before, digest=edit.digest)
    assert path.read_bytes() == start


# --- findings and the test send --------------------------------------------------------


def test_findings_are_offline_unless_links_are_asked_for(desk: Path) -> None:
    settings = api.load_desk(desk)
    path = desk / "issues" / EXAMPLE_ISSUE.name
    offline = BROWSER.findings(settings, path, links=False)
    assert offline.source == path and offline.findings
    assert not [f for f in offline.findings if f.code.startswith("link-")]
    document = offline.to_json()
    assert set(document) == {"path", "findings", "counts"}
    assert document == api.CheckRun(reports=(offline,)).to_json()["issues"][0]  # type: ignore[index]  # a list
    linked = BROWSER.findings(settings, path, links=True)  # the tests reach 127.0.0.1 only
    assert [f for f in linked.findings if f.code == "link-unreachable"]


@pytest.fixture()
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1, named to the desk through the environment."""
    box = Mailbox()
    controller: Controller = LocalController(box, hostname="127.0.0.1", port=0,
                                             ready_timeout=5)
    controller.start()
    monkeypatch.setenv("NEWSLETTER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("NEWSLETTER_SMTP_SECURITY", "none")
    yield box
    controller.stop()


def test_a_test_send_goes_through_the_desks_server_to_one_address(desk: Path,
                                                                  mailbox: Mailbox) -> None:
    settings = api.load_desk(desk)
    path = desk / "issues" / EXAMPLE_ISSUE.name
    subject = BROWSER.send_test(settings, path, "editor@example.org")
    assert subject.startswith("[TEST] Tideline #48")
    got = received(mailbox)
    assert (got["Subject"], got["To"]) == (subject, "editor@example.org")
    for hostile in ("a@e.org, b@e.org", "editor@example.org\r\nBcc: x@e.org", "nobody"):
        with pytest.raises(NewsletterError):
            BROWSER.send_test(settings, path, hostile)
    assert len(mailbox.envelopes) == 1


def test_panel_items_are_the_models_values() -> None:
    fields = {f.name for f in dataclasses.fields(PanelItem)}
    assert fields == {"slot", "position", "line", "story", "url", "headline", "blurb",
                      "headline_written", "blurb_written", "kind"}
