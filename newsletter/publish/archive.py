"""Building the whole archive site: what changed, rendering it on every core,
and publishing the result in one swap. This is `api`'s site-building half.

A manifest beside the candidate store remembers, per issue file, the digest
of everything its pages came from (the YAML, its lock file, the settings,
the theme, the tool version) and the pictures it read. An issue whose
digest and pictures are unchanged keeps its folder from the current site;
the index, feed, sitemap and search index are made again on every build
that changes anything.

Each record also keeps a digest per output (the email with its text part,
and the web page: each of the issue's inputs and its own templates folder,
with the folders those templates name). A theme edit that reaches only the
web page's templates (the web CSS) renders only the web pages, and carries
each issue's email, text part and the pictures only the email uses over
from the current site.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._cache import store_in_cache
from .._urls import is_remote
from .._workers import start_worker
from ..desk._yaml import issue_status
from ..desk.config import SETTINGS_FILE
from ..desk.lockfile import (
    Lock,
    Measure,
    PicturePin,
    PinnedIssue,
    load_pinned,
    lock_name,
    lock_path,
    may_write_lock,
    read_lock_file,
    write_lock,
)
from ..desk.lookup import StoreOpener, StoryStore
from ..errors import BuildError, IssueFileError, NewsletterError
from ..model import (
    GMAIL_CLIP_BYTES,
    Asset,
    Settings,
    SiteEntry,
    Status,
    Story,
)
from .site import FEED_SIZE, IssueNav, StagedSite, issue_navs, site_build_id, site_pages, write_file

if TYPE_CHECKING:  # render (Jinja, markdown-it, Pillow) is imported once there is work
    from concurrent.futures import Executor

    from ..model import Issue, IssueAssets
    from ..render import Renderer

__all__ = ["POOL_FROM", "SiteReport", "build_site"]

#: From this many issues to render, a pool of processes beats one process.
POOL_FROM = 8
_log = logging.getLogger(__name__)
_MANIFEST_VERSION = 4  # 2: entries say when their issue goes live; 3: digests of digests;
# 4: a digest per output, and the files only the email uses
#: The outputs an issue's record keeps a digest of, by the templates folder each reads.
_OUTPUTS = ("email", "text", "web")
#: A template named in another (`{% import "web/_macros.html" %}`): its folder counts
#: for the output of the one that names it.
# Any mention of a templates folder counts (a subfolder, any extension, a name in a
# comment): reading too much only renders more; reading too little carries a stale
# email over.
_NAMES_A_FOLDER = re.compile(r"""\b(email|text|web|feed)/""")
# A template tag whose argument is not a quoted name (`{% include "web/" ~ kind %}`,
# a variable): the folders it reads cannot be told, so it reads them all.
_TEMPLATE_TAG = re.compile(r"""\{%-?\s*(?:include|import|extends|from)\s+(\S)""")
# pages of the site itself: a change there re-makes the index, not every issue
_SITE_ONLY = frozenset({"web/index.html", "web/404.html", "web/search.js"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteReport:
    """What a site build did."""

    out_dir: Path
    rendered: Mapping[Path, str]  # issue files rendered this time -> their slugs
    kept: int  # issue folders carried over unchanged
    skipped_drafts: int
    entries: tuple[SiteEntry, ...]  # every issue on the site, drafts included
    unchanged: bool = False  # nothing was written: the site already matched its inputs
    # issue files rendered this time whose email passes Gmail's clip -> its size in bytes
    clipped: Mapping[Path, int] = field(default_factory=dict)
    # ready issues dated after the build's `now`, kept off the site -> when they go live
    held: Mapping[Path, dt.datetime] = field(default_factory=dict)
    # what the build left out and why, each naming its file (and logged as it happened):
    # a story's picture that cannot be used, a draft that cannot be read
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rendered:
    """One issue rendered by a worker; its files are already in the staging folder."""

    source: Path
    entry: SiteEntry | None = None  # None: a draft left out
    web_html: str = ""
    feed_html: str = ""  # only for issues likely to be in the feed
    pictures: tuple[str, ...] = ()  # desk files it read
    stories: tuple[Story, ...] = ()
    pins: tuple[PicturePin, ...] = ()  # the picture sizes its lock keeps
    unsettled: bool = False  # a picture to measure again next build (timeout, offline)
    email_bytes: int = 0
    email_files: tuple[str, ...] = ()  # retina copies only the email and text part use
    error: NewsletterError | None = None
    held_until: dt.datetime | None = None  # left out: a ready issue whose time has not come
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parts:
    """An issue's folder as a worker makes it: file name -> bytes, or a file to link."""

    files: dict[str, bytes | Path]
    web_html: str
    email_files: tuple[str, ...]  # retina copies the email and text part use
    email_bytes: int = 0  # 0: the email was carried over, not rendered


@dataclass(slots=True)
class _Plan:
    kept: dict[Path, dict[str, Any]] = field(default_factory=dict)  # path -> manifest record
    render: list[Path] = field(default_factory=list)
    skipped: dict[Path, dict[str, Any]] = field(default_factory=dict)
    digests: dict[Path, str] = field(default_factory=dict)
    read: dict[Path, str] = field(default_factory=dict)  # hash of each YAML as planned
    held: dict[Path, dt.datetime] = field(default_factory=dict)  # time not come, as recorded
    site_pages: str = ""  # digest of the theme's own pages (index, 404, search)
    entries: dict[Path, SiteEntry] = field(default_factory=dict)  # of the kept records
    key: Callable[[Path], str] = str  # an issue file's name in the manifest: a _Keys
    stats: dict[Path, list[int] | None] = field(default_factory=dict)  # settled files' stats
    # issues whose email and text part are as the current site has them: only the
    # web page is rendered -> the issue's folder there and the files only the email uses
    web_only: dict[Path, tuple[Path, tuple[str, ...]]] = field(default_factory=dict)


def build_site(settings: Settings, sources: Sequence[Path], *, stores: StoreOpener,
               out_dir: Path | None = None,
               drafts: bool = False, named: Iterable[Path] = (), force: bool = False,
               refresh: bool = False, jobs: int | None = None,
               on_rendered: Callable[[Path], None] | None = None,
               on_planned: Callable[[int], None] | None = None,
               measure: Measure | None = None, now: dt.datetime | None = None) -> SiteReport:
    """Build the archive site from `sources` into `out_dir` (the desk's site/).

    Drafts are built with `drafts`, or when `named`; they get pages but stay
    out of the index, feed, sitemap and search. `force` ignores the manifest;
    `refresh` also re-resolves `story:` references from the candidate store.
    `on_planned` hears how many issues will be rendered, `on_rendered` each one.
    `stores` opens the candidate store (in each worker process too): it
    resolves `story:` references and records the stories an issue used.
    `measure` measures pictures of unknown size that no lock file pins (in each
    worker process too); None: they are not measured (offline).

    Lock files are written by a build into the desk's own site; a build into
    another folder (`--out`) writes one only where there is none yet
    (`lockfile.may_write_lock`).

    A ready issue whose time (`Issue.goes_live`) is after `now` (the clock, by
    default) is held: left out of the site, or, when drafts are built or it is
    named, given pages but no place in the index, feed, sitemap or search. The
    first build after its time publishes it, with no file changed.
    """
    out = out_dir or settings.output_dir
    named_set = frozenset(named)
    manifest_file = _manifest_path(settings, out)
    with _one_build_at_a_time(manifest_file):
        return _build_site(settings, sources, out, manifest_file, named_set, stores,
                           drafts=drafts,
                           force=force, refresh=refresh, jobs=jobs, on_rendered=on_rendered,
                           on_planned=on_planned, measure=measure,
                           now=now or dt.datetime.now(dt.UTC))


@contextlib.contextmanager
def _one_build_at_a_time(manifest_file: Path) -> Iterator[None]:
    """Two builds into one folder would take each other's staging folders away."""
    import fcntl

    manifest_file.parent.mkdir(parents=True, exist_ok=True)
    with (manifest_file.with_suffix(".lock")).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise NewsletterError("another build of this site is running",
                                  hint="wait for it to finish, then build again") from exc
        yield


def _build_site(settings: Settings, sources: Sequence[Path], out: Path, manifest_file: Path,
                named_set: frozenset[Path], stores: StoreOpener, *, drafts: bool,
                force: bool, refresh: bool, jobs: int | None,
                on_rendered: Callable[[Path], None] | None,
                on_planned: Callable[[int], None] | None,
                measure: Measure | None = None, now: dt.datetime) -> SiteReport:
    manifest = {} if force or refresh else _load_manifest(manifest_file, out)
    shared, per_output = _shared_digests(settings)
    plan = _plan(settings, sources, manifest, shared, out, drafts, named_set, now, per_output)
    # a draft that could not be read stays skipped, and said so, on every build
    still_skipped = _logged(w for r in plan.skipped.values() for w in r.get("warnings", []))
    if not plan.render and _kept_navs_hold(plan, now) and \
            site_build_id(out) == _build_id(plan, shared, drafts, named_set, plan.held):
        if _newly_settled(plan):  # remembered, so the next build need not read them
            _save_manifest(manifest_file, _carried(plan), site_build_id(out) or "")
        return SiteReport(out_dir=out, rendered={}, kept=len(plan.kept),
                          skipped_drafts=len(plan.skipped) - _held_out(plan.held, plan.skipped),
                          unchanged=True, entries=tuple(plan.entries[p] for p in plan.kept),
                          warnings=still_skipped, held=plan.held)
    from ..render import Renderer  # only now: a build with nothing to do renders nothing

    renderer = Renderer(settings)
    try:
        done, entries, navs, feeds = _build(settings, plan, out, renderer, shared, drafts,
                                            named_set, refresh, stores, jobs, on_planned,
                                            on_rendered, measure=measure, now=now)
    except OSError as exc:
        raise _write_failure(exc, out) from exc
    records = _after_commit(settings, done, plan, navs, shared, feeds, stores, out, per_output)
    _save_manifest(manifest_file, records, site_build_id(out) or "")
    held = _all_held(plan, done, now)
    return SiteReport(out_dir=out, rendered={p: r.entry.slug for p, r in done.items() if r.entry},
                      kept=len(plan.kept), held=held,
                      skipped_drafts=len(plan.skipped) + sum(not r.entry for r in done.values())
                      - _held_out(held, plan.skipped, done),
                      entries=tuple(entries.values()),
                      clipped={p: r.email_bytes for p, r in done.items()
                               if r.email_bytes > GMAIL_CLIP_BYTES},
                      warnings=(*still_skipped,
                                *_logged(w for r in done.values() for w in r.warnings)))


def _logged(warnings: Iterable[str]) -> tuple[str, ...]:
    """Warnings from the workers, logged here (a worker process has no log of its own)."""
    found = tuple(warnings)
    for warning in found:
        _log.warning("%s", warning)
    return found


def _build(settings: Settings, plan: _Plan, out: Path, renderer: Renderer, shared: str,
           drafts: bool, named_set: frozenset[Path], refresh: bool, stores: StoreOpener,
           jobs: int | None, on_planned: Callable[[int], None] | None,
           on_rendered: Callable[[Path], None] | None, *, measure: Measure | None = None,
           now: dt.datetime
           ) -> tuple[dict[Path, _Rendered], dict[Path, SiteEntry], dict[str, IssueNav],
                      dict[Path, str]]:
    """Render what changed, assemble the next site beside `out`, and swap it in."""
    with StagedSite(out, _build_id(plan, shared, drafts, named_set, plan.held)) as staged:
        worker = _Worker(settings, staged.root, refresh, drafts, named_set, stores, renderer,
                         feeds_for=_likely_in_feed(plan.render), measure=measure, now=now,
                         web_only=plan.web_only)
        if on_planned:
            on_planned(len(plan.render))
        done = {r.source: r for r in _render_all(worker, plan.render, jobs, on_rendered)}
        entries = {p: plan.entries[p] for p in plan.kept}
        entries |= {p: r.entry for p, r in done.items() if r.entry is not None}
        _refuse_shared_slugs(entries)
        navs = issue_navs(entries.values(), now)
        moved = [p for p, record in plan.kept.items()
                 if record["nav"] != _nav_signature(navs, record["entry"]["slug"])]
        for path in moved:  # a neighbour came or went: its links change
            del plan.kept[path]
        done |= {r.source: r for r in _render_all(worker, moved, jobs, on_rendered)}
        for path, result in done.items():
            if result.entry is not None:
                _place(staged, path, result, navs, renderer)
        shutil.rmtree(staged.root / ".render", ignore_errors=True)
        feeds = {p: r.feed_html for p, r in done.items() if r.feed_html}
        source_of = {entry.slug: path for path, entry in entries.items()}

        def feed_content(entry: SiteEntry) -> str:
            path = source_of[entry.slug]
            if path not in feeds:
                record = plan.kept.get(path)
                feeds[path] = _cached_feed(settings, record) if record else ""
                feeds[path] = feeds[path] or worker.feed_entry(path)
            return feeds[path]

        pages = site_pages(list(entries.values()), renderer, feed_content, now)
        for name, data in pages.items():
            staged.write(name, data)
        # unchanged folders are carried over last: links to the live site's files, or
        # one rename each from the site the last build replaced
        for record in plan.kept.values():
            staged.keep(f"issues/{record['entry']['slug']}")
        # the site depends on which issues are held, now known for the rendered ones too
        staged.build_id = _build_id(plan, shared, drafts, named_set, _all_held(plan, done, now))
        staged.commit()
    return done, entries, navs, feeds


def _likely_in_feed(paths: Sequence[Path]) -> frozenset[Path]:
    """Issues whose feed entry is worth rendering with their pages: the newest by
    file name (names are dates). Any other the feed needs is rendered on demand."""
    return frozenset(sorted(paths, key=lambda p: p.name)[-(FEED_SIZE + 5):])


# --- what changed ------------------------------------------------------------


def _plan(settings: Settings, sources: Sequence[Path], manifest: dict[str, Any], shared: str,
          out: Path, drafts: bool, named: frozenset[Path], now: dt.datetime,
          per_output: Mapping[str, str] | None = None) -> _Plan:
    plan = _Plan(site_pages=_site_pages_digest(settings), key=_Keys(settings))
    records = manifest.get("issues", {})
    pictures = _PictureStats()
    built = _folder_names(out / "issues", folders=True)
    names = functools.cache(_folder_names)  # the issue folders, listed once each
    for path in sources:
        record = records.get(plan.key(path))
        # also tells an edit made during the build
        plan.read[path], plan.stats[path] = _read_digest(path, record)
        digest = _issue_digest(shared, path, plan.read[path], names)
        plan.digests[path] = digest
        entry = _entry(record) if record and "entry" in record else None
        held = _held_until(record, entry, now)
        if held:
            plan.held[path] = held
        if not record or record.get("digest") != digest or not pictures.hold(record):
            plan.render.append(path)
            if record and entry is not None and entry.slug in built and pictures.hold(record) \
                    and not record.get("skipped") and per_output is not None and \
                    _email_holds(record, per_output, path, plan.read[path], names):
                plan.web_only[path] = (out / "issues" / entry.slug,
                                       tuple(record.get("email_files", ())))
        elif record.get("skipped"):
            if drafts or path in named or (record.get("held_until") and not held):
                plan.render.append(path)  # wanted now, or its time has come
            else:
                plan.skipped[path] = record
        elif held and not (drafts or path in named):
            plan.skipped[path] = record  # built with its pages before (named): off it goes
        elif record["entry"]["status"] == Status.DRAFT and not (drafts or path in named):
            plan.skipped[path] = record
        elif entry is not None and entry.slug in built:
            plan.kept[path] = record
            plan.entries[path] = entry
        else:
            plan.render.append(path)
    return plan


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: A file changed less than this long before it was read may change again within the
#: file system's timestamp resolution without its stat showing it (git's "racy clean").
_SETTLED_NS = 2_000_000_000


def _read_digest(path: Path, record: dict[str, Any] | None) -> tuple[str, list[int] | None]:
    """The issue file's digest, and its stat to remember when it can be trusted.

    A file whose size, times and inode are those the last build recorded is not
    read again: its digest is the recorded one (the manifest knows it already).
    A write always moves the change time, which no tool can set back.
    """
    stat = path.stat()
    now = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
    known = record.get("file") if record else None
    if known and known[:4] == now and isinstance(known[4], str):
        return known[4], now
    digest = _file_digest(path)
    settled = max(stat.st_mtime_ns, stat.st_ctime_ns) < time.time_ns() - _SETTLED_NS
    return digest, now if settled else None


def _issue_digest(shared: str, path: Path, file_digest: str | None = None,
                  names: Callable[[str], frozenset[str]] | None = None) -> str:
    """The issue file (by its `_file_digest`, if known) and its lock, with what all
    issues share: each file is read and hashed once a build, at most. `names`
    lists a folder (a lock file is looked for only where the listing has one)."""
    h = hashlib.sha256(f"{shared}\0{file_digest or _file_digest(path)}".encode())
    # strings until a lock is there: this runs for every issue of every build
    folder, name = os.path.split(os.fspath(path))
    if names is None or lock_name(name) in names(folder or "."):
        with contextlib.suppress(FileNotFoundError):
            h.update(b"\0lock\0" + lock_path(path).read_bytes())
    return h.hexdigest()


def _folder_names(folder: Path | str, *, folders: bool = False) -> frozenset[str]:
    """The names in `folder` (only its subfolders, with `folders`); none if it is
    missing. One listing instead of a stat per issue."""
    try:
        with os.scandir(folder) as found:
            return frozenset(e.name for e in found if not folders or e.is_dir())
    except OSError:
        return frozenset()


def _shared_digests(settings: Settings) -> tuple[str, dict[str, str]]:
    """What every issue's pages depend on: the tool, the settings and the theme; and
    what each output depends on (`_OUTPUTS`): the same, with only the templates of
    its folder, the folders they name, and any template outside those folders.

    All template files count (but the site's own pages): an issue may include
    any of them, and a theme edit is rare enough to rebuild every issue for.
    """
    start = (f"newsletter {__version__}\0{library_versions()}\0".encode()
             + (settings.root / SETTINGS_FILE).read_bytes())
    h = hashlib.sha256(start)
    files: list[tuple[str, str, bytes]] = []  # (top folder, label, content)
    theme = default_theme()
    for folder in (settings.templates_dir, theme):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and name not in _SITE_ONLY:
                label, data = f"\0{folder == theme}:{name}\0", path.read_bytes()
                h.update(label.encode() + data)
                files.append((name.partition("/")[0] if "/" in name else "", label, data))
    per_output = {}
    for output in _OUTPUTS:
        used = _folders_used(output, files)
        o = hashlib.sha256(start + f"\0output:{output}".encode())
        for top, label, data in files:
            if top in used or top not in (*_OUTPUTS, "feed"):
                o.update(label.encode() + data)
        per_output[output] = o.hexdigest()
    return h.hexdigest(), per_output


def _folders_used(output: str, files: Sequence[tuple[str, str, bytes]]) -> set[str]:
    """The templates folders an output reads: its own, those its templates name
    (`{% import "web/_macros.html" %}`), those named by any template outside the
    folders (any output may include one), and theirs in turn; every folder when a
    template names another by an expression."""
    every = {*_OUTPUTS, "feed"}
    used: set[str] = set()
    waiting = [output, *{top for top, _, _ in files if top not in every}]
    while waiting:
        folder = waiting.pop()
        if folder in used:
            continue
        used.add(folder)
        for top, _, data in files:
            if top != folder:
                continue
            text = data.decode("utf-8", "replace")
            if any(tag.group(1) not in "\"'" for tag in _TEMPLATE_TAG.finditer(text)):
                return every
            waiting += [m.group(1) for m in _NAMES_A_FOLDER.finditer(text)]
    return used


def _email_holds(record: dict[str, Any], per_output: Mapping[str, str], path: Path,
                 file_digest: str, names: Callable[[str], frozenset[str]]) -> bool:
    """Whether the issue's email and text part are those its record describes: the
    same inputs, and the same templates of theirs."""
    recorded = record.get("outputs")
    if not isinstance(recorded, dict) or not isinstance(record.get("email_files"), list):
        return False
    return all(recorded.get(output) == _issue_digest(per_output[output], path, file_digest,
                                                     names)
               for output in ("email", "text"))


@functools.cache
def default_theme() -> Path:
    """The default theme's folder, found as `render.env.DEFAULT_THEME` is but without
    importing render (Jinja, markdown-it, Pillow): deciding that nothing changed
    must not cost what rendering does. tests/test_site_incremental.py holds the two equal."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "templates"  # in a wheel; in a checkout, the top-level one
    return packaged if packaged.is_dir() else package.parent / "templates"


#: The libraries whose output a build keeps (markup, escaping, markdown, sanitizing,
#: MJML, inlining, dates, pictures, YAML, sentences), by distribution name: upgrading one
#: alone changes pages, so its version is part of every digest.
_RENDERING_LIBRARIES = ("babel", "css_inline", "jinja2", "markdown_it_py", "markupsafe",
                        "mjml_python", "nh3", "pillow", "ruamel.yaml", "sentencex")


@functools.cache
def library_versions() -> str:
    """`name=version` of each of `_RENDERING_LIBRARIES` as this process imports them
    ("?" when absent), from the names of the `*.dist-info` folders on `sys.path`, the
    first found as the import system finds it. `importlib.metadata` reads the same
    folders, but importing it costs a tenth of a build with nothing to do."""
    wanted = {_distribution_key(name): name for name in _RENDERING_LIBRARIES}
    found: dict[str, str] = {}
    for entry in sys.path:
        with contextlib.suppress(OSError):
            # names only: a Path for each of the hundreds of entries would cost more
            for folder in os.listdir(entry or "."):  # noqa: PTH208
                if folder.endswith(".dist-info"):
                    dist, _, version = folder.removesuffix(".dist-info").partition("-")
                    key = _distribution_key(dist)
                    if key in wanted:
                        found.setdefault(key, version)
    return " ".join(f"{wanted[key]}={found.get(key, '?')}" for key in sorted(wanted))


def _distribution_key(name: str) -> str:
    """A distribution's name as packaging compares them (PEP 503: `-`, `_`, `.` alike)."""
    return re.sub(r"[-_.]+", "_", name).lower()


_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_NOT_ALLOWED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def _write_failure(exc: OSError, out: Path) -> NewsletterError:
    """What to tell the editor when writing the new site failed, by the reason."""
    kept = "the previous site was left as it was"
    if exc.errno in _DISK_FULL:
        hint = f"free some disk space and build again; {kept}"
    elif exc.errno in _NOT_ALLOWED:
        hint = f"fix the permissions of {out.parent} (or build elsewhere with --out); {kept}"
    elif exc.errno == errno.ENOENT:
        hint = (f"a file the build was using went missing (did another program remove it?): "
                f"build again; {kept}")
    else:
        hint = f"build again; if it fails the same way, check {out.parent}; {kept}"
    where = f" ({exc.filename})" if exc.filename else ""
    return NewsletterError(f"could not write the site next to {out}: {exc.strerror or exc}{where}",
                           hint=hint)


def _site_pages_digest(settings: Settings) -> str:
    """The theme's pages around the issues: a change there re-makes the index."""
    h = hashlib.sha256(f"{library_versions()}\0".encode())
    theme = default_theme()
    for folder in (settings.templates_dir, theme):
        for name in sorted(_SITE_ONLY):
            with contextlib.suppress(OSError):
                h.update(f"{folder == theme}:{name}\0".encode()
                         + (folder / name).read_bytes())
    return h.hexdigest()


class _PictureStats:
    """Whether the pictures an issue read are unchanged. Issues share pictures (a
    logo, a sponsor's banner): each file is asked about once per build."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int] | None] = {}

    def hold(self, record: dict[str, Any]) -> bool:
        """Every picture the issue read is still the same size and age."""
        return all(self._stat(name) == (size, mtime)
                   for name, size, mtime in record.get("pictures", []))

    def _stat(self, name: str) -> tuple[int, int] | None:
        if name not in self._seen:
            try:
                stat = Path(name).stat()
                self._seen[name] = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                self._seen[name] = None
        return self._seen[name]


def _held_until(record: dict[str, Any] | None, entry: SiteEntry | None, now: dt.datetime
                ) -> dt.datetime | None:
    """When a recorded issue (`entry`: its page's, if it has one) goes live, if that
    is after `now`."""
    if not record:
        return None
    written = record.get("held_until")
    if entry is not None:
        return entry.goes_live if entry.held(now) else None
    when = dt.datetime.fromisoformat(written) if isinstance(written, str) else None
    return when if when and when > now else None


def _held_out(held: Mapping[Path, dt.datetime], skipped: Mapping[Path, Any],
              done: Mapping[Path, _Rendered] | None = None) -> int:
    """Held issues left out without pages: reported as held, not as skipped drafts."""
    return sum(path in held for path in skipped) + \
        sum(r.held_until is not None for r in (done or {}).values())


def _all_held(plan: _Plan, done: Mapping[Path, _Rendered], now: dt.datetime
              ) -> dict[Path, dt.datetime]:
    """Every ready issue whose time has not come: as recorded, and as just read."""
    held = {path: when for path, when in plan.held.items() if path not in done}
    for path, result in done.items():
        if result.held_until:
            held[path] = result.held_until
        elif result.entry and result.entry.goes_live and result.entry.held(now):
            held[path] = result.entry.goes_live
    return dict(sorted(held.items()))


def _kept_navs_hold(plan: _Plan, now: dt.datetime) -> bool:
    navs = issue_navs((plan.entries[p] for p in plan.kept), now)
    return all(record["nav"] == _nav_signature(navs, plan.entries[path].slug)
               for path, record in plan.kept.items())


def _build_id(plan: _Plan, shared: str, drafts: bool, named: frozenset[Path],
              held: Mapping[Path, dt.datetime]) -> str:
    """Names the inputs of a whole site: the same id means the same site. The
    clock is one: an issue held until later is left out until then."""
    h = hashlib.sha256(f"{shared}\0{drafts}\0{plan.site_pages}".encode())
    for digest in sorted(plan.digests.values()):
        h.update(f"\0{digest}".encode())
    for path in sorted(named):  # a named draft gets pages the plain build leaves out
        h.update(f"\0named:{plan.digests.get(path)}".encode())
    for digest in sorted(str(plan.digests.get(path)) for path in held):
        h.update(f"\0held:{digest}".encode())
    return h.hexdigest()[:32]


# --- rendering ---------------------------------------------------------------


class _Worker:
    """Renders one issue into the staging folder; one per process."""

    def __init__(self, settings: Settings, staging: Path, refresh: bool, drafts: bool,
                 named: frozenset[Path], stores: StoreOpener, renderer: Renderer | None = None,
                 feeds_for: frozenset[Path] = frozenset(), measure: Measure | None = None,
                 now: dt.datetime | None = None,
                 web_only: Mapping[Path, tuple[Path, tuple[str, ...]]] | None = None) -> None:
        self.settings = settings
        self.web_only = web_only or {}
        self.stores = stores
        self.measure = measure
        self.now = now or dt.datetime.now(dt.UTC)  # an issue whose time is later is held
        self.feeds_for = feeds_for
        self.staging = staging
        self.refresh = refresh
        self.drafts = drafts
        self.named = named
        if renderer is None:  # a worker process's own (see __setstate__)
            from ..render import Renderer

            renderer = Renderer(settings)
        self.renderer = renderer
        self._store: StoryStore | None = None
        self._opened = False

    def __getstate__(self) -> dict[str, Any]:
        # a worker process makes its own renderer and store connection
        return {k: v for k, v in vars(self).items()
                if k not in ("renderer", "_store", "_opened")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __call__(self, path: Path) -> _Rendered:
        try:
            return self._render(path)
        except NewsletterError as exc:
            return _Rendered(source=path, error=exc)

    def _render(self, path: Path) -> _Rendered:
        include_draft = self.drafts or path in self.named
        try:
            pinned = self._pinned(path)
        except IssueFileError as exc:
            if not include_draft and issue_status(path) == Status.DRAFT:
                return _Rendered(source=path)  # a half-written draft never stops the build
            if not include_draft and not issue_status(path) and not _says_ready(path):
                return _Rendered(source=path, warnings=(_unreadable_draft(path, exc),))
            raise
        issue = pinned.issue
        if issue.status is Status.DRAFT and not include_draft:
            return _Rendered(source=path)
        if issue.status is Status.READY and issue.goes_live > self.now and not include_draft:
            return _Rendered(source=path, held_until=issue.goes_live)
        from ..render import issue_url
        from ..render.assets import resolve_assets

        page_url = issue_url(self.settings, issue)
        assets = resolve_assets(issue, self.settings.root, page_url, self.settings.logo,
                                pinned.sizes)
        folder = self.staging / ".render" / hashlib.sha256(str(path).encode()).hexdigest()[:16]
        parts = self._parts(issue, assets, self.web_only.get(path))
        for name, data in parts.files.items():
            write_file(folder / name, data)
        feed = self.renderer.render_feed_entry(issue, assets) if path in self.feeds_for else ""
        return _Rendered(
            source=path, entry=_site_entry(issue, assets.images), web_html=parts.web_html,
            feed_html=feed, pictures=self._pictures(issue), stories=pinned.stories,
            pins=pinned.pins, unsettled=pinned.unsettled, email_bytes=parts.email_bytes,
            email_files=parts.email_files, warnings=tuple(str(left) for left in pinned.left_out))

    def _parts(self, issue: Issue, assets: IssueAssets,
               carried: tuple[Path, tuple[str, ...]] | None) -> _Parts:
        """The issue's files: all rendered, or (`carried`: the current site's folder and
        the files only the email uses, when the email and text part are unchanged) the
        web page rendered and the rest taken from the current site."""
        if carried is not None and _all_there(carried[0], _EMAIL_PARTS + carried[1]):
            web = self.renderer.render(issue, assets, outputs=("web",))
            files: dict[str, bytes | Path] = dict(web.assets)
            for name in _EMAIL_PARTS + carried[1]:  # as the current site has them
                files.setdefault(name, carried[0] / name)
            return _Parts(files=files, web_html=web.web_html, email_files=carried[1])
        # apart, to know the pictures the email uses (a later web-only build needs them)
        email = self.renderer.render(issue, assets, outputs=("email", "text"))
        web = self.renderer.render(issue, assets, outputs=("web",))
        pictures = dict(assets.files)
        return _Parts(
            files={"email.html": email.email_html.encode(), "email.txt": email.text.encode(),
                   **dict(email.assets), **dict(web.assets)},
            web_html=web.web_html, email_bytes=email.email_bytes,
            email_files=tuple(name for name, _ in email.assets if name not in pictures))

    def _pinned(self, path: Path) -> PinnedIssue:
        """The issue with its stories and pictures: from its lock (unless refreshing),
        then the store and the network."""
        lock = Lock() if self.refresh else read_lock_file(lock_path(path))
        return load_pinned(path, self.settings, self.store(), lock=lock, measure=self.measure)

    def feed_entry(self, path: Path) -> str:
        """The feed entry alone, for an issue the feed needs that was not rendered."""
        from ..render import issue_url
        from ..render.assets import resolve_assets

        pinned = self._pinned(path)
        issue = pinned.issue
        assets = resolve_assets(issue, self.settings.root, issue_url(self.settings, issue),
                                self.settings.logo, pinned.sizes)
        return self.renderer.render_feed_entry(issue, assets)

    def store(self) -> StoryStore | None:
        """The candidate store, opened once per process (None: the desk has none)."""
        if not self._opened:
            self._store, self._opened = self.stores(), True
        return self._store

    def _pictures(self, issue: Issue) -> tuple[str, ...]:
        sources = [i.src for i in issue.images()]
        if self.settings.logo:
            sources.append(self.settings.logo.src)
        return tuple(sorted({str(self.settings.root / PurePosixPath(src))
                             for src in sources if not is_remote(src)}))


_EMAIL_PARTS = ("email.html", "email.txt")


def _all_there(folder: Path, names: Iterable[str]) -> bool:
    """Whether the current site's folder still has every file to carry over."""
    return all((folder / name).is_file() for name in names)


def _says_ready(path: Path) -> bool:
    """Whether a file that does not parse says `status: ready` on a line of its own."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # unreadable: never skipped quietly
    return bool(_READY_LINE.search(text))


_READY_LINE = re.compile(r"^status[ \t]*:[ \t]*([\"']?)ready\1[ \t]*(#.*)?$", re.MULTILINE)


def _unreadable_draft(path: Path, error: IssueFileError) -> str:
    """A file whose YAML cannot be read has no status to trust; without a
    `status: ready` line it is a draft (the default), skipped so that one
    half-typed draft never stops the ready issues from being published."""
    first = error.problems[0]
    more = len(error.problems) - 1
    return (f"{first.location}: skipped: this draft cannot be read ({first.message}"
            f"{f'; and {more} more' if more else ''}); the other issues were built\n"
            f'  hint: fix it, or see every problem with "newsletter check {path}"')


def _site_entry(issue: Issue, images: Any) -> SiteEntry:
    lead = issue.lead
    headlines = [issue.subject, issue.preheader, issue.topic, lead.headline, *lead.bullets]
    if issue.catch_up:
        headlines += [getattr(item, "headline", "") for item in issue.catch_up.items]
    if issue.deep_dives:
        headlines += [card.headline for card in issue.deep_dives.items]
    image: Asset | None = images.get(lead.image.src) if lead.image else None
    return SiteEntry(
        slug=issue.slug, number=issue.number, date=issue.date, updated=issue.updated,
        subject=issue.subject, preheader=issue.preheader, lang=issue.lang,
        status=issue.status, image=image, image_alt=lead.image.alt if lead.image else "",
        search_text=" ".join(h for h in headlines if h), goes_live=issue.goes_live)


_WORKER: _Worker | None = None


def _start_worker(worker: _Worker, parent: int) -> None:
    global _WORKER
    _WORKER = worker
    # Ctrl-C is the parent's to handle (it stops the pool and keeps the old site);
    # a killed parent takes the workers with it
    start_worker(parent)


def _work(path: Path) -> _Rendered:
    assert _WORKER is not None
    return _WORKER(path)


def _render_all(worker: _Worker, paths: Sequence[Path], jobs: int | None,
                on_rendered: Callable[[Path], None] | None) -> list[_Rendered]:
    """Render every path, in a pool of processes when there are enough of them.

    Every failure is collected, so the editor sees all broken issues at once.
    """
    results: list[_Rendered] = []
    failures: list[NewsletterError] = []
    for result in _results(worker, paths, jobs):
        if result.error is not None:
            failures.append(result.error)
        results.append(result)
        if on_rendered:
            on_rendered(result.source)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise BuildError(failures)
    return results


def _results(worker: _Worker, paths: Sequence[Path], jobs: int | None) -> Iterator[_Rendered]:
    workers = min(jobs or os.cpu_count() or 1, len(paths))
    if workers < 2 or len(paths) < POOL_FROM:
        yield from map(worker, paths)
        return
    with _pool(worker, workers) as pool:
        yield from pool.map(_work, paths, chunksize=max(1, len(paths) // (workers * 8)))


@contextlib.contextmanager
def _pool(worker: _Worker, workers: int) -> Iterator[Executor]:
    import multiprocessing  # with the process pool: 20 ms a build with nothing to do spares
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the imported modules and compiled templates at no cost; it is
    # only safe while this process runs no other thread
    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    if method == "fork":
        worker.renderer.warm_up()  # compiled once here, not once per worker
    # the workers are started by this thread (in pool.map), which outlives the pool
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker,
                               initargs=(worker, os.getpid()),
                               mp_context=multiprocessing.get_context(method))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- placing and remembering -------------------------------------------------


def _place(staged: StagedSite, path: Path, result: _Rendered, navs: dict[str, IssueNav],
           renderer: Renderer) -> None:
    from ..render import NAV_MARKER, issue_url

    assert result.entry is not None
    folder = staged.root / ".render" / hashlib.sha256(str(path).encode()).hexdigest()[:16]
    target = staged.root / "issues" / result.entry.slug
    target.parent.mkdir(parents=True, exist_ok=True)
    folder.rename(target)
    nav = navs.get(result.entry.slug, IssueNav(None, None))
    links = renderer.render_page("web/_issue_nav.html", {
        "previous": nav.previous, "next": nav.next, "site_root": "../../",
    }, issue_url(renderer.settings, _stub(result.entry)))
    write_file(target / "index.html", result.web_html.replace(NAV_MARKER, links, 1).encode())


def _stub(entry: SiteEntry) -> Any:
    return type("Slugged", (), {"slug": entry.slug})()


def _nav_signature(navs: dict[str, IssueNav], slug: str) -> str:
    nav = navs.get(slug)
    return nav.signature if nav else ""


def _refuse_shared_slugs(entries: dict[Path, SiteEntry]) -> None:
    seen: dict[str, Path] = {}
    for path in sorted(entries):
        slug = entries[path].slug
        if slug in seen:
            raise NewsletterError(f"{seen[slug]} and {path} both build issues/{slug}/",
                                  hint="give one of them its own slug: (or rename the file)")
        seen[slug] = path


def _after_commit(settings: Settings, done: dict[Path, _Rendered], plan: _Plan,
                  navs: dict[str, IssueNav], shared: str, feeds: dict[Path, str],
                  stores: StoreOpener, out: Path | None = None,
                  per_output: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Pin stories and pictures, mark the stories used, and describe the site for
    the next build."""
    key = plan.key
    records = _carried(plan)
    for result in done.values():
        if result.entry and (result.stories or result.pins) and \
                may_write_lock(result.source, settings, out):
            write_lock(lock_path(result.source), result.stories, result.pins)
    used = [r for r in done.values() if r.entry and r.stories]
    store = stores() if used else None
    if store is not None:
        try:
            for result in used:
                assert result.entry is not None
                store.mark_used((s.id for s in result.stories), issue_number=result.entry.number,
                                issue_date=result.entry.date)
        finally:
            store.close()
    for path, result in done.items():
        now_read, stats = _read_digest(path, None)
        digest = _issue_digest(shared, path, now_read)  # the lock may have just been written
        outputs = {output: _issue_digest(shared_output, path, now_read)
                   for output, shared_output in (per_output or {}).items()}
        if now_read != plan.read.get(path):
            digest = "saved-during-the-build"  # what was rendered may be older: next time
            outputs = {}
        elif result.unsettled:
            digest = "pictures-to-measure"  # a picture timed out (or offline): next time
            outputs = {}
        if result.entry is None:
            records[key(path)] = {"digest": digest, "skipped": True,
                                  "warnings": list(result.warnings),
                                  "file": [*stats, now_read] if stats else None}
            if result.held_until:  # the first build after this time publishes it
                records[key(path)]["held_until"] = result.held_until.isoformat()
            continue
        records[key(path)] = {
            "digest": digest, "entry": _entry_json(result.entry),
            "nav": _nav_signature(navs, result.entry.slug),
            "pictures": [_picture_stat(name) for name in result.pictures],
            "file": [*stats, now_read] if stats else None,
            "outputs": outputs, "email_files": list(result.email_files),
        }
    for path, html in feeds.items():  # kept for the next build's feed
        cached = _feed_cache(settings, records[key(path)]["digest"])
        cached.parent.mkdir(parents=True, exist_ok=True)
        if html and not cached.is_file():
            store_in_cache(cached, html.encode())
    return records


class _Keys:
    """Issue files as the manifest names them: the same from any working folder.

    Made once a build: each folder is resolved once, and a file only when it is
    itself a link (resolving every path of 1,000 issues was a fifth of a no-op).
    """

    def __init__(self, settings: Settings) -> None:
        self._folders: dict[str, str] = {}
        self._root = f"{settings.root.resolve()}{os.sep}"
        self._keys: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        if path not in self._keys:
            self._keys[path] = self._key(path)
        return self._keys[path]

    def _key(self, path: Path) -> str:
        # strings, not Path objects: this runs for every issue of every build
        folder, name = os.path.split(os.fspath(path))
        if folder not in self._folders:
            self._folders[folder] = os.path.realpath(folder or ".")
        resolved = f"{self._folders[folder]}{os.sep}{name}"
        if os.path.islink(resolved):  # noqa: PTH114 - strings here: see above
            resolved = os.path.realpath(resolved)
        return resolved.removeprefix(self._root) if resolved.startswith(self._root) \
            else resolved


def _carried(plan: _Plan) -> dict[str, Any]:
    """The records of the issues kept and skipped, as the manifest will hold them."""
    return {plan.key(p): _with_file(r, plan, p)
            for p, r in (*plan.kept.items(), *plan.skipped.items())}


def _newly_settled(plan: _Plan) -> bool:
    """Whether an issue file's stat can be trusted now that the manifest lacks."""
    return any(plan.stats.get(p) and (r.get("file") or [])[:4] != plan.stats[p]
               for p, r in (*plan.kept.items(), *plan.skipped.items()))


def _with_file(record: dict[str, Any], plan: _Plan, path: Path) -> dict[str, Any]:
    """A record carried over, with the stat of its file once that has settled."""
    stats = plan.stats.get(path)
    return {**record, "file": [*stats, plan.read[path]] if stats else None}


def _picture_stat(name: str) -> list[Any]:
    stat = Path(name).stat()
    return [name, stat.st_size, stat.st_mtime_ns]


def _cached_feed(settings: Settings, record: dict[str, Any]) -> str:
    """A kept issue's feed entry from an earlier build; empty if it was never made."""
    try:
        return _feed_cache(settings, record["digest"]).read_text(encoding="utf-8")
    except OSError:
        return ""


def _feed_cache(settings: Settings, digest: str) -> Path:
    return settings.root / ".newsletter" / "build" / "feed" / f"{digest}.html"


def _manifest_path(settings: Settings, out: Path) -> Path:
    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:12]
    return settings.root / ".newsletter" / "build" / f"site-{key}.json"


def _load_manifest(path: Path, out: Path) -> dict[str, Any]:
    """The last build's manifest, if it describes the site that is there now."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("version") != _MANIFEST_VERSION:
        return {}
    if manifest.get("site") != site_build_id(out):
        return {}  # the site was built by another run, or changed by hand
    return manifest


def _save_manifest(path: Path, records: dict[str, Any], build_id: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"version": _MANIFEST_VERSION, "site": build_id, "issues": records}
    store_in_cache(path, json.dumps(document, ensure_ascii=False, sort_keys=True).encode())
    live = {r["digest"] for r in records.values()}
    feeds = path.parent / "feed"
    for stale in feeds.glob("*.html") if feeds.is_dir() else ():
        if stale.stem not in live:
            stale.unlink(missing_ok=True)


def _entry_json(entry: SiteEntry) -> dict[str, Any]:
    data = asdict(entry)
    for key in ("date", "updated", "goes_live"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def _entry(record: dict[str, Any]) -> SiteEntry:
    data = dict(record["entry"])
    image = data.pop("image", None)
    live = data.get("goes_live")
    return SiteEntry(**{**data, "date": dt.date.fromisoformat(data["date"]),
                        "updated": dt.date.fromisoformat(data["updated"]),
                        "status": Status(data["status"]),
                        "goes_live": dt.datetime.fromisoformat(live) if live else None,
                        "image": Asset(**image) if image else None})
