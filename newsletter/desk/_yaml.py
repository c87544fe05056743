"""Read editor YAML safely, keeping the line and column of every value.

ruamel.yaml only *composes* the file into nodes here; we build the Python
values ourselves. That way no tag is ever constructed (a `!!python/...` tag
is reported, not run), aliases are counted as they expand (an alias bomb
stops at a budget instead of eating the machine), and duplicate keys are
all reported instead of the first one ending the parse.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._cache import cache_dir, store_in_cache
from ..errors import Problem
from ..model import SourceLocation

if TYPE_CHECKING:  # ruamel.yaml is loaded by the first parse: a command whose settings
    # come from the cache (load_kept_yaml) never loads it
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

__all__ = ["MAX_FILE_BYTES", "MAX_VALUES", "YamlDocument", "field_name", "issue_status",
           "load_kept_yaml", "load_yaml"]

MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 20_000
MAX_DEPTH = 40
MAX_SCAN_DEPTH = 1_000

KeyPath = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_COLLECTION_TAGS = {f"{_CORE}map", f"{_CORE}seq"}
_PLAIN_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}
_TAB_INDENT = re.compile(r"^( *)\t")
_BRACKETS = re.compile(r"[\[\]{}]")
_LEADING_DASHES = re.compile(r"^(?:\s*-\s)+")
# what YAML itself refuses to read (C0 controls but tab/newline/return, DEL, C1, BOM inside)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


@dataclass(slots=True)
class YamlDocument:
    """Plain Python values plus where each one was written."""

    path: Path
    data: Any
    locations: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    key_locations: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    #: scalars as written, for text fields given a value YAML reads as a date or number
    raw: dict[KeyPath, str] = field(default_factory=dict)
    #: values dropped because of a refused tag (already reported; not "empty" too)
    refused: set[KeyPath] = field(default_factory=set)

    def where(self, key_path: KeyPath) -> SourceLocation:
        """The location of a value, or of its nearest written parent."""
        for end in range(len(key_path), -1, -1):
            found = self.locations.get(key_path[:end])
            if found:
                return SourceLocation(path=self.path, line=found[0], column=found[1])
        return SourceLocation(path=self.path, line=1, column=1)

    def where_key(self, key_path: KeyPath) -> SourceLocation:
        """The location of a mapping key itself (for "unknown key" reports)."""
        found = self.key_locations.get(key_path)
        if found is None:
            return self.where(key_path)
        return SourceLocation(path=self.path, line=found[0], column=found[1])


def field_name(key_path: KeyPath) -> str:
    """`("lead", "body", 2, "url")` -> `lead.body[2].url`."""
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_yaml(path: Path, problems: list[Problem]) -> YamlDocument | None:
    """Parse `path`; append what is wrong to `problems`; None if unreadable."""
    text = _read_text(path, problems)
    if text is None:
        return None
    return _parse(path, text, problems)


def load_kept_yaml(path: Path, problems: list[Problem]
                   ) -> tuple[YamlDocument | None, Callable[[], None]]:
    """`load_yaml` for the file every command reads first (the desk's settings), and
    what keeps the document for the next command: call it once the values proved
    valid.

    A kept document is in the cache with its exact text, so the next command
    builds it again from JSON and never loads the YAML parser (ruamel.yaml:
    ~11 ms of the start of every command). A file that differs by one byte is
    parsed again. Only valid values are kept: a file with a problem, such as a
    password where none belongs, is never copied into the cache.
    """
    text = _read_text(path, problems)
    if text is None:
        return None, _nothing
    entry = _kept_entry(text)
    kept = _kept(entry, path, text) if entry is not None else None
    if kept is not None:
        return kept, _nothing
    before = len(problems)
    doc = _parse(path, text, problems)
    if entry is None or doc is None or len(problems) != before:
        return doc, _nothing
    return doc, lambda: _keep(entry, text, doc)


def _nothing() -> None:
    return None


def _parse(path: Path, text: str, problems: list[Problem]) -> YamlDocument | None:
    _report_control_characters(path, text, problems)
    _report_deep_nesting(path, text, problems)
    if problems:
        return None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        # typ="safe" composes with libyaml (ruamel.yaml.clib) when present: ~10x faster
        root = _yaml().compose(text)
    except MarkedYAMLError as exc:
        # a tab in the indentation breaks the parse; saying so beats the parser's words
        _report_tabs(path, text, problems)
        if not problems:
            problems.append(_syntax_problem(path, text, exc))
        return None
    except (YAMLError, RecursionError) as exc:
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        problems.append(Problem(location=SourceLocation(path=path, line=1, column=1), field="",
                                message=message))
        return None
    doc = YamlDocument(path=path, data=None)
    if root is not None:
        builder = _Builder(doc, problems)
        doc.data = builder.build(root, ())
        if builder.exhausted:
            return None  # what was built past the budget is not worth checking
    return doc


#: Bumped when the values or locations built from a document change: what older code
#: kept is then parsed again. (This file's own size and time are in each entry too, so
#: an edited checkout, where the version stays, never reads what the old code kept.)
_KEPT_FORMAT = 1
_KEPT_DAYS = 30  # an entry not written again for this long is removed by the next write


def _kept_entry(text: str) -> Path | None:
    folder = cache_dir("yaml")
    if folder is None:
        return None
    # a checksum names the entry; the entry's own copy of the text is what decides
    return folder / f"{zlib.crc32(text.encode('utf-8')):08x}-{len(text)}.json"


def _kept(entry: Path, path: Path, text: str) -> YamlDocument | None:
    """The document kept for exactly `text`, or None (none kept, another text under
    the same name, another version's, or damaged)."""
    try:
        kept = json.loads(entry.read_bytes())
        if kept["written_by"] != _writer() or kept["text"] != text:
            return None
        return YamlDocument(
            path=path, data=kept["data"], locations=_places(kept["locations"]),
            key_locations=_places(kept["key_locations"]),
            raw={_key_path(k): value for k, value in kept["raw"] if isinstance(value, str)})
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None  # damaged (or not ours): parsed again, and kept again


def _places(listed: list[Any]) -> dict[KeyPath, tuple[int, int]]:
    places = {}
    for key, line, column in listed:
        if type(line) is not int or type(column) is not int:
            raise ValueError("a location that is not two whole numbers")
        places[_key_path(key)] = (line, column)
    return places


def _key_path(listed: list[Any]) -> KeyPath:
    if not all(type(part) in (str, int) for part in listed):
        raise ValueError("a key path that is not text and numbers")
    return tuple(listed)


def _writer() -> list[Any]:
    """What wrote an entry: the format, the tool's version, and this file as it is."""
    code = Path(__file__).stat()
    return [_KEPT_FORMAT, __version__, code.st_size, code.st_mtime_ns]


def _keep(entry: Path, text: str, doc: YamlDocument) -> None:
    if doc.refused or not _plain(doc.data):
        return  # a date (or anything JSON would not give back as it was) is parsed each time
    kept = {"written_by": _writer(), "text": text, "data": doc.data,
            "locations": [[list(k), *where] for k, where in doc.locations.items()],
            "key_locations": [[list(k), *where] for k, where in doc.key_locations.items()],
            "raw": [[list(k), value] for k, value in doc.raw.items()]}
    # ASCII: a lone surrogate (which a YAML escape can make) is written as \ud800, not
    # refused by the UTF-8 encoder
    store_in_cache(entry, json.dumps(kept).encode("ascii"))
    _forget_old(entry.parent)


def _forget_old(folder: Path) -> None:
    """Remove entries not written for `_KEPT_DAYS`: each edit of a settings file keeps
    one more, and an editor's preview keeps many in a day."""
    import time

    oldest = time.time() - _KEPT_DAYS * 86_400
    with contextlib.suppress(OSError):
        for found in folder.glob("*.json"):
            with contextlib.suppress(OSError):
                if found.stat().st_mtime < oldest:
                    found.unlink()


def _plain(value: Any) -> bool:
    """Whether JSON gives `value` back as it is: text, numbers, true/false, null,
    lists and mappings of them."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, str | int | float)


def issue_status(path: Path) -> str:
    """An issue's status read without validating the rest: a draft may be half-written.

    "" when the file cannot be read or its status is not text.
    """
    doc = load_yaml(path, [])
    status = doc.data.get("status", "draft") if doc and isinstance(doc.data, dict) else None
    return status if isinstance(status, str) else ""


@cache
def _once_resolver() -> type:
    """ruamel works out the YAML version for every scalar, through a chain of
    failed attribute lookups (a third of the load time). The version cannot
    change within a document: the resolver made here works it out once."""
    from ruamel.yaml.resolver import VersionedResolver

    class OnceResolver(VersionedResolver):
        _version: Any = None

        @property
        def processing_version(self) -> Any:
            if self._version is None:
                self._version = VersionedResolver.processing_version.fget(self)  # type: ignore[attr-defined]
            return self._version

    return OnceResolver


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    loader = YAML(typ="safe")
    loader.Resolver = _once_resolver()  # a new loader per document, so a new resolver too
    return loader


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    where = SourceLocation(path=path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        message = f"cannot read file: {exc.strerror}"
        problems.append(Problem(location=where, field="", message=message))
        return None
    if len(raw) > MAX_FILE_BYTES:
        problems.append(Problem(
            location=SourceLocation(path=path, line=1, column=1), field="",
            message=f"file is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}",
            hint="an issue file holds text and links; put long material on the web instead",
        ))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problems.append(Problem(
            location=SourceLocation(path=path, line=line, column=column), field="",
            message="file is not UTF-8 text", hint="save the file as UTF-8 in your editor",
        ))
        return None


def _report_tabs(path: Path, text: str, problems: list[Problem]) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        match = _TAB_INDENT.match(line)
        if match:
            problems.append(Problem(
                location=SourceLocation(path=path, line=number, column=len(match.group(1)) + 1),
                field="", message="tab character used for indentation",
                hint="YAML indents with spaces only; replace the tab with spaces",
            ))


def _report_control_characters(path: Path, text: str, problems: list[Problem]) -> None:
    for match in _CONTROL.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        problems.append(Problem(
            location=SourceLocation(path=path, line=line, column=column), field="",
            message=f"invisible control character U+{ord(match.group()):04X}",
            hint="delete it; it often comes from pasting out of another program",
        ))
        if len(problems) >= 20:
            return


def _report_deep_nesting(path: Path, text: str, problems: list[Problem]) -> None:
    """Refuse absurd nesting before libyaml sees it: its composer recurses in C
    without a limit, and some tens of thousands of levels crash the process."""
    depth = 0
    for number, line in enumerate(text.split("\n"), start=1):
        dashes = _LEADING_DASHES.match(line)
        line_depth = len(dashes.group()) // 2 if dashes else 0
        deepest = depth
        for bracket in _BRACKETS.findall(line):
            depth += 1 if bracket in "[{" else -1
            deepest = max(deepest, depth)
        if deepest + line_depth > MAX_SCAN_DEPTH:
            problems.append(Problem(
                location=SourceLocation(path=path, line=number, column=1), field="",
                message=f"nested too deeply (more than {MAX_SCAN_DEPTH:,} levels)",
                hint="flatten it: an issue file needs a few levels; look for runaway brackets"))
            return


def _syntax_problem(path: Path, text: str, exc: MarkedYAMLError) -> Problem:
    quoting = _misquoted(text, exc)
    if quoting is not None:
        (at_line, at_column), message, hint = quoting
        return Problem(location=SourceLocation(path=path, line=at_line, column=at_column),
                       field="", message=f"YAML syntax error: {message}", hint=hint)
    mark = exc.problem_mark or exc.context_mark
    lines = text.split("\n") if text.endswith("\n") is False else text[:-1].split("\n")
    line = min(mark.line + 1, len(lines)) if mark else None
    column = None
    if mark and line is not None:
        # libyaml puts "end of file" one line past a last line without a newline
        column = mark.column + 1 if mark.line + 1 <= len(lines) else len(lines[-1]) + 1
    location = SourceLocation(path=path, line=line, column=column)
    message = f"YAML syntax error: {exc.problem or exc.context}"
    start = exc.context_mark
    if exc.context and start is not None and (mark is None or start.line != mark.line):
        message += f" ({exc.context} that starts on line {start.line + 1})"
    return Problem(location=location, field="", message=message, hint=_syntax_hint(exc))


_QUOTE_INSIDE = ('a " inside "..." is written \\" and a \' inside \'...\' is written \'\'; '
                 "or quote the value with the other kind")
_CLOSE_IT = "close it where the value ends, with the same kind of quote"
#: What comes before a quote that opens a value on its line: the indentation, then
#: `- ` (a list item), `key: ` or both. A quote left open takes in the lines after it
#: until such a quote closes it (`duration: "03:12"`, `- "Second bullet"`).
_OPENS_A_VALUE = re.compile(r"\s*(?:-\s+)?(?:[^\s#'\"\[\]{},:-][^:]*:\s+)?")


def _misquoted(text: str, exc: MarkedYAMLError) -> tuple[tuple[int, int], str, str] | None:
    """Where the editor's quotes went wrong when the parser tripped over them:
    (line, column) of the quote to fix, 1-based; what happened; what to do.

    The parser notices a quote problem late: a quote never closed, at the end
    of the file; one closed too early (an apostrophe inside '...'), at the
    words after it; one not closed where the value ended, lines further on,
    where the quote opening a later value closed it ("did not find expected
    key" at `duration: "03:12"`).
    """
    if exc.context == "while scanning a quoted scalar" and exc.context_mark is not None \
            and "end of stream" in str(exc.problem):
        start = exc.context_mark
        return ((start.line + 1, start.column + 1), "the quote that starts here is never closed",
                _CLOSE_IT)
    error = exc.problem_mark
    last = _token_before(text, error.index) if error is not None else None
    if error is None or last is None or getattr(last, "style", None) not in ('"', "'"):
        return None
    start, end = last.start_mark, last.end_mark
    if end.line != error.line or text[end.index:error.index].strip(" "):
        return None  # the error is not right after the quoted value, on its line
    if start.line == end.line:
        return ((end.line + 1, end.column), "the value's closing quote comes before the end "
                "of the line: is it a quote inside the value?", _QUOTE_INSIDE)
    closed_on = text.split("\n")[end.line]
    before = closed_on[:end.column - 1]  # the line up to the quote that closed the value
    if not before.strip() or _OPENS_A_VALUE.fullmatch(before) is None:
        return None  # a value over several lines, closed where it ends: something else
    taken = closed_on.strip()
    taken = taken if len(taken) <= 50 else taken[:49] + "…"
    return ((start.line + 1, start.column + 1), "the quote that starts here is not closed on "
            f"its line, so the value runs on to line {end.line + 1}, where the quote of the "
            f"next value closes it: {taken}", _CLOSE_IT)


def _token_before(text: str, index: int) -> Any:
    """The last token the scanner read before `index`, or None."""
    from ruamel.yaml.error import YAMLError

    last = None
    with contextlib.suppress(YAMLError):  # the scan stops where the text breaks it
        for token in _yaml().scan(text):
            if token.start_mark.index >= index:
                break
            last = token
    return last


def _syntax_hint(exc: MarkedYAMLError) -> str:
    problem = str(exc.problem or "")
    if "mapping values are not allowed" in problem:
        return 'a value containing ": " must be quoted, e.g. title: "Why: a reason"'
    if "found character" in problem and ("'@'" in problem or "'`'" in problem):
        return "values starting with @ or ` must be quoted"
    if "expected" in problem and ("']'" in problem or "'}'" in problem or "','" in problem):
        return "a [list] or {mapping} written on one line is not closed"
    if "could not find expected ':'" in problem:
        return 'each line in a mapping is "key: value"; check the line above for a missing colon'
    return "check the indentation and quoting around this line"


class _Builder:
    """Turns composed nodes into plain values, recording locations."""

    def __init__(self, doc: YamlDocument, problems: list[Problem]) -> None:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        self.doc = doc
        self.problems = problems
        self.budget = MAX_VALUES
        self.exhausted = False
        self.active: set[int] = set()
        # the node kinds, looked up once per document (ruamel is imported on first use)
        self.mapping_node, self.sequence_node, self.scalar_node = (
            MappingNode, SequenceNode, ScalarNode)
        self.collection_nodes = (MappingNode, SequenceNode)

    def build(self, node: Node, key_path: KeyPath) -> Any:
        self.doc.locations.setdefault(key_path, _mark(node))
        if not self._spend(node, key_path) or len(key_path) > MAX_DEPTH:
            if len(key_path) > MAX_DEPTH:
                self._problem(key_path, "nested too deeply", "flatten the structure")
            return None
        if id(node) in self.active:
            self._problem(key_path, "an alias refers to itself", "remove the recursive alias")
            return None
        if isinstance(node, self.collection_nodes) and str(node.tag) not in _COLLECTION_TAGS:
            self.doc.refused.add(key_path)
            self._problem(key_path, f"the tag {_short_tag(str(node.tag))} is not allowed",
                          "issue files hold only text, numbers, dates, lists and mappings; "
                          "remove the tag", _mark(node))
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, self.mapping_node):
                return self._mapping(node, key_path)
            if isinstance(node, self.sequence_node):
                return [self.build(item, (*key_path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, self.scalar_node)
            return self._scalar(node, key_path)
        finally:
            self.active.discard(id(node))

    def _spend(self, node: Node, key_path: KeyPath) -> bool:
        self.budget -= 1
        if self.budget >= 0:
            return True
        if not self.exhausted:
            self.exhausted = True
            self._problem(
                key_path,
                f"the file expands to more than {MAX_VALUES:,} values (anchors and aliases?)",
                "write the values out instead of repeating them with & and * aliases",
            )
        return False

    def _mapping(self, node: MappingNode, key_path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, self.scalar_node):
                self._problem(key_path, "a key must be plain text",
                              'write "name: value"; a key cannot be a list or a mapping',
                              _mark(key_node))
                continue
            key = str(key_node.value)
            child = (*key_path, key)
            if key in out:
                self._problem(
                    child,
                    f'duplicate key "{key}" (first written on line {first_line[key]})',
                    "remove one of them; YAML keeps only one value per key",
                    _mark(key_node),
                )
                continue
            first_line[key] = _mark(key_node)[0]
            self.doc.key_locations[child] = _mark(key_node)
            self.doc.locations[child] = _mark(value_node)
            out[key] = self.build(value_node, child)
        return out

    def _scalar(self, node: ScalarNode, key_path: KeyPath) -> Any:
        tag = str(node.tag)
        if tag not in _PLAIN_TAGS:
            self.doc.refused.add(key_path)
            self._problem(
                key_path,
                f"the tag {_short_tag(tag)} is not allowed",
                "issue files hold only text, numbers, dates, lists and mappings; remove the tag",
                _mark(node),
            )
            return None
        text = str(node.value)
        self.doc.raw[key_path] = text
        return _plain_value(tag, text)

    def _problem(
        self, key_path: KeyPath, message: str, hint: str, mark: tuple[int, int] | None = None
    ) -> None:
        location = (
            SourceLocation(path=self.doc.path, line=mark[0], column=mark[1])
            if mark else self.doc.where(key_path)
        )
        self.problems.append(
            Problem(location=location, field=field_name(key_path), message=message, hint=hint)
        )


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _plain_value(tag: str, text: str) -> Any:
    kind = tag[len(_CORE):]
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        return _int(text)
    if kind == "float":
        return _float(text)
    if kind == "timestamp":
        return _timestamp(text)
    return text


def _int(text: str) -> int | str:
    cleaned = text.replace("_", "")
    for base in (10, 0):
        try:
            return int(cleaned, base)
        except ValueError:
            continue
    return text


def _float(text: str) -> float | str:
    lowered = text.lower().replace("_", "")
    special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
    try:
        return float(special.get(lowered, lowered))
    except ValueError:
        return text


def _timestamp(text: str) -> dt.date | str:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text  # a full timestamp: callers that want one parse the text
