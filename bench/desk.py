"""Benchmark the desk in the browser on a store of 10,000 candidates.

The set-up: the example desk copied into a temporary folder, with a candidate
store of 10,000 generated stories (``tests/generated_store.make_store``: 20
feeds over 60 days, titles and summaries in English, Chinese and Japanese,
pictures on half of them). The preview server (``api.preview_server(desk,
host="127.0.0.1", port=0)``) runs in this process, on its own threads. Debian's
Chromium (``/usr/bin/chromium``), driven by Playwright with the flags of
``tests/conftest.py``, opens ``/issues/2026-11-27/`` (the seed-shaped issue) at
1600x1000. Nothing leaves the machine: Chromium resolves no name but 127.0.0.1
(the candidates' thumbnails, on example.org, fail at once, as offline).

"Painted" means the frame after the one in which the change is in the page
(two animation frames, as ``preview.js`` records its views); the times are the
page's own clock (``performance``), so Playwright's round trips are not in them.
An init script in the desk page records the first frame holding candidate rows,
every change of the grid's rows, and the time stamp of every click and key.

What it measures, each ``--runs`` times (default 20), median and worst:

* **first paint of the candidates**: a new tab opens the issue page; from the
  navigation's start (``performance.timeOrigin``) to the first frame painted
  with candidate rows. The page meanwhile asks for the issue's panel, its
  findings (an offline ``check``) and its four rendered views, as an editor's
  does. Baseline: the same page as static HTML (the desk page's own HTML with
  the same 50 rows, as the desk drew them, written into it, and its scripts
  removed), served by ``http.server`` on 127.0.0.1 with the same headers,
  measured the same way: what painting that page costs when nothing has to be
  asked for, so the ratio is what the desk's script and JSON add.
* **search**: a Chinese word (珊瑚礁, coral reef) and an English one (kelp),
  alternately, typed into the search box; from the Enter key to the first
  frame painted with the results. Baseline: the same answer
  (``/api/candidates?q=...``) fetched and parsed by the page itself, so the
  ratio is what drawing the 50 rows adds to the server's answer.
* **pick to repaint**: a click on a story's "catch-up" button; from the click to
  all four views (web page, email at 600 and 375 px, text) painted showing the
  story's title. Each pick is then undone (``u``, timed too) so every run edits
  the same issue. Baseline: the very same change saved into the file by a text
  editor (the bytes the pick wrote), from the save to the four views painted
  showing it, as ``bench/preview.py`` measures a save: the preview's own path
  for an edit, so the ratio says whether the browser's write is quicker or
  slower than an editor's save. Where a pick's time goes (medians): the POST
  answered, the issue rendered again, the version pushed and heard, the
  issue's state fetched, the views' requests and their paint.

Targets (medians): first paint < 500 ms, search < 100 ms, pick to repaint
< 300 ms. Between two measurements the page is let finish what it started (its
findings), so each run starts from a quiet desk.

Run:  .venv/bin/python bench/desk.py [--runs N] [--stories N] [--json]

(``--runs 2`` is a quick smoke run.) The README's picture of the desk is made
by ``tools/desk_screenshot.py``.

The script prints a table (name, value, unit, target, pass/fail); it exits 1
if the desk cannot be started or a step is not seen within its hang guard.
Missed targets show as FAIL. Every wait is bounded and the temporary folder is
removed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import importlib.metadata
import importlib.resources
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOCAL_ONLY_ARG,
    REPO,
    BenchError,
    Figure,
    copy_example_desk,
    table,
)

import newsletter
from newsletter import api
from newsletter.desk.lookup import store_path
from newsletter.preview.server import PreviewServer

SLUG = "2026-11-27"
STORIES = 10_000
WIDTH, HEIGHT = 1600, 1000
CHINESE_WORD = "珊瑚礁"  # coral reef: one of the generated store's Chinese terms
ENGLISH_WORD = "kelp"
PAGE_ROWS = 50  # what the desk asks for at a time (desk.js PAGE)

FIRST_PAINT_TARGET_MS = 500.0
SEARCH_TARGET_MS = 100.0
PICK_TARGET_MS = 300.0

GUARD_S = 30.0  # a hang guard for any one step
QUIET_S = 0.15  # after a measurement has settled, before the next one

# In the desk page (not its iframes), before its own scripts: the first frame with
# candidate rows, every change of the rows (once painted, with the count line and
# first row it shows), clicks and keys, the fetches and pushed versions.
TRACE_SCRIPT = r"""
(() => {
  if (window.top !== window) return;
  // every view's reload is a resource entry: the default buffer (250) fills in a run
  performance.setResourceTimingBufferSize(100000);
  const bench = window.bench = { rowsPainted: null, gridPaints: [], clicks: [], keys: [],
                                 fetches: [], events: [] };
  function firstRows() {
    if (document.querySelector("#candidate-grid .row")) {
      requestAnimationFrame(() => { bench.rowsPainted = performance.now(); });
      return;
    }
    requestAnimationFrame(firstRows);
  }
  requestAnimationFrame(firstRows);
  document.addEventListener("DOMContentLoaded", () => {
    const grid = document.getElementById("candidate-grid");
    const count = document.getElementById("count");
    if (!grid || !count) return;
    new MutationObserver(() => {
      const shown = { count: count.textContent,
                      first: grid.firstElementChild ? grid.firstElementChild.id : "" };
      requestAnimationFrame(() => requestAnimationFrame(() => {
        bench.gridPaints.push({ at: performance.now(), ...shown });
      }));
    }).observe(grid, { childList: true });
  });
  document.addEventListener("click", (event) => { bench.clicks.push(event.timeStamp); }, true);
  document.addEventListener("keydown", (event) => {
    bench.keys.push({ key: event.key, target: event.target.id || "", at: event.timeStamp });
  }, true);
  const nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    const entry = { url: String(input), method: (init && init.method) || "GET",
                    start: performance.now(), end: null };
    bench.fetches.push(entry);
    return nativeFetch.call(this, input, init).then((response) => {
      entry.end = performance.now();
      return response;
    });
  };
  const NativeSource = window.EventSource;
  if (NativeSource) {
    const Traced = function (url, options) {
      const source = new NativeSource(url, options);
      source.addEventListener("message", (event) => {
        bench.events.push({ version: Number(event.data), at: performance.now() });
      });
      return source;
    };
    Traced.prototype = NativeSource.prototype;
    window.EventSource = Traced;
  }
})();
"""

# The desk has loaded its candidates, panel and findings, and painted its four views.
DESK_SETTLED = """() => {
  const desk = window.newsletterDesk, preview = window.newsletterPreview;
  const status = document.getElementById("findings-status");
  return Boolean(desk && preview && desk.candidateLoads >= 1 && desk.panel !== null &&
    desk.findingsLoads >= 1 && !status.textContent.startsWith("Checking") &&
    preview.painted.length >= 4);
}"""

# What the desk has done so far, for a step that never came.
DESK_STATE = """() => {
  const desk = window.newsletterDesk, preview = window.newsletterPreview;
  const status = document.getElementById("findings-status");
  return { said: desk ? desk.log : null, candidateLoads: desk && desk.candidateLoads,
           panel: Boolean(desk && desk.panel), findingsLoads: desk && desk.findingsLoads,
           findings: status ? status.textContent : null,
           painted: preview ? preview.painted.length : null,
           version: preview ? preview.version : null };
}"""

# The first version after `after` that all four views painted, if each of them shows
# (or, with present false, no longer shows) `text`: its paints in page time.
VIEWS_SHOW = r"""([after, text, present]) => {
  const views = { "index.html": 1, "email.html": 2, "email.txt": 1 };
  const byVersion = new Map();
  for (const entry of window.newsletterPreview.painted) {
    if (entry.version <= after) continue;
    if (!byVersion.has(entry.version)) byVersion.set(entry.version, []);
    byVersion.get(entry.version).push(entry);
  }
  const done = [...byVersion.keys()].sort((a, b) => a - b).filter((v) =>
    Object.entries(views).every(([view, need]) =>
      byVersion.get(v).filter((e) => e.view === view).length >= need));
  if (!done.length) return null;
  const version = done[done.length - 1];
  const shows = Array.from(document.querySelectorAll("iframe[data-src]")).every((frame) => {
    const doc = frame.contentDocument;
    // the words, not the quote marks: the render may set typographic ones
    const plain = (t) => t.replace(/\s+/g, " ").replace(/[\u2018\u2019]/g, "'")
                          .replace(/[\u201c\u201d]/g, '"');
    const body = doc && doc.body ? plain(doc.body.textContent) : "";
    return body.includes(plain(text)) === present;
  });
  if (!shows) return null;
  const origin = performance.timeOrigin;
  return { version, painted: byVersion.get(version).map((e) => e.at - origin) };
}"""

# The grid painted with the results of a search for `word`, after the Enter at `since`.
SEARCH_PAINTED = """([word, since]) => {
  const enter = window.bench.keys.filter((k) => k.key === "Enter" && k.target === "q" &&
                                          k.at > since).slice(-1)[0];
  if (!enter) return null;
  const paint = window.bench.gridPaints.find((p) => p.at > enter.at &&
                                                 p.count.includes("“" + word + "”"));
  return paint ? { enter: enter.at, painted: paint.at } : null;
}"""

# The page's own fetch of the answer a search shows, parsed: the search's floor.
FETCH_ANSWER = """async (address) => {
  const start = performance.now();
  const response = await fetch(address, { cache: "no-store", credentials: "same-origin" });
  const answer = await response.json();
  return { ms: performance.now() - start, total: answer.total, rows: answer.rows.length };
}"""

# What the page saw of one pick: the POST's answer, the version it heard, the
# state.json it fetched, and the iframes' requests (resource timing), in page time.
PICK_TRACE = """([since, version]) => {
  const bench = window.bench;
  const after = (list) => list.filter((e) => e.start > since);
  const posts = after(bench.fetches).filter((f) => f.method === "POST" && f.end !== null);
  const states = after(bench.fetches).filter((f) => f.url.startsWith("state.json") &&
                                                   f.end !== null);
  const heard = bench.events.filter((e) => e.at > since && e.version === version);
  const frames = performance.getEntriesByType("resource").filter((e) =>
    e.initiatorType === "iframe" && e.startTime > since);
  return {
    post_answered: posts.length ? posts[0].end : null,
    version_heard: heard.length ? heard[0].at : null,
    state_fetched: states.length ? states[0].end : null,
    first_view_asked: frames.length ? Math.min(...frames.map((f) => f.startTime)) : null,
    last_view_answered: frames.length ? Math.max(...frames.map((f) => f.responseEnd)) : null,
  };
}"""

# The candidate rows on screen: id, title, and whether the issue holds the story.
ROWS = """() => Array.from(document.querySelectorAll("#candidate-grid .row")).map((row) => ({
  id: row.dataset.id, title: row.querySelector(".title").textContent,
  here: row.classList.contains("here") }))"""

LAST_CLICK = "() => window.bench.clicks.slice(-1)[0]"
LAST_KEY = "(key) => window.bench.keys.filter((k) => k.key === key).slice(-1)[0].at"
PAGE_NOW = "() => performance.now()"
PAGE_ORIGIN = "() => performance.timeOrigin"
LAST_VERSION = "() => Math.max(-1, ...window.newsletterPreview.painted.map((e) => e.version))"


def _now_ms() -> float:
    return time.time() * 1000


# --- the desk ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Desk:
    root: Path
    issue: Path
    store_seconds: float


def make_desk(folder: Path, stories: int) -> Desk:
    """The example desk with a generated store of `stories` candidates."""
    sys.path.insert(0, str(REPO / "tests"))
    from generated_store import make_store

    root = copy_example_desk(folder)
    store = store_path(api.load_desk(root))
    store.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    make_store(store, stories)
    return Desk(root=root, issue=root / "issues" / f"{SLUG}.yaml",
                store_seconds=time.perf_counter() - start)


@contextlib.contextmanager
def serving(root: Path) -> Iterator[PreviewServer]:
    server = api.preview_server(root, host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(slots=True)
class ServerTrace:
    """When the server answered the desk's writes and rebuilt (epoch ms)."""

    posts: list[tuple[float, float]] = field(default_factory=list)  # (start, end)
    rebuilt: list[float] = field(default_factory=list)  # the builder's `changed` returned


def trace_server(server: PreviewServer) -> ServerTrace:
    """Wrap the builder's `post` and `changed` to time them."""
    trace = ServerTrace()
    builder: Any = server.builder
    post, changed = builder.post, builder.changed

    @functools.wraps(post)
    def timed_post(path: str, body: Any) -> Any:
        start = _now_ms()
        try:
            return post(path, body)
        finally:
            trace.posts.append((start, _now_ms()))

    @functools.wraps(changed)
    def timed_changed(paths: set[Path]) -> None:
        changed(paths)
        trace.rebuilt.append(_now_ms())

    builder.post, builder.changed = timed_post, timed_changed
    return trace


# --- the static twin of the desk page ---------------------------------------------------


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Files, with the preview's own headers: no caching, Nagle off."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_twin(folder: Path, page_html: str, grid_html: str) -> Iterator[str]:
    """The desk page with `grid_html` in place of its empty grid and no script,
    with its stylesheets, served on 127.0.0.1; yields its address."""
    html = re.sub(r"<script\b[^>]*>\s*</script>", "", page_html)
    html, found = re.subn(r'<div class="grid" id="candidate-grid"[^>]*></div>', grid_html, html)
    if found != 1:
        raise BenchError("the desk page has no empty candidate grid to fill in")
    (folder / "__ui").mkdir(parents=True)
    ui = importlib.resources.files("newsletter.preview") / "ui"
    for name in ("preview.css", "desk.css"):
        (folder / "__ui" / name).write_bytes((ui / name).read_bytes())
    (folder / "index.html").write_text(html, encoding="utf-8")
    handler = functools.partial(_StaticHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-twin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the browser ------------------------------------------------------------------------


@contextlib.contextmanager
def chromium() -> Iterator[tuple[Any, str]]:
    """A browser context at 1600x1000 that reaches 127.0.0.1 only, traced."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise BenchError("Debian's chromium is not installed: run `apt-get install chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=[*CHROMIUM_ARGS, LOCAL_ONLY_ARG])
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                          service_workers="block")
            context.set_default_timeout(GUARD_S * 1000)
            context.set_default_navigation_timeout(GUARD_S * 1000)
            context.add_init_script(TRACE_SCRIPT)
            yield context, browser.version
            context.close()
        finally:
            browser.close()


def wait_for(page: Any, script: str, arg: Any, what: str) -> Any:
    """The truthy value of `script` once it has one; BenchError after the hang guard."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        return page.wait_for_function(script, arg=arg, timeout=GUARD_S * 1000).json_value()
    except PlaywrightTimeoutError as exc:
        state = page.evaluate(DESK_STATE)
        raise BenchError(f"{what}: not seen within {GUARD_S:g} s (the desk: {state})") from exc


def settle(page: Any) -> None:
    """Let the page finish what it started (its findings), then a moment more."""
    wait_for(page, DESK_SETTLED, None, "the desk settling")
    time.sleep(QUIET_S)


def open_desk(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(url, wait_until="commit")
    settle(page)
    return page


def rows_painted(page: Any, url: str) -> float:
    """Navigate `page` to `url`: ms from the navigation's start to candidate rows painted."""
    page.goto(url, wait_until="commit")
    painted: float = wait_for(page, "() => window.bench && window.bench.rowsPainted", None,
                              f"candidate rows painted at {url}")
    return painted


# --- the measurements -------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    first_paint: list[float] = field(default_factory=list)
    static_paint: list[float] = field(default_factory=list)
    search: dict[str, list[float]] = field(default_factory=dict)
    answer: dict[str, list[float]] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)
    pick: list[float] = field(default_factory=list)
    undo: list[float] = field(default_factory=list)
    save: list[float] = field(default_factory=list)
    pick_stages: list[dict[str, float]] = field(default_factory=list)


def bench_first_paint(context: Any, desk_url: str, static_url: str, runs: int,
                      results: Results) -> None:
    """A new tab per run, the desk and its static twin in turn."""
    for number in range(1, runs + 1):
        page = context.new_page()
        results.first_paint.append(rows_painted(page, desk_url))
        settle(page)  # the findings and views it asked for, before the next run
        page.close()
        page = context.new_page()
        results.static_paint.append(rows_painted(page, static_url))
        page.close()
        print(f"  first paint {number}/{runs}: desk {results.first_paint[-1]:.0f} ms, "
              f"static {results.static_paint[-1]:.0f} ms", file=sys.stderr)
        time.sleep(QUIET_S)


def bench_search(page: Any, runs: int, results: Results) -> None:
    """Each word `runs` times, in turn (each search changes what the grid shows)."""
    words = (CHINESE_WORD, ENGLISH_WORD)
    for word in words:
        results.search[word], results.answer[word] = [], []
    for number in range(1, runs + 1):
        for word in words:
            since = page.evaluate(PAGE_NOW)
            page.fill("#q", word)
            page.press("#q", "Enter")
            shown = wait_for(page, SEARCH_PAINTED, [word, since], f"the search for {word}")
            results.search[word].append(shown["painted"] - shown["enter"])
            time.sleep(QUIET_S)
            address = f"/api/candidates?offset=0&limit={PAGE_ROWS}&q={urllib.parse.quote(word)}"
            answer = page.evaluate(FETCH_ANSWER, address)
            results.answer[word].append(answer["ms"])
            results.matches[word] = answer["total"]
            time.sleep(QUIET_S)
        print(f"  search {number}/{runs}: " + ", ".join(
            f"{w} {results.search[w][-1]:.0f} ms (answer {results.answer[w][-1]:.0f} ms)"
            for w in words), file=sys.stderr)
    page.fill("#q", "")
    page.press("#q", "Enter")
    settle(page)


def pickable(page: Any, count: int) -> list[dict[str, str]]:
    """`count` listed stories with plain ASCII titles (found whole in the text view,
    where CJK titles may be broken across lines) that the issue does not hold."""
    rows = [r for r in page.evaluate(ROWS) if not r["here"] and r["title"].isascii()]
    if len(rows) < count:
        raise BenchError(f"only {len(rows)} of the listed stories can be picked; {count} needed")
    return rows[:count]


def bench_pick(page: Any, issue: Path, runs: int, server: ServerTrace, results: Results
               ) -> None:
    """Pick, undo, then the same change saved by a text editor and put back."""
    original = issue.read_bytes()
    origin: float = page.evaluate(PAGE_ORIGIN)
    for number, row in enumerate(pickable(page, runs), 1):
        last = page.evaluate(LAST_VERSION)
        posts = len(server.posts)
        page.click(f"#cand-{row['id']} button.pick[data-into='catch_up']")
        clicked: float = page.evaluate(LAST_CLICK)
        shown = wait_for(page, VIEWS_SHOW, [last, row["title"], True],
                         f"pick {number} in the four views")
        results.pick.append(max(shown["painted"]) - clicked)
        trace = page.evaluate(PICK_TRACE, [clicked, shown["version"]])
        stages = {name: at - clicked for name, at in trace.items() if at is not None}
        if len(server.posts) > posts:
            start, end = server.posts[posts]
            stages["post_handled"] = end - start
        rebuilt = [t - origin - clicked for t in server.rebuilt if t - origin > clicked]
        if rebuilt:
            stages["rebuilt"] = rebuilt[0]
        stages["painted_first"] = min(shown["painted"]) - clicked
        results.pick_stages.append(stages)
        picked = issue.read_bytes()
        settle(page)

        last = shown["version"]
        page.keyboard.press("u")
        pressed: float = page.evaluate(LAST_KEY, "u")
        shown = wait_for(page, VIEWS_SHOW, [last, row["title"], False], f"undo {number}")
        results.undo.append(max(shown["painted"]) - pressed)
        if issue.read_bytes() != original:
            raise BenchError(f"undo {number} did not put the issue file back as it was")
        settle(page)

        last = shown["version"]
        saved = _now_ms()
        issue.write_bytes(picked)  # a text editor saving the same change
        shown = wait_for(page, VIEWS_SHOW, [last, row["title"], True], f"save {number}")
        results.save.append(max(shown["painted"]) + origin - saved)
        settle(page)
        last = shown["version"]
        issue.write_bytes(original)
        wait_for(page, VIEWS_SHOW, [last, row["title"], False], f"save {number} put back")
        settle(page)
        print(f"  pick {number}/{runs}: {results.pick[-1]:.0f} ms (undo "
              f"{results.undo[-1]:.0f} ms, the same change saved {results.save[-1]:.0f} ms)",
              file=sys.stderr)


def measure(runs: int, stories: int, report: dict[str, Any]) -> Results:
    results = Results()
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as tmp:
        desk = make_desk(Path(tmp), stories)
        report["store_seconds"] = round(desk.store_seconds, 1)
        with serving(desk.root) as server, chromium() as (context, version):
            report["chromium"] = version
            trace = trace_server(server)
            desk_url = f"{server.url}issues/{SLUG}/"
            page = open_desk(context, desk_url)
            with urllib.request.urlopen(desk_url, timeout=GUARD_S) as answer:
                page_html = answer.read().decode()
            grid_html = page.evaluate("document.getElementById('candidate-grid').outerHTML")
            with static_twin(Path(tmp) / "static", page_html, grid_html) as static_url:
                bench_first_paint(context, desk_url, static_url, runs, results)
            bench_search(page, runs, results)
            bench_pick(page, desk.issue, runs, trace, results)
            page.close()
    return results


# --- the report -------------------------------------------------------------------------


def _timing(name: str, times: Sequence[float], target: float | None = None,
            baseline: tuple[str, Sequence[float]] | None = None) -> list[Figure]:
    median, worst = statistics.median(times), max(times)
    figures = [
        Figure(f"{name} (median of {len(times)})", round(median, 1), "ms",
               f"< {target:g}" if target else "", median < target if target else None),
        Figure(f"{name} (worst)", round(worst, 1), "ms"),
    ]
    if baseline is not None:
        label, base = baseline
        base_median = statistics.median(base)
        figures += [
            Figure(f"  baseline: {label} (median)", round(base_median, 1), "ms"),
            Figure(f"  baseline: {label} (worst)", round(max(base), 1), "ms"),
            Figure("  ratio, medians", round(median / base_median, 2), "x"),
        ]
    return figures


PICK_STAGES = {
    "post_handled": "the desk's POST handled in the server (its duration)",
    "post_answered": "the POST's answer in the page",
    "rebuilt": "the issue rendered again (DeskPreview.changed returned)",
    "version_heard": "the new version heard by the page",
    "state_fetched": "state.json answered",
    "first_view_asked": "first view asked for",
    "last_view_answered": "last view answered",
    "painted_first": "first view painted",
}


def figures_of(results: Results, report: dict[str, Any]) -> list[Figure]:
    figures = _timing("first paint of the candidates", results.first_paint,
                      FIRST_PAINT_TARGET_MS,
                      ("the same page, static, with the same rows", results.static_paint))
    for word, times in results.search.items():
        figures += _timing(f"search “{word}” ({results.matches.get(word, 0):,} match), "
                           "Enter to painted", times, SEARCH_TARGET_MS,
                           ("its answer fetched by the page", results.answer[word]))
    figures += _timing("pick to repaint, four views", results.pick, PICK_TARGET_MS,
                       ("the same change saved by a text editor", results.save))
    for key, name in PICK_STAGES.items():
        times = [s[key] for s in results.pick_stages if key in s]
        if times:
            after = "ms" if key == "post_handled" else "ms after the click"
            figures.append(Figure(f"  {name}, median", round(statistics.median(times), 1),
                                  after))
    figures += _timing("undo (u) to repaint, four views", results.undo)
    figures.append(Figure(f"making the store of {report['stories']:,} stories",
                          report["store_seconds"], "s"))
    return figures


# --- main -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each figure (default 20)")
    parser.add_argument("--stories", type=int, default=STORIES,
                        help=f"candidates in the store (default {STORIES:,})")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {"runs": args.runs, "stories": args.stories,
                              "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0]}
    cores = len(os.sched_getaffinity(0))
    if report["load_average"] > 0.5 * cores:
        print(f"warning: load average {report['load_average']:.1f} on {cores} usable cores "
              "before the run: other work competes with the browser and the server",
              file=sys.stderr)
    from playwright.sync_api import Error as PlaywrightError

    started = time.perf_counter()
    try:
        results = measure(args.runs, args.stories, report)
    except (BenchError, PlaywrightError) as exc:
        print(f"the desk bench failed: {exc}", file=sys.stderr)
        return 1
    report["seconds"] = round(time.perf_counter() - started)
    versions = {"python": platform.python_version(), "newsletter": newsletter.__version__,
                "playwright": importlib.metadata.version("playwright"),
                "chromium": report.get("chromium", "?")}
    figures = figures_of(results, report)
    print(f"\nThe desk in the browser, {args.stories:,} candidates, {args.runs} runs each "
          f"({platform.platform()}; {report['cpu_count']} cores; load average "
          f"{report['load_average']:.1f} before; {report['seconds']} s)")
    print("Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    print()
    print(table(figures))
    if args.json:
        print()
        print(json.dumps({**report, "versions": versions, "results": asdict(results),
                          "figures": [asdict(f) for f in figures]}, indent=2,
                         ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
