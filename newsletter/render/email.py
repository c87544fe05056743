"""MJML -> email HTML with mjml-python (the Rust MRML port).

mjml-python and the pure-Python `mjml` package share the module name
`mjml`; this is the only place that imports it, so a clash shows up here.
"""

from __future__ import annotations

import re

import mjml

from ..errors import RenderError

__all__ = ["compile_mjml"]

_POSITION = re.compile(r"position (\d+)")
# MRML rejects some whitespace runs between MJML tags (spaces without a newline,
# blank lines holding spaces); templates with inline {% if %} blocks make them.
_GAP_BETWEEN_TAGS = re.compile(r">\s+(?=</?mj-)")
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_INLINE_HEIGHT = re.compile(r"(?<=[;\"])height:\d+px;")


def compile_mjml(source: str, *, template: str) -> str:
    """Compile MJML to HTML; a compiler error names the template and the line."""
    compact = _GAP_BETWEEN_TAGS.sub(">\n", source)
    try:
        html: str = mjml.mjml2html(compact, fonts={})
    except ValueError as exc:
        raise RenderError(
            f"the MJML compiler refused the email made by {template}: {exc}{_near(compact, exc)}",
            hint="an HTML fragment in the template is not well-formed (every tag closed?)",
        ) from exc
    return _fluid_images(html)


def _near(source: str, exc: ValueError) -> str:
    """Where the compiler stopped, as a line of the MJML it was given (it counts bytes)."""
    match = _POSITION.search(str(exc))
    if not match:
        return ""
    before = source.encode()[: int(match.group(1))].decode(errors="ignore")
    near = before.rsplit("\n", 1)[-1][-60:]
    return f" (line {before.count(chr(10)) + 1} of the generated MJML, after {near!r})"


def _fluid_images(html: str) -> str:
    """Drop the fixed inline height the compiler gives pictures.

    The height attribute stays for Outlook; every other client scales the
    picture by its 100% width, even one that ignores the <style> media queries.
    """
    return _IMG_TAG.sub(lambda tag: _INLINE_HEIGHT.sub("height:auto;", tag.group()), html)
