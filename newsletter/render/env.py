"""The one Jinja environment: the desk's templates first, then the default theme."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import (
    BytecodeCache,
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateSyntaxError,
    meta,
    pass_context,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context

from .._cache import cache_dir, store_in_cache
from .locale import quotes

__all__ = ["DEFAULT_THEME", "make_environment", "referenced_templates"]


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
    env = Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=_escapes,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["quotes"] = _quotes
    return env


@pass_context
def _quotes(context: Context, text: Any, lang: str | None = None) -> Any:
    """`{{ title | quotes(item.lang) }}`: typographic quotes in the text's language,
    the issue's (or on the site's own pages, the desk's) when it has none."""
    return quotes(text, lang or context_lang(context))


def context_lang(context: Context | dict[str, Any]) -> str:
    """The language a template speaks in: its issue's, else the desk's."""
    issue = context.get("issue")
    if issue is not None and getattr(issue, "lang", None):
        return str(issue.lang)
    settings = context.get("settings")
    return str(getattr(settings, "language", "") or "en")


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


#: Bumped when how the names are found changes (the environment's syntax, this code).
_REFERENCES_FORMAT = 1


def referenced_templates(env: Environment, source: str) -> list[str]:
    """The templates `source` extends, includes or imports by a name written out.

    Finding them means parsing the template, and Jinja's lexer is built on a
    process's first parse: ~19 ms, more than rendering an issue, in every build
    that renders an email (whose templates are checked for unitless paddings),
    though the compiled templates come from the bytecode cache. So the answer
    is kept in the same cache, by the digest of the source and Jinja's version.
    """
    key = hashlib.sha256(f"{_REFERENCES_FORMAT}\0{jinja2.__version__}\0{source}".encode()
                         ).hexdigest()
    folder = cache_dir("jinja")
    kept = folder / f"references-{key}.json" if folder else None
    if kept is not None:
        with contextlib.suppress(OSError, ValueError, RecursionError):
            found = json.loads(kept.read_bytes())
            if isinstance(found, list) and all(isinstance(name, str) for name in found):
                return found
    try:
        names = [name for name in meta.find_referenced_templates(env.parse(source))
                 if name is not None]
    except TemplateSyntaxError:
        return []  # reported where the template is used; kept out of the cache
    if kept is not None:
        store_in_cache(kept, json.dumps(names).encode())
    return names


def _escapes(name: str | None) -> bool:
    """Autoescape by the last extension: .html, .xml and .mjml escape; .txt does not."""
    return name is not None and name.rsplit(".", 1)[-1] in {"html", "xml", "mjml"}
