"""Compare feed parsers on the whole feed corpus: feedparser, feedparser-rs, fastfeedparser.

Why: `parse_feed` reads XML with feedparser-rs where it agrees with
feedparser and with feedparser where it does not (`collect/fastread.py`).
This script is the evidence for that rule, and shows when it goes stale (a
new feedparser-rs that reads more, or reads something differently).

Over every XML file of ``../shared/corpora/feeds`` (its MANIFEST.json):

* **Raw agreement** on the well-formed files (``ill_formed: false``), each
  parser given the bytes as they are (its own defaults, sanitizer off where
  it can be switched off): the entry count, then per entry its title, link,
  id, published date (to the second, UTC) and first author, each against
  feedparser's. fastfeedparser has no ``published_parsed``; its ISO string
  is read with ``datetime.fromisoformat``.
* **Our pipeline**: `parse_feed` as it runs (feedparser-rs where
  `read_fast` takes the file) against `parse_feed` with feedparser alone,
  story by story, every field of `Story`, on every file (ill-formed ones
  too): the stories must be equal, or the file is listed.
* **No crash, no hang**: every file through `parse_feed` both ways; any
  exception other than `FeedError` is listed, and the slowest file is named.
* **Hostile input still refused**: a DOCTYPE with entities is refused before
  any parser runs, and no story of the `sanitize/` feeds holds a script, an
  event handler attribute or a `javascript:` URL.
* **Speed**: the whole corpus, and bench/fetch.py's generated 500-item feed,
  through each parser and through `parse_feed` both ways; best of
  ``--repeat`` (default 3).

Run:  .venv/bin/python bench/parsers.py [--corpus DIR] [--repeat N] [--json]

``--json`` also prints the figures as JSON (what bench/readme.py reads).

fastfeedparser is optional (not a dependency): install it into this venv, or
put it on PYTHONPATH, to include it. Exits 1 when `parse_feed` crashes or a
hostile feed's story holds something that can run; the files whose stories
differ are listed (tests/test_parse_fast.py fails on any but the known ones).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import feedparser
import feedparser_rs
from _common import Figure

from newsletter.collect import parse as parse_module
from newsletter.collect.parse import parse_feed
from newsletter.errors import FeedError

try:
    import fastfeedparser
except ImportError:  # optional: only compared when it is there
    fastfeedparser = None

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "corpora" / "feeds"
FIELDS = ("title", "link", "id", "published", "author")
URL = "https://feeds.example.org/feed.xml"
NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
_HOSTILE = re.compile(r"<script|\son[a-z]+\s*=|javascript:|vbscript:", re.IGNORECASE)


# --- each parser's view, reduced to the compared fields ---------------------------------


def _utc(value: object) -> str:
    if isinstance(value, time.struct_time):
        return time.strftime("%Y-%m-%dT%H:%M:%S", value)
    return ""


def view_feedparser(data: bytes) -> list[tuple[str, ...]]:
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False,
                              resolve_relative_uris=False)
    return [(e.get("title", ""), e.get("link", ""), e.get("id", ""),
             _utc(e.get("published_parsed") or e.get("updated_parsed")), e.get("author", ""))
            for e in parsed.entries]


def view_rs(data: bytes) -> list[tuple[str, ...]]:
    parsed = feedparser_rs.parse(data, sanitize_html=False, resolve_relative_uris=False)
    return [(e.title or "", e.link or "", e.id or "",
             _utc(e.published_parsed or e.updated_parsed), e.author or "")
            for e in parsed.entries]


def _iso_utc(text: object) -> str:
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return ""
    when = when.replace(tzinfo=when.tzinfo or dt.UTC).astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def view_fast(data: bytes) -> list[tuple[str, ...]]:
    assert fastfeedparser is not None
    parsed = fastfeedparser.parse(data)
    return [(e.get("title") or "", e.get("link") or "", e.get("id") or "",
             _iso_utc(e.get("published") or e.get("updated") or ""), e.get("author") or "")
            for e in parsed.get("entries") or ()]


# --- the corpus ------------------------------------------------------------------------


def corpus(folder: Path) -> list[dict[str, Any]]:
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    return [f for f in manifest["files"] if f["kind"] == "xml"]


class Agreement:
    """How one parser's view compares with feedparser's, over the well-formed files."""

    def __init__(self) -> None:
        self.files = 0
        self.same_count = 0
        self.raised: list[str] = []
        self.count_differs: list[str] = []
        self.entries = 0
        self.fields: Counter[str] = Counter()

    def add(self, path: str, reference: list[tuple[str, ...]],
            view: Callable[[bytes], list[tuple[str, ...]]], data: bytes) -> None:
        self.files += 1
        try:
            found = view(data)
        except Exception as exc:  # noqa: BLE001  # a crash is a finding, not the end
            self.raised.append(f"{path} ({type(exc).__name__})")
            return
        if len(found) != len(reference):
            self.count_differs.append(f"{path} ({len(found)} vs {len(reference)})")
            return
        self.same_count += 1
        for ours, theirs in zip(found, reference, strict=True):
            self.entries += 1
            for name, a, b in zip(FIELDS, ours, theirs, strict=True):
                self.fields[name] += a.strip() == b.strip()

    def row(self, name: str) -> str:
        cells = [f"{self.same_count}/{self.files}"] + [
            f"{self.fields[f]}/{self.entries}" for f in FIELDS]
        return f"{name:<16}" + "".join(f"{c:>14}" for c in cells) + f"{len(self.raised):>8}"


@contextmanager
def feedparser_only() -> Iterator[None]:
    """parse_feed with feedparser alone: the reference the fast path must equal."""
    saved = parse_module.read_fast
    parse_module.read_fast = lambda *a, **k: None
    try:
        yield
    finally:
        parse_module.read_fast = saved


def run_parse_feed(data: bytes, name: str) -> tuple[object, float]:
    start = time.perf_counter()
    try:
        result: object = parse_feed(data, feed=name, url=URL, fetched_at=NOW)
    except FeedError as exc:
        result = f"FeedError: {exc}"
    return result, time.perf_counter() - start


def compare_pipeline(files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """parse_feed (fast path where it applies) against parse_feed with feedparser alone."""
    differs: list[str] = []
    crashed: list[str] = []
    slowest = (0.0, "")
    hostile: list[str] = []
    fast_used = 0
    for path, data in files:
        try:
            fast, seconds = run_parse_feed(data, path)
            with feedparser_only():
                slow, _ = run_parse_feed(data, path)
        except Exception as exc:  # noqa: BLE001  # listed, and the run goes on
            crashed.append(f"{path}: {type(exc).__name__}: {exc}"[:200])
            continue
        slowest = max(slowest, (seconds, path))
        fast_used += _took_fast_path(data, path)
        if fast != slow:
            differs.append(path)
        if "/sanitize/" in path and not isinstance(fast, str) and any(
                _HOSTILE.search(f"{s.summary}{s.content}{s.url}") for s in fast.stories):
            hostile.append(path)
    return {"differs": differs, "crashed": crashed, "slowest": slowest, "hostile": hostile,
            "fast_used": fast_used}


def _took_fast_path(data: bytes, path: str) -> int:
    calls: list[bool] = []
    real = parse_module.read_fast

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(result is not None)
        return result

    parse_module.read_fast = spy
    try:
        run_parse_feed(data, path)
    finally:
        parse_module.read_fast = real
    return int(any(calls))


def doctype_refused() -> bool:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss version="2.0"><channel>'
            b"<item><title>&b;</title><link>https://e.org/1</link></item></channel></rss>")
    try:
        parse_feed(bomb, feed="bomb", url=URL, fetched_at=NOW)
    except FeedError:
        return True
    return False


# --- speed -----------------------------------------------------------------------------


def best_of(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def speeds(files: list[tuple[str, bytes]], big: bytes, repeat: int) -> list[tuple[str, float,
                                                                                 float]]:
    def over(parse: Callable[[bytes], object]) -> Callable[[], None]:
        def run() -> None:
            for _, data in files:
                _once(parse, data)
        return run

    def ours(data: bytes) -> object:
        return run_parse_feed(data, "bench")

    def ours_feedparser(data: bytes) -> object:
        with feedparser_only():
            return run_parse_feed(data, "bench")

    contenders: list[tuple[str, Callable[[bytes], object]]] = [
        ("feedparser", lambda d: feedparser.parse(io.BytesIO(d), sanitize_html=False,
                                                  resolve_relative_uris=False)),
        ("feedparser-rs", lambda d: feedparser_rs.parse(d, sanitize_html=False,
                                                        resolve_relative_uris=False)),
    ]
    if fastfeedparser is not None:
        contenders.append(("fastfeedparser", fastfeedparser.parse))
    contenders += [("parse_feed (feedparser only)", ours_feedparser),
                   ("parse_feed (as shipped)", ours)]
    rows = []
    for name, parse in contenders:
        corpus_s = best_of(repeat, over(parse))
        big_s = best_of(repeat, lambda p=parse: _once(p, big))  # type: ignore[misc]
        rows.append((name, corpus_s, big_s))
    return rows


def _once(parse: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(Exception):  # timing only: crashes are counted above
        parse(data)


def big_feed() -> bytes:
    sys.path.insert(0, str(HERE))
    from fetch import make_feed  # bench/fetch.py's generator: the same feeds it serves

    return make_feed(10_000, 500, 20261127)


# --- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    records = corpus(args.corpus)
    files = [(r["path"], (args.corpus / r["path"]).read_bytes()) for r in records]
    well_formed = [(r["path"], d) for r, (_, d) in zip(records, files, strict=True)
                   if not r["ill_formed"]]

    views: list[tuple[str, Callable[[bytes], list[tuple[str, ...]]]]] = [
        ("feedparser-rs", view_rs)]
    if fastfeedparser is not None:
        views.append(("fastfeedparser", view_fast))
    agreements = {name: Agreement() for name, _ in views}
    for path, data in well_formed:
        reference = view_feedparser(data)
        for name, view in views:
            agreements[name].add(path, reference, view, data)

    print(f"raw agreement with feedparser {feedparser.__version__} on {len(well_formed)} "
          f"well-formed XML files (feedparser-rs {feedparser_rs.__version__}"
          + (f", fastfeedparser {_version('fastfeedparser')}" if fastfeedparser else
             ", fastfeedparser not installed") + "):")
    print(f"{'parser':<16}" + "".join(f"{c:>14}" for c in ("same count", *FIELDS))
          + f"{'raised':>8}")
    for name, agreement in agreements.items():
        print(agreement.row(name))
    for name, agreement in agreements.items():
        for what, listed in (("entry count differs", agreement.count_differs),
                             ("raised", agreement.raised)):
            if listed:
                print(f"  {name}, {what} ({len(listed)}): {', '.join(listed[:8])}"
                      + (" ..." if len(listed) > 8 else ""))

    pipeline = compare_pipeline(files)
    print(f"\nparse_feed on all {len(files)} XML files: feedparser-rs read "
          f"{pipeline['fast_used']}, feedparser the rest; stories differ from feedparser "
          f"alone on {len(pipeline['differs'])} files; {len(pipeline['crashed'])} crashed "
          f"(not FeedError); slowest {pipeline['slowest'][0] * 1000:.1f} ms "
          f"({pipeline['slowest'][1]})")
    for path in pipeline["differs"][:20]:
        print(f"  differs: {path}")
    for line in pipeline["crashed"][:20]:
        print(f"  crashed: {line}")
    refused = doctype_refused()
    print(f"hostile: DOCTYPE with entities refused: {refused}; sanitize/ feeds with "
          f"a script, handler or javascript: URL in a story: {len(pipeline['hostile'])}")

    big = big_feed()
    print(f"\nspeed, best of {args.repeat}: the {len(files)} corpus XML files "
          f"({sum(len(d) for _, d in files) / 1e6:.1f} MB), and bench/fetch.py's 500-item "
          f"feed ({len(big) / 1024:.0f} KiB)")
    rows = speeds(files, big, args.repeat)
    base_corpus, base_big = rows[0][1], rows[0][2]
    for name, corpus_s, big_s in rows:
        print(f"  {name:<30} corpus {corpus_s * 1000:8.1f} ms ({base_corpus / corpus_s:5.1f}x "
              f"feedparser)   500 items {big_s * 1000:7.1f} ms ({base_big / big_s:5.1f}x)")
    figures = [*agreement_figures(agreements, len(well_formed)),
               *pipeline_figures(pipeline, len(files), refused), *speed_figures(rows)]
    if args.json:
        print()
        print(json.dumps({"files": len(files), "well_formed": len(well_formed),
                          "versions": {"feedparser": feedparser.__version__,
                                       "feedparser-rs": feedparser_rs.__version__},
                          "figures": [asdict(f) for f in figures]}, indent=2,
                         ensure_ascii=False))
    # differences are listed above; tests/test_parse_fast.py holds the known ones
    return 1 if pipeline["crashed"] or pipeline["hostile"] else 0


def agreement_figures(agreements: dict[str, Agreement], files: int) -> list[Figure]:
    """Each parser's raw agreement with feedparser, as figures."""
    figures = []
    for name, agreement in agreements.items():
        figures.append(Figure(f"{name}: same entry count as feedparser",
                              f"{agreement.same_count}/{files}", "well-formed files"))
        figures += [Figure(f"  same {field}", f"{agreement.fields[field]}/{agreement.entries}",
                           "entries") for field in FIELDS]
        figures.append(Figure("  raised", len(agreement.raised), "files"))
    return figures


def pipeline_figures(pipeline: dict[str, Any], files: int, refused: bool) -> list[Figure]:
    """parse_feed as shipped against parse_feed with feedparser alone, and the guards."""
    return [
        Figure(f"parse_feed: files read by feedparser-rs (of {files})", pipeline["fast_used"],
               "files"),
        Figure("parse_feed: files whose stories differ from feedparser alone",
               len(pipeline["differs"]), "files", "known ones (tests/test_parse_fast.py)"),
        Figure("parse_feed: crashed (not FeedError)", len(pipeline["crashed"]), "files", "0",
               not pipeline["crashed"]),
        Figure("a DOCTYPE with entities refused", "yes" if refused else "no", "", "yes",
               refused),
        Figure("stories of sanitize/ with a script, handler or javascript: URL",
               len(pipeline["hostile"]), "stories", "0", not pipeline["hostile"]),
    ]


def speed_figures(rows: list[tuple[str, float, float]]) -> list[Figure]:
    """Each parser's time on the corpus and on the 500-item feed, against feedparser's."""
    base_corpus, base_big = rows[0][1], rows[0][2]
    figures = []
    for name, corpus_s, big_s in rows:
        figures += [
            Figure(f"{name}: the corpus, best", round(corpus_s * 1000, 1), "ms"),
            Figure("  ratio, feedparser / this", round(base_corpus / corpus_s, 1), "x"),
            Figure(f"{name}: the 500-item feed, best", round(big_s * 1000, 1), "ms"),
            Figure("  ratio, feedparser / this", round(base_big / big_s, 1), "x"),
        ]
    return figures


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
