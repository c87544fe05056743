"""A plain table of aligned columns, for the listing an editor runs most.

`newsletter candidates` printed its rows through rich's Table: importing rich
and laying out 50 rows cost more than the rest of the command (start-up,
settings, the store query) together. A list of short, single-line cells needs
no layout engine: columns padded to their widest cell, wide (East Asian)
characters counted as two, and the last column, the free text, cut to the
terminal's width only on a terminal (piped output keeps every character, for
grep). Cells come from feeds: control characters are shown as spaces, so no
title can move the cursor or recolour the terminal.
"""

from __future__ import annotations

import shutil
import sys
import unicodedata
from collections.abc import Sequence

import click

__all__ = ["echo_table", "text_width"]

#: C0 and C1 control characters (and DEL) -> a space.
_CONTROLS = dict.fromkeys((*range(32), *range(127, 160)), " ")
_GAP = "  "


def text_width(text: str) -> int:
    """The columns `text` takes in a terminal: wide and full-width characters take two."""
    if text.isascii():  # no wide character: most ids, dates and titles
        return len(text)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, ending in "…" when it was cut."""
    if text_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += text_width(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def echo_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """`rows` under `head`, each column as wide as its widest cell; the last column
    is cut to the terminal's width when standard output is a terminal."""
    lines = [[cell.translate(_CONTROLS) for cell in row] for row in (head, *rows)]
    widths = [max(text_width(line[col]) for line in lines) for col in range(len(head) - 1)]
    room = None
    if sys.stdout.isatty():
        room = max(shutil.get_terminal_size().columns - sum(widths) - len(_GAP) * len(widths),
                   12)
    for line in lines:
        cells = [cell + " " * (width - text_width(cell)) for cell, width in zip(line, widths,
                                                                               strict=False)]
        last = line[-1] if room is None else _cut(line[-1], room)
        click.echo(_GAP.join([*cells, last]).rstrip())
