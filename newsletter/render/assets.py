"""The pictures of an issue: found, measured, and copied beside its pages.

Every `<img>` in an email needs a width and a height (Outlook ignores CSS
sizes), so a picture in the desk is measured with Pillow; a picture on the
web has its size written in the issue file, or else measured by the caller
(`collect.pictures`, through `api`: this module does no network I/O) and
handed in as `measured`. Video thumbnails get an email copy with a play
badge and the duration drawn in, since no email client can be trusted to
overlay one; each video gets its own copy (`video_key`), as two videos may
share a thumbnail but not a duration.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .._cache import cache_dir, store_in_cache
from ..errors import AssetError, Problem
from ..model import Asset, Image, Issue, IssueAssets, Logo, SourceLocation, Video
from ..sanitize import is_remote

if TYPE_CHECKING:  # Pillow is imported where a picture is read: importing render needs none
    from PIL import Image as PILImage

__all__ = ["RETINA", "RetinaCopies", "resolve_assets", "retina_name", "video_key"]

_FOLDER = "images"
MAX_PICTURE_BYTES = 3_000_000  # every reader downloads it; 3 MB is already a lot
MAX_PICTURE_PIXELS = 40_000_000
_BADGE_VERSION = b"play-badge-1"  # change when _draw_badge draws differently
_RETINA_VERSION = b"retina-1"  # change when _resized resizes differently
#: Pixels per displayed pixel in a site copy: phones and laptops draw two (or three)
#: device pixels per CSS pixel, and a picture at one looks soft there.
RETINA = 2
_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif"}


def resolve_assets(issue: Issue, root: Path, page_url: str, logo: Logo | None = None,
                   measured: Mapping[str, Asset | str] | None = None) -> IssueAssets:
    """Measure and collect every picture of `issue` (and the desk's logo).

    `measured` gives pictures on the web written without a size theirs, by
    src, or says why they cannot be used. AssetError lists every picture
    that fails, not just the first.
    """
    problems: list[Problem] = []
    images: dict[str, Asset] = {}
    files: dict[str, bytes | Path] = {}
    sources: dict[str, Path] = {}  # desk pictures, by src
    logo_image = [Image(src=logo.src, alt=logo.alt, width=logo.width, height=logo.height,
                        location=logo.location, field="logo.src")] if logo else []
    for image in (*logo_image, *issue.images()):
        if image.src not in images:
            found = _resolve(image, root, page_url, files, sources, problems, measured or {})
            if found:
                images[image.src] = found
    thumbnails: dict[str, Asset] = {}
    for block in issue.lead.body:
        if isinstance(block, Video) and block.thumbnail and block.thumbnail.src in images:
            src = block.thumbnail.src
            key = video_key(block)
            thumbnails[key] = images[src]  # a picture on the web: no copy of ours to draw on
            if src in sources:
                data = _badged_bytes(sources[src].read_bytes(), block.duration)
                name = _store(files, f"{Path(src).stem}-play", ".jpg", data)
                thumbnails[key] = Asset(url=f"{page_url}{name}", width=images[src].width,
                                        height=images[src].height)
    if problems:
        raise AssetError(problems)
    return IssueAssets(images=images, video_thumbnails=thumbnails,
                       files=tuple(sorted(files.items())))


def video_key(video: Video) -> str:
    """Where `IssueAssets.video_thumbnails` keeps a video's badged thumbnail: by the
    thumbnail and the duration drawn on it."""
    return f"{video.thumbnail.src if video.thumbnail else ''}\0{video.duration}"


def _resolve(image: Image, root: Path, page_url: str, files: dict[str, bytes | Path],
             sources: dict[str, Path], problems: list[Problem],
             measured: Mapping[str, Asset | str]) -> Asset | None:
    where = image.location or SourceLocation(path=root)
    if is_remote(image.src):
        if image.width and image.height:
            return Asset(url=image.src, width=image.width, height=image.height)
        found = measured.get(image.src)
        if isinstance(found, Asset):
            return found
        if found:  # measured, and found wanting
            problems.append(Problem(location=where, field=image.field, message=(
                f"{image.src} cannot be used: {found}"),
                hint="fix the address, or use another picture"))
            return None
        problems.append(Problem(location=where, field=image.field, message=(
            f"the size of {image.src} is not known"),
            hint="add width: and height: (in pixels) for a picture on the web"))
        return None
    path = root / PurePosixPath(image.src)
    try:
        stat = path.stat()
        digest, width, height, kind = _measure(str(path), stat.st_mtime_ns, stat.st_size)
        if stat.st_size > MAX_PICTURE_BYTES or width * height > MAX_PICTURE_PIXELS:
            problems.append(Problem(location=where, field=image.field, message=(
                f'"{image.src}" is too big to send ({stat.st_size:,} bytes, '
                f'{width}x{height})'),
                hint="export it at most 1200 pixels wide, as JPEG of quality 70-85"))
            return None
    except FileNotFoundError:
        problems.append(Problem(location=where, field=image.field, message=(
            f'no picture at "{image.src}"'),
            hint=f"paths are relative to {root}; check the spelling and that the file exists"))
        return None
    except OSError:  # Pillow's UnidentifiedImageError is one; _measure makes a bomb one
        problems.append(Problem(location=where, field=image.field, message=(
            f'"{image.src}" is not a JPEG, PNG or GIF picture'),
            hint="export the picture as JPEG or PNG"))
        return None
    if kind not in _FORMATS:
        problems.append(Problem(location=where, field=image.field, message=(
            f'"{image.src}" is {kind}, which email clients do not all show'),
            hint="export the picture as JPEG or PNG"))
        return None
    sources[image.src] = path
    name = _name(Path(image.src).stem, _FORMATS[kind], digest)
    files[name] = path  # copied (or linked) as it is
    return Asset(url=f"{page_url}{name}", width=width, height=height)


@lru_cache(maxsize=1024)
def _measure(path: str, mtime_ns: int, size: int) -> tuple[str, int, int, str | None]:
    """A desk picture's content digest, size and format; a desk shows the same
    logo and pictures in issue after issue, so each is read once per build."""
    from PIL import Image as PILImage

    data = Path(path).read_bytes()
    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            return hashlib.sha256(data).hexdigest(), picture.width, picture.height, \
                picture.format
    except PILImage.DecompressionBombError as exc:
        raise OSError(f"{path}: {exc}") from exc


def _store(files: dict[str, bytes | Path], stem: str, suffix: str, data: bytes) -> str:
    name = _name(stem, suffix, hashlib.sha256(data).hexdigest())
    files[name] = data
    return name


def _name(stem: str, suffix: str, digest: str) -> str:
    """Name a file by its content, so a changed picture gets a new URL."""
    safe_stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:60] or "image"
    return f"{_FOLDER}/{safe_stem}-{digest[:10]}{suffix}"


def _badged_bytes(source: bytes, duration: str) -> bytes:
    """The thumbnail as JPEG with the badge drawn in, cached by content."""
    import PIL
    from PIL import Image as PILImage

    recipe = _BADGE_VERSION + PIL.__version__.encode() + duration.encode() + b"\0"
    key = hashlib.sha256(recipe + source).hexdigest()
    folder = cache_dir("thumbnails")
    cached = folder / f"{key}.jpg" if folder else None
    if cached and cached.is_file():
        data = cached.read_bytes()
        if data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9"):  # a whole JPEG
            return data
    with PILImage.open(io.BytesIO(source)) as picture:
        badged = _draw_badge(picture.convert("RGB"), duration)
    buffer = io.BytesIO()
    badged.save(buffer, format="JPEG", quality=82, optimize=True)
    data = buffer.getvalue()
    if cached:
        store_in_cache(cached, data)
    return data


def _draw_badge(picture: PILImage.Image, duration: str) -> PILImage.Image:
    from PIL import ImageDraw, ImageFont  # only when a badge is drawn, not on every build

    draw = ImageDraw.Draw(picture, "RGBA")
    w, h = picture.size
    radius = max(18, min(w, h) // 7)
    cx, cy = w // 2, h // 2
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(0, 0, 0, 170),
                 outline=(255, 255, 255, 230), width=max(2, radius // 12))
    side = radius * 0.9
    draw.polygon([(cx - side * 0.35, cy - side * 0.55), (cx - side * 0.35, cy + side * 0.55),
                  (cx + side * 0.6, cy)], fill=(255, 255, 255, 255))
    if duration:
        font = ImageFont.load_default(size=max(14, h // 14))
        left, top, right, bottom = draw.textbbox((0, 0), duration, font=font)
        pad = max(6, h // 60)
        box = (w - (right - left) - 3 * pad, h - (bottom - top) - 3 * pad, w - pad, h - pad)
        draw.rounded_rectangle(box, radius=pad, fill=(0, 0, 0, 200))
        draw.text((box[0] + pad - left, box[1] + pad - top), duration, font=font,
                  fill=(255, 255, 255, 255))
    return picture


class RetinaCopies:
    """The site's copy of each picture at `RETINA` times the width it is shown at,
    made while an issue renders (`picture_src` in the templates) and published
    with its pictures.

    A source no wider than that is used as it is (never enlarged; `check` warns
    about it), and so is a picture on the web or a GIF (it may be animated).
    A copy is named by its source's content digest and its width, and kept in
    the cache between builds: a desk resizes the same pictures issue after issue.
    """

    def __init__(self, files: Iterable[tuple[str, bytes | Path]], page_url: str,
                 *, default_width: int) -> None:
        self._sources = dict(files)
        self._page_url = page_url
        self._default_width = default_width
        self._made: dict[str, bytes | Path] = {}

    def src(self, asset: Asset, width: int | None = None) -> str:
        """The URL of `asset` for a picture shown `width` CSS pixels wide (by default
        the column's width, or less for a narrower picture)."""
        shown = min(asset.width, width or self._default_width)
        name = asset.url.removeprefix(self._page_url)
        source = self._sources.get(name)
        pixels = shown * RETINA
        if source is None or asset.width <= pixels or not name.endswith((".jpg", ".png")):
            return asset.url
        copy = retina_name(name, pixels)
        if copy not in self._made:
            self._made[copy] = _resized(source, name, pixels)
        return asset.url[: len(asset.url) - len(name)] + copy

    def files(self) -> tuple[tuple[str, bytes | Path], ...]:
        """Each copy made: its bytes, or its file in the cache (linked, not written again,
        into each issue's folder)."""
        return tuple(sorted(self._made.items()))


def retina_name(name: str, pixels: int) -> str:
    """`images/lead-3f2a9c01de.jpg` at 1104 px: `images/lead-3f2a9c01de-1104w.jpg`. The
    source's name carries its content digest, so a changed picture gets a new URL."""
    stem, _, suffix = name.rpartition(".")
    return f"{stem}-{pixels}w.{suffix}"


#: Retina copies made or found in this process, by (content-named source, width): a
#: desk shows the same pictures issue after issue, and the cache is read once each.
_MADE: dict[tuple[str, int], bytes | Path] = {}
_MADE_MAX = 256


def _resized(source: bytes | Path, name: str, pixels: int) -> bytes | Path:
    """`source` scaled to `pixels` wide, in its own format, cached by its content-named
    `name` and the width (in this process, and on disk between builds)."""
    made = _MADE.get((name, pixels))
    # gone from the cache (emptied while a preview ran): linking it would fail the build
    if made is None or (isinstance(made, Path) and not made.is_file()):
        if made is None and len(_MADE) >= _MADE_MAX:  # a stale one is replaced in place
            del _MADE[next(iter(_MADE))]  # the oldest
        made = _MADE[name, pixels] = _resized_once(source, name, pixels)
    return made


def _resized_once(source: bytes | Path, name: str, pixels: int) -> bytes | Path:
    import PIL
    from PIL import Image as PILImage

    key = hashlib.sha256(_RETINA_VERSION + PIL.__version__.encode() + name.encode()
                         + b"\0" + str(pixels).encode()).hexdigest()
    suffix = Path(name).suffix
    folder = cache_dir("retina")
    cached = folder / f"{key}{suffix}" if folder else None
    if cached and cached.is_file() and _whole(cached.read_bytes(), suffix):
        return cached  # a thousand issues' copies: links to one file, not a thousand writes
    raw = source.read_bytes() if isinstance(source, Path) else source
    with PILImage.open(io.BytesIO(raw)) as picture:
        height = max(1, round(picture.height * pixels / picture.width))
        smaller = picture.resize((pixels, height), PILImage.Resampling.LANCZOS,
                                 reducing_gap=3.0)
        buffer = io.BytesIO()
        keep = {k: picture.info[k] for k in ("icc_profile", "exif") if picture.info.get(k)}
        if suffix == ".jpg":
            smaller.convert("RGB").save(buffer, format="JPEG", quality=80, optimize=True,
                                        progressive=True, **keep)
        else:
            smaller.save(buffer, format="PNG", optimize=True, **keep)
    data = buffer.getvalue()
    if cached:
        store_in_cache(cached, data)
        if cached.is_file():  # stored (a full or read-only disk keeps the bytes here)
            return cached
    return data


def _whole(data: bytes, suffix: str) -> bool:
    """A cached copy written to the end (a build stopped mid-write leaves a stub)."""
    if suffix == ".jpg":
        return data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    return data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")
