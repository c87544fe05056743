"""The command line: help for every command, init -> build, errors without tracebacks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import REPO

from newsletter import api
from newsletter.cli import main
from newsletter.cli._params import EARLIEST, Age, IsoDate
from newsletter.desk.editorial import load_issue

README = (REPO / "README.md").read_text(encoding="utf-8")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_and_is_in_the_readme(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0 and "Example" in result.output
    assert f"newsletter {name}" in README


def test_readme_gives_exactly_two_setup_commands() -> None:
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", setup, re.S)
    lines = [line for block in commands for line in block.splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 2
    assert "newsletter build" in lines[0] and "pip install" in lines[0]
    assert lines[1] == "bash .ci/run"
    assert "pytest" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_example_issue_is_valid(desk: Path) -> None:
    block = README.split("## Writing an issue", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    path = desk / "issues" / "2026-12-04.yaml"
    path.write_text(block, encoding="utf-8")
    issue = load_issue(path, api.load_desk(desk))
    assert issue.number == 48 and len(issue.lead.body) == 3


def test_init_then_build_works_out_of_the_box(tmp_path: Path) -> None:
    result = run("init", "mydesk", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    desk = tmp_path / "mydesk"
    assert (desk / "newsletter.yaml").is_file()
    assert (desk / ".github" / "workflows" / "publish.yml").is_file()
    assert (desk / "templates").is_dir()
    [issue_file] = (desk / "issues").glob("*.yaml")
    result = run("build", cwd=desk)
    assert result.returncode == 0, result.stderr
    built = desk / "site" / "issues" / issue_file.stem
    assert {p.name for p in built.iterdir()} >= {"index.html", "email.html", "email.txt"}
    assert "email.html" in result.stdout


def test_init_refuses_an_existing_desk(tmp_path: Path) -> None:
    assert run("init", "d", cwd=tmp_path).returncode == 0
    again = run("init", "d", cwd=tmp_path)
    assert again.returncode == 1 and "already exist" in again.stderr
    assert "nothing was written" in again.stderr
    assert "Traceback" not in again.stderr


def test_build_prints_what_it_wrote(desk: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("build", "issues/2026-11-27.yaml", "--out", str(out), cwd=desk)
    assert result.returncode == 0, result.stderr
    for name in ("index.html", "email.html", "email.txt"):
        assert (out / "issues" / "2026-11-27" / name).is_file()
        assert name in result.stdout


def test_build_outside_a_desk_says_what_to_do(tmp_path: Path) -> None:
    result = run("build", cwd=tmp_path)
    assert result.returncode == 1
    assert "no newsletter.yaml" in result.stderr and "newsletter init" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_template_names_the_template_and_line(desk: Path, tmp_path: Path) -> None:
    (desk / "templates" / "web").mkdir(parents=True)
    (desk / "templates" / "web" / "issue.html").write_text(
        '{% extends "default:web/issue.html" %}\n{% block footer %}{{ issue.nope }\n'
        "{% endblock %}\n", encoding="utf-8")
    result = run("build", "issues/2026-11-27.yaml", "--out", str(tmp_path / "o"), cwd=desk)
    assert result.returncode == 1
    assert "web/issue.html:2" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_desk_template_overrides_one_block_of_the_default(desk: Path) -> None:
    (desk / "templates" / "web").mkdir(parents=True)
    (desk / "templates" / "web" / "issue.html").write_text(
        '{% extends "default:web/issue.html" %}\n'
        "{% block footer %}<footer>Our own footer</footer>{% endblock %}\n", encoding="utf-8")
    settings = api.load_desk(desk)
    _, rendered = api.render_issue(desk / "issues" / "2026-11-27.yaml", settings)
    assert "<footer>Our own footer</footer>" in rendered.web_html
    assert "<article>" in rendered.web_html  # the rest comes from the default theme


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0 and "newsletter" in result.stdout


def test_scaffold_and_repository_workflows_run_the_documented_build() -> None:
    from ruamel.yaml import YAML

    for path in (REPO / ".github" / "workflows" / "publish.yml",
                 REPO / "newsletter" / "scaffold" / "dot-github" / "workflows" / "publish.yml"):
        workflow = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        steps = workflow["jobs"]["build"]["steps"]
        assert any(step.get("run") == "newsletter build" for step in steps), path
        uses = [step.get("uses", "") for job in workflow["jobs"].values() for step in job["steps"]]
        assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
        assert any(u.startswith("actions/deploy-pages") for u in uses)




def test_build_warns_when_an_email_passes_gmails_clip(desk: Path) -> None:
    issue = desk / "issues" / "2026-11-27.yaml"
    text = issue.read_text(encoding="utf-8")
    # long body paragraphs: what a pasted feed article does to an email
    paragraph = " ".join(["The tide came in over the salt marsh again."] * 400)
    text = text.replace("  body:\n", "  body:\n" + f"    - text: {paragraph}\n" * 8, 1)
    issue.write_text(text, encoding="utf-8")
    result = run("build", "--out", "out", cwd=desk)
    assert result.returncode == 0, result.stderr
    size = len((desk / "out" / "issues" / "2026-11-27" / "email.html").read_bytes())
    assert size > 102 * 1024
    assert f"issues/2026-11-27.yaml: the email is {size / 1024:,.0f} KB" in result.stderr
    assert "Gmail clips emails after 102 KB" in result.stderr
    assert "2026-11-20.yaml" not in result.stderr  # the short issue is not named


# --- the main group's options: --desk/-C, -v/-q --------------------------------------


@pytest.fixture()
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the desk, where the editor happens to be."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_dash_c_runs_commands_on_a_desk_from_another_folder(desk: Path, elsewhere: Path
                                                            ) -> None:
    built = run("-C", str(desk), "build", "--out", "out", cwd=elsewhere)
    assert built.returncode == 0, built.stderr
    # the desk comes from -C; the --out typed here stays relative to here
    assert (elsewhere / "out" / "issues" / "2026-11-27" / "email.html").is_file()
    assert not (desk / "out").exists()
    drafted = run("--desk", str(desk), "new", "--date", "2026-12-04", cwd=elsewhere)
    assert drafted.returncode == 0, drafted.stderr
    assert (desk / "issues" / "2026-12-04.yaml").is_file()
    assert not (elsewhere / "issues").exists()
    # a path named on the command line is read from where it was typed, too
    named = run("-C", "../desk", "build", "../desk/issues/2026-11-27.yaml", "--out", "one",
                cwd=elsewhere)
    assert named.returncode == 0, named.stderr
    assert (elsewhere / "one" / "issues" / "2026-11-27" / "index.html").is_file()


def test_dash_c_finds_the_desk_above_a_folder_inside_it(desk: Path, elsewhere: Path) -> None:
    listed = run("-C", str(desk / "issues"), "feeds", "--json", cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert [feed["name"] for feed in json.loads(listed.stdout)] == [
        "ocean-science", "coastal-desk", "haiyang-weekly"]


def test_dash_c_names_a_folder_that_is_not_there(elsewhere: Path) -> None:
    result = run("-C", "no-such-desk", "build", cwd=elsewhere)
    assert result.returncode == 2 and "'no-such-desk' does not exist" in result.stderr


# A command that logs at every level through the library's logger, run by the
# real main group in its own process (the group's options configure the log).
LOG_PROBE = """
import logging, sys
from newsletter.cli import main

@main.command()
def probe():
    log = logging.getLogger("newsletter.collect.fetch")
    log.debug("a debug line")
    log.info("an info line")
    log.warning("a warning line")
    try:
        raise ValueError("bad bytes")
    except ValueError:
        log.exception("a parser failed")
    print("the result")

main(sys.argv[1:], prog_name="newsletter")
"""


def probe(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LOG_PROBE, *options, "probe"],
                          capture_output=True, text=True, timeout=120)


def test_the_log_shows_warnings_in_a_short_form_by_default() -> None:
    result = probe()
    assert result.returncode == 0 and result.stdout == "the result\n"
    assert result.stderr == ("warning: a warning line\n"
                             "error: a parser failed: ValueError: bad bytes (-v shows where)\n")


def test_dash_v_shows_info_and_tracebacks_dash_vv_debug_and_names() -> None:
    verbose = probe("-v").stderr
    assert "info: an info line\n" in verbose and "debug" not in verbose
    assert "Traceback (most recent call last)" in verbose and "in probe\n" in verbose
    very = probe("-vv").stderr
    assert "debug: [newsletter.collect.fetch] a debug line\n" in very


def test_dash_q_shows_errors_only() -> None:
    result = probe("-q")
    assert result.returncode == 0 and result.stdout == "the result\n"
    assert result.stderr == "error: a parser failed: ValueError: bad bytes (-v shows where)\n"
    assert probe("-q", "-v").returncode == 2


def test_dash_v_says_which_desk_a_command_found(desk: Path, elsewhere: Path) -> None:
    result = run("-v", "-C", str(desk), "feeds", cwd=elsewhere)
    assert result.returncode == 0
    assert f"info: desk: {desk / 'newsletter.yaml'}" in result.stderr
    assert run("-C", str(desk), "feeds", cwd=elsewhere).stderr == ""


def test_an_in_process_run_leaves_the_log_as_it_found_it(desk: Path) -> None:
    logger = logging.getLogger("newsletter")
    before = (logger.level, list(logger.handlers))
    result = CliRunner().invoke(main, ["-vv", "-C", str(desk), "feeds", "--json"])
    assert result.exit_code == 0, result.output
    assert (logger.level, list(logger.handlers)) == before


def run_in_terminal(*args: str, cwd: Path) -> str:
    """What the CLI shows on a terminal (stdout and stderr are a pty): rich draws
    progress bars only there."""
    parent, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "newsletter", *args], cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=child, stderr=child,
                               env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
    os.close(child)
    shown = b""
    try:
        for _ in range(10_000):  # bounded: each read returns at least a byte, or ends
            ready, _, _ = select.select([parent], [], [], 120)
            assert ready, "no output for 120 s"
            try:
                data = os.read(parent, 65536)
            except OSError:  # EIO: the command ended and the terminal closed
                break
            if not data:
                break
            shown += data
        assert process.wait(timeout=120) == 0, shown
    finally:
        process.kill()
        os.close(parent)
    return shown.decode("utf-8", errors="replace")


def test_dash_q_leaves_out_progress_bars_and_next_steps(desk: Path) -> None:
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    assert "fetching feeds" in run_in_terminal("fetch", cwd=desk)
    quiet = run_in_terminal("-q", "fetch", cwd=desk)
    assert "fetching feeds" not in quiet and "ocean-science" in quiet  # the table stays
    drafted = run("-q", "new", "--date", "2026-12-04", cwd=desk)
    assert drafted.returncode == 0 and "wrote" in drafted.stdout
    assert "next:" not in drafted.stdout
    assert "next:" in run("new", "--date", "2026-12-11", cwd=desk).stdout


# --- ages and dates are click types: a bad one is a usage error -------------------------


@pytest.mark.parametrize(("args", "option"), [
    (("candidates", "--since", "7x"), "'--since'"),
    (("candidates", "--since", "seven days"), "'--since'"),
    (("prune", "--older-than", "soon"), "'--older-than'"),
    (("new", "--date", "2026-02-30"), "'--date'"),
    (("new", "--date", "04/12/2026"), "'--date'"),
])
def test_a_bad_age_or_date_is_a_usage_error(desk: Path, args: tuple[str, ...],
                                            option: str) -> None:
    result = run(*args, cwd=desk)
    assert result.returncode == 2, result.stderr
    assert "Usage: " in result.stderr and f"Invalid value for {option}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("text", "delta"), [
    ("7d", dt.timedelta(days=7)), ("2w", dt.timedelta(weeks=2)), ("12h", dt.timedelta(hours=12)),
    (" 3 D ", dt.timedelta(days=3)), ("0d", dt.timedelta()),
])
def test_an_age_is_the_moment_that_long_ago(text: str, delta: dt.timedelta) -> None:
    before = dt.datetime.now(dt.UTC)
    moment = Age().convert(text, None, None)
    after = dt.datetime.now(dt.UTC)
    assert before - delta <= moment <= after - delta


def test_an_age_older_than_the_calendar_means_since_ever(desk: Path) -> None:
    assert Age().convert("999999999w", None, None) == EARLIEST
    assert Age().convert("999999d", None, None) == EARLIEST
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    assert run("fetch", cwd=desk).returncode == 0
    listed = run("candidates", "--since", "999999d", "--json", cwd=desk)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 28
    pruned = run("prune", "--older-than", "999999d", cwd=desk)
    assert pruned.returncode == 0 and "removed 0 stories" in pruned.stdout


def test_a_date_is_read_as_written() -> None:
    assert IsoDate().convert("2026-12-04", None, None) == dt.date(2026, 12, 4)
    with pytest.raises(click.BadParameter):
        IsoDate().convert("20261204", None, None)


# --- --json on every command that lists things ---------------------------------------


def test_feeds_and_fetch_list_as_json(desk: Path) -> None:
    before = json.loads(run("feeds", "--json", cwd=desk).stdout)
    assert before[0] == {"name": "ocean-science", "address": "examples/feeds/ocean-science.xml",
                         "last_fetch": None, "result": None, "error": "", "stories": 0}
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    fetched = run("fetch", "--json", cwd=desk)
    assert fetched.returncode == 0, fetched.stderr
    reports = {r["feed"]: r for r in json.loads(fetched.stdout)}
    assert set(reports) == {"ocean-science", "coastal-desk", "haiyang-weekly"}
    assert reports["coastal-desk"]["result"] == "updated" and reports["coastal-desk"]["new"] > 0
    assert set(reports["coastal-desk"]) == {"feed", "address", "result", "new", "updated",
                                            "unchanged", "warnings", "error", "hint",
                                            "moved_to"}
    after = {row["name"]: row for row in json.loads(run("feeds", "--json", cwd=desk).stdout)}
    assert after["coastal-desk"]["result"] == "updated"
    # a story two feeds carry is new for one of them, and counted for both
    assert after["coastal-desk"]["stories"] >= reports["coastal-desk"]["new"] > 0
    assert dt.datetime.fromisoformat(after["coastal-desk"]["last_fetch"]).utcoffset() \
        == dt.timedelta(0)
    assert run("feeds", "--json", "export", cwd=desk).returncode == 2


def test_check_json_is_one_versioned_document(desk: Path) -> None:
    issue = desk / "issues" / "2026-11-27.yaml"
    text = issue.read_text(encoding="utf-8")
    issue.write_text(text.replace("It did not use to look", "TK It did not use to look", 1),
                     encoding="utf-8")
    result = run("check", "--offline", "--json", "issues/2026-11-27.yaml", cwd=desk)
    assert result.returncode == 1  # an error: the exit status is the same as without --json
    document = json.loads(result.stdout)
    assert document["schema_version"] == api.CHECK_JSON_VERSION == 1
    assert set(document) == {"schema_version", "issues", "counts", "links_checked"}
    [checked] = document["issues"]
    assert checked["path"] == "issues/2026-11-27.yaml"
    [placeholder] = [f for f in checked["findings"] if f["code"] == "placeholder"]
    assert placeholder["severity"] == "error" and placeholder["hint"]
    assert set(placeholder) == {"severity", "code", "message", "hint", "location", "subject"}
    where = placeholder["location"]
    assert where["path"] == "issues/2026-11-27.yaml"
    line = next(n for n, text in enumerate(issue.read_text("utf-8").splitlines(), 1)
                if "TK It did" in text)
    assert where["line"] == line and isinstance(where["column"], int)
    severities = [f["severity"] for f in checked["findings"]]
    assert checked["counts"] == document["counts"] == {
        s: severities.count(s) for s in ("error", "warning", "note")}
    assert document["links_checked"] == 0


# --- shell completion ------------------------------------------------------------------

SCRIPT = Path(sys.executable).with_name("newsletter")  # the installed command


@pytest.mark.parametrize(("shell", "says"), [
    ("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files"),
])
def test_completion_scripts_come_out_for_each_shell(shell: str, says: str) -> None:
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "_NEWSLETTER_COMPLETE": f"{shell}_source"})
    assert result.returncode == 0, result.stderr
    assert says in result.stdout and "_NEWSLETTER_COMPLETE" in result.stdout


def complete(line: str) -> list[str]:
    """What bash would offer after `line`, asked as the bash script asks."""
    words = line.split(" ")
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "_NEWSLETTER_COMPLETE": "bash_complete",
                                 "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    assert result.returncode == 0, result.stderr
    return [row.split(",", 1)[1] for row in result.stdout.splitlines()]


def test_completion_offers_commands_options_and_choices() -> None:
    assert complete("newsletter fe") == ["feeds", "fetch"]
    assert "--json" in complete("newsletter check --")
    assert "--desk" in complete("newsletter --")
    assert complete("newsletter pick 3f9a --into ") == ["lead", "catch_up", "deep_dives"]


@pytest.mark.parametrize("args", [
    ("move", "9f3c1a"),
    ("move", "9f3c1a", "--to", "1", "--before", "4be1c07a"),
    ("move", "9f3c1a", "--to", "0"),
])
def test_move_takes_exactly_one_place_to_go(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2 and "Usage:" in result.output


def test_build_without_any_issue_file_says_how_to_start_one(desk: Path) -> None:
    for path in (desk / "issues").glob("*.yaml"):
        path.unlink()
    (desk / "issues" / "notes.txt").write_text("not an issue\n", encoding="utf-8")
    result = run("build", cwd=desk)
    assert result.returncode == 1 and "no issue files in" in result.stderr
    assert "newsletter init" in result.stderr and not (desk / "site").exists()
