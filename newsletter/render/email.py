"""MJML -> email HTML with mjml-python (the Rust MRML port), then the theme's CSS
inlined with css-inline.

mjml-python and the pure-Python `mjml` package share the module name
`mjml`; this is the only place that imports it, so a clash shows up here.

Some clients drop `<style>` (Gmail for accounts that are not Google's, many
webmail programs): without inlining, prose links lose their colour and
paragraphs and lists get the client's margins. The plain rules of every
`mj-style` in the template are copied onto the elements they select;
media queries, `:root`, pseudo-classes and Outlook.com's `[data-ogsc]` and
`[data-ogsb]` rules cannot live in a `style` attribute and stay in `<style>`
only, and so do MJML's own resets (inlined, they would add bytes to every
table cell and a `height:auto` to every picture).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

from ..errors import RenderError

if TYPE_CHECKING:  # the compilers are imported by the first email compiled
    import css_inline

__all__ = ["compile_mjml", "inlinable_css", "unitless_shorthands"]

_POSITION = re.compile(r"position (\d+)")
# MRML rejects some whitespace runs between MJML tags (spaces without a newline,
# blank lines holding spaces); templates with inline {% if %} blocks make them.
_GAP_BETWEEN_TAGS = re.compile(r">\s+(?=</?mj-)")
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_INLINE_HEIGHT = re.compile(r"(?<=[;\"])height:\d+px;")
_MJ_STYLE = re.compile(r"<mj-style\b[^>]*>(.*?)</mj-style>", re.DOTALL | re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# A selector a style attribute cannot stand for: a state or a part of an element
# (`a:hover`, `::before`, `:root`), or an attribute Outlook.com adds when it
# darkens a message ([data-ogsc], [data-ogsb]).
_NOT_INLINABLE = re.compile(r":|\[data-og", re.IGNORECASE)
# MJML's head reset: `img { border: 0; height: auto; line-height: 100%; ... }`.
# Yahoo Mail reads `height:auto` as a minimum height, so with the Outlook copy's
# height attribute a picture is stretched on phones (issue 15, point 2).
_RESET_IMG_HEIGHT = re.compile(r"(<style[^>]*>\s*#outlook a[^<]*?\bimg \{[^}]*?)height: ?auto; ?")
_MJ_TAG = re.compile(r"<mj-[\w-]+\b[^>]*>")
_PADDING = re.compile(r"\b([\w-]*padding)\s*=\s*\"([^\"]*)\"")  # padding, inner-padding, ...
_UNITLESS_ZERO = re.compile(r"^[+-]?0*\.?0+$")
# mjml-python 1.4.2 (MRML) writes some characters of an attribute's value as Rust's
# debug escapes: "تُربّى" in an alt comes out as "ت\u{64f}رب\u{651}ى". It does so for
# combining marks, format characters (ZWJ, ZWNJ, soft hyphen), spaces other than
# U+0020 and unassigned or private code points; a character reference passes through.
# A tag with a character MRML may mangle (U+007F and up): the only tags worth a look,
# found by the regex engine instead of a Python call per tag.
# (The classes are spelled by their ASCII side: a class up to U+10FFFF costs ms to compile.)
_TAG_BEYOND_ASCII = re.compile(r"<[A-Za-z][\x00-\x3b\x3d\x3f-\x7e]*[^\x00-\x7e][^<>]*>")
_BEYOND_ASCII = re.compile(r"[^\x00-\x7e]")
_ATTRIBUTE_VALUE = re.compile(r"=\s*(?:\"[^\"]*\"|'[^']*')")
_MANGLED_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cc", "Cf", "Cn", "Co", "Zl", "Zp", "Zs"})


def compile_mjml(source: str, *, template: str) -> str:
    """Compile MJML to HTML and inline the template's `mj-style` rules; a compiler
    error names the template and the line."""
    import mjml

    compact = _GAP_BETWEEN_TAGS.sub(">\n", source)
    try:
        html: str = mjml.mjml2html(_attributes_as_references(compact), fonts={})
    except ValueError as exc:
        raise RenderError(
            f"the MJML compiler refused the email made by {template}: {exc}{_near(compact, exc)}",
            hint="an HTML fragment in the template is not well-formed (every tag closed?)",
        ) from exc
    html = _RESET_IMG_HEIGHT.sub(r"\1", html, count=1)
    html = _fluid_images(html)
    try:
        inliner = _inliner("\n".join(_MJ_STYLE.findall(compact)))
        inlined: str = inliner.inline(html) if inliner is not None else html
    except ValueError as exc:  # css_inline.InlineError: a rule it cannot parse
        raise RenderError(f"the CSS of an mj-style in {template} cannot be inlined: {exc}",
                          hint="check the mj-style blocks of the template for a broken rule"
                          ) from exc
    return inlined


@lru_cache(maxsize=16)
def _inliner(styles: str) -> css_inline.CSSInliner | None:
    """The inliner of a template's `mj-style` rules (None: nothing to inline), made
    once: every issue of a theme has the same rules."""
    import css_inline

    css = inlinable_css(styles)
    if not css:
        return None
    # only `css`: the compiled head keeps every <style> as it is, for the
    # clients that read it; nothing is fetched
    return css_inline.CSSInliner(inline_style_tags=False, keep_style_tags=True,
                                 keep_link_tags=True, load_remote_stylesheets=False,
                                 extra_css=css)


def _attributes_as_references(source: str) -> str:
    """The characters MRML would mangle in attribute values, as character references
    (the same characters to every reader of the HTML)."""
    if source.isascii():
        return source
    return _TAG_BEYOND_ASCII.sub(lambda tag: _ATTRIBUTE_VALUE.sub(_references, tag.group()),
                                 source)


def _references(value: re.Match[str]) -> str:
    return _BEYOND_ASCII.sub(_reference, value.group())


def _reference(char: re.Match[str]) -> str:
    found = char.group()
    return f"&#x{ord(found):x};" if unicodedata.category(found) in _MANGLED_CATEGORIES \
        else found


def inlinable_css(css: str) -> str:
    """The rules of `css` that a `style` attribute can carry: plain rules at the top
    level, each with only the selectors of its list that name elements as they are."""
    kept = []
    for selectors, body in _top_level_rules(_CSS_COMMENT.sub("", css)):
        plain = [s.strip() for s in selectors.split(",")
                 if s.strip() and not _NOT_INLINABLE.search(s)]
        if plain and body.strip():
            kept.append(f"{', '.join(plain)} {{ {body.strip()} }}")
    return "\n".join(kept)


def _top_level_rules(css: str) -> list[tuple[str, str]]:
    """(selectors, declarations) of each rule outside an at-rule (`@media`, `@font-face`);
    the at-rules, with what they hold, are left out."""
    rules: list[tuple[str, str]] = []
    depth, start, opened = 0, 0, 0
    for at, char in enumerate(css):
        if char == "{":
            if depth == 0:
                opened = at
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                prelude = css[start:opened].strip()
                if not prelude.startswith("@"):
                    rules.append((prelude, css[opened + 1:at]))
                start = at + 1
        elif char == ";" and depth == 0:
            start = at + 1  # a statement at-rule (`@import ...;`, `@charset ...;`)
    return rules


def unitless_shorthands(source: str) -> list[tuple[int, str, str]]:
    """(line, attribute, value) of each padding shorthand in MJML `source` with a
    unitless zero (`padding="0 24px"`). mjml-python ignores such a value: Outlook's
    table for the block comes out as wide as if it had no padding, where Node MJML
    (and every other client) takes the padding off."""
    found = []
    for tag in _MJ_TAG.finditer(source):
        for match in _PADDING.finditer(tag.group()):
            name, value = match.groups()
            parts = value.split()
            if len(parts) > 1 and any(_UNITLESS_ZERO.match(part) for part in parts):
                line = source.count("\n", 0, tag.start() + match.start()) + 1
                found.append((line, name, value))
    return found


def _near(source: str, exc: ValueError) -> str:
    """Where the compiler stopped, as a line of the MJML it was given (it counts bytes)."""
    match = _POSITION.search(str(exc))
    if not match:
        return ""
    before = source.encode()[: int(match.group(1))].decode(errors="ignore")
    near = before.rsplit("\n", 1)[-1][-60:]
    return f" (line {before.count(chr(10)) + 1} of the generated MJML, after {near!r})"


def _fluid_images(html: str) -> str:
    """Drop the fixed inline height the compiler gives an `mj-image` (a desk
    template's; the theme writes its pictures itself).

    The height attribute stays for Outlook; every other client scales the
    picture by its 100% width, even one that ignores the <style> media queries.
    """
    return _IMG_TAG.sub(lambda tag: _INLINE_HEIGHT.sub("height:auto;", tag.group()), html)
