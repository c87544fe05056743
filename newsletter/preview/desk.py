"""The desk as the preview shows it: every issue rendered in memory, drafts
included, with errors kept as values to show as an overlay. This is `api`'s
preview half: it wires config, editorial, assets and render; the generic
server in `preview` asks it for pages and tells it what changed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape

from ..desk.config import find_settings, load_settings, relative_to_cwd
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


@dataclass(frozen=True, slots=True)
class _Listing:
    """An issue on the start page: read loosely, so a broken file is listed too."""

    source: Path
    key: str
    date: str
    subject: str
    status: str


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
        self._load_settings()

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
        """The watch filter: issue files, templates, settings, the candidate store."""
        name = Path(path).name
        if Path(path).parent == self.root:
            return name == self.settings_file.name
        if ".newsletter" in Path(path).parts:
            return name.startswith("candidates.sqlite")
        return not name.startswith(".") and not name.endswith(("~", ".swp", ".tmp"))

    def changed(self, paths: set[Path]) -> None:
        with self._lock:
            if any(self._affects_all(p) for p in paths):
                self._load_settings()
                self._built.clear()  # rebuilt when a page asks: only what is open
                return
            sources = set(self._sources())
            for path in (p.resolve() for p in paths):
                self._built.pop(path, None)
                if path in sources:
                    self._get(path)  # ready before the open page asks

    def page(self, path: str, query: Mapping[str, str]) -> Page | None:
        with self._lock:
            if path in ("/", "/index.html"):
                return self._start_page()
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
        path = path.resolve()
        settings = self._settings
        if path == self.settings_file.resolve() or path.is_relative_to(DEFAULT_THEME.resolve()):
            return True
        if settings is None:
            return True
        if path.is_relative_to(settings.templates_dir.resolve()):
            return True
        return path.name.startswith("candidates.sqlite")

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
            return _Built(source=source, key=source.stem, error=self._settings_error)
        try:
            # named as the editor would type it, so errors read issues/x.yaml:12
            issue, rendered = self.render(relative_to_cwd(source), settings, renderer=renderer)
        except NewsletterError as exc:
            return _Built(source=source, key=source.stem, error=exc)
        self._slugs[source] = issue.slug
        sent = rendered.email_html.replace(self.server_url, self._real_base)
        return _Built(source=source, key=issue.slug, issue=issue, rendered=rendered,
                      email_bytes=len(sent.encode()))

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

    def _start_page(self) -> Page:
        issues = sorted((self._listing(s) for s in self._sources()),
                        key=lambda listing: listing.date, reverse=True)
        html = self._ui.get_template("start.html").render(
            issues=issues, settings_error=_error_json(self._settings_error),
            name=self._settings.name if self._settings else self.root.name,
            root=str(self.root))
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
            "subject": built.issue.subject if built.issue else built.source.name,
            "error": _error_json(built.error),
            "email_bytes": built.email_bytes,
        }


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

