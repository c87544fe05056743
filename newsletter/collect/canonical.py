"""Canonical story URLs and the short ids derived from them.

One story reached by `http://Example.com:80/%7eann/./post?utm_source=rss#comments`
and by `https://example.com/~ann/post` must be one candidate, so every URL a
feed gives is brought to one spelling before it becomes a `Story.url`:

- RFC 3986's normalizations that never change what a URL names (6.2.2):
  lowercase scheme and host, percent-escapes in upper case (`%2f` -> `%2F`),
  unreserved characters unescaped (`%7E` -> `~`), no default port, no `.`
  or `..` segments; what must stay escaped stays (`%2F` is not `/`);
- then ours: https (unless a port says plain http), an ASCII (IDNA) host,
  no user and password, no fragment, no tracking parameters.

The fragment is kept only when asked (`keep_fragment`): a feed whose entries
are anchors on one page (`26.html#a080605`) names a story by it. The query
keeps its order: sorting it (as w3lib's `canonicalize_url` does) is not an
equivalence, and a server may read its parameters in order.

The story id is a hash of that spelling, so it is stable across fetches and
feeds. Changing the spelling changes the ids of the URLs it touches; stories
already stored keep theirs (the store matches an entry by its feed and guid
first, and keeps the stored id and URL), and lock files pin the ids issues use.
Pure functions: no network, no clock.
"""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMETERS", "amp_canonical", "canonical_url", "story_id"]

#: Query parameters that only say where a click came from (compared lowercased). Never
#: one that can choose what the page shows (`id`, `p`, `v`, `ref`, `source`, `s`).
TRACKING_PARAMETERS = frozenset({
    # ad and social click ids: Meta, Google (Ads, Display, app, linker), Microsoft, Yandex,
    # X/Twitter, TikTok, LinkedIn, Instagram
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "_ga", "_gl", "msclkid", "yclid",
    "ysclid", "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "srsltid",
    # share ids: Spotify and YouTube (si), X/Twitter (ref_src, ref_url)
    "si", "ref_src", "ref_url",
    # e-mail and marketing tools: Mailchimp, HubSpot, Marketo, Adobe, Vero, Omeda,
    # Openstat, Drip, Wicked Reports, Rakuten
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",
    "mkt_tok", "s_cid", "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id", "_openstat",
    "__s", "wickedid", "rb_clickid",
})
_TRACKING_PREFIXES = ("utm_", "mc_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are when re-quoting; "%" keeps existing escapes intact.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?"
_FRAGMENT_SAFE = _QUERY_SAFE
# A percent-escape, or a "%" that starts none (which is then escaped itself, as "%25").
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})?")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_ID_LENGTH = 10


def story_id(url: str) -> str:
    """The short, stable id of a story: 10 hex digits of sha256(canonical URL).

    Short enough for an editor to type (`story: 9f3c1e07a2`); 40 bits make a
    collision unlikely among the few thousand candidates a desk holds.
    """
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:_ID_LENGTH]


def canonical_url(url: str, base: str | None = None, *,
                  keep_fragment: bool = False) -> str | None:
    """`url` (resolved against `base`) in canonical form, or None if it is not web.

    Only http(s) URLs with a valid host survive; `http` is upgraded to `https`
    unless an explicit non-default port says the server speaks plain http
    there. Tracking parameters (`utm_*`, `mc_*`, `fbclid`, ...) are dropped,
    and so is the fragment unless `keep_fragment` (an empty one always goes);
    the other parameters keep their order and spelling.
    """
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        port = parts.port
        host = _ascii_host(parts.hostname or "")
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or host is None:
        return None
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    if scheme == "http" and port is None:
        scheme = "https"
    netloc = f"{host}:{port}" if port is not None else host
    path = _normal_path(_escaped(parts.path, _PATH_SAFE) or "/")
    fragment = _escaped(parts.fragment, _FRAGMENT_SAFE) if keep_fragment else ""
    return urlunsplit((scheme, netloc, path, _without_tracking(parts.query), fragment))


def _escaped(text: str, safe: str) -> str:
    """`text` with what may not stand in a URL escaped, and escapes in one spelling.

    An escape of an unreserved character becomes the character (`%7E` -> `~`);
    any other is written in upper case (`%2f` -> `%2F`), never unescaped: a
    `%2F` in a path is not a `/`. A lone `%` becomes `%25`, so that
    unescaping can never make a new escape (`%%34%31` would become `%41`).
    """
    return _ESCAPE.sub(_one_escape, quote(text, safe=safe))


def _one_escape(match: re.Match[str]) -> str:
    if match[1] is None:
        return "%25"
    char = chr(int(match[1], 16))
    return char if char in _UNRESERVED else f"%{match[1].upper()}"


def _ascii_host(hostname: str) -> str | None:
    """The host lowercased and IDNA-encoded, or None if it cannot be a host."""
    host = hostname.rstrip(".").lower()
    if ":" in host:  # an IPv6 literal: urlsplit already checked its brackets
        return f"[{host}]"
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    labels_fit = len(host) <= 253 and all(len(label) <= 63 for label in host.split("."))
    return host if _HOST.fullmatch(host) and labels_fit else None


def _normal_path(path: str) -> str:
    """`path` without `.` and `..` segments (RFC 3986 5.2.4).

    After unescaping, so `%2E%2E` is a `..` too (RFC 3986 6.2.2.3). Written
    out rather than left to `urljoin`, which reads a path starting `//` as a host.
    """
    if "/." not in path:
        return path
    segments = path.split("/")[1:]  # an http(s) path starts with "/"
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")  # "/a/b/.." is the folder "/a/"
    return "/" + "/".join(kept)


def _without_tracking(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        key = unquote(pair.partition("=")[0]).lower()
        if pair and key not in TRACKING_PARAMETERS and not key.startswith(_TRACKING_PREFIXES):
            kept.append(_escaped(pair, _QUERY_SAFE))
    return "&".join(kept)


class _CanonicalLink(HTMLParser):
    """Reads the <head> for `<html amp>` and the first `<link rel="canonical">`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.amp = False
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "html":
            self.amp = "amp" in names or "\u26a1" in names
        elif tag == "link" and self.href is None and names.get("href"):
            rels = (names.get("rel") or "").lower().split()
            if "canonical" in rels:
                self.href = names["href"]


def amp_canonical(html: str, base: str | None = None) -> str | None:
    """The canonical URL an AMP page declares, or None (not AMP, or none declared).

    An AMP page is a stripped copy served from a cache or an `/amp/` path;
    the story is the page its `<link rel="canonical">` names. Only the part
    before `<body` is read, since that is where the link must be.
    """
    end = re.search(r"<body[\s>]", html, re.IGNORECASE)
    reader = _CanonicalLink()
    try:
        reader.feed(html[: end.start()] if end else html)
        reader.close()
    except AssertionError:  # the stdlib parser's answer to "<![" markup; keep what it read
        pass
    if not reader.amp or reader.href is None:
        return None
    return canonical_url(reader.href, base)
