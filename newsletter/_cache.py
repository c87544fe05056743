"""Where the tool keeps what it can recompute: compiled templates and the templates
they name, the parsed settings, badged thumbnails, retina copies.

Everything here is a pure speed-up keyed by content; deleting the folder
is always safe.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["cache_dir", "store_in_cache"]


def cache_dir(name: str) -> Path | None:
    """`$XDG_CACHE_HOME/newsletter/<name>` (or ~/.cache/...), None if it cannot be made."""
    try:
        # Path.home() raises without $HOME and a passwd entry (a container's bare uid);
        # every command reads its settings through here, so that must not stop one
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base) / "newsletter" / name
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return None  # a read-only or missing home: recompute every time
    return folder


def store_in_cache(path: Path, data: bytes) -> None:
    """Write a cache entry whole or not at all; a full or read-only disk is not an error."""
    # the thread too: the preview's threads may write the same entry at once
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)  # two builds at once never see half a file
    except OSError:
        partial.unlink(missing_ok=True)
