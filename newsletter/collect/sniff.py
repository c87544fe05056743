"""What a feed's bytes are, before any parser reads them.

`Head` reads markup characters from any ASCII-compatible encoding (and
UTF-16/32 by BOM or zero bytes); `is_json` tells a JSON Feed from XML;
`scan_prolog` walks what comes before the first element, refusing a DOCTYPE
that declares entities (billion laughs, XXE) and naming a web page or an
OPML list for what it is; `charset_of` decides the charset feedparser reads
XML with: a BOM, else the declared charset when the bytes are valid in it,
else UTF-8 when they are valid UTF-8, else charset-normalizer's guess,
reported in a warning.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

from ..errors import FeedError

__all__ = ["Head", "Prolog", "charset_of", "is_json", "not_a_feed", "scan_prolog", "web_page"]

_FIRST = re.compile(r"\s*(\S)")
_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Head:
    """The body decoded just well enough to read markup, and a way back to bytes.

    Markup characters are ASCII, so any ASCII-compatible encoding (UTF-8,
    Latin-1, Shift_JIS, Big5 ...) is read byte for byte as Latin-1; UTF-16
    and UTF-32 are recognised by their BOM or by the zero bytes around the
    first character, as XML 1.0 Appendix F does.
    """

    text: str
    start: int  # bytes of BOM before `text`
    codec: str  # "latin-1", "utf-16-le" ...

    @classmethod
    def of(cls, data: bytes) -> Head:
        codec, start = _encoding_of(data[:4])
        if codec == "latin-1":
            return cls(text=data[start:].decode("latin-1"), start=start, codec=codec)
        width = 4 if codec.startswith("utf-32") else 2
        end = start + (len(data) - start) // width * width
        errors = "replace" if width == 4 else "surrogatepass"  # both keep 1 char per unit
        return cls(text=data[start:end].decode(codec, errors), start=start, codec=codec)

    def offset(self, index: int) -> int:
        """The byte offset of character `index` of `text`."""
        if self.codec == "latin-1":
            return self.start + index
        if self.codec.startswith("utf-32"):
            return self.start + 4 * index
        return self.start + len(self.text[:index].encode(self.codec, "surrogatepass"))


_BOMS = (
    (b"\xef\xbb\xbf", "latin-1"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _encoding_of(first: bytes) -> tuple[str, int]:
    """(codec to read markup with, length of the BOM) from the first four bytes."""
    for bom, codec in _BOMS:
        if first.startswith(bom):
            return codec, len(bom)
    if len(first) < 4:
        return "latin-1", 0
    if first[:3] == b"\0\0\0":
        return "utf-32-be", 0
    if first[1:] == b"\0\0\0":
        return "utf-32-le", 0
    if first[0] == 0 and first[1] != 0:
        return "utf-16-be", 0
    if first[1] == 0 and first[0] != 0:
        return "utf-16-le", 0
    return "latin-1", 0


def is_json(head: Head, content_type: str | None) -> bool:
    """JSON by the body's first character; by the header only if the body is not markup."""
    found = _FIRST.match(head.text)
    first = found.group(1) if found else ""
    if first == "{":
        return True
    media = (content_type or "").partition(";")[0].strip().lower()
    return first != "<" and media in ("application/feed+json", "application/json")


# Each scan below searches for its next token in C (re.search), so junk such as
# a megabyte of "<" or an unclosed "<!--" costs one pass, not one per character.
_PROLOG_TOKEN = re.compile(r"<\?|<!--|<!DOCTYPE|<(?P<name>[^\W\d][\w.:-]*)", re.IGNORECASE)
_DOCTYPE = re.compile(r"""<!DOCTYPE(?:"[^"]*"|'[^']*'|[^"'>\[])*([\[>]?)""", re.IGNORECASE)
_SUBSET_TOKEN = re.compile(r"""<!ENTITY|<!--|"[^"]*"|'[^']*'|\]""", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prolog:
    root: str  # the first element's local name, lowercased; "" if none was found
    doctypes: tuple[tuple[int, int], ...]  # character spans of plain DOCTYPEs


def scan_prolog(text: str, feed: str) -> Prolog:
    """Walk the declarations, comments and PIs before the first element.

    Raises FeedError at the first DOCTYPE whose internal subset declares an
    ENTITY: expanding entities is how billion laughs exhausts memory and XXE
    reads files, and no feed needs them.
    """
    doctypes: list[tuple[int, int]] = []
    i = 0
    while i >= 0 and (token := _PROLOG_TOKEN.search(text, i)):
        if token.group("name"):
            root = token.group("name").rpartition(":")[2].lower()
            return Prolog(root=root, doctypes=tuple(doctypes))
        kind = token.group().upper()
        if kind == "<!DOCTYPE":
            i = _doctype_end(text, token.start(), feed)
            if i >= 0:
                doctypes.append((token.start(), i))
        else:
            i = _after(text, "?>" if kind == "<?" else "-->", token.end())
    return Prolog(root="", doctypes=tuple(doctypes))


def _after(text: str, end: str, start: int) -> int:
    """The index just after the next `end` from `start`, or -1."""
    found = text.find(end, start)
    return found + len(end) if found >= 0 else -1


def _doctype_end(text: str, start: int, feed: str) -> int:
    """Where the DOCTYPE at `start` ends, or -1 if it never does."""
    head = _DOCTYPE.match(text, start)
    assert head is not None  # the caller saw "<!DOCTYPE"
    if head.group(1) != "[":
        return head.end() if head.group(1) == ">" else -1
    i = head.end()
    while i >= 0 and (token := _SUBSET_TOKEN.search(text, i)):
        kind = token.group().upper()
        if kind == "<!ENTITY":
            raise FeedError(
                "the feed declares XML entities, which could read files or exhaust memory",
                feed=feed,
                hint="newsletter refuses feeds with <!ENTITY declarations; ask the publisher "
                     "to remove them from the feed's <!DOCTYPE>",
            )
        if kind == "]":
            return _after(text, ">", token.end())
        i = _after(text, "-->", token.end()) if kind == "<!--" else token.end()
    return -1


def not_a_feed(feed: str, why: str) -> FeedError:
    return FeedError(f"this is not a feed: {why}", feed=feed,
                     hint="check the feed's address; open it in a browser to see what the "
                          "server sends")


def web_page(feed: str) -> FeedError:
    return FeedError("this is a web page, not a feed", feed=feed,
                     hint="look for the feed's address on the page (an RSS or Atom link)")


# --- the charset ---------------------------------------------------------------

_XML_ENCODING = re.compile(
    r"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# feedparser's reading of gb2312: the superset that Chinese feeds really use
_WIDER = {"gb2312": "gb18030"}


def charset_of(data: bytes, head: Head, content_type: str | None,
             feed: str) -> tuple[str, tuple[str, ...]]:
    """The charset to read the XML with, and a warning when it is not the declared one.

    A BOM (or UTF-16/32's zero bytes) decides. Else the declared charset (the
    HTTP header's, then the XML declaration's) when the bytes are valid in
    it; else UTF-8 when they are valid UTF-8; else charset-normalizer's
    guess. windows-1252, feedparser's last resort, turns Big5 or KOI8-R into
    mojibake that nobody is told about.
    """
    if head.codec != "latin-1":
        return head.codec, ()
    if head.start:  # a UTF-8 byte order mark
        return "utf-8", ()
    body = data[head.start:]
    found = _CHARSET.search(content_type or "") or _XML_ENCODING.match(head.text)
    declared = found.group(1) if found else ""
    codec = _codec(declared)
    # UTF-16 and -32 markup has zero bytes, which Head saw (or not): never the declaration
    if codec and not codec.startswith(("utf-16", "utf-32")) and _decodes(body, codec):
        return codec, ()
    if codec != "utf-8" and _decodes(body, "utf-8"):
        why = (f"declares the unknown charset {declared[:40]!r}" if codec is None
               else f"is declared as {declared[:40]} but is not")
        return "utf-8", ((f"{feed}: the feed {why}; read as UTF-8",) if declared else ())
    guess = _guess(body)
    why = ("declares no charset and is not UTF-8" if not declared else
           f"declares the unknown charset {declared[:40]!r} and is not UTF-8" if codec is None
           else "is declared as utf-8 but is not" if codec == "utf-8"
           else f"is declared as {declared[:40]} but is neither that nor UTF-8")
    return guess, (f"{feed}: the feed {why}; read as {guess}, a guess (ask its publisher "
                   "to declare its charset)",)


def _codec(name: str) -> str | None:
    """Python's name for a declared charset, or None if Python knows no such charset."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _WIDER.get(codec, codec)


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _guess(data: bytes) -> str:
    """charset-normalizer's best reading of `data`; windows-1252 when it has none."""
    best = charset_normalizer.from_bytes(data).best()
    return (_codec(best.encoding) if best else None) or "windows-1252"
