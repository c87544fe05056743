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


def compile_mjml(source: str, *, template: str) -> str:
    """Compile MJML to HTML; a compiler error names the template and the line."""
    try:
        html: str = mjml.mjml2html(_GAP_BETWEEN_TAGS.sub(">\n", source), fonts={})
    except ValueError as exc:
        raise RenderError(
            f"the MJML compiler refused the email made by {template}: {exc}{_near(source, exc)}",
            hint="an HTML fragment in the template is not well-formed (every tag closed?)",
        ) from exc
    return html


def _near(source: str, exc: ValueError) -> str:
    match = _POSITION.search(str(exc))
    if not match:
        return ""
    offset = int(match.group(1))
    line = source.count("\n", 0, offset) + 1
    return f" (line {line} of the generated MJML)"
