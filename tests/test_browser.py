"""The built example issues in real headless Chromium: layout, pictures, fonts, embeds.

Every page is loaded from the `served_site` fixture (a server on 127.0.0.1);
any request to another host is aborted, so these tests never leave the machine.
Full-page screenshots land in tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import ARTIFACTS, CHINESE_ISSUE, EXAMPLE_ISSUE

pytestmark = pytest.mark.browser

ENGLISH = EXAMPLE_ISSUE.stem  # the slug of a dated issue is its date
CHINESE = CHINESE_ISSUE.stem
PAGES = {"email": "email.html", "web": ""}
WAIT_MS = 5_000  # every wait in this module gives up after this long
LOAD_MS = 10_000

LAYOUTS = [
    (slug, kind, width)
    for slug in (ENGLISH, CHINESE)
    for kind, widths in (("email", (600, 375)), ("web", (375, 1280)))
    for width in widths
]

SCROLL_THROUGH = """async () => {
  const step = Math.max(200, Math.floor(window.innerHeight * 0.8));
  for (let y = 0, n = 0; y < document.documentElement.scrollHeight && n < 200; y += step, n++) {
    window.scrollTo(0, y);
    await new Promise((done) => setTimeout(done, 30));
  }
  window.scrollTo(0, document.documentElement.scrollHeight);
  await new Promise((done) => setTimeout(done, 30));
  window.scrollTo(0, 0);
}"""

IMAGES_SETTLED = "() => Array.from(document.images).every((img) => img.complete)"

BROKEN_IMAGES = """() => Array.from(document.images)
  .filter((img) => !(img.complete && img.naturalWidth > 0))
  .map((img) => img.currentSrc || img.src)"""

OVERFLOWING = """() => {
  const limit = document.documentElement.clientWidth + 0.5;
  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    const classes = (el.getAttribute("class") || "").trim().split(/\\s+/).filter(Boolean);
    if (classes.length) text += "." + classes.join(".");
    return text;
  };
  const path = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body && parts.length < 4;
         node = node.parentElement) {
      parts.unshift(name(node));
    }
    return parts.join(" > ");
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (box.right > limit) {
      found.push(`${path(el)} right=${box.right.toFixed(1)} width=${box.width.toFixed(1)} `
                 + `text=${JSON.stringify((el.textContent || "").trim().slice(0, 60))}`);
    }
  }
  return found;
}"""


def _local_only(route: Any) -> None:
    """Let the page talk to the local server and nothing else."""
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@pytest.fixture()
def open_page(browser: Any, served_site: str) -> Iterator[Any]:
    """A function that opens one built page at a given viewport size and scheme."""
    contexts = []

    def open_(slug: str, kind: str, width: int, *, height: int = 800,
              color_scheme: str = "light") -> Any:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme=color_scheme, service_workers="block")
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(LOAD_MS)
        context.route("**/*", _local_only)
        page = context.new_page()
        page.goto(f"{served_site}issues/{slug}/{PAGES[kind]}", wait_until="load")
        return page

    yield open_
    for context in contexts:
        context.close()


def _settle(page: Any) -> None:
    """Scroll through the page so lazy pictures load, then wait for every picture."""
    page.evaluate(SCROLL_THROUGH)
    page.wait_for_function(IMAGES_SETTLED, timeout=WAIT_MS)
    page.evaluate("""() => Promise.race([document.fonts.ready,
                                          new Promise((done) => setTimeout(done, 3000))])""")


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, timeout=LOAD_MS)


@pytest.mark.parametrize(("slug", "kind", "width"), LAYOUTS,
                         ids=[f"{s}-{k}-{w}" for s, k, w in LAYOUTS])
def test_no_horizontal_scroll_and_every_picture_loads(open_page: Any, served_site: str,
                                                      slug: str, kind: str, width: int) -> None:
    page = open_page(slug, kind, width)
    _settle(page)
    _screenshot(page, f"{slug}-{kind}-{width}")

    sources = page.evaluate("() => Array.from(document.images).map((i) => i.currentSrc)")
    assert sources, "the example issues have pictures; the page shows none"
    elsewhere = [src for src in sources if not src.startswith(served_site)]
    assert elsewhere == [], "pictures not served from the build's base_url"
    assert page.evaluate(BROKEN_IMAGES) == [], "pictures that did not load from the build"

    page.evaluate("() => window.scrollTo(0, 0)")
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page scrolls sideways: scrollWidth {scroll_width} > {width}"
    overflowing = page.evaluate(OVERFLOWING)
    assert overflowing == [], "elements reaching past the right edge:\n" + "\n".join(overflowing)


CJK_SAMPLE = """(selector) => {
  const walker = document.createTreeWalker(document.querySelector(selector),
                                           NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const match = /[\\u4e00-\\u9fff]{4}/.exec(node.data);
    if (!match) continue;
    const parent = node.parentElement;
    const size = parseFloat(getComputedStyle(parent).fontSize);
    if (size < 8 || getComputedStyle(parent).visibility === "hidden") continue;
    const range = document.createRange();
    range.setStart(node, match.index);
    range.setEnd(node, match.index + 4);
    const box = range.getBoundingClientRect();
    if (box.height === 0) continue;  // e.g. the email's hidden preheader
    parent.setAttribute("data-cjk-probe", "");
    return {text: match[0], width: box.width, fontSize: size, tag: parent.tagName};
  }
  return null;
}"""


def _platform_fonts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium actually drew `selector`'s text with (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no {selector} in the page"
        fonts: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode",
                                               {"nodeId": node})["fonts"]
        return fonts
    finally:
        cdp.detach()


@pytest.mark.parametrize(("kind", "selector"), [("web", "h1"), ("email", "body")],
                         ids=["web", "email"])
def test_chinese_issue_renders_with_a_cjk_font(open_page: Any, kind: str,
                                               selector: str) -> None:
    page = open_page(CHINESE, kind, 600)
    assert page.evaluate("() => document.documentElement.lang") == "zh-Hans"

    sample = page.evaluate(CJK_SAMPLE, selector)
    assert sample, f"no run of four Chinese characters in the {kind} page's {selector}"
    # Four real glyphs are each roughly one em wide; missing glyphs would draw as
    # zero-width or as identical boxes, and no font at all would measure nothing.
    assert sample["width"] > 2 * sample["fontSize"], sample

    fonts = _platform_fonts(page, "[data-cjk-probe]")
    used = [font["familyName"] for font in fonts if font.get("glyphCount", 0) > 0]
    assert any("CJK" in name or "WenQuanYi" in name or "Droid Sans Fallback" in name
               for name in used), f"Chinese text drawn with {used}: no CJK font"


def test_web_page_embeds_privacy_friendly_players(open_page: Any) -> None:
    page = open_page(ENGLISH, "web", 1280)
    sources = page.eval_on_selector_all("iframe", "(frames) => frames.map((f) => f.src)")
    assert sources, "the example issue has two videos; the web page embeds none"
    hosts = {urlsplit(src).hostname for src in sources}
    assert hosts <= {"www.youtube-nocookie.com", "player.vimeo.com"}, sources
    assert hosts == {"www.youtube-nocookie.com", "player.vimeo.com"}, sources
    for src in sources:
        assert urlsplit(src).scheme == "https", src


def test_layout_checks_catch_what_they_look_for(open_page: Any) -> None:
    """The checks above are not vacuous: a wide element and a missing picture
    planted in a page are reported, by name."""
    page = open_page(ENGLISH, "web", 375)
    page.evaluate("""() => {
      const wide = document.createElement("div");
      wide.className = "planted-wide";
      wide.style.width = "900px";
      wide.textContent = "too wide";
      document.querySelector("main").append(wide);
      const img = document.createElement("img");
      img.src = "images/not-built.png";
      img.alt = "";
      document.querySelector("main").append(img);
    }""")
    _settle(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") > 375
    assert any("div.planted-wide" in line for line in page.evaluate(OVERFLOWING))
    assert any(src.endswith("/images/not-built.png") for src in page.evaluate(BROKEN_IMAGES))


def test_pages_only_request_the_local_server(browser: Any, served_site: str) -> None:
    """Sanity check of the guard itself: a request to another host is aborted."""
    context = browser.new_context()
    try:
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", _local_only)
        page = context.new_page()
        page.goto(served_site, timeout=LOAD_MS)
        ok = page.evaluate("""async () => {
          try { await fetch("https://www.youtube-nocookie.com/"); return true; }
          catch { return false; }
        }""")
        assert ok is False
    finally:
        context.close()


CONTRAST = """() => {
  const rgb = (text) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(text);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.5) return c;
      if (getComputedStyle(node).backgroundImage !== "none") return null;
    }
    const canvas = matchMedia("(prefers-color-scheme: dark)").matches
      && getComputedStyle(document.documentElement).colorScheme.includes("dark")
      ? {r: 18, g: 18, b: 18, a: 1} : {r: 255, g: 255, b: 255, a: 1};
    return canvas;
  };
  const poor = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.data.trim());
    if (!own) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width === 0 || box.height === 0 || style.visibility === "hidden"
        || Number(style.opacity) === 0) continue;
    const fg = rgb(style.color), bg = background(el);
    if (!fg || !bg) continue;
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) {
      poor.push(`${el.tagName.toLowerCase()}.${el.className} ratio=${ratio.toFixed(2)} `
                + `color=${style.color} background=rgb(${bg.r}, ${bg.g}, ${bg.b}) `
                + `text=${JSON.stringify(el.textContent.trim().slice(0, 50))}`);
    }
  }
  return poor;
}"""

SCHEMES = [(slug, kind, scheme) for slug in (ENGLISH, CHINESE) for kind in ("email", "web")
           for scheme in ("light", "dark")]


@pytest.mark.parametrize(("slug", "kind", "scheme"), SCHEMES,
                         ids=[f"{s}-{k}-{c}" for s, k, c in SCHEMES])
def test_text_stays_readable_in_light_and_dark_mode(open_page: Any, slug: str, kind: str,
                                                    scheme: str) -> None:
    """No visible text sits on a background too close to its own colour (under
    WCAG AA's 4.5:1), whichever colour scheme the reader's system prefers.
    Text drawn over a picture is not measured."""
    page = open_page(slug, kind, 375, color_scheme=scheme)
    _settle(page)
    if scheme == "dark":
        _screenshot(page, f"{slug}-{kind}-375-dark")
    poor = page.evaluate(CONTRAST)
    assert poor == [], "text hard to read:\n" + "\n".join(poor)
