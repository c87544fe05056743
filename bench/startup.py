"""Benchmark start-up: `--help`, `candidates` and a one-issue build, each against its baseline.

Every figure is a whole process, timed in the same run as its baseline, the
commands taken in turn (one of each per round) so that a load spike on this
shared machine falls on all of them alike:

* ``python -c pass`` and ``python -c "import click"``: the interpreter, and the
  baseline of ``newsletter --help`` (target: at most 1.6x ``import click``).
* ``newsletter candidates --since Nd`` in a copy of the example desk with a
  store of 10,000 generated stories (``tests/generated_store.make_store``),
  printing its table of 50 (target: at most 2x ``--help``). The generated
  stories end on a fixed day, so N is 7 days counted back from the newest
  story, not from today: the command lists 50 stories, as it would on a desk
  fetched this morning, instead of none.
* ``newsletter build ISSUE --out TMP`` in a desk holding only ISSUE (default the
  seed-shaped ``issues/2026-11-27.yaml``), each run into a new ``--out`` folder
  (a whole build, never a no-op): a one-issue build, email + text + web page and
  the site around it, against the Node MJML CLI compiling that issue's MJML
  alone (``mjml@4``, installed with npm into a temporary folder), timed in the
  same rounds (target: at most 0.3x). Without npm or node that figure is
  skipped with a message.
* ``python -c "import <the libraries a build uses>"`` (``BUILD_LIBRARIES``), in
  the same rounds: the floor under a whole-process build in CPython, against
  the same Node figure.

Compiled bytecode: the environment of this machine sets
``PYTHONDONTWRITEBYTECODE``, which makes every run compile the package from
source; an installed wheel has its ``.pyc`` files. The script compiles the
package (``compileall``) and runs every command without that variable, so the
figures are those of an installed tool. ``--source`` measures the other way:
no ``.pyc`` is read or written (an empty ``PYTHONPYCACHEPREFIX``), so every
module, ours and the libraries', is compiled in every process: the worst case.

It also prints which of the heavy libraries (jinja2, httpx, rich, PIL,
markdown_it, ...) each command imported, read from ``python -X importtime``.

Run:  .venv/bin/python bench/startup.py [--runs N] [--json] [--no-node] [--source]
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from _common import REPO, BenchError, Figure, Timing, copy_example_desk, run, table

DEFAULT_ISSUE = Path("issues/2026-11-27.yaml")
STORE_STORIES = 10_000
HELP_TARGET = 1.6  # newsletter --help / python -c "import click"
CANDIDATES_TARGET = 2.0  # newsletter candidates / newsletter --help
BUILD_TARGET = 0.3  # one-issue build / Node MJML CLI
MJML_PACKAGE = "mjml@4"
#: What a one-issue build imports of others' code (each needed: the CLI, templates,
#: markdown, CLDR dates and labels, picture sizes, MJML, inlining, the sanitizer, the
#: issue file, the store): the time a build spends before any line of ours runs.
BUILD_LIBRARIES = ("click, jinja2, markdown_it, babel.dates, babel.numbers, PIL.Image, mjml, "
                   "css_inline, nh3, ruamel.yaml, sqlite3")
HEAVY = ("jinja2", "markdown_it", "httpx", "rich", "PIL", "babel", "mjml", "nh3", "ruamel",
         "feedparser", "sqlite3", "yaml")

RUN_TIMEOUT = 120.0  # seconds, one command
NPM_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Command:
    """One timed command line and where it runs; `fresh` names a new output folder
    for each run (appended to argv), so that every build is a whole build."""

    name: str
    argv: tuple[str, ...]
    cwd: Path
    fresh: Path | None = None

    def line(self, index: int) -> tuple[str, ...]:
        return self.argv if self.fresh is None else (*self.argv, str(self.fresh / f"{index}"))


def timed_rounds(commands: Sequence[Command], runs: int) -> dict[str, Timing]:
    """Each command once untimed, then `runs` rounds of each command once, in turn."""
    times: dict[str, list[float]] = {c.name: [] for c in commands}
    for index in range(runs + 1):
        for command in commands:
            argv = command.line(index)
            start = time.perf_counter()
            run(argv, cwd=command.cwd, timeout=RUN_TIMEOUT)
            if index:
                times[command.name].append((time.perf_counter() - start) * 1000)
    return {name: Timing.of(values) for name, values in times.items()}


def imported(command: Command) -> list[str]:
    """The heavy top-level packages the command imports, from `-X importtime`."""
    argv = list(command.line(-1))
    if Path(argv[0]).name == "newsletter":  # the console script: run its module instead
        argv = [sys.executable, "-X", "importtime", "-m", "newsletter", *argv[1:]]
    else:
        argv = [argv[0], "-X", "importtime", *argv[1:]]
    lines = run(argv, cwd=command.cwd, timeout=RUN_TIMEOUT).stderr.splitlines()
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines
             if line.startswith("import time:")}
    return sorted(names & set(HEAVY))


def make_desk(folder: Path, issue: Path) -> tuple[Path, Path, str]:
    """Two desks under `folder`: one with a store of generated stories (and the
    `--since` age giving the last 7 days of it), one with only `issue`."""
    sys.path.insert(0, str(REPO / "tests"))
    from generated_store import NOW, make_store

    from newsletter import api

    (folder / "stories").mkdir()
    (folder / "single").mkdir()
    stories = copy_example_desk(folder / "stories")
    store = api.store_path(api.load_desk(stories))
    store.parent.mkdir(parents=True, exist_ok=True)
    make_store(store, STORE_STORIES)
    days = (dt.datetime.now(dt.UTC) - NOW).days + 7

    single = copy_example_desk(folder / "single")
    for other in (single / "issues").glob("*.yaml"):
        if other.name != issue.name:
            other.unlink()
    return stories, single, f"{max(days, 7)}d"


def node_mjml(issue: Path, folder: Path) -> tuple[Command, str] | str:
    """The Node MJML CLI compiling `issue`'s MJML (as our renderer hands it to
    mjml-python), and its version; a string says why there is none."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        return "npm or node is not on PATH"
    from build import capture_mjml, normalise

    from newsletter import api

    mjml_source, _, _ = capture_mjml(REPO / issue, api.load_desk(REPO / issue))
    try:
        run([npm, "install", "--prefix", folder, MJML_PACKAGE, "--no-audit", "--no-fund",
             "--loglevel=error"], timeout=NPM_TIMEOUT)
    except BenchError as exc:
        return f"npm install {MJML_PACKAGE} failed: {exc}"
    package = folder / "node_modules" / "mjml"
    source = folder / "input.mjml"
    source.write_text(normalise(mjml_source), encoding="utf-8")
    cli = Command("node", (node, str(package / "bin" / "mjml"), str(source), "-o",
                           str(folder / "out.html")), folder)
    version = json.loads((package / "package.json").read_text())["version"]
    return cli, version


def ratio(name: str, value: Timing, base: Timing, target: float) -> Figure:
    share = value.median_ms / base.median_ms
    return Figure(name, round(share, 3), "x", f"<= {target}", share <= target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--issue", type=Path, default=DEFAULT_ISSUE,
                        help=f"the issue of the one-issue build (default {DEFAULT_ISSUE})")
    parser.add_argument("--no-node", action="store_true", help="skip the Node MJML comparison")
    parser.add_argument("--source", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE: compile from source every run")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.source:  # no .pyc found (an empty cache prefix) and none written
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-no-pyc-")
        bytecode = "every module compiled from source in every run (--source)"
    else:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        compileall.compile_dir(REPO / "newsletter", quiet=1)
        bytecode = "compiled bytecode (.pyc, as an installed wheel has)"

    python = sys.executable
    script = str(Path(python).parent / "newsletter")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        stories, single, since = make_desk(folder, args.issue)
        commands = [
            Command("pass", (python, "-c", "pass"), REPO),
            Command("click", (python, "-c", "import click"), REPO),
            Command("help", (script, "--help"), REPO),
            Command("candidates", (script, "candidates", "--since", since), stories),
            Command("build", (script, "build", str(args.issue), "--out"), single,
                    fresh=folder / "out"),
            Command("libraries", (python, "-c", f"import {BUILD_LIBRARIES}"), REPO),
        ]
        node: tuple[Command, str] | str = "--no-node"
        if not args.no_node:
            (folder / "node").mkdir()
            node = node_mjml(args.issue, folder / "node")
        if not isinstance(node, str):
            commands.append(node[0])  # in the same rounds: the same load as our build
        timings = timed_rounds(commands, args.runs)
        modules = {c.name: imported(c) for c in commands[2:5]}

    t = timings
    figures = [
        Figure(f'python -c "pass" (median of {args.runs})', round(t["pass"].median_ms, 1), "ms"),
        Figure('python -c "import click"', round(t["click"].median_ms, 1), "ms"),
        Figure("newsletter --help", round(t["help"].median_ms, 1), "ms"),
        ratio('ratio: --help / "import click"', t["help"], t["click"], HELP_TARGET),
        Figure(f"newsletter candidates --since {since} ({STORE_STORIES:,} stories)",
               round(t["candidates"].median_ms, 1), "ms"),
        ratio("ratio: candidates / --help", t["candidates"], t["help"], CANDIDATES_TARGET),
        Figure(f"newsletter build {args.issue} (one-issue desk)",
               round(t["build"].median_ms, 1), "ms"),
        Figure("  the libraries a build uses, imported alone", round(t["libraries"].median_ms, 1),
               "ms"),
    ]
    if isinstance(node, str):
        print(f"Node MJML comparison skipped: {node}")
    else:
        node_time, version = timings["node"], node[1]
        figures += [
            Figure(f"Node MJML {version} CLI, that issue's MJML", round(node_time.median_ms, 1),
                   "ms"),
            ratio("ratio: one-issue build / Node MJML CLI", t["build"], node_time, BUILD_TARGET),
            Figure("  ratio: the libraries alone / Node MJML CLI",
                   round(t["libraries"].median_ms / node_time.median_ms, 3), "x"),
        ]
    print(f"\nBytecode: {bytecode}; python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(table(figures))
    for name, found in modules.items():
        print(f"{name} imports: {', '.join(found) or 'none of ' + ', '.join(HEAVY)}")
    if args.json:
        print(json.dumps({"bytecode": bytecode, "since": since, "imports": modules,
                          "timings": {k: asdict(v) for k, v in t.items()},
                          "figures": [asdict(f) for f in figures]}, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)
