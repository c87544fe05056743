"""Broken issue and settings files: every problem at once, located, with a hint, no traceback.

Each case is one small file in tests/data/issues/invalid/ (or settings/invalid/): a copy
of MINIMAL_ISSUE (or MINIMAL_SETTINGS) below with one fault. expected.json beside the
files says, per case, what must be reported: line, optional col, field (or field_prefix),
a piece of the message and a piece of the hint. Optional keys: "stage": "assets" (found
by the build, not the loader) and "pad_to_bytes" (the test pads the file with comment
lines, so the repository holds no 2-MB file). A new case is a new file plus an entry.

Each case runs three ways:
  problems  the library (load_issue / load_settings, or build_issue for "assets")
            reports every expected problem, precisely (a hang guard of HANG_GUARD_SECONDS
            catches a runaway; how fast is bench's business, not a test's);
  noise     it reports nothing beyond them (one fault, one report);
  cli       `python -m newsletter build` exits 1 with `file:line:` and the hint on
            stderr, no traceback, and creates no output folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from newsletter import api
from newsletter.desk._yaml import load_yaml
from newsletter.desk.config import load_settings
from newsletter.desk.editorial import load_issue
from newsletter.desk.lookup import StaticLookup
from newsletter.errors import AssetError, InputError, IssueFileError, Problem, SettingsError
from newsletter.model import Settings, Story

DATA = Path(__file__).resolve().parent / "data"
ISSUE_CASES = DATA / "issues" / "invalid"
SETTINGS_CASES = DATA / "settings" / "invalid"
EXPECTED = "expected.json"
# Ten times what the slowest case takes on a loaded machine: a hang, not a speed limit.
HANG_GUARD_SECONDS = 30.0
CLI_TIMEOUT = 60
EXAMPLE_ISSUE = "issues/2026-11-27.yaml"  # in the desk fixture; built to try settings cases

# The valid file every issue case is copied from. Lines: 2 number, 3 date, 4 status,
# 5 subject, 6 lead, 7 url, 8 headline, 9 bullets, 12 body.
MINIMAL_ISSUE = """\
# Minimal valid issue; each case in this folder is a copy with one fault.
number: 7
date: 2026-12-04
status: draft
subject: "Tideline #7: a minimal issue"
lead:
  url: https://news.example.org/2026/12/03/minimal-lead
  headline: "A minimal lead story"
  bullets:
    - "First bullet of the standfirst"
    - "Second bullet of the standfirst"
  body:
    - text: |
        One paragraph of body text.
"""

MINIMAL_SETTINGS = """\
# Minimal valid desk settings; each case in this folder is a copy with one fault.
name: Tideline
base_url: https://tideline.example.org/
language: en
colors:
  brand: "#0b4f6c"
utm:
  campaign: "tideline-{number}"
feeds:
  - name: ocean-science
    url: https://feeds.example.org/ocean-science/rss.xml
"""

# --- the cases ------------------------------------------------------------------


def expectations(folder: Path) -> dict[str, Any]:
    with (folder / EXPECTED).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def case_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.yaml"))


def params(folder: Path) -> list[Any]:
    return [pytest.param(name, id=name) for name in case_files(folder)]


def entry(folder: Path, name: str) -> dict[str, Any]:
    cases = expectations(folder)
    assert name in cases, f"{folder.name}/{name} has no entry in {EXPECTED}"
    found: dict[str, Any] = cases[name]
    return found


def install(folder: Path, name: str, dest: Path) -> Path:
    """Copy a case file to `dest`, padded to its size when the expectation says so."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / name, dest)
    pad_to = entry(folder, name).get("pad_to_bytes")
    if pad_to:
        line = b"# padding written by the test to make this file too large\n"
        missing = pad_to - dest.stat().st_size
        with dest.open("ab") as fh:
            fh.write(line * (missing // len(line) + 1))
    return dest


def matches(problem: Problem, want: dict[str, Any], path: Path) -> bool:
    where = problem.location
    field_ok = (problem.field == want["field"] if "field" in want
                else problem.field.startswith(want["field_prefix"]))
    return (where.path == path and where.line == want["line"]
            and ("col" not in want or where.column == want["col"])
            and field_ok and want["message"] in problem.message and want["hint"] in problem.hint)


def listing(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems) or "(no problems reported)"


def assert_reports(problems: list[Problem], wanted: list[dict[str, Any]], path: Path) -> None:
    for want in wanted:
        assert any(matches(p, want, path) for p in problems), (
            f"expected {want}\nreported:\n{listing(problems)}")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)


def assert_cli_reports(result: subprocess.CompletedProcess[str], file_name: str,
                       wanted: list[dict[str, Any]], out: Path) -> None:
    err = result.stderr
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{err}"
    assert "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir()), f"{out} was written"
    hints = [line for line in err.splitlines() if line.startswith("  hint: ")]
    for want in wanted:
        where = f"{file_name}:{want['line']}:" + (f"{want['col']}:" if "col" in want else "")
        assert where in err, f"{where!r} not in stderr:\n{err}"
        assert want["message"] in err, f"{want['message']!r} not in stderr:\n{err}"
        assert any(want["hint"] in h for h in hints), f"no hint with {want['hint']!r}:\n{err}"


# --- issue cases ------------------------------------------------------------------


def issue_problems(name: str, desk: Path) -> tuple[Path, InputError | None, float]:
    path = install(ISSUE_CASES, name, desk / "issues" / name)
    settings = api.load_desk(desk)
    start = time.perf_counter()
    try:
        if entry(ISSUE_CASES, name).get("stage") == "assets":
            api.build_issue(path, settings, out_dir=desk / "out")
        else:
            load_issue(path, settings)
    except InputError as exc:
        return path, exc, time.perf_counter() - start
    return path, None, time.perf_counter() - start


@pytest.mark.parametrize("name", params(ISSUE_CASES))
def test_issue_case_reports_each_problem(name: str, desk: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(desk)  # where a payload that ran would leave its marker
    want = entry(ISSUE_CASES, name)
    path, error, seconds = issue_problems(name, desk)
    expected_type = AssetError if want.get("stage") == "assets" else IssueFileError
    assert isinstance(error, expected_type), f"{name}: {error!r}"
    assert seconds < HANG_GUARD_SECONDS, f"{name} took {seconds:.1f} s"
    assert_reports(list(error.problems), want["problems"], path)
    assert not (desk / "out").exists()


@pytest.mark.parametrize("name", params(ISSUE_CASES))
def test_issue_case_reports_nothing_else(name: str, desk: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(desk)
    want = entry(ISSUE_CASES, name)
    _, error, _ = issue_problems(name, desk)
    problems = list(error.problems) if error else []
    assert len(problems) <= len(want["problems"]), listing(problems)


@pytest.mark.parametrize("name", params(ISSUE_CASES))
def test_issue_case_on_the_command_line(name: str, desk: Path) -> None:
    install(ISSUE_CASES, name, desk / "issues" / name)
    result = cli("build", f"issues/{name}", "--out", "out", cwd=desk)
    assert_cli_reports(result, name, entry(ISSUE_CASES, name)["problems"], desk / "out")
    assert not (desk / "pwned.txt").exists()


# --- settings cases ---------------------------------------------------------------


def settings_problems(name: str, desk: Path) -> tuple[Path, InputError | None]:
    path = install(SETTINGS_CASES, name, desk / "newsletter.yaml")
    try:
        settings = load_settings(path)
        if entry(SETTINGS_CASES, name).get("stage") == "assets":
            api.build_issue(desk / EXAMPLE_ISSUE, settings, out_dir=desk / "out")
    except InputError as exc:
        return path, exc
    return path, None


@pytest.mark.parametrize("name", params(SETTINGS_CASES))
def test_settings_case_reports_each_problem(name: str, desk: Path) -> None:
    want = entry(SETTINGS_CASES, name)
    path, error = settings_problems(name, desk)
    expected_type = AssetError if want.get("stage") == "assets" else SettingsError
    assert isinstance(error, expected_type), f"{name}: {error!r}"
    assert_reports(list(error.problems), want["problems"], path)
    assert not (desk / "out").exists()


@pytest.mark.parametrize("name", params(SETTINGS_CASES))
def test_settings_case_reports_nothing_else(name: str, desk: Path) -> None:
    _, error = settings_problems(name, desk)
    problems = list(error.problems) if error else []
    assert len(problems) <= len(entry(SETTINGS_CASES, name)["problems"]), listing(problems)


@pytest.mark.parametrize("name", params(SETTINGS_CASES))
def test_settings_case_on_the_command_line(name: str, desk: Path) -> None:
    install(SETTINGS_CASES, name, desk / "newsletter.yaml")
    result = cli("build", EXAMPLE_ISSUE, "--out", "out", cwd=desk)
    assert_cli_reports(result, "newsletter.yaml", entry(SETTINGS_CASES, name)["problems"],
                       desk / "out")


@pytest.mark.parametrize("name", params(SETTINGS_CASES))
def test_settings_case_reports_the_same_from_the_kept_document(
        name: str, desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings are kept parsed only when valid: a case refused by the validation is
    parsed every time; one whose problem comes later (a logo file that is missing,
    at the logo's line) is read the second time from the kept document, with the
    first read's problems at the same lines."""
    from newsletter.desk import _yaml

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parsed: list[Path] = []
    real_parse = _yaml._parse
    monkeypatch.setattr(_yaml, "_parse", lambda path, *rest: (
        parsed.append(path), real_parse(path, *rest))[1])
    reads = [settings_problems(name, desk)[1] for _ in range(2)]
    first, again = ([(p.location, p.field, p.message, p.hint) for p in error.problems]
                    if error else [] for error in reads)
    assert first == again and first, name
    kept = list((tmp_path / "cache" / "newsletter" / "yaml").glob("*.json"))
    valid_settings = entry(SETTINGS_CASES, name).get("stage") == "assets"
    assert bool(kept) == valid_settings, name
    assert [path.name for path in parsed].count("newsletter.yaml") == (
        1 if valid_settings else 2), name


def test_a_password_refused_in_the_settings_is_never_copied_into_the_cache(
        desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = desk / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8")
                    + "\nsmtp:\n  host: mail.example.org\n  password: hunter2-secret\n",
                    encoding="utf-8")
    for _ in range(2):
        with pytest.raises(SettingsError, match="a password does not belong"):
            load_settings(path)
    cache = tmp_path / "cache"
    assert not [p for p in cache.rglob("*") if p.is_file()
                and b"hunter2-secret" in p.read_bytes()]


def test_the_settings_read_again_from_the_kept_document_need_no_yaml_parser(
        desk: Path, tmp_path: Path) -> None:
    script = ("import sys\n"
              "from pathlib import Path\n"
              "from newsletter.desk.config import load_settings\n"
              "settings = load_settings(Path(sys.argv[1]))\n"
              "print('ruamel' in sys.modules, repr(settings))\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", script, str(desk / "newsletter.yaml")],
                           capture_output=True, text=True, env=env, check=True,
                           timeout=120).stdout.split(" ", 1) for _ in range(2)]
    assert [loaded for loaded, _ in runs] == ["True", "False"]
    assert runs[0][1] == runs[1][1]  # the same Settings, to the last field


def test_a_kept_settings_file_is_read_again_when_it_changes(
        desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = desk / "newsletter.yaml"
    name = load_settings(path).name
    path.write_text(path.read_text(encoding="utf-8").replace(f"name: {name}", "name: Ebb"),
                    encoding="utf-8")
    assert load_settings(path).name == "Ebb"
    kept = sorted((tmp_path / "cache" / "newsletter" / "yaml").glob("*.json"))
    assert len(kept) == 2
    for entry in kept:  # damaged entries, or another text under an entry's name
        entry.write_text('{"format": 1, "text": "name: x"', encoding="utf-8")
    assert load_settings(path).name == "Ebb"


def test_what_was_kept_by_other_code_or_long_ago_is_not_used(
        desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.desk import _yaml

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = desk / "newsletter.yaml"
    first = load_settings(path)
    [entry] = (tmp_path / "cache" / "newsletter" / "yaml").glob("*.json")
    kept = json.loads(entry.read_text(encoding="utf-8"))
    kept["written_by"][0] -= 1  # an older format, or code edited since (size, time)
    kept["data"]["name"] = "Written by other code"
    entry.write_text(json.dumps(kept), encoding="utf-8")
    assert load_settings(path) == first
    assert json.loads(entry.read_text(encoding="utf-8"))["written_by"] == _yaml._writer()
    stale = entry.with_name("0badcafe-12.json")
    stale.write_text("{}", encoding="utf-8")
    long_ago = time.time() - (_yaml._KEPT_DAYS + 1) * 86_400
    os.utime(stale, (long_ago, long_ago))
    path.write_text(path.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    load_settings(path)  # keeps one more, and forgets what was not written for long
    assert not stale.exists() and entry.exists()


def test_text_json_cannot_encode_as_utf_8_is_kept_exactly(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A YAML escape can make a lone surrogate (\\ud800), which UTF-8 refuses."""
    from newsletter.desk import _yaml

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = 'name: "x\\ud800y"\n'
    doc = _yaml.YamlDocument(path=tmp_path / "s.yaml", data={"name": "x\ud800y"},
                             locations={(): (1, 1), ("name",): (1, 7)},
                             key_locations={("name",): (1, 1)}, raw={("name",): "x\ud800y"})
    entry = _yaml._kept_entry(text)
    assert entry is not None
    _yaml._keep(entry, text, doc)
    assert _yaml._kept(entry, tmp_path / "s.yaml", text) == doc


def test_settings_are_read_where_no_cache_folder_can_be(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No $HOME and no passwd entry (a container's bare uid): Path.home() raises."""
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert load_settings(desk / "newsletter.yaml").name


def test_settings_with_a_date_or_a_syntax_error_are_never_kept(
        desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = desk / "newsletter.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}\nlaunched: 2026-01-02\n", encoding="utf-8")  # JSON has no dates
    with pytest.raises(SettingsError, match="launched"):
        load_settings(path)
    path.write_text(f"{text}\nname: [unclosed\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(SettingsError, match="syntax"):
            load_settings(path)
    assert list((tmp_path / "cache" / "newsletter" / "yaml").glob("*.json")) == []


# --- the case collection itself ---------------------------------------------------


@pytest.mark.parametrize("folder", [ISSUE_CASES, SETTINGS_CASES], ids=["issues", "settings"])
def test_every_case_file_has_an_expectation_and_back(folder: Path) -> None:
    cases = expectations(folder)
    assert set(case_files(folder)) == set(cases)
    for name, want in cases.items():
        # the slug defaults to the file name: anything else would add a slug problem
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*\.yaml", name), name
        assert want["about"] and want["problems"], name
        for problem in want["problems"]:
            assert {"line", "message", "hint"} <= problem.keys(), name
            assert ("field" in problem) != ("field_prefix" in problem), name
            assert problem["hint"], f"{name}: every problem needs a hint"


def test_the_minimal_issue_is_valid_and_builds(desk: Path) -> None:
    path = desk / "issues" / "2026-12-04.yaml"
    path.write_text(MINIMAL_ISSUE, encoding="utf-8")
    issue = load_issue(path, api.load_desk(desk))
    assert issue.number == 7 and len(issue.lead.bullets) == 2
    result = cli("build", "issues/2026-12-04.yaml", "--out", "out", cwd=desk)
    assert result.returncode == 0, result.stderr
    assert (desk / "out" / "issues" / "2026-12-04" / "email.html").is_file()


def test_the_minimal_settings_are_valid_and_build(desk: Path) -> None:
    (desk / "newsletter.yaml").write_text(MINIMAL_SETTINGS, encoding="utf-8")
    settings = load_settings(desk / "newsletter.yaml")
    assert settings.name == "Tideline" and settings.feeds[0].url
    result = cli("build", EXAMPLE_ISSUE, "--out", "out", cwd=desk)
    assert result.returncode == 0, result.stderr


# --- cases that need more than a file ---------------------------------------------


def test_a_story_reference_suggests_a_close_candidate(desk: Path) -> None:
    path = install(ISSUE_CASES, "story-unknown.yaml", desk / "issues" / "story-unknown.yaml")
    settings = api.load_desk(desk)
    near = Story(id="9f3c1f", url="https://news.example.org/2026/12/01/near", title="Near")
    with pytest.raises(IssueFileError) as caught:
        load_issue(path, settings, StaticLookup([near]))
    [problem] = caught.value.problems
    assert (problem.location.path, problem.location.line) == (path, 7)
    assert problem.field == "lead.story" and 'no candidate "9f3c1e"' in problem.message
    assert problem.hint == 'did you mean "9f3c1f"?'
    # ... and an id the reference is a unique prefix of resolves
    full = Story(id="9f3c1e2a", url="https://news.example.org/2026/12/01/full", title="Full")
    issue = load_issue(path, settings, StaticLookup([full, near]))
    assert (issue.lead.url, issue.lead.headline) == (full.url, full.title)


TAG_CASES = ("python-apply-tag.yaml", "python-name-tag.yaml", "tag-on-mapping.yaml")


@pytest.mark.parametrize("name", TAG_CASES)
def test_python_tags_are_never_constructed(name: str, desk: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    monkeypatch.chdir(desk)
    path = install(ISSUE_CASES, name, desk / "issues" / name)
    with contextlib.suppress(IssueFileError):  # reporting it is the case's own test
        load_issue(path, api.load_desk(desk))
    cli("build", f"issues/{name}", "--out", "out", cwd=desk)
    assert calls == []
    assert not (desk / "pwned.txt").exists()
    assert not list(desk.rglob("pwned*"))


def _bomb(levels: int, width: int, *, mapping: bool) -> str:
    if mapping:
        rows = ["  l0: &l0 {" + ", ".join(f"k{i}: lol" for i in range(width)) + "}"]
        rows += [f"  l{n}: &l{n} {{" + ", ".join(f"k{i}: *l{n - 1}" for i in range(width)) + "}"
                 for n in range(1, levels)]
        return "preheader:\n" + "\n".join(rows) + "\n"
    rows = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    rows += [f"&l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels)]
    return "preheader: [" + ", ".join(rows) + "]\n"


@pytest.mark.parametrize(("levels", "width", "mapping"),
                         [(9, 9, False), (12, 12, False), (9, 9, True)],
                         ids=["lists-9x9", "lists-12x12", "mappings-9x9"])
def test_alias_bombs_fail_fast_in_bounded_memory(levels: int, width: int, mapping: bool,
                                                 desk: Path) -> None:
    path = desk / "issues" / "bomb.yaml"
    path.write_text(MINIMAL_ISSUE.replace("status: draft\n", "status: draft\n"
                                          + _bomb(levels, width, mapping=mapping)),
                    encoding="utf-8")
    settings = api.load_desk(desk)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(IssueFileError) as caught:
            load_issue(path, settings)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < HANG_GUARD_SECONDS
    assert peak < 64 * 2**20, f"peak {peak:,} bytes"
    first = caught.value.problems[0]
    assert 5 <= (first.location.line or 0) <= 5 + levels, str(first)
    assert first.field.startswith("preheader")
    assert "expands to more than" in first.message and "aliases" in first.hint


@pytest.mark.parametrize("nesting", [" " + "[" * 50_000 + "]" * 50_000,
                                     " " + "{a: " * 50_000 + "}" * 50_000,
                                     "\n  " + "- " * 50_000 + "x"],
                         ids=["flow-lists", "flow-mappings", "block-lists"])
def test_very_deep_nesting_is_reported_not_a_crash(nesting: str, desk: Path) -> None:
    # in a subprocess: a crash here must not take the test run down with it
    (desk / "issues" / "deep.yaml").write_text(
        MINIMAL_ISSUE.replace("status: draft\n", f"status: draft\npreheader:{nesting}\n"),
        encoding="utf-8")
    start = time.perf_counter()
    result = cli("build", "issues/deep.yaml", "--out", "out", cwd=desk)
    assert result.returncode == 1, f"exit {result.returncode}: {result.stderr[-500:]}"
    assert re.search(r"deep\.yaml:[56]:", result.stderr), result.stderr[-500:]
    assert "nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.perf_counter() - start < CLI_TIMEOUT / 2


def test_a_tab_inside_block_text_is_text_not_indentation(desk: Path) -> None:
    path = desk / "issues" / "2026-12-04.yaml"
    path.write_text(MINIMAL_ISSUE.replace(
        "        One paragraph of body text.\n",
        "        One paragraph of body text.\n        \tan indented code line\n"),
        encoding="utf-8")
    issue = load_issue(path, api.load_desk(desk))
    assert "\tan indented code line" in issue.lead.body[0].markdown  # type: ignore[union-attr]


# --- a failed build leaves the last good one alone ---------------------------------


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", [
    "syntax-unclosed-list.yaml", "number-as-word.yaml", "multiple-problems.yaml",
    "image-missing.yaml", "alias-bomb.yaml", "not-utf8.yaml", "too-large.yaml",
    "python-apply-tag.yaml", "settings:colour-invalid.yaml",
])
def test_a_failed_build_leaves_the_previous_build_byte_identical(case: str,
                                                                 desk: Path) -> None:
    issue = desk / "issues" / "2026-12-04.yaml"
    issue.write_text(MINIMAL_ISSUE, encoding="utf-8")
    good = cli("build", "issues/2026-12-04.yaml", "--out", "out", cwd=desk)
    assert good.returncode == 0, good.stderr
    before = snapshot(desk / "out")
    assert "issues/2026-12-04/email.html" in before

    if case.startswith("settings:"):
        install(SETTINGS_CASES, case.removeprefix("settings:"), desk / "newsletter.yaml")
    else:
        install(ISSUE_CASES, case, issue)  # the same file, so the same slug
    broken = cli("build", "issues/2026-12-04.yaml", "--out", "out", cwd=desk)
    assert broken.returncode == 1, broken.stderr
    assert "Traceback" not in broken.stderr
    assert snapshot(desk / "out") == before  # same files, same bytes, no staging left


# --- properties -------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validation-properties")


# ruamel's emitter writes U+0085, U+2028 and U+2029 unescaped, and YAML reads them as
# line breaks: that loss is the dumper's, so they are left out of generated text.
_texts = st.text(st.characters(codec="utf-8", exclude_characters="\x85\u2028\u2029"))
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.dates()
    | _texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4),
    max_leaves=25,
)


@hsettings(max_examples=200, deadline=None)
@given(yaml_values)
def test_what_a_yaml_dumper_writes_loads_back_equal(scratch: Path, value: Any) -> None:
    from ruamel.yaml import YAML

    dumper = YAML(typ="safe", pure=True)
    dumper.allow_unicode = True
    # block style, as editors write: in flow style ruamel's emitter (YAML 1.2 rules) writes
    # plain keys like ?0 that libyaml (YAML 1.1) parses differently
    dumper.default_flow_style = False
    text = io.StringIO()
    dumper.dump(value, text)
    path = scratch / "round-trip.yaml"
    path.write_text(text.getvalue(), encoding="utf-8")
    problems: list[Problem] = []
    doc = load_yaml(path, problems)
    assert problems == [], f"{text.getvalue()!r}\n{listing(problems)}"
    assert doc is not None and doc.data == value, text.getvalue()


# Tokens that YAML cares about, for texts that reach the parser's odd corners.
_TOKENS = ["\n", "  ", "- ", ": ", ":", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ",
           "!!python/name:os.system ", "!x ", "|", ">", "'", '"', "#", "%", "@", "`", "?",
           "\t", "---", "...", "lead", "number", "bullets", "url", "7", "2026-12-04",
           "https://x.example.org/", "é", "\x07", "\ufeff", "<<: ", "~", "null"]
yaml_like = st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join)


def _mutated(position: int, noise: str) -> str:
    lines = MINIMAL_ISSUE.splitlines(keepends=True)
    lines.insert(position % (len(lines) + 1), noise)
    return "".join(lines)


def yaml_lines(data: bytes) -> int:
    """Lines as YAML counts them (it also breaks at CR, U+0085, U+2028 and U+2029)."""
    text = data.decode("utf-8", "replace")
    return len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", text)) + 1


def _check_only_issue_file_errors(path: Path, data: bytes, settings: Settings) -> list[Problem]:
    path.write_bytes(data)
    try:
        load_issue(path, settings)
    except IssueFileError as exc:
        for problem in exc.problems:
            assert problem.location.path == path
            # + 1: an error at the end of a file without a final newline is put on the
            # line after it (see test_every_problem_has_line_column_and_hint)
            line = problem.location.line
            assert line is None or 1 <= line <= yaml_lines(data) + 1, str(problem)
            assert str(problem)
        return list(exc.problems)
    return []


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_random_bytes_raise_only_issue_file_error(scratch: Path, settings: Settings,
                                                   data: bytes) -> None:
    _check_only_issue_file_errors(scratch / "random.yaml", data, settings)


@hsettings(max_examples=300, deadline=None)
@given(yaml_like | st.text(max_size=300))
def test_random_text_raises_only_issue_file_error(scratch: Path, settings: Settings,
                                                  text: str) -> None:
    _check_only_issue_file_errors(scratch / "text.yaml", text.encode(), settings)


@hsettings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), yaml_like)
def test_a_mutated_issue_raises_only_issue_file_error(scratch: Path, settings: Settings,
                                                      position: int, noise: str) -> None:
    _check_only_issue_file_errors(scratch / "mutated.yaml", _mutated(position, noise).encode(),
                                  settings)


@hsettings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), yaml_like)
def test_mutated_settings_raise_only_settings_error(scratch: Path, position: int,
                                                    noise: str) -> None:
    lines = MINIMAL_SETTINGS.splitlines(keepends=True)
    lines.insert(position % (len(lines) + 1), noise)
    path = scratch / "newsletter.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    try:
        load_settings(path)
    except SettingsError as exc:
        assert all(str(p) for p in exc.problems)


@hsettings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), yaml_like)
@example(position=8, noise="  x: a\x07b\n")
@example(position=8, noise="  image: {src: a.jpg, alt: b, width: wide}\n")
@example(position=2, noise="? [a]\n: b\n")
@example(position=14, noise="[")
def test_every_problem_has_line_column_and_hint(scratch: Path, settings: Settings,
                                                position: int, noise: str) -> None:
    path = scratch / "located.yaml"
    data = _mutated(position, noise).encode()
    for problem in _check_only_issue_file_errors(path, data, settings):
        assert problem.location.line is not None, str(problem)
        assert problem.location.line <= yaml_lines(data), str(problem)
        assert problem.location.column is not None, str(problem)
        assert problem.hint, str(problem)
