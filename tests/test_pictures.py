"""Pictures on the web: measured over real HTTP on 127.0.0.1 (real JPEG and PNG bytes
made with Pillow), refused for every reason a feed's picture can be wrong, cached,
pinned in the lock file, and used from the pins when the server is gone."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import re
import shutil
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import LocalSite
from PIL import Image as PILImage

from newsletter import api
from newsletter.collect.canonical import story_id
from newsletter.collect.pictures import Measured, PictureOptions, Unmeasured, measure_pictures
from newsletter.desk.lockfile import lock_path, read_lock_file
from newsletter.errors import AssetError
from newsletter.model import Image, Story

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def picture(kind: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (20, 90, 120)).save(buffer, format=kind)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`x`height` (its pixels would be a bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


JPEG = picture("JPEG", (640, 480))
PNG = picture("PNG", (300, 200))


class PictureServer(http.server.BaseHTTPRequestHandler):
    """Every way a feed's picture can be served, counting each request by path."""

    asked: ClassVar[Counter[str]] = Counter()
    lock = threading.Lock()
    routes: ClassVar[dict[str, Callable[[PictureServer], None]]] = {}

    def do_GET(self) -> None:
        with self.lock:
            self.asked[self.path] += 1
        self.routes.get(self.path, PictureServer.not_found)(self)

    def send(self, status: int, body: bytes, kind: str,
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def not_found(self) -> None:
        self.send(404, b"<h1>Not found</h1>", "text/html")

    def huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(50 * 1024 ** 3))  # 50 GB, never sent
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


PictureServer.routes = {
    "/kelp.jpg": lambda h: h.send(200, JPEG, "image/jpeg"),
    "/reef.png": lambda h: h.send(200, PNG, "image/png; charset=binary"),
    "/unlabelled": lambda h: h.send(200, PNG, "application/octet-stream"),
    "/moved.jpg": lambda h: h.send(301, b"", "text/plain", {"Location": "/kelp.jpg"}),
    "/page.jpg": lambda h: h.send(200, b"<!doctype html><title>Sorry</title>", "text/html"),
    "/lying.jpg": lambda h: h.send(200, b"<!doctype html><p>not a picture", "image/jpeg"),
    "/huge.jpg": PictureServer.huge,
    "/to-file.jpg": lambda h: h.send(302, b"", "text/plain",
                                     {"Location": "file:///etc/passwd"}),
    "/loop.jpg": lambda h: h.send(302, b"", "text/plain", {"Location": "/loop.jpg"}),
    "/bomb.png": lambda h: h.send(200, png_header_only(100_000, 100_000), "image/png"),
    "/wide.png": lambda h: h.send(200, png_header_only(10_000, 5_000), "image/png"),
    "/busy.jpg": lambda h: h.send(503, b"", "text/plain"),
}


@pytest.fixture()
def server() -> Iterator[LocalSite]:
    PictureServer.asked = Counter()
    site = LocalSite(handler=PictureServer)
    try:
        yield site
    finally:
        site.close()


# --- measuring -------------------------------------------------------------------


def test_real_pictures_are_measured_and_redirects_followed(server: LocalSite,
                                                          tmp_path: Path) -> None:
    urls = [f"{server.url}{name}" for name in ("kelp.jpg", "reef.png", "unlabelled",
                                               "moved.jpg")]
    found = measure_pictures(urls, cache=tmp_path / "cache")
    assert [(r.width, r.height, r.format) for r in found.values()
            if isinstance(r, Measured)] == [(640, 480, "JPEG"), (300, 200, "PNG"),
                                            (300, 200, "PNG"), (640, 480, "JPEG")]
    # the bytes are kept once per content, whatever the address
    kept = sorted(p.name for p in (tmp_path / "cache" / "files").iterdir())
    assert len(kept) == 2 and any(k.endswith(".jpg") for k in kept)


@pytest.mark.parametrize(("name", "lasting", "says"), [
    ("gone.jpg", True, "404"),
    ("page.jpg", True, "serves text/html, not a picture"),
    ("lying.jpg", True, "does not serve a JPEG, PNG or GIF"),
    ("huge.jpg", True, "more than the 10 MB"),
    ("to-file.jpg", True, "redirects to a file: address"),
    ("loop.jpg", True, "redirects more than 5 times"),
    ("bomb.png", True, "more than 40,000,000 pixels"),
    ("wide.png", True, "(10000x5000)"),
    ("busy.jpg", False, "503"),
])
def test_a_picture_that_cannot_be_used_says_why(server: LocalSite, tmp_path: Path, name: str,
                                                lasting: bool, says: str) -> None:
    url = f"{server.url}{name}"
    found = measure_pictures([url], cache=tmp_path / "cache")[url]
    assert isinstance(found, Unmeasured), found
    assert says in found.reason and found.hint and found.lasting is lasting
    assert PictureServer.asked["/etc/passwd"] == 0


def test_a_picture_that_never_comes_times_out(tmp_path: Path) -> None:
    release = threading.Event()

    class Silent(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(30)  # hang guard: the test ends it first

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = LocalSite(handler=Silent)
    try:
        url = f"{site.url}slow.jpg"
        options = PictureOptions(total_timeout=0.3, read_timeout=0.2)
        found = measure_pictures([url], cache=tmp_path / "cache", options=options)[url]
    finally:
        release.set()
        site.close()
    assert isinstance(found, Unmeasured) and not found.lasting
    assert not (tmp_path / "cache" / "urls").exists()  # tried again next time


def test_answers_are_cached_by_url_and_only_lasting_failures_are_kept(
        server: LocalSite, tmp_path: Path) -> None:
    urls = [f"{server.url}{name}" for name in ("kelp.jpg", "gone.jpg", "busy.jpg")]
    first = measure_pictures(urls, cache=tmp_path / "cache")
    again = measure_pictures(urls, cache=tmp_path / "cache")
    assert again == first
    # the 503 is not kept on disk; this process (a preview) waits a while to ask again
    assert PictureServer.asked == {"/kelp.jpg": 1, "/gone.jpg": 1, "/busy.jpg": 1}
    entries = (tmp_path / "cache" / "urls").iterdir()
    kept = {json.loads(entry.read_text("utf-8"))["url"] for entry in entries}
    assert kept == set(urls[:2])
    measure_pictures(urls, cache=tmp_path / "cache", fresh=True)  # build --refresh
    assert PictureServer.asked == {"/kelp.jpg": 2, "/gone.jpg": 2, "/busy.jpg": 2}


def test_many_pictures_are_measured_at_most_n_at_once(tmp_path: Path) -> None:
    lock = threading.Lock()
    now = [0]
    peak = [0]

    class Counting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            threading.Event().wait(0.05)  # long enough for the others to pile up
            with lock:
                now[0] -= 1
            body = PNG
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = LocalSite(handler=Counting)
    try:
        urls = [f"{site.url}{i}.png" for i in range(24)]
        found = measure_pictures(urls, options=PictureOptions(concurrency=4, per_host=3))
    finally:
        site.close()
    assert all(isinstance(r, Measured) for r in found.values())
    assert 1 <= peak[0] <= 3


# --- a build: measured once, pinned, rebuilt without a network -------------------


SETTINGS = """\
name: Picture desk
base_url: https://pictures.example.org/
language: en
unsubscribe: mailchimp
"""

ISSUE = """\
number: 3
date: 2026-11-27
status: ready
subject: Pictures from the feeds
lead:
  story: {lead}
deep_dives:
  items:
    - story: {reef}
    - story: {gone}
    - story: {page}
      image:
        src: https://cdn.example.org/own.jpg
        alt: The editor's own picture
        width: 800
        height: 600
"""


def add_story(settings: object, name: str, picture_url: str) -> str:
    url = f"https://news.example.org/{name}"
    story = Story(id=story_id(url), url=url, title=f"A story about {name}",
                  summary=f"<p>All about {name}.</p>", source="feed", published=NOW,
                  image=Image(src=picture_url, alt=f"{name} picture"))
    with api.open_store(settings) as store:  # type: ignore[arg-type]
        return store.add(story, now=NOW).id


@pytest.fixture()
def picture_desk(tmp_path: Path, server: LocalSite) -> Path:
    desk = tmp_path / "desk"
    (desk / "issues").mkdir(parents=True)
    (desk / "newsletter.yaml").write_text(SETTINGS, encoding="utf-8")
    settings = api.load_desk(desk)
    ids = {name: add_story(settings, name, f"{server.url}{file}")
           for name, file in (("lead", "kelp.jpg"), ("reef", "reef.png"),
                              ("gone", "gone.jpg"), ("page", "page.jpg"))}
    (desk / "issues" / "2026-11-27.yaml").write_text(ISSUE.format(**ids), encoding="utf-8")
    return desk


def test_a_build_measures_pins_and_rebuilds_without_the_network(
        picture_desk: Path, server: LocalSite, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = api.load_desk(picture_desk)
    issue_file = picture_desk / "issues" / "2026-11-27.yaml"
    report = api.build_site(settings, out_dir=tmp_path / "a")
    email = (tmp_path / "a" / "issues" / "2026-11-27" / "email.html").read_text("utf-8")
    assert f'src="{server.url}kelp.jpg"' in email and f'src="{server.url}reef.png"' in email
    # 640x480 fitted to the column: Outlook's copy has both sizes, the others' only
    # the width (Yahoo would read a height as a minimum)
    [outlook, fluid] = sorted(re.findall(r'<img [^>]*kelp\.jpg"[^>]*>', email),
                              key=lambda tag: "height=" not in tag)
    assert 'width="552"' in outlook and 'height="414"' in outlook
    assert 'width="552"' in fluid and "height=" not in fluid
    assert f"{server.url}gone.jpg" not in email and f"{server.url}page.jpg" not in email
    # the 404 is said on its item, naming the URL; the editor's own picture needs nothing
    [warning] = report.warnings
    assert "2026-11-27.yaml:10:" in warning and "deep_dives.items[1]" in warning
    assert f"{server.url}gone.jpg" in warning and "404" in warning
    assert warning in caplog.text
    assert "page.jpg" not in PictureServer.asked  # never asked: the item has its own
    lock = read_lock_file(lock_path(issue_file))
    assert {url.rpartition("/")[2]: (pin.width, pin.height, bool(pin.problem))
            for url, pin in lock.pictures.items()} == {
        "kelp.jpg": (640, 480, False), "reef.png": (300, 200, False),
        "gone.jpg": (None, None, True)}
    assert sum(PictureServer.asked.values()) == 3

    # CI: a fresh checkout (no store, no cache, no manifest) and no picture server
    server.close()
    shutil.rmtree(picture_desk / ".newsletter")
    again = api.build_site(api.load_desk(picture_desk), out_dir=tmp_path / "b")
    page = Path("issues") / "2026-11-27" / "email.html"
    assert (tmp_path / "b" / page).read_bytes() == (tmp_path / "a" / page).read_bytes()
    assert again.warnings == report.warnings
    assert not (picture_desk / ".newsletter" / "pictures").exists()  # nothing was asked


def test_check_sees_the_left_out_picture_on_its_item(picture_desk: Path) -> None:
    pinned = api.pinned_issue(picture_desk / "issues" / "2026-11-27.yaml",
                              api.load_desk(picture_desk))
    [left] = pinned.left_out
    assert left.field == "deep_dives.items[1]" and left.location.line == 10
    assert left.url.endswith("/gone.jpg") and "404" in left.reason
    assert pinned.issue.lead.image is not None and pinned.issue.lead.image.width == 640


def test_offline_measures_nothing_and_says_so(picture_desk: Path) -> None:
    pinned = api.pinned_issue(picture_desk / "issues" / "2026-11-27.yaml",
                              api.load_desk(picture_desk), offline=True)
    assert sum(PictureServer.asked.values()) == 0
    assert pinned.issue.lead.image is None and pinned.unsettled
    assert {left.field for left in pinned.left_out} == {"lead", "deep_dives.items[0]",
                                                        "deep_dives.items[1]"}
    assert all("not measured" in left.reason for left in pinned.left_out)


def test_an_editors_picture_without_a_size_is_measured_too(picture_desk: Path,
                                                           server: LocalSite) -> None:
    issue_file = picture_desk / "issues" / "2026-11-27.yaml"
    text = issue_file.read_text(encoding="utf-8")
    issue_file.write_text(text.replace("        width: 800\n        height: 600\n", "").replace(
        "https://cdn.example.org/own.jpg", f"{server.url}reef.png"), encoding="utf-8")
    settings = api.load_desk(picture_desk)
    _, rendered = api.render_with_stories(issue_file, settings)
    # each picture comes twice: Outlook's copy and everyone else's
    assert rendered.email_html.count(f'src="{server.url}reef.png"') == 4
    issue_file.write_text(text.replace("https://cdn.example.org/own.jpg",
                                       f"{server.url}page.jpg").replace(
        "        width: 800\n        height: 600\n", ""), encoding="utf-8")
    with pytest.raises(AssetError, match="serves text/html"):
        api.render_with_stories(issue_file, settings)


def test_refresh_measures_again(picture_desk: Path, server: LocalSite, tmp_path: Path) -> None:
    settings = api.load_desk(picture_desk)
    api.build_site(settings, out_dir=tmp_path / "a")
    assert PictureServer.asked["/kelp.jpg"] == 1
    api.build_site(settings, out_dir=tmp_path / "a", force=True)
    assert PictureServer.asked["/kelp.jpg"] == 1  # pinned
    api.build_site(settings, out_dir=tmp_path / "a", refresh=True)
    assert PictureServer.asked["/kelp.jpg"] == 2


def test_a_lock_pins_sizes_as_plain_json(picture_desk: Path, tmp_path: Path) -> None:
    settings = api.load_desk(picture_desk)
    api.build_site(settings)
    data = json.loads(lock_path(picture_desk / "issues" / "2026-11-27.yaml").read_text("utf-8"))
    assert data["version"] == 2
    assert [pin for url, pin in data["pictures"].items() if url.endswith("kelp.jpg")] == [
        {"height": 480, "width": 640}]


def test_check_reports_the_left_out_picture_at_its_item(picture_desk: Path) -> None:
    from newsletter.check.links import LinkChecker

    # online, so pictures are measured; the links themselves lead off 127.0.0.1: not asked
    links = LinkChecker(allow=["example.org", "example.com", "example.net"])
    report = api.check_issue(picture_desk / "issues" / "2026-11-27.yaml",
                             api.load_desk(picture_desk), offline=False, links=links)
    assert links.checked() == 2  # the two pictures on 127.0.0.1
    [left] = [f for f in report.findings if f.code == "picture-left-out"]
    assert left.location is not None and left.location.line == 10
    assert left.subject.endswith("/gone.jpg") and "404" in left.message


def test_a_host_that_does_not_exist_is_named(tmp_path: Path) -> None:
    url = "https://pictures.no-such-host.invalid/kelp.jpg"
    [(_, result)] = measure_pictures([url], cache=tmp_path).items()
    assert isinstance(result, Unmeasured) and not result.lasting
    assert result.reason == 'the host "pictures.no-such-host.invalid" was not found'
