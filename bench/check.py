"""Benchmark the link checker: `LinkChecker.check` against sequential `httpx.head`.

The set-up: a server in a subprocess (``check.py --serve``) listens on
``--hosts`` (default 6) ports of 127.0.0.1, each one a
``http.server.ThreadingHTTPServer`` (HTTP/1.1 keep-alive, one thread per
connection) standing for one site, since the checker limits requests per
origin (scheme, host and port). Every port serves ``--links-per-host``
(default 10) pages, ``/page/N``, answering HEAD and GET with 200 after
sleeping ``--delay-ms`` (default 100 ms), so 60 distinct links in all. The
server counts its answers by method and status, and the connections they
came on, so every pass is checked to have cost what it should.

What it measures, each ``--runs`` times (default 3), medians reported:

* **Sequential httpx.head**: ``httpx.head(url)`` for each link in turn, as a
  simple script would (a new client, so a new connection, per link).
* **Sequential, one client**: the same through one ``httpx.Client`` (its
  connections kept alive), for context: what reuse alone saves.
* **LinkChecker.check**: a new ``LinkChecker()`` with its defaults (the
  figures name them) checks all the links at once, from the call to the
  list of findings, which must be empty; the server must have seen exactly
  one HEAD per link. Then **the same checker again** (its per-run cache):
  no request may reach the server.

The lower bound the checker's limits set is printed beside it: the pages of
the busiest site over ``per_host`` (and all pages over ``concurrency``)
rounds of one delay each. Target: sequential httpx.head / LinkChecker.check
>= 8x.

Run:  .venv/bin/python bench/check.py [--runs N] [--hosts N] [--links-per-host N]
      [--delay-ms MS] [--json]

The script prints a table (name, value, unit, target, pass/fail), the
server's answers per pass and the versions; ``--json`` also prints the
results, every run's times included, as JSON. It exits 1 when the benchmark
cannot run (the server does not start, a request fails) or a pass did not
cost the requests it should, else 0; a missed target shows as FAIL. The
client and the server share the machine's CPUs; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib.metadata
import inspect
import json
import math
import platform
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import BenchError, Figure, ServerProcess, counts_since, table

RATIO_TARGET = 8.0  # sequential httpx.head / LinkChecker.check
SERVER_START_TIMEOUT = 30.0  # seconds, until the server says its ports
HTTP_TIMEOUT = 10.0  # the bench's own requests, and sequential httpx's


# --- the server (runs in a subprocess: `check.py --serve ...`) --------------------------


def serve(hosts: int, pages: int, delay: float) -> None:
    """Serve `pages` pages on each of `hosts` ports until stdin closes; print the ports."""
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

        def do_HEAD(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            if self.path == "/_stats":
                with lock:
                    self._send(200, json.dumps(counts).encode())
                return
            self._answer()

        def _answer(self) -> None:
            time.sleep(delay)
            if not getattr(self, "counted", False):  # one handler per connection
                self.counted = True
                with lock:
                    counts["connections"] += 1
            _, _, number = self.path.partition("/page/")
            status = 200 if number.isdigit() and int(number) < pages else 404
            with lock:
                counts[f"{self.command} {status}"] += 1
            self._send(status, b"<!doctype html><title>A page</title><p>Words.</p>\n")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: no line per request
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the default 5 drops connections when many arrive at once

    servers = [Server(("127.0.0.1", 0), Handler) for _ in range(hosts)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps([server.server_address[1] for server in servers]), flush=True)
    sys.stdin.read()  # the bench closes our stdin to stop us
    for server in servers:
        server.shutdown()
        server.server_close()


class PageServer(ServerProcess):
    """The server subprocess, from the bench's side."""

    def __init__(self, args: argparse.Namespace) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--hosts",
               str(args.hosts), "--links-per-host", str(args.links_per_host), "--delay-ms",
               str(args.delay_ms)]
        super().__init__(cmd, what="the server", start_timeout=SERVER_START_TIMEOUT,
                         http_timeout=HTTP_TIMEOUT)
        ports: list[int] = self.ready  # type: ignore[assignment]  # the server prints a list
        self.bases = [f"http://127.0.0.1:{port}" for port in ports]
        self.urls = [f"{base}/page/{n}" for n in range(args.links_per_host)
                     for base in self.bases]  # the sites interleaved, as in an issue



def check_server(server: PageServer, delay_ms: float) -> float:
    """One HEAD to the first page: 200, and no sooner than the delay. Returns its ms."""
    request = urllib.request.Request(server.urls[0], method="HEAD")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as reply:
        status = reply.status
    took = (time.perf_counter() - start) * 1000
    if status != 200 or took < delay_ms:
        raise BenchError(f"the server answered {status} in {took:.1f} ms (delay {delay_ms} ms)")
    return took


# --- the contenders ---------------------------------------------------------------------


@dataclass(slots=True)
class Passes:
    """One contender's timed passes, and the server's answers to each."""

    ms: list[float] = field(default_factory=list)
    responses: list[dict[str, int]] = field(default_factory=list)


def _timed(server: PageServer, passes: Passes, call: Callable[[], object]) -> object:
    before = server.stats()
    start = time.perf_counter()
    result = call()
    passes.ms.append((time.perf_counter() - start) * 1000)
    passes.responses.append(counts_since(before, server.stats()))
    return result


def _expect(passes: Passes, label: str, wanted: dict[str, int]) -> None:
    said = {name: count for name, count in passes.responses[-1].items() if name != "connections"}
    if said != wanted:
        raise BenchError(f"{label}: the server answered {said}, expected {wanted}")


def bench_sequential(server: PageServer, runs: int) -> tuple[Passes, Passes]:
    """`httpx.head` per link, then one `httpx.Client` for all of them, `runs` times each."""
    import httpx

    def each_alone() -> list[int]:
        return [httpx.head(url, timeout=HTTP_TIMEOUT).status_code for url in server.urls]

    def one_client() -> list[int]:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            return [client.head(url).status_code for url in server.urls]

    alone, shared = Passes(), Passes()
    wanted = {"HEAD 200": len(server.urls)}
    for index in range(runs):
        for label, passes, call in (("httpx.head", alone, each_alone),
                                    ("httpx.Client.head", shared, one_client)):
            statuses = _timed(server, passes, call)
            if statuses != [200] * len(server.urls):
                raise BenchError(f"{label}, run {index + 1}: statuses {statuses}")
            _expect(passes, f"{label}, run {index + 1}", wanted)
    return alone, shared


def bench_checker(server: PageServer, runs: int) -> tuple[Passes, Passes]:
    """A new `LinkChecker()` per run, checking every link; then the same one again."""
    from newsletter.check.links import LinkChecker, LinkTarget

    targets = [LinkTarget(url=url) for url in server.urls]
    first, again = Passes(), Passes()
    for index in range(runs):
        check = functools.partial(LinkChecker().check, targets)  # one checker, both passes
        for label, passes, wanted in (
                ("LinkChecker.check", first, {"HEAD 200": len(targets)}),
                ("LinkChecker.check again (cached)", again, {})):
            findings = _timed(server, passes, check)
            if findings != []:
                raise BenchError(f"{label}, run {index + 1}: findings {findings}")
            _expect(passes, f"{label}, run {index + 1}", wanted)
    return first, again


def checker_defaults() -> dict[str, Any]:
    """`LinkChecker`'s keyword defaults, as its signature gives them."""
    from newsletter.check.links import LinkChecker

    parameters = inspect.signature(LinkChecker).parameters
    return {name: parameters[name].default for name in ("concurrency", "per_host", "timeout")}


def lower_bound_ms(links: int, hosts: int, delay_ms: float, defaults: dict[str, Any]) -> float:
    """The fewest delays the checker's default limits allow, in ms."""
    busiest = math.ceil(links / hosts)
    rounds: int = max(math.ceil(busiest / defaults["per_host"]),
                      math.ceil(links / defaults["concurrency"]))
    return rounds * delay_ms


# --- the report -------------------------------------------------------------------------


def _median_s(passes: Passes) -> float:
    return round(statistics.median(passes.ms) / 1000, 3)


def figures_of(alone: Passes, shared: Passes, first: Passes, again: Passes, runs: int,
               bound_ms: float) -> list[Figure]:
    ratio = statistics.median(alone.ms) / statistics.median(first.ms)
    return [
        Figure(f"sequential httpx.head (median of {runs})", _median_s(alone), "s"),
        Figure(f"sequential, one httpx.Client (median of {runs})", _median_s(shared), "s"),
        Figure(f"LinkChecker.check (median of {runs})", _median_s(first), "s"),
        Figure("LinkChecker.check, lower bound of its limits", round(bound_ms / 1000, 3), "s"),
        Figure(f"LinkChecker.check again, cached (median of {runs})",
               round(statistics.median(again.ms), 3), "ms"),
        Figure("ratio: sequential httpx.head / LinkChecker.check", round(ratio, 2), "x",
               f">= {RATIO_TARGET:g}", ratio >= RATIO_TARGET),
        Figure("ratio: sequential, one client / LinkChecker.check",
               round(statistics.median(shared.ms) / statistics.median(first.ms), 2), "x"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender (default 3)")
    parser.add_argument("--hosts", type=int, default=6,
                        help="sites, each a port of 127.0.0.1 (default 6)")
    parser.add_argument("--links-per-host", type=int, default=10,
                        help="distinct links to each site (default 10)")
    parser.add_argument("--delay-ms", type=float, default=100.0,
                        help="the server's delay before each answer (default 100)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.runs, args.hosts, args.links_per_host) < 1 or args.delay_ms < 0:
        parser.error("counts must be at least 1, --delay-ms not negative")
    if args.serve:
        serve(args.hosts, args.links_per_host, args.delay_ms / 1000)
        return 0

    import newsletter

    versions = {"python": platform.python_version(), "newsletter": newsletter.__version__,
                "httpx": importlib.metadata.version("httpx")}
    limits = checker_defaults()
    defaults = ", ".join(f"{name} {value:g}" for name, value in limits.items())
    links = args.hosts * args.links_per_host
    try:
        server = PageServer(args)
    except BenchError as exc:
        print(f"the benchmark could not run: {exc}", file=sys.stderr)
        return 1
    try:
        head_ms = check_server(server, args.delay_ms)
        print(f"serving {links} links on {args.hosts} ports (+{args.delay_ms:g} ms per answer; "
              f"one HEAD took {head_ms:.1f} ms)", file=sys.stderr)
        print("sequential httpx...", file=sys.stderr)
        alone, shared = bench_sequential(server, args.runs)
        print("LinkChecker...", file=sys.stderr)
        first, again = bench_checker(server, args.runs)
    except (BenchError, OSError) as exc:
        print(f"the benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()

    bound_ms = lower_bound_ms(links, args.hosts, args.delay_ms, limits)
    figures = figures_of(alone, shared, first, again, args.runs, bound_ms)
    print(f"\n{links} links ({args.hosts} sites x {args.links_per_host}), "
          f"+{args.delay_ms:g} ms per answer ({platform.platform()})")
    print("Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    print(f"LinkChecker defaults: {defaults}")
    print()
    for label, passes in (("sequential httpx.head", alone), ("sequential, one client", shared),
                          ("LinkChecker.check", first), ("LinkChecker.check again", again)):
        said = "; ".join(str(responses) for responses in passes.responses)
        print(f"{label}: the server's answers (and connections) per run: {said}")
    print()
    print(table(figures))
    if args.json:
        results: dict[str, Any] = {
            "runs": args.runs, "hosts": args.hosts, "links_per_host": args.links_per_host,
            "delay_ms": args.delay_ms, "checker_defaults": defaults, "versions": versions,
            "passes": {name: asdict(passes) for name, passes in (
                ("sequential_httpx_head", alone), ("sequential_one_client", shared),
                ("link_checker", first), ("link_checker_cached", again))},
            "figures": [asdict(fig) for fig in figures]}
        print()
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
