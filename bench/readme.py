"""Run every benchmark and write its figures into README.md: the numbers there come from a run.

Each script of ``SCRIPTS`` is run with its defaults and ``--json``, one after the
other (never two at once: they time the same 2 cores), from the repository's
folder, with this Python. The JSON it prints last is kept in
``bench/results/<script>.json`` with when and where it ran (time, seconds, load
average before, exit status, machine), and the README's benchmark block, between
``BEGIN`` and ``END``, is written again from every results file.

In that block each script has a table of its figures that carry a target, each
followed by the rows under it (its baseline and ratio), and its other figures
in a ``<details>``. A script's exit status is kept beside its figures (some
exit 1 when a target is missed, some never do: the tables say which targets
were met). A script that prints no JSON (it crashed, or timed out) keeps its
previous results file, is named, and this script exits 1.

Run:  .venv/bin/python bench/readme.py [--only NAME[,NAME]] [--write-only] [--check]

``--only site,fetch`` runs those scripts (names without ``.py``) and keeps the
others' results; ``--write-only`` runs nothing and writes the block from the
results files; ``--check`` runs nothing and exits 1 when the README's block is
not what the results files give (tests/test_docs.py does this).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
README = REPO / "README.md"
RESULTS = HERE / "results"
#: In the order the README lists them: the issue's four areas first.
SCRIPTS = ("fetch", "parsers", "site", "startup", "store", "build", "desk", "preview", "check")
TIMEOUT_S = 3600  # the longest (site, with Pelican installed) takes a few minutes
BEGIN = ("<!-- bench/readme.py writes from here to its end marker, from bench/results/: "
         "run it rather than editing these lines -->")
END = "<!-- end of bench/readme.py's block -->"


class ReadmeError(Exception):
    """The README or a results file is not as this script expects."""


# --- running -------------------------------------------------------------------------


def run_script(name: str) -> dict[str, Any]:
    """Run bench/<name>.py with --json; its JSON with when, where and how it ran."""
    argv = [sys.executable, str(HERE / f"{name}.py"), "--json"]
    load = os.getloadavg()[0]
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = time.monotonic()
    try:  # the scripts print non-ASCII JSON: read it as UTF-8 whatever the locale
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=TIMEOUT_S, check=False,
                              env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    except subprocess.TimeoutExpired as exc:
        raise ReadmeError(f"bench/{name}.py did not finish in {TIMEOUT_S} s") from exc
    report = last_json(done.stdout)
    if report is None:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ReadmeError(f"bench/{name}.py printed no JSON (exit {done.returncode}):\n{tail}")
    return {
        "script": f"bench/{name}.py",
        "started": started.isoformat(),
        "seconds": round(time.monotonic() - clock),
        "load_before": round(load, 2),
        "exit": done.returncode,
        "machine": machine(),
        "report": report,
    }


def last_json(stdout: str) -> dict[str, Any] | None:
    """The JSON object a script prints last: from the last line that is a bare "{"."""
    lines = stdout.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start] == "{":
            try:
                found = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                return None
            return found if isinstance(found, dict) else None
    return None


def machine() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def save(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    (RESULTS / f"{name}.json").write_text(text, encoding="utf-8")


def load_results(folder: Path = RESULTS) -> dict[str, dict[str, Any]]:
    """Every results file there is, by script name, in the README's order."""
    found = {}
    for name in SCRIPTS:
        path = folder / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


# --- the README's block --------------------------------------------------------------


def block(results: dict[str, dict[str, Any]]) -> str:
    """The README's benchmark figures, from the results files, markers included."""
    machines = sorted({result["machine"] for result in results.values()})
    parts = [BEGIN, "",
             f"Each script's figures from its last run by `bench/readme.py` "
             f"({'; '.join(machines) or 'no runs yet'}). Listed first: the figures with a "
             "target, each with the rows under it (its baseline and the ratio); then, folded, "
             "the script's other figures.", ""]
    for result in results.values():
        parts += script_section(result)
    parts.append(END)
    return "\n".join(parts)


def script_section(result: dict[str, Any]) -> list[str]:
    figures = result["report"].get("figures", [])
    verdicts = [f["passed"] for f in figures if f.get("passed") is not None]
    missed = verdicts.count(False)
    outcome = (f"{missed} of {len(verdicts)} targets missed" if missed
               else f"all {len(verdicts)} targets met" if verdicts else "no targets")
    day = result["started"][:10]
    lines = [f"**`{result['script']}`**, run {day} ({result['seconds']:,} s; load average "
             f"{result['load_before']:g} before; exit {result['exit']}): {outcome}.", ""]
    headline = targeted(figures)
    shown = {id(figure) for figure in headline}  # by identity: two rows may be equal
    rest = [figure for figure in figures if id(figure) not in shown]
    if headline:
        lines += [*markdown_table(headline), ""]
    if rest:
        lines += [f"<details><summary>the other {len(rest)} figures of "
                  f"<code>{result['script']}</code></summary>", "",
                  *markdown_table(rest), "", "</details>", ""]
    return lines


def targeted(figures: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures with a target, each with the indented rows that follow it; an
    indented row with a target comes with the figure it is under."""
    picked: list[dict[str, Any]] = []
    following = False
    parent: dict[str, Any] | None = None
    for figure in figures:
        indented = figure["name"].startswith("  ")
        if not indented:
            parent = figure
        if figure.get("target"):
            if indented and parent is not None and not any(p is parent for p in picked):
                picked.append(parent)
            picked.append(figure)
            following = True
        elif following and indented:
            picked.append(figure)
        else:
            following = False
    return picked


def markdown_table(figures: Iterable[dict[str, Any]]) -> list[str]:
    rows = ["| figure | value | target | result |", "|---|--:|---|---|"]
    for figure in figures:
        name = figure["name"]
        indent = len(name) - len(name.lstrip(" "))
        label = "&emsp;" * (indent // 2) + _cell(name.strip())
        value = figure["value"]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = f"{value:,}" if number else str(value)
        unit = f" {figure['unit']}" if figure.get("unit") else ""
        verdict = {True: "met", False: "**missed**", None: ""}[figure.get("passed")]
        rows.append(f"| {label} | {_cell(shown + unit)} | {_cell(figure.get('target') or '')} "
                    f"| {verdict} |")
    return rows


def _cell(text: str) -> str:
    """Text as one Markdown table cell: no HTML, no line break, no column break."""
    text = html.escape(text.replace("\\", "\\\\"), quote=False)
    return text.replace("|", "\\|").replace("\n", " ")


def with_block(readme: str, new_block: str) -> str:
    """The README with its block replaced; the markers must be there, once each."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ReadmeError(f"{README.name} needs the block's two markers, once each:\n"
                          f"{BEGIN}\n{END}")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return head + new_block + tail


def current_block(readme: str) -> str:
    start = readme.index(BEGIN)
    return readme[start:readme.index(END, start) + len(END)]


# --- the command ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run these scripts only: site,fetch")
    parser.add_argument("--write-only", action="store_true",
                        help="run nothing; write the block from the results files")
    parser.add_argument("--check", action="store_true",
                        help="run nothing; exit 1 if the README's block is out of date")
    args = parser.parse_args(argv)
    if args.check:
        expected = block(load_results())
        if current_block(README.read_text(encoding="utf-8")) != expected:
            print("README.md's benchmark block is not what bench/results/ gives: run "
                  "bench/readme.py --write-only (or run the benchmarks again)")
            return 1
        return 0
    names = [n for n in args.only.split(",") if n] or list(SCRIPTS)
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        parser.error(f"no such script: {', '.join(unknown)} (of {', '.join(SCRIPTS)})")
    failed = []
    if not args.write_only:
        for name in names:
            print(f"bench/{name}.py ...", flush=True)
            try:
                result = run_script(name)
            except ReadmeError as exc:
                print(f"  {exc}\n  (its previous results are kept)", flush=True)
                failed.append(name)
                continue
            save(name, result)
            print(f"  {result['seconds']} s, exit {result['exit']}", flush=True)
    readme = README.read_text(encoding="utf-8")  # as it is now, after the runs
    README.write_text(with_block(readme, block(load_results())), encoding="utf-8")
    print(f"wrote the benchmark block of {README}")
    if failed:
        print(f"printed no figures: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
