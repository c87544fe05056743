"""The collecting workflow as an editor runs it: fetch -> candidates -> new -> pick -> build."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DATA, REPO, LocalSite, corpus_files

from newsletter import api
from newsletter.desk.config import load_settings
from newsletter.errors import NewsletterError


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
    built = run(fed_desk, "build", "--drafts", "--out", str(tmp_path / "site"))
    assert built.returncode == 0, built.stderr
    settings = api.load_desk(fed_desk)
    with api.open_store(settings) as store:
        stories = [store.find(ref) for ref in (ids[0], ids[1], chinese[0])]
    email = (tmp_path / "site" / "issues" / "2026-12-04" / "email.txt").read_text("utf-8")
    for story in stories:
        assert story is not None and story.title[:20] in email.replace("\n", " ")
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
