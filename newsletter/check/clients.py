"""Which email clients would miss something the email uses.

Every HTML element and attribute, CSS property, value, function, unit, at-rule
and selector in the built email is named by a caniemail.com feature slug
(`css-display-flex`, `html-video`, `css-at-media` ...) and looked up in
caniemail's support data for the clients most readers use: Gmail, Outlook,
Apple Mail and Yahoo (`TARGETS`). One finding per feature, not per use:

- a warning when some of those clients do not support it ("n");
- a note when some support it only in part ("a"), or when the email uses it on
  purpose as an enhancement with a fallback (`ENHANCEMENTS`: responsive and
  dark-mode CSS, MJML's scaffolding for Outlook), where the reader still gets
  a working email without it.

What Outlook's conditional comments hold (`<!--[if mso]>...<![endif]-->`) is
not looked at: it is MJML's fallback, read by Outlook for Windows only. Nor are
the styles of an element hidden with `display:none` beyond that `display` (the
preheader's belt-and-braces hiding).

The data ships with the package (`newsletter/data/caniemail.json`: a subset made
by `tools/caniemail_subset.py`, MIT, from caniemail.com). `client_support` also
reads caniemail's full file, as the tests do.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from typing import Any, NamedTuple

from . import Finding, Severity

__all__ = ["ENHANCEMENTS", "TARGETS", "Client", "client_support", "features_used",
           "shipped_data"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    """One email client as caniemail names it (`family`/`platform`), and as a
    reader would."""

    family: str
    platform: str
    label: str


TARGETS: tuple[Client, ...] = (
    Client(family="gmail", platform="desktop-webmail", label="Gmail (web)"),
    Client(family="gmail", platform="ios", label="Gmail (iOS)"),
    Client(family="gmail", platform="android", label="Gmail (Android)"),
    Client(family="outlook", platform="windows", label="Outlook (Windows)"),
    Client(family="outlook", platform="macos", label="Outlook (macOS)"),
    Client(family="outlook", platform="outlook-com", label="Outlook.com"),
    Client(family="apple-mail", platform="macos", label="Apple Mail (macOS)"),
    Client(family="apple-mail", platform="ios", label="Apple Mail (iOS)"),
    Client(family="yahoo", platform="desktop-webmail", label="Yahoo Mail (web)"),
    Client(family="yahoo", platform="ios", label="Yahoo Mail (iOS)"),
    Client(family="yahoo", platform="android", label="Yahoo Mail (Android)"),
)

_DARK_MODE = ("dark mode is an extra: without it the client shows the light design (or darkens "
              "it itself)")
ENHANCEMENTS: Mapping[str, str] = {
    "css-at-media": "media queries only refine the layout: without them the email keeps "
                    "MJML's fluid one-column layout (and Outlook for Windows its fixed tables)",
    "css-at-media-prefers-color-scheme": _DARK_MODE,
    "css-color-scheme": _DARK_MODE,
    "html-meta-color-scheme": _DARK_MODE,
    "css-selector-attribute": "the email's attribute selectors are Outlook.com's dark-mode hooks "
                              "([data-ogsc], [data-ogsb]), which only Outlook.com sets",
    "html-body": "MJML repeats the body's background on a wrapping <div>, which these clients keep",
    "html-doctype": "the layout does not depend on the doctype",
    "html-aria-label": "labels help screen readers where they are kept; the email reads the same "
                       "without them",
    "html-target": "links open in a new window or tab in these clients anyway",
    "css-border-radius": "rounded corners are decoration: these clients show square ones",
    "css-border-spacing": 'MJML also sets cellspacing="0" on those tables, which all clients read',
    "css-cursor": "it only changes the mouse pointer; links work the same without it",
    "css-outline": "MJML only resets the outline of pictures, which these clients do not draw",
    "css-word-break": "MJML sets it so that long words wrap; without it they may run wider, as "
                      "they would in a web page",
    "css-word-spacing": "MJML only resets word-spacing on <body>; nothing depends on it",
}
"""Features the email uses on purpose, with a fallback or as decoration it can
lose: a note, never a warning, whatever the clients do; the reason goes into
the hint. Keyed by slug, so the reason holds for every use of the feature."""

CODE = "client-support"
_DATA_FILE = "data/caniemail.json"
_EXAMPLES = 3  # uses named in a finding's hint
_EXAMPLE_WIDTH = 48


class _Use(NamedTuple):
    """One thing the email uses: the slugs that could name it, most specific
    first (the first one the data has wins), and how it reads in the email.

    A style rule's features count only if one of its selectors can match:
    `needs` holds, per selector, the classes it needs on the page (none: the
    use counts whatever). MJML's style sheet has rules for classes the email
    may not use (`td.mj-full-width-mobile`), and hooks for classes a client
    adds (`.moz-text-html`); those are not the email's.
    """

    slugs: tuple[str, ...]
    example: str
    needs: tuple[frozenset[str], ...] = ()


# --- checking ------------------------------------------------------------------


@functools.cache
def shipped_data() -> Mapping[str, Any]:
    """caniemail.com's support data as the package ships it, read once."""
    text = resources.files("newsletter").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    data: Mapping[str, Any] = json.loads(text)
    return data


def client_support(email_html: str, data: Mapping[str, Any] | None = None) -> list[Finding]:
    """One finding per feature of `email_html` that some client in `TARGETS`
    lacks or supports only in part, warnings first.

    `data` is caniemail's data (the full `caniemail.json` or the shipped subset);
    by default, the shipped subset.
    """
    features = {f["slug"]: f for f in (shipped_data() if data is None else data)["data"]}
    used = features_used(email_html, features)
    found = [f for slug in sorted(used) if (f := _finding(features[slug], used[slug]))]
    return sorted(found, key=lambda f: -f.severity)


def _finding(feature: Mapping[str, Any], examples: Sequence[str]) -> Finding | None:
    support = [(client, *_support(feature, client)) for client in TARGETS]
    missing = [(client, notes) for client, level, notes in support if level == "n"]
    partial = [(client, notes) for client, level, notes in support if level == "a"]
    if not missing and not partial:
        return None
    name = _name(feature["title"])
    if missing:
        message = f"{name} is not supported by {_labels(missing)}"
        message += f"; only partly by {_labels(partial)}" if partial else ""
    else:
        message = f"{name} is only partly supported by {_labels(partial)}"
    reason = ENHANCEMENTS.get(feature["slug"])
    severity = Severity.WARNING if missing and reason is None else Severity.NOTE
    hint = _hint(feature["url"], examples, reason, bool(missing), missing + partial)
    return Finding(severity=severity, code=CODE, message=message, hint=hint,
                   subject=feature["slug"])


def _support(feature: Mapping[str, Any], client: Client) -> tuple[str, tuple[str, ...]]:
    """The newest result for `client` ("y", "n", "a" or "u") and the notes it cites."""
    versions = feature["stats"].get(client.family, {}).get(client.platform) or {}
    if not versions:
        return "u", ()
    level, *refs = str(list(versions.values())[-1]).split()  # caniemail lists oldest first
    notes = feature.get("notes_by_num") or {}
    return level, tuple(notes[ref[1:]] for ref in refs if ref[1:] in notes)


def _name(title: str) -> str:
    return title.strip() if " " in title.strip() else f"`{title.strip()}`"


def _labels(clients: Sequence[tuple[Client, tuple[str, ...]]]) -> str:
    return ", ".join(client.label for client, _ in clients)


def _hint(url: str, examples: Sequence[str], reason: str | None, missing: bool,
          clients: Sequence[tuple[Client, tuple[str, ...]]]) -> str:
    shown = ", ".join(f"`{example}`" for example in examples[:_EXAMPLES])
    more = len(examples) - _EXAMPLES
    parts = [f"Used as {shown}" + (f" and {more} more" if more > 0 else "")]
    by_note: dict[str, list[str]] = {}
    for client, notes in clients:
        for note in notes:
            by_note.setdefault(note, []).append(client.label)
    parts += [f"{', '.join(labels)}: {note}" for note, labels in by_note.items()]
    if reason:
        parts.append(f"Used on purpose: {reason}")
    elif missing:
        parts.append("Make sure the email still reads well without it there, or give those "
                     "clients a fallback")
    else:
        parts.append("Check the limits above against how the email uses it")
    return " ".join(_sentence(part) for part in parts) + f" See {url} (data: caniemail.com)."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", ".)")) else f"{text}."


# --- what the email uses ---------------------------------------------------------


def features_used(email_html: str,
                  features: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """The slugs, among `features` (caniemail's, by slug), of everything
    `email_html` uses outside Outlook's conditional comments, each with how it
    reads in the email (distinct uses, first seen first)."""
    reader = _Reader()
    reader.feed(email_html)
    reader.close()
    attributes = _attribute_slugs(features.values())
    known = {slug: slug for slug in features.keys() - set(attributes.values())}
    known |= {f"attribute:{name}": slug for name, slug in attributes.items()}
    used: dict[str, dict[str, None]] = {}
    for use in reader.uses:
        slug = next((known[s] for s in use.slugs if s in known), None)
        if slug and (not use.needs or any(need <= reader.classes for need in use.needs)):
            used.setdefault(slug, {})[_shorten(use.example)] = None
    return {slug: tuple(examples) for slug, examples in used.items()}


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXAMPLE_WIDTH else f"{text[:_EXAMPLE_WIDTH - 1]}\u2026"


def _attribute_slugs(features: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Attribute name -> slug, from the features titled "<name> attribute" or
    "<name> and <name> attributes" (an attribute and an element may share a
    name: `style`, `abbr`)."""
    names = {}
    for feature in features:
        match = re.fullmatch(r"(.+?) attributes?", feature["title"].strip())
        if match and feature["slug"].startswith("html-"):
            for name in re.split(r",\s*|\s+and\s+", match.group(1)):
                names[name.strip().lower()] = feature["slug"]
    return names


class _Reader(HTMLParser):
    """Collects what an email uses.

    Comments, Outlook's conditional ones included, come to `handle_comment` as
    text and are not parsed, which is what leaves the MSO-only markup out.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.uses: list[_Use] = []
        self.classes: set[str] = set()
        self._in_style = False

    def parse_html_declaration(self, i: int) -> int:
        # Python before 3.13 asserts on a "<![" its parser does not know (as in
        # "<![>" or "<![x"); browsers read those as bogus comments, and so does this.
        if self.rawdata.startswith("<![", i) and not _MARKED_SECTION.match(self.rawdata, i):
            return self.parse_bogus_comment(i)
        return super().parse_html_declaration(i)

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.uses.append(_Use(("html-doctype",), f"<!{decl}>"))

    def handle_comment(self, data: str) -> None:
        self.uses.append(_Use(("html-comments",), "<!-- -->"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        self.uses += _element_uses(tag, values)
        self.classes.update(values.get("class", "").split())
        self.uses += [_Use((f"attribute:{name}",), f"<{tag} {name}>") for name in values]
        if "style" in values:
            self.uses += _inline_style_uses(values["style"])
        if tag == "style":
            self._in_style = True
            if values.get("media"):
                example = f'<style media="{values["media"]}">'
                self.uses += [_Use(slugs, example) for slugs in
                              [("css-at-media",), *_media_slugs(values["media"])]]

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.uses += _stylesheet_uses(data)


# --- HTML -------------------------------------------------------------------------

_ELEMENT_ALIASES: Mapping[str, str] = {
    **{f"h{level}": "html-h1-h6" for level in range(1, 7)},
    **dict.fromkeys(("ul", "ol", "dl"), "html-lists"),
    **dict.fromkeys(("map", "area"), "html-image-maps"),
    **dict.fromkeys(("article", "aside", "details", "figcaption", "figure", "footer", "header",
                     "main", "mark", "nav", "section", "summary", "time"), "html-semantics"),
}
_COLOR_SCHEME_META = {"color-scheme", "supported-color-schemes"}
_MARKED_SECTION = re.compile(r"<!\[(temp|cdata|ignore|include|rcdata|if|else|endif)"
                             r"(?![-_.a-z0-9])", re.IGNORECASE)


def _element_uses(tag: str, attrs: Mapping[str, str]) -> list[_Use]:
    element = f"<{tag}>"
    if tag == "input":
        kind = attrs.get("type", "text").lower()
        uses = [_Use((f"html-input-{kind}",), f'<input type="{kind}">')]
    elif tag == "button":
        kind = attrs.get("type", "submit").lower()
        uses = [_Use((f"html-button-{kind}",), f'<button type="{kind}">')]
    else:
        uses = [_Use((f"html-{tag}", *filter(None, [_ELEMENT_ALIASES.get(tag)])), element)]
    href = attrs.get("href", "").strip().lower()
    if tag == "a" and href.startswith("#"):
        uses.append(_Use(("html-anchor-links",), f'<a href="{href}">'))
    if tag == "a" and href.startswith("mailto:"):
        uses.append(_Use(("html-mailto-links",), f'<a href="{href}">'))
    if tag == "img" and "usemap" in attrs:
        uses.append(_Use(("html-image-maps",), "<img usemap>"))
    if tag == "meta" and attrs.get("name", "").lower() in _COLOR_SCHEME_META:
        uses.append(_Use(("html-meta-color-scheme",), f'<meta name="{attrs["name"]}">'))
    return uses


# --- CSS --------------------------------------------------------------------------

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_IMPORTANT = re.compile(r"!\s*important", re.IGNORECASE)
_PROPERTY = re.compile(r"[a-z][a-z0-9-]*")
_FUNCTION = re.compile(r"(?<![\w-])([a-z][\w-]*)\(")
_URL_OR_STRING = re.compile(r"url\([^)]*\)|\"[^\"]*\"|'[^']*'")
_UNIT = re.compile(r"(?<![\w.#-])[+-]?(?:\d*\.)?\d+(%|[a-z]+)")
_SYSTEM_FONT = re.compile(r"(?<![\w-])(system-ui|ui-serif|ui-sans-serif|ui-rounded|ui-monospace)"
                          r"(?![\w-])")
_INTRINSIC = re.compile(r"(?<![\w-])(fit|min|max)-content(?![\w-])")
_MEDIA_FEATURE = re.compile(r"\(\s*([\w-]+)")
_PREFIXES = re.compile(r"^(-(webkit|moz|ms|o)-)?((min|max)-)?")

# Properties caniemail files under a family slug rather than their own name.
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), slug) for pattern, slug in (
        (r"border-(top|bottom)-(left|right)-radius", "css-border-radius"),
        (r"border-(start|end)-(start|end)-radius", "css-border-radius-logical"),
        (r"border-(inline|block)", "css-border-inline-block"),
        (r"border-(inline|block)-((start|end)|color|style|width)",
         "css-border-inline-block-individual"),
        (r"border-(inline|block)-(start|end)-(color|style|width)",
         "css-border-inline-block-longhand"),
        (r"(margin|padding)-(inline|block)", r"css-\1-inline-block"),
        (r"(margin|padding)-inline-(start|end)", r"css-\1-inline-start-end"),
        (r"(margin|padding)-block-(start|end)", r"css-\1-block-start-end"),
        (r"(margin|padding|border)-(top|right|bottom|left)(-[a-z]+)?", r"css-\1"),
        (r"border-(color|style|width)", "css-border"),
        (r"(top|right|bottom|left)", "css-left-right-top-bottom"),
        (r"((column|row|grid-column|grid-row|grid)-)?gap", "css-gap"),
        (r"grid-template(-[a-z]+)?", "css-grid-template"),
        (r"columns|column-(width|fill|span|rule(-[a-z]+)?)", "css-column-layout-properties"),
        (r"block-size", "css-block-inline-size"),
        (r"overflow-(x|y|block|inline)", "css-overflow"),
        (r"background-position-[xy]", "css-background-position"),
        (r"(transition|animation)-[a-z-]+", r"css-\1"),
        (r"outline-(color|style|width)", "css-outline"),
        (r"scroll-snap-[a-z-]+", "css-scroll-snap"),
        (r"inset-[a-z-]+", "css-inset"),
    ))
# Functions named otherwise than css-function-<name> (not css-<name>: `filter:
# opacity(50%)` is not the opacity property).
_FUNCTION_ALIASES: Mapping[str, str] = {
    **{name: f"css-{name}" for name in ("rgb", "rgba", "linear-gradient", "radial-gradient",
                                        "conic-gradient")},
    "var": "css-variables",
    "repeating-linear-gradient": "css-linear-gradient",
    "repeating-radial-gradient": "css-radial-gradient",
    "repeating-conic-gradient": "css-conic-gradient",
    **dict.fromkeys(("lab", "lch", "oklab", "oklch"), "css-modern-color"),
}
_MEDIA_ALIASES: Mapping[str, str] = {"any-hover": "hover"}
_COMBINATORS: Mapping[str, str] = {
    "": "css-selector-descendant", ">": "css-selector-child",
    "+": "css-selector-adjacent-sibling", "~": "css-selector-general-sibling",
}
_LEGACY_PSEUDO_ELEMENTS = {"before", "after", "first-line", "first-letter"}
_SELECTOR = re.compile(r"""
    (?P<combinator>\s*[>+~]\s*|\s+)
  | (?P<pseudo>::?[\w-]+(?:\((?:[^()]|\([^()]*\))*\))?)
  | (?P<universal>\*)
  | (?P<type>[A-Za-z][\w-]*)
  | (?P<class>\.-?[A-Za-z_][\w-]*)
  | (?P<id>\#[\w-]+)
  | (?P<attribute>\[[^\]]*\])
""", re.VERBOSE)


def _stylesheet_uses(css: str) -> list[_Use]:
    uses = [_Use(("css-comments",), "/* */")] if _CSS_COMMENT.search(css) else []
    css = _CSS_COMMENT.sub(" ", css).replace("<!--", " ").replace("-->", " ")
    return uses + list(_rules_uses(css))


def _rules_uses(css: str) -> Iterator[_Use]:
    for prelude, block in _items(css):
        if prelude.startswith("@"):
            yield from _at_rule_uses(prelude, block)
        elif block is not None:
            group = _split(prelude, ",")
            needs = tuple(_classes(selector) for selector in group)
            yield from _selector_uses(prelude, group)
            if "{" in block:
                yield _Use(("css-nesting",), prelude, needs)
            yield from (use._replace(needs=needs) for use in _declarations_uses(block))


def _at_rule_uses(prelude: str, block: str | None) -> Iterator[_Use]:
    match = re.match(r"@([\w-]+)", prelude)
    name = _PREFIXES.sub("", match.group(1).lower()) if match else ""
    yield _Use((f"css-at-{name}",), prelude)
    if name == "media":
        yield from (_Use(slugs, prelude) for slugs in _media_slugs(prelude))
    if block is None:
        return
    if name in {"media", "supports", "layer", "container", "document"}:
        yield from _rules_uses(block)
    elif name == "keyframes":
        for _, frame in _items(block):
            yield from _declarations_uses(frame or "")
    # @font-face, @page ...: descriptors, not properties


def _media_slugs(query: str) -> Iterator[tuple[str, ...]]:
    for feature in _MEDIA_FEATURE.findall(query.lower()):
        bare = _PREFIXES.sub("", feature)
        yield (f"css-at-media-{bare}", f"css-at-media-{_MEDIA_ALIASES.get(bare, bare)}")


def _items(css: str) -> Iterator[tuple[str, str | None]]:
    """The top-level items of a style sheet: (prelude, block) for rules and block
    at-rules, (statement, None) for the likes of @import."""
    depth, start, opened = 0, 0, 0
    for i, char in enumerate(css):
        if char == "{":
            opened = i if depth == 0 else opened
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                yield css[start:opened].strip(), css[opened + 1:i]
                start = i + 1
        elif char == ";" and depth == 0:
            if css[start:i].strip():
                yield css[start:i].strip(), None
            start = i + 1


def _split(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside brackets and quotes."""
    parts, depth, start, quote = [], 0, 0, ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth = max(depth - 1, 0)
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _selector_uses(selectors: str, group: Sequence[str]) -> Iterator[_Use]:
    if len(group) > 1:
        needs = tuple(_classes(selector) for selector in group)
        yield _Use(("css-selector-grouping",), selectors, needs)
    for selector in group:
        needs = (_classes(selector),)
        yield from (_Use(slugs, selector, needs) for slugs in _selector_slugs(selector))


def _classes(selector: str) -> frozenset[str]:
    """The classes an element must carry for `selector` to match (not those
    inside a pseudo-class such as `:not(.x)`)."""
    return frozenset(match.group()[1:] for match in _SELECTOR.finditer(selector)
                     if match.lastgroup == "class")


def _selector_slugs(selector: str) -> Iterator[tuple[str, ...]]:
    simple = 0  # simple selectors in the current compound, pseudo-classes aside
    for match in _SELECTOR.finditer(selector):
        kind, text = match.lastgroup or "", match.group()
        if kind == "combinator":
            yield (_COMBINATORS[text.strip()],)
            simple = 0
        elif kind == "pseudo":
            yield (_pseudo_slug(text),)
        else:
            yield (f"css-selector-{kind}",)
            simple += 1
            if simple == 2:
                yield ("css-selector-chaining",)


def _pseudo_slug(text: str) -> str:
    name = text.lstrip(":").split("(")[0].lower()
    element = text.startswith("::") or name in _LEGACY_PSEUDO_ELEMENTS
    return f"css-pseudo-{'element' if element else 'class'}-{name}"


def _inline_style_uses(style: str) -> list[_Use]:
    """What a style attribute uses; of an element it hides, only the hiding."""
    declarations = _declarations(style)
    if any(prop == "display" and _IMPORTANT.sub(" ", value).lower().split()[:1] == ["none"]
           for prop, value in declarations):
        declarations = [(prop, value) for prop, value in declarations if prop == "display"]
    return [use for prop, value in declarations for use in _property_uses(prop, value)]


def _declarations_uses(block: str) -> Iterator[_Use]:
    for prop, value in _declarations(block):
        yield from _property_uses(prop, value)


def _declarations(block: str) -> list[tuple[str, str]]:
    pairs = (part.partition(":") for part in _split(block, ";"))
    return [(prop.strip().lower(), value.strip()) for prop, colon, value in pairs if colon]


def _property_uses(prop: str, value: str) -> list[_Use]:
    example = f"{prop}: {value}"
    return [_Use(slugs, example) for slugs in _property_slugs(prop, value)]


def _property_slugs(prop: str, value: str) -> Iterator[tuple[str, ...]]:
    if prop.startswith("--"):
        yield ("css-variables",)
        return
    if not _PROPERTY.fullmatch(prop) or prop.startswith("mso-"):
        return  # vendor-prefixed (-webkit-, -ms-) and Outlook's own: engine-specific on purpose
    value = value.lower()
    if _IMPORTANT.search(value):
        yield ("css-important",)
        value = _IMPORTANT.sub("", value).strip()
    keyword = (value.split() or [""])[0]
    yield (f"css-{prop}-{keyword}", f"css-{prop}-{keyword.removeprefix('inline-')}",
           f"css-{prop}", *_family(prop))
    if prop == "background" and "url(" in value:
        yield ("css-background-image",)
    yield from _value_slugs(value)


def _family(prop: str) -> Iterator[str]:
    for pattern, slug in _FAMILIES:
        if match := pattern.fullmatch(prop):
            yield match.expand(slug)


def _value_slugs(value: str) -> Iterator[tuple[str, ...]]:
    for name in _FUNCTION.findall(value):
        yield (f"css-function-{name}", f"css-unit-{name}",  # css-unit-calc
               *filter(None, [_FUNCTION_ALIASES.get(name)]))
    bare = _URL_OR_STRING.sub(" ", value)
    for unit in _UNIT.findall(bare):
        yield (f"css-unit-{'percent' if unit == '%' else unit}",)
    if re.search(r"(?<![\w-])initial(?![\w-])", bare):
        yield ("css-unit-initial",)
    if _SYSTEM_FONT.search(bare):
        yield ("css-system-ui", "css-sytem-ui")  # caniemail's slug is spelt "sytem"
    if _INTRINSIC.search(bare):
        yield ("css-intrinsic-size",)
