"""The plain-text part: HTML fragments to readable text, links as [n] references.

Lines are wrapped at 78 columns, counting East Asian wide characters as two
columns and breaking between CJK characters (which have no spaces between
words) while never starting a line with closing punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

from markupsafe import Markup

__all__ = ["WIDTH", "References", "html_to_text", "wrap_text"]

WIDTH = 78
# Full-width punctuation that must not start a line (kinsoku).
_CLOSING = set("，。、；：？！）」』】〉》”’・ー…,.;:?!)]}%")  # noqa: RUF001 - look-alikes wanted
# Characters East Asian scripts set without spaces, each a place a line may break.
_WIDE = ("\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
         "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
         "\U00020000-\U0003fffd")
_CLOSERS = re.escape("".join(sorted(_CLOSING)))
_TOKEN = re.compile(rf"\s+|[{_WIDE}][{_CLOSERS}]*|[^\s{_WIDE}]+(?:[{_CLOSERS}]+)?")
_PREFIX = re.compile(r"^(\s*(?:[-*>]|\d+\.|\[\d+\])?\s*)")
_SPACE = re.compile(r"[ \t\r\n\f\v]+")


class References:
    """Numbers the links of one text part; a URL seen twice keeps its number."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def number(self, url: str) -> int:
        return self._numbers.setdefault(url, len(self._numbers) + 1)

    def cite(self, url: str | None) -> str:
        return f" [{self.number(url)}]" if url else ""

    def listing(self) -> list[tuple[int, str]]:
        return [(n, url) for url, n in self._numbers.items()]


class _TextWriter(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "blockquote", "h2", "h3", "h4", "pre", "table", "figure",
                         "ul", "ol", "dl", "tr"})

    def __init__(self, refs: References) -> None:
        super().__init__(convert_charrefs=True)
        self.refs = refs
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number or -1 for bullets]
        self.links: list[str | None] = []
        self.quote = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self._break(2 if not self.lists else 1)
        if tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else -1])
        elif tag == "li":
            self._item()
        elif tag == "br":
            self._break(1)
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            self.out.append(self.refs.cite(self.links.pop()))
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in self._BLOCKS:
            self._break(2 if not self.lists else 1)

    def handle_data(self, data: str) -> None:
        if self.pre:  # code keeps its lines and spaces
            lines = data.rstrip("\n").split("\n")
            self.out.append("\n".join("    " + line for line in lines))
            return
        text = _SPACE.sub(" ", data)
        if self._at_line_start():
            text = text.lstrip()
            if text and self.quote:
                text = "> " * self.quote + text
        if text:
            self.out.append(text)

    def _item(self) -> None:
        self._break(1)
        marker = "-"
        if self.lists:
            counter = self.lists[-1]
            if counter[0] > 0:
                marker = f"{counter[0]}."
                counter[0] += 1
        indent = "  " * (len(self.lists) - 1)
        self.out.append(f"{indent}{marker} ")

    def _at_line_start(self) -> bool:
        joined = "".join(self.out[-2:])
        return not joined or joined.endswith(("\n", "- ", ". ", "> "))

    def _break(self, count: int) -> None:
        text = "".join(self.out)
        stripped = text.rstrip(" ")
        have = len(stripped) - len(stripped.rstrip("\n"))
        if not stripped:
            return
        self.out = [stripped + "\n" * max(0, count - have)]

    def text(self) -> str:
        return "".join(self.out).strip()


def html_to_text(html: Markup | str, refs: References) -> str:
    """Readable text of a sanitized fragment; links become [n] references."""
    writer = _TextWriter(refs)
    writer.feed(str(html))
    writer.close()
    return writer.text()


def _columns(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if _is_wide(ch) else 1 for ch in text)


def _is_wide(ch: str) -> bool:
    return ch > "\u10ff" and unicodedata.east_asian_width(ch) in "WF"


def _tokens(text: str) -> list[str]:
    """Words, single wide characters, and spaces; closing punctuation sticks left."""
    return _TOKEN.findall(text)


def _wrap_line(line: str, width: int) -> list[str]:
    columns = len if line.isascii() else _columns  # most lines: a character is a column
    if columns(line) <= width:
        return [line]
    prefix = _PREFIX.match(line).group(1)  # type: ignore[union-attr]  # the pattern always matches
    indent = " " * columns(prefix)
    lines: list[str] = []
    current, used, fresh = prefix, columns(prefix), True
    for token in _tokens(line[len(prefix):]):
        size = columns(token)
        if token.isspace():
            current, used = current + token, used + size
            continue
        if used + size > width and not fresh:
            lines.append(current.rstrip())
            current, used = indent, len(indent)
        current, used, fresh = current + token, used + size, False
    lines.append(current.rstrip())
    return lines


def wrap_text(text: str, width: int = WIDTH) -> str:
    """Wrap every line to `width` columns; blank-line runs collapse to one."""
    out: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.extend(_wrap_line(line.rstrip(), width))
    return "\n".join(out).strip() + "\n"
