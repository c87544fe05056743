"""Where the tool keeps what it can recompute: compiled templates, badged thumbnails.

Everything here is a pure speed-up keyed by content; deleting the folder
is always safe.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(name: str) -> Path | None:
    """`$XDG_CACHE_HOME/newsletter/<name>` (or ~/.cache/...), None if it cannot be made."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folder = Path(base) / "newsletter" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: recompute every time
    return folder
