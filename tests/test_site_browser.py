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
        assert set(ready) == {ENGLISH, CHINESE, OLDER}, ready
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
             "chinese": _page_path(CHINESE), "404": "404.html"}
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

LAYOUTS = [(name, width) for name in ("index", "english", "chinese", "404")
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
    newest, middle, oldest = site.ready
    page.goto(site.url + _page_path(middle), wait_until="load")

    assert _follow(page, "a[rel=prev]") == oldest
    assert page.inner_text("h1").strip() == site.headlines[oldest]
    assert page.locator("a[rel=prev]").count() == 0, "the oldest issue has no previous one"

    assert _follow(page, "a[rel=next]") == middle
    assert _follow(page, "a[rel=next]") == newest
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
