"""Benchmark building the archive site of a desk of 1,000 issues, against Pelican.

The set-up: a synthetic desk in a temporary folder. Its ``newsletter.yaml`` is
the repository's (``feeds:`` removed: a build does not read them), its
pictures are ``examples/images/``, and ``templates/web/_style.css`` is a copy
of the default theme's (a desk overriding one partial, so that step 4 can
edit it). ``--issues`` (default 1,000) issue files ``issues/YYYY-MM-DD.yaml``,
weekly back from 2026-11-27, are shaped like ``issues/2026-11-27.yaml``
(lead with bullets, picture and a body of text, related and video blocks,
catch-up, deep dives, sponsor, call to action). Each gets its own number,
date and slug, and every piece of prose is replaced by pseudo-random words
(``random.Random(--seed)``) of the same length, with a little markdown, so
the issues are distinct and of realistic size; links get new paths and
pictures are drawn among the example pictures of the same kind. All are
``status: ready`` and written out (no ``story:`` references).

What it measures, each with the venv's ``newsletter build`` (the folder of
``sys.executable``) as a subprocess, cwd = the desk, ``XDG_CACHE_HOME`` pointing
into the temporary folder. The package is compiled first (``compileall``) and
the builds run without ``PYTHONDONTWRITEBYTECODE`` (which this machine's
environment sets), as an installed wheel runs; with ``--source`` no ``.pyc`` is
read or written (an empty ``PYTHONPYCACHEPREFIX``): every process compiles
every module it imports:

1. **cold build**: no ``site/``, no ``.newsletter/`` and an empty
   ``XDG_CACHE_HOME`` (compiled templates, badged thumbnails) before each of
   ``--cold-runs`` runs (default 3). "Cold" means nothing built or cached by
   the tool; the OS file cache is warm. The first cold build also validates
   the desk: every issue must come out with its three files.
2. **no-op rebuild**: nothing changed since the last build. After each, in the
   same run, ``newsletter --help`` is timed ``HELP_RUNS`` times: the target is a
   no-op of at most 3x ``--help`` (start-up, settings and the manifest, nothing
   rendered).
3. **one issue changed**: the first paragraph of one issue file edited
   (differently each run); its web page is checked for the edit.
4. **one shared template changed**: a rule appended to the desk's
   ``templates/web/_style.css`` (differently each run); a page is checked for it.
5. **--force rebuild** (``--cold-runs`` runs) of everything, cache kept. Skipped
   with a message if ``newsletter build --help`` does not offer ``--force``.

Steps 2 to 4 run ``--runs`` times (default 3). Times are wall seconds of the
whole process, medians reported, with the CPU seconds of all its processes
(from ``wait4``) beside the cold build. For each run the files of ``site/`` that
were (re)written are counted, so a no-op that rewrites everything shows. The
load average before the runs is printed, with a warning when other work is
already using the cores (the times then say little).

**Peak memory** of every run: the process tree (the build and its worker
processes) is read from ``/proc`` every 20 ms and the peak of the sum of
``VmRSS`` over the tree is kept (shared pages count once per process, so this
overstates a little; a peak shorter than 20 ms can be missed). For comparison:
the largest ``VmHWM`` of one process of the tree (the kernel's own high-water
mark), and ``ru_maxrss`` from ``resource.getrusage(RUSAGE_CHILDREN)`` after all
our builds, i.e. that of the largest child. The latter is never below this
bench's own peak RSS (printed too): the child is started with vfork, and
Linux folds the parent's high-water mark into the child's at exec.

**Pelican**, the peer: ``pip install pelican markdown`` into a temporary venv
(bounded by a timeout; on failure the comparison is skipped with a message).
The same issues become markdown articles (title, date, slug, preheader as the
summary, lead headline, bullets and paragraphs, videos and related stories as
links, catch-up, deep dives, sponsor and call to action, the same pictures as
``{static}/images/...``), built with ``pelican content -o output -s
pelicanconf.py``, ``--cold-runs`` runs into an empty ``output/``, each right
after one of our cold builds (ours, Pelican's, ours, Pelican's, ...), so that
both meet the same load on this shared machine. The settings
are Pelican's defaults (default theme, index, archives, category, tag and
author pages, markdown's extra/codehilite/meta extensions) except: no feeds
(our build writes none), ``RELATIVE_URLS = True``, no content cache
(``CACHE_CONTENT``/``LOAD_CONTENT_CACHE`` off) and ``issues/<slug>/`` URLs like
ours. This spares Pelican the email and text parts we render for every
issue, and costs it the index pages we do not write.

Targets: cold build of 1,000 issues < 6 s and at least 1.5x faster than
Pelican's (ratio <= 0.667) with email and text built too; no-op < 0.5 s and at
most 3x ``--help``; one issue changed < 1 s; peak memory (tree sum) < 256 MiB.

Run:  .venv/bin/python bench/site.py [--issues N] [--runs N] [--json] [--no-pelican]
      [--source]

``--desk DIR`` writes the desk into DIR and keeps it (for profiling a build by
hand). The script prints a table (name, value, unit, target, pass/fail), the
machine's cores and the versions; ``--json`` also prints every run as JSON.
It exits 1 if our build fails or gives wrong output, else 0; missed targets
show as FAIL. Every subprocess has a timeout; temporary folders are removed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import copy
import dataclasses
import datetime as dt
import io
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from _common import BenchError, Figure, _shell, run, table, tree_memory
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
SEED_ISSUE = REPO / "issues" / "2026-11-27.yaml"
SETTINGS = REPO / "newsletter.yaml"
PICTURES = Path("examples") / "images"
STYLE = Path("templates") / "web" / "_style.css"
LAST_DATE = dt.date(2026, 11, 27)
PELICAN_PACKAGES = ("pelican", "markdown")

COLD_TARGET_S = 6.0
PELICAN_SPEEDUP_TARGET = 1.5  # ours at least this many times faster than Pelican, cold
NOOP_TARGET_S = 0.5
NOOP_HELP_TARGET = 3.0  # no-op rebuild / `newsletter --help`, same run
HELP_RUNS = 3  # `newsletter --help` timings after each no-op rebuild
ONE_ISSUE_TARGET_S = 1.0
MEMORY_TARGET_MIB = 256

BUILD_TIMEOUT = 900.0  # seconds, one build of the whole desk
HELP_TIMEOUT = 30.0
VENV_TIMEOUT = 120.0
PIP_TIMEOUT = 300.0
SAMPLE_INTERVAL = 0.02  # seconds between two memory samples of a process tree

# --- the synthetic desk -------------------------------------------------------------

_WORDS = (
    "harbour", "tide", "coast", "reef", "kelp", "salmon", "trawler", "port", "ferry", "storm",
    "surge", "estuary", "lagoon", "dune", "cliff", "erosion", "sediment", "plankton", "whale",
    "seal", "gull", "oyster", "mussel", "shrimp", "mangrove", "seagrass", "current", "monsoon",
    "delta", "river", "fishery", "quota", "ministry", "council", "budget", "report", "survey",
    "scientists", "residents", "fishers", "divers", "sailors", "engineers", "warming", "oxygen",
    "sonar", "satellite", "buoy", "drone", "permit", "treaty", "village", "island", "shipyard",
    "pier", "breakwater", "lighthouse", "wetland", "restoration", "plastic", "runoff", "bloom",
    "algae", "heatwave", "flood", "record", "season", "winter", "summer", "north", "south",
    "deep", "shallow", "quiet", "rising", "falling", "small", "local", "coastal", "offshore",
    "the", "the", "the", "a", "of", "of", "and", "and", "in", "to", "on", "with", "for", "from",
    "finds", "warns", "plans", "counts", "maps", "tracks", "opens", "funds", "tests", "rebuilds",
)
_LINE_KEYS = {"subject", "preheader", "topic", "headline", "title", "alt", "caption", "bullets"}
_MARKDOWN_KEYS = {"intro", "text", "blurb"}
_KEPT_HOSTS = ("youtube.com", "vimeo.com", "tideline.example.org", "harbourlight.example.com")


class Prose:
    """Pseudo-random text shaped like a given text: same length, same paragraphs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def words(self, count: int) -> list[str]:
        return [self.rng.choice(_WORDS) for _ in range(count)]

    def line(self, like: str) -> str:
        """One capitalised line no longer than `like` (limits stay respected)."""
        words = self.words(1)
        while len(" ".join(words)) < len(like) - 8:
            words.append(self.rng.choice(_WORDS))
        return " ".join(words).capitalize()

    def sentence(self) -> str:
        words = self.words(self.rng.randint(6, 18))
        roll = self.rng.random()
        if roll < 0.15:
            words[2] = f"*{words[2]}*"
        elif roll < 0.25:
            words[3] = f"[{words[3]} {words[4]}]({self.url('https://news.example.org/x')})"
            del words[4]
        return " ".join(words).capitalize() + "."

    def paragraph(self, length: int) -> str:
        sentences = [self.sentence()]
        while sum(len(s) + 1 for s in sentences) < length:
            sentences.append(self.sentence())
        return textwrap.fill(" ".join(sentences), width=72, break_on_hyphens=False,
                             break_long_words=False)

    def markdown(self, like: str) -> str:
        paragraphs = like.strip().split("\n\n")
        return "\n\n".join(self.paragraph(len(p)) for p in paragraphs) + "\n"

    def url(self, like: str) -> str:
        if any(host in like for host in _KEPT_HOSTS):
            return like
        return like.rsplit("/", 1)[0] + "/" + "-".join(self.words(self.rng.randint(3, 6)))

    def picture(self, like: str) -> str:
        kind = Path(like).name.split("-", 1)[0]  # lead-, dive-, video-
        return f"{PICTURES.as_posix()}/{self.rng.choice(_pictures(kind))}"


@cache
def _pictures(kind: str) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in (REPO / PICTURES).glob(f"{kind}-*")))


def vary(value: Any, key: str, prose: Prose) -> Any:
    """`value` (the seed issue, or part of it) with its prose, links and pictures replaced."""
    if isinstance(value, dict):
        return {k: vary(v, k, prose) for k, v in value.items() if k != "story"}
    if isinstance(value, list):
        return [vary(item, key, prose) for item in value]
    if not isinstance(value, str):
        return value
    if key in _MARKDOWN_KEYS:
        return prose.markdown(value)
    if key in _LINE_KEYS:
        return prose.line(value)
    if key == "url":
        return prose.url(value)
    return prose.picture(value) if key == "src" else value


def make_issues(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` distinct issues shaped like the seed issue, newest first."""
    template = _yaml().load(SEED_ISSUE.read_text(encoding="utf-8"))
    prose = Prose(random.Random(seed))
    issues = []
    for index in range(count):
        issue = vary(template, "", prose)
        number = count - index
        subject = prose.line(template["subject"][len("Tideline #48: "):])
        issue.update(number=number, date=LAST_DATE - dt.timedelta(weeks=index), status="ready",
                     slug=f"{number}-{'-'.join(prose.words(3))}",
                     subject=f"Tideline #{number}: {subject}")
        issues.append(issue)
    return issues


def _literal_str(representer: Any, text: str) -> Any:
    style = "|" if "\n" in text else None
    return representer.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def _yaml() -> YAML:
    """Block-style YAML, keys in order, paragraphs as `|` blocks: like a hand-written issue."""
    yaml = YAML(typ="safe", pure=False)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.allow_unicode = True
    yaml.representer.add_representer(str, _literal_str)
    yaml.representer.sort_base_mapping_type_on_output = False
    return yaml


def issue_file(desk: Path, issue: dict[str, Any]) -> Path:
    return desk / "issues" / f"{issue['date']}.yaml"


def write_issue(desk: Path, issue: dict[str, Any]) -> None:
    text = io.StringIO()
    _yaml().dump(issue, text)
    issue_file(desk, issue).write_text(f"# Synthetic issue, bench/site.py\n{text.getvalue()}",
                                       encoding="utf-8")


def write_desk(desk: Path, issues: Sequence[dict[str, Any]]) -> None:
    """The desk: settings without feeds, the pictures, one template override, the issues."""
    (desk / "issues").mkdir(parents=True)
    settings = YAML()  # round-trip: the comments stay
    data = settings.load(SETTINGS.read_text(encoding="utf-8"))
    data.pop("feeds", None)
    with (desk / "newsletter.yaml").open("w", encoding="utf-8") as out:
        settings.dump(data, out)
    shutil.copytree(REPO / PICTURES, desk / PICTURES)
    (desk / STYLE).parent.mkdir(parents=True)
    shutil.copyfile(REPO / STYLE, desk / STYLE)
    for issue in issues:
        write_issue(desk, issue)


# --- running and measuring subprocesses ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    """One run of a command: wall time, memory (KiB) and what it wrote."""

    seconds: float
    tree_peak_kib: int  # the sampled peak of the sum of VmRSS over the process tree
    largest_hwm_kib: int  # the largest VmHWM of one process of the tree
    ru_maxrss_kib: int  # from wait4: the child, or its largest waited-for descendant
    cpu_seconds: float  # user + system time of the child and its waited-for descendants
    files_written: int = -1  # files of site/ new or replaced by this run; -1: not counted
    stale: bool = False  # an edit made before this build did not show in its output



class TreeSampler:
    """Samples a process tree's memory from a thread until stopped."""

    def __init__(self, root: int) -> None:
        self.root, self.tree_peak, self.high_water = root, 0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_INTERVAL):
            memory = tree_memory(self.root).values()
            self.tree_peak = max(self.tree_peak, sum(rss for rss, _ in memory))
            self.high_water = max(self.high_water, *(hwm for _, hwm in memory), 0)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def run_measured(cmd: Sequence[str | Path], *, cwd: Path, env: dict[str, str],
                 timeout: float) -> Measured:
    """Run a command, timing it and sampling its process tree's memory; errors raise."""
    timed_out = threading.Event()

    def kill(pid: int) -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # worker processes too

    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise BenchError(f"could not run {_shell(cmd)}: {exc}") from exc
        sampler, alarm = TreeSampler(proc.pid), threading.Timer(timeout, kill, (proc.pid,))
        alarm.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            seconds = time.perf_counter() - start
            alarm.cancel()
            sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    if timed_out.is_set():
        raise BenchError(f"timed out after {timeout:.0f}s: {_shell(cmd)}")
    if proc.returncode != 0:
        raise BenchError(f"exit {proc.returncode} from {_shell(cmd)}:\n{output[-3000:]}")
    return Measured(seconds=seconds, tree_peak_kib=sampler.tree_peak,
                    largest_hwm_kib=sampler.high_water, ru_maxrss_kib=usage.ru_maxrss,
                    cpu_seconds=usage.ru_utime + usage.ru_stime)


def own_high_water_kib() -> int:
    """This bench's own VmHWM: the floor of every child's ru_maxrss (see the docstring)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# --- our build ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Desk:
    """The synthetic desk and how to build it."""

    folder: Path
    issues: list[dict[str, Any]]
    script: Path
    env: dict[str, str]

    @property
    def site(self) -> Path:
        return self.folder / "site"

    def build(self, *extra: str) -> Measured:
        before = _site_files(self.site)
        measured = run_measured([self.script, "build", *extra], cwd=self.folder, env=self.env,
                                timeout=BUILD_TIMEOUT)
        after = _site_files(self.site)
        written = sum(1 for path, stamp in after.items() if before.get(path) != stamp)
        return dataclasses.replace(measured, files_written=written)

    def help(self) -> Measured:
        """`newsletter --help`: the start-up a no-op rebuild is measured against."""
        return run_measured([self.script, "--help"], cwd=self.folder, env=self.env,
                            timeout=HELP_TIMEOUT)

    def reset(self) -> None:
        """Forget every build: output, the desk's cache and the user cache."""
        for folder in (self.site, self.folder / ".newsletter", Path(self.env["XDG_CACHE_HOME"])):
            shutil.rmtree(folder, ignore_errors=True)


def _site_files(site: Path) -> dict[Path, tuple[int, int]]:
    """Every file under site/ with its inode and mtime, to tell what a build rewrote."""
    stamps = {}
    for folder, _, names in os.walk(site):
        for name in names:
            path = Path(folder, name)
            with contextlib.suppress(OSError):
                stat = path.stat()
                stamps[path] = (stat.st_ino, stat.st_mtime_ns)
    return stamps


def check_site(desk: Desk) -> None:
    """Every issue built into issues/<slug>/ with its three files."""
    missing = [issue["slug"] for issue in desk.issues
               if not all((desk.site / "issues" / issue["slug"] / name).is_file()
                          for name in ("index.html", "email.html", "email.txt"))]
    if missing:
        raise BenchError(f"{len(missing)} issues were not built, e.g. {missing[:3]}")


def page_has(desk: Desk, issue: dict[str, Any], marker: str) -> bool:
    page = desk.site / "issues" / issue["slug"] / "index.html"
    return page.is_file() and marker in page.read_text(encoding="utf-8")


def accepts_force(script: Path) -> bool:
    return "--force" in run([script, "build", "--help"], timeout=HELP_TIMEOUT).stdout


def edit_issue(desk: Desk, run_index: int) -> Callable[[], bool]:
    """Edit the first paragraph of the middle issue; return a check of its page."""
    issue = desk.issues[len(desk.issues) // 2]  # kept as generated: edits do not pile up
    marker = f"bench-edit-{run_index}"
    edited = copy.deepcopy(issue)
    edited["lead"]["body"][0]["text"] = f"Edited for {marker}. {issue['lead']['body'][0]['text']}"
    write_issue(desk.folder, edited)
    return lambda: page_has(desk, issue, marker)


def edit_template(desk: Desk, run_index: int) -> Callable[[], bool]:
    """Append a rule to the desk's shared stylesheet; return a check of a page."""
    marker = f"bench-style-{run_index}"
    with (desk.folder / STYLE).open("a", encoding="utf-8") as style:
        style.write(f"\n.{marker} {{ color: #0b4f6c; }}\n")
    return lambda: page_has(desk, desk.issues[-1], marker)


def repeat(desk: Desk, runs: int, prepare: Callable[[Desk, int], Callable[[], bool]] | None,
           *extra: str, what: str) -> list[Measured]:
    """`runs` builds, each after `prepare` (an edit); a build that misses the edit is stale."""
    results = []
    for index in range(runs):
        check = prepare(desk, index) if prepare else None
        measured = desk.build(*extra)
        if check and not check():
            print(f"WRONG: the build after {what} (run {index + 1}) did not show the change",
                  file=sys.stderr)
            measured = dataclasses.replace(measured, stale=True)
        results.append(measured)
    return results


def bench_ours(desk: Desk, runs: int, cold_runs: int,
               after_cold: Callable[[int], None] | None = None) -> dict[str, list[Measured]]:
    """The five scenarios of the docstring, in order; `after_cold` runs after each
    cold build (the peer's cold build: both then share the machine's load)."""
    cold = []
    for index in range(cold_runs):
        desk.reset()
        cold.append(desk.build())
        if index == 0:
            check_site(desk)
        print(f"  cold build {index + 1}/{cold_runs}: {cold[-1].seconds:.2f} s", file=sys.stderr)
        if after_cold:
            after_cold(index)
    noop, helps = [], []
    for _ in range(runs):
        noop += repeat(desk, 1, None, what="nothing")
        helps += [desk.help() for _ in range(HELP_RUNS)]
    results = {
        "cold": cold,
        "noop": noop,
        "help": helps,
        "one_issue": repeat(desk, runs, edit_issue, what="editing one issue"),
        "template": repeat(desk, runs, edit_template, what="editing _style.css"),
    }
    if accepts_force(desk.script):
        results["force"] = repeat(desk, cold_runs, None, "--force", what="--force")
    else:
        print("--force rebuild skipped: `newsletter build --help` does not offer --force")
    return results


# --- Pelican --------------------------------------------------------------------------

PELICANCONF = """\
# bench/site.py: Pelican's defaults for a web-only build, minus feeds and cache.
SITENAME = "Tideline"
SITEURL = ""
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
RELATIVE_URLS = True
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
CACHE_CONTENT = False
LOAD_CONTENT_CACHE = False
ARTICLE_URL = "issues/{slug}/"
ARTICLE_SAVE_AS = "issues/{slug}/index.html"
"""


def _picture_md(image: dict[str, Any]) -> str:
    src = "{static}/images/" + Path(image["src"]).name
    caption = f"\n\n*{image['caption']}*" if "caption" in image else ""
    return f"![{image['alt']}]({src}){caption}"


def _block_md(block: dict[str, Any]) -> str:
    if "text" in block:
        return str(block["text"])
    if "video" in block:
        video = block["video"]
        return (f"{_picture_md(video['thumbnail'])}\n\n"
                f"**Video:** [{video['title']}]({video['url']}) ({video['duration']})")
    related = block["related"]
    return f"**Related:** [{related['headline']}]({related['url']})"


def _card_md(item: dict[str, Any], level: str) -> str:
    if "headline" not in item:
        return str(item["text"])
    picture = f"{_picture_md(item['image'])}\n\n" if "image" in item else ""
    return f"{level} [{item['headline']}]({item['url']})\n\n{picture}{item.get('blurb', '')}"


def article_markdown(issue: dict[str, Any]) -> str:
    """The issue's text as a Pelican markdown article."""
    lead, sponsor, cta = issue["lead"], issue["sponsors"][0], issue["cta"]
    parts = [
        f"Title: {issue['subject']}\nDate: {issue['date']}\nSlug: {issue['slug']}\n"
        f"Category: Issues\nSummary: {issue['preheader']}",
        f"## [{lead['headline']}]({lead['url']})",
        "\n".join(f"- {bullet}" for bullet in lead["bullets"]),
        _picture_md(lead["image"]), issue["intro"],
        *(_block_md(block) for block in lead["body"]),
        f"## {issue['catch_up']['heading']}",
        *(_card_md(item, "###") for item in issue["catch_up"]["items"]),
        f"## {issue['deep_dives']['heading']}",
        *(_card_md(item, "###") for item in issue["deep_dives"]["items"]),
        f"## {sponsor['advertiser']}: [{sponsor['headline']}]({sponsor['url']})",
        sponsor["text"],
        f"## {cta['heading']}\n\n{cta['text']}\n\n[{cta['button']}]({cta['url']})",
    ]
    return "\n\n".join(part.strip() for part in parts) + "\n"


def write_pelican_site(folder: Path, issues: Sequence[dict[str, Any]]) -> None:
    content = folder / "content"
    (content / "issues").mkdir(parents=True)
    shutil.copytree(REPO / PICTURES, content / "images")
    (folder / "pelicanconf.py").write_text(PELICANCONF, encoding="utf-8")
    for issue in issues:
        (content / "issues" / f"{issue['date']}.md").write_text(article_markdown(issue),
                                                               encoding="utf-8")


def install_pelican(folder: Path, versions: dict[str, str]) -> Path | None:
    """Pelican in its own venv; None (after saying why) if it cannot be installed."""
    venv = folder / "venv"
    print(f"installing {' '.join(PELICAN_PACKAGES)} into a temporary venv...", file=sys.stderr)
    try:
        run([sys.executable, "-m", "venv", venv], timeout=VENV_TIMEOUT)
        run([venv / "bin" / "python", "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *PELICAN_PACKAGES], timeout=PIP_TIMEOUT)
        found = run([venv / "bin" / "python", "-c", "import importlib.metadata as m; "
                     "print(m.version('pelican'), m.version('markdown'))"],
                    timeout=HELP_TIMEOUT).stdout.split()
    except BenchError as exc:
        print(f"Pelican comparison skipped: the install failed: {exc}")
        return None
    versions["pelican"], versions["markdown (Pelican's)"] = found
    return venv / "bin" / "pelican"


class PelicanRuns:
    """Cold Pelican builds of the same issues, one at a time, between ours."""

    def __init__(self, tmp: Path, issues: Sequence[dict[str, Any]], cold_runs: int,
                 env: dict[str, str], pelican: Path) -> None:
        self.site, self.issues, self.cold_runs, self.env = tmp / "pelican-site", issues, \
            cold_runs, env
        self.pelican = pelican
        self.results: list[Measured] = []
        self.failed = ""
        write_pelican_site(self.site, issues)

    def __call__(self, index: int) -> None:
        if self.failed:
            return
        for folder in ("output", "cache", "__pycache__"):
            shutil.rmtree(self.site / folder, ignore_errors=True)
        try:
            self.results.append(run_measured([self.pelican, "content", "-o", "output", "-s",
                                              "pelicanconf.py"], cwd=self.site, env=self.env,
                                             timeout=BUILD_TIMEOUT))
        except BenchError as exc:
            self.failed = f"Pelican comparison skipped: Pelican failed: {exc}"
            print(self.failed)
            return
        print(f"  Pelican cold build {index + 1}/{self.cold_runs}: "
              f"{self.results[-1].seconds:.2f} s", file=sys.stderr)

    def measured(self) -> list[Measured] | None:
        if self.failed or not self.results:
            return None
        pages = len(list((self.site / "output" / "issues").glob("*/index.html")))
        if pages != len(self.issues):
            print(f"note: Pelican wrote {pages} issue pages for {len(self.issues)} articles")
        return self.results


# --- the report -----------------------------------------------------------------------


def _median_s(runs: Sequence[Measured]) -> float:
    return statistics.median(m.seconds for m in runs)


def _mib(kib: float) -> float:
    return round(kib / 1024, 1)


def time_figures(results: dict[str, list[Measured]], issues: int) -> list[Figure]:
    cold, noop, one = (_median_s(results[key]) for key in ("cold", "noop", "one_issue"))
    n_cold = len(results["cold"])
    figures = [
        Figure(f"cold build of {issues:,} issues (median of {n_cold})", round(cold, 3), "s",
               f"< {COLD_TARGET_S:g}" if issues == 1000 else "", cold < COLD_TARGET_S
               if issues == 1000 else None),
        Figure("cold build throughput", round(issues / cold, 1), "issues/s"),
        Figure("  cold build CPU time, all processes (median)",
               round(statistics.median(m.cpu_seconds for m in results["cold"]), 2), "s"),
        Figure(f"no-op rebuild (median of {len(results['noop'])})", round(noop, 3), "s",
               f"< {NOOP_TARGET_S:g}", noop < NOOP_TARGET_S),
        Figure(f"newsletter --help (median of {len(results['help'])}, between the no-ops)",
               round(_median_s(results["help"]), 3), "s"),
        Figure("ratio: no-op rebuild / --help", round(noop / _median_s(results["help"]), 2),
               "x", f"<= {NOOP_HELP_TARGET:g}",
               noop / _median_s(results["help"]) <= NOOP_HELP_TARGET),
        Figure("  files written by the no-op rebuild", results["noop"][-1].files_written,
               "files"),
        Figure(f"rebuild, one issue changed (median of {len(results['one_issue'])})",
               round(one, 3), "s", f"< {ONE_ISSUE_TARGET_S:g}", one < ONE_ISSUE_TARGET_S),
        Figure("  files written after one issue changed",
               results["one_issue"][-1].files_written, "files"),
        Figure(f"rebuild, _style.css changed (median of {len(results['template'])})",
               round(_median_s(results["template"]), 3), "s"),
    ]
    if "force" in results:
        figures.append(Figure(f"--force rebuild (median of {len(results['force'])})",
                              round(_median_s(results["force"]), 3), "s"))
    stale = count_stale(results)
    figures.append(Figure("rebuilds that missed an edit", stale, "runs", "0", stale == 0))
    return figures


def count_stale(results: dict[str, list[Measured]]) -> int:
    return sum(m.stale for runs in results.values() for m in runs)


def memory_figures(results: dict[str, list[Measured]], children_maxrss_kib: int
                   ) -> list[Figure]:
    runs = [m for measured in results.values() for m in measured]
    peak = max(m.tree_peak_kib for m in runs)
    worst = next(key for key, measured in results.items()
                 if any(m.tree_peak_kib == peak for m in measured))
    return [
        Figure("peak memory, cold build (sum of RSS over the process tree)",
               _mib(max(m.tree_peak_kib for m in results["cold"])), "MiB"),
        Figure(f"peak memory, any run (sum of RSS over the tree; in: {worst})", _mib(peak),
               "MiB", f"< {MEMORY_TARGET_MIB}", peak / 1024 < MEMORY_TARGET_MIB),
        Figure("largest VmHWM of one process, any run",
               _mib(max(m.largest_hwm_kib for m in runs)), "MiB"),
        Figure("ru_maxrss of the largest child (RUSAGE_CHILDREN)", _mib(children_maxrss_kib),
               "MiB"),
        Figure("  this bench's own VmHWM (floor of ru_maxrss, vfork)",
               _mib(own_high_water_kib()), "MiB"),
    ]


def pelican_figures(pelican: list[Measured], ours_cold_s: float, issues: int) -> list[Figure]:
    theirs = _median_s(pelican)
    ratio = ours_cold_s / theirs
    return [
        Figure(f"Pelican cold build of {issues:,} issues (median of {len(pelican)})",
               round(theirs, 3), "s"),
        Figure("Pelican throughput", round(issues / theirs, 1), "issues/s"),
        Figure("  Pelican CPU time, all processes (median)",
               round(statistics.median(m.cpu_seconds for m in pelican), 2), "s"),
        Figure("Pelican peak memory (sum of RSS over the tree)",
               _mib(max(m.tree_peak_kib for m in pelican)), "MiB"),
        Figure("ratio: our cold build / Pelican's (runs taken in turn)", round(ratio, 3), "x",
               f"<= {1 / PELICAN_SPEEDUP_TARGET:.3f}", ratio <= 1 / PELICAN_SPEEDUP_TARGET),
        Figure("  i.e. ours faster by", round(1 / ratio, 2), "x",
               f">= {PELICAN_SPEEDUP_TARGET:g}"),
    ]


def tool_version(script: Path) -> str:
    output = run([script, "--version"], timeout=HELP_TIMEOUT).stdout
    found = re.search(r"\d[\w.+-]*", output)
    return found.group() if found else output.strip()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1000, help="issues in the desk (1000)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of the no-op and edit rebuilds (default 3)")
    parser.add_argument("--cold-runs", type=int, default=3,
                        help="runs of the cold and --force builds, ours and Pelican's (3)")
    parser.add_argument("--seed", type=int, default=48, help="seed of the generated text")
    parser.add_argument("--desk", type=Path,
                        help="write the desk into this new folder and keep it")
    parser.add_argument("--no-pelican", action="store_true", help="skip the Pelican build")
    parser.add_argument("--source", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE: every process compiles from source")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if min(args.issues, args.runs, args.cold_runs) < 1:
        parser.error("--issues, --runs and --cold-runs must be at least 1")
    if args.desk and args.desk.exists():
        parser.error(f"--desk {args.desk} already exists")
    return args


def measure(args: argparse.Namespace, script: Path, versions: dict[str, str],
            report: dict[str, Any]) -> list[Figure]:
    """Write the desk, run our scenarios and Pelican's; BenchError if our build fails."""
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "xdg-cache")}
        if args.source:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = str(tmp / "no-pyc")
        else:  # as an installed wheel runs: compiled once, not in every process
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            compileall.compile_dir(REPO / "newsletter", quiet=1)
        report["bytecode"] = "from source (--source)" if args.source else "compiled (.pyc)"
        start = time.perf_counter()
        issues = make_issues(args.issues, args.seed)
        desk = Desk(folder=(args.desk or tmp / "desk").resolve(), issues=issues, script=script,
                    env=env)
        write_desk(desk.folder, issues)
        print(f"wrote {args.issues:,} issues into {desk.folder} in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
        peer = None
        if args.no_pelican:
            print("Pelican comparison skipped: --no-pelican")
        else:
            script_of_pelican = install_pelican(tmp, versions)
            if script_of_pelican is not None:
                peer = PelicanRuns(tmp, issues, args.cold_runs, env, script_of_pelican)
        ours = bench_ours(desk, args.runs, args.cold_runs, peer)
        children_maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        figures = time_figures(ours, args.issues) + memory_figures(ours, children_maxrss)
        report["ours"] = {key: [asdict(m) for m in runs] for key, runs in ours.items()}
        report["stale_runs"] = count_stale(ours)
        pelican = peer.measured() if peer else None
    if pelican:
        figures += pelican_figures(pelican, _median_s(ours["cold"]), args.issues)
        report["pelican"] = [asdict(m) for m in pelican]
    return figures


def load_note(report: dict[str, Any]) -> None:
    """Record the load average before the runs (after, it counts our own builds); warn when
    other work shares the cores, since the times then say little."""
    load = report["load_average"] = os.getloadavg()[0]
    if load > 0.5 * report["usable_cpus"]:
        print(f"warning: load average {load:.1f} on {report['usable_cpus']} cores before the "
              "runs: other work competes with the builds, so the times are unreliable",
              file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    script = Path(sys.executable).parent / "newsletter"
    if not script.exists():
        print(f"no newsletter console script next to {sys.executable}", file=sys.stderr)
        return 1
    versions = {"python": platform.python_version(), "newsletter": tool_version(script)}
    report: dict[str, Any] = {"issues": args.issues, "runs": args.runs,
                              "cold_runs": args.cold_runs, "cpu_count": os.cpu_count(),
                              "usable_cpus": len(os.sched_getaffinity(0))}
    load_note(report)
    try:
        figures = measure(args, script, versions, report)
    except BenchError as exc:
        print(f"our build failed: {exc}", file=sys.stderr)
        return 1

    print(f"\n{args.issues:,} issues   ({platform.platform()}; {report['cpu_count']} cores, "
          f"{report['usable_cpus']} usable; load average {report['load_average']:.1f} before; "
          f"bytecode {report['bytecode']})")
    print("Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    print()
    print(table(figures))
    if args.json:
        report["versions"] = versions
        report["figures"] = [asdict(fig) for fig in figures]
        print()
        print(json.dumps(report, indent=2))
    return 1 if report["stale_runs"] else 0


if __name__ == "__main__":
    sys.exit(main())
