"""The one place that wires the stages together; the CLI is a shell over this."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .desk.config import SETTINGS_FILE, find_settings, load_settings, relative_to_cwd
from .desk.editorial import issue_status, load_issue
from .desk.lockfile import lock_path, read_lock, story_to_json, write_lock
from .desk.lookup import NO_STORE, PinnedLookup, StoryLookup, store_path
from .errors import NewsletterError
from .model import (
    FeedSpec,
    FetchOutcome,
    FetchResult,
    Finding,
    Issue,
    RenderedIssue,
    Settings,
    Severity,
    SourceLocation,
    Status,
    Story,
)
from .publish._folders import replace_folder
from .render.assets import resolve_assets

if TYPE_CHECKING:
    from email.message import EmailMessage

    from .check.links import LinkChecker
    from .collect.store import SaveCounts, Store
    from .preview.server import PreviewServer
    from .publish.archive import SiteReport
from .render import NAV_MARKER, Renderer, issue_url

__all__ = [
    "CHECK_JSON_VERSION",
    "BuiltIssue",
    "CheckReport",
    "CheckRun",
    "FeedRow",
    "FetchReport",
    "PinnedLookup",
    "SiteReport",
    "StoreOpener",
    "add_page",
    "build_issue",
    "build_issues",
    "build_site",
    "candidates",
    "check_issue",
    "check_issues",
    "email_message",
    "enable_feed",
    "export_eml",
    "export_feeds",
    "feed_rows",
    "fetch",
    "find_issue_files",
    "import_feeds",
    "init_desk",
    "issue_status",
    "issues_to_check",
    "load_desk",
    "new_issue",
    "open_store",
    "pick",
    "preview_server",
    "prune",
    "relative_to_cwd",
    "render_issue",
    "render_with_stories",
    "send_test",
    "store_path",
    "story_to_json",
]


_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltIssue:
    """What `build_issue` did: the issue, its outputs, and the files written.

    A draft left out of the build has no outputs and no folder (and, when
    it was passed over unread, no issue either: a half-written draft does not
    stop the build of the ready issues).
    """

    source: Path
    issue: Issue | None
    rendered: RenderedIssue | None
    folder: Path | None
    files: tuple[Path, ...] = ()

    @property
    def skipped(self) -> bool:
        return self.rendered is None


def load_desk(start: Path) -> Settings:
    """Settings of the desk holding `start` (a folder or a file inside the desk)."""
    folder = start if start.is_dir() else start.parent
    path = find_settings(folder)
    _log.info("desk: %s", path)
    return load_settings(path)


def find_issue_files(settings: Settings) -> list[Path]:
    """Every issue file of the desk, oldest first (names are dates)."""
    return sorted(relative_to_cwd(path) for path in settings.issues_dir.glob("*.yaml"))


def render_issue(path: Path, settings: Settings, *, lookup: StoryLookup = NO_STORE,
                 renderer: Renderer | None = None) -> tuple[Issue, RenderedIssue]:
    """Read, validate and render one issue in memory; nothing is written."""
    issue = load_issue(path, settings, lookup)
    return issue, _render(issue, settings, renderer)


def _render(issue: Issue, settings: Settings, renderer: Renderer | None) -> RenderedIssue:
    assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo)
    return (renderer or Renderer(settings)).render(issue, assets)


def build_issue(path: Path, settings: Settings, *, out_dir: Path | None = None,
                lookup: StoryLookup | None = None, renderer: Renderer | None = None,
                taken: dict[str, Path] | None = None, drafts: bool = True,
                store: Store | None = None, refresh: bool = False) -> BuiltIssue:
    """Render one issue and write `issues/<slug>/` under `out_dir` in one swap.

    Everything is rendered before the first byte is written, and the folder
    is assembled aside, so a failure leaves the previous build as it was.
    `story:` references resolve from the issue's lock file, then from the
    candidate store (`refresh` skips the lock); after the build the lock pins
    what they resolved to and the store records the stories as used.
    """
    if not drafts and issue_status(path) == Status.DRAFT:
        return BuiltIssue(issue=None, source=path, rendered=None, folder=None)
    pinned = () if refresh or lookup is not None else read_lock(lock_path(path))
    issue = load_issue(path, settings, lookup or PinnedLookup(pinned, store))
    if issue.status is Status.DRAFT and not drafts:
        return BuiltIssue(issue=issue, source=path, rendered=None, folder=None)
    rendered = _render(issue, settings, renderer)
    if taken and issue.slug in taken:
        raise NewsletterError(
            f'{path} and {taken[issue.slug]} both build issues/{issue.slug}/',
            hint="give one of them its own slug: (or rename the file)")
    target = (out_dir or settings.output_dir) / "issues" / issue.slug
    outputs = {
        "index.html": rendered.web_html.encode(),
        "email.html": rendered.email_html.encode(),
        "email.txt": rendered.text.encode(),
        **dict(rendered.assets),
    }
    outputs["index.html"] = rendered.web_html.replace(NAV_MARKER, "", 1).encode()
    written = replace_folder(target, outputs)
    if issue.stories and lookup is None:
        write_lock(lock_path(path), issue.stories)
        if store is not None:
            store.mark_used((s.id for s in issue.stories), issue_number=issue.number,
                            issue_date=issue.date)
    return BuiltIssue(issue=issue, source=path, rendered=rendered, folder=target, files=written)


def build_issues(paths: Iterable[Path], settings: Settings, *, out_dir: Path | None = None,
                 drafts: bool = True, refresh: bool = False) -> Iterator[BuiltIssue]:
    """Build several issues with one renderer, yielding each as it is written
    (or passed over, for a draft when `drafts` is off).

    Two issues with the same slug would overwrite each other: the second stops
    the run instead.
    """
    renderer = Renderer(settings)
    built_from: dict[str, Path] = {}
    store = StoreOpener(settings)()
    try:
        for path in paths:
            built = build_issue(path, settings, out_dir=out_dir, renderer=renderer,
                                taken=built_from, drafts=drafts, store=store, refresh=refresh)
            if built.issue is not None and not built.skipped:
                built_from[built.issue.slug] = path
            yield built
    finally:
        if store is not None:
            store.close()


def build_site(settings: Settings, *, out_dir: Path | None = None, drafts: bool = False,
               named: Sequence[Path] = (), force: bool = False, refresh: bool = False,
               jobs: int | None = None, on_planned: Callable[[int], None] | None = None,
               on_rendered: Callable[[Path], None] | None = None) -> SiteReport:
    """Build the whole archive site (every ready issue, and the index, feed and
    sitemap around them) and swap it in at once; see `archive.build_site`.

    `named` issue files are built even when they are drafts.
    """
    from .publish.archive import build_site as build

    chosen = {relative_to_cwd(p.resolve()) for p in named}  # ../issues/x.yaml is issues/x.yaml
    sources = sorted({*(relative_to_cwd(p.resolve()) for p in find_issue_files(settings)),
                      *chosen})
    return build(settings, sources, stores=StoreOpener(settings), out_dir=out_dir,
                 drafts=drafts, named=chosen, force=force, refresh=refresh,
                 jobs=jobs, on_planned=on_planned, on_rendered=on_rendered)


def preview_server(start: Path, *, host: str = "127.0.0.1", port: int = 8000,
                   on_change: Callable[[set[Path], list[str]], None] | None = None
                   ) -> PreviewServer:
    """A live-reload preview of the desk holding `start` (not started yet).

    `on_change` hears the files that changed and the problems they left.
    """
    from .preview.desk import DeskPreview
    from .preview.server import PreviewServer

    try:
        server = PreviewServer(host=host, port=port)
    except OSError as exc:
        raise NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                              hint="another program uses that port: pass --port with "
                                   "another number (or --port 0 for any free one)") from exc
    desk = DeskPreview(start, server.url, render=render_with_stories)

    def changed(paths: set[Path]) -> None:
        if on_change:
            on_change(paths, desk.problems())

    server.attach(desk, desk.watched(), desk.wants, changed, watch_flat=desk.watched_flat())
    return server


# --- checking ----------------------------------------------------------------


#: `schema_version` of `CheckRun.to_json`: raised when a field changes meaning or
#: goes away (a new field does not raise it). README.md, "Output for scripts", documents it.
CHECK_JSON_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """What `check_issue` found in one issue file."""

    source: Path
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRun:
    """`check_issues`: a report per issue, and how many distinct links were asked."""

    reports: tuple[CheckReport, ...]
    links_checked: int = 0

    @property
    def all_links_unreachable(self) -> bool:
        """Every link asked was unreachable (two or more): most likely no network."""
        unreachable = {f.subject for r in self.reports for f in r.findings
                       if f.code == "link-unreachable"}
        return len(unreachable) >= 2 and len(unreachable) == self.links_checked

    @property
    def counts(self) -> dict[Severity, int]:
        """How many findings of each severity, in every issue."""
        return _counts(f for r in self.reports for f in r.findings)

    def to_json(self) -> dict[str, object]:
        """`newsletter check --json`: a versioned document for scripts and CI."""
        return {
            "schema_version": CHECK_JSON_VERSION,
            "issues": [{
                "path": _shown_path(report.source),
                "findings": [_finding_json(f) for f in report.findings],
                "counts": _counts_json(_counts(report.findings)),
            } for report in self.reports],
            "counts": _counts_json(self.counts),
            "links_checked": self.links_checked,
        }


def _counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(sorted(Severity, reverse=True), 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def _counts_json(counts: dict[Severity, int]) -> dict[str, int]:
    return {str(severity): n for severity, n in counts.items()}


def _finding_json(finding: Finding) -> dict[str, object]:
    return {"severity": str(finding.severity), "code": finding.code,
            "message": finding.message, "hint": finding.hint,
            "location": _location_json(finding.location), "subject": finding.subject}


def _location_json(location: SourceLocation | None) -> dict[str, object] | None:
    if location is None:
        return None
    return {"path": _shown_path(location.path), "line": location.line,
            "column": location.column}


def _shown_path(path: Path) -> str:
    """A path as the CLI prints it: relative to the working folder when inside it."""
    return relative_to_cwd(path.resolve()).as_posix()


def issues_to_check(settings: Settings, named: Sequence[Path] = (), *,
                    every: bool = False) -> list[Path]:
    """The issue files `newsletter check` looks at: every ready one (`every`), the
    `named` ones, or else the newest."""
    files = find_issue_files(settings)
    # with `every`, a file whose status cannot even be read is checked, so its problems show
    paths = [p for p in files if issue_status(p) != "draft"] if every else \
        list(named) or files[-1:]
    if not paths:
        raise NewsletterError("no issue to check", hint='start one with "newsletter new"')
    return paths


def check_issues(paths: Sequence[Path], settings: Settings, *,
                 offline: bool = False) -> CheckRun:
    """`check_issue` for each path, sharing one link checker (each URL asked once)."""
    links = None
    if not offline:
        from .check.links import LinkChecker

        links = LinkChecker(allow=settings.check.skip_links)
    reports = tuple(check_issue(p, settings, offline=offline, links=links) for p in paths)
    return CheckRun(reports=reports, links_checked=links.checked() if links else 0)


def check_issue(path: Path, settings: Settings, *, offline: bool = False,
                links: LinkChecker | None = None) -> CheckReport:
    """Everything that would embarrass the desk if `path` went out as it is.

    An issue that cannot even be built is one error finding per problem.
    `links` (shared across issues, so each URL is fetched once a run) checks
    every link and remote picture unless `offline`.
    """
    from .check.clients import client_support
    from .check.content import content_findings, line_of
    from .check.markup import markup_findings
    from .errors import InputError

    try:
        with _stories_for(path, settings) as lookup:
            issue = load_issue(path, settings, lookup)
        assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo)
        rendered = Renderer(settings).render(issue, assets)
    except InputError as exc:
        return CheckReport(source=path, findings=tuple(
            Finding(severity=Severity.ERROR, code="invalid", message=p.message, hint=p.hint,
                    location=p.location) for p in exc.problems))
    except NewsletterError as exc:
        return CheckReport(source=path, findings=(Finding(
            severity=Severity.ERROR, code="build", message=exc.message, hint=exc.hint,
            location=exc.location),))
    text = path.read_text(encoding="utf-8")
    findings = content_findings(issue, source_text=text, email_html=rendered.email_html,
                                pictures=assets.images, earlier=_earlier(path, settings),
                                window_days=settings.check.window_days)
    findings += markup_findings(rendered.email_html)
    findings += client_support(rendered.email_html)
    if not offline:
        from .check.links import LinkChecker, LinkTarget

        checker = links or LinkChecker(allow=settings.check.skip_links)
        targets = [LinkTarget(url=url, location=line_of(path, text, url))
                   for url in sorted(_outbound(rendered.web_html, settings))]
        findings += checker.check(targets)
    findings = [_accepted(f, settings.check.accept) for f in findings]
    order = sorted(findings, key=lambda f: (-f.severity, f.code, str(f.location or "")))
    return CheckReport(source=path, findings=tuple(order))


def _accepted(finding: Finding, accept: Sequence[str]) -> Finding:
    """A finding the desk has accepted (check.accept) stays visible, as a note."""
    from dataclasses import replace

    if finding.code in accept or f"{finding.code}:{finding.subject}" in accept:
        return replace(finding, severity=Severity.NOTE,
                       message=f"{finding.message} (accepted in newsletter.yaml)")
    return finding


def _earlier(path: Path, settings: Settings) -> list[tuple[Issue | str, set[str]]]:
    """The issues before `path` (newest first, as many as check.reuse_issues) and
    the links each carried, from its file and its lock file."""
    from .check.content import urls_in

    files = find_issue_files(settings)
    before = [p for p in files if p.name < path.name][::-1][:settings.check.reuse_issues]
    earlier: list[tuple[Issue | str, set[str]]] = []
    for other in before:
        text = other.read_text(encoding="utf-8", errors="replace")
        lock = lock_path(other)
        if lock.is_file():
            text += lock.read_text(encoding="utf-8", errors="replace")
        earlier.append((f"the issue of {other.stem}", urls_in(text)))
    return earlier


def _outbound(web_html: str, settings: Settings) -> set[str]:
    """The links and pictures readers will follow, but the desk's own site
    (which this very build is about to publish)."""
    import html
    import re

    found = set(re.findall(r'(?:href|src)="(https?://[^"]+)"', web_html))
    return {html.unescape(url) for url in found
            if not url.startswith(settings.base_url)
            and not url.startswith(("https://www.youtube-nocookie.com/embed/",
                                    "https://player.vimeo.com/video/"))}


# --- sending ---------------------------------------------------------------------


def email_message(path: Path, settings: Settings, *, to: Sequence[str] = (),
                  test: bool = False) -> EmailMessage:
    """The issue as one email (text part, then HTML), as an ESP or a test send gets it."""
    from .send import build_message

    issue, rendered = render_with_stories(path, settings)
    return build_message(issue, rendered, settings, to=to, test=test)


def export_eml(path: Path, settings: Settings, eml: Path) -> None:
    """Write the issue as one .eml file (both parts and the headers)."""
    from .send import export_eml as eml_bytes

    data = eml_bytes(email_message(path, settings))
    try:
        eml.write_bytes(data)
    except OSError as exc:
        raise NewsletterError(f"cannot write {eml}: {exc.strerror or exc}",
                              hint="choose a file in a folder that exists and you can "
                                   "write to") from exc


def send_test(path: Path, settings: Settings, to: Sequence[str]) -> EmailMessage:
    """Send the issue, subject marked [TEST], to `to` through the desk's SMTP server."""
    from .send import SendError, SmtpSettings, send_message, smtp_from_environment

    base = None
    if settings.smtp is not None:
        base = SmtpSettings(host=settings.smtp.host, port=settings.smtp.port,
                            security=settings.smtp.security, username=settings.smtp.username,
                            password_env=settings.smtp.password_env)
    smtp = smtp_from_environment(base)
    if smtp is None:
        raise SendError("there is no SMTP server to send through",
                        hint="add smtp: with host: (and username:) to newsletter.yaml, or set "
                             "NEWSLETTER_SMTP_HOST; the password goes in "
                             "NEWSLETTER_SMTP_PASSWORD")
    message = email_message(path, settings, to=to, test=True)
    send_message(message, smtp)
    return message


# --- collecting --------------------------------------------------------------


def open_store(settings: Settings) -> Store:
    from .collect.store import Store

    return Store(store_path(settings))


@dataclass(frozen=True, slots=True)
class StoreOpener:
    """Opens the desk's candidate store, if it has one: handed to the stages
    that resolve `story:` references (the site build, in every worker
    process, and the preview), which never import the store themselves."""

    settings: Settings

    def __call__(self) -> Store | None:
        return open_store(self.settings) if store_path(self.settings).is_file() else None


@contextmanager
def _stories_for(path: Path, settings: Settings) -> Iterator[PinnedLookup]:
    """How a build resolves `path`'s `story:` references: its lock file, then the store."""
    store = StoreOpener(settings)()
    try:
        yield PinnedLookup(read_lock(lock_path(path)), store)
    finally:
        if store is not None:
            store.close()


def render_with_stories(path: Path, settings: Settings, *,
                        renderer: Renderer | None = None) -> tuple[Issue, RenderedIssue]:
    """`render_issue` with `story:` references resolved as a build resolves them
    (nothing is written)."""
    with _stories_for(path, settings) as lookup:
        return render_issue(path, settings, renderer=renderer, lookup=lookup)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchReport:
    """One feed's fetch and what saving it changed in the store."""

    result: FetchResult
    saved: SaveCounts | None

    def to_json(self) -> dict[str, object]:
        """One object of `newsletter fetch --json`."""
        result, saved = self.result, self.saved
        return {
            "feed": result.feed.name, "address": _address(result.feed),
            "result": str(result.outcome),
            "new": saved.new if saved else 0, "updated": saved.updated if saved else 0,
            "unchanged": saved.unchanged if saved else 0,
            "warnings": list(result.warnings), "error": result.error, "hint": result.hint,
            "moved_to": result.moved_to,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedRow:
    """One feed of the desk and its last fetch: a line of `newsletter feeds`."""

    name: str
    address: str  # the url or path in newsletter.yaml
    last_fetch: dt.datetime | None
    result: FetchOutcome | None
    error: str
    stories: int

    def to_json(self) -> dict[str, object]:
        """One object of `newsletter feeds --json`."""
        return {
            "name": self.name, "address": self.address,
            "last_fetch": self.last_fetch.astimezone(dt.UTC).isoformat()
            if self.last_fetch else None,
            "result": str(self.result) if self.result else None,
            "error": self.error, "stories": self.stories,
        }


def _address(feed: FeedSpec) -> str:
    return feed.url or feed.path or ""


def feed_rows(settings: Settings) -> list[FeedRow]:
    """Every feed in newsletter.yaml, in its order, with its last fetch (none before
    the first)."""
    status = {}
    if store_path(settings).is_file():
        with open_store(settings) as store:
            status = store.feed_status()
    rows = []
    for feed in settings.feeds:
        seen = status.get(feed.name)
        rows.append(FeedRow(
            name=feed.name, address=_address(feed),
            last_fetch=seen.last_checked if seen else None,
            result=seen.last_outcome if seen else None,
            error=seen.last_error if seen else "", stories=seen.stories if seen else 0))
    return rows


def candidates(settings: Settings, *, since: dt.datetime | None = None,
               since_last_issue: bool = False, feed: str | None = None,
               words: str | None = None, unused: bool = False, limit: int = 50
               ) -> list[Story]:
    """Candidate stories matching every filter, newest first.

    `since_last_issue` starts from the date of the last issue that used a story
    (and from `since` while there is none).
    """
    if not store_path(settings).is_file():
        raise NewsletterError("there are no candidates yet", hint='run "newsletter fetch" first')
    with open_store(settings) as store:
        last = store.last_issue_date() if since_last_issue else None
        if last is not None:
            since = dt.datetime.combine(last, dt.time(), dt.UTC)
        return store.search(words=words, since=since, feed=feed, unused=unused, limit=limit)


def prune(settings: Settings, *, older_than: dt.datetime) -> int | None:
    """Remove candidates published before `older_than` that no issue used; how many
    went (None: the desk has no store yet)."""
    if not store_path(settings).is_file():
        return None
    with open_store(settings) as store:
        return store.prune(older_than=older_than)


def fetch(settings: Settings, *, now: dt.datetime | None = None,
          on_report: Callable[[FetchReport], None] | None = None) -> list[FetchReport]:
    """Fetch every feed of the desk and save each one as it arrives.

    Saving happens on a writer thread of its own, so the network and the
    parsing workers never wait for SQLite; `on_report` is called from it.
    """
    from .collect import fetch_feeds

    now = now or dt.datetime.now(dt.UTC)
    with open_store(settings) as store:
        states = store.feed_states(current=settings.feeds)
    results: queue.Queue[FetchResult | None] = queue.Queue()
    reports: list[FetchReport] = []
    failure: list[BaseException] = []

    def write() -> None:
        try:
            with open_store(settings) as writer:
                while (result := results.get()) is not None:
                    report = FetchReport(result=result, saved=writer.save(result, now=now))
                    _log.debug("%s: %s (%s)", result.feed.name, result.outcome,
                               _address(result.feed))
                    reports.append(report)
                    if on_report:
                        on_report(report)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread below
            failure.append(exc)
            while results.get() is not None:
                pass  # keep draining so the fetch never blocks on a dead writer

    _log.info("fetching %d feeds", len(settings.feeds))
    thread = threading.Thread(target=write, name="newsletter-store-writer")
    thread.start()
    try:
        fetch_feeds(settings.feeds, states, root=settings.root, now=now, on_result=results.put)
    finally:
        results.put(None)
        thread.join()
    if failure:
        raise failure[0]
    return reports


_DATE = "__ISSUE_DATE__"  # in scaffold names and texts: the day `init` runs


def init_desk(folder: Path, today: dt.date | None = None) -> list[Path]:
    """Scaffold a new desk in `folder`: settings, one issue, templates/, the workflow."""
    date = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    filled = {_DATE: date, "__TOOL_VERSION__": __version__}
    files = [(folder / relative.replace(_DATE, date), _fill(data, filled))
             for relative, data in _scaffold_files()]
    existing = [str(path) for path, _ in files if path.exists()]
    if existing:
        raise NewsletterError(f"{', '.join(existing)} already exist{'s' * (len(existing) == 1)}",
                              hint="choose an empty folder for the new desk; nothing was written")
    written = []
    for path, data in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    (folder / "templates").mkdir(exist_ok=True)
    return written


def _fill(data: bytes, values: dict[str, str]) -> bytes:
    for name, value in values.items():
        data = data.replace(name.encode(), value.encode())
    return data


def _scaffold_files() -> Iterator[tuple[str, bytes]]:
    scaffold = Path(__file__).resolve().parent / "scaffold"
    for path in sorted(scaffold.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(scaffold).as_posix()
            if relative.startswith("dot-"):  # hidden files would be skipped by packaging
                relative = "." + relative.removeprefix("dot-")
            yield relative, path.read_bytes()


# --- drafting ----------------------------------------------------------------


def new_issue(settings: Settings, *, date: dt.date | None = None) -> Path:
    """Write the next issue as a draft, offering the best unused candidates."""
    from .desk.drafts import draft_text, rank_candidates

    date = date or dt.datetime.now(dt.UTC).date()
    path = settings.issues_dir / f"{date.isoformat()}.yaml"
    if path.exists():
        raise NewsletterError(f"{relative_to_cwd(path)} already exists",
                              hint="pass another --date, or edit that issue")
    offered: list[Story] = []
    if store_path(settings).is_file():
        with open_store(settings) as store:
            last = store.last_issue_date()
            since = dt.datetime.combine(last, dt.time(), dt.UTC) if last else None
            offered = rank_candidates(store.search(since=since, unused=True, limit=200))
    number = max((n for n in map(_issue_number, find_issue_files(settings)) if n), default=0) + 1
    settings.issues_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(draft_text(number=number, date=date, candidates=offered), encoding="utf-8")
    return relative_to_cwd(path)


def pick(settings: Settings, ref: str, *, into: str, issue_file: Path | None = None
         ) -> tuple[Path, Story]:
    """Add a candidate to an issue (the newest one unless named)."""
    from .desk.drafts import add_pick

    target = issue_file or next(reversed(find_issue_files(settings)), None)
    if target is None:
        raise NewsletterError("there is no issue to pick into",
                              hint='start one with "newsletter new"')
    if not store_path(settings).is_file():
        raise NewsletterError("there are no candidates yet", hint='run "newsletter fetch" first')
    with open_store(settings) as store:
        story = store.find(ref)
        if story is None:
            near = store.suggest(ref)
            raise NewsletterError(f'no candidate "{ref}"',
                                  hint=f'did you mean "{near[0]}"?' if near else
                                  'list them with "newsletter candidates"')
    add_pick(target, story, into)
    return target, story


def _issue_number(path: Path) -> int | None:
    from .desk._yaml import load_yaml

    doc = load_yaml(path, [])
    number = doc.data.get("number") if doc and isinstance(doc.data, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def add_page(settings: Settings, url: str, *, now: dt.datetime | None = None) -> Story:
    """Fetch a page that is in no feed and keep it as a candidate."""
    from .collect.page import story_from_page
    from .collect.web import get_page

    now = now or dt.datetime.now(dt.UTC)
    html, final_url = get_page(url)
    story = story_from_page(html, url=final_url, fetched_at=now)
    with open_store(settings) as store:
        return store.add(story, now=now)


def import_feeds(settings: Settings, opml_file: Path) -> list[FeedSpec]:
    """Add an OPML file's feeds to newsletter.yaml; returns the ones that were new.

    The new text is read back by `load_settings` before it replaces the file,
    so the import obeys every limit the reader has (how many feeds, names,
    addresses, languages, the file's size) by the very same code; an import
    that would leave a desk no command loads is refused and writes nothing.
    """
    from .collect.opml import feeds_from_opml
    from .desk.drafts import add_feeds

    return add_feeds(settings.root / SETTINGS_FILE, feeds_from_opml(opml_file.read_bytes()),
                     read_back=load_settings, source=opml_file.name)


def enable_feed(settings: Settings, name: str) -> tuple[FeedSpec, bool]:
    """Ask a feed again that its server said was gone (HTTP 410).

    Returns the feed (named case-insensitively) and whether it was marked gone.
    """
    spec = next((f for f in settings.feeds if f.name.casefold() == name.casefold()), None)
    if spec is None:
        names = ", ".join(f.name for f in settings.feeds) or "none yet"
        raise NewsletterError(f'the desk has no feed "{name}"',
                              hint=f"its feeds are: {names}")
    if not store_path(settings).is_file():
        return spec, False
    with open_store(settings) as store:
        return spec, store.enable_feed(spec.name)


def export_feeds(settings: Settings) -> str:
    from .collect.opml import feeds_to_opml

    return feeds_to_opml(settings.feeds, title=settings.name)
