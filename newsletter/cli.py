"""The `newsletter` command: a few lines per command over `api`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .errors import NewsletterError

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


@cache
def console(*, stderr: bool = False) -> Console:
    """rich's console, imported on first use: it costs ~20 ms of start-up."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def user_errors(command: F) -> F:
    """Print a NewsletterError as message + hint and exit 1; bugs keep their traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NewsletterError as exc:
            from rich.markup import escape  # field names like items[2] are not markup

            console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
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
@user_errors
def build(issues: tuple[Path, ...], out_dir: Path | None) -> None:
    """Build issues into web page, email and text files.

    With no ISSUES, builds every file in the desk's issues/ folder.

    \b
    Example:
      newsletter build issues/2026-11-27.yaml
    """
    from . import api

    settings = api.load_desk(issues[0] if issues else Path.cwd())
    paths = list(issues) or api.find_issue_files(settings)
    if not paths:
        raise NewsletterError(f"no issue files in {settings.issues_dir}",
                              hint='write one, e.g. issues/2026-11-27.yaml ("newsletter init" '
                                   "shows the format)")
    for built in api.build_issues(paths, settings, out_dir=out_dir):
        console().print(f"[green]built[/] {_shown(built.issue.source)} -> "
                        f"{_shown(built.folder)}/")
        for file in built.files[:3]:
            console().print(f"  {_shown(file)}  ({file.stat().st_size:,} bytes)")
        pictures = len(built.files) - 3
        if pictures:
            console().print(f"  + {pictures} picture{'s' if pictures > 1 else ''}")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@user_errors
def init(folder: Path) -> None:
    """Create a new desk in FOLDER with settings, an example issue and a publish workflow.

    \b
    Example:
      newsletter init my-desk && cd my-desk && newsletter build
    """
    from . import api

    for path in api.init_desk(folder):
        console().print(f"[green]wrote[/] {_shown(path)}")
    console().print(f'next: cd {folder} and run "newsletter build"')


def _shown(path: Path) -> str:
    from rich.markup import escape

    try:
        return escape(str(path.resolve().relative_to(Path.cwd().resolve())))
    except ValueError:
        return escape(str(path))
