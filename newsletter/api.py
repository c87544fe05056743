"""The one place that wires the stages together; the CLI is a shell over this."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .assets import resolve_assets
from .config import SETTINGS_FILE, find_settings, load_settings, relative_to_cwd
from .editorial import NO_STORE, StoryLookup, load_issue
from .errors import NewsletterError
from .model import Issue, RenderedIssue, Settings
from .render import Renderer, issue_url

__all__ = ["BuiltIssue", "build_issue", "build_issues", "find_issue_files", "init_desk",
           "load_desk", "render_issue"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltIssue:
    """What `build_issue` did: the issue, its outputs, and the files written."""

    issue: Issue
    rendered: RenderedIssue
    folder: Path
    files: tuple[Path, ...]


def load_desk(start: Path) -> Settings:
    """Settings of the desk holding `start` (a folder or a file inside the desk)."""
    folder = start if start.is_dir() else start.parent
    return load_settings(find_settings(folder))


def find_issue_files(settings: Settings) -> list[Path]:
    """Every issue file of the desk, oldest first (names are dates)."""
    return sorted(relative_to_cwd(path) for path in settings.issues_dir.glob("*.yaml"))


def render_issue(path: Path, settings: Settings, *, lookup: StoryLookup = NO_STORE,
                 renderer: Renderer | None = None) -> tuple[Issue, RenderedIssue]:
    """Read, validate and render one issue in memory; nothing is written."""
    issue = load_issue(path, settings, lookup)
    assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo)
    rendered = (renderer or Renderer(settings)).render(issue, assets)
    return issue, rendered


def build_issue(path: Path, settings: Settings, *, out_dir: Path | None = None,
                lookup: StoryLookup = NO_STORE, renderer: Renderer | None = None) -> BuiltIssue:
    """Render one issue and write `issues/<slug>/` under `out_dir` in one swap.

    Everything is rendered before the first byte is written, and the folder
    is assembled aside, so a failure leaves the previous build as it was.
    """
    issue, rendered = render_issue(path, settings, lookup=lookup, renderer=renderer)
    target = (out_dir or settings.output_dir) / "issues" / issue.slug
    outputs = {
        "index.html": rendered.web_html.encode(),
        "email.html": rendered.email_html.encode(),
        "email.txt": rendered.text.encode(),
        **dict(rendered.assets),
    }
    written = _replace_folder(target, outputs)
    return BuiltIssue(issue=issue, rendered=rendered, folder=target, files=written)


def build_issues(paths: Iterable[Path], settings: Settings, *, out_dir: Path | None = None,
                 lookup: StoryLookup = NO_STORE) -> Iterator[BuiltIssue]:
    """Build several issues with one renderer, yielding each as it is written."""
    renderer = Renderer(settings)
    for path in paths:
        yield build_issue(path, settings, out_dir=out_dir, lookup=lookup, renderer=renderer)


def _replace_folder(target: Path, outputs: dict[str, bytes]) -> tuple[Path, ...]:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, data in outputs.items():
            _write(staging / name, data)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return tuple(target / name for name in outputs)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        os.utime(path, (int(epoch), int(epoch)))


def _swap(staging: Path, target: Path) -> None:
    staging.chmod(0o755)  # mkdtemp makes it private; a web server must read it
    if not target.exists():
        staging.replace(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    target.replace(retired / "previous")
    staging.replace(target)
    shutil.rmtree(retired, ignore_errors=True)


def init_desk(folder: Path, today: dt.date | None = None) -> list[Path]:
    """Scaffold a new desk in `folder`: settings, one issue, templates/, the workflow."""
    if (folder / SETTINGS_FILE).exists():
        raise NewsletterError(f"{folder / SETTINGS_FILE} already exists",
                              hint="choose an empty folder for the new desk")
    date = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    written = []
    for relative, data in _scaffold_files():
        path = folder / relative.replace("DATE", date)
        data = data.replace(b"DATE", date.encode())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    (folder / "templates").mkdir(exist_ok=True)
    return written


def _scaffold_files() -> Iterator[tuple[str, bytes]]:
    scaffold = Path(__file__).resolve().parent / "scaffold"
    for path in sorted(scaffold.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(scaffold).as_posix()
            if relative.startswith("dot-"):  # hidden files would be skipped by packaging
                relative = "." + relative.removeprefix("dot-")
            yield relative, path.read_bytes()
