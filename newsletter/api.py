"""The one place that wires the stages together; the CLI is a shell over this."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from . import __version__
from .desk._yaml import issue_status  # not editorial: listing candidates never reads an issue
from .desk.config import SETTINGS_FILE, find_settings, load_settings, relative_to_cwd
from .desk.lockfile import (
    LeftOut,
    Lock,
    PicturePin,
    PinnedIssue,
    load_pinned,
    lock_path,
    may_write_lock,
    read_lock,
    read_lock_file,
    story_to_json,
    write_lock,
)
from .desk.lookup import NO_STORE, PinnedLookup, StoryLookup, store_path
from .errors import NewsletterError
from .model import (
    MAX_PAGE,
    FeedSpec,
    Marks,
    Settings,
    SourceLocation,
    Status,
    Story,
    Use,
)

if TYPE_CHECKING:
    from email.message import EmailMessage

    from .check.links import LinkChecker
    from .collect.store import SaveCounts, Store
    from .collect.web import FoundFeed
    from .desk.drafts import Edit, Placed, Slot
    from .model import (
        CandidatePage,
        CandidateQuery,
        CandidateRow,
        FetchOutcome,
        FetchResult,
        Finding,
        Issue,
        IssuePanel,
        PanelItem,
        RenderedIssue,
        Severity,
    )
    from .preview.server import PreviewServer
    from .publish.archive import SiteReport
    from .render import Renderer

__all__ = [
    "CHECK_JSON_VERSION",
    "AddedFeed",
    "BrowserDesk",
    "BuiltIssue",
    "CheckReport",
    "CheckRun",
    "Edit",
    "FeedRow",
    "FetchReport",
    "NewIssue",
    "PickReport",
    "PictureMeasurer",
    "PinnedIssue",
    "PinnedLookup",
    "Placed",
    "SiteReport",
    "StoreOpener",
    "StoryReport",
    "Use",
    "add_feed",
    "add_page",
    "build_issue",
    "build_issues",
    "build_site",
    "candidate_to_json",
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
    "has_issue_files",
    "import_feeds",
    "init_desk",
    "issue_panel",
    "issue_status",
    "issues_to_check",
    "load_desk",
    "move",
    "new_issue",
    "open_store",
    "pick",
    "picture_cache",
    "pinned_issue",
    "preview_server",
    "prune",
    "relative_to_cwd",
    "render_issue",
    "render_with_stories",
    "send_test",
    "set_field",
    "show",
    "store_path",
    "story_marks",
    "story_to_json",
    "story_uses",
    "unpick",
]


_log = logging.getLogger(__name__)
T = TypeVar("T")

#: What `api` offers from a stage it imports only when used: a command pays for
#: the stages it runs (`candidates` never loads Jinja, markdown-it or Pillow).
#: Inside this module the functions import them themselves.
_ON_FIRST_USE = {"Edit": "desk.drafts", "Placed": "desk.drafts",
                 "SiteReport": "publish.archive"}


def __getattr__(name: str) -> object:
    """`api.Edit` and the like, imported on first use (PEP 562)."""
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __package__), name)
    globals()[name] = value
    return value


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
    left_out: tuple[LeftOut, ...] = ()  # story pictures that could not be used (logged)

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
    return _shorter(settings.issues_dir.glob("*.yaml"))


def has_issue_files(settings: Settings) -> bool:
    """Whether the desk has an issue file at all (without listing them all)."""
    return next(settings.issues_dir.glob("*.yaml"), None) is not None


def _shorter(paths: Iterable[Path | str]) -> list[Path]:
    """`relative_to_cwd` of each path, sorted: the working folder is resolved once,
    not once a path (a no-op build of 1,000 issues spent a tenth of its time there),
    and each path is made a `Path` once (strings until then)."""
    cwd = f"{Path.cwd().resolve()}{os.sep}"
    shown = [Path(os.fspath(path).removeprefix(cwd)) for path in paths]
    return sorted(shown, key=lambda path: path.parts)


def _issue_sources(settings: Settings, named: Iterable[Path]) -> list[Path]:
    """Every issue file of the desk and the `named` ones, resolved (links, `..`) and
    shown as `find_issue_files` shows them, oldest first. The desk's folder is
    resolved once and listed once: a file in it is resolved only if it is a link."""
    found: list[str] = []
    with contextlib.suppress(FileNotFoundError), os.scandir(settings.issues_dir.resolve()) \
            as listing:  # as glob("*.yaml") finds them: no hidden files
        found = [os.path.realpath(e.path) if e.is_symlink() else e.path for e in listing
                 if e.name.endswith(".yaml") and not e.name.startswith(".")]
    # resolved absolute names: equal strings are equal paths, so a set of them dedupes
    return _shorter({*found, *(os.fspath(p.resolve()) for p in named)})


def render_issue(path: Path, settings: Settings, *, lookup: StoryLookup = NO_STORE,
                 renderer: Renderer | None = None) -> tuple[Issue, RenderedIssue]:
    """Read, validate and render one issue in memory; nothing is written (pictures
    of unknown size are measured through the desk's picture cache)."""
    pinned = load_pinned(path, settings, lookup, lock=Lock(), measure=PictureMeasurer(settings))
    return pinned.issue, _render(pinned.issue, settings, renderer, pinned)


def _render(issue: Issue, settings: Settings, renderer: Renderer | None,
            pinned: PinnedIssue | None = None) -> RenderedIssue:
    from .render import Renderer, issue_url
    from .render.assets import resolve_assets

    assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo,
                            pinned.sizes if pinned else None)
    return (renderer or Renderer(settings)).render(issue, assets)


# --- pictures on the web -------------------------------------------------------


def picture_cache(settings: Settings) -> Path:
    """Where the desk keeps measured pictures: by URL, and their bytes by content."""
    return settings.root / ".newsletter" / "pictures"


@dataclass(frozen=True, slots=True)
class PictureMeasurer:
    """Measures the desk's pictures on the web (`collect.pictures`, through the
    desk's picture cache): handed to the stages that resolve issues (the site
    build, in every worker process), which never import `collect` themselves.
    `fresh` (`build --refresh`) asks the network again, past the cache."""

    settings: Settings
    fresh: bool = False

    def __call__(self, urls: Sequence[str]) -> dict[str, PicturePin]:
        from .collect.pictures import Measured, measure_pictures

        found = measure_pictures(urls, cache=picture_cache(self.settings), fresh=self.fresh)
        return {url: PicturePin(url=url, width=result.width, height=result.height)
                if isinstance(result, Measured) else
                PicturePin(url=url, problem=result.reason, hint=result.hint,
                           lasting=result.lasting)
                for url, result in found.items()}


def pinned_issue(path: Path, settings: Settings, *, offline: bool = False) -> PinnedIssue:
    """`path` resolved as a build resolves it, in memory: `story:` references from
    its lock file, then the store; pictures of unknown size from the lock, then
    measured (never with `offline`). `PinnedIssue.left_out` names each item whose
    story's picture cannot be used (for `check`, on the item's line)."""
    store = StoreOpener(settings)()
    try:
        return load_pinned(path, settings, store, lock=read_lock_file(lock_path(path)),
                           measure=None if offline else PictureMeasurer(settings))
    finally:
        if store is not None:
            store.close()


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
    lock = Lock() if refresh or lookup is not None else read_lock_file(lock_path(path))
    pinned = load_pinned(path, settings, lookup or store, lock=lock,
                         measure=PictureMeasurer(settings, fresh=refresh))
    issue = pinned.issue
    if issue.status is Status.DRAFT and not drafts:
        return BuiltIssue(issue=issue, source=path, rendered=None, folder=None)
    rendered = _render(issue, settings, renderer, pinned)
    from .publish._folders import replace_folder
    from .render import NAV_MARKER

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
    for left in pinned.left_out:
        _log.warning("%s", left)
    if lookup is None and (pinned.stories or pinned.pins):
        if may_write_lock(path, settings, out_dir):
            write_lock(lock_path(path), pinned.stories, pinned.pins)
        if store is not None and issue.stories:
            store.mark_used((s.id for s in issue.stories), issue_number=issue.number,
                            issue_date=issue.date)
    return BuiltIssue(issue=issue, source=path, rendered=rendered, folder=target, files=written,
                      left_out=pinned.left_out)


def build_issues(paths: Iterable[Path], settings: Settings, *, out_dir: Path | None = None,
                 drafts: bool = True, refresh: bool = False) -> Iterator[BuiltIssue]:
    """Build several issues with one renderer, yielding each as it is written
    (or passed over, for a draft when `drafts` is off).

    Two issues with the same slug would overwrite each other: the second stops
    the run instead.
    """
    from .render import Renderer

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
               on_rendered: Callable[[Path], None] | None = None,
               offline: bool = False, now: dt.datetime | None = None) -> SiteReport:
    """Build the whole archive site (every ready issue, and the index, feed and
    sitemap around them) and swap it in at once; see `archive.build_site`.

    `named` issue files are built even when they are drafts. Pictures of
    unknown size that no lock file pins are measured on the web (`refresh`:
    all of them, again), unless `offline`. An issue whose time is after `now`
    (the clock's, never SOURCE_DATE_EPOCH: see ARCHITECTURE.md) is held back.
    """
    from .publish.archive import build_site as build

    chosen = set(_shorter(p.resolve() for p in named))  # ../issues/x.yaml is issues/x.yaml
    sources = _issue_sources(settings, named)
    return build(settings, sources, stores=StoreOpener(settings), out_dir=out_dir,
                 drafts=drafts, named=chosen, force=force, refresh=refresh,
                 jobs=jobs, on_planned=on_planned, on_rendered=on_rendered,
                 measure=None if offline else PictureMeasurer(settings, fresh=refresh),
                 now=now)


def preview_server(start: Path, *, host: str = "127.0.0.1", port: int = 8000,
                   on_change: Callable[[set[Path], list[str]], None] | None = None,
                   allow_writes: bool = False) -> PreviewServer:
    """A live-reload preview of the desk holding `start` (not started yet), which
    is also the desk in the browser (a `BrowserDesk`). Served to the network
    (a `host` other than loopback), it writes nothing unless `allow_writes`.

    `on_change` hears the files that changed and the problems they left.
    """
    from .preview.desk import DeskPreview
    from .preview.server import PreviewServer

    try:
        server = PreviewServer(host=host, port=port, allow_writes=allow_writes)
    except OSError as exc:
        raise NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                              hint="another program uses that port: pass --port with "
                                   "another number (or --port 0 for any free one)") from exc
    desk = DeskPreview(start, server.url, render=render_with_stories, actions=BrowserDesk(),
                       token=server.token, writable=server.writable)

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

    def to_json(self) -> dict[str, object]:
        """One issue of `newsletter check --json` (and the browser desk's findings)."""
        return {"path": _shown_path(self.source),
                "findings": [_finding_json(f) for f in self.findings],
                "counts": _counts_json(_counts(self.findings))}


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
            "issues": [report.to_json() for report in self.reports],
            "counts": _counts_json(self.counts),
            "links_checked": self.links_checked,
        }


def _counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    from .model import Severity

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
    from .check.accept import apply_acceptances
    from .check.clients import client_support
    from .check.content import Locator, content_findings
    from .check.markup import markup_findings
    from .errors import InputError
    from .model import Finding, Severity
    from .render import Renderer, issue_url
    from .render.assets import resolve_assets

    try:
        pinned = pinned_issue(path, settings, offline=offline)
        issue = pinned.issue
        assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo,
                                pinned.sizes)
        renderer = Renderer(settings)
        rendered = renderer.render(issue, assets)
    except InputError as exc:
        return CheckReport(source=path, findings=tuple(
            Finding(severity=Severity.ERROR, code="invalid", message=p.message, hint=p.hint,
                    location=p.location) for p in exc.problems))
    except NewsletterError as exc:
        return CheckReport(source=path, findings=(Finding(
            severity=Severity.ERROR, code="build", message=exc.message, hint=exc.hint,
            location=exc.location),))
    text = path.read_text(encoding="utf-8")
    where = Locator(issue, text)  # a finding about an item is put at the item
    findings = content_findings(issue, source_text=text, email_html=rendered.email_html,
                                pictures=assets.images, earlier=_earlier(path, settings),
                                window_days=settings.check.window_days)
    findings += markup_findings(rendered.email_html, where.link)
    findings += client_support(rendered.email_html)
    findings += [Finding(severity=Severity.WARNING, code="picture-left-out", message=left.message,
                         hint=left.hint, location=left.location, subject=left.url)
                 for left in pinned.left_out]
    findings += [Finding(severity=Severity.ERROR, code="unsubscribe-missing", message=p.message,
                         hint=p.hint, location=p.location)
                 for p in renderer.unsubscribe_problems(issue, rendered)]
    if not offline:
        from .check.links import LinkChecker, LinkTarget

        checker = links or LinkChecker(allow=settings.check.skip_links)
        targets = [LinkTarget(url=url, location=where.link(url))
                   for url in sorted(_outbound(rendered.web_html, settings))]
        findings += checker.check(targets)
    findings = apply_acceptances(findings, issue, settings.check.accept,
                                 relative_to_cwd(settings.root / SETTINGS_FILE))
    order = sorted(findings, key=lambda f: (-f.severity, f.code, str(f.location or "")))
    return CheckReport(source=path, findings=tuple(order))


def _earlier(path: Path, settings: Settings) -> list[tuple[Issue | str, set[str]]]:
    """The issues before `path` (newest first, as many as check.reuse_issues) and
    the links each carried, from its file (not its comments) and its lock file."""
    from .check.content import urls_in, yaml_urls

    files = find_issue_files(settings)
    before = [p for p in files if p.name < path.name][::-1][:settings.check.reuse_issues]
    earlier: list[tuple[Issue | str, set[str]]] = []
    for other in before:
        urls = yaml_urls(other.read_text(encoding="utf-8", errors="replace"))
        lock = lock_path(other)
        if lock.is_file():
            urls |= urls_in(lock.read_text(encoding="utf-8", errors="replace"))
        earlier.append((f"the issue of {other.stem}", urls))
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


def render_with_stories(path: Path, settings: Settings, *, renderer: Renderer | None = None,
                        offline: bool = False) -> tuple[Issue, RenderedIssue]:
    """`render_issue` with `story:` references and picture sizes resolved as a build
    resolves them (`pinned_issue`; nothing is written)."""
    pinned = pinned_issue(path, settings, offline=offline)
    return pinned.issue, _render(pinned.issue, settings, renderer, pinned)


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
               words: str | None = None, unused: bool = False, starred: bool = False,
               skipped: bool = False, limit: int = 50) -> list[Story]:
    """Candidate stories matching every filter, newest first.

    `since_last_issue` starts from the date of the last issue that used a story
    (and from `since` while there is none). Stories the editor skipped are
    left out, unless `skipped` asks for them (and them only); `starred`: only
    the starred ones.
    """
    if not store_path(settings).is_file():
        raise NewsletterError("there are no candidates yet", hint='run "newsletter fetch" first')
    with open_store(settings) as store:
        last = store.last_issue_date() if since_last_issue else None
        if last is not None:
            since = dt.datetime.combine(last, dt.time(), dt.UTC)
        source = _source_named(settings, store, feed) if feed is not None else None
        return store.search(words=words, since=since, feed=source, unused=unused,
                            starred=starred, skipped=skipped, limit=limit)


def _source_named(settings: Settings, store: Store, name: str) -> str:
    """The source `name` means, in any case: a feed of the desk, or one the store
    has stories from (a feed since removed, "added by hand")."""
    known = sorted({f.name for f in settings.feeds} | set(store.sources()))
    found = _named(name, known, key=str)
    if found is None:
        raise _no_such_feed(settings, name, known)
    return found


def _desk_feed(settings: Settings, name: str) -> FeedSpec:
    """The desk's feed called `name`, in any case."""
    found = _named(name, settings.feeds, key=lambda feed: feed.name)
    if found is None:
        raise _no_such_feed(settings, name, [f.name for f in settings.feeds])
    return found


def _named(name: str, things: Iterable[T], *, key: Callable[[T], str]) -> T | None:
    """The thing called exactly `name`, else the first called so in another case."""
    things = list(things)
    exact = next((t for t in things if key(t) == name), None)
    return exact or next((t for t in things if key(t).casefold() == name.casefold()), None)


def _no_such_feed(settings: Settings, name: str, known: Sequence[str]) -> NewsletterError:
    import difflib

    names = ", ".join(f.name for f in settings.feeds) or "none yet"
    near = difflib.get_close_matches(name.casefold(), [k.casefold() for k in known], n=1)
    guess = next((k for k in known if near and k.casefold() == near[0]), None)
    return NewsletterError(f'the desk has no feed "{name}"',
                           hint=(f'did you mean "{guess}"? ' if guess else "") +
                                f"its feeds are: {names}")


def story_uses(settings: Settings, story_ids: Iterable[str], *, store: Store | None = None
               ) -> dict[str, tuple[Use, ...]]:
    """Where each story ran, in issue order: the issues the store recorded (built
    on this machine) and the issues whose lock files pin it (built anywhere, a
    store of their own included). Stories that never ran are left out."""
    ids = set(story_ids)
    found: dict[str, set[Use]] = {}
    if store is None and store_path(settings).is_file():
        with open_store(settings) as opened:
            recorded = opened.uses(ids)
    else:
        recorded = store.uses(ids) if store is not None else {}
    for story_id, uses in recorded.items():
        found.setdefault(story_id, set()).update(Use(number=n, date=d) for n, d in uses)
    for path in find_issue_files(settings):
        pinned = _pinned_ids(path) & ids
        number, date = _issue_meta(path) if pinned else (None, None)
        if number is None or date is None:
            continue
        for story_id in pinned:
            found.setdefault(story_id, set()).add(Use(number=number, date=date))
    return {story_id: tuple(sorted(uses, key=lambda u: (u.number, u.date)))
            for story_id, uses in found.items()}


def _pinned_ids(issue_file: Path) -> set[str]:
    """The ids an issue's lock file pins (none when it has no readable one: a
    damaged lock is the build's to report)."""
    lock = lock_path(issue_file)
    if not lock.is_file():
        return set()
    try:
        return {story.id for story in read_lock(lock)}
    except NewsletterError:
        return set()


def candidate_to_json(story: Story, used_in: Sequence[Use], marks: Marks | None = None
                      ) -> dict[str, object]:
    """One object of `newsletter candidates --json`: the story, where it ran and
    whether the editor starred or skipped it."""
    marks = marks or Marks()
    return {**story_to_json(story), "used_in": [use.to_json() for use in used_in],
            "starred": marks.starred, "skipped": marks.skipped}


def story_marks(settings: Settings, story_ids: Iterable[str]) -> dict[str, Marks]:
    """The marks (starred, skipped) of those of these stories that have one."""
    if not store_path(settings).is_file():
        return {}
    with open_store(settings) as store:
        return store.marks(story_ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryReport:
    """`newsletter show`: one candidate, where it ran and which drafts hold it."""

    story: Story
    summary_text: str  # the summary as plain text
    first_seen: dt.datetime | None
    used_in: tuple[Use, ...]
    picked_in: tuple[tuple[Path, Placed], ...]  # drafts holding it, and where
    marks: Marks = dataclasses.field(default_factory=Marks)

    def to_json(self) -> dict[str, object]:
        return {**candidate_to_json(self.story, self.used_in, self.marks),
                "summary_text": self.summary_text,
                "first_seen": self.first_seen.isoformat() if self.first_seen else None,
                "picked_in": [{"path": _shown_path(path), "section": placed.section,
                               "position": placed.position, "line": placed.line}
                              for path, placed in self.picked_in]}


#: `show` looks for drafts holding a story among this many of the newest issue files
#: (a desk's drafts are its newest issues; each file read costs a parse)
SHOW_DRAFTS = 20


def show(settings: Settings, ref: str) -> StoryReport:
    """One candidate by id (a unique start of it) or URL, with where it ran and the
    drafts that hold it."""
    from .desk.drafts import issue_picks
    from .sanitize import html_to_plain

    with _existing_store(settings) as store:
        story = _find_candidate(store, ref)
        picked = []
        for path in find_issue_files(settings)[-SHOW_DRAFTS:]:
            if issue_status(path) != Status.DRAFT and lock_path(path).is_file():
                continue
            try:
                held = issue_picks(path, PinnedLookup(read_lock(lock_path(path)), store))
            except NewsletterError:  # a half-written draft: "newsletter build" reports it
                continue
            picked += [(path, placed) for placed in held.placed
                       if placed.holds(story) and not placed.placeholder]
        return StoryReport(story=story, summary_text=html_to_plain(story.summary).strip(),
                           first_seen=store.first_seen(story.id),
                           used_in=story_uses(settings, [story.id], store=store).get(
                               story.id, ()),
                           picked_in=tuple(picked),
                           marks=store.marks([story.id]).get(story.id, Marks()))


@contextmanager
def _existing_store(settings: Settings) -> Iterator[Store]:
    if not store_path(settings).is_file():
        raise NewsletterError("there are no candidates yet", hint='run "newsletter fetch" first')
    with open_store(settings) as store:
        yield store


def _find_candidate(store: Store, ref: str) -> Story:
    """The candidate `ref` names, or an error saying why none is (too short a
    start of an id, the start of several, or nothing near)."""
    from .collect.store import MIN_PREFIX

    story = store.find(ref)
    if story is not None:
        return story
    if len(ref) < MIN_PREFIX and "/" not in ref:
        raise NewsletterError(f'"{ref}" is too short to name a candidate',
                              hint=f"give at least {MIN_PREFIX} characters of its id (as "
                                   '"newsletter candidates" lists them), or the whole id or '
                                   "link")
    near = store.suggest(ref)
    starting = [i for i in near if i.startswith(ref)]
    if len(starting) > 1:
        raise NewsletterError(f'"{ref}" is the start of several candidates: '
                              f"{', '.join(starting)}", hint="give more of the id")
    raise NewsletterError(f'no candidate "{ref}"', hint=f'did you mean "{near[0]}"?' if near
                          else 'list them with "newsletter candidates"')


def prune(settings: Settings, *, older_than: dt.datetime) -> int | None:
    """Remove candidates published before `older_than` that no issue used; how many
    went (None: the desk has no store yet)."""
    if not store_path(settings).is_file():
        return None
    with open_store(settings) as store:
        return store.prune(older_than=older_than)


def fetch(settings: Settings, *, now: dt.datetime | None = None,
          on_report: Callable[[FetchReport], None] | None = None,
          feeds: Sequence[str] = (), force: bool = False) -> list[FetchReport]:
    """Fetch the desk's feeds (those named in `feeds`, in any case; else every
    one) and save each one as it arrives.

    `force` downloads and parses each feed whatever the server said last time
    (validators, freshness); a feed named in `feeds` is asked even when its
    server said it was gone. Saving happens on a writer thread of its own, so
    the network and the parsing workers never wait for SQLite; it saves the
    results that came in while it was saving in one transaction, and calls
    `on_report` after each commit. If saving fails, the fetch stops with
    that error; what was committed stays.
    """
    from .collect import ask_again, fetch_feeds

    now = now or dt.datetime.now(dt.UTC)
    chosen = tuple(dict.fromkeys(_desk_feed(settings, name) for name in feeds)) \
        if feeds else settings.feeds
    with open_store(settings) as store:
        states = {name: ask_again(state, force=force, gone_too=bool(feeds))
                  for name, state in store.feed_states(current=chosen).items()}
    results: queue.Queue[FetchResult | None] = queue.Queue()
    reports: list[FetchReport] = []
    failure: list[BaseException] = []

    def write() -> None:
        ended = False
        try:
            with open_store(settings) as writer:
                while not ended:
                    batch, ended = _in_line(results, most=_SAVED_AT_ONCE)
                    counts = writer.save_all(batch, now=now) if batch else []
                    done = [FetchReport(result=result, saved=saved)
                            for result, saved in zip(batch, counts, strict=True)]
                    reports.extend(done)
                    _report_each(done, on_report)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread below
            failure.append(exc)

    def hand_over(result: FetchResult) -> None:
        if failure:  # the store takes no more: stop fetching, with the writer's error
            raise failure[0]
        results.put(result)

    _log.info("fetching %d feeds", len(chosen))
    thread = threading.Thread(target=write, name="newsletter-store-writer")
    thread.start()
    try:
        fetch_feeds(chosen, states, root=settings.root, now=now, on_result=hand_over)
    finally:
        results.put(None)
        thread.join()
    if failure:
        raise failure[0]
    return reports


# feeds saved in one transaction at most: a commit per feed made the search index
# write a segment per feed; more than this holds the store's lock longer for little
_SAVED_AT_ONCE = 16


def _report_each(done: Sequence[FetchReport],
                 on_report: Callable[[FetchReport], None] | None) -> None:
    """`on_report` for each feed saved together: every one of them is saved, so every
    one is reported, even after a report failed (the first failure is raised after)."""
    failed: BaseException | None = None
    for report in done:
        result = report.result
        _log.debug("%s: %s (%s)", result.feed.name, result.outcome, _address(result.feed))
        if on_report is None:
            continue
        try:
            on_report(report)
        except BaseException as exc:  # noqa: BLE001 - raised below, after the others
            failed = failed or exc
    if failed is not None:
        raise failed


def _in_line(results: queue.Queue[FetchResult | None], *,
             most: int) -> tuple[list[FetchResult], bool]:
    """The next result (waiting for it) and those already in line behind it, at most
    `most`; and whether the end of the results (None) was reached."""
    batch: list[FetchResult] = []
    result = results.get()
    while result is not None:
        batch.append(result)
        if len(batch) == most:
            return batch, False
        try:
            result = results.get_nowait()
        except queue.Empty:
            return batch, False
    return batch, True


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


@dataclass(frozen=True, slots=True, kw_only=True)
class NewIssue:
    """What `new_issue` wrote, and why: the date it chose, and why no candidates
    were offered when none were."""

    path: Path
    number: int
    date: dt.date
    why_date: str
    offered: int
    none_offered: str = ""  # why none were offered ("" when some were)
    hint: str = ""  # what to do about it


def new_issue(settings: Settings, *, date: dt.date | None = None,
              today: dt.date | None = None) -> NewIssue:
    """Write the next issue as a draft, offering the best unused candidates.

    Without `date`, the next date at the desk's `cadence` after the newest
    issue (never a date that has an issue; today on a desk with none).
    """
    from .desk.cadence import Cadence, choose_issue_date
    from .desk.drafts import draft_text, write_new_file

    issues = {path: _issue_meta(path) for path in find_issue_files(settings)}
    dated = [*(d for _, d in issues.values()), *map(_stem_date, issues)]
    taken = {d for d in dated if d is not None}
    if date is None:
        cadence = Cadence.parse(settings.cadence) if settings.cadence else None
        date, why = choose_issue_date(cadence, taken, today or dt.datetime.now(dt.UTC).date())
    else:
        why = "the date given"
    path = settings.issues_dir / f"{date.isoformat()}.yaml"
    holder = next((p for p, (_, d) in issues.items() if d == date), None)
    if path.exists() or holder is not None:
        raise NewsletterError(f"{relative_to_cwd(holder or path)} already is the issue of "
                              f"{date.isoformat()}",
                              hint="pass another --date, or edit that issue")
    number = max((n for n, _ in issues.values() if n), default=0) + 1
    offered, why_none, hint = _offer(settings)
    settings.issues_dir.mkdir(parents=True, exist_ok=True)
    try:
        write_new_file(path, draft_text(number=number, date=date,
                                        candidates=offered).encode("utf-8"))
    except FileExistsError as exc:
        raise NewsletterError(f"{relative_to_cwd(path)} already exists",
                              hint="pass another --date, or edit that issue") from exc
    return NewIssue(path=relative_to_cwd(path), number=number, date=date, why_date=why,
                    offered=len(offered), none_offered=why_none, hint=hint)


def _offer(settings: Settings) -> tuple[list[Story], str, str]:
    """The best unused candidates since the last issue; when there are none, why,
    and what to do."""
    from .desk.drafts import rank_candidates

    fetch_first = 'run "newsletter fetch", then "newsletter candidates" to see them'
    if not settings.feeds and not store_path(settings).is_file():
        return [], "newsletter.yaml lists no feeds", \
            'add one with "newsletter feeds add URL", then run "newsletter fetch"'
    if not store_path(settings).is_file():
        return [], "the feeds have not been fetched yet", fetch_first
    with open_store(settings) as store:
        last = store.last_issue_date()
        since = dt.datetime.combine(last, dt.time(), dt.UTC) if last else None
        pool = store.search(since=since, unused=True, skipped=False, limit=200)
        ran = story_uses(settings, [s.id for s in pool], store=store)
        offered = rank_candidates(s for s in pool if s.id not in ran)
        if offered:
            return offered, "", ""
        if not store.search(limit=1):
            if not store.feed_status():
                return [], "the feeds have not been fetched yet", fetch_first
            return [], "the feeds gave no stories yet", \
                'see what each feed said with "newsletter feeds"'
        if not pool and store.search(since=since, unused=True, skipped=True, limit=1):
            return [], "every unused candidate since the last issue was skipped", \
                'see them with "newsletter candidates --skipped"; fetch new stories with ' \
                '"newsletter fetch"'
        if pool or not store.search(unused=True, limit=1):
            return [], "every candidate in the store already ran in an issue", \
                'fetch new stories with "newsletter fetch", or keep a page with ' \
                '"newsletter add URL"'
    return [], f"no unused candidate since the last issue ({last})", \
        'fetch new stories with "newsletter fetch"; older ones: ' \
        '"newsletter candidates --unused"'


@dataclass(frozen=True, slots=True, kw_only=True)
class PickReport:
    """What `pick` did, the story it picked, and the other issues it ran in."""

    edit: Edit
    story: Story
    ran_in: tuple[Use, ...]


def pick(settings: Settings, ref: str, *, into: str, issue_file: Path | None = None,
         replace: bool = False, expected_digest: str | None = None) -> PickReport:
    """Add a candidate to an issue (the newest one unless named); see
    `desk.drafts.pick` for what is refused. `expected_digest` refuses the edit
    when the file is no longer the one the caller read."""
    from .desk import drafts

    target = _target_issue(settings, issue_file)
    with _existing_store(settings) as store:
        story = _find_candidate(store, ref)
        lookup = PinnedLookup(read_lock(lock_path(target)), store)
        edit = drafts.pick(target, story, into, lookup=lookup, replace=replace,
                           expected_digest=expected_digest)
        number, _ = _issue_meta(target)
        uses = story_uses(settings, [story.id], store=store).get(story.id, ())
    return PickReport(edit=edit, story=story,
                      ran_in=tuple(use for use in uses if use.number != number))


def unpick(settings: Settings, ref: str, *, issue_file: Path | None = None,
           expected_digest: str | None = None) -> Edit:
    """Take a story out of an issue (the newest one unless named)."""
    from .desk import drafts

    target = _target_issue(settings, issue_file)
    with _issue_lookup(settings, target) as lookup:
        return drafts.unpick(target, ref, lookup=lookup, expected_digest=expected_digest)


def move(settings: Settings, ref: str, *, to: int | None = None, before: str | None = None,
         issue_file: Path | None = None, expected_digest: str | None = None) -> Edit:
    """Move a story within its section of an issue (the newest one unless named):
    to position `to` (from 1), or before the story `before`."""
    from .desk import drafts

    target = _target_issue(settings, issue_file)
    with _issue_lookup(settings, target) as lookup:
        return drafts.move(target, ref, to=to, before=before, lookup=lookup,
                           expected_digest=expected_digest)


def _target_issue(settings: Settings, issue_file: Path | None) -> Path:
    target = issue_file or next(reversed(find_issue_files(settings)), None)
    if target is None:
        raise NewsletterError("there is no issue to pick into",
                              hint='start one with "newsletter new"')
    return target


@contextmanager
def _issue_lookup(settings: Settings, issue_file: Path) -> Iterator[PinnedLookup]:
    """How the stories of an issue file are found: its lock file, then the store."""
    store = StoreOpener(settings)()
    try:
        yield PinnedLookup(read_lock(lock_path(issue_file)), store)
    finally:
        if store is not None:
            store.close()


def _issue_meta(path: Path) -> tuple[int | None, dt.date | None]:
    """An issue's number and date, read without validating the rest."""
    from .desk._yaml import load_yaml

    doc = load_yaml(path, [])
    data = doc.data if doc and isinstance(doc.data, dict) else {}
    number, date = data.get("number"), data.get("date")
    return (number if isinstance(number, int) and not isinstance(number, bool) else None,
            date if isinstance(date, dt.date) and not isinstance(date, dt.datetime) else
            _stem_date(path))


def _stem_date(path: Path) -> dt.date | None:
    try:
        return dt.date.fromisoformat(path.stem)
    except ValueError:
        return None


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


@dataclass(frozen=True, slots=True, kw_only=True)
class AddedFeed:
    """What `add_feed` added to newsletter.yaml, and how it was found."""

    feed: FeedSpec
    found: FoundFeed


def add_feed(settings: Settings, url: str, *, now: dt.datetime | None = None) -> AddedFeed:
    """Add the feed at `url` to newsletter.yaml, or the feed an ordinary page at
    `url` names (`<link rel="alternate">`), named by its title. A feed the desk
    already reads is refused; the new text is read back by `load_settings`
    before it replaces the file, as `import_feeds` does."""
    from .collect.web import find_feed
    from .desk.drafts import add_feeds

    _refuse_known_feed(settings, url)
    found = find_feed(url, now=now or dt.datetime.now(dt.UTC))
    _refuse_known_feed(settings, found.url)
    added = add_feeds(settings.root / SETTINGS_FILE,
                      [FeedSpec(name=_feed_name(found.title, found.url), url=found.url)],
                      read_back=load_settings, source=found.url)
    return AddedFeed(feed=added[0], found=found)


def _refuse_known_feed(settings: Settings, url: str) -> None:
    from .collect.canonical import canonical_url

    same = {url, canonical_url(url)}
    known = next((f for f in settings.feeds if f.url and {f.url, canonical_url(f.url)} & same),
                 None)
    if known is not None:
        raise NewsletterError(f'the desk already reads {known.url} as "{known.name}"',
                              hint='see its feeds with "newsletter feeds"')


def _feed_name(title: str, url: str) -> str:
    """A feed's name in newsletter.yaml: its title on one printable line, else its host."""
    from urllib.parse import urlsplit

    name = " ".join("".join(c for c in title if c.isprintable() or c.isspace()).split())
    if len(name) > 60:
        name = name[:60].rsplit(" ", 1)[0] or name[:60]
    return name or urlsplit(url).hostname or url


def enable_feed(settings: Settings, name: str) -> tuple[FeedSpec, bool]:
    """Ask a feed again that its server said was gone (HTTP 410).

    Returns the feed (named case-insensitively) and whether it was marked gone.
    """
    spec = _desk_feed(settings, name)
    if not store_path(settings).is_file():
        return spec, False
    with open_store(settings) as store:
        return spec, store.enable_feed(spec.name)


def export_feeds(settings: Settings) -> str:
    from .collect.opml import feeds_to_opml

    return feeds_to_opml(settings.feeds, title=settings.name)


# --- the desk in the browser ----------------------------------------------------------


class BrowserDesk:
    """What the desk in the browser does, as calls of the library: `preview_server`
    hands one to the preview, whose desk side may not import the stages.

    Every method is a thin call of the functions the CLI uses (`pick`, `unpick`,
    `move`, `check_issue`, `send_test`, `desk.drafts.set_field`, `set_issue_field`,
    `set_bullets` and `restore`);
    every write carries the digest of the file it was made against and is
    refused (`drafts.EditConflict`) if the file changed on disk since. Nothing
    is kept between calls: each opens the store for its own thread.
    """

    def candidates(self, settings: Settings, query: CandidateQuery) -> CandidatePage:
        """One page of candidates, newest first, with how many match in all."""
        if not 1 <= query.limit <= MAX_PAGE or query.offset < 0:
            raise NewsletterError(f"a page holds 1 to {MAX_PAGE} candidates from offset 0 up "
                                  f"(asked: {query.limit} from {query.offset})",
                                  hint=f"ask for limit=1..{MAX_PAGE} and offset>=0")
        with _existing_store(settings) as store:
            feed = _source_named(settings, store, query.feed) if query.feed else None
            page = store.page(words=query.words, since=query.since, feed=feed,
                              unused=query.unused, starred=query.starred,
                              skipped=query.skipped, offset=query.offset, limit=query.limit)
            return _with_uses(settings, store, page)

    def mark(self, settings: Settings, story_id: str, *, starred: bool | None = None,
             skipped: bool | None = None) -> CandidateRow:
        """Star or skip a candidate (by its exact id), or take the mark off (False);
        a story is never both. Returns its row as the list now shows it."""
        if starred and skipped:
            raise NewsletterError("a story is starred or skipped, not both",
                                  hint="star it, or skip it")
        with _existing_store(settings) as store:
            if store.mark(story_id, starred=starred, skipped=skipped,
                          now=dt.datetime.now(dt.UTC)) is None:
                raise NewsletterError(f'no candidate "{story_id}"',
                                      hint="reload the list: it may have been pruned")
            row = store.row(story_id)
            assert row is not None  # marked just now, in this thread's connection
            from .model import CandidatePage

            return _with_uses(settings, store, CandidatePage(rows=(row,), total=1,
                                                             offset=0)).rows[0]

    def panel(self, settings: Settings, issue_file: Path) -> IssuePanel:
        """The issue's items in their slots, as the YAML places them, with headlines
        and blurbs as readers see them; an issue that cannot be read or resolved
        gives `error` and whatever items can be placed."""
        return issue_panel(settings, issue_file)

    def pick(self, settings: Settings, issue_file: Path, story_id: str, *, into: str,
             digest: str, replace: bool = False) -> Edit:
        return pick(settings, story_id, into=into, issue_file=issue_file, replace=replace,
                    expected_digest=digest).edit

    def unpick(self, settings: Settings, issue_file: Path, story_ref: str, *,
               digest: str) -> Edit:
        return unpick(settings, story_ref, issue_file=issue_file, expected_digest=digest)

    def move(self, settings: Settings, issue_file: Path, story_ref: str, *,
             to: int | None = None, before: str | None = None, digest: str) -> Edit:
        return move(settings, story_ref, to=to, before=before, issue_file=issue_file,
                    expected_digest=digest)

    def edit(self, settings: Settings, issue_file: Path, story_ref: str, *,
             field: Literal["headline", "blurb"], value: str, digest: str) -> Edit:
        """Write, change or remove (`value` "") the item's headline or blurb override."""
        return set_field(settings, story_ref, field=field, value=value, issue_file=issue_file,
                         expected_digest=digest)

    def edit_issue(self, settings: Settings, issue_file: Path, *,
                   field: Literal["subject", "preheader", "intro"], value: str,
                   digest: str) -> Edit:
        """Write, change or remove (`value` "") the issue's subject, preheader or intro."""
        from .desk.drafts import set_issue_field

        return set_issue_field(issue_file, field, value, expected_digest=digest)

    def edit_bullets(self, settings: Settings, issue_file: Path, bullets: Sequence[str], *,
                     digest: str) -> Edit:
        """Write the lead's bullets, one line each (none: the key goes)."""
        from .desk.drafts import set_bullets

        return set_bullets(issue_file, bullets, expected_digest=digest)

    def restore(self, settings: Settings, issue_file: Path, data: bytes, *,
                digest: str) -> Edit:
        """Undo: put back `data` (an edit's `before`) if the file is still the one
        `digest` names (the edit's own)."""
        from .desk.drafts import restore

        return restore(issue_file, data, expected_digest=digest)

    def findings(self, settings: Settings, issue_file: Path, *, links: bool) -> CheckReport:
        """`newsletter check` of the issue: offline, unless `links` (every link asked)."""
        return check_issue(issue_file, settings, offline=not links)

    def send_test(self, settings: Settings, issue_file: Path, to: str) -> str:
        """Send the issue, marked [TEST], to one address through the desk's SMTP
        server (the password only from the environment); the subject sent."""
        return str(send_test(issue_file, settings, [to])["Subject"])


def set_field(settings: Settings, ref: str, *, field: str, value: str,
              issue_file: Path | None = None, expected_digest: str | None = None) -> Edit:
    """Write, change or remove (`value` "") a story's `headline:` or `blurb:` in an
    issue (the newest one unless named); see `desk.drafts.set_field`."""
    from .desk import drafts

    target = _target_issue(settings, issue_file)
    with _issue_lookup(settings, target) as lookup:
        return drafts.set_field(target, ref, field, value, lookup=lookup,
                                expected_digest=expected_digest)


def _with_uses(settings: Settings, store: Store, page: CandidatePage) -> CandidatePage:
    """The page with each story's issues (the store's record and the lock files')."""
    uses = story_uses(settings, [row.id for row in page.rows], store=store)
    return dataclasses.replace(page, rows=tuple(
        dataclasses.replace(row, used_in=uses.get(row.id, ())) for row in page.rows))


def issue_panel(settings: Settings, issue_file: Path) -> IssuePanel:
    """`BrowserDesk.panel`: the slots from the YAML (`drafts.issue_slots`), what
    they show from the issue resolved as a build resolves it (offline: no
    picture is measured). Both come from the same bytes: read again (at most
    three times) when the file changed in between."""
    from .desk import drafts
    from .model import IssuePanel

    for _ in range(3):
        try:
            with _issue_lookup(settings, issue_file) as lookup:
                slots = drafts.issue_slots(issue_file, lookup)
        except NewsletterError as exc:
            return IssuePanel(path=issue_file, digest=_digest_or_empty(issue_file), items=(),
                              error=str(exc))
        shown, error = _shown(settings, issue_file)
        if _digest_or_empty(issue_file) == slots.digest:
            break
    items = tuple(_panel_item(slot, shown.get((slot.slot, slot.position)))
                  for slot in slots.slots)
    return IssuePanel(path=issue_file, digest=slots.digest, items=items, error=error)


_Shown = dict[tuple[str, int], tuple[str, str]]  # (slot, position) -> (headline, blurb)


def _shown(settings: Settings, issue_file: Path) -> tuple[_Shown, str]:
    """Each item's headline and blurb as readers see them, by slot and position;
    or nothing and why, when the issue cannot be resolved."""
    from .model import CatchUpItem, DeepDive, TextBlock, Video

    try:
        issue = pinned_issue(issue_file, settings, offline=True).issue
    except NewsletterError as exc:
        return {}, str(exc)
    shown: _Shown = {("lead", 1): (issue.lead.headline, "")}
    for n, block in enumerate(issue.lead.body, 1):
        shown["lead.body", n] = (_excerpt(block.markdown) if isinstance(block, TextBlock)
                                 else block.title if isinstance(block, Video)
                                 else block.headline, "")
    sections = [("catch_up", issue.catch_up.items if issue.catch_up else ()),
                ("deep_dives", issue.deep_dives.items if issue.deep_dives else ())]
    for name, items in sections:
        for n, item in enumerate(items, 1):
            shown[name, n] = (item.headline, item.blurb) \
                if isinstance(item, CatchUpItem | DeepDive) else (_excerpt(item.markdown), "")
    for n, sponsor in enumerate(issue.sponsors, 1):
        shown["sponsors", n] = (sponsor.headline, "")
    return shown, ""


def _panel_item(slot: Slot, shown: tuple[str, str] | None) -> PanelItem:
    """A slot of the YAML as the panel lists it; without `shown` (the issue did not
    resolve), the headline and blurb as written, else the candidate's title."""
    from .model import PanelItem

    written = _excerpt(slot.text) if slot.kind == "text" else \
        slot.headline if slot.headline is not None else slot.title
    headline, blurb = shown or (written, slot.blurb or "")
    return PanelItem(slot=slot.slot, position=slot.position, line=slot.line,
                     story=slot.story_id, url=slot.url, headline=headline,
                     blurb=blurb if slot.slot in ("catch_up", "deep_dives") else "",
                     headline_written=slot.headline is not None,
                     blurb_written=slot.blurb is not None, kind=slot.kind)


def _excerpt(markdown: str, limit: int = 120) -> str:
    """A free paragraph or text block named in one line: its first words."""
    line = " ".join(markdown.split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def _digest_or_empty(path: Path) -> str:
    from .desk.drafts import file_digest

    try:
        return file_digest(path)
    except OSError:
        return ""
