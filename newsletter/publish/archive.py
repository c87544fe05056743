"""Building the whole archive site: what changed, rendering it on every core,
and publishing the result in one swap. This is `api`'s site-building half.

A manifest beside the candidate store remembers, per issue file, the digest
of everything its pages came from (the YAML, its lock file, the settings,
the theme, the tool version) and the pictures it read. An issue whose
digest and pictures are unchanged keeps its folder from the current site;
the index, feed, sitemap and search index are made again on every build
that changes anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from .. import __version__
from .._cache import store_in_cache
from .._workers import start_worker
from ..desk.config import SETTINGS_FILE
from ..desk.editorial import issue_status
from ..desk.lockfile import (
    Lock,
    Measure,
    PicturePin,
    PinnedIssue,
    load_pinned,
    lock_path,
    may_write_lock,
    read_lock_file,
    write_lock,
)
from ..desk.lookup import StoreOpener, StoryStore
from ..errors import BuildError, IssueFileError, NewsletterError
from ..model import GMAIL_CLIP_BYTES, Asset, Issue, Settings, SiteEntry, Status, Story
from ..render import DEFAULT_THEME, NAV_MARKER, Renderer, issue_url
from ..render.assets import resolve_assets
from ..sanitize import is_remote
from .site import FEED_SIZE, IssueNav, StagedSite, issue_navs, site_build_id, site_pages, write_file

__all__ = ["POOL_FROM", "SiteReport", "build_site"]

#: From this many issues to render, a pool of processes beats one process.
POOL_FROM = 8
_log = logging.getLogger(__name__)
_MANIFEST_VERSION = 2  # 2: entries say when their issue goes live
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
    error: NewsletterError | None = None
    held_until: dt.datetime | None = None  # left out: a ready issue whose time has not come
    warnings: tuple[str, ...] = ()


@dataclass(slots=True)
class _Plan:
    kept: dict[Path, dict[str, Any]] = field(default_factory=dict)  # path -> manifest record
    render: list[Path] = field(default_factory=list)
    skipped: dict[Path, dict[str, Any]] = field(default_factory=dict)
    digests: dict[Path, str] = field(default_factory=dict)
    read: dict[Path, str] = field(default_factory=dict)  # hash of each YAML as planned
    held: dict[Path, dt.datetime] = field(default_factory=dict)  # time not come, as recorded
    site_pages: str = ""  # digest of the theme's own pages (index, 404, search)


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
    shared = _shared_digest(settings)
    plan = _plan(settings, sources, manifest, shared, out, drafts, named_set, now)
    # a draft that could not be read stays skipped, and said so, on every build
    still_skipped = _logged(w for r in plan.skipped.values() for w in r.get("warnings", []))
    if not plan.render and _kept_navs_hold(plan.kept, now) and \
            site_build_id(out) == _build_id(plan, shared, drafts, named_set, plan.held):
        return SiteReport(out_dir=out, rendered={}, kept=len(plan.kept),
                          skipped_drafts=len(plan.skipped) - _held_out(plan.held, plan.skipped),
                          unchanged=True, entries=tuple(_entry(r) for r in plan.kept.values()),
                          warnings=still_skipped, held=plan.held)
    renderer = Renderer(settings)
    try:
        done, entries, navs, feeds = _build(settings, plan, out, renderer, shared, drafts,
                                            named_set, refresh, stores, jobs, on_planned,
                                            on_rendered, measure=measure, now=now)
    except OSError as exc:
        raise NewsletterError(
            f"could not write the site next to {out}: {exc.strerror or exc}",
            hint="free some disk space (or fix the folder's permissions) and build again; "
                 "the previous site was left as it was") from exc
    records = _after_commit(settings, done, plan, navs, shared, feeds, stores, out)
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
                         feeds_for=_likely_in_feed(plan.render), measure=measure, now=now)
        if on_planned:
            on_planned(len(plan.render))
        done = {r.source: r for r in _render_all(worker, plan.render, jobs, on_rendered)}
        entries = {p: _entry(record) for p, record in plan.kept.items()}
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
          out: Path, drafts: bool, named: frozenset[Path], now: dt.datetime) -> _Plan:
    plan = _Plan(site_pages=_site_pages_digest(settings))
    records = manifest.get("issues", {})
    for path in sources:
        digest = _issue_digest(shared, path)
        plan.digests[path] = digest
        plan.read[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        record = records.get(_key(settings, path))
        held = _held_until(record, now)
        if held:
            plan.held[path] = held
        if not record or record.get("digest") != digest or not _pictures_hold(record):
            plan.render.append(path)
        elif record.get("skipped"):
            if drafts or path in named or (record.get("held_until") and not held):
                plan.render.append(path)  # wanted now, or its time has come
            else:
                plan.skipped[path] = record
        elif held and not (drafts or path in named):
            plan.skipped[path] = record  # built with its pages before (named): off it goes
        elif record["entry"]["status"] == Status.DRAFT and not (drafts or path in named):
            plan.skipped[path] = record
        elif (out / "issues" / record["entry"]["slug"]).is_dir():
            plan.kept[path] = record
        else:
            plan.render.append(path)
    return plan


def _issue_digest(shared: str, path: Path) -> str:
    h = hashlib.sha256(shared.encode())
    h.update(path.read_bytes())
    with contextlib.suppress(FileNotFoundError):
        h.update(b"\0lock\0" + lock_path(path).read_bytes())
    return h.hexdigest()


def _shared_digest(settings: Settings) -> str:
    """What every issue's pages depend on: the tool, the settings and the theme.

    All template files count (but the site's own pages): an issue may include
    any of them, and a theme edit is rare enough to rebuild every issue for.
    """
    h = hashlib.sha256(f"newsletter {__version__}\0".encode())
    h.update((settings.root / SETTINGS_FILE).read_bytes())
    for folder in (settings.templates_dir, DEFAULT_THEME):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and name not in _SITE_ONLY:
                h.update(f"\0{folder == DEFAULT_THEME}:{name}\0".encode() + path.read_bytes())
    return h.hexdigest()


def _site_pages_digest(settings: Settings) -> str:
    """The theme's pages around the issues: a change there re-makes the index."""
    h = hashlib.sha256()
    for folder in (settings.templates_dir, DEFAULT_THEME):
        for name in sorted(_SITE_ONLY):
            with contextlib.suppress(OSError):
                h.update(f"{folder == DEFAULT_THEME}:{name}\0".encode()
                         + (folder / name).read_bytes())
    return h.hexdigest()


def _pictures_hold(record: dict[str, Any]) -> bool:
    """Every picture the issue read is still the same size and age."""
    for name, size, mtime in record.get("pictures", []):
        try:
            stat = Path(name).stat()
        except OSError:
            return False
        if stat.st_size != size or stat.st_mtime_ns != mtime:
            return False
    return True


def _held_until(record: dict[str, Any] | None, now: dt.datetime) -> dt.datetime | None:
    """When a recorded issue goes live, if that is after `now`."""
    if not record:
        return None
    entry = _entry(record) if "entry" in record else None
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


def _kept_navs_hold(kept: dict[Path, dict[str, Any]], now: dt.datetime) -> bool:
    navs = issue_navs((_entry(r) for r in kept.values()), now)
    return all(r["nav"] == _nav_signature(navs, r["entry"]["slug"]) for r in kept.values())


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
                 now: dt.datetime | None = None) -> None:
        self.settings = settings
        self.stores = stores
        self.measure = measure
        self.now = now or dt.datetime.now(dt.UTC)  # an issue whose time is later is held
        self.feeds_for = feeds_for
        self.staging = staging
        self.refresh = refresh
        self.drafts = drafts
        self.named = named
        self.renderer = renderer or Renderer(settings)
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
        page_url = issue_url(self.settings, issue)
        assets = resolve_assets(issue, self.settings.root, page_url, self.settings.logo,
                                pinned.sizes)
        rendered = self.renderer.render(issue, assets)
        folder = self.staging / ".render" / hashlib.sha256(str(path).encode()).hexdigest()[:16]
        for name, data in (("email.html", rendered.email_html.encode()),
                           ("email.txt", rendered.text.encode()), *rendered.assets):
            write_file(folder / name, data)
        feed = self.renderer.render_feed_entry(issue, assets) if path in self.feeds_for else ""
        return _Rendered(
            source=path, entry=_site_entry(issue, assets.images), web_html=rendered.web_html,
            feed_html=feed, pictures=self._pictures(issue), stories=pinned.stories,
            pins=pinned.pins, unsettled=pinned.unsettled, email_bytes=rendered.email_bytes,
            warnings=tuple(str(left) for left in pinned.left_out))

    def _pinned(self, path: Path) -> PinnedIssue:
        """The issue with its stories and pictures: from its lock (unless refreshing),
        then the store and the network."""
        lock = Lock() if self.refresh else read_lock_file(lock_path(path))
        return load_pinned(path, self.settings, self.store(), lock=lock, measure=self.measure)

    def feed_entry(self, path: Path) -> str:
        """The feed entry alone, for an issue the feed needs that was not rendered."""
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
                  stores: StoreOpener, out: Path | None = None) -> dict[str, Any]:
    """Pin stories and pictures, mark the stories used, and describe the site for
    the next build."""
    records = {_key(settings, p): r for p, r in plan.kept.items()}
    records |= {_key(settings, p): r for p, r in plan.skipped.items()}
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
        digest = _issue_digest(shared, path)  # the lock may have just been written
        if hashlib.sha256(path.read_bytes()).hexdigest() != plan.read.get(path):
            digest = "saved-during-the-build"  # what was rendered may be older: next time
        elif result.unsettled:
            digest = "pictures-to-measure"  # a picture timed out (or offline): next time
        if result.entry is None:
            records[_key(settings, path)] = {"digest": digest, "skipped": True,
                                             "warnings": list(result.warnings)}
            if result.held_until:  # the first build after this time publishes it
                records[_key(settings, path)]["held_until"] = result.held_until.isoformat()
            continue
        records[_key(settings, path)] = {
            "digest": digest, "entry": _entry_json(result.entry),
            "nav": _nav_signature(navs, result.entry.slug),
            "pictures": [_picture_stat(name) for name in result.pictures],
        }
    for path, html in feeds.items():  # kept for the next build's feed
        cached = _feed_cache(settings, records[_key(settings, path)]["digest"])
        cached.parent.mkdir(parents=True, exist_ok=True)
        if html and not cached.is_file():
            store_in_cache(cached, html.encode())
    return records


def _key(settings: Settings, path: Path) -> str:
    """An issue file as the manifest names it: the same from any working folder."""
    try:
        return path.resolve().relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


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
    image = Asset(**data.pop("image")) if data.get("image") else None
    data.pop("image", None)
    live = data.get("goes_live")
    return replace(SiteEntry(**{**data, "date": dt.date.fromisoformat(data["date"]),
                                "updated": dt.date.fromisoformat(data["updated"]),
                                "status": Status(data["status"]),
                                "goes_live": dt.datetime.fromisoformat(live) if live else None}),
                   image=image)
