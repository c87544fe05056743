"""The desk as the preview shows it: every issue rendered in memory, drafts
included, with errors kept as values to show as an overlay. This is `api`'s
preview half: it wires config, editorial, assets and render; the generic
server in `preview` asks it for pages and tells it what changed.

Open pages reload only when what they show changed: every issue as built
carries a digest of all its outputs, the start page one of its list, and
the server moves the version only when a digest differs after a change.
The candidate store counts as changed only when another connection
committed a write to it (`_StoreWrites`), never because its side files
moved: rendering an issue with `story:` references reads the store, and
every read touches them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape

from ..desk.config import find_settings, load_settings, relative_to_cwd
from ..desk.lookup import store_path
from ..errors import InputError, NewsletterError
from ..model import GMAIL_CLIP_BYTES, Issue, Paths, RenderedIssue, Settings
from ..render import DEFAULT_THEME, NAV_MARKER, Renderer
from .server import Page

__all__ = ["DeskPreview"]

_HTML = "text/html; charset=utf-8"
_IMG = re.compile(r'(<img\b[^>]*?)\ssrc="[^"]*"', re.IGNORECASE)
_PICTURE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                  ".gif": "image/gif"}


@dataclass(frozen=True, slots=True)
class _Built:
    """One issue file as last built: its pages, or what stopped them."""

    source: Path
    key: str  # its address in the preview: the slug, or the file name if it failed
    issue: Issue | None = None
    rendered: RenderedIssue | None = None
    error: NewsletterError | None = None
    email_bytes: int = 0  # as it will be sent, with the real addresses
    digest: str = ""  # of everything its pages show: the same digest, the same pages

    @property
    def subject(self) -> str:
        return self.issue.subject if self.issue else self.source.name


@dataclass(frozen=True, slots=True)
class _Listing:
    """An issue on the start page: read loosely, so a broken file is listed too."""

    source: Path
    key: str
    date: str
    subject: str
    status: str


def _digest(*parts: str | bytes) -> str:
    """One SHA-256 over the parts, each prefixed by its length (so no two
    different lists of parts run together into the same bytes)."""
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        sha.update(len(data).to_bytes(8, "big"))
        sha.update(data)
    return sha.hexdigest()


def _built_digest(built: _Built) -> str:
    """Every output of the issue, its pictures, and what its page's bar shows."""
    rendered = built.rendered
    outputs: list[str | bytes] = []
    if rendered is not None:
        outputs = [rendered.email_html, rendered.web_html, rendered.text]
        for name, data in rendered.assets:
            # a picture from the desk is named by its content; made ones are bytes
            outputs += [name, data if isinstance(data, bytes) else b""]
    return _digest(built.key, built.subject, str(built.email_bytes),
                   json.dumps(_error_json(built.error), sort_keys=True), *outputs)


class _StoreWrites:
    """Tells a write to the candidate store from the preview's own reads of it.

    Every connection that opens the store (in WAL mode) opens its `-wal` for
    writing, which the watcher hears as "modified", and the last one to close
    removes `-wal` and `-shm`: so the files say nothing about the stories.
    SQLite's `PRAGMA data_version` does: asked on a connection held open, it
    changes exactly when another connection committed a write (a fetch, `add`,
    `prune`...). Holding that connection also means the renders' own
    connections are never the last, so they no longer create and remove the
    side files on every render.

    The connection never writes, but it is not opened read-only: when the
    preview stops it is the last to close, and a read-only one could not fold
    the WAL back into the store and remove it. Left behind, a WAL with frames
    would be replayed into whatever store is made next at that path, should
    the editor move this one aside as a damaged store's hint says. (SQLite
    leaves the WAL alone when the store was moved or removed while open.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None  # (device, inode): a store moved aside
        self._version: object = None
        self._look()

    def written(self) -> bool:
        """Whether the store was written to, made, removed or replaced since last asked."""
        before = (self._file, self._version)
        self._look()
        return (self._file, self._version) != before

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _look(self) -> None:
        try:
            stat = self.path.stat()
            file: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            file = None
        if file != self._file:
            self.close()  # a connection to the old file would never hear of the new one
            self._file = file
        self._version = None if file is None else self._data_version()

    def _data_version(self) -> object:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=rw",
                                             uri=True, isolation_level=None,
                                             check_same_thread=False)  # under the desk's lock
            version: int = self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as exc:  # not a database (yet): the renders say what is wrong
            self.close()
            return f"unreadable: {exc}"
        return version


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _read_listing(source: Path) -> _Listing:
    from ..desk._yaml import load_yaml

    doc = load_yaml(source, [])
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}

    def text(key: str, default: str) -> str:
        value = data.get(key)
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value) if isinstance(value, str | int) and value != "" else default

    return _Listing(source=source, key=text("slug", source.stem.lower()),
                    date=text("date", source.stem), subject=text("subject", source.name),
                    status=text("status", "draft") if doc is not None else "cannot read")


class IssueRenderer(Protocol):
    """`api.render_with_stories`: an issue file rendered in memory, `story:`
    references resolved as a build resolves them."""

    def __call__(self, path: Path, settings: Settings, *,
                 renderer: Renderer | None = ...) -> tuple[Issue, RenderedIssue]: ...


class DeskPreview:
    """Renders the desk's issues on demand and again when their files change."""

    def __init__(self, root: Path, server_url: str, *, render: IssueRenderer) -> None:
        self.render = render
        self.settings_file = find_settings(root)
        self.root = self.settings_file.parent
        self.server_url = server_url
        self._lock = threading.RLock()
        self._built: dict[Path, _Built] = {}
        self._slugs: dict[Path, str] = {}  # the slug each issue last built with
        self._listed: dict[Path, tuple[tuple[int, int], _Listing]] = {}
        self._settings: Settings | None = None
        self._real_base = ""
        self._settings_error: NewsletterError | None = None
        self._renderer: Renderer | None = None
        self._ui = Environment(loader=PackageLoader("newsletter.preview", "ui"),
                               autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        # the store's place depends on the desk's folder alone, not on its settings
        self._store = _StoreWrites(store_path(Settings(root=self.root, name="", base_url="")))
        self._load_settings()
        self._start_digest = self._start_view()["digest"]  # as of the last change

    # --- what the server asks ---------------------------------------------------

    def watched(self) -> list[Path]:
        """Folders watched with everything below them (the desk's own folder is
        watched alone, for newsletter.yaml: see `watched_flat`)."""
        settings = self._settings
        paths = Paths() if settings is None else settings.paths  # settings may be fixed later
        return [DEFAULT_THEME, self.root / paths.issues, self.root / paths.templates]

    def watched_flat(self) -> list[Path]:
        """The desk folder itself, not below it: editors that save by writing a new
        file and renaming it would leave a watch on newsletter.yaml itself behind.
        And `.newsletter/` for the candidate store, not below it: the site a
        build replaced is kept there, thousands of folders the preview ignores."""
        return [self.root, self.root / ".newsletter"]

    def wants(self, _change: Any, path: str) -> bool:
        """The watch filter: issue files, templates, settings, and the candidate
        store and its `-wal`, where its writes land (`-shm` and `-journal` never
        tell of a write the other two do not)."""
        name = Path(path).name
        if Path(path).parent == self.root:
            return name == self.settings_file.name
        if ".newsletter" in Path(path).parts:
            return self._is_store(Path(path))
        return not name.startswith(".") and not name.endswith(("~", ".swp", ".tmp"))

    def changed(self, paths: set[Path]) -> None:
        """Make again what the changed files are part of: after a write to the
        store or a change to the settings or theme, every issue built so far (an
        open page may show any of them); else the changed issue files that were
        built. Issues never built wait until a page asks for them."""
        with self._lock:
            # the store is asked first and always, so one write is one change however
            # its files tell of it
            everything = any(self._is_store(p) for p in paths) and self._store.written()
            if any(self._affects_all(p) for p in paths):
                self._load_settings()
                everything = True
            stale = set(self._built)
            if not everything:
                stale &= {p.resolve() for p in paths}
            sources = set(self._sources())
            for source in stale:
                self._built.pop(source)
                if source in sources:
                    self._get(source)  # ready before the open page asks
            self._start_digest = self._start_view()["digest"]

    def fingerprint(self) -> tuple[str, ...]:
        """The start page's digest, then each built issue's, as of the last change:
        the server compares them before and after `changed`. (The files changed
        before the watcher said so: a start page made now would already hold it.)"""
        with self._lock:
            return (self._start_digest,
                    *(f"{source}\0{built.digest}" for source, built in sorted(self._built.items())))

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def page(self, path: str, query: Mapping[str, str]) -> Page | None:
        with self._lock:
            if path in ("/", "/index.html"):
                return self._start_page()
            if path == "/state.json":
                return Page(json.dumps({"digest": self._start_view()["digest"]}).encode(),
                            "application/json")
            parts = path.strip("/").split("/")
            if len(parts) < 2 or parts[0] != "issues":
                return None
            built = self._find(parts[1])
            if built is None:
                return None
            return self._issue_page(built, "/".join(parts[2:]), query, trailing=path.endswith("/"))

    def problems(self) -> list[str]:
        """What stops any issue built so far, as the terminal shows it."""
        with self._lock:
            if self._settings_error is not None:
                return [str(self._settings_error)]
            return [str(b.error) for b in self._built.values() if b.error is not None]

    # --- building -----------------------------------------------------------------

    def _affects_all(self, path: Path) -> bool:
        """Settings and templates: every issue is made from them."""
        path = path.resolve()
        settings = self._settings
        if path == self.settings_file.resolve() or path.is_relative_to(DEFAULT_THEME.resolve()):
            return True
        if settings is None:
            return not self._is_store(path)
        return path.is_relative_to(settings.templates_dir.resolve())

    def _is_store(self, path: Path) -> bool:
        """The store, or the `-wal` its writes go to first: where a write is heard."""
        store = self._store.path
        return path.parent.resolve() == store.parent.resolve() and \
            path.name in (store.name, f"{store.name}-wal")

    def _load_settings(self) -> None:
        try:
            real = load_settings(self.settings_file)
        except NewsletterError as exc:
            self._settings, self._settings_error, self._renderer = None, exc, None
            return
        # links and pictures point at this server, so the preview shows them
        self._settings = replace(real, base_url=self.server_url)
        self._real_base = real.base_url
        self._settings_error = None
        self._renderer = Renderer(self._settings)

    def _sources(self) -> list[Path]:
        if self._settings is None:
            return []
        folder = self._settings.issues_dir
        return sorted((p.resolve() for p in folder.glob("*.yaml")), reverse=True)

    def _get(self, source: Path) -> _Built:
        built = self._built.get(source)
        if built is None:
            built = self._build(source)
            self._built[source] = built
        return built

    def _build(self, source: Path) -> _Built:
        settings, renderer = self._settings, self._renderer
        if settings is None or renderer is None:
            return _failed(source, self._settings_error)
        try:
            # named as the editor would type it, so errors read issues/x.yaml:12
            issue, rendered = self.render(relative_to_cwd(source), settings, renderer=renderer)
        except NewsletterError as exc:
            return _failed(source, exc)
        self._slugs[source] = issue.slug
        sent = rendered.email_html.replace(self.server_url, self._real_base)
        built = _Built(source=source, key=issue.slug, issue=issue, rendered=rendered,
                       email_bytes=len(sent.encode()))
        return replace(built, digest=_built_digest(built))

    def _find(self, key: str) -> _Built | None:
        """The issue at /issues/<key>/: by slug, or by file name for a broken one.
        Only that issue is rendered, however many the desk holds."""
        for source in self._sources():
            # a file broken since its last good build keeps the slug its page had
            if key in (source.stem, self._listing(source).key, self._slugs.get(source)):
                return self._get(source)
        return None

    def _listing(self, source: Path) -> _Listing:
        """What the start page shows of an issue, read without rendering it."""
        stamp = _stamp(source)
        found = self._listed.get(source)
        if found is None or found[0] != stamp:
            found = (stamp, _read_listing(source))
            self._listed[source] = found
        return found[1]

    # --- pages ---------------------------------------------------------------------

    def _start_view(self) -> dict[str, Any]:
        """What the start page shows (its template's context), and its digest."""
        issues = sorted((self._listing(s) for s in self._sources()),
                        key=lambda listing: listing.date, reverse=True)
        shown = {"settings_error": _error_json(self._settings_error),
                 "name": self._settings.name if self._settings else self.root.name,
                 "root": str(self.root)}
        listed = [[i.key, i.date, i.subject, i.status] for i in issues]
        digest = _digest(json.dumps({**shown, "issues": listed}, sort_keys=True))
        return {**shown, "issues": issues, "digest": digest}

    def _start_page(self) -> Page:
        html = self._ui.get_template("start.html").render(**self._start_view())
        return Page(html.encode(), _HTML)

    def _issue_page(self, built: _Built, rest: str, query: Mapping[str, str], *,
                    trailing: bool) -> Page | None:
        if rest == "" and trailing:
            html = self._ui.get_template("issue.html").render(
                built=built, state=self._state(built), clip=GMAIL_CLIP_BYTES)
            return Page(html.encode(), _HTML)
        if rest == "state.json":
            return Page(json.dumps(self._state(built)).encode(), "application/json")
        rendered = built.rendered
        if rendered is None:
            return None
        if rest == "index.html":
            return Page(_shown(rendered.web_html.replace(NAV_MARKER, ""), query), _HTML)
        if rest == "email.html":
            return Page(_shown(rendered.email_html, query), _HTML)
        if rest == "email.txt":
            return Page(rendered.text.encode(), "text/plain; charset=utf-8")
        for name, data in rendered.assets:  # only the issue's own pictures, by exact name
            if name == rest:
                body = data if isinstance(data, bytes) else data.read_bytes()
                return Page(body, _PICTURE_TYPES.get(Path(name).suffix.lower(),
                                                     "application/octet-stream"),
                            cache="max-age=31536000, immutable")  # named by content
        return None

    def _state(self, built: _Built) -> dict[str, Any]:
        return {
            "key": built.key,
            "subject": built.subject,
            "error": _error_json(built.error),
            "email_bytes": built.email_bytes,
            "digest": built.digest,  # the page reloads its views only when this moves
        }


def _failed(source: Path, error: NewsletterError | None) -> _Built:
    built = _Built(source=source, key=source.stem, error=error)
    return replace(built, digest=_built_digest(built))


# Tells the preview page this view is laid out, before its pictures and players
# have loaded (a video player can hold back the load event for a long time).
_READY = ("<script>document.addEventListener('DOMContentLoaded',function(){"
          "parent.postMessage({newsletterPreview:'ready',search:location.search},'*')})"
          "</script>")


def _shown(html: str, query: Mapping[str, str]) -> bytes:
    """The page as a reader with dark mode on, or with pictures off, would see it."""
    if query.get("dark") == "1":
        html = html.replace("prefers-color-scheme: dark", "min-width: 0")
    if query.get("images") == "0":
        html = _IMG.sub(r"\1", html)
    head = html.find("</head>")
    if head != -1:
        html = html[:head] + _READY + html[head:]
    return html.encode()


def _error_json(error: NewsletterError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    if isinstance(error, InputError):
        problems = [{"where": str(p.location), "field": p.field, "message": p.message,
                     "hint": p.hint} for p in error.problems]
    else:
        problems = [{"where": str(error.location or ""), "field": "", "message": error.message,
                     "hint": error.hint}]
    return {"title": error.message if isinstance(error, InputError) else "Cannot build",
            "problems": problems}

