"""Where links point: absolute everywhere, campaign-tagged in the email."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ..model import Issue, Utm
from ..sanitize import is_safe_url

__all__ = ["LinkPolicy", "add_utm", "embed_url"]

_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")


def add_utm(url: str, tags: dict[str, str]) -> str:
    """Append utm_* parameters the URL does not already carry."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    extra = [(key, value) for key, value in tags.items() if key not in present and value]
    if not extra:
        return url
    joined = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit(parts._replace(query=joined))


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Resolves a link against the page it sits on, then tags it if asked.

    Returns None for anything that is not http(s) or mailto, so unsafe
    schemes never reach an output.
    """

    base: str
    utm: dict[str, str] | None = None

    @classmethod
    def for_email(cls, page_url: str, utm: Utm, issue: Issue) -> LinkPolicy:
        if not utm.enabled:
            return cls(page_url)
        campaign = utm.campaign.format(number=issue.number, date=issue.date.isoformat(),
                                       slug=issue.slug)
        tags = {"utm_source": utm.source, "utm_medium": utm.medium, "utm_campaign": campaign}
        return cls(page_url, tags)

    def __call__(self, url: str) -> str | None:
        # the same links recur in the email, its text part and the web page
        return _resolved(self.base, tuple(self.utm.items()) if self.utm else (), url)

    def absolute(self, url: str) -> str | None:
        """The URL resolved against the page, if it is safe; never tagged."""
        return _absolute(self.base, url)


@lru_cache(maxsize=8192)
def _resolved(base: str, utm: tuple[tuple[str, str], ...], url: str) -> str | None:
    absolute = _absolute(base, url)
    if absolute and utm and absolute.startswith(("http://", "https://")):
        return add_utm(absolute, dict(utm))
    return absolute


@lru_cache(maxsize=8192)
def _absolute(base: str, url: str) -> str | None:
    url = url.strip()
    if url[:7].lower() == "mailto:":
        return "mailto:" + url[7:] if is_safe_url(url) else None
    try:
        resolved = urljoin(base, url) if url else ""
    except ValueError:
        return None
    return resolved if is_safe_url(resolved) else None


_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"}


def embed_url(video_url: str) -> str | None:
    """The privacy-enhanced player URL for YouTube and Vimeo videos, else None."""
    parts = urlsplit(video_url)
    host = (parts.hostname or "").lower()
    path = [p for p in parts.path.split("/") if p]
    video_id = None
    if host == "youtu.be" and path:
        video_id = path[0]
    elif host in _YOUTUBE_HOSTS:
        query = dict(parse_qsl(parts.query))
        video_id = query.get("v") or (path[1] if len(path) > 1 and path[0] in
                                      ("embed", "shorts", "live") else None)
    if video_id and _VIDEO_ID.match(video_id):
        return f"https://www.youtube-nocookie.com/embed/{video_id}"
    if host in ("vimeo.com", "www.vimeo.com", "player.vimeo.com"):
        number = next((p for p in path if p.isdigit()), None)
        if number:
            return f"https://player.vimeo.com/video/{number}?dnt=1"
    return None
