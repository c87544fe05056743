"""The candidate store's size and search times: this schema against the old one, same run.

Why: schema v5 (collect/store.py) replaced the search index of v2 (FTS5 trigram
with positions, over the whole text, with its own copy of it) by a plain-text
table and a trigram index without positions over the title, the summary and
the start of the content. This shows what that saves and costs.

Two stores of ``--stories`` (default 10,000) stories each way, made by
``tests/generated_store.make_store`` (20 feeds, English, Chinese and Japanese,
marks, usage): the **short** case as it generates them (content: the title
three times); the **long** case, where each story's content is
``--paragraphs`` (default 6) paragraphs of about 60 words (Chinese and
Japanese stories: of their own script), as full-text feeds send; and a case
**twice as long** (twice the paragraphs). The long case is the issue's: its
baseline store is ~144 MB, where the issue measured 151 MB for its long texts;
twice as long makes a baseline of ~223 MB, past anything the issue measured,
and has no size target. The
baseline is ``newsletter/collect/store.py`` as it was at ``--baseline``
(default: the commit before schema v5), read with ``git show`` and run
against the same generated stories.

For each store: the file's size after a checkpoint (the WAL folded in), and
the median of ``--runs`` (default 7) in-process calls, the two stores taking
turns call by call (so the machine's load falls on both alike), of ``Store.search``
(limit 50) and ``Store.page`` for the searches an editor makes: a
two-character Chinese term, ``AI`` (a short ASCII word), Japanese, English
words, a two-word query, and a term that is nowhere.

Targets (issue 16): the long case under 40 MB; every search, in every case, under
50 ms.

Run:  .venv/bin/python bench/store.py [--stories N] [--runs N] [--baseline REV] [--json]

``--json`` also prints the figures as JSON (what bench/readme.py reads).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import generated_store  # noqa: E402  # tests/ is put on the path just above
from _common import Figure, table  # noqa: E402

from newsletter.collect import store as current  # noqa: E402

BASELINE_REV = "ef0007a"  # the last commit with schema v4 (v2's search index)
SIZE_TARGET_MB = 40.0
SEARCH_TARGET_MS = 50.0
SEARCHES = ("海洋", "AI", "東京湾", "珊瑚礁", "kelp", "harbour storm", "storm AI", "zebra")
_WORDS = ("kelp", "harbour", "storm", "tide", "coral", "estuary", "flood", "reef", "plankton",
          "salmon", "wetland", "dune", "glacier", "monsoon", "drought", "council", "report",
          "village", "island", "fishers", "scientists", "survey", "season", "water")
_CHINESE = ("海洋保护区珊瑚礁台风季节渔业资源海平面上升红树林潮汐能"
            "研究人员发现正在变化政府宣布扩大范围")
_JAPANESE = "東京湾の水質海の生き物津波避難タワー漁業の未来藻場の再生が戻ってきた調査は続く"


def baseline_module(rev: str) -> ModuleType:
    """`collect/store.py` as it was at `rev`, imported beside the current one."""
    source = subprocess.run(["git", "show", f"{rev}:newsletter/collect/store.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True, timeout=60).stdout
    name = "newsletter.collect._baseline_store"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "newsletter.collect"
    sys.modules[name] = module
    # our own file, at another commit
    exec(compile(source, f"{rev}:newsletter/collect/store.py", "exec"), module.__dict__)
    return module


def long_content(n: int, title: str, paragraphs: int) -> str:
    rng = random.Random(n)
    if any("\u4e00" <= c <= "\u9fff" for c in title):
        alphabet = _JAPANESE if any("\u3040" <= c <= "\u30ff" for c in title) else _CHINESE
        return "".join(f"<p>{''.join(rng.choices(alphabet, k=120))}。</p>"
                       for _ in range(paragraphs))
    return "".join(f"<p>{' '.join(rng.choices(_WORDS, k=60)).capitalize()}.</p>"
                   for _ in range(paragraphs))


@contextmanager
def generating(module: ModuleType, paragraphs: int) -> Iterator[None]:
    """make_store with `module`'s Store, and with long contents when paragraphs > 0."""
    saved_store, saved_story = generated_store.Store, generated_store._story

    def story(n: int, rng: random.Random) -> Any:
        made = saved_story(n, rng)
        return made if paragraphs == 0 else type(made)(**{
            **{f: getattr(made, f) for f in made.__dataclass_fields__},
            "content": long_content(n, made.title, paragraphs)})

    generated_store.Store = module.Store
    generated_store._story = story
    try:
        yield
    finally:
        generated_store.Store, generated_store._story = saved_store, saved_story


def make(module: ModuleType, folder: Path, stories: int, paragraphs: int) -> tuple[Path, float]:
    folder.mkdir()
    path = folder / "candidates.sqlite"
    start = time.perf_counter()
    with generating(module, paragraphs):
        generated_store.make_store(path, stories)
    seconds = time.perf_counter() - start
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path, seconds


def interleaved_ms(calls: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """The median ms of each call, the calls taking turns, so that the machine's
    load (other people's work) falls on both alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm: the page cache, the statement cache
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(found) for name, found in times.items()}


def measure(stores: dict[str, Any], paths: dict[str, Path], runs: int
            ) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {
        name: {"size_mb": path.stat().st_size / 1e6} for name, path in paths.items()}
    for words in SEARCHES:
        for kind in ("search", "page"):
            calls = {name: (lambda s=store, w=words, k=kind: getattr(s, k)(words=w))
                     for name, store in stores.items()}
            for name, ms in interleaved_ms(calls, runs).items():
                found[name][f"{kind} {words}"] = ms
        for name, store in stores.items():
            found[name][f"hits {words}"] = store.page(words=words, skipped=None).total
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--paragraphs", type=int, default=6,
                        help="paragraphs of the long case (default 6; twice as long: 2x)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    baseline = baseline_module(args.baseline)
    print(f"{args.stories} generated stories; baseline: schema v{baseline.SCHEMA_VERSION} "
          f"({args.baseline}), now: schema v{current.SCHEMA_VERSION}; SQLite "
          f"{sqlite3.sqlite_version}; median of {args.runs} in-process calls")
    failed = False
    figures: list[Figure] = []
    cases = (("short", 0), ("long", args.paragraphs), ("twice as long", 2 * args.paragraphs))
    for case, paragraphs in cases:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
            modules = {"baseline": baseline, "now": current}
            made = {name: make(module, Path(folder) / name, args.stories, paragraphs)
                    for name, module in modules.items()}
            with modules["baseline"].Store(made["baseline"][0]) as old_store, \
                    modules["now"].Store(made["now"][0]) as new_store:
                results = measure({"baseline": old_store, "now": new_store},
                                  {name: path for name, (path, _) in made.items()}, args.runs)
            for name, (_, seconds) in made.items():
                results[name]["made_s"] = seconds
        old, new = results["baseline"], results["now"]
        target = f" (target < {SIZE_TARGET_MB:g})" if case == "long" else ""
        print(f"\n{case} text: size {old['size_mb']:.1f} MB -> {new['size_mb']:.1f} MB"
              f"{target}, {old['size_mb'] / new['size_mb']:.1f}x smaller; made in "
              f"{old['made_s']:.1f} s -> {new['made_s']:.1f} s")
        failed |= case == "long" and new["size_mb"] >= SIZE_TARGET_MB
        print(f"  {'words':<16}{'hits then/now':>15}{'search ms':>22}{'page ms':>22}")
        for words in SEARCHES:
            hits = f"{old['hits ' + words]}/{new['hits ' + words]}"
            cells = [f"{old[k + ' ' + words]:7.1f} -> {new[k + ' ' + words]:6.1f}"
                     for k in ("search", "page")]
            slow = max(new["search " + words], new["page " + words]) >= SEARCH_TARGET_MS
            failed |= slow
            print(f"  {words:<16}{hits:>15}{cells[0]:>22}{cells[1]:>22}"
                  + ("  FAIL" if slow else ""))
        figures += case_figures(case, old, new)
    print()
    print(table(figures))
    if args.json:
        print()
        print(json.dumps({"stories": args.stories, "paragraphs": args.paragraphs,
                          "runs": args.runs, "baseline": args.baseline,
                          "sqlite": sqlite3.sqlite_version,
                          "figures": [asdict(f) for f in figures]}, indent=2,
                         ensure_ascii=False))
    return 1 if failed else 0


def case_figures(case: str, old: dict[str, Any], new: dict[str, Any]) -> list[Figure]:
    """One case's results as figures: the size, then each search and page call, each
    with the baseline schema's figure and the ratio."""
    long = case == "long"
    figures = [
        Figure(f"{case} text: store size", round(new["size_mb"], 1), "MB",
               f"< {SIZE_TARGET_MB:g}" if long else "",
               new["size_mb"] < SIZE_TARGET_MB if long else None),
        Figure("  baseline: the schema before issue 16", round(old["size_mb"], 1), "MB"),
        Figure("  ratio, baseline / now", round(old["size_mb"] / new["size_mb"], 2), "x"),
    ]
    calls = [f"{kind} {words}" for words in SEARCHES for kind in ("search", "page")]
    slowest = max(calls, key=lambda call: new[call])
    figures += [
        Figure(f"{case} text: the slowest of {len(calls)} calls ({slowest!r}), median",
               round(new[slowest], 1), "ms", f"< {SEARCH_TARGET_MS:g}",
               new[slowest] < SEARCH_TARGET_MS),
        Figure("  baseline: the slowest call of the schema before issue 16",
               round(max(old[call] for call in calls), 1), "ms"),
    ]
    for call in calls:
        words = call.split(" ", 1)[1]
        figures += [
            Figure(f"{case} text: {call.split()[0]} {words!r} ({new['hits ' + words]} hits), "
                   "median", round(new[call], 1), "ms"),
            Figure("  baseline: the schema before issue 16", round(old[call], 1), "ms"),
        ]
    return figures


if __name__ == "__main__":
    sys.exit(main())
