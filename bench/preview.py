"""Benchmark the live preview: from saving an issue file to its views repainted.

The set-up: a copy of the example desk in a temporary folder (``newsletter.yaml``,
``issues/``, ``examples/images/``, as the ``desk`` fixture of ``tests/conftest.py``).
The preview server (``api.preview_server(desk, host="127.0.0.1", port=0)``) runs
in this process, on its own threads (HTTP, and the watchfiles watcher). Debian's
Chromium (``/usr/bin/chromium``), driven by Playwright with the flags of
``tests/conftest.py``, opens ``/issues/2026-11-27/`` (the seed-shaped issue) at
1600x1000. Nothing leaves the machine: Chromium resolves no host name but
127.0.0.1 (``--host-resolver-rules``), and a request to another host that does
not fail stops the bench. (Not a Playwright route as in the tests: a routed
request passes through Playwright, which would add to the times, and the web
page's nested YouTube/Vimeo iframes, aborted by a route, never end loading, so
the web view's ``load`` never fires. Refused at name resolution they show
Chromium's error page, as offline.) The page holds four iframes (web
page, email at 600 px, email at 375 px, plain text) and records in
``window.newsletterPreview.painted`` one ``{version, view, at}`` per iframe
load, ``at`` (epoch ms, ``performance.timeOrigin + performance.now()``) taken
two animation frames after the load, i.e. when the new content is on screen.

What it measures: after the first full paint (all four views), ``--edits``
(default 20) edits of ``issues/2026-11-27.yaml``, alternately the lead headline
and the first paragraph of the lead's body, each with its own marker
(``bench-edit-N``). For each edit the whole file is written
(``Path.write_text``), ``time.time() * 1000`` taken just before the write; then
we wait (at most 5 s) until all four views have painted a version the server
pushed after the save, and check the web view shows the marker. Latencies:

* **save to repainted, all views**: the latest ``at`` of the four views for
  that version, minus the save time;
* **save to repainted, web page**: the same for the web view alone.

Median, 90th percentile (``statistics.quantiles``, inclusive) and worst over
the edits are reported. Targets: median < 300 ms, worst < 500 ms. About 300 ms
pass between one repaint and the next save, so each save is its own rebuild.
The browser's and Python's clocks are the same wall clock; their offset (read
before and after the edits, +- half a round trip) is printed, not subtracted.

Where the time goes, per edit (medians, in ms after the save): the watcher
yielding (``PreviewServer.rebuilt`` wrapped), the rebuild (``DeskPreview.changed``
wrapped), the version reaching the page (an init script wraps ``EventSource``),
the ``state.json`` answer (``fetch`` wrapped), the iframes' request start and
response end (resource timing) and ``load`` events, and the paint of the text,
email and web views. Also, as context: the server-side rebuild of the issue
alone (``DeskPreview.changed`` on the issue file, in-process, one warm-up then
the median of 20), the watchfiles ``step``/``debounce`` the server uses
(``newsletter.preview.server``), and what the four iframes load again on each repaint
(pictures, nested video iframes). The server shares this interpreter with
Playwright's client, which only waits on the browser while an edit is timed.

Run:  .venv/bin/python bench/preview.py [--edits N] [--json]

The script prints a table (name, value, unit, target, pass/fail) and the
versions; ``--json`` also prints every edit as JSON. It exits 1 if the preview
cannot be started, an edit is not repainted within 5 s or the web view misses
an edit; missed latency targets show as FAIL. Every wait is bounded and the
temporary folder is removed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import BenchError, Figure, table, time_calls

import newsletter
import newsletter.preview.server
from newsletter import api
from newsletter.preview.desk import DeskPreview
from newsletter.preview.server import PreviewServer

REPO = Path(__file__).resolve().parent.parent
ISSUE = Path("issues") / "2026-11-27.yaml"
SLUG = "2026-11-27"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDTH, HEIGHT = 1600, 1000  # the browser window
VIEWS = {"index.html": 1, "email.html": 2, "email.txt": 1}  # iframes per view

MEDIAN_TARGET_MS = 300.0
WORST_TARGET_MS = 500.0

REPAINT_TIMEOUT_S = 5.0  # one edit, save to all four views repainted
FIRST_PAINT_TIMEOUT_S = 30.0  # the page's first load, every view rendered
NAVIGATION_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 10.0  # any other call into the browser
GAP_S = 0.3  # between one repaint and the next save
REBUILD_RUNS = 20

# The original texts the edits change (each edit starts again from the seed file).
HEADLINE = "Tideline: fishing towns are replanting the kelp forests they lost."
PARAGRAPH = "At half past seven on a November morning,"

# Runs in the preview page (not its iframes) before its own script: timestamps
# (same clock as `painted`) of the versions pushed, the state.json fetches and
# the iframe loads.
TRACE_SCRIPT = r"""
(() => {
  if (window.top !== window) return;
  const now = () => performance.timeOrigin + performance.now();
  const version = (url) => Number(new URL(url, location.href).searchParams.get("v"));
  const trace = window.benchTrace = { events: [], state: [], loads: [] };
  const NativeSource = window.EventSource;
  function TracedSource(url, options) {
    const source = new NativeSource(url, options);
    source.addEventListener("message", (event) => {
      trace.events.push({ version: Number(event.data), at: now() });
    });
    return source;
  }
  TracedSource.prototype = NativeSource.prototype;
  window.EventSource = TracedSource;
  const nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = String(input && input.url ? input.url : input);
    const entry = { version: version(url), start: now(), end: null };
    trace.state.push(entry);
    return nativeFetch.call(this, input, init).then((response) => {
      entry.end = now();
      return response;
    });
  };
  document.addEventListener("load", (event) => {
    const frame = event.target;
    if (frame && frame.tagName === "IFRAME" && frame.getAttribute("src")) {
      trace.loads.push({ version: version(frame.getAttribute("src")),
                         view: frame.getAttribute("data-src"), at: now() });
    }
  }, true);
})();
"""

# The first version after `after` that every view has painted (counting the two
# email iframes), or null. Wrapped in an object: version 0 is falsy.
PAINTED_SCRIPT = """
([after, views]) => {
  const counts = new Map();
  for (const entry of window.newsletterPreview.painted) {
    if (entry.version <= after) continue;
    const seen = counts.get(entry.version) || {};
    seen[entry.view] = (seen[entry.view] || 0) + 1;
    counts.set(entry.version, seen);
  }
  const done = [...counts.keys()].sort((a, b) => a - b).filter((v) =>
    Object.entries(views).every(([view, need]) => (counts.get(v)[view] || 0) >= need));
  return done.length ? { version: done[0] } : null;
}
"""

# What the page recorded for one version: paints, pushes, fetches, iframe loads,
# and the iframes' navigation timings (resource timing of the preview page).
VERSION_SCRIPT = """
(v) => {
  const trace = window.benchTrace || { events: [], state: [], loads: [] };
  const origin = performance.timeOrigin;
  const frames = performance.getEntriesByType("resource")
    .filter((e) => e.initiatorType === "iframe" &&
                   new URL(e.name).searchParams.get("v") === String(v))
    .map((e) => ({ name: new URL(e.name).pathname.split("/").pop(),
                   start: origin + e.startTime, response_start: origin + e.responseStart,
                   response_end: origin + e.responseEnd }));
  return {
    painted: window.newsletterPreview.painted.filter((e) => e.version === v),
    events: trace.events.filter((e) => e.version === v),
    state: trace.state.filter((e) => e.version === v),
    loads: trace.loads.filter((e) => e.version === v),
    frames: frames,
  };
}
"""

# The web view's text, to check it shows the edit.
WEB_TEXT_SCRIPT = """
() => {
  const frame = document.querySelector('iframe[data-src="index.html"]');
  return frame && frame.contentDocument && frame.contentDocument.body
    ? frame.contentDocument.body.textContent : "";
}
"""

# Pictures and other sub-resources each iframe loaded for its current page, and
# the addresses of the iframes nested in it (video embeds).
SUBRESOURCES_SCRIPT = """
() => Array.from(document.querySelectorAll("iframe[data-src]")).map((frame) => {
  const entries = frame.contentWindow.performance.getEntriesByType("resource");
  return { view: frame.getAttribute("data-src"), count: entries.length,
           bytes: entries.reduce((sum, e) => sum + (e.encodedBodySize || 0), 0),
           frames: entries.filter((e) => e.initiatorType === "iframe").map((e) => e.name) };
})
"""

# Every host name but 127.0.0.1 fails to resolve: nothing leaves the machine.
LOCAL_ONLY_ARG = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


# --- the server side -----------------------------------------------------------------


@dataclass(slots=True)
class Rebuild:
    """One yield of the watcher, as the server handled it (epoch ms)."""

    yielded_at: float
    built_at: float = 0.0  # DeskPreview.changed returned
    notified_at: float = 0.0  # PreviewServer.rebuilt returned (version pushed)
    version: int = 0
    paths: list[str] = field(default_factory=list)


def _now_ms() -> float:
    return time.time() * 1000


def trace_server(server: PreviewServer) -> list[Rebuild]:
    """Wrap the server's `rebuilt` and its builder's `changed` to time every rebuild."""
    rebuilds: list[Rebuild] = []
    lock = threading.Lock()
    builder: Any = server.builder
    original_rebuilt, original_changed = server.rebuilt, builder.changed

    def changed(paths: set[Path]) -> None:
        original_changed(paths)
        with lock:
            rebuilds[-1].built_at = _now_ms()

    def rebuilt(paths: set[Path]) -> None:
        with lock:
            rebuilds.append(Rebuild(_now_ms(), paths=sorted(str(p) for p in paths)))
        original_rebuilt(paths)
        with lock:
            rebuilds[-1].notified_at = _now_ms()
            rebuilds[-1].version = server.version

    builder.changed = changed
    server.rebuilt = rebuilt  # type: ignore[method-assign]  # the watch thread calls self.rebuilt
    return rebuilds


def copy_desk(folder: Path) -> Path:
    """The example desk, as the `desk` fixture of tests/conftest.py copies it."""
    desk = folder / "desk"
    desk.mkdir()
    shutil.copy(REPO / "newsletter.yaml", desk)
    shutil.copytree(REPO / "issues", desk / "issues")
    shutil.copytree(REPO / "examples" / "images", desk / "examples" / "images")
    return desk


def edited(seed: str, number: int) -> str:
    """The seed issue's text with edit `number`: the headline or the first paragraph."""
    marker = f"bench-edit-{number}"
    old = HEADLINE if number % 2 else PARAGRAPH
    new = old.replace(" are ", f" are ({marker}) ") if number % 2 else f"{old} ({marker})"
    if seed.count(old) != 1:
        raise BenchError(f"the seed issue no longer holds {old!r} exactly once")
    return seed.replace(old, new)


def time_rebuild(desk: Path) -> dict[str, Any]:
    """DeskPreview.changed on the issue file alone, as the watcher calls it."""
    preview = DeskPreview(desk, "http://127.0.0.1:9/", render=api.render_with_stories)
    issue = desk / ISSUE
    preview.page(f"/issues/{issue.stem}/state.json", {})  # built, as an open page has it
    timing = time_calls(lambda: preview.changed({issue}), REBUILD_RUNS)
    return asdict(timing)


# --- the browser side ----------------------------------------------------------------


@dataclass(slots=True)
class Edit:
    """One save and what followed (times in ms after the save, None if not seen)."""

    number: int
    saved_at: float  # epoch ms
    version: int | None = None
    all_views_ms: float | None = None
    web_ms: float | None = None
    rebuilds: int = 0
    stale: bool = False
    stages: dict[str, float | None] = field(default_factory=dict)


def _is_local(url: str) -> bool:
    return urlsplit(url).hostname == "127.0.0.1" or not url.startswith(("http:", "https:"))


def _after(times: Sequence[float], saved_at: float, pick: Any = max) -> float | None:
    return round(pick(times) - saved_at, 1) if times else None


def _painted(record: dict[str, Any], view: str) -> list[float]:
    return [p["at"] for p in record["painted"] if p["view"] == view]


def stages_of(record: dict[str, Any], rebuild: Rebuild | None, saved_at: float
              ) -> dict[str, float | None]:
    """Milliseconds after the save at which each step of the repaint happened."""
    frames = record["frames"]
    state = [s for s in record["state"] if s["end"] is not None]
    return {
        "watcher_yield": _after([rebuild.yielded_at], saved_at) if rebuild else None,
        "rebuilt": _after([rebuild.built_at], saved_at) if rebuild else None,
        "version_pushed": _after([rebuild.notified_at], saved_at) if rebuild else None,
        "event_received": _after([e["at"] for e in record["events"]], saved_at, min),
        "state_fetched": _after([s["end"] for s in state], saved_at, min),
        "first_iframe_request": _after([f["start"] for f in frames], saved_at, min),
        "last_iframe_response": _after([f["response_end"] for f in frames], saved_at),
        "first_iframe_load": _after([e["at"] for e in record["loads"]], saved_at, min),
        "last_iframe_load": _after([e["at"] for e in record["loads"]], saved_at),
        "text_painted": _after(_painted(record, "email.txt"), saved_at, min),
        "emails_painted": _after(_painted(record, "email.html"), saved_at),
        "web_painted": _after(_painted(record, "index.html"), saved_at, min),
        "all_painted": _after([p["at"] for p in record["painted"]], saved_at),
    }


def clock_offset(page: Any) -> dict[str, float]:
    """The browser's clock minus ours (ms), and the round trip of the reading."""
    before = _now_ms()
    theirs = page.evaluate("performance.timeOrigin + performance.now()")
    after = _now_ms()
    return {"offset_ms": round(theirs - (before + after) / 2, 2),
            "round_trip_ms": round(after - before, 2)}


def wait_painted(page: Any, after: int, timeout_s: float) -> int | None:
    """The first version after `after` all views painted, or None after `timeout_s`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        handle = page.wait_for_function(PAINTED_SCRIPT, arg=[after, VIEWS],
                                        timeout=timeout_s * 1000)
    except PlaywrightTimeoutError:
        return None
    version: int = handle.json_value()["version"]
    return version


def run_edits(page: Any, issue: Path, edits: int, rebuilds: list[Rebuild],
              last: int) -> list[Edit]:
    """`edits` saves of the issue file, each waited for until repainted."""
    seed = issue.read_text(encoding="utf-8")
    results = []
    for number in range(1, edits + 1):
        text = edited(seed, number)
        before = len(rebuilds)
        saved_at = _now_ms()
        issue.write_text(text, encoding="utf-8")
        edit = Edit(number, saved_at)
        version = wait_painted(page, last, REPAINT_TIMEOUT_S)
        time.sleep(0.05)  # let a second yield of the same save show in `rebuilds`
        mine = rebuilds[before:]
        edit.rebuilds = len(mine)
        if version is None:
            print(f"  edit {number}/{edits}: not repainted within {REPAINT_TIMEOUT_S:g} s",
                  file=sys.stderr)
            results.append(edit)
            time.sleep(GAP_S)
            continue
        record = page.evaluate(VERSION_SCRIPT, version)
        rebuild = next((r for r in mine if r.version == version), None)
        painted = [p["at"] for p in record["painted"]]
        web = _painted(record, "index.html")
        edit.version = version
        edit.all_views_ms = round(max(painted) - saved_at, 1)
        edit.web_ms = round(min(web) - saved_at, 1)
        edit.stages = stages_of(record, rebuild, saved_at)
        edit.stale = f"bench-edit-{number}" not in page.evaluate(WEB_TEXT_SCRIPT)
        last = version
        print(f"  edit {number}/{edits}: all views {edit.all_views_ms:.0f} ms, web "
              f"{edit.web_ms:.0f} ms (version {version}, {edit.rebuilds} rebuild(s)"
              f"{', STALE' if edit.stale else ''})", file=sys.stderr)
        results.append(edit)
        time.sleep(GAP_S)
    return results


def bench_browser(server: PreviewServer, issue: Path, edits: int, report: dict[str, Any],
                  versions: dict[str, str]) -> list[Edit]:
    """Open the issue's preview, wait for its first paint, then time the edits."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise BenchError("Debian's chromium is not installed: run `apt-get install chromium`")
    rebuilds = trace_server(server)
    blocked: list[str] = []
    escaped: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=[*CHROMIUM_ARGS, LOCAL_ONLY_ARG])
            try:
                versions["chromium"] = browser.version
                context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                              service_workers="block")
                context.set_default_timeout(CALL_TIMEOUT_S * 1000)
                context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_S * 1000)
                context.on("requestfailed", lambda request: blocked.append(request.url)
                           if not _is_local(request.url) else None)
                context.on("requestfinished", lambda request: escaped.append(request.url)
                           if not _is_local(request.url) else None)
                context.add_init_script(TRACE_SCRIPT)
                page = context.new_page()
                start = _now_ms()
                page.goto(f"{server.url}issues/{SLUG}/", wait_until="load")
                first = wait_painted(page, -1, FIRST_PAINT_TIMEOUT_S)
                if first is None:
                    raise BenchError(f"the preview page did not paint its four views within "
                                     f"{FIRST_PAINT_TIMEOUT_S:g} s")
                first_paint = max(p["at"] for p in
                                  page.evaluate(VERSION_SCRIPT, first)["painted"])
                report["first_paint_ms"] = round(first_paint - start, 1)
                report["subresources"] = page.evaluate(SUBRESOURCES_SCRIPT)
                report["clock_before"] = clock_offset(page)
                time.sleep(GAP_S)
                results = run_edits(page, issue, edits, rebuilds, first)
                report["clock_after"] = clock_offset(page)
                context.close()
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise BenchError(f"the browser failed: {exc}") from exc
    if escaped:
        raise BenchError(f"requests left the machine: {', '.join(sorted(set(escaped)))}")
    report["blocked_requests"] = blocked
    report["rebuilds"] = [asdict(r) for r in rebuilds]
    return results


# --- the report ------------------------------------------------------------------------


def p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def latency_figures(edits: Sequence[Edit]) -> list[Figure]:
    repainted = [e for e in edits if e.all_views_ms is not None]
    missed = len(edits) - len(repainted)
    stale = sum(e.stale for e in edits)
    figures = []
    for label, values in (
        ("all views", [e.all_views_ms for e in repainted]),
        ("web page", [e.web_ms for e in repainted]),
    ):
        times = [v for v in values if v is not None]
        if not times:
            continue
        median, worst = statistics.median(times), max(times)
        if missed:  # a save never repainted is worse than any that was
            worst = max(worst, REPAINT_TIMEOUT_S * 1000)
        figures += [
            Figure(f"save to repainted, {label} (median of {len(times)})", round(median, 1),
                   "ms", f"< {MEDIAN_TARGET_MS:g}", median < MEDIAN_TARGET_MS),
            Figure(f"save to repainted, {label} (p90)", round(p90(times), 1), "ms"),
            Figure(f"save to repainted, {label} (worst)", round(worst, 1), "ms",
                   f"< {WORST_TARGET_MS:g}", worst < WORST_TARGET_MS),
        ]
    figures += [
        Figure(f"edits not repainted within {REPAINT_TIMEOUT_S:g} s", missed, "edits", "0",
               missed == 0),
        Figure("edits the web view did not show", stale, "edits", "0", stale == 0),
        Figure("rebuilds per save (max)", max((e.rebuilds for e in edits), default=0),
               "rebuilds"),
    ]
    return figures


STAGE_NAMES = {
    "watcher_yield": "watchfiles yields (server.rebuilt called)",
    "rebuilt": "rebuild done (DeskPreview.changed returned)",
    "version_pushed": "version pushed (rebuilt returned)",
    "event_received": "version received by the page (SSE)",
    "state_fetched": "state.json answered",
    "first_iframe_request": "first iframe request sent",
    "last_iframe_response": "last iframe response received",
    "first_iframe_load": "first iframe load event",
    "last_iframe_load": "last iframe load event",
    "text_painted": "text view painted",
    "emails_painted": "both email views painted",
    "web_painted": "web view painted",
    "all_painted": "all views painted",
}


def stage_figures(edits: Sequence[Edit]) -> list[Figure]:
    figures = []
    for key, name in STAGE_NAMES.items():
        times = [t for e in edits if (t := e.stages.get(key)) is not None]
        if times:
            figures.append(Figure(f"  {name}, median", round(statistics.median(times), 1),
                                  "ms after save"))
    return figures


def context_figures(report: dict[str, Any]) -> list[Figure]:
    rebuild = report["rebuild_in_process"]
    clock = report.get("clock_after") or report.get("clock_before") or {}
    frames = report.get("subresources", [])
    return [
        Figure(f"rebuild of the issue, DeskPreview.changed in-process (median of "
               f"{rebuild['runs']})", round(rebuild["median_ms"], 1), "ms"),
        Figure("  the same (min)", round(rebuild["min_ms"], 1), "ms"),
        Figure("watchfiles step (quiet time before a yield)", report["watch_step_ms"], "ms"),
        Figure("watchfiles debounce (longest grouping)", report["watch_debounce_ms"], "ms"),
        Figure("first load of the preview page to four views painted",
               report.get("first_paint_ms", "-"), "ms"),
        Figure("sub-resources loaded per repaint (4 iframes)",
               sum(f["count"] for f in frames), "requests"),
        Figure("  their bytes", sum(f["bytes"] for f in frames), "bytes"),
        Figure("  of which nested iframes (video embeds; their load delays the view's)",
               sum(len(f["frames"]) for f in frames), "iframes"),
        Figure("requests blocked (not to 127.0.0.1)", len(report.get("blocked_requests", [])),
               "requests"),
        Figure("browser clock minus ours, after the edits", clock.get("offset_ms", "-"), "ms"),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20, help="timed edits (default 20)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if args.edits < 1:
        parser.error("--edits must be at least 1")
    return args


def measure(edits: int, report: dict[str, Any], versions: dict[str, str]) -> list[Edit]:
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        desk = copy_desk(Path(tmp))
        report["rebuild_in_process"] = time_rebuild(desk)
        server = api.preview_server(desk, host="127.0.0.1", port=0)
        server.start()
        try:
            return bench_browser(server, desk / ISSUE, edits, report, versions)
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    versions = {
        "python": platform.python_version(),
        "newsletter": newsletter.__version__,
        "watchfiles": importlib.metadata.version("watchfiles"),
        "playwright": importlib.metadata.version("playwright"),
    }
    report: dict[str, Any] = {
        "edits": args.edits, "issue": str(ISSUE), "viewport": f"{WIDTH}x{HEIGHT}",
        "watch_step_ms": newsletter.preview.server._STEP_MS,
        "watch_debounce_ms": newsletter.preview.server._DEBOUNCE_MS,
        "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0],
    }
    if report["load_average"] > 0.5 * len(os.sched_getaffinity(0)):
        print(f"warning: load average {report['load_average']:.1f} on "
              f"{len(os.sched_getaffinity(0))} usable cores before the run: other work "
              "competes with the browser and the server, so the times are unreliable",
              file=sys.stderr)
    try:
        edits = measure(args.edits, report, versions)
    except BenchError as exc:
        print(f"the preview bench failed: {exc}", file=sys.stderr)
        return 1

    figures = latency_figures(edits) + stage_figures(edits) + context_figures(report)
    print(f"\n{args.edits} edits of {ISSUE}   ({platform.platform()}; "
          f"{report['cpu_count']} cores; load average {report['load_average']:.1f} before)")
    print("Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    print()
    print(table(figures))
    if args.json:
        report["versions"] = versions
        report["figures"] = [asdict(fig) for fig in figures]
        report["edits_measured"] = [asdict(e) for e in edits]
        print()
        print(json.dumps(report, indent=2))
    failed = any(e.all_views_ms is None or e.stale for e in edits)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
