"""Make the README's picture of the desk in the browser: `docs/desk.png`.

    .venv/bin/python tools/desk_screenshot.py [OUT]

OUT defaults to `docs/desk.png`. The script copies the example desk of this
repository (`newsletter.yaml`, `issues/`, `examples/`) into a temporary
folder, fetches its three example feeds (files: no network) into a new
candidate store, starts `newsletter preview` on 127.0.0.1, and opens the
example issue (2026-11-27) in Debian's Chromium (`/usr/bin/chromium`, driven
by Playwright) at 1440x900. There it does what an editor does with the
keyboard: stars the second story (`j`, `s`), picks the fourth into catch-up
(`j`, `j`, `c`), and takes the picture once the four views have repainted.

The stories' thumbnails live on example.net, which never answers: the
browser is given the example desk's own illustrations in their place (the
same one for the same address). That is the only thing in the picture that
is made up. Chromium reaches nothing but 127.0.0.1.

The PNG is written with Pillow, reduced to 256 colours when the full-colour
file would weigh more than 300 KB. It exits 1, saying why, if a step is not
seen within its hang guard (30 s).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newsletter import api
from newsletter.errors import NewsletterError

REPO = Path(__file__).resolve().parent.parent
SLUG = "2026-11-27"
WIDTH, HEIGHT = 1440, 900
CHROMIUM = Path("/usr/bin/chromium")
# the flags of tests/conftest.py
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")
GUARD_MS = 30_000  # any one step
MAX_BYTES = 300_000  # the README's picture stays light

# The desk has loaded its candidates, panel and findings, and painted its four views.
SETTLED = """() => {
  const desk = window.newsletterDesk, preview = window.newsletterPreview;
  const status = document.getElementById("findings-status");
  return Boolean(desk && preview && desk.candidateLoads >= 1 && desk.panel !== null &&
    desk.findingsLoads >= 1 && !status.textContent.startsWith("Checking") &&
    preview.painted.length >= 4);
}"""


class ScreenshotError(Exception):
    """A step of making the picture did not happen."""


def example_desk(folder: Path) -> Path:
    """The repository's example desk, copied, with its feeds fetched into a store."""
    root = folder / "desk"
    root.mkdir()
    shutil.copy(REPO / "newsletter.yaml", root)
    shutil.copytree(REPO / "issues", root / "issues")
    shutil.copytree(REPO / "examples", root / "examples")
    failed = [f"{r.result.feed.name}: {r.result.error}"
              for r in api.fetch(api.load_desk(root)) if r.result.error]
    if failed:
        raise ScreenshotError(f"the example feeds did not fetch: {'; '.join(failed)}")
    return root


@contextmanager
def desk_served(root: Path) -> Iterator[str]:
    server = api.preview_server(root, host="127.0.0.1", port=0)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def stand_in_picture(pictures: Sequence[Path], route: Any) -> None:
    """A story's picture from example.net (which never answers): one of the example
    desk's illustrations, the same one for the same address. Anything else: refused."""
    url = route.request.url
    if not url.lower().split("?")[0].endswith((".jpg", ".jpeg", ".png", ".webp")):
        route.abort()
        return
    index = int(hashlib.sha256(url.encode()).hexdigest(), 16) % len(pictures)
    route.fulfill(path=str(pictures[index]), content_type="image/jpeg")


def wait_for(page: Any, script: str, what: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(script, timeout=GUARD_MS)
    except PlaywrightTimeoutError as exc:
        said = page.evaluate("() => window.newsletterDesk ? window.newsletterDesk.log : []")
        raise ScreenshotError(f"{what}: not seen within {GUARD_MS / 1000:g} s "
                              f"(the desk said {said})") from exc


def take(url: str, pictures: Sequence[Path]) -> bytes:
    """The desk at `url`, in use, as PNG bytes."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise ScreenshotError("Debian's chromium is not installed: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                          color_scheme="light")
            context.set_default_timeout(GUARD_MS)
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith(url)
                          else stand_in_picture(pictures, route))
            page = context.new_page()
            page.goto(f"{url}issues/{SLUG}/")
            wait_for(page, SETTLED, "the desk loading")
            page.keyboard.press("1")  # the candidates
            page.keyboard.press("j")
            page.keyboard.press("s")  # star the second story
            wait_for(page, "() => document.querySelector('#candidate-grid .row.starred')",
                     "the star")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.keyboard.press("c")  # pick the fourth into catch-up
            wait_for(page, "() => window.newsletterDesk.writes >= 1 && "
                     "document.querySelector('#candidate-grid .row.here')", "the pick")
            wait_for(page, SETTLED, "the views repainting")
            # the column back at its top (reaching the fourth story scrolled it a little)
            page.evaluate("() => document.getElementById('candidates').scrollTo(0, 0)")
            time.sleep(0.5)  # the thumbnails' decoding
            shot: bytes = page.screenshot()
            context.close()
            return shot
        finally:
            browser.close()


def small_png(shot: bytes) -> bytes:
    """The screenshot as PNG of at most MAX_BYTES if it can be: 256 colours if needed."""
    from PIL import Image

    image = Image.open(io.BytesIO(shot)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    if out.tell() > MAX_BYTES:
        out = io.BytesIO()
        image.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "desk.png",
                        help="where the PNG goes (default docs/desk.png)")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="desk-screenshot-") as tmp:
            root = example_desk(Path(tmp))
            pictures = sorted((root / "examples" / "images").glob("*-*.jpg"))
            with desk_served(root) as url:
                png = small_png(take(url, pictures))
    except (ScreenshotError, NewsletterError) as exc:
        sys.stderr.write(f"no screenshot: {exc}\n")
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    sys.stderr.write(f"wrote {args.out} ({WIDTH}x{HEIGHT}, {len(png):,} bytes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
