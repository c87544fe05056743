"""The library's log on stderr, as the CLI shows it: `warning: message`, its level
chosen by -q/-v/-vv. Imported when a command runs, not for `--help`."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click

#: The library logs under this name (collect.fetch, api); only the CLI decides what shows.
LOGGER = "newsletter"
#: -q, nothing, -v, -vv: the lowest level of the library's log that reaches stderr.
LOG_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


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
