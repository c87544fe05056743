"""The command line: help for every command, init -> build, errors without tracebacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from newsletter import api
from newsletter.cli import main
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
