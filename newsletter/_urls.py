"""Two questions about a link, asked wherever settings, issues or stories are read.

Apart from `sanitize` (which re-exports them) because answering them needs
only `urllib.parse`, while `sanitize` loads nh3 and builds its cleaners:
reading the settings or listing candidates asks these and cleans nothing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["is_remote", "is_safe_url"]


def is_remote(src: str) -> bool:
    """Whether a picture source names a web address rather than a desk file."""
    return "://" in src or src.startswith("//")


def is_safe_url(url: str) -> bool:
    """True for absolute http(s) URLs with a host, and for mailto: links."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if parts.scheme == "mailto":
        return bool(parts.path)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
