"""What every command shares: the `main` group and its options (`--desk`, `-v`,
`-q`), how the desk is found, error printing, the log on stderr, and how paths,
counts and JSON are shown."""

from __future__ import annotations

import json
import logging
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

#: The library logs under this name (collect.fetch, api); only the CLI decides what shows.
LOGGER = "newsletter"
#: -q, nothing, -v, -vv: the lowest level of the library's log that reaches stderr.
LOG_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


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
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def shown(path: Path) -> str:
    from .. import api

    return str(api.relative_to_cwd(path.resolve()))


def count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


# --- the library's log on stderr ---------------------------------------------------


class _ShortForm(logging.Formatter):
    """`warning: message`, like the CLI's own errors; with -v a failure's traceback
    follows, with -vv the logger's name too."""

    def __init__(self, verbosity: int) -> None:
        super().__init__()
        self.verbosity = verbosity

    def format(self, record: logging.LogRecord) -> str:
        colour = {"error": "red", "critical": "red", "warning": "yellow"}.get(
            record.levelname.lower())
        label = click.style(f"{record.levelname.lower()}:", fg=colour, bold=bool(colour))
        source = f" [{record.name}]" if self.verbosity >= 2 else ""
        text = f"{label}{source} {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            if self.verbosity >= 1:
                return f"{text}\n{self.formatException(record.exc_info)}"
            failure = record.exc_info[1]
            return f"{text}: {type(failure).__name__}: {failure} (-v shows where)"
        return text


class _Stderr(logging.Handler):
    """Writes through click, so the record goes to whatever stderr is when it is
    logged (a progress bar's, a test runner's) and loses its colour off a terminal."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # noqa: BLE001 - logging's own rule: a failed log line never raises
            self.handleError(record)


def show_log(verbosity: int) -> Callable[[], None]:
    """Show the `newsletter` logger's records from the level `verbosity` asks for on
    stderr; returns what puts the logger back as it was (the CLI can run in-process,
    in tests or inside another program)."""
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if isinstance(h, _Stderr)]:
        logger.removeHandler(old)
    handler = _Stderr()
    handler.setFormatter(_ShortForm(verbosity))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(LOG_LEVELS[verbosity])

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return restore
