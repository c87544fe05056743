"""The built archive site (index, issue pages, 404, search) in real headless Chromium.

The example desk is copied, given one more ready issue a year earlier (so the
archive has two years and the middle issue has both neighbours) and one draft,
and built with `api.build_site` with base_url set to a server on 127.0.0.1.
Pages are checked with axe-core, for sideways scrolling, with JavaScript off
(everything but the search works), with the search, and opened from disk
(file://). Any request to another host is aborted. Screenshots land in
tests/artifacts/.

axe-core comes from npm: `.ci/run` installs it into .ci/node/ (or point the
AXE_CORE environment variable at an axe.min.js).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import ARTIFACTS, CHINESE_ISSUE, EXAMPLE_ISSUE, REPO, LocalSite
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from newsletter import api

pytestmark = pytest.mark.browser

ENGLISH = EXAMPLE_ISSUE.stem
CHINESE = CHINESE_ISSUE.stem
ARABIC = "2026-11-13"  # issues/2026-11-13.yaml: written right to left, one item in English
OLDER = "2025-12-26"  # added to the copied desk: a second year in the archive
DRAFT = "2026-12-04"  # added as a draft: on no page of the site
WAIT_MS = 5_000
LOAD_MS = 10_000
NO_RESULTS = "No issue matches."
AXE_DEFAULT = REPO / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"

EXTRA_ISSUES = {
    OLDER: f"""\
number: 40
date: {OLDER}
status: ready
subject: "Tideline #40: The lighthouse keepers' winter census of seabirds"
preheader: "Counting puffins from a rock in the North Atlantic."
lead:
  url: https://news.example.org/2025/12/24/lighthouse-census
  headline: "The lighthouse keepers who count seabirds all winter"
""",
    DRAFT: f"""\
number: 49
date: {DRAFT}
status: draft
subject: "Tideline #49: Unfinished draft about narwhal tusks"
lead:
  url: https://news.example.org/2026/12/03/narwhal
  headline: "Unfinished draft about narwhal tusks"
""",
}


@dataclasses.dataclass(frozen=True)
class BuiltSite:
    url: str  # the server's root, also the build's base_url
    root: Path  # the built folder
    ready: tuple[str, ...]  # slugs of the published issues, newest first
    headlines: dict[str, str]  # slug -> the lead headline (the page's h1)
    search: dict[str, str]  # slug -> the text the search index holds for it


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltSite]:
    desk = tmp_path_factory.mktemp("site-desk")
    shutil.copy(REPO / "newsletter.yaml", desk)
    shutil.copytree(REPO / "issues", desk / "issues")
    shutil.copytree(REPO / "examples" / "images", desk / "examples" / "images")
    for slug, text in EXTRA_ISSUES.items():
        (desk / "issues" / f"{slug}.yaml").write_text(text, encoding="utf-8")
    out = desk / "site"
    server = LocalSite(out)
    try:
        settings = dataclasses.replace(api.load_desk(desk), base_url=server.url)
        report = api.build_site(settings, out_dir=out)
        ready = tuple(e.slug for e in sorted(report.entries, key=lambda e: e.date, reverse=True)
                      if e.status == "ready")
        assert set(ready) == {ENGLISH, CHINESE, ARABIC, OLDER}, ready
        headlines = {}
        for path in api.find_issue_files(settings):
            issue, _ = api.render_issue(path, settings)
            headlines[path.stem] = issue.lead.headline
        (index_file,) = (out / "assets").glob("search-index.*.js")
        body = index_file.read_text(encoding="utf-8")
        rows = json.loads(body.removeprefix("window.newsletterSearchIndex=").rstrip().rstrip(";"))
        search = {row["slug"]: row["text"] for row in rows}
        yield BuiltSite(server.url, out, ready, headlines, search)
    finally:
        server.close()


def _local_only(route: Any) -> None:
    """Let the page read the local server and files on disk, nothing else.
    (Playwright's routing sees file:// requests too.)"""
    url = urlsplit(route.request.url)
    if url.scheme == "file" or url.hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@pytest.fixture()
def new_page(browser: Any) -> Iterator[Any]:
    """A function giving a fresh page in a context of its own (local requests only)."""
    contexts = []

    def new_page_(width: int = 1280, *, height: int = 800, color_scheme: str = "light",
                  javascript: bool = True) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme=color_scheme, service_workers="block",
                                      java_script_enabled=javascript)
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(LOAD_MS)
        context.route("**/*", _local_only)
        return context.new_page()

    yield new_page_
    for context in contexts:
        context.close()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"site-{name}.png"), full_page=True, timeout=LOAD_MS)


def _page_path(slug: str) -> str:
    return f"issues/{slug}/index.html"


# --- accessibility -----------------------------------------------------------


def _axe_script() -> Path:
    path = Path(os.environ.get("AXE_CORE") or AXE_DEFAULT)
    if not path.is_file():
        pytest.fail(f"axe-core is not installed ({path} is missing): run `bash .ci/run`, "
                    "which installs it with npm into .ci/node/, or set AXE_CORE to an axe.min.js")
    return path


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "),
                                html: n.html.slice(0, 160),
                                summary: n.failureSummary})),
  }));
}"""


def _serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    page.add_script_tag(path=str(_axe_script()))
    violations: list[dict[str, Any]] = page.evaluate(AXE_RUN)
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}  {node['html']}\n      {summary}")
    return "\n".join(lines)


AXE_PAGES = {"index": "index.html", "english": _page_path(ENGLISH),
             "chinese": _page_path(CHINESE), "arabic": _page_path(ARABIC), "404": "404.html"}
AXE_CASES = [(name, scheme) for name in AXE_PAGES for scheme in ("light", "dark")]


@pytest.mark.parametrize(("name", "scheme"), AXE_CASES, ids=[f"{n}-{s}" for n, s in AXE_CASES])
def test_axe_finds_no_serious_violations(new_page: Any, site: BuiltSite, name: str,
                                         scheme: str) -> None:
    page = new_page(color_scheme=scheme)
    page.goto(site.url + AXE_PAGES[name], wait_until="load")
    if name == "index":
        page.wait_for_selector("form.search", state="visible")
    violations = _serious_violations(page)
    assert violations == [], (f"axe-core on {AXE_PAGES[name]} ({scheme}):\n"
                              + _describe(violations))
    # axe rates a missing page heading only "moderate"; the archive once lacked one
    assert page.locator("h1").count() == 1, f"{AXE_PAGES[name]} needs exactly one h1"


def test_axe_finds_no_serious_violations_in_search_results(new_page: Any,
                                                           site: BuiltSite) -> None:
    """The search box in use, with the "no issue matches" status showing."""
    page = new_page()
    page.goto(site.url + "index.html", wait_until="load")
    page.fill("#search-box", "qqzxjv")
    page.wait_for_function("(text) => document.querySelector('.search-status').textContent"
                           " === text", arg=NO_RESULTS)
    violations = _serious_violations(page)
    assert violations == [], "axe-core on the index with no results:\n" + _describe(violations)


def test_axe_check_catches_a_planted_violation(new_page: Any, site: BuiltSite) -> None:
    """The check above is not vacuous: an unlabelled field is reported."""
    page = new_page()
    page.goto(site.url + "index.html", wait_until="load")
    page.evaluate("""() => {
      const input = document.createElement("input");
      input.className = "planted-unlabelled";
      document.querySelector("main").append(input);
    }""")
    violations = _serious_violations(page)
    assert any(v["id"] == "label" and "planted-unlabelled" in _describe([v])
               for v in violations), _describe(violations)


# --- layout ------------------------------------------------------------------


WIDE_ELEMENTS = """() => {
  const limit = document.documentElement.clientWidth + 0.5;
  return Array.from(document.body.querySelectorAll("*"))
    .filter((el) => el.getBoundingClientRect().right > limit
                    && getComputedStyle(el).visibility !== "hidden")
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} `
                 + `right=${el.getBoundingClientRect().right.toFixed(1)}`);
}"""

LAYOUTS = [(name, width) for name in ("index", "english", "chinese", "arabic", "404")
           for width in (375, 1280)]


@pytest.mark.parametrize(("name", "width"), LAYOUTS, ids=[f"{n}-{w}" for n, w in LAYOUTS])
def test_no_horizontal_scroll(new_page: Any, site: BuiltSite, name: str, width: int) -> None:
    page = new_page(width)
    page.goto(site.url + AXE_PAGES[name], wait_until="load")
    if name == "index":
        page.wait_for_selector("form.search", state="visible")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    _screenshot(page, f"{name}-{width}")
    scroll, client = page.evaluate("() => [document.documentElement.scrollWidth,"
                                   " document.documentElement.clientWidth]")
    assert scroll <= client, (f"{AXE_PAGES[name]} scrolls sideways at {width}px: "
                              f"scrollWidth {scroll} > clientWidth {client}; "
                              f"{page.evaluate(WIDE_ELEMENTS)}")


# --- without JavaScript --------------------------------------------------------


def _listed(page: Any) -> list[str]:
    return page.eval_on_selector_all("#archive-years li[data-slug]",
                                     "(items) => items.map((li) => li.dataset.slug)")


def _shown(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#archive-years li[data-slug]",
        "(items) => items.filter((li) => li.offsetParent !== null).map((li) => li.dataset.slug)")


def test_index_without_javascript_lists_and_links_every_issue(new_page: Any,
                                                              site: BuiltSite) -> None:
    page = new_page(375, javascript=False)
    page.goto(site.url + "index.html", wait_until="load")
    _screenshot(page, "index-375-nojs")

    assert _listed(page) == list(site.ready), "the archive should list every ready issue"
    assert _shown(page) == list(site.ready)
    assert DRAFT not in page.content() and "narwhal" not in page.content()
    assert page.locator("form.search").is_hidden(), "the search box shows but cannot work"

    hrefs = page.eval_on_selector_all("#archive-years li[data-slug] a",
                                      "(links) => links.map((a) => a.href)")
    assert hrefs == [site.url + _page_path(slug) for slug in site.ready]
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200, href

    page.click(f"#archive-years li[data-slug='{CHINESE}'] a")
    page.wait_for_url(site.url + _page_path(CHINESE))
    assert page.inner_text("h1").strip() == site.headlines[CHINESE]


def _follow(page: Any, selector: str) -> str:
    """Click the link, wait for the next page; the slug it landed on."""
    with page.expect_navigation():
        page.click(selector)
    match = re.search(r"/issues/([^/]+)/index\.html$", page.url)
    assert match, f"{selector} led to {page.url}, not an issue page"
    return match.group(1)


def test_previous_and_next_lead_to_the_neighbours_without_javascript(
        new_page: Any, site: BuiltSite) -> None:
    page = new_page(javascript=False)
    newest, middle, *older = site.ready
    oldest = older[-1]
    page.goto(site.url + _page_path(middle), wait_until="load")

    for slug in older:
        assert _follow(page, "a[rel=prev]") == slug
    assert page.inner_text("h1").strip() == site.headlines[oldest]
    assert page.locator("a[rel=prev]").count() == 0, "the oldest issue has no previous one"

    for slug in [*reversed(older[:-1]), middle, newest]:
        assert _follow(page, "a[rel=next]") == slug
    assert page.inner_text("h1").strip() == site.headlines[newest]
    assert page.locator("a[rel=next]").count() == 0, "the newest issue has no next one"

    with page.expect_navigation():
        page.click(".issue-nav a.all")
    assert page.url == site.url + "index.html#archive"


def test_404_links_lead_back_to_the_site(new_page: Any, site: BuiltSite) -> None:
    """The 404 page is served at any depth, so its links are absolute."""
    page = new_page(javascript=False)
    page.goto(site.url + "404.html", wait_until="load")
    hrefs = page.eval_on_selector_all("a[href]", "(links) => links.map((a) => a.href)")
    on_site = [h for h in hrefs if h.startswith(site.url)]
    assert site.url in on_site and site.url + "#archive" in on_site, hrefs
    with page.expect_navigation():
        page.click(f"main a[href='{site.url}#archive']")
    assert _listed(page) == list(site.ready)


# --- the search ----------------------------------------------------------------


def _unique_term(site: BuiltSite, slug: str, phrases: list[str], pattern: str) -> str:
    """A word (matching `pattern`) from `phrases` that the search index holds for
    the issue `slug` and for no other."""
    for phrase in phrases:
        for term in re.findall(pattern, phrase):
            holders = [s for s, text in site.search.items() if term.casefold() in text.casefold()]
            if holders == [slug]:
                return str(term)
    raise AssertionError(f"no term of {phrases} is found only in {slug}'s search text")


def _deep_dive_headlines(site: BuiltSite, slug: str) -> list[str]:
    settings = api.load_desk(site.root.parent)
    issue, _ = api.render_issue(site.root.parent / "issues" / f"{slug}.yaml", settings)
    assert issue.deep_dives, f"{slug} has no deep dives"
    return [item.headline for item in issue.deep_dives.items]


SETTLED = """([expected, status]) => {
  const shown = Array.from(document.querySelectorAll("#archive-years li[data-slug]"))
    .filter((li) => li.offsetParent !== null).map((li) => li.dataset.slug);
  return JSON.stringify(shown) === JSON.stringify(expected)
    && document.querySelector(".search-status").textContent === status;
}"""


def _search(page: Any, text: str, expected: list[str], status: str = "") -> None:
    page.fill("#search-box", text)
    try:
        page.wait_for_function(SETTLED, arg=[expected, status])
    except PlaywrightTimeoutError as error:  # say what the page shows instead
        shown = _shown(page)
        said = page.inner_text(".search-status")
        raise AssertionError(f"searching {text!r}: showing {shown} with status {said!r}, "
                             f"expected {expected} with {status!r}") from error


def _years_shown(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#archive-years section.year",
        "(years) => years.filter((y) => y.offsetParent !== null).map((y) => y.id || "
        "y.querySelector('h3').textContent)")


def _check_search(page: Any, site: BuiltSite, name: str) -> None:
    page.wait_for_selector("form.search", state="visible")
    all_years = _years_shown(page)
    assert len(all_years) == 2, all_years

    word = _unique_term(site, ENGLISH, _deep_dive_headlines(site, ENGLISH), r"[A-Za-z]{5,}")
    _search(page, word.upper(), [ENGLISH], "Matching issues: 1")
    assert len(_years_shown(page)) == 1, "the year without a match should be hidden"
    _screenshot(page, f"{name}-search")

    _search(page, "qqzxjv", [], NO_RESULTS)
    assert _years_shown(page) == []
    _screenshot(page, f"{name}-no-results")

    _search(page, "", list(site.ready))
    assert _years_shown(page) == all_years

    cjk = _unique_term(site, CHINESE, _deep_dive_headlines(site, CHINESE),
                       r"[\u4e00-\u9fff]{3}")
    _search(page, cjk, [CHINESE], "Matching issues: 1")
    _search(page, f"  {cjk}  {word} ", [], NO_RESULTS)  # every term must match
    _search(page, " ", list(site.ready))


def test_search_filters_the_archive(new_page: Any, site: BuiltSite) -> None:
    page = new_page(375)
    page.goto(site.url + "index.html", wait_until="load")
    _check_search(page, site, "index-375")


# --- opened from disk ----------------------------------------------------------


def test_site_works_opened_from_disk(new_page: Any, site: BuiltSite) -> None:
    page = new_page()
    index = (site.root / "index.html").as_uri()
    page.goto(index, wait_until="load")

    hrefs = page.eval_on_selector_all("#archive-years li[data-slug] a",
                                      "(links) => links.map((a) => a.href)")
    assert hrefs == [(site.root / _page_path(slug)).as_uri() for slug in site.ready]
    for href in hrefs:
        assert Path(urlsplit(href).path).is_file(), href

    _check_search(page, site, "file")

    page.click(f"#archive-years li[data-slug='{CHINESE}'] a")
    page.wait_for_url((site.root / _page_path(CHINESE)).as_uri())
    assert page.inner_text("h1").strip() == site.headlines[CHINESE]
    assert _follow(page, "a[rel=next]") == ENGLISH
    assert page.url.startswith("file://")
    with page.expect_navigation():
        page.click(".issue-nav a.all")
    assert page.url == index + "#archive"


# --- videos: the player loads only on a click ------------------------------------

VIDEO_HOSTS = ("youtube.com", "youtube-nocookie.com", "ytimg.com", "googlevideo.com",
               "vimeo.com", "vimeocdn.com")


def _video_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return any(host == name or host.endswith("." + name) for name in VIDEO_HOSTS)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_video_reaches_its_host_only_when_clicked(new_page: Any, site: BuiltSite,
                                                    javascript: bool) -> None:
    """Each video is its thumbnail and a play button (the frame's srcdoc) until a
    click: only then does the frame go to the player, and the first request to the
    video's host is the player's, with autoplay. Without JavaScript too."""
    page = new_page(javascript=javascript)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(site.url + _page_path(ENGLISH), wait_until="load")
    frames = page.locator("figure.video iframe")
    assert frames.count() == 2, "the English example issue has a YouTube and a Vimeo video"
    for index in range(frames.count()):
        frames.nth(index).scroll_into_view_if_needed()
        inner = page.frame_locator("figure.video iframe").nth(index)
        thumbnail = inner.locator("img")
        thumbnail.wait_for()
        assert thumbnail.evaluate("(img) => img.complete && img.naturalWidth > 0"), \
            "the stand-in shows the video's thumbnail, from the site"
    _screenshot(page, f"video-before-click-{'js' if javascript else 'nojs'}")
    assert [url for url in asked if _video_host(url)] == [], \
        "the page asked the video's host before any click"

    first = frames.nth(0)
    player = first.get_attribute("src")
    assert player and urlsplit(player).hostname == "www.youtube-nocookie.com", player
    with page.expect_request(lambda request: _video_host(request.url)) as clicked:
        page.frame_locator("figure.video iframe").nth(0).locator("a").click()
    assert clicked.value.url.startswith(player) and "autoplay=1" in clicked.value.url
    assert clicked.value.frame.parent_frame == page.main_frame, "the player loads in the frame"
    hosts = {urlsplit(url).hostname for url in asked if _video_host(url)}
    assert hosts == {"www.youtube-nocookie.com"}, "the other video's host was asked too"


def test_the_video_stand_in_is_a_named_link(new_page: Any, site: BuiltSite) -> None:
    """A screen reader hears what the button plays; axe sees the frame's document."""
    page = new_page()
    page.goto(site.url + _page_path(ARABIC), wait_until="load")
    frame = page.locator("figure.video iframe")
    assert frame.get_attribute("title"), "the frame needs a title"
    link = page.frame_locator("figure.video iframe").locator("a")
    assert link.get_attribute("aria-label") == f"شاهد: {frame.get_attribute('title')}"


# --- right to left -----------------------------------------------------------------

LAYOUT_OF = """(selector) => {
  const el = document.querySelector(selector);
  const style = getComputedStyle(el);
  return {direction: style.direction, paddingLeft: parseFloat(style.paddingLeft),
          paddingRight: parseFloat(style.paddingRight),
          borderLeft: parseFloat(style.borderLeftWidth),
          borderRight: parseFloat(style.borderRightWidth)};
}"""

MARKER_SIDE = """(selector) => {
  // where a list's bullets sit: left or right of its items' text
  const item = document.querySelector(selector);
  const list = item.parentElement.getBoundingClientRect();
  const text = item.getBoundingClientRect();
  return text.left - list.left > list.right - text.right ? "left" : "right";
}"""


def test_an_arabic_issue_reads_right_to_left(new_page: Any, site: BuiltSite) -> None:
    page = new_page(375)
    page.goto(site.url + _page_path(ARABIC), wait_until="load")
    _screenshot(page, "arabic-375")
    assert page.evaluate("() => [document.documentElement.lang, document.documentElement.dir]"
                         ) == ["ar", "rtl"]
    # the bullets, the intro's and the related link's rules on the right
    assert page.evaluate(MARKER_SIDE, ".standfirst li") == "right"
    standfirst = page.evaluate(LAYOUT_OF, ".standfirst")
    assert standfirst["paddingRight"] > 0 and standfirst["paddingLeft"] == 0, standfirst
    for selector in (".intro", ".related"):
        rule = page.evaluate(LAYOUT_OF, selector)
        assert rule["direction"] == "rtl" and rule["borderRight"] == 3, (selector, rule)
        assert rule["borderLeft"] == 0, (selector, rule)
    # the English item and the desk's English words read left to right inside it
    english = page.locator(".catch-up .item[lang=en]")
    assert english.get_attribute("dir") == "ltr"
    assert page.evaluate(LAYOUT_OF, ".catch-up .item[lang=en]")["direction"] == "ltr"
    assert page.locator(".masthead .tagline span[lang=en]").get_attribute("dir") == "ltr"
    # the masthead says the number and the date in Arabic
    assert page.inner_text(".dateline").strip() == "العدد 46 · 13 نوفمبر 2026"
    # the archive (in the desk's English) lists it right to left, the others not
    page.goto(site.url + "index.html", wait_until="load")
    assert page.locator(f"li[data-slug='{ARABIC}']").get_attribute("dir") == "rtl"
    assert page.locator(f"li[data-slug='{ENGLISH}']").get_attribute("dir") is None


def test_an_english_issue_still_reads_left_to_right(new_page: Any, site: BuiltSite) -> None:
    """The other side of the test above: the same checks hold the other way round."""
    page = new_page(375)
    page.goto(site.url + _page_path(ENGLISH), wait_until="load")
    assert page.evaluate("() => document.documentElement.dir") == "ltr"
    assert page.evaluate(MARKER_SIDE, ".standfirst li") == "left"
    rule = page.evaluate(LAYOUT_OF, ".intro")
    assert rule["borderLeft"] == 3 and rule["borderRight"] == 0, rule
    assert page.locator(".masthead img.logo").count() == 1, "the masthead shows the desk's logo"
    assert page.inner_text(".dateline").strip() == "Issue 48 · November 27, 2026"
    footer = page.inner_text("footer")
    assert "Reply to this email" not in footer and "getting Tideline because" not in footer
    weight = page.evaluate("() => getComputedStyle(document.querySelector('.standfirst li'))"
                           ".fontWeight")
    assert weight == "400", "lead bullets are regular, as in the email"


HOSTILE_TITLE = ("Kelp \"><script>window.pwned=1</script><img src=x onerror=window.pwned=2>"
                 "&amp; </iframe><b>")


def test_a_hostile_video_title_stays_text_in_the_stand_in(new_page: Any, desk: Path) -> None:
    """The stand-in is a document inside an attribute: the title is escaped for the
    document, then the document for the attribute. A feed's title full of markup
    comes out as the same text, in the frame's label, and nothing runs."""
    path = desk / "issues" / f"{ENGLISH}.yaml"
    text = path.read_text(encoding="utf-8")
    original = "Inside the urchin cull: a morning with Port Halden's volunteer divers"
    assert original in text
    path.write_text(text.replace(f'"{original}"', json.dumps(HOSTILE_TITLE), 1),
                    encoding="utf-8")
    settings = api.load_desk(desk)
    out = desk / "site"
    api.build_site(settings, out_dir=out)
    page = new_page()
    page.goto((out / _page_path(ENGLISH)).as_uri(), wait_until="load")
    frame = page.frame_locator("figure.video iframe").nth(0)
    link = frame.locator("a")
    assert link.get_attribute("aria-label") == f"Watch: {HOSTILE_TITLE}"
    assert frame.locator("script, [onerror], b").count() == 0
    assert page.locator("figure.video iframe").nth(0).get_attribute("title") == HOSTILE_TITLE
    assert page.evaluate("() => window.pwned") is None
    for inner in page.frames:
        assert inner.evaluate("() => window.pwned === undefined"), inner.url


def test_english_inside_a_chinese_issue_gets_a_latin_font(new_page: Any, site: BuiltSite) -> None:
    """A CJK face's Latin letters are wide ("You ' re"): the English item of the
    Chinese issue, and the desk's English tagline, get the Latin stack."""
    page = new_page()
    page.goto(site.url + _page_path(CHINESE), wait_until="load")
    family = "(el) => getComputedStyle(el).fontFamily"
    assert "CJK" in page.eval_on_selector("main h1", family)
    for selector in (".catch-up .item[lang=en]", ".masthead .tagline [lang=en]"):
        used = page.eval_on_selector(selector, family)
        assert "CJK" not in used and "PingFang" not in used, (selector, used)
