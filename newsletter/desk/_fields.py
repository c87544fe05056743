"""Typed reads out of a located YAML document that collect every problem.

Each reader returns a usable value (or None) and never raises, so one pass
over a file reports all that is wrong with it at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from .._urls import is_remote, is_safe_url
from ..errors import Problem
from ..model import SourceLocation
from ._yaml import KeyPath, YamlDocument, field_name

__all__ = ["LONG", "PROSE", "SHORT", "Fields"]

SHORT = 300  # headlines, names, alt text
LONG = 1_000  # bullets, captions, blurbs written on one line
PROSE = 20_000  # markdown bodies

_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "text", int: "a whole number",
               float: "a number", bool: "true or false", type(None): "nothing"}


def _kind(value: Any) -> str:
    if isinstance(value, dt.date):
        return "a date"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class Fields:
    """Reads values from `doc`, appending a Problem for each one that is wrong."""

    def __init__(self, doc: YamlDocument, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems

    def where(self, key_path: KeyPath) -> SourceLocation:
        return self.doc.where(key_path)

    def problem(self, key_path: KeyPath, message: str, hint: str = "", *,
                at_key: bool = False) -> None:
        where = self.doc.where_key(key_path) if at_key else self.where(key_path)
        self.problems.append(Problem(
            location=where, field=field_name(key_path), message=message, hint=hint
        ))

    # --- containers --------------------------------------------------------

    def mapping(
        self, value: Any, key_path: KeyPath, *, known: Sequence[str], required: Sequence[str] = (),
        what: str = "key",
    ) -> dict[str, Any] | None:
        """A mapping whose keys are all in `known`, with every `required` key present."""
        if not isinstance(value, dict):
            self.problem(key_path,
                         f"expected a mapping of key: value lines, got {_kind(value)}",
                         f"keys allowed here: {', '.join(known)}")
            return None
        for key in value:
            if key not in known:
                self.problem((*key_path, key), f'unknown {what} "{key}"',
                             _did_you_mean(key, known), at_key=True)
        for key in required:
            if (*key_path, key) in self.doc.refused:
                continue
            if _is_empty(value.get(key)) and key in value:
                self.problem((*key_path, key), "is empty", f'write a value for "{key}"')
            elif key not in value:
                self.problem(key_path, f'missing required key "{key}"',
                             f'add "{key}:" to {field_name(key_path) or "the file"}')
        return value

    def sequence(self, value: Any, key_path: KeyPath, *, min_items: int = 0,
                 max_items: int = 200) -> list[Any]:
        if value is None:
            value = []
        if not isinstance(value, list):
            self.problem(key_path,
                         f'expected a list (lines starting with "- "), got {_kind(value)}',
                         'write each item on its own line, starting with "- "')
            return []
        if len(value) < min_items:
            self.problem(key_path, f"needs at least {min_items} item{'s' * (min_items > 1)}, "
                         f"has {len(value)}", 'add items as lines starting with "- "')
        if len(value) > max_items:
            self.problem(key_path, f"has {len(value)} items; at most {max_items} are allowed")
            return value[:max_items]
        return value

    # --- scalars -----------------------------------------------------------

    def text(self, parent: dict[Any, Any], key_path: KeyPath, *, max_len: int = SHORT,
             default: str = "", required: bool = False) -> str:
        value = parent.get(key_path[-1])
        if value is None:
            if required and key_path[-1] in parent and key_path not in self.doc.refused:
                self.problem(key_path, "is empty", "write a value")
            return default
        if isinstance(value, int | float | dt.date) and not isinstance(value, bool):
            value = self.doc.raw.get(key_path, str(value))  # `slug: 2026-12-04` is text here
        if not isinstance(value, str):
            self.problem(key_path, f"expected text, got {_kind(value)}",
                         'put the value in quotes if it is meant as text')
            return default
        stripped = value.strip()
        if max_len <= LONG:
            stripped = " ".join(stripped.split())  # one line: a headline has no line breaks
        control = _CONTROL.search(stripped)
        if control:
            self.problem(key_path, f"contains the invisible control character "
                         f"U+{ord(control.group()):04X}", "retype the text around it")
            stripped = _CONTROL.sub("", stripped)
        if required and not stripped:
            self.problem(key_path, "is empty", "write a value")
        if len(stripped) > max_len:
            self.problem(key_path,
                         f"is {len(stripped):,} characters long; the limit is {max_len:,}",
                         "shorten it")
            return stripped[:max_len]
        return stripped

    def integer(self, parent: dict[Any, Any], key_path: KeyPath, *, minimum: int = 0,
                maximum: int = 1_000_000, default: int | None = None) -> int | None:
        value = parent.get(key_path[-1])
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key_path, f"expected a whole number, got {_kind(value)}",
                         "write digits only, without quotes, e.g. 48")
            return default
        if value < minimum:
            self.problem(key_path, f"must be at least {minimum}, got {value}")
            return default
        if value > maximum:
            self.problem(key_path, f"must be at most {maximum:,}, got {value:,}")
            return default
        return value

    def flag(self, parent: dict[Any, Any], key_path: KeyPath, *, default: bool) -> bool:
        value = parent.get(key_path[-1])
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key_path, f"expected true or false, got {_kind(value)}",
                         "write true or false, without quotes")
            return default
        return value

    def choice(self, parent: dict[Any, Any], key_path: KeyPath, choices: Sequence[str], *,
               default: str) -> str:
        value = self.text(parent, key_path, default=default)
        if value not in choices:
            self.problem(key_path, f'"{value}" is not one of: {", ".join(choices)}',
                         _did_you_mean(value, choices))
            return default
        return value

    def date(self, parent: dict[Any, Any], key_path: KeyPath) -> dt.date | None:
        value = parent.get(key_path[-1])
        if isinstance(value, dt.date):
            return value
        if value is not None:
            self.problem(key_path, f"expected a date like 2026-11-27, got {_kind(value)} "
                         f"{value!r}", "write the date as YYYY-MM-DD, without quotes")
        return None

    def url(self, parent: dict[Any, Any], key_path: KeyPath, *, required: bool = False,
            allow_mailto: bool = False) -> str:
        value = self.text(parent, key_path, max_len=2_000, required=required)
        if value and not is_web_url(value, allow_mailto=allow_mailto):
            schemes = "https://, http:// or mailto:" if allow_mailto else "https:// or http://"
            self.problem(key_path, f'"{_clip(value)}" is not a web address',
                         f"links must be absolute and start with {schemes}")
            return ""
        return value

    def language(self, parent: dict[Any, Any], key_path: KeyPath) -> str | None:
        value = self.text(parent, key_path)
        if value and not _LANG.match(value):
            self.problem(key_path, f'"{_clip(value)}" is not a language tag',
                         "use a BCP 47 tag such as en, en-GB, zh-Hans, zh-Hant or ja")
            return None
        return value or None

    def color(self, parent: dict[Any, Any], key_path: KeyPath, *, default: str) -> str:
        if key_path[-1] in parent and parent[key_path[-1]] is None:
            self.problem(key_path, "is empty", 'an unquoted # starts a comment: write "#0b4f6c"')
            return default
        value = self.text(parent, key_path, default=default)
        if not _COLOR.match(value):
            self.problem(key_path, f'"{_clip(value)}" is not a colour',
                         'write colours as hex in quotes, e.g. "#0b4f6c"')
            return default
        return value

    def strings(self, parent: dict[Any, Any], key_path: KeyPath, *, max_len: int = LONG,
                min_items: int = 0, max_items: int = 50) -> tuple[str, ...]:
        items = self.sequence(parent.get(key_path[-1]), key_path,
                              min_items=min_items, max_items=max_items)
        holder = dict(enumerate(items))
        texts = (self.text(holder, (*key_path, i), max_len=max_len, required=True)
                 for i in range(len(items)))
        return tuple(t for t in texts if t)


def is_picture_source(src: str) -> bool:
    """A path inside the desk (relative, no ..) or an http(s) URL."""
    if is_remote(src):
        return is_web_url(src)
    if ":" in src or "\\" in src:
        return False
    path = PurePosixPath(src)
    return not path.is_absolute() and ".." not in path.parts


def is_web_url(value: str, *, allow_mailto: bool = False) -> bool:
    """An absolute http(s) URL with a host (or a mailto: address when allowed)."""
    if not is_safe_url(value) or value != value.strip() or any(c.isspace() for c in value):
        return False
    return allow_mailto or not value.lower().startswith("mailto:")


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    import difflib  # only to suggest, on a miss

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return f"allowed: {', '.join(choices)}"
