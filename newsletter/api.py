"""The one place that wires the stages together; the CLI is a shell over this."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from ._folders import replace_folder
from .assets import resolve_assets
from .config import find_settings, load_settings, relative_to_cwd
from .editorial import NO_STORE, StoryLookup, load_issue
from .errors import NewsletterError
from .model import Issue, RenderedIssue, Settings, Status
from .render import Renderer, issue_url

__all__ = ["BuiltIssue", "build_issue", "build_issues", "find_issue_files", "init_desk",
           "load_desk", "render_issue"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltIssue:
    """What `build_issue` did: the issue, its outputs, and the files written.

    A draft left out of the build has no outputs and no folder.
    """

    issue: Issue
    rendered: RenderedIssue | None
    folder: Path | None
    files: tuple[Path, ...] = ()

    @property
    def skipped(self) -> bool:
        return self.rendered is None


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
    return issue, _render(issue, settings, renderer)


def _render(issue: Issue, settings: Settings, renderer: Renderer | None) -> RenderedIssue:
    assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo)
    return (renderer or Renderer(settings)).render(issue, assets)


def build_issue(path: Path, settings: Settings, *, out_dir: Path | None = None,
                lookup: StoryLookup = NO_STORE, renderer: Renderer | None = None,
                taken: dict[str, Path] | None = None, drafts: bool = True) -> BuiltIssue:
    """Render one issue and write `issues/<slug>/` under `out_dir` in one swap.

    Everything is rendered before the first byte is written, and the folder
    is assembled aside, so a failure leaves the previous build as it was.
    """
    issue = load_issue(path, settings, lookup)
    if issue.status is Status.DRAFT and not drafts:
        return BuiltIssue(issue=issue, rendered=None, folder=None)
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
    written = replace_folder(target, outputs)
    return BuiltIssue(issue=issue, rendered=rendered, folder=target, files=written)


def build_issues(paths: Iterable[Path], settings: Settings, *, out_dir: Path | None = None,
                 lookup: StoryLookup = NO_STORE, drafts: bool = True) -> Iterator[BuiltIssue]:
    """Build several issues with one renderer, yielding each as it is written
    (or passed over, for a draft when `drafts` is off).

    Two issues with the same slug would overwrite each other: the second stops
    the run instead.
    """
    renderer = Renderer(settings)
    built_from: dict[str, Path] = {}
    for path in paths:
        built = build_issue(path, settings, out_dir=out_dir, lookup=lookup, renderer=renderer,
                            taken=built_from, drafts=drafts)
        if not built.skipped:
            built_from[built.issue.slug] = path
        yield built


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
