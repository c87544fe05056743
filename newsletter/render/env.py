"""The one Jinja environment: the desk's templates first, then the default theme."""

from __future__ import annotations

import contextlib
from pathlib import Path

from jinja2 import (
    BytecodeCache,
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
)
from jinja2.bccache import Bucket

from .._cache import cache_dir

__all__ = ["DEFAULT_THEME", "make_environment"]


def _default_theme() -> Path:
    # In a wheel the theme is packaged inside the package; in a checkout (or an
    # editable install) it is the repository's top-level templates/ folder.
    packaged = Path(__file__).resolve().parent.parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "templates"


DEFAULT_THEME = _default_theme()


def make_environment(
    desk_templates: Path | None = None, theme: Path = DEFAULT_THEME
) -> Environment:
    """Templates are found in the desk's folder, then the theme.

    `{% extends "default:web/issue.html" %}` reaches the theme's own copy, so a
    desk can override one block of a page instead of copying all of it.
    """
    theme_loader = FileSystemLoader(theme)
    searched = []
    if desk_templates is not None and desk_templates.is_dir():
        searched.append(FileSystemLoader(desk_templates))
    loader = ChoiceLoader([
        PrefixLoader({"default": theme_loader}, delimiter=":"),
        *searched,
        theme_loader,
    ])
    return Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=_escapes,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
    )


def _bytecode_cache() -> BytecodeCache | None:
    """Compiled templates kept between runs: compiling the theme costs more than
    rendering an issue. Keys include each template's checksum, so edits are seen."""
    folder = cache_dir("jinja")
    return _QuietBytecodeCache(str(folder)) if folder else None


class _QuietBytecodeCache(FileSystemBytecodeCache):
    """A cache that cannot be written is only slower, never an error."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _escapes(name: str | None) -> bool:
    """Autoescape by the last extension: .html, .xml and .mjml escape; .txt does not."""
    return name is not None and name.rsplit(".", 1)[-1] in {"html", "xml", "mjml"}
