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

The issue page is the editor's desk: the candidates, the issue's panel and
its findings beside the live views. Its JSON routes under `/api/` are
`preview.routes`' (`DeskRoutes`), which this class hands the requests, the
settings and the desk's own issue files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
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
from ..model import (
    GMAIL_CLIP_BYTES,
    Issue,
    Paths,
    RenderedIssue,
    Settings,
)
from ..render import DEFAULT_THEME, NAV_MARKER, Renderer
from .routes import SLOT_NAMES, DeskActions, DeskRoutes, FindingsReport, file_digest
from .server import API_PREFIX, Page

__all__ = ["DESK_CSP", "VIEW_CSP", "DeskActions", "DeskPreview", "FindingsReport"]

_HTML = "text/html; charset=utf-8"
_JSON = "application/json"
#: The desk's own pages: scripts and styles from this server only, never inline.
DESK_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
            "img-src 'self' https: http: data:; connect-src 'self'; frame-src 'self'; "
            "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: The rendered issue in the desk's frames: its inline styles (an email needs them), the
#: view script (/__view.js), the video players the web page embeds; no inline script.
VIEW_CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
            "img-src 'self' https: http: data:; "
            "frame-src https://www.youtube-nocookie.com https://player.vimeo.com; "
            "font-src 'self' https: data:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'self'")
#: The desk's browser code and styles, served from ui/ by these names only.
_CSS, _JS = "text/css; charset=utf-8", "text/javascript; charset=utf-8"
_UI_FILES = {"preview.css": _CSS, "desk.css": _CSS, "desk.js": _JS, "preview.js": _JS,
             "start.js": _JS}
VIEW_SCRIPT = "/__view.js"
_IMG = re.compile(r'(<img\b[^>]*?)\ssrc="[^"]*"', re.IGNORECASE)
_PICTURE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                  ".gif": "image/gif"}
_UNBUILT_WORDS = "This issue does not build just now: the desk shows what to fix."

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
    file_digest: str = ""  # of the file's bytes as read for this build (the panel's)

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
    """Renders the desk's issues on demand and again when their files change,
    and hands the desk's JSON routes to `DeskRoutes` over `actions`."""

    def __init__(self, root: Path, server_url: str, *, render: IssueRenderer,
                 actions: DeskActions | None = None, token: str = "",
                 writable: bool = True) -> None:
        self.render = render
        self.actions = actions
        self.token = token
        self.writable = writable and actions is not None
        self.settings_file = find_settings(root)
        self.root = self.settings_file.parent
        self.server_url = server_url
        self._lock = threading.RLock()
        self._ui_files: dict[str, bytes] = {}
        self._desk_settings: Settings | None = None  # as written: for sends and checks
        self._own_writes: dict[Path, str] = {}  # files the desk wrote, by digest: built once
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
        self._routes = DeskRoutes(self, actions)

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
                if not everything and self._already_built(source):
                    continue
                self._built.pop(source)
                if source in sources:
                    self._get(source)  # ready before the open page asks
            self._start_digest = self._start_view()["digest"]

    def fingerprint(self) -> tuple[str, ...]:
        """The start page's digest, then each built issue's and its file's, as of
        the last change: the server compares them before and after `changed`. (The
        files changed before the watcher said so: a start page made now would
        already hold it.) A file's own digest counts, though a change of its
        comments shows nowhere else: the desk's panel must hear of it."""
        with self._lock:
            return (self._start_digest,
                    *(f"{source}\0{built.digest}\0{built.file_digest}"
                      for source, built in sorted(self._built.items())))

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def page(self, path: str, query: Mapping[str, str]) -> Page | None:
        if path.startswith(API_PREFIX):
            return self._routes.get(path, query)
        if path == VIEW_SCRIPT:
            return Page(self._ui_file("view.js"), _JS)
        if path.startswith("/__ui/") and path.removeprefix("/__ui/") in _UI_FILES:
            name = path.removeprefix("/__ui/")
            return Page(self._ui_file(name), _UI_FILES[name])
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
            self._desk_settings = None
            return
        # links and pictures point at this server, so the preview shows them
        self._desk_settings = real
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
        file_digest_now = file_digest(source)  # read first: a save meanwhile builds again
        if settings is None or renderer is None:
            return _failed(source, self._settings_error, file_digest_now)
        try:
            # named as the editor would type it, so errors read issues/x.yaml:12
            issue, rendered = self.render(relative_to_cwd(source), settings, renderer=renderer)
        except NewsletterError as exc:
            return _failed(source, exc, file_digest_now)
        self._slugs[source] = issue.slug
        sent = rendered.email_html.replace(self.server_url, self._real_base)
        built = _Built(source=source, key=issue.slug, issue=issue, rendered=rendered,
                       email_bytes=len(sent.encode()), file_digest=file_digest_now)
        return replace(built, digest=_built_digest(built))

    def _already_built(self, source: Path) -> bool:
        """The desk's own write of `source` was built already (when it answered);
        the watcher is only now hearing of it."""
        written = self._own_writes.get(source)
        built = self._built.get(source)
        if written is None or built is None or built.file_digest != written:
            return False
        if file_digest(source) != written:
            self._own_writes.pop(source, None)  # changed again since: build it
            return False
        self._own_writes.pop(source, None)
        return True

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
        html = self._ui.get_template("start.html").render(**self._start_view(),
                                                          token=self.token)
        return Page(html.encode(), _HTML, csp=DESK_CSP)

    def _issue_page(self, built: _Built, rest: str, query: Mapping[str, str], *,
                    trailing: bool) -> Page | None:
        if rest == "" and trailing:
            settings = self._settings
            html = self._ui.get_template("issue.html").render(
                built=built, state=self._state(built), clip=GMAIL_CLIP_BYTES,
                token=self.token, writable=self.writable, desk=self.actions is not None,
                feeds=[f.name for f in settings.feeds] if settings else [],
                slots=SLOT_NAMES)
            return Page(html.encode(), _HTML, csp=DESK_CSP)
        if rest == "state.json":
            return Page(json.dumps(self._state(built)).encode(), _JSON)
        rendered = built.rendered
        if rendered is None:
            # The issue does not build (a save half written, a typo): the page shows
            # the error over its views; a view asked for meanwhile gets a word, not a 404.
            return _UNBUILT.get(rest)
        if rest == "index.html":
            return Page(_shown(rendered.web_html.replace(NAV_MARKER, ""), query), _HTML,
                        csp=VIEW_CSP)
        if rest == "email.html":
            return Page(_shown(rendered.email_html, query), _HTML, csp=VIEW_CSP)
        if rest == "email.txt":
            return Page(rendered.text.encode(), "text/plain; charset=utf-8", csp=VIEW_CSP)
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
            "file": built.file_digest,  # the desk's panel reloads when this moves
        }

    def _ui_file(self, name: str) -> bytes:
        """One of ui/'s files (by a name of the list, never one from a request)."""
        data = self._ui_files.get(name)
        if data is None:
            data = (importlib.resources.files("newsletter.preview") / "ui" / name).read_bytes()
            self._ui_files[name] = data
        return data

    # --- what the desk's routes ask (`routes.IssueFiles`) -------------------------

    def post(self, path: str, body: Mapping[str, Any]) -> Page | None:
        """A write from the desk's page (the server checked where it came from)."""
        return self._routes.post(path, body)

    def desk_settings(self) -> Settings:
        settings = self._desk_settings
        if settings is None:
            raise self._settings_error or NewsletterError(
                "the desk's settings cannot be read", hint="fix newsletter.yaml and save")
        return settings

    def issue_file(self, slug: str) -> Path | None:
        with self._lock:
            for source in self._sources():
                if slug in (source.stem, self._listing(source).key, self._slugs.get(source)):
                    return source
        return None

    def wrote(self, source: Path, digest: str) -> None:
        with self._lock:
            self._own_writes[source] = digest


def _failed(source: Path, error: NewsletterError | None, file_digest: str = "") -> _Built:
    built = _Built(source=source, key=source.stem, error=error, file_digest=file_digest)
    return replace(built, digest=_built_digest(built))


# Tells the preview page this view is laid out, before its pictures and players
# have loaded (a video player can hold back the load event for a long time): a
# script of the server's own (ui/view.js), as the views' CSP allows no inline one.
_READY = f'<script src="{VIEW_SCRIPT}"></script>'


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


def _unbuilt_views() -> dict[str, Page]:
    """What a view asked for while its issue does not build answers: a word, with
    the view script, so the page's frame settles instead of logging a 404."""
    html = _shown(f"<!doctype html><html><head><title>Not built</title></head><body>"
                  f"<p>{_UNBUILT_WORDS}</p></body></html>", {})
    page = Page(html, _HTML, csp=VIEW_CSP)
    return {"index.html": page, "email.html": page,
            "email.txt": Page(_UNBUILT_WORDS.encode(), "text/plain; charset=utf-8",
                              csp=VIEW_CSP)}


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


_UNBUILT = _unbuilt_views()
