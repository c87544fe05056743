"""The one maker of trusted HTML.

Everything that did not come out of our own templates (feed summaries,
rendered editor markdown) passes `clean_html` before it reaches a page or an
email: an nh3 (ammonia) allowlist, links limited to http(s) and mailto, and a
caller-supplied rewrite that makes URLs absolute or tags them. The result is
a `markupsafe.Markup`, the only kind of string the templates print unescaped.

Nothing a feed sends can make these functions raise or run long:

- **Total.** Lone surrogates (which nh3, a Rust library, cannot take) are
  removed first, and the plain-text reader is nh3 too, not the stdlib
  `HTMLParser`, which raises `AssertionError` on `<![` markup.
- **Bounded depth.** html5ever, the parser under nh3, spends time in the
  square of the nesting depth (scope checks walk the stack of open
  elements): a summary of 100,000 nested lists took a minute. A fragment
  with more than `MAX_DEPTH` `<` characters is first re-tokenized by
  `_Rebalancer`, a linear pass that writes every tag closed again and drops
  the tags nested deeper than `MAX_DEPTH` (their text stays). What
  html5ever then reads is balanced, quoted and escaped, so its depth stays
  within a small multiple of `MAX_DEPTH` however the original was built.
- **Bounded size.** `clean_field` reads at most `RAW_FACTOR` times its size
  limit of the original and cuts the sanitized result to the limit, between
  tags and characters, with every element closed.
"""

from __future__ import annotations

import html as html_module
import re
from collections import Counter
from collections.abc import Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass

import nh3
from markupsafe import Markup

from ._urls import is_remote, is_safe_url

__all__ = [
    "MAX_DEPTH",
    "RAW_FACTOR",
    "SAFE_SCHEMES",
    "Cleaned",
    "UrlRewrite",
    "clean_field",
    "clean_html",
    "html_to_plain",
    "is_remote",
    "is_safe_url",
    "plain_of_clean",
]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: Elements nested deeper than this are dropped (their text is kept).
MAX_DEPTH = 100
#: `clean_field` reads at most this many times its size limit of the original
#: markup (in characters): markup shrinks when it is cleaned, but not without end.
RAW_FACTOR = 4

#: Called for each href/src; returns the URL to write, or None to drop it.
UrlRewrite = Callable[[str], str | None]

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt", "em",
    "figcaption", "figure", "h2", "h3", "h4", "hr", "i", "img", "ins", "li", "mark", "ol",
    "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "time", "tr", "u", "ul",
}
_ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start"},
}
_URL_ATTRIBUTES = {"href", "src"}
# Elements whose start or end reads as a break between words in plain text.
_BREAKS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
    "pre", "section", "table", "td", "th", "tr", "ul",
}
_SPACE = re.compile(r"\s+")
_TAG_IN_CLEAN = re.compile(r"<[^>]*>")  # nh3 escapes "<" in text: each match is a tag
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)[^>]*>")  # the same, with its name
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_html(html: str, rewrite: UrlRewrite | None = None,
               rewrite_src: UrlRewrite | None = None, *, pictures: bool = True) -> Markup:
    """Sanitize an HTML fragment into well-formed, script-free Markup.

    `rewrite` is applied to link targets, `rewrite_src` to picture sources (a
    picture's URL must not get a link's campaign tags). URLs that are not safe
    afterwards are dropped with their attribute: a link without an href still
    shows its text. With `pictures` off, <img> is removed: a picture in an
    email needs the size and credit that only the issue's image fields carry.
    Elements nested deeper than `MAX_DEPTH` are dropped, their text kept.
    """
    return _clean(_bounded(html)[0], rewrite, rewrite_src, pictures=pictures)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cleaned:
    """A sanitized field, and what bounding it took (for a warning naming the feed)."""

    html: Markup
    too_deep: bool = False  # elements nested deeper than MAX_DEPTH were dropped
    cut_from: int = 0  # the field's size in UTF-8 bytes before it was cut; 0: not cut


def clean_field(html: str, rewrite: UrlRewrite | None = None,
                rewrite_src: UrlRewrite | None = None, *, max_bytes: int) -> Cleaned:
    """`clean_html` for a stored field: at most `max_bytes` of UTF-8 when done.

    Only the first `RAW_FACTOR * max_bytes` characters of the original are
    read. A result over the limit is cut between tags, entities and words,
    given an ellipsis, and cleaned again, which closes what the cut left open.
    """
    raw_limit = RAW_FACTOR * max_bytes
    read = html[:_cut_point(html, raw_limit)] if len(html) > raw_limit else html
    bounded, too_deep = _bounded(read)
    cleaned = _clean(bounded, rewrite, rewrite_src, pictures=True)
    size = len(cleaned.encode("utf-8"))
    if len(read) == len(html) and size <= max_bytes:
        return Cleaned(html=cleaned, too_deep=too_deep)
    before = max(size, len(html.encode("utf-8", "replace")))
    return Cleaned(html=_cut_clean(cleaned, max_bytes), too_deep=too_deep, cut_from=before)


def html_to_plain(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed.

    Read by the same parser as `clean_html` (script and style contents are
    not text); block elements and line breaks separate words.
    """
    kept = _nh3(_PLAIN, _bounded(html)[0])
    text = html_module.unescape(_TAG_IN_CLEAN.sub(" ", kept))
    return _SPACE.sub(" ", text).strip()


def plain_of_clean(html: str) -> str:
    """`html_to_plain` of HTML that `clean_html` made (a stored summary), without nh3:
    what is left of such HTML is allowed tags and escaped text, so removing the tags
    (a space for those that break words) is all a second parse would do."""
    text = _TAG_NAME.sub(lambda tag: " " if tag.group(1).lower() in _BREAKS else "", html)
    return _SPACE.sub(" ", html_module.unescape(text)).strip()


def _clean(html: str, rewrite: UrlRewrite | None, rewrite_src: UrlRewrite | None, *,
           pictures: bool) -> Markup:
    failures: list[BaseException] = []
    token = _REWRITES.set((rewrite, rewrite_src, failures))
    try:
        cleaned = _nh3(_CLEANERS[pictures], html)
    finally:
        _REWRITES.reset(token)
    if failures:  # raised in the attribute filter, which nh3 calls from Rust
        raise failures[0]
    return Markup(cleaned)  # nh3 output is what "safe" means here


# One nh3 Cleaner per policy, made once: nh3.clean() builds its policy from the
# Python sets on every call, which was two thirds of its time on a summary (21 us
# of 7). A Cleaner's attribute filter is fixed, so the call's URL rewrites reach
# it through a context variable, set around each clean.
_REWRITES: ContextVar[tuple[UrlRewrite | None, UrlRewrite | None, list[BaseException]]] = \
    ContextVar("rewrites")


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    """An attribute as it may stay (None: dropped). nh3 calls this from Rust, which
    prints an exception raised here and goes on (a Ctrl-C, a rewrite's bug): the
    attribute is dropped and the exception kept for `_clean` to raise."""
    rewrite, rewrite_src, failures = _REWRITES.get()
    try:
        if name not in _URL_ATTRIBUTES:
            return value
        change = rewrite_src if name == "src" else rewrite
        url = change(value) if change else value
        return url if url is not None and is_safe_url(url) else None
    except BaseException as failure:  # noqa: BLE001  # re-raised by _clean
        failures.append(failure)
        return None


_CLEANERS = {pictures: nh3.Cleaner(
    tags=_TAGS if pictures else _TAGS - {"img"},
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes=set(SAFE_SCHEMES),
    link_rel="noopener noreferrer",
    strip_comments=True,
) for pictures in (True, False)}
_PLAIN = nh3.Cleaner(tags=_BREAKS, attributes={}, strip_comments=True)


def _nh3(cleaner: nh3.Cleaner, html: str) -> str:
    """The one place markup is handed to nh3 (tests count what it is given)."""
    return cleaner.clean(html)


# --- bounding the work ---------------------------------------------------------


def _bounded(html: str) -> tuple[str, bool]:
    """`html` as nh3 may read it in bounded time, and whether tags were dropped for depth.

    With at most MAX_DEPTH "<" there are at most MAX_DEPTH tags, and html5ever
    nests at most a few elements per tag (implied tbody and tr, reconstructed
    formatting): the original goes through as it is.
    """
    html = _SURROGATE.sub("", html)
    if html.count("<") <= MAX_DEPTH:
        return html, False
    rebalancer = _Rebalancer()
    return rebalancer.run(html), rebalancer.too_deep


def _cut_point(text: str, limit: int) -> int:
    """An index at most `limit` that is not inside a tag, an entity or (if it can) a word."""
    if len(text) <= limit:
        return len(text)
    head = text[:limit]
    tag = head.rfind("<")
    if tag > head.rfind(">"):
        head = head[:tag]
    entity = head.rfind("&")
    if entity > head.rfind(";"):
        head = head[:entity]
    space = head.rfind(" ", max(0, len(head) - 200), len(head))
    if space > head.rfind(">"):
        head = head[:space]
    return len(head)


def _cut_clean(cleaned: str, max_bytes: int) -> Markup:
    """Sanitized HTML cut to at most `max_bytes` of UTF-8, every element closed.

    Closing what the cut left open adds end tags, so the budget shrinks by
    what the last try overshot; the depth limit bounds that overshoot. The
    head of nh3's own output nests no deeper than the whole, so it goes to
    nh3 without another `_bounded` pass.
    """
    budget = max_bytes - len("\u2026".encode())
    for _ in range(8):
        fits = len(cleaned.encode("utf-8")[:max(budget, 0)].decode("utf-8", "ignore"))
        head = cleaned[:_cut_point(cleaned, fits)]
        result = _clean(head + "\u2026", None, None, pictures=True)
        size = len(result.encode("utf-8"))
        if size <= max_bytes:
            return result
        budget -= size - max_bytes
    return Markup("")  # unreachable in practice: every try cuts deeper


# The HTML tokenizer's view of "<...", as the WHATWG spec reads it: comments
# (with the abrupt "<!-->" and "<!--->"), start and end tags with attributes
# whose quoted values may hold ">", and bogus comments ("<!...>", "<?...>",
# "</ ...>"). Possessive quantifiers keep every scan linear; a tag or comment
# left open runs to the end, as in a browser.
_W = "\\t\\n\\f\\r "
_TOKEN = re.compile(
    "<(?:"
    "(?P<comment>!--(?:-?>|.*?(?:--!?>|\\Z)))"
    f"|(?P<end>/?)(?P<name>[A-Za-z][^{_W}/>]*+)"
    f"(?P<attributes>(?:[{_W}/]++|[^{_W}/>][^{_W}/>=]*+"
    f"(?:[{_W}]*+=[{_W}]*+(?:\"[^\"]*+(?:\"|\\Z)|'[^']*+(?:'|\\Z)|[^{_W}>]*+))?)*+)"
    "(?P<close>>|\\Z)"
    "|(?P<bogus>[!?/][^>]*+(?:>|\\Z))"
    ")",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(
    f"(?P<name>[^{_W}/>][^{_W}/>=]*+)"
    f"(?:[{_W}]*+=[{_W}]*+(?:\"(?P<double>[^\"]*+)\"?|'(?P<single>[^']*+)'?"
    f"|(?P<bare>[^{_W}>]*+)))?"
)
_NAME = re.compile(r"[a-z][a-z0-9-]*")
_ATTRIBUTE_NAME = re.compile(r"[a-z_:][-a-z0-9_:.]*")
_VOID = frozenset({
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
})
_SCRIPT = frozenset({"script", "style"})  # their text is not text; nh3 drops it too
_RAW_TEXT = frozenset({"xmp", "iframe", "noembed", "noframes", "noscript"})  # literal text
_RCDATA = frozenset({"textarea", "title"})  # text with character references
_IGNORED = frozenset({"html", "head", "body", "frameset", "plaintext"})
# Where the search for an element to close stops: html5ever's "default scope".
_SCOPE = frozenset({
    "applet", "caption", "html", "marquee", "object", "table", "td", "template", "th",
})
_BUTTON_SCOPE = _SCOPE | {"button"}
_SCOPE_WALK = 64  # open elements an end tag looks through: a stray one costs little
_TABLE = frozenset({"table", "tbody", "thead", "tfoot", "html", "template"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Start tags that close an open element first: (what they close, where the search stops).
_CLOSES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), _SCOPE | {"ul", "ol"}),
    "dd": (frozenset({"dd", "dt"}), _SCOPE | {"dl"}),
    "dt": (frozenset({"dd", "dt"}), _SCOPE | {"dl"}),
    "tr": (frozenset({"tr"}), _TABLE),
    "td": (frozenset({"td", "th"}), _TABLE | {"tr"}),
    "th": (frozenset({"td", "th"}), _TABLE | {"tr"}),
    "tbody": (frozenset({"tbody", "thead", "tfoot"}), _TABLE - {"tbody", "thead", "tfoot"}),
    "thead": (frozenset({"tbody", "thead", "tfoot"}), _TABLE - {"tbody", "thead", "tfoot"}),
    "tfoot": (frozenset({"tbody", "thead", "tfoot"}), _TABLE - {"tbody", "thead", "tfoot"}),
    "option": (frozenset({"option"}), frozenset({"select", "datalist", "optgroup", "html"})),
    "a": (frozenset({"a"}), _SCOPE),
}
# Start tags that close an open <p> (html5ever: "close a p element in button scope").
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
    "dl", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
    "listing", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "ul",
}) | _HEADINGS
_RAW_TEXT_END = {name: re.compile(f"</{name}[{_W}/>]", re.IGNORECASE)
                 for name in _SCRIPT | _RAW_TEXT | _RCDATA}


class _Rebalancer:
    """One linear pass that writes a fragment again, balanced and at most MAX_DEPTH deep.

    Tags are re-written with double-quoted attributes, text with "<"
    escaped, comments dropped, and every element closed by an end tag, so
    html5ever reads the same tree this pass built. Misnested or stray end
    tags are resolved simply (an end tag closes its element if it is among
    the 64 open elements nearest the top, else is dropped); only broken
    markup reads differently from a browser, and the result is sanitized
    by nh3 all the same.
    """

    def __init__(self) -> None:
        self.out: list[str] = []
        # (name, written): an element not written (too deep) has its end tag dropped too
        self.open: list[tuple[str, bool]] = []
        self.depth = 0  # written elements that are open
        self.names: Counter[str] = Counter()  # open elements by name: most searches end here
        self.too_deep = False

    def run(self, html: str) -> str:
        i = 0
        while (token := _TOKEN.search(html, i)) is not None:
            self._text(html[i:token.start()])
            i = token.end()
            name = (token.group("name") or "").lower()
            if not name or not token.group("close") or not _NAME.fullmatch(name):
                continue  # a comment, a bogus comment, or a tag the end of the text cut off
            if token.group("end"):
                self._end(name)
            else:
                i = self._start(name, token.group("attributes"), html, i)
        self._text(html[i:])
        while self.open:
            self._pop()
        return "".join(self.out)

    def _text(self, text: str) -> None:
        if text:
            self.out.append(text.replace("<", "&lt;"))

    def _start(self, name: str, attributes: str, html: str, i: int) -> int:
        """Write a start tag; returns where scanning goes on (after raw text)."""
        if name in _RAW_TEXT_END:
            end = _RAW_TEXT_END[name].search(html, i)
            text = html[i:end.start() if end else len(html)]
            if name in _RAW_TEXT:
                self.out.append(html_module.escape(text, quote=False))
            elif name in _RCDATA:
                self._text(text)
            return end.end() if end else len(html)
        if name in _IGNORED:
            return i
        self._close_implied(name)
        written_attributes, self_closing = _attributes(attributes)
        tag = f"<{name}{written_attributes}>"
        if name in _VOID or self_closing:  # a self-closed <x/> is written <x></x>
            self.out.append(tag if name in _VOID else f"{tag}</{name}>")
            return i
        written = self.depth < MAX_DEPTH
        self.too_deep |= not written
        if written:
            self.out.append(tag)
            self.depth += 1
        self.open.append((name, written))
        self.names[name] += 1
        return i

    def _close_implied(self, name: str) -> None:
        """Close what html5ever closes before this start tag: an open <p> before a
        block, the previous list item, cell or row, an <a> inside an <a>."""
        if name in _BLOCKS:
            self._close_nearest(("p",), stop=_BUTTON_SCOPE)
        if name in _HEADINGS and self.open and self.open[-1][0] in _HEADINGS:
            self._pop()
        if name in _CLOSES:
            self._close_nearest(*_CLOSES[name])

    def _end(self, name: str) -> None:
        if self.open and self.open[-1][0] == name:  # the usual case: well nested
            self._pop()
        elif name not in _VOID and name not in _IGNORED:
            self._close_nearest((name,), stop=_SCOPE)

    def _close_nearest(self, names: Collection[str], stop: frozenset[str]) -> None:
        """Close the nearest open element named in `names`, and all above it.

        The search gives up at an element in `stop`, or after _SCOPE_WALK
        elements, so a stray end tag costs a bounded amount.
        """
        if not any(self.names[name] for name in names):
            return
        for back in range(1, min(len(self.open), _SCOPE_WALK) + 1):
            name = self.open[-back][0]
            if name in names:
                for _ in range(back):
                    self._pop()
                return
            if name in stop:
                return

    def _pop(self) -> None:
        name, written = self.open.pop()
        self.names[name] -= 1
        if written:
            self.out.append(f"</{name}>")
            self.depth -= 1


def _attributes(text: str) -> tuple[str, bool]:
    """Attributes written again, double-quoted, and whether the tag closed itself ("/>").

    Names that no allowlist holds (with quotes, "<" or a leading "=") are dropped.
    """
    if not text or text == "/":
        return "", text == "/"
    written = []
    end = 0
    for found in _ATTRIBUTE.finditer(text):
        end = found.end()
        name = found.group("name").lower()
        if not _ATTRIBUTE_NAME.fullmatch(name):
            continue
        value = next((v for v in found.group("double", "single", "bare") if v is not None), "")
        written.append(f' {name}="{value.replace(chr(34), "&quot;")}"')
    return "".join(written), "/" in text[end:]
