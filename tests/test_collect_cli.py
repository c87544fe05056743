"""The collecting workflow as an editor runs it: fetch -> candidates -> new -> pick -> build."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import DATA, REPO, LocalSite, corpus_files

from newsletter import api
from newsletter.collect.store import SaveCounts
from newsletter.desk.config import load_settings
from newsletter.errors import NewsletterError
from newsletter.model import FeedSpec, FeedState, FetchOutcome, FetchResult, Settings


def run(desk: Path, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=desk,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "COLUMNS": str(columns)})


@pytest.fixture()
def fed_desk(desk: Path) -> Path:
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    result = run(desk, "fetch")
    assert result.returncode == 0, result.stderr
    return desk


def candidate_ids(desk: Path, *args: str) -> list[str]:
    result = run(desk, "candidates", "--json", "--limit", "100", *args)
    assert result.returncode == 0, result.stderr
    return [story["id"] for story in json.loads(result.stdout)]


def test_fetch_reports_every_feed_and_a_second_fetch_finds_nothing_new(fed_desk: Path) -> None:
    again = run(fed_desk, "fetch")
    assert again.returncode == 0
    for name in ("ocean-science", "coastal-desk", "haiyang-weekly"):
        assert name in again.stdout
    assert "updated" not in again.stdout.split("┡")[1]  # the table body: nothing re-parsed


def failed_fetch(name: str) -> FetchResult:
    spec = FeedSpec(name=name, url=f"https://{name}.example.org/feed.xml")
    return FetchResult(feed=spec, outcome=FetchOutcome.FAILED, state=FeedState(url=spec.url or ""))


def test_the_writer_takes_the_results_waiting_in_line_and_sees_their_end() -> None:
    a, b, c = failed_fetch("a"), failed_fetch("b"), failed_fetch("c")
    line: queue.Queue[FetchResult | None] = queue.Queue()
    for item in (a, b, c, None):
        line.put(item)
    assert api._in_line(line, most=2) == ([a, b], False)
    assert api._in_line(line, most=2) == ([c], True)
    line.put(a)
    assert api._in_line(line, most=2) == ([a], False)  # does not wait for a second
    line.put(None)
    assert api._in_line(line, most=2) == ([], True)


def test_feeds_saved_together_are_all_reported_though_a_report_fails() -> None:
    done = [api.FetchReport(result=failed_fetch(name), saved=SaveCounts()) for name in "abc"]
    seen: list[str] = []

    def report(one: api.FetchReport) -> None:
        seen.append(one.result.feed.name)
        raise RuntimeError(f"display broke at {one.result.feed.name}")

    with pytest.raises(RuntimeError, match="display broke at a"):  # the first failure
        api._report_each(done, report)
    assert seen == ["a", "b", "c"]  # all three were saved, so all three are reported
    api._report_each(done, None)  # nobody listening: nothing to report


@pytest.mark.parametrize("failing", [1, 3])
def test_a_writer_that_fails_stops_the_fetch_with_its_error_and_nothing_hangs(
        desk: Path, failing: int) -> None:
    """Whether or not the writer had already taken the end of the results; and every
    feed it saved is reported, even after a report failed."""
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    settings, seen, raised = api.load_desk(desk), [], []

    def report(done: api.FetchReport) -> None:
        seen.append(done.result.feed.name)
        if len(seen) == failing:
            raise RuntimeError("the progress display broke")

    def fetch() -> None:
        try:
            api.fetch(settings, on_report=report)
        except RuntimeError as exc:
            raised.append(exc)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    thread.join(timeout=60)  # a fetch of three local feeds takes well under a second
    assert not thread.is_alive(), "the fetch hung on its dead writer"
    assert [str(exc) for exc in raised] == ["the progress display broke"]
    with api.open_store(settings) as store:
        saved = set(store.feed_status())
    assert len(seen) >= failing and sorted(seen) == sorted(saved)


def test_the_whole_workflow_builds_an_issue_of_fetched_stories(fed_desk: Path,
                                                                tmp_path: Path) -> None:
    ids = candidate_ids(fed_desk, "--since", "3650d")
    assert len(ids) == 28  # 30 entries, 2 of them the same story in two feeds
    chinese = candidate_ids(fed_desk, "--search", "红树林")
    assert chinese and chinese[0] in ids
    assert run(fed_desk, "new", "--date", "2026-12-04").returncode == 0
    draft = fed_desk / "issues" / "2026-12-04.yaml"
    assert "number: 49" in draft.read_text(encoding="utf-8")
    for ref, section in ((ids[0][:6], "lead"), (ids[1], "catch_up"), (chinese[0], "deep_dives")):
        picked = run(fed_desk, "pick", ref, "--into", section)
        assert picked.returncode == 0, picked.stderr
    built = run(fed_desk, "build", "--drafts", "--offline", "--out", str(tmp_path / "site"))
    assert built.returncode == 0, built.stderr
    settings = api.load_desk(fed_desk)
    with api.open_store(settings) as store:
        stories = [store.find(ref) for ref in (ids[0], ids[1], chinese[0])]
    email = (tmp_path / "site" / "issues" / "2026-12-04" / "email.txt").read_text("utf-8")
    # the text part sets typographic quotes; the store keeps the feed's straight ones
    curly_to_straight = str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")
    straight = email.replace("\n", " ").translate(curly_to_straight)
    for story in stories:
        assert story is not None and story.title[:20] in straight
    assert not set(candidate_ids(fed_desk, "--unused")) & {ids[0], ids[1], chinese[0]}


def test_a_lock_file_keeps_a_rebuild_the_same_after_the_store_is_gone(fed_desk: Path,
                                                                      tmp_path: Path) -> None:
    ids = candidate_ids(fed_desk)
    assert run(fed_desk, "new", "--date", "2026-12-04").returncode == 0
    assert run(fed_desk, "pick", ids[0], "--into", "lead").returncode == 0
    first = run(fed_desk, "build", "issues/2026-12-04.yaml", "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    assert (fed_desk / "issues" / "2026-12-04.lock.json").is_file()
    shutil.rmtree(fed_desk / ".newsletter")
    again = run(fed_desk, "build", "issues/2026-12-04.yaml", "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    page = Path("issues") / "2026-12-04" / "email.html"
    assert (tmp_path / "a" / page).read_bytes() == (tmp_path / "b" / page).read_bytes()
    refreshed = run(fed_desk, "build", "issues/2026-12-04.yaml", "--refresh", "--out",
                    str(tmp_path / "c"))
    assert refreshed.returncode == 1 and "no candidate" in refreshed.stderr


def test_feeds_list_export_import(fed_desk: Path, tmp_path: Path) -> None:
    listed = run(fed_desk, "feeds")
    assert listed.returncode == 0 and "coastal-desk" in listed.stdout and "updated" in listed.stdout
    opml = tmp_path / "list.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><body>'
                    '<outline text="Tides" xmlUrl="https://tides.example.org/rss"/>'
                    "</body></opml>", encoding="utf-8")
    imported = run(fed_desk, "feeds", "import", str(opml))
    assert imported.returncode == 0 and "1 new feed" in imported.stdout
    assert "https://tides.example.org/rss" in (fed_desk / "newsletter.yaml").read_text("utf-8")
    assert "# Tracking parameters" in (fed_desk / "newsletter.yaml").read_text("utf-8")
    exported = run(fed_desk, "feeds", "export")
    assert exported.returncode == 0 and 'xmlUrl="https://tides.example.org/rss"' in exported.stdout


def test_prune_keeps_used_stories(fed_desk: Path) -> None:
    ids = candidate_ids(fed_desk)
    settings = api.load_desk(fed_desk)
    with api.open_store(settings) as store:
        import datetime as dt

        store.mark_used([ids[-1]], issue_number=1, issue_date=dt.date(2026, 11, 1))
    pruned = run(fed_desk, "prune", "--older-than", "0d")
    assert pruned.returncode == 0 and f"removed {len(ids) - 1} stories" in pruned.stdout
    assert candidate_ids(fed_desk) == [ids[-1]]


@pytest.fixture()
def page_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "story.html").write_text(
        '<html lang="en"><head><meta property="og:title" content="A page in no feed">'
        '<meta property="og:description" content="Found by hand."></head></html>',
        encoding="utf-8")
    site = LocalSite(tmp_path)
    try:
        yield site.url
    finally:
        site.close()


def test_add_keeps_a_page_as_a_candidate(fed_desk: Path, page_server: str) -> None:
    added = run(fed_desk, "add", f"{page_server}story.html")
    assert added.returncode == 0, added.stderr
    found = json.loads(run(fed_desk, "candidates", "--json", "--search", "page in no").stdout)
    assert [s["title"] for s in found] == ["A page in no feed"]
    missing = run(fed_desk, "add", f"{page_server}nope.html")
    assert missing.returncode == 1 and "404" in missing.stderr and "Traceback" not in missing.stderr


def test_candidates_before_any_fetch_says_what_to_do(desk: Path) -> None:
    result = run(desk, "candidates")
    assert result.returncode == 1 and "newsletter fetch" in result.stderr


# --- feeds import: never a desk that will not load --------------------------------------

IMPORTS = DATA / "feeds_import"
CORPUS_OPML = corpus_files("feeds/rsparser/not_a_feed", "*.opml")  # none on a plain clone


def opml_of(count: int, host: str) -> str:
    outlines = "".join(f'<outline text="Feed {i}" xmlUrl="https://{host}/{i}.xml"/>'
                       for i in range(count))
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'


def test_an_import_past_the_feed_limit_is_refused_before_it_writes(desk: Path,
                                                                   tmp_path: Path) -> None:
    big = tmp_path / "subscriptions.opml"
    big.write_text(opml_of(2_309, "many.example.org"), encoding="utf-8")
    before = (desk / "newsletter.yaml").read_bytes()
    result = run(desk, "feeds", "import", str(big))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for said in ("subscriptions.opml not imported", "subscriptions.opml lists 2,309 feeds",
                 "the desk has 3", "at most 500 are allowed", "import a smaller list",
                 "remove feeds", "nothing was written"):
        assert said in result.stderr, result.stderr
    assert (desk / "newsletter.yaml").read_bytes() == before
    assert run(desk, "feeds").returncode == 0
    assert [p.name for p in desk.iterdir() if p.name.startswith(".newsletter.yaml")] == []


def test_an_outline_the_settings_reader_refuses_stops_the_import_naming_it(desk: Path
                                                                           ) -> None:
    before = (desk / "newsletter.yaml").read_bytes()
    with pytest.raises(NewsletterError) as caught:
        api.import_feeds(api.load_desk(desk), IMPORTS / "refused_outlines.opml")
    message = str(caught.value)
    for said in ('"Wordy language"', "is not a language tag", '"Spaced address"',
                 "is not a web address", '"Invisible', "control character"):
        assert said in message, message
    assert "Fine feed" not in message
    assert (desk / "newsletter.yaml").read_bytes() == before


@pytest.mark.parametrize("opml", [*CORPUS_OPML, IMPORTS / "odd_outlines.opml"],
                         ids=lambda path: path.name)
def test_an_import_that_succeeds_gives_a_desk_that_loads(desk: Path, opml: Path) -> None:
    added = api.import_feeds(api.load_desk(desk), opml)
    assert added
    settings = load_settings(desk / "newsletter.yaml")  # raises if any command would refuse it
    names = [feed.name for feed in settings.feeds]
    assert len(names) == len(set(names)) == 3 + len(added)
    assert {feed.url for feed in added} <= {feed.url for feed in settings.feeds}


def test_imports_one_after_another_keep_the_desk_loading(desk: Path, tmp_path: Path) -> None:
    for count, opml in enumerate([*CORPUS_OPML, IMPORTS / "odd_outlines.opml"]):
        api.import_feeds(api.load_desk(desk), opml)
        load_settings(desk / "newsletter.yaml")
        (tmp_path / f"{count}.opml").write_text(opml_of(60, f"h{count}.example.org"),
                                                encoding="utf-8")
        api.import_feeds(api.load_desk(desk), tmp_path / f"{count}.opml")
        load_settings(desk / "newsletter.yaml")


class _GoneHandler(http.server.BaseHTTPRequestHandler):
    """Answers 410 Gone and counts how often it was asked."""

    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        self.send_response(410)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_feed_gone_for_good_is_not_asked_until_enabled(fed_desk: Path) -> None:
    site = LocalSite(handler=_GoneHandler)
    try:
        settings = fed_desk / "newsletter.yaml"
        settings.write_text(settings.read_text(encoding="utf-8").replace(
            "feeds:\n", f"feeds:\n  - name: Old-Wire\n    url: {site.url}feed.xml\n", 1),
            encoding="utf-8")
        first = run(fed_desk, "fetch", columns=300)
        assert "the feed was removed (HTTP 410 Gone)" in first.stdout, first.stdout
        second = run(fed_desk, "fetch", columns=300)
        assert _GoneHandler.asked == 1
        assert "gone" in second.stdout and "feeds enable Old-Wire" in second.stdout
        enabled = run(fed_desk, "feeds", "enable", "old-wire")  # any case
        assert enabled.returncode == 0 and "asked again" in enabled.stdout
        run(fed_desk, "fetch")
        assert _GoneHandler.asked == 2
        unknown = run(fed_desk, "feeds", "enable", "nope")
        assert unknown.returncode == 1 and "Old-Wire, ocean-science" in unknown.stderr
    finally:
        site.close()


# --- smaller things that were seen (issue 13) -------------------------------------------

PICKED_ISSUE = """\
number: 49
date: 2026-11-30
status: ready
subject: Fetched stories
lead:
  story: {lead}
"""


def picked_issue(desk: Path, lead: str) -> Path:
    path = desk / "issues" / "2026-11-30.yaml"
    path.write_text(PICKED_ISSUE.format(lead=lead), encoding="utf-8")
    return path


def test_a_build_into_another_folder_never_rewrites_the_lock(fed_desk: Path,
                                                              tmp_path: Path) -> None:
    [lead, *_] = candidate_ids(fed_desk, "--feed", "ocean-science")  # pictures with sizes
    issue = picked_issue(fed_desk, lead)
    assert run(fed_desk, "build", str(issue.relative_to(fed_desk))).returncode == 0
    lock = fed_desk / "issues" / "2026-11-30.lock.json"
    # as committed: what the issue went out with, since changed in the feed
    pinned = json.loads(lock.read_text(encoding="utf-8"))
    pinned["stories"][0]["title"] = "The headline as it went out"
    lock.write_text(json.dumps(pinned), encoding="utf-8")
    committed = lock.read_bytes()
    preview = run(fed_desk, "build", "--refresh", "--out", str(tmp_path / "preview"))
    assert preview.returncode == 0, preview.stderr
    assert lock.read_bytes() == committed  # a build elsewhere is a preview
    email = (tmp_path / "preview" / "issues" / "2026-11-30" / "email.txt").read_text("utf-8")
    assert "The headline as it went out" not in email  # refreshed from the store
    assert run(fed_desk, "build", "--refresh").returncode == 0
    assert "The headline as it went out" not in lock.read_text(encoding="utf-8")


def test_in_ci_a_story_the_lock_does_not_pin_says_to_commit_the_lock(fed_desk: Path,
                                                                       tmp_path: Path) -> None:
    [lead, *_] = candidate_ids(fed_desk, "--feed", "ocean-science")
    picked_issue(fed_desk, lead)
    shutil.rmtree(fed_desk / ".newsletter")  # a fresh checkout: no store, and no lock
    built = run(fed_desk, "build", "--out", str(tmp_path / "site"))
    assert built.returncode == 1
    assert "2026-11-30.lock.json" in built.stderr and "commit" in built.stderr, built.stderr
    assert 'run "newsletter fetch"' not in built.stderr


def test_the_scaffold_links_the_repository_the_user_agent_names(tmp_path: Path) -> None:
    import re

    from newsletter._http import USER_AGENT

    repository = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
    named = repository.search(USER_AGENT)
    assert named is not None
    written = api.init_desk(tmp_path / "desk")
    linked = {found.rstrip(".") for path in written
              for found in repository.findall(path.read_text(encoding="utf-8"))}
    assert linked == {named.group(0)}


def test_a_japanese_story_in_a_chinese_feed_is_japanese() -> None:
    import datetime as dt

    from newsletter.collect.parse import parse_feed

    def feed(language: str, *items: tuple[str, str, str | None],
             summary: dict[str, str] | None = None) -> bytes:
        return json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": "Feed",
            "language": language, "items": [
                {"id": key, "url": f"https://news.example.net/{key}", "title": title,
                 "summary": (summary or {}).get(key, "…"),
                 **({"language": own} if own else {})}
                for key, title, own in items]}).encode()

    def languages(data: bytes) -> dict[str, str | None]:
        parsed = parse_feed(data, feed="f", url="https://news.example.net/feed.json",
                            fetched_at=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
        return {story.url.rpartition("/")[2]: story.language for story in parsed.stories}

    chinese = feed("zh-Hans",
                   ("ja", "東京湾で新種のクラゲを発見、研究チームが発表", None),
                   ("zh", "东屿湾滩涂迎来越冬鸻鹬、志愿者连续第五年开展调查", None),
                   ("brand", "索尼宣布新款随身听「ウォークマン」在华上市", None),
                   ("film", "宫崎骏新作上映 《となりのトトロ》之后最受期待的作品", None),
                   ("declared", "東京湾で新種のクラゲを発見", "zh-Hant"),
                   ("quoted", "首相「増税はしない」と表明", None),
                   summary={"quoted": "首相は記者会見で、来年度の予算について説明した。"})
    assert languages(chinese) == {"ja": "ja", "zh": "zh-Hans", "brand": "zh-Hans",
                                  "film": "zh-Hans", "declared": "zh-Hant", "quoted": "ja"}
    english = feed("en", ("pokemon", "Why the new Pokémon game is called ポケモン in Japan", None),
                   ("tokyo", "東京湾で新種のクラゲを発見、研究チームが発表", None))
    assert languages(english) == {"pokemon": "en", "tokyo": "ja"}


# --- from a fetched desk to an issue, without a text editor ----------------------------------


def issue_text(desk: Path, date: str) -> str:
    return (desk / "issues" / f"{date}.yaml").read_text(encoding="utf-8")


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str], *said: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    for words in said:
        assert words in result.stderr, result.stderr


def chosen_today(desk: Path, cadence: str) -> tuple[dt.date, str]:
    """The date `newsletter new` should choose today, and why: the rule itself, with
    `today` fixed, is test_drafting's; here the command must follow it."""
    from newsletter.desk.cadence import Cadence, choose_issue_date

    taken = {dt.date.fromisoformat(p.stem) for p in (desk / "issues").glob("????-??-??.yaml")}
    return choose_issue_date(Cadence.parse(cadence), taken, dt.datetime.now(dt.UTC).date())


def test_new_without_a_date_takes_the_next_date_at_the_desks_cadence(fed_desk: Path) -> None:
    day, why = chosen_today(fed_desk, "weekly on friday")
    assert day >= dt.date(2026, 12, 4) and day.weekday() == 4  # a Friday after 2026-11-27
    made = ok(run(fed_desk, "new", columns=300))
    assert f"issues/{day}.yaml: issue 49, Friday {day}: {why}" in made.stdout, made.stdout
    assert "the newest issue (2026-11-27)" in made.stdout and "weekly on friday" in made.stdout
    draft = issue_text(fed_desk, str(day))
    assert "\nlead:\n" in draft and "\ncatch_up:\n  items:\n" in draft
    assert "\ndeep_dives:\n  items:\n" in draft
    settings = fed_desk / "newsletter.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "cadence: weekly on friday", "cadence: Every 2 weeks on Monday"), encoding="utf-8")
    day, why = chosen_today(fed_desk, "every 2 weeks on monday")
    assert day.weekday() == 0
    again = ok(run(fed_desk, "new", columns=300))
    assert f"issues/{day}.yaml: issue 50, Monday {day}: {why}" in again.stdout, again.stdout
    assert "at the desk's cadence, every 2 weeks on monday" in again.stdout


def test_new_on_a_fresh_desk_does_not_collide_with_its_first_issue(tmp_path: Path) -> None:
    ok(run(tmp_path, "init", "fresh"))
    desk = tmp_path / "fresh"
    [first] = (desk / "issues").glob("*.yaml")
    made = ok(run(desk, "new", columns=300))
    [_, second] = sorted((desk / "issues").glob("*.yaml"))
    gap = dt.date.fromisoformat(second.stem) - dt.date.fromisoformat(first.stem)
    assert dt.timedelta(days=1) <= gap <= dt.timedelta(days=7), made.stdout  # weekly or daily
    assert f"{second.name}: issue 2, " in made.stdout and "the newest issue" in made.stdout
    assert "no candidates offered: newsletter.yaml lists no feeds" in made.stderr
    assert 'newsletter feeds add URL' in made.stdout
    assert ok(run(desk, "build", "--drafts")).returncode == 0  # the draft builds as written


@pytest.mark.parametrize(("setting", "said"), [
    ("cadence: [weekly]", "cadence: expected text, not a list or mapping"),
    ("cadence: weekly on frieday", 'cadence: "frieday" is not a day of the week'),
    ("cadence: monthly", 'cadence: "monthly" is not a cadence'),
])
def test_a_cadence_that_cannot_be_read_is_a_located_error(desk: Path, setting: str,
                                                          said: str) -> None:
    settings = desk / "newsletter.yaml"
    text = settings.read_text(encoding="utf-8")
    line = text[:text.index("cadence: weekly on friday")].count("\n") + 1
    settings.write_text(re.sub(r"^cadence: .*$", setting, text, count=1, flags=re.M), "utf-8")
    refused(run(desk, "new"), f"newsletter.yaml:{line}:", said, "hint:",
            "friday" if "frieday" in setting else '"weekly on friday"')


def test_new_says_why_no_candidate_was_offered(desk: Path) -> None:
    settings = api.load_desk(desk)
    dated = {"today": dt.date(2026, 12, 4)}
    made = api.new_issue(settings, **dated)
    assert (made.offered, made.none_offered) == (0, "the feeds have not been fetched yet")
    assert '"newsletter fetch"' in made.hint
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    api.fetch(settings)
    with api.open_store(settings) as store:
        ids = [s.id for s in store.search(limit=100)]
        store.mark_used(ids[:1], issue_number=48, issue_date=dt.date(2031, 1, 1))
    made = api.new_issue(settings, date=dt.date(2026, 12, 11))
    assert made.none_offered == "no unused candidate since the last issue (2031-01-01)"
    assert "--unused" in made.hint
    with api.open_store(settings) as store:
        store.mark_used(ids, issue_number=48, issue_date=dt.date(2026, 11, 27))
    made = api.new_issue(settings, date=dt.date(2026, 12, 18))
    assert made.none_offered == "every candidate in the store already ran in an issue"
    assert "newsletter add URL" in made.hint


def test_pick_unpick_and_move_order_an_issue_without_a_text_editor(fed_desk: Path,
                                                                    tmp_path: Path) -> None:
    ids = candidate_ids(fed_desk)
    ok(run(fed_desk, "new", "--date", "2026-12-04"))
    assert ids[0] in issue_text(fed_desk, "2026-12-04")  # offered as a comment
    ok(run(fed_desk, "pick", ids[0], "--into", "lead"))
    assert f"#    - story: {ids[0]}" not in issue_text(fed_desk, "2026-12-04")
    refused(run(fed_desk, "pick", ids[1], "--into", "lead"),
            f"issues/2026-12-04.yaml:12: the lead is already {ids[0]}", "--replace")
    replaced = ok(run(fed_desk, "pick", ids[1], "--into", "lead", "--replace"))
    assert f"replaced the lead {ids[0]}" in replaced.stdout
    assert "kept its bullets: review them" in replaced.stdout
    refused(run(fed_desk, "pick", ids[1][:5], "--into", "catch_up"),
            f"{ids[1]} is already in this issue, the lead: story: {ids[1]}")
    for ref in ids[2:6]:
        ok(run(fed_desk, "pick", ref, "--into", "catch_up"))
    refused(run(fed_desk, "pick", ids[3], "--into", "deep_dives"),
            "is already in this issue, catch_up item 2", "unpick")
    moved = ok(run(fed_desk, "move", ids[5], "--to", "1"))
    assert "moved" in moved.stdout and "from 4 to 1" in moved.stdout
    ok(run(fed_desk, "move", ids[2], "--before", ids[5]))
    ok(run(fed_desk, "unpick", ids[3]))
    ok(run(fed_desk, "pick", ids[3], "--into", "deep_dives"))
    text = issue_text(fed_desk, "2026-12-04")
    order = sorted(ids[1:6], key=text.index)
    assert order == [ids[1], ids[2], ids[5], ids[4], ids[3]], text
    assert "replace-me" not in text.split("bullets:")[1]
    ok(run(fed_desk, "build", "--drafts", "--out", str(tmp_path / "site")))
    email = (tmp_path / "site" / "issues" / "2026-12-04" / "email.txt").read_text("utf-8")
    settings = api.load_desk(fed_desk)
    with api.open_store(settings) as store:
        titles = [" ".join(store.find(i).title.split())[:25] for i in  # type: ignore[union-attr]
                  (ids[2], ids[5], ids[4])]
    flat = " ".join(email.split())
    assert sorted(titles, key=flat.index) == titles


def test_pick_warns_when_a_story_ran_in_another_issue(fed_desk: Path, tmp_path: Path) -> None:
    ids = candidate_ids(fed_desk)
    ok(run(fed_desk, "new", "--date", "2026-12-04"))
    ok(run(fed_desk, "pick", ids[0], "--into", "lead"))
    ok(run(fed_desk, "build", "--drafts", "--out", str(tmp_path / "site")))
    ok(run(fed_desk, "new", "--date", "2026-12-11"))
    again = ok(run(fed_desk, "pick", ids[0], "--into", "catch_up"))
    assert f"warning: {ids[0]} ran in #49 on 2026-12-04" in again.stderr
    ok(run(fed_desk, "unpick", ids[0]))
    shutil.rmtree(fed_desk / ".newsletter")  # a fresh store: only the lock file remembers
    ok(run(fed_desk, "fetch"))
    again = ok(run(fed_desk, "pick", ids[0], "--into", "catch_up"))
    assert f"warning: {ids[0]} ran in #49 on 2026-12-04" in again.stderr
    listed = json.loads(ok(run(fed_desk, "candidates", "--json", "--limit", "100")).stdout)
    used = {story["id"]: story["used_in"] for story in listed}
    assert used[ids[0]] == [{"number": 49, "date": "2026-12-04"}] and used[ids[1]] == []
    table = ok(run(fed_desk, "candidates", "--limit", "100", columns=250)).stdout
    assert "used in" in table and "#49" in next(line for line in table.splitlines()
                                                if ids[0] in line)


def test_show_prints_one_candidate_whole(fed_desk: Path) -> None:
    [chinese] = candidate_ids(fed_desk, "--search", "红树林")[:1]
    shown_text = ok(run(fed_desk, "show", chinese[:6], columns=200)).stdout
    for said in (chinese, "link       https://", "sources    haiyang-weekly", "published  20",
                 "collected  20", "picture    ", "ran in     no issue yet", "红树幼苗"):
        assert said in shown_text, shown_text
    assert "<p>" not in shown_text  # the summary as text
    data = json.loads(ok(run(fed_desk, "show", chinese, "--json")).stdout)
    assert data["id"] == chinese and data["used_in"] == [] and "红树幼苗" in data["summary_text"]
    ok(run(fed_desk, "new", "--date", "2026-12-04"))
    ok(run(fed_desk, "pick", chinese, "--into", "deep_dives"))
    held = ok(run(fed_desk, "show", chinese, columns=200)).stdout
    assert "picked in  issues/2026-12-04.yaml: deep_dives item 1 (line " in held


@pytest.mark.parametrize("command", [("show",), ("pick", "--into", "lead")])
def test_an_id_prefix_shorter_than_the_rule_says_the_rule(fed_desk: Path,
                                                           command: tuple[str, ...]) -> None:
    ok(run(fed_desk, "new"))
    result = run(fed_desk, command[0], candidate_ids(fed_desk)[0][:3], *command[1:])
    refused(result, "is too short to name a candidate", "at least 4 characters")


def test_candidates_feed_is_matched_in_any_case_and_an_unknown_one_names_the_feeds(
        fed_desk: Path) -> None:
    assert candidate_ids(fed_desk, "--feed", "Coastal-DESK") == candidate_ids(
        fed_desk, "--feed", "coastal-desk") != []
    refused(run(fed_desk, "candidates", "--feed", "coastal"), 'no feed "coastal"',
            'did you mean "coastal-desk"?', "ocean-science, coastal-desk, haiyang-weekly")


class _ValidatingFeeds(http.server.BaseHTTPRequestHandler):
    """Serves feeds with an ETag, answers 304 to a matching If-None-Match, and
    records every request as (path, If-None-Match)."""

    feeds: ClassVar[dict[str, bytes]] = {}
    asked: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        asked = self.headers.get("If-None-Match")
        self.asked.append((self.path, asked))
        body = self.feeds.get(self.path)
        if body is None or asked == '"v1"':
            self.send_response(404 if body is None else 304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", '"v1"')
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def served_feeds(desk: Path) -> Iterator[tuple[Path, type[_ValidatingFeeds]]]:
    handler = type("Handler", (_ValidatingFeeds,), {"feeds": {
        "/ocean.xml": (REPO / "examples" / "feeds" / "ocean-science.xml").read_bytes(),
        "/coast.xml": (REPO / "examples" / "feeds" / "coastal-desk.xml").read_bytes()},
        "asked": []})
    site = LocalSite(handler=handler)
    settings = desk / "newsletter.yaml"
    text = settings.read_text(encoding="utf-8").split("feeds:\n")[0]
    settings.write_text(text + f"feeds:\n  - name: Ocean\n    url: {site.url}ocean.xml\n"
                        f"  - name: Coast\n    url: {site.url}coast.xml\n", encoding="utf-8")
    try:
        yield desk, handler
    finally:
        site.close()


def test_fetch_named_feeds_and_force_past_validators_and_freshness(
        served_feeds: tuple[Path, type[_ValidatingFeeds]]) -> None:
    desk, handler = served_feeds
    first = json.loads(ok(run(desk, "fetch", "--json")).stdout)
    assert sorted(handler.asked) == [("/coast.xml", None), ("/ocean.xml", None)]
    fresh = json.loads(ok(run(desk, "fetch", "--json")).stdout)
    assert [f["result"] for f in fresh] == ["fresh", "fresh"] and len(handler.asked) == 2
    handler.asked.clear()
    one = json.loads(ok(run(desk, "fetch", "ocean", "--json")).stdout)
    assert [(f["feed"], f["result"]) for f in one] == [("Ocean", "fresh")] and not handler.asked
    forced = json.loads(ok(run(desk, "fetch", "OCEAN", "--force", "--json")).stdout)
    # a story both feeds carry is new to whichever was saved first
    stories = next(f["new"] + f["unchanged"] for f in first if f["feed"] == "Ocean")
    assert [(f["feed"], f["result"], f["new"], f["unchanged"]) for f in forced] == [
        ("Ocean", "updated", 0, stories)]
    assert handler.asked == [("/ocean.xml", None)]  # no validator sent: read whole again
    refused(run(desk, "fetch", "nope"), 'no feed "nope"', "its feeds are: Ocean, Coast")


def test_a_gone_feed_named_on_the_command_line_is_asked_again(fed_desk: Path) -> None:
    site = LocalSite(handler=_GoneHandler)
    before = _GoneHandler.asked
    try:
        settings = fed_desk / "newsletter.yaml"
        settings.write_text(settings.read_text(encoding="utf-8").replace(
            "feeds:\n", f"feeds:\n  - name: Old-Wire\n    url: {site.url}feed.xml\n", 1),
            encoding="utf-8")
        run(fed_desk, "fetch")
        run(fed_desk, "fetch")
        assert _GoneHandler.asked == before + 1
        named = run(fed_desk, "fetch", "old-wire", "--json")
        assert _GoneHandler.asked == before + 2
        assert json.loads(named.stdout)[0]["result"] == "failed"
    finally:
        site.close()


@pytest.fixture()
def blog(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    (root / "blog").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "feeds" / "ocean-science.xml", root / "feed.xml")
    shutil.copy(REPO / "examples" / "feeds" / "coastal-desk.xml", root / "coast.xml")
    (root / "blog" / "post.html").write_text(
        '<html><head><title>A post</title><link rel="alternate" type="application/rss+xml" '
        'title="Posts" href="../feed.xml"></head><body>x</body></html>', encoding="utf-8")
    (root / "blog" / "plain.html").write_text("<html><head><title>Plain</title></head></html>",
                                              encoding="utf-8")
    site = LocalSite(root)
    try:
        yield site.url
    finally:
        site.close()


def test_feeds_add_finds_the_feed_of_a_page_and_refuses_one_the_desk_reads(desk: Path,
                                                                           blog: str) -> None:
    added = ok(run(desk, "feeds", "add", f"{blog}blog/post.html"))
    assert f"{blog}feed.xml" in added.stdout and "named by the page" in added.stdout
    settings: Settings = load_settings(desk / "newsletter.yaml")
    new = settings.feeds[-1]
    assert new.url == f"{blog}feed.xml" and new.name and len(settings.feeds) == 4
    assert "# Tracking parameters" in (desk / "newsletter.yaml").read_text("utf-8")
    refused(run(desk, "feeds", "add", f"{blog}blog/post.html"),
            f'the desk already reads {blog}feed.xml as "{new.name}"')
    refused(run(desk, "feeds", "add", f"{blog}feed.xml"), "already reads")
    direct = ok(run(desk, "feeds", "add", f"{blog}coast.xml"))
    assert "named by the page" not in direct.stdout
    assert load_settings(desk / "newsletter.yaml").feeds[-1].url == f"{blog}coast.xml"
    refused(run(desk, "feeds", "add", f"{blog}blog/plain.html"),
            "neither a feed nor a page that names one")
    fetched = json.loads(ok(run(desk, "fetch", new.name, "--json")).stdout)
    assert fetched[0]["new"] > 0


def test_candidates_starred_and_skipped_follow_the_browser_desks_marks(fed_desk: Path) -> None:
    settings = api.load_desk(fed_desk)
    ids = candidate_ids(fed_desk)
    desk = api.BrowserDesk()
    desk.mark(settings, ids[0], starred=True)
    desk.mark(settings, ids[1], skipped=True)
    assert candidate_ids(fed_desk, "--starred") == [ids[0]]
    assert candidate_ids(fed_desk, "--skipped") == [ids[1]]
    assert candidate_ids(fed_desk) == [ids[0], *ids[2:]]  # the skipped one left out
    listed = json.loads(ok(run(fed_desk, "candidates", "--json", "--limit", "2")).stdout)
    assert [(s["id"], s["starred"], s["skipped"]) for s in listed] == [
        (ids[0], True, False), (ids[2], False, False)]
    [skipped] = json.loads(ok(run(fed_desk, "candidates", "--json", "--skipped")).stdout)
    assert (skipped["starred"], skipped["skipped"]) == (False, True)
    table = ok(run(fed_desk, "candidates", "--starred", columns=200)).stdout
    assert ids[0] in table and "*" in table
    shown = json.loads(ok(run(fed_desk, "show", ids[0], "--json")).stdout)
    assert (shown["starred"], shown["skipped"]) == (True, False)
    both = run(fed_desk, "candidates", "--starred", "--skipped")
    assert both.returncode == 2 and "never both" in both.stderr


def test_a_new_draft_never_offers_a_skipped_story(fed_desk: Path) -> None:
    settings = api.load_desk(fed_desk)
    ids = candidate_ids(fed_desk, "--since", "3650d")
    for story_id in ids[1:]:
        api.BrowserDesk().mark(settings, story_id, skipped=True)
    made = api.new_issue(settings, date=dt.date(2026, 12, 4))
    offered = re.findall(r"^#    - story: (\S+)", issue_text(fed_desk, "2026-12-04"), re.M)
    assert (made.offered, offered) == (1, [ids[0]])
    api.BrowserDesk().mark(settings, ids[0], skipped=True)
    made = api.new_issue(settings, date=dt.date(2026, 12, 11))
    assert (made.offered, made.none_offered) == (
        0, "every unused candidate since the last issue was skipped")
    assert "--skipped" in made.hint
