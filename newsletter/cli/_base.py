"""What every command shares: the `main` group, error printing, and how paths and
counts are shown."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import __version__
from ..errors import NewsletterError

F = TypeVar("F", bound=Callable[..., Any])


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


def shown(path: Path) -> str:
    from .. import api

    return str(api.relative_to_cwd(path.resolve()))


def count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"
