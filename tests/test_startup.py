"""Start-up: each command imports what it uses, and nothing heavy besides.

`newsletter --help` should feel instant and `newsletter candidates` should cost
little more (ARCHITECTURE.md, "Start-up"). Times belong in bench/startup.py;
here the work is counted instead: the command runs in a real process, which
then lists the modules it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from generated_store import make_store

from newsletter import api
from newsletter.cli._table import echo_table, text_width

#: Runs `python -m newsletter ARGS` in this process, then writes the names of the
#: modules it imported (and its exit code) to the file named first.
WRAPPER = """
import json, runpy, sys
out, sys.argv = sys.argv[1], ["newsletter", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("newsletter", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
with open(out, "w", encoding="utf-8") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

#: What rendering, fetching and pretty printing pull in; listing candidates uses none.
RENDERING = ("jinja2", "markdown_it", "PIL", "babel", "mjml", "newsletter.render",
             "newsletter.publish")
FETCHING = ("httpx", "feedparser", "pebble", "newsletter.collect.fetch")
PRETTY = ("rich",)
#: What reading or editing an issue needs, and listing candidates or a build with
#: nothing to do does not: an issue's parts and a fetch's results (two thirds of the
#: model's dataclasses, each about half a millisecond to create), the issue reader,
#: the YAML editor, the sanitizer.
ISSUE_WORK = ("newsletter.model.issue", "newsletter.model.collect", "newsletter.desk.editorial",
              "newsletter.desk.drafts", "newsletter.sanitize", "nh3")
#: The YAML parser (~11 ms): the settings a command read before are kept parsed in the
#: cache (desk/_yaml.load_kept_yaml). A build with nothing to do reads no other YAML;
#: `candidates` reads an issue's number and date when its lock pins a listed story.
YAML_PARSER = ("ruamel",)


def imported(tmp_path: Path, cwd: Path, *args: str) -> set[str]:
    """The modules `newsletter ARGS` imported, run in its own process in `cwd`."""
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(out), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["code"] in (0, None), done.stderr
    return set(report["modules"])


def heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder of this module's own (the commands here inherit it): what a
    command finds kept there is what the tests before it kept, not the machine's."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="module")
def store_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example desk with a store of 300 generated stories."""
    import shutil

    desk = tmp_path_factory.mktemp("startup") / "desk"
    desk.mkdir()
    shutil.copy(REPO / "newsletter.yaml", desk)
    shutil.copytree(REPO / "issues", desk / "issues")
    shutil.copytree(REPO / "examples" / "images", desk / "examples" / "images")
    make_store(api.store_path(api.load_desk(desk)), 300)
    return desk


def test_help_imports_neither_the_stages_nor_the_model(tmp_path: Path) -> None:
    modules = imported(tmp_path, REPO, "--help")
    assert "click" in modules  # not vacuous: the command did run
    assert heavy(modules, (*RENDERING, *FETCHING, *PRETTY)) == []
    # the 40 frozen dataclasses cost a fifth of --help: errors names the model
    # only in annotations, and the commands import api when they run
    assert heavy(modules, ("newsletter.model", "newsletter.api", "newsletter.desk",
                           "ruamel", "sqlite3", "logging")) == []


@pytest.mark.parametrize("args", [("candidates", "--since", "999999d"),
                                  ("candidates", "--json", "--limit", "5")])
def test_candidates_imports_no_renderer(tmp_path: Path, store_desk: Path,
                                        args: tuple[str, ...]) -> None:
    modules = imported(tmp_path, store_desk, *args)
    assert "newsletter.collect.store" in modules  # not vacuous: the store was read
    assert heavy(modules, RENDERING) == []


def test_candidates_imports_nothing_of_fetching_and_no_rich(tmp_path: Path,
                                                            store_desk: Path) -> None:
    """rich too: its table is gone from `candidates` (see cli/_table), but httpx's
    command-line module imports it."""
    modules = imported(tmp_path, store_desk, "candidates", "--since", "999999d")
    assert "newsletter.collect.store" in modules
    assert heavy(modules, (*FETCHING, *PRETTY)) == []
    # no issue pins a listed story (whose number and date it would read), and the
    # settings were kept parsed when the fixture read them
    assert heavy(modules, YAML_PARSER) == []


def test_candidates_reads_no_issue_and_cleans_no_html(tmp_path: Path, store_desk: Path) -> None:
    """An issue here pins the newest story in its lock file, so `used in` is read from
    it: still without the issue reader, whose model alone is ~10 ms."""
    from newsletter.desk.lockfile import lock_path, write_lock

    settings = api.load_desk(store_desk)
    newest = api.candidates(settings, limit=1)[0]
    issue = store_desk / "issues" / "2026-11-20.yaml"
    write_lock(lock_path(issue), [newest])
    try:
        listed = subprocess.run([sys.executable, "-m", "newsletter", "candidates", "--json",
                                 "--limit", "1"], cwd=store_desk, capture_output=True,
                                text=True, timeout=120, check=True)
        modules = imported(tmp_path, store_desk, "candidates", "--since", "999999d")
    finally:
        lock_path(issue).unlink()
    row = json.loads(listed.stdout)[0]
    assert row["id"] == newest.id and row["used_in"]  # not vacuous: the lock was read
    assert heavy(modules, ISSUE_WORK) == []
    assert "hashlib" not in modules and "difflib" not in modules


def test_api_offers_the_names_it_imports_on_first_use() -> None:
    from newsletter.desk import drafts

    assert api.Edit is drafts.Edit and api.Placed is drafts.Placed
    assert all(hasattr(api, name) for name in api.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = api.Nothing  # type: ignore[attr-defined]  # the point: it does not exist


def test_the_candidate_table_aligns_wide_characters_and_shows_no_control_codes(
        capsys: pytest.CaptureFixture[str]) -> None:
    echo_table(("id", "source", "title"), [("a1", "海洋", "tide\x1b[31mred\x07"),
                                            ("b2", "feed", "kelp")])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["id  source  title", "a1  海洋    tide [31mred", "b2  feed    kelp"]
    assert {text_width(line[:line.rindex("  ") + 2]) for line in lines} == {12}


def test_a_build_with_nothing_to_do_imports_no_renderer(tmp_path: Path, desk: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "newsletter", "build"], cwd=desk,
                           capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    modules = imported(tmp_path, desk, "build")
    assert "newsletter.publish.archive" in modules  # not vacuous: the build did run
    assert heavy(modules, tuple(n for n in RENDERING if n != "newsletter.publish")) == []
    assert heavy(modules, ISSUE_WORK) == []
    assert heavy(modules, YAML_PARSER) == []  # the settings: read by the build before


def test_fetch_leaves_the_feed_parser_to_its_workers(tmp_path: Path, desk: Path) -> None:
    """With two feeds or more to parse, the parsing pool's workers import the parser;
    the process that fetches and saves never parses, so it does not load it."""
    import shutil

    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    modules = imported(tmp_path, desk, "fetch")
    assert {"newsletter.collect.fetch", "pebble", "newsletter.collect.store"} <= modules
    with api.open_store(api.load_desk(desk)) as store:
        assert len(store.search(limit=100)) > 10  # not vacuous: the feeds were parsed
    assert heavy(modules, ("feedparser", "newsletter.collect.parse",
                           "newsletter.collect.entries")) == []


def test_the_model_loads_an_issues_parts_and_a_fetchs_results_on_first_use() -> None:
    """`newsletter.model` offers every name; those of `model.issue` and `model.collect`
    load when first asked for (PEP 562)."""
    code = ("import sys, newsletter.model as m; loaded = lambda: sorted(n for n in sys.modules "
            "if n.startswith('newsletter.model.')); print(loaded()); "
            "from newsletter.model import Issue, Settings; print(loaded()); "
            "from newsletter.model import FetchResult; print(loaded()); "
            "print(Issue.__module__, FetchResult.__module__, "
            "all(hasattr(m, n) for n in m.__all__))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.splitlines() == [
        "['newsletter.model.common']",
        "['newsletter.model.common', 'newsletter.model.issue']",
        "['newsletter.model.collect', 'newsletter.model.common', 'newsletter.model.issue']",
        "newsletter.model.issue newsletter.model.collect True"]
    import newsletter.model as model
    from newsletter.model import collect, common, issue

    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = model.Nothing  # type: ignore[attr-defined]  # the point: it does not exist
    # the lazy names are listed by hand (listing them from the modules would load them):
    # they must stay the modules' own lists, each name in one module
    assert set(collect.__all__) == model._IN_COLLECT
    assert set(issue.__all__) == model._IN_ISSUE
    assert sorted(model.__all__) == sorted([*common.__all__, *collect.__all__, *issue.__all__])
