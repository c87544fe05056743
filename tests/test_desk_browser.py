"""The desk in the browser (`newsletter preview`'s issue page), end to end in real
headless Chromium.

A desk is fed the way an editor's is: its feeds are files served over HTTP on
127.0.0.1 (the example desk's three, and a hostile one written here), imported by
a real `api.fetch` into a real candidate store; then `api.preview_server` serves
it and Playwright drives Debian's Chromium. After every action the issue file on
disk is read back (its comments must stay, byte for byte where nothing was meant
to change) and the preview is expected to show it. Candidates carrying script
payloads (a few written here, and the shared corpora's lists in the `corpus`
test) must run nothing: dialogs and console errors are listened for, and the
pages' Content-Security-Policy is left on so an injected handler would at least
be reported. A page served on another loopback port tries to write to the desk
and must fail. axe-core (from .ci/node, as tests/test_site_browser.py injects it)
checks the desk and the list of issues in light and dark.

Every wait is a hang guard, never a speed limit (bench/desk.py measures speed).
Screenshots land in tests/artifacts/desk-*.png.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import html
import http.client
import json
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest
from conftest import ARTIFACTS, REPO, LocalSite, corpus_file, corpus_files
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from ruamel.yaml import YAML
from test_site_browser import AXE_RUN, _axe_script, _describe

from newsletter import api
from newsletter.desk.lookup import store_path
from newsletter.model import CandidateQuery, Severity
from newsletter.preview.desk import DeskPreview
from newsletter.preview.server import PreviewServer

WAIT_MS = 30_000  # a hang guard for anything the page does
LOAD_MS = 20_000
HTTP_TIMEOUT = 10.0
FETCH_GUARD = 300.0  # seconds: a hang guard for a fetch of a few local feeds
DRAFT = "2026-12-04"
FEED_FILES = ("ocean-science.xml", "coastal-desk.xml", "haiyang-weekly.json")

LEAD = "Camera sleds find a ghost shark nursery on a seamount's flank"
CATCH_A = "Satellites spot 'dark' trawlers fishing inside a marine reserve"
CATCH_B = "Storm Brannagh: the harbour wall held, but the beach is gone"
DEEP_D = "Sea otter count rises for a third year running"
CHINESE_WORD = "鸻鹬"  # two characters: shorter than the store's trigrams
SAVED_BY_HAND = "A lead headline a text editor saved meanwhile"
BLURB = "Written at the desk: their tracking beacons were off for 40 days."

COMMENTS = (
    "# Tideline #49, put together at the browser desk.",
    "# Comments like these are the editor's: every edit must keep them.",
    'subject: "Tideline #49: picked at the desk"   # kept as written',
    '    - "Why it matters"   # a bullet the desk must keep',
    "# the week's round-up comes next",
    "# the end of the issue",
)
DRAFT_TEXT = f"""\
{COMMENTS[0]}
{COMMENTS[1]}
number: 49
date: {DRAFT}
status: draft
{COMMENTS[2]}
preheader: "Stories picked in the browser."

lead:
  url: https://example.org/replace-me
  headline: "TODO: the lead's headline"
  bullets:
    - "What happened, in a line"
{COMMENTS[3]}

{COMMENTS[4]}
catch_up:
  items:
    - url: https://example.org/replace-me
      headline: "TODO: a story in a line or two"

deep_dives:
  items:
    - url: https://example.org/replace-me
      headline: "TODO: a longer read"
{COMMENTS[5]}
"""

# Written here so a plain clone tests them too: each title is shown as text, never markup.
HOSTILE_TITLES = (
    "<img src=x onerror=alert('desk-title-1')>",
    "<script>alert('desk-title-2')</script>",
    "\"><svg onload=alert('desk-title-3')>",
    "</textarea><iframe src=javascript:alert('desk-title-4')></iframe>",
    "{{ 7*7 }} ${alert('desk-title-5')} javascript:alert('desk-title-5')",
)


def _hostile_feed(payloads: list[str], *, host: str = "hostile.example") -> str:
    """An RSS feed with each payload as an entry's title and in its summary."""
    items = "".join(
        f"<item><title>{escape(p)}</title><link>https://{host}/{n}</link>"
        f"<guid>https://{host}/{n}</guid>"
        f"<description>{escape(p)} and a summary {n}</description>"
        f"<pubDate>Tue, 24 Nov 2026 {n % 24:02d}:00:00 GMT</pubDate></item>"
        for n, p in enumerate(payloads))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Hostile</title><link>https://{host}/</link>"
            f"<description>payloads</description>{items}</channel></rss>")


# --- the fed desk ---------------------------------------------------------------------


@dataclass(frozen=True)
class FedDesk:
    root: Path
    issue: Path
    ids: dict[str, str]  # title -> candidate id


def _settings_with_feeds(site_url: str, extra: dict[str, str]) -> str:
    """The example desk's settings, its feeds read over HTTP from `site_url`."""
    text = (REPO / "newsletter.yaml").read_text(encoding="utf-8")
    for name in FEED_FILES:
        text = text.replace(f"path: examples/feeds/{name}", f"url: {site_url}{name}")
    assert "path: examples/feeds" not in text
    more = "".join(f"  - name: {name}\n    url: {site_url}{file}\n"
                   for name, file in extra.items())
    return text.replace("\n# What `newsletter check`", f"{more}\n# What `newsletter check`", 1)


def _feed_desk(root: Path, feeds: dict[str, str]) -> tuple[Path, LocalSite]:
    """A desk at root/desk whose feeds (the example ones, plus `feeds`: file name ->
    text) are served from root/www on 127.0.0.1 and fetched into its store."""
    www = root / "www"
    www.mkdir()
    for name in FEED_FILES:
        shutil.copy(REPO / "examples" / "feeds" / name, www / name)
    for name, text in feeds.items():
        (www / name).write_text(text, encoding="utf-8")
    site = LocalSite(www)
    desk = root / "desk"
    desk.mkdir()
    extra = {Path(name).stem: name for name in feeds}
    (desk / "newsletter.yaml").write_text(_settings_with_feeds(site.url, extra),
                                          encoding="utf-8")
    shutil.copytree(REPO / "issues", desk / "issues")
    shutil.copytree(REPO / "examples" / "images", desk / "examples" / "images")
    # on a thread of its own: Playwright's sync API runs an event loop on this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reports = pool.submit(api.fetch, api.load_desk(desk)).result(timeout=FETCH_GUARD)
    failed = [r for r in reports if getattr(r, "error", "")]
    assert not failed, failed
    return desk, site


@pytest.fixture(scope="module")
def fed_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fed desk made once (a real fetch over HTTP); each test gets a copy."""
    root = tmp_path_factory.mktemp("desk-fed")
    desk, site = _feed_desk(root, {"hostile.xml": _hostile_feed(list(HOSTILE_TITLES))})
    try:
        yield desk  # the feeds' pictures are there too
    finally:
        site.close()


@pytest.fixture()
def fed(fed_template: Path, tmp_path: Path) -> FedDesk:
    root = tmp_path / "desk"
    shutil.copytree(fed_template, root)
    issue = root / "issues" / f"{DRAFT}.yaml"
    issue.write_text(DRAFT_TEXT, encoding="utf-8")
    settings = api.load_desk(root)
    page = api.BrowserDesk().candidates(settings, CandidateQuery(limit=200))
    ids = {row.title: row.id for row in page.rows}
    for title in (LEAD, CATCH_A, CATCH_B, DEEP_D, *HOSTILE_TITLES):
        assert title in ids, f"the fetch stored no {title!r}: {sorted(ids)}"
    chinese = [t for t in ids if CHINESE_WORD in t]
    assert len(chinese) == 1, chinese
    return FedDesk(root=root, issue=issue, ids=ids)


@contextlib.contextmanager
def _serving(server: PreviewServer) -> Iterator[PreviewServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def desk_server(fed: FedDesk) -> Iterator[PreviewServer]:
    with _serving(api.preview_server(fed.root, host="127.0.0.1", port=0)) as server:
        yield server


# --- the browser ------------------------------------------------------------------------


def _local_only(route: Any) -> None:
    """The desk and the test's own pages on this computer; nothing else loads."""
    if urlsplit(route.request.url).hostname in ("127.0.0.1", "127.0.0.2", "localhost"):
        route.continue_()
    else:
        route.abort()


@dataclass
class Watched:
    """What a page did that it must not: dialogs, script errors, CSP refusals."""

    dialogs: list[str]
    errors: list[str]


# the aborted loads of remote pictures (nothing leaves 127.0.0.1 here) are no error of ours
_ABORTED = re.compile(r"^Failed to load resource: net::ERR_(FAILED|NAME_NOT_RESOLVED)$")
# nor are the desk's refusals, which the page says in words (Chromium logs every 4xx)
_REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of "
                      r"(400|403|404|409)\b")


@pytest.fixture()
def new_page(browser: Any) -> Iterator[Callable[..., tuple[Any, Watched]]]:
    contexts = []

    def new_page_(width: int = 1600, height: int = 1000, *, color_scheme: str = "light",
                  bypass_csp: bool = False) -> tuple[Any, Watched]:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme=color_scheme, service_workers="block",
                                      bypass_csp=bypass_csp)
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(LOAD_MS)
        context.route("**/*", _local_only)
        page = context.new_page()
        watched = Watched(dialogs=[], errors=[])

        def on_dialog(dialog: Any) -> None:
            watched.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(message: Any) -> None:
            text = message.text
            where = message.location.get("url", "")
            refused = _REFUSED.match(text) and "/api/" in where
            if (message.type == "error" or "Content Security Policy" in text) \
                    and not _ABORTED.match(text) and not refused:
                watched.errors.append(f"{text} ({where})")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
        return page, watched

    yield new_page_
    for context in contexts:
        context.close()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"desk-{name}.png"), timeout=LOAD_MS)


def _wait_for(page: Any, script: str, arg: Any, what: str) -> None:
    try:
        page.wait_for_function(script, arg=arg, timeout=WAIT_MS)
    except PlaywrightTimeoutError as error:
        state = page.evaluate("() => window.newsletterDesk && {log: window.newsletterDesk.log,"
                              " writes: window.newsletterDesk.writes}")
        raise AssertionError(f"{what}: not within {WAIT_MS} ms; the desk: {state}") from error


DESK_READY = """() => window.newsletterDesk && window.newsletterDesk.candidateLoads >= 1
  && window.newsletterDesk.panel !== null && window.newsletterDesk.findingsLoads >= 1"""


def _open_desk(new_page: Callable[..., tuple[Any, Watched]], server: PreviewServer,
               slug: str = DRAFT, **options: Any) -> tuple[Any, Watched]:
    page, watched = new_page(**options)
    page.goto(f"{server.url}issues/{slug}/", wait_until="load")
    _wait_for(page, DESK_READY, None, "the desk's candidates, panel and findings")
    return page, watched


def _counter(page: Any, name: str) -> int:
    return int(page.evaluate(f"() => window.newsletterDesk.{name}"))


@contextlib.contextmanager
def _one_more(page: Any, name: str, what: str) -> Iterator[None]:
    """The block makes the desk's counter `name` move (a load, a write) once at least."""
    before = _counter(page, name)
    yield
    _wait_for(page, f"(n) => window.newsletterDesk.{name} > n", before, what)


def _last_said(page: Any) -> str:
    return str(page.evaluate("() => window.newsletterDesk.log.slice(-1)[0] || ''"))


def _shown_rows(page: Any) -> list[dict[str, str]]:
    return list(page.evaluate("""() => Array.from(document.querySelectorAll('#candidate-grid .row'))
      .map((row) => ({id: row.dataset.id, title: row.querySelector('.title').textContent,
                      meta: row.querySelector('.meta').textContent}))"""))


def _active_row(page: Any) -> str:
    return str(page.evaluate("() => (document.activeElement.closest('.row') || {dataset: {}})"
                             ".dataset.id || ''"))


def _focus_row(page: Any, story_id: str) -> None:
    """Reach the story's row with the keyboard only (1, then j or k; from a
    field, where 1 is typed, Esc first)."""
    if page.evaluate("() => ['INPUT', 'SELECT'].includes(document.activeElement.tagName)"):
        page.keyboard.press("Escape")
    page.keyboard.press("1")
    ids = [row["id"] for row in _shown_rows(page)]
    assert story_id in ids, f"{story_id} is not listed"
    for _ in range(len(ids) + 1):
        now = _active_row(page)
        if now == story_id:
            return
        page.keyboard.press("j" if ids.index(now) < ids.index(story_id) else "k")
    raise AssertionError(f"j and k never reached {story_id}")


def _focus_item(page: Any, ref: str) -> None:
    """Reach an item of the issue's panel with the keyboard only (2, then j or k)."""
    page.keyboard.press("2")
    refs = page.evaluate("() => Array.from(document.querySelectorAll('li.item'))"
                         ".map((li) => li.dataset.ref)")
    assert ref in refs, f"{ref} is not in the panel: {refs}"
    for _ in range(len(refs) + 1):
        now = page.evaluate("() => (document.activeElement.closest('li.item') || {dataset: {}})"
                            ".dataset.ref || ''")
        if now == ref:
            return
        page.keyboard.press("j" if refs.index(now) < refs.index(ref) else "k")
    raise AssertionError(f"j and k never reached the item {ref}")


# A view's words as one line, quote marks plain: the render may set typographic
# quotes (a curly apostrophe for a straight one), and what a test looks for is the words.
PLAIN_TEXT = """const plain = (text) => text.replace(/\\s+/g, " ").replace(/[\u2018\u2019]/g, "'")
                                 .replace(/[\u201c\u201d]/g, '"');"""
VIEW_SHOWS = """([frame, text, present]) => {
  const doc = document.querySelector(frame).contentDocument;
  if (!doc || doc.readyState !== "complete" || !doc.body) return false;
  """ + PLAIN_TEXT + """
  return plain(doc.body.textContent).includes(plain(text)) === present;
}"""
WEB = "iframe[data-src='index.html']"
TEXT = "iframe[data-src='email.txt']"


VIEW_ORDER = """([frame, first, second]) => {
  const doc = document.querySelector(frame).contentDocument;
  if (!doc || doc.readyState !== "complete" || !doc.body) return false;
  """ + PLAIN_TEXT + """
  const text = plain(doc.body.textContent);
  const at = [text.indexOf(plain(first)), text.indexOf(plain(second))];
  return at[0] !== -1 && at[1] !== -1 && at[0] < at[1];
}"""


def _preview_orders(page: Any, first: str, second: str) -> None:
    _wait_for(page, VIEW_ORDER, [WEB, first, second],
              f"the preview showing {first!r} before {second!r}")


def _preview_shows(page: Any, text: str, *, frame: str = WEB, present: bool = True) -> None:
    _wait_for(page, VIEW_SHOWS, [frame, text, present],
              f"the preview {'showing' if present else 'no longer showing'} {text!r}")


# --- the issue file ---------------------------------------------------------------------


def _sections(issue: Path) -> dict[str, Any]:
    """What the issue file holds, slot by slot: a story's id, else its link."""
    data = YAML(typ="safe").load(issue.read_text(encoding="utf-8"))

    def name(item: dict[str, Any]) -> str:
        return str(item.get("story") or item.get("url"))

    return {"lead": name(data["lead"]), "bullets": data["lead"].get("bullets"),
            "catch_up": [name(i) for i in data["catch_up"]["items"]],
            "deep_dives": [name(i) for i in data["deep_dives"]["items"]],
            "blurbs": {name(i): i.get("blurb") for i in data["catch_up"]["items"]}}


def _comments_kept(issue: Path) -> None:
    lines = issue.read_text(encoding="utf-8").splitlines()
    missing = [c for c in COMMENTS if c not in lines]
    assert missing == [], f"the edit lost the editor's lines {missing}:\n" + "\n".join(lines)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the triage flow ----------------------------------------------------------------------


@pytest.mark.browser
def test_triage_an_issue_together_in_the_browser(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    ids, issue = fed.ids, fed.issue
    page, watched = _open_desk(new_page, desk_server)
    placeholder = "https://example.org/replace-me"
    assert _sections(issue)["catch_up"] == [placeholder]
    _screenshot(page, "opened")

    # filter by feed: only that feed's stories, as many as the store has
    with _one_more(page, "candidateLoads", "the list of one feed"):
        page.select_option("#feed", "coastal-desk")
    rows = _shown_rows(page)
    settings = api.load_desk(fed.root)
    coastal = api.BrowserDesk().candidates(settings, CandidateQuery(feed="coastal-desk"))
    assert [r["id"] for r in rows] == [r.id for r in coastal.rows] and rows
    assert all("coastal-desk" in r["meta"].split(" · ")[0].split(", ") for r in rows), rows
    with _one_more(page, "candidateLoads", "the list of every feed"):
        page.select_option("#feed", "")

    # search a Chinese word (shorter than a trigram): the one story that has it
    with _one_more(page, "candidateLoads", "the search's answer"):
        page.fill("#q", CHINESE_WORD)
    rows = _shown_rows(page)
    assert len(rows) == 1 and CHINESE_WORD in rows[0]["title"], rows
    chinese = rows[0]["id"]
    assert page.inner_text("#count").startswith("1 story match")

    # star it from the keyboard: Esc leaves the search for the list, s stars
    page.keyboard.press("Escape")
    assert _active_row(page) == chinese
    page.keyboard.press("s")
    _wait_for(page, "(id) => document.getElementById('cand-' + id).classList.contains('starred')",
              chinese, "the star on the row")
    assert _last_said(page).startswith("starred “")
    starred = api.BrowserDesk().candidates(settings, CandidateQuery(starred=True))
    assert [r.id for r in starred.rows] == [chinese]

    # d: into deep dives, in place of the placeholder
    with _one_more(page, "writes", "the pick into deep dives"):
        page.keyboard.press("d")
    assert _sections(issue)["deep_dives"] == [chinese]
    assert re.match(r"picked “.*鸻鹬.*” into deep dives$", _last_said(page)), _last_said(page)
    _comments_kept(issue)
    _preview_shows(page, CHINESE_WORD)

    with _one_more(page, "candidateLoads", "the whole list again"):
        page.fill("#q", "")

    # l: the lead (the bullets the editor wrote stay)
    _focus_row(page, ids[LEAD])
    with _one_more(page, "writes", "the pick into the lead"):
        page.keyboard.press("l")
    assert _sections(issue)["lead"] == ids[LEAD]
    assert _sections(issue)["bullets"] == ["What happened, in a line", "Why it matters"]
    assert _last_said(page) == f"picked “{LEAD}” into the lead"
    _comments_kept(issue)
    _preview_shows(page, LEAD)

    # c: catch-up, by key; then another by one click on its button
    _focus_row(page, ids[CATCH_A])
    with _one_more(page, "writes", "the pick into catch-up"):
        page.keyboard.press("c")
    with _one_more(page, "writes", "the click into catch-up"):
        page.click(f"#cand-{ids[CATCH_B]} button[data-into='catch_up']")
    assert _sections(issue)["catch_up"] == [ids[CATCH_A], ids[CATCH_B]]
    _comments_kept(issue)
    _preview_shows(page, CATCH_B)

    # a candidate dragged onto deep dives is picked there
    with _one_more(page, "writes", "the drop into deep dives"):
        page.locator(f"#cand-{ids[DEEP_D]} .story").drag_to(
            page.locator("ol.items[data-slot='deep_dives']"))
    assert _sections(issue)["deep_dives"] == [chinese, ids[DEEP_D]]
    _comments_kept(issue)
    _preview_shows(page, DEEP_D)
    _screenshot(page, "picked")

    # reorder by drag: catch-up's second item dropped on the top half of the first
    with _one_more(page, "writes", "the drag within catch-up"):
        page.locator(f"li.item[data-ref='{ids[CATCH_B]}']").drag_to(
            page.locator(f"li.item[data-ref='{ids[CATCH_A]}']"),
            target_position={"x": 20, "y": 3})
    assert _sections(issue)["catch_up"] == [ids[CATCH_B], ids[CATCH_A]]
    assert _last_said(page).startswith(f"moved “{CATCH_B}” to 1 of 2 in catch-up")
    _comments_kept(issue)
    _preview_orders(page, CATCH_B, CATCH_A)

    # reorder by keyboard: Alt+Up on deep dives' second item
    _focus_item(page, ids[DEEP_D])
    with _one_more(page, "writes", "the move by keyboard"):
        page.keyboard.press("Alt+ArrowUp")
    assert _sections(issue)["deep_dives"] == [ids[DEEP_D], chinese]
    _wait_for(page, "(ref) => document.activeElement.dataset.ref === ref", ids[DEEP_D],
              "the moved item keeping the focus")
    _comments_kept(issue)
    _preview_orders(page, DEEP_D, CHINESE_WORD)

    # edit a blurb in place: e, the blurb field, Tab to Save, Enter
    _focus_item(page, ids[CATCH_A])
    before_blurb = issue.read_bytes()
    page.keyboard.press("e")
    page.fill("li.item form.edit textarea", BLURB)
    page.focus("li.item form.edit textarea")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Save"
    with _one_more(page, "writes", "the blurb written"):
        page.keyboard.press("Enter")
    assert _sections(issue)["blurbs"][ids[CATCH_A]] == BLURB
    assert _sections(issue)["catch_up"] == [ids[CATCH_B], ids[CATCH_A]]
    _comments_kept(issue)
    _preview_shows(page, BLURB, frame=TEXT)

    # u: undo puts back the very bytes from before the blurb
    with _one_more(page, "writes", "the undo"):
        page.keyboard.press("u")
    assert issue.read_bytes() == before_blurb
    assert _last_said(page).startswith("undid: changed the blurb of")
    _preview_shows(page, BLURB, frame=TEXT, present=False)
    _wait_for(page, "(d) => window.newsletterDesk.panel.digest === d", _digest(issue),
              "the panel at the file's digest")
    _screenshot(page, "undone")
    assert watched.dialogs == [] and watched.errors == [], watched


@pytest.mark.browser
def test_x_skips_a_story_out_of_the_list_and_back(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    page, watched = _open_desk(new_page, desk_server)
    settings = api.load_desk(fed.root)
    before = [r["id"] for r in _shown_rows(page)]
    count = page.get_attribute("#candidate-grid", "aria-rowcount")
    _focus_row(page, before[1])
    page.keyboard.press("x")
    _wait_for(page, "(id) => !document.getElementById('cand-' + id)", before[1],
              "the skipped story leaving the list")
    assert _last_said(page).startswith("skipped “")
    assert _active_row(page) == before[2], "the next story is the current one"
    assert page.get_attribute("#candidate-grid", "aria-rowcount") == str(int(count or 0) - 1)
    skipped = api.BrowserDesk().candidates(settings, CandidateQuery(skipped=True))
    assert [r.id for r in skipped.rows] == [before[1]]

    with _one_more(page, "candidateLoads", "the skipped stories"):
        page.check("#skipped")
    assert [r["id"] for r in _shown_rows(page)] == [before[1]]
    _focus_row(page, before[1])
    page.keyboard.press("x")
    _wait_for(page, "() => document.querySelectorAll('#candidate-grid .row').length === 0",
              None, "the story back out of the skipped list")
    assert _last_said(page).endswith("is no longer skipped")
    assert api.BrowserDesk().candidates(settings, CandidateQuery(skipped=True)).total == 0
    assert watched.errors == [], watched.errors


@pytest.mark.browser
def test_a_text_editors_save_and_a_browser_action_at_once_lose_nothing_silently(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    """The text editor saves while the page still shows the file as it was (its
    news of the save held back): the browser's pick, made against the old digest,
    is refused and said, the panel reloads from disk, and the text editor's save is
    on disk and shown. Done again, the pick lands beside the text editor's edit."""
    issue = fed.issue
    page, watched = _open_desk(new_page, desk_server)
    stale = page.evaluate("() => window.newsletterDesk.panel.digest")
    held: list[Any] = []
    holding = [True]

    def hold(route: Any) -> None:  # the save's news waits; once let go, on to the next handler
        if holding[0]:
            held.append(route)
        else:
            route.fallback()

    page.route("**/state.json*", hold)
    text = issue.read_text(encoding="utf-8")
    saved = text.replace("TODO: the lead's headline", SAVED_BY_HAND)
    assert saved != text
    issue.write_text(saved, encoding="utf-8")  # the text editor's save

    _focus_row(page, fed.ids[CATCH_A])
    with _one_more(page, "writes", "the refused pick"):
        page.keyboard.press("c")
    said = _last_said(page)
    assert said.startswith("the file changed on disk: reloaded"), said
    assert page.evaluate("() => document.getElementById('said').classList.contains('bad')")
    assert issue.read_text(encoding="utf-8") == saved, "the text editor's save was overwritten"
    assert page.evaluate("() => window.newsletterDesk.panel.digest") == _digest(issue) != stale

    # let go by falling back to the context's handler, as every later request does (a
    # route continued here and also passed on when unrouted was handled twice)
    holding[0] = False
    for route in held:
        route.fallback()
    _preview_shows(page, SAVED_BY_HAND)

    with _one_more(page, "writes", "the pick made again"):
        page.keyboard.press("c")
    assert _sections(issue)["catch_up"] == [fed.ids[CATCH_A]]
    assert SAVED_BY_HAND in issue.read_text(encoding="utf-8")
    _comments_kept(issue)

    # a save with no action pending: the panel follows, and says so
    before = _counter(page, "panelLoads")
    issue.write_text(issue.read_text(encoding="utf-8").replace(
        COMMENTS[5], "# the end of the issue, moved by hand\n" + COMMENTS[5]), encoding="utf-8")
    _wait_for(page, "(n) => window.newsletterDesk.panelLoads > n", before, "the panel reloaded")
    _wait_for(page, "() => window.newsletterDesk.log.slice(-1)[0] === "
                    "'the file changed on disk: reloaded'", None, "the reload said")
    assert page.evaluate("() => window.newsletterDesk.panel.digest") == _digest(issue)
    assert watched.dialogs == [] and watched.errors == [], watched


@pytest.mark.browser
def test_undo_never_overwrites_a_save_made_after_the_desks_edit(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    issue = fed.issue
    page, watched = _open_desk(new_page, desk_server)
    _focus_row(page, fed.ids[DEEP_D])
    with _one_more(page, "writes", "the pick"):
        page.keyboard.press("d")
    picked = issue.read_text(encoding="utf-8")
    by_hand = picked.replace("status: draft", "status: draft   # still", 1)
    issue.write_text(by_hand, encoding="utf-8")
    _wait_for(page, "(d) => window.newsletterDesk.panel.digest === d", _digest(issue),
              "the panel following the save")
    with _one_more(page, "writes", "the undo"):
        page.keyboard.press("u")
    assert issue.read_text(encoding="utf-8") == by_hand
    assert "nothing was undone" in _last_said(page) or "undo would overwrite" in _last_said(page)
    assert watched.dialogs == [] and watched.errors == [], watched


@pytest.mark.browser
def test_send_a_test_from_the_desk(new_page: Callable[..., tuple[Any, Watched]], fed: FedDesk,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """t opens the send dialog; the address typed gets the issue, marked [TEST],
    through the desk's SMTP server (a real one on 127.0.0.1)."""
    from test_send import LocalController, Mailbox

    for name in ("NEWSLETTER_SMTP_HOST", "NEWSLETTER_SMTP_PORT", "NEWSLETTER_SMTP_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    mailbox = Mailbox()
    controller = LocalController(mailbox, hostname="127.0.0.1", port=0, ready_timeout=5)
    controller.start()
    try:
        settings = fed.root / "newsletter.yaml"
        settings.write_text(settings.read_text(encoding="utf-8") + (
            f"\nsmtp:\n  host: 127.0.0.1\n  port: {controller.port}\n  security: none\n"),
            encoding="utf-8")
        with _serving(api.preview_server(fed.root, host="127.0.0.1", port=0)) as server:
            page, watched = _open_desk(new_page, server)
            page.keyboard.press("t")
            assert page.evaluate("() => document.getElementById('send-dialog').open")
            assert page.evaluate("() => document.activeElement.id") == "send-to"
            page.keyboard.type("not an address")
            page.keyboard.press("Enter")
            assert "email address" in page.inner_text("#send-error")
            assert mailbox.envelopes == []
            page.fill("#send-to", "editor@tideline.example.org")
            page.keyboard.press("Enter")
            _wait_for(page, "() => window.newsletterDesk.log.some((s) => s.startsWith('sent '))",
                      None, "the test sent")
            assert not page.evaluate("() => document.getElementById('send-dialog').open")
            said = _last_said(page)
            assert said == "sent “[TEST] Tideline #49: picked at the desk” to " \
                           "editor@tideline.example.org", said
            assert watched.errors == [], watched.errors
    finally:
        controller.stop()
    [envelope] = mailbox.envelopes
    assert envelope.rcpt_tos == ["editor@tideline.example.org"]
    assert b"Subject: [TEST] Tideline #49: picked at the desk" in envelope.content


# --- hostile candidates -----------------------------------------------------------------


def _show_every_candidate(page: Any) -> None:
    for _ in range(100):
        if page.is_hidden("#more"):
            return
        with _one_more(page, "candidateLoads", "one more page of candidates"):
            page.click("#more")
    raise AssertionError("the list never ended")


def _assert_shown_as_text(page: Any, titles: list[str]) -> None:
    shown = {r["title"] for r in _shown_rows(page)}
    missing = [t for t in titles if t not in shown]
    assert missing == [], f"not shown as the same text: {missing[:5]}"
    assert page.evaluate("() => document.querySelectorAll("
                         "'#candidate-grid script, #candidate-grid iframe, #candidate-grid svg,"
                         " #slots script, #slots img, #slots iframe').length") == 0


@pytest.mark.browser
def test_hostile_candidates_run_nothing(new_page: Callable[..., tuple[Any, Watched]],
                                        desk_server: PreviewServer, fed: FedDesk) -> None:
    page, watched = _open_desk(new_page, desk_server)
    with _one_more(page, "candidateLoads", "the hostile feed's stories"):
        page.select_option("#feed", "hostile")
    _assert_shown_as_text(page, list(HOSTILE_TITLES))
    # star one, pick two: their titles go to the panel, the live region and the preview
    _focus_row(page, fed.ids[HOSTILE_TITLES[0]])
    page.keyboard.press("s")
    _wait_for(page, "() => window.newsletterDesk.log.some((s) => s.startsWith('starred'))",
              None, "the star")
    with _one_more(page, "writes", "a hostile pick into catch-up"):
        page.keyboard.press("c")
    _focus_row(page, fed.ids[HOSTILE_TITLES[1]])
    with _one_more(page, "writes", "a hostile pick into the lead"):
        page.keyboard.press("l")
    panel_text = page.inner_text("#slots")
    assert HOSTILE_TITLES[0] in panel_text and HOSTILE_TITLES[1] in panel_text
    _preview_shows(page, "alert('desk-title-1')")
    page.click("#check-links")  # findings name stories too (no link leaves 127.0.0.1)
    _wait_for(page, "() => window.newsletterDesk.log.some((s) => s.startsWith('links checked'))",
              None, "the link check")
    _screenshot(page, "hostile")
    assert watched.dialogs == [], watched.dialogs
    assert watched.errors == [], watched.errors


def _payloads(path: Path, limit: int) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace")
             .splitlines()]
    return [line for line in lines if line and not line.startswith("#")][:limit]


XSS_LISTS = [*corpus_files("xss/payloadsallthethings/XSS_Injection/Intruders",
                           "XSS_Polyglots.txt"),
             *corpus_files("xss/payloadsallthethings/XSS_Injection/Intruders",
                           "port_swigger_xss_cheatsheet_event_handlers.txt"),
             corpus_file("xss/h5sc/rss_vectors.txt")]


@pytest.mark.corpus
@pytest.mark.browser
@pytest.mark.parametrize("path", XSS_LISTS, ids=lambda p: p.name)
def test_payload_lists_as_candidates_run_nothing(
        new_page: Callable[..., tuple[Any, Watched]], tmp_path: Path, path: Path) -> None:
    payloads = _payloads(path, 150)
    assert payloads, path
    desk, site = _feed_desk(tmp_path, {"payloads.xml": _hostile_feed(payloads)})
    settings = api.load_desk(desk)
    stored = api.BrowserDesk().candidates(settings, CandidateQuery(feed="payloads", limit=200))
    assert stored.total >= len(payloads) // 2, f"only {stored.total} payload stories stored"
    draft = desk / "issues" / f"{DRAFT}.yaml"
    draft.write_text(DRAFT_TEXT, encoding="utf-8")
    with _serving(api.preview_server(desk, host="127.0.0.1", port=0)) as server, \
            contextlib.closing(site):
        page, watched = _open_desk(new_page, server)
        with _one_more(page, "candidateLoads", "the payload feed's stories"):
            page.select_option("#feed", "payloads")
        _show_every_candidate(page)
        _assert_shown_as_text(page, [row.title for row in stored.rows if row.title])
        # the first three picked: the panel, the live region and every view show them
        for row, key in zip(stored.rows, ("l", "c", "d"), strict=False):
            _focus_row(page, row.id)
            with _one_more(page, "writes", f"the pick of payload {row.id}"):
                page.keyboard.press(key)
        _wait_for(page, "() => window.newsletterPreview.painted.length >= 8", None,
                  "the views painted again")
        assert watched.dialogs == [], watched.dialogs[:5]
        assert watched.errors == [], watched.errors[:5]


# --- writes from elsewhere --------------------------------------------------------------

ATTACKER_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>another site</title>
</head><body>
<iframe name="sink" title="sink"></iframe>
<form id="f" method="post" action="{desk}api/issues/{slug}/pick" enctype="text/plain" target="sink">
<input name='{{"story":"{story}","into":"catch_up","digest":"{digest}","x":"' value='"}}'>
</form>
<script>
window.outcomes = [];
const body = JSON.stringify({{story: "{story}", into: "catch_up", digest: "{digest}"}});
Promise.allSettled([
  fetch("{desk}api/issues/{slug}/pick", {{method: "POST", mode: "no-cors", body,
        headers: {{"Content-Type": "text/plain"}}}}),
  fetch("{desk}api/issues/{slug}/pick", {{method: "POST", body,
        headers: {{"Content-Type": "application/json", "X-Newsletter-Token": "guessed"}}}}),
  fetch("{desk}api/candidates/{story}/mark", {{method: "POST", mode: "no-cors",
        body: JSON.stringify({{starred: true}}), headers: {{"Content-Type": "text/plain"}}}}),
]).then((results) => {{
  window.outcomes = results.map((r) => r.status);
  navigator.sendBeacon("{desk}api/issues/{slug}/pick", body);
  document.getElementById("f").submit();
  window.done = true;
}});
</script></body></html>"""


@pytest.mark.browser
def test_a_page_on_another_port_cannot_write(new_page: Callable[..., tuple[Any, Watched]],
                                             desk_server: PreviewServer, fed: FedDesk,
                                             tmp_path: Path) -> None:
    """Another site the editor has open (here: another port of this computer, which
    the browser treats as another origin) posts to the desk by every means a page
    has: each is refused before the desk sees it, and the file is unchanged."""
    reached: list[str] = []
    builder = desk_server.builder
    assert isinstance(builder, DeskPreview)
    post = builder.post

    def counted(path: str, body: Any) -> Any:
        reached.append(path)
        return post(path, body)

    builder.post = counted  # type: ignore[method-assign]  # counts, then answers for real
    before = fed.issue.read_bytes()
    www = tmp_path / "attacker"
    www.mkdir()
    (www / "index.html").write_text(ATTACKER_PAGE.format(
        desk=desk_server.url, slug=DRAFT, story=fed.ids[CATCH_A], digest=_digest(fed.issue)),
        encoding="utf-8")
    attacker = LocalSite(www)
    try:
        page, _ = new_page()
        answers: list[tuple[str, str, int]] = []
        page.on("response", lambda r: answers.append((r.request.method, r.url, r.status))
                if r.url.startswith(desk_server.url) else None)
        page.goto(attacker.url, wait_until="load")
        _wait_for(page, "() => window.done === true", None, "the attacker's page")
        deadline = time.monotonic() + WAIT_MS / 1000
        while sum(method == "POST" for method, _, _ in answers) < 3:  # fetches and the form
            assert time.monotonic() < deadline, f"the desk answered only {answers}"
            page.wait_for_timeout(50)
    finally:
        attacker.close()
    assert reached == [], f"the desk itself was reached by {reached}"
    assert fed.issue.read_bytes() == before
    statuses = {(method, status) for method, _, status in answers}
    assert ("POST", 403) in statuses, answers
    assert not any(status == 200 and method == "POST" for method, _, status in answers), answers
    assert page.evaluate("() => window.outcomes") == ["fulfilled", "rejected", "fulfilled"]
    starred = api.BrowserDesk().candidates(api.load_desk(fed.root),
                                           CandidateQuery(starred=True))
    assert starred.total == 0


def _connection(server: PreviewServer) -> http.client.HTTPConnection:
    """A connection to the server's address, made without a name lookup: the tests'
    guard knows only the names of 127.0.0.1, and 127.0.0.2 (a loopback address all
    the same) stands for the network in `test_served_to_the_network...`."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port,
                                            timeout=HTTP_TIMEOUT)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(HTTP_TIMEOUT)
    sock.connect((address.hostname or "", address.port or 80))  # an address: no lookup
    connection.sock = sock
    return connection


def _post(server: PreviewServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[
        int, dict[str, Any]]:
    connection = _connection(server)
    try:
        connection.request("POST", path, body=body, headers=headers)
        return _answer(connection.getresponse())
    finally:
        connection.close()


def _answer(response: http.client.HTTPResponse) -> tuple[int, dict[str, Any]]:
    """The status and the JSON answer (a plain-text one as its "error")."""
    data = response.read()
    if (response.getheader("Content-Type") or "").startswith("application/json"):
        return response.status, json.loads(data)
    return response.status, {"error": data.decode()}


def _page_token(server: PreviewServer) -> str:
    connection = _connection(server)
    try:
        connection.request("GET", f"/issues/{DRAFT}/")
        body = connection.getresponse().read().decode()
    finally:
        connection.close()
    match = re.search(r'<meta name="newsletter-token" content="([^"]+)">', body)
    assert match, "the desk page carries no token"
    return html.unescape(match.group(1))


def _pick_body(fed: FedDesk) -> bytes:
    return json.dumps({"story": fed.ids[CATCH_A], "into": "catch_up",
                       "digest": _digest(fed.issue)}).encode()


def test_a_pick_over_http_with_every_credential_is_made(desk_server: PreviewServer,
                                                       fed: FedDesk) -> None:
    """What the refusals below leave out, once: the same request, all of it right."""
    origin = desk_server.url.rstrip("/")
    status, answer = _post(desk_server, f"/api/issues/{DRAFT}/pick", _pick_body(fed), {
        "Origin": origin, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin",
        "X-Newsletter-Token": _page_token(desk_server)})
    assert status == 200, answer
    assert _sections(fed.issue)["catch_up"] == [fed.ids[CATCH_A]]
    assert answer["panel"]["digest"] == _digest(fed.issue)
    assert answer["said"] == f"picked “{CATCH_A}” into catch-up"
    _comments_kept(fed.issue)


def test_a_stale_digest_is_refused_with_the_panel_as_it_is(desk_server: PreviewServer,
                                                           fed: FedDesk) -> None:
    origin = desk_server.url.rstrip("/")
    body = _pick_body(fed)
    fed.issue.write_text(DRAFT_TEXT.replace("Stories picked", "Saved meanwhile"),
                         encoding="utf-8")
    saved = fed.issue.read_bytes()
    status, answer = _post(desk_server, f"/api/issues/{DRAFT}/pick", body, {
        "Origin": origin, "Content-Type": "application/json",
        "X-Newsletter-Token": _page_token(desk_server)})
    assert status == 409, answer
    assert answer["error"] == "the file changed on disk: reloaded"
    assert answer["panel"]["digest"] == _digest(fed.issue)
    assert fed.issue.read_bytes() == saved


TEXT_BLOCK_DRAFT = DRAFT_TEXT.replace(
    '      headline: "TODO: a story in a line or two"\n',
    '      headline: "TODO: a story in a line or two"\n    - text: A free paragraph.\n')


@pytest.mark.browser
def test_a_pick_asks_for_the_panel_no_more_and_for_the_findings_once(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    """A write's answer carries the panel after it: the desk does not read it again
    (it did, on every pick: an extra request that held back the views' repaint),
    and the changed file's findings are checked once."""
    page, watched = _open_desk(new_page, desk_server)
    _wait_for(page, "() => window.newsletterPreview.painted.length >= 4", None, "the views")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(
        f"{request.method} {urlsplit(request.url).path}"))
    story = fed.ids[CATCH_A]
    painted = _counter(page, "findingsLoads")
    with _one_more(page, "writes", "the pick"):
        page.click(f"#cand-{story} button.pick[data-into='catch_up']")
    _preview_shows(page, CATCH_A)
    _wait_for(page, "(n) => window.newsletterDesk.findingsLoads > n", painted, "the findings")
    time.sleep(0.5)  # anything else the pick would make the page ask for
    api_asked = [a for a in asked if "/api/" in a]
    assert api_asked == [f"POST /api/issues/{DRAFT}/pick",
                         f"GET /api/issues/{DRAFT}/findings"], asked
    assert _sections(fed.issue)["catch_up"] == [story]
    assert watched.errors == [], watched.errors


@pytest.mark.browser
def test_the_desk_offers_no_remove_or_move_for_a_text_block(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    fed.issue.write_text(TEXT_BLOCK_DRAFT, encoding="utf-8")
    before = fed.issue.read_bytes()
    page, watched = _open_desk(new_page, desk_server)
    block = "#slots li.item[data-slot='catch_up'][data-ref='']"
    assert page.locator(block).count() == 1
    assert page.locator(f"{block} button").count() == 0, "a text block has no Up, Down, Remove"
    assert page.get_attribute(block, "draggable") == "false"
    writes = _counter(page, "writes")
    for key in ("Delete", "Alt+ArrowUp"):
        page.focus(block)
        page.keyboard.press(key)
        assert "in a text editor (line " in _last_said(page), key
    assert _counter(page, "writes") == writes
    assert fed.issue.read_bytes() == before
    assert watched.errors == [], watched.errors


@pytest.mark.parametrize("action", ["unpick", "move"])
def test_a_text_block_is_left_to_the_text_editor_not_called_a_conflict(
        desk_server: PreviewServer, fed: FedDesk, action: str) -> None:
    """A text block has no story or link to name it by: a write naming nothing is
    refused as such (400), not as a file changed on disk (409: "reloaded")."""
    fed.issue.write_text(TEXT_BLOCK_DRAFT, encoding="utf-8")
    before = fed.issue.read_bytes()
    body = json.dumps({"story": "", "to": 1, "digest": _digest(fed.issue)}).encode()
    status, answer = _post(desk_server, f"/api/issues/{DRAFT}/{action}", body, {
        "Origin": desk_server.url.rstrip("/"), "Content-Type": "application/json",
        "X-Newsletter-Token": _page_token(desk_server)})
    assert status == 400, answer
    assert answer["error"] == "this item has no story or link to name it by"
    assert "text editor" in answer["hint"]
    assert fed.issue.read_bytes() == before


@pytest.mark.parametrize("case", [
    "foreign host", "foreign origin", "another port", "no origin", "null origin",
    "cross-site fetch", "no token", "stale token", "chunked", "form type", "not json",
    "a json list", "unknown issue", "dot segments", "a path for a slug", "unknown slot"])
def test_writes_that_lack_anything_are_refused_and_change_nothing(
        desk_server: PreviewServer, fed: FedDesk, case: str) -> None:
    origin = desk_server.url.rstrip("/")
    port = urlsplit(desk_server.url).port
    token = _page_token(desk_server)
    headers = {"Origin": origin, "Content-Type": "application/json",
               "X-Newsletter-Token": token}
    body, path = _pick_body(fed), f"/api/issues/{DRAFT}/pick"
    expected = 403
    if case == "foreign host":
        headers["Host"], expected = f"attacker.example:{port}", 421
    elif case == "foreign origin":
        headers["Origin"] = f"http://attacker.example:{port}"
    elif case == "another port":
        headers["Origin"] = f"http://127.0.0.1:{port + 1}"
    elif case == "no origin":
        del headers["Origin"]
    elif case == "null origin":
        headers["Origin"] = "null"
    elif case == "cross-site fetch":
        headers["Sec-Fetch-Site"] = "cross-site"
    elif case == "no token":
        del headers["X-Newsletter-Token"]
    elif case == "stale token":
        headers["X-Newsletter-Token"] = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    elif case == "form type":
        headers["Content-Type"], expected = "application/x-www-form-urlencoded", 415
    elif case == "not json":
        body, expected = b"story=1&into=catch_up", 400
    elif case == "a json list":
        body, expected = b'["pick"]', 400
    elif case == "unknown issue":
        path, expected = "/api/issues/2031-01-01/pick", 404
    elif case == "dot segments":
        path, expected = "/api/issues/..%2F..%2Fnewsletter.yaml/pick", 405
    elif case == "a path for a slug":
        path, expected = "/api/issues/%2Fetc%2Fpasswd/pick", 404
    elif case == "unknown slot":
        body = body.replace(b'"catch_up"', b'"footer"')
        expected = 400
    before = {p: p.read_bytes() for p in (fed.root / "issues").iterdir()}
    reached: list[str] = []
    builder = desk_server.builder
    assert isinstance(builder, DeskPreview)
    post = builder.post
    builder.post = lambda p, b: reached.append(p) or post(p, b)  # type: ignore[method-assign,func-returns-value]  # counts, then answers
    if case == "chunked":
        status, answer = _chunked(desk_server, path, body, headers)
        expected = 411
    else:
        status, answer = _post(desk_server, path, body, headers)
    assert status == expected, answer
    assert answer.get("error"), answer
    assert {p: p.read_bytes() for p in (fed.root / "issues").iterdir()} == before
    gate_only = case not in ("unknown issue", "a path for a slug", "unknown slot")
    assert (reached == []) == gate_only, reached


def _chunked(server: PreviewServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[
        int, dict[str, Any]]:
    """A POST whose body comes in chunks, sent whole at once (the server answers
    without reading it, and closes: a client still sending would find the pipe broken)."""
    address = urlsplit(server.url)
    head = "".join(f"{name}: {value}\r\n" for name, value in {
        "Host": f"{address.hostname}:{address.port}", **headers,
        "Transfer-Encoding": "chunked"}.items())
    request = (f"POST {path} HTTP/1.1\r\n{head}\r\n".encode()
               + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", address.port or 80),
                                  timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return _answer(response)


def test_an_oversized_body_is_refused_before_it_is_sent(desk_server: PreviewServer,
                                                         fed: FedDesk) -> None:
    """The answer comes after the header alone: the server never waits for (or
    reads) a body it will not take."""
    port = urlsplit(desk_server.url).port
    head = (f"POST /api/issues/{DRAFT}/pick HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Newsletter-Token: {_page_token(desk_server)}\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n").encode()
    before = fed.issue.read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"Connection: close" in answer
    assert fed.issue.read_bytes() == before


# --- served to the network ---------------------------------------------------------------


@pytest.mark.browser
def test_served_to_the_network_the_desk_is_read_only_unless_allowed(
        new_page: Callable[..., tuple[Any, Watched]], fed: FedDesk) -> None:
    """127.0.0.2 stands for a network address (it is loopback on Linux, so nothing
    leaves this computer, but it is not one of the names the desk takes for its own)."""
    before = fed.issue.read_bytes()
    with _serving(api.preview_server(fed.root, host="127.0.0.2", port=0)) as server:
        assert not server.writable
        page, watched = _open_desk(new_page, server)
        assert page.get_attribute("body", "data-writable") == "0"
        assert _last_said(page).startswith("read-only")
        _focus_row(page, fed.ids[CATCH_A])
        page.keyboard.press("c")
        page.keyboard.press("s")
        assert _counter(page, "writes") == 0
        origin = server.url.rstrip("/")
        status, answer = _post(server, f"/api/issues/{DRAFT}/pick", _pick_body(fed), {
            "Origin": origin, "Content-Type": "application/json",
            "X-Newsletter-Token": _page_token(server)})
        assert status == 403 and "--allow-writes" in answer["hint"], answer
        assert fed.issue.read_bytes() == before
        assert watched.errors == [], watched.errors
    with _serving(api.preview_server(fed.root, host="127.0.0.2", port=0,
                                     allow_writes=True)) as server:
        status, answer = _post(server, f"/api/issues/{DRAFT}/pick", _pick_body(fed), {
            "Origin": server.url.rstrip("/"), "Content-Type": "application/json",
            "X-Newsletter-Token": _page_token(server)})
        assert status == 200, answer
        assert _sections(fed.issue)["catch_up"] == [fed.ids[CATCH_A]]


# --- every page: no inline script, a policy that forbids one ---------------------------------

INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(?!\s*</script>)|<style\b|\son[a-z]+\s*=",
                    re.IGNORECASE)


def test_every_page_forbids_inline_scripts_and_carries_none(desk_server: PreviewServer,
                                                           fed: FedDesk) -> None:
    address = urlsplit(desk_server.url)
    pages = {"/": "desk", f"/issues/{DRAFT}/": "desk", "/issues/2026-11-27/": "desk",
             f"/issues/{DRAFT}/index.html": "view", f"/issues/{DRAFT}/email.html": "view",
             "/issues/2026-11-27/index.html": "view"}
    for target, kind in pages.items():
        connection = http.client.HTTPConnection(address.hostname or "", address.port,
                                                timeout=HTTP_TIMEOUT)
        try:
            connection.request("GET", target)
            response = connection.getresponse()
            body = response.read().decode()
            policy = response.getheader("Content-Security-Policy") or ""
            assert response.status == 200, target
        finally:
            connection.close()
        rules = dict(rule.strip().partition(" ")[::2] for rule in policy.split(";"))
        assert rules.get("script-src") == "'self'", (target, policy)
        assert rules.get("default-src") == "'none'" and rules.get("base-uri") == "'none'"
        assert response.getheader("Referrer-Policy") == "no-referrer"
        if kind == "desk":
            assert rules.get("style-src") == "'self'" and rules.get("frame-ancestors") == "'none'"
            assert INLINE.search(body) is None, (target, INLINE.search(body))
        else:  # an email needs its inline styles; no script of its own
            assert rules.get("frame-ancestors") == "'self'"
            scripts = re.findall(r"<script\b[^>]*>", body)
            assert scripts and all('src="/__view.js"' in s or "ld+json" in s
                                   for s in scripts), scripts


# --- a new issue made complete in the browser alone -----------------------------------------

NEW_DATE = "2026-12-11"
SUBJECT = 'Tideline #50: "ghost sharks" & dark trawlers'
PREHEADER = "A shark nursery on a seamount, trawlers in a reserve: yes, both # of them"
INTRO = "Two stories from the deep this week. # not a comment\n<script>alert('intro')</script>" \
        " 中文：冒号 and שלום"  # noqa: RUF001 - the colon Chinese uses
BULLETS = ["Camera sleds found egg cases by the hundred", "null", "Why it matters: yes"]
TODO_BULLETS = ["TODO: what happened", "TODO: why it matters"]


def _words(issue: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load(issue.read_text(encoding="utf-8"))
    return {"subject": data.get("subject"), "preheader": data.get("preheader"),
            "intro": data.get("intro"), "bullets": data["lead"].get("bullets")}


def _focused(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id"))


def _retype(page: Any, text: str) -> None:
    """What a field holds, replaced by typing: select all, then the keys."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


NO_ERROR = """() => { const f = window.newsletterDesk.findings;
  return Array.isArray(f) && !f.some((x) => x.severity === "error"); }"""


@pytest.mark.browser
def test_a_new_issue_is_made_complete_in_the_browser_alone(
        new_page: Callable[..., tuple[Any, Watched]], fed: FedDesk) -> None:
    """`newsletter new`, then only the browser, keyboard first: the subject,
    preheader, intro and the lead's bullets from the issue's form, the stories
    picked into the lead, catch-up and deep dives, until `check --offline` finds
    no error; an edit of the form undone with u like any other."""
    settings = api.load_desk(fed.root)
    api.new_issue(settings, date=dt.date.fromisoformat(NEW_DATE))
    issue = settings.issues_dir / f"{NEW_DATE}.yaml"
    drafted = issue.read_text(encoding="utf-8")
    comments = [line for line in drafted.splitlines() if line.startswith("#")][:4]
    errors = [f for f in api.check_issue(issue, settings, offline=True).findings
              if f.severity == Severity.ERROR]
    assert errors and all(f.code == "placeholder" for f in errors), errors
    ids = fed.ids
    with _serving(api.preview_server(fed.root, host="127.0.0.1", port=0)) as server:
        page, watched = _open_desk(new_page, server, NEW_DATE)
        assert page.input_value("#issue-subject") == "TODO: the subject line of issue 50"
        assert page.input_value("#issue-bullets") == "\n".join(TODO_BULLETS)
        assert page.input_value("#issue-intro") == ""

        # i: the subject, typed and saved with Enter; the bar shows it
        page.keyboard.press("i")
        assert _focused(page) == "issue-subject"
        _retype(page, SUBJECT)
        with _one_more(page, "writes", "the subject"):
            page.keyboard.press("Enter")
        assert _words(issue)["subject"] == SUBJECT
        assert _last_said(page) == "changed the subject"
        _wait_for(page, "(s) => document.querySelector('.bar .subject').textContent === s",
                  SUBJECT, "the bar showing the new subject")
        writes = _counter(page, "writes")
        page.keyboard.type(" and more")
        page.keyboard.press("Escape")  # puts back what the file says: nothing to save
        assert page.input_value("#issue-subject") == SUBJECT

        # Tab: the preheader, counted as it is typed (past 90, said so), saved by leaving it
        page.keyboard.press("Tab")
        assert _focused(page) == "issue-preheader"
        assert _counter(page, "writes") == writes
        _retype(page, "x" * 91)
        assert page.inner_text("#preheader-count").endswith("the rest may be cut")
        assert page.evaluate("() => document.getElementById('preheader-count')"
                             ".classList.contains('over')")
        _retype(page, PREHEADER)
        assert page.inner_text("#preheader-count") == \
            f"{len(PREHEADER)} characters of the about 90 inboxes show"
        with _one_more(page, "writes", "the preheader"):
            page.keyboard.press("Tab")
        assert _words(issue)["preheader"] == PREHEADER

        # the intro: two lines (Enter is a line break in a box), saved with Ctrl+Enter
        assert _focused(page) == "issue-intro"
        page.keyboard.type(INTRO)
        with _one_more(page, "writes", "the intro"):
            page.keyboard.press("Control+Enter")
        assert _words(issue)["intro"] == INTRO
        _preview_shows(page, "Two stories from the deep this week. # not a comment")

        # the lead's bullets, one a line (blank lines and spaces around go), saved by leaving
        page.keyboard.press("Tab")
        assert _focused(page) == "issue-bullets"
        _retype(page, "\n  ".join(BULLETS) + "\n\n")
        with _one_more(page, "writes", "the bullets"):
            page.keyboard.press("Tab")
        assert _words(issue)["bullets"] == BULLETS
        assert _last_said(page) == "wrote the lead's 3 bullets"
        _preview_shows(page, BULLETS[0])

        # u: undone like any edit; the form shows the file again
        with _one_more(page, "writes", "the undo"):
            page.keyboard.press("u")
        assert _words(issue)["bullets"] == TODO_BULLETS
        assert _last_said(page) == "undid: wrote the lead's 3 bullets"
        _wait_for(page, "(t) => document.getElementById('issue-bullets').value === t",
                  "\n".join(TODO_BULLETS), "the bullets as the file has them again")
        page.keyboard.press("i")
        for _ in range(3):
            page.keyboard.press("Tab")
        assert _focused(page) == "issue-bullets"
        _retype(page, "\n".join(BULLETS[::2]))
        with _one_more(page, "writes", "the bullets again"):
            page.keyboard.press("Control+Enter")
        assert _words(issue)["bullets"] == BULLETS[::2]
        page.keyboard.press("Tab")  # out of the box, so the keys are the desk's again

        # the stories: l, c, c and d
        for title, key in ((LEAD, "l"), (CATCH_A, "c"), (CATCH_B, "c"), (DEEP_D, "d")):
            _focus_row(page, ids[title])
            with _one_more(page, "writes", f"the pick of {title!r}"):
                page.keyboard.press(key)
        _preview_shows(page, DEEP_D)
        _wait_for(page, NO_ERROR, None, "the findings with no error left")
        _screenshot(page, "complete")
        assert watched.dialogs == [] and watched.errors == [], watched

    sections = _sections(issue)
    assert (sections["lead"], sections["catch_up"], sections["deep_dives"]) == (
        ids[LEAD], [ids[CATCH_A], ids[CATCH_B]], [ids[DEEP_D]])
    assert _words(issue) == {"subject": SUBJECT, "preheader": PREHEADER, "intro": INTRO,
                             "bullets": BULLETS[::2]}
    text = issue.read_text(encoding="utf-8")
    assert [line for line in comments if line not in text.splitlines()] == []
    assert "TODO" not in text and "replace-me" not in text, text
    errors = [f for f in api.check_issue(issue, settings, offline=True).findings
              if f.severity == Severity.ERROR]
    assert errors == [], errors


@pytest.mark.parametrize(("body", "status", "said"), [
    ({"field": "topic", "value": "x"}, 400, "say which field and its text"),
    ({"field": "subject", "value": 7}, 400, "say which field and its text"),
    ({"field": "subject", "value": "x" * 4001}, 400, "a subject of 4001 characters"),
    ({"field": "subject", "value": " "}, 400, "an issue needs a subject"),
    ({"field": "preheader", "value": "two\nlines"}, 400, "the preheader is one line"),
    ({"field": "bullets", "value": "one line"}, 400, "say the bullets as a list of lines"),
    ({"field": "bullets", "value": ["a", 1]}, 400, "say the bullets as a list of lines"),
    ({"field": "bullets", "value": ["a"] * 11}, 400, "11 bullets: the lead takes at most 10"),
    ({"field": "subject", "value": "x", "digest": "0" * 64}, 409,
     "the file changed on disk: reloaded"),
])
def test_issue_words_that_cannot_be_written_are_refused_and_change_nothing(
        desk_server: PreviewServer, fed: FedDesk, body: dict[str, Any], status: int,
        said: str) -> None:
    before = fed.issue.read_bytes()
    sent = json.dumps({"digest": _digest(fed.issue), **body}).encode()
    answered, answer = _post(desk_server, f"/api/issues/{DRAFT}/issue", sent, {
        "Origin": desk_server.url.rstrip("/"), "Content-Type": "application/json",
        "X-Newsletter-Token": _page_token(desk_server)})
    assert answered == status, answer
    assert said in answer["error"], answer
    assert fed.issue.read_bytes() == before
    if status == 409:  # the panel as the file is, with its words
        assert answer["panel"]["issue"]["subject"] == "Tideline #49: picked at the desk"


def test_the_panel_carries_the_issues_words_and_a_write_of_them_is_undone(
        desk_server: PreviewServer, fed: FedDesk) -> None:
    headers = {"Origin": desk_server.url.rstrip("/"), "Content-Type": "application/json",
               "X-Newsletter-Token": _page_token(desk_server)}
    before = fed.issue.read_bytes()
    status, answer = _post(desk_server, f"/api/issues/{DRAFT}/issue", json.dumps({
        "field": "bullets", "value": ["One", "Why it matters"],
        "digest": _digest(fed.issue)}).encode(), headers)
    assert status == 200, answer
    assert answer["panel"]["issue"] == {
        "digest": _digest(fed.issue), "subject": "Tideline #49: picked at the desk",
        "preheader": "Stories picked in the browser.", "intro": None,
        "bullets": ["One", "Why it matters"]}
    _comments_kept(fed.issue)  # the second bullet's line, with its comment, stays
    status, again = _post(desk_server, f"/api/issues/{DRAFT}/issue", json.dumps({
        "field": "bullets", "value": ["One", "Why it matters"],
        "digest": _digest(fed.issue)}).encode(), headers)
    assert (status, again["said"]) == (200, "nothing changed: the file says so already")
    status, undone = _post(desk_server, f"/api/issues/{DRAFT}/undo", json.dumps({
        "digest": _digest(fed.issue)}).encode(), headers)
    assert (status, undone["said"]) == (200, "undid: wrote the lead's 2 bullets"), undone
    assert fed.issue.read_bytes() == before


# --- accessibility and the keyboard ----------------------------------------------------------


def _serious(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(_axe_script()))
    violations: list[dict[str, Any]] = page.evaluate(AXE_RUN)
    return [v for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_the_desk(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk, scheme: str) -> None:
    # axe is injected as a script of the test's: the pages' policy would refuse it
    page, _ = _open_desk(new_page, desk_server, color_scheme=scheme, bypass_csp=True)
    _focus_row(page, fed.ids[CATCH_A])
    with _one_more(page, "writes", "a pick, so the panel holds a story"):
        page.keyboard.press("c")
    page.keyboard.press("s")
    _wait_for(page, "() => document.querySelector('#candidate-grid .row.starred')", None,
              "a starred row")
    violations = _serious(page)
    assert violations == [], f"axe-core on the desk ({scheme}):\n" + _describe(violations)
    page.keyboard.press("?")
    assert page.evaluate("() => document.getElementById('help').open")
    violations = _serious(page)
    assert violations == [], f"axe-core on the keys dialog ({scheme}):\n" + _describe(violations)
    page.keyboard.press("Escape")
    page.goto(desk_server.url, wait_until="load")
    violations = _serious(page)
    assert violations == [], f"axe-core on the list of issues ({scheme}):\n" + _describe(
        violations)
    _screenshot(page, f"start-{scheme}")


@pytest.mark.browser
def test_the_keys_dialog_lists_every_key_and_focus_stays_visible(
        new_page: Callable[..., tuple[Any, Watched]], desk_server: PreviewServer,
        fed: FedDesk) -> None:
    page, watched = _open_desk(new_page, desk_server)
    page.keyboard.press("?")
    assert page.evaluate("() => document.getElementById('help').open")
    listed = page.inner_text("#help table")
    for key in ("j", "k", "s", "x", "l", "c", "d", "u", "?", "/", "e", "i", "Delete", "Alt"):
        assert re.search(rf"(^|\W){re.escape(key)}(\W|$)", listed), f"the dialog omits {key}"
    page.keyboard.press("Escape")
    assert not page.evaluate("() => document.getElementById('help').open")

    outline = "() => getComputedStyle(document.activeElement).outlineStyle"
    page.keyboard.press("1")
    assert page.evaluate(outline) != "none", "the grid's focus is not visible"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.textContent") == "Star"
    assert page.evaluate(outline) != "none"
    page.keyboard.press("2")
    assert page.evaluate("() => document.activeElement.matches('li.item')")
    assert page.evaluate(outline) != "none", "the panel's focus is not visible"
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "q"

    # Tab alone reaches the grid, the issue's words, its items and the findings, in order
    page.evaluate("() => document.activeElement.blur()")
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        where = page.evaluate("""() => { const a = document.activeElement;
          return a.closest('#candidate-grid') ? 'grid' : a.closest('#issue-words') ? 'words'
            : a.closest('#slots') ? 'panel' : a.id === 'check-links' ? 'findings' : ''; }""")
        if where and where not in reached:
            reached.append(where)
    assert reached == ["grid", "words", "panel", "findings"], reached
    page.keyboard.press("3")  # the findings: the keys are the desk's there
    page.keyboard.press("i")
    assert page.evaluate("() => document.activeElement.id") == "issue-subject"
    assert page.evaluate(outline) != "none", "the subject's focus is not visible"
    assert watched.errors == [], watched.errors


# --- a store of 10,000 stories ------------------------------------------------------------------


@pytest.mark.browser
def test_ten_thousand_candidates_are_listed_a_page_at_a_time(
        new_page: Callable[..., tuple[Any, Watched]], tmp_path: Path) -> None:
    """The list asks for 50 stories at a time however many the store holds: the
    page holds 50 rows, the grid says how many there are, and j past the last
    row asks for the next 50. A search in Chinese answers with the store's count."""
    from generated_store import make_store

    root = tmp_path / "desk"
    root.mkdir()
    shutil.copy(REPO / "newsletter.yaml", root)
    shutil.copytree(REPO / "examples" / "images", root / "examples" / "images")
    (root / "issues").mkdir()
    (root / "issues" / f"{DRAFT}.yaml").write_text(DRAFT_TEXT, encoding="utf-8")
    settings = api.load_desk(root)
    store = store_path(settings)
    store.parent.mkdir(parents=True, exist_ok=True)
    generated = make_store(store, 10_000)
    listed = api.BrowserDesk().candidates(settings, CandidateQuery()).total
    assert listed == generated.stories - len(generated.skipped)
    with _serving(api.preview_server(root, host="127.0.0.1", port=0)) as server:
        page, watched = _open_desk(new_page, server)
        assert page.get_attribute("#candidate-grid", "aria-rowcount") == str(listed)
        assert page.locator("#candidate-grid .row").count() == 50
        page.keyboard.press("1")
        page.keyboard.press("End")
        with _one_more(page, "candidateLoads", "the next page, asked by j"):
            page.keyboard.press("j")
        assert page.locator("#candidate-grid .row").count() == 100
        assert page.evaluate("() => document.activeElement.closest('.row')"
                             ".getAttribute('aria-rowindex')") == "51"
        with _one_more(page, "candidateLoads", "a search in Chinese"):
            page.fill("#q", "珊瑚礁")
        expected = api.BrowserDesk().candidates(settings, CandidateQuery(words="珊瑚礁"))
        assert expected.total > 50
        assert page.get_attribute("#candidate-grid", "aria-rowcount") == str(expected.total)
        assert [r["id"] for r in _shown_rows(page)] == [r.id for r in expected.rows]
        _screenshot(page, "ten-thousand")
        assert watched.errors == [], watched.errors
