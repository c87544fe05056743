"""Pictures of the example desk's issues as readers see them: `docs/screenshots/`.

    .venv/bin/python tools/screenshots.py [OUT]

OUT defaults to `docs/screenshots/`. The script copies the example desk of
this repository (`newsletter.yaml`, `issues/`, `examples/images/`) into a
temporary folder, builds its site, and opens the pages in Debian's Chromium
(`/usr/bin/chromium`, driven by Playwright): each example issue's email at
600 px, light and dark; on a phone (375 px); with pictures blocked; with its
`<style>` removed (Gmail with a non-Google account); as Outlook for Windows
roughly draws it (see `outlook_view`); and its web page. README's
"Screenshots" section says what each picture shows.

Chromium reaches nothing but the built site: requests to the desk's
base_url are answered from the built folder, every other one (the video
players, a web font) is refused, as where the video host is blocked.

`tests/test_screenshots.py` takes its pictures with the same `Shot`s and
`capture`, and compares them with references in tests/data/screenshots/.
"""

from __future__ import annotations

import argparse
import io
import mimetypes
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from newsletter import api

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# the flags of tests/conftest.py
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")
GUARD_MS = 20_000  # any one page: load, pictures, fonts
ENGLISH, CHINESE, ARABIC = "2026-11-27", "2026-11-20", "2026-11-13"


@dataclass(frozen=True, slots=True, kw_only=True)
class Shot:
    """One picture: which page of which issue, how wide, in which conditions.

    `variant` is "" (the page as sent), "no-style" (every <style> removed) or
    "outlook" (`outlook_view`)."""

    name: str
    slug: str
    page: str = "email"  # or "web"
    width: int = 600
    scheme: str = "light"
    pictures: bool = True
    variant: str = ""

    @property
    def path(self) -> str:
        return f"issues/{self.slug}/{'email.html' if self.page == 'email' else 'index.html'}"


def _email(name: str, slug: str, **kwargs: Any) -> Shot:
    return Shot(name=name, slug=slug, **kwargs)


#: What docs/screenshots/ shows (WebP, full size): each defect of issue 15, fixed.
DOC_SHOTS = (
    _email("email-light", ENGLISH),
    _email("email-dark", ENGLISH, scheme="dark"),
    _email("email-phone", ENGLISH, width=375),
    _email("email-images-off", ENGLISH, pictures=False),
    _email("email-no-style", ENGLISH, variant="no-style"),
    _email("email-outlook", ENGLISH, variant="outlook"),
    _email("email-chinese", CHINESE),
    _email("email-arabic", ARABIC),
    Shot(name="web", slug=ENGLISH, page="web", width=800),
    Shot(name="web-arabic", slug=ARABIC, page="web", width=800),
)


def reference_shots() -> tuple[Shot, ...]:
    """What tests/test_screenshots.py compares: every condition for the English
    issue, the ones that differ by language for the others."""
    shots = []
    for slug, lang in ((ENGLISH, "en"), (CHINESE, "zh"), (ARABIC, "ar")):
        shots += [_email(f"{lang}-email-600-light", slug),
                  _email(f"{lang}-email-375-dark", slug, width=375, scheme="dark"),
                  _email(f"{lang}-email-600-outlook", slug, variant="outlook"),
                  Shot(name=f"{lang}-web-800", slug=slug, page="web", width=800)]
    shots += [_email("en-email-600-dark", ENGLISH, scheme="dark"),
              _email("en-email-375-light", ENGLISH, width=375),
              _email("en-email-600-images-off", ENGLISH, pictures=False),
              _email("en-email-600-no-style", ENGLISH, variant="no-style")]
    return tuple(shots)


# --- building the example desk ------------------------------------------------------

BASE_URL = "https://tideline.example.org/"  # newsletter.yaml's; answered from the built site


def build_example_site(folder: Path) -> Path:
    """The example desk copied into `folder` and its site built; the site's folder."""
    desk = folder / "desk"
    desk.mkdir(parents=True)
    shutil.copy(REPO / "newsletter.yaml", desk)
    shutil.copytree(REPO / "issues", desk / "issues")
    shutil.copytree(REPO / "examples" / "images", desk / "examples" / "images")
    settings = api.load_desk(desk)
    if settings.base_url != BASE_URL:
        raise SystemExit(f"newsletter.yaml's base_url is {settings.base_url}, not {BASE_URL}: "
                         "update BASE_URL in tools/screenshots.py")
    site = folder / "site"
    api.build_site(settings, out_dir=site)
    return site


# --- the conditions -----------------------------------------------------------------

_NOT_FOR_OUTLOOK = re.compile(r"<!--\[if !mso[^\]]*\]><!-->.*?<!--<!\[endif\]-->", re.S)
_FOR_OUTLOOK = re.compile(r"<!--\[if [^\]]*mso[^\]]*\]>(.*?)<!\[endif\]-->", re.S)
_OFFICE_XML = re.compile(r"<xml>.*?</xml>", re.S)
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)


def outlook_view(html: str) -> str:
    """The email roughly as Outlook for Windows draws it: what `<!--[if mso]>` hides
    from other clients shown (the fixed-width tables, the pictures' Outlook copies,
    its style rules), what `<!--[if !mso]><!-->` keeps from Outlook dropped, and no
    @media rule (Word's engine reads none). A browser is not Word: this shows the
    widths and what each client is given, not Word's own quirks."""
    html = _NOT_FOR_OUTLOOK.sub("", html)
    html = _FOR_OUTLOOK.sub(lambda match: _OFFICE_XML.sub("", match.group(1)), html)
    return _STYLE.sub(lambda match: match.group(0).replace(match.group(1),
                                                           without_media_rules(match.group(1))),
                      html)


def without_media_rules(css: str) -> str:
    """The style sheet without its @media blocks (braces counted: they nest)."""
    out, at = [], 0
    for match in re.finditer(r"@media[^{]*\{", css):
        if match.start() < at:
            continue
        out.append(css[at:match.start()])
        depth, index = 1, match.end()
        while depth and index < len(css):
            depth += {"{": 1, "}": -1}.get(css[index], 0)
            index += 1
        at = index
    out.append(css[at:])
    return "".join(out)


def without_style(html: str) -> str:
    """The email as a client that drops `<style>` shows it: inline styles only."""
    return _STYLE.sub("", html)


def shown_html(shot: Shot, html: str) -> str:
    """The page as the shot shows it. A web page's lazy pictures load at once: a
    full-page screenshot does not scroll to them, as a reader would."""
    if shot.page == "web":
        return html.replace(' loading="lazy"', "")
    if shot.variant == "outlook":
        return outlook_view(html)
    if shot.variant == "no-style":
        return without_style(html)
    return html


# --- taking the picture --------------------------------------------------------------

# Every picture loaded (or refused) and decoded (the theme's are `decoding="async"`:
# loaded is not yet painted), the fonts ready, and two frames painted since.
PICTURES_SETTLED = """() => {
  const pictures = Array.from(document.images).map((img) => img.complete ? img :
    new Promise((done) => { img.onload = img.onerror = () => done(img); }));
  return Promise.all(pictures)
    .then((imgs) => Promise.all(imgs.map((img) => img.decode().catch(() => null))))
    .then(() => document.fonts.ready)
    .then(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))))
    .then(() => true);
}"""


def capture(browser: Any, site: Path, shot: Shot) -> bytes:
    """A full-page PNG of `shot`, the built `site` answering for its base_url."""
    context = browser.new_context(viewport={"width": shot.width, "height": 900},
                                  device_scale_factor=1, color_scheme=shot.scheme,
                                  service_workers="block")
    try:
        context.set_default_timeout(GUARD_MS)
        context.route("**/*", lambda route: _answer(route, site, shot))
        page = context.new_page()
        page.goto(BASE_URL + shot.path, wait_until="load")
        for frame in page.frames:  # the videos' stand-ins (srcdoc) have pictures too
            frame.evaluate(PICTURES_SETTLED)
        png: bytes = page.screenshot(full_page=True, animations="disabled", caret="hide")
        return png
    finally:
        context.close()


def _answer(route: Any, site: Path, shot: Shot) -> None:
    request = route.request
    url = request.url
    if not url.startswith(BASE_URL):
        route.abort()  # the video players, anything else on the network
        return
    if request.resource_type == "image" and not shot.pictures:
        route.abort()
        return
    path = urlsplit(url).path.lstrip("/")
    target = site / (path + "index.html" if path.endswith("/") or not path else path)
    if not target.is_file() or site.resolve() not in target.resolve().parents:
        route.fulfill(status=404, body="not found")
        return
    if path == shot.path:
        body = shown_html(shot, target.read_text(encoding="utf-8"))
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
        return
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    route.fulfill(status=200, content_type=kind, body=target.read_bytes())


@contextmanager
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def as_webp(png: bytes, quality: int = 72) -> bytes:
    """WebP, lossy: a third of a JPEG's weight for these long pages, sharp enough
    to read, and shown by GitHub and every browser."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "WEBP", quality=quality, method=6)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsletter-screenshots-") as folder:
        site = build_example_site(Path(folder))
        with chromium() as browser:
            for shot in DOC_SHOTS:
                target = args.out / f"{shot.name}.webp"
                target.write_bytes(as_webp(capture(browser, site, shot)))
                sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
