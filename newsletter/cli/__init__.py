"""The `newsletter` command: a few lines per command over `api`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__
from ..errors import NewsletterError

if TYPE_CHECKING:
    from ..api import BuiltIssue

F = TypeVar("F", bound=Callable[..., Any])

#: From this many issues on, a build shows a progress bar instead of a line per issue.
PROGRESS_FROM = 6


def user_errors(command: F) -> F:
    """Print a NewsletterError as message + hint and exit 1; bugs keep their traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NewsletterError as exc:
            click.echo(f"{click.style('error:', fg='red', bold=True)} {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]  # wraps keeps the signature click reads


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsletter")
def main() -> None:
    """Build curated newsletter issues (email, plain text, web page) from YAML files."""


@main.command()
@click.argument("issues", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write here instead of the desk's output folder (site/).")
@click.option("--drafts", is_flag=True,
              help="With no ISSUES, build drafts too (named issues are always built).")
@click.option("--refresh", is_flag=True,
              help="Resolve story: references from the candidate store again, not from the "
                   "issue's lock file.")
@user_errors
def build(issues: tuple[Path, ...], out_dir: Path | None, drafts: bool, refresh: bool) -> None:
    """Build issues into web page, email and text files.

    With no ISSUES, builds every issue in the desk's issues/ folder whose
    status is ready (and the drafts too with --drafts).

    \b
    Example:
      newsletter build issues/2026-11-27.yaml
      newsletter build --drafts
    """
    from .. import api

    settings = api.load_desk(issues[0] if issues else Path.cwd())
    paths = list(issues) or api.find_issue_files(settings)
    if not paths:
        raise NewsletterError(f"no issue files in {settings.issues_dir}",
                              hint='write one, e.g. issues/2026-11-27.yaml ("newsletter init" '
                                   "shows the format)")
    results = api.build_issues(paths, settings, out_dir=out_dir, drafts=drafts or bool(issues),
                               refresh=refresh)
    if len(paths) >= PROGRESS_FROM:
        results = iter(list(_with_progress(results, len(paths))))
    done = [_report(built, quiet=len(paths) >= PROGRESS_FROM) for built in results]
    if len(paths) >= PROGRESS_FROM:
        folder = (out_dir or settings.output_dir) / "issues"
        click.echo(f"built {done.count(True)} issues into {_shown(folder)}/")
    if done.count(False):
        click.echo(f"skipped {done.count(False)} draft{'s' * (done.count(False) > 1)}; "
                   "build them with --drafts")


def _report(built: BuiltIssue, *, quiet: bool) -> bool:
    """Print what one build wrote; True if it built, False for a skipped draft."""
    if built.folder is None:
        return False
    if quiet:
        return True
    click.echo(f"{click.style('built', fg='green')} {_shown(built.source)} -> "
               f"{_shown(built.folder)}/")
    for file in built.files[:3]:
        click.echo(f"  {_shown(file)}  ({file.stat().st_size:,} bytes)")
    pictures = len(built.files) - 3
    if pictures:
        click.echo(f"  + {pictures} picture{'s' if pictures > 1 else ''}")
    return True


def _with_progress(items: Iterable[BuiltIssue], total: int) -> Iterator[BuiltIssue]:
    # rich is imported only here: it costs ~20 ms, more than building one issue
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("building issues", total=total)
        for item in items:
            progress.advance(task)
            yield item


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@user_errors
def init(folder: Path) -> None:
    """Create a new desk in FOLDER with settings, an example issue and a publish workflow.

    \b
    Example:
      newsletter init my-desk && cd my-desk && newsletter build
    """
    from .. import api

    for path in api.init_desk(folder):
        click.echo(f"{click.style('wrote', fg='green')} {_shown(path)}")
    click.echo(f'next: cd {folder} and run "newsletter build"')


def _shown(path: Path) -> str:
    from ..config import relative_to_cwd

    return str(relative_to_cwd(path.resolve()))


from . import collect  # noqa: E402 - registers the collecting commands on `main`

_ = collect
