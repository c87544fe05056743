"""Benchmark fetching 200 feeds: `newsletter fetch` against sequential feedparser and reader.

The set-up: ``--feeds`` (default 200) realistic RSS 2.0 feeds of ``--items``
(default 50) items each (titles, links, guids, pubDates, categories, a few
hundred characters of description with a little HTML, now and then a
picture), generated deterministically from ``--seed``. A server in a
subprocess (``http.server.ThreadingHTTPServer``, HTTP/1.1 keep-alive, one
thread per connection) serves them on 127.0.0.1 at a free port and sleeps
``--delay-ms`` (default 50 ms) before every response, a 304 included, and
sends each response without a Nagle wait (``TCP_NODELAY``, as nginx and
Apache do; see ``Handler``). It sends ``ETag`` and ``Last-Modified`` and
answers ``If-None-Match`` (first) or ``If-Modified-Since`` with 304. It
counts its responses by status and the connections they came on, so each
pass is checked to have cost the requests it should (all 200s on a first
pass, all 304s on a second), and connection reuse shows. ``--hosts N``
spreads the feeds over N loopback addresses (127.0.0.1 ... 127.0.0.N), to
see what a per-host limit costs; the default, 1, is the spec's single
server.

What it measures, each pass ``--runs`` times (default 3), medians reported;
every first pass starts from an empty store:

* **Sequential feedparser**: a subprocess of this venv's Python runs
  ``feedparser.parse(url)`` for each feed in a loop (first pass), then again
  with the ``etag=`` / ``modified=`` the first pass returned (second pass).
  Times are taken inside the script, around each loop.
* **reader** (lemon24/reader): ``pip install reader sgmllib3k`` into a
  temporary venv (pip's cache is reused). sgmllib3k because reader's
  vendored feedparser still does ``import sgmllib``, which the current
  feedparser (6.0.14) no longer pulls in (it depends on feedparser-sgmllib
  instead), so a bare ``pip install reader`` fails on the first update.
  Then a script in that venv makes a reader on a temporary SQLite file,
  adds the feed URLs and times ``update_feeds_iter(workers=N,
  scheduled=False)`` twice (first pass, second pass). ``--reader-workers`` N
  defaults to 16, the concurrency newsletter uses (reader's own default is
  1 and its docs recommend no number). ``scheduled=False`` because reader
  >= 3.21 otherwise skips feeds that are not yet due, and the second pass
  would not ask the server at all. Times are taken inside the script. If
  the install fails, this part is skipped with a message.
* **newsletter, whole process**: ``newsletter fetch`` with the venv's console
  script, cwd = a temporary desk (``newsletter.yaml`` with name, base_url and
  the feeds), first pass into an empty ``.newsletter/candidates.sqlite``, then
  the second pass. Wall time of the whole process: interpreter start-up,
  imports, the process pool's start-up, fetching, parsing, saving, and the
  result table. After each pass the store is read back and every feed's last
  outcome checked (``updated``, then ``not modified``).
* **newsletter, in-process**: ``api.fetch(settings)`` on another fresh desk,
  both passes (still starting its parsing pool on every call).
* **Peak memory** of every subprocess above, sampled every 20 ms from /proc
  over the process and all its descendants (for ``newsletter fetch``: the
  parsing pool's workers and multiprocessing's resource tracker), two ways:
  the largest single process (the highest ``VmHWM``, the kernel's own
  high-water mark of one process's RSS, so a short peak between samples is
  kept; only growth in a process's last 20 ms can be missed), and the peak
  of the sum of ``VmRSS`` over the tree (shared pages count once per
  process, so this overstates a little; a peak shorter than 20 ms can be
  missed). ``ru_maxrss`` from ``wait4`` (what ``/usr/bin/time`` reports) is
  not used: the child is started with vfork, and Linux folds the parent's
  (this bench's) high-water mark into the child's at exec.
* **Parsing speed**: entries/s of ``newsletter.collect.parse.parse_feed`` on one
  generated 500-item feed (``--big-items``), in-process, one warm-up then the
  median of ``--parses`` calls (default 5); plain ``feedparser.parse`` on the
  same bytes for comparison (feedparser's own sanitizer on, as it comes;
  parse_feed turns it off and sanitizes with nh3 instead, and also builds
  stories: canonical links, plain titles, dates, pictures, ids).

Targets (whole-process newsletter; reader's figures are its in-process times,
which spares it its start-up): first pass >= 5x faster than sequential
feedparser's first pass and faster than reader's first pass; second pass
>= 25x faster than sequential feedparser's first pass.

Run:  .venv/bin/python bench/fetch.py [--runs N] [--json] [--no-reader] [--hosts N]

The script prints a table (name, value, unit, target, pass/fail), the
server's response and connection counts per pass, newsletter's fetch
defaults and the tool versions; ``--json`` also prints the results, every
run's times included, as JSON. It exits 1 when the benchmark cannot run
(the server, sequential feedparser or our own fetch fails) or when a feed
of ours did not come back as expected, else 0; missed targets show as FAIL
in the table. Every subprocess has a timeout, the server is stopped and
every temporary folder is removed at the end. The server, the client and
its parsing pool share the machine's CPUs, so on a small machine anything
else running moves the first-pass figures a lot: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import email.utils
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from _common import (
    BenchError,
    Figure,
    ServerProcess,
    _shell,
    counts_since,
    run,
    table,
    time_calls,
    tree_memory,
)

FIRST_VS_SEQUENTIAL_TARGET = 5.0  # sequential feedparser first pass / our first pass
FIRST_VS_READER_TARGET = 2.0  # reader first pass / our first pass (issue 16)
SECOND_VS_SEQUENTIAL_TARGET = 25.0  # sequential feedparser first pass / our second pass

SERVER_START_TIMEOUT = 30.0  # seconds, until the server says its port
FETCH_TIMEOUT = 180.0  # one `newsletter fetch`
SEQUENTIAL_TIMEOUT = 600.0  # one sequential feedparser run, both passes
READER_RUN_TIMEOUT = 600.0  # one reader run, both passes
VENV_TIMEOUT = 120.0
PIP_TIMEOUT = 300.0
HTTP_TIMEOUT = 10.0  # the bench's own requests to the server
SAMPLE_INTERVAL = 0.02  # seconds between two memory samples of a process tree

# One run of sequential feedparser, both passes. argv: a JSON file of URLs.
SEQUENTIAL_SCRIPT = r"""
import collections, json, sys, time
import feedparser

urls = json.load(open(sys.argv[1], encoding="utf-8"))

def one_pass(validators):
    rows = []
    start = time.perf_counter()
    for url, (etag, modified) in zip(urls, validators):
        parsed = feedparser.parse(url, etag=etag, modified=modified)
        rows.append((parsed.get("status"), len(parsed.entries), bool(parsed.get("bozo")),
                     parsed.get("etag"), parsed.get("modified")))
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, rows

def summary(elapsed, rows):
    return {"ms": elapsed, "entries": sum(r[1] for r in rows),
            "bozo": sum(1 for r in rows if r[2]),
            "statuses": dict(collections.Counter(str(r[0]) for r in rows))}

first_ms, first = one_pass([(None, None)] * len(urls))
second_ms, second = one_pass([(r[3], r[4]) for r in first])
print(json.dumps({"first": summary(first_ms, first), "second": summary(second_ms, second),
                  "feedparser": feedparser.__version__}))
"""

# One run of reader, both passes. argv: database file, JSON file of URLs, workers.
READER_SCRIPT = r"""
import collections, importlib.metadata, json, sys, time
from reader import make_reader

db, urls_file, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
urls = json.load(open(urls_file, encoding="utf-8"))
reader = make_reader(db)
for url in urls:
    reader.add_feed(url)

def one_pass():
    outcomes, errors = collections.Counter(), []
    start = time.perf_counter()
    for result in reader.update_feeds_iter(workers=workers, scheduled=False):
        if result.error is not None:
            outcomes["error"] += 1
            errors.append(f"{result.url}: {result.error!r}")
        elif result.not_modified:
            outcomes["not modified"] += 1
        else:
            outcomes["updated"] += 1
    elapsed = (time.perf_counter() - start) * 1000
    return {"ms": elapsed, "outcomes": dict(outcomes), "errors": errors[:5],
            "entries": reader.get_entry_counts().total}

first = one_pass()
second = one_pass()
reader.close()
print(json.dumps({"first": first, "second": second,
                  "reader": importlib.metadata.version("reader"),
                  "feedparser": importlib.metadata.version("feedparser")}))
"""


@dataclass(slots=True)
class Measured:
    """One subprocess: wall time, output and peak memory (KiB)."""

    wall_ms: float
    stdout: str
    stderr: str
    max_rss_kb: int  # the largest VmHWM of any single process of the tree
    tree_peak_kb: int  # the sampled peak of the sum of VmRSS over the tree


@dataclass(slots=True)
class Passes:
    """Both passes of one tool over `runs` runs, plus what was checked on the way."""

    first_ms: list[float] = field(default_factory=list)
    second_ms: list[float] = field(default_factory=list)
    max_rss_kb: list[int] = field(default_factory=list)
    tree_peak_kb: list[int] = field(default_factory=list)
    responses: list[dict[str, dict[str, int]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- the feeds ----------------------------------------------------------------------

_WORDS = (
    "harbour", "tide", "coast", "reef", "kelp", "salmon", "trawler", "port", "ferry", "storm",
    "surge", "estuary", "lagoon", "dune", "cliff", "erosion", "sediment", "plankton", "whale",
    "seal", "gull", "oyster", "mussel", "shrimp", "mangrove", "seagrass", "current", "monsoon",
    "typhoon", "delta", "river", "fishery", "quota", "ministry", "council", "budget", "report",
    "survey", "scientists", "researchers", "residents", "fishermen", "divers", "sailors",
    "engineers", "warming", "acid", "salinity", "oxygen", "sonar", "satellite", "buoy", "drone",
    "census", "permit", "treaty", "court", "village", "island", "mainland", "shipyard",
    "container", "crane", "pier", "breakwater", "lighthouse", "wetland", "restoration",
    "pollution", "plastic", "sewage", "runoff", "bloom", "algae", "heatwave", "drought", "flood",
    "record", "season", "winter", "spring", "summer", "autumn", "north", "south", "east", "west",
    "deep", "shallow", "open", "quiet", "rising", "falling", "new", "old", "small", "large",
    "local", "national", "regional", "coastal", "offshore"
)
_VERBS = ("finds", "warns", "plans", "rejects", "approves", "counts", "maps", "tracks",
          "opens", "closes", "delays", "funds", "tests", "rebuilds", "studies", "returns")
_BASE_DATE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # newest item of feed 0


def _words(rng: random.Random, low: int, high: int) -> list[str]:
    return [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = _words(rng, low, high)
    words.insert(min(2, len(words)), rng.choice(_VERBS))
    return " ".join(words).capitalize() + "."


def _description(rng: random.Random, site: str, index: int) -> str:
    """A few hundred characters of HTML: two or three paragraphs, a link, some emphasis."""
    topic = rng.choice(_WORDS)
    first = _sentence(rng, 14, 26).rstrip(".")
    cut = first.rfind(" ", 0, len(first) // 2)
    paragraphs = [
        f'<p>{first[:cut]} <a href="https://{site}/topics/{topic}">{topic}</a>'
        f"{first[cut:]}.</p>",
        f"<p>{_sentence(rng, 10, 20)} <em>{' '.join(_words(rng, 2, 4))}</em> "
        f"{_sentence(rng, 8, 16)}</p>",
    ]
    if rng.random() < 0.4:
        paragraphs.append(f"<p><strong>{_sentence(rng, 4, 8)}</strong></p>")
    if index % 5 == 0:
        paragraphs.insert(0, f'<img src="https://{site}/images/{index}.jpg" width="640" '
                             f'height="360" alt="">')
    return "".join(paragraphs)


def make_feed(number: int, items: int, seed: int) -> bytes:
    """RSS 2.0 feed `number`, `items` items, newest first; the same bytes for the same seed."""
    rng = random.Random(f"{seed}-{number}-{items}")
    site = f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}-{number}.example.com"
    newest = _BASE_DATE - dt.timedelta(minutes=7 * number)
    cdata = number % 2 == 1  # half the feeds wrap descriptions in CDATA, half escape them
    entries = []
    for index in range(items):
        title = _sentence(rng, 5, 10).rstrip(".")
        published = newest - dt.timedelta(hours=3 * index, minutes=rng.randint(0, 59))
        slug = "-".join(title.lower().split()[:6])
        link = f"https://{site}/{published:%Y/%m/%d}/{slug}-{index}"
        guid = (f'<guid isPermaLink="false">{site}:story:{number}-{index}</guid>'
                if index % 3 else f"<guid>{link}</guid>")
        body = _description(rng, site, index)
        description = f"<![CDATA[{body}]]>" if cdata else escape(body)
        categories = "".join(f"<category>{word}</category>" for word in _words(rng, 1, 2))
        entries.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>{guid}"
            f"<pubDate>{email.utils.format_datetime(published, usegmt=True)}</pubDate>"
            f"<dc:creator>{rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS).capitalize()}"
            f"</dc:creator>{categories}<description>{description}</description></item>\n")
    channel = (
        f"<title>{site.split('.')[0].replace('-', ' ').title()}</title>"
        f"<link>https://{site}/</link><description>{escape(_sentence(rng, 6, 12))}</description>"
        f"<language>en</language>"
        f"<lastBuildDate>{email.utils.format_datetime(newest, usegmt=True)}</lastBuildDate>\n")
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>\n'
            f"{channel}{''.join(entries)}</channel></rss>\n").encode()


def feed_path(number: int) -> str:
    return f"/feeds/{number:03d}.xml"


# --- the server (runs in a subprocess: `fetch.py --serve ...`) ------------------------


@dataclass(frozen=True, slots=True)
class _Served:
    body: bytes
    etag: str
    last_modified: str
    modified_at: dt.datetime


def serve(seed: int, feeds: int, items: int, delay: float, hosts: int) -> None:
    """Serve the generated feeds until stdin closes; print {"host": port, ...} when ready."""
    served = {}
    for number in range(feeds):
        body = make_feed(number, items, seed)
        modified_at = _BASE_DATE - dt.timedelta(minutes=7 * number)
        served[feed_path(number)] = _Served(
            body=body, etag=f'"{hashlib.sha1(body).hexdigest()[:20]}"',
            last_modified=email.utils.format_datetime(modified_at, usegmt=True),
            modified_at=modified_at)
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        # TCP_NODELAY, as nginx and Apache set on a kept-alive connection. Without it,
        # http.server's two sends (the headers, then the body) meet the client's delayed
        # ACK: the body waits ~40 ms for the headers' ACK on every response after a
        # connection's first few. A client that reuses its connections (ours: 4 for
        # 200 feeds) paid that on each feed, one that opens a new connection per feed
        # (urllib in sequential feedparser) did not.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            if self.path == "/_stats":
                with lock:
                    self._send(200, json.dumps(counts).encode(), "application/json")
                return
            time.sleep(delay)
            if not getattr(self, "counted", False):  # one handler per connection
                self.counted = True
                with lock:
                    counts["connections"] += 1
            feed = served.get(self.path)
            if feed is None:
                status = 404
                self._send(404, b"no such feed\n", "text/plain")
            elif self._not_modified(feed):
                status = 304
                self.send_response(304)
                self.send_header("ETag", feed.etag)
                self.send_header("Last-Modified", feed.last_modified)
                self.end_headers()
            else:
                status = 200
                self._send(200, feed.body, "application/rss+xml; charset=utf-8",
                           {"ETag": feed.etag, "Last-Modified": feed.last_modified})
            with lock:
                counts[str(status)] += 1

        def _not_modified(self, feed: _Served) -> bool:
            tags = self.headers.get("If-None-Match")
            if tags is not None:
                listed = [tag.strip().removeprefix("W/") for tag in tags.split(",")]
                return "*" in listed or feed.etag in listed
            since = self.headers.get("If-Modified-Since")
            if since:
                try:
                    when = email.utils.parsedate_to_datetime(since)
                except (TypeError, ValueError):
                    return False
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.UTC)
                return feed.modified_at <= when
            return False

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: no line per request
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512  # the default 5 drops connections when 16 arrive at once

    servers: list[Server] = []
    port = 0
    for number in range(1, hosts + 1):
        address = f"127.0.0.{number}"
        try:
            server = Server((address, port), Handler)
        except OSError:  # the first address's port is taken on this one
            server = Server((address, 0), Handler)
        port = port or server.server_address[1]
        servers.append(server)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({s.server_address[0]: s.server_address[1] for s in servers}), flush=True)
    sys.stdin.read()  # the bench closes our stdin to stop us
    for server in servers:
        server.shutdown()
        server.server_close()


class FeedServer(ServerProcess):
    """The server subprocess, from the bench's side."""

    def __init__(self, args: argparse.Namespace) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--seed",
               str(args.seed), "--feeds", str(args.feeds), "--items", str(args.items),
               "--delay-ms", str(args.delay_ms), "--hosts", str(args.hosts)]
        super().__init__(cmd, what="the feed server", start_timeout=SERVER_START_TIMEOUT,
                         http_timeout=HTTP_TIMEOUT)
        ports: dict[str, int] = self.ready  # type: ignore[assignment]  # host -> port
        self.bases = [f"http://{host}:{port}" for host, port in ports.items()]
        self.urls = [f"{self.bases[n % len(self.bases)]}{feed_path(n)}"
                     for n in range(args.feeds)]



def check_server(server: FeedServer, delay_ms: float) -> float:
    """One feed, then again conditionally: 200 with validators, then 304. Returns ms of a 304."""
    url = server.urls[0]
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as reply:
        etag, body = reply.headers["ETag"], reply.read()
    if not etag or not body.startswith(b"<?xml"):
        raise BenchError(f"the feed server sent no ETag or no feed for {url}")
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    start = time.perf_counter()
    try:
        urllib.request.urlopen(request, timeout=HTTP_TIMEOUT).close()
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code != 304:
            raise BenchError(f"the feed server answered {exc.code} to a conditional GET") from exc
    else:
        raise BenchError("the feed server answered 200 to a conditional GET")
    took = (time.perf_counter() - start) * 1000
    if took < delay_ms:
        raise BenchError(f"the feed server answered in {took:.1f} ms, under its delay")
    return took


# --- running and measuring subprocesses -------------------------------------------------





def run_measured(cmd: Sequence[str | Path], *, cwd: Path | None = None,
                 timeout: float) -> Measured:
    """Run a command, timing it and sampling its process tree's memory; errors raise."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            raise BenchError(f"could not run {_shell(cmd)}: {exc}") from exc
        start = time.perf_counter()
        finished, timed_out = threading.Event(), threading.Event()
        tree_peak = [0]  # KiB: the largest sum over the tree
        high_water: dict[int, int] = {}  # KiB: each process's VmHWM

        def sample() -> None:
            while not finished.wait(SAMPLE_INTERVAL):
                memory = tree_memory(proc.pid)
                tree_peak[0] = max(tree_peak[0], sum(rss for rss, _ in memory.values()))
                for pid, (_, hwm) in memory.items():
                    high_water[pid] = max(high_water.get(pid, 0), hwm)

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the pool's workers too

        sampler, alarm = threading.Thread(target=sample), threading.Timer(timeout, kill)
        sampler.start()
        alarm.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            wall_ms = (time.perf_counter() - start) * 1000
            alarm.cancel()
            finished.set()
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if timed_out.is_set():
        raise BenchError(f"timed out after {timeout:.0f}s: {_shell(cmd)}")
    if proc.returncode != 0:
        raise BenchError(f"exit {proc.returncode} from {_shell(cmd)}:\n"
                         f"{(stderr or stdout).strip()[-3000:]}")
    return Measured(wall_ms=wall_ms, stdout=stdout, stderr=stderr,
                    max_rss_kb=max(high_water.values(), default=0), tree_peak_kb=tree_peak[0])


# --- the contenders ---------------------------------------------------------------------


def bench_parsing(args: argparse.Namespace, figures: list[Figure],
                  results: dict[str, Any]) -> None:
    """Entries/s of parse_feed and of plain feedparser on one big generated feed."""
    import feedparser

    from newsletter.collect.parse import parse_feed

    data = make_feed(10_000, args.big_items, args.seed)
    now = dt.datetime.now(dt.UTC)
    stories = len(parse_feed(data, feed="big", url="http://127.0.0.1/feeds/big.xml",
                             content_type="application/rss+xml; charset=utf-8",
                             fetched_at=now).stories)
    if stories != args.big_items:
        print(f"note: parse_feed made {stories} stories of {args.big_items} items")
    ours = time_calls(lambda: parse_feed(data, feed="big", url="http://127.0.0.1/feeds/big.xml",
                                         content_type="application/rss+xml; charset=utf-8",
                                         fetched_at=now), args.parses)
    plain = time_calls(lambda: feedparser.parse(data), args.parses)
    ours_rate = args.big_items / (ours.median_ms / 1000)
    plain_rate = args.big_items / (plain.median_ms / 1000)
    size = f"{args.big_items}-item feed, {len(data) / 1024:.0f} KiB"
    figures += [
        Figure(f"parse_feed, one {size} (median of {ours.runs})", round(ours.median_ms, 1),
               "ms"),
        Figure("parse_feed entries/s", round(ours_rate), "entries/s"),
        Figure(f"feedparser.parse, same bytes (median of {plain.runs})",
               round(plain.median_ms, 1), "ms"),
        Figure("feedparser.parse entries/s", round(plain_rate), "entries/s"),
    ]
    results["parsing"] = {"items": args.big_items, "bytes": len(data), "stories": stories,
                          "parse_feed": asdict(ours), "parse_feed_entries_per_s": ours_rate,
                          "feedparser": asdict(plain), "feedparser_entries_per_s": plain_rate}


def bench_sequential(server: FeedServer, urls_file: Path, runs: int) -> Passes:
    """Sequential feedparser.parse(url), then again with etag=/modified=, in a subprocess."""
    passes = Passes()
    for _ in range(runs):
        before = server.stats()
        measured = run_measured([sys.executable, "-c", SEQUENTIAL_SCRIPT, urls_file],
                                timeout=SEQUENTIAL_TIMEOUT)
        report = json.loads(measured.stdout)
        passes.first_ms.append(report["first"]["ms"])
        passes.second_ms.append(report["second"]["ms"])
        passes.max_rss_kb.append(measured.max_rss_kb)
        passes.tree_peak_kb.append(measured.tree_peak_kb)
        passes.responses.append({"both passes": counts_since(before, server.stats())})
        for name in ("first", "second"):
            part = report[name]
            if part["bozo"] or len(passes.first_ms) == 1:
                passes.notes.append(f"{name} pass: feedparser statuses {part['statuses']}, "
                                    f"{part['entries']} entries, {part['bozo']} bozo")
    return passes


def _write_desk(folder: Path, urls: Sequence[str]) -> Path:
    folder.mkdir(parents=True)
    lines = ["name: Fetch bench", "base_url: https://bench.example.org/", "feeds:"]
    for number, url in enumerate(urls):
        lines += [f'  - name: "Feed {number:03d}"', f'    url: "{url}"']
    (folder / "newsletter.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _store_outcomes(desk: Path) -> tuple[collections.Counter[str], int, list[str]]:
    """Every feed's last outcome in the desk's store, the stories, and the first errors."""
    from newsletter import api

    settings = api.load_desk(desk)
    with api.open_store(settings) as store:
        status = store.feed_status()
    outcomes = collections.Counter(str(s.last_outcome) for s in status.values())
    errors = [f"{s.name}: {s.last_error}" for s in status.values() if s.last_error][:5]
    return outcomes, sum(s.stories for s in status.values()), errors


def _expect(passes: Passes, what: str, outcomes: collections.Counter[str], wanted: str,
            feeds: int, errors: Sequence[str]) -> bool:
    ok = outcomes == collections.Counter({wanted: feeds})
    if not ok:
        passes.notes.append(f"PROBLEM: {what}: outcomes {dict(outcomes)}, expected "
                            f"{feeds} x {wanted}; first errors: {list(errors)}")
    return ok


def bench_ours_whole(server: FeedServer, tmp: Path, runs: int, feeds: int) -> Passes:
    """`newsletter fetch` in a fresh desk, twice, per run."""
    script = Path(sys.executable).parent / "newsletter"
    if not script.exists():
        raise BenchError(f"no newsletter console script next to {sys.executable}")
    run([script, "--version"], timeout=FETCH_TIMEOUT)  # compiles what is not compiled yet
    passes, ok = Passes(), True
    for index in range(runs):
        desk = _write_desk(tmp / f"desk-whole-{index}", server.urls)
        responses = {}
        for name, times, wanted in (("first", passes.first_ms, "updated"),
                                    ("second", passes.second_ms, "not modified")):
            before = server.stats()
            measured = run_measured([script, "fetch"], cwd=desk, timeout=FETCH_TIMEOUT)
            responses[name] = counts_since(before, server.stats())
            times.append(measured.wall_ms)
            passes.max_rss_kb.append(measured.max_rss_kb)
            passes.tree_peak_kb.append(measured.tree_peak_kb)
            outcomes, stories, errors = _store_outcomes(desk)
            ok &= _expect(passes, f"newsletter fetch, run {index + 1}, {name} pass", outcomes,
                          wanted, feeds, errors)
            if index == 0:
                passes.notes.append(f"{name} pass: store outcomes {dict(outcomes)}, "
                                    f"{stories} stories")
            if measured.stderr.strip():
                passes.notes.append(f"stderr of {name} pass: {measured.stderr.strip()[:500]}")
        passes.responses.append(responses)
    if not ok:
        raise BenchError("newsletter fetch did not fetch every feed as expected:\n  "
                         + "\n  ".join(n for n in passes.notes if n.startswith("PROBLEM")))
    return passes


def bench_ours_in_process(server: FeedServer, tmp: Path, runs: int, feeds: int) -> Passes:
    """`api.fetch(settings)` on a fresh desk, twice, per run."""
    from newsletter import api

    passes = Passes()
    for index in range(runs):
        settings = api.load_desk(_write_desk(tmp / f"desk-api-{index}", server.urls))
        responses = {}
        for name, times, wanted in (("first", passes.first_ms, "updated"),
                                    ("second", passes.second_ms, "not modified")):
            before = server.stats()
            start = time.perf_counter()
            reports = api.fetch(settings)
            times.append((time.perf_counter() - start) * 1000)
            responses[name] = counts_since(before, server.stats())
            outcomes = collections.Counter(str(r.result.outcome) for r in reports)
            errors = [f"{r.result.feed.name}: {r.result.error}" for r in reports
                      if r.result.error][:5]
            _expect(passes, f"api.fetch, run {index + 1}, {name} pass", outcomes, wanted,
                    feeds, errors)
        passes.responses.append(responses)
    return passes


def install_reader(tmp: Path) -> Path | None:
    """A venv with reader in it; None (and a message) if that cannot be made."""
    venv = tmp / "reader-venv"
    python = venv / "bin" / "python"
    print("installing reader with pip into a temporary venv...", file=sys.stderr)
    try:
        run([sys.executable, "-m", "venv", venv], timeout=VENV_TIMEOUT)
        run([python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
             "reader", "sgmllib3k"], timeout=PIP_TIMEOUT)
    except BenchError as exc:
        print(f"reader comparison skipped: installing reader failed: {exc}")
        return None
    return python


def bench_reader(python: Path, server: FeedServer, tmp: Path, urls_file: Path, runs: int,
                 workers: int, feeds: int, versions: dict[str, str]) -> Passes:
    """reader.update_feeds_iter(workers=N, scheduled=False), twice, per run (a new db each)."""
    passes = Passes()
    for index in range(runs):
        before = server.stats()
        measured = run_measured([python, "-c", READER_SCRIPT, tmp / f"reader-{index}.sqlite",
                                 urls_file, str(workers)], timeout=READER_RUN_TIMEOUT)
        report = json.loads(measured.stdout)
        versions["reader"] = report["reader"]
        versions["feedparser (reader's venv)"] = report["feedparser"]
        passes.first_ms.append(report["first"]["ms"])
        passes.second_ms.append(report["second"]["ms"])
        passes.max_rss_kb.append(measured.max_rss_kb)
        passes.tree_peak_kb.append(measured.tree_peak_kb)
        passes.responses.append({"both passes": counts_since(before, server.stats())})
        for name, wanted in (("first", "updated"), ("second", "not modified")):
            part = report[name]
            outcomes = collections.Counter(part["outcomes"])
            _expect(passes, f"reader, run {index + 1}, {name} pass", outcomes, wanted, feeds,
                    part["errors"])
            if index == 0:
                passes.notes.append(f"{name} pass: outcomes {part['outcomes']}, "
                                    f"{part['entries']} entries in the db")
    return passes


# --- the report -------------------------------------------------------------------------


def _seconds(ms: float) -> float:
    return round(ms / 1000, 3)


def _pass_figures(label: str, passes: Passes, runs: int) -> list[Figure]:
    figures = [
        Figure(f"{label}: first pass (median of {runs})",
               _seconds(statistics.median(passes.first_ms)), "s"),
        Figure(f"{label}: second pass, unchanged (median of {runs})",
               _seconds(statistics.median(passes.second_ms)), "s"),
    ]
    if passes.max_rss_kb:
        figures += [
            Figure(f"{label}: peak RSS, largest process (max of all)",
                   round(max(passes.max_rss_kb) / 1024, 1), "MiB"),
            Figure(f"{label}: peak RSS, whole process tree (max of all)",
                   round(max(passes.tree_peak_kb) / 1024, 1), "MiB"),
        ]
    return figures


def _ratio(name: str, slow: float, fast: float, target: float | None = None, *,
           above: bool = False) -> Figure:
    value = slow / fast
    if target is None:
        return Figure(name, round(value, 2), "x")
    passed = value > target if above else value >= target
    return Figure(name, round(value, 2), "x", f"{'>' if above else '>='} {target:g}", passed)


def ratio_figures(seq: Passes, whole: Passes, in_process: Passes,
                  reader: Passes | None) -> list[Figure]:
    seq_first, seq_second = (statistics.median(seq.first_ms),
                             statistics.median(seq.second_ms))
    our_first, our_second = (statistics.median(whole.first_ms),
                             statistics.median(whole.second_ms))
    api_first, api_second = (statistics.median(in_process.first_ms),
                             statistics.median(in_process.second_ms))
    figures = [
        _ratio("ratio: sequential feedparser first pass / newsletter fetch first pass",
               seq_first, our_first, FIRST_VS_SEQUENTIAL_TARGET),
    ]
    if reader is not None:
        reader_first = statistics.median(reader.first_ms)
        figures.append(_ratio("ratio: reader first pass / newsletter fetch first pass",
                              reader_first, our_first, FIRST_VS_READER_TARGET, above=True))
    else:
        figures.append(Figure("ratio: reader first pass / newsletter fetch first pass",
                              "n/a", "x", f"> {FIRST_VS_READER_TARGET:g}"))
    figures += [
        _ratio("ratio: sequential feedparser first pass / newsletter fetch second pass",
               seq_first, our_second, SECOND_VS_SEQUENTIAL_TARGET),
        _ratio("ratio: sequential feedparser second pass (etag) / newsletter second pass",
               seq_second, our_second),
        _ratio("ratio: sequential feedparser first pass / api.fetch first pass",
               seq_first, api_first),
        _ratio("ratio: sequential feedparser first pass / api.fetch second pass",
               seq_first, api_second),
    ]
    if reader is not None:
        reader_first, reader_second = (statistics.median(reader.first_ms),
                                       statistics.median(reader.second_ms))
        figures += [
            _ratio("ratio: reader second pass / newsletter fetch second pass", reader_second,
                   our_second),
            _ratio("ratio: reader first pass / api.fetch first pass", reader_first, api_first),
            _ratio("ratio: reader second pass / api.fetch second pass", reader_second,
                   api_second),
        ]
    return figures


def _print_checks(label: str, passes: Passes) -> None:
    print(f"{label}:")
    for index, responses in enumerate(passes.responses, 1):
        said = "; ".join(f"{name}: {counts}" for name, counts in responses.items())
        print(f"  run {index}, the server's responses by status, and connections: {said}")
    for note in passes.notes:
        print(f"  {note}")


def run_all(args: argparse.Namespace, versions: dict[str, str]
            ) -> tuple[Passes, Passes | None, Passes, Passes, list[str]]:
    """Serve the feeds and run every contender; BenchError if one of ours cannot run."""
    reader: Passes | None = None
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as folder:
        tmp = Path(folder)
        server = FeedServer(args)
        try:
            conditional_ms = check_server(server, args.delay_ms)
            urls_file = tmp / "urls.json"
            urls_file.write_text(json.dumps(server.urls), encoding="utf-8")
            print(f"serving {args.feeds} feeds x {args.items} items on "
                  f"{', '.join(server.bases)} (+{args.delay_ms:g} ms per response; one 304 "
                  f"took {conditional_ms:.1f} ms)", file=sys.stderr)
            print("sequential feedparser...", file=sys.stderr)
            seq = bench_sequential(server, urls_file, args.runs)
            print("newsletter fetch (whole process)...", file=sys.stderr)
            whole = bench_ours_whole(server, tmp, args.runs, args.feeds)
            print("newsletter api.fetch (in-process)...", file=sys.stderr)
            in_process = bench_ours_in_process(server, tmp, args.runs, args.feeds)
            if args.no_reader:
                print("reader comparison skipped: --no-reader")
            else:
                python = install_reader(tmp)
                if python is not None:
                    print("reader...", file=sys.stderr)
                    try:
                        reader = bench_reader(python, server, tmp, urls_file, args.runs,
                                              args.reader_workers, args.feeds, versions)
                    except (BenchError, ValueError, KeyError) as exc:
                        print(f"reader comparison skipped: reader failed to run: {exc}")
        finally:
            server.stop()
    return seq, reader, whole, in_process, server.bases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of each tool, both passes each (default 3)")
    parser.add_argument("--feeds", type=int, default=200, help="feeds (default 200)")
    parser.add_argument("--items", type=int, default=50, help="items per feed (default 50)")
    parser.add_argument("--delay-ms", type=float, default=50.0,
                        help="the server's delay before each response (default 50)")
    parser.add_argument("--hosts", type=int, default=1,
                        help="spread the feeds over 127.0.0.1..127.0.0.N (default 1)")
    parser.add_argument("--reader-workers", type=int, default=16,
                        help="reader's update_feeds workers (default 16)")
    parser.add_argument("--big-items", type=int, default=500,
                        help="items of the feed timed for entries/s (default 500)")
    parser.add_argument("--parses", type=int, default=5,
                        help="timed parses of the big feed (default 5, after one warm-up)")
    parser.add_argument("--seed", type=int, default=20261127, help="feed generator seed")
    parser.add_argument("--no-reader", action="store_true", help="skip the reader comparison")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.runs, args.feeds, args.items, args.hosts, args.reader_workers,
           args.big_items, args.parses) < 1 or args.hosts > 254 or args.delay_ms < 0:
        parser.error("counts must be at least 1 (--hosts at most 254), --delay-ms not negative")
    if args.serve:
        serve(args.seed, args.feeds, args.items, args.delay_ms / 1000, args.hosts)
        return 0

    import feedparser

    import newsletter
    from newsletter.collect.fetch import FetchOptions

    versions = {"python": platform.python_version(), "newsletter": newsletter.__version__,
                "feedparser": feedparser.__version__,
                "httpx": importlib.metadata.version("httpx")}
    options = FetchOptions()
    fetch_defaults = (f"concurrency {options.concurrency}, per_host {options.per_host}, "
                      f"workers {options.workers}")
    figures: list[Figure] = []
    results: dict[str, Any] = {"fetch_defaults": fetch_defaults, "runs": args.runs,
                               "feeds": args.feeds, "items": args.items,
                               "delay_ms": args.delay_ms, "hosts": args.hosts,
                               "cpus": os.cpu_count()}
    bench_parsing(args, figures, results)

    try:
        seq, reader, whole, in_process, bases = run_all(args, versions)
    except BenchError as exc:
        print(f"the benchmark could not run: {exc}", file=sys.stderr)
        return 1

    figures += _pass_figures("sequential feedparser.parse(url)", seq, args.runs)
    if reader is not None:
        figures += _pass_figures(f"reader update_feeds(workers={args.reader_workers})", reader,
                                 args.runs)
    figures += _pass_figures("newsletter fetch, whole process", whole, args.runs)
    figures += _pass_figures("newsletter api.fetch, in-process", in_process, args.runs)
    figures += ratio_figures(seq, whole, in_process, reader)

    print(f"\n{args.feeds} feeds x {args.items} items, +{args.delay_ms:g} ms per response, "
          f"{len(bases)} host(s); {os.cpu_count()} CPUs ({platform.platform()})")
    print("Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    print(f"newsletter's fetch defaults: {fetch_defaults}")
    print()
    _print_checks("sequential feedparser", seq)
    if reader is not None:
        _print_checks(f"reader (workers={args.reader_workers}, scheduled=False)", reader)
    _print_checks("newsletter fetch, whole process", whole)
    _print_checks("newsletter api.fetch, in-process", in_process)
    print()
    print(table(figures))
    problems = [note for passes in (whole, in_process) for note in passes.notes
                if note.startswith("PROBLEM")]
    if args.json:
        results["versions"] = versions
        results["passes_ms"] = {
            name: asdict(passes) for name, passes in (
                ("sequential_feedparser", seq), ("reader", reader),
                ("newsletter_whole_process", whole), ("newsletter_in_process", in_process))
            if passes is not None}
        results["figures"] = [asdict(fig) for fig in figures]
        print()
        print(json.dumps(results, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
