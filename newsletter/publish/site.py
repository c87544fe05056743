"""The archive site around the issues, and the one swap that publishes it.

`site_pages` makes the pages that list issues (the archive index, the Atom
feed, the sitemap, robots.txt, the 404 page and the search index) from
`SiteEntry` values; `StagedSite` assembles the next site beside the current
one and swaps it in whole, so a failed build leaves the previous site as it
was, byte for byte.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._files import exchange
from ..errors import NewsletterError
from ..model import SiteEntry, Status

if TYPE_CHECKING:  # given one by the build, which imports render only when there is work
    import xml.etree.ElementTree as ET

    from ..render import Renderer

__all__ = ["FEED_SIZE", "MARKER", "IssueNav", "StagedSite", "issue_navs", "link_tree",
           "site_pages", "write_file"]

FEED_SIZE = 20  # issues in feed.xml: enough for a reader who was away for months
MARKER = ".newsletter-build"
_ATOM = "http://www.w3.org/2005/Atom"
_SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


@dataclass(frozen=True, slots=True)
class IssueNav:
    """An issue's neighbours among the published issues, oldest to newest."""

    previous: SiteEntry | None
    next: SiteEntry | None

    @property
    def signature(self) -> str:
        """Changes exactly when the rendered links would."""
        return _SIGNATURE.encode([[e.slug, e.subject, e.lang] if e else None
                                  for e in (self.previous, self.next)])


# what json.dumps(..., ensure_ascii=False) writes, without a new encoder for each of
# the 1,000 issues a build with nothing to do compares
_SIGNATURE = json.JSONEncoder(ensure_ascii=False)


def published(entries: Iterable[SiteEntry], now: dt.datetime) -> list[SiteEntry]:
    """Ready issues whose time has come at `now`, newest first (by date, then number)."""
    ready = [e for e in entries if e.status is Status.READY and not e.held(now)]
    return sorted(ready, key=lambda e: (e.date, e.number), reverse=True)


def issue_navs(entries: Iterable[SiteEntry], now: dt.datetime) -> dict[str, IssueNav]:
    """Previous/next links for every published issue, by slug; drafts and issues
    held until later get none."""
    oldest_first = list(reversed(published(entries, now)))
    navs = {}
    for i, entry in enumerate(oldest_first):
        navs[entry.slug] = IssueNav(
            previous=oldest_first[i - 1] if i else None,
            next=oldest_first[i + 1] if i + 1 < len(oldest_first) else None)
    return navs


# --- pages that list issues --------------------------------------------------


def site_pages(entries: Sequence[SiteEntry], renderer: Renderer,
               feed_content: Callable[[SiteEntry], str], now: dt.datetime) -> dict[str, bytes]:
    """Every file of the site that is not an issue's own: relative name -> bytes.

    Drafts, and issues held until a time after `now`, are left out of all of
    them (robots.txt asks crawlers to keep off their pages). `feed_content`
    gives the HTML of an issue for the feed (only the newest `FEED_SIZE` are
    asked for).
    """
    settings = renderer.settings
    issues = published(entries, now)
    search_index = _search_index(issues)
    search_script = renderer.theme_file("web/search.js")
    index_name = _hashed("assets/search-index", ".js", search_index)
    script_name = _hashed("assets/search", ".js", search_script)
    files = {index_name: search_index, script_name: search_script}
    files["index.html"] = renderer.render_page("web/index.html", {
        "latest": _listed(issues[0], settings.base_url) if issues else None,
        "years": _by_year(issues, settings.base_url),
        "search_index": index_name,
        "search_script": script_name,
        "site_root": "",
    }, settings.base_url).encode()
    files["404.html"] = renderer.render_page(
        "web/404.html", {"site_root": settings.base_url}, settings.base_url).encode()
    files["feed.xml"] = atom_feed(issues[:FEED_SIZE], settings.name, settings.base_url,
                                  settings.description or settings.tagline, feed_content)
    files["sitemap.xml"] = sitemap(issues, settings.base_url)
    unlisted = [e for e in entries if e.status is Status.DRAFT or e.held(now)]
    files["robots.txt"] = robots(settings.base_url, unlisted)
    return files


def _hashed(stem: str, suffix: str, data: bytes) -> str:
    """A content-hashed name: hosts may cache it for ever, a change gets a new name."""
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}{suffix}"


def issue_href(entry: SiteEntry) -> str:
    # "index.html" spelled out: the archive also works opened from disk
    return f"issues/{entry.slug}/index.html"


def _listed(entry: SiteEntry, base_url: str) -> dict[str, Any]:
    from ..render.locale import locale_for  # imported by the build's renderer already

    image = None
    if entry.image is not None:
        image = {"url": entry.image.url.removeprefix(base_url), "alt": entry.image_alt,
                 "width": entry.image.width, "height": entry.image.height}
    return {
        "slug": entry.slug, "subject": entry.subject, "preheader": entry.preheader,
        "lang": entry.lang, "date": entry.date.isoformat(), "href": issue_href(entry),
        "label": locale_for(entry.lang).issue_number.format(number=entry.number),
        "image": image,
    }


def _by_year(issues: Sequence[SiteEntry], base_url: str
             ) -> list[tuple[int, list[dict[str, Any]]]]:
    return [(year, [_listed(e, base_url) for e in group])
            for year, group in itertools.groupby(issues, key=lambda e: e.date.year)]


def _search_index(issues: Sequence[SiteEntry]) -> bytes:
    """A JSON list in a script, so the search also works from disk (file://
    pages may not fetch JSON); it loads only when the reader starts typing."""
    rows = [{"slug": e.slug, "text": e.search_text} for e in issues]
    payload = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return f"window.newsletterSearchIndex={payload};\n".encode()


def _timestamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def atom_feed(issues: Sequence[SiteEntry], title: str, base_url: str, subtitle: str,
              feed_content: Callable[[SiteEntry], str]) -> bytes:
    """Atom 1.0 with each issue's full content; `updated` moves with corrections."""
    import xml.etree.ElementTree as ET  # only when a site is written, not for a no-op

    ET.register_namespace("", _ATOM)
    feed = ET.Element(f"{{{_ATOM}}}feed")

    def add(parent: ET.Element, tag: str, text: str = "", **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, f"{{{_ATOM}}}{tag}", attrs)
        if text:
            child.text = text
        return child

    add(feed, "id", base_url)
    add(feed, "title", title)
    if subtitle:
        add(feed, "subtitle", subtitle)
    add(feed, "link", rel="self", href=f"{base_url}feed.xml", type="application/atom+xml")
    add(feed, "link", rel="alternate", href=base_url, type="text/html")
    newest = max((e.updated for e in issues), default=dt.date(2000, 1, 1))
    add(feed, "updated", _timestamp(newest))
    author = add(feed, "author")
    add(author, "name", title)
    add(feed, "generator", "newsletter")
    for entry in issues:
        url = f"{base_url}issues/{entry.slug}/"
        item = add(feed, "entry")
        item.set("{http://www.w3.org/XML/1998/namespace}lang", entry.lang)
        add(item, "id", url)
        add(item, "title", entry.subject)
        add(item, "link", rel="alternate", href=url, type="text/html")
        add(item, "published", _timestamp(entry.date))
        add(item, "updated", _timestamp(entry.updated))
        if entry.preheader:
            add(item, "summary", entry.preheader)
        add(item, "content", feed_content(entry), type="html")
    return _xml(feed)


def sitemap(issues: Sequence[SiteEntry], base_url: str) -> bytes:
    import xml.etree.ElementTree as ET

    ET.register_namespace("", _SITEMAP)
    urlset = ET.Element(f"{{{_SITEMAP}}}urlset")
    newest = max((e.updated for e in issues), default=None)
    pages = [(base_url, newest)] + [(f"{base_url}issues/{e.slug}/", e.updated) for e in issues]
    for loc, lastmod in pages:
        url = ET.SubElement(urlset, f"{{{_SITEMAP}}}url")
        ET.SubElement(url, f"{{{_SITEMAP}}}loc").text = loc
        if lastmod:
            ET.SubElement(url, f"{{{_SITEMAP}}}lastmod").text = lastmod.isoformat()
    return _xml(urlset)


def robots(base_url: str, drafts: Iterable[SiteEntry]) -> bytes:
    prefix = urlsplit(base_url).path or "/"
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {prefix}issues/{d.slug}/" for d in drafts]
    lines += ["", f"Sitemap: {base_url}sitemap.xml", ""]
    return "\n".join(lines).encode()


def _xml(root: ET.Element) -> bytes:
    import xml.etree.ElementTree as ET

    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


# --- the swap ----------------------------------------------------------------


class StagedSite:
    """The next site, assembled in a folder beside the current one.

    The live site is never touched before the swap, so a build killed at any
    moment leaves it as it was. A folder that did not change is carried over
    as hard links to the live site's files (one link per file, no bytes
    copied; a copy where the filesystem has no links), or, when the site the
    last build replaced still holds the very same files, moved out of that
    one with a single rename. `commit` exchanges the two folders in one step
    where Linux allows it (renameat2), else with two renames and a rollback,
    and keeps the site it replaced for the next build's carry-over.
    """

    def __init__(self, target: Path, build_id: str) -> None:
        import tempfile  # here: a build with nothing to do stages nothing

        if target.exists() and not is_built_site(target):
            raise NewsletterError(
                f"{target} exists and was not made by newsletter; refusing to replace it",
                hint="move that folder away, or set paths.output in newsletter.yaml to a "
                     "folder of its own")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.build_id = build_id
        self.previous = previous_site(target)
        self.files_linked = 0  # carried over one by one (linked or copied), not moved
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)  # from a build that was killed
        self.root = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp",
                                          dir=target.parent))
        self.root.chmod(0o755)  # mkdtemp makes it private; a web server must read it
        self._done = False

    def __enter__(self) -> StagedSite:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._done:
            # only links and folders of the replaced site: the live one is whole
            shutil.rmtree(self.root, ignore_errors=True)
            self._done = True

    def write(self, name: str, data: bytes) -> Path:
        return write_file(self.root / name, data)

    def keep(self, name: str) -> None:
        """Carry an unchanged folder of the current site over as it is."""
        live, destination = self.target / name, self.root / name
        if not destination.parent.is_dir():
            destination.parent.mkdir(parents=True)
        spare = self.previous / name if self.previous else None
        if spare and same_files(spare, live):
            with contextlib.suppress(OSError):
                spare.rename(destination)  # the replaced site is not served: free to take
                return
        self.files_linked += link_tree(live, destination)

    def commit(self) -> None:
        self.write(MARKER, _marker_text(self.build_id))
        if not self.target.exists():
            self.root.rename(self.target)
            if self.previous:
                shutil.rmtree(self.previous, ignore_errors=True)  # of a site since deleted
        elif exchange(self.root, self.target):
            self._retire(self.root)  # now holds the previous site
        else:
            retired = self.target.with_name(f".{self.target.name}.old.tmp")
            shutil.rmtree(retired, ignore_errors=True)
            self.target.rename(retired)
            try:
                self.root.rename(self.target)
            except BaseException:
                retired.rename(self.target)
                raise
            self._retire(retired)
        self._done = True

    def _retire(self, replaced: Path) -> None:
        """Keep the site just replaced in place of the one before: its unchanged
        folders hold the new site's own files, ready for the next carry-over."""
        if self.previous is not None:
            shutil.rmtree(self.previous, ignore_errors=True)
            # the new site is live already: a failure here only loses the head start
            with contextlib.suppress(OSError):
                self.previous.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                replaced.rename(self.previous)
                return
        shutil.rmtree(replaced, ignore_errors=True)


def previous_site(target: Path) -> Path | None:
    """Where the site a build replaced is kept: never served, never published, and
    beside the site, so its folders move into the next staging folder by rename.

    None when others could put folders there (a shared /tmp): a folder carried
    over from it becomes part of the site.
    """
    folder = target.parent / ".newsletter"
    try:
        stat = folder.stat()
    except FileNotFoundError:
        return folder / f"previous-{target.name}"  # `_retire` makes it, ours alone
    if stat.st_uid != os.getuid() or stat.st_mode & 0o002:
        return None
    return folder / f"previous-{target.name}"


def same_files(a: Path, b: Path) -> bool:
    """True when two folders hold the same names, each the very same file (inode)."""
    try:
        return a.stat().st_dev == b.stat().st_dev and _inodes(a) == _inodes(b)
    except OSError:  # one of them is missing: nothing to compare
        return False


def _inodes(folder: Path | str) -> dict[str, Any]:
    # the inode numbers come with the listing (no stat per file); they are
    # unique within the one filesystem `same_files` checked for
    shape: dict[str, Any] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            is_dir = entry.is_dir(follow_symlinks=False)
            shape[entry.name] = _inodes(entry.path) if is_dir else entry.inode()
    return shape


# a filesystem or a file that cannot take one more link: copy instead
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOSYS})


def link_tree(source: Path, destination: Path) -> int:
    """Make `destination` hold the files of `source` as hard links; returns how many.

    One link per file and no bytes copied; a file that cannot be linked (another
    filesystem, one without links, too many links already) is copied with its
    dates. `source` is only read. Safe because a build never writes into an
    existing file (see `write_file`), so nothing reaches the linked original.
    """
    destination.mkdir()
    shutil.copymode(source, destination)
    count = 0
    with os.scandir(source) as entries:
        for entry in entries:
            target = destination / entry.name
            if entry.is_dir(follow_symlinks=False):
                count += link_tree(Path(entry.path), target)
                continue
            try:
                os.link(entry.path, target, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                shutil.copy2(entry.path, target, follow_symlinks=False)
            count += 1
    return count


def is_built_site(folder: Path) -> bool:
    """True for an empty folder or one a build of ours wrote."""
    if (folder / MARKER).is_file():
        return True
    names = {p.name for p in folder.iterdir()}
    if not names:
        return True
    # sites from before the site build held only issue folders, each marked
    return names == {"issues"} and all(
        (issue / MARKER).is_file() for issue in (folder / "issues").iterdir())


def site_build_id(folder: Path) -> str | None:
    """The id the last build wrote into the site's marker, if any."""
    try:
        text = (folder / MARKER).read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("build: "):
            return line.removeprefix("build: ").strip()
    return None


def _marker_text(build_id: str) -> bytes:
    return (f"Built by newsletter; the whole folder is replaced on the next build.\n"
            f"build: {build_id}\n").encode()


def write_file(path: Path, data: bytes | Path) -> Path:
    """Write a site file readable by a web server, dated SOURCE_DATE_EPOCH if set.

    A desk file (a picture) is hard-linked where the filesystem allows: a
    thousand issues showing the same logo cost one copy. Not when the date
    must be set, which would change the editor's own file.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    dated = bool(epoch and epoch.isdigit())
    try:
        _put(path, data, link=not dated)
    except FileNotFoundError:  # its folder is new: make it once, not before every file
        path.parent.mkdir(parents=True, exist_ok=True)
        _put(path, data, link=not dated)
    if dated:
        os.utime(path, (int(epoch), int(epoch)))  # type: ignore[arg-type]
    return path


def _put(path: Path, data: bytes | Path, *, link: bool) -> None:
    try:
        _create(path, data, link=link)
    except FileExistsError:
        # a new file, never written into the old one: a folder carried over by
        # links shares its files with the live site
        path.unlink()
        _create(path, data, link=link)


def _create(path: Path, data: bytes | Path, *, link: bool) -> None:
    """A new file at `path`; FileExistsError if there is one already."""
    if isinstance(data, bytes):
        with path.open("xb") as file:
            file.write(data)
        return
    if link:
        try:
            os.link(data, path)
            return
        except (FileNotFoundError, FileExistsError):
            raise
        except OSError:
            pass  # another filesystem, or one without links: copy
    with data.open("rb") as source, path.open("xb") as copy:
        shutil.copyfileobj(source, copy)


def shared_digest(parts: Mapping[str, bytes]) -> str:
    """A digest of named inputs, independent of the order they were gathered in."""
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(name.encode() + b"\0" + hashlib.sha256(parts[name]).digest())
    return h.hexdigest()
