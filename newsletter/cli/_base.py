"""What every command shares: the `main` group and its options (`--desk`, `-v`,
`-q`), how the desk is found, error printing, and how paths, counts and JSON are
shown. The log on stderr is `_log`'s, set up when a command runs.

Start-up is part of the interface (`newsletter --help` should feel instant):
the modules of this package import click, the errors and little else at their
top; everything a command needs is imported inside it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__
from ..errors import NewsletterError

if TYPE_CHECKING:
    from ..model import Settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The main group's options, which every command below it reads."""

    desk: Path | None = None  # --desk/-C: where to look for newsletter.yaml
    verbosity: int = 0  # -1 with -q, 1 with -v, 2 with -vv

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0


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
@click.option("-C", "--desk", "desk", metavar="DIR",
              type=click.Path(exists=True, path_type=Path),
              help="Work on the desk in DIR (or the nearest folder above it holding "
                   "newsletter.yaml) instead of the current folder's. Paths you type stay "
                   "relative to where you are.")
@click.option("-v", "--verbose", count=True,
              help="Say what is being done (-vv: and the details).")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only results and errors: no progress bars, next steps or "
                   "logged warnings.")
@click.version_option(__version__, prog_name="newsletter")
@click.pass_context
def main(context: click.Context, desk: Path | None, verbose: int, quiet: bool) -> None:
    """Build curated newsletter issues (email, plain text, web page) from YAML files."""
    if verbose and quiet:
        raise click.UsageError("-v and -q contradict each other: pass one of them")
    from ._log import show_log  # logging waits for a command: `--help` never logs

    context.obj = Options(desk=desk, verbosity=-1 if quiet else min(verbose, 2))
    context.call_on_close(show_log(context.obj.verbosity))


def options() -> Options:
    """The main group's options (the defaults outside a command line)."""
    context = click.get_current_context(silent=True)
    found = context.find_object(Options) if context is not None else None
    return found or Options()


def desk_folder(near: Path | None = None) -> Path:
    """Where to look for the desk: --desk, else beside `near` (a file named on the
    command line), else the current folder."""
    return options().desk or near or Path.cwd()


def desk_settings(near: Path | None = None) -> Settings:
    """The settings of the desk `desk_folder` finds."""
    from .. import api

    return api.load_desk(desk_folder(near))


def hint(line: str) -> None:
    """A line that helps without being a result ("next: ..."); -q leaves it out."""
    if not options().quiet:
        click.echo(line)


def echo_json(data: object) -> None:
    import json

    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def shown(path: Path) -> str:
    from .. import api

    return str(api.relative_to_cwd(path.resolve()))


def count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"
