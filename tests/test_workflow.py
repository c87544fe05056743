"""Publishing: the GitHub Pages workflows and the commands in docs/publishing.md.

Two workflows build and deploy the archive: the repository's own and the one
`newsletter init` writes into a new desk. Both are checked against what they
must agree with elsewhere: the build command the README documents, the
desk's output folder, the package name and version, and the commands the
CLI really has. Nothing here touches the network.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import REPO, constraints_tool
from ruamel.yaml import YAML

import newsletter
from newsletter import api
from newsletter.cli import main

REPO_WORKFLOW = REPO / ".github" / "workflows" / "publish.yml"
SCAFFOLD_WORKFLOW = REPO / "newsletter" / "scaffold" / "dot-github" / "workflows" / "publish.yml"
WORKFLOWS = {"repository": REPO_WORKFLOW, "scaffold": SCAFFOLD_WORKFLOW}
PUBLISHING = REPO / "docs" / "publishing.md"
README = (REPO / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DISTRIBUTION = PYPROJECT["project"]["name"]
PLACEHOLDER = "__TOOL_VERSION__"  # replaced by `newsletter init` (api.init_desk)
CONSTRAINTS = constraints_tool()  # tools/constraints.py: the pinned versions, by part
# What each workflow installs with, relative to the checkout it runs in
PINS = {"repository": (REPO, "constraints.txt"),
        "scaffold": (SCAFFOLD_WORKFLOW.parents[2], ".github/constraints.txt")}


def load(path: Path) -> dict[str, Any]:
    workflow = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), f"{path} is not a mapping"
    return workflow


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def uses(step: dict[str, Any]) -> str:
    """The action a step uses, without its version: "actions/deploy-pages"."""
    return str(step.get("uses", "")).partition("@")[0]


def job_using(workflow: dict[str, Any], action: str) -> tuple[str, dict[str, Any]]:
    found = [(name, job) for name, job in workflow["jobs"].items()
             if any(uses(step) == action for step in steps(job))]
    assert len(found) == 1, f"expected one job using {action}, found {[n for n, _ in found]}"
    return found[0]


def step_index(job: dict[str, Any], *, run: str | None = None, action: str | None = None) -> int:
    for i, step in enumerate(steps(job)):
        if (run is not None and str(step.get("run", "")).strip() == run) or \
                (action is not None and uses(step) == action):
            return i
    raise AssertionError(f"no step {'runs ' + repr(run) if run else 'uses ' + str(action)}")


def install_args(job: dict[str, Any]) -> list[str]:
    """The arguments of the job's one `pip install` step."""
    runs = [shlex.split(str(step["run"])) for step in steps(job) if "run" in step]
    installs = [args for args in runs if args[:2] == ["pip", "install"]]
    assert len(installs) == 1, f"expected one pip install step, found {installs}"
    return installs[0][2:]


def permissions(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    """A job's effective permissions: its own block replaces the workflow's."""
    granted = job.get("permissions", workflow.get("permissions", {}))
    assert isinstance(granted, dict), f"permissions must be listed one by one, not {granted!r}"
    return {str(k): str(v) for k, v in granted.items()}


def readme_build_command() -> str:
    """`newsletter build` as the README's set-up command runs it, without the venv path."""
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    lines = [line for block in re.findall(r"```sh\n(.*?)```", setup, re.S)
             for line in block.splitlines() if line.strip() and not line.startswith("#")]
    commands = [shlex.split(part) for line in lines for part in line.split("&&")]
    builds = [argv for argv in commands if argv and Path(argv[0]).name == "newsletter"]
    assert len(builds) == 1, f"the README's set-up should run newsletter once: {lines}"
    return shlex.join(["newsletter", *builds[0][1:]])


BUILD = readme_build_command()


def test_the_readme_sets_up_with_a_plain_build() -> None:
    # the workflow builds every ready issue of the desk, as the set-up command does
    assert shlex.split(BUILD)[:2] == ["newsletter", "build"]
    assert CliRunner().invoke(main, [*shlex.split(BUILD)[1:], "--help"]).exit_code == 0


@pytest.mark.parametrize("kind", WORKFLOWS)
def test_workflow_runs_on_push_to_main_and_by_hand(kind: str) -> None:
    workflow = load(WORKFLOWS[kind])
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 readers turn `on` into True
    assert isinstance(triggers, dict), triggers
    branches = (triggers.get("push") or {}).get("branches")
    assert isinstance(branches, list) and "main" in branches, triggers
    assert "workflow_dispatch" in triggers


@pytest.mark.parametrize("kind", WORKFLOWS)
def test_workflow_also_runs_on_a_schedule_to_publish_held_issues(kind: str) -> None:
    """An issue dated in the future is held off the site; with no push on its day,
    only a scheduled run publishes it."""
    workflow = load(WORKFLOWS[kind])
    triggers = workflow.get("on", workflow.get(True))
    schedule = triggers.get("schedule")
    assert isinstance(schedule, list) and schedule, triggers
    for entry in schedule:
        fields = str(entry["cron"]).split()
        assert len(fields) == 5, entry  # minute hour day month weekday
        # at least daily: every day of every month, and past minute 0, which GitHub
        # delays most (every workflow in the world starts then)
        assert fields[2:] == ["*", "*", "*"] and fields[0].isdigit() and fields[0] != "0"


@pytest.mark.parametrize("kind", WORKFLOWS)
def test_workflow_installs_then_builds_then_uploads(kind: str) -> None:
    workflow = load(WORKFLOWS[kind])
    _, job = job_using(workflow, "actions/upload-pages-artifact")
    install = next(i for i, step in enumerate(steps(job))
                   if shlex.split(str(step.get("run", "")))[:2] == ["pip", "install"])
    build = step_index(job, run=BUILD)
    upload = step_index(job, action="actions/upload-pages-artifact")
    assert step_index(job, action="actions/checkout") < install < build < upload
    constraints = PINS[kind][1]
    if kind == "repository":  # the tool from this checkout, not from PyPI
        assert install_args(job) == ["-c", constraints, "."]
    else:
        assert install_args(job) == ["-c", constraints, f"{DISTRIBUTION}=={PLACEHOLDER}"]


@pytest.mark.parametrize("kind", WORKFLOWS)
def test_workflow_installs_the_pinned_versions_on_their_python(kind: str) -> None:
    """Byte-identical output needs the versions the tests ran with, on the same Python."""
    _, job = job_using(load(WORKFLOWS[kind]), "actions/upload-pages-artifact")
    checkout, constraints = PINS[kind]
    # in a desk, .github/ is the scaffold's dot-github/
    path = checkout / constraints.replace(".github/", "dot-github/")
    pinned = CONSTRAINTS.read_pins(path.read_text(encoding="utf-8"))
    main = CONSTRAINTS.read_pins(CONSTRAINTS.CONSTRAINTS.read_text(encoding="utf-8"))
    assert pinned["runtime"] == main["runtime"] and pinned["runtime"].keys() >= {
        "mjml-python", "nh3", "markdown-it-py", "jinja2"}
    setup = steps(job)[step_index(job, action="actions/setup-python")]
    assert str(setup["with"]["python-version"]) == CONSTRAINTS.PYTHON


@pytest.mark.parametrize("kind", WORKFLOWS)
def test_workflow_uploads_the_desk_output_folder(kind: str) -> None:
    workflow = load(WORKFLOWS[kind])
    _, job = job_using(workflow, "actions/upload-pages-artifact")
    upload = steps(job)[step_index(job, action="actions/upload-pages-artifact")]
    desk = REPO if kind == "repository" else SCAFFOLD_WORKFLOW.parents[2]
    output = api.load_desk(desk).paths.output
    assert PurePosixPath(upload["with"]["path"]) == PurePosixPath(output)


@pytest.mark.parametrize("kind", WORKFLOWS)
def test_deploy_job_needs_the_build_and_alone_may_publish(kind: str) -> None:
    workflow = load(WORKFLOWS[kind])
    build_name, build_job = job_using(workflow, "actions/upload-pages-artifact")
    _, deploy_job = job_using(workflow, "actions/deploy-pages")
    needs = deploy_job.get("needs", [])
    assert build_name in ([needs] if isinstance(needs, str) else needs)
    assert deploy_job["environment"]["name"] == "github-pages"
    granted = permissions(workflow, deploy_job)
    assert granted.get("pages") == "write" and granted.get("id-token") == "write", granted
    # the build job runs pip install, so it gets read access only
    assert "write" not in permissions(workflow, build_job).values()


def test_scaffold_and_repository_workflows_differ_only_in_the_install() -> None:
    def without_install(workflow: dict[str, Any]) -> dict[str, Any]:
        for job in workflow["jobs"].values():
            job["steps"] = [step for step in steps(job)
                            if not str(step.get("run", "")).startswith("pip install")]
        return workflow

    assert without_install(load(SCAFFOLD_WORKFLOW)) == without_install(load(REPO_WORKFLOW))


def test_init_pins_the_installed_version(tmp_path: Path) -> None:
    desk = tmp_path / "desk"
    api.init_desk(desk)
    written = desk / ".github" / "workflows" / "publish.yml"
    assert PLACEHOLDER not in written.read_text(encoding="utf-8")
    workflow = load(written)
    _, job = job_using(workflow, "actions/upload-pages-artifact")
    assert install_args(job) == ["-c", ".github/constraints.txt",
                                 f"{DISTRIBUTION}=={newsletter.__version__}"]
    pins = (desk / ".github" / "constraints.txt").read_text(encoding="utf-8")
    assert PLACEHOLDER not in pins and f"newsletter-desk {newsletter.__version__} " in pins
    assert CONSTRAINTS.read_pins(pins)["runtime"] == CONSTRAINTS.read_pins(
        CONSTRAINTS.CONSTRAINTS.read_text(encoding="utf-8"))["runtime"]
    upload = steps(job)[step_index(job, action="actions/upload-pages-artifact")]
    assert PurePosixPath(upload["with"]["path"]) == PurePosixPath(
        api.load_desk(desk).paths.output)


# --- docs/publishing.md ------------------------------------------------------

FENCE = re.compile(r"^```[\w-]*\n(.*?)^```", re.S | re.M)


def doc_code_lines() -> list[str]:
    """The lines of the doc's code blocks (tests/test_docs.py checks its commands)."""
    text = PUBLISHING.read_text(encoding="utf-8")
    blocks = "\n".join(FENCE.findall(text)).replace("\\\n", " ")  # join continued lines
    return [re.sub(r"(^|\s)#.*", "", line) for line in blocks.splitlines()]


def doc_commands(program: str) -> list[list[str]]:
    """Every call of `program` in the doc's code blocks, as argument lists."""
    found = []
    for line in doc_code_lines():
        for part in re.split(r"&&|\|\||;|\|", line.replace('"', " ").replace("'", " ")):
            argv = shlex.split(part)
            if argv and argv[0] == program:
                found.append(argv)
    return found


def test_publishing_doc_publishes_the_output_folder() -> None:
    output = PurePosixPath(api.load_desk(REPO).paths.output)
    text = PUBLISHING.read_text(encoding="utf-8")
    folders = re.findall(r'^\s*publish\s*=\s*"([^"]+)"', text, re.M)  # netlify.toml
    folders += re.findall(r"\*\*Build output directory:\*\*\s*`([^`]+)`", text)  # Cloudflare
    for argv in doc_commands("netlify"):
        if "deploy" in argv:
            folders.append(argv[argv.index("--dir") + 1])
    for argv in doc_commands("npx"):
        if argv[1:4] == ["wrangler", "pages", "deploy"]:
            folders.append(argv[4])
    for argv in doc_commands("aws"):
        if argv[1:3] == ["s3", "sync"]:
            folders.append(argv[3])
    assert len(folders) >= 6, folders  # netlify.toml, CLI; Cloudflare, wrangler; three syncs
    assert {PurePosixPath(folder) for folder in folders} == {output}


def test_publishing_doc_pins_the_current_version() -> None:
    pins = re.findall(rf"{re.escape(DISTRIBUTION)}==([\w.+-]+)",
                      PUBLISHING.read_text(encoding="utf-8"))
    assert pins, f"the doc should show how to install {DISTRIBUTION}"
    assert set(pins) == {newsletter.__version__}
